//! Scenarios of the upload machine speaking the IETF draft (and choosing
//! it automatically): scripted server answers in, requests out.

use super::*;
use crate::client::{Auto, Ietf, TransportFailure};
use crate::headers::ietf::InteropVersion;

fn draft(version: u64, config: UploadConfig, resume: Option<&str>) -> Harness {
    let ietf = Ietf::new(InteropVersion(version)).expect("supported");
    Harness::speaking(Box::new(ietf), config, resume)
}

impl Harness {
    /// Answers the draft's OPTIONS with these limits.
    fn limits(&mut self, limit: &str) {
        let request = self.request();
        assert_eq!(request.method, Method::OPTIONS);
        assert!(request.headers.contains_key("upload-draft-interop-version"));
        self.answer(204, &[("upload-limit", limit)]);
    }

    fn read(&mut self, offset: u64, max: u64) {
        match self.next() {
            Action::Read { offset: o, max: m } => assert_eq!((o, m), (offset, max)),
            other => panic!("expected a read, got {other:?}"),
        }
    }

    fn interim(&mut self, pairs: &[(&str, &str)]) {
        let headers = headers(pairs);
        let status = StatusCode::from_u16(104).expect("104");
        self.machine.on_interim(status, &headers, self.now());
        self.drain();
    }

    fn cut(&mut self) {
        self.machine
            .on_failure(TransportFailure::Io, "connection reset", self.now());
        self.drain();
    }

    fn protocols(&self) -> Vec<&'static str> {
        let names = self.events.iter().filter_map(|event| match event {
            Event::Protocol(name) => Some(*name),
            _ => None,
        });
        names.collect()
    }

    fn created_urls(&self) -> usize {
        self.events
            .iter()
            .filter(|event| matches!(event, Event::Created { .. }))
            .count()
    }
}

fn complete(request: &Request) -> Option<String> {
    header(request, "upload-complete")
}

#[test]
fn a_small_file_is_one_request() {
    let mut h = draft(9, config(Some(10), 16), None);
    h.limits("min-size=0");
    let post = h.request();
    assert_eq!(post.method, Method::POST);
    assert_eq!(complete(&post).as_deref(), Some("?1"));
    assert_eq!(header(&post, "upload-length").as_deref(), Some("10"));
    assert_eq!(post.body.len(), 10);
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?1")]);
    assert_eq!(h.done().to_string(), URL);
    assert_eq!(h.protocols(), ["ietf-9"]);
    assert_eq!(h.created_urls(), 1);
}

#[test]
fn chunks_end_with_upload_complete() {
    let mut h = draft(9, config(Some(10), 4), None);
    h.limits("min-size=0");
    let post = h.request();
    assert_eq!((complete(&post).as_deref(), post.body.len()), (Some("?0"), 4));
    // Interop 9 may leave the offset out: a 2xx took it all.
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?0")]);
    let middle = h.patch(4, 4);
    assert_eq!(complete(&middle).as_deref(), Some("?0"));
    assert_eq!(
        header(&middle, "content-type").as_deref(),
        Some("application/partial-upload")
    );
    h.answer(204, &[("upload-complete", "?0")]);
    let last = h.patch(8, 2);
    assert_eq!(complete(&last).as_deref(), Some("?1"));
    h.answer(200, &[("upload-complete", "?1")]);
    h.done();
}

#[test]
fn a_104_makes_a_cut_creation_resumable() {
    let mut h = draft(9, config(Some(10), 16), None);
    h.limits("min-size=0");
    let post = h.request();
    assert_eq!(post.body.len(), 10);
    h.interim(&[
        ("upload-draft-interop-version", "9"),
        ("location", "/files/abc"),
        ("upload-limit", "max-age=3600"),
    ]);
    assert_eq!(h.created_urls(), 1, "the URL is recorded as soon as the 104 arrives");
    assert_eq!(h.machine.url().map(ToString::to_string).as_deref(), Some(URL));
    assert!(h.events.iter().any(|event| matches!(event, Event::Expires(_))));
    h.cut();
    let head = h.head();
    assert_eq!(head.uri.to_string(), URL);
    h.answer(
        204,
        &[
            ("upload-offset", "3"),
            ("upload-complete", "?0"),
            ("upload-length", "10"),
        ],
    );
    let rest = h.patch(3, 7);
    assert_eq!(complete(&rest).as_deref(), Some("?1"));
    h.answer(201, &[("upload-complete", "?1"), ("upload-offset", "10")]);
    h.done();
    assert_eq!(h.created_urls(), 1, "never created twice");
}

#[test]
fn without_a_104_a_cut_creation_is_made_again() {
    let mut h = draft(9, config(Some(10), 16), None);
    h.limits("min-size=0");
    h.request();
    // A 104 of another version is ignored, as the draft says.
    h.interim(&[("upload-draft-interop-version", "6"), ("location", "/files/abc")]);
    h.cut();
    let again = h.request();
    assert_eq!(again.method, Method::POST);
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?1")]);
    h.done();
}

