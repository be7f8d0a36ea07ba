//! Scenarios of the upload machine: scripted server answers in, requests
//! and decisions out, no socket.

use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};

use super::*;
use crate::client::{ChecksumPreference, ChunkPolicy, RetryPolicy, Tus1};
use crate::headers::ChecksumAlgorithm;

const ENDPOINT: &str = "http://127.0.0.1:1080/files/";
const URL: &str = "http://127.0.0.1:1080/files/abc";

struct Harness {
    machine: UploadMachine,
    instant: Instant,
    wall: SystemTime,
    events: Vec<Event>,
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    map
}

fn config(length: Option<u64>, chunk: u64) -> UploadConfig {
    let mut config = UploadConfig::new(ENDPOINT.parse().expect("uri"), length);
    config.chunk = ChunkPolicy { initial: chunk, min: 1 };
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(2),
        max_attempts: 5,
        max_elapsed: Duration::from_secs(60),
        ..RetryPolicy::default()
    };
    config
}

impl Harness {
    fn new(config: UploadConfig, resume: Option<&str>) -> Self {
        Self::speaking(Box::new(Tus1), config, resume)
    }

    fn speaking(dialect: Box<dyn Dialect>, config: UploadConfig, resume: Option<&str>) -> Self {
        let resume = resume.map(|url| ResumePoint {
            url: url.parse().expect("uri"),
            expires: None,
        });
        Self {
            machine: UploadMachine::new(dialect, config, resume),
            instant: Instant::now(),
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            events: Vec::new(),
        }
    }

    fn now(&self) -> Now {
        Now::new(self.instant, self.wall)
    }

    fn drain(&mut self) {
        while let Some(event) = self.machine.poll_event() {
            self.events.push(event);
        }
    }

    /// Polls, sleeping through waits; returns the first other action.
    fn next(&mut self) -> Action {
        for _ in 0..100 {
            let action = self.machine.poll(self.now());
            self.drain();
            match action {
                Action::Wait(until) => {
                    let slept = until.saturating_duration_since(self.instant);
                    self.instant = until;
                    self.wall += slept;
                }
                other => return other,
            }
        }
        panic!("the machine kept waiting")
    }

