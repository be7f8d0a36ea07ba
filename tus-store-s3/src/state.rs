//! Where an upload lives in the bucket, and how its state is recovered from
//! what is there (after a restart, or another server's writes, too).
//!
//! | key | holds |
//! |---|---|
//! | `{prefix}{id}` | the multipart upload; once complete, the upload's bytes |
//! | `{prefix}{id}.info` | the bookkeeping ([`Record`]) as JSON; the upload exists while it does |
//! | `{prefix}{id}.parts.{n}` | empty commit marker: parts `1..=n` of the multipart upload are committed |
//! | `{prefix}{id}.seg.{start}` | a segment: the bytes one append wrote from `start` (20 digits), after the committed parts |
//!
//! ```text
//!   create ──▶ Open { parts 1..P, segments from P x part size } ──append──▶ segment PUT
//!                 │        ▲                                       │ (segments reach a part)
//!                 │        └── marker P+1, segments deleted ◀── UploadPart P+1
//!                 └────────── size reached: last part, CompleteMultipartUpload ──▶ Complete { {id} }
//! ```
//!
//! The highest marker is the commit record of the parts; a segment commits
//! itself (written once, never rewritten). Parts past the marker, from an
//! append that failed or was rejected, are ignored and later overwritten;
//! segments that do not follow the committed bytes, and markers below the
//! highest, are leftovers of an interrupted step (see [`crate::layout`]).
//! A crash at any point therefore leaves the last committed state. The
//! offset is `P x part size` plus the segments' sizes.
//!
//! An upload written by the old layout (`{id}.part`, the incomplete part
//! holding the bytes after `x-amz-meta-tus-parts` parts) is read as a
//! marker for that count plus one segment; its next compaction removes it.

use std::time::SystemTime;

use tus_core::store::StoreError;
use tus_core::store::record::timestamp;
use tus_core::upload::{UploadId, UploadInfo};

use crate::bucket::{Bucket, PartRef, S3Error};
use crate::layout::{self, Fingerprint, Listed, Scan, Segment};
use crate::record::Record;

/// The user metadata key of an old-layout incomplete part that holds the
/// committed part count.
pub(crate) const PARTS_KEY: &str = "tus-parts";
/// The user metadata key, on markers and segments, of the time of the
/// write (the injected `now` of the append, as `secs.nanos`).
pub(crate) const UPDATED_KEY: &str = "tus-updated";

/// The keys of one upload.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) data: String,
    pub(crate) info: String,
    /// `{prefix}{id}.`: every object of the upload but its data starts so.
    pub(crate) stem: String,
}

impl Keys {
    /// The keys of `id` under `prefix`. Ids never contain `.` or `/`, so
    /// no upload's keys are another's.
    pub(crate) fn new(prefix: &str, id: &UploadId) -> Self {
        Self {
            data: format!("{prefix}{id}"),
            info: format!("{prefix}{id}.info"),
            stem: format!("{prefix}{id}."),
        }
    }

    pub(crate) fn segment(&self, start: u64) -> String {
        format!("{}{}", self.stem, layout::segment_name(start))
    }

    pub(crate) fn marker(&self, count: u64) -> String {
        format!("{}{}", self.stem, layout::marker_name(count))
    }
}

/// How far an upload has come.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    /// Receiving: parts `1..=parts.len()` are committed, then the segments,
    /// which follow each other.
    Open {
        parts: Vec<PartRef>,
        segments: Vec<Segment>,
        modified: Option<SystemTime>,
    },
    /// Every byte arrived; the data object holds them.
    Complete { len: u64, modified: Option<SystemTime> },
}

/// An upload's bookkeeping and progress.
#[derive(Debug, Clone)]
pub(crate) struct State {
    pub(crate) record: Record,
    pub(crate) progress: Progress,
    /// Keys of leftover objects, to delete before the next append writes.
    pub(crate) leftovers: Vec<String>,
}

/// A state and the listing it was recovered from (or that the store's own
/// writes since lead to).
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    pub(crate) state: State,
    pub(crate) fingerprint: Fingerprint,
}

