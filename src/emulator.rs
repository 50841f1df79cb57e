//! The embedded local emulators, each at a pinned version, installed into a
//! private virtual environment on first use, run on 127.0.0.1, tracked by a
//! state file so `deploy`, `local status` and `local down` find them:
//! MiniStack for everything, and moto's server for CodePipeline, which
//! MiniStack does not have.

use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const MINISTACK_VERSION: &str = "1.5.33";
pub const MOTO_VERSION: &str = "5.2.5";
/// The port tried first when none is configured: the usual emulator port.
pub const DEFAULT_PORT: u16 = 4566;
const START_LIMIT: Duration = Duration::from_secs(60);

/// One emulator: what to install, how to run it, how to know it answers.
pub struct Server {
    pub name: &'static str,
    pub version: &'static str,
    /// pip requirements, the package itself first.
    requirements: &'static [&'static str],
    executable: &'static str,
    health_path: &'static str,
    /// The state file's name in `local/`.
    state: &'static str,
}

/// What is installed beside MiniStack: boto3, which Python handlers
/// import; cbor2, without which MiniStack cannot read the SDK's
/// CloudWatch requests (smithy-rpc-v2-cbor) and answers JSON instead; and
/// cryptography, without which it refuses every token a JWT authorizer
/// checks (it verifies RS256 signatures with it).
pub const MINISTACK: Server = Server {
    name: "ministack",
    version: MINISTACK_VERSION,
    requirements: &[
        "ministack==1.5.33",
        "boto3",
        "cbor2==5.7.1",
        "cryptography==46.0.7",
    ],
    executable: "ministack",
    health_path: "/_ministack/health",
    state: "state.json",
};

/// moto's server, for CodePipeline (and the IAM role its CreatePipeline
/// checks).
pub const MOTO: Server = Server {
    name: "moto",
    version: MOTO_VERSION,
    requirements: &["moto[server]==5.2.5"],
    executable: "moto_server",
    health_path: "/moto-api/",
    state: "moto.json",
};

impl Server {
    fn venv_dir(&self, home: &Path) -> PathBuf {
        home.join(format!("{}-{}", self.name, self.version))
    }

    fn state_file(&self, home: &Path) -> PathBuf {
        home.join("local").join(self.state)
    }

    pub fn log_file(&self, home: &Path) -> PathBuf {
        home.join("local").join(format!("{}.log", self.name))
    }

    /// The install's marker: what it holds. A different one is installed anew.
    fn install_spec(&self) -> String {
        self.requirements.join(" ")
    }

    /// The command that runs it on `port`, bound to loopback.
    pub fn command(&self, executable: &Path, port: u16) -> Command {
        let mut command = Command::new(executable);
        if self.name == MOTO.name {
            command.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        } else {
            command
                .env("BIND_HOST", "127.0.0.1")
                .env("GATEWAY_PORT", port.to_string());
        }
        command
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error(
        "`{python}` was not found; install Python 3 (Debian: `apt install python3 python3-venv`) or point DRIFTLESS_PYTHON at one"
    )]
    NoPython { python: String },
    #[error(
        "could not create a virtual environment in {path}: {detail}\nhelp: install the venv module (Debian: `apt install python3-venv`)"
    )]
    Venv { path: PathBuf, detail: String },
    #[error(
        "pip could not install {package}: {detail}\nhelp: check that PyPI is reachable (or a mirror set with PIP_INDEX_URL), then run `driftless local up` again"
    )]
    Pip {
        package: &'static str,
        detail: String,
    },
    #[error(
        "port {port} on 127.0.0.1 is busy\nhelp: choose another with `--port` or DRIFTLESS_LOCAL_PORT, or stop what holds it"
    )]
    PortBusy { port: u16 },
    #[error("the emulator did not start: {detail}\nhelp: its log is {log}")]
    Start { detail: String, log: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LocalError + '_ {
    move |source| LocalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where driftless keeps the emulator: `DRIFTLESS_HOME`, else the user's cache
/// directory.
pub fn home() -> PathBuf {
    if let Some(home) = std::env::var_os("DRIFTLESS_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home);
    }
    if let Some(cache) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(cache).join("driftless");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".cache").join("driftless"),
        None => std::env::temp_dir().join("driftless"),
    }
}

/// The running emulator, as recorded in the state file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Emulator {
    pub pid: u32,
    pub port: u16,
    pub version: String,
}

