//! `driftless smoke ENV`: the environment's smoke checks against what is
//! deployed, alone; and what `deploy` shares with it: the runner and how a
//! gate's verdict is shown and exited with.

use super::Context;
use super::progress::{self, while_running};
use super::session::Session;
use super::target::{Resolved, TargetArgs, connect, runtime};
use crate::cloud::{Cloud, stacks};
use crate::exit;
use crate::reconcile::{Options, Pass, Verdict};
use crate::render::RenderedEnvironment;
use crate::smoke::Runner;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct SmokeArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The runner for a target: an emulator gets the caller's account on its
/// local endpoints.
pub fn runner(target: &Resolved, cloud: &Cloud) -> Result<Runner, String> {
    let authorization = target
        .settings
        .endpoint
        .as_ref()
        .and_then(|_| crate::local::account_authorization(&target.settings.region));
    Runner::new(cloud.lambda.clone(), authorization)
}

/// The checks' header variables must all be set before anything runs.
pub fn unset_vars(rendered: &RenderedEnvironment) -> Result<(), String> {
    let missing: BTreeSet<String> = rendered
        .smoke
        .iter()
        .flat_map(|c| c.env_vars())
        .filter(|var| std::env::var(var).map_or(true, |v| v.is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<&str> = missing.iter().map(String::as_str).collect();
    Err(format!(
        "the smoke checks read the environment variable(s) {}, which are not set; export them first. Nothing was changed",
        list.join(", ")
    ))
}

/// The verdict as an event and an exit code.
pub fn show_verdict(ctx: &mut Context, verdict: &Verdict) -> u8 {
    let (name, reason, code) = match verdict {
        Verdict::Passed => ("passed", None, exit::OK),
        Verdict::RolledBack => (
            "rolled_back",
            Some("a smoke check failed; the changed stacks are back on the previous release, where the checks pass".to_string()),
            exit::SMOKE_ROLLED_BACK,
        ),
        Verdict::Failed(reason) => ("failed", Some(reason.clone()), exit::SMOKE_FAILED),
    };
    let colour = match verdict {
        Verdict::Passed => crate::output::Colour::Green,
        _ => crate::output::Colour::Red,
    };
    let text = match &reason {
        Some(reason) => ctx
            .printer
            .paint(&format!("release gate: {reason}"), colour),
        None => ctx
            .printer
            .paint("release gate: smoke checks passed", colour),
    };
    ctx.printer.emit(
        json!({ "event": "gate", "verdict": name, "reason": reason }),
        || text,
    );
    code
}

impl SmokeArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        let started = Instant::now();
        let session = match Session::open(ctx, "smoke", &self.environment, &self.target) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if session.rendered.smoke.is_empty() {
            let message = format!(
                "environment {} declares no smoke checks; add a `smoke:` list to environments/{}.yaml",
                session.rendered.environment, self.environment
            );
            ctx.printer.failure(&message);
            return exit::USAGE;
        }
        if let Err(message) = unset_vars(&session.rendered) {
            ctx.printer.failure(&message);
            return exit::INVALID;
        }
        let rt = match runtime(ctx) {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        rt.block_on(async {
            let cloud = connect(&session.target).await;
            let runner = match runner(&session.target, &cloud) {
                Ok(r) => r,
                Err(message) => {
                    ctx.printer.failure(&message);
                    return exit::FAILURE;
                }
            };
            let deployed = match stacks::list(&cloud.cfn).await {
                Ok(d) => d,
                Err(e) => {
                    ctx.printer.error(&e);
                    return exit::FAILURE;
                }
            };
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            let options = Options::default();
            let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
            let report = while_running(
                &mut ctx.printer,
                rx,
                pass.smoke(&runner, &deployed, "release"),
            )
            .await;
            progress::summary(
                &mut ctx.printer,
                "smoke",
                report.ok(),
                json!({ "passed": report.passed(), "failed": report.failed() }),
                started,
                &cloud.calls.summary(),
                format!("{} passed, {} failed", report.passed(), report.failed()),
            );
            if report.ok() {
                exit::OK
            } else {
                exit::SMOKE_FAILED
            }
        })
    }
}
