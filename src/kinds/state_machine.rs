//! `kind: state_machine`: a Step Functions state machine whose definition
//! (Amazon States Language, in its own file of the unit or inline) uses
//! `${...}` references, with a role whose permissions are derived from the
//! tasks it runs, a log group, and schedules or patterns that start it.

use super::events::{Invoked, events_role_id};
use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion, Kind};
use crate::diag::Diagnostic;
use crate::value::{RValue, Resolved, json_document_expr};
use serde_json::{Map, Value as Json, json};

const LOGGING: FieldType = FieldType::Object(&[
    opt("level", FieldType::Enum(&["ALL", "ERROR", "FATAL", "OFF"]))
        .doc("Which executions' events are logged.")
        .default("ERROR"),
    opt("include_data", FieldType::Bool)
        .doc("Log execution input and output.")
        .default("false"),
]);

pub const FIELDS: &[FieldSpec] = &[
    // A file of the unit's folder, read into a mapping, or the mapping itself.
    req("definition", FieldType::Any).doc(
        "The Amazon States Language definition: a mapping, or a JSON or YAML file of the unit.",
    ),
    // `type:` would read as raw CloudFormation.
    opt("express", FieldType::Bool)
        .doc("An express workflow (short, high-volume) instead of a standard one.")
        .default("false"),
    opt("logging", LOGGING).doc("Execution logging to the machine's log group."),
    opt("tracing", FieldType::Enum(&["active", "passthrough"]))
        .doc("X-Ray tracing mode.")
        .default("passthrough"),
    opt("events", FieldType::MapOf(&super::events::EVENT))
        .doc("What starts an execution: schedules and event patterns."),
    opt("grants", FieldType::List(&super::function::GRANT))
        .doc("Least-privilege access for the machine's role, as a function's grants."),
    opt("log_retention_days", FieldType::Int { min: 1, max: 3653 })
        .doc("Days the machine's log group keeps events.")
        .default("14"),
];

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let id = &x.logical_id;
    let role_id = format!("{id}Role");
    let log_group_id = format!("{id}LogGroup");
    let mut errors = Vec::new();
    let Some(definition) = x.field("definition") else {
        return Err(errors);
    };
    match &definition.value {
        RValue::Map(_) => {}
        // A file that could not be read: its error is already reported.
        RValue::Str(_) => return Err(errors),
        _ => {
            return Err(vec![x.error(
                definition,
                format!("`definition` must name a file or be a mapping, found {}", definition.type_name()),
                "write `definition: flow.asl.yaml` (a file in the unit's folder) or the definition itself",
            )]);
        }
    }
    check_shape(x, definition, &mut errors);
    let has_grants = x.field("grants").is_some();
    let mut statements = Vec::new();
    tasks(x, definition, has_grants, &mut statements, &mut errors);
    for grant in x.field("grants").map(Resolved::list).unwrap_or_default() {
        match super::function::grant_statement(grant, x) {
            Ok(statement) => statements.push(statement),
            Err(e) => errors.push(e),
        }
    }
    let level = x
        .field("logging")
        .and_then(|l| l.get("level"))
        .and_then(Resolved::str)
        .unwrap_or("ERROR");
    let mut resources = Vec::new();
    let mut props = Map::new();
    let kind = match x.field("express").and_then(Resolved::bool) {
        Some(true) => "EXPRESS",
        _ => "STANDARD",
    };
    props.insert("StateMachineType".into(), json!(kind));
    props.insert(
        "DefinitionString".into(),
        json_document_expr(&definition.to_json()),
    );
    props.insert("RoleArn".into(), json!({ "Fn::GetAtt": [role_id, "Arn"] }));
    if level != "OFF" {
        let days = x
            .field("log_retention_days")
            .and_then(Resolved::int)
            .unwrap_or(14);
        resources.push(CfnResource::new(
            log_group_id.clone(),
            "AWS::Logs::LogGroup",
            json!({ "RetentionInDays": days }),
        ));
        let include = x
            .field("logging")
            .and_then(|l| l.get("include_data"))
            .and_then(Resolved::bool)
            .unwrap_or(false);
        props.insert(
            "LoggingConfiguration".into(),
            json!({
                "Level": level,
                "IncludeExecutionData": include,
                "Destinations": [{ "CloudWatchLogsLogGroup": {
                    "LogGroupArn": { "Fn::GetAtt": [log_group_id, "Arn"] }
                } }],
            }),
        );
        // Log delivery is set up through these, which IAM scopes to no resource.
        statements.push(json!({
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:DescribeLogGroups",
                "logs:DescribeResourcePolicies",
                "logs:GetLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:UpdateLogDelivery",
            ],
            "Resource": "*",
        }));
    }
    if let Some(mode) = x.field("tracing").and_then(Resolved::str) {
        props.insert(
            "TracingConfiguration".into(),
            json!({ "Enabled": mode == "active" }),
        );
        if mode == "active" {
            statements.push(json!({
                "Effect": "Allow",
                "Action": ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"],
                "Resource": "*",
            }));
        }
    }
    let wired = match x.field("events") {
        Some(events) => super::events::expand(x, events, Invoked::StateMachine, &mut errors),
        None => super::events::Wired::default(),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut role = json!({
        "AssumeRolePolicyDocument": trust("states.amazonaws.com"),
    });
    if !statements.is_empty() {
        role["Policies"] = json!([{
            "PolicyName": "least-privilege",
            "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
        }]);
    }
    resources.insert(
        0,
        CfnResource::new(
            id.clone(),
            "AWS::StepFunctions::StateMachine",
            Json::Object(props),
        ),
    );
    resources.insert(1, CfnResource::new(role_id, "AWS::IAM::Role", role));
    if !wired.resources.is_empty() {
        resources.push(CfnResource::new(
            events_role_id(id),
            "AWS::IAM::Role",
            json!({
                "AssumeRolePolicyDocument": trust("events.amazonaws.com"),
                "Policies": [{
                    "PolicyName": "start-execution",
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": [{
                        "Effect": "Allow",
                        "Action": ["states:StartExecution"],
                        "Resource": { "Ref": id },
                    }] },
                }],
            }),
        ));
        resources.extend(wired.resources);
    }
    Ok(resources)
}

