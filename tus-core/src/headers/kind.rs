use http::HeaderName;

/// The identity of every header the tus protocol defines.
///
/// Used for header names and for the stable error codes of a missing or
/// malformed header, so no header name is ever a string literal elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HeaderKind {
    /// `Tus-Resumable` (core protocol).
    TusResumable,
    /// `Tus-Version` (core protocol).
    TusVersion,
    /// `Tus-Extension` (core protocol).
    TusExtension,
    /// `Tus-Max-Size` (core protocol).
    TusMaxSize,
    /// `Upload-Offset` (core protocol).
    UploadOffset,
    /// `Upload-Length` (core protocol).
    UploadLength,
    /// `Upload-Defer-Length` (creation-defer-length).
    UploadDeferLength,
    /// `Upload-Metadata` (creation).
    UploadMetadata,
    /// `Upload-Concat` (concatenation).
    UploadConcat,
    /// `Upload-Checksum` (checksum).
    UploadChecksum,
    /// `Upload-Expires` (expiration).
    UploadExpires,
    /// `Tus-Checksum-Algorithm` (checksum).
    TusChecksumAlgorithm,
    /// `X-HTTP-Method-Override` (core protocol).
    XHttpMethodOverride,
    /// `Upload-Complete` (IETF draft).
    UploadComplete,
    /// `Upload-Limit` (IETF draft).
    UploadLimit,
    /// `Upload-Draft-Interop-Version` (IETF draft).
    UploadDraftInteropVersion,
}

impl HeaderKind {
    /// Every header, in the order the specifications introduce them (tus
    /// 1.0.0, then the IETF draft's own).
    pub const ALL: [Self; 16] = [
        Self::TusResumable,
        Self::TusVersion,
        Self::TusExtension,
        Self::TusMaxSize,
        Self::UploadOffset,
        Self::UploadLength,
        Self::UploadDeferLength,
        Self::UploadMetadata,
        Self::UploadConcat,
        Self::UploadChecksum,
        Self::UploadExpires,
        Self::TusChecksumAlgorithm,
        Self::XHttpMethodOverride,
        Self::UploadComplete,
        Self::UploadLimit,
        Self::UploadDraftInteropVersion,
    ];

    /// The header's name.
    pub const fn name(self) -> HeaderName {
        HeaderName::from_static(self.lowercase_name())
    }

    /// The header's name in lowercase, as HTTP/2 and `http` spell it.
    pub const fn lowercase_name(self) -> &'static str {
        match self {
            Self::TusResumable => "tus-resumable",
            Self::TusVersion => "tus-version",
            Self::TusExtension => "tus-extension",
            Self::TusMaxSize => "tus-max-size",
            Self::UploadOffset => "upload-offset",
            Self::UploadLength => "upload-length",
            Self::UploadDeferLength => "upload-defer-length",
            Self::UploadMetadata => "upload-metadata",
            Self::UploadConcat => "upload-concat",
            Self::UploadChecksum => "upload-checksum",
            Self::UploadExpires => "upload-expires",
            Self::TusChecksumAlgorithm => "tus-checksum-algorithm",
            Self::XHttpMethodOverride => "x-http-method-override",
            Self::UploadComplete => "upload-complete",
            Self::UploadLimit => "upload-limit",
            Self::UploadDraftInteropVersion => "upload-draft-interop-version",
        }
    }

    /// The header's name as the specification capitalises it.
    pub const fn display_name(self) -> &'static str {
        match self {
            Self::TusResumable => "Tus-Resumable",
            Self::TusVersion => "Tus-Version",
            Self::TusExtension => "Tus-Extension",
            Self::TusMaxSize => "Tus-Max-Size",
            Self::UploadOffset => "Upload-Offset",
            Self::UploadLength => "Upload-Length",
            Self::UploadDeferLength => "Upload-Defer-Length",
            Self::UploadMetadata => "Upload-Metadata",
            Self::UploadConcat => "Upload-Concat",
            Self::UploadChecksum => "Upload-Checksum",
            Self::UploadExpires => "Upload-Expires",
            Self::TusChecksumAlgorithm => "Tus-Checksum-Algorithm",
            Self::XHttpMethodOverride => "X-HTTP-Method-Override",
            Self::UploadComplete => "Upload-Complete",
            Self::UploadLimit => "Upload-Limit",
            Self::UploadDraftInteropVersion => "Upload-Draft-Interop-Version",
        }
    }

    /// The stable error code for a malformed value of this header.
    pub const fn invalid_code(self) -> &'static str {
        match self {
            Self::TusResumable => "ERR_INVALID_TUS_RESUMABLE",
            Self::TusVersion => "ERR_INVALID_TUS_VERSION",
            Self::TusExtension => "ERR_INVALID_TUS_EXTENSION",
            Self::TusMaxSize => "ERR_INVALID_TUS_MAX_SIZE",
            Self::UploadOffset => "ERR_INVALID_OFFSET",
            Self::UploadLength => "ERR_INVALID_UPLOAD_LENGTH",
            Self::UploadDeferLength => "ERR_INVALID_UPLOAD_LENGTH_DEFER",
            Self::UploadMetadata => "ERR_INVALID_METADATA",
            Self::UploadConcat => "ERR_INVALID_CONCAT",
            Self::UploadChecksum => "ERR_INVALID_CHECKSUM_HEADER",
            Self::UploadExpires => "ERR_INVALID_UPLOAD_EXPIRES",
            Self::TusChecksumAlgorithm => "ERR_INVALID_CHECKSUM_ALGORITHM_LIST",
            Self::XHttpMethodOverride => "ERR_INVALID_METHOD_OVERRIDE",
            Self::UploadComplete => "ERR_INVALID_UPLOAD_COMPLETE",
            Self::UploadLimit => "ERR_INVALID_UPLOAD_LIMIT",
            Self::UploadDraftInteropVersion => "ERR_UNSUPPORTED_INTEROP_VERSION",
        }
    }

    /// The stable error code for this header missing where it is required.
    pub const fn missing_code(self) -> &'static str {
        match self {
            Self::UploadOffset => "ERR_MISSING_OFFSET",
            Self::UploadLength => "ERR_MISSING_UPLOAD_LENGTH",
            Self::UploadComplete => "ERR_MISSING_UPLOAD_COMPLETE",
            _ => "ERR_MISSING_HEADER",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_agree_with_display_names() {
        for kind in HeaderKind::ALL {
            assert_eq!(kind.display_name().to_ascii_lowercase(), kind.lowercase_name());
            assert_eq!(kind.name().as_str(), kind.lowercase_name());
        }
    }
}
