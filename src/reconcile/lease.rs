//! One deployer per environment: the pass holds the environment's lock (an
//! object in the bootstrap bucket) while it applies, renewing it as it goes.
//! A lease that cannot be kept stops the pass from starting anything new.

use super::{Brake, Event, Pass, StopReason};
use crate::cloud::bootstrap::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::lock::{self, Busy, Held, Holder, LockLost};
use crate::cloud::{Cloud, CloudError, stacks};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// How long a lock lives without renewal: a holder killed outright blocks
/// the next deploy for at most this long.
pub const LOCK_TTL_SECONDS: u64 = 90;
/// How often a held lock is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// After a failed renewal, how soon it is tried again.
const RETRY_RENEWAL: Duration = Duration::from_secs(2);
/// A lease not renewed for this long is given up before it lapses, so that
/// nothing of ours runs once another deployer could take the lock.
const GIVE_UP_AFTER: Duration = Duration::from_secs(LOCK_TTL_SECONDS - 30);

pub enum LockError {
    /// Someone else holds it, and waiting (if asked) did not help.
    Busy(Busy),
    Cloud(CloudError),
}

/// A held lock, renewed in the background until released.
pub struct EnvironmentLock {
    held: Arc<Mutex<Held>>,
    /// Why the lease was lost, once it was.
    lost: Arc<std::sync::Mutex<Option<String>>>,
    renewer: JoinHandle<()>,
    cloud: Cloud,
}

pub(super) fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

pub(super) fn owner(host: &str) -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{host} pid {}", std::process::id())
}

pub fn lock_key(app: &str, environment: &str) -> String {
    format!("locks/{app}-{environment}.json")
}

