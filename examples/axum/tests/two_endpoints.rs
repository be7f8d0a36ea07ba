//! Two tus endpoints with different stores in one axum app, one of them
//! under a deeper path prefix, served over real TCP.

use std::sync::Arc;

use tus_conformance::http::HyperTransport;
use tus_conformance::http::suite::{create_upload_at, offset_of};
use tus_core::store::{Listing as _, MemoryStore};
use tus_server::TusHandler;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_endpoints_keep_their_uploads_apart() {
    let (files, media) = (Arc::new(MemoryStore::new()), Arc::new(MemoryStore::new()));
    let files_handler = TusHandler::builder(files.clone()).base_path("/files/").build();
    let media_handler = TusHandler::builder(media.clone()).base_path("/media/uploads/").build();
    let app = axum::Router::new()
        .nest_service("/files", files_handler.into_service())
        .nest_service("/media/uploads", media_handler.into_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let transport = HyperTransport { addr };

    let in_files = create_upload_at(&transport, 10, "/files/").await;
    let in_media = create_upload_at(&transport, 20, "/media/uploads/").await;
    assert!(in_files.starts_with("/files/"), "{in_files}");
    assert!(in_media.starts_with("/media/uploads/"), "{in_media}");
    assert_eq!(offset_of(&transport, &in_files).await, "0");
    assert_eq!(offset_of(&transport, &in_media).await, "0");

    // Each upload lives in its endpoint's store only.
    let count =
        |store: Arc<MemoryStore>| async move { futures::StreamExt::collect::<Vec<_>>(store.list()).await.len() };
    assert_eq!(count(files).await, 1);
    assert_eq!(count(media).await, 1);
    let id = in_media.rsplit('/').next().unwrap_or_default();
    let crossed = http::Request::head(format!("/files/{id}"))
        .header("tus-resumable", "1.0.0")
        .body(Vec::new())
        .expect("request");
    assert_eq!(transport.send_request(crossed).await.expect("head").status(), 404);
    server.abort();
}
