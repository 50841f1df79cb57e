//! `driftless deploy ENV` and `driftless plan ENV`: the reconcile pass, with
//! or without applying it.

use super::Context;
use super::progress::{self, show, while_running};
use super::session::{Session, approved};
use super::target::{TargetArgs, connect, runtime};
use crate::cloud::lock::Holder;
use crate::exit;
use crate::plan::guard::Hazard;
use crate::reconcile::{
    AccountCheck, Event, LockError, Observed, Options, Outcome, Pass, Snapshot,
};
use crate::render::RenderedEnvironment;
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The environment (a file in environments/).
    pub environment: String,
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub safety: SafetyArgs,
    #[command(flatten)]
    pub apply: ApplyArgs,
    /// The time limit of the whole pass: when it runs out, nothing new is
    /// started, what runs finishes, and the deploy fails.
    #[arg(long, value_name = "SECONDS", default_value_t = 3600)]
    pub timeout: u64,
}

/// How `deploy` and `watch` apply what they planned.
#[derive(Debug, Default, clap::Args)]
pub struct ApplyArgs {
    /// Apply without asking, even where the environment requires approval.
    #[arg(long)]
    pub yes: bool,
    /// Wait this long for another deployer's lock on the environment
    /// before giving up (default: fail at once, naming the holder).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    pub lock_wait: u64,
    /// Do not run the environment's smoke checks after a pass (refused
    /// where the environment is protected: there they gate the release).
    #[arg(long)]
    pub no_smoke: bool,
}

/// What the user allows a pass to do beyond the default, shared by `plan`
/// and `deploy` so that a plan shows what the deploy would do.
#[derive(Debug, Default, clap::Args)]
pub struct SafetyArgs {
    /// Allow this retained resource (`unit.resource` or a logical id) to be
    /// replaced or removed; once per resource.
    #[arg(long = "allow-replace", value_name = "UNIT.RESOURCE")]
    pub allow_replace: Vec<String>,
    /// Delete the stacks of this environment that its layout no longer names.
    #[arg(long)]
    pub prune: bool,
    /// Delete and create again a stateful stack whose first create failed
    /// (ROLLBACK_COMPLETE); stateless ones are recreated without asking.
    #[arg(long)]
    pub recreate_failed: bool,
}

impl SafetyArgs {
    pub(super) fn options(&self) -> Options {
        Options {
            allow_replace: self.allow_replace.iter().cloned().collect(),
            prune: self.prune,
            recreate_failed: self.recreate_failed,
        }
    }
}

fn plan_counts(observed: &Observed) -> Json {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &observed.planned {
        *counts.entry(p.plan.action.name()).or_default() += 1;
    }
    json!({ "actions": counts, "drift": observed.drift.len(), "hotswapped": observed.hotswapped.len() })
}

fn show_plan(ctx: &mut Context, observed: &Observed) {
    for planned in &observed.planned {
        show(&mut ctx.printer, &Event::Plan(planned.plan.clone()));
    }
    for drift in &observed.drift {
        show(&mut ctx.printer, &Event::Drift(drift.clone()));
    }
    for drift in &observed.hotswapped {
        show(&mut ctx.printer, &Event::HotswapDrift(drift.clone()));
    }
    for orphan in &observed.orphans {
        let event = Event::Orphan {
            stack: orphan.stack.name.clone(),
            status: orphan.stack.status.clone(),
            retained: orphan.retained.clone(),
            action: if observed.prune { "delete" } else { "kept" },
        };
        show(&mut ctx.printer, &event);
    }
    for hazard in &observed.hazards {
        show(&mut ctx.printer, &Event::Refused(hazard.clone()));
    }
    for stack in &observed.unprotected {
        ctx.printer.emit(
            json!({ "event": "protection", "stack": stack, "termination_protection": false }),
            || {
                format!(
                    "  {stack}: termination protection is off; deploy turns it on (protect: true)"
                )
            },
        );
    }
}

