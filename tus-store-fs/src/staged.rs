//! All-or-nothing writes: the body goes to a stage file first.
//!
//! ```text
//!   lock data file ─▶ length == offset? ─▶ truncate {id}.stage ─▶ write chunks into it
//!     abort (or drop): delete {id}.stage ─▶ old offset
//!     commit: kernel copy {id}.stage onto {id}.bin ─▶ fsync ─▶ delete {id}.stage ─▶ new offset
//! ```
//!
//! The data file is not written before the copy, so a crash before it
//! leaves the upload as it was; a stage file left behind by a crash is
//! truncated by the next staged append and removed on termination. The
//! stage file is only ever opened under the data file's lock, which the
//! writer carries into every blocking write, so a dropped append's last
//! write never lands in the next append's stage file.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use tus_core::store::StoreError;

use crate::append;

/// The files of one upload that a staged append touches.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    pub(crate) data: PathBuf,
    pub(crate) info: PathBuf,
    pub(crate) stage: PathBuf,
}

/// Locks the data file and checks the offset, then creates or truncates the
/// stage file. Blocking.
pub(crate) fn open(paths: &Paths, offset: u64) -> Result<(File, File), StoreError> {
    // Not in append mode: the kernel's file-to-file copy refuses an
    // append-mode destination. The copy seeks to the end itself.
    let (data, length) = append::open_locked(OpenOptions::new().write(true), &paths.data, &paths.info)?;
    append::check_offset(length, offset)?;
    let stage = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&paths.stage)
        .map_err(StoreError::io)?;
    Ok((data, stage))
}

/// Copies the whole stage file onto the end of the locked data file (at
/// `offset`, its length) and (with `sync`) flushes it. Blocking.
///
/// If the copy or the flush fails, the data file is cut back to `offset`, so
/// only a crash during the copy itself can leave part of the body appended.
pub(crate) fn commit(stage: &mut File, data: &mut File, offset: u64, sync: bool) -> Result<u64, StoreError> {
    let appended = (|| {
        stage.seek(SeekFrom::Start(0))?;
        data.seek(SeekFrom::Start(offset))?;
        // File to file: std lets the kernel copy (copy_file_range or
        // sendfile on Linux), so the bytes do not pass through this process.
        let copied = io::copy(stage, data)?;
        if sync {
            data.sync_data()?;
        }
        Ok::<_, io::Error>(copied)
    })();
    match appended {
        Ok(copied) => Ok(offset + copied),
        Err(error) => {
            if let Err(cut) = data.set_len(offset) {
                tracing::warn!(%offset, %cut, "could not cut a failed staged append back");
            }
            Err(StoreError::io(error))
        }
    }
}

/// Removes the stage file; a leftover one is harmless, so failure is only logged.
pub(crate) fn discard(stage: &Path) {
    match fs::remove_file(stage) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(path = %stage.display(), %error, "could not remove stage file"),
    }
}
