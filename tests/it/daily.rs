//! The commands of a working day against the emulator: call a function
//! and read what it logged.

use super::deploy::{deploy, reference_app};
use super::emulator::{account, command, emulator, events};
use std::io::Write;

#[test]
fn invoke_shows_the_answer_and_the_log_line_the_handler_wrote() {
    let account = account();
    let (project, _) = reference_app(&account);
    let project = project.path();
    deploy(project, &account, "dev");
    let event = project.join("list-users.json");
    std::fs::write(
        &event,
        r#"{"version": "2.0", "rawPath": "/users", "requestContext": {"http": {"method": "GET"}}}"#,
    )
    .expect("event");
    let event = event.to_str().expect("path").to_string();
    let out = command(
        project,
        &account,
        &["invoke", "dev", "api.handler", "--event", &event],
        &emulator().endpoint(),
    )
    .output()
    .expect("invoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let invoked = events(&out)
        .into_iter()
        .find(|e| e["event"] == "invoked")
        .expect("an invoked event");
    assert_eq!(invoked["status"], 200);
    let payload: serde_json::Value =
        serde_json::from_str(invoked["payload"].as_str().unwrap_or_default()).expect("json");
    assert_eq!(payload["statusCode"], 200, "{payload:#}");
    let log = invoked["log"].as_str().unwrap_or_default();
    assert!(
        log.contains(r#""path": "/users""#) && log.contains(r#""status": 200"#),
        "the handler's own line: {log}"
    );

    // From standard input; a body that is not JSON is refused before any call.
    let mut child = command(
        project,
        &account,
        &["invoke", "dev", "api.handler", "--event", "-"],
        &emulator().endpoint(),
    )
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"not json")
        .expect("write");
    let refused = child.wait_with_output().expect("wait");
    assert_eq!(refused.status.code(), Some(3), "invalid input");
    let unknown = command(
        project,
        &account,
        &["invoke", "dev", "api.nothing"],
        &emulator().endpoint(),
    )
    .output()
    .expect("invoke");
    let said = String::from_utf8_lossy(&unknown.stdout).to_string();
    assert!(
        said.contains("api.handler"),
        "names the functions there are: {said}"
    );
}

#[test]
fn logs_show_the_line_the_handler_wrote_filtered_and_followed() {
    let account = account();
    let (project, _) = reference_app(&account);
    let project = project.path();
    deploy(project, &account, "dev");
    let invoke = |path: &str| {
        let event = project.join("event.json");
        std::fs::write(
            &event,
            format!(r#"{{"version": "2.0", "rawPath": "{path}", "requestContext": {{"http": {{"method": "GET"}}}}}}"#),
        )
        .expect("event");
        let out = command(
            project,
            &account,
            &[
                "invoke",
                "dev",
                "api.handler",
                "--event",
                event.to_str().expect("path"),
            ],
            &emulator().endpoint(),
        )
        .output()
        .expect("invoke");
        assert!(out.status.success());
    };
    invoke("/users/ada");
    invoke("/users");
    let logs = |extra: &[&str]| {
        let mut args = vec!["logs", "dev"];
        args.extend_from_slice(extra);
        let out = command(project, &account, &args, &emulator().endpoint())
            .output()
            .expect("logs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        events(&out)
            .into_iter()
            .filter(|e| e["event"] == "log")
            .collect::<Vec<_>>()
    };
    let all = logs(&[]);
    let lines: Vec<&str> = all.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(
        lines.iter().any(|l| l.contains(r#""path": "/users/ada""#)),
        "{lines:#?}"
    );
    assert!(all.iter().all(|l| l["function"] == "api.handler"));
    let times: Vec<i64> = all.iter().filter_map(|l| l["at_ms"].as_i64()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let ada = logs(&["api.handler", "--filter", "/users/ada"]);
    assert!(!ada.is_empty(), "{all:#?}");
    assert!(
        ada.iter().all(|l| l["message"]
            .as_str()
            .unwrap_or_default()
            .contains("/users/ada")),
        "{ada:#?}"
    );

    // Following: a line written after the start shows up, then Ctrl-C ends it.
    let mut running = super::running::Running::spawn(command(
        project,
        &account,
        &["logs", "dev", "--follow", "--since", "1s"],
        &emulator().endpoint(),
    ));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    invoke("/users/grace");
    let line = running.next(
        |e| {
            e["event"] == "log"
                && e["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("/users/grace")
        },
        std::time::Duration::from_secs(30),
    );
    assert_eq!(line["function"], "api.handler");
    let _ = std::process::Command::new("kill")
        .args(["-INT", &running.child.id().to_string()])
        .status();
    let status = running.child.wait().expect("wait");
    assert!(status.success(), "Ctrl-C ends a follow cleanly: {status:?}");
}

/// `init` writes a project that validates and deploys as it stands; a
/// second `init` writes nothing over it.
#[test]
fn init_writes_a_project_that_deploys_and_never_overwrites() {
    let account = account();
    let top = tempfile::tempdir().expect("temp dir");
    for (template, folder) in [("api", "Hello App"), ("worker", "jobs")] {
        // The app name from the folder; stack names must differ per test
        // account, so the emulator's function workers do not meet.
        let dir = top.path().join(folder);
        std::fs::create_dir_all(&dir).expect("folder");
        let app = format!("{}{}", template, &account[account.len() - 6..]);
        let init = command(
            &dir,
            &account,
            &["init", "--template", template, "--app", &app],
            &emulator().endpoint(),
        )
        .output()
        .expect("init");
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stdout)
        );
        let created: Vec<String> = events(&init)
            .into_iter()
            .filter(|e| e["event"] == "created")
            .filter_map(|e| e["path"].as_str().map(str::to_string))
            .collect();
        assert!(
            created.iter().any(|p| p.ends_with("environments/dev.yaml")),
            "{created:?}"
        );
        deploy(&dir, &account, "dev");
        let again = command(
            &dir,
            &account,
            &["init", "--template", template],
            &emulator().endpoint(),
        )
        .output()
        .expect("init again");
        assert_eq!(again.status.code(), Some(3), "refused");
        let said = String::from_utf8_lossy(&again.stdout).to_string();
        assert!(said.contains("not overwriting"), "{said}");
    }
    // The api template's smoke check ran against its own endpoint.
    let dir = top.path().join("Hello App");
    let out = command(&dir, &account, &["smoke", "dev"], &emulator().endpoint())
        .output()
        .expect("smoke");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Without --app, the folder's name: `hello-app`.
    let plain = top.path().join("Hello App 2");
    std::fs::create_dir_all(&plain).expect("folder");
    let init = command(&plain, &account, &["init"], &emulator().endpoint())
        .output()
        .expect("init");
    assert!(init.status.success());
    let dev = std::fs::read_to_string(plain.join("environments/dev.yaml")).expect("dev");
    assert!(dev.contains("app: hello-app-2"), "{dev}");
}
