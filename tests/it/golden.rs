//! Golden files of the rendered reference application, and determinism.
//! Set UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.

use super::support::{reference_copy, repo_root};
use driftless::load::load_environment;

fn check_golden(env: &str) {
    check_golden_of(
        &repo_root(),
        env,
        &repo_root().join("tests/golden").join(env),
    );
}

/// The templates `project` renders for `env` against the files in `dir`.
fn check_golden_of(project: &std::path::Path, env: &str, dir: &std::path::Path) {
    let (_, rendered, _) = load_environment(project, env).unwrap();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    if update {
        std::fs::create_dir_all(dir).unwrap();
    }
    for stack in &rendered.stacks {
        let path = dir.join(format!("{}.template.json", stack.name));
        if update {
            std::fs::write(&path, &stack.template).unwrap();
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with UPDATE_GOLDEN=1 to create it",
                path.display()
            )
        });
        assert!(
            golden == stack.template,
            "{} differs from its golden file; review the change and run with UPDATE_GOLDEN=1",
            stack.name
        );
    }
}

#[test]
fn dev_templates_match_their_golden_files() {
    check_golden("dev");
}

#[test]
fn prod_templates_match_their_golden_files() {
    check_golden("prod");
}

#[test]
fn the_building_block_fixtures_match_their_golden_files() {
    for fixture in ["events", "flow", "gate", "legacy"] {
        check_golden_of(
            &repo_root().join("tests/fixtures").join(fixture),
            "dev",
            &repo_root().join("tests/golden/fixtures").join(fixture),
        );
    }
}

#[test]
fn rendering_twice_gives_identical_bytes_and_hashes() {
    let first_copy = reference_copy();
    let second_copy = reference_copy();
    let (_, first, first_assets) = load_environment(first_copy.path(), "dev").unwrap();
    // A touched file with the same content must not change anything.
    let handler = second_copy
        .path()
        .join("specs/api/runtime/lambda_function.py");
    let content = std::fs::read(&handler).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&handler, content).unwrap();
    let (_, second, second_assets) = load_environment(second_copy.path(), "dev").unwrap();
    for (a, b) in first.stacks.iter().zip(&second.stacks) {
        assert_eq!(a.template, b.template);
        assert_eq!(a.hash, b.hash);
    }
    let hashes = |assets: &driftless::assets::Assets| {
        assets
            .values()
            .map(|a| a.sha256.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(hashes(&first_assets), hashes(&second_assets));
    assert_eq!(first_assets.len(), 1);
}

#[test]
fn a_code_change_changes_only_the_stack_that_ships_it() {
    let project = reference_copy();
    let (_, before, _) = load_environment(project.path(), "dev").unwrap();
    let handler = project.path().join("specs/api/runtime/lambda_function.py");
    let mut code = std::fs::read_to_string(&handler).unwrap();
    code.push_str("\n# changed\n");
    std::fs::write(&handler, code).unwrap();
    let (_, after, _) = load_environment(project.path(), "dev").unwrap();
    let stateful = "user-management-dev-stateful";
    let stateless = "user-management-dev-stateless";
    assert_eq!(
        before.stack(stateful).unwrap().hash,
        after.stack(stateful).unwrap().hash
    );
    assert_ne!(
        before.stack(stateless).unwrap().hash,
        after.stack(stateless).unwrap().hash
    );
}

#[test]
fn dev_is_on_demand_and_prod_is_provisioned() {
    let (_, dev, _) = load_environment(&repo_root(), "dev").unwrap();
    let (_, prod, _) = load_environment(&repo_root(), "prod").unwrap();
    let table = |r: &driftless::render::RenderedEnvironment, env: &str| {
        let stack = r.stack(&format!("user-management-{env}-stateful")).unwrap();
        let template: serde_json::Value = serde_json::from_str(&stack.template).unwrap();
        template["Resources"]["DatabaseUsers"].clone()
    };
    let dev_table = table(&dev, "dev");
    assert_eq!(dev_table["Properties"]["BillingMode"], "PAY_PER_REQUEST");
    assert!(
        dev_table["Properties"]
            .get("ProvisionedThroughput")
            .is_none()
    );
    assert_eq!(dev_table["DeletionPolicy"], "Retain");
    assert_eq!(dev_table["UpdateReplacePolicy"], "Retain");
    let prod_table = table(&prod, "prod");
    assert_eq!(prod_table["Properties"]["BillingMode"], "PROVISIONED");
    assert_eq!(
        prod_table["Properties"]["ProvisionedThroughput"]["ReadCapacityUnits"],
        5
    );
    let function = |r: &driftless::render::RenderedEnvironment, env: &str| {
        let stack = r
            .stack(&format!("user-management-{env}-stateless"))
            .unwrap();
        let template: serde_json::Value = serde_json::from_str(&stack.template).unwrap();
        template["Resources"]["ApiHandler"]["Properties"]["ReservedConcurrentExecutions"].clone()
    };
    assert_eq!(function(&dev, "dev"), 1);
    assert_eq!(function(&prod, "prod"), 10);
}

#[test]
fn waves_put_every_stateful_stack_first() {
    let (_, dev, _) = load_environment(&repo_root(), "dev").unwrap();
    assert_eq!(
        dev.waves,
        vec![
            vec!["user-management-dev-stateful".to_string()],
            vec!["user-management-dev-stateless".to_string()]
        ]
    );
    let stateless = dev.stack("user-management-dev-stateless").unwrap();
    assert_eq!(
        stateless.depends_on,
        vec!["user-management-dev-stateful".to_string()]
    );
}

#[test]
fn an_ephemeral_render_retains_nothing_and_differs_only_in_retention() {
    use driftless::assets::Builds;
    use driftless::load::{load_specs, render_loaded};
    use driftless::render::RenderOptions;
    use serde_json::Value as Json;
    let stateful = |ephemeral| {
        let (project, relevant) = load_specs(&repo_root(), "prod").unwrap();
        let options = RenderOptions { ephemeral };
        let (rendered, _) =
            render_loaded(&project, "prod", relevant, Builds::Run, options).unwrap();
        rendered
            .stacks
            .into_iter()
            .find(|s| s.name.ends_with("-stateful"))
            .expect("a stateful stack")
    };
    let (kept, ephemeral) = (stateful(false), stateful(true));
    assert!(kept.template.contains("\"DeletionPolicy\": \"Retain\""));
    assert!(kept.resources.iter().any(|r| r.retain));
    assert!(!ephemeral.template.contains("DeletionPolicy"));
    assert!(!ephemeral.template.contains("UpdateReplacePolicy"));
    assert!(ephemeral.resources.iter().all(|r| !r.retain));
    assert_ne!(
        kept.hash, ephemeral.hash,
        "the deploy hash follows retention"
    );
    // Nothing else differs.
    let without_retention = |template: &str| {
        let mut t: Json = serde_json::from_str(template).unwrap();
        for body in t["Resources"].as_object_mut().unwrap().values_mut() {
            let body = body.as_object_mut().unwrap();
            body.remove("DeletionPolicy");
            body.remove("UpdateReplacePolicy");
        }
        t["Metadata"]["driftless"]["retained"] = Json::Null;
        t
    };
    assert_eq!(
        without_retention(&kept.template),
        without_retention(&ephemeral.template)
    );
}
