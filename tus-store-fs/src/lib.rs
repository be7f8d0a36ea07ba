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
//! | `{id}.bin` | the bytes received so far; its length **is** the offset |
//! | `{id}.info` | size, metadata (byte-exact), concatenation role, creation time |
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
//! - **Atomic bookkeeping.** A sidecar is replaced by writing a temporary
//!   file, flushing it, renaming it over the old one and flushing the
//!   directory.
//! - **Cancel-safe.** Dropping an append midway keeps the bytes already
//!   written and releases the lock.
//!
//! Ids are [`UploadId`](tus_core::store::UploadId)s, whose charset
//! (`A-Z a-z 0-9 - _`) cannot traverse out of the directory.
//!
//! Concatenation is not supported yet.

mod append;
mod blocking;
mod read;
mod sidecar;
mod store;

pub use store::{FileStore, SyncPolicy};
