//! CloudFormation drift detection: start one, read its status, read the
//! resources it checked. Answers come back as plain data.

use super::{Cloud, CloudError};
use crate::deployed::{PropertyDifference, ResourceDrift};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::StackDriftDetectionStatus;

/// What asking for a detection gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Started {
    Id(String),
    /// Another detection of this stack runs (one per stack at a time).
    AlreadyRunning,
}

/// A detection's progress.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Detection {
    InProgress,
    Complete,
    /// It ended without checking everything; the reason says what not.
    Failed(String),
}

pub async fn start(cloud: &Cloud, stack: &str) -> Result<Started, CloudError> {
    match cloud
        .cfn
        .detect_stack_drift()
        .stack_name(stack)
        .send()
        .await
    {
        Ok(out) => Ok(Started::Id(
            out.stack_drift_detection_id()
                .unwrap_or_default()
                .to_string(),
        )),
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.message()
                    .is_some_and(|m| m.to_ascii_lowercase().contains("in progress"))
            }) =>
        {
            Ok(Started::AlreadyRunning)
        }
        Err(e) => Err(CloudError::sdk("DetectStackDrift", stack, e)),
    }
}

pub async fn status(cloud: &Cloud, stack: &str, id: &str) -> Result<Detection, CloudError> {
    let out = cloud
        .cfn
        .describe_stack_drift_detection_status()
        .stack_drift_detection_id(id)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DescribeStackDriftDetectionStatus", stack, e))?;
    Ok(match out.detection_status() {
        Some(StackDriftDetectionStatus::DetectionComplete) => Detection::Complete,
        Some(StackDriftDetectionStatus::DetectionFailed) => Detection::Failed(
            out.detection_status_reason()
                .unwrap_or("the detection failed")
                .to_string(),
        ),
        _ => Detection::InProgress,
    })
}

/// Every resource the latest detection checked, one call per page.
pub async fn resource_drifts(cloud: &Cloud, stack: &str) -> Result<Vec<ResourceDrift>, CloudError> {
    let mut drifts = Vec::new();
    let mut token = None;
    loop {
        let page = cloud
            .cfn
            .describe_stack_resource_drifts()
            .stack_name(stack)
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| CloudError::sdk("DescribeStackResourceDrifts", stack, e))?;
        for d in page.stack_resource_drifts() {
            drifts.push(ResourceDrift {
                logical_id: d.logical_resource_id().unwrap_or_default().to_string(),
                physical_id: d.physical_resource_id().map(str::to_string),
                resource_type: d.resource_type().unwrap_or_default().to_string(),
                status: d
                    .stack_resource_drift_status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                differences: d
                    .property_differences()
                    .iter()
                    .map(|p| PropertyDifference {
                        path: p.property_path().unwrap_or_default().to_string(),
                        expected: p.expected_value().unwrap_or_default().to_string(),
                        actual: p.actual_value().unwrap_or_default().to_string(),
                        kind: p
                            .difference_type()
                            .map(|t| t.as_str().to_string())
                            .unwrap_or_default(),
                        secret: false,
                    })
                    .collect(),
            });
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(drifts);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::scripted::{Answer, client};
    use crate::cloud::stacks::{ChangeSetRequest, create_change_set};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// A CloudFormation endpoint answering each request with the next
    /// recorded answer, keeping the request bodies it saw.
    fn recorded(answers: Vec<Answer>) -> (Cloud, Arc<Mutex<Vec<String>>>) {
        let answers = Mutex::new(answers.into_iter());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = client(move |request| {
            let body = request
                .body()
                .bytes()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            if let Ok(mut log) = log.lock() {
                log.push(body);
            }
            answers.lock().ok().and_then(|mut a| a.next()).unwrap_or((
                500,
                Vec::new(),
                String::new(),
            ))
        });
        let settings = crate::cloud::ConnectSettings {
            region: "eu-west-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        (Cloud::with_http_client(http, &settings), seen)
    }

    fn xml(body: &str) -> Answer {
        (
            200,
            vec![("content-type", "text/xml".to_string())],
            body.to_string(),
        )
    }

    #[tokio::test]
    async fn a_revert_change_set_asks_cloudformation_for_revert_drift_on_the_running_template() {
        let (cloud, seen) = recorded(vec![xml(
            "<CreateChangeSetResponse><CreateChangeSetResult><Id>arn:cs</Id></CreateChangeSetResult></CreateChangeSetResponse>",
        )]);
        let tags = BTreeMap::from([("driftless:hash".to_string(), "h".to_string())]);
        let keep = vec!["DatabaseTableName".to_string()];
        let id = create_change_set(
            &cloud,
            &ChangeSetRequest {
                stack: "app-prod-stateful",
                name: "driftless-1",
                create: false,
                template: "{\"never\": \"sent\"}",
                parameters: &BTreeMap::new(),
                keep_previous: &keep,
                tags: &tags,
                revert_drift: true,
                bucket: None,
            },
        )
        .await
        .expect("created");
        assert_eq!(id, "arn:cs");
        let body = seen.lock().expect("log")[0].clone();
        for part in [
            "Action=CreateChangeSet",
            "DeploymentMode=REVERT_DRIFT",
            "UsePreviousTemplate=true",
            "ChangeSetType=UPDATE",
            "Parameters.member.1.ParameterKey=DatabaseTableName",
            "Parameters.member.1.UsePreviousValue=true",
        ] {
            assert!(body.contains(part), "{part} missing from {body}");
        }
        assert!(!body.contains("TemplateBody"), "{body}");
    }

    #[tokio::test]
    async fn a_detection_already_running_is_reported_as_such_not_as_an_error() {
        let (cloud, _) = recorded(vec![(
            400,
            vec![("content-type", "text/xml".to_string())],
            "<ErrorResponse><Error><Type>Sender</Type><Code>ValidationError</Code><Message>Drift detection is already in progress for stack [s]</Message></Error></ErrorResponse>".into(),
        )]);
        assert_eq!(
            start(&cloud, "s").await.expect("started"),
            Started::AlreadyRunning
        );
    }

    #[tokio::test]
    async fn a_failed_detection_carries_its_reason() {
        let (cloud, _) = recorded(vec![xml(
            "<DescribeStackDriftDetectionStatusResponse><DescribeStackDriftDetectionStatusResult><StackId>s</StackId><StackDriftDetectionId>d</StackDriftDetectionId><DetectionStatus>DETECTION_FAILED</DetectionStatus><DetectionStatusReason>Failed to detect drift on resources [X]</DetectionStatusReason><Timestamp>2026-01-01T00:00:00Z</Timestamp></DescribeStackDriftDetectionStatusResult></DescribeStackDriftDetectionStatusResponse>",
        )]);
        assert_eq!(
            status(&cloud, "s", "d").await.expect("status"),
            Detection::Failed("Failed to detect drift on resources [X]".into())
        );
    }
}
