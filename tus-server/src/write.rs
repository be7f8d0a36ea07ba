//! Creation (single and partial uploads) and append: the request paths
//! that push a body into a store writer.
//!
//! ```text
//!   PATCH: try lock ─(held)─▶ stale offset? 409, the holder keeps going
//!                 └▶ lock (steal) ─▶ info ─▶ plan_append ─▶ writer ─▶ pump ─▶ settle ─▶ commit | abort
//!          ─▶ declare length ─▶ unlock ─▶ after_write: finish hooks, waiting finals ─▶ 204
//!   POST:  plan_creation ─▶ pre_create ─▶ store.create (with a body: create_with_writer) ─▶ post_create
//!          ─▶ (body: pump ─▶ …) ─▶ 201
//! ```

use http_body::Body as _;
use tus_core::checksum::Verification;
use tus_core::server::TusError;
use tus_core::server::body::{self as body_end, Settlement};
use tus_core::server::decide::{self, CreationPlan};
use tus_core::server::request::{AppendRequest, CreateRequest};
use tus_core::server::response::{self, Reply};
use tus_core::store::{StoreError, Writer};
use tus_core::upload::{NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

use super::body::RequestBody;
use super::concat;
use super::hooks::Access;
use super::ingest::{self, Report, Watch};
use super::interrupt::Stops;
use super::lifecycle;
use super::lock::{LockGuard, ReleaseRequested};
use super::shared::{Call, Shared};

/// Where one write goes and what it may take.
pub(crate) struct Target<'a> {
    pub(crate) id: &'a UploadId,
    pub(crate) offset: u64,
    /// The upload's size once this request succeeds.
    pub(crate) size: UploadSize,
    pub(crate) limit: u64,
    pub(crate) content_length: Option<u64>,
    pub(crate) verify: Option<&'a Verification>,
    /// The lock holder's release request, when the write holds the lock.
    pub(crate) release: Option<ReleaseRequested>,
    /// Told the upload's offset at every progress report (the IETF draft's
    /// progress 104s).
    pub(crate) progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
}

/// `POST` of a single or partial upload (finals go to `concat`).
pub(crate) async fn create(
    shared: &Shared,
    call: &Call<'_>,
    request: CreateRequest,
    body: RequestBody,
) -> Result<Reply, TusError> {
    let config = &shared.config;
    let (size, body_limit, partial, verify) = match decide::plan_creation(&request, &shared.policy, &config.base_path)?
    {
        CreationPlan::Final(references) => {
            return concat::create_final(shared, call, request.metadata, references).await;
        }
        CreationPlan::Upload {
            size,
            body_limit,
            partial,
            verify,
        } => (size, body_limit, partial, verify),
    };
    let (id, metadata) = shared
        .lifecycle
        .pre_create(&call.cx, shared.ids.as_ref(), request.metadata, size, false)
        .await?;
    let kind = if partial {
        UploadKind::Partial
    } else {
        UploadKind::Single
    };
    let upload = NewUpload {
        id,
        size,
        metadata,
        kind,
        created_at: call.now,
    };
    // With a body to write, the store creates the upload and opens its
    // writer in one call (one trip to a filesystem store's blocking pool).
    let body_limit = body_limit.filter(|_| writes(verify.as_ref(), request.content_length, &body));
    let (info, opened) = match body_limit {
        Some(limit) => {
            let durability = body_end::durability(verify.as_ref());
            let (info, writer) = shared.store.create_with_writer(upload, durability).await?;
            (info, Some((limit, writer)))
        }
        None => (shared.store.create(upload).await?, None),
    };
    let location = config.location.location(call.parts, &config.base_path, &info.id);
    tracing::info!(id = %info.id, location = ?location, size = ?info.size, "upload created");
    shared.lifecycle.created(&call.cx, &info).await;
    let written = match opened {
        Some((limit, opened)) => {
            let target = Target {
                id: &info.id,
                offset: 0,
                size,
                limit,
                content_length: request.content_length,
                verify: verify.as_ref(),
                release: None,
                progress: None,
            };
            write_opened(shared, call, target, body, opened).await
        }
        None => Ok(0),
    };
    let (offset, error) = match written {
        Ok(offset) => (offset, None),
        Err(Failed { offset, error }) => (offset, Some(error)),
    };
    let after = decide::after_write(&info.kind, size, false, offset, &shared.policy, call.now);
    let finish = finish_if(shared, call, after.finished, &info, size, offset).await;
    if let Some(error) = error {
        return Err(error);
    }
    let mut reply = response::created(location, Some(offset), after.expires);
    if let Some(finish) = finish {
        lifecycle::apply(&finish?, reply.headers_mut());
    }
    Ok(reply)
}

