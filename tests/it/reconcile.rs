//! The GitOps loop against the emulator: `driftless reconcile` following a
//! bare repository on disk, commits pushed from a working clone.

use super::deploy::{edit, reference_app, stacks};
use super::emulator::{Clients, account, clients, command, emulator, run};
use super::running::Running;
use super::support::git;
use serde_json::Value as Json;
use std::path::PathBuf;
use std::time::Duration;

/// A working clone and the bare repository it pushes to.
pub(super) struct Repo {
    _dir: tempfile::TempDir,
    pub(super) work: PathBuf,
    pub(super) origin: PathBuf,
}

impl Repo {
    /// The reference app under its own app name, committed and pushed.
    pub(super) fn new(account: &str) -> (Repo, String) {
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

    /// The bare repository's path, and an empty folder beside it that a
    /// loop runs from (it needs no checkout of its own).
    pub(super) fn followed_from_elsewhere(&self) -> (String, PathBuf) {
        let origin = self.origin.to_str().expect("path").to_string();
        let empty = self.work.parent().expect("parent").join("elsewhere");
        std::fs::create_dir_all(&empty).expect("folder");
        (origin, empty)
    }

    /// Edits a file, commits and pushes; returns the new commit.
    pub(super) fn push(&self, file: &str, from: &str, to: &str, message: &str) -> String {
        edit(&self.work.join(file), from, to);
        git(&self.work, &["commit", "-q", "-am", message]);
        git(&self.work, &["push", "-q", "origin", "main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }
}

/// `driftless reconcile dev` following `repo`, from an empty folder.
fn agent(repo: &Repo, account: &str, extra: &[&str]) -> Running {
    Running::spawn(agent_command(repo, account, extra))
}

fn agent_command(repo: &Repo, account: &str, extra: &[&str]) -> std::process::Command {
    let (origin, empty) = repo.followed_from_elsewhere();
    let mut args = vec!["reconcile", "dev", "--repo", &origin, "--branch", "main"];
    args.extend_from_slice(extra);
    command(&empty, account, &args, &emulator().endpoint())
}

/// A webhook receiver on loopback: every POST body it got, as JSON.
fn receiver() -> (String, std::sync::mpsc::Receiver<Json>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
            if let Ok(json) = serde_json::from_slice(&body)
                && tx.send(json).is_err()
            {
                break;
            }
        }
    });
    (url, rx)
}

pub(super) fn tick(agent: &mut Running, want: impl Fn(&Json) -> bool) -> Json {
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

/// A blocked commit does not blind the loop: drift is still detected, and
/// healed where the environment says so, at the last applied commit.
#[test]
fn drift_is_healed_at_the_applied_commit_while_the_branch_points_at_an_invalid_one() {
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
    let applied = tick(&mut agent, |e| e["result"] == "applied");
    let bad = repo.push(
        "environments/dev.yaml",
        "self_heal: true",
        "self_heal: [",
        "broken",
    );
    tick(&mut agent, |e| e["commit"] == bad.as_str());
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(700)
            .send(),
    )
    .expect("by hand");
    let healed = tick(&mut agent, |e| {
        e["message"].as_str().unwrap_or_default().contains("healed")
    });
    // The tick still says the commit is blocked, and what it healed.
    assert_eq!(healed["result"], "blocked", "{healed:#}");
    let message = healed["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("healed: ") && message.contains("ApiHandler"),
        "{healed:#}"
    );
    let short = &applied["commit"].as_str().unwrap()[..7];
    assert!(message.contains(short), "told at which commit: {healed:#}");
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

/// A commit that would replace retained data is refused at every tick,
/// as `deploy` refuses it (resource, property, flag), before the lock and
/// with no mutating call.
#[test]
fn a_commit_that_would_replace_a_table_is_refused_at_every_tick_without_a_write() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut agent = agent(&repo, &account, &["--interval", "0.5"]);
    tick(&mut agent, |e| e["result"] == "applied");
    let rekeyed = repo.push(
        "specs/database/unit.yaml",
        "partition_key: { name: username, type: S }",
        "partition_key: { name: email, type: S }",
        "key users by email",
    );
    for _ in 0..3 {
        let refused = tick(&mut agent, |e| e["commit"] == rekeyed.as_str());
        assert_eq!(refused["result"], "refused", "{refused:#}");
        assert_eq!(refused["exit_code"], 4, "{refused:#}");
        let message = refused["message"].as_str().unwrap_or_default();
        for named in [
            "database.users",
            "AWS::DynamoDB::Table",
            "KeySchema",
            "--allow-replace",
        ] {
            assert!(message.contains(named), "{named} not named: {refused:#}");
        }
        assert_eq!(refused["api_calls"]["mutating"], 0, "{refused:#}");
    }
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

    // A raw resource of a type CloudFormation has (it passes every offline
    // check) and the emulator does not implement: refused at deploy time.
    let broken = repo.push(
        "specs/api/unit.yaml",
        "  http:\n",
        "  broken:\n    type: AWS::DeviceFarm::Project\n    properties: { Name: broken }\n  http:\n",
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
        "  broken:\n    type: AWS::DeviceFarm::Project\n    properties: { Name: broken }\n",
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
        "hotswap: true\nself_heal: true\nnotify:\n  - { webhook: \"${env:DRIFT_HOOK}\", format: json }",
        "heal, and say so",
    );
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let (url, notices) = receiver();
    let mut command = agent_command(&repo, &account, &["--interval", "0.5"]);
    command.env("DRIFT_HOOK", &url);
    let mut agent = Running::spawn(command);
    tick(&mut agent, |e| e["result"] == "applied");
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
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
    let mut told = Vec::new();
    while let Ok(notice) = notices.recv_timeout(Duration::from_secs(10)) {
        let healed = notice["event"] == "healed";
        told.push(notice);
        if healed {
            break;
        }
    }
    let events: Vec<&str> = told.iter().filter_map(|n| n["event"].as_str()).collect();
    assert_eq!(
        events,
        ["applied", "healed"],
        "one notice per change of state: {told:#?}"
    );
    assert!(
        told[1]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("healed"),
        "{told:#?}"
    );
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

/// One HTTP/1.1 request to the agent's listener: status and body.
pub(super) fn request(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let (status, _, body) = exchange(address, method, path, headers, body);
    (status, body)
}

/// One HTTP/1.1 request: status, the response's head, and its body.
fn exchange(
    address: &str,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let text = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(text.as_bytes()).expect("send");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .map(|(h, b)| (h.to_string(), b.to_string()))
        .unwrap_or_default();
    (status, head, body)
}

/// GitHub's signature: HMAC-SHA256 of the body, hex, computed with the
/// tests' Python (a second implementation, not the one under test).
fn github_signature(secret: &str, body: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import hmac, hashlib, sys; print('sha256=' + hmac.new(sys.argv[1].encode(), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            secret,
            body,
        ])
        .output()
        .expect("python3");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The families and samples of a Prometheus text exposition, parsed by
/// `prometheus_client.parser` in the tests' venv, as JSON.
pub(super) fn parse_metrics(text: &str) -> Json {
    parse_exposition(text, "prometheus_client.parser")
}

/// The same, for an OpenMetrics exposition (`prometheus_client`'s strict
/// OpenMetrics parser, which also wants the `# EOF` line).
fn parse_openmetrics(text: &str) -> Json {
    parse_exposition(text, "prometheus_client.openmetrics.parser")
}

fn parse_exposition(text: &str, parser: &str) -> Json {
    let python = super::tools::python();
    super::support::python_json(
        &python,
        &format!(
            "import json, sys\nfrom {parser} import text_string_to_metric_families\nout = [{{'name': f.name, 'type': f.type, 'samples': [{{'name': s.name, 'labels': s.labels, 'value': s.value}} for s in f.samples]}} for f in text_string_to_metric_families(sys.stdin.read())]\nprint(json.dumps(out))"
        ),
        text,
    )
}

/// `promtool check metrics` (Debian's `prometheus` package) over a text
/// exposition, where the machine has it; its lint problems, if any.
fn promtool_problems(text: &str) -> Option<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| eprintln!("skipped promtool: {e} (Debian: apt-get install prometheus)"))
        .ok()?;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("promtool");
    (!out.status.success()).then(|| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The secret the tests' hooks are signed with.
const HOOK_SECRET: &str = "hook-secret-for-tests";

/// An agent following `repo`'s main branch from elsewhere, every 120 s,
/// listening on a free port with `HOOK_SECRET`; and its address.
fn hooked_agent(repo: &Repo, account: &str) -> (Running, String) {
    let (origin, empty) = repo.followed_from_elsewhere();
    let mut command = command(
        &empty,
        account,
        &[
            "reconcile",
            "dev",
            "--repo",
            &origin,
            "--branch",
            "main",
            "--interval",
            "120",
            "--listen",
            "127.0.0.1:0",
            "--webhook-secret-env",
            "HOOK_SECRET",
        ],
        &emulator().endpoint(),
    );
    command.env("HOOK_SECRET", HOOK_SECRET);
    let mut agent = Running::spawn(command);
    let address = listening(&mut agent);
    (agent, address)
}

/// 500 signed hooks in about ten seconds for one push: one tick applies
/// it and the rest find it applied; a hook for another branch or a ping
/// starts nothing.
#[test]
fn a_storm_of_signed_hooks_for_one_push_starts_a_handful_of_ticks() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let (mut agent, address) = hooked_agent(&repo, &account);
    tick(&mut agent, |e| e["result"] == "applied");
    let before = agent.seen.len();

    let signed = |event: &str, body: &str| {
        vec![
            ("X-GitHub-Event", event.to_string()),
            ("X-Hub-Signature-256", github_signature(HOOK_SECRET, body)),
        ]
    };
    let other =
        "{\"ref\":\"refs/heads/other\",\"after\":\"0123456789abcdef0123456789abcdef01234567\"}";
    let (status, text) = request(
        &address,
        "POST",
        "/hooks/git",
        &signed("push", other),
        other,
    );
    assert_eq!((status, text.starts_with("ignored")), (200, true), "{text}");
    let (status, text) = request(&address, "POST", "/hooks/git", &signed("ping", "{}"), "{}");
    assert_eq!((status, text.starts_with("ignored")), (200, true), "{text}");

    let commit = repo.push("specs/api/unit.yaml", MEMORY_256, MEMORY_384, "more memory");
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
    // One push, signed once: the forge resends the same delivery.
    let headers = signed("push", &body);
    let started = std::time::Instant::now();
    for i in 0..500u32 {
        let (status, _) = request(&address, "POST", "/hooks/git", &headers, &body);
        assert!(status == 202 || status == 200, "{status}");
        let due = started + Duration::from_millis(20) * i;
        std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
    }
    agent.drain(Duration::from_secs(5));
    let ticks: Vec<&Json> = agent.seen[before..]
        .iter()
        .filter(|e| e["event"] == "reconcile_tick")
        .collect();
    assert!(
        ticks
            .iter()
            .any(|t| t["commit"] == commit.as_str() && t["result"] == "applied"),
        "{ticks:#?}"
    );
    assert!(
        ticks.len() <= 3,
        "{} ticks for one push: {ticks:#?}",
        ticks.len()
    );
}

#[test]
fn a_signed_push_wakes_the_loop_a_bad_one_is_refused_and_metrics_parse() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let (mut agent, address) = hooked_agent(&repo, &account);
    tick(&mut agent, |e| e["result"] == "applied");
    assert_eq!(request(&address, "GET", "/healthz", &[], "").0, 200);

    let commit = repo.push("specs/api/unit.yaml", MEMORY_256, MEMORY_384, "more memory");
    let body = format!("{{\"ref\":\"refs/heads/main\",\"after\":\"{commit}\"}}");
    let forged = vec![
        ("X-GitHub-Event", "push".to_string()),
        (
            "X-Hub-Signature-256",
            github_signature("not-the-secret", &body),
        ),
    ];
    assert_eq!(
        request(&address, "POST", "/hooks/git", &forged, &body).0,
        401
    );
    assert_eq!(request(&address, "POST", "/hooks/git", &[], &body).0, 401);
    std::thread::sleep(Duration::from_secs(2));
    let ticks = |agent: &Running| {
        agent
            .seen
            .iter()
            .filter(|e| e["event"] == "reconcile_tick")
            .count()
    };
    // Drain what arrived: no tick may follow a refused hook.
    let before = ticks(&agent);
    assert_eq!(before, 1, "a refused hook fetched: {:#?}", agent.seen);

    let signed = vec![
        ("X-GitHub-Event", "push".to_string()),
        ("X-Hub-Signature-256", github_signature(HOOK_SECRET, &body)),
    ];
    let pushed = std::time::Instant::now();
    assert_eq!(
        request(&address, "POST", "/hooks/git", &signed, &body).0,
        202
    );
    let applied = tick(&mut agent, |e| e["commit"] == commit.as_str());
    assert_eq!(applied["result"], "applied", "{applied:#}");
    let ended = *agent.arrived.last().expect("a time") - pushed;
    let took = Duration::from_secs_f64(applied["seconds"].as_f64().unwrap_or(0.0));
    let woke = ended.saturating_sub(took);
    assert!(
        woke < Duration::from_secs(1),
        "the tick began {woke:?} after the push"
    );

    let (status, text) = request(&address, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    let families = parse_metrics(&text);
    let sample = |family: &str| -> Vec<Json> {
        families
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["name"] == family)
            .flat_map(|f| f["samples"].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let info = sample("driftless_applied_commit_info");
    assert_eq!(info[0]["labels"]["commit"], commit.as_str(), "{families:#}");
    assert_eq!(info[0]["labels"]["environment"], "dev");
    let result = sample("driftless_last_tick_result");
    assert_eq!(result[0]["labels"]["result"], "applied");
    assert_eq!(sample("driftless_synced")[0]["value"], 1.0);
    let passes = sample("driftless_pass_duration_seconds");
    assert!(
        passes
            .iter()
            .any(|s| s["name"] == "driftless_pass_duration_seconds_count" && s["value"] == 2.0),
        "{passes:#?}"
    );
    assert!(
        sample("driftless_api_calls")
            .iter()
            .any(|s| s["labels"]["operation"] == "DescribeStacks"),
        "{families:#}"
    );
    assert_eq!(promtool_problems(&text), None, "{text}");

    // A scraper that asks for OpenMetrics gets it.
    let accept = (
        "Accept",
        "application/openmetrics-text; version=1.0.0".to_string(),
    );
    let (status, open) = request(&address, "GET", "/metrics", &[accept], "");
    assert_eq!(status, 200);
    assert!(open.ends_with("# EOF\n"), "{open}");
    let families = parse_openmetrics(&open);
    let info = families
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["name"] == "driftless_applied_commit")
        .expect("the commit as an info metric");
    assert_eq!(info["type"], "info", "{families:#}");
    assert_eq!(info["samples"][0]["labels"]["commit"], commit.as_str());
}

/// Stops an idle agent with `signal`; its exit code.
fn stopped_by(signal: &str) -> Option<i32> {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut agent = agent(&repo, &account, &["--interval", "120"]);
    tick(&mut agent, |e| e["result"] == "applied");
    let pid = agent.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args([signal, &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    agent.next(|e| e["state"] == "stopped", Duration::from_secs(10));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Ok(Some(status)) = agent.child.try_wait() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "still running");
        std::thread::sleep(Duration::from_millis(50));
    };
    status.code()
}

/// A service manager stops services with SIGTERM and records any exit but
/// 0 as a failure; Ctrl-C is a person's interrupt (130).
#[test]
fn sigterm_stops_the_loop_between_ticks_with_0_and_ctrl_c_with_130() {
    assert_eq!(stopped_by("-TERM"), Some(0));
    assert_eq!(stopped_by("-INT"), Some(130));
}

#[test]
fn a_notice_is_published_to_an_sns_topic() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let c = clients(&account, "us-east-1");
    let sns = c.rt.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(emulator().endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                account.as_str(),
                "test",
                None,
                None,
                "tests",
            ))
            .load()
            .await;
        aws_sdk_sns::Client::new(&sdk)
    });
    let topic =
        c.rt.block_on(sns.create_topic().name("driftless-notices").send())
            .expect("topic")
            .topic_arn()
            .expect("arn")
            .to_string();
    let (url, messages) = receiver();
    c.rt.block_on(
        sns.subscribe()
            .topic_arn(&topic)
            .protocol("http")
            .endpoint(&url)
            .send(),
    )
    .expect("subscribe");
    let confirmation = messages
        .recv_timeout(Duration::from_secs(20))
        .expect("a subscription confirmation");
    assert_eq!(confirmation["Type"], "SubscriptionConfirmation");
    c.rt.block_on(
        sns.confirm_subscription()
            .topic_arn(&topic)
            .token(confirmation["Token"].as_str().expect("token"))
            .send(),
    )
    .expect("confirm");
    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        &format!("hotswap: true\nnotify:\n  - sns: {topic}"),
        "notify a topic",
    );
    let mut agent = agent(&repo, &account, &["--interval", "60"]);
    tick(&mut agent, |e| e["result"] == "applied");
    let notified = agent.next(|e| e["event"] == "notified", Duration::from_secs(20));
    assert_eq!(notified["errors"], serde_json::json!([]), "{notified:#}");
    let message = messages
        .recv_timeout(Duration::from_secs(20))
        .expect("the notice through SNS");
    assert_eq!(message["Type"], "Notification");
    assert!(
        message["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("dev applied"),
        "{message:#}"
    );
}

