//! `tus-actix`: a tus 1.0.0 upload server on the filesystem store, served
//! by actix-web. Same flags and behaviour as `tus-axum`:
//!
//! ```text
//! tus-actix [--listen 127.0.0.1:1080] [--base-path /files/] [--dir ./uploads] [--max-size BYTES]
//!           [--expire-after SECS] [--sync always|never] [--auth-token TOKEN=USER]...
//!           [--trust-forwarded | --public-url URL | --relative-location]
//!           [--locker memory|file|redis] [--redis-url URL] [--lock-timeout SECS]
//!           [--body-idle-timeout SECS] [--header-read-timeout SECS] [--max-connections N]
//!           [--shutdown-timeout SECS] [--log-rate-limit N]
//!           [--s3-bucket NAME [--s3-endpoint URL] [--s3-region R] [--s3-prefix P]]
//! ```
//!
//! With `--s3-bucket` uploads go to S3 (or MinIO, R2, Garage at
//! `--s3-endpoint`, path-style) instead of `--dir`; credentials come from the
//! standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
//!
//! This is also the reference for embedding tus-core in an actix-web app:
//! wrap the `TusHandler` in [`TusActix`], forward the request extensions
//! your middleware sets (here the bearer token's [`User`]), and register
//! [`TusActix::serve`] as the default service of a scope at the base path.
//!
//! Limits of actix-web 4 (not of tus-core): it sends `100 Continue` before
//! the handler runs, and it drops HTTP/1.1 trailers, so `checksum-trailer`
//! requests get `ERR_MISSING_CHECKSUM_TRAILER` (nothing is stored).
//!
//! Connection limits: actix-web's `max_connections` is per worker, so each
//! of the W workers gets `--max-connections / W` and all of them together
//! hold at most `--max-connections`. Unlike tus-axum, it cannot close an
//! idle connection to make room: at the limit new connections wait in the
//! kernel's backlog until one closes (idle ones after
//! `--header-read-timeout`). `--max-header-bytes` is counted the same way as
//! in tus-axum, up to actix-web's own 128 KiB, past which it closes the
//! connection.

mod adapter;

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::Service as _;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{App, HttpMessage as _, HttpResponse, HttpServer, web};
use adapter::TusActix;
use futures::FutureExt as _;
use tus_core::proto::headers::Extension;
use tus_core::server::TusHandler;
use tus_example_common::limits::{check_head_size, per_worker_connections};
use tus_example_common::{Args, METRICS_PATH, PROMETHEUS_CONTENT_TYPE, User};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse_as("tus-actix");
    tus_example_common::init_tracing_limited(args.limits.log_rate_limit);
    actix_web::rt::System::new().block_on(run(args))
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let tokens = Arc::new(args.tokens()?);
    // actix-web 4 drops HTTP/1.1 trailers: checksum-trailer cannot be served.
    let handler = tus_example_common::build_handler(&args, &[Extension::ChecksumTrailer]).await?;
    let stop_handler = handler.clone();
    let base_path = handler.config().base_path.clone();
    let tus = web::Data::new(TusActix::new(handler.clone()).forward_extension::<User>());
    let metrics = web::Data::new(handler);
    let mount = base_path.trim_end_matches('/').to_owned();
    let max_header_bytes = args.max_header_bytes;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let (workers, per_worker) = per_worker_connections(args.max_connections, cores);
    let server = HttpServer::new(move || {
        let tokens = Arc::clone(&tokens);
        let app = App::new()
            .app_data(tus.clone())
            .app_data(metrics.clone())
            .route(METRICS_PATH, web::get().to(serve_metrics))
            .wrap_fn(move |request, service| {
                // Puts the user of a valid bearer token into the request
                // extensions; refusing is left to the tus hooks.
                let user = request
                    .headers()
                    .get(AUTHORIZATION)
                    .and_then(|value| tokens.user(value.as_bytes()));
                if let Some(user) = user {
                    request.extensions_mut().insert(user);
                }
                service.call(request)
            })
            .wrap_fn(|request, service| {
                let (method, path) = (request.method().clone(), request.path().to_owned());
                let started = Instant::now();
                service.call(request).map(move |result| {
                    if let Ok(response) = &result {
                        let status = response.status().as_u16();
                        let elapsed_ms = started.elapsed().as_millis() as u64;
                        tracing::info!(%method, path, status, elapsed_ms, "request");
                    }
                    result
                })
            })
            .wrap_fn(move |request, service| {
                // The request head as sent, against --max-header-bytes (as tus-axum counts it).
                let headers = request
                    .headers()
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes()));
                let target = request.uri().path_and_query().map(|target| target.as_str());
                if let Some(refusal) = check_head_size(max_header_bytes, request.method().as_str(), target, headers) {
                    let response = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                        .content_type("text/plain; charset=utf-8")
                        .body(refusal);
                    return futures::future::Either::Left(futures::future::ready(Ok(request.into_response(response))));
                }
                futures::future::Either::Right(service.call(request))
            });
        if mount.is_empty() {
            app.default_service(web::to(TusActix::serve))
        } else {
            app.service(web::scope(&mount).default_service(web::to(TusActix::serve)))
        }
    })
    .shutdown_timeout(args.shutdown_timeout)
    .client_request_timeout(Duration::from_secs(args.header_read_timeout))
    // actix-web's limit is per worker: share the total between them.
    .workers(workers)
    .max_connections(per_worker)
    // Signals are handled below, so bodies in flight are stopped first.
    .disable_signals()
    .bind(args.listen)?;
    for addr in server.addrs() {
        tracing::info!(listen = %addr, base_path, dir = %args.dir.display(), "tus-actix listening");
    }
    let server = server.run();
    let server_handle = server.handle();
    actix_web::rt::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: stopping request bodies, then waiting for responses");
        // Bodies in flight stop at once (bytes kept, locks released) and answer 503.
        stop_handler.shutdown();
        server_handle.stop(true).await;
    });
    server.await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = actix_web::rt::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match actix_web::rt::signal::unix::signal(actix_web::rt::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    futures::pin_mut!(ctrl_c, terminate);
    futures::future::select(ctrl_c, terminate).await;
}

/// The handler's metrics in the Prometheus text format.
async fn serve_metrics(handler: web::Data<TusHandler>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PROMETHEUS_CONTENT_TYPE)
        .body(handler.metrics().render_prometheus())
}
