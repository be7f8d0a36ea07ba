//! The shared HTTP suite (`tus_conformance::http::suite`) over real TCP
//! against the `tus-actix` binary. actix-web 4 sends `100 Continue` before
//! the handler runs, and drops HTTP/1.1 trailers.

tus_conformance::http_suite!(env!("CARGO_BIN_EXE_tus-actix"), Continue::Immediate, Trailers::Dropped);
