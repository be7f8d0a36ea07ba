//! Turns a request body into the capped byte stream a store consumes,
//! hashes it on the way when a checksum was announced, stops it early when
//! an [`Interrupts`] fires, and remembers how the body ended.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::future::{self, Either};
use futures::{FutureExt as _, StreamExt as _};
use http_body_util::BodyExt as _;

use super::interrupt::{Interrupts, StopReason};

use crate::body::RequestBody;
use crate::proto::checksum::{BodyDigest, DigestCheck};
use crate::proto::headers::{self, UploadChecksum};
use crate::store::{BoxError, DataStream};

/// The most bytes still taken from a stopping body, when they are already
/// at hand (in the connection's buffers): a steal or shutdown keeps what the
/// client managed to send, without waiting for more.
const DRAIN_LIMIT: u64 = 4 << 20;

/// How a body ended, as seen by the driver after the store returned.
#[derive(Debug)]
pub(crate) enum BodyEnd {
    /// Every byte arrived within the limit.
    Complete,
    /// The body went past the limit; the bytes within the limit were passed on.
    TooLong,
    /// The body failed (client gone, malformed chunking).
    Failed(BoxError),
    /// The driver stopped reading: a steal, a shutdown or an idle client.
    Stopped(StopReason),
}

#[derive(Debug, Default)]
struct Outcome {
    end: Option<BodyEnd>,
    digest: Option<DigestCheck>,
}

/// Where the stream records how it ended; read after the store returned.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyOutcome(Arc<Mutex<Outcome>>);

impl BodyOutcome {
    fn lock(&self) -> MutexGuard<'_, Outcome> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How the body ended; `None` if the store stopped reading early.
    pub(crate) fn take_end(&self) -> Option<BodyEnd> {
        self.lock().end.take()
    }

    /// How the digest compared, when one was computed over a complete body.
    pub(crate) fn digest(&self) -> Option<DigestCheck> {
        self.lock().digest.clone()
    }

    /// Whether a staged append may be kept: complete body, matching digest.
    pub(crate) fn accepted(&self) -> bool {
        let outcome = self.lock();
        matches!(outcome.end, Some(BodyEnd::Complete)) && outcome.digest == Some(DigestCheck::Match)
    }
}

struct State {
    body: RequestBody,
    remaining: u64,
    digest: Option<BodyDigest>,
    trailer: Option<UploadChecksum>,
    outcome: BodyOutcome,
    interrupts: Interrupts,
    /// Set once an interrupt fired: only bytes already at hand are still taken.
    stopping: Option<StopReason>,
    /// How many more bytes may be taken while stopping.
    drain: u64,
    done: bool,
}

impl State {
    fn finish(&mut self, end: BodyEnd) {
        let mut outcome = self.outcome.lock();
        if matches!(end, BodyEnd::Complete)
            && let Some(digest) = self.digest.take()
        {
            outcome.digest = Some(digest.check(self.trailer.as_ref()));
        }
        outcome.end = Some(end);
        self.done = true;
    }
}

