//! [`FileStore`]: the [`Store`] implementation over a directory.

use std::fs::{self, OpenOptions};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::{self, BoxStream};
use tus_core::store::record::UploadRecord;
use tus_core::store::{
    Concatenate, DataStream, DeferLength, Durability, Listing, Store, StoreError, Terminate, Writer,
};
use tus_core::upload::{NewUpload, UploadId, UploadInfo};

use crate::sidecar::{self, SidecarError};
use crate::staged::{self, Paths};
use crate::writer::{Files, FsWriter};
use crate::{append, blocking, concat, finals, read};

/// Suffix of an upload's data file.
pub(crate) const DATA_SUFFIX: &str = ".bin";
/// Suffix of an upload's sidecar.
pub(crate) const INFO_SUFFIX: &str = ".info";
/// Suffix of the file an all-or-nothing write writes before the data file.
const STAGE_SUFFIX: &str = ".stage";
/// Suffix of the list of finals waiting for a partial upload.
const FINALS_SUFFIX: &str = ".finals";

/// When the store asks the operating system to flush writes to disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncPolicy {
    /// Flush the data file at the end of every append (`fsync`), and every
    /// sidecar and directory change, before reporting success. An offset the
    /// store reported survives a crash of the machine.
    #[default]
    Always,
    /// Never flush; the operating system writes back when it likes. A crash
    /// of the process loses nothing, but a crash of the machine may lose
    /// bytes, or even uploads, that were already acknowledged. For tests and
    /// scratch storage.
    Never,
}

/// A [`Store`] keeping each upload as two files in one directory:
/// `{id}.bin` holds the bytes received, `{id}.info` the bookkeeping as JSON.
///
/// The upload's offset is the length of `{id}.bin`, so it always matches
/// the bytes on disk, also after the process was killed mid-write. Appends
/// take an advisory lock on the data file, so two writers (in this process
/// or another sharing the directory) never interleave.
///
/// All file I/O runs on Tokio's blocking thread pool: the store must be used
/// inside a Tokio runtime.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    sync: SyncPolicy,
}

impl FileStore {
    /// A store over `dir`, which is created (with its parents) if missing.
    /// Uploads already in `dir` are picked up as they are.
    pub fn new(dir: impl Into<PathBuf>) -> io::Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        Ok(Self {
            dir,
            sync: SyncPolicy::default(),
        })
    }

    /// Sets when writes are flushed to disk (default: [`SyncPolicy::Always`]).
    #[must_use]
    pub fn with_sync_policy(mut self, sync: SyncPolicy) -> Self {
        self.sync = sync;
        self
    }

    /// The directory holding the uploads.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data file of a finished upload (every byte arrived), or `None`
    /// while it is unfinished; [`StoreError::NotFound`] if there is no such
    /// upload.
    ///
    /// The file still belongs to the store: read, copy or hard-link it, but
    /// do not move, truncate or change it, or HEAD and GET of the upload
    /// fail. To take a finished upload over (for example in a
    /// `post_finish` hook), link or
    /// copy the file where it belongs, then
    /// [`terminate`](Terminate::terminate) the upload: its files are removed
    /// and it answers 404 from then on.
    ///
    /// ```no_run
    /// use tus_core::store::{StoreError, Terminate as _};
    /// use tus_core::upload::UploadId;
    /// use tus_store_fs::FileStore;
    ///
    /// /// Moves a finished upload to `dest` (on the same filesystem) and
    /// /// removes it from the store.
    /// async fn ingest(store: &FileStore, id: &UploadId, dest: &std::path::Path) -> Result<bool, StoreError> {
    ///     let Some(data) = store.finished_data_path(id).await? else {
    ///         return Ok(false); // not finished yet
    ///     };
    ///     // A hard link keeps the bytes when terminate removes the store's name for them.
    ///     std::fs::hard_link(&data, dest).map_err(StoreError::io)?;
    ///     store.terminate(id).await?;
    ///     Ok(true)
    /// }
    /// ```
    pub async fn finished_data_path(&self, id: &UploadId) -> Result<Option<PathBuf>, StoreError> {
        let info = self.info(id).await?;
        Ok(info.is_complete().then(|| self.data_path(id)))
    }

    fn syncs(&self) -> bool {
        self.sync == SyncPolicy::Always
    }

    /// `{dir}/{id}.bin`. Only an [`UploadId`] is ever joined to the directory,
    /// and its charset (`A-Z a-z 0-9 - _`) cannot name another directory.
    fn data_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}{DATA_SUFFIX}"))
    }

    /// `{dir}/{id}.info`; see [`FileStore::data_path`].
    fn info_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}{INFO_SUFFIX}"))
    }

    /// `{dir}/{id}.stage`; see [`FileStore::data_path`].
    fn stage_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}{STAGE_SUFFIX}"))
    }

    /// `{dir}/{id}.finals`; see [`FileStore::data_path`].
    fn finals_path(&self, id: &UploadId) -> PathBuf {
        self.dir.join(format!("{id}{FINALS_SUFFIX}"))
    }
}

