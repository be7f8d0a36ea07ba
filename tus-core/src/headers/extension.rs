use http::HeaderValue;

use super::{HeaderError, HeaderKind, TusHeader, ascii};

/// A tus 1.0.0 protocol extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Extension {
    /// `creation`: POST creates an upload.
    Creation,
    /// `creation-with-upload`: the creating POST may carry the first bytes.
    CreationWithUpload,
    /// `creation-defer-length`: the length may be declared by a later PATCH.
    CreationDeferLength,
    /// `termination`: DELETE removes an upload.
    Termination,
    /// `checksum`: PATCH bodies verified against `Upload-Checksum`.
    Checksum,
    /// `checksum-trailer`: `Upload-Checksum` sent as a chunked trailer.
    ChecksumTrailer,
    /// `expiration`: unfinished uploads expire.
    Expiration,
    /// `concatenation`: partial uploads joined into a final upload.
    Concatenation,
    /// `concatenation-unfinished`: a final upload may name unfinished partials.
    ConcatenationUnfinished,
}

impl Extension {
    /// Every extension, in the order a server advertises them.
    pub const ALL: [Self; 9] = [
        Self::Creation,
        Self::CreationWithUpload,
        Self::CreationDeferLength,
        Self::Termination,
        Self::Checksum,
        Self::ChecksumTrailer,
        Self::Expiration,
        Self::Concatenation,
        Self::ConcatenationUnfinished,
    ];

    /// The extension's name in `Tus-Extension`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Creation => "creation",
            Self::CreationWithUpload => "creation-with-upload",
            Self::CreationDeferLength => "creation-defer-length",
            Self::Termination => "termination",
            Self::Checksum => "checksum",
            Self::ChecksumTrailer => "checksum-trailer",
            Self::Expiration => "expiration",
            Self::Concatenation => "concatenation",
            Self::ConcatenationUnfinished => "concatenation-unfinished",
        }
    }

    /// Looks an extension up by its name in `Tus-Extension`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|extension| extension.name() == name)
    }
}

/// `Tus-Extension`: the extensions a server supports
/// ([spec](https://tus.io/protocols/resumable-upload#tus-extension)).
///
/// Unknown extension names are an error: this type describes what this crate
/// can serve. A server with no extensions MUST omit the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TusExtension(pub Vec<Extension>);

impl TusHeader for TusExtension {
    const KIND: HeaderKind = HeaderKind::TusExtension;

    fn decode(value: &HeaderValue) -> Result<Self, HeaderError> {
        ascii(value)?
            .split(',')
            .map(|name| Extension::from_name(name.trim()).ok_or(HeaderError::NotAllowed("unknown extension")))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn encode(&self) -> HeaderValue {
        let names: Vec<&str> = self.0.iter().map(|extension| extension.name()).collect();
        HeaderValue::from_str(&names.join(",")).unwrap_or(HeaderValue::from_static(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_extension() {
        let header = TusExtension(Extension::ALL.to_vec());
        let encoded = header.encode();
        assert!(
            encoded
                .to_str()
                .expect("ascii")
                .starts_with("creation,creation-with-upload,")
        );
        assert_eq!(TusExtension::decode(&encoded), Ok(header));
    }

    #[test]
    fn rejects_unknown_names() {
        assert!(TusExtension::decode(&HeaderValue::from_static("creation,teleport")).is_err());
        assert!(TusExtension::decode(&HeaderValue::from_static("")).is_err());
    }
}
