use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader, integer_value, non_negative_integer};

/// `Upload-Offset`: a byte offset within an upload
/// ([spec](https://tus.io/protocols/resumable-upload#upload-offset)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadOffset(pub u64);

/// `Upload-Length`: the size of the whole upload in bytes
/// ([spec](https://tus.io/protocols/resumable-upload#upload-length)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLength(pub u64);

/// `Tus-Max-Size`: the largest upload a server accepts
/// ([spec](https://tus.io/protocols/resumable-upload#tus-max-size)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TusMaxSize(pub u64);

macro_rules! integer_header {
    ($type:ident, $kind:ident) => {
        impl TusHeader for $type {
            const KIND: HeaderKind = HeaderKind::$kind;

            fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
                non_negative_integer(value).map(Self)
            }

            fn encode(&self) -> HeaderValue {
                integer_value(self.0)
            }
        }
    };
}

integer_header!(UploadOffset, UploadOffset);
integer_header!(UploadLength, UploadLength);
integer_header!(TusMaxSize, TusMaxSize);

/// `Upload-Defer-Length: 1`: the length is not known yet
/// ([spec](https://tus.io/protocols/resumable-upload#upload-defer-length)).
///
/// The only valid value is `1`; anything else is [`HeaderError::NotAllowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadDeferLength;

impl TusHeader for UploadDeferLength {
    const KIND: HeaderKind = HeaderKind::UploadDeferLength;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        if value.as_bytes().trim_ascii() == b"1" {
            Ok(Self)
        } else {
            Err(HeaderError::NotAllowed("the only allowed value is 1"))
        }
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_static("1")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defer_length_accepts_only_one() {
        let cases: &[(&str, bool)] = &[
            ("1", true),
            (" 1", true),
            ("0", false),
            ("2", false),
            ("true", false),
            ("", false),
        ];
        for (input, ok) in cases {
            let value = HeaderValue::from_str(input).expect("value");
            assert_eq!(UploadDeferLength::decode(&value).is_ok(), *ok, "input {input:?}");
        }
    }

    #[test]
    fn integer_headers_round_trip() {
        for number in [0, 1, 70, 1 << 40, i64::MAX as u64] {
            assert_eq!(
                UploadOffset::decode(&UploadOffset(number).encode()),
                Ok(UploadOffset(number))
            );
            assert_eq!(
                UploadLength::decode(&UploadLength(number).encode()),
                Ok(UploadLength(number))
            );
            assert_eq!(TusMaxSize::decode(&TusMaxSize(number).encode()), Ok(TusMaxSize(number)));
        }
        for bad in ["-5", "abc", "1.5", "18446744073709551616"] {
            let value = HeaderValue::from_str(bad).expect("value");
            assert!(UploadLength::decode(&value).is_err(), "input {bad:?}");
        }
    }
}
