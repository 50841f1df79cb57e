//! driftless as a step in any CI, from the events a command emitted: the
//! smoke checks and the pass as JUnit XML (`--junit FILE`), a Markdown
//! summary (`$GITHUB_STEP_SUMMARY` under GitHub Actions, `plan --output
//! markdown`), and GitHub workflow annotations for diagnostics and errors.

use serde_json::Value as Json;
use std::fmt::Write as _;

/// Under GitHub Actions (`GITHUB_ACTIONS=true`).
pub fn github_actions() -> bool {
    std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true")
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A workflow command: `::error file=F,line=L,col=C::message`.
pub fn annotation(
    level: &str,
    file: Option<&str>,
    line: u32,
    col: u32,
    title: Option<&str>,
    message: &str,
) -> String {
    let mut properties = Vec::new();
    if let Some(file) = file {
        properties.push(format!("file={}", escape_property(file)));
        properties.push(format!("line={line}"));
        properties.push(format!("col={col}"));
    }
    if let Some(title) = title {
        properties.push(format!("title={}", escape_property(title)));
    }
    let properties = if properties.is_empty() {
        String::new()
    } else {
        format!(" {}", properties.join(","))
    };
    format!("::{level}{properties}::{}", escape_data(message))
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

fn of<'a>(events: &'a [Json], kind: &str) -> impl Iterator<Item = &'a Json> {
    events.iter().filter(move |e| e["event"] == kind)
}

fn text<'a>(event: &'a Json, key: &str) -> &'a str {
    event[key].as_str().unwrap_or_default()
}

/// What the command was about: `deploy dev`.
fn title(events: &[Json], command: &str) -> String {
    let start = of(events, "start").next();
    let subject = start
        .and_then(|s| s["environment"].as_str().or(s["pipeline"].as_str()))
        .unwrap_or_default();
    format!("{command} {subject}").trim().to_string()
}

/// Errors the command reported: its error events and diagnostics.
fn errors(events: &[Json]) -> Vec<String> {
    let mut out: Vec<String> = of(events, "diagnostic")
        .filter(|d| d["severity"] == "error")
        .map(|d| {
            format!(
                "{}:{}:{}: {}",
                text(d, "file"),
                d["line"],
                d["column"],
                text(d, "message")
            )
        })
        .collect();
    out.extend(of(events, "error").map(|e| text(e, "message").to_string()));
    out.extend(
        of(events, "stack_end")
            .filter(|e| e["result"] == "failed")
            .map(|e| format!("{}: {}", text(e, "stack"), text(e, "reason"))),
    );
    out
}

/// The smoke checks and the pass as JUnit XML: a suite per phase of checks
/// (`release`, and `rollback` when the release was rolled back), a test
/// case per check, and a suite for the command itself, failed when it
/// failed.
pub fn junit(events: &[Json], command: &str) -> String {
    let name = title(events, command);
    let summary = of(events, "summary").last();
    let failed = summary.is_some_and(|s| s["result"] == "failed");
    let seconds = summary
        .and_then(|s| s["duration_ms"].as_f64())
        .unwrap_or(0.0)
        / 1000.0;
    let mut phases: Vec<(String, Vec<&Json>)> = Vec::new();
    for check in of(events, "smoke_check") {
        let phase = text(check, "phase").to_string();
        match phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, list)) => list.push(check),
            None => phases.push((phase, vec![check])),
        }
    }
    let mut suites = String::new();
    let (mut tests, mut failures) = (1, usize::from(failed));
    for (phase, checks) in &phases {
        let failing = checks.iter().filter(|c| c["passed"] != true).count();
        tests += checks.len();
        failures += failing;
        let _ = writeln!(
            suites,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failing}\">",
            xml(&format!("smoke checks ({phase})")),
            checks.len()
        );
        for check in checks {
            let time = check["latency_ms"].as_f64().unwrap_or(0.0) / 1000.0;
            let _ = write!(
                suites,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\"",
                xml(&format!("smoke.{phase}")),
                xml(text(check, "name"))
            );
            if check["passed"] == true {
                suites.push_str("/>\n");
                continue;
            }
            let failure = check["failure"].as_str().unwrap_or("did not pass");
            let _ = writeln!(
                suites,
                ">\n      <failure message=\"{}\">{} -> {}</failure>\n    </testcase>",
                xml(failure),
                xml(text(check, "target")),
                xml(failure)
            );
        }
        suites.push_str("  </testsuite>\n");
    }
    let _ = writeln!(
        suites,
        "  <testsuite name=\"{}\" tests=\"1\" failures=\"{}\" time=\"{seconds:.3}\">",
        xml(&name),
        usize::from(failed)
    );
    let _ = write!(
        suites,
        "    <testcase classname=\"driftless\" name=\"{}\" time=\"{seconds:.3}\"",
        xml(&name)
    );
    if failed {
        let messages = errors(events);
        let first = messages
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{name} failed"));
        let _ = writeln!(
            suites,
            ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
            xml(&first),
            xml(&messages.join("\n"))
        );
    } else {
        suites.push_str("/>\n");
    }
    suites.push_str("  </testsuite>\n");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" time=\"{seconds:.3}\">\n{suites}</testsuites>\n",
        xml(&name)
    )
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The plan, the checks and the result in Markdown, for a step summary or
/// a pull-request comment.
pub fn markdown(events: &[Json], command: &str) -> String {
    let mut out = format!("### driftless {}\n\n", title(events, command));
    let plans: Vec<&Json> = of(events, "stack_plan").collect();
    if !plans.is_empty() {
        out.push_str("| Stack | Action | Why |\n|---|---|---|\n");
        for p in &plans {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} |",
                cell(text(p, "stack")),
                cell(text(p, "action")),
                cell(text(p, "reason"))
            );
        }
        out.push('\n');
    }
    for p in of(events, "pipeline_plan") {
        let _ = writeln!(
            out,
            "Pipeline `{}`: {}\n",
            cell(text(p, "pipeline")),
            text(p, "action")
        );
        if let Some(lines) = p["diff"].as_array().filter(|l| !l.is_empty()) {
            out.push_str("```diff\n");
            for line in lines {
                let _ = writeln!(out, "{}", line.as_str().unwrap_or_default());
            }
            out.push_str("```\n\n");
        }
    }
    let checks: Vec<&Json> = of(events, "smoke_check").collect();
    if !checks.is_empty() {
        out.push_str(
            "| Check | Phase | Result | Request | Status | Latency |\n|---|---|---|---|---|---|\n",
        );
        for c in &checks {
            let result = if c["passed"] == true {
                "passed".to_string()
            } else {
                format!("**failed**: {}", c["failure"].as_str().unwrap_or_default())
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} | {} |",
                cell(text(c, "name")),
                cell(text(c, "phase")),
                cell(&result),
                cell(text(c, "target")),
                c["status"].as_u64().map_or("-".into(), |s| s.to_string()),
                c["latency_ms"]
                    .as_u64()
                    .map_or("-".into(), |l| format!("{l} ms"))
            );
        }
        out.push('\n');
    }
    let problems = errors(events);
    if !problems.is_empty() {
        out.push_str("Errors:\n\n");
        for p in &problems {
            let _ = writeln!(out, "- {}", cell(p));
        }
        out.push('\n');
    }
    if let Some(s) = of(events, "summary").last() {
        let _ = writeln!(
            out,
            "**Result: {}** (exit {}) in {:.2}s, {} API call(s), {} mutating",
            text(s, "result"),
            s["exit_code"],
            s["duration_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            s["api_calls"]["total"].as_u64().unwrap_or(0),
            s["api_calls"]["mutating"].as_u64().unwrap_or(0)
        );
    }
    out
}

