//! The requests driftless would send CodePipeline, made without sending
//! them: for `pipeline plan --offline`.

use super::super::{Cloud, CloudError};
use crate::pipeline::declaration::Declaration;
use std::collections::BTreeMap;

/// The CreatePipeline request body the SDK sends for `declaration` and
/// `tags`, built by the SDK itself against a client that keeps what it is
/// given and sends nothing: what `pipeline plan --offline` shows is what
/// CodePipeline would be sent.
pub async fn create_request(
    declaration: &Declaration,
    tags: &BTreeMap<String, String>,
    region: &str,
) -> Result<String, CloudError> {
    let kept = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let keep = kept.clone();
    let http = crate::cloud::scripted::client(move |request| {
        let body = std::str::from_utf8(request.body().bytes().unwrap_or_default())
            .unwrap_or_default()
            .to_string();
        if let Ok(mut kept) = keep.lock() {
            *kept = body;
        }
        (
            200,
            vec![("content-type", "application/x-amz-json-1.1".into())],
            r#"{"pipeline":{"version":1}}"#.into(),
        )
    });
    let settings = crate::cloud::ConnectSettings {
        region: region.to_string(),
        endpoint: None,
        profile: None,
        role: None,
    };
    let cloud = Cloud::with_http_client(http, &settings);
    cloud.pipelines(None).create(declaration, tags).await?;
    let body = kept.lock().map(|b| b.clone()).unwrap_or_default();
    Ok(body)
}
