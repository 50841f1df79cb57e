//! Hotswap planning, as pure functions: whether a stack's change can go
//! straight into Lambda and Step Functions (only function code,
//! environment variables or description, or a state machine's definition,
//! differ), and what each function or state machine should then run, with
//! the template's intrinsic functions evaluated against known values.

use serde_json::{Map, Value as Json};
use std::collections::{BTreeMap, BTreeSet};

/// The properties of `AWS::Lambda::Function` that Lambda's API can change
/// without CloudFormation.
const SWAPPABLE: [&str; 3] = ["Code", "Environment", "Description"];

/// What a function should run, as the desired template says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DesiredFunction {
    pub logical_id: String,
    pub code_bucket: String,
    pub code_key: String,
    pub environment: BTreeMap<String, String>,
    pub description: String,
}

/// The properties of `AWS::StepFunctions::StateMachine` that Step
/// Functions' API can change without CloudFormation.
const MACHINE_SWAPPABLE: [&str; 1] = ["DefinitionString"];

/// The values `Ref` and `Fn::Sub` may name outside the resources, and the
/// resources' attributes that were read (`FnLogicalId.Arn`).
pub struct Known<'a> {
    pub parameters: &'a BTreeMap<String, String>,
    pub region: &'a str,
    pub account: &'a str,
    pub stack_name: &'a str,
    pub attributes: Option<&'a BTreeMap<String, String>>,
}

impl Known<'_> {
    fn name(&self, name: &str) -> Result<String, String> {
        if let Some(value) = self.parameters.get(name) {
            return Ok(value.clone());
        }
        let partition = if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        match name {
            "AWS::Region" => Ok(self.region.to_string()),
            "AWS::AccountId" => Ok(self.account.to_string()),
            "AWS::StackName" => Ok(self.stack_name.to_string()),
            "AWS::Partition" => Ok(partition.to_string()),
            "AWS::URLSuffix" => Ok(if partition == "aws-cn" {
                "amazonaws.com.cn".into()
            } else {
                "amazonaws.com".into()
            }),
            "AWS::NoValue" => Err("AWS::NoValue".into()),
            _ => Err(format!(
                "{name} is a resource, known only to CloudFormation"
            )),
        }
    }
}

fn resources(template: &Json) -> Option<&Map<String, Json>> {
    template.get("Resources").and_then(Json::as_object)
}

/// The functions whose hotswappable properties differ between the deployed
/// and the desired template, or why the change needs CloudFormation.
pub fn swappable_changes(deployed: &Json, desired: &Json) -> Result<BTreeSet<String>, String> {
    // A release's versions follow the code, and its alias the versions: a
    // hotswap publishes and moves them itself.
    let (deployed, desired) = (&without_versions(deployed), &without_versions(desired));
    let (Some(old), Some(new)) = (deployed.as_object(), desired.as_object()) else {
        return Err("a template is not a JSON object".into());
    };
    for key in old.keys().chain(new.keys()) {
        if key != "Resources" && old.get(key) != new.get(key) {
            return Err(format!("the template's {key} changed"));
        }
    }
    let (Some(old), Some(new)) = (resources(deployed), resources(desired)) else {
        return Err("a template has no resources".into());
    };
    if let Some(id) = old.keys().find(|id| !new.contains_key(*id)) {
        return Err(format!("{id} is removed"));
    }
    let mut changed = BTreeSet::new();
    for (id, resource) in new {
        let Some(before) = old.get(id) else {
            return Err(format!("{id} is added"));
        };
        if before == resource {
            continue;
        }
        let kind = resource.get("Type").and_then(Json::as_str).unwrap_or("");
        let swappable: &[&str] = match kind {
            "AWS::Lambda::Function" => &SWAPPABLE,
            "AWS::StepFunctions::StateMachine" => &MACHINE_SWAPPABLE,
            _ => return Err(format!("{id} ({kind}) changed")),
        };
        let (Some(a), Some(b)) = (before.as_object(), resource.as_object()) else {
            return Err(format!("{id} is not an object"));
        };
        for key in a.keys().chain(b.keys()) {
            if key != "Properties" && a.get(key) != b.get(key) {
                return Err(format!("{id}'s {key} changed"));
            }
        }
        let empty = Map::new();
        let props = |r: &Json| r.get("Properties").and_then(Json::as_object).cloned();
        let (pa, pb) = (
            props(before).unwrap_or_else(|| empty.clone()),
            props(resource).unwrap_or(empty),
        );
        for key in pa.keys().chain(pb.keys()) {
            if !swappable.contains(&key.as_str()) && pa.get(key) != pb.get(key) {
                return Err(format!("{id}'s {key} changed"));
            }
        }
        changed.insert(id.clone());
    }
    Ok(changed)
}

