//! The deploy lock of one environment: an object in the bootstrap bucket,
//! written with S3 conditional writes so that exactly one writer wins. It
//! names its holder and carries an expiry, renewed while the holder works; a
//! lock past its expiry is taken over with a write conditional on its ETag.

use super::CloudError;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who holds a lock, and until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host pid N`.
    pub owner: String,
    pub command: String,
    /// Unix seconds.
    pub acquired: u64,
    pub expires: u64,
    /// The holder's host and process, to spot a holder that died on this
    /// host before its lock expired.
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
}

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Holder {
    /// Past its expiry, or held by a process of this host that is gone.
    pub fn is_stale(&self, now: u64, host: &str) -> bool {
        self.expires <= now || (self.pid != 0 && self.host == host && !process_alive(self.pid))
    }
}

/// Whether a process of this host is running. Where that cannot be told,
/// it is assumed to run, and the lock waits for its expiry.
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        std::path::Path::new(&format!("/proc/{pid}")).exists()
    } else {
        true
    }
}

/// A held lock: the ETag of our write, for renewals.
#[derive(Clone, Debug)]
pub struct Held {
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

fn uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

fn precondition_failed<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("PreconditionFailed") | Some("ConditionalRequestConflict")
    )
}

/// Writes `holder` at `key` if nobody holds it, or over a stale holder.
/// `Ok(Err(other))` when someone else holds it.
pub async fn try_acquire(
    s3: &Client,
    bucket: &str,
    key: &str,
    holder: &Holder,
) -> Result<Result<Held, Holder>, CloudError> {
    let body = serde_json::to_vec(holder).unwrap_or_default();
    let put = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .if_none_match("*")
        .body(ByteStream::from(body.clone()))
        .send()
        .await;
    let error = match put {
        Ok(out) => return Ok(Ok(held(bucket, key, out.e_tag()))),
        Err(e) => e,
    };
    if !error.as_service_error().is_some_and(precondition_failed)
        && error.raw_response().map(|r| r.status().as_u16()) != Some(412)
    {
        return Err(CloudError::sdk("PutObject", uri(bucket, key), error));
    }
    let current = s3.get_object().bucket(bucket).key(key).send().await;
    let current = match current {
        Ok(c) => c,
        // Released between our write and this read: try once more.
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => {
            return Box::pin(try_acquire(s3, bucket, key, holder)).await;
        }
        Err(e) => return Err(CloudError::sdk("GetObject", uri(bucket, key), e)),
    };
    let etag = current.e_tag().unwrap_or_default().to_string();
    let bytes = current
        .body
        .collect()
        .await
        .map_err(|e| CloudError::new("GetObject", uri(bucket, key), e.to_string()))?
        .into_bytes();
    let other: Option<Holder> = serde_json::from_slice(&bytes).ok();
    match other {
        Some(other) if !other.is_stale(now(), &holder.host) => return Ok(Err(other)),
        _ => {}
    }
    // Stale (or unreadable): take it over, unless someone else just did.
    let takeover = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .if_match(&etag)
        .body(ByteStream::from(body))
        .send()
        .await;
    match takeover {
        Ok(out) => Ok(Ok(held(bucket, key, out.e_tag()))),
        Err(e)
            if e.as_service_error().is_some_and(precondition_failed)
                || e.raw_response().map(|r| r.status().as_u16()) == Some(412) =>
        {
            Box::pin(try_acquire(s3, bucket, key, holder)).await
        }
        Err(e) => Err(CloudError::sdk("PutObject", uri(bucket, key), e)),
    }
}

fn held(bucket: &str, key: &str, etag: Option<&str>) -> Held {
    Held {
        bucket: bucket.to_string(),
        key: key.to_string(),
        etag: etag.unwrap_or_default().to_string(),
    }
}

/// Extends a held lock; fails if someone took it over meanwhile.
pub async fn renew(s3: &Client, lock: &Held, holder: &Holder) -> Result<Held, CloudError> {
    let body = serde_json::to_vec(holder).unwrap_or_default();
    let out = s3
        .put_object()
        .bucket(&lock.bucket)
        .key(&lock.key)
        .content_type("application/json")
        .if_match(&lock.etag)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| CloudError::sdk("PutObject", uri(&lock.bucket, &lock.key), e))?;
    Ok(held(&lock.bucket, &lock.key, out.e_tag()))
}

pub async fn release(s3: &Client, lock: &Held) -> Result<(), CloudError> {
    s3.delete_object()
        .bucket(&lock.bucket)
        .key(&lock.key)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DeleteObject", uri(&lock.bucket, &lock.key), e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_is_stale_from_its_expiry_on() {
        let holder = Holder {
            owner: "a@b pid 1".into(),
            command: "deploy".into(),
            acquired: 100,
            expires: 200,
            host: "b".into(),
            pid: 0,
        };
        assert!(!holder.is_stale(199, "b"));
        assert!(holder.is_stale(200, "b"));
    }

    #[test]
    fn a_holder_that_died_on_this_host_is_stale_at_once() {
        let mut holder = Holder {
            owner: "a@b".into(),
            command: "deploy".into(),
            acquired: 100,
            expires: u64::MAX,
            host: "b".into(),
            pid: std::process::id(),
        };
        assert!(!holder.is_stale(150, "b"), "this process runs");
        holder.pid = u32::MAX;
        assert_eq!(holder.is_stale(150, "b"), cfg!(target_os = "linux"));
        assert!(!holder.is_stale(150, "elsewhere"), "another host's process");
    }
}
