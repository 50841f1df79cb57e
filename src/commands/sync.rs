//! `driftless sync ENV --agent URL`: ask a running reconcile loop, through
//! its listener, for a tick of ENV now (`--wait`: and say how it ended;
//! `--force`: applied even outside its sync windows, recorded with who
//! asked).

use super::target::runtime;
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::exit;
use crate::smoke::http::{HttpClient, Request};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The environment the agent follows.
    pub environment: String,
    /// The agent's listener (`reconcile --listen`), such as
    /// `http://127.0.0.1:8080`.
    #[arg(long, env = "DRIFTLESS_AGENT", value_name = "URL")]
    pub agent: String,
    /// The environment variable holding the listener's token
    /// (`reconcile --listen-token-env`).
    #[arg(long, default_value = "DRIFTLESS_AGENT_TOKEN", value_name = "NAME")]
    pub token_env: String,
    /// Wait for the tick and exit with its code.
    #[arg(long)]
    pub wait: bool,
    /// Apply even outside the environment's sync windows, or where it is
    /// protected without `auto_sync`; the pass records who asked.
    #[arg(long)]
    pub force: bool,
    /// How long `--wait` waits.
    #[arg(long, default_value = "3600", value_name = "SECONDS", value_parser = crate::durations::interval)]
    pub timeout: f64,
}

impl SyncArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let usage = |m: String, help: &str| {
            CommandError::new(ErrorKind::Usage, m).with_help(help.to_string())
        };
        let base = self.agent.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(usage(
                format!("--agent {base} is not an http(s) URL"),
                "give the listener's address, such as http://127.0.0.1:8080",
            ));
        }
        let mut chars = self.environment.chars();
        let named = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !named {
            return Err(usage(
                format!("`{}` is not an environment name", self.environment),
                "give the name of a file in environments/",
            ));
        }
        let token = match std::env::var(&self.token_env) {
            Ok(token) if !token.is_empty() => token,
            _ => {
                return Err(CommandError::new(
                    ErrorKind::Invalid,
                    format!("{}: the variable is not set", self.token_env),
                )
                .with_help(format!(
                    "export {}=... (the token the agent's --listen-token-env names)",
                    self.token_env
                )));
            }
        };
        let mut query = Vec::new();
        if self.force {
            query.push("force=1");
        }
        if self.wait {
            query.push("wait=1");
        }
        let request = Request {
            method: "POST".into(),
            url: format!("{base}/sync/{}?{}", self.environment, query.join("&")),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                ("x-driftless-by".into(), crate::reconcile::holder_name()),
            ],
            body: None,
        };
        let failed = |m: String| CommandError::new(ErrorKind::Failure, m);
        let client = HttpClient::new().map_err(failed)?;
        let limit = Duration::from_secs_f64(self.timeout);
        let rt = runtime()?;
        let response = rt
            .block_on(async { tokio::time::timeout(limit, client.send(&request)).await })
            .map_err(|_| failed(format!("no answer within {}s", self.timeout)))?
            .map_err(|e| failed(crate::source::redact(&e)))?;
        let body = String::from_utf8_lossy(&response.body).trim().to_string();
        match response.status {
            200 | 202 => {}
            401 => {
                return Err(
                    CommandError::new(ErrorKind::Invalid, "the agent refused the token").with_help(
                        format!("{} must hold the agent's listener token", self.token_env),
                    ),
                );
            }
            status => return Err(failed(format!("the agent answered {status}: {body}"))),
        }
        if !self.wait {
            ctx.printer.emit(
                json!({ "event": "sync", "environment": self.environment, "state": "queued", "force": self.force }),
                || format!("{}: a tick is queued", self.environment),
            );
            return Ok(Summary::new(
                json!({ "command": "sync", "duration_ms": started.elapsed().as_millis() as u64 }),
                "queued",
            ));
        }
        let tick: Json = serde_json::from_str(&body)
            .map_err(|e| failed(format!("the agent's answer is not a tick ({e}): {body}")))?;
        let code = tick["exit_code"]
            .as_u64()
            .and_then(|c| u8::try_from(c).ok())
            .unwrap_or(exit::FAILURE);
        let line = crate::diag::quote_controls(format!(
            "{}: {} {}",
            self.environment,
            tick["result"].as_str().unwrap_or_default(),
            tick["message"].as_str().unwrap_or_default()
        ));
        ctx.printer.emit(json!({ "event": "sync", "environment": self.environment, "state": "ticked", "tick": tick }), || line.clone());
        Ok(Summary::new(
            json!({ "command": "sync", "duration_ms": started.elapsed().as_millis() as u64 }),
            line,
        )
        .with_code(code))
    }
}
