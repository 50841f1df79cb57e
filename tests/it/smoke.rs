//! Smoke checks after the pass, and the rollback when one fails: against the
//! emulator, with the reference app in prod configuration and a small
//! CDN-origin function.

use super::deploy::{edit, output, reference_app, reserved_concurrency, stacks};
use super::emulator::{Clients, account, clients, command, emulator, events, http, ok, run};
use super::support::{copy_dir, repo_root};
use serde_json::Value as Json;
use std::path::Path;
use std::process::Output;

/// The reference app with prod's target moved to a fresh account, so that
/// tests deploying prod run side by side.
pub fn prod_app() -> (tempfile::TempDir, String, String) {
    let account = account();
    let (project, app) = reference_app(&account);
    edit(
        &project.path().join("environments/prod.yaml"),
        "account: \"222222222222\"",
        &format!("account: \"{account}\""),
    );
    (project, app, account)
}

fn smoke_results(out: &Output, phase: &str) -> Vec<Json> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "smoke_check" && e["phase"] == phase)
        .collect()
}

fn gate(out: &Output) -> Json {
    events(out)
        .into_iter()
        .find(|e| e["event"] == "gate")
        .unwrap_or(Json::Null)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn function_state(c: &Clients, function: &str) -> (String, i32) {
    let out =
        c.rt.block_on(c.lambda.get_function().function_name(function).send())
            .expect("get function");
    let config = out.configuration().expect("configuration");
    (
        config.code_sha256().unwrap_or_default().to_string(),
        config.memory_size().unwrap_or_default(),
    )
}

fn break_handler(project: &Path) {
    edit(
        &project.join("specs/api/runtime/lambda_function.py"),
        "def lambda_handler(event, context):\n",
        "def lambda_handler(event, context):\n    return respond(500, {\"error\": \"broken release\"})\n",
    );
}

#[test]
fn prod_passes_its_smoke_checks_which_create_a_user_and_read_it_back() {
    let (project, app, account) = prod_app();
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    ok(&out);
    let results = smoke_results(&out, "release");
    let names: Vec<&str> = results.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        ["create user", "read user", "delete user", "list users"]
    );
    for r in &results {
        assert_eq!(r["passed"], true, "{r}");
    }
    assert_eq!(
        results[0]["status"], 201,
        "the user was created: {}",
        results[0]
    );
    assert_eq!(results[1]["status"], 200, "and read back: {}", results[1]);
    assert_eq!(gate(&out)["verdict"], "passed");
    // The prod configuration: provisioned table, reserved concurrency 10.
    let c = clients(&account, "eu-west-1");
    let (stateful, stateless) = stacks(&app, "prod");
    let table = output(&c, &stateful, "DatabaseTableName");
    let described =
        c.rt.block_on(c.dynamodb.describe_table().table_name(&table).send())
            .expect("describe table");
    let throughput = described
        .table()
        .and_then(|t| t.provisioned_throughput())
        .expect("provisioned throughput");
    assert_eq!(throughput.read_capacity_units(), Some(5));
    let function = output(&c, &stateless, "ApiFunctionName");
    assert_eq!(reserved_concurrency(&c, &function), Some(10));
}

