//! [`S3Store`]: the [`Store`] implementation over an S3 bucket.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use tus_core::store::{
    Capabilities, DataStream, NewUpload, Store, StoreError, UploadId, UploadInfo, UploadSize, Verdict,
};

use crate::append::{Mode, Pipeline};
use crate::bucket::{Bucket, S3Error};
use crate::budget::{Budget, BufferStats};
use crate::plan::{self, DEFAULT_PART_SIZE, PartSizeError};
use crate::record::Record;
use crate::state::{self, Keys, PARTS_KEY, Progress, State};
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

    /// Tags the info object and incomplete part of unfinished uploads
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

    pub(crate) async fn load(&self, id: &UploadId) -> Result<State, StoreError> {
        state::load(&self.inner.bucket, &self.keys(id)).await
    }

    /// [`load`](Self::load), finishing an upload whose bytes all arrived but
    /// whose multipart upload was not completed (a crash between the last
    /// commit, or the length's declaration, and CompleteMultipartUpload).
    pub(crate) async fn load_settled(&self, id: &UploadId) -> Result<State, StoreError> {
        let state = self.load(id).await?;
        if !state.awaits_completion() {
            return Ok(state);
        }
        let _guard = self.lock(id)?;
        let state = self.load(id).await?;
        if !state.awaits_completion() {
            return Ok(state);
        }
        let keys = self.keys(id);
        let offset = state.offset();
        tracing::info!(%id, offset, "completing an upload left unfinished by a crash");
        self.pipeline(&keys)
            .append(id, state, offset, stream::empty().boxed(), Mode::Keep)
            .await?;
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
    pub(crate) fn lock<'a>(&'a self, id: &'a UploadId) -> Result<WriterGuard<'a>, StoreError> {
        if !self.writers().insert(id.clone()) {
            return Err(StoreError::Busy);
        }
        Ok(WriterGuard { store: self, id })
    }

    pub(crate) fn pipeline<'a>(&'a self, keys: &'a Keys) -> Pipeline<'a> {
        Pipeline {
            bucket: &self.inner.bucket,
            budget: &self.inner.budget,
            keys,
            in_flight: self.inner.parts_in_flight,
        }
    }

    async fn append_with(&self, id: &UploadId, offset: u64, data: DataStream, mode: Mode) -> Result<u64, StoreError> {
        let _guard = self.lock(id)?;
        let state = self.load(id).await?;
        let keys = self.keys(id);
        self.pipeline(&keys).append(id, state, offset, data, mode).await
    }

    async fn create_upload(&self, upload: NewUpload) -> Result<UploadInfo, StoreError> {
        let keys = self.keys(&upload.id);
        let bucket = &self.inner.bucket;
        match bucket.head(&keys.info).await {
            Ok(_) => return Err(StoreError::backend(format!("upload {} already exists", upload.id))),
            Err(S3Error::Missing) => {}
            Err(other) => return Err(other.into()),
        }
        let part_size = plan::part_size(upload.size.known(), self.inner.part_size).map_err(StoreError::backend)?;
        let multipart = bucket.create_multipart(&keys.data).await?;
        let record = Record::new(&upload, multipart, part_size);
        let json = record.to_json().map_err(StoreError::backend)?;
        bucket
            .put(&keys.tail, Bytes::new(), &[(PARTS_KEY, "0".to_owned())])
            .await?;
        if upload.size == UploadSize::Known(0) {
            bucket.put(&keys.info, Bytes::from(json), &[]).await?;
            bucket.finish_empty(&keys, &record.multipart_upload).await?;
        } else {
            bucket.put(&keys.info, Bytes::from(json), &[]).await?;
        }
        Ok(UploadInfo::new(upload))
    }

    async fn declare(&self, id: &UploadId, length: u64) -> Result<(), StoreError> {
        let _guard = self.lock(id)?;
        let mut state = self.load(id).await?;
        if let UploadSize::Known(_) = state.record.size {
            return Err(StoreError::LengthAlreadyKnown);
        }
        if length > plan::deferred_limit(state.record.part_size) {
            return Err(StoreError::backend(PartSizeError::TooLarge(length)));
        }
        state.record.size = UploadSize::Known(length);
        let json = state.record.to_json().map_err(StoreError::backend)?;
        let keys = self.keys(id);
        self.inner.bucket.put(&keys.info, Bytes::from(json), &[]).await?;
        if state.offset() == length {
            // Reached: an empty append completes the multipart upload.
            let offset = state.offset();
            self.pipeline(&keys)
                .append(id, state, offset, stream::empty().boxed(), Mode::Keep)
                .await?;
        }
        Ok(())
    }

    async fn remove(&self, id: &UploadId) -> Result<(), StoreError> {
        let keys = self.keys(id);
        let bucket = &self.inner.bucket;
        let (info, _) = bucket.get_small(&keys.info).await?;
        let record = Record::from_json(&info).map_err(StoreError::backend)?;
        // From here on the upload does not exist.
        bucket.delete(&keys.info).await?;
        bucket.abort(&keys.data, &record.multipart_upload).await?;
        bucket.delete(&keys.tail).await?;
        bucket.delete(&keys.data).await?;
        Ok(())
    }

    async fn read_range(&self, id: &UploadId, range: Range<u64>) -> Result<DataStream, StoreError> {
        let state = self.load_settled(id).await?;
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
            Progress::Open { .. } => Err(StoreError::NotSupported("reading an unfinished S3 upload")),
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
pub(crate) struct WriterGuard<'a> {
    store: &'a S3Store,
    id: &'a UploadId,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        self.store.writers().remove(self.id);
    }
}

impl Store for S3Store {
    fn capabilities(&self) -> Capabilities {
        Capabilities::NONE
            .with_termination()
            .with_deferred_length()
            .with_concatenation()
            .with_staged_append()
            .with_listing()
    }

    /// Creates the multipart upload, an empty incomplete part, then the info
    /// object (the upload exists from then on). A zero-byte upload is
    /// completed at once.
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(self.create_upload(upload))
    }

    /// Reads the info object, the incomplete part's size and part count,
    /// and lists the committed parts.
    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        Box::pin(async move { Ok(self.load(id).await?.info(id)) })
    }

    fn append<'a>(&'a self, id: &'a UploadId, offset: u64, data: DataStream) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.append_with(id, offset, data, Mode::Keep))
    }

    fn append_staged<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        data: DataStream,
        verdict: Verdict,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.append_with(id, offset, data, Mode::Staged(verdict)))
    }

    /// Rewrites the info object; if the offset already is the new length,
    /// completes the multipart upload.
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.declare(id, length))
    }

    /// Deletes the info object (the upload is gone from then on), aborts the
    /// multipart upload and deletes the incomplete part and the data object.
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.remove(id))
    }

    /// Streams a ranged GET of the data object. S3 cannot read the parts of
    /// an unfinished multipart upload, so a non-empty range of an unfinished
    /// upload is [`StoreError::NotSupported`]; the handler only reads
    /// complete uploads.
    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(self.read_range(id, range))
    }

    /// Copies the partials' objects into the final upload's parts with
    /// UploadPartCopy where S3's part rules allow, and streams them through
    /// otherwise.
    fn concatenate<'a>(&'a self, id: &'a UploadId, partials: &'a [UploadId]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(concat::concatenate(self, id, partials))
    }

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
