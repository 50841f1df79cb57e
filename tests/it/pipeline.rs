//! The release pipeline against MiniStack (its supporting stack) and moto's
//! server (CodePipeline): create, no-op, one update per change, run, status,
//! the buildspec's command and binary, tags, destroy.

use super::emulator::{account, clients, command, emulator, events, moto, ok, summary};
use super::support::reference_copy;
use driftless::cloud::pipelines::{LocalPipelines, Pipelines};
use std::io::Read;
use std::path::Path;
use std::process::Output;

fn pipeline_run(project: &Path, account: &str, args: &[&str]) -> Output {
    command(project, account, args, &emulator().endpoint())
        .env("AWS_ENDPOINT_URL_CODEPIPELINE", moto().endpoint())
        .output()
        .expect("run driftless")
}

fn write_pipeline(project: &Path, name: &str, stages: &str, tags: &str) {
    let text = format!(
        "pipeline:\n  name: {name}\n  target: local\n  source:\n    codecommit: {{ repository: users, branch: main }}\n  stages:\n{stages}  schedule: {{ every: 15 minutes, environments: [dev] }}\n  tags: {tags}\n"
    );
    std::fs::write(project.join("pipeline.yaml"), text).unwrap();
}

fn op(output: &Output, name: &str) -> u64 {
    summary(output)["api_calls"]["by_operation"][name]
        .as_u64()
        .unwrap_or(0)
}

async fn pipelines(account: &str) -> Pipelines {
    let settings = driftless::cloud::ConnectSettings {
        region: "us-east-1".into(),
        endpoint: Some(emulator().endpoint()),
        profile: None,
        role: None,
    };
    let creds =
        aws_credential_types::Credentials::new(account, "test", None, None, "driftless-tests");
    let cloud = driftless::cloud::Cloud::connect_with(&settings, creds).await;
    cloud.pipelines(Some(&LocalPipelines {
        endpoint: moto().endpoint(),
        account: account.to_string(),
    }))
}

