//! The reconcile sequence, one function for every entry point (deploy, watch,
//! and what comes after them): account check → bootstrap → lock → observe
//! again under the lock → apply or hotswap → settle live settings → smoke
//! gate → release. It returns what happened ([`Report`]) or why it stopped
//! before changing anything ([`Stop`]); [`exit_code`] and [`retry`] are the
//! policy for how a pass ended, beside it.

use super::{
    AccountCheck, Event, HotswapPlan, LockError, Observed, Outcome, Pass, Snapshot, StopReason,
    Swapped, Verdict,
};
use crate::cloud::CloudError;
use crate::cloud::bootstrap::BOOTSTRAP_STACK;
use crate::cloud::lock::Busy;
use crate::cloud::state::gate_key;
use crate::exit;
use crate::plan::guard::Hazard;
use crate::render::{ParameterSource, RenderedEnvironment};
use crate::smoke::Runner;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How a pass changes the target.
pub enum Mode<'p> {
    /// Through CloudFormation change sets, wave by wave.
    Apply,
    /// Through Lambda alone: every change is hotswappable. The lock is taken
    /// without a second look at the stacks (a hotswap writes functions only,
    /// each from the files as saved, and tags them).
    Hotswap {
        plan: &'p HotswapPlan,
        /// When the change was saved, for the `live_ms` figures.
        saved_at: Instant,
    },
    /// Nothing to change: the smoke checks alone gate the release.
    Verify,
}

/// What the caller decides for the pass.
pub struct Settings<'c> {
    /// The command, as the lock names it.
    pub command: &'c str,
    /// Run the smoke checks (where the environment has any).
    pub smoke: bool,
    /// How long to wait for another deployer's lock.
    pub lock_wait: Duration,
}

/// What a pass did.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub outcome: Outcome,
    /// The functions a hotswap pass converged.
    pub swapped: Vec<Swapped>,
    /// The release gate's verdict, when the checks ran.
    pub verdict: Option<Verdict>,
    /// What healing drift did (`--revert-drift`, `self_heal`).
    pub heal: Option<super::heal::HealReport>,
}

/// Why a pass stopped before changing anything.
#[derive(Debug)]
pub enum Stop {
    Cloud(CloudError),
    Locked(Busy),
    Refused(Vec<Hazard>),
    WrongAccount(String),
    /// Something the deploying process must provide is missing.
    Input(String),
    /// The deploying process cannot do its part (no TLS roots, ...).
    Setup(String),
}

/// A stop, as people and pipelines read it.
pub struct Explained {
    pub message: String,
    pub code: u8,
    /// The refused changes, to show one by one.
    pub hazards: Vec<Hazard>,
}

impl Stop {
    pub fn explain(self) -> Explained {
        let (message, code) = match self {
            Stop::Cloud(e) => (e.to_string(), exit::FAILURE),
            Stop::WrongAccount(message) => (message, exit::REFUSED),
            Stop::Input(message) => (message, exit::INVALID),
            Stop::Setup(message) => (message, exit::FAILURE),
            Stop::Locked(busy) => (
                format!(
                    "the environment is locked by {} ({}, expiring in {}s); nothing was changed. Try again later, or pass --lock-wait SECONDS to wait for it",
                    busy.holder.owner, busy.holder.command, busy.expires_in
                ),
                exit::LOCKED,
            ),
            Stop::Refused(hazards) => {
                return Explained {
                    message:
                        "a retained resource would be replaced or removed; nothing was changed"
                            .into(),
                    code: exit::REFUSED,
                    hazards,
                };
            }
        };
        Explained {
            message,
            code,
            hazards: Vec::new(),
        }
    }
}

impl From<AccountCheck> for Stop {
    fn from(check: AccountCheck) -> Self {
        match check {
            AccountCheck::Wrong(message) => Stop::WrongAccount(message),
            AccountCheck::Cloud(e) => Stop::Cloud(e),
        }
    }
}

impl From<LockError> for Stop {
    fn from(e: LockError) -> Self {
        match e {
            LockError::Busy(busy) => Stop::Locked(busy),
            LockError::Cloud(e) => Stop::Cloud(e),
        }
    }
}

