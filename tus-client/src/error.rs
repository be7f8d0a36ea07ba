//! Every way an upload can end other than with a URL, sorted into the few
//! kinds a caller (or the CLI's exit code) acts on.

use std::io;

pub use tus_core::client::UploadError;

/// A boxed error from user code (a hook) or a dependency.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an upload did not finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server refused, or could not be reached for long enough
    /// (see [`UploadError`] and [`Error::kind`]).
    #[error(transparent)]
    Upload(#[from] UploadError),
    /// Reading the source failed (the file vanished, shrank, a read error).
    #[error("reading the source: {0}")]
    Source(#[source] io::Error),
    /// A stream source cannot go back to where the server's offset is.
    #[error("the server holds {server} bytes but the source can only resume from {buffered}: a stream cannot rewind")]
    CannotRewind {
        /// The server's offset.
        server: u64,
        /// The first byte the source still holds.
        buffered: u64,
    },
    /// The resume store failed.
    #[error("resume store: {0}")]
    Store(#[from] crate::resume::StoreError),
    /// The server's TLS certificate was not accepted (not retried).
    #[error("TLS: {0}")]
    Tls(String),
    /// The before-request hook failed.
    #[error("before-request hook: {0}")]
    Hook(#[source] BoxError),
    /// The upload was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// The client or upload was configured wrongly.
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// What kind of failure an [`Error`] is: what a caller acts on, and what
/// the CLI's exit code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The server refused the upload (a status that is not retried, a
    /// missing extension, a protocol violation).
    Refused,
    /// The server could not be reached, or kept failing, for longer than
    /// the retry budget; rerunning later continues the upload.
    RetriesExhausted,
    /// A local I/O error: the source or the resume store.
    LocalIo,
    /// The server's TLS certificate was not accepted.
    Tls,
    /// Cancelled by the caller (the state is saved).
    Cancelled,
    /// Bad configuration or a failing hook.
    Config,
}

impl Error {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Upload(UploadError::RetriesExhausted { .. }) => ErrorKind::RetriesExhausted,
            Self::Upload(_) => ErrorKind::Refused,
            Self::Source(_) | Self::CannotRewind { .. } | Self::Store(_) => ErrorKind::LocalIo,
            Self::Tls(_) => ErrorKind::Tls,
            Self::Cancelled => ErrorKind::Cancelled,
            Self::Hook(_) | Self::Config(_) => ErrorKind::Config,
        }
    }
}
