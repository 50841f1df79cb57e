//! Secret params: read from the deploying process's environment, passed as
//! NoEcho parameters, masked in plans and never in a template or output.

use super::emulator::{account, clients, command, emulator, events};
use super::support::{copy_dir, repo_root};

const TOKEN: &str = "tok-8f3a9c1e-do-not-print";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("tests/fixtures/secret"), dir.path());
    dir
}

fn run(
    project: &std::path::Path,
    account: &str,
    args: &[&str],
    token: Option<&str>,
) -> std::process::Output {
    let mut c = command(project, account, args, &emulator().endpoint());
    match token {
        Some(t) => c.env("WORKER_TOKEN", t),
        None => c.env_remove("WORKER_TOKEN"),
    };
    c.output().expect("run driftless")
}

fn all_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_secret_reaches_the_function_and_nothing_shows_it() {
    let project = project();
    let account = account();
    let out = run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        Some(TOKEN),
    );
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        !text.contains(TOKEN),
        "the deploy printed the secret:\n{text}"
    );

    let c = clients(&account, "us-east-1");
    let template =
        c.rt.block_on(c.cfn.get_template().stack_name("secrets-dev-app").send())
            .expect("get template");
    let body = template.template_body().unwrap_or_default();
    assert!(body.contains("\"NoEcho\""), "{body}");
    assert!(!body.contains(TOKEN));
    let env = function_token(&account);
    assert_eq!(
        env.as_deref(),
        Some(TOKEN),
        "the secret reached the function"
    );

    // A plan with another value: masked, and no change (CloudFormation never
    // shows a NoEcho value back, so it is not part of the hash).
    let plan = run(
        project.path(),
        &account,
        &["plan", "dev"],
        Some("other-value-123"),
    );
    let text = all_text(&plan);
    assert_eq!(plan.status.code(), Some(0), "{text}");
    assert!(!text.contains("other-value-123"), "{text}");
    let shown = events(&plan)
        .into_iter()
        .find(|e| e["event"] == "stack_plan" && e["stack"] == "secrets-dev-app")
        .expect("the stack's plan");
    assert_eq!(shown["parameters"]["values"]["SecretWorkerToken"], "****");

    // Rendering never needs or writes the value.
    let out_dir = tempfile::tempdir().expect("temp dir");
    let render = run(
        project.path(),
        &account,
        &[
            "render",
            "dev",
            "--out",
            &out_dir.path().display().to_string(),
        ],
        Some(TOKEN),
    );
    assert_eq!(render.status.code(), Some(0), "{}", all_text(&render));
    for entry in std::fs::read_dir(out_dir.path()).expect("rendered files") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            let bytes = std::fs::read(&path).expect("read rendered file");
            assert!(
                !String::from_utf8_lossy(&bytes).contains(TOKEN),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn a_missing_secret_variable_stops_the_deploy_before_any_change() {
    let project = project();
    let account = account();
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"], None);
    let text = all_text(&out);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(text.contains("WORKER_TOKEN"), "{text}");
    let summary = events(&out)
        .into_iter()
        .rev()
        .find(|e| e["event"] == "summary")
        .expect("summary");
    assert_eq!(summary["api_calls"]["mutating"], 0, "{text}");
}

fn function_token(account: &str) -> Option<String> {
    let c = clients(account, "us-east-1");
    let stack =
        c.rt.block_on(c.cfn.describe_stacks().stack_name("secrets-dev-app").send())
            .expect("describe stack");
    let function = stack.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some("WorkerFunctionName"))
        .and_then(|o| o.output_value())
        .expect("function name output")
        .to_string();
    let config =
        c.rt.block_on(
            c.lambda
                .get_function_configuration()
                .function_name(&function)
                .send(),
        )
        .expect("function configuration");
    config
        .environment()
        .and_then(|e| e.variables())
        .and_then(|v| v.get("TOKEN"))
        .cloned()
}

#[test]
fn a_rotated_secret_is_pushed_with_force_and_only_then() {
    let project = project();
    let account = account();
    let deploy = |args: &[&str], token: &str| {
        let out = run(project.path(), &account, args, Some(token));
        assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
        out
    };
    deploy(&["deploy", "dev", "--yes"], "first-value-1");
    // A rotated value alone is no change (the hash leaves secrets out)...
    deploy(&["deploy", "dev", "--yes"], "rotated-value-2");
    assert_eq!(function_token(&account).as_deref(), Some("first-value-1"));
    // ...until the stack is forced; plan shows it first, masked.
    let plan = run(
        project.path(),
        &account,
        &["plan", "dev", "--force", "app"],
        Some("rotated-value-2"),
    );
    assert_eq!(plan.status.code(), Some(2), "{}", all_text(&plan));
    let shown = events(&plan)
        .into_iter()
        .find(|e| e["event"] == "stack_plan" && e["stack"] == "secrets-dev-app")
        .expect("the stack's plan");
    assert_eq!(shown["action"], "update", "{shown}");
    assert!(!all_text(&plan).contains("rotated-value-2"));
    let out = deploy(
        &["deploy", "dev", "--yes", "--force", "app"],
        "rotated-value-2",
    );
    assert!(!all_text(&out).contains("rotated-value-2"));
    assert_eq!(function_token(&account).as_deref(), Some("rotated-value-2"));
    // A name that is not a stack of the environment is refused up front.
    let wrong = run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes", "--force", "nope"],
        Some("x"),
    );
    assert_eq!(wrong.status.code(), Some(64), "{}", all_text(&wrong));
    assert!(all_text(&wrong).contains("its stacks are: app"));
}

