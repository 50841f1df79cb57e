//! The deploy lock of one environment: an object in the bootstrap bucket,
//! written with S3 conditional writes so that exactly one writer wins. It
//! names its holder and how long it lives without renewal; its age is the
//! store's own (`LastModified` against the store's `Date`), so two hosts'
//! clocks are never compared. A lock past its time is taken over, renewed
//! and released with writes conditional on its ETag: nobody ever removes or
//! extends a lock that someone else took over.

use super::{Cloud, CloudError};
use aws_sdk_s3::primitives::ByteStream;
use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who holds a lock, and for how long without renewal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// `user@host pid N`.
    pub owner: String,
    pub command: String,
    /// Unix seconds by the holder's clock: shown to people, never compared.
    pub acquired: u64,
    pub expires: u64,
    /// The holder's host and process, to spot a holder that died on this
    /// host before its lock expired.
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub pid: u32,
    /// Seconds the lock lives after its last write (0 in locks written
    /// before this field: then `expires - acquired`).
    #[serde(default)]
    pub ttl: u64,
}

/// This host's clock, in Unix seconds: for what people read.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

impl Holder {
    fn ttl(&self) -> u64 {
        if self.ttl > 0 {
            self.ttl
        } else {
            self.expires.saturating_sub(self.acquired)
        }
    }

    /// Whether a lock whose last write is `age` seconds old (by the store's
    /// clock) has lapsed, or is held by a process of this host that is gone.
    pub fn is_stale(&self, age: i64, host: &str) -> bool {
        age >= self.ttl() as i64 || (self.pid != 0 && self.host == host && !process_alive(self.pid))
    }

