//! One module per command; each has an `*Args` struct and an `execute` method.

pub mod deploy;
pub mod destroy;
pub mod drift;
pub mod ending;
pub mod history;
pub mod init;
pub mod instance;
pub mod invoke;
pub mod local;
pub mod logs;
pub mod named;
pub mod outputs;
pub mod pipeline;
pub mod plan;
pub mod reconcile;
pub mod render;
pub mod rollback;
pub mod schema;
pub mod session;
pub mod smoke;
pub mod status;
pub mod suspend;
pub mod sync;
pub mod target;
pub mod validate;
pub mod watch;

use crate::output::Printer;
use std::path::PathBuf;

pub use ending::{CommandError, CommandResult, ErrorKind, Summary, finish};

/// What every command gets.
pub struct Context {
    pub project: PathBuf,
    pub printer: Printer,
    pub ci: bool,
}
