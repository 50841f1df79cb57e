//! Raw CloudFormation: `type: AWS::...` with `properties:`, references resolved.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion, raw_type_holds_data};
use crate::diag::Diagnostic;
use crate::value::{RValue, Resolved};
use serde_json::Value as Json;

const DELETION: &[&str] = &["Retain", "RetainExceptOnCreate", "Delete", "Snapshot"];

pub const FIELDS: &[FieldSpec] = &[
    req("type", FieldType::Str).doc("CloudFormation resource type, such as `AWS::SNS::Topic`."),
    opt("properties", FieldType::MapOf(&FieldType::Any))
        .doc("The resource's properties, as CloudFormation names them."),
    opt("properties_file", FieldType::Str)
        .doc("A JSON or YAML file of the unit holding the properties."),
    opt("depends_on", FieldType::List(&FieldType::Str))
        .doc("Resources of the unit this one is created after."),
    opt("code", FieldType::Str).doc(
        "Folder of the unit uploaded as an asset; `${code.bucket}` and `${code.key}` reference it.",
    ),
    opt("update_policy", FieldType::MapOf(&FieldType::Any)).doc("CloudFormation `UpdatePolicy`."),
    opt("creation_policy", FieldType::MapOf(&FieldType::Any))
        .doc("CloudFormation `CreationPolicy`."),
    opt("metadata", FieldType::MapOf(&FieldType::Any)).doc("CloudFormation `Metadata`."),
    opt("deletion_policy", FieldType::Enum(DELETION))
        .doc("CloudFormation `DeletionPolicy`; resources of a stateful unit are retained."),
    opt(
        "update_replace_policy",
        FieldType::Enum(&["Retain", "Delete", "Snapshot"]),
    )
    .doc("CloudFormation `UpdateReplacePolicy`."),
];

/// Where a `code:` folder's zip goes, by type.
fn code_property(type_name: &str) -> Option<&'static str> {
    match type_name {
        "AWS::Lambda::Function" => Some("Code"),
        "AWS::Lambda::LayerVersion" => Some("Content"),
        _ => None,
    }
}

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    if let Some(properties) = x.field("properties") {
        check_intrinsics(x, properties, &mut problems);
    }
    let type_name = x.field("type").and_then(Resolved::str).unwrap_or_default();
    let mut properties = x.json("properties").unwrap_or(Json::Null);
    if let Some(code) = x.field("code") {
        match code_property(type_name) {
            Some(property) => {
                if properties.is_null() {
                    properties = Json::Object(serde_json::Map::new());
                }
                if let Json::Object(map) = &mut properties {
                    map.insert(property.into(), x.code());
                }
            }
            None => problems.push(x.error(
                code,
                format!("`code:` ships a folder as a Lambda function's or layer's zip, not a {type_name}'s"),
                "drop `code:`, or use it on an AWS::Lambda::Function or AWS::Lambda::LayerVersion",
            )),
        }
    }
    let retained = raw_type_holds_data(type_name) || x.stateful;
    let mut attributes = serde_json::Map::new();
    for (field, attribute) in [
        ("update_policy", "UpdatePolicy"),
        ("creation_policy", "CreationPolicy"),
        ("metadata", "Metadata"),
        ("deletion_policy", "DeletionPolicy"),
        ("update_replace_policy", "UpdateReplacePolicy"),
    ] {
        let Some(value) = x.field(field) else {
            continue;
        };
        let keeps = matches!(value.str(), Some("Retain" | "RetainExceptOnCreate"));
        if retained && matches!(field, "deletion_policy" | "update_replace_policy") && !keeps {
            problems.push(x.error(
                value,
                format!(
                    "`{field}: {}` would let CloudFormation delete a resource driftless keeps (it holds data, or its unit is stateful)",
                    value.str().unwrap_or_default()
                ),
                if raw_type_holds_data(type_name) {
                    format!("drop the field: a {type_name} holds data and is always retained")
                } else {
                    "drop the field (it is retained), or move the resource to a stateless unit if it may go".to_string()
                },
            ));
            continue;
        }
        attributes.insert(attribute.into(), value.to_json());
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut resource = CfnResource::new(x.logical_id.clone(), type_name, properties);
    resource.attributes = attributes;
    resource.depends_on = x
        .field("depends_on")
        .map(Resolved::list)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| x.siblings.get(name.str()?).map(|(_, id)| id.clone()))
        .collect();
    // Asking to retain makes it retained: the data guard protects it too.
    resource.retain =
        retained || x.field("deletion_policy").and_then(Resolved::str) == Some("Retain");
    if resource.retain {
        for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
            if resource.attributes.get(policy).and_then(Json::as_str) == Some("Retain") {
                resource.attributes.remove(policy);
            }
        }
    }
    Ok(vec![resource])
}

/// What an intrinsic function takes where CloudFormation wants literals.
fn literal_arguments(function: &str) -> Option<&'static str> {
    match function {
        "Ref" => Some("a literal logical id or parameter name"),
        "Fn::Sub" => Some("a literal string (or a literal string and a map)"),
        "Fn::GetAtt" => Some("a literal `[logical id, attribute]`"),
        _ => None,
    }
}

/// Intrinsics written by hand in raw properties get their arguments as
/// CloudFormation needs them: a `${...}` reference inside one becomes
/// `Ref`/`Fn::Join`, which `Ref`, `Fn::Sub` and `Fn::GetAtt` do not take.
fn check_intrinsics(x: &Expansion<'_>, value: &Resolved, problems: &mut Vec<Diagnostic>) {
    match &value.value {
        RValue::Map(entries) => {
            if let [(key, _, argument)] = entries.as_slice()
                && let Some(wanted) = literal_arguments(key)
            {
                let first = match &argument.value {
                    RValue::List(items) => items.first(),
                    _ => Some(argument),
                };
                if let Some(held) = first.filter(|f| matches!(f.value, RValue::Dynamic(..))) {
                    let help = if key == "Fn::Sub" {
                        "drop the `Fn::Sub`: driftless's references already build the string (`${resource.attribute}`, `${unit.output}`, and pseudo parameters such as `${AWS::Region}`); for a variable of the Fn::Sub itself, write `$${Name}`"
                    } else {
                        "write the reference alone (`${resource.attribute}` becomes `Ref`/`Fn::GetAtt` by itself), without the intrinsic around it"
                    };
                    problems.push(x.error(
                        held,
                        format!(
                            "`{key}` takes {wanted}, but this holds a reference that driftless resolves into an expression; CloudFormation would reject the template"
                        ),
                        help,
                    ));
                }
            }
            for (_, _, child) in entries {
                check_intrinsics(x, child, problems);
            }
        }
        RValue::List(items) => {
            for item in items {
                check_intrinsics(x, item, problems);
            }
        }
        _ => {}
    }
}
