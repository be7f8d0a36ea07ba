//! IETF draft requests through the real handler over the memory store:
//! hooks (authorize included), events and the 104 apply as to tus requests,
//! and request stealing works across dialects.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::BoxFuture;
use http::{Request, Response, StatusCode};
use tus_core::store::MemoryStore;
use tus_core::upload::UploadInfo;
use tus_server::{Access, Event, HookContext, Hooks, Interim, PreCreate, Rejection, RequestBody, TusHandler};

/// Records hook calls; refuses `authorize` to requests without `x-owner: alice`.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

impl Recorder {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("calls").clone()
    }

    fn log(&self, call: impl Into<String>) {
        self.calls.lock().expect("calls").push(call.into());
    }
}

impl Hooks for Recorder {
    fn pre_create<'a>(&'a self, _: &'a HookContext, upload: &'a mut PreCreate) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            self.log(format!("pre_create {:?}", upload.size()));
            Ok(())
        })
    }

    fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let name = match access {
                Access::Head(_) => "head",
                Access::Append(_) => "append",
                Access::Download(_) => "download",
                Access::Terminate(_) => "terminate",
                _ => "other",
            };
            self.log(format!("authorize {name}"));
            match cx.headers().get("x-owner") {
                Some(owner) if owner == "alice" => Ok(()),
                _ => Err(Rejection::new(StatusCode::NOT_FOUND, "no such upload")),
            }
        })
    }

    fn post_finish<'a>(&'a self, _: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move { self.log(format!("post_finish {}", info.offset)) })
    }
}

async fn send(handler: &TusHandler, request: Request<RequestBody>) -> Response<Bytes> {
    let (parts, body) = handler.handle(request).await.into_parts();
    Response::from_parts(parts, body.collect().await.expect("body"))
}

fn draft(method: &str, uri: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("upload-draft-interop-version", "9")
        .header("x-owner", "alice")
}

#[tokio::test]
async fn hooks_events_and_the_104_apply_to_draft_requests() {
    let recorder = Arc::new(Recorder::default());
    let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
        .hooks(recorder.clone())
        .build();
    let mut events = handler.subscribe(16);
    let sent: Arc<Mutex<Vec<Response<()>>>> = Arc::default();
    let interim = {
        let sent = Arc::clone(&sent);
        Interim::new(move |response| {
            let mut copy = Response::new(());
            *copy.status_mut() = response.status();
            *copy.headers_mut() = response.headers().clone();
            sent.lock().expect("sent").push(copy);
            true
        })
    };
    let mut create = draft("POST", "/files/")
        .header("upload-complete", "?0")
        .header("upload-length", "5")
        .header("content-length", "2")
        .body(RequestBody::from(Bytes::from_static(b"he")))
        .expect("request");
    create.extensions_mut().insert(interim);
    let created = send(&handler, create).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().expect("ascii").to_owned();
    let path = &location[location.find("/files/").expect("path")..];
    {
        let sent = sent.lock().expect("sent");
        assert_eq!(sent.len(), 1, "one 104");
        assert_eq!(sent[0].status(), 104);
        assert_eq!(sent[0].headers()["location"], location.as_str());
        assert_eq!(sent[0].headers()["upload-draft-interop-version"], "9");
    }

    // Someone else may not touch it, in either dialect.
    let stranger = Request::builder()
        .method("HEAD")
        .uri(path)
        .header("upload-draft-interop-version", "8")
        .body(RequestBody::empty())
        .expect("request");
    assert_eq!(send(&handler, stranger).await.status(), StatusCode::NOT_FOUND);

    let append = draft("PATCH", path)
        .header("content-type", "application/partial-upload")
        .header("upload-offset", "2")
        .header("upload-complete", "?1")
        .header("content-length", "3")
        .body(RequestBody::from(Bytes::from_static(b"llo")))
        .expect("request");
    let appended = send(&handler, append).await;
    assert_eq!(appended.status(), StatusCode::CREATED);
    assert_eq!(appended.headers()["upload-complete"], "?1");

    let get = draft("GET", path).body(RequestBody::empty()).expect("request");
    let got = send(&handler, get).await;
    assert_eq!(got.body().as_ref(), b"hello");
    assert_eq!(got.headers()["upload-complete"], "?1");

    assert_eq!(
        recorder.calls(),
        [
            "pre_create Known(5)",
            "authorize head",
            "authorize append",
            "post_finish 5",
            "authorize download"
        ]
    );
    let mut seen = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(Duration::from_millis(100), events.next()).await {
        seen.push(match event {
            Event::Created(_) => "created",
            Event::Progress(_) => "progress",
            Event::Finished(_) => "finished",
            Event::Terminated(_) => "terminated",
            _ => "other",
        });
    }
    assert_eq!(seen.first(), Some(&"created"));
    assert_eq!(seen.last(), Some(&"finished"));
}