/// The reports a command writes when it ends.
pub struct Reports {
    junit: Option<std::path::PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, under GitHub Actions.
    step_summary: Option<std::path::PathBuf>,
    annotate: bool,
    markdown: bool,
}

impl Reports {
    pub fn of(cli: &crate::cli::Cli) -> Reports {
        use crate::cli::Command;
        let junit = match &cli.command {
            Command::Deploy(a) => a.junit.clone(),
            Command::Smoke(a) => a.junit.clone(),
            _ => None,
        };
        let github = github_actions();
        // Commands that deploy, plan or check say what they did there.
        let summarised = matches!(
            cli.command,
            Command::Deploy(_) | Command::Plan(_) | Command::Smoke(_) | Command::Pipeline(_)
        );
        Reports {
            junit,
            step_summary: std::env::var_os("GITHUB_STEP_SUMMARY")
                .filter(|v| github && summarised && !v.is_empty())
                .map(std::path::PathBuf::from),
            annotate: github,
            markdown: cli.output == crate::output::Format::Markdown,
        }
    }

    pub fn prepare(&self, printer: &mut crate::output::Printer) {
        if self.junit.is_some() || self.step_summary.is_some() || self.markdown {
            printer.record_events();
        }
        if self.annotate {
            printer.annotate();
        }
    }

    /// Writes the reports; a report that cannot be written fails the
    /// command (exit 1), saying so.
    pub fn write(&self, printer: &mut crate::output::Printer, command: &str, code: u8) -> u8 {
        let mut code = code;
        let events = printer.recorded().to_vec();
        if let Some(file) = &self.junit
            && let Err(e) = std::fs::write(file, junit(&events, command))
        {
            printer.failure(&format!(
                "cannot write the JUnit report {}: {e}",
                file.display()
            ));
            code = crate::exit::FAILURE;
        }
        if let Some(file) = &self.step_summary {
            use std::io::Write;
            let text = markdown(&events, command);
            let appended = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(file)
                .and_then(|mut f| writeln!(f, "{text}"));
            if let Err(e) = appended {
                printer.failure(&format!(
                    "cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                    file.display()
                ));
                code = crate::exit::FAILURE;
            }
        }
        if self.markdown {
            printer.raw(&markdown(&events, command));
        }
        printer.flush();
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_escape_what_would_end_them() {
        assert_eq!(
            annotation(
                "error",
                Some("environments/dev,x.yaml"),
                3,
                7,
                None,
                "bad: 100%\nsecond"
            ),
            "::error file=environments/dev%2Cx.yaml,line=3,col=7::bad: 100%25%0Asecond"
        );
        assert_eq!(
            annotation("error", None, 0, 0, Some("smoke: a"), "m"),
            "::error title=smoke%3A a::m"
        );
    }

    #[test]
    fn xml_text_is_escaped_and_holds_no_control_characters() {
        assert_eq!(
            xml("<a & \"b\">\u{1b}"),
            "&lt;a &amp; &quot;b&quot;&gt;\\u{1b}"
        );
    }

    #[test]
    fn markdown_cells_keep_their_table() {
        let events = vec![
            json!({ "event": "stack_plan", "stack": "s", "action": "update", "reason": "a | b" }),
        ];
        assert!(markdown(&events, "plan").contains("| `s` | update | a \\| b |"));
    }
}
