//! One JSON codec for an upload's bookkeeping, shared by the stores that
//! keep it as a document (the filesystem's `{id}.info`, S3's `{id}.info`
//! object). Cargo feature `serde`.
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
//! standard base64 of the raw bytes, in the client's order. A store adds its
//! own fields next to these (flattened), and picks the format versions it
//! writes and reads. The offset is never in the record: each store derives
//! it from the data itself, so it cannot disagree with the bytes.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::headers::Metadata;
use crate::upload::{ConcatPart, NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

/// Why a record could not be written or understood.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// Not the JSON a store writes.
    #[error("upload info is not the JSON this store writes")]
    Json(#[source] serde_json::Error),
    /// Written by a format version this store does not read.
    #[error("upload info has unsupported version {0}")]
    Version(u32),
    /// A field holds a value no upload can have.
    #[error("upload info holds an invalid {0}")]
    Invalid(&'static str),
    /// The creation time cannot be written as seconds since the Unix epoch.
    #[error("upload creation time is before the Unix epoch")]
    BeforeEpoch,
}

/// Which versions a store writes and reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// The version written into every record.
    pub version: u32,
    /// Every version read (including [`Format::version`]).
    pub reads: &'static [u32],
    /// Versions in which a final upload's parts may be bare ids (each
    /// part's reference is then its id).
    pub bare_parts: &'static [u32],
}

/// An upload's bookkeeping, validated: everything but its offset and the
/// time its data last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// Its size, known or deferred.
    pub size: UploadSize,
    /// Client metadata, byte-exact.
    pub metadata: Metadata,
    /// Its concatenation role.
    pub kind: UploadKind,
    /// When it was created.
    pub created_at: SystemTime,
}

#[derive(Debug, Serialize, Deserialize)]
struct Json<E> {
    version: u32,
    size: SizeJson,
    /// `[key, base64 value]` pairs, in order.
    metadata: Vec<(String, String)>,
    kind: KindJson,
    created_at: Timestamp,
    #[serde(flatten)]
    extra: E,
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
#[serde(untagged)]
enum PartJson {
    Named { id: String, reference: String },
    Bare(String),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Timestamp {
    secs: u64,
    nanos: u32,
}

impl UploadRecord {
    /// The bookkeeping of a freshly created upload.
    pub fn new(upload: &NewUpload) -> Self {
        Self {
            size: upload.size,
            metadata: upload.metadata.clone(),
            kind: upload.kind.clone(),
            created_at: upload.created_at,
        }
    }

    /// Parses and validates a record and the store's own fields `E`.
    pub fn from_json<E: DeserializeOwned>(bytes: &[u8], format: Format) -> Result<(Self, E), RecordError> {
        let json: Json<E> = serde_json::from_slice(bytes).map_err(RecordError::Json)?;
        if !format.reads.contains(&json.version) {
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
        let bare_ok = format.bare_parts.contains(&json.version);
        let kind = match json.kind {
            KindJson::Single => UploadKind::Single,
            KindJson::Partial => UploadKind::Partial,
            KindJson::Final(parts) => UploadKind::Final(
                parts
                    .into_iter()
                    .map(|part| part.into_part(bare_ok))
                    .collect::<Result<_, _>>()?,
            ),
        };
        let created_at = json.created_at.to_time()?;
        let record = Self {
            size: match json.size {
                SizeJson::Known(size) => UploadSize::Known(size),
                SizeJson::Deferred => UploadSize::Deferred,
            },
            metadata,
            kind,
            created_at,
        };
        Ok((record, json.extra))
    }

    /// The record's bytes, with the store's own fields `extra`, in
    /// `format`'s version. Fails only for a creation time before the epoch.
    pub fn to_json<E: Serialize>(&self, extra: &E, format: Format) -> Result<Vec<u8>, RecordError> {
        let json = Json {
            version: format.version,
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
                        .map(|part| PartJson::Named {
                            id: part.id.as_str().to_owned(),
                            reference: part.reference.clone(),
                        })
                        .collect(),
                ),
            },
            created_at: Timestamp::from_time(self.created_at)?,
            extra,
        };
        serde_json::to_vec(&json).map_err(RecordError::Json)
    }

