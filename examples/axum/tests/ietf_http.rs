//! The IETF draft (interop 9, 8, 6) end to end over raw sockets against
//! the `tus-axum` binary: every upload shape, with the `104 Upload
//! Resumption Supported` read before the final response and used to resume.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_uploads_with_104_in_every_interop_version() {
    tus_conformance::http::ietf::uploads_in_every_version(
        env!("CARGO_BIN_EXE_tus-axum"),
        tus_conformance::http::ietf::Interim::Sent,
    )
    .await;
}
