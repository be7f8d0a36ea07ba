//! # tus-core
//!
//! A sans-IO engine for the [tus resumable upload protocol](https://tus.io/protocols/resumable-upload)
//! 1.0.0: typed headers, the protocol decisions, the [`Store`](store::Store)
//! trait, and a runtime-agnostic [`TusHandler`](server::TusHandler) that takes an
//! `http::Request` and returns an `http::Response`. It opens no sockets and
//! needs no async runtime; frameworks mount it through the
//! [`TusService`](server::TusService) `tower::Service` or a thin adapter.
//!
//! ```
//! use std::sync::Arc;
//! use tus_core::server::TusHandler;
//! use tus_core::store::MemoryStore;
//!
//! let handler = TusHandler::builder(Arc::new(MemoryStore::new()))
//!     .base_path("/files/")
//!     .max_size(1 << 30)
//!     .build();
//! // axum: Router::new().nest_service("/files", handler.into_service());
//! # let _ = handler;
//! ```
//!
//! Layers:
//! - [`proto`]: pure parsing, decisions and responses.
//! - [`store`]: the storage contract and an in-memory store.
//! - [`server`]: the async driver that ties a request, a store and a lock together.
//! - [`client`]: the client's decisions (next request, retries, chunk size, checksum), pure.

pub mod body;
pub mod client;
pub mod clock;
pub mod proto;
pub mod server;
pub mod store;
pub mod timer;

pub use body::{RequestBody, ResponseBody};
pub use proto::error::TusError;
