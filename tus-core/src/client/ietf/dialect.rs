//! The IETF draft as a [`Dialect`]: the request heads and answer readings
//! of this module's parent, in the shape the upload machine drives.
//!
//! | machine step | request | answer read |
//! |---|---|---|
//! | discover | `OPTIONS` | `Upload-Limit` → [`Capabilities::ietf`] |
//! | create | `POST`, `Upload-Complete`, `Upload-Length` when known, the first bytes | `104` `Location`; `Location`, offset, completion |
//! | probe, sync | `HEAD` | `Upload-Offset`, `Upload-Complete`, `Upload-Length`, `Upload-Limit` |
//! | append | `PATCH`, `application/partial-upload`, `Upload-Offset`, `Upload-Complete` | offset (or all of it, as a `2xx` says), completion |
//! | cancel | `DELETE` | |
//!
//! Beyond the draft, a creation carries tus's `Upload-Metadata` when there
//! is metadata (tus-rs and tusd read it, as tus-js-client's draft mode
//! sends it) and the representation's `Content-Type` from its `filetype`.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode, Uri};

use super::{
    Answer as DraftAnswer, Interim, append, cancellation, creation, field, limits_discovery, location,
    offset_retrieval, problem_expected_offset, read_answer, read_interim, read_offset, unsupported_version,
};
use crate::client::capabilities::Capabilities;
use crate::client::dialect::{
    Answer, AppendSpec, Appended, BodyPlan, CreateSpec, Created, Dialect, Discovery, Refusal, RemoteState, Request,
    RequestKind, Sent, Violation,
};
use crate::headers;
use crate::headers::ietf::{InteropVersion, UploadComplete, UploadLimit, UploadOffset};

/// The IETF draft "Resumable Uploads for HTTP" at one interop version (9,
/// 8 or 6). A server that answers that it does not speak 9 or 8 gets 6
/// (see [`unsupported_version`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ietf {
    version: InteropVersion,
}

impl Ietf {
    /// The draft at `version`; `None` unless 9, 8 or 6.
    pub fn new(version: InteropVersion) -> Option<Self> {
        version.is_supported().then_some(Self { version })
    }

    /// The interop version spoken.
    pub fn version(&self) -> InteropVersion {
        self.version
    }

    /// The oldest version this crate speaks (6), to fall back to when the
    /// server does not speak this one; `None` at 6.
    pub fn older(&self) -> Option<Self> {
        (self.version > InteropVersion::V6).then_some(Self {
            version: InteropVersion::V6,
        })
    }

    fn request(kind: RequestKind, head: http::Request<()>, body: BodyPlan) -> Request {
        let (parts, ()) = head.into_parts();
        Request {
            kind,
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        }
    }

    fn unsupported(answer: &Answer<'_>) -> bool {
        unsupported_version(answer.status, answer.headers, answer.body)
    }
}

/// Reads the lifetime-free limits of an answer (lifetimes are applied by
/// the machine, which knows the time).
fn limit(headers: &HeaderMap) -> Option<UploadLimit> {
    field::<UploadLimit>(headers)
}

