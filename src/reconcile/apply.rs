//! The wave loop: per wave, re-plan each stack with the outputs known now and
//! apply the stacks of the wave concurrently; a failed stack stops the later
//! waves. Then the orphans (with `--prune`) and the settling.

use super::change_set::ChangeSetRun;
use super::drive::{Start, drive};
use super::observe::{Observed, PlannedStack};
use super::release::ReleaseEnd;
use super::{Event, Outcome, Pass, StackResult};
use crate::cloud::CloudError;
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::stacks;
use crate::deployed::{APP_TAG, DeployedStack, ENVIRONMENT_TAG, HASH_TAG, REVISION_TAG};
use crate::plan::{Action, StackPlan};
use crate::render::{ParameterSource, RenderedStack};
use crate::schedule::{self, Order, Scheduler, State, Task};
use futures_util::future::join_all;
use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

/// How one stack's apply ended.
pub(super) struct Applied {
    pub(super) result: StackResult,
    pub(super) deployed: Option<DeployedStack>,
}

impl Pass<'_> {
    pub async fn apply(&self, observed: &Observed) -> Outcome {
        let mut outcome = Outcome::default();
        let deployed = observed.stacks.clone();
        let bucket = observed.asset_bucket.clone();
        let applied: HashSet<String> = HashSet::new();
        let planned: Vec<&PlannedStack> = observed.waves().into_iter().flatten().collect();
        let rendered: Vec<&RenderedStack> = planned.iter().map(|p| &p.stack).collect();
        let tasks = stack_tasks(&rendered);
        let tasks = match self.options.order {
            Order::Ready => tasks,
            Order::Waves => {
                let waves = wave_indices(&planned);
                schedule::as_waves(&tasks, &waves)
            }
        };
        // Code goes up first, all at once: no stack on the critical path
        // waits for its own uploads.
        let uploads = join_all(
            planned
                .iter()
                .filter(|p| p.plan.action.changes())
                .map(|p| async {
                    (
                        p.stack.name.clone(),
                        self.upload_assets(p, bucket.as_deref()).await,
                    )
                }),
        )
        .await;
        if let Ok(mut uploaded) = self.uploaded.lock() {
            uploaded.extend(uploads);
        }
        let mut sched = Scheduler::new(tasks, self.concurrency());
        /// What the steps of the drive share.
        struct Progress<'o> {
            outcome: &'o mut Outcome,
            deployed: BTreeMap<String, DeployedStack>,
            bucket: Option<String>,
            applied: HashSet<String>,
            durations: Vec<Duration>,
        }
        let mut progress = Progress {
            outcome: &mut outcome,
            deployed,
            bucket,
            applied,
            durations: vec![Duration::ZERO; planned.len()],
        };
        let began = Instant::now();
        drive(
            &mut sched,
            &mut progress,
            || self.is_stopping(),
            |progress, sched, i| {
                let p = planned[i];
                // Planned now, with the outputs of the stacks settled so far.
                let mut plan = self.plan_stack(
                    &p.stack,
                    p.plan.wave,
                    &progress.deployed,
                    progress.bucket.as_deref(),
                );
                plan.changes = p.plan.changes.clone();
                if plan.action == Action::NoOp
                    && !p.missing.is_empty()
                    && !self.options.leave_missing
                {
                    plan.action = Action::Update;
                    plan.reason = p.plan.reason.clone();
                }
                self.note_wait(&p.stack.name, sched.waited_for(i));
                let bucket = progress.bucket.clone();
                Start::Run(async move {
                    let started = Instant::now();
                    let result = self.apply_stack(p, &plan, bucket.as_deref()).await;
                    (result, started.elapsed())
                })
            },
            |progress, i, (result, took)| {
                progress.durations[i] = took;
                let applied_stack = result.unwrap_or_else(|e| {
                    progress.outcome.error.get_or_insert_with(|| e.to_string());
                    Applied {
                        result: StackResult::Failed,
                        deployed: None,
                    }
                });
                progress.outcome.count(applied_stack.result);
                if matches!(
                    applied_stack.result,
                    StackResult::Created | StackResult::Updated
                ) {
                    progress.applied.insert(planned[i].stack.name.clone());
                }
                if let Some(d) = applied_stack.deployed {
                    if d.name == BOOTSTRAP_STACK {
                        progress.bucket = d.outputs.get(BUCKET_OUTPUT).cloned();
                    }
                    progress.deployed.insert(d.name.clone(), d);
                }
                !matches!(
                    applied_stack.result,
                    StackResult::Failed | StackResult::Refused | StackResult::RolledBack
                )
            },
        )
        .await;
        let Progress {
            mut deployed,
            bucket,
            applied,
            durations,
            ..
        } = progress;
        if let Ok(aborted) = self.aborted.lock()
            && let Some(first) = aborted.first()
        {
            outcome.error.get_or_insert_with(|| first.clone());
        }
        let failed = sched.count(State::Failed) > 0;
        outcome.skipped = sched.count(State::Skipped);
        let path = schedule::critical_path(&stack_tasks(&rendered), &durations);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        outcome.critical_path_ms = ms(path);
        outcome.stacks_ms = ms(began.elapsed());
        if outcome.error.is_none() && failed {
            let what = if outcome.refused > 0 && outcome.failed == 0 {
                "a change to retained data was refused; nothing was changed in that stack"
            } else {
                "a stack failed"
            };
            outcome.error = Some(match outcome.skipped {
                0 => what.to_string(),
                n => format!("{what}; {n} stack(s) that depend on it were not started"),
            });
        }
        outcome.stopped = self.is_stopping();
        if outcome.stopped {
            outcome.error.get_or_insert_with(|| {
                format!(
                    "stopped before the pass finished ({} stack(s) not started); deploy again to go on",
                    outcome.skipped
                )
            });
        }
        if !failed && !outcome.stopped {
            self.sync_content(&deployed, &mut outcome).await;
        }
        if observed.orphans.iter().any(|o| o.deleted) && !failed && !outcome.stopped {
            self.prune(observed, &mut outcome, &mut deployed).await;
        }
        self.settle(
            observed,
            &mut outcome,
            &mut deployed,
            &applied,
            bucket.as_deref(),
            failed,
        )
        .await;
        outcome.uploads = self.uploads.load(std::sync::atomic::Ordering::Relaxed);
        outcome.changed = applied.into_iter().collect();
        outcome.deployed = deployed;
        outcome
    }

    /// Applies one stack, counted as in flight while it runs.
    pub(super) async fn apply_stack(
        &self,
        planned: &PlannedStack,
        plan: &StackPlan,
        bucket: Option<&str>,
    ) -> Result<Applied, CloudError> {
        self.track(&planned.stack.name, true);
        let applied = self.apply_stack_tracked(planned, plan, bucket).await;
        self.track(&planned.stack.name, false);
        applied
    }

    async fn apply_stack_tracked(
        &self,
        planned: &PlannedStack,
        plan: &StackPlan,
        bucket: Option<&str>,
    ) -> Result<Applied, CloudError> {
        let name = &planned.stack.name;
        let started = Instant::now();
        let end = |result: StackResult,
                   status: String,
                   reason: Option<String>,
                   deployed: Option<DeployedStack>| {
            self.emit(Event::StackEnd {
                stack: name.clone(),
                result,
                status,
                seconds: started.elapsed().as_secs_f64(),
                reason,
                outputs: deployed
                    .as_ref()
                    .map(|d| shown_outputs(&d.outputs, &planned.stack.secret_outputs))
                    .unwrap_or_default(),
            });
            Applied { result, deployed }
        };
        let mut action = plan.action;
        let mut plan = plan.clone();
        if action == Action::Wait {
            let settled = self.wait_for_others(name).await?;
            plan.action = crate::plan::decide(settled.as_ref(), &plan.hash).0;
            action = plan.action;
        }
        if action == Action::ContinueRollback {
            let settled = self.continue_rollback(name).await?;
            plan.action = crate::plan::decide(settled.as_ref(), &plan.hash).0;
            action = plan.action;
            if action == Action::ContinueRollback {
                let reason = settled
                    .and_then(|d| d.status_reason)
                    .unwrap_or_else(|| "no reason given".into());
                return Ok(end(
                    StackResult::Failed,
                    "UPDATE_ROLLBACK_FAILED".into(),
                    Some(format!(
                        "the rollback failed again: {reason}. Fix the resource by hand, or continue the rollback skipping it in the console, then deploy again"
                    )),
                    None,
                ));
            }
        }
        match action {
            Action::NoOp => {
                return Ok(Applied {
                    result: StackResult::Unchanged,
                    deployed: None,
                });
            }
            Action::Blocked => {
                return Ok(end(
                    StackResult::Failed,
                    plan.reason.clone(),
                    Some(format!(
                        "stack {name} is {}; fix it in the console or continue its rollback, then deploy again",
                        plan.reason
                    )),
                    None,
                ));
            }
            Action::Wait => {
                return Ok(end(
                    StackResult::Failed,
                    "IN_PROGRESS".into(),
                    Some(format!("stack {name} is still busy with another operation")),
                    None,
                ));
            }
            _ => {}
        }
        if !plan.parameters.pending.is_empty() {
            return Ok(end(
                StackResult::Failed,
                "NOT_STARTED".into(),
                Some(pending_reason(&planned.stack, &plan.parameters.pending)),
                None,
            ));
        }
        self.emit_start(name, action);
        if action == Action::Recreate {
            if planned.stack.tier == crate::spec::Tier::Stateful && !self.options.recreate_failed {
                return Ok(end(
                    StackResult::Failed,
                    "ROLLBACK_COMPLETE".into(),
                    Some(format!(
                        "stateful stack {name} failed its first create. It cannot be updated, only deleted and created again; resources it retained stay in the account. Check them, then deploy with --recreate-failed"
                    )),
                    None,
                ));
            }
            stacks::delete(self.cloud, name).await?;
            self.wait_until_gone(name).await?;
        }
        // Uploaded when the pass began, or now (a stack that waited for
        // another deployer was not planned to change then).
        let uploaded = self.uploaded.lock().ok().and_then(|mut u| u.remove(name));
        match uploaded {
            Some(result) => result?,
            None => self.upload_assets(planned, bucket).await?,
        }
        let create = matches!(action, Action::Create | Action::Recreate);
        let mut tags = BTreeMap::new();
        tags.insert(HASH_TAG.to_string(), plan.hash.clone());
        tags.insert(ENVIRONMENT_TAG.into(), self.environment.environment.clone());
        tags.insert(APP_TAG.into(), self.environment.app.clone());
        if let Some(instance) = &self.environment.instance {
            tags.insert(crate::deployed::INSTANCE_TAG.into(), instance.clone());
        }
        if let Some(revision) = &self.options.revision {
            tags.insert(REVISION_TAG.into(), revision.clone());
        }
        if !create && !planned.missing.is_empty() && !self.options.leave_missing {
            match self.take_out_missing(planned, &plan, &tags, bucket).await? {
                Ok(()) => {}
                Err(reason) => {
                    return Ok(end(
                        StackResult::Failed,
                        "NOT_RESTORED".into(),
                        Some(reason),
                        None,
                    ));
                }
            }
        }
        // A gradual release shifts and watches first; the update below
        // then moves all traffic.
        let mut moving = Vec::new();
        if !create {
            match self.release(planned, &plan, &tags, bucket).await? {
                ReleaseEnd::Nothing => {}
                ReleaseEnd::Shifted(shifted) => moving = shifted,
                ReleaseEnd::Aborted => {
                    return Ok(Applied {
                        result: StackResult::RolledBack,
                        deployed: None,
                    });
                }
                ReleaseEnd::Failed(reason) => {
                    return Ok(end(
                        StackResult::Failed,
                        "UPDATE_ROLLBACK_COMPLETE".into(),
                        Some(reason),
                        None,
                    ));
                }
            }
        }
        let run = self
            .update_stack(
                planned,
                &plan,
                &planned.stack.template,
                &tags,
                create,
                bucket,
            )
            .await?;
        Ok(match run {
            ChangeSetRun::Empty(d) => {
                let status = d.as_ref().map(|d| d.status.clone()).unwrap_or_default();
                end(StackResult::Unchanged, status, None, d)
            }
            ChangeSetRun::Rejected(reason) => end(
                StackResult::Failed,
                "CHANGE_SET_FAILED".into(),
                Some(format!("CloudFormation refused the change set: {reason}")),
                None,
            ),
            ChangeSetRun::Destroys(refused) => {
                let first = &refused[0];
                end(
                    StackResult::Refused,
                    "NOT_EXECUTED".into(),
                    Some(format!(
                        "{} {} ({}) would be {}d: {}; nothing was changed. Pass `{}` to allow it for this resource alone",
                        name,
                        first.resource,
                        first.resource_type,
                        first.action,
                        first.cause,
                        first.flag,
                    )),
                    None,
                )
            }
            ChangeSetRun::NotExecuted => end(
                StackResult::Failed,
                "NOT_EXECUTED".into(),
                Some("stopped before its change set ran".into()),
                None,
            ),
            ChangeSetRun::Executed {
                status,
                failure: Some(reason),
                deployed,
            } => end(StackResult::Failed, status, Some(reason), deployed),
            ChangeSetRun::Executed {
                status,
                failure: None,
                deployed,
            } => {
                self.released(name, &moving);
                let result = if create {
                    StackResult::Created
                } else {
                    StackResult::Updated
                };
                end(result, status, None, deployed)
            }
        })
    }
}

