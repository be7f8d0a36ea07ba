//! Where an upload lives in the bucket, and how its state is recovered from
//! what is there (after a restart too).
//!
//! | key | holds |
//! |---|---|
//! | `{prefix}{id}` | the multipart upload; once complete, the upload's bytes |
//! | `{prefix}{id}.info` | the bookkeeping ([`Record`]) as JSON; the upload exists while it does |
//! | `{prefix}{id}.part` | the incomplete part: the bytes after the committed parts, and (as `x-amz-meta-tus-parts`) how many parts are committed |
//!
//! ```text
//!   create ──▶ Open { committed parts 1..k, tail = {id}.part } ──append──▶ Open { k', tail' }
//!                 │                                                           │
//!                 └────────── size reached: last part, CompleteMultipartUpload ┴─▶ Complete { {id} }
//! ```
//!
//! The incomplete part object is the commit record: an append uploads new
//! parts, then writes `{id}.part` with the new tail and part count in one
//! PUT. Parts past the count (from an append that failed or was rejected)
//! are ignored and later overwritten, so a crash at any point leaves the
//! last committed state. The offset is the size of parts `1..=k` from
//! ListParts plus the size of `{id}.part`.

use std::time::SystemTime;

use tus_core::store::StoreError;
use tus_core::store::record::timestamp;
use tus_core::upload::{UploadId, UploadInfo};

use crate::bucket::{Bucket, PartRef, S3Error};
use crate::record::Record;

/// The user metadata key of the incomplete part that holds the committed part count.
pub(crate) const PARTS_KEY: &str = "tus-parts";
/// The user metadata key of the incomplete part that holds the time of the
/// last commit (the injected `now` of its write, as `secs.nanos`).
pub(crate) const UPDATED_KEY: &str = "tus-updated";

/// The keys of one upload.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    pub(crate) data: String,
    pub(crate) info: String,
    pub(crate) tail: String,
}

impl Keys {
    /// The keys of `id` under `prefix`. Ids never contain `.` or `/`, so
    /// no upload's keys are another's.
    pub(crate) fn new(prefix: &str, id: &UploadId) -> Self {
        Self {
            data: format!("{prefix}{id}"),
            info: format!("{prefix}{id}.info"),
            tail: format!("{prefix}{id}.part"),
        }
    }
}

/// How far an upload has come.
#[derive(Debug, Clone)]
pub(crate) enum Progress {
    /// Receiving: parts `1..=parts.len()` are committed, then `tail_len`
    /// bytes in the incomplete part.
    Open {
        parts: Vec<PartRef>,
        tail_len: u64,
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
}

/// Why the bucket's objects do not describe an upload this store wrote.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StateError {
    #[error("incomplete part has no valid part count")]
    PartCount,
    #[error("committed part {0} is missing or has the wrong size")]
    Part(u64),
    #[error("upload info exists but neither its incomplete part nor its data object does")]
    Orphan,
    #[error("upload info is invalid")]
    Record(#[source] tus_core::store::record::RecordError),
}

impl State {
    /// Bytes stored.
    pub(crate) fn offset(&self) -> u64 {
        match &self.progress {
            Progress::Open { parts, tail_len, .. } => parts.iter().map(|part| part.size).sum::<u64>() + tail_len,
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

/// Reads the upload's record and recovers its progress: the committed part
/// count from the incomplete part, the parts from ListParts (paginated).
pub(crate) async fn load(bucket: &Bucket, keys: &Keys) -> Result<State, StoreError> {
    let (info, tail) = futures::join!(bucket.get_small(&keys.info), bucket.head(&keys.tail));
    let record = Record::from_json(&info?.0).map_err(|e| StoreError::backend(StateError::Record(e)))?;
    let tail = match tail {
        Ok(tail) => tail,
        Err(S3Error::Missing) => return without_tail(bucket, keys, record).await,
        Err(other) => return Err(other.into()),
    };
    let committed: usize = tail
        .metadata
        .get(PARTS_KEY)
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| StoreError::backend(StateError::PartCount))?;
    let listed = match bucket.list_parts(&keys.data, &record.multipart_upload).await {
        Ok(listed) => listed,
        // Completed, and the incomplete part not yet removed.
        Err(S3Error::Missing) => return complete(bucket, keys, record).await,
        Err(other) => return Err(other.into()),
    };
    let parts = committed_parts(listed, committed, record.part_size)?;
    // The commit record carries the writer's injected time; objects written
    // before it did fall back to the server's clock.
    let modified = match tail.metadata.get(UPDATED_KEY).and_then(|text| timestamp::parse(text)) {
        Some(updated) => Some(updated),
        None => parts.iter().filter_map(|part| part.modified).chain(tail.modified).max(),
    };
    Ok(State {
        record,
        progress: Progress::Open {
            parts,
            tail_len: tail.len,
            modified,
        },
    })
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

/// An upload without an incomplete part: either complete (the part was
/// removed after CompleteMultipartUpload), or created by a process that
/// stopped between writing the info object and the empty incomplete part
/// (then its multipart upload is open and nothing is committed).
async fn without_tail(bucket: &Bucket, keys: &Keys, record: Record) -> Result<State, StoreError> {
    match bucket.list_parts(&keys.data, &record.multipart_upload).await {
        Ok(_) => Ok(State {
            record,
            progress: Progress::Open {
                parts: Vec::new(),
                tail_len: 0,
                modified: None,
            },
        }),
        Err(S3Error::Missing) => complete(bucket, keys, record).await,
        Err(other) => Err(other.into()),
    }
}

async fn complete(bucket: &Bucket, keys: &Keys, record: Record) -> Result<State, StoreError> {
    match bucket.head(&keys.data).await {
        Ok(head) => Ok(State {
            record,
            progress: Progress::Complete {
                len: head.len,
                modified: head.modified,
            },
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
            (keys.data.as_str(), keys.info.as_str(), keys.tail.as_str()),
            ("tus/abc", "tus/abc.info", "tus/abc.part")
        );
    }
}
