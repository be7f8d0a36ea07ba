//! Draft answers as values: one function per answer, and the one mapping of
//! an [`IetfError`] to a response (plain text, or RFC 9457 problem details
//! for the draft's problem types).

use http::header::{LOCATION, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use super::error::IetfError;
use super::request::PARTIAL_UPLOAD;
use crate::headers::encode;
use crate::headers::ietf::{InteropVersion, UploadComplete, UploadLength, UploadLimit, UploadOffset};
use crate::server::response::{Reply, ReplyBody};
use crate::upload::UploadInfo;

/// The reason phrase of `104`.
pub const UPLOAD_RESUMPTION_SUPPORTED: &str = "Upload Resumption Supported";

/// The status of the interim response announcing an upload resource.
pub const STATUS_104: u16 = 104;

/// The media type of problem details (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

fn with_status(status: StatusCode) -> Reply {
    let mut response = Response::new(ReplyBody::Empty);
    *response.status_mut() = status;
    response
}

/// The `104 (Upload Resumption Supported)` interim response of a creation:
/// the upload resource's `Location`, the interop version (which every 104
/// must echo) and, when the server has any, its limits.
pub fn resumption_supported(version: InteropVersion, location: HeaderValue, limit: &UploadLimit) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(STATUS_104).unwrap_or(StatusCode::CONTINUE);
    let headers = response.headers_mut();
    encode(headers, &version);
    headers.insert(LOCATION, location);
    if !limit.is_empty() {
        encode(headers, limit);
    }
    response
}

/// A progress `104`: the offset received so far while a request's content
/// streams in (never `Location`).
pub fn progress(version: InteropVersion, offset: u64) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = StatusCode::from_u16(STATUS_104).unwrap_or(StatusCode::CONTINUE);
    encode(response.headers_mut(), &version);
    encode(response.headers_mut(), &UploadOffset(offset));
    response
}

/// The answer to a creation whose content was fully received: `201` with
/// the upload's `Location`, its offset, whether it is complete and, while it
/// is not, its limits.
pub fn created(location: HeaderValue, offset: u64, complete: bool, limit: &UploadLimit) -> Reply {
    let mut response = with_status(StatusCode::CREATED);
    let headers = response.headers_mut();
    headers.insert(LOCATION, location);
    state(headers, offset, complete);
    if !complete {
        encode(headers, limit);
    }
    response
}

/// The answer to an append whose content was fully received. Incomplete:
/// interop 6 answers `201`, later versions `204`. Complete: `201`, the
/// answer of the collection the upload was created in.
pub fn appended(version: InteropVersion, offset: u64, complete: bool) -> Reply {
    let status = if complete || version == InteropVersion::V6 {
        StatusCode::CREATED
    } else {
        StatusCode::NO_CONTENT
    };
    let mut response = with_status(status);
    state(response.headers_mut(), offset, complete);
    response
}

/// The answer to offset retrieval (`HEAD`, or `GET` of an incomplete
/// upload): `204` with the offset, completeness, length when known, limits
/// and `Cache-Control: no-store`.
pub fn offset(info: &UploadInfo, limit: &UploadLimit) -> Reply {
    let mut response = with_status(StatusCode::NO_CONTENT);
    upload_state(response.headers_mut(), info, limit);
    response
}

