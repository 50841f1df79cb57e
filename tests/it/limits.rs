//! AWS's limits known before deploying: templates over the inline limit go
//! through the asset bucket, and what CloudFormation would refuse is
//! refused offline.

#[path = "../../benches/synthetic.rs"]
#[allow(dead_code)]
mod synthetic;

use super::emulator::{account, clients, ok, run, summary};
use super::support::{driftless, stderr};
use driftless::load::load_environment;

const INLINE_LIMIT: usize = 51_200;

#[test]
fn the_thousand_resource_synthetic_project_deploys_with_its_templates_through_s3() {
    let project = tempfile::tempdir().unwrap();
    synthetic::write_project(project.path(), 40, 25).unwrap();
    let (_, rendered, _) = load_environment(project.path(), "dev").expect("renders");
    let resources: usize = rendered.stacks.iter().map(|s| s.resources.len()).sum();
    assert!(resources >= 1000, "{resources} resources");
    let large: Vec<&str> = rendered
        .stacks
        .iter()
        .filter(|s| s.template.len() > INLINE_LIMIT)
        .map(|s| s.template.as_str())
        .collect();
    assert!(!large.is_empty(), "no template over the inline limit");

    let account = account();
    let deployed = run(project.path(), &account, &["deploy", "dev"]);
    ok(&deployed);
    assert_eq!(
        summary(&deployed)["stacks"]["created"].as_u64(),
        Some(rendered.stacks.len() as u64 + 1),
        "every stack and the bootstrap"
    );
    let c = clients(&account, "us-east-1");
    let bucket =
        c.rt.block_on(
            c.cfn
                .describe_stacks()
                .stack_name("driftless-bootstrap")
                .send(),
        )
        .expect("bootstrap")
        .stacks()[0]
            .outputs()
            .iter()
            .find(|o| o.output_key() == Some("AssetBucketName"))
            .and_then(|o| o.output_value())
            .expect("bucket output")
            .to_string();
    let listed =
        c.rt.block_on(
            c.s3.list_objects_v2()
                .bucket(&bucket)
                .prefix("templates/")
                .send(),
        )
        .expect("list");
    let mut keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    keys.sort();
    let mut expected: Vec<String> = large
        .iter()
        .map(|t| driftless::cloud::bootstrap::template_key(t))
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    for stack in &rendered.stacks {
        let status =
            c.rt.block_on(c.cfn.describe_stacks().stack_name(&stack.name).send())
                .expect("describe")
                .stacks()[0]
                .stack_status()
                .map(|s| s.as_str().to_string());
        assert_eq!(status.as_deref(), Some("CREATE_COMPLETE"), "{}", stack.name);
    }

    let again = run(project.path(), &account, &["deploy", "dev"]);
    ok(&again);
    assert_eq!(summary(&again)["api_calls"]["mutating"], 0);
}

#[test]
fn a_stack_over_500_resources_is_refused_offline() {
    let project = tempfile::tempdir().unwrap();
    // One stateful unit of 501 tables and buckets, in one stack.
    synthetic::write_project(project.path(), 1, 501).unwrap();
    for args in [&["validate"][..], &["plan", "dev", "--offline"][..]] {
        let out = driftless(project.path(), args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", stderr(&out));
        let text = stderr(&out);
        assert!(
            text.contains("environments/dev.yaml:")
                && text.contains(
                    "renders 501 resources, more than the 500 CloudFormation allows in one stack"
                ),
            "{text}"
        );
    }
}
