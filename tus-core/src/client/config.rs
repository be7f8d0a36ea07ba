//! What an upload machine is told up front: the upload, the settings, the
//! time as the driver saw it, and where a stored upload stands.

use std::time::{Instant, SystemTime};

use http::Uri;

use super::capabilities::Capabilities;
use super::checksum::{ChecksumPreference, TrailerPreference};
use super::chunk::ChunkPolicy;
use super::retry::RetryPolicy;
use crate::headers::Metadata;

/// The time as the driver saw it: monotonic for waiting, wall-clock for
/// dates the server sends (`Retry-After`, `Upload-Expires`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    /// Monotonic time.
    pub instant: Instant,
    /// Wall-clock time.
    pub wall: SystemTime,
}

impl Now {
    /// Pairs the two clocks.
    pub fn new(instant: Instant, wall: SystemTime) -> Self {
        Self { instant, wall }
    }
}

/// What the upload is, for concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A whole upload.
    Single,
    /// One part of a parallel upload.
    Partial,
    /// The final upload joining these finished parts, in order.
    Final(Vec<Uri>),
}

/// Everything the machine needs to know up front.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// The creation URL.
    pub endpoint: Uri,
    /// The length, or `None` when the source's end is not known yet
    /// (the machine asks with [`Action::Read`](super::Action::Read) and defers the length).
    pub length: Option<u64>,
    /// `Upload-Metadata`.
    pub metadata: Metadata,
    /// Single, partial or final.
    pub role: Role,
    /// Chunk sizes.
    pub chunk: ChunkPolicy,
    /// The checksum wanted.
    pub checksum: ChecksumPreference,
    /// Whether the driver can send request trailers (checksum-trailer).
    pub trailers: bool,
    /// Where the digest goes when the server offers both a header and a trailer.
    pub checksum_placement: TrailerPreference,
    /// Whether the first bytes may ride on the creation request when the
    /// server offers creation-with-upload.
    pub creation_with_upload: bool,
    /// Retries.
    pub retry: RetryPolicy,
    /// Capabilities already known (parts of a parallel upload share the
    /// discovery of the first); `None` to send OPTIONS first.
    pub capabilities: Option<Capabilities>,
    /// Seed of the backoff jitter.
    pub seed: u64,
}

impl UploadConfig {
    /// A single upload of `length` bytes (`None`: unknown) to `endpoint`,
    /// with every other setting at its default.
    pub fn new(endpoint: Uri, length: Option<u64>) -> Self {
        Self {
            endpoint,
            length,
            metadata: Metadata::new(),
            role: Role::Single,
            chunk: ChunkPolicy::default(),
            checksum: ChecksumPreference::Auto,
            trailers: false,
            checksum_placement: TrailerPreference::Header,
            creation_with_upload: true,
            retry: RetryPolicy::default(),
            capabilities: None,
            seed: 0x9e37_79b9_7f4a_7c15,
        }
    }
}

/// An upload this client created earlier, from a resume store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumePoint {
    /// Its URL.
    pub url: Uri,
    /// When it expires, if the server said.
    pub expires: Option<SystemTime>,
}
