//! One unit resolved and expanded into CloudFormation resources and outputs.

use super::resolve::{Resolver, Scope, Upstream};
use crate::diag::{Diagnostic, Diagnostics};
use crate::graph::{self, Graph};
use crate::kinds::{self, AssetRef, CfnResource, Expansion, Kind, check_fields, pascal};
use crate::spec::{Tier, Unit};
use crate::value::Resolved;
use std::collections::BTreeMap;

/// One unit, resolved and expanded.
pub(super) struct RenderedUnit {
    pub(super) resources: Vec<(String, CfnResource)>,
    pub(super) outputs: Vec<(String, Resolved)>,
    pub(super) stack_params: BTreeMap<String, Upstream>,
}

pub(super) fn sibling_map(unit: &Unit) -> BTreeMap<String, (Kind, String)> {
    unit.resources
        .iter()
        .map(|r| {
            (
                r.name.clone(),
                (r.kind, pascal(&unit.name) + &pascal(&r.name)),
            )
        })
        .collect()
}

/// Resolves the resources and outputs of one unit; expands kinds unless only checking.
pub(super) fn render_unit(
    scope: Scope<'_>,
    expand: bool,
    assets: &BTreeMap<(String, String), AssetRef>,
    diags: &mut Diagnostics,
) -> RenderedUnit {
    let unit = scope.unit;
    let siblings = scope.siblings;
    let mut resolver = Resolver::new(scope);
    let mut rendered = RenderedUnit {
        resources: Vec::new(),
        outputs: Vec::new(),
        stack_params: BTreeMap::new(),
    };
    let mut resource_graph = Graph::new();
    // Every resource resolved and checked first: a kind may read a
    // sibling's fields (a queue's visibility timeout, a bucket's events).
    let mut checked = Vec::new();
    let mut sibling_fields = BTreeMap::new();
    for resource in &unit.resources {
        resolver.sibling_refs.clear();
        let mut fields = resolver.resolve(&resource.body);
        for file in &resource.files {
            let value = resolver.resolve_in(&file.file, &file.node);
            fields.set(file.field, value);
        }
        resource_graph.insert(resource.name.clone(), resolver.sibling_refs.clone());
        let mut errors = Vec::new();
        let what = format!("resource `{}`", resource.name);
        check_fields(resource.kind.fields(), &fields, &what, &mut errors);
        if errors.is_empty() {
            kinds::check_kind(resource.kind, &fields, &what, &mut errors);
        }
        if resource.kind == Kind::Raw {
            for dep in fields
                .get("depends_on")
                .map(Resolved::list)
                .unwrap_or_default()
            {
                let Some(name) = dep.str() else { continue };
                if siblings.contains_key(name) {
                    resource_graph
                        .entry(resource.name.clone())
                        .or_default()
                        .insert(name.to_string());
                } else {
                    errors.push(
                        Diagnostic::new(
                            &dep.origin.file,
                            dep.origin.span,
                            format!(
                                "`depends_on` names `{name}`, which is not a resource of this unit"
                            ),
                        )
                        .suggest_among(
                            name,
                            siblings.keys().map(String::as_str),
                            "resources of this unit",
                        ),
                    );
                }
            }
        }
        if !errors.is_empty() || !expand {
            errors.into_iter().for_each(|d| diags.push(d));
            continue;
        }
        sibling_fields.insert(resource.name.clone(), fields);
        checked.push(resource);
    }
    for resource in checked {
        let Some(fields) = sibling_fields.get(&resource.name) else {
            continue;
        };
        let logical_id = siblings
            .get(&resource.name)
            .map(|(_, id)| id.clone())
            .unwrap_or_default();
        let stateful = unit.tier == Tier::Stateful || resource.kind.holds_data();
        let expansion = Expansion {
            unit: &unit.name,
            resource: &resource.name,
            logical_id,
            stateful,
            fields,
            asset: assets.get(&(unit.name.clone(), resource.name.clone())),
            siblings,
            sibling_fields: &sibling_fields,
        };
        match kinds::expand(resource.kind, &expansion) {
            Ok(resources) => rendered
                .resources
                .extend(resources.into_iter().map(|r| (resource.name.clone(), r))),
            Err(errors) => errors.into_iter().for_each(|d| diags.push(d)),
        }
    }
    if let Some(cycle) = graph::find_cycle(&resource_graph) {
        let span = cycle
            .first()
            .and_then(|name| unit.resource(name))
            .map(|r| r.span)
            .unwrap_or_default();
        let path: Vec<String> = cycle.iter().map(|r| format!("{}.{r}", unit.name)).collect();
        diags.push(
            Diagnostic::new(
                &unit.file,
                span,
                format!("reference cycle: {}", path.join(" -> ")),
            )
            .with_help(
                "CloudFormation cannot create resources that need each other; break one reference",
            ),
        );
    }
    for output in &unit.outputs {
        let value = resolver.resolve(&output.value);
        rendered.outputs.push((output.name.clone(), value));
    }
    resolver.errors.drain(..).for_each(|d| diags.push(d));
    rendered.stack_params = std::mem::take(&mut resolver.stack_params);
    rendered
}
