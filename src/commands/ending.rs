//! How a command ends: a [`Summary`] when it did its job, a
//! [`CommandError`] (carrying the summary of what was done before it, when
//! anything was) otherwise. Commands return one of them; [`finish`] alone
//! prints the error and the summary and picks the exit code.

use crate::cloud::CallSummary;
use crate::diag::Diagnostic;
use crate::exit;
use crate::load::Failure;
use crate::output::{Format, Outcome, Printer, Record};
use crate::plan::guard::Hazard;
use crate::reconcile::{Event, Stop};
use serde_json::{Map, Value as Json, json};
use std::time::Instant;

pub type CommandResult = Result<Summary, CommandError>;

/// The `summary` event that ends every command, and its human line.
#[derive(Debug, Clone)]
pub struct Summary {
    fields: Map<String, Json>,
    human: String,
    /// `OK`, or `CHANGES` for a plan with changes.
    code: u8,
    /// What the reports show of it.
    outcome: Outcome,
}

impl Summary {
    /// `fields` is a JSON object: the counts for the command.
    pub fn new(fields: Json, human: impl Into<String>) -> Self {
        let fields = match fields {
            Json::Object(map) => map,
            other => Map::from_iter([("value".to_string(), other)]),
        };
        Summary {
            fields,
            human: human.into(),
            code: exit::OK,
            outcome: Outcome {
                result: String::new(),
                exit_code: exit::OK,
                seconds: 0.0,
                api_calls: 0,
                mutating: 0,
            },
        }
    }

    /// The summary of a command that reached a target.
    pub fn cloud(
        command: &str,
        ok: bool,
        counts: Json,
        started: Instant,
        calls: &CallSummary,
        human: &str,
    ) -> Self {
        let duration_ms = started.elapsed().as_millis() as u64;
        let mut summary = Summary::new(
            json!({
                "command": command,
                "result": if ok { "ok" } else { "failed" },
                "stacks": counts,
                "duration_ms": duration_ms,
                "api_calls": calls,
            }),
            format!(
                "{human} in {:.2}s, {} API call(s), {} mutating",
                duration_ms as f64 / 1000.0,
                calls.total,
                calls.mutating
            ),
        );
        summary.outcome = Outcome {
            result: if ok { "ok" } else { "failed" }.to_string(),
            exit_code: exit::OK,
            seconds: duration_ms as f64 / 1000.0,
            api_calls: calls.total,
            mutating: calls.mutating,
        };
        summary
    }

    /// A successful ending with another code than `OK` (`plan`'s `CHANGES`).
    pub fn with_code(mut self, code: u8) -> Self {
        self.code = code;
        self
    }

    fn emit(mut self, printer: &mut Printer, code: u8, failed: bool) {
        self.fields.insert("exit_code".into(), json!(code));
        let mut outcome = self.outcome;
        outcome.exit_code = code;
        if failed {
            outcome.result = "failed".to_string();
        }
        printer.record(|| Record::Ended(outcome));
        let mut event = Map::from_iter([("event".to_string(), json!("summary"))]);
        event.extend(self.fields);
        let human = self.human;
        printer.emit(Json::Object(event), || human);
    }
}

/// What a failure is, as its exit code says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A file, the target, a stack, a missing approval.
    Failure,
    /// The specs or the environment are invalid (or an input is missing).
    Invalid,
    /// The change is refused: data loss, the wrong account, or what the
    /// environment's policy does not allow (`protect`).
    Refused,
    Locked,
    SmokeRolledBack,
    SmokeFailed,
    Usage,
    Interrupted,
    /// Drift remains that could not be healed.
    Drifted,
}

impl ErrorKind {
    pub fn code(self) -> u8 {
        match self {
            ErrorKind::Failure => exit::FAILURE,
            ErrorKind::Invalid => exit::INVALID,
            ErrorKind::Refused => exit::REFUSED,
            ErrorKind::Locked => exit::LOCKED,
            ErrorKind::SmokeRolledBack => exit::SMOKE_ROLLED_BACK,
            ErrorKind::SmokeFailed => exit::SMOKE_FAILED,
            ErrorKind::Usage => exit::USAGE,
            ErrorKind::Interrupted => exit::INTERRUPTED,
            ErrorKind::Drifted => exit::DRIFTED,
        }
    }

