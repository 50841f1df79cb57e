//! Bringing back a resource deleted outside CloudFormation. CloudFormation
//! does not recreate it on its own: an update that does not change it
//! leaves it gone, and one that does fails on it. So the stack is updated
//! twice: first without the missing resources and everything that refers
//! to them, then with its whole template, which creates them again.
//! Pure: this works out the first template.

use serde_json::{Map, Value as Json};
use std::collections::BTreeSet;

/// The template of the first update.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    pub template: String,
    /// Every resource taken out: the missing ones and those that refer to
    /// them, directly or through another.
    pub removed: Vec<String>,
}

/// A resource that only holds the stack's place when every resource is
/// taken out (a template needs one).
const PLACEHOLDER: &str = "DriftlessRestoring";

/// `template` without the `missing` resources and everything that refers
/// to them. `Err` says why it cannot be done: a retained resource would
/// have to go (retained resources are never removed to bring another
/// back), or the template is not what driftless renders.
pub fn without(template: &str, missing: &[String]) -> Result<Restore, String> {
    let mut body: Json = serde_json::from_str(template)
        .map_err(|e| format!("the stack's template is not JSON: {e}"))?;
    let resources = body
        .get("Resources")
        .and_then(Json::as_object)
        .ok_or("the stack's template has no resources")?;
    let mut removed: BTreeSet<String> = missing
        .iter()
        .filter(|id| resources.contains_key(id.as_str()))
        .cloned()
        .collect();
    // To a fixed point: a resource that refers to one taken out goes too.
    loop {
        let before = removed.len();
        for (id, resource) in resources {
            if !removed.contains(id) && refers_to(resource, &removed) {
                removed.insert(id.clone());
            }
        }
        if removed.len() == before {
            break;
        }
    }
    let retained: Vec<&String> = removed
        .iter()
        .filter(|id| {
            let r = &resources[id.as_str()];
            ["DeletionPolicy", "UpdateReplacePolicy"]
                .iter()
                .any(|p| r.get(p).and_then(Json::as_str) == Some("Retain"))
        })
        .collect();
    if !retained.is_empty() {
        let names: Vec<&str> = retained.iter().map(|s| s.as_str()).collect();
        return Err(format!(
            "bringing back {} means taking {} out of the stack, and {} retained: create the missing resource again by hand, or destroy and deploy the stack",
            missing.join(", "),
            names.join(", "),
            if names.len() == 1 {
                "it is"
            } else {
                "they are"
            }
        ));
    }
    if let Some(resources) = body.get_mut("Resources").and_then(Json::as_object_mut) {
        resources.retain(|id, _| !removed.contains(id));
        if resources.is_empty() {
            resources.insert(
                PLACEHOLDER.into(),
                serde_json::json!({ "Type": "AWS::CloudFormation::WaitConditionHandle" }),
            );
        }
    }
    if let Some(outputs) = body.get_mut("Outputs").and_then(Json::as_object_mut) {
        outputs.retain(|_, output| !refers_to(output, &removed));
    }
    let template =
        serde_json::to_string(&body).map_err(|e| format!("the template did not serialise: {e}"))?;
    Ok(Restore {
        template,
        removed: removed.into_iter().collect(),
    })
}

/// Whether `value` names any of `ids`: `Ref`, `Fn::GetAtt` (list or
/// dotted), `${Id}` and `${Id.Attr}` in `Fn::Sub`, or `DependsOn`.
fn refers_to(value: &Json, ids: &BTreeSet<String>) -> bool {
    match value {
        Json::Object(map) => object_refers_to(map, ids),
        Json::Array(items) => items.iter().any(|v| refers_to(v, ids)),
        _ => false,
    }
}

