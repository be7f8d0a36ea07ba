//! `auto`: tus 1.0.0 where the server speaks it, the IETF draft where it
//! speaks only that, decided by discovery before anything is created.
//!
//! ```text
//!   OPTIONS (plain, as every tus client sends it)
//!     ├─ Tus-Version / Tus-Extension / Tus-Resumable ─▶ tus 1.0.0   (every tus server, tus-rs included)
//!     ├─ Upload-Limit, or Accept-Patch: application/partial-upload ─▶ the draft
//!     └─ nothing (a bare 2xx, 404, 405, ...) ─▶ OPTIONS with Upload-Draft-Interop-Version
//!          ├─ the draft advertised ─▶ the draft
//!          ├─ "version not supported" ─▶ the same at interop 6
//!          └─ anything else ─▶ tus 1.0.0 with what the first answer told (as before `auto` existed)
//! ```
//!
//! tus comes first because it does more (checksums, parallel parts,
//! metadata, expiry) and every tus client has spoken it for years; a server
//! that answers `OPTIONS` with neither is given tus, as before, so routers
//! that refuse `OPTIONS` keep working. Until discovery has decided (or when
//! capabilities are given up front), requests are tus's.

use http::Uri;

use super::capabilities::Capabilities;
use super::dialect::{
    Answer, AppendSpec, Appended, CreateSpec, Created, Dialect, Discovery, RemoteState, Request, Sent, Violation,
};
use super::ietf::{Ietf, advertises_draft, unsupported_version};
use super::tus1::Tus1;

/// Chooses tus 1.0.0 or the IETF draft at discovery (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auto {
    draft: Ietf,
}

impl Auto {
    /// Automatic selection, speaking `draft` where the draft is chosen.
    pub fn new(draft: Ietf) -> Self {
        Self { draft }
    }
}

/// The second look: the draft's own `OPTIONS`, after a first answer that
/// showed neither protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
struct DraftProbe {
    draft: Ietf,
    /// What the plain `OPTIONS` told, for tus if the draft is not there either.
    first: Capabilities,
}

/// tus's requests until a dialect is chosen.
macro_rules! speak_tus {
    () => {
        fn create(&self, endpoint: &Uri, spec: &CreateSpec<'_>) -> Request {
            Tus1.create(endpoint, spec)
        }

        fn read_created(&self, request_uri: &Uri, answer: &Answer<'_>, sent: Sent) -> Result<Created, Violation> {
            Tus1.read_created(request_uri, answer, sent)
        }

        fn head(&self, url: &Uri) -> Request {
            Tus1.head(url)
        }

        fn read_head(&self, answer: &Answer<'_>) -> Result<RemoteState, Violation> {
            Tus1.read_head(answer)
        }

        fn append(&self, url: &Uri, spec: &AppendSpec) -> Request {
            Tus1.append(url, spec)
        }

        fn read_appended(&self, answer: &Answer<'_>, sent: Sent) -> Result<Appended, Violation> {
            Tus1.read_appended(answer, sent)
        }

        fn terminate(&self, url: &Uri) -> Request {
            Tus1.terminate(url)
        }
    };
}

impl Dialect for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn discover(&self, endpoint: &Uri) -> Request {
        Tus1.discover(endpoint)
    }

    fn read_discovery(&self, answer: &Answer<'_>) -> Discovery {
        let success = answer.status.is_success();
        if success && Capabilities::speaks_tus(answer.headers) {
            return Discovery::Switch(Box::new(Tus1), Some(Capabilities::from_headers(answer.headers)));
        }
        if success && advertises_draft(answer.headers) {
            return self.draft.read_discovery(answer).into_switch(self.draft);
        }
        let first = if success {
            Capabilities::from_headers(answer.headers)
        } else {
            Capabilities::unknown()
        };
        Discovery::Switch(
            Box::new(DraftProbe {
                draft: self.draft,
                first,
            }),
            None,
        )
    }

    speak_tus!();
}

impl Dialect for DraftProbe {
    fn name(&self) -> &'static str {
        "auto"
    }

    fn discover(&self, endpoint: &Uri) -> Request {
        self.draft.discover(endpoint)
    }

    fn read_discovery(&self, answer: &Answer<'_>) -> Discovery {
        if answer.status.is_success() && advertises_draft(answer.headers) {
            return self.draft.read_discovery(answer).into_switch(self.draft);
        }
        if unsupported_version(answer.status, answer.headers, answer.body)
            && let Some(older) = self.draft.older()
        {
            return Discovery::Switch(
                Box::new(Self {
                    draft: older,
                    first: self.first.clone(),
                }),
                None,
            );
        }
        Discovery::Switch(Box::new(Tus1), Some(self.first.clone()))
    }

    speak_tus!();
}

