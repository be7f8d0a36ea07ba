//! The async driver: ties a parsed request, the [`Store`](crate::store::Store),
//! a [`Locker`] and the request body together. Runtime-agnostic: it only
//! awaits the store, the locker and the body.

mod concat;
mod config;
mod events;
mod handler;
mod hooks;
mod ingest;
mod interrupt;
mod lifecycle;
mod location;
mod lock;
#[cfg(feature = "metrics")]
mod metrics;
mod reaper;
mod service;

pub use crate::timer::Timer;
#[cfg(feature = "tokio")]
pub use crate::timer::TokioTimer;
pub use config::{Clock, Config, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_LOCK_TIMEOUT, SystemClock, TusHandlerBuilder};
pub use events::{Event, Events};
pub use handler::TusHandler;
pub use hooks::{FinishResponse, HookContext, Hooks, NoHooks, PreCreate, Progress, Rejection};
pub use location::LocationStyle;
pub use lock::{LockError, LockGuard, Locker, MemoryLocker, ReleaseRequested};
#[cfg(feature = "metrics")]
pub use metrics::Metrics;
#[cfg(feature = "tokio")]
pub use reaper::spawn_reaper;
pub use service::TusService;
