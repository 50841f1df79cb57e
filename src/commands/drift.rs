//! `driftless drift ENV`: CloudFormation drift detection on every stack of
//! the environment, plus the live function settings; exit 0 in sync, 2
//! drifted, 1 error.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::Cloud;
use crate::exit;
use crate::output::show::show_drift;
use crate::reconcile::drift::DriftReport;
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct DriftArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// Seconds one stack's detection may take.
    #[arg(long, default_value_t = crate::reconcile::drift::DETECTION_TIME_LIMIT.as_secs(), value_parser = crate::durations::up_to_a_day)]
    pub drift_timeout: u64,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The counts of a drift report, for summaries.
pub fn drift_counts(report: &DriftReport) -> serde_json::Value {
    json!({
        "stacks": report.stacks.len(),
        "drifted": report.drifted_resources().count(),
        "not_checked": report.not_checked(),
        "settings": report.settings.len(),
        "hotswapped": report.hotswapped.len(),
        "missing": report.stacks.iter().filter(|s| s.status == "MISSING").count(),
    })
}

impl DriftArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let session = Session::open(
            ctx,
            "drift",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let rt = runtime()?;
        let summary = |cloud: &Cloud, ok: bool, counts, human: &str| {
            Summary::cloud("drift", ok, counts, started, &cloud.calls(), human)
        };
        rt.block_on(session.read_only(
            |cloud| Some(summary(cloud, false, json!({}), "nothing checked")),
            async |cloud, pass| {
                let report = pass
                    .detect_drift(Duration::from_secs(self.drift_timeout))
                    .await
                    .map_err(|e| {
                        CommandError::from_error(ErrorKind::Failure, &e).with_summary(summary(
                            cloud,
                            false,
                            json!({}),
                            "drift not known",
                        ))
                    })?;
                show_drift(&mut ctx.printer, &report);
                let code = if report.drifted() {
                    exit::DRIFTED
                } else {
                    exit::OK
                };
                let counts = drift_counts(&report);
                Ok(summary(cloud, true, counts, &drift_line(&report)).with_code(code))
            },
        ))
    }
}

/// One line: what drifted, what could not be checked.
pub fn drift_line(report: &DriftReport) -> String {
    let drifted =
        report.drifted_resources().count() + report.settings.len() + report.hotswapped.len();
    let state = if drifted == 0 {
        "in sync".to_string()
    } else {
        format!("{drifted} drifted")
    };
    format!(
        "{state}; {} resource(s) not checked by the target, {} stack(s) not deployed",
        report.not_checked(),
        report
            .stacks
            .iter()
            .filter(|s| s.status == "MISSING")
            .count()
    )
}