impl Discovery {
    /// This discovery as a switch to `dialect` (keeping a switch it already is).
    fn into_switch(self, dialect: Ietf) -> Self {
        match self {
            Self::Capabilities(capabilities) => Self::Switch(Box::new(dialect), Some(capabilities)),
            switch @ Self::Switch(..) => switch,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, StatusCode};

    use super::*;
    use crate::headers::ietf::InteropVersion;
    use crate::test_support::headers;

    fn answer<'a>(status: u16, headers: &'a HeaderMap, body: &'a [u8]) -> Answer<'a> {
        Answer {
            status: StatusCode::from_u16(status).expect("status"),
            headers,
            body,
        }
    }

    /// Follows switches as the machine does, answering each discovery
    /// request from `server`; the dialect chosen and its capabilities.
    fn negotiate(
        server: impl Fn(&Request) -> (u16, Vec<(&'static str, &'static str)>, &'static [u8]),
    ) -> (String, Capabilities, Vec<String>) {
        let endpoint: Uri = "http://h/files/".parse().expect("uri");
        let nine = Ietf::new(InteropVersion::V9).expect("9");
        let mut dialect: Box<dyn Dialect> = Box::new(Auto::new(nine));
        let mut asked = Vec::new();
        for _ in 0..5 {
            let request = dialect.discover(&endpoint);
            let version = request
                .headers
                .get("upload-draft-interop-version")
                .map_or("plain".to_owned(), |v| format!("v{}", v.to_str().expect("ascii")));
            asked.push(version);
            let (status, list, body) = server(&request);
            let map = headers(&list);
            match dialect.read_discovery(&answer(status, &map, body)) {
                Discovery::Capabilities(caps) => return (dialect.name().to_owned(), caps, asked),
                Discovery::Switch(next, Some(caps)) => return (next.name().to_owned(), caps, asked),
                Discovery::Switch(next, None) => dialect = next,
            }
        }
        panic!("no decision after 5 discoveries: {asked:?}")
    }

    #[test]
    fn selection_table() {
        // tus servers (tus-rs answers a plain OPTIONS with tus).
        let (name, caps, asked) =
            negotiate(|_| (204, vec![("tus-version", "1.0.0"), ("tus-extension", "creation")], b""));
        assert_eq!((name.as_str(), asked.len()), ("tus-1.0.0", 1));
        assert!(caps.supports(crate::headers::Extension::Creation));

        // A draft server that answers any OPTIONS with its limits.
        let (name, caps, _) = negotiate(|_| (204, vec![("upload-limit", "max-size=1000, max-append-size=10")], b""));
        assert_eq!(name, "ietf-9");
        assert_eq!((caps.max_size, caps.max_append_size), (Some(1000), Some(10)));

        // A draft server that speaks only when asked in the draft.
        let draft_only = |request: &Request| match request.headers.get("upload-draft-interop-version") {
            Some(_) => (204, vec![("upload-limit", "min-size=0")], &b""[..]),
            None => (405, vec![], &b""[..]),
        };
        let (name, _, asked) = negotiate(draft_only);
        assert_eq!(
            (name.as_str(), asked),
            ("ietf-9", vec!["plain".to_owned(), "v9".to_owned()])
        );

        // A draft server of interop 6 only (400 naming the version otherwise).
        let six_only = |request: &Request| match request
            .headers
            .get("upload-draft-interop-version")
            .map(|v| v.as_bytes())
        {
            Some(b"6") => (204, vec![("upload-limit", "expires=60")], &b""[..]),
            Some(_) => (
                400,
                vec![],
                &b"ERR_UNSUPPORTED_INTEROP_VERSION: unsupported Upload-Draft-Interop-Version"[..],
            ),
            None => (404, vec![], &b""[..]),
        };
        let (name, _, asked) = negotiate(six_only);
        assert_eq!(name, "ietf-6");
        assert_eq!(asked, ["plain", "v9", "v6"]);

        // A router refusing OPTIONS in front of a tus server: tus, knowing nothing.
        let (name, caps, asked) = negotiate(|_| (404, vec![], b"not found"));
        assert_eq!((name.as_str(), asked.len()), ("tus-1.0.0", 2));
        assert_eq!(caps, Capabilities::unknown());
    }

    #[test]
    fn requests_are_tus_until_decided() {
        let auto = Auto::new(Ietf::new(InteropVersion::V8).expect("8"));
        let url: Uri = "http://h/files/a".parse().expect("uri");
        assert!(auto.head(&url).headers.contains_key("tus-resumable"));
        assert!(!auto.discover(&url).headers.contains_key("upload-draft-interop-version"));
    }
}
