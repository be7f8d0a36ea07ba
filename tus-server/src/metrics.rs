//! Counters and store latency histograms (cargo feature `metrics`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::Sink;
use futures::future::BoxFuture;
use http::Method;
use tus_core::store::{
    Concatenate, DataStream, DeferLength, Durability, Listing, Store, StoreError, Terminate, UploadWriter, Writer,
};
use tus_core::upload::{NewUpload, UploadId, UploadInfo};

const METHODS: [&str; 7] = ["OPTIONS", "HEAD", "POST", "PATCH", "DELETE", "GET", "OTHER"];
const OPERATIONS: [&str; 8] = [
    "create",
    "info",
    "writer",
    "commit",
    "declare_length",
    "terminate",
    "read",
    "concatenate",
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
/// # use tus_server::{TusHandler, store::MemoryStore};
/// let handler = TusHandler::builder(Arc::new(MemoryStore::new())).build();
/// let text = handler.metrics().render_prometheus();
/// assert!(text.contains("tus_uploads_created_total 0"));
/// ```
///
/// What a [`TusHandler`](super::TusHandler) counted since it was built.
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
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
    pub(crate) fn request(&self, method: &Method) {
        let index = METHODS
            .iter()
            .position(|name| *name == method.as_str())
            .unwrap_or(METHODS.len() - 1);
        self.requests[index].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bytes_received(&self, bytes: u64) {
        self.bytes_received.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn upload_created(&self) {
        self.created.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn upload_finished(&self) {
        self.finished.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn upload_terminated(&self) {
        self.terminated.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn error(&self, code: &'static str) {
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

/// A store that times every call of the store it wraps, offering exactly
/// the capabilities of the store it wraps.
pub(crate) struct MeteredStore {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub(crate) fn new(store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { store, metrics }
    }

    /// `inner` with its writes and commit timed.
    fn metered(&self, inner: Writer) -> Writer {
        Box::pin(MeteredWriter {
            inner,
            metrics: Arc::clone(&self.metrics),
        })
    }

    async fn timed<T>(&self, operation: usize, call: impl Future<Output = T>) -> T {
        let started = Instant::now();
        let result = call.await;
        self.metrics.store_call(operation, started.elapsed());
        result
    }
}

impl Store for MeteredStore {
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        Box::pin(self.timed(0, self.store.create(upload)))
    }

    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        Box::pin(self.timed(1, self.store.info(id)))
    }

    fn create_with_writer(
        &self,
        upload: NewUpload,
        durability: Durability,
    ) -> BoxFuture<'_, Result<(UploadInfo, Result<Writer, StoreError>), StoreError>> {
        Box::pin(async move {
            // Timed as a creation: one call of the store.
            let (info, writer) = self.timed(0, self.store.create_with_writer(upload, durability)).await?;
            Ok((info, writer.map(|inner| self.metered(inner))))
        })
    }

    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>> {
        Box::pin(async move {
            let inner = self.timed(2, self.store.writer(id, offset, durability, now)).await?;
            Ok(self.metered(inner))
        })
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        Box::pin(self.timed(6, self.store.read(id, range)))
    }

    fn termination(&self) -> Option<&dyn Terminate> {
        self.store.termination().map(|_| self as &dyn Terminate)
    }

    fn deferred_length(&self) -> Option<&dyn DeferLength> {
        self.store.deferred_length().map(|_| self as &dyn DeferLength)
    }

    fn concatenation(&self) -> Option<&dyn Concatenate> {
        self.store.concatenation().map(|_| self as &dyn Concatenate)
    }

    fn listing(&self) -> Option<&dyn Listing> {
        self.store.listing()
    }
}

/// The wrapped store lacks a capability this wrapper only offers when it has it.
fn missing() -> StoreError {
    StoreError::backend("capability missing from the wrapped store")
}

impl Terminate for MeteredStore {
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let terminator = self.store.termination().ok_or_else(missing)?;
            self.timed(5, terminator.terminate(id)).await
        })
    }
}

impl DeferLength for MeteredStore {
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let deferred = self.store.deferred_length().ok_or_else(missing)?;
            self.timed(4, deferred.declare_length(id, length)).await
        })
    }
}

impl Concatenate for MeteredStore {
    fn concatenate<'a>(
        &'a self,
        id: &'a UploadId,
        partials: &'a [UploadId],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        Box::pin(async move {
            let concat = self.store.concatenation().ok_or_else(missing)?;
            self.timed(7, concat.concatenate(id, partials, now)).await
        })
    }

    fn watch<'a>(&'a self, partial: &'a UploadId, final_id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let concat = self.store.concatenation().ok_or_else(missing)?;
            concat.watch(partial, final_id).await
        })
    }

    fn waiting_finals<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<Vec<UploadId>, StoreError>> {
        Box::pin(async move {
            let concat = self.store.concatenation().ok_or_else(missing)?;
            concat.waiting_finals(partial).await
        })
    }

    fn unwatch<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async move {
            let concat = self.store.concatenation().ok_or_else(missing)?;
            concat.unwatch(partial).await
        })
    }
}

/// A writer whose commit is timed.
struct MeteredWriter {
    inner: Writer,
    metrics: Arc<Metrics>,
}

impl Sink<Bytes> for MeteredWriter {
    type Error = StoreError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.inner.as_mut().poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> Result<(), StoreError> {
        self.inner.as_mut().start_send(item)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.inner.as_mut().poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.inner.as_mut().poll_close(cx)
    }
}

impl UploadWriter for MeteredWriter {
    fn commit(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let this = Pin::into_inner(self);
        Box::pin(async move {
            let started = Instant::now();
            let result = this.inner.commit().await;
            this.metrics.store_call(3, started.elapsed());
            result
        })
    }

    fn abort(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        Pin::into_inner(self).inner.abort()
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
