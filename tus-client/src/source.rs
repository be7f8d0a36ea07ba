//! Where an upload's bytes come from.
//!
//! A file is re-read from whatever offset the server reports, so nothing
//! of it is held in memory. A stream (any `AsyncRead`, stdin) cannot be
//! re-read, so the bytes the server has not acknowledged are kept, at most
//! one chunk (plus one byte read ahead to see the end), and dropped as soon
//! as the server acknowledges them.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::io::{AsyncRead, AsyncReadExt as _};

use crate::body::BodyData;
use crate::error::Error;

/// Bytes read from a stream at once.
const READ_BLOCK: u64 = 256 * 1024;

/// The bytes to upload.
pub struct Source {
    pub(crate) inner: SourceInner,
}

pub(crate) enum SourceInner {
    File {
        path: PathBuf,
        len: u64,
    },
    Reader {
        reader: Box<dyn AsyncRead + Send + Unpin>,
        len: Option<u64>,
    },
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            SourceInner::File { path, len } => f
                .debug_struct("Source::File")
                .field("path", path)
                .field("len", len)
                .finish(),
            SourceInner::Reader { len, .. } => f.debug_struct("Source::Reader").field("len", len).finish(),
        }
    }
}

impl Source {
    /// A file, uploaded by range (never read whole into memory) and resumable
    /// across runs through a resume store.
    pub async fn file(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = tokio::fs::canonicalize(path.as_ref()).await?;
        let metadata = tokio::fs::metadata(&path).await?;
        if !metadata.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not a regular file", path.display()),
            ));
        }
        Ok(Self {
            inner: SourceInner::File {
                path,
                len: metadata.len(),
            },
        })
    }

    /// Any reader. With `len: None` the length is deferred
    /// (creation-defer-length) and declared once the reader ends.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static, len: Option<u64>) -> Self {
        Self {
            inner: SourceInner::Reader {
                reader: Box::new(reader),
                len,
            },
        }
    }

    /// A stream of byte chunks, like [`reader`](Self::reader).
    pub fn stream(stream: impl Stream<Item = io::Result<Bytes>> + Send + Unpin + 'static, len: Option<u64>) -> Self {
        Self::reader(tokio_util::io::StreamReader::new(stream), len)
    }

    /// Standard input, of unknown length.
    pub fn stdin() -> Self {
        Self::reader(tokio::io::stdin(), None)
    }

    /// The length, when known.
    pub fn len(&self) -> Option<u64> {
        match &self.inner {
            SourceInner::File { len, .. } => Some(*len),
            SourceInner::Reader { len, .. } => *len,
        }
    }

    /// Whether the source is known to be empty.
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }

    /// The file's canonical path, for a file source.
    pub fn path(&self) -> Option<&Path> {
        match &self.inner {
            SourceInner::File { path, .. } => Some(path),
            SourceInner::Reader { .. } => None,
        }
    }
}

/// The bytes of one upload (or one part of a parallel upload), by offset.
pub(crate) enum SourceReader {
    /// `len` bytes of the file from `base`.
    File { path: PathBuf, base: u64 },
    /// A stream and its unacknowledged bytes.
    Stream(StreamBuffer),
}

impl SourceReader {
    pub(crate) fn new(source: Source) -> Self {
        match source.inner {
            SourceInner::File { path, .. } => Self::File { path, base: 0 },
            SourceInner::Reader { reader, .. } => Self::Stream(StreamBuffer::new(reader)),
        }
    }

    /// How much is there from `offset`, up to `max`, and does the source end there?
    pub(crate) async fn fill(&mut self, offset: u64, max: u64) -> Result<(u64, bool), Error> {
        match self {
            // A file's length is known: the machine never asks.
            Self::File { .. } => Ok((max, false)),
            Self::Stream(buffer) => buffer.fill(offset, max).await,
        }
    }

    /// The bytes `offset..offset + len`, as a body.
    pub(crate) async fn data(&mut self, offset: u64, len: u64) -> Result<BodyData, Error> {
        match self {
            Self::File { path, base } => Ok(BodyData::File {
                path: path.clone(),
                offset: *base + offset,
                len,
            }),
            Self::Stream(buffer) => buffer.slice(offset, len).await.map(BodyData::Segments),
        }
    }
}

/// A stream's bytes from the server's offset on.
pub(crate) struct StreamBuffer {
    reader: Box<dyn AsyncRead + Send + Unpin>,
    segments: VecDeque<Bytes>,
    /// Offset of the first buffered byte.
    start: u64,
    /// Offset after the last buffered byte.
    end: u64,
    eof: bool,
}

impl StreamBuffer {
    fn new(reader: Box<dyn AsyncRead + Send + Unpin>) -> Self {
        Self {
            reader,
            segments: VecDeque::new(),
            start: 0,
            end: 0,
            eof: false,
        }
    }

    /// Bytes held (for tests of the memory bound).
    #[cfg(test)]
    fn held(&self) -> u64 {
        self.end - self.start
    }

    async fn fill(&mut self, offset: u64, max: u64) -> Result<(u64, bool), Error> {
        self.advance(offset).await?;
        let wanted = offset.saturating_add(max).saturating_add(1);
        self.read_until(wanted).await?;
        let len = max.min(self.end - offset);
        Ok((len, self.eof && self.end == offset + len))
    }