#[test]
fn the_status_page_never_shows_a_secret() {
    let project = project();
    let account = account();
    let out = run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let file = project.path().join("status.html");
    let file_arg = file.to_string_lossy().into_owned();
    let out = run(
        project.path(),
        &account,
        &["status", "dev", "--html", &file_arg],
        Some(TOKEN),
    );
    assert_eq!(out.status.code(), Some(0), "{}", all_text(&out));
    let page = std::fs::read_to_string(&file).expect("the page");
    assert!(page.contains("secrets-dev-app"), "the page shows the stack");
    assert!(!page.contains(TOKEN), "the page shows the secret");
    assert!(!all_text(&out).contains(TOKEN));

    // Nor does the plan's page, with the secret changed.
    let plan = project.path().join("plan.html");
    let plan_arg = plan.to_string_lossy().into_owned();
    let out = run(
        project.path(),
        &account,
        &["plan", "dev", "--force", "app", "--html", &plan_arg],
        Some("another-secret-value-9d2f"),
    );
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 2),
        "{}",
        all_text(&out)
    );
    let page = std::fs::read_to_string(&plan).expect("the plan page");
    assert!(
        page.contains("secrets-dev-app"),
        "the plan page shows the stack"
    );
    assert!(!page.contains(TOKEN) && !page.contains("another-secret-value-9d2f"));
}

#[test]
fn the_reconcile_loops_pages_never_show_a_secret() {
    let project = project();
    let work = project.path();
    let git = |args: &[&str]| super::support::git(work, args);
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the secret fixture"]);
    let origin = work.join("origin.git");
    git(&["clone", "-q", "--bare", ".", origin.to_str().expect("path")]);
    let elsewhere = tempfile::tempdir().expect("temp dir");
    let account = account();
    let mut command = command(
        elsewhere.path(),
        &account,
        &[
            "reconcile",
            "dev",
            "--repo",
            origin.to_str().expect("path"),
            "--branch",
            "main",
            "--interval",
            "0.5",
            "--listen",
            "127.0.0.1:0",
        ],
        &emulator().endpoint(),
    );
    command.env("WORKER_TOKEN", TOKEN);
    let mut agent = super::running::Running::spawn(command);
    let listening = agent.next(
        |e| e["state"] == "listening",
        std::time::Duration::from_secs(30),
    );
    let address = listening["address"].as_str().expect("address").to_string();
    agent.next(
        |e| e["event"] == "reconcile_tick" && e["result"] == "in_sync",
        std::time::Duration::from_secs(90),
    );
    // Someone puts another token in the function: the loop reports the
    // drift, and neither value shows in its events, pages or metrics.
    let other = "tok-loop-7c41-do-not-print";
    drift_the_token(&account, other);
    let found = agent.next(
        |e| e["event"] == "drift_resource" && e["resource_drift"]["status"] == "MODIFIED",
        std::time::Duration::from_secs(90),
    );
    assert_eq!(
        found["resource_drift"]["differences"][0]["secret"], true,
        "{found}"
    );
    agent.next(
        |e| e["event"] == "reconcile_tick" && e["result"] == "drifted",
        std::time::Duration::from_secs(90),
    );
    for path in ["/", "/env/dev", "/metrics"] {
        let (status, page) = super::reconcile::request(&address, "GET", path, &[], "");
        assert_eq!(status, 200, "{path}: {page}");
        assert!(
            page.contains("secrets-dev-app") || path != "/env/dev",
            "{page}"
        );
        for secret in [TOKEN, other] {
            assert!(!page.contains(secret), "{path} shows a secret:\n{page}");
        }
    }
    let events = serde_json::to_string(&agent.seen).expect("events");
    for secret in [TOKEN, other] {
        assert!(
            !events.contains(secret),
            "the loop printed a secret:\n{events}"
        );
    }
}

