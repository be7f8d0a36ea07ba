//! Protocol scenarios as data: each step is a request and the status and
//! headers expected back. The same table runs against the in-memory store
//! (through `TusHandler` directly) and through every example server over HTTP.
//!
//! Servers under test are configured with base path `/files/` and
//! [`MAX_SIZE`]. Case ids (`C02`...) refer to the numbered server conformance
//! cases of the project's research notes.

use bytes::Bytes;
use futures::future::BoxFuture;

/// The `Tus-Max-Size` servers under test are configured with (1 GiB).
pub const MAX_SIZE: u64 = 1 << 30;

/// The lifetime of unfinished uploads on servers under test, in seconds.
pub const EXPIRE_AFTER_SECS: u64 = 3600;

/// Sends one request and returns the whole response.
pub trait Transport {
    /// Sends `request`; the body chunks are sent as they are (chunked transfer
    /// encoding over HTTP when there is no `Content-Length` header).
    fn send(&self, request: http::Request<Vec<Bytes>>) -> BoxFuture<'_, Result<http::Response<Bytes>, String>>;
}

/// Where a step's request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// The upload collection, `/files/`.
    Collection,
    /// The URL in the last `Location` seen in this scenario.
    Created,
    /// The n-th upload created in this scenario (1-based); `{n}` in header
    /// values and expected values is replaced by its path too.
    Nth(usize),
    /// A literal path.
    Path(&'static str),
}

/// A value a response header must have.
#[derive(Debug, Clone)]
pub enum Expected {
    /// Exactly this value.
    Is(String),
    /// Any value.
    Present,
    /// No such header.
    Absent,
    /// A value containing this text.
    Contains(String),
}

/// One request and what must come back.
#[derive(Debug, Clone)]
pub struct Step {
    method: &'static str,
    target: Target,
    headers: Vec<(&'static str, String)>,
    body: Vec<Bytes>,
    chunked: bool,
    status: u16,
    expect: Vec<(&'static str, Expected)>,
    expect_body: Option<Bytes>,
}

impl Step {
    /// A request with `Tus-Resumable: 1.0.0`, expecting `status`.
    pub fn new(method: &'static str, target: Target, status: u16) -> Self {
        Self {
            method,
            target,
            headers: vec![("tus-resumable", "1.0.0".to_owned())],
            body: Vec::new(),
            chunked: false,
            status,
            expect: Vec::new(),
            expect_body: None,
        }
    }

    /// A request of the IETF draft at interop `version` (no `Tus-Resumable`),
    /// expecting `status`.
    pub fn draft(method: &'static str, target: Target, version: u64, status: u16) -> Self {
        Self::new(method, target, status)
            .without("tus-resumable")
            .header("upload-draft-interop-version", version.to_string())
    }

    /// Whether this is a tus 1.0.0 request (it carries `Tus-Resumable`).
    fn is_tus(&self) -> bool {
        self.headers.iter().any(|(name, _)| *name == "tus-resumable")
    }

    /// Sets a request header (replacing a default one of the same name).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.headers.push((name, value.into()));
        self
    }

    /// Removes a request header.
    pub fn without(mut self, name: &'static str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    /// A body sent with `Content-Length`.
    pub fn body(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.body = vec![Bytes::from(bytes.into())];
        self
    }

    /// A body sent in these chunks without `Content-Length` (chunked over HTTP/1.1).
    pub fn chunked(mut self, chunks: &[&[u8]]) -> Self {
        self.body = chunks.iter().map(|c| Bytes::copy_from_slice(c)).collect();
        self.chunked = true;
        self
    }

    /// A PATCH with the upload content type and `Upload-Offset`.
    pub fn patch(target: Target, offset: u64, body: impl Into<Vec<u8>>, status: u16) -> Self {
        Self::new("PATCH", target, status)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(body)
    }

    /// Expects a header value.
    pub fn expect(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.expect.push((name, Expected::Is(value.into())));
        self
    }

    /// Expects a header to be present.
    pub fn expect_present(mut self, name: &'static str) -> Self {
        self.expect.push((name, Expected::Present));
        self
    }

    /// Expects a header to be absent.
    pub fn expect_absent(mut self, name: &'static str) -> Self {
        self.expect.push((name, Expected::Absent));
        self
    }

    /// Expects a header containing `text`.
    pub fn expect_contains(mut self, name: &'static str, text: impl Into<String>) -> Self {
        self.expect.push((name, Expected::Contains(text.into())));
        self
    }

    /// Expects exactly this response body.
    pub fn expect_body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.expect_body = Some(Bytes::from(body.into()));
        self
    }
}

/// A named sequence of steps.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// What it shows, with the case ids it covers.
    pub name: &'static str,
    /// The steps, run in order.
    pub steps: Vec<Step>,
}

