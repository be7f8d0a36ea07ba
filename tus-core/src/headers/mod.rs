//! Typed tus headers: one type per header, each parsed once at the edge.
//! The IETF draft's structured fields are in [`ietf`].
//!
//! Every header implements [`TusHeader`], which pairs a [`HeaderKind`] (the
//! header's identity, used for error codes) with strict decoding and
//! canonical encoding. [`decode`] tells an absent header (`Ok(None)`) from a
//! malformed one (`Err`), so no caller confuses the two.

mod checksum;
mod concat;
mod expires;
mod extension;
pub mod ietf;
mod kind;
mod length;
mod metadata;
mod method_override;
pub mod sf;
mod version;

pub use checksum::{ChecksumAlgorithm, TusChecksumAlgorithm, UploadChecksum};
pub use concat::UploadConcat;
pub use expires::UploadExpires;
pub use extension::{Extension, TusExtension};
pub use kind::HeaderKind;
pub use length::{TusMaxSize, UploadDeferLength, UploadLength, UploadOffset};
pub use metadata::{Metadata, MetadataError};
pub use method_override::XHttpMethodOverride;
pub use version::{TUS_VERSION_1_0_0, TusResumable, TusVersion, Version};

use http::{HeaderMap, HeaderValue};

/// Why a header value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The header appeared more than once.
    #[error("header is repeated")]
    Repeated,
    /// The value holds bytes that are not visible ASCII.
    #[error("value is not visible ASCII")]
    NotAscii,
    /// The value is not a non-negative decimal integer that fits in 63 bits.
    #[error("value is not a non-negative integer")]
    NotAnInteger,
    /// The value is outside the set the header allows.
    #[error("value is not allowed: {0}")]
    NotAllowed(&'static str),
    /// The `Upload-Metadata` value is malformed.
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    /// The value is malformed in some other way.
    #[error("{0}")]
    Malformed(&'static str),
}

/// A header of the tus protocol with a strict decoder and a canonical encoder.
pub trait TusHeader: Sized {
    /// Which header this is.
    const KIND: HeaderKind;

    /// Parses one header value.
    fn decode(value: &HeaderValue) -> Result<Self, HeaderError>;

    /// Renders the canonical header value.
    fn encode(&self) -> HeaderValue;
}

/// Reads header `H` from `headers`: `Ok(None)` when absent, `Err` when present
/// but malformed or repeated.
pub fn decode<H: TusHeader>(headers: &HeaderMap) -> Result<Option<H>, (HeaderKind, HeaderError)> {
    // Built at compile time: `HeaderName::from_static` at run time validates
    // the name on every call, a visible share of parsing a request head.
    let name = const { H::KIND.name() };
    let mut values = headers.get_all(&name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err((H::KIND, HeaderError::Repeated));
    }
    H::decode(first).map(Some).map_err(|error| (H::KIND, error))
}

/// Writes header `H` into `headers`, replacing any earlier value.
pub fn encode<H: TusHeader>(headers: &mut HeaderMap, header: &H) {
    headers.insert(const { H::KIND.name() }, header.encode());
}

/// The value as `&str` when it is visible ASCII (spaces and tabs allowed).
fn ascii(value: &HeaderValue) -> Result<&str, HeaderError> {
    value.to_str().map_err(|_| HeaderError::NotAscii)
}

/// Parses a non-negative decimal integer of at most 63 bits: digits only, no
/// sign, no surrounding whitespace beyond what HTTP already trimmed.
fn non_negative_integer(value: &HeaderValue) -> Result<u64, HeaderError> {
    let text = ascii(value)?.trim();
    if text.is_empty() || text.len() > 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::NotAnInteger);
    }
    let number: u64 = text.parse().map_err(|_| HeaderError::NotAnInteger)?;
    if number > i64::MAX as u64 {
        return Err(HeaderError::NotAnInteger);
    }
    Ok(number)
}

fn integer_value(number: u64) -> HeaderValue {
    HeaderValue::from(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_strict() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("70", Some(70)),
            ("9223372036854775807", Some(i64::MAX as u64)),
            ("9223372036854775808", None),
            ("99999999999999999999", None),
            ("-1", None),
            ("+1", None),
            ("abc", None),
            ("1.5", None),
            ("1e3", None),
            ("", None),
            ("0x10", None),
        ];
        for (input, expected) in cases {
            let value = HeaderValue::from_str(input).expect("test value");
            assert_eq!(non_negative_integer(&value).ok(), *expected, "input {input:?}");
        }
    }

    #[test]
    fn decode_tells_absent_from_repeated() {
        let mut headers = HeaderMap::new();
        assert_eq!(decode::<UploadOffset>(&headers), Ok(None));
        headers.append("upload-offset", HeaderValue::from_static("1"));
        assert_eq!(decode::<UploadOffset>(&headers), Ok(Some(UploadOffset(1))));
        headers.append("upload-offset", HeaderValue::from_static("1"));
        assert_eq!(
            decode::<UploadOffset>(&headers),
            Err((HeaderKind::UploadOffset, HeaderError::Repeated))
        );
    }
}
