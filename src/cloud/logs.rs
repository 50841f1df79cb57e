//! CloudWatch Logs: the lines a function wrote, from the log group it
//! writes to (its `LoggingConfig`, else `/aws/lambda/<name>`).

use super::{Cloud, CloudError, calls};

/// One line of a function's log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Milliseconds since the epoch.
    pub at: i64,
    pub stream: String,
    pub message: String,
    /// CloudWatch's id, to tell a line already shown from a new one.
    pub id: String,
}

impl Cloud {
    fn logs(&self) -> aws_sdk_cloudwatchlogs::Client {
        aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&self.sdk)
                .interceptor(calls::Counter(self.calls.clone()))
                .build(),
        )
    }
}

/// The log group `function` writes to.
pub async fn group_of(cloud: &Cloud, function: &str) -> Result<String, CloudError> {
    let out = cloud
        .lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| CloudError::sdk("GetFunctionConfiguration", function, e))?;
    Ok(out
        .logging_config()
        .and_then(|c| c.log_group())
        .map(str::to_string)
        .unwrap_or_else(|| format!("/aws/lambda/{function}")))
}

/// The lines of `group` from `since` (ms since the epoch) on, that hold
/// `filter` when given, oldest first, every page. A group not made yet
/// (the function never ran) has none.
pub async fn lines(
    cloud: &Cloud,
    group: &str,
    since: i64,
    filter: Option<&str>,
) -> Result<Vec<LogLine>, CloudError> {
    let client = cloud.logs();
    let mut lines = Vec::new();
    let mut token = None;
    loop {
        let mut request = client
            .filter_log_events()
            .log_group_name(group)
            .start_time(since)
            .set_next_token(token);
        if let Some(text) = filter {
            // A quoted term: the text as written, not filter syntax.
            request = request.filter_pattern(format!("\"{}\"", text.replace('"', "")));
        }
        let out = match request.send().await {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(lines);
            }
            Err(e) => return Err(CloudError::sdk("FilterLogEvents", group, e)),
        };
        lines.extend(out.events().iter().map(|e| LogLine {
            at: e.timestamp().unwrap_or_default(),
            stream: e.log_stream_name().unwrap_or_default().to_string(),
            message: e.message().unwrap_or_default().trim_end().to_string(),
            // Not every store gives ids: then the line is its own.
            id: match e.event_id() {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => format!(
                    "{}\u{0}{}\u{0}{}",
                    e.log_stream_name().unwrap_or_default(),
                    e.timestamp().unwrap_or_default(),
                    e.message().unwrap_or_default()
                ),
            },
        }));
        token = out.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    // Some stores match loosely: the text must be there.
    if let Some(text) = filter {
        lines.retain(|l| l.message.contains(text));
    }
    lines.sort_by_key(|l| l.at);
    Ok(lines)
}
