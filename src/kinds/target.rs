//! What an event source, a destination or a subscription points at: a
//! resource of the unit named plainly (`jobs`), a reference (`${jobs.arn}`,
//! `${other.queue_arn}`) or a literal ARN, told apart so that each wiring
//! gets the permission it needs on exactly that ARN.

use super::{Expansion, Kind};
use crate::diag::{Diagnostic, closest};
use crate::value::{RValue, Resolved};
use serde_json::{Value as Json, json};

/// The kinds of thing a wiring can point at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Queue,
    Topic,
    Function,
    Bus,
    /// A DynamoDB table's stream.
    TableStream,
    Kinesis,
    Bucket,
}

impl Service {
    pub fn word(self) -> &'static str {
        match self {
            Service::Queue => "queue",
            Service::Topic => "topic",
            Service::Function => "function",
            Service::Bus => "event bus",
            Service::TableStream => "table stream",
            Service::Kinesis => "Kinesis stream",
            Service::Bucket => "bucket",
        }
    }

    /// The service part of an ARN of this kind.
    fn arn_service(self) -> &'static str {
        match self {
            Service::Queue => "sqs",
            Service::Topic => "sns",
            Service::Function => "lambda",
            Service::Bus => "events",
            Service::TableStream => "dynamodb",
            Service::Kinesis => "kinesis",
            Service::Bucket => "s3",
        }
    }

    /// The sibling kind that is this service, and the attribute that is its ARN.
    fn sibling(self) -> Option<(Kind, &'static str)> {
        match self {
            Service::Queue => Some((Kind::Queue, "Arn")),
            Service::Topic => Some((Kind::Topic, "")),
            Service::Function => Some((Kind::Function, "Arn")),
            Service::TableStream => Some((Kind::Table, "StreamArn")),
            Service::Bucket => Some((Kind::Bucket, "Arn")),
            Service::Bus | Service::Kinesis => None,
        }
    }
}

/// A resolved target: its ARN as CloudFormation writes it, and the unit's
/// resource when it is one (name, logical id).
#[derive(Clone, Debug)]
pub struct Target {
    pub service: Service,
    pub arn: Json,
    pub sibling: Option<(String, String)>,
}

impl Target {
    /// For a bucket: its name (`Ref`) where it is the unit's, else None.
    pub fn bucket_name(&self) -> Option<Json> {
        self.sibling.as_ref().map(|(_, id)| json!({ "Ref": id }))
    }
}

/// Reads `value` as a target of one of `wanted`'s services. A plain name
/// must be a resource of the unit of a wanted kind; an ARN must be of a
/// wanted service; a reference is taken as the first wanted service unless
/// it names an attribute of a sibling of another.
pub fn target(
    x: &Expansion<'_>,
    value: &Resolved,
    wanted: &[Service],
    what: &str,
) -> Result<Target, Diagnostic> {
    let words: Vec<&str> = wanted.iter().map(|s| s.word()).collect();
    let listed = words.join(" or ");
    match &value.value {
        RValue::Str(text) if text.starts_with("arn:") => {
            let service = text.split(':').nth(2).unwrap_or_default();
            let Some(found) = wanted.iter().find(|s| s.arn_service() == service) else {
                return Err(x.error(
                    value,
                    format!("{what} is an ARN of `{service}`, not of a {listed}"),
                    format!(
                        "give the ARN of a {listed} ({})",
                        wanted
                            .iter()
                            .map(|s| format!("arn:aws:{}:...", s.arn_service()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            };
            if *found == Service::TableStream && !text.contains("/stream/") {
                return Err(x.error(
                    value,
                    format!("{what} is a table's ARN, not its stream's"),
                    "give the stream's ARN (`${table.stream_arn}` for a table of the unit, with `stream:` set on the table)",
                ));
            }
            Ok(Target {
                service: *found,
                arn: json!(text),
                sibling: None,
            })
        }
        RValue::Str(name) => {
            let siblings: Vec<&str> = x
                .siblings
                .iter()
                .filter(|(_, (kind, _))| {
                    wanted
                        .iter()
                        .any(|s| s.sibling().map(|w| w.0) == Some(*kind))
                })
                .map(|(n, _)| n.as_str())
                .collect();
            let found = x.siblings.get(name).and_then(|(kind, id)| {
                wanted
                    .iter()
                    .find(|s| s.sibling().map(|w| w.0) == Some(*kind))
                    .map(|s| (*s, id.clone()))
            });
            let Some((service, id)) = found else {
                if let Some((kind, _)) = x.siblings.get(name) {
                    return Err(x.error(
                        value,
                        format!(
                            "{what} names `{name}`, a {} of this unit, not a {listed}",
                            kind.name()
                        ),
                        match siblings.as_slice() {
                            [] => format!("add a {listed} to the unit and name it here"),
                            names => format!("{listed}s of this unit: {}", names.join(", ")),
                        },
                    ));
                }
                let help = match closest(name, siblings.iter().copied()) {
                    Some(best) => format!("did you mean `{best}`?"),
                    None if siblings.is_empty() => format!(
                        "name a {listed} of this unit, or give its ARN (`${{unit.output}}` for one of another unit)"
                    ),
                    None => format!("{listed}s of this unit: {}", siblings.join(", ")),
                };
                return Err(x.error(
                    value,
                    format!("{what} names `{name}`, which is not a {listed} of this unit"),
                    help,
                ));
            };
            let attribute = service.sibling().map(|w| w.1).unwrap_or_default();
            let arn = match attribute {
                "" => json!({ "Ref": id }),
                a => json!({ "Fn::GetAtt": [id, a] }),
            };
            Ok(Target {
                service,
                arn,
                sibling: Some((name.clone(), id)),
            })
        }
        RValue::Dynamic(expr, _) => {
            // `${jobs.arn}`: a sibling's attribute tells what it is.
            let by_id = expr
                .pointer("/Fn::GetAtt/0")
                .or_else(|| expr.get("Ref"))
                .and_then(Json::as_str)
                .and_then(|id| {
                    x.siblings
                        .iter()
                        .find(|(_, (_, sid))| sid == id)
                        .map(|(n, (k, sid))| (n.clone(), *k, sid.clone()))
                });
            let service = match &by_id {
                Some((_, kind, _)) => wanted
                    .iter()
                    .find(|s| s.sibling().map(|w| w.0) == Some(*kind))
                    .copied(),
                None => wanted.first().copied(),
            };
            let Some(service) = service else {
                return Err(x.error(
                    value,
                    format!("{what} refers to a resource that is not a {listed}"),
                    format!("refer to a {listed}'s ARN"),
                ));
            };
            Ok(Target {
                service,
                arn: expr.clone(),
                sibling: by_id.map(|(n, _, id)| (n, id)),
            })
        }
        _ => Err(x.error(
            value,
            format!("{what} must name a {listed}, found {}", value.type_name()),
            format!("write the name of a {listed} of this unit, or its ARN"),
        )),
    }
}

/// The IAM statement that lets a function deliver to `t` (a destination or
/// a dead-letter target).
pub fn delivery_statement(t: &Target) -> Json {
    let action = match t.service {
        Service::Queue => "sqs:SendMessage",
        Service::Topic => "sns:Publish",
        Service::Function => "lambda:InvokeFunction",
        Service::Bus => "events:PutEvents",
        Service::TableStream | Service::Kinesis | Service::Bucket => "",
    };
    json!({ "Effect": "Allow", "Action": [action], "Resource": t.arn })
}
