//! The segment layout on a real S3 server: recovery after a crash at each
//! step of an append (objects written by hand as a crashed process would
//! have left them), a second store instance seeing the first one's writes,
//! all-or-nothing appends, memory with many small appends, and uploads
//! written by the old layout (`{id}.part`).

mod support;

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::TryStreamExt as _;
use sha2::{Digest as _, Sha256};
use support::{id, new_upload, pattern};
use tus_conformance::support::{Body, append, append_verified};
use tus_core::store::{Store, StoreError};
use tus_core::upload::{UploadId, UploadSize};
use tus_store_s3::{MIN_PART_SIZE, S3Store};

use support::S3Env;

const MIB: usize = 1024 * 1024;
const PART: usize = MIN_PART_SIZE as usize;

fn body(data: &Arc<Vec<u8>>, range: std::ops::Range<usize>) -> Body {
    let data = Arc::clone(data);
    let starts = (range.start..range.end).step_by(64 * 1024);
    futures::stream::iter(starts)
        .map(move |start| Ok(Bytes::copy_from_slice(&data[start..(start + 64 * 1024).min(range.end)])))
        .boxed()
}

async fn read_all(store: &dyn Store, id: &UploadId, len: u64) -> Vec<u8> {
    let stream = store.read(id, 0..len).await.expect("read");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("read stream");
    chunks.concat()
}