#[test]
fn once_runs_one_tick_and_a_protected_environment_waits_for_a_deploy() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let (stateful, _) = stacks(&app, "prod");
    let origin = repo.origin.to_str().expect("path").to_string();
    let once = |env: &str| {
        let empty = repo.work.parent().expect("parent").join("elsewhere");
        std::fs::create_dir_all(&empty).expect("folder");
        command(
            &empty,
            &account,
            &[
                "reconcile",
                env,
                "--repo",
                &origin,
                "--branch",
                "main",
                "--once",
            ],
            &emulator().endpoint(),
        )
        .output()
        .expect("run")
    };
    let ticks = |out: &std::process::Output| -> Vec<Json> {
        super::emulator::events(out)
            .into_iter()
            .filter(|e| e["event"] == "reconcile_tick")
            .collect()
    };

    // prod names account 222222222222: refused, and so not retried.
    let refused = once("prod");
    assert_eq!(refused.status.code(), Some(4));
    assert_eq!(ticks(&refused)[0]["result"], "refused");

    // On the emulator as this account, prod is protected without
    // `auto_sync`: reported out of sync, never applied by the loop.
    repo.push(
        "environments/prod.yaml",
        "target: { region: eu-west-1, account: \"222222222222\" }",
        "target: local",
        "prod on the emulator",
    );
    let waiting = once("prod");
    assert_eq!(waiting.status.code(), Some(2));
    let tick = &ticks(&waiting)[0];
    assert_eq!(tick["result"], "out_of_sync", "{tick:#}");
    assert!(
        tick["message"]
            .as_str()
            .unwrap_or_default()
            .contains("auto_sync")
    );
    let c = clients(&account, "us-east-1");
    let exists =
        c.rt.block_on(c.cfn.describe_stacks().stack_name(&stateful).send())
            .is_ok();
    assert!(!exists, "the loop created a protected environment's stack");

    let applied = once("dev");
    assert_eq!(applied.status.code(), Some(0));
    let all = ticks(&applied);
    assert_eq!(all.len(), 1, "one tick: {all:#?}");
    assert_eq!(all[0]["result"], "applied");
}

