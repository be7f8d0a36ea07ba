//! Building responses as values: one function per protocol answer. A
//! [`Reply`] is a status, headers and *what* body to send; the server driver
//! turns [`ReplyBody::Stored`] into a stream from the store.

use std::ops::Range;
use std::time::SystemTime;

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RETRY_AFTER, X_CONTENT_TYPE_OPTIONS};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::cors::{Cors, CorsRequest};
use super::error::TusError;
use super::policy::Policy;
use crate::headers::{
    self, ChecksumAlgorithm, Extension, TUS_VERSION_1_0_0, TusChecksumAlgorithm, TusExtension, TusMaxSize,
    TusResumable, TusVersion, UploadConcat, UploadDeferLength, UploadExpires, UploadLength, UploadOffset,
};
use crate::upload::{UploadId, UploadInfo, UploadKind, UploadSize};

/// The methods a tus endpoint answers, for `Allow` and CORS.
pub const ALLOWED_METHODS: &str = "OPTIONS, HEAD, GET, POST, PATCH, DELETE";

/// How long clients are asked to wait before retrying a temporary failure.
const RETRY_AFTER_SECS: u64 = 1;

/// What a response carries after its head.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ReplyBody {
    /// Nothing.
    #[default]
    Empty,
    /// A short plain-text message.
    Text(String),
    /// These bytes of a stored upload, streamed from the store.
    Stored {
        /// The upload.
        id: UploadId,
        /// The bytes, within its offset.
        range: Range<u64>,
    },
}

/// A protocol answer as a value.
pub type Reply = Response<ReplyBody>;

fn with_status(status: StatusCode) -> Reply {
    let mut response = Response::new(ReplyBody::Empty);
    *response.status_mut() = status;
    response
}

/// The plain-text answer to an error: `CODE: message`, for a request of
/// `method` (see [`TusError::status_for`]).
pub fn error(error: &TusError, method: &http::Method) -> Reply {
    let mut response = Response::new(ReplyBody::Text(format!("{}: {error}\n", error.code())));
    *response.status_mut() = error.status_for(method);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    if error.is_transient() {
        headers.insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    }
    match error {
        TusError::MethodNotAllowed => {
            headers.insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
        }
        TusError::UnsupportedVersion => version_headers(headers),
        TusError::RangeNotSatisfiable { length } => {
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                headers.insert(CONTENT_RANGE, value);
            }
        }
        _ => {}
    }
    response
}

fn version_headers(headers: &mut http::HeaderMap) {
    headers::encode(headers, &TusVersion(vec![TUS_VERSION_1_0_0]));
}

/// Adds `Tus-Resumable: 1.0.0`, which every response carries.
pub fn add_tus_resumable(headers: &mut http::HeaderMap) {
    headers::encode(headers, &TusResumable(TUS_VERSION_1_0_0));
}

/// What every answer gets last: `Tus-Resumable`, `nosniff`, the CORS
/// headers for the request's role, and, for a HEAD, no body (and no
/// `Content-Type` for one).
pub fn finish(reply: &mut Reply, cors: Option<(&Cors, &CorsRequest)>, is_head: bool) {
    add_tus_resumable(reply.headers_mut());
    finish_headers(reply, cors, is_head);
}

/// What every answer gets last, tus 1.0.0 or IETF draft: `nosniff`, the
/// CORS headers for the request's role and, for a HEAD, no body (and no
/// `Content-Type` for one).
pub fn finish_headers(reply: &mut Reply, cors: Option<(&Cors, &CorsRequest)>, is_head: bool) {
    let headers = reply.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if let Some((cors, request)) = cors {
        cors.apply(request, headers);
    }
    if is_head {
        *reply.body_mut() = ReplyBody::Empty;
        reply.headers_mut().remove(CONTENT_TYPE);
    }
}

/// A download: `status` and `headers` from
/// [`download_head`](super::download::download_head), and the bytes of
/// `range` of upload `id` (none for an empty range).
pub fn download(id: &UploadId, status: StatusCode, headers: HeaderMap, range: Range<u64>) -> Reply {
    let body = if range.is_empty() {
        ReplyBody::Empty
    } else {
        ReplyBody::Stored { id: id.clone(), range }
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    response
}

/// The answer to OPTIONS: versions, extensions, max size, checksum algorithms.
pub fn discovery(policy: &Policy) -> Reply {
    let checksum_algorithms: &[ChecksumAlgorithm] =
        if policy.supports(Extension::Checksum) || policy.supports(Extension::ChecksumTrailer) {
            &ChecksumAlgorithm::ALL
        } else {
            &[]
        };
    let mut response = with_status(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    version_headers(headers);
    if !policy.extensions.is_empty() {
        headers::encode(headers, &TusExtension(policy.extensions.clone()));
    }
    if let Some(max) = policy.max_size {
        headers::encode(headers, &TusMaxSize(max));
    }
    if !checksum_algorithms.is_empty() {
        headers::encode(headers, &TusChecksumAlgorithm(checksum_algorithms.to_vec()));
    }
    response
}

fn expires_header(headers: &mut http::HeaderMap, expires: Option<SystemTime>) {
    if let Some(expires) = expires {
        headers::encode(headers, &UploadExpires(expires));
    }
}

/// `201 Created` with the upload's URL, its offset (omitted for a final
/// upload still waiting for its partials) and its expiry.
pub fn created(location: HeaderValue, offset: Option<u64>, expires: Option<SystemTime>) -> Reply {
    let mut response = with_status(StatusCode::CREATED);
    response.headers_mut().insert(LOCATION, location);
    if let Some(offset) = offset {
        headers::encode(response.headers_mut(), &UploadOffset(offset));
    }
    expires_header(response.headers_mut(), expires);
    response
}

/// The answer to HEAD: offset, length or deferral, concatenation role,
/// metadata, expiry, no caching.
///
/// A final upload shows no `Upload-Offset` until it is assembled, and its
/// `Upload-Length` only once every partial's length is known.
pub fn head(info: &UploadInfo, expires: Option<SystemTime>) -> Reply {
    let mut response = with_status(StatusCode::OK);
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    match &info.kind {
        UploadKind::Final(parts) => {
            let references = parts.iter().map(|part| part.reference.clone()).collect();
            headers::encode(headers, &UploadConcat::Final(references));
            if info.is_complete() {
                headers::encode(headers, &UploadOffset(info.offset));
            }
            if let UploadSize::Known(length) = info.size {
                headers::encode(headers, &UploadLength(length));
            }
        }
        UploadKind::Partial | UploadKind::Single => {
            if info.kind == UploadKind::Partial {
                headers::encode(headers, &UploadConcat::Partial);
            }
            headers::encode(headers, &UploadOffset(info.offset));
            match info.size {
                UploadSize::Known(length) => headers::encode(headers, &UploadLength(length)),
                UploadSize::Deferred => headers::encode(headers, &UploadDeferLength),
            }
        }
    }
    if !info.metadata.is_empty() {
        headers::encode(headers, &info.metadata);
    }
    expires_header(headers, expires);
    response
}

/// `204 No Content` after an append, with the new offset and expiry.
pub fn appended(offset: u64, expires: Option<SystemTime>) -> Reply {
    let mut response = with_status(StatusCode::NO_CONTENT);
    headers::encode(response.headers_mut(), &UploadOffset(offset));
    expires_header(response.headers_mut(), expires);
    response
}

/// `204 No Content` after termination.
pub fn terminated() -> Reply {
    with_status(StatusCode::NO_CONTENT)
}
