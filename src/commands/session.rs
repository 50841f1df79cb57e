//! What the cloud commands share: load the specs, check the command's flags
//! against the environment (before anything has side effects), prepare and
//! render the environment, resolve the target, print the header, and ask
//! for approval.

use super::target::{Resolved, TargetArgs, connect};
use super::{CommandError, Context, ErrorKind, Summary};
use crate::assets::{Assets, Builds};
use crate::cloud::Cloud;
use crate::load::{load_specs, render_loaded};
use crate::reconcile::{Options, Pass, Stop};
use crate::render::{RenderOptions, RenderedEnvironment};
use crate::spec::{Environment, Project};
use serde_json::json;
use std::io::IsTerminal;

pub struct Session {
    pub project: Project,
    pub rendered: RenderedEnvironment,
    pub assets: Assets,
    pub target: Resolved,
}

/// A check of the command's flags against the environment, run before any
/// build, emulator start or network call.
pub type Preflight<'a> = &'a dyn Fn(&Environment) -> Result<(), CommandError>;

/// No flag depends on the environment.
pub fn no_preflight(_: &Environment) -> Result<(), CommandError> {
    Ok(())
}

impl Session {
    /// Loads and validates `environment`, runs `preflight`, prepares its
    /// code as `builds` says, renders it, then resolves its target.
    pub fn open(
        ctx: &mut Context,
        command: &str,
        environment: &str,
        target: &TargetArgs,
        builds: Builds,
        preflight: Preflight<'_>,
    ) -> Result<Session, CommandError> {
        Session::open_as(ctx, command, environment, None, target, builds, preflight)
    }

    /// [`Session::open`] for `instance` of the environment, when given.
    pub fn open_as(
        ctx: &mut Context,
        command: &str,
        environment: &str,
        instance: Option<&str>,
        target: &TargetArgs,
        builds: Builds,
        preflight: Preflight<'_>,
    ) -> Result<Session, CommandError> {
        let (mut project, relevant) = load_specs(&ctx.project, environment)?;
        if relevant.is_empty()
            && let Ok(env) = project.environment(environment)
        {
            preflight(env)?;
        }
        let environment = &super::instance::select(&mut project, environment, instance)?;
        // An instance keeps nothing: its templates have no Retain policies.
        let options = RenderOptions {
            ephemeral: instance.is_some(),
        };
        let (rendered, assets) = render_loaded(&project, environment, relevant, builds, options)?;
        let resolved = target
            .resolve(ctx, &rendered.target)
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
        ctx.printer
            .record(|| crate::output::Record::Subject(rendered.environment.clone()));
        ctx.printer.emit(
            json!({
                "event": "start",
                "command": command,
                "app": rendered.app,
                "environment": rendered.environment,
                "instance": instance,
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

    /// The read-only commands' prologue once the session is open: the
    /// target connected, a pass whose events nobody reads, the account
    /// checked; then `work`. A wrong account ends the command, with the
    /// summary `refused` gives for the calls made.
    pub async fn read_only<T>(
        &self,
        refused: impl FnOnce(&Cloud) -> Option<Summary>,
        work: impl AsyncFnOnce(&Cloud, &Pass<'_>) -> Result<T, CommandError>,
    ) -> Result<T, CommandError> {
        let cloud = connect(&self.target).await;
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let options = Options::default();
        let pass = Pass::new(&cloud, &self.rendered, &self.assets, &options, tx);
        if let Err(check) = pass.check_account().await {
            let e = CommandError::from(Stop::from(check));
            return Err(match refused(&cloud) {
                Some(summary) => e.with_summary(summary),
                None => e,
            });
        }
        work(&cloud, &pass).await
    }

    pub fn requires_approval(&self) -> bool {
        self.project
            .environment(&self.rendered.environment)
            .is_ok_and(|e| e.approval)
    }
}

/// Asks on a terminal; `--yes` and `--ci` never ask. Without a terminal and
/// without either flag, the answer is no, and the error says why.
pub fn approved(ctx: &mut Context, yes: bool, question: &str) -> Result<(), CommandError> {
    if yes || ctx.ci {
        return Ok(());
    }
    if std::io::stdin().is_terminal() && ctx.printer.format() == crate::output::Format::Human {
        eprint!("{question} [y/N] ");
        let mut answer = String::new();
        if std::io::stdin().read_line(&mut answer).is_ok() {
            let answer = answer.trim().to_ascii_lowercase();
            if answer == "y" || answer == "yes" {
                return Ok(());
            }
        }
        return Err(CommandError::new(
            ErrorKind::Failure,
            "not approved; nothing was changed",
        ));
    }
    Err(CommandError::new(
        ErrorKind::Failure,
        format!(
            "approval required ({question}) and there is no terminal to ask on; nothing was changed"
        ),
    )
    .with_help("pass --yes, or --ci in a pipeline"))
}
