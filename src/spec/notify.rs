//! `notify:` in an environment: where the reconcile loop tells people
//! about a change of state (a new commit applied, a pass failed, drift
//! found, the environment degraded, drift healed).

use super::read::Reader;
use crate::kinds::{FieldSpec, FieldType, opt};
use crate::yaml::{Node, Span};

/// How a webhook's body is shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `{"text": ...}`: what Slack and Microsoft Teams incoming webhooks take.
    Chat,
    /// The same text with the facts as fields, for anything else.
    Json,
}

/// Where the URL comes from: written, or read from the loop's environment
/// (webhook URLs are secrets: anyone holding one may post).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Url {
    Literal(String),
    Env(String),
}

/// Where a notification goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    Webhook {
        url: Url,
        format: Format,
    },
    /// An SNS topic, published to with the environment's own credentials.
    Topic {
        arn: String,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub to: Destination,
    pub span: Span,
}

const FIELDS: &[FieldSpec] = &[
    opt("webhook", FieldType::Str)
        .doc("An http(s) URL posted to, or `${env:NAME}` to read it from the loop's environment."),
    opt("format", FieldType::Enum(&["chat", "json"]))
        .doc("`chat` for Slack-style `{ text }` messages, `json` for driftless's events.")
        .default("chat"),
    opt("sns", FieldType::Str).doc("ARN of an SNS topic published to, instead of a webhook."),
];

/// One notification target of `notify:`.
pub const NOTIFICATION: FieldType = FieldType::Object(FIELDS);

/// `arn:aws:sns:REGION:ACCOUNT:NAME` (any partition).
fn is_topic_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.split(':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && !parts[5].is_empty()
}

pub(super) fn read_notify(node: &Node, r: &mut Reader<'_>) -> Vec<Webhook> {
    let Some(items) = r.list(node, "notify") else {
        return Vec::new();
    };
    let mut hooks = Vec::new();
    for item in items {
        if !r.keys(item, "a notification", FIELDS) {
            continue;
        }
        if let Some(topic) = item.get("sns") {
            let Some(arn) = r.string(topic, "sns") else {
                continue;
            };
            if !is_topic_arn(&arn) || item.get("webhook").is_some() {
                r.error(
                    topic.span,
                    format!("`{arn}` is not an SNS topic ARN, or the item also names a webhook"),
                    "one destination per item: `sns: arn:aws:sns:REGION:ACCOUNT:TOPIC`, or `webhook: URL`",
                );
                continue;
            }
            hooks.push(Webhook {
                to: Destination::Topic { arn },
                span: item.span,
            });
            continue;
        }
        let Some(url_node) = item.get("webhook") else {
            r.error(
                item.span,
                "a notification names no destination",
                "add `webhook: URL` (or `${env:NAME}`), or `sns: TOPIC_ARN`",
            );
            continue;
        };
        let Some(text) = r.string(url_node, "webhook") else {
            continue;
        };
        let url = match text
            .strip_prefix("${env:")
            .and_then(|t| t.strip_suffix('}'))
        {
            Some(var)
                if !var.is_empty()
                    && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
            {
                Url::Env(var.to_string())
            }
            _ if text.starts_with("https://") || text.starts_with("http://") => Url::Literal(text),
            _ => {
                r.error(
                    url_node.span,
                    format!("`{text}` is not a webhook URL"),
                    "write an http(s) URL, or `${env:NAME}` to read it from the loop's environment (a webhook URL is a secret)",
                );
                continue;
            }
        };
        let format = match item
            .get("format")
            .and_then(|f| r.string(f, "format"))
            .as_deref()
        {
            None | Some("chat") => Format::Chat,
            Some("json") => Format::Json,
            Some(other) => {
                let span = item.get("format").map(|f| f.span).unwrap_or(item.span);
                r.error(
                    span,
                    format!("unknown notification format `{other}`"),
                    "use `chat` (Slack and Microsoft Teams incoming webhooks) or `json`",
                );
                continue;
            }
        };
        hooks.push(Webhook {
            to: Destination::Webhook { url, format },
            span: item.span,
        });
    }
    hooks
}
