//! Code assets: build commands, their cache, their failures.

use super::support::reference_copy;
use driftless::load::{Failure, load_environment};
use std::io::Read;

fn add_build(project: &std::path::Path, command: &str) {
    let path = project.join("specs/api/unit.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "    code: runtime/\n",
        &format!("    code: runtime/\n    build: '{command}'\n"),
    );
    std::fs::write(&path, text).unwrap();
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().to_string())
        .collect()
}

#[test]
fn a_build_command_output_is_what_gets_zipped() {
    let project = reference_copy();
    add_build(
        project.path(),
        "cp lambda_function.py $DRIFTLESS_BUILD_OUT/ && echo generated > $DRIFTLESS_BUILD_OUT/version.txt",
    );
    let (_, _, assets) = load_environment(project.path(), "dev").unwrap();
    let asset = assets.values().next().unwrap();
    assert_eq!(
        zip_names(&asset.bytes),
        vec!["lambda_function.py", "version.txt"]
    );
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&asset.bytes)).unwrap();
    let mut content = String::new();
    archive
        .by_name("version.txt")
        .unwrap()
        .read_to_string(&mut content)
        .unwrap();
    assert_eq!(content, "generated\n");
}

/// The reference app whose build writes a line to the returned file each
/// time it runs.
fn counted_build() -> (tempfile::TempDir, std::path::PathBuf) {
    let project = reference_copy();
    let counter = project.path().join("runs.log");
    add_build(
        project.path(),
        &format!(
            "echo run >> {} && cp lambda_function.py $DRIFTLESS_BUILD_OUT/",
            counter.display()
        ),
    );
    (project, counter)
}

#[test]
fn a_build_is_cached_until_its_inputs_change() {
    let (project, counter) = counted_build();
    let (_, _, first) = load_environment(project.path(), "dev").unwrap();
    let (_, _, second) = load_environment(project.path(), "dev").unwrap();
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        1
    );
    assert_eq!(
        first.values().next().unwrap().sha256,
        second.values().next().unwrap().sha256
    );
    let handler = project.path().join("specs/api/runtime/lambda_function.py");
    let mut code = std::fs::read_to_string(&handler).unwrap();
    code.push_str("\n# new\n");
    std::fs::write(&handler, code).unwrap();
    let (_, _, third) = load_environment(project.path(), "dev").unwrap();
    assert_eq!(
        std::fs::read_to_string(&counter).unwrap().lines().count(),
        2
    );
    assert_ne!(
        first.values().next().unwrap().sha256,
        third.values().next().unwrap().sha256
    );
}

#[test]
fn a_cached_build_output_edited_after_the_build_is_built_again() {
    let (project, counter) = counted_build();
    let (_, _, first) = load_environment(project.path(), "dev").unwrap();
    let built = project
        .path()
        .join(".driftless/build/api/handler/lambda_function.py");
    std::fs::write(&built, "raise SystemExit('edited by hand')\n").unwrap();
    let (_, _, second) = load_environment(project.path(), "dev").unwrap();
    let runs = std::fs::read_to_string(&counter).unwrap().lines().count();
    assert_eq!(runs, 2, "the edited output was built again");
    assert_eq!(
        first.values().next().unwrap().sha256,
        second.values().next().unwrap().sha256,
        "what ships is what the build makes"
    );
}

#[test]
fn a_failing_build_is_reported_at_the_code_field_with_its_output() {
    let project = reference_copy();
    add_build(project.path(), "echo missing requirements.txt >&2; exit 3");
    let Err(Failure::Invalid(diagnostics)) = load_environment(project.path(), "dev") else {
        panic!("a failing build must fail the render");
    };
    let d = &diagnostics[0];
    assert_eq!(d.location(), "specs/api/unit.yaml:11:11");
    assert!(d.message.contains("failed"), "{}", d.message);
    assert_eq!(d.quoted, ["missing requirements.txt"]);
    let help = d.help.clone().unwrap_or_default();
    assert!(help.contains(".driftless/build/api/handler.log"), "{help}");
    let log = project.path().join(".driftless/build/api/handler.log");
    assert_eq!(
        std::fs::read_to_string(log).unwrap(),
        "missing requirements.txt\n"
    );
}

#[test]
fn a_build_past_its_time_limit_is_stopped_and_says_how_to_allow_more() {
    let project = reference_copy();
    add_build(project.path(), "echo fetching; sleep 60");
    let path = project.path().join("specs/api/unit.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("    build:", "    build_timeout: 1\n    build:"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let Err(Failure::Invalid(diagnostics)) = load_environment(project.path(), "dev") else {
        panic!("a build past its limit must fail the render");
    };
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let d = &diagnostics[0];
    assert!(
        d.message.contains("did not finish within 1 s"),
        "{}",
        d.message
    );
    assert_eq!(d.quoted, ["fetching"]);
    assert!(
        d.help
            .as_deref()
            .unwrap_or_default()
            .contains("build_timeout")
    );
}

