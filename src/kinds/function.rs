//! `kind: function`: a Lambda function with its least-privilege role and its log group.

use super::schema::{FieldSpec, FieldType, opt, req};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::{RValue, Resolved};
use serde_json::{Map, Value as Json, json};

pub const RUNTIMES: &[&str] = &[
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "python3.14",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java17",
    "java21",
    "dotnet8",
    "ruby3.3",
    "provided.al2",
    "provided.al2023",
];

const ACCESS: &[&str] = &[
    "read",
    "write",
    "read_write",
    "send",
    "consume",
    "publish",
    "invoke",
];
pub(super) const GRANT: FieldType = FieldType::Object(&[
    opt("table", FieldType::Str).doc("A table of the unit to grant access to."),
    opt("bucket", FieldType::Str).doc("A bucket of the unit to grant access to."),
    opt("queue", FieldType::Str).doc("A queue of the unit to grant access to."),
    opt("topic", FieldType::Str).doc("A topic of the unit to grant access to."),
    opt("function", FieldType::Str).doc("A function of the unit to grant invoke on."),
    opt("access", FieldType::Enum(ACCESS)).doc("What the grant allows; each kind has its own default (`read_write` for tables and buckets, `send` for queues, `publish` for topics, `invoke` for functions)."),
    opt("actions", FieldType::List(&FieldType::Str)).doc("IAM actions of a custom statement, for resources no kind covers."),
    opt("resources", FieldType::List(&FieldType::Str)).doc("Resource ARNs of a custom statement."),
]);

/// Retention periods CloudWatch Logs accepts.
const RETENTION_DAYS: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

const VPC: FieldType = FieldType::Object(&[
    req("subnets", FieldType::List(&FieldType::Str))
        .doc("Subnet ids the function's network interfaces are placed in."),
    req("security_groups", FieldType::List(&FieldType::Str))
        .doc("Security group ids of the function's network interfaces."),
]);

pub const FIELDS: &[FieldSpec] = &[
    opt("runtime", FieldType::Enum(RUNTIMES)).doc("Lambda runtime of a zip function; required with `code`."),
    opt("handler", FieldType::Str).doc("Entry point within the code, such as `app.handler`; required with `code`."),
    opt("code", FieldType::Str).doc("Folder of the unit holding the function's code, zipped and uploaded as an asset."),
    opt("image", FieldType::Str).doc("Container image URI, instead of `code`."),
    opt("build", FieldType::Str).doc("Command run in the code folder before it is zipped; its output folder is what ships."),
    opt(
        "build_timeout",
        FieldType::Int {
            min: 1,
            max: 86_400,
        },
    ).doc("Seconds the build may run before it is stopped.").default("600"),
    opt(
        "memory",
        FieldType::Int {
            min: 128,
            max: 10_240,
        },
    ).doc("Memory in MB; CPU scales with it.").default("256"),
    opt("timeout", FieldType::Int { min: 1, max: 900 }).doc("Seconds one invocation may run.").default("10"),
    opt("environment", FieldType::MapOf(&FieldType::Any)).doc("Environment variables; values may reference resources and params."),
    opt(
        "reserved_concurrency",
        FieldType::Int {
            min: 0,
            max: 100_000,
        },
    ).doc("Concurrent executions reserved for, and limiting, this function."),
    opt("alias", FieldType::Str).doc("Name of the release alias that releases shift traffic on.").default("live"),
    opt(
        "provisioned_concurrency",
        FieldType::Int {
            min: 0,
            max: 100_000,
        },
    ).doc("Pre-initialised executions kept warm on the release alias."),
    opt("layers", FieldType::List(&FieldType::Str)).doc("Layer version ARNs, or `${layer.arn}` of a layer of the unit."),
    opt("grants", FieldType::List(&GRANT)).doc("Least-privilege access to other resources, each rendered to one IAM statement."),
    opt("description", FieldType::Str).doc("Text shown with the function in the console."),
    opt("log_retention_days", FieldType::Int { min: 1, max: 3653 }).doc("Days the function's log group keeps events; a period CloudWatch Logs accepts.").default("14"),
    opt("architecture", FieldType::Enum(&["x86_64", "arm64"])).doc("Instruction set the function runs on.").default("x86_64"),
    opt("events", FieldType::MapOf(&super::events::EVENT)).doc("What invokes the function, by name: schedules, queues, topics, buckets, streams, event patterns."),
    opt("url", super::invoke::URL).doc("A function URL, with its auth type and CORS."),
    opt("on_success", FieldType::Str).doc("Queue, topic, function or bus that receives results of asynchronous invocations."),
    opt("on_failure", FieldType::Str).doc("Queue, topic, function or bus that receives failed asynchronous invocations."),
    opt("dead_letter", FieldType::Str).doc("Queue or topic that receives events the function could not process."),
    opt("async_retries", FieldType::Int { min: 0, max: 2 }).doc("Retries of a failed asynchronous invocation.").default("2"),
    opt("vpc", VPC).doc("Run the function inside a VPC."),
    opt(
        "ephemeral_storage",
        FieldType::Int {
            min: 512,
            max: 10_240,
        },
    ).doc("Size of `/tmp` in MB.").default("512"),
    opt("tracing", FieldType::Enum(&["active", "passthrough"])).doc("X-Ray tracing mode.").default("passthrough"),
];

