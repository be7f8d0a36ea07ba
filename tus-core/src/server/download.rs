//! GET download of a completed upload: `Range`, `Content-Type` and a
//! sanitized `Content-Disposition` from the upload's metadata.

use std::ops::Range;

use http::header::{ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};

use super::error::TusError;
use crate::headers::Metadata;

/// Media types safe to show inline in a browser; everything else downloads
/// as an attachment (so an uploaded HTML or SVG file cannot run script).
const INLINE_TYPES: &[&str] = &[
    "text/plain",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/bmp",
    "image/webp",
    "image/avif",
    "audio/wave",
    "audio/wav",
    "audio/x-wav",
    "audio/webm",
    "audio/ogg",
    "audio/mpeg",
    "video/mp4",
    "video/webm",
    "video/ogg",
    "application/ogg",
    "application/pdf",
];

/// Which bytes of an upload of `length` bytes a GET asks for.
///
/// Only a single `bytes=` range is honoured; a malformed or multi-range
/// header is ignored (the whole body is sent), as RFC 9110 allows. A range
/// that starts past the end is [`TusError::RangeNotSatisfiable`].
pub fn resolve_range(header: Option<&HeaderValue>, length: u64) -> Result<Option<Range<u64>>, TusError> {
    let Some(spec) = header
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().strip_prefix("bytes="))
    else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    let unsatisfiable = TusError::RangeNotSatisfiable { length };
    match (first.trim().is_empty(), number(first), number(last)) {
        (true, _, Some(suffix)) => {
            if suffix == 0 || length == 0 {
                return Err(unsatisfiable);
            }
            Ok(Some(length.saturating_sub(suffix)..length))
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if start >= length {
                return Err(unsatisfiable);
            }
            let end = end.map_or(length, |end| end.saturating_add(1).min(length));
            if end <= start {
                return Ok(None);
            }
            Ok(Some(start..end))
        }
        _ => Ok(None),
    }
}

/// Status and headers of a download response for `range` of an upload of `length` bytes.
pub fn download_head(metadata: &Metadata, length: u64, range: Option<&Range<u64>>) -> (StatusCode, HeaderMap) {
    let mut headers = HeaderMap::new();
    let media_type = media_type(metadata);
    let inline = INLINE_TYPES.contains(&media_type.as_str());
    if let Ok(value) = HeaderValue::from_str(&media_type) {
        headers.insert(CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&content_disposition(inline, metadata.get("filename"))) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    headers.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let status = match range {
        Some(range) => {
            if let Ok(value) = HeaderValue::from_str(&format!(
                "bytes {}-{}/{length}",
                range.start,
                range.end.saturating_sub(1)
            )) {
                headers.insert(CONTENT_RANGE, value);
            }
            headers.insert(CONTENT_LENGTH, HeaderValue::from(range.end.saturating_sub(range.start)));
            StatusCode::PARTIAL_CONTENT
        }
        None => {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
            StatusCode::OK
        }
    };
    (status, headers)
}

/// `filetype` when it is a plain `type/subtype` of token characters, else octet-stream.
fn media_type(metadata: &Metadata) -> String {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    metadata
        .get_str("filetype")
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| {
            value
                .split_once('/')
                .is_some_and(|(kind, sub)| token(kind) && token(sub))
        })
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// `inline` or `attachment`, with an ASCII `filename` fallback and an RFC 8187
/// `filename*` for the exact name. Path parts and control characters are removed.
fn content_disposition(inline: bool, filename: Option<&[u8]>) -> String {
    let kind = if inline { "inline" } else { "attachment" };
    let name = filename.map(String::from_utf8_lossy).unwrap_or_default();
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(255).collect();
    let clean = clean.trim();
    if clean.is_empty() || clean == "." || clean == ".." {
        return kind.to_owned();
    }
    let ascii: String = clean
        .chars()
        .map(|c| if c.is_ascii() && c != '"' && c != '\\' { c } else { '_' })
        .collect();
    let mut encoded = String::new();
    for byte in clean.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_table() {
        let cases: &[(&str, u64, Result<Option<Range<u64>>, ()>)] = &[
            ("bytes=0-4", 10, Ok(Some(0..5))),
            ("bytes=5-", 10, Ok(Some(5..10))),
            ("bytes=-3", 10, Ok(Some(7..10))),
            ("bytes=-30", 10, Ok(Some(0..10))),
            ("bytes=8-100", 10, Ok(Some(8..10))),
            ("bytes=10-", 10, Err(())),
            ("bytes=-0", 10, Err(())),
            ("bytes=0-", 0, Err(())),
            ("bytes=5-2", 10, Ok(None)),
            ("bytes=0-1,3-4", 10, Ok(None)),
            ("items=0-1", 10, Ok(None)),
            ("bytes=a-b", 10, Ok(None)),
        ];
        for (input, length, expected) in cases {
            let got = resolve_range(Some(&HeaderValue::from_str(input).expect("value")), *length).map_err(|_| ());
            assert_eq!(&got, expected, "input {input:?}");
        }
        assert_eq!(resolve_range(None, 10).ok(), Some(None));
    }

    fn metadata(list: &[(&str, &[u8])]) -> Metadata {
        let mut metadata = Metadata::new();
        for (key, value) in list {
            metadata.insert(*key, value.to_vec()).expect("insert");
        }
        metadata
    }

    #[test]
    fn disposition_is_sanitized() {
        let cases: &[(&[u8], &str)] = &[
            (
                b"report.pdf",
                "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
            ),
            (
                b"../../etc/passwd",
                "attachment; filename=\"passwd\"; filename*=UTF-8''passwd",
            ),
            (
                b"a\r\nSet-Cookie: x=1.txt",
                "attachment; filename=\"aSet-Cookie: x=1.txt\"; filename*=UTF-8''aSet-Cookie%3A%20x%3D1.txt",
            ),
            (
                "na\u{ef}ve \"q\".txt".as_bytes(),
                "attachment; filename=\"na_ve _q_.txt\"; filename*=UTF-8''na%C3%AFve%20%22q%22.txt",
            ),
            (b"..", "attachment"),
            (b"", "attachment"),
        ];
        for (name, expected) in cases {
            let (_, headers) = download_head(&metadata(&[("filename", name)]), 1, None);
            assert_eq!(headers[CONTENT_DISPOSITION], *expected, "name {name:?}");
        }
    }

    #[test]
    fn content_type_and_inline_policy() {
        let cases: &[(&[u8], &str, &str)] = &[
            (b"image/png", "image/png", "inline"),
            (b"text/html", "text/html", "attachment"),
            (b"image/svg+xml", "image/svg+xml", "attachment"),
            (b"text/html\r\nX: y", "application/octet-stream", "attachment"),
            (b"nonsense", "application/octet-stream", "attachment"),
        ];
        for (filetype, content_type, disposition) in cases {
            let (status, headers) = download_head(&metadata(&[("filetype", filetype)]), 10, Some(&(2..5)));
            assert_eq!(status, StatusCode::PARTIAL_CONTENT);
            assert_eq!(headers[CONTENT_TYPE], *content_type);
            assert_eq!(headers[CONTENT_DISPOSITION], *disposition);
            assert_eq!(headers[CONTENT_RANGE], "bytes 2-4/10");
            assert_eq!(headers[CONTENT_LENGTH], "3");
        }
    }
}
