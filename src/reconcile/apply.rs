//! Apply: per wave, re-plan each stack with the outputs known now, then
//! change set → data-loss check → execute → stream events until settled.

use super::observe::{Observed, PlannedStack, plan_stack};
use super::{Event, Outcome, Pass, StackResult};
use crate::cloud::assets::{BOOTSTRAP_STACK, BUCKET_OUTPUT, upload_if_absent};
use crate::cloud::stacks::{self, ChangeSetOutcome, ChangeSetRequest};
use crate::cloud::{CloudError, functions};
use crate::deployed::Condition;
use crate::deployed::{
    APP_TAG, ChangeSetChange, DeployedStack, ENVIRONMENT_TAG, HASH_TAG, StackEvent, condition_of,
    is_failure, is_terminal,
};
use crate::plan::guard::Hazard;
use crate::plan::{Action, StackPlan};
use crate::render::{ParameterSource, RenderedStack};
use futures_util::future::join_all;
use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// How one stack's apply ended.
struct Applied {
    result: StackResult,
    deployed: Option<DeployedStack>,
}

pub(super) fn change_set_name() -> String {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default();
    format!("driftless-{millis}")
}

/// Polls with a delay growing from 100 ms to 2 s: quick against an emulator,
/// gentle with a real account.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Backoff(Duration::from_millis(100))
    }

    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 3 / 2).min(Duration::from_secs(2));
    }
}