    /// Sets the size of a deferred-length upload, once.
    pub fn declare_length(&mut self, length: u64) -> Result<(), StoreError> {
        match self.size {
            UploadSize::Known(_) => Err(StoreError::LengthAlreadyKnown),
            UploadSize::Deferred => {
                self.size = UploadSize::Known(length);
                Ok(())
            }
        }
    }

    /// The upload's state at `offset`, its data last changed at `updated_at`
    /// (never reported as earlier than the creation time, which a coarse
    /// storage clock could round it to).
    pub fn to_info(&self, id: &UploadId, offset: u64, updated_at: Option<SystemTime>) -> UploadInfo {
        UploadInfo {
            id: id.clone(),
            size: self.size,
            offset,
            metadata: self.metadata.clone(),
            kind: self.kind.clone(),
            created_at: self.created_at,
            updated_at: updated_at.map_or(self.created_at, |updated| updated.max(self.created_at)),
        }
    }
}

impl PartJson {
    fn into_part(self, bare_ok: bool) -> Result<ConcatPart, RecordError> {
        let (id, reference) = match self {
            Self::Named { id, reference } => (id, reference),
            // Old records did not keep the URL; the id is the best stand-in.
            Self::Bare(id) if bare_ok => (id.clone(), id),
            Self::Bare(_) => return Err(RecordError::Invalid("partial upload")),
        };
        let id = UploadId::parse(&id).map_err(|_| RecordError::Invalid("partial upload id"))?;
        Ok(ConcatPart { id, reference })
    }
}

impl Timestamp {
    fn from_time(time: SystemTime) -> Result<Self, RecordError> {
        let since_epoch = time
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_err(|_| RecordError::BeforeEpoch)?;
        Ok(Self {
            secs: since_epoch.as_secs(),
            nanos: since_epoch.subsec_nanos(),
        })
    }

    fn to_time(self) -> Result<SystemTime, RecordError> {
        if self.nanos >= 1_000_000_000 {
            return Err(RecordError::Invalid("creation time"));
        }
        SystemTime::UNIX_EPOCH
            .checked_add(Duration::new(self.secs, self.nanos))
            .ok_or(RecordError::Invalid("creation time"))
    }
}

/// Renders a point in time as `secs.nanos` since the Unix epoch (for a
/// store's metadata fields), and parses it back.
pub mod timestamp {
    use std::time::{Duration, SystemTime};

    /// `secs.nanos`, nanos zero-padded to nine digits; `None` before the epoch.
    pub fn format(time: SystemTime) -> Option<String> {
        let since = time.duration_since(SystemTime::UNIX_EPOCH).ok()?;
        Some(format!("{}.{:09}", since.as_secs(), since.subsec_nanos()))
    }

