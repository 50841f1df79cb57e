//! A fault-injecting HTTP proxy on loopback, between driftless and the
//! emulator. Every `every`-th request gets a fault, in turn: a throttling
//! error in the service's own protocol, a 500, a connection dropped before
//! the request reaches the emulator, a response lost after it did (reads
//! only, so the emulator never acts twice on one request), and latency.
//! One request per connection; the proxy stops with its last handle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    Throttle,
    ServerError,
    DropBefore,
    LoseResponse,
    Latency,
}

const FAULTS: [Fault; 5] = [
    Fault::Throttle,
    Fault::ServerError,
    Fault::DropBefore,
    Fault::LoseResponse,
    Fault::Latency,
];

#[derive(Default)]
pub struct Counts {
    pub requests: AtomicUsize,
    pub faulted: AtomicUsize,
    pub by_kind: [AtomicUsize; 5],
}

pub struct Proxy {
    pub port: u16,
    pub counts: Arc<Counts>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> usize {
        self.counts.requests.load(Ordering::SeqCst)
    }

    pub fn faulted(&self, kind: Fault) -> usize {
        let index = FAULTS.iter().position(|f| *f == kind).unwrap_or(0);
        self.counts.by_kind[index].load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Starts a proxy to `upstream` (a port on 127.0.0.1). `every`: fault every
/// n-th request (0: never). `delay`: latency added to every request.
pub fn start(upstream: u16, every: usize, delay: Duration) -> Proxy {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the proxy");
    let port = listener.local_addr().expect("proxy address").port();
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    {
        let counts = counts.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let counts = counts.clone();
                std::thread::spawn(move || serve(client, upstream, every, delay, &counts));
            }
        });
    }
    Proxy { port, counts, stop }
}

struct Request {
    head: String,
    body: Vec<u8>,
}

impl Request {
    fn is_read(&self) -> bool {
        let line = self.head.lines().next().unwrap_or_default();
        let body = String::from_utf8_lossy(&self.body);
        let action = body
            .split('&')
            .find_map(|p| p.strip_prefix("Action="))
            .unwrap_or_default();
        if !action.is_empty() {
            return ["Describe", "Get", "List"]
                .iter()
                .any(|p| action.starts_with(p));
        }
        line.starts_with("GET ") || line.starts_with("HEAD ")
    }

    fn protocol(&self) -> &'static str {
        let line = self.head.lines().next().unwrap_or_default();
        if self.body.starts_with(b"Action=") {
            "query"
        } else if line.contains(" /2015-03-31/") || line.contains(" /2017-10-31/") {
            "rest-json"
        } else {
            "s3"
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let end = line == "\r\n";
        head.push_str(&line);
        if end {
            break;
        }
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let mut body = Vec::new();
    if let Some(length) = header("content-length").and_then(|l| l.parse::<usize>().ok()) {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    } else if header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
        // Forwarded with a length instead (`forward` drops blank lines).
        head = head
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("transfer-encoding"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    Some(Request { head, body })
}

fn error_response(request: &Request, status: u16, code: &str) -> Vec<u8> {
    let (content_type, body, extra) = match request.protocol() {
        "query" => (
            "text/xml",
            format!(
                "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected by the test proxy</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            ),
            String::new(),
        ),
        "rest-json" => (
            "application/json",
            format!("{{\"message\":\"injected by the test proxy\",\"__type\":\"{code}\"}}"),
            format!("x-amzn-errortype: {code}\r\n"),
        ),
        _ => (
            "application/xml",
            format!(
                "<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
            ),
            String::new(),
        ),
    };
    format!(
        "HTTP/1.1 {status} Injected\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn forward(request: &Request, upstream: u16) -> Option<Vec<u8>> {
    let mut server = TcpStream::connect(("127.0.0.1", upstream)).ok()?;
    server
        .set_read_timeout(Some(Duration::from_secs(120)))
        .ok()?;
    // One request per upstream connection: ask the server to close after it.
    let head: String = request
        .head
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    server
        .write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .ok()?;
    server.write_all(&request.body).ok()?;
    let mut response = Vec::new();
    server.read_to_end(&mut response).ok()?;
    Some(response)
}

fn serve(client: TcpStream, upstream: u16, every: usize, delay: Duration, counts: &Counts) {
    let Ok(reader) = client.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(reader);
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let n = counts.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let mut fault =
        (every > 0 && n.is_multiple_of(every)).then(|| FAULTS[(n / every) % FAULTS.len()]);
    if fault == Some(Fault::LoseResponse) && !request.is_read() {
        fault = Some(Fault::DropBefore);
    }
    if let Some(kind) = fault {
        counts.faulted.fetch_add(1, Ordering::SeqCst);
        let index = FAULTS.iter().position(|f| *f == kind).unwrap_or(0);
        counts.by_kind[index].fetch_add(1, Ordering::SeqCst);
    }
    let mut client = client;
    let reply = match fault {
        Some(Fault::Throttle) => {
            let (status, code) = match request.protocol() {
                "query" => (400, "Throttling"),
                "rest-json" => (429, "TooManyRequestsException"),
                _ => (503, "SlowDown"),
            };
            error_response(&request, status, code)
        }
        Some(Fault::ServerError) => error_response(&request, 500, "InternalFailure"),
        Some(Fault::DropBefore) => {
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::LoseResponse) => {
            let _ = forward(&request, upstream);
            let _ = client.shutdown(Shutdown::Both);
            return;
        }
        Some(Fault::Latency) => {
            std::thread::sleep(Duration::from_millis(400));
            forward(&request, upstream).unwrap_or_default()
        }
        None => forward(&request, upstream).unwrap_or_default(),
    };
    let _ = client.write_all(&reply);
    let _ = client.shutdown(Shutdown::Both);
}