/// `plan --offline` run from inside the project with the default `-C .`,
/// as a user types it; returns its JSON events.
fn plan_from_inside(project: &std::path::Path) -> (Option<i32>, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(["--output", "json", "plan", "dev", "--offline"])
        .current_dir(project)
        .env_remove("DRIFTLESS_PROJECT")
        .output()
        .unwrap();
    let events = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (out.status.code(), events)
}

#[test]
fn a_build_run_from_inside_the_project_writes_where_driftless_zips() {
    let project = reference_copy();
    add_build(
        project.path(),
        "mkdir -p $DRIFTLESS_BUILD_OUT/python && echo X=1 > $DRIFTLESS_BUILD_OUT/python/dep.py && cp *.py $DRIFTLESS_BUILD_OUT/",
    );
    let (code, events) = plan_from_inside(project.path());
    assert_eq!(code, Some(0), "{events:?}");
    let asset = events
        .iter()
        .find(|e| e["event"] == "asset")
        .expect("an asset event");
    assert_eq!(asset["files"], 2, "{asset}");
    assert!(
        !project.path().join("specs/api/runtime/.driftless").exists(),
        "nothing was written into the code folder"
    );
}

#[test]
fn a_build_that_writes_nothing_is_an_error_and_is_never_cached() {
    let project = reference_copy();
    // Writes nothing the first time, a file from the second on.
    add_build(
        project.path(),
        "if [ -f ../../../ran ]; then cp *.py $DRIFTLESS_BUILD_OUT/; fi; touch ../../../ran",
    );
    let (code, events) = plan_from_inside(project.path());
    assert_eq!(code, Some(3), "{events:?}");
    let d = events
        .iter()
        .find(|e| e["event"] == "diagnostic")
        .expect("a diagnostic");
    let message = d["message"].as_str().unwrap_or_default();
    assert!(message.contains("api.handler"), "{message}");
    assert!(message.contains("wrote no file"), "{message}");
    assert!(
        message.contains("touch ../../../ran"),
        "names the command: {message}"
    );
    let (code, events) = plan_from_inside(project.path());
    assert_eq!(code, Some(0), "the empty result was not cached: {events:?}");
    let asset = events
        .iter()
        .find(|e| e["event"] == "asset")
        .expect("asset");
    assert_eq!(asset["files"], 1, "{asset}");
}

