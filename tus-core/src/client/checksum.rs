//! Which checksum a client sends, if any: the best algorithm the server
//! lists, and never one it did not advertise (@tus/server and tuspyserver
//! accept any `Upload-Checksum` without checking it, so a checksum sent to
//! them would only look like protection).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header::TRAILER};

use super::capabilities::Capabilities;
use crate::headers::{self, ChecksumAlgorithm, Extension, HeaderKind, UploadChecksum};

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChecksumPreference {
    /// The best algorithm the server advertises; none if it advertises none.
    #[default]
    Auto,
    /// Never send checksums.
    Off,
    /// This algorithm; an error if the server does not advertise it.
    Algorithm(ChecksumAlgorithm),
}

/// How the digest travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumMode {
    /// In the `Upload-Checksum` header: the driver hashes the chunk before
    /// sending it (a file range is read twice, a buffered chunk hashed in place).
    Header,
    /// In an `Upload-Checksum` trailer after a chunked body (checksum-trailer):
    /// hashed while the bytes flow, read once.
    Trailer,
}

/// The checksum every append carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChecksumPlan {
    /// The algorithm.
    pub algorithm: ChecksumAlgorithm,
    /// Where the digest goes.
    pub mode: ChecksumMode,
}

/// Why a checksum preference cannot be met.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// The server does not advertise the checksum extension.
    #[error("the server does not advertise the checksum extension")]
    NotAdvertised,
    /// The server does not list the algorithm.
    #[error("the server does not list the {} checksum algorithm", .0.name())]
    AlgorithmNotListed(ChecksumAlgorithm),
}

/// Preference order of `auto`: strongest first, then cheapest.
pub const PREFERENCE: [ChecksumAlgorithm; 5] = [
    ChecksumAlgorithm::Sha256,
    ChecksumAlgorithm::Sha512,
    ChecksumAlgorithm::Sha1,
    ChecksumAlgorithm::Md5,
    ChecksumAlgorithm::Crc32,
];

/// Where the digest goes when both modes are possible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrailerPreference {
    /// In a header when the server offers the checksum extension: the
    /// server then hashes with one algorithm, while a trailer makes it hash
    /// with every algorithm it supports until the trailer names one.
    #[default]
    Header,
    /// In a trailer when both sides can: the source is read once.
    Trailer,
}

/// Chooses the checksum plan for a server.
///
/// `trailers` says whether the transport can send HTTP/1.1 request
/// trailers; trailer mode is used when both sides can and either the
/// caller prefers it or the server offers only checksum-trailer.
pub fn choose(
    preference: ChecksumPreference,
    capabilities: &Capabilities,
    trailers: bool,
    placement: TrailerPreference,
) -> Result<Option<ChecksumPlan>, ChecksumError> {
    let header_mode = capabilities.supports(Extension::Checksum);
    let trailer_mode = trailers && capabilities.supports(Extension::ChecksumTrailer);
    if preference == ChecksumPreference::Off {
        return Ok(None);
    }
    if !header_mode && !trailer_mode {
        return match preference {
            ChecksumPreference::Auto => Ok(None),
            _ => Err(ChecksumError::NotAdvertised),
        };
    }
    // A server with the extension but no list supports sha1 (the spec's MUST).
    let listed = if capabilities.checksum_algorithms.is_empty() {
        vec![ChecksumAlgorithm::Sha1]
    } else {
        capabilities.checksum_algorithms.clone()
    };
    let algorithm = match preference {
        ChecksumPreference::Algorithm(wanted) if listed.contains(&wanted) => wanted,
        ChecksumPreference::Algorithm(wanted) => return Err(ChecksumError::AlgorithmNotListed(wanted)),
        _ => match PREFERENCE.into_iter().find(|algorithm| listed.contains(algorithm)) {
            Some(algorithm) => algorithm,
            None => return Ok(None),
        },
    };
    let mode = match (placement, header_mode, trailer_mode) {
        (TrailerPreference::Trailer, _, true) | (_, false, true) => ChecksumMode::Trailer,
        _ => ChecksumMode::Header,
    };
    Ok(Some(ChecksumPlan { algorithm, mode }))
}

/// The `Upload-Checksum` header (or trailer) value for a digest.
pub fn checksum_value(algorithm: ChecksumAlgorithm, digest: Vec<u8>) -> HeaderValue {
    use crate::headers::TusHeader as _;
    UploadChecksum { algorithm, digest }.encode()
}

