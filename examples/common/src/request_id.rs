//! `X-Request-ID`: every response of the example servers carries one, and
//! every log line of the request names it. A client's own id is kept when it
//! is short and plain (at most [`MAX_LEN`] characters of `A-Z a-z 0-9 - _ . : + = /`),
//! otherwise the server makes one (128 random bits, hex).

use std::sync::atomic::{AtomicU64, Ordering};

use http::{HeaderName, HeaderValue};

/// The header carrying the id, in requests and responses.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The longest client-sent id kept.
pub(crate) const MAX_LEN: usize = 128;

/// A request's id. Middleware puts it into the request extensions (where
/// hooks can read it) and echoes it in the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id (the request's `X-Request-ID`) when acceptable, else a new one.
    pub fn from_header(value: Option<&[u8]>) -> Self {
        value
            .and_then(|value| std::str::from_utf8(value).ok())
            .filter(|id| Self::acceptable(id))
            .map_or_else(Self::generate, |id| Self(id.to_owned()))
    }

    /// A new id: 128 random bits as 32 hex digits.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 16];
        if getrandom::fill(&mut bytes).is_err() {
            // No OS randomness: unique within this process is enough for logs.
            static NEXT: AtomicU64 = AtomicU64::new(1);
            bytes[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
            bytes[8..].copy_from_slice(&u64::from(std::process::id()).to_be_bytes());
        }
        Self(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
    }

    fn acceptable(id: &str) -> bool {
        (1..=MAX_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:+=/".contains(&b))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value.
    pub fn header_value(&self) -> HeaderValue {
        // Only visible ASCII is ever kept or generated.
        HeaderValue::from_str(&self.0).unwrap_or(HeaderValue::from_static("invalid"))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_or_replaced() {
        let long = "a".repeat(MAX_LEN + 1);
        let kept: &[&str] = &["abc-123", "req_1.2:3+4=5/6", &long[..MAX_LEN]];
        for id in kept {
            assert_eq!(RequestId::from_header(Some(id.as_bytes())).as_str(), *id);
        }
        let replaced: &[&[u8]] = &[b"", long.as_bytes(), b"a b", b"a\"b", b"<script>", b"\xff", b"a,b"];
        for id in replaced {
            let got = RequestId::from_header(Some(id));
            assert_ne!(got.as_str().as_bytes(), *id);
            assert_eq!(got.as_str().len(), 32, "generated: {got}");
        }
        let (a, b) = (RequestId::from_header(None), RequestId::generate());
        assert_ne!(a, b);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