/// `PATCH`: append a body at the client's offset.
pub(crate) async fn append(
    shared: &Shared,
    call: &Call<'_>,
    request: AppendRequest,
    body: RequestBody,
) -> Result<Reply, TusError> {
    let id = &request.id;
    let (lock, info) = lock_for_append(shared, call, id, request.offset).await?;
    let plan = decide::plan_append(&info, &request, &shared.policy, call.now)?;
    let size = plan.declare_length.map_or(info.size, UploadSize::Known);
    let target = Target {
        id,
        offset: request.offset,
        size,
        limit: plan.body_limit,
        content_length: request.content_length,
        verify: plan.verify.as_ref(),
        release: Some(lock.release_requested()),
        progress: None,
    };
    let mut written = write(shared, call, target, body).await;
    // Only once the body is in: a refused PATCH (checksum mismatch, body
    // too long, interrupted) leaves the length deferred, as it found it.
    if let (Ok(offset), Some(length)) = (&written, plan.declare_length)
        && let Err(error) = declare_length(shared, id, length).await
    {
        written = Err(Failed { offset: *offset, error });
    }
    drop(lock);
    let (offset, error, declared) = match written {
        Ok(offset) => (offset, None, size),
        Err(Failed { offset, error }) => (offset, Some(error), info.size),
    };
    let after = decide::after_write(
        &info.kind,
        declared,
        info.is_complete(),
        offset,
        &shared.policy,
        call.now,
    );
    let finish = finish_if(shared, call, after.finished, &info, declared, offset).await;
    if after.partial_completed {
        concat::assemble_waiting(shared, call, id).await;
    }
    if let Some(error) = error {
        return Err(error);
    }
    let mut reply = response::appended(offset, after.expires);
    if let Some(finish) = finish {
        lifecycle::apply(&finish?, reply.headers_mut());
    }
    Ok(reply)
}

/// Takes the upload's lock for an append and returns its fresh state.
///
/// When the lock is held by another request, a PATCH at an offset below the
/// stored one can never succeed: it is answered 409 at once, and the
/// request holding the lock is not interrupted. With hooks installed, the
/// request is authorized before it can disturb anyone.
pub(crate) async fn lock_for_append(
    shared: &Shared,
    call: &Call<'_>,
    id: &UploadId,
    offset: u64,
) -> Result<(LockGuard, UploadInfo), TusError> {
    if let Some(lock) = shared.locks.try_acquire(id).await? {
        let info = shared.store.info(id).await?;
        shared.lifecycle.authorize(&call.cx, Access::Append(&info)).await?;
        return Ok((lock, info));
    }
    let seen = shared.store.info(id).await?;
    shared.lifecycle.authorize(&call.cx, Access::Append(&seen)).await?;
    if offset < seen.offset {
        return Err(TusError::MismatchedOffset {
            expected: seen.offset,
            provided: offset,
        });
    }
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await?;
    Ok((lock, info))
}

pub(crate) async fn declare_length(shared: &Shared, id: &UploadId, length: u64) -> Result<(), TusError> {
    let deferred = shared.store.deferred_length().ok_or(TusError::ExtensionNotSupported(
        tus_core::headers::Extension::CreationDeferLength,
    ))?;
    Ok(deferred.declare_length(id, length).await?)
}

/// A write that failed, and the upload's offset afterwards.
pub(crate) struct Failed {
    pub(crate) offset: u64,
    pub(crate) error: TusError,
}

/// Streams `body` into a writer opened at the target and settles it:
/// committed (kept) or aborted, as tus-core decides from how the body ended.
pub(crate) async fn write(
    shared: &Shared,
    call: &Call<'_>,
    target: Target<'_>,
    body: RequestBody,
) -> Result<u64, Failed> {
    if !writes(target.verify, target.content_length, &body) {
        return Ok(target.offset);
    }
    let durability = body_end::durability(target.verify);
    let opened = shared
        .store
        .writer(target.id, target.offset, durability, call.now)
        .await;
    write_opened(shared, call, target, body, opened).await
}

/// Whether a request with this body writes anything: a body announced or
/// found empty does not, unless a checksum must still be verified.
fn writes(verify: Option<&Verification>, content_length: Option<u64>, body: &RequestBody) -> bool {
    verify.is_some() || !(content_length == Some(0) || body.is_end_stream())
}

