//! Hooks: async callbacks an application plugs into the upload lifecycle.

use std::fmt;

use futures::future::BoxFuture;
use http::request::Parts;
use http::{Extensions, HeaderMap, Method, StatusCode, Uri};

use tus_core::headers::Metadata;
use tus_core::server::event::Progress;
use tus_core::upload::{UploadId, UploadInfo, UploadSize};

/// The request that triggered a hook: method, URI, headers and the
/// framework's request extensions (where auth middleware leaves its result).
///
/// For a final upload assembled when its last partial completes, this is the
/// request that completed the partial; when
/// [`TusHandler::assemble_ready_finals`](crate::TusHandler::assemble_ready_finals)
/// assembles it (after a crash), a context of no request: a bare `GET /`
/// without headers or extensions.
#[derive(Debug, Clone)]
pub struct HookContext {
    parts: Parts,
}

impl HookContext {
    /// A context carrying a copy of `parts` (extensions included).
    pub fn new(parts: &Parts) -> Self {
        Self { parts: parts.clone() }
    }

    /// A context of no request (what the driver hands out when no hooks read it).
    pub(crate) fn empty() -> Self {
        Self {
            parts: http::Request::new(()).into_parts().0,
        }
    }

    /// The request method as received (before `X-HTTP-Method-Override`).
    pub fn method(&self) -> &Method {
        &self.parts.method
    }

    /// The request URI.
    pub fn uri(&self) -> &Uri {
        &self.parts.uri
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.parts.headers
    }

    /// The request extensions set by the framework and its middleware.
    pub fn extensions(&self) -> &Extensions {
        &self.parts.extensions
    }
}

/// A hook's refusal: the request is answered with `status` and `message`
/// (as `ERR_REJECTED: message`), and the step it guarded does not happen.
///
/// [`Rejection::not_found`] instead answers exactly as if the upload did not
/// exist, so that a refused client learns nothing about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Rejection {
    status: StatusCode,
    message: String,
    /// Answer as for an absent upload instead of `ERR_REJECTED`.
    hides_upload: bool,
}

impl Rejection {
    /// A refusal answered with `status`; a status that is not a client or
    /// server error (4xx/5xx) is answered as 400.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        let status = if status.is_client_error() || status.is_server_error() {
            status
        } else {
            StatusCode::BAD_REQUEST
        };
        Self {
            status,
            message: message.into(),
            hides_upload: false,
        }
    }

    /// A refusal that hides the upload, for [`Hooks::authorize`]: the
    /// request gets the very answer it would get if no upload existed at its
    /// URL (`404 ERR_UPLOAD_NOT_FOUND`; for a partial named by a final
    /// upload, `400 ERR_CONCAT_PARTIAL_NOT_FOUND`), so a client that is not
    /// allowed to see an upload cannot even confirm that its id exists.
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: "upload not found".to_owned(),
            hides_upload: true,
        }
    }

    /// A 500 refusal for a failure inside the hook; the cause is not shown
    /// to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(%cause, "hook failed");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error in a hook")
    }

    /// The status answered.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The message answered.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Whether the request is answered as if the upload did not exist
    /// ([`Rejection::not_found`]).
    pub fn hides_upload(&self) -> bool {
        self.hides_upload
    }

    /// The status and message.
    pub(crate) fn into_parts(self) -> (StatusCode, String) {
        (self.status, self.message)
    }
}

/// An upload about to be created, as [`Hooks::pre_create`] may change it.
#[derive(Debug, Clone)]
pub struct PreCreate {
    pub(crate) id: Option<UploadId>,
    pub(crate) metadata: Metadata,
    pub(crate) size: UploadSize,
    pub(crate) is_final: bool,
}

impl PreCreate {
    /// The id set by a hook, if any (otherwise the id generator picks one).
    pub fn id(&self) -> Option<&UploadId> {
        self.id.as_ref()
    }

    /// Uses `id` instead of a generated one. If an upload with this id
    /// exists, the creation fails in the store.
    pub fn set_id(&mut self, id: UploadId) {
        self.id = Some(id);
    }