/// The state headers of an upload, for offset retrieval and downloads.
pub fn upload_state(headers: &mut HeaderMap, info: &UploadInfo, limit: &UploadLimit) {
    state(headers, info.offset, info.is_complete());
    if let Some(length) = info.size.known() {
        encode(headers, &UploadLength(length));
    }
    encode(headers, limit);
    headers.insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn state(headers: &mut HeaderMap, offset: u64, complete: bool) {
    encode(headers, &UploadComplete(complete));
    encode(headers, &UploadOffset(offset));
}

/// The answer to `OPTIONS`: the limits (`min-size=0` when there are none)
/// and the append media type.
pub fn options(limit: &UploadLimit) -> Reply {
    let mut response = with_status(StatusCode::NO_CONTENT);
    let headers = response.headers_mut();
    encode(headers, limit);
    headers.insert(
        http::HeaderName::from_static("accept-patch"),
        HeaderValue::from_static(PARTIAL_UPLOAD),
    );
    response
}

/// `204 No Content` after cancellation.
pub fn cancelled() -> Reply {
    with_status(StatusCode::NO_CONTENT)
}

/// The answer to `error` for interop `version`: a problem document for the
/// draft's problem types, `CODE: message` in plain text otherwise. A
/// mismatching offset carries the upload's offset (and, from interop 8,
/// `Upload-Complete: ?0`); a limit violation carries the limits.
pub fn error(version: InteropVersion, error: &IetfError, limit: Option<&UploadLimit>) -> Reply {
    let body = match error.problem_type() {
        Some(kind) => problem(kind, error),
        None => format!("{}: {error}\n", error.code()),
    };
    let mut response = Response::new(ReplyBody::Text(body));
    *response.status_mut() = error.status();
    let headers = response.headers_mut();
    let content_type = if error.problem_type().is_some() {
        PROBLEM_JSON
    } else {
        "text/plain; charset=utf-8"
    };
    headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if error.is_transient() {
        headers.insert(RETRY_AFTER, HeaderValue::from(1));
    }
    match error {
        IetfError::MismatchedOffset { expected, .. } => {
            encode(headers, &UploadOffset(*expected));
            if version != InteropVersion::V6 {
                encode(headers, &UploadComplete(false));
            }
        }
        IetfError::Tus(crate::server::TusError::MethodNotAllowed) | IetfError::CancelNotSupported => {
            headers.insert(
                http::header::ALLOW,
                HeaderValue::from_static(crate::server::response::ALLOWED_METHODS),
            );
        }
        _ => {}
    }
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE
        && let Some(limit) = limit
    {
        encode(headers, limit);
    }
    response
}

/// A problem document (RFC 9457) of `kind` for `error`, rendered by hand:
/// every member is a known ASCII string or a number.
fn problem(kind: &str, error: &IetfError) -> String {
    let title = match error {
        IetfError::MismatchedOffset { .. } => "offset from request does not match offset of resource",
        IetfError::InconsistentLength(_) => "inconsistent length values for upload",
        _ => "upload is already completed",
    };
    let mut members = vec![
        format!("\"type\":\"{kind}\""),
        format!("\"title\":\"{title}\""),
        format!("\"detail\":\"{}\"", json_escape(&error.to_string())),
        format!("\"code\":\"{}\"", error.code()),
    ];
    if let IetfError::MismatchedOffset { expected, provided } = error {
        members.push(format!("\"expected-offset\":{expected}"));
        members.push(format!("\"provided-offset\":{provided}"));
    }
    format!("{{{}}}\n", members.join(","))
}

fn json_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            character if character.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(character))),
            character => out.push(character),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::ietf::Lifetime;

    fn text(reply: &Reply) -> String {
        match reply.body() {
            ReplyBody::Text(text) => text.clone(),
            other => panic!("no text body: {other:?}"),
        }
    }

    #[test]
    fn mismatching_offset_is_a_problem_document() {
        let error = IetfError::MismatchedOffset {
            expected: 12_500_000,
            provided: 25_000_000,
        };
        let reply = error_reply(InteropVersion::V9, &error);
        assert_eq!(reply.status(), 409);
        assert_eq!(reply.headers()["content-type"], PROBLEM_JSON);
        assert_eq!(reply.headers()["upload-offset"], "12500000");
        assert_eq!(reply.headers()["upload-complete"], "?0");
        let body = text(&reply);
        assert!(
            body.contains("\"type\":\"https://iana.org/assignments/http-problem-types#mismatching-upload-offset\"")
        );
        assert!(body.contains("\"expected-offset\":12500000,\"provided-offset\":25000000"));
        let six = error_reply(InteropVersion::V6, &error);
        assert!(six.headers().get("upload-complete").is_none());
    }

    fn error_reply(version: InteropVersion, error: &IetfError) -> Reply {
        super::error(version, error, None)
    }

    #[test]
    fn other_errors_are_plain_text_with_a_code() {
        let reply = error_reply(InteropVersion::V8, &IetfError::NotPartialUpload);
        assert_eq!(reply.status(), 415);
        assert!(text(&reply).starts_with("ERR_INVALID_CONTENT_TYPE: "));
        let inconsistent = error_reply(
            InteropVersion::V8,
            &IetfError::InconsistentLength("a \"quoted\" reason"),
        );
        assert!(text(&inconsistent).contains("a \\\"quoted\\\" reason"));
        let limit = UploadLimit {
            max_size: Some(5),
            ..UploadLimit::default()
        };
        let too_large = super::error(
            InteropVersion::V9,
            &IetfError::Tus(crate::server::TusError::MaxSizeExceeded { max: 5 }),
            Some(&limit),
        );
        assert_eq!(too_large.headers()["upload-limit"], "max-size=5");
    }

    #[test]
    fn answers_per_version() {
        assert_eq!(appended(InteropVersion::V6, 5, false).status(), 201);
        assert_eq!(appended(InteropVersion::V8, 5, false).status(), 204);
        let done = appended(InteropVersion::V9, 5, true);
        assert_eq!(done.status(), 201);
        assert_eq!(done.headers()["upload-complete"], "?1");
        assert_eq!(done.headers()["upload-offset"], "5");
        let limit = UploadLimit {
            lifetime: Some(Lifetime::Expires(9)),
            ..UploadLimit::default()
        };
        let progress = progress(InteropVersion::V8, 7);
        assert_eq!(progress.status(), 104);
        assert_eq!(progress.headers()["upload-offset"], "7");
        assert!(progress.headers().get("location").is_none());
        let interim = resumption_supported(InteropVersion::V6, HeaderValue::from_static("/files/a"), &limit);
        assert_eq!(interim.status(), 104);
        assert_eq!(interim.headers()["upload-draft-interop-version"], "6");
        assert_eq!(interim.headers()["upload-limit"], "expires=9");
        let created = created(HeaderValue::from_static("/files/a"), 0, false, &UploadLimit::default());
        assert_eq!(created.headers()["upload-limit"], "min-size=0");
        assert_eq!(
            options(&UploadLimit::default()).headers()["accept-patch"],
            PARTIAL_UPLOAD
        );
    }
}