    fn request(&mut self) -> Request {
        match self.next() {
            Action::Send(request) => request,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    fn answer(&mut self, status: u16, pairs: &[(&str, &str)]) {
        let headers = headers(pairs);
        let answer = Answer {
            status: StatusCode::from_u16(status).expect("status"),
            headers: &headers,
            body: b"reason",
        };
        self.machine.on_answer(&answer, self.now());
        self.drain();
    }

    /// Answers OPTIONS with these extensions (and algorithms).
    fn discover(&mut self, extensions: &str, extra: &[(&str, &str)]) {
        let request = self.request();
        assert_eq!(request.method, Method::OPTIONS);
        let mut pairs = vec![("tus-version", "1.0.0"), ("tus-extension", extensions)];
        pairs.extend_from_slice(extra);
        self.answer(204, &pairs);
    }

    fn created(&mut self) -> Request {
        let request = self.request();
        assert_eq!(request.method, Method::POST);
        self.answer(201, &[("location", "/files/abc")]);
        request
    }

    /// Expects a PATCH at `offset` of `len` bytes and acknowledges it fully.
    fn patch_ok(&mut self, offset: u64, len: u64) -> Request {
        let request = self.patch(offset, len);
        self.answer(204, &[("upload-offset", &(offset + len).to_string())]);
        request
    }

    fn patch(&mut self, offset: u64, len: u64) -> Request {
        let request = self.request();
        assert_eq!(request.method, Method::PATCH, "{request:?}");
        assert_eq!(
            header(&request, "upload-offset"),
            Some(offset.to_string()),
            "{request:?}"
        );
        assert_eq!(request.body.len(), len, "{request:?}");
        request
    }

    fn head(&mut self) -> Request {
        let request = self.request();
        assert_eq!(request.method, Method::HEAD, "{request:?}");
        request
    }

    fn done(&mut self) -> Uri {
        match self.next() {
            Action::Done(url) => url,
            other => panic!("expected done, got {other:?}"),
        }
    }

    fn failed(&mut self) -> UploadError {
        match self.next() {
            Action::Failed(error) => error,
            other => panic!("expected a failure, got {other:?}"),
        }
    }

    fn retries(&self) -> Vec<Duration> {
        let delays = self.events.iter().filter_map(|event| match event {
            Event::Retrying { delay, .. } => Some(*delay),
            _ => None,
        });
        delays.collect()
    }

    fn forgotten(&self) -> Vec<ForgetReason> {
        let reasons = self.events.iter().filter_map(|event| match event {
            Event::Forgotten { reason, .. } => Some(reason.clone()),
            _ => None,
        });
        reasons.collect()
    }
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().expect("ascii").to_owned())
}

#[test]
fn chunked_upload_from_creation_to_done() {
    let mut h = Harness::new(config(Some(10), 4), None);
    h.discover("creation", &[]);
    let post = h.created();
    assert_eq!(header(&post, "upload-length").as_deref(), Some("10"));
    assert_eq!(post.body, BodyPlan::Empty);
    h.patch_ok(0, 4);
    h.patch_ok(4, 4);
    let last = h.patch_ok(8, 2);
    assert_eq!(
        header(&last, "upload-length"),
        None,
        "the length was declared at creation"
    );
    assert_eq!(h.done().to_string(), URL);
    assert!(h.events.contains(&Event::Created {
        url: URL.parse().expect("uri"),
        expires: None
    }));
}

#[test]
fn creation_with_upload_carries_the_first_chunk() {
    let mut h = Harness::new(config(Some(10), 4), None);
    h.discover("creation,creation-with-upload", &[]);
    let post = h.request();
    assert_eq!(
        post.body,
        BodyPlan::Range {
            offset: 0,
            len: 4,
            checksum: None
        }
    );
    h.answer(201, &[("location", URL), ("upload-offset", "4")]);
    h.patch_ok(4, 4);
    h.patch_ok(8, 2);
    h.done();
}

#[test]
fn creation_with_upload_without_offset_reads_it() {
    let mut h = Harness::new(config(Some(10), 16), None);
    h.discover("creation,creation-with-upload", &[]);
    h.request();
    h.answer(201, &[("location", URL)]);
    h.head();
    h.answer(200, &[("upload-offset", "10"), ("upload-length", "10")]);
    h.done();
}

#[test]
fn resume_continues_from_the_server_offset() {
    let mut h = Harness::new(config(Some(10), 4), Some(URL));
    h.discover("creation", &[]);
    h.head();
    h.answer(200, &[("upload-offset", "6"), ("upload-length", "10")]);
    h.patch_ok(6, 4);
    h.done();
    assert!(h.events.contains(&Event::Resumed {
        url: URL.parse().expect("uri"),
        offset: 6
    }));
}

#[test]
fn resume_forgets_only_on_404_410_and_mismatch() {
    // (HEAD answer, forgotten and re-created?, failed?)
    let cases: &[(u16, &[(&str, &str)], bool)] = &[
        (404, &[], true),
        (410, &[], true),
        (200, &[("upload-offset", "3"), ("upload-length", "99")], true),
        (200, &[("upload-offset", "11")], true),
    ];
    for (status, pairs, _) in cases {
        let mut h = Harness::new(config(Some(10), 100), Some(URL));
        h.discover("creation", &[]);
        h.head();
        h.answer(*status, pairs);
        assert_eq!(h.forgotten().len(), 1, "{status} {pairs:?}");
        let post = h.created();
        assert_eq!(header(&post, "upload-length").as_deref(), Some("10"));
        h.patch_ok(0, 10);
        h.done();
    }
    for status in [401, 403, 400] {
        let mut h = Harness::new(config(Some(10), 100), Some(URL));
        h.discover("creation", &[]);
        h.head();
        h.answer(status, &[]);
        let error = h.failed();
        assert!(matches!(error, UploadError::Refused { status: s, .. } if s.as_u16() == status));
        assert!(h.forgotten().is_empty(), "never forget on {status}");
    }
}

#[test]
fn an_expired_entry_is_forgotten_without_asking() {
    let mut config = config(Some(10), 100);
    config.capabilities = Some(Capabilities::unknown());
    let mut h = Harness::new(config, None);
    h.machine = UploadMachine::new(
        Box::new(Tus1),
        h.machine.config.clone(),
        Some(ResumePoint {
            url: URL.parse().expect("uri"),
            expires: Some(h.wall - Duration::from_secs(1)),
        }),
    );
    let post = h.created();
    assert_eq!(post.method, Method::POST);
    assert_eq!(h.forgotten(), vec![ForgetReason::Expired]);
}

#[test]
fn retried_statuses_wait_then_resync() {
    for (status, extra) in [
        (500u16, vec![]),
        (503, vec![]),
        (408, vec![]),
        (423, vec![]),
        (429, vec![("retry-after", "3")]),
    ] {
        let mut h = Harness::new(config(Some(8), 4), None);
        h.discover("creation", &[]);
        h.created();
        h.patch_ok(0, 4);
        h.patch(4, 4);
        h.answer(status, &extra);
        h.head();
        h.answer(204, &[("upload-offset", "4")]);
        h.patch_ok(4, 4);
        h.done();
        let retries = h.retries();
        assert_eq!(retries.len(), 1, "{status}");
        if status == 429 {
            assert!(
                retries[0] >= Duration::from_secs(3),
                "Retry-After honoured: {retries:?}"
            );
        }
    }
}

#[test]
fn conflict_rereads_the_offset() {
    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 4);
    h.answer(409, &[]);
    h.head();
    h.answer(200, &[("upload-offset", "2")]);
    h.patch_ok(2, 4);
    h.patch_ok(6, 2);
    h.done();
}

