//! What an upload machine says back: the next action, the events worth
//! recording, and why an upload stopped.

use std::time::{Duration, Instant, SystemTime};

use http::{StatusCode, Uri};

use super::capabilities::Capabilities;
use super::checksum::ChecksumPlan;
use super::dialect::{Request, RequestKind};

/// What the driver must do next.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send this request and report its answer ([`UploadMachine::on_answer`](super::UploadMachine::on_answer))
    /// or its failure ([`UploadMachine::on_failure`](super::UploadMachine::on_failure)).
    Send(Request),
    /// The source's length is not known: make up to `max` bytes from
    /// `offset` available and report how many there are, and whether the
    /// source ends right after them ([`UploadMachine::on_read`](super::UploadMachine::on_read)).
    Read {
        /// Where to read from.
        offset: u64,
        /// How much is wanted.
        max: u64,
    },
    /// Poll again at this time.
    Wait(Instant),
    /// Finished: the upload's URL.
    Done(Uri),
    /// Given up.
    Failed(UploadError),
}

/// Why a stored upload URL was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForgetReason {
    /// The server answered 404 or 410.
    Gone(StatusCode),
    /// Its `Upload-Expires` has passed.
    Expired,
    /// It is not this source's upload (its length differs).
    Mismatch(String),
    /// The server ended it with this final answer, an error (the IETF
    /// draft's `Upload-Complete: ?1`): there is nothing left to resume.
    Ended(StatusCode),
}

/// Something the driver may want to record, log or show.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The server's capabilities.
    Discovered(Capabilities),
    /// The dialect spoken from now on ([`Dialect::name`](super::Dialect::name):
    /// `tus-1.0.0`, `ietf-9`, ...), once discovery chose it.
    Protocol(&'static str),
    /// The checksum every append will carry.
    ChecksumChosen(Option<ChecksumPlan>),
    /// An upload was created: store its URL now.
    Created {
        /// Its URL.
        url: Uri,
        /// When it expires.
        expires: Option<SystemTime>,
    },
    /// A stored upload was found on the server.
    Resumed {
        /// Its URL.
        url: Uri,
        /// The server's offset.
        offset: u64,
    },
    /// A stored upload URL must be dropped.
    Forgotten {
        /// Its URL.
        url: Uri,
        /// Why.
        reason: ForgetReason,
    },
    /// The server acknowledged bytes up to this offset.
    Acknowledged(u64),
    /// The server announced a (new) expiry.
    Expires(SystemTime),
    /// The server holds fewer bytes than it acknowledged before.
    OffsetRegressed {
        /// The best offset seen.
        from: u64,
        /// The server's offset now.
        to: u64,
    },
    /// A request failed and will be retried.
    Retrying {
        /// Failures since the last progress.
        attempt: u32,
        /// The wait before the retry.
        delay: Duration,
        /// What failed.
        reason: String,
    },
    /// The chunk size changed.
    ChunkResized(u64),
    /// The source's length became known.
    LengthKnown(u64),
}

/// Why an upload stopped for good.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// A status that is not retried (400, 401, 403, 413 at the smallest chunk, ...).
    #[error("the server refused {request:?} with {status}: {message}")]
    Refused {
        /// The request refused.
        request: RequestKind,
        /// The status.
        status: StatusCode,
        /// The start of the answer's body.
        message: String,
    },
    /// The upload no longer exists on the server (404, 410).
    #[error("the upload no longer exists on the server ({status})")]
    Gone {
        /// The status.
        status: StatusCode,
    },
    /// The retry budget ran out without progress.
    #[error("gave up after {attempts} failed attempts without progress; last: {last}")]
    RetriesExhausted {
        /// Failures counted.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The upload is larger than the server's maximum (`Tus-Max-Size`, or
    /// the draft's `Upload-Limit: max-size`).
    #[error("the upload ({length} bytes) exceeds the server's maximum size of {max} bytes")]
    TooLarge {
        /// The upload's length (at least).
        length: u64,
        /// The server's maximum.
        max: u64,
    },
    /// The server lacks what this upload needs.
    #[error("the server does not support {0}")]
    Unsupported(String),
    /// The server's answer broke the protocol.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl UploadError {
    /// Whether the server refused (as opposed to: could not be reached long
    /// enough). Every variant but [`RetriesExhausted`](Self::RetriesExhausted) is a refusal.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, Self::RetriesExhausted { .. })
    }
}
