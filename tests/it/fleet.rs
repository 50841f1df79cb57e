//! The reconcile loop as a platform team runs it: several environments at
//! once, stacks left behind by a layout change, sync windows, and the
//! `sync` and `history` commands against a running agent.

use super::deploy::{edit, stacks};
use super::emulator::{account, clients, command, emulator, events, run};
use super::reconcile::{Repo, listening, parse_metrics, request, tick};
use super::running::Running;
use serde_json::Value as Json;

/// `driftless reconcile ENVS...` following `repo`'s main branch.
fn loop_command(
    repo: &Repo,
    account: &str,
    environments: &[&str],
    extra: &[&str],
) -> std::process::Command {
    let (origin, empty) = repo.followed_from_elsewhere();
    let mut args = vec!["reconcile"];
    args.extend_from_slice(environments);
    args.extend_from_slice(&["--repo", &origin, "--branch", "main"]);
    args.extend_from_slice(extra);
    command(&empty, account, &args, &emulator().endpoint())
}

fn stack_exists(c: &super::emulator::Clients, stack: &str) -> bool {
    c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
        .ok()
        .and_then(|out| {
            out.stacks()
                .first()
                .and_then(|s| s.stack_status().map(|s| s.as_str() != "DELETE_COMPLETE"))
        })
        .unwrap_or(false)
}

/// The value of a gauge for `environment` in a parsed exposition.
fn gauge(metrics: &Json, name: &str, environment: &str) -> Option<f64> {
    metrics
        .as_array()?
        .iter()
        .flat_map(|f| f["samples"].as_array().into_iter().flatten())
        .find(|s| s["name"] == name && s["labels"]["environment"] == environment)
        .and_then(|s| s["value"].as_f64())
}

/// Two environments of one commit are applied at once: each one's stack
/// operations start before the other's end.
#[test]
fn two_environments_are_applied_concurrently_each_under_its_own_lock() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let dev = std::fs::read_to_string(repo.work.join("environments/dev.yaml")).expect("dev");
    std::fs::write(
        repo.work.join("environments/qa.yaml"),
        dev.replace("environment: dev", "environment: qa"),
    )
    .expect("qa");
    super::support::git(&repo.work, &["add", "-A"]);
    super::support::git(&repo.work, &["commit", "-q", "-m", "qa"]);
    super::support::git(&repo.work, &["push", "-q", "origin", "main"]);
    let out = loop_command(
        &repo,
        &account,
        &["dev", "qa"],
        &["--once", "--parallel", "2"],
    )
    .output()
    .expect("run");
    let all = events(&out);
    let ticks: Vec<&Json> = all
        .iter()
        .filter(|e| e["event"] == "reconcile_tick")
        .collect();
    assert_eq!(ticks.len(), 2, "{ticks:#?}");
    for t in &ticks {
        assert_eq!(t["result"], "applied", "{t:#}");
    }
    assert_eq!(out.status.code(), Some(0));
    // In the order printed: each environment's first stack start comes
    // before the other's last stack end.
    let position = |event: &str, env: &str, last: bool| {
        let prefix = format!("{app}-{env}-");
        let mut matching = all.iter().enumerate().filter(|(_, e)| {
            e["event"] == event && e["stack"].as_str().is_some_and(|s| s.starts_with(&prefix))
        });
        let found = match last {
            true => matching.next_back(),
            false => matching.next(),
        };
        found
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {event} of {env}"))
    };
    assert!(
        position("stack_start", "qa", false) < position("stack_end", "dev", true),
        "qa started only after dev ended"
    );
    assert!(
        position("stack_start", "dev", false) < position("stack_end", "qa", true),
        "dev started only after qa ended"
    );
    let c = clients(&account, "us-east-1");
    for env in ["dev", "qa"] {
        let (stateful, stateless) = stacks(&app, env);
        assert!(stack_exists(&c, &stateful) && stack_exists(&c, &stateless));
    }
}

