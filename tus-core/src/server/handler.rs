//! The driver: parse, load state, lock, stream the body into the store, answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response};
use http_body::Body as _;

use super::config::{Clock, Config, TusHandlerBuilder, policy};
use super::events::Broadcaster;
use super::hooks::{HookContext, Hooks};
use super::ingest::{BodyEnd, capped_stream};
use super::interrupt::{Interrupts, Shutdown, StopReason};
use super::lifecycle;
use super::lock::{LockError, LockGuard, Locker, ReleaseRequested};
use super::service::TusService;
use crate::body::{RequestBody, ResponseBody};
use crate::proto::checksum::{BodyDigest, DigestCheck, Verification};
use crate::proto::cors::CorsRequest;
use crate::proto::decide::{CreationPlan, Policy, check_alive, exceeded, expires_at, plan_append, plan_creation};
use crate::proto::download::{download_head, resolve_range};
use crate::proto::error::TusError;
use crate::proto::headers::Extension;
use crate::proto::request::{AppendRequest, CreateRequest, DownloadRequest, TusRequest, effective_method};
use crate::proto::response;
use crate::store::{IdGenerator, NewUpload, Store, StoreError, UploadId, UploadInfo, UploadKind, UploadSize};
use crate::timer::Timer;

/// A tus server: give it requests, get responses. Cheap to clone.
///
/// It is runtime-agnostic: it awaits only the store, the locker and the body.
/// Mount it with [`TusHandler::into_service`] (any `tower` framework) or call
/// [`TusHandler::handle`] from an adapter.
#[derive(Clone)]
pub struct TusHandler {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) store: Arc<dyn Store>,
    pub(super) locker: Arc<dyn Locker>,
    pub(super) ids: Arc<dyn IdGenerator>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) timer: Option<Arc<dyn Timer>>,
    pub(super) shutdown: Shutdown,
    pub(super) config: Config,
    pub(super) policy: Policy,
    /// Final uploads waiting for a partial to complete: partial id → final ids.
    pub(super) waiting_finals: Mutex<HashMap<UploadId, HashSet<UploadId>>>,
    pub(super) hooks: Option<Arc<dyn Hooks>>,
    pub(super) events: Broadcaster,
    pub(super) progress_interval: std::time::Duration,
    #[cfg(feature = "metrics")]
    pub(super) metrics: Arc<super::metrics::Metrics>,
}

impl std::fmt::Debug for TusHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusHandler")
            .field("config", &self.inner.config)
            .field("policy", &self.inner.policy)
            .finish_non_exhaustive()
    }
}

impl TusHandler {
    /// Starts configuring a handler over `store`.
    pub fn builder(store: Arc<dyn Store>) -> TusHandlerBuilder {
        TusHandlerBuilder::new(store)
    }

