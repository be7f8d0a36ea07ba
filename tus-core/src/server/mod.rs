//! The async driver: ties a parsed request, the [`Store`](crate::store::Store),
//! a [`Locker`] and the request body together. Runtime-agnostic: it only
//! awaits the store, the locker and the body.

mod config;
mod handler;
mod ingest;
mod location;
mod lock;
mod service;

pub use config::{Clock, Config, SystemClock, TusHandlerBuilder};
pub use handler::TusHandler;
pub use location::LocationStyle;
pub use lock::{LockError, LockGuard, Locker, MemoryLocker};
pub use service::TusService;
