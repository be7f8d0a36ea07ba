//! Behaviour specific to the filesystem: crashes, locks across store
//! instances, and damaged files on disk.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tus_conformance::support::{assert_data, body, channel_body, create, id, new_upload};
use tus_core::store::{Store, StoreError, UploadId, UploadSize};
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

fn chunk(bytes: &'static [u8]) -> io::Result<Bytes> {
    Ok(Bytes::from_static(bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_mid_append_keeps_exactly_the_bytes_on_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let id = create(store.as_ref(), new_upload("crash", UploadSize::Known(100))).await;

    let (sender, idle_body) = channel_body();
    let append = tokio::spawn({
        let (store, id) = (Arc::clone(&store), id.clone());
        async move { store.append(&id, 0, idle_body).await }
    });
    sender.unbounded_send(chunk(b"aaaa")).expect("open");
    sender.unbounded_send(chunk(b"bbbb")).expect("open");
    // The body is still open: the bytes reach the file while it idles.
    wait_for_offset(store.as_ref(), &id, 8).await;

    // The request dies mid-body and the process "crashes": the append future
    // is dropped, never returning, and the store goes away with it.
    append.abort();
    assert!(append.await.expect_err("aborted").is_cancelled());
    drop(sender);
    drop(store);

    let reopened = open(dir.path());
    let info = reopened.info(&id).await.expect("info after the crash");
    assert_eq!(info.offset, 8, "the offset is the bytes on disk");
    assert_data(&reopened, &id, b"aaaabbbb").await;
    // The dropped writer released its lock: the upload resumes at 8.
    let offset = reopened.append(&id, 8, body(&[b"cc"])).await.expect("resume");
    assert_eq!(offset, 10);
    assert_data(&reopened, &id, b"aaaabbbbcc").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_failing_midway_is_kept_across_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let id = create(store.as_ref(), new_upload("failing", UploadSize::Known(100))).await;

    let (sender, failing_body) = channel_body();
    let append = tokio::spawn({
        let (store, id) = (Arc::clone(&store), id.clone());
        async move { store.append(&id, 0, failing_body).await }
    });
    sender.unbounded_send(chunk(b"first ")).expect("open");
    wait_for_offset(store.as_ref(), &id, 6).await;
    sender.unbounded_send(chunk(b"second")).expect("open");
    sender
        .unbounded_send(Err(io::Error::other("connection reset")))
        .expect("open");
    sender.unbounded_send(chunk(b"after the error")).expect("open");
    let offset = append.await.expect("task").expect("a body error is not a store error");
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
    let append = tokio::spawn({
        let (store, id) = (Arc::clone(&first), id.clone());
        async move { store.append(&id, 0, idle_body).await }
    });
    sender.unbounded_send(chunk(b"ab")).expect("open");
    wait_for_offset(&second, &id, 2).await;

    let result = second.append(&id, 2, body(&[b"cd"])).await;
    assert!(matches!(result, Err(StoreError::Busy)), "second writer: {result:?}");
    let result = second.declare_length(&id, 4).await;
    assert!(
        matches!(result, Err(StoreError::LengthAlreadyKnown | StoreError::Busy)),
        "{result:?}"
    );

    drop(sender);
    assert_eq!(append.await.expect("task").expect("first append"), 2);
    assert_eq!(second.append(&id, 2, body(&[b"cd"])).await.expect("after release"), 4);
    assert_data(&second, &id, b"abcd").await;
}

#[tokio::test]
async fn uploads_are_two_files_and_no_temporary_file_is_left() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("nested").join("uploads");
    let store = open(&root);
    assert!(root.is_dir(), "new creates the directory");
    let id = create(&store, new_upload("layout", UploadSize::Deferred)).await;
    store.append(&id, 0, body(&[b"xyz"])).await.expect("append");
    store.declare_length(&id, 3).await.expect("declare");

    let mut names: Vec<String> = fs::read_dir(&root)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["layout.bin", "layout.info"]);
    assert_eq!(fs::read(root.join("layout.bin")).expect("data"), b"xyz");

    store.terminate(&id).await.expect("terminate");
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
        valid.replace("\"version\": 1", "\"version\": 99"),
        valid.replace("\"metadata\": []", "\"metadata\": [[\"k\", \"not base64!\"]]"),
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
        let result = store.declare_length(&id, 1).await;
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
    store.append(&id, 0, body(&[b"ab"])).await.expect("append");
    fs::remove_file(dir.path().join("orphan.info")).expect("remove sidecar");

    assert!(matches!(store.info(&id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        store.append(&id, 2, body(&[b"cd"])).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(store.read(&id, 0..2).await, Err(StoreError::NotFound)));
    assert!(matches!(store.declare_length(&id, 4).await, Err(StoreError::NotFound)));
    assert!(matches!(store.terminate(&id).await, Err(StoreError::NotFound)));
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
    store.terminate(&id).await.expect("terminate");
    assert!(matches!(store.info(&id).await, Err(StoreError::NotFound)));
}

#[tokio::test]
async fn create_never_overwrites_existing_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    fs::write(dir.path().join("taken.bin"), b"precious").expect("stray data file");
    let result = store.create(new_upload("taken", UploadSize::Known(1))).await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert_eq!(fs::read(dir.path().join("taken.bin")).expect("data"), b"precious");
    assert!(!dir.path().join("taken.info").exists());
}

#[tokio::test]
async fn reading_outside_the_stored_bytes_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = create(&store, new_upload("short", UploadSize::Known(10))).await;
    store.append(&id, 0, body(&[b"abc"])).await.expect("append");
    assert!(matches!(store.read(&id, 0..4).await, Err(StoreError::Backend(_))));
    assert!(matches!(store.read(&id, 4..4).await, Err(StoreError::Backend(_))));
    assert!(store.read(&id, 3..3).await.is_ok());
}
