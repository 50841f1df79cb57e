//! The one printer: human lines on a terminal, one JSON object per line for
//! pipelines. Commands hand it events; nothing else writes to stdout.

use super::github::{At, annotation, inert};
use super::live::LiveView;
use super::report::Record;
use crate::diag::Diagnostic;
use serde_json::{Value as Json, json};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
    /// `plan` only: the waves as a Graphviz graph on stdout, messages for
    /// people on stderr.
    Dot,
    /// `plan` only: a Markdown summary on stdout at the end (for a
    /// pull-request comment), messages for people on stderr.
    Markdown,
}

pub struct Printer {
    format: Format,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    /// A terminal that gets the live progress view.
    live: bool,
    /// Colour, as anstream decides it (`NO_COLOR`, `CLICOLOR`,
    /// `CLICOLOR_FORCE`, a dumb or absent terminal).
    colour: bool,
    /// The stacks in flight, one line each, on a terminal.
    view: Option<LiveView>,
    /// What the reports written at the end (JUnit, Markdown) show, kept
    /// when asked for.
    records: Option<Vec<Record>>,
    /// Diagnostics and errors also as GitHub workflow annotations.
    annotate: bool,
    /// Human lines on stderr: stdout is for a report written at the end.
    human_on_stderr: bool,
    /// Human lines are log lines (timestamped, levelled), for the
    /// long-running commands.
    log_lines: bool,
    /// Whether the first JSON line, naming the events' schema, is out.
    json_started: bool,
}

/// The version of the JSON events' shape, named by the first event; it
/// changes when a field is renamed or removed, not when one is added.
pub const EVENTS_SCHEMA_VERSION: u32 = 1;

/// ANSI colours, used only on a terminal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    Green,
    Red,
    Yellow,
    Dim,
    Bold,
    Cyan,
    Magenta,
    Blue,
}

const COLOURS: [(Colour, &str, &str); 8] = [
    (Colour::Green, "green", "32"),
    (Colour::Red, "red", "31"),
    (Colour::Yellow, "yellow", "33"),
    (Colour::Dim, "dim", "2"),
    (Colour::Bold, "bold", "1"),
    (Colour::Cyan, "cyan", "36"),
    (Colour::Magenta, "magenta", "35"),
    (Colour::Blue, "blue", "34"),
];

impl Colour {
    fn entry(self) -> (Colour, &'static str, &'static str) {
        COLOURS
            .into_iter()
            .find(|(c, _, _)| *c == self)
            .unwrap_or(COLOURS[3])
    }

    pub fn name(self) -> &'static str {
        self.entry().1
    }

    /// The SGR code that paints it.
    pub fn code(self) -> &'static str {
        self.entry().2
    }

    pub fn from_name(name: &str) -> Option<Colour> {
        COLOURS
            .into_iter()
            .find(|(_, n, _)| *n == name)
            .map(|(c, _, _)| c)
    }
}

/// Colours that tell one source from another (functions in a log).
pub const SOURCE_COLOURS: [Colour; 5] = [
    Colour::Cyan,
    Colour::Magenta,
    Colour::Yellow,
    Colour::Blue,
    Colour::Green,
];

impl Printer {
    pub fn new(format: Format, out: Box<dyn Write>, err: Box<dyn Write>) -> Self {
        Printer {
            format,
            out,
            err,
            live: false,
            colour: false,
            view: None,
            records: None,
            annotate: false,
            human_on_stderr: format == Format::Markdown,
            log_lines: false,
            json_started: false,
        }
    }

    /// Human lines become `tracing` events at info level, printed by the
    /// subscriber as timestamped log lines; no status line is drawn.
    pub fn log_lines(&mut self) {
        self.log_lines = true;
        self.live = false;
        self.view = None;
    }

    /// Human lines go to stderr: stdout holds what [`Printer::raw`] writes.
    pub fn human_to_stderr(&mut self) {
        self.human_on_stderr = true;
    }

    /// Keeps the records reports are made of from now on, for
    /// [`Printer::records`].
    pub fn keep_records(&mut self) {
        self.records.get_or_insert_with(Vec::new);
    }

    /// Writes diagnostics and errors as GitHub workflow annotations too.
    pub fn annotate(&mut self) {
        self.annotate = true;
    }

    /// The records kept since [`Printer::keep_records`].
    pub fn records(&self) -> &[Record] {
        self.records.as_deref().unwrap_or_default()
    }

