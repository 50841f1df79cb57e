//! `driftless watch ENV`: a first pass, then one pass per batch of saved
//! changes. Code, environment and description changes are hotswapped where
//! the environment allows it; anything else is a deploy of the affected
//! stacks. One line per pass; errors are shown and the watch goes on.

use super::Context;
use super::deploy::{
    ApplyArgs, SafetyArgs, Stop, apply_locked, smoke_may_be_skipped, smoke_runner,
};
use super::progress::{show, smoke_table};
use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use crate::cloud::Cloud;
use crate::exit;
use crate::output::Colour;
use crate::reconcile::{
    Event, LockError, Observed, Options, Outcome, Pass, Snapshot, Swapped, Verdict,
};
use crate::validate::{Failure, load_environment};
use crate::watch::{Batch, Inputs, settle};
use serde_json::{Value as Json, json};
use std::path::PathBuf;
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
    /// How long no file may change before a pass starts, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100)]
    pub debounce: u64,
}

/// Why a pass stopped early when files changed during it.
const NEWER_CHANGE: &str = "a newer change";

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

struct PassReport {
    ended: Ended,
    verdict: Option<Verdict>,
    /// Checks passed and failed, with their results when one failed.
    checks: Option<(usize, usize, Vec<crate::smoke::CheckResult>)>,
    /// A newer change or Ctrl-C stopped the pass before it finished.
    stopped_by: Option<&'static str>,
    code: u8,
}

impl PassReport {
    fn of(ended: Ended, code: u8) -> Self {
        PassReport {
            ended,
            verdict: None,
            checks: None,
            stopped_by: None,
            code,
        }
    }
}

/// What the loop listens to besides the pass.
struct Listen<'a> {
    changes: Option<&'a mut UnboundedReceiver<PathBuf>>,
    /// Changes that arrived during the pass: the next batch.
    pending: Option<Batch>,
    interrupted: bool,
}

