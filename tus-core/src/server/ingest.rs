//! Turns a request body into the capped byte stream a store consumes, and
//! remembers how the body ended.

use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt as _;
use http_body_util::BodyExt as _;

use crate::body::RequestBody;
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
}

/// Where the stream records how it ended; `None` if the store stopped reading early.
#[derive(Debug, Clone, Default)]
pub(crate) struct BodyOutcome(Arc<Mutex<Option<BodyEnd>>>);

impl BodyOutcome {
    fn set(&self, end: BodyEnd) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(end);
    }

    /// How the body ended.
    pub(crate) fn take(&self) -> Option<BodyEnd> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

struct State {
    body: RequestBody,
    remaining: u64,
    outcome: BodyOutcome,
    done: bool,
}

/// A stream of the body's data frames that never yields more than `limit`
/// bytes in total. Past the limit, or on a body error, it yields one error and ends.
pub(crate) fn capped_stream(body: RequestBody, limit: u64) -> (DataStream, BodyOutcome) {
    let outcome = BodyOutcome::default();
    let state = State {
        body,
        remaining: limit,
        outcome: outcome.clone(),
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            match state.body.frame().await {
                None => {
                    state.outcome.set(BodyEnd::Complete);
                    return None;
                }
                Some(Err(error)) => {
                    state.outcome.set(BodyEnd::Failed(error));
                    state.done = true;
                    return Some((Err(io::Error::other("request body failed")), state));
                }
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue; // Trailers: not used by the core protocol.
                    };
                    if data.is_empty() {
                        continue;
                    }
                    let len = data.len() as u64;
                    if len <= state.remaining {
                        state.remaining -= len;
                        return Some((Ok(data), state));
                    }
                    return Some(over_limit(&data, state));
                }
            }
        }
    });
    (stream.boxed(), outcome)
}

/// Passes on the part of `data` within the limit, then ends with an error.
fn over_limit(data: &Bytes, mut state: State) -> (io::Result<Bytes>, State) {
    state.outcome.set(BodyEnd::TooLong);
    state.done = true;
    let allowed = usize::try_from(state.remaining).unwrap_or(usize::MAX).min(data.len());
    state.remaining = 0;
    if allowed == 0 {
        return (Err(io::Error::other("request body exceeds the upload length")), state);
    }
    // The allowed prefix is yielded; the stream then ends (done), and the
    // outcome tells the driver the body was too long.
    (Ok(data.slice(..allowed)), state)
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt as _;

    use super::*;

    fn body(chunks: &[&'static [u8]]) -> RequestBody {
        let items: Vec<Result<Bytes, io::Error>> = chunks.iter().map(|c| Ok(Bytes::from_static(c))).collect();
        RequestBody::from_stream(futures::stream::iter(items))
    }

    #[test]
    fn passes_everything_within_the_limit() {
        let (stream, outcome) = capped_stream(body(&[b"hello", b" world"]), 11);
        let chunks: Vec<Bytes> = futures::executor::block_on(stream.try_collect()).expect("no error");
        assert_eq!(chunks.concat(), b"hello world");
        assert!(matches!(outcome.take(), Some(BodyEnd::Complete)));
    }

    #[test]
    fn never_yields_a_byte_past_the_limit() {
        let (stream, outcome) = capped_stream(body(&[b"hello", b" world"]), 7);
        let items: Vec<io::Result<Bytes>> = futures::executor::block_on(stream.collect());
        let bytes: Vec<u8> = items
            .iter()
            .filter_map(|item| item.as_ref().ok())
            .flat_map(|b| b.to_vec())
            .collect();
        assert_eq!(bytes, b"hello w");
        assert!(matches!(outcome.take(), Some(BodyEnd::TooLong)));
    }

    #[test]
    fn records_a_failed_body() {
        let items: Vec<Result<Bytes, io::Error>> = vec![Ok(Bytes::from_static(b"abc")), Err(io::Error::other("reset"))];
        let (stream, outcome) = capped_stream(RequestBody::from_stream(futures::stream::iter(items)), 100);
        let items: Vec<io::Result<Bytes>> = futures::executor::block_on(stream.collect());
        assert_eq!(items.len(), 2);
        assert!(items[1].is_err());
        assert!(matches!(outcome.take(), Some(BodyEnd::Failed(_))));
    }
}
