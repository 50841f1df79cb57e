//! Every rendered template passes cfn-lint with no errors. The harness installs
//! a pinned cfn-lint into target/tools unless CFN_LINT names one.

use super::support::repo_root;
use driftless::load::load_environment;
use std::path::{Path, PathBuf};
use std::process::Command;

const CFN_LINT_VERSION: &str = "1.51.0";

fn cfn_lint() -> PathBuf {
    // Tests run in parallel; one of them installs.
    static INSTALL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = std::env::var_os("CFN_LINT") {
        return PathBuf::from(path);
    }
    let venv = repo_root().join("target/tools/cfn-lint-venv");
    let bin = venv.join("bin/cfn-lint");
    if bin.exists() {
        return bin;
    }
    let status = Command::new("python3")
        .arg("-m")
        .arg("venv")
        .arg(&venv)
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "python3 -m venv failed; install python3 with venv"
    );
    let status = Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "--quiet",
            &format!("cfn-lint=={CFN_LINT_VERSION}"),
        ])
        .status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "pip install cfn-lint failed"
    );
    bin
}

fn lint(project: &Path, env: &str) {
    let (_, rendered, _) = load_environment(project, env).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for stack in &rendered.stacks {
        let path = dir.path().join(format!("{}.json", stack.name));
        std::fs::write(&path, &stack.template).unwrap();
        files.push(path);
    }
    // Warnings are advice; errors (exit code bit 2) fail the test.
    let output = Command::new(cfn_lint()).args(&files).output().unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 4 || code == 8 || code == 12,
        "cfn-lint reported errors for {env} (exit {code}):\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn reference_templates_pass_cfn_lint() {
    lint(&repo_root(), "dev");
    lint(&repo_root(), "prod");
}

#[test]
fn every_kind_renders_a_template_that_passes_cfn_lint() {
    lint(&repo_root().join("tests/fixtures/showcase"), "dev");
}
