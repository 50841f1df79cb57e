//! Nothing lost: with items in the dev table, every change that would replace
//! or remove it is refused before any mutating call, and the items remain.

use super::deploy::{deploy, edit, output, reference_app, stack_ends, stack_status, stacks};
use super::emulator::{Clients, account, clients, events, human_command, run, summary};
use aws_sdk_dynamodb::types::AttributeValue;
use std::path::Path;

const ITEMS: usize = 3;

/// Deploys dev and writes items to its table; returns the table name.
fn deployed_with_items(project: &Path, account: &str, app: &str) -> (Clients, String) {
    deploy(project, account, "dev");
    let c = clients(account, "us-east-1");
    let table = output(&c, &stacks(app, "dev").0, "DatabaseTableName");
    for i in 0..ITEMS {
        c.rt.block_on(
            c.dynamodb
                .put_item()
                .table_name(&table)
                .item("username", AttributeValue::S(format!("user{i}")))
                .item("email", AttributeValue::S(format!("user{i}@example.com")))
                .send(),
        )
        .expect("put item");
    }
    (c, table)
}

/// The `refused` events of a run.
fn refusals(out: &std::process::Output) -> Vec<serde_json::Value> {
    events(out)
        .into_iter()
        .filter(|e| e["event"] == "refused")
        .collect()
}

fn item_count(c: &Clients, table: &str) -> usize {
    c.rt.block_on(c.dynamodb.scan().table_name(table).send())
        .expect("scan: the table must still exist")
        .items()
        .len()
}

/// Runs a deploy that must be refused: exit 4, the resource and flag named,
/// no mutating call, the items still there. Returns the refusals.
fn assert_refused(
    project: &Path,
    account: &str,
    c: &Clients,
    table: &str,
    cause: &str,
) -> Vec<serde_json::Value> {
    let out = run(project, account, &["deploy", "dev", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{text}");
    let refused = refusals(&out);
    assert!(!refused.is_empty(), "{text}");
    assert!(
        refused.iter().any(|r| r["resource"] == "database.users"
            && r["flag"] == "--allow-replace database.users"
            && r["cause"].as_str().unwrap_or_default().contains(cause)),
        "expected a refusal of database.users because `{cause}`:\n{text}"
    );
    assert_eq!(summary(&out)["api_calls"]["mutating"], 0, "{text}");
    assert_eq!(item_count(c, table), ITEMS);
    refused
}

#[test]
fn changing_the_partition_key_is_refused_and_the_items_remain() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    edit(
        &project.path().join("specs/database/unit.yaml"),
        "partition_key: { name: username, type: S }",
        "partition_key: { name: email, type: S }",
    );
    let refused = assert_refused(project.path(), &account, &c, &table, "KeySchema changed");
    assert_eq!(refused[0]["action"], "replace");
    assert_eq!(refused[0]["properties"], serde_json::json!(["KeySchema"]));
    // The plan says the same, with the same exit code.
    let plan = run(project.path(), &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(4));
}

#[test]
fn adding_a_sort_key_is_refused_and_the_items_remain() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    edit(
        &project.path().join("specs/database/unit.yaml"),
        "partition_key: { name: username, type: S }",
        "partition_key: { name: username, type: S }\n    sort_key: { name: created, type: N }",
    );
    assert_refused(project.path(), &account, &c, &table, "KeySchema changed");
}

#[test]
fn renaming_the_table_resource_is_refused_and_the_items_remain() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    let unit = project.path().join("specs/database/unit.yaml");
    edit(&unit, "  users:\n", "  accounts:\n");
    edit(&unit, "${users.name}", "${accounts.name}");
    edit(&unit, "${users.arn}", "${accounts.arn}");
    assert_refused(
        project.path(),
        &account,
        &c,
        &table,
        "no longer in the specs",
    );
}

#[test]
fn moving_the_database_unit_to_the_stateless_stack_is_refused() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    edit(
        &project.path().join("environments/dev.yaml"),
        "  stateful: [database]\n  stateless: [api, monitoring]",
        "  stateless: [database, api, monitoring]",
    );
    assert_refused(
        project.path(),
        &account,
        &c,
        &table,
        &format!("moves from stack {app}-dev-stateful to stack {app}-dev-stateless"),
    );
}

