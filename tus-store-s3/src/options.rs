//! Where the bucket is: endpoint, region, addressing, and a client built
//! from them with credentials from the standard AWS chain.

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Region, StalledStreamProtectionConfig};

use crate::S3Timeouts;

/// How to reach a bucket. Credentials come from the standard AWS chain
/// (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, instance roles).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Options {
    /// The bucket's name.
    pub bucket: String,
    /// The endpoint URL, for S3-compatible servers (MinIO, R2, Garage);
    /// `None` for AWS.
    pub endpoint: Option<String>,
    /// The region; `None` takes it from the AWS chain (`AWS_REGION`), or
    /// `us-east-1`.
    pub region: Option<String>,
    /// Path-style addressing (`endpoint/bucket/key`), which most
    /// self-hosted servers need, instead of virtual-hosted style.
    pub path_style: bool,
    /// How long calls may take (give the same to
    /// [`S3StoreBuilder::timeouts`](crate::S3StoreBuilder::timeouts) for the transfers).
    pub timeouts: S3Timeouts,
}

impl S3Options {
    /// Options for `bucket` on AWS, region from the environment.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            endpoint: None,
            region: None,
            path_style: false,
            timeouts: S3Timeouts::default(),
        }
    }

    /// A client for these options, with stalled-stream protection off (a
    /// download streams at the pace of the client reading it), and the
    /// timeouts and retries of [`S3Timeouts`]: a hung S3 server turns into
    /// an error within seconds instead of a request that never ends.
    pub async fn client(&self) -> aws_sdk_s3::Client {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &self.region {
            loader = loader.region(Region::new(region.clone()));
        }
        let shared = loader.load().await;
        // Downloads go out at the pace of the HTTP client that asked for
        // them; the SDK's stalled-stream protection would cut slow readers.
        let mut config = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(self.path_style)
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(self.timeouts.client_config())
            .retry_config(self.timeouts.retry_config());
        if shared.region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        if let Some(endpoint) = &self.endpoint {
            config = config.endpoint_url(endpoint);
        }
        aws_sdk_s3::Client::from_conf(config.build())
    }
}
