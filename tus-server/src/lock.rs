//! Per-upload locks with request stealing (the contract is
//! [`tus_core::lock`]): the in-process [`MemoryLocker`], and how the driver
//! bounds every wait by its lock timeout.
//!
//! The store's atomic append is the first fence (a stale offset never
//! writes); this lock is the second, so two writers never race on one upload
//! and a DELETE never interleaves with a PATCH.
//!
//! **Stealing.** A request that wants a lock another request holds does not
//! just queue: the locker *asks the holder to release*
//! ([`LockGuard::release_requested`] completes). A holder that is streaming a
//! body stops reading it, lets the store keep the bytes received so far,
//! releases the lock and answers `ERR_UPLOAD_INTERRUPTED`; the newcomer then
//! gets the lock. The newest request wins, as in tusd: when several wait, the
//! one that gets the lock is asked to release at once.
//!
//! ```text
//!   holder: lock ─▶ streaming ─▶ (release requested) ─▶ stop body ─▶ store keeps prefix ─▶ unlock
//!   newcomer:            lock? ─▶ request release ─▶ wait ───────────────────────────────▶ locked
//! ```
//!
//! A holder that never releases (a hung store) is bounded by the handler's
//! lock timeout: the waiter then answers `423 Locked`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::FutureExt as _;
use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::lock::{Mutex as AsyncMutex, OwnedMutexGuard};
pub use tus_core::lock::{LockError, LockGuard, Locker, ReleaseRequested};
use tus_core::server::TusError;
use tus_core::upload::UploadId;

use super::timer::Timer;

/// One upload's lock, its current holder's release trigger, and its waiters.
#[derive(Debug, Default)]
struct Entry {
    mutex: Arc<AsyncMutex<()>>,
    state: Mutex<EntryState>,
}

#[derive(Debug, Default)]
struct EntryState {
    /// Completes the holder's `release_requested` when sent or dropped.
    holder: Option<oneshot::Sender<()>>,
    /// Requests waiting for the lock.
    waiting: usize,
}

impl Entry {
    fn state(&self) -> MutexGuard<'_, EntryState> {
        // Every critical section is a few field updates: a poisoned state is consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type LockMap = Arc<Mutex<HashMap<UploadId, Arc<Entry>>>>;

/// Locks within one process, with stealing. Entries are removed when no one
/// holds or waits.
#[derive(Debug, Clone, Default)]
pub struct MemoryLocker {
    locks: LockMap,
}

impl MemoryLocker {
    /// A locker with no locks held.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many uploads currently have a lock entry (held or awaited).
    pub fn active(&self) -> usize {
        map(&self.locks).len()
    }
}

fn map(locks: &LockMap) -> MutexGuard<'_, HashMap<UploadId, Arc<Entry>>> {
    // Every critical section is a single insert/remove, so a poisoned map is consistent.
    locks.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts a waiter for as long as it waits, also when its future is dropped.
struct Waiting(Arc<Entry>);

impl Drop for Waiting {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.waiting = state.waiting.saturating_sub(1);
    }
}

struct Held {
    locks: LockMap,
    id: UploadId,
    entry: Arc<Entry>,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut locks = map(&self.locks);
        self.entry.state().holder = None;
        drop(self.guard.take());
        if let Some(entry) = locks.get(&self.id) {
            // Only the map and this guard still refer to it: nobody holds or waits.
            if Arc::strong_count(entry) == 2 {
                locks.remove(&self.id);
            }
        }
    }
}

impl Locker for MemoryLocker {
    fn try_lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<Option<LockGuard>, LockError>> {
        Box::pin(async move {
            let entry = map(&self.locks).entry(id.clone()).or_default().clone();
            let Some(guard) = entry.mutex.clone().try_lock_owned() else {
                return Ok(None);
            };
            let (trigger, requested) = oneshot::channel::<()>();
            entry.state().holder = Some(trigger);
            Ok(Some(LockGuard::with_release_request(
                Held {
                    locks: self.locks.clone(),
                    id: id.clone(),
                    entry,
                    guard: Some(guard),
                },
                requested.map(|_| ()),
            )))
        })
    }

    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>> {
        Box::pin(async move {
            let entry = map(&self.locks).entry(id.clone()).or_default().clone();
            let waiting = {
                let mut state = entry.state();
                if let Some(holder) = state.holder.take() {
                    let _ = holder.send(());
                }
                state.waiting += 1;
                Waiting(entry.clone())
            };
            let guard = entry.mutex.clone().lock_owned().await;
            drop(waiting);
            let (trigger, requested) = oneshot::channel::<()>();
            {
                let mut state = entry.state();
                if state.waiting == 0 {
                    state.holder = Some(trigger);
                } else {
                    // Someone asked after the previous holder was told: newest wins.
                    let _ = trigger.send(());
                }
            }
            Ok(LockGuard::with_release_request(
                Held {
                    locks: self.locks.clone(),
                    id: id.clone(),
                    entry,
                    guard: Some(guard),
                },
                requested.map(|_| ()),
            ))
        })
    }
}

