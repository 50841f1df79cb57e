//! `driftless reconcile ENV...`: keep environments equal to a git branch.
//! Every interval (with jitter): fetch; check out exactly the commit the
//! branch points at; where what is deployed differs, apply it with the
//! environment's lock, smoke checks and rollback, as `deploy` does; detect
//! drift and heal it where the environment says `self_heal: true`; report
//! each change of state once. `--once` runs one tick and exits with its
//! code, for a scheduled job.

use super::target::{TargetArgs, connect};
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::agent::{self, Tracker};
use crate::assets::Builds;
use crate::cloud::{Cloud, state};
use crate::exit;
use crate::listener::{Shared, unix_now};
use crate::load::{Failure, load_specs, render_loaded};
use crate::output::show::show;
use crate::reconcile::{Mode, Options, Pass, Retry, Settings, guard, retry};
use crate::source::Source;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct ReconcileArgs {
    /// The environments to keep in line (files in environments/).
    #[arg(required_unless_present = "all")]
    pub environments: Vec<String>,
    /// Every environment of the project.
    #[arg(long, conflicts_with = "environments")]
    pub all: bool,
    /// The repository to follow (URL or path, fetched with git); without
    /// it, the project's own work tree (its HEAD commit).
    #[arg(long, requires = "branch", value_name = "URL")]
    pub repo: Option<String>,
    /// The branch of `--repo` to follow.
    #[arg(long, requires = "repo")]
    pub branch: Option<String>,
    /// The project's folder inside the repository.
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,
    /// Seconds between ticks (moved by up to a tenth, so that agents do
    /// not beat in step).
    #[arg(long, default_value_t = 180.0, value_name = "SECONDS")]
    pub interval: f64,
    /// Seconds before the first retry of a failed commit; doubling up to
    /// the interval.
    #[arg(long, default_value_t = 30.0, value_name = "SECONDS")]
    pub retry_base: f64,
    /// One tick, then exit with its code.
    #[arg(long)]
    pub once: bool,
    /// Serve `POST /hooks/git` (a push wakes the loop), `GET /healthz` and
    /// `GET /metrics` on this address (port 0: any free port, named in
    /// the `listening` event).
    #[arg(long, value_name = "ADDRESS")]
    pub listen: Option<std::net::SocketAddr>,
    /// The environment variable holding the webhook secret (GitHub's HMAC
    /// key, GitLab's token); without it, hooks are refused.
    #[arg(long, value_name = "NAME", requires = "listen")]
    pub webhook_secret_env: Option<String>,
    /// The environment variable holding a token every request to the
    /// listener must carry (`Authorization: Bearer TOKEN`, or `?token=`
    /// once in a browser); required when `--listen` is not a loopback
    /// address. The signed webhook needs no token.
    #[arg(long, value_name = "NAME", requires = "listen")]
    pub listen_token_env: Option<String>,
    #[command(flatten)]
    pub target: TargetArgs,
}

/// One environment the loop keeps in line.
struct Followed {
    name: String,
    /// The last pass's wall time, when the tick ran one.
    pass_seconds: Option<f64>,
    health: &'static str,
    drifted: usize,
    /// The environment's app and webhooks, as the last commit read says.
    app: String,
    hooks: Vec<crate::spec::notify::Webhook>,
    /// The last notification's key: one per change of state.
    last_notice: Option<String>,
    tracker: Tracker,
    /// Clients by target, made once.
    cloud: Option<Cloud>,
    /// The drift last reported, so it is told once.
    drift_reported: Option<String>,
    /// What the status pages show.
    view: crate::page::live::EnvView,
    /// The stack-level events of this tick's pass, for the pages.
    pass_events: Vec<String>,
}

/// How one environment's tick ended.
struct Tick {
    code: u8,
    result: &'static str,
    message: String,
}

impl Tick {
    fn new(code: u8, result: &'static str, message: impl Into<String>) -> Self {
        Tick {
            code,
            result,
            message: message.into(),
        }
    }
}

/// The notification a tick calls for, with the key that makes it once per
/// change of state.
fn notice_of(env: &Followed, tick: &Tick) -> Option<(String, crate::notify::Notice)> {
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
fn record_metrics(
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
fn page_states(
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
fn drifted_views(
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
                    let hidden = d.path.contains("Environment") && d.path.contains("Variables");
                    match hidden {
                        true => (
                            d.path.clone(),
                            "(hidden)".into(),
                            "(hidden, changed)".into(),
                        ),
                        false => (d.path.clone(), d.expected.clone(), d.actual.clone()),
                    }
                })
                .collect(),
        })
        .collect()
}

