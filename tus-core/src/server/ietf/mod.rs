//! The server's side of the IETF draft "Resumable Uploads for HTTP"
//! (`draft-ietf-httpbis-resumable-upload`), interop versions 9, 8 and 6,
//! served on the same endpoint, store and upload model as tus 1.0.0.
//!
//! A request carrying `Upload-Draft-Interop-Version` is a draft request
//! ([`dialect`]); everything else is tus 1.0.0, answered exactly as before.
//!
//! ```text
//!   Parts ──dialect──▶ Ietf(version) ──request::IetfRequest::parse──▶ IetfRequest
//!         ──decide::plan_*(version, request, UploadInfo, Policy, now)──▶ plan
//!   content flows into a store writer (the driver; the 104 is sent first)
//!         ──decide::completion──▶ Incomplete | Complete | Declare(len) ──response::*──▶ Reply
//! ```
//!
//! What differs from tus 1.0.0 per version is in the decisions and answers
//! (see the table in `docs/src/ietf-draft.md`); errors map to statuses,
//! codes and problem types in one place, [`error::IetfError`].

pub mod decide;
pub mod error;
pub mod request;
pub mod response;

pub use error::IetfError;

use http::{HeaderMap, Method};

use crate::headers::ietf::InteropVersion;
use crate::headers::{self, HeaderKind};

/// Which protocol a request speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// tus 1.0.0 (no `Upload-Draft-Interop-Version`).
    Tus,
    /// The IETF draft at this interop version.
    Ietf(InteropVersion),
    /// A draft request of a version this server does not speak: refused
    /// with [`IetfError::UnsupportedVersion`] (and never a 104).
    Unsupported,
}

/// The dialect of a request with effective `method` and `headers`.
///
/// A request whose `Upload-Draft-Interop-Version` is not one of 9, 8, 6
/// (or is malformed) is served as tus 1.0.0 when it also carries
/// `Tus-Resumable` or is an `OPTIONS` or `GET` (which tus does not version),
/// and refused otherwise: the draft forbids answering it with a 104, and
/// the endpoint has nothing else to offer a draft client.
pub fn dialect(method: &Method, headers: &HeaderMap) -> Dialect {
    match headers::decode::<InteropVersion>(headers) {
        Ok(None) => Dialect::Tus,
        Ok(Some(version)) if version.is_supported() => Dialect::Ietf(version),
        _ if headers.contains_key(HeaderKind::TusResumable.name())
            || *method == Method::OPTIONS
            || *method == Method::GET =>
        {
            Dialect::Tus
        }
        _ => Dialect::Unsupported,
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn dialect_table() {
        let cases: &[(Method, &[(&str, &str)], Dialect)] = &[
            (Method::POST, &[], Dialect::Tus),
            (Method::POST, &[("tus-resumable", "1.0.0")], Dialect::Tus),
            (
                Method::POST,
                &[("upload-draft-interop-version", "9")],
                Dialect::Ietf(InteropVersion::V9),
            ),
            (
                Method::PATCH,
                &[("upload-draft-interop-version", "8")],
                Dialect::Ietf(InteropVersion::V8),
            ),
            (
                Method::HEAD,
                &[("upload-draft-interop-version", "6")],
                Dialect::Ietf(InteropVersion::V6),
            ),
            (
                Method::POST,
                &[("upload-draft-interop-version", "5")],
                Dialect::Unsupported,
            ),
            (
                Method::POST,
                &[("upload-draft-interop-version", "7")],
                Dialect::Unsupported,
            ),
            (
                Method::POST,
                &[("upload-draft-interop-version", "x")],
                Dialect::Unsupported,
            ),
            (
                Method::POST,
                &[("upload-draft-interop-version", "5"), ("tus-resumable", "1.0.0")],
                Dialect::Tus,
            ),
            (Method::OPTIONS, &[("upload-draft-interop-version", "3")], Dialect::Tus),
            (Method::GET, &[("upload-draft-interop-version", "3")], Dialect::Tus),
        ];
        for (method, list, expected) in cases {
            let mut headers = HeaderMap::new();
            for (name, value) in *list {
                headers.append(*name, HeaderValue::from_static(value));
            }
            assert_eq!(dialect(method, &headers), *expected, "{method} {list:?}");
        }
    }
}
