/// A boxed error from a storage backend or a request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a store, as a semantic kind every backend converts into.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No upload has this id.
    #[error("upload not found")]
    NotFound,
    /// An append was opened at an offset that is not the upload's offset.
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
    /// The store cannot do this.
    #[error("store does not support {0}")]
    NotSupported(&'static str),
    /// The backend failed (I/O, network, corrupt bookkeeping...).
    #[error("storage backend failed")]
    Backend(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn backend(error: impl Into<BoxError>) -> Self {
        Self::Backend(error.into())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(error: std::io::Error) -> Self {
        if error.kind() == std::io::ErrorKind::NotFound {
            Self::NotFound
        } else {
            Self::Backend(Box::new(error))
        }
    }
}
