//! The streaming append: a body cut into parts as it arrives, parts uploaded
//! while the next one fills, and one commit at the end.
//!
//! ```text
//!  body ──▶ [ buffer: incomplete part + new bytes ] ──full──▶ UploadPart (≤ in_flight at once, spawned)
//!              │                                                  │
//!              └── body ends ──▶ wait for every part ──▶ commit: PUT {id}.part (tail, part count)
//!                                                        or, size reached: last part + CompleteMultipartUpload
//! ```
//!
//! Every buffer is leased from the store's [`Budget`], so memory is at most
//! `(in_flight + 1) x part_size` per upload and `max_buffered_parts x
//! part_size` in all, whatever the size of the body or the upload. Every
//! part but the last has exactly the planned part size.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt as _;
use std::time::SystemTime;
use tokio::task::JoinSet;

use futures::stream::BoxStream;
use tus_core::store::StoreError;
use tus_core::store::record::timestamp;
use tus_core::upload::UploadId;

use crate::bucket::{Bucket, PartRef, S3Error};
use crate::budget::{Budget, Lease};
use crate::state::{Keys, PARTS_KEY, Progress, State, UPDATED_KEY};

/// The bytes an append consumes; an error means the client went away.
pub(crate) type Data = BoxStream<'static, std::io::Result<Bytes>>;

/// Decides, once the body of an all-or-nothing append has ended, whether
/// to keep it.
pub(crate) type Verdict = Box<dyn FnOnce() -> bool + Send>;

/// What an append needs from the store.
#[derive(Debug)]
pub(crate) struct Pipeline<'a> {
    pub(crate) bucket: &'a Bucket,
    pub(crate) budget: &'a Arc<Budget>,
    pub(crate) keys: &'a Keys,
    pub(crate) in_flight: usize,
    /// The injected time of this write, recorded with every commit.
    pub(crate) now: SystemTime,
}

/// How the append keeps its bytes.
pub(crate) enum Mode {
    /// Keep what arrives, also when the body fails; checkpoint the committed
    /// part count as parts finish.
    Keep,
    /// All or nothing: commit only if the body ends cleanly and the verdict agrees.
    Staged(Verdict),
}

/// A buffer being filled, with its lease on the budget.
struct Filling {
    bytes: BytesMut,
    lease: Lease,
}

