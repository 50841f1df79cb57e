//! Watch mode against the emulator, on copies of the reference app: a
//! `driftless watch` child process, its JSON lines read as they come, and
//! files edited underneath it.

use super::deploy::{deploy, edit, output, reference_app, stacks};
use super::emulator::{Clients, account, clients, command, emulator, events, http, ok, run};
use super::running::Running;
use serde_json::Value as Json;
use std::path::Path;
use std::time::{Duration, Instant};

/// A running `driftless watch`, stopped when dropped.
struct Watch(Running);

impl std::ops::Deref for Watch {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.0
    }
}

impl std::ops::DerefMut for Watch {
    fn deref_mut(&mut self) -> &mut Running {
        &mut self.0
    }
}

impl Watch {
    fn start(project: &Path, account: &str, args: &[&str]) -> Watch {
        let mut watch = Watch(Running::spawn(command(
            project,
            account,
            args,
            &emulator().endpoint(),
        )));
        watch.next(|e| e["event"] == "watch_pass", Duration::from_secs(60));
        watch
    }

    fn pass(&mut self) -> Json {
        self.next(|e| e["event"] == "watch_pass", Duration::from_secs(60))
    }
}

fn last_updated(c: &Clients, stack: &str) -> Option<String> {
    c.rt.block_on(c.cfn.describe_stacks().stack_name(stack).send())
        .expect("describe stack")
        .stacks()[0]
        .last_updated_time()
        .map(|t| t.to_string())
}

fn function(c: &Clients, name: &str) -> aws_sdk_lambda::operation::get_function::GetFunctionOutput {
    c.rt.block_on(c.lambda.get_function().function_name(name).send())
        .expect("get function")
}

fn code_sha(c: &Clients, name: &str) -> String {
    function(c, name)
        .configuration()
        .and_then(|f| f.code_sha256())
        .unwrap_or_default()
        .to_string()
}

fn memory(c: &Clients, name: &str) -> i32 {
    function(c, name)
        .configuration()
        .and_then(|f| f.memory_size())
        .unwrap_or_default()
}

fn hotswap_tag(c: &Clients, name: &str) -> Option<String> {
    function(c, name)
        .tags()
        .and_then(|t| t.get("driftless:hotswapped"))
        .cloned()
}

