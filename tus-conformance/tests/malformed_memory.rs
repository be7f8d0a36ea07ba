//! The malformed-request corpus against the in-memory store, through `TusHandler` directly.

use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, TryStreamExt as _};
use tus_conformance::scenarios::{EXPIRE_AFTER_SECS, MAX_SIZE, Transport};
use tus_conformance::{malformed, support};
use tus_core::RequestBody;
use tus_core::server::TusHandler;
use tus_core::store::{MemoryStore, Store};

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

/// Every upload's info and bytes, in id order.
async fn fingerprint(store: &MemoryStore) -> String {
    let mut ids: Vec<_> = store.list().try_collect().await.expect("list");
    ids.sort();
    let mut out = String::new();
    for id in ids {
        let info = store.info(&id).await.expect("info");
        let data = support::read_range(store, &id, 0..info.offset).await;
        out.push_str(&format!("{info:?} {data:?}\n"));
    }
    out
}

#[tokio::test]
async fn malformed_requests_get_a_4xx_and_change_nothing_on_the_memory_store() {
    let store = MemoryStore::new();
    let handler = TusHandler::builder(Arc::new(store.clone()))
        .base_path("/files/")
        .max_size(MAX_SIZE)
        .expire_after(std::time::Duration::from_secs(EXPIRE_AFTER_SECS))
        .build();
    let print = || fingerprint(&store).boxed();
    let failures = malformed::run(&Direct(handler), &print).await;
    assert!(
        failures.is_empty(),
        "{} malformed case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
