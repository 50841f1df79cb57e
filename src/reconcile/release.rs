//! A gradual release inside a stack's update. The first update publishes
//! the new versions with a share of the traffic (`plan::release`); each
//! step is held and watched (the environment's alarms; a stop); linear
//! releases take more at each step (`UpdateAlias`). Then the stack's own
//! update puts all traffic on the new versions, and CloudFormation holds
//! what runs. On an alarm or a stop, the traffic goes back at once and the
//! stack back to its template before the pass.

use super::change_set::ChangeSetRun;
use super::observe::PlannedStack;
use super::rollback::{Snapshot, Undo};
use super::{Event, Pass};
use crate::cloud::stacks;
use crate::cloud::{CloudError, alarms, functions};
use crate::deployed::HASH_TAG;
use crate::plan::StackPlan;
use crate::plan::release::{Shift, first_update, shifts};
use futures_util::future::join_all;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// How often an alarm is read while a step is held.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// How a stack's release went before its own update.
pub(super) enum ReleaseEnd {
    /// Nothing released gradually: the update goes on as usual.
    Nothing,
    /// Shifted and watched: the update moves all traffic. Each function's
    /// (label, alias, from, to) versions.
    Shifted(Vec<Moving>),
    /// Put back (an alarm, a stop): the stack is on its template again;
    /// the pass's error says why.
    Aborted,
    /// The first update failed; CloudFormation put the stack back.
    Failed(String),
}

/// What a shift is watched with.
struct Watching {
    alarms: Vec<String>,
    runner: Option<crate::smoke::Runner>,
    verify: Option<String>,
    deployed: BTreeMap<String, crate::deployed::DeployedStack>,
}

/// A release while it shifts, in the environment's state: what a pass cut
/// short leaves for the next one and for `status`.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReleaseRecord {
    pub stack: String,
    /// `user@host pid N`.
    pub by: String,
    /// Unix seconds, by the store's clock.
    pub at: i64,
    /// `unit.resource from -> to`, each.
    pub functions: Vec<String>,
    /// When the shift should end, if nothing aborts it (Unix seconds).
    #[serde(default)]
    pub until: i64,
}

/// One function on its way from one version to another.
pub(super) struct Moving {
    pub label: String,
    pub alias: String,
    pub name: String,
    pub from: String,
    pub to: String,
}

