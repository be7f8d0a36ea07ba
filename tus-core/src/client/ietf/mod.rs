//! The client's side of the IETF draft "Resumable Uploads for HTTP"
//! (interop 9, 8 and 6): request heads to send and the reading of every
//! answer, per version. No I/O: a client driver sends [`Request<()>`] heads
//! with its body and hands back what it received. [`Ietf`] is the
//! [`Dialect`](super::Dialect) the upload machine speaks, built on these.
//!
//! ```text
//!   creation(?1 or ?0, length) ──▶ 104? read_interim ─▶ Location (resumable from here)
//!        final ─▶ read_answer ─▶ Complete | Incomplete{offset} | Conflict{offset} | Retry | Failed
//!   after an interruption: offset_retrieval ─▶ read_offset ─▶ append(offset, ?1 for the last part)
//! ```
//!
//! What differs per version, as a client sees it: interop 6 answers an
//! incomplete part with `201` and always sends `Upload-Offset`; from 8 on
//! an `Upload-Complete: ?1` answer (whatever its status) is the target
//! resource's response and ends the upload, and `Upload-Offset` is only
//! guaranteed on offset retrieval and `409`.
//!
//! The draft defines no answer for an interop version a server does not
//! speak; [`unsupported_version`] recognises the ones seen in practice
//! (tus-rs: `400` naming the interop version; tusd, which takes such a
//! request for a tus one: `412` naming the version) so a client can fall
//! back to interop 6.

mod dialect;

pub use dialect::Ietf;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use http::{HeaderMap, Method, Request, StatusCode, Uri};

use crate::headers::ietf::{InteropVersion, UploadComplete, UploadLength, UploadLimit, UploadOffset};
use crate::headers::{self, TusHeader};
use crate::server::ietf::request::PARTIAL_UPLOAD;

/// A creation request head: `Upload-Complete: ?1` when `content` is the
/// whole representation, `Upload-Length` when the length is known.
/// `content_length` is the length of this request's content (`None`: the
/// body is sent chunked).
pub fn creation(
    version: InteropVersion,
    endpoint: &Uri,
    complete: bool,
    length: Option<u64>,
    content_length: Option<u64>,
) -> Request<()> {
    let mut request = head(version, Method::POST, endpoint);
    let headers = request.headers_mut();
    headers::encode(headers, &UploadComplete(complete));
    if let Some(length) = length {
        headers::encode(headers, &UploadLength(length));
    }
    if let Some(content_length) = content_length {
        headers.insert(CONTENT_LENGTH, content_length.into());
    }
    request
}

/// An append request head: content from `offset`, `Upload-Complete: ?1`
/// when it ends the representation.
pub fn append(
    version: InteropVersion,
    upload: &Uri,
    offset: u64,
    complete: bool,
    content_length: Option<u64>,
) -> Request<()> {
    let mut request = head(version, Method::PATCH, upload);
    let headers = request.headers_mut();
    headers.insert(CONTENT_TYPE, http::HeaderValue::from_static(PARTIAL_UPLOAD));
    headers::encode(headers, &UploadOffset(offset));
    headers::encode(headers, &UploadComplete(complete));
    if let Some(content_length) = content_length {
        headers.insert(CONTENT_LENGTH, content_length.into());
    }
    request
}

/// An offset retrieval request head (`HEAD`).
pub fn offset_retrieval(version: InteropVersion, upload: &Uri) -> Request<()> {
    head(version, Method::HEAD, upload)
}

/// A cancellation request head (`DELETE`).
pub fn cancellation(version: InteropVersion, upload: &Uri) -> Request<()> {
    head(version, Method::DELETE, upload)
}

/// A limits discovery request head (`OPTIONS`).
pub fn limits_discovery(version: InteropVersion, endpoint: &Uri) -> Request<()> {
    head(version, Method::OPTIONS, endpoint)
}

fn head(version: InteropVersion, method: Method, uri: &Uri) -> Request<()> {
    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri.clone();
    headers::encode(request.headers_mut(), &version);
    request
}

