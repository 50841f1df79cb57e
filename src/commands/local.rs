//! `driftless local up|down|status`: the embedded local emulator.

use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::emulator;
use serde_json::json;

#[derive(Debug, clap::Args)]
pub struct LocalArgs {
    #[command(subcommand)]
    pub action: LocalAction,
}

#[derive(Debug, clap::Subcommand)]
pub enum LocalAction {
    /// Install (first use) and start the emulator on 127.0.0.1.
    Up {
        /// The port; default 4566 when free, else any free port.
        #[arg(long, env = "DRIFTLESS_LOCAL_PORT")]
        port: Option<u16>,
    },
    /// Install the emulator without starting it (for CI images and offline work).
    Install,
    /// Stop the emulator. Its state (stacks, tables) is in memory and goes with it.
    Down,
    /// Whether it runs, and where.
    Status,
}

impl LocalArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let home = emulator::home();
        match &self.action {
            LocalAction::Up { port } => match emulator::up(&home, *port) {
                Ok(e) => {
                    ctx.printer.emit(
                        json!({ "event": "local", "state": "running", "endpoint": e.endpoint(), "pid": e.pid, "version": e.version }),
                        || format!("MiniStack {} running at {} (pid {})", e.version, e.endpoint(), e.pid),
                    );
                    Ok(Summary::new(json!({ "command": "local" }), String::new()))
                }
                Err(e) => Err(CommandError::from_error(ErrorKind::Failure, &e)),
            },
            LocalAction::Install => {
                for server in [&emulator::MINISTACK, &emulator::MOTO] {
                    let path = server
                        .ensure_installed(&home)
                        .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
                    ctx.printer.emit(
                        json!({ "event": "local", "state": "installed", "server": server.name, "executable": path, "version": server.version }),
                        || format!("{} {} installed: {}", server.name, server.version, path.display()),
                    );
                }
                Ok(Summary::new(json!({ "command": "local" }), String::new()))
            }
            LocalAction::Down => {
                // moto runs only where a pipeline was deployed locally.
                let moto = emulator::MOTO
                    .down(&home)
                    .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
                if moto {
                    ctx.printer.emit(
                        json!({ "event": "local", "state": "stopped", "server": "moto", "was_running": true }),
                        || "moto stopped".into(),
                    );
                }
                match emulator::down(&home) {
                    Ok(was_running) => {
                        ctx.printer.emit(
                        json!({ "event": "local", "state": "stopped", "was_running": was_running }),
                        || if was_running { "stopped".into() } else { "not running".into() },
                    );
                        Ok(Summary::new(json!({ "command": "local" }), String::new()))
                    }
                    Err(e) => Err(CommandError::from_error(ErrorKind::Failure, &e)),
                }
            }
            LocalAction::Status => match emulator::status(&home) {
                Some(e) => {
                    ctx.printer.emit(
                        json!({ "event": "local", "state": "running", "endpoint": e.endpoint(), "pid": e.pid, "version": e.version }),
                        || format!("running at {} (pid {}, MiniStack {})", e.endpoint(), e.pid, e.version),
                    );
                    Ok(Summary::new(json!({ "command": "local" }), String::new()))
                }
                None => {
                    ctx.printer
                        .emit(json!({ "event": "local", "state": "stopped" }), || {
                            "not running; `driftless local up` starts it".into()
                        });
                    Err(
                        CommandError::reported(ErrorKind::Failure).with_summary(Summary::new(
                            json!({ "command": "local", "state": "stopped" }),
                            String::new(),
                        )),
                    )
                }
            },
        }
    }
}