/// A stack the layout no longer names is reported (tick, status, page,
/// metrics) and kept; with `prune: true` the loop deletes it.
#[test]
fn an_orphaned_stack_is_reported_and_with_prune_true_deleted() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    let layout = "  stateless: [api, monitoring]";
    repo.push(
        "environments/dev.yaml",
        layout,
        "  stateless: [api]\n  extra: [monitoring]",
        "monitoring in its own stack",
    );
    let extra = format!("{app}-dev-extra");
    let c = clients(&account, "us-east-1");
    let mut agent = Running::spawn(loop_command(
        &repo,
        &account,
        &["dev"],
        &["--interval", "0.5", "--listen", "127.0.0.1:0"],
    ));
    let address = listening(&mut agent);
    tick(&mut agent, |e| e["result"] == "applied");
    assert!(stack_exists(&c, &extra));

    repo.push(
        "environments/dev.yaml",
        "  stateless: [api]\n  extra: [monitoring]",
        "  stateless: [api]",
        "no monitoring",
    );
    let kept = tick(&mut agent, |e| e["result"] == "out_of_sync");
    let message = kept["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("{extra}: orphaned")) && message.contains("prune: true"),
        "{kept:#}"
    );
    assert!(stack_exists(&c, &extra), "kept without prune: true");
    let (_, metrics) = request(&address, "GET", "/metrics", &[], "");
    let metrics = parse_metrics(&metrics);
    assert_eq!(
        gauge(&metrics, "driftless_orphaned_stacks", "dev"),
        Some(1.0)
    );
    let (_, page) = request(&address, "GET", "/env/dev", &[], "");
    assert!(
        page.contains("Orphaned stacks") && page.contains(&extra),
        "{page}"
    );
    let status = run(&repo.work, &account, &["status", "dev"]);
    let status = events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .expect("status");
    assert_eq!(status["status"]["sync"], "out_of_sync", "{status:#}");
    assert!(
        status["status"]["out_of_sync"].to_string().contains(&extra),
        "{status:#}"
    );

    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nprune: true",
        "prune",
    );
    let pruned = tick(&mut agent, |e| e["result"] == "applied");
    assert!(!stack_exists(&c, &extra), "{pruned:#}");
    let quiet = tick(&mut agent, |e| e["result"] == "in_sync");
    assert_eq!(quiet["api_calls"]["mutating"], 0, "{quiet:#}");
    let (_, metrics) = request(&address, "GET", "/metrics", &[], "");
    assert_eq!(
        gauge(&parse_metrics(&metrics), "driftless_orphaned_stacks", "dev"),
        Some(0.0)
    );
}

const TOKEN: &str = "a-listener-token-for-the-tests";

/// Inside a deny window the loop reports out of sync, shows the pending
/// plan and applies nothing; `driftless sync --force` applies it, and the
/// pass records who forced it; `history` lists it.
#[test]
fn a_deny_window_holds_the_loop_and_sync_force_applies_with_a_record_of_who() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nsync_windows:\n  - { kind: deny, schedule: \"* * * * *\", duration: 1m }",
        "always frozen",
    );
    let mut command = loop_command(
        &repo,
        &account,
        &["dev"],
        &[
            "--interval",
            "600",
            "--listen",
            "127.0.0.1:0",
            "--listen-token-env",
            "AGENT_TOKEN",
        ],
    );
    command.env("AGENT_TOKEN", TOKEN);
    let mut agent = Running::spawn(command);
    let address = listening(&mut agent);
    let held = tick(&mut agent, |_| true);
    assert_eq!(held["result"], "out_of_sync", "{held:#}");
    assert!(
        held["message"]
            .as_str()
            .unwrap_or_default()
            .contains("deny window `* * * * *`"),
        "{held:#}"
    );
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    assert!(!stack_exists(&c, &stateless), "nothing applied");
    let bearer = [("Authorization", format!("Bearer {TOKEN}"))];
    let (_, page) = request(&address, "GET", "/env/dev", &bearer, "");
    assert!(
        page.contains("Pending") && page.contains(&format!("data-stack=\"{stateless}\"")),
        "the page shows what the next pass would change"
    );

    let sync = |extra: &[&str], token: Option<&str>| {
        let mut args = vec!["sync", "dev", "--agent"];
        let url = format!("http://{address}");
        args.push(&url);
        args.extend_from_slice(extra);
        let mut command = command_in(&repo, &account, &args);
        command.env_remove("DRIFTLESS_AGENT_TOKEN");
        if let Some(token) = token {
            command.env("DRIFTLESS_AGENT_TOKEN", token);
        }
        command.output().expect("sync")
    };
    let refused = sync(&["--wait"], Some("not-the-token"));
    assert_ne!(refused.status.code(), Some(0));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&refused.stdout),
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(said.contains("refused the token"), "{said}");
    let still = sync(&["--wait"], Some(TOKEN));
    assert_eq!(still.status.code(), Some(2), "out of sync: exit 2");
    let forced = sync(&["--wait", "--force"], Some(TOKEN));
    assert_eq!(
        forced.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&forced.stdout),
        String::from_utf8_lossy(&forced.stderr)
    );
    let answer = events(&forced)
        .into_iter()
        .find(|e| e["event"] == "sync")
        .expect("sync event");
    assert_eq!(answer["tick"]["result"], "applied", "{answer:#}");
    let by = answer["tick"]["forced_by"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(by.contains('@'), "who forced it: {answer:#}");
    assert!(stack_exists(&c, &stateless));
    drop(agent);

    // The record outlives the agent.
    let history = run(&repo.work, &account, &["history", "dev"]);
    let passes: Vec<Json> = events(&history)
        .into_iter()
        .filter(|e| e["event"] == "pass")
        .map(|e| e["pass"].clone())
        .collect();
    let last = passes
        .last()
        .unwrap_or_else(|| panic!("no pass: {history:?}"));
    assert_eq!(last["command"], "reconcile", "{passes:#?}");
    assert_eq!(last["forced_by"].as_str(), Some(by.as_str()), "{passes:#?}");
    assert_eq!(last["result"], "ok");
}

fn command_in(repo: &Repo, account: &str, args: &[&str]) -> std::process::Command {
    command(&repo.work, account, args, &emulator().endpoint())
}

