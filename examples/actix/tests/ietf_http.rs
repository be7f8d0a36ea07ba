//! The IETF draft (interop 9, 8, 6) end to end over raw sockets against
//! the `tus-actix` binary. actix-web 4 has no way to send a 1xx response
//! other than `100 Continue`, so no 104 is sent (and none may be): clients
//! learn the upload URL from the final answer of an empty creation.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draft_uploads_in_every_interop_version() {
    tus_conformance::http::ietf::uploads_in_every_version(
        env!("CARGO_BIN_EXE_tus-actix"),
        tus_conformance::http::ietf::Interim::NotSent,
    )
    .await;
}
