//! `tus-axum`: a tus 1.0.0 upload server on the filesystem store, which also
//! speaks the IETF draft "Resumable Uploads for HTTP" (interop 9, 8 and 6)
//! on the same endpoint, with its `104 Upload Resumption Supported`.
//!
//! ```text
//! tus-axum [--listen 127.0.0.1:1080] [--base-path /files/] [--dir ./uploads] [--max-size BYTES]
//!          [--expire-after SECS] [--sync always|never] [--auth-token TOKEN=USER]...
//!          [--trust-forwarded | --public-url URL | --relative-location]
//!          [--locker memory|file|redis] [--redis-url URL] [--lock-timeout SECS]
//!          [--body-idle-timeout SECS] [--header-read-timeout SECS] [--max-header-bytes BYTES]
//!          [--read-buffer-bytes BYTES]
//!          [--max-connections N] [--shutdown-timeout SECS] [--log-rate-limit N]
//!          [--s3-bucket NAME [--s3-endpoint URL] [--s3-region R] [--s3-prefix P]]
//!          [--demo] [--cors-origin ORIGIN]... [--cors-allow-header NAME]...
//!          [--cors-expose-header NAME]... [--cors-credentials]
//! ```
//!
//! With `--s3-bucket` uploads go to S3 (or MinIO, R2, Garage at
//! `--s3-endpoint`, path-style) instead of `--dir`; credentials come from the
//! standard AWS chain (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
//!
//! Connections are served by hyper directly (see [`serve`]), which is where
//! the header read timeout, the header size limit and the connection limit
//! live; on SIGTERM the handler stops every body in flight (bytes received
//! are kept, locks released) and the process exits within the shutdown
//! timeout.
//!
//! This is also the reference for embedding tus-rs-server in an axum app: build a
//! `TusHandler` over a store and mount `handler.into_service()` with
//! `Router::nest_service`. Middleware runs before the handler and its
//! request extensions reach the hooks: [`authenticate`] puts the bearer
//! token's [`User`] there, and (when `--auth-token` is given) the hooks of
//! [`AppHooks`](tus_example_common::AppHooks) refuse anonymous requests,
//! record the user id in the metadata at creation, and let only that user
//! touch the upload afterwards (`Hooks::authorize`).
//! Prometheus metrics are served at `/metrics`, and with `--demo` a page
//! at `/` uploads from the browser (Uppy's Dashboard). Every response
//! carries an `X-Request-ID` (the client's, if plain and short, else a new
//! one; see [`with_request_id`]), which every log line of the request names.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode, Uri};
use tracing::Instrument as _;
use tus_example_common::limits::check_head_size;
use tus_example_common::{
    Args, BEARER_CHALLENGE, METRICS_PATH, PROMETHEUS_CONTENT_TYPE, REQUEST_ID, RequestId, Tokens, User, demo,
};
use tus_server::TusHandler;

mod interim;
mod serve;
mod slots;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse_as("tus-axum");
    tus_example_common::init_tracing_limited(args.limits.log_rate_limit);
    let tokens = Arc::new(args.tokens()?);
    let handler = tus_example_common::build_handler(&args, &[]).await?;
    let stop_handler = handler.clone();
    let base_path = handler.config().base_path.clone();
    let mut app = router(handler.clone(), &base_path).route(METRICS_PATH, get(metrics).with_state(handler));
    if args.demo {
        let endpoint: Arc<str> = Arc::from(base_path.as_str());
        app = app
            .route(demo::INDEX_PATH, get(demo_page).with_state(Arc::clone(&endpoint)))
            .route(
                &format!("{}{{file}}", demo::ASSETS_PREFIX),
                get(demo_page).with_state(endpoint),
            );
    }
    let app = app
        .layer(middleware::from_fn_with_state(tokens, authenticate))
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(with_request_id))
        // Outermost: the head is measured as the client sent it, before the
        // request id layer adds its header.
        .layer(middleware::from_fn_with_state(args.max_header_bytes, limit_head));

    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, base_path, dir = %args.dir.display(), "tus-axum listening");

    let limits = serve::Limits {
        header_read_timeout: Duration::from_secs(args.header_read_timeout),
        max_header_bytes: args.max_header_bytes,
        read_buffer_bytes: args.read_buffer_bytes,
        max_connections: args.max_connections,
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
    };
    let stop = async move {
        shutdown_signal().await;
        tracing::info!("shutting down: stopping request bodies, then waiting for responses");
        // Bodies in flight stop at once (bytes kept, locks released) and answer 503.
        stop_handler.shutdown();
    };
    serve::serve(listener, app, limits, stop).await?;
    Ok(())
}

/// Puts the [`User`] of a valid `Authorization: Bearer TOKEN` into the
/// request extensions, where the tus hooks find it. Refusing is left to the
/// hooks (creation and every request on an upload), so the answers keep
/// their tus and CORS headers and OPTIONS needs no token; a 401 gets its
/// `WWW-Authenticate` challenge here.
async fn authenticate(State(tokens): State<Arc<Tokens>>, mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| tokens.user(value.as_bytes()));
    if let Some(user) = user {
        request.extensions_mut().insert::<User>(user);
    }
    let mut response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(WWW_AUTHENTICATE, HeaderValue::from_static(BEARER_CHALLENGE));
    }
    response
}

/// Answers `431` to a request whose head (request line and header lines,
/// counted as sent) is larger than `--max-header-bytes`. hyper's own limit
/// (`max_header_size`, see [`serve`]) counts the bytes as received, which
/// the same headers can fall under (`name:value` without the space).
async fn limit_head(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let target = request.uri().path_and_query().map(|target| target.as_str());
    if let Some(refusal) = check_head_size(limit, request.method().as_str(), target, headers) {
        let content_type = [(CONTENT_TYPE, "text/plain; charset=utf-8")];
        return (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, content_type, refusal).into_response();
    }
    next.run(request).await
}

/// The handler's metrics in the Prometheus text format.
async fn metrics(State(handler): State<TusHandler>) -> impl IntoResponse {
    (
        [(CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE)],
        handler.metrics().render_prometheus(),
    )
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

/// The demo page and its bundled assets (`--demo`).
async fn demo_page(State(endpoint): State<Arc<str>>, uri: Uri) -> Response {
    let Some(page) = demo::respond(uri.path(), &endpoint) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = match page.body {
        std::borrow::Cow::Borrowed(bytes) => Bytes::from_static(bytes),
        std::borrow::Cow::Owned(bytes) => Bytes::from(bytes),
    };
    ([(CONTENT_TYPE, page.content_type), (CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The request id layer: takes the client's `X-Request-ID` (if plain and
/// short) or makes one, puts it into the request (header and extensions),
/// runs the request in a `request` span naming it, and echoes it in the
/// response.
async fn with_request_id(mut request: Request, next: Next) -> Response {
    let id = RequestId::from_header(request.headers().get(&REQUEST_ID).map(|value| value.as_bytes()));
    request.headers_mut().insert(REQUEST_ID, id.header_value());
    request.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", id = %id);
    let mut response = next.run(request).instrument(span).await;
    response.headers_mut().insert(REQUEST_ID, id.header_value());
    response
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
