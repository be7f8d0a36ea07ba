//! The `{id}.info` sidecar: an upload's bookkeeping as JSON, and its atomic
//! replacement.
//!
//! The offset is deliberately absent: it is the length of the data file, so
//! it can never disagree with the bytes on disk.
//!
//! The time of the last change is absent too: it is the data file's
//! modification time.
//!
//! ```json
//! {
//!   "version": 2,
//!   "size": {"known": 11},
//!   "metadata": [["filename", "aGVsbG8udHh0"], ["empty", ""]],
//!   "kind": {"final": [{"id": "a1", "reference": "/files/a1"}]},
//!   "created_at": {"secs": 1700000000, "nanos": 123456789}
//! }
//! ```
//!
//! `size` is `{"known": n}` or `"deferred"`; `kind` is `"single"`,
//! `"partial"` or `{"final": [part, ...]}`, each part the partial's id and
//! the URL the client named it by, as received; metadata values are padded
//! standard base64 of the raw bytes, in the client's order.
//!
//! Version 1 differs only in the parts of a final upload, which are bare
//! ids: such a sidecar is still read, each part's reference being its id.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use tus_core::proto::headers::Metadata;
use tus_core::store::{ConcatPart, NewUpload, StoreError, UploadId, UploadInfo, UploadKind, UploadSize};

/// The format version written into every sidecar.
const VERSION: u32 = 2;

/// The first format version, still read: a final upload's parts are bare ids.
const VERSION_1: u32 = 1;

/// Why a sidecar could not be written or understood.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SidecarError {
    /// The JSON could not be parsed (or, which cannot happen, written).
    #[error("upload info is not the JSON this store writes")]
    Json(#[source] serde_json::Error),
    /// The file was written by an unknown format version.
    #[error("upload info has unsupported version {0}")]
    Version(u32),
    /// A field holds a value no upload can have.
    #[error("upload info holds an invalid {0}")]
    Invalid(&'static str),
    /// The creation time cannot be written as seconds since the Unix epoch.
    #[error("upload creation time is before the Unix epoch")]
    BeforeEpoch,
    /// The sidecar exists but the data file does not.
    #[error("upload data file is missing")]
    MissingData,
}

/// An upload's bookkeeping, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sidecar {
    size: UploadSize,
    metadata: Metadata,
    kind: UploadKind,
    created_at: SystemTime,
}

/// The JSON form of a [`Sidecar`]; only ever read through [`Sidecar::from_json`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    version: u32,
    size: SizeRecord,
    /// `[key, base64 value]` pairs, in order.
    metadata: Vec<(String, String)>,
    kind: KindRecord,
    created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SizeRecord {
    Known(u64),
    Deferred,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindRecord {
    Single,
    Partial,
    Final(Vec<PartRecord>),
}

/// One part of a final upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
enum PartRecord {
    /// Since version 2: the partial's id and the URL the client named it by.
    Named { id: String, reference: String },
    /// Version 1: the partial's id alone.
    Bare(String),
}

/// A point in time as seconds and nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Timestamp {
    secs: u64,
    nanos: u32,
}

impl Sidecar {
    /// The bookkeeping of a freshly created upload.
    pub(crate) fn new(upload: &NewUpload) -> Self {
        Self {
            size: upload.size,
            metadata: upload.metadata.clone(),
            kind: upload.kind.clone(),
            created_at: upload.created_at,
        }
    }

