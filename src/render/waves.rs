//! The deploy order (waves) and the desired-state hash of a stack.

use super::*;
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::{self, Graph};
use crate::spec::{Environment, Tier};
use std::collections::BTreeSet;

/// The desired-state hash of a stack: its template and where its parameters
/// come from. BLAKE3, as it is hashed on every pass and templates are large.
pub(crate) fn desired_hash(template: &str, parameters: &[StackParameter]) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(template.as_bytes());
    hasher.update(b"\n");
    hasher.update(
        serde_json::to_string(parameters)
            .unwrap_or_default()
            .as_bytes(),
    );
    hasher.finalize().to_hex().to_string()
}

/// Orders stacks into waves: stateful stacks first, then by what feeds what.
pub(super) fn waves(
    env: &Environment,
    stacks: &[RenderedStack],
    diags: &mut Diagnostics,
) -> Vec<Vec<String>> {
    let graph: Graph = stacks
        .iter()
        .map(|s| (s.name.clone(), s.depends_on.iter().cloned().collect()))
        .collect();
    if let Some(cycle) = graph::find_cycle(&graph) {
        diags.push(
            Diagnostic::new(&env.file, env.stacks_span, format!("stack cycle: {}", cycle.join(" -> ")))
                .with_help("units in these stacks read each other's outputs both ways; move units so outputs flow one way"),
        );
        return Vec::new();
    }
    for stack in stacks.iter().filter(|s| s.tier == Tier::Stateful) {
        for dep in &stack.depends_on {
            if stacks
                .iter()
                .any(|s| &s.name == dep && s.tier == Tier::Stateless)
            {
                let span = env
                    .stacks
                    .iter()
                    .find(|s| s.name == stack.key)
                    .map(|s| s.span)
                    .unwrap_or_default();
                diags.push(
                    Diagnostic::new(&env.file, span, format!("stateful stack `{}` reads outputs of stateless stack `{dep}`", stack.name))
                        .with_help("stateful stacks deploy first; move the reading unit into a stateless stack"),
                );
            }
        }
    }
    let mut result = Vec::new();
    for tier in [Tier::Stateful, Tier::Stateless] {
        let nodes: BTreeSet<String> = stacks
            .iter()
            .filter(|s| s.tier == tier)
            .map(|s| s.name.clone())
            .collect();
        result.extend(graph::levels(&nodes, &graph));
    }
    result
}
