//! The spec model: logical units and environments, loaded from a project folder.

pub mod dynamic;
pub mod environment;
pub mod files;
pub mod notify;
pub mod param;
pub mod pipeline;
pub mod read;
pub mod reference;
pub mod releases;
pub mod smoke;
pub mod unit;
pub mod windows;

pub use environment::{Environment, StackDef, Target};
pub use unit::{ParamDef, ParamType, ResourceDef, Tier, Unit};

use crate::diag::{Diagnostic, Diagnostics, FileName};
use crate::yaml::{self, Span};
use read::Reader;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A project: every unit under `specs/` and every environment under `environments/`.
#[derive(Clone, Debug, Default)]
pub struct Project {
    pub root: PathBuf,
    pub units: BTreeMap<String, Unit>,
    pub environments: BTreeMap<String, Environment>,
    /// Units whose file could not be read; their errors are already reported,
    /// so references to them are not reported again.
    pub broken: std::collections::BTreeSet<String>,
    /// The release pipeline (`pipeline.yaml`), when the project has one.
    pub pipeline: Option<pipeline::Pipeline>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "{path}: no such folder; run driftless in the project root (the folder holding specs/ and environments/) or pass --project DIR"
    )]
    NoProject { path: String },
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl Project {
    pub fn environment(&self, name: &str) -> Result<&Environment, Diagnostic> {
        self.environments.get(name).ok_or_else(|| {
            let file: FileName = format!("environments/{name}.yaml").into();
            let known: Vec<&str> = self.environments.keys().map(String::as_str).collect();
            let d = Diagnostic::new(&file, Span::new(1, 1), format!("no environment `{name}`"));
            match crate::diag::closest(name, known.iter().copied()) {
                Some(best) => d.with_help(format!("did you mean `{best}`?")),
                None if known.is_empty() => d.with_help("create environments/<name>.yaml"),
                None => d.with_help(format!("environments: {}", known.join(", "))),
            }
        })
    }
}

fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    Ok(files)
}

fn unit_files(specs: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
    let entries = std::fs::read_dir(specs).map_err(|source| LoadError::Io {
        path: specs.display().to_string(),
        source,
    })?;
    let mut dirs: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        // Present in any form: one that is not a regular file is reported, not skipped.
        .filter(|e| std::fs::symlink_metadata(e.path().join("unit.yaml")).is_ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// Reads and parses one file; read, encoding and syntax errors are diagnostics.
fn parse_file(path: &Path, file: &FileName) -> Result<yaml::Node, Diagnostic> {
    let bytes = read_spec_file(path).map_err(|(message, help)| {
        Diagnostic::new(file, Span::new(1, 1), message).with_help(help)
    })?;
    yaml::decode(&bytes)
        .and_then(yaml::parse)
        .map_err(|e| Diagnostic::new(file, e.span, e.message).with_help(e.help))
}

/// The bytes of a spec file: a regular file (a symlink to one is fine) of
/// at most `MAX_FILE_BYTES`. A FIFO would block and `/dev/zero` never end,
/// so anything else is refused before it is opened, and the read is
/// bounded whatever the file turns into meanwhile.
pub fn read_spec_file(path: &Path) -> Result<Vec<u8>, (String, String)> {
    use std::io::Read;
    let cannot_read = |e: std::io::Error| {
        (
            format!("cannot read: {e}"),
            "check that the file exists and that you may read it".to_string(),
        )
    };
    let too_large = |size: u64| {
        (
            format!(
                "file is {size} bytes, more than the {} a spec may have",
                yaml::MAX_FILE_BYTES
            ),
            yaml::FILE_TOO_LARGE_HELP.to_string(),
        )
    };
    let meta = std::fs::metadata(path).map_err(cannot_read)?;
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "a folder"
        } else {
            "not a regular file (a FIFO, socket or device)"
        };
        return Err((
            format!("is {what}; a spec is read only from a regular file"),
            "replace it with a regular file (a symlink must point to one)".into(),
        ));
    }
    if meta.len() > yaml::MAX_FILE_BYTES as u64 {
        return Err(too_large(meta.len()));
    }
    let limit = yaml::MAX_FILE_BYTES as u64 + 1;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit).read_to_end(&mut bytes))
        .map_err(cannot_read)?;
    if bytes.len() as u64 >= limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

fn display_name(root: &Path, path: &Path) -> FileName {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/")
        .into()
}

