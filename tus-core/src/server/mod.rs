//! The async driver: ties a parsed request, the [`Store`](crate::store::Store),
//! a [`Locker`] and the request body together. Runtime-agnostic: it only
//! awaits the store, the locker and the body.

mod concat;
mod config;
mod handler;
mod ingest;
mod location;
mod lock;
mod reaper;
mod service;

pub use config::{Clock, Config, SystemClock, TusHandlerBuilder};
pub use handler::TusHandler;
pub use location::LocationStyle;
pub use lock::{LockError, LockGuard, Locker, MemoryLocker};
#[cfg(feature = "tokio")]
pub use reaper::spawn_reaper;
pub use service::TusService;
