//! Building responses: one function per protocol answer.

use http::header::{ALLOW, CACHE_CONTROL, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use http::{HeaderValue, Response, StatusCode};

use super::decide::Policy;
use super::error::TusError;
use std::time::SystemTime;

use super::headers::{
    self, ChecksumAlgorithm, Extension, TUS_VERSION_1_0_0, TusChecksumAlgorithm, TusExtension, TusMaxSize,
    TusResumable, TusVersion, UploadConcat, UploadDeferLength, UploadExpires, UploadLength, UploadOffset,
};
use crate::body::ResponseBody;
use crate::store::{UploadInfo, UploadKind, UploadSize};

/// The methods a tus endpoint answers, for `Allow` and CORS.
pub const ALLOWED_METHODS: &str = "OPTIONS, HEAD, GET, POST, PATCH, DELETE";

fn with_status(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

/// The plain-text answer to an error: `CODE: message`.
pub fn error(error: &TusError) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(format!("{}: {error}\n", error.code())));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
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

/// The answer to OPTIONS: versions, extensions, max size, checksum algorithms.
pub fn discovery(policy: &Policy) -> Response<ResponseBody> {
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
pub fn created(location: HeaderValue, offset: Option<u64>, expires: Option<SystemTime>) -> Response<ResponseBody> {
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
pub fn head(info: &UploadInfo, expires: Option<SystemTime>) -> Response<ResponseBody> {
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
pub fn appended(offset: u64, expires: Option<SystemTime>) -> Response<ResponseBody> {
    let mut response = with_status(StatusCode::NO_CONTENT);
    headers::encode(response.headers_mut(), &UploadOffset(offset));
    expires_header(response.headers_mut(), expires);
    response
}

/// `204 No Content` after termination.
pub fn terminated() -> Response<ResponseBody> {
    with_status(StatusCode::NO_CONTENT)
}
