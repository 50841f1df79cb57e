//! The reconcile loop as a controller: keep environments equal to a git
//! branch. A tick fetches, checks out and loads the branch once; each
//! environment is then reconciled at that commit on its own (concurrently,
//! at most `parallel` at once, each under its own lock) and comes back as
//! a typed [`Tick`]. A policy maps ticks to when to come back; this module
//! only schedules (interval, hook, `sync`, retry, stop) and never exits
//! the process.

mod env;
mod outcome;
mod prepare;
mod reconcile;
mod say;
mod tracker;
mod views;

pub use outcome::{Outcome, Requeue, Tick, next_wake, requeue};
pub use tracker::{CommitState, Tracker, jittered};

use crate::exit;
use crate::listener::{Shared, SyncRequest};
use crate::output::Printer;
use crate::source::Source;
use env::Followed;
use futures_util::StreamExt;
use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Everything the loop needs, resolved and checked before any fetch.
pub struct Settings {
    /// The environments to follow; with `all`, every one the branch has.
    pub environments: Vec<String>,
    pub all: bool,
    pub source: Source,
    /// Where commits are checked out.
    pub checkouts: PathBuf,
    /// The project's folder inside the repository.
    pub path: PathBuf,
    pub interval: Duration,
    pub retry_base: Duration,
    pub once: bool,
    /// Environments reconciled at once.
    pub parallel: usize,
    /// An endpoint instead of each environment's target.
    pub endpoint: Option<String>,
    pub listen: Option<std::net::SocketAddr>,
    /// The webhook secret; without it, hooks are refused.
    pub secret: Option<String>,
    /// The token every request to the listener carries.
    pub token: Option<String>,
    /// The repository (its URL without credentials) and branch followed;
    /// None for the project's work tree.
    pub repo: Option<String>,
    pub branch: Option<String>,
}

/// Why the loop could not start.
#[derive(Debug)]
pub struct StartError {
    pub message: String,
    pub help: Option<String>,
}

/// How the loop ended: `code` is the process's exit code.
#[derive(Debug)]
pub struct Ended {
    pub code: u8,
    pub ticks: u64,
    pub environments: usize,
}

/// The printer, shared by environments reconciled concurrently on one
/// task: borrowed for one event at a time, never across an await.
pub(crate) struct Out<'p> {
    printer: RefCell<&'p mut Printer>,
    /// What the listener serves: a pass's progress shows there as it runs.
    shared: Arc<Shared>,
}

impl Out<'_> {
    pub fn with<R>(&self, f: impl FnOnce(&mut Printer) -> R) -> R {
        f(&mut self.printer.borrow_mut())
    }
}

/// What ended the wait between ticks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wake {
    Time,
    /// A pushed commit of news: fetch and apply; drift waits for its own
    /// cadence.
    Hook,
    Stop,
}

fn start_error(message: impl Into<String>) -> StartError {
    StartError {
        message: message.into(),
        help: None,
    }
}

