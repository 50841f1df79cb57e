//! Functions behind aliases, for an environment with `releases:`. Each
//! function gets a version keyed by its rendered definition (unchanged
//! code and configuration: the same version, nothing published) and an
//! alias on it; everything that invokes the function calls the alias.

use crate::spec::releases::{Releases, Strategy};
use serde_json::{Value as Json, json};

/// A function of a stack put behind its alias.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Released {
    pub logical_id: String,
    /// `unit.resource`.
    pub label: String,
    /// The version resource of this definition (`<Fn>Version<hash>`).
    pub version_id: String,
    pub alias_id: String,
    pub alias: String,
    pub strategy: Strategy,
}

/// Types that name a function without invoking it: left on the function.
const NOT_INVOKERS: &[&str] = &["AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard"];

/// Puts each of `functions` (logical id, label) of `template` behind an
/// alias, and points their invokers at it.
pub fn put_behind_aliases(
    template: &mut Json,
    functions: &[(String, String)],
    releases: &Releases,
) -> Vec<Released> {
    let mut released = Vec::new();
    for (logical_id, label) in functions {
        // The alias's setting, not the function's: no new version for it.
        let provisioned = take_provisioned(template, logical_id);
        let named = take_alias(template, logical_id);
        let Some(body) = template.pointer(&format!("/Resources/{logical_id}")) else {
            continue;
        };
        let hash = blake3::hash(body.to_string().as_bytes()).to_hex();
        let function = Released {
            logical_id: logical_id.clone(),
            label: label.clone(),
            version_id: format!("{logical_id}Version{}", &hash[..10]),
            alias_id: format!("{logical_id}Alias"),
            alias: named.unwrap_or_else(|| releases.alias.clone()),
            strategy: releases.strategy_of(label),
        };
        let Some(resources) = template.get_mut("Resources").and_then(Json::as_object_mut) else {
            continue;
        };
        for (id, resource) in resources.iter_mut() {
            if id != logical_id {
                point_at_alias(resource, &function);
            }
        }
        resources.insert(
            function.version_id.clone(),
            json!({
                "Type": "AWS::Lambda::Version",
                // Kept when a newer one replaces it: a release can go back.
                "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": {
                    "FunctionName": { "Ref": logical_id },
                    "Description": format!("driftless {}", &hash[..10]),
                }
            }),
        );
        let mut alias = json!({
            "Type": "AWS::Lambda::Alias",
            "Properties": {
                "FunctionName": { "Ref": logical_id },
                "Name": function.alias,
                "FunctionVersion": { "Fn::GetAtt": [function.version_id, "Version"] },
            }
        });
        if let Some(count) = provisioned.filter(|v| *v != json!(0)) {
            alias["Properties"]["ProvisionedConcurrencyConfig"] =
                json!({ "ProvisionedConcurrentExecutions": count });
        }
        resources.insert(function.alias_id.clone(), alias);
        released.push(function);
    }
    released
}

