//! Final uploads: creation from partials, and assembly once every partial
//! is complete — at once, when the last partial completes (on whichever
//! instance serves that PATCH: the finals waiting for a partial are found
//! in the store), or by the sweep after a crash. HEAD and GET never
//! assemble, so safe methods have no side effects.

use tus_core::headers::{Extension, Metadata};
use tus_core::server::TusError;
use tus_core::server::decide::{self, check_alive};
use tus_core::server::response::{self, Reply};
use tus_core::store::{Concatenate, StoreError};
use tus_core::upload::{ConcatPart, NewUpload, UploadId, UploadInfo, UploadKind, UploadSize};

use super::hooks::Access;
use super::shared::{Call, Shared};

fn concatenation(shared: &Shared) -> Result<&dyn Concatenate, TusError> {
    shared
        .store
        .concatenation()
        .ok_or(TusError::ExtensionNotSupported(Extension::Concatenation))
}

/// `POST` of a final upload of `references` (id and URL as received).
pub(crate) async fn create_final(
    shared: &Shared,
    call: &Call<'_>,
    metadata: Metadata,
    references: Vec<(UploadId, String)>,
) -> Result<Reply, TusError> {
    let concat = concatenation(shared)?;
    let mut partials = Vec::with_capacity(references.len());
    for (id, reference) in &references {
        let info = match shared.store.info(id).await {
            Ok(info) if check_alive(&info, &shared.policy, call.now).is_ok() => info,
            Ok(_) | Err(StoreError::NotFound) => return Err(TusError::ConcatPartialNotFound(reference.clone())),
            Err(other) => return Err(other.into()),
        };
        // A partial hidden from this client is answered as a missing one.
        shared
            .lifecycle
            .authorize(&call.cx, Access::Concatenate(&info))
            .await
            .map_err(|error| match error {
                TusError::NotFound => TusError::ConcatPartialNotFound(reference.clone()),
                other => other,
            })?;
        partials.push(info);
    }
    let named: Vec<(&UploadInfo, &str)> = partials
        .iter()
        .zip(&references)
        .map(|(info, (_, reference))| (info, reference.as_str()))
        .collect();
    let plan = decide::plan_final(&named, &shared.policy)?;
    let (id, metadata) = shared
        .lifecycle
        .pre_create(&call.cx, shared.ids.as_ref(), metadata, plan.size, true)
        .await?;
    let parts: Vec<ConcatPart> = references
        .into_iter()
        .map(|(id, reference)| ConcatPart { id, reference })
        .collect();
    let upload = NewUpload {
        id,
        size: plan.size,
        metadata,
        kind: UploadKind::Final(parts.clone()),
        created_at: call.now,
    };
    let info = shared.store.create(upload).await?;
    let config = &shared.config;
    let location = config.location.location(call.parts, &config.base_path, &info.id);
    tracing::info!(id = %info.id, location = ?location, partials = parts.len(), ready = plan.ready, "final upload created");
    shared.lifecycle.created(&call.cx, &info).await;
    if !plan.ready {
        for (part, state) in parts.iter().zip(&partials) {
            if !state.is_complete() {
                concat.watch(&part.id, &info.id).await?;
            }
        }
    }
    // Assemble now if every partial is complete (also if the last one
    // completed while this request was running, before it was watched).
    let assembled = assemble(shared, call, &info.id).await?;
    let offset = assembled.filter(UploadInfo::is_complete).map(|info| info.offset);
    Ok(response::created(location, offset, None))
}

/// Assembles the finals waiting for `partial`, which just completed.
/// Failures are logged: the PATCH that completed the partial succeeded.
pub(crate) async fn assemble_waiting(shared: &Shared, call: &Call<'_>, partial: &UploadId) {
    let finals = match concatenation(shared) {
        Ok(concat) => concat.waiting_finals(partial).await,
        Err(_) => return,
    };
    let finals = match finals {
        Ok(finals) => finals,
        Err(error) => {
            tracing::warn!(%partial, %error, "could not look up the finals waiting for a partial upload");
            return;
        }
    };
    let mut all_done = true;
    for final_id in finals {
        match assemble(shared, call, &final_id).await {
            Ok(Some(_)) | Err(TusError::NotFound) => {}
            Ok(None) => all_done = false,
            Err(error) => {
                all_done = false;
                tracing::warn!(%final_id, code = error.code(), %error, "could not assemble final upload");
            }
        }
    }
    // Every final that waited for this partial is assembled or gone: the
    // record has served (a final created from now on re-checks itself).
    if all_done
        && let Ok(concat) = concatenation(shared)
        && let Err(error) = concat.unwatch(partial).await
    {
        tracing::debug!(%partial, %error, "could not forget the finals of a partial upload");
    }
}

/// Assembles final upload `id` if all its partials are complete. Returns
/// its state afterwards, or `None` while it still waits for a partial.
///
/// Assembly finishes the upload: the finish hooks run here (exactly once:
/// under the final's lock, only the request that assembles it runs them),
/// and headers a `pre_finish` hook adds are not sent (the answer may belong
/// to another upload's request).
pub(crate) async fn assemble(shared: &Shared, call: &Call<'_>, id: &UploadId) -> Result<Option<UploadInfo>, TusError> {
    let concat = concatenation(shared)?;
    let lock = shared.locks.acquire(id).await?;
    let info = shared.store.info(id).await?;
    if info.is_complete() {
        return Ok(Some(info));
    }
    let parts = info.partials().to_vec();
    let mut partials = Vec::with_capacity(parts.len());
    for part in &parts {
        match shared.store.info(&part.id).await {
            Ok(partial) => partials.push(partial),
            // A partial was terminated: this final can never complete.
            Err(StoreError::NotFound) => return Err(TusError::Gone),
            Err(error) => return Err(error.into()),
        }
    }
    let named: Vec<(&UploadInfo, &str)> = partials
        .iter()
        .zip(&parts)
        .map(|(partial, part)| (partial, part.reference.as_str()))
        .collect();
    let plan = decide::plan_final(&named, &shared.policy)?;
    if !plan.ready {
        return Ok(None);
    }
    if let (UploadSize::Deferred, UploadSize::Known(total)) = (info.size, plan.size) {
        let deferred = shared
            .store
            .deferred_length()
            .ok_or(TusError::ExtensionNotSupported(Extension::CreationDeferLength))?;
        deferred.declare_length(id, total).await?;
    }
    let ids: Vec<UploadId> = parts.iter().map(|part| part.id.clone()).collect();
    let offset = concat.concatenate(id, &ids, call.now).await?;
    drop(lock);
    tracing::info!(%id, size = offset, "final upload assembled");
    let assembled = UploadInfo {
        size: plan.size,
        offset,
        updated_at: call.now,
        ..info
    };
    if let Err(error) = shared.lifecycle.finished(&call.cx, assembled.clone()).await {
        tracing::debug!(%id, code = error.code(), "finish hook refused an assembled upload");
    }
    Ok(Some(assembled))
}