#[test]
fn refusals_are_not_retried_and_keep_the_entry() {
    for status in [400, 401, 403, 412, 415] {
        let mut h = Harness::new(config(Some(8), 4), None);
        h.discover("creation", &[]);
        h.created();
        h.patch(0, 4);
        h.answer(status, &[]);
        let error = h.failed();
        assert!(error.is_refusal(), "{status}");
        assert!(h.forgotten().is_empty());
        assert!(h.retries().is_empty());
    }
}

#[test]
fn gone_mid_upload_is_forgotten_and_fails() {
    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 4);
    h.answer(410, &[]);
    assert!(matches!(h.failed(), UploadError::Gone { .. }));
    assert_eq!(h.forgotten(), vec![ForgetReason::Gone(StatusCode::GONE)]);
}

#[test]
fn retries_are_bounded_and_reset_by_progress() {
    let mut cfg = config(Some(100), 10);
    cfg.retry.max_attempts = 2;
    cfg.chunk.min = 10;
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    h.created();
    let mut offset = 0;
    // Two failures, then progress, ten times over: never exhausted.
    for _ in 0..10 {
        for _ in 0..2 {
            h.patch(offset, 10);
            h.machine.on_failure(TransportFailure::Io, "connection reset", h.now());
            h.head();
            h.answer(200, &[("upload-offset", &offset.to_string())]);
        }
        h.patch_ok(offset, 10);
        offset += 10;
    }
    h.done();

    let mut cfg = config(Some(100), 10);
    cfg.retry.max_attempts = 2;
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    h.created();
    for _ in 0..2 {
        h.request();
        h.machine.on_failure(TransportFailure::Connect, "refused", h.now());
    }
    h.request();
    h.machine.on_failure(TransportFailure::Connect, "refused", h.now());
    assert!(matches!(h.failed(), UploadError::RetriesExhausted { attempts: 3, .. }));
}

