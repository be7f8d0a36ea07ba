//! Parsing a request head into a typed [`TusRequest`]: routing, method
//! override, version negotiation and every header, before any body is read.

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, RANGE};
use http::{HeaderMap, HeaderValue, Method};

use super::error::TusError;
use crate::checksum::Verification;
use crate::headers::{
    self, HeaderError, HeaderKind, Metadata, TUS_VERSION_1_0_0, TusResumable, UploadChecksum, UploadConcat,
    UploadDeferLength, UploadLength, UploadOffset, XHttpMethodOverride,
};
use crate::upload::{UploadId, UploadSize};

/// The media type of upload data in PATCH (and creation-with-upload) bodies.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

/// A request of the tus protocol (or a download), fully parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TusRequest {
    /// `OPTIONS`: discovery.
    Options,
    /// `POST` to the collection: creation.
    Create(CreateRequest),
    /// `HEAD` of an upload: offset retrieval.
    Head(UploadId),
    /// `PATCH` of an upload: append.
    Append(AppendRequest),
    /// `DELETE` of an upload: termination.
    Terminate(UploadId),
    /// `GET` of an upload: download (not part of tus).
    Download(DownloadRequest),
}

/// A creation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// The declared size; `None` for a final upload, whose size is the sum of its partials.
    pub size: Option<UploadSize>,
    /// Client metadata.
    pub metadata: Metadata,
    /// `Upload-Concat`, if present.
    pub concat: Option<UploadConcat>,
    /// The checksum the body announces: an `Upload-Checksum` header, or
    /// `Trailer: Upload-Checksum` (the header wins when both are present).
    pub checksum: Option<Verification>,
    /// The body carries upload data (creation-with-upload).
    pub with_upload: bool,
    /// `Content-Length` of the body, when known.
    pub content_length: Option<u64>,
}

/// An append (PATCH) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The upload.
    pub id: UploadId,
    /// `Upload-Offset`.
    pub offset: u64,
    /// `Upload-Length`, declaring a deferred length.
    pub length: Option<u64>,
    /// The checksum the body announces: an `Upload-Checksum` header, or
    /// `Trailer: Upload-Checksum` (the header wins when both are present).
    pub checksum: Option<Verification>,
    /// `Content-Length` of the body, when known (not for chunked bodies).
    pub content_length: Option<u64>,
}

/// A download (GET) request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRequest {
    /// The upload.
    pub id: UploadId,
    /// The raw `Range` header, interpreted once the length is known.
    pub range: Option<HeaderValue>,
}

/// What a request path points at, relative to the handler's base path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The upload collection (creation endpoint).
    Collection,
    /// One upload.
    Upload(UploadId),
}

impl Target {
    /// Resolves `path` against `base_path`.
    ///
    /// Works both when the framework passes the full path (`/files/abc`) and
    /// when it has already stripped the mount prefix (`/abc`, as axum's
    /// `nest_service` does). `None` means nothing here.
    pub fn resolve(path: &str, base_path: &str) -> Option<Self> {
        let base = base_path.trim_end_matches('/');
        let relative = match path.strip_prefix(base) {
            Some(rest) if !base.is_empty() && (rest.is_empty() || rest.starts_with('/')) => rest,
            _ => path,
        };
        let relative = relative.strip_prefix('/').unwrap_or(relative);
        let relative = relative.strip_suffix('/').unwrap_or(relative);
        if relative.is_empty() {
            return Some(Self::Collection);
        }
        UploadId::parse(relative).ok().map(Self::Upload)
    }
}

/// The method a request means: `X-HTTP-Method-Override` on a `POST`, else
/// the real one.
///
/// The override exists for clients that can only send GET and POST; it is
/// honoured on POST alone, so a safe method (GET, HEAD, OPTIONS) can never
/// be turned into one that changes state.
pub fn effective_method(method: &Method, headers: &HeaderMap) -> Result<Method, TusError> {
    if *method != Method::POST {
        return Ok(method.clone());
    }
    Ok(headers::decode::<XHttpMethodOverride>(headers)
        .map_err(TusError::from_header)?
        .map_or_else(|| method.clone(), |header| header.0))
}

impl TusRequest {
    /// Parses a request head. `method` is the effective method (see [`effective_method`]).
    ///
    /// Order of checks: version negotiation (skipped for OPTIONS and GET, which
    /// is not a tus request), then routing, then headers.
    pub fn parse(method: &Method, path: &str, headers: &HeaderMap, base_path: &str) -> Result<Self, TusError> {
        if *method == Method::OPTIONS {
            return Ok(Self::Options);
        }
        if *method != Method::GET {
            check_version(headers)?;
        }
        let target = Target::resolve(path, base_path).ok_or(TusError::NotFound)?;
        match (method, target) {
            (&Method::POST, Target::Collection) => parse_create(headers).map(Self::Create),
            (&Method::HEAD, Target::Upload(id)) => Ok(Self::Head(id)),
            (&Method::PATCH, Target::Upload(id)) => parse_append(id, headers).map(Self::Append),
            (&Method::DELETE, Target::Upload(id)) => Ok(Self::Terminate(id)),
            (&Method::GET, Target::Upload(id)) => Ok(Self::Download(DownloadRequest {
                id,
                range: headers.get(RANGE).cloned(),
            })),
            _ => Err(TusError::MethodNotAllowed),
        }
    }
}

