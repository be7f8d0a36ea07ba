//! Expiration and the reaper against the filesystem store. Its write times
//! are file modification times (the system clock), so sliding expiration is
//! checked against the memory store; here every unfinished upload expires.

use std::sync::Arc;

use tus_conformance::clock::ManualClock;
use tus_store_fs::FileStore;

#[tokio::test]
async fn expired_uploads_are_gone_and_reaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path()).expect("store");
    tus_conformance::expiration::run(Arc::new(store), ManualClock::new(), false).await;
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(Result::ok)
        .collect();
    assert_eq!(
        left.len(),
        2,
        "only the completed upload's data and sidecar remain: {left:?}"
    );
}
