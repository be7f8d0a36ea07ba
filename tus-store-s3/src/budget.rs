//! The memory budget: every part buffer is leased from one counting pool,
//! so the bytes buffered across all uploads never exceed
//! `max_buffered_parts x part size`, and tests can read the peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tus_core::store::StoreError;

/// How many bytes of part buffers are leased now, and the most ever leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferStats {
    /// Bytes leased right now.
    pub in_use: u64,
    /// The most bytes leased at any one time since the store was built.
    pub peak: u64,
}

/// The pool part buffers are leased from.
#[derive(Debug)]
pub(crate) struct Budget {
    slots: Arc<Semaphore>,
    in_use: AtomicU64,
    peak: AtomicU64,
}

/// A lease on `size` bytes of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Lease {
    budget: Arc<Budget>,
    size: u64,
    _slot: OwnedSemaphorePermit,
}

impl Budget {
    /// A pool of `slots` part buffers (at least one).
    pub(crate) fn new(slots: usize) -> Arc<Self> {
        Arc::new(Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
            in_use: AtomicU64::new(0),
            peak: AtomicU64::new(0),
        })
    }

    /// Waits for a free slot and leases a buffer of `size` bytes' capacity.
    pub(crate) async fn lease(self: &Arc<Self>, size: usize) -> Result<(Lease, BytesMut), StoreError> {
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(StoreError::backend)?;
        let bytes = size as u64;
        let now = self.in_use.fetch_add(bytes, Ordering::SeqCst) + bytes;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let lease = Lease {
            budget: Arc::clone(self),
            size: bytes,
            _slot: slot,
        };
        Ok((lease, BytesMut::with_capacity(size)))
    }

    pub(crate) fn stats(&self) -> BufferStats {
        BufferStats {
            in_use: self.in_use.load(Ordering::SeqCst),
            peak: self.peak.load(Ordering::SeqCst),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.budget.in_use.fetch_sub(self.size, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn leases_are_counted_and_capped() {
        let budget = Budget::new(2);
        let (a, _) = budget.lease(10).await.expect("first");
        let (b, buffer) = budget.lease(20).await.expect("second");
        assert!(buffer.capacity() >= 20);
        assert_eq!(budget.stats(), BufferStats { in_use: 30, peak: 30 });
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), budget.lease(5)).await;
        assert!(third.is_err(), "a third lease waits while two slots are taken");
        drop(a);
        let (c, _) = budget.lease(5).await.expect("a slot came free");
        assert_eq!(budget.stats(), BufferStats { in_use: 25, peak: 30 });
        drop((b, c));
        assert_eq!(budget.stats().in_use, 0);
    }
}
