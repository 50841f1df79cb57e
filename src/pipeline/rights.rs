//! What a role needs to deploy some resource types, from the IAM actions
//! CloudFormation's resource provider schemas list for each type's handlers
//! (`handlers.txt`, written by `scripts/handler_permissions.py`), limited to
//! the resources named for the stacks it deploys where IAM can say so.
//!
//! CloudFormation names what it creates `<stack>-<logical id>-<suffix>`
//! (lowercased for buckets), and driftless names what it names after the
//! stack too, so a statement on `function:<stack>-*` reaches that stack's
//! functions and no other environment's. Actions IAM cannot limit by name
//! (listings, API Gateway's ids, EC2 lookups) keep `*`.

use super::support::sub;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};

const TABLE: &str = include_str!("handlers.txt");

/// The handler actions of `types` (types the table does not know, such as
/// `Custom::` ones, need none: CloudFormation calls their code instead).
pub fn handler_actions<'a>(types: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let wanted: BTreeSet<&str> = types.into_iter().collect();
    TABLE
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .filter(|(name, _)| wanted.contains(name))
        .flat_map(|(_, actions)| actions.split(' '))
        .filter_map(normal_action)
        .collect()
}

/// `service:Action` with the action's first letter upper-case (the schemas
/// write a few in camel case); None for what is not an IAM action.
pub fn normal_action(text: &str) -> Option<String> {
    let (service, action) = text.split_once(':')?;
    let service_ok = !service.is_empty()
        && service
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let action_ok = !action.is_empty() && action.chars().all(|c| c.is_ascii_alphanumeric());
    if !(service_ok && action_ok) {
        return None;
    }
    let mut chars = action.chars();
    let first = chars.next()?.to_ascii_uppercase();
    Some(format!("{service}:{first}{}", chars.as_str()))
}

/// The ARNs of a service's resources named for `prefix`, if IAM can limit
/// `action` by name.
fn named(service: &str, action: &str, prefix: &str) -> Option<Vec<String>> {
    let name = action.split_once(':').map_or("", |(_, a)| a);
    if name.starts_with("List") || name.starts_with("Describe") {
        return None;
    }
    let at = |rest: &str| {
        format!("arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{rest}")
    };
    let arns = match service {
        "iam" if name == "CreateServiceLinkedRole" => return None,
        "iam" => ["role", "policy", "instance-profile"]
            .iter()
            .map(|kind| {
                format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:{kind}/{prefix}-*")
            })
            .collect(),
        "lambda" if function_action(name) => vec![at(&format!("function:{prefix}-*"))],
        "dynamodb" => vec![at(&format!("table/{prefix}-*"))],
        "sqs" | "sns" => vec![at(&format!("{prefix}-*"))],
        "states" => vec![
            at(&format!("stateMachine:{prefix}-*")),
            at(&format!("execution:{prefix}-*")),
        ],
        "logs" => vec![
            at(&format!("log-group:{prefix}-*")),
            at(&format!("log-group:/aws/*/{prefix}-*")),
        ],
        "events" => vec![at(&format!("rule/{prefix}-*"))],
        "codebuild" => vec![
            at(&format!("project/{prefix}-*")),
            at(&format!("report-group/{prefix}-*")),
        ],
        "cloudtrail" => vec![at(&format!("trail/{prefix}-*"))],
        "s3" => {
            let bucket = format!("arn:${{AWS::Partition}}:s3:::{}-*", prefix.to_lowercase());
            vec![bucket.clone(), format!("{bucket}/*")]
        }
        _ => return None,
    };
    Some(arns)
}

/// Every ARN named for `prefix` that IAM can name: the stack itself and
/// what [`named`] reaches in each service.
pub fn everything_named(prefix: &str) -> Vec<Json> {
    let mut arns = vec![format!(
        "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{prefix}/*"
    )];
    for service in [
        "iam",
        "lambda",
        "dynamodb",
        "sqs",
        "sns",
        "states",
        "logs",
        "events",
        "codebuild",
        "cloudtrail",
        "s3",
    ] {
        arns.extend(named(service, &format!("{service}:GetFunction"), prefix).unwrap_or_default());
    }
    arns.iter().map(|a| sub(a)).collect()
}

/// Lambda's actions on a function (its versions, aliases, permissions),
/// rather than on layers, mappings or signing configurations.
fn function_action(name: &str) -> bool {
    name.contains("Function")
        || name.contains("Alias")
        || name.contains("Concurrency")
        || name.contains("RuntimeManagement")
        || matches!(
            name,
            "AddPermission" | "RemovePermission" | "GetPolicy" | "PublishVersion"
        )
}