impl Pass<'_> {
    /// Takes the environment's lock, waiting up to `wait` for its holder.
    pub async fn lock(
        &self,
        bucket: &str,
        command: &str,
        wait: Duration,
    ) -> Result<EnvironmentLock, LockError> {
        let env = self.environment;
        let key = lock_key(&env.app, &env.environment);
        let started = Instant::now();
        let host = host();
        let owner = owner(&host);
        let command = command.to_string();
        let holder = move |acquired: u64| Holder {
            owner: owner.clone(),
            command: command.clone(),
            acquired,
            expires: lock::now() + LOCK_TTL_SECONDS,
            host: host.clone(),
            pid: std::process::id(),
            ttl: LOCK_TTL_SECONDS,
        };
        let mut announced = false;
        let acquired = lock::now();
        let held = loop {
            let attempt = lock::try_acquire(self.cloud, bucket, &key, &holder(acquired))
                .await
                .map_err(LockError::Cloud)?;
            match attempt {
                Ok(held) => break held,
                Err(busy) if started.elapsed() >= wait || self.is_stopping() => {
                    return Err(LockError::Busy(busy));
                }
                Err(busy) => {
                    if !announced {
                        announced = true;
                        self.emit(Event::LockWait {
                            key: key.clone(),
                            holder: busy.holder,
                            expires_in: busy.expires_in,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        Ok(EnvironmentLock::hold(
            self.cloud.clone(),
            held,
            Renewal {
                brake: self.brake.clone(),
                events: self.events.clone(),
                holder: Box::new(move || holder(acquired)),
                every: RENEW_EVERY,
            },
        ))
    }

    /// The lock, when the bootstrap bucket exists (without it, driftless
    /// never deployed here and there is nothing to guard); fails at once.
    pub async fn lock_if_bootstrapped(
        &self,
        command: &str,
    ) -> Result<Option<EnvironmentLock>, LockError> {
        let bootstrap = stacks::describe(self.cloud, BOOTSTRAP_STACK)
            .await
            .map_err(LockError::Cloud)?;
        let Some(bucket) = bootstrap.and_then(|b| b.outputs.get(BUCKET_OUTPUT).cloned()) else {
            return Ok(None);
        };
        self.lock(&bucket, command, Duration::ZERO).await.map(Some)
    }
}

/// What the renewer needs: the pass's brake and events, and the holder to
/// write at each renewal.
struct Renewal {
    brake: Arc<Brake>,
    events: UnboundedSender<Event>,
    holder: Box<dyn Fn() -> Holder + Send + Sync>,
    every: Duration,
}

impl EnvironmentLock {
    fn hold(cloud: Cloud, held: Held, renewal: Renewal) -> EnvironmentLock {
        let key = held.key.clone();
        let held = Arc::new(Mutex::new(held));
        let lost = Arc::new(std::sync::Mutex::new(None));
        let renewer = {
            let (held, lost, cloud) = (held.clone(), lost.clone(), cloud.clone());
            tokio::spawn(async move {
                let reason = renew_until_lost(&cloud, &held, &renewal).await;
                if let Ok(mut slot) = lost.lock() {
                    *slot = Some(reason.clone());
                }
                let in_flight = renewal.brake.stop(StopReason::LeaseLost);
                let _ = renewal.events.send(Event::LeaseLost { key, reason });
                let _ = renewal.events.send(Event::Stopping {
                    reason: StopReason::LeaseLost,
                    in_flight,
                });
            })
        };
        EnvironmentLock {
            held,
            lost,
            renewer,
            cloud,
        }
    }

    /// Why the lease was lost, if it was.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    /// Deletes the lock if it is still ours. A lease lost on the way is an
    /// error: the pass may have run past it.
    pub async fn release(self) -> Result<(), CloudError> {
        self.renewer.abort();
        let key = self.held.lock().await.key.clone();
        if let Some(reason) = self.lost() {
            return Err(CloudError::new(
                "PutObject",
                key,
                format!(
                    "the lock was lost during the pass ({reason}); nothing new was started after that. Run `plan` to see where the environment stands"
                ),
            ));
        }
        let held = self.held.lock().await.clone();
        match lock::release(&self.cloud, &held).await {
            Ok(()) | Err(LockLost::Gone) => Ok(()),
            Err(LockLost::TakenOver) => Err(CloudError::new(
                "DeleteObject",
                key,
                "another deployer took the lock over before this pass released it; it was left to them",
            )),
            Err(LockLost::Cloud(e)) => Err(e),
        }
    }
}

/// Renews every `renewal.every` until the lease cannot be kept; returns why.
async fn renew_until_lost(cloud: &Cloud, held: &Mutex<Held>, renewal: &Renewal) -> String {
    // tokio's clock, like the sleeps between renewals.
    let mut last_renewed = tokio::time::Instant::now();
    let mut pause = renewal.every;
    loop {
        tokio::time::sleep(pause).await;
        let mut current = held.lock().await;
        match lock::renew(cloud, &current, &(renewal.holder)()).await {
            Ok(next) => {
                *current = next;
                last_renewed = tokio::time::Instant::now();
                pause = renewal.every;
            }
            Err(LockLost::TakenOver) => return "another deployer took it over".into(),
            Err(LockLost::Gone) => return "its object was deleted".into(),
            Err(LockLost::Cloud(e)) if last_renewed.elapsed() + RETRY_RENEWAL >= GIVE_UP_AFTER => {
                return format!("not renewed for {}s: {e}", last_renewed.elapsed().as_secs());
            }
            Err(LockLost::Cloud(_)) => pause = RETRY_RENEWAL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::{ConnectSettings, scripted};
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A cloud whose every answer comes from `script(method, If-Match)`.
    fn cloud(
        script: impl Fn(&str, Option<&str>) -> scripted::Answer + Send + Sync + 'static,
    ) -> Cloud {
        let http = scripted::client(move |request| {
            script(request.method(), request.headers().get("if-match"))
        });
        let settings = ConnectSettings {
            region: "eu-west-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        Cloud::with_http_client(http, &settings)
    }

    fn held() -> Held {
        Held {
            bucket: "assets".into(),
            key: "locks/app-dev.json".into(),
            etag: "\"ours\"".into(),
        }
    }

    fn holder() -> Holder {
        Holder {
            owner: "me".into(),
            command: "deploy".into(),
            acquired: 0,
            expires: LOCK_TTL_SECONDS,
            host: "here".into(),
            pid: 0,
            ttl: LOCK_TTL_SECONDS,
        }
    }

    fn hold(
        cloud: Cloud,
    ) -> (
        EnvironmentLock,
        Arc<Brake>,
        tokio::sync::mpsc::UnboundedReceiver<Event>,
    ) {
        let brake = Arc::new(Brake::default());
        let (events, rx) = tokio::sync::mpsc::unbounded_channel();
        let renewal = Renewal {
            brake: brake.clone(),
            events,
            holder: Box::new(holder),
            every: RENEW_EVERY,
        };
        (EnvironmentLock::hold(cloud, held(), renewal), brake, rx)
    }

    const TAKEN_OVER: &str = "<Error><Code>PreconditionFailed</Code><Message>At least one of the preconditions you specified did not hold.</Message></Error>";

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_renewal_that_finds_the_lock_taken_over_stops_the_pass_and_says_so() {
        let (lock, brake, mut events) = hold(cloud(|_, _| (412, Vec::new(), TAKEN_OVER.into())));
        tokio::time::sleep(RENEW_EVERY + Duration::from_secs(1)).await;
        assert_eq!(brake.reason(), Some(StopReason::LeaseLost));
        let lost = events.try_recv().expect("a lease_lost event");
        assert!(
            matches!(&lost, Event::LeaseLost { reason, .. } if reason.contains("took it over")),
            "{lost:?}"
        );
        assert!(matches!(
            events.try_recv(),
            Ok(Event::Stopping {
                reason: StopReason::LeaseLost,
                ..
            })
        ));
        let released = lock.release().await.expect_err("a lost lease is an error");
        assert!(
            released.to_string().contains("lost during the pass"),
            "{released}"
        );
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn renewals_failing_until_the_lease_would_lapse_give_it_up_before_it_does() {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let (_lock, brake, _events) = hold(cloud(move |_, _| {
            seen.fetch_add(1, Ordering::SeqCst);
            (
                503,
                Vec::new(),
                "<Error><Code>SlowDown</Code></Error>".into(),
            )
        }));
        // Transient failures are retried, and the pass goes on meanwhile.
        tokio::time::sleep(RENEW_EVERY + RETRY_RENEWAL * 3).await;
        assert_eq!(brake.reason(), None);
        assert!(calls.load(Ordering::SeqCst) >= 3);
        // Given up before another deployer could take the lock over.
        tokio::time::sleep(GIVE_UP_AFTER).await;
        assert_eq!(brake.reason(), Some(StopReason::LeaseLost));
        assert!(GIVE_UP_AFTER < Duration::from_secs(LOCK_TTL_SECONDS));
    }

    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_renewed_lease_keeps_the_pass_going_and_is_released_with_its_etag() {
        let methods = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = methods.clone();
        let (lock, brake, _events) = hold(cloud(move |method, if_match| {
            seen.lock()
                .unwrap()
                .push(format!("{method} {}", if_match.unwrap_or("unconditional")));
            (200, vec![("etag", "\"next\"".to_string())], String::new())
        }));
        tokio::time::sleep(RENEW_EVERY * 3 + Duration::from_secs(1)).await;
        assert_eq!(brake.reason(), None);
        lock.release().await.expect("released");
        // Each write is conditional on the one before; so is the delete.
        assert_eq!(
            *methods.lock().unwrap(),
            [
                "PUT \"ours\"",
                "PUT \"next\"",
                "PUT \"next\"",
                "DELETE \"next\""
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_release_that_finds_the_lock_taken_over_leaves_it_and_says_so() {
        let (lock, _brake, _events) = hold(cloud(|method, _| match method {
            "DELETE" => (412, Vec::new(), TAKEN_OVER.into()),
            _ => (200, Vec::new(), String::new()),
        }));
        let error = lock.release().await.expect_err("taken over");
        assert!(error.to_string().contains("took the lock over"), "{error}");
    }
}
