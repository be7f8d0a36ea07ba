//! The server's side of the protocol, pure: parse a request head, decide
//! against the upload's state, and build the answer as a value.
//!
//! ```text
//!   Parts ──request::TusRequest::parse──▶ TusRequest
//!         ──decide::plan_*(request, UploadInfo, Policy, now)──▶ plan (limits, verification, durability)
//!   body flows into a store writer (the driver) ──body::settle(BodyEnd, digest)──▶ keep? + error
//!         ──decide::after_write──▶ finished? expires? ──response::*──▶ Reply (status, headers, body kind)
//! ```
//!
//! Draft requests (`Upload-Draft-Interop-Version`) are parsed, decided and
//! answered by [`ietf`], over the same upload model and policy.
//!
//! Nothing here performs I/O, reads a clock or draws randomness.

pub mod body;
pub mod cors;
pub mod decide;
pub mod download;
pub mod error;
pub mod event;
pub mod ietf;
pub mod policy;
pub mod request;
pub mod response;

pub use error::TusError;
