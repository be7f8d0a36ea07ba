//! A complete axum app with a tus endpoint, as the guide's "Embedding" chapter
//! builds it: tus-core on the filesystem store at `/files/`, bearer-token
//! auth enforced by a pre-create hook, a post-finish hook that takes each
//! finished upload into `./inbox`, and graceful shutdown.
//!
//! ```text
//! cargo run -p tus-axum-example --example embed_axum
//! curl -i -X POST -H 'Tus-Resumable: 1.0.0' -H 'Upload-Length: 5' \
//!      -H 'Authorization: Bearer demo-token' http://127.0.0.1:1080/files/
//! ```
//!
//! Dependencies: `tus-core` (features `tokio`), `tus-store-fs`, `axum`,
//! `tokio` (`macros`, `rt-multi-thread`, `signal`), and `futures` and `http`
//! for the hook signatures.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use futures::future::BoxFuture;
use http::StatusCode;
use http::header::AUTHORIZATION;
use tus_core::store::Terminate as _;
use tus_core::upload::{UploadInfo, UploadKind};
use tus_server::{HookContext, Hooks, PreCreate, Rejection, TusHandler};
use tus_store_fs::FileStore;

/// Who sent the request: the auth middleware puts it into the request
/// extensions, where the hooks find it.
#[derive(Debug, Clone)]
struct User(String);

/// The app's hooks: only signed-in users upload, and finished uploads move
/// into the inbox.
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

/// Your auth: here one fixed bearer token.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let signed_in = request
        .headers()
        .get(AUTHORIZATION)
        .is_some_and(|value| value == "Bearer demo-token");
    if signed_in {
        request.extensions_mut().insert(User("demo".to_owned()));
    }
    next.run(request).await
}

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
