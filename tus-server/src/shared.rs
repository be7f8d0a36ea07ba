//! What every request path reads: the store, the decisions' policy and the
//! components that own the driver's state, plus the request being served.

use std::sync::Arc;
use std::time::SystemTime;

use http::Response;
use http::request::Parts;
use tus_core::server::TusError;
use tus_core::server::policy::Policy;
use tus_core::server::response::{self, Reply, ReplyBody};
use tus_core::store::Store;
use tus_core::upload::{UploadId, UploadInfo};

use super::body::ResponseBody;
use super::clock::Clock;
use super::config::Config;
use super::hooks::{Access, HookContext};
use super::ids::IdGenerator;
use super::interrupt::Shutdown;
use super::lifecycle::Lifecycle;
use super::lock::Locks;
use super::repair::Repairer;
use super::timer::Timer;

/// What every request reads: the store, the decisions' policy, and the
/// components that own the driver's state (locks, lifecycle, shutdown).
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) policy: Policy,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) timer: Arc<dyn Timer>,
    pub(crate) locks: Locks,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) shutdown: Shutdown,
    pub(crate) repairer: Repairer,
}

/// One request being served: its head, its hook context and the time it
/// arrived (read once).
pub(crate) struct Call<'a> {
    pub(crate) parts: &'a Parts,
    pub(crate) cx: Arc<HookContext>,
    pub(crate) now: SystemTime,
}

impl Shared {
    /// The answer to `error`, logged and counted.
    pub(crate) fn error_reply(&self, parts: &Parts, error: &TusError) -> Reply {
        log_error(parts, error);
        self.lifecycle.error(error);
        response::error(error, &parts.method)
    }

    /// Turns a reply into a response, opening the store's stream for stored bytes.
    pub(crate) async fn respond(&self, reply: Reply) -> Result<Response<ResponseBody>, TusError> {
        let (parts, body) = reply.into_parts();
        let body = match body {
            ReplyBody::Empty => ResponseBody::empty(),
            ReplyBody::Text(text) => ResponseBody::full(text),
            ReplyBody::Stored { id, range } => {
                let length = range.end - range.start;
                ResponseBody::stream(self.store.read(&id, range).await?, length)
            }
        };
        Ok(Response::from_parts(parts, body))
    }

    /// The upload's state, after `authorize` allowed `access` to it (only
    /// read when hooks are installed: without them, nobody is refused).
    pub(crate) async fn authorized(
        &self,
        call: &Call<'_>,
        id: &UploadId,
        access: fn(&UploadInfo) -> Access<'_>,
    ) -> Result<Option<UploadInfo>, TusError> {
        if !self.lifecycle.has_hooks() {
            return Ok(None);
        }
        let info = self.store.info(id).await?;
        self.lifecycle.authorize(&call.cx, access(&info)).await?;
        Ok(Some(info))
    }
}

fn log_error(parts: &Parts, error: &TusError) {
    log_failure(parts, error, error.status(), error.is_transient(), error.code());
}

/// Logs a refused or failed request: a server error with its whole cause
/// chain (an error, or a warning when it is transient, such as a storage
/// outage), anything else at debug.
pub(crate) fn log_failure(
    parts: &Parts,
    error: &dyn std::error::Error,
    status: http::StatusCode,
    transient: bool,
    code: &str,
) {
    let (method, path) = (&parts.method, parts.uri.path());
    if !status.is_server_error() {
        tracing::debug!(%method, path, code, "request refused");
        return;
    }
    let causes = cause_chain(error);
    if transient {
        tracing::warn!(%method, path, code, causes, "request failed for now");
    } else {
        tracing::error!(%method, path, code, causes, "request failed");
    }
}

/// The causes of `error`, outermost first, joined by ": ".
fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut causes = Vec::new();
    let mut next = error.source();
    // Bounded: a cycle in a source chain would otherwise loop forever.
    while let Some(cause) = next.filter(|_| causes.len() < 16) {
        causes.push(cause.to_string());
        next = cause.source();
    }
    causes.join(": ")
}
