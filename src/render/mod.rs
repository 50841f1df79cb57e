//! Rendering: an environment's units become one CloudFormation template and
//! parameter list per stack, plus the order in which stacks deploy. Pure and
//! byte-deterministic: the same specs always give the same bytes.

pub mod resolve;

mod checks;
pub mod content;
pub mod dot;
pub mod limits;
mod model;
mod params;
pub mod releases;
mod stack;
pub mod taint;
mod unit;
mod waves;

use crate::diag::Diagnostics;
use crate::graph::{self};
use crate::kinds::AssetRef;
use crate::spec::{Environment, Project};
use crate::value::Resolved;
use checks::*;
pub use checks::{
    check_unit, report_tier_inversions, report_unit_cycle, shadowed_routes, unit_graph,
};
pub use model::*;
use params::*;
use resolve::Scope;
use serde_json::Value as Json;
use stack::*;
use std::collections::{BTreeMap, BTreeSet};
use unit::*;
pub(crate) use waves::desired_hash;
use waves::*;

/// Marks each stack's outputs that may carry a secret; a parameter fed by
/// such an output taints the stack reading it, to a fixpoint.
fn mark_secret_outputs(stacks: &mut [(&crate::spec::StackDef, RenderedStack, Json)]) {
    // Without a secret param nothing can carry one.
    let secret_params = stacks.iter().any(|(_, s, _)| {
        s.parameters
            .iter()
            .any(|p| matches!(p.source, ParameterSource::Env { .. }))
    });
    if !secret_params {
        return;
    }
    loop {
        let secret: BTreeMap<String, BTreeSet<String>> = stacks
            .iter()
            .map(|(_, s, _)| (s.name.clone(), s.secret_outputs.clone()))
            .collect();
        let mut changed = false;
        for (_, stack, template) in stacks.iter_mut() {
            let fed: BTreeSet<String> = stack
                .parameters
                .iter()
                .filter(|p| match &p.source {
                    ParameterSource::Output { stack, output } => {
                        secret.get(stack).is_some_and(|s| s.contains(output))
                    }
                    _ => false,
                })
                .map(|p| p.name.clone())
                .collect();
            let found = taint::secret_outputs(template, &fed);
            if found != stack.secret_outputs {
                stack.secret_outputs = found;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// How to render.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Nothing is retained (no `DeletionPolicy` or `UpdateReplacePolicy`):
    /// a preview instance's destroy leaves nothing behind.
    pub ephemeral: bool,
}

/// Renders an environment. Every problem found is returned at once.
pub fn render(
    project: &Project,
    env: &Environment,
    assets: &BTreeMap<(String, String), AssetRef>,
) -> Result<RenderedEnvironment, Diagnostics> {
    render_with(project, env, assets, RenderOptions::default())
}

/// [`render`], as `options` say.
pub fn render_with(
    project: &Project,
    env: &Environment,
    assets: &BTreeMap<(String, String), AssetRef>,
    options: RenderOptions,
) -> Result<RenderedEnvironment, Diagnostics> {
    let mut diags = Diagnostics::default();
    let unit_stack = layout(project, env, &mut diags);
    let params = param_values(project, env, &mut diags);
    let deployed: BTreeSet<String> = unit_stack.keys().cloned().collect();
    let (unit_graph, first_ref) = unit_graph(
        project,
        deployed.iter().filter_map(|u| project.units.get(u)),
    );
    report_tier_inversions(project, &unit_graph, &first_ref, &mut diags);
    check_smoke(project, env, &mut diags);
    output_collisions(
        deployed.iter().filter_map(|u| project.units.get(u)),
        &mut diags,
    );
    if report_unit_cycle(&unit_graph, &first_ref, &mut diags) {
        return Err(diags);
    }

    let mut outputs: BTreeMap<(String, String), Resolved> = BTreeMap::new();
    let mut rendered: BTreeMap<String, RenderedUnit> = BTreeMap::new();
    let empty = BTreeMap::new();
    for unit_name in graph::topological(&deployed, &unit_graph) {
        let Some(unit) = project.units.get(&unit_name) else {
            continue;
        };
        let siblings = sibling_map(unit);
        let scope = Scope {
            project,
            unit,
            params: params.get(&unit_name).unwrap_or(&empty),
            siblings: &siblings,
            unit_stack: Some(&unit_stack),
            outputs: &outputs,
        };
        let mut result = render_unit(scope, true, assets, &mut diags);
        if options.ephemeral {
            for (_, resource) in &mut result.resources {
                resource.retain = false;
            }
        }
        for (name, value) in &result.outputs {
            outputs.insert((unit_name.clone(), name.clone()), value.clone());
        }
        rendered.insert(unit_name, result);
    }

    let assembled: Vec<(&crate::spec::StackDef, RenderedStack, Json)> = env
        .stacks
        .iter()
        .map(|def| {
            let (stack, template) =
                assemble_stack(project, env, def, &mut rendered, &unit_stack, &mut diags);
            (def, stack, template)
        })
        .collect();
    let mut assembled = assembled;
    mark_secret_outputs(&mut assembled);
    match &env.releases {
        Some(releases) => behind_aliases(env, releases, &mut assembled, &mut diags),
        None => without_aliases(project, env, &mut assembled, &mut diags),
    }
    // Checking, serializing and hashing the templates is the bulk of the
    // work: per stack, in parallel.
    // A stack whose units did not all render would show only the echoes
    // of their errors (a reference to a resource that failed to expand).
    let complete = diags.is_empty();
    let checked = crate::par::map(assembled, |(def, mut stack, template)| {
        let mut problems = match complete {
            true => limits::check_stack(project, env, def, &stack, &template),
            false => Vec::new(),
        };
        stack.template = serde_json::to_string_pretty(&template).unwrap_or_default() + "\n";
        if stack.template.len() > limits::MAX_TEMPLATE {
            problems.push(limits::template_too_large(env, def, stack.template.len()));
        }
        stack.hash = desired_hash(&stack.template, &stack.parameters);
        (stack, problems)
    });
    let mut stacks = Vec::with_capacity(checked.len());
    for (stack, problems) in checked {
        problems.into_iter().for_each(|d| diags.push(d));
        stacks.push(stack);
    }
    let waves = waves(env, &stacks, &mut diags);
    if !diags.is_empty() {
        return Err(diags);
    }
    Ok(RenderedEnvironment {
        environment: env.name.clone(),
        app: env.app.clone(),
        target: env.target.clone(),
        stacks,
        waves,
        protect: env.protect,
        hotswap: env.hotswap,
        self_heal: env.self_heal,
        smoke: env.smoke.clone(),
        rollback: env.rollback,
        instance: env.instance.clone(),
        verify: env
            .releases
            .as_ref()
            .and_then(|r| r.verify.as_ref().map(|(label, _)| label.clone())),
        release_alarms: env
            .releases
            .as_ref()
            .map(|r| r.alarms.iter().map(|(label, _)| label.clone()).collect())
            .unwrap_or_default(),
    })
}

/// Every function of the environment behind its alias (`releases:`); a
/// per-function strategy for a function the environment does not deploy
/// is an error at its line.
fn behind_aliases(
    env: &Environment,
    releases: &crate::spec::releases::Releases,
    assembled: &mut [(&crate::spec::StackDef, RenderedStack, Json)],
    diags: &mut Diagnostics,
) {
    let mut labels = Vec::new();
    for (_, stack, template) in assembled.iter_mut() {
        let functions: Vec<(String, String)> = stack
            .functions
            .iter()
            .filter_map(|f| {
                let r = stack
                    .resources
                    .iter()
                    .find(|r| r.logical_id == f.logical_id)?;
                Some((f.logical_id.clone(), format!("{}.{}", r.unit, r.resource)))
            })
            .collect();
        labels.extend(functions.iter().map(|(_, label)| label.clone()));
        stack.released = releases::put_behind_aliases(template, &functions, releases);
    }
    let alarms: Vec<String> = assembled
        .iter()
        .flat_map(|(_, stack, _)| &stack.resources)
        .filter(|r| r.type_name == "AWS::CloudWatch::Alarm")
        .map(|r| format!("{}.{}", r.unit, r.resource))
        .collect();
    for (label, span) in &releases.alarms {
        if !alarms.contains(label) {
            diags.push(
                crate::diag::Diagnostic::new(
                    &env.file,
                    *span,
                    format!("releases: `{label}` is not an alarm this environment deploys"),
                )
                .with_help(match alarms.is_empty() {
                    true => "the environment deploys no alarm: add one (kind: alarm) to a unit"
                        .to_string(),
                    false => format!("its alarms: {}", alarms.join(", ")),
                }),
            );
        }
    }
    let verify = releases.verify.iter().map(|(label, span)| (label, span));
    let named = releases
        .functions
        .iter()
        .map(|(label, _, span)| (label, span));
    for (label, span) in named.chain(verify) {
        if !labels.contains(label) {
            diags.push(
                crate::diag::Diagnostic::new(
                    &env.file,
                    *span,
                    format!("releases: `{label}` is not a function this environment deploys"),
                )
                .with_help(match labels.is_empty() {
                    true => "the environment deploys no function".to_string(),
                    false => format!("its functions: {}", labels.join(", ")),
                }),
            );
        }
    }
}

/// Without `releases:` there is no alias to hold provisioned concurrency:
/// a function that asks for some is an error at the field.
fn without_aliases(
    project: &Project,
    env: &Environment,
    assembled: &mut [(&crate::spec::StackDef, RenderedStack, Json)],
    diags: &mut Diagnostics,
) {
    for (_, stack, template) in assembled.iter_mut() {
        for f in &stack.functions {
            // The alias a unit names is used where an environment releases.
            let _ = releases::take_alias(template, &f.logical_id);
            let Some(value) = releases::take_provisioned(template, &f.logical_id) else {
                continue;
            };
            if value == serde_json::json!(0) {
                continue;
            }
            let Some(summary) = stack
                .resources
                .iter()
                .find(|r| r.logical_id == f.logical_id)
            else {
                continue;
            };
            let Some(unit) = project.units.get(&summary.unit) else {
                continue;
            };
            let span = unit
                .resources
                .iter()
                .find(|r| r.name == summary.resource)
                .and_then(|r| r.body.get("provisioned_concurrency"))
                .map_or(Default::default(), |n| n.span);
            diags.push(
                crate::diag::Diagnostic::new(
                    &unit.file,
                    span,
                    format!(
                        "provisioned_concurrency is set on the release alias, and {} has no `releases:`",
                        env.file.as_ref() as &str
                    ),
                )
                .with_help(format!(
                    "add `releases: {{ strategy: all_at_once }}` to {}, or make the value a param that is 0 there",
                    env.file.as_ref() as &str
                )),
            );
        }
    }
}

/// Two outputs that render to one CloudFormation output (and parameter)
/// name, such as `a`'s `b-c` and `a-b`'s `c` (both `ABC`): one would
/// vanish and a downstream stack read the other's value. An error at both.
fn output_collisions<'u>(
    units: impl Iterator<Item = &'u crate::spec::Unit>,
    diags: &mut Diagnostics,
) {
    let mut seen: BTreeMap<String, (&crate::spec::Unit, &crate::spec::unit::OutputDef)> =
        BTreeMap::new();
    for unit in units {
        for output in &unit.outputs {
            let id = resolve::output_id(&unit.name, &output.name);
            if let Some((other, other_output)) = seen.get(&id) {
                let both = format!(
                    "`{}.{}` and `{}.{}` both render as the output `{id}`",
                    other.name, other_output.name, unit.name, output.name
                );
                let help = "rename one of the outputs (or units) so that their names differ in letters or digits, not only in `-` or `_`";
                diags.push(
                    crate::diag::Diagnostic::new(&unit.file, output.span, both.clone())
                        .with_help(help),
                );
                diags.push(
                    crate::diag::Diagnostic::new(&other.file, other_output.span, both)
                        .with_help(help),
                );
                continue;
            }
            seen.insert(id, (unit, output));
        }
    }
}
