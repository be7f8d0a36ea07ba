//! Hooks and events through the real handler over the memory store.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use tus_core::store::{Listing as _, MemoryStore};
use tus_core::upload::{UploadId, UploadInfo};
use tus_server::{Event, FinishResponse, HookContext, Hooks, PreCreate, Progress, Rejection, TusHandler};
use tus_server::{RequestBody, ResponseBody};

/// What an auth middleware leaves in the request extensions.
#[derive(Debug, Clone)]
struct User(String);

/// Records every call; refuses what the test asks it to.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
    finished: Mutex<HashMap<String, u32>>,
    stop_at: Option<u64>,
    refuse_terminate: bool,
}

impl Recorder {
    fn log(&self, call: String) {
        self.calls.lock().expect("calls").push(call);
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn finished(&self) -> HashMap<String, u32> {
        self.finished.lock().expect("finished").clone()
    }
}

impl Hooks for Recorder {
    fn pre_create<'a>(
        &'a self,
        cx: &'a HookContext,
        upload: &'a mut PreCreate,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let Some(User(user)) = cx.extensions().get::<User>() else {
                self.log("pre_create rejected".into());
                return Err(Rejection::new(StatusCode::UNAUTHORIZED, "sign in first"));
            };
            // The client cannot choose the user id: the hook overwrites it.
            upload
                .metadata_mut()
                .set("user_id", user.as_bytes())
                .map_err(Rejection::internal)?;
            if let Some(wanted) = cx.headers().get("x-wanted-id").and_then(|v| v.to_str().ok()) {
                upload.set_id(UploadId::parse(wanted).map_err(Rejection::internal)?);
            }
            self.log(format!("pre_create {}", cx.method()));
            Ok(())
        })
    }

    fn post_create<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.log(format!("post_create {}", info.id)) })
    }

    fn post_receive<'a>(
        &'a self,
        _cx: &'a HookContext,
        progress: &'a Progress,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            self.log(format!("post_receive {}", progress.offset));
            match self.stop_at {
                Some(limit) if progress.offset >= limit => Err(Rejection::new(StatusCode::FORBIDDEN, "quota exceeded")),
                _ => Ok(()),
            }
        })
    }

    fn pre_finish<'a>(
        &'a self,
        _cx: &'a HookContext,
        info: &'a UploadInfo,
        response: &'a mut FinishResponse,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let value = http::HeaderValue::from_str(info.id.as_str()).map_err(Rejection::internal)?;
            response.headers.insert("x-finished", value);
            Ok(())
        })
    }

    fn post_finish<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            *self
                .finished
                .lock()
                .expect("finished")
                .entry(info.id.to_string())
                .or_default() += 1;
            self.log(format!("post_finish {} {}", info.id, info.offset));
        })
    }

    fn pre_terminate<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            if self.refuse_terminate {
                return Err(Rejection::new(StatusCode::FORBIDDEN, "keep it"));
            }
            self.log(format!("pre_terminate {}", info.id));
            Ok(())
        })
    }

    fn post_terminate<'a>(&'a self, _cx: &'a HookContext, id: &'a UploadId) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.log(format!("post_terminate {id}")) })
    }
}

struct Fixture {
    store: Arc<MemoryStore>,
    hooks: Arc<Recorder>,
    handler: TusHandler,
}

fn fixture(hooks: Recorder) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let hooks = Arc::new(hooks);
    let handler = TusHandler::builder(store.clone())
        .hooks(hooks.clone())
        .progress_interval(Duration::ZERO)
        .build();
    Fixture { store, hooks, handler }
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)], user: Option<&str>) -> http::request::Builder {
    let mut builder = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1")
        .header("tus-resumable", "1.0.0");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    if let Some(user) = user {
        builder = builder.extension(User(user.to_owned()));
    }
    builder
}

