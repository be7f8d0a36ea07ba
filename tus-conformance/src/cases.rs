//! The suite's cases, one rule of the [`Store`] contract each.
//!
//! Every case creates its own upload under a fixed id starting with `conf-`.

use std::future::Future;
use std::io;
use std::pin::pin;

use bytes::Bytes;
use futures::future::{Either, join, select};
use tus_core::proto::headers::Metadata;
use tus_core::store::{Store, StoreError, UploadKind, UploadSize};

use crate::support::{
    self, assert_data, body, channel_body, create, created_at, empty_body, list_ids, new_final, new_partial,
    new_upload, part, pattern, read_range, verdict, was_asked, watched_channel_body,
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

/// A staged append whose body arrives whole and whose verdict keeps it is
/// stored like an ordinary append, large bodies included; while it runs,
/// another append is `Busy`.
pub async fn staged_append_keeps_accepted_bytes(store: &dyn Store) {
    if !store.capabilities().staged_append() {
        return;
    }
    let id = create(store, new_upload("conf-staged", UploadSize::Known(12))).await;
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let (keep, asked) = verdict(true);
    let offset = store
        .append_staged(&id, 3, body(&[b"de", b"", b"fg"]), keep)
        .await
        .expect("staged append");
    assert_eq!(offset, 7, "a kept staged append returns the new offset");
    assert!(was_asked(&asked), "the verdict decides");
    assert_data(store, &id, b"abcdefg").await;

    let (sender, idle_body, polled) = watched_channel_body();
    let staged = pin!(store.append_staged(&id, 7, idle_body, verdict(true).0));
    let second = pin!(async {
        polled.await.expect("the staged body is alive");
        store.append(&id, 7, body(&[b"xyz"])).await
    });
    let staged = match select(staged, second).await {
        Either::Left((result, _)) => panic!("the staged append ended while its body was open: {result:?}"),
        Either::Right((second, staged)) => {
            assert!(
                matches!(second, Err(StoreError::Busy)),
                "an append while a staged append is in flight must be Busy, got {second:?}"
            );
            staged
        }
    };
    sender
        .unbounded_send(Ok(Bytes::from_static(b"hijkl")))
        .expect("channel is open");
    drop(sender);
    assert_eq!(staged.await.expect("staged append"), 12);
    assert_data(store, &id, b"abcdefghijkl").await;
    assert!(store.info(&id).await.expect("info").is_complete());

    const LEN: usize = 2 * 1024 * 1024 + 33;
    let data = pattern(LEN);
    let id = create(
        store,
        new_upload("conf-staged-large", UploadSize::Known(LEN as u64 + 1)),
    )
    .await;
    assert_eq!(store.append(&id, 0, body(&[b"<"])).await.expect("append"), 1);
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024 + 7).collect();
    let offset = store
        .append_staged(&id, 1, body(&chunks), verdict(true).0)
        .await
        .expect("large staged append");
    assert_eq!(offset, LEN as u64 + 1);
    let read = read_range(store, &id, 1..LEN as u64 + 1).await;
    assert!(read == data, "a large staged append reads back intact");
}

/// A staged append its verdict rejects returns the old offset and changes
/// nothing, not even the time of the last change; the upload is free again.
pub async fn staged_append_rejected_by_verdict_changes_nothing(store: &dyn Store) {
    if !store.capabilities().staged_append() {
        return;
    }
    let id = create(store, new_upload("conf-staged-rejected", UploadSize::Known(10))).await;
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let before = store.info(&id).await.expect("info");
    let (reject, asked) = verdict(false);
    let offset = store
        .append_staged(&id, 3, body(&[b"XY", b"Z"]), reject)
        .await
        .expect("a rejected staged append is not a store error");
    assert_eq!(offset, 3, "a rejected staged append returns the old offset");
    assert!(was_asked(&asked), "the verdict decides");
    assert_eq!(
        store.info(&id).await.expect("info"),
        before,
        "a rejected append changes nothing"
    );
    assert_data(store, &id, b"abc").await;

    let offset = store
        .append_staged(&id, 3, body(&[b"def"]), verdict(true).0)
        .await
        .expect("staged append after a rejected one");
    assert_eq!(offset, 6);
    assert_data(store, &id, b"abcdef").await;
}

