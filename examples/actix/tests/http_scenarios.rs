//! The shared HTTP suite (`tus_conformance::http::suite`) over real TCP
//! against the `tus-actix` binary. Its expect service answers a creation
//! refused on its head before `100 Continue` (as hyper does), and actix-web 4
//! drops HTTP/1.1 trailers.

tus_conformance::http_suite!(env!("CARGO_BIN_EXE_tus-actix"), Continue::Deferred, Trailers::Dropped);
