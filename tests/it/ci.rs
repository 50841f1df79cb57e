//! driftless as a step in any CI: JUnit read by a real consumer
//! (junitparser), GitHub annotations and step summaries line by line,
//! `plan --output markdown`, `outputs --format env`.

use super::deploy::edit;
use super::emulator::{account, command, emulator, ok, summary};
use super::support::{python_json, reference_copy};
use std::path::Path;

/// One extra check that fails: the API has no `/teapot` route.
fn with_failing_check(project: &Path) {
    edit(
        &project.join("environments/dev.yaml"),
        "smoke:\n",
        "smoke:\n  - name: teapot\n    request: GET ${api.endpoint}/teapot\n    expect: { status: 418 }\n",
    );
}

/// dev's stateful stack names a unit that does not exist.
fn misspell_a_unit(project: &Path) {
    edit(
        &project.join("environments/dev.yaml"),
        "stateful: [database]",
        "stateful: [databse]",
    );
}

const READ_JUNIT: &str = r#"
import json, sys
from junitparser import JUnitXml, Failure
xml = JUnitXml.fromfile(sys.stdin.read().strip())
suites = []
for suite in xml:
    cases = []
    for case in suite:
        failures = [r for r in case.result if isinstance(r, Failure)]
        cases.append({"class": case.classname, "name": case.name,
                      "failure": failures[0].message if failures else None,
                      "text": failures[0].text if failures else None})
    suites.append({"name": suite.name, "tests": suite.tests, "failures": suite.failures, "cases": cases})
print(json.dumps(suites))
"#;

/// Deploys dev with `--junit`, its smoke checks failing (exit 7); the
/// report's path.
fn deploy_failing_its_checks(project: &Path, account: &str) -> std::path::PathBuf {
    let report = project.join("junit.xml");
    let out = command(
        project,
        account,
        &["deploy", "dev", "--junit", report.to_str().unwrap()],
        &emulator().endpoint(),
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(7), "{:?}", summary(&out));
    report
}

#[test]
fn junit_has_a_case_per_smoke_check_with_the_failure_text() {
    let project = reference_copy();
    with_failing_check(project.path());
    let account = account();
    let report = deploy_failing_its_checks(project.path(), &account);
    let suites = python_json(
        &super::tools::python(),
        READ_JUNIT,
        report.to_str().unwrap(),
    );
    let smoke = &suites[0];
    assert_eq!(smoke["name"], "smoke checks (release)");
    assert_eq!(smoke["tests"], 2);
    assert_eq!(smoke["failures"], 1);
    let cases = smoke["cases"].as_array().unwrap();
    let names: Vec<&str> = cases.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["teapot", "list users"]);
    assert!(cases[1]["failure"].is_null());
    let failure = cases[0]["failure"].as_str().unwrap();
    assert!(failure.contains("418"), "{failure}");
    assert!(cases[0]["text"].as_str().unwrap().contains("GET /teapot"));
    let pass = &suites[1];
    assert_eq!(pass["name"], "deploy dev");
    assert_eq!(pass["failures"], 1);

    // The same checks through `smoke`, passing once the bad one is gone.
    std::fs::copy(
        super::support::repo_root().join("environments/dev.yaml"),
        project.path().join("environments/dev.yaml"),
    )
    .unwrap();
    let out = command(
        project.path(),
        &account,
        &["smoke", "dev", "--junit", report.to_str().unwrap()],
        &emulator().endpoint(),
    )
    .output()
    .unwrap();
    ok(&out);
    let suites = python_json(
        &super::tools::python(),
        READ_JUNIT,
        report.to_str().unwrap(),
    );
    assert_eq!(suites[0]["tests"], 1);
    assert_eq!(suites[0]["failures"], 0);
    assert_eq!(suites[1]["name"], "smoke dev");
    assert_eq!(suites[1]["failures"], 0);
}

