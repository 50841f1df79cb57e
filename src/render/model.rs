//! What rendering produces: stacks with their template, parameters, outputs
//! and the resources and function settings the deployer needs to know about.

use crate::spec::{Target, Tier};
use serde::Serialize;

/// Where a stack parameter's value comes from at deploy time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "from", rename_all = "snake_case")]
pub enum ParameterSource {
    /// An output of an earlier stack.
    Output { stack: String, output: String },
    /// The target's asset bucket.
    AssetBucket,
    /// A secret from the deploying process's environment; a NoEcho parameter
    /// whose value is never shown or written.
    Env { var: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StackParameter {
    pub name: String,
    #[serde(flatten)]
    pub source: ParameterSource,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceSummary {
    pub logical_id: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub unit: String,
    pub resource: String,
    pub retain: bool,
}

/// Stack outputs that carry a function's physical name start with this; they
/// are for driftless itself and hidden from `outputs`.
pub const FUNCTION_OUTPUT_PREFIX: &str = "DriftlessFunction";

/// Stack outputs that carry the physical name of a bucket with content
/// start with this; hidden from `outputs` like the function ones.
pub const BUCKET_OUTPUT_PREFIX: &str = "DriftlessBucket";

/// Stack outputs that carry a state machine's ARN start with this (for
/// hotswapping its definition); hidden like the others.
pub const MACHINE_OUTPUT_PREFIX: &str = "DriftlessStateMachine";

/// Whether a stack output is for driftless itself, not for people.
pub fn internal_output(name: &str) -> bool {
    name.starts_with(FUNCTION_OUTPUT_PREFIX)
        || name.starts_with(BUCKET_OUTPUT_PREFIX)
        || name.starts_with(MACHINE_OUTPUT_PREFIX)
}

/// A state machine of the stack and the output holding its ARN.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MachineOutput {
    pub logical_id: String,
    pub output: String,
}

/// A bucket whose objects come from a folder (`content:`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketContent {
    pub logical_id: String,
    /// The stack output holding the bucket's physical name.
    pub output: String,
    pub unit: String,
    pub resource: String,
    /// The folder's files, once read; commands that never sync content
    /// (`outputs`, `destroy`, `smoke`) have none.
    pub manifest: Option<super::content::Manifest>,
}

/// A function's settings that CloudFormation may not hold on every target:
/// the deployer reads them from Lambda after apply and on every pass.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FunctionSettings {
    pub logical_id: String,
    /// The stack output holding the function's physical name.
    pub output: String,
    pub reserved_concurrency: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct RenderedStack {
    /// The key in the environment's `stacks:` (`stateful`).
    pub key: String,
    /// The CloudFormation stack name (`user-management-dev-stateful`).
    pub name: String,
    pub tier: Tier,
    pub units: Vec<String>,
    pub parameters: Vec<StackParameter>,
    pub resources: Vec<ResourceSummary>,
    pub outputs: Vec<String>,
    /// The outputs that may carry a secret (see `render::taint`): never
    /// shown, never written.
    pub secret_outputs: std::collections::BTreeSet<String>,
    /// Stack names whose outputs feed this one.
    pub depends_on: Vec<String>,
    /// The Lambda functions, with the settings checked against the live function.
    pub functions: Vec<FunctionSettings>,
    /// The state machines, whose definitions watch may hotswap.
    pub machines: Vec<MachineOutput>,
    /// The buckets with content, synced after the stack converges.
    pub buckets: Vec<BucketContent>,
    /// The functions behind aliases (`releases:`), and how each is released.
    pub released: Vec<super::releases::Released>,
    /// The template, as deployed.
    pub template: String,
    /// BLAKE3 over the template and the parameter sources.
    pub hash: String,
}

#[derive(Clone, Debug)]
pub struct RenderedEnvironment {
    pub environment: String,
    pub app: String,
    pub target: Target,
    pub stacks: Vec<RenderedStack>,
    /// Stack names by wave: every stateful stack before any stateless one.
    pub waves: Vec<Vec<String>>,
    /// Termination protection on stateful stacks, no destroy.
    pub protect: bool,
    /// Watch passes may update function code and configuration through
    /// Lambda, skipping CloudFormation.
    pub hotswap: bool,
    /// Checks run after every pass that converged.
    pub smoke: Vec<crate::spec::smoke::SmokeCheck>,
    /// Put the changed stacks back when a check fails.
    pub rollback: bool,
    /// Deploys heal drift (`self_heal: true`).
    pub self_heal: bool,
    /// For a preview instance, `ENVIRONMENT/INSTANCE` (its stacks' tag).
    pub instance: Option<String>,
    /// The function (`unit.resource`) a release invokes at each step.
    pub verify: Option<String>,
    /// The alarms (`unit.resource`) a release watches; all when empty.
    pub release_alarms: Vec<String>,
}

impl RenderedEnvironment {
    /// Whether a deployed stack's tags say it is this environment's (and
    /// this instance's): nothing else is ever changed or deleted.
    pub fn owns(&self, tags: &std::collections::BTreeMap<String, String>) -> bool {
        use crate::deployed::{APP_TAG, ENVIRONMENT_TAG, INSTANCE_TAG};
        tags.get(APP_TAG) == Some(&self.app)
            && tags.get(ENVIRONMENT_TAG) == Some(&self.environment)
            && tags.get(INSTANCE_TAG) == self.instance.as_ref()
    }
}

impl RenderedStack {
    /// `unit.resource` for a logical id, for messages and `--allow-replace`.
    pub fn resource_label(&self, logical_id: &str) -> String {
        self.resources
            .iter()
            .find(|r| r.logical_id == logical_id)
            .map(|r| format!("{}.{}", r.unit, r.resource))
            .unwrap_or_else(|| logical_id.to_string())
    }

    /// The parameters of this stack that the outputs of stack `upstream` feed.
    pub fn fed_by(&self, upstream: &str) -> Vec<&str> {
        self.parameters
            .iter()
            .filter_map(|p| match &p.source {
                ParameterSource::Output { stack, .. } if stack == upstream => Some(p.name.as_str()),
                _ => None,
            })
            .collect()
    }
}

impl RenderedEnvironment {
    pub fn stack(&self, name: &str) -> Option<&RenderedStack> {
        self.stacks.iter().find(|s| s.name == name)
    }
}
