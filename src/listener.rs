//! The reconcile loop's HTTP listener: `POST /hooks/git` (a push event
//! from GitHub, signed with `X-Hub-Signature-256`, or GitLab, with
//! `X-Gitlab-Token`) wakes the loop at once; `GET /healthz` answers 200
//! while the loop runs; `GET /metrics` is the Prometheus text exposition
//! (OpenMetrics when the scraper's `Accept` asks for it).
//! A request with a bad or missing signature gets 401 and changes nothing.
//! At most [`MAX_CONNECTIONS`] are served at once, a request's headers
//! must come within [`HEADER_TIMEOUT`], and a failing accept backs off.

use crate::metrics::{self, EnvironmentMetrics, Exposition};
use hmac::{KeyInit, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// Largest webhook body read (GitHub's are well under this).
const MAX_BODY: usize = 1024 * 1024;

/// What the loop and the listener share.
#[derive(Default)]
pub struct Shared {
    pub metrics: Mutex<BTreeMap<String, EnvironmentMetrics>>,
    /// Woken by a verified push of news (see `hooks`).
    pub hook: Notify,
    /// The branch followed (`--branch`); None for the project's work tree.
    pub branch: Option<String>,
    /// The commit each environment was last applied at, for telling a
    /// push of news from one already applied.
    pub current: Mutex<BTreeMap<String, String>>,
    /// The webhook secret; without one, hooks are refused.
    pub secret: Option<String>,
    pub running: AtomicBool,
    /// What the status pages show, by environment.
    pub views: Mutex<BTreeMap<String, crate::page::live::EnvView>>,
    /// A token every request but the signed webhook must carry
    /// (`--listen-token-env`).
    pub token: Option<String>,
    /// The environments followed, for `POST /sync/NAME`.
    pub environments: Vec<String>,
    /// `driftless sync` requests the next tick takes up.
    pub sync: Mutex<Vec<SyncRequest>>,
}

/// `driftless sync ENV`: a tick now, for `environment`.
#[derive(Debug)]
pub struct SyncRequest {
    pub environment: String,
    /// Applied even outside the sync windows (or protected without
    /// `auto_sync`).
    pub force: bool,
    /// Who asked, as the request says (`user@host`).
    pub by: String,
    /// With `--wait`: the environment's `reconcile_tick` event, as JSON.
    pub reply: Option<tokio::sync::oneshot::Sender<String>>,
}

/// The longest a `sync --wait` request waits for its tick.
const SYNC_WAIT: Duration = Duration::from_secs(3600);

/// The cookie a browser keeps the token in after `?token=`.
const TOKEN_COOKIE: &str = "driftless_token";

/// Whether a request carries the listener's token: `Authorization:
/// Bearer`, the cookie, or `?token=` (which sets the cookie).
fn carries_token(token: &str, request: &Request<Incoming>) -> (bool, bool) {
    let same = |given: &str| constant_time_eq(given.as_bytes(), token.as_bytes());
    let headers = request.headers();
    if let Some(auth) = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some(given) = auth.strip_prefix("Bearer ")
    {
        return (same(given.trim()), false);
    }
    let in_cookie = headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='))
        .any(same);
    if in_cookie {
        return (true, false);
    }
    let in_query = request
        .uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.strip_prefix("token="))
        .any(same);
    (in_query, in_query)
}

/// Seconds since the Unix epoch, by this host's clock.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

fn html_page(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = text(status, body);
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// Whether the request carries the secret: GitHub's HMAC-SHA256 of the
/// body, or GitLab's token, compared in constant time.
pub fn verified(secret: &str, headers: &hyper::HeaderMap, body: &[u8]) -> bool {
    if let Some(signature) = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok())
    {
        let Some(hex) = signature.strip_prefix("sha256=") else {
            return false;
        };
        let Some(expected) = decode_hex(hex) else {
            return false;
        };
        let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
            return false;
        };
        mac.update(body);
        return mac.verify_slice(&expected).is_ok();
    }
    if let Some(token) = headers.get("x-gitlab-token").and_then(|v| v.to_str().ok()) {
        return constant_time_eq(token.as_bytes(), secret.as_bytes());
    }
    false
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn answer(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    // The webhook proves itself with its signature; everything else needs
    // the token, when there is one.
    let mut set_cookie = false;
    if let Some(token) = &shared.token
        && request.uri().path() != "/hooks/git"
    {
        let (ok, from_query) = carries_token(token, &request);
        if !ok {
            return text(
                StatusCode::UNAUTHORIZED,
                "a token is required: `Authorization: Bearer TOKEN`, or open the page once with ?token=TOKEN\n",
            );
        }
        set_cookie = from_query;
    }
    let cookie = match (set_cookie, &shared.token) {
        (true, Some(token)) => hyper::header::HeaderValue::from_str(&format!(
            "{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"
        ))
        .ok(),
        _ => None,
    };
    let mut response = route(shared, request).await;
    if let Some(cookie) = cookie {
        response
            .headers_mut()
            .insert(hyper::header::SET_COOKIE, cookie);
    }
    response
}