    /// The kind for an exit code a pass ended with.
    pub fn of_code(code: u8) -> ErrorKind {
        match code {
            exit::INVALID => ErrorKind::Invalid,
            exit::REFUSED => ErrorKind::Refused,
            exit::LOCKED => ErrorKind::Locked,
            exit::SMOKE_ROLLED_BACK => ErrorKind::SmokeRolledBack,
            exit::SMOKE_FAILED => ErrorKind::SmokeFailed,
            exit::USAGE => ErrorKind::Usage,
            exit::INTERRUPTED => ErrorKind::Interrupted,
            exit::DRIFTED => ErrorKind::Drifted,
            _ => ErrorKind::Failure,
        }
    }
}

/// Why a command failed (boxed: results stay small on the happy path).
#[derive(Debug)]
pub struct CommandError(Box<Details>);

impl std::ops::Deref for CommandError {
    type Target = Details;
    fn deref(&self) -> &Details {
        &self.0
    }
}

impl std::ops::DerefMut for CommandError {
    fn deref_mut(&mut self) -> &mut Details {
        &mut self.0
    }
}

/// What a [`CommandError`] holds.
#[derive(Debug)]
pub struct Details {
    pub kind: ErrorKind,
    /// None when the events already said it (a gate's verdict).
    pub message: Option<String>,
    pub help: Option<String>,
    pub causes: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
    /// Refused changes, each shown as a `refused` event.
    pub hazards: Vec<Hazard>,
    pub summary: Option<Summary>,
}

impl CommandError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        CommandError(Box::new(Details {
            kind,
            message: Some(message.into()),
            help: None,
            causes: Vec::new(),
            diagnostics: Vec::new(),
            hazards: Vec::new(),
            summary: None,
        }))
    }

    /// A failure the command's events already explained.
    pub fn reported(kind: ErrorKind) -> Self {
        let mut error = CommandError::new(kind, "");
        error.message = None;
        error
    }

    /// An error with its chain of causes.
    pub fn from_error(kind: ErrorKind, error: &(dyn std::error::Error + 'static)) -> Self {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        let mut e = CommandError::new(kind, error.to_string());
        e.causes = causes;
        e
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_summary(mut self, summary: Summary) -> Self {
        self.summary = Some(summary);
        self
    }

    pub fn code(&self) -> u8 {
        self.kind.code()
    }
}

impl From<Failure> for CommandError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Invalid(diagnostics) => {
                let mut e = CommandError::reported(ErrorKind::Invalid);
                e.diagnostics = diagnostics;
                e
            }
            Failure::Load(e) => CommandError::from_error(ErrorKind::Failure, &e),
        }
    }
}

impl From<Stop> for CommandError {
    fn from(stop: Stop) -> Self {
        let explained = stop.explain();
        let mut e = CommandError::new(ErrorKind::of_code(explained.code), explained.message);
        e.hazards = explained.hazards;
        e
    }
}

/// The one exit site's work: the error (to stderr for people), then the
/// summary, always last; returns the exit code.
pub fn finish(printer: &mut Printer, command: &str, result: CommandResult) -> u8 {
    let (summary, code, failed) = match result {
        Ok(summary) => {
            let code = summary.code;
            (summary, code, false)
        }
        Err(error) => {
            let code = error.code();
            let summary = show_error(printer, command, error);
            (summary, code, true)
        }
    };
    summary.emit(printer, code, failed);
    printer.flush();
    code
}

fn show_error(printer: &mut Printer, command: &str, error: CommandError) -> Summary {
    let error = *error.0;
    for d in &error.diagnostics {
        printer.diagnostic(d);
    }
    for hazard in &error.hazards {
        crate::output::show::show(printer, &Event::Refused(hazard.clone()));
    }
    if let Some(message) = &error.message {
        printer.ended_with(message);
        match printer.format() {
            Format::Json => printer.emit(
                json!({ "event": "error", "message": message, "help": error.help, "causes": error.causes }),
                String::new,
            ),
            Format::Human | Format::Dot | Format::Markdown => {
                let mut text = format!("error: {message}");
                for cause in &error.causes {
                    text.push_str(&format!("\ncaused by: {cause}"));
                }
                if let Some(help) = &error.help {
                    text.push_str(&format!("\nhelp: {help}"));
                }
                printer.to_stderr(&text);
            }
        }
    }
    error.summary.unwrap_or_else(|| {
        if error.kind == ErrorKind::Invalid && !error.diagnostics.is_empty() {
            let count = error.diagnostics.len();
            return Summary::new(
                json!({ "command": command, "result": "failed", "valid": false, "errors": count }),
                format!("{count} error(s); nothing was rendered or deployed"),
            );
        }
        Summary::new(
            json!({ "command": command, "result": "failed" }),
            format!("{command} failed"),
        )
    })
}
