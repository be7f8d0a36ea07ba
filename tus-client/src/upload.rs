//! One upload: its settings ([`UploadBuilder`]), and the running task
//! ([`UploadHandle`]) with progress, pause, resume and cancel.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use http::{Method, StatusCode, Uri};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tus_core::client::{ChecksumPlan, RequestKind};
use tus_core::headers::Metadata;

use crate::client::Client;
use crate::driver;
use crate::error::Error;
use crate::resume::{Fingerprint, ResumeStore};
use crate::source::Source;

/// How far an upload got.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes handed to the network (retries count again).
    pub sent: u64,
    /// Bytes the server acknowledged (its offset; summed over parts).
    pub acknowledged: u64,
    /// The length, once known.
    pub total: Option<u64>,
}

/// Something worth telling the user while an upload runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Notice {
    /// A request is about to be sent.
    Request {
        /// What it is for.
        kind: RequestKind,
        /// Its method.
        method: Method,
        /// Its URL.
        url: Uri,
        /// Its body length.
        len: u64,
    },
    /// An answer arrived.
    Answer {
        /// What the request was for.
        kind: RequestKind,
        /// The status.
        status: StatusCode,
    },
    /// The dialect spoken (`tus-1.0.0`, `ietf-9`, `ietf-8`, `ietf-6`),
    /// once discovery chose it.
    Protocol(&'static str),
    /// The checksum every append carries.
    Checksum(Option<ChecksumPlan>),
    /// An upload (or part) was created.
    Created {
        /// Its URL.
        url: Uri,
        /// The part, for a parallel upload.
        part: Option<usize>,
    },
    /// A stored upload (or part) continues.
    Resumed {
        /// Its URL.
        url: Uri,
        /// The server's offset.
        offset: u64,
        /// The part, for a parallel upload.
        part: Option<usize>,
    },
    /// A stored upload URL was dropped.
    Forgotten {
        /// Its URL.
        url: Uri,
        /// Why.
        reason: String,
    },
    /// A request failed and will be retried.
    Retrying {
        /// Failures since the last progress.
        attempt: u32,
        /// The wait before the retry.
        delay: Duration,
        /// What failed.
        reason: String,
    },
    /// The server holds fewer bytes than it acknowledged before.
    OffsetRegressed {
        /// The offset acknowledged before.
        from: u64,
        /// The server's offset now.
        to: u64,
    },
    /// The chunk size changed.
    ChunkResized(u64),
    /// The source's length became known.
    LengthKnown(u64),
}

/// A finished upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    /// Its URL.
    pub url: Uri,
    /// Its length.
    pub length: u64,
}

/// What the caller wants the upload to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Run,
    Pause,
    Cancel { terminate: bool },
}

/// A callback receiving [`Notice`]s.
pub type NoticeSink = Arc<dyn Fn(&Notice) + Send + Sync>;

/// The settings of one upload. Build it with [`Client::upload`].
pub struct UploadBuilder {
    pub(crate) client: Client,
    pub(crate) endpoint: Uri,
    pub(crate) source: Source,
    pub(crate) metadata: Metadata,
    pub(crate) metadata_error: Option<String>,
    pub(crate) parallel: usize,
    pub(crate) min_part: u64,
    pub(crate) store: Option<Arc<dyn ResumeStore>>,
    pub(crate) fingerprint: Option<Fingerprint>,
    pub(crate) notices: Option<NoticeSink>,
}

