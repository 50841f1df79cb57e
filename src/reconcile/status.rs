//! An environment's status at a glance: sync (does what is deployed match
//! the specs), the revision each stack was applied from, drift as of the
//! last detection, health with its reasons, and the last pass.

use super::Pass;
use super::observe::Observed;
use crate::cloud::alarms::{self, AlarmState};
use crate::cloud::{CloudError, stacks, state};
use crate::deployed::{Condition, DeployedStack, PassRecord, REVISION_TAG, Suspension};
use serde::Serialize;

/// `healthy`, `progressing`, `degraded` or `missing`; the worst wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Progressing,
    Missing,
    Degraded,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Progressing => "progressing",
            Health::Missing => "missing",
            Health::Degraded => "degraded",
        }
    }
}

/// One stack's line.
#[derive(Clone, Debug, Serialize)]
pub struct StackStatus {
    pub stack: String,
    /// CloudFormation's status; `null` when not deployed.
    pub status: Option<String>,
    /// The plan's action (`no_op` when in sync) and why.
    pub action: String,
    pub reason: String,
    pub revision: Option<String>,
    /// As of the last detection: `IN_SYNC`, `DRIFTED`, `NOT_CHECKED`, ...
    pub drift: Option<String>,
    pub drift_checked_at: Option<String>,
    /// Its resources deleted outside CloudFormation, as read this time.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// An environment's status.
#[derive(Clone, Debug, Serialize)]
pub struct EnvironmentStatus {
    pub app: String,
    pub environment: String,
    /// `synced` or `out_of_sync`.
    pub sync: &'static str,
    /// What is out of sync, one line each.
    pub out_of_sync: Vec<String>,
    pub drifted: bool,
    pub health: Health,
    pub health_reasons: Vec<String>,
    pub stacks: Vec<StackStatus>,
    pub alarms: Vec<AlarmState>,
    pub last_pass: Option<PassRecord>,
    /// The reconcile loop must not apply it (`driftless suspend`).
    pub suspended: Option<Suspension>,
}

/// Health from what the stacks, the alarms and the last pass say.
pub fn health(
    stacks: &[StackStatus],
    alarms: &[AlarmState],
    last_pass: Option<&PassRecord>,
) -> (Health, Vec<String>) {
    let mut worst = Health::Healthy;
    let mut reasons = Vec::new();
    let mut note = |h: Health, reason: String, worst: &mut Health| {
        *worst = (*worst).max(h);
        reasons.push(reason);
    };
    for s in stacks {
        for resource in &s.missing {
            note(
                Health::Missing,
                format!("{} {resource} was deleted outside CloudFormation", s.stack),
                &mut worst,
            );
        }
        match s.status.as_deref() {
            None => note(
                Health::Missing,
                format!("{} is not deployed", s.stack),
                &mut worst,
            ),
            Some(status) => match crate::deployed::condition_of(status) {
                Condition::InProgress => note(
                    Health::Progressing,
                    format!("{} is {status}", s.stack),
                    &mut worst,
                ),
                Condition::Settled if status != "UPDATE_ROLLBACK_COMPLETE" => {}
                _ => note(
                    Health::Degraded,
                    format!("{} is {status}", s.stack),
                    &mut worst,
                ),
            },
        }
    }
    for alarm in alarms {
        match alarm.state.as_str() {
            "ALARM" => note(
                Health::Degraded,
                format!("alarm {} is in ALARM: {}", alarm.name, alarm.reason),
                &mut worst,
            ),
            // Reported, not degraded: a quiet metric has no data.
            "INSUFFICIENT_DATA" => note(
                Health::Healthy,
                format!("alarm {} has insufficient data", alarm.name),
                &mut worst,
            ),
            _ => {}
        }
    }
    if let Some(pass) = last_pass
        && matches!(pass.checks.as_deref(), Some("failed" | "rolled_back"))
    {
        note(
            Health::Degraded,
            format!(
                "the smoke checks of the last pass ({}) {}",
                pass.command,
                if pass.checks.as_deref() == Some("failed") {
                    "failed"
                } else {
                    "failed, and it rolled back"
                }
            ),
            &mut worst,
        );
    }
    (worst, reasons)
}

fn stack_line(planned: &super::PlannedStack, deployed: Option<&DeployedStack>) -> StackStatus {
    StackStatus {
        stack: planned.stack.name.clone(),
        status: deployed.map(|d| d.status.clone()),
        action: planned.plan.action.name().to_string(),
        reason: planned.plan.reason.clone(),
        revision: deployed.and_then(|d| d.tags.get(REVISION_TAG).cloned()),
        drift: deployed.and_then(|d| d.drift_status.clone()),
        drift_checked_at: deployed.and_then(|d| d.drift_checked_at.clone()),
        missing: planned.missing.clone(),
    }
}

/// The environment's stacks, one line each, as `observed` shows them.
fn stack_lines(observed: &Observed, env: &crate::render::RenderedEnvironment) -> Vec<StackStatus> {
    observed
        .planned
        .iter()
        .filter(|p| env.stack(&p.stack.name).is_some())
        .map(|p| stack_line(p, observed.stacks.get(&p.stack.name)))
        .collect()
}

/// Health from the stacks alone, as one observation shows them (the
/// loop's cheap view: no alarms, no records).
pub fn stacks_health(observed: &Observed, env: &crate::render::RenderedEnvironment) -> Health {
    health(&stack_lines(observed, env), &[], None).0
}

impl Pass<'_> {
    /// Health as the reconcile loop reads it every tick: the stacks of an
    /// observation made anyway, and the alarms (their names from the
    /// stacks that declare one, then one DescribeAlarms).
    pub async fn loop_health(
        &self,
        observed: &Observed,
    ) -> Result<(Health, Vec<String>), CloudError> {
        let env = self.environment;
        let stacks = stack_lines(observed, env);
        let alarms = self.alarm_states(observed).await?;
        Ok(health(&stacks, &alarms, None))
    }

