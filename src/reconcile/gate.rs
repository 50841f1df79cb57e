//! The release gate: after a pass, the environment's smoke checks; when one
//! fails and the environment rolls back, the stacks the pass changed go back
//! to what they were, and the checks run again on the previous release.

use super::{Event, Outcome, Pass, Snapshot};
use crate::cloud::bootstrap::BOOTSTRAP_STACK;
use crate::cloud::state::gate_key;
use crate::deployed::DeployedStack;
use crate::render::RenderedEnvironment;
use crate::render::resolve::output_id;
use crate::smoke::{Planned, Report, Runner, Values, resolve};
use std::collections::BTreeMap;

/// How the gate ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// A check failed; every changed stack is back on its previous release
    /// and the checks pass there.
    RolledBack,
    /// A check failed and the environment is not back on a release that
    /// passes: the reason says what is left.
    Failed(String),
}

impl Verdict {
    pub fn name(&self) -> &'static str {
        match self {
            Verdict::Passed => "passed",
            Verdict::RolledBack => "rolled_back",
            Verdict::Failed(_) => "failed",
        }
    }
}

/// Checks a pass owes: written before its gate runs and removed when the
/// gate ends, so that a pass killed in its gate leaves them to the next
/// one (any agent, any command), with what to roll back to.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct OwedChecks {
    pub revision: Option<String>,
    /// When, by the store's clock (Unix seconds).
    pub at: i64,
    pub by: String,
    pub command: String,
    /// The stacks that pass changed.
    pub changed: Vec<String>,
    pub snapshot: Snapshot,
}

/// Outputs of the deployed stacks, by `unit.output`.
struct Deployed<'a> {
    environment: &'a RenderedEnvironment,
    stacks: &'a BTreeMap<String, DeployedStack>,
}