/// A unit's `alias:` in an environment without `releases:` names no alias
/// there: said, as a warning at the field, where `validate` shows it.
pub fn unused_aliases(
    project: &crate::spec::Project,
    env: &crate::spec::Environment,
) -> Vec<crate::diag::Diagnostic> {
    if env.releases.is_some() {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    for unit in project.units.values().filter(|u| env.deploys(&u.name)) {
        for resource in &unit.resources {
            if let Some(node) = resource.body.get("alias") {
                warnings.push(
                    crate::diag::Diagnostic::new(
                        &unit.file,
                        node.span,
                        format!(
                            "{} has no `releases:`: {}.{} runs without an alias there",
                            env.file.as_ref() as &str,
                            unit.name,
                            resource.name
                        ),
                    )
                    .with_help("the alias is made where an environment says `releases:`"),
                );
            }
        }
    }
    warnings
}

/// Takes a function's provisioned concurrency out of its resource (where
/// the kind left it for the alias); None when it has none.
pub fn take_provisioned(template: &mut Json, logical_id: &str) -> Option<Json> {
    take_metadata(template, logical_id, crate::kinds::PROVISIONED_METADATA)
}

/// Takes the alias name a unit gives its function out of its resource.
pub fn take_alias(template: &mut Json, logical_id: &str) -> Option<String> {
    take_metadata(template, logical_id, crate::kinds::ALIAS_METADATA)
        .and_then(|v| v.as_str().map(str::to_string))
}

fn take_metadata(template: &mut Json, logical_id: &str, key: &str) -> Option<Json> {
    let resource = template.pointer_mut(&format!("/Resources/{logical_id}"))?;
    let metadata = resource.get_mut("Metadata")?.as_object_mut()?;
    let value = metadata.remove(key)?;
    if metadata.is_empty()
        && let Some(resource) = resource.as_object_mut()
    {
        resource.remove("Metadata");
    }
    Some(value)
}

/// One resource's references to `f`, as its invokers must make them.
fn point_at_alias(resource: &mut Json, f: &Released) {
    let kind = resource
        .get("Type")
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string();
    if NOT_INVOKERS.contains(&kind.as_str()) || kind.starts_with("AWS::Logs::") {
        return;
    }
    let Some(properties) = resource.get_mut("Properties").and_then(Json::as_object_mut) else {
        return;
    };
    match kind.as_str() {
        // Addressed as the function and a qualifier.
        "AWS::Lambda::Url" | "AWS::Lambda::EventInvokeConfig" => {
            let target = ["TargetFunctionArn", "FunctionName"]
                .iter()
                .any(|key| properties.get(*key).is_some_and(|v| names(v, f)));
            if target {
                properties.insert("Qualifier".into(), json!(f.alias));
            }
            if kind == "AWS::Lambda::EventInvokeConfig"
                && let Some(destinations) = properties.get_mut("DestinationConfig")
            {
                rewrite(destinations, f);
            }
        }
        // A role may invoke the alias too.
        _ if kind.starts_with("AWS::IAM::") => properties.values_mut().for_each(|v| widen(v, f)),
        "AWS::Lambda::Permission" | "AWS::Lambda::EventSourceMapping" => {
            if properties.get("FunctionName").is_some_and(|v| names(v, f)) {
                properties.insert("FunctionName".into(), json!({ "Ref": f.alias_id }));
            }
            for value in properties.values_mut() {
                rewrite(value, f);
            }
        }
        _ => {
            for value in properties.values_mut() {
                rewrite(value, f);
            }
        }
    }
}

/// Whether `value` is the function itself (`Ref` or its ARN).
fn names(value: &Json, f: &Released) -> bool {
    *value == json!({ "Ref": f.logical_id }) || is_arn(value, f)
}

fn is_arn(value: &Json, f: &Released) -> bool {
    *value == json!({ "Fn::GetAtt": [f.logical_id, "Arn"] })
        || *value == json!({ "Fn::GetAtt": format!("{}.Arn", f.logical_id) })
}

/// The function's ARN, wherever it stands in `value`, becomes the alias's.
fn rewrite(value: &mut Json, f: &Released) {
    if is_arn(value, f) {
        *value = json!({ "Ref": f.alias_id });
        return;
    }
    match value {
        Json::Object(map) => {
            if let Some(sub) = map.get_mut("Fn::Sub") {
                rewrite_sub(sub, f);
            }
            for (key, inner) in map.iter_mut() {
                if key != "Fn::Sub" {
                    rewrite(inner, f);
                }
            }
        }
        Json::Array(items) => items.iter_mut().for_each(|v| rewrite(v, f)),
        _ => {}
    }
}

fn rewrite_sub(sub: &mut Json, f: &Released) {
    let from = format!("${{{}.Arn}}", f.logical_id);
    let to = format!("${{{}}}", f.alias_id);
    match sub {
        Json::String(text) => *text = text.replace(&from, &to),
        Json::Array(parts) => {
            if let Some(Json::String(text)) = parts.first_mut() {
                *text = text.replace(&from, &to);
            }
            for part in parts.iter_mut().skip(1) {
                rewrite(part, f);
            }
        }
        _ => {}
    }
}

/// An IAM document's statements that name the function's ARN name its
/// versions and aliases too (`ARN:*`).
fn widen(value: &mut Json, f: &Released) {
    match value {
        Json::Object(map) => {
            if let Some(resource) = map.get_mut("Resource") {
                let qualified = json!({ "Fn::Sub": format!("${{{}.Arn}}:*", f.logical_id) });
                match resource {
                    Json::Array(items) if items.iter().any(|v| is_arn(v, f)) => {
                        items.push(qualified)
                    }
                    single if is_arn(single, f) => *single = json!([single.clone(), qualified]),
                    _ => {}
                }
            }
            map.values_mut().for_each(|v| widen(v, f));
        }
        Json::Array(items) => items.iter_mut().for_each(|v| widen(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::releases::Strategy;

    fn releases() -> Releases {
        Releases {
            strategy: Strategy::Canary {
                percent: 10,
                bake: std::time::Duration::from_secs(60),
            },
            alias: "live".into(),
            functions: vec![("api.other".into(), Strategy::AllAtOnce, Default::default())],
            verify: None,
            alarms: Vec::new(),
            span: Default::default(),
        }
    }

    fn template() -> Json {
        json!({ "Resources": {
            "Fn": { "Type": "AWS::Lambda::Function", "Properties": { "Code": { "ZipFile": "x" } } },
            "Logs": { "Type": "AWS::Logs::LogGroup", "Properties": { "LogGroupName": { "Fn::Sub": "/aws/lambda/${Fn}" } } },
            "Integration": { "Type": "AWS::ApiGatewayV2::Integration", "Properties": {
                "IntegrationUri": { "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/functions/${Fn.Arn}/invocations" } } },
            "Permission": { "Type": "AWS::Lambda::Permission", "Properties": { "FunctionName": { "Ref": "Fn" }, "Action": "lambda:InvokeFunction" } },
            "Mapping": { "Type": "AWS::Lambda::EventSourceMapping", "Properties": { "FunctionName": { "Fn::GetAtt": ["Fn", "Arn"] } } },
            "Url": { "Type": "AWS::Lambda::Url", "Properties": { "TargetFunctionArn": { "Fn::GetAtt": ["Fn", "Arn"] } } },
            "Rule": { "Type": "AWS::Events::Rule", "Properties": { "Targets": [{ "Arn": { "Fn::GetAtt": ["Fn", "Arn"] }, "Id": "t" }] } },
            "Alarm": { "Type": "AWS::CloudWatch::Alarm", "Properties": { "Dimensions": [{ "Name": "FunctionName", "Value": { "Ref": "Fn" } }] } },
            "MachineRole": { "Type": "AWS::IAM::Role", "Properties": { "Policies": [{ "PolicyDocument": { "Statement": [
                { "Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": { "Fn::GetAtt": ["Fn", "Arn"] } } ] } }] } }
        }})
    }

    #[test]
    fn invokers_call_the_alias_and_the_rest_keep_the_function() {
        let mut t = template();
        let released =
            put_behind_aliases(&mut t, &[("Fn".into(), "api.handler".into())], &releases());
        assert_eq!(released.len(), 1);
        let f = &released[0];
        assert_eq!(f.strategy.describe(), "canary 10% 1m");
        let r = &t["Resources"];
        assert_eq!(r[&f.version_id]["Type"], "AWS::Lambda::Version");
        assert_eq!(r[&f.version_id]["DeletionPolicy"], "Retain");
        assert_eq!(
            r["FnAlias"]["Properties"]["FunctionVersion"],
            json!({ "Fn::GetAtt": [f.version_id, "Version"] })
        );
        assert!(
            r["Integration"]["Properties"]["IntegrationUri"]["Fn::Sub"]
                .as_str()
                .unwrap_or_default()
                .contains("/functions/${FnAlias}/invocations")
        );
        assert_eq!(
            r["Permission"]["Properties"]["FunctionName"],
            json!({ "Ref": "FnAlias" })
        );
        assert_eq!(
            r["Mapping"]["Properties"]["FunctionName"],
            json!({ "Ref": "FnAlias" })
        );
        assert_eq!(r["Url"]["Properties"]["Qualifier"], "live");
        assert_eq!(
            r["Url"]["Properties"]["TargetFunctionArn"],
            json!({ "Fn::GetAtt": ["Fn", "Arn"] })
        );
        assert_eq!(
            r["Rule"]["Properties"]["Targets"][0]["Arn"],
            json!({ "Ref": "FnAlias" })
        );
        assert_eq!(
            r["Alarm"]["Properties"]["Dimensions"][0]["Value"],
            json!({ "Ref": "Fn" })
        );
        assert_eq!(
            r["Logs"]["Properties"]["LogGroupName"]["Fn::Sub"],
            "/aws/lambda/${Fn}"
        );
        let resource = &r["MachineRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            [0]["Resource"];
        assert_eq!(
            resource[1],
            json!({ "Fn::Sub": "${Fn.Arn}:*" }),
            "{resource}"
        );
    }

    #[test]
    fn the_version_follows_the_definition_and_only_it() {
        let ids = |t: &mut Json| {
            put_behind_aliases(t, &[("Fn".into(), "api.handler".into())], &releases())[0]
                .version_id
                .clone()
        };
        let (mut a, mut b) = (template(), template());
        assert_eq!(
            ids(&mut a),
            ids(&mut b),
            "the same definition: the same version"
        );
        let mut c = template();
        c["Resources"]["Fn"]["Properties"]["Code"]["ZipFile"] = json!("y");
        assert_ne!(ids(&mut a.clone()), ids(&mut c));
        let mut t = template();
        let other = put_behind_aliases(&mut t, &[("Fn".into(), "api.other".into())], &releases());
        assert_eq!(
            other[0].strategy,
            Strategy::AllAtOnce,
            "the per-function strategy"
        );
    }
}
