//! Assembling one stack: its units' resources, the parameters fed by other
//! stacks, outputs, and the labels of what it retains.

use super::resolve::output_id;
use super::*;
use crate::diag::{Diagnostic, Diagnostics};
use crate::kinds::ASSET_BUCKET_PARAM;
use crate::spec::{Environment, Project, Tier};
use serde_json::{Map, Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};

pub(super) fn assemble_stack(
    project: &Project,
    env: &Environment,
    stack: &crate::spec::StackDef,
    rendered: &mut BTreeMap<String, RenderedUnit>,
    unit_stack: &BTreeMap<String, String>,
    diags: &mut Diagnostics,
) -> (RenderedStack, Json) {
    let name = env.stack_name(&stack.name);
    let units: Vec<String> = stack
        .units
        .iter()
        .map(|(u, _)| u.clone())
        .filter(|u| rendered.contains_key(u))
        .collect();
    let tier = if units.iter().any(|u| {
        project
            .units
            .get(u)
            .is_some_and(|u| u.tier == Tier::Stateful)
    }) {
        Tier::Stateful
    } else {
        Tier::Stateless
    };
    let mut resources = Map::new();
    let mut summaries = Vec::new();
    let mut owners: BTreeMap<String, String> = BTreeMap::new();
    let mut parameters: BTreeMap<String, ParameterSource> = BTreeMap::new();
    let mut outputs = Map::new();
    let mut depends_on = BTreeSet::new();
    let mut functions = Vec::new();
    let mut machines = Vec::new();
    let mut buckets = Vec::new();
    for unit_name in &units {
        // Each unit is in one stack: its rendering moves into the template.
        let Some(unit) = rendered.remove(unit_name) else {
            continue;
        };
        let (names, mut unit_resources): (Vec<String>, Vec<_>) = unit.resources.into_iter().unzip();
        crate::kinds::name_functions(&name, &mut unit_resources);
        for (resource_name, resource) in names.into_iter().zip(unit_resources) {
            let owner = format!("{unit_name}.{resource_name}");
            if let Some(other) = owners.insert(resource.logical_id.clone(), owner.clone())
                && other != owner
            {
                let span = project
                    .units
                    .get(unit_name)
                    .and_then(|u| u.resource(&resource_name))
                    .map(|r| r.span)
                    .unwrap_or_default();
                let file = project
                    .units
                    .get(unit_name)
                    .map(|u| u.file.clone())
                    .unwrap_or_else(|| env.file.clone());
                diags.push(
                    Diagnostic::new(
                        &file,
                        span,
                        format!(
                            "`{owner}` and `{other}` both render as `{}` in stack `{name}`",
                            resource.logical_id
                        ),
                    )
                    .with_help("rename one of the resources"),
                );
            }
            // Code from the asset bucket (not an image's URI).
            let ships_asset = ["Code", "Content"].iter().any(|p| {
                resource
                    .properties
                    .get(*p)
                    .is_some_and(|c| c.get("S3Bucket").is_some())
            });
            if ships_asset {
                parameters.insert(ASSET_BUCKET_PARAM.to_string(), ParameterSource::AssetBucket);
            }
            if resource.type_name == "AWS::Lambda::Function" {
                let output = format!("{FUNCTION_OUTPUT_PREFIX}{}", resource.logical_id);
                outputs.insert(
                    output.clone(),
                    json!({ "Description": format!("physical name of {}", resource.logical_id), "Value": { "Ref": resource.logical_id } }),
                );
                functions.push(FunctionSettings {
                    logical_id: resource.logical_id.clone(),
                    output,
                    reserved_concurrency: resource
                        .properties
                        .get("ReservedConcurrentExecutions")
                        .and_then(Json::as_i64),
                });
            }
            if resource.type_name == "AWS::StepFunctions::StateMachine" {
                let output = format!("{MACHINE_OUTPUT_PREFIX}{}", resource.logical_id);
                outputs.insert(
                    output.clone(),
                    json!({ "Description": format!("ARN of {}", resource.logical_id), "Value": { "Ref": resource.logical_id } }),
                );
                machines.push(MachineOutput {
                    logical_id: resource.logical_id.clone(),
                    output,
                });
            }
            let with_content = project
                .units
                .get(unit_name)
                .and_then(|u| u.resource(&resource_name))
                .is_some_and(|r| {
                    r.kind == crate::kinds::Kind::Bucket && r.body.get("content").is_some()
                });
            if with_content && resource.type_name == "AWS::S3::Bucket" {
                let output = format!("{BUCKET_OUTPUT_PREFIX}{}", resource.logical_id);
                outputs.insert(
                    output.clone(),
                    json!({ "Description": format!("physical name of {}", resource.logical_id), "Value": { "Ref": resource.logical_id } }),
                );
                buckets.push(BucketContent {
                    logical_id: resource.logical_id.clone(),
                    output,
                    unit: unit_name.clone(),
                    resource: resource_name.clone(),
                    manifest: None,
                });
            }
            summaries.push(ResourceSummary {
                logical_id: resource.logical_id.clone(),
                type_name: resource.type_name.clone(),
                unit: unit_name.clone(),
                resource: resource_name,
                retain: resource.retain,
            });
            resources.insert(resource.logical_id.clone(), resource.into_json());
        }
        if let Some(spec) = project.units.get(unit_name) {
            let given = env.params_of(unit_name);
            for param in spec.params.iter().filter(|p| p.secret) {
                let value = given.and_then(|g| g.values.iter().find(|e| e.key == param.name));
                if let Some(SecretValue::Env(var)) = value.map(|e| secret_value(&e.value)) {
                    parameters.insert(
                        secret_parameter(unit_name, &param.name),
                        ParameterSource::Env { var },
                    );
                }
            }
        }
        for (param, upstream) in &unit.stack_params {
            let from = unit_stack
                .get(&upstream.unit)
                .map(|s| env.stack_name(s))
                .unwrap_or_default();
            depends_on.insert(from.clone());
            parameters.insert(
                param.clone(),
                ParameterSource::Output {
                    stack: from,
                    output: param.clone(),
                },
            );
        }
        for (output, value) in &unit.outputs {
            outputs.insert(
                output_id(unit_name, output),
                json!({ "Description": format!("{unit_name}.{output}"), "Value": value.to_string_json() }),
            );
        }
    }
    let template_params: Map<String, Json> = parameters
        .iter()
        .map(|(p, source)| {
            let description = match source {
                ParameterSource::Output { stack, output } => {
                    format!("output {output} of stack {stack}")
                }
                ParameterSource::AssetBucket => "bucket holding the code assets".to_string(),
                ParameterSource::Env { var } => {
                    return (
                        p.clone(),
                        json!({ "Type": "String", "NoEcho": true, "Description": format!("secret, from the environment variable {var} of the deploying process") }),
                    );
                }
            };
            (
                p.clone(),
                json!({ "Type": "String", "Description": description }),
            )
        })
        .collect();
    let output_names: Vec<String> = outputs
        .keys()
        .filter(|k| !internal_output(k))
        .cloned()
        .collect();
    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert(
        "Description".into(),
        json!(template_description(
            &env.app,
            &env.name,
            &stack.name,
            &units
        )),
    );
    template.insert(
        "Metadata".into(),
        json!({ "driftless": { "app": env.app, "environment": env.name, "stack": stack.name, "units": units, "retained": retained_labels(&summaries) } }),
    );
    if !template_params.is_empty() {
        template.insert("Parameters".into(), Json::Object(template_params));
    }
    template.insert("Resources".into(), Json::Object(resources));
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Json::Object(outputs));
    }
    let parameters: Vec<StackParameter> = parameters
        .into_iter()
        .map(|(name, source)| StackParameter { name, source })
        .collect();
    let stack = RenderedStack {
        key: stack.name.clone(),
        name,
        tier,
        units,
        parameters,
        resources: summaries,
        outputs: output_names,
        secret_outputs: Default::default(),
        depends_on: depends_on.into_iter().collect(),
        functions,
        machines,
        buckets,
        released: Vec::new(),
        template: String::new(),
        hash: String::new(),
    };
    (stack, Json::Object(template))
}

/// The template's description, within CloudFormation's limit: units past
/// it are counted, not named.
fn template_description(app: &str, env: &str, stack: &str, units: &[String]) -> String {
    let limit = super::limits::MAX_TEMPLATE_DESCRIPTION;
    let full = format!(
        "{app} {env}: stack {stack} ({}), rendered by driftless",
        units.join(", ")
    );
    if full.chars().count() <= limit {
        return full;
    }
    let mut named = units.len();
    while named > 0 {
        named -= 1;
        let text = format!(
            "{app} {env}: stack {stack} ({} and {} more units), rendered by driftless",
            units[..named].join(", "),
            units.len() - named
        );
        if text.chars().count() <= limit {
            return text;
        }
    }
    full.chars().take(limit).collect()
}

/// `logical id -> unit.resource` for the resources a stack retains, kept in
/// the template so that a later pass can name them after a rename or a move.
pub(super) fn retained_labels(summaries: &[ResourceSummary]) -> Map<String, Json> {
    summaries
        .iter()
        .filter(|r| r.retain)
        .map(|r| {
            (
                r.logical_id.clone(),
                json!(format!("{}.{}", r.unit, r.resource)),
            )
        })
        .collect()
}
