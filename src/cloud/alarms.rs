//! CloudWatch alarms: the state of the alarms an environment's templates
//! declare, by name.

use super::{Cloud, CloudError};
use serde::Serialize;

/// Names one `DescribeAlarms` takes.
const NAMES_PER_CALL: usize = 100;

/// One alarm's state as CloudWatch has it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlarmState {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: String,
}

/// The states of the alarms named `names`; an alarm CloudWatch does not
/// know is absent from the answer.
pub async fn states(cloud: &Cloud, names: &[String]) -> Result<Vec<AlarmState>, CloudError> {
    let mut found = Vec::new();
    for batch in names.chunks(NAMES_PER_CALL) {
        let out = cloud
            .cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| CloudError::sdk("DescribeAlarms", batch.join(", "), e))?;
        for alarm in out.metric_alarms() {
            found.push(AlarmState {
                name: alarm.alarm_name().unwrap_or_default().to_string(),
                state: alarm
                    .state_value()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                reason: alarm.state_reason().unwrap_or_default().to_string(),
            });
        }
    }
    Ok(found)
}
