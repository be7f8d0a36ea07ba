//! Streaming a body onto the end of a data file.
//!
//! ```text
//!   take the chunks already received ─▶ (one blocking call:) open (append
//!   mode) ─▶ try_lock ─▶ length == offset? ─▶ write them ─▶ body ended? ─▶ fsync
//!   ─▶ new offset; otherwise loop {
//!       chunk ready now?  yes: add it to the batch; write the batch when full
//!                         no:  write the batch, then wait for the chunk
//!   } ─▶ write the rest ─▶ fsync ─▶ new offset = file length
//! ```
//!
//! The batch is bounded ([`MAX_BATCH_BYTES`], [`MAX_BATCH_CHUNKS`]) and
//! written with one vectored write, so chunks are never copied. Writing
//! whenever the body is not immediately ready means a slow client's bytes
//! reach the file at once instead of waiting for the batch to fill.
//!
//! A body that has fully arrived by the time the append starts (a small
//! PATCH or creation-with-upload) thus costs one trip to the blocking pool,
//! not one to open, one to write and one to flush.
//!
//! Staged appends ([`crate::staged`]) write their stage file with the same
//! [`Writer`].

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, IoSlice, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures::{FutureExt as _, StreamExt as _};
use tus_core::store::{DataStream, StoreError, UploadId};

use crate::blocking;

/// The most bytes held before they are written.
const MAX_BATCH_BYTES: usize = 1 << 20;

/// The most chunks held before they are written (one `IoSlice` each).
const MAX_BATCH_CHUNKS: usize = 64;

/// Opens the data file for appending, takes its exclusive lock and checks
/// that `offset` is its length. Blocking.
pub(crate) fn open(data: &Path, info: &Path, offset: u64) -> Result<File, StoreError> {
    let (file, length) = open_locked(OpenOptions::new().append(true), data, info)?;
    check_offset(length, offset)?;
    Ok(file)
}

/// Opens the data file with `options` and takes its exclusive lock, after
/// which the upload is checked to still exist. Returns the file and its
/// length (from the same `fstat` that checked its identity). Blocking.
///
/// The lock is an advisory, non-blocking lock on the open file: another
/// writer, in this process or another, gets [`StoreError::Busy`]. It is
/// released when the returned file is dropped.
pub(crate) fn open_locked(options: &OpenOptions, data: &Path, info: &Path) -> Result<(File, u64), StoreError> {
    let file = options.open(data)?;
    lock(&file)?;
    // A data file without its sidecar is the remains of a terminated upload.
    if !info.try_exists().map_err(StoreError::backend)? {
        return Err(StoreError::NotFound);
    }
    // A concatenation replaces the data file while holding the old one's
    // lock; a writer that opened the old file and got its lock afterwards
    // must not write to a file no longer in the directory.
    let metadata = file.metadata().map_err(StoreError::backend)?;
    if !is_current(&metadata, data).map_err(StoreError::backend)? {
        return Err(StoreError::Busy);
    }
    Ok((file, metadata.len()))
}

/// Fails with [`StoreError::OffsetMismatch`] unless `offset` is `current`,
/// the length of the locked data file.
pub(crate) fn check_offset(current: u64, offset: u64) -> Result<(), StoreError> {
    if current != offset {
        return Err(StoreError::OffsetMismatch { current });
    }
    Ok(())
}

/// Whether the open file with metadata `open` is still the file at `path`.
#[cfg(unix)]
fn is_current(open: &std::fs::Metadata, path: &Path) -> io::Result<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let named = std::fs::metadata(path)?;
    Ok(open.dev() == named.dev() && open.ino() == named.ino())
}

/// Whether `file` is still the file at `path`: assumed where it cannot be
/// told cheaply (Windows does not rename over an open file anyway).
#[cfg(not(unix))]
fn is_current(_open: &std::fs::Metadata, _path: &Path) -> io::Result<bool> {
    Ok(true)
}

/// Takes the exclusive lock on `file` without waiting.
pub(crate) fn lock(file: &File) -> Result<(), StoreError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(TryLockError::WouldBlock) => Err(StoreError::Busy),
        Err(TryLockError::Error(error)) => Err(StoreError::backend(error)),
    }
}

