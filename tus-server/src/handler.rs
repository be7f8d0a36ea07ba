//! [`TusHandler`]: parse, dispatch, answer. Each request path is a few
//! lines over tus-core's decisions; creation and append live in `write`,
//! final uploads in `concat`.

use std::sync::Arc;
use std::time::SystemTime;

use http::request::Parts;
use http::{Method, Request, Response};
use tus_core::headers::Extension;
use tus_core::server::TusError;
use tus_core::server::cors::CorsRequest;
use tus_core::server::decide;
use tus_core::server::policy::Policy;
use tus_core::server::request::{DownloadRequest, TusRequest, effective_method};
use tus_core::server::response::{self, Reply, ReplyBody};
use tus_core::store::Store;
use tus_core::upload::{UploadId, UploadInfo};

use super::body::{RequestBody, ResponseBody};
use super::builder::{Config, TusHandlerBuilder};
use super::clock::Clock;
use super::events::Events;
use super::hooks::{Access, HookContext};
use super::ids::IdGenerator;
use super::interrupt::Shutdown;
use super::lifecycle::Lifecycle;
use super::lock::Locks;
use super::service::TusService;
use super::timer::Timer;
use super::write;

/// A tus server: give it requests, get responses. Cheap to clone.
///
/// It is runtime-agnostic: it awaits only the store, the locker, the body
/// and its [`Timer`]. Mount it with [`TusHandler::into_service`] (any
/// `tower` framework) or call [`TusHandler::handle`] from an adapter.
#[derive(Clone)]
pub struct TusHandler {
    shared: Arc<Shared>,
}

/// What every request reads: the store, the decisions' policy, and the
/// components that own the driver's state (locks, lifecycle, shutdown).
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) policy: Policy,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) locks: Locks,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) shutdown: Shutdown,
}

/// One request being served: its head, its hook context and the time it
/// arrived (read once).
pub(crate) struct Call<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) cx: Arc<HookContext>,
    pub(crate) now: SystemTime,
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
    /// Starts configuring a handler over `store`, with [`TokioTimer`](crate::TokioTimer)
    /// enforcing its timeouts.
    #[cfg(feature = "tokio")]
    pub fn builder(store: Arc<dyn Store>) -> TusHandlerBuilder {
        TusHandlerBuilder::new(store, Arc::new(super::timer::TokioTimer))
    }

    /// Starts configuring a handler over `store`, with `timer` enforcing its
    /// timeouts (for runtimes other than Tokio).
    pub fn builder_with_timer(store: Arc<dyn Store>, timer: Arc<dyn Timer>) -> TusHandlerBuilder {
        TusHandlerBuilder::new(store, timer)
    }

    pub(crate) fn from_builder(builder: TusHandlerBuilder) -> Self {
        let config = builder.config;
        let mut policy = Policy::for_store(
            builder.store.as_ref(),
            config.max_size,
            config.expire_after,
            &config.disabled_extensions,
        );
        policy.concat = config.concat_limits;
        let lifecycle = Lifecycle::new(builder.hooks);
        #[cfg(feature = "metrics")]
        let store: Arc<dyn Store> = Arc::new(super::metrics::MeteredStore::new(
            builder.store,
            Arc::clone(&lifecycle.metrics),
        ));
        #[cfg(not(feature = "metrics"))]
        let store = builder.store;
        Self {
            shared: Arc::new(Shared {
                store,
                policy,
                locks: Locks::new(builder.locker, Arc::clone(&builder.timer), config.lock_timeout),
                config,
                clock: builder.clock,
                ids: builder.ids,
                timer: builder.timer,
                lifecycle,
                shutdown: Shutdown::default(),
            }),
        }
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

    /// A `tower::Service` over this handler.
    pub fn into_service(self) -> TusService {
        TusService::new(self)
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

impl Shared {
    /// The answer to `error`, logged and counted.
    fn error_reply(&self, parts: &Parts, error: &TusError) -> Reply {
        log_error(parts, error);
        self.lifecycle.error(error);
        response::error(error)
    }

    /// Turns a reply into a response, opening the store's stream for stored bytes.
    async fn respond(&self, reply: Reply) -> Result<Response<ResponseBody>, TusError> {
        let (parts, body) = reply.into_parts();
        let body = match body {
            ReplyBody::Empty => ResponseBody::empty(),
            ReplyBody::Text(text) => ResponseBody::full(text),
            ReplyBody::Stored { id, range } => {
                let length = range.end - range.start;
                ResponseBody::stream(self.store.read(&id, range).await?, length)
            }
        };
        Ok(Response::from_parts(parts, body))
    }

    /// The upload's state, after `authorize` allowed `access` to it (only
    /// read when hooks are installed: without them, nobody is refused).
    pub(crate) async fn authorized(
        &self,
        call: &Call<'_>,
        id: &UploadId,
        access: fn(&UploadInfo) -> Access<'_>,
    ) -> Result<Option<UploadInfo>, TusError> {
        if !self.lifecycle.has_hooks() {
            return Ok(None);
        }
        let info = self.store.info(id).await?;
        self.lifecycle.authorize(&call.cx, access(&info)).await?;
        Ok(Some(info))
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

fn log_error(parts: &Parts, error: &TusError) {
    if error.status().is_server_error() && !error.is_transient() {
        let source = std::error::Error::source(error).map(ToString::to_string);
        tracing::error!(method = %parts.method, path = parts.uri.path(), code = error.code(), ?source, "request failed");
    } else {
        tracing::debug!(method = %parts.method, path = parts.uri.path(), code = error.code(), "request refused");
    }
}
