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

/// What a synchronous invoke returned.
pub struct Invoked {
    pub status: u16,
    /// `Unhandled` or `Handled` when the function failed.
    pub function_error: Option<String>,
    pub payload: Vec<u8>,
}

/// Invokes a function and waits for its answer (RequestResponse).
pub async fn invoke(
    lambda: &Client,
    function: &str,
    payload: &[u8],
) -> Result<Invoked, CloudError> {
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(aws_smithy_types::Blob::new(payload))
        .send()
        .await
        .map_err(|e| CloudError::sdk("Invoke", function, e))?;
    Ok(Invoked {
        status: u16::try_from(out.status_code()).unwrap_or(0),
        function_error: out.function_error().map(str::to_string),
        payload: out
            .payload()
            .map(|p| p.as_ref().to_vec())
            .unwrap_or_default(),
    })
}
