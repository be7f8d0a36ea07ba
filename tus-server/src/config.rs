//! What a [`TusHandler`](crate::TusHandler) is configured with: plain data.

use std::time::Duration;

use tus_core::headers::Extension;
use tus_core::server::cors::Cors;
use tus_core::server::policy::ConcatLimits;

use super::location::LocationStyle;

/// Default [`Config::lock_timeout`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`Config::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Config::min_body_rate`]: 1 KiB a second averaged over 30 s,
/// below any real client (a weak mobile link does tens of KiB a second),
/// far above a body trickled to hold a connection.
pub const DEFAULT_MIN_BODY_RATE: MinBodyRate = MinBodyRate {
    bytes: 30 * 1024,
    per: Duration::from_secs(30),
};

/// The slowest a request body may arrive: at least `bytes` in every
/// window of `per` (checked window by window, from the start of the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinBodyRate {
    /// Bytes that must arrive per window.
    pub bytes: u64,
    /// The window.
    pub per: Duration,
}

/// Everything a [`TusHandler`](crate::TusHandler) is configured with.
#[derive(Debug, Clone)]
pub struct Config {
    /// Path of the upload collection, starting and ending with `/` (default `/files/`).
    pub base_path: String,
    /// Largest upload accepted, advertised as `Tus-Max-Size`.
    pub max_size: Option<u64>,
    /// Serve `GET` downloads of completed uploads (default on).
    pub download: bool,
    /// CORS (default: any origin).
    pub cors: Cors,
    /// How `Location` URLs are built.
    pub location: LocationStyle,
    /// Lifetime of an unfinished upload after its last write; `None`: never expires.
    pub expire_after: Option<Duration>,
    /// Extensions not served even though the store could.
    pub disabled_extensions: Vec<Extension>,
    /// Bounds on what one final upload may assemble.
    pub concat_limits: ConcatLimits,
    /// How long a request waits for an upload's lock after asking the holder
    /// to release it; then it answers `423 Locked`.
    pub lock_timeout: Duration,
    /// A body that sends no byte for this long is stopped (detected within
    /// twice this time); the bytes received so far are kept. `None`: wait forever.
    pub body_idle_timeout: Option<Duration>,
    /// A body slower than this is stopped; the bytes received so far are
    /// kept. `None`: any rate.
    pub min_body_rate: Option<MinBodyRate>,
    /// How often, at most, `post_receive` and progress events report a body.
    pub progress_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            base_path: "/files/".to_owned(),
            max_size: None,
            download: true,
            cors: Cors::default(),
            location: LocationStyle::default(),
            expire_after: None,
            disabled_extensions: Vec::new(),
            concat_limits: ConcatLimits::default(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            body_idle_timeout: Some(DEFAULT_BODY_IDLE_TIMEOUT),
            min_body_rate: Some(DEFAULT_MIN_BODY_RATE),
            progress_interval: Duration::from_secs(1),
        }
    }
}
