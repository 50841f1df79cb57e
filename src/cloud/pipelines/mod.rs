//! CodePipeline through `aws-sdk-codepipeline`: read, create and update a
//! declaration, its tags, executions and stage states. Locally, moto's
//! server stands in for CodePipeline; it acts as the account named by the
//! `x-moto-account-id` header, and its CreatePipeline checks the role in
//! its own IAM, so local mode also puts the role there.

mod offline;
pub use offline::create_request;

use super::{Cloud, CloudError, calls};
use crate::pipeline::declaration::{Action, Declaration, Stage};
use aws_sdk_codepipeline::types as cp;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use std::collections::BTreeMap;

/// Where CodePipeline calls go instead of AWS.
#[derive(Clone, Debug)]
pub struct LocalPipelines {
    pub endpoint: String,
    /// The account moto is to act as (the emulator's, from STS).
    pub account: String,
}

#[derive(Clone, Debug)]
struct AccountHeader(String);

impl Intercept for AccountHeader {
    fn name(&self) -> &'static str {
        "driftless-moto-account"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

#[derive(Clone, Debug)]
pub struct Pipelines {
    client: aws_sdk_codepipeline::Client,
    iam: Option<aws_sdk_iam::Client>,
}

/// A pipeline as GetPipeline returns it, in driftless's form.
pub struct Live {
    pub declaration: Declaration,
    pub version: i32,
    pub arn: String,
}

/// One execution, newest first in lists.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Execution {
    pub id: String,
    pub status: String,
    /// Why it ended so, when CodePipeline says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    pub started: Option<String>,
    pub updated: Option<String>,
    pub trigger: Option<String>,
}

impl Execution {
    /// Cancelled because the pipeline's definition was updated (its own
    /// self-update), or superseded by a newer run: the run that follows
    /// carries the release on.
    pub fn superseded(&self) -> bool {
        self.status == "Superseded"
            || self.status == "Cancelled"
                && self
                    .summary
                    .as_deref()
                    .is_some_and(|s| s.contains("definition was updated"))
    }

    /// Ended without delivering: failed, stopped, or cancelled for any
    /// reason but a self-update.
    pub fn failed(&self) -> bool {
        matches!(self.status.as_str(), "Failed" | "Stopped")
            || (self.status == "Cancelled" && !self.superseded())
    }
}

/// The execution that says how the pipeline is doing: the newest one that
/// a self-update did not supersede.
pub fn deciding(executions: &[Execution]) -> Option<&Execution> {
    executions.iter().find(|e| !e.superseded())
}

/// One stage's latest state (GetPipelineState).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StageState {
    pub stage: String,
    pub status: Option<String>,
    pub execution: Option<String>,
    pub actions: Vec<(String, Option<String>)>,
}

fn date(d: Option<&aws_smithy_types::DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
}

impl Cloud {
    /// CodePipeline clients: to AWS, or to moto's server for `local`.
    pub fn pipelines(&self, local: Option<&LocalPipelines>) -> Pipelines {
        let counter = calls::Counter(self.calls.clone());
        let mut config =
            aws_sdk_codepipeline::config::Builder::from(&self.sdk).interceptor(counter.clone());
        let mut iam = None;
        if let Some(local) = local {
            let header = AccountHeader(local.account.clone());
            config = config
                .endpoint_url(&local.endpoint)
                .interceptor(header.clone());
            iam = Some(aws_sdk_iam::Client::from_conf(
                aws_sdk_iam::config::Builder::from(&self.sdk)
                    .endpoint_url(&local.endpoint)
                    .interceptor(counter)
                    .interceptor(header)
                    .build(),
            ));
        }
        Pipelines {
            client: aws_sdk_codepipeline::Client::from_conf(config.build()),
            iam,
        }
    }
}