/// Why the bucket's objects do not describe an upload this store wrote.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("incomplete part has no valid part count")]
    PartCount,
    #[error("committed part {0} is missing or has the wrong size")]
    Part(u64),
    #[error("segment {0} changed while locked")]
    Segment(String),
    #[error("upload info exists but neither its multipart upload nor its data object does")]
    Orphan,
    #[error("upload info is invalid")]
    Record(#[source] tus_core::store::record::RecordError),
}

impl State {
    /// An open upload without leftovers.
    pub(crate) fn open(
        record: Record,
        parts: Vec<PartRef>,
        segments: Vec<Segment>,
        modified: Option<SystemTime>,
    ) -> Self {
        Self {
            record,
            progress: Progress::Open {
                parts,
                segments,
                modified,
            },
            leftovers: Vec::new(),
        }
    }

    /// Bytes stored.
    pub(crate) fn offset(&self) -> u64 {
        match &self.progress {
            Progress::Open { parts, segments, .. } => {
                parts.iter().map(|part| part.size).sum::<u64>() + segments.iter().map(|s| s.len).sum::<u64>()
            }
            Progress::Complete { len, .. } => *len,
        }
    }

    /// Whether every byte arrived (the length is known and reached) but the
    /// multipart upload is still open.
    pub(crate) fn awaits_completion(&self) -> bool {
        matches!(self.progress, Progress::Open { .. }) && self.record.upload.size.known() == Some(self.offset())
    }

    /// The state as the store reports it.
    pub(crate) fn info(&self, id: &UploadId) -> UploadInfo {
        let modified = match &self.progress {
            Progress::Open { modified, .. } | Progress::Complete { modified, .. } => *modified,
        };
        // Before the first byte, nothing changed since creation.
        let modified = if self.offset() == 0 { None } else { modified };
        self.record.to_info(id, self.offset(), modified)
    }
}

/// Recovers the upload's state from `listing` (the objects under
/// `keys.stem`): reads the record, lists the committed parts, and the time
/// of the last write. `Ok(None)`: an old-layout upload was migrated (a
/// marker written); list again.
pub(crate) async fn recover(bucket: &Bucket, keys: &Keys, listing: &[Listed]) -> Result<Option<State>, StoreError> {
    let mut scan = Scan::new(&keys.stem, listing);
    if scan.info.is_none() {
        return Err(StoreError::NotFound);
    }
    let (info, _) = bucket.get_small(&keys.info).await?;
    let record = Record::from_json(&info).map_err(|e| StoreError::backend(StateError::Record(e)))?;
    let committed = scan.committed();
    let mut leftovers: Vec<String> = scan
        .markers
        .iter()
        .filter(|(count, _)| *count < committed)
        .map(|(_, key)| key.clone())
        .collect();
    let mut modified = None;
    if let Some(old) = scan.old_tail.take() {
        let head = match bucket.head(&old.key).await {
            Ok(head) => head,
            Err(S3Error::Missing) => return Ok(None),
            Err(other) => return Err(other.into()),
        };
        let count: u64 = head
            .metadata
            .get(PARTS_KEY)
            .and_then(|count| count.parse().ok())
            .ok_or_else(|| StoreError::backend(StateError::PartCount))?;
        if count > committed {
            // Migration: the old record's count becomes a marker.
            let mut metadata = Vec::new();
            if let Some(updated) = head.metadata.get(UPDATED_KEY) {
                metadata.push((UPDATED_KEY, updated.clone()));
            }
            bucket.put(&keys.marker(count), bytes::Bytes::new(), &metadata).await?;
            return Ok(None);
        }
        modified = head.metadata.get(UPDATED_KEY).and_then(|text| timestamp::parse(text));
        scan.segments.push(Segment {
            key: old.key,
            start: count.saturating_mul(record.part_size),
            len: old.size,
            etag: old.etag,
        });
    }
    let listed = match bucket.list_parts(&keys.data, &record.multipart_upload).await {
        Ok(listed) => listed,
        // Completed, and the bookkeeping not yet removed.
        Err(S3Error::Missing) => return complete(bucket, keys, record).await.map(Some),
        Err(other) => return Err(other.into()),
    };
    let count = usize::try_from(committed).map_err(StoreError::backend)?;
    let parts = committed_parts(listed, count, record.part_size)?;
    let (segments, stale) = layout::tail(scan.segments, committed, record.part_size);
    leftovers.extend(stale.into_iter().map(|segment| segment.key));
    // The last write carries the writer's injected time; objects written
    // without it fall back to the server's clock.
    let last = match segments.last() {
        Some(segment) => Some(segment.key.clone()),
        None => scan
            .markers
            .iter()
            .find(|(count, _)| *count == committed)
            .map(|(_, key)| key.clone()),
    };
    if let (Some(key), None) = (last, modified) {
        match bucket.head(&key).await {
            Ok(head) => {
                modified = head
                    .metadata
                    .get(UPDATED_KEY)
                    .and_then(|text| timestamp::parse(text))
                    .or(head.modified);
            }
            // Removed since the listing: the next load sees why.
            Err(S3Error::Missing) => return Ok(None),
            Err(other) => return Err(other.into()),
        }
    }
    Ok(Some(State {
        record,
        progress: Progress::Open {
            parts,
            segments,
            modified,
        },
        leftovers,
    }))
}