/// Polls `url` until its body contains `text`; returns when it did.
fn served_within(url: &str, account: &str, text: &str, limit: Duration) -> Option<Instant> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if http("GET", url, account, None).body.contains(text) {
            return Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// The reference app deployed to dev in a fresh account, as a watch test
/// starts from.
struct Dev {
    project: tempfile::TempDir,
    account: String,
    c: Clients,
    stateful: String,
    stateless: String,
    /// The API function's physical name.
    name: String,
    /// A route the handler answers with 404 and a text the tests edit.
    url: String,
}

fn deployed_dev() -> Dev {
    let account = account();
    let (project, app) = reference_app(&account);
    deploy(project.path(), &account, "dev");
    let c = clients(&account, "us-east-1");
    let (stateful, stateless) = stacks(&app, "dev");
    let name = output(&c, &stateless, "ApiFunctionName");
    let url = format!("{}/users/ghost", output(&c, &stateless, "ApiEndpoint"));
    Dev {
        project,
        account,
        c,
        stateful,
        stateless,
        name,
        url,
    }
}

const HANDLER: &str = "specs/api/runtime/lambda_function.py";

#[test]
fn a_handler_edit_is_live_without_cloudformation_and_deploy_settles_it() {
    let Dev {
        project,
        account,
        c,
        stateful,
        stateless,
        name,
        url,
    } = deployed_dev();
    let root = project.path();
    let sha_before = code_sha(&c, &name);
    let updated_before = (last_updated(&c, &stateful), last_updated(&c, &stateless));

    let mut watch = Watch::start(root, &account, &["watch", "dev"]);
    edit(
        &root.join(HANDLER),
        "f\"no user {username}\"",
        "f\"nobody called {username}\"",
    );
    // How fast is a figure of scripts/bench (watch_bench.py); here, that it
    // is live at all without a stack operation, on a machine shared with
    // the other tests.
    let live = served_within(
        &url,
        &account,
        "nobody called ghost",
        Duration::from_secs(30),
    );
    assert!(live.is_some(), "the new code was never served");
    let pass = watch.pass();
    assert_eq!(pass["result"], "hotswapped", "{pass}");
    assert_ne!(
        code_sha(&c, &name),
        sha_before,
        "the code hash did not change"
    );
    assert_eq!(
        (last_updated(&c, &stateful), last_updated(&c, &stateless)),
        updated_before,
        "a stack was updated"
    );
    assert_eq!(hotswap_tag(&c, &name).as_deref(), Some("code"));
    drop(watch);

    // The drift shows in plan, which is not a no-op...
    let plan = run(root, &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(2), "plan should see changes");
    let drift: Vec<Json> = events(&plan)
        .into_iter()
        .filter(|e| e["event"] == "hotswap_drift")
        .collect();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(drift[0]["function"], name.as_str());
    // ...and a deploy brings CloudFormation in line and clears the tag.
    let out = deploy(root, &account, "dev");
    assert!(
        events(&out)
            .iter()
            .any(|e| e["event"] == "hotswap_settled" && e["function"] == name.as_str()),
        "no hotswap_settled event"
    );
    assert_eq!(hotswap_tag(&c, &name), None);
    assert!(
        http("GET", &url, &account, None)
            .body
            .contains("nobody called ghost")
    );
    let plan = run(root, &account, &["plan", "dev"]);
    ok(&plan);
}

#[test]
fn reverting_a_hotswapped_handler_is_not_a_no_op_for_deploy() {
    let Dev {
        project,
        account,
        c,
        name,
        url,
        ..
    } = deployed_dev();
    let root = project.path();
    let handler = root.join(HANDLER);
    let original = std::fs::read_to_string(&handler).unwrap();
    edit(
        &handler,
        "f\"no user {username}\"",
        "f\"nobody called {username}\"",
    );
    let once = run(root, &account, &["watch", "dev", "--once", "--no-smoke"]);
    ok(&once);
    assert!(
        http("GET", &url, &account, None)
            .body
            .contains("nobody called")
    );
    // Back to what CloudFormation holds: the stack's hash matches again, but
    // the live function still runs the swapped code.
    std::fs::write(&handler, original).unwrap();
    let plan = run(root, &account, &["plan", "dev"]);
    assert_eq!(plan.status.code(), Some(2), "the hotswapped code must show");
    deploy(root, &account, "dev");
    assert!(
        http("GET", &url, &account, None)
            .body
            .contains("no user ghost")
    );
    assert_eq!(hotswap_tag(&c, &name), None);
    ok(&run(root, &account, &["plan", "dev"]));
}

#[test]
fn a_memory_edit_updates_only_the_stateless_stack() {
    let Dev {
        project,
        account,
        c,
        stateful,
        stateless,
        name,
        ..
    } = deployed_dev();
    let root = project.path();
    let stateful_before = last_updated(&c, &stateful);
    let stateless_before = last_updated(&c, &stateless);
    let mut watch = Watch::start(root, &account, &["watch", "dev"]);
    edit(
        &root.join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 512 }",
    );
    let pass = watch.pass();
    assert_eq!(pass["result"], "deployed", "{pass}");
    assert_eq!(pass["stacks"]["updated"], 1, "{pass}");
    assert_eq!(memory(&c, &name), 512);
    assert_eq!(last_updated(&c, &stateful), stateful_before);
    assert_ne!(last_updated(&c, &stateless), stateless_before);
}

#[test]
fn broken_yaml_is_reported_the_watch_stays_and_the_fix_is_reconciled() {
    let Dev {
        project,
        account,
        c,
        name,
        ..
    } = deployed_dev();
    let root = project.path();
    let env_file = root.join("environments/dev.yaml");
    let good = std::fs::read_to_string(&env_file).unwrap();
    let mut watch = Watch::start(root, &account, &["watch", "dev"]);
    std::fs::write(&env_file, format!("{good}params: [\n")).unwrap();
    let pass = watch.pass();
    assert_eq!(pass["result"], "invalid", "{pass}");
    let diagnostic = watch
        .seen
        .iter()
        .find(|e| e["event"] == "diagnostic")
        .cloned()
        .unwrap_or(Json::Null);
    assert!(
        diagnostic["file"]
            .as_str()
            .unwrap_or("")
            .ends_with("dev.yaml"),
        "{:#?}",
        watch.seen
    );
    assert!(watch.alive());
    std::fs::write(
        &env_file,
        good.replace("reserved_concurrency: 1", "reserved_concurrency: 2"),
    )
    .unwrap();
    let pass = watch.pass();
    assert_eq!(pass["result"], "deployed", "{pass}");
    assert_eq!(super::deploy::reserved_concurrency(&c, &name), Some(2));
    // Ctrl-C ends the watch cleanly.
    let pid = watch.child.id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    watch.next(
        |e| e["event"] == "watch" && e["state"] == "stopped",
        Duration::from_secs(10),
    );
    let exit = watch.child.wait().expect("wait");
    assert_eq!(exit.code(), Some(0));
}

