//! The reference API's DynamoDB client (`specs/api/runtime/dynamodb.py`):
//! its Signature Version 4 headers and wire values, checked against botocore
//! from the emulator's environment. Its CRUD behaviour is exercised through
//! the deployed API in the deploy and smoke tests.

use std::process::Command;

#[test]
fn the_standard_library_client_signs_and_serializes_as_botocore_does() {
    let python = super::emulator::python();
    let root = super::support::repo_root();
    let output = Command::new(&python)
        .arg(root.join("tests/fixtures/sigv4_check.py"))
        .arg(root.join("specs/api/runtime"))
        .output()
        .expect("run the check");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("signatures match"), "{stdout}");
    assert!(stdout.contains("values round-trip"), "{stdout}");
}
