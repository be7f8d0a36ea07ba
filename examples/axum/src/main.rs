//! `tus-axum`: a tus 1.0.0 upload server on the filesystem store.
//!
//! ```text
//! tus-axum [--listen 127.0.0.1:1080] [--base-path /files/] [--dir ./uploads] [--max-size BYTES]
//!          [--expire-after SECS] [--locker memory|file|redis] [--redis-url URL] [--lock-timeout SECS]
//!          [--body-idle-timeout SECS] [--header-read-timeout SECS] [--max-header-bytes BYTES]
//!          [--max-connections N] [--shutdown-timeout SECS]
//! ```
//!
//! Connections are served by hyper directly (see [`serve`]), which is where
//! the header read timeout, the header size limit and the connection limit
//! live; on SIGTERM the handler stops every body in flight (bytes received
//! are kept, locks released) and the process exits within the shutdown
//! timeout.
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
use tus_lock_redis::RedisLocker;
use tus_store_fs::{FileLocker, FileStore};

mod serve;

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
    /// Where upload locks live: `memory` (this process), `file` (lock files
    /// in --dir, shared by every process on the host serving it) or `redis`
    /// (shared by every server using --redis-url, on any host).
    #[arg(long, default_value = "memory")]
    locker: LockerKind,
    /// Redis URL for `--locker redis`.
    #[arg(long, default_value = "redis://127.0.0.1:6379/")]
    redis_url: String,
    /// Seconds a request waits for an upload's lock after asking the holder
    /// to release it; then 423.
    #[arg(long, default_value_t = 20)]
    lock_timeout: u64,
    /// Seconds a request body may send nothing before it is stopped (bytes
    /// received are kept); 0: never.
    #[arg(long, default_value_t = 60)]
    body_idle_timeout: u64,
    /// Seconds a client has to send a request's whole header; then the
    /// connection is closed.
    #[arg(long, default_value_t = 10)]
    header_read_timeout: u64,
    /// Largest request header, in bytes (at least 8192); larger ones get 431.
    #[arg(long, default_value_t = 64 * 1024)]
    max_header_bytes: usize,
    /// Most connections served at once; more wait to be accepted.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
}

/// Which [`Locker`](tus_core::server::Locker) guards uploads.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LockerKind {
    /// In this process only.
    Memory,
    /// Lock files in the upload directory: several processes on one host.
    File,
    /// Redis: several hosts.
    Redis,
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

    let store = FileStore::new(&args.dir)?;
    let mut builder = TusHandler::builder(Arc::new(store))
        .base_path(&args.base_path)
        .lock_timeout(Duration::from_secs(args.lock_timeout))
        .body_idle_timeout((args.body_idle_timeout > 0).then(|| Duration::from_secs(args.body_idle_timeout)));
    match args.locker {
        LockerKind::Memory => {}
        LockerKind::File => builder = builder.locker(Arc::new(FileLocker::new(&args.dir)?)),
        LockerKind::Redis => builder = builder.locker(Arc::new(RedisLocker::connect(&args.redis_url).await?)),
    }
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
    let app = router(handler.clone(), &base_path).layer(middleware::from_fn(log_request));

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, base_path, dir = %args.dir.display(), "tus-axum listening");

    let limits = serve::Limits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        max_header_bytes: args.max_header_bytes,
        max_connections: args.max_connections,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
    };
    let stop = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: stopping request bodies, then waiting for responses");
        // Bodies in flight stop at once (bytes kept, locks released) and answer 503.
        handler.shutdown();
    };
    serve::serve(listener, app, limits, stop).await?;
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