/// `template` without its function versions, and its aliases without the
/// version they serve.
fn without_versions(template: &Json) -> Json {
    let mut template = template.clone();
    if let Some(resources) = template.get_mut("Resources").and_then(Json::as_object_mut) {
        resources
            .retain(|_, r| r.get("Type").and_then(Json::as_str) != Some("AWS::Lambda::Version"));
        for resource in resources.values_mut() {
            if resource.get("Type").and_then(Json::as_str) == Some("AWS::Lambda::Alias")
                && let Some(properties) =
                    resource.get_mut("Properties").and_then(Json::as_object_mut)
            {
                properties.remove("FunctionVersion");
                properties.remove("RoutingConfig");
            }
        }
    }
    template
}

/// Evaluates the intrinsic functions a function's code, environment and
/// description commonly hold: `Ref` to parameters and pseudo parameters,
/// `Fn::Sub`, `Fn::Join`, `Fn::Select`. Anything else is CloudFormation's.
pub fn evaluate(value: &Json, known: &Known) -> Result<String, String> {
    match value {
        Json::String(s) => Ok(s.clone()),
        Json::Number(n) => Ok(n.to_string()),
        Json::Bool(b) => Ok(b.to_string()),
        Json::Object(map) if map.len() == 1 => {
            let (function, args) = map.iter().next().ok_or("empty object")?;
            match function.as_str() {
                "Ref" => known.name(args.as_str().ok_or("Ref takes a name")?),
                "Fn::Sub" => {
                    let (text, vars) = match args {
                        Json::String(s) => (s.as_str(), None),
                        Json::Array(a) if a.len() == 2 => (
                            a[0].as_str().ok_or("Fn::Sub takes a string")?,
                            a[1].as_object(),
                        ),
                        _ => return Err("Fn::Sub takes a string".into()),
                    };
                    substitute(text, |name| match vars.and_then(|v| v.get(name)) {
                        Some(v) => evaluate(v, known),
                        None => known.name(name),
                    })
                }
                "Fn::Join" => {
                    let parts = args.as_array().filter(|a| a.len() == 2).ok_or("Fn::Join")?;
                    let separator = parts[0].as_str().ok_or("Fn::Join separator")?;
                    let items = parts[1].as_array().ok_or("Fn::Join takes a list")?;
                    let values: Result<Vec<String>, String> =
                        items.iter().map(|v| evaluate(v, known)).collect();
                    Ok(values?.join(separator))
                }
                "Fn::Select" => {
                    let parts = args
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or("Fn::Select")?;
                    let index: usize = evaluate(&parts[0], known)?
                        .parse()
                        .map_err(|_| "Fn::Select index")?;
                    let items = parts[1].as_array().ok_or("Fn::Select takes a list")?;
                    evaluate(
                        items.get(index).ok_or("Fn::Select index out of range")?,
                        known,
                    )
                }
                "Fn::GetAtt" => {
                    let parts = args
                        .as_array()
                        .filter(|a| a.len() == 2)
                        .ok_or("Fn::GetAtt")?;
                    let (Some(id), Some(attribute)) = (parts[0].as_str(), parts[1].as_str()) else {
                        return Err("Fn::GetAtt takes a logical id and an attribute".into());
                    };
                    known
                        .attributes
                        .and_then(|a| a.get(&format!("{id}.{attribute}")))
                        .cloned()
                        .ok_or_else(|| {
                            format!("Fn::GetAtt {id}.{attribute} is known only to CloudFormation")
                        })
                }
                other => Err(format!("{other} is evaluated only by CloudFormation")),
            }
        }
        _ => Err("a value that is not a string".into()),
    }
}

