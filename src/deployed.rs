//! What is deployed, as plain data: stacks, their events and the changes a
//! change set would make. The cloud module fills these; plan and reconcile
//! read them without touching the network.

use serde::Serialize;
use std::collections::BTreeMap;

/// The stack tag holding the desired-state hash of the last applied pass.
pub const HASH_TAG: &str = "driftless:hash";
/// The stack tags naming the app and environment a stack belongs to.
pub const APP_TAG: &str = "driftless:app";
pub const ENVIRONMENT_TAG: &str = "driftless:environment";
/// The stack tag of a preview instance: `ENVIRONMENT/INSTANCE`, which tells
/// `dev --instance a-b` from `dev-a --instance b` (both `dev-a-b`).
pub const INSTANCE_TAG: &str = "driftless:instance";
/// The stack tag naming the git commit the stack was last applied from
/// (`+dirty` when the tree had changes).
pub const REVISION_TAG: &str = "driftless:revision";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DeployedStack {
    pub name: String,
    pub id: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub outputs: BTreeMap<String, String>,
    /// Output descriptions; driftless writes `unit.output` there.
    pub output_descriptions: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
    pub termination_protection: bool,
    /// The latest drift detection: `IN_SYNC`, `DRIFTED`, `NOT_CHECKED`
    /// (never run) or `UNKNOWN`, and when it ran.
    pub drift_status: Option<String>,
    pub drift_checked_at: Option<String>,
}

/// How an environment's last pass ended, as `status` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PassRecord {
    pub app: String,
    pub environment: String,
    /// Unix seconds, by the store's clock.
    pub at: i64,
    /// `user@host pid N`, as the lock names its holder.
    pub by: String,
    pub command: String,
    pub revision: Option<String>,
    /// `ok` or `failed`.
    pub result: String,
    pub exit_code: u8,
    /// The release gate's verdict: `passed`, `rolled_back`, `failed`, or
    /// none when no checks ran.
    pub checks: Option<String>,
    /// Stacks the pass created or updated.
    pub changed: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// Who forced it past the sync windows (`driftless sync --force`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forced_by: Option<String>,
}

/// The reconcile loop must not apply this environment (it still reports).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Suspension {
    /// `user@host pid N`.
    pub by: String,
    /// Unix seconds, by the store's clock.
    pub at: i64,
    pub reason: String,
}

/// One resource as a drift detection found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceDrift {
    pub logical_id: String,
    pub physical_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `IN_SYNC`, `MODIFIED`, `DELETED`, `NOT_CHECKED` or `UNKNOWN`.
    pub status: String,
    pub differences: Vec<PropertyDifference>,
}

/// One property that differs from the template. A secret one keeps its
/// values for healing, but shows and serializes them as hidden.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyDifference {
    pub path: String,
    pub expected: String,
    pub actual: String,
    /// `ADD`, `REMOVE` or `NOT_EQUAL`.
    pub kind: String,
    /// A secret may be in it (a secret param feeds it, or where its value
    /// comes from cannot be told).
    pub secret: bool,
}

impl PropertyDifference {
    /// The expected value as it may be shown.
    pub fn shown_expected(&self) -> &str {
        match self.secret {
            true => "(hidden)",
            false => &self.expected,
        }
    }

    /// The actual value as it may be shown.
    pub fn shown_actual(&self) -> &str {
        match self.secret {
            true => "(hidden, changed)",
            false => &self.actual,
        }
    }
}

impl Serialize for PropertyDifference {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("PropertyDifference", 5)?;
        s.serialize_field("path", &self.path)?;
        s.serialize_field("expected", self.shown_expected())?;
        s.serialize_field("actual", self.shown_actual())?;
        s.serialize_field("kind", &self.kind)?;
        s.serialize_field("secret", &self.secret)?;
        s.end()
    }
}

/// How a stack's status bears on what the deployer may do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// Done; updates are possible.
    Settled,
    /// Another operation runs: wait for it.
    InProgress,
    /// Created by a change set that never ran: no resources yet.
    Review,
    /// A create failed and rolled back: the stack holds nothing and cannot be
    /// updated, only deleted and created again.
    FailedCreate,
    /// An update's rollback stopped half way: continue it, then go on.
    RollbackFailed,
    /// Needs a person first (`DELETE_FAILED`, `ROLLBACK_FAILED`, ...).
    Stuck,
}

impl DeployedStack {
    pub fn hash(&self) -> Option<&str> {
        self.tags.get(HASH_TAG).map(String::as_str)
    }

