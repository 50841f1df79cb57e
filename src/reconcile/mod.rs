//! The reconcile pass: observe the deployed state, plan each stack, then apply
//! wave by wave (stateful before stateless), feeding the outputs of earlier
//! waves into the parameters of later ones, and bring live function settings
//! in line. Progress goes out as [`Event`]s; printing is the caller's.

mod aliases;
mod apply;
mod bootstrapping;
mod change_set;
mod content;
pub mod destroy;
pub mod drift;
mod drive;
mod events;
mod gate;
pub mod guard;
pub mod heal;
mod hotswap;
mod lease;
mod machines;
mod missing;
mod observe;
mod orphans;
pub mod release;
mod restore;
mod rollback;
mod run;
mod settle;
pub mod status;
mod upload;

pub use apply::public_outputs;
pub use content::ContentPlan;
pub use events::{Event, StackResult};
pub use gate::Verdict;
pub use guard::guarded;
pub use hotswap::{HotswapPlan, Swapped};
pub use lease::{EnvironmentLock, LockError, lock_key};

/// This process as the lock names its holder: `user@host pid N`.
pub fn holder_name() -> String {
    lease::owner(&lease::host())
}
pub use missing::Missing;
pub use observe::{Observed, Orphan, PlannedStack};
pub use rollback::{LeftStack, RollbackReport, Snapshot};
pub use run::{
    Explained, Mode, Report, Retry, Settings, Stop, exit_code, retry, unset_smoke_vars,
    verdict_code,
};

use crate::assets::Assets;
use crate::cloud::Cloud;
use crate::render::RenderedEnvironment;
use serde::Serialize;
use std::collections::BTreeSet;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;

/// Choices the user made for this pass.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Stateful resources the user allows to be replaced or removed, as
    /// `unit.resource` or a logical id.
    pub allow_replace: BTreeSet<String>,
    /// Delete the stacks of this environment that its layout no longer names.
    pub prune: bool,
    /// Who forced this pass past the sync windows, for its record.
    pub forced_by: Option<String>,
    /// Delete those of them that retain nothing (`prune: true`, in the
    /// reconcile loop); the others are reported.
    pub prune_stateless: bool,
    /// Delete and create again a stateful stack whose first create failed.
    pub recreate_failed: bool,
    /// Stacks (full names) to update even when their hash matches: a
    /// rotated secret, which the hash leaves out, reaches them this way.
    pub force: BTreeSet<String>,
    /// Where the desired state comes from (the project's git commit, with
    /// `+dirty`), recorded on every stack the pass applies.
    pub revision: Option<String>,
    /// Put drifted resources back to their templates after applying.
    pub revert_drift: bool,
    /// Drift detected just before this pass (the reconcile loop's): the
    /// heal starts from it instead of detecting again, where the pass
    /// changed no stack.
    pub known_drift: Option<std::sync::Arc<drift::DriftReport>>,
    /// Report resources deleted outside CloudFormation, but do not bring
    /// them back (the reconcile loop's apply: that is healing, which
    /// `self_heal` governs).
    pub leave_missing: bool,
    /// Stack operations in flight at most; 0 for the default.
    pub concurrency: usize,
    /// How stacks are ordered within a tier.
    pub order: crate::schedule::Order,
}

/// Why a pass stopped starting new work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Ctrl-C or SIGTERM.
    Interrupt,
    /// The pass ran out of its time limit.
    Timeout,
    /// Files changed again (watch): a newer pass follows.
    NewerChange,
    /// The environment's lock could not be kept.
    LeaseLost,
}

impl StopReason {
    /// For a line that says why the pass stops.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Interrupt => "interrupted",
            StopReason::Timeout => "out of time",
            StopReason::NewerChange => "a newer change",
            StopReason::LeaseLost => "the lock was lost",
        }
    }
}

/// What can stop a pass from outside its own future (a signal, the lock's
/// renewer): once set, nothing new starts.
#[derive(Debug, Default)]
pub(crate) struct Brake {
    reason: Mutex<Option<StopReason>>,
    /// Stacks with an operation of ours under way.
    in_flight: Mutex<BTreeSet<String>>,
    /// Wakes what waits for a stop ([`Pass::stopped`]).
    notify: tokio::sync::Notify,
}

