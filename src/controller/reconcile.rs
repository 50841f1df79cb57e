//! One environment at one commit: observe what runs, apply what differs
//! (with the lock, smoke checks and rollback, as `deploy` does), then
//! detect drift and heal it where the environment says so. Each way it can
//! end is a typed [`Tick`].

use super::Out;
use super::env::Followed;
use super::outcome::{Outcome, Tick};
use super::views::*;
use crate::cloud::{Cloud, state};
use crate::exit;
use crate::listener::unix_now;
use crate::output::show::show;
use crate::reconcile::{Mode, Options, Pass, Retry, Settings, guard, retry};
use crate::spec::windows::SyncWindow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A commit checked out, valid and rendered for one environment: what a
/// tick applies, and (once applied) what drift is told against while newer
/// commits are blocked.
#[derive(Clone)]
pub(super) struct Prepared {
    pub commit: String,
    pub rendered: Arc<crate::render::RenderedEnvironment>,
    pub assets: Arc<crate::assets::Assets>,
    /// Protected without `auto_sync`: the loop never applies it.
    pub protected_manual: bool,
    /// `prune: true`: orphans that retain nothing are deleted.
    pub prune: bool,
    pub windows: Vec<SyncWindow>,
}

impl Prepared {
    pub(super) fn commit(&self) -> &str {
        &self.commit
    }

    /// Why the loop may not apply now (outside its sync windows), unless
    /// someone forced it.
    fn window_closed(&self, forced: bool) -> Option<String> {
        match forced {
            true => None,
            false => crate::spec::windows::may_apply(&self.windows, unix_now()).err(),
        }
    }
}

/// What drift is told against, and whether it may be healed.
struct Watch<'a> {
    cloud: &'a Cloud,
    rendered: &'a crate::render::RenderedEnvironment,
    assets: &'a crate::assets::Assets,
    commit: &'a str,
    heal: bool,
}

/// The loop's settings a tick reads.
pub(super) struct Timing {
    pub interval: Duration,
    pub retry_base: Duration,
}

