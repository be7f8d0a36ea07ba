use std::time::SystemTime;

use super::UploadId;
use crate::headers::Metadata;

/// The size of a whole upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadSize {
    /// Known: the upload is complete when its offset reaches this.
    Known(u64),
    /// Deferred (`Upload-Defer-Length: 1`): a later PATCH declares it, once.
    Deferred,
}

impl UploadSize {
    /// The size, if known.
    pub fn known(self) -> Option<u64> {
        match self {
            Self::Known(size) => Some(size),
            Self::Deferred => None,
        }
    }
}

/// What part an upload plays in concatenation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadKind {
    /// An ordinary upload.
    Single,
    /// `Upload-Concat: partial`: a piece of some final upload.
    Partial,
    /// `Upload-Concat: final;...`: the concatenation of these partials, in order.
    Final(Vec<ConcatPart>),
}

/// One partial upload named by a final upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConcatPart {
    /// The partial upload.
    pub id: UploadId,
    /// The URL the client named it by, kept to echo `Upload-Concat` as received.
    pub reference: String,
}

/// Everything needed to create an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// The id chosen for it.
    pub id: UploadId,
    /// Its size, known or deferred.
    pub size: UploadSize,
    /// Client metadata, byte-exact.
    pub metadata: Metadata,
    /// Its concatenation role.
    pub kind: UploadKind,
    /// When it was created (injected clock).
    pub created_at: SystemTime,
}

/// The state of one upload as a store reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// Its id.
    pub id: UploadId,
    /// Its size, known or deferred.
    pub size: UploadSize,
    /// Bytes stored so far: every one of them can be read back.
    pub offset: u64,
    /// Client metadata, byte-exact.
    pub metadata: Metadata,
    /// Its concatenation role.
    pub kind: UploadKind,
    /// When it was created.
    pub created_at: SystemTime,
    /// When its data last changed (creation, or the last append). Sliding
    /// expiration counts from here.
    pub updated_at: SystemTime,
}

impl UploadInfo {
    /// The info of a freshly created upload.
    pub fn new(upload: NewUpload) -> Self {
        Self {
            id: upload.id,
            size: upload.size,
            offset: 0,
            metadata: upload.metadata,
            kind: upload.kind,
            created_at: upload.created_at,
            updated_at: upload.created_at,
        }
    }

    /// Whether every byte has arrived (the size is known and reached).
    pub fn is_complete(&self) -> bool {
        self.size.known() == Some(self.offset)
    }

    /// The partials of a final upload; empty for other kinds.
    pub fn partials(&self) -> &[ConcatPart] {
        match &self.kind {
            UploadKind::Final(parts) => parts,
            UploadKind::Single | UploadKind::Partial => &[],
        }
    }
}
