//! A resource deleted outside CloudFormation: a state the tool reports
//! (health `missing`, the resource named), not an error that wedges every
//! command; a deploy brings it back.

use super::deploy::{deploy, output, reference_app, stacks};
use super::emulator::{Clients, account, clients, events, http, ok, run};
use serde_json::Value as Json;

fn delete_function(c: &Clients, function: &str) {
    c.rt.block_on(c.lambda.delete_function().function_name(function).send())
        .expect("delete by hand");
}

pub(super) fn exists(c: &Clients, function: &str) -> bool {
    c.rt.block_on(c.lambda.get_function().function_name(function).send())
        .is_ok()
}

fn text(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_function_deleted_by_hand_is_reported_missing_and_the_next_deploy_brings_it_back() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = super::drift::physical(&c, &stateless, "ApiHandler");
    delete_function(&c, &function);

    // Status: a state, with the resource named, not a GetFunction error.
    let status = run(project, &account, &["status", "dev"]);
    let s = events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .unwrap_or_else(|| panic!("no status: {}", text(&status)));
    let s = &s["status"];
    assert_eq!(s["health"], "missing", "{s:#}");
    let reasons = s["health_reasons"].to_string();
    assert!(
        reasons.contains("ApiHandler was deleted outside CloudFormation"),
        "{reasons}"
    );
    assert_eq!(s["sync"], "out_of_sync", "{s:#}");

    // Drift names it deleted.
    let drift = run(project, &account, &["drift", "dev"]);
    let deleted: Vec<Json> = events(&drift)
        .into_iter()
        .filter(|e| e["event"] == "drift_resource")
        .map(|e| e["resource_drift"].clone())
        .filter(|r| r["logical_id"] == "ApiHandler")
        .collect();
    assert_eq!(deleted.len(), 1, "{}", text(&drift));
    assert_eq!(deleted[0]["status"], "DELETED");

    // Plan: out of sync (2), saying why.
    let plan = run(project, &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan));
    let planned = events(&plan)
        .into_iter()
        .find(|e| e["event"] == "stack_plan" && e["stack"] == stateless.as_str())
        .unwrap_or_else(|| panic!("{}", text(&plan)));
    assert_eq!(planned["action"], "update", "{planned:#}");
    assert!(
        planned["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("ApiHandler deleted outside CloudFormation"),
        "{planned:#}"
    );

    // The deploy brings it back, in two updates, and the API answers
    // through it (the smoke checks ran against it too).
    let deployed = run(project, &account, &["deploy", "dev", "--yes"]);
    ok(&deployed);
    let restoring = events(&deployed)
        .into_iter()
        .find(|e| e["event"] == "restoring")
        .unwrap_or_else(|| panic!("{}", text(&deployed)));
    assert_eq!(restoring["missing"], serde_json::json!(["ApiHandler"]));
    let taken_out = restoring["taken_out"].to_string();
    assert!(
        taken_out.contains("ApiHttpIntegrationApiHandler"),
        "{taken_out}"
    );
    let again = super::drift::physical(&c, &stateless, "ApiHandler");
    assert!(exists(&c, &again), "{again} is back");
    let url = output(&c, &stateless, "ApiEndpoint");
    let answer = http("GET", &format!("{url}/users"), &account, None);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let status = run(project, &account, &["status", "dev"]);
    let s = events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .expect("status");
    assert_eq!(
        (&s["status"]["sync"], &s["status"]["health"]),
        (&Json::from("synced"), &Json::from("healthy")),
        "{s:#}"
    );
}