impl Pipelines {
    /// The pipeline, or None when there is none of that name.
    pub async fn get(&self, name: &str) -> Result<Option<Live>, CloudError> {
        match self.client.get_pipeline().name(name).send().await {
            Ok(out) => {
                let arn = out
                    .metadata()
                    .and_then(|m| m.pipeline_arn())
                    .unwrap_or_default()
                    .to_string();
                Ok(out.pipeline.map(|live| {
                    let (declaration, version) = from_sdk(&live);
                    Live {
                        declaration,
                        version,
                        arn,
                    }
                }))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_pipeline_not_found_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(CloudError::sdk("GetPipeline", name, e)),
        }
    }

    /// Creates the pipeline with `tags`; returns its version.
    pub async fn create(
        &self,
        declaration: &Declaration,
        tags: &BTreeMap<String, String>,
    ) -> Result<i32, CloudError> {
        let name = &declaration.name;
        let sdk = to_sdk(declaration, None)
            .map_err(|e| CloudError::new("CreatePipeline", name, e.to_string()))?;
        let mut call = self.client.create_pipeline().pipeline(sdk);
        for tag in sdk_tags(tags)? {
            call = call.tags(tag);
        }
        let out = call
            .send()
            .await
            .map_err(|e| CloudError::sdk("CreatePipeline", name, e))?;
        Ok(out.pipeline().and_then(|p| p.version()).unwrap_or(1))
    }

    /// Replaces the declaration at live `version`; returns the new version.
    pub async fn update(&self, declaration: &Declaration, version: i32) -> Result<i32, CloudError> {
        let name = &declaration.name;
        let sdk = to_sdk(declaration, Some(version))
            .map_err(|e| CloudError::new("UpdatePipeline", name, e.to_string()))?;
        let out = self
            .client
            .update_pipeline()
            .pipeline(sdk)
            .send()
            .await
            .map_err(|e| CloudError::sdk("UpdatePipeline", name, e))?;
        Ok(out.pipeline().and_then(|p| p.version()).unwrap_or(0))
    }

    pub async fn tags(&self, arn: &str) -> Result<BTreeMap<String, String>, CloudError> {
        let out = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| CloudError::sdk("ListTagsForResource", arn, e))?;
        Ok(out
            .tags()
            .iter()
            .map(|t| (t.key().to_string(), t.value().to_string()))
            .collect())
    }