impl Brake {
    /// The first reason wins, except that an interrupt always shows (the
    /// user's own stop decides the exit code); returns the stacks in flight.
    pub(crate) fn stop(&self, why: StopReason) -> Vec<String> {
        if let Ok(mut reason) = self.reason.lock()
            && (reason.is_none() || why == StopReason::Interrupt)
        {
            *reason = Some(why);
        }
        self.notify.notify_waiters();
        self.in_flight
            .lock()
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn reason(&self) -> Option<StopReason> {
        self.reason.lock().ok().and_then(|r| *r)
    }
}

/// What one pass needs, borrowed for its length.
pub struct Pass<'a> {
    pub cloud: &'a Cloud,
    pub environment: &'a RenderedEnvironment,
    pub assets: &'a Assets,
    pub options: &'a Options,
    events: UnboundedSender<Event>,
    uploads: AtomicUsize,
    brake: Arc<Brake>,
    /// The account guard passed once: no second STS call in the pass.
    account_checked: std::sync::atomic::AtomicBool,
    /// When the pass began, for the time each stack starts at.
    began: std::time::Instant,
    /// What each stack the scheduler started waited for, by stack.
    waited: Mutex<std::collections::BTreeMap<String, Vec<String>>>,
    /// Stacks whose code went up when the pass began, and how: one that
    /// could not be uploaded fails when its turn comes.
    uploaded: Mutex<std::collections::BTreeMap<String, Result<(), crate::cloud::CloudError>>>,
    /// Why each release this pass aborted was aborted.
    aborted: Mutex<Vec<String>>,
}

impl<'a> Pass<'a> {
    pub fn new(
        cloud: &'a Cloud,
        environment: &'a RenderedEnvironment,
        assets: &'a Assets,
        options: &'a Options,
        events: UnboundedSender<Event>,
    ) -> Self {
        Pass {
            cloud,
            environment,
            assets,
            options,
            events,
            uploads: AtomicUsize::new(0),
            brake: Arc::default(),
            account_checked: Default::default(),
            began: std::time::Instant::now(),
            waited: Mutex::default(),
            uploaded: Mutex::default(),
            aborted: Mutex::default(),
        }
    }

    /// Stops starting new work; what runs finishes. Returns the stacks in
    /// flight, to report them. The first reason given is the one kept.
    pub fn stop(&self, why: StopReason) -> Vec<String> {
        self.brake.stop(why)
    }

    /// Stack operations in flight at most.
    pub(crate) fn concurrency(&self) -> usize {
        match self.options.concurrency {
            0 => crate::schedule::DEFAULT_CONCURRENCY,
            n => n,
        }
    }

    pub fn is_stopping(&self) -> bool {
        self.brake.reason().is_some()
    }

    /// Why the pass stopped, if it did.
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.brake.reason()
    }

    /// Resolves once the pass is asked to stop: for the waits that change
    /// nothing and may be cut short.
    pub async fn stopped(&self) {
        let notified = self.brake.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.is_stopping() {
            return;
        }
        notified.await;
    }

    pub(crate) fn track(&self, stack: &str, running: bool) {
        if let Ok(mut set) = self.brake.in_flight.lock() {
            if running {
                set.insert(stack.to_string());
            } else {
                set.remove(stack);
            }
        }
    }

    /// Reports that an operation on `stack` starts now, with what the
    /// schedule made it wait for.
    pub(crate) fn emit_start(&self, stack: &str, action: crate::plan::Action) {
        let waited_for = self
            .waited
            .lock()
            .ok()
            .and_then(|w| w.get(stack).cloned())
            .unwrap_or_default();
        self.emit(Event::StackStart {
            stack: stack.to_string(),
            action,
            at: self.began.elapsed().as_secs_f64(),
            waited_for,
        });
    }

    /// Records what the schedule made `stack` wait for.
    pub(crate) fn note_wait(&self, stack: &str, waited_for: Vec<String>) {
        if let Ok(mut waited) = self.waited.lock() {
            waited.insert(stack.to_string(), waited_for);
        }
    }

    /// The values of the environment's secret params, as the deploying
    /// process has them: masked wherever a response or a drift could show
    /// them.
    pub fn secret_values(&self) -> Vec<String> {
        secret_values(self.environment)
    }

    pub(crate) fn emit(&self, event: Event) {
        // The receiver lives as long as the command; a send fails only when it
        // is already gone, and then nobody is listening.
        let _ = self.events.send(event);
    }
}

/// Why a pass must not touch its target.
pub enum AccountCheck {
    /// The account or region differs: the message shows both values.
    Wrong(String),
    Cloud(crate::cloud::CloudError),
}