/// One environment's tick, from its prepared commit (or why there is none).
pub(super) async fn tick(
    out: &Out<'_>,
    timing: &Timing,
    env: &mut Followed,
    prepared: Result<Prepared, Tick>,
) -> Tick {
    env.pass_seconds = None;
    let prepared = match prepared {
        Ok(prepared) => prepared,
        // Drift is still watched, and healed, at the last applied commit.
        Err(stopped) => return watch_applied(out, env, stopped).await,
    };
    let now = Instant::now();
    let Some(cloud) = env.cloud.clone() else {
        return Tick::new(Outcome::Failed, exit::FAILURE, "no connection");
    };
    let cloud = &cloud;
    let (rendered, assets) = (prepared.rendered.as_ref(), prepared.assets.as_ref());
    // A resource deleted by hand is drift: brought back by a heal, not
    // by the commit's apply.
    let closed = prepared.window_closed(env.forced_by.is_some());
    // A pass that applies also heals, where the environment heals itself
    // and drift is due: one pass, not an apply and then a heal.
    let heals =
        rendered.self_heal && !prepared.protected_manual && closed.is_none() && env.drift_due;
    let options = Options {
        revision: Some(prepared.commit.clone()),
        leave_missing: true,
        prune_stateless: prepared.prune,
        forced_by: env.forced_by.clone(),
        revert_drift: heals,
        ..Options::default()
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let pass = Pass::new(cloud, rendered, assets, &options, tx);
    if let Err(check) = pass.check_account().await {
        let message = crate::reconcile::Stop::from(check).explain().message;
        env.tracker.refuse(&message);
        return Tick::new(Outcome::Refused, exit::REFUSED, message);
    }
    let mut observed = match pass.observe().await {
        Ok(o) => o,
        Err(e) => return Tick::new(Outcome::Failed, exit::FAILURE, e.to_string()),
    };
    read_health(env, &pass, &observed, rendered).await;
    let suspended = read_suspension(cloud, &observed, rendered).await;
    env.view.suspended = suspended
        .as_ref()
        .map(|s| format!("by {} ({})", s.by, s.reason));
    env.view.pending = pending_plans(&observed);
    env.view.orphans = observed.orphans.iter().map(|o| o.describe()).collect();
    // Retained data this commit would lose: refused as `deploy` refuses
    // it, before the lock is taken and with no mutating call.
    if !observed.hazards.is_empty() {
        let message = refusal_message(&observed.hazards);
        env.tracker.refuse(&message);
        let refused = Tick::new(Outcome::Refused, exit::REFUSED, message);
        return watch_applied(out, env, refused).await;
    }
    // What this commit asks: apply it, or say why not; drift is watched
    // either way, and healed only once the commit runs.
    let held = if !observed.has_changes() {
        None
    } else if let Some(s) = &suspended {
        Some(Tick::new(
            Outcome::Suspended,
            exit::DRIFTED,
            format!(
                "out of sync at this commit; suspended by {} ({}): not applied",
                s.by, s.reason
            ),
        ))
    } else if prepared.protected_manual && env.forced_by.is_none() {
        Some(Tick::new(
            Outcome::OutOfSync,
            exit::DRIFTED,
            "out of sync at this commit; the environment is protected without `auto_sync: true`: waiting for `driftless deploy`, `driftless sync --force` or the pipeline",
        ))
    } else if let Some(why) = &closed {
        Some(Tick::new(
            Outcome::OutOfSync,
            exit::DRIFTED,
            format!(
                "out of sync at this commit; {why}: not applied (`driftless sync --force` applies it now)"
            ),
        ))
    } else if !env.tracker.may_apply(now) {
        let wait = env.tracker.retry_in(now).unwrap_or_default();
        Some(Tick::new(
            Outcome::Backoff,
            exit::FAILURE,
            format!(
                "the last attempt failed; next try in {:.1}s",
                wait.as_secs_f64()
            ),
        ))
    } else {
        None
    };
    if let Some(held) = held {
        // Not applied: the last applied commit is what drift is told
        // against, where there is one.
        return watch_applied(out, env, held).await;
    }
    let mut tick = Tick::new(Outcome::InSync, exit::OK, "what runs matches the commit");
    let mut healed_in_pass = None;
    if observed.has_changes() {
        let settings = Settings {
            command: "reconcile",
            smoke: true,
            lock_wait: Duration::ZERO,
        };
        let work = guard::guarded(&pass, None, pass.run(&observed, Mode::Apply, &settings));
        let began = Instant::now();
        // The pass's events as they come, not once it ends.
        env.pass_events.clear();
        let result = showing(out, rx, work, env).await;
        env.pass_seconds = Some(began.elapsed().as_secs_f64());
        let stopped = pass.stop_reason();
        let code = crate::reconcile::exit_code(&result, stopped);
        let policy = retry(&result, stopped);
        healed_in_pass = result.as_ref().ok().and_then(|r| r.heal.clone());
        let message = pass_message(result);
        env.tracker
            .record(policy, &message, now, timing.retry_base, timing.interval);
        if code == exit::LOCKED {
            // Another agent holds the lock and applies it: not a failure.
            return Tick::new(Outcome::Locked, code, message);
        }
        if policy != Retry::NotNeeded {
            return Tick::new(Outcome::Failed, code, message);
        }
        tick = Tick::new(Outcome::Applied, code, message);
        // Health, and what drift is told against, as the pass left it:
        // not as it was before (a first apply is not `missing`).
        if let Ok(after) = pass.observe().await {
            observed = after;
            read_health(env, &pass, &observed, rendered).await;
            env.view.pending = pending_plans(&observed);
            env.view.orphans = observed.orphans.iter().map(|o| o.describe()).collect();
        }
    } else {
        env.tracker.record(
            Retry::NotNeeded,
            "",
            now,
            timing.retry_base,
            timing.interval,
        );
    }
    // Stacks left behind are reported, not deleted, without `prune: true`
    // (or when they retain data).
    let kept: Vec<String> = observed
        .orphans
        .iter()
        .filter(|o| !o.deleted)
        .map(|o| o.describe())
        .collect();
    if tick.outcome == Outcome::InSync && !kept.is_empty() {
        tick = Tick::new(Outcome::OutOfSync, exit::DRIFTED, kept.join("; "));
    }
    let heal = rendered.self_heal && suspended.is_none() && !prepared.protected_manual;
    let heal = heal && closed.is_none();
    env.applied = Some(prepared.clone());
    if let Some(report) = healed_in_pass {
        // The pass detected drift, healed it and detected again.
        return healed_by_the_pass(env, &report, tick);
    }
    let watch = Watch {
        cloud,
        rendered,
        assets,
        commit: &prepared.commit,
        heal,
    };
    watch_drift(out, env, &pass, &observed, &watch, tick).await
}

/// A tick whose pass healed drift too: what it healed, or what is left.
fn healed_by_the_pass(
    env: &mut Followed,
    report: &crate::reconcile::heal::HealReport,
    tick: Tick,
) -> Tick {
    env.view.drift_checked = Some(unix_now());
    env.drift_reported = None;
    let names = |healed: bool| {
        let named: Vec<String> = report
            .heals
            .iter()
            .filter(|h| (h.result == crate::reconcile::heal::HealResult::Healed) == healed)
            .map(|h| format!("{} {}", h.stack, h.logical_id))
            .collect();
        named.join(", ")
    };
    env.drifted = report
        .heals
        .iter()
        .filter(|h| h.result != crate::reconcile::heal::HealResult::Healed)
        .count();
    if env.drifted == 0 {
        env.view.drifted.clear();
    }
    match (report.heals.is_empty(), report.complete()) {
        (true, _) => tick,
        (false, true) => Tick::new(
            tick.outcome,
            tick.code,
            format!("{}; healed: {}", tick.message, names(true)),
        ),
        (false, false) => Tick::new(
            Outcome::Drifted,
            exit::DRIFTED,
            format!(
                "{}; drifted, not all healed: {}",
                tick.message,
                names(false)
            ),
        ),
    }
}

/// Shows a pass's events as they arrive while `work` runs, noting the
/// stack-level ones for the pages, and a release's steps on the pages and
/// `/metrics` at once.
async fn showing<T>(
    out: &Out<'_>,
    mut events: tokio::sync::mpsc::UnboundedReceiver<crate::reconcile::Event>,
    work: impl std::future::Future<Output = T>,
    env: &mut Followed,
) -> T {
    tokio::pin!(work);
    let seen = |event: crate::reconcile::Event, env: &mut Followed| {
        note_event(&mut env.pass_events, &event);
        if releasing(env, &event) {
            publish_release(&out.shared, env);
        }
        out.with(|p| show(p, &event));
    };
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            Some(event) = events.recv() => seen(event, env),
        }
    };
    while let Ok(event) = events.try_recv() {
        seen(event, env);
    }
    result
}

