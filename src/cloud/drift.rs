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
    match cloud.cfn.detect_stack_drift().stack_name(stack).send().await {
        Ok(out) => Ok(Started::Id(
            out.stack_drift_detection_id().unwrap_or_default().to_string(),
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
