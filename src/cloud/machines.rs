//! Step Functions: a state machine's definition, read and written directly
//! (watch's hotswap), skipping CloudFormation.

use super::{Cloud, CloudError};

/// The definition a state machine runs now.
pub async fn definition(cloud: &Cloud, arn: &str) -> Result<String, CloudError> {
    let out = cloud
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| CloudError::sdk("DescribeStateMachine", arn, e))?;
    Ok(out.definition().to_string())
}

/// Makes `arn` run `definition` (new executions take it at once).
pub async fn update_definition(
    cloud: &Cloud,
    arn: &str,
    definition: &str,
) -> Result<(), CloudError> {
    cloud
        .sfn
        .update_state_machine()
        .state_machine_arn(arn)
        .definition(definition)
        .send()
        .await
        .map_err(|e| CloudError::sdk("UpdateStateMachine", arn, e))?;
    Ok(())
}