async fn read_suspension(
    cloud: &Cloud,
    observed: &crate::reconcile::Observed,
    rendered: &crate::render::RenderedEnvironment,
) -> Option<crate::deployed::Suspension> {
    let bucket = observed.asset_bucket.as_ref()?;
    state::read_suspension(cloud, bucket, &rendered.app, &rendered.environment)
        .await
        .ok()
        .flatten()
}

/// The environment's health from `observed` and its alarms, for the pages
/// and `/metrics`.
async fn read_health(
    env: &mut Followed,
    pass: &Pass<'_>,
    observed: &crate::reconcile::Observed,
    rendered: &crate::render::RenderedEnvironment,
) {
    let (health, reasons) = match pass.loop_health(observed).await {
        Ok(read) => read,
        Err(e) => (
            crate::reconcile::status::stacks_health(observed, rendered),
            vec![format!("alarms not read: {e}")],
        ),
    };
    env.health = health.name();
    env.view.health_reasons = reasons;
    env.view.stacks = page_states(observed, rendered, &env.view.drifted);
}

/// A tick that stopped before applying (`stopped`: a blocked or invalid
/// commit, a failed fetch, a suspension, a closed window, a backoff)
/// still watches drift, and heals it where the environment says so, at
/// the last commit this agent applied.
async fn watch_applied(out: &Out<'_>, env: &mut Followed, stopped: Tick) -> Tick {
    let (Some(applied), Some(cloud)) = (env.applied.clone(), env.cloud.clone()) else {
        return stopped;
    };
    let rendered = applied.rendered.as_ref();
    let options = Options {
        revision: Some(applied.commit.clone()),
        leave_missing: true,
        ..Options::default()
    };
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let pass = Pass::new(&cloud, rendered, &applied.assets, &options, tx);
    let Ok(observed) = pass.observe().await else {
        return stopped;
    };
    let suspended = read_suspension(&cloud, &observed, rendered).await;
    let closed = applied.window_closed(env.forced_by.is_some());
    let watch = Watch {
        cloud: &cloud,
        rendered,
        assets: &applied.assets,
        commit: &applied.commit,
        heal: rendered.self_heal
            && suspended.is_none()
            && !applied.protected_manual
            && closed.is_none(),
    };
    watch_drift(out, env, &pass, &observed, &watch, stopped).await
}