#[tokio::test]
async fn a_draft_request_steals_a_tus_patch_in_flight() {
    let handler = TusHandler::builder(Arc::new(MemoryStore::new())).build();
    let create = Request::post("/files/")
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "10")
        .body(RequestBody::empty())
        .expect("request");
    let created = send(&handler, create).await;
    let location = created.headers()["location"].to_str().expect("ascii").to_owned();
    let path = location[location.find("/files/").expect("path")..].to_owned();

    // A tus PATCH that sends 3 bytes, then stalls.
    let (mut feed, stalled) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    feed.try_send(Ok(Bytes::from_static(b"abc"))).expect("send");
    let patch = Request::patch(path.as_str())
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", "10")
        .body(RequestBody::from_stream(stalled))
        .expect("request");
    let in_flight = {
        let handler = handler.clone();
        tokio::spawn(async move { send(&handler, patch).await })
    };
    // The draft offset retrieval stops it and reports the bytes it kept.
    let mut offset = String::new();
    for _ in 0..200 {
        let head = Request::head(path.as_str())
            .header("upload-draft-interop-version", "6")
            .body(RequestBody::empty())
            .expect("request");
        let answer = send(&handler, head).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT);
        offset = answer.headers()["upload-offset"].to_str().expect("ascii").to_owned();
        if offset == "3" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(offset, "3");
    let stolen = tokio::time::timeout(Duration::from_secs(5), in_flight)
        .await
        .expect("the tus PATCH ends")
        .expect("join");
    assert_eq!(stolen.status(), StatusCode::CONFLICT, "ERR_UPLOAD_INTERRUPTED");
    drop(feed);
}

#[tokio::test]
async fn appends_send_progress_104s_with_the_offset() {
    let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
        // Report every chunk, so the test needs no clock.
        .progress_interval(Duration::ZERO)
        .build();
    let create = Request::post("/files/")
        .header("upload-draft-interop-version", "8")
        .header("upload-complete", "?0")
        .header("upload-length", "6")
        .body(RequestBody::empty())
        .expect("request");
    let created = send(&handler, create).await;
    let location = created.headers()["location"].to_str().expect("ascii").to_owned();
    let path = &location[location.find("/files/").expect("path")..];

    let sent: Arc<Mutex<Vec<(u16, Option<String>, Option<String>)>>> = Arc::default();
    let interim = {
        let sent = Arc::clone(&sent);
        Interim::new(move |response| {
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .map(|v| v.to_str().expect("ascii").to_owned())
            };
            sent.lock()
                .expect("sent")
                .push((response.status().as_u16(), header("upload-offset"), header("location")));
            true
        })
    };
    let chunks =
        futures::stream::iter([b"ab", b"cd", b"ef"].map(|chunk| Ok::<_, std::io::Error>(Bytes::from_static(chunk))));
    let mut append = Request::patch(path)
        .header("upload-draft-interop-version", "8")
        .header("content-type", "application/partial-upload")
        .header("upload-offset", "0")
        .header("upload-complete", "?1")
        .body(RequestBody::from_stream(chunks))
        .expect("request");
    append.extensions_mut().insert(interim);
    let appended = send(&handler, append).await;
    assert_eq!(appended.status(), StatusCode::CREATED);
    let sent = sent.lock().expect("sent").clone();
    assert!(!sent.is_empty(), "progress 104s were sent");
    let offsets: Vec<u64> = sent
        .iter()
        .map(|(status, offset, location)| {
            assert_eq!(
                (*status, location.as_deref()),
                (104, None),
                "a progress 104 has no Location"
            );
            offset.as_deref().expect("Upload-Offset").parse().expect("number")
        })
        .collect();
    assert!(offsets.windows(2).all(|pair| pair[0] < pair[1]), "{offsets:?}");
    assert!(offsets.iter().all(|offset| [2, 4, 6].contains(offset)), "{offsets:?}");
}
