//! The protocol scenarios against the in-memory store, through `TusHandler` directly.

use std::sync::Arc;

use tus_conformance::direct::{Direct, scenario_handler};
use tus_conformance::scenarios;
use tus_core::store::MemoryStore;

#[tokio::test]
async fn scenarios_pass_against_the_memory_store() {
    let handler = scenario_handler(Arc::new(MemoryStore::new()));
    let failures = scenarios::run_all(&Direct(handler)).await;
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
