//! The broken-input corpus: every case under tests/corpus must be rejected
//! with a diagnostic at the exact location and with the expected words,
//! without panicking and within a second.
//!
//! A case file holds `# expect: FILE:LINE:COL: FRAGMENT` lines, an optional
//! `# base: reference` (start from a copy of the reference application), and
//! files introduced by `--- PATH` lines. `# schema: flagged` says that the
//! editor schemas (`driftless schema`) see the problem too.

use super::support::reference_copy;
use driftless::diag::Diagnostic;
use driftless::load::validate_project;
use std::path::Path;
use std::time::{Duration, Instant};

struct Expectation {
    location: String,
    fragment: String,
}

pub(super) struct Case {
    expectations: Vec<Expectation>,
    from_reference: bool,
    pub(super) files: Vec<(String, String)>,
    /// `# schema: flagged`: the editor schema sees the problem too.
    pub(super) schema_flagged: bool,
    /// `# symlink: LINK -> TARGET`, made after the files.
    symlinks: Vec<(String, String)>,
    /// `# repeat: FILE COUNT LINE`: LINE appended COUNT times to FILE.
    repeats: Vec<(String, usize, String)>,
    /// `# fifo: PATH`: a named pipe, made with `mkfifo`.
    fifos: Vec<String>,
}

pub(super) fn parse_case(text: &str) -> Case {
    let mut case = Case {
        expectations: Vec::new(),
        from_reference: false,
        files: Vec::new(),
        schema_flagged: false,
        symlinks: Vec::new(),
        repeats: Vec::new(),
        fifos: Vec::new(),
    };
    for line in text.lines() {
        if let Some(file) = line.strip_prefix("--- ") {
            case.files.push((file.trim().to_string(), String::new()));
        } else if let Some((_, content)) = case.files.last_mut() {
            content.push_str(line);
            content.push('\n');
        } else if let Some(expect) = line.strip_prefix("# expect: ") {
            let mut parts = expect.splitn(4, ':');
            let (file, line_no, col) = (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            );
            case.expectations.push(Expectation {
                location: format!("{file}:{line_no}:{col}"),
                fragment: parts.next().unwrap_or_default().trim().to_string(),
            });
        } else if let Some(fifo) = line.strip_prefix("# fifo: ") {
            case.fifos.push(fifo.trim().to_string());
        } else if let Some(link) = line.strip_prefix("# symlink: ") {
            let (from, to) = link
                .split_once(" -> ")
                .expect("`# symlink: LINK -> TARGET`");
            case.symlinks
                .push((from.trim().to_string(), to.trim().to_string()));
        } else if let Some(repeat) = line.strip_prefix("# repeat: ") {
            let mut parts = repeat.splitn(3, ' ');
            let (file, count, text) = (
                parts.next().unwrap_or_default(),
                parts
                    .next()
                    .and_then(|c| c.parse().ok())
                    .expect("`# repeat: FILE COUNT LINE`"),
                parts.next().unwrap_or_default(),
            );
            case.repeats
                .push((file.to_string(), count, text.to_string()));
        } else if line.trim() == "# base: reference" {
            case.from_reference = true;
        } else if line.trim() == "# schema: flagged" {
            case.schema_flagged = true;
        }
    }
    case
}

fn run(project: &Path) -> (Vec<Diagnostic>, Duration) {
    let started = Instant::now();
    let report = validate_project(project).expect("the project folder loads");
    (report.diagnostics, started.elapsed())
}

/// Longer than any case takes on the slowest machine, debug build included.
const HANG: Duration = Duration::from_secs(60);

fn check(
    name: &str,
    diagnostics: &[Diagnostic],
    elapsed: Duration,
    expectations: &[Expectation],
) -> Vec<String> {
    let mut failures = Vec::new();
    // Not a speed check (the benches measure speed): a case that takes a
    // minute is a hang or a blow-up the loader's limits should have stopped.
    if elapsed > HANG {
        failures.push(format!("{name}: took {elapsed:?}, as if it hung"));
    }
    if expectations.is_empty() {
        failures.push(format!("{name}: no `# expect:` line"));
    }
    for d in diagnostics.iter().filter(|d| d.help.is_none()) {
        failures.push(format!("{name}: `{d}` does not say what would be right"));
    }
    for e in expectations {
        let found = diagnostics
            .iter()
            .any(|d| d.location() == e.location && d.to_string().contains(&e.fragment));
        if !found {
            let got: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
            failures.push(format!(
                "{name}: expected `{}: ...{}...`, got:\n    {}",
                e.location,
                e.fragment,
                got.join("\n    ")
            ));
        }
    }
    failures
}

