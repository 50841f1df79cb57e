//! Where a command's cloud calls go: the environment's target, an
//! `--endpoint` override, or the local emulator started on demand.

use super::Context;
use crate::cloud::{Cloud, ConnectSettings};
use crate::emulator;
use crate::spec::Target;
use serde_json::json;

#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// An AWS-compatible endpoint to use instead of the environment's target.
    #[arg(long, env = "DRIFTLESS_ENDPOINT", value_name = "URL")]
    pub endpoint: Option<String>,
}

/// A connection-ready target, described for people.
pub struct Resolved {
    pub settings: ConnectSettings,
    pub description: String,
}

impl TargetArgs {
    /// Resolves the target; for `target: local`, starts the emulator if it is
    /// not running (installing it on first use).
    pub fn resolve(
        &self,
        ctx: &mut Context,
        target: &Target,
    ) -> Result<Resolved, emulator::LocalError> {
        let (region, profile, role) = match target {
            Target::Local { region } => (region.clone(), None, None),
            Target::Aws {
                region,
                profile,
                role,
                ..
            } => (region.clone(), profile.clone(), role.clone()),
        };
        let endpoint = match (&self.endpoint, target) {
            (Some(url), _) => Some(url.trim_end_matches('/').to_string()),
            (None, Target::Local { .. }) => Some(local_endpoint(ctx)?),
            (None, Target::Aws { .. }) => None,
        };
        let description = match &endpoint {
            Some(url) => format!("{} via {url}", target.describe()),
            None => target.describe(),
        };
        Ok(Resolved {
            settings: ConnectSettings {
                region,
                endpoint,
                profile,
                role,
            },
            description,
        })
    }
}

fn configured_port() -> Option<u16> {
    std::env::var("DRIFTLESS_LOCAL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
}

fn local_endpoint(ctx: &mut Context) -> Result<String, emulator::LocalError> {
    let home = emulator::home();
    if let Some(running) = emulator::status(&home) {
        return Ok(running.endpoint());
    }
    ctx.printer.emit(
        json!({ "event": "local", "state": "starting", "version": emulator::MINISTACK_VERSION, "home": home }),
        || {
            format!(
                "starting the local emulator (MiniStack {}; the first start installs it into {})",
                emulator::MINISTACK_VERSION,
                home.display()
            )
        },
    );
    ctx.printer.flush();
    let emulator = emulator::up(&home, configured_port())?;
    ctx.printer.emit(
        json!({ "event": "local", "state": "running", "endpoint": emulator.endpoint(), "pid": emulator.pid }),
        || format!("local emulator running at {}", emulator.endpoint()),
    );
    Ok(emulator.endpoint())
}

/// A runtime for one command: one thread, as the work is waiting on the
/// network.
pub fn runtime() -> Result<tokio::runtime::Runtime, super::CommandError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| super::CommandError::from_error(super::ErrorKind::Failure, &e))
}

pub async fn connect(resolved: &Resolved) -> Cloud {
    Cloud::connect(&resolved.settings).await
}
