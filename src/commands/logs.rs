//! `driftless logs ENV [unit.function]`: what the environment's functions
//! wrote to CloudWatch Logs, merged in time order and coloured by
//! function; `--follow` keeps reading.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::logs::{self, LogLine};
use crate::cloud::stacks;
use crate::diag::quote_controls;
use crate::output::SOURCE_COLOURS;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    /// One function, as `unit.resource` (`api.handler`); all without it.
    pub function: Option<String>,
    /// How far back to start: `10m`, `2h`, `1d`.
    #[arg(long, default_value = "10m", value_name = "DURATION", value_parser = since)]
    pub since: Duration,
    /// Keep reading new lines until Ctrl-C.
    #[arg(long, short)]
    pub follow: bool,
    /// Only lines that hold this text.
    #[arg(long, value_name = "TEXT")]
    pub filter: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

fn since(text: &str) -> Result<Duration, String> {
    crate::durations::parse(
        text,
        Duration::from_secs(1),
        Duration::from_secs(30 * 86_400),
    )
}

/// How often `--follow` asks for new lines.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

/// One function whose log is read.
struct Source {
    label: String,
    group: String,
    colour: crate::output::Colour,
}

impl LogsArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let session = Session::open(
            ctx,
            "logs",
            &self.environment,
            &self.target,
            Builds::NotNeeded,
            &no_preflight,
        )?;
        let named = match &self.function {
            Some(label) => vec![super::named::function(&session.rendered, label)?],
            None => super::named::functions(&session.rendered),
        };
        let rt = runtime()?;
        rt.block_on(session.read_only(
            |_| None,
            async |cloud, _pass| {
                let failed = |e: crate::cloud::CloudError| CommandError::from_error(ErrorKind::Failure, &e);
                let deployed = stacks::list(cloud).await.map_err(failed)?;
                let mut sources = Vec::new();
                for (i, f) in named.iter().enumerate() {
                    let Some(name) = deployed.get(&f.stack).and_then(|d| d.outputs.get(&f.output)) else {
                        continue;
                    };
                    sources.push(Source {
                        label: f.label.clone(),
                        group: logs::group_of(cloud, name).await.map_err(failed)?,
                        colour: SOURCE_COLOURS[i % SOURCE_COLOURS.len()],
                    });
                }
                if sources.is_empty() {
                    return Err(CommandError::new(
                        ErrorKind::Failure,
                        format!("no function of {} is deployed", self.environment),
                    )
                    .with_help(format!("deploy {} first", self.environment)));
                }
                let now_ms = || {
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64)
                };
                let mut from = now_ms() - self.since.as_millis() as i64;
                let mut seen = BTreeSet::new();
                let mut shown = 0usize;
                loop {
                    let mut batch: Vec<(&Source, LogLine)> = Vec::new();
                    for source in &sources {
                        for line in logs::lines(cloud, &source.group, from, self.filter.as_deref())
                            .await
                            .map_err(failed)?
                        {
                            if seen.insert(line.id.clone()) {
                                batch.push((source, line));
                            }
                        }
                    }
                    batch.sort_by_key(|(_, l)| l.at);
                    for (source, line) in &batch {
                        let at = chrono::DateTime::from_timestamp_millis(line.at)
                            .map(|t| t.format("%H:%M:%S%.3f").to_string())
                            .unwrap_or_default();
                        let label = ctx.printer.paint(&source.label, source.colour);
                        ctx.printer.emit(
                            json!({ "event": "log", "function": source.label, "at_ms": line.at, "stream": line.stream, "message": line.message }),
                            // What a function wrote: no escape reaches the terminal.
                            || format!("{at} {label} {}", quote_controls(line.message.clone())),
                        );
                    }
                    shown += batch.len();
                    // The newest line read, less a margin for lines that
                    // land late; the ids keep them from showing twice.
                    if let Some(last) = batch.iter().map(|(_, l)| l.at).max() {
                        from = from.max(last - 5_000);
                    }
                    if !self.follow {
                        break;
                    }
                    ctx.printer.flush();
                    tokio::select! {
                        _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                        _ = tokio::signal::ctrl_c() => break,
                    }
                }
                Ok(Summary::cloud(
                    "logs",
                    true,
                    json!({ "lines": shown }),
                    started,
                    &cloud.calls(),
                    &format!("{shown} line(s)"),
                ))
            },
        ))
    }
}