impl Pass<'_> {
    /// The environment's stacks in wave order, and the deploy's schedule
    /// of them reversed (for destroy and rollback): a stack goes once the
    /// stacks that read it are done, the stateless tier before the stateful.
    pub(super) fn undo_schedule(&self) -> (Vec<&RenderedStack>, Scheduler) {
        let env = self.environment;
        let order: Vec<&RenderedStack> = env
            .waves
            .iter()
            .flatten()
            .filter_map(|name| env.stack(name))
            .collect();
        let tasks = schedule::reversed(&stack_tasks(&order));
        (order, Scheduler::new(tasks, self.concurrency()))
    }
}

/// Stacks as tasks: the bootstrap stack first, then the stateful tier,
/// then the stateless one; each after the stacks it reads.
pub(super) fn stack_tasks(stacks: &[&RenderedStack]) -> Vec<Task> {
    stacks
        .iter()
        .map(|stack| Task {
            name: stack.name.clone(),
            rank: match (stack.name.as_str(), stack.tier) {
                (BOOTSTRAP_STACK, _) => 0,
                (_, crate::spec::Tier::Stateful) => 1,
                (_, crate::spec::Tier::Stateless) => 2,
            },
            after: stack
                .depends_on
                .iter()
                .filter_map(|d| stacks.iter().position(|s| &s.name == d))
                .collect(),
        })
        .collect()
}

