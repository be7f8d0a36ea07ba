//! `tus-axum`: a tus 1.0.0 upload server on the filesystem store.
//!
//! ```text
//! tus-axum [--listen 127.0.0.1:1080] [--base-path /files/] [--dir ./uploads] [--max-size BYTES]
//!          [--expire-after SECS]
//!          [--s3-bucket NAME [--s3-endpoint URL] [--s3-region R] [--s3-prefix P]]
//! ```
//!
//! With `--s3-bucket` uploads go to S3 (or MinIO, R2, Garage at
//! `--s3-endpoint`, path-style) instead of `--dir`; credentials come from the
//! standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
//!
//! This is also the reference for embedding tus-core in an axum app: build a
//! `TusHandler` over a store and mount `handler.into_service()` with
//! `Router::nest_service`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use clap::Parser;
use tus_core::server::TusHandler;
use tus_store_fs::FileStore;

/// Command-line flags. Kept stable: later examples (actix) take the same ones.
#[derive(Debug, Parser)]
#[command(
    name = "tus-axum",
    version,
    about = "A tus 1.0.0 resumable upload server (axum + filesystem store)"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:1080")]
    listen: SocketAddr,
    /// URL path of the upload collection.
    #[arg(long, default_value = "/files/")]
    base_path: String,
    /// Directory where uploads are stored.
    #[arg(long, default_value = "./uploads")]
    dir: PathBuf,
    /// Largest upload accepted, in bytes (advertised as Tus-Max-Size).
    #[arg(long)]
    max_size: Option<u64>,
    /// Unfinished uploads expire this many seconds after their last write
    /// (sliding); expired ones answer 410 and are removed by a background reaper.
    #[arg(long)]
    expire_after: Option<u64>,
    /// Seconds to let in-flight requests finish after Ctrl-C or SIGTERM.
    #[arg(long, default_value_t = 10)]
    shutdown_timeout: u64,
    /// Store uploads in this S3 bucket instead of `--dir`.
    #[arg(long)]
    s3_bucket: Option<String>,
    /// S3-compatible endpoint URL (MinIO, R2, Garage); addressed path-style.
    #[arg(long, requires = "s3_bucket")]
    s3_endpoint: Option<String>,
    /// S3 region (default: from the AWS environment, else us-east-1).
    #[arg(long, requires = "s3_bucket")]
    s3_region: Option<String>,
    /// Prefix for every S3 key, e.g. `uploads/`.
    #[arg(long, requires = "s3_bucket", default_value = "")]
    s3_prefix: String,
}

/// The store the flags ask for: S3 with `--s3-bucket`, else the directory.
async fn build_store(args: &Args) -> std::io::Result<Arc<dyn tus_core::store::Store>> {
    let Some(bucket) = &args.s3_bucket else {
        return Ok(Arc::new(FileStore::new(&args.dir)?));
    };
    let mut options = tus_store_s3::S3Options::new(bucket);
    options.endpoint.clone_from(&args.s3_endpoint);
    options.region.clone_from(&args.s3_region);
    options.path_style = args.s3_endpoint.is_some();
    let store = tus_store_s3::S3Store::builder(options.client().await, bucket)
        .prefix(&args.s3_prefix)
        .build();
    Ok(Arc::new(store))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,tus_core=info".into()),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = Args::parse();

    let store = build_store(&args).await?;
    let mut builder = TusHandler::builder(store).base_path(&args.base_path);
    if let Some(max_size) = args.max_size {
        builder = builder.max_size(max_size);
    }
    if let Some(seconds) = args.expire_after {
        builder = builder.expire_after(Duration::from_secs(seconds));
    }
    let handler = builder.build();
    if let Some(seconds) = args.expire_after {
        // Sweep at least once a minute, and at least twice per lifetime.
        let every = Duration::from_secs((seconds / 2).clamp(1, 60));
        tus_core::server::spawn_reaper(handler.clone(), every);
    }
    let base_path = handler.config().base_path.clone();
    let app = router(handler, &base_path).layer(middleware::from_fn(log_request));

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, base_path, dir = %args.dir.display(), "tus-axum listening");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        let _ = stop_rx.await;
    });
    let mut server = std::pin::pin!(server.into_future());
    tokio::select! {
        result = &mut server => result?,
        () = shutdown_signal() => {
            tracing::info!("shutting down; waiting for in-flight requests");
            let _ = stop_tx.send(());
            if tokio::time::timeout(Duration::from_secs(args.shutdown_timeout), server).await.is_err() {
                tracing::warn!("in-flight requests still running after the shutdown timeout; exiting (received bytes are on disk)");
            }
        }
    }
    Ok(())
}

/// Mounts the tus service at `base_path` (`/files/` → `/files` and everything below it).
fn router(handler: TusHandler, base_path: &str) -> Router {
    let mount = base_path.trim_end_matches('/');
    if mount.is_empty() {
        Router::new().fallback_service(handler.into_service())
    } else {
        Router::new().nest_service(mount, handler.into_service())
    }
}

async fn log_request(request: Request, next: Next) -> Response {
    let (method, path) = (request.method().clone(), request.uri().path().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    tracing::info!(%method, path, status = response.status().as_u16(), elapsed_ms = started.elapsed().as_millis() as u64, "request");
    response
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
