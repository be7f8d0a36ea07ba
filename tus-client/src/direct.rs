//! One request over its own HTTP/1.1 connection, reporting interim (1xx)
//! responses as they arrive: how the IETF draft's `104 (Upload Resumption
//! Supported)` reaches the upload machine while a creation's content is
//! still being sent.
//!
//! reqwest has no API for interim responses: hyper reports them to a
//! callback in the request's extensions (`hyper::ext::on_informational`),
//! but reqwest builds hyper's request afresh, without the caller's
//! extensions. So a request that wants them (it carries
//! [`InterimResponses`]) is sent here instead, with hyper's HTTP/1.1 client
//! over a TCP (and rustls) connection made for it, with the same TLS
//! settings and connect timeout as reqwest's, and closed after its answer.
//! Behind a proxy (explicit or from the environment) requests stay with
//! reqwest, and interim responses are not seen.
//!
//! ```text
//!   connect (TCP, TLS: ALPN http/1.1) ─▶ hyper http1 handshake ─▶ send (origin-form, Host)
//!        104 ─▶ InterimResponses callback (the machine records the URL at once)
//!        final answer ─▶ the first MAX_ANSWER_BODY bytes of its body ─▶ connection closed
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{HOST, USER_AGENT};
use http::{HeaderValue, Uri};
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tus_core::client::TransportFailure;

use crate::body::RequestBody;
use crate::transport::{
    InterimResponses, MAX_ANSWER_BODY, TransportError, chain, is_certificate_error, keep_answer_bytes,
};

/// A socket, plain or TLS.
trait Socket: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Socket for T {}

/// Sends requests that want interim responses (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct Direct {
    tls: Arc<ClientConfig>,
    connect_timeout: Duration,
    user_agent: HeaderValue,
}

impl Direct {
    pub(crate) fn new(tls: ClientConfig, connect_timeout: Duration, user_agent: HeaderValue) -> Self {
        Self {
            tls: Arc::new(tls),
            connect_timeout,
            user_agent,
        }
    }

    /// Sends `request`, calling `interim` with each interim response.
    pub(crate) async fn send(
        &self,
        mut request: http::Request<RequestBody>,
        interim: InterimResponses,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let uri = request.uri().clone();
        let socket = self.connect(&uri).await?;
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake::<_, RequestBody>(TokioIo::new(socket))
            .await
            .map_err(|error| TransportError::new(TransportFailure::Io, chain(&error)))?;
        // Ends with the answer, or when dropped (the caller gave up).
        let connection = AbortOnDrop(tokio::spawn(async move {
            let _ = connection.await;
        }));
        let headers = request.headers_mut();
        if let Some(authority) = uri.authority()
            && !headers.contains_key(HOST)
            && let Ok(host) = HeaderValue::from_str(authority.as_str().rsplit('@').next().unwrap_or_default())
        {
            headers.insert(HOST, host);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, self.user_agent.clone());
        }
        // HTTP/1.1 to an origin server: the request target is the path.
        let origin_form = uri.path_and_query().map_or("/", |path| path.as_str());
        *request.uri_mut() = origin_form
            .parse()
            .map_err(|_| TransportError::new(TransportFailure::Io, format!("no request target in {uri}")))?;
        hyper::ext::on_informational(&mut request, move |response| {
            interim.call(response.status(), response.headers());
        });
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| TransportError::new(TransportFailure::Io, chain(&error)))?;
        let (parts, mut incoming) = response.into_parts();
        let mut body = BytesMut::new();
        while body.len() < MAX_ANSWER_BODY {
            match incoming.frame().await {
                Some(Ok(frame)) => {
                    if let Some(chunk) = frame.data_ref() {
                        keep_answer_bytes(&mut body, chunk);
                    }
                }
                // The head is what matters; a body cut short is not a failure.
                Some(Err(_)) | None => break,
            }
        }
        drop(connection);
        Ok(http::Response::from_parts(parts, body.freeze()))
    }

    async fn connect(&self, uri: &Uri) -> Result<Box<dyn Socket>, TransportError> {
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let host = uri
            .host()
            .ok_or_else(|| TransportError::new(TransportFailure::Connect, format!("no host in {uri}")))?;
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        // `[::1]` in a URL is `::1` to the resolver and to TLS.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let connect = async {
            let tcp = TcpStream::connect((host, port)).await.map_err(|error| {
                TransportError::new(
                    TransportFailure::Connect,
                    format!("connecting to {host}:{port}: {error}"),
                )
            })?;
            let _ = tcp.set_nodelay(true);
            if !https {
                return Ok(Box::new(tcp) as Box<dyn Socket>);
            }
            let name = ServerName::try_from(host.to_owned())
                .map_err(|error| TransportError::new(TransportFailure::Connect, format!("TLS name {host}: {error}")))?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|error| TransportError {
                    failure: TransportFailure::Connect,
                    tls: is_certificate_error(&error),
                    message: format!("TLS with {host}:{port}: {}", chain(&error)),
                })?;
            Ok(Box::new(tls) as Box<dyn Socket>)
        };
        tokio::time::timeout(self.connect_timeout, connect).await.map_err(|_| {
            TransportError::new(
                TransportFailure::Timeout,
                format!(
                    "connecting to {host}:{port}: no connection within {:?}",
                    self.connect_timeout
                ),
            )
        })?
    }
}

/// Stops the connection task when the exchange ends, however it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
