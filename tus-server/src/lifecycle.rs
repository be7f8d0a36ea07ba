//! Where the driver calls the [`Hooks`], emits [`Event`]s and counts
//! metrics: one method per lifecycle step, so the request paths stay one
//! line per step. Owns the hooks, the event broadcaster and the metrics.

use std::sync::Arc;

use futures::future::BoxFuture;
use http::Method;
use http::request::Parts;
use tus_core::headers::Metadata;
use tus_core::server::TusError;
use tus_core::server::body::StopReason;
use tus_core::server::event::{Event, Progress};
use tus_core::upload::{UploadId, UploadInfo, UploadSize};

use super::events::{Broadcaster, Events};
use super::hooks::{Access, FinishResponse, HookContext, Hooks, PreCreate, Rejection};
use super::ids::IdGenerator;
use super::ingest::Report;

/// A hook's refusal, as the answer to the request it refused.
pub(crate) fn rejected(rejection: Rejection) -> TusError {
    if rejection.hides_upload() {
        return TusError::NotFound;
    }
    let (status, message) = rejection.into_parts();
    TusError::Rejected { status, message }
}

/// Hooks, events and metrics.
pub(crate) struct Lifecycle {
    hooks: Option<Arc<dyn Hooks>>,
    events: Broadcaster,
    #[cfg(feature = "metrics")]
    pub(crate) metrics: Arc<super::metrics::Metrics>,
}

impl std::fmt::Debug for Lifecycle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lifecycle")
            .field("hooks", &self.hooks.is_some())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl Lifecycle {
    pub(crate) fn new(hooks: Option<Arc<dyn Hooks>>) -> Self {
        Self {
            hooks,
            events: Broadcaster::default(),
            #[cfg(feature = "metrics")]
            metrics: Arc::default(),
        }
    }

    fn hooks(&self) -> Option<&dyn Hooks> {
        self.hooks.as_deref()
    }

    /// Whether hooks are installed (requests then carry a context, and
    /// stored uploads are authorized before they are locked).
    pub(crate) fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    /// Whether anything observes body progress.
    pub(crate) fn observes_progress(&self) -> bool {
        self.hooks.is_some() || self.events.is_active()
    }

    /// A stream of [`Event`]s with a queue of `capacity`.
    pub(crate) fn subscribe(&self, capacity: usize) -> Events {
        self.events.subscribe(capacity)
    }

    fn emit(&self, event: impl FnOnce() -> Event) {
        if self.events.is_active() {
            self.events.emit(&event());
        }
    }

    /// The hook context of a request: a copy of its head when hooks are
    /// installed, an empty one otherwise (nothing reads it then).
    pub(crate) fn context(&self, parts: &Parts) -> Arc<HookContext> {
        if self.hooks.is_some() {
            Arc::new(HookContext::new(parts))
        } else {
            Arc::new(HookContext::empty())
        }
    }

    /// Counts a request.
    pub(crate) fn request(&self, method: &Method) {
        #[cfg(feature = "metrics")]
        self.metrics.request(method);
        #[cfg(not(feature = "metrics"))]
        let _ = method;
    }

    /// Counts an error answer.
    pub(crate) fn error(&self, error: &TusError) {
        self.error_code(error.code());
    }

    /// Counts an error answer by its stable code (for either dialect).
    pub(crate) fn error_code(&self, code: &'static str) {
        #[cfg(feature = "metrics")]
        self.metrics.error(code);
        #[cfg(not(feature = "metrics"))]
        let _ = code;
    }

    /// Counts body bytes handed to the store.
    pub(crate) fn received(&self, bytes: u64) {
        #[cfg(feature = "metrics")]
        self.metrics.bytes_received(bytes);
        #[cfg(not(feature = "metrics"))]
        let _ = bytes;
    }

    /// Runs `authorize`; `Err` means the request must not touch the upload.
    pub(crate) async fn authorize(&self, cx: &HookContext, access: Access<'_>) -> Result<(), TusError> {
        match self.hooks() {
            Some(hooks) => hooks.authorize(cx, access).await.map_err(rejected),
            None => Ok(()),
        }
    }

    /// Runs `pre_create` and returns the id (the hook's, or a generated
    /// one) and metadata to create the upload with; `Err`: create nothing.
    pub(crate) async fn pre_create(
        &self,
        cx: &HookContext,
        ids: &dyn IdGenerator,
        metadata: Metadata,
        size: UploadSize,
        is_final: bool,
    ) -> Result<(UploadId, Metadata), TusError> {
        let mut upload = PreCreate {
            id: None,
            metadata,
            size,
            is_final,
        };
        if let Some(hooks) = self.hooks() {
            hooks.pre_create(cx, &mut upload).await.map_err(rejected)?;
        }
        let id = match upload.id {
            Some(id) => id,
            None => ids.generate().map_err(TusError::IdGeneration)?,
        };
        tracing::Span::current().record("id", id.as_str());
        Ok((id, upload.metadata))
    }

    /// An upload was created.
    pub(crate) async fn created(&self, cx: &HookContext, info: &UploadInfo) {
        #[cfg(feature = "metrics")]
        self.metrics.upload_created();
        if let Some(hooks) = self.hooks() {
            hooks.post_create(cx, info).await;
        }
        self.emit(|| Event::Created(info.clone()));
    }

    /// Upload `info` just received its last byte: runs `pre_finish` and
    /// `post_finish` (exactly once per upload: callers call this only on
    /// the transition to complete) and returns the headers to add.
    pub(crate) async fn finished(&self, cx: &HookContext, info: UploadInfo) -> Result<FinishResponse, TusError> {
        #[cfg(feature = "metrics")]
        self.metrics.upload_finished();
        tracing::info!(id = %info.id, size = info.offset, kind = ?info.kind, "upload finished");
        let mut response = FinishResponse::default();
        let verdict = match self.hooks() {
            Some(hooks) => {
                let verdict = hooks.pre_finish(cx, &info, &mut response).await;
                hooks.post_finish(cx, &info).await;
                verdict.map_err(rejected)
            }
            None => Ok(()),
        };
        self.emit(|| Event::Finished(info));
        verdict.map(|()| response)
    }

    /// Runs `pre_terminate`; `Err` means the upload must stay.
    pub(crate) async fn pre_terminate(&self, cx: &HookContext, info: &UploadInfo) -> Result<(), TusError> {
        match self.hooks() {
            Some(hooks) => hooks.pre_terminate(cx, info).await.map_err(rejected),
            None => Ok(()),
        }
    }

    /// An upload was terminated.
    pub(crate) async fn terminated(&self, cx: &HookContext, id: &UploadId) {
        #[cfg(feature = "metrics")]
        self.metrics.upload_terminated();
        if let Some(hooks) = self.hooks() {
            hooks.post_terminate(cx, id).await;
        }
        self.emit(|| Event::Terminated(id.clone()));
    }

    /// A progress reporter for a body written to `id` from `offset`, when
    /// anything observes progress.
    pub(crate) fn reporter<'a>(
        &'a self,
        cx: &'a HookContext,
        id: &'a UploadId,
        offset: u64,
        size: UploadSize,
    ) -> Option<ProgressReporter<'a>> {
        self.observes_progress().then_some(ProgressReporter {
            lifecycle: self,
            cx,
            id,
            start: offset,
            size,
            reported: 0,
        })
    }
}

