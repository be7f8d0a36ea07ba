use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader};

/// Standard base64; padding optional on input, always written on output.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an `Upload-Metadata` value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// A pair has no key (for example `, dmFs` or ` dmFs`).
    #[error("metadata key is empty")]
    EmptyKey,
    /// A key holds a byte outside visible ASCII.
    #[error("metadata key {0:?} is not visible ASCII")]
    InvalidKey(String),
    /// The same key appears twice.
    #[error("metadata key {0:?} is repeated")]
    DuplicateKey(String),
    /// A value is not valid base64.
    #[error("metadata value for key {0:?} is not valid base64")]
    InvalidBase64(String),
    /// A pair has more than one space-separated value.
    #[error("metadata pair for key {0:?} has more than one value")]
    ExtraValue(String),
    /// The header is longer than [`Metadata::MAX_LEN`] bytes.
    #[error("metadata is longer than {} bytes", Metadata::MAX_LEN)]
    TooLong,
    /// The header has more than [`Metadata::MAX_PAIRS`] pairs.
    #[error("metadata has more than {} pairs", Metadata::MAX_PAIRS)]
    TooManyPairs,
}

/// `Upload-Metadata`: ordered key/value pairs with byte-exact values
/// ([spec](https://tus.io/protocols/resumable-upload#upload-metadata)).
///
/// Keys are unique, non-empty visible ASCII without spaces or commas; values
/// are raw bytes (they need not be UTF-8). Parsing is strict: an empty key,
/// a repeated key or bad base64 is an error. Whitespace around pairs is
/// tolerated. Encoding is deterministic: pairs in insertion order, values in
/// padded standard base64, and a key alone when its value is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    entries: Vec<(String, Vec<u8>)>,
}

impl Metadata {
    /// The longest header text [`parse`](Self::parse) accepts, in bytes
    /// (16 KiB). Metadata is stored with every upload and echoed on every
    /// HEAD, so it is bounded well below what HTTP servers accept as a header.
    pub const MAX_LEN: usize = 16 * 1024;

    /// The most pairs [`parse`](Self::parse) accepts.
    pub const MAX_PAIRS: usize = 256;

    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a pair at the end. Fails if the key is invalid or already present.
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Result<(), MetadataError> {
        let key = key.into();
        validate_key(&key)?;
        if self.get(&key).is_some() {
            return Err(MetadataError::DuplicateKey(key));
        }
        self.entries.push((key, value.into()));
        Ok(())
    }

    /// Sets `key` to `value`: replaces the value in place if the key is
    /// present, adds the pair at the end otherwise. Fails if the key is invalid.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Result<(), MetadataError> {
        let key = key.into();
        validate_key(&key)?;
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, existing)) => *existing = value.into(),
            None => self.entries.push((key, value.into())),
        }
        Ok(())
    }

    /// Removes `key` and returns its value, if it was present.
    pub fn remove(&mut self, key: &str) -> Option<Vec<u8>> {
        let index = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(index).1)
    }

    /// The value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_slice())
    }

    /// The value of `key` as UTF-8, if present and valid UTF-8.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(|value| std::str::from_utf8(value).ok())
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Parses the header's text form: at most [`MAX_LEN`](Self::MAX_LEN)
    /// bytes and [`MAX_PAIRS`](Self::MAX_PAIRS) pairs.
    pub fn parse(text: &[u8]) -> Result<Self, MetadataError> {
        let mut metadata = Self::new();
        if text.len() > Self::MAX_LEN {
            return Err(MetadataError::TooLong);
        }
        if text.trim_ascii().is_empty() {
            return Ok(metadata);
        }
        if text.iter().filter(|&&b| b == b',').count() >= Self::MAX_PAIRS {
            return Err(MetadataError::TooManyPairs);
        }
        for pair in text.split(|&b| b == b',') {
            let pair = pair.trim_ascii();
            let mut parts = pair.splitn(2, |&b| b == b' ');
            let key = parts.next().unwrap_or_default();
            let value = parts.next().unwrap_or_default().trim_ascii();
            let key = std::str::from_utf8(key)
                .map_err(|_| MetadataError::InvalidKey(String::from_utf8_lossy(key).into_owned()))?;
            validate_key(key)?;
            if value.contains(&b' ') {
                return Err(MetadataError::ExtraValue(key.to_owned()));
            }
            let decoded = BASE64
                .decode(value)
                .map_err(|_| MetadataError::InvalidBase64(key.to_owned()))?;
            metadata.insert(key, decoded)?;
        }
        Ok(metadata)
    }

    /// Renders the header's text form.
    pub fn to_header_string(&self) -> String {
        let pairs: Vec<String> = self
            .entries
            .iter()
            .map(|(key, value)| {
                if value.is_empty() {
                    key.clone()
                } else {
                    format!("{key} {}", BASE64.encode(value))
                }
            })
            .collect();
        pairs.join(",")
    }
}

