//! The protocol scenarios, the `Expect: 100-continue` rule, interrupted
//! bodies and crash recovery, all over real TCP against the `tus-axum` binary.

mod support;

use std::time::Duration;

use bytes::Bytes;
use support::{HyperTransport, Server};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenarios_pass_over_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let failures = tus_conformance::scenarios::run_all(&transport).await;
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
async fn start_partial_patch(addr: &str, path: &str, extra_headers: &str, declared: u64, sent: &[u8]) -> TcpStream {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_large_creation_with_expect_continue_gets_a_final_413() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let too_large = tus_conformance::scenarios::MAX_SIZE + 1;
    let head = format!(
        "POST /files/ HTTP/1.1\r\nHost: {}\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {too_large}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {too_large}\r\nExpect: 100-continue\r\n\r\n",
        server.addr
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let response = read_head(&mut stream).await;
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "expected a final 413 before any body, got {response:?}"
    );
    assert!(!response.contains("100 Continue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_patch_keeps_received_bytes_across_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
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
    let server = Server::start(dir.path()).await;
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
async fn create_upload(transport: &HyperTransport, length: u64) -> String {
    let create = http::Request::post("/files/")
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

async fn offset_of(transport: &HyperTransport, path: &str) -> String {
    let head = http::Request::head(path)
        .header("tus-resumable", "1.0.0")
        .header("content-length", "0")
        .body(Vec::new())
        .expect("request");
    let response = transport.send_request(head).await.expect("head");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checksum_trailer_is_verified_over_http11() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 11).await;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_checksummed_patch_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 1000).await;
    let checksum = "Upload-Checksum: sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n";
    drop(start_partial_patch(&server.addr, &path, checksum, 1000, &[b'x'; 600]).await);
    // Give the server time to notice the disconnect, then check nothing was kept.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(offset_of(&transport, &path).await, "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_shuts_down_gracefully_and_keeps_in_flight_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 1000).await;
    // A PATCH that has sent part of its body when the signal arrives.
    let stream = start_partial_patch(&server.addr, &path, "", 1000, &[b'z'; 300]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(server.terminate().await, "tus-axum exits with success after SIGTERM");
    drop(stream);

    let server = Server::start(dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    assert_eq!(
        offset_of(&transport, &path).await,
        "300",
        "bytes received before shutdown are kept"
    );
}
