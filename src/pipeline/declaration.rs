//! The pipeline's CodePipeline declaration: rendered from the file, read
//! back from GetPipeline and normalised (server-filled defaults, masked
//! values, `version` left out), compared, and shown as a diff.

use super::{Kind, buildspec, project_name};
use crate::spec::pipeline::{Pipeline, Source};
use aws_sdk_codepipeline::types as cp;
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

const SOURCE_ARTIFACT: &str = "Source";

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
    let mut a = action("Source", "Source", provider, 1);
    a.configuration = configuration
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    a.output_artifacts.push(SOURCE_ARTIFACT.into());
    a
}

/// The declaration `pipeline` renders to, with the supporting stack's
/// bucket and pipeline role.
pub fn render(pipeline: &Pipeline, bucket: &str, role_arn: &str) -> Declaration {
    let mut stages = vec![
        Stage {
            name: "Source".into(),
            actions: vec![source_action(&pipeline.source)],
        },
        // The pipeline first brings itself up to date, in place: an update
        // does not stop or restart the execution that runs it.
        Stage {
            name: "Pipeline".into(),
            actions: vec![build(
                "SelfUpdate",
                project_name(&pipeline.name, Kind::Pipeline),
                1,
            )],
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
                project_name(&pipeline.name, Kind::Deploy),
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

/// A live declaration in the same form, with its `version`: CodePipeline's
/// defaults filled in and masked values taken from `rendered`, which a
/// mask hides but does not change.
pub fn normalise(live: &cp::PipelineDeclaration, rendered: &Declaration) -> (Declaration, i32) {
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
                    let mut configuration: BTreeMap<String, String> = a
                        .configuration()
                        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                        .unwrap_or_default();
                    let wanted = rendered
                        .stages
                        .iter()
                        .filter(|s| s.name == stage.name())
                        .flat_map(|s| &s.actions)
                        .find(|w| w.name == a.name());
                    for (key, value) in configuration.iter_mut() {
                        if value == MASK
                            && let Some(v) = wanted.and_then(|w| w.configuration.get(key))
                        {
                            value.clone_from(v);
                        }
                    }
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

impl Declaration {
    /// The SDK's form, for CreatePipeline and UpdatePipeline.
    pub fn to_sdk(&self, version: Option<i32>) -> Built<cp::PipelineDeclaration> {
        let mut stages = Vec::new();
        for stage in &self.stages {
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
            .name(&self.name)
            .role_arn(&self.role_arn)
            .artifact_store(
                cp::ArtifactStore::builder()
                    .r#type(cp::ArtifactStoreType::S3)
                    .location(&self.artifact_bucket)
                    .build()?,
            )
            .pipeline_type(cp::PipelineType::from(self.pipeline_type.as_str()))
            .execution_mode(cp::ExecutionMode::from(self.execution_mode.as_str()))
            .set_stages(Some(stages))
            .set_version(version)
            .build()
    }

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
    use crate::spec::pipeline::{Shipping, Stage as SpecStage};

    fn pipeline(stages: Vec<SpecStage>) -> Pipeline {
        Pipeline {
            file: "pipeline.yaml".into(),
            name: "rel".into(),
            name_span: Default::default(),
            target: crate::spec::Target::Local {
                region: "us-east-1".into(),
            },
            source: Source::CodeStar {
                connection: "arn:aws:codestar-connections:us-east-1:1:connection/x".into(),
                repository: "acme/users".into(),
                branch: "main".into(),
            },
            stages,
            schedule: None,
            shipping: Shipping::Binary,
            tags: BTreeMap::new(),
        }
    }

    fn stage(envs: &[&str], approval: bool) -> SpecStage {
        SpecStage {
            environments: envs.iter().map(|e| e.to_string()).collect(),
            approval,
            span: Default::default(),
        }
    }

    #[test]
    fn the_sdk_form_reads_back_as_the_same_declaration() {
        let rendered = render(
            &pipeline(vec![stage(&["dev"], false), stage(&["prod"], true)]),
            "bucket",
            "arn:aws:iam::1:role/r",
        );
        let sdk = rendered.to_sdk(Some(3)).unwrap();
        let (back, version) = normalise(&sdk, &rendered);
        assert_eq!(back, rendered);
        assert_eq!(version, 3);
        assert!(diff(&back, &rendered).is_empty());
    }

    #[test]
    fn defaults_are_filled_and_masked_values_are_not_differences() {
        let rendered = render(&pipeline(vec![stage(&["dev"], false)]), "b", "r");
        let mut sdk = rendered.to_sdk(Some(1)).unwrap();
        // What a server sends back: no runOrder, a masked value.
        for stage in sdk.stages.iter_mut() {
            for action in stage.actions.iter_mut() {
                action.run_order = None;
                if let Some(c) = action.configuration.as_mut()
                    && let Some(v) = c.get_mut("ConnectionArn")
                {
                    *v = MASK.into();
                }
            }
        }
        let (back, _) = normalise(&sdk, &rendered);
        assert_eq!(back, rendered);
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
