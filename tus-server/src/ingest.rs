//! The body pump: request body frames go into the store's writer, capped,
//! hashed when a checksum was announced, stopped early when a stop signal
//! fires or the body is idle or too slow, with progress reported on a tick.
//!
//! ```text
//!   loop {
//!     stop signal (steal, shutdown)? ─▶ take what is already at hand, then stop
//!     tick (one timer per window)?   ─▶ idle / too slow? stop : report progress
//!     frame ready?                   ─▶ cap ─▶ hash ─▶ writer.feed   (no allocation)
//!     no frame yet                   ─▶ writer.poll_flush while waiting
//!   }
//! ```
//!
//! Per frame the pump allocates nothing and arms no timer: the stop
//! signals are polled in place, and one sleep covers a whole window (the
//! shortest of the idle timeout, the rate window and the progress
//! interval); the window's byte count says whether the body was idle.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, SinkExt as _};
use http_body::Body as _;
use tus_core::checksum::{BodyDigest, DigestCheck, Verification};
use tus_core::headers::{self, UploadChecksum};
use tus_core::server::body::{BodyEnd, StopReason};
use tus_core::store::{StoreError, Writer};

use super::body::RequestBody;
use super::config::MinBodyRate;
use super::interrupt::Stops;
use super::timer::Timer;

/// The most bytes still taken from a stopping body when they are already at
/// hand (in the connection's buffers): a steal or shutdown keeps what the
/// client managed to send, without waiting for more.
const DRAIN_LIMIT: u64 = 4 << 20;

/// Reports how far a body got; an error stops the body.
pub(crate) trait Report: Send {
    /// `received` bytes of this body arrived so far.
    fn report(&mut self, received: u64) -> BoxFuture<'_, Result<(), StopReason>>;

    /// The body ended after `received` bytes (its answer follows at once).
    fn report_end(&mut self, received: u64) -> BoxFuture<'_, Result<(), StopReason>> {
        self.report(received)
    }
}

/// The time limits a body is watched with.
#[derive(Clone, Copy)]
pub(crate) struct Watch<'a> {
    pub(crate) timer: &'a dyn Timer,
    pub(crate) idle: Option<Duration>,
    pub(crate) min_rate: Option<MinBodyRate>,
    /// How often progress is reported, when someone listens.
    pub(crate) progress: Option<Duration>,
}

impl Watch<'_> {
    /// The tick: the shortest window anything is measured over.
    fn tick(&self) -> Option<Duration> {
        [self.idle, self.min_rate.map(|rate| rate.per), self.progress]
            .into_iter()
            .flatten()
            .filter(|window| !window.is_zero())
            .min()
    }
}

/// How a body went.
#[derive(Debug)]
pub(crate) struct Pumped {
    pub(crate) end: BodyEnd,
    /// The digest comparison of a verified body that ended completely.
    pub(crate) digest: Option<DigestCheck>,
    /// Bytes handed to the writer.
    pub(crate) received: u64,
}

/// What woke the pump.
enum Next {
    Stop(StopReason),
    Tick,
    Frame(Option<Result<http_body::Frame<Bytes>, tus_core::store::BoxError>>),
    FlushFailed(StoreError),
}

/// Counts time in ticks, for the idle, rate and progress checks.
struct Clockwork {
    tick: Duration,
    /// Time since a byte last arrived.
    idle_for: Duration,
    /// Bytes and time in the current rate window.
    window_bytes: u64,
    window_for: Duration,
    /// Time since progress was last reported.
    since_report: Duration,
    /// Bytes received at the previous tick.
    at_last_tick: u64,
}

impl Clockwork {
    fn new(tick: Duration) -> Self {
        Self {
            tick,
            idle_for: Duration::ZERO,
            window_bytes: 0,
            window_for: Duration::ZERO,
            since_report: Duration::ZERO,
            at_last_tick: 0,
        }
    }

    /// Advances one tick with `received` bytes so far; a stop reason if the
    /// body is idle or too slow.
    fn advance(&mut self, received: u64, watch: &Watch<'_>) -> Option<StopReason> {
        let new = received - self.at_last_tick;
        self.at_last_tick = received;
        self.idle_for = if new == 0 {
            self.idle_for + self.tick
        } else {
            Duration::ZERO
        };
        self.since_report += self.tick;
        if let Some(idle) = watch.idle
            && self.idle_for >= idle
        {
            return Some(StopReason::Idle);
        }
        if let Some(rate) = watch.min_rate {
            self.window_bytes += new;
            self.window_for += self.tick;
            if self.window_for >= rate.per {
                if self.window_bytes < rate.bytes {
                    return Some(StopReason::TooSlow);
                }
                self.window_bytes = 0;
                self.window_for = Duration::ZERO;
            }
        }
        None
    }

    /// Whether progress is due (and resets the report clock if so).
    fn report_due(&mut self, interval: Duration) -> bool {
        if self.since_report >= interval {
            self.since_report = Duration::ZERO;
            return true;
        }
        false
    }
}

