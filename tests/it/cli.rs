//! The binary: commands, JSON output and exit codes.

use super::support::{driftless, reference_copy, repo_root, stderr, stdout};
use driftless::exit;
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn validate_accepts_the_reference_application() {
    let out = driftless(&repo_root(), &["validate"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("valid: 3 unit(s), 2 environment(s)"));
}

#[test]
fn validate_reports_every_problem_and_exits_invalid() {
    let project = reference_copy();
    let api = project.path().join("specs/api/unit.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    std::fs::write(
        &api,
        text.replace("memory: ${memory}", "memory: ${memroy}")
            .replace("timeout: 20", "timout: 20"),
    )
    .unwrap();
    let out = driftless(project.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)));
    let err = stderr(&out);
    assert!(err.contains("unknown param `${memroy}`"), "{err}");
    assert!(err.contains("unknown key `timout`"), "{err}");
    assert!(err.contains("did you mean `timeout`?"), "{err}");
}

#[test]
fn validate_json_gives_one_object_per_diagnostic_with_its_location() {
    let project = reference_copy();
    let dev = project.path().join("environments/dev.yaml");
    let text = std::fs::read_to_string(&dev).unwrap();
    std::fs::write(&dev, text.replace("PAY_PER_REQUEST", "ON_DEMAND")).unwrap();
    let out = driftless(project.path(), &["validate", "--output", "json"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)));
    let events = json_lines(&stdout(&out));
    let diagnostic = events.iter().find(|e| e["event"] == "diagnostic").unwrap();
    assert_eq!(diagnostic["file"], "environments/dev.yaml");
    assert_eq!(diagnostic["line"], 9);
    assert!(
        diagnostic["message"]
            .as_str()
            .unwrap()
            .contains("ON_DEMAND")
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["event"], "summary");
    assert_eq!(summary["valid"], false);
}

