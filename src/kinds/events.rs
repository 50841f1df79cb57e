//! A function's `events:`: what invokes it, each as the resources that wire
//! it (a rule, an event-source mapping, a subscription), the invoke
//! permission for exactly that source, and the role statements the function
//! needs to read it (receive and delete on that queue, read that stream).

use super::schema::{FieldSpec, FieldType, opt};
use super::target::{Service, target};
use super::{CfnResource, Expansion, pascal};
use crate::diag::Diagnostic;
use crate::value::{Resolved, json_document_expr};
use serde_json::{Map, Value as Json, json};

/// The keys that say what an event is; exactly one per event.
const SOURCES: &[&str] = &[
    "schedule", "sqs", "sns", "s3", "stream", "kinesis", "pattern",
];

/// The keys of one event.
pub const EVENT_FIELDS: &[FieldSpec] = &[
    opt("schedule", FieldType::Str)
        .doc("Invoke on a schedule: `rate(5 minutes)` or `cron(0 12 * * ? *)`."),
    opt("sqs", FieldType::Str)
        .doc("Read messages from a queue: `${jobs.arn}` for a queue of the unit, or a queue ARN."),
    opt("sns", FieldType::Str).doc("Subscribe to a topic: `${alerts.arn}` or a topic ARN."),
    opt("s3", FieldType::Str)
        .doc("Invoke on object changes of a bucket of the unit: `${uploads.name}`."),
    opt("stream", FieldType::Str).doc("Read a DynamoDB table's stream: `${users.stream_arn}`."),
    opt("kinesis", FieldType::Str).doc("Read a Kinesis stream by ARN."),
    opt("pattern", FieldType::MapOf(&FieldType::Any))
        .doc("Invoke on EventBridge events matching this event pattern."),
    opt("bus", FieldType::Str)
        .doc("Event bus of a `pattern` event.")
        .default("default"),
    opt("input", FieldType::Any)
        .doc("Fixed input passed instead of the event (schedules and patterns)."),
    opt("enabled", FieldType::Bool)
        .doc("Whether the event source is active.")
        .default("true"),
    opt(
        "batch_size",
        FieldType::Int {
            min: 1,
            max: 10_000,
        },
    )
    .doc("Most records delivered in one invocation."),
    opt("batching_window", FieldType::Int { min: 0, max: 300 })
        .doc("Seconds to gather records before invoking (standard queues and streams)."),
    opt("partial_batch", FieldType::Bool)
        .doc("Report failed items of a batch so only those are retried.")
        .default("false"),
    opt("max_concurrency", FieldType::Int { min: 2, max: 1000 })
        .doc("Most concurrent invocations a queue source may drive."),
    opt("filter", FieldType::MapOf(&FieldType::Any)).doc(
        "Event filter patterns; records that match none are dropped before the function runs.",
    ),
    opt(
        "on",
        FieldType::List(&FieldType::Enum(&["created", "removed"])),
    )
    .doc("Which object changes of an `s3` event invoke.")
    .default("[created]"),
    opt("prefix", FieldType::Str).doc("Only objects whose key starts with this (`s3`)."),
    opt("suffix", FieldType::Str).doc("Only objects whose key ends with this (`s3`)."),
    opt(
        "starting_position",
        FieldType::Enum(&["latest", "trim_horizon"]),
    )
    .doc("Where a stream source starts reading.")
    .default("latest"),
    opt("bisect_on_error", FieldType::Bool)
        .doc("Split a failing stream batch in two and retry each half.")
        .default("false"),
    opt("on_failure", FieldType::Str)
        .doc("Queue or topic of the unit that receives records a stream source gave up on."),
    opt(
        "max_retries",
        FieldType::Int {
            min: -1,
            max: 10_000,
        },
    )
    .doc("Retries of a failing stream batch; -1 retries until the record expires."),
];

/// One event of `events:`.
pub const EVENT: FieldType = FieldType::Object(EVENT_FIELDS);

/// The options each source takes.
fn options_of(source: &str) -> &'static [&'static str] {
    match source {
        "schedule" => &["input", "enabled"],
        "sqs" => &[
            "batch_size",
            "batching_window",
            "partial_batch",
            "max_concurrency",
            "filter",
            "enabled",
        ],
        "sns" => &["filter"],
        "s3" => &["on", "prefix", "suffix"],
        "stream" | "kinesis" => &[
            "batch_size",
            "batching_window",
            "partial_batch",
            "starting_position",
            "bisect_on_error",
            "on_failure",
            "max_retries",
            "filter",
            "enabled",
        ],
        _ => &["bus", "input", "enabled"],
    }
}

/// What an event invokes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invoked {
    Function,
    /// A state machine: rules start it through `EventsRole` (the events
    /// role it makes), and only schedules and patterns apply.
    StateMachine,
}

/// The logical id of the role EventBridge uses to start state machine `id`.
pub fn events_role_id(id: &str) -> String {
    format!("{id}EventsRole")
}

/// What the events of one function render to.
#[derive(Default)]
pub struct Wired {
    pub resources: Vec<CfnResource>,
    pub statements: Vec<Json>,
}

