//! Healing drift: drifted resources put back to their templates, then the
//! drift detected again, so that a heal is claimed only where the second
//! detection finds the resource in sync.
//!
//! On AWS a drifted stack gets a drift-aware change set (`DeploymentMode:
//! REVERT_DRIFT`, on the template it runs), under the same data-loss guard
//! as every change set. Against an endpoint (the local emulator has no
//! drift-aware change sets) only functions are healed, through the Lambda
//! API; every other drifted resource is reported as not revertible there.

use super::Pass;
use super::change_set::{ChangeSetRun, change_set_name};
use super::drift::{CheckedResource, DriftReport, StackDrift};
use crate::cloud::CloudError;
use crate::cloud::functions::{self, ConfigurationFix};
use crate::cloud::stacks::{self, ChangeSetRequest};
use crate::deployed::{DeployedStack, PropertyDifference};
use serde::Serialize;
use std::collections::BTreeMap;

/// How a drifted resource ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealResult {
    /// Put back, and the detection after it finds it in sync.
    Healed,
    /// Put back, but the detection after it still finds it drifted.
    StillDrifted,
    /// The target cannot put it back; nothing was sent for it.
    NotRevertible,
    /// Putting it back would replace or remove a retained resource.
    Refused,
    Failed,
}

/// One drifted resource and what healing did to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Heal {
    pub stack: String,
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub resource: String,
    /// `lambda` (UpdateFunctionConfiguration) or `change_set` (REVERT_DRIFT).
    pub through: Option<&'static str>,
    pub result: HealResult,
    pub detail: String,
}

/// What healing did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HealReport {
    pub heals: Vec<Heal>,
}

impl HealReport {
    /// Every drifted resource is back in sync.
    pub fn complete(&self) -> bool {
        self.heals.iter().all(|h| h.result == HealResult::Healed)
    }
}

/// The function settings the Lambda API can put back, from a detection's
/// property differences; `Err` names the first property it cannot.
pub fn lambda_fix(
    differences: &[PropertyDifference],
    live_environment: &BTreeMap<String, String>,
) -> Result<ConfigurationFix, String> {
    let mut fix = ConfigurationFix::default();
    let mut environment = live_environment.clone();
    let mut environment_changed = false;
    let number = |d: &PropertyDifference| {
        d.expected
            .parse::<i32>()
            .map_err(|_| format!("{} expected `{}`, not a number", d.path, d.expected))
    };
    for d in differences {
        match d.path.as_str() {
            "/MemorySize" => fix.memory = Some(number(d)?),
            "/Timeout" => fix.timeout = Some(number(d)?),
            "/Handler" => fix.handler = Some(d.expected.clone()),
            "/Runtime" => fix.runtime = Some(d.expected.clone()),
            "/Description" => fix.description = Some(d.expected.clone()),
            path => match path.strip_prefix("/Environment/Variables/") {
                Some(key) if !key.is_empty() && !key.contains('/') => {
                    environment_changed = true;
                    if d.kind == "ADD" {
                        // Added outside the template: not in the template.
                        environment.remove(key);
                    } else {
                        environment.insert(key.to_string(), d.expected.clone());
                    }
                }
                _ => {
                    return Err(format!("{path} cannot be put back through the Lambda API"));
                }
            },
        }
    }
    if environment_changed {
        fix.environment = Some(environment);
    }
    Ok(fix)
}

fn heal_of(stack: &StackDrift, r: &CheckedResource) -> Heal {
    Heal {
        stack: stack.stack.clone(),
        logical_id: r.logical_id.clone(),
        resource_type: r.resource_type.clone(),
        resource: r.resource.clone(),
        through: None,
        result: HealResult::NotRevertible,
        detail: String::new(),
    }
}

