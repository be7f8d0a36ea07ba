use std::collections::HashMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use futures::future::BoxFuture;

use super::{Capabilities, DataStream, NewUpload, Store, StoreError, UploadId, UploadInfo, UploadSize};

/// An in-memory store for tests and examples. Data is lost when it is dropped.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    uploads: Arc<Mutex<HashMap<UploadId, Entry>>>,
}

#[derive(Debug)]
struct Entry {
    info: UploadInfo,
    data: BytesMut,
    writing: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
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
            let _guard = WriterGuard { store: self, id };
            while let Some(Ok(chunk)) = data.next().await {
                self.with_entry(id, |entry| {
                    entry.data.extend_from_slice(&chunk);
                    entry.info.offset += chunk.len() as u64;
                    Ok(())
                })?;
            }
            self.with_entry(id, |entry| Ok(entry.info.offset))
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
            let bytes = self.with_entry(id, |entry| {
                let (start, end) = (usize::try_from(range.start), usize::try_from(range.end));
                match (start, end) {
                    (Ok(start), Ok(end)) if start <= end && end <= entry.data.len() => {
                        Ok(Bytes::copy_from_slice(&entry.data[start..end]))
                    }
                    _ => Err(StoreError::backend(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "range outside stored data",
                    ))),
                }
            })?;
            let stream: DataStream = futures::stream::iter([Ok(bytes)]).boxed();
            Ok(stream)
        })
    }
}
