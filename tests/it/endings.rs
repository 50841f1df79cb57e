//! Every command ends with exactly one `summary` event, last, on every exit
//! path: success, invalid files, refusals, a missing approval, an
//! unreachable target; and the refusals of the same kind share one code.

use super::deploy::{edit, reference_app};
use super::emulator::{account, command, run};
use super::support::{driftless, reference_copy};
use driftless::exit;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

/// Asserts the exit code and that stdout is JSON lines ending in the one
/// summary, which repeats the code. Returns the events.
fn ends_with_one_summary(out: &Output, code: u8) -> Vec<Value> {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(i32::from(code)),
        "stdout:\n{text}\nstderr:\n{err}"
    );
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}\n{text}")))
        .collect();
    let summaries = events.iter().filter(|e| e["event"] == "summary").count();
    assert_eq!(summaries, 1, "{text}");
    let last = events.last().unwrap_or_else(|| panic!("no events:\n{err}"));
    assert_eq!(last["event"], "summary", "{text}");
    assert_eq!(last["exit_code"], i64::from(code), "{text}");
    events
}

fn json(project: &Path, args: &[&str]) -> Output {
    let mut all = vec!["--output", "json"];
    all.extend_from_slice(args);
    driftless(project, &all)
}

fn started(events: &[Value]) -> bool {
    events
        .iter()
        .any(|e| e["event"] == "start" || e["event"] == "local")
}

#[test]
fn offline_commands_end_with_one_summary_on_success_and_on_invalid_files() {
    let project = reference_copy();
    let root = project.path();
    ends_with_one_summary(&json(root, &["validate"]), exit::OK);
    ends_with_one_summary(&json(root, &["plan", "dev", "--offline"]), exit::OK);
    let out = tempfile::tempdir().unwrap();
    let out = out.path().to_str().unwrap().to_string();
    ends_with_one_summary(&json(root, &["render", "dev", "--out", &out]), exit::OK);
    ends_with_one_summary(&json(root, &["plan", "nope", "--offline"]), exit::INVALID);
    edit(
        &root.join("environments/dev.yaml"),
        "target: local",
        "target: locale",
    );
    for args in [
        vec!["validate"],
        vec!["render", "dev", "--out", &out],
        vec!["plan", "dev", "--offline"],
        vec!["plan", "dev"],
        vec!["deploy", "dev"],
        vec!["watch", "dev", "--once"],
        vec!["smoke", "dev"],
        vec!["outputs", "dev"],
        vec!["destroy", "dev", "--yes"],
    ] {
        let events = ends_with_one_summary(&json(root, &args), exit::INVALID);
        assert!(
            events.iter().any(|e| e["event"] == "diagnostic"),
            "{args:?}"
        );
        assert!(
            !started(&events),
            "{args:?}: nothing starts on invalid files"
        );
    }
}

#[test]
fn refusals_of_protected_environments_share_one_code_and_start_nothing() {
    let project = reference_copy();
    let root = project.path();
    for args in [
        vec!["deploy", "prod", "--no-smoke", "--yes"],
        vec!["watch", "prod", "--no-smoke", "--yes", "--once"],
        vec!["destroy", "prod", "--yes"],
    ] {
        let events = ends_with_one_summary(&json(root, &args), exit::REFUSED);
        let error = events
            .iter()
            .find(|e| e["event"] == "error")
            .expect("an error event");
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("protected")),
            "{args:?}: {error}"
        );
        assert!(
            !started(&events),
            "{args:?}: refused before any network call"
        );
    }
}

#[test]
fn smoke_without_checks_is_a_usage_error_before_any_network_call() {
    let project = reference_copy();
    let dev = project.path().join("environments/dev.yaml");
    let text = std::fs::read_to_string(&dev).unwrap();
    let without = text
        .split("\nsmoke:")
        .next()
        .unwrap_or_default()
        .to_string()
        + "\n";
    std::fs::write(&dev, without).unwrap();
    let events = ends_with_one_summary(&json(project.path(), &["smoke", "dev"]), exit::USAGE);
    assert!(!started(&events));
}

#[test]
fn errors_go_to_stderr_for_people_and_the_summary_stays_on_stdout() {
    let project = reference_copy();
    let out = driftless(project.path(), &["destroy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(i32::from(exit::REFUSED)));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: environment prod is protected"),
        "{stderr}"
    );
    assert!(stderr.contains("help: set `protect: false`"), "{stderr}");
    assert!(!stdout.contains("error"), "{stdout}");
    assert!(stdout.trim_end().ends_with("destroy failed"), "{stdout}");
}

#[test]
fn a_broken_build_never_blocks_destroy_outputs_or_smoke() {
    let account = account();
    let (project, _) = reference_app(&account);
    let api = project.path().join("specs/api/unit.yaml");
    edit(
        &api,
        "handler: lambda_function.lambda_handler",
        "handler: lambda_function.lambda_handler\n    build: echo built >> ../../../build-ran; exit 9",
    );
    let marker = project.path().join("build-ran");
    // Nothing deployed: outputs fails (not deployed), smoke fails, destroy
    // has nothing to delete; none of them runs the build.
    ends_with_one_summary(
        &run(project.path(), &account, &["outputs", "dev"]),
        exit::FAILURE,
    );
    ends_with_one_summary(
        &run(project.path(), &account, &["smoke", "dev"]),
        exit::SMOKE_FAILED,
    );
    ends_with_one_summary(
        &run(project.path(), &account, &["destroy", "dev", "--yes"]),
        exit::OK,
    );
    assert!(!marker.exists(), "no build ran");
    // A command that deploys does build, and reports the failure.
    let events = ends_with_one_summary(
        &run(project.path(), &account, &["plan", "dev"]),
        exit::INVALID,
    );
    assert!(marker.exists(), "plan builds: {events:?}");
}

#[test]
fn cloud_commands_end_with_one_summary_when_the_target_cannot_be_reached() {
    let project = reference_copy();
    let account = account();
    for args in [
        vec!["plan", "dev"],
        vec!["deploy", "dev", "--yes"],
        vec!["outputs", "dev"],
        vec!["smoke", "dev"],
        vec!["destroy", "dev", "--yes"],
    ] {
        let out = command(project.path(), &account, &args, "http://127.0.0.1:9")
            .output()
            .expect("run driftless");
        let events = ends_with_one_summary(&out, exit::FAILURE);
        assert!(events.iter().any(|e| e["event"] == "error"), "{args:?}");
    }
}

#[test]
fn a_deploy_that_needs_approval_and_gets_none_ends_with_its_summary() {
    let account = "222222222222";
    let project = reference_copy();
    edit(
        &project.path().join("environments/prod.yaml"),
        "app: user-management",
        "app: approval-summary",
    );
    let events = ends_with_one_summary(
        &run(project.path(), account, &["deploy", "prod"]),
        exit::FAILURE,
    );
    let error = events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("approval required"))
    );
    assert_eq!(error["help"], "pass --yes, or --ci in a pipeline");
}
