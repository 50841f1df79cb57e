//! The GitOps loop against the emulator: `driftless reconcile` following a
//! bare repository on disk, commits pushed from a working clone.

use super::deploy::{edit, reference_app, stacks};
use super::emulator::{Clients, account, clients, command, emulator, run};
use super::running::Running;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A working clone and the bare repository it pushes to.
struct Repo {
    _dir: tempfile::TempDir,
    work: PathBuf,
    origin: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=tester",
            "-c",
            "user.email=tester@example.com",
        ])
        .args(args)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Repo {
    /// The reference app under its own app name, committed and pushed.
    fn new(account: &str) -> (Repo, String) {
        let (project, app) = reference_app(account);
        let dir = tempfile::tempdir().expect("temp dir");
        let work = dir.path().join("work");
        let origin = dir.path().join("origin.git");
        super::support::copy_dir(project.path(), &work);
        git(&work, &["init", "-q", "-b", "main"]);
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "-q", "-m", "the reference app"]);
        git(dir.path(), &["clone", "-q", "--bare", "work", "origin.git"]);
        git(
            &work,
            &["remote", "add", "origin", origin.to_str().expect("path")],
        );
        (
            Repo {
                _dir: dir,
                work,
                origin,
            },
            app,
        )
    }

    /// Edits a file, commits and pushes; returns the new commit.
    fn push(&self, file: &str, from: &str, to: &str, message: &str) -> String {
        edit(&self.work.join(file), from, to);
        git(&self.work, &["commit", "-q", "-am", message]);
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

/// `driftless reconcile dev` following `repo`, from an empty folder.
fn agent(repo: &Repo, account: &str, extra: &[&str]) -> Running {
    let origin = repo.origin.to_str().expect("path").to_string();
    let mut args = vec!["reconcile", "dev", "--repo", &origin, "--branch", "main"];
    args.extend_from_slice(extra);
    let empty = repo.work.parent().expect("parent").join("elsewhere");
    std::fs::create_dir_all(&empty).expect("folder");
    Running::spawn(command(&empty, account, &args, &emulator().endpoint()))
}

fn tick(agent: &mut Running, want: impl Fn(&Json) -> bool) -> Json {
    agent.next(
        |e| e["event"] == "reconcile_tick" && want(e),
        Duration::from_secs(90),
    )
}

fn revision(c: &Clients, stack: &str) -> Option<String> {
    c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
        .expect("describe")
        .stacks()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("driftless:revision"))
        .and_then(|t| t.value().map(String::from))
}

const MEMORY_256: &str = "memory: { type: integer, default: 256 }";
const MEMORY_384: &str = "memory: { type: integer, default: 384 }";

#[test]
fn a_pushed_commit_is_applied_within_a_tick_and_a_quiet_tick_changes_nothing() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let mut agent = agent(&repo, &account, &["--interval", "1"]);
    let first = tick(&mut agent, |_| true);
    assert_eq!(first["result"], "applied", "{first:#}");

    let commit = repo.push("specs/api/unit.yaml", MEMORY_256, MEMORY_384, "more memory");
    let applied = tick(&mut agent, |e| e["commit"] == commit.as_str());
    assert_eq!(applied["result"], "applied", "{applied:#}");
    assert_eq!(revision(&c, &stateless), Some(commit.clone()));

    let quiet = tick(&mut agent, |e| e["commit"] == commit.as_str());
    assert_eq!(quiet["result"], "in_sync", "{quiet:#}");
    assert_eq!(quiet["api_calls"]["mutating"], 0, "{quiet:#}");
    assert!(quiet["api_calls"]["total"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn an_invalid_commit_is_reported_once_and_the_next_good_one_applied() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut agent = agent(&repo, &account, &["--interval", "0.5"]);
    tick(&mut agent, |e| e["result"] == "applied");

    let bad = repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: [",
        "broken",
    );
    let first = tick(&mut agent, |e| e["commit"] == bad.as_str());
    assert_eq!(first["result"], "invalid", "{first:#}");
    assert!(
        first["message"]
            .as_str()
            .unwrap_or_default()
            .contains("environments/dev.yaml:"),
        "{first:#}"
    );
    for _ in 0..3 {
        let again = tick(&mut agent, |_| true);
        assert_eq!(again["result"], "blocked", "not retried: {again:#}");
    }
    let diagnostics = agent
        .seen
        .iter()
        .filter(|e| e["event"] == "diagnostic")
        .count();
    assert_eq!(diagnostics, 1, "reported once: {:#?}", agent.seen);

    let good = repo.push(
        "environments/dev.yaml",
        "hotswap: [",
        "hotswap: true",
        "fixed",
    );
    let fixed = tick(&mut agent, |e| e["commit"] == good.as_str());
    assert_eq!(
        fixed["result"], "in_sync",
        "the fix puts back what runs: {fixed:#}"
    );
}

#[test]
fn a_failing_commit_is_retried_with_growing_delays_and_a_new_commit_at_once() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut agent = agent(&repo, &account, &["--interval", "4", "--retry-base", "0.3"]);
    tick(&mut agent, |e| e["result"] == "applied");

    // A raw resource the emulator's CloudFormation rejects at deploy time.
    let broken = repo.push(
        "specs/api/unit.yaml",
        "  http:\n",
        "  broken:\n    type: AWS::Driftless::Nothing\n    properties: {}\n  http:\n",
        "a resource type nobody has",
    );
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let failed = tick(&mut agent, |e| {
            e["commit"] == broken.as_str() && e["result"] == "failed"
        });
        attempts.push((
            *agent.arrived.last().expect("a time"),
            failed["attempts"].as_u64().unwrap_or(0),
        ));
    }
    let counts: Vec<u64> = attempts.iter().map(|(_, n)| *n).collect();
    assert_eq!(counts, [1, 2, 3, 4], "{:#?}", agent.seen);
    let gaps: Vec<Duration> = attempts.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(
        gaps[0] < gaps[1] && gaps[1] < gaps[2],
        "the delays grow: {gaps:?}"
    );

    let fixed = repo.push(
        "specs/api/unit.yaml",
        "  broken:\n    type: AWS::Driftless::Nothing\n    properties: {}\n",
        "",
        "drop it",
    );
    let started = std::time::Instant::now();
    let applied = tick(&mut agent, |e| e["commit"] == fixed.as_str());
    assert!(
        matches!(applied["result"].as_str(), Some("applied" | "in_sync")),
        "{applied:#}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "not held back by the backoff"
    );
}

