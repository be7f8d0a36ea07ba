//! The server's decisions for draft requests: pure functions of the parsed
//! request, the upload's state, the policy and `now`.
//!
//! One model serves both dialects: an upload is complete when its length is
//! known and its offset reached it. A draft upload whose length is not known
//! uses the store's deferred length, declared when a request with
//! `Upload-Complete: ?1` ends it (`offset + content length` up front when
//! the content length is known, else the offset the complete body reached).
//! An upload whose offset reaches a known length counts as complete even if
//! the request said `?0` (what tus-js-client's draft mode expects).

use std::time::SystemTime;

use super::error::IetfError;
use super::request::{AppendRequest, CreateRequest};
use crate::headers::Extension;
use crate::headers::ietf::{InteropVersion, Lifetime, UploadLimit};
use crate::server::TusError;
use crate::server::decide::{check_alive, expires_at, remaining};
use crate::server::policy::Policy;
use crate::upload::{UploadInfo, UploadKind, UploadSize};

/// The limits of an upload resource (or, with `info: None`, of one about to
/// be created), spelled for `version`.
pub fn limits(version: InteropVersion, policy: &Policy, info: Option<&UploadInfo>, now: SystemTime) -> UploadLimit {
    let seconds = match info {
        None => policy.expire_after.map(|lifetime| lifetime.as_secs()),
        Some(info) => {
            expires_at(info, policy).map(|expiry| expiry.duration_since(now).map_or(0, |left| left.as_secs()))
        }
    };
    let lifetime = seconds.map(|seconds| {
        if version == InteropVersion::V6 {
            Lifetime::Expires(seconds)
        } else {
            Lifetime::MaxAge(seconds)
        }
    });
    UploadLimit {
        max_size: policy.max_size,
        lifetime,
        ..UploadLimit::default()
    }
}

/// What a creation will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreationPlan {
    /// The new upload's size: known from `Upload-Length` or, for a complete
    /// request, from `Content-Length`; else deferred.
    pub size: UploadSize,
    /// Most bytes the content may carry.
    pub body_limit: u64,
}

/// Decides a creation before anything is stored or any content read.
pub fn plan_creation(request: &CreateRequest, policy: &Policy) -> Result<CreationPlan, IetfError> {
    let from_content = request.complete.then_some(request.content_length).flatten();
    let size = match (request.length, from_content) {
        (Some(length), Some(content)) if length != content => {
            return Err(IetfError::InconsistentLength(
                "Upload-Length differs from the content of a complete request",
            ));
        }
        (Some(length), _) | (None, Some(length)) => UploadSize::Known(length),
        (None, None) => UploadSize::Deferred,
    };
    match size {
        UploadSize::Known(length) => policy.check_size(length)?,
        UploadSize::Deferred if !policy.supports(Extension::CreationDeferLength) => {
            return Err(TusError::ExtensionNotSupported(Extension::CreationDeferLength).into());
        }
        UploadSize::Deferred => {}
    }
    let body_limit = remaining(size, 0, policy);
    check_content(request.content_length, body_limit, size, policy)?;
    Ok(CreationPlan { size, body_limit })
}

/// A content length past what the upload may still take.
fn check_content(content_length: Option<u64>, limit: u64, size: UploadSize, policy: &Policy) -> Result<(), IetfError> {
    match content_length {
        Some(length) if length > limit => Err(crate::server::decide::exceeded(size, policy).into()),
        _ => Ok(()),
    }
}

/// What an append will do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendPlan {
    /// Write the content.
    Write {
        /// A length this request declares, to record before the content.
        declare_length: Option<u64>,
        /// Most bytes the content may carry.
        body_limit: u64,
    },
    /// The upload is already complete and this is the empty `?1` append
    /// that completes it: answer as the completing request did.
    Replay,
}

