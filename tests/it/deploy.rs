//! The reconcile pass against the local emulator: deploy from nothing, no-op,
//! targeted updates, prod settings, outputs flowing downstream, destroy.

use super::emulator::{Clients, account, clients, events, http, ok, run, summary};
use super::support::{reference_copy, repo_root};
use serde_json::Value as Json;
use std::path::Path;

/// A copy of the reference application under an app name of its own.
/// MiniStack keys Lambda workers by function name alone, and function names
/// derive from stack names, so tests in different accounts still need
/// different stack names to run side by side.
pub fn reference_app(account: &str) -> (tempfile::TempDir, String) {
    let project = reference_copy();
    let app = format!("um{}", &account[account.len() - 6..]);
    for env in ["dev", "prod"] {
        edit(
            &project.path().join(format!("environments/{env}.yaml")),
            "app: user-management",
            &format!("app: {app}"),
        );
    }
    (project, app)
}

pub fn stacks(app: &str, env: &str) -> (String, String) {
    (
        format!("{app}-{env}-stateful"),
        format!("{app}-{env}-stateless"),
    )
}

pub fn deploy(project: &Path, account: &str, env: &str) -> std::process::Output {
    let out = run(project, account, &["deploy", env, "--yes"]);
    ok(&out);
    out
}

