//! Every error a draft request can be answered with, mapped to a status, a
//! stable code and (for the draft's problem types) an RFC 9457 problem
//! type, in one place.

use http::StatusCode;

use crate::headers::{Extension, HeaderKind};
use crate::server::TusError;

/// The problem type of a mismatching `Upload-Offset`.
pub const MISMATCHING_OFFSET: &str = "https://iana.org/assignments/http-problem-types#mismatching-upload-offset";
/// The problem type of inconsistent length values.
pub const INCONSISTENT_LENGTH: &str = "https://iana.org/assignments/http-problem-types#inconsistent-upload-length";
/// The problem type of an append to a completed upload (interop 6).
pub const COMPLETED_UPLOAD: &str = "https://iana.org/assignments/http-problem-types#completed-upload";

/// A draft request the server refuses, or a failure while serving it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IetfError {
    /// `Upload-Offset` is not the upload's offset.
    #[error("offset from request does not match offset of resource: expected {expected}, provided {provided}")]
    MismatchedOffset {
        /// The upload's offset.
        expected: u64,
        /// The offset the client sent.
        provided: u64,
    },
    /// The request's length indicators disagree with each other or with the
    /// upload's recorded length.
    #[error("inconsistent length values for upload: {0}")]
    InconsistentLength(&'static str),
    /// An append to an upload that is already complete (interop 6).
    #[error("upload is already completed")]
    Completed,
    /// `Upload-Draft-Interop-Version` names a version this server does not
    /// speak (and the request is not a tus 1.0.0 one either).
    #[error("unsupported Upload-Draft-Interop-Version; this server speaks 9, 8 and 6")]
    UnsupportedVersion,
    /// An append without `Content-Type: application/partial-upload`.
    #[error("Content-Type must be application/partial-upload")]
    NotPartialUpload,
    /// A header the request must not carry (interop 6: offset retrieval and
    /// cancellation carry no upload state).
    #[error("{} is not allowed in this request", .0.display_name())]
    HeaderNotAllowed(HeaderKind),
    /// The store cannot remove uploads.
    #[error("this server does not cancel uploads")]
    CancelNotSupported,
    /// An error shared with tus 1.0.0 (missing and malformed headers,
    /// limits, storage, hooks...).
    #[error(transparent)]
    Tus(TusError),
}

impl From<TusError> for IetfError {
    fn from(error: TusError) -> Self {
        match error {
            TusError::MismatchedOffset { expected, provided } => Self::MismatchedOffset { expected, provided },
            // A known length the body would pass is, in the draft's words,
            // an inconsistent length (the server stops at the length).
            TusError::UploadSizeExceeded => Self::InconsistentLength("the content goes past the upload's length"),
            TusError::LengthAlreadySet => Self::InconsistentLength("the upload's length is already known"),
            TusError::LengthBelowOffset { .. } => {
                Self::InconsistentLength("the length is below the bytes already received")
            }
            TusError::ExtensionNotSupported(Extension::Termination) => Self::CancelNotSupported,
            other => Self::Tus(other),
        }
    }
}

impl IetfError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MismatchedOffset { .. } => StatusCode::CONFLICT,
            Self::InconsistentLength(_) | Self::Completed | Self::UnsupportedVersion | Self::HeaderNotAllowed(_) => {
                StatusCode::BAD_REQUEST
            }
            Self::NotPartialUpload => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::CancelNotSupported => StatusCode::METHOD_NOT_ALLOWED,
            Self::Tus(error) => error.status(),
        }
    }

    /// A stable machine-readable code (tus's own where the error is shared).
    pub fn code(&self) -> &'static str {
        match self {
            Self::MismatchedOffset { .. } => "ERR_MISMATCHED_OFFSET",
            Self::InconsistentLength(_) => "ERR_INCONSISTENT_UPLOAD_LENGTH",
            Self::Completed => "ERR_UPLOAD_COMPLETED",
            Self::UnsupportedVersion => "ERR_UNSUPPORTED_INTEROP_VERSION",
            Self::NotPartialUpload => "ERR_INVALID_CONTENT_TYPE",
            Self::HeaderNotAllowed(_) => "ERR_HEADER_NOT_ALLOWED",
            Self::CancelNotSupported => "ERR_METHOD_NOT_ALLOWED",
            Self::Tus(error) => error.code(),
        }
    }

    /// The RFC 9457 problem type the draft defines for this error, if any.
    pub fn problem_type(&self) -> Option<&'static str> {
        match self {
            Self::MismatchedOffset { .. } => Some(MISMATCHING_OFFSET),
            Self::InconsistentLength(_) => Some(INCONSISTENT_LENGTH),
            Self::Completed => Some(COMPLETED_UPLOAD),
            _ => None,
        }
    }

    /// Whether a client should retry the same request later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Tus(error) if error.is_transient())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_codes() {
        let cases: Vec<(IetfError, u16, &str, bool)> = vec![
            (
                IetfError::MismatchedOffset {
                    expected: 1,
                    provided: 2,
                },
                409,
                "ERR_MISMATCHED_OFFSET",
                true,
            ),
            (
                IetfError::InconsistentLength("x"),
                400,
                "ERR_INCONSISTENT_UPLOAD_LENGTH",
                true,
            ),
            (IetfError::Completed, 400, "ERR_UPLOAD_COMPLETED", true),
            (IetfError::NotPartialUpload, 415, "ERR_INVALID_CONTENT_TYPE", false),
            (IetfError::CancelNotSupported, 405, "ERR_METHOD_NOT_ALLOWED", false),
            (
                IetfError::from(TusError::UploadSizeExceeded),
                400,
                "ERR_INCONSISTENT_UPLOAD_LENGTH",
                true,
            ),
            (
                IetfError::from(TusError::MismatchedOffset {
                    expected: 0,
                    provided: 1,
                }),
                409,
                "ERR_MISMATCHED_OFFSET",
                true,
            ),
            (
                IetfError::from(TusError::ExtensionNotSupported(Extension::Termination)),
                405,
                "ERR_METHOD_NOT_ALLOWED",
                false,
            ),
            (
                IetfError::from(TusError::MaxSizeExceeded { max: 5 }),
                413,
                "ERR_MAX_SIZE_EXCEEDED",
                false,
            ),
            (IetfError::from(TusError::NotFound), 404, "ERR_UPLOAD_NOT_FOUND", false),
        ];
        for (error, status, code, problem) in cases {
            assert_eq!(error.status().as_u16(), status, "{error:?}");
            assert_eq!(error.code(), code, "{error:?}");
            assert_eq!(error.problem_type().is_some(), problem, "{error:?}");
        }
    }
}
