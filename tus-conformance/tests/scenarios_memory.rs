//! The protocol scenarios against the in-memory store, through `TusHandler` directly.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use tus_conformance::scenarios::{self, EXPIRE_AFTER_SECS, MAX_SIZE, Transport};
use tus_core::RequestBody;
use tus_core::server::TusHandler;
use tus_core::store::MemoryStore;

struct Direct(TusHandler);

impl Transport for Direct {
    fn send(&self, request: http::Request<Vec<Bytes>>) -> BoxFuture<'_, Result<http::Response<Bytes>, String>> {
        Box::pin(async move {
            let request = request.map(|chunks| {
                RequestBody::from_stream(futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>)))
            });
            let (parts, body) = self.0.handle(request).await.into_parts();
            let bytes = body.collect().await.map_err(|e| e.to_string())?;
            Ok(http::Response::from_parts(parts, bytes))
        })
    }
}

#[tokio::test]
async fn scenarios_pass_against_the_memory_store() {
    let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
        .base_path("/files/")
        .max_size(MAX_SIZE)
        .expire_after(std::time::Duration::from_secs(EXPIRE_AFTER_SECS))
        .build();
    let failures = scenarios::run_all(&Direct(handler)).await;
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
