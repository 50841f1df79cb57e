//! One environment's tick: fetch, check out, apply what differs, detect
//! and heal drift.

use super::views::*;
use super::{Followed, ReconcileArgs, Tick};
use crate::agent::{self};
use crate::assets::Builds;
use crate::cloud::state;
use crate::commands::Context;
use crate::commands::target::connect;
use crate::exit;
use crate::listener::unix_now;
use crate::load::{Failure, load_specs, render_loaded};
use crate::output::show::{show, while_running_noting};
use crate::reconcile::{Mode, Options, Pass, Retry, Settings, guard, retry};
use crate::source::Source;
use std::time::{Duration, Instant};

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

/// A commit fetched, checked out, valid and rendered: what a tick applies,
/// and (once applied) what drift is told against while newer commits are
/// blocked.
#[derive(Clone)]
pub(super) struct Prepared {
    commit: String,
    rendered: std::sync::Arc<crate::render::RenderedEnvironment>,
    assets: std::sync::Arc<crate::assets::Assets>,
    protected_manual: bool,
}

impl Prepared {
    pub(super) fn commit(&self) -> &str {
        &self.commit
    }
}

/// What drift is told against, and whether it may be healed.
struct Watch<'a> {
    cloud: &'a crate::cloud::Cloud,
    rendered: &'a crate::render::RenderedEnvironment,
    assets: &'a crate::assets::Assets,
    commit: &'a str,
    heal: bool,
}

