//! Lambda: the settings CloudFormation may not hold on every target, read
//! from and written to the live function.

use super::CloudError;
use aws_sdk_lambda::Client;

/// The function's reserved concurrency; `None` when it has none.
pub async fn reserved_concurrency(
    lambda: &Client,
    function: &str,
) -> Result<Option<i64>, CloudError> {
    let out = lambda
        .get_function_concurrency()
        .function_name(function)
        .send()
        .await
        .map_err(|e| CloudError::sdk("GetFunctionConcurrency", function, e))?;
    Ok(out.reserved_concurrent_executions().map(i64::from))
}

pub async fn set_reserved_concurrency(
    lambda: &Client,
    function: &str,
    value: Option<i64>,
) -> Result<(), CloudError> {
    match value {
        Some(value) => {
            let value = i32::try_from(value).map_err(|_| {
                CloudError::new(
                    "PutFunctionConcurrency",
                    function,
                    format!("{value} is out of range"),
                )
            })?;
            lambda
                .put_function_concurrency()
                .function_name(function)
                .reserved_concurrent_executions(value)
                .send()
                .await
                .map_err(|e| CloudError::sdk("PutFunctionConcurrency", function, e))?;
        }
        None => {
            lambda
                .delete_function_concurrency()
                .function_name(function)
                .send()
                .await
                .map_err(|e| CloudError::sdk("DeleteFunctionConcurrency", function, e))?;
        }
    }
    Ok(())
}