#[test]
fn a_stream_says_complete_when_it_ends() {
    let mut h = draft(9, config(None, 4), None);
    h.limits("min-size=0");
    h.read(0, 4);
    h.machine.on_read(0, 4, false);
    let post = h.request();
    assert_eq!(
        (complete(&post).as_deref(), header(&post, "upload-length")),
        (Some("?0"), None)
    );
    h.answer(
        201,
        &[
            ("location", "/files/abc"),
            ("upload-complete", "?0"),
            ("upload-offset", "4"),
        ],
    );
    h.read(4, 4);
    h.machine.on_read(4, 4, false);
    let middle = h.patch(4, 4);
    assert_eq!(complete(&middle).as_deref(), Some("?0"));
    h.answer(204, &[("upload-complete", "?0")]);
    // The stream ends exactly on a chunk boundary: an empty `?1` ends the upload.
    h.read(8, 4);
    h.machine.on_read(8, 0, true);
    let end = h.patch(8, 0);
    assert_eq!(complete(&end).as_deref(), Some("?1"));
    assert_eq!(header(&end, "upload-length").as_deref(), Some("8"));
    h.answer(201, &[("upload-complete", "?1"), ("upload-offset", "8")]);
    h.done();
    assert_eq!(h.machine.length(), Some(8));
}

#[test]
fn a_mismatching_offset_continues_from_the_expected_one() {
    let mut h = draft(9, config(Some(12), 4), None);
    h.limits("min-size=0");
    h.request();
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?0")]);
    h.patch(4, 4);
    // Another request got further (a retried PATCH that did arrive): no HEAD needed.
    let problem = br#"{"type":"https://iana.org/assignments/http-problem-types#mismatching-upload-offset","expected-offset":6,"provided-offset":4}"#;
    let headers_409 = headers(&[("upload-offset", "6"), ("upload-complete", "?0")]);
    let answer = Answer {
        status: StatusCode::CONFLICT,
        headers: &headers_409,
        body: problem,
    };
    h.machine.on_answer(&answer, h.now());
    h.drain();
    h.patch(6, 4);
    h.answer(204, &[("upload-complete", "?0")]);
    h.patch(10, 2);
    h.answer(201, &[("upload-complete", "?1")]);
    h.done();
    assert!(h.retries().is_empty(), "progress, not a failure");
}

#[test]
fn a_409_at_the_same_offset_backs_off() {
    let mut h = draft(9, config(Some(12), 4), None);
    h.limits("min-size=0");
    h.request();
    h.answer(
        201,
        &[
            ("location", "/files/abc"),
            ("upload-complete", "?0"),
            ("upload-offset", "4"),
        ],
    );
    for _ in 0..2 {
        h.patch(4, 4);
        h.answer(409, &[("upload-offset", "4"), ("upload-complete", "?0")]);
    }
    assert_eq!(h.retries().len(), 2);
    // Two failures without progress halve the chunk, as for tus.
    h.patch(4, 2);
}

#[test]
fn an_unsupported_version_falls_back_to_6() {
    let mut h = draft(9, config(Some(10), 16), None);
    let options = h.request();
    assert_eq!(header(&options, "upload-draft-interop-version").as_deref(), Some("9"));
    let unsupported = headers(&[]);
    let answer = Answer {
        status: StatusCode::BAD_REQUEST,
        headers: &unsupported,
        body: b"ERR_UNSUPPORTED_INTEROP_VERSION: unsupported Upload-Draft-Interop-Version",
    };
    h.machine.on_answer(&answer, h.now());
    h.drain();
    let again = h.request();
    assert_eq!(header(&again, "upload-draft-interop-version").as_deref(), Some("6"));
    h.answer(204, &[("upload-limit", "expires=600")]);
    let post = h.request();
    assert_eq!(header(&post, "upload-draft-interop-version").as_deref(), Some("6"));
    h.answer(201, &[("location", "/files/abc"), ("upload-offset", "10")]);
    h.done();
    assert_eq!(h.protocols(), ["ietf-6"]);
}

#[test]
fn a_creation_refused_for_its_version_is_made_in_6() {
    // tusd takes a request of an interop version it does not know for a tus one.
    let mut h = draft(8, config(Some(10), 16), None);
    h.request();
    h.answer(204, &[("tus-version", "1.0.0")]);
    let post = h.request();
    assert_eq!(header(&post, "upload-draft-interop-version").as_deref(), Some("8"));
    let tusd = headers(&[("tus-version", "1.0.0")]);
    let answer = Answer {
        status: StatusCode::PRECONDITION_FAILED,
        headers: &tusd,
        body: b"ERR_UNSUPPORTED_VERSION: missing, invalid or unsupported Tus-Resumable version",
    };
    h.machine.on_answer(&answer, h.now());
    h.drain();
    let post = h.request();
    assert_eq!(header(&post, "upload-draft-interop-version").as_deref(), Some("6"));
    assert_eq!(post.body.len(), 10);
    h.answer(201, &[("location", "/files/abc"), ("upload-offset", "10")]);
    h.done();
    assert_eq!(h.protocols(), ["ietf-8", "ietf-6"]);
}

