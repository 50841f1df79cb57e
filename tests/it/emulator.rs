//! The local emulator for integration tests: installed by the same code as
//! `driftless local up`, started once per test run on a free loopback port,
//! stopped when the test process ends. Each test works in its own account
//! (a 12-digit access key id is its own account in MiniStack).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct Emulator {
    pub port: u16,
    _watchdog: Child,
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub fn home() -> PathBuf {
    super::support::repo_root()
        .join("target")
        .join("tools")
        .join("driftless-home")
}

/// The shared emulator, started on first use.
pub fn emulator() -> &'static Emulator {
    static EMULATOR: OnceLock<Emulator> = OnceLock::new();
    EMULATOR.get_or_init(|| spawn(&driftless::emulator::MINISTACK))
}

/// moto's server, for CodePipeline, started on first use.
pub fn moto() -> &'static Emulator {
    static MOTO: OnceLock<Emulator> = OnceLock::new();
    MOTO.get_or_init(|| spawn(&driftless::emulator::MOTO))
}

/// Installs `server` with the code `driftless local up` uses and starts it
/// on a free loopback port, for the life of the test process.
fn spawn(server: &driftless::emulator::Server) -> Emulator {
    let executable = server
        .ensure_installed(&home())
        .unwrap_or_else(|e| panic!("cannot install {}: {e}", server.name));
    let port = driftless::emulator::free_port().expect("a free port");
    let log = std::fs::File::create(home().join(format!("test-{}-{port}.log", server.name)))
        .expect("emulator log");
    let inner = server.command(&executable, port);
    // The shell's stdin is a pipe from this process: when the test process
    // ends, `read` returns and the shell stops its whole process group.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg("\"$0\" \"$@\" & read _; trap '' TERM; kill -TERM 0")
        .arg(inner.get_program())
        .args(inner.get_args())
        .envs(inner.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))))
        .stdin(Stdio::piped())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut watchdog = command.spawn().expect("start the emulator");
    let started = server.wait_healthy(port, || matches!(watchdog.try_wait(), Ok(None)));
    if let Err(e) = started {
        panic!("{} did not start: {e}", server.name);
    }
    Emulator {
        port,
        _watchdog: watchdog,
    }
}

/// A fresh account for one test.
pub fn account() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "{:012}",
        100_000_000_000 + NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Runs driftless against the emulator as `account`, with JSON output.
pub fn run(project: &Path, account: &str, args: &[&str]) -> Output {
    command(project, account, args, &emulator().endpoint())
        .output()
        .expect("run driftless")
}

/// The driftless command line against `endpoint` as `account`, JSON output.
pub fn command(project: &Path, account: &str, args: &[&str], endpoint: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftless"));
    command.arg("--project").arg(project);
    as_account(command, account, args, endpoint)
}

/// The same, run from inside `project` as a user would: no `--project`.
pub fn command_inside(project: &Path, account: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftless"));
    command.current_dir(project);
    as_account(command, account, args, &emulator().endpoint())
}

fn as_account(mut command: Command, account: &str, args: &[&str], endpoint: &str) -> Command {
    command.arg("--output").arg("json");
    with_account(command, account, args, endpoint)
}

/// What a person sees: stdout and stderr of a human-output run.
pub fn human(project: &Path, account: &str, args: &[&str]) -> String {
    let out = human_command(project, account, args)
        .output()
        .expect("run driftless");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A human-output run, to be started by the caller.
pub fn human_command(project: &Path, account: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_driftless"));
    command.arg("--project").arg(project);
    with_account(command, account, args, &emulator().endpoint())
}

fn with_account(mut command: Command, account: &str, args: &[&str], endpoint: &str) -> Command {
    command
        .args(args)
        .env("DRIFTLESS_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", account)
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("DRIFTLESS_PROJECT")
        .env("DRIFTLESS_HOME", home());
    command
}

/// The JSON events of a run.
pub fn events(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

pub fn summary(output: &Output) -> serde_json::Value {
    events(output)
        .into_iter()
        .rev()
        .find(|e| e["event"] == "summary")
        .unwrap_or_else(|| {
            panic!(
                "no summary in\n{}\n{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        })
}

/// Asserts a run succeeded, showing its output when it did not.
pub fn ok(output: &Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// SDK clients for checking what was deployed, as `account`.
pub struct Clients {
    pub cfn: aws_sdk_cloudformation::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub s3: aws_sdk_s3::Client,
    pub rt: tokio::runtime::Runtime,
}

pub fn clients(account: &str, region: &str) -> Clients {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let creds =
        aws_credential_types::Credentials::new(account, "test", None, None, "driftless-tests");
    let sdk = rt.block_on(
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()))
            .endpoint_url(emulator().endpoint())
            .credentials_provider(creds)
            .load(),
    );
    Clients {
        cfn: aws_sdk_cloudformation::Client::new(&sdk),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        lambda: aws_sdk_lambda::Client::new(&sdk),
        s3: aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        ),
        rt,
    }
}

/// A response from the HTTP API: status, headers (lower-case names), body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// One HTTP/1.1 request to an emulator URL such as
/// `http://<id>.execute-api.localhost:<port>/users`, sent to 127.0.0.1 with
/// the account in the Authorization header, as the emulator expects.
pub fn http(method: &str, url: &str, account: &str, body: Option<&str>) -> Response {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0"
    );
    http_as(method, url, &[("Authorization", &auth)], body)
}

/// One HTTP/1.1 request to `url` on 127.0.0.1 with the `headers` given
/// (none added: the caller says who it is).
pub fn http_as(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let port: u16 = authority
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {authority}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Response {
        status,
        headers,
        body: body.to_string(),
    }
}
