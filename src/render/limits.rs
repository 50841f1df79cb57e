//! What CloudFormation would refuse in a rendered stack, known offline:
//! its quotas, the shape of its identifiers, resource types it does not
//! have, and references to resources the template does not hold. Each is
//! reported at the spec line that leads to it, before any change set.

use super::model::RenderedStack;
use crate::diag::{Diagnostic, FileName};
use crate::spec::{Environment, Project, StackDef};
use crate::yaml::Span;
use serde_json::Value as Json;
use std::collections::BTreeSet;
use std::sync::OnceLock;

/// Resources in one stack.
pub const MAX_RESOURCES: usize = 500;
/// Outputs, and parameters, in one stack.
pub const MAX_OUTPUTS: usize = 200;
pub const MAX_PARAMETERS: usize = 200;
/// Bytes of a template sent inline (`TemplateBody`); larger ones go through S3.
pub const MAX_INLINE_TEMPLATE: usize = 51_200;
/// Bytes of a template read from S3 (`TemplateURL`): 1 MB, enforced as 1,000,000.
pub const MAX_TEMPLATE: usize = 1_000_000;
/// Characters of a logical id.
const MAX_LOGICAL_ID: usize = 255;
/// Characters of a template's description.
pub const MAX_TEMPLATE_DESCRIPTION: usize = 1024;
/// Characters of a Lambda function's description.
const MAX_FUNCTION_DESCRIPTION: usize = 256;

