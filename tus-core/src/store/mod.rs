//! The storage contract: the [`Store`] trait, the [`UploadWriter`] a body is
//! pushed into, the optional capabilities a store may offer, and the
//! semantic errors every backend converts into.
//!
//! A store speaks uploads, not HTTP: ids, offsets, bytes. The protocol
//! decisions are made before a store is called, with already-validated
//! values; a trait is no I/O, so it lives in this pure crate.
//!
//! The required part is small (create, info, writer, read). What a store
//! can do beyond it is announced *by type*: [`Store::termination`],
//! [`Store::deferred_length`], [`Store::concatenation`] and
//! [`Store::listing`] return `None` unless the store implements the
//! capability, and the advertised `Tus-Extension` list follows from them,
//! so a store can never advertise what it cannot do.

mod capability;
mod error;
mod memory;
#[cfg(feature = "serde")]
pub mod record;
mod writer;

pub use capability::{Concatenate, DeferLength, Listing, Terminate};
pub use error::{BoxError, StoreError};
pub use memory::MemoryStore;
pub use writer::{Durability, UploadWriter, Writer};

use std::io;
use std::ops::Range;
use std::time::SystemTime;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::upload::{NewUpload, UploadId, UploadInfo};

/// Stored bytes flowing out of a store (a download).
pub type DataStream = BoxStream<'static, io::Result<Bytes>>;

/// A storage backend for uploads. Object-safe: a server holds `Arc<dyn Store>`.
///
/// # Contract
/// Implementors MUST guarantee:
/// - **Durable offsets.** The offset [`Store::info`] reports is data that
///   [`Store::read`] returns, also after the process is killed and the store
///   reopened over the same storage.
/// - **Atomic writer open.** [`Store::writer`] fails with
///   [`StoreError::OffsetMismatch`] when `offset` is not the upload's offset
///   at the moment it opens, and with [`StoreError::Busy`] while another
///   writer on the same upload is open (in this process or, for stores shared
///   between processes, in another). A stale offset never writes a byte.
/// - **Both durabilities.** A [`Durability::KeepPrefix`] writer keeps every
///   byte it was sent once [`UploadWriter::commit`] returns; a
///   [`Durability::AllOrNothing`] writer keeps them only on commit and leaves
///   the upload exactly as it was on [`UploadWriter::abort`], on drop, and
///   if the process dies before the commit returns.
/// - **Streaming.** Memory use does not grow with the size of a body or an
///   upload: a writer applies backpressure through its `Sink` readiness.
/// - **Injected time.** `updated_at` is the `now` given to the write that
///   last changed the data (or `created_at`), never the backend's own clock.
/// - **Unique ids.** [`Store::create`] fails with
///   [`StoreError::AlreadyExists`] if the id exists, atomically (no
///   check-then-write race between two creators).
pub trait Store: Send + Sync + 'static {
    /// Creates an empty upload ([`StoreError::AlreadyExists`] if the id exists).
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>>;

    /// The upload's current state; [`StoreError::NotFound`] if there is none.
    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>>;

    /// Opens a writer appending at `offset` (see the contract). `now` stamps
    /// the upload's `updated_at` when the writer commits bytes.
    ///
    /// The caller never sends past the upload's known size.
    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>>;

    /// Creates an upload, like [`Store::create`], and opens a writer at
    /// offset 0 on it, like [`Store::writer`] (a creation with a body).
    ///
    /// The outer error is the creation's: the upload does not exist. Once
    /// it exists, opening the writer can still fail (the inner error); the
    /// upload then stays, empty. A store may do both in one step (the
    /// filesystem store opens and locks the data file once, on one trip to
    /// its blocking pool); the default calls the two in turn.
    fn create_with_writer(
        &self,
        upload: NewUpload,
        durability: Durability,
    ) -> BoxFuture<'_, Result<(UploadInfo, Result<Writer, StoreError>), StoreError>> {
        Box::pin(async move {
            let now = upload.created_at;
            let info = self.create(upload).await?;
            let writer = self.writer(&info.id, 0, durability, now).await;
            Ok((info, writer))
        })
    }

    /// Streams the bytes in `range` of a complete upload. The range lies
    /// within the upload's offset.
    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>>;

    /// Removing uploads (the termination extension and expiry).
    fn termination(&self) -> Option<&dyn Terminate> {
        None
    }

    /// Declaring a deferred length (the creation-defer-length extension).
    fn deferred_length(&self) -> Option<&dyn DeferLength> {
        None
    }

    /// Partial and final uploads (the concatenation extension).
    fn concatenation(&self) -> Option<&dyn Concatenate> {
        None
    }

    /// Listing every upload (the expiry reaper).
    fn listing(&self) -> Option<&dyn Listing> {
        None
    }
}
