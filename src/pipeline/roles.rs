//! The IAM statements of the pipeline's roles: what every build may do,
//! what a deploy of some environments needs, what the self-update and the
//! pipeline itself may touch, and the scheduled reconcile's checkout.

use super::Kind;
use super::support::{bucket_arn, bucket_objects, project_arn, project_arn_named, statement, sub};
use crate::spec::pipeline::{Pipeline, Source};
use crate::spec::{Project, Target};
use serde_json::{Value as Json, json};

/// What every build may do: its logs, its reports, the artifact bucket.
pub(super) fn build_basics(name: &str) -> Vec<Json> {
    vec![
        statement(
            &[
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:/aws/codebuild/{name}-*"
            ))],
        ),
        statement(
            &[
                "codebuild:CreateReportGroup",
                "codebuild:CreateReport",
                "codebuild:UpdateReport",
                "codebuild:BatchPutTestCases",
            ],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:report-group/{name}-*"
            ))],
        ),
        statement(
            &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            vec![bucket_objects()],
        ),
        statement(
            &["s3:GetBucketLocation", "s3:ListBucket"],
            vec![bucket_arn()],
        ),
    ]
}

/// The services a deploy in the build's own account touches: the kinds
/// driftless renders. Environments whose target names a `role` get only
/// `sts:AssumeRole` on it instead.
const DEPLOY_SERVICES: &[&str] = &[
    "cloudformation:*",
    "dynamodb:*",
    "lambda:*",
    "apigateway:*",
    "cloudwatch:*",
    "sns:*",
    "sqs:*",
    "s3:*",
    "logs:*",
    "iam:GetRole",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:PassRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:GetRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "sts:GetCallerIdentity",
];

/// What deploying `environments` needs: their roles, or the services.
pub(super) fn deploy_statements(project: &Project, environments: &[&str]) -> Vec<Json> {
    let mut roles: Vec<String> = Vec::new();
    let mut local = false;
    for name in environments {
        match project.environments.get(*name).map(|e| &e.target) {
            Some(Target::Aws {
                role: Some(role), ..
            }) => roles.push(role.clone()),
            _ => local = true,
        }
    }
    roles.sort();
    roles.dedup();
    let mut statements = Vec::new();
    if !roles.is_empty() {
        statements.push(statement(
            &["sts:AssumeRole"],
            roles.into_iter().map(Json::String).collect(),
        ));
    }
    if local {
        statements.push(statement(DEPLOY_SERVICES, vec![json!("*")]));
    }
    statements
}

/// What the self-updating build needs: this stack, its resources, the
/// pipeline.
pub(super) fn self_update_statements(pipeline: &Pipeline) -> Vec<Json> {
    let name = &pipeline.name;
    let stack = pipeline.stack_name();
    vec![
        statement(
            &["cloudformation:*"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{stack}/*"
            ))],
        ),
        statement(
            &[
                "codepipeline:GetPipeline",
                "codepipeline:CreatePipeline",
                "codepipeline:UpdatePipeline",
                // The run an update cancels goes on in a new one.
                "codepipeline:GetPipelineExecution",
                "codepipeline:StartPipelineExecution",
                "codepipeline:ListTagsForResource",
                "codepipeline:TagResource",
                "codepipeline:UntagResource",
            ],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{name}"
            ))],
        ),
        statement(
            &["iam:*"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{stack}-*"
            ))],
        ),
        statement(
            &["codebuild:*"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:project/{name}-*"
            ))],
        ),
        statement(
            &["events:*"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:events:${{AWS::Region}}:${{AWS::AccountId}}:rule/{name}-*"
            ))],
        ),
        statement(&["s3:*"], vec![bucket_arn(), bucket_objects()]),
        statement(&["sts:GetCallerIdentity"], vec![json!("*")]),
        // The pass lists the account's stacks in one call, which IAM
        // scopes to no stack.
        statement(&["cloudformation:DescribeStacks"], vec![json!("*")]),
        // Its lock and its record, in the bootstrap stack's bucket.
        statement(
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![
                sub(&format!(
                    "arn:${{AWS::Partition}}:s3:::{BOOTSTRAP_BUCKETS}/locks/{name}-*"
                )),
                sub(&format!(
                    "arn:${{AWS::Partition}}:s3:::{BOOTSTRAP_BUCKETS}/state/{name}-*"
                )),
            ],
        ),
        statement(
            &["s3:ListBucket", "s3:GetBucketLocation"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:s3:::{BOOTSTRAP_BUCKETS}"
            ))],
        ),
    ]
}

/// The bootstrap stack's bucket, as CloudFormation names it
/// (`<stack>-<logical id>-<suffix>`, lowercase).
const BOOTSTRAP_BUCKETS: &str = "driftless-bootstrap-assetbucket-*";

/// What the pipeline itself may do: the bucket, its builds, its source.
pub(super) fn pipeline_statements(pipeline: &Pipeline) -> Vec<Json> {
    let name = &pipeline.name;
    let mut statements = vec![
        statement(
            &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            vec![bucket_objects()],
        ),
        statement(
            &["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            vec![bucket_arn()],
        ),
        statement(
            &[
                "codebuild:StartBuild",
                "codebuild:BatchGetBuilds",
                "codebuild:StopBuild",
            ],
            pipeline
                .environments()
                .map(|env| project_arn_named(&super::deploy_project_name(name, env)))
                .chain([project_arn(name, Kind::Pipeline)])
                .collect(),
        ),
    ];
    statements.push(match &pipeline.source {
        Source::CodeStar { connection, .. } => statement(
            &["codestar-connections:UseConnection", "codeconnections:UseConnection"],
            vec![json!(connection)],
        ),
        Source::CodeCommit { repository, .. } => statement(
            &[
                "codecommit:GetBranch",
                "codecommit:GetCommit",
                "codecommit:UploadArchive",
                "codecommit:GetUploadArchiveStatus",
            ],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{repository}"
            ))],
        ),
        Source::S3 { bucket, key } => statement(
            &["s3:GetObject", "s3:GetObjectVersion", "s3:GetBucketVersioning"],
            vec![
                sub(&format!("arn:${{AWS::Partition}}:s3:::{bucket}")),
                sub(&format!("arn:${{AWS::Partition}}:s3:::{bucket}/{key}")),
            ],
        ),
    });
    statements
}

/// What the reconcile build's own checkout needs: a pull of the CodeCommit
/// repository, or the use of the connection.
pub(super) fn checkout_statements(pipeline: &Pipeline) -> Vec<Json> {
    match &pipeline.source {
        Source::CodeStar { connection, .. } => vec![statement(
            &[
                "codestar-connections:UseConnection",
                "codeconnections:UseConnection",
            ],
            vec![json!(connection)],
        )],
        Source::CodeCommit { repository, .. } => vec![statement(
            &["codecommit:GitPull"],
            vec![sub(&format!(
                "arn:${{AWS::Partition}}:codecommit:${{AWS::Region}}:${{AWS::AccountId}}:{repository}"
            ))],
        )],
        // Refused with a schedule when the file is read.
        Source::S3 { .. } => Vec::new(),
    }
}