impl Pipeline<'_> {
    /// Appends `data` at `offset` to the open upload in `state` and commits.
    pub(crate) async fn append(
        &self,
        id: &UploadId,
        state: State,
        offset: u64,
        mut data: Data,
        mode: Mode,
    ) -> Result<u64, StoreError> {
        let current = state.offset();
        if offset != current {
            return Err(StoreError::OffsetMismatch { current });
        }
        let (mut done, tail_len) = match state.progress {
            Progress::Open { parts, tail_len, .. } => (parts, tail_len),
            Progress::Complete { .. } => return Ok(current),
        };
        let record = state.record;
        let part_size = usize::try_from(record.part_size).map_err(StoreError::backend)?;
        let committed = done.len();
        let mut checkpointed = committed;
        let mut filling: Option<Filling> = None;
        if tail_len > 0 {
            let (tail, _) = self.bucket.get_small(&self.keys.tail).await?;
            if tail.len() as u64 != tail_len || tail.len() >= part_size {
                return Err(StoreError::backend(format!(
                    "incomplete part of {id} changed while locked"
                )));
            }
            let mut buffer = self.lease(part_size).await?;
            buffer.bytes.extend_from_slice(&tail);
            filling = Some(buffer);
        }
        let mut uploads: JoinSet<Result<PartRef, S3Error>> = JoinSet::new();
        let mut next_number = i32::try_from(done.len() + 1).map_err(StoreError::backend)?;
        let max_number = i32::try_from(crate::plan::MAX_PARTS).unwrap_or(i32::MAX);
        let mut received = 0u64;
        let mut failed_body = false;
        while let Some(item) = data.next().await {
            let mut chunk = match item {
                Ok(chunk) => chunk,
                Err(error) => {
                    tracing::debug!(%id, %error, "request body failed");
                    failed_body = true;
                    break;
                }
            };
            received += chunk.len() as u64;
            while !chunk.is_empty() {
                let buffer = match &mut filling {
                    Some(buffer) => buffer,
                    None => filling.insert(self.lease(part_size).await?),
                };
                let take = (part_size - buffer.bytes.len()).min(chunk.len());
                buffer.bytes.extend_from_slice(&chunk.split_to(take));
                if buffer.bytes.len() < part_size {
                    continue;
                }
                if next_number >= max_number {
                    // Only a deferred upload past `MAX_PARTS` parts gets here.
                    return Err(StoreError::backend(crate::plan::PartSizeError::TooLarge(
                        offset + received,
                    )));
                }
                if let Some(full) = filling.take() {
                    self.spawn_part(
                        &mut uploads,
                        &record.multipart_upload,
                        next_number,
                        full.bytes.freeze(),
                        full.lease,
                    );
                    next_number += 1;
                }
                while uploads.len() >= self.in_flight {
                    self.join_one(&mut uploads, &mut done).await?;
                    if matches!(mode, Mode::Keep) {
                        self.checkpoint(&done, &mut checkpointed).await?;
                    }
                }
            }
        }
        while !uploads.is_empty() {
            self.join_one(&mut uploads, &mut done).await?;
        }
        done.sort_by_key(|part| part.number);
        if let Mode::Staged(verdict) = mode
            && (failed_body || !verdict())
        {
            // Nothing committed: the parts uploaded are past the committed
            // count and will be overwritten.
            return Ok(offset);
        }
        let new_offset = offset + received;
        // The lease is held until the tail is written.
        let (tail, _lease) = match filling {
            Some(buffer) => (buffer.bytes.freeze(), Some(buffer.lease)),
            None => (Bytes::new(), None),
        };
        if record.upload.size.known() == Some(new_offset) {
            if tail.is_empty() && done.is_empty() {
                self.bucket.finish_empty(self.keys, &record.multipart_upload).await?;
                return Ok(new_offset);
            }
            if !tail.is_empty() {
                let number = i32::try_from(done.len() + 1).map_err(StoreError::backend)?;
                done.push(
                    self.bucket
                        .upload_part(&self.keys.data, &record.multipart_upload, number, tail)
                        .await?,
                );
            }
            self.bucket.finish(self.keys, &record.multipart_upload, &done).await?;
        } else if received > 0 || done.len() != checkpointed {
            self.commit(tail, done.len()).await?;
        }
        Ok(new_offset)
    }

    async fn lease(&self, part_size: usize) -> Result<Filling, StoreError> {
        let (lease, bytes) = self.budget.lease(part_size).await?;
        Ok(Filling { bytes, lease })
    }

    /// Uploads a full part in its own task; the lease lives until it is done.
    fn spawn_part(
        &self,
        uploads: &mut JoinSet<Result<PartRef, S3Error>>,
        upload: &str,
        number: i32,
        bytes: Bytes,
        lease: Lease,
    ) {
        let bucket = self.bucket.clone();
        let (key, upload) = (self.keys.data.clone(), upload.to_owned());
        uploads.spawn(async move {
            let result = bucket.upload_part(&key, &upload, number, bytes).await;
            drop(lease);
            result
        });
    }

    /// Waits for one part upload and records it.
    async fn join_one(
        &self,
        uploads: &mut JoinSet<Result<PartRef, S3Error>>,
        done: &mut Vec<PartRef>,
    ) -> Result<(), StoreError> {
        match uploads.join_next().await {
            Some(Ok(Ok(part))) => {
                done.push(part);
                Ok(())
            }
            Some(Ok(Err(error))) => Err(error.into()),
            Some(Err(error)) => Err(StoreError::backend(error)),
            None => Ok(()),
        }
    }

    /// Commits the parts finished in order so far with an empty tail, so a
    /// crash during a long body loses at most the parts in flight.
    async fn checkpoint(&self, done: &[PartRef], checkpointed: &mut usize) -> Result<(), StoreError> {
        let mut numbers: Vec<i32> = done.iter().map(|part| part.number).collect();
        numbers.sort_unstable();
        let contiguous = numbers
            .iter()
            .enumerate()
            .take_while(|(index, number)| **number as usize == index + 1)
            .count();
        if contiguous > *checkpointed {
            self.commit(Bytes::new(), contiguous).await?;
            *checkpointed = contiguous;
        }
        Ok(())
    }

    /// Writes the commit record: the tail after `parts` committed parts.
    async fn commit(&self, tail: Bytes, parts: usize) -> Result<(), StoreError> {
        let mut metadata = vec![(PARTS_KEY, parts.to_string())];
        if let Some(updated) = timestamp::format(self.now) {
            metadata.push((UPDATED_KEY, updated));
        }
        Ok(self.bucket.put(&self.keys.tail, tail, &metadata).await?)
    }
}