/// The agent's listener address, from its `listening` event.
pub(super) fn listening(agent: &mut Running) -> String {
    let event = agent.next(|e| e["state"] == "listening", Duration::from_secs(30));
    event["address"].as_str().expect("address").to_string()
}

/// A pass's events are printed as they come: while the first pass waits
/// in its gate, its stacks' events are out already, before its tick ends.
#[test]
fn a_passes_events_show_while_it_runs() {
    let probe = super::smoke::Probe::start();
    let account = account();
    let (repo, _) = Repo::new(&account);
    repo.push(
        "environments/dev.yaml",
        "smoke:\n",
        &format!(
            "smoke:\n  - name: probe\n    request: GET http://127.0.0.1:{}/probe\n    expect: {{ status: 200 }}\n",
            probe.port
        ),
        "a probe among the checks",
    );
    probe.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut agent = agent(&repo, &account, &["--interval", "120"]);
    probe
        .held
        .recv_timeout(Duration::from_secs(300))
        .expect("the gate's probe request");
    agent.drain(Duration::from_secs(1));
    let ended: Vec<&Json> = agent
        .seen
        .iter()
        .filter(|e| e["event"] == "stack_end")
        .collect();
    assert!(ended.len() >= 2, "{:#?}", agent.seen);
    assert!(
        !agent.seen.iter().any(|e| e["event"] == "reconcile_tick"),
        "the pass is still in its gate"
    );
}

