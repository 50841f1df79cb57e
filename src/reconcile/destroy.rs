//! Destroy: stateless stacks first, each once the stacks that read it are
//! gone (the deploy's schedule reversed); stateful stacks only
//! when asked, and the resources CloudFormation keeps (Retain) are listed.

use super::change_set::first_failure;
use super::drive::{Start, drive};
use super::{Event, Pass, StackResult};
use crate::cloud::{CloudError, stacks};
use crate::deployed::DeployedStack;
use crate::render::RenderedStack;
use crate::spec::Tier;
use serde::Serialize;
use std::collections::HashSet;
use std::time::Instant;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DestroyOutcome {
    pub deleted: usize,
    pub kept: usize,
    pub absent: usize,
    pub failed: usize,
    pub retained_resources: usize,
    pub error: Option<String>,
}

impl Pass<'_> {
    pub async fn destroy(&self, include_stateful: bool) -> DestroyOutcome {
        let mut outcome = DestroyOutcome::default();
        let deployed = match stacks::list(self.cloud).await {
            Ok(d) => d,
            Err(e) => {
                outcome.error = Some(e.to_string());
                return outcome;
            }
        };
        // Readers are deleted before what they read.
        let (order, mut sched) = self.undo_schedule();
        drive(
            &mut sched,
            &mut outcome,
            || self.is_stopping(),
            |outcome, sched, i| {
                let stack = order[i];
                let Some(d) = deployed.get(&stack.name) else {
                    outcome.absent += 1;
                    return Start::Settled(true);
                };
                if !self.environment.owns(&d.tags) {
                    // Another environment's (or instance's) stack of the
                    // same name: never deleted from here.
                    outcome.failed += 1;
                    outcome.error.get_or_insert_with(|| {
                        format!(
                            "stack {} belongs to another environment or instance (its tags say so); nothing of it was deleted",
                            stack.name
                        )
                    });
                    self.emit(Event::StackEnd {
                        stack: stack.name.clone(),
                        result: StackResult::Kept,
                        status: d.status.clone(),
                        seconds: 0.0,
                        reason: Some(
                            "its tags name another environment or instance; it was left alone"
                                .into(),
                        ),
                        outputs: Default::default(),
                    });
                    return Start::Settled(false);
                }
                if stack.tier == Tier::Stateful && !include_stateful {
                    outcome.kept += 1;
                    self.emit(Event::StackEnd {
                        stack: stack.name.clone(),
                        result: StackResult::Kept,
                        status: d.status.clone(),
                        seconds: 0.0,
                        reason: Some("stateful; pass --include-stateful to delete it".into()),
                        outputs: Default::default(),
                    });
                    return Start::Settled(true);
                }
                self.note_wait(&stack.name, sched.waited_for(i));
                let retained = retained_of(stack);
                Start::Run(async move { self.delete_stack(d, &retained).await })
            },
            |outcome, _, result| match result {
                Ok((StackResult::Deleted, retained)) => {
                    outcome.deleted += 1;
                    outcome.retained_resources += retained;
                    true
                }
                Ok(_) => {
                    outcome.failed += 1;
                    false
                }
                Err(e) => {
                    outcome.failed += 1;
                    outcome.error.get_or_insert_with(|| e.to_string());
                    false
                }
            },
        )
        .await;
        if outcome.failed > 0 {
            outcome.error.get_or_insert_with(|| {
                "a stack failed to delete; the stacks it reads were left in place".into()
            });
        }
        outcome
    }

    /// Deletes one stack and streams its events; lists the resources of
    /// `retained` (logical ids) that CloudFormation keeps.
    pub(super) async fn delete_stack(
        &self,
        deployed: &DeployedStack,
        retained: &[String],
    ) -> Result<(StackResult, usize), CloudError> {
        let started = Instant::now();
        let cfn = self.cloud;
        let name = &deployed.name;
        self.emit_start(name, crate::plan::Action::Delete);
        let retained: Vec<_> = if retained.is_empty() {
            Vec::new()
        } else {
            stacks::resources(cfn, name)
                .await?
                .into_iter()
                .filter(|r| retained.contains(&r.logical_id))
                .collect()
        };
        let seen: HashSet<String> = stacks::events(cfn, &deployed.id)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        stacks::delete(cfn, name).await?;
        let events = self.stream_events(&deployed.id, name, seen).await?;
        let status = stacks::describe(cfn, &deployed.id)
            .await?
            .map(|d| d.status)
            .unwrap_or_else(|| "DELETE_COMPLETE".into());
        let (result, reason) = if status == "DELETE_COMPLETE" {
            (StackResult::Deleted, None)
        } else {
            let reason = first_failure(&events)
                .and_then(|e| e.reason.clone())
                .unwrap_or_else(|| status.clone());
            (StackResult::Failed, Some(reason))
        };
        if result == StackResult::Deleted {
            for resource in &retained {
                self.emit(Event::Retained {
                    stack: name.clone(),
                    resource: resource.clone(),
                });
            }
        }
        self.emit(Event::StackEnd {
            stack: name.clone(),
            result,
            status,
            seconds: started.elapsed().as_secs_f64(),
            reason,
            outputs: Default::default(),
        });
        Ok((result, retained.len()))
    }
}

fn retained_of(stack: &RenderedStack) -> Vec<String> {
    stack
        .resources
        .iter()
        .filter(|r| r.retain)
        .map(|r| r.logical_id.clone())
        .collect()
}
