//! The HTTP client of smoke checks: HTTPS with the system's roots, plain
//! HTTP for local endpoints, redirects never followed (a check may expect
//! one), and `*.localhost` resolved to loopback by the client itself.
//!
//! The emulator hands out API URLs on `<id>.execute-api.localhost`. RFC 6761
//! makes every name under `localhost` a loopback name, but glibc resolves
//! only `localhost` itself, so the resolver here answers those names first
//! and asks the system for the rest.

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Response bodies beyond this are cut off: a smoke check reads a page, not
/// a download.
const MAX_BODY_BYTES: usize = 1 << 20;

/// A name the system may not resolve but that is loopback by definition.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Resolves `localhost` and `*.localhost` to 127.0.0.1, other names through
/// the system resolver.
#[derive(Clone, Copy, Debug, Default)]
pub struct LoopbackResolver;

type Addresses = std::vec::IntoIter<SocketAddr>;
type Resolving = Pin<Box<dyn Future<Output = Result<Addresses, std::io::Error>> + Send>>;

impl tower_service::Service<Name> for LoopbackResolver {
    type Response = Addresses;
    type Error = std::io::Error;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_string();
        Box::pin(async move {
            if is_loopback_name(&host) {
                return Ok(vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))].into_iter());
            }
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            Ok(found.into_iter())
        })
    }
}

pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// From sending the request to the last byte of the body.
    pub latency: Duration,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector<LoopbackResolver>>;

/// One client per run, shared by every check: connections are reused.
pub struct HttpClient {
    client: Client<Connector, Full<Bytes>>,
}

impl HttpClient {
    pub fn new() -> Result<Self, String> {
        let mut http = HttpConnector::new_with_resolver(LoopbackResolver);
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_secs(5)));
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("the system's TLS root certificates could not be read: {e}"))?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(https);
        Ok(HttpClient { client })
    }

    /// Sends one request and reads the whole response (up to 1 MiB).
    pub async fn send(&self, request: &Request) -> Result<Response, String> {
        let method = hyper::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", request.method))?;
        let mut builder = hyper::Request::builder()
            .method(method)
            .uri(request.url.as_str());
        for (name, value) in &request.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let built = builder
            .body(body)
            .map_err(|e| format!("the request to {} cannot be built: {e}", request.url))?;
        let started = Instant::now();
        let response = self
            .client
            .request(built)
            .await
            .map_err(|e| describe_error(&request.url, &e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_ascii_lowercase(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the response of {} failed: {e}", request.url))?
            .to_bytes()
            .to_vec();
        Ok(Response {
            status,
            headers,
            body,
            latency: started.elapsed(),
        })
    }
}

/// The innermost cause: "connection refused" says more than "client error".
fn describe_error(url: &str, error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        cause = inner.to_string();
        source = inner.source();
    }
    format!("request to {url} failed: {cause}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_localhost_are_loopback() {
        assert!(is_loopback_name("localhost"));
        assert!(is_loopback_name("abc123.execute-api.localhost"));
        assert!(is_loopback_name("API.LOCALHOST."));
        assert!(!is_loopback_name("localhost.example.com"));
        assert!(!is_loopback_name("notlocalhost"));
        assert!(!is_loopback_name("abc.execute-api.eu-west-1.amazonaws.com"));
    }

    #[tokio::test]
    async fn a_subdomain_of_localhost_reaches_a_loopback_server() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let n = socket.read(&mut buf).await.unwrap();
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            socket
                .write_all(b"HTTP/1.1 302 Found\r\nLocation: /next\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            head
        });
        let client = HttpClient::new().unwrap();
        let response = client
            .send(&Request {
                method: "GET".into(),
                url: format!("http://abc.execute-api.localhost:{port}/users"),
                headers: vec![("x-check".into(), "1".into())],
                body: None,
            })
            .await
            .unwrap();
        assert_eq!(response.status, 302, "the redirect is not followed");
        assert!(
            response
                .headers
                .contains(&("location".into(), "/next".into()))
        );
        assert_eq!(response.body, b"ok");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /users HTTP/1.1"), "{head}");
        assert!(
            head.contains(&format!("host: abc.execute-api.localhost:{port}")),
            "{head}"
        );
        assert!(head.contains("x-check: 1"), "{head}");
    }
}
