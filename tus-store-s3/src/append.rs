//! The streaming append: a body cut into parts as it arrives, parts uploaded
//! while the next one fills, and the rest written as one segment.
//!
//! ```text
//!  body ──▶ [ buffer: the tail (cached, or read back when a part fills) + new bytes ]
//!              │ full part ──▶ UploadPart (≤ in_flight at once, spawned)
//!              └── body ends ──▶ wait for every part ──▶ PUT marker {id}.parts.{n} ‖ PUT segment {id}.seg.{start}
//!                                                   ──▶ DeleteObjects of the segments and markers the parts replaced
//!                                 or, size reached: last part + CompleteMultipartUpload, delete the rest
//! ```
//!
//! A small append is thus one PUT of its bytes; the append that fills a
//! part uploads it (from the tail's bytes kept in memory since the appends
//! that wrote them) and commits it with a marker. The marker and the
//! segment may land in either order: a segment that starts after an
//! uncommitted part does not follow the committed bytes, so recovery
//! ignores it (see [`crate::layout`]).
//!
//! Every buffer is leased from the store's [`Budget`], so memory is at most
//! `(in_flight + 1) x part_size` per append and `max_buffered_parts x
//! part_size` in all, cached tails included, whatever the size of the body
//! or the upload. Every part but the last has exactly the planned part size.

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
use crate::cache::Tail;
use crate::layout::{Fingerprint, Segment};
use crate::record::Record;
use crate::state::{Keys, Loaded, Progress, State, StateError, UPDATED_KEY};

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
    /// Whether a short append that fills a part may be answered before the
    /// part is committed (only a sole writer: another process's writer
    /// could start on the segments the commit is about to delete).
    pub(crate) answer_early: bool,
}

/// How the append keeps its bytes.
pub(crate) enum Mode {
    /// Keep what arrives, also when the body fails; checkpoint the committed
    /// part count as parts finish.
    Keep,
    /// All or nothing: commit only if the body ends cleanly and the verdict agrees.
    Staged(Verdict),
}

/// What an append leaves: the new offset, the state and listing it leads
/// to, and the tail's bytes, when they are in memory.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) offset: u64,
    pub(crate) loaded: Loaded,
    pub(crate) tail: Option<Tail>,
    /// The part this append filled, still to be committed in the background
    /// (its bytes are already in segments).
    pub(crate) compaction: Option<Compaction>,
}

/// A part an append filled and answered before committing: its upload
/// finishes, its marker is written and the segments it replaces deleted
/// after the append answered, since those segments hold its bytes too.
#[derive(Debug)]
pub(crate) struct Compaction {
    bucket: Bucket,
    keys: Keys,
    now: SystemTime,
    record: Record,
    /// The committed parts before it.
    parts: Vec<PartRef>,
    /// The part's upload, in flight or done.
    uploads: JoinSet<Result<PartRef, S3Error>>,
    joined: Option<PartRef>,
    fingerprint: Fingerprint,
    /// The segments after the part, and their bytes.
    after: Vec<Segment>,
    tail: Option<Filling>,
}

impl Compaction {
    /// Commits the part: the state and listing afterwards, and the tail's bytes.
    pub(crate) async fn run(mut self) -> Result<(Loaded, Option<Tail>), StoreError> {
        let part = match self.joined.take() {
            Some(part) => part,
            None => match self.uploads.join_next().await {
                Some(Ok(Ok(part))) => part,
                Some(Ok(Err(error))) => return Err(error.into()),
                Some(Err(error)) => return Err(StoreError::backend(error)),
                None => return Err(StoreError::backend(StateError::Part(self.parts.len() as u64 + 1))),
            },
        };
        self.parts.push(part);
        let count = self.parts.len() as u64;
        let key = self.keys.marker(count);
        let etag = self.bucket.put(&key, Bytes::new(), &updated(self.now)).await?;
        self.fingerprint.written(&key, 0, &etag);
        let consumed = self.fingerprint.consumed(&self.keys.stem, count, self.record.part_size);
        if !consumed.is_empty() {
            self.bucket.delete_many(&consumed).await?;
            self.fingerprint.deleted(&consumed);
        }
        let tail = self
            .tail
            .map(|buffer| Tail::new(buffer.bytes, buffer.lease, &self.after));
        let state = State::open(self.record, self.parts, self.after, Some(self.now));
        let loaded = Loaded {
            state,
            fingerprint: self.fingerprint,
        };
        Ok((loaded, tail))
    }
}