#[test]
fn retry_time_is_bounded() {
    let mut cfg = config(Some(100), 10);
    cfg.retry.max_attempts = 1000;
    cfg.retry.max_elapsed = Duration::from_secs(10);
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    for attempt in 0..1000 {
        let _ = h.request();
        h.answer(503, &[]);
        if let Some(Action::Failed(error)) = Some(h.machine.poll(h.now())) {
            assert!(matches!(error, UploadError::RetriesExhausted { .. }));
            assert!(attempt > 3, "gave up after {attempt}");
            return;
        }
    }
    panic!("never gave up");
}

#[test]
fn checksum_mismatch_is_retried_three_times() {
    let mut cfg = config(Some(4), 4);
    cfg.chunk.min = 4;
    let mut h = Harness::new(cfg, None);
    h.discover("creation,checksum", &[("tus-checksum-algorithm", "sha1")]);
    h.created();
    for _ in 0..3 {
        h.patch(0, 4);
        h.answer(460, &[]);
        h.head();
        h.answer(200, &[("upload-offset", "0")]);
    }
    h.patch(0, 4);
    h.answer(460, &[]);
    assert!(matches!(h.failed(), UploadError::RetriesExhausted { .. }));
}

#[test]
fn a_413_halves_the_chunk_and_resends_at_once() {
    let mut h = Harness::new(config(Some(4096), 4096), None);
    h.discover("creation,creation-with-upload", &[]);
    let post = h.request();
    assert_eq!(post.body.len(), 4096);
    h.answer(413, &[]);
    let post = h.request();
    assert_eq!(post.body.len(), 2048, "creation-with-upload shrinks too");
    h.answer(201, &[("location", URL), ("upload-offset", "2048")]);
    h.patch(2048, 2048);
    h.answer(413, &[]);
    h.patch_ok(2048, 1024);
    h.patch_ok(3072, 1024);
    h.done();
    assert!(h.retries().is_empty(), "a 413 is not a failure to wait for");
}

#[test]
fn a_413_at_the_smallest_chunk_is_final() {
    let mut cfg = config(Some(100), 10);
    cfg.chunk.min = 10;
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 10);
    h.answer(413, &[]);
    assert!(matches!(h.failed(), UploadError::Refused { .. }));
}

#[test]
fn repeated_failures_without_progress_shrink_the_chunk() {
    let mut cfg = config(Some(1000), 400);
    cfg.chunk.min = 50;
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    h.created();
    let mut sizes = Vec::new();
    for _ in 0..4 {
        let request = h.request();
        sizes.push(request.body.len());
        h.machine.on_failure(TransportFailure::Io, "reset", h.now());
        h.head();
        h.answer(200, &[("upload-offset", "0")]);
    }
    assert_eq!(sizes, [400, 400, 200, 100]);
}

#[test]
fn a_stream_defers_its_length_and_declares_it_at_the_end() {
    let mut h = Harness::new(config(None, 4), None);
    h.discover("creation,creation-defer-length", &[]);
    assert!(matches!(h.next(), Action::Read { offset: 0, max: 4 }));
    h.machine.on_read(0, 4, false);
    let post = h.created();
    assert_eq!(header(&post, "upload-defer-length").as_deref(), Some("1"));
    let first = h.patch_ok(0, 4);
    assert_eq!(header(&first, "upload-length"), None);
    assert!(matches!(h.next(), Action::Read { offset: 4, max: 4 }));
    h.machine.on_read(4, 2, true);
    // The last PATCH declares the length, and so does its retry.
    let last = h.patch(4, 2);
    assert_eq!(header(&last, "upload-length").as_deref(), Some("6"));
    h.answer(503, &[]);
    h.head();
    h.answer(200, &[("upload-offset", "4"), ("upload-defer-length", "1")]);
    let retried = h.patch_ok(4, 2);
    assert_eq!(header(&retried, "upload-length").as_deref(), Some("6"));
    h.done();
}

