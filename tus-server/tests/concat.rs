//! Final uploads across server instances: the finals waiting for a partial
//! are found in the store, so whichever instance completes the partial
//! assembles them; HEAD and GET answer without assembling (no finish hook in
//! the read), and a final a crash left unassembled is repaired in the
//! background when read, or by the sweep.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures::StreamExt as _;
use http::{Request, Response, StatusCode};
use tus_core::store::{MemoryStore, Store as _};
use tus_core::upload::{ConcatPart, NewUpload, UploadId, UploadKind, UploadSize};
use tus_server::{Event, RequestBody, ResponseBody, TusHandler};

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(future)
}

/// One server instance over `store`, with its own (in-process) locker.
fn instance(store: &MemoryStore) -> TusHandler {
    TusHandler::builder(Arc::new(store.clone()))
        .base_path("/files/")
        .build()
}

async fn send(
    handler: &TusHandler,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static [u8],
) -> Response<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request
        .body(RequestBody::from(Bytes::from_static(body)))
        .expect("request");
    let response: Response<ResponseBody> = handler.handle(request).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.expect("body"))
}

async fn create(handler: &TusHandler, headers: &[(&str, &str)]) -> String {
    let response = send(handler, "POST", "/files/", headers, b"").await;
    assert_eq!(response.status(), StatusCode::CREATED, "{response:?}");
    let location = response.headers()["location"].to_str().expect("ascii");
    location[location.find("/files/").expect("path")..].to_owned()
}

async fn patch(handler: &TusHandler, path: &str, offset: &str, body: &'static [u8]) -> Response<Bytes> {
    let headers = [
        ("upload-offset", offset),
        ("content-type", "application/offset+octet-stream"),
    ];
    send(handler, "PATCH", path, &headers, body).await
}

