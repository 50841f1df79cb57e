//! Smoke checks as a table, and the release gate's verdict.

use crate::output::{Colour, Printer};
use crate::smoke::CheckResult;
use serde_json::json;

/// The results of one run of the checks, as a table.
pub fn table(p: &Printer, phase: &str, results: &[CheckResult], seconds: f64) -> String {
    let passed = results.iter().filter(|r| r.passed).count();
    let failed = results.len() - passed;
    let verdict = if failed == 0 {
        p.paint(&format!("{passed} passed"), Colour::Green)
    } else {
        p.paint(&format!("{passed} passed, {failed} failed"), Colour::Red)
    };
    let title = match phase {
        "rollback" => "smoke checks after the rollback",
        _ => "smoke checks",
    };
    let mut text = format!("{title}: {verdict} in {seconds:.2}s");
    let name_width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let target_width = results.iter().map(|r| r.target.len()).max().unwrap_or(0);
    for r in results {
        let (word, colour) = match (r.passed, r.attempts) {
            (true, _) => ("pass", Colour::Green),
            (false, 0) => ("skip", Colour::Yellow),
            (false, _) => ("FAIL", Colour::Red),
        };
        let status = r
            .status
            .map(|s| s.to_string())
            .unwrap_or_else(|| "-".into());
        let latency = r
            .latency_ms
            .map(|l| format!("{l} ms"))
            .unwrap_or_else(|| "-".into());
        let tries = if r.attempts > 1 {
            format!(" ({} attempts)", r.attempts)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "\n  {} {:<name_width$}  {:<target_width$}  {status:>3}  {latency:>7}{tries}",
            p.paint(word, colour),
            r.name,
            r.target,
        ));
        if let Some(failure) = &r.failure {
            text.push_str(&format!("\n       {}", p.paint(failure, colour)));
        }
    }
    text
}

/// The release gate's verdict, as a `gate` event.
pub fn verdict(p: &mut Printer, verdict: &crate::reconcile::Verdict) {
    use crate::reconcile::Verdict;
    let (name, reason) = match verdict {
        Verdict::Passed => ("passed", None),
        Verdict::RolledBack => (
            "rolled_back",
            Some("a smoke check failed; what the pass changed is back on the previous release, where the checks pass".to_string()),
        ),
        Verdict::Failed(reason) => ("failed", Some(reason.clone())),
    };
    let colour = match verdict {
        Verdict::Passed => Colour::Green,
        _ => Colour::Red,
    };
    let text = match &reason {
        Some(reason) => p.paint(&format!("release gate: {reason}"), colour),
        None => p.paint("release gate: smoke checks passed", colour),
    };
    p.emit(
        json!({ "event": "gate", "verdict": name, "reason": reason }),
        || text,
    );
}