/// A stream of the body's data frames that never yields more than `limit`
/// bytes in total, hashing them into `digest` when given. Past the limit, on
/// a body error, or when `interrupts` fires, it yields one error and ends
/// (stores keep what came before the error).
pub(crate) fn capped_stream(
    body: RequestBody,
    limit: u64,
    digest: Option<BodyDigest>,
    interrupts: Interrupts,
) -> (DataStream, BodyOutcome) {
    let outcome = BodyOutcome::default();
    let state = State {
        body,
        remaining: limit,
        digest,
        trailer: None,
        outcome: outcome.clone(),
        interrupts,
        stopping: None,
        drain: DRAIN_LIMIT,
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            let next = match state.stopping.or_else(|| state.interrupts.pending()) {
                // Stopping: keep what already arrived (ready without waiting), then stop.
                Some(reason) => {
                    state.stopping = Some(reason);
                    match state.body.frame().now_or_never() {
                        Some(frame) if state.drain > 0 => Ok(frame),
                        _ => Err(reason),
                    }
                }
                // The interrupts first: a body that is always ready must not starve them.
                None => match future::select(state.interrupts.wait(), state.body.frame()).await {
                    Either::Left((reason, _)) => {
                        state.stopping = Some(reason);
                        continue;
                    }
                    Either::Right((frame, _)) => Ok(frame),
                },
            };
            let frame = match next {
                Ok(frame) => frame,
                Err(reason) => {
                    state.finish(BodyEnd::Stopped(reason));
                    return Some((Err(io::Error::other("request body stopped early")), state));
                }
            };
            match frame {
                None => {
                    state.finish(BodyEnd::Complete);
                    return None;
                }
                Some(Err(error)) => {
                    state.finish(BodyEnd::Failed(error));
                    return Some((Err(io::Error::other("request body failed")), state));
                }
                Some(Ok(frame)) => {
                    let data = match frame.into_data() {
                        Ok(data) => data,
                        Err(frame) => {
                            if let Some(trailers) = frame.trailers_ref() {
                                state.trailer = headers::decode::<UploadChecksum>(trailers).ok().flatten();
                            }
                            continue;
                        }
                    };
                    if data.is_empty() {
                        continue;
                    }
                    let len = data.len() as u64;
                    if state.stopping.is_some() {
                        state.drain = state.drain.saturating_sub(len);
                    }
                    if len <= state.remaining {
                        state.remaining -= len;
                        if let Some(digest) = &mut state.digest {
                            digest.update(&data);
                        }
                        return Some((Ok(data), state));
                    }
                    return Some(over_limit(&data, state));
                }
            }
        }
    });
    (stream.boxed(), outcome)
}

