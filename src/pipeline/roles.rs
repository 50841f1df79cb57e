//! The IAM statements of the pipeline's roles: what every build may do,
//! what a deploy of some environments needs, what the self-update and the
//! pipeline itself may touch, and the scheduled reconcile's checkout.

use super::support::{bucket_arn, bucket_objects, project_arn, project_arn_named, statement, sub};
use super::{Footprint, Footprints, Kind, rights};
use crate::spec::pipeline::{Pipeline, Source};
use crate::spec::{Project, Target};
use serde_json::{Value as Json, json};
use std::collections::BTreeSet;

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

/// What driftless itself calls on the stacks it deploys: the change sets,
/// their events and templates, drift detection.
const STACK_ACTIONS: &[&str] = &[
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
    "cloudformation:DescribeStackResources",
    "cloudformation:GetTemplate",
    "cloudformation:DeleteStack",
    "cloudformation:DetectStackDrift",
    "cloudformation:DescribeStackResourceDrifts",
    // `protect: true` turns it on.
    "cloudformation:UpdateTerminationProtection",
];

/// What driftless itself calls on the resources of the stacks it deploys:
/// hotswaps, reserved concurrency, smoke invocations, release shifts,
/// bucket content.
const RESOURCE_ACTIONS: &[&str] = &[
    "lambda:GetAlias",
    "lambda:UpdateAlias",
    "lambda:PublishVersion",
    "lambda:ListVersionsByFunction",
    "lambda:GetFunction",
    "lambda:GetFunctionConfiguration",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "lambda:PutFunctionConcurrency",
    "lambda:InvokeFunction",
    "states:DescribeStateMachine",
    "states:UpdateStateMachine",
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListBucket",
];

/// What any deploy in the build's own account calls on no one resource:
/// who it is, the account's stacks (one listing), a drift detection's
/// progress, the alarms' states.
const ACCOUNT_ACTIONS: &[&str] = &[
    "sts:GetCallerIdentity",
    "cloudformation:DescribeStacks",
    // Asked by the detection's id alone, which IAM scopes to no stack.
    "cloudformation:DescribeStackDriftDetectionStatus",
    "cloudwatch:DescribeAlarms",
];

fn stack_arn(stack: &str) -> Json {
    sub(&format!(
        "arn:${{AWS::Partition}}:cloudformation:${{AWS::Region}}:${{AWS::AccountId}}:stack/{stack}/*"
    ))
}

fn bootstrap_object(key: &str) -> Json {
    sub(&format!(
        "arn:${{AWS::Partition}}:s3:::{BOOTSTRAP_BUCKETS}/{key}"
    ))
}