/// Health is read after the pass: the first apply's tick says what runs
/// now, not `missing` (what ran before it) until the next tick.
#[test]
fn health_is_read_after_the_pass_so_a_first_apply_is_not_missing() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut agent = agent(
        &repo,
        &account,
        &["--interval", "120", "--listen", "127.0.0.1:0"],
    );
    let address = listening(&mut agent);
    tick(&mut agent, |e| e["result"] == "applied");
    let (status, text) = request(&address, "GET", "/metrics", &[], "");
    assert_eq!(status, 200);
    let health: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("driftless_health{"))
        .collect();
    assert!(
        health.iter().any(|l| l.contains("health=\"healthy\"")),
        "{health:?}"
    );
}

#[test]
fn the_status_pages_show_the_environment_and_follow_a_pushed_commit() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let mut agent = agent(
        &repo,
        &account,
        &["--interval", "0.5", "--listen", "127.0.0.1:0"],
    );
    let address = listening(&mut agent);
    let first = git(&repo.work, &["rev-parse", "HEAD"]);
    tick(&mut agent, |e| {
        e["commit"] == first.as_str() && e["result"] == "applied"
    });
    tick(&mut agent, |e| {
        e["commit"] == first.as_str() && e["result"] == "in_sync"
    });

    let (status, head, html) = exchange(&address, "GET", "/", &[], "");
    assert_eq!(status, 200, "{html}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/html"),
        "{head}"
    );
    assert!(
        html.contains("http-equiv=\"refresh\""),
        "the page reloads itself"
    );
    let page = super::pages::read_page(&html);
    let text = page["text"].as_array().expect("text").clone();
    let short = &first[..12];
    assert!(
        text.iter().any(|t| t == short),
        "the applied commit {short} in {text:?}"
    );
    assert!(text.iter().any(|t| t == "dev"), "{text:?}");
    assert_eq!(page["badges"][0], "synced");
    assert_eq!(page["badges"][1], "healthy");
    assert_eq!(
        page["external"],
        serde_json::json!(["/env/dev"]),
        "links stay on the listener"
    );

    let (status, html) = request(&address, "GET", "/env/dev", &[], "");
    assert_eq!(status, 200);
    let page = super::pages::read_page(&html);
    assert_eq!(
        page["stacks"],
        serde_json::json!([
            [format!("{app}-dev-stateful"), "in sync"],
            [format!("{app}-dev-stateless"), "in sync"]
        ])
    );
    assert_eq!(page["feeds"].as_array().map(Vec::len), Some(1));
    assert_eq!(request(&address, "GET", "/env/nope", &[], "").0, 404);

    let pushed = repo.push(
        "specs/api/unit.yaml",
        "timeout: 20",
        "timeout: 21",
        "a longer timeout",
    );
    tick(&mut agent, |e| {
        e["commit"] == pushed.as_str() && e["result"] == "applied"
    });
    let (_, html) = request(&address, "GET", "/", &[], "");
    let page = super::pages::read_page(&html);
    let text = page["text"].as_array().expect("text").clone();
    assert!(
        text.iter().any(|t| t == &pushed[..12]),
        "the new commit in {text:?}"
    );
    assert!(
        text.iter().any(|t| t == "a longer timeout"),
        "its message in {text:?}"
    );
    let (_, html) = request(&address, "GET", "/env/dev", &[], "");
    assert!(
        html.contains("a longer timeout") || html.contains(&pushed[..12]),
        "{html}"
    );
}

