//! Parsing a draft request head into a typed [`IetfRequest`]: routing and
//! every field, before any body is read.

use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, RANGE, TRANSFER_ENCODING};
use http::{HeaderMap, Method};

use super::error::IetfError;
use crate::headers::ietf::{InteropVersion, UploadComplete, UploadLength, UploadOffset};
use crate::headers::{self, HeaderKind, Metadata, TusHeader};
use crate::server::TusError;
use crate::server::request::{DownloadRequest, Target};
use crate::upload::UploadId;

/// The media type of an append's content.
pub const PARTIAL_UPLOAD: &str = "application/partial-upload";

/// A draft request, fully parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IetfRequest {
    /// `OPTIONS`: the limits.
    Options,
    /// A request to the collection carrying `Upload-Complete`: upload creation.
    Create(CreateRequest),
    /// `HEAD` of an upload: offset retrieval.
    Head(UploadId),
    /// `GET` of an upload: offset retrieval (interop 9), with the bytes of a
    /// complete upload.
    Get(DownloadRequest),
    /// `PATCH` of an upload with `application/partial-upload`: append.
    Append(AppendRequest),
    /// `DELETE` of an upload: cancellation.
    Cancel(UploadId),
}

/// An upload creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRequest {
    /// `Upload-Complete`: the content is the whole representation.
    pub complete: bool,
    /// `Upload-Length`.
    pub length: Option<u64>,
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
    /// Whether the request has content (a non-zero `Content-Length`, or
    /// `Transfer-Encoding`).
    pub has_content: bool,
    /// Metadata: `Upload-Metadata` if sent (tus-js-client does), plus the
    /// representation's `Content-Type` (as `filetype`) and the
    /// `Content-Disposition` file name (as `filename`).
    pub metadata: Metadata,
}

/// An upload append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendRequest {
    /// The upload.
    pub id: UploadId,
    /// `Upload-Offset`.
    pub offset: u64,
    /// `Upload-Complete` (interop 6 allows leaving it out: not the last part).
    pub complete: bool,
    /// `Upload-Length`.
    pub length: Option<u64>,
    /// `Content-Length`, when known.
    pub content_length: Option<u64>,
    /// Whether the request has content.
    pub has_content: bool,
}

impl IetfRequest {
    /// Parses a request of interop `version`. `method` is the effective method.
    pub fn parse(
        version: InteropVersion,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
        base_path: &str,
    ) -> Result<Self, IetfError> {
        if *method == Method::OPTIONS {
            return Ok(Self::Options);
        }
        let target = Target::resolve(path, base_path).ok_or(TusError::NotFound)?;
        match (method, target) {
            (&Method::POST, Target::Collection) => parse_create(headers).map(Self::Create),
            (&Method::HEAD, Target::Upload(id)) => {
                if version == InteropVersion::V6 {
                    refuse_state_fields(headers, &[HeaderKind::UploadOffset, HeaderKind::UploadComplete])?;
                    refuse_state_fields(headers, &[HeaderKind::UploadLength])?;
                }
                Ok(Self::Head(id))
            }
            (&Method::GET, Target::Upload(id)) => Ok(Self::Get(DownloadRequest {
                id,
                range: headers.get(RANGE).cloned(),
            })),
            (&Method::PATCH, Target::Upload(id)) => parse_append(version, id, headers).map(Self::Append),
            (&Method::DELETE, Target::Upload(id)) => {
                if version == InteropVersion::V6 {
                    refuse_state_fields(headers, &[HeaderKind::UploadOffset, HeaderKind::UploadComplete])?;
                }
                Ok(Self::Cancel(id))
            }
            _ => Err(TusError::MethodNotAllowed.into()),
        }
    }
}

fn decode<H: TusHeader>(headers: &HeaderMap) -> Result<Option<H>, IetfError> {
    headers::decode::<H>(headers).map_err(|error| TusError::from_header(error).into())
}

/// Interop 6: offset retrieval and cancellation must not carry upload state.
fn refuse_state_fields(headers: &HeaderMap, kinds: &[HeaderKind]) -> Result<(), IetfError> {
    match kinds.iter().find(|kind| headers.contains_key(kind.name())) {
        Some(kind) => Err(IetfError::HeaderNotAllowed(*kind)),
        None => Ok(()),
    }
}

