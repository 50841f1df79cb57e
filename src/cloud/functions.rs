//! Lambda: the settings CloudFormation may not hold on every target, read
//! from and written to the live function.

use super::CloudError;
use std::collections::{BTreeMap, HashMap};

pub async fn set_reserved_concurrency(
    cloud: &super::Cloud,
    function: &str,
    value: Option<i64>,
) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
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
    /// The invocation's log tail, when asked for and given.
    pub log: Option<String>,
}

/// Invokes a function and waits for its answer (RequestResponse).
pub async fn invoke(
    cloud: &super::Cloud,
    function: &str,
    payload: &[u8],
) -> Result<Invoked, CloudError> {
    invoke_as(cloud, function, payload, false).await
}

/// [`invoke`]; with `tail`, Lambda also returns the last 4 KB of the
/// invocation's log (`LogType: Tail`), decoded into `log`.
pub async fn invoke_as(
    cloud: &super::Cloud,
    function: &str,
    payload: &[u8],
    tail: bool,
) -> Result<Invoked, CloudError> {
    let lambda = &cloud.lambda;
    let mut request = lambda
        .invoke()
        .function_name(function)
        .payload(aws_smithy_types::Blob::new(payload));
    if tail {
        request = request.log_type(aws_sdk_lambda::types::LogType::Tail);
    }
    let out = request
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
        log: out
            .log_result()
            .and_then(|b64| aws_smithy_types::base64::decode(b64).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    })
}

/// The tag a hotswapped function carries until a deploy brings
/// CloudFormation back in line; its value lists what was swapped.
pub const HOTSWAP_TAG: &str = "driftless:hotswapped";

/// What the live function runs, as `GetFunction` answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveFunction {
    pub name: String,
    pub arn: String,
    /// Base64 of the code zip's SHA-256, as Lambda reports it.
    pub code_sha256: String,
    pub environment: BTreeMap<String, String>,
    pub description: String,
    pub reserved_concurrency: Option<i64>,
    /// The value of [`HOTSWAP_TAG`]: what was swapped since the last deploy.
    pub hotswapped: Option<String>,
}

/// Lambda's `CodeSha256` for a zip whose SHA-256 is `hex`.
pub fn code_sha256_of_hex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    bytes
        .filter(|b| b.len() == 32)
        .map(aws_smithy_types::base64::encode)
}

pub async fn get(cloud: &super::Cloud, function: &str) -> Result<LiveFunction, CloudError> {
    find(cloud, function).await?.ok_or_else(|| {
        CloudError::new(
            "GetFunction",
            function,
            "the function does not exist (deleted outside CloudFormation?)",
        )
    })
}

/// The live function, or None when it does not exist (deleted by hand:
/// its stack still names it).
pub async fn find(
    cloud: &super::Cloud,
    function: &str,
) -> Result<Option<LiveFunction>, CloudError> {
    let lambda = &cloud.lambda;
    let out = match lambda.get_function().function_name(function).send().await {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(CloudError::sdk("GetFunction", function, e)),
    };
    let config = out.configuration();
    Ok(Some(LiveFunction {
        name: function.to_string(),
        arn: config
            .and_then(|c| c.function_arn())
            .unwrap_or_default()
            .to_string(),
        code_sha256: config
            .and_then(|c| c.code_sha256())
            .unwrap_or_default()
            .to_string(),
        environment: config
            .and_then(|c| c.environment())
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        description: config
            .and_then(|c| c.description())
            .unwrap_or_default()
            .to_string(),
        reserved_concurrency: out
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions())
            .map(i64::from),
        hotswapped: out.tags().and_then(|t| t.get(HOTSWAP_TAG)).cloned(),
    }))
}

/// Where new code comes from: the zip itself, or the asset in the bucket.
pub enum CodeSource<'a> {
    Zip(&'a [u8]),
    S3 { bucket: &'a str, key: &'a str },
}

