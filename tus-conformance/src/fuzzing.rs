//! The bodies of the fuzz targets in `fuzz/`, as plain functions.
//!
//! Each function takes the fuzzer's bytes and panics when a property
//! breaks. The cargo-fuzz targets are one-line wrappers, and
//! `tests/fuzz_corpora.rs` replays every checked-in corpus file through the
//! same functions on the stable toolchain, so the corpora are regression
//! tests of `cargo test`.
//!
//! | target | property |
//! |---|---|
//! | [`header`], through `header_length`, `header_version`, ... (every tus header) | decoding never panics; a decoded value re-encodes canonically and decodes to itself |
//! | [`header_ietf`] | the IETF draft's structured fields: as for every header; the RFC 9651 parsers never panic |
//! | [`range`] | a resolved `Range` lies inside the upload; errors are 416 |
//! | [`request`] | any request head parses to a request or a 4xx, never a panic or a 5xx |
//! | [`metadata_round_trip`] | parse → encode → parse is the identity; built metadata within the limits survives encode → parse |
//! | [`stateful`] | random request sequences through [`TusHandler`](tus_server::TusHandler) on the memory store agree with a reference model |

mod model;

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use tus_core::headers::{
    Metadata, MetadataError, TusChecksumAlgorithm, TusExtension, TusHeader, TusMaxSize, TusResumable, TusVersion,
    UploadChecksum, UploadConcat, UploadDeferLength, UploadExpires, UploadLength, UploadOffset, XHttpMethodOverride,
};
use tus_core::server::download::resolve_range;
use tus_core::server::request::{TusRequest, effective_method};

pub use model::stateful;

/// Decodes `data` as header `H`; a value that decodes must re-encode to a
/// value that decodes to the same thing and encodes the same again.
pub fn header<H: TusHeader + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let Ok(parsed) = H::decode(&value) else {
        return;
    };
    let encoded = parsed.encode();
    let again = H::decode(&encoded)
        .unwrap_or_else(|error| panic!("{:?} encodes to {encoded:?}, which does not decode: {error}", parsed));
    assert_eq!(again, parsed, "{encoded:?} decodes to something else");
    assert_eq!(again.encode(), encoded, "encoding is not canonical");
}

/// Splits off the first byte, which picks one of `n` headers.
fn pick(data: &[u8], n: u8) -> (u8, &[u8]) {
    data.split_first().map_or((0, data), |(&first, rest)| (first % n, rest))
}

/// `Upload-Offset`, `Upload-Length`, `Tus-Max-Size` and `Upload-Defer-Length`
/// (the first byte picks one).
pub fn header_length(data: &[u8]) {
    match pick(data, 4) {
        (0, rest) => header::<UploadOffset>(rest),
        (1, rest) => header::<UploadLength>(rest),
        (2, rest) => header::<TusMaxSize>(rest),
        (_, rest) => header::<UploadDeferLength>(rest),
    }
}

/// `Tus-Resumable` and `Tus-Version` (the first byte picks one).
pub fn header_version(data: &[u8]) {
    match pick(data, 2) {
        (0, rest) => header::<TusResumable>(rest),
        (_, rest) => header::<TusVersion>(rest),
    }
}

/// The IETF draft's structured fields: `Upload-Complete`, `Upload-Offset`,
/// `Upload-Length`, `Upload-Limit`, `Upload-Draft-Interop-Version` (the first
/// byte picks one; round-tripped like every header), and the raw RFC 9651
/// item and dictionary parsers, which must never panic.
pub fn header_ietf(data: &[u8]) {
    use tus_core::headers::ietf;
    match pick(data, 6) {
        (0, rest) => header::<ietf::UploadComplete>(rest),
        (1, rest) => header::<ietf::UploadOffset>(rest),
        (2, rest) => header::<ietf::UploadLength>(rest),
        (3, rest) => header::<ietf::UploadLimit>(rest),
        (4, rest) => header::<ietf::InteropVersion>(rest),
        (_, rest) => {
            let _ = tus_core::headers::sf::item(rest);
            let _ = tus_core::headers::sf::dictionary(rest);
        }
    }
}

/// `Tus-Extension`.
pub fn header_extension(data: &[u8]) {
    header::<TusExtension>(data);
}

/// `Upload-Checksum` and `Tus-Checksum-Algorithm` (the first byte picks one).
pub fn header_checksum(data: &[u8]) {
    match pick(data, 2) {
        (0, rest) => header::<UploadChecksum>(rest),
        (_, rest) => header::<TusChecksumAlgorithm>(rest),
    }
}

/// `Upload-Concat`.
pub fn header_concat(data: &[u8]) {
    header::<UploadConcat>(data);
}

/// `Upload-Expires`.
pub fn header_expires(data: &[u8]) {
    header::<UploadExpires>(data);
}

/// `X-HTTP-Method-Override`.
pub fn header_method_override(data: &[u8]) {
    header::<XHttpMethodOverride>(data);
}

/// `Upload-Metadata`, through its header decoder.
pub fn header_metadata(data: &[u8]) {
    header::<Metadata>(data);
}

