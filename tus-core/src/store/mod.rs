//! The storage contract: the [`Store`] trait, what a store can do
//! ([`Capabilities`]), and its semantic errors.
//!
//! A store speaks uploads, not HTTP: ids, offsets, byte streams. The handler
//! in [`crate::server`] decides everything protocol-related and calls the
//! store with already-validated values.

mod capabilities;
mod error;
mod id;
mod info;
mod memory;

pub use capabilities::Capabilities;
pub use error::{BoxError, StoreError};
pub use id::{IdGenerator, InvalidUploadId, RandomIds, UploadId};
pub use info::{ConcatPart, NewUpload, UploadInfo, UploadKind, UploadSize};
pub use memory::MemoryStore;

use std::io;
use std::ops::Range;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

/// Decides, once the last byte of a staged append has arrived, whether to
/// keep it (`true`) or discard it (`false`).
pub type Verdict = Box<dyn FnOnce() -> bool + Send>;

/// A stream of bytes: a request body flowing into a store, or stored data
/// flowing out.
pub type DataStream = BoxStream<'static, io::Result<Bytes>>;

/// A storage backend for uploads. Object-safe: the handler holds `Arc<dyn Store>`.
///
/// # Contract
/// Implementors MUST guarantee:
/// - **Durable offsets.** The offset [`Store::info`] reports is data that
///   [`Store::read`] returns, also after the process is killed and the store
///   reopened over the same storage.
/// - **Atomic appends.** [`Store::append`] fails with
///   [`StoreError::OffsetMismatch`] when `offset` is not the upload's offset
///   at the moment the write opens, and with [`StoreError::Busy`] while another
///   append to the same upload runs. A stale offset never writes a byte.
/// - **Keep what arrived.** When the data stream yields an error (the client
///   went away), the store keeps every byte received before it and returns
///   `Ok` with the new offset.
/// - **Streaming.** Data is written as it arrives; memory use does not grow
///   with the size of a body or an upload.
pub trait Store: Send + Sync + 'static {
    /// What this store can do; `Tus-Extension` is derived from it.
    fn capabilities(&self) -> Capabilities;

    /// Creates an empty upload. Fails if the id exists.
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>>;

    /// The upload's current state; [`StoreError::NotFound`] if there is none.
    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>>;

    /// Appends `data` at `offset` and returns the new offset (see the contract).
    ///
    /// The caller has already capped `data` so it never goes past the upload's
    /// known size.
    fn append<'a>(&'a self, id: &'a UploadId, offset: u64, data: DataStream) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Sets the size of a deferred-length upload. Fails with
    /// [`StoreError::LengthAlreadyKnown`] if it is already known.
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Removes the upload and all its data.
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>>;

    /// Streams the bytes in `range`, which lies within the stored offset.
    ///
    /// The handler reads complete uploads only; a store that cannot read an
    /// unfinished one (S3 cannot read the parts of a multipart upload) may
    /// answer [`StoreError::NotSupported`] for it.
    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>>;

    /// Like [`Store::append`], but all or nothing: the bytes are kept only if
    /// `data` ends without an error and then `verdict()` returns `true`.
    /// Otherwise the upload is left exactly as it was, also if the process
    /// dies midway, and the old offset is returned. Used for checksums.
    ///
    /// Stores that implement it declare [`Capabilities::with_staged_append`].
    fn append_staged<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        data: DataStream,
        verdict: Verdict,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let _ = (id, offset, data, verdict);
        Box::pin(async { Err(StoreError::NotSupported("staged append")) })
    }

    /// Writes the data of `partials`, in order, as the whole data of upload
    /// `id` (a final upload whose size is already declared as their sum),
    /// replacing anything it held, and returns its new offset. The partials
    /// are complete and are left unchanged. Stores should let the operating
    /// system or the backend copy the bytes where it can.
    ///
    /// Stores that implement it declare [`Capabilities::with_concatenation`].
    fn concatenate<'a>(&'a self, id: &'a UploadId, partials: &'a [UploadId]) -> BoxFuture<'a, Result<u64, StoreError>> {
        let _ = (id, partials);
        Box::pin(async { Err(StoreError::NotSupported("concatenation")) })
    }

    /// Every upload's id, in no particular order.
    ///
    /// Stores that implement it declare [`Capabilities::with_listing`].
    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        Box::pin(futures::stream::once(async {
            Err(StoreError::NotSupported("listing"))
        }))
    }
}