/// Appends `data` to the data file at `data` after checking that `offset`
/// is its length (see [`open`]), then (with `sync`) flushes the file to
/// disk, and returns its new length.
///
/// The chunks already received go into the same blocking call as the open,
/// and if the body ended among them, so do the flush and the length.
///
/// A body error ends the append like the end of the body: every byte
/// received before it is kept.
pub(crate) async fn append(
    data: PathBuf,
    info: PathBuf,
    offset: u64,
    mut body: DataStream,
    sync: bool,
    id: &UploadId,
) -> Result<u64, StoreError> {
    let mut batch = Batch::default();
    let ended = batch.fill_ready(&mut body, id);
    let opened = blocking::run(move || {
        let file = open(&data, &info, offset)?;
        let mut writer = Writer { file, batch, held: () };
        writer.write_batch()?;
        if ended {
            return writer.finish_blocking(sync).map(Opened::Finished);
        }
        Ok(Opened::Writing(writer))
    })
    .await?;
    match opened {
        Opened::Finished(length) => Ok(length),
        Opened::Writing(writer) => {
            let (writer, _) = writer.write_body(body, id).await?;
            writer.finish(sync).await
        }
    }
}

/// Where [`append`] stands after its first blocking call.
enum Opened {
    /// The body ended; the file is flushed and this is its length.
    Finished(u64),
    /// More of the body is on its way.
    Writing(Writer<()>),
}

/// How a request body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// Every byte arrived.
    Complete,
    /// The body yielded an error (the client went away); the bytes before
    /// it were written.
    Failed,
}

/// A file being written, and the chunks not yet written to it.
pub(crate) struct Writer<H> {
    file: File,
    batch: Batch,
    /// Kept alive as long as the writer, also inside blocking writes: a
    /// staged append holds the data file (and so its lock) here while it
    /// writes the stage file.
    held: H,
}

impl<H: Send + 'static> Writer<H> {
    /// A writer onto `file`, keeping `held` until it is dropped.
    pub(crate) fn new(file: File, held: H) -> Self {
        Self {
            file,
            batch: Batch::default(),
            held,
        }
    }

    /// The written file and the held one.
    pub(crate) fn into_parts(self) -> (File, H) {
        (self.file, self.held)
    }

    /// Writes `data` to the file until it ends or fails, and says how it ended.
    pub(crate) async fn write_body(
        mut self,
        mut data: DataStream,
        id: &UploadId,
    ) -> Result<(Self, BodyEnd), StoreError> {
        let end = loop {
            let next = match data.next().now_or_never() {
                Some(next) => next,
                None => {
                    self = self.flush().await?;
                    data.next().await
                }
            };
            match next {
                Some(Ok(chunk)) => {
                    self.batch.push(chunk);
                    if self.batch.is_full() {
                        self = self.flush().await?;
                    }
                }
                Some(Err(error)) => {
                    tracing::debug!(%id, %error, "request body failed");
                    break BodyEnd::Failed;
                }
                None => break BodyEnd::Complete,
            }
        };
        Ok((self.flush().await?, end))
    }

    /// Writes the batch, if any, on the blocking pool. The writer moves into
    /// the blocking task and back out, so if this future is dropped the task
    /// still finishes its write and then closes (and unlocks) the files.
    async fn flush(mut self) -> Result<Self, StoreError> {
        if self.batch.is_empty() {
            return Ok(self);
        }
        blocking::run(move || {
            self.write_batch()?;
            Ok(self)
        })
        .await
    }

    /// Writes the batch and forgets it. Blocking.
    fn write_batch(&mut self) -> Result<(), StoreError> {
        write_all_vectored(&mut self.file, &self.batch.chunks).map_err(StoreError::backend)?;
        self.batch.clear();
        Ok(())
    }

    /// Flushes the file to disk (with `sync`) and returns its length.
    async fn finish(self, sync: bool) -> Result<u64, StoreError> {
        blocking::run(move || self.finish_blocking(sync)).await
    }

    /// [`Writer::finish`], on the calling thread. Blocking.
    fn finish_blocking(self, sync: bool) -> Result<u64, StoreError> {
        if sync {
            self.file.sync_data().map_err(StoreError::backend)?;
        }
        Ok(self.file.metadata().map_err(StoreError::backend)?.len())
    }
}

/// Chunks received but not yet written.
#[derive(Debug, Default)]
struct Batch {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Batch {
    fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push(chunk);
        }
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Forgets the written chunks, keeping the allocation.
    fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    fn is_full(&self) -> bool {
        self.len >= MAX_BATCH_BYTES || self.chunks.len() >= MAX_BATCH_CHUNKS
    }

