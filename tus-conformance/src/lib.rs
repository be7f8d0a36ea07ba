//! # tus-conformance
//!
//! One conformance suite that every [`Store`] passes: plain async
//! functions, runtime-agnostic, that panic with a message naming the broken
//! rule of the [`Store` contract](tus_core::store::Store#contract).
//!
//! A backend's tests hand [`run_store_suite`] a factory that opens the store
//! over some storage. The factory is called again over the **same** storage
//! to simulate a restart, so it must reopen, not recreate:
//!
//! ```
//! use tus_core::store::MemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let store = MemoryStore::new();
//! // A memory store "reopens" as a clone sharing the same uploads.
//! tus_conformance::run_store_suite(|| {
//!     let store = store.clone();
//!     async move { store }
//! })
//! .await;
//! # }
//! ```
//!
//! Each case is also public in [`cases`], for a backend that wants to run
//! them one by one. Cases use distinct ids, so they can share one storage;
//! run the suite over fresh storage each time. Cases for optional
//! capabilities (termination, deferred length,
//! concatenation, listing) are skipped when the store does not advertise
//! them.

pub mod cases;
pub mod clock;
pub mod direct;
pub mod expiration;
pub mod fuzzing;
#[cfg(feature = "http")]
pub mod http;
pub mod ietf_scenarios;
pub mod malformed;
pub mod scenarios;
pub mod support;

use std::future::Future;

use tus_core::store::Store;

/// Runs every case against stores made by `open`, which is called once for
/// the store under test and again, after it was dropped, to reopen the same
/// storage (see [`cases::reopen_preserves_uploads`]).
pub async fn run_store_suite<S, F, Fut>(mut open: F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let store = open().await;
    let store: &dyn Store = &store;
    cases::create_and_info(store).await;
    cases::append_in_chunks_and_read_back(store).await;
    cases::large_append_streams_through(store).await;
    cases::stale_offset_writes_nothing(store).await;
    cases::concurrent_append_is_busy(store).await;
    cases::failing_body_keeps_received_bytes(store).await;
    cases::declare_length_once(store).await;
    cases::terminate_removes_everything(store).await;
    cases::zero_length_upload(store).await;
    cases::metadata_round_trips_byte_exact(store).await;
    cases::all_or_nothing_keeps_committed_bytes(store).await;
    cases::all_or_nothing_abort_changes_nothing(store).await;
    cases::all_or_nothing_failing_body_stores_nothing(store).await;
    cases::all_or_nothing_at_stale_offset_is_mismatch(store).await;
    cases::concatenate_partials(store).await;
    cases::list_returns_live_uploads(store).await;
    cases::updated_at_is_the_injected_time(store).await;
    cases::dropped_writer_is_an_abort(store).await;
    cases::create_with_writer_then_append(store).await;
    cases::reopen_preserves_uploads(&mut open).await;
    cases::concat_references_survive_reopen(&mut open).await;
    cases::waiting_finals_are_found(&mut open).await;
}
