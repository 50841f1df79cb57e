//! Raw CloudFormation: `type: AWS::...` with `properties:`, references resolved.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion, raw_type_holds_data};
use crate::diag::Diagnostic;
use crate::value::{RValue, Resolved};
use serde_json::Value as Json;

pub const FIELDS: &[FieldSpec] = &[
    req("type", FieldType::Str),
    opt("properties", FieldType::MapOf(&FieldType::Any)),
    opt("depends_on", FieldType::List(&FieldType::Str)),
];

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    if let Some(properties) = x.field("properties") {
        check_intrinsics(x, properties, &mut problems);
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let type_name = x.field("type").and_then(Resolved::str).unwrap_or_default();
    let properties = x.json("properties").unwrap_or(Json::Null);
    let mut resource = CfnResource::new(x.logical_id.clone(), type_name, properties);
    resource.depends_on = x
        .field("depends_on")
        .map(Resolved::list)
        .unwrap_or_default()
        .iter()
        .filter_map(|name| x.siblings.get(name.str()?).map(|(_, id)| id.clone()))
        .collect();
    resource.retain = raw_type_holds_data(type_name);
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
