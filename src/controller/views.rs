//! What a tick leaves behind for people and machines: the notice of a
//! change of state, the metrics, and the views the status pages show.

use super::env::Followed;
use super::outcome::{Tick, notice_event};
use crate::listener::{Shared, unix_now};
use crate::source::Source;

/// The notification a tick calls for, with the key that makes it once per
/// change of state.
pub(super) fn notice_of(env: &Followed, tick: &Tick) -> Option<(String, crate::notify::Notice)> {
    if env.hooks.is_empty() {
        return None;
    }
    let commit = env.tracker.commit.clone().unwrap_or_default();
    let (event, key) = notice_event(tick, &commit, env.health == "degraded")?;
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

/// What a pass's tick says: the error, the checks' verdict where they
/// failed, or what changed.
pub(super) fn pass_message(
    result: Result<crate::reconcile::Report, crate::reconcile::Stop>,
) -> String {
    use crate::reconcile::Verdict;
    match result {
        Ok(report) => {
            if let Some(error) = report.outcome.error {
                return error;
            }
            match &report.verdict {
                Some(Verdict::RolledBack) => format!(
                    "smoke checks failed; rolled back to the previous release ({} stack(s) put back)",
                    report.outcome.rolled_back
                ),
                Some(Verdict::Failed(why)) => format!("smoke checks failed: {why}"),
                _ => format!(
                    "{} stack(s) changed{}",
                    report.outcome.changed.len(),
                    report.outcome.content_text()
                ),
            }
        }
        Err(stop) => stop.explain().message,
    }
}

/// The refusal of retained resources a commit would replace or remove, in
/// the words `deploy` prints: each resource, its type, the properties that
/// force it, why, and the flag that allows it.
pub(super) fn refusal_message(hazards: &[crate::plan::guard::Hazard]) -> String {
    let each: Vec<String> = hazards
        .iter()
        .map(|h| format!("{}: {}; {}", h.what(), h.cause, h.allow()))
        .collect();
    format!("refused: {}; nothing was changed", each.join("; "))
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default();
    fill_metrics(
        all.entry(env.name.clone()).or_default(),
        env,
        tick,
        calls,
        now,
    );
}

/// The environment's metrics after `tick`, ended at `now`.
fn fill_metrics(
    m: &mut crate::metrics::EnvironmentMetrics,
    env: &Followed,
    tick: &Tick,
    calls: &crate::cloud::calls::CallSummary,
    now: f64,
) {
    m.last_tick = now;
    m.result = tick.outcome.name().to_string();
    // The commit applied: not an invalid or refused one the branch holds.
    m.commit = env.applied.as_ref().map(|a| a.commit().to_string());
    m.synced = tick.outcome.synced();
    m.health = env.health.to_string();
    m.drifted_resources = env.drifted;
    m.orphaned_stacks = env.view.orphans.len();
    m.releasing = env
        .view
        .releasing
        .iter()
        .map(|r| (r.function.clone(), (r.weight, r.step_ends)))
        .collect();
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

/// A release's step into the page's view; whether the view changed. A
/// shift under way makes the environment `progressing`.
pub(super) fn releasing(env: &mut Followed, event: &crate::reconcile::Event) -> bool {
    let crate::reconcile::Event::Release {
        function,
        from_version,
        to_version,
        weight,
        state,
        hold_s,
        ..
    } = event
    else {
        return false;
    };
    env.view.releasing.retain(|r| r.function != *function);
    if *state == "shifting" {
        env.view.releasing.push(crate::page::live::ReleaseView {
            function: function.clone(),
            weight: *weight,
            from: from_version.clone(),
            to: to_version.clone(),
            step_ends: unix_now() + hold_s.unwrap_or_default().ceil() as i64,
        });
    }
    let shifting = !env.view.releasing.is_empty();
    match shifting {
        true => {
            env.view.health = "progressing".into();
            env.health = "progressing";
        }
        false => env.view.health = env.health.to_string(),
    }
    true
}

/// The release state of `env` on the pages and `/metrics` now, while
/// its pass runs.
pub(super) fn publish_release(shared: &Shared, env: &Followed) {
    if let Ok(mut views) = shared.views.lock() {
        views.insert(env.name.clone(), env.view.clone());
    }
    if let Ok(mut all) = shared.metrics.lock() {
        let m = all.entry(env.name.clone()).or_default();
        m.releasing = env
            .view
            .releasing
            .iter()
            .map(|r| (r.function.clone(), (r.weight, r.step_ends)))
            .collect();
        if !m.releasing.is_empty() {
            m.health = "progressing".into();
        }
    }
}

/// The drifted resources and settings, named: what is told once.
pub(super) fn drift_key(drift: &crate::reconcile::drift::DriftReport) -> String {
    let names: Vec<String> = drift
        .drifted_resources()
        .map(|(s, r)| format!("{} {}", s.stack, r.logical_id))
        .chain(
            drift
                .settings
                .iter()
                .map(|d| format!("{} {}", d.stack, d.logical_id)),
        )
        .collect();
    names.join(", ")
}

/// What the next pass would change, for the environment page (as
/// `plan --html` shows it); empty when in sync.
pub(super) fn pending_plans(observed: &crate::reconcile::Observed) -> Vec<crate::plan::StackPlan> {
    observed
        .planned
        .iter()
        .filter(|p| p.plan.action.changes())
        .map(|p| p.plan.clone())
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
    let applied = env.applied.as_ref().map(|a| a.commit().to_string());
    if let Some(commit) = &applied
        && env.view.commit.as_ref().is_none_or(|c| &c.hash != commit)
    {
        env.view.commit = source
            .describe(commit)
            .map(|info| crate::page::live::CommitView {
                hash: commit.clone(),
                message: info.message,
                author: info.author,
                time: info.time,
            });
    }
    fill_view(env, tick, unix_now());
    if let Ok(mut views) = shared.views.lock() {
        views.insert(env.name.clone(), env.view.clone());
    }
}

/// The environment's page after `tick`, ended at `now`: its result, sync
/// and health, and the pass it ran among the last ones.
fn fill_view(env: &mut Followed, tick: &Tick, now: i64) {
    let view = &mut env.view;
    view.result = tick.outcome.name().to_string();
    view.message = tick.message.clone();
    view.synced = tick.outcome.synced();
    if view.synced == Some(true) {
        view.pending.clear();
    }
    view.health = env.health.to_string();
    view.last_tick = now;
    if tick.outcome.is_pass() {
        view.passes.push_back(crate::page::live::PassView {
            at: now,
            result: tick.outcome.name().to_string(),
            seconds: env.pass_seconds,
            message: tick.message.clone(),
            commit: env.tracker.commit.clone(),
            events: std::mem::take(&mut env.pass_events),
        });
        while view.passes.len() > crate::page::live::PASSES_KEPT {
            view.passes.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::outcome::{Outcome, Tick};
    use super::*;
    use crate::exit;

    fn env_after(ticks: &[Tick]) -> (Followed, crate::metrics::EnvironmentMetrics) {
        let mut env = Followed::new("dev");
        env.tracker.follow("c0ffee");
        let mut metrics = crate::metrics::EnvironmentMetrics::default();
        for (i, tick) in ticks.iter().enumerate() {
            env.pass_seconds = tick.outcome.is_pass().then_some(2.0);
            env.pass_events = vec![format!("event of tick {i}")];
            fill_metrics(&mut metrics, &env, tick, &Default::default(), i as f64);
            fill_view(&mut env, tick, i as i64);
        }
        (env, metrics)
    }

    #[test]
    fn an_applied_tick_is_synced_listed_as_a_pass_and_clears_the_pending_plan() {
        let applied = Tick::new(Outcome::Applied, exit::OK, "1 stack(s) changed");
        let mut waiting = Followed::new("dev");
        waiting.view.pending = vec![crate::plan::StackPlan {
            stack: "app-dev-api".into(),
            wave: 1,
            tier: "stateless",
            action: crate::plan::Action::Update,
            reason: "the template changed".into(),
            hash: String::new(),
            parameters: Default::default(),
            changed_parameters: Vec::new(),
            changes: Vec::new(),
        }];
        let out_of_sync = Tick::new(Outcome::OutOfSync, exit::DRIFTED, "waiting");
        fill_view(&mut waiting, &out_of_sync, 0);
        assert_eq!(waiting.view.pending.len(), 1, "kept while out of sync");
        fill_view(&mut waiting, &applied, 1);
        assert!(waiting.view.pending.is_empty(), "gone once applied");
        let (env, metrics) = env_after(&[applied]);
        assert_eq!(metrics.result, "applied");
        assert_eq!(metrics.synced, Some(true));
        assert_eq!(env.view.synced, Some(true));
        assert_eq!(env.view.passes.len(), 1);
        assert_eq!(env.view.passes[0].events, ["event of tick 0"]);
        assert_eq!(env.view.passes[0].commit.as_deref(), Some("c0ffee"));
    }

    #[test]
    fn a_failed_fetch_leaves_sync_unknown_and_lists_no_pass() {
        let (env, metrics) = env_after(&[
            Tick::new(Outcome::Applied, exit::OK, "applied"),
            Tick::new(Outcome::FetchFailed, exit::FAILURE, "host unreachable"),
        ]);
        assert_eq!(metrics.result, "fetch_failed");
        assert_eq!(metrics.synced, None, "unknown, not out of sync");
        assert_eq!(env.view.synced, None);
        assert_eq!(env.view.passes.len(), 1, "only the applied pass");
        assert_eq!(env.view.message, "host unreachable");
        assert_eq!(env.view.last_tick, 1);
    }

    #[test]
    fn drift_and_refusals_are_out_of_sync_and_the_page_keeps_a_bounded_list() {
        let drifted = Tick::new(Outcome::Drifted, exit::DRIFTED, "drifted: api Fn");
        let (_, metrics) = env_after(std::slice::from_ref(&drifted));
        assert_eq!(metrics.synced, Some(false));
        let refused = Tick::new(Outcome::Refused, exit::REFUSED, "refused: table");
        let (env, metrics) = env_after(&[refused]);
        assert_eq!(
            (metrics.result.as_str(), metrics.synced),
            ("refused", Some(false))
        );
        assert!(env.view.passes.is_empty());
        let many: Vec<Tick> = (0..crate::page::live::PASSES_KEPT + 5)
            .map(|_| Tick::new(Outcome::Failed, exit::FAILURE, "boom"))
            .collect();
        let (env, _) = env_after(&many);
        assert_eq!(env.view.passes.len(), crate::page::live::PASSES_KEPT);
    }

    #[test]
    fn a_pass_whose_checks_failed_says_so_not_what_changed() {
        use crate::reconcile::{Outcome, Report, Verdict};
        let mut outcome = Outcome {
            rolled_back: 1,
            ..Default::default()
        };
        outcome.changed.insert("app-dev-api".into());
        let rolled = Ok(Report {
            outcome: outcome.clone(),
            verdict: Some(Verdict::RolledBack),
            ..Default::default()
        });
        assert_eq!(
            pass_message(rolled),
            "smoke checks failed; rolled back to the previous release (1 stack(s) put back)"
        );
        let failed = Ok(Report {
            outcome: outcome.clone(),
            verdict: Some(Verdict::Failed("the rollback is incomplete".into())),
            ..Default::default()
        });
        assert_eq!(
            pass_message(failed),
            "smoke checks failed: the rollback is incomplete"
        );
        let passed = Ok(Report {
            outcome,
            verdict: Some(Verdict::Passed),
            ..Default::default()
        });
        assert_eq!(pass_message(passed), "1 stack(s) changed");
    }
}
