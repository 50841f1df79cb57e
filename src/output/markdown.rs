//! The plan, the checks and the result in Markdown, for a step summary or
//! a pull-request comment.

use super::report::{Record, Records};
use std::fmt::Write as _;

/// A table cell: a `|` escaped, line breaks (CR, LF, the Unicode line and
/// paragraph separators) as spaces, so that the row stays one row.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace(['\r', '\n', '\u{2028}', '\u{2029}'], " ")
}

pub fn summary(records: &Records, command: &str) -> String {
    let mut out = format!("### driftless {}\n\n", records.title(command));
    stack_plans(records, &mut out);
    pipeline_plans(records, &mut out);
    checks(records, &mut out);
    let problems = records.problems();
    if !problems.is_empty() {
        out.push_str("Errors:\n\n");
        for p in &problems {
            let _ = writeln!(out, "- {}", cell(p));
        }
        out.push('\n');
    }
    if let Some(o) = records.outcome() {
        let _ = writeln!(
            out,
            "**Result: {}** (exit {}) in {:.2}s, {} API call(s), {} mutating",
            o.result, o.exit_code, o.seconds, o.api_calls, o.mutating
        );
    }
    out
}

fn stack_plans(records: &Records, out: &mut String) {
    let mut rows = records.0.iter().filter_map(|r| match r {
        Record::StackPlan {
            stack,
            action,
            reason,
        } => Some((stack, action, reason)),
        _ => None,
    });
    let Some(first) = rows.next() else {
        return;
    };
    out.push_str("| Stack | Action | Why |\n|---|---|---|\n");
    for (stack, action, reason) in std::iter::once(first).chain(rows) {
        let _ = writeln!(
            out,
            "| `{}` | {} | {} |",
            cell(stack),
            cell(action),
            cell(reason)
        );
    }
    out.push('\n');
}

fn pipeline_plans(records: &Records, out: &mut String) {
    for record in records.0 {
        let Record::PipelinePlan {
            pipeline,
            action,
            diff,
        } = record
        else {
            continue;
        };
        let _ = writeln!(out, "Pipeline `{}`: {action}\n", cell(pipeline));
        if !diff.is_empty() {
            out.push_str("```diff\n");
            for line in diff {
                let _ = writeln!(out, "{line}");
            }
            out.push_str("```\n\n");
        }
    }
}

fn checks(records: &Records, out: &mut String) {
    let phases = records.phases();
    if phases.is_empty() {
        return;
    }
    out.push_str(
        "| Check | Phase | Result | Request | Status | Latency |\n|---|---|---|---|---|---|\n",
    );
    for (phase, checks) in &phases {
        for c in checks {
            let result = match (c.passed, c.attempts) {
                (true, _) => "passed".to_string(),
                (false, 0) => format!("not run: {}", c.failure.as_deref().unwrap_or_default()),
                (false, _) => format!("**failed**: {}", c.failure.as_deref().unwrap_or_default()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} | {} |",
                cell(&c.name),
                cell(phase),
                cell(&result),
                cell(&c.target),
                c.status.map_or("-".into(), |s| s.to_string()),
                c.latency_ms.map_or("-".into(), |l| format!("{l} ms"))
            );
        }
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_cells_keep_their_table() {
        let records = vec![Record::StackPlan {
            stack: "s".into(),
            action: "update".into(),
            reason: "a | b".into(),
        }];
        assert!(summary(&Records(&records), "plan").contains("| `s` | update | a \\| b |"));
        let hostile = vec![Record::StackPlan {
            stack: "s".into(),
            action: "update".into(),
            reason: "one\r\ntwo\rthree | four\nfive".into(),
        }];
        let text = summary(&Records(&hostile), "plan");
        let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| `s`")).collect();
        assert_eq!(rows, ["| `s` | update | one  two three \\| four five |"]);
    }
}