    pub fn condition(&self) -> Condition {
        condition_of(&self.status)
    }
}

pub fn condition_of(status: &str) -> Condition {
    match status {
        "CREATE_COMPLETE"
        | "UPDATE_COMPLETE"
        | "UPDATE_ROLLBACK_COMPLETE"
        | "IMPORT_COMPLETE"
        | "IMPORT_ROLLBACK_COMPLETE" => Condition::Settled,
        "REVIEW_IN_PROGRESS" => Condition::Review,
        "ROLLBACK_COMPLETE" => Condition::FailedCreate,
        "UPDATE_ROLLBACK_FAILED" => Condition::RollbackFailed,
        s if s.ends_with("_IN_PROGRESS") => Condition::InProgress,
        _ => Condition::Stuck,
    }
}

/// A status that ends an operation.
pub fn is_terminal(status: &str) -> bool {
    !status.ends_with("_IN_PROGRESS")
}

/// A status that means the operation did not do what was asked.
pub fn is_failure(status: &str) -> bool {
    status.contains("FAILED") || status.contains("ROLLBACK")
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackEvent {
    pub id: String,
    pub logical_id: String,
    pub physical_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
    pub status: String,
    pub reason: Option<String>,
    pub timestamp: String,
}

impl StackEvent {
    /// An event about the stack itself rather than one of its resources.
    pub fn is_stack(&self) -> bool {
        self.resource_type == "AWS::CloudFormation::Stack"
    }
}

/// One resource change a change set would make.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ChangeSetChange {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    /// `True`, `False`, `Conditional`, when CloudFormation says.
    pub replacement: Option<String>,
    /// Properties whose change forces or may force a new resource.
    pub recreating: Vec<String>,
}

impl ChangeSetChange {
    /// The change deletes the resource or puts a new one in its place. A
    /// `Conditional` replacement counts only where a property it names is
    /// one whose change replaces (`replacing`, pointers under Properties,
    /// from the resource's schema): an emulator calls any change of some
    /// types conditional.
    pub fn destroys(&self, replacing: &[&str]) -> bool {
        match self.replacement.as_deref() {
            _ if self.action == "Remove" => true,
            Some("True") => true,
            Some("Conditional") => self.recreating.iter().any(|p| replaces(p, replacing)),
            _ => false,
        }
    }
}

/// A change set's top-level property `name` is, or holds, one of the
/// `replacing` pointers (`/KeySchema`, `/Tags/*/Key`).
pub fn replaces(name: &str, replacing: &[&str]) -> bool {
    replacing
        .iter()
        .any(|r| *r == format!("/{name}") || r.starts_with(&format!("/{name}/")))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: Option<String>,
    #[serde(rename = "type")]
    pub resource_type: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_can_be_done() {
        assert_eq!(condition_of("UPDATE_COMPLETE"), Condition::Settled);
        assert_eq!(
            condition_of("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"),
            Condition::InProgress
        );
        assert_eq!(condition_of("ROLLBACK_COMPLETE"), Condition::FailedCreate);
        assert_eq!(condition_of("REVIEW_IN_PROGRESS"), Condition::Review);
        assert_eq!(
            condition_of("UPDATE_ROLLBACK_FAILED"),
            Condition::RollbackFailed
        );
        assert_eq!(condition_of("DELETE_FAILED"), Condition::Stuck);
        assert!(is_failure("UPDATE_ROLLBACK_COMPLETE"));
        assert!(!is_failure("UPDATE_COMPLETE"));
    }

    #[test]
    fn replacement_and_removal_destroy() {
        let mut change = ChangeSetChange {
            logical_id: "T".into(),
            resource_type: "AWS::DynamoDB::Table".into(),
            action: "Modify".into(),
            replacement: Some("False".into()),
            recreating: vec![],
        };
        let replacing = ["/KeySchema", "/TableName"];
        assert!(!change.destroys(&replacing));
        change.replacement = Some("True".into());
        assert!(change.destroys(&replacing));
        // Conditional: only where a replacing property is among the causes.
        change.replacement = Some("Conditional".into());
        change.recreating = vec!["Tags".into()];
        assert!(!change.destroys(&replacing));
        change.recreating = vec!["KeySchema".into()];
        assert!(change.destroys(&replacing));
        change.replacement = None;
        change.action = "Remove".into();
        assert!(change.destroys(&replacing));
    }
}