/// Decides an append of interop `version` against the upload's state at `now`.
pub fn plan_append(
    version: InteropVersion,
    info: &UploadInfo,
    request: &AppendRequest,
    policy: &Policy,
    now: SystemTime,
) -> Result<AppendPlan, IetfError> {
    if matches!(info.kind, UploadKind::Final(_)) {
        return Err(TusError::ModifyFinal.into());
    }
    check_alive(info, policy, now)?;
    if info.is_complete() {
        let same_length = request.length.is_none_or(|length| length == info.offset);
        if request.complete && !request.has_content && request.offset == info.offset && same_length {
            return Ok(AppendPlan::Replay);
        }
        if version == InteropVersion::V6 {
            return Err(IetfError::Completed);
        }
    }
    if request.offset != info.offset {
        return Err(IetfError::MismatchedOffset {
            expected: info.offset,
            provided: request.offset,
        });
    }
    if info.is_complete() {
        return Err(IetfError::InconsistentLength("the upload is complete"));
    }
    let from_content = request
        .complete
        .then_some(request.content_length)
        .flatten()
        .map(|length| info.offset.saturating_add(length));
    let indicated = match (request.length, from_content) {
        (Some(length), Some(total)) if length != total => {
            return Err(IetfError::InconsistentLength(
                "Upload-Length differs from the offset plus the content of a complete request",
            ));
        }
        (Some(length), _) | (None, Some(length)) => Some(length),
        (None, None) => None,
    };
    let declare_length = match (info.size, indicated) {
        (UploadSize::Known(known), Some(length)) if known != length => {
            return Err(IetfError::InconsistentLength(
                "the length differs from the upload's length",
            ));
        }
        (UploadSize::Known(_), _) | (UploadSize::Deferred, None) => None,
        (UploadSize::Deferred, Some(length)) => {
            if length < info.offset {
                return Err(IetfError::InconsistentLength(
                    "the length is below the bytes already received",
                ));
            }
            policy.check_size(length)?;
            Some(length)
        }
    };
    let size = declare_length.map_or(info.size, UploadSize::Known);
    let body_limit = remaining(size, info.offset, policy);
    check_content(request.content_length, body_limit, size, policy)?;
    Ok(AppendPlan::Write {
        declare_length,
        body_limit,
    })
}

/// Where an upload stands once a request's content was fully received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// More parts will follow.
    Incomplete,
    /// The upload is complete.
    Complete,
    /// The upload is complete once its deferred length is declared as this.
    Declare(u64),
}