fn object_refers_to(map: &Map<String, Json>, ids: &BTreeSet<String>) -> bool {
    let named = |name: &str| ids.contains(name);
    for (key, value) in map {
        let hit = match (key.as_str(), value) {
            ("Ref", Json::String(name)) => named(name),
            ("Fn::GetAtt", Json::Array(parts)) => {
                parts.first().and_then(Json::as_str).is_some_and(named)
            }
            ("Fn::GetAtt", Json::String(dotted)) => {
                named(dotted.split('.').next().unwrap_or_default())
            }
            ("Fn::Sub", Json::String(text)) => sub_names(text).any(named),
            ("Fn::Sub", Json::Array(parts)) => {
                parts
                    .first()
                    .and_then(Json::as_str)
                    .is_some_and(|text| sub_names(text).any(named))
                    || parts.iter().skip(1).any(|v| refers_to(v, ids))
            }
            ("DependsOn", Json::String(name)) => named(name),
            ("DependsOn", Json::Array(names)) => names.iter().filter_map(Json::as_str).any(named),
            _ => refers_to(value, ids),
        };
        if hit {
            return true;
        }
    }
    false
}

/// The names `${Name}` and `${Name.Attr}` in a `Fn::Sub` string name;
/// `${!Literal}` names nothing.
fn sub_names(text: &str) -> impl Iterator<Item = &str> {
    text.split("${").skip(1).filter_map(|rest| {
        let inner = rest.split('}').next()?;
        match inner.starts_with('!') {
            true => None,
            false => inner.split('.').next(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template() -> String {
        json!({
            "Resources": {
                "Logs": { "Type": "AWS::Logs::LogGroup" },
                "Role": { "Type": "AWS::IAM::Role" },
                "Handler": { "Type": "AWS::Lambda::Function",
                    "Properties": { "Role": { "Fn::GetAtt": ["Role", "Arn"] },
                                    "LoggingConfig": { "LogGroup": { "Ref": "Logs" } } } },
                "Integration": { "Type": "AWS::ApiGatewayV2::Integration",
                    "Properties": { "IntegrationUri": { "Fn::Sub": "arn:${AWS::Partition}:lambda:${Handler.Arn}" } } },
                "Route": { "Type": "AWS::ApiGatewayV2::Route",
                    "Properties": { "Target": { "Fn::Join": ["/", ["integrations", { "Ref": "Integration" }]] } } },
                "Alarm": { "Type": "AWS::CloudWatch::Alarm", "DependsOn": ["Handler"] },
                "Literal": { "Type": "AWS::SSM::Parameter",
                    "Properties": { "Value": { "Fn::Sub": "${!Handler}" } } },
                "Dotted": { "Type": "AWS::Lambda::Permission",
                    "Properties": { "FunctionName": { "Fn::GetAtt": "Handler.Arn" } } }
            },
            "Outputs": {
                "HandlerName": { "Value": { "Ref": "Handler" } },
                "LogsName": { "Value": { "Ref": "Logs" } }
            }
        })
        .to_string()
    }

    #[test]
    fn the_missing_resource_goes_with_all_that_refers_to_it_and_nothing_else() {
        let restore = without(&template(), &["Handler".into()]).expect("restorable");
        assert_eq!(
            restore.removed,
            ["Alarm", "Dotted", "Handler", "Integration", "Route"]
        );
        let body: Json = serde_json::from_str(&restore.template).expect("json");
        let kept: Vec<&String> = body["Resources"]
            .as_object()
            .expect("resources")
            .keys()
            .collect();
        assert_eq!(kept, ["Literal", "Logs", "Role"]);
        let outputs: Vec<&String> = body["Outputs"]
            .as_object()
            .expect("outputs")
            .keys()
            .collect();
        assert_eq!(outputs, ["LogsName"]);
    }

    #[test]
    fn a_retained_resource_in_the_way_is_an_error_naming_it() {
        let mut body: Json = serde_json::from_str(&template()).expect("json");
        body["Resources"]["Alarm"]["DeletionPolicy"] = json!("Retain");
        let err = without(&body.to_string(), &["Handler".into()]).expect_err("refused");
        assert!(err.contains("taking Alarm"), "{err}");
        assert!(err.contains("retained"), "{err}");
    }

    #[test]
    fn a_stack_left_empty_keeps_a_placeholder() {
        let body = json!({ "Resources": { "Handler": { "Type": "AWS::Lambda::Function" } } });
        let restore = without(&body.to_string(), &["Handler".into()]).expect("restorable");
        let body: Json = serde_json::from_str(&restore.template).expect("json");
        assert_eq!(
            body["Resources"][PLACEHOLDER]["Type"],
            "AWS::CloudFormation::WaitConditionHandle"
        );
    }
}