fn trust(service: &str) -> Json {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": { "Service": service },
            "Action": "sts:AssumeRole",
        }],
    })
}

/// A definition has `StartAt` naming one of its `States`.
fn check_shape(x: &Expansion<'_>, definition: &Resolved, errors: &mut Vec<Diagnostic>) {
    let states = definition.get("States");
    let start = definition.get("StartAt");
    match (start, states) {
        (Some(start), Some(states)) => {
            let names: Vec<&str> = states.entries().iter().map(|(k, _, _)| k.as_str()).collect();
            if let Some(name) = start.str()
                && !names.contains(&name)
            {
                errors.push(x.error(
                    start,
                    format!("`StartAt: {name}` names no state of the definition"),
                    format!("states: {}", names.join(", ")),
                ));
            }
        }
        _ => errors.push(x.error(
            definition,
            "a state machine's definition needs `StartAt` and `States`",
            "write Amazon States Language: `StartAt: First` and `States: { First: { Type: Task, Resource: \"${worker.arn}\", End: true } }`",
        )),
    }
}

/// Walks every `Task` state (in branches and item processors too) and
/// derives what its role must allow.
fn tasks(
    x: &Expansion<'_>,
    node: &Resolved,
    has_grants: bool,
    statements: &mut Vec<Json>,
    errors: &mut Vec<Diagnostic>,
) {
    match &node.value {
        RValue::Map(entries) => {
            if node.get("Type").and_then(Resolved::str) == Some("Task")
                && let Some(resource) = node.get("Resource")
            {
                match task_statement(x, node, resource) {
                    Ok(statement) => statements.extend(statement),
                    Err(_) if has_grants => {}
                    Err(e) => errors.push(e),
                }
            }
            for (_, _, child) in entries {
                tasks(x, child, has_grants, statements, errors);
            }
        }
        RValue::List(items) => {
            for item in items {
                tasks(x, item, has_grants, statements, errors);
            }
        }
        _ => {}
    }
}

fn allow(actions: &[&str], resource: Json) -> Json {
    json!({ "Effect": "Allow", "Action": actions, "Resource": resource })
}

