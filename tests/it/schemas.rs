//! The editor schemas `driftless schema` writes, checked by a real JSON
//! Schema validator (Python's `jsonschema`, Draft 7): the reference
//! project and every fixture validate; every corpus case marked
//! `# schema: flagged` is flagged in the file it breaks, and no other case
//! is flagged at all (the schemas are not stricter than the validator).

use super::support::{driftless, repo_root};
use driftless::yaml::{Node, Value};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Which schema a project file answers to, from where it lives.
fn schema_of(path: &str) -> Option<&'static str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["specs", _, "unit.yaml"] => Some("unit"),
        ["environments", file] if file.ends_with(".yaml") => Some("environment"),
        ["pipeline.yaml"] => Some("pipeline"),
        _ => None,
    }
}

/// The document as JSON, read by driftless's own YAML reader (YAML 1.2:
/// `on:` is a key, not `true`).
fn to_json(node: &Node) -> Json {
    match &node.value {
        Value::Null => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::Seq(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|e| (e.key.clone(), to_json(&e.value)))
                .collect(),
        ),
    }
}

/// The schemas, as `driftless schema --out` writes them.
fn schemas() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = driftless(
        &repo_root(),
        &["schema", "--out", dir.path().to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().to_path_buf();
    (dir, path)
}

/// Validates each (name, schema, YAML text) and returns, per item, the
/// validator's messages.
fn validate(schema_dir: &Path, items: &[(String, &str, String)]) -> Vec<Vec<String>> {
    let batch: Vec<Json> = items
        .iter()
        .map(|(name, schema, text)| {
            let document = driftless::yaml::parse(text)
                .unwrap_or_else(|e| panic!("{name} is not YAML driftless reads: {e:?}"));
            json!({
                "schema": schema_dir.join(format!("{schema}.schema.json")),
                "instance": to_json(&document),
            })
        })
        .collect();
    let input = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(input.path(), serde_json::to_string(&batch).unwrap()).unwrap();
    let script = r#"
import json, sys
from jsonschema import Draft7Validator
out = []
for item in json.load(open(sys.argv[1])):
    schema = json.load(open(item["schema"]))
    Draft7Validator.check_schema(schema)
    errors = Draft7Validator(schema).iter_errors(item["instance"])
    out.append(["/".join(map(str, e.absolute_path)) + ": " + e.message for e in errors])
print(json.dumps(out))
"#;
    let run = Command::new(super::tools::python())
        .args(["-c", script])
        .arg(input.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    serde_json::from_slice(&run.stdout).unwrap()
}

/// Every schema-answering file under `root`, with its path inside it.
fn project_files(root: &Path) -> Vec<(String, &'static str, String)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            if let Some(schema) = schema_of(&relative) {
                found.push((relative, schema, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn the_reference_project_and_every_fixture_validate_against_the_schemas() {
    let (_keep, dir) = schemas();
    let mut items = Vec::new();
    let mut roots = vec![repo_root()];
    for fixture in std::fs::read_dir(repo_root().join("tests/fixtures"))
        .unwrap()
        .flatten()
    {
        roots.push(fixture.path());
    }
    for root in &roots {
        for (relative, schema, text) in project_files(root) {
            items.push((format!("{}/{relative}", root.display()), schema, text));
        }
    }
    assert!(items.len() > 30, "only {} files found", items.len());
    let results = validate(&dir, &items);
    let failures: Vec<String> = items
        .iter()
        .zip(&results)
        .filter(|(_, errors)| !errors.is_empty())
        .map(|((name, _, _), errors)| format!("{name}:\n    {}", errors.join("\n    ")))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_cases_a_schema_can_see_are_flagged_and_no_others() {
    let (_keep, dir) = schemas();
    let mut items = Vec::new();
    let mut cases = Vec::new();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repo_root().join("tests/corpus"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).unwrap();
        let case = super::corpus::parse_case(&text);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let first = items.len();
        for (file, content) in &case.files {
            // A case whose YAML does not parse is the parser's, not a schema's.
            if let (Some(schema), Ok(_)) = (schema_of(file), driftless::yaml::parse(content)) {
                items.push((format!("{name}: {file}"), schema, content.clone()));
            }
        }
        cases.push((name, case.schema_flagged, first..items.len()));
    }
    let results = validate(&dir, &items);
    let mut failures = Vec::new();
    let mut flagged_cases = 0;
    for (name, marked, range) in cases {
        let errors: Vec<&String> = results[range].iter().flatten().collect();
        match (marked, errors.is_empty()) {
            (true, true) => failures.push(format!("{name}: marked `# schema: flagged`, the schema accepts it")),
            (false, false) => failures.push(format!(
                "{name}: flagged by the schema but not marked (mark it, or the schema is stricter than the validator):\n    {}",
                errors.iter().map(|e| e.as_str()).collect::<Vec<_>>().join("\n    ")
            )),
            (true, false) => flagged_cases += 1,
            (false, true) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(flagged_cases >= 10, "only {flagged_cases} cases flagged");
}
