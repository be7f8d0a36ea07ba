//! Behaviour specific to the filesystem: crashes, locks across store
//! instances, and damaged files on disk.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tus_conformance::support::{
    append, append_verified, assert_data, body, channel_body, concatenate, create, declare, id, list_ids, new_final,
    new_partial, new_upload, part, terminate,
};
use tus_core::store::{Store, StoreError};
use tus_core::upload::{UploadId, UploadSize};
use tus_store_fs::FileStore;

fn open(dir: &Path) -> FileStore {
    FileStore::new(dir).expect("open store")
}

/// Waits until the upload's offset (the data file's length) is `expected`.
async fn wait_for_offset(store: &dyn Store, id: &UploadId, expected: u64) {
    for _ in 0..1000 {
        if store.info(id).await.expect("info").offset == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("offset of {id} never reached {expected}");
}

/// Waits until the file at `path` is `expected` bytes long.
async fn wait_for_len(path: &Path, expected: u64) {
    for _ in 0..1000 {
        if fs::metadata(path).map(|metadata| metadata.len()).ok() == Some(expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{} never reached {expected} bytes", path.display());
}

fn chunk(bytes: &'static [u8]) -> io::Result<Bytes> {
    Ok(Bytes::from_static(bytes))
}

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_append_keeps_exactly_the_bytes_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let id = create(store.as_ref(), new_upload("crash", UploadSize::Known(100))).await;

    let (sender, idle_body) = channel_body();
    let appending = tokio::spawn({
        let (store, id) = (Arc::clone(&store), id.clone());
        async move { append(&*store, &id, 0, idle_body).await }
    });
    sender.unbounded_send(chunk(b"aaaa")).expect("open");
    sender.unbounded_send(chunk(b"bbbb")).expect("open");
    // The body is still open: the bytes reach the file while it idles.
    wait_for_offset(store.as_ref(), &id, 8).await;

    // The request dies mid-body and the process "crashes": the append future
    // is dropped, never returning, and the store goes away with it.
    appending.abort();
    assert!(appending.await.expect_err("aborted").is_cancelled());
    drop(sender);
    drop(store);

    let reopened = open(dir.path());
    let info = reopened.info(&id).await.expect("info after the crash");
    assert_eq!(info.offset, 8, "the offset is the bytes on disk");
    assert_data(&reopened, &id, b"aaaabbbb").await;
    // The dropped writer released its lock: the upload resumes at 8.
    let offset = append(&reopened, &id, 8, body(&[b"cc"])).await.expect("resume");
    assert_eq!(offset, 10);
    assert_data(&reopened, &id, b"aaaabbbbcc").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_staged_append_leaves_the_upload_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let id = create(store.as_ref(), new_upload("staged-crash", UploadSize::Known(100))).await;
    assert_eq!(append(&*store, &id, 0, body(&[b"kept"])).await.expect("append"), 4);
    let before = store.info(&id).await.expect("info");
    let stage = dir.path().join("staged-crash.stage");

    let (sender, idle_body) = channel_body();
    let appending = tokio::spawn({
        let (store, id) = (Arc::clone(&store), id.clone());
        async move { append_verified(&*store, &id, 4, idle_body, true).await }
    });
    sender.unbounded_send(chunk(b"aaaa")).expect("open");
    sender.unbounded_send(chunk(b"bbbb")).expect("open");
    // The body is still open: the bytes reach the stage file, not the data file.
    wait_for_len(&stage, 8).await;
    assert_eq!(fs::read(dir.path().join("staged-crash.bin")).expect("data"), b"kept");
    assert_eq!(
        store.info(&id).await.expect("info"),
        before,
        "staging leaves the upload as it was"
    );

    // The process "crashes" mid-body: the append future is dropped, never
    // returning, and the store goes away with it.
    appending.abort();
    assert!(appending.await.expect_err("aborted").is_cancelled());
    drop(sender);
    drop(store);

    let reopened = open(dir.path());
    assert_eq!(
        reopened.info(&id).await.expect("info after the crash"),
        before,
        "offset and time of the last change are as before the staged append"
    );
    assert_data(&reopened, &id, b"kept").await;
    // A dropped writer removes its stage file in the background; a killed
    // process leaves it behind, which this stands for.
    fs::write(&stage, b"left behind by a killed process").expect("stage file");

    // The leftover stage file is truncated, not appended to; the lock is free.
    let offset = append_verified(&reopened, &id, 4, body(&[b"cc"]), true)
        .await
        .expect("staged append after the crash");
    assert_eq!(offset, 6);
    assert_data(&reopened, &id, b"keptcc").await;
    assert!(!stage.exists(), "a finished staged append removes its stage file");
}

#[tokio::test(flavor = "multi_thread")]
async fn termination_removes_a_leftover_stage_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("leftover", UploadSize::Known(10))).await;
    fs::write(dir.path().join("leftover.stage"), b"crashed").expect("stage file");
    fs::write(dir.path().join("leftover.bin.tmp"), b"crashed").expect("temporary file");
    terminate(&store, &id).await.expect("terminate");
    assert!(file_names(dir.path()).is_empty(), "left: {:?}", file_names(dir.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn updated_at_is_the_data_file_modification_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("mtime", UploadSize::Deferred)).await;
    let created = store.info(&id).await.expect("info");
    assert_eq!(
        created.updated_at, created.created_at,
        "a new upload was last changed when it was created"
    );

    append(&store, &id, 0, body(&[b"abc"])).await.expect("append");
    let modified = fs::metadata(dir.path().join("mtime.bin"))
        .expect("data")
        .modified()
        .expect("modification time");
    let appended = store.info(&id).await.expect("info");
    assert_eq!(appended.updated_at, modified);
    assert!(appended.updated_at > created.updated_at);

    declare(&store, &id, 10).await.expect("declare");
    let rejected = append_verified(&store, &id, 3, body(&[b"x"]), false).await;
    assert_eq!(rejected.expect("rejected"), 3);
    assert_eq!(
        store.info(&id).await.expect("info").updated_at,
        modified,
        "neither a rejected staged append nor bookkeeping change it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concatenation_takes_the_lock_and_replaces_the_data_file_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Arc::new(open(dir.path()));
    let second = open(dir.path());
    let partial = create(first.as_ref(), new_partial("cat-part", UploadSize::Known(3))).await;
    append(&*first, &partial, 0, body(&[b"abc"])).await.expect("append");
    let parts = vec![part("cat-part", "/files/cat-part"), part("cat-part", "/files/cat-part")];
    let whole = create(first.as_ref(), new_final("cat-final", parts, 6)).await;

    // Someone holds the final upload's data file: concatenation is Busy.
    let (sender, idle_body) = channel_body();
    let appending = tokio::spawn({
        let (store, id) = (Arc::clone(&first), whole.clone());
        async move { append(&*store, &id, 0, idle_body).await }
    });
    sender.unbounded_send(chunk(b"x")).expect("open");
    wait_for_offset(&second, &whole, 1).await;
    let result = concatenate(&second, &whole, &[partial.clone(), partial.clone()]).await;
    assert!(matches!(result, Err(StoreError::Busy)), "{result:?}");
    drop(sender);
    assert_eq!(appending.await.expect("task").expect("append"), 1);

    // Whatever the data file held is replaced.
    let reader = fs::File::open(dir.path().join("cat-final.bin")).expect("old data file");
    let offset = concatenate(&second, &whole, &[partial.clone(), partial.clone()])
        .await
        .expect("concatenate");
    assert_eq!(offset, 6);
    assert_data(&second, &whole, b"abcabc").await;
    assert_eq!(
        reader.metadata().expect("old file").len(),
        1,
        "the old file is replaced, not rewritten"
    );
    assert_eq!(
        file_names(dir.path()),
        ["cat-final.bin", "cat-final.info", "cat-part.bin", "cat-part.info"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_skips_files_that_are_not_uploads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let a = create(&store, new_upload("list-a", UploadSize::Known(1))).await;
    let b = create(&store, new_upload("list-b", UploadSize::Deferred)).await;
    for stray in [
        "list-a.stage",
        "list-a.bin.tmp",
        "list-c.info.tmp",
        "not an id.info",
        "list-d.bin",
        ".info",
        "x.txt",
    ] {
        fs::write(dir.path().join(stray), b"stray").expect("stray file");
    }
    fs::create_dir(dir.path().join("nested")).expect("nested directory");
    let mut listed = list_ids(&store).await;
    listed.sort();
    assert_eq!(listed, [a, b]);

    let empty = open(&dir.path().join("empty"));
    assert!(list_ids(&empty).await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_failing_midway_is_kept_across_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let id = create(store.as_ref(), new_upload("failing", UploadSize::Known(100))).await;

    let (sender, failing_body) = channel_body();
    let appending = tokio::spawn({
        let (store, id) = (Arc::clone(&store), id.clone());
        async move { append(&*store, &id, 0, failing_body).await }
    });
    sender.unbounded_send(chunk(b"first ")).expect("open");
    wait_for_offset(store.as_ref(), &id, 6).await;
    sender.unbounded_send(chunk(b"second")).expect("open");
    sender
        .unbounded_send(Err(io::Error::other("connection reset")))
        .expect("open");
    // The store may already have stopped reading at the error: a send may fail.
    let _ = sender.unbounded_send(chunk(b"after the error"));
    let offset = appending
        .await
        .expect("task")
        .expect("a body error is not a store error");
    assert_eq!(offset, 12);
    drop(store);

    let reopened = open(dir.path());
    assert_data(&reopened, &id, b"first second").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lock_holds_across_store_instances() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Arc::new(open(dir.path()));
    let second = open(dir.path());
    let id = create(first.as_ref(), new_upload("shared", UploadSize::Known(4))).await;

    let (sender, idle_body) = channel_body();
    let appending = tokio::spawn({
        let (store, id) = (Arc::clone(&first), id.clone());
        async move { append(&*store, &id, 0, idle_body).await }
    });
    sender.unbounded_send(chunk(b"ab")).expect("open");
    wait_for_offset(&second, &id, 2).await;

    let result = append(&second, &id, 2, body(&[b"cd"])).await;
    assert!(matches!(result, Err(StoreError::Busy)), "second writer: {result:?}");
    let result = declare(&second, &id, 4).await;
    assert!(
        matches!(result, Err(StoreError::LengthAlreadyKnown | StoreError::Busy)),
        "{result:?}"
    );

    drop(sender);
    assert_eq!(appending.await.expect("task").expect("first append"), 2);
    assert_eq!(append(&second, &id, 2, body(&[b"cd"])).await.expect("after release"), 4);
    assert_data(&second, &id, b"abcd").await;
}

#[tokio::test]
async fn uploads_are_two_files_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("nested").join("uploads");
    let store = open(&root);
    assert!(root.is_dir(), "new creates the directory");
    let id = create(&store, new_upload("layout", UploadSize::Deferred)).await;
    append(&store, &id, 0, body(&[b"xyz"])).await.expect("append");
    declare(&store, &id, 6).await.expect("declare");
    let offset = append_verified(&store, &id, 3, body(&[b"no"]), false).await;
    assert_eq!(offset.expect("rejected staged append"), 3);
    let offset = append_verified(&store, &id, 3, body(&[b"!"]), true).await;
    assert_eq!(offset.expect("kept staged append"), 4);
    let failing = futures::StreamExt::boxed(futures::stream::iter([chunk(b"a"), Err(io::Error::other("reset"))]));
    let offset = append_verified(&store, &id, 4, failing, true).await;
    assert_eq!(offset.expect("failed staged append"), 4);

    assert_eq!(file_names(&root), ["layout.bin", "layout.info"]);
    assert_eq!(fs::read(root.join("layout.bin")).expect("data"), b"xyz!");

    terminate(&store, &id).await.expect("terminate");
    assert_eq!(
        fs::read_dir(&root).expect("list").count(),
        0,
        "terminate removes both files"
    );
}

#[tokio::test]
async fn a_damaged_sidecar_is_a_backend_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let info_path = dir.path().join("damaged.info");
    let valid = {
        let id = create(&store, new_upload("damaged", UploadSize::Deferred)).await;
        assert_eq!(id.as_str(), "damaged");
        fs::read_to_string(&info_path).expect("sidecar")
    };
    let damaged = [
        String::new(),
        "{not json".to_owned(),
        "[]".to_owned(),
        valid.replace("\"version\":2", "\"version\":99"),
        valid.replace("\"metadata\":[]", "\"metadata\":[[\"k\",\"not base64!\"]]"),
        valid.replace("\"deferred\"", "{\"known\": -1}"),
    ];
    let id = id("damaged");
    for content in damaged {
        fs::write(&info_path, &content).expect("damage the sidecar");
        let result = store.info(&id).await;
        assert!(
            matches!(result, Err(StoreError::Backend(_))),
            "sidecar {content:?}: {result:?}"
        );
        let result = declare(&store, &id, 1).await;
        assert!(
            matches!(result, Err(StoreError::Backend(_))),
            "declare with {content:?}: {result:?}"
        );
    }
    fs::write(&info_path, &valid).expect("repair");
    assert_eq!(store.info(&id).await.expect("repaired").offset, 0);
}

#[tokio::test]
async fn a_missing_sidecar_means_the_upload_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("orphan", UploadSize::Known(4))).await;
    append(&store, &id, 0, body(&[b"ab"])).await.expect("append");
    fs::remove_file(dir.path().join("orphan.info")).expect("remove sidecar");

    assert!(matches!(store.info(&id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        append(&store, &id, 2, body(&[b"cd"])).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.read(&id, 0..2).await, Err(StoreError::NotFound)));
    assert!(matches!(declare(&store, &id, 4).await, Err(StoreError::NotFound)));
    assert!(matches!(terminate(&store, &id).await, Err(StoreError::NotFound)));
    assert_eq!(
        fs::read(dir.path().join("orphan.bin")).expect("data"),
        b"ab",
        "nothing was written"
    );
}

#[tokio::test]
async fn a_missing_data_file_is_a_backend_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("no-data", UploadSize::Known(4))).await;
    fs::remove_file(dir.path().join("no-data.bin")).expect("remove data");

    let result = store.info(&id).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    // Terminate still cleans up what is left.
    terminate(&store, &id).await.expect("terminate");
    assert!(matches!(store.info(&id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn create_never_overwrites_existing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    fs::write(dir.path().join("taken.bin"), b"precious").expect("stray data file");
    let result = store.create(new_upload("taken", UploadSize::Known(1))).await;
    assert!(matches!(result, Err(StoreError::AlreadyExists)), "{result:?}");
    assert_eq!(fs::read(dir.path().join("taken.bin")).expect("data"), b"precious");
    assert!(!dir.path().join("taken.info").exists());
}

#[tokio::test]
async fn reading_outside_the_stored_bytes_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("short", UploadSize::Known(10))).await;
    append(&store, &id, 0, body(&[b"abc"])).await.expect("append");
    assert!(matches!(store.read(&id, 0..4).await, Err(StoreError::Backend(_))));
    assert!(matches!(store.read(&id, 4..4).await, Err(StoreError::Backend(_))));
    assert!(store.read(&id, 3..3).await.is_ok());
}
