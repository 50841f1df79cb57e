//! What a tick leaves behind for people and machines: the notice of a
//! change of state, the metrics, and the views the status pages show.

use super::{Followed, Tick};
use crate::listener::{Shared, unix_now};
use crate::source::Source;

/// The notification a tick calls for, with the key that makes it once per
/// change of state.
pub(super) fn notice_of(env: &Followed, tick: &Tick) -> Option<(String, crate::notify::Notice)> {
    if env.hooks.is_empty() {
        return None;
    }
    let commit = env.tracker.commit.clone().unwrap_or_default();
    let (event, key) = match tick.result {
        "applied" => ("applied", format!("applied:{commit}")),
        "failed" => ("failed", format!("failed:{commit}")),
        "drifted" => ("drift", format!("drift:{}", tick.message)),
        "healed" => ("healed", format!("healed:{commit}:{}", tick.message)),
        _ if env.health == "degraded" => ("degraded", format!("degraded:{commit}")),
        _ => return None,
    };
    Some((
        key,
        crate::notify::Notice {
            event,
            app: env.app.clone(),
            environment: env.name.clone(),
            commit: env.tracker.commit.clone(),
            message: tick.message.clone(),
        },
    ))
}

/// The tick, as `/metrics` shows it.
pub(super) fn record_metrics(
    shared: &Shared,
    env: &Followed,
    tick: &Tick,
    calls: &crate::cloud::calls::CallSummary,
) {
    let Ok(mut all) = shared.metrics.lock() else {
        return;
    };
    let m = all.entry(env.name.clone()).or_default();
    m.last_tick = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    m.result = tick.result.to_string();
    m.commit = env.tracker.commit.clone();
    m.synced = matches!(tick.result, "applied" | "in_sync" | "healed" | "drifted");
    m.health = env.health.to_string();
    m.drifted_resources = env.drifted;
    m.api_calls = calls.by_operation.clone();
    if let Some(seconds) = env.pass_seconds {
        m.observe_pass(seconds);
    }
}

/// Each stack of the environment as the pages colour it.
pub(super) fn page_states(
    observed: &crate::reconcile::Observed,
    rendered: &crate::render::RenderedEnvironment,
    drifted: &[crate::page::live::DriftedView],
) -> Vec<(String, crate::page::StackState)> {
    rendered
        .stacks
        .iter()
        .map(|stack| {
            let status = observed.stacks.get(&stack.name).map(|d| d.status.as_str());
            let action = observed
                .planned
                .iter()
                .find(|p| p.stack.name == stack.name)
                .map_or("create", |p| p.plan.action.name());
            let drift = drifted
                .iter()
                .any(|d| d.stack == stack.name)
                .then_some("DRIFTED");
            (
                stack.name.clone(),
                crate::page::stack_state(status, action, drift),
            )
        })
        .collect()
}

/// The drifted resources, for the pages. A function's environment values
/// may be secrets: they are shown as changed, never as written.
pub(super) fn drifted_views(
    drift: &crate::reconcile::drift::DriftReport,
) -> Vec<crate::page::live::DriftedView> {
    drift
        .drifted_resources()
        .map(|(stack, r)| crate::page::live::DriftedView {
            stack: stack.stack.clone(),
            logical_id: r.logical_id.clone(),
            resource: r.resource.clone(),
            differences: r
                .differences
                .iter()
                .map(|d| {
                    (
                        d.path.clone(),
                        d.shown_expected().to_string(),
                        d.shown_actual().to_string(),
                    )
                })
                .collect(),
        })
        .collect()
}

/// A pass's event as one line on the environment page: how each stack
/// ended, what was healed, how the checks went.
pub(super) fn note_event(lines: &mut Vec<String>, event: &crate::reconcile::Event) {
    use crate::reconcile::Event;
    let line = match event {
        Event::StackEnd {
            stack,
            result,
            status,
            seconds,
            reason,
            ..
        } => format!(
            "{stack}: {} ({status}, {seconds:.2}s){}",
            serde_json::to_value(result)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ),
        _ => return,
    };
    lines.push(line);
}

/// The tick, as the status pages show it.
pub(super) fn record_view(shared: &Shared, env: &mut Followed, tick: &Tick, source: &Source) {
    let now = unix_now();
    let view = &mut env.view;
    view.result = tick.result.to_string();
    view.message = tick.message.clone();
    view.synced = matches!(tick.result, "applied" | "in_sync" | "healed" | "drifted");
    view.health = env.health.to_string();
    view.last_tick = now;
    if let Some(commit) = &env.tracker.commit
        && view.commit.as_ref().is_none_or(|c| &c.hash != commit)
    {
        view.commit = source
            .describe(commit)
            .map(|info| crate::page::live::CommitView {
                hash: commit.clone(),
                message: info.message,
                author: info.author,
                time: info.time,
            });
    }
    if matches!(tick.result, "applied" | "failed" | "healed") {
        view.passes.push_back(crate::page::live::PassView {
            at: now,
            result: tick.result.to_string(),
            seconds: env.pass_seconds,
            message: tick.message.clone(),
            commit: env.tracker.commit.clone(),
            events: std::mem::take(&mut env.pass_events),
        });
        while view.passes.len() > crate::page::live::PASSES_KEPT {
            view.passes.pop_front();
        }
    }
    if let Ok(mut views) = shared.views.lock() {
        views.insert(env.name.clone(), view.clone());
    }
}
