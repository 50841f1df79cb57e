//! Drift: what changed outside driftless. CloudFormation's detection on
//! every stack of the environment (bounded in parallel; one detection per
//! stack at a time, a running one awaited), merged with the templates'
//! resources so that what the target cannot check is listed as not
//! checked, never as in sync; plus the live function settings driftless
//! reads on every pass.

use super::Pass;
use super::missing::missing_functions;
use super::observe::{hotswap_drift, settings_drift};
use crate::cloud::drift::{self as detection, Detection, Started};
use crate::cloud::{CloudError, stacks};
use crate::deployed::{DeployedStack, PropertyDifference};
use crate::plan::{HotswapDrift, SettingDrift};
use crate::render::RenderedStack;
use crate::retry::{Backoff, Policy};
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// Detections in flight at once. CloudFormation throttles DetectStackDrift
/// per account; four keep a 40-stack environment well under a minute on
/// AWS without meeting the throttle, and the SDK's retries absorb the rest.
pub const DETECTIONS_IN_FLIGHT: usize = 4;

/// How long one stack's detection may take by default (AWS's take seconds
/// to a few minutes for large stacks).
pub const DETECTION_TIME_LIMIT: Duration = Duration::from_secs(300);

/// A resource's drift status when the detection did not check it.
pub const NOT_CHECKED: &str = "NOT_CHECKED";

/// One resource of a stack, as the detection left it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckedResource {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `unit.resource` it renders; empty for one the specs no longer have.
    pub resource: String,
    pub physical_id: Option<String>,
    /// `IN_SYNC`, `MODIFIED`, `DELETED`, `NOT_CHECKED` or `UNKNOWN`.
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

impl CheckedResource {
    pub fn drifted(&self) -> bool {
        matches!(self.status.as_str(), "MODIFIED" | "DELETED")
    }
}

/// One stack's drift.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackDrift {
    pub stack: String,
    /// `IN_SYNC`, `DRIFTED`, `UNKNOWN` (some resources could not be
    /// checked), or `MISSING` (not deployed: nothing to check).
    pub status: String,
    pub checked_at: Option<String>,
    /// Why the detection did not check everything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub resources: Vec<CheckedResource>,
}

/// An environment's drift.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DriftReport {
    pub stacks: Vec<StackDrift>,
    /// Live function settings that differ (reserved concurrency).
    pub settings: Vec<SettingDrift>,
    /// Functions running hotswapped code or configuration.
    pub hotswapped: Vec<HotswapDrift>,
}

impl DriftReport {
    pub fn drifted(&self) -> bool {
        self.drifted_resources().next().is_some()
            || !self.settings.is_empty()
            || !self.hotswapped.is_empty()
    }

    pub fn drifted_resources(&self) -> impl Iterator<Item = (&StackDrift, &CheckedResource)> {
        self.stacks
            .iter()
            .flat_map(|s| s.resources.iter().map(move |r| (s, r)))
            .filter(|(_, r)| r.drifted())
    }

    pub fn not_checked(&self) -> usize {
        self.stacks
            .iter()
            .flat_map(|s| &s.resources)
            .filter(|r| r.status == NOT_CHECKED || r.status == "UNKNOWN")
            .count()
    }
}

/// The rendered resources merged with the detected ones: each rendered
/// resource the detection did not list is `NOT_CHECKED`. Differences that
/// may hold a secret (see [`may_hold_a_secret`]) are marked so.
pub fn merge(
    stack: &RenderedStack,
    detected: Vec<crate::deployed::ResourceDrift>,
    secrets: &[String],
) -> Vec<CheckedResource> {
    let mut merged = merge_detected(stack, detected);
    let template: serde_json::Value = serde_json::from_str(&stack.template).unwrap_or_default();
    for r in &mut merged {
        for d in &mut r.differences {
            d.secret = may_hold_a_secret(&template, &r.logical_id, d, secrets);
        }
    }
    merged
}

