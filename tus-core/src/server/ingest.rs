//! Turns a request body into the capped byte stream a store consumes,
//! hashes it on the way when a checksum was announced, stops it early when
//! an [`Interrupts`] fires, and remembers how the body ended.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures::StreamExt as _;
use futures::future::{self, Either};
use http_body_util::BodyExt as _;

use super::interrupt::{Interrupts, StopReason};

use crate::body::RequestBody;
use crate::proto::checksum::{BodyDigest, DigestCheck};
use crate::proto::headers::{self, UploadChecksum};
use crate::store::{BoxError, DataStream};

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
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            let next = match state.interrupts.pending() {
                Some(reason) => Err(reason),
                // The interrupts first: a body that is always ready must not starve them.
                None => match future::select(state.interrupts.wait(), state.body.frame()).await {
                    Either::Left((reason, _)) => Err(reason),
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

    #[test]
    fn an_always_ready_body_still_stops_when_interrupted() {
        use crate::server::interrupt::Shutdown;
        let shutdown = Shutdown::default();
        let interrupts = Interrupts {
            shutdown: Some(shutdown.signal()),
            ..Interrupts::default()
        };
        let chunks: Vec<&'static [u8]> = vec![b"abc"; 100];
        let (mut stream, outcome) = capped_stream(body(&chunks), 1000, None, interrupts);
        futures::executor::block_on(async {
            assert!(matches!(stream.next().await, Some(Ok(_))));
            shutdown.fire();
            assert!(matches!(stream.next().await, Some(Err(_))), "stops at the next chunk");
            assert!(stream.next().await.is_none());
        });
        assert!(matches!(
            outcome.take_end(),
            Some(BodyEnd::Stopped(StopReason::ShuttingDown))
        ));
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
