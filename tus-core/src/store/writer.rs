//! Writers: a request body is *pushed* into a store, chunk by chunk.
//!
//! ```text
//!   store.writer(id, offset, durability, now) ──▶ Writer (a Sink<Bytes>)
//!        feed / send chunks (backpressure: poll_ready) ── poll_flush when the body waits
//!        ──▶ commit() ─▶ new offset          (keep what was sent)
//!        ──▶ abort()  ─▶ offset afterwards   (AllOrNothing: as before the writer opened)
//! ```
//!
//! The writer is a [`Sink`] so the server pushes each chunk without
//! allocating, and the store decides how to batch: `start_send` may only
//! queue a chunk; `poll_flush` is called whenever the body has no chunk
//! ready, so a store that batches writes still writes a slow client's bytes
//! at once. Modelled on object_store's `MultipartUpload`.

use std::pin::Pin;

use bytes::Bytes;
use futures::Sink;
use futures::future::BoxFuture;

use super::StoreError;

/// How a writer keeps the bytes it was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Keep every byte sent, also when the body ends early (the client went
    /// away): a plain PATCH, resumable from wherever it stopped.
    KeepPrefix,
    /// Keep the bytes only if the writer is committed; an abort, a drop or a
    /// crash before the commit returns leaves the upload as it was. For
    /// bodies that are verified (checksums) only once they have ended.
    AllOrNothing,
}

/// An open write to one upload, from [`Store::writer`](super::Store::writer).
///
/// Send chunks with the [`Sink`] methods (`SinkExt::feed`/`send`), then end
/// with exactly one of [`UploadWriter::commit`] or [`UploadWriter::abort`].
/// Dropping a writer without either is an abort. The writer holds the
/// upload's store-level write lock until it ends.
///
/// After a `Sink` method returned an error, only `abort` may be called.
pub trait UploadWriter: Sink<Bytes, Error = StoreError> + Send {
    /// Makes every byte sent durable (per the store's sync policy), ends the
    /// write and returns the upload's new offset.
    fn commit(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>>;

    /// Ends the write without committing: with [`Durability::AllOrNothing`]
    /// nothing sent is kept; with [`Durability::KeepPrefix`] the bytes already
    /// written may be kept. Returns the upload's offset afterwards.
    fn abort(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>>;
}

/// An open writer, as stores hand it out.
pub type Writer = Pin<Box<dyn UploadWriter>>;
