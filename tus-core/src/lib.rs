//! # tus-core
//!
//! The pure core of the [tus resumable upload protocol](https://tus.io/protocols/resumable-upload)
//! 1.0.0, shared by servers and clients: typed headers that decode *and*
//! encode, the upload model, every protocol decision, responses and events as
//! values, and the [`Store`](store::Store) trait that storage backends
//! implement.
//!
//! Nothing here opens a socket, spawns a task, sleeps or reads a clock: the
//! time comes in as an argument (`now`), outputs come back as values. The
//! async server driver that moves bytes between HTTP and a store is the
//! `tus-rs-server` crate (library `tus_server`), the client is
//! `tus-rs-client` (`tus_client`); backends are `tus-store-fs` and
//! `tus-store-s3`.
//!
//! ```
//! use http::{HeaderMap, Method};
//! use tus_core::server::request::TusRequest;
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("tus-resumable", "1.0.0".parse().unwrap());
//! headers.insert("upload-length", "5".parse().unwrap());
//! let request = TusRequest::parse(&Method::POST, "/files/", &headers, "/files/").unwrap();
//! assert!(matches!(request, TusRequest::Create(_)));
//! ```
//!
//! Layers, each a leaf of the one before:
//! - [`headers`]: one typed header per file, strict decode, canonical encode.
//! - [`upload`]: ids, sizes, kinds and the state of an upload.
//! - [`checksum`]: streaming digests for the checksum extension.
//! - [`store`]: the storage contract (a trait is no I/O) and an in-memory store.
//! - [`lock`]: the per-upload locking contract, with request stealing.
//! - [`server`]: request parsing, the server's decisions, responses and events
//!   (tus 1.0.0, and the IETF draft in [`server::ietf`]).
//! - [`client`]: the client's decisions (next request, retries, chunk size,
//!   checksum), and the IETF draft's requests and answers in [`client::ietf`].
//!
//! ## Cargo features
//!
//! | feature | adds |
//! |---|---|
//! | `serde` (off by default) | [`store::record`]: the JSON codec for upload bookkeeping that document-keeping stores (filesystem, S3) share |

#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod checksum;
pub mod client;
pub mod headers;
pub mod lock;
pub mod server;
pub mod store;
pub mod upload;

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// Helpers for this crate's unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use http::{HeaderMap, HeaderName, HeaderValue};

    /// A header map of `(name, value)` pairs, in order (repeats kept).
    pub(crate) fn headers(list: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in list {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }
}
