//! The protocol decisions: pure functions from a parsed request and the
//! upload's state to what must happen. No I/O, no clock, no randomness.

use super::error::TusError;
use super::headers::{Extension, UploadConcat};
use super::request::{AppendRequest, CreateRequest};
use crate::store::{UploadInfo, UploadKind, UploadSize};

/// The limits and extensions a handler is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Largest upload accepted (`Tus-Max-Size`), if any.
    pub max_size: Option<u64>,
    /// Extensions served, in advertising order.
    pub extensions: Vec<Extension>,
}

impl Policy {
    /// Whether `extension` is served.
    pub fn supports(&self, extension: Extension) -> bool {
        self.extensions.contains(&extension)
    }

    fn check_size(&self, size: u64) -> Result<(), TusError> {
        match self.max_size {
            Some(max) if size > max => Err(TusError::MaxSizeExceeded { max }),
            _ => Ok(()),
        }
    }
}

/// What a creation request will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationPlan {
    /// The new upload's size.
    pub size: UploadSize,
    /// Most bytes the body may carry, when it carries upload data.
    pub body_limit: Option<u64>,
}

/// Decides a creation request before anything is stored or any body byte read.
pub fn plan_creation(request: &CreateRequest, policy: &Policy) -> Result<CreationPlan, TusError> {
    if request.concat.is_some() && !policy.supports(Extension::Concatenation) {
        return Err(TusError::ExtensionNotSupported(Extension::Concatenation));
    }
    if request.checksum.is_some() && !policy.supports(Extension::Checksum) {
        return Err(TusError::UnsupportedChecksumAlgorithm);
    }
    let size = match (request.size, &request.concat) {
        (Some(size), _) => size,
        // Final uploads are planned by the concatenation extension, which this
        // handler does not serve yet (checked above).
        (None, Some(UploadConcat::Final(_)) | None) | (None, Some(UploadConcat::Partial)) => {
            return Err(TusError::ExtensionNotSupported(Extension::Concatenation));
        }
    };
    if size == UploadSize::Deferred && !policy.supports(Extension::CreationDeferLength) {
        return Err(TusError::ExtensionNotSupported(Extension::CreationDeferLength));
    }
    if let UploadSize::Known(length) = size {
        policy.check_size(length)?;
    }
    let body_limit = if request.with_upload && policy.supports(Extension::CreationWithUpload) {
        let limit = remaining(size, 0, policy);
        if request.content_length.is_some_and(|length| length > limit) {
            return Err(exceeded(size, policy));
        }
        Some(limit)
    } else {
        None
    };
    Ok(CreationPlan { size, body_limit })
}

/// What an append request will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendPlan {
    /// A deferred length this request declares, to store before the data.
    pub declare_length: Option<u64>,
    /// Most bytes the body may carry: never past the upload's length or the max size.
    pub body_limit: u64,
}

/// Decides an append request against the upload's current state.
pub fn plan_append(info: &UploadInfo, request: &AppendRequest, policy: &Policy) -> Result<AppendPlan, TusError> {
    if matches!(info.kind, UploadKind::Final(_)) {
        return Err(TusError::ModifyFinal);
    }
    if request.checksum.is_some() && !policy.supports(Extension::Checksum) {
        return Err(TusError::UnsupportedChecksumAlgorithm);
    }
    if request.offset != info.offset {
        return Err(TusError::MismatchedOffset {
            expected: info.offset,
            provided: request.offset,
        });
    }
    let declare_length = match (info.size, request.length) {
        (_, None) => None,
        (UploadSize::Known(known), Some(length)) if known == length => None,
        (UploadSize::Known(_), Some(_)) => return Err(TusError::LengthAlreadySet),
        (UploadSize::Deferred, Some(length)) => {
            if length < info.offset {
                return Err(TusError::LengthBelowOffset {
                    length,
                    offset: info.offset,
                });
            }
            policy.check_size(length)?;
            Some(length)
        }
    };
    let size = declare_length.map_or(info.size, UploadSize::Known);
    let body_limit = remaining(size, info.offset, policy);
    if request.content_length.is_some_and(|length| length > body_limit) {
        return Err(exceeded(size, policy));
    }
    Ok(AppendPlan {
        declare_length,
        body_limit,
    })
}

/// Bytes that may still arrive after `offset`.
fn remaining(size: UploadSize, offset: u64, policy: &Policy) -> u64 {
    match (size, policy.max_size) {
        (UploadSize::Known(length), _) | (UploadSize::Deferred, Some(length)) => length.saturating_sub(offset),
        (UploadSize::Deferred, None) => u64::MAX,
    }
}