/// Whether a difference may show a secret: it holds the value of one, or
/// it is a function's environment variable that a secret param feeds or
/// that the template does not have (where its value came from cannot be
/// told).
pub fn may_hold_a_secret(
    template: &serde_json::Value,
    logical_id: &str,
    d: &PropertyDifference,
    secrets: &[String],
) -> bool {
    let holds = |v: &str| {
        secrets
            .iter()
            .any(|s| !s.is_empty() && v.contains(s.as_str()))
    };
    if holds(&d.expected) || holds(&d.actual) {
        return true;
    }
    let path = d.path.replace('.', "/");
    let Some(name) = path
        .trim_start_matches('/')
        .strip_prefix("Environment/Variables")
        .map(|rest| rest.trim_start_matches('/'))
    else {
        return false;
    };
    let variables = &template["Resources"][logical_id]["Properties"]["Environment"]["Variables"];
    match (name, variables.get(name)) {
        // The whole map differs: any of its values may be secret.
        ("", _) => true,
        (_, None) => true,
        (_, Some(value)) => crate::render::taint::is_secret(template, value),
    }
}

fn merge_detected(
    stack: &RenderedStack,
    detected: Vec<crate::deployed::ResourceDrift>,
) -> Vec<CheckedResource> {
    let mut by_id: BTreeMap<String, crate::deployed::ResourceDrift> = detected
        .into_iter()
        .map(|d| (d.logical_id.clone(), d))
        .collect();
    let mut merged: Vec<CheckedResource> = stack
        .resources
        .iter()
        .map(|r| {
            let found = by_id.remove(&r.logical_id);
            CheckedResource {
                logical_id: r.logical_id.clone(),
                resource_type: r.type_name.clone(),
                resource: format!("{}.{}", r.unit, r.resource),
                physical_id: found.as_ref().and_then(|d| d.physical_id.clone()),
                status: found
                    .as_ref()
                    .map_or(NOT_CHECKED.to_string(), |d| d.status.clone()),
                differences: found.map(|d| d.differences).unwrap_or_default(),
            }
        })
        .collect();
    merged.extend(by_id.into_values().map(|d| CheckedResource {
        logical_id: d.logical_id,
        resource_type: d.resource_type,
        resource: String::new(),
        physical_id: d.physical_id,
        status: d.status,
        differences: d.differences,
    }));
    merged
}

/// The stack's status from its resources.
fn stack_status(resources: &[CheckedResource], failed: bool) -> &'static str {
    if resources.iter().any(CheckedResource::drifted) {
        "DRIFTED"
    } else if failed || resources.iter().any(|r| r.status == "UNKNOWN") {
        "UNKNOWN"
    } else if !resources.is_empty() && resources.iter().all(|r| r.status == NOT_CHECKED) {
        NOT_CHECKED
    } else {
        "IN_SYNC"
    }
}

