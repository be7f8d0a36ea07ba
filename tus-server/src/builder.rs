//! Handler configuration and its builder.

use std::sync::Arc;
use std::time::Duration;

use tus_core::headers::Extension;
use tus_core::server::cors::Cors;
use tus_core::server::policy::ConcatLimits;
use tus_core::store::Store;

use super::clock::{Clock, SystemClock};
use super::handler::TusHandler;
use super::hooks::Hooks;
use super::ids::{IdGenerator, RandomIds};
use super::location::LocationStyle;
use super::lock::{Locker, MemoryLocker};
use super::timer::Timer;

/// Default [`Config::lock_timeout`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`Config::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default [`Config::min_body_rate`]: 1 KiB per 20 s, far below any real
/// client, far above a body trickled to hold a connection.
pub const DEFAULT_MIN_BODY_RATE: MinBodyRate = MinBodyRate {
    bytes: 1024,
    per: Duration::from_secs(20),
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

/// Everything a [`TusHandler`] is configured with.
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

/// Builds a [`TusHandler`]; start with [`TusHandler::builder`] (with the
/// `tokio` feature) or [`TusHandler::builder_with_timer`].
pub struct TusHandlerBuilder {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) locker: Arc<dyn Locker>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) config: Config,
    pub(crate) hooks: Option<Arc<dyn Hooks>>,
}

impl std::fmt::Debug for TusHandlerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusHandlerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TusHandlerBuilder {
    pub(crate) fn new(store: Arc<dyn Store>, timer: Arc<dyn Timer>) -> Self {
        Self {
            store,
            locker: Arc::new(MemoryLocker::new()),
            ids: Arc::new(RandomIds),
            clock: Arc::new(SystemClock),
            timer,
            config: Config::default(),
            hooks: None,
        }
    }

    /// The collection path, e.g. `/files/`. Leading and trailing `/` are added if missing.
    pub fn base_path(mut self, path: &str) -> Self {
        let trimmed = path.trim_matches('/');
        self.config.base_path = if trimmed.is_empty() {
            "/".to_owned()
        } else {
            format!("/{trimmed}/")
        };
        self
    }

    /// The largest upload accepted, in bytes.
    pub fn max_size(mut self, bytes: u64) -> Self {
        self.config.max_size = Some(bytes);
        self
    }

    /// Whether `GET` serves completed uploads (default `true`).
    pub fn download(mut self, enabled: bool) -> Self {
        self.config.download = enabled;
        self
    }

    /// CORS settings.
    pub fn cors(mut self, cors: Cors) -> Self {
        self.config.cors = cors;
        self
    }

    /// How `Location` URLs are built.
    pub fn location(mut self, style: LocationStyle) -> Self {
        self.config.location = style;
        self
    }

    /// Lets unfinished uploads expire `lifetime` after their last write
    /// (sliding); expired uploads answer 410 and [`TusHandler::reap_expired`]
    /// removes them. Advertises the `expiration` extension.
    pub fn expire_after(mut self, lifetime: Duration) -> Self {
        self.config.expire_after = Some(lifetime);
        self
    }

    /// Neither advertises nor serves `extension`, e.g. `checksum-trailer`
    /// under a framework that drops HTTP/1.1 trailers.
    pub fn without_extension(mut self, extension: Extension) -> Self {
        self.config.disabled_extensions.push(extension);
        self
    }

    /// Bounds on final uploads (default [`ConcatLimits::default`]).
    pub fn concat_limits(mut self, limits: ConcatLimits) -> Self {
        self.config.concat_limits = limits;
        self
    }

    /// The locker guarding HEAD, PATCH and DELETE (default: [`MemoryLocker`],
    /// for one process).
    pub fn locker(mut self, locker: Arc<dyn Locker>) -> Self {
        self.locker = locker;
        self
    }

    /// The id generator (default: [`RandomIds`]).
    pub fn ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }

    /// The clock, read once per request (default: [`SystemClock`]).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The [`Hooks`] called around each step of an upload's life.
    pub fn hooks(mut self, hooks: Arc<dyn Hooks>) -> Self {
        self.hooks = Some(hooks);
        self
    }

    /// How often, at most, `post_receive` and progress events report a
    /// streaming body (default 1 s; also once when the body ends).
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.config.progress_interval = interval;
        self
    }

    /// The timer enforcing the lock, idle and rate timeouts.
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = timer;
        self
    }

    /// How long a request waits for a lock held by another request (default
    /// [`DEFAULT_LOCK_TIMEOUT`]). The holder is asked to release at once, so
    /// this bounds only a holder that cannot (a hung store, a dead host).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.config.lock_timeout = timeout;
        self
    }

    /// How long a request body may send nothing before it is stopped, with
    /// the bytes received so far kept (default
    /// [`DEFAULT_BODY_IDLE_TIMEOUT`]; `None` waits forever).
    pub fn body_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.body_idle_timeout = timeout;
        self
    }

    /// The slowest rate a request body may arrive at before it is stopped,
    /// with the bytes received so far kept (default [`DEFAULT_MIN_BODY_RATE`];
    /// `None`: any rate).
    pub fn min_body_rate(mut self, rate: Option<MinBodyRate>) -> Self {
        self.config.min_body_rate = rate;
        self
    }

    /// The finished handler.
    pub fn build(self) -> TusHandler {
        TusHandler::from_builder(self)
    }
}
