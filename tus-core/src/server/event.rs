//! What happened to an upload, as values a server hands to observers.

use crate::upload::{UploadId, UploadInfo, UploadSize};

/// Bytes of an upload that arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The upload.
    pub id: UploadId,
    /// Bytes received so far, counting from the start of the upload.
    pub offset: u64,
    /// The upload's size.
    pub size: UploadSize,
}

/// Something that happened to an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An upload was created (before any body was read).
    Created(UploadInfo),
    /// Bytes of an upload arrived (at most once per progress interval, and
    /// when a body ends).
    Progress(Progress),
    /// An upload received its last byte (once per upload).
    Finished(UploadInfo),
    /// An upload was terminated.
    Terminated(UploadId),
}