impl Emulator {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub fn log_file(home: &Path) -> PathBuf {
    MINISTACK.log_file(home)
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}

/// Installs MiniStack and its companions into the private virtual
/// environment unless it is there; returns its executable.
pub fn ensure_installed(home: &Path) -> Result<PathBuf, LocalError> {
    MINISTACK.ensure_installed(home)
}

impl Server {
    /// Installs the server into its private virtual environment unless it is
    /// there; returns its executable.
    pub fn ensure_installed(&self, home: &Path) -> Result<PathBuf, LocalError> {
        let dir = self.venv_dir(home);
        let marker = dir.join(".driftless-installed");
        let executable = dir.join("bin").join(self.executable);
        let installed = std::fs::read_to_string(&marker).is_ok_and(|m| m == self.install_spec());
        if installed && executable.is_file() {
            return Ok(executable);
        }
        // A half-made environment from an interrupted install is started over.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        std::fs::create_dir_all(home).map_err(io(home))?;
        let python = std::env::var("DRIFTLESS_PYTHON").unwrap_or_else(|_| "python3".into());
        let venv = Command::new(&python)
            .args(["-m", "venv"])
            .arg(&dir)
            .output()
            .map_err(|_| LocalError::NoPython {
                python: python.clone(),
            })?;
        if !venv.status.success() {
            return Err(LocalError::Venv {
                path: dir,
                detail: tail(&String::from_utf8_lossy(&venv.stderr)),
            });
        }
        let pip = Command::new(dir.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(self.requirements)
            .output()
            .map_err(|e| LocalError::Pip {
                package: self.requirements[0],
                detail: e.to_string(),
            })?;
        if !pip.status.success() || !executable.is_file() {
            return Err(LocalError::Pip {
                package: self.requirements[0],
                detail: tail(&String::from_utf8_lossy(&pip.stderr)),
            });
        }
        std::fs::write(&marker, self.install_spec()).map_err(io(&marker))?;
        Ok(executable)
    }
}

/// Whether MiniStack answers its health check on `port`.
pub fn healthy(port: u16) -> bool {
    MINISTACK.healthy(port)
}

/// Waits until MiniStack on `port` is healthy, or `alive` says it died.
pub fn wait_healthy(port: u16, alive: impl FnMut() -> bool) -> Result<(), String> {
    MINISTACK.wait_healthy(port, alive)
}

fn port_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// A free loopback port chosen by the system.
pub fn free_port() -> Result<u16, std::io::Error> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        || Command::new("kill")
            .args(["-0", &pid.to_string()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
}

/// The recorded MiniStack if it is running and healthy.
pub fn status(home: &Path) -> Option<Emulator> {
    MINISTACK.status(home)
}

/// Starts MiniStack unless it runs already. `port`: the configured one, or
/// the default port when free, else any free port.
pub fn up(home: &Path, port: Option<u16>) -> Result<Emulator, LocalError> {
    MINISTACK.up(home, port.map(Port::Exactly).unwrap_or(Port::Default))
}

/// Stops the recorded MiniStack; true if one was running.
pub fn down(home: &Path) -> Result<bool, LocalError> {
    MINISTACK.down(home)
}

/// Which port a server is started on.
#[derive(Clone, Copy, Debug)]
pub enum Port {
    Exactly(u16),
    /// The usual emulator port when free, else any free one.
    Default,
    Any,
}

impl Server {
    /// Whether the server answers its health check on `port`.
    pub fn healthy(&self, port: u16) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n",
            self.health_path
        );
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 16];
        let n = stream.read(&mut head).unwrap_or(0);
        head[..n].starts_with(b"HTTP/1.1 200") || head[..n].starts_with(b"HTTP/1.0 200")
    }

    /// Waits until the server on `port` is healthy, or `alive` says it died.
    pub fn wait_healthy(&self, port: u16, mut alive: impl FnMut() -> bool) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < START_LIMIT {
            if self.healthy(port) {
                return Ok(());
            }
            if !alive() {
                return Err("it exited during start-up".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "no answer on {} after {}s",
            self.health_path,
            START_LIMIT.as_secs()
        ))
    }

    /// The recorded server if it is running and healthy.
    pub fn status(&self, home: &Path) -> Option<Emulator> {
        let text = std::fs::read_to_string(self.state_file(home)).ok()?;
        let emulator: Emulator = serde_json::from_str(&text).ok()?;
        (process_alive(emulator.pid) && self.healthy(emulator.port)).then_some(emulator)
    }