pub fn stack_status(c: &Clients, stack: &str) -> String {
    c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
        .expect("describe stack")
        .stacks()[0]
        .stack_status()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

pub fn output(c: &Clients, stack: &str, key: &str) -> String {
    let out =
        c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
            .expect("describe stack");
    out.stacks()[0]
        .outputs()
        .iter()
        .find(|o| o.output_key() == Some(key))
        .and_then(|o| o.output_value())
        .unwrap_or_else(|| panic!("{stack} has no output {key}"))
        .to_string()
}

fn parameter(c: &Clients, stack: &str, key: &str) -> String {
    let out =
        c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
            .expect("describe stack");
    out.stacks()[0]
        .parameters()
        .iter()
        .find(|p| p.parameter_key() == Some(key))
        .and_then(|p| p.parameter_value())
        .unwrap_or_else(|| panic!("{stack} has no parameter {key}"))
        .to_string()
}

pub fn reserved_concurrency(c: &Clients, function: &str) -> Option<i32> {
    c.rt.block_on(
        c.lambda
            .get_function_concurrency()
            .function_name(function)
            .send(),
    )
    .expect("get function concurrency")
    .reserved_concurrent_executions()
}

pub fn stack_ends(out: &std::process::Output) -> Vec<(String, String)> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "stack_end")
        .map(|e| {
            (
                e["stack"].as_str().unwrap_or_default().to_string(),
                e["result"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

pub fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no `{from}`", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn deploy_dev_from_nothing_settles_both_stacks_and_serves_crud() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (stateful, stateless) = stacks(&app, "dev");
    let before = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(before.status.code(), Some(2), "plan before deploy: changes");

    let out = deploy(project.path(), &account, "dev");
    let ends = stack_ends(&out);
    assert!(
        ends.contains(&(stateful.clone(), "created".into())),
        "{ends:?}"
    );
    assert!(
        ends.contains(&(stateless.clone(), "created".into())),
        "{ends:?}"
    );
    // The bootstrap stack, created alone before the lock, counts as created.
    let counts = &summary(&out)["stacks"];
    assert_eq!(counts["created"], 3, "{counts}");
    assert_eq!(counts["unchanged"], 0, "{counts}");

    let c = clients(&account, "us-east-1");
    assert_eq!(stack_status(&c, &stateful), "CREATE_COMPLETE");
    assert_eq!(stack_status(&c, &stateless), "CREATE_COMPLETE");
    let table = output(&c, &stateful, "DatabaseTableName");
    let described =
        c.rt.block_on(c.dynamodb.describe_table().table_name(&table).send())
            .expect("describe table");
    let billing = described
        .table()
        .and_then(|t| t.billing_mode_summary())
        .and_then(|b| b.billing_mode())
        .map(|m| m.as_str().to_string());
    assert_eq!(billing.as_deref(), Some("PAY_PER_REQUEST"));
    let function = output(&c, &stateless, "ApiFunctionName");
    assert_eq!(reserved_concurrency(&c, &function), Some(1));

    let endpoint = output(&c, &stateless, "ApiEndpoint");
    let created = http(
        "POST",
        &format!("{endpoint}/users"),
        &account,
        Some(r#"{"username": "ada", "email": "ada@example.com"}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let location = created.headers.iter().find(|(k, _)| k == "location");
    assert_eq!(location.map(|(_, v)| v.as_str()), Some("/users/ada"));
    let read = http("GET", &format!("{endpoint}/users/ada"), &account, None);
    assert_eq!(read.status, 200, "{}", read.body);
    let user: Json = serde_json::from_str(&read.body).expect("JSON user");
    assert_eq!(user["email"], "ada@example.com");
    let deleted = http("DELETE", &format!("{endpoint}/users/ada"), &account, None);
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = http("GET", &format!("{endpoint}/users/ada"), &account, None);
    assert_eq!(gone.status, 404, "{}", gone.body);

    let after = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(
        after.status.code(),
        Some(0),
        "plan after deploy: no changes"
    );
    let outputs = run(project.path(), &account, &["outputs", "dev"]);
    ok(&outputs);
    let listed = events(&outputs);
    assert!(
        listed
            .iter()
            .any(|e| e["name"] == "api.endpoint" && e["value"] == endpoint.as_str()),
        "{listed:?}"
    );
    assert!(
        !listed.iter().any(|e| e["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("DriftlessFunction"))),
        "internal outputs stay hidden"
    );
}

#[test]
fn deploying_again_is_a_no_op_without_mutating_calls() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (stateful, stateless) = stacks(&app, "dev");
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let count_events = |stack: &str| {
        c.rt.block_on(c.cfn.describe_stack_events().stack_name(stack).send())
            .expect("events")
            .stack_events()
            .len()
    };
    let events_before = (count_events(&stateful), count_events(&stateless));

    let again = deploy(project.path(), &account, "dev");
    let calls = &summary(&again)["api_calls"];
    assert_eq!(calls["mutating"], 0, "{calls}");
    let operations: Vec<&String> = calls["by_operation"]
        .as_object()
        .expect("by_operation")
        .keys()
        .collect();
    assert!(
        operations
            .iter()
            .all(|op| op.starts_with("Describe") || op.starts_with("Get")),
        "{operations:?}"
    );
    assert!(calls["total"].as_u64().is_some_and(|n| n >= 1), "{calls}");
    assert!(stack_ends(&again).is_empty());
    // The stacks saw no operation at all.
    assert_eq!(
        (count_events(&stateful), count_events(&stateless)),
        events_before
    );
}

#[test]
fn changing_function_memory_updates_only_the_stateless_stack() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (stateful, stateless) = stacks(&app, "dev");
    deploy(project.path(), &account, "dev");
    edit(
        &project.path().join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 512 }",
    );
    let plan = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(2));
    let planned: Vec<(String, String)> = events(&plan)
        .into_iter()
        .filter(|e| e["event"] == "stack_plan")
        .map(|e| {
            (
                e["stack"].as_str().unwrap_or_default().to_string(),
                e["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert!(
        planned.contains(&(stateful.clone(), "no_op".into())),
        "{planned:?}"
    );
    assert!(
        planned.contains(&(stateless.clone(), "update".into())),
        "{planned:?}"
    );
    let memory_change = events(&plan).into_iter().any(|e| {
        e["event"] == "stack_plan"
            && e["changes"].as_array().is_some_and(|changes| {
                changes.iter().any(|c| {
                    c["logical_id"] == "ApiHandler"
                        && c["properties"].as_array().is_some_and(|p| {
                            p.iter().any(|p| {
                                p["path"] == "Properties.MemorySize"
                                    && p["before"] == 256
                                    && p["after"] == 512
                            })
                        })
                })
            })
    });
    assert!(memory_change, "the plan shows MemorySize 256 -> 512");

    let out = deploy(project.path(), &account, "dev");
    assert_eq!(
        stack_ends(&out),
        vec![(stateless.clone(), "updated".into())]
    );
    let c = clients(&account, "us-east-1");
    let function = output(&c, &stateless, "ApiFunctionName");
    let config =
        c.rt.block_on(
            c.lambda
                .get_function_configuration()
                .function_name(&function)
                .send(),
        )
        .expect("function configuration");
    assert_eq!(config.memory_size(), Some(512));
    assert_eq!(stack_status(&c, &stateful), "CREATE_COMPLETE");
}

#[test]
fn prod_deploys_provisioned_and_a_capacity_change_keeps_the_items() {
    // The prod environment's own account, as its target says.
    let account = "222222222222";
    let (project, app) = reference_app(account);
    deploy(project.path(), account, "prod");
    let c = clients(account, "eu-west-1");
    let (stateful, stateless) = stacks(&app, "prod");
    let protection = |stack: &str| {
        c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
            .expect("describe stack")
            .stacks()[0]
            .enable_termination_protection()
    };
    assert_eq!(
        protection(&stateful),
        Some(true),
        "protect: true guards the data"
    );
    assert_ne!(protection(&stateless), Some(true));
    let table = output(&c, &stateful, "DatabaseTableName");
    let describe = || {
        c.rt.block_on(c.dynamodb.describe_table().table_name(&table).send())
            .expect("describe table")
    };
    let t = describe();
    let t = t.table().expect("table");
    assert_eq!(
        t.billing_mode_summary()
            .and_then(|b| b.billing_mode())
            .map(|m| m.as_str()),
        Some("PROVISIONED")
    );
    let throughput = t.provisioned_throughput().expect("throughput");
    assert_eq!(throughput.read_capacity_units(), Some(5));
    assert_eq!(throughput.write_capacity_units(), Some(5));
    let function = output(&c, &stateless, "ApiFunctionName");
    assert_eq!(reserved_concurrency(&c, &function), Some(10));

    c.rt.block_on(
        c.dynamodb
            .put_item()
            .table_name(&table)
            .item(
                "username",
                aws_sdk_dynamodb::types::AttributeValue::S("grace".into()),
            )
            .send(),
    )
    .expect("put item");
    edit(
        &project.path().join("environments/prod.yaml"),
        "read_capacity: 5, write_capacity: 5",
        "read_capacity: 7, write_capacity: 6",
    );
    let out = deploy(project.path(), account, "prod");
    assert!(
        stack_ends(&out).contains(&(stateful.clone(), "updated".into())),
        "{:?}",
        stack_ends(&out)
    );
    let replaced = events(&out).into_iter().any(|e| {
        e["event"] == "change_set"
            && e["changes"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["replacement"] == "True" || c["action"] == "Remove")
            })
    });
    assert!(!replaced, "the capacity change is in place");
    let t = describe();
    let t = t.table().expect("table still there, same name");
    let throughput = t.provisioned_throughput().expect("throughput");
    assert_eq!(throughput.read_capacity_units(), Some(7));
    assert_eq!(throughput.write_capacity_units(), Some(6));
    let item =
        c.rt.block_on(
            c.dynamodb
                .get_item()
                .table_name(&table)
                .key(
                    "username",
                    aws_sdk_dynamodb::types::AttributeValue::S("grace".into()),
                )
                .send(),
        )
        .expect("get item");
    assert!(item.item().is_some(), "the item survived the update");
}

#[test]
fn an_upstream_output_change_reaches_the_downstream_parameters() {
    let project = chain_copy();
    let account = account();
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let first = parameter(&c, "chain-dev-downstream", "NamingTopicArn");
    assert!(first.ends_with(":first"), "{first}");
    assert_eq!(first, output(&c, "chain-dev-upstream", "NamingTopicArn"));

    edit(
        &project.path().join("environments/dev.yaml"),
        "topic_name: first",
        "topic_name: second",
    );
    let out = deploy(project.path(), &account, "dev");
    let ends = stack_ends(&out);
    assert!(
        ends.contains(&("chain-dev-upstream".into(), "updated".into())),
        "{ends:?}"
    );
    assert!(
        ends.contains(&("chain-dev-downstream".into(), "updated".into())),
        "{ends:?}"
    );
    let second = parameter(&c, "chain-dev-downstream", "NamingTopicArn");
    assert!(second.ends_with(":second"), "{second}");
}

#[test]
fn destroy_keeps_stateful_stacks_unless_asked_and_lists_retained_resources() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (stateful, stateless) = stacks(&app, "dev");
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let table = output(&c, &stateful, "DatabaseTableName");

    let out = run(project.path(), &account, &["destroy", "dev", "--yes"]);
    ok(&out);
    let ends = stack_ends(&out);
    assert!(
        ends.contains(&(stateless.clone(), "deleted".into())),
        "{ends:?}"
    );
    assert!(
        ends.contains(&(stateful.clone(), "kept".into())),
        "{ends:?}"
    );
    assert_eq!(stack_status(&c, &stateful), "CREATE_COMPLETE");

    let out = run(
        project.path(),
        &account,
        &["destroy", "dev", "--include-stateful", "--yes"],
    );
    ok(&out);
    assert!(stack_ends(&out).contains(&(stateful.clone(), "deleted".into())));
    let retained: Vec<Json> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "retained")
        .collect();
    assert!(
        retained
            .iter()
            .any(|e| e["type"] == "AWS::DynamoDB::Table" && e["physical_id"] == table.as_str()),
        "{retained:?}"
    );
    // The table outlives its stack, as its Retain policy says.
    c.rt.block_on(c.dynamodb.describe_table().table_name(&table).send())
        .expect("the retained table is still there");
    let listed =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .expect("list stacks");
    assert!(
        listed
            .stacks()
            .iter()
            .all(|s| s.stack_name() != Some(stateful.as_str())
                && s.stack_name() != Some(stateless.as_str())),
        "both stacks are gone"
    );
}

#[test]
fn a_protected_environment_cannot_be_destroyed() {
    let account = account();
    let (project, _) = reference_app(&account);
    let out = run(project.path(), &account, &["destroy", "prod", "--yes"]);
    assert_eq!(out.status.code(), Some(i32::from(driftless::exit::REFUSED)));
    assert!(String::from_utf8_lossy(&out.stdout).contains("protected"));
}

fn chain_copy() -> tempfile::TempDir {
    let project = tempfile::tempdir().unwrap();
    super::support::copy_dir(&repo_root().join("tests/fixtures/chain"), project.path());
    project
}

#[test]
fn a_failed_stack_stops_later_waves_and_the_next_deploy_converges() {
    let project = chain_copy();
    let unit = project.path().join("specs/naming/unit.yaml");
    edit(
        &unit,
        "outputs:",
        "  broken:\n    type: AWS::SQS::Queue\n    properties:\n      VisibilityTimeout: not-a-number\noutputs:",
    );
    let account = account();
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    let failed = events(&out)
        .into_iter()
        .find(|e| e["event"] == "stack_end" && e["stack"] == "chain-dev-upstream")
        .expect("the upstream stack ends");
    assert_eq!(failed["result"], "failed");
    let reason = failed["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("NamingBroken") && reason.contains("VisibilityTimeout"),
        "the first failing resource and its reason: {reason}"
    );
    assert!(
        !stack_ends(&out)
            .iter()
            .any(|(stack, _)| stack == "chain-dev-downstream"),
        "the later wave never started"
    );
    assert_eq!(summary(&out)["stacks"]["skipped"], 1);

    // Fixed, the stateless stack left by the failed create is recreated.
    edit(
        &unit,
        "  broken:\n    type: AWS::SQS::Queue\n    properties:\n      VisibilityTimeout: not-a-number\n",
        "",
    );
    let out = deploy(project.path(), &account, "dev");
    let ends = stack_ends(&out);
    assert!(
        ends.contains(&("chain-dev-upstream".into(), "created".into())),
        "{ends:?}"
    );
    assert!(
        ends.contains(&("chain-dev-downstream".into(), "created".into())),
        "{ends:?}"
    );
    let again = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(again.status.code(), Some(0), "converged");
}

#[test]
fn a_stateful_stack_whose_first_create_failed_is_recreated_only_with_the_flag() {
    let project = chain_copy();
    let unit = project.path().join("specs/naming/unit.yaml");
    edit(&unit, "tier: stateless", "tier: stateful");
    let broken = "  broken:\n    type: AWS::SQS::Queue\n    properties:\n      VisibilityTimeout: not-a-number\n";
    edit(&unit, "outputs:", &format!("{broken}outputs:"));
    let account = account();
    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    assert_eq!(out.status.code(), Some(1));
    edit(&unit, broken, "");

    let out = run(project.path(), &account, &["deploy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("--recreate-failed"), "{text}");
    assert_eq!(
        summary(&out)["api_calls"]["by_operation"]["DeleteStack"],
        Json::Null
    );

    let out = run(
        project.path(),
        &account,
        &["deploy", "dev", "--yes", "--recreate-failed"],
    );
    ok(&out);
    assert!(stack_ends(&out).contains(&("chain-dev-upstream".into(), "created".into())));
}

#[test]
fn reserved_concurrency_changed_by_hand_is_drift_that_deploy_restores() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (_, stateless) = stacks(&app, "dev");
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let function = output(&c, &stateless, "ApiFunctionName");
    c.rt.block_on(
        c.lambda
            .put_function_concurrency()
            .function_name(&function)
            .reserved_concurrent_executions(4)
            .send(),
    )
    .expect("change it by hand");

    let plan = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(2), "drift is a change");
    let drift: Vec<Json> = events(&plan)
        .into_iter()
        .filter(|e| e["event"] == "drift")
        .collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["live"], 4);
    assert_eq!(drift[0]["desired"], 1);

    let out = deploy(project.path(), &account, "dev");
    assert!(
        stack_ends(&out).is_empty(),
        "no stack operation for a live setting"
    );
    assert_eq!(reserved_concurrency(&c, &function), Some(1));
    let calls = &summary(&out)["api_calls"]["by_operation"];
    assert_eq!(calls["PutFunctionConcurrency"], 1, "{calls}");
}

#[test]
fn an_environment_that_requires_approval_is_not_deployed_without_it() {
    let account = "222222222222";
    let project = reference_copy();
    edit(
        &project.path().join("environments/prod.yaml"),
        "app: user-management",
        "app: approval-check",
    );
    let out = run(project.path(), account, &["deploy", "prod"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("approval required"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let c = clients(account, "eu-west-1");
    let listed =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .expect("list stacks");
    assert!(
        !listed.stacks().iter().any(|s| s
            .stack_name()
            .is_some_and(|n| n.starts_with("approval-check"))),
        "nothing was created"
    );
}

/// The curl line a deploy suggests.
fn try_line(out: &std::process::Output) -> String {
    let endpoint = events(out)
        .into_iter()
        .find(|e| e["event"] == "endpoint")
        .expect("an endpoint event");
    endpoint["try"].as_str().unwrap_or_default().to_string()
}

#[test]
fn the_try_it_line_calls_a_path_the_checks_call_rather_than_any_get_route() {
    let account = account();
    let (project, _) = reference_app(&account);
    // A route that sorts first and needs a query string driftless cannot know.
    edit(
        &project.path().join("specs/api/unit.yaml"),
        "      \"GET /users\": handler\n",
        "      \"GET /users\": handler\n      \"GET /search\": handler\n",
    );
    let curl = try_line(&deploy(project.path(), &account, "dev"));
    assert!(
        curl.ends_with("/users"),
        "the dev check calls /users: {curl}"
    );
}

#[test]
fn the_try_it_line_never_calls_a_path_a_check_deletes() {
    let account = account();
    let (project, _) = reference_app(&account);
    // Checks that create a user, read it and delete it, before the one
    // that lists: the first GET a check calls is gone when the deploy ends.
    edit(
        &project.path().join("environments/dev.yaml"),
        "smoke:\n",
        "smoke:\n  - name: create\n    request: POST ${api.endpoint}/users\n    headers: { content-type: application/json }\n    body: { username: try-it, email: t@example.com }\n    expect: { status: [201, 409] }\n  - name: read\n    after: create\n    request: GET ${api.endpoint}/users/try-it\n    expect: { status: 200 }\n  - name: remove\n    after: read\n    request: DELETE ${api.endpoint}/users/try-it\n    expect: { status: 204 }\n",
    );
    let curl = try_line(&deploy(project.path(), &account, "dev"));
    assert!(curl.ends_with("/users"), "not the deleted user: {curl}");
}