/// Passes on the part of `data` within the limit (the stream then ends), or
/// an error when nothing fits; the outcome says the body was too long.
fn over_limit(data: &Bytes, mut state: State) -> (io::Result<Bytes>, State) {
    state.finish(BodyEnd::TooLong);
    let allowed = usize::try_from(state.remaining).unwrap_or(usize::MAX).min(data.len());
    state.remaining = 0;
    if allowed == 0 {
        return (Err(io::Error::other("request body exceeds the upload length")), state);
    }
    (Ok(data.slice(..allowed)), state)
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;
    use http_body_util::{Full, StreamBody};

    use super::*;
    use crate::proto::headers::TusHeader as _;

    fn body(chunks: &[&'static [u8]]) -> RequestBody {
        let items: Vec<Result<Bytes, io::Error>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        RequestBody::from_stream(futures::stream::iter(items))
    }

    fn checksum(text: &str) -> UploadChecksum {
        UploadChecksum::decode(&http::HeaderValue::from_str(text).expect("value")).expect("checksum")
    }

    #[test]
    fn passes_everything_within_the_limit() {
        let (stream, outcome) = capped_stream(body(&[b"hello", b" world"]), 11, None, Interrupts::default());
        let chunks: Vec<Bytes> = futures::executor::block_on(stream.try_collect()).expect("no error");
        assert_eq!(chunks.concat(), b"hello world");
        assert!(matches!(outcome.take_end(), Some(BodyEnd::Complete)));
    }

    #[test]
    fn never_yields_a_byte_past_the_limit() {
        let (stream, outcome) = capped_stream(body(&[b"hello", b" world"]), 7, None, Interrupts::default());
        let items: Vec<io::Result<Bytes>> = futures::executor::block_on(stream.collect());
        let bytes: Vec<u8> = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(bytes, b"hello w");
        assert!(matches!(outcome.take_end(), Some(BodyEnd::TooLong)));
    }

    #[test]
    fn records_a_failed_body() {
        let items: Vec<Result<Bytes, io::Error>> = vec![Ok(Bytes::from_static(b"abc")), Err(io::Error::other("reset"))];
        let (stream, outcome) = capped_stream(
            RequestBody::from_stream(futures::stream::iter(items)),
            100,
            None,
            Interrupts::default(),
        );
        let items: Vec<io::Result<Bytes>> = futures::executor::block_on(stream.collect());
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
        assert!(!outcome.accepted());
        assert!(matches!(outcome.take_end(), Some(BodyEnd::Failed(_))));
    }

    fn shutdown_interrupts() -> (crate::server::interrupt::Shutdown, Interrupts) {
        let shutdown = crate::server::interrupt::Shutdown::default();
        let interrupts = Interrupts {
            shutdown: Some(shutdown.signal()),
            ..Interrupts::default()
        };
        (shutdown, interrupts)
    }

    #[test]
    fn a_stopped_body_keeps_what_already_arrived_then_stops() {
        let (shutdown, interrupts) = shutdown_interrupts();
        let ready = futures::stream::iter(vec![Bytes::from_static(b"abc"); 5]).map(Ok::<_, io::Error>);
        let body = RequestBody::from_stream(ready.chain(futures::stream::pending()));
        let (mut stream, outcome) = capped_stream(body, 1000, None, interrupts);
        futures::executor::block_on(async {
            assert!(matches!(stream.next().await, Some(Ok(_))));
            shutdown.fire();
            let mut kept = 0;
            // Bounded: five chunks were at hand, then one error.
            for _ in 0..10 {
                match stream.next().await {
                    Some(Ok(chunk)) => kept += chunk.len(),
                    Some(Err(_)) => break,
                    None => panic!("the body never ended"),
                }
            }
            assert_eq!(kept, 12, "the chunks already at hand are kept");
            assert!(stream.next().await.is_none());
        });
        assert!(matches!(
            outcome.take_end(),
            Some(BodyEnd::Stopped(StopReason::ShuttingDown))
        ));
    }

    #[test]
    fn an_always_ready_body_still_stops_when_interrupted() {
        let (shutdown, interrupts) = shutdown_interrupts();
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let endless = futures::stream::repeat(chunk).take(1000).map(Ok::<_, io::Error>);
        let (mut stream, outcome) = capped_stream(RequestBody::from_stream(endless), u64::MAX, None, interrupts);
        futures::executor::block_on(async {
            assert!(matches!(stream.next().await, Some(Ok(_))));
            shutdown.fire();
            let mut kept = 0u64;
            for _ in 0..1000 {
                match stream.next().await {
                    Some(Ok(chunk)) => kept += chunk.len() as u64,
                    Some(Err(_)) | None => break,
                }
            }
            assert!(kept <= DRAIN_LIMIT + 64 * 1024, "stopped after {kept} bytes");
        });
        assert!(matches!(outcome.take_end(), Some(BodyEnd::Stopped(_))));
    }

    #[test]
    fn header_digest_is_checked_at_the_end() {
        for (header, accepted) in [("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=", true), ("crc32 AAAAAA==", false)] {
            let digest = BodyDigest::for_header(&checksum(header));
            let (stream, outcome) =
                capped_stream(body(&[b"hello", b" world"]), 100, Some(digest), Interrupts::default());
            let _: Vec<Bytes> = futures::executor::block_on(stream.try_collect()).expect("no error");
            assert_eq!(outcome.accepted(), accepted, "{header}");
        }
    }

    #[test]
    fn trailer_digest_is_read_from_the_trailer_frame() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert(
            "upload-checksum",
            http::HeaderValue::from_static("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0="),
        );
        let frames = vec![
            Ok::<_, io::Error>(http_body::Frame::data(Bytes::from_static(b"hello world"))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let body = RequestBody::new(StreamBody::new(futures::stream::iter(frames)));
        let (stream, outcome) = capped_stream(body, 100, Some(BodyDigest::for_trailer()), Interrupts::default());
        let _: Vec<Bytes> = futures::executor::block_on(stream.try_collect()).expect("no error");
        assert!(outcome.accepted());

        let body = RequestBody::new(Full::new(Bytes::from_static(b"hello world")));
        let (stream, outcome) = capped_stream(body, 100, Some(BodyDigest::for_trailer()), Interrupts::default());
        let _: Vec<Bytes> = futures::executor::block_on(stream.try_collect()).expect("no error");
        assert_eq!(outcome.digest(), Some(DigestCheck::MissingTrailer));
    }
}
