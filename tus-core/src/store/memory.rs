use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use super::{Capabilities, DataStream, NewUpload, Store, StoreError, UploadId, UploadInfo, UploadSize, Verdict};
use crate::clock::{Clock, SystemClock};

/// An in-memory store for tests and examples. Data is lost when it is dropped.
///
/// Supports every capability, so it serves every extension.
#[derive(Clone)]
pub struct MemoryStore {
    uploads: Arc<Mutex<HashMap<UploadId, Entry>>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("uploads", &self.uploads().len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug)]
struct Entry {
    info: UploadInfo,
    data: BytesMut,
    writing: bool,
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        Self::with_clock(Arc::new(SystemClock))
    }

    /// An empty store that stamps writes with `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self {
            uploads: Arc::default(),
            clock,
        }
    }

    fn uploads(&self) -> MutexGuard<'_, HashMap<UploadId, Entry>> {
        // A poisoned lock only means a panic elsewhere; the map is still consistent
        // because every critical section below is a single, non-panicking update.
        self.uploads.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_entry<T>(
        &self,
        id: &UploadId,
        f: impl FnOnce(&mut Entry) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut uploads = self.uploads();
        let entry = uploads.get_mut(id).ok_or(StoreError::NotFound)?;
        f(entry)
    }

    /// Marks the upload as being written, after checking the offset.
    fn open_writer<'a>(&'a self, id: &'a UploadId, offset: u64) -> Result<WriterGuard<'a>, StoreError> {
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
        Ok(WriterGuard { store: self, id })
    }

    fn push(&self, id: &UploadId, chunk: &[u8]) -> Result<u64, StoreError> {
        let now = self.clock.now();
        self.with_entry(id, |entry| {
            entry.data.extend_from_slice(chunk);
            entry.info.offset += chunk.len() as u64;
            entry.info.updated_at = now;
            Ok(entry.info.offset)
        })
    }
}

/// Clears the `writing` flag when an append ends, however it ends.
struct WriterGuard<'a> {
    store: &'a MemoryStore,
    id: &'a UploadId,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if let Some(entry) = self.store.uploads().get_mut(self.id) {
            entry.writing = false;
        }
    }
}

impl Store for MemoryStore {
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
            .with_termination()
            .with_deferred_length()
            .with_concatenation()
            .with_staged_append()
            .with_listing()
    }

    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(async move {
            let mut uploads = self.uploads();
            if uploads.contains_key(&upload.id) {
                return Err(StoreError::backend(format!("upload {} already exists", upload.id)));
            }
            let info = UploadInfo::new(upload);
            uploads.insert(
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

    fn append<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        mut data: DataStream,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let _guard = self.open_writer(id, offset)?;
            let mut current = offset;
            while let Some(Ok(chunk)) = data.next().await {
                current = self.push(id, &chunk)?;
            }
            Ok(current)
        })
    }

    fn append_staged<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        mut data: DataStream,
        verdict: Verdict,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let _guard = self.open_writer(id, offset)?;
            let mut staged = BytesMut::new();
            while let Some(item) = data.next().await {
                match item {
                    Ok(chunk) => staged.extend_from_slice(&chunk),
                    Err(_) => return Ok(offset),
                }
            }
            if !verdict() {
                return Ok(offset);
            }
            self.push(id, &staged)
        })
    }

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

    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move { self.uploads().remove(id).map(|_| ()).ok_or(StoreError::NotFound) })
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(async move {
            let bytes = self.with_entry(id, |entry| slice(&entry.data, &range))?;
            let stream: DataStream = futures::stream::iter([Ok(bytes)]).boxed();
            Ok(stream)
        })
    }

    fn concatenate<'a>(&'a self, id: &'a UploadId, partials: &'a [UploadId]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let mut joined = BytesMut::new();
            {
                let uploads = self.uploads();
                for partial in partials {
                    let entry = uploads.get(partial).ok_or(StoreError::NotFound)?;
                    joined.extend_from_slice(&entry.data);
                }
            }
            let now = self.clock.now();
            self.with_entry(id, |entry| {
                entry.info.offset = joined.len() as u64;
                entry.info.updated_at = now;
                entry.data = joined;
                Ok(entry.info.offset)
            })
        })
    }

    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        let ids: Vec<Result<UploadId, StoreError>> = self.uploads().keys().cloned().map(Ok).collect();
        futures::stream::iter(ids).boxed()
    }
}

fn slice(data: &BytesMut, range: &Range<u64>) -> Result<Bytes, StoreError> {
    match (usize::try_from(range.start), usize::try_from(range.end)) {
        (Ok(start), Ok(end)) if start <= end && end <= data.len() => Ok(Bytes::copy_from_slice(&data[start..end])),
        _ => Err(StoreError::backend(io::Error::new(
            io::ErrorKind::InvalidInput,
            "range outside stored data",
        ))),
    }
}
