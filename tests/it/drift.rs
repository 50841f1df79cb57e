//! Drift, health and status against the emulator: changes made outside
//! driftless found per resource and property, healed where the target can,
//! and the environment's status through deploys, edits, alarms and destroy.

use super::deploy::{deploy, edit, reference_app, stacks};
use super::emulator::{Clients, account, clients, emulator, events, run, summary};
use super::support::git;
use serde_json::Value as Json;
use std::path::Path;

pub(super) fn physical(c: &Clients, stack: &str, logical: &str) -> String {
    c.rt.block_on(
        c.cfn
            .describe_stack_resource()
            .stack_name(stack)
            .logical_resource_id(logical)
            .send(),
    )
    .expect("describe stack resource")
    .stack_resource_detail()
    .and_then(|d| d.physical_resource_id())
    .expect("a physical id")
    .to_string()
}

fn drift_resources(out: &std::process::Output) -> Vec<Json> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "drift_resource")
        .map(|e| e["resource_drift"].clone())
        .collect()
}

fn resource<'a>(all: &'a [Json], logical: &str) -> &'a Json {
    all.iter()
        .find(|r| r["logical_id"] == logical)
        .unwrap_or_else(|| panic!("no {logical} in {all:#?}"))
}

fn memory(c: &Clients, function: &str) -> i32 {
    c.rt.block_on(
        c.lambda
            .get_function_configuration()
            .function_name(function)
            .send(),
    )
    .expect("get function configuration")
    .memory_size()
    .unwrap_or_default()
}

#[test]
fn drift_made_outside_is_named_per_property_and_healed_where_the_target_can() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    let (stateful, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");

    let clean = run(project, &account, &["drift", "dev"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let all = drift_resources(&clean);
    assert_eq!(resource(&all, "ApiHttp")["status"], "NOT_CHECKED");
    assert_eq!(resource(&all, "DatabaseUsers")["status"], "IN_SYNC");

    // Outside driftless: the table to provisioned, the function to 512 MB.
    let table = physical(&c, &stateful, "DatabaseUsers");
    let function = physical(&c, &stateless, "ApiHandler");
    c.rt.block_on(
        c.dynamodb
            .update_table()
            .table_name(&table)
            .billing_mode(aws_sdk_dynamodb::types::BillingMode::Provisioned)
            .provisioned_throughput(
                aws_sdk_dynamodb::types::ProvisionedThroughput::builder()
                    .read_capacity_units(3)
                    .write_capacity_units(3)
                    .build()
                    .expect("throughput"),
            )
            .send(),
    )
    .expect("update table");
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(512)
            .send(),
    )
    .expect("update function");

    let drifted = run(project, &account, &["drift", "dev"]);
    assert_eq!(drifted.status.code(), Some(2));
    let all = drift_resources(&drifted);
    let table_drift = resource(&all, "DatabaseUsers");
    assert_eq!(table_drift["status"], "MODIFIED");
    assert_eq!(table_drift["resource"], "database.users");
    let billing = &table_drift["differences"][0];
    assert_eq!(
        (
            &billing["path"],
            &billing["expected"],
            &billing["actual"],
            &billing["kind"]
        ),
        (
            &Json::from("/BillingMode"),
            &Json::from("PAY_PER_REQUEST"),
            &Json::from("PROVISIONED"),
            &Json::from("NOT_EQUAL")
        )
    );
    let memory_drift = &resource(&all, "ApiHandler")["differences"][0];
    assert_eq!(
        (
            &memory_drift["path"],
            &memory_drift["expected"],
            &memory_drift["actual"]
        ),
        (
            &Json::from("/MemorySize"),
            &Json::from("256"),
            &Json::from("512")
        )
    );
    assert_eq!(resource(&all, "ApiHttp")["status"], "NOT_CHECKED");
    let text = super::emulator::human(project, &account, &["drift", "dev"]);
    assert!(
        text.contains("expected PAY_PER_REQUEST, actual PROVISIONED"),
        "{text}"
    );
    assert!(text.contains("not checked"), "{text}");

    let plan = run(project, &account, &["plan", "dev", "--drift"]);
    assert_eq!(plan.status.code(), Some(2), "a pipeline can fail on drift");
    assert_eq!(summary(&plan)["stacks"]["drift_detection"]["drifted"], 2);

    // The function heals through Lambda; the table cannot heal here.
    let healed = run(project, &account, &["deploy", "dev", "--revert-drift"]);
    assert_eq!(
        healed.status.code(),
        Some(2),
        "drift remains: not a success"
    );
    let heals: Vec<Json> = events(&healed)
        .into_iter()
        .filter(|e| e["event"] == "heal")
        .collect();
    let heal = |logical: &str| {
        heals
            .iter()
            .find(|h| h["logical_id"] == logical)
            .unwrap_or_else(|| panic!("no heal of {logical} in {heals:#?}"))
    };
    assert_eq!(heal("ApiHandler")["result"], "healed");
    assert_eq!(heal("ApiHandler")["through"], "lambda");
    assert_eq!(heal("DatabaseUsers")["result"], "not_revertible");
    assert_eq!(memory(&c, &function), 256);
    let after = run(project, &account, &["drift", "dev"]);
    let all = drift_resources(&after);
    assert_eq!(resource(&all, "ApiHandler")["status"], "IN_SYNC");
    assert_eq!(resource(&all, "DatabaseUsers")["status"], "MODIFIED");

    // `self_heal: true`: a plain deploy heals too.
    c.rt.block_on(
        c.lambda
            .update_function_configuration()
            .function_name(&function)
            .memory_size(640)
            .send(),
    )
    .expect("update function");
    edit(
        &project.join("environments/dev.yaml"),
        "hotswap: true\n",
        "hotswap: true\nself_heal: true\n",
    );
    let plain = run(project, &account, &["deploy", "dev"]);
    assert!(
        events(&plain).iter().any(|e| e["event"] == "heal"
            && e["logical_id"] == "ApiHandler"
            && e["result"] == "healed"),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );
    assert_eq!(memory(&c, &function), 256);
}

fn status_of(out: &std::process::Output) -> Vec<Json> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "status")
        .collect()
}