pub const DEFAULT_MEMORY: i64 = 256;

pub const DEFAULT_TIMEOUT: i64 = 10;
const DEFAULT_RETENTION: i64 = 14;

/// The IAM actions and resource patterns one grant target and access level allow.
fn grant_actions(target: &str, access: &str) -> Option<&'static [&'static str]> {
    const TABLE_READ: &[&str] = &[
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    ];
    const TABLE_WRITE: &[&str] = &[
        "dynamodb:BatchWriteItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ];
    const TABLE_READ_WRITE: &[&str] = &[
        "dynamodb:BatchGetItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DeleteItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:Query",
        "dynamodb:Scan",
        "dynamodb:UpdateItem",
    ];
    const BUCKET_READ: &[&str] = &["s3:GetObject", "s3:ListBucket"];
    const BUCKET_WRITE: &[&str] = &["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:PutObject"];
    const BUCKET_READ_WRITE: &[&str] = &[
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
    ];
    Some(match (target, access) {
        ("table", "read") => TABLE_READ,
        ("table", "write") => TABLE_WRITE,
        ("table", "read_write") => TABLE_READ_WRITE,
        ("bucket", "read") => BUCKET_READ,
        ("bucket", "write") => BUCKET_WRITE,
        ("bucket", "read_write") => BUCKET_READ_WRITE,
        ("queue", "send") => &[
            "sqs:GetQueueAttributes",
            "sqs:GetQueueUrl",
            "sqs:SendMessage",
        ],
        ("queue", "consume") => &[
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ],
        ("topic", "publish") => &["sns:Publish"],
        ("function", "invoke") => &["lambda:InvokeFunction"],
        _ => return None,
    })
}

fn access_levels(target: &str) -> &'static str {
    match target {
        "table" | "bucket" => "read, write, read_write",
        "queue" => "send, consume",
        "topic" => "publish",
        _ => "invoke",
    }
}

pub(super) fn grant_statement(grant: &Resolved, x: &Expansion<'_>) -> Result<Json, Diagnostic> {
    const TARGETS: &[&str] = &["table", "bucket", "queue", "topic", "function"];
    let targets: Vec<(&str, &Resolved)> = TARGETS
        .iter()
        .filter_map(|t| grant.get(t).map(|v| (*t, v)))
        .collect();
    if let (Some(actions), Some(resources)) = (grant.get("actions"), grant.get("resources")) {
        if !targets.is_empty() || grant.get("access").is_some() {
            return Err(x.error(
                grant,
                "a grant lists either `actions` and `resources` or one target with `access`, not both",
                "split it into two grants",
            ));
        }
        return Ok(json!({
            "Effect": "Allow",
            "Action": actions.to_json(),
            "Resource": resources.to_json(),
        }));
    }
    let [(target, arn)] = targets.as_slice() else {
        return Err(x.error(
            grant,
            "a grant names exactly one of table, bucket, queue, topic or function (with `access`), or lists `actions` and `resources`",
            "for example `{ table: \"${database.table_arn}\", access: read }`, one target per grant",
        ));
    };
    let default_access = match *target {
        "table" | "bucket" => "read_write",
        "queue" => "send",
        "topic" => "publish",
        _ => "invoke",
    };
    let access = grant
        .get("access")
        .and_then(Resolved::str)
        .unwrap_or(default_access);
    let Some(actions) = grant_actions(target, access) else {
        let at = grant.get("access").unwrap_or(grant);
        return Err(x.error(
            at,
            format!("access `{access}` does not apply to a {target}"),
            format!("use one of: {}", access_levels(target)),
        ));
    };
    let arn = arn.to_json();
    let resources = match *target {
        "table" => json!([arn, { "Fn::Join": ["", [arn, "/index/*"]] }]),
        "bucket" => json!([arn, { "Fn::Join": ["", [arn, "/*"]] }]),
        _ => json!([arn]),
    };
    Ok(json!({ "Effect": "Allow", "Action": actions, "Resource": resources }))
}

/// Names Lambda sets itself and refuses in a function's environment.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_REGION",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_XRAY_CONTEXT_MISSING",
    "AWS_XRAY_DAEMON_ADDRESS",
    "LAMBDA_RUNTIME_DIR",
    "LAMBDA_TASK_ROOT",
];

