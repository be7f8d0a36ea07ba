//! Repair on read: a final upload whose partials are all complete but which
//! is not assembled (a server died between a partial's last byte and the
//! assembly, possibly another instance) is assembled in the background as
//! soon as anyone reads it. The read itself answers the truth (no offset
//! yet) and runs no hook; the background assembly is the sweep's
//! ([`TusHandler::assemble_ready_finals`](crate::TusHandler::assemble_ready_finals)),
//! for one upload, finish hooks included. Needs the `tokio` feature (to
//! spawn); without it only the sweep repairs.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError, Weak};

use tus_core::upload::{UploadId, UploadInfo, UploadKind};

use super::shared::Shared;

/// Schedules background assemblies, at most one per upload at a time.
#[derive(Debug, Default)]
pub(crate) struct Repairer {
    shared: OnceLock<Weak<Shared>>,
    pending: Mutex<HashSet<UploadId>>,
}

impl Repairer {
    /// Binds the repairer to the state it repairs with (once, at build).
    pub(crate) fn bind(&self, shared: Weak<Shared>) {
        let _ = self.shared.set(shared);
    }

    /// Called when a request read `info`: schedules its assembly if it is
    /// an unassembled final upload. Cheap otherwise.
    pub(crate) fn request(&self, info: &UploadInfo) {
        if !matches!(info.kind, UploadKind::Final(_)) || info.is_complete() {
            return;
        }
        self.spawn(info.id.clone());
    }

    #[cfg(feature = "tokio")]
    fn spawn(&self, id: UploadId) {
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        let Some(shared) = self.shared.get().and_then(Weak::upgrade) else {
            return;
        };
        if !self.pending().insert(id.clone()) {
            return;
        }
        tokio::spawn(async move {
            let parts = http::Request::new(()).into_parts().0;
            let call = super::shared::Call {
                parts: &parts,
                cx: std::sync::Arc::new(super::hooks::HookContext::new(&parts)),
                now: shared.clock.now(),
            };
            match super::concat::assemble(&shared, &call, &id).await {
                Ok(Some(_)) => tracing::info!(%id, "final upload repaired on read"),
                Ok(None) => {}
                Err(error) => tracing::debug!(%id, code = error.code(), "final upload not repaired"),
            }
            shared.repairer.pending().remove(&id);
        });
    }

    #[cfg(not(feature = "tokio"))]
    fn spawn(&self, id: UploadId) {
        let _ = id;
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, HashSet<UploadId>> {
        // An insert or a remove: a poisoned set is consistent.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
