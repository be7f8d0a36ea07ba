//! Moving one request and its answer: the [`Transport`] trait, and the
//! default implementation over reqwest (rustls, HTTP/1.1 and HTTP/2), with
//! a direct HTTP/1.1 path for requests that want interim responses
//! ([`InterimResponses`], see [`direct`](crate::direct)).
//!
//! reqwest's types stay here: the rest of the crate speaks `http`.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use http::{HeaderMap, HeaderValue, StatusCode};
use tus_core::client::TransportFailure;

use crate::body::RequestBody;
use crate::direct::Direct;
use crate::error::Error;
use crate::tls;

/// The most of an answer's body kept (to explain a refusal).
pub const MAX_ANSWER_BODY: usize = 4096;

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TransportError {
    /// The kind, for the retry decision.
    pub failure: TransportFailure,
    /// The server's certificate was refused: retrying cannot help.
    pub tls: bool,
    /// What happened, for people.
    pub message: String,
}

impl TransportError {
    /// A failure of `failure`'s kind.
    pub fn new(failure: TransportFailure, message: impl Into<String>) -> Self {
        Self {
            failure,
            tls: false,
            message: message.into(),
        }
    }
}

/// Receives the interim (1xx) responses of the request that carries it in
/// its extensions: the IETF draft's `104 (Upload Resumption Supported)`
/// names an upload while its creation is still sending. A [`Transport`]
/// that can see interim responses calls it for each, as it arrives; one
/// that cannot ignores it (the upload then learns its URL from the final
/// answer).
#[derive(Clone)]
pub struct InterimResponses(Arc<dyn Fn(StatusCode, &HeaderMap) + Send + Sync>);

impl InterimResponses {
    /// Calls `receive` with each interim response's status and headers.
    pub fn new(receive: impl Fn(StatusCode, &HeaderMap) + Send + Sync + 'static) -> Self {
        Self(Arc::new(receive))
    }

    /// Reports one interim response.
    pub fn call(&self, status: StatusCode, headers: &HeaderMap) {
        (self.0)(status, headers);
    }
}

impl fmt::Debug for InterimResponses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InterimResponses").finish_non_exhaustive()
    }
}

/// Sends requests. Implement it to use another HTTP stack; the answer's
/// body is read up to [`MAX_ANSWER_BODY`] bytes (tus answers carry at most
/// a short reason). A request may carry [`InterimResponses`] in its
/// extensions.
pub trait Transport: fmt::Debug + Send + Sync + 'static {
    /// Sends `request` and returns the answer.
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>>;

    /// Whether HTTP/1.1 request trailers reach the server (checksum-trailer).
    fn supports_trailers(&self) -> bool {
        false
    }
}

/// TLS and network settings of the default transport.
#[derive(Debug, Clone, Default)]
pub struct NetworkOptions {
    /// PEM files of extra CA certificates to trust (added to the system's).
    pub ca_certificates: Vec<PathBuf>,
    /// Accept any certificate (self-signed, expired, wrong host). For
    /// development only.
    pub insecure: bool,
    /// A proxy for every request (`http://`, `https://` or `socks5://` URL);
    /// without it, `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` apply.
    pub proxy: Option<String>,
    /// Ignore proxies, including the environment's.
    pub no_proxy: bool,
    /// Time allowed to connect (TCP and TLS).
    pub connect_timeout: Option<Duration>,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
}

/// The default [`Transport`]: reqwest with rustls.
///
/// After an error answer to a request that carried a body, its connections
/// are dropped and new ones made: servers disagree on what such a
/// connection is worth (rustus reads the rest of a refused body, then
/// never answers the next request on that connection).
///
/// A request carrying [`InterimResponses`] goes over a direct HTTP/1.1
/// connection instead, which reports interim responses (reqwest drops
/// them); not behind a proxy, and not with a caller's reqwest client.
#[derive(Debug, Clone)]
pub struct ReqwestTransport {
    client: Arc<Mutex<reqwest::Client>>,
    /// How to build a fresh client; `None` for a caller's client.
    options: Option<NetworkOptions>,
    /// The path for interim responses, where there is one.
    direct: Option<Direct>,
}

impl ReqwestTransport {
    /// Builds a reqwest client from `options`: rustls with the system's
    /// roots plus the extra CA certificates, no redirects (a tus server
    /// does not redirect, and a redirected POST would lose its body).
    pub fn new(options: &NetworkOptions) -> Result<Self, Error> {
        let direct = if proxied(options) {
            None
        } else {
            let user_agent = HeaderValue::from_str(&user_agent(options))
                .map_err(|error| Error::Config(format!("User-Agent: {error}")))?;
            Some(Direct::new(
                tls::client_config(options, tls::ALPN_HTTP1)?,
                connect_timeout(options),
                user_agent,
            ))
        };
        Ok(Self {
            client: Arc::new(Mutex::new(Self::build(options)?)),
            options: Some(options.clone()),
            direct,
        })
    }

