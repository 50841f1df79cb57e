//! Rollback after failed smoke checks: every stack the pass changed goes
//! back to the template, parameters and tags it had before, stateless first.
//! A stack the pass created is deleted if it is stateless. A stateful stack
//! goes back only where that would neither replace nor remove a retained
//! resource; otherwise it is left as it is, and reported.

use super::change_set::{ChangeSetRun, change_set_name};
use super::drive::{Start, drive};
use super::observe::{Observed, retained_ids};
use super::{Event, Outcome, Pass, StackResult};
use crate::cloud::stacks::ChangeSetRequest;
use crate::cloud::{CloudError, functions, stacks};
use crate::deployed::DeployedStack;
use crate::plan::Action;
use crate::plan::guard::{self, Template};
use crate::schedule;
use crate::spec::Tier;
use futures_util::future::join_all;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// What CloudFormation returns in place of a NoEcho parameter's value.
const MASKED: &str = "****";

/// A stack as it was before the pass.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Before {
    /// The pass created it.
    Absent,
    Deployed {
        template: String,
        parameters: BTreeMap<String, String>,
        tags: BTreeMap<String, String>,
    },
    /// Not recorded, with the reason.
    Unknown(String),
}

/// What a pass is about to change, as it was: recorded before applying,
/// and kept in the environment's state while the checks it owes have not
/// ended, so that a pass that dies in its gate leaves the next one what
/// to roll back to.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Snapshot {
    stacks: BTreeMap<String, Before>,
    /// The asset bucket, for templates too large to send inline.
    bucket: Option<String>,
    /// Live reserved concurrency before the pass, by function name.
    settings: BTreeMap<String, Option<i64>>,
    /// Stacks an earlier pass changed and did not verify: they go back with
    /// the ones this pass changes.
    #[serde(default)]
    carried: BTreeSet<String>,
}

impl Snapshot {
    /// One stack as it was (a release put back).
    pub(super) fn of_stack(
        name: &str,
        template: String,
        deployed: &crate::deployed::DeployedStack,
        bucket: Option<&str>,
    ) -> Snapshot {
        let before = Before::Deployed {
            template,
            parameters: deployed.parameters.clone(),
            tags: deployed.tags.clone(),
        };
        Snapshot {
            stacks: BTreeMap::from([(name.to_string(), before)]),
            bucket: bucket.map(str::to_string),
            ..Snapshot::default()
        }
    }

    /// Records every stack the observed plan changes. Observe fetched the
    /// templates of the stacks it updates; nothing more is read.
    pub fn take(observed: &Observed) -> Snapshot {
        let mut stacks = BTreeMap::new();
        for p in &observed.planned {
            if !p.plan.action.changes() {
                continue;
            }
            let deployed = observed.stacks.get(&p.stack.name);
            let before = match (p.plan.action, &p.deployed_template, deployed) {
                (Action::Create | Action::Recreate, _, _) => Before::Absent,
                (_, Some(template), Some(d)) => Before::Deployed {
                    template: template.clone(),
                    parameters: d.parameters.clone(),
                    tags: d.tags.clone(),
                },
                _ => Before::Unknown(
                    "its template before the pass was not recorded (it was busy or failed when the pass began)".into(),
                ),
            };
            stacks.insert(p.stack.name.clone(), before);
        }
        let settings = observed
            .live
            .values()
            .map(|(function, value)| (function.clone(), *value))
            .collect();
        Snapshot {
            stacks,
            settings,
            bucket: observed.asset_bucket.clone(),
            carried: BTreeSet::new(),
        }
    }

    /// This pass's snapshot under `owed`, an earlier pass's whose checks
    /// never ended: where both hold a stack, the earlier state wins (the
    /// last one that was verified), and its stacks go back too.
    pub fn carrying(mut self, owed: Snapshot) -> Snapshot {
        for (name, before) in owed.stacks {
            self.carried.insert(name.clone());
            self.stacks.insert(name, before);
        }
        self.carried.extend(owed.carried);
        self.settings.extend(owed.settings);
        self.bucket = self.bucket.or(owed.bucket);
        self
    }

    /// The stacks an earlier, unverified pass changed.
    pub fn carried(&self) -> &BTreeSet<String> {
        &self.carried
    }

    /// Whether a rollback puts `stack` back: this pass changed it, or an
    /// earlier pass did and was never verified.
    fn undoes(&self, stack: &str, changed: &BTreeSet<String>) -> bool {
        changed.contains(stack) || self.carried.contains(stack)
    }
}

/// A stack the rollback did not put back, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftStack {
    pub stack: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct RollbackReport {
    /// Stacks back on their previous template.
    pub restored: Vec<String>,
    /// Stacks the pass created, deleted again.
    pub deleted: Vec<String>,
    /// Stacks left as the pass made them.
    pub left: Vec<LeftStack>,
    /// Live settings written back.
    pub settings_restored: usize,
}

