//! The events a pass reports, one JSON object per line with `--output json`.

use crate::cloud::lock::Holder;
use crate::deployed::{ChangeSetChange, StackEvent, StackResource};
use crate::plan::guard::Hazard;
use crate::plan::{Action, HotswapDrift, SettingDrift, StackPlan};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StackResult {
    Created,
    Updated,
    Unchanged,
    Deleted,
    /// Left in place on purpose (a stateful stack without `--include-stateful`).
    Kept,
    Failed,
    Refused,
    /// Back on the template it had before the pass.
    RolledBack,
}

#[derive(Clone, Debug, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// One stack's plan.
    #[serde(rename = "stack_plan")]
    Plan(StackPlan),
    /// A live function setting that differs from the environment.
    Drift(SettingDrift),
    /// A function running hotswapped code CloudFormation does not hold.
    HotswapDrift(HotswapDrift),
    /// A function updated through Lambda, skipping CloudFormation.
    Hotswapped(super::hotswap::Swapped),
    /// A hotswapped function brought back in line with CloudFormation.
    HotswapSettled(super::hotswap::Swapped),
    /// A drifted resource, and what healing it did.
    Heal(super::heal::Heal),
    /// What syncing a bucket's content will do.
    ContentPlan(super::ContentPlan),
    /// A bucket's content, brought in line with its folder.
    ContentSynced {
        stack: String,
        resource: String,
        bucket: String,
        put: Vec<String>,
        deleted: Vec<String>,
        unchanged: usize,
        kept: usize,
    },
    Upload {
        key: String,
        bytes: usize,
        uploaded: bool,
    },
    StackStart {
        stack: String,
        action: Action,
        /// Seconds into the pass.
        at: f64,
        /// The stacks it waited for (what it reads, or the tier before it).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        waited_for: Vec<String>,
    },
    /// The changes CloudFormation computed, with replacement flags.
    ChangeSet {
        stack: String,
        change_set: String,
        changes: Vec<ChangeSetChange>,
    },
    StackEvent {
        stack: String,
        #[serde(flatten)]
        change: StackEvent,
    },
    StackEnd {
        stack: String,
        result: StackResult,
        status: String,
        seconds: f64,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        outputs: BTreeMap<String, String>,
    },
    /// A retained resource the pass would replace or remove, refused.
    Refused(Hazard),
    /// A stack of this environment that its layout no longer names.
    Orphan {
        stack: String,
        status: String,
        /// Logical ids it retains.
        retained: Vec<String>,
        /// `kept` without `--prune`, `delete` with it.
        action: &'static str,
    },
    /// Another deployer holds the environment's lock; this pass waits.
    LockWait {
        key: String,
        holder: Holder,
        /// Seconds until it lapses, by the store's clock.
        expires_in: u64,
    },
    /// The lock could not be renewed (taken over, deleted, or unreachable
    /// until it lapsed): the pass starts nothing new.
    LeaseLost { key: String, reason: String },
    /// Termination protection turned on (a stateful stack of a protected
    /// environment).
    Protected { stack: String },
    /// The pass stops starting new work; the stacks in flight finish
    /// their operation.
    Stopping {
        reason: super::StopReason,
        in_flight: Vec<String>,
    },
    /// A live setting written to match the environment.
    SettingApplied {
        stack: String,
        function: String,
        setting: &'static str,
        value: Option<i64>,
    },
    /// The checks of one phase (`release`, or `rollback` after one) ended.
    Smoke {
        phase: &'static str,
        passed: usize,
        failed: usize,
        seconds: f64,
        #[serde(skip)]
        results: Vec<crate::smoke::CheckResult>,
    },
    /// One check's result.
    SmokeCheck {
        phase: &'static str,
        #[serde(flatten)]
        result: crate::smoke::CheckResult,
    },
    /// The rollback after failed checks ended.
    Rollback {
        complete: bool,
        restored: Vec<String>,
        deleted: Vec<String>,
        left: Vec<super::LeftStack>,
    },
    /// Checks a pass owes: `owed` (an earlier pass died in its gate; this
    /// one runs them), `recorded` (about to run, written down first),
    /// `unrecorded` (about to run, but the record failed: a crash now
    /// would lose them), `kept` (owed, and not run by this command).
    ChecksOwed {
        state: &'static str,
        revision: Option<String>,
        by: Option<String>,
        stacks: Vec<String>,
        reason: Option<String>,
    },
    /// Resources deleted outside CloudFormation, brought back: the stack is
    /// first updated without them and what refers to them (`taken_out`),
    /// then with its whole template.
    Restoring {
        stack: String,
        missing: Vec<String>,
        taken_out: Vec<String>,
    },
    /// A function's release: `shifting` (the new version takes `weight`
    /// of the traffic and is watched), `done` (all of it), `aborted`
    /// (back on the version it served, and why), `resumed` (a pass cut
    /// short during it left `weight`; it starts again).
    Release {
        stack: String,
        function: String,
        alias: String,
        from_version: String,
        to_version: String,
        weight: f64,
        state: &'static str,
        /// How long this step is held (`shifting`), in seconds.
        #[serde(skip_serializing_if = "Option::is_none")]
        hold_s: Option<f64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Resources kept by a destroy (Retain policy, or a stack left alone).
    Retained {
        stack: String,
        #[serde(flatten)]
        resource: StackResource,
    },
}
