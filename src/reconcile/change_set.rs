//! One stack's change set: create it, wait until it is ready, check it for
//! data loss, execute it and stream its events until the stack settles; and
//! the other waits a stack operation needs (someone else's operation, a
//! continued rollback, a delete).

use super::{Event, Pass};
use crate::cloud::CloudError;
use crate::cloud::stacks::{self, ChangeSetOutcome, ChangeSetRequest};
use crate::deployed::Condition;
use crate::deployed::{
    ChangeSetChange, DeployedStack, StackEvent, condition_of, is_failure, is_terminal,
};
use crate::plan::Action;
use crate::plan::guard::{Hazard, replacement_cause, replacing_properties};
use crate::render::RenderedStack;
use crate::retry::{Backoff, Growth, Jitter, Policy};
use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long to wait for an operation someone else started.
const WAIT_FOR_OTHERS: Duration = Duration::from_secs(30 * 60);
/// How long one stack operation of ours may take.
const STACK_OPERATION_LIMIT: Duration = Duration::from_secs(60 * 60);

/// How a change set run ended.
pub(super) enum ChangeSetRun {
    /// CloudFormation found nothing to change.
    Empty(Option<DeployedStack>),
    /// CloudFormation could not create the change set.
    Rejected(String),
    /// It would replace or remove a retained resource; deleted unexecuted.
    Destroys(Vec<Hazard>),
    /// The pass is stopping; deleted unexecuted.
    NotExecuted,
    /// Executed; `failure` says why it did not settle, if it did not.
    Executed {
        status: String,
        failure: Option<String>,
        deployed: Option<DeployedStack>,
    },
}

pub(super) fn change_set_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("driftless-{millis}")
}

/// How often a settling stack is polled: a twentieth of the time waited
/// so far, from 50 ms to 2 s. A poll's lateness lands on the critical
/// path, stack after stack; a 5-minute operation takes about 200 polls.
const POLL: Policy = Policy {
    first: Duration::from_millis(50),
    cap: Duration::from_secs(2),
    growth: Growth::Proportional(20),
    jitter: Jitter::None,
};

