//! A corpus of malformed requests, as data: each must be answered with a
//! 4xx and a plain-text reason, must not crash the server, and must not
//! change any stored upload.
//!
//! [`run`] first creates a few reference uploads (see [`Fixture`]), then
//! sends every [`Case`] of [`corpus`] and, after each, checks that
//!
//! - the status is the case's (a 4xx) and the body is a non-empty
//!   `text/plain` reason starting with a stable `ERR_` code (HEAD has no body);
//! - every reference upload's `HEAD` answer (offset, length, metadata,
//!   concatenation) and, for complete ones, its bytes are unchanged;
//! - a caller-supplied fingerprint of the whole storage is unchanged (the
//!   memory test hashes every upload's info and bytes, the HTTP test every
//!   file in the store's directory);
//! - the server still answers `OPTIONS`.
//!
//! Servers under test are configured like the [scenarios](crate::scenarios):
//! base path `/files/` and [`MAX_SIZE`].

use bytes::Bytes;
use futures::future::BoxFuture;

use crate::scenarios::{MAX_SIZE, Transport};

/// Placeholders in a case's path and header values, replaced by the
/// reference uploads' paths.
///
/// - `{single}`: length 10, metadata `name YQ==`, 5 bytes received.
/// - `{deferred}`: deferred length, 2 bytes received.
/// - `{partial}`: a complete partial upload of 3 bytes.
/// - `{done}`: a complete upload of 5 bytes (`hello`).
#[derive(Debug, Clone, Default)]
pub struct Fixture {
    /// `{single}`.
    pub single: String,
    /// `{deferred}`.
    pub deferred: String,
    /// `{partial}`.
    pub partial: String,
    /// `{done}`.
    pub done: String,
}

impl Fixture {
    fn substitute(&self, text: &[u8]) -> Vec<u8> {
        let mut text = text.to_vec();
        for (name, path) in [
            ("{single}", &self.single),
            ("{deferred}", &self.deferred),
            ("{partial}", &self.partial),
            ("{done}", &self.done),
        ] {
            text = replace(&text, name.as_bytes(), path.as_bytes());
        }
        text
    }

    fn paths(&self) -> [&str; 4] {
        [&self.single, &self.deferred, &self.partial, &self.done]
    }
}

