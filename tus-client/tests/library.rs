//! The library's controls (pause, resume, cancel, terminate), the resume
//! store across runs, hooks, progress and stream sources, against a real
//! tus server in-process: tus-core's handler over its memory store, served
//! by hyper on 127.0.0.1. (The CLI against peer servers is tested by
//! `tests/client/run_tus_upload_tests.py`.)

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, Uri};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tus_client::{Client, Error, MemoryResumeStore, Notice, RequestInfo, ResumeStore, Source};
use tus_core::store::MemoryStore;
use tus_server::TusHandler;
use tus_server::{RequestBody, ResponseBody};

/// Serves a tus handler on a free loopback port; returns the creation URL
/// and the headers every request carried (for hook checks).
async fn serve() -> (Uri, Arc<Mutex<Vec<HeaderMap>>>) {
    let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
        .base_path("/files/")
        .build();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let recorder = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            let recorder = recorder.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    recorder.lock().expect("lock").push(request.headers().clone());
                    async move {
                        let response: Response<ResponseBody> = handler.handle(request.map(RequestBody::new)).await;
                        Ok::<_, Infallible>(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{address}/files/").parse().expect("uri"), seen)
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

async fn download(url: &Uri) -> Vec<u8> {
    let response = reqwest::get(url.to_string()).await.expect("GET");
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    response.bytes().await.expect("body").to_vec()
}

fn file_with(dir: &tempfile::TempDir, content: &[u8]) -> std::path::PathBuf {
    let path = dir.path().join("source.bin");
    std::fs::write(&path, content).expect("write");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_resume_and_progress() {
    let (endpoint, _) = serve().await;
    let dir = tempfile::tempdir().expect("dir");
    let content = data(3 << 20);
    let path = file_with(&dir, &content);
    let client = Client::builder()
        .chunk_size(256 << 10)
        .limit_rate(4 << 20)
        .build()
        .expect("client");
    let upload = client
        .upload(endpoint, Source::file(&path).await.expect("source"))
        .start();
    let control = upload.controller();
    let mut updates = control.progress_updates();
    updates
        .wait_for(|progress| progress.acknowledged >= 512 << 10)
        .await
        .expect("progress");
    control.pause();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let paused_at = control.progress();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        control.progress().acknowledged,
        paused_at.acknowledged,
        "nothing moves while paused"
    );
    control.resume();
    let uploaded = upload.finish().await.expect("finished");
    let progress = control.progress();
    assert_eq!(progress.acknowledged, content.len() as u64);
    assert_eq!(progress.total, Some(content.len() as u64));
    assert!(progress.sent >= progress.acknowledged);
    assert_eq!(download(&uploaded.url).await, content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_keeps_the_upload_for_the_next_run() {
    let (endpoint, _) = serve().await;
    let dir = tempfile::tempdir().expect("dir");
    let content = data(2 << 20);
    let path = file_with(&dir, &content);
    let store: Arc<dyn ResumeStore> = Arc::new(MemoryResumeStore::new());
    let client = Client::builder()
        .chunk_size(128 << 10)
        .limit_rate(4 << 20)
        .build()
        .expect("client");
    let upload = client
        .upload(endpoint.clone(), Source::file(&path).await.expect("source"))
        .shared_resume_store(store.clone())
        .start();
    let control = upload.controller();
    control
        .progress_updates()
        .wait_for(|progress| progress.acknowledged >= 512 << 10)
        .await
        .expect("progress");
    control.cancel();
    assert!(matches!(upload.finish().await, Err(Error::Cancelled)));

    let resumed = Arc::new(Mutex::new(None));
    let seen = resumed.clone();
    let uploaded = Client::new()
        .expect("client")
        .upload(endpoint, Source::file(&path).await.expect("source"))
        .shared_resume_store(store)
        .on_notice(move |notice| {
            if let Notice::Resumed { offset, .. } = notice {
                *seen.lock().expect("lock") = Some(*offset);
            }
        })
        .start()
        .finish()
        .await
        .expect("finished");
    let offset = resumed.lock().expect("lock").expect("the second run resumed");
    assert!(offset >= 512 << 10, "resumed at {offset}");
    assert_eq!(download(&uploaded.url).await, content);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terminate_deletes_the_upload_and_forgets_it() {
    let (endpoint, _) = serve().await;
    let dir = tempfile::tempdir().expect("dir");
    let path = file_with(&dir, &data(2 << 20));
    let store: Arc<dyn ResumeStore> = Arc::new(MemoryResumeStore::new());
    let created = Arc::new(Mutex::new(None));
    let seen = created.clone();
    let client = Client::builder()
        .chunk_size(128 << 10)
        .limit_rate(2 << 20)
        .build()
        .expect("client");
    let upload = client
        .upload(endpoint.clone(), Source::file(&path).await.expect("source"))
        .shared_resume_store(store.clone())
        .on_notice(move |notice| {
            if let Notice::Created { url, .. } = notice {
                *seen.lock().expect("lock") = Some(url.clone());
            }
        })
        .start();
    let control = upload.controller();
    control
        .progress_updates()
        .wait_for(|progress| progress.acknowledged > 0)
        .await
        .expect("progress");
    control.terminate();
    assert!(matches!(upload.finish().await, Err(Error::Cancelled)));
    let url = created.lock().expect("lock").clone().expect("created");
    let head = reqwest::Client::new()
        .head(url.to_string())
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), 404, "the upload was deleted");
    let (key, _) = tus_client::Fingerprint::of_file(&endpoint.to_string(), &path)
        .await
        .expect("fingerprint");
    assert!(store.load(&key).expect("load").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_and_custom_headers_reach_every_request() {
    let (endpoint, seen) = serve().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let client = Client::builder()
        .header(
            http::header::HeaderName::from_static("x-app"),
            HeaderValue::from_static("demo"),
        )
        .before_request(move |info: RequestInfo| {
            let number = counter.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                let mut headers = HeaderMap::new();
                headers.insert(
                    http::header::AUTHORIZATION,
                    HeaderValue::from_str(&format!("Bearer token-{number}-{:?}", info.kind)).expect("value"),
                );
                Ok::<_, tus_client::BoxError>(headers)
            }
        })
        .chunk_size(64 << 10)
        .build()
        .expect("client");
    let content = data(300_000);
    let uploaded = client
        .upload(endpoint, Source::reader(std::io::Cursor::new(content.clone()), None))
        .start()
        .finish()
        .await
        .expect("finished");
    assert_eq!(download(&uploaded.url).await, content);
    let seen = seen.lock().expect("lock").clone();
    let tus_requests: Vec<&HeaderMap> = seen.iter().filter(|h| h.contains_key("x-app")).collect();
    assert_eq!(
        tus_requests.len(),
        calls.load(Ordering::SeqCst),
        "one hook call per request"
    );
    for (index, headers) in tus_requests.iter().enumerate() {
        let token = headers.get(http::header::AUTHORIZATION).expect("authorization");
        assert!(
            token
                .to_str()
                .expect("ascii")
                .starts_with(&format!("Bearer token-{}-", index + 1))
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_unknown_length_defers_it() {
    let (endpoint, _) = serve().await;
    let content = data(1_000_003);
    let chunks: Vec<std::io::Result<Bytes>> = content.chunks(77_777).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    let lengths = Arc::new(Mutex::new(Vec::new()));
    let seen = lengths.clone();
    let uploaded = Client::builder()
        .chunk_size(256 << 10)
        .build()
        .expect("client")
        .upload(endpoint, Source::stream(futures::stream::iter(chunks), None))
        .on_notice(move |notice| {
            if let Notice::LengthKnown(length) = notice {
                seen.lock().expect("lock").push(*length);
            }
        })
        .start()
        .finish()
        .await
        .expect("finished");
    assert_eq!(uploaded.length, content.len() as u64);
    assert_eq!(*lengths.lock().expect("lock"), vec![content.len() as u64]);
    assert_eq!(download(&uploaded.url).await, content);
}
