//! # tus-store-fs
//!
//! A filesystem [`Store`](tus_core::store::Store) for
//! [tus-core](tus_core): each upload is a data file and a JSON sidecar in
//! one directory.
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_core::server::TusHandler;
//! use tus_store_fs::FileStore;
//!
//! # fn main() -> std::io::Result<()> {
//! let store = FileStore::new("/var/lib/uploads")?;
//! let handler = TusHandler::builder(Arc::new(store)).base_path("/files/").build();
//! # let _ = handler;
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout and guarantees
//!
//! | file | holds |
//! |---|---|
//! | `{id}.bin` | the bytes received so far; its length **is** the offset, its modification time `updated_at` |
//! | `{id}.info` | size, metadata (byte-exact), concatenation role and parts, creation time |
//! | `{id}.stage` | while a staged append runs: its body, not yet kept |
//! | `{id}.bin.tmp` | while a concatenation runs: the final upload's new data |
//!
//! - **Durable offsets.** The offset is never stored: it is read from the
//!   data file's length, so it is always the number of bytes on disk, also
//!   after `kill -9`. With the default [`SyncPolicy::Always`], an append is
//!   flushed (`fsync`) before its new offset is returned, so it also
//!   survives a power loss.
//! - **Atomic appends.** An append takes a non-blocking exclusive lock on the
//!   data file ([`std::fs::File::try_lock`]; another writer gets
//!   [`StoreError::Busy`](tus_core::store::StoreError::Busy)), then checks
//!   that the offset is the file's length before writing a byte.
//! - **Streaming.** Chunks are written as they arrive, in bounded batches,
//!   with vectored writes; reads stream in 256 KiB chunks.
//! - **All-or-nothing staged appends** (checksums). Under the same lock the
//!   body is streamed to `{id}.stage`; only if it arrived whole and is
//!   accepted is it copied onto `{id}.bin` by the kernel (`copy_file_range`
//!   on Linux). The data file is untouched until then, also across a crash.
//! - **Concatenation** copies the partials' data files, in the kernel, into
//!   `{id}.bin.tmp`, which is flushed and renamed over the final upload's
//!   `{id}.bin` while its lock is held.
//! - **Atomic bookkeeping.** A sidecar is replaced by writing a temporary
//!   file, flushing it, renaming it over the old one and flushing the
//!   directory.
//! - **Cancel-safe.** Dropping an append midway keeps the bytes already
//!   written and releases the lock; dropping a staged append keeps nothing.
//!
//! `updated_at` is the data file's modification time (creation sets it to
//! the creation time), so appends write nothing extra to record it. It comes
//! from the system clock, not from any clock injected into the server.
//! Listing reads the directory for `{id}.info` files.
//!
//! Ids are [`UploadId`](tus_core::store::UploadId)s, whose charset
//! (`A-Z a-z 0-9 - _`) cannot traverse out of the directory.

mod append;
mod blocking;
mod concat;
mod locker;
mod read;
mod sidecar;
mod staged;
mod store;

pub use locker::{DEFAULT_POLL_INTERVAL, FileLocker};
pub use store::{FileStore, SyncPolicy};

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
