//! A function's physical name and its log group's: `<stack>-<LogicalId>`
//! and `/aws/lambda/<name>`, set as its stack is assembled.

use super::CfnResource;
use serde_json::{Value as Json, json};

/// Lambda's limit on a function's name.
const MAX_FUNCTION_NAME: usize = 64;

/// A function's name in its stack: `<stack>-<LogicalId>`, shortened with
/// a hash of the whole past Lambda's 64 characters.
pub fn function_name(stack: &str, logical_id: &str) -> String {
    let name = format!("{stack}-{logical_id}");
    if name.len() <= MAX_FUNCTION_NAME {
        return name;
    }
    let hash = blake3::hash(name.as_bytes()).to_hex();
    let keep = name[..MAX_FUNCTION_NAME - 13].trim_end_matches('-');
    format!("{keep}-{}", &hash[..12])
}

/// Names each function of kind `function` for its stack, and its log group
/// `/aws/lambda/<name>`, where Lambda, the console and every tool look for
/// a function's logs. The stack's name is known only once the stack is
/// assembled, so this runs then.
pub fn name_functions(stack: &str, resources: &mut [CfnResource]) {
    let mut groups = Vec::new();
    for resource in resources.iter_mut() {
        let group = format!("{}LogGroup", resource.logical_id);
        let writes_to_its_group = resource
            .properties
            .get("LoggingConfig")
            .and_then(|c| c.pointer("/LogGroup/Ref"))
            .and_then(Json::as_str)
            == Some(group.as_str());
        if resource.type_name == "AWS::Lambda::Function" && writes_to_its_group {
            let name = function_name(stack, &resource.logical_id);
            resource
                .properties
                .insert("FunctionName".into(), json!(name));
            groups.push((group, format!("/aws/lambda/{name}")));
        }
    }
    for resource in resources.iter_mut() {
        if let Some((_, name)) = groups.iter().find(|(id, _)| *id == resource.logical_id) {
            resource
                .properties
                .insert("LogGroupName".into(), json!(name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_its_stack_and_logical_id_and_a_long_one_is_cut_with_a_hash() {
        assert_eq!(
            function_name("user-management-dev-stateless", "ApiHandler"),
            "user-management-dev-stateless-ApiHandler"
        );
        let stack = "a-very-long-application-name-for-a-preview-instance-pr-1234-stateless";
        let one = function_name(stack, "ApiHandler");
        let other = function_name(stack, "ApiWorker");
        assert_eq!(one.len(), MAX_FUNCTION_NAME);
        assert!(one.starts_with("a-very-long-application-name"), "{one}");
        assert_ne!(one, other, "a shared prefix does not make one name");
        assert!(one.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    }

    #[test]
    fn a_function_and_its_log_group_are_named_together_and_raw_ones_are_left() {
        let mut resources = vec![
            CfnResource::new(
                "ApiHandler",
                "AWS::Lambda::Function",
                json!({ "LoggingConfig": { "LogGroup": { "Ref": "ApiHandlerLogGroup" } } }),
            ),
            CfnResource::new("ApiHandlerLogGroup", "AWS::Logs::LogGroup", json!({})),
            CfnResource::new("RawFunction", "AWS::Lambda::Function", json!({})),
        ];
        name_functions("app-dev-api", &mut resources);
        assert_eq!(
            resources[0].properties["FunctionName"],
            "app-dev-api-ApiHandler"
        );
        assert_eq!(
            resources[1].properties["LogGroupName"],
            "/aws/lambda/app-dev-api-ApiHandler"
        );
        assert!(!resources[2].properties.contains_key("FunctionName"));
    }
}