/// Whether a function of the unit has an `s3` event on `bucket`: such a
/// bucket sends its events to EventBridge, which keeps it free of any
/// reference to the function (no dependency cycle when the function also
/// reads the bucket).
pub fn bucket_has_events(x: &Expansion<'_>, bucket: &str) -> bool {
    x.sibling_fields
        .iter()
        .filter(|(name, _)| {
            x.siblings
                .get(name.as_str())
                .is_some_and(|(kind, _)| *kind == super::Kind::Function)
        })
        .filter_map(|(_, fields)| fields.get("events"))
        .flat_map(|events| events.entries())
        .any(|(_, _, event)| event.get("s3").and_then(Resolved::str) == Some(bucket))
}

pub fn expand(
    x: &Expansion<'_>,
    events: &Resolved,
    invoked: Invoked,
    errors: &mut Vec<Diagnostic>,
) -> Wired {
    let mut wired = Wired::default();
    let mut ids = std::collections::BTreeMap::new();
    for (name, key_span, event) in events.entries() {
        let at_key = |message: String, help: &str| {
            Diagnostic::new(&events.origin.file, *key_span, message).with_help(help)
        };
        let present: Vec<&str> = SOURCES
            .iter()
            .copied()
            .filter(|s| event.get(s).is_some())
            .collect();
        let [source] = present.as_slice() else {
            let found = match present.as_slice() {
                [] => "no source".to_string(),
                many => format!("{} sources ({})", many.len(), many.join(", ")),
            };
            errors.push(at_key(
                format!(
                    "event `{name}` has {found}; an event has exactly one of: {}",
                    SOURCES.join(", ")
                ),
                "for example `nightly: { schedule: \"cron(0 3 * * ? *)\" }` or `jobs: { sqs: jobs }`; write one event per source",
            ));
            continue;
        };
        if invoked == Invoked::StateMachine && !matches!(*source, "schedule" | "pattern") {
            errors.push(at_key(
                format!("a state machine is started by `schedule` and `pattern` events, not `{source}`"),
                "let a function take the event and start the state machine (grant it `states:StartExecution`), or use a schedule or pattern",
            ));
            continue;
        }
        let allowed = options_of(source);
        let mut bad = false;
        for (key, span, _) in event.entries() {
            if *key != *source && !allowed.contains(&key.as_str()) {
                errors.push(
                    Diagnostic::new(
                        &event.origin.file,
                        *span,
                        format!("`{key}` does not apply to {source} events"),
                    )
                    .with_help(format!(
                        "{source} events take: {}",
                        if allowed.is_empty() {
                            "no options".to_string()
                        } else {
                            allowed.join(", ")
                        }
                    )),
                );
                bad = true;
            }
        }
        if bad {
            continue;
        }
        let id = format!("{}Event{}", x.logical_id, pascal(name));
        if let Some(other) = ids.insert(id.clone(), name.clone()) {
            errors.push(at_key(
                format!("events `{other}` and `{name}` both render as `{id}`"),
                "rename one of the two events",
            ));
            continue;
        }
        let Some(value) = event.get(source) else {
            continue;
        };
        let result = match *source {
            "schedule" => schedule(x, &id, event, value, invoked),
            "pattern" => pattern(x, &id, event, value, invoked),
            "s3" => s3(x, &id, event, value),
            "sns" => sns(x, &id, event, value),
            "sqs" => super::mappings::sqs(x, &id, event, value),
            _ => super::mappings::stream(x, &id, event, value, source),
        };
        match result {
            Ok(w) => {
                wired.resources.extend(w.resources);
                wired.statements.extend(w.statements);
            }
            Err(e) => errors.extend(e),
        }
    }
    wired
}

fn function_arn(x: &Expansion<'_>) -> Json {
    json!({ "Fn::GetAtt": [x.logical_id, "Arn"] })
}

/// The permission that lets `principal` invoke the function from `source_arn` only.
fn permission(x: &Expansion<'_>, id: &str, principal: &str, source_arn: Json) -> CfnResource {
    CfnResource::new(
        format!("{id}Permission"),
        "AWS::Lambda::Permission",
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": function_arn(x),
            "Principal": principal,
            "SourceArn": source_arn,
        }),
    )
}

/// A rule invoking the function, and the permission for that rule.
fn rule(
    x: &Expansion<'_>,
    id: &str,
    mut props: Map<String, Json>,
    input: Option<&Resolved>,
    enabled: bool,
    invoked: Invoked,
) -> Wired {
    let mut target = Map::new();
    let rule_arn = json!({ "Fn::GetAtt": [id, "Arn"] });
    let mut resources = Vec::new();
    match invoked {
        Invoked::Function => {
            target.insert("Id".into(), json!("function"));
            target.insert("Arn".into(), function_arn(x));
            resources.push(permission(x, id, "events.amazonaws.com", rule_arn));
        }
        Invoked::StateMachine => {
            target.insert("Id".into(), json!("state-machine"));
            target.insert("Arn".into(), json!({ "Ref": x.logical_id }));
            target.insert(
                "RoleArn".into(),
                json!({ "Fn::GetAtt": [events_role_id(&x.logical_id), "Arn"] }),
            );
        }
    }
    if let Some(input) = input {
        target.insert("Input".into(), json_document_expr(&input.to_json()));
    }
    props.insert(
        "State".into(),
        json!(if enabled { "ENABLED" } else { "DISABLED" }),
    );
    props.insert("Targets".into(), json!([target]));
    resources.insert(
        0,
        CfnResource::new(id, "AWS::Events::Rule", Json::Object(props)),
    );
    Wired {
        resources,
        statements: Vec::new(),
    }
}