/// The first `GET` route without path parameters, to show a `curl` line.
fn sample_get_path(rendered: &RenderedEnvironment) -> Option<String> {
    let mut paths: Vec<String> = rendered
        .stacks
        .iter()
        .filter_map(|s| serde_json::from_str::<Json>(&s.template).ok())
        .flat_map(|t| {
            t.get("Resources")
                .and_then(Json::as_object)
                .map(|r| r.values().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .filter(|r| r.get("Type").and_then(Json::as_str) == Some("AWS::ApiGatewayV2::Route"))
        .filter_map(|r| {
            r.pointer("/Properties/RouteKey")
                .and_then(Json::as_str)
                .and_then(|k| k.strip_prefix("GET "))
                .filter(|p| !p.contains('{'))
                .map(str::to_string)
        })
        .collect();
    paths.sort();
    paths.into_iter().next()
}

fn show_endpoints(ctx: &mut Context, session: &Session, outcome: &Outcome) {
    let mut urls = Vec::new();
    for stack in &session.rendered.stacks {
        let Some(d) = outcome.deployed.get(&stack.name) else {
            continue;
        };
        for key in &stack.outputs {
            if let Some(value) = d.outputs.get(key).filter(|v| v.starts_with("http")) {
                let label = d
                    .output_descriptions
                    .get(key)
                    .cloned()
                    .unwrap_or(key.clone());
                urls.push((label, value.clone()));
            }
        }
    }
    let path = sample_get_path(&session.rendered);
    let header = session
        .target
        .settings
        .endpoint
        .as_ref()
        .and_then(|_| crate::local::account_authorization(&session.target.settings.region))
        .map(|value| format!("Authorization: {value}"));
    for (label, url) in urls {
        let curl = path.as_ref().map(|p| {
            let header = header
                .as_ref()
                .map(|h| format!(" -H '{h}'"))
                .unwrap_or_default();
            format!("curl -s{header} {url}{p}")
        });
        ctx.printer.emit(
            json!({ "event": "endpoint", "output": label, "url": url, "try": curl }),
            || {
                let mut text = format!("{label}: {url}");
                if let Some(curl) = &curl {
                    text.push_str(&format!("\n  try it: {curl}"));
                }
                text
            },
        );
    }
}

/// What `deploy` adds to `plan`.
pub struct Apply {
    pub yes: bool,
    /// Run the smoke checks after the pass (where there are any).
    pub smoke: bool,
    pub lock_wait: Duration,
    pub timeout: Duration,
}

/// Runs beside a pass: the first Ctrl-C or the deadline stops new work and
/// reports what is in flight; a second Ctrl-C quits at once. Never returns.
async fn stop_on_signal_or_deadline(
    pass: &Pass<'_>,
    timeout: Duration,
    reason: &std::cell::Cell<Option<&'static str>>,
) -> std::convert::Infallible {
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut timed_out = false;
    loop {
        let why = tokio::select! {
            signal = tokio::signal::ctrl_c() => {
                if signal.is_err() {
                    // No signal handling here: only the deadline remains.
                    if timed_out {
                        std::future::pending::<()>().await;
                    }
                    (&mut deadline).await;
                    "timeout"
                } else {
                    "interrupt"
                }
            }
            _ = &mut deadline, if !timed_out => "timeout",
        };
        if why == "timeout" {
            timed_out = true;
        }
        if why == "interrupt" && reason.get() == Some("interrupt") {
            eprintln!(
                "interrupted again: quitting now; stack operations under way go on in CloudFormation, and the next deploy picks them up"
            );
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
        reason.set(Some(why));
        let in_flight = pass.stop();
        pass.emit(Event::Stopping {
            reason: why,
            in_flight,
        });
    }
}

/// Why a deploy stopped before applying.
pub(super) enum Stop {
    Cloud(crate::cloud::CloudError),
    Locked(Holder),
    Refused(Vec<Hazard>),
    WrongAccount(String),
    /// Something the deploying process must provide is missing.
    Input(String),
    /// The deploying process cannot do its part (no TLS roots, ...).
    Setup(String),
}

impl Stop {
    /// The message, the exit code, and the refused changes to show.
    pub(super) fn explain(self) -> (String, u8, Vec<Hazard>) {
        let (message, code) = match self {
            Stop::Cloud(e) => (e.to_string(), exit::FAILURE),
            Stop::WrongAccount(message) => (message, exit::REFUSED),
            Stop::Input(message) => (message, exit::INVALID),
            Stop::Setup(message) => (message, exit::FAILURE),
            Stop::Locked(holder) => (
                format!(
                    "the environment is locked by {} ({}, expiring in {}s); nothing was changed. Try again later, or pass --lock-wait SECONDS to wait for it",
                    holder.owner,
                    holder.command,
                    holder.expires.saturating_sub(crate::cloud::lock::now())
                ),
                exit::LOCKED,
            ),
            Stop::Refused(hazards) => {
                return (
                    "a retained resource would be replaced or removed; nothing was changed".into(),
                    exit::REFUSED,
                    hazards,
                );
            }
        };
        (message, code, Vec::new())
    }
}

/// Secrets read from the environment must all be set before anything
/// changes, not found missing half way through a pass.
fn missing_secrets(rendered: &RenderedEnvironment) -> Result<(), String> {
    let missing: BTreeSet<&str> = rendered
        .stacks
        .iter()
        .flat_map(|s| &s.parameters)
        .filter_map(|p| match &p.source {
            crate::render::ParameterSource::Env { var } => Some(var.as_str()),
            _ => None,
        })
        .filter(|var| std::env::var(var).map_or(true, |v| v.is_empty()))
        .collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.into_iter().collect();
        return Err(format!(
            "secret param(s) read from the environment variable(s) {}, which are not set; export them before deploying. Nothing was changed",
            list.join(", ")
        ));
    }
    Ok(())
}

pub(super) fn stopped(
    ctx: &mut Context,
    stop: Stop,
    command: &str,
    started: Instant,
    cloud: &crate::cloud::Cloud,
) -> u8 {
    let (message, code, hazards) = stop.explain();
    for hazard in hazards {
        show(&mut ctx.printer, &Event::Refused(hazard));
    }
    ctx.printer.failure(&message);
    progress::summary(
        &mut ctx.printer,
        command,
        false,
        Json::Null,
        started,
        &cloud.calls.summary(),
        "stopped before applying".into(),
    );
    code
}

/// `--no-smoke` is refused where the checks gate every release.
pub(super) fn smoke_may_be_skipped(ctx: &mut Context, session: &Session) -> Result<(), u8> {
    if session.rendered.protect && !session.rendered.smoke.is_empty() {
        let message = format!(
            "{} is protected: its smoke checks gate every release, so --no-smoke is refused",
            session.rendered.environment
        );
        ctx.printer.failure(&message);
        return Err(exit::USAGE);
    }
    Ok(())
}

/// The runner for the environment's checks, when they are to run; their
/// header variables must all be set first.
pub(super) fn smoke_runner(
    session: &Session,
    cloud: &crate::cloud::Cloud,
    smoke: bool,
) -> Result<Option<crate::smoke::Runner>, Stop> {
    if !smoke || session.rendered.smoke.is_empty() {
        return Ok(None);
    }
    super::smoke::unset_vars(&session.rendered).map_err(Stop::Input)?;
    super::smoke::runner(&session.target, cloud)
        .map(Some)
        .map_err(Stop::Setup)
}

/// Applies a planned pass: the account guard, the bootstrap stack, the
/// environment's lock, a fresh look under it, the waves, then the smoke
/// checks (and their rollback) while the lock is still held.
pub(super) async fn apply_locked(
    pass: &Pass<'_>,
    observed: &Observed,
    session: &Session,
    cloud: &crate::cloud::Cloud,
    smoke: bool,
    command: &str,
    lock_wait: Duration,
) -> Result<(Outcome, Option<crate::reconcile::Verdict>), Stop> {
    missing_secrets(&session.rendered).map_err(Stop::Input)?;
    let runner = smoke_runner(session, cloud, smoke)?;
    pass.check_account().await.map_err(|e| match e {
        AccountCheck::Wrong(message) => Stop::WrongAccount(message),
        AccountCheck::Cloud(e) => Stop::Cloud(e),
    })?;
    let bucket = pass.bootstrap(observed).await.map_err(Stop::Cloud)?;
    let lock = pass
        .lock(&bucket, command, lock_wait)
        .await
        .map_err(|e| match e {
            LockError::Busy(holder) => Stop::Locked(holder),
            LockError::Cloud(e) => Stop::Cloud(e),
        })?;
    // Under the lock, look again: another deployer may have finished.
    let fresh = match pass.observe().await {
        Ok(fresh) if fresh.hazards.is_empty() => fresh,
        Ok(fresh) => {
            let _ = lock.release().await;
            return Err(Stop::Refused(fresh.hazards));
        }
        Err(e) => {
            let _ = lock.release().await;
            return Err(Stop::Cloud(e));
        }
    };
    let snapshot = Snapshot::take(&fresh);
    let mut outcome = pass.apply(&fresh).await;
    let verdict = match &runner {
        Some(runner) if outcome.ok() => Some(pass.gate(runner, &snapshot, &mut outcome).await),
        _ => None,
    };
    if let Err(e) = lock.release().await {
        outcome.error.get_or_insert_with(|| e.to_string());
    }
    Ok((outcome, verdict))
}

impl DeployArgs {
    pub fn execute(&self, ctx: &mut Context) -> u8 {
        run(
            ctx,
            &self.environment,
            &self.target,
            &self.safety,
            Some(Apply {
                yes: self.apply.yes,
                smoke: !self.apply.no_smoke,
                lock_wait: Duration::from_secs(self.apply.lock_wait),
                timeout: Duration::from_secs(self.timeout),
            }),
        )
    }
}

/// Observe and plan; with `deploy` (`Some(yes)`), ask if needed and apply.
pub fn run(
    ctx: &mut Context,
    environment: &str,
    target: &TargetArgs,
    safety: &SafetyArgs,
    deploy: Option<Apply>,
) -> u8 {
    let started = Instant::now();
    let command = if deploy.is_some() { "deploy" } else { "plan" };
    let session = match Session::open(ctx, command, environment, target) {
        Ok(s) => s,
        Err(code) => return code,
    };
    if deploy.as_ref().is_some_and(|d| !d.smoke)
        && let Err(code) = smoke_may_be_skipped(ctx, &session)
    {
        return code;
    }
    let rt = match runtime(ctx) {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let options = safety.options();
    rt.block_on(async {
        let cloud = connect(&session.target).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let pass = Pass::new(&cloud, &session.rendered, &session.assets, &options, tx);
        let observed = match pass.observe().await {
            Ok(o) => o,
            Err(e) => {
                ctx.printer.error(&e);
                progress::summary(
                    &mut ctx.printer,
                    command,
                    false,
                    Json::Null,
                    started,
                    &cloud.calls.summary(),
                    "could not read the deployed state".into(),
                );
                return exit::FAILURE;
            }
        };
        show_plan(ctx, &observed);
        if !observed.hazards.is_empty() {
            let count = observed.hazards.len();
            progress::summary(
                &mut ctx.printer,
                command,
                false,
                plan_counts(&observed),
                started,
                &cloud.calls.summary(),
                format!(
                    "refused: {count} retained resource(s) would be replaced or removed; nothing was changed"
                ),
            );
            return exit::REFUSED;
        }
        let changes = observed.has_changes();
        let Some(Apply {
            yes,
            smoke,
            lock_wait,
            timeout,
        }) = deploy
        else {
            progress::summary(
                &mut ctx.printer,
                command,
                true,
                plan_counts(&observed),
                started,
                &cloud.calls.summary(),
                if changes {
                    "changes to apply".into()
                } else {
                    "no changes".into()
                },
            );
            return if changes { exit::CHANGES } else { exit::OK };
        };
        let smoke = smoke && !session.rendered.smoke.is_empty();
        if !changes {
            let mut outcome = Outcome {
                unchanged: observed.planned.len(),
                deployed: observed.stacks.clone(),
                ..Default::default()
            };
            show_endpoints(ctx, &session, &outcome);
            let mut code = exit::OK;
            // Nothing changed, but the checks still gate the pipeline.
            let runner = match smoke_runner(&session, &cloud, smoke) {
                Ok(runner) => runner,
                Err(stop) => return stopped(ctx, stop, command, started, &cloud),
            };
            if let Some(runner) = runner {
                let nothing_changed = Snapshot::default();
                let gate = pass.gate(&runner, &nothing_changed, &mut outcome);
                let verdict = while_running(&mut ctx.printer, rx, gate).await;
                code = super::smoke::show_verdict(ctx, &verdict);
            }
            progress::summary(
                &mut ctx.printer,
                command,
                code == exit::OK,
                json!(outcome),
                started,
                &cloud.calls.summary(),
                "no changes".into(),
            );
            return code;
        }
        if session.requires_approval() {
            let question = format!("deploy these changes to {}?", session.rendered.environment);
            if !approved(ctx, yes, &question) {
                return exit::FAILURE;
            }
        }
        let work = apply_locked(&pass, &observed, &session, &cloud, smoke, command, lock_wait);
        let stop_reason = std::cell::Cell::new(None);
        let guarded = async {
            tokio::select! {
                result = work => result,
                never = stop_on_signal_or_deadline(&pass, timeout, &stop_reason) => match never {},
            }
        };
        let (outcome, verdict) = match while_running(&mut ctx.printer, rx, guarded).await {
            Ok(done) => done,
            Err(stop) => {
                let code = stopped(ctx, stop, command, started, &cloud);
                return match stop_reason.get() {
                    Some("interrupt") => exit::INTERRUPTED,
                    _ => code,
                };
            }
        };
        if outcome.ok() {
            show_endpoints(ctx, &session, &outcome);
        } else if let Some(error) = &outcome.error {
            ctx.printer.failure(error);
        }
        let gate = verdict.map(|v| super::smoke::show_verdict(ctx, &v));
        let mut human = format!(
            "{} created, {} updated, {} unchanged, {} failed",
            outcome.created,
            outcome.updated,
            outcome.unchanged,
            outcome.failed + outcome.refused
        );
        if outcome.rolled_back > 0 {
            human.push_str(&format!(", {} rolled back", outcome.rolled_back));
        }
        progress::summary(
            &mut ctx.printer,
            command,
            outcome.ok() && gate.is_none_or(|code| code == exit::OK),
            json!(outcome),
            started,
            &cloud.calls.summary(),
            human,
        );
        match stop_reason.get() {
            _ if outcome.ok() => gate.unwrap_or(exit::OK),
            Some("interrupt") => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    })
}