/// A pass's event as one line on the environment page: how each stack
/// ended, what was healed, how the checks went.
fn note_event(lines: &mut Vec<String>, event: &crate::reconcile::Event) {
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
fn record_view(shared: &Shared, env: &mut Followed, tick: &Tick, source: &Source) {
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

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or_default();
    nanos ^ (u64::from(std::process::id()) << 32)
}

impl ReconcileArgs {
    /// The listener's token; a listener beyond loopback must have one.
    fn listen_token(&self) -> Result<Option<String>, CommandError> {
        let Some(address) = self.listen else {
            return Ok(None);
        };
        match &self.listen_token_env {
            Some(var) => match std::env::var(var) {
                Ok(token) if !token.is_empty() => Ok(Some(token)),
                _ => Err(CommandError::new(
                    ErrorKind::Invalid,
                    format!("--listen-token-env {var}: the variable is not set"),
                )
                .with_help(format!("export {var}=... (a long random string)"))),
            },
            None if !address.ip().is_loopback() => Err(CommandError::new(
                ErrorKind::Usage,
                format!("--listen {address} is reachable beyond this host: it needs a token"),
            )
            .with_help("add --listen-token-env NAME, the variable holding the token, or listen on 127.0.0.1")),
            None => Ok(None),
        }
    }

    fn source(&self, ctx: &Context) -> Source {
        match (&self.repo, &self.branch) {
            (Some(url), Some(branch)) => {
                let id = blake3::hash(format!("{url}\0{branch}").as_bytes()).to_hex();
                Source::Remote {
                    url: url.clone(),
                    branch: branch.clone(),
                    cache: crate::emulator::home().join("repos").join(&id[..16]),
                }
            }
            _ => Source::WorkTree {
                root: ctx.project.clone(),
            },
        }
    }

    fn checkouts(&self, source: &Source, ctx: &Context) -> PathBuf {
        match source {
            Source::Remote { cache, .. } => cache.join("checkouts"),
            Source::WorkTree { .. } => ctx.project.join(".driftless").join("checkouts"),
        }
    }

    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        let started = Instant::now();
        let source = self.source(ctx);
        let checkouts = self.checkouts(&source, ctx);
        let names = match self.all {
            true => {
                // The environments the branch has now.
                let failed = |e: &dyn std::error::Error| {
                    CommandError::new(ErrorKind::Failure, e.to_string())
                };
                let commit = source.fetch().map_err(|e| failed(&e))?;
                let dir = source
                    .checkout(&commit, &checkouts)
                    .map_err(|e| failed(&e))?;
                let (project, _) = crate::spec::load(&dir.join(&self.path))
                    .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
                project.environments.keys().cloned().collect()
            }
            false => self.environments.clone(),
        };
        let mut followed: Vec<Followed> = names
            .iter()
            .map(|name| Followed {
                name: name.clone(),
                pass_seconds: None,
                health: "missing",
                drifted: 0,
                app: String::new(),
                hooks: Vec::new(),
                last_notice: None,
                tracker: Tracker::default(),
                cloud: None,
                drift_reported: None,
                pass_events: Vec::new(),
                view: crate::page::live::EnvView {
                    name: name.clone(),
                    health: "missing".into(),
                    ..Default::default()
                },
            })
            .collect();
        let interval = Duration::from_secs_f64(self.interval.max(0.1));
        let retry_base = Duration::from_secs_f64(self.retry_base.max(0.01));
        // Two workers: the listener answers while a tick runs.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| CommandError::from_error(ErrorKind::Failure, &e))?;
        let shared = Arc::new(Shared {
            secret: match &self.webhook_secret_env {
                Some(var) => match std::env::var(var) {
                    Ok(secret) if !secret.is_empty() => Some(secret),
                    _ => {
                        return Err(CommandError::new(
                            ErrorKind::Invalid,
                            format!("--webhook-secret-env {var}: the variable is not set"),
                        )
                        .with_help(format!(
                            "export {var}=... (the secret the git host signs pushes with)"
                        )));
                    }
                },
                None => None,
            },
            token: self.listen_token()?,
            running: true.into(),
            ..Shared::default()
        });
        // One listener for Ctrl-C and SIGTERM for the whole loop: a signal
        // during a pass stops the pass (its own guard hears it too) and
        // then the loop; one between passes stops the loop at once.
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (stop, stopping) = (stop.clone(), stopping.clone());
            rt.spawn(async move {
                guard::interrupted().await;
                stopping.store(true, std::sync::atomic::Ordering::SeqCst);
                stop.notify_one();
            });
        }
        if let Some(address) = self.listen {
            let listener = rt
                .block_on(tokio::net::TcpListener::bind(address))
                .map_err(|e| {
                    CommandError::new(
                        ErrorKind::Failure,
                        format!("cannot listen on {address}: {e}"),
                    )
                    .with_help("pick another address or port (port 0: any free one)")
                })?;
            let bound = listener
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_default();
            ctx.printer.emit(
                json!({ "event": "reconcile", "state": "listening", "address": bound }),
                || format!("listening on http://{bound} (/ and /env/NAME, /hooks/git, /healthz, /metrics)"),
            );
            rt.spawn(crate::listener::serve(listener, shared.clone()));
        }
        ctx.printer.emit(
            json!({ "event": "reconcile", "state": "following", "environments": names, "interval_s": self.interval, "repo": self.repo.as_deref().map(crate::source::redact), "branch": self.branch }),
            || {
                format!(
                    "reconcile {} every {}s from {}",
                    names.join(", "),
                    self.interval,
                    match &self.repo {
                        Some(url) => format!("{} {}", crate::source::redact(url), self.branch.as_deref().unwrap_or_default()),
                        None => "the project's work tree".into(),
                    }
                )
            },
        );
        let mut ticks = 0u64;
        loop {
            ticks += 1;
            let mut codes = Vec::new();
            for env in &mut followed {
                let before = env.cloud.as_ref().map(Cloud::calls).unwrap_or_default();
                let began = Instant::now();
                let tick =
                    rt.block_on(self.tick(ctx, &source, &checkouts, env, interval, retry_base));
                let after = env.cloud.as_ref().map(Cloud::calls).unwrap_or_default();
                codes.push(tick.code);
                record_metrics(&shared, env, &tick, &after);
                record_view(&shared, env, &tick, &source);
                ctx.printer.emit(
                    json!({
                        "event": "reconcile_tick",
                        "tick": ticks,
                        "environment": env.name,
                        "commit": env.tracker.commit,
                        "result": tick.result,
                        "message": tick.message,
                        "exit_code": tick.code,
                        "attempts": env.tracker.attempts(),
                        "retry_in_s": env.tracker.retry_in(Instant::now()).map(|d| d.as_secs_f64()),
                        "api_calls": { "total": after.total - before.total, "mutating": after.mutating - before.mutating },
                        "seconds": began.elapsed().as_secs_f64(),
                    }),
                    || {
                        format!(
                            "{} at {}: {} {}",
                            env.name,
                            env.tracker.commit.as_deref().map_or("-".into(), crate::revision::short),
                            tick.result,
                            tick.message
                        )
                    },
                );
                if let Some((key, notice)) = notice_of(env, &tick)
                    && env.last_notice.as_ref() != Some(&key)
                {
                    env.last_notice = Some(key);
                    let errors = rt.block_on(async {
                        match (crate::smoke::http::HttpClient::new(), &env.cloud) {
                            (Ok(client), Some(cloud)) => {
                                crate::notify::send(&client, cloud, &env.hooks, &notice).await
                            }
                            (Err(e), _) => vec![e],
                            (_, None) => vec!["the target was never reached".into()],
                        }
                    });
                    ctx.printer.emit(
                        json!({ "event": "notified", "environment": env.name, "notice": notice.event, "text": notice.text(), "sent": env.hooks.len() - errors.len(), "errors": errors }),
                        || match errors.is_empty() {
                            true => format!("  notified: {}", notice.text()),
                            false => format!("  notification not sent: {}", errors.join("; ")),
                        },
                    );
                }
            }
            if self.once {
                let code = codes.iter().copied().max_by_key(|c| match *c {
                    exit::OK => 0,
                    exit::DRIFTED => 1,
                    _ => 2,
                });
                let code = code.unwrap_or(exit::OK);
                let summary = Summary::new(
                    json!({ "command": "reconcile", "environments": names.len(), "duration_ms": started.elapsed().as_millis() as u64 }),
                    format!("one tick over {} environment(s)", names.len()),
                )
                .with_code(code);
                return Ok(summary);
            }
            // A commit in backoff is tried when its delay is up, not a
            // whole interval later.
            let now = Instant::now();
            let pause = followed
                .iter()
                .filter_map(|env| env.tracker.retry_in(now))
                .fold(agent::jittered(interval, seed() ^ ticks), Duration::min);
            let stopped = stopping.load(std::sync::atomic::Ordering::SeqCst)
                || rt.block_on(async {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => false,
                        _ = shared.hook.notified() => false,
                        _ = stop.notified() => true,
                    }
                });
            if stopped {
                shared
                    .running
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                ctx.printer
                    .emit(json!({ "event": "reconcile", "state": "stopped" }), || {
                        "reconcile stopped".into()
                    });
                return Ok(Summary::new(
                    json!({ "command": "reconcile", "ticks": ticks, "duration_ms": started.elapsed().as_millis() as u64 }),
                    format!("{ticks} tick(s)"),
                )
                .with_code(exit::INTERRUPTED));
            }
        }
    }

    /// One environment's tick.
    async fn tick(
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
            Ok(dir) => dir.join(&self.path),
            Err(e) => return Tick::new(exit::FAILURE, "checkout_failed", e.to_string()),
        };
        crate::source::prune_checkouts(checkouts, &[&commit]);
        let loaded = load_specs(&dir, &env.name).and_then(|(project, relevant)| {
            render_loaded(&project, &env.name, relevant, Builds::Run).map(|r| (project, r))
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
