//! Logs through `tracing`: the long-running commands (`reconcile`,
//! `watch`) print their human lines as timestamped, levelled log lines on
//! stdout; every command's warnings and the AWS SDK's own diagnostics
//! (retries, request ids, at debug level) go to stderr. `-v` shows debug
//! (the SDK's included), `-vv` trace; `-q` only warnings and errors.

use super::Colour;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Where the log goes and how much of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogSettings {
    /// `-v` counted, minus one for `-q`.
    pub verbosity: i8,
    /// The command's human lines are log lines (on stdout).
    pub lines_on_stdout: bool,
}

/// The filter for `settings`: driftless's own lines at info for a
/// long-running command (warn otherwise), the SDK's at warn, both lower
/// with each `-v`.
pub fn filter(settings: LogSettings) -> Targets {
    let own = match (settings.verbosity, settings.lines_on_stdout) {
        (v, _) if v >= 2 => LevelFilter::TRACE,
        (1, _) => LevelFilter::DEBUG,
        (0, true) => LevelFilter::INFO,
        (0, false) | (-1, true) => LevelFilter::WARN,
        _ => LevelFilter::ERROR,
    };
    // The SDK's warnings (a credential source that found nothing) repeat
    // what driftless's own error says: only asked for, with -v.
    let sdk = match settings.verbosity {
        v if v >= 2 => LevelFilter::TRACE,
        1 => LevelFilter::DEBUG,
        _ => LevelFilter::OFF,
    };
    Targets::new()
        .with_target("driftless", own)
        .with_target("aws_smithy_runtime", sdk)
        .with_target("aws_smithy_runtime_api", sdk)
        .with_target("aws_config", sdk)
        .with_default(match settings.verbosity {
            v if v >= 1 => LevelFilter::WARN,
            _ => LevelFilter::OFF,
        })
}

/// Installs the subscriber once for the process.
pub fn init(settings: LogSettings) {
    let layer = |ansi: bool| Stamped {
        ansi,
        target: settings.verbosity > 0,
    };
    let registry = tracing_subscriber::registry().with(filter(settings));
    // Colour as anstream decides it for the stream the lines go to.
    let coloured = |choice| choice != anstream::ColorChoice::Never;
    // A second init (tests in one process) keeps the first.
    let _ = if settings.lines_on_stdout {
        let ansi = coloured(anstream::AutoStream::choice(&std::io::stdout()));
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(layer(ansi))
                    .with_writer(std::io::stdout),
            )
            .try_init()
    } else {
        let ansi = coloured(anstream::AutoStream::choice(&std::io::stderr()));
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(layer(ansi))
                    .with_writer(std::io::stderr),
            )
            .try_init()
    };
}

/// One human line as a log line; `colour` says how what it tells ended,
/// by its level and, on a colour terminal, its paint.
pub fn line(colour: Option<Colour>, text: &str) {
    match colour {
        Some(Colour::Red) => tracing::error!(target: "driftless", outcome = "red", "{text}"),
        Some(Colour::Yellow) => tracing::warn!(target: "driftless", outcome = "yellow", "{text}"),
        Some(colour) => tracing::info!(target: "driftless", outcome = colour.name(), "{text}"),
        None => tracing::info!(target: "driftless", "{text}"),
    }
}

/// `TIME LEVEL [target: ]message [field=value ...]`, the level coloured
/// and the message painted by its `outcome`, on a colour terminal; control
/// characters in the message quoted, never sent to the terminal.
struct Stamped {
    ansi: bool,
    target: bool,
}

#[derive(Default)]
struct Fields {
    message: String,
    outcome: Option<String>,
    rest: Vec<(String, String)>,
}

impl tracing::field::Visit for Fields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "outcome" => self.outcome = Some(value.to_string()),
            "message" => self.message = value.to_string(),
            name => self.rest.push((name.to_string(), value.to_string())),
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            name => self.rest.push((name.to_string(), format!("{value:?}"))),
        }
    }
}

impl<S, N> FormatEvent<S, N> for Stamped
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let now = humantime::format_rfc3339_micros(std::time::SystemTime::now());
        let level = *meta.level();
        let paint = |code: &str, text: &str| {
            if self.ansi {
                format!("\x1b[{code}m{text}\x1b[0m")
            } else {
                text.to_string()
            }
        };
        let level_code = match level {
            tracing::Level::ERROR => "31",
            tracing::Level::WARN => "33",
            tracing::Level::INFO => "32",
            tracing::Level::DEBUG => "34",
            tracing::Level::TRACE => "35",
        };
        write!(
            writer,
            "{} {} ",
            paint("2", &now.to_string()),
            paint(level_code, &format!("{:>5}", level.as_str()))
        )?;
        if self.target {
            write!(writer, "{}: ", meta.target())?;
        }
        let message = crate::diag::quote_controls(fields.message);
        match fields.outcome.as_deref().and_then(Colour::from_name) {
            Some(colour) => write!(writer, "{}", paint(colour.code(), &message))?,
            None => write!(writer, "{message}")?,
        }
        for (name, value) in fields.rest {
            write!(writer, " {name}={}", crate::diag::quote_controls(value))?;
        }
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    fn enabled(settings: LogSettings, target: &str, level: Level) -> bool {
        filter(settings).would_enable(target, &level)
    }

    #[test]
    fn verbosity_moves_driftless_and_the_sdk_together() {
        let loop_lines = |verbosity| LogSettings {
            verbosity,
            lines_on_stdout: true,
        };
        assert!(enabled(loop_lines(0), "driftless", Level::INFO));
        assert!(!enabled(
            loop_lines(0),
            "aws_smithy_runtime::client::retries",
            Level::DEBUG
        ));
        assert!(enabled(
            loop_lines(1),
            "aws_smithy_runtime::client::retries",
            Level::DEBUG
        ));
        assert!(!enabled(loop_lines(-1), "driftless", Level::INFO));
        assert!(enabled(loop_lines(-1), "driftless", Level::WARN));
        let other = LogSettings {
            verbosity: 0,
            lines_on_stdout: false,
        };
        assert!(!enabled(other, "driftless", Level::INFO));
    }
}