/// What a `104 (Upload Resumption Supported)` told.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Interim {
    /// The upload resource (only in the first 104 of a creation), resolved
    /// against the request's URI.
    pub location: Option<Uri>,
    /// The offset the server processed so far (progress 104s).
    pub offset: Option<u64>,
    /// The upload's limits.
    pub limit: Option<UploadLimit>,
}

/// Reads an interim response to a request of `version` sent to `request`:
/// `None` for anything but a 104 echoing the same interop version (the
/// draft tells clients to ignore those).
pub fn read_interim(
    version: InteropVersion,
    request: &Uri,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<Interim> {
    if status.as_u16() != 104 || field::<InteropVersion>(headers) != Some(version) {
        return None;
    }
    Some(Interim {
        location: location(request, headers),
        offset: field::<UploadOffset>(headers).map(|offset| offset.0),
        limit: field::<UploadLimit>(headers),
    })
}

/// How a creation or append ended, as the client must act on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The upload is complete: this is the target resource's response (an
    /// error status means processing failed; resuming will not help).
    Complete {
        /// The offset, when the server sent it.
        offset: Option<u64>,
    },
    /// The content was received; more is expected.
    Incomplete {
        /// Where the next append starts, when the server sent it (interop
        /// 6 always does); else the request's start plus what it sent.
        offset: Option<u64>,
    },
    /// `409`: the offset was wrong; resume from this one (or retrieve it).
    Conflict {
        /// The server's offset, when sent.
        offset: Option<u64>,
    },
    /// A failure worth retrying or resuming (`5xx`, `429`, `413` after
    /// applying the limits, or no answer): retrieve the offset, then append.
    Retry,
    /// A failure the client cannot recover from by resuming.
    Failed,
}

/// Reads the final answer to a creation or append of `version` that sent
/// `Upload-Complete: ?{complete}`.
pub fn read_answer(version: InteropVersion, complete: bool, status: StatusCode, headers: &HeaderMap) -> Answer {
    let offset = field::<UploadOffset>(headers).map(|offset| offset.0);
    let said_complete = field::<UploadComplete>(headers).map(|complete| complete.0);
    if version != InteropVersion::V6 && said_complete == Some(true) {
        return Answer::Complete { offset };
    }
    if status.is_success() {
        // A complete request answered with success is complete unless the
        // answer says `?0` (interop 6 marks incomplete parts so; from 8 on
        // the final answer comes from the target resource, which may not
        // know the field, and the server only SHOULD add `?1`).
        return match (complete, said_complete) {
            (true, None | Some(true)) => Answer::Complete { offset },
            _ => Answer::Incomplete { offset },
        };
    }
    match status.as_u16() {
        409 => Answer::Conflict { offset },
        413 | 429 | 500..=599 => Answer::Retry,
        _ => Answer::Failed,
    }
}

/// The state an offset retrieval reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    /// Bytes the server processed: the next append starts here.
    pub offset: u64,
    /// Whether the upload is complete.
    pub complete: bool,
    /// The representation's length, if recorded.
    pub length: Option<u64>,
    /// The limits, if sent.
    pub limit: Option<UploadLimit>,
}

/// Reads an offset retrieval answer: `None` unless it is a success with a
/// valid `Upload-Offset` (then the client may retry the retrieval).
pub fn read_offset(status: StatusCode, headers: &HeaderMap) -> Option<UploadState> {
    if !status.is_success() {
        return None;
    }
    Some(UploadState {
        offset: field::<UploadOffset>(headers)?.0,
        complete: field::<UploadComplete>(headers).is_some_and(|complete| complete.0),
        length: field::<UploadLength>(headers).map(|length| length.0),
        limit: field::<UploadLimit>(headers),
    })
}

/// The `Location` of an answer to a request sent to `request`, resolved
/// against it as RFC 3986 does (absolute, absolute-path and relative
/// references); `None` when absent or unusable.
pub fn location(request: &Uri, headers: &HeaderMap) -> Option<Uri> {
    let value = headers.get(LOCATION)?.to_str().ok()?;
    super::resolve(request, value).ok()
}

