//! # tus-store-s3
//!
//! An S3 [`Store`](tus_core::store::Store) for tus servers: each upload is
//! one S3 multipart upload, streamed into with bounded memory, whatever
//! chunk sizes the client sends. It depends on the pure `tus-core` only;
//! serve it with `tus-rs-server` (`tus_server`).
//!
//! ```no_run
//! use std::sync::Arc;
//! use tus_server::TusHandler;
//! use tus_store_s3::{S3Options, S3Store};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let mut options = S3Options::new("uploads");
//! options.endpoint = Some("http://127.0.0.1:3900".to_owned());
//! options.path_style = true;
//! let store = S3Store::builder(options.client().await, &options.bucket)
//!     .prefix("tus/")
//!     .build();
//! let handler = TusHandler::builder(Arc::new(store)).base_path("/files/").build();
//! # let _ = handler;
//! # Ok(())
//! # }
//! ```
//!
//! ## Layout
//!
//! | key | holds |
//! |---|---|
//! | `{prefix}{id}` | the multipart upload; once complete, the upload's bytes |
//! | `{prefix}{id}.info` | size, metadata (byte-exact), concatenation role, creation time, multipart upload id, part size (JSON) |
//! | `{prefix}{id}.parts.{n}` | empty commit marker: parts `1..=n` are committed (the highest counts) |
//! | `{prefix}{id}.seg.{start}` | a segment: the bytes one append wrote after the committed parts, from offset `start` (20 digits); written once, never rewritten |
//! | `{prefix}{id}.finals/{final}` | for a partial upload: an empty marker per final upload waiting for it |
//!
//! Backend bookkeeping lives in these objects only; none of it appears in
//! the user's `Upload-Metadata`. Uploads written by earlier versions (an
//! incomplete part `{prefix}{id}.part` rewritten by every append) are read
//! and continued: the old part count becomes a marker, the old bytes a
//! segment, removed at the next part.
//!
//! ## What a PATCH costs
//!
//! A PATCH is one ListObjectsV2 of `{prefix}{id}` (its data object and
//! the objects under `{prefix}{id}.`), made by the server's `info()` before
//! the write, which confirms the state cached from the last request (the
//! writer opened right after reuses it), and one PutObject of its bytes as
//! a segment. A short PATCH that fills a part uploads the part (from the
//! tail's bytes kept in memory) and its marker, and deletes the segments it
//! replaces with one DeleteObjects, before it is answered. A store that is
//! the [sole writer](S3StoreBuilder::sole_writer) of its prefix answers
//! sooner: it writes the PATCH's bytes as two segments split at the part
//! boundary, answers, and commits the part in the background; its next
//! write to the upload waits for that commit. (With several instances
//! another one's write could start from the segments the commit deletes.)
//! A large PATCH streams: its parts upload while it arrives, at most
//! `parts_in_flight` at once, are committed before the answer, and the
//! rest becomes a segment. Only when the listing shows a change (a
//! restart, another server instance) is the state recovered again:
//! GetObject of the record, ListParts, and a HEAD for the time. The sole
//! writer also skips the listing while it has the state cached: a small
//! PATCH is then one PutObject.
//!
//! ## Guarantees
//! - **Any chunk size.** Parts are cut from the byte stream, not from
//!   requests: every part but the last has exactly the planned size
//!   ([`part_size`], at least 5 MiB, at most 10,000 parts). A shorter tail
//!   waits in segments, so a client sending 64 KiB chunks works.
//! - **Unique ids.** The info object is written with `If-None-Match: *`
//!   after a HEAD, so an existing upload is never overwritten
//!   (`AlreadyExists`); the condition makes it atomic on servers that honour
//!   it (AWS, MinIO, R2; Garage 2.5 ignores it).
//! - **Durable offsets.** A commit returns only after its bytes are in S3:
//!   its segment written, and any part it filled uploaded with its marker.
//!   After a restart the offset is `P x part size` (`P` the highest marker,
//!   its parts checked with ListParts) plus the segments that follow each
//!   other from there. A segment that does not follow (its append failed
//!   before its part's marker landed) or lies below (its part committed,
//!   the delete did not happen) is a leftover, deleted before the next
//!   write; parts past the marker are ignored and later overwritten.
//! - **Another instance's writes are seen.** Each use of a cached state is
//!   confirmed by one listing of the upload's objects (keys, sizes, ETags);
//!   any difference recovers the state from the bucket. (Not with
//!   [`sole_writer`](S3StoreBuilder::sole_writer), which declares that no
//!   other instance writes.)
//! - **Keep what arrived.** When the client goes away, the bytes received
//!   are committed. During a long body the part count is checkpointed as
//!   parts finish, so a crash loses at most the parts in flight.
//! - **Bounded memory.** The body is cut into parts as it arrives; part
//!   uploads overlap with receiving, at most `parts_in_flight` per append,
//!   and every part buffer is leased from one pool of `max_buffered_parts`
//!   buffers. Up to half of them keep the tails of open uploads between
//!   requests (the least recently used give theirs up; the next part is
//!   then read back from the segments), so memory is about part size x
//!   buffers, whatever the upload size ([`S3Store::buffer_stats`] reports
//!   the peak).
//! - **All-or-nothing writes** (checksums) write their segment only when
//!   the server commits the writer, and their parts' marker with it; an
//!   abort or a crash leaves nothing committed (parts uploaded are
//!   overwritten later).
//! - **Bounded calls.** Every call has a timeout ([`S3Timeouts`]): a stuck
//!   S3 server fails the append as unavailable instead of holding the
//!   upload's lock.
//! - **Unsigned bodies.** PutObject and UploadPart bodies are sent as
//!   `UNSIGNED-PAYLOAD`; the SDK's CRC32 checksum header (signed) still
//!   lets S3 reject a corrupted body.
//! - **Injected time.** Each segment and marker records the writer's
//!   `now` in its metadata, so expiry follows the server's clock.
//! - **Completion** with CompleteMultipartUpload when the offset reaches the
//!   size (a zero-byte upload gets one empty part). **Termination** deletes
//!   the info object, aborts the multipart upload and deletes the rest.
//! - **Concatenation** copies partials with UploadPartCopy when every
//!   partial but the last holds at least 5 MiB, and streams them otherwise.
//! - **Reads** are ranged GETs of the completed object. S3 cannot read the
//!   parts of an unfinished multipart upload; servers read complete uploads
//!   only.
//! - **Errors**: a server that cannot be reached, times out or answers 5xx
//!   is [`StoreError::Unavailable`](tus_core::store::StoreError::Unavailable)
//!   (clients retry it).
//! - Writers on one upload are exclusive within a process
//!   ([`StoreError::Busy`](tus_core::store::StoreError::Busy)); several
//!   server instances on one bucket need a shared locker (`tus-lock-redis`).

mod append;
mod bucket;
mod budget;
mod cache;
mod concat;
mod layout;
mod options;
mod plan;
mod read;
mod record;
mod state;
mod store;
mod timeouts;
mod writer;

pub use budget::BufferStats;
pub use options::S3Options;
pub use plan::{
    DEFAULT_PART_SIZE, MAX_OBJECT_SIZE, MAX_PART_SIZE, MAX_PARTS, MIB, MIN_PART_SIZE, PartSizeError, deferred_limit,
    part_count, part_size,
};
pub use store::{S3Store, S3StoreBuilder};
pub use timeouts::S3Timeouts;

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