    /// The environment's status: one observation, the alarms its
    /// templates declare, and the last pass's record.
    pub async fn status(&self) -> Result<EnvironmentStatus, CloudError> {
        let observed = self.observe().await?;
        let env = self.environment;
        let stacks = stack_lines(&observed, env);
        let records = async {
            match &observed.asset_bucket {
                Some(bucket) => {
                    let (pass, suspended) = tokio::join!(
                        state::read_last_pass(self.cloud, bucket, &env.app, &env.environment),
                        state::read_suspension(self.cloud, bucket, &env.app, &env.environment)
                    );
                    Ok((pass?, suspended?))
                }
                None => Ok((None, None)),
            }
        };
        let (alarms, records) = tokio::join!(self.alarm_states(&observed), records);
        let alarms = alarms?;
        let (last_pass, suspended) = records?;
        let (mut health, mut health_reasons) = health(&stacks, &alarms, last_pass.as_ref());
        let aliases = self.alias_states(&observed).await?;
        // A release's record stays while it shifts, and after a pass that
        // was cut short in it: where it stood, and whose it was.
        let release = match &observed.asset_bucket {
            Some(bucket) => {
                let key = state::release_key(&env.app, &env.environment);
                state::read_json::<super::release::ReleaseRecord>(self.cloud, bucket, &key).await?
            }
            None => None,
        };
        if !aliases.shifting.is_empty() {
            health = health.max(Health::Progressing);
            health_reasons.extend(aliases.shifting.iter().cloned());
        }
        let mut out_of_sync = out_of_sync(&observed);
        out_of_sync.extend(aliases.shifting.iter().cloned());
        out_of_sync.extend(aliases.moved.iter().cloned());
        if let Some(r) = &release {
            let left = r.until - self.cloud.store_now();
            let when = match left > 0 {
                true => format!("about {left} s left"),
                false => {
                    "past its end: the pass was cut short, and the next one finishes it".into()
                }
            };
            out_of_sync.push(format!(
                "{}: a release started by {} at {} ({}) has not ended; {when}",
                r.stack,
                r.by,
                r.at,
                r.functions.join(", ")
            ));
        }
        let drifted = stacks.iter().any(|s| s.drift.as_deref() == Some("DRIFTED"))
            || !observed.drift.is_empty()
            || !observed.hotswapped.is_empty()
            || !aliases.moved.is_empty();
        Ok(EnvironmentStatus {
            app: env.app.clone(),
            environment: env.environment.clone(),
            sync: if out_of_sync.is_empty() {
                "synced"
            } else {
                "out_of_sync"
            },
            out_of_sync,
            drifted,
            health,
            health_reasons,
            stacks,
            alarms,
            last_pass,
            suspended,
        })
    }

