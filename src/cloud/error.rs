//! Errors from the cloud, carrying the operation and the object they failed on.

use aws_smithy_types::error::display::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
#[error("{operation} {subject}: {message}")]
pub struct CloudError {
    pub operation: &'static str,
    /// What the call was about: a stack, a bucket key, a function.
    pub subject: String,
    pub message: String,
}

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

    /// From an SDK error, with its whole chain of causes in the message.
    pub fn sdk<E: std::error::Error>(
        operation: &'static str,
        subject: impl Into<String>,
        error: E,
    ) -> Self {
        CloudError::new(operation, subject, DisplayErrorContext(&error).to_string())
    }
}
