//! The pipeline declaration as CodePipeline reads and writes it.

use super::*;
use crate::cloud::ConnectSettings;
use crate::pipeline::declaration::{MASK, diff, render, unmask};
use crate::spec::pipeline::{Pipeline, Source, Stage as SpecStage};

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
fn the_sdk_form_reads_back_as_the_same_declaration() {
    let rendered = render(
        &pipeline(vec![stage(&["dev"], false), stage(&["prod"], true)]),
        "bucket",
        "arn:aws:iam::1:role/r",
    );
    let sdk = to_sdk(&rendered, Some(3)).unwrap();
    let (back, version) = from_sdk(&sdk);
    assert_eq!(back, rendered);
    assert_eq!(version, 3);
    assert!(diff(&back, &rendered).is_empty());
}

#[test]
fn defaults_are_filled_and_masked_values_are_not_differences() {
    let rendered = render(&pipeline(vec![stage(&["dev"], false)]), "b", "r");
    let mut sdk = to_sdk(&rendered, Some(1)).unwrap();
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
    let (mut back, _) = from_sdk(&sdk);
    unmask(&mut back, &rendered);
    assert_eq!(back, rendered);
}

type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A client whose requests are recorded (target, body) and answered by
/// `answer(target)` as AWS would, in JSON 1.1.
fn recording(answer: impl Fn(&str) -> serde_json::Value + Send + Sync + 'static) -> (Cloud, Seen) {
    let seen: Seen = Default::default();
    let record = seen.clone();
    let http = crate::cloud::scripted::client(move |request| {
        let target = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_string();
        let sent = std::str::from_utf8(request.body().bytes().unwrap_or_default())
            .unwrap_or_default()
            .to_string();
        let body = answer(&target).to_string();
        record.lock().unwrap().push((target, sent));
        (
            200,
            vec![("content-type", "application/x-amz-json-1.1".into())],
            body,
        )
    });
    let settings = ConnectSettings {
        region: "eu-west-1".into(),
        endpoint: None,
        profile: None,
        role: None,
    };
    (Cloud::with_http_client(http, &settings), seen)
}

/// GetPipelineState as AWS answers it (moto's server has no such
/// call that works), replayed: the stage states are read from it.
#[tokio::test]
async fn stage_states_are_read_from_aws_answer() {
    let body = serde_json::json!({
        "pipelineName": "rel",
        "pipelineVersion": 2,
        "stageStates": [
            {
                "stageName": "Source",
                "latestExecution": { "pipelineExecutionId": "e-1", "status": "Succeeded" },
                "actionStates": [{ "actionName": "Source", "latestExecution": { "status": "Succeeded" } }],
            },
            {
                "stageName": "Deploy-prod",
                "latestExecution": { "pipelineExecutionId": "e-1", "status": "InProgress" },
                "actionStates": [
                    { "actionName": "Approve", "latestExecution": { "status": "InProgress" } },
                    { "actionName": "Deploy-prod" },
                ],
            },
        ],
    });
    let (cloud, seen) = recording(move |_| body.clone());
    let states = cloud.pipelines(None).state("rel").await.unwrap();
    assert_eq!(states.len(), 2);
    assert_eq!(states[1].stage, "Deploy-prod");
    assert_eq!(states[1].status.as_deref(), Some("InProgress"));
    assert_eq!(
        states[1].actions,
        [
            ("Approve".to_string(), Some("InProgress".to_string())),
            ("Deploy-prod".to_string(), None)
        ]
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "CodePipeline_20150709.GetPipelineState");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&seen[0].1).unwrap(),
        serde_json::json!({ "name": "rel" })
    );
}

fn execution(id: &str, status: &str, summary: Option<&str>) -> Execution {
    Execution {
        id: id.into(),
        status: status.into(),
        summary: summary.map(str::to_string),
        started: None,
        updated: None,
        trigger: None,
    }
}

