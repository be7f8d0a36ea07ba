//! [`S3Store`]: the [`Store`] implementation over an S3 bucket.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;
use futures::FutureExt as _;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use tus_core::store::{
    Concatenate, DataStream, DeferLength, Durability, Listing, Store, StoreError, Terminate, Writer,
};
use tus_core::upload::{NewUpload, UploadId, UploadInfo, UploadSize};

use crate::append::{Compaction, Data, Mode, Pipeline};
use crate::bucket::{Bucket, S3Error};
use crate::budget::{Budget, BufferStats};
use crate::cache::Cache;
use crate::plan::{self, DEFAULT_PART_SIZE, PartSizeError};
use crate::record::Record;
use crate::state::{self, Keys, Loaded, Progress};
use crate::writer::S3Writer;
use crate::{S3Timeouts, concat, read};

/// Part uploads in flight per append, by default.
const DEFAULT_PARTS_IN_FLIGHT: usize = 4;
/// Part buffers across all uploads, by default.
const DEFAULT_MAX_BUFFERED_PARTS: usize = 16;

/// A [`Store`] keeping each upload as one S3 multipart upload, streamed
/// into with bounded memory. See the [crate docs](crate) for the layout.
///
/// Cloning is cheap and shares the memory budget and the writer table.
#[derive(Debug, Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    bucket: Bucket,
    prefix: String,
    part_size: u64,
    parts_in_flight: usize,
    budget: Arc<Budget>,
    /// The states of open uploads, confirmed by one listing per use
    /// unless the store is the sole writer of its prefix.
    cache: Cache,
    /// Whether no other process writes under the prefix.
    sole_writer: bool,
    /// Uploads an append, declaration or concatenation runs on in this process.
    writers: Mutex<HashSet<UploadId>>,
}

/// Builds an [`S3Store`]; from [`S3Store::builder`].
#[derive(Debug, Clone)]
pub struct S3StoreBuilder {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    part_size: u64,
    parts_in_flight: usize,
    max_buffered_parts: usize,
    lifecycle_tags: bool,
    timeouts: S3Timeouts,
    sole_writer: bool,
}

impl S3StoreBuilder {
    /// Puts every key under `prefix` (e.g. `"uploads/"`; default none).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The preferred part size (default 8 MiB). Clamped to S3's limits and
    /// raised for large uploads so no upload needs more than 10,000 parts
    /// (see [`part_size`](crate::part_size)).
    #[must_use]
    pub fn part_size(mut self, bytes: u64) -> Self {
        self.part_size = bytes;
        self
    }

    /// How many parts of one append upload at once (default 4, at least 1).
    #[must_use]
    pub fn parts_in_flight(mut self, parts: usize) -> Self {
        self.parts_in_flight = parts.max(1);
        self
    }

    /// How many part buffers all uploads together may hold (default 16, at
    /// least 1). Memory for bodies is at most this times the part size.
    #[must_use]
    pub fn max_buffered_parts(mut self, parts: usize) -> Self {
        self.max_buffered_parts = parts.max(1);
        self
    }

    /// Tags the info object, segments and markers of unfinished uploads
    /// `tus-upload=unfinished` (and the info object `tus-upload=complete`
    /// once done), so a bucket lifecycle rule can expire abandoned uploads.
    /// Default off: not every S3-compatible server implements object tagging.
    #[must_use]
    pub fn lifecycle_tags(mut self, on: bool) -> Self {
        self.lifecycle_tags = on;
        self
    }