/// Runs the loop until a signal (or one tick, with `once`).
pub fn run(settings: &Settings, printer: &mut Printer) -> Result<Ended, StartError> {
    // Two workers: the listener answers while a tick runs.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| start_error(e.to_string()))?;
    let names = match settings.all {
        // The environments the branch has now.
        true => {
            let checkout = prepare::checkout(settings).map_err(|t| start_error(t.message))?;
            let (project, _) = checkout.loaded.map_err(start_error)?;
            project.environments.keys().cloned().collect()
        }
        false => settings.environments.clone(),
    };
    let shared = Arc::new(Shared {
        secret: settings.secret.clone(),
        token: settings.token.clone(),
        running: true.into(),
        branch: settings.branch.clone(),
        environments: names.clone(),
        ..Shared::default()
    });
    let (stop, stopping, terminated) = on_signals(&rt);
    if let Some(address) = settings.listen {
        let listener = rt
            .block_on(tokio::net::TcpListener::bind(address))
            .map_err(|e| StartError {
                message: format!("cannot listen on {address}: {e}"),
                help: Some("pick another address or port (port 0: any free one)".into()),
            })?;
        let bound = listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        say::listening(printer, &bound);
        rt.spawn(crate::listener::serve(listener, shared.clone()));
    }
    say::following(printer, &names, settings);
    let mut followed: Vec<Followed> = names.iter().map(|n| Followed::new(n)).collect();
    let out = Out {
        printer: RefCell::new(printer),
        shared: shared.clone(),
    };
    let mut ticks = 0u64;
    let mut wake = Wake::Time;
    loop {
        ticks += 1;
        let requests: Vec<SyncRequest> = shared
            .sync
            .lock()
            .map(|mut q| q.drain(..).collect())
            .unwrap_or_default();
        for env in &mut followed {
            let asked = requests.iter().filter(|r| r.environment == env.name);
            env.forced_by = asked.clone().find(|r| r.force).map(|r| r.by.clone());
            let interval_up = env.view.drift_checked.is_none_or(|at| {
                (crate::listener::unix_now() - at) as f64 >= settings.interval.as_secs_f64()
            });
            env.drift_due = wake != Wake::Hook || asked.count() > 0 || interval_up;
        }
        let codes = rt.block_on(one_tick(
            settings,
            &out,
            &shared,
            &mut followed,
            ticks,
            requests,
        ));
        if settings.once {
            return Ok(Ended {
                code: Tick::worst_code(&codes),
                ticks,
                environments: names.len(),
            });
        }
        let now = Instant::now();
        let requeues: Vec<Requeue> = followed
            .iter()
            .map(|env| match env.last {
                Some(outcome) => requeue(outcome, env.tracker.retry_in(now), settings.interval),
                None => Requeue::Interval,
            })
            .collect();
        let interval = jittered(settings.interval, crate::retry::seed() ^ ticks);
        let pause = next_wake(&requeues, interval);
        wake = match stopping.load(Ordering::SeqCst) {
            true => Wake::Stop,
            false => rt.block_on(async {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => Wake::Time,
                    _ = shared.hook.notified() => Wake::Hook,
                    _ = stop.notified() => Wake::Stop,
                }
            }),
        };
        if wake == Wake::Stop {
            shared.running.store(false, Ordering::SeqCst);
            out.with(say::stopped);
            // SIGTERM is how a service manager stops any service: a clean
            // stop then exits 0. Ctrl-C exits 130, as an interrupted
            // command does.
            let code = match terminated.load(Ordering::SeqCst) {
                true => exit::OK,
                false => exit::INTERRUPTED,
            };
            return Ok(Ended {
                code,
                ticks,
                environments: names.len(),
            });
        }
    }
}

/// One listener for Ctrl-C and SIGTERM for the whole loop: a signal
/// during a pass stops the pass (its own guard hears it too) and then the
/// loop; one between passes stops the loop at once.
fn on_signals(
    rt: &tokio::runtime::Runtime,
) -> (Arc<tokio::sync::Notify>, Arc<AtomicBool>, Arc<AtomicBool>) {
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopping = Arc::new(AtomicBool::new(false));
    let terminated = Arc::new(AtomicBool::new(false));
    let (s, st, t) = (stop.clone(), stopping.clone(), terminated.clone());
    rt.spawn(async move {
        let signal = crate::reconcile::guard::signalled().await;
        t.store(
            signal == crate::reconcile::guard::Signal::Terminate,
            Ordering::SeqCst,
        );
        st.store(true, Ordering::SeqCst);
        s.notify_one();
    });
    (stop, stopping, terminated)
}

