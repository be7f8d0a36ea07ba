//! Opening a data file for writing (its lock, its identity, the offset
//! check), and the bounded batch of chunks a writer writes with one
//! vectored write, so chunks are never copied.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, IoSlice, Write};
use std::path::Path;

use bytes::Bytes;
use tus_core::store::StoreError;

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
    let file = match options.open(data) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(error) => return Err(StoreError::io(error)),
    };
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

/// Chunks received but not yet written.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    chunks: Vec<Bytes>,
    len: usize,
}

impl Batch {
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push(chunk);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Bytes held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Forgets the written chunks, keeping the allocation.
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len >= MAX_BATCH_BYTES || self.chunks.len() >= MAX_BATCH_CHUNKS
    }

    /// Writes every chunk to `out`, in order, with as few vectored writes as
    /// it allows, and forgets them. Blocking.
    pub(crate) fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        write_all_vectored(out, &self.chunks)?;
        self.clear();
        Ok(())
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