#[test]
fn a_release_answering_500_is_rolled_back_to_the_previous_code() {
    let (project, app, account) = prod_app();
    ok(&run(project.path(), &account, &["deploy", "prod", "--yes"]));
    let c = clients(&account, "eu-west-1");
    let (_, stateless) = stacks(&app, "prod");
    let function = output(&c, &stateless, "ApiFunctionName");
    let endpoint = output(&c, &stateless, "ApiEndpoint");
    let (code_before, _) = function_state(&c, &function);

    break_handler(project.path());
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    let failed = smoke_results(&out, "release");
    assert!(
        failed
            .iter()
            .any(|r| r["passed"] == false && r["status"] == 500),
        "{failed:?}"
    );
    let again = smoke_results(&out, "rollback");
    assert!(
        !again.is_empty() && again.iter().all(|r| r["passed"] == true),
        "{again:?}"
    );
    assert_eq!(gate(&out)["verdict"], "rolled_back");

    let (code_after, _) = function_state(&c, &function);
    assert_eq!(code_after, code_before, "the previous code is live again");
    let answer = http("GET", &format!("{endpoint}/users"), &account, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(answer.body.contains("\"users\""), "{}", answer.body);
    // The spec still holds the bad release: a plan shows it pending.
    let plan = run(project.path(), &account, &["plan", "prod"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
}

#[test]
fn a_release_that_also_changed_memory_and_concurrency_is_rolled_back_on_all() {
    let (project, app, account) = prod_app();
    ok(&run(project.path(), &account, &["deploy", "prod", "--yes"]));
    let c = clients(&account, "eu-west-1");
    let (_, stateless) = stacks(&app, "prod");
    let function = output(&c, &stateless, "ApiFunctionName");
    let before = function_state(&c, &function);
    assert_eq!(before.1, 256);

    break_handler(project.path());
    edit(
        &project.path().join("environments/prod.yaml"),
        "api: { reserved_concurrency: 10 }",
        "api: { reserved_concurrency: 7, memory: 512 }",
    );
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        events(&out)
            .iter()
            .any(|e| e["event"] == "setting_applied" && e["value"] == 7),
        "the release set reserved concurrency 7"
    );
    let changed = events(&out)
        .into_iter()
        .find(|e| e["event"] == "change_set" && e["stack"] == stateless.as_str())
        .expect("the release changed the stateless stack");
    assert!(changed.to_string().contains("ApiHandler"), "{changed}");
    assert_eq!(
        function_state(&c, &function),
        before,
        "code and memory are back"
    );
    assert_eq!(
        reserved_concurrency(&c, &function),
        Some(10),
        "reserved concurrency is back"
    );
}

#[test]
fn a_rollback_that_would_remove_a_table_leaves_the_stateful_stack_and_says_so() {
    let (project, app, account) = prod_app();
    ok(&run(project.path(), &account, &["deploy", "prod", "--yes"]));
    let c = clients(&account, "eu-west-1");
    let (stateful, stateless) = stacks(&app, "prod");
    let function = output(&c, &stateless, "ApiFunctionName");
    let code_before = function_state(&c, &function).0;

    // The release adds a table and breaks the handler.
    edit(
        &project.path().join("specs/database/unit.yaml"),
        "resources:\n",
        "resources:\n  audit:\n    kind: table\n    partition_key: { name: id, type: S }\n",
    );
    break_handler(project.path());
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let rollback = events(&out)
        .into_iter()
        .find(|e| e["event"] == "rollback")
        .expect("a rollback event");
    assert_eq!(rollback["complete"], false, "{rollback}");
    assert_eq!(rollback["restored"][0], stateless.as_str(), "{rollback}");
    assert_eq!(
        rollback["left"][0]["stack"],
        stateful.as_str(),
        "{rollback}"
    );
    let reason = rollback["left"][0]["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("remove") && reason.contains("database.audit"),
        "{reason}"
    );
    assert!(
        gate(&out)["reason"]
            .as_str()
            .is_some_and(|r| r.contains("rollback is incomplete")),
        "{}",
        gate(&out)
    );
    // The stateless stack is back; the new table is still there.
    assert_eq!(function_state(&c, &function).0, code_before);
    let resources =
        c.rt.block_on(
            c.cfn
                .describe_stack_resources()
                .stack_name(&stateful)
                .send(),
        )
        .expect("stack resources");
    assert!(
        resources
            .stack_resources()
            .iter()
            .any(|r| r.logical_resource_id() == Some("DatabaseAudit")),
        "the new table stays in its stack"
    );
}

/// The CDN-origin fixture under an app name of its own.
fn edge_app(account: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&repo_root().join("tests/fixtures/edge"), dir.path());
    edit(
        &dir.path().join("environments/dev.yaml"),
        "app: edge",
        &format!("app: edge{}", &account[account.len() - 6..]),
    );
    dir
}

fn edge_run(project: &Path, account: &str, args: &[&str], token: Option<&str>) -> Output {
    let mut c = command(project, account, args, &emulator().endpoint());
    match token {
        Some(t) => c.env("ORIGIN_VERIFY", t),
        None => c.env_remove("ORIGIN_VERIFY"),
    };
    c.output().expect("run driftless")
}

#[test]
fn redirect_header_auth_and_invoke_checks_pass_and_fail_as_the_origin_answers() {
    let account = account();
    let project = edge_app(&account);
    let out = edge_run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        Some("origin-secret-value"),
    );
    ok(&out);
    let results = smoke_results(&out, "release");
    assert_eq!(results.len(), 4, "{results:?}");
    let by_name = |name: &str| {
        results
            .iter()
            .find(|r| r["name"] == name)
            .cloned()
            .unwrap_or(Json::Null)
    };
    assert_eq!(by_name("moved page redirects")["status"], 302);
    assert_eq!(by_name("no CDN header, no page")["status"], 403);
    assert_eq!(by_name("CDN header opens the page")["status"], 200);
    assert_eq!(by_name("function answers a direct invoke")["passed"], true);
    assert!(results.iter().all(|r| r["passed"] == true), "{results:?}");

    // A wrong header value: the origin answers 403, the check fails, and
    // the value sent is never shown.
    let wrong = "wrong-token-5d1e";
    let out = edge_run(project.path(), &account, &["smoke", "dev"], Some(wrong));
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let failed = smoke_results(&out, "release")
        .into_iter()
        .find(|r| r["passed"] == false)
        .expect("a failed check");
    assert_eq!(failed["name"], "CDN header opens the page");
    assert_eq!(failed["status"], 403);
    assert!(!text(&out).contains(wrong), "the header value is printed");

    // Without the variable, nothing runs.
    let out = edge_run(project.path(), &account, &["smoke", "dev"], None);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("ORIGIN_VERIFY"), "{}", text(&out));
}