#[test]
fn a_stream_ending_on_a_chunk_boundary_ends_with_an_empty_patch() {
    let mut h = Harness::new(config(None, 4), None);
    h.discover("creation,creation-defer-length", &[]);
    assert!(matches!(h.next(), Action::Read { .. }));
    h.machine.on_read(0, 4, false);
    h.created();
    h.patch_ok(0, 4);
    assert!(matches!(h.next(), Action::Read { offset: 4, .. }));
    h.machine.on_read(4, 0, true);
    let last = h.patch_ok(4, 0);
    assert_eq!(header(&last, "upload-length").as_deref(), Some("4"));
    h.done();
}

#[test]
fn a_short_stream_gets_a_known_length() {
    let mut h = Harness::new(config(None, 4), None);
    h.discover("creation", &[]);
    assert!(matches!(h.next(), Action::Read { .. }));
    h.machine.on_read(0, 3, true);
    let post = h.created();
    assert_eq!(header(&post, "upload-length").as_deref(), Some("3"));
    h.patch_ok(0, 3);
    h.done();
}

#[test]
fn a_stream_needs_defer_length() {
    let mut h = Harness::new(config(None, 4), None);
    h.discover("creation", &[]);
    assert!(matches!(h.next(), Action::Read { .. }));
    h.machine.on_read(0, 4, false);
    assert!(matches!(h.failed(), UploadError::Unsupported(_)));
}

#[test]
fn tus_max_size_is_respected() {
    let mut h = Harness::new(config(Some(10), 4), None);
    h.discover("creation", &[("tus-max-size", "9")]);
    assert_eq!(h.failed(), UploadError::TooLarge { length: 10, max: 9 });

    let mut h = Harness::new(config(None, 4), None);
    h.discover("creation,creation-defer-length", &[("tus-max-size", "6")]);
    assert!(matches!(h.next(), Action::Read { .. }));
    h.machine.on_read(0, 4, false);
    h.created();
    h.patch_ok(0, 4);
    assert!(matches!(h.next(), Action::Read { .. }));
    h.machine.on_read(4, 4, false);
    assert!(matches!(h.failed(), UploadError::TooLarge { max: 6, .. }));
}

#[test]
fn checksums_follow_the_advertisement() {
    let mut cfg = config(Some(4), 4);
    cfg.checksum = ChecksumPreference::Auto;
    let mut h = Harness::new(cfg.clone(), None);
    h.discover(
        "creation,creation-with-upload,checksum",
        &[("tus-checksum-algorithm", "md5,sha1,sha256")],
    );
    let post = h.created();
    assert_eq!(
        post.body,
        BodyPlan::Empty,
        "the first chunk goes checksummed in a PATCH"
    );
    let patch = h.patch_ok(0, 4);
    let BodyPlan::Range {
        checksum: Some(plan), ..
    } = patch.body
    else {
        panic!("no checksum planned: {patch:?}")
    };
    assert_eq!(plan.algorithm, ChecksumAlgorithm::Sha256);

    // Not advertised: none sent, never assumed.
    let mut h = Harness::new(cfg.clone(), None);
    h.discover("creation", &[("tus-checksum-algorithm", "sha1")]);
    h.created();
    let patch = h.patch_ok(0, 4);
    assert!(matches!(patch.body, BodyPlan::Range { checksum: None, .. }));

    cfg.checksum = ChecksumPreference::Algorithm(ChecksumAlgorithm::Sha1);
    let mut h = Harness::new(cfg, None);
    h.discover("creation", &[]);
    assert!(matches!(h.failed(), UploadError::Unsupported(_)));
}

#[test]
fn options_refused_means_capabilities_unknown() {
    for status in [404, 405] {
        let mut h = Harness::new(config(Some(4), 4), None);
        h.request();
        h.answer(status, &[]);
        h.created();
        h.patch_ok(0, 4);
        h.done();
    }
}

