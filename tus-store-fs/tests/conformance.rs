//! The conformance suite against `FileStore` in a temporary directory.

use tus_store_fs::{FileStore, SyncPolicy};

async fn run_suite(sync: SyncPolicy) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("uploads");
    // Every call opens a new store over the same directory: a restart.
    tus_conformance::run_store_suite(|| {
        let path = path.clone();
        async move { FileStore::new(path).expect("open store").with_sync_policy(sync) }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_store_passes_the_suite() {
    run_suite(SyncPolicy::Always).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn file_store_without_fsync_passes_the_suite() {
    run_suite(SyncPolicy::Never).await;
}

#[tokio::test(flavor = "current_thread")]
async fn file_store_passes_the_suite_on_a_current_thread_runtime() {
    run_suite(SyncPolicy::Never).await;
}
