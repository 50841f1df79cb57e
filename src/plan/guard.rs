//! The data-loss guard, from templates alone: every retained resource of a
//! deployed template must still be in the same stack, under the same logical
//! id, with the properties that force a replacement unchanged. Anything else
//! loses the data it holds (or leaves it behind, unmanaged, while the app
//! moves to a new empty resource), and is refused unless the user named it.

use serde::Serialize;
use serde_json::Value as Json;
use std::collections::{BTreeMap, BTreeSet};

/// A retained resource the desired state would replace or remove.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hazard {
    /// The deployed stack holding the resource.
    pub stack: String,
    pub logical_id: String,
    /// `unit.resource` when known, else the logical id.
    pub resource: String,
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `replace` or `remove`.
    pub action: &'static str,
    /// The properties that force a replacement.
    pub properties: Vec<String>,
    /// Why, as a user should read it.
    pub cause: String,
    /// The flag that allows this one resource.
    pub flag: String,
}

impl Hazard {
    /// What is refused, in words: the action, the resource, its type and
    /// logical id, its stack, and the properties that force it.
    pub fn what(&self) -> String {
        let forced = match self.properties.is_empty() {
            true => String::new(),
            false => format!(" (forced by {})", self.properties.join(", ")),
        };
        format!(
            "{} {} {} ({}) in {}{forced}",
            self.action, self.resource, self.resource_type, self.logical_id, self.stack
        )
    }

    /// How to allow it, if anything does.
    pub fn allow(&self) -> String {
        match self.flag.as_str() {
            "" => "no flag allows it: rename the stack in the layout".to_string(),
            flag => format!("to allow it for this resource alone: {flag}"),
        }
    }
}

/// The `createOnlyProperties` of every `AWS::` type, from CloudFormation's
/// resource provider schemas (`scripts/create_only.py` writes it).
const CREATE_ONLY: &str = include_str!("create_only.txt");

/// The properties whose change replaces a resource of `resource_type`, as
/// pointers under `Properties`: what the schemas mark create-only, and what
/// CloudFormation's documentation says replaces where the schemas are
/// silent (a table's `KeySchema`).
pub fn replacing_properties(resource_type: &str) -> Vec<&'static str> {
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static BY_TYPE: OnceLock<HashMap<&'static str, Vec<&'static str>>> = OnceLock::new();
    let by_type = BY_TYPE.get_or_init(|| {
        CREATE_ONLY
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut words = l.split(' ');
                Some((words.next()?, words.collect()))
            })
            .collect()
    });
    let mut properties = by_type.get(resource_type).cloned().unwrap_or_default();
    for documented in documented_replacing(resource_type) {
        if !properties.contains(documented) {
            properties.push(documented);
        }
    }
    properties
}

/// Why replacing a retained resource is refused, in the same words whether
/// the plan or CloudFormation's change set found it.
pub fn replacement_cause(properties: &[String]) -> String {
    match properties {
        [] => "CloudFormation would replace it with a new, empty resource".to_string(),
        changed => format!(
            "{} changed, which makes CloudFormation create a new, empty resource",
            changed.join(", ")
        ),
    }
}

/// Properties CloudFormation's documentation says replace a resource that
/// holds data, where its schema does not mark them create-only.
fn documented_replacing(resource_type: &str) -> &'static [&'static str] {
    match resource_type {
        "AWS::DynamoDB::Table" => &["/TableName", "/KeySchema", "/LocalSecondaryIndexes"],
        "AWS::DynamoDB::GlobalTable" => &["/TableName", "/KeySchema", "/LocalSecondaryIndexes"],
        "AWS::SQS::Queue" => &["/QueueName", "/FifoQueue"],
        "AWS::SNS::Topic" => &["/TopicName", "/FifoTopic"],
        "AWS::Logs::LogGroup" => &["/LogGroupName"],
        "AWS::Kinesis::Stream" => &["/Name"],
        "AWS::EFS::FileSystem" => &["/PerformanceMode", "/Encrypted", "/KmsKeyId"],
        "AWS::RDS::DBInstance" => &["/DBInstanceIdentifier", "/DBName", "/Engine"],
        "AWS::RDS::DBCluster" => &["/DBClusterIdentifier", "/DatabaseName", "/Engine"],
        "AWS::Cognito::UserPool" => &["/UserPoolName", "/UsernameAttributes", "/AliasAttributes"],
        "AWS::SecretsManager::Secret" => &["/Name"],
        _ => &[],
    }
}

/// Whether a resource holds what must not be lost: it is retained, and
/// not a function version (kept only to go back to: it outlives the
/// template that named it by design).
pub fn retains(resource: &Json) -> bool {
    ["DeletionPolicy", "UpdateReplacePolicy"]
        .iter()
        .any(|k| resource.get(k).and_then(Json::as_str) == Some("Retain"))
        && type_of(resource) != "AWS::Lambda::Version"
}

