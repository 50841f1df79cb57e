//! `driftless smoke ENV`: the environment's smoke checks against what is
//! deployed, alone.

use super::session::Session;
use super::target::{TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::stacks;
use crate::output::show::while_running;
use crate::reconcile::{Options, Pass, Stop};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// Write the smoke checks (and a failed pass) as JUnit XML to FILE,
    /// which CodeBuild, GitHub Actions reporters and GitLab read.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl SmokeArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let environment = self.environment.as_str();
        let session = Session::open(
            ctx,
            "smoke",
            environment,
            &self.target,
            Builds::NotNeeded,
            &|env| {
                if env.smoke.is_empty() {
                    return Err(CommandError::new(
                        ErrorKind::Usage,
                        format!("environment {environment} declares no smoke checks"),
                    )
                    .with_help(format!(
                        "add a `smoke:` list to environments/{environment}.yaml"
                    )));
                }
                Ok(())
            },
        )?;
        let rt = runtime()?;
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let options = Options::default();
            let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
            let early = |e: CommandError| {
                e.with_summary(Summary::cloud(
                    "smoke",
                    false,
                    json!({}),
                    started,
                    &cloud.calls(),
                    "no check ran",
                ))
            };
            pass.check_account()
                .await
                .map_err(|check| early(Stop::from(check).into()))?;
            let runner = match pass.smoke_runner(true) {
                Ok(Some(runner)) => runner,
                Ok(None) => {
                    return Err(early(CommandError::new(
                        ErrorKind::Usage,
                        "no smoke checks",
                    )));
                }
                Err(stop) => return Err(early(stop.into())),
            };
            let deployed = stacks::list(&cloud)
                .await
                .map_err(|e| early(CommandError::from_error(ErrorKind::Failure, &e)))?;
            let report = while_running(
                &mut ctx.printer,
                rx,
                pass.smoke(&runner, &deployed, "release"),
            )
            .await;
            let summary = Summary::cloud(
                "smoke",
                report.ok(),
                json!({ "passed": report.passed(), "failed": report.failed() }),
                started,
                &cloud.calls(),
                &format!("{} passed, {} failed", report.passed(), report.failed()),
            );
            if report.ok() {
                Ok(summary)
            } else {
                Err(CommandError::reported(ErrorKind::SmokeFailed).with_summary(summary))
            }
        })
    }
}
