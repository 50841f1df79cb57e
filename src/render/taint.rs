//! Which stack outputs may carry a secret. A secret param becomes a NoEcho
//! stack parameter; it taints every property that references it, a
//! property taints the attribute of the same name (`${stash.Value}` of an
//! SSM parameter whose `Value` holds the secret), and an output that
//! references a tainted parameter or attribute is secret. Across stacks, a
//! parameter fed by a secret output is tainted in turn.

use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;

/// What a JSON value references: `Ref` names, and `Fn::GetAtt` / `${X.A}`
/// of `Fn::Sub` as `(resource, attribute)`.
#[derive(Default)]
struct References {
    refs: BTreeSet<String>,
    attributes: BTreeSet<(String, String)>,
}

fn collect(value: &Json, found: &mut References) {
    match value {
        Json::Object(map) => {
            if let Some(Json::String(name)) = map.get("Ref") {
                found.refs.insert(name.clone());
            }
            match map.get("Fn::GetAtt") {
                Some(Json::Array(parts)) => {
                    if let (Some(Json::String(r)), Some(Json::String(a))) =
                        (parts.first(), parts.get(1))
                    {
                        found.attributes.insert((r.clone(), a.clone()));
                    }
                }
                Some(Json::String(dotted)) => {
                    if let Some((r, a)) = dotted.split_once('.') {
                        found.attributes.insert((r.into(), a.into()));
                    }
                }
                _ => {}
            }
            match map.get("Fn::Sub") {
                Some(Json::String(text)) => sub_names(text, found),
                Some(Json::Array(parts)) => {
                    if let Some(Json::String(text)) = parts.first() {
                        sub_names(text, found);
                    }
                }
                _ => {}
            }
            map.values().for_each(|v| collect(v, found));
        }
        Json::Array(items) => items.iter().for_each(|v| collect(v, found)),
        _ => {}
    }
}

/// `${Name}` and `${Resource.Attribute}` in a `Fn::Sub` string.
fn sub_names(text: &str, found: &mut References) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            match name.split_once('.') {
                Some((r, a)) => {
                    found.attributes.insert((r.into(), a.into()));
                }
                None => {
                    found.refs.insert(name.into());
                }
            }
        }
        rest = &after[end + 1..];
    }
}

/// Whether `value` references a tainted parameter or attribute.
fn tainted(
    value: &Json,
    params: &BTreeSet<String>,
    attributes: &BTreeSet<(String, String)>,
) -> bool {
    let mut found = References::default();
    collect(value, &mut found);
    found.refs.iter().any(|r| params.contains(r))
        || found.attributes.iter().any(|a| attributes.contains(a))
}

/// Whether `value`, a part of `template`, may carry a secret.
pub fn is_secret(template: &Json, value: &Json) -> bool {
    let (params, attributes) = secret_sources(template, &BTreeSet::new());
    tainted(value, &params, &attributes)
}

/// The outputs of `template` that may carry a secret, given the parameters
/// that do (its NoEcho ones are added).
pub fn secret_outputs(template: &Json, tainted_params: &BTreeSet<String>) -> BTreeSet<String> {
    let (params, attributes) = secret_sources(template, tainted_params);
    let empty = Map::new();
    template
        .get("Outputs")
        .and_then(Json::as_object)
        .unwrap_or(&empty)
        .iter()
        .filter(|(_, o)| {
            o.get("Value")
                .is_some_and(|v| tainted(v, &params, &attributes))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The parameters and attributes of `template` that may carry a secret.
fn secret_sources(
    template: &Json,
    tainted_params: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<(String, String)>) {
    let empty = Map::new();
    let section = |name: &str| {
        template
            .get(name)
            .and_then(Json::as_object)
            .unwrap_or(&empty)
    };
    let mut params = tainted_params.clone();
    params.extend(
        section("Parameters")
            .iter()
            .filter(|(_, p)| p.get("NoEcho") == Some(&Json::Bool(true)))
            .map(|(name, _)| name.clone()),
    );
    // Attributes fed by a secret, to a fixpoint: a property may reference
    // an attribute another property made secret.
    let mut attributes: BTreeSet<(String, String)> = BTreeSet::new();
    loop {
        let before = attributes.len();
        for (id, body) in section("Resources") {
            let Some(properties) = body.get("Properties").and_then(Json::as_object) else {
                continue;
            };
            for (property, value) in properties {
                if tainted(value, &params, &attributes) {
                    attributes.insert((id.clone(), property.clone()));
                }
            }
        }
        if attributes.len() == before {
            break;
        }
    }
    (params, attributes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> Json {
        json!({
            "Parameters": {
                "SecretToken": { "Type": "String", "NoEcho": true },
                "TableName": { "Type": "String" }
            },
            "Resources": {
                "Stash": { "Type": "AWS::SSM::Parameter", "Properties": { "Value": { "Ref": "SecretToken" }, "Type": "String" } },
                "Copy": { "Type": "AWS::SSM::Parameter", "Properties": { "Value": { "Fn::Sub": "x-${Stash.Value}" } } },
                "Fn": { "Type": "AWS::Lambda::Function", "Properties": { "Environment": { "Variables": { "TOKEN": { "Ref": "SecretToken" } } } } }
            },
            "Outputs": {
                "StashValue": { "Value": { "Fn::GetAtt": ["Stash", "Value"] } },
                "CopyValue": { "Value": { "Fn::GetAtt": "Copy.Value" } },
                "StashName": { "Value": { "Ref": "Stash" } },
                "FnArn": { "Value": { "Fn::GetAtt": ["Fn", "Arn"] } },
                "Table": { "Value": { "Ref": "TableName" } },
                "Direct": { "Value": { "Fn::Sub": "${SecretToken}" } }
            }
        })
    }

    #[test]
    fn a_secret_reaches_the_outputs_of_the_attributes_it_feeds_and_no_others() {
        let secret = secret_outputs(&template(), &BTreeSet::new());
        let expected: BTreeSet<String> = ["StashValue", "CopyValue", "Direct"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(secret, expected);
    }

    #[test]
    fn a_parameter_fed_by_a_secret_output_upstream_is_secret_too() {
        let tainted = BTreeSet::from(["TableName".to_string()]);
        assert!(secret_outputs(&template(), &tainted).contains("Table"));
    }
}
