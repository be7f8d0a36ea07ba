//! The suite's cases, one rule of the [`Store`] contract each.
//!
//! Every case creates its own upload under a fixed id starting with `conf-`.

use std::future::Future;
use std::io;
use std::pin::pin;

use bytes::Bytes;
use futures::future::{Either, select};
use tus_core::proto::headers::Metadata;
use tus_core::store::{Store, StoreError, UploadSize};

use crate::support::{
    self, assert_data, body, channel_body, create, created_at, empty_body, new_upload, pattern, read_range,
    watched_channel_body,
};

/// A new upload reads back as created; a second create with its id fails
/// and leaves it untouched.
pub async fn create_and_info(store: &dyn Store) {
    let upload = new_upload("conf-create", UploadSize::Known(10));
    let id = create(store, upload.clone()).await;
    let info = store.info(&id).await.expect("info of a created upload");
    assert_eq!(info.id, id);
    assert_eq!(info.size, UploadSize::Known(10));
    assert_eq!(info.offset, 0);
    assert_eq!(info.metadata, upload.metadata);
    assert_eq!(info.kind, upload.kind);
    assert_eq!(info.created_at, created_at(), "creation time is kept to the nanosecond");

    let mut again = upload;
    again.size = UploadSize::Deferred;
    assert!(store.create(again).await.is_err(), "create fails when the id exists");
    let info = store.info(&id).await.expect("info after a refused create");
    assert_eq!(info.size, UploadSize::Known(10), "a refused create changes nothing");

    let missing = support::id("conf-never-created");
    assert!(
        matches!(store.info(&missing).await, Err(StoreError::NotFound)),
        "info of an unknown id"
    );
    assert!(
        matches!(
            store.append(&missing, 0, body(&[b"x"])).await,
            Err(StoreError::NotFound)
        ),
        "append to an unknown id"
    );
}

/// Appends in several requests of several chunks read back byte-exact, as a
/// whole and as sub-ranges.
pub async fn append_in_chunks_and_read_back(store: &dyn Store) {
    let id = create(store, new_upload("conf-chunks", UploadSize::Known(11))).await;
    let offset = store
        .append(&id, 0, body(&[b"hel", b"", b"lo w"]))
        .await
        .expect("first append");
    assert_eq!(offset, 7);
    assert_eq!(store.info(&id).await.expect("info").offset, 7);
    let offset = store
        .append(&id, 7, body(&[b"or", b"ld"]))
        .await
        .expect("second append");
    assert_eq!(offset, 11);
    assert_data(store, &id, b"hello world").await;
    assert_eq!(read_range(store, &id, 3..8).await, b"lo wo");
    assert_eq!(read_range(store, &id, 10..11).await, b"d");
    assert_eq!(read_range(store, &id, 4..4).await, b"");
    assert!(store.info(&id).await.expect("info").is_complete());
}

/// A multi-MiB body in many chunks goes through intact, whatever the store's
/// internal chunk sizes.
pub async fn large_append_streams_through(store: &dyn Store) {
    const LEN: usize = 3 * 1024 * 1024 + 17;
    let data = pattern(LEN);
    let id = create(store, new_upload("conf-large", UploadSize::Known(LEN as u64))).await;
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024 + 3).collect();
    let offset = store.append(&id, 0, body(&chunks)).await.expect("large append");
    assert_eq!(offset, LEN as u64);
    assert_data(store, &id, &data).await;
    let middle = 1024 * 1024 - 5..2 * 1024 * 1024 + 5;
    let read = read_range(store, &id, middle.start as u64..middle.end as u64).await;
    assert!(
        read == data[middle],
        "a range across internal chunk boundaries reads back"
    );
}

/// An append at any offset other than the upload's fails with
/// `OffsetMismatch` and writes nothing.
pub async fn stale_offset_writes_nothing(store: &dyn Store) {
    let id = create(store, new_upload("conf-stale", UploadSize::Known(20))).await;
    assert_eq!(store.append(&id, 0, body(&[b"hello"])).await.expect("append"), 5);
    for stale in [0, 3, 6, 100] {
        let result = store.append(&id, stale, body(&[b"XXXX"])).await;
        assert!(
            matches!(result, Err(StoreError::OffsetMismatch { current: 5 })),
            "append at {stale} must fail with the current offset 5, got {result:?}"
        );
    }
    assert_data(store, &id, b"hello").await;
}

