// ANCHOR: all
//! A complete axum app with a tus endpoint, as the guide's "Embedding" chapter
//! builds it: tus-rs-server on the filesystem store at `/files/`, bearer-token
//! auth (a pre-create hook records each upload's owner, an authorize hook
//! lets only that owner HEAD, PATCH, GET or DELETE it), a post-finish hook
//! that takes each finished upload into `./inbox`, and graceful shutdown.
//!
//! ```text
//! cargo run -p tus-axum-example --example embed_axum
//! curl -i -X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: 5' \
//!      -H 'Authorization: Bearer alice-token' http://127.0.0.1:1080/files/
//! ```
//!
//! Dependencies: `tus-rs-server` (imported as `tus_server`; its default
//! `tokio` feature), `tus-store-fs`, `axum`, and `tokio` (`macros`,
//! `rt-multi-thread`, `signal`). The hooks need nothing more:
//! `tus_server::prelude::*` brings `BoxFuture`, `StatusCode` and the hook types.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tus_server::prelude::*;
use tus_server::store::Terminate as _;
use tus_store_fs::FileStore;

// ANCHOR: hooks
/// Who sent the request: the auth middleware puts it into the request
/// extensions, where the hooks find it.
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
            // Recorded in the upload's metadata: who owns it.
            upload
                .metadata_mut()
                .set("user_id", user.as_bytes())
                .map_err(Rejection::internal)
        })
    }

    /// Every later request on an upload (HEAD, PATCH, GET, DELETE, and a
    /// final upload naming it as a partial) is its owner's only. Without
    /// this hook, whoever knows an upload's URL could read, write or delete it.
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

// ANCHOR_END: hooks

impl AppHooks {
    /// Takes a finished upload over: links (or copies) its data file into
    /// the inbox, then terminates it, so the store forgets it (HEAD and GET
    /// answer 404 from then on) and no file of it stays behind.
    async fn ingest(&self, info: &UploadInfo) -> Result<(), Box<dyn std::error::Error>> {
        let Some(data) = self.store.finished_data_path(&info.id).await? else {
            return Ok(());
        };
        let dest = self.inbox.join(info.id.as_str());
        if tokio::fs::hard_link(&data, &dest).await.is_err() {
            // Another filesystem: copy instead.
            tokio::fs::copy(&data, &dest).await?;
        }
        self.store.terminate(&info.id).await?;
        println!("ingested {} ({} bytes) into {}", info.id, info.offset, dest.display());
        Ok(())
    }
}

// ANCHOR: middleware
/// Your auth: here two fixed bearer tokens, for alice and bob.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let user = match request.headers().get(axum::http::header::AUTHORIZATION) {
        Some(value) if value == "Bearer alice-token" => Some("alice"),
        Some(value) if value == "Bearer bob-token" => Some("bob"),
        _ => None,
    };
    if let Some(user) = user {
        request.extensions_mut().insert(User(user.to_owned()));
    }
    next.run(request).await
}
// ANCHOR_END: middleware

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The address to listen on: the first argument, else 127.0.0.1:1080.
    let listen = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:1080".to_owned());
    let store = Arc::new(FileStore::new("./uploads")?);
    let inbox = PathBuf::from("./inbox");
    std::fs::create_dir_all(&inbox)?;
    let handler = TusHandler::builder(store.clone())
        .base_path("/files/")
        .max_size(1 << 30)
        .hooks(Arc::new(AppHooks { store, inbox }))
        .build();
    let app = Router::new()
        .nest_service("/files", handler.clone().into_service())
        .layer(middleware::from_fn(authenticate));

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("tus endpoint at http://{}/files/", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // Bodies in flight stop at once (their bytes are kept) and answer
            // 503, so clients resume later; then axum drains the connections.
            handler.shutdown();
        })
        .await?;
    Ok(())
}
// ANCHOR_END: all
