//! The suite's cases, one rule of the [`Store`] contract each.
//!
//! Every case creates its own upload under a fixed id starting with `conf-`.

use std::future::Future;
use std::io;
use std::pin::pin;

use bytes::Bytes;
use futures::SinkExt as _;
use futures::future::{Either, join, select};
use tus_core::headers::Metadata;
use tus_core::store::{Durability, Store, StoreError};
use tus_core::upload::{UploadKind, UploadSize};

use crate::support::{
    self, append, append_verified, assert_data, body, channel_body, concatenate, create, created_at, declare,
    empty_body, list_ids, new_final, new_partial, new_upload, part, pattern, read_range, terminate,
    watched_channel_body, written_at,
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
    let refused = store.create(again).await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists)),
        "create fails with AlreadyExists when the id exists, got {refused:?}"
    );
    let info = store.info(&id).await.expect("info after a refused create");
    assert_eq!(info.size, UploadSize::Known(10), "a refused create changes nothing");

    let missing = support::id("conf-never-created");
    assert!(
        matches!(store.info(&missing).await, Err(StoreError::NotFound)),
        "info of an unknown id"
    );
    assert!(
        matches!(
            append(store, &missing, 0, body(&[b"x"])).await,
            Err(StoreError::NotFound)
        ),
        "append to an unknown id"
    );
}