    /// How long the transfers (part uploads, copies, completion) may take
    /// (default [`S3Timeouts::default`]); the client's own timeouts cover
    /// the other calls ([`S3Options::client`](crate::S3Options::client) sets both).
    #[must_use]
    pub fn timeouts(mut self, timeouts: S3Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Declares this store the only writer of uploads under its prefix
    /// (default off): one process, no other instance on the same bucket
    /// and prefix. The state of an upload this store wrote or recovered is
    /// then used as cached, without the listing that otherwise confirms it
    /// before every use (one ListObjectsV2 per PATCH: about a fifth of a
    /// 1 MiB PATCH's time on Garage, a third of a 256 KiB one's). A failed
    /// write, completion or termination still drops the cached state, so
    /// the next use recovers it from the bucket. A short PATCH that fills a
    /// part is also answered before the part is committed (the part
    /// uploads in the background; its bytes are already in segments).
    ///
    /// Leave it off when several servers write the same uploads (with a
    /// shared locker such as `tus-lock-redis`): another instance's writes
    /// would not be seen, and an append could overwrite what it stored.
    #[must_use]
    pub fn sole_writer(mut self, on: bool) -> Self {
        self.sole_writer = on;
        self
    }

    /// The store.
    pub fn build(self) -> S3Store {
        S3Store {
            inner: Arc::new(Inner {
                bucket: Bucket {
                    client: self.client,
                    name: self.bucket,
                    lifecycle_tags: self.lifecycle_tags,
                    timeouts: self.timeouts,
                },
                prefix: self.prefix,
                part_size: self.part_size,
                parts_in_flight: self.parts_in_flight,
                budget: Budget::new(self.max_buffered_parts),
                // Half the buffers may hold tails between appends; the rest
                // stay free for the parts being cut.
                cache: Cache::new(self.max_buffered_parts / 2),
                sole_writer: self.sole_writer,
                writers: Mutex::default(),
            }),
        }
    }
}

impl S3Store {
    /// A builder for a store over `bucket`, reached through `client`.
    pub fn builder(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> S3StoreBuilder {
        S3StoreBuilder {
            client,
            bucket: bucket.into(),
            prefix: String::new(),
            part_size: DEFAULT_PART_SIZE,
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
            max_buffered_parts: DEFAULT_MAX_BUFFERED_PARTS,
            lifecycle_tags: false,
            timeouts: S3Timeouts::default(),
            sole_writer: false,
        }
    }

    /// How many bytes of part buffers are leased now, and the peak.
    pub fn buffer_stats(&self) -> BufferStats {
        self.inner.budget.stats()
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        &self.inner.bucket.name
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    pub(crate) fn keys(&self, id: &UploadId) -> Keys {
        Keys::new(&self.inner.prefix, id)
    }

    pub(crate) fn raw_bucket(&self) -> &Bucket {
        &self.inner.bucket
    }

    /// The key prefix of the markers of the finals waiting for `partial`.
    fn finals_prefix(&self, partial: &UploadId) -> String {
        format!("{}{partial}.finals/", self.inner.prefix)
    }

    /// The upload's state: the cached one if one listing of its objects
    /// confirms it, else recovered from the bucket (and cached).
    pub(crate) async fn load(&self, id: &UploadId) -> Result<Loaded, StoreError> {
        if let Some(loaded) = self.inner.cache.compacting(id) {
            return Ok(loaded);
        }
        if self.inner.sole_writer
            && let Some(loaded) = self.inner.cache.trusted(id)
        {
            return Ok(loaded);
        }
        let keys = self.keys(id);
        let listing = self.inner.bucket.list_upload(&keys).await?;
        let fingerprint = crate::layout::Fingerprint::new(&listing);
        if let Some(state) = self.inner.cache.confirmed(id, &fingerprint) {
            return Ok(Loaded { state, fingerprint });
        }
        tracing::debug!(%id, "recovering the state from the bucket");
        let loaded = match state::recover(&self.inner.bucket, &keys, &listing).await? {
            Some(state) => Loaded { state, fingerprint },
            None => state::load(&self.inner.bucket, &keys).await?,
        };
        self.inner.cache.keep(id, loaded.clone(), true);
        Ok(loaded)
    }

    /// The state to write `id` from, under its writer guard: waits for a
    /// part this process commits in the background first. Under the guard
    /// no other commit can start, so the state loaded after is the one the
    /// write starts from; loaded before, it could be the state answered
    /// before that commit, whose segments the commit deletes.
    pub(crate) async fn load_to_write(&self, id: &UploadId, _guard: &WriterGuard) -> Result<Loaded, StoreError> {
        self.settle(id).await;
        self.load(id).await
    }

    /// Waits for the part of `id` being committed in the background, if any.
    async fn settle(&self, id: &UploadId) {
        if let Some(pending) = self.inner.cache.pending(id) {
            pending.await;
        }
    }

    /// Commits an append's part in the background, and caches the state
    /// after; if it fails, the state is recovered from the bucket next time.
    fn compact_later(&self, id: &UploadId, compaction: Compaction) {
        let (store, upload) = (self.clone(), id.clone());
        let task = tokio::spawn(async move {
            match compaction.run().await {
                Ok((loaded, tail)) => {
                    store.inner.cache.keep(&upload, loaded, false);
                    if let Some(tail) = tail {
                        store.inner.cache.keep_tail(&upload, tail);
                    }
                }
                Err(error) => {
                    tracing::warn!(id = %upload, %error, "committing a part after the answer failed");
                    store.inner.cache.forget(&upload);
                }
            }
        });
        let pending = async move {
            // A panic in the task is a failed commit: the state is recovered.
            let _ = task.await;
        };
        self.inner.cache.set_pending(id, pending.boxed().shared());
    }

    /// Completes an upload whose bytes all arrived with an empty append.
    async fn complete(&self, id: &UploadId, loaded: Loaded) -> Result<u64, StoreError> {
        let offset = loaded.state.offset();
        let empty = stream::empty().boxed();
        self.append(id, loaded, offset, empty, Mode::Keep, SystemTime::now())
            .await
    }

    /// Forgets the cached state of `id` (after a write outside [`append`](Self::append)).
    pub(crate) fn forget(&self, id: &UploadId) {
        self.inner.cache.forget(id);
    }

    /// Runs an append on `loaded`, starting from the cached tail bytes, and
    /// caches what it leaves; a failed append forgets the upload's cached
    /// state. Under the writer guard, with `loaded` from
    /// [`load_to_write`](Self::load_to_write) (or the writer's equivalent):
    /// no part of this upload is then being committed in the background.
    pub(crate) async fn append(
        &self,
        id: &UploadId,
        loaded: Loaded,
        offset: u64,
        data: Data,
        mode: Mode,
        now: SystemTime,
    ) -> Result<u64, StoreError> {
        let keys = self.keys(id);
        let tail = self.inner.cache.take_tail(id, &loaded.state);
        match self
            .pipeline(&keys, now)
            .append(id, loaded, tail, offset, data, mode)
            .await
        {
            // A complete upload's time is its data object's: the next
            // load reads it, as after a restart.
            Ok(outcome) if matches!(outcome.loaded.state.progress, Progress::Complete { .. }) => {
                self.inner.cache.forget(id);
                Ok(outcome.offset)
            }
            Ok(outcome) => {
                self.inner.cache.keep(id, outcome.loaded, false);
                if let Some(tail) = outcome.tail {
                    self.inner.cache.keep_tail(id, tail);
                }
                if let Some(compaction) = outcome.compaction {
                    self.compact_later(id, compaction);
                }
                Ok(outcome.offset)
            }
            Err(error) => {
                self.inner.cache.forget(id);
                Err(error)
            }
        }
    }

    /// [`load`](Self::load), finishing an upload whose bytes all arrived but
    /// whose multipart upload was not completed (a crash between the last
    /// commit, or the length's declaration, and CompleteMultipartUpload).
    pub(crate) async fn load_settled(&self, id: &UploadId) -> Result<Loaded, StoreError> {
        let loaded = self.load(id).await?;
        if !loaded.state.awaits_completion() {
            return Ok(loaded);
        }
        let guard = self.lock(id)?;
        let loaded = self.load_to_write(id, &guard).await?;
        if !loaded.state.awaits_completion() {
            return Ok(loaded);
        }
        tracing::info!(%id, offset = loaded.state.offset(), "completing an upload left unfinished by a crash");
        self.complete(id, loaded).await?;
        self.load(id).await
    }

    fn writers(&self) -> MutexGuard<'_, HashSet<UploadId>> {
        // Each critical section is one insert or remove: a panic elsewhere
        // cannot leave the set inconsistent.
        self.inner
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Marks `id` as written by this process until the guard drops.
    pub(crate) fn lock(&self, id: &UploadId) -> Result<WriterGuard, StoreError> {
        if !self.writers().insert(id.clone()) {
            return Err(StoreError::Busy);
        }
        Ok(WriterGuard {
            store: self.clone(),
            id: id.clone(),
        })
    }

    pub(crate) fn pipeline<'a>(&'a self, keys: &'a Keys, now: SystemTime) -> Pipeline<'a> {
        Pipeline {
            bucket: &self.inner.bucket,
            budget: &self.inner.budget,
            keys,
            in_flight: self.inner.parts_in_flight,
            now,
            answer_early: self.inner.sole_writer,
        }
    }

    /// Checks the offset under the writer guard, then runs the append
    /// pipeline in its own task, fed by the returned writer.
    async fn open_writer(
        &self,
        id: &UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> Result<Writer, StoreError> {
        let guard = self.lock(id)?;
        // As load_to_write, but the writer the server opens right after
        // `info()` may use that call's listing.
        self.settle(id).await;
        let loaded = match self.inner.cache.reuse(id) {
            Some(loaded) => loaded,
            None => self.load(id).await?,
        };
        let current = loaded.state.offset();
        if offset != current {
            return Err(StoreError::OffsetMismatch { current });
        }
        let (sender, receiver, keep) = S3Writer::channel();
        let mode = match durability {
            Durability::KeepPrefix => Mode::Keep,
            Durability::AllOrNothing => {
                let keep = Arc::clone(&keep);
                Mode::Staged(Box::new(move || keep.load(Ordering::SeqCst)))
            }
        };
        let (store, id) = (self.clone(), id.clone());
        let task = tokio::spawn(async move {
            let _guard = guard;
            store.append(&id, loaded, offset, receiver.boxed(), mode, now).await
        });
        let writer: Writer = Box::pin(S3Writer::new(sender, task, keep));
        Ok(writer)
    }

    /// Creates the multipart upload, then claims the id with a conditional
    /// PUT of the info object (`AlreadyExists` if it is taken; the multipart
    /// upload is aborted then).
    ///
    /// The conditional PUT (`If-None-Match: *`) is atomic on servers that
    /// honour it (AWS S3, MinIO, R2). Garage 2.5 ignores the condition, so a
    /// HEAD of the info object comes first: there, two creators racing for
    /// the same id within one round trip could both succeed (generated ids
    /// are 128 random bits; only ids a hook chooses can collide).
    async fn create_upload(&self, upload: NewUpload) -> Result<UploadInfo, StoreError> {
        let keys = self.keys(&upload.id);
        let bucket = &self.inner.bucket;
        match bucket.head(&keys.info).await {
            Ok(_) => return Err(StoreError::AlreadyExists),
            Err(S3Error::Missing) => {}
            Err(other) => return Err(other.into()),
        }
        let part_size = plan::part_size(upload.size.known(), self.inner.part_size).map_err(StoreError::backend)?;
        let multipart = bucket.create_multipart(&keys.data).await?;
        let record = Record::new(&upload, multipart, part_size);
        let json = record.to_json().map_err(StoreError::backend)?;
        if let Err(error) = bucket.put_if_absent(&keys.info, Bytes::from(json)).await {
            if let Err(cleanup) = bucket.abort(&keys.data, &record.multipart_upload).await {
                tracing::warn!(id = %upload.id, %cleanup, "could not abort the multipart upload of a refused create");
            }
            return Err(error.into());
        }
        if upload.size == UploadSize::Known(0) {
            bucket.finish_empty(&keys, &record.multipart_upload, &[]).await?;
        }
        Ok(UploadInfo::new(upload))
    }

    async fn declare(&self, id: &UploadId, length: u64) -> Result<(), StoreError> {
        let guard = self.lock(id)?;
        let mut loaded = self.load_to_write(id, &guard).await?;
        loaded.state.record.upload.declare_length(length)?;
        if length > plan::deferred_limit(loaded.state.record.part_size) {
            return Err(StoreError::backend(PartSizeError::TooLarge(length)));
        }
        let json = loaded.state.record.to_json().map_err(StoreError::backend)?;
        let keys = self.keys(id);
        let size = json.len() as u64;
        let etag = match self.inner.bucket.put(&keys.info, Bytes::from(json), &[]).await {
            Ok(etag) => etag,
            Err(error) => {
                // The write may have happened: recover the state next time.
                self.inner.cache.forget(id);
                return Err(error.into());
            }
        };
        loaded.fingerprint.written(&keys.info, size, &etag);
        self.inner.cache.keep(id, loaded.clone(), false);
        if loaded.state.offset() == length {
            self.complete(id, loaded).await?;
        }
        Ok(())
    }

    async fn remove(&self, id: &UploadId) -> Result<(), StoreError> {
        self.settle(id).await;
        let keys = self.keys(id);
        let bucket = &self.inner.bucket;
        let (info, _) = bucket.get_small(&keys.info).await?;
        let record = Record::from_json(&info).map_err(StoreError::backend)?;
        // From here on the upload does not exist.
        self.inner.cache.forget(id);
        bucket.delete(&keys.info).await?;
        bucket.abort(&keys.data, &record.multipart_upload).await?;
        // Segments, commit markers, an old-layout incomplete part, and the
        // markers of finals waiting for this partial.
        bucket.delete_many(&self.keys_under(&keys.stem).await?).await?;
        bucket.delete(&keys.data).await?;
        self.inner.cache.forget(id);
        Ok(())
    }

    /// Every key under `prefix`, all pages.
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut token = None;
        // The bound only stops a server that never ends its listing.
        for _ in 0..100_000 {
            let (page, next) = self.inner.bucket.list_keys(prefix, token).await?;
            keys.extend(page);
            match next {
                Some(next) => token = Some(next),
                None => return Ok(keys),
            }
        }
        Ok(keys)
    }

    async fn read_range(&self, id: &UploadId, range: Range<u64>) -> Result<DataStream, StoreError> {
        let state = self.load_settled(id).await?.state;
        if range.start > range.end || range.end > state.offset() {
            return Err(StoreError::backend(format!(
                "range {range:?} outside stored data of {} bytes",
                state.offset()
            )));
        }
        if range.is_empty() {
            return Ok(stream::empty().boxed());
        }
        match state.progress {
            Progress::Complete { .. } => {
                let body = self
                    .inner
                    .bucket
                    .get_range(&self.keys(id).data, range.start, range.end)
                    .await?;
                Ok(read::stream(body))
            }
            Progress::Open { .. } => Err(StoreError::backend("S3 cannot read an unfinished multipart upload")),
        }
    }

    async fn list_page(&self, token: Option<String>) -> Result<(Vec<UploadId>, Option<String>), StoreError> {
        let prefix = &self.inner.prefix;
        let (keys, next) = self.inner.bucket.list_keys(prefix, token).await?;
        let ids = keys
            .iter()
            .filter_map(|key| key.strip_prefix(prefix.as_str()))
            .filter_map(|name| name.strip_suffix(".info"))
            .filter_map(|stem| UploadId::parse(stem).ok())
            .collect();
        Ok((ids, next))
    }
}

/// Releases an upload in the writer table when dropped.
#[derive(Debug)]
pub(crate) struct WriterGuard {
    store: S3Store,
    id: UploadId,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.store.writers().remove(&self.id);
    }
}

impl Store for S3Store {
    /// Creates the multipart upload and claims the id with a conditional
    /// PUT of the info object. A zero-byte upload is completed at once.
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(self.create_upload(upload))
    }

