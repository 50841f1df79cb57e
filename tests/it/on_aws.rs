//! The release pipeline checked against what AWS would do, not what the
//! emulators let pass: each action's buildspec run as CodeBuild runs it,
//! every AWS call it makes recorded (a proxy in front of the emulator) and
//! evaluated against the policies of the role it runs as, every role
//! linted for privilege escalation, every CodePipeline request walked
//! against botocore's service model. The checks are the Python of
//! `tests/aws/`; this module stages the runs and reads their report.

use super::emulator::{account, clients, command, emulator, moto, ok, summary};
use super::support::{copy_dir, git, reference_copy, repo_root};
use super::tools::{bin, python};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

fn aws_tool(name: &str) -> PathBuf {
    repo_root().join("tests/aws").join(name)
}

/// `tests/aws/record.py` in front of `upstream`, writing to `log`; stopped
/// when dropped.
pub(super) struct Recorder {
    pub(super) url: String,
    child: Child,
}

impl Recorder {
    pub(super) fn start(upstream: &str, log: &Path) -> Recorder {
        let mut child = Command::new(python())
            .arg(aws_tool("record.py"))
            .args(["--upstream", upstream, "--log"])
            .arg(log)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the recorder");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the recorder's address");
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("the recorder said {line:?}"))
            .to_string();
        Recorder { url, child }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The stack's template and each resource's physical id.
fn deployed(account: &str, stack: &str) -> (Json, BTreeMap<String, String>) {
    let c = clients(account, "us-east-1");
    let body =
        c.rt.block_on(c.cfn.get_template().stack_name(stack).send())
            .expect("GetTemplate");
    let template: Json = serde_json::from_str(body.template_body().unwrap_or("{}")).unwrap();
    let resources =
        c.rt.block_on(c.cfn.describe_stack_resources().stack_name(stack).send())
            .expect("DescribeStackResources");
    let physical = resources
        .stack_resources()
        .iter()
        .map(|r| {
            (
                r.logical_resource_id().unwrap_or_default().to_string(),
                r.physical_resource_id().unwrap_or_default().to_string(),
            )
        })
        .collect();
    (template, physical)
}

/// The pipeline's declaration as CodePipeline (moto) holds it.
fn live_declaration(account: &str, name: &str) -> Json {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cp = rt.block_on(async {
        let settings = driftless::cloud::ConnectSettings {
            region: "us-east-1".into(),
            endpoint: Some(emulator().endpoint()),
            profile: None,
            role: None,
        };
        let creds = aws_credential_types::Credentials::new(account, "test", None, None, "t");
        let cloud = driftless::cloud::Cloud::connect_with(&settings, creds).await;
        cloud.pipelines(Some(&driftless::cloud::pipelines::LocalPipelines {
            endpoint: moto().endpoint(),
            account: account.to_string(),
        }))
    });
    let live = rt.block_on(cp.get(name)).unwrap().expect("the pipeline");
    serde_json::to_value(&live.declaration).unwrap()
}

/// Each resource of `stacks` as (type, physical id).
fn resources_of(account: &str, stacks: &[String]) -> Vec<Json> {
    let c = clients(account, "us-east-1");
    let mut out = Vec::new();
    for stack in stacks {
        let resources =
            c.rt.block_on(c.cfn.describe_stack_resources().stack_name(stack).send())
                .expect("DescribeStackResources");
        for r in resources.stack_resources() {
            out.push(json!({
                "type": r.resource_type().unwrap_or_default(),
                "id": r.physical_resource_id().unwrap_or_default(),
                "stack": stack,
                "logical": r.logical_resource_id().unwrap_or_default(),
            }));
        }
    }
    out
}

