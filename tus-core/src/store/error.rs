/// A boxed error from a storage backend.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a store, as a semantic kind every backend converts
/// into. A server maps each kind to one status, in one place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No upload has this id.
    #[error("upload not found")]
    NotFound,
    /// An upload with this id already exists.
    #[error("an upload with this id already exists")]
    AlreadyExists,
    /// A writer was opened at an offset that is not the upload's offset.
    #[error("upload is at offset {current}")]
    OffsetMismatch {
        /// The upload's real offset.
        current: u64,
    },
    /// Another writer holds the upload.
    #[error("upload is being written by another request")]
    Busy,
    /// The upload's length was already known.
    #[error("upload length is already known")]
    LengthAlreadyKnown,
    /// The storage is out of space; freeing space lets the request succeed later.
    #[error("storage is full")]
    Full(#[source] BoxError),
    /// The backend cannot be reached now (network, service down, timeout); a
    /// later retry may succeed.
    #[error("storage backend is unavailable")]
    Unavailable(#[source] BoxError),
    /// The backend failed otherwise (I/O, corrupt bookkeeping...).
    #[error("storage backend failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }

    /// Classifies an I/O error from a backend: out of space is
    /// [`StoreError::Full`], timeouts and refused connections are
    /// [`StoreError::Unavailable`], anything else [`StoreError::Backend`].
    /// A missing file is *not* taken to mean a missing upload: stores decide
    /// that themselves.
    pub fn io(error: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match error.kind() {
            ErrorKind::StorageFull | ErrorKind::QuotaExceeded => Self::Full(Box::new(error)),
            ErrorKind::TimedOut
            | ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable => Self::Unavailable(Box::new(error)),
            _ => Self::Backend(Box::new(error)),
        }
    }

    /// Whether a later retry of the same request may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Busy | Self::Full(_) | Self::Unavailable(_))
    }
}

#[cfg(test)]
mod tests {
    use std::io;

    use super::*;

    #[test]
    fn io_errors_are_classified() {
        let cases = [
            (io::ErrorKind::StorageFull, "full"),
            (io::ErrorKind::TimedOut, "unavailable"),
            (io::ErrorKind::ConnectionRefused, "unavailable"),
            (io::ErrorKind::NotFound, "backend"),
            (io::ErrorKind::PermissionDenied, "backend"),
        ];
        for (kind, expected) in cases {
            let got = match StoreError::io(io::Error::from(kind)) {
                StoreError::Full(_) => "full",
                StoreError::Unavailable(_) => "unavailable",
                StoreError::Backend(_) => "backend",
                _ => "other",
            };
            assert_eq!(got, expected, "{kind:?}");
        }
    }
}
