//! Where the driver calls the [`Hooks`], emits [`Event`]s and counts
//! metrics: one method per lifecycle step, so the request paths in
//! `handler.rs` stay one line per step.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt as _;
use http::request::Parts;

use super::events::{Event, Events};
use super::handler::TusHandler;
use super::hooks::{FinishResponse, HookContext, Hooks, PreCreate, Progress, Rejection};
use crate::proto::error::TusError;
use crate::proto::headers::Metadata;
use crate::proto::request::TusRequest;
use crate::store::{DataStream, UploadId, UploadInfo, UploadSize};

impl From<Rejection> for TusError {
    fn from(rejection: Rejection) -> Self {
        TusError::Rejected {
            status: rejection.status(),
            message: rejection.message().to_owned(),
        }
    }
}

/// The hook context of a request: a copy of its head when hooks are
/// installed, an empty one otherwise (nothing reads it then).
pub(super) fn context(handler: &TusHandler, parts: &Parts) -> Arc<HookContext> {
    if handler.inner.hooks.is_some() {
        Arc::new(HookContext::new(parts))
    } else {
        Arc::new(HookContext::new(&http::Request::new(()).into_parts().0))
    }
}

/// Records the upload id a request targets in the current request span.
pub(super) fn record_id(request: &TusRequest) {
    let id = match request {
        TusRequest::Head(id) | TusRequest::Terminate(id) => id,
        TusRequest::Append(append) => &append.id,
        TusRequest::Download(download) => &download.id,
        TusRequest::Options | TusRequest::Create(_) => return,
    };
    tracing::Span::current().record("id", id.as_str());
}

/// A hook's refusal to let a body go on, read after the store returned.
#[derive(Debug, Clone, Default)]
pub(super) struct StopSlot(Arc<Mutex<Option<Rejection>>>);

impl StopSlot {
    fn set(&self, rejection: Rejection) {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(rejection);
    }

    /// The rejection that stopped the body, if a hook stopped it.
    pub(super) fn take(&self) -> Option<Rejection> {
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take()
    }
}

impl TusHandler {
    /// A stream of [`Event`]s for an observer, with a queue of `capacity`
    /// events: a subscriber that falls behind loses events instead of
    /// slowing uploads down (see [`Events::dropped`]).
    pub fn subscribe(&self, capacity: usize) -> Events {
        self.inner.events.subscribe(capacity)
    }

    fn hooks(&self) -> Option<&dyn Hooks> {
        self.inner.hooks.as_deref()
    }

    fn emit(&self, event: impl FnOnce() -> Event) {
        if self.inner.events.is_active() {
            self.inner.events.emit(&event());
        }
    }

