//! The `{id}.info` object: an upload's bookkeeping as JSON, in tus-core's
//! shared [record codec](tus_core::store::record), plus this store's own
//! fields.
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
//! The offset is absent: it is recovered from the multipart upload's parts,
//! its commit markers and segments (see [`crate::state`]). The multipart
//! upload's id and the part size are bookkeeping of this store; they never
//! reach the user's metadata.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use tus_core::store::record::{Format, RecordError, UploadRecord};
use tus_core::upload::{NewUpload, UploadId, UploadInfo};

/// The info object's format versions.
const FORMAT: Format = Format {
    version: 1,
    reads: &[1],
    bare_parts: &[],
};

/// This store's own fields of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct S3Fields {
    multipart_upload: String,
    part_size: u64,
}

/// An upload's bookkeeping, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) upload: UploadRecord,
    /// The id S3 gave the upload's multipart upload.
    pub(crate) multipart_upload: String,
    /// The size of every part but the last.
    pub(crate) part_size: u64,
}

impl Record {
    /// The bookkeeping of a freshly created upload.
    pub(crate) fn new(upload: &NewUpload, multipart_upload: String, part_size: u64) -> Self {
        Self {
            upload: UploadRecord::new(upload),
            multipart_upload,
            part_size,
        }
    }

    /// Parses and validates an info object's bytes.
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, RecordError> {
        let (upload, fields) = UploadRecord::from_json::<S3Fields>(bytes, FORMAT)?;
        if fields.multipart_upload.is_empty() {
            return Err(RecordError::Invalid("multipart upload id"));
        }
        Ok(Self {
            upload,
            multipart_upload: fields.multipart_upload,
            part_size: fields.part_size,
        })
    }

    /// The info object's bytes. Fails only for a creation time before the epoch.
    pub(crate) fn to_json(&self) -> Result<Vec<u8>, RecordError> {
        let fields = S3Fields {
            multipart_upload: self.multipart_upload.clone(),
            part_size: self.part_size,
        };
        self.upload.to_json(&fields, FORMAT)
    }

    /// The upload's state at `offset`, its data last changed at `modified`.
    pub(crate) fn to_info(&self, id: &UploadId, offset: u64, modified: Option<SystemTime>) -> UploadInfo {
        self.upload.to_info(id, offset, modified)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tus_core::headers::Metadata;
    use tus_core::upload::{ConcatPart, UploadKind, UploadSize};

    use super::*;

    fn sample() -> Record {
        let mut metadata = Metadata::new();
        metadata.insert("filename", b"a \xff b".to_vec()).expect("key");
        metadata.insert("empty", Vec::new()).expect("key");
        Record::new(
            &NewUpload {
                id: UploadId::parse("x").expect("id"),
                size: UploadSize::Deferred,
                metadata,
                kind: UploadKind::Final(vec![ConcatPart {
                    id: UploadId::parse("p1").expect("id"),
                    reference: "/files/p1?x=\"1\"".to_owned(),
                }]),
                created_at: SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            },
            "mpu-1".to_owned(),
            5 * 1024 * 1024,
        )
    }

    #[test]
    fn round_trips_byte_exact() {
        let record = sample();
        let json = record.to_json().expect("json");
        assert_eq!(Record::from_json(&json).expect("parse"), record);
        let value: serde_json::Value = serde_json::from_slice(&json).expect("json");
        assert_eq!(value["multipart_upload"], "mpu-1");
        assert_eq!(value["version"], 1);
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
            br#"{"version":1,"size":"deferred","metadata":[],"kind":{"final":["p1"]},"created_at":{"secs":1,"nanos":0},"multipart_upload":"m","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[],"kind":"single","created_at":{"secs":1,"nanos":0},"multipart_upload":"","part_size":1}"#,
            br#"{"version":1,"size":"deferred","metadata":[],"kind":"single","created_at":{"secs":1,"nanos":0},"part_size":1}"#,
        ];
        for case in cases {
            assert!(Record::from_json(case).is_err(), "{}", String::from_utf8_lossy(case));
        }
    }
}
