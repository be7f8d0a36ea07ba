//! The client's side of the protocols, pure: building requests and reading
//! answers, for the `tus-client` crate to drive over its transport.
//!
//! - [`ietf`]: the IETF draft "Resumable Uploads for HTTP", interop 9, 8 and 6.

pub mod ietf;