async fn route(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    if request.method() == Method::GET && (path == "/" || path.starts_with("/env/")) {
        let Ok(views) = shared.views.lock() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "state unavailable\n");
        };
        let now = unix_now();
        if path == "/" {
            let all: Vec<&crate::page::live::EnvView> = views.values().collect();
            return html_page(StatusCode::OK, crate::page::live::index_page(&all, now));
        }
        let name = path.trim_start_matches("/env/");
        return match views.get(name) {
            Some(view) => html_page(StatusCode::OK, crate::page::live::env_page(view, now)),
            None => text(StatusCode::NOT_FOUND, "no such environment\n"),
        };
    }
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/healthz") => match shared.running.load(Ordering::SeqCst) {
            true => text(StatusCode::OK, "ok\n"),
            false => text(StatusCode::SERVICE_UNAVAILABLE, "stopping\n"),
        },
        (&Method::GET, "/metrics") => {
            let accept = request
                .headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok());
            let format = Exposition::from_accept(accept);
            let body = match shared.metrics.lock() {
                Ok(m) => metrics::render(&m, shared.running.load(Ordering::SeqCst), format),
                Err(_) => String::new(),
            };
            let mut response = text(StatusCode::OK, body);
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(format.content_type()),
            );
            response
        }
        (&Method::POST, path) if path.starts_with("/sync/") => sync(&shared, request).await,
        (&Method::POST, "/hooks/git") => {
            let Some(secret) = shared.secret.clone() else {
                return text(
                    StatusCode::FORBIDDEN,
                    "no webhook secret is configured (--webhook-secret-env NAME)\n",
                );
            };
            let headers = request.headers().clone();
            let body = match Limited::new(request.into_body(), MAX_BODY).collect().await {
                Ok(body) => body.to_bytes(),
                Err(_) => return text(StatusCode::PAYLOAD_TOO_LARGE, "body too large\n"),
            };
            if !verified(&secret, &headers, &body) {
                return text(StatusCode::UNAUTHORIZED, "bad or missing signature\n");
            }
            let current: std::collections::BTreeSet<String> = shared
                .current
                .lock()
                .map(|c| c.values().cloned().collect())
                .unwrap_or_default();
            match crate::hooks::decide(&headers, &body, shared.branch.as_deref(), &current) {
                crate::hooks::Hook::Wake => {
                    shared.hook.notify_one();
                    text(StatusCode::ACCEPTED, "fetching\n")
                }
                crate::hooks::Hook::Ignore(why) => {
                    text(StatusCode::OK, format!("ignored: {why}\n"))
                }
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `POST /sync/NAME[?force=1][&wait=1]`, with the token and an
/// `X-Driftless-By` header: a tick now for NAME; with `wait`, the answer
/// is that tick's `reconcile_tick` event.
async fn sync(shared: &Shared, request: Request<Incoming>) -> Response<Full<Bytes>> {
    if shared.token.is_none() {
        return text(
            StatusCode::FORBIDDEN,
            "sync needs a listener token: start the agent with --listen-token-env NAME\n",
        );
    }
    let name = request.uri().path().trim_start_matches("/sync/");
    if !shared.environments.iter().any(|e| e == name) {
        return text(
            StatusCode::NOT_FOUND,
            format!("this agent does not follow `{name}`\n"),
        );
    }
    let query = request.uri().query().unwrap_or_default();
    let flag = |key: &str| query.split('&').any(|kv| kv == format!("{key}=1"));
    let by = request
        .headers()
        .get("x-driftless-by")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 200)
        .unwrap_or("unknown")
        .to_string();
    let (reply, answer) = match flag("wait") {
        true => {
            let (tx, rx) = tokio::sync::oneshot::channel();
            (Some(tx), Some(rx))
        }
        false => (None, None),
    };
    let queued = SyncRequest {
        environment: name.to_string(),
        force: flag("force"),
        by,
        reply,
    };
    match shared.sync.lock() {
        Ok(mut queue) => queue.push(queued),
        Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, "state unavailable\n"),
    }
    shared.hook.notify_one();
    let Some(answer) = answer else {
        return text(StatusCode::ACCEPTED, "queued\n");
    };
    match tokio::time::timeout(SYNC_WAIT, answer).await {
        Ok(Ok(tick)) => {
            let mut response = text(StatusCode::OK, tick);
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        _ => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent stopped before the tick ended\n",
        ),
    }
}

/// Serves until the process ends; each connection on its own task.
/// The most connections served at once: past it, new ones wait in the
/// kernel's backlog instead of taking a file each.
pub const MAX_CONNECTIONS: usize = 64;

/// How long a client may take to send a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // An accept that fails (out of files, say) is tried again after a
    // pause that grows, never in a tight loop.
    let policy = crate::retry::Policy::doubling(Duration::from_millis(50), Duration::from_secs(2));
    let mut failures = 0;
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                failures = 0;
                stream
            }
            Err(_) => {
                failures += 1;
                tokio::time::sleep(policy.pause(failures, Duration::ZERO)).await;
                continue;
            }
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let io = hyper_util::rt::TokioIo::new(stream);
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(shared, request).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(io, service)
                .await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &'static str, value: &str) -> hyper::HeaderMap {
        let mut h = hyper::HeaderMap::new();
        h.insert(name, value.parse().expect("header"));
        h
    }

    #[test]
    fn a_github_signature_is_checked_over_the_body() {
        // HMAC-SHA256("It's a Secret to Everybody", "Hello, World!"), from
        // GitHub's documentation of webhook signatures.
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        let body = b"Hello, World!";
        let secret = "It's a Secret to Everybody";
        assert!(verified(
            secret,
            &headers("x-hub-signature-256", good),
            body
        ));
        assert!(!verified(
            secret,
            &headers("x-hub-signature-256", good),
            b"Hello, World?"
        ));
        assert!(!verified(
            "another",
            &headers("x-hub-signature-256", good),
            body
        ));
        assert!(!verified(
            secret,
            &headers("x-hub-signature-256", "sha1=00"),
            body
        ));
        assert!(!verified(secret, &hyper::HeaderMap::new(), body));
    }

    #[test]
    fn a_gitlab_token_must_equal_the_secret() {
        assert!(verified(
            "s3cret",
            &headers("x-gitlab-token", "s3cret"),
            b""
        ));
        assert!(!verified(
            "s3cret",
            &headers("x-gitlab-token", "s3cre"),
            b""
        ));
    }
}
