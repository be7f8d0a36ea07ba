//! Request bodies that stream: a file range read block by block, or the
//! slices of a stream's one-chunk buffer. A producer task feeds a small
//! channel (a few blocks), so memory stays flat whatever the chunk size;
//! bytes are counted as the transport takes them (progress, stall
//! watchdog), paced by an optional rate limit, and hashed on the way for a
//! checksum trailer.

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
use tokio::sync::mpsc;
use tus_core::checksum::Hasher;
use tus_core::client::checksum_trailers;
use tus_core::headers::ChecksumAlgorithm;

/// Bytes read per block.
const BLOCK: usize = 256 * 1024;
/// Blocks in flight between the reader and the transport.
const DEPTH: usize = 4;

/// The body of one request. Built by the client; a custom [`Transport`]
/// polls it as an `http_body::Body`.
///
/// [`Transport`]: crate::Transport
#[derive(Debug, Default)]
pub struct RequestBody {
    frames: Option<mpsc::Receiver<io::Result<Frame<Bytes>>>>,
    len: Option<u64>,
    meter: Option<Meter>,
    /// Data bytes handed on so far.
    yielded: u64,
    /// Whether the body ends with trailers (and has ended with them).
    trailer: bool,
    trailers_sent: bool,
}

impl RequestBody {
    /// No body.
    pub fn empty() -> Self {
        Self::default()
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        let Some(frames) = this.frames.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = std::task::ready!(frames.poll_recv(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.yielded += data.len() as u64;
                    if let Some(meter) = &this.meter {
                        meter.sent(data.len() as u64);
                    }
                }
                this.trailers_sent |= frame.is_trailers();
            }
            Some(Err(_)) => this.frames = None,
            None => {
                this.frames = None;
                // The producer stopped early (abandoned after an early
                // answer): fail the body, so the connection is closed
                // rather than reused in an unknown state.
                let short = this.len.is_some_and(|len| this.yielded < len);
                if short || (this.trailer && !this.trailers_sent) {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "request body abandoned",
                    ))));
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match (self.len, &self.frames) {
            (_, None) => SizeHint::with_exact(0),
            (Some(len), _) => SizeHint::with_exact(len),
            (None, _) => SizeHint::default(),
        }
    }
}

/// Counts bytes handed to the transport: the upload's total, and the time
/// of the last one (the stall watchdog reads it).
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    total: Arc<AtomicU64>,
    activity: Arc<Activity>,
}

impl Meter {
    pub(crate) fn new(total: Arc<AtomicU64>, activity: Arc<Activity>) -> Self {
        Self { total, activity }
    }

    fn sent(&self, bytes: u64) {
        self.total.fetch_add(bytes, Ordering::Relaxed);
        self.activity.touch();
    }
}

/// When a request last made progress.
#[derive(Debug)]
pub(crate) struct Activity {
    epoch: Instant,
    last_millis: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            last_millis: AtomicU64::new(0),
        }
    }

    pub(crate) fn touch(&self) {
        let millis = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(millis, Ordering::Relaxed);
    }

    pub(crate) fn idle(&self) -> Duration {
        let now = self.epoch.elapsed();
        now.saturating_sub(Duration::from_millis(self.last_millis.load(Ordering::Relaxed)))
    }
}

/// Paces every body of a client to a byte rate.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    bytes_per_second: u64,
    next: Mutex<tokio::time::Instant>,
}

impl RateLimiter {
    pub(crate) fn new(bytes_per_second: u64) -> Self {
        Self {
            bytes_per_second: bytes_per_second.max(1),
            next: Mutex::new(tokio::time::Instant::now()),
        }
    }

    fn block(&self) -> usize {
        usize::try_from(self.bytes_per_second / 20)
            .unwrap_or(BLOCK)
            .clamp(1024, BLOCK)
    }

    async fn acquire(&self, bytes: usize) {
        let start = {
            let mut next = self.next.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let start = (*next).max(tokio::time::Instant::now());
            *next = start + Duration::from_secs_f64(bytes as f64 / self.bytes_per_second as f64);
            start
        };
        tokio::time::sleep_until(start).await;
    }
}

