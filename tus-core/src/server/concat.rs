//! Final uploads: creation from partials, and assembly once every partial
//! is complete (at once, when the last partial completes, or on the next
//! HEAD/GET after a restart).

use std::sync::Arc;

use http::Response;
use http::request::Parts;

use super::handler::TusHandler;
use super::hooks::HookContext;
use crate::body::ResponseBody;
use crate::proto::decide::plan_final;
use crate::proto::error::TusError;
use crate::proto::headers::Metadata;
use crate::proto::response;
use crate::store::{ConcatPart, NewUpload, StoreError, UploadId, UploadInfo, UploadKind, UploadSize};

impl TusHandler {
    /// Creates a final upload of `references` (id and URL as received).
    pub(super) async fn create_final(
        &self,
        parts: &Parts,
        cx: &Arc<HookContext>,
        metadata: Metadata,
        references: Vec<(UploadId, String)>,
    ) -> Result<Response<ResponseBody>, TusError> {
        let inner = &self.inner;
        let mut partials = Vec::with_capacity(references.len());
        for (id, reference) in &references {
            let info = match self.live_info(id).await {
                Ok(info) => info,
                Err(TusError::NotFound | TusError::Gone) => {
                    return Err(TusError::ConcatPartialNotFound(reference.clone()));
                }
                Err(other) => return Err(other),
            };
            partials.push(info);
        }
        let named: Vec<(&UploadInfo, &str)> = partials
            .iter()
            .zip(&references)
            .map(|(info, (_, reference))| (info, reference.as_str()))
            .collect();
        let plan = plan_final(&named, &inner.policy)?;
        let (id, metadata) = self.pre_create(cx, metadata, plan.size, true).await?;
        let parts_list: Vec<ConcatPart> = references
            .into_iter()
            .map(|(id, reference)| ConcatPart { id, reference })
            .collect();
        let upload = NewUpload {
            id,
            size: plan.size,
            metadata,
            kind: UploadKind::Final(parts_list.clone()),
            created_at: self.now(),
        };
        let info = inner.store.create(upload).await?;
        let location = inner.config.location.location(parts, &inner.config.base_path, &info.id);
        tracing::info!(id = %info.id, location = ?location, partials = parts_list.len(), ready = plan.ready, "final upload created");
        self.created(cx, &info).await;
        if info.is_complete() {
            // Nothing to assemble (an empty final): it is finished at creation.
            self.finished(cx, &info.id).await?;
        }
        if !plan.ready {
            self.wait_for_partials(&info.id, &parts_list);
        }
        // Assemble now if every partial is complete (also if the last one
        // completed while this request was running).
        let assembled = self.try_assemble(cx, &info.id).await?;
        let offset = assembled.filter(UploadInfo::is_complete).map(|info| info.offset);
        Ok(response::created(location, offset, None))
    }

    fn wait_for_partials(&self, final_id: &UploadId, parts: &[ConcatPart]) {
        let mut waiting = self
            .inner
            .waiting_finals
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for part in parts {
            waiting.entry(part.id.clone()).or_default().insert(final_id.clone());
        }
    }

    /// Assembles the final uploads that were waiting for `partial`, which just completed.
    pub(super) async fn assemble_waiting_finals(&self, cx: &HookContext, partial: &UploadId) {
        let finals = {
            let mut waiting = self
                .inner
                .waiting_finals
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            waiting.remove(partial).unwrap_or_default()
        };
        for final_id in finals {
            if let Err(error) = self.try_assemble(cx, &final_id).await {
                tracing::warn!(%final_id, code = error.code(), %error, "could not assemble final upload");
            }
        }
    }

    /// Assembles final upload `id` if all its partials are complete. Returns
    /// its state afterwards, or `None` when it still waits for a partial.
    ///
    /// Assembly finishes the upload: the finish hooks run here, and
    /// headers a `pre_finish` hook adds are not sent (the answer may belong
    /// to another upload's request).
    pub(super) async fn try_assemble(&self, cx: &HookContext, id: &UploadId) -> Result<Option<UploadInfo>, TusError> {
        let inner = &self.inner;
        let lock = self.lock(id).await?;
        let info = inner.store.info(id).await?;
        if info.is_complete() {
            return Ok(Some(info));
        }
        let parts = info.partials().to_vec();
        let mut partials = Vec::with_capacity(parts.len());
        for part in &parts {
            match inner.store.info(&part.id).await {
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
        let plan = plan_final(&named, &inner.policy)?;
        if !plan.ready {
            self.wait_for_partials(id, &parts);
            return Ok(None);
        }
        if let (UploadSize::Deferred, UploadSize::Known(total)) = (info.size, plan.size) {
            inner.store.declare_length(id, total).await?;
        }
        let ids: Vec<UploadId> = parts.iter().map(|part| part.id.clone()).collect();
        let offset = inner.store.concatenate(id, &ids).await?;
        tracing::info!(%id, size = offset, "final upload assembled");
        let info = inner.store.info(id).await?;
        drop(lock);
        if let Err(error) = self.finished(cx, id).await {
            tracing::debug!(%id, code = error.code(), "finish hook refused an assembled upload");
        }
        Ok(Some(info))
    }
}