fn replace(text: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if rest.starts_with(from) {
            out.extend_from_slice(to);
            rest = &rest[from.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// What a case is about, for grouping in failure messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Numbers that are negative, fractional, hexadecimal, empty or not numbers.
    BadNumber,
    /// Numbers too large for the protocol or the server, or sums that overflow.
    Overflow,
    /// Metadata that is too large or malformed.
    Metadata,
    /// Metadata or checksum values that are not valid base64.
    Base64,
    /// Paths and references that try to leave the upload collection.
    Traversal,
    /// `Upload-Concat` lists that are malformed or name the wrong uploads.
    Concat,
    /// Headers that contradict each other or are repeated.
    Conflict,
    /// Methods the target does not allow, also through the override header.
    Method,
    /// Requests well-formed but wrong for the upload's state.
    State,
    /// IETF draft requests: structured fields that do not parse, versions
    /// this server lacks, lengths and offsets that contradict the upload.
    Draft,
}

/// One malformed request and the 4xx it must get.
#[derive(Debug, Clone)]
pub struct Case {
    /// What is wrong with it.
    pub name: &'static str,
    /// Its category.
    pub category: Category,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    status: u16,
}

impl Case {
    fn new(category: Category, name: &'static str, method: &'static str, path: &'static str, status: u16) -> Self {
        Self {
            name,
            category,
            method,
            path,
            headers: vec![("tus-resumable", b"1.0.0".to_vec())],
            body: Vec::new(),
            status,
        }
    }

    /// A POST to the collection.
    fn post(category: Category, name: &'static str, status: u16) -> Self {
        Self::new(category, name, "POST", "/files/", status)
    }

    /// A request of the IETF draft at interop `version` (no `Tus-Resumable`).
    fn draft(name: &'static str, method: &'static str, path: &'static str, version: &str, status: u16) -> Self {
        Self::new(Category::Draft, name, method, path, status)
            .without("tus-resumable")
            .header("upload-draft-interop-version", version)
    }

    /// A draft append of `path` at `offset` with `Upload-Complete: complete`.
    fn draft_patch(name: &'static str, path: &'static str, offset: &str, complete: &str, status: u16) -> Self {
        Self::draft(name, "PATCH", path, "9", status)
            .header("content-type", "application/partial-upload")
            .header("upload-offset", offset)
            .header("upload-complete", complete)
    }

    /// A PATCH of `path` with the upload content type and `Upload-Offset: offset`.
    fn patch(category: Category, name: &'static str, path: &'static str, offset: &str, status: u16) -> Self {
        Self::new(category, name, "PATCH", path, status)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset)
    }

    /// Sets a header (appending: a repeated name sends the header twice).
    fn header(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((name, value.as_ref().to_vec()));
        self
    }

    /// Replaces every value of a header.
    fn set(mut self, name: &'static str, value: impl AsRef<[u8]>) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self.header(name, value)
    }

    fn without(mut self, name: &'static str) -> Self {
        self.headers.retain(|(n, _)| *n != name);
        self
    }

    fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The status the case must be answered with.
    pub fn status(&self) -> u16 {
        self.status
    }
}

/// Metadata of `pairs` pairs `kNNNNN YWFh`.
fn many_pairs(pairs: usize) -> String {
    (0..pairs)
        .map(|i| format!("k{i:05} YWFh"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Every malformed request.
pub fn corpus() -> Vec<Case> {
    use Category::*;
    let huge_value = format!("big {}", "A".repeat(80 * 1024));
    let many_refs = format!("final;{}", vec!["/files/nonexistent"; 2000].join(" "));
    let long_id: &'static str = Box::leak(format!("/files/{}", "a".repeat(129)).into_boxed_str());
    let mut cases = vec![
        // Bad numbers.
        Case::post(BadNumber, "Upload-Length negative", 400).header("upload-length", "-1"),
        Case::post(BadNumber, "Upload-Length with a plus sign", 400).header("upload-length", "+5"),
        Case::post(BadNumber, "Upload-Length not a number", 400).header("upload-length", "abc"),
        Case::post(BadNumber, "Upload-Length fractional", 400).header("upload-length", "1.5"),
        Case::post(BadNumber, "Upload-Length in hex", 400).header("upload-length", "0x10"),
        Case::post(BadNumber, "Upload-Length in exponent form", 400).header("upload-length", "1e3"),
        Case::post(BadNumber, "Upload-Length empty", 400).header("upload-length", ""),
        Case::post(BadNumber, "Upload-Length two numbers", 400).header("upload-length", "5 6"),
        Case::post(BadNumber, "Upload-Length not ASCII", 400).header("upload-length", b"\xff5"),
        Case::post(BadNumber, "Upload-Defer-Length other than 1", 400).header("upload-defer-length", "2"),
        Case::post(BadNumber, "Upload-Defer-Length 0", 400).header("upload-defer-length", "0"),
        Case::patch(BadNumber, "Upload-Offset negative", "{single}", "-5", 400).body("x"),
        Case::patch(BadNumber, "Upload-Offset not a number", "{single}", "five", 400).body("x"),
        Case::patch(BadNumber, "Upload-Offset fractional", "{single}", "5.0", 400).body("x"),
        Case::patch(BadNumber, "Upload-Offset empty", "{single}", "", 400).body("x"),
        Case::patch(BadNumber, "Upload-Length on PATCH negative", "{deferred}", "2", 400)
            .header("upload-length", "-3")
            .body("x"),
        // Overflow.
        Case::post(Overflow, "Upload-Length 2^63", 400).header("upload-length", "9223372036854775808"),
        Case::post(Overflow, "Upload-Length 2^64", 400).header("upload-length", "18446744073709551616"),
        Case::post(Overflow, "Upload-Length of 40 digits", 400).header("upload-length", "9".repeat(40)),
        Case::post(Overflow, "Upload-Length of leading zeros", 400)
            .header("upload-length", format!("{}1", "0".repeat(30))),
        Case::post(Overflow, "Upload-Length 2^63-1, above Tus-Max-Size", 413)
            .header("upload-length", "9223372036854775807"),
        Case::post(Overflow, "Upload-Length one above Tus-Max-Size", 413)
            .header("upload-length", (MAX_SIZE + 1).to_string()),
        Case::patch(Overflow, "Upload-Offset 2^64", "{single}", "18446744073709551616", 400).body("x"),
        Case::patch(Overflow, "Upload-Offset 2^63-1", "{single}", "9223372036854775807", 409).body("x"),
        Case::patch(
            Overflow,
            "Upload-Length on PATCH 2^63-1, above Tus-Max-Size",
            "{deferred}",
            "2",
            413,
        )
        .header("upload-length", "9223372036854775807")
        .body("x"),
        Case::patch(Overflow, "Upload-Length on PATCH 2^64", "{deferred}", "2", 400)
            .header("upload-length", "18446744073709551616")
            .body("x"),
        Case::patch(
            Overflow,
            "body longer than the rest of the upload",
            "{single}",
            "5",
            413,
        )
        .body("0123456789"),
        Case::post(Overflow, "creation-with-upload body longer than Upload-Length", 413)
            .header("upload-length", "2")
            .header("content-type", "application/offset+octet-stream")
            .body("hello"),
        Case::new(Overflow, "Range past the end", "GET", "{done}", 416).header("range", "bytes=5-"),
        // Metadata.
        Case::post(Metadata, "metadata value of 80 KiB", 400)
            .header("upload-length", "1")
            .header("upload-metadata", &huge_value),
        Case::post(Metadata, "metadata of 5000 pairs", 400)
            .header("upload-length", "1")
            .header("upload-metadata", many_pairs(5000)),
        Case::post(Metadata, "metadata key repeated", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ==,a Yg=="),
        Case::post(Metadata, "metadata empty pair", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ==,,b Yg=="),
        Case::post(Metadata, "metadata pair with two values", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ== Yg=="),
        Case::post(Metadata, "metadata key not ASCII", 400)
            .header("upload-length", "1")
            .header("upload-metadata", b"\xc3\xa9 YQ=="),
        Case::post(Metadata, "metadata header repeated", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ==")
            .header("upload-metadata", "b Yg=="),
        // Base64.
        Case::post(Base64, "metadata value with invalid characters", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a not_base64!"),
        Case::post(Base64, "metadata value truncated", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a Y"),
        Case::post(Base64, "metadata value with too much padding", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ==="),
        Case::post(Base64, "metadata value with data after padding", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a YQ==YQ=="),
        Case::post(Base64, "metadata value in URL-safe alphabet", 400)
            .header("upload-length", "1")
            .header("upload-metadata", "a -_8="),
        Case::patch(Base64, "Upload-Checksum digest not base64", "{single}", "5", 400)
            .header("upload-checksum", "sha1 !!notbase64")
            .body("x"),
        Case::patch(
            Base64,
            "Upload-Checksum digest of the wrong length",
            "{single}",
            "5",
            400,
        )
        .header("upload-checksum", "sha1 AAAA")
        .body("x"),
        Case::patch(Base64, "Upload-Checksum without a digest", "{single}", "5", 400)
            .header("upload-checksum", "sha1")
            .body("x"),
        Case::patch(
            Base64,
            "Upload-Checksum with an unknown algorithm",
            "{single}",
            "5",
            400,
        )
        .header("upload-checksum", "whirlpool AAAA")
        .body("x"),
        Case::patch(Base64, "Upload-Checksum that does not match", "{single}", "5", 460)
            .header("upload-checksum", "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body("x"),
        Case::patch(
            Base64,
            "Upload-Checksum that does not match, declaring the length",
            "{deferred}",
            "2",
            460,
        )
        .header("upload-length", "3")
        .header("upload-checksum", "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .body("x"),
        // Traversal.
        Case::new(Traversal, "HEAD of ../ in the path", "HEAD", "/files/../files/x", 404),
        Case::new(
            Traversal,
            "HEAD of an encoded ../",
            "HEAD",
            "/files/..%2F..%2Fetc%2Fpasswd",
            404,
        ),
        Case::new(Traversal, "GET of an encoded ../", "GET", "/files/..%2f{done}", 404),
        Case::new(Traversal, "GET of a dotted id", "GET", "/files/a.bin", 404),
        Case::patch(
            Traversal,
            "PATCH of an id with a dot segment",
            "/files/%2e%2e",
            "0",
            404,
        )
        .body("x"),
        Case::new(Traversal, "DELETE of a nested path", "DELETE", "{done}/../x", 404),
        Case::new(
            Traversal,
            "DELETE of an id with a backslash",
            "DELETE",
            "/files/a%5Cb",
            404,
        ),
        Case::new(Traversal, "HEAD of a 129-character id", "HEAD", long_id, 404),
        Case::new(
            Traversal,
            "HEAD of an upload's data file name",
            "HEAD",
            "{done}.bin",
            404,
        ),
        Case::post(Traversal, "final upload naming ../ of a partial", 400)
            .header("upload-concat", "final;/files/../{partial}"),
        Case::post(Traversal, "final upload naming an encoded ../", 400)
            .header("upload-concat", "final;/files/..%2F..%2Fetc%2Fpasswd"),
        Case::post(Traversal, "final upload naming a path outside the collection", 400)
            .header("upload-concat", "final;/etc/passwd"),
        // Concatenation.
        Case::post(Concat, "Upload-Concat final with no list", 400).header("upload-concat", "final;"),
        Case::post(Concat, "Upload-Concat final with only spaces", 400).header("upload-concat", "final;   "),
        Case::post(Concat, "Upload-Concat final without a semicolon", 400).header("upload-concat", "final {partial}"),
        Case::post(Concat, "Upload-Concat in upper case", 400)
            .header("upload-concat", "PARTIAL")
            .header("upload-length", "1"),
        Case::post(Concat, "Upload-Concat unknown kind", 400)
            .header("upload-concat", "bogus")
            .header("upload-length", "1"),
        Case::post(Concat, "Upload-Concat with a broken URL", 400).header("upload-concat", "final;http://[::1"),
        Case::post(Concat, "Upload-Concat with a bad percent escape", 400).header("upload-concat", "final;/files/%zz"),
        Case::post(Concat, "Upload-Concat naming a missing partial", 400)
            .header("upload-concat", "final;/files/nonexistent"),
        Case::post(Concat, "Upload-Concat naming a non-partial upload", 400)
            .header("upload-concat", "final;{partial} {done}"),
        Case::post(Concat, "Upload-Concat naming the collection", 400).header("upload-concat", "final;/files/"),
        Case::post(Concat, "Upload-Concat naming a path below an upload", 400)
            .header("upload-concat", "final;{partial}/x"),
        Case::post(Concat, "Upload-Concat of 2000 missing partials", 400).header("upload-concat", &many_refs),
        Case::post(Concat, "Upload-Concat final with an Upload-Length", 400)
            .header("upload-concat", "final;{partial}")
            .header("upload-length", "3"),
        Case::post(Concat, "Upload-Concat final with a body", 403)
            .header("upload-concat", "final;{partial}")
            .header("content-type", "application/offset+octet-stream")
            .body("x"),
        Case::patch(Concat, "PATCH of a complete partial", "{partial}", "3", 413).body("x"),
        // Conflicting and repeated headers.
        Case::post(Conflict, "Upload-Length and Upload-Defer-Length", 400)
            .header("upload-length", "1")
            .header("upload-defer-length", "1"),
        Case::post(Conflict, "Upload-Length repeated", 400)
            .header("upload-length", "1")
            .header("upload-length", "1"),
        Case::post(Conflict, "no length at all", 400),
        Case::post(Conflict, "Tus-Resumable repeated with another version", 412)
            .header("tus-resumable", "0.2.2")
            .header("upload-length", "1"),
        Case::post(Conflict, "Tus-Resumable unsupported", 412)
            .set("tus-resumable", "1.0.1")
            .header("upload-length", "1"),
        Case::post(Conflict, "Tus-Resumable missing", 412)
            .without("tus-resumable")
            .header("upload-length", "1"),
        Case::patch(Conflict, "Upload-Offset repeated", "{single}", "5", 400)
            .header("upload-offset", "5")
            .body("x"),
        Case::patch(
            Conflict,
            "Upload-Offset behind the upload's offset",
            "{single}",
            "0",
            409,
        )
        .body("x"),
        Case::patch(
            Conflict,
            "Upload-Offset ahead of the upload's offset",
            "{single}",
            "7",
            409,
        )
        .body("x"),
        Case::patch(Conflict, "Upload-Offset missing", "{single}", "5", 400)
            .without("upload-offset")
            .body("x"),
        Case::patch(Conflict, "PATCH without the upload content type", "{single}", "5", 415)
            .set("content-type", "application/octet-stream")
            .body("x"),
        Case::patch(
            Conflict,
            "Upload-Length on PATCH changing a known length",
            "{single}",
            "5",
            400,
        )
        .header("upload-length", "11")
        .body("x"),
        Case::patch(
            Conflict,
            "Upload-Length on PATCH below the offset",
            "{deferred}",
            "2",
            400,
        )
        .header("upload-length", "1")
        .body(""),
        Case::patch(Conflict, "Upload-Checksum repeated", "{single}", "5", 400)
            .header("upload-checksum", "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .header("upload-checksum", "sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
            .body("x"),
        Case::new(Conflict, "X-HTTP-Method-Override repeated", "POST", "{single}", 400)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "5")
            .header("x-http-method-override", "PATCH")
            .header("x-http-method-override", "DELETE")
            .body("x"),
        // The override is honoured on POST only: a safe method never changes state.
        Case::new(
            Method,
            "GET overridden to DELETE is still a GET",
            "GET",
            "{single}",
            409,
        )
        .header("x-http-method-override", "DELETE"),
        // Methods.
        Case::new(Method, "PUT of an upload", "PUT", "{single}", 405),
        Case::new(Method, "custom method on an upload", "BREW", "{single}", 405),
        Case::new(Method, "PROPFIND on the collection", "PROPFIND", "/files/", 405),
        Case::new(Method, "TRACE on the collection", "TRACE", "/files/", 405),
        Case::new(Method, "GET of the collection", "GET", "/files/", 405),
        Case::new(Method, "POST to an upload", "POST", "{single}", 405).header("upload-length", "1"),
        Case::new(Method, "PATCH of the collection", "PATCH", "/files/", 405)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", "0"),
        Case::new(Method, "DELETE of the collection", "DELETE", "/files/", 405),
        Case::new(Method, "override to an unknown method", "POST", "{single}", 400)
            .header("x-http-method-override", "BREW"),
        Case::new(
            Method,
            "override to a method that is not a token",
            "POST",
            "{single}",
            400,
        )
        .header("x-http-method-override", "DE LETE"),
        Case::new(Method, "override to PUT", "POST", "{single}", 400).header("x-http-method-override", "PUT"),
        // State.
        Case::new(State, "GET of an unfinished upload", "GET", "{single}", 409),
        Case::new(State, "HEAD of a missing upload", "HEAD", "/files/nonexistent", 404),
        Case::patch(State, "PATCH of a missing upload", "/files/nonexistent", "0", 404).body("x"),
        Case::new(State, "DELETE of a missing upload", "DELETE", "/files/nonexistent", 404),
    ];
    cases.extend(draft_corpus());
    cases
}

/// The IETF draft's malformed requests, against the same (tus-created) uploads.
fn draft_corpus() -> Vec<Case> {
    let post = |name, status| Case::draft(name, "POST", "/files/", "9", status);
    vec![
        post("Upload-Complete not a boolean", 400).header("upload-complete", "1"),
        post("Upload-Complete ?2", 400).header("upload-complete", "?2"),
        post("Upload-Complete as a token", 400).header("upload-complete", "true"),
        post("Upload-Complete with a bad parameter", 400).header("upload-complete", "?1;A=1"),
        post("Upload-Complete repeated", 400)
            .header("upload-complete", "?0")
            .header("upload-complete", "?0"),
        post("creation without Upload-Complete", 400).header("upload-length", "5"),
        post("Upload-Length a decimal", 400)
            .header("upload-complete", "?0")
            .header("upload-length", "5.0"),
        post("Upload-Length negative", 400)
            .header("upload-complete", "?0")
            .header("upload-length", "-5"),
        post("Upload-Length of 16 digits", 400)
            .header("upload-complete", "?0")
            .header("upload-length", "1000000000000000"),
        post("Upload-Length a string", 400)
            .header("upload-complete", "?0")
            .header("upload-length", "\"5\""),
        post("Upload-Length above the maximum", 413)
            .header("upload-complete", "?0")
            .header("upload-length", (MAX_SIZE + 1).to_string()),
        post("Upload-Length and a complete content disagree", 400)
            .header("upload-complete", "?1")
            .header("upload-length", "5")
            .body("abc"),
        post("Upload-Offset on a creation", 400)
            .header("upload-complete", "?0")
            .header("upload-offset", "0"),
        Case::draft("interop version 7", "POST", "/files/", "7", 400).header("upload-complete", "?1"),
        Case::draft("interop version not an integer", "POST", "/files/", "nine", 400).header("upload-complete", "?1"),
        Case::draft("interop version negative", "POST", "/files/", "-9", 400).header("upload-complete", "?1"),
        Case::draft_patch("Upload-Offset a decimal", "{single}", "5.0", "?0", 400).body("x"),
        Case::draft_patch(
            "Upload-Offset with an unterminated parameter",
            "{single}",
            "5;a=\"",
            "?0",
            400,
        )
        .body("x"),
        Case::draft_patch("Upload-Offset behind the upload's", "{single}", "4", "?0", 409).body("x"),
        Case::draft_patch("Upload-Offset ahead of the upload's", "{single}", "6", "?0", 409).body("x"),
        Case::draft_patch("append without Upload-Complete", "{single}", "5", "?0", 400)
            .without("upload-complete")
            .body("x"),
        Case::draft_patch("append as application/offset+octet-stream", "{single}", "5", "?0", 415)
            .set("content-type", "application/offset+octet-stream")
            .body("x"),
        Case::draft_patch("a ?1 append that ends before the length", "{single}", "5", "?1", 400).body("xy"),
        Case::draft_patch(
            "Upload-Length that differs from the upload's",
            "{single}",
            "5",
            "?0",
            400,
        )
        .header("upload-length", "11")
        .body("x"),
        Case::draft_patch("content past the upload's length", "{single}", "5", "?0", 400).body("abcdef"),
        Case::draft_patch("a declared length below the offset", "{deferred}", "2", "?0", 400)
            .header("upload-length", "1")
            .body(""),
        Case::draft_patch("data appended to a complete upload", "{done}", "5", "?0", 400).body("x"),
        Case::draft_patch("interop 6: an append to a complete upload", "{done}", "5", "?0", 400)
            .set("upload-draft-interop-version", "6")
            .body("x"),
        Case::draft_patch(
            "an append at offset 0 to a complete partial upload",
            "{partial}",
            "0",
            "?1",
            409,
        )
        .body("x"),
        Case::draft(
            "interop 6: offset retrieval with Upload-Offset",
            "HEAD",
            "{single}",
            "6",
            400,
        )
        .header("upload-offset", "5"),
        Case::draft(
            "interop 6: cancellation with Upload-Complete",
            "DELETE",
            "{single}",
            "6",
            400,
        )
        .header("upload-complete", "?1"),
        Case::draft(
            "offset retrieval of a missing upload",
            "HEAD",
            "/files/nonexistent",
            "8",
            404,
        ),
        Case::draft("PUT of an upload", "PUT", "{single}", "8", 405),
    ]
}

/// Sends `request`; `Err` if the transport failed (a crashed connection counts).
async fn send(transport: &dyn Transport, request: http::Request<Vec<Bytes>>) -> Result<http::Response<Bytes>, String> {
    transport.send(request).await
}

fn request(
    method: &str,
    path: &str,
    headers: &[(&str, Vec<u8>)],
    body: Vec<u8>,
) -> Result<http::Request<Vec<Bytes>>, String> {
    let method = http::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut builder = http::Request::builder().method(method).uri(path);
    for (name, value) in headers {
        let value = http::HeaderValue::from_bytes(value).map_err(|e| format!("header {name}: {e}"))?;
        builder = builder.header(*name, value);
    }
    builder = builder.header("content-length", body.len().to_string());
    builder.body(vec![Bytes::from(body)]).map_err(|e| e.to_string())
}

fn tus(method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Result<http::Request<Vec<Bytes>>, String> {
    let mut headers: Vec<(&str, Vec<u8>)> = vec![("tus-resumable", b"1.0.0".to_vec())];
    headers.extend(extra.iter().map(|(n, v)| (*n, v.as_bytes().to_vec())));
    request(method, path, &headers, body.to_vec())
}

async fn create(transport: &dyn Transport, headers: &[(&str, &str)], body: &[u8]) -> Result<String, String> {
    let response = send(transport, tus("POST", "/files/", headers, body)?).await?;
    if response.status() != 201 {
        return Err(format!("creating a reference upload: status {}", response.status()));
    }
    let location = header(&response, "location").ok_or("created upload has no Location")?;
    Ok(location
        .parse::<http::Uri>()
        .map(|uri| uri.path().to_owned())
        .unwrap_or(location))
}

fn header(response: &http::Response<Bytes>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Creates the reference uploads of [`Fixture`].
pub async fn create_fixture(transport: &dyn Transport) -> Result<Fixture, String> {
    let oos = ("content-type", "application/offset+octet-stream");
    Ok(Fixture {
        single: create(
            transport,
            &[("upload-length", "10"), ("upload-metadata", "name YQ=="), oos],
            b"hello",
        )
        .await?,
        deferred: create(transport, &[("upload-defer-length", "1"), oos], b"hi").await?,
        partial: create(
            transport,
            &[("upload-length", "3"), ("upload-concat", "partial"), oos],
            b"abc",
        )
        .await?,
        done: create(transport, &[("upload-length", "5"), oos], b"hello").await?,
    })
}

/// What a client can see of the reference uploads: each one's `HEAD` headers
/// and, when complete, its bytes.
async fn observe(transport: &dyn Transport, fixture: &Fixture) -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    for path in fixture.paths() {
        let head = send(transport, tus("HEAD", path, &[], b"")?).await?;
        let mut line = format!("{path}: {}", head.status());
        for name in [
            "upload-offset",
            "upload-length",
            "upload-defer-length",
            "upload-metadata",
            "upload-concat",
        ] {
            line.push_str(&format!(" {name}={:?}", header(&head, name)));
        }
        if header(&head, "upload-offset") == header(&head, "upload-length") {
            let get = send(transport, tus("GET", path, &[], b"")?).await?;
            line.push_str(&format!(" GET {} {:?}", get.status(), get.body()));
        }
        seen.push(line);
    }
    let options = send(transport, tus("OPTIONS", "/files/", &[], b"")?).await?;
    seen.push(format!("OPTIONS {}", options.status()));
    Ok(seen)
}

/// A fingerprint of everything the server stores (see the module docs).
pub type Fingerprint<'a> = &'a (dyn Fn() -> BoxFuture<'a, String> + Sync);

/// Sends `case` and checks the answer and that nothing changed.
async fn check(
    transport: &dyn Transport,
    fixture: &Fixture,
    case: &Case,
    before: &[String],
    fingerprint: Fingerprint<'_>,
    stored: &str,
) -> Result<(), String> {
    let path = String::from_utf8(fixture.substitute(case.path.as_bytes())).map_err(|e| e.to_string())?;
    let headers: Vec<(&str, Vec<u8>)> = case
        .headers
        .iter()
        .map(|(name, value)| (*name, fixture.substitute(value)))
        .collect();
    let response = send(transport, request(case.method, &path, &headers, case.body.clone())?)
        .await
        .map_err(|e| format!("no response (did the server crash?): {e}"))?;
    let status = response.status();
    let body = String::from_utf8_lossy(response.body()).into_owned();
    if status.as_u16() != case.status || !status.is_client_error() {
        return Err(format!("status {status} (expected {}), body {body:?}", case.status));
    }
    if case.method != "HEAD" {
        let content_type = header(&response, "content-type").unwrap_or_default();
        let plain = content_type.starts_with("text/plain");
        let code_and_reason = body
            .split_once(": ")
            .is_some_and(|(code, reason)| code.starts_with("ERR_") && !reason.trim().is_empty());
        // The draft's problem types are answered as RFC 9457 problem details,
        // which carry the same stable code.
        let problem = case.category == Category::Draft
            && content_type == "application/problem+json"
            && body.contains("\"code\":\"ERR_");
        if !problem && (!plain || !code_and_reason) {
            return Err(format!(
                "the answer lacks a plain-text `ERR_CODE: reason` body: {body:?}"
            ));
        }
    }
    let after = observe(transport, fixture).await?;
    if after != before {
        return Err(format!(
            "reference uploads changed:\nbefore {before:#?}\nafter {after:#?}"
        ));
    }
    if fingerprint().await != stored {
        return Err("the stored data changed".to_owned());
    }
    Ok(())
}

/// Creates the fixture, then runs every case of [`corpus`]; returns one
/// message per failed case (empty when all pass).
///
/// `fingerprint` summarizes everything stored; it must not change while
/// the cases run. It is taken after the fixture is created.
pub async fn run(transport: &dyn Transport, fingerprint: Fingerprint<'_>) -> Vec<String> {
    let fixture = match create_fixture(transport).await {
        Ok(fixture) => fixture,
        Err(error) => return vec![error],
    };
    let mut failures = Vec::new();
    let mut baseline = None;
    for case in corpus() {
        // Taken again after a failure, so one case's damage is not blamed on the next.
        let (before, stored) = match baseline.take() {
            Some(baseline) => baseline,
            None => match observe(transport, &fixture).await {
                Ok(seen) => (seen, fingerprint().await),
                Err(error) => {
                    failures.push(error);
                    return failures;
                }
            },
        };
        match check(transport, &fixture, &case, &before, fingerprint, &stored).await {
            Ok(()) => baseline = Some((before, stored)),
            Err(error) => failures.push(format!(
                "{:?} / {} ({} {}): {error}",
                case.category, case.name, case.method, case.path
            )),
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_expects_a_client_error() {
        let cases = corpus();
        assert!(cases.len() > 80, "the corpus has {} cases", cases.len());
        for case in cases {
            assert!((400..500).contains(&case.status), "{}", case.name);
        }
    }

    #[test]
    fn placeholders_are_replaced() {
        let fixture = Fixture {
            single: "/files/s".into(),
            deferred: "/files/d".into(),
            partial: "/files/p".into(),
            done: "/files/x".into(),
        };
        assert_eq!(
            fixture.substitute(b"final;{partial} {done}"),
            b"final;/files/p /files/x"
        );
        assert_eq!(fixture.substitute(b"{single}.bin"), b"/files/s.bin");
    }
}
