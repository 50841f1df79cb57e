//! Checks of units and environments that need the whole project: the unit
//! graph (cycles, tier inversions), the layout, and the smoke checks' references.

use super::resolve::{Scope, unit_references};
use super::*;
use crate::diag::{Diagnostic, Diagnostics, FileName, closest};
use crate::graph::{self, Graph};
use crate::spec::{Environment, Project, Tier, Unit};
use crate::value::{DynType, Origin, RValue, Resolved};
use crate::yaml::Span;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Checks a unit on its own, outside any environment: params without a value
/// stand in as placeholders, kinds are checked but not expanded.
pub fn check_unit(project: &Project, unit: &Unit) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let params: BTreeMap<String, Resolved> = unit
        .params
        .iter()
        .map(|p| {
            let value = match &p.default {
                Some(default) => literal(&unit.file, default),
                None => Resolved::new(
                    Origin {
                        file: unit.file.clone(),
                        span: p.span,
                    },
                    RValue::Dynamic(Json::Null, DynType::Placeholder),
                ),
            };
            (p.name.clone(), value)
        })
        .collect();
    let siblings = sibling_map(unit);
    let outputs = BTreeMap::new();
    let scope = Scope {
        project,
        unit,
        params: &params,
        siblings: &siblings,
        unit_stack: None,
        outputs: &outputs,
    };
    render_unit(scope, false, &BTreeMap::new(), &mut diags);
    // Dynamic references in the unit's fields: `${...}` in them is
    // substituted (into a `Fn::Sub`), the rest must be what CloudFormation takes.
    for resource in &unit.resources {
        resolve::walk_strings(&resource.body, &mut |n, text| {
            if let Some((message, help)) = crate::spec::dynamic::problem(text, true) {
                diags.push(Diagnostic::new(&unit.file, n.span, message).with_help(help));
            }
        });
    }
    diags
}

/// Where unit `a` first reads unit `b`, by (a, b).
pub type FirstReferences = BTreeMap<(String, String), (FileName, Span)>;

/// The graph of units reading each other's outputs, with where each first reference is.
pub fn unit_graph<'p>(
    project: &'p Project,
    units: impl Iterator<Item = &'p Unit>,
) -> (Graph, FirstReferences) {
    let mut graph = Graph::new();
    let mut first_ref = BTreeMap::new();
    for unit in units {
        let edges = graph.entry(unit.name.clone()).or_default();
        for (to, node) in unit_references(project, unit) {
            edges.insert(to.clone());
            first_ref
                .entry((unit.name.clone(), to))
                .or_insert((unit.file.clone(), node.span));
        }
    }
    (graph, first_ref)
}

/// Reports every stateful unit that reads a stateless unit: it would invert the deploy order.
pub fn report_tier_inversions(
    project: &Project,
    graph: &Graph,
    first_ref: &FirstReferences,
    diags: &mut Diagnostics,
) {
    for (from, tos) in graph {
        for to in tos {
            let (Some(a), Some(b)) = (project.units.get(from), project.units.get(to)) else {
                continue;
            };
            if a.tier != Tier::Stateful || b.tier != Tier::Stateless {
                continue;
            }
            if let Some((file, span)) = first_ref.get(&(from.clone(), to.clone())) {
                diags.push(
                    Diagnostic::new(file, *span, format!("stateful unit `{from}` depends on stateless unit `{to}`"))
                        .with_help("stateful units deploy first; move the value into a stateful unit or make this unit stateless"),
                );
            }
        }
    }
}

/// Reports a unit reference cycle, if any, at the first reference of the cycle.
pub fn report_unit_cycle(
    graph: &Graph,
    first_ref: &FirstReferences,
    diags: &mut Diagnostics,
) -> bool {
    let Some(cycle) = graph::find_cycle(graph) else {
        return false;
    };
    let (file, span) = match cycle.as_slice() {
        [a, b, ..] => first_ref.get(&(a.clone(), b.clone())).cloned(),
        _ => None,
    }
    .unwrap_or_else(|| (FileName::from("specs"), Span::default()));
    diags.push(
        Diagnostic::new(&file, span, format!("reference cycle: {}", cycle.join(" -> ")))
            .with_help("units cannot read each other's outputs both ways; move the shared resource into one unit"),
    );
    true
}

/// Help naming the units there are, for a unit name that is not one of them.
pub(super) fn units_in_specs(project: &Project) -> String {
    if project.units.is_empty() {
        return "there are no units yet; add specs/<unit>/unit.yaml".to_string();
    }
    format!(
        "units in specs/: {}",
        crate::diag::listed(project.units.keys().map(String::as_str))
    )
}

