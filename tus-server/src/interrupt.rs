//! Why a body stops being read before it ends: another request asked for
//! the upload's lock, or the server is shutting down. (The idle and rate
//! limits are watched by the body pump itself, see `ingest`.)

use std::sync::Mutex;
use std::task::Context;

use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::{BoxFuture, Shared};
use tus_core::server::body::StopReason;

use super::lock::ReleaseRequested;

/// Fires once, for every clone of its signal, when the handler shuts down.
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
    fn trigger(&self) -> std::sync::MutexGuard<'_, Option<oneshot::Sender<()>>> {
        // A take or a check: a poisoned lock is still consistent.
        self.trigger.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Fires the signal; later calls do nothing.
    pub(crate) fn fire(&self) {
        if let Some(trigger) = self.trigger().take() {
            let _ = trigger.send(());
        }
    }

    /// Whether the signal fired.
    pub(crate) fn fired(&self) -> bool {
        self.trigger().is_none()
    }

    /// Completes once the signal fired.
    pub(crate) fn signal(&self) -> Shared<BoxFuture<'static, ()>> {
        self.signal.clone()
    }
}

/// The signals that stop one body early, polled in place (no allocation
/// per poll).
#[derive(Default)]
pub(crate) struct Stops {
    /// The lock holder's release request, for a locked write.
    pub(crate) release: Option<ReleaseRequested>,
    /// The handler's shutdown signal.
    pub(crate) shutdown: Option<Shared<BoxFuture<'static, ()>>>,
}

impl std::fmt::Debug for Stops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stops")
            .field("stealable", &self.release.is_some())
            .finish_non_exhaustive()
    }
}

impl Stops {
    /// The first reason to stop that holds now; registers for wake-ups otherwise.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Option<StopReason> {
        if let Some(release) = &mut self.release
            && release.poll_unpin(cx).is_ready()
        {
            return Some(StopReason::Stolen);
        }
        if let Some(shutdown) = &mut self.shutdown
            && shutdown.poll_unpin(cx).is_ready()
        {
            return Some(StopReason::ShuttingDown);
        }
        None
    }

    /// The first reason to stop that holds now, without registering.
    #[cfg(test)]
    fn check(&mut self) -> Option<StopReason> {
        let waker = futures::task::noop_waker();
        self.poll(&mut Context::from_waker(&waker))
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
    fn stops_report_the_reason_that_fired() {
        let shutdown = Shutdown::default();
        let mut stops = Stops {
            release: None,
            shutdown: Some(shutdown.signal()),
        };
        assert_eq!(stops.check(), None);
        shutdown.fire();
        assert_eq!(stops.check(), Some(StopReason::ShuttingDown));
    }
}
