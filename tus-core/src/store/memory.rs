//! [`MemoryStore`]: every capability, in process memory, for tests and
//! examples.

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{Sink, StreamExt as _};

use super::{
    Concatenate, DataStream, DeferLength, Durability, Listing, Store, StoreError, Terminate, UploadWriter, Writer,
};
use crate::upload::{NewUpload, UploadId, UploadInfo, UploadSize};

/// An in-memory store for tests and examples. Data is lost when the last
/// clone is dropped; clones share the uploads (a clone "reopens" the store).
///
/// Offers every capability, so it serves every extension.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    uploads: HashMap<UploadId, Entry>,
    /// Partial id → the finals waiting for it.
    watchers: HashMap<UploadId, BTreeSet<UploadId>>,
}

#[derive(Debug)]
struct Entry {
    info: UploadInfo,
    data: BytesMut,
    writing: bool,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("uploads", &self.state().uploads.len())
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn with_entry<T>(
        &self,
        id: &UploadId,
        f: impl FnOnce(&mut Entry) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.state();
        let entry = state.uploads.get_mut(id).ok_or(StoreError::NotFound)?;
        f(entry)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every critical section is a few non-panicking updates: a poisoned map
    // is still consistent.
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Store for MemoryStore {
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(async move {
            let mut state = self.state();
            if state.uploads.contains_key(&upload.id) {
                return Err(StoreError::AlreadyExists);
            }
            let info = UploadInfo::new(upload);
            state.uploads.insert(
                info.id.clone(),
                Entry {
                    info: info.clone(),
                    data: BytesMut::new(),
                    writing: false,
                },
            );
            Ok(info)
        })
    }

    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        Box::pin(async move { self.with_entry(id, |entry| Ok(entry.info.clone())) })
    }

    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>> {
        Box::pin(async move {
            self.with_entry(id, |entry| {
                if entry.writing {
                    return Err(StoreError::Busy);
                }
                if entry.info.offset != offset {
                    return Err(StoreError::OffsetMismatch {
                        current: entry.info.offset,
                    });
                }
                entry.writing = true;
                Ok(())
            })?;
            let writer: Writer = Box::pin(MemoryWriter {
                state: Arc::clone(&self.state),
                id: id.clone(),
                durability,
                now,
                staged: BytesMut::new(),
                open: true,
            });
            Ok(writer)
        })
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(async move {
            let bytes = self.with_entry(id, |entry| slice(&entry.data, &range))?;
            let stream: DataStream = futures::stream::iter([Ok(bytes)]).boxed();
            Ok(stream)
        })
    }

    fn termination(&self) -> Option<&dyn Terminate> {
        Some(self)
    }

    fn deferred_length(&self) -> Option<&dyn DeferLength> {
        Some(self)
    }

    fn concatenation(&self) -> Option<&dyn Concatenate> {
        Some(self)
    }

    fn listing(&self) -> Option<&dyn Listing> {
        Some(self)
    }
}

impl Terminate for MemoryStore {
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let mut state = self.state();
            state.watchers.remove(id);
            state.uploads.remove(id).map(|_| ()).ok_or(StoreError::NotFound)
        })
    }
}

impl DeferLength for MemoryStore {
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.with_entry(id, |entry| match entry.info.size {
                UploadSize::Known(_) => Err(StoreError::LengthAlreadyKnown),
                UploadSize::Deferred => {
                    entry.info.size = UploadSize::Known(length);
                    Ok(())
                }
            })
        })
    }
}

impl Concatenate for MemoryStore {
    fn concatenate<'a>(
        &'a self,
        id: &'a UploadId,
        partials: &'a [UploadId],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut state = self.state();
            let mut joined = BytesMut::new();
            for partial in partials {
                let entry = state.uploads.get(partial).ok_or(StoreError::NotFound)?;
                joined.extend_from_slice(&entry.data);
            }
            let entry = state.uploads.get_mut(id).ok_or(StoreError::NotFound)?;
            entry.info.offset = joined.len() as u64;
            entry.info.updated_at = now;
            entry.data = joined;
            Ok(entry.info.offset)
        })
    }

    fn watch<'a>(&'a self, partial: &'a UploadId, final_id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.state()
                .watchers
                .entry(partial.clone())
                .or_default()
                .insert(final_id.clone());
            Ok(())
        })
    }

    fn waiting_finals<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<Vec<UploadId>, StoreError>> {
        Box::pin(async move {
            let state = self.state();
            Ok(state
                .watchers
                .get(partial)
                .map(|finals| finals.iter().cloned().collect())
                .unwrap_or_default())
        })
    }

    fn unwatch<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            self.state().watchers.remove(partial);
            Ok(())
        })
    }
}

impl Listing for MemoryStore {
    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        let ids: Vec<Result<UploadId, StoreError>> = self.state().uploads.keys().cloned().map(Ok).collect();
        futures::stream::iter(ids).boxed()
    }
}

/// A write to one upload: [`Durability::KeepPrefix`] appends each chunk at
/// once, [`Durability::AllOrNothing`] keeps them aside until the commit.
struct MemoryWriter {
    state: Arc<Mutex<State>>,
    id: UploadId,
    durability: Durability,
    now: SystemTime,
    staged: BytesMut,
    open: bool,
}

impl MemoryWriter {
    /// Appends `bytes` to the upload and returns its new offset.
    fn append(&self, bytes: &[u8]) -> Result<u64, StoreError> {
        let mut state = lock(&self.state);
        let entry = state.uploads.get_mut(&self.id).ok_or(StoreError::NotFound)?;
        if !bytes.is_empty() {
            entry.data.extend_from_slice(bytes);
            entry.info.offset += bytes.len() as u64;
            entry.info.updated_at = self.now;
        }
        Ok(entry.info.offset)
    }

    /// Releases the upload and returns its offset.
    fn close(&mut self) -> Result<u64, StoreError> {
        self.open = false;
        let mut state = lock(&self.state);
        let entry = state.uploads.get_mut(&self.id).ok_or(StoreError::NotFound)?;
        entry.writing = false;
        Ok(entry.info.offset)
    }
}

impl Drop for MemoryWriter {
    fn drop(&mut self) {
        if self.open {
            let _ = self.close();
        }
    }
}

impl Sink<Bytes> for MemoryWriter {
    type Error = StoreError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, chunk: Bytes) -> Result<(), StoreError> {
        let this = self.get_mut();
        match this.durability {
            Durability::KeepPrefix => this.append(&chunk).map(|_| ()),
            Durability::AllOrNothing => {
                this.staged.extend_from_slice(&chunk);
                Ok(())
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        Poll::Ready(Ok(()))
    }
}

impl UploadWriter for MemoryWriter {
    fn commit(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let mut this = Pin::into_inner(self);
        Box::pin(async move {
            let staged = std::mem::take(&mut this.staged);
            let appended = this.append(&staged);
            let closed = this.close();
            appended.and(closed)
        })
    }

    fn abort(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let mut this = Pin::into_inner(self);
        Box::pin(async move { this.close() })
    }
}

fn slice(data: &BytesMut, range: &Range<u64>) -> Result<Bytes, StoreError> {
    match (usize::try_from(range.start), usize::try_from(range.end)) {
        (Ok(start), Ok(end)) if start <= end && end <= data.len() => Ok(Bytes::copy_from_slice(&data[start..end])),
        _ => Err(StoreError::backend(format!(
            "range {range:?} outside the {} stored bytes",
            data.len()
        ))),
    }
}