#[test]
fn parts_and_final_concatenation() {
    let mut cfg = config(Some(4), 4);
    cfg.role = Role::Partial;
    let mut h = Harness::new(cfg.clone(), None);
    h.discover("creation,concatenation", &[]);
    let post = h.created();
    assert_eq!(header(&post, "upload-concat").as_deref(), Some("partial"));
    h.patch_ok(0, 4);
    h.done();

    let mut h = Harness::new(cfg.clone(), None);
    h.discover("creation", &[]);
    assert!(
        matches!(h.failed(), UploadError::Unsupported(_)),
        "@tus/server has no concatenation"
    );

    cfg.role = Role::Final(vec![
        "http://127.0.0.1:1080/files/p1".parse().expect("uri"),
        "http://127.0.0.1:1080/files/p2".parse().expect("uri"),
    ]);
    cfg.length = None;
    let mut h = Harness::new(cfg.clone(), None);
    h.discover("creation,concatenation", &[]);
    let post = h.request();
    assert_eq!(
        header(&post, "upload-concat").as_deref(),
        Some("final;http://127.0.0.1:1080/files/p1 http://127.0.0.1:1080/files/p2")
    );
    assert_eq!(header(&post, "upload-defer-length"), None);
    h.answer(201, &[("location", "/files/final")]);
    assert_eq!(h.done().to_string(), "http://127.0.0.1:1080/files/final");

    // A stored final upload is done once it exists.
    let mut h = Harness::new(cfg, Some("http://127.0.0.1:1080/files/final"));
    h.discover("creation,concatenation", &[]);
    h.head();
    h.answer(200, &[("upload-offset", "8"), ("upload-length", "8")]);
    h.done();
}

#[test]
fn answers_that_break_the_protocol() {
    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 4);
    h.answer(204, &[("upload-offset", "5")]);
    assert!(matches!(h.failed(), UploadError::Protocol(_)));

    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.request();
    h.answer(201, &[]);
    assert!(matches!(h.failed(), UploadError::Protocol(_)));
}

#[test]
fn a_partial_acknowledgement_continues_from_it() {
    // @tus/server ends a PATCH whose lock was stolen with 204 and a partial offset.
    let mut h = Harness::new(config(Some(8), 8), None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 8);
    h.answer(204, &[("upload-offset", "3")]);
    h.patch_ok(3, 5);
    h.done();
}

#[test]
fn an_offset_going_back_is_resynced() {
    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.patch_ok(0, 4);
    h.patch(4, 4);
    h.answer(204, &[("upload-offset", "2")]);
    h.head();
    h.answer(200, &[("upload-offset", "2")]);
    h.patch_ok(2, 4);
    h.patch_ok(6, 2);
    h.done();
    assert!(
        h.events
            .iter()
            .any(|event| matches!(event, Event::OffsetRegressed { from: 4, to: 2 }))
    );
}

#[test]
fn interrupt_resyncs_without_counting_a_failure() {
    let mut h = Harness::new(config(Some(8), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.patch(0, 4);
    h.machine.interrupt();
    h.head();
    h.answer(200, &[("upload-offset", "1")]);
    h.patch_ok(1, 4);
    h.patch_ok(5, 3);
    h.done();
    assert!(h.retries().is_empty());
}

#[test]
fn transport_failures_retry_the_same_step() {
    let mut h = Harness::new(config(Some(4), 4), Some(URL));
    h.request();
    h.machine.on_failure(TransportFailure::Connect, "refused", h.now());
    h.discover("creation", &[]);
    h.head();
    h.machine.on_failure(TransportFailure::Timeout, "timed out", h.now());
    h.head();
    h.answer(200, &[("upload-offset", "0"), ("upload-length", "4")]);
    h.patch_ok(0, 4);
    h.done();
    assert_eq!(h.retries().len(), 2);
}

#[test]
fn an_empty_upload_is_done_after_creation() {
    let mut h = Harness::new(config(Some(0), 4), None);
    h.discover("creation", &[]);
    h.created();
    h.done();
}

#[path = "machine_ietf_tests.rs"]
mod ietf;
