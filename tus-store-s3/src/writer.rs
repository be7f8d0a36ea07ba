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
        Self { sender, task, keep }
    }

    /// Closes the channel and waits for the pipeline's outcome.
    async fn finish(mut self) -> Result<u64, StoreError> {
        self.sender.close_channel();
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(StoreError::backend(error)),
        }
    }
}

/// The pipeline stopped taking chunks; its error comes with the commit.
fn stopped() -> StoreError {
    StoreError::backend(io::Error::other("the S3 append pipeline stopped"))
}

impl Sink<Bytes> for S3Writer {
    type Error = StoreError;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.sender.poll_ready(cx).map_err(|_| stopped())
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
