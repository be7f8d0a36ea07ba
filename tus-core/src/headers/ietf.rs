//! The fields of the IETF draft "Resumable Uploads for HTTP"
//! (`draft-ietf-httpbis-resumable-upload`), as RFC 9651 structured fields:
//! one type per field, strict decode, canonical encode.
//!
//! `Upload-Offset` and `Upload-Length` share their names with tus 1.0.0's
//! headers but not their syntax (an sf-integer of at most 15 digits, which
//! may carry parameters), so they have their own types here; which one
//! applies follows from the request's dialect.

use http::HeaderValue;

use super::sf::{self, Bare};
use super::{HeaderError, HeaderKind, TusHeader};

/// The interop versions of the draft this crate speaks, newest first.
pub const INTEROP_VERSIONS: [InteropVersion; 3] = [InteropVersion::V9, InteropVersion::V8, InteropVersion::V6];

/// `Upload-Draft-Interop-Version`: the iteration of the draft a client
/// speaks (an sf-integer; see the draft's "Draft Version Identification").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InteropVersion(pub u64);

impl InteropVersion {
    /// Interop 6: `-04`/`-05`, spoken by tus-js-client's `ietf-draft-05` mode and iOS 18.1+.
    pub const V6: Self = Self(6);
    /// Interop 8: `-09` to `-11`.
    pub const V8: Self = Self(8);
    /// Interop 9: the editor's copy after `-11`.
    pub const V9: Self = Self(9);

    /// Whether this crate speaks this version.
    pub fn is_supported(self) -> bool {
        INTEROP_VERSIONS.contains(&self)
    }
}

/// A field whose value is a non-negative sf-integer.
macro_rules! integer_field {
    ($type:ident, $kind:ident) => {
        impl TusHeader for $type {
            const KIND: HeaderKind = HeaderKind::$kind;

            fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
                non_negative(value).map(Self)
            }

            fn encode(&self) -> HeaderValue {
                integer_value(self.0)
            }
        }
    };
}

integer_field!(InteropVersion, UploadDraftInteropVersion);
integer_field!(UploadOffset, UploadOffset);
integer_field!(UploadLength, UploadLength);

/// `Upload-Complete`: whether the request's content ends the
/// representation, or (in a response) whether the upload is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadComplete(pub bool);

impl TusHeader for UploadComplete {
    const KIND: HeaderKind = HeaderKind::UploadComplete;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        match sf::item(value.as_bytes()) {
            Ok(Bare::Boolean(complete)) => Ok(Self(complete)),
            Ok(_) => Err(HeaderError::NotAllowed("the value is a boolean, ?0 or ?1")),
            Err(error) => Err(HeaderError::Malformed(error_text(error))),
        }
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_static(sf::boolean(self.0))
    }
}

/// `Upload-Offset` of the draft: the number of bytes of the representation
/// received (an sf-integer, non-negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOffset(pub u64);

/// `Upload-Length` of the draft: the representation's length in bytes (an
/// sf-integer, non-negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLength(pub u64);

/// How long an upload resource lives, in seconds from the response. Interop
/// 6 names the key `expires`; later versions `max-age`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `max-age=N` (interop 7 and later).
    MaxAge(u64),
    /// `expires=N` (interop 6).
    Expires(u64),
}

impl Lifetime {
    /// The seconds, whatever the key.
    pub fn seconds(self) -> u64 {
        match self {
            Self::MaxAge(seconds) | Self::Expires(seconds) => seconds,
        }
    }
}

/// `Upload-Limit`: the limits of an upload resource (an sf-dictionary of
/// integers). Unknown keys are ignored; a known key whose value is not a
/// non-negative integer makes the whole field invalid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UploadLimit {
    /// `max-size`: the largest representation accepted.
    pub max_size: Option<u64>,
    /// `min-size`: the smallest representation offered resumption.
    pub min_size: Option<u64>,
    /// `max-append-size`: the most content one request may carry.
    pub max_append_size: Option<u64>,
    /// `min-append-size`: the least content one (non-completing) request may carry.
    pub min_append_size: Option<u64>,
    /// `max-age` (or `expires` in interop 6): the remaining lifetime.
    pub lifetime: Option<Lifetime>,
}

impl UploadLimit {
    /// Whether no limit is set (encoded as `min-size=0`, as the draft requires).
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl TusHeader for UploadLimit {
    const KIND: HeaderKind = HeaderKind::UploadLimit;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        let members = sf::dictionary(value.as_bytes()).map_err(|error| HeaderError::Malformed(error_text(error)))?;
        let mut limit = Self::default();
        for (key, value) in members {
            let slot = match key.as_str() {
                "max-size" => &mut limit.max_size,
                "min-size" => &mut limit.min_size,
                "max-append-size" => &mut limit.max_append_size,
                "min-append-size" => &mut limit.min_append_size,
                "max-age" | "expires" => {
                    let seconds = limit_value(value)?;
                    limit.lifetime = Some(if key == "expires" {
                        Lifetime::Expires(seconds)
                    } else {
                        Lifetime::MaxAge(seconds)
                    });
                    continue;
                }
                _ => continue,
            };
            *slot = Some(limit_value(value)?);
        }
        // `min-size=0` is what "no limits" is spelled as: the same as none.
        if limit.min_size == Some(0) {
            limit.min_size = None;
        }
        Ok(limit)
    }