    /// Parses and validates a sidecar's bytes, refusing unknown versions.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, SidecarError> {
        let record: Record = serde_json::from_slice(bytes).map_err(SidecarError::Json)?;
        if record.version != VERSION && record.version != VERSION_1 {
            return Err(SidecarError::Version(record.version));
        }
        let mut metadata = Metadata::new();
        for (key, value) in record.metadata {
            let value = BASE64
                .decode(value)
                .map_err(|_| SidecarError::Invalid("metadata value"))?;
            metadata
                .insert(key, value)
                .map_err(|_| SidecarError::Invalid("metadata key"))?;
        }
        let kind = match record.kind {
            KindRecord::Single => UploadKind::Single,
            KindRecord::Partial => UploadKind::Partial,
            KindRecord::Final(parts) => UploadKind::Final(
                parts
                    .into_iter()
                    .map(|part| part.into_part(record.version))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let Timestamp { secs, nanos } = record.created_at;
        if nanos >= 1_000_000_000 {
            return Err(SidecarError::Invalid("creation time"));
        }
        let created_at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .ok_or(SidecarError::Invalid("creation time"))?;
        Ok(Self {
            size: match record.size {
                SizeRecord::Known(size) => UploadSize::Known(size),
                SizeRecord::Deferred => UploadSize::Deferred,
            },
            metadata,
            kind,
            created_at,
        })
    }

    /// The sidecar's bytes. Fails only for a creation time before the epoch.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, SidecarError> {
        let since_epoch = self
            .created_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| SidecarError::BeforeEpoch)?;
        let record = Record {
            version: VERSION,
            size: match self.size {
                UploadSize::Known(size) => SizeRecord::Known(size),
                UploadSize::Deferred => SizeRecord::Deferred,
            },
            metadata: self
                .metadata
                .iter()
                .map(|(key, value)| (key.to_owned(), BASE64.encode(value)))
                .collect(),
            kind: match &self.kind {
                UploadKind::Single => KindRecord::Single,
                UploadKind::Partial => KindRecord::Partial,
                UploadKind::Final(parts) => KindRecord::Final(
                    parts
                        .iter()
                        .map(|part| PartRecord::Named {
                            id: part.id.as_str().to_owned(),
                            reference: part.reference.clone(),
                        })
                        .collect(),
                ),
            },
            created_at: Timestamp {
                secs: since_epoch.as_secs(),
                nanos: since_epoch.subsec_nanos(),
            },
        };
        serde_json::to_vec_pretty(&record).map_err(SidecarError::Json)
    }

    /// Sets the size of a deferred-length upload.
    pub(crate) fn declare_length(&mut self, length: u64) -> Result<(), StoreError> {
        match self.size {
            UploadSize::Known(_) => Err(StoreError::LengthAlreadyKnown),
            UploadSize::Deferred => {
                self.size = UploadSize::Known(length);
                Ok(())
            }
        }
    }

    /// The upload's state, given its offset (the data file's length) and the
    /// time its data last changed (the data file's modification time, if the
    /// platform has one). That time is never reported as earlier than the
    /// creation time, which a coarse file system clock could round it to.
    pub(crate) fn into_info(self, id: UploadId, offset: u64, modified: Option<SystemTime>) -> UploadInfo {
        let updated_at = modified.map_or(self.created_at, |modified| modified.max(self.created_at));
        UploadInfo {
            id,
            size: self.size,
            offset,
            metadata: self.metadata,
            kind: self.kind,
            created_at: self.created_at,
            updated_at,
        }
    }
}

impl PartRecord {
    /// The part, from a sidecar of `version`, which decides its form.
    fn into_part(self, version: u32) -> Result<ConcatPart, SidecarError> {
        let (id, reference) = match (self, version) {
            (Self::Named { id, reference }, VERSION) => (id, reference),
            // Version 1 did not keep the URL; the id is the best stand-in.
            (Self::Bare(id), VERSION_1) => (id.clone(), id),
            _ => return Err(SidecarError::Invalid("partial upload")),
        };
        let id = UploadId::parse(&id).map_err(|_| SidecarError::Invalid("partial upload id"))?;
        Ok(ConcatPart { id, reference })
    }
}

