//! The async driver: ties a parsed request, the [`Store`](crate::store::Store),
//! a [`Locker`] and the request body together. Runtime-agnostic: it only
//! awaits the store, the locker and the body.

mod concat;
mod config;
mod handler;
mod ingest;
mod interrupt;
mod location;
mod lock;
mod reaper;
mod service;

pub use crate::timer::Timer;
#[cfg(feature = "tokio")]
pub use crate::timer::TokioTimer;
pub use config::{Clock, Config, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_LOCK_TIMEOUT, SystemClock, TusHandlerBuilder};
pub use handler::TusHandler;
pub use location::LocationStyle;
pub use lock::{LockError, LockGuard, Locker, MemoryLocker, ReleaseRequested};
#[cfg(feature = "tokio")]
pub use reaper::spawn_reaper;
pub use service::TusService;
