//! The reports a command writes when it ends (JUnit XML with `--junit`, a
//! Markdown summary for `$GITHUB_STEP_SUMMARY` or `plan --output
//! markdown`), made from the typed [`Record`]s the printer kept.

use super::Printer;
use crate::smoke::CheckResult;
use std::path::PathBuf;

/// One fact a report shows, kept by the printer as the command reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    /// What the command is about: an environment or a pipeline.
    Subject(String),
    StackPlan {
        stack: String,
        action: String,
        reason: String,
    },
    PipelinePlan {
        pipeline: String,
        action: String,
        diff: Vec<String>,
    },
    Check {
        phase: String,
        result: CheckResult,
    },
    StackFailed {
        stack: String,
        reason: String,
    },
    /// An error: a diagnostic (`file:line:column: message`) or what ended
    /// the command.
    Problem(String),
    /// How the command ended.
    Ended(Outcome),
}

/// How a command ended, as its summary says.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// `ok` or `failed`; empty for a command that reached no target.
    pub result: String,
    pub exit_code: u8,
    pub seconds: f64,
    /// API calls made, and how many of them changed something.
    pub api_calls: u64,
    pub mutating: u64,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        self.result == "failed"
    }
}

/// The records of one command, with lookups the reports share.
pub struct Records<'a>(pub &'a [Record]);

impl<'a> Records<'a> {
    /// What the command was about: `deploy dev`.
    pub fn title(&self, command: &str) -> String {
        let subject = self.0.iter().find_map(|r| match r {
            Record::Subject(s) => Some(s.as_str()),
            _ => None,
        });
        format!("{command} {}", subject.unwrap_or_default())
            .trim()
            .to_string()
    }

    pub fn outcome(&self) -> Option<&'a Outcome> {
        self.0.iter().rev().find_map(|r| match r {
            Record::Ended(o) => Some(o),
            _ => None,
        })
    }

    /// The checks, grouped by phase in the order the phases ran.
    pub fn phases(&self) -> Vec<(&'a str, Vec<&'a CheckResult>)> {
        let mut phases: Vec<(&str, Vec<&CheckResult>)> = Vec::new();
        for record in self.0 {
            if let Record::Check { phase, result } = record {
                match phases.iter_mut().find(|(p, _)| p == phase) {
                    Some((_, list)) => list.push(result),
                    None => phases.push((phase, vec![result])),
                }
            }
        }
        phases
    }

    /// The errors reported: diagnostics, the ending error, failed stacks.
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .0
            .iter()
            .filter_map(|r| match r {
                Record::Problem(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        out.extend(self.0.iter().filter_map(|r| match r {
            Record::StackFailed { stack, reason } => Some(format!("{stack}: {reason}")),
            _ => None,
        }));
        out
    }
}

/// Which reports to write, as `main` read them from the command line and
/// the environment.
#[derive(Clone, Debug, Default)]
pub struct ReportSettings {
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `$GITHUB_STEP_SUMMARY`, for a command that summarises there.
    pub step_summary: Option<PathBuf>,
    /// Diagnostics and errors as workflow annotations too.
    pub annotate: bool,
    /// The Markdown summary on stdout (`--output markdown`).
    pub markdown: bool,
}

/// The reports a command writes when it ends.
pub struct Reports {
    settings: ReportSettings,
}

impl Reports {
    pub fn new(settings: ReportSettings) -> Reports {
        Reports { settings }
    }

    pub fn prepare(&self, printer: &mut Printer) {
        let s = &self.settings;
        if s.junit.is_some() || s.step_summary.is_some() || s.markdown {
            printer.keep_records();
        }
        if s.annotate {
            printer.annotate();
        }
    }

    /// Writes the reports; a report that cannot be written fails the
    /// command (exit 1), saying so.
    pub fn write(&self, printer: &mut Printer, command: &str, code: u8) -> u8 {
        let mut code = code;
        let records = printer.records().to_vec();
        let records = Records(&records);
        if let Some(file) = &self.settings.junit
            && let Err(e) = super::junit::write(&records, command, file)
        {
            printer.failure(&format!(
                "cannot write the JUnit report {}: {e}",
                file.display()
            ));
            code = crate::exit::FAILURE;
        }
        if let Some(file) = &self.settings.step_summary {
            use std::io::Write;
            let text = super::markdown::summary(&records, command);
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
        if self.settings.markdown {
            printer.raw(&super::markdown::summary(&records, command));
        }
        printer.flush();
        code
    }
}