    /// Makes the tags `wanted`: TagResource for what is missing or
    /// different, UntagResource for what is extra. Returns the keys changed.
    pub async fn converge_tags(
        &self,
        arn: &str,
        live: &BTreeMap<String, String>,
        wanted: &BTreeMap<String, String>,
    ) -> Result<Vec<String>, CloudError> {
        let set: BTreeMap<String, String> = wanted
            .iter()
            .filter(|(k, v)| live.get(*k) != Some(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let extra: Vec<String> = live
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        if !set.is_empty() {
            let mut call = self.client.tag_resource().resource_arn(arn);
            for tag in sdk_tags(&set)? {
                call = call.tags(tag);
            }
            call.send()
                .await
                .map_err(|e| CloudError::sdk("TagResource", arn, e))?;
        }
        if !extra.is_empty() {
            self.client
                .untag_resource()
                .resource_arn(arn)
                .set_tag_keys(Some(extra.clone()))
                .send()
                .await
                .map_err(|e| CloudError::sdk("UntagResource", arn, e))?;
        }
        Ok(set.into_keys().chain(extra).collect())
    }

    pub async fn delete(&self, name: &str) -> Result<(), CloudError> {
        self.client
            .delete_pipeline()
            .name(name)
            .send()
            .await
            .map_err(|e| CloudError::sdk("DeletePipeline", name, e))?;
        Ok(())
    }

    /// Starts an execution; returns its id.
    pub async fn start(&self, name: &str) -> Result<String, CloudError> {
        let out = self
            .client
            .start_pipeline_execution()
            .name(name)
            .send()
            .await
            .map_err(|e| CloudError::sdk("StartPipelineExecution", name, e))?;
        Ok(out.pipeline_execution_id().unwrap_or_default().to_string())
    }

    /// Starts a new execution of `name` on the source revision execution
    /// `of` ran (its `source_action`'s output `artifact`): after a self-update has
    /// cancelled `of`, the release continues on the new definition. Returns
    /// the new execution's id and the revision; None when `of` recorded
    /// none (AWS always does once its source stage ran; moto's server
    /// runs no action), and the new run then takes the source's latest.
    pub async fn restart(
        &self,
        name: &str,
        of: &str,
        source_action: &str,
        artifact: &str,
        source: &crate::spec::pipeline::Source,
    ) -> Result<(String, Option<String>), CloudError> {
        use crate::spec::pipeline::Source;
        use aws_sdk_codepipeline::types::SourceRevisionType;
        // How CodePipeline names a revision of the source.
        let revision_type = match source {
            Source::S3 { .. } => SourceRevisionType::S3ObjectVersionId,
            Source::CodeStar { .. } | Source::CodeCommit { .. } => SourceRevisionType::CommitId,
        };
        let out = self
            .client
            .get_pipeline_execution()
            .pipeline_name(name)
            .pipeline_execution_id(of)
            .send()
            .await
            .map_err(|e| CloudError::sdk("GetPipelineExecution", of, e))?;
        let revision = out
            .pipeline_execution()
            .and_then(|e| {
                e.artifact_revisions()
                    .iter()
                    .find(|a| a.name() == Some(artifact))
                    .and_then(|a| a.revision_id())
            })
            .map(str::to_string);
        // One restart per cancelled run, however often the action retries.
        let token: String = format!("after-{of}")
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
            .take(128)
            .collect();
        let mut call = self
            .client
            .start_pipeline_execution()
            .name(name)
            .client_request_token(token);
        if let Some(revision) = &revision {
            let source = aws_sdk_codepipeline::types::SourceRevisionOverride::builder()
                .action_name(source_action)
                .revision_type(revision_type)
                .revision_value(revision)
                .build()
                .map_err(|e| CloudError::new("StartPipelineExecution", name, e.to_string()))?;
            call = call.source_revisions(source);
        }
        let started = call
            .send()
            .await
            .map_err(|e| CloudError::sdk("StartPipelineExecution", name, e))?;
        Ok((
            started
                .pipeline_execution_id()
                .unwrap_or_default()
                .to_string(),
            revision,
        ))
    }

    /// The latest `max` executions, newest first.
    pub async fn executions(&self, name: &str, max: i32) -> Result<Vec<Execution>, CloudError> {
        let out = self
            .client
            .list_pipeline_executions()
            .pipeline_name(name)
            .max_results(max)
            .send()
            .await
            .map_err(|e| CloudError::sdk("ListPipelineExecutions", name, e))?;
        let mut executions: Vec<Execution> = out
            .pipeline_execution_summaries()
            .iter()
            .map(|s| Execution {
                id: s.pipeline_execution_id().unwrap_or_default().to_string(),
                status: s
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                summary: s.status_summary().map(str::to_string),
                started: date(s.start_time()),
                updated: date(s.last_update_time()),
                trigger: s
                    .trigger()
                    .and_then(|t| t.trigger_type())
                    .map(|t| t.as_str().to_string()),
            })
            .collect();
        executions.sort_by(|a, b| b.started.cmp(&a.started));
        Ok(executions)
    }

    /// Each stage's latest state.
    pub async fn state(&self, name: &str) -> Result<Vec<StageState>, CloudError> {
        let out = self
            .client
            .get_pipeline_state()
            .name(name)
            .send()
            .await
            .map_err(|e| CloudError::sdk("GetPipelineState", name, e))?;
        Ok(out
            .stage_states()
            .iter()
            .map(|s| StageState {
                stage: s.stage_name().unwrap_or_default().to_string(),
                status: s
                    .latest_execution()
                    .map(|e| e.status().as_str().to_string()),
                execution: s
                    .latest_execution()
                    .map(|e| e.pipeline_execution_id().to_string()),
                actions: s
                    .action_states()
                    .iter()
                    .map(|a| {
                        (
                            a.action_name().unwrap_or_default().to_string(),
                            a.latest_execution()
                                .and_then(|e| e.status())
                                .map(|s| s.as_str().to_string()),
                        )
                    })
                    .collect(),
            })
            .collect())
    }

    /// Locally: the pipeline's role in moto's own IAM, which its
    /// CreatePipeline checks (name and trust). True if it was created.
    pub async fn ensure_local_role(&self, role_arn: &str) -> Result<bool, CloudError> {
        let Some(iam) = &self.iam else {
            return Ok(false);
        };
        let Some((path, name)) = role_arn
            .split_once(":role")
            .and_then(|(_, rest)| rest.rsplit_once('/'))
        else {
            return Err(CloudError::new("CreateRole", role_arn, "not a role ARN"));
        };
        match iam.get_role().role_name(name).send().await {
            Ok(_) => return Ok(false),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_no_such_entity_exception()) => {}
            Err(e) => return Err(CloudError::sdk("GetRole", name, e)),
        }
        let trust = serde_json::json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": { "Service": "codepipeline.amazonaws.com" },
                "Action": "sts:AssumeRole",
            }],
        });
        iam.create_role()
            .role_name(name)
            .path(format!("{path}/"))
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .map_err(|e| CloudError::sdk("CreateRole", name, e))?;
        Ok(true)
    }
}

