//! Logs an attacker cannot flood: at most N lines a second from each place
//! in the code that logs (a tracing call site), the rest counted and
//! reported once a second as one `log lines suppressed` line per call site.
//!
//! Malformed requests (actix-web logs one ERROR line per request it cannot
//! parse), refused requests and the per-request access line all come from a
//! handful of call sites, so a client sending thousands of bad requests a
//! second produces at most N lines a second from each, whatever its rate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::layer::{Context, Filter};

/// The default `--log-rate-limit`: lines a second per call site.
pub const DEFAULT_LOG_LINES_PER_SECOND: u32 = 100;

/// One call site's window: lines let through and suppressed in this second.
#[derive(Debug)]
struct Window {
    site: &'static Metadata<'static>,
    started: Instant,
    passed: u32,
    suppressed: u64,
}

type Windows = Arc<Mutex<HashMap<Identifier, Window>>>;

fn lock_windows(windows: &Windows) -> MutexGuard<'_, HashMap<Identifier, Window>> {
    // Each critical section only updates counters: a poisoned map is consistent.
    windows.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A per-layer [`Filter`] letting through at most `per_second` events a
/// second from each call site (spans always pass).
#[derive(Debug, Clone)]
pub struct LogRateLimit {
    per_second: u32,
    windows: Windows,
}

impl LogRateLimit {
    /// At most `per_second` lines a second from each call site; 0 lets everything through.
    ///
    /// Starts a thread that reports, once a second, how many lines each
    /// call site had suppressed (through `tracing`, so after the
    /// subscriber is installed).
    pub fn new(per_second: u32) -> Self {
        let limit = Self {
            per_second,
            windows: Windows::default(),
        };
        if per_second > 0 {
            let windows = limit.windows.clone();
            let spawned = std::thread::Builder::new()
                .name("log-rate-limit".into())
                .spawn(move || report_suppressed(&windows));
            if let Err(error) = spawned {
                eprintln!("log rate limit: no reporting thread: {error}");
            }
        }
        limit
    }

    fn admit(&self, site: &'static Metadata<'static>) -> bool {
        if self.per_second == 0 {
            return true;
        }
        let now = Instant::now();
        let mut windows = lock_windows(&self.windows);
        let window = windows.entry(site.callsite()).or_insert(Window {
            site,
            started: now,
            passed: 0,
            suppressed: 0,
        });
        if now.duration_since(window.started) >= Duration::from_secs(1) {
            window.started = now;
            window.passed = 0;
        }
        if window.passed < self.per_second {
            window.passed += 1;
            true
        } else {
            window.suppressed += 1;
            false
        }
    }
}

impl<S> Filter<S> for LogRateLimit {
    fn enabled(&self, _: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        // Counting happens in `event_enabled`, once the other filters let an event through.
        true
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if meta.is_event() && self.per_second > 0 {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn event_enabled(&self, event: &Event<'_>, _: &Context<'_, S>) -> bool {
        self.admit(event.metadata())
    }
}

/// Once a second, one line per call site that suppressed lines. Runs for
/// the life of the process.
fn report_suppressed(windows: &Windows) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let reports: Vec<(&'static Metadata<'static>, u64)> = lock_windows(windows)
            .values_mut()
            .filter(|window| window.suppressed > 0)
            .map(|window| (window.site, std::mem::take(&mut window.suppressed)))
            .collect();
        for (site, suppressed) in reports {
            tracing::warn!(
                suppressed,
                target = site.target(),
                level = %site.level(),
                at = format!("{}:{}", site.file().unwrap_or("?"), site.line().unwrap_or(0)),
                "log lines suppressed in the last second (--log-rate-limit)"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lets_through_n_a_second_per_call_site_and_counts_the_rest() {
        let limit = LogRateLimit {
            per_second: 3,
            windows: Windows::default(),
        };
        struct Site;
        static SITE: Site = Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                &META
            }
        }
        static META: Metadata<'static> = tracing::metadata! {
            name: "test",
            target: "test",
            level: tracing::Level::ERROR,
            fields: &[],
            callsite: &SITE,
            kind: tracing::metadata::Kind::EVENT,
        };
        let admitted = (0..10).filter(|_| limit.admit(&META)).count();
        assert_eq!(admitted, 3);
        assert_eq!(
            lock_windows(&limit.windows).values().map(|w| w.suppressed).sum::<u64>(),
            7
        );
        let unlimited = LogRateLimit {
            per_second: 0,
            windows: Windows::default(),
        };
        assert!((0..1000).all(|_| unlimited.admit(&META)));
    }
}
