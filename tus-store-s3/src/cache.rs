//! The states of open uploads, kept in process between requests, and the
//! bytes of their tails.
//!
//! A cached state is used only while one listing of `{prefix}{id}` (the
//! data object and everything under `{prefix}{id}.`) shows
//! exactly the objects (keys, sizes, ETags) it was recovered from or that
//! this store wrote since: any other writer's change is seen, and the state
//! is recovered again. A tail's bytes are kept so that cutting the next
//! part needs no read back; each holds a lease on the store's buffer
//! budget, and at most `tail_slots` are kept (the least recently used go).
//!
//! A store that is the sole writer of its prefix uses a cached state
//! without a listing ([`Cache::trusted`]). Otherwise two shortcuts spare
//! listings. A confirmation by `info()` is used by the
//! writer that the server opens right after it, under the same lock
//! ([`Cache::reuse`], within [`REUSE`]). And while this process commits a
//! part in the background, the state it answered with is the upload's
//! state for `info()` ([`Cache::compacting`]); the next write waits for the
//! part, then lists.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::future::{BoxFuture, Shared};
use tus_core::upload::UploadId;

use crate::budget::Lease;
use crate::layout::{Fingerprint, Segment};
use crate::state::{Loaded, Progress, State};

/// The most upload states kept.
const MAX_STATES: usize = 4096;
/// How long a listing's confirmation may be used once more, by the writer
/// the server opens after `info()` under the same lock.
pub(crate) const REUSE: Duration = Duration::from_secs(1);

/// A part being committed in the background; done when it resolves.
pub(crate) type Pending = Shared<BoxFuture<'static, ()>>;

/// The bytes of an upload's tail, from the end of its committed parts.
#[derive(Debug)]
pub(crate) struct Tail {
    pub(crate) bytes: BytesMut,
    pub(crate) lease: Lease,
    /// The segments (key, ETag) the bytes are: valid only while they are
    /// the upload's tail.
    pub(crate) segments: Vec<(String, String)>,
}

impl Tail {
    pub(crate) fn new(bytes: BytesMut, lease: Lease, segments: &[Segment]) -> Self {
        Self {
            bytes,
            lease,
            segments: segments.iter().map(|s| (s.key.clone(), s.etag.clone())).collect(),
        }
    }

    /// Whether these are the bytes of `segments`.
    pub(crate) fn holds(&self, segments: &[Segment]) -> bool {
        self.bytes.len() as u64 == segments.iter().map(|s| s.len).sum::<u64>()
            && self.segments.len() == segments.len()
            && self
                .segments
                .iter()
                .zip(segments)
                .all(|((key, etag), segment)| *key == segment.key && *etag == segment.etag)
    }
}

#[derive(Debug)]
struct Entry {
    loaded: Loaded,
    tail: Option<Tail>,
    used: u64,
    /// When a listing last confirmed the state, if not used since.
    confirmed: Option<Instant>,
    compaction: Option<Pending>,
}

/// Upload states by id (see the module docs).
#[derive(Debug)]
pub(crate) struct Cache {
    entries: Mutex<Entries>,
    tail_slots: usize,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<UploadId, Entry>,
    clock: u64,
}

impl Entries {
    /// The entry of `id`, marked as the most recently used.
    fn used(&mut self, id: &UploadId) -> Option<&mut Entry> {
        self.clock += 1;
        let clock = self.clock;
        let entry = self.map.get_mut(id)?;
        entry.used = clock;
        Some(entry)
    }
}

