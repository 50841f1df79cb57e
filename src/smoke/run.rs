//! Running checks: concurrently, each after the checks its `after` names,
//! with a timeout per attempt and bounded retries with backoff (a new
//! endpoint may need a moment).

use super::expect::{Observed, judge};
use super::http::{HttpClient, is_loopback_name};
use super::resolve::{Action, Check};
use crate::cloud::functions;
use crate::retry::{Backoff, Jitter, Policy};
use futures_util::future::join_all;
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckResult {
    pub name: String,
    /// `GET /users` or `invoke my-function`.
    pub target: String,
    pub passed: bool,
    /// 0 when it never ran (a check it runs after failed, or it could not
    /// be resolved).
    pub attempts: u32,
    pub status: Option<u16>,
    pub latency_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The results of one run of an environment's checks, in declared order.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub results: Vec<CheckResult>,
    pub seconds: f64,
}

impl Report {
    pub fn passed(&self) -> usize {
        self.results.iter().filter(|r| r.passed).count()
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    pub fn ok(&self) -> bool {
        self.failed() == 0
    }
}

/// A check ready to run, or why it cannot.
pub struct Planned {
    pub name: String,
    pub after: Vec<String>,
    pub check: Result<Check, String>,
}

pub struct Runner {
    http: HttpClient,
    cloud: crate::cloud::Cloud,
    /// Sent to the emulator's own endpoints (its host and port, and its
    /// `*.localhost` names on that port) when the check sends no
    /// `authorization` header: the local emulator reads the account from
    /// it. Nothing else ever gets it.
    loopback_authorization: Option<String>,
    /// Every secret value the environment knows (its secret params), masked
    /// in every excerpt and failure as well as the check's own.
    secrets: Vec<String>,
    /// The first pause between attempts; it doubles, up to 2 s.
    first_backoff: Duration,
}

impl Runner {
    /// The runner for a target: an emulator gets the caller's account on
    /// its local endpoints.
    pub fn for_cloud(cloud: &crate::cloud::Cloud, secrets: Vec<String>) -> Result<Self, String> {
        let authorization = cloud
            .endpoint
            .as_ref()
            .and_then(|_| crate::emulator::account_authorization(&cloud.region));
        let mut runner = Runner::new(cloud.clone(), authorization)?;
        runner.secrets = secrets;
        Ok(runner)
    }

    pub fn new(
        cloud: crate::cloud::Cloud,
        loopback_authorization: Option<String>,
    ) -> Result<Self, String> {
        Ok(Runner {
            http: HttpClient::new()?,
            cloud,
            loopback_authorization,
            secrets: Vec::new(),
            first_backoff: Duration::from_millis(250),
        })
    }

    /// Runs every check once its `after` checks passed; a check whose
    /// `after` check failed is reported as not run.
    pub async fn run(&self, planned: Vec<Planned>) -> Report {
        let started = Instant::now();
        let mut results: Vec<Option<CheckResult>> = vec![None; planned.len()];
        let mut passed: BTreeSet<String> = BTreeSet::new();
        let mut done: BTreeSet<String> = BTreeSet::new();
        loop {
            let ready: Vec<usize> = (0..planned.len())
                .filter(|&i| results[i].is_none())
                .filter(|&i| planned[i].after.iter().all(|a| done.contains(a)))
                .collect();
            if ready.is_empty() {
                break;
            }
            let runs = ready.iter().map(|&i| {
                let p = &planned[i];
                let blocked = p.after.iter().find(|a| !passed.contains(*a));
                async move {
                    match (&p.check, blocked) {
                        (_, Some(first)) => not_run(p, format!("not run: `{first}` failed")),
                        (Err(why), None) => not_run(p, why.clone()),
                        (Ok(check), None) => self.run_check(check).await,
                    }
                }
            });
            for (i, result) in ready.iter().zip(join_all(runs).await) {
                done.insert(planned[*i].name.clone());
                if result.passed {
                    passed.insert(planned[*i].name.clone());
                }
                results[*i] = Some(result);
            }
        }
        // Checks left waiting on each other through `after`.
        let results = results
            .into_iter()
            .zip(&planned)
            .map(|(r, p)| {
                r.unwrap_or_else(|| not_run(p, "not run: its `after` checks wait on it".into()))
            })
            .collect();
        Report {
            results,
            seconds: started.elapsed().as_secs_f64(),
        }
    }