/// [`write`] with the writer already opened (or not, when `opened` failed).
async fn write_opened(
    shared: &Shared,
    call: &Call<'_>,
    target: Target<'_>,
    mut body: RequestBody,
    opened: Result<Writer, StoreError>,
) -> Result<u64, Failed> {
    let unchanged = |error: TusError| Failed {
        offset: target.offset,
        error,
    };
    let durability = body_end::durability(target.verify);
    let mut writer: Writer = opened.map_err(|error| unchanged(mismatch(error, target.offset)))?;
    let stops = Stops {
        release: target.release.clone(),
        shutdown: Some(shared.shutdown.signal()),
    };
    let config = &shared.config;
    let watch = Watch {
        timer: shared.timer.as_ref(),
        idle: config.body_idle_timeout,
        min_rate: config.min_body_rate,
        progress: Some(config.progress_interval),
    };
    let mut observers = shared
        .lifecycle
        .reporter(&call.cx, target.id, target.offset, target.size);
    let mut reporter = OffsetReporter {
        inner: observers.as_mut().map(|reporter| reporter as &mut dyn Report),
        tell: target.progress,
        start: target.offset,
        told: 0,
    };
    let reporter = (reporter.inner.is_some() || reporter.tell.is_some()).then_some(&mut reporter);
    let pumped = ingest::pump(
        &mut body,
        &mut writer,
        target.limit,
        target.verify,
        stops,
        watch,
        reporter.map(|reporter| reporter as &mut dyn Report),
    )
    .await;
    let pumped = match pumped {
        Ok(pumped) => pumped,
        Err(error) => {
            let offset = writer.abort().await.unwrap_or(target.offset);
            return Err(Failed {
                offset,
                error: mismatch(error, target.offset),
            });
        }
    };
    shared.lifecycle.received(pumped.received);
    let Settlement { keep, error } =
        body_end::settle(pumped.end, pumped.digest, durability, target.size, &shared.policy);
    let settled = if keep {
        writer.commit().await
    } else {
        writer.abort().await
    };
    let offset = settled.map_err(|error| unchanged(mismatch(error, target.offset)))?;
    match error {
        None => Ok(offset),
        Some(error) => {
            tracing::info!(id = %target.id, offset, code = error.code(), "request body did not complete");
            Err(Failed { offset, error })
        }
    }
}

/// Reports progress to the hooks and events (`inner`) and tells the
/// upload's offset to `tell`, when either listens.
struct OffsetReporter<'a, 'b> {
    inner: Option<&'b mut dyn Report>,
    tell: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    start: u64,
    told: u64,
}

impl Report for OffsetReporter<'_, '_> {
    fn report(
        &mut self,
        received: u64,
    ) -> futures::future::BoxFuture<'_, Result<(), tus_core::server::body::StopReason>> {
        if let Some(tell) = self.tell
            && received > self.told
        {
            self.told = received;
            tell(self.start + received);
        }
        match self.inner.as_mut() {
            Some(inner) => inner.report(received),
            None => Box::pin(async { Ok(()) }),
        }
    }

    /// The answer tells the final offset: no interim response for it.
    fn report_end(
        &mut self,
        received: u64,
    ) -> futures::future::BoxFuture<'_, Result<(), tus_core::server::body::StopReason>> {
        match self.inner.as_mut() {
            Some(inner) => inner.report_end(received),
            None => Box::pin(async { Ok(()) }),
        }
    }
}

/// A store error met while writing at the client's `offset`.
fn mismatch(error: StoreError, offset: u64) -> TusError {
    match error {
        StoreError::OffsetMismatch { current } => TusError::MismatchedOffset {
            expected: current,
            provided: offset,
        },
        other => other.into(),
    }
}

/// Runs the finish steps when a write just completed the upload (also when
/// the request failed after its last byte was stored, so `post_finish` is
/// never missed). The upload's state is built from what the write changed,
/// not read again.
pub(crate) async fn finish_if(
    shared: &Shared,
    call: &Call<'_>,
    finished: bool,
    before: &UploadInfo,
    size: UploadSize,
    offset: u64,
) -> Option<Result<super::hooks::FinishResponse, TusError>> {
    if !finished {
        return None;
    }
    let info = UploadInfo {
        size,
        offset,
        updated_at: call.now,
        ..before.clone()
    };
    Some(shared.lifecycle.finished(&call.cx, info).await)
}
