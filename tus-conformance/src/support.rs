//! Small helpers for writing store tests: uploads, bodies, read-back.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::{StreamExt as _, TryStreamExt as _};
use tus_core::proto::headers::Metadata;
use tus_core::store::{
    ConcatPart, DataStream, NewUpload, Store, StoreError, UploadId, UploadInfo, UploadKind, UploadSize, Verdict,
};

/// The creation time every suite upload gets: fixed, with sub-second
/// precision, so a store that rounds it is caught.
pub fn created_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789)
}

/// `text` as an id. Panics if it is not a valid id.
pub fn id(text: &str) -> UploadId {
    UploadId::parse(text).unwrap_or_else(|_| panic!("{text:?} is not a valid upload id"))
}

/// A single upload of `size` with no metadata, created at [`created_at`].
pub fn new_upload(id_text: &str, size: UploadSize) -> NewUpload {
    NewUpload {
        id: id(id_text),
        size,
        metadata: Metadata::new(),
        kind: UploadKind::Single,
        created_at: created_at(),
    }
}

/// A partial upload (`Upload-Concat: partial`) of `size`.
pub fn new_partial(id_text: &str, size: UploadSize) -> NewUpload {
    NewUpload {
        kind: UploadKind::Partial,
        ..new_upload(id_text, size)
    }
}

/// A final upload of `parts`, whose size is `size`.
pub fn new_final(id_text: &str, parts: Vec<ConcatPart>, size: u64) -> NewUpload {
    NewUpload {
        kind: UploadKind::Final(parts),
        ..new_upload(id_text, UploadSize::Known(size))
    }
}

/// The partial `id_text`, named by the client as `reference`.
pub fn part(id_text: &str, reference: &str) -> ConcatPart {
    ConcatPart {
        id: id(id_text),
        reference: reference.to_owned(),
    }
}

/// A staged-append verdict that answers `keep`, and a flag it sets when
/// it is asked.
pub fn verdict(keep: bool) -> (Verdict, Arc<AtomicBool>) {
    let asked = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&asked);
    let verdict: Verdict = Box::new(move || {
        flag.store(true, Ordering::SeqCst);
        keep
    });
    (verdict, asked)
}

/// Whether a flag from [`verdict`] was set.
pub fn was_asked(asked: &AtomicBool) -> bool {
    asked.load(Ordering::SeqCst)
}

/// Every id [`Store::list`] yields, in its order.
pub async fn list_ids(store: &dyn Store) -> Vec<UploadId> {
    store
        .list()
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("list: {error}"))
}

/// Creates `upload` and checks the store reports it as created.
pub async fn create(store: &dyn Store, upload: NewUpload) -> UploadId {
    let id = upload.id.clone();
    let expected = UploadInfo::new(upload.clone());
    let created = store
        .create(upload)
        .await
        .unwrap_or_else(|error| panic!("create {id}: {error}"));
    assert_eq!(created, expected, "create returns the new upload's info");
    id
}

/// A body made of `chunks`, all immediately ready.
pub fn body(chunks: &[&[u8]]) -> DataStream {
    let items: Vec<io::Result<Bytes>> = chunks.iter().map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
    futures::stream::iter(items).boxed()
}

/// A body with no bytes.
pub fn empty_body() -> DataStream {
    futures::stream::empty().boxed()
}

/// A body fed through a channel: it stays pending until the sender sends
/// a chunk (or an error), and ends when the sender is dropped.
pub fn channel_body() -> (mpsc::UnboundedSender<io::Result<Bytes>>, DataStream) {
    let (sender, receiver) = mpsc::unbounded();
    (sender, receiver.boxed())
}

/// Like [`channel_body`], plus a receiver that resolves when the store
/// first polls the body.
pub fn watched_channel_body() -> (
    mpsc::UnboundedSender<io::Result<Bytes>>,
    DataStream,
    oneshot::Receiver<()>,
) {
    let (sender, mut receiver) = mpsc::unbounded();
    let (polled, first_polled) = oneshot::channel();
    let mut polled = Some(polled);
    let stream = futures::stream::poll_fn(move |cx| {
        if let Some(polled) = polled.take() {
            // Nobody waiting for the signal is fine.
            polled.send(()).ok();
        }
        receiver.poll_next_unpin(cx)
    });
    (sender, stream.boxed(), first_polled)
}

/// Reads `range` of the upload back and concatenates the chunks.
pub async fn read_range(store: &dyn Store, id: &UploadId, range: Range<u64>) -> Vec<u8> {
    let stream = store
        .read(id, range.clone())
        .await
        .unwrap_or_else(|error| panic!("read {id} {range:?}: {error}"));
    let chunks: Vec<Bytes> = stream
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("read stream {id} {range:?}: {error}"));
    chunks.concat()
}

/// Checks that the upload's offset is `expected.len()` and that its bytes are `expected`
/// (only the offset for an unfinished upload of a store that cannot read those).
pub async fn assert_data(store: &dyn Store, id: &UploadId, expected: &[u8]) {
    let info = store
        .info(id)
        .await
        .unwrap_or_else(|error| panic!("info {id}: {error}"));
    assert_eq!(info.offset, expected.len() as u64, "offset of {id}");
    if !info.is_complete() && matches!(store.read(id, 0..info.offset).await, Err(StoreError::NotSupported(_))) {
        // A store that serves only complete uploads (S3 cannot read an
        // unfinished multipart upload): the offset is all there is to check.
        return;
    }
    let data = read_range(store, id, 0..info.offset).await;
    assert!(data == expected, "data of {id} differs from what was appended");
}

/// `len` deterministic, non-repeating-looking bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) % 251) as u8).collect()
}
