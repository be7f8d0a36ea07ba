//! When to try again, and how long to wait: the retry table, exponential
//! backoff with jitter, `Retry-After`, and the budget that bounds it all.
//!
//! | answer | verdict |
//! |---|---|
//! | connection refused or reset, I/O error, timeout, stall | retry (offset re-read first after a body) |
//! | 5xx, 408, 423, 429 | retry, honouring `Retry-After` |
//! | 409 | re-read the offset (HEAD), then retry |
//! | 460 (and rustus's 417 to a checksummed body) | retry at most [`RetryPolicy::max_checksum_failures`] times |
//! | 413 | halve the chunk and resend at once |
//! | 404, 410 | the upload is gone: forget it |
//! | 400, 401, 403 and every other status | refused, not retried |
//!
//! The budget ([`RetryPolicy::max_attempts`], [`RetryPolicy::max_elapsed`])
//! counts failures *since the offset last moved*: an upload that keeps
//! making progress through a flaky network never runs out of retries.

use std::time::{Duration, Instant, SystemTime};

use http::header::RETRY_AFTER;
use http::{HeaderMap, StatusCode};

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportFailure {
    /// The connection could not be made (refused, unreachable, DNS).
    Connect,
    /// No answer within the request timeout.
    Timeout,
    /// The stall watchdog fired: no byte moved for too long.
    Stalled,
    /// The connection broke (reset, closed mid-request) or another I/O error.
    Io,
}

/// The verdict on a status outside 2xx.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try again after the backoff.
    Retry,
    /// The offset changed under us (409): read it, then try again.
    Conflict,
    /// The body's checksum did not match: send it again, a few times.
    ChecksumMismatch,
    /// The body was too large (413): halve the chunk, resend at once.
    TooLarge,
    /// The upload no longer exists (404, 410).
    Gone,
    /// Permanent: not retried.
    Refused,
}

/// The tus checksum-mismatch status (`460 Checksum Mismatch`).
pub const CHECKSUM_MISMATCH: u16 = 460;

/// Classifies a non-2xx answer. `checksummed` says whether the request
/// carried a checksum (rustus answers a mismatch with 417).
pub fn classify(status: StatusCode, checksummed: bool) -> Verdict {
    match status.as_u16() {
        CHECKSUM_MISMATCH => Verdict::ChecksumMismatch,
        417 if checksummed => Verdict::ChecksumMismatch,
        409 => Verdict::Conflict,
        413 => Verdict::TooLarge,
        404 | 410 => Verdict::Gone,
        408 | 423 | 429 => Verdict::Retry,
        500..=599 => Verdict::Retry,
        _ => Verdict::Refused,
    }
}

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff; each later one doubles.
    pub base_delay: Duration,
    /// The longest backoff.
    pub max_delay: Duration,
    /// Failures in a row without progress before giving up.
    pub max_attempts: u32,
    /// Time since the first failure without progress before giving up.
    pub max_elapsed: Duration,
    /// Checksum mismatches in a row before giving up.
    pub max_checksum_failures: u32,
    /// The longest `Retry-After` honoured; longer ones are cut to this.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_attempts: 30,
            max_elapsed: Duration::from_secs(15 * 60),
            max_checksum_failures: 3,
            max_retry_after: Duration::from_secs(5 * 60),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        Self {
            max_attempts: 0,
            max_elapsed: Duration::ZERO,
            ..Self::default()
        }
    }

    /// The backoff before attempt `attempt` (1 for the first retry): base
    /// times 2^(attempt-1), capped, with "equal jitter" (a uniform draw in
    /// the upper half, from `random`), and at least `retry_after`.
    pub fn delay(&self, attempt: u32, random: u64, retry_after: Option<Duration>) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let full = self.base_delay.saturating_mul(1 << exponent).min(self.max_delay);
        let half = full / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).saturating_add(1);
        let jittered = half + Duration::from_nanos(random % jitter_nanos);
        match retry_after {
            Some(wait) => jittered.max(wait.min(self.max_retry_after)),
            None => jittered,
        }
    }
}

