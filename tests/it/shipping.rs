//! How driftless ships beside `cargo install`: the Dockerfile's build
//! stage (scripts/dist, run here with the dev profile: the same commands,
//! a glibc binary that names its commit) and the composite GitHub Action,
//! whose steps are run as a runner would (inputs in the environment,
//! `${{ ... }}` expressions resolved, the working directory set).

use super::emulator::{account, emulator, home};
use super::support::{reference_copy, repo_root};
use driftless::yaml::Node;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

#[test]
fn the_dockerfile_builds_with_scripts_dist_a_glibc_binary_naming_its_commit() {
    let dockerfile = std::fs::read_to_string(repo_root().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(
        stages.len(),
        2,
        "a build stage and a runtime stage: {stages:?}"
    );
    assert!(
        stages[0].ends_with(" AS build") && stages[0].contains("bookworm"),
        "{stages:?}"
    );
    assert!(
        stages[1].contains("debian:bookworm"),
        "the runtime has the build's glibc: {stages:?}"
    );
    assert!(dockerfile.contains("\nRUN scripts/dist /out\n"));
    assert!(dockerfile.contains("COPY --from=build /out/driftless /usr/local/bin/driftless"));
    let ignored = std::fs::read_to_string(repo_root().join(".dockerignore")).unwrap();
    assert!(
        ignored.lines().any(|l| l == "target"),
        "the context leaves target/ out"
    );

    // The build stage's command, as the stage runs it. The dev profile is
    // what `cargo test` built already, so this builds nothing anew (a
    // different DRIFTLESS_COMMIT would rebuild the binary other tests run).
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(repo_root().join("scripts/dist"))
        .arg(out.path())
        .env("PROFILE", "dev")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let version = String::from_utf8_lossy(&run.stdout).to_string();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(repo_root())
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
    assert!(version.contains(&format!("({head}, built ")), "{version}");
    // Dynamically linked against glibc's libraries only, which the slim
    // runtime image has.
    let ldd = Command::new("ldd")
        .arg(out.path().join("driftless"))
        .output()
        .unwrap();
    let libraries = String::from_utf8_lossy(&ldd.stdout).to_string();
    for line in libraries.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let glibc = [
            "linux-vdso",
            "libc.so",
            "libm.so",
            "libgcc_s.so",
            "ld-linux",
            "libpthread",
            "libdl",
            "librt",
        ];
        assert!(
            glibc.iter().any(|g| name.contains(g)),
            "{name} is not in the runtime image:\n{libraries}"
        );
    }
}

/// The action's steps, read from action.yml.
fn steps() -> Vec<Node> {
    let text = std::fs::read_to_string(repo_root().join("action.yml")).unwrap();
    let action = driftless::yaml::parse(&text).unwrap();
    assert_eq!(
        action
            .get("runs")
            .and_then(|r| r.get("using"))
            .and_then(Node::as_str),
        Some("composite")
    );
    match &action
        .get("runs")
        .and_then(|r| r.get("steps"))
        .unwrap()
        .value
    {
        driftless::yaml::Value::Seq(steps) => steps.clone(),
        _ => panic!("runs.steps is a list"),
    }
}