fn validate_key(key: &str) -> Result<(), MetadataError> {
    if key.is_empty() {
        return Err(MetadataError::EmptyKey);
    }
    if !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(MetadataError::InvalidKey(key.to_owned()));
    }
    Ok(())
}

impl TusHeader for Metadata {
    const KIND: HeaderKind = HeaderKind::UploadMetadata;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        Ok(Self::parse(value.as_bytes())?)
    }

    fn encode(&self) -> HeaderValue {
        // Keys are visible ASCII and values base64, so this never fails.
        HeaderValue::from_str(&self.to_header_string()).unwrap_or(HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<(String, Vec<u8>)>, MetadataError> {
        Metadata::parse(text.as_bytes()).map(|m| m.iter().map(|(k, v)| (k.to_owned(), v.to_vec())).collect())
    }

    fn pairs(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())).collect()
    }

    #[test]
    fn accepts_spec_forms() {
        let cases: &[(&str, &[(&str, &[u8])])] = &[
            (
                "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential",
                &[("filename", b"world_domination_plan.pdf"), ("is_confidential", b"")],
            ),
            ("is_confidential ", &[("is_confidential", b"")]),
            ("a YQ==, b Yg==", &[("a", b"a"), ("b", b"b")]),
            ("bin /w==", &[("bin", &[0xff])]),
            ("unpadded YQ", &[("unpadded", b"a")]),
            ("z eg==,a YQ==", &[("z", b"z"), ("a", b"a")]),
            ("", &[]),
            // HTTP strips leading whitespace from a header value, so a lone
            // token is a key with an empty value.
            (" dmFs", &[("dmFs", b"")]),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input), Ok(pairs(expected)), "input {input:?}");
        }
    }

    #[test]
    fn rejects_bad_forms() {
        let cases: &[(&str, MetadataError)] = &[
            (",dmFs", MetadataError::EmptyKey),
            ("a YQ==,,b Yg==", MetadataError::EmptyKey),
            ("a YQ==,", MetadataError::EmptyKey),
            ("a YQ==,a Yg==", MetadataError::DuplicateKey("a".into())),
            ("a not_base64!", MetadataError::InvalidBase64("a".into())),
            ("a YQ== Yg==", MetadataError::ExtraValue("a".into())),
            ("na\u{ef}ve YQ==", MetadataError::InvalidKey("na\u{ef}ve".into())),
            (&format!("a {}", "A".repeat(Metadata::MAX_LEN)), MetadataError::TooLong),
            (
                &vec!["k"; Metadata::MAX_PAIRS + 1].join(","),
                MetadataError::TooManyPairs,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).as_ref(), Err(expected), "input {input:?}");
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let longest = format!("a {}", "A".repeat(Metadata::MAX_LEN - 2));
        assert!(parse(&longest).is_ok());
        let keys: Vec<String> = (0..Metadata::MAX_PAIRS).map(|i| format!("k{i}")).collect();
        assert_eq!(parse(&keys.join(",")).map(|pairs| pairs.len()), Ok(Metadata::MAX_PAIRS));
    }

    #[test]
    fn encoding_is_deterministic_and_round_trips() {
        let mut metadata = Metadata::new();
        metadata.insert("filename", "hello.txt").expect("insert");
        metadata.insert("empty", Vec::new()).expect("insert");
        metadata.insert("bin", vec![0xff, 0x00, b'\n']).expect("insert");
        let text = metadata.to_header_string();
        assert_eq!(text, "filename aGVsbG8udHh0,empty,bin /wAK");
        assert_eq!(Metadata::parse(text.as_bytes()), Ok(metadata));
    }

    #[test]
    fn insert_rejects_duplicates_and_bad_keys() {
        let mut metadata = Metadata::new();
        metadata.insert("a", "1").expect("insert");
        assert_eq!(metadata.insert("a", "2"), Err(MetadataError::DuplicateKey("a".into())));
        assert_eq!(
            metadata.insert("b c", "2"),
            Err(MetadataError::InvalidKey("b c".into()))
        );
        assert_eq!(metadata.insert("", "2"), Err(MetadataError::EmptyKey));
    }
}