/// A build as CodeBuild would run it (tests/aws/buildspec.py): the
/// project's buildspec and variables, the action's variables, against
/// `endpoint` (a recorder) as `account`.
struct Build<'a> {
    account: &'a str,
    source: &'a Path,
    project: &'a Json,
    project_name: &'a str,
    action_variables: BTreeMap<String, String>,
    endpoint: &'a str,
    pipelines: Option<&'a str>,
    physical: &'a BTreeMap<String, String>,
    /// Who started it (`codepipeline/<name>`, `rule/<name>`); a build
    /// started by the schedule clones its source, `.git` and all.
    initiator: &'a str,
}

impl Build<'_> {
    fn run(&self, work: &Path) -> Json {
        std::fs::create_dir_all(work.join("home")).unwrap();
        let buildspec = work.join("buildspec.yml");
        let props = &self.project["Properties"];
        std::fs::write(&buildspec, props["Source"]["BuildSpec"].as_str().unwrap()).unwrap();
        let mut project_variables = BTreeMap::new();
        for variable in props["Environment"]["EnvironmentVariables"]
            .as_array()
            .unwrap()
        {
            let value = match &variable["Value"] {
                Json::String(s) => s.clone(),
                Json::Object(o) => self.physical[o["Ref"].as_str().unwrap()].clone(),
                other => panic!("a variable's value {other}"),
            };
            project_variables.insert(variable["Name"].as_str().unwrap().to_string(), value);
        }
        // Where the install phase puts driftless: a project variable of
        // that name wins over the buildspec's, as in CodeBuild.
        project_variables.insert(
            "DRIFTLESS_BIN".into(),
            work.join("bin").display().to_string(),
        );
        let mut base = json!({
            "PATH": format!("{}:/usr/local/bin:/usr/bin:/bin", bin().display()),
            "HOME": work.join("home"),
            "AWS_ACCESS_KEY_ID": self.account,
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_ENDPOINT_URL": self.endpoint,
            "DRIFTLESS_ENDPOINT": self.endpoint,
        });
        if let Some(pipelines) = self.pipelines {
            base["AWS_ENDPOINT_URL_CODEPIPELINE"] = json!(pipelines);
        }
        let env = json!({
            "base": base,
            "project": self.project_name,
            "region": "us-east-1",
            "initiator": self.initiator,
            "project_variables": project_variables,
            "action_variables": self.action_variables,
        });
        let out = Command::new(python())
            .arg(aws_tool("buildspec.py"))
            .arg("--buildspec")
            .arg(&buildspec)
            .arg("--source")
            .arg(self.source)
            .arg("--work")
            .arg(work)
            .arg("--env")
            .arg(env.to_string())
            .args(self.initiator.starts_with("rule/").then_some("--clone"))
            .output()
            .expect("run the buildspec");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the build's report")
    }
}

fn assert_built(report: &Json, what: &str) {
    let phases: Vec<(&str, &str)> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["phase"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        report["exit"], 0,
        "{what} failed at {}:\n{}",
        report["failed_command"], report["log_tail"]
    );
    for phase in ["install", "build"] {
        assert!(
            phases.contains(&(phase, "SUCCEEDED")),
            "{what}: {phases:?}\n{}",
            report["log_tail"]
        );
    }
}

