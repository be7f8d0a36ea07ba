//! Expiration end to end through a [`TusHandler`] with an injected clock:
//! 410 for expired uploads, the reaper removing exactly those, and
//! completed uploads never expiring.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tus_core::store::Store;
use tus_server::{RequestBody, TusHandler};

use crate::clock::ManualClock;

const LIFETIME: Duration = Duration::from_secs(3600);

struct Client(TusHandler);

impl Client {
    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &'static [u8],
    ) -> http::Response<Bytes> {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(path)
            .header("tus-resumable", "1.0.0");
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder
            .body(RequestBody::from(Bytes::from_static(body)))
            .expect("request");
        let (parts, body) = self.0.handle(request).await.into_parts();
        http::Response::from_parts(parts, body.collect().await.expect("body"))
    }

    async fn create(&self, length: &str, body: &'static [u8]) -> String {
        let response = self
            .send(
                "POST",
                "/files/",
                &[
                    ("upload-length", length),
                    ("content-type", "application/offset+octet-stream"),
                ],
                body,
            )
            .await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"].to_str().expect("ascii");
        location.parse::<http::Uri>().expect("uri").path().to_owned()
    }

    async fn status(&self, method: &str, path: &str) -> u16 {
        self.send(method, path, &[], b"").await.status().as_u16()
    }
}

/// Runs the expiration checks against `store`, sliding expiration
/// included: every store stamps writes with the handler's injected clock.
pub async fn run(store: Arc<dyn Store>, clock: ManualClock) {
    let handler = TusHandler::builder(store)
        .clock(Arc::new(clock.clone()))
        .expire_after(LIFETIME)
        .base_path("/files/")
        .build();
    assert!(handler.extensions().contains(&tus_core::headers::Extension::Expiration));
    let client = Client(handler.clone());
    let stale = client.create("10", b"").await;
    let sliding = client.create("10", b"").await;
    let complete = client.create("3", b"abc").await;

    clock.advance(LIFETIME / 2);
    {
        let patch = client
            .send(
                "PATCH",
                &sliding,
                &[
                    ("upload-offset", "0"),
                    ("content-type", "application/offset+octet-stream"),
                ],
                b"hello",
            )
            .await;
        assert_eq!(patch.status(), 204);
        assert!(patch.headers().contains_key("upload-expires"));
    }
    assert_eq!(
        handler.reap_expired().await.expect("reap"),
        0,
        "nothing has expired yet"
    );

    clock.advance(LIFETIME / 2 + Duration::from_secs(1));
    assert_eq!(
        client.status("HEAD", &stale).await,
        410,
        "expired uploads answer 410 Gone"
    );
    let patch = client
        .send(
            "PATCH",
            &stale,
            &[
                ("upload-offset", "0"),
                ("content-type", "application/offset+octet-stream"),
            ],
            b"x",
        )
        .await;
    assert_eq!(patch.status(), 410);
    assert_eq!(
        client.status("HEAD", &complete).await,
        200,
        "completed uploads never expire"
    );
    assert_eq!(client.status("HEAD", &sliding).await, 200, "a write slides the expiry");

    let removed = handler.reap_expired().await.expect("reap");
    assert_eq!(removed, 1, "only the upload nobody wrote to expired");
    assert_eq!(client.status("HEAD", &stale).await, 404, "the reaper removed its data");
    assert_eq!(client.status("GET", &complete).await, 200);
    assert_eq!(client.status("HEAD", &sliding).await, 200);
    clock.advance(LIFETIME);
    assert_eq!(handler.reap_expired().await.expect("reap"), 1);
    assert_eq!(client.status("HEAD", &sliding).await, 404);
    assert_eq!(client.status("HEAD", &complete).await, 200);
}
