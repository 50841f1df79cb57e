//! CloudFormation: read stacks, templates and events; create, execute and
//! delete change sets; delete stacks. Answers come back as plain data.

use super::CloudError;
use crate::deployed::{ChangeSetChange, DeployedStack, StackEvent, StackResource};
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::{
    Capability, ChangeSetStatus, ChangeSetType, DeploymentMode, Parameter, Stack, Tag,
    TemplateStage,
};
use std::collections::BTreeMap;
use std::time::Duration;

fn deployed(stack: &Stack) -> DeployedStack {
    DeployedStack {
        name: stack.stack_name().unwrap_or_default().to_string(),
        id: stack.stack_id().unwrap_or_default().to_string(),
        status: stack
            .stack_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: stack.stack_status_reason().map(str::to_string),
        tags: stack
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
            .collect(),
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.output_value()?.to_string())))
            .collect(),
        output_descriptions: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_string(), o.description()?.to_string())))
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_string(),
                    p.parameter_value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        termination_protection: stack.enable_termination_protection().unwrap_or(false),
        drift_status: stack
            .drift_information()
            .and_then(|d| d.stack_drift_status())
            .map(|s| s.as_str().to_string()),
        drift_checked_at: stack
            .drift_information()
            .and_then(|d| d.last_check_timestamp())
            .map(|t| t.to_string()),
    }
}

/// Every live stack of the account and region, by name: one call per page,
/// however many stacks the environment has.
pub async fn list(cloud: &super::Cloud) -> Result<BTreeMap<String, DeployedStack>, CloudError> {
    let cfn = &cloud.cfn;
    let mut stacks = BTreeMap::new();
    let mut token = None;
    loop {
        let page = cfn
            .describe_stacks()
            .set_next_token(token)
            .send()
            .await
            .map_err(|e| CloudError::sdk("DescribeStacks", "(all stacks)", e))?;
        for stack in page.stacks() {
            let d = deployed(stack);
            stacks.insert(d.name.clone(), d);
        }
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(stacks);
        }
    }
}

fn missing(e: &impl ProvideErrorMetadata) -> bool {
    e.code() == Some("ValidationError") && e.message().is_some_and(|m| m.contains("does not exist"))
}

/// One stack by name or id; `None` once it is gone.
pub async fn describe(
    cloud: &super::Cloud,
    stack: &str,
) -> Result<Option<DeployedStack>, CloudError> {
    let cfn = &cloud.cfn;
    match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => Ok(out.stacks().first().map(deployed)),
        Err(e) if e.as_service_error().is_some_and(missing) => Ok(None),
        Err(e) => Err(CloudError::sdk("DescribeStacks", stack, e)),
    }
}

/// The template the stack runs now.
pub async fn template(cloud: &super::Cloud, stack: &str) -> Result<String, CloudError> {
    let cfn = &cloud.cfn;
    let out = cfn
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| CloudError::sdk("GetTemplate", stack, e))?;
    Ok(out.template_body().unwrap_or_default().to_string())
}

pub struct ChangeSetRequest<'a> {
    pub stack: &'a str,
    pub name: &'a str,
    pub create: bool,
    pub template: &'a str,
    pub parameters: &'a BTreeMap<String, String>,
    /// Parameters that keep their deployed value.
    pub keep_previous: &'a [String],
    pub tags: &'a BTreeMap<String, String>,
    /// A drift-aware change set (`DeploymentMode: REVERT_DRIFT`) on the
    /// template the stack runs: `template` is not sent.
    pub revert_drift: bool,
    /// The asset bucket, through which a template over the inline limit
    /// is passed (`TemplateURL`).
    pub bucket: Option<&'a str>,
}

