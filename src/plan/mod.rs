//! Planning against deployed state, as pure functions: the parameter values a
//! stack gets, its deploy-time hash, and what must happen to it.

pub mod account;
pub mod diff;
pub mod guard;
pub mod hotswap;
pub mod release;
pub mod restore;

use crate::deployed::{Condition, DeployedStack};
use crate::render::{ParameterSource, RenderedStack};
use diff::ResourceChange;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    NoOp,
    /// A failed create: delete the empty stack, then create it.
    Recreate,
    /// Another operation is running; wait for it, then look again.
    Wait,
    /// `UPDATE_ROLLBACK_FAILED`: continue the rollback, then update.
    ContinueRollback,
    /// The stack needs a person first (`DELETE_FAILED`, ...).
    Blocked,
    Delete,
    /// Back to the template it had before the pass (failed smoke checks).
    RollBack,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::NoOp => "no change",
            Action::Recreate => "recreate",
            Action::Wait => "wait",
            Action::ContinueRollback => "continue rollback",
            Action::Blocked => "blocked",
            Action::Delete => "delete",
            Action::RollBack => "roll back",
        }
    }

    pub fn changes(self) -> bool {
        self != Action::NoOp
    }
}

/// Parameter values for a stack, from the asset bucket, the outputs of the
/// stacks it reads and, for secrets, the deploying process's environment.
/// Values not known yet (an upstream not deployed, a variable not set) are
/// listed in `pending`. Secret values are masked wherever this is shown.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResolvedParameters {
    pub values: BTreeMap<String, String>,
    pub pending: Vec<String>,
    /// Names whose value is a secret.
    pub secret: BTreeSet<String>,
}

/// How a secret value is shown.
pub const MASK: &str = "****";

impl ResolvedParameters {
    /// The value as it may be shown: secrets masked.
    pub fn shown(&self, name: &str) -> Option<&str> {
        if self.secret.contains(name) {
            return self.values.get(name).map(|_| MASK);
        }
        self.values.get(name).map(String::as_str)
    }
}

impl Serialize for ResolvedParameters {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let shown: BTreeMap<&str, &str> = self
            .values
            .keys()
            .filter_map(|k| Some((k.as_str(), self.shown(k)?)))
            .collect();
        let mut s = serializer.serialize_struct("ResolvedParameters", 2)?;
        s.serialize_field("values", &shown)?;
        s.serialize_field("pending", &self.pending)?;
        s.end()
    }
}

pub fn resolve_parameters(
    stack: &RenderedStack,
    deployed: &BTreeMap<String, DeployedStack>,
    asset_bucket: Option<&str>,
) -> ResolvedParameters {
    let mut resolved = ResolvedParameters::default();
    for param in &stack.parameters {
        let value = match &param.source {
            ParameterSource::AssetBucket => asset_bucket.map(str::to_string),
            ParameterSource::Output { stack, output } => deployed
                .get(stack)
                .and_then(|d| d.outputs.get(output))
                .cloned(),
            ParameterSource::Env { var } => {
                resolved.secret.insert(param.name.clone());
                std::env::var(var).ok().filter(|v| !v.is_empty())
            }
        };
        match value {
            Some(v) => {
                resolved.values.insert(param.name.clone(), v);
            }
            None => resolved.pending.push(param.name.clone()),
        }
    }
    resolved
}

