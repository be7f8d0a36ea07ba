//! The draft dialect's requests, as the server's parser reads them, and
//! its readings of answers, per version.

use http::{HeaderMap, Method, StatusCode, Uri};

use super::*;
use crate::client::dialect::{Answer, AppendSpec, BodyPlan, CreateSpec, Dialect, Discovery, Sent};
use crate::headers::Metadata;
use crate::headers::ietf::{InteropVersion, Lifetime};
use crate::server::ietf::request::{IetfRequest, PARTIAL_UPLOAD};
use crate::test_support::headers;

const VERSIONS: [InteropVersion; 3] = [InteropVersion::V9, InteropVersion::V8, InteropVersion::V6];

fn uri(text: &str) -> Uri {
    text.parse().expect("uri")
}

fn dialect(version: InteropVersion) -> Ietf {
    Ietf::new(version).expect("supported")
}

fn answer<'a>(status: u16, headers: &'a HeaderMap, body: &'a [u8]) -> Answer<'a> {
    Answer {
        status: StatusCode::from_u16(status).expect("status"),
        headers,
        body,
    }
}

/// Parses a client request with the server's draft parser.
fn server_view(version: InteropVersion, request: &crate::client::Request) -> IetfRequest {
    IetfRequest::parse(
        version,
        &request.method,
        request.uri.path(),
        &request.headers,
        "/files/",
    )
    .expect("the server accepts what the client sends")
}

#[test]
fn requests_are_what_the_server_parses() {
    let endpoint = uri("http://127.0.0.1:1080/files/");
    let url = uri("http://127.0.0.1:1080/files/abc");
    let mut metadata = Metadata::new();
    metadata.insert("filename", "a b.txt").expect("key");
    metadata.insert("filetype", "text/plain").expect("key");
    for version in VERSIONS {
        let ietf = dialect(version);
        assert_eq!(ietf.version(), version);
        let create = ietf.create(
            &endpoint,
            &CreateSpec {
                length: Some(100),
                metadata: &metadata,
                concat: None,
                body: BodyPlan::Range {
                    offset: 0,
                    len: 10,
                    checksum: None,
                },
                complete: false,
            },
        );
        assert_eq!(create.method, Method::POST);
        assert_eq!(create.headers["content-length"], "10");
        assert_eq!(create.headers["content-type"], "text/plain");
        assert_eq!(
            create.headers["upload-draft-interop-version"],
            version.0.to_string().as_str()
        );
        let IetfRequest::Create(parsed) = server_view(version, &create) else {
            panic!("not a creation")
        };
        assert_eq!(
            (parsed.complete, parsed.length, parsed.content_length),
            (false, Some(100), Some(10))
        );
        assert_eq!(parsed.metadata, metadata);

        // A stream of unknown length: no Upload-Length, nothing to declare yet.
        let empty = ietf.create(
            &endpoint,
            &CreateSpec {
                length: None,
                metadata: &Metadata::new(),
                concat: None,
                body: BodyPlan::Empty,
                complete: false,
            },
        );
        assert!(!empty.headers.contains_key("upload-length"));
        assert!(!empty.headers.contains_key("upload-metadata"));
        assert_eq!(empty.headers["content-length"], "0");
        let IetfRequest::Create(parsed) = server_view(version, &empty) else {
            panic!("not a creation")
        };
        assert_eq!(
            (parsed.complete, parsed.length, parsed.has_content),
            (false, None, false)
        );

        let last = ietf.append(
            &url,
            &AppendSpec {
                offset: 90,
                len: 10,
                declare_length: Some(100),
                checksum: None,
                complete: true,
            },
        );
        assert_eq!(last.headers["content-type"], PARTIAL_UPLOAD);
        assert_eq!(last.body.len(), 10);
        let IetfRequest::Append(parsed) = server_view(version, &last) else {
            panic!("not an append")
        };
        assert_eq!(
            (parsed.offset, parsed.complete, parsed.length, parsed.content_length),
            (90, true, Some(100), Some(10))
        );

        // The stream ended on a chunk boundary: an empty `?1` completes it.
        let end = ietf.append(
            &url,
            &AppendSpec {
                offset: 100,
                len: 0,
                declare_length: None,
                checksum: None,
                complete: true,
            },
        );
        assert_eq!(end.body, BodyPlan::Empty);
        let IetfRequest::Append(parsed) = server_view(version, &end) else {
            panic!("not an append")
        };
        assert!(parsed.complete && !parsed.has_content);

        assert_eq!(
            server_view(version, &ietf.head(&url)),
            IetfRequest::Head("abc".parse().expect("id"))
        );
        assert_eq!(
            server_view(version, &ietf.terminate(&url)),
            IetfRequest::Cancel("abc".parse().expect("id"))
        );
        assert_eq!(server_view(version, &ietf.discover(&endpoint)), IetfRequest::Options);
        assert!(ietf.explicit_completion());
    }
}