#[test]
fn a_listener_with_a_token_refuses_requests_without_it() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    let mut command = agent_command(
        &repo,
        &account,
        &[
            "--interval",
            "30",
            "--listen",
            "127.0.0.1:0",
            "--listen-token-env",
            "PAGE_TOKEN",
        ],
    );
    command.env("PAGE_TOKEN", "t0ken-for-the-pages");
    let mut agent = Running::spawn(command);
    let address = listening(&mut agent);
    for path in ["/", "/env/dev", "/healthz", "/metrics"] {
        assert_eq!(request(&address, "GET", path, &[], "").0, 401, "{path}");
        let wrong = [("Authorization", "Bearer nope".to_string())];
        assert_eq!(request(&address, "GET", path, &wrong, "").0, 401, "{path}");
    }
    let bearer = [("Authorization", "Bearer t0ken-for-the-pages".to_string())];
    assert_eq!(request(&address, "GET", "/", &bearer, "").0, 200);
    assert_eq!(request(&address, "GET", "/healthz", &bearer, "").0, 200);
    let (status, head, _) = exchange(&address, "GET", "/?token=t0ken-for-the-pages", &[], "");
    assert_eq!(status, 200);
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .expect("the token kept in a cookie")
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        request(&address, "GET", "/", &[("Cookie", cookie)], "").0,
        200
    );

    // Beyond loopback, a listener without a token is refused at start.
    let refused = agent_command(&repo, &account, &["--once", "--listen", "0.0.0.0:0"])
        .output()
        .expect("runs");
    assert_eq!(
        refused.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

#[test]
fn in_a_browser_the_index_follows_pushes_and_the_environment_page_shows_drift() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let (origin, empty) = repo.followed_from_elsewhere();
    let args = [
        "reconcile",
        "--all",
        "--repo",
        &origin,
        "--branch",
        "main",
        "--interval",
        "0.5",
        "--listen",
        "127.0.0.1:0",
    ];
    let mut agent = Running::spawn(command(&empty, &account, &args, &emulator().endpoint()));
    let address = listening(&mut agent);
    let first = git(&repo.work, &["rev-parse", "HEAD"]);
    agent.next(
        |e| e["event"] == "reconcile_tick" && e["environment"] == "dev" && e["result"] == "in_sync",
        Duration::from_secs(90),
    );
    let shots = super::browser::screenshots();
    let Some(mut browser) = super::browser::Browser::start() else {
        return;
    };
    browser.run(&format!("open http://{address}/"));
    browser.run("row dev synced healthy 30");
    // prod targets another account: refused, never deployed.
    browser.run("row prod out_of_sync missing 30");
    browser.run(&format!("text {} 30", &first[..12]));
    browser.run(&format!("screenshot {}", shots.join("index.png").display()));
    // On a phone: nothing wider than the screen (tables scroll in place).
    browser.run("size 390 844");
    browser.run("overflow");
    browser.run(&format!(
        "screenshot {}",
        shots.join("index-phone.png").display()
    ));
    browser.run("size 1100 1400");

    let pushed = repo.push(
        "specs/api/unit.yaml",
        "timeout: 20",
        "timeout: 22",
        "twenty-two seconds",
    );
    // The same page, not reloaded by the test, shows the new commit.
    browser.run(&format!("text {} 60", &pushed[..12]));
    browser.run("text twenty-two seconds 10");

    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(704)
            .send(),
    )
    .expect("by hand");
    browser.run(&format!("open http://{address}/env/dev"));
    browser.run("text wave 2 10");
    // The pushed commit's pass, stack by stack.
    browser.run(&format!("text {stateless}: updated (UPDATE_COMPLETE 10"));
    browser.run("text MemorySize 60");
    browser.run("text 704 10");
    browser.run(&format!(
        "screenshot {}",
        shots.join("environment.png").display()
    ));

    // An alarm fires: the environment turns degraded, and says why.
    let alarm = super::drift::physical(&c, &stateless, "MonitoringFunctionErrors");
    super::drift::set_alarm(
        &account,
        &alarm,
        aws_sdk_cloudwatch::types::StateValue::Alarm,
    );
    browser.run(&format!("open http://{address}/"));
    // The memory changed by hand above is drift: not in sync.
    browser.run("row dev out_of_sync degraded 60");
    browser.run("text is in ALARM 10");
    browser.run(&format!(
        "screenshot {}",
        shots.join("index-degraded.png").display()
    ));
    browser.run("quit");
}

