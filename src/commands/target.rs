//! `--endpoint`: where a command's cloud calls go (see `crate::target`).

use super::Context;
use crate::emulator;
use crate::spec::Target;

pub use crate::target::{Resolved, connect};

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// An AWS-compatible endpoint to use instead of the environment's target.
    #[arg(long, env = "DRIFTLESS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
}

impl TargetArgs {
    /// Resolves the target; for `target: local`, starts the emulator if it is
    /// not running (installing it on first use).
    pub fn resolve(
        &self,
        ctx: &mut Context,
        target: &Target,
    ) -> Result<Resolved, emulator::LocalError> {
        crate::target::resolve(self.endpoint.as_deref(), &mut ctx.printer, target)
    }
}

/// A runtime for one command: one thread, as the work is waiting on the
/// network.
pub fn runtime() -> Result<tokio::runtime::Runtime, super::CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| super::CommandError::from_error(super::ErrorKind::Failure, &e))
}
