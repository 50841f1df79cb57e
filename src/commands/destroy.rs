//! `driftless destroy ENV`: stateless stacks first; stateful ones only with
//! `--include-stateful`; protected environments never.

use super::Context;
use super::progress::{self, while_running};
use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use crate::exit;
use crate::reconcile::{AccountCheck, LockError, Options, Pass};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct DestroyArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Delete stateful stacks too. Resources with a Retain policy (tables,
    /// buckets) still outlive their stack and are listed.
    #[arg(long)]
    pub include_stateful: bool,
    /// Do not ask.
    #[arg(long)]
    pub yes: bool,
}

impl DestroyArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        let started = Instant::now();
        let session = match Session::open(ctx, "destroy", &self.environment, &self.target) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if session.protected() {
            ctx.printer.emit(
                json!({ "event": "error", "message": format!("environment {} is protected", self.environment), "help": "set `protect: false` in its file first" }),
                || format!("error: environment {} is protected; destroy is refused\nhelp: set `protect: false` in environments/{}.yaml first", self.environment, self.environment),
            );
            return exit::FAILURE;
        }
        let question = format!(
            "delete the {} stacks of {}?",
            if self.include_stateful {
                "stateless and stateful"
            } else {
                "stateless"
            },
            self.environment
        );
        if !approved(ctx, self.yes, &question) {
            return exit::FAILURE;
        }
        let rt = match runtime(ctx) {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        let options = Options::default();
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
            if let Err(check) = pass.check_account().await {
                let (message, code) = match check {
                    AccountCheck::Wrong(message) => (message, exit::REFUSED),
                    AccountCheck::Cloud(e) => (e.to_string(), exit::FAILURE),
                };
                ctx.printer.failure(&message);
                return code;
            }
            let lock = match pass.lock_if_bootstrapped("destroy").await {
                Ok(lock) => lock,
                Err(LockError::Busy(holder)) => {
                    let message = format!(
                        "the environment is locked by {} ({}); nothing was deleted. Try again later",
                        holder.owner, holder.command
                    );
                    ctx.printer.failure(&message);
                    return exit::LOCKED;
                }
                Err(LockError::Cloud(e)) => {
                    ctx.printer.error(&e);
                    return exit::FAILURE;
                }
            };
            let mut outcome =
                while_running(&mut ctx.printer, rx, pass.destroy(self.include_stateful)).await;
            if let Some(lock) = lock
                && let Err(e) = lock.release().await
            {
                outcome.error.get_or_insert_with(|| e.to_string());
            }
            if let Some(error) = &outcome.error {
                ctx.printer.failure(error);
            }
            let ok = outcome.error.is_none();
            let human = format!(
                "{} deleted, {} kept, {} not deployed, {} retained resource(s)",
                outcome.deleted, outcome.kept, outcome.absent, outcome.retained_resources
            );
            progress::summary(
                &mut ctx.printer,
                "destroy",
                ok,
                json!(outcome),
                started,
                &cloud.calls.summary(),
                human,
            );
            if ok { exit::OK } else { exit::FAILURE }
        })
    }
}