/// The loop's human lines are log lines: an RFC 3339 timestamp, then the
/// level. `-v` adds the SDK's own debug lines; `-q` keeps only warnings.
#[test]
fn the_loop_logs_timestamped_levelled_lines_that_v_and_q_adjust() {
    let account = account();
    let (repo, _app) = Repo::new(&account);
    let (origin, empty) = repo.followed_from_elsewhere();
    let once = |extra: &[&str]| {
        let mut args = vec![
            "reconcile",
            "dev",
            "--repo",
            &origin,
            "--branch",
            "main",
            "--once",
        ];
        args.extend_from_slice(extra);
        super::emulator::human(&empty, &account, &args)
    };
    let plain = once(&[]);
    let stamped = |l: &&str| {
        let (stamp, rest) = l.split_once(' ').unwrap_or_default();
        chrono_like(stamp) && rest.trim_start().starts_with("INFO ")
    };
    let lines: Vec<&str> = plain.lines().filter(stamped).collect();
    assert!(
        lines.iter().any(|l| l.contains("dev")),
        "no timestamped INFO line names the environment:\n{plain}"
    );
    assert!(!plain.contains("aws_smithy_runtime"), "{plain}");
    let stdout_lines: Vec<&str> = plain
        .lines()
        .take_while(|l| !l.starts_with("error"))
        .collect();
    assert!(
        stdout_lines.iter().filter(|l| !l.is_empty()).all(stamped),
        "every line of the loop's log is stamped:\n{plain}"
    );

    let verbose = once(&["-v"]);
    assert!(
        verbose
            .lines()
            .any(|l| l.contains("DEBUG") && l.contains("aws_smithy_runtime")),
        "-v shows the SDK's debug lines:\n{verbose}"
    );
    let quiet = once(&["-q"]);
    assert!(!quiet.lines().any(|l| l.contains(" INFO ")), "{quiet}");
}