/// Whether an answer advertises the draft: `Upload-Limit` (which interop 6
/// and 9 require in every answer to `OPTIONS`) or `Accept-Patch` listing
/// `application/partial-upload` (which interop 8 requires there).
pub fn advertises_draft(headers: &HeaderMap) -> bool {
    field::<UploadLimit>(headers).is_some()
        || headers
            .get_all(http::header::HeaderName::from_static("accept-patch"))
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|list| list.split(','))
            .any(|media_type| {
                media_type
                    .split(';')
                    .next()
                    .is_some_and(|name| name.trim().eq_ignore_ascii_case(PARTIAL_UPLOAD))
            })
}

/// Whether a refusal says the server does not speak the request's interop
/// version: `400` or `412` that names a version in its body and carries no
/// upload state (no `Location`, `Upload-Offset` or `Upload-Complete`: the
/// request was not served as a draft request of a known upload).
pub fn unsupported_version(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool {
    let names_version = String::from_utf8_lossy(body).to_ascii_lowercase().contains("version");
    let stateful = [LOCATION, UploadOffset::KIND.name(), UploadComplete::KIND.name()]
        .iter()
        .any(|name| headers.contains_key(name));
    matches!(status.as_u16(), 400 | 412) && names_version && !stateful
}

/// The `expected-offset` member of a problem document (RFC 9457) of type
/// "mismatching upload offset": where the server wants the next append to
/// start. Only a key of the top-level object counts (not one in a nested
/// object, nor a string value that happens to read `"expected-offset"`),
/// and only a non-negative integer; found by a small scan, so tus-core
/// needs no JSON parser.
pub fn problem_expected_offset(body: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"expected-offset";
    let mut depth = 0usize;
    let mut index = 0;
    while let Some(&byte) = body.get(index) {
        match byte {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b'"' => {
                let end = string_end(body, index + 1)?;
                // In JSON, a string followed by `:` is a key.
                let value = trim_json_space(body.get(end + 1..)?).strip_prefix(b":");
                if let (1, Some(value)) = (depth, value)
                    && body.get(index + 1..end) == Some(KEY)
                {
                    return json_integer(trim_json_space(value));
                }
                index = end;
            }
            _ => {}
        }
        index += 1;
    }
    None
}

/// The index of the quote that closes the JSON string starting at `start`.
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut index = start;
    loop {
        match body.get(index)? {
            b'\\' => index += 2,
            b'"' => return Some(index),
            _ => index += 1,
        }
    }
}