/// Sets the worker function's `TOKEN` variable behind driftless's back.
fn drift_the_token(account: &str, value: &str) {
    let c = clients(account, "us-east-1");
    let function =
        c.rt.block_on(c.lambda.list_functions().send())
            .expect("functions")
            .functions()
            .iter()
            .filter_map(|f| f.function_name())
            .find(|n| n.contains("Worker") || n.contains("worker"))
            .expect("the worker function")
            .to_string();
    let variables = aws_sdk_lambda::types::Environment::builder()
        .variables("TOKEN", value)
        .build();
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .environment(variables)
            .send(),
    )
    .expect("drift the token");
}

/// The fixture with a secret that reaches an output through a resource
/// (an SSM parameter's `Value`), a function that echoes it, and a smoke
/// check that fails quoting the function's answer.
fn leaky_project() -> tempfile::TempDir {
    let dir = project();
    let unit = dir.path().join("specs/worker/unit.yaml");
    let text = std::fs::read_to_string(&unit).expect("unit");
    let text = text.replace(
        "outputs:\n  function_name: ${handler.name}",
        "  stash:\n    type: AWS::SSM::Parameter\n    properties: { Type: String, Value: \"${token}\" }\noutputs:\n  function_name: ${handler.name}\n  stashed: ${stash.Value}",
    );
    std::fs::write(&unit, text).expect("unit");
    std::fs::write(
        dir.path().join("specs/worker/code/main.py"),
        "import os\n\n\ndef handler(event, context):\n    return {\"has_token\": False, \"echo\": os.environ.get(\"TOKEN\")}\n",
    )
    .expect("code");
    let env = dir.path().join("environments/dev.yaml");
    let mut text = std::fs::read_to_string(&env).expect("environment");
    text.push_str("smoke:\n  - name: echo\n    invoke: ${worker.function_name}\n    expect: { payload: { echo: nothing } }\n    retries: 0\n");
    std::fs::write(&env, text).expect("environment");
    dir
}

#[test]
fn no_output_report_or_drift_shows_a_secret_that_flows_through_resources_and_bodies() {
    let project = leaky_project();
    let account = account();
    let files = tempfile::tempdir().expect("temp dir");
    let junit = files.path().join("junit.xml");
    let summary = files.path().join("summary.md");
    let mut seen = String::new();
    let mut step = |args: &[&str], token: Option<&str>, human: bool| {
        let mut c = match human {
            true => super::emulator::human_command(project.path(), &account, args),
            false => command(project.path(), &account, args, &emulator().endpoint()),
        };
        match token {
            Some(t) => c.env("WORKER_TOKEN", t),
            None => c.env_remove("WORKER_TOKEN"),
        };
        let out = c
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_STEP_SUMMARY", &summary)
            .output()
            .expect("run driftless");
        seen.push_str(&all_text(&out));
        out
    };
    let junit_arg = junit.to_str().expect("path");
    // The deploy's check fails, quoting the function's answer: the token.
    let deploy = step(
        &["deploy", "dev", "--yes", "--junit", junit_arg],
        Some(TOKEN),
        false,
    );
    assert_ne!(deploy.status.code(), Some(0), "{}", all_text(&deploy));
    assert!(all_text(&deploy).contains("****"), "{}", all_text(&deploy));
    step(&["smoke", "dev", "--junit", junit_arg], Some(TOKEN), true);
    // The output the SSM parameter feeds is secret, shown as such.
    let outputs = step(&["outputs", "dev"], Some(TOKEN), false);
    let stashed = events(&outputs)
        .into_iter()
        .find(|e| e["event"] == "output" && e["name"] == "worker.stashed")
        .expect("the stashed output");
    assert_eq!(stashed["secret"], true, "{stashed}");
    step(&["outputs", "dev"], None, true);
    let env = step(&["outputs", "dev", "--format", "env"], None, true);
    assert_ne!(
        env.status.code(),
        Some(0),
        "an output carrying a secret is never written"
    );
    // Someone puts another token in the function: drift hides both.
    let other = "tok-second-0b7e-do-not-print";
    drift_the_token(&account, other);
    let drift = step(&["drift", "dev"], Some(TOKEN), false);
    let hidden = events(&drift)
        .into_iter()
        .filter(|e| e["event"] == "drift_resource")
        .flat_map(|e| {
            e["resource_drift"]["differences"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|d| d["path"].as_str().unwrap_or_default().contains("TOKEN"));
    let d = hidden.expect("the token's drift is reported");
    assert_eq!(d["secret"], true, "{d}");
    assert_eq!(d["expected"], "(hidden)", "{d}");
    step(&["drift", "dev"], Some(TOKEN), true);

    for (what, text) in [
        ("what the commands printed", seen),
        (
            "the JUnit report",
            std::fs::read_to_string(&junit).unwrap_or_default(),
        ),
        (
            "the step summary",
            std::fs::read_to_string(&summary).unwrap_or_default(),
        ),
    ] {
        assert!(!text.is_empty(), "{what} is empty");
        for secret in [TOKEN, other] {
            assert!(!text.contains(secret), "{what} shows a secret:\n{text}");
        }
    }
}
