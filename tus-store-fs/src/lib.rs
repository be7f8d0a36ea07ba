//! # tus-store-fs
//!
//! A filesystem [`Store`](tus_core::store::Store) for tus servers: each
//! upload is a data file and a JSON sidecar in one directory. It depends on
//! the pure `tus-core` only; serve it with `tus-rs-server` (`tus_server`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_server::TusHandler;
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
//! | `{id}.stage` | while an all-or-nothing write runs: its body, not yet kept |
//! | `{id}.bin.tmp` | while a concatenation runs: the final upload's new data |
//! | `{id}.finals` | for a partial upload: the final uploads waiting for it |
//!
//! - **Durable offsets.** The offset is never stored: it is read from the
//!   data file's length, so it is always the number of bytes on disk, also
//!   after `kill -9`. With the default [`SyncPolicy::Always`], a commit is
//!   flushed (`fsync`) before its new offset is returned, so it also
//!   survives a power loss.
//! - **Atomic writer open.** A writer takes a non-blocking exclusive lock on
//!   the data file ([`std::fs::File::try_lock`]; another writer, in this
//!   process or another sharing the directory, gets
//!   [`StoreError::Busy`](tus_core::store::StoreError::Busy)), then checks
//!   that the offset is the file's length before writing a byte.
//! - **Streaming.** Chunks are written in bounded batches with one vectored
//!   write each, while the next batch fills; whenever the body has nothing
//!   ready the batch is written at once, and the commit writes the last
//!   batch and flushes in one blocking call. With `fsync` on Linux, each
//!   batch's writeback to disk starts as soon as it is written, so the
//!   commit's flush waits for little more than the last batch. Reads
//!   stream in 256 KiB chunks.
//! - **Creation with a body.** `create_with_writer` creates `{id}.bin`,
//!   locks it, writes the sidecar and hands the open file to the writer in
//!   one blocking call.
//! - **All-or-nothing writes** (checksums). Under the same lock the body is
//!   written to `{id}.stage`; only on commit is it copied onto `{id}.bin` by
//!   the kernel (`copy_file_range` on Linux). The data file is untouched
//!   until then, also across a crash.
//! - **Concatenation** copies the partials' data files, in the kernel, into
//!   `{id}.bin.tmp`, which is flushed and renamed over the final upload's
//!   `{id}.bin` while its lock is held.
//! - **Atomic bookkeeping.** A sidecar is replaced by writing a temporary
//!   file, flushing it, renaming it over the old one and flushing the
//!   directory. Creation fails with `AlreadyExists` if `{id}.bin` exists
//!   (`O_EXCL`), so two creators never share an id.
//! - **Cancel-safe.** Dropping a keep-prefix writer keeps the bytes already
//!   written and releases the lock; dropping an all-or-nothing one keeps
//!   nothing.
//!
//! `updated_at` is the data file's modification time, set to the injected
//! `now` of the write that last changed the data (creation sets the
//! creation time), so writes record it without touching the sidecar.
//! Listing reads the directory for `{id}.info` files.
//!
//! Ids are [`UploadId`](tus_core::upload::UploadId)s, whose charset
//! (`A-Z a-z 0-9 - _`) cannot traverse out of the directory.

mod append;
mod blocking;
mod concat;
mod finals;
mod locker;
mod read;
mod sidecar;
mod staged;
mod store;
mod writeback;
mod writer;

pub use locker::{DEFAULT_POLL_INTERVAL, FileLocker};
pub use store::{FileStore, SyncPolicy};

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
