//! `driftless outputs ENV`: the deployed outputs of every stack, by unit.

use super::Context;
use super::session::Session;
use super::target::{TargetArgs, connect, runtime};
use crate::cloud::stacks;
use crate::exit;
use crate::reconcile::public_outputs;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct OutputsArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

impl OutputsArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        let session = match Session::open(ctx, "outputs", &self.environment, &self.target) {
            Ok(s) => s,
            Err(code) => return code,
        };
        let rt = match runtime(ctx) {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let deployed = match stacks::list(&cloud.cfn).await {
                Ok(d) => d,
                Err(e) => {
                    ctx.printer.error(&e);
                    return exit::FAILURE;
                }
            };
            let mut missing = 0;
            for stack in &session.rendered.stacks {
                let Some(d) = deployed.get(&stack.name) else {
                    missing += 1;
                    ctx.printer.emit(
                        json!({ "event": "stack_missing", "stack": stack.name }),
                        || format!("{}: not deployed", stack.name),
                    );
                    continue;
                };
                for (key, value) in public_outputs(&d.outputs) {
                    let name = d.output_descriptions.get(&key).cloned().unwrap_or(key.clone());
                    ctx.printer.emit(
                        json!({ "event": "output", "stack": stack.name, "name": name, "key": key, "value": value }),
                        || format!("{name:<28} {value}"),
                    );
                }
            }
            if missing > 0 { exit::FAILURE } else { exit::OK }
        })
    }
}