    fn build(options: &NetworkOptions) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout(options))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(user_agent(options))
            .tls_backend_preconfigured(tls::client_config(options, tls::ALPN_ANY)?);
        if options.no_proxy {
            builder = builder.no_proxy();
        } else if let Some(proxy) = &options.proxy {
            let proxy = reqwest::Proxy::all(proxy).map_err(|error| Error::Config(format!("proxy {proxy}: {error}")))?;
            builder = builder.proxy(proxy);
        }
        builder
            .build()
            .map_err(|error| Error::Config(format!("HTTP client: {}", chain(&error))))
    }

    /// Uses a caller's reqwest client as it is (its TLS, proxy, timeout and
    /// redirect settings; turn redirects off). Its connections are kept
    /// after error answers.
    pub fn from_reqwest(client: reqwest::Client) -> Self {
        Self {
            client: Arc::new(Mutex::new(client)),
            options: None,
            direct: None,
        }
    }

    fn client(&self) -> reqwest::Client {
        self.client.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// New connections from now on (the old pool goes with its last request).
    fn renew(&self) {
        if let Some(Ok(fresh)) = self.options.as_ref().map(Self::build) {
            *self.client.lock().unwrap_or_else(PoisonError::into_inner) = fresh;
        }
    }
}

impl Transport for ReqwestTransport {
    fn send(
        &self,
        request: http::Request<RequestBody>,
    ) -> BoxFuture<'static, Result<http::Response<Bytes>, TransportError>> {
        if let (Some(direct), Some(interim)) = (&self.direct, request.extensions().get::<InterimResponses>()) {
            let (direct, interim) = (direct.clone(), interim.clone());
            return Box::pin(async move { direct.send(request, interim).await });
        }
        let client = self.client();
        let transport = self.clone();
        let with_body = !http_body::Body::is_end_stream(request.body());
        Box::pin(async move {
            let request = reqwest::Request::try_from(request.map(reqwest::Body::wrap))
                .map_err(|error| TransportError::new(TransportFailure::Io, chain(&error)))?;
            let mut response = client.execute(request).await.map_err(|error| classify(&error))?;
            let status = response.status();
            if with_body && !status.is_success() {
                transport.renew();
            }
            let headers = std::mem::take(response.headers_mut());
            let mut body = BytesMut::new();
            while body.len() < MAX_ANSWER_BODY {
                match response.chunk().await {
                    Ok(Some(chunk)) => keep_answer_bytes(&mut body, &chunk),
                    // The head is what matters; a body cut short is not a failure.
                    Ok(None) | Err(_) => break,
                }
            }
            let mut answer = http::Response::new(body.freeze());
            *answer.status_mut() = status;
            *answer.headers_mut() = headers;
            Ok(answer)
        })
    }

    fn supports_trailers(&self) -> bool {
        true
    }
}

fn user_agent(options: &NetworkOptions) -> String {
    options
        .user_agent
        .clone()
        .unwrap_or_else(|| concat!("tus-client/", env!("CARGO_PKG_VERSION")).to_owned())
}

fn connect_timeout(options: &NetworkOptions) -> Duration {
    options.connect_timeout.unwrap_or(Duration::from_secs(30))
}

/// Whether requests may go through a proxy: an explicit one, or one from
/// the environment (reqwest reads `HTTP(S)_PROXY`/`ALL_PROXY`; whether
/// `NO_PROXY` exempts a host is reqwest's business, so any is enough).
fn proxied(options: &NetworkOptions) -> bool {
    if options.no_proxy {
        return false;
    }
    options.proxy.is_some()
        || ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"].iter().any(|name| {
            [name.to_string(), name.to_ascii_lowercase()]
                .iter()
                .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
        })
}

/// Sorts a reqwest error into the retry table's kinds, and spots refused
/// certificates.
fn classify(error: &reqwest::Error) -> TransportError {
    let message = chain(error);
    let failure = if error.is_timeout() {
        TransportFailure::Timeout
    } else if error.is_connect() {
        TransportFailure::Connect
    } else {
        TransportFailure::Io
    };
    TransportError {
        failure,
        tls: is_certificate_error(error),
        message,
    }
}

pub(crate) fn is_certificate_error(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = current {
        if let Some(rustls_error) = error.downcast_ref::<rustls::Error>() {
            return matches!(
                rustls_error,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_certificate_error(inner)
        {
            return true;
        }
        current = error.source();
    }
    false
}

/// Appends to `body` as much of `chunk` as fits in [`MAX_ANSWER_BODY`].
pub(crate) fn keep_answer_bytes(body: &mut BytesMut, chunk: &[u8]) {
    let room = MAX_ANSWER_BODY.saturating_sub(body.len());
    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
}

/// An error and its sources on one line.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(error) = source {
        let part = error.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = error.source();
    }
    text
}
