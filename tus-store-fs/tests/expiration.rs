//! Expiration and the reaper against the filesystem store: its write times
//! are the injected clock's, kept as the data files' modification times, so
//! sliding expiration holds here too.

use std::sync::Arc;

use tus_conformance::clock::ManualClock;
use tus_store_fs::FileStore;

#[tokio::test]
async fn expired_uploads_are_gone_and_reaped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(dir.path()).expect("store");
    tus_conformance::expiration::run(Arc::new(store), ManualClock::new()).await;
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