/// Decides what a request whose content was fully received (`Upload-Complete`
/// = `complete`) means for an upload of `size` now at `offset`.
pub fn completion(complete: bool, size: UploadSize, offset: u64) -> Result<Completion, IetfError> {
    match (size, complete) {
        (UploadSize::Known(length), _) if offset == length => Ok(Completion::Complete),
        (UploadSize::Known(_), true) => Err(IetfError::InconsistentLength(
            "the content ended before the upload's length",
        )),
        (UploadSize::Known(_), false) | (UploadSize::Deferred, false) => Ok(Completion::Incomplete),
        (UploadSize::Deferred, true) => Ok(Completion::Declare(offset)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::headers::Metadata;
    use crate::server::policy::ConcatLimits;
    use crate::upload::UploadId;

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn policy() -> Policy {
        Policy {
            max_size: Some(1000),
            extensions: vec![
                Extension::Creation,
                Extension::CreationDeferLength,
                Extension::Termination,
            ],
            expire_after: Some(Duration::from_secs(60)),
            concat: ConcatLimits::default(),
        }
    }

    fn create(complete: bool, length: Option<u64>, content_length: Option<u64>) -> CreateRequest {
        CreateRequest {
            complete,
            length,
            content_length,
            has_content: content_length != Some(0),
            metadata: Metadata::new(),
        }
    }

    fn info(size: UploadSize, offset: u64) -> UploadInfo {
        UploadInfo {
            id: UploadId::parse("abc").expect("id"),
            size,
            offset,
            metadata: Metadata::new(),
            kind: UploadKind::Single,
            created_at: NOW,
            updated_at: NOW,
        }
    }

    fn append(offset: u64, complete: bool, length: Option<u64>, content_length: Option<u64>) -> AppendRequest {
        AppendRequest {
            id: UploadId::parse("abc").expect("id"),
            offset,
            complete,
            length,
            content_length,
            has_content: content_length != Some(0),
        }
    }

    #[test]
    fn creation_length_rules() {
        use UploadSize::{Deferred, Known};
        let cases: &[(CreateRequest, Result<(UploadSize, u64), &str>)] = &[
            (create(true, None, Some(10)), Ok((Known(10), 10))),
            (create(true, Some(10), Some(10)), Ok((Known(10), 10))),
            (create(true, Some(10), Some(9)), Err("ERR_INCONSISTENT_UPLOAD_LENGTH")),
            (create(true, Some(10), None), Ok((Known(10), 10))),
            (create(true, None, None), Ok((Deferred, 1000))),
            (create(false, None, Some(10)), Ok((Deferred, 1000))),
            (create(false, Some(100), Some(10)), Ok((Known(100), 100))),
            (create(false, Some(5), Some(10)), Err("ERR_INCONSISTENT_UPLOAD_LENGTH")),
            (create(false, Some(1001), None), Err("ERR_MAX_SIZE_EXCEEDED")),
            (create(true, None, Some(1001)), Err("ERR_MAX_SIZE_EXCEEDED")),
            (create(false, None, Some(1001)), Err("ERR_MAX_SIZE_EXCEEDED")),
            (create(false, Some(0), Some(0)), Ok((Known(0), 0))),
        ];
        for (request, expected) in cases {
            let got = plan_creation(request, &policy())
                .map(|plan| (plan.size, plan.body_limit))
                .map_err(|e| e.code());
            assert_eq!(&got, expected, "{request:?}");
        }
        let mut no_defer = policy();
        no_defer.extensions.retain(|e| *e != Extension::CreationDeferLength);
        assert_eq!(
            plan_creation(&create(false, None, None), &no_defer).map_err(|e| e.code()),
            Err("ERR_EXTENSION_NOT_SUPPORTED")
        );
    }

    #[test]
    fn append_rules_per_version() {
        use UploadSize::{Deferred, Known};
        let write = |declare_length, body_limit| {
            Ok(AppendPlan::Write {
                declare_length,
                body_limit,
            })
        };
        type Case = (u64, UploadInfo, AppendRequest, Result<AppendPlan, &'static str>);
        let cases: Vec<Case> = vec![
            (9, info(Known(10), 4), append(4, false, None, Some(3)), write(None, 6)),
            (
                9,
                info(Known(10), 4),
                append(3, false, None, Some(3)),
                Err("ERR_MISMATCHED_OFFSET"),
            ),
            (9, info(Known(10), 4), append(4, true, None, Some(6)), write(None, 6)),
            (
                9,
                info(Known(10), 4),
                append(4, true, None, Some(5)),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
            (
                9,
                info(Known(10), 4),
                append(4, false, Some(11), None),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
            (
                9,
                info(Known(10), 4),
                append(4, false, None, Some(7)),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
            (9, info(Deferred, 4), append(4, true, None, Some(6)), write(Some(10), 6)),
            (9, info(Deferred, 4), append(4, false, Some(8), None), write(Some(8), 4)),
            (
                9,
                info(Deferred, 4),
                append(4, false, Some(3), None),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
            (
                9,
                info(Deferred, 4),
                append(4, false, Some(2000), None),
                Err("ERR_MAX_SIZE_EXCEEDED"),
            ),
            (9, info(Deferred, 4), append(4, true, None, None), write(None, 996)),
            (
                9,
                info(Deferred, 4),
                append(4, false, None, Some(997)),
                Err("ERR_MAX_SIZE_EXCEEDED"),
            ),
            // A complete upload: the empty `?1` append is answered again;
            // anything else is refused, per version.
            (
                9,
                info(Known(10), 10),
                append(10, true, None, Some(0)),
                Ok(AppendPlan::Replay),
            ),
            (
                6,
                info(Known(10), 10),
                append(10, true, None, Some(0)),
                Ok(AppendPlan::Replay),
            ),
            (
                6,
                info(Known(10), 10),
                append(10, true, None, Some(1)),
                Err("ERR_UPLOAD_COMPLETED"),
            ),
            (
                6,
                info(Known(10), 10),
                append(4, false, None, Some(1)),
                Err("ERR_UPLOAD_COMPLETED"),
            ),
            (
                8,
                info(Known(10), 10),
                append(10, false, None, Some(1)),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
            (
                8,
                info(Known(10), 10),
                append(4, true, None, Some(0)),
                Err("ERR_MISMATCHED_OFFSET"),
            ),
            (
                9,
                info(Known(10), 10),
                append(10, true, Some(11), Some(0)),
                Err("ERR_INCONSISTENT_UPLOAD_LENGTH"),
            ),
        ];
        for (version, info, request, expected) in cases {
            let got = plan_append(InteropVersion(version), &info, &request, &policy(), NOW).map_err(|e| e.code());
            assert_eq!(got, expected, "v{version} {info:?} {request:?}");
        }
    }

    #[test]
    fn appends_to_finals_and_expired_uploads_are_refused() {
        let mut final_upload = info(UploadSize::Known(5), 0);
        final_upload.kind = UploadKind::Final(Vec::new());
        let request = append(0, false, None, Some(1));
        assert_eq!(
            plan_append(InteropVersion::V9, &final_upload, &request, &policy(), NOW).map_err(|e| e.code()),
            Err("ERR_MODIFY_FINAL")
        );
        let later = NOW + Duration::from_secs(61);
        assert_eq!(
            plan_append(
                InteropVersion::V9,
                &info(UploadSize::Known(5), 0),
                &request,
                &policy(),
                later
            )
            .map_err(|e| e.code()),
            Err("ERR_UPLOAD_EXPIRED")
        );
    }

    #[test]
    fn completion_table() {
        use UploadSize::{Deferred, Known};
        let cases: &[(bool, UploadSize, u64, Result<Completion, &str>)] = &[
            (false, Known(10), 5, Ok(Completion::Incomplete)),
            (false, Known(10), 10, Ok(Completion::Complete)),
            (true, Known(10), 10, Ok(Completion::Complete)),
            (true, Known(10), 9, Err("ERR_INCONSISTENT_UPLOAD_LENGTH")),
            (false, Deferred, 9, Ok(Completion::Incomplete)),
            (true, Deferred, 9, Ok(Completion::Declare(9))),
            (true, Known(0), 0, Ok(Completion::Complete)),
        ];
        for (complete, size, offset, expected) in cases {
            assert_eq!(
                &completion(*complete, *size, *offset).map_err(|e| e.code()),
                expected,
                "{complete} {size:?} {offset}"
            );
        }
    }

    #[test]
    fn limits_per_version() {
        let six = limits(InteropVersion::V6, &policy(), None, NOW);
        assert_eq!(six.lifetime, Some(Lifetime::Expires(60)));
        assert_eq!(six.max_size, Some(1000));
        let nine = limits(
            InteropVersion::V9,
            &policy(),
            Some(&info(UploadSize::Known(5), 1)),
            NOW + Duration::from_secs(20),
        );
        assert_eq!(nine.lifetime, Some(Lifetime::MaxAge(40)));
        let done = limits(InteropVersion::V9, &policy(), Some(&info(UploadSize::Known(5), 5)), NOW);
        assert_eq!(done.lifetime, None, "a complete upload does not expire");
        let none = Policy {
            max_size: None,
            expire_after: None,
            ..policy()
        };
        assert!(limits(InteropVersion::V8, &none, None, NOW).is_empty());
    }
}