impl Pass<'_> {
    pub async fn apply(&self, observed: &Observed) -> Outcome {
        let mut outcome = Outcome::default();
        let mut deployed = observed.stacks.clone();
        let mut bucket = observed.asset_bucket.clone();
        let mut applied: HashSet<String> = HashSet::new();
        let mut failed = false;
        for wave in observed.waves() {
            if failed || self.is_stopping() {
                outcome.skipped += wave.len();
                continue;
            }
            let plans: Vec<(&PlannedStack, StackPlan)> = wave
                .iter()
                .map(|p| {
                    let mut plan = plan_stack(&p.stack, p.plan.wave, &deployed, bucket.as_deref());
                    plan.changes = p.plan.changes.clone();
                    (*p, plan)
                })
                .collect();
            let results = join_all(
                plans
                    .iter()
                    .map(|(p, plan)| self.apply_stack(p, plan, bucket.as_deref())),
            )
            .await;
            for ((p, _), result) in plans.iter().zip(results) {
                let applied_stack = match result {
                    Ok(a) => a,
                    Err(e) => {
                        outcome.error.get_or_insert_with(|| e.to_string());
                        Applied {
                            result: StackResult::Failed,
                            deployed: None,
                        }
                    }
                };
                match applied_stack.result {
                    StackResult::Created => outcome.created += 1,
                    StackResult::Updated => outcome.updated += 1,
                    StackResult::Unchanged => outcome.unchanged += 1,
                    StackResult::Refused => outcome.refused += 1,
                    _ => outcome.failed += 1,
                }
                if matches!(
                    applied_stack.result,
                    StackResult::Failed | StackResult::Refused
                ) {
                    failed = true;
                }
                if matches!(
                    applied_stack.result,
                    StackResult::Created | StackResult::Updated
                ) {
                    applied.insert(p.stack.name.clone());
                }
                if let Some(d) = applied_stack.deployed {
                    if d.name == BOOTSTRAP_STACK {
                        bucket = d.outputs.get(BUCKET_OUTPUT).cloned();
                    }
                    deployed.insert(d.name.clone(), d);
                }
            }
        }
        if outcome.error.is_none() && failed {
            outcome.error = Some("a stack failed; later waves were not started".into());
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
        if self.options.prune && !failed && !outcome.stopped {
            self.prune(observed, &mut outcome, &mut deployed).await;
        }
        for stack in super::observe::unprotected(self.environment, &deployed) {
            match stacks::set_termination_protection(&self.cloud.cfn, &stack, true).await {
                Ok(()) => {
                    self.emit(Event::Protected {
                        stack: stack.clone(),
                    });
                    if let Some(d) = deployed.get_mut(&stack) {
                        d.termination_protection = true;
                    }
                }
                Err(e) => {
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        match self.settle_settings(observed, &deployed, &applied).await {
            Ok(written) => {
                outcome.settings_fixed = written.len();
                outcome.settings_written = written;
            }
            Err(e) => {
                outcome.error.get_or_insert_with(|| e.to_string());
            }
        }
        if !observed.hotswapped.is_empty() && !failed && !outcome.stopped {
            match self
                .settle_hotswaps(observed, &deployed, bucket.as_deref())
                .await
            {
                Ok(count) => outcome.hotswaps_settled = count,
                Err(e) => {
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        outcome.uploads = self.uploads.load(std::sync::atomic::Ordering::Relaxed);
        outcome.changed = applied.into_iter().collect();
        outcome.deployed = deployed;
        outcome
    }

    /// Deploys the bootstrap stack alone if it is not there yet, for the
    /// lock that guards the rest of the pass. Returns the bucket.
    pub async fn bootstrap(&self, observed: &Observed) -> Result<String, CloudError> {
        if let Some(bucket) = &observed.asset_bucket {
            return Ok(bucket.clone());
        }
        let missing = || {
            CloudError::new(
                "CreateStack",
                BOOTSTRAP_STACK,
                "the bootstrap stack did not deploy",
            )
        };
        let planned = observed
            .planned
            .iter()
            .find(|p| p.stack.name == BOOTSTRAP_STACK)
            .ok_or_else(missing)?;
        let applied = self.apply_stack(planned, &planned.plan, None).await?;
        if self.is_stopping() {
            return Err(CloudError::new(
                "CreateStack",
                BOOTSTRAP_STACK,
                "stopped before the pass finished (nothing of the environment was started); deploy again to go on",
            ));
        }
        if !matches!(
            applied.result,
            StackResult::Created | StackResult::Updated | StackResult::Unchanged
        ) {
            return Err(missing());
        }
        applied
            .deployed
            .and_then(|d| d.outputs.get(BUCKET_OUTPUT).cloned())
            .ok_or_else(missing)
    }

    /// Deletes the orphan stacks, concurrently: nothing in the layout reads
    /// them any more. Their retained resources stay in the account.
    async fn prune(
        &self,
        observed: &Observed,
        outcome: &mut Outcome,
        deployed: &mut BTreeMap<String, DeployedStack>,
    ) {
        let results = join_all(
            observed
                .orphans
                .iter()
                .map(|o| self.delete_stack(&o.stack, &o.retained)),
        )
        .await;
        for (orphan, result) in observed.orphans.iter().zip(results) {
            match result {
                Ok((StackResult::Deleted, _)) => {
                    outcome.pruned += 1;
                    deployed.remove(&orphan.stack.name);
                }
                Ok(_) => outcome.failed += 1,
                Err(e) => {
                    outcome.failed += 1;
                    outcome.error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }

    /// Brings reserved concurrency in line: for stacks applied now, read
    /// again (new functions); for the others, use what observe read.
    async fn settle_settings(
        &self,
        observed: &Observed,
        deployed: &BTreeMap<String, DeployedStack>,
        applied: &HashSet<String>,
    ) -> Result<Vec<String>, CloudError> {
        let fresh: Vec<PlannedStack> = observed
            .planned
            .iter()
            .filter(|p| applied.contains(&p.stack.name))
            .cloned()
            .collect();
        let fresh_functions = self.read_functions(&fresh, deployed).await?;
        let (fresh_live, _) = super::observe::settings_drift(&fresh, &fresh_functions);
        let mut live = observed.live.clone();
        live.extend(fresh_live);
        let mut writes = Vec::new();
        for p in &observed.planned {
            if !deployed.contains_key(&p.stack.name) {
                continue;
            }
            for f in &p.stack.functions {
                let Some(desired) = f.reserved_concurrency else {
                    continue;
                };
                if let Some((function, value)) =
                    live.get(&(p.stack.name.clone(), f.logical_id.clone()))
                    && *value != Some(desired)
                {
                    writes.push((p.stack.name.clone(), function.clone(), desired));
                }
            }
        }
        let lambda = &self.cloud.lambda;
        let results = join_all(writes.iter().map(|(_, function, desired)| {
            functions::set_reserved_concurrency(lambda, function, Some(*desired))
        }))
        .await;
        for ((stack, function, desired), result) in writes.iter().zip(results) {
            result?;
            self.emit(Event::SettingApplied {
                stack: stack.clone(),
                function: function.clone(),
                setting: "reserved_concurrency",
                value: Some(*desired),
            });
        }
        Ok(writes
            .into_iter()
            .map(|(_, function, _)| function)
            .collect())
    }

    async fn apply_stack(
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
                    .map(|d| public_outputs(&d.outputs))
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
        self.emit(Event::StackStart {
            stack: name.clone(),
            action,
        });
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
            stacks::delete(&self.cloud.cfn, name).await?;
            self.wait_until_gone(name).await?;
        }
        self.upload_assets(planned, bucket).await?;
        let create = matches!(action, Action::Create | Action::Recreate);
        let mut tags = BTreeMap::new();
        tags.insert(HASH_TAG.to_string(), plan.hash.clone());
        tags.insert(ENVIRONMENT_TAG.into(), self.environment.environment.clone());
        tags.insert(APP_TAG.into(), self.environment.app.clone());
        let change_set = change_set_name();
        let run = self
            .run_change_set(
                ChangeSetRequest {
                    stack: name,
                    name: &change_set,
                    create,
                    template: &planned.stack.template,
                    parameters: &plan.parameters.values,
                    keep_previous: &[],
                    tags: &tags,
                },
                true,
                |changes| {
                    self.destroying_changes(
                        &planned.stack,
                        &planned.deployed_retained,
                        &self.options.allow_replace,
                        changes,
                    )
                },
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
                let result = if create {
                    StackResult::Created
                } else {
                    StackResult::Updated
                };
                end(result, status, None, deployed)
            }
        })
    }

    /// Change set → data-loss check → execute → stream events until the
    /// stack settles. `destroys` names the changes that must not run; a
    /// stoppable run is not executed once the pass is stopping (a rollback
    /// always runs).
    pub(super) async fn run_change_set(
        &self,
        request: ChangeSetRequest<'_>,
        stoppable: bool,
        destroys: impl Fn(&[ChangeSetChange]) -> Vec<Hazard>,
    ) -> Result<ChangeSetRun, CloudError> {
        let name = request.stack;
        let change_set = request.name;
        let cfn = &self.cloud.cfn;
        stacks::create_change_set(cfn, &request).await?;
        let changes = match stacks::wait_change_set(cfn, name, change_set).await? {
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
        let seen: HashSet<String> = stacks::events(cfn, name)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
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
            .filter(|c| c.destroys() && retained(&c.logical_id))
            .filter_map(|c| {
                let label = resource_label(stack, &c.logical_id);
                if allow.contains(&c.logical_id) || allow.contains(&label) {
                    return None;
                }
                let action = if c.action == "Remove" {
                    "remove"
                } else {
                    "replace"
                };
                Some(Hazard {
                    stack: stack.name.clone(),
                    logical_id: c.logical_id.clone(),
                    resource_type: c.resource_type.clone(),
                    action,
                    properties: c.recreating.clone(),
                    cause: format!("CloudFormation's change set would {action} it"),
                    flag: format!("--allow-replace {label}"),
                    resource: label,
                })
            })
            .collect()
    }

    async fn upload_assets(
        &self,
        planned: &PlannedStack,
        bucket: Option<&str>,
    ) -> Result<(), CloudError> {
        let needs = planned
            .stack
            .parameters
            .iter()
            .any(|p| p.source == ParameterSource::AssetBucket);
        if !needs {
            return Ok(());
        }
        let Some(bucket) = bucket else {
            return Err(CloudError::new(
                "PutObject",
                &planned.stack.name,
                "the asset bucket is not deployed; the bootstrap stack failed",
            ));
        };
        let assets: Vec<_> = self
            .assets
            .values()
            .filter(|a| planned.stack.units.contains(&a.unit))
            .collect();
        // Functions sharing a code folder share one zip: upload each key once.
        let mut keys = HashSet::new();
        let assets: Vec<_> = assets
            .into_iter()
            .filter(|a| keys.insert(a.reference().key()))
            .collect();
        let s3 = &self.cloud.s3;
        let results = join_all(assets.iter().map(|a| {
            let key = a.reference().key();
            async move {
                let uploaded = upload_if_absent(s3, bucket, &key, a.bytes.clone()).await?;
                Ok::<_, CloudError>((key, a.bytes.len(), uploaded))
            }
        }))
        .await;
        for result in results {
            let (key, bytes, uploaded) = result?;
            if uploaded {
                self.uploads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.emit(Event::Upload {
                key,
                bytes,
                uploaded,
            });
        }
        Ok(())
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
        let mut backoff = Backoff::new();
        let mut all = Vec::new();
        loop {
            let page = stacks::events(&self.cloud.cfn, stack_ref).await?;
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
    async fn continue_rollback(&self, name: &str) -> Result<Option<DeployedStack>, CloudError> {
        let seen: HashSet<String> = stacks::events(&self.cloud.cfn, name)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        self.emit(Event::StackStart {
            stack: name.to_string(),
            action: Action::ContinueRollback,
        });
        stacks::continue_rollback(&self.cloud.cfn, name).await?;
        self.stream_events(name, name, seen).await?;
        stacks::describe(&self.cloud.cfn, name).await
    }

    async fn wait_for_others(&self, name: &str) -> Result<Option<DeployedStack>, CloudError> {
        let started = Instant::now();
        let mut backoff = Backoff::new();
        loop {
            let d = stacks::describe(&self.cloud.cfn, name).await?;
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
        let mut backoff = Backoff::new();
        loop {
            match stacks::describe(&self.cloud.cfn, name).await? {
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

/// `unit.resource` for a logical id, for messages and `--allow-replace`.
fn resource_label(stack: &RenderedStack, logical_id: &str) -> String {
    stack
        .resources
        .iter()
        .find(|r| r.logical_id == logical_id)
        .map(|r| format!("{}.{}", r.unit, r.resource))
        .unwrap_or_else(|| logical_id.to_string())
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

/// The first resource that failed, skipping the cancellations it caused.
pub(super) fn first_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    events
        .iter()
        .filter(|e| e.status.ends_with("_FAILED") && !e.is_stack())
        .find(|e| !e.reason.as_deref().is_some_and(|r| r.contains("cancelled")))
        .or_else(|| events.iter().find(|e| e.status.ends_with("_FAILED")))
}

/// Outputs meant for people: without driftless's own function-name outputs.
pub fn public_outputs(outputs: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    outputs
        .iter()
        .filter(|(k, _)| !k.starts_with(crate::render::FUNCTION_OUTPUT_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
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
