//! Fixtures shared by the criterion benches and the `tus-load` harness:
//! realistic request heads, as a browser client (Uppy / tus-js-client) sends them.
//!
//! Every tus header is written through tus-core's typed headers, so no header
//! name is spelled here.

use http::header::{
    ACCEPT, ACCEPT_ENCODING, ACCEPT_LANGUAGE, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, USER_AGENT,
};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request};
use tus_core::headers::{self, Metadata, TUS_VERSION_1_0_0, TusResumable, UploadLength, UploadOffset};
use tus_core::server::request::OFFSET_OCTET_STREAM;

/// The base path the fixtures use.
pub const BASE_PATH: &str = "/files/";

/// An upload id as the default generator makes them.
pub const UPLOAD_ID: &str = "3c8d2e4f9a1b47c6b0d5e8f7a6c4b2d1";

/// `Upload-Metadata` with `pairs` pairs: the ones Uppy sends first
/// (`filename`, `filetype`, `name`, `type`, `relativePath`), then `meta-N`
/// keys with short values.
pub fn metadata(pairs: usize) -> Metadata {
    const FIRST: [(&str, &str); 5] = [
        ("filename", "holiday photos 2026 (final).jpg"),
        ("filetype", "image/jpeg"),
        ("name", "holiday photos 2026 (final).jpg"),
        ("type", "image/jpeg"),
        ("relativePath", "null"),
    ];
    let mut metadata = Metadata::default();
    for i in 0..pairs {
        let (key, value) = match FIRST.get(i) {
            Some((key, value)) => ((*key).to_owned(), (*value).to_owned()),
            None => (format!("meta-{i}"), format!("value number {i} of a longer tag list")),
        };
        // Keys are distinct, non-empty and space-free by construction.
        metadata.insert(key, value.into_bytes()).unwrap_or_default();
    }
    metadata
}

/// Headers a browser adds to every request, besides the tus ones.
fn browser_headers(headers: &mut HeaderMap) {
    headers.insert(HOST, HeaderValue::from_static("127.0.0.1:1080"));
    headers.insert(
        USER_AGENT,
        HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0"),
    );
    headers.insert(ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_static("en-US,en;q=0.5"));
    headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br, zstd"));
    headers.insert(ORIGIN, HeaderValue::from_static("http://localhost:3000"));
    headers.insert(CONNECTION, HeaderValue::from_static("keep-alive"));
    headers::encode(headers, &TusResumable(TUS_VERSION_1_0_0));
}

fn parts(method: Method, uri: &str, headers: HeaderMap) -> Parts {
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri.parse().unwrap_or_default();
    *request.headers_mut() = headers;
    request.into_parts().0
}

/// A creation request (`POST /files/`) for `length` bytes with `pairs`
/// metadata pairs and no body.
pub fn post(length: u64, pairs: usize) -> Parts {
    let mut headers = HeaderMap::new();
    browser_headers(&mut headers);
    headers::encode(&mut headers, &UploadLength(length));
    headers::encode(&mut headers, &metadata(pairs));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
    parts(Method::POST, BASE_PATH, headers)
}

/// An append request (`PATCH /files/{UPLOAD_ID}`) of `length` bytes at `offset`.
pub fn patch(offset: u64, length: u64) -> Parts {
    let mut headers = HeaderMap::new();
    browser_headers(&mut headers);
    headers::encode(&mut headers, &UploadOffset(offset));
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(OFFSET_OCTET_STREAM));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
    parts(Method::PATCH, &format!("{BASE_PATH}{UPLOAD_ID}"), headers)
}

/// An offset request (`HEAD /files/{UPLOAD_ID}`).
pub fn head() -> Parts {
    let mut headers = HeaderMap::new();
    browser_headers(&mut headers);
    parts(Method::HEAD, &format!("{BASE_PATH}{UPLOAD_ID}"), headers)
}

/// `bytes` cut into frames of `frame` bytes, as hyper hands a body over
/// (the frames share `bytes`: nothing is copied).
pub fn frames(bytes: &bytes::Bytes, frame: usize) -> Vec<bytes::Bytes> {
    let frame = frame.max(1);
    (0..bytes.len())
        .step_by(frame)
        .map(|start| bytes.slice(start..bytes.len().min(start + frame)))
        .collect()
}

/// A request body of `bytes` in frames of `frame` bytes.
pub fn body(bytes: &bytes::Bytes, frame: usize) -> tus_server::RequestBody {
    let frames = frames(bytes, frame).into_iter().map(Ok::<_, std::io::Error>);
    tus_server::RequestBody::from_stream(futures::stream::iter(frames))
}

/// The frame size hyper's HTTP/1 reader typically delivers on loopback.
pub const FRAME: usize = 64 << 10;

#[cfg(test)]
mod tests {
    use tus_core::server::request::TusRequest;

    use super::*;

    #[test]
    fn fixtures_parse_as_the_requests_they_claim_to_be() {
        for pairs in [1, 10, 50] {
            let post = post(1 << 20, pairs);
            match TusRequest::parse(&post.method, post.uri.path(), &post.headers, BASE_PATH) {
                Ok(TusRequest::Create(request)) => assert_eq!(request.metadata.iter().count(), pairs),
                other => panic!("POST with {pairs} pairs parsed as {other:?}"),
            }
        }
        let patch = patch(4096, 65536);
        assert!(matches!(
            TusRequest::parse(&patch.method, patch.uri.path(), &patch.headers, BASE_PATH),
            Ok(TusRequest::Append(request)) if request.offset == 4096 && request.content_length == Some(65536)
        ));
        let head = head();
        assert!(matches!(
            TusRequest::parse(&head.method, head.uri.path(), &head.headers, BASE_PATH),
            Ok(TusRequest::Head(_))
        ));
    }
}
