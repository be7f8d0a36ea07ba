//! Removing expired uploads.
//!
//! Expiration is *sliding*: an unfinished upload expires a fixed lifetime
//! after its last write (creation counts as a write), so a slow upload that
//! keeps sending stays alive. Completed uploads and final uploads never expire
//! this way. An expired upload answers `410 Gone` until the reaper removes it.

use futures::StreamExt as _;

use super::handler::TusHandler;
use crate::proto::decide::check_alive;
use crate::proto::error::TusError;
use crate::store::UploadId;

impl TusHandler {
    /// Removes every expired upload and returns how many were removed.
    /// Needs a store that can list its uploads; a no-op without a lifetime.
    ///
    /// Call it periodically (see `spawn_reaper` with the `tokio` feature).
    pub async fn reap_expired(&self) -> Result<usize, TusError> {
        let inner = &self.inner;
        if inner.policy.expire_after.is_none() {
            return Ok(0);
        }
        let ids: Vec<UploadId> = inner
            .store
            .list()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()?;
        let mut removed = 0;
        for id in ids {
            if !self.is_expired(&id).await {
                continue;
            }
            let _lock = self.lock(&id).await?;
            // Re-check under the lock: a PATCH may have just revived it.
            if self.is_expired(&id).await {
                match inner.store.terminate(&id).await {
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

    async fn is_expired(&self, id: &UploadId) -> bool {
        match self.inner.store.info(id).await {
            Ok(info) => check_alive(&info, &self.inner.policy, self.now()).is_err(),
            Err(_) => false,
        }
    }
}

/// Runs [`TusHandler::reap_expired`] every `every` on the tokio runtime
/// until the returned task is aborted.
#[cfg(feature = "tokio")]
pub fn spawn_reaper(handler: TusHandler, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(error) = handler.reap_expired().await {
                tracing::warn!(code = error.code(), %error, "reaping expired uploads failed");
            }
        }
    })
}
