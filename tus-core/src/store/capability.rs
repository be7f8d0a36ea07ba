//! What a store can do beyond creating, writing and reading uploads. A
//! store offers a capability by returning `Some(self)` from the matching
//! [`Store`](super::Store) method.

use std::time::SystemTime;

use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::StoreError;
use crate::upload::UploadId;

/// Removing an upload and all its data.
pub trait Terminate: Send + Sync {
    /// Removes the upload; [`StoreError::NotFound`] if there is none. From
    /// the moment it returns, [`Store::info`](super::Store::info) answers
    /// `NotFound`, also after a crash.
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Setting the length of an upload created with a deferred length.
pub trait DeferLength: Send + Sync {
    /// Records `length` as the upload's size, once:
    /// [`StoreError::LengthAlreadyKnown`] if it is already known. If the
    /// offset already equals `length`, the upload is complete afterwards.
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Final uploads made of partial ones.
///
/// A final upload is created (with [`Store::create`](super::Store::create))
/// as soon as the client names its partials, possibly before they are
/// complete. The server records which finals wait for which partial with
/// [`Concatenate::watch`], so that whichever server instance completes the
/// partial can find them with [`Concatenate::waiting_finals`].
pub trait Concatenate: Send + Sync {
    /// Writes the data of `partials`, in order, as the whole data of upload
    /// `id` (a final upload whose size is their sum), replacing anything it
    /// held, and returns its new offset; `now` becomes its `updated_at`.
    /// The partials are complete and are left unchanged. Stores should let
    /// the operating system or the backend copy the bytes where they can.
    fn concatenate<'a>(
        &'a self,
        id: &'a UploadId,
        partials: &'a [UploadId],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>>;

    /// Records, durably, that final upload `final_id` waits for `partial`.
    fn watch<'a>(&'a self, partial: &'a UploadId, final_id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The finals recorded as waiting for `partial`, in no particular order.
    /// May name finals that were assembled or removed since.
    fn waiting_finals<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<Vec<UploadId>, StoreError>>;

    /// Forgets every final recorded as waiting for `partial` (all of them
    /// were assembled or removed). A final watching it from now on is
    /// recorded anew.
    fn unwatch<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>>;
}

/// Enumerating uploads.
pub trait Listing: Send + Sync {
    /// Every upload's id, in no particular order.
    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>>;
}