#[test]
fn names_round_trip() {
    for version in VERSIONS {
        let ietf = dialect(version);
        let named = crate::client::dialect_named(ietf.name()).expect("named");
        assert_eq!(named.name(), ietf.name());
    }
    assert_eq!(
        crate::client::dialect_named("tus-1.0.0").expect("tus").name(),
        "tus-1.0.0"
    );
    assert!(crate::client::dialect_named("auto").is_none());
    assert!(Ietf::new(InteropVersion(7)).is_none());
}

#[test]
fn creation_answers() {
    let endpoint = uri("http://h:1/files/");
    // (version, sent (end, complete), status, headers, expected (url?, offset, complete) or error)
    type Case = (
        u64,
        (u64, bool),
        u16,
        &'static [(&'static str, &'static str)],
        Option<(bool, u64, bool)>,
    );
    let cases: &[Case] = &[
        // Interop 6: 201 with Location, Upload-Offset, ?0 for an incomplete part.
        (
            6,
            (4, false),
            201,
            &[
                ("location", "/files/a"),
                ("upload-offset", "4"),
                ("upload-complete", "?0"),
            ],
            Some((true, 4, false)),
        ),
        (
            6,
            (9, true),
            201,
            &[("location", "/files/a"), ("upload-offset", "9")],
            Some((true, 9, true)),
        ),
        // Interop 9: an incomplete creation may leave the offset out: all of it arrived.
        (
            9,
            (4, false),
            201,
            &[("location", "a"), ("upload-complete", "?0")],
            Some((true, 4, false)),
        ),
        // The target resource's final answer may have no Location.
        (9, (9, true), 200, &[("upload-complete", "?1")], Some((false, 9, true))),
        (8, (9, true), 200, &[], Some((false, 9, true))),
        // An incomplete creation must say where the upload is.
        (9, (4, false), 201, &[("upload-complete", "?0")], None),
    ];
    for (version, (end, complete), status, list, expected) in cases {
        let map = headers(list);
        let read = dialect(InteropVersion(*version)).read_created(
            &endpoint,
            &answer(*status, &map, b""),
            Sent {
                end: *end,
                complete: *complete,
            },
        );
        let got = read.ok().map(|created| {
            (
                created.url.is_some(),
                created.offset.expect("an offset"),
                created.complete,
            )
        });
        assert_eq!(got, *expected, "v{version} {status} {list:?}");
    }
    let with_limit = headers(&[
        ("location", "http://h:1/files/a"),
        ("upload-limit", "max-append-size=1000, max-age=60"),
    ]);
    let created = dialect(InteropVersion::V9)
        .read_created(
            &endpoint,
            &answer(201, &with_limit, b""),
            Sent {
                end: 0,
                complete: false,
            },
        )
        .expect("created");
    let limit = created.limit.expect("limit");
    assert_eq!(
        (limit.max_append_size, limit.lifetime),
        (Some(1000), Some(Lifetime::MaxAge(60)))
    );
}