#[test]
fn a_run_cancelled_by_the_self_update_is_superseded_and_any_other_cancel_fails() {
    let updated =
        "The pipeline's definition was updated before the pipeline execution could be completed";
    let runs = [
        execution("e-2", "InProgress", None),
        execution("e-1", "Cancelled", Some(updated)),
    ];
    assert!(runs[1].superseded() && !runs[1].failed());
    assert_eq!(deciding(&runs).map(|e| e.id.as_str()), Some("e-2"));
    // Only the superseded run so far: nothing decides yet.
    assert_eq!(deciding(&runs[1..]).map(|e| e.id.as_str()), None);
    let stopped = execution("e-3", "Cancelled", Some("Stopped by a newer execution"));
    assert!(stopped.failed() && !stopped.superseded());
    assert!(execution("e-4", "Failed", None).failed());
    assert!(!execution("e-5", "Succeeded", None).failed());
}

/// After a self-update, the release goes on: the cancelled run's source
/// revision is read (GetPipelineExecution) and a run is started on it
/// (StartPipelineExecution with `sourceRevisions`), as AWS answers them.
#[tokio::test]
async fn a_self_update_starts_the_next_run_on_the_same_source_revision() {
    let (cloud, seen) = recording(|target| {
        if target.ends_with("GetPipelineExecution") {
            serde_json::json!({ "pipelineExecution": {
                "pipelineName": "rel",
                "pipelineExecutionId": "e-1",
                "status": "Cancelled",
                "artifactRevisions": [
                    { "name": "Source", "revisionId": "3f9c2d1", "revisionSummary": "the change" }
                ],
            }})
        } else {
            serde_json::json!({ "pipelineExecutionId": "e-2" })
        }
    });
    let (started, revision) = cloud
        .pipelines(None)
        .restart(
            "rel",
            "e-1",
            "Source",
            "Source",
            &Source::CodeCommit {
                repository: "users".into(),
                branch: "main".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (started.as_str(), revision.as_deref()),
        ("e-2", Some("3f9c2d1"))
    );
    let seen = seen.lock().unwrap();
    let body = |i: usize| serde_json::from_str::<serde_json::Value>(&seen[i].1).unwrap();
    assert_eq!(seen[0].0, "CodePipeline_20150709.GetPipelineExecution");
    assert_eq!(
        body(0),
        serde_json::json!({ "pipelineName": "rel", "pipelineExecutionId": "e-1" })
    );
    assert_eq!(seen[1].0, "CodePipeline_20150709.StartPipelineExecution");
    assert_eq!(
        body(1),
        serde_json::json!({ "name": "rel", "clientRequestToken": "after-e-1", "sourceRevisions": [
            { "actionName": "Source", "revisionType": "COMMIT_ID", "revisionValue": "3f9c2d1" }
        ] })
    );
}

#[test]
fn the_self_update_action_knows_the_run_it_is_part_of() {
    let rendered = render(&pipeline(vec![stage(&["dev"], false)]), "b", "r");
    let update = &rendered.stages[1].actions[0];
    assert_eq!(update.name, "SelfUpdate");
    let variables: serde_json::Value =
        serde_json::from_str(&update.configuration["EnvironmentVariables"]).unwrap();
    assert_eq!(
        variables,
        serde_json::json!([{
            "name": "DRIFTLESS_PIPELINE_EXECUTION",
            "value": "#{codepipeline.PipelineExecutionId}",
            "type": "PLAINTEXT",
        }])
    );
}

/// `pipeline plan --offline` shows the CreatePipeline request the SDK
/// itself builds, sending nothing.
#[tokio::test]
async fn an_offline_plan_keeps_the_request_the_sdk_would_send() {
    let declaration = render(
        &pipeline(vec![stage(&["dev"], false)]),
        "bucket-1",
        "arn:aws:iam::111111111111:role/r",
    );
    let tags = BTreeMap::from([("team".to_string(), "platform".to_string())]);
    let body = create_request(&declaration, &tags, "eu-west-1")
        .await
        .unwrap();
    let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(sent["pipeline"]["name"], "rel");
    assert_eq!(sent["pipeline"]["artifactStore"]["location"], "bucket-1");
    assert_eq!(sent["pipeline"]["pipelineType"], "V2");
    assert_eq!(
        sent["tags"],
        serde_json::json!([{ "key": "team", "value": "platform" }])
    );
}