pub(super) fn enabled(event: &Resolved) -> bool {
    event.get("enabled").and_then(Resolved::bool) != Some(false)
}

fn schedule(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    expression: &Resolved,
    invoked: Invoked,
) -> Result<Wired, Vec<Diagnostic>> {
    if let Some(text) = expression.str()
        && let Some(why) = super::cron::schedule_problem(text)
    {
        return Err(vec![x.error(
            expression,
            why,
            "write `rate(5 minutes)`, `rate(1 hour)` or `cron(0 3 * * ? *)` (minutes, hours, day of month, month, day of week, year; one of the two days `?`)",
        )]);
    }
    let mut props = Map::new();
    props.insert("ScheduleExpression".into(), expression.to_json());
    Ok(rule(
        x,
        id,
        props,
        event.get("input"),
        enabled(event),
        invoked,
    ))
}

fn pattern(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    pattern: &Resolved,
    invoked: Invoked,
) -> Result<Wired, Vec<Diagnostic>> {
    if pattern.entries().is_empty() {
        return Err(vec![x.error(
            pattern,
            "an empty pattern matches nothing EventBridge accepts",
            "match at least one field, for example `{ source: [orders], detail-type: [OrderPlaced] }`",
        )]);
    }
    let mut props = Map::new();
    props.insert("EventPattern".into(), pattern.to_json());
    if let Some(bus) = event.get("bus") {
        props.insert("EventBusName".into(), bus.to_json());
    }
    Ok(rule(
        x,
        id,
        props,
        event.get("input"),
        enabled(event),
        invoked,
    ))
}

fn s3(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    bucket: &Resolved,
) -> Result<Wired, Vec<Diagnostic>> {
    let t = target(x, bucket, &[Service::Bucket], "an s3 event's bucket").map_err(|e| vec![e])?;
    let Some(name) = t.bucket_name() else {
        return Err(vec![x.error(
            bucket,
            "an s3 event names a bucket of this unit",
            "name the bucket (`s3: uploads`); for a bucket of another unit, put the function in that unit",
        )]);
    };
    let mut detail_types = Vec::new();
    let on: Vec<&str> = event
        .get("on")
        .map(|o| o.list().iter().filter_map(Resolved::str).collect())
        .unwrap_or_else(|| vec!["created"]);
    for word in on {
        let detail = if word == "removed" {
            "Object Deleted"
        } else {
            "Object Created"
        };
        if !detail_types.contains(&detail) {
            detail_types.push(detail);
        }
    }
    let mut detail = Map::new();
    detail.insert("bucket".into(), json!({ "name": [name] }));
    let prefix = event.get("prefix").and_then(Resolved::str);
    let suffix = event.get("suffix").and_then(Resolved::str);
    let key = match (prefix, suffix) {
        (Some(p), Some(s)) => {
            Some(json!([{ "wildcard": format!("{}*{}", escape_wildcard(p), escape_wildcard(s)) }]))
        }
        (Some(p), None) => Some(json!([{ "prefix": p }])),
        (None, Some(s)) => Some(json!([{ "suffix": s }])),
        (None, None) => None,
    };
    if let Some(key) = key {
        detail.insert("object".into(), json!({ "key": key }));
    }
    let mut props = Map::new();
    props.insert(
        "EventPattern".into(),
        json!({ "source": ["aws.s3"], "detail-type": detail_types, "detail": detail }),
    );
    Ok(rule(x, id, props, None, true, Invoked::Function))
}

/// A literal part of an EventBridge wildcard pattern.
fn escape_wildcard(text: &str) -> String {
    text.replace('\\', "\\\\").replace('*', "\\*")
}

fn sns(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    topic: &Resolved,
) -> Result<Wired, Vec<Diagnostic>> {
    let t = target(x, topic, &[Service::Topic], "an sns event's topic").map_err(|e| vec![e])?;
    let mut props = Map::new();
    props.insert("Protocol".into(), json!("lambda"));
    props.insert("Endpoint".into(), function_arn(x));
    props.insert("TopicArn".into(), t.arn.clone());
    if let Some(filter) = event.get("filter") {
        props.insert("FilterPolicy".into(), filter.to_json());
    }
    Ok(Wired {
        resources: vec![
            CfnResource::new(id, "AWS::SNS::Subscription", Json::Object(props)),
            permission(x, id, "sns.amazonaws.com", t.arn),
        ],
        statements: Vec::new(),
    })
}
