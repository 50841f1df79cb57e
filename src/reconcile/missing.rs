//! Resources a stack names that no longer exist: deleted by hand. Read
//! with the functions every observation reads; reported as health
//! `missing` and as drift, and brought back by a deploy (see `restore`).

use crate::cloud::functions::LiveFunction;
use crate::deployed::DeployedStack;
use crate::render::RenderedStack;
use std::collections::BTreeMap;

/// A resource its stack names that no longer exists: deleted outside
/// CloudFormation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub stack: String,
    pub logical_id: String,
    pub type_name: &'static str,
    /// The name it had.
    pub name: String,
}

impl Missing {
    pub fn describe(&self) -> String {
        format!(
            "{} {} ({} {}) was deleted outside CloudFormation",
            self.stack, self.logical_id, self.type_name, self.name
        )
    }
}

/// The deployed functions of `rendered` that the reads did not find.
pub(super) fn missing_functions(
    rendered: &[&RenderedStack],
    stacks: &BTreeMap<String, DeployedStack>,
    found: &BTreeMap<(String, String), LiveFunction>,
) -> Vec<Missing> {
    let mut missing = Vec::new();
    for stack in rendered {
        let Some(deployed) = stacks.get(&stack.name) else {
            continue;
        };
        for f in &stack.functions {
            let key = (stack.name.clone(), f.logical_id.clone());
            if let Some(name) = deployed.outputs.get(&f.output)
                && !found.contains_key(&key)
            {
                missing.push(Missing {
                    stack: stack.name.clone(),
                    logical_id: f.logical_id.clone(),
                    type_name: "AWS::Lambda::Function",
                    name: name.clone(),
                });
            }
        }
    }
    missing
}
