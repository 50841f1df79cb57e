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
use crate::output::show::show;
use crate::reconcile::{Mode, Options, Pass, Retry, Settings, guard, retry};
use crate::source::Source;
use std::time::{Duration, Instant};

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
        let commit = match source.fetch() {
            Ok(commit) => commit,
            Err(e) => return Tick::new(exit::FAILURE, "fetch_failed", e.to_string()),
        };
        env.tracker.follow(&commit);
        let now = Instant::now();
        if let agent::CommitState::Blocked { why } = &env.tracker.state {
            let message = why.clone();
            return Tick::new(exit::INVALID, "blocked", message);
        }
        let dir = match source.checkout(&commit, checkouts) {
            Ok(dir) => match self.project_in(&dir) {
                Ok(dir) => dir,
                Err(e) => return Tick::new(exit::INVALID, "checkout_failed", e),
            },
            Err(e) => return Tick::new(exit::FAILURE, "checkout_failed", e.to_string()),
        };
        crate::source::prune_checkouts(checkouts, &[&commit]);
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
                return Tick::new(exit::INVALID, "invalid", why);
            }
            Err(Failure::Load(e)) => {
                let why = e.to_string();
                env.tracker.block(&why);
                return Tick::new(exit::INVALID, "invalid", why);
            }
        };
        let Ok(spec_env) = project.environment(&env.name) else {
            return Tick::new(
                exit::INVALID,
                "invalid",
                "the environment is not in this commit",
            );
        };
        let protected_manual = spec_env.protect && !spec_env.auto_sync;
        env.hooks = spec_env.notify.clone();
        env.app = rendered.app.clone();
        env.view.app = rendered.app.clone();
        env.view.rendered = Some(std::sync::Arc::new(rendered.clone()));
        if env.cloud.is_none() {
            match self.target.resolve(ctx, &rendered.target) {
                Ok(resolved) => env.cloud = Some(connect(&resolved).await),
                Err(e) => return Tick::new(exit::FAILURE, "failed", e.to_string()),
            }
        }
        let Some(cloud) = env.cloud.as_ref() else {
            return Tick::new(exit::FAILURE, "failed", "no connection");
        };
        let options = Options {
            revision: Some(commit.clone()),
            ..Options::default()
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(cloud, &rendered, &assets, &options, tx);
        if let Err(check) = pass.check_account().await {
            let stop = crate::reconcile::Stop::from(check);
            let message = stop.explain().message;
            env.tracker.block(&message);
            return Tick::new(exit::REFUSED, "refused", message);
        }
        let observed = match pass.observe().await {
            Ok(o) => o,
            Err(e) => return Tick::new(exit::FAILURE, "failed", e.to_string()),
        };
        let (health, reasons) = match pass.loop_health(&observed).await {
            Ok(read) => read,
            Err(e) => (
                crate::reconcile::status::stacks_health(&observed, &rendered),
                vec![format!("alarms not read: {e}")],
            ),
        };
        env.health = health.name();
        env.view.health_reasons = reasons;
        env.view.stacks = page_states(&observed, &rendered, &env.view.drifted);
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
        let mut tick = Tick::new(exit::OK, "in_sync", "what runs matches the commit");
        if observed.has_changes() {
            if let Some(s) = &suspended {
                return Tick::new(
                    exit::DRIFTED,
                    "suspended",
                    format!(
                        "out of sync at this commit; suspended by {} ({}): not applied",
                        s.by, s.reason
                    ),
                );
            }
            if protected_manual {
                return Tick::new(
                    exit::DRIFTED,
                    "out_of_sync",
                    "out of sync at this commit; the environment is protected without `auto_sync: true`: waiting for `driftless deploy` or the pipeline",
                );
            }
            if !env.tracker.may_apply(now) {
                let wait = env.tracker.retry_in(now).unwrap_or_default();
                return Tick::new(
                    exit::FAILURE,
                    "backoff",
                    format!(
                        "the last attempt failed; next try in {:.1}s",
                        wait.as_secs_f64()
                    ),
                );
            }
            let settings = Settings {
                command: "reconcile",
                smoke: true,
                lock_wait: Duration::ZERO,
            };
            let work = guard::guarded(&pass, None, pass.run(&observed, Mode::Apply, &settings));
            let began = Instant::now();
            let result = work.await;
            env.pass_seconds = Some(began.elapsed().as_secs_f64());
            env.pass_events.clear();
            while let Ok(event) = rx.try_recv() {
                note_event(&mut env.pass_events, &event);
                show(&mut ctx.printer, &event);
            }
            let stopped = pass.stop_reason();
            let code = crate::reconcile::exit_code(&result, stopped);
            let policy = retry(&result, stopped);
            let message = match &result {
                Ok(report) => report.outcome.error.clone().unwrap_or_else(|| {
                    format!(
                        "{} stack(s) changed{}",
                        report.outcome.changed.len(),
                        report.outcome.content_text()
                    )
                }),
                Err(_) => match result {
                    Err(stop) => stop.explain().message,
                    Ok(_) => String::new(),
                },
            };
            env.tracker
                .record(policy, &message, now, retry_base, interval);
            if policy != Retry::NotNeeded {
                return Tick::new(code, "failed", message);
            }
            tick = Tick::new(code, "applied", message);
        } else {
            env.tracker
                .record(Retry::NotNeeded, "", now, retry_base, interval);
        }
        // At every tick: drift, healed where the environment says so.
        let drift = match pass
            .detect_drift(crate::reconcile::drift::DETECTION_TIME_LIMIT)
            .await
        {
            Ok(drift) => drift,
            Err(e) => return Tick::new(exit::FAILURE, "drift_unknown", e.to_string()),
        };
        env.drifted = drift.drifted_resources().count() + drift.settings.len();
        env.view.drifted = drifted_views(&drift);
        env.view.drift_checked = Some(unix_now());
        env.view.stacks = page_states(&observed, &rendered, &env.view.drifted);
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
        if !rendered.self_heal || suspended.is_some() || protected_manual {
            return Tick::new(exit::DRIFTED, "drifted", format!("drifted: {key}"));
        }
        let heal_options = Options {
            revision: Some(commit.clone()),
            revert_drift: true,
            ..Options::default()
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let healer = Pass::new(cloud, &rendered, &assets, &heal_options, tx);
        let settings = Settings {
            command: "reconcile",
            smoke: true,
            lock_wait: Duration::ZERO,
        };
        let result =
            guard::guarded(&healer, None, healer.run(&observed, Mode::Apply, &settings)).await;
        env.pass_events.clear();
        while let Ok(event) = rx.try_recv() {
            note_event(&mut env.pass_events, &event);
            show(&mut ctx.printer, &event);
        }
        let code = crate::reconcile::exit_code(&result, healer.stop_reason());
        env.drift_reported = None;
        match code {
            exit::OK => Tick::new(exit::OK, "healed", format!("healed: {key}")),
            _ => Tick::new(code, "drifted", format!("drifted, not all healed: {key}")),
        }
    }
}