    async fn slice(&mut self, offset: u64, len: u64) -> Result<Vec<Bytes>, Error> {
        self.advance(offset).await?;
        self.read_until(offset + len).await?;
        if self.end < offset + len {
            return Err(Error::Source(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ended at {} bytes, before its declared length", self.end),
            )));
        }
        let mut slices = Vec::new();
        let mut position = self.start;
        for segment in &self.segments {
            let segment_end = position + segment.len() as u64;
            let from = offset.max(position);
            let to = (offset + len).min(segment_end);
            if from < to {
                let (from, to) = ((from - position) as usize, (to - position) as usize);
                slices.push(segment.slice(from..to));
            }
            position = segment_end;
        }
        Ok(slices)
    }

    /// Drops what is before `offset` (acknowledged by the server).
    async fn advance(&mut self, offset: u64) -> Result<(), Error> {
        if offset < self.start {
            return Err(Error::CannotRewind {
                server: offset,
                buffered: self.start,
            });
        }
        while let Some(front) = self.segments.front_mut() {
            let front_end = self.start + front.len() as u64;
            if front_end <= offset {
                self.start = front_end;
                self.segments.pop_front();
            } else {
                let cut = usize::try_from(offset - self.start).unwrap_or(0);
                *front = front.slice(cut..);
                self.start = offset;
                break;
            }
        }
        // The server may be ahead of what was read (it never is in
        // practice): skip those bytes without keeping them.
        while self.end < offset && !self.eof {
            let want = (offset - self.end).min(READ_BLOCK);
            let read = self.read_block(want).await?.map_or(0, |block| block.len());
            self.end += read as u64;
            self.start = self.end;
        }
        if self.end < offset {
            return Err(Error::Source(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the stream ended at {} bytes, the server holds {offset}", self.end),
            )));
        }
        Ok(())
    }

    async fn read_until(&mut self, wanted: u64) -> Result<(), Error> {
        while self.end < wanted && !self.eof {
            if let Some(block) = self.read_block((wanted - self.end).min(READ_BLOCK)).await? {
                self.end += block.len() as u64;
                self.segments.push_back(block);
            }
        }
        Ok(())
    }

    /// `want` bytes (fewer only at the end); `None` at the end. The block is
    /// filled before it is kept, so a pipe's short reads do not pin a
    /// mostly empty allocation each.
    async fn read_block(&mut self, want: u64) -> Result<Option<Bytes>, Error> {
        let capacity = usize::try_from(want).unwrap_or(usize::MAX);
        let mut block = BytesMut::with_capacity(capacity);
        while block.len() < capacity {
            let read = (&mut self.reader)
                .take((capacity - block.len()) as u64)
                .read_buf(&mut block)
                .await
                .map_err(Error::Source)?;
            if read == 0 {
                self.eof = true;
                break;
            }
        }
        Ok((!block.is_empty()).then(|| block.freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buffer(data: Vec<u8>) -> StreamBuffer {
        StreamBuffer::new(Box::new(std::io::Cursor::new(data)))
    }

    async fn bytes(buffer: &mut StreamBuffer, offset: u64, len: u64) -> Vec<u8> {
        buffer.slice(offset, len).await.expect("slice").concat()
    }

    #[tokio::test]
    async fn holds_at_most_a_chunk_and_a_byte() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
        let mut buffer = buffer(data.clone());
        let chunk = 300_000;
        let mut offset = 0;
        loop {
            let (len, end) = buffer.fill(offset, chunk).await.expect("fill");
            assert!(buffer.held() <= chunk + 1, "held {}", buffer.held());
            assert_eq!(
                bytes(&mut buffer, offset, len).await,
                data[offset as usize..(offset + len) as usize]
            );
            offset += len;
            if end {
                break;
            }
        }
        assert_eq!(offset, 1_000_000);
    }

    #[tokio::test]
    async fn end_is_seen_on_a_chunk_boundary() {
        let mut buffer = buffer(vec![7; 8]);
        assert_eq!(buffer.fill(0, 4).await.expect("fill"), (4, false));
        assert_eq!(buffer.fill(4, 4).await.expect("fill"), (4, true));
        assert_eq!(buffer.fill(8, 4).await.expect("fill"), (0, true));
    }

    #[tokio::test]
    async fn a_retry_resends_from_the_buffer_but_never_rewinds_past_it() {
        let mut buffer = buffer((0..100u8).collect());
        buffer.fill(0, 40).await.expect("fill");
        // The server kept 10 of 40 bytes: resend from 10.
        assert_eq!(bytes(&mut buffer, 10, 5).await, vec![10, 11, 12, 13, 14]);
        assert!(matches!(
            buffer.fill(3, 10).await,
            Err(Error::CannotRewind {
                server: 3,
                buffered: 10
            })
        ));
    }

    #[tokio::test]
    async fn a_short_stream_with_a_declared_length_fails() {
        let mut buffer = buffer(vec![1; 5]);
        assert!(matches!(buffer.slice(0, 10).await, Err(Error::Source(_))));
    }
}