/// The trailers that end a chunked body in [`ChecksumMode::Trailer`].
pub fn checksum_trailers(algorithm: ChecksumAlgorithm, digest: Vec<u8>) -> HeaderMap {
    let mut trailers = HeaderMap::new();
    headers::encode(&mut trailers, &UploadChecksum { algorithm, digest });
    trailers
}

/// Adds `Trailer: Upload-Checksum`, announcing the trailer.
pub(crate) fn announce_trailer(headers: &mut HeaderMap) {
    headers.insert(
        TRAILER,
        HeaderValue::from_static(HeaderKind::UploadChecksum.display_name()),
    );
}

/// The digest as the header carries it (base64), for logs and tests.
pub fn digest_base64(digest: &[u8]) -> String {
    STANDARD.encode(digest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(extensions: &[Extension], algorithms: &[ChecksumAlgorithm]) -> Capabilities {
        Capabilities {
            advertised: true,
            extensions: extensions.to_vec(),
            checksum_algorithms: algorithms.to_vec(),
            ..Capabilities::default()
        }
    }

    #[test]
    fn choice_table() {
        use ChecksumAlgorithm::*;
        use ChecksumMode::*;
        use ChecksumPreference as P;
        use Extension::{Checksum, ChecksumTrailer};
        use TrailerPreference::{Header as H, Trailer as T};
        let plan = |algorithm, mode| Ok(Some(ChecksumPlan { algorithm, mode }));
        let both = || caps(&[Checksum, ChecksumTrailer], &[Sha1, Crc32]);
        let only_trailer = || caps(&[ChecksumTrailer], &[Crc32]);
        let cases: Vec<(
            P,
            Capabilities,
            bool,
            TrailerPreference,
            Result<Option<ChecksumPlan>, ChecksumError>,
        )> = vec![
            (P::Auto, caps(&[], &[]), true, H, Ok(None)),
            (P::Auto, Capabilities::unknown(), true, H, Ok(None)),
            (
                P::Algorithm(Sha1),
                caps(&[], &[Sha1]),
                true,
                H,
                Err(ChecksumError::NotAdvertised),
            ),
            (P::Off, caps(&[Checksum], &[Sha1]), true, H, Ok(None)),
            (
                P::Auto,
                caps(&[Checksum], &[Md5, Sha1, Sha256, Sha512]),
                false,
                H,
                plan(Sha256, Header),
            ),
            (P::Auto, caps(&[Checksum], &[Crc32, Md5]), false, H, plan(Md5, Header)),
            (P::Auto, caps(&[Checksum], &[]), false, H, plan(Sha1, Header)),
            (P::Auto, both(), true, H, plan(Sha1, Header)),
            (P::Auto, both(), true, T, plan(Sha1, Trailer)),
            (P::Auto, both(), false, T, plan(Sha1, Header)),
            (P::Auto, only_trailer(), true, H, plan(Crc32, Trailer)),
            (P::Auto, only_trailer(), false, T, Ok(None)),
            (
                P::Algorithm(Crc32),
                caps(&[Checksum], &[Sha1, Crc32]),
                false,
                H,
                plan(Crc32, Header),
            ),
            (
                P::Algorithm(Sha512),
                caps(&[Checksum], &[Sha1]),
                false,
                H,
                Err(ChecksumError::AlgorithmNotListed(Sha512)),
            ),
        ];
        for (preference, capabilities, trailers, placement, expected) in cases {
            assert_eq!(
                choose(preference, &capabilities, trailers, placement),
                expected,
                "{preference:?} {capabilities:?} trailers={trailers} {placement:?}"
            );
        }
    }

    #[test]
    fn checksum_values_match_the_server_parser() {
        use crate::headers::TusHeader as _;
        let value = checksum_value(ChecksumAlgorithm::Crc32, vec![0x0d, 0x4a, 0x11, 0x85]);
        assert_eq!(value, "crc32 DUoRhQ==");
        let trailers = checksum_trailers(ChecksumAlgorithm::Crc32, vec![0x0d, 0x4a, 0x11, 0x85]);
        let decoded = headers::decode::<UploadChecksum>(&trailers)
            .expect("valid")
            .expect("present");
        assert_eq!(decoded, UploadChecksum::decode(&value).expect("valid"));
        assert_eq!(digest_base64(&[0x0d, 0x4a, 0x11, 0x85]), "DUoRhQ==");
    }
}