fn parse_create(headers: &HeaderMap) -> Result<CreateRequest, IetfError> {
    let complete = decode::<UploadComplete>(headers)?.ok_or(TusError::MissingHeader(HeaderKind::UploadComplete))?;
    if headers.contains_key(HeaderKind::UploadOffset.name()) {
        return Err(IetfError::HeaderNotAllowed(HeaderKind::UploadOffset));
    }
    let content_length = content_length(headers)?;
    Ok(CreateRequest {
        complete: complete.0,
        length: decode::<UploadLength>(headers)?.map(|length| length.0),
        content_length,
        has_content: has_content(headers, content_length),
        metadata: metadata(headers)?,
    })
}

fn parse_append(version: InteropVersion, id: UploadId, headers: &HeaderMap) -> Result<AppendRequest, IetfError> {
    if !is_partial_upload(headers) {
        return Err(IetfError::NotPartialUpload);
    }
    let offset = decode::<UploadOffset>(headers)?.ok_or(TusError::MissingHeader(HeaderKind::UploadOffset))?;
    let complete = match decode::<UploadComplete>(headers)? {
        Some(complete) => complete.0,
        // Interop 6 only asks for `?0` on parts that are not the last; its
        // own examples leave the field out.
        None if version == InteropVersion::V6 => false,
        None => return Err(TusError::MissingHeader(HeaderKind::UploadComplete).into()),
    };
    let content_length = content_length(headers)?;
    Ok(AppendRequest {
        id,
        offset: offset.0,
        complete,
        length: decode::<UploadLength>(headers)?.map(|length| length.0),
        content_length,
        has_content: has_content(headers, content_length),
    })
}

/// Whether `Content-Type` is `application/partial-upload` (parameters ignored).
pub fn is_partial_upload(headers: &HeaderMap) -> bool {
    media_type(headers).is_some_and(|media_type| media_type.eq_ignore_ascii_case(PARTIAL_UPLOAD))
}

fn media_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(str::trim)
}

fn content_length(headers: &HeaderMap) -> Result<Option<u64>, IetfError> {
    crate::server::request::content_length(headers).map_err(Into::into)
}

fn has_content(headers: &HeaderMap, content_length: Option<u64>) -> bool {
    content_length.map_or_else(|| headers.contains_key(TRANSFER_ENCODING), |length| length > 0)
}

/// The metadata a creation carries: `Upload-Metadata`, then the
/// representation's media type and file name where not given there.
fn metadata(headers: &HeaderMap) -> Result<Metadata, IetfError> {
    let mut metadata = decode::<Metadata>(headers)?.unwrap_or_default();
    if metadata.get("filetype").is_none()
        && let Some(media_type) = media_type(headers).filter(|t| !t.eq_ignore_ascii_case(PARTIAL_UPLOAD))
        && !media_type.is_empty()
    {
        // A media type is a few dozen visible characters: within the limits.
        let _ = metadata.set("filetype", media_type.as_bytes());
    }
    if metadata.get("filename").is_none()
        && let Some(name) = headers
            .get(CONTENT_DISPOSITION)
            .and_then(|value| value.to_str().ok())
            .and_then(disposition_filename)
    {
        let _ = metadata.set("filename", name);
    }
    Ok(metadata)
}

/// The file name of a `Content-Disposition` value: `filename*=UTF-8''…`
/// (percent-decoded) if present, else `filename=…` (quoted or a token).
fn disposition_filename(value: &str) -> Option<Vec<u8>> {
    let mut plain = None;
    for parameter in value.split(';').skip(1) {
        let Some((name, raw)) = parameter.split_once('=') else {
            continue;
        };
        let (name, raw) = (name.trim(), raw.trim());
        if name.eq_ignore_ascii_case("filename*") {
            let encoded = raw.split_once("''").map(|(_, encoded)| encoded)?;
            return percent_decode(encoded).filter(|name| !name.is_empty());
        }
        if name.eq_ignore_ascii_case("filename") {
            let unquoted = raw
                .strip_prefix('"')
                .and_then(|rest| rest.strip_suffix('"'))
                .unwrap_or(raw);
            plain = Some(unquoted.replace("\\\"", "\"").into_bytes()).filter(|name| !name.is_empty());
        }
    }
    plain
}

fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::headers;

    #[allow(clippy::needless_pass_by_value)]
    fn parse(version: u64, method: Method, path: &str, list: &[(&str, &str)]) -> Result<IetfRequest, IetfError> {
        let method = &method;
        IetfRequest::parse(InteropVersion(version), method, path, &headers(list), "/files/")
    }

    const PARTIAL: (&str, &str) = ("content-type", PARTIAL_UPLOAD);

    #[test]
    fn creation_table() {
        let Ok(IetfRequest::Create(create)) = parse(
            9,
            Method::POST,
            "/files/",
            &[
                ("upload-complete", "?1"),
                ("upload-length", "5"),
                ("content-length", "5"),
                ("content-type", "image/png"),
                (
                    "content-disposition",
                    "inline; filename=\"a b.png\"; filename*=UTF-8''caf%C3%A9.png",
                ),
            ],
        ) else {
            panic!("expected a creation");
        };
        assert!(create.complete && create.has_content);
        assert_eq!((create.length, create.content_length), (Some(5), Some(5)));
        assert_eq!(create.metadata.get_str("filetype"), Some("image/png"));
        assert_eq!(create.metadata.get("filename"), Some("café.png".as_bytes()));

        let code = |result: Result<IetfRequest, IetfError>| result.map(|_| ()).map_err(|e| e.code());
        assert_eq!(
            code(parse(9, Method::POST, "/files/", &[])),
            Err("ERR_MISSING_UPLOAD_COMPLETE")
        );
        assert_eq!(
            code(parse(9, Method::POST, "/files/", &[("upload-complete", "1")])),
            Err("ERR_INVALID_UPLOAD_COMPLETE")
        );
        assert_eq!(
            code(parse(
                6,
                Method::POST,
                "/files/",
                &[("upload-complete", "?0"), ("upload-offset", "0")]
            )),
            Err("ERR_HEADER_NOT_ALLOWED")
        );
        assert_eq!(
            code(parse(
                9,
                Method::POST,
                "/files/",
                &[("upload-complete", "?0"), ("upload-length", "-1")]
            )),
            Err("ERR_INVALID_UPLOAD_LENGTH")
        );
        let Ok(IetfRequest::Create(partial)) = parse(
            6,
            Method::POST,
            "/files/",
            &[
                ("upload-complete", "?0"),
                ("content-type", PARTIAL_UPLOAD),
                ("transfer-encoding", "chunked"),
            ],
        ) else {
            panic!("expected a creation");
        };
        assert!(partial.has_content && partial.metadata.is_empty());
    }

    #[test]
    fn append_table() {
        let code = |result: Result<IetfRequest, IetfError>| result.map(|_| ()).map_err(|e| e.code());
        let path = "/files/abc";
        assert_eq!(
            code(parse(
                9,
                Method::PATCH,
                path,
                &[("upload-offset", "0"), ("upload-complete", "?0")]
            )),
            Err("ERR_INVALID_CONTENT_TYPE")
        );
        assert_eq!(
            code(parse(9, Method::PATCH, path, &[PARTIAL, ("upload-complete", "?0")])),
            Err("ERR_MISSING_OFFSET")
        );
        assert_eq!(
            code(parse(9, Method::PATCH, path, &[PARTIAL, ("upload-offset", "0")])),
            Err("ERR_MISSING_UPLOAD_COMPLETE")
        );
        assert_eq!(
            code(parse(
                8,
                Method::PATCH,
                path,
                &[PARTIAL, ("upload-offset", "5.0"), ("upload-complete", "?0")]
            )),
            Err("ERR_INVALID_OFFSET")
        );
        let Ok(IetfRequest::Append(six)) = parse(6, Method::PATCH, path, &[PARTIAL, ("upload-offset", "7")]) else {
            panic!("interop 6 may leave Upload-Complete out");
        };
        assert_eq!((six.offset, six.complete, six.has_content), (7, false, false));
    }

    #[test]
    fn interop_6_refuses_state_on_head_and_delete() {
        for method in [Method::HEAD, Method::DELETE] {
            let refused = parse(6, method.clone(), "/files/abc", &[("upload-offset", "0")]);
            assert!(matches!(refused, Err(IetfError::HeaderNotAllowed(_))), "{method}");
            assert!(parse(9, method, "/files/abc", &[("upload-offset", "0")]).is_ok());
        }
        assert!(matches!(
            parse(6, Method::HEAD, "/files/abc", &[("upload-length", "1")]),
            Err(IetfError::HeaderNotAllowed(HeaderKind::UploadLength))
        ));
    }
}
