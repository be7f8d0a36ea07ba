//! Counters and store latency histograms (cargo feature `metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use http::Method;

use crate::store::{Capabilities, DataStream, NewUpload, Store, StoreError, UploadId, UploadInfo, Verdict};

const METHODS: [&str; 7] = ["OPTIONS", "HEAD", "POST", "PATCH", "DELETE", "GET", "OTHER"];
const OPERATIONS: [&str; 9] = [
    "create",
    "info",
    "append",
    "append_staged",
    "declare_length",
    "terminate",
    "read",
    "concatenate",
    "list",
];
/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if seconds <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Counters and store latency histograms, rendered in the Prometheus text
/// format. Atomics only: counting never waits on a lock held by another request, except the error-code table.
///
/// ```
/// # use std::sync::Arc;
/// # use tus_core::{server::TusHandler, store::MemoryStore};
/// let handler = TusHandler::builder(Arc::new(MemoryStore::new())).build();
/// let text = handler.metrics().render_prometheus();
/// assert!(text.contains("tus_uploads_created_total 0"));
/// ```
///
/// What a [`TusHandler`](super::TusHandler) counted since it was built.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: [AtomicU64; METHODS.len()],
    bytes_received: AtomicU64,
    created: AtomicU64,
    finished: AtomicU64,
    terminated: AtomicU64,
    errors: Mutex<BTreeMap<&'static str, u64>>,
    store: [Histogram; OPERATIONS.len()],
}

impl Metrics {
    pub(super) fn request(&self, method: &Method) {
        let index = METHODS
            .iter()
            .position(|name| *name == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn bytes_received(&self, bytes: u64) {
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(super) fn upload_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn upload_finished(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn upload_terminated(&self) {
        self.terminated.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn error(&self, code: &'static str) {
        *self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(code)
            .or_default() += 1;
    }

    fn store_call(&self, operation: usize, elapsed: Duration) {
        if let Some(histogram) = self.store.get(operation) {
            histogram.observe(elapsed);
        }
    }

    /// Uploads created so far.
    pub fn uploads_created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    /// Uploads that received their last byte so far.
    pub fn uploads_finished(&self) -> u64 {
        self.finished.load(Ordering::Relaxed)
    }

    /// Request body bytes handed to the store so far.
    pub fn total_bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }

    /// Everything, in the [Prometheus text format](https://prometheus.io/docs/instrumenting/exposition_formats/)
    /// (serve it as `text/plain; version=0.0.4`).
    pub fn render_prometheus(&self) -> String {
        let mut out = String::new();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        out.push_str("# HELP tus_requests_total Requests answered by the tus handler, by method.\n");
        out.push_str("# TYPE tus_requests_total counter\n");
        for (method, counter) in METHODS.iter().zip(&self.requests) {
            let _ = writeln!(out, "tus_requests_total{{method=\"{method}\"}} {}", load(counter));
        }
        for (name, help, counter) in [
            (
                "tus_bytes_received_total",
                "Request body bytes handed to the store.",
                &self.bytes_received,
            ),
            ("tus_uploads_created_total", "Uploads created.", &self.created),
            (
                "tus_uploads_finished_total",
                "Uploads that received their last byte.",
                &self.finished,
            ),
            ("tus_uploads_terminated_total", "Uploads terminated.", &self.terminated),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                load(counter)
            );
        }
        out.push_str("# HELP tus_errors_total Requests answered with an error, by stable error code.\n");
        out.push_str("# TYPE tus_errors_total counter\n");
        for (code, count) in self
            .errors
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
        {
            let _ = writeln!(out, "tus_errors_total{{code=\"{code}\"}} {count}");
        }
        out.push_str("# HELP tus_store_duration_seconds Latency of store calls, by operation.\n");
        out.push_str("# TYPE tus_store_duration_seconds histogram\n");
        for (operation, histogram) in OPERATIONS.iter().zip(&self.store) {
            for (bound, bucket) in BUCKETS.iter().zip(&histogram.buckets) {
                let _ = writeln!(
                    out,
                    "tus_store_duration_seconds_bucket{{operation=\"{operation}\",le=\"{bound}\"}} {}",
                    load(bucket)
                );
            }
            let count = load(&histogram.count);
            let sum = load(&histogram.sum_micros) as f64 / 1e6;
            let _ = writeln!(
                out,
                "tus_store_duration_seconds_bucket{{operation=\"{operation}\",le=\"+Inf\"}} {count}\n\
                 tus_store_duration_seconds_sum{{operation=\"{operation}\"}} {sum}\n\
                 tus_store_duration_seconds_count{{operation=\"{operation}\"}} {count}"
            );
        }
        out
    }
}

/// A store that times every call of the store it wraps.
pub(super) struct MeteredStore {
    pub(super) store: std::sync::Arc<dyn Store>,
    pub(super) metrics: std::sync::Arc<Metrics>,
}

impl MeteredStore {
    async fn timed<T>(&self, operation: usize, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.metrics.store_call(operation, started.elapsed());
        result
    }
}

impl Store for MeteredStore {
    fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(self.timed(0, self.store.create(upload)))
    }

    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        Box::pin(self.timed(1, self.store.info(id)))
    }

    fn append<'a>(&'a self, id: &'a UploadId, offset: u64, data: DataStream) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.timed(2, self.store.append(id, offset, data)))
    }

    fn append_staged<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        data: DataStream,
        verdict: Verdict,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.timed(3, self.store.append_staged(id, offset, data, verdict)))
    }

    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.timed(4, self.store.declare_length(id, length)))
    }

    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(self.timed(5, self.store.terminate(id)))
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(self.timed(6, self.store.read(id, range)))
    }

    fn concatenate<'a>(&'a self, id: &'a UploadId, partials: &'a [UploadId]) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(self.timed(7, self.store.concatenate(id, partials)))
    }

    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        self.store.list()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_errors_and_histograms() {
        let metrics = Metrics::default();
        metrics.request(&Method::POST);
        metrics.request(&Method::from_bytes(b"PROPFIND").expect("method"));
        metrics.bytes_received(11);
        metrics.upload_created();
        metrics.error("ERR_UPLOAD_NOT_FOUND");
        metrics.error("ERR_UPLOAD_NOT_FOUND");
        metrics.store_call(1, Duration::from_millis(3));
        let text = metrics.render_prometheus();
        for line in [
            "tus_requests_total{method=\"POST\"} 1",
            "tus_requests_total{method=\"OTHER\"} 1",
            "tus_bytes_received_total 11",
            "tus_uploads_created_total 1",
            "tus_uploads_finished_total 0",
            "tus_errors_total{code=\"ERR_UPLOAD_NOT_FOUND\"} 2",
            "tus_store_duration_seconds_bucket{operation=\"info\",le=\"0.0025\"} 0",
            "tus_store_duration_seconds_bucket{operation=\"info\",le=\"0.005\"} 1",
            "tus_store_duration_seconds_count{operation=\"info\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
