//! Why a body stops being read before it ends: another request stole the
//! lock, the server is shutting down, or the client went idle.
//!
//! In every case the store keeps the bytes received so far (the stream ends
//! with an error, which the [`Store`](crate::store::Store) contract treats
//! like a client that went away), and the request answers with the reason.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::{self, BoxFuture, Either, Shared};

use super::handler::TusHandler;
use super::lock::ReleaseRequested;
use crate::timer::Timer;

/// Why a body was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// Another request asked for the upload's lock.
    Stolen,
    /// [`TusHandler::shutdown`](super::TusHandler::shutdown) was called.
    ShuttingDown,
    /// No bytes arrived for the body idle timeout.
    Idle,
}

/// Fires once, for every clone, when the handler shuts down.
#[derive(Debug)]
pub(crate) struct Shutdown {
    trigger: Mutex<Option<oneshot::Sender<()>>>,
    signal: Shared<BoxFuture<'static, ()>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (trigger, signal) = oneshot::channel::<()>();
        Self {
            trigger: Mutex::new(Some(trigger)),
            signal: signal.map(|_| ()).boxed().shared(),
        }
    }
}

impl Shutdown {
    /// Fires the signal; later calls do nothing.
    pub(crate) fn fire(&self) {
        let trigger = self.trigger.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(trigger) = trigger {
            let _ = trigger.send(());
        }
    }

    /// Whether the signal fired.
    pub(crate) fn fired(&self) -> bool {
        self.trigger.lock().unwrap_or_else(PoisonError::into_inner).is_none()
    }

    /// Completes once the signal fired.
    pub(crate) fn signal(&self) -> Shared<BoxFuture<'static, ()>> {
        self.signal.clone()
    }
}

/// Everything that may stop one body early.
#[derive(Clone, Default)]
pub(crate) struct Interrupts {
    /// The lock holder's release request, for a locked write.
    pub(crate) release: Option<ReleaseRequested>,
    /// The handler's shutdown signal.
    pub(crate) shutdown: Option<Shared<BoxFuture<'static, ()>>>,
    /// The idle timeout and the timer measuring it.
    pub(crate) idle: Option<(Arc<dyn Timer>, Duration)>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("stealable", &self.release.is_some())
            .field("idle", &self.idle.as_ref().map(|(_, idle)| idle))
            .finish_non_exhaustive()
    }
}

impl Interrupts {
    /// The first reason to stop that already holds, without waiting.
    pub(crate) fn pending(&self) -> Option<StopReason> {
        // Polling a clone drives the shared future (`peek` alone would not).
        let fired = |signal: &Option<Shared<BoxFuture<'static, ()>>>| {
            signal
                .as_ref()
                .is_some_and(|signal| signal.clone().now_or_never().is_some())
        };
        if fired(&self.release) {
            return Some(StopReason::Stolen);
        }
        if fired(&self.shutdown) {
            return Some(StopReason::ShuttingDown);
        }
        None
    }

    /// Completes with a reason to stop; the idle clock starts now.
    pub(crate) fn wait(&self) -> BoxFuture<'static, StopReason> {
        let release = match &self.release {
            Some(release) => release.clone().map(|()| StopReason::Stolen).left_future(),
            None => future::pending().right_future(),
        };
        let shutdown = match &self.shutdown {
            Some(shutdown) => shutdown.clone().map(|()| StopReason::ShuttingDown).left_future(),
            None => future::pending().right_future(),
        };
        let idle = match &self.idle {
            Some((timer, idle)) => timer.sleep(*idle).map(|()| StopReason::Idle).left_future(),
            None => future::pending().right_future(),
        };
        Box::pin(async move {
            match future::select(future::select(release, shutdown), idle).await {
                Either::Left((Either::Left((reason, _)) | Either::Right((reason, _)), _))
                | Either::Right((reason, _)) => reason,
            }
        })
    }
}

impl TusHandler {
    /// Starts a graceful shutdown: every body being read now or later stops
    /// at once, the store keeps the bytes received so far, locks are
    /// released, and those requests answer `503` (`ERR_SERVER_SHUTTING_DOWN`)
    /// so clients resume later. Requests without a body are still served.
    ///
    /// Call it when the server stops accepting connections (SIGTERM), then
    /// wait, with a bound, for in-flight requests to finish. Idempotent.
    pub fn shutdown(&self) {
        if !self.inner.shutdown.fired() {
            tracing::info!("shutdown: stopping request bodies in flight");
        }
        self.inner.shutdown.fire();
    }

    /// Whether [`TusHandler::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.fired()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_fires_once_for_every_clone() {
        let shutdown = Shutdown::default();
        let (first, second) = (shutdown.signal(), shutdown.signal());
        assert!(!shutdown.fired());
        assert!(first.clone().now_or_never().is_none());
        shutdown.fire();
        shutdown.fire();
        assert!(shutdown.fired());
        assert!(first.now_or_never().is_some() && second.now_or_never().is_some());
    }

    #[test]
    fn interrupts_report_the_reason_that_fired() {
        let shutdown = Shutdown::default();
        let interrupts = Interrupts {
            release: None,
            shutdown: Some(shutdown.signal()),
            idle: None,
        };
        assert_eq!(interrupts.pending(), None);
        assert!(interrupts.wait().now_or_never().is_none());
        shutdown.fire();
        assert_eq!(interrupts.pending(), Some(StopReason::ShuttingDown));
        assert_eq!(interrupts.wait().now_or_never(), Some(StopReason::ShuttingDown));
    }
}
