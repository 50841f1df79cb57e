//! The supporting stack: roles, projects, sizes.
use super::*;

/// The rendered footprint of each environment of `project`.
fn footprints(project: &Project) -> Footprints {
    let pipeline = project.pipeline.clone().expect("the reference pipeline");
    crate::pipeline::footprints(project, &pipeline).unwrap()
}

/// Every statement `role` holds: inline and in the managed policies
/// attached to it.
fn statements(template: &Json, role: &str) -> Vec<Json> {
    let mut out =
        template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap()
            .clone();
    for body in template["Resources"].as_object().unwrap().values() {
        if body["Type"] == "AWS::IAM::ManagedPolicy"
            && body["Properties"]["Roles"][0]["Ref"] == role
        {
            out.extend(
                body["Properties"]["PolicyDocument"]["Statement"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .cloned(),
            );
        }
    }
    out
}

#[test]
fn a_deploy_role_is_denied_what_another_environment_of_its_account_holds() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (mut project, _) = crate::spec::load(&root).unwrap();
    let pipeline = project.pipeline.clone().expect("the reference pipeline");
    let template =
        |project: &Project| super::template(&pipeline, project, &footprints(project), "abc");
    let denied = |template: &Json, role: &str| -> Vec<String> {
        statements(template, role)
            .iter()
            .filter(|s| s["Effect"] == "Deny")
            .flat_map(|s| s["Resource"].as_array().unwrap().clone())
            .map(|r| r["Fn::Sub"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // prod in another account: nothing of it to deny here.
    assert!(denied(&template(&project), "DeployDevRole").is_empty());
    if let Some(prod) = project.environments.get_mut("prod") {
        prod.target = crate::spec::Target::Local {
            region: "us-east-1".into(),
        };
    }
    let t = template(&project);
    let dev = denied(&t, "DeployDevRole");
    for named in [
        ":stack/user-management-prod-stateful/*",
        ":function:user-management-prod-stateless-*",
        ":role/user-management-prod-stateless-*",
        "/locks/user-management-prod.json",
    ] {
        assert!(dev.iter().any(|r| r.ends_with(named)), "{named}: {dev:?}");
    }
    assert!(!dev.iter().any(|r| r.contains("-dev-")), "{dev:?}");
    assert!(
        denied(&t, "DeployProdRole")
            .iter()
            .any(|r| r.ends_with(":stack/user-management-dev-stateless/*"))
    );
}

#[test]
fn a_role_too_large_for_one_policy_keeps_its_rest_in_managed_policies_within_iams_sizes() {
    let mut resources = Map::new();
    let many: Vec<Json> = (0..400)
        .map(|i| {
            statement(
                &["s3:GetObject"],
                vec![json!(format!("arn:aws:s3:::bucket-{i}/*"))],
            )
        })
        .collect();
    insert_role(
        &mut resources,
        "Big",
        "codebuild.amazonaws.com",
        many.clone(),
    );
    let template = json!({ "Resources": resources });
    assert_eq!(
        statements(&template, "Big"),
        many,
        "every statement kept, in order"
    );
    let inline =
        template["Resources"]["Big"]["Properties"]["Policies"][0]["PolicyDocument"].to_string();
    assert!(inline.len() <= 10_240, "{}", inline.len());
    let managed: Vec<&Json> = template["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.starts_with("BigRights"))
        .map(|(_, v)| v)
        .collect();
    assert!(managed.len() >= 2);
    for policy in managed {
        assert!(policy["Properties"]["PolicyDocument"].to_string().len() <= 6_144);
    }
}

#[test]
fn the_scheduled_reconcile_may_check_out_its_source_from_the_right_host() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (project, _) = crate::spec::load(&root).unwrap();
    let mut pipeline = project.pipeline.clone().expect("the reference pipeline");
    let pulls = statements(
        &template(&pipeline, &project, &footprints(&project), "abc"),
        "ReconcileRole",
    );
    assert!(
        pulls
            .iter()
            .any(|s| s["Action"] == json!(["codecommit:GitPull"]))
    );
    let connection = "arn:aws:codeconnections:eu-west-1:1:connection/x";
    pipeline.source = Source::CodeStar {
        connection: connection.into(),
        repository: "acme/users".into(),
        branch: "main".into(),
        provider: crate::spec::pipeline::Provider::GitLab,
    };
    let t = template(&pipeline, &project, &footprints(&project), "abc");
    let source = &t["Resources"]["ReconcileProject"]["Properties"]["Source"];
    assert_eq!(source["Type"], "GITLAB");
    assert_eq!(source["Location"], "https://gitlab.com/acme/users.git");
    assert!(
        statements(&t, "ReconcileRole")
            .iter()
            .any(|s| s["Resource"] == json!([connection])
                && s["Action"].to_string().contains("UseConnection"))
    );
}

#[test]
fn each_environment_deploys_from_a_project_and_role_of_its_own() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (mut project, _) = crate::spec::load(&root).unwrap();
    let pipeline = project.pipeline.clone().expect("the reference pipeline");
    for (name, env) in project.environments.iter_mut() {
        env.target = crate::spec::Target::Aws {
            region: "eu-west-1".into(),
            account: "222222222222".into(),
            profile: None,
            role: Some(format!("arn:aws:iam::222222222222:role/deploy-{name}")),
        };
    }
    let t = template(&pipeline, &project, &footprints(&project), "abc");
    for (env, other) in [("dev", "prod"), ("prod", "dev")] {
        let role_id = format!("Deploy{}Role", crate::kinds::pascal(env));
        let text = serde_json::to_string(&statements(&t, &role_id)).unwrap();
        assert!(text.contains(&format!("role/deploy-{env}")), "{text}");
        assert!(
            !text.contains(&format!("role/deploy-{other}")),
            "{env} may deploy {other}: {text}"
        );
        let project_id = format!("Deploy{}Project", crate::kinds::pascal(env));
        let p = &t["Resources"][&project_id]["Properties"];
        assert_eq!(p["Name"], format!("user-management-release-deploy-{env}"));
        assert_eq!(p["ServiceRole"]["Fn::GetAtt"][0], role_id.as_str());
    }
    assert!(t["Resources"].get("DeployRole").is_none());
}

#[test]
fn a_build_assumes_the_targets_role_and_holds_no_deploy_rights_of_its_own() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (mut project, _) = crate::spec::load(&root).unwrap();
    let mut pipeline = project.pipeline.clone().expect("the reference pipeline");
    pipeline.schedule = None;
    let role = "arn:aws:iam::222222222222:role/deployer";
    for env in project.environments.values_mut() {
        env.target = crate::spec::Target::Aws {
            region: "eu-west-1".into(),
            account: "222222222222".into(),
            profile: None,
            role: Some(role.into()),
        };
    }
    let template = template(&pipeline, &project, &footprints(&project), "abc");
    // The self-update can list stacks and take its lock.
    let update = statements(&template, "SelfUpdateRole");
    assert!(update.iter().any(|s| {
        s["Action"]
            .as_array()
            .unwrap()
            .contains(&json!("cloudformation:DescribeStacks"))
            && s["Resource"] == json!(["*"])
    }));
    assert!(update.iter().any(|s| {
        s["Action"].to_string().contains("s3:PutObject")
            && s["Resource"][0]["Fn::Sub"].as_str().is_some_and(|r| {
                r.ends_with(
                    "driftless-bootstrap-assetbucket-*/locks/user-management-release-pipeline.json",
                )
            })
    }));
    let deploy = statements(&template, "DeployDevRole");
    assert!(
        deploy
            .iter()
            .any(|s| s["Action"] == json!(["sts:AssumeRole"]) && s["Resource"] == json!([role]))
    );
    assert!(
        !deploy
            .iter()
            .any(|s| s["Action"].to_string().contains("cloudformation"))
    );
    assert!(template["Resources"].get("Schedule").is_none());
    let bucket = &template["Resources"]["ArtifactBucket"];
    assert_eq!(bucket["DeletionPolicy"], "Retain");
    assert_eq!(
        bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
            ["SSEAlgorithm"],
        "AES256"
    );
    // Without a role, the same account: what dev's own stacks and
    // types need, on dev's resources.
    let (project, _) = crate::spec::load(&root).unwrap();
    let template = super::template(&pipeline, &project, &footprints(&project), "abc");
    let deploy = statements(&template, "DeployDevRole");
    let text = serde_json::to_string(&deploy).unwrap();
    for needed in [
        "cloudformation:CreateChangeSet",
        "dynamodb:CreateTable",
        "iam:UpdateAssumeRolePolicy",
        "stack/user-management-dev-stateless/*",
        "function:user-management-dev-stateless-*",
    ] {
        assert!(text.contains(needed), "{needed} missing: {text}");
    }
    assert!(!text.contains("user-management-prod"), "{text}");
    assert!(!text.contains("cloudformation:*"), "{text}");
    assert!(
        !deploy
            .iter()
            .any(|s| s["Action"] == json!(["sts:AssumeRole"]))
    );
    // The self-update holds no IAM on its own role.
    let limit = &template["Resources"]["SelfUpdateRoleLimit"]["Properties"];
    assert_eq!(limit["Roles"], json!([{ "Ref": "SelfUpdateRole" }]));
    let denied = &limit["PolicyDocument"]["Statement"][0];
    assert_eq!(denied["Effect"], "Deny");
    assert_eq!(denied["Action"], "iam:*");
    assert_eq!(
        denied["Resource"][0],
        json!({ "Fn::GetAtt": ["SelfUpdateRole", "Arn"] })
    );
    let update = serde_json::to_string(&statements(&template, "SelfUpdateRole")).unwrap();
    assert!(!update.contains("\"iam:*\""), "{update}");
}
