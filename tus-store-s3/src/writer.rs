//! [`S3Writer`]: the store's append pipeline running in its own task, fed
//! through a bounded channel, so the server pushes chunks while parts
//! upload.
//!
//! ```text
//!   Sink<Bytes> ──channel (bounded: backpressure)──▶ task: Pipeline::append ─▶ parts, commit record
//!   commit(): close the channel ─▶ the task commits ─▶ new offset
//!   abort():  keep-prefix: end with a body error (the prefix is committed);
//!             all-or-nothing: verdict false ─▶ nothing committed
//! ```
//!
//! A dropped writer closes the channel: a keep-prefix write commits what
//! arrived, an all-or-nothing one keeps nothing.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::channel::mpsc;
use futures::future::BoxFuture;
use futures::{Sink, SinkExt as _};
use tokio::task::JoinHandle;
use tus_core::store::{StoreError, UploadWriter};

/// How many chunks may wait for the pipeline before the writer pushes back.
const QUEUED_CHUNKS: usize = 16;

/// A write to one upload of an [`S3Store`](crate::S3Store).
pub(crate) struct S3Writer {
    sender: mpsc::Sender<io::Result<Bytes>>,
    task: JoinHandle<Result<u64, StoreError>>,
    /// The verdict of an all-or-nothing write: set by `commit`.
    keep: Arc<AtomicBool>,
    /// The pipeline's outcome, when it was taken from the task early (the
    /// pipeline stopped taking chunks, and its error went to the sender).
    ended: Option<Result<u64, StoreError>>,
}

impl S3Writer {
    /// The channel a pipeline task reads, and the flag its verdict reads.
    pub(crate) fn channel() -> (
        mpsc::Sender<io::Result<Bytes>>,
        mpsc::Receiver<io::Result<Bytes>>,
        Arc<AtomicBool>,
    ) {
        let (sender, receiver) = mpsc::channel(QUEUED_CHUNKS);
        (sender, receiver, Arc::new(AtomicBool::new(false)))
    }

    pub(crate) fn new(
        sender: mpsc::Sender<io::Result<Bytes>>,
        task: JoinHandle<Result<u64, StoreError>>,
        keep: Arc<AtomicBool>,
    ) -> Self {
        Self {
            sender,
            task,
            keep,
            ended: None,
        }
    }

    /// Closes the channel and waits for the pipeline's outcome.
    async fn finish(mut self) -> Result<u64, StoreError> {
        if let Some(ended) = self.ended.take() {
            return ended;
        }
        self.sender.close_channel();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(StoreError::backend(error)),
        }
    }
}

/// The pipeline stopped taking chunks (its own error went elsewhere).
fn stopped() -> StoreError {
    StoreError::backend(io::Error::other("the S3 append pipeline stopped"))
}

impl S3Writer {
    /// The pipeline stopped taking chunks: waits for it to end (it has
    /// dropped its end of the channel, so it is ending) and gives its own
    /// error, so that the sender learns why (say, the upload's state
    /// changed: 503), not only that it stopped. The outcome is kept for
    /// `commit` or `abort`.
    fn poll_stopped(&mut self, cx: &mut Context<'_>) -> Poll<StoreError> {
        if self.ended.is_some() {
            return Poll::Ready(stopped());
        }
        let outcome = match Pin::new(&mut self.task).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(outcome)) => outcome,
            Poll::Ready(Err(error)) => Err(StoreError::backend(error)),
        };
        match outcome {
            Ok(offset) => {
                self.ended = Some(Ok(offset));
                Poll::Ready(stopped())
            }
            Err(error) => {
                self.ended = Some(Err(stopped()));
                Poll::Ready(error)
            }
        }
    }
}

impl Sink<Bytes> for S3Writer {
    type Error = StoreError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        match self.sender.poll_ready(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(_)) => self.poll_stopped(cx).map(Err),
            Poll::Pending => Poll::Pending,
        }
    }

    fn start_send(mut self: Pin<&mut Self>, chunk: Bytes) -> Result<(), StoreError> {
        self.sender.start_send(Ok(chunk)).map_err(|_| stopped())
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        // Chunks in the channel are the pipeline's; it writes as parts fill.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        Poll::Ready(Ok(()))
    }
}

impl UploadWriter for S3Writer {
    fn commit(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let this = Pin::into_inner(self);
        this.keep.store(true, Ordering::SeqCst);
        Box::pin(this.finish())
    }

    fn abort(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let mut this = Pin::into_inner(self);
        Box::pin(async move {
            // A keep-prefix pipeline commits what it has when the body fails.
            let _ = this.sender.send(Err(io::Error::other("write aborted"))).await;
            this.finish().await
        })
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;

    /// A writer whose pipeline ends at once with `outcome`, without reading.
    fn ended_with(outcome: Result<u64, StoreError>) -> S3Writer {
        let (sender, receiver, keep) = S3Writer::channel();
        let task = tokio::spawn(async move {
            drop(receiver);
            outcome
        });
        S3Writer::new(sender, task, keep)
    }

    #[tokio::test]
    async fn a_pipeline_that_stopped_gives_its_own_error_to_the_sender() {
        let mut writer = ended_with(Err(StoreError::OffsetMismatch { current: 7 }));
        // The channel may take a chunk before the pipeline is seen gone.
        let mut sent = Ok(());
        for _ in 0..=QUEUED_CHUNKS + 1 {
            sent = writer.send(Bytes::from_static(b"x")).await;
            if sent.is_err() {
                break;
            }
        }
        match sent {
            Err(StoreError::OffsetMismatch { current: 7 }) => {}
            other => panic!("want the pipeline's offset mismatch, got {other:?}"),
        }
        let ended = Box::pin(writer).abort().await;
        assert!(ended.is_err(), "the failed pipeline commits nothing: {ended:?}");
    }

    #[tokio::test]
    async fn a_pipeline_that_ended_well_keeps_its_offset_for_the_commit() {
        let mut writer = ended_with(Ok(42));
        let mut sent = Ok(());
        for _ in 0..=QUEUED_CHUNKS + 1 {
            sent = writer.send(Bytes::from_static(b"x")).await;
            if sent.is_err() {
                break;
            }
        }
        assert!(sent.is_err(), "a stopped pipeline takes no more chunks");
        assert_eq!(Box::pin(writer).commit().await.expect("commit"), 42);
    }

    #[tokio::test]
    async fn a_running_pipeline_takes_chunks_and_commits() {
        let (sender, receiver, keep) = S3Writer::channel();
        let task = tokio::spawn(async move {
            let chunks: Vec<_> = receiver.collect().await;
            Ok(chunks.len() as u64)
        });
        let mut writer = S3Writer::new(sender, task, keep);
        writer.send(Bytes::from_static(b"a")).await.expect("send");
        writer.send(Bytes::from_static(b"b")).await.expect("send");
        assert_eq!(Box::pin(writer).commit().await.expect("commit"), 2);
    }
}
