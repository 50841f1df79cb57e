//! Hotswap: code, environment variables and description go straight into
//! Lambda, and a state machine's definition into Step Functions, skipping
//! CloudFormation, where the environment allows it. A function is tagged
//! until a deploy brings CloudFormation back in line; a deploy converges
//! such functions on what CloudFormation holds and untags them. A state
//! machine needs no tag: its stack's template still differs, so the next
//! deploy writes the same definition through CloudFormation.

use super::{Event, Observed, Pass, PlannedStack};
use crate::cloud::CloudError;
use crate::cloud::functions::{self, CodeSource, LiveFunction};
use crate::deployed::DeployedStack;
use crate::plan::Action;
use crate::plan::hotswap::{self, DesiredFunction, Known};
use futures_util::future::join_all;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

pub use super::machines::MachineTarget;
use std::time::Instant;

/// One function a hotswap converges.
#[derive(Clone, Debug)]
pub struct Target {
    pub stack: String,
    pub live: LiveFunction,
    pub desired: DesiredFunction,
    /// CloudFormation already holds the desired state (the stack is
    /// unchanged): converging removes the drift instead of adding to it.
    pub held: bool,
}

/// What a watch pass can do through Lambda and Step Functions alone.
#[derive(Debug, Default)]
pub struct HotswapPlan {
    pub targets: Vec<Target>,
    pub machines: Vec<MachineTarget>,
    /// Why the rest of the pass needs CloudFormation, one reason per stack
    /// or setting; empty when hotswap carries every change.
    pub needs_cloudformation: Vec<String>,
}

impl HotswapPlan {
    pub fn carries_everything(&self) -> bool {
        self.needs_cloudformation.is_empty()
    }

    /// Nothing to write: no function and no state machine.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty() && self.machines.is_empty()
    }
}

/// One function converged.
#[derive(Clone, Debug, Serialize)]
pub struct Swapped {
    pub stack: String,
    pub logical_id: String,
    pub function: String,
    /// `code`, `environment`, `description`: what was written.
    pub changed: Vec<&'static str>,
    /// Milliseconds from the start of the pass until the new code was live.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_ms: Option<u64>,
    pub seconds: f64,
    /// A state machine's definition before the swap, to put it back.
    #[serde(skip)]
    pub previous_definition: Option<String>,
}

pub(super) fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// The functions whose hotswappable properties change, or why the stack
/// needs CloudFormation.
fn swappable(planned: &PlannedStack, desired: &Json) -> Result<BTreeSet<String>, String> {
    if !planned.plan.changed_parameters.is_empty() {
        return Err(format!(
            "parameter(s) {} changed",
            planned.plan.changed_parameters.join(", ")
        ));
    }
    let deployed = planned
        .deployed_template
        .as_deref()
        .and_then(|t| serde_json::from_str::<Json>(t).ok())
        .ok_or("the deployed template was not read")?;
    hotswap::swappable_changes(&deployed, desired)
}

