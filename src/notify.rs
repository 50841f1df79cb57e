//! Notifications from the reconcile loop: one message per change of state
//! (a new commit applied, a pass failed, drift found, the environment
//! degraded, drift healed), posted to the environment's webhooks.

use crate::cloud::Cloud;
use crate::smoke::http::{HttpClient, Request};
use crate::spec::notify::{Destination, Format, Url, Webhook};
use serde_json::json;

/// One change of state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// `applied`, `failed`, `drift`, `degraded` or `healed`.
    pub event: &'static str,
    pub app: String,
    pub environment: String,
    pub commit: Option<String>,
    pub message: String,
}

impl Notice {
    pub fn text(&self) -> String {
        let at = self
            .commit
            .as_deref()
            .map(|c| format!(" at {}", crate::revision::short(c)))
            .unwrap_or_default();
        format!(
            "driftless: {} {} {}{at}: {}",
            self.app, self.environment, self.event, self.message
        )
    }

    /// The body for `format`.
    pub fn body(&self, format: Format) -> Vec<u8> {
        let body = match format {
            Format::Chat => json!({ "text": self.text() }),
            Format::Json => json!({
                "text": self.text(),
                "event": self.event,
                "app": self.app,
                "environment": self.environment,
                "commit": self.commit,
                "message": self.message,
            }),
        };
        body.to_string().into_bytes()
    }
}

/// Posts `notice` to every destination (topics through `cloud`); returns
/// what could not be sent (never a webhook URL: it is a secret).
pub async fn send(
    client: &HttpClient,
    cloud: &Cloud,
    hooks: &[Webhook],
    notice: &Notice,
) -> Vec<String> {
    let mut errors = Vec::new();
    for (i, hook) in hooks.iter().enumerate() {
        let (url, format) = match &hook.to {
            Destination::Topic { arn } => {
                let subject = format!(
                    "driftless: {} {} {}",
                    notice.app, notice.environment, notice.event
                );
                if let Err(e) =
                    crate::cloud::topics::publish(cloud, arn, &subject, &notice.text()).await
                {
                    errors.push(format!("notification {}: {e}", i + 1));
                }
                continue;
            }
            Destination::Webhook { url, format } => (url, *format),
        };
        let url = match url {
            Url::Literal(url) => url.clone(),
            Url::Env(var) => match std::env::var(var) {
                Ok(url) if !url.is_empty() => url,
                _ => {
                    errors.push(format!("notification {}: {var} is not set", i + 1));
                    continue;
                }
            },
        };
        let request = Request {
            method: "POST".into(),
            url,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Some(notice.body(format)),
        };
        let sent =
            tokio::time::timeout(std::time::Duration::from_secs(10), client.send(&request)).await;
        match sent {
            Ok(Ok(response)) if (200..300).contains(&response.status) => {}
            Ok(Ok(response)) => errors.push(format!(
                "notification {}: the webhook answered {}",
                i + 1,
                response.status
            )),
            Ok(Err(_)) => errors.push(format!(
                "notification {}: the webhook could not be reached",
                i + 1
            )),
            Err(_) => errors.push(format!("notification {}: no answer within 10 s", i + 1)),
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice() -> Notice {
        Notice {
            event: "healed",
            app: "shop".into(),
            environment: "dev".into(),
            commit: Some("0123456789abcdef0123".into()),
            message: "ApiHandler /MemorySize -> 256".into(),
        }
    }

    #[test]
    fn chat_bodies_carry_only_text_and_json_bodies_the_facts() {
        let chat: serde_json::Value =
            serde_json::from_slice(&notice().body(Format::Chat)).expect("json");
        assert_eq!(
            chat,
            json!({ "text": "driftless: shop dev healed at 0123456789ab: ApiHandler /MemorySize -> 256" })
        );
        let plain: serde_json::Value =
            serde_json::from_slice(&notice().body(Format::Json)).expect("json");
        assert_eq!(plain["event"], "healed");
        assert_eq!(plain["commit"], "0123456789abcdef0123");
    }
}