/// The error for a body past the bytes an upload may still receive.
pub fn exceeded(size: UploadSize, policy: &Policy) -> TusError {
    match (size, policy.max_size) {
        (UploadSize::Deferred, Some(max)) => TusError::MaxSizeExceeded { max },
        _ => TusError::UploadSizeExceeded,
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::proto::headers::Metadata;
    use crate::store::UploadId;

    fn policy(max_size: Option<u64>) -> Policy {
        Policy {
            max_size,
            extensions: vec![
                Extension::Creation,
                Extension::CreationWithUpload,
                Extension::CreationDeferLength,
            ],
        }
    }

    fn info(size: UploadSize, offset: u64) -> UploadInfo {
        UploadInfo {
            id: UploadId::parse("abc").expect("id"),
            size,
            offset,
            metadata: Metadata::new(),
            kind: UploadKind::Single,
            created_at: SystemTime::UNIX_EPOCH,
        }
    }

    fn append(offset: u64, length: Option<u64>, content_length: Option<u64>) -> AppendRequest {
        AppendRequest {
            id: UploadId::parse("abc").expect("id"),
            offset,
            length,
            checksum: None,
            content_length,
        }
    }

    fn create(size: UploadSize, with_upload: bool, content_length: Option<u64>) -> CreateRequest {
        CreateRequest {
            size: Some(size),
            metadata: Metadata::new(),
            concat: None,
            checksum: None,
            with_upload,
            content_length,
        }
    }

    #[test]
    fn creation_table() {
        use UploadSize::{Deferred, Known};
        let cases: &[(CreateRequest, Option<u64>, Result<CreationPlan, &str>)] = &[
            (
                create(Known(100), false, None),
                Some(1000),
                Ok(CreationPlan {
                    size: Known(100),
                    body_limit: None,
                }),
            ),
            (
                create(Known(1001), false, None),
                Some(1000),
                Err("ERR_MAX_SIZE_EXCEEDED"),
            ),
            (
                create(Known(0), false, None),
                Some(1000),
                Ok(CreationPlan {
                    size: Known(0),
                    body_limit: None,
                }),
            ),
            (
                create(Known(100), true, Some(5)),
                None,
                Ok(CreationPlan {
                    size: Known(100),
                    body_limit: Some(100),
                }),
            ),
            (
                create(Known(100), true, Some(101)),
                None,
                Err("ERR_UPLOAD_SIZE_EXCEEDED"),
            ),
            (
                create(Deferred, true, None),
                Some(50),
                Ok(CreationPlan {
                    size: Deferred,
                    body_limit: Some(50),
                }),
            ),
            (create(Deferred, true, Some(51)), Some(50), Err("ERR_MAX_SIZE_EXCEEDED")),
            (
                create(Deferred, false, None),
                None,
                Ok(CreationPlan {
                    size: Deferred,
                    body_limit: None,
                }),
            ),
        ];
        for (request, max, expected) in cases {
            let got = plan_creation(request, &policy(*max)).map_err(|e| e.code());
            assert_eq!(&got, expected, "{request:?} max {max:?}");
        }
    }

    #[test]
    fn creation_needs_the_extensions_it_uses() {
        let none = Policy {
            max_size: None,
            extensions: vec![Extension::Creation],
        };
        assert_eq!(
            plan_creation(&create(UploadSize::Deferred, false, None), &none).map_err(|e| e.code()),
            Err("ERR_EXTENSION_NOT_SUPPORTED")
        );
        let mut partial = create(UploadSize::Known(5), false, None);
        partial.concat = Some(UploadConcat::Partial);
        assert_eq!(
            plan_creation(&partial, &none).map_err(|e| e.code()),
            Err("ERR_EXTENSION_NOT_SUPPORTED")
        );
        // Without creation-with-upload a body is ignored rather than stored.
        assert_eq!(
            plan_creation(&create(UploadSize::Known(5), true, Some(5)), &none)
                .map(|p| p.body_limit)
                .ok(),
            Some(None)
        );
    }

    #[test]
    fn append_table() {
        use UploadSize::{Deferred, Known};
        let cases: &[(UploadInfo, AppendRequest, Option<u64>, Result<AppendPlan, &str>)] = &[
            (
                info(Known(100), 70),
                append(70, None, Some(30)),
                None,
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: 30,
                }),
            ),
            (
                info(Known(100), 70),
                append(60, None, Some(30)),
                None,
                Err("ERR_MISMATCHED_OFFSET"),
            ),
            (
                info(Known(100), 90),
                append(90, None, Some(30)),
                None,
                Err("ERR_UPLOAD_SIZE_EXCEEDED"),
            ),
            (
                info(Known(100), 100),
                append(100, None, Some(0)),
                None,
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: 0,
                }),
            ),
            (
                info(Known(100), 0),
                append(0, Some(100), None),
                None,
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: 100,
                }),
            ),
            (
                info(Known(100), 0),
                append(0, Some(120), None),
                None,
                Err("ERR_INVALID_UPLOAD_LENGTH_CHANGE"),
            ),
            (
                info(Deferred, 10),
                append(10, Some(100), None),
                None,
                Ok(AppendPlan {
                    declare_length: Some(100),
                    body_limit: 90,
                }),
            ),
            (
                info(Deferred, 10),
                append(10, Some(10), Some(0)),
                None,
                Ok(AppendPlan {
                    declare_length: Some(10),
                    body_limit: 0,
                }),
            ),
            (
                info(Deferred, 10),
                append(10, Some(5), None),
                None,
                Err("ERR_UPLOAD_LENGTH_BELOW_OFFSET"),
            ),
            (
                info(Deferred, 10),
                append(10, Some(2000), None),
                Some(1000),
                Err("ERR_MAX_SIZE_EXCEEDED"),
            ),
            (
                info(Deferred, 10),
                append(10, None, None),
                Some(1000),
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: 990,
                }),
            ),
            (
                info(Deferred, 10),
                append(10, None, Some(991)),
                Some(1000),
                Err("ERR_MAX_SIZE_EXCEEDED"),
            ),
            (
                info(Deferred, 10),
                append(10, None, None),
                None,
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: u64::MAX,
                }),
            ),
        ];
        for (state, request, max, expected) in cases {
            let got = plan_append(state, request, &policy(*max)).map_err(|e| e.code());
            assert_eq!(&got, expected, "{state:?} {request:?} max {max:?}");
        }
    }

    #[test]
    fn append_to_final_upload_is_forbidden() {
        let mut state = info(UploadSize::Known(10), 0);
        state.kind = UploadKind::Final(vec![]);
        assert_eq!(
            plan_append(&state, &append(0, None, None), &policy(None)).map_err(|e| e.code()),
            Err("ERR_MODIFY_FINAL")
        );
    }
}