/// One tick over every environment: the branch fetched, checked out and
/// loaded once; each environment prepared in turn (its code built, its
/// target connected), then reconciled concurrently. Returns each one's
/// exit code.
async fn one_tick(
    settings: &Settings,
    out: &Out<'_>,
    shared: &Shared,
    followed: &mut [Followed],
    number: u64,
    mut requests: Vec<SyncRequest>,
) -> Vec<u8> {
    let checkout = prepare::checkout(settings);
    if let Ok(c) = &checkout {
        prepare::prune(settings, &c.commit, followed);
    }
    let mut prepared = Vec::with_capacity(followed.len());
    for env in followed.iter_mut() {
        let ready = match &checkout {
            Ok(c) => out.with(|p| prepare::environment(p, c, env)),
            Err(stopped) => Err(stopped.clone()),
        };
        let ready = match ready {
            Ok(ready) => connect(settings, out, env, &ready.rendered.target)
                .await
                .map(|()| ready),
            Err(stopped) => Err(stopped),
        };
        prepared.push(ready);
    }
    let timing = reconcile::Timing {
        interval: settings.interval,
        retry_base: settings.retry_base,
    };
    let replies: Vec<(String, tokio::sync::oneshot::Sender<String>)> = requests
        .iter_mut()
        .filter_map(|r| Some((r.environment.clone(), r.reply.take()?)))
        .collect();
    let replies = std::sync::Mutex::new(replies);
    let (timing, replies) = (&timing, &replies);
    let work = followed
        .iter_mut()
        .zip(prepared)
        .map(|(env, ready)| async move {
            let before = env.cloud.as_ref().map(crate::cloud::Cloud::calls);
            let began = Instant::now();
            let tick = reconcile::tick(out, timing, env, ready).await;
            let after = env
                .cloud
                .as_ref()
                .map(crate::cloud::Cloud::calls)
                .unwrap_or_default();
            let before = before.unwrap_or_default();
            let calls = (after.total - before.total, after.mutating - before.mutating);
            env.last = Some(tick.outcome);
            if let (Some(applied), Ok(mut current)) = (&env.applied, shared.current.lock()) {
                current.insert(env.name.clone(), applied.commit().to_string());
            }
            views::record_metrics(shared, env, &tick, &after);
            views::record_view(shared, env, &tick, &settings.source);
            let event = say::tick_event(number, env, &tick, calls, began.elapsed().as_secs_f64());
            if let Ok(mut waiting) = replies.lock() {
                for (_, reply) in waiting.extract_if(.., |(name, _)| *name == env.name) {
                    let _ = reply.send(event.to_string());
                }
            }
            out.with(|p| say::tick(p, event, env, &tick));
            notify(out, env, &tick).await;
            tick.code
        });
    futures_util::stream::iter(work)
        .buffer_unordered(settings.parallel.max(1))
        .collect()
        .await
}

/// Clients for the environment's target, made once.
async fn connect(
    settings: &Settings,
    out: &Out<'_>,
    env: &mut Followed,
    target: &crate::spec::Target,
) -> Result<(), Tick> {
    if env.cloud.is_some() {
        return Ok(());
    }
    let resolved = out
        .with(|p| crate::target::resolve(settings.endpoint.as_deref(), p, target))
        .map_err(|e| Tick::new(Outcome::Failed, exit::FAILURE, e.to_string()))?;
    env.cloud = Some(crate::target::connect(&resolved).await);
    Ok(())
}

/// Sends the notice a tick calls for, once per change of state.
async fn notify(out: &Out<'_>, env: &mut Followed, tick: &Tick) {
    let candidate = views::notice_of(env, tick);
    let (send, last) = outcome::notice_decision(
        env.last_notice.as_deref(),
        tick.outcome,
        candidate.as_ref().map(|(key, _)| key.as_str()),
    );
    env.last_notice = last;
    let (true, Some((_, notice))) = (send, candidate) else {
        return;
    };
    let errors = match (crate::smoke::http::HttpClient::new(), &env.cloud) {
        (Ok(client), Some(cloud)) => crate::notify::send(&client, cloud, &env.hooks, &notice).await,
        (Err(e), _) => vec![e],
        (_, None) => vec!["the target was never reached".into()],
    };
    out.with(|p| say::notified(p, env, &notice, &errors));
}
