//! The `{id}.info` sidecar: an upload's bookkeeping as JSON (tus-core's
//! shared [record codec](tus_core::store::record)), and its atomic
//! replacement.
//!
//! The offset is deliberately absent: it is the length of the data file, so
//! it can never disagree with the bytes on disk. The time of the last
//! change is absent too: it is the data file's modification time, set to
//! the injected `now` of the write that last changed the data.
//!
//! Version 2 is written; version 1, whose final uploads list their parts as
//! bare ids, is still read (each part's reference is then its id).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use serde::{Deserialize, Serialize};
use tus_core::store::StoreError;
use tus_core::store::record::{Format, RecordError, UploadRecord};

/// The sidecar format versions.
const FORMAT: Format = Format {
    version: 2,
    reads: &[1, 2],
    bare_parts: &[1],
};

/// This store adds no fields of its own to the shared record.
#[derive(Debug, Default, Serialize, Deserialize)]
struct NoFields {}

/// Why a sidecar or its data file is not what this store writes.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SidecarError {
    /// The sidecar exists but the data file does not.
    #[error("upload data file is missing")]
    MissingData,
}

/// The sidecar's bytes for `record`.
pub(crate) fn to_json(record: &UploadRecord) -> Result<Vec<u8>, RecordError> {
    record.to_json(&NoFields::default(), FORMAT)
}

/// Parses and validates a sidecar's bytes.
pub(crate) fn from_json(bytes: &[u8]) -> Result<UploadRecord, RecordError> {
    UploadRecord::from_json::<NoFields>(bytes, FORMAT).map(|(record, _)| record)
}

/// Reads and parses the sidecar at `path`: [`StoreError::NotFound`] if it is
/// absent, [`StoreError::Backend`] if it cannot be read or understood.
pub(crate) fn load(path: &Path) -> Result<UploadRecord, StoreError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
        Err(error) => return Err(StoreError::io(error)),
    };
    from_json(&bytes).map_err(StoreError::backend)
}

/// Replaces the sidecar at `path` with `json` atomically: it goes to a
/// temporary file in the same directory, which is renamed over `path`. With
/// `sync`, the temporary file is flushed before the rename and the directory
/// after it, so a crash leaves either the old or the new sidecar on disk.
pub(crate) fn save(path: &Path, json: &[u8], sync: bool) -> Result<(), StoreError> {
    // Ids never contain '.', so `{id}.info.tmp` cannot be another upload's file.
    let temp = path.with_extension("info.tmp");
    let written = write_file(&temp, json, sync).and_then(|()| fs::rename(&temp, path));
    if let Err(error) = written {
        if let Err(cleanup) = fs::remove_file(&temp) {
            tracing::debug!(path = %temp.display(), %cleanup, "could not remove temporary upload info");
        }
        return Err(StoreError::io(error));
    }
    match (sync, path.parent()) {
        (true, Some(dir)) => sync_dir(dir).map_err(StoreError::io),
        _ => Ok(()),
    }
}

fn write_file(path: &Path, bytes: &[u8], sync: bool) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
    file.write_all(bytes)?;
    if sync {
        file.sync_all()?;
    }
    Ok(())
}

/// Flushes a directory's entries (created, renamed and removed files) to disk.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    // Windows cannot open a directory as a file; NTFS journals renames itself.
    if cfg!(unix) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use tus_core::headers::Metadata;
    use tus_core::upload::{ConcatPart, NewUpload, UploadId, UploadKind, UploadSize};

    use super::*;

    fn record(kind: UploadKind) -> UploadRecord {
        let mut metadata = Metadata::new();
        metadata.insert("filename", "hello.txt").expect("valid key");
        UploadRecord::new(&NewUpload {
            id: UploadId::parse("abc").expect("id"),
            size: UploadSize::Known(11),
            metadata,
            kind,
            created_at: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        })
    }

    #[test]
    fn the_on_disk_format_is_stable() {
        let json: serde_json::Value =
            serde_json::from_slice(&to_json(&record(UploadKind::Single)).expect("json")).expect("parse");
        assert_eq!(
            json,
            serde_json::json!({
                "version": 2,
                "size": {"known": 11},
                "metadata": [["filename", "aGVsbG8udHh0"]],
                "kind": "single",
                "created_at": {"secs": 1_700_000_000_u64, "nanos": 123_456_789},
            })
        );
    }

    #[test]
    fn version_1_sidecars_are_still_read() {
        let v1 = br#"{"version":1,"size":{"known":11},"metadata":[["filename","aGVsbG8udHh0"]],"kind":{"final":["p1","p2"]},"created_at":{"secs":1700000000,"nanos":123456789}}"#;
        let parts = ["p1", "p2"].map(|id| ConcatPart {
            id: UploadId::parse(id).expect("id"),
            reference: id.to_owned(),
        });
        assert_eq!(
            from_json(v1).expect("version 1"),
            record(UploadKind::Final(parts.to_vec()))
        );
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("abc.info");
        assert!(matches!(load(&path), Err(StoreError::NotFound)));
        let json = to_json(&record(UploadKind::Partial)).expect("json");
        save(&path, &json, true).expect("save");
        assert_eq!(load(&path).expect("load"), record(UploadKind::Partial));
        assert!(!path.with_extension("info.tmp").exists(), "no temporary file is left");
    }
}