/// The stacks' indices by wave (level), for `--order waves`.
fn wave_indices(planned: &[&PlannedStack]) -> Vec<Vec<usize>> {
    let mut waves: Vec<Vec<usize>> = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        let wave = p.plan.wave;
        while waves.len() <= wave {
            waves.push(Vec::new());
        }
        waves[wave].push(i);
    }
    waves.retain(|w| !w.is_empty());
    waves
}

/// Why parameters have no value, per parameter.
fn pending_reason(stack: &crate::render::RenderedStack, pending: &[String]) -> String {
    let reasons: Vec<String> = pending
        .iter()
        .map(|name| {
            match stack
                .parameters
                .iter()
                .find(|p| &p.name == name)
                .map(|p| &p.source)
            {
                Some(ParameterSource::Env { var }) => format!(
                    "{name}: the environment variable {var} is not set; export it before deploying"
                ),
                Some(ParameterSource::Output { stack, output }) => {
                    format!("{name}: stack {stack} has no output {output}")
                }
                _ => format!("{name}: no value"),
            }
        })
        .collect();
    format!("no value for parameter(s): {}", reasons.join("; "))
}

/// Outputs meant for people: without driftless's own function-name outputs.
pub fn public_outputs(outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    outputs
        .iter()
        .filter(|(k, _)| !crate::render::internal_output(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Outputs as they may be shown: public ones, those that may carry a
/// secret as `****`.
pub fn shown_outputs(
    outputs: &BTreeMap<String, String>,
    secret: &std::collections::BTreeSet<String>,
) -> BTreeMap<String, String> {
    let mut shown = public_outputs(outputs);
    for (key, value) in shown.iter_mut() {
        if secret.contains(key) {
            *value = "****".into();
        }
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_name_outputs_are_hidden() {
        let outputs = BTreeMap::from([
            ("ApiEndpoint".to_string(), "http://x".to_string()),
            ("DriftlessFunctionApiHandler".to_string(), "fn".to_string()),
        ]);
        assert_eq!(
            public_outputs(&outputs).keys().collect::<Vec<_>>(),
            vec!["ApiEndpoint"]
        );
    }
}
