//! Streaming a byte range out of a data file, one bounded chunk at a time.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::path::Path;

use bytes::Bytes;
use futures::StreamExt as _;
use tus_core::store::{DataStream, StoreError};

/// The most bytes read (and held) at once.
const READ_CHUNK: usize = 256 * 1024;

/// Opens the data file positioned at `range.start`, after checking that the
/// range lies within it. Blocking.
pub(crate) fn open(data: &Path, info: &Path, range: &Range<u64>) -> Result<File, StoreError> {
    // A data file without its sidecar is the remains of a terminated upload.
    if !info.try_exists().map_err(StoreError::backend)? {
        return Err(StoreError::NotFound);
    }
    let mut file = match File::open(data) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(error) => return Err(StoreError::io(error)),
    };
    let len = file.metadata().map_err(StoreError::backend)?.len();
    if range.start > range.end || range.end > len {
        return Err(StoreError::backend(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("range {range:?} outside stored data of {len} bytes"),
        )));
    }
    file.seek(SeekFrom::Start(range.start)).map_err(StoreError::backend)?;
    Ok(file)
}

/// Streams the next `len` bytes of `file` in chunks of at most
/// [`READ_CHUNK`], each read on the blocking pool.
pub(crate) fn stream(file: File, len: u64) -> DataStream {
    futures::stream::try_unfold((file, len), |(mut file, remaining)| async move {
        if remaining == 0 {
            return Ok(None);
        }
        let size = usize::try_from(remaining).map_or(READ_CHUNK, |r| r.min(READ_CHUNK));
        let (file, chunk) = tokio::task::spawn_blocking(move || {
            let mut buf = vec![0; size];
            file.read_exact(&mut buf)?;
            Ok::<_, io::Error>((file, Bytes::from(buf)))
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Some((chunk, (file, remaining - size as u64))))
    })
    .boxed()
}