impl ReconcileArgs {
    /// One environment's tick.
    pub(super) async fn tick(
        &self,
        ctx: &mut Context,
        source: &Source,
        checkouts: &std::path::Path,
        env: &mut Followed,
        interval: Duration,
        retry_base: Duration,
    ) -> Tick {
        env.pass_seconds = None;
        let prepared = match self.prepare(ctx, source, checkouts, env).await {
            Ok(prepared) => prepared,
            // Drift is still watched, and healed, at the last applied commit.
            Err(stopped) => return self.watch_applied(ctx, env, stopped).await,
        };
        let now = Instant::now();
        let Some(cloud) = env.cloud.clone() else {
            return Tick::new(exit::FAILURE, "failed", "no connection");
        };
        let cloud = &cloud;
        let Prepared {
            commit,
            rendered,
            assets,
            protected_manual,
        } = prepared.clone();
        let (rendered, assets) = (rendered.as_ref(), assets.as_ref());
        // A resource deleted by hand is drift: brought back by a heal, not
        // by the commit's apply.
        let options = Options {
            revision: Some(commit.clone()),
            leave_missing: true,
            ..Options::default()
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(cloud, rendered, assets, &options, tx);
        if let Err(check) = pass.check_account().await {
            let stop = crate::reconcile::Stop::from(check);
            let message = stop.explain().message;
            env.tracker.refuse(&message);
            return Tick::new(exit::REFUSED, "refused", message);
        }
        let mut observed = match pass.observe().await {
            Ok(o) => o,
            Err(e) => return Tick::new(exit::FAILURE, "failed", e.to_string()),
        };
        read_health(env, &pass, &observed, rendered).await;
        let suspended = match &observed.asset_bucket {
            Some(bucket) => {
                state::read_suspension(cloud, bucket, &rendered.app, &rendered.environment)
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        env.view.suspended = suspended
            .as_ref()
            .map(|s| format!("by {} ({})", s.by, s.reason));
        // Retained data this commit would lose: refused as `deploy` refuses
        // it, before the lock is taken and with no mutating call.
        if !observed.hazards.is_empty() {
            let message = refusal_message(&observed.hazards);
            env.tracker.refuse(&message);
            return self
                .watch_applied(ctx, env, Tick::new(exit::REFUSED, "refused", message))
                .await;
        }
        // What this commit asks: apply it, or say why not; drift is watched
        // either way, and healed only once the commit runs.
        let held = if !observed.has_changes() {
            None
        } else if let Some(s) = &suspended {
            Some(Tick::new(
                exit::DRIFTED,
                "suspended",
                format!(
                    "out of sync at this commit; suspended by {} ({}): not applied",
                    s.by, s.reason
                ),
            ))
        } else if protected_manual {
            Some(Tick::new(
                exit::DRIFTED,
                "out_of_sync",
                "out of sync at this commit; the environment is protected without `auto_sync: true`: waiting for `driftless deploy` or the pipeline",
            ))
        } else if !env.tracker.may_apply(now) {
            let wait = env.tracker.retry_in(now).unwrap_or_default();
            Some(Tick::new(
                exit::FAILURE,
                "backoff",
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
            return self.watch_applied(ctx, env, held).await;
        }
        let mut tick = Tick::new(exit::OK, "in_sync", "what runs matches the commit");
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
            let notes = &mut env.pass_events;
            let result =
                while_running_noting(&mut ctx.printer, rx, work, |event| note_event(notes, event))
                    .await;
            env.pass_seconds = Some(began.elapsed().as_secs_f64());
            let stopped = pass.stop_reason();
            let code = crate::reconcile::exit_code(&result, stopped);
            let policy = retry(&result, stopped);
            let message = pass_message(result);
            env.tracker
                .record(policy, &message, now, retry_base, interval);
            if code == exit::LOCKED {
                // Another agent holds the lock and applies it: not a failure.
                return Tick::new(code, "locked", message);
            }
            if policy != Retry::NotNeeded {
                return Tick::new(code, "failed", message);
            }
            tick = Tick::new(code, "applied", message);
            // Health, and what drift is told against, as the pass left it:
            // not as it was before (a first apply is not `missing`).
            if let Ok(after) = pass.observe().await {
                observed = after;
                read_health(env, &pass, &observed, rendered).await;
            }
        } else {
            env.tracker
                .record(Retry::NotNeeded, "", now, retry_base, interval);
        }
        env.applied = Some(prepared);
        let watch = Watch {
            cloud,
            rendered,
            assets,
            commit: &commit,
            heal: rendered.self_heal && suspended.is_none() && !protected_manual,
        };
        self.watch_drift(ctx, env, &pass, &observed, &watch, tick)
            .await
    }

    /// A tick that stopped before applying (`stopped`: a blocked or
    /// invalid commit, a failed fetch, a suspension, a backoff) still
    /// watches drift, and heals it where the environment says so, at the
    /// last commit this agent applied.
    async fn watch_applied(&self, ctx: &mut Context, env: &mut Followed, stopped: Tick) -> Tick {
        let (Some(applied), Some(cloud)) = (env.applied.clone(), env.cloud.clone()) else {
            return stopped;
        };
        let rendered = applied.rendered.as_ref();
        let assets = applied.assets.as_ref();
        let options = Options {
            revision: Some(applied.commit.clone()),
            leave_missing: true,
            ..Options::default()
        };
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(&cloud, rendered, assets, &options, tx);
        let observed = match pass.observe().await {
            Ok(o) => o,
            Err(_) => return stopped,
        };
        let suspended = match &observed.asset_bucket {
            Some(bucket) => {
                state::read_suspension(&cloud, bucket, &rendered.app, &rendered.environment)
                    .await
                    .ok()
                    .flatten()
            }
            None => None,
        };
        let watch = Watch {
            cloud: &cloud,
            rendered,
            assets,
            commit: &applied.commit,
            heal: rendered.self_heal && suspended.is_none() && !applied.protected_manual,
        };
        self.watch_drift(ctx, env, &pass, &observed, &watch, stopped)
            .await
    }

    /// Drift at every tick, healed where `watch` allows; `tick` is how the
    /// tick ended so far, and stands unless drift changes the verdict.
    async fn watch_drift(
        &self,
        ctx: &mut Context,
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
            Err(e) if tick.result == "in_sync" || tick.result == "applied" => {
                return Tick::new(exit::FAILURE, "drift_unknown", e.to_string());
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
        let key = names.join(", ");
        if env.drift_reported.as_deref() != Some(key.as_str()) {
            crate::output::show::show_drift(&mut ctx.printer, &drift);
            env.drift_reported = Some(key.clone());
        }
        // A tick that stopped keeps its result; drift joins its message.
        let stopped = !matches!(tick.result, "in_sync" | "applied");
        let told = |code: u8, result: &'static str, what: String| match stopped {
            true => Tick::new(
                tick.code,
                tick.result,
                format!("{}; {what}{at}", tick.message),
            ),
            false => Tick::new(code, result, what),
        };
        if !watch.heal {
            return told(exit::DRIFTED, "drifted", format!("drifted: {key}"));
        }
        let heal_options = Options {
            revision: Some(watch.commit.to_string()),
            revert_drift: true,
            ..Options::default()
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let healer = Pass::new(watch.cloud, rendered, watch.assets, &heal_options, tx);
        let settings = Settings {
            command: "reconcile",
            smoke: true,
            lock_wait: Duration::ZERO,
        };
        let result =
            guard::guarded(&healer, None, healer.run(observed, Mode::Apply, &settings)).await;
        env.pass_events.clear();
        while let Ok(event) = rx.try_recv() {
            note_event(&mut env.pass_events, &event);
            show(&mut ctx.printer, &event);
        }
        let code = crate::reconcile::exit_code(&result, healer.stop_reason());
        env.drift_reported = None;
        if code == exit::OK {
            // Healed: the pages stop showing it now, not a tick later.
            env.drifted = 0;
            env.view.drifted.clear();
            env.view.stacks = page_states(observed, rendered, &env.view.drifted);
        }
        match code {
            exit::OK => told(exit::OK, "healed", format!("healed: {key}")),
            _ => told(code, "drifted", format!("drifted, not all healed: {key}")),
        }
    }

    /// Fetch, check out, load and connect: what a tick needs before it
    /// reads anything deployed. A tick that cannot get that far says why.
    async fn prepare(
        &self,
        ctx: &mut Context,
        source: &Source,
        checkouts: &std::path::Path,
        env: &mut Followed,
    ) -> Result<Prepared, Tick> {
        let commit = match source.fetch() {
            Ok(commit) => commit,
            Err(e) => return Err(Tick::new(exit::FAILURE, "fetch_failed", e.to_string())),
        };
        env.tracker.follow(&commit);
        if let agent::CommitState::Blocked { why, refused } = &env.tracker.state {
            let message = why.clone();
            return Err(match refused {
                true => Tick::new(exit::REFUSED, "refused", message),
                false => Tick::new(exit::INVALID, "blocked", message),
            });
        }
        let dir = match source.checkout(&commit, checkouts) {
            Ok(dir) => match self.project_in(&dir) {
                Ok(dir) => dir,
                Err(e) => return Err(Tick::new(exit::INVALID, "checkout_failed", e)),
            },
            Err(e) => return Err(Tick::new(exit::FAILURE, "checkout_failed", e.to_string())),
        };
        // The applied commit's checkout stays: drift is healed from it
        // while a newer commit is blocked.
        let applied = env.applied.as_ref().map(|a| a.commit.clone());
        let keep: Vec<&str> = std::iter::once(commit.as_str())
            .chain(applied.as_deref())
            .collect();
        crate::source::prune_checkouts(checkouts, &keep);
        let loaded = load_specs(&dir, &env.name).and_then(|(project, relevant)| {
            render_loaded(
                &project,
                &env.name,
                relevant,
                Builds::Run,
                Default::default(),
            )
            .map(|r| (project, r))
        });
        let (project, (rendered, assets)) = match loaded {
            Ok(loaded) => loaded,
            Err(Failure::Invalid(diags)) => {
                let first = diags
                    .first()
                    .map(|d| format!("{}:{}: {}", d.file.as_ref() as &str, d.span, d.message))
                    .unwrap_or_default();
                let why = format!(
                    "the specs at this commit are invalid ({} problem(s)); first: {first}",
                    diags.len()
                );
                if env.tracker.first_report("invalid") {
                    for d in &diags {
                        ctx.printer.diagnostic(d);
                    }
                }
                env.tracker.block(&why);
                return Err(Tick::new(exit::INVALID, "invalid", why));
            }
            Err(Failure::Load(e)) => {
                let why = e.to_string();
                env.tracker.block(&why);
                return Err(Tick::new(exit::INVALID, "invalid", why));
            }
        };
        let Ok(spec_env) = project.environment(&env.name) else {
            return Err(Tick::new(
                exit::INVALID,
                "invalid",
                "the environment is not in this commit",
            ));
        };
        let protected_manual = spec_env.protect && !spec_env.auto_sync;
        env.hooks = spec_env.notify.clone();
        env.app = rendered.app.clone();
        env.view.app = rendered.app.clone();
        env.view.rendered = Some(std::sync::Arc::new(rendered.clone()));
        if env.cloud.is_none() {
            match self.target.resolve(ctx, &rendered.target) {
                Ok(resolved) => env.cloud = Some(connect(&resolved).await),
                Err(e) => return Err(Tick::new(exit::FAILURE, "failed", e.to_string())),
            }
        }
        Ok(Prepared {
            commit,
            rendered: std::sync::Arc::new(rendered),
            assets: std::sync::Arc::new(assets),
            protected_manual,
        })
    }
}
