//! A complete actix-web app with a tus endpoint, as the guide's "Embedding"
//! chapter builds it: tus-rs-server on the filesystem store at `/files/`
//! through the adapter of `tus-actix` (`src/adapter.rs`: copy it into your
//! app), bearer-token auth (a pre-create hook records each upload's owner,
//! an authorize hook lets only that owner HEAD, PATCH, GET or DELETE it), a
//! post-finish hook that takes each finished upload into `./inbox`, and
//! graceful shutdown.
//!
//! ```text
//! cargo run -p tus-actix-example --example embed_actix
//! curl -i -X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: 5' \
//!      -H 'Authorization: Bearer alice-token' http://127.0.0.1:1080/files/
//! ```
//!
//! `HttpServer` sends `100 Continue` before any handler runs; `tus-actix`'s
//! `main.rs` shows how to let the handler refuse a too-large upload first
//! (an actix-http expect service over `TusHandler::precheck`).

#[allow(dead_code)] // the example uses only part of the adapter
#[path = "../src/adapter.rs"]
mod adapter;

use std::path::PathBuf;
use std::sync::Arc;

use actix_web::dev::Service as _;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{App, HttpMessage as _, HttpServer, web};
use adapter::TusActix;
use tus_server::headers::Extension;
use tus_server::prelude::*;
use tus_server::store::Terminate as _;
use tus_store_fs::FileStore;

/// Who sent the request: the auth middleware puts it into the request
/// extensions, the adapter forwards it, the hooks read it.
#[derive(Debug, Clone)]
struct User(String);

/// The app's hooks: only signed-in users upload, each upload is its
/// uploader's only, and finished uploads move into the inbox.
struct AppHooks {
    store: Arc<FileStore>,
    inbox: PathBuf,
}

impl Hooks for AppHooks {
    fn pre_create<'a>(
        &'a self,
        cx: &'a HookContext,
        upload: &'a mut PreCreate,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let Some(User(user)) = cx.extensions().get::<User>() else {
                return Err(Rejection::new(StatusCode::UNAUTHORIZED, "sign in to upload"));
            };
            upload
                .metadata_mut()
                .set("user_id", user.as_bytes())
                .map_err(Rejection::internal)
        })
    }

    /// Every later request on an upload (HEAD, PATCH, GET, DELETE, and a
    /// final upload naming it as a partial) is its owner's only.
    fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
        Box::pin(async move {
            let Some(User(user)) = cx.extensions().get::<User>() else {
                return Err(Rejection::new(StatusCode::UNAUTHORIZED, "sign in first"));
            };
            if access.upload().metadata.get("user_id") == Some(user.as_bytes()) {
                Ok(())
            } else {
                // Another user's upload: answered as if it did not exist.
                Err(Rejection::not_found())
            }
        })
    }

    fn post_finish<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // A final upload may still need its partials' bytes: leave them.
            if info.kind == UploadKind::Partial {
                return;
            }
            if let Err(error) = self.ingest(info).await {
                eprintln!("could not ingest upload {}: {error}", info.id);
            }
        })
    }
}

impl AppHooks {
    /// Links (or copies) a finished upload's data file into the inbox, then
    /// terminates the upload (HEAD and GET answer 404 from then on).
    async fn ingest(&self, info: &UploadInfo) -> Result<(), Box<dyn std::error::Error>> {
        let Some(data) = self.store.finished_data_path(&info.id).await? else {
            return Ok(());
        };
        let dest = self.inbox.join(info.id.as_str());
        if std::fs::hard_link(&data, &dest).is_err() {
            std::fs::copy(&data, &dest)?;
        }
        self.store.terminate(&info.id).await?;
        println!("ingested {} ({} bytes) into {}", info.id, info.offset, dest.display());
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // FileStore runs its file I/O on Tokio's blocking pool: actix's runtime is Tokio.
    actix_web::rt::System::new().block_on(run())
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    // The address to listen on: the first argument, else 127.0.0.1:1080.
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1080".to_owned());
    let store = Arc::new(FileStore::new("./uploads")?);
    let inbox = PathBuf::from("./inbox");
    std::fs::create_dir_all(&inbox)?;
    let handler = TusHandler::builder(store.clone())
        .base_path("/files/")
        .max_size(1 << 30)
        .hooks(Arc::new(AppHooks { store, inbox }))
        // actix-web 4 drops HTTP/1.1 trailers.
        .without_extension(Extension::ChecksumTrailer)
        .build();
    let tus = web::Data::new(TusActix::new(handler.clone()).forward_extension::<User>());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(tus.clone())
            .wrap_fn(|request, service| {
                // Your auth: here two fixed bearer tokens, for alice and bob.
                let user = match request.headers().get(AUTHORIZATION) {
                    Some(value) if value == "Bearer alice-token" => Some("alice"),
                    Some(value) if value == "Bearer bob-token" => Some("bob"),
                    _ => None,
                };
                if let Some(user) = user {
                    request.extensions_mut().insert(User(user.to_owned()));
                }
                service.call(request)
            })
            .service(web::scope("/files").default_service(web::to(TusActix::serve)))
    })
    .disable_signals()
    .bind(listen.as_str())?
    .run();
    let stop = server.handle();
    actix_web::rt::spawn(async move {
        let _ = actix_web::rt::signal::ctrl_c().await;
        // Bodies in flight stop at once (their bytes are kept) and answer 503,
        // then actix drains the connections.
        handler.shutdown();
        stop.stop(true).await;
    });
    println!("tus endpoint at http://{listen}/files/");
    server.await?;
    Ok(())
}