impl Pass<'_> {
    /// Change set → data-loss check → execute → stream events until the
    /// stack settles. `destroys` names the changes that must not run; a
    /// stoppable run is not executed once the pass is stopping (a rollback
    /// always runs).
    /// A change set of `planned`'s stack to `template`, with the plan's
    /// parameters and `tags`, under the data-loss guard: every update a
    /// pass makes to a stack of its layout.
    pub(super) async fn update_stack(
        &self,
        planned: &super::observe::PlannedStack,
        plan: &crate::plan::StackPlan,
        template: &str,
        tags: &std::collections::BTreeMap<String, String>,
        create: bool,
        bucket: Option<&str>,
    ) -> Result<ChangeSetRun, CloudError> {
        let request = ChangeSetRequest {
            stack: &planned.stack.name,
            name: &change_set_name(),
            create,
            template,
            parameters: &plan.parameters.values,
            keep_previous: &[],
            tags,
            revert_drift: false,
            bucket,
        };
        self.run_change_set(request, true, |changes| {
            self.destroying_changes(
                &planned.stack,
                &planned.deployed_retained,
                &self.options.allow_replace,
                changes,
            )
        })
        .await
    }

    pub(super) async fn run_change_set(
        &self,
        request: ChangeSetRequest<'_>,
        stoppable: bool,
        destroys: impl Fn(&[ChangeSetChange]) -> Vec<Hazard>,
    ) -> Result<ChangeSetRun, CloudError> {
        let name = request.stack;
        let change_set = request.name;
        let cfn = self.cloud;
        stacks::create_change_set(cfn, &request).await?;
        // The events the stack has so far are read while CloudFormation
        // computes the change set: only newer ones are this operation's.
        let (computed, seen) = tokio::join!(
            stacks::wait_change_set(cfn, name, change_set),
            stacks::events(cfn, name)
        );
        let changes = match computed? {
            ChangeSetOutcome::Ready(changes) => changes,
            ChangeSetOutcome::Empty => {
                stacks::delete_change_set(cfn, name, change_set).await?;
                return Ok(ChangeSetRun::Empty(stacks::describe(cfn, name).await?));
            }
            ChangeSetOutcome::Failed(reason) => {
                stacks::delete_change_set(cfn, name, change_set).await?;
                return Ok(ChangeSetRun::Rejected(reason));
            }
        };
        self.emit(Event::ChangeSet {
            stack: name.to_string(),
            change_set: change_set.to_string(),
            changes: changes.clone(),
        });
        let refused = destroys(&changes);
        if !refused.is_empty() {
            stacks::delete_change_set(cfn, name, change_set).await?;
            for hazard in &refused {
                self.emit(Event::Refused(hazard.clone()));
            }
            return Ok(ChangeSetRun::Destroys(refused));
        }
        if stoppable && self.is_stopping() {
            stacks::delete_change_set(cfn, name, change_set).await?;
            return Ok(ChangeSetRun::NotExecuted);
        }
        let seen: HashSet<String> = seen?.into_iter().map(|e| e.id).collect();
        stacks::execute_change_set(cfn, name, change_set).await?;
        let events = self.stream_events(name, name, seen).await?;
        let d = stacks::describe(cfn, name).await?;
        let status = d.as_ref().map(|d| d.status.clone()).unwrap_or_default();
        let failure =
            (is_failure(&status) || condition_of(&status) != Condition::Settled).then(|| {
                first_failure(&events)
                    .map(|e| {
                        format!(
                            "{} ({}) {}: {}",
                            e.logical_id,
                            e.resource_type,
                            e.status,
                            e.reason.as_deref().unwrap_or("no reason given")
                        )
                    })
                    .or_else(|| d.as_ref().and_then(|d| d.status_reason.clone()))
                    .unwrap_or_else(|| format!("the stack ended in {status}"))
            });
        Ok(ChangeSetRun::Executed {
            status,
            failure,
            deployed: d,
        })
    }

    /// Changes that would replace or remove a retained resource (retained by
    /// `stack`'s template or one of `also_retained`) and that `allow` does not
    /// name.
    pub(super) fn destroying_changes(
        &self,
        stack: &RenderedStack,
        also_retained: &[String],
        allow: &BTreeSet<String>,
        changes: &[ChangeSetChange],
    ) -> Vec<Hazard> {
        let retained = |id: &str| {
            stack
                .resources
                .iter()
                .any(|r| r.logical_id == id && r.retain)
                || also_retained.iter().any(|r| r == id)
        };
        changes
            .iter()
            .filter(|c| {
                retained(&c.logical_id) && c.destroys(&replacing_properties(&c.resource_type))
            })
            .filter_map(|c| {
                let label = stack.resource_label(&c.logical_id);
                if allow.contains(&c.logical_id) || allow.contains(&label) {
                    return None;
                }
                let (action, cause) = if c.action == "Remove" {
                    (
                        "remove",
                        "CloudFormation's change set would delete it".to_string(),
                    )
                } else {
                    ("replace", replacement_cause(&c.recreating))
                };
                Some(Hazard {
                    stack: stack.name.clone(),
                    logical_id: c.logical_id.clone(),
                    resource_type: c.resource_type.clone(),
                    action,
                    properties: c.recreating.clone(),
                    cause,
                    flag: format!("--allow-replace {label}"),
                    resource: label,
                })
            })
            .collect()
    }

    /// Emits the stack's new events, oldest first, until the stack's own
    /// event reaches a final status. Returns the new events.
    pub(super) async fn stream_events(
        &self,
        stack_ref: &str,
        name: &str,
        mut seen: HashSet<String>,
    ) -> Result<Vec<StackEvent>, CloudError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(POLL);
        let mut all = Vec::new();
        loop {
            let page = stacks::events(self.cloud, stack_ref).await?;
            let mut fresh: Vec<StackEvent> =
                page.into_iter().filter(|e| !seen.contains(&e.id)).collect();
            fresh.reverse();
            let mut done = false;
            for event in fresh {
                seen.insert(event.id.clone());
                if event.is_stack() && event.logical_id == name && is_terminal(&event.status) {
                    done = true;
                }
                self.emit(Event::StackEvent {
                    stack: name.to_string(),
                    change: event.clone(),
                });
                all.push(event);
            }
            if done {
                return Ok(all);
            }
            if started.elapsed() > STACK_OPERATION_LIMIT {
                return Err(CloudError::new(
                    "DescribeStackEvents",
                    name,
                    "the stack operation did not finish within an hour; it goes on in CloudFormation, deploy again to pick it up",
                ));
            }
            backoff.wait().await;
        }
    }

    /// Continues an update's rollback and waits for it to end.
    pub(super) async fn continue_rollback(
        &self,
        name: &str,
    ) -> Result<Option<DeployedStack>, CloudError> {
        let seen: HashSet<String> = stacks::events(self.cloud, name)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        self.emit_start(name, Action::ContinueRollback);
        stacks::continue_rollback(self.cloud, name).await?;
        self.stream_events(name, name, seen).await?;
        stacks::describe(self.cloud, name).await
    }

    pub(super) async fn wait_for_others(
        &self,
        name: &str,
    ) -> Result<Option<DeployedStack>, CloudError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(POLL);
        loop {
            let d = stacks::describe(self.cloud, name).await?;
            match &d {
                Some(s) if !is_terminal(&s.status) => {}
                _ => return Ok(d),
            }
            if started.elapsed() > WAIT_FOR_OTHERS {
                return Ok(d);
            }
            backoff.wait().await;
        }
    }

    pub(super) async fn wait_until_gone(&self, name: &str) -> Result<(), CloudError> {
        let started = Instant::now();
        let mut backoff = Backoff::new(POLL);
        loop {
            match stacks::describe(self.cloud, name).await? {
                None => return Ok(()),
                Some(s) if s.status == "DELETE_COMPLETE" => return Ok(()),
                Some(s) if s.status == "DELETE_FAILED" => {
                    return Err(CloudError::new(
                        "DeleteStack",
                        name,
                        s.status_reason.unwrap_or_else(|| "DELETE_FAILED".into()),
                    ));
                }
                Some(_) => {}
            }
            if started.elapsed() > STACK_OPERATION_LIMIT {
                return Err(CloudError::new(
                    "DeleteStack",
                    name,
                    "still deleting after an hour",
                ));
            }
            backoff.wait().await;
        }
    }
}