/// The server's use of a [`Locker`]: each wait bounded by the lock
/// timeout, failures mapped to answers.
pub(crate) struct Locks {
    locker: Arc<dyn Locker>,
    timer: Arc<dyn Timer>,
    timeout: std::time::Duration,
}

impl Locks {
    pub(crate) fn new(locker: Arc<dyn Locker>, timer: Arc<dyn Timer>, timeout: std::time::Duration) -> Self {
        Self { locker, timer, timeout }
    }

    /// Takes `id`'s lock, asking its holder to release, within the lock
    /// timeout (then `423 Locked`).
    pub(crate) async fn acquire(&self, id: &UploadId) -> Result<LockGuard, TusError> {
        let locking = self.locker.lock(id);
        let timeout = self.timer.sleep(self.timeout);
        match futures::future::select(locking, timeout).await {
            futures::future::Either::Left((locked, _)) => locked.map_err(lock_error),
            futures::future::Either::Right(((), _)) => {
                tracing::warn!(%id, timeout = ?self.timeout, "lock not released in time");
                Err(TusError::Locked)
            }
        }
    }

    /// Takes `id`'s lock if it is free, without disturbing a holder.
    pub(crate) async fn try_acquire(&self, id: &UploadId) -> Result<Option<LockGuard>, TusError> {
        self.locker.try_lock(id).await.map_err(lock_error)
    }
}

impl std::fmt::Debug for Locks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Locks")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A locker that cannot be reached fails closed, with a status clients retry.
fn lock_error(error: LockError) -> TusError {
    match error {
        LockError::Busy => TusError::Locked,
        LockError::Backend(source) => {
            tracing::error!(error = %source, "the locker failed; refusing the request (fail closed)");
            TusError::LockUnavailable(source)
        }
        other => TusError::LockUnavailable(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    fn id() -> UploadId {
        UploadId::parse("abc").expect("id")
    }

    #[test]
    fn second_lock_waits_and_entries_are_cleaned_up() {
        let locker = MemoryLocker::new();
        let first = locker.lock(&id()).now_or_never().expect("free").expect("lock");
        assert!(locker.lock(&id()).now_or_never().is_none(), "second lock must wait");
        drop(first);
        let second = locker.lock(&id()).now_or_never().expect("released").expect("lock");
        drop(second);
        assert_eq!(locker.active(), 0);
    }

    #[test]
    fn a_waiter_asks_the_holder_to_release() {
        let locker = MemoryLocker::new();
        let first = locker.lock(&id()).now_or_never().expect("free").expect("lock");
        assert!(first.release_requested().now_or_never().is_none(), "nobody asked yet");
        let id = id();
        let mut waiter = locker.lock(&id);
        assert!((&mut waiter).now_or_never().is_none());
        assert!(
            first.release_requested().now_or_never().is_some(),
            "the holder was asked"
        );
        drop(first);
        let second = waiter.now_or_never().expect("released").expect("lock");
        assert!(
            second.release_requested().now_or_never().is_none(),
            "nobody waits on the second"
        );
        drop(second);
        assert_eq!(locker.active(), 0);
    }

    #[test]
    fn with_two_waiters_the_first_to_get_the_lock_is_asked_at_once() {
        let locker = MemoryLocker::new();
        let id = id();
        let first = locker.lock(&id).now_or_never().expect("free").expect("lock");
        let mut second = locker.lock(&id);
        let mut third = locker.lock(&id);
        assert!((&mut second).now_or_never().is_none());
        assert!((&mut third).now_or_never().is_none());
        drop(first);
        let second = second.now_or_never().expect("released").expect("lock");
        assert!(
            second.release_requested().now_or_never().is_some(),
            "third waits: newest wins"
        );
        drop(second);
        let third = third.now_or_never().expect("released").expect("lock");
        assert!(third.release_requested().now_or_never().is_none());
    }

    #[test]
    fn a_cancelled_waiter_does_not_count() {
        let locker = MemoryLocker::new();
        let id = id();
        let first = locker.lock(&id).now_or_never().expect("free").expect("lock");
        let mut waiter = locker.lock(&id);
        assert!((&mut waiter).now_or_never().is_none());
        drop(waiter);
        drop(first);
        let next = locker.lock(&id).now_or_never().expect("free").expect("lock");
        assert!(next.release_requested().now_or_never().is_none());
        drop(next);
        assert_eq!(locker.active(), 0);
    }
}
