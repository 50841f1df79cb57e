//! `driftless init [--template api|worker|empty]`: a project to start
//! from, in the project folder: units, a dev environment on the local
//! emulator, a prod one to fill in, and a `.gitignore`. Nothing that
//! exists is overwritten.

use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Template {
    /// An HTTP API answering GET /hello from one function.
    Api,
    /// A queue with a dead-letter queue, and the function that works
    /// through it.
    Worker,
    /// The folders and a `.gitignore`: add units and environments.
    Empty,
}

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// What the project starts with.
    #[arg(long, value_enum, default_value = "api")]
    pub template: Template,
    /// The app name (stack names start with it); the folder's name by
    /// default.
    #[arg(long)]
    pub app: Option<String>,
}

const GITIGNORE: &str =
    "# driftless's own working files (checkouts, build cache)\n.driftless/\n__pycache__/\n";

/// The files of `template`, by path, with `app` as the app name.
fn files(template: Template, app: &str) -> Vec<(&'static str, String)> {
    let named = |text: &str| text.replace("app: APP", &format!("app: {app}"));
    let mut files = vec![(".gitignore", GITIGNORE.to_string())];
    match template {
        Template::Api => files.extend([
            (
                "specs/api/unit.yaml",
                include_str!("api/unit.yaml").to_string(),
            ),
            (
                "specs/api/runtime/handler.py",
                include_str!("api/handler.py").to_string(),
            ),
            ("environments/dev.yaml", named(include_str!("api/dev.yaml"))),
            (
                "environments/prod.yaml",
                named(include_str!("api/prod.yaml")),
            ),
        ]),
        Template::Worker => files.extend([
            (
                "specs/worker/unit.yaml",
                include_str!("worker/unit.yaml").to_string(),
            ),
            (
                "specs/worker/runtime/handler.py",
                include_str!("worker/handler.py").to_string(),
            ),
            (
                "environments/dev.yaml",
                named(include_str!("worker/dev.yaml")),
            ),
            (
                "environments/prod.yaml",
                named(include_str!("worker/prod.yaml")),
            ),
        ]),
        Template::Empty => files.extend([
            ("specs/.gitkeep", String::new()),
            ("environments/.gitkeep", String::new()),
        ]),
    }
    files
}

/// The folder's name as an app name: letters, digits and `-`, starting
/// with a letter.
fn app_of(folder: &Path) -> Option<String> {
    let name = folder.file_name()?.to_str()?.to_ascii_lowercase();
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    cleaned
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        .then_some(cleaned)
}

/// Adds to an existing `.gitignore` the lines of `wanted` it lacks.
fn append_missing(path: &Path, wanted: &str) -> Result<(), CommandError> {
    let failed = |e: std::io::Error| {
        CommandError::new(ErrorKind::Failure, format!("{}: {e}", path.display()))
    };
    let have = std::fs::read_to_string(path).map_err(failed)?;
    let lines: Vec<&str> = have.lines().map(str::trim).collect();
    let missing: Vec<&str> = wanted
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty() && !lines.contains(l))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut text = have;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&missing.join("\n"));
    text.push('\n');
    std::fs::write(path, text).map_err(failed)
}

fn valid_app(app: &str) -> bool {
    let mut chars = app.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && app.len() <= 40
}

impl InitArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let root = &ctx.project;
        let usage = |m: String, help: &str| {
            CommandError::new(ErrorKind::Usage, m).with_help(help.to_string())
        };
        let absolute = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        let app = match &self.app {
            Some(app) => app.clone(),
            None => app_of(&absolute).ok_or_else(|| {
                usage(
                    format!("the folder name {} is no app name", absolute.display()),
                    "give one with --app NAME (letters, digits and -, starting with a letter)",
                )
            })?,
        };
        if !valid_app(&app) {
            return Err(usage(
                format!("`{app}` cannot start a stack name"),
                "use letters, digits and -, starting with a letter, at most 40 characters",
            ));
        }
        let files = files(self.template, &app);
        // Nothing is written unless every file is new; a `.gitignore`
        // there already gets the lines it lacks.
        let taken: Vec<PathBuf> = files
            .iter()
            .filter(|(path, _)| *path != ".gitignore")
            .map(|(path, _)| root.join(path))
            .filter(|path| path.exists())
            .collect();
        if !taken.is_empty() {
            let names: Vec<String> = taken.iter().map(|p| p.display().to_string()).collect();
            return Err(CommandError::new(
                ErrorKind::Invalid,
                format!("not overwriting what is there: {}", names.join(", ")),
            )
            .with_help(
                "run init in an empty folder, or move those files away; nothing was written",
            ));
        }
        for (path, text) in &files {
            let path = root.join(path);
            if path.ends_with(".gitignore") && path.exists() {
                append_missing(&path, text)?;
                continue;
            }
            let written = path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&path, text));
            if let Err(e) = written {
                return Err(CommandError::new(
                    ErrorKind::Failure,
                    format!("{}: {e}", path.display()),
                ));
            }
            ctx.printer
                .emit(json!({ "event": "created", "path": path }), || {
                    format!("created {}", path.display())
                });
        }
        let next = match self.template {
            Template::Empty => "add a unit under specs/NAME/unit.yaml and an environment under environments/, then `driftless validate`".to_string(),
            _ => "next: `driftless deploy dev` (the local emulator starts itself)".to_string(),
        };
        Ok(Summary::new(
            json!({ "command": "init", "app": app, "files": files.len() }),
            format!("{app}: {} file(s); {next}", files.len()),
        ))
    }
}
