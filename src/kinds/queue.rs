//! `kind: queue`: an SQS queue, standard or FIFO, encrypted (SQS-managed
//! keys) unless told otherwise, with an optional dead-letter queue.

use super::schema::{FieldSpec, FieldType, opt};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};

const DEAD_LETTER: FieldType = FieldType::Object(&[
    opt("max_receives", FieldType::Int { min: 1, max: 1000 })
        .doc("Receives of a message before it moves to the dead-letter queue.")
        .default("3"),
    opt("retention_days", FieldType::Int { min: 1, max: 14 })
        .doc("Days the dead-letter queue keeps a message.")
        .default("14"),
]);

pub const FIELDS: &[FieldSpec] = &[
    opt("fifo", FieldType::Bool).doc("A FIFO queue: ordered, exactly-once processing.").default("false"),
    opt("content_based_deduplication", FieldType::Bool).doc("Deduplicate FIFO messages by a hash of their body.").default("false"),
    opt(
        "visibility_timeout",
        FieldType::Int {
            min: 0,
            max: 43_200,
        },
    ).doc("Seconds a received message stays hidden; at least the timeout of a function that reads it.").default("30"),
    opt("retention_days", FieldType::Int { min: 1, max: 14 }).doc("Days a message is kept.").default("4"),
    opt("delay_seconds", FieldType::Int { min: 0, max: 900 }).doc("Seconds every new message is delayed.").default("0"),
    opt("encrypted", FieldType::Bool).doc("Encrypt messages at rest with SQS-managed keys.").default("true"),
    opt("dead_letter", DEAD_LETTER).doc("A dead-letter queue that receives messages that failed `max_receives` times."),
];

/// SQS's own default, which a consuming function's timeout must not exceed.
pub const DEFAULT_VISIBILITY_TIMEOUT: i64 = 30;
const DEFAULT_MAX_RECEIVES: i64 = 3;
const DAY: i64 = 86_400;

/// The logical id of `queue`'s dead-letter queue.
pub fn dead_letter_id(queue_id: &str) -> String {
    format!("{queue_id}DeadLetter")
}

fn base(x: &Expansion<'_>, fifo: bool) -> Map<String, Json> {
    let mut props = Map::new();
    if fifo {
        props.insert("FifoQueue".into(), json!(true));
    }
    if x.field("encrypted").and_then(Resolved::bool) != Some(false) {
        props.insert("SqsManagedSseEnabled".into(), json!(true));
    }
    props
}

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let fifo = x.field("fifo").and_then(Resolved::bool) == Some(true);
    let mut errors = Vec::new();
    if let Some(dedup) = x.field("content_based_deduplication")
        && !fifo
    {
        errors.push(x.error(
            dedup,
            "`content_based_deduplication` applies to FIFO queues only",
            "add `fifo: true`, or drop the field",
        ));
    }
    let mut props = base(x, fifo);
    for (field, cfn, scale) in [
        ("visibility_timeout", "VisibilityTimeout", 1),
        ("retention_days", "MessageRetentionPeriod", DAY),
        ("delay_seconds", "DelaySeconds", 1),
    ] {
        if let Some(v) = x.field(field).and_then(Resolved::int) {
            props.insert(cfn.into(), json!(v * scale));
        }
    }
    if x.field("content_based_deduplication")
        .and_then(Resolved::bool)
        == Some(true)
    {
        props.insert("ContentBasedDeduplication".into(), json!(true));
    }
    let mut resources = Vec::new();
    if let Some(dead_letter) = x.field("dead_letter") {
        let id = dead_letter_id(&x.logical_id);
        let mut dl = base(x, fifo);
        let days = dead_letter
            .get("retention_days")
            .and_then(Resolved::int)
            .unwrap_or(14);
        dl.insert("MessageRetentionPeriod".into(), json!(days * DAY));
        let mut queue = CfnResource::new(id.clone(), "AWS::SQS::Queue", Json::Object(dl));
        // What failed is kept like the queue it failed in.
        queue.retain = x.stateful;
        resources.push(queue);
        let max = dead_letter
            .get("max_receives")
            .and_then(Resolved::int)
            .unwrap_or(DEFAULT_MAX_RECEIVES);
        props.insert(
            "RedrivePolicy".into(),
            json!({ "deadLetterTargetArn": { "Fn::GetAtt": [id, "Arn"] }, "maxReceiveCount": max }),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    resources.insert(
        0,
        CfnResource::new(x.logical_id.clone(), "AWS::SQS::Queue", Json::Object(props)),
    );
    let topics = subscribed_topics(x);
    if !topics.is_empty() {
        // One policy per queue: a second would replace the first.
        resources.push(CfnResource::new(
            format!("{}Policy", x.logical_id),
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [{ "Ref": x.logical_id }],
                "PolicyDocument": { "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": "sns.amazonaws.com" },
                    "Action": "sqs:SendMessage",
                    "Resource": { "Fn::GetAtt": [x.logical_id, "Arn"] },
                    "Condition": { "ArnEquals": { "aws:SourceArn": topics } },
                }]},
            }),
        ));
    }
    Ok(resources)
}

/// The topics of the unit with a subscription naming this queue.
fn subscribed_topics(x: &Expansion<'_>) -> Vec<Json> {
    x.sibling_fields
        .iter()
        .filter_map(|(name, fields)| match x.siblings.get(name) {
            Some((super::Kind::Topic, id)) => Some((id, fields)),
            _ => None,
        })
        .filter(|(_, fields)| {
            fields
                .get("subscriptions")
                .map(Resolved::list)
                .unwrap_or_default()
                .iter()
                .any(|s| s.get("queue").and_then(Resolved::str) == Some(x.resource))
        })
        .map(|(id, _)| json!({ "Ref": id }))
        .collect()
}