impl Cache {
    pub(crate) fn new(tail_slots: usize) -> Self {
        Self {
            entries: Mutex::default(),
            tail_slots,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        // Every critical section leaves the map consistent.
        self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state cached for `id`, if a listing with `fingerprint` confirms it.
    pub(crate) fn confirmed(&self, id: &UploadId, fingerprint: &Fingerprint) -> Option<State> {
        let mut entries = self.entries();
        let entry = entries.used(id)?;
        if entry.loaded.fingerprint != *fingerprint {
            return None;
        }
        entry.confirmed = Some(Instant::now());
        Some(entry.loaded.state.clone())
    }

    /// The state cached for `id`, without a listing: for a store that is
    /// the only writer of its prefix ([`S3StoreBuilder::sole_writer`](crate::S3StoreBuilder::sole_writer)),
    /// where only this process changes what it cached.
    pub(crate) fn trusted(&self, id: &UploadId) -> Option<Loaded> {
        Some(self.entries().used(id)?.loaded.clone())
    }

    /// The state confirmed by a listing less than [`REUSE`] ago, once.
    pub(crate) fn reuse(&self, id: &UploadId) -> Option<Loaded> {
        let mut entries = self.entries();
        let entry = entries.map.get_mut(id)?;
        let confirmed = entry.confirmed.take()?;
        (confirmed.elapsed() < REUSE).then(|| entry.loaded.clone())
    }

    /// The state this process answered with while it commits a part in
    /// the background.
    pub(crate) fn compacting(&self, id: &UploadId) -> Option<Loaded> {
        let mut entries = self.entries();
        let entry = entries.map.get_mut(id)?;
        if entry.compaction.as_ref()?.peek().is_some() {
            return None;
        }
        entry.confirmed = Some(Instant::now());
        Some(entry.loaded.clone())
    }

    /// The part being committed in the background for `id`, if any.
    pub(crate) fn pending(&self, id: &UploadId) -> Option<Pending> {
        self.entries().map.get(id)?.compaction.clone()
    }

    /// Records the background commit of `id`'s part.
    pub(crate) fn set_pending(&self, id: &UploadId, pending: Pending) {
        if let Some(entry) = self.entries().map.get_mut(id) {
            entry.compaction = Some(pending);
        }
    }

    /// Keeps `loaded` for `id` (`confirmed`: just read from a listing), and
    /// its tail's bytes if it still is the tail.
    pub(crate) fn keep(&self, id: &UploadId, loaded: Loaded, confirmed: bool) {
        let mut entries = self.entries();
        entries.clock += 1;
        let clock = entries.clock;
        if !entries.map.contains_key(id) && entries.map.len() >= MAX_STATES {
            let oldest = entries.map.iter().min_by_key(|(_, e)| e.used).map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.map.remove(&oldest);
            }
        }
        let tail = entries.map.remove(id).and_then(|entry| entry.tail);
        let tail = match (&loaded.state.progress, tail) {
            (Progress::Open { segments, .. }, Some(tail)) if tail.holds(segments) => Some(tail),
            _ => None,
        };
        entries.map.insert(
            id.clone(),
            Entry {
                loaded,
                tail,
                used: clock,
                confirmed: confirmed.then(Instant::now),
                compaction: None,
            },
        );
    }

    /// Takes the tail bytes cached for `id`, if they are `state`'s tail.
    pub(crate) fn take_tail(&self, id: &UploadId, state: &State) -> Option<Tail> {
        let tail = self.entries().map.get_mut(id)?.tail.take()?;
        match &state.progress {
            Progress::Open { segments, .. } if tail.holds(segments) => Some(tail),
            _ => None,
        }
    }

    /// Keeps `tail` for `id` (whose state is cached), dropping the least
    /// recently used tail when all slots are taken.
    pub(crate) fn keep_tail(&self, id: &UploadId, tail: Tail) {
        if self.tail_slots == 0 {
            return;
        }
        let mut entries = self.entries();
        let held = entries.map.values().filter(|entry| entry.tail.is_some()).count();
        if held >= self.tail_slots {
            let oldest = entries
                .map
                .iter()
                .filter(|(other, entry)| entry.tail.is_some() && *other != id)
                .min_by_key(|(_, entry)| entry.used)
                .map(|(other, _)| other.clone());
            if let Some(entry) = oldest.and_then(|oldest| entries.map.get_mut(&oldest)) {
                entry.tail = None;
            }
        }
        if let Some(entry) = entries.map.get_mut(id) {
            entry.tail = Some(tail);
        }
    }

    /// Forgets `id` (after a failed write: its state is unknown).
    pub(crate) fn forget(&self, id: &UploadId) {
        self.entries().map.remove(id);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::SystemTime;

    use tus_core::upload::{NewUpload, UploadKind, UploadSize};

    use super::*;
    use crate::budget::Budget;
    use crate::layout::Listed;
    use crate::record::Record;

    fn loaded(id: &UploadId, segments: Vec<Segment>, etag: &str) -> Loaded {
        let upload = NewUpload {
            id: id.clone(),
            size: UploadSize::Deferred,
            metadata: tus_core::headers::Metadata::new(),
            kind: UploadKind::Single,
            created_at: SystemTime::UNIX_EPOCH,
        };
        let listing = [Listed {
            key: format!("{id}.info"),
            size: 1,
            etag: etag.to_owned(),
            modified: None,
        }];
        Loaded {
            state: State::open(Record::new(&upload, "m".to_owned(), 10), Vec::new(), segments, None),
            fingerprint: Fingerprint::new(&listing),
        }
    }

    fn segment(len: u64) -> Segment {
        Segment {
            key: "s".to_owned(),
            start: 0,
            len,
            etag: "e".to_owned(),
        }
    }

    #[test]
    fn a_state_is_used_only_while_its_listing_is_unchanged() {
        let cache = Cache::new(1);
        let id = UploadId::parse("a").expect("id");
        let state = loaded(&id, Vec::new(), "e1");
        cache.keep(&id, state.clone(), false);
        assert!(cache.confirmed(&id, &state.fingerprint).is_some());
        assert!(
            cache
                .confirmed(&id, &loaded(&id, Vec::new(), "e2").fingerprint)
                .is_none()
        );
        assert!(cache.reuse(&id).is_some(), "the writer after info() reuses its listing");
        assert!(cache.reuse(&id).is_none(), "once");
        cache.forget(&id);
        assert!(cache.confirmed(&id, &state.fingerprint).is_none());
    }

    #[tokio::test]
    async fn tails_are_leased_and_the_least_recently_used_goes() {
        let budget = Budget::new(4);
        let cache = Cache::new(1);
        let (a, b) = (UploadId::parse("a").expect("id"), UploadId::parse("b").expect("id"));
        for id in [&a, &b] {
            cache.keep(id, loaded(id, vec![segment(3)], "e"), false);
        }
        let tail = |budget: &Arc<Budget>| {
            let budget = Arc::clone(budget);
            async move {
                let (lease, mut bytes) = budget.lease(10).await.expect("lease");
                bytes.extend_from_slice(b"abc");
                Tail::new(bytes, lease, &[segment(3)])
            }
        };
        cache.keep_tail(&a, tail(&budget).await);
        assert_eq!(budget.stats().in_use, 10);
        cache.keep_tail(&b, tail(&budget).await);
        assert_eq!(budget.stats().in_use, 10, "one slot: a's tail was dropped");
        let state_b = loaded(&b, vec![segment(3)], "e").state;
        assert!(cache.take_tail(&a, &state_b).is_none());
        let taken = cache.take_tail(&b, &state_b).expect("b's tail");
        assert!(taken.holds(&[segment(3)]));
        assert!(!taken.holds(&[segment(4)]), "other segments: not this tail");
        drop(taken);
        assert_eq!(budget.stats().in_use, 0);
    }
}
