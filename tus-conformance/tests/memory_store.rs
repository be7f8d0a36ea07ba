//! The conformance suite against the in-memory store.

use tus_core::store::MemoryStore;

#[tokio::test]
async fn memory_store_passes_the_suite() {
    let store = MemoryStore::new();
    // Reopening a memory store is taking another handle on the same uploads.
    tus_conformance::run_store_suite(|| {
        let store = store.clone();
        async move { store }
    })
    .await;
}