/// `${{ inputs.NAME }}` and `${{ github.action_path }}` as the runner
/// resolves them.
fn resolve(text: &str, inputs: &BTreeMap<&str, &str>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find("}}").map(|e| start + e).expect("closed");
        let expression = rest[start + 3..end].trim();
        let value = match expression.strip_prefix("inputs.") {
            Some(name) => inputs.get(name).map(|v| v.to_string()).unwrap_or_default(),
            None if expression == "github.action_path" => repo_root().display().to_string(),
            None => panic!("the test resolves no `{expression}`"),
        };
        out.push_str(&value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// Runs the action's `run:` steps with `inputs` in `workspace`; returns
/// the last step's exit code and what it wrote to $GITHUB_OUTPUT.
fn run_action(
    workspace: &Path,
    account: &str,
    inputs: &BTreeMap<&str, &str>,
) -> (i32, String, String) {
    let output_file = workspace.join("github-output");
    let bin = Path::new(env!("CARGO_BIN_EXE_driftless"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (mut code, mut log) = (0, String::new());
    for step in steps() {
        let Some(script) = step.get("run").and_then(Node::as_str) else {
            continue;
        };
        assert_eq!(step.get("shell").and_then(Node::as_str), Some("bash"));
        // Inputs reach the script through env:, never inside `run:`.
        assert!(
            !script.contains("${{"),
            "an expression inside run: is a script injection: {script}"
        );
        let dir = step
            .get("working-directory")
            .and_then(Node::as_str)
            .map(|d| workspace.join(resolve(d, inputs)))
            .unwrap_or_else(|| workspace.to_path_buf());
        let mut command = Command::new("bash");
        command.args(["-c", script]).current_dir(dir);
        if let Some(driftless::yaml::Value::Map(env)) = step.get("env").map(|e| &e.value) {
            for entry in env {
                let value = entry.value.as_str().unwrap_or_default();
                command.env(&entry.key, resolve(value, inputs));
            }
        }
        let out = command
            .env("PATH", &path)
            .env("GITHUB_OUTPUT", &output_file)
            .env("DRIFTLESS_ENDPOINT", emulator().endpoint())
            .env("DRIFTLESS_HOME", home())
            .env("AWS_ACCESS_KEY_ID", account)
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env_remove("DRIFTLESS_PROJECT")
            .output()
            .unwrap();
        code = out.status.code().unwrap_or(-1);
        log.push_str(&String::from_utf8_lossy(&out.stdout));
        log.push_str(&String::from_utf8_lossy(&out.stderr));
        if code != 0 {
            break;
        }
    }
    let outputs = std::fs::read_to_string(&output_file).unwrap_or_default();
    (code, outputs, log)
}

#[test]
fn the_action_deploys_writes_the_junit_report_it_uploads_and_says_the_exit_code() {
    let project = reference_copy();
    let workspace = project
        .path()
        .parent()
        .unwrap()
        .join(format!("ws-{}", account()));
    std::fs::create_dir_all(&workspace).unwrap();
    std::fs::rename(project.path(), workspace.join("app")).unwrap();
    let inputs = BTreeMap::from([
        ("command", "deploy dev --yes"),
        ("junit", "reports/smoke.xml"),
        ("working-directory", "app"),
    ]);
    let (code, outputs, log) = run_action(&workspace, &account(), &inputs);
    assert_eq!(code, 0, "{log}");
    assert!(log.contains("driftless is on PATH: driftless "), "{log}");
    assert_eq!(outputs.trim(), "exit-code=0");
    // The upload step takes the file the run step wrote.
    let upload = steps()
        .into_iter()
        .find(|s| {
            s.get("uses")
                .and_then(Node::as_str)
                .is_some_and(|u| u.starts_with("actions/upload-artifact@"))
        })
        .expect("an upload step");
    let path = resolve(
        upload
            .get("with")
            .and_then(|w| w.get("path"))
            .and_then(Node::as_str)
            .unwrap(),
        &inputs,
    );
    let report = std::fs::read_to_string(workspace.join(&path))
        .unwrap_or_else(|e| panic!("{path}: {e}\n{log}"));
    assert!(
        report.contains("<testsuites") && report.contains("list users"),
        "{report}"
    );
    let condition = upload.get("if").and_then(Node::as_str).unwrap_or_default();
    assert!(
        condition.contains("always()"),
        "the report is uploaded when the deploy fails too"
    );
    std::fs::remove_dir_all(&workspace).unwrap();
}

#[test]
fn the_action_passes_its_command_as_arguments_never_to_a_shell() {
    let workspace = reference_copy();
    let marker = workspace.path().join("pwned");
    let command = format!(
        "validate $(touch {}) `touch {}`",
        marker.display(),
        marker.display()
    );
    let inputs = BTreeMap::from([
        ("command", command.as_str()),
        ("junit", ""),
        ("working-directory", "."),
    ]);
    let (code, outputs, log) = run_action(workspace.path(), &account(), &inputs);
    assert!(!marker.exists(), "the command input ran in a shell:\n{log}");
    assert_eq!(code, 64, "{log}");
    assert_eq!(outputs.trim(), "exit-code=64");
}