/// While one append is in flight (its body open but idle), a second append
/// at the right offset fails with `Busy` and writes nothing; once the first
/// ends, appends work again.
///
/// The second append starts once the store first polls the first body: a
/// store has taken the upload by the time it reads the body.
pub async fn concurrent_append_is_busy(store: &dyn Store) {
    let id = create(store, new_upload("conf-busy", UploadSize::Known(6))).await;
    let (sender, first_body, first_polled) = watched_channel_body();
    let first = pin!(store.append(&id, 0, first_body));
    let second = pin!(async {
        first_polled.await.expect("the first body is alive");
        store.append(&id, 0, body(&[b"xyz"])).await
    });
    let first = match select(first, second).await {
        Either::Left((result, _)) => {
            panic!("the first append ended while its body was open: {result:?}")
        }
        Either::Right((second, first)) => {
            assert!(
                matches!(second, Err(StoreError::Busy)),
                "a second append while the first is in flight must be Busy, got {second:?}"
            );
            first
        }
    };
    sender
        .unbounded_send(Ok(Bytes::from_static(b"abc")))
        .expect("channel is open");
    drop(sender);
    assert_eq!(first.await.expect("first append"), 3);
    let offset = store
        .append(&id, 3, body(&[b"def"]))
        .await
        .expect("append after the first ended");
    assert_eq!(offset, 6);
    assert_data(store, &id, b"abcdef").await;
}

/// A body that fails midway keeps every byte received before the failure and
/// returns `Ok` with that offset; nothing after the failure is read.
pub async fn failing_body_keeps_received_bytes(store: &dyn Store) {
    let id = create(store, new_upload("conf-failing", UploadSize::Known(12))).await;
    let items = vec![
        Ok(Bytes::from_static(b"abc")),
        Ok(Bytes::from_static(b"def")),
        Err(io::Error::other("client went away")),
        Ok(Bytes::from_static(b"never")),
    ];
    let failing = futures::StreamExt::boxed(futures::stream::iter(items));
    let offset = store
        .append(&id, 0, failing)
        .await
        .expect("a failed body is not a store error");
    assert_eq!(offset, 6);
    assert_data(store, &id, b"abcdef").await;

    let (sender, idle_then_failing) = channel_body();
    sender.unbounded_send(Ok(Bytes::from_static(b"gh"))).expect("open");
    sender.unbounded_send(Err(io::Error::other("reset"))).expect("open");
    let offset = store.append(&id, 6, idle_then_failing).await.expect("failed body");
    assert_eq!(offset, 8);
    assert_data(store, &id, b"abcdefgh").await;
}

