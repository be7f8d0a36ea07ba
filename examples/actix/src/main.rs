//! `tus-actix`: a tus 1.0.0 upload server on the filesystem store, served
//! by actix-web. Same flags and behaviour as `tus-axum`:
//!
//! ```text
//! tus-actix [--listen 127.0.0.1:1080] [--base-path /files/] [--dir ./uploads] [--max-size BYTES]
//!           [--expire-after SECS] [--sync always|never] [--auth-token TOKEN=USER]...
//!           [--trust-forwarded | --public-url URL | --relative-location]
//!           [--locker memory|file|redis] [--redis-url URL] [--lock-timeout SECS]
//!           [--body-idle-timeout SECS] [--header-read-timeout SECS] [--max-connections N]
//!           [--shutdown-timeout SECS]
//!           [--s3-bucket NAME [--s3-endpoint URL] [--s3-region R] [--s3-prefix P]]
//!           [--demo] [--cors-origin ORIGIN]... [--cors-allow-header NAME]...
//!           [--cors-expose-header NAME]... [--cors-credentials]
//! ```
//!
//! With `--s3-bucket` uploads go to S3 (or MinIO, R2, Garage at
//! `--s3-endpoint`, path-style) instead of `--dir`; credentials come from the
//! standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
//!
//! This is also the reference for embedding tus-rs-server in an actix-web app:
//! wrap the `TusHandler` in [`TusActix`], forward the request extensions
//! your middleware sets (here the bearer token's [`User`], which the hooks
//! check at creation and on every request on an upload), and register
//! [`TusActix::serve`] as the default service of a scope at the base path.
//!
//! `Expect: 100-continue`: actix-http answers `100 Continue` before the
//! handler runs, unless an *expect service* decides first. The server is
//! therefore built from actix-http's `HttpService` (not `HttpServer`, which
//! has no way to set one), whose expect service asks
//! [`TusHandler::precheck`]: a creation that is too large (or otherwise
//! refused on its head) gets its final 4xx instead of `100 Continue`, and
//! the client never sends the body.
//!
//! Every response carries an `X-Request-ID` (the client's, if plain and
//! short, else a new one), which every log line of the request names; with
//! `--demo` a page at `/` uploads from the browser (Uppy's Dashboard).
//!
//! actix-web 4 drops HTTP/1.1 trailers, so `checksum-trailer` is not
//! offered (such requests would get `ERR_MISSING_CHECKSUM_TRAILER`).
//!
//! Connection limits: actix-server's connection limit is per worker, so each
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

