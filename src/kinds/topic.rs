//! `kind: topic`: an SNS topic, standard or FIFO, with subscriptions: a
//! queue of the unit (whose policy lets the topic send), an HTTPS endpoint
//! or an email address.

use super::schema::{FieldSpec, FieldType, opt};
use super::target::{Service, target};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::Resolved;
use serde_json::{Map, Value as Json, json};

const SUBSCRIPTION: FieldType = FieldType::Object(&[
    opt("queue", FieldType::Str).doc("Queue of the unit, or a queue ARN, subscribed to the topic."),
    opt("https", FieldType::Str).doc("HTTPS endpoint subscribed to the topic."),
    opt("email", FieldType::Str).doc("Email address subscribed to the topic."),
    opt("filter", FieldType::MapOf(&FieldType::Any))
        .doc("Filter policy; only matching messages are delivered."),
    opt("raw_delivery", FieldType::Bool)
        .doc("Deliver the message body without the SNS envelope.")
        .default("false"),
]);

pub const FIELDS: &[FieldSpec] = &[
    opt("fifo", FieldType::Bool)
        .doc("A FIFO topic.")
        .default("false"),
    opt("content_based_deduplication", FieldType::Bool)
        .doc("Deduplicate FIFO messages by a hash of their body.")
        .default("false"),
    opt("encrypted", FieldType::Bool)
        .doc("Encrypt messages at rest with the AWS-managed SNS key.")
        .default("false"),
    opt("subscriptions", FieldType::List(&SUBSCRIPTION)).doc("Subscribers of the topic."),
];

pub fn expand(x: &Expansion<'_>) -> Result<Vec<CfnResource>, Vec<Diagnostic>> {
    let id = &x.logical_id;
    let fifo = x.field("fifo").and_then(Resolved::bool) == Some(true);
    let mut errors = Vec::new();
    let mut props = Map::new();
    if fifo {
        props.insert("FifoTopic".into(), json!(true));
    }
    match x.field("content_based_deduplication") {
        Some(v) if !fifo => errors.push(x.error(
            v,
            "`content_based_deduplication` applies to FIFO topics only",
            "add `fifo: true`, or drop the field",
        )),
        Some(v) if v.bool() == Some(true) => {
            props.insert("ContentBasedDeduplication".into(), json!(true));
        }
        _ => {}
    }
    if x.field("encrypted").and_then(Resolved::bool) == Some(true) {
        props.insert("KmsMasterKeyId".into(), json!("alias/aws/sns"));
    }
    let topic = json!({ "Ref": id });
    let mut resources = vec![CfnResource::new(
        id.clone(),
        "AWS::SNS::Topic",
        Json::Object(props),
    )];
    let subscriptions = x
        .field("subscriptions")
        .map(Resolved::list)
        .unwrap_or_default();
    for (i, s) in subscriptions.iter().enumerate() {
        let ends: Vec<(&str, &Resolved)> = ["queue", "https", "email"]
            .iter()
            .filter_map(|k| s.get(k).map(|v| (*k, v)))
            .collect();
        let [(protocol, end)] = ends.as_slice() else {
            errors.push(x.error(
                s,
                "a subscription names exactly one of `queue`, `https` or `email`",
                "for example `{ queue: jobs }` for a queue of this unit",
            ));
            continue;
        };
        let sub_id = format!("{id}Subscription{}", i + 1);
        let mut sub = Map::new();
        sub.insert("TopicArn".into(), topic.clone());
        let endpoint = match *protocol {
            "queue" => match target(x, end, &[Service::Queue], "a subscription's `queue`") {
                Ok(q) => {
                    // A queue of the unit lets its topics send (the queue's
                    // own policy, one for all of them: see `queue`).
                    sub.insert("Protocol".into(), json!("sqs"));
                    q.arn
                }
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            },
            "https" => {
                if end.str().is_some_and(|u| !u.starts_with("https://")) {
                    errors.push(x.error(
                        end,
                        "an `https` subscription's endpoint must start with `https://`",
                        "write the full URL, `https://...`",
                    ));
                }
                sub.insert("Protocol".into(), json!("https"));
                end.to_json()
            }
            _ => {
                if end.str().is_some_and(|a| !a.contains('@')) {
                    errors.push(x.error(
                        end,
                        "an `email` subscription needs an email address",
                        "write the address, `team@example.com`",
                    ));
                }
                sub.insert("Protocol".into(), json!("email"));
                end.to_json()
            }
        };
        sub.insert("Endpoint".into(), endpoint);
        if let Some(filter) = s.get("filter") {
            sub.insert("FilterPolicy".into(), filter.to_json());
        }
        if s.get("raw_delivery").and_then(Resolved::bool) == Some(true) {
            sub.insert("RawMessageDelivery".into(), json!(true));
        }
        resources.push(CfnResource::new(
            sub_id,
            "AWS::SNS::Subscription",
            Json::Object(sub),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(resources)
}