/// `${name}` replaced by `lookup(name)`; `${!literal}` kept as `${literal}`.
fn substitute(
    text: &str,
    mut lookup: impl FnMut(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or("an unclosed ${ in Fn::Sub")?;
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str(&format!("${{{literal}}}"));
        } else {
            out.push_str(&lookup(name)?);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// What the function `logical_id` of `template` should run.
pub fn desired_function(
    template: &Json,
    logical_id: &str,
    known: &Known,
) -> Result<DesiredFunction, String> {
    let properties = resources(template)
        .and_then(|r| r.get(logical_id))
        .and_then(|r| r.get("Properties"))
        .ok_or_else(|| format!("{logical_id} is not in the template"))?;
    let why = |e: String| format!("{logical_id}: {e}");
    let code = properties
        .get("Code")
        .ok_or_else(|| why("no Code".into()))?;
    let field = |name: &str| {
        code.get(name)
            .ok_or_else(|| why(format!("Code has no {name} (inline or image code)")))
            .and_then(|v| evaluate(v, known).map_err(why))
    };
    let mut environment = BTreeMap::new();
    if let Some(vars) = properties
        .pointer("/Environment/Variables")
        .and_then(Json::as_object)
    {
        for (name, value) in vars {
            let value = evaluate(value, known)
                .map_err(|e| why(format!("environment variable {name}: {e}")))?;
            environment.insert(name.clone(), value);
        }
    }
    let description = match properties.get("Description") {
        Some(d) => evaluate(d, known).map_err(why)?,
        None => String::new(),
    };
    Ok(DesiredFunction {
        logical_id: logical_id.to_string(),
        code_bucket: field("S3Bucket")?,
        code_key: field("S3Key")?,
        environment,
        description,
    })
}

/// The definition the state machine `logical_id` of `template` should run.
pub fn desired_definition(
    template: &Json,
    logical_id: &str,
    known: &Known,
) -> Result<String, String> {
    let definition = resources(template)
        .and_then(|r| r.get(logical_id))
        .and_then(|r| r.pointer("/Properties/DefinitionString"))
        .ok_or_else(|| format!("{logical_id} has no DefinitionString"))?;
    evaluate(definition, known).map_err(|e| format!("{logical_id}: {e}"))
}

/// Whether `logical_id` of `template` is a state machine.
pub fn is_state_machine(template: &Json, logical_id: &str) -> bool {
    resources(template)
        .and_then(|r| r.get(logical_id))
        .and_then(|r| r.get("Type"))
        .and_then(Json::as_str)
        == Some("AWS::StepFunctions::StateMachine")
}

/// The asset's sha256 in a key driftless wrote (`assets/<sha256>.zip`).
pub fn asset_sha256(key: &str) -> Option<&str> {
    key.strip_prefix("assets/")?.strip_suffix(".zip")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(code: &str, memory: u64, table: Json) -> Json {
        json!({
            "Parameters": { "Table": { "Type": "String" }, "Bucket": { "Type": "String" } },
            "Resources": {
                "Fn": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Code": { "S3Bucket": { "Ref": "Bucket" }, "S3Key": format!("assets/{code}.zip") },
                        "MemorySize": memory,
                        "Environment": { "Variables": { "TABLE": table, "MODE": "dev" } }
                    }
                },
                "Role": { "Type": "AWS::IAM::Role", "Properties": {} }
            }
        })
    }

    fn known(parameters: &BTreeMap<String, String>) -> Known<'_> {
        Known {
            attributes: None,
            parameters,
            region: "eu-west-1",
            account: "111122223333",
            stack_name: "app-dev-stateless",
        }
    }

    #[test]
    fn code_and_environment_changes_are_swappable() {
        let before = template("aa", 256, json!({ "Ref": "Table" }));
        let after = template("bb", 256, json!({ "Fn::Sub": "${Table}-${AWS::Region}" }));
        let changed = swappable_changes(&before, &after).unwrap();
        assert_eq!(changed.into_iter().collect::<Vec<_>>(), vec!["Fn"]);
        assert!(swappable_changes(&before, &before).unwrap().is_empty());
    }

    #[test]
    fn memory_a_new_resource_or_another_type_needs_cloudformation() {
        let before = template("aa", 256, json!("t"));
        let memory = swappable_changes(&before, &template("aa", 512, json!("t"))).unwrap_err();
        assert!(memory.contains("MemorySize"), "{memory}");
        let mut added = before.clone();
        added["Resources"]["Extra"] = json!({ "Type": "AWS::SNS::Topic" });
        assert!(
            swappable_changes(&before, &added)
                .unwrap_err()
                .contains("Extra is added")
        );
        let mut role = before.clone();
        role["Resources"]["Role"]["Properties"]["Path"] = json!("/x/");
        assert!(
            swappable_changes(&before, &role)
                .unwrap_err()
                .contains("AWS::IAM::Role")
        );
        let mut outputs = before.clone();
        outputs["Outputs"] = json!({ "X": { "Value": "y" } });
        assert!(
            swappable_changes(&before, &outputs)
                .unwrap_err()
                .contains("Outputs")
        );
    }

    #[test]
    fn the_desired_function_is_evaluated_against_parameters_and_pseudo_parameters() {
        let parameters: BTreeMap<String, String> = [
            ("Table".to_string(), "users".to_string()),
            ("Bucket".to_string(), "assets-bucket".to_string()),
        ]
        .into();
        let t = template(
            "cafe",
            256,
            json!({ "Fn::Join": ["/", [{ "Ref": "AWS::AccountId" }, { "Fn::Sub": ["${Table}@${X}${!Lit}", { "X": { "Ref": "AWS::Partition" } }] }]] }),
        );
        let f = desired_function(&t, "Fn", &known(&parameters)).unwrap();
        assert_eq!(f.code_bucket, "assets-bucket");
        assert_eq!(asset_sha256(&f.code_key), Some("cafe"));
        assert_eq!(f.environment["TABLE"], "111122223333/users@aws${Lit}");
        assert_eq!(f.environment["MODE"], "dev");
        assert_eq!(f.description, "");
    }

    #[test]
    fn a_value_only_cloudformation_knows_is_named() {
        let parameters = BTreeMap::from([("Bucket".to_string(), "b".to_string())]);
        let t = template("aa", 256, json!({ "Fn::GetAtt": ["Role", "Arn"] }));
        let e = desired_function(&t, "Fn", &known(&parameters)).unwrap_err();
        assert!(e.contains("TABLE") && e.contains("Fn::GetAtt"), "{e}");
        let t = template("aa", 256, json!({ "Ref": "Role" }));
        let e = desired_function(&t, "Fn", &known(&parameters)).unwrap_err();
        assert!(e.contains("Role is a resource"), "{e}");
    }

    fn machine(definition: Json) -> Json {
        json!({
            "Resources": {
                "Job": { "Type": "AWS::Lambda::Function", "Properties": { "Handler": "a.b" } },
                "Flow": {
                    "Type": "AWS::StepFunctions::StateMachine",
                    "Properties": { "DefinitionString": definition, "RoleArn": "r" }
                }
            }
        })
    }

    #[test]
    fn a_definition_change_is_swappable_and_evaluated_with_the_functions_arns() {
        let before = machine(json!("{}"));
        let after = machine(
            json!({ "Fn::Join": ["", ["{\"Resource\":\"", { "Fn::GetAtt": ["Job", "Arn"] }, "\"}"]] }),
        );
        assert_eq!(
            swappable_changes(&before, &after),
            Ok(BTreeSet::from(["Flow".to_string()]))
        );
        let parameters = BTreeMap::new();
        let attributes = BTreeMap::from([(
            "Job.Arn".to_string(),
            "arn:aws:lambda:eu-west-1:1:function:job".to_string(),
        )]);
        let known = Known {
            attributes: Some(&attributes),
            ..known(&parameters)
        };
        assert!(is_state_machine(&after, "Flow"));
        assert_eq!(
            desired_definition(&after, "Flow", &known).unwrap(),
            "{\"Resource\":\"arn:aws:lambda:eu-west-1:1:function:job\"}"
        );
        // Another property of the machine needs CloudFormation.
        let mut role = after.clone();
        role["Resources"]["Flow"]["Properties"]["RoleArn"] = json!("other");
        assert!(swappable_changes(&after, &role).is_err());
    }
}
