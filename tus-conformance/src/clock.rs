//! A clock tests move by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tus_server::Clock;

/// A clock that starts at the system time and only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock {
    start: SystemTime,
    offset_millis: Arc<AtomicU64>,
}

impl Default for ManualClock {
    fn default() -> Self {
        Self {
            start: SystemTime::now(),
            offset_millis: Arc::default(),
        }
    }
}

impl ManualClock {
    /// A clock at the current system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let millis = u64::try_from(by.as_millis()).unwrap_or(u64::MAX);
        self.offset_millis.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        self.start + Duration::from_millis(self.offset_millis.load(Ordering::SeqCst))
    }
}