#[test]
fn render_writes_a_template_and_parameters_per_stack() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = driftless(
        &repo_root(),
        &["render", "dev", "--out", out_dir.path().to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    for stack in [
        "user-management-dev-stateful",
        "user-management-dev-stateless",
    ] {
        let template =
            std::fs::read_to_string(out_dir.path().join(format!("{stack}.template.json"))).unwrap();
        let golden = std::fs::read_to_string(
            repo_root().join(format!("tests/golden/dev/{stack}.template.json")),
        )
        .unwrap();
        assert_eq!(template, golden);
        let params: Value = serde_json::from_str(
            &std::fs::read_to_string(out_dir.path().join(format!("{stack}.parameters.json")))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(params["stack"], stack);
    }
    let params: Value = serde_json::from_str(
        &std::fs::read_to_string(
            out_dir
                .path()
                .join("user-management-dev-stateless.parameters.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let sources = params["parameters"].as_array().unwrap();
    assert!(sources.iter().any(|p| p["name"] == "DatabaseTableName"
        && p["from"] == "output"
        && p["stack"] == "user-management-dev-stateful"));
    let assets: Vec<_> = std::fs::read_dir(out_dir.path().join("assets"))
        .unwrap()
        .collect();
    assert_eq!(assets.len(), 1);
}

#[test]
fn offline_plan_lists_waves_stacks_and_resources_as_json() {
    let out = driftless(
        &repo_root(),
        &["plan", "dev", "--offline", "--output", "json"],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    let events = json_lines(&stdout(&out));
    let waves: Vec<&Value> = events.iter().filter(|e| e["event"] == "wave").collect();
    assert_eq!(waves.len(), 2);
    assert_eq!(waves[0]["stacks"][0], "user-management-dev-stateful");
    let stateless = events
        .iter()
        .find(|e| e["event"] == "stack" && e["stack"] == "user-management-dev-stateless")
        .unwrap();
    assert_eq!(stateless["depends_on"][0], "user-management-dev-stateful");
    let table = events
        .iter()
        .find(|e| e["event"] == "resource" && e["logical_id"] == "DatabaseUsers")
        .unwrap();
    assert_eq!(table["retain"], true);
    assert_eq!(events.last().unwrap()["resources"], 15);
}

#[test]
fn unknown_environment_names_the_closest_one() {
    let out = driftless(&repo_root(), &["plan", "prd", "--offline"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)));
    assert!(
        stderr(&out).contains("did you mean `prod`?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn usage_errors_exit_with_the_usage_code() {
    let out = driftless(&repo_root(), &["deplyo"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    let out = driftless(&repo_root(), &["plan"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    let out = driftless(&repo_root(), &["deploy", "dev", "--allow-replace"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
}

#[test]
fn missing_project_folder_is_a_failure_with_advice() {
    let empty = tempfile::tempdir().unwrap();
    let out = driftless(empty.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILURE)));
    assert!(
        stderr(&out).contains("run driftless in the project root"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_protected_environment_refuses_to_skip_its_smoke_checks() {
    // Refused before any connection: the endpoint is never reached.
    let out = driftless(
        &repo_root(),
        &[
            "deploy",
            "prod",
            "--yes",
            "--no-smoke",
            "--endpoint",
            "http://127.0.0.1:9",
        ],
    );
    assert_eq!(out.status.code(), Some(i32::from(exit::REFUSED)));
    assert!(
        stderr(&out).contains("--no-smoke is refused"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn smoke_without_checks_says_where_to_declare_them() {
    let out = driftless(
        &repo_root().join("tests/fixtures/secret"),
        &["smoke", "dev", "--endpoint", "http://127.0.0.1:9"],
    );
    assert_eq!(out.status.code(), Some(i32::from(exit::USAGE)));
    assert!(
        stderr(&out).contains("declares no smoke checks"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_second_yaml_document_in_an_environment_or_a_unit_is_an_error_at_its_marker() {
    for file in ["environments/dev.yaml", "specs/api/unit.yaml"] {
        let project = reference_copy();
        let path = project.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let marker_line = text.lines().count() + 1;
        std::fs::write(&path, format!("{text}---\nbroken: [unclosed\n")).unwrap();
        let out = driftless(project.path(), &["validate", "--output", "json"]);
        assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)), "{file}");
        let events = json_lines(&stdout(&out));
        let d = events
            .iter()
            .find(|e| e["event"] == "diagnostic")
            .unwrap_or_else(|| panic!("{file}: no diagnostic"));
        assert_eq!(d["file"], file);
        assert_eq!(d["line"], marker_line as u64, "{d}");
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("second YAML document"),
            "{d}"
        );
        let deploy = driftless(project.path(), &["plan", "dev", "--offline"]);
        assert_eq!(
            deploy.status.code(),
            Some(i32::from(exit::INVALID)),
            "{file}"
        );
    }
}

#[test]
fn no_credentials_is_one_sentence_with_the_chain_to_fix_it() {
    let home = tempfile::tempdir().unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"));
    command
        .args(["--project"])
        .arg(repo_root())
        .args(["plan", "prod"]);
    for (key, _) in std::env::vars() {
        if key.starts_with("AWS_") || key.starts_with("DRIFTLESS_") {
            command.env_remove(key);
        }
    }
    let out = command.env("HOME", home.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(i32::from(exit::FAILURE)));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one sentence: {err}");
    assert!(lines[0].starts_with("error: GetCallerIdentity"), "{err}");
    assert!(lines[0].contains("no credentials were found"), "{err}");
    assert!(
        lines[0].contains("AWS_PROFILE") && lines[0].contains("aws sso login"),
        "{err}"
    );
    assert!(
        !err.contains("DispatchFailure") && !err.contains("ConnectorError"),
        "{err}"
    );
}

fn add_alerts_topic(project: &std::path::Path, topic_name: &str) {
    let unit = project.join("specs/monitoring/unit.yaml");
    let text = std::fs::read_to_string(&unit).unwrap();
    let text = text.replace(
        "resources:\n",
        &format!(
            "resources:\n  alerts:\n    type: AWS::SNS::Topic\n    properties:\n      TopicName: {topic_name}\n"
        ),
    );
    std::fs::write(&unit, text).unwrap();
}

#[test]
fn pseudo_parameters_are_references_and_render_as_ref() {
    let project = reference_copy();
    add_alerts_topic(
        project.path(),
        "\"${AWS::StackName}-alerts-${AWS::Region}\"",
    );
    let out_dir = tempfile::tempdir().unwrap();
    let out = driftless(
        project.path(),
        &["render", "dev", "--out", out_dir.path().to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    let template: Value = serde_json::from_str(
        &std::fs::read_to_string(
            out_dir
                .path()
                .join("user-management-dev-stateless.template.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let name = &template["Resources"]["MonitoringAlerts"]["Properties"]["TopicName"];
    assert_eq!(
        *name,
        serde_json::json!({ "Fn::Join": ["", [{ "Ref": "AWS::StackName" }, "-alerts-", { "Ref": "AWS::Region" }]] })
    );
}

#[test]
fn an_fn_sub_around_a_reference_or_an_unknown_pseudo_parameter_is_an_error_of_validate() {
    let project = reference_copy();
    add_alerts_topic(
        project.path(),
        "{ \"Fn::Sub\": \"${AWS::StackName}-alerts\" }",
    );
    let out = driftless(project.path(), &["validate", "--output", "json"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)));
    let events = json_lines(&stdout(&out));
    let d = events
        .iter()
        .find(|e| e["event"] == "diagnostic")
        .expect("a diagnostic");
    assert_eq!(d["file"], "specs/monitoring/unit.yaml");
    assert_eq!(d["line"], 8, "{d}");
    assert!(
        d["message"]
            .as_str()
            .unwrap()
            .contains("`Fn::Sub` takes a literal string"),
        "{d}"
    );
    assert!(
        d["help"].as_str().unwrap().contains("drop the `Fn::Sub`"),
        "{d}"
    );
    // With `$${` the Fn::Sub keeps its own variable and is fine.
    let project = reference_copy();
    add_alerts_topic(
        project.path(),
        "{ \"Fn::Sub\": \"$${AWS::StackName}-alerts\" }",
    );
    let out = driftless(project.path(), &["validate"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    // An unknown pseudo parameter names the ones there are.
    let project = reference_copy();
    add_alerts_topic(project.path(), "\"${AWS::Regoin}\"");
    let out = driftless(project.path(), &["validate"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::INVALID)));
    assert!(
        stderr(&out).contains("`${AWS::Region}`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_route_the_emulator_answers_itself_is_a_warning_of_validate_for_local_targets() {
    let project = reference_copy();
    let api = project.path().join("specs/api/unit.yaml");
    let text = std::fs::read_to_string(&api).unwrap();
    std::fs::write(
        &api,
        text.replace(
            "      \"GET /users\": handler\n",
            "      \"GET /users\": handler\n      \"GET /health\": handler\n",
        ),
    )
    .unwrap();
    let out = driftless(project.path(), &["validate", "--output", "json"]);
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "a warning, not an error"
    );
    let events = json_lines(&stdout(&out));
    let warnings: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "diagnostic" && e["severity"] == "warning")
        .collect();
    // dev is local; prod targets AWS, where the route works.
    assert_eq!(warnings.len(), 1, "{events:?}");
    assert_eq!(warnings[0]["file"], "specs/api/unit.yaml");
    assert_eq!(warnings[0]["line"], 24);
    assert!(
        warnings[0]["message"]
            .as_str()
            .unwrap()
            .contains("environment dev")
    );
    assert_eq!(events.last().unwrap()["warnings"], 1);
}

/// A DOT graph parsed by `pydot` in the tests' venv: its clusters (with
/// their nodes) and edges (with their labels), as JSON.
fn parse_dot(text: &str) -> Value {
    let python = super::tools::python();
    let script = "import json, sys, pydot\n\
        (g,) = pydot.graph_from_dot_data(sys.stdin.read())\n\
        clusters = {s.get_label().strip('\"'): sorted(n.get_name().strip('\"') for n in s.get_nodes()) for s in g.get_subgraphs()}\n\
        edges = [[e.get_source().strip('\"'), e.get_destination().strip('\"'), e.get_label().strip('\"')] for e in g.get_edges()]\n\
        print(json.dumps({'name': g.get_name().strip('\"'), 'clusters': clusters, 'edges': edges}))";
    super::support::python_json(&python, script, text)
}

#[test]
fn plan_draws_the_waves_as_a_graphviz_graph_and_nothing_else_on_stdout() {
    let out = driftless(
        &repo_root(),
        &["plan", "dev", "--offline", "--output", "dot"],
    );
    assert_eq!(
        out.status.code(),
        Some(i32::from(exit::OK)),
        "{}",
        stderr(&out)
    );
    let graph = parse_dot(&stdout(&out));
    assert_eq!(graph["name"], "user-management dev");
    assert_eq!(
        graph["clusters"],
        serde_json::json!({
            "wave 1": ["user-management-dev-stateful"],
            "wave 2": ["user-management-dev-stateless"],
        })
    );
    assert_eq!(
        graph["edges"],
        serde_json::json!([[
            "user-management-dev-stateful",
            "user-management-dev-stateless",
            "DatabaseTableArn, DatabaseTableName"
        ]])
    );
    // After the command, `--output` offers what that command prints;
    // before it, the same refusal comes with the reason.
    let refused = driftless(&repo_root(), &["validate", "--output", "dot"]);
    assert_eq!(refused.status.code(), Some(i32::from(exit::USAGE)));
    assert!(
        stderr(&refused).contains("[possible values: human, json]"),
        "{}",
        stderr(&refused)
    );
    let refused = driftless(&repo_root(), &["--output", "dot", "validate"]);
    assert_eq!(refused.status.code(), Some(i32::from(exit::USAGE)));
    assert!(stderr(&refused).contains("`--output dot` draws a plan's waves"));
}

#[test]
fn durations_out_of_bounds_are_usage_errors_not_panics() {
    let project = super::support::reference_copy();
    for args in [
        vec!["reconcile", "dev", "--once", "--interval", "1e20"],
        vec!["reconcile", "dev", "--once", "--retry-base", "1e300"],
        vec!["reconcile", "dev", "--once", "--interval=-5"],
        vec!["reconcile", "dev", "--once", "--interval", "0"],
        vec!["drift", "dev", "--drift-timeout", "18446744073709551615"],
        vec!["deploy", "dev", "--lock-wait", "forever"],
    ] {
        let out = super::support::driftless(project.path(), &args);
        assert_eq!(
            out.status.code(),
            Some(64),
            "{args:?}: {}",
            super::support::stderr(&out)
        );
        let stderr = super::support::stderr(&out);
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let out = super::support::driftless(
        project.path(),
        &[
            "reconcile",
            "dev",
            "--once",
            "--interval",
            "3m",
            "--git-timeout",
            "bogus",
        ],
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(super::support::stderr(&out).contains("bogus"));
}
