//! Concatenation: the partials' objects become the final upload's parts.
//!
//! When every partial but the last holds at least 5 MiB, each is copied
//! inside S3 with UploadPartCopy (split into ranges of at most 5 GiB), and
//! no byte passes through this process. Otherwise the partials are read and
//! streamed through the ordinary append pipeline, all or nothing.

use std::io;

use futures::StreamExt as _;
use futures::TryStreamExt as _;
use std::time::SystemTime;

use tus_core::store::StoreError;
use tus_core::upload::UploadId;

use crate::append::Mode;
use crate::plan::{MAX_PART_SIZE, MAX_PARTS, MIN_PART_SIZE};
use crate::read;
use crate::state::Progress;
use crate::store::S3Store;

/// One range of one source object, copied into one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CopyRange {
    /// Index into the sources.
    pub(crate) source: usize,
    pub(crate) start: u64,
    pub(crate) end: u64,
}

/// The parts that copy sources of `sizes` bytes, in order, if S3's part
/// rules allow it: every part but the last at least [`MIN_PART_SIZE`], none
/// over [`MAX_PART_SIZE`], at most [`MAX_PARTS`]. Empty sources are skipped;
/// `None` when nothing or too little is to be copied.
pub(crate) fn copy_plan(sizes: &[u64]) -> Option<Vec<CopyRange>> {
    let sources: Vec<(usize, u64)> = sizes
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, size)| *size > 0)
        .collect();
    let (_, body) = sources.split_last()?;
    if body.iter().any(|(_, size)| *size < MIN_PART_SIZE) {
        return None;
    }
    let mut ranges = Vec::new();
    for (source, size) in sources {
        // Equal ranges of at most 5 GiB: each is over 2.5 GiB when split.
        let pieces = size.div_ceil(MAX_PART_SIZE);
        let piece = size.div_ceil(pieces);
        let mut start = 0;
        while start < size {
            let end = (start + piece).min(size);
            ranges.push(CopyRange { source, start, end });
            start = end;
        }
    }
    (ranges.len() as u64 <= MAX_PARTS).then_some(ranges)
}

/// Makes the final upload `id` the concatenation of `partials`.
pub(crate) async fn concatenate(
    store: &S3Store,
    id: &UploadId,
    partials: &[UploadId],
    now: SystemTime,
) -> Result<u64, StoreError> {
    let guard = store.lock(id)?;
    let loaded = store.load_to_write(id, &guard).await?;
    let state = &loaded.state;
    let mut sources = Vec::with_capacity(partials.len());
    for partial in partials {
        match store.load_settled(partial).await?.state.progress {
            Progress::Complete { len, .. } => sources.push((store.keys(partial).data, len)),
            Progress::Open { .. } => {
                return Err(StoreError::backend(format!("partial upload {partial} is not complete")));
            }
        }
    }
    let total: u64 = sources.iter().map(|(_, len)| len).sum();
    if let Progress::Complete { len, .. } = state.progress {
        return Ok(len);
    }
    if state.offset() != 0 {
        return Err(StoreError::backend(format!("final upload {id} already holds data")));
    }
    let sizes: Vec<u64> = sources.iter().map(|(_, len)| *len).collect();
    let keys = store.keys(id);
    if let Some(plan) = copy_plan(&sizes) {
        let bucket = store.raw_bucket();
        let upload = state.record.multipart_upload.clone();
        let copies: Vec<_> = plan
            .into_iter()
            .enumerate()
            .map(|(index, range)| {
                let bucket = bucket.clone();
                let (data, upload) = (keys.data.clone(), upload.clone());
                let source = sources[range.source].0.clone();
                async move {
                    let number = i32::try_from(index + 1).map_err(StoreError::backend)?;
                    Ok::<_, StoreError>(
                        bucket
                            .copy_part(&data, &upload, number, &source, range.start, range.end)
                            .await?,
                    )
                }
            })
            .collect();
        let mut parts: Vec<_> = futures::stream::iter(copies).buffer_unordered(4).try_collect().await?;
        parts.sort_by_key(|part| part.number);
        bucket.finish(&keys, &upload, &parts, &[]).await?;
        store.forget(id);
        return Ok(total);
    }
    let bucket = store.raw_bucket().clone();
    let data = futures::stream::iter(sources.into_iter().filter(|(_, len)| *len > 0))
        .then(move |(key, len)| {
            let bucket = bucket.clone();
            async move { bucket.get_range(&key, 0, len).await.map_err(io::Error::other) }
        })
        .map_ok(read::stream)
        .try_flatten()
        .boxed();
    let offset = store
        .append(id, loaded, 0, data, Mode::Staged(Box::new(|| true)), now)
        .await?;
    if offset != total {
        return Err(StoreError::backend(format!("reading the partials of {id} failed")));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn copy_plan_table() {
        let r = |source, start, end| CopyRange { source, start, end };
        assert_eq!(copy_plan(&[]), None);
        assert_eq!(copy_plan(&[0, 0]), None);
        assert_eq!(copy_plan(&[7]), Some(vec![r(0, 0, 7)]));
        assert_eq!(copy_plan(&[5 * MIB, 1]), Some(vec![r(0, 0, 5 * MIB), r(1, 0, 1)]));
        assert_eq!(copy_plan(&[5 * MIB, 0, 3]), Some(vec![r(0, 0, 5 * MIB), r(2, 0, 3)]));
        assert_eq!(
            copy_plan(&[5 * MIB - 1, 10 * MIB]),
            None,
            "a short part that is not the last"
        );
        assert_eq!(copy_plan(&[3, 0]), Some(vec![r(0, 0, 3)]), "a short last source");
        let big = MAX_PART_SIZE + 2;
        assert_eq!(
            copy_plan(&[big]),
            Some(vec![r(0, 0, big / 2), r(0, big / 2, big)]),
            "over 5 GiB is split evenly"
        );
        assert_eq!(copy_plan(&vec![5 * MIB; 10_001]), None, "too many parts");
    }
}