#[test]
fn under_github_actions_diagnostics_are_annotations() {
    let project = reference_copy();
    misspell_a_unit(project.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("--project")
        .arg(project.path())
        .arg("validate")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let annotations: Vec<&str> = stderr.lines().filter(|l| l.starts_with("::")).collect();
    // The same diagnostics, as JSON: where each is and what it says.
    let json = super::support::driftless(project.path(), &["--output", "json", "validate"]);
    let expected: Vec<String> = super::emulator::events(&json)
        .into_iter()
        .filter(|e| e["event"] == "diagnostic")
        .map(|d| {
            format!(
                "::error file={},line={},col={}::{}%0Ahelp: {}",
                d["file"].as_str().unwrap(),
                d["line"],
                d["column"],
                d["message"].as_str().unwrap(),
                d["help"].as_str().unwrap()
            )
        })
        .collect();
    assert!(expected.len() > 1);
    assert_eq!(annotations, expected, "{stderr}");
    assert_eq!(
        annotations[0],
        "::error file=environments/dev.yaml,line=6,col=14::stack `stateful` lists unit `databse`, which is not in specs/%0Ahelp: did you mean `database`?"
    );
    // Without GitHub Actions: none.
    let plain = super::support::driftless(project.path(), &["validate"]);
    assert!(!String::from_utf8_lossy(&plain.stderr).contains("::error"));
}

#[test]
fn the_step_summary_and_the_markdown_plan_say_what_changed_and_what_was_checked() {
    let project = reference_copy();
    let account = account();
    let plan = command(
        project.path(),
        &account,
        &["plan", "dev"],
        &emulator().endpoint(),
    )
    .args(["--output", "markdown"])
    .output()
    .unwrap();
    assert_eq!(plan.status.code(), Some(2));
    let text = String::from_utf8_lossy(&plan.stdout).to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "### driftless plan dev");
    assert_eq!(lines[1], "");
    assert_eq!(lines[2], "| Stack | Action | Why |");
    assert_eq!(lines[3], "|---|---|---|");
    let rows: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with("| `"))
        .collect();
    assert_eq!(
        rows,
        [
            "| `driftless-bootstrap` | create | not deployed |",
            "| `user-management-dev-stateful` | create | not deployed |",
            "| `user-management-dev-stateless` | create | not deployed |",
        ]
    );
    let last = lines.last().unwrap();
    assert!(last.starts_with("**Result: ok** (exit 2) in "), "{last}");
    assert!(last.ends_with(" mutating"), "{last}");

    let step_summary = project.path().join("summary.md");
    std::fs::write(&step_summary, "earlier step\n").unwrap();
    let deploy = command(
        project.path(),
        &account,
        &["deploy", "dev"],
        &emulator().endpoint(),
    )
    .env("GITHUB_ACTIONS", "true")
    .env("GITHUB_STEP_SUMMARY", &step_summary)
    .output()
    .unwrap();
    ok(&deploy);
    let text = std::fs::read_to_string(&step_summary).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "earlier step", "appended, not replaced");
    assert_eq!(lines[1], "### driftless deploy dev");
    let checks = lines
        .iter()
        .position(|l| l.starts_with("| Check |"))
        .unwrap();
    assert_eq!(
        lines[checks],
        "| Check | Phase | Result | Request | Status | Latency |"
    );
    let row = lines[checks + 2];
    assert!(
        row.starts_with("| list users | release | passed | `GET /users` | 200 | "),
        "{row}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("**Result: ok** (exit 0)"))
    );
}

