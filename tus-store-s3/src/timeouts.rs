//! How long an S3 call may take before it counts as failed, so that an S3
//! server that hangs (or a network that drops packets) turns into a prompt,
//! retryable error for the tus client instead of a request that never ends.
//!
//! | calls | each attempt | all attempts (3) |
//! |---|---|---|
//! | small ones: HEAD, GET of the info object or the incomplete part, List, Create, Delete, Abort | [`attempt`](S3Timeouts::attempt) (5 s) | [`operation`](S3Timeouts::operation) (12 s) |
//! | transfers: UploadPart, PutObject, UploadPartCopy, CompleteMultipartUpload of `n` bytes | `attempt + n / min_transfer_rate` | three times that |
//!
//! Connecting has its own [`connect`](S3Timeouts::connect) limit (2 s). A
//! download streams at its reader's pace: only the wait for its first byte
//! is bounded.

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;

use crate::plan::MIB;

/// Timeouts of the S3 calls the store makes (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct S3Timeouts {
    /// Time to open a connection.
    pub connect: Duration,
    /// Time for one attempt of a small call.
    pub attempt: Duration,
    /// Time for a small call, all attempts and back-offs included.
    pub operation: Duration,
    /// The slowest transfer, in bytes a second, that still counts as
    /// working: a transfer of `n` bytes may take `attempt + n / rate`.
    pub min_transfer_rate: u64,
}

impl Default for S3Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            attempt: Duration::from_secs(5),
            operation: Duration::from_secs(12),
            min_transfer_rate: MIB,
        }
    }
}

impl S3Timeouts {
    /// The client-wide timeouts (for the small calls).
    pub fn client_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }

    /// Three attempts, a short back-off: a store call either succeeds or
    /// fails within [`operation`](Self::operation).
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(3)
            .with_initial_backoff(Duration::from_millis(100))
            .with_max_backoff(Duration::from_secs(1))
    }

    /// How long one attempt of a transfer of `bytes` may take.
    pub fn transfer_attempt(&self, bytes: u64) -> Duration {
        let rate = self.min_transfer_rate.max(1);
        self.attempt + Duration::from_millis(bytes.saturating_mul(1000) / rate)
    }

    /// The per-call configuration of a transfer of `bytes`.
    pub(crate) fn transfer_override(&self, bytes: u64) -> aws_sdk_s3::config::Builder {
        let attempt = self.transfer_attempt(bytes);
        aws_sdk_s3::config::Builder::default().timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(self.connect)
                .operation_attempt_timeout(attempt)
                .operation_timeout(attempt * 3)
                .build(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transfer_may_take_longer_the_more_bytes_it_carries() {
        let timeouts = S3Timeouts::default();
        assert_eq!(timeouts.transfer_attempt(0), Duration::from_secs(5));
        assert_eq!(timeouts.transfer_attempt(8 * MIB), Duration::from_secs(13));
        assert_eq!(
            S3Timeouts {
                min_transfer_rate: 0,
                ..timeouts
            }
            .transfer_attempt(1000),
            Duration::from_secs(1005),
            "a zero rate counts as one byte a second"
        );
        assert!(timeouts.transfer_attempt(u64::MAX) > Duration::from_secs(1 << 30));
    }
}
