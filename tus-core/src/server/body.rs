//! How a request body ended, and what that means for the bytes it carried:
//! the decision the server driver asks for once a body stops flowing.
//!
//! ```text
//!   Complete ─┬─ no checksum, or digest matches ─────────▶ keep, answer 204/201
//!             └─ digest differs / trailer missing ───────▶ discard, 460 / 400
//!   TooLong   (bytes past the length were not written) ─▶ keep the prefix*, 413
//!   Failed    (client went away, bad chunking) ─────────▶ keep the prefix*, 400
//!   Stopped   (stolen, shutdown, idle, too slow, hook) ─▶ keep the prefix*, by reason
//!                                            * unless the write is all-or-nothing
//! ```

use http::StatusCode;

use super::error::TusError;
use super::policy::Policy;
use crate::checksum::{DigestCheck, Verification};
use crate::store::Durability;
use crate::upload::UploadSize;

/// Why the server stopped reading a body before it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StopReason {
    /// Another request for the upload asked for its lock.
    Stolen,
    /// The server is shutting down.
    ShuttingDown,
    /// No byte arrived for the idle timeout.
    Idle,
    /// The body arrived more slowly than the minimum rate.
    TooSlow,
    /// An application hook refused to let the body go on.
    Refused {
        /// The status the hook chose.
        status: StatusCode,
        /// The hook's message.
        message: String,
    },
}

/// How a request body ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyEnd {
    /// Every byte arrived within the limit.
    Complete,
    /// The body went past the bytes the upload may still take; those within
    /// the limit were written.
    TooLong,
    /// The body failed: the client went away, or the framing was broken.
    Failed,
    /// The server stopped reading.
    Stopped(StopReason),
}

/// What to do with a write once its body ended.
#[derive(Debug)]
pub struct Settlement {
    /// Commit the writer (`true`) or abort it (`false`).
    pub keep: bool,
    /// The error to answer with, if the request failed.
    pub error: Option<TusError>,
}

/// How a write keeps its bytes: all or nothing when the body is verified
/// against a checksum, so a mismatch stores nothing.
pub fn durability(verify: Option<&Verification>) -> Durability {
    match verify {
        Some(_) => Durability::AllOrNothing,
        None => Durability::KeepPrefix,
    }
}

/// Decides, once a body stopped flowing, whether its bytes are kept and
/// what the request answers. `digest` is the comparison of a verified body
/// that ended completely; `size` is the upload's size after this request.
pub fn settle(
    end: BodyEnd,
    digest: Option<DigestCheck>,
    durability: Durability,
    size: UploadSize,
    policy: &Policy,
) -> Settlement {
    let keep_prefix = durability == Durability::KeepPrefix;
    let error = match end {
        BodyEnd::Complete => match digest {
            None | Some(DigestCheck::Match) => {
                return Settlement {
                    keep: true,
                    error: None,
                };
            }
            Some(DigestCheck::Mismatch) => TusError::ChecksumMismatch,
            Some(DigestCheck::MissingTrailer) => TusError::ChecksumTrailerMissing,
        },
        BodyEnd::TooLong => super::decide::exceeded(size, policy),
        BodyEnd::Failed => TusError::BodyInterrupted,
        BodyEnd::Stopped(reason) => match reason {
            StopReason::Stolen => TusError::InterruptedByRequest,
            StopReason::ShuttingDown => TusError::ShuttingDown,
            StopReason::Idle => TusError::BodyIdleTimeout,
            StopReason::TooSlow => TusError::BodyTooSlow,
            StopReason::Refused { status, message } => TusError::Rejected { status, message },
        },
    };
    // A verified body is all-or-nothing, so only an unverified one keeps a prefix.
    Settlement {
        keep: keep_prefix,
        error: Some(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Extension;
    use crate::server::policy::ConcatLimits;

    fn policy() -> Policy {
        Policy {
            max_size: Some(100),
            extensions: vec![Extension::Creation],
            expire_after: None,
            concat: ConcatLimits::default(),
        }
    }

    #[test]
    fn settlement_table() {
        use BodyEnd::*;
        use Durability::{AllOrNothing, KeepPrefix};
        let known = UploadSize::Known(10);
        let cases: Vec<(BodyEnd, Option<DigestCheck>, Durability, bool, Option<&str>)> = vec![
            (Complete, None, KeepPrefix, true, None),
            (Complete, Some(DigestCheck::Match), AllOrNothing, true, None),
            (
                Complete,
                Some(DigestCheck::Mismatch),
                AllOrNothing,
                false,
                Some("ERR_CHECKSUM_MISMATCH"),
            ),
            (
                Complete,
                Some(DigestCheck::MissingTrailer),
                AllOrNothing,
                false,
                Some("ERR_MISSING_CHECKSUM_TRAILER"),
            ),
            (TooLong, None, KeepPrefix, true, Some("ERR_UPLOAD_SIZE_EXCEEDED")),
            (TooLong, None, AllOrNothing, false, Some("ERR_UPLOAD_SIZE_EXCEEDED")),
            (Failed, None, KeepPrefix, true, Some("ERR_UPLOAD_INTERRUPTED")),
            (Failed, None, AllOrNothing, false, Some("ERR_UPLOAD_INTERRUPTED")),
            (
                Stopped(StopReason::Stolen),
                None,
                KeepPrefix,
                true,
                Some("ERR_UPLOAD_INTERRUPTED"),
            ),
            (
                Stopped(StopReason::ShuttingDown),
                None,
                AllOrNothing,
                false,
                Some("ERR_SERVER_SHUTTING_DOWN"),
            ),
            (
                Stopped(StopReason::Idle),
                None,
                KeepPrefix,
                true,
                Some("ERR_READ_TIMEOUT"),
            ),
            (
                Stopped(StopReason::TooSlow),
                None,
                KeepPrefix,
                true,
                Some("ERR_BODY_TOO_SLOW"),
            ),
            (
                Stopped(StopReason::Refused {
                    status: StatusCode::FORBIDDEN,
                    message: "quota".into(),
                }),
                None,
                KeepPrefix,
                true,
                Some("ERR_REJECTED"),
            ),
        ];
        for (end, digest, durability, keep, code) in cases {
            let label = format!("{end:?} {digest:?} {durability:?}");
            let settlement = settle(end, digest, durability, known, &policy());
            assert_eq!(settlement.keep, keep, "{label}");
            assert_eq!(settlement.error.as_ref().map(TusError::code), code, "{label}");
        }
    }

    #[test]
    fn a_deferred_upload_past_the_maximum_is_max_size_exceeded() {
        let settlement = settle(
            BodyEnd::TooLong,
            None,
            Durability::KeepPrefix,
            UploadSize::Deferred,
            &policy(),
        );
        assert_eq!(
            settlement.error.as_ref().map(TusError::code),
            Some("ERR_MAX_SIZE_EXCEEDED")
        );
    }

    #[test]
    fn verified_bodies_are_all_or_nothing() {
        assert_eq!(durability(None), Durability::KeepPrefix);
        assert_eq!(durability(Some(&Verification::Trailer)), Durability::AllOrNothing);
    }
}
