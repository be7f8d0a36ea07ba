//! Connection-level limits both examples enforce the same way, so that
//! `--max-header-bytes` and `--max-connections` mean what they say whatever
//! the framework: the size of a request head counted the same for both, the
//! per-worker connection share for actix-web, and the log rate limit flag.

use clap::Args as ClapArgs;

use crate::log_limit::DEFAULT_LOG_LINES_PER_SECOND;

/// Flags for the limits added by the hardening work (flattened into
/// [`Args`](crate::Args)).
#[derive(Debug, Clone, ClapArgs)]
pub struct LimitArgs {
    /// Most log lines a second from each place in the code that logs (a
    /// client sending malformed requests cannot flood the log); the rest
    /// are counted in one line a second. 0: no limit.
    #[arg(long, default_value_t = DEFAULT_LOG_LINES_PER_SECOND)]
    pub log_rate_limit: u32,
    /// The slowest a request body may arrive, in bytes a second, averaged
    /// over `--body-rate-window`: a slower body is stopped (its bytes are
    /// kept; the client resumes), so trickling bodies cannot hold the
    /// server's connections. 0: any rate.
    #[arg(long, default_value_t = 1024)]
    pub min_body_rate: u64,
    /// Seconds over which `--min-body-rate` is measured, window by window.
    #[arg(long, default_value_t = 30)]
    pub body_rate_window: u64,
}

impl LimitArgs {
    /// The minimum body rate the flags ask for, if any.
    pub fn min_body_rate(&self) -> Option<tus_server::MinBodyRate> {
        (self.min_body_rate > 0 && self.body_rate_window > 0).then(|| tus_server::MinBodyRate {
            bytes: self.min_body_rate.saturating_mul(self.body_rate_window),
            per: std::time::Duration::from_secs(self.body_rate_window),
        })
    }
}

/// The code of the answer to a request head over `--max-header-bytes`.
pub const HEADER_TOO_LARGE_CODE: &str = "ERR_REQUEST_HEADER_TOO_LARGE";

/// The size of a request head as it was sent over HTTP/1.1: the request
/// line (`METHOD TARGET HTTP/1.1\r\n`), each header line (`name: value\r\n`)
/// and the blank line that ends them.
pub fn request_head_bytes<'a>(
    method: &str,
    target: &str,
    headers: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> usize {
    const VERSION_AND_CRLF: usize = " HTTP/1.1\r\n".len();
    let request_line = method.len() + 1 + target.len() + VERSION_AND_CRLF;
    let header_lines: usize = headers
        .into_iter()
        .map(|(name, value)| name.len() + 2 + value.len() + 2)
        .sum();
    request_line + header_lines + 2
}

/// The plain-text body refusing a head of `size` bytes over `limit`.
pub fn header_too_large_body(size: usize, limit: usize) -> String {
    format!("{HEADER_TOO_LARGE_CODE}: the request header is {size} bytes, more than the {limit} allowed")
}

/// The body of a `431` answer if the head of a request with this method,
/// request target (`path?query`) and headers is larger than `limit`.
pub fn check_head_size<'a>(
    limit: usize,
    method: &str,
    target: Option<&str>,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Option<String> {
    let headers = headers.into_iter().map(|(name, value)| (name.as_bytes(), value));
    let size = request_head_bytes(method, target.unwrap_or("/"), headers);
    (size > limit).then(|| {
        tracing::debug!(size, limit, "request head too large");
        header_too_large_body(size, limit)
    })
}

/// How many connections each of `workers` workers may hold so that all of
/// them together hold at most `total` (actix-web's limit is per worker).
/// Returns `(workers, per_worker)`: with few connections, fewer workers;
/// at least one connection each.
///
/// actix-web's accept loop can hand a full worker one connection more than
/// its limit (one it accepted before it saw the worker full; measured: 65
/// held at 64 with shares of 32), so each share leaves room for that one.
pub fn per_worker_connections(total: usize, workers: usize) -> (usize, usize) {
    let workers = workers.clamp(1, (total / 2).max(1));
    (workers, (total.saturating_sub(workers) / workers).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_counted_as_sent() {
        let raw = "GET /files/abc?x=1 HTTP/1.1\r\nHost: 127.0.0.1:1080\r\nTus-Resumable: 1.0.0\r\n\r\n";
        let headers: [(&[u8], &[u8]); 2] = [(b"host", b"127.0.0.1:1080"), (b"tus-resumable", b"1.0.0")];
        assert_eq!(request_head_bytes("GET", "/files/abc?x=1", headers), raw.len());
    }

    #[test]
    fn connections_are_shared_between_workers_without_exceeding_the_total() {
        assert_eq!(per_worker_connections(1024, 2), (2, 511));
        assert_eq!(per_worker_connections(64, 2), (2, 31));
        assert_eq!(per_worker_connections(3, 16), (1, 2));
        assert_eq!(per_worker_connections(0, 4), (1, 1));
        for (total, workers) in [(7, 3), (100, 8), (3, 16), (2, 2), (1024, 24)] {
            let (workers, each) = per_worker_connections(total, workers);
            assert!(
                workers * (each + 1) <= total,
                "{total} over {workers}: room for actix-web's one extra per worker"
            );
        }
    }
}