impl WatchArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        let mut session = match Session::open(ctx, "watch", &self.environment, &self.target) {
            Ok(s) => s,
            Err(code) => return code,
        };
        if self.apply.no_smoke
            && let Err(code) = smoke_may_be_skipped(ctx, &session)
        {
            return code;
        }
        if session.requires_approval() {
            let question = if self.once {
                format!("deploy the changes to {}?", session.rendered.environment)
            } else {
                format!(
                    "apply every saved change to {} without asking again?",
                    session.rendered.environment
                )
            };
            if !approved(ctx, self.apply.yes, &question) {
                return exit::FAILURE;
            }
        }
        let rt = match runtime(ctx) {
            Ok(rt) => rt,
            Err(code) => return code,
        };
        rt.block_on(self.run(ctx, &mut session))
    }

    async fn run(&self, ctx: &mut Context, session: &mut Session) -> u8 {
        let cloud = connect(&session.target).await;
        let options = self.safety.options();
        let (changes_tx, mut changes) = unbounded_channel();
        let mut inputs = self.inputs(session);
        let mut watcher = None;
        if !self.once {
            match inputs.watch(changes_tx.clone()) {
                Ok(w) => watcher = Some(w),
                Err(e) => {
                    ctx.printer
                        .failure(&format!("cannot watch the project's files: {e}"));
                    return exit::FAILURE;
                }
            }
            ctx.printer.emit(
                json!({ "event": "watch", "state": "watching", "trees": inputs.trees, "environment_file": inputs.environment_file, "debounce_ms": self.debounce }),
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
                interrupted: false,
            };
            let report = match batch.take().map(|_| self.reload(ctx, session)) {
                Some(Err(ended)) => PassReport::of(ended, exit::INVALID),
                _ => {
                    self.pass(ctx, session, &cloud, &options, saved_at, &mut listen)
                        .await
                }
            };
            self.show_pass(ctx, number, &trigger, &report, started, saved_at);
            if self.once {
                return report.code;
            }
            if listen.interrupted {
                return self.stopped(ctx, exit::INTERRUPTED);
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
                            Some(path) => Batch::starting(path),
                            None => return self.stopped(ctx, exit::FAILURE),
                        },
                        _ = tokio::signal::ctrl_c() => return self.stopped(ctx, exit::OK),
                    }
                }
            };
            let quiet = Duration::from_millis(self.debounce);
            let settled = tokio::select! {
                alive = settle(&mut changes, &mut next, quiet, quiet * 20 + Duration::from_secs(1)) => alive,
                _ = tokio::signal::ctrl_c() => return self.stopped(ctx, exit::OK),
            };
            if !settled || watcher.is_none() {
                return self.stopped(ctx, exit::FAILURE);
            }
            batch = Some(next);
        }
    }

    fn inputs(&self, session: &Session) -> Inputs {
        let code = session
            .project
            .environment(&self.environment)
            .map(|env| crate::asset::code_dirs(&session.project, env))
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
    /// stack operations under way) and Ctrl-C.
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
        let work = self.work(&pass, session, cloud, saved_at);
        tokio::pin!(work);
        let mut checks = None;
        let mut stopped_by = None;
        let mut on_event = |ctx: &mut Context, event: Event| {
            if let Event::Smoke {
                passed,
                failed,
                results,
                ..
            } = &event
            {
                checks = Some((*passed, *failed, results.clone()));
            }
            if ctx.printer.format() == crate::output::Format::Json {
                show(&mut ctx.printer, &event);
            }
        };
        let mut report = loop {
            tokio::select! {
                report = &mut work => break report,
                Some(event) = events.recv() => on_event(ctx, event),
                Some(path) = async {
                    match listen.changes.as_mut() {
                        Some(changes) => changes.recv().await,
                        None => std::future::pending().await,
                    }
                } => {
                    match &mut listen.pending {
                        Some(batch) => { batch.paths.insert(path); }
                        None => {
                            listen.pending = Some(Batch::starting(path));
                            stopped_by.get_or_insert(NEWER_CHANGE);
                            pass.stop();
                        }
                    }
                }
                signal = tokio::signal::ctrl_c() => {
                    if signal.is_ok() {
                        if listen.interrupted {
                            eprintln!("interrupted again: quitting now; stack operations under way go on in CloudFormation, and the next pass picks them up");
                            std::process::exit(i32::from(exit::INTERRUPTED));
                        }
                        listen.interrupted = true;
                        stopped_by = Some("Ctrl-C");
                        pass.stop();
                    }
                }
            }
        };
        while let Ok(event) = events.try_recv() {
            on_event(ctx, event);
        }
        report.checks = checks;
        report.stopped_by = stopped_by;
        report
    }

    async fn work(
        &self,
        pass: &Pass<'_>,
        session: &Session,
        cloud: &Cloud,
        saved_at: Instant,
    ) -> PassReport {
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
        let smoke = !self.apply.no_smoke;
        let mut why = None;
        if session.rendered.hotswap {
            let plan = pass.hotswap_plan(&observed);
            if plan.carries_everything() && !plan.targets.is_empty() {
                return self
                    .hotswap(pass, session, cloud, &observed, &plan, saved_at, smoke)
                    .await;
            }
            why = plan.needs_cloudformation.into_iter().next();
        }
        let lock_wait = Duration::from_secs(self.apply.lock_wait);
        match apply_locked(pass, &observed, session, cloud, smoke, "watch", lock_wait).await {
            Ok((outcome, verdict)) => {
                let code = match (&verdict, outcome.ok()) {
                    (_, false) => exit::FAILURE,
                    (Some(Verdict::Passed) | None, true) => exit::OK,
                    (Some(Verdict::RolledBack), true) => exit::SMOKE_ROLLED_BACK,
                    (Some(Verdict::Failed(_)), true) => exit::SMOKE_FAILED,
                };
                let outcome = Box::new(outcome);
                let mut report = PassReport::of(Ended::Deployed { outcome, why }, code);
                report.verdict = verdict;
                report
            }
            Err(stop) => stop_report(stop),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn hotswap(
        &self,
        pass: &Pass<'_>,
        session: &Session,
        cloud: &Cloud,
        observed: &Observed,
        plan: &crate::reconcile::HotswapPlan,
        saved_at: Instant,
        smoke: bool,
    ) -> PassReport {
        let runner = match smoke_runner(session, cloud, smoke) {
            Ok(runner) => runner,
            Err(stop) => return stop_report(stop),
        };
        let Some(bucket) = observed.asset_bucket.as_deref() else {
            return PassReport::of(
                Ended::Failed("the bootstrap stack is not deployed".into()),
                exit::FAILURE,
            );
        };
        let lock = match pass
            .lock(bucket, "watch", Duration::from_secs(self.apply.lock_wait))
            .await
        {
            Ok(lock) => lock,
            Err(LockError::Busy(holder)) => return stop_report(Stop::Locked(holder)),
            Err(LockError::Cloud(e)) => return stop_report(Stop::Cloud(e)),
        };
        let swapped = pass.hotswap(plan, saved_at).await;
        for s in swapped.iter().flatten() {
            pass.emit(Event::Hotswapped(s.clone()));
        }
        let verdict = match (&swapped, &runner) {
            (Ok(_), Some(runner)) => {
                let mut outcome = Outcome {
                    deployed: observed.stacks.clone(),
                    ..Default::default()
                };
                Some(pass.gate(runner, &Snapshot::default(), &mut outcome).await)
            }
            _ => None,
        };
        let released = lock.release().await;
        match (swapped, released) {
            (Err(e), _) | (Ok(_), Err(e)) => {
                PassReport::of(Ended::Failed(e.to_string()), exit::FAILURE)
            }
            (Ok(swapped), Ok(())) => {
                let code = match verdict {
                    Some(Verdict::Failed(_) | Verdict::RolledBack) => exit::SMOKE_FAILED,
                    _ => exit::OK,
                };
                let mut report = PassReport::of(Ended::Hotswapped(swapped), code);
                report.verdict = verdict;
                report
            }
        }
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
                if let Some(error) = &outcome.error {
                    text.push_str(&format!("; {error}"));
                }
                let colour = if outcome.ok() {
                    Colour::Green
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
        if let Some((passed, failed, _)) = &report.checks {
            text.push_str(&format!(" · checks {passed}/{} passed", passed + failed));
        }
        if let Some(Verdict::Failed(reason)) = &report.verdict {
            text.push_str(&format!(" · {reason}"));
        }
        if let Some(by) = report.stopped_by {
            text.push_str(&format!(" · stopped by {by}"));
            if by == NEWER_CHANGE && result == "failed" {
                result = "superseded";
            }
        }
        let label = if trigger.is_empty() {
            "first pass".to_string()
        } else if trigger.len() > 3 {
            format!("{} and {} more", trigger[..3].join(", "), trigger.len() - 3)
        } else {
            trigger.join(", ")
        };
        let line = format!(
            "[{number}] {label}: {} ({seconds:.2}s)",
            p.paint(&text, colour)
        );
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
            "checks": report.checks.as_ref().map(|(p, f, _)| json!({ "passed": p, "failed": f })),
            "stopped_by": report.stopped_by,
            "message": text,
            "exit_code": report.code,
            "save_to_done_ms": saved_at.elapsed().as_millis() as u64,
            "seconds": seconds,
        });
        let table = report
            .checks
            .as_ref()
            .filter(|(_, failed, _)| *failed > 0)
            .map(|(_, _, results)| smoke_table(p, "release", results, 0.0));
        ctx.printer.emit(event, || match table {
            Some(table) => format!("{line}\n{table}"),
            None => line,
        });
        ctx.printer.flush();
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

fn stop_report(stop: Stop) -> PassReport {
    let (message, code, hazards) = stop.explain();
    let ended = if hazards.is_empty() {
        Ended::Failed(message)
    } else {
        let list: Vec<String> = hazards
            .iter()
            .map(|h| format!("{} {}", h.stack, h.logical_id))
            .collect();
        Ended::Refused(format!("{message}: {}", list.join(", ")))
    };
    PassReport::of(ended, code)
}
