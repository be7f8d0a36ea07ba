//! Small helpers for writing store tests: uploads, bodies, read-back.

use std::io;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures::channel::{mpsc, oneshot};
use futures::stream::BoxStream;
use futures::{FutureExt as _, SinkExt as _, StreamExt as _, TryStreamExt as _};
use tus_core::headers::Metadata;
use tus_core::store::{Durability, Store, StoreError};
use tus_core::upload::{ConcatPart, NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

/// A request body as the suite feeds it to a store writer: chunks, or an
/// error where the client went away.
pub type Body = BoxStream<'static, io::Result<Bytes>>;

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

/// The time the suite's writes happen at: after [`created_at`], so a
/// store that keeps its own clock instead of the injected one is caught.
pub fn written_at() -> SystemTime {
    created_at() + Duration::new(3600, 987_654_321)
}

/// Every id the store's listing yields, in its order.
pub async fn list_ids(store: &dyn Store) -> Vec<UploadId> {
    store
        .listing()
        .expect("listing capability")
        .list()
        .try_collect()
        .await
        .unwrap_or_else(|error| panic!("list: {error}"))
}

/// Pushes `body` into a writer opened at `offset` with `durability`, at
/// [`written_at`]. A body error ends the write like a client that went
/// away: a keep-prefix writer is committed, an all-or-nothing one aborted.
/// With `keep` false an all-or-nothing writer is aborted even when the body
/// completed (a checksum mismatch). Returns the offset afterwards.
pub async fn write(
    store: &dyn Store,
    id: &UploadId,
    offset: u64,
    durability: Durability,
    mut body: Body,
    keep: bool,
) -> Result<u64, StoreError> {
    let mut writer = store.writer(id, offset, durability, written_at()).await?;
    let mut complete = true;
    loop {
        // Like a server: whenever the body has nothing ready, the writer
        // flushes what it holds.
        let chunk = match body.next().now_or_never() {
            Some(chunk) => chunk,
            None => {
                if let Err(error) = writer.flush().await {
                    writer.abort().await.ok();
                    return Err(error);
                }
                body.next().await
            }
        };
        let Some(chunk) = chunk else { break };
        match chunk {
            Ok(chunk) => {
                if let Err(error) = writer.feed(chunk).await {
                    writer.abort().await.ok();
                    return Err(error);
                }
            }
            Err(_) => {
                complete = false;
                break;
            }
        }
    }
    if let Err(error) = writer.flush().await {
        writer.abort().await.ok();
        return Err(error);
    }
    let kept = match durability {
        Durability::KeepPrefix => true,
        Durability::AllOrNothing => complete && keep,
    };
    if kept {
        writer.commit().await
    } else {
        writer.abort().await
    }
}

/// A plain append (keep what arrives) of `body` at `offset`.
pub async fn append(store: &dyn Store, id: &UploadId, offset: u64, body: Body) -> Result<u64, StoreError> {
    write(store, id, offset, Durability::KeepPrefix, body, true).await
}

/// An all-or-nothing append of `body` at `offset`, committed only if the
/// body completes and `keep` is true.
pub async fn append_verified(
    store: &dyn Store,
    id: &UploadId,
    offset: u64,
    body: Body,
    keep: bool,
) -> Result<u64, StoreError> {
    write(store, id, offset, Durability::AllOrNothing, body, keep).await
}

/// Declares a deferred length through the store's capability.
pub async fn declare(store: &dyn Store, id: &UploadId, length: u64) -> Result<(), StoreError> {
    store
        .deferred_length()
        .expect("deferred-length capability")
        .declare_length(id, length)
        .await
}

/// Terminates through the store's capability.
pub async fn terminate(store: &dyn Store, id: &UploadId) -> Result<(), StoreError> {
    store.termination().expect("termination capability").terminate(id).await
}

/// Concatenates through the store's capability, at [`written_at`].
pub async fn concatenate(store: &dyn Store, id: &UploadId, partials: &[UploadId]) -> Result<u64, StoreError> {
    store
        .concatenation()
        .expect("concatenation capability")
        .concatenate(id, partials, written_at())
        .await
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
pub fn body(chunks: &[&[u8]]) -> Body {
    let items: Vec<io::Result<Bytes>> = chunks.iter().map(|chunk| Ok(Bytes::copy_from_slice(chunk))).collect();
    futures::stream::iter(items).boxed()
}

/// A body with no bytes.
pub fn empty_body() -> Body {
    futures::stream::empty().boxed()
}

/// A body fed through a channel: it stays pending until the sender sends
/// a chunk (or an error), and ends when the sender is dropped.
pub fn channel_body() -> (mpsc::UnboundedSender<io::Result<Bytes>>, Body) {
    let (sender, receiver) = mpsc::unbounded();
    (sender, receiver.boxed())
}

/// Like [`channel_body`], plus a receiver that resolves when the store
/// first polls the body.
pub fn watched_channel_body() -> (mpsc::UnboundedSender<io::Result<Bytes>>, Body, oneshot::Receiver<()>) {
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
    if !info.is_complete() {
        // Stores need serve reads of complete uploads only (S3 cannot read an
        // unfinished multipart upload): the offset is all there is to check,
        // unless the store reads it anyway.
        let Ok(stream) = store.read(id, 0..info.offset).await else {
            return;
        };
        let chunks: Vec<Bytes> = stream.try_collect().await.unwrap_or_default();
        assert!(
            chunks.concat() == expected,
            "data of {id} differs from what was appended"
        );
        return;
    }
    let data = read_range(store, id, 0..info.offset).await;
    assert!(data == expected, "data of {id} differs from what was appended");
}

/// `len` deterministic, non-repeating-looking bytes.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) % 251) as u8).collect()
}