    /// Runs `pre_create` and returns the id (the hook's, or a generated
    /// one) and metadata to create the upload with; `Err`: create nothing.
    pub(super) async fn pre_create(
        &self,
        cx: &HookContext,
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
            hooks.pre_create(cx, &mut upload).await?;
        }
        let id = match upload.id {
            Some(id) => id,
            None => self
                .inner
                .ids
                .generate()
                .map_err(|error| TusError::IdGeneration(Box::new(error)))?,
        };
        tracing::Span::current().record("id", id.as_str());
        Ok((id, upload.metadata))
    }

    /// An upload was created.
    pub(super) async fn created(&self, cx: &HookContext, info: &UploadInfo) {
        #[cfg(feature = "metrics")]
        self.inner.metrics.upload_created();
        if let Some(hooks) = self.hooks() {
            hooks.post_create(cx, info).await;
        }
        self.emit(|| Event::Created(info.clone()));
    }

    /// Upload `id` just received its last byte: runs `pre_finish` and
    /// `post_finish` (exactly once per upload: callers call this only on
    /// the transition to complete) and returns the headers to add.
    pub(super) async fn finished(&self, cx: &HookContext, id: &UploadId) -> Result<FinishResponse, TusError> {
        #[cfg(feature = "metrics")]
        self.inner.metrics.upload_finished();
        let mut response = FinishResponse::default();
        let hooks = self.hooks();
        if hooks.is_none() && !self.inner.events.is_active() {
            return Ok(response);
        }
        let info = self.inner.store.info(id).await?;
        let verdict = match hooks {
            Some(hooks) => hooks.pre_finish(cx, &info, &mut response).await,
            None => Ok(()),
        };
        if let Some(hooks) = hooks {
            hooks.post_finish(cx, &info).await;
        }
        self.emit(|| Event::Finished(info));
        verdict?;
        Ok(response)
    }

    /// After a write that failed, the upload may still have received its
    /// last byte (a body cut or too long after the length was reached):
    /// finish it then, so `post_finish` is never missed.
    pub(super) async fn finish_after_failed_write(&self, cx: &HookContext, id: &UploadId, was_complete: bool) {
        if was_complete {
            return;
        }
        if let Ok(info) = self.inner.store.info(id).await
            && info.is_complete()
            && let Err(error) = self.finished(cx, id).await
        {
            tracing::debug!(%id, code = error.code(), "finish hook refused after a failed write");
        }
    }

    /// Runs `pre_terminate`; `Err` means the upload must stay.
    pub(super) async fn pre_terminate(&self, cx: &HookContext, id: &UploadId) -> Result<(), TusError> {
        if let Some(hooks) = self.hooks() {
            let info = self.inner.store.info(id).await?;
            hooks.pre_terminate(cx, &info).await?;
        }
        Ok(())
    }

    /// An upload was terminated.
    pub(super) async fn terminated(&self, cx: &HookContext, id: &UploadId) {
        #[cfg(feature = "metrics")]
        self.inner.metrics.upload_terminated();
        if let Some(hooks) = self.hooks() {
            hooks.post_terminate(cx, id).await;
        }
        self.emit(|| Event::Terminated(id.clone()));
    }

    /// Wraps the stream a store consumes so that `post_receive` and
    /// progress events see the bytes as the store takes them, and a hook can
    /// stop the body. The returned slot holds the rejection that stopped it.
    pub(super) fn observe(
        &self,
        cx: &Arc<HookContext>,
        stream: DataStream,
        id: &UploadId,
        offset: u64,
        size: UploadSize,
    ) -> (DataStream, StopSlot) {
        let stop = StopSlot::default();
        let observed = Observed {
            handler: self.clone(),
            cx: Arc::clone(cx),
            stream,
            id: id.clone(),
            size,
            offset,
            reported: offset,
            last_report: self.now(),
            stop: stop.clone(),
            done: false,
        };
        let stream = futures::stream::unfold(observed, |mut state| async move {
            if state.done {
                return None;
            }
            // The store asks for more: it has taken every byte handed so far.
            if state.due()
                && let Err(rejection) = state.report().await
            {
                tracing::info!(id = %state.id, offset = state.offset, %rejection, "upload stopped by a post-receive hook");
                state.stop.set(rejection);
                state.done = true;
                return Some((Err(io::Error::other("upload stopped by a hook")), state));
            }
            match state.stream.next().await {
                Some(Ok(data)) => {
                    state.offset += data.len() as u64;
                    #[cfg(feature = "metrics")]
                    state.handler.inner.metrics.bytes_received(data.len() as u64);
                    Some((Ok(data), state))
                }
                // The last report cannot stop what already arrived.
                Some(Err(error)) => {
                    state.done = true;
                    let _ = state.report().await;
                    Some((Err(error), state))
                }
                None => {
                    let _ = state.report().await;
                    None
                }
            }
        });
        (stream.boxed(), stop)
    }

    fn progress_interval(&self) -> Duration {
        self.inner.progress_interval
    }
}

struct Observed {
    handler: TusHandler,
    cx: Arc<HookContext>,
    stream: DataStream,
    id: UploadId,
    size: UploadSize,
    offset: u64,
    reported: u64,
    last_report: SystemTime,
    stop: StopSlot,
    done: bool,
}

impl Observed {
    /// Whether new bytes arrived and the progress interval has passed.
    fn due(&self) -> bool {
        self.offset > self.reported
            && self
                .handler
                .now()
                .duration_since(self.last_report)
                .unwrap_or(Duration::ZERO)
                >= self.handler.progress_interval()
    }

    /// Reports the bytes received so far, if any are new.
    async fn report(&mut self) -> Result<(), Rejection> {
        if self.offset == self.reported {
            return Ok(());
        }
        self.reported = self.offset;
        self.last_report = self.handler.now();
        let progress = Progress {
            id: self.id.clone(),
            offset: self.offset,
            size: self.size,
        };
        let verdict = match self.handler.hooks() {
            Some(hooks) => hooks.post_receive(&self.cx, &progress).await,
            None => Ok(()),
        };
        self.handler.emit(|| Event::Progress(progress));
        verdict
    }
}

/// Adds a finish hook's headers to an answer, replacing same-named ones.
pub(super) fn apply(finish: &FinishResponse, headers: &mut http::HeaderMap) {
    for name in finish.headers.keys() {
        headers.remove(name);
    }
    for (name, value) in &finish.headers {
        headers.append(name, value.clone());
    }
}