/// A staged append whose body fails keeps none of it, whether the failure
/// is already queued or arrives after bytes were taken in.
pub async fn staged_append_failing_body_stores_nothing(store: &dyn Store) {
    if !store.capabilities().staged_append() {
        return;
    }
    let id = create(store, new_upload("conf-staged-failing", UploadSize::Known(10))).await;
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let before = store.info(&id).await.expect("info");
    let items = vec![
        Ok(Bytes::from_static(b"de")),
        Ok(Bytes::from_static(b"fg")),
        Err(io::Error::other("client went away")),
        Ok(Bytes::from_static(b"never")),
    ];
    let failing = futures::StreamExt::boxed(futures::stream::iter(items));
    let offset = store
        .append_staged(&id, 3, failing, verdict(true).0)
        .await
        .expect("a failed body is not a store error");
    assert_eq!(offset, 3, "a failed staged append returns the old offset");
    assert_eq!(
        store.info(&id).await.expect("info"),
        before,
        "a failed staged append changes nothing"
    );

    let (sender, idle_body, polled) = watched_channel_body();
    sender.unbounded_send(Ok(Bytes::from_static(b"de"))).expect("open");
    let fail_later = async {
        polled.await.expect("the staged body is alive");
        sender.unbounded_send(Ok(Bytes::from_static(b"fg"))).expect("open");
        sender.unbounded_send(Err(io::Error::other("reset"))).expect("open");
    };
    let (offset, ()) = join(store.append_staged(&id, 3, idle_body, verdict(true).0), fail_later).await;
    assert_eq!(offset.expect("a failed body is not a store error"), 3);
    assert_eq!(
        store.info(&id).await.expect("info"),
        before,
        "a failed staged append changes nothing"
    );
    assert_data(store, &id, b"abc").await;
}

/// A staged append at any offset other than the upload's fails with
/// `OffsetMismatch`, writes nothing and asks no verdict.
pub async fn staged_append_at_stale_offset_is_mismatch(store: &dyn Store) {
    if !store.capabilities().staged_append() {
        return;
    }
    let id = create(store, new_upload("conf-staged-stale", UploadSize::Known(20))).await;
    assert_eq!(store.append(&id, 0, body(&[b"hello"])).await.expect("append"), 5);
    for stale in [0, 3, 6, 100] {
        let (keep, asked) = verdict(true);
        let result = store.append_staged(&id, stale, body(&[b"XXXX"]), keep).await;
        assert!(
            matches!(result, Err(StoreError::OffsetMismatch { current: 5 })),
            "staged append at {stale} must fail with the current offset 5, got {result:?}"
        );
        assert!(!was_asked(&asked), "no verdict for an append that never opened");
    }
    assert_data(store, &id, b"hello").await;
    let missing = support::id("conf-never-staged");
    let result = store.append_staged(&missing, 0, body(&[b"x"]), verdict(true).0).await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "staged append to an unknown id: {result:?}"
    );
}

/// Concatenation writes the partials' bytes, in order and byte-exact, as the
/// final upload's data, also when a partial appears several times; the
/// partials are left as they were. A missing partial changes nothing.
pub async fn concatenate_partials(store: &dyn Store) {
    if !store.capabilities().concatenation() {
        return;
    }
    const LEN: usize = 300_001;
    let large = pattern(LEN);
    let first = create(store, new_partial("conf-concat-p1", UploadSize::Known(6))).await;
    assert_eq!(store.append(&first, 0, body(&[b"hello "])).await.expect("append"), 6);
    let second = create(store, new_partial("conf-concat-p2", UploadSize::Known(5))).await;
    assert_eq!(
        store.append(&second, 0, body(&[b"wor", b"ld"])).await.expect("append"),
        5
    );
    let third = create(store, new_partial("conf-concat-p3", UploadSize::Known(LEN as u64))).await;
    let chunks: Vec<&[u8]> = large.chunks(32 * 1024).collect();
    assert_eq!(
        store.append(&third, 0, body(&chunks)).await.expect("append"),
        LEN as u64
    );
    let partials_before = [
        store.info(&first).await.expect("info"),
        store.info(&second).await.expect("info"),
        store.info(&third).await.expect("info"),
    ];

    let parts = vec![
        part("conf-concat-p1", "/files/conf-concat-p1"),
        part("conf-concat-p2", "/files/conf-concat-p2"),
    ];
    let whole = create(store, new_final("conf-concat-final", parts.clone(), 11)).await;
    let before = store.info(&whole).await.expect("info");
    let offset = store
        .concatenate(&whole, &[first.clone(), second.clone()])
        .await
        .expect("concatenate");
    assert_eq!(offset, 11, "concatenate returns the final upload's new offset");
    assert_data(store, &whole, b"hello world").await;
    let info = store.info(&whole).await.expect("info");
    assert!(info.is_complete(), "the final upload is complete");
    assert_eq!(info.kind, UploadKind::Final(parts), "concatenation keeps the parts");
    assert!(
        info.updated_at >= before.updated_at,
        "the time of the last change does not go back"
    );

    let order = [first.clone(), third.clone(), first.clone(), second.clone()];
    let mut expected = b"hello ".to_vec();
    expected.extend_from_slice(&large);
    expected.extend_from_slice(b"hello world");
    let parts = order.iter().map(|id| part(id.as_str(), id.as_str())).collect();
    let repeated = create(store, new_final("conf-concat-repeated", parts, expected.len() as u64)).await;
    let offset = store.concatenate(&repeated, &order).await.expect("concatenate");
    assert_eq!(offset, expected.len() as u64);
    assert_data(store, &repeated, &expected).await;

    let missing = support::id("conf-concat-missing");
    let parts = vec![part("conf-concat-p1", "p1"), part("conf-concat-missing", "missing")];
    let broken = create(store, new_final("conf-concat-broken", parts, 6)).await;
    let result = store.concatenate(&broken, &[first.clone(), missing]).await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "a missing partial: {result:?}"
    );
    assert_data(store, &broken, b"").await;
    let result = store
        .concatenate(&support::id("conf-concat-nowhere"), std::slice::from_ref(&first))
        .await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "a missing final upload: {result:?}"
    );

    for (id, before) in [first, second, third].iter().zip(partials_before) {
        assert_eq!(
            store.info(id).await.expect("info"),
            before,
            "partial {id} is left unchanged"
        );
    }
    assert_data(store, &support::id("conf-concat-p1"), b"hello ").await;
    assert_data(store, &support::id("conf-concat-p3"), &large).await;
}