    async fn run_check(&self, check: &Check) -> CheckResult {
        let mut secrets: Vec<String> = check
            .secrets
            .iter()
            .chain(&self.secrets)
            .filter(|s| !s.is_empty())
            .cloned()
            .collect();
        // The longest first: a secret that holds another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        let policy = Policy::doubling(self.first_backoff, Duration::from_secs(2));
        let mut backoff = Backoff::new(policy.with_jitter(Jitter::Half));
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome =
                match tokio::time::timeout(check.timeout, self.attempt(check, &secrets)).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        Attempt::failed(format!("no answer within {} s", check.timeout.as_secs()))
                    }
                };
            if outcome.problems.is_empty() || attempt > check.retries || !outcome.retryable {
                return CheckResult {
                    name: check.name.clone(),
                    target: check.target(),
                    passed: outcome.problems.is_empty(),
                    attempts: attempt,
                    status: outcome.status,
                    latency_ms: outcome.latency.map(|l| l.as_millis() as u64),
                    failure: (!outcome.problems.is_empty())
                        .then(|| super::resolve::mask(&outcome.problems.join("; "), &secrets)),
                };
            }
            backoff.wait().await;
        }
    }

    async fn attempt(&self, check: &Check, secrets: &[String]) -> Attempt {
        match &check.action {
            Action::Http(request) => {
                let mut headers = request.headers.clone();
                if let Some(auth) = &self.loopback_authorization
                    && self
                        .cloud
                        .endpoint
                        .as_deref()
                        .is_some_and(|endpoint| is_emulator_url(&request.url, endpoint))
                    && !headers.iter().any(|(k, _)| k == "authorization")
                {
                    headers.push(("authorization".into(), auth.clone()));
                }
                let request = super::http::Request {
                    method: request.method.clone(),
                    url: request.url.clone(),
                    headers,
                    body: request.body.clone(),
                };
                match self.http.send(&request).await {
                    Err(e) => Attempt::failed(e),
                    Ok(r) => Attempt {
                        // A deploy that just finished may still warm up.
                        retryable: true,
                        status: Some(r.status),
                        latency: Some(r.latency),
                        problems: judge(
                            &check.expect,
                            &Observed {
                                status: r.status,
                                headers: &r.headers,
                                body: &r.body,
                                latency: r.latency,
                                function_error: None,
                                secrets,
                            },
                        ),
                    },
                }
            }
            Action::Invoke { function, payload } => {
                let started = Instant::now();
                match functions::invoke(&self.cloud, function, payload).await {
                    Err(e) => Attempt::failed(e.to_string()),
                    Ok(out) => {
                        let latency = started.elapsed();
                        Attempt {
                            // The function ran and answered: the same
                            // payload gets the same answer. Only a function
                            // error (an init failure, a timeout) may pass.
                            retryable: out.function_error.is_some(),
                            status: Some(out.status),
                            latency: Some(latency),
                            problems: judge(
                                &check.expect,
                                &Observed {
                                    status: out.status,
                                    headers: &[],
                                    body: &out.payload,
                                    latency,
                                    function_error: out.function_error.as_deref(),
                                    secrets,
                                },
                            ),
                        }
                    }
                }
            }
        }
    }
}

struct Attempt {
    status: Option<u16>,
    latency: Option<Duration>,
    problems: Vec<String>,
    /// Whether another attempt may see something else.
    retryable: bool,
}

impl Attempt {
    fn failed(problem: String) -> Self {
        Attempt {
            retryable: true,
            status: None,
            latency: None,
            problems: vec![problem],
        }
    }
}

/// Half the pause plus a random part of the other half, so that checks
/// throttled together do not retry together.
fn not_run(p: &Planned, why: String) -> CheckResult {
    CheckResult {
        name: p.name.clone(),
        target: p.check.as_ref().map(Check::target).unwrap_or_default(),
        passed: false,
        attempts: 0,
        status: None,
        latency_ms: None,
        failure: Some(why),
    }
}

/// A URL's host (lowercase) and port (the scheme's default when none).
fn host_and_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials are no part of where a request goes.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        _ => 80,
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (authority, default),
    };
    Some((host.to_ascii_lowercase(), port))
}

/// Whether `url` goes to the emulator at `endpoint`: its own host and
/// port, or one of the names it gives its APIs and function URLs under
/// `localhost` (`ID.execute-api.localhost`, `ID.lambda-url.REGION.localhost`;
/// their port is the emulator's own, which a proxy in front of it hides).
/// Another server on loopback is not the emulator.
fn is_emulator_url(url: &str, endpoint: &str) -> bool {
    let (Some((host, port)), Some((own_host, own_port))) =
        (host_and_port(url), host_and_port(endpoint))
    else {
        return false;
    };
    let labels: Vec<&str> = host.split('.').collect();
    let service_name = is_loopback_name(&host)
        && match labels.as_slice() {
            [id, "execute-api", "localhost"] => !id.is_empty(),
            [id, "lambda-url", region, "localhost"] => !id.is_empty() && !region.is_empty(),
            _ => false,
        };
    (port == own_port && host == own_host) || service_name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_emulators_own_hosts_are_the_emulator() {
        let endpoint = "http://127.0.0.1:4566";
        assert!(is_emulator_url(
            "http://a.execute-api.localhost:4566/users",
            endpoint
        ));
        assert!(is_emulator_url("http://127.0.0.1:4566/x", endpoint));
        assert!(
            !is_emulator_url("http://127.0.0.1:8080/", endpoint),
            "another loopback server"
        );
        assert!(!is_emulator_url("http://localhost/x", endpoint));
        assert!(!is_emulator_url("http://evil.localhost:8080/", endpoint));
        assert!(!is_emulator_url("http://localhost:4566/", endpoint));
        assert!(is_emulator_url(
            "http://a1.lambda-url.us-east-1.localhost:4566/",
            endpoint
        ));
        assert!(!is_emulator_url(
            "http://127.0.0.1:4566@evil.com:4566/",
            endpoint
        ));
        assert!(!is_emulator_url(
            "https://a.execute-api.eu-west-1.amazonaws.com/users",
            endpoint
        ));
        assert!(!is_emulator_url("not a url", endpoint));
    }
}