impl Pass<'_> {
    pub(super) fn known_for<'k>(
        &'k self,
        planned: &'k PlannedStack,
        parameters: &'k BTreeMap<String, String>,
        live: &'k LiveFunction,
    ) -> Known<'k> {
        Known {
            parameters,
            region: &self.cloud.region,
            account: account_of(&live.arn),
            stack_name: &planned.stack.name,
            attributes: None,
        }
    }

    /// Which changes a watch pass can hotswap, and which need CloudFormation.
    pub fn hotswap_plan(&self, observed: &Observed) -> HotswapPlan {
        let mut plan = HotswapPlan::default();
        let tagged: BTreeSet<(&str, &str)> = observed
            .hotswapped
            .iter()
            .map(|d| (d.stack.as_str(), d.logical_id.as_str()))
            .collect();
        for drift in &observed.drift {
            plan.needs_cloudformation.push(format!(
                "{} {} is {:?} live, {:?} desired",
                drift.function, drift.setting, drift.live, drift.desired
            ));
        }
        if observed.orphans.iter().any(|o| o.deleted) {
            plan.needs_cloudformation
                .push("orphan stacks are to be pruned".into());
        }
        for stack in &observed.unprotected {
            plan.needs_cloudformation
                .push(format!("{stack} needs termination protection"));
        }
        for planned in &observed.planned {
            let name = planned.stack.name.as_str();
            let in_stack: BTreeSet<&str> = tagged
                .iter()
                .filter(|(s, _)| *s == name)
                .map(|(_, id)| *id)
                .collect();
            if planned.plan.action == Action::NoOp && in_stack.is_empty() {
                continue;
            }
            let Ok(template) = serde_json::from_str::<Json>(&planned.stack.template) else {
                plan.needs_cloudformation
                    .push(format!("{name}: the rendered template is not JSON"));
                continue;
            };
            let (changed, held) = match planned.plan.action {
                Action::NoOp => (BTreeSet::new(), true),
                Action::Update => match swappable(planned, &template) {
                    Ok(changed) => (changed, false),
                    Err(reason) => {
                        plan.needs_cloudformation.push(format!("{name}: {reason}"));
                        continue;
                    }
                },
                other => {
                    plan.needs_cloudformation
                        .push(format!("{name}: {}", other.name()));
                    continue;
                }
            };
            let ids: BTreeSet<&str> = changed
                .iter()
                .map(String::as_str)
                .chain(in_stack.iter().copied())
                .collect();
            let mut targets = Vec::new();
            let mut machines = Vec::new();
            let mut reason = None;
            for id in ids {
                if hotswap::is_state_machine(&template, id) {
                    match self.machine_target(observed, planned, &template, id) {
                        Ok(machine) => machines.push(machine),
                        Err(e) => {
                            reason = Some(e);
                            break;
                        }
                    }
                    continue;
                }
                let key = (name.to_string(), id.to_string());
                let Some(live) = observed.functions.get(&key) else {
                    reason = Some(format!("{id} is not deployed yet"));
                    break;
                };
                let known = self.known_for(planned, &planned.plan.parameters.values, live);
                match hotswap::desired_function(&template, id, &known) {
                    Ok(desired) if self.code_of(&desired).is_some() => targets.push(Target {
                        stack: name.to_string(),
                        live: live.clone(),
                        desired,
                        held,
                    }),
                    Ok(desired) => {
                        reason = Some(format!("no local code for {}", desired.code_key));
                        break;
                    }
                    Err(e) => {
                        reason = Some(e);
                        break;
                    }
                }
            }
            match reason {
                Some(reason) => plan.needs_cloudformation.push(format!("{name}: {reason}")),
                None => {
                    plan.targets.extend(targets);
                    plan.machines.extend(machines);
                }
            }
        }
        plan
    }

    /// The zip of the desired code, built this pass.
    fn code_of(&self, desired: &DesiredFunction) -> Option<&[u8]> {
        let sha = hotswap::asset_sha256(&desired.code_key)?;
        self.assets
            .values()
            .find(|a| a.sha256 == sha)
            .map(|a| a.bytes.as_slice())
    }

    /// Converges every target through Lambda, concurrently across functions.
    pub async fn hotswap(
        &self,
        plan: &HotswapPlan,
        started: Instant,
    ) -> Result<Vec<Swapped>, CloudError> {
        let results = join_all(plan.targets.iter().map(|t| async move {
            let code = self.code_of(&t.desired).map(CodeSource::Zip);
            self.converge(t, code, started).await
        }))
        .await;
        let machines = join_all(
            plan.machines
                .iter()
                .map(|m| self.swap_definition(m, started)),
        )
        .await;
        results.into_iter().chain(machines).collect()
    }

    /// Writes what differs between the live function and the desired one,
    /// waiting for each update to finish. A function that will run what
    /// CloudFormation does not hold is tagged *before* anything is written:
    /// if a write or a wait fails half way, the tag still says so.
    async fn converge(
        &self,
        target: &Target,
        code: Option<CodeSource<'_>>,
        started: Instant,
    ) -> Result<Swapped, CloudError> {
        let begun = Instant::now();
        let live = &target.live;
        let desired = &target.desired;
        let function = live.name.as_str();
        let desired_sha =
            hotswap::asset_sha256(&desired.code_key).and_then(functions::code_sha256_of_hex);
        let code_differs = desired_sha.as_deref() != Some(live.code_sha256.as_str());
        let environment = live.environment != desired.environment;
        let description = live.description != desired.description;
        let mut changed = Vec::new();
        if code_differs {
            changed.push("code");
        }
        if environment {
            changed.push("environment");
        }
        if description {
            changed.push("description");
        }
        if !target.held {
            let mut swapped: BTreeSet<&str> = live
                .hotswapped
                .as_deref()
                .map(|s| s.split(',').filter(|p| !p.is_empty()).collect())
                .unwrap_or_default();
            let before = swapped.len();
            swapped.extend(changed.iter().copied());
            if swapped.len() != before || live.hotswapped.is_none() {
                let value: Vec<&str> = swapped.into_iter().collect();
                functions::tag_hotswapped(self.cloud, &live.arn, &value.join(",")).await?;
            }
        }
        let mut live_ms = None;
        let configure = environment || description;
        if code_differs {
            let code = code.unwrap_or(CodeSource::S3 {
                bucket: &desired.code_bucket,
                key: &desired.code_key,
            });
            functions::update_code(self.cloud, function, code).await?;
            live_ms = Some(started.elapsed().as_millis() as u64);
            if configure {
                // Lambda refuses a second update while one runs.
                functions::wait_updated(self.cloud, function).await?;
            } else {
                self.tail_wait(function, target.held).await?;
            }
        }
        if configure {
            functions::update_configuration(
                self.cloud,
                function,
                &desired.environment,
                &desired.description,
            )
            .await?;
            live_ms.get_or_insert(started.elapsed().as_millis() as u64);
            self.tail_wait(function, target.held).await?;
        }
        // Behind an alias, the swap reaches its callers at once (no bake):
        // the alias moves to a version of what now runs.
        let alias = self
            .environment
            .stack(&target.stack)
            .and_then(|s| {
                s.released
                    .iter()
                    .find(|r| r.logical_id == desired.logical_id)
            })
            .map(|r| r.alias.clone());
        if let (Some(alias), false, true) = (alias, target.held, !changed.is_empty()) {
            functions::publish_to_alias(self.cloud, function, &alias).await?;
            live_ms = Some(started.elapsed().as_millis() as u64);
        }
        // In line with CloudFormation again: the tag goes last, once it is true.
        if target.held && live.hotswapped.is_some() {
            functions::untag_hotswapped(self.cloud, &live.arn).await?;
        }
        Ok(Swapped {
            stack: target.stack.clone(),
            logical_id: desired.logical_id.clone(),
            function: function.to_string(),
            changed,
            live_ms,
            seconds: begun.elapsed().as_secs_f64(),
            previous_definition: None,
        })
    }

    /// Waits until Lambda finished the last update. For a hotswap, a newer
    /// change cuts the wait short: it changes nothing, and the next pass's
    /// update waits for Lambda itself. Bringing a function back in line
    /// (`held`) always waits, as the tag comes off after it.
    async fn tail_wait(&self, function: &str, held: bool) -> Result<(), CloudError> {
        if held {
            return functions::wait_updated(self.cloud, function).await;
        }
        tokio::select! {
            done = functions::wait_updated(self.cloud, function) => done,
            _ = self.stopped() => Ok(()),
        }
    }

    /// Puts a hotswapped function back to what it ran before the pass:
    /// its environment and description as read then, and the code
    /// CloudFormation holds (from the asset bucket). `Ok(false)` when the
    /// function ran an earlier hotswap's code, which is kept nowhere: it
    /// then runs the last deploy's code.
    pub(super) async fn restore(
        &self,
        observed: &Observed,
        target: &Target,
    ) -> Result<bool, CloudError> {
        let before = &target.live;
        let planned = observed
            .planned
            .iter()
            .find(|p| p.stack.name == target.stack)
            .ok_or_else(|| CloudError::new("UpdateFunctionCode", &before.name, "not planned"))?;
        let template = planned
            .deployed_template
            .as_deref()
            .unwrap_or(&planned.stack.template);
        let template = serde_json::from_str::<Json>(template)
            .map_err(|e| CloudError::new("UpdateFunctionCode", &before.name, e.to_string()))?;
        let known = self.known_for(planned, &planned.plan.parameters.values, before);
        let held = hotswap::desired_function(&template, &target.desired.logical_id, &known)
            .map_err(|e| CloudError::new("UpdateFunctionCode", &before.name, e))?;
        let now = functions::get(self.cloud, &before.name).await?;
        let previous = DesiredFunction {
            environment: before.environment.clone(),
            description: before.description.clone(),
            ..held
        };
        let exact = hotswap::asset_sha256(&previous.code_key)
            .and_then(functions::code_sha256_of_hex)
            .is_some_and(|sha| sha == before.code_sha256);
        let back = Target {
            stack: target.stack.clone(),
            live: now,
            desired: previous,
            // The tag is written back as it was below.
            held: true,
        };
        self.converge(&back, None, Instant::now()).await?;
        if let Some(tag) = &before.hotswapped {
            functions::tag_hotswapped(self.cloud, &before.arn, tag).await?;
        }
        Ok(exact)
    }

    /// After a deploy: functions that ran hotswapped code are converged on
    /// the template CloudFormation now holds (code from the asset bucket),
    /// and untagged. Returns how many were brought in line.
    pub(super) async fn settle_hotswaps(
        &self,
        observed: &Observed,
        deployed: &BTreeMap<String, DeployedStack>,
        bucket: Option<&str>,
    ) -> Result<usize, CloudError> {
        let stacks: BTreeSet<&str> = observed
            .hotswapped
            .iter()
            .map(|d| d.stack.as_str())
            .collect();
        let planned: Vec<PlannedStack> = observed
            .planned
            .iter()
            .filter(|p| stacks.contains(p.stack.name.as_str()))
            .cloned()
            .collect();
        // Read again: an update may have replaced the function or its code.
        let fresh = self.read_functions(&planned, deployed).await?;
        let mut targets = Vec::new();
        for p in &planned {
            let parameters =
                super::observe::plan_stack(&p.stack, p.plan.wave, deployed, bucket).parameters;
            let template = serde_json::from_str::<Json>(&p.stack.template)
                .map_err(|e| CloudError::new("UpdateFunctionCode", &p.stack.name, e.to_string()))?;
            for ((stack, id), live) in fresh.iter().filter(|((s, _), _)| *s == p.stack.name) {
                if live.hotswapped.is_none() {
                    continue;
                }
                let known = self.known_for(p, &parameters.values, live);
                let desired = hotswap::desired_function(&template, id, &known).map_err(|e| {
                    CloudError::new(
                        "UpdateFunctionConfiguration",
                        &live.name,
                        format!("cannot bring the hotswapped function back in line: {e}; deploy again after fixing it"),
                    )
                })?;
                targets.push(Target {
                    stack: stack.clone(),
                    live: live.clone(),
                    desired,
                    held: true,
                });
            }
        }
        let started = Instant::now();
        let results = join_all(targets.iter().map(|t| self.converge(t, None, started))).await;
        let mut count = 0;
        for result in results {
            let swapped = result?;
            self.emit(Event::HotswapSettled(swapped));
            count += 1;
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{Cloud, ConnectSettings, scripted};
    use crate::reconcile::Options;
    use std::sync::{Arc, Mutex};

    /// The requests a scripted Lambda saw, as `METHOD /path`; configuration
    /// reads (the wait) fail, as a dropped connection would.
    fn lambda_failing_the_wait() -> (Cloud, Arc<Mutex<Vec<String>>>) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = scripted::client(move |request| {
            let path = request
                .uri()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string();
            let path = path.split_once("//").map_or(path.clone(), |(_, rest)| {
                rest.split_once('/')
                    .map_or(String::new(), |(_, p)| format!("/{p}"))
            });
            log.lock()
                .unwrap()
                .push(format!("{} {path}", request.method()));
            if path.ends_with("/configuration") {
                return (500, Vec::new(), r#"{"message":"internal"}"#.into());
            }
            (
                200,
                vec![("content-type", "application/json".into())],
                "{}".into(),
            )
        });
        let settings = ConnectSettings {
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        (Cloud::with_http_client(http, &settings), seen)
    }

    fn target() -> Target {
        Target {
            stack: "app-dev-stateless".into(),
            live: LiveFunction {
                name: "app-dev-api".into(),
                arn: "arn:aws:lambda:us-east-1:000000000000:function:app-dev-api".into(),
                code_sha256: "old".into(),
                ..Default::default()
            },
            desired: DesiredFunction {
                logical_id: "ApiHandler".into(),
                code_bucket: "assets".into(),
                code_key: format!("assets/{}.zip", "ab".repeat(32)),
                environment: BTreeMap::new(),
                description: String::new(),
            },
            held: false,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_hotswap_tag_is_written_before_the_code_so_a_failed_wait_still_shows_drift() {
        let (cloud, seen) = lambda_failing_the_wait();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let (_, rendered, assets) =
            crate::load::load_environment(root, "dev").expect("the reference app loads");
        let options = Options::default();
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(&cloud, &rendered, &assets, &options, tx);
        let result = pass
            .converge(&target(), Some(CodeSource::Zip(b"zip")), Instant::now())
            .await;
        assert!(result.is_err(), "the wait failed");
        let seen = seen.lock().unwrap().clone();
        let tag = seen
            .iter()
            .position(|r| r.starts_with("POST") && r.contains("/tags/"));
        let code = seen
            .iter()
            .position(|r| r.starts_with("PUT") && r.ends_with("/code"));
        assert!(
            matches!((tag, code), (Some(t), Some(c)) if t < c),
            "the tag goes first: {seen:?}"
        );
    }
}
