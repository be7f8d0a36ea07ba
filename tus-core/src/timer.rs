//! Sleeping, injected: the driver needs timers for the lock timeout and the
//! body idle timeout, but must not force a runtime on its users.
//!
//! With the `tokio` feature, `TokioTimer` is the default. Without it there
//! is no default timer: the timeouts are not enforced until one is given with
//! [`TusHandlerBuilder::timer`](crate::server::TusHandlerBuilder::timer)
//! (a few lines over any runtime's sleep). Request stealing and graceful
//! shutdown need no timer.

use std::time::Duration;

use futures::future::BoxFuture;

/// Sleeps for a while.
///
/// Implementations MUST NOT block the calling thread: the returned future
/// completes after (roughly) `duration`, and may be dropped early.
pub trait Timer: Send + Sync + 'static {
    /// A future that completes once `duration` has passed.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// [`Timer`] over `tokio::time::sleep`, for a Tokio runtime with the time
/// driver enabled. Outside a Tokio runtime its sleeps never end (the
/// timeouts are then not enforced) instead of panicking.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        if tokio::runtime::Handle::try_current().is_err() {
            tracing::warn!("TokioTimer used outside a Tokio runtime; timeouts are not enforced");
            return Box::pin(std::future::pending());
        }
        Box::pin(tokio::time::sleep(duration))
    }
}
