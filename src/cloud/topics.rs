//! SNS: notifications published to a topic.

use super::{Cloud, CloudError};

/// Publishes `message` with `subject` (cut to SNS's 100 characters).
pub async fn publish(
    cloud: &Cloud,
    topic: &str,
    subject: &str,
    message: &str,
) -> Result<(), CloudError> {
    let subject: String = subject
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    cloud
        .sns
        .publish()
        .topic_arn(topic)
        .subject(subject)
        .message(message)
        .send()
        .await
        .map_err(|e| CloudError::sdk("Publish", topic, e))?;
    Ok(())
}