pub async fn update_code(
    cloud: &super::Cloud,
    function: &str,
    code: CodeSource<'_>,
) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
    let request = lambda.update_function_code().function_name(function);
    let request = match code {
        CodeSource::Zip(bytes) => request.zip_file(aws_smithy_types::Blob::new(bytes)),
        CodeSource::S3 { bucket, key } => request.s3_bucket(bucket).s3_key(key),
    };
    let send = || request.clone().send();
    write_once_settled(cloud, function, "UpdateFunctionCode", send).await
}

/// Sends an update; when Lambda refuses it because an update still runs
/// (a pass cut short before Lambda finished), waits for that one and sends
/// it once more.
async fn write_once_settled<O, E, F>(
    cloud: &super::Cloud,
    function: &str,
    operation: &'static str,
    send: impl Fn() -> F,
) -> Result<(), CloudError>
where
    F: std::future::Future<Output = Result<O, aws_sdk_lambda::error::SdkError<E>>>,
    E: aws_sdk_lambda::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    match send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error().and_then(|s| s.code()) == Some("ResourceConflictException") =>
        {
            wait_updated(cloud, function).await?;
            send()
                .await
                .map(|_| ())
                .map_err(|e| CloudError::sdk(operation, function, e))
        }
        Err(e) => Err(CloudError::sdk(operation, function, e)),
    }
}

pub async fn update_configuration(
    cloud: &super::Cloud,
    function: &str,
    environment: &BTreeMap<String, String>,
    description: &str,
) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
    let variables: HashMap<String, String> = environment
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let request = lambda
        .update_function_configuration()
        .function_name(function)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        )
        .description(description);
    let send = || request.clone().send();
    write_once_settled(cloud, function, "UpdateFunctionConfiguration", send).await
}

/// Waits until the function's last update has finished (Lambda refuses a
/// second update while one is in progress); fails if it failed.
pub async fn wait_updated(cloud: &super::Cloud, function: &str) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
    use aws_sdk_lambda::types::LastUpdateStatus;
    use std::time::Duration;
    let policy =
        crate::retry::Policy::doubling(Duration::from_millis(50), Duration::from_millis(500));
    let mut backoff = crate::retry::Backoff::new(policy).within(Duration::from_secs(300));
    loop {
        let out = lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| CloudError::sdk("GetFunctionConfiguration", function, e))?;
        match out.last_update_status() {
            Some(LastUpdateStatus::InProgress) => {}
            Some(LastUpdateStatus::Failed) => {
                return Err(CloudError::new(
                    "UpdateFunctionCode",
                    function,
                    format!(
                        "the update failed: {}",
                        out.last_update_status_reason().unwrap_or("no reason given")
                    ),
                ));
            }
            _ => return Ok(()),
        }
        if !backoff.wait().await {
            return Err(CloudError::new(
                "GetFunctionConfiguration",
                function,
                "the update did not finish within 5 minutes",
            ));
        }
    }
}

pub async fn tag_hotswapped(
    cloud: &super::Cloud,
    arn: &str,
    swapped: &str,
) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
    lambda
        .tag_resource()
        .resource(arn)
        .tags(HOTSWAP_TAG, swapped)
        .send()
        .await
        .map_err(|e| CloudError::sdk("TagResource", arn, e))?;
    Ok(())
}

pub async fn untag_hotswapped(cloud: &super::Cloud, arn: &str) -> Result<(), CloudError> {
    let lambda = &cloud.lambda;
    lambda
        .untag_resource()
        .resource(arn)
        .tag_keys(HOTSWAP_TAG)
        .send()
        .await
        .map_err(|e| CloudError::sdk("UntagResource", arn, e))?;
    Ok(())
}

/// Configuration to put back on a function, as its template has it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigurationFix {
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub handler: Option<String>,
    pub runtime: Option<String>,
    pub description: Option<String>,
    /// The whole environment, as it must be.
    pub environment: Option<BTreeMap<String, String>>,
}