/// Listing yields every upload once, and no terminated one.
pub async fn list_returns_live_uploads(store: &dyn Store) {
    if !store.capabilities().listing() {
        return;
    }
    let kept = [
        create(store, new_upload("conf-list-a", UploadSize::Known(1))).await,
        create(store, new_partial("conf-list-b", UploadSize::Deferred)).await,
        create(
            store,
            new_final("conf-list-c", vec![part("conf-list-b", "/files/conf-list-b")], 0),
        )
        .await,
    ];
    let gone = create(store, new_upload("conf-list-gone", UploadSize::Known(1))).await;
    let terminates = store.capabilities().termination();
    if terminates {
        store.terminate(&gone).await.expect("terminate");
    }
    let mut listed = list_ids(store).await;
    for id in &kept {
        assert!(listed.contains(id), "list yields {id}");
    }
    if terminates {
        assert!(!listed.contains(&gone), "list does not yield the terminated {gone}");
    }
    let count = listed.len();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), count, "list yields each upload once");
}

/// `updated_at` is never before `created_at` and never goes back when data
/// is written.
pub async fn updated_at_follows_data_changes(store: &dyn Store) {
    let id = create(store, new_upload("conf-updated", UploadSize::Known(6))).await;
    let created = store.info(&id).await.expect("info");
    assert!(created.updated_at >= created.created_at, "updated before created");
    assert_eq!(store.append(&id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let appended = store.info(&id).await.expect("info");
    assert!(
        appended.updated_at >= created.updated_at,
        "an append moved updated_at back"
    );
    assert_eq!(appended.created_at, created.created_at, "an append keeps created_at");
    if store.capabilities().staged_append() {
        let offset = store
            .append_staged(&id, 3, body(&[b"def"]), verdict(true).0)
            .await
            .expect("staged append");
        assert_eq!(offset, 6);
        let staged = store.info(&id).await.expect("info");
        assert!(
            staged.updated_at >= appended.updated_at,
            "a staged append moved updated_at back"
        );
    }
}

/// A final upload's parts, references byte-exact, and its concatenated
/// data survive a restart.
pub async fn concat_references_survive_reopen<S, F, Fut>(open: &mut F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let parts = vec![
        part("conf-ref-part", "https://example.com/files/conf-ref-part"),
        part("conf-ref-part", "/files/conf-ref-part?a=1&b=%2F#frag"),
        part("conf-ref-part", " \"quoted\" \\ na\u{ef}ve\t\u{1f600} "),
    ];
    let before = {
        let store = open().await;
        if !store.capabilities().concatenation() {
            return;
        }
        let partial = create(&store, new_partial("conf-ref-part", UploadSize::Known(2))).await;
        assert_eq!(store.append(&partial, 0, body(&[b"ab"])).await.expect("append"), 2);
        let whole = create(&store, new_final("conf-ref-final", parts.clone(), 6)).await;
        let ids = [partial.clone(), partial.clone(), partial];
        assert_eq!(store.concatenate(&whole, &ids).await.expect("concatenate"), 6);
        store.info(&whole).await.expect("info")
    };

    let store = open().await;
    let store: &dyn Store = &store;
    let after = store.info(&before.id).await.expect("info after reopen");
    assert_eq!(
        after.kind,
        UploadKind::Final(parts),
        "parts and references survive a restart byte-exact"
    );
    assert_eq!(after, before, "a final upload's info survives a restart");
    assert_data(store, &before.id, b"ababab").await;
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
