//! Faults between driftless and the emulator: throttling, 500s, dropped
//! connections, lost responses and latency on a third of the calls, and a
//! deploy killed at ten points. Each converges to the state a clean deploy
//! reaches, with nothing duplicated and no item lost.

use super::deploy::{edit, output, reference_app, stacks};
use super::emulator::{Clients, account, clients, command, emulator, events, run, summary};
use super::proxy::{self, Fault};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn via(project: &Path, account: &str, endpoint: &str, args: &[&str]) -> std::process::Output {
    command(project, account, args, endpoint)
        .output()
        .expect("run driftless")
}

fn succeeded(out: &std::process::Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The state that matters, per stack: status, template and resources.
/// (Hashes differ between accounts: parameters carry physical names.)
fn state(c: &Clients, app: &str) -> BTreeMap<String, (String, String, Vec<String>)> {
    let listed =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .expect("list stacks");
    listed
        .stacks()
        .iter()
        .filter_map(|s| {
            s.stack_name()
                .filter(|n| n.starts_with(app))
                .map(|n| (n, s))
        })
        .map(|(name, s)| {
            let template =
                c.rt.block_on(c.cfn.get_template().stack_name(name).send())
                    .expect("get template")
                    .template_body()
                    .unwrap_or_default()
                    .to_string();
            let mut resources: Vec<String> =
                c.rt.block_on(c.cfn.describe_stack_resources().stack_name(name).send())
                    .expect("stack resources")
                    .stack_resources()
                    .iter()
                    .map(|r| {
                        format!(
                            "{} {}",
                            r.logical_resource_id().unwrap_or_default(),
                            r.resource_status().map(|s| s.as_str()).unwrap_or_default()
                        )
                    })
                    .collect();
            resources.sort();
            let status = s
                .stack_status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default();
            (name.to_string(), (status, template, resources))
        })
        .collect()
}

/// Nothing duplicated: one table, one function of the app, three stacks.
fn assert_single_copies(c: &Clients, app: &str) {
    let tables =
        c.rt.block_on(c.dynamodb.list_tables().send())
            .expect("list tables");
    assert_eq!(tables.table_names().len(), 1, "{:?}", tables.table_names());
    let functions =
        c.rt.block_on(c.lambda.list_functions().send())
            .expect("list functions");
    let ours = functions
        .functions()
        .iter()
        .filter(|f| f.function_name().is_some_and(|n| n.starts_with(app)))
        .count();
    assert_eq!(ours, 1);
    let listed =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .expect("list stacks");
    assert_eq!(listed.stacks().len(), 3, "bootstrap, stateful, stateless");
}

fn converged(project: &Path, account: &str) {
    let plan = run(project, account, &["plan", "dev"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "converged: nothing left to do\n{}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

#[test]
fn deploys_through_a_third_of_calls_faulted_converge_like_clean_ones() {
    let (project, app) = reference_app(&account());
    // The same project, deployed cleanly in one account and through faults
    // in another, must end in the same state.
    let clean = account();
    succeeded(&run(project.path(), &clean, &["deploy", "dev", "--yes"]));
    let faulty = account();
    let proxy = proxy::start(emulator().port, 3, Duration::ZERO);
    succeeded(&via(
        project.path(),
        &faulty,
        &proxy.endpoint(),
        &["deploy", "dev", "--yes"],
    ));
    let (c_clean, c_faulty) = (clients(&clean, "us-east-1"), clients(&faulty, "us-east-1"));
    assert_eq!(state(&c_faulty, &app), state(&c_clean, &app));
    assert_single_copies(&c_faulty, &app);
    converged(project.path(), &faulty);

    // An update through faults keeps the items.
    let table = output(&c_faulty, &stacks(&app, "dev").0, "DatabaseTableName");
    for i in 0..5 {
        c_faulty
            .rt
            .block_on(
                c_faulty
                    .dynamodb
                    .put_item()
                    .table_name(&table)
                    .item("username", AttributeValue::S(format!("u{i}")))
                    .send(),
            )
            .expect("put item");
    }
    edit(
        &project.path().join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 512 }",
    );
    succeeded(&run(project.path(), &clean, &["deploy", "dev", "--yes"]));
    succeeded(&via(
        project.path(),
        &faulty,
        &proxy.endpoint(),
        &["deploy", "dev", "--yes"],
    ));
    assert_eq!(state(&c_faulty, &app), state(&c_clean, &app));
    assert_single_copies(&c_faulty, &app);
    let items = c_faulty
        .rt
        .block_on(c_faulty.dynamodb.scan().table_name(&table).send())
        .expect("scan");
    assert_eq!(items.items().len(), 5);
    converged(project.path(), &faulty);

    let requests = proxy.requests();
    let faulted = proxy
        .counts
        .faulted
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        faulted * 5 >= requests,
        "at least 20% of calls faulted: {faulted} of {requests}"
    );
    for kind in [
        Fault::Throttle,
        Fault::ServerError,
        Fault::DropBefore,
        Fault::LoseResponse,
        Fault::Latency,
    ] {
        assert!(proxy.faulted(kind) > 0, "{kind:?} was injected");
    }
}

#[test]
fn a_deploy_killed_at_ten_points_converges_when_run_again() {
    let (project, app) = reference_app(&account());
    // How many calls a cold deploy makes, to spread the kills over it.
    let probe = run(project.path(), &account(), &["deploy", "dev", "--yes"]);
    succeeded(&probe);
    let total = summary(&probe)["api_calls"]["total"].as_u64().unwrap_or(0) as usize;
    assert!(total >= 20, "a cold deploy makes {total} calls");
    let mut killed_mid_flight = 0;
    for point in 1..=10 {
        let at = point * (total - 2) / 10 + 1;
        let account = account();
        // Latency on every call, so that the kill lands between calls in flight.
        let proxy = proxy::start(emulator().port, 0, Duration::from_millis(40));
        let mut child = command(
            project.path(),
            &account,
            &["deploy", "dev", "--yes"],
            &proxy.endpoint(),
        )
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start deploy");
        let started = Instant::now();
        while proxy.requests() < at && started.elapsed() < Duration::from_secs(60) {
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        if child.try_wait().ok().flatten().is_none() {
            killed_mid_flight += 1;
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        drop(proxy);

        let again = run(project.path(), &account, &["deploy", "dev", "--yes"]);
        let text = String::from_utf8_lossy(&again.stdout).into_owned();
        assert_eq!(
            again.status.code(),
            Some(0),
            "killed at call {at}, then:\n{text}"
        );
        assert!(
            !events(&again).iter().any(|e| e["event"] == "lock_wait"),
            "a lock left by a killed deploy on this host is taken over at once"
        );
        let c = clients(&account, "us-east-1");
        assert_single_copies(&c, &app);
        converged(project.path(), &account);
    }
    assert_eq!(
        killed_mid_flight, 10,
        "every kill landed while the deploy ran"
    );
}

#[test]
fn ctrl_c_starts_nothing_new_reports_what_is_in_flight_and_exits_130() {
    let (project, app) = reference_app(&account());
    let account = account();
    // Slow calls, so that the stateful stack's operation spans many of them.
    let proxy = proxy::start(emulator().port, 0, Duration::from_millis(60));
    let mut child = command(
        project.path(),
        &account,
        &["deploy", "dev", "--yes"],
        &proxy.endpoint(),
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("start deploy");
    // Interrupt once the stateful stack has started, as its events say.
    let stateful = stacks(&app, "dev").0;
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(
        child.stdout.take().expect("stdout"),
    ));
    let mut text = String::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        text.push_str(&line);
        text.push('\n');
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["event"] == "stack_start" && event["stack"] == stateful.as_str() {
            break;
        }
    }
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("send SIGINT");
    assert!(status.success());
    for line in lines {
        text.push_str(&line.expect("a line"));
        text.push('\n');
    }
    let status = child.wait().expect("deploy ends");
    assert_eq!(status.code(), Some(130), "{text}");
    let e: Vec<serde_json::Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let stopping = e
        .iter()
        .find(|e| e["event"] == "stopping")
        .unwrap_or_else(|| panic!("a stopping event:\n{text}"));
    assert_eq!(stopping["reason"], "interrupt");
    assert_eq!(
        stopping["in_flight"],
        serde_json::json!([stateful]),
        "the stateful stack was in flight and finished: {text}"
    );
    // The stateless wave never started.
    let stateless = stacks(&app, "dev").1;
    assert!(
        !e.iter()
            .any(|e| e["event"] == "stack_start" && e["stack"] == stateless.as_str()),
        "{text}"
    );
    drop(proxy);
    succeeded(&run(project.path(), &account, &["deploy", "dev", "--yes"]));
    converged(project.path(), &account);
}

#[test]
fn a_pass_out_of_time_starts_nothing_new_and_fails() {
    let (project, app) = reference_app(&account());
    let account = account();
    let out = run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes", "--timeout", "0"],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let e = events(&out);
    assert!(
        e.iter()
            .any(|e| e["event"] == "stopping" && e["reason"] == "timeout"),
        "{text}"
    );
    let (stateful, stateless) = stacks(&app, "dev");
    assert!(
        !e.iter().any(|e| e["event"] == "stack_start"
            && (e["stack"] == stateful.as_str() || e["stack"] == stateless.as_str())),
        "{text}"
    );
    assert!(text.contains("deploy again to go on"), "{text}");
    succeeded(&run(project.path(), &account, &["deploy", "dev", "--yes"]));
    converged(project.path(), &account);
}
