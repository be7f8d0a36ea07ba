//! The protocol decisions: pure functions from a parsed request and the
//! upload's state to what must happen. No I/O, no clock, no randomness:
//! the time comes in as an argument.

use std::time::SystemTime;

use super::error::TusError;
use super::policy::Policy;
use super::request::{AppendRequest, CreateRequest, Target};
use crate::checksum::Verification;
use crate::headers::{Extension, UploadConcat};
use crate::upload::{UploadId, UploadInfo, UploadKind, UploadSize};

/// When an upload expires: `None` if it never does (no lifetime configured,
/// complete, or a final upload, whose fate follows its partials).
pub fn expires_at(info: &UploadInfo, policy: &Policy) -> Option<SystemTime> {
    let lifetime = policy.expire_after?;
    if info.is_complete() || matches!(info.kind, UploadKind::Final(_)) {
        return None;
    }
    info.updated_at.checked_add(lifetime)
}

/// `Err(Gone)` if the upload has expired at `now`.
pub fn check_alive(info: &UploadInfo, policy: &Policy, now: SystemTime) -> Result<(), TusError> {
    match expires_at(info, policy) {
        Some(expiry) if now >= expiry => Err(TusError::Gone),
        _ => Ok(()),
    }
}

/// What a creation request will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreationPlan {
    /// A single or partial upload of this size.
    Upload {
        /// The new upload's size.
        size: UploadSize,
        /// Most bytes the body may carry, when it carries upload data.
        body_limit: Option<u64>,
        /// Whether it is a partial upload.
        partial: bool,
        /// What the body must be verified against, if anything.
        verify: Option<Verification>,
    },
    /// A final upload of these partials, in order (id and reference as received).
    Final(Vec<(UploadId, String)>),
}

/// Decides a creation request before anything is stored or any body byte read.
pub fn plan_creation(request: &CreateRequest, policy: &Policy, base_path: &str) -> Result<CreationPlan, TusError> {
    if request.concat.is_some() && !policy.supports(Extension::Concatenation) {
        return Err(TusError::ExtensionNotSupported(Extension::Concatenation));
    }
    let verify = policy.verification(request.checksum.as_ref())?;
    let size = match (request.size, &request.concat) {
        (_, Some(UploadConcat::Final(references))) => {
            if request.with_upload && request.content_length != Some(0) {
                return Err(TusError::ModifyFinal);
            }
            let parts = references
                .iter()
                .map(|reference| resolve_reference(reference, base_path).map(|id| (id, reference.clone())))
                .collect::<Result<Vec<_>, _>>()?;
            check_fan_out(&parts, policy)?;
            return Ok(CreationPlan::Final(parts));
        }
        (Some(size), _) => size,
        (None, _) => return Err(TusError::MissingUploadLength),
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
    Ok(CreationPlan::Upload {
        size,
        body_limit,
        partial: request.concat == Some(UploadConcat::Partial),
        verify,
    })
}

/// Refuses a final listing more partials, or one partial more often, than
/// the policy allows.
fn check_fan_out(parts: &[(UploadId, String)], policy: &Policy) -> Result<(), TusError> {
    let limits = policy.concat;
    if parts.len() > limits.max_parts {
        return Err(TusError::TooManyPartials { max: limits.max_parts });
    }
    let mut counts: std::collections::HashMap<&UploadId, usize> = std::collections::HashMap::new();
    for (id, reference) in parts {
        let count = counts.entry(id).or_default();
        *count += 1;
        if *count > limits.max_repeats {
            return Err(TusError::PartialRepeated {
                reference: reference.clone(),
                max: limits.max_repeats,
            });
        }
    }
    Ok(())
}

/// The upload a `final;...` reference (relative or absolute URL) points at.
pub fn resolve_reference(reference: &str, base_path: &str) -> Result<UploadId, TusError> {
    let invalid = || TusError::InvalidConcatReference(reference.to_owned());
    let uri: http::Uri = reference.parse().map_err(|_| invalid())?;
    match Target::resolve(uri.path(), base_path) {
        Some(Target::Upload(id)) => Ok(id),
        _ => Err(invalid()),
    }
}

/// What a final upload is, given its partials' current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalPlan {
    /// Its size: the sum of the partials' sizes, once all are known.
    pub size: UploadSize,
    /// Whether every partial is complete, so it can be assembled now.
    pub ready: bool,
}

