//! Releases behind aliases against the emulator: a canary held at its
//! weight while it bakes, put back when an alarm fires, a linear release's
//! steps, and a no-op deploy that publishes nothing. (MiniStack stores an
//! alias's weights but routes every call to its main version: the weights
//! are what these tests read.)

use super::deploy::{deploy, edit, output, reference_app, stacks};
use super::emulator::{Clients, account, clients, command, emulator, events, http, run};
use super::running::Running;
use serde_json::Value as Json;
use std::path::Path;
use std::time::{Duration, Instant};

fn with_releases(project: &Path, strategy: &str) {
    edit(
        &project.join("environments/dev.yaml"),
        "hotswap: true",
        &format!("hotswap: true\nreleases: {{ strategy: {strategy} }}"),
    );
}

/// A change to the handler's code: a new version.
fn new_code(project: &Path, mark: &str) {
    let handler = project.join("specs/api/runtime/lambda_function.py");
    let mut text = std::fs::read_to_string(&handler).expect("handler");
    text.push_str(&format!("\n# release {mark}\n"));
    std::fs::write(handler, text).expect("write");
}

/// The alias's main version and its weights.
fn alias(c: &Clients, function: &str) -> (String, Vec<(String, f64)>) {
    let out =
        c.rt.block_on(
            c.lambda
                .get_alias()
                .function_name(function)
                .name("live")
                .send(),
        )
        .expect("get alias");
    let mut weights: Vec<(String, f64)> = out
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    (
        out.function_version().unwrap_or_default().to_string(),
        weights,
    )
}

fn versions(c: &Clients, function: &str) -> Vec<String> {
    let out =
        c.rt.block_on(
            c.lambda
                .list_versions_by_function()
                .function_name(function)
                .send(),
        )
        .expect("versions");
    out.versions()
        .iter()
        .filter_map(|v| v.version().map(str::to_string))
        .collect()
}

/// Polls the alias until `want` holds, within a minute.
fn until(
    c: &Clients,
    function: &str,
    want: impl Fn(&(String, Vec<(String, f64)>)) -> bool,
) -> (String, Vec<(String, f64)>) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = alias(c, function);
        if want(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "the alias never got there: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn deploying(project: &Path, account: &str) -> Running {
    Running::spawn(command(
        project,
        account,
        &["deploy", "dev", "--yes"],
        &emulator().endpoint(),
    ))
}

#[test]
fn a_canary_bakes_at_its_weight_then_takes_all_and_a_no_op_publishes_nothing() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    with_releases(project, "canary 10% 3s");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    assert_eq!(
        alias(&c, &function),
        ("1".to_string(), vec![]),
        "a first release takes all at once"
    );
    let url = output(&c, &stateless, "ApiEndpoint");
    assert_eq!(
        http("GET", &format!("{url}/users"), &account, None).status,
        200,
        "the API calls the alias"
    );

    new_code(project, "two");
    let mut release = deploying(project, &account);
    let baking = until(&c, &function, |(_, w)| !w.is_empty());
    assert_eq!(
        baking,
        ("1".to_string(), vec![("2".to_string(), 0.1)]),
        "10% on the new version while it bakes"
    );
    let shifting = release.next(|e| e["event"] == "release", Duration::from_secs(60));
    assert_eq!(
        (shifting["state"].as_str(), shifting["weight"].as_f64()),
        (Some("shifting"), Some(0.1))
    );
    let summary = release.next(|e| e["event"] == "summary", Duration::from_secs(120));
    let code = release.child.wait().expect("wait").code();
    assert_eq!(code, Some(0), "{summary:#}");
    assert!(
        release
            .seen
            .iter()
            .any(|e| e["event"] == "release" && e["state"] == "done")
    );
    assert_eq!(
        alias(&c, &function),
        ("2".to_string(), vec![]),
        "all on the new version"
    );
    let plan = run(project, &account, &["plan", "dev"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "CloudFormation holds what runs: {}",
        String::from_utf8_lossy(&plan.stdout)
    );

    let before = versions(&c, &function);
    deploy(project, &account, "dev");
    assert_eq!(
        versions(&c, &function),
        before,
        "a no-op publishes no version"
    );
}