/// A body arriving in `chunks`, so the store takes it piece by piece.
fn chunked(chunks: &[&'static [u8]]) -> RequestBody {
    let items: Vec<Result<Bytes, io::Error>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
    RequestBody::from_stream(futures::stream::iter(items))
}

async fn send(handler: &TusHandler, builder: http::request::Builder, body: RequestBody) -> Response<Bytes> {
    let response: Response<ResponseBody> = handler.handle(builder.body(body).expect("request")).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("body");
    Response::from_parts(parts, bytes)
}

async fn create(fx: &Fixture, length: &str, user: Option<&str>, extra: &[(&str, &str)]) -> Response<Bytes> {
    let mut headers = vec![("upload-length", length)];
    headers.extend_from_slice(extra);
    send(
        &fx.handler,
        request("POST", "/files/", &headers, user),
        RequestBody::empty(),
    )
    .await
}

fn path_of(response: &Response<Bytes>) -> String {
    let location = response.headers()["location"].to_str().expect("ascii");
    location.parse::<http::Uri>().expect("uri").path().to_owned()
}

fn id_of(path: &str) -> String {
    path.rsplit('/').next().unwrap_or_default().to_owned()
}

async fn patch(fx: &Fixture, path: &str, offset: u64, chunks: &[&'static [u8]]) -> Response<Bytes> {
    let offset = offset.to_string();
    let headers = [
        ("upload-offset", offset.as_str()),
        ("content-type", "application/offset+octet-stream"),
    ];
    send(&fx.handler, request("PATCH", path, &headers, None), chunked(chunks)).await
}

async fn head(fx: &Fixture, path: &str) -> Response<Bytes> {
    send(&fx.handler, request("HEAD", path, &[], None), RequestBody::empty()).await
}

async fn count_uploads(store: &MemoryStore) -> usize {
    store.list().collect::<Vec<_>>().await.len()
}

#[test]
fn rejected_pre_create_creates_nothing() {
    block_on(async {
        let fx = fixture(Recorder::default());
        let response = create(&fx, "10", None, &[]).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().get("location").is_none());
        assert!(String::from_utf8_lossy(response.body()).contains("sign in first"));
        assert_eq!(count_uploads(&fx.store).await, 0, "nothing was created");
        assert_eq!(fx.hooks.calls(), vec!["pre_create rejected"]);

        // creation-with-upload is refused before its body is read or stored.
        let headers = [("content-type", "application/offset+octet-stream")];
        let mut builder = request("POST", "/files/", &headers, None);
        builder = builder.header("upload-length", "5");
        let response = send(&fx.handler, builder, chunked(&[b"hello"])).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(count_uploads(&fx.store).await, 0);
    });
}

#[test]
fn pre_create_attaches_the_user_and_may_choose_the_id() {
    block_on(async {
        let fx = fixture(Recorder::default());
        // A client-sent user_id ("mallory") is overwritten by the authenticated one.
        let response = create(
            &fx,
            "3",
            Some("alice"),
            &[
                ("upload-metadata", "user_id bWFsbG9yeQ==,name YS50eHQ="),
                ("x-wanted-id", "chosen-1"),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let path = path_of(&response);
        assert_eq!(path, "/files/chosen-1");
        let head = head(&fx, &path).await;
        assert_eq!(head.headers()["upload-metadata"], "user_id YWxpY2U=,name YS50eHQ=");
    });
}

#[test]
fn progress_events_arrive_in_order_and_finish_once() {
    block_on(async {
        let fx = fixture(Recorder::default());
        let mut events = fx.handler.subscribe(64);
        let created = create(&fx, "11", Some("bob"), &[]).await;
        let path = path_of(&created);
        let id = id_of(&path);
        let response = patch(&fx, &path, 0, &[b"hel", b"lo", b" wor", b"ld"]).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(response.headers()["x-finished"], id.as_str(), "pre_finish adds headers");
        drop(fx.handler);

        let mut offsets = Vec::new();
        let mut kinds = Vec::new();
        while let Some(event) = events.next().await {
            match event {
                Event::Created(info) => kinds.push(format!("created {}", info.id)),
                Event::Progress(progress) => {
                    assert_eq!(progress.id.as_str(), id);
                    offsets.push(progress.offset);
                    kinds.push("progress".to_owned());
                }
                Event::Finished(info) => kinds.push(format!("finished {} {}", info.id, info.offset)),
                other => kinds.push(format!("{other:?}")),
            }
        }
        assert_eq!(offsets, vec![3, 5, 9, 11], "one report per chunk taken, in order");
        assert_eq!(
            kinds.first().map(String::as_str),
            Some(format!("created {id}").as_str())
        );
        assert_eq!(
            kinds.last().map(String::as_str),
            Some(format!("finished {id} 11").as_str())
        );
        assert_eq!(events.dropped(), 0);
        let receives: Vec<String> = fx
            .hooks
            .calls()
            .into_iter()
            .filter(|c| c.starts_with("post_receive"))
            .collect();
        assert_eq!(
            receives,
            vec!["post_receive 3", "post_receive 5", "post_receive 9", "post_receive 11"]
        );
    });
}

#[test]
fn post_finish_fires_exactly_once_per_upload() {
    block_on(async {
        let fx = fixture(Recorder::default());
        let mut expected = HashMap::new();

        // Zero-length: finished at creation.
        let empty = id_of(&path_of(&create(&fx, "0", Some("u"), &[]).await));
        expected.insert(empty.clone(), 1);

        // creation-with-upload carrying every byte.
        let mut builder = request(
            "POST",
            "/files/",
            &[("content-type", "application/offset+octet-stream")],
            Some("u"),
        );
        builder = builder.header("upload-length", "5");
        let response = send(&fx.handler, builder, chunked(&[b"he", b"llo"])).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        expected.insert(id_of(&path_of(&response)), 1);

        // Two PATCHes, then a repeated empty PATCH at the end and HEADs.
        let path = path_of(&create(&fx, "4", Some("u"), &[]).await);
        assert_eq!(patch(&fx, &path, 0, &[b"ab"]).await.status(), StatusCode::NO_CONTENT);
        assert_eq!(patch(&fx, &path, 2, &[b"cd"]).await.status(), StatusCode::NO_CONTENT);
        let again = patch(&fx, &path, 4, &[]).await;
        assert!(again.headers().get("x-finished").is_none(), "no second finish");
        head(&fx, &path).await;
        expected.insert(id_of(&path), 1);

        // Deferred length declared by an empty PATCH after the bytes.
        let response = send(
            &fx.handler,
            request("POST", "/files/", &[("upload-defer-length", "1")], Some("u")),
            RequestBody::empty(),
        )
        .await;
        let deferred = path_of(&response);
        assert_eq!(
            patch(&fx, &deferred, 0, &[b"xyz"]).await.status(),
            StatusCode::NO_CONTENT
        );
        let declare = send(
            &fx.handler,
            request(
                "PATCH",
                &deferred,
                &[
                    ("upload-offset", "3"),
                    ("upload-length", "3"),
                    ("content-type", "application/offset+octet-stream"),
                ],
                None,
            ),
            RequestBody::empty(),
        )
        .await;
        assert_eq!(declare.status(), StatusCode::NO_CONTENT);
        expected.insert(id_of(&deferred), 1);

        // A final upload of two partials, the second finished after the final was created.
        let one = path_of(&create(&fx, "2", Some("u"), &[("upload-concat", "partial")]).await);
        let two = path_of(&create(&fx, "2", Some("u"), &[("upload-concat", "partial")]).await);
        assert_eq!(patch(&fx, &one, 0, &[b"12"]).await.status(), StatusCode::NO_CONTENT);
        let concat = format!("final;{one} {two}");
        let response = send(
            &fx.handler,
            request("POST", "/files/", &[("upload-concat", concat.as_str())], Some("u")),
            RequestBody::empty(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let final_path = path_of(&response);
        assert_eq!(patch(&fx, &two, 0, &[b"34"]).await.status(), StatusCode::NO_CONTENT);
        head(&fx, &final_path).await;
        head(&fx, &final_path).await;
        for path in [&one, &two, &final_path] {
            expected.insert(id_of(path), 1);
        }
        assert_eq!(head(&fx, &final_path).await.headers()["upload-offset"], "4");

        assert_eq!(fx.hooks.finished(), expected);
    });
}

#[test]
fn post_receive_can_stop_an_upload() {
    block_on(async {
        let fx = fixture(Recorder {
            stop_at: Some(4),
            ..Recorder::default()
        });
        let path = path_of(&create(&fx, "10", Some("u"), &[]).await);
        let response = patch(&fx, &path, 0, &[b"ab", b"cd", b"ef", b"gh", b"ij"]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(String::from_utf8_lossy(response.body()).contains("quota exceeded"));
        let offset = head(&fx, &path).await.headers()["upload-offset"].clone();
        assert_eq!(offset, "4", "bytes before the stop are kept, none after");
        assert!(fx.hooks.finished().is_empty());
    });
}

#[test]
fn pre_terminate_may_refuse() {
    block_on(async {
        let fx = fixture(Recorder {
            refuse_terminate: true,
            ..Recorder::default()
        });
        let path = path_of(&create(&fx, "10", Some("u"), &[]).await);
        let response = send(&fx.handler, request("DELETE", &path, &[], None), RequestBody::empty()).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(head(&fx, &path).await.status(), StatusCode::OK, "still there");

        let fx = fixture(Recorder::default());
        let events = fx.handler.subscribe(8);
        let path = path_of(&create(&fx, "10", Some("u"), &[]).await);
        let id = id_of(&path);
        let response = send(&fx.handler, request("DELETE", &path, &[], None), RequestBody::empty()).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(head(&fx, &path).await.status(), StatusCode::NOT_FOUND);
        let calls = fx.hooks.calls();
        assert_eq!(
            calls[calls.len() - 2..],
            [format!("pre_terminate {id}"), format!("post_terminate {id}")]
        );
        drop(fx.handler);
        let last = events.collect::<Vec<_>>().await.pop();
        assert_eq!(last, Some(Event::Terminated(UploadId::parse(&id).expect("id"))));
    });
}

#[test]
fn a_subscriber_that_never_reads_does_not_block_uploads() {
    block_on(async {
        let fx = fixture(Recorder::default());
        let stalled = fx.handler.subscribe(1);
        let path = path_of(&create(&fx, "8", Some("u"), &[]).await);
        let response = patch(&fx, &path, 0, &[b"a", b"b", b"c", b"d", b"e", b"f", b"g", b"h"]).await;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        assert_eq!(head(&fx, &path).await.headers()["upload-offset"], "8");
        // Created filled the queue; 8 progress reports and Finished were dropped.
        assert_eq!(stalled.dropped(), 9);
    });
}

/// Runs `future` to completion on a fresh single-threaded Tokio runtime
/// (the handler's default timer needs Tokio's time driver).
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime")
        .block_on(future)
}