/// Checks a final upload's partials (`references` pairs each with the URL the client used).
pub fn plan_final(partials: &[(&UploadInfo, &str)], policy: &Policy) -> Result<FinalPlan, TusError> {
    let mut total = Some(0u64);
    let mut ready = true;
    for (info, reference) in partials {
        if info.kind != UploadKind::Partial {
            return Err(TusError::ConcatNotPartial((*reference).to_owned()));
        }
        if !info.is_complete() {
            if !policy.supports(Extension::ConcatenationUnfinished) {
                return Err(TusError::ConcatPartialUnfinished((*reference).to_owned()));
            }
            ready = false;
        }
        total = match (total, info.size) {
            (Some(sum), UploadSize::Known(size)) => Some(sum.checked_add(size).ok_or(TusError::UploadSizeExceeded)?),
            _ => None,
        };
    }
    if let Some(total) = total {
        policy.check_size(total)?;
    }
    Ok(FinalPlan {
        size: total.map_or(UploadSize::Deferred, UploadSize::Known),
        ready,
    })
}

/// What an append request will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendPlan {
    /// A deferred length this request declares, to store before the data.
    pub declare_length: Option<u64>,
    /// Most bytes the body may carry: never past the upload's length or the max size.
    pub body_limit: u64,
    /// What the body must be verified against, if anything.
    pub verify: Option<Verification>,
}

/// Decides an append request against the upload's current state at `now`.
pub fn plan_append(
    info: &UploadInfo,
    request: &AppendRequest,
    policy: &Policy,
    now: SystemTime,
) -> Result<AppendPlan, TusError> {
    if matches!(info.kind, UploadKind::Final(_)) {
        return Err(TusError::ModifyFinal);
    }
    check_alive(info, policy, now)?;
    let verify = policy.verification(request.checksum.as_ref())?;
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
        verify,
    })
}

/// Bytes that may still arrive after `offset`.
pub(crate) fn remaining(size: UploadSize, offset: u64, policy: &Policy) -> u64 {
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

/// The refusal of a request head that needs neither the store nor any
/// hook: the tus version, the headers, and for a creation its plan (length
/// against the maximum, metadata, concatenation). `None` when the request
/// would go on to the store. For servers deciding on `Expect: 100-continue`.
pub fn precheck(
    method: &http::Method,
    path: &str,
    headers: &http::HeaderMap,
    policy: &Policy,
    base_path: &str,
) -> Option<TusError> {
    match super::request::TusRequest::parse(method, path, headers, base_path) {
        Err(error) => Some(error),
        Ok(super::request::TusRequest::Create(request)) => plan_creation(&request, policy, base_path).err(),
        Ok(_) => None,
    }
}

/// What changed once a write (an append, or creation with upload) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AfterWrite {
    /// The upload just received its last byte: run the finish steps (once).
    pub finished: bool,
    /// It is a partial upload that just completed: finals may wait for it.
    pub partial_completed: bool,
    /// `Upload-Expires` to answer with.
    pub expires: Option<SystemTime>,
}

/// Decides what a write that took upload `kind` from `was_complete` to
/// `offset` (of `size`) means, at `now`.
pub fn after_write(
    kind: &UploadKind,
    size: UploadSize,
    was_complete: bool,
    offset: u64,
    policy: &Policy,
    now: SystemTime,
) -> AfterWrite {
    let complete = size.known() == Some(offset);
    let finished = complete && !was_complete;
    AfterWrite {
        finished,
        partial_completed: finished && *kind == UploadKind::Partial,
        expires: expiry_after_write(kind, complete, policy, now),
    }
}

/// `Upload-Expires` for an upload just written at `now`: unfinished uploads
/// live `expire_after` from their last write; finished and final ones do not expire.
fn expiry_after_write(kind: &UploadKind, complete: bool, policy: &Policy, now: SystemTime) -> Option<SystemTime> {
    let lifetime = policy.expire_after?;
    if complete || matches!(kind, UploadKind::Final(_)) {
        return None;
    }
    now.checked_add(lifetime)
}

/// The answer to HEAD for an upload in state `info` at `now` (`410` once expired).
pub fn head(info: &UploadInfo, policy: &Policy, now: SystemTime) -> Result<super::response::Reply, TusError> {
    check_alive(info, policy, now)?;
    Ok(super::response::head(info, expires_at(info, policy)))
}

