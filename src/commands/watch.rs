//! `driftless watch ENV`: a first pass, then one pass per batch of saved
//! changes. Code, environment and description changes are hotswapped where
//! the environment allows it; anything else is a deploy of the affected
//! stacks. One line per pass; errors are shown and the watch goes on.

use super::deploy::{ApplyArgs, SafetyArgs, refuse_skipped_smoke};
use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::assets::Builds;
use crate::cloud::Cloud;
use crate::exit;
use crate::load::{Failure, load_environment};
use crate::output::Colour;
use crate::output::show::{show, smoke_table};
use crate::reconcile::{
    Event, Mode, Options, Outcome, Pass, Settings, Stop, StopReason, Swapped, Verdict, guard,
};
use crate::watcher::{Batch, Change, Inputs, Start, settle};
use serde_json::{Value as Json, json};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// Run the first pass only and exit with its result.
    #[arg(long)]
    pub once: bool,
    /// Wait until no file has changed for this long (milliseconds) before a
    /// pass starts. Without it, a pass starts as soon as a file is
    /// completely written, and what follows in the burst supersedes it.
    #[arg(long, value_name = "MS")]
    pub debounce: Option<u64>,
}

/// How one pass ended.
enum Ended {
    Unchanged,
    Hotswapped(Vec<Swapped>),
    /// Through CloudFormation; `why` says why hotswap could not carry it.
    Deployed {
        outcome: Box<Outcome>,
        why: Option<String>,
    },
    Invalid(usize),
    Refused(String),
    Failed(String),
}

/// The checks of a pass, as their `smoke` event gave them.
struct Checks {
    passed: usize,
    failed: usize,
    results: Vec<crate::smoke::CheckResult>,
    seconds: f64,
}

struct PassReport {
    ended: Ended,
    verdict: Option<Verdict>,
    /// Checks passed and failed, with their results when one failed.
    checks: Option<Checks>,
    /// A newer change or Ctrl-C stopped the pass before it finished.
    stopped_by: Option<StopReason>,
    /// The environment's checks were to run after the pass.
    checks_expected: bool,
    code: u8,
}

impl PassReport {
    fn of(ended: Ended, code: u8) -> Self {
        PassReport {
            ended,
            verdict: None,
            checks: None,
            stopped_by: None,
            checks_expected: false,
            code,
        }
    }
}

/// What the loop listens to besides the pass.
struct Listen<'a> {
    changes: Option<&'a mut UnboundedReceiver<Change>>,
    /// Changes that arrived during the pass: the next batch.
    pending: Option<Batch>,
}