    /// The metadata the upload will be created with.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The metadata, to rewrite (e.g. attach the authenticated user id).
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// The declared size. For a final upload whose length follows from
    /// unfinished partials this is `Deferred`.
    pub fn size(&self) -> UploadSize {
        self.size
    }

    /// Whether this is a final upload (`Upload-Concat: final;...`).
    pub fn is_final(&self) -> bool {
        self.is_final
    }
}

/// What a request is about to do with a stored upload, for
/// [`Hooks::authorize`]. Each variant carries the upload's stored state,
/// including the metadata set at creation (e.g. an owner a `pre_create`
/// hook recorded).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Access<'a> {
    /// `HEAD`: read the upload's offset and metadata.
    Head(&'a UploadInfo),
    /// `PATCH`: append to the upload.
    Append(&'a UploadInfo),
    /// `GET`: download the upload's bytes.
    Download(&'a UploadInfo),
    /// `DELETE`: terminate the upload.
    Terminate(&'a UploadInfo),
    /// `POST` of a final upload: use this partial upload's bytes.
    Concatenate(&'a UploadInfo),
}

impl<'a> Access<'a> {
    /// The upload accessed.
    pub fn upload(&self) -> &'a UploadInfo {
        match *self {
            Self::Head(info)
            | Self::Append(info)
            | Self::Download(info)
            | Self::Terminate(info)
            | Self::Concatenate(info) => info,
        }
    }
}

/// Extra headers for the answer to the request that finished an upload.
#[derive(Debug, Default)]
pub struct FinishResponse {
    /// Headers added to (replacing same-named headers of) the answer.
    pub headers: HeaderMap,
}

/// Async callbacks around the upload lifecycle, to authorize, rewrite,
/// observe or post-process uploads.
///
/// Implement [`Hooks`] (every method has a default that does nothing and
/// allows everything) and install it with
/// [`TusHandlerBuilder::hooks`](crate::TusHandlerBuilder::hooks). Each hook
/// gets a [`HookContext`]: the method, URI, headers and the framework's
/// request extensions of the request that triggered it, so the result of an
/// authentication middleware (stored as an extension) reaches the hooks.
///
/// ```text
///  POST ──► pre_create ──► store.create ──► post_create ─┐
///            │ reject: nothing is created                │ (body, if any)
///  PATCH ──► authorize ───────────────────────────────► post_receive (every progress interval; may stop)
///                                                        │ offset == length
///                                                        ▼
///                                      pre_finish (may add headers or reject the answer)
///                                                        ▼
///                                      post_finish (exactly once per upload)
///  DELETE ─► authorize ─► pre_terminate (may refuse) ─► store.terminate ─► post_terminate
///  HEAD, GET ─► authorize ─► answer
///  POST (final) ─► authorize (each partial) ─► pre_create ─► ...
/// ```
///
/// Hooks run inside the request that triggered them and are awaited: a slow
/// hook delays that answer. Spawn long work (ingestion, transcoding) on your
/// runtime from `post_finish`, or observe [`Event`](crate::Event)s instead,
/// which never block an upload.
///
/// With auth on, authorize every request on an upload, not only its
/// creation: record the owner in `pre_create`, check it in `authorize`.
/// `tus_server::prelude::*` brings everything a hook's signature needs.
///
/// ```
/// use tus_server::prelude::*;
///
/// /// What an auth middleware put into the request extensions.
/// #[derive(Clone)]
/// struct User(String);
///
/// struct OwnerOnly;
///
/// impl Hooks for OwnerOnly {
///     fn pre_create<'a>(
///         &'a self,
///         cx: &'a HookContext,
///         upload: &'a mut PreCreate,
///     ) -> BoxFuture<'a, Result<(), Rejection>> {
///         Box::pin(async move {
///             let Some(User(user)) = cx.extensions().get::<User>() else {
///                 return Err(Rejection::new(StatusCode::UNAUTHORIZED, "sign in to upload"));
///             };
///             upload.metadata_mut().set("user_id", user.as_bytes()).map_err(Rejection::internal)
///         })
///     }
///
///     fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
///         Box::pin(async move {
///             let Some(User(user)) = cx.extensions().get::<User>() else {
///                 return Err(Rejection::new(StatusCode::UNAUTHORIZED, "sign in first"));
///             };
///             if access.upload().metadata.get("user_id") == Some(user.as_bytes()) {
///                 Ok(())
///             } else {
///                 // Another user's upload: answered as if it did not exist.
///                 Err(Rejection::not_found())
///             }
///         })
///     }
///
///     fn post_finish<'a>(&'a self, _cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
///         Box::pin(async move { println!("upload {} finished: {} bytes", info.id, info.offset) })
///     }
/// }
/// # let _ = TusHandler::builder(std::sync::Arc::new(MemoryStore::new()))
/// #     .hooks(std::sync::Arc::new(OwnerOnly)).build();
/// ```
pub trait Hooks: Send + Sync + 'static {
    /// Before an upload (single, partial or final) is created. Reject to
    /// refuse the creation: nothing is stored. May set the id and rewrite
    /// the metadata.
    fn pre_create<'a>(
        &'a self,
        cx: &'a HookContext,
        upload: &'a mut PreCreate,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        let _ = (cx, upload);
        Box::pin(async { Ok(()) })
    }

    /// Before a request touches a stored upload (HEAD, PATCH, GET, DELETE,
    /// and a final upload naming a partial). Reject to refuse it: the
    /// request is answered with the rejection ([`Rejection::not_found`]
    /// answers as if the upload did not exist, so its id is not confirmed)
    /// and does not disturb the upload, not even a PATCH in flight. Runs
    /// before the upload's lock is taken.
    ///
    /// Without this hook an upload URL is a bearer capability: whoever
    /// knows it may read, write or delete the upload.
    fn authorize<'a>(&'a self, cx: &'a HookContext, access: Access<'a>) -> BoxFuture<'a, Result<(), Rejection>> {
        let _ = (cx, access);
        Box::pin(async { Ok(()) })
    }

    /// After an upload was created in the store, before any body is read.
    fn post_create<'a>(&'a self, cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        let _ = (cx, info);
        Box::pin(async {})
    }

    /// While a body streams in, at most once per
    /// [progress interval](crate::TusHandlerBuilder::progress_interval) and
    /// once when the body ends. Reject to stop the upload: the body is cut
    /// there (bytes received before stay stored, unless the request carried a
    /// checksum) and the request is answered with the rejection.
    fn post_receive<'a>(&'a self, cx: &'a HookContext, progress: &'a Progress) -> BoxFuture<'a, Result<(), Rejection>> {
        let _ = (cx, progress);
        Box::pin(async { Ok(()) })
    }

    /// Once the last byte of an upload is stored, before the answer. May
    /// add headers to the answer, or reject to answer with an error (the
    /// upload stays finished and `post_finish` still runs).
    fn pre_finish<'a>(
        &'a self,
        cx: &'a HookContext,
        info: &'a UploadInfo,
        response: &'a mut FinishResponse,
    ) -> BoxFuture<'a, Result<(), Rejection>> {
        let _ = (cx, info, response);
        Box::pin(async { Ok(()) })
    }

    /// Exactly once per upload, when its last byte is stored (at creation
    /// for an empty upload; when assembled for a final upload).
    fn post_finish<'a>(&'a self, cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, ()> {
        let _ = (cx, info);
        Box::pin(async {})
    }

    /// Before an upload is terminated. Reject to refuse: nothing is removed.
    fn pre_terminate<'a>(&'a self, cx: &'a HookContext, info: &'a UploadInfo) -> BoxFuture<'a, Result<(), Rejection>> {
        let _ = (cx, info);
        Box::pin(async { Ok(()) })
    }

    /// After an upload was terminated.
    fn post_terminate<'a>(&'a self, cx: &'a HookContext, id: &'a UploadId) -> BoxFuture<'a, ()> {
        let _ = (cx, id);
        Box::pin(async {})
    }
}

/// The hooks used when none are installed: allow everything, do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}