/// Whether DELETE is served at all.
pub fn check_termination(policy: &Policy) -> Result<(), TusError> {
    if policy.supports(Extension::Termination) {
        Ok(())
    } else {
        Err(TusError::ExtensionNotSupported(Extension::Termination))
    }
}

/// The answer to GET of upload `info` with the `range` header: only a
/// complete upload is served, whole or the one satisfiable range asked for.
pub fn download(info: &UploadInfo, range: Option<&http::HeaderValue>) -> Result<super::response::Reply, TusError> {
    if !info.is_complete() {
        return Err(TusError::UploadNotComplete);
    }
    let length = info.offset;
    let range = super::download::resolve_range(range, length)?;
    let (status, headers) = super::download::download_head(&info.metadata, length, range.as_ref());
    Ok(super::response::download(
        &info.id,
        status,
        headers,
        range.unwrap_or(0..length),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use super::super::policy::ConcatLimits;
    use crate::headers::Metadata;

    fn policy(max_size: Option<u64>) -> Policy {
        Policy {
            max_size,
            extensions: vec![
                Extension::Creation,
                Extension::CreationWithUpload,
                Extension::CreationDeferLength,
            ],
            expire_after: None,
            concat: ConcatLimits::default(),
        }
    }

    const NOW: SystemTime = SystemTime::UNIX_EPOCH;

    fn info(size: UploadSize, offset: u64) -> UploadInfo {
        UploadInfo {
            id: UploadId::parse("abc").expect("id"),
            size,
            offset,
            metadata: Metadata::new(),
            kind: UploadKind::Single,
            created_at: SystemTime::UNIX_EPOCH,
            updated_at: SystemTime::UNIX_EPOCH,
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
                Ok(CreationPlan::Upload {
                    size: Known(100),
                    body_limit: None,
                    partial: false,
                    verify: None,
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
                Ok(CreationPlan::Upload {
                    size: Known(0),
                    body_limit: None,
                    partial: false,
                    verify: None,
                }),
            ),
            (
                create(Known(100), true, Some(5)),
                None,
                Ok(CreationPlan::Upload {
                    size: Known(100),
                    body_limit: Some(100),
                    partial: false,
                    verify: None,
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
                Ok(CreationPlan::Upload {
                    size: Deferred,
                    body_limit: Some(50),
                    partial: false,
                    verify: None,
                }),
            ),
            (create(Deferred, true, Some(51)), Some(50), Err("ERR_MAX_SIZE_EXCEEDED")),
            (
                create(Deferred, false, None),
                None,
                Ok(CreationPlan::Upload {
                    size: Deferred,
                    body_limit: None,
                    partial: false,
                    verify: None,
                }),
            ),
        ];
        for (request, max, expected) in cases {
            let got = plan_creation(request, &policy(*max), "/files/").map_err(|e| e.code());
            assert_eq!(&got, expected, "{request:?} max {max:?}");
        }
    }

    #[test]
    fn creation_needs_the_extensions_it_uses() {
        let none = Policy {
            max_size: None,
            extensions: vec![Extension::Creation],
            expire_after: None,
            concat: ConcatLimits::default(),
        };
        assert_eq!(
            plan_creation(&create(UploadSize::Deferred, false, None), &none, "/files/").map_err(|e| e.code()),
            Err("ERR_EXTENSION_NOT_SUPPORTED")
        );
        let mut partial = create(UploadSize::Known(5), false, None);
        partial.concat = Some(UploadConcat::Partial);
        assert_eq!(
            plan_creation(&partial, &none, "/files/").map_err(|e| e.code()),
            Err("ERR_EXTENSION_NOT_SUPPORTED")
        );
        // Without creation-with-upload a body is ignored rather than stored.
        assert!(matches!(
            plan_creation(&create(UploadSize::Known(5), true, Some(5)), &none, "/files/"),
            Ok(CreationPlan::Upload { body_limit: None, .. })
        ));
        let mut checksummed = create(UploadSize::Known(5), false, None);
        checksummed.checksum = Some(Verification::Trailer);
        assert_eq!(
            plan_creation(&checksummed, &none, "/files/").map_err(|e| e.code()),
            Err("ERR_UNSUPPORTED_CHECKSUM_ALGORITHM")
        );
    }

    fn concat_policy(unfinished: bool) -> Policy {
        let mut extensions = vec![Extension::Creation, Extension::Concatenation];
        if unfinished {
            extensions.push(Extension::ConcatenationUnfinished);
        }
        Policy {
            max_size: Some(100),
            extensions,
            expire_after: None,
            concat: ConcatLimits::default(),
        }
    }

    #[test]
    fn final_creation_resolves_references_and_refuses_bodies() {
        let mut request = create(UploadSize::Known(1), false, None);
        request.size = None;
        request.concat = Some(UploadConcat::Final(vec![
            "/files/a".into(),
            "http://h:1/files/b".into(),
            "/files/a".into(),
        ]));
        let plan = plan_creation(&request, &concat_policy(false), "/files/").expect("plan");
        let ids: Vec<&str> = match &plan {
            CreationPlan::Final(parts) => parts.iter().map(|(id, _)| id.as_str()).collect(),
            CreationPlan::Upload { .. } => panic!("expected a final plan"),
        };
        assert_eq!(ids, ["a", "b", "a"]);
        request.concat = Some(UploadConcat::Final(vec!["/files/a/b".into()]));
        assert_eq!(
            plan_creation(&request, &concat_policy(false), "/files/").map_err(|e| e.code()),
            Err("ERR_INVALID_CONCAT_REFERENCE")
        );
        request.concat = Some(UploadConcat::Final(vec!["/files/a".into()]));
        request.with_upload = true;
        request.content_length = Some(3);
        assert_eq!(
            plan_creation(&request, &concat_policy(false), "/files/").map_err(|e| e.code()),
            Err("ERR_MODIFY_FINAL")
        );
    }

    #[test]
    fn final_plan_table() {
        let partial = |size: UploadSize, offset: u64| {
            let mut state = info(size, offset);
            state.kind = UploadKind::Partial;
            state
        };
        let (a, b) = (partial(UploadSize::Known(5), 5), partial(UploadSize::Known(6), 6));
        let (unfinished, deferred) = (partial(UploadSize::Known(6), 2), partial(UploadSize::Deferred, 2));
        let single = info(UploadSize::Known(5), 5);
        let big = partial(UploadSize::Known(95), 95);
        let ready = |size| {
            Ok(FinalPlan {
                size: UploadSize::Known(size),
                ready: true,
            })
        };
        let cases: &[(Vec<&UploadInfo>, bool, Result<FinalPlan, &str>)] = &[
            (vec![&a, &b], false, ready(11)),
            (vec![&a, &a], false, ready(10)),
            (vec![&a, &single], false, Err("ERR_CONCAT_NOT_PARTIAL")),
            (vec![&a, &unfinished], false, Err("ERR_UPLOAD_NOT_FINISHED")),
            (
                vec![&a, &unfinished],
                true,
                Ok(FinalPlan {
                    size: UploadSize::Known(11),
                    ready: false,
                }),
            ),
            (
                vec![&a, &deferred],
                true,
                Ok(FinalPlan {
                    size: UploadSize::Deferred,
                    ready: false,
                }),
            ),
            (vec![&a, &big, &b], false, Err("ERR_MAX_SIZE_EXCEEDED")),
        ];
        for (partials, unfinished_allowed, expected) in cases {
            let named: Vec<(&UploadInfo, &str)> = partials.iter().map(|info| (*info, "/files/x")).collect();
            let got = plan_final(&named, &concat_policy(*unfinished_allowed)).map_err(|e| e.code());
            assert_eq!(&got, expected, "{partials:?}");
        }
    }

    #[test]
    fn sliding_expiration() {
        let hour = Duration::from_secs(3600);
        let expiring = Policy {
            expire_after: Some(hour),
            ..policy(None)
        };
        let mut state = info(UploadSize::Known(10), 3);
        state.updated_at = NOW + hour;
        assert_eq!(expires_at(&state, &expiring), Some(NOW + hour + hour));
        assert!(check_alive(&state, &expiring, NOW + hour + hour - Duration::from_secs(1)).is_ok());
        assert_eq!(
            check_alive(&state, &expiring, NOW + hour + hour).map_err(|e| e.code()),
            Err("ERR_UPLOAD_EXPIRED")
        );
        assert_eq!(
            plan_append(&state, &append(3, None, None), &expiring, NOW + hour * 3).map_err(|e| e.code()),
            Err("ERR_UPLOAD_EXPIRED")
        );
        state.offset = 10;
        assert_eq!(expires_at(&state, &expiring), None, "completed uploads never expire");
        assert_eq!(
            expires_at(&info(UploadSize::Deferred, 0), &policy(None)),
            None,
            "no lifetime, no expiry"
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
                    verify: None,
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
                    verify: None,
                }),
            ),
            (
                info(Known(100), 0),
                append(0, Some(100), None),
                None,
                Ok(AppendPlan {
                    declare_length: None,
                    body_limit: 100,
                    verify: None,
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
                    verify: None,
                }),
            ),
            (
                info(Deferred, 10),
                append(10, Some(10), Some(0)),
                None,
                Ok(AppendPlan {
                    declare_length: Some(10),
                    body_limit: 0,
                    verify: None,
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
                    verify: None,
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
                    verify: None,
                }),
            ),
        ];
        for (state, request, max, expected) in cases {
            let got = plan_append(state, request, &policy(*max), NOW).map_err(|e| e.code());
            assert_eq!(&got, expected, "{state:?} {request:?} max {max:?}");
        }
    }

    #[test]
    fn append_to_final_upload_is_forbidden() {
        let mut state = info(UploadSize::Known(10), 0);
        state.kind = UploadKind::Final(vec![]);
        assert_eq!(
            plan_append(&state, &append(0, None, None), &policy(None), NOW).map_err(|e| e.code()),
            Err("ERR_MODIFY_FINAL")
        );
    }

    #[test]
    fn after_write_table() {
        let hour = Duration::from_secs(3600);
        let expiring = Policy {
            expire_after: Some(hour),
            ..policy(None)
        };
        let known = UploadSize::Known(10);
        let cases: &[(UploadKind, UploadSize, bool, u64, bool, bool, Option<SystemTime>)] = &[
            (UploadKind::Single, known, false, 5, false, false, Some(NOW + hour)),
            (UploadKind::Single, known, false, 10, true, false, None),
            (UploadKind::Single, known, true, 10, false, false, None),
            (UploadKind::Partial, known, false, 10, true, true, None),
            (
                UploadKind::Partial,
                UploadSize::Deferred,
                false,
                10,
                false,
                false,
                Some(NOW + hour),
            ),
            (UploadKind::Final(Vec::new()), known, false, 3, false, false, None),
        ];
        for (kind, size, was_complete, offset, finished, partial_completed, expires) in cases {
            let got = after_write(kind, *size, *was_complete, *offset, &expiring, NOW);
            assert_eq!(
                got,
                AfterWrite {
                    finished: *finished,
                    partial_completed: *partial_completed,
                    expires: *expires,
                },
                "{kind:?} {size:?} was_complete {was_complete} offset {offset}"
            );
        }
    }

    #[test]
    fn final_fan_out_is_bounded() {
        let mut policy = concat_policy(false);
        policy.concat = ConcatLimits {
            max_parts: 3,
            max_repeats: 2,
        };
        let mut request = create(UploadSize::Known(1), false, None);
        request.size = None;
        let plan = |references: &[&str], request: &mut CreateRequest| {
            request.concat = Some(UploadConcat::Final(
                references.iter().map(|r| (*r).to_owned()).collect(),
            ));
            plan_creation(request, &policy, "/files/")
                .map(|_| ())
                .map_err(|e| e.code())
        };
        assert_eq!(plan(&["/files/a", "/files/a", "/files/b"], &mut request), Ok(()));
        assert_eq!(
            plan(&["/files/a", "/files/a", "/files/a"], &mut request),
            Err("ERR_PARTIAL_REPEATED")
        );
        assert_eq!(
            plan(&["/files/a", "/files/b", "/files/c", "/files/d"], &mut request),
            Err("ERR_TOO_MANY_PARTIALS")
        );
    }

    #[test]
    fn only_complete_uploads_are_downloaded() {
        let partial = info(UploadSize::Known(10), 5);
        assert_eq!(
            download(&partial, None).map(|_| ()).map_err(|e| e.code()),
            Err("ERR_UPLOAD_NOT_COMPLETE")
        );
        let done = info(UploadSize::Known(10), 10);
        let reply = download(&done, Some(&http::HeaderValue::from_static("bytes=2-4"))).expect("served");
        assert_eq!(reply.status(), http::StatusCode::PARTIAL_CONTENT);
        assert_eq!(
            reply.body(),
            &super::super::response::ReplyBody::Stored {
                id: done.id.clone(),
                range: 2..5
            }
        );
        let empty = info(UploadSize::Known(0), 0);
        assert_eq!(
            download(&empty, None).expect("served").body(),
            &super::super::response::ReplyBody::Empty
        );
    }
}
