//! Per-upload locks: the driver's fence around PATCH and DELETE.
//!
//! The store's atomic append is the first fence (a stale offset never
//! writes); this lock is the second, so two writers never race on one upload
//! and a DELETE never interleaves with a PATCH. Request stealing (a new
//! request asking the holder to release) is not implemented yet: a waiter
//! waits until the holder finishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use futures::future::BoxFuture;
use futures::lock::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::store::UploadId;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock is held elsewhere and could not be obtained.
    #[error("upload is locked")]
    Busy,
}

/// Exclusive access to one upload until dropped.
pub struct LockGuard {
    _release: Box<dyn Send + Sync>,
}

impl LockGuard {
    /// A guard that runs `release`'s `Drop` when the lock is released.
    pub fn new(release: impl Send + Sync + 'static) -> Self {
        Self {
            _release: Box::new(release),
        }
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// Hands out per-upload locks. Implement it to share locks between processes.
pub trait Locker: Send + Sync + 'static {
    /// Waits for exclusive access to `id`.
    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>>;
}

type LockMap = Arc<Mutex<HashMap<UploadId, Arc<AsyncMutex<()>>>>>;

/// Locks within one process. Entries are removed when no one holds or waits.
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

fn map(locks: &LockMap) -> MutexGuard<'_, HashMap<UploadId, Arc<AsyncMutex<()>>>> {
    // Every critical section is a single insert/remove, so a poisoned map is consistent.
    locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

struct Held {
    locks: LockMap,
    id: UploadId,
    guard: Option<OwnedMutexGuard<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut locks = map(&self.locks);
        drop(self.guard.take());
        if let Some(entry) = locks.get(&self.id) {
            // Only the map still refers to it: nobody holds or waits.
            if Arc::strong_count(entry) == 1 {
                locks.remove(&self.id);
            }
        }
    }
}

impl Locker for MemoryLocker {
    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>> {
        Box::pin(async move {
            let entry = map(&self.locks).entry(id.clone()).or_default().clone();
            let guard = entry.lock_owned().await;
            Ok(LockGuard::new(Held {
                locks: self.locks.clone(),
                id: id.clone(),
                guard: Some(guard),
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt as _;

    use super::*;

    #[test]
    fn second_lock_waits_and_entries_are_cleaned_up() {
        let locker = MemoryLocker::new();
        let id = UploadId::parse("abc").expect("id");
        let first = locker.lock(&id).now_or_never().expect("free").expect("lock");
        assert!(locker.lock(&id).now_or_never().is_none(), "second lock must wait");
        drop(first);
        let second = locker.lock(&id).now_or_never().expect("released").expect("lock");
        drop(second);
        assert_eq!(locker.active(), 0);
    }
}