/// Loads every unit and environment of the project at `root`. Problems in
/// the files are returned as diagnostics beside what could be read.
pub fn load(root: &Path) -> Result<(Project, Diagnostics), LoadError> {
    let specs = root.join("specs");
    if !specs.is_dir() {
        return Err(LoadError::NoProject {
            path: specs.display().to_string(),
        });
    }
    let mut diags = Diagnostics::default();
    let mut project = Project {
        root: root.to_path_buf(),
        ..Project::default()
    };
    // Files parse in parallel; reading them into units is cheap and in order.
    let parsed = crate::par::map(unit_files(&specs)?, |(dir_name, dir)| {
        let path = dir.join("unit.yaml");
        let file = display_name(root, &path);
        let doc = parse_file(&path, &file);
        (dir_name, dir, file, doc)
    });
    for (dir_name, dir, file, doc) in parsed {
        let doc = match doc {
            Ok(doc) => doc,
            Err(d) => {
                diags.push(d);
                project.broken.insert(dir_name);
                continue;
            }
        };
        let mut reader = Reader {
            file: &file,
            diags: &mut diags,
        };
        match unit::read(&doc, &dir_name, dir, &mut reader) {
            Some(unit) => {
                project.units.insert(unit.name.clone(), unit);
            }
            None => {
                project.broken.insert(dir_name);
            }
        }
    }
    let env_dir = root.join("environments");
    if env_dir.is_dir() {
        let mut stems: BTreeMap<String, FileName> = BTreeMap::new();
        for path in yaml_files(&env_dir)? {
            let file = display_name(root, &path);
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            // `dev.yaml` beside `dev.yml`: neither may win silently.
            if let Some(first) = stems.get(&stem) {
                let first: &str = first.as_ref();
                diags.push(
                    Diagnostic::new(
                        &file,
                        Span::new(1, 1),
                        format!("{file} and {first} both define environment `{stem}`"),
                    )
                    .with_help("keep one of the two files"),
                );
                project.environments.remove(&stem);
                continue;
            }
            stems.insert(stem.clone(), file.clone());
            let doc = match parse_file(&path, &file) {
                Ok(doc) => doc,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            let mut reader = Reader {
                file: &file,
                diags: &mut diags,
            };
            if let Some(env) = environment::read(&doc, &stem, &mut reader) {
                project.environments.insert(env.name.clone(), env);
            }
        }
    }
    let pipeline_path = root.join(pipeline::PIPELINE_FILE);
    if std::fs::symlink_metadata(&pipeline_path).is_ok() {
        let file = display_name(root, &pipeline_path);
        match parse_file(&pipeline_path, &file) {
            Ok(doc) => {
                let mut reader = Reader {
                    file: &file,
                    diags: &mut diags,
                };
                project.pipeline = pipeline::read(&doc, &project.environments, &mut reader);
            }
            Err(d) => diags.push(d),
        }
    }
    stack_name_collisions(&project, &mut diags);
    Ok((project, diags))
}

/// Characters of a CloudFormation stack name (`<app>-<env>-<stack>`).
const MAX_STACK_NAME: usize = 128;

/// Two environments whose stacks render to one CloudFormation stack name
/// (`dev` with `x-stateful`, `dev-x` with `stateful`): deploying one would
/// overwrite the other. An error at both.
fn stack_name_collisions(project: &Project, diags: &mut Diagnostics) {
    let mut owners: BTreeMap<String, (&Environment, &environment::StackDef)> = BTreeMap::new();
    for env in project.environments.values() {
        for stack in &env.stacks {
            let name = env.stack_name(&stack.name);
            if let Some(p) = &project.pipeline
                && p.stack_name() == name
            {
                diags.push(
                    Diagnostic::new(
                        &p.file,
                        p.name_span,
                        format!(
                            "the pipeline's stack `{name}` is also stack `{}` of environment `{}`",
                            stack.name, env.name
                        ),
                    )
                    .with_help(
                        "rename the pipeline: each deploy would overwrite the other's stack",
                    ),
                );
            }
            if name.len() > MAX_STACK_NAME {
                diags.push(
                    Diagnostic::new(
                        &env.file,
                        stack.span,
                        format!(
                            "stack `{}` is the CloudFormation stack `{name}`, {} characters, more than the {MAX_STACK_NAME} CloudFormation allows",
                            stack.name,
                            name.len()
                        ),
                    )
                    .with_help("shorten the stack's, the environment's or the app's name"),
                );
            }
            match owners.get(&name) {
                Some((other, other_stack)) if other.name != env.name => {
                    let message = |this: &Environment, s: &str, that: &Environment, t: &str| {
                        format!(
                            "stack `{s}` of environment `{}` and stack `{t}` of environment `{}` are both the CloudFormation stack `{name}`",
                            this.name, that.name
                        )
                    };
                    let help = "rename one of the stacks (or environments): each deploy would overwrite the other's stack";
                    diags.push(
                        Diagnostic::new(
                            &env.file,
                            stack.span,
                            message(env, &stack.name, other, &other_stack.name),
                        )
                        .with_help(help),
                    );
                    diags.push(
                        Diagnostic::new(
                            &other.file,
                            other_stack.span,
                            message(other, &other_stack.name, env, &stack.name),
                        )
                        .with_help(help),
                    );
                }
                _ => {
                    owners.insert(name, (env, stack));
                }
            }
        }
    }
}