/// Smoke checks may read outputs of deployed units, and `${env:NAME}` in headers.
pub(super) fn check_smoke(project: &Project, env: &Environment, diags: &mut Diagnostics) {
    use crate::spec::reference::{self, Reference};
    for check in &env.smoke {
        for (node, env_allowed) in check.reference_nodes() {
            resolve::walk_strings(node, &mut |n, text| {
                let refs = match reference::parse(text) {
                    Ok(segments) => segments.into_iter().filter_map(|s| match s {
                        reference::Segment::Ref(r) => Some(r),
                        reference::Segment::Text(_) => None,
                    }),
                    Err(m) => {
                        diags.push(Diagnostic::new(&env.file, n.span, m.message).with_help(m.help));
                        return;
                    }
                };
                for r in refs.collect::<Vec<_>>() {
                    let problem = match &r {
                        Reference::Env(_) if env_allowed => None,
                        Reference::Env(_) => Some((
                            format!(
                                "`{r}`: environment variables are read only in smoke check headers"
                            ),
                            "write the value itself here, or send it in a header".to_string(),
                        )),
                        Reference::Name(_) | Reference::Pseudo(_) => Some((
                            format!("`{r}`: a smoke check reads unit outputs"),
                            "write `${unit.output}`, for example `${api.endpoint}`".to_string(),
                        )),
                        Reference::Dotted(unit_name, output) => {
                            match project.units.get(unit_name) {
                                _ if project.broken.contains(unit_name) => None,
                                None => Some((
                                    format!(
                                        "smoke check `{}` reads `{r}`, but there is no unit `{unit_name}`",
                                        check.name
                                    ),
                                    closest(unit_name, project.units.keys().map(String::as_str))
                                        .map_or_else(
                                            || units_in_specs(project),
                                            |best| format!("did you mean `{best}`?"),
                                        ),
                                )),
                                Some(_) if !env.deploys(unit_name) => Some((
                                    format!(
                                        "smoke check `{}` reads `{r}`, but this environment does not deploy `{unit_name}`",
                                        check.name
                                    ),
                                    format!("add `{unit_name}` to a stack under `stacks:`"),
                                )),
                                Some(unit) => resolve::missing_output(unit, output),
                            }
                        }
                    };
                    if let Some((message, help)) = problem {
                        diags.push(Diagnostic::new(&env.file, n.span, message).with_help(help));
                    }
                }
            });
        }
    }
}

/// The layout: which stack each deployed unit is in.
pub(super) fn layout(
    project: &Project,
    env: &Environment,
    diags: &mut Diagnostics,
) -> BTreeMap<String, String> {
    let mut unit_stack = BTreeMap::new();
    for stack in &env.stacks {
        for (unit, span) in &stack.units {
            if project.units.contains_key(unit) {
                unit_stack.insert(unit.clone(), stack.name.clone());
            } else if !project.broken.contains(unit) {
                diags.push(
                    Diagnostic::new(
                        &env.file,
                        *span,
                        format!(
                            "stack `{}` lists unit `{unit}`, which is not in specs/",
                            stack.name
                        ),
                    )
                    .suggest_or(
                        unit,
                        project.units.keys().map(String::as_str),
                        units_in_specs(project),
                    ),
                );
            }
        }
    }
    unit_stack
}

/// Routes the local emulator answers itself: `/health` and `/_...` on every
/// host, execute-api hosts included. A check of such a route passes there
/// without ever reaching the function. Warnings, for local targets only.
pub fn shadowed_routes(project: &Project, env: &Environment) -> Vec<Diagnostic> {
    if !matches!(env.target, crate::spec::Target::Local { .. }) {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    for unit in project.units.values().filter(|u| env.deploys(&u.name)) {
        for resource in unit
            .resources
            .iter()
            .filter(|r| r.kind == crate::kinds::Kind::HttpApi)
        {
            let Some(routes) = resource
                .body
                .get("routes")
                .and_then(crate::yaml::Node::entries)
            else {
                continue;
            };
            for route in routes {
                let path = route.key.split_whitespace().last().unwrap_or_default();
                if path == "/health" || path.starts_with("/health/") || path.starts_with("/_") {
                    warnings.push(
                        Diagnostic::new(
                            &unit.file,
                            route.key_span,
                            format!(
                                "route `{}` is answered by the local emulator itself (MiniStack serves `/health` and `/_...` on every host): on environment {} it never reaches the function",
                                route.key, env.name
                            ),
                        )
                        .with_help("use another path for it, or check it against AWS; on AWS the route works as written"),
                    );
                }
            }
        }
    }
    warnings
}