/// The AWS:: types CloudFormation has in some region.
fn known_types() -> &'static BTreeSet<&'static str> {
    static TYPES: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    TYPES.get_or_init(|| {
        include_str!("resource_types.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect()
    })
}

/// Whether CloudFormation knows `type_name`. Types outside `AWS::` (custom
/// resources, registered third-party types) are the account's own.
pub fn known_type(type_name: &str) -> bool {
    !type_name.starts_with("AWS::") || known_types().contains(type_name)
}

/// A stack's problems, each at the spec line that causes it.
pub(super) fn check_stack(
    project: &Project,
    env: &Environment,
    def: &StackDef,
    stack: &RenderedStack,
    template: &Json,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let at_stack =
        |message: String, help: &str| Diagnostic::new(&env.file, def.span, message).with_help(help);
    let resources = template["Resources"].as_object();
    let parameters = template["Parameters"].as_object();
    let count = |v: Option<&serde_json::Map<String, Json>>| v.map_or(0, serde_json::Map::len);
    let quotas = [
        (count(resources), MAX_RESOURCES, "resources"),
        (
            count(template["Outputs"].as_object()),
            MAX_OUTPUTS,
            "outputs",
        ),
        (count(parameters), MAX_PARAMETERS, "parameters"),
    ];
    for (n, max, what) in quotas {
        if n > max {
            out.push(at_stack(
                format!(
                    "stack `{}` renders {n} {what}, more than the {max} CloudFormation allows in one stack",
                    def.name
                ),
                "split its units over more stacks in `stacks:`",
            ));
        }
    }
    let Some(resources) = resources else {
        return out;
    };
    let spec_of = |logical_id: &str| -> (FileName, Span, String) {
        stack
            .resources
            .iter()
            .find(|r| r.logical_id == logical_id)
            .and_then(|r| {
                let unit = project.units.get(&r.unit)?;
                let span = unit
                    .resource(&r.resource)
                    .map_or(unit.tier_span, |d| d.span);
                Some((
                    unit.file.clone(),
                    span,
                    format!("{}.{}", r.unit, r.resource),
                ))
            })
            .unwrap_or_else(|| (env.file.clone(), def.span, logical_id.to_string()))
    };
    for (logical_id, resource) in resources {
        let (file, span, label) = spec_of(logical_id);
        let error =
            |message: String, help: &str| Diagnostic::new(&file, span, message).with_help(help);
        if logical_id.chars().count() > MAX_LOGICAL_ID {
            out.push(error(
                format!(
                    "{label} renders the logical id `{logical_id}`, longer than CloudFormation's {MAX_LOGICAL_ID} characters"
                ),
                "shorten the unit's or the resource's name",
            ));
        }
        if parameters.is_some_and(|p| p.contains_key(logical_id)) {
            out.push(error(
                format!("{label} renders `{logical_id}`, the name of a parameter of the stack"),
                "rename the resource: a template's resources and parameters share one namespace",
            ));
        }
        let type_name = resource["Type"].as_str().unwrap_or_default();
        if !known_type(type_name) {
            let candidates = known_types().iter().copied();
            out.push(
                Diagnostic::new(
                    &file,
                    span,
                    format!("`{type_name}` ({label}) is not a CloudFormation resource type"),
                )
                .suggest_or(
                    type_name,
                    candidates,
                    "check the spelling against the CloudFormation resource reference",
                ),
            );
        }
        if type_name == "AWS::Lambda::Function"
            && let Some(description) = resource["Properties"]["Description"].as_str()
            && description.chars().count() > MAX_FUNCTION_DESCRIPTION
        {
            out.push(error(
                format!(
                    "the description of {label} is {} characters, more than Lambda's {MAX_FUNCTION_DESCRIPTION}",
                    description.chars().count()
                ),
                "shorten it",
            ));
        }
        let mut missing = BTreeSet::new();
        references(resource, &mut |target, how| {
            let known = resources.contains_key(target)
                || target.starts_with("AWS::")
                || (how == "Ref" && parameters.is_some_and(|p| p.contains_key(target)));
            if !known {
                missing.insert((how, target.to_string()));
            }
        });
        for (how, target) in missing {
            out.push(error(
                format!(
                    "`{how}` in {label} names `{target}`, which is not a resource of stack `{}`",
                    def.name
                ),
                "reference a resource of the same stack by its logical id, or another unit's output with `${unit.output}`",
            ));
        }
    }
    out
}

/// Calls `found(target, "Ref" | "Fn::GetAtt")` for every reference in `value`.
fn references<'a>(value: &'a Json, found: &mut impl FnMut(&'a str, &'static str)) {
    match value {
        Json::Object(map) => {
            if map.len() == 1 {
                if let Some(Json::String(target)) = map.get("Ref") {
                    found(target, "Ref");
                    return;
                }
                match map.get("Fn::GetAtt") {
                    Some(Json::Array(parts)) => {
                        if let Some(Json::String(target)) = parts.first() {
                            found(target, "Fn::GetAtt");
                        }
                        return;
                    }
                    Some(Json::String(dotted)) => {
                        let target = dotted.split_once('.').map_or(dotted.as_str(), |(t, _)| t);
                        found(target, "Fn::GetAtt");
                        return;
                    }
                    _ => {}
                }
            }
            map.values().for_each(|v| references(v, found));
        }
        Json::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// A rendered template over what CloudFormation reads from S3.
pub(super) fn template_too_large(env: &Environment, def: &StackDef, bytes: usize) -> Diagnostic {
    Diagnostic::new(
        &env.file,
        def.span,
        format!(
            "stack `{}` renders a template of {bytes} bytes, more than the {MAX_TEMPLATE} CloudFormation accepts",
            def.name
        ),
    )
    .with_help("split its units over more stacks in `stacks:`")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_resource_types_kept_are_cloudformations() {
        assert!(known_type("AWS::Lambda::Function"));
        assert!(known_type("AWS::DynamoDB::Table"));
        assert!(known_type("Custom::Seed"));
        assert!(!known_type("AWS::Lambda::Functoin"));
        assert!(known_types().len() > 1000);
    }

    #[test]
    fn references_are_found_in_every_form() {
        let value = json!({
            "A": { "Ref": "Table" },
            "B": [{ "Fn::GetAtt": ["Role", "Arn"] }, { "Fn::GetAtt": "Queue.Arn" }],
            "C": { "Fn::Join": ["", [{ "Ref": "AWS::Region" }]] },
        });
        let mut seen = Vec::new();
        references(&value, &mut |t, how| seen.push((how, t)));
        seen.sort();
        assert_eq!(
            seen,
            [
                ("Fn::GetAtt", "Queue"),
                ("Fn::GetAtt", "Role"),
                ("Ref", "AWS::Region"),
                ("Ref", "Table")
            ]
        );
    }
}
