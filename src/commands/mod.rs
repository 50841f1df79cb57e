//! One module per command; each has an `*Args` struct and an `execute` method.

pub mod deploy;
pub mod destroy;
pub mod local;
pub mod outputs;
pub mod plan;
pub mod progress;
pub mod render;
pub mod session;
pub mod smoke;
pub mod target;
pub mod validate;
pub mod watch;

use crate::exit;
use crate::output::Printer;
use crate::validate::Failure;
use std::path::PathBuf;

/// What every command gets.
pub struct Context {
    pub project: PathBuf,
    pub printer: Printer,
    pub ci: bool,
}

/// A failure that ends a command, as an exit code after it was reported.
pub fn report_failure(ctx: &mut Context, failure: &Failure) -> u8 {
    match failure {
        Failure::Invalid(diagnostics) => {
            for d in diagnostics {
                ctx.printer.diagnostic(d);
            }
            let count = diagnostics.len();
            ctx.printer.emit(
                serde_json::json!({ "event": "summary", "valid": false, "errors": count }),
                || format!("{count} error(s); nothing was rendered or deployed"),
            );
            exit::INVALID
        }
        Failure::Load(e) => {
            ctx.printer.error(e);
            exit::FAILURE
        }
    }
}