/// The action variables of `action` in the live declaration.
fn action_variables(declaration: &Json, action: &str) -> BTreeMap<String, String> {
    let found = declaration["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .find(|a| a["name"] == action)
        .unwrap_or_else(|| panic!("no action {action}"));
    let text = found["configuration"]["EnvironmentVariables"]
        .as_str()
        .unwrap_or("[]");
    let listed: Vec<Json> = serde_json::from_str(text).unwrap();
    listed
        .iter()
        .map(|v| {
            (
                v["name"].as_str().unwrap().to_string(),
                v["value"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Runs tests/aws/check.py over `plan`.
fn check(work: &Path, plan: &Json) -> Json {
    let path = work.join("plan.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    let out = Command::new(python())
        .arg(aws_tool("check.py"))
        .arg(&path)
        .output()
        .expect("run the checks");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the checks' report")
}

/// A Markdown table of each evaluated call, for people (shown with
/// `--nocapture`).
fn listing(report: &Json) -> String {
    let mut text = String::new();
    for item in report["evaluated"].as_array().unwrap() {
        if item["expect"] != "allow" {
            continue;
        }
        text.push_str(&format!("\n{} as {}:\n", item["name"], item["role"]));
        let mut seen = std::collections::BTreeSet::new();
        for call in item["results"].as_array().unwrap() {
            let line = format!(
                "| {} | {} | {} |",
                call["action"].as_str().unwrap(),
                call["resource"].as_str().unwrap(),
                call["statement"].as_str().unwrap_or("none")
            );
            if seen.insert(line.clone()) {
                text.push_str(&line);
                text.push('\n');
            }
        }
    }
    for item in report["lint"].as_array().unwrap() {
        for finding in item["findings"].as_array().unwrap() {
            text.push_str(&format!(
                "lint {}: {} ({})\n",
                item["role"], finding[0], finding[2]
            ));
        }
    }
    text
}

#[test]
fn each_action_runs_as_codebuild_would_and_every_call_it_makes_is_its_roles_to_make() {
    let project = reference_copy();
    let account = account();
    let name = format!("aws-{account}");
    // prod deploys into the emulator's account too: dev's role can then be
    // asked about prod's own resources.
    let prod = project.path().join("environments/prod.yaml");
    let text = std::fs::read_to_string(&prod).unwrap();
    let text = text.replace(
        "target: { region: eu-west-1, account: \"222222222222\" }",
        "target: local",
    );
    std::fs::write(&prod, text).unwrap();
    // Changed, it approves dev and reconciles every 30 minutes: a new
    // declaration and a change to the supporting stack.
    let pipeline = |changed: bool| {
        format!(
            "pipeline:\n  name: {name}\n  target: local\n  source:\n    codecommit: {{ repository: users, branch: main }}\n  stages:\n    - {}\n    - {{ environment: prod, approval: true }}\n  schedule: {{ every: {} minutes, environments: [dev] }}\n",
            if changed {
                "{ environment: dev, approval: true }"
            } else {
                "dev"
            },
            if changed { 30 } else { 15 }
        )
    };
    std::fs::write(project.path().join("pipeline.yaml"), pipeline(false)).unwrap();
    let work = tempfile::tempdir().unwrap();
    let logs = work.path();

    // A person deploys the pipeline (as an administrator), then runs it.
    let stack_calls = logs.join("deploy.emulator.jsonl");
    let pipeline_calls = logs.join("deploy.codepipeline.jsonl");
    let first = {
        let front = Recorder::start(&emulator().endpoint(), &stack_calls);
        let codepipeline = Recorder::start(&moto().endpoint(), &pipeline_calls);
        let as_admin = |args: &[&str]| {
            let out = command(project.path(), &account, args, &front.url)
                .env("AWS_ENDPOINT_URL_CODEPIPELINE", &codepipeline.url)
                .output()
                .unwrap();
            ok(&out);
            out
        };
        as_admin(&["pipeline", "deploy"]);
        let run = as_admin(&["pipeline", "run"]);
        summary(&run)["stacks"]["execution"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let stack = format!("{name}-pipeline");
    let (template, physical) = deployed(&account, &stack);
    let declaration = live_declaration(&account, &name);

    // Each environment's deploy action, in a source without .git.
    let source = work.path().join("source");
    copy_dir(project.path(), &source);
    let mut runs = BTreeMap::new();
    for env in ["dev", "prod"] {
        let log = logs.join(format!("deploy-{env}.jsonl"));
        let front = Recorder::start(&emulator().endpoint(), &log);
        let project_id = format!("Deploy{}Project", driftless::kinds::pascal(env));
        let report = Build {
            account: &account,
            source: &source,
            project: &template["Resources"][&project_id],
            project_name: &format!("{name}-deploy-{env}"),
            action_variables: action_variables(&declaration, &format!("Deploy-{env}")),
            endpoint: &front.url,
            pipelines: None,
            physical: &physical,
            initiator: "codepipeline/release",
        }
        .run(&work.path().join(format!("build-{env}")));
        assert_built(&report, &format!("the {env} deploy"));
        // The report CodeBuild collects is there, and says the deploy passed.
        let junit =
            Path::new(report["src"].as_str().unwrap()).join("driftless-reports/driftless.xml");
        let parsed = super::support::python_json(
            &python(),
            "import sys, json, junitparser\nx = junitparser.JUnitXml.fromfile(sys.stdin.read())\nprint(json.dumps({'tests': x.tests, 'failures': x.failures, 'errors': x.errors}))",
            junit.to_str().unwrap(),
        );
        assert!(parsed["tests"].as_u64().unwrap() > 0, "{parsed}");
        assert_eq!(parsed["failures"], 0, "{parsed}");
        runs.insert(env, log);
    }

    // The scheduled reconcile of dev, in a clone of the source.
    let checkout = work.path().join("checkout");
    copy_dir(project.path(), &checkout);
    git(&checkout, &["init", "-q", "-b", "main"]);
    git(&checkout, &["add", "-A"]);
    git(&checkout, &["commit", "-qm", "the release"]);
    let reconciled = logs.join("reconcile-dev.jsonl");
    {
        let front = Recorder::start(&emulator().endpoint(), &reconciled);
        let report = Build {
            account: &account,
            source: &checkout,
            project: &template["Resources"]["ReconcileProject"],
            project_name: &format!("{name}-reconcile"),
            action_variables: BTreeMap::new(),
            endpoint: &front.url,
            pipelines: None,
            physical: &physical,
            initiator: &format!("rule/{name}-reconcile"),
        }
        .run(&work.path().join("build-reconcile"));
        assert_built(&report, "the scheduled reconcile");
    }

    // The self-update, after a change to pipeline.yaml, as the run it
    // belongs to: it updates the pipeline and starts the run again.
    std::fs::write(source.join("pipeline.yaml"), pipeline(true)).unwrap();
    let update_stack = logs.join("self-update.emulator.jsonl");
    let update_pipeline = logs.join("self-update.codepipeline.jsonl");
    {
        let front = Recorder::start(&emulator().endpoint(), &update_stack);
        let codepipeline = Recorder::start(&moto().endpoint(), &update_pipeline);
        let report = Build {
            account: &account,
            source: &source,
            project: &template["Resources"]["SelfUpdateProject"],
            project_name: &format!("{name}-pipeline"),
            action_variables: action_variables(&declaration, "SelfUpdate")
                .into_iter()
                .map(|(k, v)| (k, v.replace("#{codepipeline.PipelineExecutionId}", &first)))
                .collect(),
            endpoint: &front.url,
            pipelines: Some(&codepipeline.url),
            physical: &physical,
            initiator: "codepipeline/release",
        }
        .run(&work.path().join("build-self-update"));
        assert_built(&report, "the self-update");
    }
    let stack_sent = std::fs::read_to_string(&update_stack).unwrap();
    assert!(
        stack_sent.contains("Action=ExecuteChangeSet"),
        "the self-update changed its stack: {stack_sent}"
    );
    let sent = std::fs::read_to_string(&update_pipeline).unwrap();
    assert!(
        sent.contains("CodePipeline_20150709.UpdatePipeline"),
        "{sent}"
    );
    // moto's run recorded no source revision (it runs no action), so the
    // new run takes the latest; with one, `sourceRevisions` names it (a
    // unit test replays AWS's answer).
    assert!(
        sent.contains("CodePipeline_20150709.StartPipelineExecution")
            && sent.contains(&format!("after-{first}")),
        "{sent}"
    );

    let stacks = |env: &str| -> Vec<String> {
        ["stateful", "stateless"]
            .map(|s| format!("user-management-{env}-{s}"))
            .to_vec()
    };
    // The self-update changes its stack's resources, and never its own
    // role or the policies holding its rights.
    let (itself, others): (Vec<Json>, Vec<Json>) =
        resources_of(&account, std::slice::from_ref(&stack))
            .into_iter()
            .partition(|r| r["logical"].as_str().unwrap().starts_with("SelfUpdateRole"));
    let dev_resources = resources_of(&account, &stacks("dev"));
    let prod_resources = resources_of(&account, &stacks("prod"));

    // What a person does after: plan, status, destroy; their requests are
    // walked against the model too.
    let after_calls = logs.join("after.codepipeline.jsonl");
    {
        let front = Recorder::start(&emulator().endpoint(), &logs.join("after.emulator.jsonl"));
        let codepipeline = Recorder::start(&moto().endpoint(), &after_calls);
        for args in [
            &["pipeline", "plan"][..],
            &["pipeline", "status"],
            &["pipeline", "destroy", "--yes"],
        ] {
            let out = command(project.path(), &account, args, &front.url)
                .env("AWS_ENDPOINT_URL_CODEPIPELINE", &codepipeline.url)
                .output()
                .unwrap();
            // plan exits 2: the file still says 15 minutes and no approval.
            assert!(
                matches!(out.status.code(), Some(0 | 2)),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    // What is an environment's own: named for its stacks, or its lock and
    // record. The pipeline's binary and the content-addressed code both
    // read are shared, and not counted.
    let named = |env: &str| -> Vec<String> {
        ["-", ".", "/"]
            .map(|end| format!("user-management-{env}{end}"))
            .to_vec()
    };
    let plan = json!({
        "template": template,
        "physical": physical,
        "stack": stack,
        "account": account,
        "region": "us-east-1",
        "evaluate": [
            { "name": "Deploy-dev", "role": "DeployDevRole", "calls": runs["dev"], "expect": "allow" },
            { "name": "the scheduled reconcile of dev", "role": "ReconcileRole", "calls": reconciled, "expect": "allow" },
            { "name": "Deploy-prod", "role": "DeployProdRole", "calls": runs["prod"], "expect": "allow" },
            { "name": "SelfUpdate (stack)", "role": "SelfUpdateRole", "calls": update_stack, "expect": "allow" },
            { "name": "SelfUpdate (pipeline)", "role": "SelfUpdateRole", "calls": update_pipeline, "expect": "allow" },
            { "name": "prod's calls as dev", "role": "DeployDevRole", "calls": runs["prod"], "expect": "deny", "named": named("prod") },
            { "name": "dev's calls as prod", "role": "DeployProdRole", "calls": runs["dev"], "expect": "deny", "named": named("dev") },
        ],
        "handlers": [
            { "role": "DeployDevRole", "resources": dev_resources, "expect": "allow" },
            { "role": "DeployProdRole", "resources": prod_resources, "expect": "allow" },
            { "role": "SelfUpdateRole", "resources": others, "expect": "allow" },
            { "role": "SelfUpdateRole", "resources": itself, "expect": "deny" },
        ],
        "lint": [
            { "role": "DeployDevRole", "prefixes": stacks("dev") },
            { "role": "DeployProdRole", "prefixes": stacks("prod") },
            { "role": "ReconcileRole", "prefixes": stacks("dev") },
            { "role": "SelfUpdateRole", "prefixes": [name] },
            { "role": "PipelineRole", "prefixes": [name] },
            { "role": "ScheduleRole", "prefixes": [name] },
            { "role": "SourceChangeRole", "prefixes": [name] },
        ],
        "model": [pipeline_calls, update_pipeline, after_calls],
    });
    let report = check(work.path(), &plan);
    eprintln!("{}", listing(&report));
    assert_checks_pass(
        &report,
        &[
            "CreatePipeline",
            "UpdatePipeline",
            "StartPipelineExecution",
            "GetPipeline",
            "GetPipelineExecution",
            "ListPipelineExecutions",
            "ListTagsForResource",
            "DeletePipeline",
        ],
    );
}

/// The report's verdicts, every problem at once: a call a role lacks, a
/// resource another environment's role reaches, an escalation, a request
/// CodePipeline would refuse.
fn assert_checks_pass(report: &Json, walked_operations: &[&str]) {
    let mut problems = Vec::new();
    for item in report["evaluated"].as_array().unwrap() {
        let what = item["name"].as_str().unwrap();
        for unmapped in item["unmapped"].as_array().unwrap() {
            problems.push(format!("{what}: a call the checks cannot map: {unmapped}"));
        }
        let results = item["results"].as_array().unwrap();
        if results.is_empty() {
            problems.push(format!("{what}: no calls recorded"));
        }
        let mut denied = 0;
        let owned: Vec<&str> = item["named"]
            .as_array()
            .map(|n| n.iter().filter_map(Json::as_str).collect())
            .unwrap_or_default();
        for call in results {
            let resource = call["resource"].as_str().unwrap();
            let named = owned.iter().any(|n| resource.contains(n));
            let allowed = call["decision"] == "allow";
            match item["expect"].as_str().unwrap() {
                "allow" if !allowed => problems.push(format!("{what}: {call}")),
                "deny" if named && allowed => problems.push(format!("{what} reaches: {call}")),
                "deny" if named => denied += 1,
                _ => {}
            }
        }
        if item["expect"] == "deny" && denied == 0 {
            problems.push(format!("{what}: no call on a named resource to deny"));
        }
    }
    for item in report["handlers"].as_array().unwrap() {
        let results = item["results"].as_array().unwrap();
        if results.len() < 10 {
            problems.push(format!("too few handler calls evaluated: {item}"));
        }
        let allow = item["expect"] == "allow";
        for call in results
            .iter()
            .filter(|c| (c["decision"] == "allow") != allow)
        {
            problems.push(format!(
                "CloudFormation as {} (expected to {}): {call}",
                item["role"], item["expect"]
            ));
        }
    }
    for item in report["lint"].as_array().unwrap() {
        for finding in item["findings"].as_array().unwrap() {
            if finding[1] != true {
                problems.push(format!("{}: {finding}", item["role"]));
            }
        }
    }
    let walked = report["model"].as_array().unwrap();
    let operations: std::collections::BTreeSet<&str> = walked
        .iter()
        .map(|m| m["operation"].as_str().unwrap())
        .collect();
    for operation in walked_operations {
        if !operations.contains(operation) {
            problems.push(format!("{operation} not walked: {operations:?}"));
        }
    }
    for request in walked.iter().filter(|r| r["problems"] != json!([])) {
        problems.push(format!("CodePipeline would refuse: {request}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The release fixture: the reference application's specs with the
/// environments and pipeline of `tests/fixtures/release`.
fn release_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo_root().join("specs"), &dir.path().join("specs"));
    copy_dir(&repo_root().join("tests/fixtures/release"), dir.path());
    dir
}

/// What a stack rendered offline holds, named as CloudFormation would
/// name it.
fn rendered_resources(folder: &Path) -> Vec<Json> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(folder).unwrap().flatten() {
        let file = entry.file_name().to_string_lossy().to_string();
        let Some(stack) = file.strip_suffix(".template.json") else {
            continue;
        };
        let template: Json =
            serde_json::from_str(&std::fs::read_to_string(entry.path()).unwrap()).unwrap();
        for (logical, body) in template["Resources"].as_object().unwrap() {
            out.push(json!({ "type": body["Type"], "id": "", "stack": stack, "logical": logical }));
        }
    }
    out
}

#[test]
fn a_pipeline_for_aws_planned_offline_passes_cfn_lint_the_model_walk_and_the_iam_evaluation() {
    let project = release_fixture();
    let out = project.path().join("planned");
    // No endpoint, no emulator: the plan reaches nothing.
    let plan = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("--project")
        .arg(project.path())
        .args(["pipeline", "plan", "--offline", "--out"])
        .arg(&out)
        .env_remove("DRIFTLESS_ENDPOINT")
        .env("AWS_ACCESS_KEY_ID", "unused")
        .env("AWS_SECRET_ACCESS_KEY", "unused")
        .output()
        .unwrap();
    assert_eq!(
        plan.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&plan.stderr)
    );
    let template_file = out.join("users-release-pipeline.template.json");
    super::lint::lint_files(
        std::slice::from_ref(&template_file),
        "the release fixture's stack",
    );
    let template: Json =
        serde_json::from_str(&std::fs::read_to_string(&template_file).unwrap()).unwrap();
    let rendered = project.path().join("rendered-dev");
    let render = Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("--project")
        .arg(project.path())
        .args(["render", "dev", "--out"])
        .arg(&rendered)
        .output()
        .unwrap();
    assert!(
        render.status.success(),
        "{}",
        String::from_utf8_lossy(&render.stderr)
    );

    let (tooling, region) = ("111111111111", "eu-west-1");
    let prod_role = "arn:aws:iam::222222222222:role/driftless-deploy";
    let stack_arn = |account: &str, stack: &str| {
        format!("arn:aws:cloudformation:{region}:{account}:stack/{stack}/0f1e2d3c")
    };
    let connection = "arn:aws:codeconnections:eu-west-1:111111111111:connection/5f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b";
    let own_role =
        format!("arn:aws:iam::{tooling}:role/users-release-pipeline-SelfUpdateRole-ABCDEFGHIJKL");
    let dev_role =
        format!("arn:aws:iam::{tooling}:role/users-release-pipeline-DeployDevRole-ABCDEFGHIJKL");
    let pipeline_arn = format!("arn:aws:codepipeline:{region}:{tooling}:users-release");
    let asset = "arn:aws:s3:::driftless-bootstrap-assetbucket-1a2b3c4d5e6f/assets/ab12.zip";
    let mut expected = Vec::new();
    let mut expect = |role: &str, action: &str, resource: &str, context: Json, allow: bool| {
        expected.push(json!({ "role": role, "action": action, "resource": resource, "context": context, "expect": if allow { "allow" } else { "deny" } }));
    };
    for stack in [
        "user-management-dev-stateful",
        "user-management-dev-stateless",
    ] {
        for action in [
            "CreateChangeSet",
            "DescribeChangeSet",
            "ExecuteChangeSet",
            "DescribeStacks",
            "DescribeStackEvents",
            "GetTemplate",
            "DescribeStackResources",
        ] {
            let action = format!("cloudformation:{action}");
            expect(
                "DeployDevRole",
                &action,
                &stack_arn(tooling, stack),
                json!({}),
                true,
            );
            expect(
                "ReconcileRole",
                &action,
                &stack_arn(tooling, stack),
                json!({}),
                true,
            );
            expect(
                "DeployProdRole",
                &action,
                &stack_arn(tooling, stack),
                json!({}),
                false,
            );
        }
    }
    for role in ["DeployDevRole", "ReconcileRole"] {
        expect(role, "sts:GetCallerIdentity", "*", json!({}), true);
        expect(
            role,
            "s3:PutObject",
            asset,
            json!({ "s3:if-none-match": "*" }),
            true,
        );
        // Content-addressed objects are added, never overwritten.
        expect(role, "s3:PutObject", asset, json!({}), false);
        expect(role, "sts:AssumeRole", prod_role, json!({}), false);
        expect(
            role,
            "lambda:UpdateFunctionCode",
            &format!(
                "arn:aws:lambda:{region}:{tooling}:function:user-management-dev-stateless-ApiHandler-ABCDEFGHIJKL"
            ),
            json!({}),
            true,
        );
        expect(
            role,
            "lambda:UpdateFunctionCode",
            &format!("arn:aws:lambda:{region}:{tooling}:function:someone-else"),
            json!({}),
            false,
        );
    }
    // prod's action holds nothing but the assumption of prod's role.
    expect(
        "DeployProdRole",
        "sts:AssumeRole",
        prod_role,
        json!({}),
        true,
    );
    for (action, resource) in [
        (
            "cloudformation:CreateChangeSet",
            stack_arn("222222222222", "user-management-prod-stateful"),
        ),
        ("lambda:UpdateFunctionCode", "*".to_string()),
        ("iam:PassRole", dev_role.clone()),
    ] {
        expect("DeployProdRole", action, &resource, json!({}), false);
    }
    expect(
        "ReconcileRole",
        "codeconnections:UseConnection",
        connection,
        json!({}),
        true,
    );
    expect(
        "PipelineRole",
        "codeconnections:UseConnection",
        connection,
        json!({}),
        true,
    );
    expect(
        "PipelineRole",
        "codebuild:StartBuild",
        &format!("arn:aws:codebuild:{region}:{tooling}:project/users-release-deploy-dev"),
        json!({}),
        true,
    );
    for action in [
        "codepipeline:UpdatePipeline",
        "codepipeline:StartPipelineExecution",
        "codepipeline:GetPipelineExecution",
    ] {
        expect("SelfUpdateRole", action, &pipeline_arn, json!({}), true);
    }
    expect(
        "SelfUpdateRole",
        "iam:PutRolePolicy",
        &dev_role,
        json!({}),
        true,
    );
    for action in [
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:UpdateAssumeRolePolicy",
    ] {
        expect("SelfUpdateRole", action, &own_role, json!({}), false);
    }

    let stack_resources = rendered_resources(&out);
    let (itself, others): (Vec<Json>, Vec<Json>) = stack_resources
        .into_iter()
        .partition(|r| r["logical"].as_str().unwrap().starts_with("SelfUpdateRole"));
    let dev_stacks = [
        "user-management-dev-stateful",
        "user-management-dev-stateless",
    ];
    let plan = json!({
        "template": template,
        "stack": "users-release-pipeline",
        "account": tooling,
        "region": region,
        "expected": expected,
        "handlers": [
            { "role": "DeployDevRole", "resources": rendered_resources(&rendered), "expect": "allow" },
            { "role": "SelfUpdateRole", "resources": others, "expect": "allow" },
            { "role": "SelfUpdateRole", "resources": itself, "expect": "deny" },
        ],
        "lint": [
            { "role": "DeployDevRole", "prefixes": dev_stacks },
            { "role": "ReconcileRole", "prefixes": dev_stacks },
            { "role": "DeployProdRole", "prefixes": [] },
            { "role": "SelfUpdateRole", "prefixes": ["users-release"] },
            { "role": "PipelineRole", "prefixes": ["users-release"] },
            { "role": "ScheduleRole", "prefixes": ["users-release"] },
        ],
        "model_requests": [out.join("users-release.CreatePipeline.json")],
    });
    let work = tempfile::tempdir().unwrap();
    let report = check(work.path(), &plan);
    let mut problems = Vec::new();
    for item in report["expected"].as_array().unwrap() {
        let allowed = item["decision"] == "allow";
        if allowed != (item["expect"] == "allow") {
            problems.push(format!("{item}"));
        }
    }
    if report["model"].as_array().unwrap().is_empty() {
        problems.push("no request walked".into());
    }
    eprintln!("{}", listing(&report));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_checks_pass(&report, &["CreatePipeline"]);
}

/// The checkers' own tests: the policy evaluator against AWS's documented
/// examples, the escalation lint against escalations it must report.
#[test]
fn the_policy_evaluator_and_the_lint_pass_their_own_tests() {
    let out = Command::new(python())
        .args(["-m", "unittest", "-v", "test_iam", "test_lint"])
        .current_dir(repo_root().join("tests/aws"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Ran 12 tests"), "{text}");
}
