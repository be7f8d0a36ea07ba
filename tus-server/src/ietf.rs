//! Draft requests (`Upload-Draft-Interop-Version` 9, 8 or 6): the same
//! store, locks, hooks, events and body pump as tus 1.0.0, with the draft's
//! decisions and answers from [`tus_core::server::ietf`].
//!
//! ```text
//!   creation: plan_creation ─▶ pre_create ─▶ store.create ─▶ lock ─▶ post_create ─▶ 104 (Interim)
//!             ─▶ writer ─▶ pump ─▶ completion (declare a deferred length) ─▶ unlock ─▶ finish hooks ─▶ 201
//!   append:   lock (steal) ─▶ plan_append ─▶ declare length ─▶ writer ─▶ pump ─▶ completion ─▶ 201/204
//! ```
//!
//! The creation holds the new upload's lock while it reads its content: a
//! client that learned the URL from the 104 and resumes (HEAD, PATCH,
//! DELETE) stops it, as the draft's concurrency section recommends.

use http::Method;
use tus_core::headers::ietf::{InteropVersion, UploadLimit};
use tus_core::headers::{self, ietf::UploadOffset};
use tus_core::server::TusError;
use tus_core::server::decide::{self as tus_decide, check_alive};
use tus_core::server::ietf::decide::{self, AppendPlan, Completion};
use tus_core::server::ietf::request::{AppendRequest, CreateRequest, IetfRequest};
use tus_core::server::ietf::{Dialect, IetfError, response};
use tus_core::server::request::DownloadRequest;
use tus_core::server::response::Reply;
use tus_core::upload::{NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

use super::body::RequestBody;
use super::hooks::Access;
use super::interim::Interim;
use super::lifecycle;
use super::lock::LockGuard;
use super::shared::{Call, Shared};
use super::write::{self, Failed, Target};

/// Answers a draft request (`dialect` is not [`Dialect::Tus`]); errors
/// become the draft's answers.
pub(crate) async fn serve(
    shared: &Shared,
    call: &Call<'_>,
    dialect: Dialect,
    method: &Method,
    body: RequestBody,
) -> Reply {
    let Dialect::Ietf(version) = dialect else {
        return error_reply(shared, call, InteropVersion::V9, &IetfError::UnsupportedVersion);
    };
    match route(shared, call, version, method, body).await {
        Ok(reply) => reply,
        Err(error) => error_reply(shared, call, version, &error),
    }
}

async fn route(
    shared: &Shared,
    call: &Call<'_>,
    version: InteropVersion,
    method: &Method,
    body: RequestBody,
) -> Result<Reply, IetfError> {
    let config = &shared.config;
    let request = IetfRequest::parse(
        version,
        method,
        call.parts.uri.path(),
        &call.parts.headers,
        &config.base_path,
    )?;
    if let Some(id) = request_id(&request) {
        tracing::Span::current().record("id", id.as_str());
    }
    match request {
        IetfRequest::Options => Ok(response::options(&decide::limits(
            version,
            &shared.policy,
            None,
            call.now,
        ))),
        IetfRequest::Create(request) => create(shared, call, version, request, body).await,
        IetfRequest::Head(id) => offset(shared, call, version, &id).await,
        IetfRequest::Get(request) => get(shared, call, version, request).await,
        IetfRequest::Append(request) => append(shared, call, version, request, body).await,
        IetfRequest::Cancel(id) => cancel(shared, call, &id).await,
    }
}

fn request_id(request: &IetfRequest) -> Option<&UploadId> {
    match request {
        IetfRequest::Head(id) | IetfRequest::Cancel(id) => Some(id),
        IetfRequest::Get(get) => Some(&get.id),
        IetfRequest::Append(append) => Some(&append.id),
        IetfRequest::Options | IetfRequest::Create(_) => None,
    }
}

/// The draft's answer to `error`, logged and counted.
fn error_reply(shared: &Shared, call: &Call<'_>, version: InteropVersion, error: &IetfError) -> Reply {
    let parts = call.parts;
    crate::shared::log_failure(parts, error, error.status(), error.is_transient(), error.code());
    shared.lifecycle.error_code(error.code());
    let limit = decide::limits(version, &shared.policy, None, call.now);
    response::error(version, error, Some(&limit))
}

/// Upload creation: the 104 goes out once the upload exists, before any
/// content is read.
async fn create(
    shared: &Shared,
    call: &Call<'_>,
    version: InteropVersion,
    request: CreateRequest,
    body: RequestBody,
) -> Result<Reply, IetfError> {
    let config = &shared.config;
    let plan = decide::plan_creation(&request, &shared.policy)?;
    let (id, metadata) = shared
        .lifecycle
        .pre_create(&call.cx, shared.ids.as_ref(), request.metadata, plan.size, false)
        .await?;
    let upload = NewUpload {
        id,
        size: plan.size,
        metadata,
        kind: UploadKind::Single,
        created_at: call.now,
    };
    let info = shared.store.create(upload).await.map_err(TusError::from)?;
    // Uncontended: nobody knows the URL yet. Held while the content flows,
    // so a resumption (HEAD, PATCH, DELETE) stops this request.
    let lock = shared.locks.acquire(&info.id).await?;
    let location = config.location.location(call.parts, &config.base_path, &info.id);
    tracing::info!(id = %info.id, location = ?location, size = ?info.size, interop = version.0, "draft upload created");
    shared.lifecycle.created(&call.cx, &info).await;
    let limit = decide::limits(version, &shared.policy, Some(&info), call.now);
    if let Some(interim) = call.parts.extensions.get::<Interim>() {
        let sent = interim.send(&response::resumption_supported(version, location.clone(), &limit));
        tracing::debug!(id = %info.id, sent, "104 Upload Resumption Supported");
    }
    let tell = progress_104(call, version);
    let target = Target {
        id: &info.id,
        offset: 0,
        size: plan.size,
        limit: plan.body_limit,
        content_length: request.content_length,
        verify: None,
        release: Some(lock.release_requested()),
        progress: tell.as_ref().map(|tell| tell as &(dyn Fn(u64) + Send + Sync)),
    };
    let written = write::write(shared, call, target, body).await;
    let (offset, size, outcome) = settle(shared, &info.id, request.complete, plan.size, written).await;
    drop(lock);
    let finish = finish(shared, call, &info, size, offset).await;
    match outcome {
        Ok(complete) => {
            let limit = decide::limits(version, &shared.policy, None, call.now);
            let mut reply = response::created(location, offset, complete, &limit);
            if let Some(finish) = finish {
                lifecycle::apply(&finish?, reply.headers_mut());
            }
            Ok(reply)
        }
        Err(error) => {
            // The upload exists: tell the client where to resume, also when
            // the 104 was not seen.
            let mut reply = error_reply(shared, call, version, &error);
            reply.headers_mut().insert(http::header::LOCATION, location);
            if !matches!(error, IetfError::MismatchedOffset { .. }) {
                headers::encode(reply.headers_mut(), &UploadOffset(offset));
            }
            Ok(reply)
        }
    }
}

/// Upload append at the client's offset.
async fn append(
    shared: &Shared,
    call: &Call<'_>,
    version: InteropVersion,
    request: AppendRequest,
    body: RequestBody,
) -> Result<Reply, IetfError> {
    let (lock, info) = write::lock_for_append(shared, call, &request.id, request.offset).await?;
    match append_locked(shared, call, version, &request, body, lock, &info).await {
        Ok(reply) => Ok(reply),
        // Interop 6: every answer about an active upload carries its offset.
        Err((error, offset))
            if version == InteropVersion::V6 && !matches!(error, IetfError::MismatchedOffset { .. }) =>
        {
            let mut reply = error_reply(shared, call, version, &error);
            headers::encode(reply.headers_mut(), &UploadOffset(offset));
            Ok(reply)
        }
        Err((error, _)) => Err(error),
    }
}

/// An append once the upload's lock is held; an error comes with the
/// upload's offset afterwards.
async fn append_locked(
    shared: &Shared,
    call: &Call<'_>,
    version: InteropVersion,
    request: &AppendRequest,
    body: RequestBody,
    lock: LockGuard,
    info: &UploadInfo,
) -> Result<Reply, (IetfError, u64)> {
    let id = &request.id;
    let unchanged = |error: IetfError| (error, info.offset);
    let plan = decide::plan_append(version, info, request, &shared.policy, call.now).map_err(unchanged)?;
    let (declare_length, body_limit) = match plan {
        AppendPlan::Replay => return Ok(response::appended(version, info.offset, true)),
        AppendPlan::Write {
            declare_length,
            body_limit,
        } => (declare_length, body_limit),
    };
    // The draft records a length as soon as a request indicates it.
    if let Some(length) = declare_length {
        write::declare_length(shared, id, length)
            .await
            .map_err(|error| unchanged(error.into()))?;
    }
    let size = declare_length.map_or(info.size, UploadSize::Known);
    let tell = progress_104(call, version);
    let target = Target {
        id,
        offset: request.offset,
        size,
        limit: body_limit,
        content_length: request.content_length,
        verify: None,
        release: Some(lock.release_requested()),
        progress: tell.as_ref().map(|tell| tell as &(dyn Fn(u64) + Send + Sync)),
    };
    let written = write::write(shared, call, target, body).await;
    let (offset, size, outcome) = settle(shared, id, request.complete, size, written).await;
    drop(lock);
    let finish = finish(shared, call, info, size, offset).await;
    let complete = outcome.map_err(|error| (error, offset))?;
    let mut reply = response::appended(version, offset, complete);
    if let Some(finish) = finish {
        lifecycle::apply(&finish.map_err(|error| (error.into(), offset))?, reply.headers_mut());
    }
    Ok(reply)
}

/// Sends a progress 104 with the offset, where the adapter can send
/// interim responses (at most once per progress interval).
fn progress_104(call: &Call<'_>, version: InteropVersion) -> Option<impl Fn(u64) + Send + Sync + use<>> {
    let interim = call.parts.extensions.get::<Interim>()?.clone();
    Some(move |offset| {
        interim.send(&response::progress(version, offset));
    })
}

/// Where a write left the upload: its offset, its size (a deferred length
/// declared by a completing request) and whether it is complete, or why the
/// request failed.
async fn settle(
    shared: &Shared,
    id: &UploadId,
    complete: bool,
    size: UploadSize,
    written: Result<u64, Failed>,
) -> (u64, UploadSize, Result<bool, IetfError>) {
    let offset = match written {
        Ok(offset) => offset,
        Err(Failed { offset, error }) => return (offset, size, Err(error.into())),
    };
    match decide::completion(complete, size, offset) {
        Ok(Completion::Incomplete) => (offset, size, Ok(false)),
        Ok(Completion::Complete) => (offset, size, Ok(true)),
        Ok(Completion::Declare(length)) => match write::declare_length(shared, id, length).await {
            Ok(()) => (offset, UploadSize::Known(length), Ok(true)),
            Err(error) => (offset, size, Err(error.into())),
        },
        Err(error) => (offset, size, Err(error)),
    }
}

/// Runs the finish steps when the write completed the upload.
async fn finish(
    shared: &Shared,
    call: &Call<'_>,
    before: &UploadInfo,
    size: UploadSize,
    offset: u64,
) -> Option<Result<super::hooks::FinishResponse, TusError>> {
    let after = tus_decide::after_write(
        &before.kind,
        size,
        before.is_complete(),
        offset,
        &shared.policy,
        call.now,
    );
    write::finish_if(shared, call, after.finished, before, size, offset).await
}

/// Offset retrieval (`HEAD`): under the lock, so a request still writing is
/// stopped and the offset is the durable one.
async fn offset(shared: &Shared, call: &Call<'_>, version: InteropVersion, id: &UploadId) -> Result<Reply, IetfError> {
    shared.authorized(call, id, |info| Access::Head(info)).await?;
    let info = locked_info(shared, id).await?;
    check_alive(&info, &shared.policy, call.now)?;
    Ok(response::offset(
        &info,
        &decide::limits(version, &shared.policy, Some(&info), call.now),
    ))
}

async fn locked_info(shared: &Shared, id: &UploadId) -> Result<UploadInfo, TusError> {
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await?;
    shared.repairer.request(&info);
    drop(lock);
    Ok(info)
}

/// `GET`: the bytes of a complete upload (with its state), else offset
/// retrieval (interop 9 allows GET for it).
async fn get(
    shared: &Shared,
    call: &Call<'_>,
    version: InteropVersion,
    request: DownloadRequest,
) -> Result<Reply, IetfError> {
    let info = match shared
        .authorized(call, &request.id, |info| Access::Download(info))
        .await?
    {
        Some(info) => info,
        None => shared.store.info(&request.id).await.map_err(TusError::from)?,
    };
    check_alive(&info, &shared.policy, call.now)?;
    let limit: UploadLimit;
    if info.is_complete() && shared.config.download {
        limit = decide::limits(version, &shared.policy, Some(&info), call.now);
        let mut reply = tus_decide::download(&info, request.range.as_ref())?;
        response::upload_state(reply.headers_mut(), &info, &limit);
        return Ok(reply);
    }
    let info = locked_info(shared, &request.id).await?;
    limit = decide::limits(version, &shared.policy, Some(&info), call.now);
    Ok(response::offset(&info, &limit))
}

/// Cancellation (`DELETE`).
async fn cancel(shared: &Shared, call: &Call<'_>, id: &UploadId) -> Result<Reply, IetfError> {
    tus_decide::check_termination(&shared.policy)?;
    let terminator = shared.store.termination().ok_or(IetfError::CancelNotSupported)?;
    shared.authorized(call, id, |info| Access::Terminate(info)).await?;
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await.map_err(TusError::from)?;
    shared.lifecycle.pre_terminate(&call.cx, &info).await?;
    terminator.terminate(id).await.map_err(TusError::from)?;
    drop(lock);
    tracing::info!(%id, "draft upload cancelled");
    shared.lifecycle.terminated(&call.cx, id).await;
    Ok(response::cancelled())
}
