//! [`FsWriter`]: a body pushed into a data file (keep-prefix) or into a
//! stage file (all-or-nothing), in bounded batches written with one
//! vectored write each, on the blocking pool.
//!
//! ```text
//!   open: (blocking) lock {id}.bin ─▶ length == offset? ─▶ [all-or-nothing: truncate {id}.stage]
//!   start_send: add the chunk to the batch (no copy)
//!   poll_ready: batch full ─▶ write it (blocking) while the next batch fills
//!   poll_flush: write the batch (called whenever the body has no chunk ready,
//!               so a slow client's bytes reach the file at once)
//!   after each write with sync: start the disk writeback of that batch (writeback)
//!   commit: (blocking, one call) write the rest ─▶ fsync ─▶ mtime = now ─▶ [copy {id}.stage onto {id}.bin] ─▶ new offset
//!   abort / drop: [delete {id}.stage] ─▶ unlock
//! ```
//!
//! The files move into each blocking write and back out, so if the writer
//! is dropped midway the write in flight still finishes and then closes
//! (and unlocks) the files: the lock is held as long as any write can land.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{FutureExt as _, Sink};
use tus_core::store::{Durability, StoreError, UploadWriter};

use crate::append::Batch;
use crate::{blocking, staged, writeback};

/// The open files of a write: the locked data file, and the stage file
/// an all-or-nothing write goes to.
#[derive(Debug)]
pub(crate) struct Files {
    pub(crate) data: File,
    pub(crate) stage: Option<File>,
}

impl Files {
    /// The file chunks are written to.
    fn target(&mut self) -> &mut File {
        match &mut self.stage {
            Some(stage) => stage,
            None => &mut self.data,
        }
    }
}

/// Where the writer's files are.
enum State {
    /// Here, ready for a write.
    Idle(Files),
    /// In a blocking write of a batch; they come back with the emptied batch.
    Writing(BoxFuture<'static, Result<(Files, Batch), StoreError>>),
    /// A write failed; only an abort is left.
    Failed,
}

/// A write to one upload of a [`FileStore`](crate::FileStore).
pub(crate) struct FsWriter {
    state: State,
    /// Chunks not yet handed to a blocking write.
    batch: Batch,
    /// An emptied batch kept for its allocation.
    spare: Batch,
    /// Bytes sent to this writer.
    written: u64,
    /// Whether the data file is new and not yet stamped with `now`, which a
    /// commit then does even without bytes.
    fresh: bool,
    offset: u64,
    durability: Durability,
    sync: bool,
    now: SystemTime,
    stage_path: PathBuf,
}

impl FsWriter {
    pub(crate) fn new(
        files: Files,
        offset: u64,
        durability: Durability,
        sync: bool,
        now: SystemTime,
        stage_path: PathBuf,
    ) -> Self {
        Self {
            state: State::Idle(files),
            batch: Batch::default(),
            spare: Batch::default(),
            written: 0,
            fresh: false,
            offset,
            durability,
            sync,
            now,
            stage_path,
        }
    }

    /// The writer of a data file just created: its modification time (the
    /// upload's `updated_at`) is stamped by the commit even if no byte comes.
    pub(crate) fn fresh(mut self) -> Self {
        self.fresh = true;
        self
    }

    /// Whether the commit stamps the data file with `now`.
    fn stamps(&self) -> bool {
        self.written > 0 || self.fresh
    }

    /// Hands the batch to a blocking write (the files go with it).
    fn start_write(&mut self) {
        let State::Idle(mut files) = std::mem::replace(&mut self.state, State::Failed) else {
            return;
        };
        let mut batch = std::mem::replace(&mut self.batch, std::mem::take(&mut self.spare));
        // Every byte sent before this batch was handed to an earlier write.
        let len = batch.len() as u64;
        let start = self.offset + self.written - len;
        // Only the data file is flushed by the commit; a stage file is
        // copied onto it first.
        let write_back = self.sync && files.stage.is_none();
        self.state = State::Writing(
            blocking::run(move || {
                batch.write_to(files.target()).map_err(StoreError::io)?;
                if write_back {
                    writeback::start(&files.data, start, len);
                }
                Ok((files, batch))
            })
            .boxed(),
        );
    }

    /// Polls a blocking write in flight, if any, to its end.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        match &mut self.state {
            State::Writing(write) => match write.poll_unpin(cx) {
                Poll::Ready(Ok((files, spare))) => {
                    self.state = State::Idle(files);
                    self.spare = spare;
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(error)) => {
                    self.state = State::Failed;
                    Poll::Ready(Err(error))
                }
                Poll::Pending => Poll::Pending,
            },
            State::Idle(_) => Poll::Ready(Ok(())),
            State::Failed => Poll::Ready(Err(failed())),
        }
    }

    /// Writes everything sent so far.
    fn poll_write_all(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        loop {
            match self.poll_write(cx) {
                Poll::Ready(Ok(())) => {}
                other => return other,
            }
            if self.batch.is_empty() {
                return Poll::Ready(Ok(()));
            }
            self.start_write();
        }
    }

    /// Waits for the write in flight and returns the files with the chunks
    /// not yet written, so the commit writes them in its own blocking call.
    async fn files(&mut self) -> Result<(Files, Batch), StoreError> {
        std::future::poll_fn(|cx| self.poll_write(cx)).await?;
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Idle(files) => Ok((files, std::mem::take(&mut self.batch))),
            State::Writing(_) | State::Failed => Err(failed()),
        }
    }

    /// Waits for the write in flight, whatever its outcome, and returns the
    /// files if they came back.
    async fn settle(&mut self) -> Option<Files> {
        let _ = std::future::poll_fn(|cx| self.poll_write(cx)).await;
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Idle(files) => Some(files),
            State::Writing(_) | State::Failed => None,
        }
    }
}

