use std::time::SystemTime;

use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// `Upload-Expires`: when an unfinished upload expires, as an RFC 9110
/// IMF-fixdate ([spec](https://tus.io/protocols/resumable-upload#upload-expires)).
///
/// Times are truncated to whole seconds, as the format requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadExpires(pub SystemTime);

impl TusHeader for UploadExpires {
    const KIND: HeaderKind = HeaderKind::UploadExpires;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        httpdate::parse_http_date(ascii(value)?.trim())
            .map(Self)
            .map_err(|_| HeaderError::Malformed("not an HTTP date"))
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_str(&httpdate::fmt_http_date(self.0)).unwrap_or(HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn formats_imf_fixdate_and_round_trips() {
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000);
        let header = UploadExpires(time);
        assert_eq!(header.encode(), "Wed, 25 Jun 2014 16:00:00 GMT");
        assert_eq!(UploadExpires::decode(&header.encode()), Ok(header));
        assert!(UploadExpires::decode(&HeaderValue::from_static("tomorrow")).is_err());
    }
}
