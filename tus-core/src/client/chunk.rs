//! How many bytes one request carries.
//!
//! Big requests are fast; small ones lose less when a connection breaks,
//! which matters with servers that keep nothing of a cut PATCH. So the
//! size starts where the user set it, is halved after repeated failures
//! without progress and after every `413 Payload Too Large` (which also
//! caps it for good: a proxy's body limit does not move), and grows back
//! towards the start after a run of successes.

/// Successes in a row before a shrunk chunk doubles again.
const GROW_AFTER: u32 = 4;

/// The sizes a [`ChunkSizer`] works between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkPolicy {
    /// The starting (and largest) size.
    pub initial: u64,
    /// The smallest size; a 413 at this size is final.
    pub min: u64,
}

impl Default for ChunkPolicy {
    fn default() -> Self {
        Self {
            initial: 8 << 20,
            min: 16 << 10,
        }
    }
}

/// The current chunk size of one upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkSizer {
    policy: ChunkPolicy,
    size: u64,
    ceiling: u64,
    successes: u32,
}

impl ChunkSizer {
    /// Starts at `policy.initial` (at least `policy.min`, at least 1).
    pub fn new(policy: ChunkPolicy) -> Self {
        let min = policy.min.max(1);
        let initial = policy.initial.max(min);
        Self {
            policy: ChunkPolicy { initial, min },
            size: initial,
            ceiling: initial,
            successes: 0,
        }
    }

    /// The size of the next request body.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// A body of `sent` bytes got 413: the size becomes half of it, for
    /// good. `false` when it cannot shrink (already at the minimum).
    pub fn too_large(&mut self, sent: u64) -> bool {
        if sent <= self.policy.min {
            return false;
        }
        self.ceiling = (sent / 2).max(self.policy.min);
        self.size = self.size.min(self.ceiling);
        self.successes = 0;
        true
    }

    /// Repeated failures without progress: halve (down to the minimum).
    /// Returns whether the size changed.
    pub fn shrink(&mut self) -> bool {
        let smaller = (self.size / 2).max(self.policy.min);
        let changed = smaller != self.size;
        self.size = smaller;
        self.successes = 0;
        changed
    }

    /// Bounds a server set (the IETF draft's `min-append-size` and
    /// `max-append-size`): the size stays at most `max`, for good, and at
    /// least `min` where `max` allows. Returns whether the size changed.
    pub fn bound(&mut self, min: Option<u64>, max: Option<u64>) -> bool {
        let before = self.size;
        if let Some(max) = max.filter(|&max| max > 0) {
            self.ceiling = self.ceiling.min(max);
            self.policy.min = self.policy.min.min(max);
        }
        if let Some(min) = min {
            self.policy.min = self.policy.min.max(min).min(self.ceiling);
        }
        self.size = self.size.clamp(self.policy.min, self.ceiling);
        self.size != before
    }

    /// A request succeeded; after a run of them a shrunk size grows back.
    /// Returns whether the size changed.
    pub fn succeeded(&mut self) -> bool {
        self.successes += 1;
        if self.successes < GROW_AFTER || self.size >= self.ceiling {
            return false;
        }
        self.successes = 0;
        self.size = self.size.saturating_mul(2).min(self.ceiling);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;

    #[test]
    fn a_413_halves_down_to_rustus_limit_and_stays_there() {
        let mut sizer = ChunkSizer::new(ChunkPolicy {
            initial: 8192 * KIB,
            min: 16 * KIB,
        });
        // rustus 0.5.10 refuses bodies over 256 KiB.
        let mut refusals = 0;
        while sizer.size() > 256 * KIB {
            assert!(sizer.too_large(sizer.size()));
            refusals += 1;
        }
        assert_eq!((sizer.size(), refusals), (256 * KIB, 5));
        for _ in 0..20 {
            sizer.succeeded();
        }
        assert_eq!(sizer.size(), 256 * KIB, "never grows past a 413");
    }

    #[test]
    fn a_413_on_a_short_tail_caps_below_it() {
        let mut sizer = ChunkSizer::new(ChunkPolicy {
            initial: 1024 * KIB,
            min: 16 * KIB,
        });
        assert!(sizer.too_large(100 * KIB));
        assert_eq!(sizer.size(), 50 * KIB);
        assert!(sizer.too_large(20 * KIB));
        assert_eq!(sizer.size(), 16 * KIB);
        assert!(!sizer.too_large(16 * KIB), "nothing left to halve");
    }

    #[test]
    fn shrinks_after_failures_and_grows_back() {
        let mut sizer = ChunkSizer::new(ChunkPolicy {
            initial: 64 * KIB,
            min: 16 * KIB,
        });
        assert!(sizer.shrink());
        assert!(sizer.shrink());
        assert!(!sizer.shrink());
        assert_eq!(sizer.size(), 16 * KIB);
        let grown: Vec<u64> = (0..8)
            .map(|_| {
                sizer.succeeded();
                sizer.size()
            })
            .collect();
        assert_eq!(grown, [16, 16, 16, 32, 32, 32, 32, 64].map(|k| k * KIB));
    }

    #[test]
    fn server_bounds_hold_through_failures_and_successes() {
        let mut sizer = ChunkSizer::new(ChunkPolicy {
            initial: 1024 * KIB,
            min: 16 * KIB,
        });
        assert!(sizer.bound(Some(64 * KIB), Some(100 * KIB)));
        assert_eq!(sizer.size(), 100 * KIB);
        for _ in 0..5 {
            sizer.shrink();
        }
        assert_eq!(sizer.size(), 64 * KIB, "never below min-append-size");
        for _ in 0..20 {
            sizer.succeeded();
        }
        assert_eq!(sizer.size(), 100 * KIB, "never above max-append-size");
        assert!(!sizer.bound(None, Some(0)), "a zero maximum is ignored");
        assert!(!sizer.bound(Some(1 << 40), None));
        assert_eq!(sizer.size(), 100 * KIB, "a minimum above the maximum stops at it");
    }

    #[test]
    fn degenerate_policies_are_usable() {
        let sizer = ChunkSizer::new(ChunkPolicy { initial: 0, min: 0 });
        assert_eq!(sizer.size(), 1);
    }
}
