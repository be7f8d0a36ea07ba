//! Running blocking file I/O off the async executor.

use std::io;

use tus_core::store::StoreError;

/// Runs `work` on Tokio's blocking thread pool.
///
/// Dropping the returned future does not stop `work`: it runs to the end and
/// drops whatever it owns (a locked file is unlocked then). Owned values go
/// in and come back out through the closure, so nothing is borrowed across
/// the thread boundary.
pub(crate) async fn run<T, F>(work: F) -> Result<T, StoreError>
where
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| StoreError::backend(io::Error::other(error)))?
}
