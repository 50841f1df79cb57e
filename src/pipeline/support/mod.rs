//! The pipeline's supporting resources as one CloudFormation stack, deployed
//! by the normal pass: an encrypted, retained artifact bucket, a CodeBuild
//! project per kind of action, a role for the pipeline and one per kind of
//! build, the schedule, and the source's change detection (`detect`).

use super::roles::{
    SELF_UPDATE_LIMIT, build_basics, checkout_statements, deploy_statements, pipeline_statements,
    self_update_limit, self_update_statements,
};
use super::{Footprints, Kind, buildspec, project_name};
use crate::render::{RenderedEnvironment, RenderedStack, ResourceSummary};
use crate::spec::pipeline::{Pipeline, Shipping, Source};
use crate::spec::{Project, Tier};
use serde_json::{Map, Value as Json, json};

pub const BUCKET_OUTPUT: &str = "ArtifactBucket";
pub const PIPELINE_ROLE_OUTPUT: &str = "PipelineRoleArn";

/// The image builds run in unless the file names one.
pub const DEFAULT_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";

const BUCKET: &str = "ArtifactBucket";

pub(super) fn sub(text: &str) -> Json {
    json!({ "Fn::Sub": text })
}

pub(super) fn statement(actions: &[&str], resources: Vec<Json>) -> Json {
    json!({ "Effect": "Allow", "Action": actions, "Resource": resources })
}

pub(super) fn role(service: &str, statements: Vec<Json>) -> Json {
    json!({
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Principal": { "Service": service },
                    "Action": "sts:AssumeRole",
                }],
            },
            "Policies": [{
                "PolicyName": "least-privilege",
                "PolicyDocument": { "Version": "2012-10-17", "Statement": statements },
            }],
        },
    })
}

/// What IAM allows in a role's inline policies together (10,240) and in
/// one managed policy (6,144), in characters without whitespace, with some
/// room: the template's `Fn::Sub` forms are longer than what they resolve to.
const INLINE_ROOM: usize = 6000;
const MANAGED_ROOM: usize = 6000;

fn size(statement: &Json) -> usize {
    statement.to_string().len() + 1
}

/// Inserts the role `role_id` for `service` holding `statements`: inline
/// while they fit, the rest in managed policies attached to it
/// (`<role_id>Rights1`, ...), each within IAM's size.
pub(super) fn insert_role(
    resources: &mut Map<String, Json>,
    role_id: &str,
    service: &str,
    statements: Vec<Json>,
) {
    let mut inline = Vec::new();
    let mut used = 0;
    let mut rest = statements.into_iter().peekable();
    while let Some(next) = rest.peek() {
        if used + size(next) > INLINE_ROOM {
            break;
        }
        used += size(next);
        inline.extend(rest.next());
    }
    resources.insert(role_id.into(), role(service, inline));
    let mut chunks: Vec<Vec<Json>> = Vec::new();
    let mut used = MANAGED_ROOM;
    for statement in rest {
        if used + size(&statement) > MANAGED_ROOM {
            chunks.push(Vec::new());
            used = 0;
        }
        used += size(&statement);
        if let Some(chunk) = chunks.last_mut() {
            chunk.push(statement);
        }
    }
    for (i, chunk) in chunks.into_iter().enumerate() {
        resources.insert(
            format!("{role_id}Rights{}", i + 1),
            json!({
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "Description": format!("driftless: the rest of {role_id}'s rights"),
                    "Roles": [{ "Ref": role_id }],
                    "PolicyDocument": { "Version": "2012-10-17", "Statement": chunk },
                },
            }),
        );
    }
}

pub(super) fn bucket_objects() -> Json {
    sub(&format!("${{{BUCKET}.Arn}}/*"))
}

pub(super) fn bucket_arn() -> Json {
    json!({ "Fn::GetAtt": [BUCKET, "Arn"] })
}

pub(super) fn project_arn(name: &str, kind: Kind) -> Json {
    project_arn_named(&project_name(name, kind))
}

pub(super) fn project_arn_named(project: &str) -> Json {
    sub(&format!(
        "arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:project/{project}"
    ))
}

