//! The protocol seam: what a dialect (tus 1.0.0 today, the IETF draft
//! later) must say on the wire, as values. The [`UploadMachine`] decides
//! *what* to do next (discover, create, probe, append); a [`Dialect`] turns
//! that into a request head and reads the answer back.
//!
//! [`UploadMachine`]: super::UploadMachine

use std::fmt::Debug;
use std::time::SystemTime;

use http::{HeaderMap, Method, StatusCode, Uri};

use super::capabilities::Capabilities;
use super::checksum::ChecksumPlan;
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

/// A created upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// The upload URL (resolved to an absolute URL).
    pub url: Uri,
    /// `Upload-Offset`, when the creation carried bytes.
    pub offset: Option<u64>,
    /// When the upload expires, if the server said.
    pub expires: Option<SystemTime>,
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
}

/// The answer to an append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The new offset.
    pub offset: u64,
    /// When the upload expires, if the server said.
    pub expires: Option<SystemTime>,
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
}

/// A successful answer that breaks the protocol (no `Location`, no offset).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// A dialect of the resumable-upload protocol: builds requests and reads
/// successful (2xx) answers. Statuses outside 2xx are classified by
/// [`classify`](super::classify), the same for every dialect.
pub trait Dialect: Debug + Send + Sync {
    /// A short name for logs (`tus-1.0.0`).
    fn name(&self) -> &'static str;
    /// The discovery request to `endpoint`.
    fn discover(&self, endpoint: &Uri) -> Request;
    /// Reads a successful answer to discovery.
    fn read_discovery(&self, answer: &Answer<'_>) -> Capabilities;
    /// The creation request to `endpoint`.
    fn create(&self, endpoint: &Uri, spec: &CreateSpec<'_>) -> Request;
    /// Reads a successful answer to a creation sent to `request_uri`.
    fn read_created(&self, request_uri: &Uri, answer: &Answer<'_>) -> Result<Created, Violation>;
    /// The request for an upload's offset.
    fn head(&self, url: &Uri) -> Request;
    /// Reads a successful answer to [`head`](Self::head).
    fn read_head(&self, answer: &Answer<'_>) -> Result<RemoteState, Violation>;
    /// The append request.
    fn append(&self, url: &Uri, spec: &AppendSpec) -> Request;
    /// Reads a successful answer to an append.
    fn read_appended(&self, answer: &Answer<'_>) -> Result<Appended, Violation>;
    /// The termination request.
    fn terminate(&self, url: &Uri) -> Request;
}