    /// Adds the chunks `body` yields without waiting, until the batch is
    /// full; returns whether the body ended (or failed) among them.
    fn fill_ready(&mut self, body: &mut DataStream, id: &UploadId) -> bool {
        while !self.is_full() {
            match body.next().now_or_never() {
                Some(Some(Ok(chunk))) => self.push(chunk),
                Some(Some(Err(error))) => {
                    tracing::debug!(%id, %error, "request body failed");
                    return true;
                }
                Some(None) => return true,
                None => return false,
            }
        }
        false
    }
}

/// Writes every byte of `chunks`, in order, with as few vectored writes as
/// the writer allows.
fn write_all_vectored(out: &mut impl Write, chunks: &[Bytes]) -> io::Result<()> {
    let mut slices: Vec<IoSlice<'_>> = chunks.iter().map(|chunk| IoSlice::new(chunk)).collect();
    let mut remaining = slices.as_mut_slice();
    while !remaining.is_empty() {
        match out.write_vectored(remaining) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(written) => IoSlice::advance_slices(&mut remaining, written),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Accepts at most `limit` bytes per call, from the first non-empty slice only.
    struct ShortWriter {
        written: Vec<u8>,
        limit: usize,
        calls: usize,
    }

    impl Write for ShortWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn vectored_writes_survive_short_and_interrupted_writes() {
        let chunks: Vec<Bytes> = ["hello", "", " ", "wonderful", " world"]
            .into_iter()
            .map(Bytes::from)
            .collect();
        for limit in [1, 2, 3, 7, 100] {
            let mut out = ShortWriter {
                written: Vec::new(),
                limit,
                calls: 0,
            };
            write_all_vectored(&mut out, &chunks).expect("written");
            assert_eq!(out.written, b"hello wonderful world", "limit {limit}");
        }
    }

    #[test]
    fn a_writer_that_accepts_nothing_is_an_error() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let error = write_all_vectored(&mut Full, &[Bytes::from_static(b"x")]).expect_err("no progress");
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    }

    #[cfg(unix)]
    #[test]
    fn a_data_file_replaced_after_opening_is_not_current() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (data, replacement) = (dir.path().join("a.bin"), dir.path().join("a.bin.tmp"));
        std::fs::write(&data, b"old").expect("data");
        let file = File::open(&data).expect("open");
        assert!(is_current(&file.metadata().expect("fstat"), &data).expect("stat"));
        std::fs::write(&replacement, b"new").expect("replacement");
        std::fs::rename(&replacement, &data).expect("rename");
        assert!(!is_current(&file.metadata().expect("fstat"), &data).expect("stat"));
    }

    #[test]
    fn ready_chunks_are_taken_without_waiting() {
        let id = UploadId::parse("ready").expect("id");
        let chunks = || ["ab", "", "cd"].map(|c| Ok(Bytes::from(c)));
        let cases: Vec<(DataStream, bool, usize)> = vec![
            (futures::stream::iter(chunks()).boxed(), true, 4),
            (
                futures::stream::iter(chunks())
                    .chain(futures::stream::pending())
                    .boxed(),
                false,
                4,
            ),
            (
                futures::stream::iter(chunks())
                    .chain(futures::stream::iter([Err(io::Error::other("reset"))]))
                    .boxed(),
                true,
                4,
            ),
            (
                futures::stream::iter(std::iter::repeat_with(|| Ok(Bytes::from_static(b"x"))).take(1000)).boxed(),
                false,
                MAX_BATCH_CHUNKS,
            ),
        ];
        for (index, (mut body, ended, len)) in cases.into_iter().enumerate() {
            let mut batch = Batch::default();
            assert_eq!(batch.fill_ready(&mut body, &id), ended, "case {index}");
            assert_eq!(batch.len, len, "case {index}");
        }
    }

    #[test]
    fn batches_are_bounded() {
        let mut batch = Batch::default();
        batch.push(Bytes::new());
        assert!(batch.is_empty(), "empty chunks are dropped");
        for _ in 0..MAX_BATCH_CHUNKS - 1 {
            batch.push(Bytes::from_static(b"x"));
        }
        assert!(!batch.is_full());
        batch.push(Bytes::from_static(b"x"));
        assert!(batch.is_full(), "by chunk count");

        let mut batch = Batch::default();
        batch.push(Bytes::from(vec![0; MAX_BATCH_BYTES]));
        assert!(batch.is_full(), "by size");
    }
}