/// Failures since the offset last moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryBudget {
    /// Failures counted.
    pub attempts: u32,
    /// Checksum mismatches counted.
    pub checksum_failures: u32,
    /// When the first of them happened.
    pub since: Option<Instant>,
}

impl RetryBudget {
    /// Counts a failure at `now`; returns the attempt number of the retry.
    pub fn record(&mut self, now: Instant) -> u32 {
        self.since.get_or_insert(now);
        self.attempts = self.attempts.saturating_add(1);
        self.attempts
    }

    /// Whether a retry after `delay` is still within `policy`.
    pub fn allows(&self, policy: &RetryPolicy, now: Instant, delay: Duration) -> bool {
        let elapsed = self
            .since
            .map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
            + delay;
        self.attempts <= policy.max_attempts && elapsed <= policy.max_elapsed
    }

    /// Progress: everything is forgiven.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// `Retry-After` (RFC 9110 section 10.2.3): delay-seconds or an HTTP date,
/// relative to `wall_now`. Malformed values are ignored.
pub fn retry_after(headers: &HeaderMap, wall_now: SystemTime) -> Option<Duration> {
    let text = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(wall_now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn the_issue_table() {
        let cases: &[(u16, bool, Verdict)] = &[
            (500, false, Verdict::Retry),
            (502, false, Verdict::Retry),
            (503, false, Verdict::Retry),
            (408, false, Verdict::Retry),
            (423, false, Verdict::Retry),
            (429, false, Verdict::Retry),
            (409, false, Verdict::Conflict),
            (460, false, Verdict::ChecksumMismatch),
            (417, true, Verdict::ChecksumMismatch),
            (417, false, Verdict::Refused),
            (413, false, Verdict::TooLarge),
            (404, false, Verdict::Gone),
            (410, false, Verdict::Gone),
            (400, false, Verdict::Refused),
            (401, false, Verdict::Refused),
            (403, false, Verdict::Refused),
            (412, false, Verdict::Refused),
            (415, false, Verdict::Refused),
            (301, false, Verdict::Refused),
        ];
        for (status, checksummed, expected) in cases {
            let status = StatusCode::from_u16(*status).expect("status");
            assert_eq!(classify(status, *checksummed), *expected, "{status}");
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for (attempt, full_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (60, 1000)] {
            let full = Duration::from_millis(full_ms);
            for random in [0, 1, 12_345_678, u64::MAX] {
                let delay = policy.delay(attempt, random, None);
                assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?}");
            }
        }
        assert_eq!(policy.delay(1, 0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        let capped = policy.delay(1, 0, Some(Duration::from_secs(3600)));
        assert_eq!(capped, policy.max_retry_after);
    }

    #[test]
    fn budget_counts_attempts_and_time_since_progress() {
        let policy = RetryPolicy {
            max_attempts: 2,
            max_elapsed: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        let start = Instant::now();
        let mut budget = RetryBudget::default();
        assert_eq!(budget.record(start), 1);
        assert!(budget.allows(&policy, start, Duration::from_secs(1)));
        assert!(!budget.allows(&policy, start + Duration::from_secs(9), Duration::from_secs(2)));
        assert_eq!(budget.record(start), 2);
        assert!(budget.allows(&policy, start, Duration::ZERO));
        budget.record(start);
        assert!(!budget.allows(&policy, start, Duration::ZERO));
        budget.reset();
        assert_eq!(budget.record(start + Duration::from_secs(60)), 1);
        assert!(
            !RetryBudget {
                attempts: 1,
                ..RetryBudget::default()
            }
            .allows(&RetryPolicy::none(), start, Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_403_712_000);
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).expect("value"));
            retry_after(&headers, now)
        };
        assert_eq!(with("3"), Some(Duration::from_secs(3)));
        assert_eq!(with("Wed, 25 Jun 2014 16:00:10 GMT"), Some(Duration::from_secs(10)));
        assert_eq!(with("Wed, 25 Jun 2014 15:00:00 GMT"), Some(Duration::ZERO));
        assert_eq!(with("soon"), None);
        assert_eq!(with("-1"), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }
}