/// The reconcile build's own checkout of the project, from the source.
fn reconcile_source(pipeline: &Pipeline, buildspec: String) -> (Json, Option<String>) {
    match &pipeline.source {
        Source::CodeStar {
            connection,
            repository,
            branch,
            provider,
        } => (
            json!({
                "Type": provider.codebuild_type(),
                "Location": provider.clone_url(repository),
                "Auth": { "Type": "CODECONNECTIONS", "Resource": connection },
                "BuildSpec": buildspec,
            }),
            Some(branch.clone()),
        ),
        Source::CodeCommit { repository, branch } => (
            json!({
                "Type": "CODECOMMIT",
                "Location": sub(&format!(
                    "https://git-codecommit.${{AWS::Region}}.${{AWS::URLSuffix}}/v1/repos/{repository}"
                )),
                "BuildSpec": buildspec,
            }),
            Some(format!("refs/heads/{branch}")),
        ),
        Source::S3 { bucket, key } => (
            json!({ "Type": "S3", "Location": format!("{bucket}/{key}"), "BuildSpec": buildspec }),
            None,
        ),
    }
}

pub fn image(pipeline: &Pipeline) -> String {
    match &pipeline.shipping {
        Shipping::Image(image) => image.clone(),
        _ => DEFAULT_IMAGE.to_string(),
    }
}

fn build_project(
    pipeline: &Pipeline,
    (kind, name): (Kind, String),
    role: &str,
    source: Json,
    source_version: Option<String>,
) -> Json {
    let mut properties = json!({
        "Name": name,
        "ServiceRole": { "Fn::GetAtt": [role, "Arn"] },
        "Source": source,
        "Artifacts": { "Type": if kind == Kind::Reconcile { "NO_ARTIFACTS" } else { "CODEPIPELINE" } },
        "Environment": {
            "Type": if super::binary::image_arch(&image(pipeline)) == "aarch64" { "ARM_CONTAINER" } else { "LINUX_CONTAINER" },
            "ComputeType": "BUILD_GENERAL1_SMALL",
            "Image": image(pipeline),
            "EnvironmentVariables": [
                { "Name": buildspec::BUCKET_VAR, "Type": "PLAINTEXT", "Value": { "Ref": BUCKET } },
            ],
        },
        "TimeoutInMinutes": 60,
    });
    if let Some(version) = source_version {
        properties["SourceVersion"] = json!(version);
    }
    json!({ "Type": "AWS::CodeBuild::Project", "Properties": properties })
}