/// The error of a writer used after a failed write.
fn failed() -> StoreError {
    StoreError::backend(io::Error::other("an earlier write of this writer failed"))
}

impl Sink<Bytes> for FsWriter {
    type Error = StoreError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        let this = self.get_mut();
        loop {
            match this.poll_write(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // The next batch may fill while the previous one is written.
                Poll::Pending if this.batch.is_full() => return Poll::Pending,
                Poll::Pending => return Poll::Ready(Ok(())),
            }
            if !this.batch.is_full() {
                return Poll::Ready(Ok(()));
            }
            this.start_write();
        }
    }

    fn start_send(self: Pin<&mut Self>, chunk: Bytes) -> Result<(), StoreError> {
        let this = self.get_mut();
        if matches!(this.state, State::Failed) {
            return Err(failed());
        }
        this.written += chunk.len() as u64;
        this.batch.push(chunk);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.get_mut().poll_write_all(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), StoreError>> {
        self.get_mut().poll_write_all(cx)
    }
}

impl UploadWriter for FsWriter {
    fn commit(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let mut this = Pin::into_inner(self);
        Box::pin(async move {
            let (mut files, mut rest) = match this.files().await {
                Ok(files) => files,
                Err(error) => {
                    discard_stage(this.durability, this.stage_path.clone()).await;
                    return Err(error);
                }
            };
            let (offset, sync, now, stamp, stage_path) =
                (this.offset, this.sync, this.now, this.stamps(), this.stage_path.clone());
            // One blocking call writes the last batch and ends the write.
            blocking::run(move || {
                if let Err(error) = rest.write_to(files.target()) {
                    if files.stage.is_some() {
                        staged::discard(&stage_path);
                    }
                    return Err(StoreError::io(error));
                }
                finish(files, offset, sync, now, stamp, &stage_path)
            })
            .await
        })
    }

    fn abort(self: Pin<Box<Self>>) -> BoxFuture<'static, Result<u64, StoreError>> {
        let mut this = Pin::into_inner(self);
        Box::pin(async move {
            let files = this.settle().await;
            let stage_path = this.stage_path.clone();
            let keeps_prefix = this.durability == Durability::KeepPrefix;
            let (offset, sync, now, stamp) = (this.offset, this.sync, this.now, this.stamps());
            blocking::run(move || {
                if keeps_prefix {
                    // The bytes already written stay: make them durable like a commit.
                    return match files {
                        Some(files) => finish(files, offset, sync, now, stamp, &stage_path),
                        None => Err(failed()),
                    };
                }
                // Still under the lock while `files` lives.
                staged::discard(&stage_path);
                drop(files);
                Ok(offset)
            })
            .await
        })
    }
}

impl Drop for FsWriter {
    fn drop(&mut self) {
        // A keep-prefix write keeps what reached the file; an all-or-nothing
        // one leaves a stage file, which the next all-or-nothing write on the
        // upload truncates and termination removes.
        if let State::Idle(files) = std::mem::replace(&mut self.state, State::Failed)
            && self.durability == Durability::AllOrNothing
        {
            let stage_path = self.stage_path.clone();
            // Unlinking by name under the lock, then unlocking.
            if tokio::runtime::Handle::try_current().is_ok() {
                tokio::task::spawn_blocking(move || {
                    staged::discard(&stage_path);
                    drop(files);
                });
            }
        }
    }
}

/// After a failed write of an all-or-nothing writer, its stage file goes.
async fn discard_stage(durability: Durability, stage_path: PathBuf) {
    if durability == Durability::AllOrNothing {
        let _ = blocking::run(move || {
            staged::discard(&stage_path);
            Ok(())
        })
        .await;
    }
}

/// Ends a write whose chunks are all in its files: an all-or-nothing write
/// is copied onto the data file; then the data file is flushed (with
/// `sync`) and, with `stamp` (bytes were written, or the file is new),
/// stamped with `now`. Returns the new
/// offset. Blocking.
fn finish(
    mut files: Files,
    offset: u64,
    sync: bool,
    now: SystemTime,
    stamp: bool,
    stage_path: &std::path::Path,
) -> Result<u64, StoreError> {
    let length = match files.stage.as_mut() {
        Some(stage) => {
            let committed = staged::commit(stage, &mut files.data, offset, sync);
            staged::discard(stage_path);
            committed?
        }
        None => {
            if sync {
                files.data.sync_data().map_err(StoreError::io)?;
            }
            files.data.metadata().map_err(StoreError::io)?.len()
        }
    };
    if stamp && let Err(error) = files.data.set_modified(now) {
        tracing::debug!(%error, "could not set the data file's modification time");
    }
    Ok(length)
}
