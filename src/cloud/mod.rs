//! The one seam to AWS: builds the SDK clients (region, endpoint, credentials,
//! retry and timeout policy) and turns service answers into plain data.
//! Nothing outside this module imports `aws_sdk_*`.

pub mod alarms;
pub mod bootstrap;
pub mod calls;
pub mod drift;
pub mod error;
pub mod functions;
pub mod identity;
pub mod lock;
pub mod logs;
pub mod machines;
pub mod objects;
pub mod pipelines;
pub mod scripted;
pub mod stacks;
pub mod state;
pub mod topics;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
pub use calls::{CallLog, CallSummary, StoreClock};
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
    /// A role to assume with the chain's (or the profile's) credentials.
    pub role: Option<String>,
}

/// The clients of one target, sharing one configuration and one call log.
#[derive(Clone, Debug)]
pub struct Cloud {
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    lambda: aws_sdk_lambda::Client,
    sts: aws_sdk_sts::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    sns: aws_sdk_sns::Client,
    sfn: aws_sdk_sfn::Client,
    calls: Arc<CallLog>,
    /// The S3 store's clock, for the lock's age.
    clock: Arc<StoreClock>,
    /// What further clients are made from (CodePipeline, on demand).
    sdk: aws_config::SdkConfig,
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
        let Some(role) = &settings.role else {
            return Cloud::from_sdk(&sdk, settings);
        };
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("driftless")
            .configure(&sdk)
            .build()
            .await;
        let assumed = sdk
            .into_builder()
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            )
            .build();
        Cloud::from_sdk(&assumed, settings)
    }

    /// Clients for an endpoint with the given static credentials (an
    /// emulator account, whose id is its access key).
    pub async fn connect_with(settings: &ConnectSettings, credentials: Credentials) -> Cloud {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .credentials_provider(credentials);
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Cloud::from_sdk(&loader.load().await, settings)
    }

    /// The clients of `sdk`, counted, with S3 path-style against an endpoint.
    pub(crate) fn from_sdk(sdk: &aws_config::SdkConfig, settings: &ConnectSettings) -> Cloud {
        let calls = Arc::new(CallLog::default());
        let counter = calls::Counter(calls.clone());
        let cfn = aws_sdk_cloudformation::Client::from_conf(
            aws_sdk_cloudformation::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let clock = Arc::new(StoreClock::default());
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk)
            .interceptor(counter.clone())
            .interceptor(calls::DateReader(clock.clone()))
            .request_checksum_calculation(
                aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
            );
        if settings.endpoint.is_some() {
            s3 = s3.force_path_style(true);
        }
        let s3 = aws_sdk_s3::Client::from_conf(s3.build());
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sns = aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(sdk)
                .interceptor(counter.clone())
                .build(),
        );
        let sfn = aws_sdk_sfn::Client::from_conf(
            aws_sdk_sfn::config::Builder::from(sdk)
                .interceptor(counter)
                .build(),
        );
        Cloud {
            cfn,
            s3,
            lambda,
            sts,
            cloudwatch,
            sns,
            sfn,
            calls,
            clock,
            sdk: sdk.clone(),
            region: settings.region.clone(),
            endpoint: settings.endpoint.clone(),
        }
    }

    /// Clients that send every request through `http`, with test
    /// credentials: for tests that replay recorded answers or inject faults.
    pub fn with_http_client(
        http: aws_smithy_runtime_api::client::http::SharedHttpClient,
        settings: &ConnectSettings,
    ) -> Cloud {
        let mut sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .http_client(http)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(Credentials::new(
                    TEST_ACCESS_KEY,
                    TEST_ACCESS_KEY,
                    None,
                    None,
                    "driftless-test",
                )),
            )
            .retry_config(RetryConfig::disabled());
        if let Some(endpoint) = &settings.endpoint {
            sdk = sdk.endpoint_url(endpoint);
        }
        Cloud::from_sdk(&sdk.build(), settings)
    }

    /// Clients that are never meant to reach anything (a runner whose
    /// checks make no cloud calls, in tests).
    pub fn detached(region: &str) -> Cloud {
        let settings = ConnectSettings {
            region: region.to_string(),
            endpoint: Some("http://127.0.0.1:9".into()),
            profile: None,
            role: None,
        };
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(settings.region.clone()))
            .build();
        Cloud::from_sdk(&sdk, &settings)
    }

    /// The store's time (Unix seconds) as of its latest answer, or ours
    /// before it answered.
    pub fn store_now(&self) -> i64 {
        self.clock.now().unwrap_or_else(|| lock::now() as i64)
    }

    /// The calls made so far, by operation.
    pub fn calls(&self) -> CallSummary {
        self.calls.summary()
    }
}
