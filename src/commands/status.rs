//! `driftless status ENV` (or `--all`): sync, revisions, drift as of the
//! last detection, health and the last pass. Exit 0 synced and healthy, 2
//! out of sync or drifted, 8 degraded or missing.

use super::session::{Session, no_preflight};
use super::target::{TargetArgs, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::exit;
use crate::output::{Colour, Printer};
use crate::reconcile::status::{EnvironmentStatus, Health};
use crate::revision::short;
use serde_json::json;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The environment (a file in environments/); or `--all`.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub environment: Option<String>,
    /// Every environment of the project, one row each.
    #[arg(long)]
    pub all: bool,
    /// Also write the environment's status as one self-contained HTML
    /// page (waves as a picture, stacks, alarms, the last pass): a CI
    /// artifact. Not with --all.
    #[arg(long, value_name = "FILE", conflicts_with = "all")]
    pub html: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// The exit code of one environment's status.
pub fn status_code(s: &EnvironmentStatus) -> u8 {
    match s.health {
        Health::Degraded | Health::Missing => exit::UNHEALTHY,
        _ if s.sync != "synced" || s.drifted => exit::DRIFTED,
        _ => exit::OK,
    }
}

/// The worst of several codes: unhealthy over drifted over ok; an error
/// (1) over all.
fn worst(codes: &[u8]) -> u8 {
    let rank = |c: u8| match c {
        exit::OK => 0,
        exit::DRIFTED => 1,
        exit::UNHEALTHY => 2,
        _ => 3,
    };
    codes
        .iter()
        .copied()
        .max_by_key(|c| rank(*c))
        .unwrap_or(exit::OK)
}

use crate::page::ago;

fn health_colour(h: Health) -> Colour {
    match h {
        Health::Healthy => Colour::Green,
        Health::Progressing => Colour::Yellow,
        _ => Colour::Red,
    }
}

/// One environment on one screen.
fn show_one(p: &mut Printer, s: &EnvironmentStatus, now: i64) {
    let event = json!({ "event": "status", "status": s, "exit_code": status_code(s) });
    let mut text = String::new();
    let sync = match s.sync {
        "synced" => p.paint("synced", Colour::Green),
        other => p.paint(other, Colour::Yellow),
    };
    text.push_str(&format!("  sync     {sync}"));
    for line in &s.out_of_sync {
        text.push_str(&format!("\n             {line}"));
    }
    text.push_str(&format!(
        "\n  health   {}",
        p.paint(s.health.name(), health_colour(s.health))
    ));
    for reason in &s.health_reasons {
        text.push_str(&format!("\n             {reason}"));
    }
    text.push_str("\n  stacks");
    for st in &s.stacks {
        let drift = match (&st.drift, &st.drift_checked_at) {
            (Some(d), Some(at)) => format!("drift {} (checked {at})", d.to_ascii_lowercase()),
            (Some(d), None) if d != "NOT_CHECKED" => format!("drift {}", d.to_ascii_lowercase()),
            _ => "drift never checked".into(),
        };
        text.push_str(&format!(
            "\n    {:<36} {:<24} rev {:<20} {drift}",
            st.stack,
            st.status.as_deref().unwrap_or("not deployed"),
            st.revision.as_deref().map_or("-".into(), short),
        ));
    }
    if s.drifted {
        text.push_str(&format!(
            "\n  drift    {}: run `driftless drift {}` for the resources",
            p.paint("drifted", Colour::Yellow),
            s.environment
        ));
    }
    if let Some(sus) = &s.suspended {
        text.push_str(&format!(
            "\n  {}  by {} {}: {}; the reconcile loop reports but does not apply",
            p.paint("suspended", Colour::Yellow),
            sus.by,
            ago(sus.at, now),
            sus.reason
        ));
    }
    text.push_str("\n  last pass ");
    match &s.last_pass {
        None => text.push_str("none recorded"),
        Some(pass) => text.push_str(&format!(
            "{} by {} ({}{}): {}, exit {}{}",
            ago(pass.at, now),
            pass.by,
            pass.command,
            pass.revision
                .as_deref()
                .map(|r| format!(" at {}", short(r)))
                .unwrap_or_default(),
            pass.result,
            pass.exit_code,
            pass.checks
                .as_deref()
                .map(|c| format!(", checks {c}"))
                .unwrap_or_default()
        )),
    }
    p.emit(event, || text);
}

impl StatusArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let names: Vec<String> = match (&self.environment, self.all) {
            (Some(env), _) => vec![env.clone()],
            (None, _) => {
                let (project, _) = crate::spec::load(&ctx.project)
                    .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
                project.environments.keys().cloned().collect()
            }
        };
        let rt = runtime()?;
        let mut codes = Vec::new();
        let mut rows = Vec::new();
        let mut calls = 0;
        for name in &names {
            let session = Session::open(
                ctx,
                "status",
                name,
                &self.target,
                Builds::Run,
                &no_preflight,
            )?;
            let counted = std::cell::Cell::new(0);
            let result = rt.block_on(session.read_only(
                |cloud| {
                    counted.set(cloud.calls().total);
                    None
                },
                async |cloud, pass| {
                    let status = pass.status().await;
                    counted.set(cloud.calls().total);
                    status
                        .map(|s| (s, cloud.store_now()))
                        .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))
                },
            ));
            calls += counted.get();
            match result {
                Ok((status, now)) => {
                    codes.push(status_code(&status));
                    if !self.all {
                        show_one(&mut ctx.printer, &status, now);
                    }
                    if let Some(file) = &self.html {
                        let page = crate::page::status_page(&status, &session.rendered, now);
                        std::fs::write(file, page).map_err(|e| {
                            CommandError::new(
                                ErrorKind::Failure,
                                format!("cannot write {}: {e}", file.display()),
                            )
                        })?;
                        let shown = file.display().to_string();
                        ctx.printer
                            .emit(json!({ "event": "html", "file": shown }), || {
                                format!("  page     {shown}")
                            });
                    }
                    rows.push((name.clone(), Ok(status), now));
                }
                Err(e) if self.all => {
                    codes.push(e.kind.code());
                    rows.push((name.clone(), Err(e.message.clone().unwrap_or_default()), 0));
                }
                Err(e) => return Err(e),
            }
        }
        if self.all {
            show_table(&mut ctx.printer, &rows);
        }
        let code = worst(&codes);
        let unhealthy = codes.iter().filter(|c| **c == exit::UNHEALTHY).count();
        let drifted = codes.iter().filter(|c| **c == exit::DRIFTED).count();
        let human = format!(
            "{} environment(s): {} synced and healthy, {drifted} out of sync or drifted, {unhealthy} degraded or missing in {:.2}s, {calls} API call(s)",
            names.len(),
            codes.iter().filter(|c| **c == exit::OK).count(),
            started.elapsed().as_secs_f64()
        );
        let summary = Summary::new(
            json!({
                "command": "status",
                "environments": names.len(),
                "unhealthy": unhealthy,
                "drifted": drifted,
                "duration_ms": started.elapsed().as_millis() as u64,
                "api_calls": calls,
            }),
            human,
        )
        .with_code(code);
        Ok(summary)
    }
}

