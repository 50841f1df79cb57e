//! `driftless suspend ENV` / `resume ENV`: record in the environment's
//! bootstrap bucket that the reconcile loop must not apply (it still
//! reports), or remove that record. `status` shows it.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::{stacks, state};
use crate::deployed::Suspension;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct SuspendArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// Why, for whoever reads `status`.
    #[arg(long, default_value = "suspended by hand")]
    pub reason: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// Writes or removes the record; `reason: None` resumes.
fn set(
    ctx: &mut Context,
    command: &'static str,
    environment: &str,
    target: &TargetArgs,
    reason: Option<&str>,
) -> CommandResult {
    let started = Instant::now();
    let session = Session::open(
        ctx,
        command,
        environment,
        target,
        Builds::NotNeeded,
        &no_preflight,
    )?;
    let rt = runtime()?;
    rt.block_on(session.read_only(
        |cloud| {
            Some(Summary::cloud(
                command,
                false,
                json!({}),
                started,
                &cloud.calls(),
                "nothing recorded",
            ))
        },
        async |cloud, _pass| {
            let done = |ok: bool, human: &str| {
                Summary::cloud(command, ok, json!({}), started, &cloud.calls(), human)
            };
            let failed = |e: crate::cloud::CloudError| {
                CommandError::from_error(ErrorKind::Failure, &e)
                    .with_summary(done(false, "nothing recorded"))
            };
            let bucket = stacks::describe(cloud, BOOTSTRAP_STACK)
                .await
                .map_err(failed)?
                .and_then(|b| b.outputs.get(BUCKET_OUTPUT).cloned())
                .ok_or_else(|| {
                    CommandError::new(
                        ErrorKind::Failure,
                        "the target has no bootstrap stack: nothing is deployed to suspend",
                    )
                    .with_help(format!("deploy {environment} first"))
                    .with_summary(done(false, "nothing recorded"))
                })?;
            let app = &session.rendered.app;
            let env = &session.rendered.environment;
            let human = match reason {
                Some(reason) => {
                    let record = Suspension {
                        by: crate::reconcile::holder_name(),
                        at: cloud.store_now(),
                        reason: reason.to_string(),
                    };
                    state::write_suspension(cloud, &bucket, app, env, &record)
                        .await
                        .map_err(failed)?;
                    format!("{env} suspended: the reconcile loop reports but does not apply")
                }
                None => {
                    state::remove_suspension(cloud, &bucket, app, env)
                        .await
                        .map_err(failed)?;
                    format!("{env} resumed: the reconcile loop applies again")
                }
            };
            ctx.printer.emit(
                json!({ "event": command, "environment": env, "reason": reason }),
                || human.clone(),
            );
            Ok(done(true, &human))
        },
    ))
}

impl SuspendArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        set(
            ctx,
            "suspend",
            &self.environment,
            &self.target,
            Some(&self.reason),
        )
    }
}

impl ResumeArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        set(ctx, "resume", &self.environment, &self.target, None)
    }
}
