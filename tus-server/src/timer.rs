//! Sleeping, injected: the driver needs timers for the lock, idle and rate
//! timeouts, but must not force a runtime on its users.
//!
//! With the `tokio` feature (on by default), [`TokioTimer`] is the default.
//! Without it a handler can only be built with an explicit timer
//! ([`TusHandler::builder_with_timer`](crate::TusHandler::builder_with_timer)),
//! a few lines over any runtime's sleep.

use std::time::Duration;

use futures::future::BoxFuture;

/// Sleeps for a while.
///
/// Implementations MUST NOT block the calling thread: the returned future
/// completes after (roughly) `duration`, and may be dropped early. The
/// driver creates one per request and per body window, never per chunk.
pub trait Timer: Send + Sync + 'static {
    /// A future that completes once `duration` has passed.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
}

/// [`Timer`] over `tokio::time::sleep`: the default with the `tokio`
/// feature. Sleeps must be created and polled inside a Tokio runtime with
/// its time driver enabled (as axum and actix-web servers are); outside one
/// Tokio panics, so a misconfiguration shows at the first timed request
/// instead of silently disabling the timeouts.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioTimer;

#[cfg(feature = "tokio")]
impl Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
