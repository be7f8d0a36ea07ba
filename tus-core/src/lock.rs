//! The locking contract: per-upload locks with request stealing, which a
//! server takes around HEAD, PATCH and DELETE. A trait is no I/O, so it
//! lives here beside [`Store`](crate::store::Store), and lock backends (a
//! lock file, a lock server) depend on this crate only; the server driver
//! brings an in-process implementation.
//!
//! **Stealing.** A request that wants a lock another request holds does not
//! just queue: the locker *asks the holder to release*
//! ([`LockGuard::release_requested`] completes). A holder that is streaming a
//! body stops reading it, lets the store keep the bytes received so far,
//! releases the lock and answers; the newcomer then gets the lock. The
//! newest request wins, as in tusd.
//!
//! ```text
//!   holder: lock ─▶ streaming ─▶ (release requested) ─▶ stop body ─▶ store keeps prefix ─▶ unlock
//!   newcomer:            lock? ─▶ request release ─▶ wait ───────────────────────────────▶ locked
//! ```

use std::future::Future;

use futures::FutureExt as _;
use futures::future::{BoxFuture, Shared};

use crate::store::BoxError;
use crate::upload::UploadId;

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// The lock is held elsewhere and could not be obtained.
    #[error("upload is locked")]
    Busy,
    /// The locker's backend failed (a lock file or a lock server).
    #[error("locker failed")]
    Backend(#[source] BoxError),
}

/// Completes when another request asked the holder of a lock to release it.
pub type ReleaseRequested = Shared<BoxFuture<'static, ()>>;

/// Exclusive access to one upload until dropped.
pub struct LockGuard {
    _release: Box<dyn Send + Sync>,
    requested: ReleaseRequested,
}

impl LockGuard {
    /// A guard that runs `release`'s `Drop` when the lock is released, and is
    /// never asked to release early (a locker without stealing).
    pub fn new(release: impl Send + Sync + 'static) -> Self {
        Self::with_release_request(release, futures::future::pending())
    }

    /// A guard whose holder is asked to release when `requested` completes.
    ///
    /// Lockers that support stealing complete `requested` when another
    /// request wants the lock; it may also complete spuriously (the holder
    /// then merely stops early).
    pub fn with_release_request(
        release: impl Send + Sync + 'static,
        requested: impl Future<Output = ()> + Send + 'static,
    ) -> Self {
        Self {
            _release: Box::new(release),
            requested: requested.boxed().shared(),
        }
    }

    /// Completes once another request asked for this lock. Cheap to call
    /// repeatedly; every returned future completes at the same time.
    pub fn release_requested(&self) -> ReleaseRequested {
        self.requested.clone()
    }
}

impl std::fmt::Debug for LockGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockGuard").finish_non_exhaustive()
    }
}

/// Hands out per-upload locks. Implement it to share locks between processes
/// or hosts.
///
/// Contract: at most one [`LockGuard`] per upload id exists at a time among
/// all handlers sharing the locker; it is released when dropped (or, for
/// lockers spanning processes, when its process dies). A locker supporting
/// stealing completes the holder's [`LockGuard::release_requested`] when
/// `lock` is called for an id that is held, then waits for the release. The
/// handler bounds every `lock` call by its lock timeout, dropping the future
/// when it passes, so `lock` MUST be cancel-safe.
pub trait Locker: Send + Sync + 'static {
    /// Waits for exclusive access to `id`, asking its holder to release.
    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>>;

    /// Takes `id`'s lock only if nobody holds it, without asking anyone to
    /// release: `Ok(None)` when it is held (or when this locker cannot
    /// tell, which the default answers). The server uses it to check a
    /// request that may not deserve to interrupt the holder (a PATCH at an
    /// offset that can never succeed) before stealing.
    fn try_lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<Option<LockGuard>, LockError>> {
        let _ = id;
        Box::pin(async { Ok(None) })
    }
}
