//! The tests, as plain async functions taking the server binary's path.
//! Each starts its own server over a fresh temporary directory; they panic
//! with a message naming the broken rule.

use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use super::{HyperTransport, Server};

mod auth;
pub use auth::{
    auth_keeps_each_upload_to_its_owner, auth_keeps_partials_to_their_owner,
    auth_rejects_anonymous_and_records_the_user,
};

/// A server over a fresh directory, with `flags`, and a transport to it.
async fn start(binary: &str, flags: &[&str]) -> (tempfile::TempDir, Server, HyperTransport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(binary, dir.path(), flags).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    (dir, server, transport)
}

/// A PATCH of `data` at `offset` with `Content-Length`.
fn patch_request(path: &str, offset: u64, data: &'static [u8]) -> http::Request<Vec<Bytes>> {
    http::Request::patch(path)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", data.len().to_string())
        .body(vec![Bytes::from_static(data)])
        .expect("request")
}

/// Whether a server's framework passes HTTP/1.1 trailers to the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trailers {
    /// Trailers arrive (hyper/axum): `checksum-trailer` is served.
    Passed,
    /// The framework drops them (actix-web 4): the server must not
    /// advertise `checksum-trailer` and must refuse such requests.
    Dropped,
}

/// The scenario that needs `checksum-trailer` advertised.
const TRAILER_SCENARIO: &str = "C61:";

/// Every protocol scenario passes over TCP (with [`Trailers::Dropped`],
/// all but the one advertising `checksum-trailer`, which
/// [`checksum_trailer_is_verified_over_http11`] covers).
pub async fn scenarios(binary: &str, trailers: Trailers) {
    let (_dir, _server, transport) = start(binary, &[]).await;
    let mut failures = Vec::new();
    for scenario in crate::scenarios::all() {
        if trailers == Trailers::Dropped && scenario.name.starts_with(TRAILER_SCENARIO) {
            continue;
        }
        if let Err(failure) = crate::scenarios::run(&transport, &scenario).await {
            failures.push(failure);
        }
    }
    assert!(
        failures.is_empty(),
        "{} scenario(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Reads from `stream` until the end of the response head, bounded in time.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        if read == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Opens a raw PATCH at offset 0 that announces `declared` bytes with
/// `extra_headers` (whole `Name: value\r\n` lines) but sends only `sent`;
/// the caller decides when the connection drops.
pub async fn start_partial_patch(addr: &str, path: &str, extra_headers: &str, declared: u64, sent: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n{extra_headers}\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.expect("write head");
    stream.write_all(sent).await.expect("write body");
    stream.flush().await.expect("flush");
    stream
}

/// How a server answers `Expect: 100-continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continue {
    /// The handler decides before the framework sends `100 Continue`
    /// (hyper/axum: 100 is sent only when the body is first read).
    Deferred,
    /// The framework sends `100 Continue` before the handler runs (actix-web).
    Immediate,
}

/// A creation that is too large gets a final 413 without reading the body;
/// with [`Continue::Deferred`] no `100 Continue` is sent first.
pub async fn too_large_creation_with_expect_continue_gets_a_final_413(binary: &str, interim: Continue) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(binary, dir.path()).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let too_large = crate::scenarios::MAX_SIZE + 1;
    let head = format!(
        "POST /files/ HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {too_large}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {too_large}\r\nExpect: 100-continue\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = read_head(&mut stream).await;
    if interim == Continue::Immediate && response.starts_with("HTTP/1.1 100") {
        response = response
            .split_once("\r\n\r\n")
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or_default();
        if response.is_empty() {
            response = read_head(&mut stream).await;
        }
    }
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "expected a final 413 before any body, got {response:?}"
    );
    assert!(!response.contains("100 Continue"));
    assert!(
        response.to_ascii_lowercase().contains("\r\nx-request-id: "),
        "the refusal names its request id: {response:?}"
    );
}