#[test]
fn limits_cap_chunks_and_size() {
    let mut h = draft(9, config(Some(10), 100), None);
    h.limits("max-size=100, max-append-size=4");
    assert_eq!(h.machine.chunk_size(), 4);
    assert_eq!(h.request().body.len(), 4);

    let mut h = draft(9, config(Some(101), 100), None);
    h.limits("max-size=100");
    assert_eq!(h.failed(), UploadError::TooLarge { length: 101, max: 100 });

    // A 413 that brings the limit resends at once at that size.
    let mut h = draft(9, config(Some(10), 8), None);
    h.limits("min-size=0");
    h.request();
    h.answer(
        201,
        &[
            ("location", "/files/abc"),
            ("upload-complete", "?0"),
            ("upload-offset", "8"),
        ],
    );
    h.patch(8, 2);
    h.answer(201, &[("upload-complete", "?1")]);
    h.done();
    let mut h = draft(9, config(Some(20), 8), None);
    h.limits("min-size=0");
    h.request();
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?0")]);
    h.patch(8, 8);
    h.answer(413, &[("upload-limit", "max-append-size=3")]);
    h.patch(8, 3);
    assert!(h.retries().is_empty());
}

#[test]
fn resume_completes_an_upload_whose_bytes_all_arrived() {
    let mut h = draft(6, config(Some(10), 4), Some(URL));
    h.limits("min-size=0");
    let head = h.head();
    assert!(
        head.headers.get("upload-offset").is_none(),
        "interop 6 refuses state in HEAD"
    );
    h.answer(
        204,
        &[
            ("upload-offset", "10"),
            ("upload-complete", "?0"),
            ("upload-length", "10"),
        ],
    );
    let end = h.patch(10, 0);
    assert_eq!(complete(&end).as_deref(), Some("?1"));
    h.answer(201, &[("upload-complete", "?1"), ("upload-offset", "10")]);
    h.done();

    let mut h = draft(9, config(Some(10), 4), Some(URL));
    h.limits("min-size=0");
    h.head();
    h.answer(204, &[("upload-offset", "10"), ("upload-complete", "?1")]);
    assert_eq!(h.done().to_string(), URL);
}

#[test]
fn an_error_that_ends_the_upload_is_final() {
    let mut h = draft(9, config(Some(4), 4), None);
    h.limits("min-size=0");
    h.request();
    h.answer(
        400,
        &[
            ("upload-complete", "?1"),
            ("location", "/files/abc"),
            ("content-type", "text/plain"),
        ],
    );
    assert!(matches!(h.failed(), UploadError::Refused { .. }));
    assert!(h.retries().is_empty());

    let mut h = draft(9, config(Some(8), 4), Some(URL));
    h.limits("min-size=0");
    h.head();
    h.answer(
        204,
        &[
            ("upload-offset", "4"),
            ("upload-complete", "?0"),
            ("upload-length", "8"),
        ],
    );
    h.patch(4, 4);
    h.answer(500, &[("upload-complete", "?1")]);
    assert!(matches!(h.failed(), UploadError::Refused { .. }));
    assert_eq!(h.forgotten(), [ForgetReason::Ended(StatusCode::INTERNAL_SERVER_ERROR)]);
}

#[test]
fn auto_speaks_tus_to_tus_servers() {
    let nine = Ietf::new(InteropVersion::V9).expect("9");
    let mut h = Harness::speaking(Box::new(Auto::new(nine)), config(Some(10), 16), None);
    let options = h.request();
    assert!(!options.headers.contains_key("upload-draft-interop-version"));
    h.answer(204, &[("tus-version", "1.0.0"), ("tus-extension", "creation")]);
    let post = h.created();
    assert_eq!(header(&post, "tus-resumable").as_deref(), Some("1.0.0"));
    h.patch_ok(0, 10);
    h.done();
    assert_eq!(h.protocols(), ["tus-1.0.0"]);
}

#[test]
fn auto_speaks_the_draft_to_a_server_without_tus() {
    let nine = Ietf::new(InteropVersion::V9).expect("9");
    let mut h = Harness::speaking(Box::new(Auto::new(nine)), config(Some(10), 16), None);
    h.request();
    h.answer(405, &[]);
    h.limits("max-append-size=6");
    let post = h.request();
    assert_eq!(header(&post, "upload-draft-interop-version").as_deref(), Some("9"));
    assert_eq!(post.body.len(), 6);
    h.answer(201, &[("location", "/files/abc"), ("upload-complete", "?0")]);
    h.patch(6, 4);
    h.answer(201, &[("upload-complete", "?1")]);
    h.done();
    assert_eq!(h.protocols(), ["ietf-9"]);
}
