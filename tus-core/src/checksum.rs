//! Streaming digests for the checksum extension: bytes are hashed as they
//! pass, never buffered.

use sha1::Digest as _;

use crate::headers::{ChecksumAlgorithm, UploadChecksum};

/// The digest of one algorithm, fed chunk by chunk.
#[derive(Debug, Clone)]
pub enum Hasher {
    /// SHA-1.
    Sha1(sha1::Sha1),
    /// MD5.
    Md5(md5::Md5),
    /// SHA-256.
    Sha256(sha2::Sha256),
    /// SHA-512.
    Sha512(sha2::Sha512),
    /// CRC-32 (IEEE).
    Crc32(crc32fast::Hasher),
}

impl Hasher {
    /// A fresh hasher for `algorithm`.
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        match algorithm {
            ChecksumAlgorithm::Sha1 => Self::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Md5 => Self::Md5(md5::Md5::new()),
            ChecksumAlgorithm::Sha256 => Self::Sha256(sha2::Sha256::new()),
            ChecksumAlgorithm::Sha512 => Self::Sha512(sha2::Sha512::new()),
            ChecksumAlgorithm::Crc32 => Self::Crc32(crc32fast::Hasher::new()),
        }
    }

    /// The algorithm.
    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self {
            Self::Sha1(_) => ChecksumAlgorithm::Sha1,
            Self::Md5(_) => ChecksumAlgorithm::Md5,
            Self::Sha256(_) => ChecksumAlgorithm::Sha256,
            Self::Sha512(_) => ChecksumAlgorithm::Sha512,
            Self::Crc32(_) => ChecksumAlgorithm::Crc32,
        }
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Sha1(h) => h.update(bytes),
            Self::Md5(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
            Self::Sha512(h) => h.update(bytes),
            Self::Crc32(h) => h.update(bytes),
        }
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Vec<u8> {
        match self {
            Self::Sha1(h) => h.finalize().to_vec(),
            Self::Md5(h) => h.finalize().to_vec(),
            Self::Sha256(h) => h.finalize().to_vec(),
            Self::Sha512(h) => h.finalize().to_vec(),
            Self::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
        }
    }
}

/// What a body must be verified against: decided from the request head
/// before any byte is read, turned into a [`BodyDigest`] once the body flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// The digest in the `Upload-Checksum` header.
    Header(UploadChecksum),
    /// An `Upload-Checksum` trailer announced with `Trailer: Upload-Checksum`.
    Trailer,
}

/// Hashes a body whose expected digest is known up front (`Upload-Checksum`
/// header) or only at the end (a trailer, algorithm unknown until then).
#[derive(Debug, Clone)]
pub enum BodyDigest {
    /// One algorithm, digest expected from the header.
    Header {
        /// The running digest (boxed: hasher states are large).
        hasher: Box<Hasher>,
        /// The digest the client announced.
        expected: Vec<u8>,
    },
    /// Every supported algorithm at once, since the trailer names the algorithm last.
    Trailer(Vec<Hasher>),
}

/// How a body's digest compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestCheck {
    /// The digest matches.
    Match,
    /// The digest does not match.
    Mismatch,
    /// A trailer was announced but none (or a malformed one) arrived.
    MissingTrailer,
}

impl BodyDigest {
    /// The running digest for `verification`.
    pub fn new(verification: &Verification) -> Self {
        match verification {
            Verification::Header(checksum) => Self::for_header(checksum),
            Verification::Trailer => Self::for_trailer(),
        }
    }

    /// For a body announced with `Upload-Checksum`.
    pub fn for_header(checksum: &UploadChecksum) -> Self {
        Self::Header {
            hasher: Box::new(Hasher::new(checksum.algorithm)),
            expected: checksum.digest.clone(),
        }
    }

    /// For a body whose `Upload-Checksum` comes as a trailer.
    pub fn for_trailer() -> Self {
        Self::Trailer(ChecksumAlgorithm::ALL.into_iter().map(Hasher::new).collect())
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Header { hasher, .. } => hasher.update(bytes),
            Self::Trailer(hashers) => hashers.iter_mut().for_each(|hasher| hasher.update(bytes)),
        }
    }

    /// Compares, given the trailer's `Upload-Checksum` if one arrived.
    pub fn check(self, trailer: Option<&UploadChecksum>) -> DigestCheck {
        let verdict = |matches: bool| {
            if matches {
                DigestCheck::Match
            } else {
                DigestCheck::Mismatch
            }
        };
        match (self, trailer) {
            (Self::Header { hasher, expected }, _) => verdict(hasher.finish() == expected),
            (Self::Trailer(hashers), Some(trailer)) => hashers
                .into_iter()
                .find(|hasher| hasher.algorithm() == trailer.algorithm)
                .map_or(DigestCheck::Mismatch, |hasher| {
                    verdict(hasher.finish() == trailer.digest)
                }),
            (Self::Trailer(_), None) => DigestCheck::MissingTrailer,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    fn digest(algorithm: ChecksumAlgorithm, chunks: &[&[u8]]) -> String {
        let mut hasher = Hasher::new(algorithm);
        chunks.iter().for_each(|chunk| hasher.update(chunk));
        base64::engine::general_purpose::STANDARD.encode(hasher.finish())
    }

    #[test]
    fn known_digests_of_hello_world() {
        let cases: &[(ChecksumAlgorithm, &str)] = &[
            (ChecksumAlgorithm::Sha1, "Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
            (ChecksumAlgorithm::Md5, "XrY7u+Ae7tCTyyK7j1rNww=="),
            (
                ChecksumAlgorithm::Sha256,
                "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
            ),
            (ChecksumAlgorithm::Crc32, "DUoRhQ=="),
        ];
        for (algorithm, expected) in cases {
            assert_eq!(digest(*algorithm, &[b"hello", b" world"]), *expected, "{algorithm:?}");
        }
        assert_eq!(digest(ChecksumAlgorithm::Sha512, &[b"hello world"]).len(), 88);
    }

    #[test]
    fn trailer_mode_picks_the_named_algorithm() {
        let header = |text: &str| {
            use crate::headers::TusHeader as _;
            UploadChecksum::decode(&http::HeaderValue::from_str(text).expect("value")).expect("checksum")
        };
        let mut body = BodyDigest::for_trailer();
        body.update(b"hello world");
        assert_eq!(
            body.clone().check(Some(&header("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="))),
            DigestCheck::Match
        );
        assert_eq!(body.clone().check(Some(&header("crc32 DUoRhQ=="))), DigestCheck::Match);
        assert_eq!(
            body.clone().check(Some(&header("crc32 AAAAAA=="))),
            DigestCheck::Mismatch
        );
        assert_eq!(body.check(None), DigestCheck::MissingTrailer);
    }
}