    /// Seconds left until a lock of this age lapses.
    pub fn expires_in(&self, age: i64) -> u64 {
        (self.ttl() as i64 - age).max(0) as u64
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

/// A held lock: the ETag of our latest write.
#[derive(Clone, Debug)]
pub struct Held {
    pub bucket: String,
    pub key: String,
    pub etag: String,
}

/// Someone else holds the lock.
#[derive(Clone, Debug)]
pub struct Busy {
    pub holder: Holder,
    /// Seconds until it lapses without renewal, by the store's clock.
    pub expires_in: u64,
}

/// How a renewal or a release found the lock.
#[derive(Debug)]
pub enum LockLost {
    /// Someone else wrote it since our last write (a takeover).
    TakenOver,
    /// It is gone.
    Gone,
    Cloud(CloudError),
}

fn uri(bucket: &str, key: &str) -> String {
    format!("s3://{bucket}/{key}")
}

fn precondition_failed<E: aws_sdk_s3::error::ProvideErrorMetadata>(
    e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    e.as_service_error().is_some_and(|s| {
        matches!(
            s.code(),
            Some("PreconditionFailed") | Some("ConditionalRequestConflict")
        )
    }) || e.raw_response().map(|r| r.status().as_u16()) == Some(412)
}

fn not_found<E>(
    e: &aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> bool {
    e.raw_response().map(|r| r.status().as_u16()) == Some(404)
}

/// Writes `holder` at `key` if nobody holds it, or over a lapsed holder.
/// `Ok(Err(busy))` when someone else holds it.
pub async fn try_acquire(
    cloud: &Cloud,
    bucket: &str,
    key: &str,
    holder: &Holder,
) -> Result<Result<Held, Busy>, CloudError> {
    // A lock released or taken over between our calls: look again, a few
    // times, rather than report a holder that is not there.
    for _ in 0..5 {
        if let Some(result) = acquire_once(cloud, bucket, key, holder).await? {
            return Ok(result);
        }
    }
    Err(CloudError::new(
        "PutObject",
        uri(bucket, key),
        "the lock changed hands five times while taking it; try again",
    ))
}

async fn acquire_once(
    cloud: &Cloud,
    bucket: &str,
    key: &str,
    holder: &Holder,
) -> Result<Option<Result<Held, Busy>>, CloudError> {
    let s3 = &cloud.s3;
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
    match put {
        Ok(out) => return Ok(Some(Ok(held(bucket, key, out.e_tag())))),
        Err(e) if precondition_failed(&e) => {}
        Err(e) => return Err(CloudError::sdk("PutObject", uri(bucket, key), e)),
    }
    let current = match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(c) => c,
        Err(e) if not_found(&e) => return Ok(None),
        Err(e) => return Err(CloudError::sdk("GetObject", uri(bucket, key), e)),
    };
    let etag = current.e_tag().unwrap_or_default().to_string();
    let written = current.last_modified().map(|t| t.secs());
    let bytes = current
        .body
        .collect()
        .await
        .map_err(|e| CloudError::new("GetObject", uri(bucket, key), e.to_string()))?
        .into_bytes();
    // The store's time, from the answer just read.
    let age = written.map_or(i64::MAX, |w| cloud.store_now() - w);
    if let Some(other) = serde_json::from_slice::<Holder>(&bytes).ok()
        && !other.is_stale(age, &holder.host)
    {
        let expires_in = other.expires_in(age);
        return Ok(Some(Err(Busy {
            holder: other,
            expires_in,
        })));
    }
    // Lapsed (or unreadable): take it over, unless someone else just did.
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
        Ok(out) => Ok(Some(Ok(held(bucket, key, out.e_tag())))),
        Err(e) if precondition_failed(&e) || not_found(&e) => Ok(None),
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

/// Extends a held lock, only if it is still the one we wrote last.
pub async fn renew(cloud: &Cloud, lock: &Held, holder: &Holder) -> Result<Held, LockLost> {
    let body = serde_json::to_vec(holder).unwrap_or_default();
    let out = cloud
        .s3
        .put_object()
        .bucket(&lock.bucket)
        .key(&lock.key)
        .content_type("application/json")
        .if_match(&lock.etag)
        .body(ByteStream::from(body))
        .send()
        .await;
    match out {
        Ok(out) => Ok(held(&lock.bucket, &lock.key, out.e_tag())),
        Err(e) if precondition_failed(&e) => Err(LockLost::TakenOver),
        Err(e) if not_found(&e) => Err(LockLost::Gone),
        Err(e) => Err(LockLost::Cloud(CloudError::sdk(
            "PutObject",
            uri(&lock.bucket, &lock.key),
            e,
        ))),
    }
}

/// Deletes the lock, only if it is still the one we wrote last.
pub async fn release(cloud: &Cloud, lock: &Held) -> Result<(), LockLost> {
    let out = cloud
        .s3
        .delete_object()
        .bucket(&lock.bucket)
        .key(&lock.key)
        .if_match(&lock.etag)
        .send()
        .await;
    match out {
        Ok(_) => Ok(()),
        Err(e) if precondition_failed(&e) => Err(LockLost::TakenOver),
        Err(e) if not_found(&e) => Err(LockLost::Gone),
        Err(e) => Err(LockLost::Cloud(CloudError::sdk(
            "DeleteObject",
            uri(&lock.bucket, &lock.key),
            e,
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder(pid: u32) -> Holder {
        Holder {
            owner: "a@b pid 1".into(),
            command: "deploy".into(),
            acquired: 100,
            expires: 190,
            host: "b".into(),
            pid,
            ttl: 90,
        }
    }

    #[test]
    fn a_lock_lapses_when_its_age_by_the_store_reaches_its_ttl() {
        let holder = holder(0);
        assert!(!holder.is_stale(89, "b"));
        assert!(holder.is_stale(90, "b"));
        assert_eq!(holder.expires_in(30), 60);
        assert_eq!(holder.expires_in(120), 0);
    }

    #[test]
    fn the_holders_own_clock_plays_no_part() {
        // A holder whose clock runs a day behind (or ahead) still holds a
        // lock it wrote a second ago.
        let mut skewed = holder(0);
        skewed.acquired = 1_000_000 - 86_400;
        skewed.expires = skewed.acquired + 90;
        assert!(!skewed.is_stale(1, "b"));
        skewed.acquired = 1_000_000 + 86_400;
        skewed.expires = skewed.acquired + 90;
        assert!(!skewed.is_stale(1, "b"));
    }

    #[test]
    fn a_lock_written_without_a_ttl_uses_its_expiry_span() {
        let mut old = holder(0);
        old.ttl = 0;
        assert!(!old.is_stale(89, "b"));
        assert!(old.is_stale(90, "b"));
    }

    #[test]
    fn a_holder_that_died_on_this_host_is_stale_at_once() {
        let mut holder = holder(std::process::id());
        assert!(!holder.is_stale(0, "b"), "this process runs");
        holder.pid = u32::MAX;
        assert_eq!(holder.is_stale(0, "b"), cfg!(target_os = "linux"));
        assert!(!holder.is_stale(0, "elsewhere"), "another host's process");
    }

    /// A store answering each request with the next scripted answer, and
    /// the requests it saw as `METHOD condition`.
    fn store(
        answers: Vec<super::super::scripted::Answer>,
    ) -> (Cloud, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
        let answers = std::sync::Mutex::new(answers.into_iter());
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let http = super::super::scripted::client(move |request| {
            let headers = request.headers();
            let condition = headers
                .get("if-none-match")
                .map(|v| format!("if-none-match {v}"))
                .or_else(|| headers.get("if-match").map(|v| format!("if-match {v}")))
                .unwrap_or_default();
            log.lock().unwrap().push(
                format!("{} {condition}", request.method())
                    .trim()
                    .to_string(),
            );
            answers
                .lock()
                .unwrap()
                .next()
                .unwrap_or((500, Vec::new(), String::new()))
        });
        let settings = super::super::ConnectSettings {
            region: "eu-west-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        (Cloud::with_http_client(http, &settings), seen)
    }

    const PRECONDITION: &str =
        "<Error><Code>PreconditionFailed</Code><Message>no</Message></Error>";
    const NO_KEY: &str = "<Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";

    fn answer(
        status: u16,
        headers: &[(&'static str, &str)],
        body: &str,
    ) -> super::super::scripted::Answer {
        let headers = headers.iter().map(|(k, v)| (*k, v.to_string())).collect();
        (status, headers, body.to_string())
    }

    fn lock_object(holder: &Holder, modified: &str, date: &str) -> super::super::scripted::Answer {
        let body = serde_json::to_string(holder).unwrap();
        answer(
            200,
            &[
                ("etag", "\"theirs\""),
                ("last-modified", modified),
                ("date", date),
            ],
            &body,
        )
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_lock_released_between_our_write_and_our_read_is_taken_at_the_next_try() {
        let (cloud, seen) = store(vec![
            answer(412, &[], PRECONDITION),
            answer(404, &[], NO_KEY),
            answer(200, &[("etag", "\"ours\"")], ""),
        ]);
        let held = try_acquire(&cloud, "b", "k", &holder(0))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(held.etag, "\"ours\"");
        assert_eq!(
            *seen.lock().unwrap(),
            ["PUT if-none-match *", "GET", "PUT if-none-match *"]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_takeover_lost_to_another_deployer_reports_the_winner() {
        let date = "Tue, 01 Dec 2026 19:07:29 GMT";
        let long_ago = "Tue, 01 Dec 2026 18:00:00 GMT";
        let mut winner = holder(0);
        winner.owner = "winner".into();
        let (cloud, seen) = store(vec![
            // Lapsed: written an hour ago by the store's clock.
            answer(412, &[], PRECONDITION),
            lock_object(&holder(0), long_ago, date),
            // Someone else took it over first.
            answer(412, &[], PRECONDITION),
            // Next round: the winner's fresh lock.
            answer(412, &[], PRECONDITION),
            lock_object(&winner, date, date),
        ]);
        let busy = try_acquire(&cloud, "b", "k", &holder(0))
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(busy.holder.owner, "winner");
        assert_eq!(busy.expires_in, 90);
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "PUT if-none-match *",
                "GET",
                "PUT if-match \"theirs\"",
                "PUT if-none-match *",
                "GET"
            ]
        );
    }
}
