//! The pipeline's CodePipeline declaration: rendered from the file,
//! compared with the live one (read by `cloud::pipelines`, masked values
//! taken as wanted), and shown as a diff.

use super::{Kind, buildspec, project_name};
use crate::spec::pipeline::{Pipeline, Source};
use serde::Serialize;
use std::collections::BTreeMap;

/// What CodePipeline shows in place of a secret configuration value.
pub const MASK: &str = "****";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Declaration {
    pub name: String,
    pub role_arn: String,
    pub artifact_bucket: String,
    pub pipeline_type: String,
    pub execution_mode: String,
    pub stages: Vec<Stage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stage {
    pub name: String,
    pub actions: Vec<Action>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    pub name: String,
    pub category: String,
    pub owner: String,
    pub provider: String,
    pub version: String,
    pub run_order: i32,
    pub configuration: BTreeMap<String, String>,
    pub input_artifacts: Vec<String>,
    pub output_artifacts: Vec<String>,
}

pub const SOURCE_ARTIFACT: &str = "Source";

fn action(name: &str, category: &str, provider: &str, run_order: i32) -> Action {
    Action {
        name: name.into(),
        category: category.into(),
        owner: "AWS".into(),
        provider: provider.into(),
        version: "1".into(),
        run_order,
        configuration: BTreeMap::new(),
        input_artifacts: Vec::new(),
        output_artifacts: Vec::new(),
    }
}

fn build(name: &str, project: String, run_order: i32) -> Action {
    let mut a = action(name, "Build", "CodeBuild", run_order);
    a.configuration.insert("ProjectName".into(), project);
    a.input_artifacts.push(SOURCE_ARTIFACT.into());
    a
}

fn source_action(source: &Source) -> Action {
    let (provider, configuration): (&str, Vec<(&str, String)>) = match source {
        Source::CodeStar {
            connection,
            repository,
            branch,
            ..
        } => (
            "CodeStarSourceConnection",
            vec![
                ("ConnectionArn", connection.clone()),
                ("FullRepositoryId", repository.clone()),
                ("BranchName", branch.clone()),
                ("OutputArtifactFormat", "CODE_ZIP".into()),
            ],
        ),
        Source::CodeCommit { repository, branch } => (
            "CodeCommit",
            vec![
                ("RepositoryName", repository.clone()),
                ("BranchName", branch.clone()),
                ("PollForSourceChanges", "false".into()),
            ],
        ),
        Source::S3 { bucket, key } => (
            "S3",
            vec![
                ("S3Bucket", bucket.clone()),
                ("S3ObjectKey", key.clone()),
                ("PollForSourceChanges", "false".into()),
            ],
        ),
    };
    let mut a = action(SOURCE_ACTION, "Source", provider, 1);
    a.configuration = configuration
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    a.output_artifacts.push(SOURCE_ARTIFACT.into());
    a
}

fn self_update(pipeline: &Pipeline) -> Action {
    let mut a = build(SELF_UPDATE, project_name(&pipeline.name, Kind::Pipeline), 1);
    let variables = serde_json::json!([{
        "name": buildspec::EXECUTION_VAR,
        "value": "#{codepipeline.PipelineExecutionId}",
        "type": "PLAINTEXT",
    }]);
    a.configuration
        .insert("EnvironmentVariables".into(), variables.to_string());
    a
}

/// The self-update action's name.
pub const SELF_UPDATE: &str = "SelfUpdate";
/// The source action's name.
pub const SOURCE_ACTION: &str = "Source";

/// The declaration `pipeline` renders to, with the supporting stack's
/// bucket and pipeline role.
pub fn render(pipeline: &Pipeline, bucket: &str, role_arn: &str) -> Declaration {
    let mut stages = vec![
        Stage {
            name: "Source".into(),
            actions: vec![source_action(&pipeline.source)],
        },
        // The pipeline first brings itself up to date. An update cancels the
        // execution running it, so the action starts the next one on the
        // same source revision (it gets the execution's id to find it).
        Stage {
            name: "Pipeline".into(),
            actions: vec![self_update(pipeline)],
        },
    ];
    for stage in &pipeline.stages {
        let mut actions = Vec::new();
        let deploy_order = if stage.approval {
            let mut approve = action("Approve", "Approval", "Manual", 1);
            approve.configuration.insert(
                "CustomData".into(),
                format!("Deploy {} with driftless?", stage.environments.join(", ")),
            );
            actions.push(approve);
            2
        } else {
            1
        };
        for env in &stage.environments {
            let mut deploy = build(
                &format!("Deploy-{env}"),
                super::deploy_project_name(&pipeline.name, env),
                deploy_order,
            );
            let variables = serde_json::json!([{
                "name": buildspec::ENVIRONMENT_VAR,
                "value": env,
                "type": "PLAINTEXT",
            }]);
            deploy
                .configuration
                .insert("EnvironmentVariables".into(), variables.to_string());
            actions.push(deploy);
        }
        stages.push(Stage {
            name: stage.name(),
            actions,
        });
    }
    Declaration {
        name: pipeline.name.clone(),
        role_arn: role_arn.into(),
        artifact_bucket: bucket.into(),
        pipeline_type: "V2".into(),
        // Releases queue: a newer one never cuts an older one short.
        execution_mode: "QUEUED".into(),
        stages,
    }
}

/// Takes masked values in `live` (CodePipeline shows `****` for a secret)
/// as the wanted ones: a mask hides a value, it does not change it.
pub fn unmask(live: &mut Declaration, wanted: &Declaration) {
    for stage in &mut live.stages {
        let Some(want) = wanted.stages.iter().find(|s| s.name == stage.name) else {
            continue;
        };
        for action in &mut stage.actions {
            let Some(w) = want.actions.iter().find(|w| w.name == action.name) else {
                continue;
            };
            for (key, value) in action.configuration.iter_mut() {
                if value == MASK
                    && let Some(v) = w.configuration.get(key)
                {
                    value.clone_from(v);
                }
            }
        }
    }
}

impl Declaration {
    fn lines(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The lines that differ, `-` live and `+` rendered, with two lines of
/// context; empty when equal.
pub fn diff(live: &Declaration, rendered: &Declaration) -> Vec<String> {
    if live == rendered {
        return Vec::new();
    }
    let (old, new) = (live.lines(), rendered.lines());
    let text = similar::TextDiff::from_lines(&old, &new);
    let mut lines = Vec::new();
    for group in text.grouped_ops(2) {
        for op in group {
            for change in text.iter_changes(&op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                lines.push(format!("{sign} {}", change.value().trim_end()));
            }
        }
        lines.push("  ...".into());
    }
    lines.pop();
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::pipeline::Stage as SpecStage;

    fn pipeline(stages: Vec<SpecStage>) -> Pipeline {
        Pipeline::sample(stages)
    }

    fn stage(envs: &[&str], approval: bool) -> SpecStage {
        SpecStage {
            environments: envs.iter().map(|e| e.to_string()).collect(),
            approval,
            span: Default::default(),
        }
    }

    #[test]
    fn an_approval_runs_before_the_deploys_of_its_wave_and_the_diff_shows_it() {
        let without = render(&pipeline(vec![stage(&["qa", "staging"], false)]), "b", "r");
        let with = render(&pipeline(vec![stage(&["qa", "staging"], true)]), "b", "r");
        let wave = &with.stages[2];
        assert_eq!(wave.name, "Deploy-qa-staging");
        let orders: Vec<(&str, i32)> = wave
            .actions
            .iter()
            .map(|a| (a.name.as_str(), a.run_order))
            .collect();
        assert_eq!(
            orders,
            [("Approve", 1), ("Deploy-qa", 2), ("Deploy-staging", 2)]
        );
        let lines = diff(&without, &with);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("+ ") && l.contains("\"Approve\""))
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("- ") && l.contains("\"runOrder\": 1"))
        );
    }
}