/// Where a body's bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum BodyData {
    /// `len` bytes of a file from `offset`.
    File { path: PathBuf, offset: u64, len: u64 },
    /// Buffered slices, in order.
    Segments(Vec<Bytes>),
}

impl BodyData {
    fn len(&self) -> u64 {
        match self {
            Self::File { len, .. } => *len,
            Self::Segments(segments) => segments.iter().map(|segment| segment.len() as u64).sum(),
        }
    }
}

/// A local read failure seen by a body's producer (so the driver can tell
/// it from a network failure).
pub(crate) type LocalError = Arc<Mutex<Option<String>>>;

/// How a body is produced.
#[derive(Debug, Clone)]
pub(crate) struct BodyOptions {
    pub(crate) trailer: Option<ChecksumAlgorithm>,
    pub(crate) limiter: Option<Arc<RateLimiter>>,
    pub(crate) meter: Meter,
    pub(crate) local_error: LocalError,
}

/// Starts the producer of `data` and returns the body it feeds, and a
/// handle that stops the producer (once the answer is in: a server that
/// answers before reading the whole body, as rustus does with a 413, must
/// not get the rest on a connection that is then reused).
pub(crate) fn spawn_body(data: BodyData, options: BodyOptions) -> (RequestBody, tokio::task::AbortHandle) {
    let (sender, frames) = mpsc::channel(DEPTH);
    let trailer = options.trailer.is_some();
    let len = (!trailer).then(|| data.len());
    let meter = options.meter.clone();
    let producer = tokio::spawn(produce(data, options, sender));
    let body = RequestBody {
        frames: Some(frames),
        len,
        meter: Some(meter),
        yielded: 0,
        trailer,
        trailers_sent: false,
    };
    (body, producer.abort_handle())
}

async fn produce(data: BodyData, options: BodyOptions, sender: mpsc::Sender<io::Result<Frame<Bytes>>>) {
    let mut hasher = options.trailer.map(Hasher::new);
    let block = options.limiter.as_ref().map_or(BLOCK, |limiter| limiter.block());
    let mut blocks = Blocks::new(data, block);
    loop {
        let next = match blocks.next().await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(error) => {
                *options
                    .local_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error.to_string());
                let _ = sender.send(Err(error)).await;
                return;
            }
        };
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&next);
        }
        if let Some(limiter) = &options.limiter {
            limiter.acquire(next.len()).await;
        }
        if sender.send(Ok(Frame::data(next))).await.is_err() {
            return; // The request was dropped.
        }
    }
    if let (Some(hasher), Some(algorithm)) = (hasher, options.trailer) {
        let _ = sender
            .send(Ok(Frame::trailers(checksum_trailers(algorithm, hasher.finish()))))
            .await;
    }
}

/// The digest of `data` (for the `Upload-Checksum` header): a file range
/// is read once more, a buffer hashed in place.
pub(crate) async fn digest(data: &BodyData, algorithm: ChecksumAlgorithm) -> io::Result<Vec<u8>> {
    let mut hasher = Hasher::new(algorithm);
    let mut blocks = Blocks::new(data.clone(), BLOCK);
    while let Some(block) = blocks.next().await? {
        hasher.update(&block);
    }
    Ok(hasher.finish())
}

/// Reads `BodyData` block by block.
struct Blocks {
    data: BodyData,
    block: usize,
    file: Option<tokio::fs::File>,
    done: u64,
    segment: usize,
}

impl Blocks {
    fn new(data: BodyData, block: usize) -> Self {
        Self {
            data,
            block,
            file: None,
            done: 0,
            segment: 0,
        }
    }

