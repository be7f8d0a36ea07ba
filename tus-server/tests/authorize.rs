//! `Hooks::authorize` refusing with `Rejection::not_found()`: a hidden
//! upload is answered exactly as an absent one, on every method and when a
//! final upload names it as a partial, and nothing of it changes.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt as _;
use http::{Request, Response, StatusCode};
use tus_server::prelude::*;
use tus_server::{RequestBody, ResponseBody};

/// Every upload is hidden from anyone but the user in `x-user` who created it.
struct OwnerOnly;

fn user(cx: &HookContext) -> &[u8] {
    cx.headers().get("x-user").map_or(&[][..], HeaderValue::as_bytes)
}

impl Hooks for OwnerOnly {
    fn pre_create<'a>(
        &'a self,
        cx: &'a HookContext,
        upload: &'a mut PreCreate,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            upload
                .metadata_mut()
                .set("owner", user(cx))
                .map_err(Rejection::internal)
        })
    }

    fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            if access.upload().metadata.get("owner") == Some(user(cx)) {
                Ok(())
            } else {
                Err(Rejection::not_found())
            }
        })
    }
}

async fn send(handler: &TusHandler, method: &str, path: &str, user: &str, headers: &[(&str, &str)]) -> Response<Bytes> {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("tus-resumable", "1.0.0")
        .header("x-user", user);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = if method == "PATCH" {
        RequestBody::from(Bytes::from_static(b"evil"))
    } else {
        RequestBody::empty()
    };
    let response: Response<ResponseBody> = handler.handle(request.body(body).expect("request")).await;
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, body.collect().await.expect("body"))
}

/// Status, body and headers but the request-dependent ones.
fn answer(response: &Response<Bytes>) -> String {
    let mut headers: Vec<_> = response
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {value:?}"))
        .collect();
    headers.sort();
    format!("{} {:?} {headers:?}", response.status(), response.body())
}

#[tokio::test]
async fn a_hidden_upload_is_answered_as_an_absent_one() {
    let store = Arc::new(MemoryStore::new());
    let handler = TusHandler::builder(store.clone()).hooks(Arc::new(OwnerOnly)).build();
    let created = send(&handler, "POST", "/files/", "alice", &[("upload-length", "4")]).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()["location"].to_str().expect("ascii");
    let path = location[location.find("/files/").expect("path")..].to_owned();
    let absent = "/files/0123456789abcdef0123456789abcdef";
    let patch = [
        ("upload-offset", "0"),
        ("content-type", "application/offset+octet-stream"),
    ];

    for (method, headers) in [("HEAD", &[][..]), ("GET", &[]), ("PATCH", &patch), ("DELETE", &[])] {
        let hidden = send(&handler, method, &path, "mallory", headers).await;
        let missing = send(&handler, method, absent, "mallory", headers).await;
        assert_eq!(hidden.status(), StatusCode::NOT_FOUND, "{method}");
        assert_eq!(answer(&hidden), answer(&missing), "{method}: hidden == absent");
    }

    let concat = |partial: &str| format!("final;{partial}");
    let hidden = send(
        &handler,
        "POST",
        "/files/",
        "mallory",
        &[("upload-concat", &concat(&path))],
    )
    .await;
    let missing = send(
        &handler,
        "POST",
        "/files/",
        "mallory",
        &[("upload-concat", &concat(absent))],
    )
    .await;
    assert_eq!(hidden.status(), StatusCode::BAD_REQUEST);
    let (hidden_text, missing_text) = (
        String::from_utf8_lossy(hidden.body()),
        String::from_utf8_lossy(missing.body()),
    );
    assert!(hidden_text.starts_with("ERR_CONCAT_PARTIAL_NOT_FOUND"), "{hidden_text}");
    assert_eq!(
        hidden_text.replace(&path, absent),
        missing_text,
        "hidden partial == absent partial"
    );

    // Nothing changed, and the owner still gets in.
    let head = send(&handler, "HEAD", &path, "alice", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(head.headers()["upload-offset"], "0");
    let uploads: Vec<_> = tus_server::store::Listing::list(&*store).collect().await;
    assert_eq!(uploads.len(), 1, "only alice's upload exists");
}
