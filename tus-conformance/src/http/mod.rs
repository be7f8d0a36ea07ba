//! HTTP tests against a server binary (cargo feature `http`): the protocol
//! scenarios over real TCP, plus what only a real server shows (`Expect:
//! 100-continue`, cut connections, crash and SIGTERM recovery, auth,
//! metrics). Each example server's tests call the [`suite`] functions with
//! the path of its binary, so every example passes the same tests.
//!
//! The binary must take the flags of the examples: `--listen`,
//! `--base-path`, `--dir`, `--max-size`, `--expire-after`,
//! `--shutdown-timeout`, `--auth-token`, `--trust-forwarded`.

pub mod ietf;
mod server;
pub mod suite;

pub use server::{HyperTransport, Server};

/// Declares one `#[tokio::test]` per [`suite`] test against `binary`, a
/// server whose framework answers `Expect: 100-continue` as `continue` and
/// passes or drops trailers as `trailers`. The calling crate needs tokio
/// with the `macros` and `rt-multi-thread` features.
///
/// ```ignore
/// tus_conformance::http_suite!(env!("CARGO_BIN_EXE_tus-axum"), Continue::Deferred, Trailers::Passed);
/// ```
#[macro_export]
macro_rules! http_suite {
    ($binary:expr, $continue:expr, $trailers:expr) => {
        mod http_suite {
            #[allow(unused_imports)]
            use $crate::http::suite::{self, Continue, Trailers};

            const BINARY: &str = $binary;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn scenarios_pass_over_http() {
                suite::scenarios(BINARY, $trailers).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn too_large_creation_with_expect_continue_gets_a_final_413() {
                suite::too_large_creation_with_expect_continue_gets_a_final_413(BINARY, $continue).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn acceptable_creation_with_expect_continue_gets_100_then_201() {
                suite::acceptable_creation_with_expect_continue_gets_100_then_201(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn request_id_is_echoed_and_logged() {
                suite::request_id_is_echoed_and_logged(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn interrupted_patch_keeps_received_bytes_across_a_crash() {
                suite::interrupted_patch_keeps_received_bytes_across_a_crash(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn checksum_trailer_is_verified_over_http11() {
                suite::checksum_trailer_is_verified_over_http11(BINARY, $trailers).await;
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
            async fn auth_keeps_each_upload_to_its_owner() {
                suite::auth_keeps_each_upload_to_its_owner(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn auth_keeps_partials_to_their_owner() {
                suite::auth_keeps_partials_to_their_owner(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn metrics_count_uploads() {
                suite::metrics_count_uploads(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn malformed_requests_get_a_4xx_and_change_no_file() {
                suite::malformed_requests_get_a_4xx_and_change_no_file(BINARY).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn location_behind_a_proxy() {
                suite::location_behind_a_proxy(BINARY).await;
            }
        }
    };
}
