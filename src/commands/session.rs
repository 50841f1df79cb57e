//! What the cloud commands share: load and render the environment, resolve
//! the target, print the header, and ask for approval.

use super::target::{Resolved, TargetArgs};
use super::{Context, report_failure};
use crate::asset::Assets;
use crate::exit;
use crate::render::RenderedEnvironment;
use crate::spec::Project;
use crate::validate::load_environment;
use serde_json::json;
use std::io::IsTerminal;

pub struct Session {
    pub project: Project,
    pub rendered: RenderedEnvironment,
    pub assets: Assets,
    pub target: Resolved,
}

impl Session {
    /// Loads, validates and renders `environment`, then resolves its target.
    /// On failure the problem is reported and the exit code returned.
    pub fn open(
        ctx: &mut Context,
        command: &str,
        environment: &str,
        target: &TargetArgs,
    ) -> Result<Session, u8> {
        let (project, rendered, assets) =
            load_environment(&ctx.project, environment).map_err(|f| report_failure(ctx, &f))?;
        let resolved = target.resolve(ctx, &rendered.target).map_err(|e| {
            ctx.printer.error(&e);
            exit::FAILURE
        })?;
        ctx.printer.emit(
            json!({
                "event": "start",
                "command": command,
                "app": rendered.app,
                "environment": rendered.environment,
                "target": rendered.target.describe(),
                "region": resolved.settings.region,
                "endpoint": resolved.settings.endpoint,
            }),
            || {
                format!(
                    "{command} {} {} -> {}",
                    rendered.app, rendered.environment, resolved.description
                )
            },
        );
        Ok(Session {
            project,
            rendered,
            assets,
            target: resolved,
        })
    }

    pub fn requires_approval(&self) -> bool {
        self.project
            .environment(&self.rendered.environment)
            .is_ok_and(|e| e.approval)
    }

    pub fn protected(&self) -> bool {
        self.project
            .environment(&self.rendered.environment)
            .is_ok_and(|e| e.protect)
    }
}

/// Asks on a terminal; `--yes` and `--ci` never ask. Without a terminal and
/// without either flag, the answer is no, and the user is told why.
pub fn approved(ctx: &mut Context, yes: bool, question: &str) -> bool {
    if yes || ctx.ci {
        return true;
    }
    if std::io::stdin().is_terminal() && ctx.printer.format() == crate::output::Format::Human {
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_ok() {
            let answer = answer.trim().to_ascii_lowercase();
            if answer == "y" || answer == "yes" {
                return true;
            }
        }
        ctx.printer.emit(
            json!({ "event": "error", "message": "not approved" }),
            || "not approved; nothing was changed".into(),
        );
        return false;
    }
    ctx.printer.emit(
        json!({ "event": "error", "message": format!("approval required: {question}"), "help": "pass --yes, or --ci in a pipeline" }),
        || format!("error: approval required ({question}) and there is no terminal to ask on\nhelp: pass --yes, or --ci in a pipeline; nothing was changed"),
    );
    false
}