#[test]
fn without_rollback_a_failed_check_keeps_the_release_and_fails_the_deploy() {
    let account = account();
    let project = edge_app(&account);
    let token = Some("origin-secret-value");
    ok(&edge_run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        token,
    ));
    edit(
        &project.path().join("specs/origin/code/main.py"),
        "\"location\": \"/home\"",
        "\"location\": \"/elsewhere\"",
    );
    let out = edge_run(project.path(), &account, &["deploy", "dev", "--yes"], token);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    let failure = smoke_results(&out, "release")
        .into_iter()
        .find(|r| r["passed"] == false)
        .expect("a failed check");
    assert!(
        failure["failure"]
            .as_str()
            .is_some_and(|f| f.contains("header `location` is `/elsewhere`, expected `/home`")),
        "{failure}"
    );
    assert!(events(&out).iter().all(|e| e["event"] != "rollback"));
    assert!(
        gate(&out)["reason"]
            .as_str()
            .is_some_and(|r| r.contains("rollback: false")),
        "{}",
        gate(&out)
    );
    // A no-op deploy still runs the checks, and there is nothing to roll back.
    let out = edge_run(project.path(), &account, &["deploy", "dev", "--yes"], token);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out));
    assert!(!smoke_results(&out, "release").is_empty());
}

/// A loopback server that records each request's head and answers 200.
fn recording_server() -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (heads, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for mut socket in listener.incoming().map_while(Result::ok) {
            let mut buf = vec![0; 16 * 1024];
            let n = socket.read(&mut buf).unwrap_or(0);
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if heads
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                break;
            }
        }
    });
    (port, received)
}

