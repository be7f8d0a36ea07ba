//! [`TusHandler`]: parse, dispatch, answer. Each request path is a few
//! lines over tus-core's decisions; creation and append live in `write`,
//! final uploads in `concat`.

use std::sync::Arc;

use http::request::Parts;
use http::{Method, Request, Response};
use tus_core::headers::Extension;
use tus_core::server::TusError;
use tus_core::server::cors::CorsRequest;
use tus_core::server::decide;
use tus_core::server::ietf::{self, Dialect, IetfError};
use tus_core::server::request::{DownloadRequest, TusRequest, effective_method};
use tus_core::server::response::{self, Reply, ReplyBody};
use tus_core::upload::UploadId;

use super::body::{RequestBody, ResponseBody};
use super::config::Config;
use super::events::Events;
use super::hooks::Access;
use super::shared::{Call, Shared};
use super::write;

/// A tus server: give it requests, get responses. Cheap to clone.
///
/// It is runtime-agnostic: it awaits only the store, the locker, the body
/// and its [`Timer`](crate::Timer). Mount it with [`TusHandler::into_service`] (any
/// `tower` framework) or call [`TusHandler::handle`] from an adapter.
#[derive(Clone)]
pub struct TusHandler {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for TusHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusHandler")
            .field("config", &self.shared.config)
            .field("policy", &self.shared.policy)
            .finish_non_exhaustive()
    }
}

impl TusHandler {
    pub(crate) fn new(shared: Shared) -> Self {
        let shared = Arc::new(shared);
        shared.repairer.bind(Arc::downgrade(&shared));
        Self { shared }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The extensions served (what OPTIONS advertises).
    pub fn extensions(&self) -> &[Extension] {
        &self.shared.policy.extensions
    }

    /// What this handler counted (cargo feature `metrics`).
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    pub fn metrics(&self) -> &super::metrics::Metrics {
        &self.shared.lifecycle.metrics
    }

    /// A stream of [`Event`](crate::Event)s for an observer, with a queue of
    /// `capacity` events: a subscriber that falls behind loses events
    /// instead of slowing uploads down (see [`Events::dropped`]).
    pub fn subscribe(&self, capacity: usize) -> Events {
        self.shared.lifecycle.subscribe(capacity)
    }

    /// Starts a graceful shutdown: every body being read now or later stops
    /// at once, the store keeps the bytes received so far, locks are
    /// released, and those requests answer `503` (`ERR_SERVER_SHUTTING_DOWN`)
    /// so clients resume later. Requests without a body are still served.
    ///
    /// Call it when the server stops accepting connections (SIGTERM), then
    /// wait, with a bound, for in-flight requests to finish. Idempotent.
    pub fn shutdown(&self) {
        if !self.shared.shutdown.fired() {
            tracing::info!("shutdown: stopping request bodies in flight");
        }
        self.shared.shutdown.fire();
    }

    /// Whether [`TusHandler::shutdown`] was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shared.shutdown.fired()
    }

    /// Answers one request. Never fails: errors become 4xx/5xx responses with
    /// a plain-text reason, and every response carries `Tus-Resumable`.
    ///
    /// Runs in a `tracing` span `tus` with the method, the path and, once
    /// known, the upload `id`.
    pub async fn handle(&self, request: Request<RequestBody>) -> Response<ResponseBody> {
        let span = tracing::info_span!(
            "tus",
            method = %request.method(),
            path = request.uri().path(),
            id = tracing::field::Empty,
        );
        tracing::Instrument::instrument(self.handle_in_span(request), span).await
    }

    async fn handle_in_span(&self, request: Request<RequestBody>) -> Response<ResponseBody> {
        let shared = &*self.shared;
        let (parts, body) = request.into_parts();
        let call = Call {
            parts: &parts,
            cx: shared.lifecycle.context(&parts),
            now: shared.clock.now(),
        };
        let cors = shared.config.cors.classify(&parts.method, &parts.headers);
        let method = effective_method(&parts.method, &parts.headers);
        let is_head = *method.as_ref().unwrap_or(&parts.method) == Method::HEAD;
        shared.lifecycle.request(method.as_ref().unwrap_or(&parts.method));
        let dialect = match (&cors, &method) {
            (Ok(CorsRequest::Preflight(_)) | Err(_), _) | (_, Err(_)) => Dialect::Tus,
            (Ok(_), Ok(method)) => ietf::dialect(method, &parts.headers),
        };
        if let (Dialect::Ietf(_) | Dialect::Unsupported, Ok(method)) = (dialect, &method) {
            let mut reply = super::ietf::serve(shared, &call, dialect, method, body).await;
            let cors = cors.ok();
            let cors = cors.as_ref().map(|cors| (&shared.config.cors, cors));
            response::finish_headers(&mut reply, cors, is_head);
            return match shared.respond(reply).await {
                Ok(response) => response,
                Err(error) => {
                    let version = match dialect {
                        Dialect::Ietf(version) => version,
                        _ => tus_core::headers::ietf::InteropVersion::V9,
                    };
                    let mut reply = ietf::response::error(version, &IetfError::from(error), None);
                    response::finish_headers(&mut reply, cors, is_head);
                    text_response(reply)
                }
            };
        }
        let result = match (&cors, method) {
            (Err(_), _) => Err(TusError::OriginNotAllowed),
            (Ok(CorsRequest::Preflight(_)), _) => Ok(response::discovery(&shared.policy)),
            (Ok(_), Err(error)) => Err(error),
            (Ok(_), Ok(method)) => self.dispatch(&call, &method, body).await,
        };
        let cors = cors.ok();
        let mut reply = result.unwrap_or_else(|error| shared.error_reply(&parts, &error));
        response::finish(
            &mut reply,
            cors.as_ref().map(|cors| (&shared.config.cors, cors)),
            is_head,
        );
        match shared.respond(reply).await {
            Ok(response) => response,
            Err(error) => {
                let mut reply = shared.error_reply(&parts, &error);
                response::finish(
                    &mut reply,
                    cors.as_ref().map(|cors| (&shared.config.cors, cors)),
                    is_head,
                );
                text_response(reply)
            }
        }
    }