    /// Lists the upload's objects; the state cached from the last request
    /// is used if the listing shows nothing changed, else it is recovered
    /// (record, ListParts, the time of the last write).
    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        Box::pin(async move { Ok(self.load(id).await?.state.info(id)) })
    }

    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>> {
        Box::pin(self.open_writer(id, offset, durability, now))
    }

    /// Streams a ranged GET of the data object. S3 cannot read the parts of
    /// an unfinished multipart upload; servers read complete uploads only.
    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(self.read_range(id, range))
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

impl Terminate for S3Store {
    /// Deletes the info object (the upload is gone from then on), aborts the
    /// multipart upload and deletes the segments, markers, the data object and
    /// the waiting-finals markers.
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.remove(id))
    }
}

impl DeferLength for S3Store {
    /// Rewrites the info object; if the offset already is the new length,
    /// completes the multipart upload.
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.declare(id, length))
    }
}

impl Concatenate for S3Store {
    /// Copies the partials' objects into the final upload's parts with
    /// UploadPartCopy where S3's part rules allow, and streams them through
    /// otherwise.
    fn concatenate<'a>(
        &'a self,
        id: &'a UploadId,
        partials: &'a [UploadId],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(concat::concatenate(self, id, partials, now))
    }

    /// Writes an empty marker object `{partial}.finals/{final}`.
    fn watch<'a>(&'a self, partial: &'a UploadId, final_id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let key = format!("{}{final_id}", self.finals_prefix(partial));
            self.inner.bucket.put(&key, Bytes::new(), &[]).await?;
            Ok(())
        })
    }

    /// Lists the markers under `{partial}.finals/`.
    fn waiting_finals<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<Vec<UploadId>, StoreError>> {
        Box::pin(async move {
            let prefix = self.finals_prefix(partial);
            let keys = self.keys_under(&prefix).await?;
            Ok(keys
                .iter()
                .filter_map(|key| key.strip_prefix(prefix.as_str()))
                .filter_map(|name| UploadId::parse(name).ok())
                .collect())
        })
    }

    /// Deletes the markers under `{partial}.finals/`.
    fn unwatch<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            for marker in self.keys_under(&self.finals_prefix(partial)).await? {
                self.inner.bucket.delete(&marker).await?;
            }
            Ok(())
        })
    }
}

impl Listing for S3Store {
    /// Lists the keys under the prefix, page by page, for `{id}.info`.
    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        // A bucket of a million uploads is a thousand pages; the bound only
        // stops a server that never ends its listing.
        const MAX_PAGES: usize = 1_000_000;
        stream::unfold((Some(None), 0usize), move |(token, pages)| async move {
            let token = token?;
            if pages >= MAX_PAGES {
                return None;
            }
            match self.list_page(token).await {
                Ok((ids, next)) => {
                    let items: Vec<Result<UploadId, StoreError>> = ids.into_iter().map(Ok).collect();
                    Some((stream::iter(items), (next.map(Some), pages + 1)))
                }
                Err(error) => Some((stream::iter(vec![Err(error)]), (None, pages + 1))),
            }
        })
        .flatten()
        .boxed()
    }
}