impl Store for FileStore {
    /// Creates `{id}.bin` (failing with `AlreadyExists` if it exists) with
    /// its modification time set to the creation time, then writes
    /// `{id}.info` atomically. Until the sidecar is in place the upload does
    /// not exist.
    fn create(&self, upload: NewUpload) -> BoxFuture<'_, Result<UploadInfo, StoreError>> {
        let (data, info, sync) = (self.data_path(&upload.id), self.info_path(&upload.id), self.syncs());
        Box::pin(blocking::run(move || {
            let (info, _file) = create_files(upload, &data, &info, OpenOptions::new().write(true), sync, true)?;
            Ok(info)
        }))
    }

    /// Creates the upload as [`FileStore::create`] does, but opens
    /// `{id}.bin` for appending and locks it before its sidecar is written,
    /// and keeps it open for the writer: one trip to the blocking pool, no
    /// second open, lock or checks. The writer's commit (or abort) stamps
    /// the creation time on the data file, even without bytes; until then
    /// (and if the writer is dropped) its modification time is the clock's.
    /// An all-or-nothing writer is opened afterwards, as by
    /// [`FileStore::writer`].
    fn create_with_writer(
        &self,
        upload: NewUpload,
        durability: Durability,
    ) -> BoxFuture<'_, Result<(UploadInfo, Result<Writer, StoreError>), StoreError>> {
        let (data, info, sync) = (self.data_path(&upload.id), self.info_path(&upload.id), self.syncs());
        let (stage_path, now) = (self.stage_path(&upload.id), upload.created_at);
        Box::pin(async move {
            if durability == Durability::AllOrNothing {
                let info = self.create(upload).await?;
                let writer = self.writer(&info.id, 0, durability, now).await;
                return Ok((info, writer));
            }
            let (info, file) = blocking::run(move || {
                // The writer's commit stamps the creation time instead.
                let (info, file) = create_files(upload, &data, &info, OpenOptions::new().append(true), sync, false)?;
                // Locked before the sidecar made the upload visible, so only
                // a writer opening the file in between can hold the lock.
                Ok((info, append::lock(&file).map(|()| file)))
            })
            .await?;
            let writer = file.map(|data| -> Writer {
                let files = Files { data, stage: None };
                Box::pin(FsWriter::new(files, 0, durability, sync, now, stage_path).fresh())
            });
            Ok((info, writer))
        })
    }

    /// Parses `{id}.info` and takes the offset from the length of `{id}.bin`
    /// and `updated_at` from its modification time.
    fn info<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<UploadInfo, StoreError>> {
        let (data, info, id) = (self.data_path(id), self.info_path(id), id.clone());
        Box::pin(blocking::run(move || {
            let record = sidecar::load(&info)?;
            let metadata = match fs::metadata(&data) {
                Ok(metadata) => metadata,
                Err(error) if error.kind() == io::ErrorKind::NotFound => {
                    return Err(StoreError::backend(SidecarError::MissingData));
                }
                Err(error) => return Err(StoreError::io(error)),
            };
            Ok(record.to_info(&id, metadata.len(), metadata.modified().ok()))
        }))
    }

    /// Locks `{id}.bin` and checks the offset; an all-or-nothing writer
    /// also truncates `{id}.stage`, where its chunks go until the commit.
    fn writer<'a>(
        &'a self,
        id: &'a UploadId,
        offset: u64,
        durability: Durability,
        now: SystemTime,
    ) -> BoxFuture<'a, Result<Writer, StoreError>> {
        let paths = Paths {
            data: self.data_path(id),
            info: self.info_path(id),
            stage: self.stage_path(id),
        };
        let sync = self.syncs();
        Box::pin(async move {
            let stage_path = paths.stage.clone();
            let files = blocking::run(move || match durability {
                Durability::KeepPrefix => Ok(Files {
                    data: append::open(&paths.data, &paths.info, offset)?,
                    stage: None,
                }),
                Durability::AllOrNothing => {
                    let (data, stage) = staged::open(&paths, offset)?;
                    Ok(Files {
                        data,
                        stage: Some(stage),
                    })
                }
            })
            .await?;
            let writer: Writer = Box::pin(FsWriter::new(files, offset, durability, sync, now, stage_path));
            Ok(writer)
        })
    }

    fn read<'a>(&'a self, id: &'a UploadId, range: Range<u64>) -> BoxFuture<'a, Result<DataStream, StoreError>> {
        let (data, info) = (self.data_path(id), self.info_path(id));
        Box::pin(async move {
            let len = range.end.saturating_sub(range.start);
            let file = blocking::run(move || read::open(&data, &info, &range)).await?;
            Ok(read::stream(file, len))
        })
    }

    fn termination(&self) -> Option<&dyn Terminate> {
        Some(self)
    }

    fn deferred_length(&self) -> Option<&dyn DeferLength> {
        Some(self)
    }

    fn concatenation(&self) -> Option<&dyn Concatenate> {
        Some(self)
    }

    fn listing(&self) -> Option<&dyn Listing> {
        Some(self)
    }
}