fn resources(template: &Json) -> impl Iterator<Item = (&String, &Json)> {
    template
        .get("Resources")
        .and_then(Json::as_object)
        .into_iter()
        .flatten()
}

fn type_of(resource: &Json) -> &str {
    resource.get("Type").and_then(Json::as_str).unwrap_or("")
}

/// `logical id -> unit.resource` as rendered into the template's metadata.
fn labels(template: &Json) -> BTreeMap<String, String> {
    template
        .pointer("/Metadata/driftless/retained")
        .and_then(Json::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A template by the stack it belongs to.
pub struct Template<'a> {
    pub stack: &'a str,
    pub body: &'a Json,
}

/// The retained resources of `deployed` that `desired` would replace or
/// remove, less those the user allowed (by `unit.resource` or logical id).
/// `deployed` holds the templates of stacks whose desired state differs and
/// of stacks no longer in the layout; `desired` holds every desired stack.
pub fn hazards(
    deployed: &[Template<'_>],
    desired: &[Template<'_>],
    allow: &BTreeSet<String>,
) -> Vec<Hazard> {
    // Where each desired logical id and label lives.
    let mut desired_ids: BTreeMap<&str, (&str, &Json)> = BTreeMap::new();
    let mut desired_labels: BTreeMap<String, (&str, String)> = BTreeMap::new();
    for t in desired {
        for (id, resource) in resources(t.body) {
            desired_ids.insert(id, (t.stack, resource));
        }
        for (id, label) in labels(t.body) {
            desired_labels.insert(label, (t.stack, id));
        }
    }
    let in_layout: BTreeSet<&str> = desired.iter().map(|t| t.stack).collect();
    let mut found = Vec::new();
    for t in deployed {
        let names = labels(t.body);
        for (id, old) in resources(t.body).filter(|(_, r)| retains(r)) {
            let label = names.get(id).cloned().unwrap_or_else(|| id.clone());
            if allow.contains(id) || allow.contains(&label) {
                continue;
            }
            let old_type = type_of(old).to_string();
            let hazard = |action, properties: Vec<String>, cause: String| Hazard {
                stack: t.stack.to_string(),
                logical_id: id.clone(),
                resource: label.clone(),
                resource_type: old_type.clone(),
                action,
                properties,
                cause,
                flag: format!("--allow-replace {label}"),
            };
            match desired_ids.get(id.as_str()) {
                Some((stack, new)) if *stack == t.stack => {
                    let new_type = type_of(new);
                    if new_type != old_type {
                        found.push(hazard(
                            "replace",
                            vec!["Type".into()],
                            format!("its type changes from {old_type} to {new_type}"),
                        ));
                        continue;
                    }
                    let changed: Vec<String> = replacing_properties(&old_type)
                        .into_iter()
                        .filter(|p| {
                            // A list item's property (`/Tags/*/Key`): the list.
                            let p = p.split("/*").next().unwrap_or(p);
                            old.pointer(&format!("/Properties{p}"))
                                != new.pointer(&format!("/Properties{p}"))
                        })
                        .map(|p| p.trim_start_matches('/').replace('/', "."))
                        .collect();
                    if !changed.is_empty() {
                        let cause = replacement_cause(&changed);
                        found.push(hazard("replace", changed, cause));
                    }
                }
                Some((stack, _)) => found.push(hazard(
                    "remove",
                    Vec::new(),
                    format!(
                        "it moves from stack {} to stack {stack}; CloudFormation cannot move a resource, so {stack} would create a new, empty one",
                        t.stack
                    ),
                )),
                None => {
                    let cause = match desired_labels.get(&label) {
                        Some((stack, new_id)) if *stack == t.stack => format!(
                            "its logical id changes from {id} to {new_id}, so a new, empty resource would replace it"
                        ),
                        Some((stack, new_id)) => format!(
                            "it moves from stack {} to stack {stack} as {new_id}, so a new, empty resource would replace it",
                            t.stack
                        ),
                        None if !in_layout.contains(t.stack) => format!(
                            "stack {} is no longer in the layout of this environment",
                            t.stack
                        ),
                        None => "it is no longer in the specs".to_string(),
                    };
                    found.push(hazard("remove", Vec::new(), cause));
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vpc(cidr: &str, tag: &str) -> Json {
        json!({ "Type": "AWS::EC2::VPC", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                "Properties": { "CidrBlock": cidr, "Tags": [{ "Key": "team", "Value": tag }] } })
    }

    #[test]
    fn any_type_is_guarded_by_what_its_schema_marks_create_only() {
        assert!(replacing_properties("AWS::EC2::VPC").contains(&"/CidrBlock"));
        assert!(replacing_properties("AWS::DynamoDB::Table").contains(&"/KeySchema"));
        let labels = json!({ "Network": "net.vpc" });
        let old = template(
            json!({ "Network": vpc("10.0.0.0/16", "a") }),
            labels.clone(),
        );
        let cidr = template(
            json!({ "Network": vpc("10.1.0.0/16", "a") }),
            labels.clone(),
        );
        let tags = template(json!({ "Network": vpc("10.0.0.0/16", "b") }), labels);
        let t = |body| Template { stack: "s", body };
        let refused = hazards(&[t(&old)], &[t(&cidr)], &BTreeSet::new());
        assert_eq!(refused.len(), 1, "{refused:?}");
        assert_eq!(refused[0].properties, ["CidrBlock"]);
        assert_eq!(refused[0].flag, "--allow-replace net.vpc");
        assert!(hazards(&[t(&old)], &[t(&tags)], &BTreeSet::new()).is_empty());
    }

    fn table(keys: Json) -> Json {
        json!({ "Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain",
                "UpdateReplacePolicy": "Retain",
                "Properties": { "KeySchema": keys, "BillingMode": "PAY_PER_REQUEST" } })
    }

    fn template(resources: Json, labels: Json) -> Json {
        json!({ "Metadata": { "driftless": { "retained": labels } }, "Resources": resources })
    }

    fn users() -> Json {
        template(
            json!({ "DatabaseUsers": table(json!([{"AttributeName": "username", "KeyType": "HASH"}])) }),
            json!({ "DatabaseUsers": "database.users" }),
        )
    }

    fn check(old: &[(&str, &Json)], new: &[(&str, &Json)], allow: &[&str]) -> Vec<Hazard> {
        let deployed: Vec<Template> = old
            .iter()
            .map(|(stack, body)| Template { stack, body })
            .collect();
        let desired: Vec<Template> = new
            .iter()
            .map(|(stack, body)| Template { stack, body })
            .collect();
        let allow = allow.iter().map(|s| s.to_string()).collect();
        hazards(&deployed, &desired, &allow)
    }

    #[test]
    fn an_unchanged_key_schema_is_safe_and_other_properties_may_change() {
        let mut new = users();
        new["Resources"]["DatabaseUsers"]["Properties"]["BillingMode"] = json!("PROVISIONED");
        assert_eq!(check(&[("s", &users())], &[("s", &new)], &[]), vec![]);
    }

    #[test]
    fn a_changed_partition_key_is_a_replacement_naming_the_property_and_flag() {
        let new = template(
            json!({ "DatabaseUsers": table(json!([{"AttributeName": "email", "KeyType": "HASH"}])) }),
            json!({ "DatabaseUsers": "database.users" }),
        );
        let found = check(&[("s", &users())], &[("s", &new)], &[]);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].action, "replace");
        assert_eq!(found[0].properties, vec!["KeySchema"]);
        assert_eq!(found[0].flag, "--allow-replace database.users");
        assert_eq!(found[0].resource, "database.users");
    }

    #[test]
    fn the_flag_allows_that_resource_alone() {
        let new = template(json!({}), json!({}));
        assert!(check(&[("s", &users())], &[("s", &new)], &["database.users"]).is_empty());
        assert!(check(&[("s", &users())], &[("s", &new)], &["DatabaseUsers"]).is_empty());
        assert_eq!(
            check(&[("s", &users())], &[("s", &new)], &["database.other"]).len(),
            1
        );
    }

    #[test]
    fn a_rename_a_move_and_a_removal_are_told_apart() {
        let renamed = template(
            json!({ "DatabaseAccounts": table(json!([{"AttributeName": "username", "KeyType": "HASH"}])) }),
            json!({ "DatabaseAccounts": "database.users" }),
        );
        let found = check(&[("s", &users())], &[("s", &renamed)], &[]);
        assert!(
            found[0]
                .cause
                .contains("from DatabaseUsers to DatabaseAccounts")
        );

        let empty = template(json!({}), json!({}));
        let found = check(&[("a", &users())], &[("a", &empty), ("b", &users())], &[]);
        assert!(found[0].cause.contains("moves from stack a to stack b"));
        assert_eq!(found[0].action, "remove");

        let found = check(&[("a", &users())], &[("b", &empty)], &[]);
        assert!(found[0].cause.contains("no longer in the layout"));

        let found = check(&[("a", &users())], &[("a", &empty)], &[]);
        assert!(found[0].cause.contains("no longer in the specs"));
    }

    #[test]
    fn resources_without_retain_are_not_guarded() {
        let old = template(
            json!({ "Fn": { "Type": "AWS::Lambda::Function", "Properties": {} } }),
            json!({}),
        );
        let empty = template(json!({}), json!({}));
        assert!(check(&[("s", &old)], &[("s", &empty)], &[]).is_empty());
    }
}
