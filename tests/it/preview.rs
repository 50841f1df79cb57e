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
