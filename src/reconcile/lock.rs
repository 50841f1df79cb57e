//! One deployer per environment: the pass holds the environment's lock (an
//! object in the bootstrap bucket) while it applies, renewing it as it goes.

use super::{Event, Pass};
use crate::cloud::assets::{BOOTSTRAP_STACK, BUCKET_OUTPUT};
use crate::cloud::lock::{self, Held, Holder};
use crate::cloud::{CloudError, stacks};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// How long a lock lives without renewal: a holder killed outright blocks
/// the next deploy for at most this long.
pub const LOCK_TTL_SECONDS: u64 = 90;
const RENEW_EVERY: Duration = Duration::from_secs(20);

pub enum LockError {
    /// Someone else holds it, and waiting (if asked) did not help.
    Busy(Holder),
    Cloud(CloudError),
}

/// A held lock, renewed in the background until released.
pub struct EnvironmentLock {
    held: Arc<Mutex<Held>>,
    renewer: JoinHandle<()>,
    s3: aws_sdk_s3::Client,
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
        let holder = |now: u64| Holder {
            owner: owner.clone(),
            command: command.to_string(),
            acquired: now,
            expires: now + LOCK_TTL_SECONDS,
            host: host.clone(),
            pid: std::process::id(),
        };
        let mut announced = false;
        let held = loop {
            let attempt = lock::try_acquire(&self.cloud.s3, bucket, &key, &holder(lock::now()))
                .await
                .map_err(LockError::Cloud)?;
            match attempt {
                Ok(held) => break held,
                Err(other) if started.elapsed() >= wait || self.is_stopping() => {
                    return Err(LockError::Busy(other));
                }
                Err(other) => {
                    if !announced {
                        announced = true;
                        self.emit(Event::LockWait {
                            key: key.clone(),
                            holder: other,
                        });
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let acquired = lock::now();
        let held = Arc::new(Mutex::new(held));
        let s3 = self.cloud.s3.clone();
        let renewer = {
            let held = held.clone();
            let s3 = s3.clone();
            let command = command.to_string();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    let mut current = held.lock().await;
                    let now = lock::now();
                    let renewed = Holder {
                        owner: owner.clone(),
                        command: command.clone(),
                        acquired,
                        expires: now + LOCK_TTL_SECONDS,
                        host: host.clone(),
                        pid: std::process::id(),
                    };
                    // A failed renewal is retried at the next tick; the lock
                    // stays ours until it expires.
                    if let Ok(next) = lock::renew(&s3, &current, &renewed).await {
                        *current = next;
                    }
                }
            })
        };
        Ok(EnvironmentLock { held, renewer, s3 })
    }
}

impl Pass<'_> {
    /// The lock, when the bootstrap bucket exists (without it, driftless
    /// never deployed here and there is nothing to guard); fails at once.
    pub async fn lock_if_bootstrapped(
        &self,
        command: &str,
    ) -> Result<Option<EnvironmentLock>, LockError> {
        let bootstrap = stacks::describe(&self.cloud.cfn, BOOTSTRAP_STACK)
            .await
            .map_err(LockError::Cloud)?;
        let Some(bucket) = bootstrap.and_then(|b| b.outputs.get(BUCKET_OUTPUT).cloned()) else {
            return Ok(None);
        };
        self.lock(&bucket, command, Duration::ZERO).await.map(Some)
    }
}

impl EnvironmentLock {
    pub async fn release(self) -> Result<(), CloudError> {
        self.renewer.abort();
        let held = self.held.lock().await.clone();
        lock::release(&self.s3, &held).await
    }
}
