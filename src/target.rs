//! Where cloud calls go: the environment's target, an `--endpoint`
//! override, or the local emulator started on demand.

use crate::cloud::{Cloud, ConnectSettings};
use crate::emulator;
use crate::output::Printer;
use crate::spec::Target;
use serde_json::json;

/// A connection-ready target, described for people.
pub struct Resolved {
    pub settings: ConnectSettings,
    pub description: String,
}

/// Resolves `target` (with `endpoint` instead of its own, when given);
/// for `target: local`, starts the emulator if it is not running
/// (installing it on first use).
pub fn resolve(
    endpoint: Option<&str>,
    printer: &mut Printer,
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
    let endpoint = match (endpoint, target) {
        (Some(url), _) => Some(url.trim_end_matches('/').to_string()),
        (None, Target::Local { .. }) => Some(local_endpoint(printer)?),
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

fn configured_port() -> Option<u16> {
    std::env::var("DRIFTLESS_LOCAL_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
}

fn local_endpoint(printer: &mut Printer) -> Result<String, emulator::LocalError> {
    let home = emulator::home();
    if let Some(running) = emulator::status(&home) {
        return Ok(running.endpoint());
    }
    printer.emit(
        json!({ "event": "local", "state": "starting", "version": emulator::MINISTACK_VERSION, "home": home }),
        || {
            format!(
                "starting the local emulator (MiniStack {}; the first start installs it into {})",
                emulator::MINISTACK_VERSION,
                home.display()
            )
        },
    );
    printer.flush();
    let emulator = emulator::up(&home, configured_port())?;
    printer.emit(
        json!({ "event": "local", "state": "running", "endpoint": emulator.endpoint(), "pid": emulator.pid }),
        || format!("local emulator running at {}", emulator.endpoint()),
    );
    Ok(emulator.endpoint())
}

pub async fn connect(resolved: &Resolved) -> Cloud {
    Cloud::connect(&resolved.settings).await
}
