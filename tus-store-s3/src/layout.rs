//! The objects of one open upload, read from one listing of `{prefix}{id}`
//! (the data object and `{prefix}{id}.*`), and the pure rules that recover
//! its committed state from them (no S3 call here).
//!
//! | name after `{prefix}{id}.` | what it is |
//! |---|---|
//! | `info` | the record |
//! | `parts.{n}` | commit marker: parts `1..=n` are committed (the highest counts) |
//! | `seg.{start, 20 digits}` | a segment: bytes from `start`, written once by one append |
//! | `part` | an incomplete part of the old layout (bytes after its `tus-parts` count) |
//!
//! The offset is `P x part size` plus the segments that follow each other
//! from `P x part size`, `P` the committed part count. Every other segment,
//! and every marker below the highest, is a leftover of an interrupted
//! step, deleted before the next append writes.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) size: u64,
    /// Without quotes.
    pub(crate) etag: String,
    pub(crate) modified: Option<SystemTime>,
}

/// What an object under `{prefix}{id}.` is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    Info,
    Marker(u64),
    Segment(u64),
    OldTail,
    Other,
}

/// Classifies `name`, the key after `{prefix}{id}.`.
pub(crate) fn entry(name: &str) -> Entry {
    if name == "info" {
        return Entry::Info;
    }
    if name == "part" {
        return Entry::OldTail;
    }
    if let Some(count) = name.strip_prefix("parts.").and_then(number) {
        return Entry::Marker(count);
    }
    if let Some(start) = name.strip_prefix("seg.").and_then(number) {
        return Entry::Segment(start);
    }
    Entry::Other
}

/// `digits` as a number, if it is only ASCII digits.
fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The name of the segment that starts at `start`.
pub(crate) fn segment_name(start: u64) -> String {
    format!("seg.{start:020}")
}

/// The name of the marker that commits parts `1..=count`.
pub(crate) fn marker_name(count: u64) -> String {
    format!("parts.{count}")
}

/// One segment: `len` bytes of the upload from `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub(crate) key: String,
    pub(crate) start: u64,
    pub(crate) len: u64,
    pub(crate) etag: String,
}

impl Segment {
    pub(crate) fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// The objects of a listing, by kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scan {
    pub(crate) info: Option<Listed>,
    /// Markers as (count, key), in any order.
    pub(crate) markers: Vec<(u64, String)>,
    pub(crate) segments: Vec<Segment>,
    pub(crate) old_tail: Option<Listed>,
}

impl Scan {
    /// Sorts the objects of `listing` (keys under `stem`, `{prefix}{id}.`).
    pub(crate) fn new(stem: &str, listing: &[Listed]) -> Self {
        let mut scan = Self::default();
        for object in listing {
            let Some(name) = object.key.strip_prefix(stem) else {
                continue;
            };
            match entry(name) {
                Entry::Info => scan.info = Some(object.clone()),
                Entry::Marker(count) => scan.markers.push((count, object.key.clone())),
                Entry::Segment(start) => scan.segments.push(Segment {
                    key: object.key.clone(),
                    start,
                    len: object.size,
                    etag: object.etag.clone(),
                }),
                Entry::OldTail => scan.old_tail = Some(object.clone()),
                Entry::Other => {}
            }
        }
        scan
    }

    /// The highest marker's count (0 without markers).
    pub(crate) fn committed(&self) -> u64 {
        self.markers.iter().map(|(count, _)| *count).max().unwrap_or(0)
    }
}

/// The tail of an upload with `committed` parts: the segments that follow
/// each other from `committed x part_size`, and every other segment as a
/// leftover. The tail may hold a whole part or more (an append answered
/// before its part was committed, then stopped): the next append commits
/// it first.
pub(crate) fn tail(segments: Vec<Segment>, committed: u64, part_size: u64) -> (Vec<Segment>, Vec<Segment>) {
    let start = committed.saturating_mul(part_size);
    let mut by_start: BTreeMap<u64, Segment> = BTreeMap::new();
    let mut leftovers = Vec::new();
    for segment in segments {
        if segment.len == 0 || segment.start < start {
            leftovers.push(segment);
        } else if let Some(previous) = by_start.insert(segment.start, segment) {
            // Two keys for one start: only an old-layout part can share it.
            leftovers.push(previous);
        }
    }
    let mut chain = Vec::new();
    let mut end = start;
    while let Some(next) = by_start.remove(&end) {
        end = next.end();
        chain.push(next);
    }
    leftovers.extend(by_start.into_values());
    (chain, leftovers)
}

/// What a listing showed of an upload, to tell cheaply whether anything
/// changed since: every key with its size and ETag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Fingerprint(BTreeMap<String, (u64, String)>);

impl Fingerprint {
    pub(crate) fn new(listing: &[Listed]) -> Self {
        Self(
            listing
                .iter()
                .map(|object| (object.key.clone(), (object.size, object.etag.clone())))
                .collect(),
        )
    }

    /// Records an object this store wrote.
    pub(crate) fn written(&mut self, key: &str, size: u64, etag: &str) {
        self.0.insert(key.to_owned(), (size, etag.to_owned()));
    }

    /// Records objects this store deleted.
    pub(crate) fn deleted(&mut self, keys: &[String]) {
        for key in keys {
            self.0.remove(key);
        }
    }

