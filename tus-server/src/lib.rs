//! # tus-server
//!
//! The async server driver for the [tus resumable upload protocol](https://tus.io/protocols/resumable-upload):
//! a thin loop over the pure [`tus_core`]. It parses a request with
//! tus-core, takes the upload's lock (asking a request that holds it to
//! let go: *request stealing*), asks tus-core what to do, pushes the body
//! into the store's writer, and answers with the response tus-core built.
//! Around that it runs [hooks](Hooks), [events](Event), timeouts, metrics
//! and the expiry reaper.
//!
//! It is runtime-agnostic: it awaits only the store, the locker, the body
//! and an injected [`Timer`]. With the default `tokio` feature the timer is
//! [`TokioTimer`]; without it, [`TusHandler::builder_with_timer`] is the
//! only way to build a handler, so a configured timeout can never be
//! silently inactive.
//!
//! ```
//! use std::sync::Arc;
//! use tus_server::TusHandler;
//! use tus_server::store::MemoryStore;
//!
//! let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
//!     .base_path("/files/")
//!     .max_size(1 << 30)
//!     .build();
//! // axum: Router::new().nest_service("/files", handler.into_service());
//! # let _ = handler;
//! ```
//!
//! The same endpoint serves the IETF draft "Resumable Uploads for HTTP"
//! (interop 9, 8 and 6) to requests carrying `Upload-Draft-Interop-Version`,
//! over the same store, locks, hooks and events; an adapter that can send
//! interim responses puts an [`Interim`] into the request extensions to get
//! the draft's `104 Upload Resumption Supported`.
//!
//! Modules, each owning its state, with no import cycle:
//! `handler` (dispatch) → `write` / `concat` (request paths) → `ingest`
//! (the body pump), `lock`, `lifecycle` (hooks, events, metrics) → tus-core.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod builder;
mod clock;
mod concat;
mod config;
mod events;
mod handler;
mod hooks;
mod ids;
mod ietf;
mod ingest;
mod interim;
mod interrupt;
mod lifecycle;
mod location;
mod lock;
#[cfg(feature = "metrics")]
mod metrics;
mod reaper;
mod repair;
mod service;
mod shared;
mod timer;
mod write;

pub use body::{RequestBody, ResponseBody};
pub use builder::TusHandlerBuilder;
pub use clock::{Clock, SystemClock};
pub use config::{Config, DEFAULT_BODY_IDLE_TIMEOUT, DEFAULT_LOCK_TIMEOUT, DEFAULT_MIN_BODY_RATE, MinBodyRate};
pub use events::Events;
pub use handler::TusHandler;
pub use hooks::{Access, FinishResponse, HookContext, Hooks, NoHooks, PreCreate, Rejection};
pub use ids::{IdGenerator, RandomIds};
pub use interim::Interim;
pub use location::LocationStyle;
pub use lock::{LockError, LockGuard, Locker, MemoryLocker, ReleaseRequested};
#[cfg(feature = "metrics")]
pub use metrics::Metrics;
#[cfg(feature = "tokio")]
pub use reaper::spawn_reaper;
pub use service::TusService;
pub use timer::Timer;
#[cfg(feature = "tokio")]
pub use timer::TokioTimer;
pub use tus_core::server::TusError;
pub use tus_core::server::cors::{AllowedOrigins, Cors};
pub use tus_core::server::event::{Event, Progress};
pub use tus_core::{headers, store, upload};

/// Everything hooks and embedding code usually need, in one import:
/// `use tus_server::prelude::*;`.
pub mod prelude {
    pub use futures::future::BoxFuture;
    pub use http::{HeaderMap, HeaderValue, StatusCode};

    pub use crate::{
        Access, Event, FinishResponse, HookContext, Hooks, PreCreate, Progress, Rejection, TusHandler, TusService,
    };
    pub use tus_core::headers::Metadata;
    pub use tus_core::store::{MemoryStore, Store};
    pub use tus_core::upload::{UploadId, UploadInfo, UploadKind, UploadSize};
}

/// The examples in README.md, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