use actix_http::HttpService;
use actix_service::{ServiceFactoryExt as _, fn_service, map_config};
use actix_web::dev::{AppConfig, Service as _};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::{App, HttpMessage as _, HttpRequest, HttpResponse, web};
use adapter::TusActix;
use futures::FutureExt as _;
use tracing::Instrument as _;
use tus_core::headers::Extension;
use tus_example_common::limits::{check_head_size, per_worker_connections};
use tus_example_common::{
    Args, BEARER_CHALLENGE, METRICS_PATH, PROMETHEUS_CONTENT_TYPE, REQUEST_ID, RequestId, User, demo,
};
use tus_server::TusHandler;

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
    let tus = web::Data::new(
        TusActix::new(handler.clone())
            .forward_extension::<User>()
            .forward_extension::<RequestId>(),
    );
    let metrics = web::Data::new(handler);
    let demo_endpoint = web::Data::new(DemoEndpoint(base_path.clone()));
    let serve_demo = args.demo;
    let mount = base_path.trim_end_matches('/').to_owned();
    let listener = std::net::TcpListener::bind(args.listen)?;
    let addr = listener.local_addr()?;
    let request_timeout = Duration::from_secs(args.header_read_timeout);
    let max_header_bytes = args.max_header_bytes;
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let (workers, per_worker) = per_worker_connections(args.max_connections, cores);
    let server = actix_server::Server::build()
        // The connection limit is per worker: share the total between them.
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .shutdown_timeout(args.shutdown_timeout)
        // Signals are handled below, so bodies in flight are stopped first.
        .disable_signals()
        .listen("tus-actix", listener, move || {
            let tokens = Arc::clone(&tokens);
            let mut app = App::new()
                .app_data(tus.clone())
                .app_data(metrics.clone())
                .app_data(demo_endpoint.clone())
                .route(METRICS_PATH, web::get().to(serve_metrics));
            if serve_demo {
                app = app
                    .route(demo::INDEX_PATH, web::get().to(serve_demo_page))
                    .route(&format!("{}{{file}}", demo::ASSETS_PREFIX), web::get().to(serve_demo_page));
            }
            let app = if mount.is_empty() {
                app.default_service(web::to(TusActix::serve))
            } else {
                app.service(web::scope(&mount).default_service(web::to(TusActix::serve)))
            };
            let app = app
                .wrap_fn(move |request, service| {
                    // Puts the user of a valid bearer token into the request
                    // extensions; refusing is left to the tus hooks (creation
                    // and every request on an upload). A 401 gets its challenge.
                    let user = request
                        .headers()
                        .get(AUTHORIZATION)
                        .and_then(|value| tokens.user(value.as_bytes()));
                    if let Some(user) = user {
                        request.extensions_mut().insert(user);
                    }
                    service.call(request).map(|mut result| {
                        if let Ok(response) = &mut result
                            && response.status() == actix_web::http::StatusCode::UNAUTHORIZED
                        {
                            response
                                .headers_mut()
                                .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
                        }
                        result
                    })
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
                .wrap_fn(|mut request, service| {
                    // The request id: the client's (if plain and short) or a
                    // new one, in the request, in every log line, in the response.
                    let id = RequestId::from_header(
                        request
                            .headers()
                            .get(REQUEST_ID.as_str())
                            .map(|value| value.as_bytes()),
                    );
                    let header = request_id_header(&id);
                    if let Some((name, value)) = &header {
                        request.headers_mut().insert(name.clone(), value.clone());
                    }
                    let span = tracing::info_span!("request", id = %id);
                    request.extensions_mut().insert(id);
                    service.call(request).instrument(span).map(move |mut result| {
                        if let (Ok(response), Some((name, value))) = (&mut result, header) {
                            response.headers_mut().insert(name, value);
                        }
                        result
                    })
                })
                .wrap_fn(move |request, service| {
                    // Outermost: the request head as sent (before the request id is
                    // added), against --max-header-bytes (as tus-axum counts it).
                    let headers = request
                        .headers()
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_bytes()));
                    let target = request.uri().path_and_query().map(|target| target.as_str());
                    if let Some(refusal) = check_head_size(max_header_bytes, request.method().as_str(), target, headers)
                    {
                        let response = HttpResponse::build(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
                            .content_type("text/plain; charset=utf-8")
                            .body(refusal);
                        return futures::future::Either::Left(futures::future::ready(Ok(
                            request.into_response(response)
                        )));
                    }
                    futures::future::Either::Right(service.call(request))
                });
            let expect = tus.clone();
            HttpService::build()
                .client_request_timeout(request_timeout)
                .local_addr(addr)
                .expect(fn_service(move |request: actix_http::Request| {
                    // A refusal is answered without the middleware: name the request id here.
                    let id = RequestId::from_header(
                        request
                            .headers()
                            .get(REQUEST_ID.as_str())
                            .map(|value| value.as_bytes()),
                    );
                    std::future::ready(expect.expect_continue(request).map_err(|mut refusal| {
                        if let Some((name, value)) = request_id_header(&id) {
                            refusal.0.headers_mut().insert(name, value);
                        }
                        tracing::info!(status = refusal.0.status().as_u16(), request_id = %id, "request refused before 100 Continue");
                        refusal
                    }))
                }))
                .finish(map_config(
                    actix_service::IntoServiceFactory::into_factory(app)
                        .map_err(|error: actix_web::Error| error.error_response()),
                    |()| AppConfig::default(),
                ))
                .tcp()
        })?;
    tracing::info!(listen = %addr, base_path, dir = %args.dir.display(), "tus-actix listening");
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

/// The tus endpoint the demo page uploads to.
#[derive(Debug)]
struct DemoEndpoint(String);

/// The demo page and its bundled assets (`--demo`).
async fn serve_demo_page(endpoint: web::Data<DemoEndpoint>, request: HttpRequest) -> HttpResponse {
    match demo::respond(request.path(), &endpoint.0) {
        Some(page) => HttpResponse::Ok()
            .content_type(page.content_type)
            .insert_header((CACHE_CONTROL, "no-cache"))
            .body(page.body.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `X-Request-ID: id` in actix-web's header types.
fn request_id_header(id: &RequestId) -> Option<(HeaderName, HeaderValue)> {
    let value = HeaderValue::from_str(id.as_str()).ok()?;
    Some((HeaderName::from_static("x-request-id"), value))
}

/// The handler's metrics in the Prometheus text format.
async fn serve_metrics(handler: web::Data<TusHandler>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(PROMETHEUS_CONTENT_TYPE)
        .body(handler.metrics().render_prometheus())
}