impl Dialect for Ietf {
    fn name(&self) -> &'static str {
        match self.version {
            InteropVersion::V6 => "ietf-6",
            InteropVersion::V8 => "ietf-8",
            _ => "ietf-9",
        }
    }

    fn discover(&self, endpoint: &Uri) -> Request {
        Self::request(
            RequestKind::Discover,
            limits_discovery(self.version, endpoint),
            BodyPlan::Empty,
        )
    }

    fn read_discovery(&self, answer: &Answer<'_>) -> Discovery {
        if let Some(older) = self.older().filter(|_| Self::unsupported(answer)) {
            return Discovery::Switch(Box::new(older), None);
        }
        // OPTIONS is optional from interop 8 on: a refusal only means no limits are known.
        let limit = answer.status.is_success().then(|| limit(answer.headers)).flatten();
        Discovery::Capabilities(Capabilities::ietf(limit.as_ref()))
    }

    fn create(&self, endpoint: &Uri, spec: &CreateSpec<'_>) -> Request {
        let head = creation(
            self.version,
            endpoint,
            spec.complete,
            spec.length,
            Some(spec.body.len()),
        );
        let mut request = Self::request(RequestKind::Create, head, spec.body);
        if !spec.metadata.is_empty() {
            headers::encode(&mut request.headers, spec.metadata);
        }
        if let Some(media_type) = spec
            .metadata
            .get("filetype")
            .and_then(|value| HeaderValue::from_bytes(value).ok())
        {
            request.headers.insert(CONTENT_TYPE, media_type);
        }
        request
    }

    fn read_created(&self, request_uri: &Uri, answer: &Answer<'_>, sent: Sent) -> Result<Created, Violation> {
        let url = location(request_uri, answer.headers);
        let (complete, offset) = match read_answer(self.version, sent.complete, answer.status, answer.headers) {
            DraftAnswer::Complete { offset } => (true, offset),
            DraftAnswer::Incomplete { offset } => (false, offset),
            other => return Err(Violation(format!("a {} answer read as {other:?}", answer.status))),
        };
        if url.is_none() && !complete {
            return Err(Violation("creation answered without a usable Location header".into()));
        }
        Ok(Created {
            url,
            // A success means the server took the whole content.
            offset: Some(offset.unwrap_or(sent.end)),
            expires: None,
            complete,
            limit: limit(answer.headers),
        })
    }

    fn head(&self, url: &Uri) -> Request {
        Self::request(RequestKind::Head, offset_retrieval(self.version, url), BodyPlan::Empty)
    }

    fn read_head(&self, answer: &Answer<'_>) -> Result<RemoteState, Violation> {
        let state = read_offset(answer.status, answer.headers)
            .ok_or_else(|| Violation("offset retrieval answered without a valid Upload-Offset".into()))?;
        Ok(RemoteState {
            offset: state.offset,
            length: state.length,
            expires: None,
            complete: state.complete,
            limit: state.limit,
        })
    }

    fn append(&self, url: &Uri, spec: &AppendSpec) -> Request {
        let body = BodyPlan::part(spec.offset, spec.len, None);
        let head = append(self.version, url, spec.offset, spec.complete, Some(spec.len));
        let mut request = Self::request(RequestKind::Append, head, body);
        if let Some(length) = spec.declare_length {
            headers::encode(&mut request.headers, &crate::headers::ietf::UploadLength(length));
        }
        request
    }

    fn read_appended(&self, answer: &Answer<'_>, sent: Sent) -> Result<Appended, Violation> {
        let (complete, offset) = match read_answer(self.version, sent.complete, answer.status, answer.headers) {
            DraftAnswer::Complete { offset } => (true, offset),
            DraftAnswer::Incomplete { offset } => (false, offset),
            other => return Err(Violation(format!("a {} answer read as {other:?}", answer.status))),
        };
        Ok(Appended {
            // A success means the server took the whole content.
            offset: offset.unwrap_or(sent.end),
            expires: None,
            complete,
        })
    }

    fn terminate(&self, url: &Uri) -> Request {
        Self::request(RequestKind::Terminate, cancellation(self.version, url), BodyPlan::Empty)
    }

    fn read_refusal(&self, answer: &Answer<'_>) -> Refusal {
        let offset = (answer.status == StatusCode::CONFLICT)
            .then(|| {
                field::<UploadOffset>(answer.headers)
                    .map(|offset| offset.0)
                    .or_else(|| problem_expected_offset(answer.body))
            })
            .flatten();
        let final_answer =
            self.version != InteropVersion::V6 && field::<UploadComplete>(answer.headers) == Some(UploadComplete(true));
        Refusal {
            offset,
            final_answer,
            limit: limit(answer.headers),
            fallback: self
                .older()
                .filter(|_| Self::unsupported(answer))
                .map(|older| Box::new(older) as Box<dyn Dialect>),
        }
    }

    fn read_interim(&self, request_uri: &Uri, status: StatusCode, headers: &HeaderMap) -> Option<Interim> {
        read_interim(self.version, request_uri, status, headers)
    }

    fn interim_responses(&self, kind: RequestKind) -> bool {
        // The creation's 104 names the upload; progress 104s are not worth a connection.
        kind == RequestKind::Create
    }

    fn explicit_completion(&self) -> bool {
        true
    }
}

#[cfg(test)]
#[path = "dialect_tests.rs"]
mod tests;