    /// The state of every alarm the deployed templates declare: their
    /// physical names from the stacks' resources, then one DescribeAlarms.
    async fn alarm_states(&self, observed: &Observed) -> Result<Vec<AlarmState>, CloudError> {
        let with_alarms = observed.planned.iter().filter(|p| {
            observed.stacks.contains_key(&p.stack.name)
                && p.stack
                    .resources
                    .iter()
                    .any(|r| r.type_name == "AWS::CloudWatch::Alarm")
        });
        let mut names = Vec::new();
        for p in with_alarms {
            for r in stacks::resources(self.cloud, &p.stack.name).await? {
                if r.resource_type == "AWS::CloudWatch::Alarm"
                    && let Some(name) = r.physical_id
                {
                    names.push(name);
                }
            }
        }
        if names.is_empty() {
            return Ok(Vec::new());
        }
        alarms::states(self.cloud, &names).await
    }
}

/// What differs between the specs and what is deployed, one line each.
fn out_of_sync(observed: &Observed) -> Vec<String> {
    let mut lines: Vec<String> = observed
        .planned
        .iter()
        .filter(|p| p.plan.action.changes())
        .map(|p| {
            format!(
                "{}: {} ({})",
                p.stack.name,
                p.plan.action.name(),
                p.plan.reason
            )
        })
        .collect();
    lines.extend(
        observed
            .content
            .iter()
            .filter(|c| c.diff.changes())
            .map(|c| {
                format!(
                    "{}: content of {} ({} to put, {} to delete)",
                    c.stack,
                    c.resource,
                    c.diff.put.len(),
                    c.diff.delete.len()
                )
            }),
    );
    lines.extend(
        observed
            .unprotected
            .iter()
            .map(|s| format!("{s}: termination protection is off")),
    );
    lines.extend(observed.orphans.iter().map(|o| o.describe()));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(status: Option<&str>) -> StackStatus {
        StackStatus {
            stack: "app-dev-stateless".into(),
            status: status.map(str::to_string),
            action: "no_op".into(),
            reason: String::new(),
            revision: None,
            missing: Vec::new(),
            drift: None,
            drift_checked_at: None,
        }
    }

    fn alarm(state: &str) -> AlarmState {
        AlarmState {
            name: "errors".into(),
            state: state.into(),
            reason: "threshold crossed".into(),
        }
    }

    #[test]
    fn a_resource_deleted_by_hand_makes_its_stack_missing_and_is_named() {
        let mut line = stack(Some("UPDATE_COMPLETE"));
        line.missing = vec!["ApiHandler".into()];
        let (health, reasons) = health(&[line], &[alarm("OK")], None);
        assert_eq!(health, Health::Missing);
        assert_eq!(
            reasons,
            ["app-dev-stateless ApiHandler was deleted outside CloudFormation"]
        );
    }

    #[test]
    fn health_is_the_worst_of_stacks_alarms_and_checks() {
        assert_eq!(
            health(&[stack(Some("UPDATE_COMPLETE"))], &[], None).0,
            Health::Healthy
        );
        assert_eq!(health(&[stack(None)], &[], None).0, Health::Missing);
        assert_eq!(
            health(&[stack(Some("UPDATE_IN_PROGRESS"))], &[], None).0,
            Health::Progressing
        );
        assert_eq!(
            health(&[stack(Some("UPDATE_ROLLBACK_COMPLETE"))], &[], None).0,
            Health::Degraded
        );
        let (h, reasons) = health(&[stack(None)], &[alarm("ALARM")], None);
        assert_eq!(h, Health::Degraded);
        assert!(
            reasons.iter().any(|r| r.contains("errors is in ALARM")),
            "{reasons:?}"
        );
    }

    #[test]
    fn failed_checks_in_the_last_pass_degrade_the_environment() {
        let pass = PassRecord {
            app: "app".into(),
            environment: "dev".into(),
            at: 0,
            by: "me".into(),
            command: "deploy".into(),
            revision: None,
            result: "failed".into(),
            exit_code: 7,
            checks: Some("failed".into()),
            changed: vec![],
            error: None,
            forced_by: None,
        };
        let (h, reasons) = health(&[stack(Some("UPDATE_COMPLETE"))], &[], Some(&pass));
        assert_eq!(h, Health::Degraded);
        assert!(reasons[0].contains("smoke checks"), "{reasons:?}");
        let passed = PassRecord {
            checks: Some("passed".into()),
            ..pass
        };
        assert_eq!(
            health(&[stack(Some("UPDATE_COMPLETE"))], &[], Some(&passed)).0,
            Health::Healthy
        );
    }

    #[test]
    fn an_alarm_without_data_is_reported_not_degraded() {
        let (h, reasons) = health(
            &[stack(Some("CREATE_COMPLETE"))],
            &[alarm("INSUFFICIENT_DATA")],
            None,
        );
        assert_eq!(h, Health::Healthy);
        assert_eq!(reasons.len(), 1);
    }
}
