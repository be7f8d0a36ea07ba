//! The protocol seam: what a dialect (tus 1.0.0, the IETF draft at an
//! interop version, or `auto` choosing between them) must say on the wire,
//! as values. The [`UploadMachine`] decides *what* to do next (discover,
//! create, probe, append); a [`Dialect`] turns that into a request head and
//! reads the answer back, including what an answer implies in that dialect
//! (an offset left out, a completion signal, another dialect to speak).
//!
//! [`UploadMachine`]: super::UploadMachine

use std::fmt::Debug;
use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode, Uri};

use super::capabilities::Capabilities;
use super::checksum::ChecksumPlan;
use super::ietf::Interim;
use crate::headers::ietf::UploadLimit;
use crate::headers::{Metadata, UploadConcat};

/// What a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// OPTIONS: learn the server's capabilities.
    Discover,
    /// POST: create an upload (possibly with its first bytes).
    Create,
    /// HEAD: read an upload's offset.
    Head,
    /// PATCH: append bytes.
    Append,
    /// DELETE: terminate an upload.
    Terminate,
}

/// The bytes a request carries, as a range of the source: the driver reads
/// them (from a file at that offset, or from its one-chunk buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPlan {
    /// No body.
    Empty,
    /// `len` bytes of the source starting at `offset`.
    Range {
        /// First byte, as an offset in the upload.
        offset: u64,
        /// Number of bytes.
        len: u64,
        /// How the body's checksum travels, if one is sent.
        checksum: Option<ChecksumPlan>,
    },
}

impl BodyPlan {
    /// `len` bytes of the source from `offset` ([`BodyPlan::Empty`] when
    /// `len` is 0), with the checksum plan if one is sent.
    pub fn part(offset: u64, len: u64, checksum: Option<ChecksumPlan>) -> Self {
        if len == 0 {
            Self::Empty
        } else {
            Self::Range { offset, len, checksum }
        }
    }

    /// Number of body bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Range { len, .. } => *len,
        }
    }

    /// Whether there are no body bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A request to send, as the dialect renders it. The driver adds what is not
/// the protocol's business (custom headers, cookies, authentication) and,
/// for [`ChecksumMode::Header`](super::ChecksumMode::Header), the digest via
/// [`set_checksum`](Self::set_checksum).
#[derive(Debug, Clone)]
pub struct Request {
    /// What the request is for.
    pub kind: RequestKind,
    /// The method.
    pub method: Method,
    /// The absolute URL.
    pub uri: Uri,
    /// Protocol headers (framing headers such as `Content-Length` included).
    pub headers: HeaderMap,
    /// The body.
    pub body: BodyPlan,
}

/// A server's answer, as far as the protocol cares: the body is only kept
/// (truncated by the driver) to explain a refusal.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: &'a HeaderMap,
    /// The start of the body, for error messages.
    pub body: &'a [u8],
}

/// What the request being answered carried, for dialects whose answers
/// leave things implicit (the IETF draft answers an incomplete append with
/// `204` and no offset: the server took everything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The offset the upload reaches if the server kept every byte sent.
    pub end: u64,
    /// Whether the request said its content completes the upload.
    pub complete: bool,
}

/// A created upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The upload URL (resolved to an absolute URL); `None` only when the
    /// answer is the draft's final answer of a complete upload, which may
    /// come from the target resource without `Location` (the machine then
    /// uses the one of the 104).
    pub url: Option<Uri>,
    /// `Upload-Offset`, when the creation carried bytes.
    pub offset: Option<u64>,
    /// When the upload expires, if the server said.
    pub expires: Option<SystemTime>,
    /// The server says the upload is complete (IETF draft).
    pub complete: bool,
    /// The upload's limits, if sent (IETF draft).
    pub limit: Option<UploadLimit>,
}

/// What the server holds of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteState {
    /// Bytes received.
    pub offset: u64,
    /// The declared length; `None` while deferred.
    pub length: Option<u64>,
    /// When the upload expires, if the server said.
    pub expires: Option<SystemTime>,
    /// The server says the upload is complete (IETF draft `Upload-Complete: ?1`).
    pub complete: bool,
    /// The upload's limits, if sent (IETF draft).
    pub limit: Option<UploadLimit>,
}

/// The answer to an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The new offset.
    pub offset: u64,
    /// When the upload expires, if the server said.
    pub expires: Option<SystemTime>,
    /// The server says the upload is complete (IETF draft).
    pub complete: bool,
}

/// How to create an upload.
#[derive(Debug, Clone, Copy)]
pub struct CreateSpec<'a> {
    /// The length; `None` to defer it (or for a final concatenation).
    pub length: Option<u64>,
    /// The metadata.
    pub metadata: &'a Metadata,
    /// `Upload-Concat`: a partial upload, or the final one.
    pub concat: Option<&'a UploadConcat>,
    /// The first bytes (creation-with-upload), or [`BodyPlan::Empty`].
    pub body: BodyPlan,
    /// Whether the body is the whole upload (the draft's `Upload-Complete: ?1`).
    pub complete: bool,
}

