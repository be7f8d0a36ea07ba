//! Handler configuration and its builder.

use std::sync::Arc;
use std::time::Duration;

use super::handler::TusHandler;
use super::hooks::Hooks;
use super::location::LocationStyle;
use super::lock::{Locker, MemoryLocker};
pub use crate::clock::{Clock, SystemClock};
use crate::proto::cors::Cors;
use crate::proto::decide::Policy;
use crate::proto::headers::Extension;
use crate::store::{IdGenerator, RandomIds, Store};
use crate::timer::Timer;

/// Default [`Config::lock_timeout`].
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);
/// Default [`Config::body_idle_timeout`].
pub const DEFAULT_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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
    /// How long a request waits for an upload's lock after asking the holder
    /// to release it; then it answers `423 Locked`. Needs a timer.
    pub lock_timeout: Duration,
    /// A body that sends no byte for this long is stopped; the bytes received
    /// so far are kept. `None`: wait forever. Needs a timer.
    pub body_idle_timeout: Option<Duration>,
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
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            body_idle_timeout: Some(DEFAULT_BODY_IDLE_TIMEOUT),
        }
    }
}

/// The extensions served, given the configuration and what the store can do.
pub(crate) fn policy(config: &Config, store: &dyn Store) -> Policy {
    let capabilities = store.capabilities();
    let mut extensions = vec![Extension::Creation, Extension::CreationWithUpload];
    if capabilities.deferred_length() {
        extensions.push(Extension::CreationDeferLength);
    }
    if capabilities.termination() {
        extensions.push(Extension::Termination);
    }
    if capabilities.staged_append() {
        extensions.extend([Extension::Checksum, Extension::ChecksumTrailer]);
    }
    if config.expire_after.is_some() {
        extensions.push(Extension::Expiration);
    }
    if capabilities.concatenation() {
        extensions.extend([Extension::Concatenation, Extension::ConcatenationUnfinished]);
    }
    extensions.retain(|extension| !config.disabled_extensions.contains(extension));
    Policy {
        max_size: config.max_size,
        extensions,
        expire_after: config.expire_after,
    }
}

/// Builds a [`TusHandler`]; start with [`TusHandler::builder`].
pub struct TusHandlerBuilder {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) locker: Arc<dyn Locker>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) timer: Option<Arc<dyn Timer>>,
    pub(crate) config: Config,
    pub(crate) hooks: Option<Arc<dyn Hooks>>,
    pub(crate) progress_interval: Duration,
}

impl std::fmt::Debug for TusHandlerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusHandlerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl TusHandlerBuilder {
    pub(crate) fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            locker: Arc::new(MemoryLocker::new()),
            ids: Arc::new(RandomIds),
            clock: Arc::new(SystemClock),
            timer: default_timer(),
            config: Config::default(),
            hooks: None,
            progress_interval: Duration::from_secs(1),
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

    /// The locker guarding PATCH and DELETE (default: [`MemoryLocker`]).
    pub fn locker(mut self, locker: Arc<dyn Locker>) -> Self {
        self.locker = locker;
        self
    }

    /// The id generator (default: [`RandomIds`]).
    pub fn ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }

    /// The clock (default: [`SystemClock`]).
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
    /// streaming body (default 1 s; zero: after every chunk the store takes).
    pub fn progress_interval(mut self, interval: Duration) -> Self {
        self.progress_interval = interval;
        self
    }

    /// The timer enforcing the lock and body idle timeouts (default:
    /// `TokioTimer` with the `tokio` feature, otherwise none: the timeouts
    /// are then not enforced).
    pub fn timer(mut self, timer: Arc<dyn Timer>) -> Self {
        self.timer = Some(timer);
        self
    }

    /// How long a request waits for a lock held by another request (default
    /// [`DEFAULT_LOCK_TIMEOUT`]). The holder is asked to release at once, so
    /// this bounds only a holder that cannot (a hung store).
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

    /// The finished handler.
    pub fn build(self) -> TusHandler {
        TusHandler::from_builder(self)
    }
}

#[cfg(feature = "tokio")]
fn default_timer() -> Option<Arc<dyn Timer>> {
    Some(Arc::new(crate::timer::TokioTimer))
}

#[cfg(not(feature = "tokio"))]
fn default_timer() -> Option<Arc<dyn Timer>> {
    None
}
