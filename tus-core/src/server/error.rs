//! Every error the handler can answer with, mapped to HTTP in one place.

use http::StatusCode;

use crate::headers::{Extension, HeaderError, HeaderKind};
use crate::store::{BoxError, StoreError};

/// A request the server refuses, or a failure while serving it.
///
/// Each variant has one [`status`](TusError::status), one stable
/// machine-readable [`code`](TusError::code), and a short message
/// (`Display`). Responses carry `CODE: message` as a plain-text body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TusError {
    /// `Tus-Resumable` is missing or names a version this server lacks.
    #[error("unsupported or missing Tus-Resumable version; this server speaks 1.0.0")]
    UnsupportedVersion,
    /// A required header is missing.
    #[error("missing {} header", .0.display_name())]
    MissingHeader(HeaderKind),
    /// A header is malformed.
    #[error("invalid {name} header: {reason}", name = .0.display_name(), reason = .1)]
    InvalidHeader(HeaderKind, HeaderError),
    /// A checksum algorithm this server does not support.
    #[error("unsupported checksum algorithm")]
    UnsupportedChecksumAlgorithm,
    /// The body's digest differs from `Upload-Checksum`; nothing was stored.
    #[error("checksum mismatch; the chunk was discarded")]
    ChecksumMismatch,
    /// `Trailer: Upload-Checksum` was announced but no valid trailer arrived.
    #[error("announced Upload-Checksum trailer is missing or malformed; the chunk was discarded")]
    ChecksumTrailerMissing,
    /// The upload expired before it was finished.
    #[error("upload expired")]
    Gone,
    /// An `Upload-Concat` reference that is not an upload URL of this server.
    #[error("Upload-Concat reference {0:?} is not an upload of this server")]
    InvalidConcatReference(String),
    /// An `Upload-Concat` reference to an upload that does not exist.
    #[error("partial upload {0:?} not found")]
    ConcatPartialNotFound(String),
    /// An `Upload-Concat` reference to an upload that is not partial.
    #[error("upload {0:?} is not a partial upload")]
    ConcatNotPartial(String),
    /// A final upload naming unfinished partials where that is not allowed.
    #[error("partial upload {0:?} is not finished")]
    ConcatPartialUnfinished(String),
    /// PATCH without `Content-Type: application/offset+octet-stream`.
    #[error("Content-Type must be application/offset+octet-stream")]
    InvalidContentType,
    /// Creation with neither `Upload-Length` nor `Upload-Defer-Length`.
    #[error("Upload-Length or Upload-Defer-Length: 1 is required")]
    MissingUploadLength,
    /// Creation with both `Upload-Length` and `Upload-Defer-Length`.
    #[error("Upload-Length and Upload-Defer-Length are mutually exclusive")]
    AmbiguousUploadLength,
    /// An upload larger than `Tus-Max-Size`.
    #[error("upload length exceeds the maximum of {max} bytes")]
    MaxSizeExceeded {
        /// The server's maximum.
        max: u64,
    },
    /// A body that would go past the upload's length.
    #[error("request body exceeds the upload length")]
    UploadSizeExceeded,
    /// `Upload-Offset` is not the upload's offset.
    #[error("Upload-Offset {provided} does not match the upload's offset {expected}")]
    MismatchedOffset {
        /// The upload's offset.
        expected: u64,
        /// The offset the client sent.
        provided: u64,
    },
    /// A PATCH changing an already known length.
    #[error("upload length is already set and cannot change")]
    LengthAlreadySet,
    /// A declared length smaller than the bytes already stored.
    #[error("Upload-Length {length} is below the upload's offset {offset}")]
    LengthBelowOffset {
        /// The declared length.
        length: u64,
        /// The upload's offset.
        offset: u64,
    },
    /// No upload at this URL.
    #[error("upload not found")]
    NotFound,
    /// The request needs an extension this server does not offer.
    #[error("the {} extension is not supported", .0.name())]
    ExtensionNotSupported(Extension),
    /// A PATCH against a final upload.
    #[error("a final upload cannot be modified")]
    ModifyFinal,
    /// Another request is writing this upload.
    #[error("upload is locked by another request")]
    Locked,
    /// GET of an upload that has not received all its bytes.
    #[error("upload is not complete yet")]
    UploadNotComplete,
    /// A `Range` outside the upload.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The upload's length, for `Content-Range: bytes */LEN`.
        length: u64,
    },
    /// A method the target does not allow.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A CORS request from an origin that is not allowed.
    #[error("origin not allowed")]
    OriginNotAllowed,
    /// `Content-Length` is not a non-negative integer.
    #[error("invalid Content-Length header")]
    InvalidContentLength,
    /// The request body ended with an error (the client went away).
    #[error("request body was interrupted")]
    BodyInterrupted,
    /// Another request for this upload arrived while this one was streaming
    /// its body: the bytes received so far were kept, the lock handed over.
    ///
    /// Answered `409 Conflict` (tusd answers 400): the offset moved on, and
    /// every tus client answers a 409 with a HEAD and resumes, while
    /// tus-js-client gives an upload up after a 400. The code stays tusd's.
    #[error("upload has been interrupted by another request for this upload resource")]
    InterruptedByRequest,
    /// The upload's lock could not be taken because the locker's backend
    /// (a lock server such as Redis) is unreachable: the request is refused
    /// rather than risking two writers.
    ///
    /// Answered `423 Locked`, which every tus client retries without
    /// dropping the upload (tus-js-client starts a new upload after a HEAD
    /// answered 5xx, but retries a 423).
    #[error("the upload's lock cannot be taken now (lock service unavailable); retry later")]
    LockUnavailable(#[source] BoxError),
    /// The server is shutting down: the bytes received so far were kept.
    #[error("server is shutting down; resume the upload later")]
    ShuttingDown,
    /// No body bytes arrived within the idle timeout: those received were kept.
    #[error("timeout while reading request body")]
    BodyIdleTimeout,
    /// The body arrived more slowly than the server's minimum rate: the
    /// bytes received were kept.
    #[error("request body arrived too slowly; resume the upload")]
    BodyTooSlow,
    /// A final upload lists more partials than the server allows.
    #[error("a final upload may list at most {max} partial uploads")]
    TooManyPartials {
        /// The server's maximum.
        max: usize,
    },
    /// A final upload lists one partial more often than the server allows.
    #[error("partial upload {reference:?} is listed more than {max} times")]
    PartialRepeated {
        /// The reference as received.
        reference: String,
        /// The server's maximum.
        max: usize,
    },
    /// An upload with the chosen id already exists (an id chosen by a hook).
    #[error("an upload with this id already exists")]
    UploadExists,
    /// The storage is full; retry once space was freed.
    #[error("storage is full; retry later")]
    StorageFull(#[source] StoreError),
    /// The storage cannot be reached now; retry later.
    #[error("storage is unavailable; retry later")]
    StorageUnavailable(#[source] StoreError),
    /// The store failed.
    #[error("internal storage error")]
    Storage(#[source] StoreError),
    /// The server could not make an upload id.
    #[error("could not generate an upload id")]
    IdGeneration(#[source] BoxError),
    /// An application hook refused the request.
    #[error("{message}")]
    Rejected {
        /// The status the hook chose (4xx or 5xx).
        status: StatusCode,
        /// The hook's message.
        message: String,
    },
}

impl TusError {
    /// The HTTP status this error is answered with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedVersion => StatusCode::PRECONDITION_FAILED,
            Self::MissingHeader(_)
            | Self::InvalidHeader(..)
            | Self::UnsupportedChecksumAlgorithm
            | Self::MissingUploadLength
            | Self::AmbiguousUploadLength
            | Self::LengthAlreadySet
            | Self::LengthBelowOffset { .. }
            | Self::InvalidContentLength
            | Self::ChecksumTrailerMissing
            | Self::InvalidConcatReference(_)
            | Self::ConcatPartialNotFound(_)
            | Self::ConcatNotPartial(_)
            | Self::ConcatPartialUnfinished(_)
            | Self::BodyInterrupted
            | Self::TooManyPartials { .. }
            | Self::PartialRepeated { .. } => StatusCode::BAD_REQUEST,
            Self::ShuttingDown | Self::StorageUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::UploadExists => StatusCode::CONFLICT,
            Self::ChecksumMismatch => StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST),
            Self::Gone => StatusCode::GONE,
            Self::InvalidContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MaxSizeExceeded { .. } | Self::UploadSizeExceeded => StatusCode::PAYLOAD_TOO_LARGE,
            Self::MismatchedOffset { .. } | Self::UploadNotComplete | Self::InterruptedByRequest => {
                StatusCode::CONFLICT
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::ExtensionNotSupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::ModifyFinal | Self::OriginNotAllowed => StatusCode::FORBIDDEN,
            Self::Locked | Self::LockUnavailable(_) => StatusCode::LOCKED,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Storage(_) | Self::IdGeneration(_) | Self::BodyIdleTimeout | Self::BodyTooSlow => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Rejected { status, .. } => *status,
        }
    }

    /// The status answered to a request of `method`: [`TusError::status`],
    /// except that a HEAD meeting a temporary server-side failure (storage
    /// unavailable) answers `423 Locked`. Clients keep an upload whose HEAD
    /// answered 423 and retry, while tus-js-client starts the upload anew
    /// from zero after any other failed HEAD; the code still names the cause.
    pub fn status_for(&self, method: &http::Method) -> StatusCode {
        let status = self.status();
        if *method == http::Method::HEAD && self.is_transient() && status.is_server_error() {
            return StatusCode::LOCKED;
        }
        status
    }

    /// A stable machine-readable code, compatible with tusd's where tusd has one.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedVersion => "ERR_UNSUPPORTED_VERSION",
            Self::MissingHeader(kind) => kind.missing_code(),
            Self::InvalidHeader(kind, _) => kind.invalid_code(),
            Self::UnsupportedChecksumAlgorithm => "ERR_UNSUPPORTED_CHECKSUM_ALGORITHM",
            Self::ChecksumMismatch => "ERR_CHECKSUM_MISMATCH",
            Self::ChecksumTrailerMissing => "ERR_MISSING_CHECKSUM_TRAILER",
            Self::Gone => "ERR_UPLOAD_EXPIRED",
            Self::InvalidConcatReference(_) => "ERR_INVALID_CONCAT_REFERENCE",
            Self::ConcatPartialNotFound(_) => "ERR_CONCAT_PARTIAL_NOT_FOUND",
            Self::ConcatNotPartial(_) => "ERR_CONCAT_NOT_PARTIAL",
            Self::ConcatPartialUnfinished(_) => "ERR_UPLOAD_NOT_FINISHED",
            Self::InvalidContentType => "ERR_INVALID_CONTENT_TYPE",
            Self::MissingUploadLength => "ERR_MISSING_UPLOAD_LENGTH",
            Self::AmbiguousUploadLength => "ERR_AMBIGUOUS_UPLOAD_LENGTH",
            Self::MaxSizeExceeded { .. } => "ERR_MAX_SIZE_EXCEEDED",
            Self::UploadSizeExceeded => "ERR_UPLOAD_SIZE_EXCEEDED",
            Self::MismatchedOffset { .. } => "ERR_MISMATCHED_OFFSET",
            Self::LengthAlreadySet => "ERR_INVALID_UPLOAD_LENGTH_CHANGE",
            Self::LengthBelowOffset { .. } => "ERR_UPLOAD_LENGTH_BELOW_OFFSET",
            Self::NotFound => "ERR_UPLOAD_NOT_FOUND",
            Self::ExtensionNotSupported(_) => "ERR_EXTENSION_NOT_SUPPORTED",
            Self::ModifyFinal => "ERR_MODIFY_FINAL",
            Self::Locked => "ERR_UPLOAD_LOCKED",
            Self::LockUnavailable(_) => "ERR_LOCK_UNAVAILABLE",
            Self::UploadNotComplete => "ERR_UPLOAD_NOT_COMPLETE",
            Self::RangeNotSatisfiable { .. } => "ERR_RANGE_NOT_SATISFIABLE",
            Self::MethodNotAllowed => "ERR_METHOD_NOT_ALLOWED",
            Self::OriginNotAllowed => "ERR_ORIGIN_NOT_ALLOWED",
            Self::InvalidContentLength => "ERR_INVALID_CONTENT_LENGTH",
            Self::BodyInterrupted | Self::InterruptedByRequest => "ERR_UPLOAD_INTERRUPTED",
            Self::ShuttingDown => "ERR_SERVER_SHUTTING_DOWN",
            Self::BodyIdleTimeout => "ERR_READ_TIMEOUT",
            Self::BodyTooSlow => "ERR_BODY_TOO_SLOW",
            Self::TooManyPartials { .. } => "ERR_TOO_MANY_PARTIALS",
            Self::PartialRepeated { .. } => "ERR_PARTIAL_REPEATED",
            Self::UploadExists => "ERR_UPLOAD_EXISTS",
            Self::StorageFull(_) => "ERR_STORAGE_FULL",
            Self::StorageUnavailable(_) => "ERR_STORAGE_UNAVAILABLE",
            Self::Storage(_) => "ERR_INTERNAL_SERVER_ERROR",
            Self::IdGeneration(_) => "ERR_INTERNAL_SERVER_ERROR",
            Self::Rejected { .. } => "ERR_REJECTED",
        }
    }

    /// Converts a header decoding failure into the matching error.
    pub fn from_header((kind, error): (HeaderKind, HeaderError)) -> Self {
        if kind == HeaderKind::UploadChecksum && matches!(error, HeaderError::NotAllowed(_)) {
            return Self::UnsupportedChecksumAlgorithm;
        }
        if kind == HeaderKind::TusResumable {
            return Self::UnsupportedVersion;
        }
        Self::InvalidHeader(kind, error)
    }
}