impl Pass<'_> {
    /// Detects drift on every stack of the environment, `DETECTIONS_IN_FLIGHT`
    /// at a time, each within `limit`.
    pub async fn detect_drift(&self, limit: Duration) -> Result<DriftReport, CloudError> {
        let deployed = stacks::list(self.cloud).await?;
        self.detect_drift_of(&deployed, limit).await
    }

    pub(crate) async fn detect_drift_of(
        &self,
        deployed: &BTreeMap<String, DeployedStack>,
        limit: Duration,
    ) -> Result<DriftReport, CloudError> {
        let env = self.environment;
        let ordered: Vec<&RenderedStack> = env
            .waves
            .iter()
            .flatten()
            .filter_map(|name| env.stack(name))
            .collect();
        let detections = futures_util::stream::iter(ordered.iter().map(|stack| async move {
            match deployed.get(&stack.name) {
                None => Ok(StackDrift {
                    stack: stack.name.clone(),
                    status: "MISSING".into(),
                    checked_at: None,
                    reason: Some("not deployed".into()),
                    resources: Vec::new(),
                }),
                Some(d) => self.detect_stack(stack, d, limit).await,
            }
        }))
        .buffered(DETECTIONS_IN_FLIGHT)
        .collect::<Vec<_>>();
        let rendered: Vec<&RenderedStack> = ordered.clone();
        let functions = self.read_functions_of(&rendered, deployed);
        let (detections, functions) = tokio::join!(detections, functions);
        let functions = functions?;
        let mut report = DriftReport {
            settings: settings_drift(ordered.iter().copied(), &functions).1,
            hotswapped: hotswap_drift(&functions),
            ..Default::default()
        };
        for drift in detections {
            report.stacks.push(drift?);
        }
        // A function deleted by hand is deleted, whether or not the
        // detection looked at it.
        mark_deleted(
            &mut report,
            &missing_functions(&rendered, deployed, &functions),
        );
        Ok(report)
    }

    /// One stack: start a detection (or await the one running), wait for
    /// it, read what it checked.
    async fn detect_stack(
        &self,
        stack: &RenderedStack,
        deployed: &DeployedStack,
        limit: Duration,
    ) -> Result<StackDrift, CloudError> {
        let name = &stack.name;
        let mut backoff = Backoff::new(Policy::doubling(
            Duration::from_millis(250),
            Duration::from_secs(5),
        ))
        .within(limit);
        let timed_out = || {
            CloudError::new(
                "DescribeStackDriftDetectionStatus",
                name,
                format!(
                    "the drift detection did not finish within {}s; run `drift` again later",
                    limit.as_secs()
                ),
            )
        };
        let mut failed = None;
        match detection::start(self.cloud, name).await? {
            Started::Id(id) => loop {
                match detection::status(self.cloud, name, &id).await? {
                    Detection::Complete => break,
                    Detection::Failed(reason) => {
                        failed = Some(reason);
                        break;
                    }
                    Detection::InProgress if backoff.wait().await => {}
                    Detection::InProgress => return Err(timed_out()),
                }
            },
            Started::AlreadyRunning => {
                // Someone else's detection: its result lands on the stack
                // once it ends (its last check time moves).
                let before = deployed.drift_checked_at.clone();
                loop {
                    if !backoff.wait().await {
                        return Err(timed_out());
                    }
                    let now = stacks::describe(self.cloud, name).await?;
                    if now.is_some_and(|s| s.drift_checked_at != before) {
                        break;
                    }
                }
            }
        }
        let detected = detection::resource_drifts(self.cloud, name).await?;
        let resources = merge(stack, detected, &self.secret_values());
        let checked_at = stacks::describe(self.cloud, name)
            .await?
            .and_then(|s| s.drift_checked_at);
        Ok(StackDrift {
            stack: name.clone(),
            status: stack_status(&resources, failed.is_some()).into(),
            checked_at,
            reason: failed,
            resources,
        })
    }
}

