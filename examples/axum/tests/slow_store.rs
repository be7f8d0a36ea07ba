//! A stalled store does not hold up other uploads: one upload's appends
//! hang (a store call that never returns, as with a hung disk or S3
//! request), every other upload goes through at full speed, a HEAD on the
//! stalled one answers 423 after the lock timeout instead of hanging, and
//! once the store recovers the upload goes on. Over real TCP, on the
//! filesystem store behind a delaying wrapper.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use futures::future::BoxFuture;
use tus_conformance::http::HyperTransport;
use tus_conformance::http::suite::{create_upload, offset_of};
use tus_core::store::{
    Concatenate, DataStream, DeferLength, Durability, Listing, Store, StoreError, Terminate, Writer,
};
use tus_core::upload::{NewUpload, UploadId, UploadInfo};
use tus_server::TusHandler;
use tus_store_fs::FileStore;

/// Delegates to `inner`, except that appends to the uploads in `stalled`
/// wait until `resume` is sent `true`, and every other append waits `delay`.
struct DelayingStore {
    inner: FileStore,
    stalled: Mutex<HashSet<UploadId>>,
    resume: tokio::sync::watch::Receiver<bool>,
    delay: Duration,
}

impl DelayingStore {
    async fn hold(&self, id: &UploadId) {
        let stalled = self.stalled.lock().expect("stalled set").contains(id);
        if stalled {
            let mut resume = self.resume.clone();
            let _ = resume.wait_for(|resumed| *resumed).await;
        } else {
            tokio::time::sleep(self.delay).await;
        }
    }
}

impl Store for DelayingStore {
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        self.inner.create(upload)
    }

    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        self.inner.info(id)
    }

    /// Opening a writer is where a write meets the store first: it waits here.
    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>> {
        Box::pin(async move {
            self.hold(id).await;
            self.inner.writer(id, offset, durability, now).await
        })
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        self.inner.read(id, range)
    }

    fn termination(&self) -> Option<&dyn Terminate> {
        self.inner.termination()
    }

    fn deferred_length(&self) -> Option<&dyn DeferLength> {
        self.inner.deferred_length()
    }

    fn concatenation(&self) -> Option<&dyn Concatenate> {
        self.inner.concatenation()
    }

    fn listing(&self) -> Option<&dyn Listing> {
        self.inner.listing()
    }
}

fn patch_request(path: &str, offset: u64, body: Vec<u8>) -> http::Request<Vec<Bytes>> {
    http::Request::patch(path)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", body.len().to_string())
        .body(vec![Bytes::from(body)])
        .expect("request")
}

fn id_of(path: &str) -> UploadId {
    UploadId::parse(path.rsplit('/').next().unwrap_or_default()).expect("id")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upload_does_not_hold_up_the_others() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (resume, resumed) = tokio::sync::watch::channel(false);
    let store = Arc::new(DelayingStore {
        inner: FileStore::new(dir.path()).expect("store"),
        stalled: Mutex::default(),
        resume: resumed,
        delay: Duration::from_millis(50),
    });
    let lock_timeout = Duration::from_secs(1);
    let handler = TusHandler::builder(store.clone())
        .base_path("/files/")
        .lock_timeout(lock_timeout)
        .build();
    let app = axum::Router::new().nest_service("/files", handler.into_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let transport = Arc::new(HyperTransport { addr });

    let stalled_path = create_upload(&transport, 4096).await;
    store.stalled.lock().expect("stalled set").insert(id_of(&stalled_path));
    let stalled_patch = tokio::spawn({
        let (transport, path) = (transport.clone(), stalled_path.clone());
        async move { transport.send_request(patch_request(&path, 0, vec![b's'; 4096])).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!stalled_patch.is_finished(), "the stalled PATCH waits on the store");

    // 20 other uploads at once, each POST, PATCH 64 KiB (50 ms of store latency), HEAD.
    let started = Instant::now();
    let others: Vec<_> = (0..20)
        .map(|i| {
            let transport = transport.clone();
            tokio::spawn(async move {
                let path = create_upload(&transport, 65536).await;
                let answer = transport
                    .send_request(patch_request(&path, 0, vec![i as u8; 65536]))
                    .await
                    .expect("patch");
                assert_eq!(answer.status(), 204, "{:?}", answer.body());
                assert_eq!(offset_of(&transport, &path).await, "65536");
            })
        })
        .collect();
    for other in others {
        other.await.expect("upload task");
    }
    let others_took = started.elapsed();
    eprintln!("20 uploads completed in {others_took:?} while another upload's store call hung");
    assert!(others_took < Duration::from_secs(5), "{others_took:?}");

    // A HEAD on the stalled upload asks the holder to release; the holder
    // cannot (its store call hangs), so the HEAD answers 423 after the lock
    // timeout: a prompt, retryable answer.
    let started = Instant::now();
    let head = http::Request::head(stalled_path.as_str())
        .header("tus-resumable", "1.0.0")
        .body(Vec::new())
        .expect("request");
    let answer = transport.send_request(head).await.expect("head");
    let waited = started.elapsed();
    eprintln!(
        "HEAD of the stalled upload answered {} after {waited:?}",
        answer.status()
    );
    assert_eq!(answer.status(), 423);
    assert!(waited >= lock_timeout && waited < lock_timeout * 3, "{waited:?}");

    // The store recovers: the stalled PATCH finishes, and the upload goes on.
    resume.send(true).expect("resume");
    let answer = tokio::time::timeout(Duration::from_secs(10), stalled_patch)
        .await
        .expect("the stalled PATCH finishes once the store recovers")
        .expect("task")
        .expect("answer");
    // It was asked to release by the HEAD, so it may stop early (409) or finish (204).
    assert!(matches!(answer.status().as_u16(), 204 | 409), "{answer:?}");
    let offset: u64 = offset_of(&transport, &stalled_path).await.parse().expect("offset");
    if offset < 4096 {
        let rest = vec![b's'; usize::try_from(4096 - offset).expect("small")];
        let answer = transport
            .send_request(patch_request(&stalled_path, offset, rest))
            .await
            .expect("patch");
        assert_eq!(answer.status(), 204);
    }
    assert_eq!(offset_of(&transport, &stalled_path).await, "4096");
    server.abort();
}
