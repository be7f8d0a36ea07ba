use std::fmt;

/// An upload's identifier: 1 to 128 characters of `A-Z a-z 0-9 - _`.
///
/// The charset makes an id safe in a URL path segment and as a file name:
/// it can never contain `/`, `.` sequences or anything a path could be
/// traversed with. Every id that reaches a store went through [`UploadId::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UploadId(String);

/// Why a string is not an [`UploadId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("upload id must be 1 to 128 characters of A-Z, a-z, 0-9, '-' and '_'")]
pub struct InvalidUploadId;

impl UploadId {
    /// The longest id accepted.
    pub const MAX_LEN: usize = 128;

    /// Validates `text` as an id.
    pub fn parse(text: &str) -> Result<Self, InvalidUploadId> {
        let valid_char = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        if text.is_empty() || text.len() > Self::MAX_LEN || !text.bytes().all(valid_char) {
            return Err(InvalidUploadId);
        }
        Ok(Self(text.to_owned()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UploadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for UploadId {
    type Err = InvalidUploadId;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_validation_table() {
        let long = "a".repeat(129);
        let cases: &[(&str, bool)] = &[
            ("24e533e02ec3bc40c387f1a0e460e216", true),
            ("a", true),
            ("A-b_9", true),
            ("", false),
            ("..", false),
            ("a/b", false),
            ("../etc/passwd", false),
            ("a.info", false),
            ("a%2Fb", false),
            ("a b", false),
            (&long, false),
        ];
        for (input, ok) in cases {
            assert_eq!(UploadId::parse(input).is_ok(), *ok, "input {input:?}");
        }
    }
}
