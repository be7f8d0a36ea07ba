//! Concatenating partial uploads into a final one.
//!
//! ```text
//!   lock {final}.bin ─▶ open every {partial}.bin ─▶ kernel copy each onto {final}.bin.tmp
//!     ─▶ fsync ─▶ rename over {final}.bin ─▶ fsync directory ─▶ new offset
//! ```
//!
//! A crash leaves either the old data file or the whole new one; a
//! temporary file left behind is truncated by the next concatenation.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use tus_core::store::StoreError;
use tus_core::upload::UploadId;

use crate::append;
use crate::sidecar::sync_dir;
use crate::store::{DATA_SUFFIX, INFO_SUFFIX};

/// Suffix of the file a concatenation is written to before it replaces the
/// data file. Ids never contain '.', so it cannot be another upload's file.
const TEMP_SUFFIX: &str = ".bin.tmp";

/// Replaces the data of upload `id` in `dir` with the data of `partials`, in
/// order, and returns its new length. Blocking.
pub(crate) fn concatenate(
    dir: &Path,
    id: &UploadId,
    partials: &[UploadId],
    sync: bool,
    now: SystemTime,
) -> Result<u64, StoreError> {
    let data = dir.join(format!("{id}{DATA_SUFFIX}"));
    let info = dir.join(format!("{id}{INFO_SUFFIX}"));
    // Held until the new data file is in place: no append or other
    // concatenation runs meanwhile.
    let (_lock, _) = append::open_locked(OpenOptions::new().write(true), &data, &info)?;
    // Every partial is opened before anything is written, so a missing one
    // fails the concatenation with the final upload untouched.
    let sources = partials
        .iter()
        .map(|partial| open_partial(dir, partial))
        .collect::<Result<Vec<File>, StoreError>>()?;

    let temp = temp_path(dir, id);
    let written = write_joined(&temp, sources, sync, now).and_then(|len| fs::rename(&temp, &data).map(|()| len));
    let len = match written {
        Ok(len) => len,
        Err(error) => {
            if let Err(cleanup) = fs::remove_file(&temp) {
                tracing::debug!(path = %temp.display(), %cleanup, "could not remove temporary concatenation");
            }
            return Err(StoreError::io(error));
        }
    };
    if sync {
        sync_dir(dir).map_err(StoreError::io)?;
    }
    Ok(len)
}

/// `{dir}/{id}.bin.tmp`, where a concatenation is written.
pub(crate) fn temp_path(dir: &Path, id: &UploadId) -> PathBuf {
    dir.join(format!("{id}{TEMP_SUFFIX}"))
}

/// Opens a partial upload's data file for reading.
fn open_partial(dir: &Path, id: &UploadId) -> Result<File, StoreError> {
    // A data file without its sidecar is the remains of a terminated upload.
    if !dir
        .join(format!("{id}{INFO_SUFFIX}"))
        .try_exists()
        .map_err(StoreError::backend)?
    {
        return Err(StoreError::NotFound);
    }
    match File::open(dir.join(format!("{id}{DATA_SUFFIX}"))) {
        Ok(file) => Ok(file),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound),
        Err(error) => Err(StoreError::io(error)),
    }
}

/// Writes `sources` one after the other to a new file at `path` and returns
/// its length.
fn write_joined(path: &Path, sources: Vec<File>, sync: bool, now: SystemTime) -> io::Result<u64> {
    // Not in append mode, so the kernel's file-to-file copy can be used.
    let mut out = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    let mut len = 0;
    for mut source in sources {
        // File to file: std lets the kernel copy (copy_file_range or
        // sendfile on Linux), so the bytes do not pass through this process.
        len += io::copy(&mut source, &mut out)?;
    }
    // The final upload's data last changed now.
    out.set_modified(now)?;
    if sync {
        out.sync_all()?;
    }
    Ok(len)
}