/// Lambda's limit on a function's environment: names and values together.
const ENVIRONMENT_BYTES: usize = 4096;

/// A function's environment as Lambda takes it: names Lambda accepts and
/// every value a string, literals as written (`012` stays `012`).
fn environment_variables(env: &Resolved, errors: &mut Vec<Diagnostic>) -> Map<String, Json> {
    let error = |span, message: String, help: &str| {
        Diagnostic::new(&env.origin.file, span, message).with_help(help)
    };
    let mut variables = Map::new();
    let mut bytes = 0;
    for (name, span, value) in env.entries() {
        let well_formed = name.len() >= 2
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            errors.push(error(
                *span,
                format!("environment variable name `{name}` is not one Lambda accepts"),
                "start with a letter and use letters, digits and `_` only (at least two characters), for example `TABLE_NAME`",
            ));
        } else if RESERVED_VARIABLES.contains(&name.as_str()) {
            errors.push(error(
                *span,
                format!("environment variable `{name}` is reserved: Lambda sets it itself"),
                "choose another name; the function can read Lambda's own value at run time",
            ));
        }
        match &value.value {
            RValue::List(_) | RValue::Map(_) | RValue::Null => {
                errors.push(error(
                    value.origin.span,
                    format!(
                        "environment variable `{name}` must be text, found {}",
                        value.type_name()
                    ),
                    "environment variables are strings: write the value as text, for example a JSON document in quotes",
                ));
                continue;
            }
            _ => {}
        }
        let text = value.to_string_json();
        bytes += name.len() + text.as_str().map_or(0, str::len);
        variables.insert(name.clone(), text);
    }
    if bytes > ENVIRONMENT_BYTES {
        errors.push(error(
            env.origin.span,
            format!(
                "the environment is {bytes} bytes, more than the {ENVIRONMENT_BYTES} Lambda accepts for a function's variables"
            ),
            "keep large values in a table, a bucket or SSM and pass their names instead",
        ));
    }
    variables
}

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let id = &x.logical_id;
    let log_group_id = format!("{id}LogGroup");
    let role_id = format!("{id}Role");
    let mut errors = Vec::new();

    let retention = x.field("log_retention_days");
    let retention_days = retention
        .and_then(Resolved::int)
        .unwrap_or(DEFAULT_RETENTION);
    if let Some(value) = retention
        && !RETENTION_DAYS.contains(&retention_days)
    {
        let periods: Vec<String> = RETENTION_DAYS.iter().map(ToString::to_string).collect();
        let message =
            format!("log_retention_days {retention_days} is not a period CloudWatch Logs accepts");
        errors.push(x.error(value, message, format!("use one of {}", periods.join(", "))));
    }
    let log_group = CfnResource::new(
        log_group_id.clone(),
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": retention_days }),
    );

    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": { "Fn::GetAtt": [log_group_id, "Arn"] },
    })];
    for grant in x.field("grants").map(Resolved::list).unwrap_or_default() {
        match grant_statement(grant, x) {
            Ok(statement) => statements.push(statement),
            Err(e) => errors.push(e),
        }
    }
    let wired = match x.field("events") {
        Some(events) => {
            super::events::expand(x, events, super::events::Invoked::Function, &mut errors)
        }
        None => super::events::Wired::default(),
    };
    statements.extend(wired.statements);
    let reach = super::invoke::expand(x, &mut errors);
    statements.extend(reach.statements);
    if x.field("vpc").is_some() {
        // Lambda manages the function's network interfaces; IAM scopes
        // these actions to no resource.
        statements.push(json!({
            "Effect": "Allow",
            "Action": [
                "ec2:AssignPrivateIpAddresses",
                "ec2:CreateNetworkInterface",
                "ec2:DeleteNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": "*",
        }));
    }
    if x.field("tracing").and_then(Resolved::str) == Some("active") {
        statements.push(json!({
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": "*",
        }));
    }
    let role = CfnResource::new(
        role_id.clone(),
        "AWS::IAM::Role",
        json!({
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "lambda.amazonaws.com" },
                    "Action": "sts:AssumeRole",
                }],
            },
            "Policies": [{
                "PolicyName": "least-privilege",
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
            }],
        }),
    );

    let mut props = Map::new();
    package(x, &mut props, &mut errors);
    props.insert(
        "MemorySize".into(),
        x.json("memory").unwrap_or(json!(DEFAULT_MEMORY)),
    );
    props.insert(
        "Timeout".into(),
        x.json("timeout").unwrap_or(json!(DEFAULT_TIMEOUT)),
    );
    props.insert("Role".into(), json!({ "Fn::GetAtt": [role_id, "Arn"] }));
    props.insert(
        "LoggingConfig".into(),
        json!({ "LogGroup": { "Ref": log_group_id } }),
    );
    if let Some(env) = x.field("environment") {
        let variables = environment_variables(env, &mut errors);
        if !variables.is_empty() {
            props.insert("Environment".into(), json!({ "Variables": variables }));
        }
    }
    if let Some(reserved) = x.json("reserved_concurrency") {
        props.insert("ReservedConcurrentExecutions".into(), reserved);
    }
    if let Some(layers) = x.json("layers") {
        props.insert("Layers".into(), layers);
    }
    if let Some(description) = x.json("description") {
        props.insert("Description".into(), description);
    }
    if let Some(arch) = x.json("architecture") {
        props.insert("Architectures".into(), json!([arch]));
    }
    if let Some(vpc) = x.field("vpc") {
        props.insert(
            "VpcConfig".into(),
            json!({
                "SubnetIds": vpc.get("subnets").map(Resolved::to_json),
                "SecurityGroupIds": vpc.get("security_groups").map(Resolved::to_json),
            }),
        );
    }
    if let Some(size) = x.json("ephemeral_storage") {
        props.insert("EphemeralStorage".into(), json!({ "Size": size }));
    }
    if let Some(mode) = x.field("tracing").and_then(Resolved::str) {
        let mode = if mode == "active" {
            "Active"
        } else {
            "PassThrough"
        };
        props.insert("TracingConfig".into(), json!({ "Mode": mode }));
    }
    if let Some(dead_letter) = reach.dead_letter {
        props.insert("DeadLetterConfig".into(), dead_letter);
    }
    if let Some(events) = x.field("events") {
        check_queue_timeouts(x, events, &props, &mut errors);
    }
    super::alias::check_provisioned(x, &mut errors);
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut function = CfnResource::new(id.clone(), "AWS::Lambda::Function", Json::Object(props));
    super::alias::carry(x, &mut function)?;
    let mut resources = vec![function, role, log_group];
    resources.extend(wired.resources);
    resources.extend(reach.resources);
    Ok(resources)
}

