//! What a server can do, as its answer to OPTIONS tells (tus's `Tus-*`
//! headers, or the IETF draft's `Upload-Limit`).
//!
//! A client reads this leniently: a server listing an extension or an
//! algorithm this crate does not know (rustus advertises `getting`) still
//! gets every one it does know used. Strictness belongs to the server side.

use http::{HeaderMap, HeaderValue};

use crate::headers::ietf::UploadLimit;
use crate::headers::{self, ChecksumAlgorithm, Extension, HeaderKind, TusMaxSize, Version};

/// The capabilities a server advertised.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Whether they come from a real answer to OPTIONS. When `false` (the
    /// server answered OPTIONS with 404 or 405, as some routers do) nothing
    /// is known: the client tries creation and deferred length and uses no
    /// optional extension.
    pub advertised: bool,
    /// `Tus-Version`, most preferred first; empty when not sent.
    pub versions: Vec<Version>,
    /// `Tus-Extension`, the names this crate knows.
    pub extensions: Vec<Extension>,
    /// `Tus-Max-Size`.
    pub max_size: Option<u64>,
    /// `Tus-Checksum-Algorithm`, the names this crate knows.
    pub checksum_algorithms: Vec<ChecksumAlgorithm>,
    /// The most bytes one request may carry (the draft's `max-append-size`).
    pub max_append_size: Option<u64>,
    /// The least bytes a request that does not complete the upload may
    /// carry (the draft's `min-append-size`).
    pub min_append_size: Option<u64>,
}

impl Capabilities {
    /// Nothing known: the server did not answer OPTIONS usefully.
    pub fn unknown() -> Self {
        Self::default()
    }

    /// Reads the headers of a successful answer to OPTIONS.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let max_size = headers::decode::<TusMaxSize>(headers).ok().flatten().map(|max| max.0);
        Self {
            advertised: true,
            versions: names(headers, HeaderKind::TusVersion, |name| name.parse::<Version>().ok()),
            extensions: names(headers, HeaderKind::TusExtension, Extension::from_name),
            max_size,
            checksum_algorithms: names(headers, HeaderKind::TusChecksumAlgorithm, ChecksumAlgorithm::from_name),
            max_append_size: None,
            min_append_size: None,
        }
    }

    /// What a server speaking the IETF draft can do: create with or without
    /// content, leave the length unknown until a request completes the
    /// upload, cancel; within `limit`. No checksums, no concatenation.
    pub fn ietf(limit: Option<&UploadLimit>) -> Self {
        let limit = limit.copied().unwrap_or_default();
        Self {
            advertised: true,
            versions: Vec::new(),
            extensions: vec![
                Extension::Creation,
                Extension::CreationWithUpload,
                Extension::CreationDeferLength,
                Extension::Termination,
            ],
            max_size: limit.max_size,
            checksum_algorithms: Vec::new(),
            max_append_size: limit.max_append_size,
            min_append_size: limit.min_append_size,
        }
    }

    /// Whether the answer's headers show tus 1.0.0 (`Tus-Version`,
    /// `Tus-Extension` or `Tus-Resumable`).
    pub fn speaks_tus(headers: &HeaderMap) -> bool {
        [
            HeaderKind::TusVersion,
            HeaderKind::TusExtension,
            HeaderKind::TusResumable,
        ]
        .iter()
        .any(|kind| headers.contains_key(kind.name()))
    }

    /// Whether `extension` was advertised.
    pub fn supports(&self, extension: Extension) -> bool {
        self.extensions.contains(&extension)
    }

    /// Whether a deferred length may be tried: advertised, or nothing known.
    pub fn may_defer_length(&self) -> bool {
        !self.advertised || self.supports(Extension::CreationDeferLength)
    }
}

/// The known items of a comma-separated list header (every value of it).
fn names<T>(headers: &HeaderMap, kind: HeaderKind, parse: impl Fn(&str) -> Option<T>) -> Vec<T> {
    headers
        .get_all(kind.name())
        .iter()
        .filter_map(|value: &HeaderValue| value.to_str().ok())
        .flat_map(|list| list.split(','))
        .filter_map(|name| parse(name.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::TUS_VERSION_1_0_0;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    #[test]
    fn reads_peers_answers_leniently() {
        // rustus 0.5.10 (extensions and algorithms as seen on the wire).
        let rustus = Capabilities::from_headers(&headers(&[
            ("tus-version", "1.0.0"),
            (
                "tus-extension",
                "getting,creation,termination,creation-with-upload,creation-defer-length,concatenation,checksum",
            ),
            ("tus-checksum-algorithm", "md5,sha1,sha256,sha512"),
        ]));
        assert!(rustus.advertised);
        assert_eq!(rustus.versions, vec![TUS_VERSION_1_0_0]);
        assert!(rustus.supports(Extension::Concatenation));
        assert!(rustus.supports(Extension::Checksum));
        assert!(!rustus.supports(Extension::ChecksumTrailer));
        assert_eq!(rustus.extensions.len(), 6);
        assert_eq!(rustus.checksum_algorithms.len(), 4);
        assert_eq!(rustus.max_size, None);

        // tuspyserver: max size, no checksum.
        let tuspy = Capabilities::from_headers(&headers(&[
            ("tus-extension", "creation, creation-defer-length, expiration"),
            ("tus-max-size", "128849018880"),
            ("tus-checksum-algorithm", "whirlpool, sha1"),
        ]));
        assert_eq!(tuspy.max_size, Some(128_849_018_880));
        assert!(tuspy.may_defer_length());
        assert_eq!(tuspy.checksum_algorithms, vec![ChecksumAlgorithm::Sha1]);

        // @tus/server: no defer length listed means none.
        let node = Capabilities::from_headers(&headers(&[("tus-extension", "creation,termination")]));
        assert!(!node.may_defer_length());
        assert!(Capabilities::unknown().may_defer_length());
        assert!(!Capabilities::unknown().supports(Extension::Creation));
    }

    #[test]
    fn malformed_max_size_is_ignored() {
        let caps = Capabilities::from_headers(&headers(&[("tus-max-size", "lots")]));
        assert_eq!(caps.max_size, None);
    }
}
