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

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

fn owner(host: &str) -> String {
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
    let mut last_renewed = Instant::now();
    let mut pause = renewal.every;
    loop {
        tokio::time::sleep(pause).await;
        let mut current = held.lock().await;
        match lock::renew(cloud, &current, &(renewal.holder)()).await {
            Ok(next) => {
                *current = next;
                last_renewed = Instant::now();
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