fn check_version(headers: &HeaderMap) -> Result<(), TusError> {
    match headers::decode::<TusResumable>(headers) {
        Ok(Some(TusResumable(version))) if version == TUS_VERSION_1_0_0 => Ok(()),
        _ => Err(TusError::UnsupportedVersion),
    }
}

fn decode<H: headers::TusHeader>(headers: &HeaderMap) -> Result<Option<H>, TusError> {
    headers::decode::<H>(headers).map_err(TusError::from_header)
}

fn parse_create(headers: &HeaderMap) -> Result<CreateRequest, TusError> {
    let concat = decode::<UploadConcat>(headers)?;
    let length = decode::<UploadLength>(headers)?;
    let deferred = decode::<UploadDeferLength>(headers)?;
    let size = match (&concat, length, deferred) {
        (Some(UploadConcat::Final(_)), Some(_), _) => {
            return Err(TusError::InvalidHeader(
                HeaderKind::UploadLength,
                HeaderError::NotAllowed("a final upload takes its length from its partials"),
            ));
        }
        (Some(UploadConcat::Final(_)), None, Some(_)) => {
            return Err(TusError::InvalidHeader(
                HeaderKind::UploadDeferLength,
                HeaderError::NotAllowed("a final upload takes its length from its partials"),
            ));
        }
        (Some(UploadConcat::Final(_)), None, None) => None,
        (_, Some(_), Some(_)) => return Err(TusError::AmbiguousUploadLength),
        (_, Some(UploadLength(length)), None) => Some(UploadSize::Known(length)),
        (_, None, Some(UploadDeferLength)) => Some(UploadSize::Deferred),
        (_, None, None) => return Err(TusError::MissingUploadLength),
    };
    Ok(CreateRequest {
        size,
        metadata: decode::<Metadata>(headers)?.unwrap_or_default(),
        concat,
        checksum: checksum_claim(headers)?,
        with_upload: is_offset_octet_stream(headers),
        content_length: content_length(headers)?,
    })
}

fn parse_append(id: UploadId, headers: &HeaderMap) -> Result<AppendRequest, TusError> {
    if !is_offset_octet_stream(headers) {
        return Err(TusError::InvalidContentType);
    }
    let offset = decode::<UploadOffset>(headers)?.ok_or(TusError::MissingHeader(HeaderKind::UploadOffset))?;
    Ok(AppendRequest {
        id,
        offset: offset.0,
        length: decode::<UploadLength>(headers)?.map(|length| length.0),
        checksum: checksum_claim(headers)?,
        content_length: content_length(headers)?,
    })
}

/// The checksum a body announces: `Upload-Checksum`, else a trailer.
fn checksum_claim(headers: &HeaderMap) -> Result<Option<Verification>, TusError> {
    Ok(match decode::<UploadChecksum>(headers)? {
        Some(checksum) => Some(Verification::Header(checksum)),
        None => announces_checksum_trailer(headers).then_some(Verification::Trailer),
    })
}

/// Whether `Trailer` names `Upload-Checksum` (checksum-trailer extension).
fn announces_checksum_trailer(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::TRAILER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| {
            value.split(',').any(|name| {
                name.trim()
                    .eq_ignore_ascii_case(HeaderKind::UploadChecksum.lowercase_name())
            })
        })
}

/// Whether `Content-Type` is `application/offset+octet-stream` (parameters ignored).
pub fn is_offset_octet_stream(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
}

