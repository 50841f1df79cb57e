//! `driftless reconcile ENV...`: keep environments equal to a git branch.
//! Every interval (with jitter): fetch; check out exactly the commit the
//! branch points at; where what is deployed differs, apply it with the
//! environment's lock, smoke checks and rollback, as `deploy` does; detect
//! drift and heal it where the environment says `self_heal: true`; report
//! each change of state once. `--once` runs one tick and exits with its
//! code, for a scheduled job.

mod tick;
mod views;

use super::target::TargetArgs;
use super::{CommandError, CommandResult, Context, ErrorKind, Summary};
use crate::agent::{self, Tracker};
use crate::cloud::Cloud;
use crate::exit;
use crate::listener::Shared;
use crate::reconcile::guard;
use crate::source::Source;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use views::*;

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
    #[arg(long, default_value = "180", value_name = "SECONDS", value_parser = crate::durations::interval)]
    pub interval: f64,
    /// Seconds before the first retry of a failed commit; doubling up to
    /// the interval.
    #[arg(long, default_value = "30", value_name = "SECONDS", value_parser = crate::durations::retry_base)]
    pub retry_base: f64,
    /// The time limit of one git call (a host that never answers holds a
    /// tick no longer).
    #[arg(long, default_value = "120", value_name = "SECONDS", value_parser = crate::durations::git_timeout)]
    pub git_timeout: f64,
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
    /// The last commit applied (or found in sync): drift is watched at it
    /// while a newer one is blocked.
    applied: Option<tick::Prepared>,
    /// Whether this tick detects drift: not when a hook woke it before
    /// the interval since the last detection is up.
    drift_due: bool,
}

/// What ended the wait between ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    Time,
    Hook,
    Stop,
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
                    limit: Duration::from_secs_f64(self.git_timeout),
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

    /// `--repo`, `--branch` and `--path` as git and the checkout take them,
    /// before anything runs.
    fn check_arguments(&self) -> Result<(), CommandError> {
        let usage = |message: String, help: &str| {
            CommandError::new(ErrorKind::Usage, message).with_help(help.to_string())
        };
        if let Some(url) = &self.repo {
            crate::source::check_url(url)
                .map_err(|e| usage(e, "give the repository's URL or path"))?;
        }
        if let Some(branch) = &self.branch {
            crate::source::check_branch(branch)
                .map_err(|e| usage(e, "give the name of a branch of the repository"))?;
        }
        let inside = self.path.components().all(|c| {
            matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
        if !inside {
            return Err(usage(
                format!("--path {} leaves the repository", self.path.display()),
                "give the project's folder relative to the repository's root, without `..`",
            ));
        }
        Ok(())
    }

    /// The project's folder in a checkout: `--path`, which must not lead
    /// out of it through a symbolic link.
    fn project_in(&self, checkout: &std::path::Path) -> Result<PathBuf, String> {
        let root = checkout.canonicalize().map_err(|e| e.to_string())?;
        let dir = root
            .join(&self.path)
            .canonicalize()
            .map_err(|e| format!("--path {}: {e}", self.path.display()))?;
        match dir.starts_with(&root) {
            true => Ok(dir),
            false => Err(format!(
                "--path {} leads out of the checkout through a symbolic link",
                self.path.display()
            )),
        }
    }

    pub fn execute(&self, ctx: &mut Context) -> CommandResult {
        self.check_arguments()?;
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
                let dir = self
                    .project_in(&dir)
                    .map_err(|e| CommandError::new(ErrorKind::Failure, e))?;
                let (project, _) = crate::spec::load(&dir)
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
                applied: None,
                drift_due: true,
                view: crate::page::live::EnvView {
                    name: name.clone(),
                    health: "missing".into(),
                    ..Default::default()
                },
            })
            .collect();
        let interval = Duration::from_secs_f64(self.interval);
        let retry_base = Duration::from_secs_f64(self.retry_base);
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
            branch: self.branch.clone(),
            ..Shared::default()
        });
        // One listener for Ctrl-C and SIGTERM for the whole loop: a signal
        // during a pass stops the pass (its own guard hears it too) and
        // then the loop; one between passes stops the loop at once.
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // SIGTERM is how a service manager stops any service: a clean stop
        // then exits 0. Ctrl-C exits 130, as an interrupted command does.
        let terminated = Arc::new(std::sync::atomic::AtomicBool::new(false));
        {
            let (stop, stopping, terminated) = (stop.clone(), stopping.clone(), terminated.clone());
            rt.spawn(async move {
                let signal = guard::signalled().await;
                terminated.store(
                    signal == guard::Signal::Terminate,
                    std::sync::atomic::Ordering::SeqCst,
                );
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
        // Whether this tick was woken by a hook: it fetches and applies, and
        // leaves drift detection to its own cadence (the interval).
        let mut hooked = false;
        loop {
            ticks += 1;
            let mut codes = Vec::new();
            for env in &mut followed {
                env.drift_due = !hooked
                    || env.view.drift_checked.is_none_or(|at| {
                        (crate::listener::unix_now() - at) as f64 >= self.interval
                    });
                let before = env.cloud.as_ref().map(Cloud::calls).unwrap_or_default();
                let began = Instant::now();
                let tick =
                    rt.block_on(self.tick(ctx, &source, &checkouts, env, interval, retry_base));
                let after = env.cloud.as_ref().map(Cloud::calls).unwrap_or_default();
                codes.push(tick.code);
                if let (Some(applied), Ok(mut current)) = (&env.applied, shared.current.lock()) {
                    current.insert(env.name.clone(), applied.commit().to_string());
                }
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
                let candidate = notice_of(env, &tick);
                let (send, last) = notice_decision(
                    env.last_notice.as_deref(),
                    tick.result,
                    candidate.as_ref().map(|(key, _)| key.as_str()),
                );
                env.last_notice = last;
                if let (true, Some((_, notice))) = (send, candidate) {
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
                .fold(
                    agent::jittered(interval, crate::retry::seed() ^ ticks),
                    Duration::min,
                );
            let woken = match stopping.load(std::sync::atomic::Ordering::SeqCst) {
                true => Wake::Stop,
                false => rt.block_on(async {
                    tokio::select! {
                        _ = tokio::time::sleep(pause) => Wake::Time,
                        _ = shared.hook.notified() => Wake::Hook,
                        _ = stop.notified() => Wake::Stop,
                    }
                }),
            };
            hooked = woken == Wake::Hook;
            let stopped = woken == Wake::Stop;
            if stopped {
                shared
                    .running
                    .store(false, std::sync::atomic::Ordering::SeqCst);
                ctx.printer
                    .emit(json!({ "event": "reconcile", "state": "stopped" }), || {
                        "reconcile stopped".into()
                    });
                let code = match terminated.load(std::sync::atomic::Ordering::SeqCst) {
                    true => exit::OK,
                    false => exit::INTERRUPTED,
                };
                return Ok(Summary::new(
                    json!({ "command": "reconcile", "ticks": ticks, "duration_ms": started.elapsed().as_millis() as u64 }),
                    format!("{ticks} tick(s)"),
                )
                .with_code(code));
            }
        }
    }
}
