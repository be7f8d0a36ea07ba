//! [`FileLocker`]: upload locks shared by every process on one host that
//! serves the same directory, with request stealing.
//!
//! ```text
//!   {id}.lock     exclusive advisory lock (File::try_lock) = the upload's lock
//!   {id}.release  exists while some request waits for the lock
//!
//!   newcomer: create {id}.release ─▶ try_lock {id}.lock ─▶ busy: sleep(poll), again
//!   holder:   every poll: {id}.release exists? ─▶ release requested ─▶ stop body ─▶ unlock
//!   newcomer: locked ─▶ remove {id}.release ─▶ proceed
//! ```
//!
//! The operating system drops an advisory lock when its process dies, so a
//! crashed server never leaves an upload locked. A holder deletes its lock
//! file before unlocking; a newcomer that locked a file no longer at its
//! path (it raced with that delete) drops it and tries again, so two holders
//! never coexist.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures::future::BoxFuture;
use tus_core::lock::{LockError, LockGuard, Locker};
use tus_core::store::StoreError;
use tus_core::upload::UploadId;

use crate::blocking;

/// Default [`FileLocker::poll_interval`].
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// Suffix of an upload's lock file.
const LOCK_SUFFIX: &str = ".lock";
/// Suffix of the file asking an upload's lock holder to release it.
const RELEASE_SUFFIX: &str = ".release";

/// A [`Locker`] over lock files in a directory, shared by every process on
/// the host using the same directory (usually the [`FileStore`]'s).
///
/// A waiter asks the holder, in whichever process, to release by creating
/// `{id}.release`; holders look for it every poll interval, so a steal takes
/// about two intervals. The directory must be on a local file system with
/// working advisory locks (not every network file system has them).
///
/// Uses Tokio's blocking pool and timer: use it inside a Tokio runtime.
///
/// [`FileStore`]: crate::FileStore
#[derive(Debug, Clone)]
pub struct FileLocker {
    dir: PathBuf,
    poll: Duration,
}

impl FileLocker {
    /// A locker keeping its files in `dir`, which is created if missing.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            poll: DEFAULT_POLL_INTERVAL,
        })
    }

    /// How often waiters retry and holders look for release requests
    /// (default [`DEFAULT_POLL_INTERVAL`]).
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    fn path(&self, id: &UploadId, suffix: &str) -> PathBuf {
        self.dir.join(format!("{id}{suffix}"))
    }
}

impl Locker for FileLocker {
    fn lock<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<LockGuard, LockError>> {
        Box::pin(async move {
            let lock_path = self.path(id, LOCK_SUFFIX);
            let release_path = self.path(id, RELEASE_SUFFIX);
            // Bounded by the handler's lock timeout, which drops this future.
            let file = loop {
                let (path, release) = (lock_path.clone(), release_path.clone());
                let attempt = blocking::run(move || try_lock(&path, &release)).await;
                if let Some(file) = attempt.map_err(|error| LockError::Backend(Box::new(error)))? {
                    break file;
                }
                tokio::time::sleep(self.poll).await;
            };
            let requested = release_requested(release_path, self.poll);
            Ok(LockGuard::with_release_request(
                Held {
                    file: Some(file),
                    path: lock_path,
                },
                requested,
            ))
        })
    }
}

/// One attempt: the locked file, or `None` when another holds it (after
/// asking it to release). Blocking.
fn try_lock(path: &Path, release: &Path) -> Result<Option<File>, StoreError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(StoreError::io)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            // Re-created on every attempt: a holder that got the lock after
            // our first request removed it, and must be asked again.
            OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(release)
                .map_err(StoreError::io)?;
            return Ok(None);
        }
        Err(TryLockError::Error(error)) => return Err(StoreError::backend(error)),
    }
    if !is_current(&file, path)? {
        // The previous holder deleted it after we opened it: try again.
        return Ok(None);
    }
    match std::fs::remove_file(release) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(StoreError::backend(error)),
    }
    Ok(Some(file))
}

/// Whether the open `file` is still the one at `path`.
#[cfg(unix)]
fn is_current(file: &File, path: &Path) -> Result<bool, StoreError> {
    use std::os::unix::fs::MetadataExt as _;
    let open = file.metadata().map_err(StoreError::io)?;
    match std::fs::metadata(path) {
        Ok(named) => Ok(open.dev() == named.dev() && open.ino() == named.ino()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(StoreError::backend(error)),
    }
}

/// Whether the open `file` is still the one at `path`: assumed on systems
/// that cannot delete an open file anyway.
#[cfg(not(unix))]
fn is_current(_file: &File, _path: &Path) -> Result<bool, StoreError> {
    Ok(true)
}

/// Completes once `{id}.release` exists, checking every `poll`.
async fn release_requested(release: PathBuf, poll: Duration) {
    loop {
        tokio::time::sleep(poll).await;
        let path = release.clone();
        // An error reading the directory counts as "not asked": keep the lock.
        if let Ok(true) = blocking::run(move || Ok(path.try_exists().unwrap_or(false))).await {
            return;
        }
    }
}

/// The locked file; on drop, deletes it and then unlocks it.
struct Held {
    file: Option<File>,
    path: PathBuf,
}

impl Drop for Held {
    fn drop(&mut self) {
        // Deleted while still locked, so no one can lock this inode and
        // believe it current; waiters that opened it retry on a new file.
        if let Err(error) = std::fs::remove_file(&self.path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "could not remove a lock file");
        }
        drop(self.file.take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use futures::FutureExt as _;

    use super::*;

    fn id() -> UploadId {
        UploadId::parse("abc").expect("id")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_waiter_steals_from_another_locker_on_the_same_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        let poll = Duration::from_millis(20);
        // Two lockers: as two processes would have.
        let first = FileLocker::new(dir.path()).expect("locker").poll_interval(poll);
        let second = FileLocker::new(dir.path()).expect("locker").poll_interval(poll);
        let id = id();
        let held = first.lock(&id).await.expect("free");
        let requested = held.release_requested();
        let waiter = tokio::spawn({
            let id = id.clone();
            async move { second.lock(&id).await.map(|guard| (guard, Instant::now())) }
        });
        tokio::time::timeout(Duration::from_secs(5), requested)
            .await
            .expect("the holder is asked to release");
        assert!(!waiter.is_finished(), "the waiter still waits while the lock is held");
        let released = Instant::now();
        drop(held);
        let (second_held, locked) = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("in time")
            .expect("task")
            .expect("lock");
        assert!(locked >= released);
        assert!(
            second_held.release_requested().now_or_never().is_none(),
            "the release request was consumed"
        );
        drop(second_held);
        assert!(
            !dir.path().join("abc.lock").exists(),
            "lock files are removed on release"
        );
        assert!(!dir.path().join("abc.release").exists());
    }
}