/// Appends in several requests of several chunks read back byte-exact, as a
/// whole and as sub-ranges.
pub async fn append_in_chunks_and_read_back(store: &dyn Store) {
    let id = create(store, new_upload("conf-chunks", UploadSize::Known(11))).await;
    let offset = append(store, &id, 0, body(&[b"hel", b"", b"lo w"]))
        .await
        .expect("first append");
    assert_eq!(offset, 7);
    assert_eq!(store.info(&id).await.expect("info").offset, 7);
    let offset = append(store, &id, 7, body(&[b"or", b"ld"]))
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
    let offset = append(store, &id, 0, body(&chunks)).await.expect("large append");
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
    assert_eq!(append(store, &id, 0, body(&[b"hello"])).await.expect("append"), 5);
    for stale in [0, 3, 6, 100] {
        let result = append(store, &id, stale, body(&[b"XXXX"])).await;
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
    let first = pin!(append(store, &id, 0, first_body));
    let second = pin!(async {
        first_polled.await.expect("the first body is alive");
        append(store, &id, 0, body(&[b"xyz"])).await
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
    let offset = append(store, &id, 3, body(&[b"def"]))
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
    let offset = append(store, &id, 0, failing)
        .await
        .expect("a failed body is not a store error");
    assert_eq!(offset, 6);
    assert_data(store, &id, b"abcdef").await;

    let (sender, idle_then_failing) = channel_body();
    sender.unbounded_send(Ok(Bytes::from_static(b"gh"))).expect("open");
    sender.unbounded_send(Err(io::Error::other("reset"))).expect("open");
    let offset = append(store, &id, 6, idle_then_failing).await.expect("failed body");
    assert_eq!(offset, 8);
    assert_data(store, &id, b"abcdefgh").await;
}

/// A deferred length is declared once; a second declaration (or one on a
/// known length) fails with `LengthAlreadyKnown`.
pub async fn declare_length_once(store: &dyn Store) {
    if store.deferred_length().is_none() {
        return;
    }
    let id = create(store, new_upload("conf-deferred", UploadSize::Deferred)).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    declare(store, &id, 5).await.expect("first declaration");
    let info = store.info(&id).await.expect("info");
    assert_eq!(info.size, UploadSize::Known(5));
    assert_eq!(info.offset, 3, "declaring keeps the data");
    assert!(matches!(
        declare(store, &id, 5).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    assert!(matches!(
        declare(store, &id, 9).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    assert_eq!(store.info(&id).await.expect("info").size, UploadSize::Known(5));

    let known = create(store, new_upload("conf-known", UploadSize::Known(1))).await;
    assert!(matches!(
        declare(store, &known, 1).await,
        Err(StoreError::LengthAlreadyKnown)
    ));
    let missing = support::id("conf-never-declared");
    assert!(matches!(declare(store, &missing, 1).await, Err(StoreError::NotFound)));
}

/// After `terminate`, every operation on the upload fails with `NotFound`.
pub async fn terminate_removes_everything(store: &dyn Store) {
    if store.termination().is_none() {
        return;
    }
    let id = create(store, new_upload("conf-terminate", UploadSize::Deferred)).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    terminate(store, &id).await.expect("terminate");
    assert!(
        matches!(store.info(&id).await, Err(StoreError::NotFound)),
        "info after terminate"
    );
    let appended = append(store, &id, 3, body(&[b"d"])).await;
    assert!(
        matches!(appended, Err(StoreError::NotFound)),
        "append after terminate: {appended:?}"
    );
    let appended = append(store, &id, 0, body(&[b"d"])).await;
    assert!(
        matches!(appended, Err(StoreError::NotFound)),
        "append at 0 after terminate: {appended:?}"
    );
    assert!(
        matches!(store.read(&id, 0..3).await, Err(StoreError::NotFound)),
        "read after terminate"
    );
    assert!(
        matches!(store.read(&id, 0..0).await, Err(StoreError::NotFound)),
        "empty read after terminate"
    );
    if store.deferred_length().is_some() {
        assert!(matches!(declare(store, &id, 3).await, Err(StoreError::NotFound)));
    }
    assert!(
        matches!(terminate(store, &id).await, Err(StoreError::NotFound)),
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
    assert_eq!(append(store, &id, 0, empty_body()).await.expect("empty append"), 0);
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
            append(&store, &id, 0, body(&[b"before ", b"restart"]))
                .await
                .expect("append"),
            14
        );
        let known_id = create(&store, known.clone()).await;
        assert_eq!(append(&store, &known_id, 0, body(&[b"abc"])).await.expect("append"), 3);
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

    let offset = append(store, &known.id, 3, body(&[b"def"]))
        .await
        .expect("append after reopen");
    assert_eq!(offset, 6);
    assert!(store.info(&known.id).await.expect("info").is_complete());
    if store.deferred_length().is_some() {
        declare(store, &upload.id, 14).await.expect("declare after reopen");
        assert!(store.info(&upload.id).await.expect("info").is_complete());
    }
}

/// A staged append whose body arrives whole and whose verdict keeps it is
/// stored like an ordinary append, large bodies included; while it runs,
/// another append is `Busy`.
pub async fn all_or_nothing_keeps_committed_bytes(store: &dyn Store) {
    let id = create(store, new_upload("conf-staged", UploadSize::Known(12))).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let offset = append_verified(store, &id, 3, body(&[b"de", b"", b"fg"]), true)
        .await
        .expect("staged append");
    assert_eq!(offset, 7, "a kept staged append returns the new offset");
    assert_data(store, &id, b"abcdefg").await;

    let (sender, idle_body, polled) = watched_channel_body();
    let staged = pin!(append_verified(store, &id, 7, idle_body, true));
    let second = pin!(async {
        polled.await.expect("the staged body is alive");
        append(store, &id, 7, body(&[b"xyz"])).await
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
    assert_eq!(append(store, &id, 0, body(&[b"<"])).await.expect("append"), 1);
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024 + 7).collect();
    let offset = append_verified(store, &id, 1, body(&chunks), true)
        .await
        .expect("large staged append");
    assert_eq!(offset, LEN as u64 + 1);
    let read = read_range(store, &id, 1..LEN as u64 + 1).await;
    assert!(read == data, "a large staged append reads back intact");
}

/// A staged append its verdict rejects returns the old offset and changes
/// nothing, not even the time of the last change; the upload is free again.
pub async fn all_or_nothing_abort_changes_nothing(store: &dyn Store) {
    let id = create(store, new_upload("conf-staged-rejected", UploadSize::Known(10))).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let before = store.info(&id).await.expect("info");
    let offset = append_verified(store, &id, 3, body(&[b"XY", b"Z"]), false)
        .await
        .expect("a rejected staged append is not a store error");
    assert_eq!(offset, 3, "a rejected staged append returns the old offset");
    assert_eq!(
        store.info(&id).await.expect("info"),
        before,
        "a rejected append changes nothing"
    );
    assert_data(store, &id, b"abc").await;

    let offset = append_verified(store, &id, 3, body(&[b"def"]), true)
        .await
        .expect("staged append after a rejected one");
    assert_eq!(offset, 6);
    assert_data(store, &id, b"abcdef").await;
}

/// A staged append whose body fails keeps none of it, whether the failure
/// is already queued or arrives after bytes were taken in.
pub async fn all_or_nothing_failing_body_stores_nothing(store: &dyn Store) {
    let id = create(store, new_upload("conf-staged-failing", UploadSize::Known(10))).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let before = store.info(&id).await.expect("info");
    let items = vec![
        Ok(Bytes::from_static(b"de")),
        Ok(Bytes::from_static(b"fg")),
        Err(io::Error::other("client went away")),
        Ok(Bytes::from_static(b"never")),
    ];
    let failing = futures::StreamExt::boxed(futures::stream::iter(items));
    let offset = append_verified(store, &id, 3, failing, true)
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
    let (offset, ()) = join(append_verified(store, &id, 3, idle_body, true), fail_later).await;
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
pub async fn all_or_nothing_at_stale_offset_is_mismatch(store: &dyn Store) {
    let id = create(store, new_upload("conf-staged-stale", UploadSize::Known(20))).await;
    assert_eq!(append(store, &id, 0, body(&[b"hello"])).await.expect("append"), 5);
    for stale in [0, 3, 6, 100] {
        let result = append_verified(store, &id, stale, body(&[b"XXXX"]), true).await;
        assert!(
            matches!(result, Err(StoreError::OffsetMismatch { current: 5 })),
            "staged append at {stale} must fail with the current offset 5, got {result:?}"
        );
    }
    assert_data(store, &id, b"hello").await;
    let missing = support::id("conf-never-staged");
    let result = append_verified(store, &missing, 0, body(&[b"x"]), true).await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "staged append to an unknown id: {result:?}"
    );
}

/// Concatenation writes the partials' bytes, in order and byte-exact, as the
/// final upload's data, also when a partial appears several times; the
/// partials are left as they were. A missing partial changes nothing.
pub async fn concatenate_partials(store: &dyn Store) {
    if store.concatenation().is_none() {
        return;
    }
    const LEN: usize = 300_001;
    let large = pattern(LEN);
    let first = create(store, new_partial("conf-concat-p1", UploadSize::Known(6))).await;
    assert_eq!(append(store, &first, 0, body(&[b"hello "])).await.expect("append"), 6);
    let second = create(store, new_partial("conf-concat-p2", UploadSize::Known(5))).await;
    assert_eq!(
        append(store, &second, 0, body(&[b"wor", b"ld"])).await.expect("append"),
        5
    );
    let third = create(store, new_partial("conf-concat-p3", UploadSize::Known(LEN as u64))).await;
    let chunks: Vec<&[u8]> = large.chunks(32 * 1024).collect();
    assert_eq!(
        append(store, &third, 0, body(&chunks)).await.expect("append"),
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
    let offset = concatenate(store, &whole, &[first.clone(), second.clone()])
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
    let offset = concatenate(store, &repeated, &order).await.expect("concatenate");
    assert_eq!(offset, expected.len() as u64);
    assert_data(store, &repeated, &expected).await;

    let missing = support::id("conf-concat-missing");
    let parts = vec![part("conf-concat-p1", "p1"), part("conf-concat-missing", "missing")];
    let broken = create(store, new_final("conf-concat-broken", parts, 6)).await;
    let result = concatenate(store, &broken, &[first.clone(), missing]).await;
    assert!(
        matches!(result, Err(StoreError::NotFound)),
        "a missing partial: {result:?}"
    );
    assert_data(store, &broken, b"").await;
    let result = concatenate(store, &support::id("conf-concat-nowhere"), std::slice::from_ref(&first)).await;
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
    if store.listing().is_none() {
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
    let terminates = store.termination().is_some();
    if terminates {
        terminate(store, &gone).await.expect("terminate");
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

/// `updated_at` is the creation time until data is written, then the
/// `now` the writer was opened with (never the store's own clock); an
/// aborted all-or-nothing write leaves it alone.
pub async fn updated_at_is_the_injected_time(store: &dyn Store) {
    let id = create(store, new_upload("conf-updated", UploadSize::Known(9))).await;
    let created = store.info(&id).await.expect("info");
    assert_eq!(
        created.updated_at,
        created_at(),
        "a new upload was last changed when created"
    );
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let appended = store.info(&id).await.expect("info");
    assert_eq!(appended.updated_at, written_at(), "an append stamps the injected time");
    assert_eq!(appended.created_at, created_at(), "an append keeps created_at");

    let later = written_at() + std::time::Duration::from_secs(60);
    let writer = store
        .writer(&id, 3, Durability::AllOrNothing, later)
        .await
        .expect("writer");
    assert_eq!(writer.abort().await.expect("abort"), 3);
    assert_eq!(
        store.info(&id).await.expect("info").updated_at,
        written_at(),
        "an aborted write changes nothing"
    );
    let mut writer = store
        .writer(&id, 3, Durability::AllOrNothing, later)
        .await
        .expect("writer");
    writer.send(Bytes::from_static(b"def")).await.expect("send");
    assert_eq!(writer.commit().await.expect("commit"), 6);
    assert_eq!(
        store.info(&id).await.expect("info").updated_at,
        later,
        "a committed all-or-nothing write stamps its time"
    );
}

/// A dropped all-or-nothing writer is an abort: nothing it was sent is
/// kept, and the upload can be written again.
pub async fn dropped_writer_is_an_abort(store: &dyn Store) {
    let id = create(store, new_upload("conf-dropped", UploadSize::Known(6))).await;
    assert_eq!(append(store, &id, 0, body(&[b"abc"])).await.expect("append"), 3);
    let before = store.info(&id).await.expect("info");
    {
        let mut writer = store
            .writer(&id, 3, Durability::AllOrNothing, written_at())
            .await
            .expect("writer");
        writer.send(Bytes::from_static(b"XYZ")).await.expect("send");
    }
    // A store may finish releasing a dropped writer in the background.
    let mut offset = Err(StoreError::Busy);
    for _ in 0..200 {
        offset = append(store, &id, 3, body(&[b"def"])).await;
        if !matches!(offset, Err(StoreError::Busy)) {
            break;
        }
        pause().await;
    }
    assert_eq!(offset.expect("append after a dropped writer"), 6);
    assert_data(store, &id, b"abcdef").await;
    assert!(store.info(&id).await.expect("info").updated_at >= before.updated_at);
}

/// `create_with_writer` creates the upload and holds it like a writer:
/// another append is `Busy` until the commit, which keeps the bytes; the
/// upload then takes appends at its new offset (a PATCH after a creation
/// with upload); an existing id is `AlreadyExists`; a writer that wrote
/// nothing leaves the upload empty, last changed when created; an
/// all-or-nothing one keeps its bytes only on commit.
pub async fn create_with_writer_then_append(store: &dyn Store) {
    let upload = new_upload("conf-create-writing", UploadSize::Known(12));
    let (info, writer) = store
        .create_with_writer(upload.clone(), Durability::KeepPrefix)
        .await
        .expect("create with a writer");
    let mut writer = writer.expect("the writer of a new upload");
    assert_eq!((info.offset, info.size), (0, UploadSize::Known(12)));
    let busy = append(store, &info.id, 0, body(&[b"x"])).await;
    assert!(
        matches!(busy, Err(StoreError::Busy)),
        "an append while the creation's writer is open must be Busy, got {busy:?}"
    );
    writer.send(Bytes::from_static(b"hello ")).await.expect("send");
    assert_eq!(writer.commit().await.expect("commit"), 6);
    let after = store.info(&info.id).await.expect("info");
    assert_eq!((after.offset, after.created_at), (6, created_at()));
    assert_eq!(
        append(store, &info.id, 6, body(&[b"world!"])).await.expect("append"),
        12
    );
    assert_data(store, &info.id, b"hello world!").await;

    let refused = store.create_with_writer(upload, Durability::KeepPrefix).await;
    assert!(
        matches!(refused, Err(StoreError::AlreadyExists)),
        "an existing id is AlreadyExists, got {:?}",
        refused.map(|(info, _)| info)
    );
    assert_data(store, &info.id, b"hello world!").await;

    let (empty, writer) = store
        .create_with_writer(
            new_upload("conf-create-writing-empty", UploadSize::Known(3)),
            Durability::KeepPrefix,
        )
        .await
        .expect("create with a writer");
    assert_eq!(writer.expect("writer").commit().await.expect("commit"), 0);
    let empty = store.info(&empty.id).await.expect("info");
    assert_eq!((empty.offset, empty.updated_at), (0, created_at()));
    assert_eq!(append(store, &empty.id, 0, body(&[b"abc"])).await.expect("append"), 3);

    let (staged, writer) = store
        .create_with_writer(
            new_upload("conf-create-writing-staged", UploadSize::Known(3)),
            Durability::AllOrNothing,
        )
        .await
        .expect("create with a writer");
    let mut writer = writer.expect("writer");
    writer.send(Bytes::from_static(b"XYZ")).await.expect("send");
    assert_eq!(writer.abort().await.expect("abort"), 0);
    assert_eq!(store.info(&staged.id).await.expect("info").offset, 0);
    let mut writer = store
        .writer(&staged.id, 0, Durability::AllOrNothing, written_at())
        .await
        .expect("writer");
    writer.send(Bytes::from_static(b"abc")).await.expect("send");
    assert_eq!(writer.commit().await.expect("commit"), 3);
    assert_data(store, &staged.id, b"abc").await;
}

/// Yields to the executor a few times (the suite is runtime-agnostic, so
/// it cannot sleep).
async fn pause() {
    for _ in 0..64 {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await;
    }
    std::thread::sleep(std::time::Duration::from_millis(5));
}

/// The finals recorded as waiting for a partial are found again, also
/// after a restart, and are gone with the partial.
pub async fn waiting_finals_are_found<S, F, Fut>(open: &mut F)
where
    S: Store,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let (partial, finals) = {
        let store = open().await;
        let Some(concat) = store.concatenation() else {
            return;
        };
        let partial = create(&store, new_partial("conf-wait-part", UploadSize::Known(2))).await;
        let other = create(&store, new_partial("conf-wait-other", UploadSize::Known(2))).await;
        let parts = vec![part("conf-wait-part", "/files/conf-wait-part")];
        let first = create(&store, new_final("conf-wait-f1", parts.clone(), 2)).await;
        let second = create(&store, new_final("conf-wait-f2", parts, 2)).await;
        assert!(
            concat.waiting_finals(&partial).await.expect("lookup").is_empty(),
            "nothing waits before watch"
        );
        for final_id in [&first, &second, &first] {
            concat.watch(&partial, final_id).await.expect("watch");
        }
        assert!(concat.waiting_finals(&other).await.expect("lookup").is_empty());
        (partial, [first, second])
    };
    let store = open().await;
    let store: &dyn Store = &store;
    let concat = store.concatenation().expect("concatenation after reopen");
    let mut found = concat.waiting_finals(&partial).await.expect("lookup after reopen");
    found.sort();
    found.dedup();
    assert_eq!(found, finals, "both finals are found after a restart");
    concat.unwatch(&partial).await.expect("unwatch");
    assert!(
        concat.waiting_finals(&partial).await.expect("lookup").is_empty(),
        "unwatch forgets every final"
    );
    concat.watch(&partial, &finals[0]).await.expect("watch again");
    assert_eq!(
        concat.waiting_finals(&partial).await.expect("lookup"),
        [finals[0].clone()]
    );
    if store.termination().is_some() {
        terminate(store, &partial).await.expect("terminate");
        let found = concat.waiting_finals(&partial).await.unwrap_or_default();
        assert!(found.is_empty(), "a terminated partial has nothing waiting: {found:?}");
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
        if store.concatenation().is_none() {
            return;
        }
        let partial = create(&store, new_partial("conf-ref-part", UploadSize::Known(2))).await;
        assert_eq!(append(&store, &partial, 0, body(&[b"ab"])).await.expect("append"), 2);
        let whole = create(&store, new_final("conf-ref-final", parts.clone(), 6)).await;
        let ids = [partial.clone(), partial.clone(), partial];
        assert_eq!(concatenate(&store, &whole, &ids).await.expect("concatenate"), 6);
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