/// Reports a body's progress to `post_receive` and as [`Event::Progress`].
pub(crate) struct ProgressReporter<'a> {
    lifecycle: &'a Lifecycle,
    cx: &'a HookContext,
    id: &'a UploadId,
    start: u64,
    size: UploadSize,
    reported: u64,
}

impl Report for ProgressReporter<'_> {
    fn report(&mut self, received: u64) -> BoxFuture<'_, Result<(), StopReason>> {
        Box::pin(async move {
            if received == self.reported {
                return Ok(());
            }
            self.reported = received;
            let progress = Progress {
                id: self.id.clone(),
                offset: self.start + received,
                size: self.size,
            };
            let verdict = match self.lifecycle.hooks() {
                Some(hooks) => hooks.post_receive(self.cx, &progress).await,
                None => Ok(()),
            };
            self.lifecycle.emit(|| Event::Progress(progress));
            verdict.map_err(|rejection| {
                tracing::info!(id = %self.id, %rejection, "upload stopped by a post-receive hook");
                let (status, message) = rejection.into_parts();
                StopReason::Refused { status, message }
            })
        })
    }
}

/// Adds a finish hook's headers to an answer, replacing same-named ones.
pub(crate) fn apply(finish: &FinishResponse, headers: &mut http::HeaderMap) {
    for name in finish.headers.keys() {
        headers.remove(name);
    }
    for (name, value) in &finish.headers {
        headers.append(name, value.clone());
    }
}