/// Bytes received before a client disconnects are kept, also across a `kill -9`.
pub async fn interrupted_patch_keeps_received_bytes_across_a_crash(binary: &str) {
    let (dir, server, transport) = start(binary, &[]).await;
    let path = create_upload(&transport, 1000).await;

    // Announce 1000 bytes, send 600, then drop the connection (C27).
    drop(start_partial_patch(&server.addr, &path, "", 1000, &[b'x'; 600]).await);

    let mut offset = String::new();
    for _ in 0..100 {
        offset = offset_of(&transport, &path).await;
        if offset == "600" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(offset, "600", "the bytes received before the disconnect are kept");

    // Crash the server and start a new one over the same directory.
    server.kill().await;
    let server = Server::start(binary, dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    assert_eq!(offset_of(&transport, &path).await, "600");
    let finish = http::Request::patch(path.as_str())
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "600")
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", "400")
        .body(vec![Bytes::from(vec![b'y'; 400])])
        .expect("request");
    let response = transport.send_request(finish).await.expect("patch");
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["upload-offset"], "1000");
    let get = http::Request::get(path.as_str())
        .header("content-length", "0")
        .body(Vec::new())
        .expect("request");
    let body = transport.send_request(get).await.expect("get").into_body();
    assert_eq!(body.len(), 1000);
    assert!(body[..600].iter().all(|&b| b == b'x') && body[600..].iter().all(|&b| b == b'y'));
}

/// Creates an upload of `length` bytes and returns its path.
pub async fn create_upload(transport: &HyperTransport, length: u64) -> String {
    create_upload_at(transport, length, "/files/").await
}

/// Creates an upload of `length` bytes in the collection at `collection`
/// and returns its path.
pub async fn create_upload_at(transport: &HyperTransport, length: u64, collection: &str) -> String {
    let create = http::Request::post(collection)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", length.to_string())
        .header("content-length", "0")
        .body(Vec::new())
        .expect("request");
    let created = transport.send_request(create).await.expect("create");
    assert_eq!(created.status(), 201);
    let location = created.headers()["location"]
        .to_str()
        .expect("ascii")
        .parse::<http::Uri>()
        .expect("uri");
    location.path().to_owned()
}

/// The `Upload-Offset` a HEAD of `path` answers.
pub async fn offset_of(transport: &HyperTransport, path: &str) -> String {
    let head = http::Request::head(path)
        .header("tus-resumable", "1.0.0")
        .header("content-length", "0")
        .body(Vec::new())
        .expect("request");
    let response = transport.send_request(head).await.expect("head");
    assert_eq!(response.status(), 200, "HEAD {path}");
    response.headers()["upload-offset"].to_str().expect("ascii").to_owned()
}

/// Sends a chunked PATCH of "hello world" whose trailer section is `trailer`
/// (raw header lines), over a raw HTTP/1.1 connection, and returns the status line.
async fn patch_with_trailer(addr: &str, path: &str, trailer: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\nTrailer: Upload-Checksum\r\n\r\n\
         5\r\nhello\r\n6\r\n world\r\n0\r\n{trailer}\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let head = read_head(&mut stream).await;
    head.lines().next().unwrap_or_default().to_owned()
}

/// `Upload-Checksum` in an HTTP/1.1 chunked trailer is verified; where
/// the framework drops trailers, `checksum-trailer` is not advertised and
/// such a request is refused with 400, storing nothing.
pub async fn checksum_trailer_is_verified_over_http11(binary: &str, trailers: Trailers) {
    let (_dir, server, transport) = start(binary, &[]).await;
    let path = create_upload(&transport, 11).await;
    if trailers == Trailers::Dropped {
        let options = send_empty(&transport, http::Request::options("/files/")).await;
        let extensions = options.headers()["tus-extension"].to_str().expect("ascii");
        assert!(extensions.split(',').any(|e| e == "checksum"), "{extensions}");
        assert!(!extensions.split(',').any(|e| e == "checksum-trailer"), "{extensions}");
        let right = "Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\n";
        let refused = patch_with_trailer(&server.addr, &path, right).await;
        assert!(refused.starts_with("HTTP/1.1 400"), "{refused}");
        assert_eq!(offset_of(&transport, &path).await, "0");
        return;
    }

    let wrong = patch_with_trailer(
        &server.addr,
        &path,
        "Upload-Checksum: sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n",
    )
    .await;
    assert!(wrong.starts_with("HTTP/1.1 460"), "{wrong}");
    assert_eq!(
        offset_of(&transport, &path).await,
        "0",
        "a mismatched chunk is discarded"
    );

    let missing = patch_with_trailer(&server.addr, &path, "").await;
    assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
    assert_eq!(offset_of(&transport, &path).await, "0");

    let right = patch_with_trailer(
        &server.addr,
        &path,
        "Upload-Checksum: sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=\r\n",
    )
    .await;
    assert!(right.starts_with("HTTP/1.1 204"), "{right}");
    assert_eq!(offset_of(&transport, &path).await, "11");
}