#[cfg(test)]
mod runner_tests {
    use super::*;
    use crate::smoke::Expected;
    use crate::smoke::http::Request;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A loopback server answering `/ok` with 200 and anything else with
    /// 500, counting requests.
    async fn server() -> (u16, Arc<AtomicUsize>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    while let Ok(n) = socket.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        seen.fetch_add(1, Ordering::SeqCst);
                        let head = String::from_utf8_lossy(&buf[..n]).to_string();
                        let status = if head.starts_with("GET /ok ") {
                            "200 OK"
                        } else {
                            "500 Oops"
                        };
                        let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n");
                        if socket.write_all(reply.as_bytes()).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (port, count)
    }

    fn check(name: &str, port: u16, path: &str, retries: u32) -> Check {
        Check {
            name: name.into(),
            action: Action::Http(Request {
                method: "GET".into(),
                url: format!("http://127.0.0.1:{port}{path}"),
                headers: Vec::new(),
                body: None,
            }),
            expect: Expected {
                status: vec![200],
                ..Default::default()
            },
            timeout: Duration::from_secs(5),
            retries,
            secrets: Vec::new(),
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_invoke_whose_function_answers_the_wrong_payload_is_not_retried() {
        let invokes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = invokes.clone();
        let http = crate::cloud::scripted::client(move |_| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (200, Vec::new(), r#"{"healthy": false}"#.into())
        });
        let settings = crate::cloud::ConnectSettings {
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        let mut runner =
            Runner::new(crate::cloud::Cloud::with_http_client(http, &settings), None).unwrap();
        runner.first_backoff = Duration::from_millis(1);
        let check = Check {
            name: "probe".into(),
            action: Action::Invoke {
                function: "fn".into(),
                payload: b"{}".to_vec(),
            },
            expect: Expected {
                status: vec![200],
                json: vec![("healthy".into(), serde_json::json!(true))],
                ..Default::default()
            },
            timeout: Duration::from_secs(5),
            retries: 3,
            secrets: Vec::new(),
        };
        let result = runner.run_check(&check).await;
        assert!(!result.passed);
        assert_eq!(result.attempts, 1, "{result:?}");
        assert_eq!(invokes.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    fn runner() -> Runner {
        let mut runner = Runner::new(crate::cloud::Cloud::detached("us-east-1"), None).unwrap();
        runner.first_backoff = Duration::from_millis(5);
        runner
    }

    #[tokio::test]
    async fn failures_are_retried_and_skip_the_checks_after_them() {
        let (port, requests) = server().await;
        let planned = vec![
            Planned {
                name: "broken".into(),
                after: vec![],
                check: Ok(check("broken", port, "/broken", 2)),
            },
            Planned {
                name: "after broken".into(),
                after: vec!["broken".into()],
                check: Ok(check("after broken", port, "/ok", 2)),
            },
            Planned {
                name: "fine".into(),
                after: vec![],
                check: Ok(check("fine", port, "/ok", 2)),
            },
            Planned {
                name: "after fine".into(),
                after: vec!["fine".into()],
                check: Ok(check("after fine", port, "/ok", 0)),
            },
            Planned {
                name: "unresolved".into(),
                after: vec![],
                check: Err("stack x is not deployed".into()),
            },
        ];
        let report = runner().run(planned).await;
        let r = &report.results;
        assert_eq!(r.len(), 5);
        assert!(
            !r[0].passed && r[0].attempts == 3 && r[0].status == Some(500),
            "{:?}",
            r[0]
        );
        assert!(!r[1].passed && r[1].attempts == 0, "{:?}", r[1]);
        assert_eq!(r[1].failure.as_deref(), Some("not run: `broken` failed"));
        assert!(r[2].passed && r[2].attempts == 1, "{:?}", r[2]);
        assert!(r[3].passed, "{:?}", r[3]);
        assert_eq!(r[4].failure.as_deref(), Some("stack x is not deployed"));
        assert_eq!((report.passed(), report.failed()), (2, 3));
        // 3 attempts of `broken`, 1 of `fine`, 1 of `after fine`.
        assert_eq!(requests.load(Ordering::SeqCst), 5);
    }

    #[tokio::test]
    async fn checks_that_wait_on_each_other_are_reported_not_run() {
        let (port, requests) = server().await;
        let planned = vec![
            Planned {
                name: "a".into(),
                after: vec!["b".into()],
                check: Ok(check("a", port, "/ok", 0)),
            },
            Planned {
                name: "b".into(),
                after: vec!["a".into()],
                check: Ok(check("b", port, "/ok", 0)),
            },
        ];
        let report = runner().run(planned).await;
        assert!(report.results.iter().all(|r| !r.passed && r.attempts == 0));
        assert_eq!(requests.load(Ordering::SeqCst), 0);
    }
}