/// How to append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendSpec {
    /// Where the bytes go: the server's offset.
    pub offset: u64,
    /// How many bytes.
    pub len: u64,
    /// The length to declare with this request (deferred length, now known).
    pub declare_length: Option<u64>,
    /// How the body's checksum travels, if one is sent.
    pub checksum: Option<ChecksumPlan>,
    /// Whether these are the upload's last bytes (the draft's `Upload-Complete: ?1`).
    pub complete: bool,
}

/// What an answer to discovery decided.
#[derive(Debug)]
pub enum Discovery {
    /// Speak this dialect, with these capabilities.
    Capabilities(Capabilities),
    /// Speak `dialect` from now on: with the capabilities when the answer
    /// already told them, else discover again in that dialect.
    Switch(Box<dyn Dialect>, Option<Capabilities>),
}

/// What a refusal (a status outside 2xx) says beyond its status. Statuses
/// are classified by [`classify`](super::classify), the same for every
/// dialect; this is what a dialect adds.
#[derive(Debug, Default)]
pub struct Refusal {
    /// The server's offset, when the answer carries it (the draft's `409`
    /// with `Upload-Offset`, or its problem details' `expected-offset`):
    /// continue from there without asking.
    pub offset: Option<u64>,
    /// The answer is the upload's final one (the draft's `Upload-Complete:
    /// ?1` on an error): the upload is over, resuming cannot help.
    pub final_answer: bool,
    /// Limits sent with the refusal (the draft's `413` carries them).
    pub limit: Option<UploadLimit>,
    /// The server does not speak this dialect (an interop version it does
    /// not know): the dialect to try instead.
    pub fallback: Option<Box<dyn Dialect>>,
}

/// A successful answer that breaks the protocol (no `Location`, no offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// A dialect of the resumable-upload protocol: builds requests and reads
/// successful (2xx) answers. Statuses outside 2xx are classified by
/// [`classify`](super::classify), the same for every dialect; a dialect
/// only adds what they carry ([`read_refusal`](Self::read_refusal)).
pub trait Dialect: Debug + Send + Sync {
    /// A short, stable name, for logs and resume stores (`tus-1.0.0`,
    /// `ietf-9`); [`dialect_named`](super::dialect_named) maps it back.
    fn name(&self) -> &'static str;
    /// The discovery request to `endpoint`.
    fn discover(&self, endpoint: &Uri) -> Request;
    /// Reads the answer to discovery: a success, or a refusal that is not
    /// retried (some routers answer `OPTIONS` with 404 or 405).
    fn read_discovery(&self, answer: &Answer<'_>) -> Discovery;
    /// The creation request to `endpoint`.
    fn create(&self, endpoint: &Uri, spec: &CreateSpec<'_>) -> Request;
    /// Reads a successful answer to a creation sent to `request_uri`.
    fn read_created(&self, request_uri: &Uri, answer: &Answer<'_>, sent: Sent) -> Result<Created, Violation>;
    /// The request for an upload's offset.
    fn head(&self, url: &Uri) -> Request;
    /// Reads a successful answer to [`head`](Self::head).
    fn read_head(&self, answer: &Answer<'_>) -> Result<RemoteState, Violation>;
    /// The append request.
    fn append(&self, url: &Uri, spec: &AppendSpec) -> Request;
    /// Reads a successful answer to an append.
    fn read_appended(&self, answer: &Answer<'_>, sent: Sent) -> Result<Appended, Violation>;
    /// The termination request.
    fn terminate(&self, url: &Uri) -> Request;
    /// Reads what a refusal carries beyond its status.
    fn read_refusal(&self, answer: &Answer<'_>) -> Refusal {
        let _ = answer;
        Refusal::default()
    }
    /// Reads an interim (1xx) response to a request sent to `request_uri`;
    /// `None` when it means nothing in this dialect.
    fn read_interim(&self, request_uri: &Uri, status: StatusCode, headers: &HeaderMap) -> Option<Interim> {
        let _ = (request_uri, status, headers);
        None
    }
    /// Whether requests of `kind` may get interim responses worth reading
    /// ([`read_interim`](Self::read_interim)): the driver then uses a
    /// transport that reports them.
    fn interim_responses(&self, kind: RequestKind) -> bool {
        let _ = kind;
        false
    }
    /// Whether the server must be told, by a request, that the upload is
    /// complete (the draft's `Upload-Complete: ?1`) and says so in its
    /// answers; tus 1.0.0 completes an upload when its offset reaches the
    /// declared length.
    fn explicit_completion(&self) -> bool {
        false
    }
}