#[test]
fn append_and_offset_answers() {
    let sent = |end, complete| Sent { end, complete };
    let cases: &[(u64, Sent, u16, &[(&str, &str)], (u64, bool))] = &[
        (
            6,
            sent(8, false),
            201,
            &[("upload-offset", "8"), ("upload-complete", "?0")],
            (8, false),
        ),
        // @tus/server-style partial acknowledgement is trusted.
        (
            6,
            sent(8, false),
            201,
            &[("upload-offset", "6"), ("upload-complete", "?0")],
            (6, false),
        ),
        (9, sent(8, false), 204, &[("upload-complete", "?0")], (8, false)),
        (
            9,
            sent(10, true),
            201,
            &[("upload-complete", "?1"), ("upload-offset", "10")],
            (10, true),
        ),
        (8, sent(10, true), 200, &[], (10, true)),
        (6, sent(10, true), 204, &[("upload-offset", "10")], (10, true)),
    ];
    for (version, sent, status, list, expected) in cases {
        let map = headers(list);
        let appended = dialect(InteropVersion(*version))
            .read_appended(&answer(*status, &map, b""), *sent)
            .expect("appended");
        assert_eq!((appended.offset, appended.complete), *expected, "v{version} {list:?}");
    }

    let ietf = dialect(InteropVersion::V9);
    let head = headers(&[
        ("upload-offset", "5"),
        ("upload-complete", "?0"),
        ("upload-length", "9"),
        ("upload-limit", "max-size=9"),
    ]);
    let state = ietf.read_head(&answer(204, &head, b"")).expect("state");
    assert_eq!((state.offset, state.length, state.complete), (5, Some(9), false));
    assert_eq!(state.limit.and_then(|limit| limit.max_size), Some(9));
    let done = headers(&[("upload-offset", "9"), ("upload-complete", "?1")]);
    assert!(ietf.read_head(&answer(200, &done, b"")).expect("state").complete);
    assert!(
        ietf.read_head(&answer(204, &headers(&[("upload-offset", "?1")]), b""))
            .is_err()
    );
}

#[test]
fn refusals() {
    let nine = dialect(InteropVersion::V9);
    let six = dialect(InteropVersion::V6);
    let problem = br#"{"type":"https://iana.org/assignments/http-problem-types#mismatching-upload-offset","expected-offset":7,"provided-offset":9}"#;

    let conflict = headers(&[("upload-offset", "7"), ("upload-complete", "?0")]);
    let refusal = nine.read_refusal(&answer(409, &conflict, problem));
    assert_eq!(refusal.offset, Some(7));
    assert!(!refusal.final_answer && refusal.fallback.is_none());
    // The problem document alone is enough.
    assert_eq!(
        six.read_refusal(&answer(409, &HeaderMap::new(), problem)).offset,
        Some(7)
    );
    // Only a 409 moves the offset.
    assert_eq!(nine.read_refusal(&answer(400, &conflict, problem)).offset, None);

    let ended = headers(&[("upload-complete", "?1")]);
    assert!(nine.read_refusal(&answer(400, &ended, b"")).final_answer);
    assert!(!six.read_refusal(&answer(400, &ended, b"")).final_answer);

    let too_large = headers(&[("upload-limit", "max-append-size=100")]);
    let limit = nine.read_refusal(&answer(413, &too_large, b"")).limit.expect("limit");
    assert_eq!(limit.max_append_size, Some(100));

    let unsupported = b"ERR_UNSUPPORTED_INTEROP_VERSION: unsupported Upload-Draft-Interop-Version";
    let fallback = nine
        .read_refusal(&answer(400, &HeaderMap::new(), unsupported))
        .fallback
        .expect("falls back");
    assert_eq!(fallback.name(), "ietf-6");
    assert!(
        six.read_refusal(&answer(400, &HeaderMap::new(), unsupported))
            .fallback
            .is_none()
    );

    match nine.read_discovery(&answer(400, &HeaderMap::new(), unsupported)) {
        Discovery::Switch(older, None) => assert_eq!(older.name(), "ietf-6"),
        other => panic!("expected a switch to 6, got {other:?}"),
    }
    match nine.read_discovery(&answer(405, &HeaderMap::new(), b"")) {
        Discovery::Capabilities(caps) => assert_eq!(caps.max_append_size, None),
        other => panic!("OPTIONS is optional: {other:?}"),
    }
}

#[test]
fn interim_answers() {
    let ietf = dialect(InteropVersion::V9);
    let endpoint = uri("http://h:1/files/");
    let status = StatusCode::from_u16(104).expect("104");
    let first = headers(&[
        ("upload-draft-interop-version", "9"),
        ("location", "/files/x"),
        ("upload-limit", "max-append-size=64"),
    ]);
    let interim = ietf
        .read_interim(&endpoint, status, &first)
        .expect("a 104 of this version");
    assert_eq!(interim.location, Some(uri("http://h:1/files/x")));
    assert_eq!(interim.limit.and_then(|limit| limit.max_append_size), Some(64));
    let other = headers(&[("upload-draft-interop-version", "6"), ("location", "/files/x")]);
    assert!(
        ietf.read_interim(&endpoint, status, &other).is_none(),
        "another version's 104"
    );
    assert!(crate::client::Tus1.read_interim(&endpoint, status, &first).is_none());
}