#[test]
fn a_suspended_environment_is_reported_out_of_sync_and_applied_after_resume() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let mut agent = agent(&repo, &account, &["--interval", "0.5"]);
    let first = tick(&mut agent, |e| e["result"] == "applied");

    let suspend = run(
        &repo.work,
        &account,
        &["suspend", "dev", "--reason", "incident 42"],
    );
    super::emulator::ok(&suspend);
    let status = run(&repo.work, &account, &["status", "dev"]);
    let shown = super::emulator::events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .expect("status");
    assert_eq!(shown["status"]["suspended"]["reason"], "incident 42");

    let commit = repo.push("specs/api/unit.yaml", MEMORY_256, MEMORY_384, "more memory");
    let held = tick(&mut agent, |e| e["commit"] == commit.as_str());
    assert_eq!(held["result"], "suspended", "{held:#}");
    assert_eq!(
        revision(&c, &stateless),
        first["commit"].as_str().map(String::from)
    );

    super::emulator::ok(&run(&repo.work, &account, &["resume", "dev"]));
    let applied = tick(&mut agent, |e| {
        e["commit"] == commit.as_str() && e["result"] == "applied"
    });
    assert_eq!(applied["exit_code"], 0);
    assert_eq!(revision(&c, &stateless), Some(commit));
}

#[test]
fn drift_made_by_hand_is_healed_within_a_tick_where_the_environment_says_so() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nself_heal: true",
        "heal",
    );
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let mut agent = agent(&repo, &account, &["--interval", "0.5"]);
    tick(&mut agent, |e| e["result"] == "applied");
    let function =
        c.rt.block_on(
            c.cfn
                .describe_stack_resource()
                .stack_name(&stateless)
                .logical_resource_id("ApiHandler")
                .send(),
        )
        .expect("resource")
        .stack_resource_detail()
        .and_then(|d| d.physical_resource_id().map(String::from))
        .expect("function");
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(700)
            .send(),
    )
    .expect("by hand");
    let healed = tick(&mut agent, |e| e["result"] == "healed");
    assert!(
        healed["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ApiHandler"),
        "{healed:#}"
    );
    let memory =
        c.rt.block_on(
            c.lambda
                .get_function_configuration()
                .function_name(&function)
                .send(),
        )
        .expect("config")
        .memory_size();
    assert_eq!(memory, Some(256));
}

#[test]
fn two_agents_on_one_environment_apply_a_commit_once() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut one = agent(
        &repo,
        &account,
        &["--interval", "0.5", "--retry-base", "0.2"],
    );
    let mut two = agent(
        &repo,
        &account,
        &["--interval", "0.5", "--retry-base", "0.2"],
    );
    let commit = git(&repo.work, &["rev-parse", "HEAD"]);
    let settled = |e: &Json| e["commit"] == commit.as_str() && e["result"] == "in_sync";
    tick(&mut one, settled);
    tick(&mut two, settled);
    let applied = |r: &Running| {
        r.seen
            .iter()
            .filter(|e| e["event"] == "reconcile_tick" && e["result"] == "applied")
            .count()
    };
    assert_eq!(
        applied(&one) + applied(&two),
        1,
        "{:#?}\n{:#?}",
        one.seen,
        two.seen
    );
}
