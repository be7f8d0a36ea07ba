//! Building a [`TusHandler`]: [`TusHandlerBuilder`], and the constructors
//! that start one.

use std::sync::Arc;
use std::time::Duration;

use tus_core::headers::Extension;
use tus_core::server::cors::Cors;
use tus_core::server::policy::{ConcatLimits, Policy};
use tus_core::store::Store;

use super::clock::{Clock, SystemClock};
use super::config::{Config, MinBodyRate};
use super::handler::TusHandler;
use super::hooks::Hooks;
use super::ids::{IdGenerator, RandomIds};
use super::interrupt::Shutdown;
use super::lifecycle::Lifecycle;
use super::location::LocationStyle;
use super::lock::{Locker, Locks, MemoryLocker};
use super::repair::Repairer;
use super::shared::Shared;
use super::timer::Timer;

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
    fn new(store: Arc<dyn Store>, timer: Arc<dyn Timer>) -> Self {
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
    /// [`DEFAULT_LOCK_TIMEOUT`](crate::DEFAULT_LOCK_TIMEOUT)). The holder is asked to release at once, so
    /// this bounds only a holder that cannot (a hung store, a dead host).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.config.lock_timeout = timeout;
        self
    }

    /// How long a request body may send nothing before it is stopped, with
    /// the bytes received so far kept (default
    /// [`DEFAULT_BODY_IDLE_TIMEOUT`](crate::DEFAULT_BODY_IDLE_TIMEOUT); `None` waits forever).
    pub fn body_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config.body_idle_timeout = timeout;
        self
    }

    /// The slowest rate a request body may arrive at before it is stopped,
    /// with the bytes received so far kept (default [`DEFAULT_MIN_BODY_RATE`](crate::DEFAULT_MIN_BODY_RATE);
    /// `None`: any rate).
    pub fn min_body_rate(mut self, rate: Option<MinBodyRate>) -> Self {
        self.config.min_body_rate = rate;
        self
    }

    /// The finished handler.
    pub fn build(self) -> TusHandler {
        let config = self.config;
        let mut policy = Policy::for_store(
            self.store.as_ref(),
            config.max_size,
            config.expire_after,
            &config.disabled_extensions,
        );
        policy.concat = config.concat_limits;
        let lifecycle = Lifecycle::new(self.hooks);
        #[cfg(feature = "metrics")]
        let store: Arc<dyn Store> = Arc::new(super::metrics::MeteredStore::new(
            self.store,
            Arc::clone(&lifecycle.metrics),
        ));
        #[cfg(not(feature = "metrics"))]
        let store = self.store;
        TusHandler::new(Shared {
            store,
            policy,
            locks: Locks::new(self.locker, Arc::clone(&self.timer), config.lock_timeout),
            config,
            clock: self.clock,
            ids: self.ids,
            timer: self.timer,
            lifecycle,
            shutdown: Shutdown::default(),
            repairer: Repairer::default(),
        })
    }
}

impl TusHandler {
    /// Starts configuring a handler over `store`, with [`TokioTimer`](crate::TokioTimer)
    /// enforcing its timeouts.
    #[cfg(feature = "tokio")]
    pub fn builder(store: Arc<dyn Store>) -> TusHandlerBuilder {
        TusHandlerBuilder::new(store, Arc::new(super::timer::TokioTimer))
    }

    /// Starts configuring a handler over `store`, with `timer` enforcing its
    /// timeouts (for runtimes other than Tokio, or without the `tokio`
    /// feature, where this is the only way to build a handler).
    ///
    /// A timer is a non-blocking sleep; use your runtime's (e.g. on smol,
    /// `Box::pin(async move { async_io::Timer::after(duration).await; })`).
    /// This one needs no runtime at all: a thread per sleep.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use tus_server::prelude::*;
    /// use tus_server::Timer;
    ///
    /// struct ThreadTimer;
    ///
    /// impl Timer for ThreadTimer {
    ///     fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
    ///         let (done, fired) = futures::channel::oneshot::channel::<()>();
    ///         std::thread::spawn(move || {
    ///             std::thread::sleep(duration);
    ///             let _ = done.send(());
    ///         });
    ///         Box::pin(async move {
    ///             let _ = fired.await;
    ///         })
    ///     }
    /// }
    ///
    /// let handler = TusHandler::builder_with_timer(Arc::new(MemoryStore::new()), Arc::new(ThreadTimer))
    ///     .base_path("/files/")
    ///     .build();
    /// # let _ = handler;
    /// ```
    pub fn builder_with_timer(store: Arc<dyn Store>, timer: Arc<dyn Timer>) -> TusHandlerBuilder {
        TusHandlerBuilder::new(store, timer)
    }
}