/// The hash a deployed stack carries: the rendered hash (template and where
/// parameters come from) and the parameter values it was deployed with.
pub fn deploy_hash(stack: &RenderedStack, parameters: &BTreeMap<String, String>) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(stack.hash.as_bytes());
    // Secret values stay out: the hash is a stack tag anyone may read.
    let secret: BTreeSet<&str> = stack
        .parameters
        .iter()
        .filter(|p| matches!(p.source, ParameterSource::Env { .. }))
        .map(|p| p.name.as_str())
        .collect();
    for (name, value) in parameters
        .iter()
        .filter(|(n, _)| !secret.contains(n.as_str()))
    {
        hasher.update(b"\n");
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(value.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// What must happen to a stack, and why, from its deployed state alone.
pub fn decide(deployed: Option<&DeployedStack>, hash: &str) -> (Action, String) {
    let Some(d) = deployed else {
        return (Action::Create, "not deployed".into());
    };
    match d.condition() {
        Condition::Review => (
            Action::Create,
            "created by a change set that never ran".into(),
        ),
        Condition::FailedCreate => (
            Action::Recreate,
            format!("{}: the first create failed", d.status),
        ),
        Condition::InProgress => (
            Action::Wait,
            format!("{} (another operation is running)", d.status),
        ),
        Condition::RollbackFailed => (
            Action::ContinueRollback,
            format!(
                "{}: an update's rollback stopped{}",
                d.status,
                d.status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ),
        Condition::Stuck => (
            Action::Blocked,
            format!(
                "{}{}",
                d.status,
                d.status_reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ),
        ),
        Condition::Settled if d.hash() == Some(hash) => {
            (Action::NoOp, "desired-state hash matches".into())
        }
        Condition::Settled => (
            Action::Update,
            match d.hash() {
                Some(_) => "desired-state hash differs".into(),
                None => "deployed without a driftless hash".into(),
            },
        ),
    }
}

/// One stack's plan, as shown and as applied.
#[derive(Clone, Debug, Serialize)]
pub struct StackPlan {
    pub stack: String,
    pub wave: usize,
    pub tier: &'static str,
    pub action: Action,
    pub reason: String,
    pub hash: String,
    pub parameters: ResolvedParameters,
    /// Parameter names whose value changes.
    pub changed_parameters: Vec<String>,
    pub changes: Vec<ResourceChange>,
}

/// A live setting that differs from the environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingDrift {
    pub stack: String,
    pub logical_id: String,
    pub function: String,
    pub setting: &'static str,
    pub desired: Option<i64>,
    pub live: Option<i64>,
}

/// A function that runs hotswapped code or configuration: CloudFormation
/// holds something else until the next deploy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HotswapDrift {
    pub stack: String,
    pub logical_id: String,
    pub function: String,
    /// What was swapped: `code`, `environment`, `description`, comma-separated.
    pub swapped: String,
}

/// Parameters whose deployed value differs from the resolved one.
pub fn changed_parameters(
    deployed: Option<&DeployedStack>,
    resolved: &ResolvedParameters,
) -> Vec<String> {
    let Some(d) = deployed else {
        return Vec::new();
    };
    // A NoEcho value comes back masked: it cannot be compared.
    resolved
        .values
        .iter()
        .filter(|(k, _)| !resolved.secret.contains(*k))
        .filter(|(k, v)| d.parameters.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployed::HASH_TAG;
    use crate::render::StackParameter;
    use crate::spec::Tier;

    fn stack() -> RenderedStack {
        RenderedStack {
            key: "stateless".into(),
            name: "app-dev-stateless".into(),
            tier: Tier::Stateless,
            units: vec!["api".into()],
            parameters: vec![
                StackParameter {
                    name: "DatabaseTableName".into(),
                    source: ParameterSource::Output {
                        stack: "app-dev-stateful".into(),
                        output: "DatabaseTableName".into(),
                    },
                },
                StackParameter {
                    name: "DriftlessAssetBucket".into(),
                    source: ParameterSource::AssetBucket,
                },
            ],
            resources: vec![],
            outputs: vec![],
            secret_outputs: Default::default(),
            depends_on: vec!["app-dev-stateful".into()],
            functions: vec![],
            machines: Vec::new(),
            buckets: vec![],
            released: vec![],
            template: "{}".into(),
            hash: "render-hash".into(),
        }
    }

    fn upstream(table: &str) -> BTreeMap<String, DeployedStack> {
        let mut d = DeployedStack {
            name: "app-dev-stateful".into(),
            status: "CREATE_COMPLETE".into(),
            ..Default::default()
        };
        d.outputs
            .insert("DatabaseTableName".into(), table.to_string());
        BTreeMap::from([(d.name.clone(), d)])
    }

    #[test]
    fn an_upstream_output_changes_the_downstream_hash() {
        let s = stack();
        let a = resolve_parameters(&s, &upstream("t1"), Some("bucket"));
        let b = resolve_parameters(&s, &upstream("t2"), Some("bucket"));
        assert!(a.pending.is_empty());
        assert_eq!(a.values["DatabaseTableName"], "t1");
        assert_ne!(deploy_hash(&s, &a.values), deploy_hash(&s, &b.values));
        assert_eq!(deploy_hash(&s, &a.values), deploy_hash(&s, &a.values));
    }

    #[test]
    fn missing_upstream_values_are_pending() {
        let r = resolve_parameters(&stack(), &BTreeMap::new(), None);
        assert_eq!(r.pending, vec!["DatabaseTableName", "DriftlessAssetBucket"]);
    }

    #[test]
    fn a_settled_stack_with_the_same_hash_is_left_alone() {
        let mut d = DeployedStack {
            status: "UPDATE_COMPLETE".into(),
            ..Default::default()
        };
        d.tags.insert(HASH_TAG.into(), "h1".into());
        assert_eq!(decide(Some(&d), "h1").0, Action::NoOp);
        assert_eq!(decide(Some(&d), "h2").0, Action::Update);
        assert_eq!(decide(None, "h1").0, Action::Create);
        d.status = "UPDATE_IN_PROGRESS".into();
        assert_eq!(decide(Some(&d), "h1").0, Action::Wait);
        d.status = "ROLLBACK_COMPLETE".into();
        assert_eq!(decide(Some(&d), "h1").0, Action::Recreate);
        d.status = "UPDATE_ROLLBACK_FAILED".into();
        assert_eq!(decide(Some(&d), "h1").0, Action::ContinueRollback);
        d.status = "UPDATE_ROLLBACK_COMPLETE".into();
        assert_eq!(decide(Some(&d), "h1").0, Action::NoOp);
        d.status = "REVIEW_IN_PROGRESS".into();
        assert_eq!(decide(Some(&d), "h1").0, Action::Create);
        for stuck in ["DELETE_FAILED", "ROLLBACK_FAILED", "UPDATE_FAILED"] {
            d.status = stuck.into();
            assert_eq!(decide(Some(&d), "h1").0, Action::Blocked, "{stuck}");
        }
    }
}