/// A checksummed PATCH cut short stores nothing.
pub async fn interrupted_checksummed_patch_stores_nothing(binary: &str) {
    let (_dir, server, transport) = start(binary, &[]).await;
    let path = create_upload(&transport, 1000).await;
    let checksum = "Upload-Checksum: sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n";
    drop(start_partial_patch(&server.addr, &path, checksum, 1000, &[b'x'; 600]).await);
    // Give the server time to notice the disconnect, then check nothing was kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(offset_of(&transport, &path).await, "0");
}

/// SIGTERM lets the server exit with success, keeping the bytes of a PATCH in flight.
pub async fn sigterm_shuts_down_gracefully_and_keeps_in_flight_bytes(binary: &str) {
    let (dir, server, transport) = start(binary, &[]).await;
    let path = create_upload(&transport, 1000).await;
    // A PATCH that has sent part of its body when the signal arrives.
    let stream = start_partial_patch(&server.addr, &path, "", 1000, &[b'z'; 300]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.terminate().await, "{binary} exits with success after SIGTERM");
    drop(stream);

    let server = Server::start(binary, dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    assert_eq!(
        offset_of(&transport, &path).await,
        "300",
        "bytes received before shutdown are kept"
    );
}

/// Sends `request` with an empty body and `Content-Length: 0`.
async fn send_empty(transport: &HyperTransport, request: http::request::Builder) -> http::Response<Bytes> {
    let request = request
        .header("tus-resumable", "1.0.0")
        .header("content-length", "0")
        .body(Vec::new())
        .expect("request");
    transport.send_request(request).await.expect("response")
}

/// `/metrics` serves the Prometheus text format and counts what happened.
pub async fn metrics_count_uploads(binary: &str) {
    let (_dir, _server, transport) = start(binary, &[]).await;
    let path = create_upload(&transport, 3).await;
    let patch = patch_request(&path, 0, b"abc");
    assert_eq!(transport.send_request(patch).await.expect("patch").status(), 204);
    let missing = send_empty(&transport, http::Request::head("/files/nonexistent")).await;
    assert_eq!(missing.status(), 404);

    let metrics = send_empty(&transport, http::Request::get("/metrics")).await;
    assert_eq!(metrics.status(), 200);
    assert!(
        metrics.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/plain; version=0.0.4"),
        "Prometheus content type"
    );
    let text = String::from_utf8_lossy(metrics.body()).into_owned();
    for line in [
        "tus_requests_total{method=\"POST\"} 1",
        "tus_requests_total{method=\"PATCH\"} 1",
        "tus_bytes_received_total 3",
        "tus_uploads_created_total 1",
        "tus_uploads_finished_total 1",
        "tus_errors_total{code=\"ERR_UPLOAD_NOT_FOUND\"} 1",
        "tus_store_duration_seconds_count{operation=\"create\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

/// Behind a TLS-terminating proxy (`--trust-forwarded`), `Location` uses
/// the public scheme and host; without the flag, proxy headers are ignored.
pub async fn location_behind_a_proxy(binary: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    for (flags, expected) in [
        (&["--trust-forwarded"][..], "https://uploads.example/files/"),
        (&[][..], "http://10.0.0.7:8080/files/"),
    ] {
        let server = Server::start_with(binary, dir.path(), flags).await;
        let transport = HyperTransport {
            addr: server.addr.clone(),
        };
        for proxy_headers in [
            &[("x-forwarded-proto", "https"), ("x-forwarded-host", "uploads.example")][..],
            &[("forwarded", "for=192.0.2.1;proto=https;host=uploads.example")][..],
        ] {
            let mut request = http::Request::post("/files/")
                .header("host", "10.0.0.7:8080")
                .header("upload-length", "1");
            for (name, value) in proxy_headers {
                request = request.header(*name, *value);
            }
            let created = send_empty(&transport, request).await;
            let location = created.headers()["location"].to_str().expect("ascii");
            assert!(
                location.starts_with(expected),
                "{flags:?} {proxy_headers:?}: {location}"
            );
        }
    }
}

/// Every file in `dir` with its bytes (the fs store's whole state), as text.
fn fingerprint(dir: &std::path::Path) -> String {
    let mut files = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).expect("read upload dir") {
        let path = entry.expect("dir entry").path();
        let bytes = std::fs::read(&path).unwrap_or_else(|e| format!("unreadable: {e}").into_bytes());
        files.insert(path.file_name().map(|n| n.to_string_lossy().into_owned()), bytes);
    }
    format!("{files:?}")
}

/// The malformed-request corpus ([`crate::malformed`]) over real TCP: every
/// case gets its 4xx with a reason, the server keeps serving, and no file in
/// the upload directory changes.
pub async fn malformed_requests_get_a_4xx_and_change_no_file(binary: &str) {
    use futures::FutureExt as _;

    // Room for the corpus' 80 KiB metadata, so the metadata limit answers
    // (the examples' default 64 KiB head limit would answer 431 first).
    let (dir, server, transport) = start(binary, &["--max-header-bytes", "131072"]).await;
    let print = || async { fingerprint(dir.path()) }.boxed();
    let failures = crate::malformed::run(&transport, &print).await;
    assert!(
        failures.is_empty(),
        "{} malformed case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let sidecars = std::fs::read_dir(dir.path())
        .expect("read upload dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "info"))
        })
        .count();
    assert_eq!(sidecars, 4, "only the four reference uploads exist");
    assert!(
        server.terminate().await,
        "the server is still healthy and shuts down cleanly"
    );
}

/// A creation that passes the checks on its head gets `100 Continue`, then,
/// once the body is sent, its 201.
pub async fn acceptable_creation_with_expect_continue_gets_100_then_201(binary: &str) {
    let (_dir, server, _transport) = start(binary, &[]).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let head = format!(
        "POST /files/ HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 5\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let interim = read_head(&mut stream).await;
    assert!(
        interim.starts_with("HTTP/1.1 100"),
        "expected 100 Continue, got {interim:?}"
    );
    let rest = interim
        .split_once("\r\n\r\n")
        .map(|(_, rest)| rest.to_owned())
        .unwrap_or_default();
    stream.write_all(b"hello").await.expect("write body");
    let response = if rest.is_empty() {
        read_head(&mut stream).await
    } else {
        rest
    };
    assert!(
        response.starts_with("HTTP/1.1 201"),
        "expected 201 after the body, got {response:?}"
    );
    assert!(
        response.to_ascii_lowercase().contains("upload-offset: 5"),
        "{response:?}"
    );
}

/// Every response carries `X-Request-ID`: the client's when plain and short,
/// else a generated one; CORS lets browser code read it, and the server's
/// log names it.
pub async fn request_id_is_echoed_and_logged(binary: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("server.log");
    let uploads = dir.path().join("uploads");
    let server = Server::start_logging(binary, &uploads, &[], &log).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let id_of = |response: &http::Response<Bytes>| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let post = || http::Request::post("/files/").header("upload-length", "3");
    // The client's id is echoed, on success and on refusal.
    let created = send_empty(&transport, post().header("x-request-id", "client-id-1")).await;
    assert_eq!(created.status(), 201);
    assert_eq!(id_of(&created).as_deref(), Some("client-id-1"));
    let refused = send_empty(
        &transport,
        http::Request::post("/files/").header("x-request-id", "client-id-2"),
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert_eq!(id_of(&refused).as_deref(), Some("client-id-2"));
    // None, or one too long or with odd characters: a fresh one, each time another.
    let mut generated = Vec::new();
    for sent in [None, Some("x".repeat(200)), Some("a b".to_owned())] {
        let mut request = http::Request::options("/files/");
        if let Some(sent) = &sent {
            request = request.header("x-request-id", sent.as_str());
        }
        let response = send_empty(&transport, request).await;
        let id = id_of(&response).expect("a generated id");
        assert!(
            id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
            "{sent:?} -> {id:?}"
        );
        generated.push(id);
    }
    generated.dedup();
    assert_eq!(generated.len(), 3, "every generated id differs");
    // Browsers may read it.
    let cross = send_empty(&transport, post().header("origin", "https://app.example")).await;
    let exposed = cross
        .headers()
        .get("access-control-expose-headers")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(exposed.contains("x-request-id"), "exposed: {exposed:?}");
    // The log names the client's id (lines are flushed as written; poll briefly).
    let mut text = String::new();
    for _ in 0..100 {
        text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("client-id-1") && text.contains("client-id-2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        text.contains("client-id-1") && text.contains("client-id-2"),
        "log:\n{text}"
    );
}