impl Pass<'_> {
    /// The release of `planned`'s functions whose new versions go out
    /// gradually, before the stack's update (see the module).
    pub(super) async fn release(
        &self,
        planned: &PlannedStack,
        plan: &StackPlan,
        tags: &BTreeMap<String, String>,
        bucket: Option<&str>,
    ) -> Result<ReleaseEnd, CloudError> {
        let name = &planned.stack.name;
        let Some(deployed_text) = &planned.deployed_template else {
            return Ok(ReleaseEnd::Nothing);
        };
        let deployed: Json = serde_json::from_str(deployed_text).unwrap_or(Json::Null);
        let desired: Json = serde_json::from_str(&planned.stack.template).unwrap_or(Json::Null);
        let shifts = shifts(&planned.stack.released, &deployed, &desired);
        if shifts.is_empty() {
            return Ok(ReleaseEnd::Nothing);
        }
        let Some(before) = stacks::describe(self.cloud, name).await? else {
            return Ok(ReleaseEnd::Nothing);
        };
        // A pass cut short during this release left the alias weighted,
        // and its record says whose it was.
        let resumed = before
            .tags
            .get(HASH_TAG)
            .is_some_and(|h| h.starts_with("releasing-"));
        let left_by = match (resumed, bucket) {
            (true, Some(bucket)) => {
                let key = crate::cloud::state::release_key(
                    &self.environment.app,
                    &self.environment.environment,
                );
                crate::cloud::state::read_json::<ReleaseRecord>(self.cloud, bucket, &key)
                    .await
                    .ok()
                    .flatten()
                    .map(|r| {
                        format!(
                            " (the release {} started by {} at {})",
                            r.functions.join(", "),
                            r.by,
                            r.at
                        )
                    })
            }
            _ => None,
        };
        let template = serde_json::to_string(&first_update(&desired, &deployed, &shifts))
            .map_err(|e| CloudError::new("CreateChangeSet", name, e.to_string()))?;
        // Not the desired hash: a pass cut short in the shift releases
        // again, from the version the alias serves.
        let mut tags = tags.clone();
        tags.insert(HASH_TAG.to_string(), format!("releasing-{}", plan.hash));
        let run = self
            .update_stack(planned, plan, &template, &tags, false, bucket)
            .await?;
        let now = match run {
            ChangeSetRun::Executed {
                failure: None,
                deployed: Some(d),
                ..
            }
            | ChangeSetRun::Empty(Some(d)) => d,
            ChangeSetRun::Executed {
                failure: Some(reason),
                ..
            } => {
                return Ok(ReleaseEnd::Failed(format!(
                    "the release's first update failed: {reason}"
                )));
            }
            _ => {
                return Ok(ReleaseEnd::Failed(
                    "the release's first update did not run".into(),
                ));
            }
        };
        let mut moving = Vec::new();
        for shift in &shifts {
            let f = &shift.function;
            let Some(output) = planned
                .stack
                .functions
                .iter()
                .find(|s| s.logical_id == f.logical_id)
                .map(|s| &s.output)
            else {
                continue;
            };
            let Some(function) = now.outputs.get(output) else {
                continue;
            };
            let routing = functions::get_alias(self.cloud, function, &f.alias).await?;
            let (to, left_at) = routing.weights.first().cloned().unwrap_or_default();
            if resumed {
                self.emit(Event::Release {
                    stack: name.clone(),
                    function: f.label.clone(),
                    alias: f.alias.clone(),
                    from_version: routing.version.clone(),
                    to_version: to.clone(),
                    weight: left_at,
                    state: "resumed",
                    hold_s: None,
                    reason: Some(format!(
                        "a pass cut short during this release left {:.0}% on version {to}{}; it starts again from the version the alias serves",
                        left_at * 100.0,
                        left_by.as_deref().unwrap_or_default()
                    )),
                });
            }
            moving.push((
                shift,
                Moving {
                    label: f.label.clone(),
                    alias: f.alias.clone(),
                    name: function.clone(),
                    from: routing.version,
                    to,
                },
            ));
        }
        let record_key =
            crate::cloud::state::release_key(&self.environment.app, &self.environment.environment);
        let record = ReleaseRecord {
            stack: name.clone(),
            by: super::lease::owner(&super::lease::host()),
            at: self.cloud.store_now(),
            functions: moving
                .iter()
                .map(|(_, m)| format!("{} {} -> {}", m.label, m.from, m.to))
                .collect(),
            until: self.cloud.store_now()
                + moving
                    .iter()
                    .map(|(shift, _)| shift.function.strategy.duration().as_secs() as i64)
                    .max()
                    .unwrap_or_default(),
        };
        if let Some(bucket) = bucket {
            // Informs; a failed write fails nothing.
            let _ = crate::cloud::state::write_json(self.cloud, bucket, &record_key, &record).await;
        }
        // What watches each step: the alarms, the environment's checks
        // (against what the alias serves now) and the verify function.
        let deployed = stacks::list(self.cloud).await?;
        let watch = Watching {
            alarms: self.alarm_names().await?,
            runner: self.smoke_runner(true).ok().flatten(),
            verify: self.verify_function(&deployed),
            deployed,
        };
        let steps = join_all(
            moving
                .iter()
                .map(|(shift, m)| self.steps(name, shift, m, &watch)),
        )
        .await;
        let failed = steps.into_iter().find_map(Result::err);
        if let Some(bucket) = bucket {
            let _ = crate::cloud::state::remove(self.cloud, bucket, &record_key).await;
        }
        let Some(reason) = failed else {
            return Ok(ReleaseEnd::Shifted(
                moving.into_iter().map(|(_, m)| m).collect(),
            ));
        };
        // Traffic back first, then the stack.
        for (_, m) in &moving {
            let _ = functions::route_alias(self.cloud, &m.name, &m.alias, &m.from, None).await;
            self.emit(Event::Release {
                stack: name.clone(),
                function: m.label.clone(),
                alias: m.alias.clone(),
                from_version: m.from.clone(),
                to_version: m.to.clone(),
                weight: 0.0,
                state: "aborted",
                hold_s: None,
                reason: Some(reason.clone()),
            });
        }
        let snapshot = Snapshot::of_stack(name, deployed_text.clone(), &before, bucket);
        let why = match self.roll_back_stack(name, &snapshot).await? {
            Undo::Restored(_) | Undo::Deleted => reason,
            Undo::Kept(why) | Undo::Failed(why) => {
                format!("{reason}; the stack was not put back: {why}")
            }
        };
        if let Ok(mut aborted) = self.aborted.lock() {
            aborted.push(format!("{name}: release aborted: {why}"));
        }
        Ok(ReleaseEnd::Aborted)
    }

    /// One function's steps: each weight held for its time and watched.
    async fn steps(
        &self,
        stack: &str,
        shift: &Shift,
        m: &Moving,
        watch: &Watching,
    ) -> Result<(), String> {
        for (i, (weight, hold)) in shift.function.strategy.steps().into_iter().enumerate() {
            if i > 0 {
                functions::route_alias(
                    self.cloud,
                    &m.name,
                    &m.alias,
                    &m.from,
                    Some((&m.to, weight)),
                )
                .await
                .map_err(|e| e.to_string())?;
            }
            self.emit(Event::Release {
                stack: stack.to_string(),
                function: m.label.clone(),
                alias: m.alias.clone(),
                from_version: m.from.clone(),
                to_version: m.to.clone(),
                weight,
                state: "shifting",
                hold_s: Some(hold.as_secs_f64()),
                reason: None,
            });
            self.check_step(m, weight, watch).await?;
            self.watch(&watch.alarms, hold).await?;
        }
        Ok(())
    }

    /// The checks and the verify function at one step.
    async fn check_step(&self, m: &Moving, weight: f64, watch: &Watching) -> Result<(), String> {
        if let Some(runner) = &watch.runner {
            let report = self.smoke(runner, &watch.deployed, "shift").await;
            if let Some(failed) = report.results.iter().find(|r| !r.passed) {
                return Err(format!(
                    "smoke check `{}` failed during the shift: {}",
                    failed.name,
                    failed.failure.as_deref().unwrap_or("no reason given")
                ));
            }
        }
        if let Some(verify) = &watch.verify {
            let release = serde_json::json!({
                "function": m.label, "name": m.name, "alias": m.alias,
                "from_version": m.from, "to_version": m.to, "weight": weight,
            });
            let answer = functions::invoke(self.cloud, verify, release.to_string().as_bytes())
                .await
                .map_err(|e| format!("the verify function could not be invoked: {e}"))?;
            if let Some(error) = answer.function_error {
                return Err(format!(
                    "the verify function failed ({error}): {}",
                    String::from_utf8_lossy(&answer.payload)
                ));
            }
        }
        Ok(())
    }

    /// The physical name of the environment's verify function, if any.
    fn verify_function(
        &self,
        deployed: &BTreeMap<String, crate::deployed::DeployedStack>,
    ) -> Option<String> {
        let label = self.environment.verify.as_ref()?;
        self.environment.stacks.iter().find_map(|stack| {
            let r = stack
                .resources
                .iter()
                .find(|r| format!("{}.{}", r.unit, r.resource) == *label)?;
            let f = stack
                .functions
                .iter()
                .find(|f| f.logical_id == r.logical_id)?;
            deployed.get(&stack.name)?.outputs.get(&f.output).cloned()
        })
    }

    /// Holds for `hold`, reading `alarms`: one in ALARM, or a stop, ends it.
    async fn watch(&self, alarms: &[String], hold: Duration) -> Result<(), String> {
        let until = Instant::now() + hold;
        loop {
            if self.is_stopping() {
                return Err("the pass was stopped during the release".into());
            }
            if !alarms.is_empty() {
                let states = alarms::states(self.cloud, alarms)
                    .await
                    .map_err(|e| format!("the alarms could not be read: {e}"))?;
                if let Some(alarm) = states.iter().find(|a| a.state == "ALARM") {
                    return Err(format!(
                        "alarm {} is in ALARM: {}",
                        alarm.name, alarm.reason
                    ));
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep(left.min(WATCH_EVERY)) => {}
                _ = self.stopped() => {}
            }
        }
    }

    /// The alarms of the environment's deployed stacks, by name.
    async fn alarm_names(&self) -> Result<Vec<String>, CloudError> {
        let mut names = Vec::new();
        for stack in &self.environment.stacks {
            if !stack
                .resources
                .iter()
                .any(|r| r.type_name == "AWS::CloudWatch::Alarm")
            {
                continue;
            }
            // Only those `releases: alarms:` names, where it names any.
            let watched = |logical_id: &str| {
                let wanted = &self.environment.release_alarms;
                wanted.is_empty()
                    || stack.resources.iter().any(|r| {
                        r.logical_id == logical_id
                            && wanted.contains(&format!("{}.{}", r.unit, r.resource))
                    })
            };
            // A stack not deployed yet has no alarm to read.
            let resources = stacks::resources(self.cloud, &stack.name).await;
            for r in resources.unwrap_or_default() {
                if r.resource_type == "AWS::CloudWatch::Alarm"
                    && watched(&r.logical_id)
                    && let Some(name) = r.physical_id
                {
                    names.push(name);
                }
            }
        }
        Ok(names)
    }

    /// Says that every function of a shift is all on its new version.
    pub(super) fn released(&self, stack: &str, moving: &[Moving]) {
        for m in moving {
            self.emit(Event::Release {
                stack: stack.to_string(),
                function: m.label.clone(),
                alias: m.alias.clone(),
                from_version: m.from.clone(),
                to_version: m.to.clone(),
                weight: 1.0,
                state: "done",
                hold_s: None,
                reason: None,
            });
        }
    }
}