/// `2026-12-06T14:22:12.123456Z`: a date, `T`, a time, `Z`.
fn chrono_like(stamp: &str) -> bool {
    let b = stamp.as_bytes();
    stamp.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && stamp.ends_with('Z')
        && stamp[..4].chars().all(|c| c.is_ascii_digit())
}

/// A host that accepts connections and never answers: its address.
fn stalled_host() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address").to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    address
}

#[test]
fn a_token_in_the_repository_url_is_never_printed_and_a_stalled_host_is_given_up() {
    let account = account();
    let empty = tempfile::tempdir().expect("temp dir");
    let host = stalled_host();
    let url = format!("http://bot:tok3n-SECRET@{host}/o/r.git");
    for output in [None, Some("json")] {
        let mut args = vec![
            "reconcile",
            "dev",
            "--repo",
            &url,
            "--branch",
            "main",
            "--once",
            "--git-timeout",
            "1",
        ];
        let started = std::time::Instant::now();
        let out = match output {
            None => super::emulator::human_command(empty.path(), &account, &args).output(),
            Some(_) => {
                args.insert(0, "--ci");
                command(empty.path(), &account, &args, &emulator().endpoint()).output()
            }
        }
        .expect("run");
        let took = started.elapsed();
        let shown = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_ne!(out.status.code(), Some(0), "{shown}");
        assert!(!shown.contains("tok3n-SECRET"), "{shown}");
        assert!(
            shown.contains("***@"),
            "the URL is shown, redacted: {shown}"
        );
        assert!(shown.contains("no answer within 1 s"), "{shown}");
        assert!(
            took < Duration::from_secs(20),
            "a stalled host held the tick {took:?}"
        );
        eprintln!("a stalled git host held the tick {took:?} (--git-timeout 1)");
    }
    // A loop that keeps failing to fetch: its pages and metrics never show
    // the token either.
    let mut agent = Running::spawn(command(
        empty.path(),
        &account,
        &[
            "reconcile",
            "dev",
            "--repo",
            &url,
            "--branch",
            "main",
            "--git-timeout",
            "1",
            "--interval",
            "0.5",
            "--listen",
            "127.0.0.1:0",
        ],
        &emulator().endpoint(),
    ));
    let listening = agent.next(|e| e["state"] == "listening", Duration::from_secs(30));
    let address = listening["address"].as_str().expect("address").to_string();
    agent.next(
        |e| e["event"] == "reconcile_tick" && e["result"] != "in_sync",
        Duration::from_secs(30),
    );
    for path in ["/", "/env/dev", "/metrics"] {
        let (status, page) = request(&address, "GET", path, &[], "");
        assert_eq!(status, 200, "{path}: {page}");
        assert!(!page.contains("tok3n-SECRET"), "{path}: {page}");
    }
    let events = serde_json::to_string(&agent.seen).expect("events");
    assert!(events.contains("***@"), "{events}");
    assert!(!events.contains("tok3n-SECRET"), "{events}");
}

