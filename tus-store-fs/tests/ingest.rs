//! Taking a finished upload over: the supported path is a `post_finish` hook
//! that hard-links (or copies) [`FileStore::finished_data_path`] where the
//! app keeps files, then terminates the upload. Afterwards the upload answers
//! 404 (not 500) and no file of it is left in the store's directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Request, StatusCode};
use tus_core::store::{StoreError, Terminate as _};
use tus_core::upload::{UploadId, UploadInfo, UploadKind};
use tus_server::{HookContext, Hooks, TusHandler};
use tus_server::{RequestBody, ResponseBody};
use tus_store_fs::FileStore;

/// Moves every finished single upload into `inbox`, named by its id.
struct Ingest {
    store: Arc<FileStore>,
    inbox: PathBuf,
    ingested: Mutex<Vec<String>>,
}

impl Hooks for Ingest {
    fn post_finish<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // Partials stay: a final upload may still need their bytes.
            if info.kind == UploadKind::Partial {
                return;
            }
            let data = self
                .store
                .finished_data_path(&info.id)
                .await
                .expect("finished upload")
                .expect("post_finish sees a finished upload");
            fs::hard_link(&data, self.inbox.join(info.id.as_str())).expect("link into the inbox");
            self.store.terminate(&info.id).await.expect("terminate");
            self.ingested.lock().expect("ingested").push(info.id.to_string());
        })
    }
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], body: &'static [u8]) -> Request<RequestBody> {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "uploads.test")
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(RequestBody::from(Bytes::from_static(body)))
        .expect("request")
}

/// A PATCH of `body` at offset 0.
fn patch_at_zero(path: &str, body: &'static [u8]) -> Request<RequestBody> {
    request(
        "PATCH",
        path,
        &[
            ("upload-offset", "0"),
            ("content-type", "application/offset+octet-stream"),
        ],
        body,
    )
}

async fn status(handler: &TusHandler, method: &str, uri: &str) -> StatusCode {
    let response: http::Response<ResponseBody> = handler.handle(request(method, uri, &[], b"")).await;
    response.status()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn post_finish_ingest_then_terminate_leaves_a_clean_404() {
    let uploads = tempfile::tempdir().expect("tempdir");
    let inbox = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileStore::new(uploads.path()).expect("store"));
    let hooks = Arc::new(Ingest {
        store: Arc::clone(&store),
        inbox: inbox.path().to_owned(),
        ingested: Mutex::default(),
    });
    let handler = TusHandler::builder(store.clone())
        .base_path("/files/")
        .hooks(hooks.clone())
        .build();

    // Creation, then a PATCH that finishes the upload (post_finish runs in it).
    let created = handler
        .handle(request("POST", "/files/", &[("upload-length", "11")], b""))
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().expect("location").to_owned();
    let path = location.trim_start_matches("http://uploads.test").to_owned();
    let patch = handler.handle(patch_at_zero(&path, b"hello world")).await;
    assert_eq!(patch.status(), StatusCode::NO_CONTENT, "the finishing PATCH succeeds");
    assert_eq!(patch.headers()["upload-offset"], "11");

    // Creation-with-upload finishing at once.
    let whole = handler
        .handle(request(
            "POST",
            "/files/",
            &[
                ("upload-length", "5"),
                ("content-type", "application/offset+octet-stream"),
            ],
            b"12345",
        ))
        .await;
    assert_eq!(whole.status(), StatusCode::CREATED);
    let whole_path = whole.headers()["location"]
        .to_str()
        .expect("location")
        .trim_start_matches("http://uploads.test")
        .to_owned();

    let ingested = hooks.ingested.lock().expect("ingested").clone();
    assert_eq!(ingested.len(), 2, "both uploads were ingested: {ingested:?}");
    for (path, bytes) in [(&path, &b"hello world"[..]), (&whole_path, &b"12345"[..])] {
        assert_eq!(
            status(&handler, "HEAD", path).await,
            StatusCode::NOT_FOUND,
            "HEAD {path}"
        );
        assert_eq!(status(&handler, "GET", path).await, StatusCode::NOT_FOUND, "GET {path}");
        let id = path.trim_start_matches("/files/");
        assert_eq!(fs::read(inbox.path().join(id)).expect("ingested file"), bytes);
    }
    assert_eq!(names(uploads.path()), Vec::<String>::new(), "no .bin or .info left");
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_data_path_only_for_finished_uploads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(FileStore::new(dir.path()).expect("store"));
    let handler = TusHandler::builder(store.clone()).base_path("/files/").build();
    let created = handler
        .handle(request("POST", "/files/", &[("upload-length", "4")], b""))
        .await;
    let location = created.headers()["location"].to_str().expect("location").to_owned();
    let id = UploadId::parse(location.rsplit('/').next().expect("id")).expect("id");

    assert_eq!(store.finished_data_path(&id).await.expect("exists"), None, "unfinished");
    let missing = UploadId::parse("missing").expect("id");
    assert!(matches!(
        store.finished_data_path(&missing).await,
        Err(StoreError::NotFound)
    ));

    let path = location.trim_start_matches("http://uploads.test").to_owned();
    let patch = handler.handle(patch_at_zero(&path, b"data")).await;
    assert_eq!(patch.status(), StatusCode::NO_CONTENT);
    let data = store.finished_data_path(&id).await.expect("exists").expect("finished");
    assert_eq!(fs::read(&data).expect("read"), b"data");
    assert_eq!(data.parent(), Some(dir.path()));
}