/// A deferred length is declared once; a second declaration (or one on a
/// known length) fails with `LengthAlreadyKnown`.
pub async fn declare_length_once(store: &dyn Store) {
    if !store.capabilities().deferred_length() {
        return;
    }
    let id = create(store, new_upload("conf-deferred", UploadSize::Deferred)).await;
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    store.declare_length(&id, 5).await.expect("first declaration");
    let info = store.info(&id).await.expect("info");
    assert_eq!(info.size, UploadSize::Known(5));
    assert_eq!(info.offset, 3, "declaring keeps the data");
    assert!(matches!(
        store.declare_length(&id, 5).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    assert!(matches!(
        store.declare_length(&id, 9).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    assert_eq!(store.info(&id).await.expect("info").size, UploadSize::Known(5));

    let known = create(store, new_upload("conf-known", UploadSize::Known(1))).await;
    assert!(matches!(
        store.declare_length(&known, 1).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    let missing = support::id("conf-never-declared");
    assert!(matches!(
        store.declare_length(&missing, 1).await,
        Err(StoreError::NotFound)
    ));
}

/// After `terminate`, every operation on the upload fails with `NotFound`.
pub async fn terminate_removes_everything(store: &dyn Store) {
    if !store.capabilities().termination() {
        return;
    }
    let id = create(store, new_upload("conf-terminate", UploadSize::Deferred)).await;
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    store.terminate(&id).await.expect("terminate");
    assert!(
        matches!(store.info(&id).await, Err(StoreError::NotFound)),
        "info after terminate"
    );
    let append = store.append(&id, 3, body(&[b"d"])).await;
    assert!(
        matches!(append, Err(StoreError::NotFound)),
        "append after terminate: {append:?}"
    );
    let append = store.append(&id, 0, body(&[b"d"])).await;
    assert!(
        matches!(append, Err(StoreError::NotFound)),
        "append at 0 after terminate: {append:?}"
    );
    assert!(
        matches!(store.read(&id, 0..3).await, Err(StoreError::NotFound)),
        "read after terminate"
    );
    assert!(
        matches!(store.read(&id, 0..0).await, Err(StoreError::NotFound)),
        "empty read after terminate"
    );
    if store.capabilities().deferred_length() {
        assert!(matches!(store.declare_length(&id, 3).await, Err(StoreError::NotFound)));
    }
    assert!(
        matches!(store.terminate(&id).await, Err(StoreError::NotFound)),
        "terminate twice"
    );
}

/// An upload of length zero is complete at creation and reads back empty.
pub async fn zero_length_upload(store: &dyn Store) {
    let id = create(store, new_upload("conf-empty", UploadSize::Known(0))).await;
    let info = store.info(&id).await.expect("info");
    assert_eq!(info.offset, 0);
    assert!(info.is_complete(), "a zero-length upload is complete at once");
    assert_eq!(read_range(store, &id, 0..0).await, b"");
    assert_eq!(store.append(&id, 0, empty_body()).await.expect("empty append"), 0);
    assert_data(store, &id, b"").await;
}

/// Metadata comes back with the same pairs in the same order, values
/// byte-exact (non-UTF-8 and empty values included).
pub async fn metadata_round_trips_byte_exact(store: &dyn Store) {
    let mut upload = new_upload("conf-metadata", UploadSize::Known(1));
    upload.metadata = sample_metadata();
    let id = create(store, upload.clone()).await;
    let info = store.info(&id).await.expect("info");
    assert_eq!(info.metadata, upload.metadata);
    let pairs: Vec<(&str, &[u8])> = info.metadata.iter().collect();
    assert_eq!(
        pairs[0],
        ("zeta", b"last letter first".as_slice()),
        "order is kept, not sorted"
    );
}

/// Reopening the storage (a restart) keeps every upload's info, offset and
/// bytes, and the uploads can be continued.
pub async fn reopen_preserves_uploads<S, F, Fut>(open: &mut F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let mut upload = new_upload("conf-restart", UploadSize::Deferred);
    upload.metadata = sample_metadata();
    let known = new_upload("conf-restart-known", UploadSize::Known(6));
    let (before, known_before) = {
        let store = open().await;
        let id = create(&store, upload.clone()).await;
        assert_eq!(
            store
                .append(&id, 0, body(&[b"before ", b"restart"]))
                .await
                .expect("append"),
            14
        );
        let known_id = create(&store, known.clone()).await;
        assert_eq!(store.append(&known_id, 0, body(&[b"abc"])).await.expect("append"), 3);
        (
            store.info(&id).await.expect("info"),
            store.info(&known_id).await.expect("info"),
        )
    };

    let store = open().await;
    let store: &dyn Store = &store;
    assert_eq!(store.info(&upload.id).await.expect("info after reopen"), before);
    assert_eq!(store.info(&known.id).await.expect("info after reopen"), known_before);
    assert_data(store, &upload.id, b"before restart").await;
    assert_data(store, &known.id, b"abc").await;

    let offset = store
        .append(&known.id, 3, body(&[b"def"]))
        .await
        .expect("append after reopen");
    assert_eq!(offset, 6);
    assert!(store.info(&known.id).await.expect("info").is_complete());
    if store.capabilities().deferred_length() {
        store
            .declare_length(&upload.id, 14)
            .await
            .expect("declare after reopen");
        assert!(store.info(&upload.id).await.expect("info").is_complete());
    }
}

fn sample_metadata() -> Metadata {
    let mut metadata = Metadata::new();
    let pairs: [(&str, &[u8]); 5] = [
        ("zeta", b"last letter first"),
        ("filename", "na\u{ef}ve r\u{e9}sum\u{e9}.pdf".as_bytes()),
        ("binary", &[0xff, 0xfe, 0x00, 0x80, b'\n', b',', b' ']),
        ("empty", b""),
        ("is_confidential", b""),
    ];
    for (key, value) in pairs {
        metadata.insert(key, value).expect("valid metadata key");
    }
    metadata
}