    /// The answer to a request head that the handler refuses before it
    /// would read any body, or `None` when it would go on to the store.
    ///
    /// For servers that must decide on `Expect: 100-continue` before the
    /// handler runs (actix-web's expect service): send the returned
    /// response instead of `100 Continue`, so the client does not send a
    /// body for nothing. Checks only what needs neither the store nor the
    /// hooks: the origin (CORS), the method override, the tus version and
    /// headers, and for a creation its length against `Tus-Max-Size`, its
    /// metadata and its concatenation headers. [`TusHandler::handle`]
    /// repeats every check, so `None` promises nothing.
    pub fn precheck(&self, parts: &Parts) -> Option<Response<ResponseBody>> {
        let shared = &*self.shared;
        let config = &shared.config;
        let cors = config.cors.classify(&parts.method, &parts.headers);
        let refused = match &cors {
            Err(_) => Some(TusError::OriginNotAllowed),
            Ok(CorsRequest::Preflight(_)) => None,
            Ok(_) => match effective_method(&parts.method, &parts.headers) {
                Err(error) => Some(error),
                Ok(method) => decide::precheck(
                    &method,
                    parts.uri.path(),
                    &parts.headers,
                    &shared.policy,
                    &config.base_path,
                ),
            },
        }?;
        shared.lifecycle.request(&parts.method);
        let mut reply = shared.error_reply(parts, &refused);
        let cors = cors.ok();
        response::finish(
            &mut reply,
            cors.as_ref().map(|cors| (&config.cors, cors)),
            parts.method == Method::HEAD,
        );
        Some(text_response(reply))
    }

    async fn dispatch(&self, call: &Call<'_>, method: &Method, body: RequestBody) -> Result<Reply, TusError> {
        let shared = &*self.shared;
        let request = TusRequest::parse(
            method,
            call.parts.uri.path(),
            &call.parts.headers,
            &shared.config.base_path,
        )?;
        record_id(&request);
        match request {
            TusRequest::Options => Ok(response::discovery(&shared.policy)),
            TusRequest::Create(request) => write::create(shared, call, request, body).await,
            TusRequest::Head(id) => head(shared, call, &id).await,
            TusRequest::Append(request) => write::append(shared, call, request, body).await,
            TusRequest::Terminate(id) => terminate(shared, call, &id).await,
            TusRequest::Download(request) => download(shared, call, request).await,
        }
    }
}

/// A reply that carries no stored bytes, as a response.
fn text_response(reply: Reply) -> Response<ResponseBody> {
    reply.map(|body| match body {
        ReplyBody::Text(text) => ResponseBody::full(text),
        ReplyBody::Empty | ReplyBody::Stored { .. } => ResponseBody::empty(),
    })
}

async fn head(shared: &Shared, call: &Call<'_>, id: &UploadId) -> Result<Reply, TusError> {
    shared.authorized(call, id, |info| Access::Head(info)).await?;
    // Taking the lock stops a PATCH in flight, so the offset is the true,
    // durable one.
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await?;
    drop(lock);
    shared.repairer.request(&info);
    decide::head(&info, &shared.policy, call.now)
}

async fn terminate(shared: &Shared, call: &Call<'_>, id: &UploadId) -> Result<Reply, TusError> {
    decide::check_termination(&shared.policy)?;
    let terminator = shared
        .store
        .termination()
        .ok_or(TusError::ExtensionNotSupported(Extension::Termination))?;
    shared.authorized(call, id, |info| Access::Terminate(info)).await?;
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await?;
    shared.lifecycle.pre_terminate(&call.cx, &info).await?;
    terminator.terminate(id).await?;
    drop(lock);
    tracing::info!(%id, "upload terminated");
    shared.lifecycle.terminated(&call.cx, id).await;
    Ok(response::terminated())
}

