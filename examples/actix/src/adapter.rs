//! The actix-web adapter: converts an actix request into an
//! `http::Request<RequestBody>`, lets [`TusHandler`] answer it, and converts
//! the answer back. Conversions only: every tus decision is tus-core's.
//!
//! actix-web 4 speaks `http` 0.2 and its payload is not `Send`, so headers
//! are copied by bytes and the body is pumped through a bounded channel
//! (one chunk in flight: backpressure reaches the client).

use std::io;

use actix_web::body::{BodyStream, None as NoBody, SizedStream};
use actix_web::dev::Extensions as ActixExtensions;
use actix_web::http::StatusCode as ActixStatus;
use actix_web::http::header::{HeaderName as ActixName, HeaderValue as ActixValue};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures::{SinkExt as _, StreamExt as _};
use http::header::CONTENT_LENGTH;
use http_body_util::BodyExt as _;
use tus_server::TusHandler;
use tus_server::{RequestBody, ResponseBody};

type Forward = fn(&ActixExtensions, &mut http::Extensions);

/// A [`TusHandler`] served by actix-web: register [`TusActix::serve`] as a
/// scope's default service, with the `TusActix` as app data.
#[derive(Clone)]
pub(crate) struct TusActix {
    handler: TusHandler,
    forwards: Vec<Forward>,
}

impl std::fmt::Debug for TusActix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusActix")
            .field("handler", &self.handler)
            .field("forwarded_extensions", &self.forwards.len())
            .finish()
    }
}

impl TusActix {
    /// Serves `handler`.
    pub(crate) fn new(handler: TusHandler) -> Self {
        Self {
            handler,
            forwards: Vec::new(),
        }
    }

    /// Copies a `T` that middleware put into the actix request extensions
    /// into the `http` extensions the tus hooks see (e.g. the
    /// authenticated user).
    pub(crate) fn forward_extension<T: Clone + Send + Sync + 'static>(mut self) -> Self {
        self.forwards.push(|from, to| {
            if let Some(value) = from.get::<T>() {
                to.insert(value.clone());
            }
        });
        self
    }

    /// The actix handler: `web::scope("/files").default_service(web::to(TusActix::serve))`.
    pub(crate) async fn serve(tus: web::Data<TusActix>, request: HttpRequest, payload: web::Payload) -> HttpResponse {
        let request = match tus.to_http(&request, payload) {
            Ok(request) => request,
            // actix already parsed these, so they convert; should they not,
            // the request never reaches the protocol.
            Err(error) => {
                tracing::warn!(%error, "request could not be converted");
                return HttpResponse::BadRequest().finish();
            }
        };
        let is_head = request.method() == http::Method::HEAD;
        from_http(tus.handler.handle(request).await, is_head)
    }

    fn to_http(&self, request: &HttpRequest, payload: web::Payload) -> Result<http::Request<RequestBody>, http::Error> {
        let mut builder = http::Request::builder()
            .method(http::Method::from_bytes(request.method().as_str().as_bytes())?)
            .uri(request.uri().to_string());
        for (name, value) in request.headers() {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
        if let Some(extensions) = builder.extensions_mut() {
            let from = request.extensions();
            for forward in &self.forwards {
                forward(&from, extensions);
            }
        }
        builder.body(pump(payload))
    }
}

/// The payload as a `Send` body: a local task feeds it into a channel.
fn pump(mut payload: web::Payload) -> RequestBody {
    let (mut sender, receiver) = futures::channel::mpsc::channel::<io::Result<Bytes>>(0);
    actix_web::rt::spawn(async move {
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|error| io::Error::other(error.to_string()));
            let failed = chunk.is_err();
            // The handler stopped reading (answered early): stop pumping.
            if sender.send(chunk).await.is_err() || failed {
                break;
            }
        }
    });
    RequestBody::from_stream(receiver)
}

fn from_http(response: http::Response<ResponseBody>, is_head: bool) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = ActixStatus::from_u16(parts.status.as_u16()).unwrap_or(ActixStatus::INTERNAL_SERVER_ERROR);
    let mut builder = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        // With a sized body actix writes Content-Length itself.
        if name == CONTENT_LENGTH && !is_head {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            ActixName::from_bytes(name.as_str().as_bytes()),
            ActixValue::from_bytes(value.as_bytes()),
        ) {
            builder.append_header((name, value));
        }
    }
    if is_head {
        // No body; the headers (Content-Length of a download included) pass as they are.
        return builder.body(NoBody::new());
    }
    let size = http_body::Body::size_hint(&body).exact();
    let stream = body.into_data_stream();
    match size {
        Some(size) => builder.body(SizedStream::new(size, stream)),
        None => builder.body(BodyStream::new(stream)),
    }
}