    /// Keeps `record` for the reports, when they are written.
    pub fn record(&mut self, record: impl FnOnce() -> Record) {
        if let Some(records) = &mut self.records {
            records.push(record());
        }
    }

    /// An error that ended the command, for reports and annotations (it is
    /// shown to people and JSON readers elsewhere).
    pub fn ended_with(&mut self, message: &str) {
        if self.annotate {
            let line = annotation("error", None, Some("driftless"), message);
            self.line(true, &line);
        }
        self.record(|| Record::Problem(message.to_string()));
    }

    /// Standard streams. The live progress view when stdout is a terminal
    /// that is not dumb and `--ci` is off; colour as anstream decides it
    /// for stdout (`NO_COLOR` turns colour off, not the view).
    pub fn stdio(format: Format, ci: bool) -> Self {
        use std::io::IsTerminal;
        let mut printer = Printer::new(
            format,
            // anstream decides colour (below); what is written is only
            // painted when it says so, so nothing needs stripping.
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        );
        let dumb = std::env::var("TERM").is_ok_and(|t| t == "dumb");
        printer.live = format == Format::Human && !ci && !dumb && std::io::stdout().is_terminal();
        printer.colour = format != Format::Json
            && !ci
            && anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never;
        printer.view = printer.live.then(|| LiveView::new(printer.colour));
        printer
    }