/// The exit code of a pass: the one mapping from how it ended to a code.
pub fn exit_code(result: &Result<Report, Stop>, stopped: Option<StopReason>) -> u8 {
    match result {
        Err(Stop::Cloud(_) | Stop::Setup(_)) if stopped == Some(StopReason::Interrupt) => {
            exit::INTERRUPTED
        }
        Err(stop) => match stop {
            Stop::Cloud(_) | Stop::Setup(_) => exit::FAILURE,
            Stop::Locked(_) => exit::LOCKED,
            Stop::Refused(_) | Stop::WrongAccount(_) => exit::REFUSED,
            Stop::Input(_) => exit::INVALID,
        },
        Ok(report) if !report.outcome.ok() => match stopped {
            Some(StopReason::Interrupt) => exit::INTERRUPTED,
            // Refused by the change set's flags, and nothing else failed:
            // the same refusal as one found at plan time.
            _ if report.outcome.refused > 0 && report.outcome.failed == 0 => exit::REFUSED,
            // A release put back, as a release whose checks failed is.
            _ if report.outcome.releases_aborted > 0 && report.outcome.failed == 0 => {
                exit::SMOKE_ROLLED_BACK
            }
            _ => exit::FAILURE,
        },
        Ok(report) => match verdict_code(report.verdict.as_ref()) {
            exit::OK if report.heal.as_ref().is_some_and(|h| !h.complete()) => exit::DRIFTED,
            code => code,
        },
    }
}

/// The exit code of the release gate's verdict.
pub fn verdict_code(verdict: Option<&Verdict>) -> u8 {
    match verdict {
        None | Some(Verdict::Passed) => exit::OK,
        Some(Verdict::RolledBack) => exit::SMOKE_ROLLED_BACK,
        Some(Verdict::Failed(_)) => exit::SMOKE_FAILED,
    }
}

/// When a pass that did not succeed is worth trying again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// It succeeded: come back when something changes.
    NotNeeded,
    /// A failure that the same input may get past (the cloud, a lock, an
    /// interruption): try again, with backoff.
    Later,
    /// The input must change first: invalid, refused (data loss, the wrong
    /// account), or checks that fail on what the input deploys.
    AfterAChange,
}

/// The policy for a pass that ended as `result`.
pub fn retry(result: &Result<Report, Stop>, stopped: Option<StopReason>) -> Retry {
    match exit_code(result, stopped) {
        exit::OK => Retry::NotNeeded,
        exit::FAILURE | exit::LOCKED | exit::INTERRUPTED => Retry::Later,
        _ => Retry::AfterAChange,
    }
}

