//! Starting the writeback of freshly written bytes early, so that the
//! flush of a commit has only the last batch left to wait for.
//!
//! Without it the kernel holds a PATCH's bytes in the page cache until the
//! commit's `fdatasync`, which then writes the whole body after the last
//! byte arrived: a large PATCH with `fsync` costs receive time *plus* disk
//! time. Started after every batch, the disk writes run while the next
//! batch arrives, and a PATCH costs about the slower of the two.
//!
//! On Linux this is `posix_fadvise(POSIX_FADV_DONTNEED)` on the batch's
//! range, which starts the writeback of its dirty pages without waiting
//! (what `sync_file_range(SYNC_FILE_RANGE_WRITE)` does; that call has no
//! safe wrapper in `rustix`, and this workspace forbids `unsafe`). Pages
//! under writeback stay cached; only pages already clean by then are
//! dropped, which a later read finds on disk. It is a hint: durability is
//! still the commit's `fdatasync`, and a failure is only logged. On tmpfs
//! it does nothing; elsewhere than Linux this module does nothing.

use std::fs::File;

/// Starts writing `len` bytes of `file` from `offset` to the disk, without
/// waiting for them. Blocking (briefly: it queues the writes).
#[cfg(target_os = "linux")]
pub(crate) fn start(file: &File, offset: u64, len: u64) {
    let Some(len) = std::num::NonZeroU64::new(len) else {
        return;
    };
    if let Err(error) = rustix::fs::fadvise(file, offset, Some(len), rustix::fs::Advice::DontNeed) {
        tracing::debug!(%error, "could not start the writeback of a written batch");
    }
}

/// Does nothing: no portable way to start a writeback early.
#[cfg(not(target_os = "linux"))]
pub(crate) fn start(_file: &File, _offset: u64, _len: u64) {}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn starting_the_writeback_leaves_the_bytes_as_written() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data");
        let mut file = File::create(&path).expect("create");
        let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
        for (index, chunk) in bytes.chunks(1 << 20).enumerate() {
            file.write_all(chunk).expect("write");
            start(&file, (index as u64) << 20, chunk.len() as u64);
        }
        start(&file, 0, 0);
        start(&file, 10 << 20, 1 << 20);
        file.sync_data().expect("sync");
        assert_eq!(std::fs::read(&path).expect("read"), bytes);
    }
}