/// Marks the `missing` resources `DELETED` in their stacks' drift.
fn mark_deleted(report: &mut DriftReport, missing: &[super::Missing]) {
    for m in missing {
        let Some(stack) = report.stacks.iter_mut().find(|s| s.stack == m.stack) else {
            continue;
        };
        stack.status = "DRIFTED".into();
        match stack
            .resources
            .iter_mut()
            .find(|r| r.logical_id == m.logical_id)
        {
            Some(r) => r.status = "DELETED".into(),
            None => stack.resources.push(CheckedResource {
                logical_id: m.logical_id.clone(),
                resource_type: m.type_name.into(),
                resource: String::new(),
                physical_id: Some(m.name.clone()),
                status: "DELETED".into(),
                differences: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployed::ResourceDrift;
    use crate::render::ResourceSummary;
    use crate::spec::Tier;
    use tokio::time::Instant;

    fn rendered() -> RenderedStack {
        let summary = |id: &str, ty: &str| ResourceSummary {
            logical_id: id.into(),
            type_name: ty.into(),
            unit: "api".into(),
            resource: "handler".into(),
            retain: false,
        };
        RenderedStack {
            key: "stateless".into(),
            name: "app-dev-stateless".into(),
            tier: Tier::Stateless,
            units: vec!["api".into()],
            parameters: vec![],
            resources: vec![
                summary("ApiHandler", "AWS::Lambda::Function"),
                summary("ApiHttp", "AWS::ApiGatewayV2::Api"),
            ],
            outputs: vec![],
            secret_outputs: Default::default(),
            depends_on: vec![],
            functions: vec![],
            machines: Vec::new(),
            buckets: vec![],
            released: Vec::new(),
            template: "{}".into(),
            hash: String::new(),
        }
    }

    #[test]
    fn an_environment_variable_is_hidden_unless_its_source_is_told() {
        let template = serde_json::json!({
            "Parameters": { "SecretToken": { "Type": "String", "NoEcho": true } },
            "Resources": { "Fn": { "Type": "AWS::Lambda::Function", "Properties": {
                "Environment": { "Variables": { "TOKEN": { "Ref": "SecretToken" }, "TABLE": "users" } },
                "MemorySize": 256
            } } }
        });
        let diff = |path: &str, expected: &str, actual: &str| PropertyDifference {
            path: path.into(),
            expected: expected.into(),
            actual: actual.into(),
            kind: "NOT_EQUAL".into(),
            secret: false,
        };
        let secret =
            |d: &PropertyDifference| may_hold_a_secret(&template, "Fn", d, &["s3cr3t".into()]);
        assert!(secret(&diff("/Environment/Variables/TOKEN", "a", "b")));
        assert!(!secret(&diff(
            "/Environment/Variables/TABLE",
            "users",
            "other"
        )));
        assert!(
            secret(&diff("/Environment/Variables/ADDED", "", "x")),
            "where it came from cannot be told"
        );
        assert!(!secret(&diff("/MemorySize", "256", "512")));
        assert!(secret(&diff("/Description", "", "has s3cr3t in it")));
        let mut shown = diff("/Environment/Variables/TOKEN", "a", "b");
        shown.secret = true;
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["expected"], "(hidden)");
        assert_eq!(shown.expected, "a", "healing still has the value");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_detection_backs_off_and_gives_up_at_its_limit() {
        let started = Instant::now();
        let mut backoff = Backoff::new(Policy::doubling(
            Duration::from_millis(250),
            Duration::from_secs(5),
        ))
        .within(Duration::from_secs(10));
        let mut waits = Vec::new();
        let mut last = started;
        while backoff.wait().await {
            waits.push(last.elapsed());
            last = Instant::now();
        }
        assert_eq!(waits[0], Duration::from_millis(250));
        assert_eq!(waits[1], Duration::from_millis(500));
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(5)));
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[test]
    fn a_resource_the_detection_did_not_list_is_not_checked_never_in_sync() {
        let detected = vec![ResourceDrift {
            logical_id: "ApiHandler".into(),
            physical_id: Some("fn".into()),
            resource_type: "AWS::Lambda::Function".into(),
            status: "MODIFIED".into(),
            differences: vec![PropertyDifference {
                path: "/MemorySize".into(),
                expected: "256".into(),
                actual: "512".into(),
                kind: "NOT_EQUAL".into(),
                secret: false,
            }],
        }];
        let merged = merge(&rendered(), detected, &[]);
        assert_eq!(merged[0].status, "MODIFIED");
        assert_eq!(merged[0].resource, "api.handler");
        assert_eq!(merged[1].logical_id, "ApiHttp");
        assert_eq!(merged[1].status, NOT_CHECKED);
        assert_eq!(stack_status(&merged, false), "DRIFTED");
        let unchecked = merge(&rendered(), vec![], &[]);
        assert_eq!(stack_status(&unchecked, false), NOT_CHECKED);
        assert_eq!(stack_status(&unchecked, true), "UNKNOWN");
        let mut quiet = merge(&rendered(), vec![], &[]);
        quiet[0].status = "IN_SYNC".into();
        assert_eq!(stack_status(&quiet, false), "IN_SYNC");
    }
}
