//! Connection slots: which connections are open, which of them are idle
//! (no request in flight), and how recently each was active, so that at the
//! connection limit the least recently active idle connection can be closed
//! to make room for a new one.
//!
//! Idle connections (opened and never used, keep-alive between requests,
//! or trickling a request header) thus cannot keep others out: 2,000 of them
//! against a limit of 1,024 leave the server serving new clients. A
//! connection with a request in flight is never closed to make room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use tokio::sync::Notify;

/// Every open connection's slot.
#[derive(Debug)]
pub(crate) struct Slots {
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    next: AtomicU64,
    epoch: Instant,
}

/// One connection: its requests in flight, when it was last active, and
/// the signal asking it to close.
#[derive(Debug)]
pub(crate) struct Slot {
    in_flight: AtomicUsize,
    /// Milliseconds since [`Slots::epoch`] when the connection last opened
    /// or finished a request.
    last_active: AtomicU64,
    epoch: Instant,
    close: Notify,
    /// Set once the connection was asked to close.
    closing: AtomicBool,
}

/// Removes its slot from [`Slots`] when the connection ends.
#[derive(Debug)]
pub(crate) struct Open {
    slots: Arc<Slots>,
    key: u64,
    pub(crate) slot: Arc<Slot>,
}

/// A request in flight on a connection, until dropped (with the response body).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Slot>);

impl Slots {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            open: Mutex::default(),
            next: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    fn open_slots(&self) -> MutexGuard<'_, HashMap<u64, Arc<Slot>>> {
        // Each critical section is one insert, remove or scan: a poisoned map is consistent.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a new connection.
    pub(crate) fn open(self: &Arc<Self>) -> Open {
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            in_flight: AtomicUsize::new(0),
            last_active: AtomicU64::new(0),
            epoch: self.epoch,
            close: Notify::new(),
            closing: AtomicBool::new(false),
        });
        slot.touch();
        self.open_slots().insert(key, slot.clone());
        Open {
            slots: self.clone(),
            key,
            slot,
        }
    }

    /// Asks the least recently active idle connection to close; false if
    /// every connection has a request in flight.
    pub(crate) fn close_least_recently_active_idle(&self) -> bool {
        let open = self.open_slots();
        let oldest = open
            .values()
            .filter(|slot| slot.is_idle() && !slot.closing.load(Ordering::Relaxed))
            .min_by_key(|slot| slot.last_active.load(Ordering::Relaxed));
        match oldest {
            Some(slot) => {
                slot.closing.store(true, Ordering::Relaxed);
                slot.close.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.slots.open_slots().remove(&self.key);
    }
}

impl Slot {
    fn touch(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active.store(now, Ordering::Relaxed);
    }

    /// Whether no request is in flight.
    pub(crate) fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Completes when the connection is asked to close to make room.
    pub(crate) async fn close_requested(&self) {
        self.close.notified().await;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    #[test]
    fn the_least_recently_active_idle_connection_is_asked_to_close() {
        let slots = Slots::new();
        let oldest = slots.open();
        std::thread::sleep(std::time::Duration::from_millis(5));
        let busy = slots.open();
        let newest = slots.open();
        oldest.slot.last_active.store(0, Ordering::Relaxed);
        busy.slot.last_active.store(0, Ordering::Relaxed);
        let request = busy.slot.begin();
        assert!(slots.close_least_recently_active_idle());
        assert!(
            oldest.slot.close_requested().now_or_never().is_some(),
            "the oldest idle one"
        );
        assert!(
            busy.slot.close_requested().now_or_never().is_none(),
            "never one in flight"
        );
        assert!(newest.slot.close_requested().now_or_never().is_none());
        drop(request);
        assert!(busy.slot.is_idle());
        drop((oldest, busy, newest));
        assert!(!slots.close_least_recently_active_idle(), "nothing left to close");
    }
}