impl Terminate for FileStore {
    /// Removes `{id}.info` first (the upload is gone from then on), then
    /// `{id}.bin` and any stage, temporary or waiting-finals file.
    fn terminate<'a>(&'a self, id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        let (info, sync) = (self.info_path(id), self.syncs());
        let rest = [
            self.data_path(id),
            self.stage_path(id),
            concat::temp_path(&self.dir, id),
            self.finals_path(id),
        ];
        let dir = self.dir.clone();
        Box::pin(blocking::run(move || {
            match fs::remove_file(&info) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => return Err(StoreError::NotFound),
                Err(error) => return Err(StoreError::io(error)),
            }
            for path in rest {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                    Err(error) => return Err(StoreError::io(error)),
                }
            }
            if sync {
                sidecar::sync_dir(&dir).map_err(StoreError::io)?;
            }
            Ok(())
        }))
    }
}

impl DeferLength for FileStore {
    /// Rewrites `{id}.info` atomically while holding the data file's lock, so
    /// it never races a writer or another declaration.
    fn declare_length<'a>(&'a self, id: &'a UploadId, length: u64) -> BoxFuture<'a, Result<(), StoreError>> {
        let (data, info, sync) = (self.data_path(id), self.info_path(id), self.syncs());
        Box::pin(blocking::run(move || {
            let (_locked, _) = append::open_locked(OpenOptions::new().write(true), &data, &info)?;
            let mut record = sidecar::load(&info)?;
            record.declare_length(length)?;
            let json = sidecar::to_json(&record).map_err(StoreError::backend)?;
            sidecar::save(&info, &json, sync)
        }))
    }
}

impl Concatenate for FileStore {
    /// Lets the kernel copy the partials' data files into a temporary file,
    /// stamped `now`, which is renamed over `{id}.bin` while its lock is held.
    fn concatenate<'a>(
        &'a self,
        id: &'a UploadId,
        partials: &'a [UploadId],
        now: SystemTime,
    ) -> BoxFuture<'a, Result<u64, StoreError>> {
        let (dir, id, partials, sync) = (self.dir.clone(), id.clone(), partials.to_vec(), self.syncs());
        Box::pin(blocking::run(move || {
            concat::concatenate(&dir, &id, &partials, sync, now)
        }))
    }

    /// Appends the final's id to `{partial}.finals`.
    fn watch<'a>(&'a self, partial: &'a UploadId, final_id: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        let (path, final_id, sync) = (self.finals_path(partial), final_id.clone(), self.syncs());
        Box::pin(blocking::run(move || finals::add(&path, &final_id, sync)))
    }

    /// Reads `{partial}.finals`.
    fn waiting_finals<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<Vec<UploadId>, StoreError>> {
        let path = self.finals_path(partial);
        Box::pin(blocking::run(move || finals::read(&path)))
    }

    /// Removes `{partial}.finals`.
    fn unwatch<'a>(&'a self, partial: &'a UploadId) -> BoxFuture<'a, Result<(), StoreError>> {
        let path = self.finals_path(partial);
        Box::pin(blocking::run(move || match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(StoreError::io(error)),
        }))
    }
}