#[test]
fn every_corpus_case_is_rejected_at_the_right_place() {
    let dir = super::support::repo_root().join("tests/corpus");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "case"))
        .collect();
    names.sort();
    assert!(names.len() >= 50, "corpus has only {} cases", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let case = parse_case(&std::fs::read_to_string(path).unwrap());
        let project = if case.from_reference {
            reference_copy()
        } else {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("specs")).unwrap();
            dir
        };
        for (file, content) in &case.files {
            let target = project.path().join(file);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::write(&target, content).unwrap();
        }
        for (file, count, line) in &case.repeats {
            let target = project.path().join(file);
            let mut text = std::fs::read_to_string(&target).unwrap_or_default();
            text.push_str(&format!("{line}\n").repeat(*count));
            std::fs::write(&target, text).unwrap();
        }
        for (link, target) in &case.symlinks {
            let link = project.path().join(link);
            std::fs::create_dir_all(link.parent().unwrap()).unwrap();
            std::os::unix::fs::symlink(target, &link).unwrap();
        }
        for fifo in &case.fifos {
            let fifo = project.path().join(fifo);
            std::fs::create_dir_all(fifo.parent().unwrap()).unwrap();
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", fifo.display());
        }
        let (diagnostics, elapsed) = run(project.path());
        failures.extend(check(&name, &diagnostics, elapsed, &case.expectations));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn expect_one(project: &Path, location: &str, fragment: &str) {
    let (diagnostics, elapsed) = run(project);
    let failures = check(
        location,
        &diagnostics,
        elapsed,
        &[Expectation {
            location: location.into(),
            fragment: fragment.into(),
        }],
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_wrong_param_value_is_reported_once_where_it_is_written() {
    let project = reference_copy();
    let dev = project.path().join("environments/dev.yaml");
    let text = std::fs::read_to_string(&dev).unwrap();
    let broken = text.replace("billing_mode: PAY_PER_REQUEST", "billing_mode: ON_DEMAND");
    assert_ne!(text, broken, "dev.yaml sets billing_mode");
    std::fs::write(&dev, broken).unwrap();
    let (diagnostics, _) = run(project.path());
    let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert_eq!(diagnostics.len(), 1, "{shown:#?}");
    assert!(
        shown[0].starts_with("environments/dev.yaml:")
            && shown[0].contains("ON_DEMAND")
            && shown[0].contains("help: did you mean `PAY_PER_REQUEST`?"),
        "{shown:#?}"
    );
}

#[test]
fn invalid_utf8_is_reported_at_the_byte() {
    let project = reference_copy();
    let file = project.path().join("specs/api/unit.yaml");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.splice(0..0, b"# caf\xe9\n".iter().copied());
    std::fs::write(&file, bytes).unwrap();
    expect_one(project.path(), "specs/api/unit.yaml:1:6", "not valid UTF-8");
}

#[test]
fn huge_file_is_refused_before_parsing() {
    let project = reference_copy();
    let mut text = std::fs::read_to_string(project.path().join("environments/dev.yaml")).unwrap();
    text.push_str(&"# padding padding padding padding padding padding padding\n".repeat(40_000));
    std::fs::write(project.path().join("environments/dev.yaml"), text).unwrap();
    expect_one(project.path(), "environments/dev.yaml:1:1", "more than the");
}

#[test]
fn deeply_nested_document_is_refused() {
    let project = reference_copy();
    let mut text =
        std::fs::read_to_string(project.path().join("specs/monitoring/unit.yaml")).unwrap();
    text.push_str(&format!("extra: {}{}\n", "[".repeat(200), "]".repeat(200)));
    std::fs::write(project.path().join("specs/monitoring/unit.yaml"), text).unwrap();
    let (diagnostics, _) = run(project.path());
    assert!(
        diagnostics
            .iter()
            .any(|d| d.message.contains("nesting deeper")),
        "{diagnostics:?}"
    );
}