#[test]
fn edits_during_a_pass_end_with_the_last_edit_live() {
    let Dev {
        project,
        account,
        c,
        name,
        url,
        ..
    } = deployed_dev();
    let root = project.path();
    let handler = root.join(HANDLER);
    let original = std::fs::read_to_string(&handler).unwrap();
    let mut watch = Watch::start(root, &account, &["watch", "dev", "--debounce", "20"]);
    // A CloudFormation pass (memory), and while it runs, three handler edits.
    edit(
        &root.join("specs/api/unit.yaml"),
        "memory: { type: integer, default: 256 }",
        "memory: { type: integer, default: 384 }",
    );
    watch.next(|e| e["event"] == "stack_start", Duration::from_secs(30));
    for version in 1..=3 {
        let text = original.replace(
            "f\"no user {username}\"",
            &format!("f\"edit {version} {{username}}\""),
        );
        std::fs::write(&handler, text).unwrap();
        std::thread::sleep(Duration::from_millis(60));
    }
    // Passes until one starts after the last write and ends.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pass = watch.pass();
        let trigger = pass["trigger"].to_string();
        if trigger.contains("lambda_function.py") && pass["stopped_by"].is_null() {
            assert!(
                matches!(pass["result"].as_str(), Some("hotswapped" | "deployed")),
                "{pass}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "{:#?}", watch.seen);
    }
    assert!(
        served_within(&url, &account, "edit 3 ghost", Duration::from_secs(2)).is_some(),
        "the last edit is not what runs: {}",
        http("GET", &url, &account, None).body
    );
    assert_eq!(memory(&c, &name), 384);
}

#[test]
fn watch_prod_never_hotswaps() {
    let (project, app, account) = super::smoke::prod_app();
    let root = project.path();
    deploy(root, &account, "prod");
    let c = clients(&account, "eu-west-1");
    let (_, stateless) = stacks(&app, "prod");
    let name = output(&c, &stateless, "ApiFunctionName");
    let before = last_updated(&c, &stateless);
    edit(
        &root.join(HANDLER),
        "f\"no user {username}\"",
        "f\"nobody called {username}\"",
    );
    let out = run(root, &account, &["watch", "prod", "--once", "--yes"]);
    ok(&out);
    let pass = events(&out)
        .into_iter()
        .find(|e| e["event"] == "watch_pass")
        .expect("a pass");
    assert_eq!(pass["result"], "deployed", "{pass}");
    assert!(events(&out).iter().all(|e| e["event"] != "hotswapped"));
    assert_ne!(
        last_updated(&c, &stateless),
        before,
        "CloudFormation was not used"
    );
    assert_eq!(hotswap_tag(&c, &name), None);
    // Without --yes, watching an environment that requires approval is refused.
    let refused = run(root, &account, &["watch", "prod"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stdout).contains("approval required"),
        "{}",
        String::from_utf8_lossy(&refused.stdout)
    );
}

#[test]
fn a_hotswap_that_fails_its_checks_is_rolled_back_to_the_previous_code() {
    let Dev {
        project,
        account,
        c,
        name,
        url,
        ..
    } = deployed_dev();
    let root = project.path();
    edit(
        &root.join("environments/dev.yaml"),
        "hotswap: true",
        "hotswap: true\nrollback: true",
    );
    let sha_before = code_sha(&c, &name);
    let mut watch = Watch::start(root, &account, &["watch", "dev"]);
    // `GET /users`, which the dev check calls, now answers 500.
    edit(
        &root.join(HANDLER),
        "return respond(200, {\"users\"",
        "return respond(500, {\"users\"",
    );
    let pass = watch.pass();
    assert_eq!(pass["result"], "hotswapped", "{pass}");
    assert_eq!(pass["exit_code"], 6, "rolled back: {pass}");
    let rollback = watch
        .seen
        .iter()
        .find(|e| e["event"] == "rollback")
        .unwrap_or_else(|| panic!("a rollback event: {:#?}", watch.seen));
    assert_eq!(rollback["complete"], true, "{rollback}");
    assert_eq!(rollback["restored"], serde_json::json!([name]));
    assert_eq!(code_sha(&c, &name), sha_before, "the previous code is back");
    assert_eq!(
        hotswap_tag(&c, &name),
        None,
        "in line with CloudFormation again"
    );
    assert!(
        http("GET", &url, &account, None)
            .body
            .contains("no user ghost")
    );
    drop(watch);
    // Without rollback, the line says what the pass did.
    edit(
        &root.join("environments/dev.yaml"),
        "rollback: true",
        "rollback: false",
    );
    let out = run(root, &account, &["watch", "dev", "--once"]);
    let pass = events(&out)
        .into_iter()
        .find(|e| e["event"] == "watch_pass")
        .expect("a pass");
    assert_eq!(pass["result"], "hotswapped", "{pass}");
    assert_eq!(pass["exit_code"], 7, "{pass}");
    let message = pass["message"].as_str().unwrap_or_default();
    assert!(message.contains("was hotswapped"), "{message}");
    assert!(!message.contains("changed no stack"), "{message}");
}

#[test]
fn watch_syncs_a_changed_content_file_without_a_stack_operation() {
    let account = account();
    let (project, _) = super::content::site(&account);
    let project = project.path();
    deploy(project, &account, "dev");
    let mut watch = Watch::start(project, &account, &["watch", "dev"]);
    std::fs::write(
        project.join("specs/files/public/index.html"),
        "<h1>hello from the bucket, saved again</h1>\n",
    )
    .expect("save");
    let synced = watch.next(|e| e["event"] == "content_synced", Duration::from_secs(60));
    assert_eq!(super::content::keys(&synced["put"]), ["index.html"]);
    let pass = watch.pass();
    assert_eq!(pass["exit_code"], 0, "{pass:#}");
    assert_eq!(pass["stacks"]["objects_put"], 1, "{pass:#}");
    assert_eq!(
        pass["checks"]["failed"], 0,
        "the checks ran after the sync: {pass:#}"
    );
    assert!(
        !watch.seen.iter().any(|e| e["event"] == "stack_start"),
        "{:#?}",
        watch.seen
    );
}

/// Behind a release alias, a hotswapped handler reaches the API at once:
/// the alias moves to a version of what now runs, with no bake.
#[test]
fn a_hotswap_behind_a_release_alias_moves_the_alias_at_once() {
    let account = account();
    let (project, app) = reference_app(&account);
    let root = project.path();
    edit(
        &root.join("environments/dev.yaml"),
        "hotswap: true",
        "hotswap: true\nreleases: { strategy: canary 10% 5m }",
    );
    deploy(root, &account, "dev");
    let c = clients(&account, "us-east-1");
    let (_, stateless) = stacks(&app, "dev");
    let name = output(&c, &stateless, "ApiFunctionName");
    let url = format!("{}/users/ghost", output(&c, &stateless, "ApiEndpoint"));
    let mut watch = Watch::start(root, &account, &["watch", "dev"]);
    edit(
        &root.join(HANDLER),
        "f\"no user {username}\"",
        "f\"nobody called {username}\"",
    );
    let pass = watch.pass();
    assert_eq!(pass["result"], "hotswapped", "{pass}");
    let live =
        c.rt.block_on(
            c.lambda
                .get_alias()
                .function_name(&name)
                .name("live")
                .send(),
        )
        .expect("alias");
    assert_eq!(
        live.function_version(),
        Some("2"),
        "the alias moved, no canary"
    );
    assert!(
        live.routing_config()
            .is_none_or(|r| r.additional_version_weights().is_none_or(|w| w.is_empty()))
    );
    assert!(
        served_within(
            &url,
            &account,
            "nobody called ghost",
            Duration::from_secs(30)
        )
        .is_some(),
        "the API serves the swapped code through the alias"
    );
}
