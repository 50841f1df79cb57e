//! A scripted HTTP client: every request is answered by a closure, with no
//! network. Unit tests inject faults an emulator cannot stage with it (a
//! renewal refused half way through a pass); an offline plan keeps the
//! request the SDK would send.

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_runtime_api::shared::IntoShared;
use aws_smithy_types::body::SdkBody;
use std::sync::Arc;

/// An answer: status, headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

type Script = dyn Fn(&HttpRequest) -> Answer + Send + Sync;

#[derive(Clone)]
struct Scripted(Arc<Script>);

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let (status, headers, body) = (self.0)(&request);
        let status = StatusCode::try_from(status)
            .unwrap_or_else(|_| StatusCode::from(http::StatusCode::INTERNAL_SERVER_ERROR));
        let mut response = HttpResponse::new(status, SdkBody::from(body));
        for (name, value) in headers {
            response.headers_mut().insert(name, value);
        }
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Scripted {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}

/// A client answering every request with `script`.
pub fn client(script: impl Fn(&HttpRequest) -> Answer + Send + Sync + 'static) -> SharedHttpClient {
    Scripted(Arc::new(script)).into_shared()
}
