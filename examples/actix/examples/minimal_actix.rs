//! The smallest actix-web app with a tus endpoint (the guide's "actix-web in
//! ten lines"), with the adapter of `tus-actix` (`src/adapter.rs`).

#[allow(dead_code)] // the example uses only part of the adapter
#[path = "../src/adapter.rs"]
mod adapter;

use std::sync::Arc;

use actix_web::{App, HttpServer, web};
use tus_server::TusHandler;
use tus_store_fs::FileStore;

// ANCHOR: main
#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let handler = TusHandler::builder(Arc::new(FileStore::new("./uploads")?))
        .base_path("/files/")
        .build();
    let tus = web::Data::new(adapter::TusActix::new(handler));
    HttpServer::new(move || {
        App::new()
            .app_data(tus.clone())
            .service(web::scope("/files").default_service(web::to(adapter::TusActix::serve)))
    })
    .bind("127.0.0.1:1080")?
    .run()
    .await
}
// ANCHOR_END: main