    pub(crate) fn from_builder(builder: TusHandlerBuilder) -> Self {
        let policy = policy(&builder.config, builder.store.as_ref());
        #[cfg(feature = "metrics")]
        let metrics = Arc::new(super::metrics::Metrics::default());
        #[cfg(feature = "metrics")]
        let builder = TusHandlerBuilder {
            store: Arc::new(super::metrics::MeteredStore {
                store: builder.store,
                metrics: Arc::clone(&metrics),
            }),
            ..builder
        };
        Self {
            inner: Arc::new(Inner {
                store: builder.store,
                locker: builder.locker,
                ids: builder.ids,
                clock: builder.clock,
                timer: builder.timer,
                shutdown: Shutdown::default(),
                config: builder.config,
                policy,
                waiting_finals: Mutex::default(),
                hooks: builder.hooks,
                events: Broadcaster::default(),
                progress_interval: builder.progress_interval,
                #[cfg(feature = "metrics")]
                metrics,
            }),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The extensions served (what OPTIONS advertises).
    pub fn extensions(&self) -> &[Extension] {
        &self.inner.policy.extensions
    }

    /// What this handler counted (cargo feature `metrics`).
    #[cfg(feature = "metrics")]
    pub fn metrics(&self) -> &super::metrics::Metrics {
        &self.inner.metrics
    }

    /// A `tower::Service` over this handler.
    pub fn into_service(self) -> TusService {
        TusService::new(self)
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
        let (parts, body) = request.into_parts();
        let cors = self.inner.config.cors.classify(&parts.method, &parts.headers);
        let method = effective_method(&parts.method, &parts.headers);
        let is_head = *method.as_ref().unwrap_or(&parts.method) == Method::HEAD;
        #[cfg(feature = "metrics")]
        self.inner.metrics.request(method.as_ref().unwrap_or(&parts.method));
        let cx = lifecycle::context(self, &parts);
        let result = match (&cors, method) {
            (Err(_), _) => Err(TusError::OriginNotAllowed),
            (Ok(CorsRequest::Preflight(_)), _) => Ok(response::discovery(&self.inner.policy)),
            (Ok(_), Err(error)) => Err(error),
            (Ok(_), Ok(method)) => self.dispatch(&parts, &cx, method, body).await,
        };
        let mut response = result.unwrap_or_else(|error| {
            log_error(&parts, &error);
            #[cfg(feature = "metrics")]
            self.inner.metrics.error(error.code());
            response::error(&error)
        });
        let headers = response.headers_mut();
        response::add_tus_resumable(headers);
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if let Ok(cors) = &cors {
            self.inner.config.cors.apply(cors, headers);
        }
        if is_head {
            *response.body_mut() = ResponseBody::empty();
            response.headers_mut().remove(CONTENT_TYPE);
        }
        response
    }

    async fn dispatch(
        &self,
        parts: &Parts,
        cx: &Arc<HookContext>,
        method: Method,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, TusError> {
        let config = &self.inner.config;
        let request = TusRequest::parse(&method, parts.uri.path(), &parts.headers, &config.base_path)?;
        lifecycle::record_id(&request);
        match request {
            TusRequest::Options => Ok(response::discovery(&self.inner.policy)),
            TusRequest::Create(request) => self.create(parts, cx, request, body).await,
            TusRequest::Head(id) => self.head(cx, &id).await,
            TusRequest::Append(request) => self.append(cx, request, body).await,
            TusRequest::Terminate(id) => self.terminate(cx, &id).await,
            TusRequest::Download(request) => self.download(cx, request).await,
        }
    }

    pub(super) fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// Takes `id`'s lock, asking its holder to release, within the lock timeout.
    pub(super) async fn lock(&self, id: &UploadId) -> Result<LockGuard, TusError> {
        let inner = &self.inner;
        let locking = inner.locker.lock(id);
        let locked = match &inner.timer {
            Some(timer) => match futures::future::select(locking, timer.sleep(inner.config.lock_timeout)).await {
                futures::future::Either::Left((locked, _)) => locked,
                futures::future::Either::Right(((), _)) => {
                    tracing::warn!(%id, timeout = ?inner.config.lock_timeout, "lock not released in time");
                    return Err(TusError::Locked);
                }
            },
            None => locking.await,
        };
        locked.map_err(|error| match error {
            LockError::Busy => TusError::Locked,
            LockError::Backend(error) => {
                tracing::error!(%id, %error, "the locker failed; refusing the request (fail closed)");
                TusError::LockUnavailable(error)
            }
        })
    }

    /// `Upload-Expires` for an upload that is unfinished after a write now.
    fn expiry_after_write(&self, size: UploadSize, offset: u64, kind: &UploadKind) -> Option<SystemTime> {
        let lifetime = self.inner.policy.expire_after?;
        let finished = size.known() == Some(offset) || matches!(kind, UploadKind::Final(_));
        (!finished).then(|| self.now().checked_add(lifetime)).flatten()
    }

    async fn head(&self, cx: &HookContext, id: &UploadId) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        // Taking the lock stops a PATCH in flight, so the offset is the true one.
        let lock = self.lock(id).await?;
        let mut info = inner.store.info(id).await?;
        drop(lock);
        check_alive(&info, &inner.policy, self.now())?;
        if matches!(info.kind, UploadKind::Final(_))
            && !info.is_complete()
            && let Some(assembled) = self.try_assemble(cx, id).await?
        {
            info = assembled;
        }
        Ok(response::head(&info, expires_at(&info, &inner.policy)))
    }

    async fn create(
        &self,
        parts: &Parts,
        cx: &Arc<HookContext>,
        request: CreateRequest,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        let (size, body_limit, partial, verify) = match plan_creation(&request, &inner.policy, &inner.config.base_path)?
        {
            CreationPlan::Final(references) => return self.create_final(parts, cx, request.metadata, references).await,
            CreationPlan::Upload {
                size,
                body_limit,
                partial,
                verify,
            } => (size, body_limit, partial, verify),
        };
        let (id, metadata) = self.pre_create(cx, request.metadata, size, false).await?;
        let kind = if partial {
            UploadKind::Partial
        } else {
            UploadKind::Single
        };
        let upload = NewUpload {
            id,
            size,
            metadata,
            kind: kind.clone(),
            created_at: self.now(),
        };
        let info = inner.store.create(upload).await?;
        let location = inner.config.location.location(parts, &inner.config.base_path, &info.id);
        tracing::info!(id = %info.id, location = ?location, size = ?info.size, "upload created");
        self.created(cx, &info).await;
        let offset = match body_limit {
            Some(limit) => {
                let write = Write {
                    id: &info.id,
                    kind: &kind,
                    offset: 0,
                    size,
                    limit,
                    content_length: request.content_length,
                    release: None,
                };
                match self.write(cx, write, verify.as_ref(), body).await {
                    Ok(offset) => offset,
                    Err(error) => {
                        self.finish_after_failed_write(cx, &info.id, false).await;
                        return Err(error);
                    }
                }
            }
            None => 0,
        };
        let finish = if size.known() == Some(offset) {
            Some(self.finished(cx, &info.id).await?)
        } else {
            None
        };
        let mut response = response::created(location, Some(offset), self.expiry_after_write(size, offset, &kind));
        if let Some(finish) = &finish {
            lifecycle::apply(finish, response.headers_mut());
        }
        Ok(response)
    }

    async fn append(
        &self,
        cx: &Arc<HookContext>,
        request: AppendRequest,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        let lock = self.lock(&request.id).await?;
        let info = inner.store.info(&request.id).await?;
        let plan = plan_append(&info, &request, &inner.policy, self.now())?;
        let size = plan.declare_length.map_or(info.size, UploadSize::Known);
        let write = Write {
            id: &request.id,
            kind: &info.kind,
            offset: request.offset,
            size,
            limit: plan.body_limit,
            content_length: request.content_length,
            release: Some(lock.release_requested()),
        };
        let mut written = self.write(cx, write, plan.verify.as_ref(), body).await;
        // Only once the body is in: a refused PATCH (checksum mismatch, body
        // too long, interrupted) leaves the length deferred, as it found it.
        if let (Ok(_), Some(length)) = (&written, plan.declare_length)
            && let Err(error) = inner.store.declare_length(&request.id, length).await
        {
            written = Err(error.into());
        }
        drop(lock);
        let offset = match written {
            Ok(offset) => offset,
            Err(error) => {
                self.finish_after_failed_write(cx, &request.id, info.is_complete())
                    .await;
                return Err(error);
            }
        };
        let finish = if size.known() == Some(offset) && !info.is_complete() {
            Some(self.finished(cx, &request.id).await)
        } else {
            None
        };
        if info.kind == UploadKind::Partial && size.known() == Some(offset) {
            self.assemble_waiting_finals(cx, &request.id).await;
        }
        let mut response = response::appended(offset, self.expiry_after_write(size, offset, &info.kind));
        if let Some(finish) = finish {
            lifecycle::apply(&finish?, response.headers_mut());
        }
        Ok(response)
    }

    /// Streams `body` into the store and returns the new offset. With a
    /// verification, the append is staged and kept only if the digest matches.
    async fn write(
        &self,
        cx: &Arc<HookContext>,
        write: Write<'_>,
        verify: Option<&Verification>,
        body: RequestBody,
    ) -> Result<u64, TusError> {
        let store = &self.inner.store;
        let Write { id, offset, size, .. } = write;
        if verify.is_none() && (write.content_length == Some(0) || body.is_end_stream()) {
            return Ok(offset);
        }
        let staged = verify.is_some();
        let interrupts = Interrupts {
            release: write.release.clone(),
            shutdown: Some(self.inner.shutdown.signal()),
            idle: self.inner.timer.clone().zip(self.inner.config.body_idle_timeout),
        };
        let (stream, outcome) = capped_stream(body, write.limit, verify.map(BodyDigest::new), interrupts);
        let (stream, stop) = self.observe(cx, stream, id, offset, size);
        let appended = if staged {
            let verdict_outcome = outcome.clone();
            store
                .append_staged(id, offset, stream, Box::new(move || verdict_outcome.accepted()))
                .await
        } else {
            store.append(id, offset, stream).await
        };
        let new_offset = appended.map_err(|error| match error {
            StoreError::OffsetMismatch { current } => TusError::MismatchedOffset {
                expected: current,
                provided: offset,
            },
            other => other.into(),
        });
        if let Some(rejection) = stop.take() {
            return Err(rejection.into());
        }
        let new_offset = new_offset?;
        match outcome.take_end() {
            Some(BodyEnd::TooLong) => return Err(exceeded(size, &self.inner.policy)),
            Some(BodyEnd::Failed(error)) => {
                tracing::info!(%id, offset = new_offset, %error, "request body interrupted; received bytes kept unless staged");
                return Err(TusError::BodyInterrupted);
            }
            Some(BodyEnd::Stopped(reason)) => {
                tracing::info!(%id, offset = new_offset, ?reason, "request body stopped; received bytes kept unless staged");
                return Err(match reason {
                    StopReason::Stolen => TusError::InterruptedByRequest,
                    StopReason::ShuttingDown => TusError::ShuttingDown,
                    StopReason::Idle => TusError::BodyIdleTimeout,
                });
            }
            Some(BodyEnd::Complete) | None => {}
        }
        if staged {
            match outcome.digest() {
                Some(DigestCheck::Match) => {}
                Some(DigestCheck::MissingTrailer) => return Err(TusError::ChecksumTrailerMissing),
                Some(DigestCheck::Mismatch) | None => return Err(TusError::ChecksumMismatch),
            }
        }
        if size.known() == Some(new_offset) {
            tracing::info!(%id, size = new_offset, partial = (*write.kind == UploadKind::Partial), "upload finished");
        }
        Ok(new_offset)
    }

    async fn terminate(&self, cx: &HookContext, id: &UploadId) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        if !inner.policy.supports(Extension::Termination) {
            return Err(TusError::ExtensionNotSupported(Extension::Termination));
        }
        let lock = self.lock(id).await?;
        self.pre_terminate(cx, id).await?;
        inner.store.terminate(id).await?;
        drop(lock);
        tracing::info!(%id, "upload terminated");
        self.terminated(cx, id).await;
        Ok(response::terminated())
    }

    async fn download(&self, cx: &HookContext, request: DownloadRequest) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        if !inner.config.download {
            return Err(TusError::MethodNotAllowed);
        }
        let mut info = inner.store.info(&request.id).await?;
        if matches!(info.kind, UploadKind::Final(_))
            && !info.is_complete()
            && let Some(assembled) = self.try_assemble(cx, &request.id).await?
        {
            info = assembled;
        }
        if !info.is_complete() {
            return Err(TusError::UploadNotComplete);
        }
        let length = info.offset;
        let range = resolve_range(request.range.as_ref(), length)?;
        let (status, headers) = download_head(&info.metadata, length, range.as_ref());
        let range = range.unwrap_or(0..length);
        let body = if range.is_empty() {
            ResponseBody::empty()
        } else {
            ResponseBody::stream(
                inner.store.read(&request.id, range.clone()).await?,
                range.end - range.start,
            )
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// The upload's state, or `Gone` if it expired.
    pub(super) async fn live_info(&self, id: &UploadId) -> Result<UploadInfo, TusError> {
        let info = self.inner.store.info(id).await?;
        check_alive(&info, &self.inner.policy, self.now())?;
        Ok(info)
    }
}

/// Where and how much one write may append.
#[derive(Debug, Clone)]
struct Write<'a> {
    id: &'a UploadId,
    kind: &'a UploadKind,
    offset: u64,
    size: UploadSize,
    limit: u64,
    content_length: Option<u64>,
    /// The lock holder's release request, when the write holds a lock.
    release: Option<ReleaseRequested>,
}

fn log_error(parts: &Parts, error: &TusError) {
    if error.status().is_server_error() {
        let source = std::error::Error::source(error).map(ToString::to_string);
        tracing::error!(method = %parts.method, path = parts.uri.path(), code = error.code(), ?source, "request failed");
    } else {
        tracing::debug!(method = %parts.method, path = parts.uri.path(), code = error.code(), "request refused");
    }
}
