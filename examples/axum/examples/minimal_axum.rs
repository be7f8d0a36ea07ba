//! The smallest axum app with a tus endpoint (the guide's "axum in ten lines").

use std::sync::Arc;
use tus_server::TusHandler;
use tus_store_fs::FileStore;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let handler = TusHandler::builder(Arc::new(FileStore::new("./uploads")?))
        .base_path("/files/") // the public path, used in Location URLs
        .build();
    let app = axum::Router::new().nest_service("/files", handler.into_service());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:1080").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
