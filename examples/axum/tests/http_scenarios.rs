//! The shared HTTP suite (`tus_conformance::http::suite`) over real TCP
//! against the `tus-axum` binary. hyper sends `100 Continue` only when the
//! body is read, and passes trailers.

tus_conformance::http_suite!(env!("CARGO_BIN_EXE_tus-axum"), Continue::Deferred, Trailers::Passed);