impl Pass<'_> {
    /// The account guard, before any mutating call: on an AWS target, the
    /// caller's account (STS) and the client's region must be the target's.
    pub async fn check_account(&self) -> Result<(), AccountCheck> {
        use std::sync::atomic::Ordering;
        if !matches!(self.environment.target, crate::spec::Target::Aws { .. })
            || self.account_checked.load(Ordering::SeqCst)
        {
            return Ok(());
        }
        let account = crate::cloud::identity::caller_account(self.cloud)
            .await
            .map_err(AccountCheck::Cloud)?;
        crate::plan::account::check(&self.environment.target, &account, &self.cloud.region)
            .map_err(|message| match (&self.environment.target, &self.cloud.endpoint) {
                // An emulator acts as the account its access key id names.
                (crate::spec::Target::Aws { account: wanted, .. }, Some(_)) if *wanted != account => {
                    format!(
                        "{message}. Against an emulator endpoint, act as that account with AWS_ACCESS_KEY_ID={wanted}"
                    )
                }
                _ => message,
            })
            .map_err(AccountCheck::Wrong)?;
        self.account_checked.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// The values of `environment`'s secret params that the deploying process
/// holds (the environment variables its NoEcho parameters read).
pub fn secret_values(environment: &RenderedEnvironment) -> Vec<String> {
    let mut values: Vec<String> = environment
        .stacks
        .iter()
        .flat_map(|s| &s.parameters)
        .filter_map(|p| match &p.source {
            crate::render::ParameterSource::Env { var } => std::env::var(var).ok(),
            _ => None,
        })
        .filter(|v| !v.is_empty())
        .collect();
    values.sort();
    values.dedup();
    values
}

/// Counts for the final summary.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    pub refused: usize,
    /// Stacks not attempted: an earlier wave failed, or the pass stopped.
    pub skipped: usize,
    /// The pass was stopped (Ctrl-C or its time limit) before it finished.
    pub stopped: bool,
    pub uploads: usize,
    pub settings_fixed: usize,
    /// Drifted resources put back in sync, and those that are not.
    pub healed: usize,
    pub not_healed: usize,
    /// Content files put into buckets, and objects deleted from them.
    pub objects_put: usize,
    pub objects_deleted: usize,
    /// Orphan stacks deleted (`--prune`).
    pub pruned: usize,
    /// Hotswapped functions brought back in line with CloudFormation.
    pub hotswaps_settled: usize,
    /// Stacks put back after failed smoke checks (restored or deleted).
    pub rolled_back: usize,
    /// Releases aborted during their shift (an alarm, a check, a stop):
    /// their stacks are back where they were.
    pub releases_aborted: usize,
    /// The longest chain of stack operations (by what each stack reads and
    /// the tiers) with the durations they took: no order could be faster.
    pub critical_path_ms: u64,
    /// How long the stack operations took, first start to last end.
    pub stacks_ms: u64,
    /// The first failure, as a user should read it.
    pub error: Option<String>,
    /// Stacks this pass created or updated (the bootstrap stack included).
    #[serde(skip)]
    pub changed: std::collections::BTreeSet<String>,
    /// Functions whose reserved concurrency this pass wrote.
    #[serde(skip)]
    pub settings_written: Vec<String>,
    /// The stacks as they stand after the pass.
    #[serde(skip)]
    pub deployed: std::collections::BTreeMap<String, crate::deployed::DeployedStack>,
}

impl Outcome {
    /// `, 2 object(s) put, 1 deleted` when the pass synced bucket content.
    pub fn content_text(&self) -> String {
        let mut text = match (self.objects_put, self.objects_deleted) {
            (0, 0) => String::new(),
            (put, 0) => format!(", {put} object(s) put"),
            (put, deleted) => format!(", {put} object(s) put, {deleted} deleted"),
        };
        if self.healed + self.not_healed > 0 {
            text.push_str(&format!(
                ", {} drifted resource(s) healed, {} not",
                self.healed, self.not_healed
            ));
        }
        text
    }

    pub fn ok(&self) -> bool {
        self.failed == 0
            && self.refused == 0
            && self.releases_aborted == 0
            && self.error.is_none()
            && !self.stopped
    }

    /// Counts how one stack's apply ended.
    fn count(&mut self, result: StackResult) {
        match result {
            StackResult::Created => self.created += 1,
            StackResult::Updated => self.updated += 1,
            StackResult::Unchanged => self.unchanged += 1,
            StackResult::Refused => self.refused += 1,
            StackResult::RolledBack => self.releases_aborted += 1,
            _ => self.failed += 1,
        }
    }
}