pub(crate) fn scenario(name: &'static str, steps: Vec<Step>) -> Scenario {
    Scenario { name, steps }
}

fn create(length: u64) -> Step {
    Step::new("POST", Target::Collection, 201)
        .header("upload-length", length.to_string())
        .expect_present("location")
}

fn head(offset: u64) -> Step {
    Step::new("HEAD", Target::Created, 200)
        .expect("upload-offset", offset.to_string())
        .expect("cache-control", "no-store")
}

use Target::{Collection, Created};

/// Every scenario: tus 1.0.0, then the IETF draft's ([`crate::ietf_scenarios`]).
pub fn all() -> Vec<Scenario> {
    let mut all = tus();
    all.extend(crate::ietf_scenarios::all());
    all
}

/// The tus 1.0.0 scenarios.
pub fn tus() -> Vec<Scenario> {
    let oos = "application/offset+octet-stream";
    vec![
        scenario(
            "C05-C09 C32 C41 C49 C70: OPTIONS discovery ignores Tus-Resumable",
            vec![
                Step::new("OPTIONS", Collection, 204)
                    .header("tus-resumable", "9.9.9")
                    .expect("tus-version", "1.0.0")
                    .expect_contains(
                        "tus-extension",
                        "creation,creation-with-upload,creation-defer-length,termination",
                    )
                    .expect("tus-max-size", MAX_SIZE.to_string()),
                Step::new("OPTIONS", Collection, 204)
                    .without("tus-resumable")
                    .expect("tus-version", "1.0.0"),
            ],
        ),
        scenario(
            "C02-C04: unsupported or missing Tus-Resumable is 412 with Tus-Version, and nothing happens",
            vec![
                Step::new("POST", Collection, 412)
                    .header("tus-resumable", "0.2.2")
                    .header("upload-length", "5")
                    .expect("tus-version", "1.0.0")
                    .expect_absent("location"),
                Step::new("POST", Collection, 412)
                    .without("tus-resumable")
                    .header("upload-length", "5")
                    .expect("tus-version", "1.0.0"),
                create(5),
                Step::patch(Created, 0, "hello", 412)
                    .header("tus-resumable", "0.2.2")
                    .expect("tus-version", "1.0.0"),
                Step::new("DELETE", Created, 412).header("tus-resumable", "2.0.0"),
                Step::new("HEAD", Created, 412).without("tus-resumable"),
                head(0),
            ],
        ),
        scenario(
            "C13 C15 C17 C33 C92: creation and HEAD with metadata",
            vec![
                create(100).header(
                    "upload-metadata",
                    "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential",
                ),
                head(0)
                    .expect("upload-length", "100")
                    .expect(
                        "upload-metadata",
                        "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential",
                    )
                    .expect_absent("upload-defer-length"),
            ],
        ),
        scenario(
            "C14 C20 C29 C30 C31: appends advance the offset; empty PATCH at the end is 204",
            vec![
                create(100),
                Step::patch(Created, 0, vec![b'a'; 70], 204).expect("upload-offset", "70"),
                Step::patch(Created, 70, vec![b'b'; 10], 204).expect("upload-offset", "80"),
                Step::patch(Created, 80, vec![b'c'; 10], 204).expect("upload-offset", "90"),
                Step::patch(Created, 90, vec![b'd'; 0], 204).expect("upload-offset", "90"),
                Step::patch(Created, 90, vec![b'd'; 10], 204).expect("upload-offset", "100"),
                head(100).expect("upload-length", "100"),
                Step::patch(Created, 100, Vec::new(), 204).expect("upload-offset", "100"),
                Step::new("GET", Created, 200)
                    .expect("content-length", "100")
                    .expect_body([vec![b'a'; 70], vec![b'b'; 10], vec![b'c'; 10], vec![b'd'; 10]].concat()),
            ],
        ),
        scenario(
            "C22: a mismatched offset is 409 and stores nothing",
            vec![
                create(100),
                Step::patch(Created, 0, vec![1; 70], 204).expect("upload-offset", "70"),
                Step::patch(Created, 60, vec![2; 10], 409).expect_contains("content-type", "text/plain"),
                Step::patch(Created, 80, vec![2; 10], 409),
                head(70),
            ],
        ),
        scenario(
            "C21: PATCH without the upload content type is 415",
            vec![
                create(10),
                Step::patch(Created, 0, "hello", 415).header("content-type", "application/octet-stream"),
                Step::patch(Created, 0, "hello", 415).without("content-type"),
                head(0),
            ],
        ),
        scenario(
            "C12 C23: a missing or invalid Upload-Offset is 400",
            vec![
                create(10),
                Step::patch(Created, 0, "hello", 400).header("upload-offset", "-1"),
                Step::patch(Created, 0, "hello", 400).header("upload-offset", "abc"),
                Step::patch(Created, 0, "hello", 400).header("upload-offset", "1.5"),
                Step::patch(Created, 0, "hello", 400).without("upload-offset"),
                head(0),
            ],
        ),
        scenario(
            "C16 C24 C73: unknown uploads are 404 without Upload-Offset",
            vec![
                Step::new("HEAD", Target::Path("/files/doesnotexist"), 404).expect_absent("upload-offset"),
                Step::patch(Target::Path("/files/doesnotexist"), 0, "x", 404),
                Step::new("DELETE", Target::Path("/files/doesnotexist"), 404),
                Step::new("HEAD", Target::Path("/files/..%2F..%2Fetc%2Fpasswd"), 404),
            ],
        ),
        scenario(
            "C25: never a byte past Upload-Length",
            vec![
                create(100),
                Step::patch(Created, 0, vec![7; 90], 204).expect("upload-offset", "90"),
                Step::patch(Created, 90, vec![8; 30], 413),
                head(90),
                Step::patch(Created, 90, Vec::new(), 413)
                    .chunked(&[&[8; 20], &[9; 10]])
                    .without("content-length"),
                head(100),
            ],
        ),
        scenario(
            "C26: a chunked PATCH without Content-Length is accepted",
            vec![
                create(11),
                Step::patch(Created, 0, Vec::new(), 204)
                    .chunked(&[b"hello", b" ", b"world"])
                    .expect("upload-offset", "11"),
                Step::new("GET", Created, 200).expect_body("hello world"),
            ],
        ),
        scenario(
            "C34-C37 C39: creation length rules",
            vec![
                Step::new("POST", Collection, 400).expect_absent("location"),
                Step::new("POST", Collection, 400).header("upload-defer-length", "2"),
                Step::new("POST", Collection, 400)
                    .header("upload-length", "5")
                    .header("upload-defer-length", "1"),
                Step::new("POST", Collection, 400).header("upload-length", "abc"),
                Step::new("POST", Collection, 400).header("upload-length", "-5"),
                Step::new("POST", Collection, 400).header("upload-length", "99999999999999999999"),
                Step::new("POST", Collection, 413).header("upload-length", (MAX_SIZE + 1).to_string()),
                create(MAX_SIZE),
            ],
        ),
        scenario(
            "C38: a zero-length upload is complete at once",
            vec![
                create(0),
                head(0).expect("upload-length", "0"),
                Step::new("GET", Created, 200)
                    .expect("content-length", "0")
                    .expect_body(""),
            ],
        ),
        scenario(
            "C18 C42-C46: deferred length, declared once by a later (possibly empty) PATCH",
            vec![
                Step::new("POST", Collection, 201)
                    .header("upload-defer-length", "1")
                    .expect_present("location"),
                head(0)
                    .expect("upload-defer-length", "1")
                    .expect_absent("upload-length"),
                Step::patch(Created, 0, "hello", 204).expect("upload-offset", "5"),
                Step::patch(Created, 5, Vec::new(), 400).header("upload-length", "3"),
                Step::patch(Created, 5, Vec::new(), 413).header("upload-length", (MAX_SIZE + 1).to_string()),
                head(5).expect("upload-defer-length", "1"),
                Step::patch(Created, 5, Vec::new(), 204)
                    .header("upload-length", "11")
                    .expect("upload-offset", "5"),
                head(5)
                    .expect("upload-length", "11")
                    .expect_absent("upload-defer-length"),
                Step::patch(Created, 5, Vec::new(), 400).header("upload-length", "12"),
                Step::patch(Created, 5, " world", 204)
                    .header("upload-length", "11")
                    .expect("upload-offset", "11"),
                Step::new("GET", Created, 200).expect_body("hello world"),
            ],
        ),
        scenario(
            "C50-C53: creation-with-upload",
            vec![
                create(100)
                    .header("content-type", oos)
                    .body("hello")
                    .expect("upload-offset", "5"),
                head(5).expect("upload-length", "100"),
                create(5)
                    .header("content-type", oos)
                    .body("hello")
                    .expect("upload-offset", "5"),
                Step::new("GET", Created, 200).expect_body("hello"),
                create(5)
                    .header("content-type", "text/plain")
                    .body("hello")
                    .expect("upload-offset", "0"),
                head(0),
                Step::new("POST", Collection, 413)
                    .header("upload-length", "3")
                    .header("content-type", oos)
                    .body("hello"),
            ],
        ),
        scenario(
            "C71 C72 C75: termination of unfinished and completed uploads",
            vec![
                create(10),
                Step::new("DELETE", Created, 204),
                Step::new("HEAD", Created, 404).expect_absent("upload-offset"),
                Step::patch(Created, 0, "x", 404),
                Step::new("DELETE", Created, 404),
                create(3)
                    .header("content-type", oos)
                    .body("abc")
                    .expect("upload-offset", "3"),
                Step::new("DELETE", Created, 204),
                Step::new("GET", Created, 404),
            ],
        ),
        scenario(
            "C10 C11: X-HTTP-Method-Override",
            vec![
                create(5),
                Step::new("POST", Created, 204)
                    .header("x-http-method-override", "PATCH")
                    .header("content-type", oos)
                    .header("upload-offset", "0")
                    .body("hello")
                    .expect("upload-offset", "5"),
                Step::new("POST", Created, 200)
                    .header("x-http-method-override", "HEAD")
                    .expect("upload-offset", "5"),
                Step::new("POST", Created, 204).header("x-http-method-override", "DELETE"),
                Step::new("HEAD", Created, 404),
            ],
        ),
        scenario(
            "C94-C99: metadata is strict and byte-exact",
            vec![
                Step::new("POST", Collection, 400)
                    .header("upload-length", "1")
                    .header("upload-metadata", "a YQ==,a Yg=="),
                Step::new("POST", Collection, 400)
                    .header("upload-length", "1")
                    .header("upload-metadata", "a not_base64!"),
                Step::new("POST", Collection, 400)
                    .header("upload-length", "1")
                    .header("upload-metadata", "a YQ==,,b Yg=="),
                create(1).header("upload-metadata", "bin /w==, empty"),
                head(0).expect("upload-metadata", "bin /w==,empty"),
            ],
        ),
        scenario(
            "GET download: Range, Content-Type and Content-Disposition from metadata; incomplete is 409",
            vec![
                create(10)
                    .header("upload-metadata", "filename Li4vZXZpbC5odG1s,filetype dGV4dC9odG1s")
                    .header("content-type", oos)
                    .body("0123"),
                Step::new("GET", Created, 409),
                Step::patch(Created, 4, "456789", 204),
                Step::new("GET", Created, 200)
                    .expect("content-type", "text/html")
                    .expect(
                        "content-disposition",
                        "attachment; filename=\"evil.html\"; filename*=UTF-8''evil.html",
                    )
                    .expect("accept-ranges", "bytes")
                    .expect_body("0123456789"),
                Step::new("GET", Created, 206)
                    .header("range", "bytes=2-4")
                    .expect("content-range", "bytes 2-4/10")
                    .expect_body("234"),
                Step::new("GET", Created, 206)
                    .header("range", "bytes=-3")
                    .expect_body("789"),
                Step::new("GET", Created, 416)
                    .header("range", "bytes=10-")
                    .expect("content-range", "bytes */10"),
            ],
        ),
        scenario(
            "CORS: preflight answered, tus headers exposed",
            vec![
                Step::new("OPTIONS", Collection, 204)
                    .without("tus-resumable")
                    .header("origin", "https://app.example")
                    .header("access-control-request-method", "PATCH")
                    .header(
                        "access-control-request-headers",
                        "upload-offset,tus-resumable,content-type",
                    )
                    .expect("access-control-allow-origin", "*")
                    .expect_contains("access-control-allow-methods", "PATCH")
                    .expect_contains("access-control-allow-headers", "Upload-Offset"),
                create(1)
                    .header("origin", "https://app.example")
                    .expect("access-control-allow-origin", "*")
                    .expect_contains("access-control-expose-headers", "Location"),
            ],
        ),
        scenario(
            "C61: checksum and trailer extensions advertised with their algorithms",
            vec![
                Step::new("OPTIONS", Collection, 204)
                    .expect_contains(
                        "tus-extension",
                        "checksum,checksum-trailer,expiration,concatenation,concatenation-unfinished",
                    )
                    .expect("tus-checksum-algorithm", "sha1,md5,sha256,sha512,crc32"),
            ],
        ),
        scenario(
            "C62-C66: checksums verified while streaming; a mismatch stores nothing",
            vec![
                create(22),
                Step::patch(Created, 0, "hello world", 460)
                    .header("upload-checksum", "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA="),
                head(0),
                Step::patch(Created, 0, "hello world", 400).header("upload-checksum", "whirlpool AAAA"),
                Step::patch(Created, 0, "hello world", 400).header("upload-checksum", "sha1"),
                Step::patch(Created, 0, "hello world", 400).header("upload-checksum", "sha1 !!notbase64"),
                Step::patch(Created, 0, "hello world", 400).header("upload-checksum", "sha1 AAAA"),
                head(0),
                Step::patch(Created, 0, "hello world", 204)
                    .header("upload-checksum", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
                    .expect("upload-offset", "11"),
                Step::patch(Created, 11, Vec::new(), 204)
                    .chunked(&[b"hello", b" ", b"world"])
                    .header("upload-checksum", "crc32 DUoRhQ==")
                    .expect("upload-offset", "22"),
                Step::new("GET", Created, 200).expect_body("hello worldhello world"),
            ],
        ),
        scenario(
            "Checksum: md5, sha256 and sha512 are supported too",
            vec![
                create(33),
                Step::patch(Created, 0, "hello world", 204).header("upload-checksum", "md5 XrY7u+Ae7tCTyyK7j1rNww=="),
                Step::patch(Created, 11, "hello world", 204)
                    .header("upload-checksum", "sha256 uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek="),
                Step::patch(Created, 22, "hello world", 204).header(
                    "upload-checksum",
                    "sha512 MJ7MSJwS1utMxA9QyQLytNDtd+5RGnx6m808qG1M2G+YndNbxf9JlnDaNCVbRbDP2DDoH2Bdz33FVC6TrpzXbw==",
                ),
                Step::patch(Created, 33, Vec::new(), 204).expect("upload-offset", "33"),
                Step::patch(Created, 22, "hello world", 409).header("upload-checksum", "md5 XrY7u+Ae7tCTyyK7j1rNww=="),
            ],
        ),
        scenario(
            "C69: checksum on creation-with-upload",
            vec![
                create(11)
                    .header("content-type", oos)
                    .header("upload-checksum", "sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=")
                    .body("hello world")
                    .expect("upload-offset", "11"),
                Step::new("POST", Collection, 460)
                    .header("upload-length", "11")
                    .header("content-type", oos)
                    .header("upload-checksum", "sha1 qvTGHdzF6KLavt4PO0gs2a6pQ00=")
                    .body("hello world"),
            ],
        ),
        scenario(
            "C56 C57 C60: Upload-Expires on POST, PATCH and HEAD while unfinished, not once complete",
            vec![
                create(10).expect_present("upload-expires"),
                head(0).expect_present("upload-expires"),
                Step::patch(Created, 0, "hello", 204).expect_present("upload-expires"),
                Step::patch(Created, 5, "world", 204).expect_absent("upload-expires"),
                head(10).expect_absent("upload-expires"),
            ],
        ),
        scenario(
            "C77-C83: partial uploads concatenated into a final upload",
            vec![
                create(5)
                    .header("upload-concat", "partial")
                    .header("upload-metadata", "part YQ=="),
                Step::new("HEAD", Created, 200)
                    .expect("upload-concat", "partial")
                    .expect("upload-offset", "0"),
                Step::patch(Created, 0, "hello", 204),
                create(6).header("upload-concat", "partial"),
                Step::patch(Created, 0, " world", 204),
                Step::new("POST", Collection, 201)
                    .header("upload-concat", "final;{1} {2}")
                    .header("upload-metadata", "name Zg==")
                    .expect("upload-offset", "11"),
                Step::new("HEAD", Created, 200)
                    .expect("upload-length", "11")
                    .expect("upload-offset", "11")
                    .expect("upload-concat", "final;{1} {2}")
                    .expect("upload-metadata", "name Zg==")
                    .expect_absent("upload-expires"),
                Step::new("GET", Created, 200).expect_body("hello world"),
                Step::patch(Created, 11, "x", 403),
                Step::patch(Created, 0, "x", 403),
                Step::new("POST", Collection, 201).header("upload-concat", "final;{1} {1} http://uploads.example{2}"),
                Step::new("GET", Created, 200).expect_body("hellohello world"),
                Step::new("HEAD", Target::Nth(1), 200)
                    .expect("upload-offset", "5")
                    .expect("upload-metadata", "part YQ=="),
            ],
        ),
        scenario(
            "C84-C89: invalid final uploads",
            vec![
                create(1).header("upload-concat", "partial"),
                create(1),
                Step::new("POST", Collection, 400).header("upload-concat", "final;/files/doesnotexist"),
                Step::new("POST", Collection, 400).header("upload-concat", "final;{2}"),
                Step::new("POST", Collection, 400).header("upload-concat", "final;/elsewhere/a/b"),
                Step::new("POST", Collection, 400)
                    .header("upload-concat", "final;{1}")
                    .header("upload-length", "1"),
                Step::new("POST", Collection, 400)
                    .header("upload-concat", "bogus")
                    .header("upload-length", "1"),
                Step::new("POST", Collection, 400).header("upload-concat", "final;"),
                Step::new("POST", Collection, 403)
                    .header("upload-concat", "final;{1}")
                    .header("content-type", oos)
                    .body("x"),
            ],
        ),
        scenario(
            "C85: a final upload of unfinished partials assembles when the last one completes",
            vec![
                create(3).header("upload-concat", "partial"),
                create(2).header("upload-concat", "partial"),
                Step::patch(Created, 0, "de", 204),
                Step::new("POST", Collection, 201)
                    .header("upload-concat", "final;{1} {2}")
                    .expect_absent("upload-offset"),
                Step::new("HEAD", Created, 200)
                    .expect_absent("upload-offset")
                    .expect("upload-length", "5")
                    .expect("upload-concat", "final;{1} {2}"),
                Step::new("GET", Created, 409),
                Step::patch(Target::Nth(1), 0, "abc", 204),
                Step::new("HEAD", Target::Nth(3), 200)
                    .expect("upload-offset", "5")
                    .expect("upload-length", "5"),
                Step::new("GET", Target::Nth(3), 200).expect_body("abcde"),
            ],
        ),
        scenario(
            "Methods the target does not allow are 405 with Allow",
            vec![
                Step::new("PUT", Target::Path("/files/abc"), 405).expect_present("allow"),
                Step::new("GET", Collection, 405),
            ],
        ),
    ]
}

/// Runs one scenario; `Err` describes the first step that failed.
pub async fn run(transport: &dyn Transport, scenario: &Scenario) -> Result<(), String> {
    let mut created: Vec<String> = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let context = |message: String| {
            format!(
                "{} / step {} ({} {:?}): {message}",
                scenario.name,
                index + 1,
                step.method,
                step.target
            )
        };
        let path = match &step.target {
            Target::Collection => "/files/".to_owned(),
            Target::Path(path) => (*path).to_owned(),
            Target::Created => created
                .last()
                .cloned()
                .ok_or_else(|| context("no upload created yet".into()))?,
            Target::Nth(n) => created
                .get(n.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| context(format!("upload {n} not created yet")))?,
        };
        let mut builder = http::Request::builder().method(step.method).uri(path.as_str());
        for (name, value) in &step.headers {
            builder = builder.header(*name, substitute(value, &created));
        }
        if !step.chunked && !step.headers.iter().any(|(n, _)| *n == "content-length") {
            let length: usize = step.body.iter().map(Bytes::len).sum();
            builder = builder.header("content-length", length.to_string());
        }
        let request = builder.body(step.body.clone()).map_err(|e| context(e.to_string()))?;
        let response = transport.send(request).await.map_err(context)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if response.status().as_u16() != step.status {
            return Err(context(format!(
                "status {} (expected {}), body {:?}",
                response.status(),
                step.status,
                String::from_utf8_lossy(response.body())
            )));
        }
        if step.is_tus() && header("tus-resumable").as_deref() != Some("1.0.0") {
            return Err(context("response lacks Tus-Resumable: 1.0.0".into()));
        }
        if response.status().is_client_error() && step.method != "HEAD" {
            let body = String::from_utf8_lossy(response.body());
            let content_type = header("content-type").unwrap_or_default();
            let plain = body.starts_with("ERR_") && content_type.starts_with("text/plain");
            // The draft's problem types come as RFC 9457 problem details.
            let problem = !step.is_tus()
                && content_type == "application/problem+json"
                && body.starts_with("{\"type\":\"https://iana.org/assignments/http-problem-types#");
            if !plain && !problem {
                return Err(context(format!("error response lacks a plain-text code: {body:?}")));
            }
        }
        for (name, expected) in &step.expect {
            let actual = header(name);
            let ok = match (expected, &actual) {
                (Expected::Is(value), Some(actual)) => *actual == substitute(value, &created),
                (Expected::Contains(value), Some(actual)) => actual.contains(&substitute(value, &created)),
                (Expected::Present, Some(_)) | (Expected::Absent, None) => true,
                _ => false,
            };
            if !ok {
                return Err(context(format!("header {name}: got {actual:?}, expected {expected:?}")));
            }
        }
        if let Some(body) = &step.expect_body
            && response.body() != body
        {
            return Err(context(format!("body {:?}, expected {:?}", response.body(), body)));
        }
        if step.status == 201
            && let Some(location) = header("location")
        {
            let path = location
                .parse::<http::Uri>()
                .map(|uri| uri.path().to_owned())
                .unwrap_or(location);
            created.push(path);
        }
    }
    Ok(())
}

/// Replaces `{1}`..`{9}` with the paths of the uploads created so far.
fn substitute(text: &str, created: &[String]) -> String {
    let mut text = text.to_owned();
    for (index, path) in created.iter().enumerate().take(9) {
        text = text.replace(&format!("{{{}}}", index + 1), path);
    }
    text
}

/// Runs every scenario and returns the failures (empty when all pass).
pub async fn run_all(transport: &dyn Transport) -> Vec<String> {
    let mut failures = Vec::new();
    for scenario in all() {
        if let Err(failure) = run(transport, &scenario).await {
            failures.push(failure);
        }
    }
    failures
}