/// Code from a folder (`code`, `runtime`, `handler`) or a container image
/// (`image`), never both.
fn package(x: &Expansion<'_>, props: &mut Map<String, Json>, errors: &mut Vec<Diagnostic>) {
    let zip_fields = ["code", "runtime", "handler"];
    if let Some(image) = x.field("image") {
        for field in zip_fields {
            if let Some(v) = x.field(field) {
                errors.push(x.error(
                    v,
                    format!("`{field}` does not go with `image`: the image holds the code and its runtime"),
                    format!("drop `{field}`, or drop `image` to ship a code folder"),
                ));
            }
        }
        props.insert("PackageType".into(), json!("Image"));
        props.insert("Code".into(), json!({ "ImageUri": image.to_json() }));
        return;
    }
    props.insert("Code".into(), x.code());
    props.insert("Handler".into(), x.json("handler").unwrap_or_default());
    props.insert("Runtime".into(), x.json("runtime").unwrap_or_default());
}

/// What the field schema cannot say: without `image`, a function needs
/// `code`, `runtime` and `handler`.
pub fn check(fields: &Resolved, what: &str, out: &mut Vec<Diagnostic>) {
    if fields.get("image").is_some() {
        return;
    }
    for field in ["code", "runtime", "handler"] {
        if fields.get(field).is_none() {
            out.push(
                Diagnostic::new(
                    &fields.origin.file,
                    fields.origin.span,
                    format!("{what} is missing the required key `{field}`"),
                )
                .with_help(format!(
                    "add `{field}:` to {what}, or give a container image with `image:` instead of code, runtime and handler"
                )),
            );
        }
    }
}

/// Lambda refuses an SQS source whose visibility timeout is shorter than
/// the function's timeout: check it where both are of the unit.
fn check_queue_timeouts(
    x: &Expansion<'_>,
    events: &Resolved,
    props: &Map<String, Json>,
    errors: &mut Vec<Diagnostic>,
) {
    let timeout = props
        .get("Timeout")
        .and_then(Json::as_i64)
        .unwrap_or(DEFAULT_TIMEOUT);
    for (_, _, event) in events.entries() {
        let Some(queue) = event.get("sqs") else {
            continue;
        };
        let Some(visibility) =
            queue
                .str()
                .and_then(|name| x.sibling_fields.get(name))
                .map(|fields| {
                    fields
                        .get("visibility_timeout")
                        .and_then(Resolved::int)
                        .unwrap_or(super::queue::DEFAULT_VISIBILITY_TIMEOUT)
                })
        else {
            continue;
        };
        if visibility < timeout {
            errors.push(x.error(
                queue,
                format!(
                    "queue `{}` hides a message for {visibility} s, less than this function's timeout of {timeout} s; Lambda refuses the event source",
                    queue.str().unwrap_or_default()
                ),
                format!("set `visibility_timeout: {}` (six times the timeout) on the queue, or shorten the function's timeout", timeout * 6),
            ));
        }
    }
}