#[test]
fn an_alarm_during_the_bake_puts_all_traffic_back_and_exits_6_naming_it() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    with_releases(
        project,
        "canary 20% 20s, alarms: [monitoring.function_errors]",
    );
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    let alarm = super::drift::physical(&c, &stateless, "MonitoringFunctionErrors");
    new_code(project, "broken");
    let mut release = deploying(project, &account);
    until(&c, &function, |(_, w)| !w.is_empty());
    super::drift::set_alarm(
        &account,
        &alarm,
        aws_sdk_cloudwatch::types::StateValue::Alarm,
    );
    release.next(|e| e["event"] == "summary", Duration::from_secs(120));
    let code = release.child.wait().expect("wait").code();
    assert_eq!(code, Some(6), "a release put back: {:#?}", release.seen);
    let aborted = release
        .seen
        .iter()
        .find(|e| e["event"] == "release" && e["state"] == "aborted")
        .expect("an aborted release");
    assert!(
        aborted["reason"]
            .as_str()
            .unwrap_or_default()
            .contains(&alarm),
        "{aborted:#}"
    );
    assert_eq!(
        alias(&c, &function),
        ("1".to_string(), vec![]),
        "all traffic back, none on the new version"
    );
    let error: Vec<&Json> = release
        .seen
        .iter()
        .filter(|e| e["event"] == "error")
        .collect();
    assert!(
        format!("{error:?}").contains("release aborted"),
        "{error:#?}"
    );
}

/// A linear release's weights over time: the first share comes with the
/// stack update that publishes the version, each next one is an
/// `UpdateAlias` (recorded by a proxy in front of the emulator), and the
/// last update takes all of it.
#[test]
fn a_linear_release_steps_up_each_interval() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    with_releases(project, "linear 25% every 1s");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    new_code(project, "linear");
    let log = project.join("calls.jsonl");
    let recorder = super::on_aws::Recorder::start(&emulator().endpoint(), &log);
    let out = command(
        project,
        &account,
        &["deploy", "dev", "--yes"],
        &recorder.url,
    )
    .output()
    .expect("deploy");
    drop(recorder);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let steps: Vec<(String, f64)> = events(&out)
        .into_iter()
        .filter(|e| e["event"] == "release")
        .map(|e| {
            (
                e["state"].as_str().unwrap_or_default().to_string(),
                e["weight"].as_f64().unwrap_or(-1.0),
            )
        })
        .collect();
    assert_eq!(
        steps,
        [
            ("shifting".to_string(), 0.25),
            ("shifting".to_string(), 0.5),
            ("shifting".to_string(), 0.75),
            ("done".to_string(), 1.0)
        ]
    );
    let calls = std::fs::read_to_string(&log).expect("the recorded calls");
    let updates: Vec<(String, f64)> = calls
        .lines()
        .filter_map(|l| serde_json::from_str::<Json>(l).ok())
        .filter(|c| {
            c["method"] == "PUT" && c["path"].as_str().unwrap_or_default().contains("/aliases/")
        })
        .filter_map(|c| serde_json::from_str::<Json>(c["body"].as_str()?).ok())
        .map(|body| {
            let weights = &body["RoutingConfig"]["AdditionalVersionWeights"];
            let weight = weights
                .as_object()
                .and_then(|w| w.values().next())
                .and_then(Json::as_f64);
            (
                body["FunctionVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                weight.unwrap_or(0.0),
            )
        })
        .collect();
    assert_eq!(
        updates,
        [("1".to_string(), 0.5), ("1".to_string(), 0.75)],
        "each later step is one UpdateAlias, on the old version with the new one weighted"
    );
    let function = output(&c, &stateless, "ApiFunctionName");
    assert_eq!(alias(&c, &function), ("2".to_string(), vec![]));
}