/// Statements allowing `actions`, each on the resources named for
/// `prefixes` where IAM can limit it, else on `*`. One statement per set
/// of resources, in a stable order.
pub fn scoped(actions: &BTreeSet<String>, prefixes: &[String]) -> Vec<Json> {
    let mut by_resources: BTreeMap<Vec<String>, BTreeSet<&str>> = BTreeMap::new();
    for action in actions {
        let service = action.split_once(':').map_or("", |(s, _)| s);
        let mut resources = Vec::new();
        for prefix in prefixes {
            match named(service, action, prefix) {
                Some(arns) => resources.extend(arns),
                None => {
                    resources = vec!["*".to_string()];
                    break;
                }
            }
        }
        if prefixes.is_empty() {
            resources = vec!["*".to_string()];
        }
        by_resources
            .entry(resources)
            .or_default()
            .insert(action.as_str());
    }
    // Named statements first, `*` last.
    let mut groups: Vec<_> = by_resources.into_iter().collect();
    groups.sort_by_key(|(resources, _)| resources == &["*".to_string()]);
    groups
        .into_iter()
        .map(|(resources, actions)| {
            let resources: Vec<Json> = resources
                .iter()
                .map(|r| if r == "*" { json!("*") } else { sub(r) })
                .collect();
            json!({ "Effect": "Allow", "Action": actions, "Resource": resources })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_gets_what_cloudformation_lists_for_the_types_it_deploys() {
        let actions = handler_actions(["AWS::IAM::Role", "AWS::Lambda::Function"]);
        for needed in [
            "iam:ListRolePolicies",
            "iam:ListAttachedRolePolicies",
            "iam:UpdateAssumeRolePolicy",
            "lambda:UpdateFunctionCode",
            "iam:PassRole",
        ] {
            assert!(
                actions.contains(needed),
                "{needed} missing from {actions:?}"
            );
        }
        assert!(!actions.iter().any(|a| a.starts_with("dynamodb:")));
        // Raw types are known too.
        assert!(handler_actions(["AWS::RDS::DBInstance"]).contains("rds:CreateDBInstance"));
        assert!(handler_actions(["AWS::KMS::Key"]).contains("kms:CreateKey"));
        assert!(handler_actions(["Custom::Thing", "AWS::Nope::Nope"]).is_empty());
    }

    #[test]
    fn what_is_not_an_action_is_left_out_and_camel_case_is_mended() {
        assert_eq!(
            normal_action("s3:getObject").as_deref(),
            Some("s3:GetObject")
        );
        assert_eq!(normal_action("s3:REST.PUT.OBJECT"), None);
        assert_eq!(normal_action("nothing"), None);
    }

    #[test]
    fn named_resources_reach_the_environments_stacks_alone() {
        let actions: BTreeSet<String> = [
            "iam:PassRole",
            "lambda:UpdateFunctionCode",
            "lambda:CreateEventSourceMapping",
            "dynamodb:ListTables",
            "apigateway:POST",
            "s3:CreateBucket",
        ]
        .map(String::from)
        .into();
        let text = serde_json::to_string(&scoped(&actions, &["app-dev-api".into()])).unwrap();
        let statements = scoped(&actions, &["app-dev-api".into()]);
        let on = |action: &str| -> Vec<String> {
            statements
                .iter()
                .find(|s| s["Action"].as_array().unwrap().iter().any(|a| a == action))
                .map(|s| {
                    s["Resource"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| {
                            r.get("Fn::Sub")
                                .and_then(Json::as_str)
                                .or(r.as_str())
                                .unwrap()
                                .to_string()
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        assert!(
            on("iam:PassRole")
                .iter()
                .all(|r| r.contains("/app-dev-api-*")),
            "{text}"
        );
        assert_eq!(
            on("lambda:UpdateFunctionCode"),
            [
                "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:app-dev-api-*"
            ]
        );
        assert_eq!(on("lambda:CreateEventSourceMapping"), ["*"]);
        assert_eq!(on("dynamodb:ListTables"), ["*"]);
        assert_eq!(on("apigateway:POST"), ["*"]);
        assert!(on("s3:CreateBucket")[0].ends_with(":::app-dev-api-*"));
        assert_eq!(statements.last().unwrap()["Resource"], json!(["*"]));
    }
}
