//! The malformed-request corpus over real TCP against the `tus-axum` binary
//! on the filesystem store: every case gets its 4xx with a reason, the
//! server keeps serving, and no file in the upload directory changes.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use futures::FutureExt as _;
use support::{HyperTransport, Server};

/// Every file in `dir` with its bytes (the stores' whole state), as text.
fn fingerprint(dir: &Path) -> String {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read upload dir") {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| format!("unreadable: {e}").into_bytes());
        files.insert(path.file_name().map(|n| n.to_string_lossy().into_owned()), bytes);
    }
    format!("{files:?}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_a_4xx_and_change_no_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let print = || async { fingerprint(dir.path()) }.boxed();
    let failures = tus_conformance::malformed::run(&transport, &print).await;
    assert!(
        failures.is_empty(),
        "{} malformed case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let sidecars = std::fs::read_dir(dir.path())
        .expect("read upload dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "info"))
        })
        .count();
    assert_eq!(sidecars, 4, "only the four reference uploads exist");
    assert!(
        server.terminate().await,
        "the server is still healthy and shuts down cleanly"
    );
}
