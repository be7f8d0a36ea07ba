//! The client side of the protocol, pure: which request to send next, how
//! to read the answer, when to retry and how long to wait, how big a chunk
//! is, which checksum to send. No sockets, no runtime, no clock (`now`
//! comes in); the `tus-client` crate drives it over HTTP.
//!
//! ```text
//!   UploadMachine::poll(now) ──▶ Action::Send(Request) ──driver──▶ server
//!         ▲                                                          │
//!         └──────── on_answer(Answer, now) / on_failure(..) ◀─────────┘
//! ```
//!
//! Requests are rendered by a [`Dialect`] with the same typed headers the
//! server parses, so both sides agree byte for byte: [`Tus1`] (tus 1.0.0),
//! [`Ietf`] (the IETF draft "Resumable Uploads for HTTP" at interop 9, 8 or
//! 6; its requests and answers per version are in [`ietf`]) and [`Auto`],
//! which picks one of them at discovery.
//!
//! ```
//! use std::time::{Instant, SystemTime};
//! use tus_core::client::{Action, Now, Tus1, UploadConfig, UploadMachine};
//!
//! let config = UploadConfig::new("http://127.0.0.1:1080/files/".parse().unwrap(), Some(11));
//! let mut machine = UploadMachine::new(Box::new(Tus1), config, None);
//! let Action::Send(request) = machine.poll(Now::new(Instant::now(), SystemTime::now())) else {
//!     unreachable!()
//! };
//! assert_eq!(request.method, http::Method::OPTIONS);
//! ```

mod auto;
mod capabilities;
mod checksum;
mod chunk;
mod config;
mod dialect;
pub mod ietf;
mod location;
mod machine;
mod outcome;
mod parts;
mod retry;
mod tus1;

pub use auto::Auto;
pub use capabilities::Capabilities;
pub use checksum::{
    ChecksumError, ChecksumMode, ChecksumPlan, ChecksumPreference, PREFERENCE, TrailerPreference, checksum_trailers,
    checksum_value, choose, digest_base64,
};
pub use chunk::{ChunkPolicy, ChunkSizer};
pub use config::{Now, ResumePoint, Role, UploadConfig};
pub use dialect::{
    Answer, AppendSpec, Appended, BodyPlan, CreateSpec, Created, Dialect, Discovery, Refusal, RemoteState, Request,
    RequestKind, Sent, Violation,
};
pub use ietf::Ietf;
pub use location::{LocationError, resolve};
pub use machine::UploadMachine;
pub use outcome::{Action, Event, ForgetReason, UploadError};
pub use parts::{final_concat, split};
pub use retry::{CHECKSUM_MISMATCH, RetryBudget, RetryPolicy, TransportFailure, Verdict, classify, retry_after};
pub use tus1::Tus1;

/// The dialect a [`Dialect::name`] names (`tus-1.0.0`, `ietf-9`,
/// `ietf-8`, `ietf-6`), to continue an upload in the dialect that created
/// it; `None` for any other name.
pub fn dialect_named(name: &str) -> Option<Box<dyn Dialect>> {
    use crate::headers::ietf::InteropVersion;
    let version = match name {
        "tus-1.0.0" => return Some(Box::new(Tus1)),
        "ietf-9" => InteropVersion::V9,
        "ietf-8" => InteropVersion::V8,
        "ietf-6" => InteropVersion::V6,
        _ => return None,
    };
    Ietf::new(version).map(|dialect| Box::new(dialect) as Box<dyn Dialect>)
}

impl Request {
    /// Adds the `Upload-Checksum` header ([`ChecksumMode::Header`]) with
    /// the digest of the body the driver computed.
    pub fn set_checksum(&mut self, algorithm: crate::headers::ChecksumAlgorithm, digest: Vec<u8>) {
        self.headers.insert(
            crate::headers::HeaderKind::UploadChecksum.name(),
            checksum_value(algorithm, digest),
        );
    }
}