impl WatchArgs {
    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let no_smoke = self.apply.no_smoke;
        let mut session = Session::open(
            ctx,
            "watch",
            &self.environment,
            &self.target,
            Builds::Run,
            &|env| {
                self.safety.check(env)?;
                refuse_skipped_smoke(env, no_smoke)
            },
        )?;
        if session.requires_approval() {
            let question = if self.once {
                format!("deploy the changes to {}?", session.rendered.environment)
            } else {
                format!(
                    "apply every saved change to {} without asking again?",
                    session.rendered.environment
                )
            };
            approved(ctx, self.apply.yes, &question)?;
        }
        let rt = runtime()?;
        let started = Instant::now();
        let (passes, code) = rt.block_on(self.run(ctx, &mut session));
        let summary = Summary::new(
            json!({ "command": "watch", "passes": passes, "duration_ms": started.elapsed().as_millis() as u64 }),
            String::new(),
        );
        match code {
            exit::OK => Ok(summary),
            code => Err(CommandError::reported(ErrorKind::of_code(code)).with_summary(summary)),
        }
    }

    /// The passes; returns how many ran and the exit code.
    async fn run(&self, ctx: &mut Context, session: &mut Session) -> (usize, u8) {
        let cloud = connect(&session.target).await;
        let mut options = self.safety.options(&session.rendered);
        self.apply.schedule.apply_to(&mut options);
        let (changes_tx, mut changes) = unbounded_channel();
        let mut inputs = self.inputs(session);
        let mut watcher = None;
        if !self.once {
            match inputs.watch(changes_tx.clone()) {
                Ok(w) => watcher = Some(w),
                Err(e) => {
                    ctx.printer
                        .failure(&format!("cannot watch the project's files: {e}"));
                    return (0, exit::FAILURE);
                }
            }
            ctx.printer.emit(
                json!({ "event": "watch", "state": "watching", "trees": inputs.trees, "environment_file": inputs.environment_file, "debounce_ms": self.debounce, "start": if self.debounce.is_some() { "quiet" } else { "on_save" } }),
                || format!("watching {} for changes (Ctrl-C to stop)", self.watched(&inputs)),
            );
        }
        let mut number = 0;
        let mut batch: Option<Batch> = None;
        loop {
            number += 1;
            let trigger = batch
                .as_ref()
                .map(|b| shown_paths(&inputs, b))
                .unwrap_or_default();
            let saved_at = batch.as_ref().map_or_else(Instant::now, |b| b.first);
            let started = Instant::now();
            let mut listen = Listen {
                changes: (!self.once).then_some(&mut changes),
                pending: None,
            };
            let report = match batch.take().map(|_| self.reload(ctx, session)) {
                Some(Err(ended)) => PassReport::of(ended, exit::INVALID),
                _ => {
                    self.pass(ctx, session, &cloud, &options, saved_at, &mut listen)
                        .await
                }
            };
            let mut report = report;
            report.checks_expected = !session.rendered.smoke.is_empty() && !self.apply.no_smoke;
            self.show_pass(ctx, number, &trigger, &report, started, saved_at);
            if self.once {
                return (number, report.code);
            }
            if report.stopped_by == Some(StopReason::Interrupt) {
                return (number, self.stopped(ctx, exit::INTERRUPTED));
            }
            // The files may name new code folders: watch those too.
            let fresh = self.inputs(session);
            if fresh != inputs {
                watcher = None;
                match fresh.watch(changes_tx.clone()) {
                    Ok(w) => watcher = Some(w),
                    Err(e) => ctx
                        .printer
                        .failure(&format!("cannot watch the project's files: {e}")),
                }
                inputs = fresh;
            }
            let mut next = match listen.pending {
                Some(pending) => pending,
                None => {
                    tokio::select! {
                        path = changes.recv() => match path {
                            Some(change) => Batch::starting(change),
                            None => return (number, self.stopped(ctx, exit::FAILURE)),
                        },
                        _ = guard::interrupted() => return (number, self.stopped(ctx, exit::OK)),
                    }
                }
            };
            let (start, cap) = self.start();
            let settled = tokio::select! {
                alive = settle(&mut changes, &mut next, start, cap) => alive,
                _ = guard::interrupted() => return (number, self.stopped(ctx, exit::OK)),
            };
            if !settled || watcher.is_none() {
                return (number, self.stopped(ctx, exit::FAILURE));
            }
            batch = Some(next);
        }
    }

    /// When a batch is ready, and the longest it may keep gathering.
    fn start(&self) -> (Start, Duration) {
        match self.debounce {
            Some(ms) => {
                let quiet = Duration::from_millis(ms);
                (Start::Quiet(quiet), quiet * 20 + Duration::from_secs(1))
            }
            None => (
                Start::OnSave {
                    fallback: Duration::from_millis(100),
                },
                Duration::from_secs(3),
            ),
        }
    }

    fn inputs(&self, session: &Session) -> Inputs {
        let code = session
            .project
            .environment(&self.environment)
            .map(|env| crate::assets::code_dirs(&session.project, env))
            .unwrap_or_default();
        Inputs::new(&session.project.root, &self.environment, code)
    }

    fn watched(&self, inputs: &Inputs) -> String {
        let mut shown: Vec<String> = inputs.trees.iter().map(|t| inputs.shown(t)).collect();
        shown.push(inputs.shown(&inputs.environment_file));
        shown.join(", ")
    }

    fn stopped(&self, ctx: &mut Context, code: u8) -> u8 {
        ctx.printer
            .emit(json!({ "event": "watch", "state": "stopped" }), || {
                "watch stopped".into()
            });
        code
    }

    /// Loads the files again; on errors the last good state stays.
    fn reload(&self, ctx: &mut Context, session: &mut Session) -> Result<(), Ended> {
        match load_environment(&ctx.project, &self.environment) {
            Ok((project, rendered, assets)) => {
                if rendered.target != session.rendered.target {
                    return Err(Ended::Failed(format!(
                        "the target changed to {}; stop the watch and start it again to follow it",
                        rendered.target.describe()
                    )));
                }
                session.project = project;
                session.rendered = rendered;
                session.assets = assets;
                Ok(())
            }
            Err(Failure::Invalid(diagnostics)) => {
                for d in &diagnostics {
                    ctx.printer.diagnostic(d);
                }
                Err(Ended::Invalid(diagnostics.len()))
            }
            Err(Failure::Load(e)) => Err(Ended::Failed(e.to_string())),
        }
    }

    /// One pass, while listening for newer changes (which stop it after the
    /// stack operations under way) and Ctrl-C (the guard's).
    async fn pass(
        &self,
        ctx: &mut Context,
        session: &Session,
        cloud: &Cloud,
        options: &Options,
        saved_at: Instant,
        listen: &mut Listen<'_>,
    ) -> PassReport {
        let (tx, mut events) = unbounded_channel();
        let pass = Pass::new(cloud, &session.rendered, &session.assets, options, tx);
        let work = guard::guarded(&pass, None, self.work(&pass, session, saved_at));
        tokio::pin!(work);
        let mut checks = None;
        let mut on_event = |ctx: &mut Context, event: Event| {
            if let Event::Smoke {
                passed,
                failed,
                results,
                seconds,
                ..
            } = &event
            {
                checks = Some(Checks {
                    passed: *passed,
                    failed: *failed,
                    results: results.clone(),
                    seconds: *seconds,
                });
            }
            if ctx.printer.format() == crate::output::Format::Json {
                show(&mut ctx.printer, &event);
            }
        };
        let mut report = loop {
            tokio::select! {
                report = &mut work => break report,
                Some(event) = events.recv() => on_event(ctx, event),
                Some(change) = async {
                    match listen.changes.as_mut() {
                        Some(changes) => changes.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    match &mut listen.pending {
                        Some(batch) => batch.add(change),
                        None => {
                            listen.pending = Some(Batch::starting(change));
                            pass.stop(StopReason::NewerChange);
                        }
                    }
                }
            }
        };
        while let Ok(event) = events.try_recv() {
            on_event(ctx, event);
        }
        report.checks = checks;
        report.stopped_by = pass.stop_reason();
        report
    }

    async fn work(&self, pass: &Pass<'_>, session: &Session, saved_at: Instant) -> PassReport {
        let observed = match pass.observe().await {
            Ok(o) => o,
            Err(e) => return PassReport::of(Ended::Failed(e.to_string()), exit::FAILURE),
        };
        if let Some(hazard) = observed.hazards.first() {
            let text = format!(
                "{} {} would be {}; nothing was changed (deploy with --allow-replace to allow it)",
                hazard.stack, hazard.logical_id, hazard.action
            );
            return PassReport::of(Ended::Refused(text), exit::REFUSED);
        }
        if !observed.has_changes() {
            return PassReport::of(Ended::Unchanged, exit::OK);
        }
        let settings = Settings {
            command: "watch",
            smoke: !self.apply.no_smoke,
            lock_wait: Duration::from_secs(self.apply.lock_wait),
        };
        let plan = session
            .rendered
            .hotswap
            .then(|| pass.hotswap_plan(&observed));
        let why = plan
            .as_ref()
            .and_then(|p| p.needs_cloudformation.first().cloned());
        let mode = match &plan {
            Some(plan) if plan.carries_everything() && !plan.is_empty() => {
                Mode::Hotswap { plan, saved_at }
            }
            _ => Mode::Apply,
        };
        let hotswap = matches!(mode, Mode::Hotswap { .. });
        let result = pass.run(&observed, mode, &settings).await;
        let code = crate::reconcile::exit_code(&result, pass.stop_reason());
        let report = match result {
            Ok(report) => report,
            Err(stop) => return stop_report(stop, code),
        };
        let ended = match (hotswap, &report.outcome.error) {
            (true, Some(error)) => Ended::Failed(error.clone()),
            (true, None) => Ended::Hotswapped(report.swapped),
            (false, _) => Ended::Deployed {
                outcome: Box::new(report.outcome),
                why,
            },
        };
        let mut pass_report = PassReport::of(ended, code);
        pass_report.verdict = report.verdict;
        pass_report
    }

    fn show_pass(
        &self,
        ctx: &mut Context,
        number: usize,
        trigger: &[String],
        report: &PassReport,
        started: Instant,
        saved_at: Instant,
    ) {
        let seconds = started.elapsed().as_secs_f64();
        let p = &ctx.printer;
        let (mut result, mut text, colour) = match &report.ended {
            Ended::Unchanged => ("unchanged", "no changes".to_string(), Colour::Dim),
            Ended::Hotswapped(swapped) => {
                let what: Vec<String> = swapped
                    .iter()
                    .map(|s| {
                        let changed = if s.changed.is_empty() {
                            "in line with CloudFormation".to_string()
                        } else {
                            s.changed.join(", ")
                        };
                        format!("{} ({changed})", s.logical_id)
                    })
                    .collect();
                let live = swapped.iter().filter_map(|s| s.live_ms).max();
                let mut text = format!("hotswapped {}", what.join(", "));
                if let Some(ms) = live {
                    text.push_str(&format!(", live {ms} ms after the save"));
                }
                ("hotswapped", text, Colour::Green)
            }
            Ended::Deployed { outcome, why } => {
                let mut text = format!(
                    "deployed: {} created, {} updated, {} unchanged",
                    outcome.created, outcome.updated, outcome.unchanged
                );
                text.push_str(&outcome.content_text());
                if outcome.rolled_back > 0 {
                    text.push_str(&format!(", {} rolled back", outcome.rolled_back));
                }
                if outcome.hotswaps_settled > 0 {
                    text.push_str(&format!(
                        ", {} hotswapped function(s) back in line",
                        outcome.hotswaps_settled
                    ));
                }
                if let Some(why) = why {
                    text.push_str(&format!(" (not hotswappable: {why})"));
                }
                // A pass a newer save stopped is picked up by the next one:
                // no advice to deploy again, and no failure.
                let superseded = report.stopped_by == Some(StopReason::NewerChange);
                if let Some(error) = outcome.error.as_ref().filter(|_| !superseded) {
                    text.push_str(&format!("; {error}"));
                }
                let colour = if outcome.ok() {
                    Colour::Green
                } else if superseded {
                    Colour::Yellow
                } else {
                    Colour::Red
                };
                let result = if outcome.ok() { "deployed" } else { "failed" };
                (result, text, colour)
            }
            Ended::Invalid(count) => (
                "invalid",
                format!("{count} error(s) above; keeping the last good state until the next save"),
                Colour::Red,
            ),
            Ended::Refused(reason) => ("refused", format!("refused: {reason}"), Colour::Red),
            Ended::Failed(error) => (
                "failed",
                format!("failed: {error}; the next save retries"),
                Colour::Red,
            ),
        };
        if let Some(c) = &report.checks {
            text.push_str(&format!(
                " · checks {}/{} passed in {:.2}s",
                c.passed,
                c.passed + c.failed,
                c.seconds
            ));
        } else if report.stopped_by == Some(StopReason::NewerChange)
            && matches!(report.ended, Ended::Hotswapped(_))
            && report.checks_expected
        {
            text.push_str(" · checks not run (superseded)");
        }
        if let Some(Verdict::Failed(reason)) = &report.verdict {
            text.push_str(&format!(" · {reason}"));
        }
        if let Some(by) = report.stopped_by.map(stopped_by) {
            text.push_str(&format!(" · stopped by {by}"));
            if report.stopped_by == Some(StopReason::NewerChange) && result == "failed" {
                result = "superseded";
                text.push_str("; the next pass goes on from here");
            }
        }
        // A check that failed makes the pass a failure, whatever it deployed.
        let checks_failed = report.checks.as_ref().is_some_and(|c| c.failed > 0)
            || matches!(
                report.verdict,
                Some(Verdict::Failed(_) | Verdict::RolledBack)
            );
        let colour = if checks_failed { Colour::Red } else { colour };
        let label = if trigger.is_empty() {
            "first pass".to_string()
        } else if trigger.len() > 3 {
            format!("{} and {} more", trigger[..3].join(", "), trigger.len() - 3)
        } else {
            trigger.join(", ")
        };
        let line = format!("[{number}] {label}: {text} (took {seconds:.2}s)");
        let swapped = match &report.ended {
            Ended::Hotswapped(s) => serde_json::to_value(s).unwrap_or(Json::Null),
            _ => Json::Null,
        };
        let outcome = match &report.ended {
            Ended::Deployed { outcome, .. } => serde_json::to_value(outcome).unwrap_or(Json::Null),
            _ => Json::Null,
        };
        let event = json!({
            "event": "watch_pass",
            "pass": number,
            "trigger": trigger,
            "result": result,
            "hotswapped": swapped,
            "stacks": outcome,
            "checks": report.checks.as_ref().map(|c| json!({ "passed": c.passed, "failed": c.failed, "seconds": c.seconds })),
            "stopped_by": report.stopped_by.map(stopped_by),
            "message": text,
            "exit_code": report.code,
            "save_to_done_ms": saved_at.elapsed().as_millis() as u64,
            "seconds": seconds,
        });
        let table = report
            .checks
            .as_ref()
            .filter(|c| c.failed > 0)
            .map(|c| smoke_table(p, "release", &c.results, c.seconds));
        ctx.printer.emit_outcome(event, colour, || line);
        if let Some(table) = table {
            ctx.printer.note(|| table);
        }
        ctx.printer.flush();
    }
}

/// What stopped a pass, as the watch line and its event say it.
fn stopped_by(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Interrupt => "Ctrl-C",
        other => other.describe(),
    }
}

/// The changed paths, as the user knows them. Files gone again by now (an
/// editor's or sed's temporary copies) are left out unless nothing else is.
fn shown_paths(inputs: &Inputs, batch: &Batch) -> Vec<String> {
    let existing: Vec<String> = batch
        .paths
        .iter()
        .filter(|p| p.exists())
        .map(|p| inputs.shown(p))
        .collect();
    if existing.is_empty() {
        batch.paths.iter().map(|p| inputs.shown(p)).collect()
    } else {
        existing
    }
}

fn stop_report(stop: Stop, code: u8) -> PassReport {
    let explained = stop.explain();
    let ended = if explained.hazards.is_empty() {
        Ended::Failed(explained.message)
    } else {
        let list: Vec<String> = explained
            .hazards
            .iter()
            .map(|h| format!("{} {}", h.stack, h.logical_id))
            .collect();
        Ended::Refused(format!("{}: {}", explained.message, list.join(", ")))
    };
    PassReport::of(ended, code)
}