type Row = (String, Result<EnvironmentStatus, String>, i64);

/// Every environment in one table; in JSON, one `status` event each.
fn show_table(p: &mut Printer, rows: &[Row]) {
    p.note(|| {
        format!(
            "  {:<16} {:<12} {:<12} {:<20} last pass",
            "environment", "sync", "health", "revision"
        )
    });
    for (name, row, now) in rows {
        match row {
            Ok(s) => {
                let revision = s
                    .stacks
                    .iter()
                    .find_map(|st| st.revision.as_deref())
                    .map_or("-".into(), short);
                let last = s.last_pass.as_ref().map_or("none".into(), |pass| {
                    format!("{} {} ({})", ago(pass.at, *now), pass.result, pass.command)
                });
                let sync = if s.drifted && s.sync == "synced" {
                    "drifted"
                } else {
                    s.sync
                };
                let text = format!(
                    "  {:<16} {:<12} {:<12} {:<20} {last}",
                    name,
                    sync,
                    s.health.name(),
                    revision
                );
                let text = p.paint(&text, health_colour(s.health));
                p.emit(
                    json!({ "event": "status", "status": s, "exit_code": status_code(s) }),
                    || text,
                );
            }
            Err(message) => {
                let text = format!("  {name:<16} error: {message}");
                p.emit(
                    json!({ "event": "status", "environment": name, "error": message }),
                    || text,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_code_wins() {
        assert_eq!(worst(&[exit::OK, exit::DRIFTED]), exit::DRIFTED);
        assert_eq!(worst(&[exit::UNHEALTHY, exit::DRIFTED]), exit::UNHEALTHY);
        assert_eq!(worst(&[exit::UNHEALTHY, exit::FAILURE]), exit::FAILURE);
        assert_eq!(worst(&[]), exit::OK);
    }
}