#[test]
fn a_strategy_that_cannot_be_read_or_names_no_function_is_an_error_at_its_line() {
    let dir = super::support::reference_copy();
    edit(
        &dir.path().join("environments/dev.yaml"),
        "hotswap: true",
        "hotswap: true\nreleases:\n  strategy: canary 150% 5m\n  functions:\n    api.nothing: all_at_once",
    );
    let out = run(dir.path(), &account(), &["validate"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("150% is not from 1% to 99%"), "{text}");
    let dir = super::support::reference_copy();
    edit(
        &dir.path().join("environments/dev.yaml"),
        "hotswap: true",
        "hotswap: true\nreleases:\n  strategy: all_at_once\n  alarms: [monitoring.nothing]\n  functions:\n    api.nothing: all_at_once",
    );
    let out = run(dir.path(), &account(), &["validate"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("`monitoring.nothing` is not an alarm this environment deploys")
            && text.contains("monitoring.function_errors")
            && text.contains("`api.nothing` is not a function this environment deploys")
            && text.contains("api.handler"),
        "{text}"
    );
}

/// A pass killed while its canary bakes leaves the alias weighted; the
/// next pass says so and finishes the release.
#[test]
fn a_release_killed_in_its_bake_is_resumed_and_finished_by_the_next_pass() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    with_releases(project, "canary 25% 30s");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    new_code(project, "killed");
    let mut release = deploying(project, &account);
    until(&c, &function, |(_, w)| !w.is_empty());
    let _ = release.child.kill();
    let _ = release.child.wait();
    assert_eq!(
        alias(&c, &function),
        ("1".to_string(), vec![("2".to_string(), 0.25)]),
        "left weighted"
    );
    let plan = run(project, &account, &["plan", "dev"]);
    assert_eq!(
        plan.status.code(),
        Some(2),
        "out of sync until the release ends"
    );
    let status = run(project, &account, &["status", "dev"]);
    let s = events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .expect("status");
    let lines = s["status"]["out_of_sync"].to_string();
    assert!(
        lines.contains("a release started by")
            && lines.contains("api.handler 1 -> 2")
            && lines.contains(" s left"),
        "{lines}"
    );
    assert_eq!(s["status"]["health"], "progressing", "{s:#}");

    // The lock the killed pass held lapses; the next pass waits for it.
    with_releases_bake(project, "canary 25% 30s", "canary 25% 1s");
    let out = run(
        project,
        &account,
        &["deploy", "dev", "--yes", "--lock-wait", "120"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let resumed = events(&out)
        .into_iter()
        .find(|e| e["event"] == "release" && e["state"] == "resumed")
        .expect("says the release was resumed");
    assert_eq!(resumed["weight"].as_f64(), Some(0.25), "{resumed:#}");
    assert!(
        resumed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("started by"),
        "whose it was: {resumed:#}"
    );
    assert_eq!(alias(&c, &function), ("2".to_string(), vec![]), "finished");
    let status = run(project, &account, &["status", "dev"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "the record is gone: {}",
        String::from_utf8_lossy(&status.stdout)
    );
}

fn with_releases_bake(project: &Path, from: &str, to: &str) {
    edit(&project.join("environments/dev.yaml"), from, to);
}

/// `rollback` moves the alias back one version in one call; `status`
/// reports it until the commit that reverts the release is deployed.
#[test]
fn rollback_moves_the_alias_back_at_once_and_status_says_so_until_the_revert_lands() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    with_releases(project, "all_at_once");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    let handler = project.join("specs/api/runtime/lambda_function.py");
    let original = std::fs::read_to_string(&handler).expect("handler");
    new_code(project, "two");
    deploy(project, &account, "dev");
    assert_eq!(alias(&c, &function).0, "2");

    let out = run(project, &account, &["rollback", "dev", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let moved = events(&out)
        .into_iter()
        .find(|e| e["event"] == "rollback_alias")
        .expect("a rollback_alias event");
    assert_eq!(
        (moved["from_version"].as_str(), moved["to_version"].as_str()),
        (Some("2"), Some("1"))
    );
    assert_eq!(
        alias(&c, &function),
        ("1".to_string(), vec![]),
        "one call, at once"
    );

    let status = run(project, &account, &["status", "dev"]);
    assert_eq!(status.status.code(), Some(2), "out of sync");
    let s = events(&status)
        .into_iter()
        .find(|e| e["event"] == "status")
        .expect("status");
    let lines = s["status"]["out_of_sync"].to_string();
    assert!(
        lines.contains("serves version 1, the stack names 2"),
        "{lines}"
    );
    assert_eq!(s["status"]["drifted"], true);

    // The revert: the old code again, published anew; the alias follows the template.
    std::fs::write(&handler, original).expect("revert");
    deploy(project, &account, "dev");
    let status = run(project, &account, &["status", "dev"]);
    assert_eq!(
        status.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
}

/// The `verify:` function is invoked at each step with the release; its
/// error aborts it, as an alarm does.
#[test]
fn a_verify_function_that_fails_aborts_the_release() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    let unit = project.join("specs/checks");
    std::fs::create_dir_all(unit.join("code")).expect("unit");
    std::fs::write(
        unit.join("unit.yaml"),
        "unit: checks\ntier: stateless\nresources:\n  release:\n    kind: function\n    runtime: python3.12\n    handler: verify.main\n    code: code/\n",
    )
    .expect("unit file");
    std::fs::write(
        unit.join("code/verify.py"),
        "def main(event, context):\n    raise Exception('version %s is not ready' % event['to_version'])\n",
    )
    .expect("handler");
    edit(
        &project.join("environments/dev.yaml"),
        "stateless: [api, monitoring]",
        "stateless: [api, monitoring, checks]",
    );
    edit(
        &project.join("environments/dev.yaml"),
        "hotswap: true",
        "hotswap: true\nreleases: { strategy: canary 10% 2s, verify: checks.release }",
    );
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    new_code(project, "unverified");
    let out = run(project, &account, &["deploy", "dev", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let aborted = events(&out)
        .into_iter()
        .find(|e| e["event"] == "release" && e["state"] == "aborted")
        .expect("aborted");
    let reason = aborted["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("verify function failed") && reason.contains("version 2 is not ready"),
        "{reason}"
    );
    assert_eq!(alias(&c, &function), ("1".to_string(), vec![]));
}

/// `provisioned_concurrency` is the alias's: set there, checked against
/// the reserved concurrency and refused without `releases:`, at its line.
#[test]
fn provisioned_concurrency_is_set_on_the_alias_and_checked_at_its_line() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    let unit = project.join("specs/api/unit.yaml");
    edit(
        &unit,
        "  memory: { type: integer, default: 256 }",
        "  memory: { type: integer, default: 256 }\n  provisioned: { type: integer, default: 0 }",
    );
    edit(
        &unit,
        "    reserved_concurrency: ${reserved_concurrency}",
        "    reserved_concurrency: ${reserved_concurrency}\n    provisioned_concurrency: ${provisioned}",
    );
    let dev = project.join("environments/dev.yaml");
    edit(
        &dev,
        "api: { reserved_concurrency: 1 }",
        "api: { reserved_concurrency: 1, provisioned: 1 }",
    );
    with_releases(project, "all_at_once");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    deploy(project, &account, "dev");
    let function = output(&c, &stateless, "ApiFunctionName");
    let config =
        c.rt.block_on(
            c.lambda
                .get_provisioned_concurrency_config()
                .function_name(&function)
                .qualifier("live")
                .send(),
        )
        .expect("provisioned concurrency on the alias");
    assert_eq!(
        config.requested_provisioned_concurrent_executions(),
        Some(1)
    );

    edit(&dev, "provisioned: 1 }", "provisioned: 2 }");
    let out = run(project, &account, &["validate"]);
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("provisioned_concurrency 2 is above reserved_concurrency 1"),
        "{text}"
    );
    edit(&dev, "provisioned: 2 }", "provisioned: 1 }");
    edit(&dev, "releases: { strategy: all_at_once }", "");
    let out = run(project, &account, &["validate"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        text.contains("has no `releases:`") && text.contains("specs/api/unit.yaml"),
        "{text}"
    );
}

/// A unit may name its function's alias; where an environment has no
/// `releases:`, `validate` says the name is unused there.
#[test]
fn a_unit_names_its_alias_and_validate_warns_where_it_is_unused() {
    let account = account();
    let (project, app) = reference_app(&account);
    let project = project.path();
    edit(
        &project.join("specs/api/unit.yaml"),
        "    timeout: 20",
        "    timeout: 20\n    alias: current",
    );
    with_releases(project, "all_at_once");
    deploy(project, &account, "dev");
    let (_, stateless) = stacks(&app, "dev");
    let c = clients(&account, "us-east-1");
    let function = output(&c, &stateless, "ApiFunctionName");
    let named =
        c.rt.block_on(
            c.lambda
                .get_alias()
                .function_name(&function)
                .name("current")
                .send(),
        )
        .expect("the unit's alias");
    assert_eq!(named.function_version(), Some("1"));
    let out = run(project, &account, &["validate"]);
    assert_eq!(out.status.code(), Some(0), "a warning, not an error");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "environments/prod.yaml has no `releases:`: api.handler runs without an alias there"
        ),
        "{text}"
    );
}