/// `Content-Length`, when present; `Err` when it is not a non-negative integer.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, TusError> {
    let Some(value) = headers.get(CONTENT_LENGTH) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok())
        .map(Some)
        .ok_or(TusError::InvalidContentLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::headers;

    const T: (&str, &str) = ("tus-resumable", "1.0.0");
    const OOS: (&str, &str) = ("content-type", "application/offset+octet-stream");

    #[test]
    fn target_resolution_table() {
        let id = |s: &str| Some(Target::Upload(UploadId::parse(s).expect("id")));
        let cases: &[(&str, &str, Option<Target>)] = &[
            ("/files/", "/files/", Some(Target::Collection)),
            ("/files", "/files/", Some(Target::Collection)),
            ("/files/abc", "/files/", id("abc")),
            ("/files/abc/", "/files/", id("abc")),
            ("/abc", "/files/", id("abc")),
            ("/", "/files/", Some(Target::Collection)),
            ("", "/files/", Some(Target::Collection)),
            // Outside the base path, the path is taken as already stripped
            // of its mount prefix (axum `nest_service`).
            ("/filesabc", "/files/", id("filesabc")),
            ("/files/a/b", "/files/", None),
            ("/files/..", "/files/", None),
            ("/files/%2e%2e", "/files/", None),
            ("/abc", "/", id("abc")),
        ];
        for (path, base, expected) in cases {
            assert_eq!(&Target::resolve(path, base), expected, "path {path:?} base {base:?}");
        }
    }

    #[test]
    fn version_negotiation_table() {
        let cases: &[(&Method, &[(&str, &str)], bool)] = &[
            (
                &Method::POST,
                &[("tus-resumable", "0.2.2"), ("upload-length", "5")],
                false,
            ),
            (&Method::POST, &[("upload-length", "5")], false),
            (&Method::POST, &[T, ("upload-length", "5")], true),
            (&Method::HEAD, &[], false),
            (&Method::OPTIONS, &[("tus-resumable", "9.9.9")], true),
            (&Method::GET, &[], true),
        ];
        for (method, list, ok) in cases {
            let path = if **method == Method::POST {
                "/files/"
            } else {
                "/files/abc"
            };
            let result = TusRequest::parse(method, path, &headers(list), "/files/");
            assert_eq!(
                !matches!(result, Err(TusError::UnsupportedVersion)),
                *ok,
                "{method} {list:?}: {result:?}"
            );
        }
    }

    #[test]
    fn creation_length_rules() {
        let parse = |list: &[(&str, &str)]| TusRequest::parse(&Method::POST, "/files/", &headers(list), "/files/");
        assert!(matches!(parse(&[T]), Err(TusError::MissingUploadLength)));
        assert!(matches!(
            parse(&[T, ("upload-defer-length", "2")]),
            Err(TusError::InvalidHeader(HeaderKind::UploadDeferLength, _))
        ));
        assert!(matches!(
            parse(&[T, ("upload-length", "5"), ("upload-defer-length", "1")]),
            Err(TusError::AmbiguousUploadLength)
        ));
        assert!(matches!(
            parse(&[T, ("upload-length", "-5")]),
            Err(TusError::InvalidHeader(HeaderKind::UploadLength, _))
        ));
        assert!(matches!(
            parse(&[T, ("upload-concat", "final;/files/a"), ("upload-length", "5")]),
            Err(TusError::InvalidHeader(HeaderKind::UploadLength, _))
        ));
        let Ok(TusRequest::Create(create)) = parse(&[T, ("upload-length", "100"), OOS, ("content-length", "5")]) else {
            panic!("expected creation");
        };
        assert_eq!(create.size, Some(UploadSize::Known(100)));
        assert!(create.with_upload);
        assert_eq!(create.content_length, Some(5));
        let Ok(TusRequest::Create(deferred)) = parse(&[T, ("upload-defer-length", "1")]) else {
            panic!("expected creation");
        };
        assert_eq!(deferred.size, Some(UploadSize::Deferred));
        assert!(!deferred.with_upload);
    }

    #[test]
    fn append_header_rules() {
        let parse = |list: &[(&str, &str)]| TusRequest::parse(&Method::PATCH, "/files/abc", &headers(list), "/files/");
        assert!(matches!(
            parse(&[T, ("upload-offset", "0")]),
            Err(TusError::InvalidContentType)
        ));
        assert!(matches!(
            parse(&[T, ("upload-offset", "0"), ("content-type", "application/octet-stream")]),
            Err(TusError::InvalidContentType)
        ));
        assert!(matches!(
            parse(&[T, OOS]),
            Err(TusError::MissingHeader(HeaderKind::UploadOffset))
        ));
        for bad in ["-1", "abc", "1.5"] {
            assert!(matches!(
                parse(&[T, OOS, ("upload-offset", bad)]),
                Err(TusError::InvalidHeader(HeaderKind::UploadOffset, _))
            ));
        }
        assert!(matches!(
            parse(&[T, OOS, ("upload-offset", "0"), ("upload-checksum", "whirlpool AAAA")]),
            Err(TusError::UnsupportedChecksumAlgorithm)
        ));
        let Ok(TusRequest::Append(append)) = parse(&[
            T,
            ("content-type", "Application/Offset+Octet-Stream; x=y"),
            ("upload-offset", "70"),
        ]) else {
            panic!("expected append");
        };
        assert_eq!(append.offset, 70);
        assert_eq!(append.content_length, None);
    }

    #[test]
    fn method_override_and_routing() {
        let map = headers(&[("x-http-method-override", "DELETE")]);
        assert_eq!(effective_method(&Method::POST, &map).expect("override"), Method::DELETE);
        for safe in [Method::GET, Method::HEAD, Method::OPTIONS, Method::PATCH] {
            assert_eq!(
                effective_method(&safe, &map).expect("ignored"),
                safe,
                "only POST is overridden"
            );
        }
        assert!(effective_method(&Method::POST, &headers(&[("x-http-method-override", "BREW")])).is_err());
        assert!(matches!(
            TusRequest::parse(&Method::PUT, "/files/abc", &headers(&[T]), "/files/"),
            Err(TusError::MethodNotAllowed)
        ));
        assert!(matches!(
            TusRequest::parse(&Method::POST, "/files/abc", &headers(&[T]), "/files/"),
            Err(TusError::MethodNotAllowed)
        ));
        assert!(matches!(
            TusRequest::parse(&Method::HEAD, "/other/a/b", &headers(&[T]), "/files/"),
            Err(TusError::NotFound)
        ));
    }
}