#[test]
fn a_layer_built_by_pip_ships_its_packages_from_inside_the_project() {
    use super::emulator::{account, clients, command_inside, events};
    let account = account();
    let project = tempfile::tempdir().expect("temp dir");
    super::support::copy_dir(
        &super::support::repo_root().join("tests/fixtures/layered"),
        project.path(),
    );
    let app = format!("words{}", &account[account.len() - 6..]);
    super::deploy::edit(
        &project.path().join("environments/dev.yaml"),
        "app: words",
        &format!("app: {app}"),
    );
    let path = format!(
        "{}:{}",
        super::tools::bin().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // From inside the project, as a user runs it: no --project, no -C.
    let out = command_inside(project.path(), &account, &["deploy", "dev"])
        .env("PATH", path)
        .output()
        .expect("run driftless");
    super::emulator::ok(&out);
    let all = events(&out);
    assert!(
        all.iter().any(|e| e["event"] == "smoke_check"
            && e["name"] == "plural from the layer"
            && e["passed"] == true),
        "{all:#?}"
    );
    let c = clients(&account, "us-east-1");
    let function =
        c.rt.block_on(c.lambda.list_functions().send())
            .expect("list functions")
            .functions()
            .iter()
            .filter_map(|f| f.function_name())
            .find(|n| n.starts_with(&app))
            .expect("the function")
            .to_string();
    let answer =
        c.rt.block_on(
            c.lambda
                .invoke()
                .function_name(&function)
                .payload(aws_smithy_types::Blob::new(r#"{"word": "person"}"#))
                .send(),
        )
        .expect("invoke");
    assert_eq!(answer.function_error(), None);
    let payload = String::from_utf8_lossy(answer.payload().expect("payload").as_ref()).into_owned();
    assert_eq!(payload.replace(' ', ""), r#"{"plural":"people"}"#);
    // The build ran in the code folder, and wrote nothing there.
    assert!(!project.path().join("specs/words/deps/python").exists());
}

#[test]
fn build_folders_of_names_that_join_alike_stay_apart() {
    // `a`.`b-c` and `a-b`.`c` would share `a-b-c` if the names were joined.
    let project = reference_copy();
    for (unit, resource) in [("a", "b-c"), ("a-b", "c")] {
        let dir = project.path().join("specs").join(unit);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/app.py"), "def handler(e, c):\n    return 1\n").unwrap();
        std::fs::write(
            dir.join("unit.yaml"),
            format!(
                "unit: {unit}\ntier: stateless\nresources:\n  {resource}:\n    kind: function\n    runtime: python3.13\n    code: src/\n    build: 'cp app.py \"$DRIFTLESS_BUILD_OUT\"/ && echo {unit}.{resource} > \"$DRIFTLESS_BUILD_OUT\"/who.txt'\n    handler: app.handler\n"
            ),
        )
        .unwrap();
    }
    let env = project.path().join("environments/dev.yaml");
    let text = std::fs::read_to_string(&env).unwrap();
    std::fs::write(
        &env,
        // In stacks of their own: in one stack their logical ids collide.
        text.replace(
            "stateless: [api, monitoring]",
            "stateless: [api, monitoring]\n  x: [a]\n  y: [a-b]",
        ),
    )
    .unwrap();
    let (_, _, assets) = load_environment(project.path(), "dev").unwrap();
    for (unit, resource) in [("a", "b-c"), ("a-b", "c")] {
        let asset = &assets[&(unit.to_string(), resource.to_string())];
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&asset.bytes)).unwrap();
        let mut who = String::new();
        archive
            .by_name("who.txt")
            .unwrap()
            .read_to_string(&mut who)
            .unwrap();
        assert_eq!(who.trim(), format!("{unit}.{resource}"));
    }
}

/// The `asset` events of `plan --offline` in `project`: (resource, sha256,
/// kept out), and what it printed.
fn offline_assets(project: &std::path::Path) -> (Vec<(String, String, u64)>, String) {
    let out = super::support::driftless(project, &["--output", "json", "plan", "dev", "--offline"]);
    let text = super::support::stdout(&out);
    let assets = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "asset")
        .map(|e| {
            (
                format!(
                    "{}.{}",
                    e["unit"].as_str().unwrap(),
                    e["resource"].as_str().unwrap()
                ),
                e["sha256"].as_str().unwrap().to_string(),
                e["kept_out"].as_u64().unwrap(),
            )
        })
        .collect();
    (assets, format!("{text}{}", super::support::stderr(&out)))
}

#[test]
fn a_local_plan_ships_what_the_commit_holds_and_names_what_git_ignores() {
    use super::support::git;
    let project = super::support::reference_copy();
    let root = project.path();
    let code = root.join("specs/api/runtime");
    std::fs::write(root.join(".gitignore"), ".env\nvendor/\n").unwrap();
    std::fs::write(code.join(".env"), "TOKEN=local-only\n").unwrap();
    std::fs::create_dir_all(code.join("vendor/requests")).unwrap();
    std::fs::write(code.join("vendor/requests/__init__.py"), "x = 1\n").unwrap();
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "app"]);
    let clone = tempfile::tempdir().unwrap();
    git(
        clone.path(),
        &["clone", "-q", root.to_str().unwrap(), "checkout"],
    );
    let (local, printed) = offline_assets(root);
    let (committed, _) = offline_assets(&clone.path().join("checkout"));
    assert!(!local.is_empty(), "{printed}");
    let hashes = |a: &[(String, String, u64)]| -> Vec<(String, String)> {
        a.iter().map(|(r, h, _)| (r.clone(), h.clone())).collect()
    };
    assert_eq!(
        hashes(&local),
        hashes(&committed),
        "the same zip, the same hash"
    );
    assert!(local.iter().any(|(_, _, kept)| *kept == 2), "{local:?}");
    // The plan lists what the asset holds: the code, not what git ignores.
    let holds: Vec<String> = printed
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["event"] == "asset" && e["resource"] == "handler")
        .flat_map(|e| e["holds"].as_array().cloned().unwrap_or_default())
        .filter_map(|f| f.as_str().map(str::to_string))
        .collect();
    assert!(holds.iter().any(|f| f == "lambda_function.py"), "{holds:?}");
    assert!(
        !holds
            .iter()
            .any(|f| f.contains(".env") || f.contains("vendor")),
        "{holds:?}"
    );
    assert!(
        printed.contains("vendor") && printed.contains("build:"),
        "the vendored folder is named, with what to do: {printed}"
    );
}