#[test]
fn removing_the_database_unit_from_the_layout_is_refused_until_named_and_pruned() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    let (stateful, _) = stacks(&app, "dev");
    let env = project.path().join("environments/dev.yaml");
    edit(&env, "  stateful: [database]\n", "");
    edit(&env, "  database: { billing_mode: PAY_PER_REQUEST }\n", "");
    edit(
        &project.path().join("specs/monitoring/unit.yaml"),
        "${database.table_name}",
        "none",
    );
    let api = project.path().join("specs/api/unit.yaml");
    edit(&api, "${database.table_name}", "none");
    edit(
        &api,
        "    grants:\n      - { table: \"${database.table_arn}\", access: read_write }\n",
        "",
    );
    // The database unit is in no layout now; it is still checked, not deployed.
    let refused = assert_refused(
        project.path(),
        &account,
        &c,
        &table,
        "no longer in the layout",
    );
    assert_eq!(refused[0]["stack"], stateful.as_str());

    // Named, but without --prune: the orphan stack is reported and kept.
    let kept = run(
        project.path(),
        &account,
        &[
            "deploy",
            "dev",
            "--yes",
            "--allow-replace",
            "database.users",
            // The API has no table now: its smoke check would fail.
            "--no-smoke",
        ],
    );
    assert_eq!(
        kept.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&kept.stdout)
    );
    assert!(events(&kept).iter().any(|e| e["event"] == "orphan"
        && e["stack"] == stateful.as_str()
        && e["action"] == "kept"));
    assert_eq!(stack_status(&c, &stateful), "CREATE_COMPLETE");

    // Named and pruned: the stack goes, the retained table and its items stay.
    let pruned = run(
        project.path(),
        &account,
        &[
            "deploy",
            "dev",
            "--yes",
            "--prune",
            "--allow-replace",
            "database.users",
            "--no-smoke",
        ],
    );
    assert_eq!(
        pruned.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&pruned.stdout)
    );
    assert!(stack_ends(&pruned).contains(&(stateful.clone(), "deleted".into())));
    assert_eq!(item_count(&c, &table), ITEMS);
}