/// Reads and parses the sidecar at `path`: [`StoreError::NotFound`] if it is
/// absent, [`StoreError::Backend`] if it cannot be read or understood.
pub(crate) fn load(path: &Path) -> Result<Sidecar, StoreError> {
    let bytes = fs::read(path)?;
    Sidecar::from_json(&bytes).map_err(StoreError::backend)
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
        return Err(StoreError::backend(error));
    }
    match (sync, path.parent()) {
        (true, Some(dir)) => sync_dir(dir).map_err(StoreError::backend),
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
    use super::*;

    fn upload(kind: UploadKind, size: UploadSize) -> NewUpload {
        let mut metadata = Metadata::new();
        metadata.insert("filename", "hello.txt").expect("valid key");
        metadata.insert("empty", Vec::new()).expect("valid key");
        metadata.insert("bin", vec![0xff, 0x00, 0xfe]).expect("valid key");
        NewUpload {
            id: UploadId::parse("abc").expect("valid id"),
            size,
            metadata,
            kind,
            created_at: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
        }
    }

    fn record() -> serde_json::Value {
        serde_json::json!({
            "version": 2,
            "size": {"known": 11},
            "metadata": [["filename", "aGVsbG8udHh0"], ["empty", ""], ["bin", "/wD+"]],
            "kind": "single",
            "created_at": {"secs": 1_700_000_000_u64, "nanos": 123_456_789},
        })
    }

    fn part(id: &str, reference: &str) -> ConcatPart {
        ConcatPart {
            id: UploadId::parse(id).expect("valid id"),
            reference: reference.to_owned(),
        }
    }

    #[test]
    fn on_disk_format_is_stable() {
        let sidecar = Sidecar::new(&upload(UploadKind::Single, UploadSize::Known(11)));
        let json: serde_json::Value = serde_json::from_slice(&sidecar.to_json().expect("json")).expect("parse");
        assert_eq!(json, record());

        let parts = vec![part("p1", "/files/p1"), part("p2", "https://h/files/p2")];
        let sidecar = Sidecar::new(&upload(UploadKind::Final(parts), UploadSize::Known(11)));
        let json: serde_json::Value = serde_json::from_slice(&sidecar.to_json().expect("json")).expect("parse");
        let mut expected = record();
        expected["kind"] = serde_json::json!({"final": [
            {"id": "p1", "reference": "/files/p1"},
            {"id": "p2", "reference": "https://h/files/p2"},
        ]});
        assert_eq!(json, expected);
    }

    #[test]
    fn round_trips_every_kind_and_size() {
        let parts = vec![
            part("p1", "/files/p1"),
            part("p2", "https://example.com/files/p2?a=1&b=%2F#x"),
            part("p1", "  \"quoted\" \\ na\u{ef}ve\t\u{1f600} "),
            part("p3", ""),
        ];
        let cases = [
            (UploadKind::Single, UploadSize::Deferred),
            (UploadKind::Partial, UploadSize::Known(0)),
            (UploadKind::Final(parts), UploadSize::Known(u64::MAX)),
            (UploadKind::Final(Vec::new()), UploadSize::Known(0)),
        ];
        for (kind, size) in cases {
            let new = upload(kind, size);
            let json = Sidecar::new(&new).to_json().expect("json");
            let info = Sidecar::from_json(&json)
                .expect("parse")
                .into_info(new.id.clone(), 7, None);
            let mut expected = UploadInfo::new(new);
            expected.offset = 7;
            assert_eq!(info, expected);
        }
    }

    #[test]
    fn reads_version_1() {
        let mut v1 = record();
        v1["version"] = 1.into();
        let sidecar = Sidecar::from_json(&serde_json::to_vec(&v1).expect("json")).expect("version 1 single");
        assert_eq!(
            sidecar,
            Sidecar::new(&upload(UploadKind::Single, UploadSize::Known(11)))
        );

        v1["kind"] = serde_json::json!({"final": ["p1", "p2"]});
        let sidecar = Sidecar::from_json(&serde_json::to_vec(&v1).expect("json")).expect("version 1 final");
        assert_eq!(
            sidecar.kind,
            UploadKind::Final(vec![part("p1", "p1"), part("p2", "p2")])
        );
        // Written back, it becomes version 2.
        let json: serde_json::Value = serde_json::from_slice(&sidecar.to_json().expect("json")).expect("parse");
        assert_eq!(json["version"], 2);
    }

    #[test]
    fn updated_at_is_the_modification_time_but_never_before_creation() {
        let new = upload(UploadKind::Single, UploadSize::Deferred);
        let created = new.created_at;
        let sidecar = Sidecar::new(&new);
        let later = created + Duration::from_secs(5);
        let earlier = created - Duration::from_nanos(123_456_789);
        let cases = [
            (Some(later), later),
            (Some(earlier), created),
            (Some(created), created),
            (None, created),
        ];
        for (modified, expected) in cases {
            let info = sidecar.clone().into_info(new.id.clone(), 0, modified);
            assert_eq!(info.updated_at, expected, "modified {modified:?}");
            assert_eq!(info.created_at, created);
        }
    }

    #[test]
    fn declares_a_deferred_length_once() {
        let mut sidecar = Sidecar::new(&upload(UploadKind::Single, UploadSize::Deferred));
        sidecar.declare_length(5).expect("deferred");
        assert_eq!(sidecar.size, UploadSize::Known(5));
        assert!(matches!(sidecar.declare_length(6), Err(StoreError::LengthAlreadyKnown)));
    }

    #[test]
    fn refuses_bad_sidecars() {
        let edits: [(&str, serde_json::Value); 12] = [
            ("version", 3.into()),
            ("version", 0.into()),
            ("version", "2".into()),
            ("size", "unknown".into()),
            ("size", serde_json::json!({"known": -1})),
            ("metadata", serde_json::json!([["k", "not base64!"]])),
            ("metadata", serde_json::json!([["k", ""], ["k", ""]])),
            (
                "kind",
                serde_json::json!({"final": [{"id": "../etc", "reference": "/files/x"}]}),
            ),
            ("kind", serde_json::json!({"final": ["p1"]})),
            ("kind", serde_json::json!({"final": [{"id": "p1"}]})),
            ("kind", serde_json::json!({"final": [{"id": "p1", "reference": 7}]})),
            ("created_at", serde_json::json!({"secs": 0, "nanos": 1_000_000_000})),
        ];
        for (field, value) in edits {
            let mut bad = record();
            bad[field] = value.clone();
            let bytes = serde_json::to_vec(&bad).expect("json");
            assert!(Sidecar::from_json(&bytes).is_err(), "{field} = {value}");
        }
        let mut missing = record();
        missing.as_object_mut().expect("object").remove("kind");
        let bytes = serde_json::to_vec(&missing).expect("json");
        assert!(matches!(Sidecar::from_json(&bytes), Err(SidecarError::Json(_))));
        assert!(matches!(Sidecar::from_json(b"{not json"), Err(SidecarError::Json(_))));
        assert!(matches!(Sidecar::from_json(b""), Err(SidecarError::Json(_))));
    }

    #[test]
    fn refuses_a_creation_time_before_the_epoch() {
        let mut new = upload(UploadKind::Single, UploadSize::Deferred);
        new.created_at = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(Sidecar::new(&new).to_json(), Err(SidecarError::BeforeEpoch)));
    }
}