impl TusError {
    /// Whether a client should retry the same request later (the server or
    /// its storage is temporarily unable to serve it).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Locked
                | Self::LockUnavailable(_)
                | Self::ShuttingDown
                | Self::StorageFull(_)
                | Self::StorageUnavailable(_)
        )
    }
}

/// Maps a store error met while serving a request. An offset mismatch is
/// not converted here: only a writer opened at the client's offset can
/// meet one, and its caller knows that offset (see [`TusError::MismatchedOffset`]).
impl From<StoreError> for TusError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Busy => Self::Locked,
            StoreError::LengthAlreadyKnown => Self::LengthAlreadySet,
            StoreError::AlreadyExists => Self::UploadExists,
            error @ StoreError::Full(_) => Self::StorageFull(error),
            error @ StoreError::Unavailable(_) => Self::StorageUnavailable(error),
            // A backend that did not classify its error: a full disk or quota
            // anywhere in the cause chain is still a full store.
            other if storage_full(&other) => Self::StorageFull(other),
            other => Self::Storage(other),
        }
    }
}

/// Whether a full disk or quota (`StorageFull` or `QuotaExceeded`) is
/// anywhere in `error`'s cause chain.
fn storage_full(error: &StoreError) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    // Bounded: error chains are short; a cycle cannot be built from owned sources.
    for _ in 0..16 {
        let Some(current) = cause else { return false };
        if let Some(io) = current.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        {
            return true;
        }
        cause = current.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_codes_are_upper_snake() {
        let errors = [
            TusError::UnsupportedVersion,
            TusError::MissingHeader(HeaderKind::UploadOffset),
            TusError::InvalidHeader(HeaderKind::UploadLength, HeaderError::NotAnInteger),
            TusError::InvalidContentType,
            TusError::MissingUploadLength,
            TusError::AmbiguousUploadLength,
            TusError::MaxSizeExceeded { max: 1 },
            TusError::MismatchedOffset {
                expected: 1,
                provided: 2,
            },
            TusError::NotFound,
            TusError::ModifyFinal,
        ];
        for error in errors {
            assert!(error.status().is_client_error(), "{error:?}");
            assert!(error.code().starts_with("ERR_"));
            assert!(error.code().bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
            assert!(!error.to_string().is_empty());
        }
        assert_eq!(TusError::UnsupportedVersion.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(
            TusError::InvalidContentType.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        assert_eq!(
            TusError::MaxSizeExceeded { max: 1 }.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
    }

    #[test]
    fn a_stolen_request_is_409_and_a_lost_locker_423() {
        let stolen = TusError::InterruptedByRequest;
        assert_eq!(stolen.status(), StatusCode::CONFLICT);
        assert_eq!(stolen.code(), "ERR_UPLOAD_INTERRUPTED", "tusd's code is kept");
        let unavailable = TusError::LockUnavailable("connection refused".into());
        assert_eq!(unavailable.status(), StatusCode::LOCKED);
        assert_eq!(unavailable.code(), "ERR_LOCK_UNAVAILABLE");
        assert!(unavailable.is_transient());
        // A client that went away mid-body never reads its answer: tusd's 400 stays.
        assert_eq!(TusError::BodyInterrupted.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_full_disk_is_507_wherever_the_backend_put_it() {
        for kind in [std::io::ErrorKind::StorageFull, std::io::ErrorKind::QuotaExceeded] {
            let classified = TusError::from(StoreError::io(std::io::Error::from(kind)));
            let wrapped = TusError::from(StoreError::backend(std::io::Error::from(kind)));
            for error in [classified, wrapped] {
                assert_eq!(error.status(), StatusCode::INSUFFICIENT_STORAGE, "{kind:?}");
                assert_eq!(error.code(), "ERR_STORAGE_FULL");
            }
        }
        let other = TusError::from(StoreError::backend(std::io::Error::other("disk on fire")));
        assert_eq!(other.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_head_meeting_a_storage_outage_is_423_so_clients_keep_the_upload() {
        let outage = TusError::from(StoreError::Unavailable("connection refused".into()));
        assert_eq!(outage.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outage.status_for(&http::Method::PATCH), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(outage.status_for(&http::Method::HEAD), StatusCode::LOCKED);
        assert_eq!(outage.code(), "ERR_STORAGE_UNAVAILABLE");
        let broken = TusError::from(StoreError::backend("corrupt"));
        assert_eq!(
            broken.status_for(&http::Method::HEAD),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