#[test]
fn destroy_without_the_stateful_flag_keeps_the_table_and_its_items() {
    let account = account();
    let (project, app) = reference_app(&account);
    let (c, table) = deployed_with_items(project.path(), &account, &app);
    let (stateful, stateless) = stacks(&app, "dev");
    let out = run(project.path(), &account, &["destroy", "dev", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let ends = stack_ends(&out);
    assert!(ends.contains(&(stateless, "deleted".into())), "{ends:?}");
    assert!(
        ends.contains(&(stateful.clone(), "kept".into())),
        "{ends:?}"
    );
    assert_eq!(stack_status(&c, &stateful), "CREATE_COMPLETE");
    assert_eq!(item_count(&c, &table), ITEMS);
}

#[test]
fn credentials_for_another_account_are_refused_showing_both_accounts() {
    // prod targets account 222222222222; these credentials act in another.
    let account = account();
    let (project, app) = reference_app(&account);
    let out = run(project.path(), &account, &["deploy", "prod", "--yes"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains(&format!("account {account}")), "{text}");
    assert!(text.contains("account 222222222222"), "{text}");
    assert_eq!(summary(&out)["api_calls"]["mutating"], 0, "{text}");
    let c = clients(&account, "eu-west-1");
    let listed =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .expect("list stacks");
    assert!(
        !listed
            .stacks()
            .iter()
            .any(|s| s.stack_name().is_some_and(|n| n.starts_with(&app))),
        "nothing was created"
    );
}

#[test]
fn every_command_that_reads_a_target_refuses_credentials_for_another_account() {
    let account = account();
    let (project, _) = reference_app(&account);
    for args in [
        vec!["plan", "prod"],
        vec!["smoke", "prod"],
        vec!["outputs", "prod"],
        vec!["deploy", "prod", "--yes"],
    ] {
        let out = run(project.path(), &account, &args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(4), "{args:?}: {text}");
        assert!(text.contains("account 222222222222"), "{args:?}: {text}");
        assert!(
            text.contains("AWS_ACCESS_KEY_ID=222222222222"),
            "says how to act as it on the emulator: {text}"
        );
        let calls = &summary(&out)["api_calls"]["by_operation"];
        assert_eq!(
            calls
                .as_object()
                .map(|c| c.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["GetCallerIdentity".to_string()]),
            "{args:?}: nothing else was read: {text}"
        );
    }
}

#[test]
fn a_stack_another_environment_owns_is_never_touched() {
    let account = super::emulator::account();
    let (project, app) = super::deploy::reference_app(&account);
    let (stateful, _) = super::deploy::stacks(&app, "dev");
    let c = super::emulator::clients(&account, "us-east-1");
    let tag = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Tag::builder()
            .key(k)
            .value(v)
            .build()
    };
    c.rt.block_on(
        c.cfn
            .create_stack()
            .stack_name(&stateful)
            .template_body(
                r#"{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}"#,
            )
            .tags(tag("driftless:app", "someone-else"))
            .tags(tag("driftless:environment", "qa"))
            .send(),
    )
    .expect("create the other's stack");
    let out = super::emulator::run(project.path(), &account, &["deploy", "dev", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let refused: Vec<serde_json::Value> = super::emulator::events(&out)
        .into_iter()
        .filter(|e| e["event"] == "refused")
        .collect();
    assert_eq!(refused[0]["action"], "overwrite", "{refused:#?}");
    assert!(
        refused[0]["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("`qa` of app `someone-else`"),
        "{refused:#?}"
    );
    let template =
        c.rt.block_on(c.cfn.get_template().stack_name(&stateful).send())
            .expect("template")
            .template_body()
            .unwrap_or_default()
            .to_string();
    assert!(
        template.contains("WaitConditionHandle"),
        "the other's stack was changed: {template}"
    );
}

/// The reference app with a stateful `network` unit holding a raw VPC.
fn with_a_vpc(project: &Path) {
    std::fs::create_dir_all(project.join("specs/network")).expect("folder");
    std::fs::write(
        project.join("specs/network/unit.yaml"),
        "unit: network\ntier: stateful\nresources:\n  vpc:\n    type: AWS::EC2::VPC\n    properties:\n      CidrBlock: 10.0.0.0/16\n      Tags: [{ Key: team, Value: platform }]\n  flows:\n    type: AWS::S3::Bucket\n    properties:\n      Tags: [{ Key: team, Value: network }]\noutputs:\n  vpc_id: ${vpc.VpcId}\n",
    )
    .expect("unit");
    edit(
        &project.join("environments/dev.yaml"),
        "stateful: [database]",
        "stateful: [database, network]",
    );
}

#[test]
fn changing_a_retained_vpcs_cidr_is_refused_before_any_call_and_a_tag_change_deploys() {
    let account = account();
    let (project, _app) = reference_app(&account);
    let project = project.path();
    with_a_vpc(project);
    deploy(project, &account, "dev");
    let unit = project.join("specs/network/unit.yaml");
    edit(&unit, "CidrBlock: 10.0.0.0/16", "CidrBlock: 10.1.0.0/16");
    for command in ["plan", "deploy"] {
        let mut args = vec![command, "dev"];
        if command == "deploy" {
            args.push("--yes");
        }
        let out = run(project, &account, &args);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(4), "{command}: {text}");
        let refused = refusals(&out);
        assert!(
            refused
                .iter()
                .any(|r| r["resource"] == "network.vpc" && r["properties"][0] == "CidrBlock"),
            "{command}: {text}"
        );
        assert_eq!(
            summary(&out)["api_calls"]["mutating"],
            0,
            "{command}: {text}"
        );
    }
    edit(&unit, "CidrBlock: 10.1.0.0/16", "CidrBlock: 10.0.0.0/16");
    edit(&unit, "Value: platform", "Value: data");
    edit(&unit, "Value: network", "Value: storage");
    // The emulator calls a tag change of the retained VPC and bucket
    // conditional: shown as a caution, and deployed, since the schema lets
    // tags change in place.
    let human = human_command(project, &account, &["deploy", "dev", "--yes"])
        .output()
        .expect("run driftless");
    let text = String::from_utf8_lossy(&human.stdout).into_owned();
    assert_eq!(human.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .filter(|l| (l.contains("NetworkVpc") || l.contains("NetworkFlows"))
                && l.contains(
                    "Tags: CloudFormation says conditional; the schema lets it change in place"
                ))
            .count()
            == 2,
        "{text}"
    );
}

/// A retained subnet whose create-only `VpcId` follows the VPC: the plan sees
/// its template unchanged, so only the change set's flags can tell that
/// replacing the VPC (allowed) replaces the subnet too (not allowed).
#[test]
fn a_replacement_only_the_change_set_reveals_is_refused_with_exit_4_in_the_plans_words() {
    let account = account();
    let (project, _app) = reference_app(&account);
    let project = project.path();
    with_a_vpc(project);
    let unit = project.join("specs/network/unit.yaml");
    edit(
        &unit,
        "outputs:",
        "  subnet:\n    type: AWS::EC2::Subnet\n    properties:\n      VpcId: ${vpc.VpcId}\n      CidrBlock: 10.0.1.0/24\noutputs:",
    );
    deploy(project, &account, "dev");
    edit(&unit, "CidrBlock: 10.0.0.0/16", "CidrBlock: 10.1.0.0/16");
    let out = run(
        project,
        &account,
        &["deploy", "dev", "--yes", "--allow-replace", "network.vpc"],
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(4), "{text}");
    let refused = refusals(&out);
    assert!(
        refused.iter().any(|r| r["resource"] == "network.subnet"
            && r["flag"] == "--allow-replace network.subnet"
            && r["cause"]
                .as_str()
                .unwrap_or_default()
                .contains("which makes CloudFormation create a new, empty resource")),
        "{text}"
    );
    let error = summary(&out)["stacks"]["error"].clone();
    assert!(
        error
            .as_str()
            .is_some_and(|e| e.starts_with("a change to retained data was refused")),
        "{text}"
    );
    // The human view says what may replace and why.
    let human = human_command(
        project,
        &account,
        &["deploy", "dev", "--yes", "--allow-replace", "network.vpc"],
    )
    .output()
    .expect("run driftless");
    let text = String::from_utf8_lossy(&human.stdout).into_owned();
    assert_eq!(human.status.code(), Some(4), "{text}");
    assert!(
        text.contains("may replace (VpcId: create-only in the type's schema, so it replaces)"),
        "{text}"
    );
}