fn header(response: &Response<Bytes>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[test]
fn the_instance_that_completes_the_last_partial_assembles_the_final() {
    block_on(async {
        let store = MemoryStore::new();
        let (a, b) = (instance(&store), instance(&store));
        let mut events = a.subscribe(64);
        let mut b_events = b.subscribe(64);
        let first = create(&a, &[("upload-length", "3"), ("upload-concat", "partial")]).await;
        let second = create(&a, &[("upload-length", "3"), ("upload-concat", "partial")]).await;
        assert_eq!(patch(&a, &first, "0", b"abc").await.status(), StatusCode::NO_CONTENT);
        let concat = format!("final;{first} {second}");
        let final_path = create(&a, &[("upload-concat", concat.as_str())]).await;
        let head = send(&a, "HEAD", &final_path, &[], b"").await;
        assert_eq!(
            header(&head, "upload-offset"),
            None,
            "not assembled while a partial is unfinished"
        );

        // Another instance, with its own locks and no memory of the final,
        // completes the last partial.
        assert_eq!(patch(&b, &second, "0", b"def").await.status(), StatusCode::NO_CONTENT);
        let head = send(&a, "HEAD", &final_path, &[], b"").await;
        assert_eq!(
            header(&head, "upload-offset").as_deref(),
            Some("6"),
            "assembled by the other instance"
        );
        let get = send(&a, "GET", &final_path, &[], b"").await;
        assert_eq!(get.body().as_ref(), b"abcdef");

        let final_id = final_path.trim_start_matches("/files/").to_owned();
        drop((a, b));
        let finished_on_a: Vec<String> = events
            .by_ref()
            .filter_map(|event| async move {
                match event {
                    Event::Finished(info) => Some(info.id.to_string()),
                    _ => None,
                }
            })
            .collect()
            .await;
        let finished_on_b: Vec<String> = b_events
            .by_ref()
            .filter_map(|event| async move {
                match event {
                    Event::Finished(info) => Some(info.id.to_string()),
                    _ => None,
                }
            })
            .collect()
            .await;
        assert!(
            !finished_on_a.contains(&final_id),
            "the HEAD and GET on A assembled nothing"
        );
        assert_eq!(
            finished_on_b.iter().filter(|id| **id == final_id).count(),
            1,
            "the final finished once, on B: {finished_on_b:?}"
        );
    });
}

/// Creates, behind the handler's back, a final of one complete partial that
/// a crash left unassembled; returns its path.
async fn crashed_final(store: &MemoryStore, handler: &TusHandler) -> String {
    let part = create(handler, &[("upload-length", "2"), ("upload-concat", "partial")]).await;
    assert_eq!(patch(handler, &part, "0", b"hi").await.status(), StatusCode::NO_CONTENT);
    let part_id = UploadId::parse(part.trim_start_matches("/files/")).expect("id");
    let final_id = UploadId::parse("crashed-final").expect("id");
    store
        .create(NewUpload {
            id: final_id.clone(),
            size: UploadSize::Known(2),
            metadata: Default::default(),
            kind: UploadKind::Final(vec![ConcatPart {
                id: part_id,
                reference: part.clone(),
            }]),
            created_at: SystemTime::now(),
        })
        .await
        .expect("create");
    format!("/files/{final_id}")
}

async fn finished_ids(events: tus_server::Events) -> Vec<String> {
    events
        .filter_map(|event| async move {
            match event {
                Event::Finished(info) => Some(info.id.to_string()),
                _ => None,
            }
        })
        .collect()
        .await
}

#[test]
fn a_read_answers_the_truth_and_repairs_the_final_in_the_background() {
    block_on(async {
        let store = MemoryStore::new();
        let handler = instance(&store);
        let events = handler.subscribe(64);
        let path = crashed_final(&store, &handler).await;
        let head = send(&handler, "HEAD", &path, &[], b"").await;
        assert_eq!(header(&head, "upload-offset"), None, "the read itself changes nothing");
        let mut offset = None;
        for _ in 0..200 {
            offset = header(&send(&handler, "HEAD", &path, &[], b"").await, "upload-offset");
            if offset.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert_eq!(offset.as_deref(), Some("2"), "repaired in the background");
        assert_eq!(handler.assemble_ready_finals().await.expect("sweep"), 0, "nothing left");
        drop(handler);
        let finished = finished_ids(events).await;
        assert_eq!(
            finished.iter().filter(|id| **id == "crashed-final").count(),
            1,
            "finished once"
        );
    });
}

#[test]
fn without_a_runtime_to_spawn_on_the_sweep_repairs() {
    // No Tokio runtime: a read cannot spawn a repair; the sweep does it.
    struct Frozen;
    impl tus_server::Timer for Frozen {
        fn sleep(&self, _: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
    }
    futures::executor::block_on(async {
        let store = MemoryStore::new();
        let handler = TusHandler::builder_with_timer(Arc::new(store.clone()), Arc::new(Frozen))
            .base_path("/files/")
            .build();
        let events = handler.subscribe(64);
        let path = crashed_final(&store, &handler).await;
        assert_eq!(
            header(&send(&handler, "HEAD", &path, &[], b"").await, "upload-offset"),
            None
        );
        assert_eq!(
            send(&handler, "GET", &path, &[], b"").await.status(),
            StatusCode::CONFLICT
        );
        assert_eq!(handler.assemble_ready_finals().await.expect("sweep"), 1);
        assert_eq!(handler.assemble_ready_finals().await.expect("sweep"), 0, "once");
        assert_eq!(
            header(&send(&handler, "HEAD", &path, &[], b"").await, "upload-offset").as_deref(),
            Some("2")
        );
        drop(handler);
        let finished = finished_ids(events).await;
        assert_eq!(finished.iter().filter(|id| **id == "crashed-final").count(), 1);
    });
}

#[test]
fn fan_out_is_bounded_and_repeats_are_allowed_within_it() {
    block_on(async {
        let store = MemoryStore::new();
        let handler = instance(&store);
        let part = create(&handler, &[("upload-length", "1"), ("upload-concat", "partial")]).await;
        assert_eq!(patch(&handler, &part, "0", b"x").await.status(), StatusCode::NO_CONTENT);
        let twice = format!("final;{part} {part}");
        let created = send(&handler, "POST", "/files/", &[("upload-concat", twice.as_str())], b"").await;
        assert_eq!(created.status(), StatusCode::CREATED, "a partial may appear twice");
        let many = format!("final;{}", vec![part.as_str(); 40].join(" "));
        let refused = send(&handler, "POST", "/files/", &[("upload-concat", many.as_str())], b"").await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(String::from_utf8_lossy(refused.body()).starts_with("ERR_PARTIAL_REPEATED"));
    });
}
