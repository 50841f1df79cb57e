//! The one seam to AWS: builds the SDK clients (region, endpoint, credentials,
//! retry and timeout policy) and turns service answers into plain data.
//! Nothing outside this module imports `aws_sdk_*`.

pub mod assets;
pub mod calls;
pub mod error;
pub mod functions;
pub mod identity;
pub mod lock;
pub mod stacks;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
pub use calls::{CallLog, CallSummary};
pub use error::CloudError;
use std::sync::Arc;
use std::time::Duration;

/// Where and as whom to connect, resolved from the environment and the flags.
#[derive(Clone, Debug)]
pub struct ConnectSettings {
    pub region: String,
    /// An AWS-compatible endpoint (the local emulator, or `--endpoint`).
    pub endpoint: Option<String>,
    /// A named profile from the environment's target.
    pub profile: Option<String>,
}

/// The clients of one target, sharing one configuration and one call log.
#[derive(Clone, Debug)]
pub struct Cloud {
    pub cfn: aws_sdk_cloudformation::Client,
    pub s3: aws_sdk_s3::Client,
    pub lambda: aws_sdk_lambda::Client,
    pub sts: aws_sdk_sts::Client,
    pub calls: Arc<CallLog>,
    pub region: String,
    pub endpoint: Option<String>,
}

/// Credentials to use against an emulator when the standard chain has none.
const TEST_ACCESS_KEY: &str = "test";

/// Whether the standard chain has something to offer without probing the
/// network: probing instance metadata on a laptop costs a second per run.
fn chain_configured() -> bool {
    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    if set("AWS_ACCESS_KEY_ID")
        || set("AWS_PROFILE")
        || set("AWS_WEB_IDENTITY_TOKEN_FILE")
        || set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        || set("AWS_CONTAINER_CREDENTIALS_FULL_URI")
    {
        return true;
    }
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let file = |var: &str, default: &str| {
        std::env::var_os(var)
            .map(std::path::PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
            .is_some_and(|p| p.is_file())
    };
    file("AWS_SHARED_CREDENTIALS_FILE", "credentials") || file("AWS_CONFIG_FILE", "config")
}

/// Retries throttling, 5xx and dropped connections with exponential backoff,
/// a bounded number of times.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(6)
        .with_initial_backoff(Duration::from_millis(100))
        .with_max_backoff(Duration::from_secs(5))
}

/// Bounds every connection, attempt and operation so nothing hangs.
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .read_timeout(Duration::from_secs(60))
        .operation_attempt_timeout(Duration::from_secs(60))
        .operation_timeout(Duration::from_secs(180))
        .build()
}

impl Cloud {
    pub async fn connect(settings: &ConnectSettings) -> Cloud {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(retry_config())
            .timeout_config(timeout_config());
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
            if settings.profile.is_none() && !chain_configured() {
                loader = loader.credentials_provider(Credentials::new(
                    TEST_ACCESS_KEY,
                    TEST_ACCESS_KEY,
                    None,
                    None,
                    "driftless-emulator",
                ));
            }
        }
        let sdk = loader.load().await;
        let calls = Arc::new(CallLog::default());
        let counter = calls::Counter(calls.clone());
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let mut s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .interceptor(counter.clone())
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            );
        if settings.endpoint.is_some() {
            s3 = s3.force_path_style(true);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk)
                .interceptor(counter)
                .build(),
        );
        Cloud {
            cfn,
            s3,
            lambda,
            sts,
            calls,
            region: settings.region.clone(),
            endpoint: settings.endpoint.clone(),
        }
    }
}
