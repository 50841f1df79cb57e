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