fn sha256_hex(reader: impl Read) -> String {
    use sha2::Digest;
    let mut reader = reader;
    let mut hasher = sha2::Sha256::new();
    let mut block = vec![0u8; 1 << 20];
    loop {
        let n = reader.read(&mut block).unwrap();
        if n == 0 {
            break;
        }
        hasher.update(&block[..n]);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

const DEV_THEN_PROD: &str = "    - dev\n    - { environment: prod, approval: true }\n";

#[test]
fn pipeline_deploy_creates_the_stack_and_pipeline_and_updates_only_what_changed() {
    let project = reference_copy();
    let account = account();
    let name = format!("rel-{account}");
    write_pipeline(project.path(), &name, DEV_THEN_PROD, "{ team: platform }");

    // Created: the supporting stack, the binary, the pipeline.
    let first = pipeline_run(project.path(), &account, &["pipeline", "deploy"]);
    ok(&first);
    assert_eq!(op(&first, "CreatePipeline"), 1);
    let binary_event = events(&first)
        .into_iter()
        .find(|e| e["event"] == "binary")
        .expect("a binary event");
    let sha256 = binary_event["sha256"].as_str().unwrap().to_string();
    let own = sha256_hex(std::fs::File::open(env!("CARGO_BIN_EXE_driftless")).unwrap());
    assert_eq!(
        sha256, own,
        "the pipeline ships the binary that deployed it"
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cp = rt.block_on(pipelines(&account));
    let live = rt.block_on(cp.get(&name)).unwrap().expect("the pipeline");
    let d = &live.declaration;
    assert_eq!(live.version, 1);
    let stages: Vec<&str> = d.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["Source", "Pipeline", "Deploy-dev", "Deploy-prod"]);
    let prod: Vec<(&str, i32)> = d.stages[3]
        .actions
        .iter()
        .map(|a| (a.name.as_str(), a.run_order))
        .collect();
    assert_eq!(prod, [("Approve", 1), ("Deploy-prod", 2)]);
    let approve = &d.stages[3].actions[0];
    assert_eq!(approve.provider, "Manual");
    let deploy_dev = &d.stages[2].actions[0];
    let config = &deploy_dev.configuration;
    assert_eq!(config["ProjectName"], format!("{name}-deploy-dev"));
    let variables: serde_json::Value =
        serde_json::from_str(&config["EnvironmentVariables"]).unwrap();
    assert_eq!(variables[0]["name"], "DRIFTLESS_ENVIRONMENT");
    assert_eq!(variables[0]["value"], "dev");
    assert_eq!(
        rt.block_on(cp.tags(&live.arn)).unwrap(),
        [
            ("driftless:pipeline".to_string(), name.clone()),
            ("team".to_string(), "platform".to_string())
        ]
        .into_iter()
        .collect()
    );

    // The stack holds the projects and the schedule.
    let c = clients(&account, "us-east-1");
    let stack = format!("{name}-pipeline");
    let resources =
        c.rt.block_on(c.cfn.describe_stack_resources().stack_name(&stack).send())
            .unwrap();
    let types: Vec<(&str, &str)> = resources
        .stack_resources()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or_default(),
                r.resource_type().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        types.contains(&("Schedule", "AWS::Events::Rule")),
        "{types:?}"
    );
    assert!(types.contains(&("DeployDevProject", "AWS::CodeBuild::Project")));
    assert!(types.contains(&("DeployProdProject", "AWS::CodeBuild::Project")));
    let template: serde_json::Value = serde_json::from_str(
        c.rt.block_on(c.cfn.get_template().stack_name(&stack).send())
            .unwrap()
            .template_body()
            .unwrap(),
    )
    .unwrap();
    let rule = &template["Resources"]["Schedule"]["Properties"];
    assert_eq!(rule["ScheduleExpression"], "rate(15 minutes)");
    assert_eq!(
        rule["Targets"][0]["Arn"]["Fn::GetAtt"][0],
        "ReconcileProject"
    );
    let reconcile = template["Resources"]["ReconcileProject"]["Properties"]["Source"]["BuildSpec"]
        .as_str()
        .unwrap();
    let reconcile = &yaml_rust2::YamlLoader::load_from_str(reconcile).unwrap()[0];
    assert_eq!(
        reconcile["phases"]["build"]["commands"][0].as_str(),
        Some("driftless --ci reconcile --once dev")
    );
    // Locally, the role is put where moto's CreatePipeline looks, and said.
    assert!(
        events(&first)
            .iter()
            .any(|e| e["event"] == "local_role" && e["created"] == true)
    );

    // The deploy project's buildspec runs the intended command with the
    // binary's sha256, and the object it fetches is that binary.
    let codebuild = c.rt.block_on(async {
        let creds =
            aws_credential_types::Credentials::new(&account, "test", None, None, "driftless-tests");
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(emulator().endpoint())
            .credentials_provider(creds)
            .load()
            .await;
        aws_sdk_codebuild::Client::new(&sdk)
    });
    let projects =
        c.rt.block_on(
            codebuild
                .batch_get_projects()
                .names(format!("{name}-deploy-dev"))
                .send(),
        )
        .unwrap();
    let project_source = projects.projects()[0].source().unwrap();
    let buildspec = project_source.buildspec().unwrap();
    let parsed = &yaml_rust2::YamlLoader::load_from_str(buildspec).unwrap()[0];
    let build = parsed["phases"]["build"]["commands"][0].as_str().unwrap();
    assert_eq!(
        build,
        "driftless deploy \"$DRIFTLESS_ENVIRONMENT\" --ci --junit driftless-reports/driftless.xml"
    );
    let install: Vec<&str> = parsed["phases"]["install"]["commands"]
        .as_vec()
        .unwrap()
        .iter()
        .filter_map(|c| c.as_str())
        .collect();
    let key = format!("driftless/{sha256}/driftless.gz");
    assert!(install[1].contains(&key), "{install:?}");
    assert_eq!(
        install[2],
        format!("echo \"{sha256}  $DRIFTLESS_BIN/driftless\" | sha256sum -c -")
    );
    let bucket = binary_event["bucket"].as_str().unwrap();
    let object =
        c.rt.block_on(c.s3.get_object().bucket(bucket).key(&key).send())
            .unwrap();
    let bytes = c.rt.block_on(object.body.collect()).unwrap().into_bytes();
    assert_eq!(
        sha256_hex(flate2::read::GzDecoder::new(&bytes[..])),
        sha256,
        "what a build downloads gunzips to the binary"
    );

    // Again: nothing changes, nothing is written.
    let second = pipeline_run(project.path(), &account, &["pipeline", "deploy"]);
    ok(&second);
    assert_eq!(
        summary(&second)["api_calls"]["mutating"],
        0,
        "{:?}",
        summary(&second)
    );
    assert_eq!(op(&second, "GetPipeline"), 1);
    let plan = pipeline_run(project.path(), &account, &["pipeline", "plan"]);
    assert_eq!(plan.status.code(), Some(0), "{:?}", summary(&plan));
    assert_eq!(summary(&plan)["api_calls"]["mutating"], 0);

    // An approval added before dev: one UpdatePipeline, version 2.
    let approved =
        "    - { environment: dev, approval: true }\n    - { environment: prod, approval: true }\n";
    write_pipeline(project.path(), &name, approved, "{ team: platform }");
    let plan = pipeline_run(project.path(), &account, &["pipeline", "plan"]);
    assert_eq!(plan.status.code(), Some(2));
    let shown = events(&plan)
        .into_iter()
        .find(|e| e["event"] == "pipeline_plan")
        .unwrap();
    assert_eq!(shown["action"], "update");
    assert!(
        shown["diff"].as_array().unwrap().iter().any(
            |l| l.as_str().unwrap().starts_with('+') && l.as_str().unwrap().contains("Approve")
        ),
        "{shown}"
    );
    let update = pipeline_run(project.path(), &account, &["pipeline", "deploy"]);
    ok(&update);
    assert_eq!(op(&update, "UpdatePipeline"), 1);
    assert_eq!(op(&update, "CreatePipeline"), 0);
    assert_eq!(summary(&update)["stacks"]["version"], 2);
    // The stack did not change: the update is the only mutating call.
    assert_eq!(summary(&update)["api_calls"]["mutating"], 1);

    // A stage moved: prod first. One more update, version 3.
    let moved =
        "    - { environment: prod, approval: true }\n    - { environment: dev, approval: true }\n";
    write_pipeline(project.path(), &name, moved, "{ team: platform }");
    let update = pipeline_run(project.path(), &account, &["pipeline", "deploy"]);
    ok(&update);
    assert_eq!(op(&update, "UpdatePipeline"), 1);
    let live = rt.block_on(cp.get(&name)).unwrap().unwrap();
    assert_eq!(live.version, 3);
    assert_eq!(live.declaration.stages[2].name, "Deploy-prod");

    // Tags: one removed, one added; the declaration stays.
    write_pipeline(project.path(), &name, moved, "{ cost: cc-7 }");
    let retag = pipeline_run(project.path(), &account, &["pipeline", "deploy"]);
    ok(&retag);
    assert_eq!(op(&retag, "UpdatePipeline"), 0);
    assert_eq!(op(&retag, "TagResource"), 1);
    assert_eq!(op(&retag, "UntagResource"), 1);
    let tags = rt.block_on(cp.tags(&live.arn)).unwrap();
    assert_eq!(tags.get("team"), None);
    assert_eq!(tags["cost"], "cc-7");
    // Updating the pipeline never starts or stops an execution.
    for output in [&update, &retag] {
        assert_eq!(op(output, "StartPipelineExecution"), 0);
        assert_eq!(op(output, "StopPipelineExecution"), 0);
    }

    // Run, then status lists the execution.
    let run = pipeline_run(project.path(), &account, &["pipeline", "run"]);
    ok(&run);
    let execution = summary(&run)["stacks"]["execution"]
        .as_str()
        .unwrap()
        .to_string();
    let status = pipeline_run(project.path(), &account, &["pipeline", "status"]);
    ok(&status);
    let listed: Vec<String> = events(&status)
        .into_iter()
        .filter(|e| e["event"] == "execution")
        .map(|e| e["execution"]["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(listed, [execution]);
    assert_eq!(summary(&status)["stacks"]["version"], 3);
    // moto has no GetPipelineState: said plainly, not with its decoding error.
    let unavailable = events(&status)
        .into_iter()
        .find(|e| e["event"] == "stage_states")
        .expect("the stage states' event");
    assert_eq!(
        unavailable["reason"],
        "this endpoint has no working GetPipelineState (moto's server has none; AWS has)"
    );

    // Destroy: the pipeline and the stack go, the artifact bucket stays.
    let destroy = pipeline_run(project.path(), &account, &["pipeline", "destroy", "--yes"]);
    ok(&destroy);
    assert!(rt.block_on(cp.get(&name)).unwrap().is_none());
    let status = pipeline_run(project.path(), &account, &["pipeline", "status"]);
    assert_eq!(status.status.code(), Some(8));
}

#[test]
fn a_project_without_a_pipeline_file_says_where_it_goes() {
    let project = reference_copy();
    assert!(!project.path().join("pipeline.yaml").exists());
    let out = pipeline_run(project.path(), &account(), &["pipeline", "plan"]);
    assert_eq!(out.status.code(), Some(3));
    let error = events(&out)
        .into_iter()
        .find(|e| e["event"] == "error")
        .unwrap();
    assert!(error["message"].as_str().unwrap().contains("pipeline.yaml"));
    assert!(error["help"].as_str().unwrap().contains("beside specs/"));
}