fn trim_json_space(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| !matches!(byte, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// A JSON number at the start of `bytes` if it is a non-negative integer.
fn json_integer(bytes: &[u8]) -> Option<u64> {
    let digits = bytes
        .iter()
        .position(|byte| !byte.is_ascii_digit())
        .unwrap_or(bytes.len());
    if digits == 0 || matches!(bytes.get(digits), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    std::str::from_utf8(&bytes[..digits]).ok()?.parse().ok()
}

/// Whether `limit` forbids uploading `size` bytes (the draft then asks the
/// client to stop and cancel the upload).
pub fn exceeds_limits(limit: &UploadLimit, size: u64) -> bool {
    limit.max_size.is_some_and(|max| size > max)
}

/// The largest part a request may carry, given the limits and what is left.
pub fn part_size(limit: Option<&UploadLimit>, preferred: u64, remaining: u64) -> u64 {
    let max = limit.and_then(|limit| limit.max_append_size).unwrap_or(u64::MAX);
    preferred.min(max).min(remaining)
}

/// Reads a field; absent or invalid values are ignored, as the draft says.
fn field<H: TusHeader>(headers: &HeaderMap) -> Option<H> {
    headers::decode::<H>(headers).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::headers;

    fn uri(text: &str) -> Uri {
        text.parse().expect("uri")
    }

    #[test]
    fn request_heads() {
        let create = creation(InteropVersion::V9, &uri("http://h/files/"), true, Some(10), Some(10));
        assert_eq!(create.method(), Method::POST);
        assert_eq!(create.headers()["upload-draft-interop-version"], "9");
        assert_eq!(create.headers()["upload-complete"], "?1");
        assert_eq!(create.headers()["upload-length"], "10");
        let patch = append(InteropVersion::V6, &uri("http://h/files/a"), 5, false, None);
        assert_eq!(patch.headers()["content-type"], PARTIAL_UPLOAD);
        assert_eq!(patch.headers()["upload-offset"], "5");
        assert!(patch.headers().get("content-length").is_none());
        assert_eq!(
            offset_retrieval(InteropVersion::V8, &uri("http://h/files/a")).method(),
            Method::HEAD
        );
        assert_eq!(
            cancellation(InteropVersion::V8, &uri("http://h/files/a")).method(),
            Method::DELETE
        );
        assert_eq!(
            limits_discovery(InteropVersion::V8, &uri("http://h/files/")).method(),
            Method::OPTIONS
        );
    }

    #[test]
    fn interim_answers_need_the_same_version() {
        let request = uri("http://h:1/files/");
        let status = StatusCode::from_u16(104).expect("status");
        let fields = headers(&[
            ("upload-draft-interop-version", "8"),
            ("location", "/files/abc"),
            ("upload-limit", "max-size=100"),
        ]);
        let interim = read_interim(InteropVersion::V8, &request, status, &fields).expect("a 104 of version 8");
        assert_eq!(interim.location, Some(uri("http://h:1/files/abc")));
        assert_eq!(interim.limit.and_then(|l| l.max_size), Some(100));
        assert!(read_interim(InteropVersion::V9, &request, status, &fields).is_none());
        assert!(read_interim(InteropVersion::V8, &request, StatusCode::CONTINUE, &fields).is_none());
    }

    #[test]
    fn answers_per_version() {
        use Answer::*;
        let cases: &[(u64, bool, u16, &[(&str, &str)], Answer)] = &[
            (
                6,
                false,
                201,
                &[("upload-complete", "?0"), ("upload-offset", "5")],
                Incomplete { offset: Some(5) },
            ),
            (6, true, 201, &[("upload-offset", "9")], Complete { offset: Some(9) }),
            (
                6,
                true,
                201,
                &[("upload-complete", "?0"), ("upload-offset", "9")],
                Incomplete { offset: Some(9) },
            ),
            (9, false, 204, &[("upload-complete", "?0")], Incomplete { offset: None }),
            (9, true, 200, &[("upload-complete", "?1")], Complete { offset: None }),
            (9, true, 400, &[("upload-complete", "?1")], Complete { offset: None }),
            (
                8,
                true,
                201,
                &[("upload-complete", "?0"), ("upload-offset", "3")],
                Incomplete { offset: Some(3) },
            ),
            (
                9,
                false,
                409,
                &[("upload-complete", "?0"), ("upload-offset", "7")],
                Conflict { offset: Some(7) },
            ),
            (6, false, 409, &[], Conflict { offset: None }),
            (9, true, 200, &[], Complete { offset: None }),
            (9, true, 204, &[("upload-offset", "9")], Complete { offset: Some(9) }),
            (9, false, 503, &[], Retry),
            (9, false, 413, &[], Retry),
            (9, false, 400, &[("upload-complete", "?0")], Failed),
            (9, false, 404, &[], Failed),
        ];
        for (version, complete, status, list, expected) in cases {
            let status = StatusCode::from_u16(*status).expect("status");
            assert_eq!(
                &read_answer(InteropVersion(*version), *complete, status, &headers(list)),
                expected,
                "v{version} ?{complete} {status} {list:?}"
            );
        }
    }

    #[test]
    fn offset_retrieval_answers() {
        let state = read_offset(
            StatusCode::NO_CONTENT,
            &headers(&[
                ("upload-offset", "5"),
                ("upload-complete", "?0"),
                ("upload-length", "9"),
            ]),
        )
        .expect("state");
        assert_eq!((state.offset, state.complete, state.length), (5, false, Some(9)));
        assert!(read_offset(StatusCode::NO_CONTENT, &headers(&[("upload-offset", "x")])).is_none());
        assert!(read_offset(StatusCode::NOT_FOUND, &headers(&[("upload-offset", "5")])).is_none());
    }

    #[test]
    fn limits_bound_parts() {
        let limit = UploadLimit {
            max_size: Some(100),
            max_append_size: Some(10),
            ..UploadLimit::default()
        };
        assert!(exceeds_limits(&limit, 101));
        assert!(!exceeds_limits(&limit, 100));
        assert_eq!(part_size(Some(&limit), 50, 30), 10);
        assert_eq!(part_size(None, 50, 30), 30);
        assert_eq!(
            location(&uri("http://h/files/x"), &headers(&[("location", "rel")])),
            Some(uri("http://h/files/rel"))
        );
        assert_eq!(location(&uri("http://h/x"), &headers(&[("location", "")])), None);
    }

    #[test]
    fn draft_advertisements() {
        assert!(advertises_draft(&headers(&[("upload-limit", "min-size=0")])));
        assert!(advertises_draft(&headers(&[(
            "accept-patch",
            "text/x, application/partial-upload"
        )])));
        assert!(!advertises_draft(&headers(&[(
            "accept-patch",
            "application/merge-patch+json"
        )])));
        assert!(!advertises_draft(&headers(&[("upload-limit", "max-size=-1")])));
        assert!(!advertises_draft(&headers(&[("tus-version", "1.0.0")])));
    }

    #[test]
    fn unsupported_version_answers() {
        let ours = b"ERR_UNSUPPORTED_INTEROP_VERSION: unsupported Upload-Draft-Interop-Version; this server speaks 9, 8 and 6\n";
        let tusd = b"ERR_UNSUPPORTED_VERSION: missing, invalid or unsupported Tus-Resumable version\n";
        let bad = StatusCode::BAD_REQUEST;
        let cases: &[(StatusCode, &[(&str, &str)], &[u8], bool)] = &[
            (bad, &[], ours, true),
            (StatusCode::PRECONDITION_FAILED, &[("tus-version", "1.0.0")], tusd, true),
            (
                bad,
                &[],
                b"ERR_INCONSISTENT_UPLOAD_LENGTH: inconsistent length values",
                false,
            ),
            (bad, &[("upload-offset", "3")], ours, false),
            (StatusCode::NOT_FOUND, &[], ours, false),
        ];
        for (status, list, body, expected) in cases {
            assert_eq!(
                unsupported_version(*status, &headers(list), body),
                *expected,
                "{status} {list:?}"
            );
        }
    }

    #[test]
    fn expected_offset_of_a_problem_document() {
        let body = br#"{"type":"https://iana.org/assignments/http-problem-types#mismatching-upload-offset","title":"t","expected-offset": 12500000,"provided-offset":25000000}"#;
        assert_eq!(problem_expected_offset(body), Some(12_500_000));
        assert_eq!(problem_expected_offset(br#"{"expected-offset":"x"}"#), None);
        assert_eq!(problem_expected_offset(b"plain text"), None);
        assert_eq!(problem_expected_offset(&[0xff, 0xfe]), None);
        let cases: &[(&[u8], Option<u64>)] = &[
            (br#"{"expected-offset" : 7}"#, Some(7)),
            (br#"{"title":"\"expected-offset\": 9","expected-offset":3}"#, Some(3)),
            (br#"{"title":"expected-offset","detail":{"expected-offset":9}}"#, None),
            (br#"{"nested":{"expected-offset":9},"expected-offset":4}"#, Some(4)),
            (br#"["expected-offset", 5]"#, None),
            (br#"{"expected-offset":1.5}"#, None),
            (br#"{"expected-offset":2e3}"#, None),
            (br#"{"expected-offset":-1}"#, None),
            (br#"{"expected-offset":99999999999999999999999}"#, None),
            (br#"{"expected-offset":"#, None),
            (br#"{"expected-offset"#, None),
            (br#"}}{"expected-offset":1}"#, None),
        ];
        for (body, expected) in cases {
            assert_eq!(
                problem_expected_offset(body),
                *expected,
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