#[test]
fn a_sync_window_that_cannot_be_read_is_an_error_at_its_line() {
    let dir = super::support::reference_copy();
    let file = dir.path().join("environments/dev.yaml");
    edit(
        &file,
        "hotswap: true",
        "hotswap: true\nsync_windows:\n  - { kind: allow, schedule: \"0 25 * * *\", duration: 8h }\n  - { kind: sometimes, schedule: \"0 9 * * 1-5\", duration: 8h }",
    );
    let out = run(dir.path(), &account(), &["validate"]);
    assert_eq!(out.status.code(), Some(3));
    let diagnostics: Vec<Json> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "diagnostic")
        .collect();
    let text = format!("{diagnostics:#?}");
    assert!(text.contains("`25` is not a hour"), "{text}");
    assert!(text.contains("kind `sometimes`"), "{text}");
    assert!(text.contains("environments/dev.yaml"), "{text}");
}

/// A commit and drift at once, where the environment heals itself: one
/// pass applies the commit and puts the drift back (one pass recorded),
/// not an apply and then a second pass.
#[test]
fn a_commit_and_drift_at_once_are_applied_and_healed_in_one_pass() {
    let account = account();
    let (repo, app) = Repo::new(&account);
    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nself_heal: true",
        "heal",
    );
    let once = || {
        let out = loop_command(&repo, &account, &["dev"], &["--once"])
            .output()
            .expect("run");
        events(&out)
            .into_iter()
            .find(|e| e["event"] == "reconcile_tick")
            .unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(&out.stdout)))
    };
    assert_eq!(once()["result"], "applied");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(700)
            .send(),
    )
    .expect("by hand");
    // A change to the stateful stack alone: the function's stack is not
    // updated, so its drift stays for the heal.
    let commit = repo.push(
        "environments/dev.yaml",
        "database: { billing_mode: PAY_PER_REQUEST }",
        "database: { billing_mode: PROVISIONED }",
        "provisioned",
    );
    let both = once();
    assert_eq!(both["result"], "applied", "{both:#}");
    let message = both["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("healed: ") && message.contains("ApiHandler"),
        "{both:#}"
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
    assert_eq!(memory, Some(256), "healed");
    let history = run(&repo.work, &account, &["history", "dev"]);
    let at_commit: Vec<Json> = events(&history)
        .into_iter()
        .filter(|e| e["event"] == "pass" && e["pass"]["revision"] == commit.as_str())
        .collect();
    assert_eq!(at_commit.len(), 1, "one pass: {at_commit:#?}");
}

/// While the loop's pass shifts a release, the page and `/metrics` show
/// it as it goes: the share on the new version, progressing, and when the
/// step ends.
#[test]
fn a_release_in_the_loop_shows_its_weight_on_the_page_and_in_metrics_while_it_bakes() {
    let account = account();
    let (repo, _) = Repo::new(&account);
    repo.push(
        "environments/dev.yaml",
        "hotswap: true",
        "hotswap: true\nreleases: { strategy: canary 10% 20s }",
        "releases",
    );
    let mut agent = Running::spawn(loop_command(
        &repo,
        &account,
        &["dev"],
        &["--interval", "0.5", "--listen", "127.0.0.1:0"],
    ));
    let address = listening(&mut agent);
    tick(&mut agent, |e| e["result"] == "applied");
    let handler = "specs/api/runtime/lambda_function.py";
    let text = std::fs::read_to_string(repo.work.join(handler)).expect("handler");
    let last = text.lines().last().unwrap_or_default().to_string();
    repo.push(
        handler,
        &last,
        &format!("{last}\n# a new release"),
        "new code",
    );
    agent.next(
        |e| e["event"] == "release" && e["state"] == "shifting",
        std::time::Duration::from_secs(60),
    );
    let (_, metrics) = request(&address, "GET", "/metrics", &[], "");
    let metrics = parse_metrics(&metrics);
    assert_eq!(
        gauge(&metrics, "driftless_release_weight", "dev"),
        Some(0.1),
        "{metrics:#}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    let ends = gauge(
        &metrics,
        "driftless_release_step_end_timestamp_seconds",
        "dev",
    );
    assert!(
        ends.is_some_and(|t| t > now - 5.0 && t < now + 60.0),
        "when the step ends: {ends:?}"
    );
    let progressing = metrics
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["samples"].as_array().into_iter().flatten())
        .any(|s| {
            s["name"] == "driftless_health"
                && s["labels"]["health"] == "progressing"
                && s["value"] == 1.0
        });
    assert!(progressing, "{metrics:#}");
    let (_, page) = request(&address, "GET", "/env/dev", &[], "");
    assert!(
        page.contains("Releasing")
            && page.contains("10% on version 2")
            && page.contains("this step ends in"),
        "{page}"
    );
    tick(&mut agent, |e| e["result"] == "applied");
    let (_, metrics) = request(&address, "GET", "/metrics", &[], "");
    assert_eq!(
        gauge(&parse_metrics(&metrics), "driftless_release_weight", "dev"),
        None,
        "released"
    );
}