pub(super) fn set_alarm(account: &str, name: &str, state: aws_sdk_cloudwatch::types::StateValue) {
    let c = clients(account, "us-east-1");
    let cloudwatch = c.rt.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(emulator().endpoint())
            .credentials_provider(aws_credential_types::Credentials::new(
                account, "test", None, None, "tests",
            ))
            .load()
            .await;
        aws_sdk_cloudwatch::Client::new(&sdk)
    });
    c.rt.block_on(
        cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("errors above the threshold")
            .send(),
    )
    .expect("set alarm state");
}

fn both_local(project: &Path) {
    edit(
        &project.join("environments/prod.yaml"),
        "target: { region: eu-west-1, account: \"222222222222\" }",
        "target: local",
    );
}

#[test]
fn status_follows_sync_health_alarms_and_destroy() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    both_local(project);
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");

    let fresh = run(project, &account, &["status", "dev"]);
    assert_eq!(
        fresh.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&fresh.stdout)
    );
    let s = &status_of(&fresh)[0]["status"];
    assert_eq!(
        (&s["sync"], &s["health"]),
        (&Json::from("synced"), &Json::from("healthy"))
    );
    assert_eq!(s["last_pass"]["command"], "deploy");
    assert_eq!(s["last_pass"]["checks"], "passed");

    let unit = project.join("specs/api/unit.yaml");
    let original = std::fs::read_to_string(&unit).expect("read");
    edit(
        &unit,
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 384 }",
    );
    let edited = run(project, &account, &["status", "dev"]);
    assert_eq!(edited.status.code(), Some(2));
    let s = &status_of(&edited)[0]["status"];
    assert_eq!(s["sync"], "out_of_sync");
    assert!(
        s["out_of_sync"][0]
            .as_str()
            .unwrap_or_default()
            .contains(&stateless),
        "{s:#}"
    );
    std::fs::write(&unit, original).expect("restore");

    let alarm = physical(&c, &stateless, "MonitoringFunctionErrors");
    set_alarm(
        &account,
        &alarm,
        aws_sdk_cloudwatch::types::StateValue::Alarm,
    );
    let firing = run(project, &account, &["status", "dev"]);
    assert_eq!(firing.status.code(), Some(8));
    let s = &status_of(&firing)[0]["status"];
    assert_eq!(s["health"], "degraded");
    assert!(
        s["health_reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r.as_str().unwrap_or_default().contains(&alarm)),
        "{s:#}"
    );

    // Every environment in one call: dev degraded, prod never deployed.
    let every = run(project, &account, &["status", "--all"]);
    assert_eq!(every.status.code(), Some(8));
    let rows = status_of(&every);
    let health: Vec<(String, String)> = rows
        .iter()
        .map(|r| {
            (
                r["status"]["environment"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                r["status"]["health"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        health,
        [
            ("dev".to_string(), "degraded".to_string()),
            ("prod".to_string(), "missing".to_string())
        ]
    );

    set_alarm(&account, &alarm, aws_sdk_cloudwatch::types::StateValue::Ok);
    let destroyed = run(project, &account, &["destroy", "dev", "--yes"]);
    super::emulator::ok(&destroyed);
    let gone = run(project, &account, &["status", "dev"]);
    assert_eq!(gone.status.code(), Some(8));
    assert_eq!(status_of(&gone)[0]["status"]["health"], "missing");
}

fn revision_tag(c: &Clients, stack: &str) -> Option<String> {
    c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
        .expect("describe stack")
        .stacks()[0]
        .tags()
        .iter()
        .find(|t| t.key() == Some("driftless:revision"))
        .and_then(|t| t.value().map(String::from))
}

#[test]
fn every_applied_stack_records_the_commit_it_came_from() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    git(project, &["init", "-q"]);
    git(project, &["add", "-A"]);
    git(project, &["commit", "-q", "-m", "first"]);
    let head = git(project, &["rev-parse", "HEAD"]);
    deploy(project, &account, "dev");
    assert_eq!(revision_tag(&c, &stateless), Some(head.clone()));
    let status = run(project, &account, &["status", "dev"]);
    assert_eq!(
        status_of(&status)[0]["status"]["stacks"][1]["revision"],
        Json::from(head.clone())
    );

    edit(
        &project.join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 320 }",
    );
    deploy(project, &account, "dev");
    assert_eq!(revision_tag(&c, &stateless), Some(format!("{head}+dirty")));
}
