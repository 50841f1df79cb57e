//! Errors from the cloud, carrying the operation and the object they failed
//! on, each as one sentence a user can act on: the service's own code and
//! message, or what kept the call from reaching it, and what to do.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

#[derive(Debug, thiserror::Error)]
#[error("{operation} {subject}: {message}")]
pub struct CloudError {
    pub operation: &'static str,
    /// What the call was about: a stack, a bucket key, a function.
    pub subject: String,
    pub message: String,
}

/// What to do when the standard chain found no credentials.
pub const NO_CREDENTIALS_HELP: &str = "no credentials were found. The standard chain reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile of ~/.aws/config (AWS_PROFILE, or `profile:` in the target; for SSO run `aws sso login --profile NAME` first), web identity in CI, and container or instance roles";

impl CloudError {
    pub fn new(
        operation: &'static str,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        CloudError {
            operation,
            subject: subject.into(),
            message: message.into(),
        }
    }

    /// From an SDK error: the service's code and message when it answered,
    /// otherwise why the call did not get an answer.
    pub fn sdk<E, R>(
        operation: &'static str,
        subject: impl Into<String>,
        error: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        CloudError::new(operation, subject, describe(&error))
    }
}

/// The innermost cause of an error: the part that says what happened.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

fn describe<E, R>(error: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let chain = DisplayErrorContext(error).to_string();
    if chain.to_ascii_lowercase().contains("credentials")
        && !matches!(error, SdkError::ServiceError(_))
    {
        return NO_CREDENTIALS_HELP.to_string();
    }
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message}"),
                (Some(code), None) => code.to_string(),
                _ => format!("the service refused the call: {}", root_cause(e)),
            }
        }
        SdkError::TimeoutError(_) => {
            "no answer within the time limit; check the network and the endpoint, then try again"
                .into()
        }
        SdkError::DispatchFailure(failure) if failure.is_timeout() => {
            "the connection timed out; check the network and the endpoint, then try again".into()
        }
        SdkError::DispatchFailure(failure) if failure.is_io() => format!(
            "could not reach the endpoint ({}); check the network, the region and any --endpoint",
            failure
                .as_connector_error()
                .map(|c| root_cause(c))
                .unwrap_or_else(|| "connection failed".into())
        ),
        SdkError::DispatchFailure(failure) => format!(
            "the call could not be sent: {}",
            failure
                .as_connector_error()
                .map(|c| root_cause(c))
                .unwrap_or_else(|| "no reason given".into())
        ),
        SdkError::ResponseError(_) => format!(
            "the answer could not be read: {}",
            std::error::Error::source(error)
                .map(root_cause)
                .unwrap_or_else(|| "no reason given".into())
        ),
        _ => std::error::Error::source(error)
            .map(root_cause)
            .unwrap_or_else(|| error.to_string()),
    }
}
