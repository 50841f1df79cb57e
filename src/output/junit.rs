//! The smoke checks and the pass as JUnit XML (`--junit FILE`), through
//! `quick-junit`: a suite per phase of checks (`release`, and `rollback`
//! when the release was rolled back) with a case per check, then a suite
//! for the command itself, failed when it failed. A check that never ran
//! is skipped, not failed.

use super::report::Records;
use crate::smoke::CheckResult;
use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Writes the report to `file`, making its folder first (a CI job's
/// report folder does not exist in a fresh checkout).
pub fn write(records: &Records, command: &str, file: &Path) -> std::io::Result<()> {
    let xml = render(records, command, SystemTime::now()).map_err(std::io::Error::other)?;
    if let Some(folder) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)?;
    }
    std::fs::write(file, xml)
}

/// The report as XML; `now` is when the command ended.
pub fn render(
    records: &Records,
    command: &str,
    now: SystemTime,
) -> Result<String, quick_junit::SerializeError> {
    let name = records.title(command);
    let outcome = records.outcome();
    let took = Duration::from_secs_f64(outcome.map_or(0.0, |o| o.seconds.max(0.0)));
    let started = chrono::DateTime::<chrono::Utc>::from(now.checked_sub(took).unwrap_or(now));
    let name = xml_text(&name);
    let mut report = Report::new(name.as_str());
    report.set_timestamp(started).set_time(took);
    for (phase, checks) in records.phases() {
        let mut suite = TestSuite::new(xml_text(&format!("smoke checks ({phase})")));
        suite.set_timestamp(started);
        let mut time = Duration::ZERO;
        for check in checks {
            let case = check_case(phase, check);
            time += case.time.unwrap_or_default();
            suite.add_test_case(case);
        }
        suite.set_time(time);
        report.add_test_suite(suite);
    }
    let mut status = TestCaseStatus::success();
    if outcome.is_some_and(|o| o.failed()) {
        let problems = records.problems();
        status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status.set_message(xml_text(
            &problems
                .first()
                .cloned()
                .unwrap_or_else(|| format!("{name} failed")),
        ));
        status.set_description(xml_text(&problems.join("\n")));
    }
    let mut case = TestCase::new(name.as_str(), status);
    case.set_classname("driftless")
        .set_timestamp(started)
        .set_time(took);
    let mut suite = TestSuite::new(name.as_str());
    suite.set_timestamp(started).set_time(took);
    suite.add_test_case(case);
    report.add_test_suite(suite);
    report.to_string()
}

/// `text` with every character XML 1.0 cannot hold (control characters
/// but tab and line breaks, U+FFFE, U+FFFF) written as `\u{..}`, so that
/// the file stays well-formed and the character stays visible.
fn xml_text(text: &str) -> String {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}')
            || c >= '\u{10000}'
    };
    if text.chars().all(allowed) {
        return text.to_string();
    }
    text.chars()
        .map(|c| match allowed(c) {
            true => c.to_string(),
            false => format!("\\u{{{:x}}}", c as u32),
        })
        .collect()
}

fn check_case(phase: &str, check: &CheckResult) -> TestCase {
    let failure = xml_text(check.failure.as_deref().unwrap_or("did not pass"));
    let failure = failure.as_str();
    let status = match (check.passed, check.attempts) {
        (true, _) => TestCaseStatus::success(),
        (false, 0) => {
            let mut s = TestCaseStatus::skipped();
            s.set_message(failure);
            s
        }
        (false, _) => {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(failure)
                .set_description(xml_text(&format!("{} -> {failure}", check.target)));
            s
        }
    };
    let mut case = TestCase::new(xml_text(&check.name), status);
    case.set_classname(xml_text(&format!("smoke.{phase}")))
        .set_time(Duration::from_millis(check.latency_ms.unwrap_or(0)));
    case
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::report::{Outcome, Record};

    fn check(name: &str, passed: bool, attempts: u32, failure: Option<&str>) -> Record {
        Record::Check {
            phase: "release".into(),
            result: CheckResult {
                name: name.into(),
                target: "GET /x".into(),
                passed,
                attempts,
                status: None,
                latency_ms: Some(12),
                failure: failure.map(str::to_string),
            },
        }
    }

    #[test]
    fn characters_xml_cannot_hold_are_written_visibly() {
        assert_eq!(
            xml_text("a\u{1}b\u{ffff}c\u{1b}"),
            "a\\u{1}b\\u{ffff}c\\u{1b}"
        );
        assert_eq!(xml_text("tab\tok é 😀"), "tab\tok é 😀");
    }

    #[test]
    fn a_check_that_did_not_run_is_skipped_and_a_failed_one_fails() {
        let records = vec![
            Record::Subject("dev".into()),
            check("ran", false, 1, Some("status 500")),
            check("never", false, 0, Some("not run: `ran` failed")),
            check("fine", true, 1, None),
            Record::Ended(Outcome {
                result: "failed".into(),
                exit_code: 7,
                seconds: 2.5,
                api_calls: 3,
                mutating: 1,
            }),
        ];
        let xml = render(&Records(&records), "deploy", SystemTime::UNIX_EPOCH).unwrap();
        assert!(xml.contains("tests=\"4\""), "{xml}");
        assert!(xml.contains("failures=\"2\""), "{xml}");
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(
            xml.contains("<skipped message=\"not run: `ran` failed\"/>"),
            "{xml}"
        );
        assert!(xml.contains("name=\"deploy dev\""), "{xml}");
        assert!(xml.contains("timestamp=\"1969-12-31T23:59:57.500"), "{xml}");
        assert!(xml.contains("time=\"2.500\""), "{xml}");
    }
}