fn sha(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

/// Appends `data[from..to]` in PATCHes of `patch` bytes.
async fn patches(store: &S3Store, upload: &UploadId, data: &Arc<Vec<u8>>, from: usize, to: usize, patch: usize) {
    let mut offset = from;
    while offset < to {
        let end = (offset + patch).min(to);
        let new = append(store, upload, offset as u64, body(data, offset..end)).await;
        assert_eq!(new.expect("append"), end as u64);
        offset = end;
    }
}

/// What a crashed process left, written by hand.
struct Crashed {
    env: S3Env,
    prefix: String,
    name: &'static str,
}

impl Crashed {
    fn key(&self, suffix: &str) -> String {
        format!("{}{}{suffix}", self.prefix, self.name)
    }

    async fn put(&self, suffix: &str, bytes: &[u8], metadata: &[(&str, &str)]) {
        let mut request = self
            .env
            .client
            .put_object()
            .bucket(&self.env.options.bucket)
            .key(self.key(suffix))
            .body(Bytes::copy_from_slice(bytes).into());
        for (name, value) in metadata {
            request = request.metadata(*name, *value);
        }
        request.send().await.expect("put");
    }

    async fn segment(&self, start: usize, bytes: &[u8]) {
        self.put(&format!(".seg.{start:020}"), bytes, &[]).await;
    }

    async fn upload_part(&self, number: i32, bytes: &[u8]) {
        let uploads = self
            .env
            .client
            .list_multipart_uploads()
            .bucket(&self.env.options.bucket)
            .prefix(self.key(""))
            .send()
            .await
            .expect("list multipart uploads");
        let upload = uploads
            .uploads()
            .iter()
            .find(|upload| upload.key() == Some(self.key("").as_str()))
            .and_then(|upload| upload.upload_id())
            .expect("the upload's multipart upload")
            .to_owned();
        self.env
            .client
            .upload_part()
            .bucket(&self.env.options.bucket)
            .key(self.key(""))
            .upload_id(upload)
            .part_number(number)
            .body(Bytes::copy_from_slice(bytes).into())
            .send()
            .await
            .expect("upload part");
    }
}

/// Creates `name` of `len` bytes, leaves the objects `crash` writes, and
/// checks that a fresh store recovers `offset`, then finishes the upload
/// from there and reads `data` back, with every non-final part exact.
async fn recovers<F, Fut>(test: &str, len: usize, offset: u64, crash: F)
where
    F: FnOnce(Crashed, Arc<Vec<u8>>) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let Some(env) = support::s3_env(test).await else {
        return;
    };
    let prefix = support::fresh_prefix(test);
    let data = Arc::new(pattern(len, 3));
    let name = "crashed";
    {
        let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
        store
            .create(new_upload(name, UploadSize::Known(len as u64)))
            .await
            .expect("create");
    }
    crash(
        Crashed {
            env: env.clone(),
            prefix: prefix.clone(),
            name,
        },
        Arc::clone(&data),
    )
    .await;
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    let upload = id(name);
    assert_eq!(
        store.info(&upload).await.expect("info after the crash").offset,
        offset,
        "{test}: recovered offset"
    );
    patches(&store, &upload, &data, offset as usize, len, MIB).await;
    assert!(store.info(&upload).await.expect("info").is_complete());
    assert_eq!(
        sha(&read_all(&store, &upload, len as u64).await),
        sha(&data),
        "{test}: bytes"
    );
    let sizes = env.part_sizes(&format!("{prefix}{name}")).await;
    if let Some((_, body)) = sizes.split_last() {
        assert!(body.iter().all(|size| *size == MIN_PART_SIZE), "{test}: {sizes:?}");
    }
    assert_eq!(
        env.keys(&prefix).await,
        [format!("{prefix}{name}"), format!("{prefix}{name}.info")],
        "{test}: segments and markers are gone once complete"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_segments_before_compaction() {
    recovers("crash-segments", 7 * MIB, 4 * MIB as u64, |crashed, data| async move {
        for start in (0..4 * MIB).step_by(MIB) {
            crashed.segment(start, &data[start..start + MIB]).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_the_answer_before_the_background_commit() {
    // A short append filled part 1 and was answered once its bytes were
    // segments (split at the part boundary); the process stopped before
    // the part's marker. The next append commits the part first.
    recovers(
        "crash-background",
        8 * MIB,
        (PART + MIB / 2) as u64,
        |crashed, data| async move {
            for start in (0..PART).step_by(MIB) {
                crashed.segment(start, &data[start..start + MIB]).await;
            }
            crashed.segment(PART, &data[PART..PART + MIB / 2]).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_the_part_before_its_marker() {
    // Part 1 was uploaded and the next segment written (they run side by
    // side), but the marker never landed: the part is not committed, and
    // the segment past it does not follow the committed bytes.
    recovers("crash-part", 7 * MIB, 4 * MIB as u64, |crashed, data| async move {
        for start in (0..4 * MIB).step_by(MIB) {
            crashed.segment(start, &data[start..start + MIB]).await;
        }
        let mut wrong = data[..PART].to_vec();
        wrong[PART - 1] ^= 0xff;
        crashed.upload_part(1, &wrong).await;
        crashed.segment(PART, &pattern(MIB / 2, 99)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn crash_after_the_marker_before_the_segments_are_deleted() {
    recovers(
        "crash-marker",
        7 * MIB,
        (PART + MIB / 2) as u64,
        |crashed, data| async move {
            for start in (0..4 * MIB).step_by(MIB) {
                crashed.segment(start, &data[start..start + MIB]).await;
            }
            crashed.upload_part(1, &data[..PART]).await;
            crashed.put(".parts.1", b"", &[]).await;
            crashed.segment(PART, &data[PART..PART + MIB / 2]).await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn old_layout_incomplete_part_is_migrated() {
    recovers("old-layout", 8 * MIB, (PART + MIB) as u64, |crashed, data| async move {
        crashed.upload_part(1, &data[..PART]).await;
        crashed
            .put(".part", &data[PART..PART + MIB], &[("tus-parts", "1")])
            .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_instance_sees_the_first_ones_writes() {
    let Some(env) = support::s3_env("a_second_instance_sees_the_first_ones_writes").await else {
        return;
    };
    let prefix = support::fresh_prefix("two-instances");
    let (one, two) = (
        env.builder(&prefix).part_size(MIN_PART_SIZE).build(),
        env.builder(&prefix).part_size(MIN_PART_SIZE).build(),
    );
    const LEN: usize = 12 * MIB;
    let data = Arc::new(pattern(LEN, 7));
    let upload = id("shared");
    one.create(new_upload("shared", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    patches(&one, &upload, &data, 0, 3 * MIB, MIB).await;
    assert_eq!(two.info(&upload).await.expect("info").offset, 3 * MIB as u64);
    // The second instance fills part 1 and starts part 2.
    patches(&two, &upload, &data, 3 * MIB, 6 * MIB, MIB).await;
    // The first one's cached state is stale: its listing shows the change.
    let stale = append(&one, &upload, 3 * MIB as u64, body(&data, 3 * MIB..4 * MIB)).await;
    assert!(
        matches!(stale, Err(StoreError::OffsetMismatch { current }) if current == 6 * MIB as u64),
        "{stale:?}"
    );
    patches(&one, &upload, &data, 6 * MIB, 9 * MIB, MIB).await;
    assert_eq!(two.info(&upload).await.expect("info").offset, 9 * MIB as u64);
    patches(&two, &upload, &data, 9 * MIB, LEN, MIB).await;
    assert!(one.info(&upload).await.expect("info").is_complete());
    assert_eq!(sha(&read_all(&one, &upload, LEN as u64).await), sha(&data));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shared_store_answers_a_filled_part_only_once_it_is_committed() {
    let Some(env) = support::s3_env("a_shared_store_answers_a_filled_part_only_once_it_is_committed").await else {
        return;
    };
    // Not a sole writer: another instance may write the upload as soon as
    // this one answers, so nothing of this append may still be under way.
    let prefix = support::fresh_prefix("shared-commit");
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    const LEN: usize = 8 * MIB;
    let data = Arc::new(pattern(LEN, 13));
    let upload = id("shared-commit");
    store
        .create(new_upload("shared-commit", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    patches(&store, &upload, &data, 0, PART - MIB / 2, MIB).await;
    // One short append across the part boundary.
    let end = PART + MIB / 2;
    let new = append(
        &store,
        &upload,
        (PART - MIB / 2) as u64,
        body(&data, PART - MIB / 2..end),
    )
    .await;
    assert_eq!(new.expect("append"), end as u64);
    let keys = env.keys(&prefix).await;
    let stem = format!("{prefix}shared-commit");
    assert!(
        keys.contains(&format!("{stem}.parts.1")),
        "part 1's marker is written before the answer: {keys:?}"
    );
    let segments: Vec<&String> = keys
        .iter()
        .filter(|key| key.starts_with(&format!("{stem}.seg.")))
        .collect();
    assert_eq!(
        segments,
        [&format!("{stem}.seg.{PART:020}")],
        "only the bytes after the part are a segment"
    );
    patches(&store, &upload, &data, end, LEN, MIB).await;
    assert_eq!(sha(&read_all(&store, &upload, LEN as u64).await), sha(&data));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_small_append_writes_nothing() {
    let Some(env) = support::s3_env("a_rejected_small_append_writes_nothing").await else {
        return;
    };
    let prefix = support::fresh_prefix("rejected-small");
    let store = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    const LEN: usize = 6 * MIB;
    let data = Arc::new(pattern(LEN, 8));
    let upload = id("staged");
    store
        .create(new_upload("staged", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    patches(&store, &upload, &data, 0, 2 * MIB, MIB).await;
    let before = env.keys(&prefix).await;
    // Rejected both below and across the part boundary.
    for end in [3 * MIB, 5 * MIB + 10] {
        let offset = append_verified(&store, &upload, 2 * MIB as u64, body(&data, 2 * MIB..end), false)
            .await
            .expect("rejected");
        assert_eq!(offset, 2 * MIB as u64);
        assert_eq!(env.keys(&prefix).await, before, "no object written");
    }
    let restarted = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    assert_eq!(restarted.info(&upload).await.expect("info").offset, 2 * MIB as u64);
    patches(&store, &upload, &data, 2 * MIB, LEN, MIB).await;
    assert_eq!(sha(&read_all(&store, &upload, LEN as u64).await), sha(&data));
}

#[tokio::test(flavor = "multi_thread")]
async fn many_small_uploads_stay_within_the_budget() {
    let Some(env) = support::s3_env("many_small_uploads_stay_within_the_budget").await else {
        return;
    };
    let prefix = support::fresh_prefix("budget");
    // Two buffers: one may hold a tail between appends, one stays free.
    let store = env
        .builder(&prefix)
        .part_size(MIN_PART_SIZE)
        .max_buffered_parts(2)
        .build();
    const LEN: usize = 6 * MIB + 5;
    let names = ["b0", "b1", "b2"];
    let data: Vec<Arc<Vec<u8>>> = (0..names.len()).map(|i| Arc::new(pattern(LEN, 20 + i as u8))).collect();
    for name in names {
        store
            .create(new_upload(name, UploadSize::Known(LEN as u64)))
            .await
            .expect("create");
    }
    // Interleaved: each append evicts another upload's cached tail, so the
    // part is cut from segments read back.
    let mut offset = 0;
    while offset < LEN {
        let end = (offset + 512 * 1024).min(LEN);
        for (name, data) in names.iter().zip(&data) {
            let new = append(&store, &id(name), offset as u64, body(data, offset..end)).await;
            assert_eq!(new.expect("append"), end as u64);
        }
        offset = end;
    }
    let stats = store.buffer_stats();
    assert!(stats.peak <= 2 * MIN_PART_SIZE, "peak {}", stats.peak);
    assert_eq!(stats.in_use, 0, "no tail is kept once complete");
    for (name, data) in names.iter().zip(&data) {
        assert_eq!(sha(&read_all(&store, &id(name), LEN as u64).await), sha(data), "{name}");
        let sizes = env.part_sizes(&format!("{prefix}{name}")).await;
        assert_eq!(sizes, [MIN_PART_SIZE, (LEN - PART) as u64], "{name}");
    }
}

/// After a completion the upload's segments and markers are gone: its
/// listing would look as before the first byte but for the data object,
/// which a second instance's cached state must not miss (found by the
/// scale-out harness).
#[tokio::test(flavor = "multi_thread")]
async fn a_completion_by_another_instance_is_seen() {
    let Some(env) = support::s3_env("a_completion_by_another_instance_is_seen").await else {
        return;
    };
    let prefix = support::fresh_prefix("completion-seen");
    let (one, two) = (env.builder(&prefix).build(), env.builder(&prefix).build());
    let data = Arc::new(pattern(3 * MIB, 9));
    let upload = id("done");
    one.create(new_upload("done", UploadSize::Known(data.len() as u64)))
        .await
        .expect("create");
    assert_eq!(two.info(&upload).await.expect("info").offset, 0, "cached at 0");
    patches(&one, &upload, &data, 0, data.len(), 3 * MIB).await;
    let info = two.info(&upload).await.expect("info after completion");
    assert!(info.is_complete(), "{info:?}");
    assert_eq!(sha(&read_all(&two, &upload, data.len() as u64).await), sha(&data));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sole_writer_trusts_its_cached_state() {
    let Some(env) = support::s3_env("a_sole_writer_trusts_its_cached_state").await else {
        return;
    };
    let prefix = support::fresh_prefix("sole-writer");
    let sole = env.builder(&prefix).part_size(MIN_PART_SIZE).sole_writer(true).build();
    const LEN: usize = 12 * MIB;
    let data = Arc::new(pattern(LEN, 11));
    let upload = id("sole");
    sole.create(new_upload("sole", UploadSize::Known(LEN as u64)))
        .await
        .expect("create");
    // Small appends across a part boundary, each answered from the cache.
    patches(&sole, &upload, &data, 0, 6 * MIB, 512 * 1024).await;
    assert_eq!(sole.info(&upload).await.expect("info").offset, 6 * MIB as u64);
    // Another writer, which a sole writer's deployment rules out, is not
    // seen: the state is used as cached, without a listing.
    let other = env.builder(&prefix).part_size(MIN_PART_SIZE).build();
    patches(&other, &upload, &data, 6 * MIB, 7 * MIB, MIB).await;
    assert_eq!(
        sole.info(&upload).await.expect("info").offset,
        6 * MIB as u64,
        "the sole writer did not list"
    );
    // After a restart the state is recovered from the bucket.
    let restarted = env.builder(&prefix).part_size(MIN_PART_SIZE).sole_writer(true).build();
    assert_eq!(restarted.info(&upload).await.expect("info").offset, 7 * MIB as u64);
    patches(&restarted, &upload, &data, 7 * MIB, LEN, MIB).await;
    assert!(restarted.info(&upload).await.expect("info").is_complete());
    assert_eq!(sha(&read_all(&restarted, &upload, LEN as u64).await), sha(&data));
}
