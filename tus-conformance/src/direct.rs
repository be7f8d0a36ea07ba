//! Running the protocol scenarios and the malformed corpus against a
//! [`TusHandler`] directly, without a socket: the scenario settings and a
//! [`Transport`] that hands requests to the handler.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::TryStreamExt as _;
use futures::future::BoxFuture;
use tus_core::store::Store;
use tus_server::{RequestBody, TusHandler};

use crate::scenarios::{EXPIRE_AFTER_SECS, MAX_SIZE, Transport};
use crate::support;

/// Sends each request straight to a handler.
#[derive(Debug, Clone)]
pub struct Direct(pub TusHandler);

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

/// A handler over `store` with the settings the scenarios expect
/// (`/files/`, [`MAX_SIZE`], expiry after [`EXPIRE_AFTER_SECS`]).
pub fn scenario_handler(store: Arc<dyn Store>) -> TusHandler {
    TusHandler::builder(store)
        .base_path("/files/")
        .max_size(MAX_SIZE)
        .expire_after(Duration::from_secs(EXPIRE_AFTER_SECS))
        .build()
}

/// Every upload's info and bytes, in id order: what the malformed corpus
/// checks does not change. Needs a store that lists its uploads.
pub async fn fingerprint(store: &dyn Store) -> String {
    let listing = store.listing().expect("a store that lists its uploads");
    let mut ids: Vec<_> = listing.list().try_collect().await.expect("list");
    ids.sort();
    let mut out = String::new();
    for id in ids {
        let info = store.info(&id).await.expect("info");
        let data = if info.is_complete() {
            support::read_range(store, &id, 0..info.offset).await
        } else {
            Vec::new()
        };
        out.push_str(&format!("{info:?} {data:?}\n"));
    }
    out
}