/// The supporting stack's template, for `binary` (the sha256 the builds
/// check).
pub fn template(
    pipeline: &Pipeline,
    project: &Project,
    footprints: &Footprints,
    sha256: &str,
) -> Json {
    let name = &pipeline.name;
    let key = super::binary::key(sha256);
    let spec = |kind: Kind, scheduled: &[String]| {
        buildspec::render(kind, &pipeline.shipping, &key, sha256, scheduled)
    };
    let deployed: Vec<&str> = pipeline.environments().collect();
    let mut resources = Map::new();
    resources.insert(
        BUCKET.into(),
        json!({
            "Type": "AWS::S3::Bucket",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "BucketEncryption": { "ServerSideEncryptionConfiguration": [
                    { "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" } },
                ] },
                "VersioningConfiguration": { "Status": "Enabled" },
                "PublicAccessBlockConfiguration": {
                    "BlockPublicAcls": true,
                    "BlockPublicPolicy": true,
                    "IgnorePublicAcls": true,
                    "RestrictPublicBuckets": true,
                },
            },
        }),
    );
    resources.insert(
        "PipelineRole".into(),
        role("codepipeline.amazonaws.com", pipeline_statements(pipeline)),
    );
    let from_pipeline = |kind| json!({ "Type": "CODEPIPELINE", "BuildSpec": spec(kind, &[]) });
    // A role and a project per environment: a build of dev can deploy dev
    // and nothing else, whatever a change to dev runs in it.
    for (env, role_id, project_id) in super::deploy_ids(&deployed) {
        let mut deploy_role = build_basics(name);
        deploy_role.extend(deploy_statements(project, &[env], footprints));
        insert_role(
            &mut resources,
            &role_id,
            "codebuild.amazonaws.com",
            deploy_role,
        );
        resources.insert(
            project_id,
            build_project(
                pipeline,
                (Kind::Deploy, super::deploy_project_name(name, env)),
                &role_id,
                from_pipeline(Kind::Deploy),
                None,
            ),
        );
    }
    resources.insert(
        "SelfUpdateProject".into(),
        build_project(
            pipeline,
            (Kind::Pipeline, project_name(name, Kind::Pipeline)),
            "SelfUpdateRole",
            from_pipeline(Kind::Pipeline),
            None,
        ),
    );
    if let Some(schedule) = &pipeline.schedule {
        let scheduled: Vec<&str> = schedule.environments.iter().map(String::as_str).collect();
        let mut reconcile_role = build_basics(name);
        reconcile_role.extend(deploy_statements(project, &scheduled, footprints));
        reconcile_role.extend(checkout_statements(pipeline));
        insert_role(
            &mut resources,
            "ReconcileRole",
            "codebuild.amazonaws.com",
            reconcile_role,
        );
        let (source, version) =
            reconcile_source(pipeline, spec(Kind::Reconcile, &schedule.environments));
        resources.insert(
            "ReconcileProject".into(),
            build_project(
                pipeline,
                (Kind::Reconcile, project_name(name, Kind::Reconcile)),
                "ReconcileRole",
                source,
                version,
            ),
        );
        resources.insert(
            "ScheduleRole".into(),
            role(
                "events.amazonaws.com",
                vec![statement(
                    &["codebuild:StartBuild"],
                    vec![project_arn(name, Kind::Reconcile)],
                )],
            ),
        );
        resources.insert(
            "Schedule".into(),
            json!({
                "Type": "AWS::Events::Rule",
                "Properties": {
                    "Name": format!("{name}-reconcile"),
                    "Description": format!("driftless reconcile --once {}", schedule.environments.join(" ")),
                    "ScheduleExpression": schedule.expression,
                    "State": "ENABLED",
                    "Targets": [{
                        "Id": "reconcile",
                        "Arn": { "Fn::GetAtt": ["ReconcileProject", "Arn"] },
                        "RoleArn": { "Fn::GetAtt": ["ScheduleRole", "Arn"] },
                    }],
                },
            }),
        );
    }
    resources.extend(super::detect::resources(pipeline));
    // The self-update may change what the stack holds, itself aside.
    let types: std::collections::BTreeSet<String> = resources
        .values()
        .filter_map(|r| r["Type"].as_str().map(str::to_string))
        .chain(
            [
                "AWS::IAM::Role",
                "AWS::IAM::ManagedPolicy",
                "AWS::IAM::Policy",
            ]
            .map(String::from),
        )
        .collect();
    let mut self_role = build_basics(name);
    self_role.extend(self_update_statements(pipeline, &types));
    insert_role(
        &mut resources,
        "SelfUpdateRole",
        "codebuild.amazonaws.com",
        self_role,
    );
    let own_policies: Vec<String> = resources
        .keys()
        .filter(|k| k.starts_with("SelfUpdateRoleRights"))
        .cloned()
        .collect();
    resources.insert(
        SELF_UPDATE_LIMIT.into(),
        self_update_limit("SelfUpdateRole", &own_policies),
    );
    json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": format!("driftless: the supporting resources of pipeline {name}"),
        "Resources": resources,
        "Outputs": {
            BUCKET_OUTPUT: { "Value": { "Ref": BUCKET } },
            PIPELINE_ROLE_OUTPUT: { "Value": { "Fn::GetAtt": ["PipelineRole", "Arn"] } },
        },
    })
}

/// The supporting stack as an environment of one stateful stack (it holds a
/// retained bucket), for the normal pass.
pub fn environment(
    pipeline: &Pipeline,
    project: &Project,
    footprints: &Footprints,
    sha256: &str,
) -> RenderedEnvironment {
    let template = template(pipeline, project, footprints, sha256);
    let resources = template["Resources"]
        .as_object()
        .map(|r| {
            r.iter()
                .map(|(id, body)| ResourceSummary {
                    logical_id: id.clone(),
                    type_name: body["Type"].as_str().unwrap_or_default().to_string(),
                    unit: "pipeline".into(),
                    resource: id.clone(),
                    retain: body.get("DeletionPolicy").and_then(Json::as_str) == Some("Retain"),
                })
                .collect()
        })
        .unwrap_or_default();
    let text = template.to_string();
    let name = pipeline.stack_name();
    let stack = RenderedStack {
        key: "pipeline".into(),
        name: name.clone(),
        tier: Tier::Stateful,
        units: vec!["pipeline".into()],
        parameters: Vec::new(),
        resources,
        outputs: vec![BUCKET_OUTPUT.into(), PIPELINE_ROLE_OUTPUT.into()],
        secret_outputs: Default::default(),
        depends_on: Vec::new(),
        functions: Vec::new(),
        machines: Vec::new(),
        buckets: Vec::new(),
        released: Vec::new(),
        hash: crate::render::desired_hash(&text, &[]),
        template: text,
    };
    RenderedEnvironment {
        environment: "pipeline".into(),
        app: pipeline.name.clone(),
        target: pipeline.target.clone(),
        stacks: vec![stack],
        waves: vec![vec![name]],
        protect: false,
        hotswap: false,
        smoke: Vec::new(),
        rollback: false,
        self_heal: false,
        instance: None,
        verify: None,
        release_alarms: Vec::new(),
    }
}

#[cfg(test)]
mod tests;