/// The bootstrap bucket's objects driftless reads and writes for one
/// environment: code and templates, by content (added, never replaced:
/// every other environment of the account reads them too), its lock, its
/// record.
fn bootstrap_statements(app: &str, env: &str) -> Vec<Json> {
    let shared = vec![
        bootstrap_object("assets/*"),
        bootstrap_object("templates/*"),
    ];
    vec![
        statement(&["s3:GetObject"], shared.clone()),
        json!({
            "Effect": "Allow",
            "Action": ["s3:PutObject"],
            "Resource": shared,
            "Condition": { "StringEquals": { "s3:if-none-match": "*" } },
        }),
        statement(
            &["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            vec![
                bootstrap_object(&format!("locks/{app}-{env}.json")),
                bootstrap_object(&format!("state/{app}-{env}/*")),
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

/// Denies everything named for `others`: their stacks and what those
/// stacks made, their lock and record. Explicit, so that no statement of
/// this role (a handler's action on `*`, a prefix one environment's name
/// shares with another's) reaches them.
fn others_denied(others: &[(&str, &Footprint)]) -> Option<Json> {
    let mut resources: Vec<Json> = Vec::new();
    for (env, footprint) in others {
        for stack in &footprint.stacks {
            resources.extend(rights::everything_named(stack));
        }
        resources.push(bootstrap_object(&format!(
            "locks/{}-{env}.json",
            footprint.app
        )));
        resources.push(bootstrap_object(&format!(
            "state/{}-{env}/*",
            footprint.app
        )));
    }
    (!resources.is_empty())
        .then(|| json!({ "Effect": "Deny", "Action": "*", "Resource": resources }))
}

/// What deploying one environment in the build's own account needs: its
/// stacks, its objects in the bootstrap bucket, and what CloudFormation's
/// handlers call for the types its templates hold, on its resources.
fn environment_statements(env: &str, footprint: &Footprint) -> Vec<Json> {
    let mut statements = vec![statement(
        STACK_ACTIONS,
        footprint.stacks.iter().map(|s| stack_arn(s)).collect(),
    )];
    statements.extend(bootstrap_statements(&footprint.app, env));
    let mut actions = rights::handler_actions(footprint.types.iter().map(String::as_str));
    actions.extend(RESOURCE_ACTIONS.iter().map(|a| a.to_string()));
    statements.extend(rights::scoped(&actions, &footprint.stacks));
    if !footprint.topics.is_empty() {
        statements.push(statement(
            &["sns:Publish"],
            footprint.topics.iter().map(|t| json!(t)).collect(),
        ));
    }
    statements
}

/// What deploying `environments` needs: the target's role where one is
/// named (`sts:AssumeRole` on it, nothing else), else what each
/// environment's own stacks and types need.
pub(super) fn deploy_statements(
    project: &Project,
    environments: &[&str],
    footprints: &Footprints,
) -> Vec<Json> {
    let mut roles: Vec<String> = Vec::new();
    let mut statements = Vec::new();
    let mut own_account = false;
    for name in environments {
        match project.environments.get(*name).map(|e| &e.target) {
            Some(Target::Aws {
                role: Some(role), ..
            }) => roles.push(role.clone()),
            _ => {
                own_account = true;
                if let Some(footprint) = footprints.get(*name) {
                    statements.extend(environment_statements(name, footprint));
                }
            }
        }
    }
    if own_account {
        // The other environments this build's account holds.
        let account_of = |name: &str| match project.environments.get(name).map(|e| &e.target) {
            Some(Target::Aws { role: Some(_), .. }) => None,
            Some(Target::Aws { account, .. }) => Some(account.as_str()),
            Some(Target::Local { .. }) => Some("local"),
            None => None,
        };
        let here: Vec<Option<&str>> = environments.iter().map(|e| account_of(e)).collect();
        let others: Vec<(&str, &Footprint)> = footprints
            .iter()
            .filter(|(name, _)| !environments.contains(&name.as_str()))
            .filter(|(name, _)| account_of(name).is_some_and(|a| here.contains(&Some(a))))
            .map(|(name, footprint)| (name.as_str(), footprint))
            .collect();
        statements.extend(others_denied(&others));
    }
    roles.sort();
    roles.dedup();
    if !roles.is_empty() {
        statements.insert(
            0,
            statement(
                &["sts:AssumeRole"],
                roles.into_iter().map(Json::String).collect(),
            ),
        );
    }
    if own_account {
        statements.push(statement(ACCOUNT_ACTIONS, vec![json!("*")]));
    }
    statements
}

/// The logical id of the self-update's limit on its own role.
pub(super) const SELF_UPDATE_LIMIT: &str = "SelfUpdateRoleLimit";

/// What the self-updating build needs: this stack (what CloudFormation's
/// handlers call for the types it holds, on resources named for the
/// pipeline), the pipeline, its lock and record. IAM on its own role is
/// denied by [`self_update_limit`].
pub(super) fn self_update_statements(pipeline: &Pipeline, types: &BTreeSet<String>) -> Vec<Json> {
    let name = &pipeline.name;
    let stack = pipeline.stack_name();
    let mut statements = vec![
        statement(STACK_ACTIONS, vec![stack_arn(&stack)]),
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
        // The binary it ships, in the artifact bucket.
        statement(&["s3:GetObject", "s3:PutObject"], vec![bucket_objects()]),
        statement(&["s3:ListBucket"], vec![bucket_arn()]),
    ];
    let mut actions = rights::handler_actions(types.iter().map(String::as_str));
    // CloudFormation hands the roles it creates to CodeBuild, CodePipeline
    // and EventBridge with the caller's rights.
    actions.insert("iam:PassRole".into());
    statements.extend(rights::scoped(&actions, std::slice::from_ref(name)));
    statements.extend(bootstrap_statements(name, "pipeline"));
    statements.push(statement(ACCOUNT_ACTIONS, vec![json!("*")]));
    statements
}

/// A policy of its own on the self-update's role, denying it any IAM
/// action on that role and on the managed policies holding the rest of its
/// rights: the build changes the other roles of the stack, never its own
/// rights (a change to them is deployed by a person, with
/// `driftless pipeline deploy`).
pub(super) fn self_update_limit(role_id: &str, own_policies: &[String]) -> Json {
    let mut resources = vec![json!({ "Fn::GetAtt": [role_id, "Arn"] })];
    resources.extend(own_policies.iter().map(|id| json!({ "Ref": id })));
    json!({
        "Type": "AWS::IAM::Policy",
        "Properties": {
            "Roles": [{ "Ref": role_id }],
            "PolicyName": "no-iam-on-itself",
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Deny",
                    "Action": "iam:*",
                    "Resource": resources,
                }],
            },
        },
    })
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
