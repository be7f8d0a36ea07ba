//! The malformed-request corpus against the in-memory store, through `TusHandler` directly.

use std::sync::Arc;

use futures::FutureExt as _;
use tus_conformance::direct::{Direct, fingerprint, scenario_handler};
use tus_conformance::malformed;
use tus_core::store::MemoryStore;

#[tokio::test]
async fn malformed_requests_get_a_4xx_and_change_nothing_on_the_memory_store() {
    let store = MemoryStore::new();
    let handler = scenario_handler(Arc::new(store.clone()));
    let print = || fingerprint(&store).boxed();
    let failures = malformed::run(&Direct(handler), &print).await;
    assert!(
        failures.is_empty(),
        "{} malformed case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