/// Lists the upload's objects and recovers its state from them; at most
/// a few rounds when a migration or a concurrent change intervenes.
pub(crate) async fn load(bucket: &Bucket, keys: &Keys) -> Result<Loaded, StoreError> {
    for _ in 0..3 {
        let listing = bucket.list_upload(keys).await?;
        if let Some(state) = recover(bucket, keys, &listing).await? {
            return Ok(Loaded {
                state,
                fingerprint: Fingerprint::new(&listing),
            });
        }
    }
    Err(StoreError::backend(format!("{} kept changing while loaded", keys.stem)))
}

/// Parts `1..=count` of `listed`, each of `part_size` bytes.
fn committed_parts(listed: Vec<PartRef>, count: usize, part_size: u64) -> Result<Vec<PartRef>, StoreError> {
    let parts: Vec<PartRef> = listed.into_iter().take(count).collect();
    for (index, part) in parts.iter().enumerate() {
        let number = index as u64 + 1;
        if part.number as u64 != number || part.size != part_size {
            return Err(StoreError::backend(StateError::Part(number)));
        }
    }
    if parts.len() != count {
        return Err(StoreError::backend(StateError::Part(parts.len() as u64 + 1)));
    }
    Ok(parts)
}

async fn complete(bucket: &Bucket, keys: &Keys, record: Record) -> Result<State, StoreError> {
    match bucket.head(&keys.data).await {
        Ok(head) => Ok(State {
            record,
            progress: Progress::Complete {
                len: head.len,
                modified: head.modified,
            },
            leftovers: Vec::new(),
        }),
        // A termination removed the data after the info was read.
        Err(S3Error::Missing) => Err(StoreError::backend(StateError::Orphan)),
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: i32, size: u64) -> PartRef {
        PartRef {
            number,
            size,
            etag: format!("e{number}"),
            modified: None,
        }
    }

    #[test]
    fn committed_parts_table() {
        let ok = |listed: Vec<PartRef>, count| committed_parts(listed, count, 5).map(|parts| parts.len());
        assert_eq!(ok(vec![], 0).ok(), Some(0));
        assert_eq!(ok(vec![part(1, 5), part(2, 5)], 2).ok(), Some(2));
        assert_eq!(
            ok(vec![part(1, 5), part(2, 5), part(3, 1)], 2).ok(),
            Some(2),
            "uncommitted parts are ignored"
        );
        assert!(ok(vec![part(1, 5)], 2).is_err(), "a committed part is missing");
        assert!(ok(vec![part(1, 5), part(3, 5)], 2).is_err(), "a gap");
        assert!(ok(vec![part(1, 4)], 1).is_err(), "wrong size");
    }

    #[test]
    fn keys_stay_under_the_prefix() {
        let id = UploadId::parse("abc").expect("id");
        let keys = Keys::new("tus/", &id);
        assert_eq!(
            (keys.data.as_str(), keys.info.as_str(), keys.stem.as_str()),
            ("tus/abc", "tus/abc.info", "tus/abc.")
        );
        assert_eq!(keys.marker(3), "tus/abc.parts.3");
        assert_eq!(keys.segment(3), "tus/abc.seg.00000000000000000003");
    }
}