    /// The keys under `stem` that a compaction to `committed` parts makes
    /// leftovers: markers below `committed`, segments below
    /// `committed x part_size`, the old-layout incomplete part.
    pub(crate) fn consumed(&self, stem: &str, committed: u64, part_size: u64) -> Vec<String> {
        let start = committed.saturating_mul(part_size);
        self.0
            .keys()
            .filter(|key| match key.strip_prefix(stem).map(entry) {
                Some(Entry::Marker(count)) => count < committed,
                Some(Entry::Segment(at)) => at < start,
                Some(Entry::OldTail) => true,
                _ => false,
            })
            .cloned()
            .collect()
    }

    /// Every key under `stem` but the record's: what a completed upload no
    /// longer needs.
    pub(crate) fn all_but_info(&self, stem: &str) -> Vec<String> {
        self.0
            .keys()
            .filter(|key| key.strip_prefix(stem).is_some_and(|name| entry(name) != Entry::Info))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEM: &str = "tus/abc.";

    fn seg(start: u64, len: u64) -> Segment {
        Segment {
            key: format!("{STEM}{}", segment_name(start)),
            start,
            len,
            etag: format!("e{start}"),
        }
    }

    fn listed(name: &str, size: u64) -> Listed {
        Listed {
            key: format!("{STEM}{name}"),
            size,
            etag: "e".to_owned(),
            modified: None,
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(entry("info"), Entry::Info);
        assert_eq!(entry("part"), Entry::OldTail);
        assert_eq!(entry(&marker_name(12)), Entry::Marker(12));
        assert_eq!(entry(&segment_name(5_242_880)), Entry::Segment(5_242_880));
        assert_eq!(segment_name(7), "seg.00000000000000000007");
        for other in ["parts.", "parts.x", "seg.", "seg.-1", "seg.1a", "partsy", "finals"] {
            assert_eq!(entry(other), Entry::Other, "{other}");
        }
    }

    #[test]
    fn scan_sorts_a_listing() {
        let listing = [
            listed("info", 10),
            listed("parts.2", 0),
            listed("parts.1", 0),
            listed(&segment_name(10), 3),
            listed("part", 4),
            listed("unknown", 1),
        ];
        let scan = Scan::new(STEM, &listing);
        assert!(scan.info.is_some());
        assert_eq!(scan.committed(), 2);
        assert_eq!(scan.segments.len(), 1);
        assert_eq!(scan.old_tail.map(|old| old.size), Some(4));
        assert_eq!(Scan::new(STEM, &[]).committed(), 0);
    }

    #[test]
    fn tail_table() {
        let starts = |segments: &[Segment]| segments.iter().map(|s| s.start).collect::<Vec<_>>();
        // (segments, committed, part size) -> (chain, leftovers)
        let cases: &[(Vec<Segment>, u64, Vec<u64>, Vec<u64>)] = &[
            (vec![], 0, vec![], vec![]),
            (vec![seg(0, 3), seg(3, 4)], 0, vec![0, 3], vec![]),
            (vec![seg(3, 4), seg(0, 3)], 0, vec![0, 3], vec![]),
            // A compaction committed part 1 but did not delete its segments.
            (vec![seg(0, 6), seg(6, 4), seg(10, 2)], 1, vec![10], vec![0, 6]),
            // A segment written past a gap (its part was never committed).
            (vec![seg(0, 3), seg(12, 2)], 0, vec![0], vec![12]),
            // A segment that overlaps the chain.
            (vec![seg(0, 3), seg(2, 2)], 0, vec![0], vec![2]),
            (vec![seg(0, 0)], 0, vec![], vec![0]),
        ];
        for (segments, committed, chain, leftovers) in cases {
            let (got_chain, got_leftovers) = tail(segments.clone(), *committed, 10);
            assert_eq!(starts(&got_chain), *chain, "{segments:?}");
            let mut got_leftovers = starts(&got_leftovers);
            got_leftovers.sort_unstable();
            assert_eq!(got_leftovers, *leftovers, "{segments:?}");
        }
        let (chain, _) = tail(vec![seg(0, 6), seg(6, 4), seg(10, 1)], 0, 10);
        assert_eq!(starts(&chain), [0, 6, 10], "a whole part answered, not yet committed");
    }

    #[test]
    fn fingerprint_follows_writes_and_deletes() {
        let listing = [listed("info", 10), listed("parts.1", 0), listed(&segment_name(10), 3)];
        let mut fingerprint = Fingerprint::new(&listing);
        assert_eq!(fingerprint, Fingerprint::new(&listing));
        fingerprint.written(&format!("{STEM}{}", segment_name(13)), 2, "x");
        assert_ne!(fingerprint, Fingerprint::new(&listing));
        let mut consumed = fingerprint.consumed(STEM, 2, 10);
        consumed.sort();
        assert_eq!(
            consumed,
            [
                format!("{STEM}parts.1"),
                format!("{STEM}{}", segment_name(10)),
                format!("{STEM}{}", segment_name(13))
            ]
        );
        fingerprint.deleted(&consumed);
        assert_eq!(fingerprint, Fingerprint::new(&[listed("info", 10)]));
        assert!(fingerprint.all_but_info(STEM).is_empty());
    }
}
