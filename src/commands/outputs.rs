//! `driftless outputs ENV`: the deployed outputs of every stack, by unit.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::bundle::Builds;
use crate::cloud::stacks;
use crate::reconcile::{Options, Pass, Stop, public_outputs};
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct OutputsArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl OutputsArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let session = Session::open(
            ctx,
            "outputs",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let rt = runtime()?;
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let summary = |ok: bool, counts, human: &str| {
                Summary::cloud("outputs", ok, counts, started, &cloud.calls(), human)
            };
            let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
            let options = Options::default();
            let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
            if let Err(check) = pass.check_account().await {
                let e: CommandError = Stop::from(check).into();
                return Err(e.with_summary(summary(false, json!({}), "nothing read")));
            }
            let deployed = stacks::list(&cloud).await.map_err(|e| {
                CommandError::from_error(ErrorKind::Failure, &e)
                    .with_summary(summary(false, json!({}), "nothing read"))
            })?;
            let mut missing = Vec::new();
            let mut shown = 0;
            for stack in &session.rendered.stacks {
                let Some(d) = deployed.get(&stack.name) else {
                    missing.push(stack.name.clone());
                    ctx.printer.emit(
                        json!({ "event": "stack_missing", "stack": stack.name }),
                        || format!("{}: not deployed", stack.name),
                    );
                    continue;
                };
                for (key, value) in public_outputs(&d.outputs) {
                    shown += 1;
                    let name = d.output_descriptions.get(&key).cloned().unwrap_or(key.clone());
                    ctx.printer.emit(
                        json!({ "event": "output", "stack": stack.name, "name": name, "key": key, "value": value }),
                        || format!("{name:<28} {value}"),
                    );
                }
            }
            let counts = json!({ "outputs": shown, "missing": missing.len() });
            let human = format!("{shown} output(s), {} stack(s) not deployed", missing.len());
            if missing.is_empty() {
                return Ok(summary(true, counts, &human));
            }
            Err(CommandError::new(
                ErrorKind::Failure,
                format!("not deployed: {}", missing.join(", ")),
            )
            .with_help(format!("run `driftless deploy {}` first", self.environment))
            .with_summary(summary(false, counts, &human)))
        })
    }
}
