//! Logs through `tracing`: the long-running commands (`reconcile`,
//! `watch`) print their human lines as timestamped, levelled log lines on
//! stdout; every command's warnings and the AWS SDK's own diagnostics
//! (retries, request ids, at debug level) go to stderr. `-v` shows debug
//! (the SDK's included), `-vv` trace; `-q` only warnings and errors.

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
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
    use std::io::IsTerminal;
    let colour = std::env::var_os("NO_COLOR").is_none();
    let layer = tracing_subscriber::fmt::layer().with_target(settings.verbosity > 0);
    let registry = tracing_subscriber::registry().with(filter(settings));
    // A second init (tests in one process) keeps the first.
    let _ = if settings.lines_on_stdout {
        let ansi = colour && std::io::stdout().is_terminal();
        registry
            .with(layer.with_writer(std::io::stdout).with_ansi(ansi))
            .try_init()
    } else {
        let ansi = colour && std::io::stderr().is_terminal();
        registry
            .with(layer.with_writer(std::io::stderr).with_ansi(ansi))
            .try_init()
    };
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
