//! Request stealing, the lock timeout, the body idle timeout and graceful
//! shutdown, driven through `TusHandler::handle` over the memory store with
//! bodies the test feeds by hand. No runtime: a single-threaded executor
//! polls the requests in a known order, so every step is deterministic.

#![allow(missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::FutureExt as _;
use futures::channel::{mpsc, oneshot};
use futures::future::{BoxFuture, Shared};
use http::{Request, Response, StatusCode};
use tus_core::store::MemoryStore;
use tus_core::upload::UploadId;
use tus_server::{Locker as _, MemoryLocker, Timer, TusHandler};
use tus_server::{RequestBody, ResponseBody};

type Chunks = mpsc::UnboundedSender<Result<Bytes, std::io::Error>>;

fn handler(configure: impl FnOnce(tus_server::TusHandlerBuilder) -> tus_server::TusHandlerBuilder) -> TusHandler {
    // A timer that never fires unless a test passes its own: no runtime here.
    let builder = TusHandler::builder(Arc::new(MemoryStore::new())).timer(Arc::new(NeverTimer));
    configure(builder).build()
}

async fn create(handler: &TusHandler, length: u64) -> String {
    let request = Request::post("/files/")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .body(RequestBody::empty())
        .expect("request");
    let response = handler.handle(request).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()["location"].to_str().expect("ascii");
    location[location.find("/files/").expect("path")..].to_owned()
}

/// A PATCH at `offset` whose body is fed through the returned sender.
fn streaming_patch(
    handler: &TusHandler,
    path: &str,
    offset: u64,
) -> (BoxFuture<'static, Response<ResponseBody>>, Chunks) {
    let (chunks, body) = mpsc::unbounded();
    let request = Request::patch(path)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .body(RequestBody::from_stream(body))
        .expect("request");
    let handler = handler.clone();
    (Box::pin(async move { handler.handle(request).await }), chunks)
}

fn head(handler: &TusHandler, path: &str) -> BoxFuture<'static, Response<ResponseBody>> {
    let request = Request::head(path)
        .header("tus-resumable", "1.0.0")
        .body(RequestBody::empty())
        .expect("request");
    let handler = handler.clone();
    Box::pin(async move { handler.handle(request).await })
}

fn offset(response: &Response<ResponseBody>) -> &str {
    response.headers()["upload-offset"].to_str().expect("ascii")
}

async fn body_text(response: Response<ResponseBody>) -> String {
    String::from_utf8_lossy(&response.into_body().collect().await.expect("body")).into_owned()
}

/// A timer whose sleeps all end when the test says so.
#[derive(Clone)]
struct ManualTimer {
    fired: Shared<BoxFuture<'static, ()>>,
}

impl ManualTimer {
    fn new() -> (Self, oneshot::Sender<()>) {
        let (fire, fired) = oneshot::channel::<()>();
        let fired = fired.map(|_| ()).boxed().shared();
        (Self { fired }, fire)
    }
}

impl Timer for ManualTimer {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        self.fired.clone().boxed()
    }
}

/// A timer that never fires.
struct NeverTimer;

impl Timer for NeverTimer {
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        futures::future::pending().boxed()
    }
}

fn send(chunks: &Chunks, bytes: &'static [u8]) {
    chunks.unbounded_send(Ok(Bytes::from_static(bytes))).expect("body open");
}

#[test]
fn a_head_stops_a_streaming_patch_and_reports_the_true_offset() {
    futures::executor::block_on(async {
        let handler = handler(|b| b);
        let path = create(&handler, 100).await;
        let (mut patch, chunks) = streaming_patch(&handler, &path, 0);
        send(&chunks, b"0123456789");
        assert!((&mut patch).now_or_never().is_none(), "the PATCH waits for more body");

        let mut head = head(&handler, &path);
        assert!(
            (&mut head).now_or_never().is_none(),
            "HEAD waits for the PATCH to let go"
        );
        let patch = patch.now_or_never().expect("the PATCH stops once asked to release");
        let head = head.now_or_never().expect("HEAD proceeds once the lock is released");
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(offset(&head), "10", "HEAD sees every byte the PATCH received");
        assert_eq!(patch.status(), StatusCode::CONFLICT);
        assert!(body_text(patch).await.starts_with("ERR_UPLOAD_INTERRUPTED"));
        // The interrupted PATCH's client never sees its body read again.
        assert!(chunks.unbounded_send(Ok(Bytes::from_static(b"x"))).is_err());
    });
}

