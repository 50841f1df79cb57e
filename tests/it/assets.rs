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

#[test]
fn a_build_is_cached_until_its_inputs_change() {
    let project = reference_copy();
    let counter = project.path().join("runs.log");
    add_build(
        project.path(),
        &format!(
            "echo run >> {} && cp lambda_function.py $DRIFTLESS_BUILD_OUT/",
            counter.display()
        ),
    );
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
fn a_failing_build_is_reported_at_the_code_field_with_its_output() {
    let project = reference_copy();
    add_build(project.path(), "echo missing requirements.txt >&2; exit 3");
    let Err(Failure::Invalid(diagnostics)) = load_environment(project.path(), "dev") else {
        panic!("a failing build must fail the render");
    };
    let d = &diagnostics[0];
    assert_eq!(d.location(), "specs/api/unit.yaml:11:11");
    assert!(d.message.contains("failed"), "{}", d.message);
    assert!(
        d.message.contains("missing requirements.txt"),
        "{}",
        d.message
    );
}
