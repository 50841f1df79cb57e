//! `driftless destroy ENV`: stateless stacks first; stateful ones only with
//! `--include-stateful`; protected environments never.

use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::output::show::while_running;
use crate::reconcile::{Options, Pass, Stop};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub instance: super::instance::InstanceArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Delete stateful stacks too. Resources with a Retain policy (tables,
    /// buckets) still outlive their stack and are listed.
    #[arg(long)]
    pub include_stateful: bool,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub schedule: super::deploy::ScheduleArgs,
}

impl DestroyArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let name = self.environment.as_str();
        // Destroy needs the stacks' names, never the code: a broken build
        // does not block it.
        let session = Session::open_as(
            ctx,
            "destroy",
            name,
            self.instance.instance.as_deref(),
            &self.target,
            Builds::NotNeeded,
            &|env| {
                if env.protect {
                    return Err(CommandError::new(
                    ErrorKind::Refused,
                    format!("environment {name} is protected; destroy is refused and nothing was deleted"),
                )
                .with_help(format!("set `protect: false` in environments/{name}.yaml first")));
                }
                Ok(())
            },
        )?;
        // An instance is ephemeral: all of it goes, data included.
        let include_stateful = self.include_stateful || self.instance.instance.is_some();
        let question = format!(
            "delete the {} stacks of {}?",
            if include_stateful {
                "stateless and stateful"
            } else {
                "stateless"
            },
            session.rendered.environment,
        );
        approved(ctx, self.yes, &question)?;
        let rt = runtime()?;
        let mut options = Options::default();
        self.schedule.apply_to(&mut options);
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let nothing_deleted = |e: CommandError| {
                e.with_summary(Summary::cloud(
                    "destroy",
                    false,
                    json!({}),
                    started,
                    &cloud.calls(),
                    "nothing was deleted",
                ))
            };
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
            pass.check_account()
                .await
                .map_err(|check| nothing_deleted(Stop::from(check).into()))?;
            let lock = pass
                .lock_if_bootstrapped("destroy")
                .await
                .map_err(|e| nothing_deleted(Stop::from(e).into()))?;
            if self.instance.instance.is_some() {
                let emptied = super::instance::empty_buckets(&cloud, &session.rendered)
                    .await
                    .map_err(|e| {
                        CommandError::from_error(ErrorKind::Failure, &e).with_summary(
                            Summary::cloud(
                                "destroy",
                                false,
                                json!({}),
                                started,
                                &cloud.calls(),
                                "no stack was deleted, but some of the instance's objects may be",
                            ),
                        )
                    })?;
                for (bucket, objects) in emptied {
                    ctx.printer.emit(
                        json!({ "event": "emptied", "bucket": bucket, "objects": objects }),
                        || {
                            format!(
                                "  {bucket}: {objects} object(s) deleted, so that the bucket can go"
                            )
                        },
                    );
                }
            }
            let mut outcome =
                while_running(&mut ctx.printer, rx, pass.destroy(include_stateful)).await;
            if let Some(lock) = lock
                && let Err(e) = lock.release().await
            {
                outcome.error.get_or_insert_with(|| e.to_string());
            }
            let ok = outcome.error.is_none();
            let human = format!(
                "{} deleted, {} kept, {} not deployed, {} retained resource(s)",
                outcome.deleted, outcome.kept, outcome.absent, outcome.retained_resources
            );
            let summary = Summary::cloud(
                "destroy",
                ok,
                json!(outcome),
                started,
                &cloud.calls(),
                &human,
            );
            match outcome.error.clone() {
                None => Ok(summary),
                Some(error) => {
                    Err(CommandError::new(ErrorKind::Failure, error).with_summary(summary))
                }
            }
        })
    }
}
