//! `driftless invoke ENV unit.function [--event FILE|-]`: call a deployed
//! function once and show what it answered and the tail of its log.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::{functions, stacks};
use crate::diag::quote_controls;
use serde_json::{Value as Json, json};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// The function, as `unit.resource` (`api.handler`).
    pub function: String,
    /// The event: a JSON file, or `-` for standard input (default `{}`).
    #[arg(long, value_name = "FILE")]
    pub event: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The most an event may hold: Lambda's synchronous payload limit.
const MOST_EVENT_BYTES: usize = 6 * 1024 * 1024;

impl InvokeArgs {
    /// The event's bytes, checked to be JSON.
    fn event(&self) -> Result<Vec<u8>, CommandError> {
        let invalid = |m: String| CommandError::new(ErrorKind::Invalid, m);
        let (bytes, from) = match self.event.as_deref() {
            None => return Ok(b"{}".to_vec()),
            Some(path) if path.as_os_str() == "-" => {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(
                    &mut std::io::Read::take(std::io::stdin(), MOST_EVENT_BYTES as u64 + 1),
                    &mut bytes,
                )
                .map_err(|e| invalid(format!("standard input: {e}")))?;
                (bytes, "standard input".to_string())
            }
            Some(path) => (
                std::fs::read(path).map_err(|e| {
                    invalid(format!("--event {}: {e}", path.display()))
                        .with_help("give a JSON file, or `-` to read standard input")
                })?,
                path.display().to_string(),
            ),
        };
        if bytes.len() > MOST_EVENT_BYTES {
            return Err(invalid(format!(
                "{from}: the event is over Lambda's 6 MB for a synchronous call"
            )));
        }
        serde_json::from_slice::<Json>(&bytes).map_err(|e| {
            invalid(format!("{from}: not JSON: {e}"))
                .with_help("a Lambda event is a JSON document, such as {\"path\": \"/users\"}")
        })?;
        Ok(bytes)
    }

    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let event = self.event()?;
        let session = Session::open(
            ctx,
            "invoke",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let rendered = &session.rendered;
        let named = super::named::function(rendered, &self.function)?;
        let (stack, output) = (named.stack, named.output);
        let rt = runtime()?;
        rt.block_on(session.read_only(
            |_| None,
            async |cloud, _pass| {
                let failed = |e: crate::cloud::CloudError| CommandError::from_error(ErrorKind::Failure, &e);
                let name = stacks::describe(cloud, &stack)
                    .await
                    .map_err(failed)?
                    .and_then(|d| d.outputs.get(&output).cloned())
                    .ok_or_else(|| {
                        CommandError::new(ErrorKind::Failure, format!("{stack} is not deployed"))
                            .with_help(format!("deploy {} first", self.environment))
                    })?;
                let answer = functions::invoke_as(cloud, &name, &event, true)
                    .await
                    .map_err(failed)?;
                let payload = String::from_utf8_lossy(&answer.payload).into_owned();
                let shown = serde_json::from_str::<Json>(&payload)
                    .ok()
                    .and_then(|v| serde_json::to_string_pretty(&v).ok())
                    .unwrap_or_else(|| payload.clone());
                ctx.printer.emit(
                    json!({ "event": "invoked", "function": self.function, "name": name, "status": answer.status, "function_error": answer.function_error, "payload": payload, "log": answer.log }),
                    || {
                        let mut text = format!("{} ({name}): status {}", self.function, answer.status);
                        if let Some(error) = &answer.function_error {
                            text.push_str(&format!(", function error {error}"));
                        }
                        // What the function answered and wrote, line by
                        // line, with no escape reaching the terminal.
                        let lines = |t: &str| {
                            t.lines()
                                .map(|l| quote_controls(l.to_string()))
                                .collect::<Vec<_>>()
                                .join("\n")
                        };
                        text.push('\n');
                        text.push_str(&lines(&shown));
                        if let Some(log) = &answer.log {
                            text.push_str("\n--- log tail\n");
                            text.push_str(&lines(log.trim_end()));
                        }
                        text
                    },
                );
                let summary = Summary::cloud(
                    "invoke",
                    answer.function_error.is_none(),
                    json!({ "status": answer.status }),
                    started,
                    &cloud.calls(),
                    &format!("{} answered", self.function),
                );
                match &answer.function_error {
                    None => Ok(summary),
                    Some(error) => Err(CommandError::new(
                        ErrorKind::Failure,
                        format!("{} failed: {error}", self.function),
                    )
                    .with_summary(summary)),
                }
            },
        ))
    }
}