impl Pass<'_> {
    /// Detects drift, puts back what the target can, detects again, and
    /// says per resource how it ended.
    pub(super) async fn revert_drift(
        &self,
        deployed: &BTreeMap<String, DeployedStack>,
        unchanged: bool,
    ) -> Result<HealReport, CloudError> {
        let limit = super::drift::DETECTION_TIME_LIMIT;
        let before = match (&self.options.known_drift, unchanged) {
            (Some(known), true) => known.as_ref().clone(),
            _ => self.detect_drift_of(deployed, limit).await?,
        };
        if before.drifted_resources().next().is_none() {
            return Ok(HealReport::default());
        }
        let mut heals = match self.cloud.endpoint {
            None => self.revert_with_change_sets(&before, deployed).await,
            Some(_) => self.revert_through_lambda(&before).await,
        };
        let sent = heals.iter().any(|h| h.through.is_some());
        if sent {
            let after = self.detect_drift_of(deployed, limit).await?;
            for heal in heals.iter_mut().filter(|h| h.result == HealResult::Healed) {
                let still = after
                    .drifted_resources()
                    .any(|(s, r)| s.stack == heal.stack && r.logical_id == heal.logical_id);
                if still {
                    heal.result = HealResult::StillDrifted;
                    heal.detail = "the detection after the heal still finds it drifted".into();
                }
            }
        }
        for heal in &heals {
            self.emit(super::Event::Heal(heal.clone()));
        }
        Ok(HealReport { heals })
    }

    /// Functions through `UpdateFunctionConfiguration`; nothing else.
    async fn revert_through_lambda(&self, report: &DriftReport) -> Vec<Heal> {
        let mut heals = Vec::new();
        for (stack, r) in report.drifted_resources() {
            let mut heal = heal_of(stack, r);
            let function = r.physical_id.clone().unwrap_or_default();
            if r.resource_type != "AWS::Lambda::Function" || r.status != "MODIFIED" {
                heal.detail = "the target has no drift-aware change sets (DeploymentMode REVERT_DRIFT): put it back by hand, or heal it on AWS".into();
                heals.push(heal);
                continue;
            }
            heal.through = Some("lambda");
            let live = match functions::get(self.cloud, &function).await {
                Ok(live) => live,
                Err(e) => {
                    heal.result = HealResult::Failed;
                    heal.detail = e.to_string();
                    heals.push(heal);
                    continue;
                }
            };
            match lambda_fix(&r.differences, &live.environment) {
                Err(why) => {
                    heal.through = None;
                    heal.detail = why;
                }
                Ok(fix) => match functions::apply_fix(self.cloud, &function, &fix).await {
                    Ok(()) => {
                        heal.result = HealResult::Healed;
                        heal.detail = r
                            .differences
                            .iter()
                            .map(|d| format!("{} -> {}", d.path, d.expected))
                            .collect::<Vec<_>>()
                            .join(", ");
                    }
                    Err(e) => {
                        heal.result = HealResult::Failed;
                        heal.detail = e.to_string();
                    }
                },
            }
            heals.push(heal);
        }
        heals
    }

    /// One drift-aware change set per drifted stack, on the template and
    /// parameters it runs, refused where it would replace or remove a
    /// retained resource.
    async fn revert_with_change_sets(
        &self,
        report: &DriftReport,
        deployed: &BTreeMap<String, DeployedStack>,
    ) -> Vec<Heal> {
        let mut heals = Vec::new();
        for stack in report.stacks.iter().filter(|s| s.status == "DRIFTED") {
            let drifted: Vec<&CheckedResource> =
                stack.resources.iter().filter(|r| r.drifted()).collect();
            let mark = |result: HealResult, detail: &str| -> Vec<Heal> {
                drifted
                    .iter()
                    .map(|r| Heal {
                        through: Some("change_set"),
                        result: result.clone(),
                        detail: detail.to_string(),
                        ..heal_of(stack, r)
                    })
                    .collect()
            };
            let (Some(rendered), Some(current)) = (
                self.environment.stack(&stack.stack),
                deployed.get(&stack.stack),
            ) else {
                continue;
            };
            let keep: Vec<String> = current.parameters.keys().cloned().collect();
            let retained = match stacks::template(self.cloud, &stack.stack).await {
                Ok(body) => serde_json::from_str(&body)
                    .map(|t| super::observe::retained_ids(&t))
                    .unwrap_or_default(),
                Err(e) => {
                    heals.extend(mark(HealResult::Failed, &e.to_string()));
                    continue;
                }
            };
            let run = self
                .run_change_set(
                    ChangeSetRequest {
                        stack: &stack.stack,
                        name: &change_set_name(),
                        create: false,
                        template: "",
                        parameters: &BTreeMap::new(),
                        keep_previous: &keep,
                        tags: &current.tags,
                        revert_drift: true,
                        bucket: None,
                    },
                    true,
                    |changes| {
                        self.destroying_changes(
                            rendered,
                            &retained,
                            &self.options.allow_replace,
                            changes,
                        )
                    },
                )
                .await;
            heals.extend(match run {
                Ok(ChangeSetRun::Executed { failure: None, .. }) => {
                    mark(HealResult::Healed, "reverted by a drift-aware change set")
                }
                Ok(ChangeSetRun::Executed {
                    failure: Some(f), ..
                }) => mark(HealResult::Failed, &f),
                Ok(ChangeSetRun::Destroys(hazards)) => mark(
                    HealResult::Refused,
                    &format!(
                        "reverting would {} {}; nothing was changed",
                        hazards.first().map_or("replace", |h| h.action),
                        hazards.first().map_or("", |h| h.resource.as_str())
                    ),
                ),
                Ok(ChangeSetRun::Empty(_)) => mark(
                    HealResult::StillDrifted,
                    "CloudFormation found nothing to revert",
                ),
                Ok(ChangeSetRun::Rejected(reason)) => mark(HealResult::Failed, &reason),
                Ok(ChangeSetRun::NotExecuted) => mark(HealResult::Failed, "the pass stopped first"),
                Err(e) => mark(HealResult::Failed, &e.to_string()),
            });
        }
        heals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(path: &str, expected: &str, kind: &str) -> PropertyDifference {
        PropertyDifference {
            path: path.into(),
            expected: expected.into(),
            actual: "x".into(),
            kind: kind.into(),
            secret: false,
        }
    }

    #[test]
    fn the_lambda_fix_takes_the_templates_values() {
        let live = BTreeMap::from([
            ("TABLE".to_string(), "hand-edited".to_string()),
            ("EXTRA".to_string(), "added".to_string()),
        ]);
        let fix = lambda_fix(
            &[
                diff("/MemorySize", "256", "NOT_EQUAL"),
                diff("/Environment/Variables/TABLE", "users", "NOT_EQUAL"),
                diff("/Environment/Variables/EXTRA", "", "ADD"),
            ],
            &live,
        )
        .expect("a fix");
        assert_eq!(fix.memory, Some(256));
        assert_eq!(
            fix.environment,
            Some(BTreeMap::from([("TABLE".to_string(), "users".to_string())]))
        );
    }

    #[test]
    fn a_property_the_lambda_api_cannot_write_is_named() {
        let err = lambda_fix(
            &[diff("/Role", "arn:aws:iam::1:role/r", "NOT_EQUAL")],
            &BTreeMap::new(),
        )
        .expect_err("not revertible");
        assert!(err.contains("/Role"), "{err}");
    }
}