    async fn next(&mut self) -> io::Result<Option<Bytes>> {
        match &self.data {
            BodyData::Segments(segments) => {
                // Segments are handed on in blocks, so progress and pacing stay smooth.
                while let Some(segment) = segments.get(self.segment) {
                    let start = usize::try_from(self.done).unwrap_or(usize::MAX);
                    if start >= segment.len() {
                        self.segment += 1;
                        self.done = 0;
                        continue;
                    }
                    let end = segment.len().min(start + self.block);
                    self.done = end as u64;
                    return Ok(Some(segment.slice(start..end)));
                }
                Ok(None)
            }
            BodyData::File { path, offset, len } => {
                let left = len - self.done;
                if left == 0 {
                    return Ok(None);
                }
                if self.file.is_none() {
                    let mut file = tokio::fs::File::open(path).await?;
                    file.seek(io::SeekFrom::Start(*offset)).await?;
                    self.file = Some(file);
                }
                let Some(file) = self.file.as_mut() else {
                    return Ok(None);
                };
                let want = usize::try_from(left).unwrap_or(usize::MAX).min(self.block);
                let mut buffer = BytesMut::with_capacity(want);
                while buffer.len() < want {
                    let read = (&mut *file)
                        .take((want - buffer.len()) as u64)
                        .read_buf(&mut buffer)
                        .await?;
                    if read == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            format!("{} ended early: did it shrink?", path.display()),
                        ));
                    }
                }
                self.done += buffer.len() as u64;
                Ok(Some(buffer.freeze()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    fn options(trailer: Option<ChecksumAlgorithm>) -> (BodyOptions, Arc<AtomicU64>) {
        let total = Arc::new(AtomicU64::new(0));
        let options = BodyOptions {
            trailer,
            limiter: None,
            meter: Meter::new(total.clone(), Arc::new(Activity::new())),
            local_error: LocalError::default(),
        };
        (options, total)
    }

    #[tokio::test]
    async fn file_ranges_stream_with_a_trailer() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data");
        let content: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).expect("write");
        let data = BodyData::File {
            path: path.clone(),
            offset: 1000,
            len: 600_000,
        };
        let (options, total) = options(Some(ChecksumAlgorithm::Sha1));
        let (body, _) = spawn_body(data.clone(), options);
        assert_eq!(body.size_hint().exact(), None, "a trailer needs chunked framing");
        let collected = body.collect().await.expect("body");
        let trailers = collected.trailers().cloned().expect("trailers");
        assert_eq!(collected.to_bytes(), content[1000..601_000]);
        assert_eq!(total.load(Ordering::Relaxed), 600_000);
        let expected = digest(&data, ChecksumAlgorithm::Sha1).await.expect("digest");
        assert_eq!(trailers, checksum_trailers(ChecksumAlgorithm::Sha1, expected));
    }

    #[tokio::test]
    async fn a_file_that_shrank_is_a_local_error() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("data");
        std::fs::write(&path, b"short").expect("write");
        let (options, _) = options(None);
        let local = options.local_error.clone();
        let (body, _) = spawn_body(
            BodyData::File {
                path,
                offset: 0,
                len: 10,
            },
            options,
        );
        assert_eq!(body.size_hint().exact(), Some(10));
        assert!(body.collect().await.is_err());
        assert!(local.lock().expect("lock").is_some());
    }

    #[tokio::test]
    async fn segments_are_cut_into_blocks() {
        let segments = vec![Bytes::from(vec![1u8; BLOCK + 5]), Bytes::from_static(b"xyz")];
        let (options, total) = options(None);
        let (mut body, _) = spawn_body(BodyData::Segments(segments), options);
        let mut sizes = Vec::new();
        while let Some(frame) = body.frame().await {
            sizes.push(frame.expect("frame").into_data().expect("data").len());
        }
        assert_eq!(sizes, [BLOCK, 5, 3]);
        assert_eq!(total.load(Ordering::Relaxed), (BLOCK + 8) as u64);
    }

    #[tokio::test]
    async fn an_abandoned_body_fails_instead_of_ending_short() {
        let (options, _) = options(None);
        let segments = vec![Bytes::from(vec![0u8; 16 * BLOCK])];
        let (mut body, producer) = spawn_body(BodyData::Segments(segments), options);
        let first = body.frame().await.expect("frame").expect("data");
        assert!(first.is_data());
        producer.abort();
        let mut failed = false;
        while let Some(frame) = body.frame().await {
            if frame.is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "a short body must fail");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_limit_paces_blocks() {
        let limiter = RateLimiter::new(100_000);
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            limiter.acquire(10_000).await;
        }
        // The first block goes at once, the tenth after 0.9 s.
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_millis(850) && elapsed < Duration::from_millis(1500),
            "{elapsed:?}"
        );
    }
}