/// The first resource that failed, skipping the cancellations it caused.
pub(super) fn first_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    events
        .iter()
        .filter(|e| e.status.ends_with("_FAILED") && !e.is_stack())
        .find(|e| !e.reason.as_deref().is_some_and(|r| r.contains("cancelled")))
        .or_else(|| events.iter().find(|e| e.status.ends_with("_FAILED")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, logical: &str, status: &str, reason: Option<&str>) -> StackEvent {
        StackEvent {
            id: id.into(),
            logical_id: logical.into(),
            physical_id: None,
            resource_type: if logical == "s" {
                "AWS::CloudFormation::Stack".into()
            } else {
                "AWS::Lambda::Function".into()
            },
            status: status.into(),
            reason: reason.map(str::to_string),
            timestamp: String::new(),
        }
    }

    #[test]
    fn the_first_failure_is_the_cause_not_a_cancellation() {
        let events = vec![
            event("1", "s", "UPDATE_IN_PROGRESS", None),
            event("2", "B", "UPDATE_FAILED", Some("Resource update cancelled")),
            event("3", "A", "UPDATE_FAILED", Some("MemorySize out of range")),
            event("4", "s", "UPDATE_ROLLBACK_COMPLETE", None),
        ];
        let first = first_failure(&events).map(|e| e.logical_id.as_str());
        assert_eq!(first, Some("A"));
    }
}