impl fmt::Debug for UploadBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadBuilder")
            .field("endpoint", &self.endpoint)
            .field("source", &self.source)
            .field("metadata", &self.metadata)
            .field("parallel", &self.parallel)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl UploadBuilder {
    pub(crate) fn new(client: Client, endpoint: Uri, source: Source) -> Self {
        Self {
            client,
            endpoint,
            source,
            metadata: Metadata::new(),
            metadata_error: None,
            parallel: 1,
            min_part: 1 << 20,
            store: None,
            fingerprint: None,
            notices: None,
        }
    }

    /// Sets an `Upload-Metadata` pair (an invalid key fails the upload at start).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        if let Err(error) = self.metadata.set(key, value) {
            self.metadata_error.get_or_insert(error.to_string());
        }
        self
    }

    /// Uploads a file in `parts` partial uploads at once, joined by the
    /// concatenation extension (each part resumable on its own). Streams
    /// and servers without concatenation upload in one part.
    pub fn parallel(mut self, parts: usize) -> Self {
        self.parallel = parts.max(1);
        self
    }

    /// The smallest part of a parallel upload (default 1 MiB).
    pub fn min_part_size(mut self, bytes: u64) -> Self {
        self.min_part = bytes.max(1);
        self
    }

    /// Remembers the upload here, so a later run continues it.
    pub fn resume_store(mut self, store: impl ResumeStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Like [`resume_store`](Self::resume_store), for a shared store.
    pub fn shared_resume_store(mut self, store: Arc<dyn ResumeStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The key of this source in the resume store (default: computed for
    /// files). Streams are remembered only with a key given here; on a
    /// later run the stream must yield the same bytes from its start (those
    /// the server already holds are read and skipped, not sent).
    pub fn fingerprint(mut self, fingerprint: Fingerprint) -> Self {
        self.fingerprint = Some(fingerprint);
        self
    }

    /// Receives a [`Notice`] for each notable step.
    pub fn on_notice(mut self, sink: impl Fn(&Notice) + Send + Sync + 'static) -> Self {
        self.notices = Some(Arc::new(sink));
        self
    }

    /// Starts the upload on the current tokio runtime.
    pub fn start(self) -> UploadHandle {
        let (control, control_rx) = watch::channel(Control::Run);
        let progress = Arc::new(ProgressState::new(self.source.len()));
        let task = tokio::spawn(driver::run(self, progress.clone(), control_rx));
        UploadHandle {
            controller: UploadController {
                control: Arc::new(control),
                progress,
            },
            task,
        }
    }
}

/// Counters behind [`Progress`].
#[derive(Debug)]
pub(crate) struct ProgressState {
    pub(crate) sent: Arc<AtomicU64>,
    acknowledged: Mutex<Vec<u64>>,
    total: AtomicU64,
    updates: watch::Sender<Progress>,
}

const UNKNOWN: u64 = u64::MAX;

impl ProgressState {
    fn new(total: Option<u64>) -> Self {
        let (updates, _) = watch::channel(Progress {
            total,
            ..Progress::default()
        });
        Self {
            sent: Arc::new(AtomicU64::new(0)),
            acknowledged: Mutex::new(vec![0]),
            total: AtomicU64::new(total.unwrap_or(UNKNOWN)),
            updates,
        }
    }

    pub(crate) fn snapshot(&self) -> Progress {
        let total = self.total.load(Ordering::Relaxed);
        Progress {
            sent: self.sent.load(Ordering::Relaxed),
            acknowledged: self
                .acknowledged
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .sum(),
            total: (total != UNKNOWN).then_some(total),
        }
    }

    pub(crate) fn set_parts(&self, parts: usize) {
        *self.acknowledged.lock().unwrap_or_else(PoisonError::into_inner) = vec![0; parts.max(1)];
    }

    pub(crate) fn acknowledged(&self, part: usize, offset: u64) {
        if let Some(slot) = self
            .acknowledged
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(part)
        {
            *slot = offset;
        }
        self.updates.send_replace(self.snapshot());
    }

    pub(crate) fn set_total(&self, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.updates.send_replace(self.snapshot());
    }
}

/// A running upload.
#[derive(Debug)]
pub struct UploadHandle {
    controller: UploadController,
    task: JoinHandle<Result<Uploaded, Error>>,
}

/// Pauses, resumes, cancels and watches a running upload; cheap to clone
/// and usable while another task waits in [`UploadHandle::finish`].
#[derive(Debug, Clone)]
pub struct UploadController {
    control: Arc<watch::Sender<Control>>,
    progress: Arc<ProgressState>,
}

impl UploadController {
    /// How far it got now.
    pub fn progress(&self) -> Progress {
        self.progress.snapshot()
    }

    /// Changes of the acknowledged offset, as they happen.
    pub fn progress_updates(&self) -> watch::Receiver<Progress> {
        self.progress.updates.subscribe()
    }

    /// Stops sending (the request in flight is abandoned; the server keeps
    /// what it received) until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.control.send_if_modified(|control| {
            let changed = *control == Control::Run;
            if changed {
                *control = Control::Pause;
            }
            changed
        });
    }

    /// Continues after [`pause`](Self::pause), from the server's offset.
    pub fn resume(&self) {
        self.control.send_if_modified(|control| {
            let changed = *control == Control::Pause;
            if changed {
                *control = Control::Run;
            }
            changed
        });
    }

    /// Stops for good; the upload stays on the server and in the resume
    /// store, so a later run continues it. [`UploadHandle::finish`] returns
    /// [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.control.send_replace(Control::Cancel { terminate: false });
    }

    /// Stops for good and deletes the upload on the server (termination
    /// extension) and from the resume store.
    pub fn terminate(&self) {
        self.control.send_replace(Control::Cancel { terminate: true });
    }
}

impl UploadHandle {
    /// A controller for this upload.
    pub fn controller(&self) -> UploadController {
        self.controller.clone()
    }

    /// How far it got now.
    pub fn progress(&self) -> Progress {
        self.controller.progress()
    }

    /// See [`UploadController::pause`].
    pub fn pause(&self) {
        self.controller.pause();
    }

    /// See [`UploadController::resume`].
    pub fn resume(&self) {
        self.controller.resume();
    }

    /// See [`UploadController::cancel`].
    pub fn cancel(&self) {
        self.controller.cancel();
    }

    /// See [`UploadController::terminate`].
    pub fn terminate(&self) {
        self.controller.terminate();
    }

    /// Waits for the end.
    pub async fn finish(self) -> Result<Uploaded, Error> {
        match self.task.await {
            Ok(result) => result,
            Err(error) => Err(Error::Config(format!("the upload task failed: {error}"))),
        }
    }
}
