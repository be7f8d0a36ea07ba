//! The pure protocol layer: typed headers, request parsing, decisions and
//! responses. Nothing here performs I/O, reads a clock or draws randomness.
//!
//! ```text
//!   http::request::Parts ──parse──▶ TusRequest ──decide(+UploadInfo, Policy)──▶ Plan ──▶ Response
//! ```

pub mod checksum;
pub mod cors;
pub mod decide;
pub mod download;
pub mod error;
pub mod headers;
pub mod request;
pub mod response;