/// Drift at every tick, healed where `watch` allows; `tick` is how the
/// tick ended so far, and stands unless drift changes the verdict.
async fn watch_drift(
    out: &Out<'_>,
    env: &mut Followed,
    pass: &Pass<'_>,
    observed: &crate::reconcile::Observed,
    watch: &Watch<'_>,
    tick: Tick,
) -> Tick {
    let rendered = watch.rendered;
    // At the commit followed, or (when it is not applied) the last one.
    let at = match env.tracker.commit.as_deref() == Some(watch.commit) {
        true => String::new(),
        false => format!(
            " (at the applied commit {})",
            crate::revision::short(watch.commit)
        ),
    };
    if !env.drift_due {
        return tick;
    }
    let drift = match pass
        .detect_drift(crate::reconcile::drift::DETECTION_TIME_LIMIT)
        .await
    {
        Ok(drift) => drift,
        Err(e) if tick.outcome.runs_the_commit() => {
            return Tick::new(Outcome::DriftUnknown, exit::FAILURE, e.to_string());
        }
        Err(_) => return tick,
    };
    env.drifted = drift.drifted_resources().count() + drift.settings.len();
    env.view.drifted = drifted_views(&drift);
    env.view.drift_checked = Some(unix_now());
    env.view.stacks = page_states(observed, rendered, &env.view.drifted);
    if !drift.drifted() {
        env.drift_reported = None;
        return tick;
    }
    let key = drift_key(&drift);
    if env.drift_reported.as_deref() != Some(key.as_str()) {
        out.with(|p| crate::output::show::show_drift(p, &drift));
        env.drift_reported = Some(key.clone());
    }
    if !watch.heal {
        let drifted = Tick::new(Outcome::Drifted, exit::DRIFTED, format!("drifted: {key}"));
        return tick.with_drift(drifted, &at);
    }
    // The heal starts from this detection: it detects once more, after.
    let heal_options = Options {
        revision: Some(watch.commit.to_string()),
        revert_drift: true,
        known_drift: Some(Arc::new(drift.clone())),
        ..Options::default()
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let healer = Pass::new(watch.cloud, rendered, watch.assets, &heal_options, tx);
    let settings = Settings {
        command: "reconcile",
        smoke: true,
        lock_wait: Duration::ZERO,
    };
    let work = guard::guarded(&healer, None, healer.run(observed, Mode::Apply, &settings));
    env.pass_events.clear();
    let result = showing(out, rx, work, env).await;
    let code = crate::reconcile::exit_code(&result, healer.stop_reason());
    env.drift_reported = None;
    let verdict = match code {
        exit::OK => {
            // Healed: the pages stop showing it now, not a tick later.
            env.drifted = 0;
            env.view.drifted.clear();
            env.view.stacks = page_states(observed, rendered, &env.view.drifted);
            Tick::new(Outcome::Healed, exit::OK, format!("healed: {key}"))
        }
        _ => Tick::new(
            Outcome::Drifted,
            code,
            format!("drifted, not all healed: {key}"),
        ),
    };
    tick.with_drift(verdict, &at)
}