/// How the template reaches CloudFormation: inline when it fits, else
/// uploaded to the asset bucket (once per content) and passed by URL.
async fn template_source(
    cloud: &super::Cloud,
    req: &ChangeSetRequest<'_>,
) -> Result<Option<String>, CloudError> {
    use crate::render::limits::MAX_INLINE_TEMPLATE;
    if req.template.len() <= MAX_INLINE_TEMPLATE {
        return Ok(None);
    }
    let Some(bucket) = req.bucket else {
        return Err(CloudError::new(
            "CreateChangeSet",
            req.stack,
            format!(
                "the template is {} bytes, more than the {MAX_INLINE_TEMPLATE} CloudFormation takes inline, and no asset bucket is deployed to pass it through",
                req.template.len()
            ),
        ));
    };
    let key = super::bootstrap::template_key(req.template);
    let bytes = req.template.as_bytes().to_vec();
    super::bootstrap::upload_typed_if_absent(cloud, bucket, &key, bytes, "application/json")
        .await?;
    Ok(Some(super::bootstrap::object_url(cloud, bucket, &key)))
}

/// Creates a change set and returns its id.
pub async fn create_change_set(
    cloud: &super::Cloud,
    req: &ChangeSetRequest<'_>,
) -> Result<String, CloudError> {
    let cfn = &cloud.cfn;
    let parameters = req
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .chain(req.keep_previous.iter().map(|k| {
            Parameter::builder()
                .parameter_key(k)
                .use_previous_value(true)
                .build()
        }))
        .collect();
    let tags = req
        .tags
        .iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let mut request = cfn
        .create_change_set()
        .stack_name(req.stack)
        .change_set_name(req.name)
        .change_set_type(if req.create {
            ChangeSetType::Create
        } else {
            ChangeSetType::Update
        });
    request = match req.revert_drift {
        true => request
            .use_previous_template(true)
            .deployment_mode(DeploymentMode::RevertDrift),
        false => match template_source(cloud, req).await? {
            Some(url) => request.template_url(url),
            None => request.template_body(req.template),
        },
    };
    let out = request
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .capabilities(Capability::CapabilityIam)
        .capabilities(Capability::CapabilityNamedIam)
        .send()
        .await
        .map_err(|e| CloudError::sdk("CreateChangeSet", req.stack, e))?;
    Ok(out.id().unwrap_or(req.name).to_string())
}

/// What a change set came to once CloudFormation computed it.
#[derive(Debug)]
pub enum ChangeSetOutcome {
    Ready(Vec<ChangeSetChange>),
    /// Nothing to change: the stack already matches.
    Empty,
    Failed(String),
}

fn changes_of(
    out: &aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput,
) -> Vec<ChangeSetChange> {
    out.changes()
        .iter()
        .filter_map(|c| c.resource_change())
        .map(|rc| ChangeSetChange {
            logical_id: rc.logical_resource_id().unwrap_or_default().to_string(),
            resource_type: rc.resource_type().unwrap_or_default().to_string(),
            action: rc
                .action()
                .map(|a| a.as_str().to_string())
                .unwrap_or_default(),
            replacement: rc.replacement().map(|r| r.as_str().to_string()),
            recreating: rc
                .details()
                .iter()
                .filter_map(|d| d.target())
                .filter(|t| {
                    t.requires_recreation()
                        .is_some_and(|r| r.as_str() != "Never")
                })
                .filter_map(|t| t.name().or(t.attribute().map(|a| a.as_str())))
                .map(str::to_string)
                .collect(),
        })
        .collect()
}

