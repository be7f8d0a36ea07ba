use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// A checksum algorithm of the checksum extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumAlgorithm {
    /// `sha1`, which every checksum-capable server MUST support.
    Sha1,
    /// `md5`.
    Md5,
    /// `sha256`.
    Sha256,
    /// `sha512`.
    Sha512,
    /// `crc32` (IEEE), digest as 4 big-endian bytes.
    Crc32,
}

impl ChecksumAlgorithm {
    /// Every algorithm, in the order a server advertises them.
    pub const ALL: [Self; 5] = [Self::Sha1, Self::Md5, Self::Sha256, Self::Sha512, Self::Crc32];

    /// The algorithm's lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Md5 => "md5",
            Self::Sha256 => "sha256",
            Self::Sha512 => "sha512",
            Self::Crc32 => "crc32",
        }
    }

    /// The digest length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Md5 => 16,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
            Self::Crc32 => 4,
        }
    }

    /// Looks an algorithm up by its name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|algorithm| algorithm.name() == name)
    }
}

/// `Upload-Checksum`: the algorithm and digest of one request body
/// ([spec](https://tus.io/protocols/resumable-upload#upload-checksum)).
///
/// An algorithm this crate does not know is [`HeaderError::NotAllowed`]; a
/// digest that is not base64 or has the wrong length is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadChecksum {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// The raw digest bytes.
    pub digest: Vec<u8>,
}

impl TusHeader for UploadChecksum {
    const KIND: HeaderKind = HeaderKind::UploadChecksum;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        let text = ascii(value)?.trim();
        let Some((name, encoded)) = text.split_once(' ') else {
            return Err(HeaderError::Malformed("expected `ALGORITHM BASE64-DIGEST`"));
        };
        let algorithm =
            ChecksumAlgorithm::from_name(name).ok_or(HeaderError::NotAllowed("unsupported checksum algorithm"))?;
        let digest = STANDARD
            .decode(encoded.trim())
            .map_err(|_| HeaderError::Malformed("checksum digest is not valid base64"))?;
        if digest.len() != algorithm.digest_len() {
            return Err(HeaderError::Malformed("checksum digest has the wrong length"));
        }
        Ok(Self { algorithm, digest })
    }

    fn encode(&self) -> HeaderValue {
        HeaderValue::from_str(&format!("{} {}", self.algorithm.name(), STANDARD.encode(&self.digest)))
            .unwrap_or(HeaderValue::from_static(""))
    }
}

/// `Tus-Checksum-Algorithm`: the algorithms a server supports
/// ([spec](https://tus.io/protocols/resumable-upload#tus-checksum-algorithm)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusChecksumAlgorithm(pub Vec<ChecksumAlgorithm>);

impl TusHeader for TusChecksumAlgorithm {
    const KIND: HeaderKind = HeaderKind::TusChecksumAlgorithm;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        ascii(value)?
            .split(',')
            .map(|name| {
                ChecksumAlgorithm::from_name(name.trim()).ok_or(HeaderError::NotAllowed("unknown checksum algorithm"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn encode(&self) -> HeaderValue {
        let names: Vec<&str> = self.0.iter().map(|algorithm| algorithm.name()).collect();
        HeaderValue::from_str(&names.join(",")).unwrap_or(HeaderValue::from_static("sha1"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_checksum_table() {
        let hello_sha1 = STANDARD.decode("Kq5sNclPz7QV2+lfQIuc6R7oRu0=").expect("digest");
        let cases: &[(&str, Result<UploadChecksum, ()>)] = &[
            (
                "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=",
                Ok(UploadChecksum {
                    algorithm: ChecksumAlgorithm::Sha1,
                    digest: hello_sha1.clone(),
                }),
            ),
            (
                "crc32 DUoRhQ==",
                Ok(UploadChecksum {
                    algorithm: ChecksumAlgorithm::Crc32,
                    digest: vec![0x0d, 0x4a, 0x11, 0x85],
                }),
            ),
            ("whirlpool AAAA", Err(())),
            ("sha1", Err(())),
            ("sha1 !!notbase64", Err(())),
            ("sha1 AAAA", Err(())),
            ("SHA1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", Err(())),
        ];
        for (input, expected) in cases {
            let got = UploadChecksum::decode(&HeaderValue::from_str(input).expect("value")).map_err(|_| ());
            assert_eq!(&got, expected, "input {input:?}");
        }
    }

    #[test]
    fn unknown_algorithm_is_not_allowed_rather_than_malformed() {
        let error = UploadChecksum::decode(&HeaderValue::from_static("whirlpool AAAA")).expect_err("unknown");
        assert!(matches!(error, HeaderError::NotAllowed(_)));
    }

    #[test]
    fn algorithm_list_round_trips() {
        let header = TusChecksumAlgorithm(ChecksumAlgorithm::ALL.to_vec());
        assert_eq!(header.encode(), "sha1,md5,sha256,sha512,crc32");
        assert_eq!(TusChecksumAlgorithm::decode(&header.encode()), Ok(header));
        for algorithm in ChecksumAlgorithm::ALL {
            assert_eq!(algorithm.name(), algorithm.name().to_ascii_lowercase());
        }
    }
}
