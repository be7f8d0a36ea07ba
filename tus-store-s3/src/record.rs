//! The `{id}.info` object: an upload's bookkeeping as JSON.
//!
//! ```json
//! {
//!   "version": 1,
//!   "size": {"known": 11},
//!   "metadata": [["filename", "aGVsbG8udHh0"]],
//!   "kind": {"final": [{"id": "a1", "reference": "/files/a1"}]},
//!   "created_at": {"secs": 1700000000, "nanos": 123456789},
//!   "multipart_upload": "opaque id from CreateMultipartUpload",
//!   "part_size": 8388608
//! }
//! ```
//!
//! The offset is absent: it is recovered from the multipart upload's parts
//! and the incomplete part (see [`crate::state`]). The multipart upload's id
//! and the part size are bookkeeping of this store; they never reach the
//! user's metadata.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use tus_core::proto::headers::Metadata;
use tus_core::store::{ConcatPart, NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

/// The format version written into every info object.
const VERSION: u32 = 1;

/// Why an info object could not be understood.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RecordError {
    /// Not the JSON this store writes.
    #[error("upload info is not the JSON this store writes")]
    Json(#[source] serde_json::Error),
    /// Written by an unknown format version.
    #[error("upload info has unsupported version {0}")]
    Version(u32),
    /// A field holds a value no upload can have.
    #[error("upload info holds an invalid {0}")]
    Invalid(&'static str),
    /// The creation time is before the Unix epoch.
    #[error("upload creation time is before the Unix epoch")]
    BeforeEpoch,
}

/// An upload's bookkeeping, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) size: UploadSize,
    pub(crate) metadata: Metadata,
    pub(crate) kind: UploadKind,
    pub(crate) created_at: SystemTime,
    /// The id S3 gave the upload's multipart upload.
    pub(crate) multipart_upload: String,
    /// The size of every part but the last.
    pub(crate) part_size: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Json {
    version: u32,
    size: SizeJson,
    metadata: Vec<(String, String)>,
    kind: KindJson,
    created_at: Timestamp,
    multipart_upload: String,
    part_size: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum SizeJson {
    Known(u64),
    Deferred,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindJson {
    Single,
    Partial,
    Final(Vec<PartJson>),
}

#[derive(Debug, Serialize, Deserialize)]
struct PartJson {
    id: String,
    reference: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Timestamp {
    secs: u64,
    nanos: u32,
}

impl Record {
    /// The bookkeeping of a freshly created upload.
    pub(crate) fn new(upload: &NewUpload, multipart_upload: String, part_size: u64) -> Self {
        Self {
            size: upload.size,
            metadata: upload.metadata.clone(),
            kind: upload.kind.clone(),
            created_at: upload.created_at,
            multipart_upload,
            part_size,
        }
    }

    /// Parses and validates an info object's bytes.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, RecordError> {
        let json: Json = serde_json::from_slice(bytes).map_err(RecordError::Json)?;
        if json.version != VERSION {
            return Err(RecordError::Version(json.version));
        }
        let mut metadata = Metadata::new();
        for (key, value) in json.metadata {
            let value = BASE64
                .decode(value)
                .map_err(|_| RecordError::Invalid("metadata value"))?;
            metadata
                .insert(key, value)
                .map_err(|_| RecordError::Invalid("metadata key"))?;
        }
        let kind = match json.kind {
            KindJson::Single => UploadKind::Single,
            KindJson::Partial => UploadKind::Partial,
            KindJson::Final(parts) => UploadKind::Final(
                parts
                    .into_iter()
                    .map(|part| {
                        let id = UploadId::parse(&part.id).map_err(|_| RecordError::Invalid("partial upload id"))?;
                        Ok(ConcatPart {
                            id,
                            reference: part.reference,
                        })
                    })
                    .collect::<Result<_, RecordError>>()?,
            ),
        };
        let Timestamp { secs, nanos } = json.created_at;
        if nanos >= 1_000_000_000 {
            return Err(RecordError::Invalid("creation time"));
        }
        let created_at = SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos))
            .ok_or(RecordError::Invalid("creation time"))?;
        if json.multipart_upload.is_empty() {
            return Err(RecordError::Invalid("multipart upload id"));
        }
        Ok(Self {
            size: match json.size {
                SizeJson::Known(size) => UploadSize::Known(size),
                SizeJson::Deferred => UploadSize::Deferred,
            },
            metadata,
            kind,
            created_at,
            multipart_upload: json.multipart_upload,
            part_size: json.part_size,
        })
    }

    /// The info object's bytes. Fails only for a creation time before the epoch.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, RecordError> {
        let since_epoch = self
            .created_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| RecordError::BeforeEpoch)?;
        let json = Json {
            version: VERSION,
            size: match self.size {
                UploadSize::Known(size) => SizeJson::Known(size),
                UploadSize::Deferred => SizeJson::Deferred,
            },
            metadata: self
                .metadata
                .iter()
                .map(|(key, value)| (key.to_owned(), BASE64.encode(value)))
                .collect(),
            kind: match &self.kind {
                UploadKind::Single => KindJson::Single,
                UploadKind::Partial => KindJson::Partial,
                UploadKind::Final(parts) => KindJson::Final(
                    parts
                        .iter()
                        .map(|part| PartJson {
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
            multipart_upload: self.multipart_upload.clone(),
            part_size: self.part_size,
        };
        serde_json::to_vec(&json).map_err(RecordError::Json)
    }

    /// The upload's state at `offset`, its data last changed at `modified`
    /// (never reported before the creation time).
    pub(crate) fn to_info(&self, id: &UploadId, offset: u64, modified: Option<SystemTime>) -> UploadInfo {
        UploadInfo {
            id: id.clone(),
            size: self.size,
            offset,
            metadata: self.metadata.clone(),
            kind: self.kind.clone(),
            created_at: self.created_at,
            updated_at: modified.map_or(self.created_at, |modified| modified.max(self.created_at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        let mut metadata = Metadata::new();
        metadata.insert("filename", b"a \xff b".to_vec()).expect("key");
        metadata.insert("empty", Vec::new()).expect("key");
        Record {
            size: UploadSize::Deferred,
            metadata,
            kind: UploadKind::Final(vec![ConcatPart {
                id: UploadId::parse("p1").expect("id"),
                reference: "/files/p1?x=\"1\"".to_owned(),
            }]),
            created_at: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            multipart_upload: "mpu-1".to_owned(),
            part_size: 5 * 1024 * 1024,
        }
    }

    #[test]
    fn round_trips_byte_exact() {
        let record = sample();
        let json = record.to_json().expect("json");
        assert_eq!(Record::from_json(&json).expect("parse"), record);
    }

    #[test]
    fn rejects_what_it_did_not_write() {
        let cases: &[&[u8]] = &[
            b"",
            b"{}",
            br#"{"version":2,"size":"deferred","metadata":[],"kind":"single","created_at":{"secs":1,"nanos":0},"multipart_upload":"m","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[],"kind":"single","created_at":{"secs":1,"nanos":1000000000},"multipart_upload":"m","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[["k","!"]],"kind":"single","created_at":{"secs":1,"nanos":0},"multipart_upload":"m","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[],"kind":{"final":[{"id":"../x","reference":""}]},"created_at":{"secs":1,"nanos":0},"multipart_upload":"m","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[],"kind":"single","created_at":{"secs":1,"nanos":0},"multipart_upload":"","part_size":1}"#,
        ];
        for case in cases {
            assert!(Record::from_json(case).is_err(), "{}", String::from_utf8_lossy(case));
        }
    }
}