/// A live declaration in driftless's form, with its `version`:
/// CodePipeline's defaults filled in.
fn from_sdk(live: &cp::PipelineDeclaration) -> (Declaration, i32) {
    let stages = live
        .stages()
        .iter()
        .map(|stage| Stage {
            name: stage.name().to_string(),
            actions: stage
                .actions()
                .iter()
                .map(|a| {
                    let id = a.action_type_id();
                    let configuration: BTreeMap<String, String> = a
                        .configuration()
                        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    Action {
                        name: a.name().to_string(),
                        category: id
                            .map(|i| i.category().as_str().to_string())
                            .unwrap_or_default(),
                        owner: id
                            .map(|i| i.owner().as_str().to_string())
                            .unwrap_or_default(),
                        provider: id.map(|i| i.provider().to_string()).unwrap_or_default(),
                        version: id.map(|i| i.version().to_string()).unwrap_or_default(),
                        run_order: a.run_order().unwrap_or(1),
                        configuration,
                        input_artifacts: a
                            .input_artifacts()
                            .iter()
                            .map(|i| i.name().to_string())
                            .collect(),
                        output_artifacts: a
                            .output_artifacts()
                            .iter()
                            .map(|o| o.name().to_string())
                            .collect(),
                    }
                })
                .collect(),
        })
        .collect();
    let declaration = Declaration {
        name: live.name().to_string(),
        role_arn: live.role_arn().to_string(),
        artifact_bucket: live
            .artifact_store()
            .map(|s| s.location().to_string())
            .unwrap_or_default(),
        pipeline_type: live
            .pipeline_type()
            .map_or("V1", |t| t.as_str())
            .to_string(),
        execution_mode: live
            .execution_mode()
            .map_or("SUPERSEDED", |m| m.as_str())
            .to_string(),
        stages,
    };
    (declaration, live.version().unwrap_or(0))
}

type Built<T> = Result<T, aws_smithy_types::error::operation::BuildError>;

/// The SDK's form, for CreatePipeline and UpdatePipeline.
fn to_sdk(d: &Declaration, version: Option<i32>) -> Built<cp::PipelineDeclaration> {
    let mut stages = Vec::new();
    for stage in &d.stages {
        let mut actions = Vec::new();
        for a in &stage.actions {
            let id = cp::ActionTypeId::builder()
                .category(cp::ActionCategory::from(a.category.as_str()))
                .owner(cp::ActionOwner::from(a.owner.as_str()))
                .provider(&a.provider)
                .version(&a.version)
                .build()?;
            let mut b = cp::ActionDeclaration::builder()
                .name(&a.name)
                .action_type_id(id)
                .run_order(a.run_order)
                .set_configuration(Some(a.configuration.clone().into_iter().collect()));
            for input in &a.input_artifacts {
                b = b.input_artifacts(cp::InputArtifact::builder().name(input).build()?);
            }
            for output in &a.output_artifacts {
                b = b.output_artifacts(cp::OutputArtifact::builder().name(output).build()?);
            }
            actions.push(b.build()?);
        }
        stages.push(
            cp::StageDeclaration::builder()
                .name(&stage.name)
                .set_actions(Some(actions))
                .build()?,
        );
    }
    cp::PipelineDeclaration::builder()
        .name(&d.name)
        .role_arn(&d.role_arn)
        .artifact_store(
            cp::ArtifactStore::builder()
                .r#type(cp::ArtifactStoreType::S3)
                .location(&d.artifact_bucket)
                .build()?,
        )
        .pipeline_type(cp::PipelineType::from(d.pipeline_type.as_str()))
        .execution_mode(cp::ExecutionMode::from(d.execution_mode.as_str()))
        .set_stages(Some(stages))
        .set_version(version)
        .build()
}

fn sdk_tags(tags: &BTreeMap<String, String>) -> Result<Vec<cp::Tag>, CloudError> {
    tags.iter()
        .map(|(k, v)| {
            cp::Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| CloudError::new("TagResource", k, e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests;
