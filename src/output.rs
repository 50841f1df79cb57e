//! The one printer: human lines on a terminal, one JSON object per line for
//! pipelines. Commands hand it events; nothing else writes to stdout.

use crate::diag::Diagnostic;
use serde_json::{Value as Json, json};
use std::io::Write;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub struct Printer {
    format: Format,
    out: Box<dyn Write>,
    err: Box<dyn Write>,
}

impl Printer {
    pub fn new(format: Format, out: Box<dyn Write>, err: Box<dyn Write>) -> Self {
        Printer { format, out, err }
    }

    pub fn stdio(format: Format) -> Self {
        Printer::new(
            format,
            Box::new(std::io::stdout()),
            Box::new(std::io::stderr()),
        )
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Emits one event: `human` on a terminal, `event` as a JSON line otherwise.
    pub fn emit(&mut self, event: Json, human: impl FnOnce() -> String) {
        // A closed stdout (`| head`) is not worth a panic or an error message.
        let _ = match self.format {
            Format::Json => writeln!(self.out, "{event}"),
            Format::Human => {
                let text = human();
                if text.is_empty() {
                    Ok(())
                } else {
                    writeln!(self.out, "{text}")
                }
            }
        };
    }

    pub fn diagnostic(&mut self, d: &Diagnostic) {
        match self.format {
            Format::Json => {
                let event = json!({
                    "event": "diagnostic",
                    "severity": "error",
                    "file": d.file.as_ref(),
                    "line": d.span.line,
                    "column": d.span.col,
                    "message": d.message,
                    "help": d.help,
                });
                let _ = writeln!(self.out, "{event}");
            }
            Format::Human => {
                let _ = writeln!(self.err, "error: {d}");
            }
        }
    }

    /// A failure that ends the command, with its chain of causes.
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
                let _ = writeln!(self.out, "{event}");
            }
            Format::Human => {
                let _ = writeln!(self.err, "error: {error}");
                for cause in causes {
                    let _ = writeln!(self.err, "caused by: {cause}");
                }
            }
        }
    }

    pub fn flush(&mut self) {
        let _ = self.out.flush();
        let _ = self.err.flush();
    }
}