/// Resolves the rest of `data` as a `Range` header against a length taken
/// from its first 8 bytes.
pub fn range(data: &[u8]) {
    let (length, text) = match data.split_first_chunk::<8>() {
        Some((length, text)) => (u64::from_le_bytes(*length) >> (length[0] % 64), text),
        None => (0, data),
    };
    let Ok(value) = HeaderValue::from_bytes(text) else {
        return;
    };
    match resolve_range(Some(&value), length) {
        Ok(Some(range)) => assert!(
            range.start < range.end && range.end <= length,
            "{value:?} of {length} resolved to {range:?}"
        ),
        Ok(None) => {}
        Err(error) => assert_eq!(error.status(), 416, "{value:?} of {length}: {error}"),
    }
}

const METHODS: [&str; 10] = [
    "POST", "PATCH", "HEAD", "DELETE", "GET", "OPTIONS", "PUT", "BREW", "TRACE", "CONNECT",
];
const HEADERS: [&str; 16] = [
    "tus-resumable",
    "upload-length",
    "upload-offset",
    "upload-defer-length",
    "upload-metadata",
    "upload-concat",
    "upload-checksum",
    "content-type",
    "content-length",
    "x-http-method-override",
    "trailer",
    "range",
    "origin",
    "access-control-request-method",
    "tus-version",
    "tus-extension",
];

/// A request head from `data`: a method, a path and up to 16 headers,
/// separated by newlines; each header line starts with a byte naming one of
/// the tus-relevant headers. Parsing it must give a request or a 4xx.
pub fn request(data: &[u8]) {
    let mut lines = data.split(|&b| b == b'\n');
    let method_byte = lines.next().and_then(|line| line.first().copied()).unwrap_or(0);
    let method =
        Method::from_bytes(METHODS[usize::from(method_byte) % METHODS.len()].as_bytes()).unwrap_or(Method::GET);
    let path = lines.next().unwrap_or_default();
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let Ok(uri) = format!("/files/{path}").parse::<http::Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines.take(16) {
        let Some((&selector, value)) = line.split_first() else {
            continue;
        };
        let name = HeaderName::from_static(HEADERS[usize::from(selector) % HEADERS.len()]);
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(name, value);
        }
    }
    let method = match effective_method(&method, &headers) {
        Ok(method) => method,
        Err(error) => {
            assert!(error.status().is_client_error(), "{error:?}");
            return;
        }
    };
    match TusRequest::parse(&method, uri.path(), &headers, "/files/") {
        Ok(TusRequest::Create(create)) => {
            assert!(create.metadata.len() <= Metadata::MAX_PAIRS);
        }
        Ok(_) => {}
        Err(error) => assert!(
            error.status().is_client_error(),
            "{method} {uri} {headers:?} gave {error:?}"
        ),
    }
}

/// Both directions of `Upload-Metadata`: `data` parsed as a header must
/// round-trip byte-exact through encoding, and `data` read as pairs of raw
/// keys and values must survive encode → parse when within the limits.
pub fn metadata_round_trip(data: &[u8]) {
    if let Ok(parsed) = Metadata::parse(data) {
        let text = parsed.to_header_string();
        assert_eq!(Metadata::parse(text.as_bytes()).as_ref(), Ok(&parsed), "{text:?}");
    }
    // Pairs: a key length byte, the key, a value length byte, the value.
    let mut built = Metadata::new();
    let mut rest = data;
    while let Some((&key_len, tail)) = rest.split_first() {
        let (key, tail) = tail.split_at(usize::from(key_len % 16).min(tail.len()));
        let Some((&value_len, tail)) = tail.split_first() else {
            break;
        };
        let (value, tail) = tail.split_at(usize::from(value_len).min(tail.len()));
        rest = tail;
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        match built.insert(key, value) {
            Ok(()) | Err(MetadataError::DuplicateKey(_) | MetadataError::EmptyKey | MetadataError::InvalidKey(_)) => {}
            Err(error) => panic!("insert failed unexpectedly: {error}"),
        }
    }
    let text = built.to_header_string();
    match Metadata::parse(text.as_bytes()) {
        Ok(parsed) => assert_eq!(parsed, built, "{text:?}"),
        Err(MetadataError::TooLong) => assert!(text.len() > Metadata::MAX_LEN),
        Err(MetadataError::TooManyPairs) => assert!(built.len() > Metadata::MAX_PAIRS),
        Err(error) => panic!("{text:?} built from valid pairs does not parse: {error}"),
    }
}

/// Every target's name (its file in `fuzz/fuzz_targets/` and its corpus
/// directory in `fuzz/corpus/`) and function.
pub const TARGETS: &[(&str, fn(&[u8]))] = &[
    ("header_length", header_length),
    ("header_version", header_version),
    ("header_extension", header_extension),
    ("header_checksum", header_checksum),
    ("header_concat", header_concat),
    ("header_expires", header_expires),
    ("header_method_override", header_method_override),
    ("header_metadata", header_metadata),
    ("header_ietf", header_ietf),
    ("range", range),
    ("request", request),
    ("metadata_round_trip", metadata_round_trip),
    ("stateful", stateful),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_accept_valid_and_invalid_inputs() {
        header::<UploadOffset>(b"42");
        header::<UploadOffset>(b"-1");
        header::<UploadConcat>(b"final;/files/a http://x/files/b");
        range(b"\x10\0\0\0\0\0\0\0bytes=2-4");
        request(b"\0\nabc\n\x01123\n\x04a YQ==");
        metadata_round_trip(b"a YQ==,b");
        metadata_round_trip(b"\x03key\x02\xff\x00");
    }
}