#[test]
fn git_is_never_handed_an_option_as_a_url_a_branch_or_a_path() {
    let account = account();
    let empty = tempfile::tempdir().expect("temp dir");
    let witness = empty.path().join("ran");
    let upload_pack = format!("--upload-pack=touch {}", witness.display());
    for args in [
        vec!["--repo", upload_pack.as_str(), "--branch", "main"],
        vec!["--repo", "/tmp/x.git", "--branch=--upload-pack=touch"],
        vec![
            "--repo",
            "/tmp/x.git",
            "--branch",
            "main",
            "--path",
            "../..",
        ],
        vec!["--repo", "/tmp/x.git", "--branch", "main", "--path", "/etc"],
    ] {
        let mut all = vec!["reconcile", "dev", "--once"];
        all.extend(args.iter().copied());
        let out = command(empty.path(), &account, &all, &emulator().endpoint())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(64), "{args:?}: {out:?}");
    }
    assert!(!witness.exists(), "git ran a command it was handed");
}

/// CPU seconds `pid` has used, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The fields after the command's name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat")
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 =
        fields[11].parse::<f64>().expect("utime") + fields[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

#[test]
fn idle_and_half_sent_connections_neither_spin_the_listener_nor_hold_it() {
    use std::io::{Read, Write};
    let account = account();
    let (repo, _app) = Repo::new(&account);
    let inner = agent_command(
        &repo,
        &account,
        &["--interval", "60", "--listen", "127.0.0.1:0"],
    );
    // Fewer files than connections: the listener must not spin on EMFILE.
    let mut command = std::process::Command::new("sh");
    command
        .arg("-c")
        .arg("ulimit -n 256 && exec \"$0\" \"$@\"")
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    let mut agent = Running::spawn(command);
    let address = listening(&mut agent);
    // Past what is served and the kernel's backlog a connect waits: those
    // are given up quickly.
    let target: std::net::SocketAddr = address.parse().expect("address");
    let idle: Vec<std::net::TcpStream> = (0..350)
        .filter_map(|_| {
            std::net::TcpStream::connect_timeout(&target, Duration::from_millis(50)).ok()
        })
        .collect();
    assert!(idle.len() > 100, "{} connections", idle.len());
    let pid = agent.child.id();
    let before = cpu_seconds(pid);
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_seconds(pid) - before;
    eprintln!(
        "CPU of the listener over 3 s with {} idle connections: {used:.2} s",
        idle.len()
    );
    assert!(used < 0.5, "the listener used {used:.2} s of CPU in 3 s");
    drop(idle);
    // A request whose headers never end is closed after the header timeout.
    let mut slow = std::net::TcpStream::connect(&address).expect("connect");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .expect("half a request");
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(15),
        "a half-sent request held the connection {held:?}"
    );
    // And the listener still answers.
    let (status, _) = request(&address, "GET", "/healthz", &[], "");
    assert_eq!(status, 200);
}

/// A function deleted by hand is drift to the loop: named at every tick
/// (the environment does not wedge on it), brought back only by a
/// self-healing environment's tick.
#[test]
fn a_function_deleted_by_hand_is_drift_and_a_self_healing_tick_brings_it_back() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let once = || {
        let out = agent_command(&repo, &account, &["--once"])
            .output()
            .expect("run");
        let tick = super::emulator::events(&out)
            .into_iter()
            .find(|e| e["event"] == "reconcile_tick")
            .unwrap_or_else(|| panic!("no tick: {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), tick)
    };
    assert_eq!(once().1["result"], "applied");
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
    c.rt.block_on(c.lambda.delete_function().function_name(&function).send())
        .expect("delete by hand");

    let (code, drifted) = once();
    assert_eq!(drifted["result"], "drifted", "{drifted:#}");
    assert_eq!(code, Some(2), "drifted: {drifted:#}");
    assert!(
        drifted["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ApiHandler"),
        "{drifted:#}"
    );
    assert!(
        !super::missing::exists(&c, &function),
        "without self_heal the loop leaves it"
    );

    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nself_heal: true",
        "heal",
    );
    let (code, healed) = once();
    assert_eq!(healed["result"], "healed", "{healed:#}");
    assert_eq!(code, Some(0), "{healed:#}");
    let again = super::drift::physical(&c, &stateless, "ApiHandler");
    assert!(super::missing::exists(&c, &again), "{again} is back");
}