    /// Starts the server unless it runs already.
    pub fn up(&self, home: &Path, port: Port) -> Result<Emulator, LocalError> {
        if let Some(running) = self.status(home) {
            if !matches!(port, Port::Exactly(p) if p != running.port) {
                return Ok(running);
            }
            self.down(home)?;
        }
        let executable = self.ensure_installed(home)?;
        let port = match port {
            Port::Exactly(p) if port_free(p) => p,
            Port::Exactly(p) => return Err(LocalError::PortBusy { port: p }),
            Port::Default if port_free(DEFAULT_PORT) => DEFAULT_PORT,
            Port::Default | Port::Any => free_port().map_err(io(home))?,
        };
        let log = self.log_file(home);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let out = std::fs::File::create(&log).map_err(io(&log))?;
        let err = out.try_clone().map_err(io(&log))?;
        let mut command = self.command(&executable, port);
        command.stdin(Stdio::null()).stdout(out).stderr(err);
        // Its own process group: a Ctrl-C meant for driftless leaves it running.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| LocalError::Start {
            detail: e.to_string(),
            log: log.clone(),
        })?;
        let started = self.wait_healthy(port, || matches!(child.try_wait(), Ok(None)));
        if let Err(detail) = started {
            let _ = child.kill();
            let _ = child.wait();
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(LocalError::Start {
                detail: format!("{detail}\n{}", tail(&logged)),
                log,
            });
        }
        let emulator = Emulator {
            pid: child.id(),
            port,
            version: self.version.into(),
        };
        let state = self.state_file(home);
        let json = serde_json::to_string(&emulator).unwrap_or_default();
        std::fs::write(&state, json).map_err(io(&state))?;
        Ok(emulator)
    }

    /// Stops the recorded server; true if one was running.
    pub fn down(&self, home: &Path) -> Result<bool, LocalError> {
        let state = self.state_file(home);
        let Ok(text) = std::fs::read_to_string(&state) else {
            return Ok(false);
        };
        let running = match serde_json::from_str::<Emulator>(&text) {
            Ok(e) if process_alive(e.pid) => {
                let _ = Command::new("kill").arg(e.pid.to_string()).status();
                let started = Instant::now();
                while process_alive(e.pid) && started.elapsed() < Duration::from_secs(10) {
                    std::thread::sleep(Duration::from_millis(50));
                }
                if process_alive(e.pid) {
                    let _ = Command::new("kill")
                        .args(["-9", &e.pid.to_string()])
                        .status();
                }
                true
            }
            _ => false,
        };
        std::fs::remove_file(&state).map_err(io(&state))?;
        Ok(running)
    }
}

/// The `Authorization` header value the emulator reads the caller's account
/// from, for data-plane calls (an HTTP API) made with plain HTTP: needed
/// when the access key names an account other than the default one.
pub fn account_authorization(region: &str) -> Option<String> {
    let key = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
    (key.len() == 12 && key.bytes().all(|b| b.is_ascii_digit())).then(|| {
        format!(
            "AWS4-HMAC-SHA256 Credential={key}/20260101/{region}/execute-api/aws4_request, SignedHeaders=host, Signature=0"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_state_file_is_not_a_running_emulator() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("local")).unwrap();
        let port = free_port().unwrap();
        let stale = Emulator {
            pid: u32::MAX - 1,
            port,
            version: MINISTACK_VERSION.into(),
        };
        std::fs::write(
            MINISTACK.state_file(home.path()),
            serde_json::to_string(&stale).unwrap(),
        )
        .unwrap();
        assert_eq!(status(home.path()), None);
        assert!(!down(home.path()).unwrap());
        assert!(!MINISTACK.state_file(home.path()).exists());
    }

    #[test]
    fn a_busy_configured_port_is_refused_before_anything_starts() {
        let home = tempfile::tempdir().unwrap();
        // Pretend the install is done, so only the port check can fail.
        let dir = MINISTACK.venv_dir(home.path());
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::write(dir.join("bin").join("ministack"), "").unwrap();
        std::fs::write(dir.join(".driftless-installed"), MINISTACK.install_spec()).unwrap();
        let holder = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = holder.local_addr().unwrap().port();
        let err = up(home.path(), Some(port)).unwrap_err();
        assert!(matches!(err, LocalError::PortBusy { port: p } if p == port));
        assert!(err.to_string().contains("--port"));
    }
}
