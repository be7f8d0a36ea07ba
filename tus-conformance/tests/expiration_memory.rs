//! Expiration and the reaper against the memory store, on an injected clock.

use std::sync::Arc;

use tus_conformance::clock::ManualClock;
use tus_core::store::MemoryStore;

#[tokio::test]
async fn expired_uploads_are_gone_and_reaped() {
    let clock = ManualClock::new();
    tus_conformance::expiration::run(Arc::new(MemoryStore::new()), clock).await;
}
