//! # tus-client
//!
//! A client for the [tus resumable upload protocol](https://tus.io/protocols/resumable-upload)
//! 1.0.0 that never restarts an upload from zero: it remembers each
//! upload's URL *and cookies* in a resume store, re-reads files from the
//! server's offset, streams sources of unknown length with at most one
//! chunk in memory, and retries what can be retried for as long as the
//! upload keeps moving.
//!
//! Every protocol decision (the next request, the retry table, chunk
//! sizes, the checksum) is made by the pure state machine in
//! [`tus_core::client`], shared with the server's typed headers; this
//! crate is the async driver around it: an HTTP [`Transport`] (reqwest
//! with rustls by default), [`Source`]s, a [`ResumeStore`], cookies, rate
//! limiting, a stall watchdog, progress, pause, resume and cancel.
//!
//! ```no_run
//! use tus_client::{Client, JsonFileStore, Source};
//!
//! # async fn example() -> Result<(), tus_client::Error> {
//! let client = Client::builder()
//!     .header(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer s3cr3t"))
//!     .build()?;
//! let source = Source::file("backup.tar").await.map_err(tus_client::Error::Source)?;
//! let upload = client
//!     .upload("https://uploads.example/files/".parse().unwrap(), source)
//!     .metadata("filename", "backup.tar")
//!     .resume_store(JsonFileStore::new("uploads.json"))
//!     .parallel(4)
//!     .start();
//! let finished = upload.finish().await?;
//! println!("uploaded {} bytes to {}", finished.length, finished.url);
//! # Ok(()) }
//! ```
//!
//! A stream of unknown length (here standard input) is uploaded with a
//! deferred length, declared on the last PATCH:
//!
//! ```no_run
//! # async fn example(client: tus_client::Client) -> Result<(), tus_client::Error> {
//! let upload = client.upload("http://127.0.0.1:1080/files/".parse().unwrap(), tus_client::Source::stdin()).start();
//! let progress = upload.progress(); // bytes sent and acknowledged
//! # let _ = progress;
//! upload.finish().await?;
//! # Ok(()) }
//! ```
//!
//! The `tus-upload` binary of this crate is the command-line face of it.

mod body;
mod client;
mod cookies;
mod direct;
mod driver;
mod error;
mod exchange;
mod record;
mod resume;
mod source;
mod tls;
mod transport;
mod upload;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use body::RequestBody;
pub use client::{BeforeRequest, Client, ClientBuilder, DEFAULT_IETF_VERSION, Protocol, RequestInfo};
pub use error::{BoxError, Error, ErrorKind, UploadError};
pub use resume::{
    FileIdentity, Fingerprint, JsonFileStore, MemoryResumeStore, PartEntry, ResumeEntry, ResumeStore, STATE_VERSION,
    StoreError,
};
pub use source::Source;
pub use transport::{InterimResponses, MAX_ANSWER_BODY, NetworkOptions, ReqwestTransport, Transport, TransportError};
pub use tus_core::client::{ChecksumMode, ChecksumPlan, ChecksumPreference, RequestKind, RetryPolicy};
pub use tus_core::headers::ChecksumAlgorithm;
pub use upload::{Notice, NoticeSink, Progress, UploadBuilder, UploadController, UploadHandle, Uploaded};