/// Pushes `body` into `writer`: at most `limit` bytes, verified against
/// `verify` when given. Returns how the body ended; an error only when the
/// writer failed (the caller aborts it then).
pub(crate) async fn pump(
    body: &mut RequestBody,
    writer: &mut Writer,
    limit: u64,
    verify: Option<&Verification>,
    mut stops: Stops,
    watch: Watch<'_>,
    mut reporter: Option<&mut dyn Report>,
) -> Result<Pumped, StoreError> {
    let mut digest = verify.map(BodyDigest::new);
    let mut trailer: Option<UploadChecksum> = None;
    let mut received = 0u64;
    let mut remaining = limit;
    let mut dirty = false;
    let tick_every = watch.tick();
    let mut tick: Option<BoxFuture<'static, ()>> = tick_every.map(|every| watch.timer.sleep(every));
    let mut clock = Clockwork::new(tick_every.unwrap_or(Duration::MAX));
    let end = loop {
        let next = poll_fn(|cx| poll_next(cx, &mut stops, &mut tick, body, writer, &mut dirty)).await;
        let frame = match next {
            Next::Stop(reason) => {
                drain(body, writer, &mut remaining, &mut received, digest.as_mut()).await?;
                break BodyEnd::Stopped(reason);
            }
            Next::Tick => {
                tick = tick_every.map(|every| watch.timer.sleep(every));
                if let Some(reason) = clock.advance(received, &watch) {
                    break BodyEnd::Stopped(reason);
                }
                if let (Some(interval), Some(reporter)) = (watch.progress, reporter.as_deref_mut())
                    && clock.report_due(interval)
                    && let Err(reason) = reporter.report(received).await
                {
                    break BodyEnd::Stopped(reason);
                }
                continue;
            }
            Next::FlushFailed(error) => return Err(error),
            Next::Frame(None) => break BodyEnd::Complete,
            Next::Frame(Some(Err(error))) => {
                tracing::debug!(%error, "request body failed");
                break BodyEnd::Failed;
            }
            Next::Frame(Some(Ok(frame))) => frame,
        };
        let data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => {
                if let Some(trailers) = frame.trailers_ref() {
                    trailer = headers::decode::<UploadChecksum>(trailers).ok().flatten();
                }
                continue;
            }
        };
        match accept(data, &mut remaining, &mut received, digest.as_mut()) {
            Accepted::All(data) => {
                writer.feed(data).await?;
                dirty = true;
                // A zero interval reports every chunk (what tests and fine
                // quotas want); otherwise progress waits for the tick.
                if watch.progress == Some(Duration::ZERO)
                    && let Some(reporter) = reporter.as_deref_mut()
                    && let Err(reason) = reporter.report(received).await
                {
                    break BodyEnd::Stopped(reason);
                }
            }
            Accepted::Prefix(data) => {
                if !data.is_empty() {
                    writer.feed(data).await?;
                }
                break BodyEnd::TooLong;
            }
        }
    };
    if let Some(reporter) = reporter {
        // The last report cannot stop what already arrived.
        let _ = reporter.report_end(received).await;
    }
    let digest = match (&end, digest) {
        (BodyEnd::Complete, Some(digest)) => Some(digest.check(trailer.as_ref())),
        _ => None,
    };
    Ok(Pumped { end, digest, received })
}

/// Polls, in order: the stop signals, the tick, the body; while the body
/// has nothing, flushes what the writer holds.
fn poll_next(
    cx: &mut Context<'_>,
    stops: &mut Stops,
    tick: &mut Option<BoxFuture<'static, ()>>,
    body: &mut RequestBody,
    writer: &mut Writer,
    dirty: &mut bool,
) -> Poll<Next> {
    // The signals first: a body that is always ready must not starve them.
    if let Some(reason) = stops.poll(cx) {
        return Poll::Ready(Next::Stop(reason));
    }
    if let Some(sleep) = tick
        && sleep.poll_unpin(cx).is_ready()
    {
        return Poll::Ready(Next::Tick);
    }
    if let Poll::Ready(frame) = Pin::new(&mut *body).poll_frame(cx) {
        return Poll::Ready(Next::Frame(frame));
    }
    if *dirty {
        match writer.as_mut().poll_flush(cx) {
            Poll::Ready(Ok(())) => *dirty = false,
            Poll::Ready(Err(error)) => return Poll::Ready(Next::FlushFailed(error)),
            Poll::Pending => {}
        }
    }
    Poll::Pending
}

/// How much of a chunk fits the limit.
enum Accepted {
    All(Bytes),
    Prefix(Bytes),
}

/// Takes `data` against the limit, counting and hashing what fits.
fn accept(mut data: Bytes, remaining: &mut u64, received: &mut u64, digest: Option<&mut BodyDigest>) -> Accepted {
    let len = data.len() as u64;
    let fits = len <= *remaining;
    if !fits {
        data.truncate(usize::try_from(*remaining).unwrap_or(usize::MAX));
    }
    let taken = data.len() as u64;
    *remaining -= taken;
    *received += taken;
    if let Some(digest) = digest {
        digest.update(&data);
    }
    if fits {
        Accepted::All(data)
    } else {
        Accepted::Prefix(data)
    }
}

/// Takes the frames already at hand (at most [`DRAIN_LIMIT`] bytes) from a
/// body that is being stopped, so the client's last bytes are kept.
async fn drain(
    body: &mut RequestBody,
    writer: &mut Writer,
    remaining: &mut u64,
    received: &mut u64,
    mut digest: Option<&mut BodyDigest>,
) -> Result<(), StoreError> {
    let mut drained = 0u64;
    while drained < DRAIN_LIMIT {
        let Some(Some(Ok(frame))) = futures::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).now_or_never()
        else {
            break;
        };
        let Ok(data) = frame.into_data() else { continue };
        drained += data.len() as u64;
        match accept(data, remaining, received, digest.as_deref_mut()) {
            Accepted::All(data) => writer.feed(data).await?,
            Accepted::Prefix(data) => {
                if !data.is_empty() {
                    writer.feed(data).await?;
                }
                break;
            }
        }
    }
    Ok(())
}
