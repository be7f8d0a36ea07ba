//! Background maintenance: removing expired uploads, and assembling final
//! uploads whose partials all completed while nobody was there to assemble
//! them (a crash between a partial's last byte and the assembly).
//!
//! Expiration is *sliding*: an unfinished upload expires a fixed lifetime
//! after its last write (creation counts as a write), so a slow upload that
//! keeps sending stays alive. Completed uploads and final uploads never expire
//! this way. An expired upload answers `410 Gone` until the reaper removes it.

use std::sync::Arc;

use futures::StreamExt as _;
use tus_core::server::TusError;
use tus_core::server::decide::check_alive;
use tus_core::upload::{UploadId, UploadKind};

use super::concat;
use super::handler::TusHandler;
use super::hooks::HookContext;
use super::shared::{Call, Shared};

impl TusHandler {
    /// Removes every expired upload and returns how many were removed.
    /// Needs a store that can list and remove uploads; a no-op without a
    /// lifetime.
    ///
    /// Call it periodically (see `spawn_reaper` with the `tokio` feature).
    pub async fn reap_expired(&self) -> Result<usize, TusError> {
        let shared = self.shared();
        let (Some(_), Some(terminator)) = (shared.policy.expire_after, shared.store.termination()) else {
            return Ok(0);
        };
        let now = shared.clock.now();
        let mut removed = 0;
        for id in list(shared).await? {
            if !is_expired(shared, &id, now).await {
                continue;
            }
            let _lock = shared.locks.acquire(&id).await?;
            // Re-check under the lock: a PATCH may have just revived it.
            if is_expired(shared, &id, shared.clock.now()).await {
                match terminator.terminate(&id).await {
                    Ok(()) => {
                        tracing::info!(%id, "expired upload removed");
                        removed += 1;
                    }
                    Err(error) => tracing::warn!(%id, %error, "could not remove expired upload"),
                }
            }
        }
        Ok(removed)
    }

    /// Assembles every final upload whose partials are all complete but
    /// which is not assembled yet, and returns how many it assembled. Such
    /// a final exists only after a crash (or a failed store call) between a
    /// partial's last byte and the assembly; the finish hooks run here.
    pub async fn assemble_ready_finals(&self) -> Result<usize, TusError> {
        let shared = self.shared();
        if shared.store.concatenation().is_none() {
            return Ok(0);
        }
        let parts = http::Request::new(()).into_parts().0;
        let call = Call {
            parts: &parts,
            cx: Arc::new(HookContext::new(&parts)),
            now: shared.clock.now(),
        };
        let mut assembled = 0;
        for id in list(shared).await? {
            let Ok(info) = shared.store.info(&id).await else {
                continue;
            };
            if !matches!(info.kind, UploadKind::Final(_)) || info.is_complete() {
                continue;
            }
            match concat::assemble(shared, &call, &id).await {
                Ok(Some(_)) => assembled += 1,
                Ok(None) => {}
                Err(error) => tracing::debug!(%id, code = error.code(), "final upload not assembled"),
            }
        }
        Ok(assembled)
    }
}

async fn list(shared: &Shared) -> Result<Vec<UploadId>, TusError> {
    let Some(listing) = shared.store.listing() else {
        return Ok(Vec::new());
    };
    Ok(listing
        .list()
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?)
}

async fn is_expired(shared: &Shared, id: &UploadId, now: std::time::SystemTime) -> bool {
    match shared.store.info(id).await {
        Ok(info) => check_alive(&info, &shared.policy, now).is_err(),
        Err(_) => false,
    }
}

/// Runs [`TusHandler::reap_expired`] and [`TusHandler::assemble_ready_finals`]
/// every `every` on the Tokio runtime, until the returned task is aborted.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub fn spawn_reaper(handler: TusHandler, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = handler.reap_expired().await {
                tracing::warn!(code = error.code(), %error, "reaping expired uploads failed");
            }
            if let Err(error) = handler.assemble_ready_finals().await {
                tracing::warn!(code = error.code(), %error, "assembling ready final uploads failed");
            }
        }
    })
}