#[test]
fn the_emulators_account_header_never_reaches_another_loopback_server() {
    let account = account();
    let project = edge_app(&account);
    let (port, heads) = recording_server();
    let env = project.path().join("environments/dev.yaml");
    let mut text = std::fs::read_to_string(&env).expect("read dev.yaml");
    for host in ["127.0.0.1", "localhost"] {
        text.push_str(&format!(
            "  - name: another server on {host}\n    request: GET http://{host}:{port}/probe\n    expect: {{ status: 200 }}\n"
        ));
    }
    std::fs::write(&env, text).expect("write dev.yaml");
    let out = edge_run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        Some("origin-secret-value"),
    );
    ok(&out);
    let results = smoke_results(&out, "release");
    assert!(
        results
            .iter()
            .filter(|r| r["name"].as_str().is_some_and(|n| n.starts_with("another")))
            .all(|r| r["passed"] == true),
        "{results:?}"
    );
    let received: Vec<String> = heads.try_iter().collect();
    assert_eq!(received.len(), 2, "{received:?}");
    for head in &received {
        let lower = head.to_ascii_lowercase();
        assert!(!lower.contains("authorization"), "{head}");
        assert!(!head.contains(&account), "{head}");
    }
    // The emulator's own hosts still get it: the origin's checks passed.
    assert!(results.iter().all(|r| r["passed"] == true), "{results:?}");
}

/// A loopback server a smoke check reaches: it answers 200, except the
/// one request that comes while it is told to hold: that one it keeps open
/// without an answer and reports, so the test knows the gate has begun.
pub(super) struct Probe {
    pub port: u16,
    pub hold: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub held: std::sync::mpsc::Receiver<()>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Probe {
    pub fn start() -> Probe {
        use std::io::{Read, Write};
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let hold = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (tx, held) = std::sync::mpsc::channel();
        let (holding, stopping) = (hold.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            while !stopping.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                if holding.swap(false, Ordering::SeqCst) {
                    kept.push(stream);
                    let _ = tx.send(());
                    continue;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            }
        });
        Probe {
            port,
            hold,
            held,
            stop,
        }
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[test]
fn a_pass_killed_in_its_gate_leaves_the_checks_to_the_next_which_rolls_the_release_back() {
    let (project, app, account) = prod_app();
    let probe = Probe::start();
    edit(
        &project.path().join("environments/prod.yaml"),
        "smoke:\n",
        &format!(
            "smoke:\n  - name: gate probe\n    request: GET http://127.0.0.1:{}/probe\n    expect: {{ status: 200 }}\n",
            probe.port
        ),
    );
    ok(&run(project.path(), &account, &["deploy", "prod", "--yes"]));
    let c = clients(&account, "eu-west-1");
    let (_, stateless) = stacks(&app, "prod");
    let function = output(&c, &stateless, "ApiFunctionName");
    let (good, _) = function_state(&c, &function);

    // A broken release; the pass is killed while its checks run.
    break_handler(project.path());
    probe.hold.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut pass = command(
        project.path(),
        &account,
        &["deploy", "prod", "--yes"],
        &emulator().endpoint(),
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    probe
        .held
        .recv_timeout(std::time::Duration::from_secs(300))
        .expect("the gate's probe request");
    pass.kill().unwrap();
    pass.wait().unwrap();
    let (live, _) = function_state(&c, &function);
    assert_ne!(live, good, "the broken release is live, unverified");

    // The stacks are in sync with the files, yet checks are owed.
    let plan = run(project.path(), &account, &["plan", "prod"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let owed = events(&plan)
        .into_iter()
        .find(|e| e["event"] == "checks_owed")
        .unwrap_or_else(|| panic!("no checks_owed: {}", text(&plan)));
    assert_eq!(owed["state"], "kept");
    assert!(owed["stacks"].to_string().contains(&stateless), "{owed}");

    // The next deploy runs them: the broken code fails, and goes back.
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(
        events(&out)
            .iter()
            .any(|e| e["event"] == "checks_owed" && e["state"] == "owed")
    );
    assert!(
        smoke_results(&out, "release")
            .iter()
            .any(|r| r["passed"] == false && r["status"] == 500),
        "{}",
        text(&out)
    );
    assert_eq!(gate(&out)["verdict"], "rolled_back", "{}", text(&out));
    assert_eq!(
        function_state(&c, &function).0,
        good,
        "the verified code is back"
    );

    // Nothing is owed any more: the plan shows the pending (broken) code only.
    let plan = run(project.path(), &account, &["plan", "prod"]);
    assert_eq!(plan.status.code(), Some(2));
    assert!(
        !events(&plan).iter().any(|e| e["event"] == "checks_owed"),
        "{}",
        text(&plan)
    );
}