    fn encode(&self) -> HeaderValue {
        let mut members = Vec::new();
        for (key, value) in [
            ("max-size", self.max_size),
            ("min-size", self.min_size),
            ("max-append-size", self.max_append_size),
            ("min-append-size", self.min_append_size),
        ] {
            if let Some(value) = value {
                members.push(format!("{key}={}", sf::integer(value)));
            }
        }
        match self.lifetime {
            Some(Lifetime::MaxAge(seconds)) => members.push(format!("max-age={}", sf::integer(seconds))),
            Some(Lifetime::Expires(seconds)) => members.push(format!("expires={}", sf::integer(seconds))),
            None => {}
        }
        if members.is_empty() {
            return HeaderValue::from_static("min-size=0");
        }
        // Keys and digits only: always a valid header value.
        HeaderValue::from_str(&members.join(", ")).unwrap_or(HeaderValue::from_static("min-size=0"))
    }
}

fn limit_value(value: Bare) -> Result<u64, HeaderError> {
    match value {
        Bare::Integer(number) if number >= 0 => Ok(number.unsigned_abs()),
        _ => Err(HeaderError::NotAllowed("a limit is a non-negative integer")),
    }
}

/// A non-negative sf-integer item.
fn non_negative(value: &HeaderValue) -> Result<u64, HeaderError> {
    match sf::item(value.as_bytes()) {
        Ok(Bare::Integer(number)) if number >= 0 => Ok(number.unsigned_abs()),
        Ok(_) => Err(HeaderError::NotAnInteger),
        Err(error) => Err(HeaderError::Malformed(error_text(error))),
    }
}

fn integer_value(number: u64) -> HeaderValue {
    // Digits only: always a valid header value.
    HeaderValue::from_str(&sf::integer(number)).unwrap_or(HeaderValue::from_static("0"))
}

fn error_text(_: sf::SfError) -> &'static str {
    "not a valid structured field value (RFC 9651)"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> HeaderValue {
        HeaderValue::from_str(text).expect("value")
    }

    #[test]
    fn upload_complete_table() {
        let cases: &[(&str, Option<bool>)] = &[
            ("?1", Some(true)),
            ("?0", Some(false)),
            ("?1;x=y", Some(true)),
            ("1", None),
            ("true", None),
            ("?2", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                UploadComplete::decode(&value(input)).ok().map(|c| c.0),
                *expected,
                "{input:?}"
            );
        }
        assert_eq!(UploadComplete(true).encode(), "?1");
        assert_eq!(UploadComplete(false).encode(), "?0");
    }

    #[test]
    fn integers_table() {
        let cases: &[(&str, Option<u64>)] = &[
            ("0", Some(0)),
            ("25", Some(25)),
            ("25;a=1", Some(25)),
            (" 25", Some(25)),
            ("-1", None),
            ("1.0", None),
            ("?1", None),
            ("999999999999999", Some(999_999_999_999_999)),
            ("1000000000000000", None),
            ("0x10", None),
            ("", None),
        ];
        for (input, expected) in cases {
            assert_eq!(
                UploadOffset::decode(&value(input)).ok().map(|o| o.0),
                *expected,
                "{input:?}"
            );
            assert_eq!(
                UploadLength::decode(&value(input)).ok().map(|o| o.0),
                *expected,
                "{input:?}"
            );
            assert_eq!(
                InteropVersion::decode(&value(input)).ok().map(|o| o.0),
                *expected,
                "{input:?}"
            );
        }
    }

    #[test]
    fn upload_limit_decodes_and_encodes() {
        let limit = UploadLimit::decode(&value("max-size=1000, max-age=60, future=\"x\", flag")).expect("limit");
        assert_eq!(limit.max_size, Some(1000));
        assert_eq!(limit.lifetime, Some(Lifetime::MaxAge(60)));
        assert_eq!(limit.encode(), "max-size=1000, max-age=60");
        let six = UploadLimit::decode(&value("expires=30")).expect("limit");
        assert_eq!(six.lifetime, Some(Lifetime::Expires(30)));
        assert_eq!(six.encode(), "expires=30");
        assert_eq!(UploadLimit::default().encode(), "min-size=0");
        assert_eq!(
            UploadLimit::decode(&value("min-size=0")).expect("limit"),
            UploadLimit::default()
        );
        assert_eq!(
            UploadLimit::decode(&value("min-size=5")).expect("limit").min_size,
            Some(5)
        );
        for bad in [
            "max-size=1.5",
            "max-size=-1",
            "max-size=\"1\"",
            "max-size=1,",
            "max-age=?1",
        ] {
            assert!(UploadLimit::decode(&value(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn supported_versions() {
        for version in [6, 8, 9] {
            assert!(InteropVersion(version).is_supported());
        }
        for version in [3, 5, 7, 10] {
            assert!(!InteropVersion(version).is_supported());
        }
    }
}
