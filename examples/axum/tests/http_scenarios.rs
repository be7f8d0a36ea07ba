//! The shared HTTP suite (`tus_conformance::http::suite`) over real TCP
//! against the `tus-axum` binary.

use tus_conformance::http::suite::{self, Continue};

const BINARY: &str = env!("CARGO_BIN_EXE_tus-axum");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_pass_over_http() {
    suite::scenarios(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_creation_with_expect_continue_gets_a_final_413() {
    suite::too_large_creation_with_expect_continue_gets_a_final_413(BINARY, Continue::Deferred).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_patch_keeps_received_bytes_across_a_crash() {
    suite::interrupted_patch_keeps_received_bytes_across_a_crash(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_trailer_is_verified_over_http11() {
    suite::checksum_trailer_is_verified_over_http11(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_checksummed_patch_stores_nothing() {
    suite::interrupted_checksummed_patch_stores_nothing(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully_and_keeps_in_flight_bytes() {
    suite::sigterm_shuts_down_gracefully_and_keeps_in_flight_bytes(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_rejects_anonymous_and_records_the_user() {
    suite::auth_rejects_anonymous_and_records_the_user(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_uploads() {
    suite::metrics_count_uploads(BINARY).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn location_behind_a_proxy() {
    suite::location_behind_a_proxy(BINARY).await;
}
