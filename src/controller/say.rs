//! The loop's own lines (JSON events with `--output json`): what it
//! follows, where it listens, each environment's tick, each notice, and
//! its stop. A pass's events are shown by the output wing as they come.

use super::env::Followed;
use super::outcome::Tick;
use crate::output::Printer;
use serde_json::{Value as Json, json};

pub(super) fn listening(p: &mut Printer, address: &str) {
    p.emit(
        json!({ "event": "reconcile", "state": "listening", "address": address }),
        || format!("listening on http://{address} (/ and /env/NAME, /hooks/git, /sync/NAME, /healthz, /metrics)"),
    );
}

pub(super) fn following(p: &mut Printer, names: &[String], settings: &super::Settings) {
    p.emit(
        json!({ "event": "reconcile", "state": "following", "environments": names, "interval_s": settings.interval.as_secs_f64(), "repo": settings.repo, "branch": settings.branch, "parallel": settings.parallel }),
        || {
            format!(
                "reconcile {} every {}s from {}",
                names.join(", "),
                settings.interval.as_secs_f64(),
                match (&settings.repo, &settings.branch) {
                    (Some(url), Some(branch)) => format!("{url} {branch}"),
                    _ => "the project's work tree".into(),
                }
            )
        },
    );
}

/// The `reconcile_tick` event of one environment.
pub(super) fn tick_event(
    number: u64,
    env: &Followed,
    tick: &Tick,
    calls: (u64, u64),
    seconds: f64,
) -> Json {
    json!({
        "event": "reconcile_tick",
        "tick": number,
        "environment": env.name,
        "commit": env.tracker.commit,
        "result": tick.outcome.name(),
        "message": tick.message,
        "exit_code": tick.code,
        "attempts": env.tracker.attempts(),
        "retry_in_s": env.tracker.retry_in(std::time::Instant::now()).map(|d| d.as_secs_f64()),
        "api_calls": { "total": calls.0, "mutating": calls.1 },
        "seconds": seconds,
        "forced_by": env.forced_by,
    })
}

pub(super) fn tick(p: &mut Printer, event: Json, env: &Followed, tick: &Tick) {
    p.emit(event, || {
        format!(
            "{} at {}: {} {}",
            env.name,
            env.tracker
                .commit
                .as_deref()
                .map_or("-".into(), crate::revision::short),
            tick.outcome.name(),
            tick.message
        )
    });
}

pub(super) fn notified(
    p: &mut Printer,
    env: &Followed,
    notice: &crate::notify::Notice,
    errors: &[String],
) {
    p.emit(
        json!({ "event": "notified", "environment": env.name, "notice": notice.event, "text": notice.text(), "sent": env.hooks.len() - errors.len(), "errors": errors }),
        || match errors.is_empty() {
            true => format!("  notified: {}", notice.text()),
            false => format!("  notification not sent: {}", errors.join("; ")),
        },
    );
}

pub(super) fn stopped(p: &mut Printer) {
    p.emit(json!({ "event": "reconcile", "state": "stopped" }), || {
        "reconcile stopped".into()
    });
}