async fn download(shared: &Shared, call: &Call<'_>, request: DownloadRequest) -> Result<Reply, TusError> {
    if !shared.config.download {
        return Err(TusError::MethodNotAllowed);
    }
    let info = match shared
        .authorized(call, &request.id, |info| Access::Download(info))
        .await?
    {
        Some(info) => info,
        None => shared.store.info(&request.id).await?,
    };
    shared.repairer.request(&info);
    decide::download(&info, request.range.as_ref())
}

/// Records the upload id a request targets in the current request span.
fn record_id(request: &TusRequest) {
    let id = match request {
        TusRequest::Head(id) | TusRequest::Terminate(id) => id,
        TusRequest::Append(append) => &append.id,
        TusRequest::Download(download) => &download.id,
        TusRequest::Options | TusRequest::Create(_) => return,
    };
    tracing::Span::current().record("id", id.as_str());
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::StatusCode;
    use tus_core::store::MemoryStore;

    use super::*;
    use crate::timer::Timer;

    /// No runtime in these tests: time stands still.
    struct Frozen;

    impl Timer for Frozen {
        fn sleep(&self, _: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
            Box::pin(std::future::pending())
        }
    }

    fn handler() -> TusHandler {
        TusHandler::builder_with_timer(Arc::new(MemoryStore::new()), Arc::new(Frozen))
            .max_size(100)
            .build()
    }

    fn call(handler: &TusHandler, request: http::request::Builder, body: &'static [u8]) -> Response<Bytes> {
        let request = request
            .body(RequestBody::from(Bytes::from_static(body)))
            .expect("request");
        futures::executor::block_on(async {
            let (parts, body) = handler.handle(request).await.into_parts();
            Response::from_parts(parts, body.collect().await.expect("body"))
        })
    }

    fn tus(method: &str, path: &str) -> http::request::Builder {
        Request::builder()
            .method(method)
            .uri(path)
            .header("tus-resumable", "1.0.0")
    }

    #[test]
    fn every_answer_carries_tus_resumable_and_nosniff() {
        let handler = handler();
        for request in [
            tus("OPTIONS", "/files/"),
            tus("HEAD", "/files/missing"),
            Request::builder().method("POST").uri("/files/"),
        ] {
            let response = call(&handler, request, b"");
            assert_eq!(response.headers()["tus-resumable"], "1.0.0");
            assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        }
    }

    #[test]
    fn a_round_trip_through_every_request_path() {
        let handler = handler();
        let created = call(
            &handler,
            tus("POST", "/files/")
                .header("upload-length", "5")
                .header("content-type", "application/offset+octet-stream"),
            b"he",
        );
        assert_eq!(created.status(), StatusCode::CREATED);
        assert_eq!(created.headers()["upload-offset"], "2");
        let location = created.headers()["location"].to_str().expect("ascii");
        let path = &location[location.find("/files/").expect("path")..];

        let head = call(&handler, tus("HEAD", path), b"");
        assert_eq!(head.headers()["upload-offset"], "2");
        assert!(head.body().is_empty(), "HEAD has no body");
        let patch = call(
            &handler,
            tus("PATCH", path)
                .header("upload-offset", "2")
                .header("content-type", "application/offset+octet-stream"),
            b"llo",
        );
        assert_eq!(patch.status(), StatusCode::NO_CONTENT);
        assert_eq!(patch.headers()["upload-offset"], "5");
        let get = call(&handler, Request::builder().method("GET").uri(path), b"");
        assert_eq!(get.body().as_ref(), b"hello");
        assert_eq!(
            call(&handler, tus("DELETE", path), b"").status(),
            StatusCode::NO_CONTENT
        );
        assert_eq!(call(&handler, tus("HEAD", path), b"").status(), StatusCode::NOT_FOUND);
    }

    #[test]
    fn errors_are_plain_text_with_a_stable_code() {
        let handler = handler();
        let too_large = call(&handler, tus("POST", "/files/").header("upload-length", "101"), b"");
        assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(too_large.headers()["content-type"], "text/plain; charset=utf-8");
        assert!(too_large.body().starts_with(b"ERR_MAX_SIZE_EXCEEDED: "));
        let no_version = call(
            &handler,
            Request::builder()
                .method("POST")
                .uri("/files/")
                .header("upload-length", "1"),
            b"",
        );
        assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);
        assert_eq!(no_version.headers()["tus-version"], "1.0.0");
        let head = call(&handler, tus("HEAD", "/files/missing"), b"");
        assert!(head.body().is_empty() && !head.headers().contains_key("content-type"));
    }

    #[test]
    fn a_preflight_is_answered_without_touching_anything() {
        let handler = handler();
        let preflight = call(
            &handler,
            Request::builder()
                .method("OPTIONS")
                .uri("/files/anything")
                .header("origin", "https://app.example")
                .header("access-control-request-method", "PATCH"),
            b"",
        );
        assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
        assert!(preflight.headers().contains_key("access-control-allow-methods"));
    }
}
