//! S3-specific behaviour on a real S3 server: part sizes, bounded memory,
//! recovery after a restart, termination, concatenation and expiration.

mod support;

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};
use support::{id, new_upload, pattern};
use tus_conformance::support::{Body, append, append_verified, concatenate, declare, terminate};
use tus_core::store::{Store, StoreError};
use tus_core::upload::{UploadId, UploadKind, UploadSize};
use tus_store_s3::{MIN_PART_SIZE, S3Store};

const MIB: usize = 1024 * 1024;

/// `data` as a body of `chunk`-byte chunks, produced lazily.
fn body(data: Arc<Vec<u8>>, range: std::ops::Range<usize>, chunk: usize) -> Body {
    let starts = (range.start..range.end).step_by(chunk);
    futures::stream::iter(starts)
        .map(move |start| Ok(Bytes::copy_from_slice(&data[start..(start + chunk).min(range.end)])))
        .boxed()
}

async fn sha_of_read(store: &dyn Store, id: &UploadId, len: u64) -> Vec<u8> {
    let mut hash = Sha256::new();
    let mut stream = store.read(id, 0..len).await.expect("read");
    let mut total = 0;
    while let Some(chunk) = stream.try_next().await.expect("read stream") {
        total += chunk.len() as u64;
        hash.update(&chunk);
    }
    assert_eq!(total, len, "bytes read");
    hash.finalize().to_vec()
}

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Every non-final part is exactly the part size, at least 5 MiB.
fn assert_part_rule(sizes: &[u64], part_size: u64, total: u64) {
    assert_eq!(
        sizes.iter().sum::<u64>(),
        total,
        "parts add up to the upload: {sizes:?}"
    );
    if let Some((_, body)) = sizes.split_last() {
        for size in body {
            assert!(*size >= MIN_PART_SIZE, "a non-final part of {size} bytes: {sizes:?}");
            assert_eq!(*size, part_size, "non-final parts have the planned size: {sizes:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn small_chunks_resume_after_restart_with_full_parts() {
    let Some(env) = support::s3_env("small_chunks_resume_after_restart_with_full_parts").await else {
        return;
    };
    let prefix = support::fresh_prefix("chunks");
    const LEN: usize = 11 * MIB + 12_345;
    let data = Arc::new(pattern(LEN, 1));
    let upload = id("chunked");
    let part = MIN_PART_SIZE;
    {
        let store = env.builder(&prefix).part_size(part).build();
        store
            .create(new_upload("chunked", UploadSize::Known(LEN as u64)))
            .await
            .expect("create");
        // 1 MiB PATCHes of 64 KiB chunks, then a "restart" halfway.
        let mut offset = 0;
        while offset < 6 * MIB + 100 {
            let end = (offset + MIB).min(6 * MIB + 100);
            let new = append(
                &store,
                &upload,
                offset as u64,
                body(Arc::clone(&data), offset..end, 64 * 1024),
            )
            .await;
            assert_eq!(new.expect("append"), end as u64);
            offset = end;
        }
    }
    let store = env.builder(&prefix).part_size(part).build();
    let info = store.info(&upload).await.expect("info after restart");
    assert_eq!(
        info.offset,
        6 * MIB as u64 + 100,
        "offset recovered from ListParts and the incomplete part"
    );
    let mut offset = info.offset as usize;
    while offset < LEN {
        let end = (offset + MIB).min(LEN);
        let new = append(
            &store,
            &upload,
            offset as u64,
            body(Arc::clone(&data), offset..end, 64 * 1024),
        )
        .await;
        assert_eq!(new.expect("append"), end as u64);
        offset = end;
    }
    let info = store.info(&upload).await.expect("info");
    assert!(info.is_complete());
    assert_eq!(
        sha_of_read(&store, &upload, LEN as u64).await,
        sha(&data),
        "bytes read back"
    );
    let ranged = store
        .read(&upload, 5 * MIB as u64 - 3..5 * MIB as u64 + 3)
        .await
        .expect("range");
    let ranged: Vec<Bytes> = ranged.try_collect().await.expect("range body");
    assert_eq!(
        ranged.concat(),
        data[5 * MIB - 3..5 * MIB + 3],
        "a range across a part boundary"
    );
    let sizes = env.part_sizes(&format!("{prefix}chunked")).await;
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert_part_rule(&sizes, part, LEN as u64);
    assert_eq!(
        env.keys(&prefix).await,
        [format!("{prefix}chunked"), format!("{prefix}chunked.info")],
        "the incomplete part is gone"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_stays_bounded_whatever_the_upload_size() {
    let Some(env) = support::s3_env("memory_stays_bounded_whatever_the_upload_size").await else {
        return;
    };
    let prefix = support::fresh_prefix("memory");
    const LEN: usize = 48 * MIB + 7;
    let data = Arc::new(pattern(LEN, 2));
    let store = env
        .builder(&prefix)
        .part_size(MIN_PART_SIZE)
        .parts_in_flight(2)
        .max_buffered_parts(3)
        .build();
    let upload = id("big");
    store
        .create(new_upload("big", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    let offset = append(&store, &upload, 0, body(Arc::clone(&data), 0..LEN, 64 * 1024 + 1))
        .await
        .expect("append");
    assert_eq!(offset, LEN as u64);
    let stats = store.buffer_stats();
    assert_eq!(stats.in_use, 0, "every buffer was given back");
    assert!(
        stats.peak <= 3 * MIN_PART_SIZE,
        "peak {} bytes for a {LEN}-byte upload",
        stats.peak
    );
    assert!(
        stats.peak >= MIN_PART_SIZE,
        "the pool saw the buffers (peak {})",
        stats.peak
    );
    assert_eq!(sha_of_read(&store, &upload, LEN as u64).await, sha(&data));
    let sizes = env.part_sizes(&format!("{prefix}big")).await;
    assert_eq!(sizes.len(), 10);
    assert_part_rule(&sizes, MIN_PART_SIZE, LEN as u64);
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_body_keeps_what_arrived_across_a_restart() {
    let Some(env) = support::s3_env("interrupted_body_keeps_what_arrived_across_a_restart").await else {
        return;
    };
    let prefix = support::fresh_prefix("interrupted");
    const LEN: usize = 9 * MIB;
    const CUT: usize = 7 * MIB + 3;
    let data = Arc::new(pattern(LEN, 3));
    let upload = id("cut");
    {
        let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
        store
            .create(new_upload("cut", UploadSize::Deferred))
            .await
            .expect("create");
        let failing = body(Arc::clone(&data), 0..CUT, 100_000)
            .chain(futures::stream::iter([Err(io::Error::other("client went away"))]));
        let offset = append(&store, &upload, 0, failing.boxed())
            .await
            .expect("a failed body is not a store error");
        assert_eq!(offset, CUT as u64);
    }
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    assert_eq!(store.info(&upload).await.expect("info").offset, CUT as u64);
    let stale = append(&store, &upload, 0, body(Arc::clone(&data), 0..10, 10)).await;
    assert!(
        matches!(stale, Err(StoreError::OffsetMismatch { current }) if current == CUT as u64),
        "{stale:?}"
    );
    let offset = append(&store, &upload, CUT as u64, body(Arc::clone(&data), CUT..LEN, 1 << 20))
        .await
        .expect("append");
    assert_eq!(offset, LEN as u64);
    declare(&store, &upload, LEN as u64)
        .await
        .expect("declare completes the upload");
    assert!(store.info(&upload).await.expect("info").is_complete());
    assert_eq!(sha_of_read(&store, &upload, LEN as u64).await, sha(&data));
    assert_part_rule(
        &env.part_sizes(&format!("{prefix}cut")).await,
        MIN_PART_SIZE,
        LEN as u64,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rejected_staged_append_commits_nothing() {
    let Some(env) = support::s3_env("rejected_staged_append_commits_nothing").await else {
        return;
    };
    let prefix = support::fresh_prefix("staged");
    const LEN: usize = 12 * MIB;
    let data = Arc::new(pattern(LEN, 4));
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    let upload = id("staged");
    store
        .create(new_upload("staged", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    assert_eq!(
        append(&store, &upload, 0, body(Arc::clone(&data), 0..MIB, MIB))
            .await
            .expect("append"),
        MIB as u64
    );
    // 7 MiB more: a full part is uploaded, then the verdict rejects it.
    let junk = Arc::new(vec![0xEE; LEN]);
    let offset = append_verified(&store, &upload, MIB as u64, body(junk, MIB..8 * MIB, 256 * 1024), false)
        .await
        .expect("rejected");
    assert_eq!(offset, MIB as u64);
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    assert_eq!(
        store.info(&upload).await.expect("info").offset,
        MIB as u64,
        "the uploaded part is not committed"
    );
    let offset = append_verified(
        &store,
        &upload,
        MIB as u64,
        body(Arc::clone(&data), MIB..LEN, 256 * 1024),
        true,
    )
    .await
    .expect("accepted");
    assert_eq!(offset, LEN as u64);
    assert_eq!(
        sha_of_read(&store, &upload, LEN as u64).await,
        sha(&data),
        "the rejected part was overwritten"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn termination_removes_every_object_and_the_multipart_upload() {
    let Some(env) = support::s3_env("termination_removes_every_object_and_the_multipart_upload").await else {
        return;
    };
    let prefix = support::fresh_prefix("terminate");
    let data = Arc::new(pattern(6 * MIB, 5));
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    let (open, done) = (id("open"), id("done"));
    store
        .create(new_upload("open", UploadSize::Deferred))
        .await
        .expect("create");
    append(&store, &open, 0, body(Arc::clone(&data), 0..6 * MIB, MIB))
        .await
        .expect("append");
    store
        .create(new_upload("done", UploadSize::Known(3)))
        .await
        .expect("create");
    append(&store, &done, 0, body(Arc::clone(&data), 0..3, 3))
        .await
        .expect("append");
    assert_eq!(env.open_multipart_uploads(&prefix).await, 1);
    terminate(&store, &open).await.expect("terminate open");
    terminate(&store, &done).await.expect("terminate done");
    assert_eq!(env.keys(&prefix).await, Vec::<String>::new(), "no object is left");
    assert_eq!(
        env.open_multipart_uploads(&prefix).await,
        0,
        "no multipart upload is left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concatenation_copies_large_partials_inside_s3() {
    let Some(env) = support::s3_env("concatenation_copies_large_partials_inside_s3").await else {
        return;
    };
    let prefix = support::fresh_prefix("concat");
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    let sizes = [5 * MIB + 1, 6 * MIB, 1000];
    let mut expected = Vec::new();
    let mut partials = Vec::new();
    for (index, size) in sizes.into_iter().enumerate() {
        let data = Arc::new(pattern(size, 10 + index as u8));
        let name = format!("part{index}");
        let mut upload = new_upload(&name, UploadSize::Known(size as u64));
        upload.kind = UploadKind::Partial;
        store.create(upload).await.expect("create partial");
        append(&store, &id(&name), 0, body(Arc::clone(&data), 0..size, MIB))
            .await
            .expect("append");
        expected.extend_from_slice(&data);
        partials.push(id(&name));
    }
    let mut whole = new_upload("whole", UploadSize::Known(expected.len() as u64));
    whole.kind = UploadKind::Final(Vec::new());
    store.create(whole).await.expect("create final");
    let offset = concatenate(&store, &id("whole"), &partials).await.expect("concatenate");
    assert_eq!(offset, expected.len() as u64);
    assert_eq!(sha_of_read(&store, &id("whole"), offset).await, sha(&expected));
    let parts = env.part_sizes(&format!("{prefix}whole")).await;
    assert_eq!(
        parts,
        [5 * MIB as u64 + 1, 6 * MIB as u64, 1000],
        "one copied part per partial"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_uploads_are_reaped_with_their_multipart_uploads() {
    let Some(env) = support::s3_env("expired_uploads_are_reaped_with_their_multipart_uploads").await else {
        return;
    };
    let prefix = support::fresh_prefix("expire");
    let store: S3Store = env.builder(&prefix).build();
    tus_conformance::expiration::run(Arc::new(store), tus_conformance::clock::ManualClock::new()).await;
    let keys = env.keys(&prefix).await;
    assert_eq!(
        keys.len(),
        2,
        "only the completed upload's object and info remain: {keys:?}"
    );
    assert_eq!(
        env.open_multipart_uploads(&prefix).await,
        0,
        "the expired uploads' multipart uploads were aborted"
    );
}

/// A crash between recording a deferred length and completing the multipart
/// upload leaves every byte in an open multipart upload: the next read
/// completes it instead of failing (found by the crash harness).
#[tokio::test(flavor = "multi_thread")]
async fn an_upload_left_uncompleted_by_a_crash_is_completed_on_read() {
    let Some(env) = support::s3_env("an_upload_left_uncompleted_by_a_crash_is_completed_on_read").await else {
        return;
    };
    let prefix = support::fresh_prefix("settle");
    let store = env.builder(&prefix).build();
    let upload = id("crashed");
    store
        .create(new_upload("crashed", UploadSize::Deferred))
        .await
        .expect("create");
    let data = Arc::new(pattern(3, 9));
    append(&store, &upload, 0, body(Arc::clone(&data), 0..3, 3))
        .await
        .expect("append");
    // What `declare_length` writes first; the crash comes before completion.
    let info_key = format!("{prefix}crashed.info");
    let info = env
        .client
        .get_object()
        .bucket(&env.options.bucket)
        .key(&info_key)
        .send()
        .await
        .expect("get info");
    let json = info.body.collect().await.expect("info body").into_bytes();
    let json = String::from_utf8(json.to_vec()).expect("utf-8");
    assert!(json.contains(r#""size":"deferred""#), "{json}");
    let json = json.replace(r#""size":"deferred""#, r#""size":{"known":3}"#);
    env.client
        .put_object()
        .bucket(&env.options.bucket)
        .key(&info_key)
        .body(json.into_bytes().into())
        .send()
        .await
        .expect("put info");
    assert_eq!(env.open_multipart_uploads(&prefix).await, 1);

    let restarted = env.builder(&prefix).build();
    assert_eq!(sha_of_read(&restarted, &upload, 3).await, sha(&data));
    assert_eq!(env.open_multipart_uploads(&prefix).await, 0, "completed");
}
