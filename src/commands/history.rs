//! `driftless history ENV`: the passes recorded in the environment's
//! state (beside its lock, in the bootstrap bucket): when, by whom, from
//! which commit, how each ended and what it changed. Every command and
//! agent that applies writes one; they outlive any agent.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::{stacks, state};
use crate::deployed::PassRecord;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// How many passes, newest last.
    #[arg(long, default_value = "20", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub last: u16,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// One pass as a line.
pub fn line(pass: &PassRecord) -> String {
    let when = chrono::DateTime::from_timestamp(pass.at, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| pass.at.to_string());
    let commit = pass
        .revision
        .as_deref()
        .map_or("-".to_string(), crate::revision::short);
    let checks = pass
        .checks
        .as_deref()
        .map(|c| format!(", checks {c}"))
        .unwrap_or_default();
    let changed = match pass.changed.is_empty() {
        true => String::new(),
        false => format!("; changed {}", pass.changed.join(", ")),
    };
    let forced = pass
        .forced_by
        .as_deref()
        .map(|by| format!("; forced by {by}"))
        .unwrap_or_default();
    let error = pass
        .error
        .as_deref()
        .map(|e| format!("; {e}"))
        .unwrap_or_default();
    format!(
        "{when}  {:<9} {commit:<10} {} (exit {}){checks}{changed}{forced}{error}  by {}",
        pass.command, pass.result, pass.exit_code, pass.by
    )
}

impl HistoryArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let session = Session::open(
            ctx,
            "history",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let rt = runtime()?;
        let count = usize::from(self.last);
        rt.block_on(session.read_only(
            |cloud| {
                Some(Summary::cloud(
                    "history",
                    true,
                    json!({ "passes": 0 }),
                    started,
                    &cloud.calls(),
                    "no passes recorded",
                ))
            },
            async |cloud, _pass| {
                let failed =
                    |e: crate::cloud::CloudError| CommandError::from_error(ErrorKind::Failure, &e);
                let bucket = stacks::describe(cloud, BOOTSTRAP_STACK)
                    .await
                    .map_err(failed)?
                    .and_then(|b| b.outputs.get(BUCKET_OUTPUT).cloned());
                let passes = match bucket {
                    Some(bucket) => {
                        let app = &session.rendered.app;
                        let env = &session.rendered.environment;
                        state::read_history(cloud, &bucket, app, env, count)
                            .await
                            .map_err(failed)?
                    }
                    None => Vec::new(),
                };
                for pass in &passes {
                    ctx.printer
                        .emit(json!({ "event": "pass", "pass": pass }), || {
                            crate::diag::quote_controls(line(pass))
                        });
                }
                let human = format!("{} pass(es)", passes.len());
                Ok(Summary::cloud(
                    "history",
                    true,
                    json!({ "passes": passes.len() }),
                    started,
                    &cloud.calls(),
                    &human,
                ))
            },
        ))
    }
}