#[test]
fn a_new_patch_takes_over_from_the_streaming_one() {
    futures::executor::block_on(async {
        let handler = handler(|b| b);
        let path = create(&handler, 20).await;
        let (mut first, first_chunks) = streaming_patch(&handler, &path, 0);
        send(&first_chunks, b"abcde");
        assert!((&mut first).now_or_never().is_none());

        let (mut second, second_chunks) = streaming_patch(&handler, &path, 5);
        send(&second_chunks, b"fghijklmnopqrst");
        drop(second_chunks);
        assert!(
            (&mut second).now_or_never().is_none(),
            "the second PATCH waits for the lock"
        );
        let first = first.now_or_never().expect("the first PATCH stops once asked");
        let second = second.now_or_never().expect("the second PATCH proceeds");
        assert_eq!(first.status(), StatusCode::CONFLICT);
        assert_eq!(second.status(), StatusCode::NO_CONTENT);
        assert_eq!(offset(&second), "20");
        assert_eq!(offset(&head(&handler, &path).await), "20");
    });
}

#[test]
fn a_holder_that_never_releases_times_out_with_423() {
    futures::executor::block_on(async {
        let locker = Arc::new(MemoryLocker::new());
        let (timer, fire) = ManualTimer::new();
        let handler = handler(|b| b.locker(locker.clone()).timer(Arc::new(timer)));
        let path = create(&handler, 10).await;
        let id = UploadId::parse(path.trim_start_matches("/files/")).expect("id");
        // A holder outside the handler: it ignores release requests.
        let stuck = locker.lock(&id).await.expect("lock");

        let mut waiting = head(&handler, &path);
        assert!((&mut waiting).now_or_never().is_none(), "waits while the timeout runs");
        fire.send(()).expect("timer");
        let response = waiting.now_or_never().expect("answers once the timeout passed");
        assert_eq!(response.status(), StatusCode::LOCKED);
        drop(stuck);
        assert_eq!(head(&handler, &path).await.status(), StatusCode::OK);
    });
}

#[test]
fn an_idle_body_is_stopped_and_its_bytes_kept() {
    futures::executor::block_on(async {
        let (timer, fire) = ManualTimer::new();
        let handler = handler(|b| b.timer(Arc::new(timer)).body_idle_timeout(Some(Duration::from_secs(1))));
        let path = create(&handler, 100).await;
        let (mut patch, chunks) = streaming_patch(&handler, &path, 0);
        send(&chunks, b"abc");
        assert!((&mut patch).now_or_never().is_none());
        fire.send(()).expect("timer");
        let response = patch.now_or_never().expect("stops once the idle timeout passed");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body_text(response).await.starts_with("ERR_READ_TIMEOUT"));
        assert_eq!(offset(&head(&handler, &path).await), "3");
        drop(chunks);
    });
}

#[test]
fn shutdown_stops_bodies_in_flight_and_keeps_their_bytes() {
    futures::executor::block_on(async {
        let handler = handler(|b| b);
        let path = create(&handler, 100).await;
        let (mut patch, chunks) = streaming_patch(&handler, &path, 0);
        send(&chunks, b"abcdefg");
        assert!((&mut patch).now_or_never().is_none());
        assert!(!handler.is_shutting_down());
        handler.shutdown();
        let response = patch.now_or_never().expect("stops at once");
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(handler.is_shutting_down());
        assert_eq!(offset(&head(&handler, &path).await), "7");
        drop(chunks);
    });
}

#[test]
fn a_stale_patch_gets_409_without_interrupting_the_live_one() {
    futures::executor::block_on(async {
        let handler = handler(|b| b);
        let path = create(&handler, 10).await;
        let (mut live, chunks) = streaming_patch(&handler, &path, 0);
        send(&chunks, b"abcd");
        assert!((&mut live).now_or_never().is_none(), "the live PATCH streams");
        // Its bytes are in the store: the upload's offset moved past 0.
        let (stale, stale_chunks) = streaming_patch(&handler, &path, 0);
        drop(stale_chunks);
        let stale = stale.await;
        assert_eq!(
            stale.status(),
            StatusCode::CONFLICT,
            "a PATCH at a passed offset can never succeed"
        );
        assert!(body_text(stale).await.starts_with("ERR_MISMATCHED_OFFSET"));
        send(&chunks, b"efghij");
        drop(chunks);
        let live = live.await;
        assert_eq!(
            live.status(),
            StatusCode::NO_CONTENT,
            "the live PATCH was not interrupted"
        );
        assert_eq!(offset(&live), "10");
    });
}

