//! Preview instances: an isolated copy of dev deploys beside it without
//! touching it, and its destroy leaves nothing, its data included.

use super::emulator::{account, clients, command, emulator, ok, summary};
use super::support::reference_copy;

#[test]
fn a_preview_instance_deploys_beside_dev_and_its_destroy_leaves_nothing() {
    let project = reference_copy();
    let account = account();
    let run = |args: &[&str]| {
        command(project.path(), &account, args, &emulator().endpoint())
            .output()
            .unwrap()
    };
    ok(&run(&["deploy", "dev"]));
    let c = clients(&account, "us-east-1");
    let stacks = || {
        let mut names: Vec<(String, String)> =
            c.rt.block_on(c.cfn.describe_stacks().send())
                .unwrap()
                .stacks()
                .iter()
                .map(|s| {
                    (
                        s.stack_name().unwrap_or_default().to_string(),
                        format!("{:?}", s.last_updated_time().or(s.creation_time())),
                    )
                })
                .collect();
        names.sort();
        names
    };
    let tables = || {
        c.rt.block_on(c.dynamodb.list_tables().send())
            .unwrap()
            .table_names()
            .to_vec()
    };
    let dev_stacks = stacks();
    let dev_tables = tables();

    let deploy = run(&["deploy", "dev", "--instance", "pr-7"]);
    ok(&deploy);
    let names: Vec<String> = stacks().into_iter().map(|(n, _)| n).collect();
    assert!(
        names.contains(&"user-management-dev-pr-7-stateful".to_string()),
        "{names:?}"
    );
    assert!(names.contains(&"user-management-dev-pr-7-stateless".to_string()));
    assert_eq!(tables().len(), dev_tables.len() + 1);
    // dev is as it was: same stacks, same update times.
    let after: Vec<(String, String)> = stacks()
        .into_iter()
        .filter(|(n, _)| !n.contains("-pr-7-"))
        .collect();
    assert_eq!(after, dev_stacks);
    // The instance's table is not retained: nothing outlives its stack.
    let template =
        c.rt.block_on(
            c.cfn
                .get_template()
                .stack_name("user-management-dev-pr-7-stateful")
                .send(),
        )
        .unwrap();
    assert!(!template.template_body().unwrap().contains("Retain"));
    let outputs = run(&["outputs", "dev", "--instance", "pr-7"]);
    ok(&outputs);
    assert!(summary(&outputs)["stacks"]["outputs"].as_u64().unwrap() >= 3);

    let destroy = run(&["destroy", "dev", "--instance", "pr-7", "--yes"]);
    ok(&destroy);
    assert_eq!(summary(&destroy)["stacks"]["deleted"], 2);
    assert_eq!(summary(&destroy)["stacks"]["retained_resources"], 0);
    assert_eq!(stacks(), dev_stacks, "only dev is left, as it was");
    assert_eq!(tables(), dev_tables, "the instance's table went with it");
}

#[test]
fn a_protected_environment_has_no_instances_and_bad_names_are_refused() {
    let project = reference_copy();
    let account = account();
    let prod = command(
        project.path(),
        &account,
        &["plan", "prod", "--instance", "pr-7"],
        &emulator().endpoint(),
    )
    .output()
    .unwrap();
    assert_eq!(prod.status.code(), Some(4));
    let bad = command(
        project.path(),
        &account,
        &["plan", "dev", "--instance", "PR 7!"],
        &emulator().endpoint(),
    )
    .output()
    .unwrap();
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn an_instance_with_bucket_content_is_destroyed_whole() {
    let account = account();
    let (project, app) = super::content::site(&account);
    let run = |args: &[&str]| {
        command(project.path(), &account, args, &emulator().endpoint())
            .output()
            .unwrap()
    };
    ok(&run(&["deploy", "dev", "--instance", "pr-1"]));
    let c = clients(&account, "us-east-1");
    let buckets = || -> Vec<String> {
        c.rt.block_on(c.s3.list_buckets().send())
            .unwrap()
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .filter(|n| n.starts_with(&format!("{app}-dev-pr-1")))
            .collect()
    };
    let made = buckets();
    assert_eq!(made.len(), 1, "{made:?}");
    let objects =
        c.rt.block_on(c.s3.list_objects_v2().bucket(&made[0]).send())
            .unwrap();
    assert!(objects.key_count().unwrap_or(0) > 0);
    let destroy = run(&["destroy", "dev", "--instance", "pr-1", "--yes"]);
    ok(&destroy);
    assert_eq!(
        buckets(),
        Vec::<String>::new(),
        "the bucket went with its stack"
    );
    assert!(
        super::emulator::events(&destroy)
            .iter()
            .any(|e| e["event"] == "emptied" && e["bucket"] == made[0].as_str())
    );
}

#[test]
fn two_instances_that_render_to_one_name_never_touch_each_other() {
    let project = reference_copy();
    let dev = std::fs::read_to_string(project.path().join("environments/dev.yaml")).unwrap();
    std::fs::write(
        project.path().join("environments/dev-a.yaml"),
        dev.replace("environment: dev", "environment: dev-a"),
    )
    .unwrap();
    let account = account();
    let run = |args: &[&str]| {
        command(project.path(), &account, args, &emulator().endpoint())
            .output()
            .unwrap()
    };
    // `dev --instance a-b` and `dev-a --instance b` are both `dev-a-b`.
    ok(&run(&["deploy", "dev", "--instance", "a-b"]));
    let c = clients(&account, "us-east-1");
    let tables = || {
        c.rt.block_on(c.dynamodb.list_tables().send())
            .unwrap()
            .table_names()
            .to_vec()
    };
    let before = tables();
    assert_eq!(before.len(), 1, "{before:?}");

    let other = run(&["deploy", "dev-a", "--instance", "b"]);
    assert_eq!(other.status.code(), Some(4), "{}", summary(&other));
    let destroy = run(&[
        "destroy",
        "dev-a",
        "--instance",
        "b",
        "--yes",
        "--include-stateful",
    ]);
    assert_ne!(destroy.status.code(), Some(0), "{}", summary(&destroy));
    assert_eq!(tables(), before, "the other instance's data is untouched");
    let stacks: Vec<String> =
        c.rt.block_on(c.cfn.describe_stacks().send())
            .unwrap()
            .stacks()
            .iter()
            .filter_map(|s| s.stack_name().map(str::to_string))
            .collect();
    assert!(
        stacks.contains(&"user-management-dev-a-b-stateful".to_string()),
        "{stacks:?}"
    );
    // Its own destroy removes it.
    ok(&run(&[
        "destroy",
        "dev",
        "--instance",
        "a-b",
        "--yes",
        "--include-stateful",
    ]));
    assert!(tables().is_empty());
}

#[test]
fn an_instance_whose_stack_names_would_be_too_long_is_refused_before_any_call() {
    let project = reference_copy();
    let path = project.path().join("environments/dev.yaml");
    let dev = std::fs::read_to_string(&path).unwrap();
    let long_app = "a".repeat(100);
    std::fs::write(
        &path,
        dev.replace("app: user-management", &format!("app: {long_app}")),
    )
    .unwrap();
    let out = command(
        project.path(),
        &account(),
        &["deploy", "dev", "--instance", "pr-12345678901234567"],
        "http://127.0.0.1:9",
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(64), "{}", summary(&out));
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("128"), "{text}");
}
