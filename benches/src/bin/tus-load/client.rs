//! A lean HTTP/1.1 tus client on hyper for the small uploads and the
//! download check: keep-alive connections, response headers read through
//! tus-core's typed headers.

use std::io::{self, Read as _};
use std::path::PathBuf;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, LOCATION};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tus_core::headers::{self, TUS_VERSION_1_0_0, TusResumable, UploadLength, UploadOffset};
use tus_core::server::request::OFFSET_OCTET_STREAM;

/// A request body.
pub(crate) type Body = BoxBody<Bytes, io::Error>;

/// The harness's error type: a message for the report.
pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// Bytes read from the source file per body frame.
const READ_CHUNK: usize = 256 << 10;

/// One keep-alive HTTP/1.1 connection to `addr`.
pub(crate) struct Connection {
    sender: SendRequest<Body>,
    host: HeaderValue,
}

/// What a tus request was answered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) offset: Option<u64>,
    pub(crate) location: Option<String>,
}

impl Connection {
    /// Connects to `addr` (`127.0.0.1:PORT`).
    pub(crate) async fn open(addr: &str) -> Result<Self, Error> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it.
            let _ = connection.await;
        });
        Ok(Self {
            sender,
            host: HeaderValue::from_str(addr)?,
        })
    }

    async fn send(&mut self, method: Method, path: &str, mut headers: HeaderMap, body: Body) -> Result<Answer, Error> {
        headers.insert(HOST, self.host.clone());
        headers::encode(&mut headers, &TusResumable(TUS_VERSION_1_0_0));
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = path.parse()?;
        *request.headers_mut() = headers;
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        let status = response.status();
        let offset = headers::decode::<UploadOffset>(response.headers())
            .map_err(|(kind, error)| format!("{kind:?}: {error}"))?
            .map(|UploadOffset(offset)| offset);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|value| value.to_str().ok())
            .map(path_of);
        // Drain the body so the connection can be reused.
        response.into_body().collect().await?;
        Ok(Answer {
            status,
            offset,
            location,
        })
    }

    /// `POST {collection}` for an upload of `length` bytes, with `body` as
    /// creation-with-upload when given.
    pub(crate) async fn create(&mut self, collection: &str, length: u64, body: Option<Bytes>) -> Result<Answer, Error> {
        let mut headers = HeaderMap::new();
        headers::encode(&mut headers, &UploadLength(length));
        let body = match body {
            Some(bytes) => {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static(OFFSET_OCTET_STREAM));
                headers.insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
                Full::new(bytes).map_err(|never| match never {}).boxed()
            }
            None => {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
                Empty::new().map_err(|never| match never {}).boxed()
            }
        };
        self.send(Method::POST, collection, headers, body).await
    }

    /// `GET {path}`, compared byte for byte with `source`; the number of
    /// bytes that matched before the first difference or the end.
    pub(crate) async fn download_matches(&mut self, path: &str, source: PathBuf) -> Result<u64, Error> {
        let mut request = Request::new(Empty::new().map_err(|never| match never {}).boxed());
        *request.uri_mut() = path.parse()?;
        request.headers_mut().insert(HOST, self.host.clone());
        self.sender.ready().await?;
        let response = self.sender.send_request(request).await?;
        if !response.status().is_success() {
            return Err(format!("GET {path} answered {}", response.status()).into());
        }
        let mut body = response.into_body();
        let mut file = std::fs::File::open(source)?;
        let mut matched = 0u64;
        let mut expected = vec![0u8; READ_CHUNK];
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame?.into_data() else { continue };
            let mut data = &data[..];
            while !data.is_empty() {
                let n = data.len().min(expected.len());
                file.read_exact(&mut expected[..n])?;
                if expected[..n] != data[..n] {
                    return Ok(matched);
                }
                matched += n as u64;
                data = &data[n..];
            }
        }
        let mut rest = [0u8; 1];
        if file.read(&mut rest)? != 0 {
            return Err(format!("GET {path} ended after {matched} bytes, before the source did").into());
        }
        Ok(matched)
    }
}

/// The path of a `Location` (absolute URLs are reduced to their path).
pub(crate) fn path_of(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => rest
            .find('/')
            .map_or_else(|| "/".to_owned(), |slash| rest[slash..].to_owned()),
        None => location.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn locations_become_paths() {
        assert_eq!(path_of("http://127.0.0.1:1080/files/abc"), "/files/abc");
        assert_eq!(path_of("/files/abc"), "/files/abc");
        assert_eq!(path_of("http://host"), "/");
    }
}