    /// The inverse of [`format()`]; `None` for anything else.
    pub fn parse(text: &str) -> Option<SystemTime> {
        let (secs, nanos) = text.split_once('.')?;
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(secs) || nanos.len() != 9 || !digits(nanos) {
            return None;
        }
        let duration = Duration::new(secs.parse().ok()?, nanos.parse().ok()?);
        SystemTime::UNIX_EPOCH.checked_add(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: Format = Format {
        version: 2,
        reads: &[1, 2],
        bare_parts: &[1],
    };

    #[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
    struct Extra {
        multipart_upload: String,
    }

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

    fn json() -> serde_json::Value {
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
    fn the_format_is_stable() {
        let record = UploadRecord::new(&upload(UploadKind::Single, UploadSize::Known(11)));
        let written: serde_json::Value =
            serde_json::from_slice(&record.to_json(&serde_json::Map::new(), FORMAT).expect("json")).expect("parse");
        assert_eq!(written, json());

        let extra = Extra {
            multipart_upload: "mpu".to_owned(),
        };
        let written: serde_json::Value =
            serde_json::from_slice(&record.to_json(&extra, FORMAT).expect("json")).expect("parse");
        let mut expected = json();
        expected["multipart_upload"] = "mpu".into();
        assert_eq!(written, expected);
    }

    #[test]
    fn round_trips_every_kind_and_size_with_extra_fields() {
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
            let extra = Extra {
                multipart_upload: "m".to_owned(),
            };
            let bytes = UploadRecord::new(&new).to_json(&extra, FORMAT).expect("json");
            let (record, read): (UploadRecord, Extra) = UploadRecord::from_json(&bytes, FORMAT).expect("parse");
            assert_eq!(read, extra);
            let mut expected = UploadInfo::new(new.clone());
            expected.offset = 7;
            assert_eq!(record.to_info(&new.id, 7, None), expected);
        }
    }

    #[test]
    fn bare_parts_only_in_the_versions_that_had_them() {
        let mut v1 = json();
        v1["version"] = 1.into();
        v1["kind"] = serde_json::json!({"final": ["p1", "p2"]});
        let bytes = serde_json::to_vec(&v1).expect("json");
        let (record, _): (UploadRecord, serde_json::Map<String, serde_json::Value>) =
            UploadRecord::from_json(&bytes, FORMAT).expect("version 1 final");
        assert_eq!(record.kind, UploadKind::Final(vec![part("p1", "p1"), part("p2", "p2")]));
        let mut v2 = v1;
        v2["version"] = 2.into();
        let bytes = serde_json::to_vec(&v2).expect("json");
        assert!(UploadRecord::from_json::<serde_json::Map<String, serde_json::Value>>(&bytes, FORMAT).is_err());
    }

    #[test]
    fn updated_at_is_never_before_creation() {
        let new = upload(UploadKind::Single, UploadSize::Deferred);
        let created = new.created_at;
        let record = UploadRecord::new(&new);
        let later = created + Duration::from_secs(5);
        let earlier = created - Duration::from_nanos(123_456_789);
        for (modified, expected) in [(Some(later), later), (Some(earlier), created), (None, created)] {
            assert_eq!(record.to_info(&new.id, 0, modified).updated_at, expected);
        }
    }

    #[test]
    fn declares_a_deferred_length_once() {
        let mut record = UploadRecord::new(&upload(UploadKind::Single, UploadSize::Deferred));
        record.declare_length(5).expect("deferred");
        assert_eq!(record.size, UploadSize::Known(5));
        assert!(matches!(record.declare_length(6), Err(StoreError::LengthAlreadyKnown)));
    }

    #[test]
    fn refuses_bad_records() {
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
            let mut bad = json();
            bad[field] = value.clone();
            let bytes = serde_json::to_vec(&bad).expect("json");
            let parsed = UploadRecord::from_json::<serde_json::Map<String, serde_json::Value>>(&bytes, FORMAT);
            assert!(parsed.is_err(), "{field} = {value}");
        }
        for bytes in [&b"{not json"[..], b"", b"{}"] {
            assert!(UploadRecord::from_json::<serde_json::Map<String, serde_json::Value>>(bytes, FORMAT).is_err());
        }
        let mut new = upload(UploadKind::Single, UploadSize::Deferred);
        new.created_at = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
        assert!(matches!(
            UploadRecord::new(&new).to_json(&serde_json::Map::new(), FORMAT),
            Err(RecordError::BeforeEpoch)
        ));
    }

    #[test]
    fn timestamps_round_trip() {
        let time = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 5);
        let text = timestamp::format(time).expect("after the epoch");
        assert_eq!(text, "1700000000.000000005");
        assert_eq!(timestamp::parse(&text), Some(time));
        for bad in ["", "1", "1.5", "a.000000000", "1.00000000x", "-1.000000000"] {
            assert_eq!(timestamp::parse(bad), None, "{bad:?}");
        }
    }
}