impl RollbackReport {
    pub fn complete(&self) -> bool {
        self.left.is_empty()
    }
}

/// How one stack's rollback ended.
pub(super) enum Undo {
    Restored(Option<Box<DeployedStack>>),
    Deleted,
    /// Left on purpose (data would be lost): later stacks still go back.
    Kept(String),
    /// The rollback failed: stacks under it stay as they are.
    Failed(String),
}

impl Pass<'_> {
    /// Puts back what the pass changed, by the deploy's schedule reversed.
    pub async fn roll_back(&self, snapshot: &Snapshot, outcome: &mut Outcome) -> RollbackReport {
        let mut report = RollbackReport::default();
        let mut failed: Option<String> = None;
        // Readers are put back before what they read; stacks the pass did
        // not change are done at once.
        let (order, mut sched) = self.undo_schedule();
        /// What the steps of the drive share.
        struct Progress<'a> {
            outcome: &'a mut Outcome,
            report: &'a mut RollbackReport,
            failed: &'a mut Option<String>,
        }
        let mut progress = Progress {
            outcome,
            report: &mut report,
            failed: &mut failed,
        };
        drive(
            &mut sched,
            &mut progress,
            || false,
            |progress, sched, i| {
                let name = &order[i].name;
                if !snapshot.undoes(name, &progress.outcome.changed) {
                    return Start::Settled(true);
                }
                self.note_wait(name, sched.waited_for(i));
                Start::Run(async move { self.roll_back_stack(name, snapshot).await })
            },
            |progress, i, result| {
                let name = &order[i].name;
                let left = |reason| LeftStack {
                    stack: name.clone(),
                    reason,
                };
                match result.unwrap_or_else(|e| Undo::Failed(e.to_string())) {
                    Undo::Restored(d) => {
                        progress.report.restored.push(name.clone());
                        if let Some(d) = d {
                            progress.outcome.deployed.insert(name.clone(), *d);
                        }
                        true
                    }
                    Undo::Deleted => {
                        progress.report.deleted.push(name.clone());
                        progress.outcome.deployed.remove(name);
                        true
                    }
                    Undo::Kept(reason) => {
                        progress.report.left.push(left(reason));
                        true
                    }
                    Undo::Failed(reason) => {
                        progress.failed.get_or_insert_with(|| name.clone());
                        progress.report.left.push(left(reason));
                        false
                    }
                }
            },
        )
        .await;
        if let Some(first) = &failed {
            for i in (0..sched.len()).filter(|&i| sched.state(i) == schedule::State::Skipped) {
                let name = &order[i].name;
                if snapshot.undoes(name, &outcome.changed) {
                    report.left.push(LeftStack {
                        stack: name.clone(),
                        reason: format!("not rolled back: the rollback of {first} failed"),
                    });
                }
            }
        }
        if failed.is_none() {
            report.settings_restored = self.restore_settings(snapshot, outcome, &mut report).await;
        }
        outcome.rolled_back = report.restored.len() + report.deleted.len();
        self.emit(Event::Rollback {
            complete: report.complete(),
            restored: report.restored.clone(),
            deleted: report.deleted.clone(),
            left: report.left.clone(),
        });
        report
    }

    /// Writes back the reserved concurrency the pass changed.
    async fn restore_settings(
        &self,
        snapshot: &Snapshot,
        outcome: &Outcome,
        report: &mut RollbackReport,
    ) -> usize {
        let writes: Vec<(&String, Option<i64>)> = outcome
            .settings_written
            .iter()
            .filter_map(|f| snapshot.settings.get(f).map(|v| (f, *v)))
            .collect();
        let results = join_all(
            writes
                .iter()
                .map(|(f, v)| functions::set_reserved_concurrency(self.cloud, f, *v)),
        )
        .await;
        let mut restored = 0;
        for ((function, _), result) in writes.iter().zip(results) {
            match result {
                Ok(()) => restored += 1,
                Err(e) => report.left.push(LeftStack {
                    stack: (*function).clone(),
                    reason: format!("reserved concurrency not restored: {e}"),
                }),
            }
        }
        restored
    }

    pub(super) async fn roll_back_stack(
        &self,
        name: &str,
        snapshot: &Snapshot,
    ) -> Result<Undo, CloudError> {
        let started = Instant::now();
        let Some(stack) = self.environment.stack(name) else {
            return Ok(Undo::Kept("not in the environment's layout".into()));
        };
        let end = |result: StackResult, status: String, reason: Option<String>| {
            self.emit(Event::StackEnd {
                stack: name.to_string(),
                result,
                status,
                seconds: started.elapsed().as_secs_f64(),
                reason,
                outputs: BTreeMap::new(),
            });
        };
        let before = snapshot
            .stacks
            .get(name)
            .cloned()
            .unwrap_or(Before::Unknown(
                "its state before the pass was not recorded".into(),
            ));
        let (template, parameters, tags) = match before {
            Before::Unknown(reason) => {
                let reason = format!("left as deployed: {reason}");
                end(
                    StackResult::Kept,
                    "NOT_ROLLED_BACK".into(),
                    Some(reason.clone()),
                );
                return Ok(Undo::Kept(reason));
            }
            Before::Absent if stack.tier == Tier::Stateful => {
                let reason = "left as deployed: created by this pass, and stateful; delete it yourself if it holds nothing you need".to_string();
                end(
                    StackResult::Kept,
                    "NOT_ROLLED_BACK".into(),
                    Some(reason.clone()),
                );
                return Ok(Undo::Kept(reason));
            }
            Before::Absent => {
                self.emit_start(name, Action::RollBack);
                self.track(name, true);
                let deleted = self.delete_created(name).await;
                self.track(name, false);
                deleted?;
                end(StackResult::Deleted, "DELETE_COMPLETE".into(), None);
                return Ok(Undo::Deleted);
            }
            Before::Deployed {
                template,
                parameters,
                tags,
            } => (template, parameters, tags),
        };
        let previous: Json = serde_json::from_str(&template).unwrap_or(Json::Null);
        if stack.tier == Tier::Stateful {
            let current: Json = serde_json::from_str(&stack.template).unwrap_or(Json::Null);
            let hazards = guard::hazards(
                &[Template {
                    stack: name,
                    body: &current,
                }],
                &[Template {
                    stack: name,
                    body: &previous,
                }],
                &BTreeSet::new(),
            );
            if let Some(h) = hazards.first() {
                let reason = format!(
                    "left as deployed: going back would {} {} ({}): {}",
                    h.action, h.resource, h.resource_type, h.cause
                );
                end(
                    StackResult::Kept,
                    "NOT_ROLLED_BACK".into(),
                    Some(reason.clone()),
                );
                return Ok(Undo::Kept(reason));
            }
        }
        let (values, keep): (BTreeMap<String, String>, BTreeMap<String, String>) =
            parameters.into_iter().partition(|(_, v)| v != MASKED);
        let keep: Vec<String> = keep.into_keys().collect();
        let previous_retained = retained_ids(&previous);
        self.emit_start(name, Action::RollBack);
        self.track(name, true);
        let run = self
            .run_change_set(
                ChangeSetRequest {
                    stack: name,
                    name: &change_set_name(),
                    create: false,
                    template: &template,
                    parameters: &values,
                    keep_previous: &keep,
                    tags: &tags,
                    revert_drift: false,
                    bucket: snapshot.bucket.as_deref(),
                },
                false,
                |changes| {
                    self.destroying_changes(stack, &previous_retained, &BTreeSet::new(), changes)
                },
            )
            .await;
        self.track(name, false);
        Ok(match run? {
            ChangeSetRun::Empty(d) => {
                end(StackResult::RolledBack, "UNCHANGED".into(), None);
                Undo::Restored(d.map(Box::new))
            }
            ChangeSetRun::Executed {
                status,
                failure: None,
                deployed,
            } => {
                end(StackResult::RolledBack, status, None);
                Undo::Restored(deployed.map(Box::new))
            }
            ChangeSetRun::Executed {
                status,
                failure: Some(reason),
                ..
            } => {
                let reason = format!("the rollback failed: {reason}");
                end(StackResult::Failed, status, Some(reason.clone()));
                Undo::Failed(reason)
            }
            ChangeSetRun::Rejected(reason) => {
                let reason = format!("CloudFormation refused the rollback: {reason}");
                end(
                    StackResult::Failed,
                    "CHANGE_SET_FAILED".into(),
                    Some(reason.clone()),
                );
                Undo::Failed(reason)
            }
            ChangeSetRun::Destroys(hazards) => {
                let h = &hazards[0];
                let reason = format!(
                    "left as deployed: going back would {} {} ({})",
                    h.action, h.resource, h.resource_type
                );
                end(
                    StackResult::Kept,
                    "NOT_ROLLED_BACK".into(),
                    Some(reason.clone()),
                );
                Undo::Kept(reason)
            }
            ChangeSetRun::NotExecuted => {
                let reason = "the rollback was not executed".to_string();
                end(
                    StackResult::Failed,
                    "NOT_EXECUTED".into(),
                    Some(reason.clone()),
                );
                Undo::Failed(reason)
            }
        })
    }

    async fn delete_created(&self, name: &str) -> Result<(), CloudError> {
        stacks::delete(self.cloud, name).await?;
        self.wait_until_gone(name).await
    }
}
