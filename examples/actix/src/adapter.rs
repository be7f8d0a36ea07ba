//! The actix-web adapter: converts an actix request into an
//! `http::Request<RequestBody>`, lets [`TusHandler`] answer it, and converts
//! the answer back. Conversions only: every tus decision is the handler's.
//! Self-contained (actix-web, actix-http, tus-rs-server, `http`,
//! `http-body-util`, `futures`, `bytes`, `tracing`): copy it into an app to
//! embed tus-rs-server.
//!
//! actix-web 4 speaks `http` 0.2 and its payload is not `Send`, so headers
//! are copied by bytes and the body is pumped through a bounded channel
//! (one chunk in flight: backpressure reaches the client).

use std::io;

use actix_web::body::{BodyStream, BoxBody, None as NoBody, SizedStream};
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

    /// actix-http's expect service: called for a request with `Expect:
    /// 100-continue` before `100 Continue` is sent. A request head that the
    /// handler refuses before reading a body ([`TusHandler::precheck`],
    /// e.g. a creation over `Tus-Max-Size`) gets its final answer instead,
    /// so the client never sends the body; any other goes on.
    pub(crate) fn expect_continue(&self, request: actix_http::Request) -> Result<actix_http::Request, Refusal> {
        let head = request.head();
        let Ok(parts) = head_to_http(&head.method, &head.uri, &head.headers).body(()) else {
            return Ok(request);
        };
        let (parts, ()) = parts.into_parts();
        let Some(response) = self.handler.precheck(&parts) else {
            return Ok(request);
        };
        tracing::debug!(method = %parts.method, path = parts.uri.path(), status = response.status().as_u16(), "refused before 100 Continue");
        Err(Refusal(from_http(response, parts.method == http::Method::HEAD).into()))
    }

    fn to_http(&self, request: &HttpRequest, payload: web::Payload) -> Result<http::Request<RequestBody>, http::Error> {
        let mut builder = head_to_http(request.method(), request.uri(), request.headers());
        if let Some(extensions) = builder.extensions_mut() {
            let from = request.extensions();
            for forward in &self.forwards {
                forward(&from, extensions);
            }
        }
        builder.body(pump(payload))
    }
}

/// The final answer to a request whose `Expect: 100-continue` is refused.
#[derive(Debug)]
pub(crate) struct Refusal(pub(crate) actix_http::Response<BoxBody>);

impl From<Refusal> for actix_http::Response<BoxBody> {
    fn from(refusal: Refusal) -> Self {
        refusal.0
    }
}

/// An actix request head (`http` 0.2 types) as an `http` 1 request builder.
fn head_to_http(
    method: &actix_web::http::Method,
    uri: &actix_web::http::Uri,
    headers: &actix_web::http::header::HeaderMap,
) -> http::request::Builder {
    let mut builder = http::Request::builder().method(method.as_str()).uri(uri.to_string());
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_bytes());
    }
    builder
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