/// Secrets read from the environment must all be set before anything
/// changes, not found missing half way through a pass.
fn missing_secrets(rendered: &RenderedEnvironment) -> Result<(), String> {
    let missing: BTreeSet<&str> = rendered
        .stacks
        .iter()
        .flat_map(|s| &s.parameters)
        .filter_map(|p| match &p.source {
            ParameterSource::Env { var } => Some(var.as_str()),
            _ => None,
        })
        .filter(|var| std::env::var(var).map_or(true, |v| v.is_empty()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<&str> = missing.into_iter().collect();
    Err(format!(
        "secret param(s) read from the environment variable(s) {}, which are not set; export them before deploying. Nothing was changed",
        list.join(", ")
    ))
}

/// The checks' variables must all be set before anything runs.
pub fn unset_smoke_vars(rendered: &RenderedEnvironment) -> Result<(), String> {
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

impl Pass<'_> {
    /// The runner for the environment's checks, when they are to run.
    pub fn smoke_runner(&self, smoke: bool) -> Result<Option<Runner>, Stop> {
        if !smoke || self.environment.smoke.is_empty() {
            return Ok(None);
        }
        unset_smoke_vars(self.environment).map_err(Stop::Input)?;
        Runner::for_cloud(self.cloud, self.secret_values())
            .map(Some)
            .map_err(Stop::Setup)
    }

    /// The reconcile sequence. `observed` is what the caller planned from;
    /// under the lock the state is read again (except for a hotswap).
    pub async fn run(
        &self,
        observed: &Observed,
        mode: Mode<'_>,
        settings: &Settings<'_>,
    ) -> Result<Report, Stop> {
        let checks = settings.smoke && !self.environment.smoke.is_empty();
        if checks {
            unset_smoke_vars(self.environment).map_err(Stop::Input)?;
        }
        if let Mode::Verify = mode {
            // The variables were checked above: only the runner is built here.
            let runner = match checks {
                true => {
                    Some(Runner::for_cloud(self.cloud, self.secret_values()).map_err(Stop::Setup)?)
                }
                false => None,
            };
            let mut report = Report {
                outcome: Outcome {
                    unchanged: observed.planned.len(),
                    deployed: observed.stacks.clone(),
                    ..Default::default()
                },
                ..Default::default()
            };
            if let Some(runner) = &runner {
                let nothing_changed = Snapshot::default();
                report.verdict = Some(
                    self.gate(runner, &nothing_changed, &mut report.outcome)
                        .await,
                );
            }
            return Ok(report);
        }
        missing_secrets(self.environment).map_err(Stop::Input)?;
        self.check_account().await?;
        // The bootstrap stack deploys alone, before the lock: the pass
        // counts it as created, not as the no-op it is under the lock.
        let bootstraps = matches!(mode, Mode::Apply) && observed.asset_bucket.is_none();
        let bucket = match mode {
            Mode::Hotswap { .. } => observed.asset_bucket.clone().ok_or_else(|| {
                Stop::Cloud(CloudError::new(
                    "DescribeStacks",
                    crate::cloud::bootstrap::BOOTSTRAP_STACK,
                    "the bootstrap stack is not deployed; deploy first",
                ))
            })?,
            _ => self.bootstrap(observed).await.map_err(Stop::Cloud)?,
        };
        let lock = self
            .lock(&bucket, settings.command, settings.lock_wait)
            .await?;
        let mut report = match mode {
            Mode::Hotswap { plan, saved_at } => {
                self.hotswap_locked(observed, plan, saved_at, checks).await
            }
            _ => {
                // Under the lock, look again: another deployer may have finished.
                let fresh = match self.observe().await {
                    Ok(fresh) if fresh.hazards.is_empty() => fresh,
                    Ok(fresh) => {
                        let _ = lock.release().await;
                        return Err(Stop::Refused(fresh.hazards));
                    }
                    Err(e) => {
                        let _ = lock.release().await;
                        return Err(Stop::Cloud(e));
                    }
                };
                // Checks an earlier pass owes are this pass's too, and its
                // stacks go back with this pass's where they fail.
                let owed = fresh.owed_checks.clone();
                let snapshot = match &owed {
                    Some(owed) => {
                        self.emit_owed("owed", owed, None);
                        Snapshot::take(&fresh).carrying(owed.snapshot.clone())
                    }
                    None => Snapshot::take(&fresh),
                };
                let mut outcome = self.apply(&fresh).await;
                let heal = match self.options.revert_drift && outcome.ok() {
                    true => match self
                        .revert_drift(&outcome.deployed, outcome.changed.is_empty())
                        .await
                    {
                        Ok(heal) => {
                            let healed = heal
                                .heals
                                .iter()
                                .filter(|h| h.result == super::heal::HealResult::Healed)
                                .count();
                            outcome.healed = healed;
                            outcome.not_healed = heal.heals.len() - healed;
                            Some(heal)
                        }
                        Err(e) => {
                            outcome.error = Some(format!("drift was not healed: {e}"));
                            None
                        }
                    },
                    false => None,
                };
                if bootstraps {
                    outcome.created += 1;
                    outcome.unchanged = outcome.unchanged.saturating_sub(1);
                    outcome
                        .changed
                        .insert(crate::cloud::bootstrap::BOOTSTRAP_STACK.to_string());
                }
                let changed = outcome.changed.iter().any(|s| s != BOOTSTRAP_STACK);
                let gated = checks && outcome.ok() && (changed || owed.is_some());
                if gated {
                    self.owe_checks(&bucket, settings.command, &outcome, &snapshot)
                        .await;
                } else if let Some(owed) = &owed {
                    self.emit_owed("kept", owed, None);
                }
                let verdict = match self.runner_after_change(checks && outcome.ok()) {
                    Some(Ok(runner)) => Some(self.gate(&runner, &snapshot, &mut outcome).await),
                    Some(Err(verdict)) => Some(verdict),
                    None => None,
                };
                if gated && verdict.is_some() {
                    // The gate ended, one way or the other: nothing is owed.
                    let key = gate_key(&self.environment.app, &self.environment.environment);
                    if let Err(e) = crate::cloud::state::remove(self.cloud, &bucket, &key).await {
                        outcome.error.get_or_insert_with(|| {
                            format!("the checks ended, but their record stays owed: {e}")
                        });
                    }
                }
                Report {
                    outcome,
                    verdict,
                    heal,
                    ..Default::default()
                }
            }
        };
        // The record informs `status`; failing to write it fails nothing.
        let _ = self.record_pass(&bucket, settings.command, &report).await;
        if let Err(e) = lock.release().await {
            report.outcome.error.get_or_insert_with(|| e.to_string());
        }
        Ok(report)
    }

    /// Writes how this pass ended beside the lock, for `status`.
    async fn record_pass(
        &self,
        bucket: &str,
        command: &str,
        report: &Report,
    ) -> Result<(), CloudError> {
        let code = exit_code(&Ok(report.clone()), self.stop_reason());
        let host = super::lease::host();
        let record = crate::deployed::PassRecord {
            app: self.environment.app.clone(),
            environment: self.environment.environment.clone(),
            at: self.cloud.store_now(),
            by: super::lease::owner(&host),
            command: command.to_string(),
            revision: self.options.revision.clone(),
            result: if code == exit::OK { "ok" } else { "failed" }.into(),
            exit_code: code,
            checks: report.verdict.as_ref().map(|v| v.name().to_string()),
            changed: report.outcome.changed.iter().cloned().collect(),
            error: report.outcome.error.clone(),
            forced_by: self.options.forced_by.clone(),
        };
        crate::cloud::state::write_pass(self.cloud, bucket, &record).await
    }

    /// The hotswap under the lock, then the checks; when they fail and the
    /// environment rolls back, the functions go back to what they ran.
    async fn hotswap_locked(
        &self,
        observed: &Observed,
        plan: &HotswapPlan,
        saved_at: Instant,
        checks: bool,
    ) -> Report {
        let mut report = Report {
            outcome: Outcome {
                deployed: observed.stacks.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        match self.hotswap(plan, saved_at).await {
            Ok(swapped) => {
                for s in &swapped {
                    self.emit(Event::Hotswapped(s.clone()));
                }
                report.swapped = swapped;
            }
            Err(e) => {
                report.outcome.error = Some(e.to_string());
                return report;
            }
        }
        self.sync_content(&observed.stacks, &mut report.outcome)
            .await;
        if !report.outcome.ok() {
            return report;
        }
        if self.is_stopping() {
            // Nothing in the tail changes anything: a newer change or a
            // signal cuts it short, and the checks are reported as not run.
            return report;
        }
        match self.runner_after_change(checks) {
            Some(Ok(runner)) => {
                report.verdict = self
                    .hotswap_gate(&runner, observed, plan, &mut report)
                    .await;
            }
            Some(Err(verdict)) => report.verdict = Some(verdict),
            None => {}
        }
        report
    }

    /// The checks' runner, built once the change is made: loading the
    /// system's TLS roots is off the path from a save to live code. A
    /// runner that cannot be built fails the gate.
    fn runner_after_change(&self, checks: bool) -> Option<Result<Runner, Verdict>> {
        checks.then(|| {
            Runner::for_cloud(self.cloud, self.secret_values()).map_err(|e| {
                Verdict::Failed(format!(
                    "the smoke checks could not start ({e}); the release is not verified"
                ))
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(error: Option<&str>, verdict: Option<Verdict>) -> Result<Report, Stop> {
        Ok(Report {
            outcome: Outcome {
                error: error.map(str::to_string),
                ..Default::default()
            },
            verdict,
            ..Default::default()
        })
    }

    #[test]
    fn each_ending_has_one_exit_code() {
        assert_eq!(exit_code(&report(None, None), None), exit::OK);
        assert_eq!(
            exit_code(&report(None, Some(Verdict::Passed)), None),
            exit::OK
        );
        assert_eq!(
            exit_code(&report(None, Some(Verdict::RolledBack)), None),
            exit::SMOKE_ROLLED_BACK
        );
        assert_eq!(
            exit_code(&report(None, Some(Verdict::Failed("x".into()))), None),
            exit::SMOKE_FAILED
        );
        assert_eq!(exit_code(&report(Some("boom"), None), None), exit::FAILURE);
        assert_eq!(
            exit_code(&report(Some("stopped"), None), Some(StopReason::Interrupt)),
            exit::INTERRUPTED
        );
        assert_eq!(
            exit_code(&report(Some("stopped"), None), Some(StopReason::LeaseLost)),
            exit::FAILURE
        );
        assert_eq!(
            exit_code(&Err(Stop::WrongAccount("x".into())), None),
            exit::REFUSED
        );
        assert_eq!(
            exit_code(&Err(Stop::Refused(Vec::new())), None),
            exit::REFUSED
        );
        assert_eq!(
            exit_code(&Err(Stop::Input("x".into())), None),
            exit::INVALID
        );
    }

    #[test]
    fn refusals_and_invalid_input_wait_for_a_change_failures_are_retried() {
        assert_eq!(retry(&report(None, None), None), Retry::NotNeeded);
        assert_eq!(retry(&report(Some("throttled"), None), None), Retry::Later);
        assert_eq!(
            retry(&Err(Stop::Cloud(CloudError::new("X", "y", "z"))), None),
            Retry::Later
        );
        assert_eq!(
            retry(&Err(Stop::Refused(Vec::new())), None),
            Retry::AfterAChange
        );
        assert_eq!(
            retry(&Err(Stop::WrongAccount("x".into())), None),
            Retry::AfterAChange
        );
        assert_eq!(
            retry(&report(None, Some(Verdict::RolledBack)), None),
            Retry::AfterAChange
        );
    }

    #[test]
    fn a_stop_explains_itself_with_the_code_the_policy_gives() {
        let stops: [fn() -> Stop; 4] = [
            || Stop::Input("set X".into()),
            || Stop::WrongAccount("account 1, not 2".into()),
            || Stop::Setup("no roots".into()),
            || Stop::Refused(Vec::new()),
        ];
        for stop in stops {
            assert_eq!(stop().explain().code, exit_code(&Err(stop()), None));
        }
    }
}