/// What one task state needs: invoking its function, sending to its queue,
/// writing its table, starting its nested execution.
fn task_statement(
    x: &Expansion<'_>,
    task: &Resolved,
    resource: &Resolved,
) -> Result<Vec<Json>, Diagnostic> {
    let derivable = "driftless derives permissions for Lambda functions (`${worker.arn}` or `arn:aws:states:::lambda:invoke`), `sqs:sendMessage`, `sns:publish`, DynamoDB `getItem`/`putItem`/`updateItem`/`deleteItem` and `states:startExecution`; for another integration add `grants:` to the state machine";
    let text = match &resource.value {
        RValue::Dynamic(expr, _) => {
            return Ok(vec![allow(&["lambda:InvokeFunction"], expr.clone())]);
        }
        RValue::Str(text) => text.as_str(),
        _ => {
            return Err(x.error(
                resource,
                "a task's `Resource` must be a reference or an ARN",
                "write `${worker.arn}` for a function of the unit, or an integration such as `arn:aws:states:::lambda:invoke`",
            ));
        }
    };
    if text.starts_with("arn:aws:lambda:") {
        return Ok(vec![allow(&["lambda:InvokeFunction"], json!(text))]);
    }
    let Some(integration) = text
        .strip_prefix("arn:aws:states:::")
        .or_else(|| text.strip_prefix("arn:${AWS::Partition}:states:::"))
    else {
        return Err(x.error(
            resource,
            format!("task resource `{text}` is neither a reference nor an ARN"),
            "write `${worker.arn}` for a function of the unit, or an ARN (`arn:aws:states:::lambda:invoke`, `arn:aws:lambda:...`)",
        ));
    };
    let service_action = integration.split('.').next().unwrap_or_default();
    let parameters = task.get("Parameters").or_else(|| task.get("Arguments"));
    let parameter = |name: &str| -> Result<Json, Diagnostic> {
        let value = parameters.and_then(|p| p.get(name)).ok_or_else(|| {
            x.error(
                resource,
                format!("task `{text}` needs `{name}` in its Parameters (or Arguments) to derive its permission"),
                format!("give `{name}` as a reference, for example `${{unit.resource_attribute}}`; or add `grants:`"),
            )
        })?;
        Ok(value.to_json())
    };
    let sibling_arn = |value: &Json, kind: Kind| -> Option<Json> {
        let id = value.get("Ref")?.as_str()?;
        x.siblings
            .values()
            .find(|(k, sid)| *k == kind && sid == id)
            .map(|_| json!({ "Fn::GetAtt": [id, "Arn"] }))
    };
    Ok(match service_action {
        "lambda:invoke" => vec![allow(
            &["lambda:InvokeFunction"],
            parameter("FunctionName")?,
        )],
        "sns:publish" => vec![allow(&["sns:Publish"], parameter("TopicArn")?)],
        "sqs:sendMessage" => {
            let url = parameter("QueueUrl")?;
            let arn = sibling_arn(&url, Kind::Queue).ok_or_else(|| {
                x.error(
                    resource,
                    "`QueueUrl` must be `${queue.url}` of a queue of this unit to derive the permission",
                    "refer to a queue of the unit, or add `grants:` with the queue's ARN",
                )
            })?;
            vec![allow(&["sqs:SendMessage"], arn)]
        }
        "dynamodb:getItem" | "dynamodb:putItem" | "dynamodb:updateItem" | "dynamodb:deleteItem" => {
            let name = parameter("TableName")?;
            let action = match service_action {
                "dynamodb:getItem" => "dynamodb:GetItem",
                "dynamodb:putItem" => "dynamodb:PutItem",
                "dynamodb:updateItem" => "dynamodb:UpdateItem",
                _ => "dynamodb:DeleteItem",
            };
            let arn = json!({ "Fn::Join": ["", [
                "arn:", { "Ref": "AWS::Partition" }, ":dynamodb:", { "Ref": "AWS::Region" }, ":",
                { "Ref": "AWS::AccountId" }, ":table/", name
            ]] });
            vec![allow(&[action], arn)]
        }
        "states:startExecution" => {
            let machine = parameter("StateMachineArn")?;
            let mut statements = vec![allow(&["states:StartExecution"], machine.clone())];
            if integration.contains(".sync") {
                // Waiting on it: its executions, and the rule Step Functions manages.
                let executions = json!({ "Fn::Join": [":", [
                    { "Fn::Join": ["", ["arn:", { "Ref": "AWS::Partition" }, ":states:", { "Ref": "AWS::Region" }, ":", { "Ref": "AWS::AccountId" }, ":execution"]] },
                    { "Fn::Select": [6, { "Fn::Split": [":", machine] }] },
                    "*"
                ]] });
                statements.push(allow(
                    &["states:DescribeExecution", "states:StopExecution"],
                    executions,
                ));
                statements.push(allow(
                    &["events:DescribeRule", "events:PutRule", "events:PutTargets"],
                    json!({ "Fn::Join": ["", ["arn:", { "Ref": "AWS::Partition" }, ":events:", { "Ref": "AWS::Region" }, ":", { "Ref": "AWS::AccountId" }, ":rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"]] }),
                ));
            }
            statements
        }
        _ => {
            return Err(x.error(
                resource,
                format!("driftless cannot derive the permission of integration `{integration}`"),
                derivable,
            ));
        }
    })
}