    /// Whether lines are painted (the log formatter asks too).
    pub fn is_coloured(&self) -> bool {
        self.colour
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    /// `text` in `colour` on a terminal, as is otherwise.
    pub fn paint(&self, text: &str, colour: Colour) -> String {
        if !self.colour {
            return text.to_string();
        }
        format!("\x1b[{}m{text}\x1b[0m", colour.code())
    }

    /// A stack's operation began: a line of its own in the live view.
    pub fn stack_started(&mut self, stack: &str, what: &str) {
        if let Some(view) = &mut self.view {
            view.start(stack, what);
        }
    }

    /// A stack's latest event, shown on its line of the live view; false
    /// when there is no view (the caller prints it).
    pub fn stack_progress(&mut self, stack: &str, text: &str) -> bool {
        self.view.as_mut().is_some_and(|v| v.event(stack, text))
    }

    /// A stack's operation ended: its line leaves the view.
    pub fn stack_ended(&mut self, stack: &str) {
        if let Some(view) = &mut self.view {
            view.end(stack);
        }
    }

    /// Writes a line to stdout or stderr with the live view lifted.
    fn line(&mut self, to_err: bool, text: &str) {
        let Printer { out, err, view, .. } = self;
        let stream: &mut Box<dyn Write> = if to_err { err } else { out };
        // A closed stdout (`| head`) is not worth a panic or an error message.
        let _ = match view {
            Some(view) => view.around(|| writeln!(stream, "{text}")),
            None => writeln!(stream, "{text}"),
        };
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Emits one event: `human` on a terminal, `event` as a JSON line otherwise.
    pub fn emit(&mut self, event: Json, human: impl FnOnce() -> String) {
        self.emit_as(event, None, human);
    }

    /// An event whose human line says how something ended: painted
    /// `colour` on a terminal; as a log line, its level says it (error for
    /// red, warn for yellow) and the log formatter paints it.
    pub fn emit_outcome(&mut self, event: Json, colour: Colour, human: impl FnOnce() -> String) {
        self.emit_as(event, Some(colour), human);
    }

    fn emit_as(&mut self, event: Json, colour: Option<Colour>, human: impl FnOnce() -> String) {
        match self.format {
            Format::Json => self.json_line(event),
            // stdout holds the graph alone: see [`Printer::raw`].
            Format::Dot => {}
            Format::Markdown | Format::Human => {
                let text = human();
                if text.is_empty() {
                    return;
                }
                if self.human_on_stderr {
                    // stdout holds the report alone; people read the rest on stderr.
                    self.line(true, &inert(&text));
                } else if self.log_lines {
                    // A line each, so that every line carries its stamp.
                    for line in text.lines() {
                        super::log::line(colour, line);
                    }
                } else {
                    let text = match colour {
                        Some(colour) => self.paint(&text, colour),
                        None => text,
                    };
                    self.line(false, &inert(&text));
                }
            }
        }
    }

    /// Writes one JSON event, stamped with the time; the first line of a
    /// command names the events' schema version and driftless's.
    fn json_line(&mut self, mut event: Json) {
        if event.is_null() {
            return;
        }
        let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
        if !self.json_started {
            self.json_started = true;
            let header = json!({
                "event": "version",
                "schema_version": EVENTS_SCHEMA_VERSION,
                "driftless": env!("CARGO_PKG_VERSION"),
                "time": now,
            });
            self.json_text(&header.to_string());
        }
        if let Json::Object(fields) = &mut event {
            fields.entry("time").or_insert(Json::String(now));
        }
        self.json_text(&event.to_string());
    }

    fn json_text(&mut self, line: &str) {
        self.line(self.human_on_stderr, line);
    }

    /// Text written to stdout as it is, whatever the format (a graph).
    pub fn raw(&mut self, text: &str) {
        let _ = write!(self.out, "{}", inert(text));
        let _ = self.out.flush();
    }

    /// A line for people only: JSON readers get the same facts from events.
    pub fn note(&mut self, text: impl FnOnce() -> String) {
        if self.format == Format::Human {
            self.emit(Json::Null, text);
        }
    }

    pub fn diagnostic(&mut self, d: &Diagnostic) {
        self.diagnostic_of("error", d);
    }

    /// A problem that does not stop the command.
    pub fn warning(&mut self, d: &Diagnostic) {
        self.diagnostic_of("warning", d);
    }

    fn diagnostic_of(&mut self, severity: &str, d: &Diagnostic) {
        let event = json!({
            "event": "diagnostic",
            "severity": severity,
            "file": d.file.as_ref(),
            "line": d.span.line,
            "column": d.span.col,
            "message": d.message,
            "help": d.help,
            "quoted": d.quoted,
        });
        if severity == "error" {
            self.record(|| {
                Record::Problem(format!(
                    "{}:{}:{}: {}",
                    d.file.as_ref(),
                    d.span.line,
                    d.span.col,
                    d.message
                ))
            });
        }
        if self.annotate {
            let message = match &d.help {
                Some(help) => format!("{}\nhelp: {help}", d.message),
                None => d.message.clone(),
            };
            let level = if severity == "error" {
                "error"
            } else {
                "warning"
            };
            let at = At {
                file: d.file.as_ref(),
                line: d.span.line,
                col: d.span.col,
            };
            let line = annotation(level, Some(at), None, &message);
            self.line(true, &line);
        }
        match self.format {
            Format::Json => self.json_line(event),
            Format::Human | Format::Dot | Format::Markdown => {
                self.line(true, &inert(&format!("{severity}: {d}")));
            }
        }
    }

    /// A failure that ends the command, with its chain of causes.
    /// An `error` event for a failure described by a message alone.
    pub fn failure(&mut self, message: &str) {
        match self.format {
            Format::Json => self.emit(json!({ "event": "error", "message": message }), String::new),
            Format::Human | Format::Dot | Format::Markdown => {
                let shown = crate::diag::quote_controls(message.to_string());
                self.to_stderr(&format!("error: {shown}"));
            }
        }
    }

    /// Text for people on stderr (errors), never mixed into stdout.
    pub fn to_stderr(&mut self, text: &str) {
        let _ = self.out.flush();
        self.line(true, &inert(text));
    }

    pub fn error(&mut self, error: &(dyn std::error::Error + 'static)) {
        let mut causes = Vec::new();
        let mut source = error.source();
        while let Some(cause) = source {
            causes.push(cause.to_string());
            source = cause.source();
        }
        match self.format {
            Format::Json => {
                let event =
                    json!({ "event": "error", "message": error.to_string(), "causes": causes });
                self.json_line(event);
            }
            Format::Human | Format::Dot | Format::Markdown => {
                // Causes quote what servers and files sent: no forged lines.
                let quoted = crate::diag::quote_controls;
                let shown = inert(&quoted(error.to_string())).into_owned();
                self.line(true, &format!("error: {shown}"));
                for cause in causes {
                    self.line(true, &format!("caused by: {}", inert(&quoted(cause))));
                }
            }
        }
    }

    pub fn flush(&mut self) {
        if let Some(view) = &mut self.view {
            view.clear();
        }
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}

impl Drop for Printer {
    fn drop(&mut self) {
        // No spinner outlives the command.
        if let Some(view) = &mut self.view {
            view.clear();
        }
    }
}
