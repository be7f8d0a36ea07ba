//! The driver: parse, load state, lock, stream the body into the store, answer.

use std::sync::Arc;

use http::header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use http::request::Parts;
use http::{HeaderValue, Method, Request, Response};
use http_body::Body as _;

use super::config::{Clock, Config, TusHandlerBuilder, policy};
use super::ingest::{BodyEnd, capped_stream};
use super::lock::{LockError, Locker};
use super::service::TusService;
use crate::body::{RequestBody, ResponseBody};
use crate::proto::cors::CorsRequest;
use crate::proto::decide::{Policy, exceeded, plan_append, plan_creation};
use crate::proto::download::{download_head, resolve_range};
use crate::proto::error::TusError;
use crate::proto::headers::Extension;
use crate::proto::request::{AppendRequest, CreateRequest, DownloadRequest, TusRequest, effective_method};
use crate::proto::response;
use crate::store::{IdGenerator, NewUpload, Store, StoreError, UploadId, UploadKind, UploadSize};

/// A tus server: give it requests, get responses. Cheap to clone.
///
/// It is runtime-agnostic: it awaits only the store, the locker and the body.
/// Mount it with [`TusHandler::into_service`] (any `tower` framework) or call
/// [`TusHandler::handle`] from an adapter.
#[derive(Clone)]
pub struct TusHandler {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    locker: Arc<dyn Locker>,
    ids: Arc<dyn IdGenerator>,
    clock: Arc<dyn Clock>,
    config: Config,
    policy: Policy,
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
        Self {
            inner: Arc::new(Inner {
                store: builder.store,
                locker: builder.locker,
                ids: builder.ids,
                clock: builder.clock,
                config: builder.config,
                policy,
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

    /// A `tower::Service` over this handler.
    pub fn into_service(self) -> TusService {
        TusService::new(self)
    }

    /// Answers one request. Never fails: errors become 4xx/5xx responses with
    /// a plain-text reason, and every response carries `Tus-Resumable`.
    pub async fn handle(&self, request: Request<RequestBody>) -> Response<ResponseBody> {
        let (parts, body) = request.into_parts();
        let cors = self.inner.config.cors.classify(&parts.method, &parts.headers);
        let method = effective_method(&parts.method, &parts.headers).unwrap_or_else(|_| parts.method.clone());
        let result = match &cors {
            Err(_) => Err(TusError::OriginNotAllowed),
            Ok(CorsRequest::Preflight(_)) => Ok(self.discovery()),
            Ok(_) => self.dispatch(&parts, body).await,
        };
        let mut response = result.unwrap_or_else(|error| {
            log_error(&parts, &error);
            response::error(&error)
        });
        let headers = response.headers_mut();
        response::add_tus_resumable(headers);
        headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        if let Ok(cors) = &cors {
            self.inner.config.cors.apply(cors, headers);
        }
        if method == Method::HEAD {
            *response.body_mut() = ResponseBody::empty();
            response.headers_mut().remove(CONTENT_TYPE);
        }
        response
    }

    async fn dispatch(&self, parts: &Parts, body: RequestBody) -> Result<Response<ResponseBody>, TusError> {
        let method = effective_method(&parts.method, &parts.headers)?;
        let config = &self.inner.config;
        match TusRequest::parse(&method, parts.uri.path(), &parts.headers, &config.base_path)? {
            TusRequest::Options => Ok(self.discovery()),
            TusRequest::Create(request) => self.create(parts, request, body).await,
            TusRequest::Head(id) => Ok(response::head(&self.inner.store.info(&id).await?)),
            TusRequest::Append(request) => self.append(request, body).await,
            TusRequest::Terminate(id) => self.terminate(&id).await,
            TusRequest::Download(request) => self.download(request).await,
        }
    }

    fn discovery(&self) -> Response<ResponseBody> {
        response::discovery(&self.inner.policy, &[])
    }

    async fn create(
        &self,
        parts: &Parts,
        request: CreateRequest,
        body: RequestBody,
    ) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        let plan = plan_creation(&request, &inner.policy)?;
        let id = inner.ids.generate().map_err(|_| TusError::IdGeneration)?;
        let kind = match request.concat {
            Some(_) => return Err(TusError::ExtensionNotSupported(Extension::Concatenation)),
            None => UploadKind::Single,
        };
        let upload = NewUpload {
            id,
            size: plan.size,
            metadata: request.metadata,
            kind,
            created_at: inner.clock.now(),
        };
        let info = inner.store.create(upload).await?;
        let location = inner.config.location.location(parts, &inner.config.base_path, &info.id);
        tracing::info!(id = %info.id, location = ?location, size = ?info.size, "upload created");
        let offset = match plan.body_limit {
            Some(limit) => {
                self.write(&info.id, 0, plan.size, limit, request.content_length, body)
                    .await?
            }
            None => 0,
        };
        Ok(response::created(location, offset))
    }

    async fn append(&self, request: AppendRequest, body: RequestBody) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        let _lock = inner
            .locker
            .lock(&request.id)
            .await
            .map_err(|LockError::Busy| TusError::Locked)?;
        let info = inner.store.info(&request.id).await?;
        let plan = plan_append(&info, &request, &inner.policy)?;
        if let Some(length) = plan.declare_length {
            inner.store.declare_length(&request.id, length).await?;
        }
        let size = plan.declare_length.map_or(info.size, UploadSize::Known);
        let offset = self
            .write(
                &request.id,
                request.offset,
                size,
                plan.body_limit,
                request.content_length,
                body,
            )
            .await?;
        Ok(response::appended(offset))
    }

    /// Streams `body` into the store at `offset` and returns the new offset.
    async fn write(
        &self,
        id: &UploadId,
        offset: u64,
        size: UploadSize,
        limit: u64,
        content_length: Option<u64>,
        body: RequestBody,
    ) -> Result<u64, TusError> {
        let store = &self.inner.store;
        if content_length == Some(0) || body.is_end_stream() {
            return Ok(offset);
        }
        let (stream, outcome) = capped_stream(body, limit);
        let new_offset = store.append(id, offset, stream).await.map_err(|error| match error {
            StoreError::OffsetMismatch { current } => TusError::MismatchedOffset {
                expected: current,
                provided: offset,
            },
            other => other.into(),
        })?;
        if size.known() == Some(new_offset) {
            tracing::info!(%id, size = new_offset, "upload finished");
        }
        match outcome.take() {
            Some(BodyEnd::Complete) | None => Ok(new_offset),
            Some(BodyEnd::TooLong) => Err(exceeded(size, &self.inner.policy)),
            Some(BodyEnd::Failed(error)) => {
                tracing::info!(%id, offset = new_offset, %error, "request body interrupted; received bytes kept");
                Err(TusError::BodyInterrupted)
            }
        }
    }

    async fn terminate(&self, id: &UploadId) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        if !inner.policy.supports(Extension::Termination) {
            return Err(TusError::ExtensionNotSupported(Extension::Termination));
        }
        let _lock = inner
            .locker
            .lock(id)
            .await
            .map_err(|LockError::Busy| TusError::Locked)?;
        inner.store.terminate(id).await?;
        tracing::info!(%id, "upload terminated");
        Ok(response::terminated())
    }

    async fn download(&self, request: DownloadRequest) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        if !inner.config.download {
            return Err(TusError::MethodNotAllowed);
        }
        let info = inner.store.info(&request.id).await?;
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
}

fn log_error(parts: &Parts, error: &TusError) {
    if error.status().is_server_error() {
        let source = std::error::Error::source(error).map(ToString::to_string);
        tracing::error!(method = %parts.method, path = parts.uri.path(), code = error.code(), ?source, "request failed");
    } else {
        tracing::debug!(method = %parts.method, path = parts.uri.path(), code = error.code(), "request refused");
    }
}
