//! The upload model: what an upload is, independent of any wire format or
//! storage.

mod id;
mod info;

pub use id::{InvalidUploadId, UploadId};
pub use info::{ConcatPart, NewUpload, UploadInfo, UploadKind, UploadSize};