#[test]
fn a_body_slower_than_the_minimum_rate_is_stopped_and_its_bytes_kept() {
    futures::executor::block_on(async {
        let (timer, fire) = ManualTimer::new();
        let handler = handler(|b| {
            b.timer(Arc::new(timer))
                .body_idle_timeout(None)
                .min_body_rate(Some(tus_server::MinBodyRate {
                    bytes: 100,
                    per: Duration::from_secs(10),
                }))
        });
        let path = create(&handler, 1000).await;
        let (mut patch, chunks) = streaming_patch(&handler, &path, 0);
        send(&chunks, b"a trickle");
        assert!((&mut patch).now_or_never().is_none());
        fire.send(()).expect("timer");
        let response = patch.now_or_never().expect("stops once a window passed below the rate");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body_text(response).await.starts_with("ERR_BODY_TOO_SLOW"));
        assert_eq!(
            offset(&head(&handler, &path).await),
            "9",
            "the bytes that arrived are kept"
        );
        drop(chunks);
    });
}

/// Allows a request on an upload only to the user who created it: the
/// `x-user` header must match the `owner` metadata set at creation.
struct OwnerOnly;

impl tus_server::Hooks for OwnerOnly {
    fn pre_create<'a>(
        &'a self,
        cx: &'a tus_server::HookContext,
        upload: &'a mut tus_server::PreCreate,
    ) -> BoxFuture<'a, Result<(), tus_server::Rejection>> {
        Box::pin(async move {
            let user = cx
                .headers()
                .get("x-user")
                .map(|v| v.as_bytes().to_vec())
                .unwrap_or_default();
            upload
                .metadata_mut()
                .insert("owner", user)
                .map_err(tus_server::Rejection::internal)
        })
    }

    fn authorize<'a>(
        &'a self,
        cx: &'a tus_server::HookContext,
        access: tus_server::Access<'a>,
    ) -> BoxFuture<'a, Result<(), tus_server::Rejection>> {
        Box::pin(async move {
            let user = cx.headers().get("x-user").map(|v| v.as_bytes());
            if user == access.upload().metadata.get("owner") {
                Ok(())
            } else {
                Err(tus_server::Rejection::new(StatusCode::NOT_FOUND, "no such upload"))
            }
        })
    }
}

#[test]
fn another_user_cannot_touch_an_upload_nor_interrupt_its_patch() {
    futures::executor::block_on(async {
        let handler = handler(|b| b.hooks(Arc::new(OwnerOnly)));
        let request = Request::post("/files/")
            .header("tus-resumable", "1.0.0")
            .header("upload-length", "10")
            .header("x-user", "alice")
            .body(RequestBody::empty())
            .expect("request");
        let created = handler.handle(request).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let location = created.headers()["location"].to_str().expect("ascii");
        let path = location[location.find("/files/").expect("path")..].to_owned();

        let (chunks, body) = mpsc::unbounded();
        let request = Request::patch(&path)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", "0")
            .header("content-type", "application/offset+octet-stream")
            .header("x-user", "alice")
            .body(RequestBody::from_stream(body))
            .expect("request");
        let mut live = Box::pin(handler.handle(request));
        send(&chunks, b"abc");
        assert!((&mut live).now_or_never().is_none(), "alice's PATCH streams");

        for method in ["HEAD", "GET", "DELETE", "PATCH"] {
            let mut request = Request::builder()
                .method(method)
                .uri(&path)
                .header("tus-resumable", "1.0.0")
                .header("x-user", "mallory");
            if method == "PATCH" {
                request = request
                    .header("upload-offset", "3")
                    .header("content-type", "application/offset+octet-stream");
            }
            let response = handler
                .handle(
                    request
                        .body(RequestBody::from(Bytes::from_static(b"evil")))
                        .expect("request"),
                )
                .await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} by another user");
        }
        assert!(
            (&mut live).now_or_never().is_none(),
            "alice's PATCH was not interrupted"
        );
        send(&chunks, b"defghij");
        drop(chunks);
        let live = live.await;
        assert_eq!(live.status(), StatusCode::NO_CONTENT);
        assert_eq!(offset(&live), "10");
    });
}