impl Listing for FileStore {
    /// Reads the directory once, on the blocking pool, for every `{id}.info`.
    fn list(&self) -> BoxStream<'_, Result<UploadId, StoreError>> {
        let dir = self.dir.clone();
        stream::once(blocking::run(move || list(&dir)))
            .flat_map(|listed| {
                let items: Vec<Result<UploadId, StoreError>> = match listed {
                    Ok(ids) => ids.into_iter().map(Ok).collect(),
                    Err(error) => vec![Err(error)],
                };
                stream::iter(items)
            })
            .boxed()
    }
}

/// The ids of every upload in `dir`: every `{id}.info` whose name holds a
/// valid id. Temporary and stage files never end in `.info`. Blocking.
fn list(dir: &Path) -> Result<Vec<UploadId>, StoreError> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir).map_err(StoreError::io)? {
        let name = entry.map_err(StoreError::io)?.file_name();
        let id = name
            .to_str()
            .and_then(|name| name.strip_suffix(INFO_SUFFIX))
            .and_then(|stem| UploadId::parse(stem).ok());
        if let Some(id) = id {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Creates `{id}.bin` with `options` (failing with `AlreadyExists` if it
/// exists), with `stamp` sets its modification time to the creation time,
/// then writes `{id}.info` atomically (removing the data file again if
/// that fails). Returns the upload and the open data file. Blocking.
fn create_files(
    upload: NewUpload,
    data: &Path,
    info: &Path,
    options: &OpenOptions,
    sync: bool,
    stamp: bool,
) -> Result<(UploadInfo, fs::File), StoreError> {
    let json = sidecar::to_json(&UploadRecord::new(&upload)).map_err(StoreError::backend)?;
    let file = match options.clone().create_new(true).open(data) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return Err(StoreError::AlreadyExists),
        Err(error) => return Err(StoreError::io(error)),
    };
    // `updated_at` is the data file's modification time: the creation
    // time until data is written.
    if stamp && let Err(error) = file.set_modified(upload.created_at) {
        tracing::debug!(path = %data.display(), %error, "could not set the data file's modification time");
    }
    if let Err(error) = sidecar::save(info, &json, sync) {
        drop(file);
        if let Err(cleanup) = fs::remove_file(data) {
            tracing::warn!(path = %data.display(), %cleanup, "could not remove data file of a failed create");
        }
        return Err(error);
    }
    Ok((UploadInfo::new(upload), file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_strings_never_become_ids() {
        let attempts = [
            "..",
            ".",
            "../etc/passwd",
            "..\\windows",
            "/etc/passwd",
            "a/../../b",
            "a/b",
            "a\\b",
            "a.info",
            "a.bin",
            "%2e%2e",
            "a\0b",
            "",
        ];
        for attempt in attempts {
            assert!(UploadId::parse(attempt).is_err(), "{attempt:?} parsed as an id");
        }
    }

    #[test]
    fn upload_files_are_direct_children_of_the_directory() {
        let dir = Path::new("/srv/uploads");
        let store = FileStore {
            dir: dir.to_owned(),
            sync: SyncPolicy::Always,
        };
        for text in ["a", "A-b_9", "-", "_", &"z".repeat(UploadId::MAX_LEN)] {
            let id = UploadId::parse(text).expect("valid id");
            let data = store.data_path(&id);
            let info = store.info_path(&id);
            assert_eq!(data.parent(), Some(dir));
            assert_eq!(info.parent(), Some(dir));
            assert_eq!(
                data.file_name().and_then(|n| n.to_str()),
                Some(format!("{text}.bin").as_str())
            );
            assert_eq!(
                info.file_name().and_then(|n| n.to_str()),
                Some(format!("{text}.info").as_str())
            );
        }
    }

    #[test]
    fn offers_every_capability() {
        let store = FileStore {
            dir: PathBuf::from("unused"),
            sync: SyncPolicy::Never,
        };
        assert!(store.termination().is_some());
        assert!(store.deferred_length().is_some());
        assert!(store.concatenation().is_some());
        assert!(store.listing().is_some());
    }
}
