//! How a function is reached and where its results go: a function URL
//! (with the permission its auth type needs), asynchronous destinations,
//! a dead-letter target, and the role statements each of them needs.

use super::schema::{FieldType, opt};
use super::target::{Service, delivery_statement, target};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};

pub const URL: FieldType = FieldType::Object(&[
    opt("auth", FieldType::Enum(&["none", "iam"]))
        .doc("`iam` requires signed requests; `none` makes the URL public.")
        .default("iam"),
    opt("cors", super::http_api::CORS).doc("Cross-origin resource sharing of the URL."),
]);

/// What reaching the function renders to.
#[derive(Default)]
pub struct Reach {
    pub resources: Vec<CfnResource>,
    pub statements: Vec<Json>,
    /// The function's `DeadLetterConfig`, when it has one.
    pub dead_letter: Option<Json>,
}

pub fn expand(x: &Expansion<'_>, errors: &mut Vec<Diagnostic>) -> Reach {
    let id = &x.logical_id;
    let mut reach = Reach::default();
    if let Some(url) = x.field("url") {
        let public = url.get("auth").and_then(Resolved::str).unwrap_or("iam") == "none";
        let auth = if public { "NONE" } else { "AWS_IAM" };
        let mut props = Map::new();
        props.insert(
            "TargetFunctionArn".into(),
            json!({ "Fn::GetAtt": [id, "Arn"] }),
        );
        props.insert("AuthType".into(), json!(auth));
        if let Some(cors) = url.get("cors") {
            props.insert("Cors".into(), super::http_api::cors_config(cors));
        }
        reach.resources.push(CfnResource::new(
            format!("{id}Url"),
            "AWS::Lambda::Url",
            Json::Object(props),
        ));
        if public {
            // Anyone may call a URL without auth: that is what `auth: none` says.
            reach.resources.push(CfnResource::new(
                format!("{id}UrlPermission"),
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunctionUrl",
                    "FunctionName": { "Ref": id },
                    "Principal": "*",
                    "FunctionUrlAuthType": "NONE",
                }),
            ));
            // Lambda also wants InvokeFunction, granted for calls through the URL only.
            reach.resources.push(CfnResource::new(
                format!("{id}UrlInvokePermission"),
                "AWS::Lambda::Permission",
                json!({
                    "Action": "lambda:InvokeFunction",
                    "FunctionName": { "Ref": id },
                    "Principal": "*",
                    "InvokedViaFunctionUrl": true,
                }),
            ));
        }
    }
    let mut destinations = Map::new();
    for (field, cfn) in [("on_success", "OnSuccess"), ("on_failure", "OnFailure")] {
        let Some(value) = x.field(field) else {
            continue;
        };
        let wanted = [
            Service::Queue,
            Service::Topic,
            Service::Function,
            Service::Bus,
        ];
        match target(x, value, &wanted, &format!("`{field}`")) {
            Ok(t) => {
                reach.statements.push(delivery_statement(&t));
                destinations.insert(cfn.into(), json!({ "Destination": t.arn }));
            }
            Err(e) => errors.push(e),
        }
    }
    let retries = x.json("async_retries");
    if !destinations.is_empty() || retries.is_some() {
        let mut config = Map::new();
        config.insert("FunctionName".into(), json!({ "Ref": id }));
        config.insert("Qualifier".into(), json!("$LATEST"));
        if !destinations.is_empty() {
            config.insert("DestinationConfig".into(), Json::Object(destinations));
        }
        if let Some(retries) = retries {
            config.insert("MaximumRetryAttempts".into(), retries);
        }
        reach.resources.push(CfnResource::new(
            format!("{id}Destinations"),
            "AWS::Lambda::EventInvokeConfig",
            Json::Object(config),
        ));
    }
    if let Some(value) = x.field("dead_letter") {
        match target(x, value, &[Service::Queue, Service::Topic], "`dead_letter`") {
            Ok(t) => {
                reach.statements.push(delivery_statement(&t));
                reach.dead_letter = Some(json!({ "TargetArn": t.arn }));
            }
            Err(e) => errors.push(e),
        }
    }
    reach
}
