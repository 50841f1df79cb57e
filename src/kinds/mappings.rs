//! The event sources Lambda polls for a function (an SQS queue, a DynamoDB
//! or Kinesis stream): an event-source mapping each, and the role
//! statements that let the function read exactly that source.

use super::events::{Wired, enabled};
use super::target::{Service, Target, delivery_statement, target};
use super::{CfnResource, Expansion};
use crate::diag::Diagnostic;
use crate::value::{Resolved, json_document_expr};
use serde_json::{Map, Value as Json, json};

/// Options event-source mappings share.
fn mapping(x: &Expansion<'_>, event: &Resolved, source: &Target) -> Map<String, Json> {
    let mut props = Map::new();
    props.insert("EventSourceArn".into(), source.arn.clone());
    props.insert("FunctionName".into(), json!({ "Ref": x.logical_id }));
    props.insert("Enabled".into(), json!(enabled(event)));
    if let Some(size) = event.get("batch_size") {
        props.insert("BatchSize".into(), size.to_json());
    }
    if let Some(window) = event.get("batching_window") {
        props.insert("MaximumBatchingWindowInSeconds".into(), window.to_json());
    }
    if event.get("partial_batch").and_then(Resolved::bool) == Some(true) {
        props.insert(
            "FunctionResponseTypes".into(),
            json!(["ReportBatchItemFailures"]),
        );
    }
    if let Some(filter) = event.get("filter") {
        props.insert(
            "FilterCriteria".into(),
            json!({ "Filters": [{ "Pattern": json_document_expr(&filter.to_json()) }] }),
        );
    }
    props
}

pub(super) fn sqs(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    queue: &Resolved,
) -> Result<Wired, Vec<Diagnostic>> {
    let t = target(x, queue, &[Service::Queue], "an sqs event's queue").map_err(|e| vec![e])?;
    let mut errors = Vec::new();
    let fifo = t
        .sibling
        .as_ref()
        .and_then(|(name, _)| x.sibling_fields.get(name))
        .and_then(|fields| fields.get("fifo"))
        .and_then(Resolved::bool)
        == Some(true);
    if fifo {
        // Lambda reads a FIFO queue in order, ten messages at most, at once.
        if let Some(window) = event.get("batching_window") {
            errors.push(x.error(
                window,
                "a FIFO queue's event source takes no batching window",
                "drop `batching_window`: Lambda reads a FIFO queue's message groups in order, as they come",
            ));
        }
        if let Some(size) = event
            .get("batch_size")
            .filter(|s| s.int().is_some_and(|n| n > 10))
        {
            errors.push(x.error(
                size,
                "a FIFO queue's batch is at most 10 messages",
                "use `batch_size: 10` or fewer",
            ));
        }
    } else if let Some(size) = event.get("batch_size")
        && size.int().is_some_and(|n| n > 10)
        && event
            .get("batching_window")
            .and_then(Resolved::int)
            .unwrap_or(0)
            == 0
    {
        errors.push(x.error(
            size,
            "an SQS batch over 10 messages needs a batching window",
            "add `batching_window: 1` (seconds) or more, or use a batch of 10 or fewer",
        ));
    }
    let mut props = mapping(x, event, &t);
    if let Some(max) = event.get("max_concurrency") {
        props.insert(
            "ScalingConfig".into(),
            json!({ "MaximumConcurrency": max.to_json() }),
        );
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Wired {
        resources: vec![CfnResource::new(
            id,
            "AWS::Lambda::EventSourceMapping",
            Json::Object(props),
        )],
        statements: vec![json!({
            "Effect": "Allow",
            "Action": [
                "sqs:ChangeMessageVisibility",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ReceiveMessage",
            ],
            "Resource": t.arn,
        })],
    })
}

pub(super) fn stream(
    x: &Expansion<'_>,
    id: &str,
    event: &Resolved,
    value: &Resolved,
    source: &str,
) -> Result<Wired, Vec<Diagnostic>> {
    let service = if source == "kinesis" {
        Service::Kinesis
    } else {
        Service::TableStream
    };
    let t =
        target(x, value, &[service], &format!("a {source} event's stream")).map_err(|e| vec![e])?;
    let mut props = mapping(x, event, &t);
    let position = match event.get("starting_position").and_then(Resolved::str) {
        Some("trim_horizon") => "TRIM_HORIZON",
        _ => "LATEST",
    };
    props.insert("StartingPosition".into(), json!(position));
    if event.get("bisect_on_error").and_then(Resolved::bool) == Some(true) {
        props.insert("BisectBatchOnFunctionError".into(), json!(true));
    }
    if let Some(retries) = event.get("max_retries") {
        props.insert("MaximumRetryAttempts".into(), retries.to_json());
    }
    let (read, list) = match service {
        Service::Kinesis => (
            json!([
                "kinesis:DescribeStream",
                "kinesis:DescribeStreamSummary",
                "kinesis:GetRecords",
                "kinesis:GetShardIterator",
                "kinesis:ListShards",
                "kinesis:SubscribeToShard",
            ]),
            "kinesis:ListStreams",
        ),
        _ => (
            json!([
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
            ]),
            "dynamodb:ListStreams",
        ),
    };
    let mut statements = vec![
        json!({ "Effect": "Allow", "Action": read, "Resource": t.arn }),
        // Listing streams is not scoped to a resource in IAM.
        json!({ "Effect": "Allow", "Action": [list], "Resource": "*" }),
    ];
    if let Some(failure) = event.get("on_failure") {
        let d = target(
            x,
            failure,
            &[Service::Queue, Service::Topic],
            "`on_failure`",
        )
        .map_err(|e| vec![e])?;
        props.insert(
            "DestinationConfig".into(),
            json!({ "OnFailure": { "Destination": d.arn } }),
        );
        statements.push(delivery_statement(&d));
    }
    Ok(Wired {
        resources: vec![CfnResource::new(
            id,
            "AWS::Lambda::EventSourceMapping",
            Json::Object(props),
        )],
        statements,
    })
}