#[test]
fn outputs_as_env_lines_are_the_only_thing_on_stdout() {
    let project = reference_copy();
    let account = account();
    ok(&command(
        project.path(),
        &account,
        &["deploy", "dev"],
        &emulator().endpoint(),
    )
    .output()
    .unwrap());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .arg("--project")
        .arg(project.path())
        .args(["outputs", "dev", "--format", "env"])
        .env("DRIFTLESS_ENDPOINT", emulator().endpoint())
        .env("AWS_ACCESS_KEY_ID", &account)
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env(
            "DRIFTLESS_HOME",
            super::support::repo_root().join("target/tools/driftless-home"),
        )
        .output()
        .unwrap();
    ok(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<(String, String)> = stdout
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('=').expect("NAME=value");
            (k.to_string(), v.to_string())
        })
        .collect();
    // The same outputs as JSON events: `unit.output` and value.
    let json = command(
        project.path(),
        &account,
        &["outputs", "dev"],
        &emulator().endpoint(),
    )
    .output()
    .unwrap();
    let expected: Vec<(String, String)> = super::emulator::events(&json)
        .into_iter()
        .filter(|e| e["event"] == "output")
        .map(|e| {
            (
                e["name"]
                    .as_str()
                    .unwrap()
                    .replace(['.', '-'], "_")
                    .to_uppercase(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(expected.len() >= 3, "{expected:?}");
    assert_eq!(lines, expected);
    assert!(stdout.contains("API_ENDPOINT=http"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("output(s)"));
}

#[test]
fn a_deploy_that_stops_before_any_check_is_one_failed_case_with_its_errors() {
    let project = reference_copy();
    misspell_a_unit(project.path());
    // In a folder that does not exist yet, as in a fresh CodeBuild source.
    let report = project.path().join("driftless-reports/junit.xml");
    let out = super::support::driftless(
        project.path(),
        &["deploy", "dev", "--junit", report.to_str().unwrap()],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        super::support::stderr(&out)
    );
    let suites = python_json(
        &super::tools::python(),
        READ_JUNIT,
        report.to_str().unwrap(),
    );
    assert_eq!(
        suites.as_array().unwrap().len(),
        1,
        "no checks ran: {suites}"
    );
    let case = &suites[0]["cases"][0];
    assert_eq!(suites[0]["failures"], 1);
    let failure = case["failure"].as_str().unwrap();
    assert!(
        failure.starts_with("environments/dev.yaml:6:14: stack `stateful` lists unit `databse`"),
        "{failure}"
    );
    assert!(case["text"].as_str().unwrap().lines().count() > 1);
}

/// Lines a GitHub runner would read as workflow commands in what `out`
/// printed on either stream: any line that starts, blanks aside, with `::`
/// or `##[` and mentions `pwned` was forged by untrusted text.
fn forged_commands(out: &std::process::Output) -> Vec<String> {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.split(['\n', '\r'])
        .filter(|l| {
            let start = l.trim_start();
            (start.starts_with("::") || start.starts_with("##[")) && l.contains("pwned")
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn under_github_actions_no_file_name_forges_a_workflow_command() {
    for human in [true, false] {
        let account = account();
        let (project, _app) = super::content::site(&account);
        let folder = project.path().join("specs/files/public");
        for name in [
            "evil\n::warning::pwned.txt",
            "evil\r::add-mask::pwned.txt",
            "evil\n##[error]pwned.txt",
        ] {
            std::fs::write(folder.join(name), "x").unwrap();
        }
        let args = ["deploy", "dev", "--yes", "--no-smoke"];
        let mut command = match human {
            true => super::emulator::human_command(project.path(), &account, &args),
            false => command(project.path(), &account, &args, &emulator().endpoint()),
        };
        let out = command
            .env("GITHUB_ACTIONS", "true")
            .env_remove("GITHUB_STEP_SUMMARY")
            .output()
            .unwrap();
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(shown.contains("pwned"), "the names are shown: {shown}");
        assert_eq!(forged_commands(&out), Vec::<String>::new(), "{shown}");
    }
}

#[test]
fn junit_stays_well_formed_with_any_character_in_a_name_or_message() {
    use driftless::output::report::{Outcome, Record, Records};
    use driftless::smoke::CheckResult;
    let hostile = "a\u{1}b\u{ffff}c\u{fffe}d\u{1b}[31m<&\"'>\u{0}";
    let records = vec![
        Record::Subject(format!("dev {hostile}")),
        Record::Check {
            phase: "release".into(),
            result: CheckResult {
                name: hostile.into(),
                target: format!("GET /{hostile}"),
                passed: false,
                attempts: 1,
                status: Some(500),
                latency_ms: Some(3),
                failure: Some(format!("body: {hostile}")),
            },
        },
        Record::Problem(hostile.into()),
        Record::Ended(Outcome {
            result: "failed".into(),
            exit_code: 7,
            seconds: 1.0,
            api_calls: 1,
            mutating: 0,
        }),
    ];
    let xml = driftless::output::junit::render(
        &Records(&records),
        "deploy",
        std::time::SystemTime::now(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("junit.xml");
    std::fs::write(&file, &xml).unwrap();
    let suites = python_json(&super::tools::python(), READ_JUNIT, file.to_str().unwrap());
    let case = &suites[0]["cases"][0];
    let name = case["name"].as_str().unwrap();
    assert!(
        name.contains("\\u{ffff}") && name.contains("<&\"'>"),
        "{name}"
    );
    assert!(
        case["failure"].as_str().unwrap().contains("\\u{1}"),
        "{case}"
    );
    assert_eq!(suites[1]["failures"], 1);
}

#[test]
fn a_check_that_never_ran_is_skipped_in_junit_with_timestamps_and_durations() {
    let project = reference_copy();
    edit(
        &project.path().join("environments/dev.yaml"),
        "smoke:\n",
        "smoke:\n  - name: teapot\n    request: GET ${api.endpoint}/teapot\n    expect: { status: 418 }\n    retries: 0\n  - name: after the teapot\n    after: [teapot]\n    request: GET ${api.endpoint}/users\n    expect: { status: 200 }\n",
    );
    let account = account();
    let report = deploy_failing_its_checks(project.path(), &account);
    let read = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.stdin.read().strip())
out = []
for suite in xml:
    cases = [{"name": c.name, "time": c.time,
              "result": [type(r).__name__ for r in c.result]} for c in suite]
    out.append({"name": suite.name, "timestamp": suite.timestamp, "time": suite.time,
                "skipped": suite.skipped, "failures": suite.failures, "cases": cases})
print(json.dumps(out))
"#;
    let suites = python_json(&super::tools::python(), read, report.to_str().unwrap());
    let smoke = &suites[0];
    let result = |name: &str| {
        smoke["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["result"].clone())
            .unwrap_or_default()
    };
    assert_eq!(result("teapot"), serde_json::json!(["Failure"]), "{suites}");
    assert_eq!(
        result("after the teapot"),
        serde_json::json!(["Skipped"]),
        "{suites}"
    );
    assert_eq!(smoke["skipped"], 1, "{suites}");
    assert_eq!(smoke["failures"], 1, "{suites}");
    for suite in suites.as_array().unwrap() {
        assert!(
            suite["timestamp"]
                .as_str()
                .is_some_and(|t| t.starts_with("20")),
            "{suite}"
        );
    }
    assert!(suites[1]["time"].as_f64().unwrap() > 0.0, "{suites}");
}