impl Values for Deployed<'_> {
    fn output(&self, unit: &str, output: &str) -> Result<String, String> {
        let stack = self
            .environment
            .stacks
            .iter()
            .find(|s| s.units.iter().any(|u| u == unit))
            .ok_or_else(|| format!("unit `{unit}` is not deployed by this environment"))?;
        let deployed = self
            .stacks
            .get(&stack.name)
            .ok_or_else(|| format!("stack {} is not deployed; deploy it first", stack.name))?;
        deployed
            .outputs
            .get(&output_id(unit, output))
            .cloned()
            .ok_or_else(|| format!("stack {} has no output for `{unit}.{output}`", stack.name))
    }

    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Pass<'_> {
    /// Records that this pass owes its checks, before running them: a pass
    /// killed in its gate leaves them, and what to roll back to, to the
    /// next. A record that cannot be written is said, not fatal.
    pub(super) async fn owe_checks(
        &self,
        bucket: &str,
        command: &str,
        outcome: &Outcome,
        snapshot: &Snapshot,
    ) {
        let env = self.environment;
        let mut changed: Vec<String> = outcome.changed.iter().cloned().collect();
        changed.extend(snapshot.carried().iter().cloned());
        changed.sort();
        changed.dedup();
        let owed = OwedChecks {
            revision: self.options.revision.clone(),
            at: self.cloud.store_now(),
            by: super::lease::owner(&super::lease::host()),
            command: command.to_string(),
            changed,
            snapshot: snapshot.clone(),
        };
        let key = gate_key(&env.app, &env.environment);
        if let Err(e) = crate::cloud::state::write_json(self.cloud, bucket, &key, &owed).await {
            self.emit_owed("unrecorded", &owed, Some(e.to_string()));
        }
    }

    pub(super) fn emit_owed(&self, state: &'static str, owed: &OwedChecks, reason: Option<String>) {
        self.emit(Event::ChecksOwed {
            state,
            revision: owed.revision.clone(),
            by: Some(owed.by.clone()),
            stacks: owed.changed.clone(),
            reason,
        });
    }

    /// Runs the environment's checks against `stacks` and reports them.
    pub async fn smoke(
        &self,
        runner: &Runner,
        stacks: &BTreeMap<String, DeployedStack>,
        phase: &'static str,
    ) -> Report {
        let values = Deployed {
            environment: self.environment,
            stacks,
        };
        let planned = self
            .environment
            .smoke
            .iter()
            .map(|c| Planned {
                name: c.name.clone(),
                after: c.after.iter().map(|(name, _)| name.clone()).collect(),
                check: resolve(c, &values),
            })
            .collect();
        let report = runner.run(planned).await;
        for result in &report.results {
            self.emit(Event::SmokeCheck {
                phase,
                result: result.clone(),
            });
        }
        self.emit(Event::Smoke {
            phase,
            passed: report.passed(),
            failed: report.failed(),
            seconds: report.seconds,
            results: report.results.clone(),
        });
        report
    }

    /// The checks after a pass; on failure, the rollback and the checks again.
    pub async fn gate(
        &self,
        runner: &Runner,
        snapshot: &Snapshot,
        outcome: &mut Outcome,
    ) -> Verdict {
        if self.smoke(runner, &outcome.deployed, "release").await.ok() {
            return Verdict::Passed;
        }
        if !self.environment.rollback {
            return Verdict::Failed(
                "a smoke check failed; this environment does not roll back (rollback: false), so the release stays".into(),
            );
        }
        if outcome.changed.iter().all(|s| s == BOOTSTRAP_STACK) && snapshot.carried().is_empty() {
            return Verdict::Failed(
                "a smoke check failed; this pass changed no stack, so there is nothing to roll back".into(),
            );
        }
        let report = self.roll_back(snapshot, outcome).await;
        let again = self.smoke(runner, &outcome.deployed, "rollback").await;
        match (report.complete(), again.ok()) {
            (true, true) => Verdict::RolledBack,
            (true, false) => Verdict::Failed(
                "a smoke check failed; the release was rolled back, but the checks fail on the previous release too".into(),
            ),
            (false, _) => {
                let left: Vec<String> = report.left.iter().map(|l| l.stack.clone()).collect();
                Verdict::Failed(format!(
                    "a smoke check failed and the rollback is incomplete: {} left as this pass made them",
                    left.join(", ")
                ))
            }
        }
    }

    /// The checks after a hotswap; on failure (where the environment rolls
    /// back) the swapped functions go back to what they ran, and the checks
    /// run again. A newer change cuts the first checks short (None: not
    /// run): they would judge code that is about to be replaced.
    pub(super) async fn hotswap_gate(
        &self,
        runner: &Runner,
        observed: &super::Observed,
        plan: &super::HotswapPlan,
        report: &mut super::Report,
    ) -> Option<Verdict> {
        let deployed = report.outcome.deployed.clone();
        let passed = tokio::select! {
            report = self.smoke(runner, &deployed, "release") => report.ok(),
            _ = self.stopped() => return None,
        };
        if passed {
            return Some(Verdict::Passed);
        }
        Some(self.hotswap_rollback(runner, observed, plan, report).await)
    }

    /// Puts the swapped functions back and runs the checks again.
    async fn hotswap_rollback(
        &self,
        runner: &Runner,
        observed: &super::Observed,
        plan: &super::HotswapPlan,
        report: &mut super::Report,
    ) -> Verdict {
        let deployed = report.outcome.deployed.clone();
        let swapped: Vec<&super::Swapped> = report
            .swapped
            .iter()
            .filter(|s| !s.changed.is_empty())
            .collect();
        let names: Vec<&str> = swapped.iter().map(|s| s.function.as_str()).collect();
        if !self.environment.rollback {
            return Verdict::Failed(format!(
                "a smoke check failed after {} was hotswapped; this environment does not roll back (rollback: false), so the new code stays",
                names.join(", ")
            ));
        }
        let mut restored = Vec::new();
        let mut inexact = Vec::new();
        for s in &swapped {
            if let (Some(machine), Some(previous)) = (
                plan.machines
                    .iter()
                    .find(|m| m.stack == s.stack && m.logical_id == s.logical_id),
                &s.previous_definition,
            ) {
                if let Err(e) = self.restore_definition(machine, previous).await {
                    return Verdict::Failed(format!(
                        "a smoke check failed after {} was hotswapped, and putting {} back failed: {e}",
                        names.join(", "),
                        s.function
                    ));
                }
                restored.push(s.function.clone());
                continue;
            }
            let Some(target) = plan
                .targets
                .iter()
                .find(|t| t.stack == s.stack && t.desired.logical_id == s.logical_id)
            else {
                continue;
            };
            match self.restore(observed, target).await {
                Ok(true) => restored.push(s.function.clone()),
                Ok(false) => inexact.push(s.function.clone()),
                Err(e) => {
                    return Verdict::Failed(format!(
                        "a smoke check failed after {} was hotswapped, and putting {} back failed: {e}",
                        names.join(", "),
                        s.function
                    ));
                }
            }
        }
        report.outcome.rolled_back = restored.len() + inexact.len();
        self.emit(Event::Rollback {
            complete: inexact.is_empty(),
            restored: restored.iter().chain(&inexact).cloned().collect(),
            deleted: Vec::new(),
            left: Vec::new(),
        });
        let again = self.smoke(runner, &deployed, "rollback").await;
        match (inexact.is_empty(), again.ok()) {
            (true, true) => Verdict::RolledBack,
            (true, false) => Verdict::Failed(format!(
                "a smoke check failed after {} was hotswapped; the previous code is back, but the checks fail there too",
                names.join(", ")
            )),
            (false, _) => Verdict::Failed(format!(
                "a smoke check failed after {} was hotswapped; {} ran an earlier hotswap, which is kept nowhere, and now runs the code of the last deploy",
                names.join(", "),
                inexact.join(", ")
            )),
        }
    }
}