/// The metadata of a commit at `now`: its time.
fn updated(now: SystemTime) -> Vec<(&'static str, String)> {
    timestamp::format(now)
        .map(|updated| (UPDATED_KEY, updated))
        .into_iter()
        .collect()
}

/// A buffer being filled, with its lease on the budget.
#[derive(Debug)]
struct Filling {
    bytes: BytesMut,
    lease: Lease,
}

impl Pipeline<'_> {
    /// Appends `data` at `offset` to the open upload in `loaded`, starting
    /// from the tail's bytes in `tail` if they are there, and commits.
    pub(crate) async fn append(
        &self,
        id: &UploadId,
        loaded: Loaded,
        tail: Option<Tail>,
        offset: u64,
        mut data: Data,
        mode: Mode,
    ) -> Result<Outcome, StoreError> {
        let Loaded { state, mut fingerprint } = loaded;
        let current = state.offset();
        if offset != current {
            return Err(StoreError::OffsetMismatch { current });
        }
        let State {
            record,
            progress,
            leftovers,
        } = state;
        let (mut done, segments, modified) = match progress {
            Progress::Open {
                parts,
                segments,
                modified,
            } => (parts, segments, modified),
            complete @ Progress::Complete { .. } => {
                let state = State {
                    record,
                    progress: complete,
                    leftovers,
                };
                let loaded = Loaded { state, fingerprint };
                return Ok(Outcome {
                    offset: current,
                    loaded,
                    tail: None,
                    compaction: None,
                });
            }
        };
        // A leftover segment past the offset could one day follow it: gone
        // before anything is written.
        self.delete(&leftovers, &mut fingerprint).await?;
        let part_size = usize::try_from(record.part_size).map_err(StoreError::backend)?;
        let mut segments = segments;
        let mut tail = tail;
        // Segments holding a whole part: an append answered before its
        // part was committed, then stopped. Committed first.
        for _ in 0..segments.len() {
            if segments.iter().map(|s| s.len).sum::<u64>() < record.part_size {
                break;
            }
            tail = None;
            self.compact(&record, &mut done, &mut segments, &mut fingerprint)
                .await?;
        }
        let committed = done.len();
        let mut checkpointed = committed;
        // The part being filled is `unread` bytes of segments still in S3,
        // then `filling`.
        let (mut filling, mut unread) = match tail {
            Some(tail) if tail.holds(&segments) => (
                Some(Filling {
                    bytes: tail.bytes,
                    lease: tail.lease,
                }),
                0,
            ),
            _ => (None, segments.iter().map(|s| s.len as usize).sum::<usize>()),
        };
        let mut uploads: JoinSet<Result<PartRef, S3Error>> = JoinSet::new();
        let mut next_number = i32::try_from(done.len() + 1).map_err(StoreError::backend)?;
        let max_number = i32::try_from(crate::plan::MAX_PARTS).unwrap_or(i32::MAX);
        let mut received = 0u64;
        let mut failed_body = false;
        // The bytes of the last part cut, for a segment of them.
        let mut last_cut: Option<Bytes> = None;
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
                let take = part_size.saturating_sub(unread + buffer.bytes.len()).min(chunk.len());
                buffer.bytes.extend_from_slice(&chunk.split_to(take));
                if unread + buffer.bytes.len() < part_size {
                    continue;
                }
                if unread > 0 {
                    self.read_back(&segments, unread, buffer).await?;
                    unread = 0;
                }
                if next_number >= max_number {
                    // Only a deferred upload past `MAX_PARTS` parts gets here.
                    return Err(StoreError::backend(crate::plan::PartSizeError::TooLarge(
                        offset + received,
                    )));
                }
                if let Some(full) = filling.take() {
                    let bytes = full.bytes.freeze();
                    last_cut = Some(bytes.clone());
                    self.spawn_part(&mut uploads, &record.multipart_upload, next_number, bytes, full.lease);
                    next_number += 1;
                }
                while uploads.len() >= self.in_flight {
                    self.join_one(&mut uploads, &mut done).await?;
                    if matches!(mode, Mode::Keep) {
                        self.checkpoint(&done, &mut checkpointed, &mut fingerprint).await?;
                    }
                }
            }
        }
        let keep = match mode {
            Mode::Keep => true,
            Mode::Staged(verdict) => !failed_body && verdict(),
        };
        let new_offset = offset + received;
        let cut = usize::try_from(next_number - 1).unwrap_or(0).saturating_sub(committed);
        if keep
            && self.answer_early
            && cut == 1
            && checkpointed == committed
            && received < record.part_size
            && record.upload.size.known() != Some(new_offset)
            && let Some(part) = last_cut
        {
            // A short append that filled a part: its bytes go to segments
            // now, the part is committed after the answer.
            done.sort_by_key(|part| part.number);
            let joined = (done.len() > committed).then(|| done.pop()).flatten();
            let part_start = committed as u64 * record.part_size;
            let boundary = part_start + record.part_size;
            let skip = usize::try_from(offset - part_start).map_err(StoreError::backend)?;
            let before = part.slice(skip.min(part.len())..);
            let after = filling
                .as_ref()
                .map(|buffer| Bytes::copy_from_slice(&buffer.bytes))
                .filter(|bytes| !bytes.is_empty());
            let (first, second) = futures::join!(self.put_segment(offset, before), async {
                match after {
                    Some(bytes) => self.put_segment(boundary, bytes).await.map(Some),
                    None => Ok(None),
                }
            });
            let (first, second) = (first?, second?);
            let mut answered = segments;
            for segment in std::iter::once(&first).chain(&second) {
                fingerprint.written(&segment.key, segment.len, &segment.etag);
            }
            answered.push(first);
            let after: Vec<Segment> = second.into_iter().collect();
            answered.extend(after.iter().cloned());
            let state = State::open(record.clone(), done.clone(), answered, Some(self.now));
            let compaction = Compaction {
                bucket: self.bucket.clone(),
                keys: self.keys.clone(),
                now: self.now,
                record,
                parts: done,
                uploads,
                joined,
                fingerprint: fingerprint.clone(),
                after,
                tail: filling,
            };
            return Ok(Outcome {
                offset: new_offset,
                loaded: Loaded { state, fingerprint },
                tail: None,
                compaction: Some(compaction),
            });
        }
        while !uploads.is_empty() {
            self.join_one(&mut uploads, &mut done).await?;
        }
        done.sort_by_key(|part| part.number);
        if !keep {
            // Nothing committed: the parts uploaded are past the committed
            // count and will be overwritten.
            done.truncate(checkpointed);
            let state = State::open(record, done, segments, modified);
            let loaded = Loaded { state, fingerprint };
            return Ok(Outcome {
                offset,
                loaded,
                tail: None,
                compaction: None,
            });
        }
        if record.upload.size.known() == Some(new_offset) {
            // The last part: the tail, read back if it is not in memory.
            let mut last = match filling.take() {
                Some(buffer) => buffer,
                None => self.lease(part_size).await?,
            };
            if unread > 0 {
                self.read_back(&segments, unread, &mut last).await?;
            }
            let cleanup = fingerprint.all_but_info(&self.keys.stem);
            if last.bytes.is_empty() && done.is_empty() {
                self.bucket
                    .finish_empty(self.keys, &record.multipart_upload, &cleanup)
                    .await?;
            } else {
                if !last.bytes.is_empty() {
                    let number = i32::try_from(done.len() + 1).map_err(StoreError::backend)?;
                    done.push(
                        self.bucket
                            .upload_part(&self.keys.data, &record.multipart_upload, number, last.bytes.freeze())
                            .await?,
                    );
                }
                self.bucket
                    .finish(self.keys, &record.multipart_upload, &done, &cleanup)
                    .await?;
            }
            fingerprint.deleted(&cleanup);
            let state = State {
                record,
                progress: Progress::Complete {
                    len: new_offset,
                    modified: Some(self.now),
                },
                leftovers: Vec::new(),
            };
            let loaded = Loaded { state, fingerprint };
            return Ok(Outcome {
                offset: new_offset,
                loaded,
                tail: None,
                compaction: None,
            });
        }
        let parts = done.len() as u64;
        let tail_start = parts * record.part_size;
        // This append's bytes after the last part, as a segment.
        let segment_start = offset.max(tail_start);
        let segment = match &filling {
            Some(buffer) if new_offset > segment_start => {
                // Bytes still unread are old segments: none precede a cut part.
                let skip = usize::try_from(segment_start - tail_start)
                    .ok()
                    .and_then(|skip| skip.checked_sub(unread))
                    .ok_or_else(|| StoreError::backend(StateError::Segment(self.keys.stem.clone())))?;
                Some(Bytes::copy_from_slice(buffer.bytes.get(skip..).unwrap_or_default()))
            }
            _ => None,
        };
        let marker = async {
            if done.len() == checkpointed {
                return Ok(None);
            }
            let key = self.keys.marker(parts);
            let etag = self.bucket.put(&key, Bytes::new(), &self.updated()).await?;
            Ok::<_, S3Error>(Some((key, etag)))
        };
        let written = async {
            match segment {
                Some(bytes) => self.put_segment(segment_start, bytes).await.map(Some),
                None => Ok(None),
            }
        };
        let (marker, written) = futures::join!(marker, written);
        if let Some((key, etag)) = marker? {
            fingerprint.written(&key, 0, &etag);
        }
        let written = written?;
        let mut segments = if parts as usize > committed {
            Vec::new()
        } else {
            segments
        };
        if let Some(segment) = written {
            fingerprint.written(&segment.key, segment.len, &segment.etag);
            segments.push(segment);
        }
        if parts as usize > committed {
            // The new parts hold the old segments' bytes.
            let consumed = fingerprint.consumed(&self.keys.stem, parts, record.part_size);
            self.delete(&consumed, &mut fingerprint).await?;
        }
        let modified = if received > 0 || parts as usize > committed {
            Some(self.now)
        } else {
            modified
        };
        let tail = match filling {
            Some(buffer) if unread == 0 => Some(Tail::new(buffer.bytes, buffer.lease, &segments)),
            _ => None,
        };
        let state = State::open(record, done, segments, modified);
        Ok(Outcome {
            offset: new_offset,
            loaded: Loaded { state, fingerprint },
            tail,
            compaction: None,
        })
    }

    /// Writes `bytes` as the segment that starts at `start`.
    async fn put_segment(&self, start: u64, bytes: Bytes) -> Result<Segment, S3Error> {
        let key = self.keys.segment(start);
        let len = bytes.len() as u64;
        let etag = self.bucket.put(&key, bytes, &self.updated()).await?;
        Ok(Segment { key, start, len, etag })
    }

    /// Commits the next part from the segments that hold it (read back):
    /// UploadPart, its marker, and the segments deleted.
    async fn compact(
        &self,
        record: &Record,
        done: &mut Vec<PartRef>,
        segments: &mut Vec<Segment>,
        fingerprint: &mut Fingerprint,
    ) -> Result<(), StoreError> {
        let boundary = (done.len() as u64 + 1) * record.part_size;
        let (below, rest): (Vec<Segment>, Vec<Segment>) =
            segments.drain(..).partition(|segment| segment.end() <= boundary);
        let part_size = usize::try_from(record.part_size).map_err(StoreError::backend)?;
        if below.iter().map(|s| s.len).sum::<u64>() != record.part_size {
            return Err(StoreError::backend(StateError::Segment(self.keys.stem.clone())));
        }
        let mut buffer = self.lease(part_size).await?;
        self.read_back(&below, part_size, &mut buffer).await?;
        let number = i32::try_from(done.len() + 1).map_err(StoreError::backend)?;
        let part = self
            .bucket
            .upload_part(&self.keys.data, &record.multipart_upload, number, buffer.bytes.freeze())
            .await?;
        done.push(part);
        let count = done.len() as u64;
        let key = self.keys.marker(count);
        let etag = self.bucket.put(&key, Bytes::new(), &self.updated()).await?;
        fingerprint.written(&key, 0, &etag);
        let consumed = fingerprint.consumed(&self.keys.stem, count, record.part_size);
        self.delete(&consumed, fingerprint).await?;
        *segments = rest;
        Ok(())
    }

    /// The metadata of a commit: the time of this write.
    fn updated(&self) -> Vec<(&'static str, String)> {
        updated(self.now)
    }

    /// Deletes `keys` (if any) and records it.
    async fn delete(&self, keys: &[String], fingerprint: &mut Fingerprint) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.bucket.delete_many(keys).await?;
        fingerprint.deleted(keys);
        Ok(())
    }

    /// Puts the `unread` bytes of `segments` in front of `buffer`'s bytes,
    /// in place (the buffer has room for a whole part).
    async fn read_back(&self, segments: &[Segment], unread: usize, buffer: &mut Filling) -> Result<(), StoreError> {
        let fresh = buffer.bytes.len();
        buffer.bytes.resize(unread + fresh, 0);
        buffer.bytes.copy_within(0..fresh, unread);
        let mut at = 0usize;
        for segment in segments {
            let (bytes, _) = match self.bucket.get_small(&segment.key).await {
                Ok(found) => found,
                // Another server committed the part and deleted its
                // segments meanwhile: the client retries on the new state.
                Err(S3Error::Missing) => {
                    return Err(StoreError::Unavailable(Box::new(StateError::Segment(
                        segment.key.clone(),
                    ))));
                }
                Err(other) => return Err(other.into()),
            };
            let end = at + bytes.len();
            if bytes.len() as u64 != segment.len || end > unread {
                return Err(StoreError::backend(StateError::Segment(segment.key.clone())));
            }
            buffer.bytes[at..end].copy_from_slice(&bytes);
            at = end;
        }
        if at != unread {
            return Err(StoreError::backend(StateError::Segment(self.keys.stem.clone())));
        }
        Ok(())
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

    /// Commits the parts finished in order so far with a marker, so a crash
    /// during a long body loses at most the parts in flight.
    async fn checkpoint(
        &self,
        done: &[PartRef],
        checkpointed: &mut usize,
        fingerprint: &mut Fingerprint,
    ) -> Result<(), StoreError> {
        let mut numbers: Vec<i32> = done.iter().map(|part| part.number).collect();
        numbers.sort_unstable();
        let contiguous = numbers
            .iter()
            .enumerate()
            .take_while(|(index, number)| **number as usize == index + 1)
            .count();
        if contiguous > *checkpointed {
            let key = self.keys.marker(contiguous as u64);
            let etag = self.bucket.put(&key, Bytes::new(), &self.updated()).await?;
            fingerprint.written(&key, 0, &etag);
            *checkpointed = contiguous;
        }
        Ok(())
    }
}
