//! [`TusHandler`] as a `tower::Service`, so any tower framework mounts it.

use std::convert::Infallible;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use http::{Request, Response};

use tus_core::store::BoxError;

use super::body::{RequestBody, ResponseBody};
use super::handler::TusHandler;

/// A `tower::Service` answering tus requests.
///
/// ```
/// # use std::sync::Arc;
/// # use tus_server::{TusHandler, store::MemoryStore};
/// let service = TusHandler::builder(Arc::new(MemoryStore::new())).build().into_service();
/// // axum::Router::new().nest_service("/files", service)
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct TusService {
    handler: TusHandler,
}

impl TusService {
    /// Wraps a handler.
    pub fn new(handler: TusHandler) -> Self {
        Self { handler }
    }
}

impl<B> tower_service::Service<Request<B>> for TusService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let handler = self.handler.clone();
        Box::pin(async move { Ok(handler.handle(request.map(RequestBody::new)).await) })
    }
}

impl TusHandler {
    /// A `tower::Service` over this handler.
    pub fn into_service(self) -> TusService {
        TusService::new(self)
    }
}
