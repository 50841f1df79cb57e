//! The tests' own Python tools (cfn-lint, the Prometheus and JUnit parsers,
//! a Graphviz reader, Selenium, parliament, the AWS CLI a build runs, a
//! JSON Schema validator),
//! pinned, in one virtual environment under
//! `target/tools`. The harness installs them itself on first use, once per
//! machine, so a plain `cargo test` works on a fresh clone; `CFN_LINT`
//! names another venv's cfn-lint (its folder's Python is then used too).

use super::support::repo_root;
use std::path::{Path, PathBuf};
use std::process::Command;

/// What the tests import or run, pinned. A change here reinstalls.
const REQUIREMENTS: &[&str] = &[
    "cfn-lint==1.51.0",
    "prometheus-client==0.23.1",
    "pydot==4.0.1",
    "selenium==4.45.0",
    "junitparser==3.2.0",
    "cryptography==46.0.7",
    "parliament==1.6.3",
    "awscli==1.46.3",
    "jsonschema==4.26.0",
];

/// The folder holding the venv's executables (`python`, `cfn-lint`).
pub fn bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CFN_LINT") {
        let cfn_lint = PathBuf::from(path);
        if let Some(folder) = cfn_lint.parent() {
            return folder.to_path_buf();
        }
    }
    static VENV: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    VENV.get_or_init(|| {
        let venv = repo_root().join("target/tools/test-venv");
        install(&venv).unwrap_or_else(|e| panic!("cannot install the tests' Python tools: {e}"));
        venv.join("bin")
    })
    .clone()
}

/// The venv's Python.
pub fn python() -> PathBuf {
    bin().join("python")
}

/// Builds the venv beside its final place and renames it in, so that two
/// test processes never see half an install.
fn install(venv: &Path) -> Result<(), String> {
    let stamp = REQUIREMENTS.join("\n");
    let stamp_file = venv.join("requirements.txt");
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        return Ok(());
    }
    let parent = venv.parent().ok_or("the venv has no parent folder")?;
    std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
    let building = parent.join(format!("test-venv.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    eprintln!(
        "installing the tests' Python tools ({}) into {} (once)",
        REQUIREMENTS.join(", "),
        venv.display()
    );
    run(Command::new("python3").arg("-m").arg("venv").arg(&building))
        .map_err(|e| format!("python3 -m venv: {e} (install python3 with its venv module)"))?;
    run(Command::new(building.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(REQUIREMENTS))
    .map_err(|e| format!("pip install: {e}"))?;
    std::fs::write(building.join("requirements.txt"), &stamp).map_err(|e| e.to_string())?;
    if std::fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        // Another process finished first.
        let _ = std::fs::remove_dir_all(&building);
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(venv);
    std::fs::rename(&building, venv).map_err(|e| e.to_string())?;
    fix_shebangs(&building, venv)
}

/// pip writes the venv's absolute path into its scripts' `#!` lines.
fn fix_shebangs(from: &Path, to: &Path) -> Result<(), String> {
    let (from, to) = (from.display().to_string(), to.display().to_string());
    let entries = std::fs::read_dir(Path::new(&to).join("bin")).map_err(|e| e.to_string())?;
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_file() || path.is_symlink() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if text.contains(&from) {
            std::fs::write(&path, text.replace(&from, &to)).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

fn run(command: &mut Command) -> Result<(), String> {
    let out = command.output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Whether a system tool the tests need is on this machine. Without it,
/// under `cargo test` the test says why and passes by skipping; under
/// `CI=true` it fails, because CI installs every tool.
pub fn system_tool(paths: &[&str], why: &str) -> bool {
    let missing: Vec<&&str> = paths.iter().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!("{why} needs {missing:?}, not on this machine");
    assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{message}");
    eprintln!("skipped: {message}");
    false
}