/// Waits until CloudFormation has computed the change set.
pub async fn wait_change_set(
    cloud: &super::Cloud,
    stack: &str,
    change_set: &str,
) -> Result<ChangeSetOutcome, CloudError> {
    let cfn = &cloud.cfn;
    let policy = crate::retry::Policy::doubling(Duration::from_millis(50), Duration::from_secs(2));
    let mut backoff = crate::retry::Backoff::new(policy);
    loop {
        let mut changes = Vec::new();
        let mut token = None;
        let status;
        let reason;
        loop {
            let out = cfn
                .describe_change_set()
                .stack_name(stack)
                .change_set_name(change_set)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| CloudError::sdk("DescribeChangeSet", stack, e))?;
            changes.extend(changes_of(&out));
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                status = out.status().cloned();
                reason = out.status_reason().unwrap_or_default().to_string();
                break;
            }
        }
        match status {
            Some(ChangeSetStatus::CreateComplete) => return Ok(ChangeSetOutcome::Ready(changes)),
            Some(ChangeSetStatus::Failed) => {
                let empty = reason.contains("didn't contain changes")
                    || reason.contains("No updates are to be performed");
                return Ok(if empty {
                    ChangeSetOutcome::Empty
                } else {
                    ChangeSetOutcome::Failed(reason)
                });
            }
            _ => {
                backoff.wait().await;
            }
        }
    }
}

pub async fn execute_change_set(
    cloud: &super::Cloud,
    stack: &str,
    change_set: &str,
) -> Result<(), CloudError> {
    let cfn = &cloud.cfn;
    cfn.execute_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(|e| CloudError::sdk("ExecuteChangeSet", stack, e))?;
    Ok(())
}

pub async fn delete_change_set(
    cloud: &super::Cloud,
    stack: &str,
    change_set: &str,
) -> Result<(), CloudError> {
    let cfn = &cloud.cfn;
    cfn.delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DeleteChangeSet", stack, e))?;
    Ok(())
}

/// The newest page of a stack's events, newest first.
pub async fn events(cloud: &super::Cloud, stack: &str) -> Result<Vec<StackEvent>, CloudError> {
    let cfn = &cloud.cfn;
    let out = cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DescribeStackEvents", stack, e))?;
    Ok(out
        .stack_events()
        .iter()
        .map(|e| StackEvent {
            id: e.event_id().unwrap_or_default().to_string(),
            logical_id: e.logical_resource_id().unwrap_or_default().to_string(),
            physical_id: e.physical_resource_id().map(str::to_string),
            resource_type: e.resource_type().unwrap_or_default().to_string(),
            status: e
                .resource_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: e
                .resource_status_reason()
                .filter(|r| !r.is_empty())
                .map(str::to_string),
            timestamp: e.timestamp().map(|t| t.to_string()).unwrap_or_default(),
        })
        .collect())
}

pub async fn delete(cloud: &super::Cloud, stack: &str) -> Result<(), CloudError> {
    let cfn = &cloud.cfn;
    cfn.delete_stack()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DeleteStack", stack, e))?;
    Ok(())
}

pub async fn resources(
    cloud: &super::Cloud,
    stack: &str,
) -> Result<Vec<StackResource>, CloudError> {
    let cfn = &cloud.cfn;
    let out = cfn
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DescribeStackResources", stack, e))?;
    Ok(out
        .stack_resources()
        .iter()
        .map(|r| StackResource {
            logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
            physical_id: r.physical_resource_id().map(str::to_string),
            resource_type: r.resource_type().unwrap_or_default().to_string(),
        })
        .collect())
}

pub async fn set_termination_protection(
    cloud: &super::Cloud,
    stack: &str,
    enabled: bool,
) -> Result<(), CloudError> {
    let cfn = &cloud.cfn;
    cfn.update_termination_protection()
        .stack_name(stack)
        .enable_termination_protection(enabled)
        .send()
        .await
        .map_err(|e| CloudError::sdk("UpdateTerminationProtection", stack, e))?;
    Ok(())
}

/// Resumes a rollback that stopped in `UPDATE_ROLLBACK_FAILED`.
pub async fn continue_rollback(cloud: &super::Cloud, stack: &str) -> Result<(), CloudError> {
    let cfn = &cloud.cfn;
    cfn.continue_update_rollback()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| CloudError::sdk("ContinueUpdateRollback", stack, e))?;
    Ok(())
}