/// Writes `fix` in one `UpdateFunctionConfiguration`, once the function's
/// previous update has settled.
pub async fn apply_fix(
    cloud: &super::Cloud,
    function: &str,
    fix: &ConfigurationFix,
) -> Result<(), CloudError> {
    let mut request = cloud
        .lambda
        .update_function_configuration()
        .function_name(function)
        .set_memory_size(fix.memory)
        .set_timeout(fix.timeout)
        .set_handler(fix.handler.clone())
        .set_description(fix.description.clone())
        .set_runtime(
            fix.runtime
                .as_deref()
                .map(aws_sdk_lambda::types::Runtime::from),
        );
    if let Some(environment) = &fix.environment {
        let variables: HashMap<String, String> = environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        request = request.environment(
            aws_sdk_lambda::types::Environment::builder()
                .set_variables(Some(variables))
                .build(),
        );
    }
    let send = || request.clone().send();
    write_once_settled(cloud, function, "UpdateFunctionConfiguration", send).await?;
    wait_updated(cloud, function).await
}

/// An alias: the version it serves, and the share of the traffic another
/// version takes (`RoutingConfig`).
#[derive(Clone, Debug, PartialEq)]
pub struct AliasRouting {
    pub version: String,
    pub weights: Vec<(String, f64)>,
}

pub async fn get_alias(
    cloud: &super::Cloud,
    function: &str,
    alias: &str,
) -> Result<AliasRouting, CloudError> {
    let out = cloud
        .lambda
        .get_alias()
        .function_name(function)
        .name(alias)
        .send()
        .await
        .map_err(|e| CloudError::sdk("GetAlias", format!("{function}:{alias}"), e))?;
    let mut weights: Vec<(String, f64)> = out
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(v, w)| (v.clone(), *w)).collect())
        .unwrap_or_default();
    weights.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(AliasRouting {
        version: out.function_version().unwrap_or_default().to_string(),
        weights,
    })
}

/// Points `alias` at `version`, with `weight` of the traffic on `next`
/// when given (none: all of it on `version`).
pub async fn route_alias(
    cloud: &super::Cloud,
    function: &str,
    alias: &str,
    version: &str,
    next: Option<(&str, f64)>,
) -> Result<(), CloudError> {
    let mut routing = aws_sdk_lambda::types::AliasRoutingConfiguration::builder();
    if let Some((next, weight)) = next {
        routing = routing.additional_version_weights(next, weight);
    }
    let lambda = &cloud.lambda;
    let request = lambda
        .update_alias()
        .function_name(function)
        .name(alias)
        .function_version(version)
        .routing_config(routing.build());
    let send = || request.clone().send();
    write_once_settled(cloud, function, "UpdateAlias", send).await
}

/// The published versions of `function`, oldest first (`$LATEST` left out).
pub async fn versions(cloud: &super::Cloud, function: &str) -> Result<Vec<u64>, CloudError> {
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let out = cloud
            .lambda
            .list_versions_by_function()
            .function_name(function)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| CloudError::sdk("ListVersionsByFunction", function, e))?;
        found.extend(
            out.versions()
                .iter()
                .filter_map(|v| v.version().and_then(|n| n.parse::<u64>().ok())),
        );
        marker = out.next_marker().map(str::to_string);
        if marker.is_none() {
            break;
        }
    }
    found.sort_unstable();
    Ok(found)
}

/// Publishes what the function runs now as a version and points `alias`
/// at it, all traffic (a hotswap behind an alias). Returns the version.
pub async fn publish_to_alias(
    cloud: &super::Cloud,
    function: &str,
    alias: &str,
) -> Result<String, CloudError> {
    wait_updated(cloud, function).await?;
    let out = cloud
        .lambda
        .publish_version()
        .function_name(function)
        .description("driftless hotswap")
        .send()
        .await
        .map_err(|e| CloudError::sdk("PublishVersion", function, e))?;
    let version = out.version().unwrap_or_default().to_string();
    route_alias(cloud, function, alias, &version, None).await?;
    Ok(version)
}
