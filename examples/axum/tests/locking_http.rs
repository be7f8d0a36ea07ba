//! Request stealing (one process and two processes on one directory), the
//! body idle timeout, the header read timeout and size limit, and graceful
//! shutdown, over real TCP against the `tus-axum` binary.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tus_conformance::http::suite::{create_upload, offset_of, start_partial_patch};
use tus_conformance::http::{HyperTransport, Server};

const BINARY: &str = env!("CARGO_BIN_EXE_tus-axum");
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn patch(transport: &HyperTransport, path: &str, offset: u64, body: Vec<u8>) -> http::Response<Bytes> {
    let request = http::Request::patch(path)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", offset.to_string())
        .header("content-type", "application/offset+octet-stream")
        .header("content-length", body.len().to_string())
        .body(vec![Bytes::from(body)])
        .expect("request");
    transport.send_request(request).await.expect("patch")
}

/// Everything the server sends until it closes the connection or the
/// response head and `needle` arrived, bounded by `limit`.
async fn read_response(stream: &mut TcpStream, needle: &str, limit: Duration) -> String {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let text = String::from_utf8_lossy(&buffer);
        if text.contains("\r\n\r\n") && text.contains(needle) {
            break;
        }
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(read)) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    String::from_utf8_lossy(&buffer).into_owned()
}

/// Waits until the server has stored `expected` bytes of the stalled PATCH.
async fn wait_for_bytes_on_disk(dir: &std::path::Path, path: &str, expected: u64) {
    let id = path.rsplit('/').next().expect("id");
    let data = dir.join(format!("{id}.bin"));
    for _ in 0..200 {
        if std::fs::metadata(&data).is_ok_and(|meta| meta.len() == expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never stored {expected} bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_interrupts_a_stalled_patch_and_reports_the_true_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(BINARY, dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 1000).await;
    let mut stalled = start_partial_patch(&server.addr, &path, "", 1000, &[b'a'; 300]).await;
    wait_for_bytes_on_disk(dir.path(), &path, 300).await;

    let started = Instant::now();
    assert_eq!(offset_of(&transport, &path).await, "300");
    let waited = started.elapsed();
    eprintln!("HEAD steal answered in {waited:?}");
    assert!(waited < Duration::from_secs(1), "the HEAD proceeded after {waited:?}");

    let response = read_response(&mut stalled, "ERR_UPLOAD_INTERRUPTED", Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 409"), "{response:?}");
    assert!(response.contains("ERR_UPLOAD_INTERRUPTED"), "{response:?}");

    // The client resumes where the HEAD said.
    let finished = patch(&transport, &path, 300, vec![b'b'; 700]).await;
    assert_eq!(finished.status(), 204);
    assert_eq!(finished.headers()["upload-offset"], "1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_directory_steal_from_each_other() {
    takeover_between_two_processes(&["--locker", "file"]).await;
}

/// The same takeover with the Redis locker, as between two hosts sharing a
/// store (`TUS_TEST_REDIS_URL`, started by `scripts/test.d/25-redis.sh`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_sharing_redis_steal_from_each_other() {
    let url = match std::env::var("TUS_TEST_REDIS_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("TUS_REQUIRE_REDIS").is_some() => {
            panic!("TUS_REQUIRE_REDIS is set but TUS_TEST_REDIS_URL is not")
        }
        Err(_) => {
            eprintln!("skipped: no TUS_TEST_REDIS_URL (bash scripts/test.sh starts a Redis)");
            return;
        }
    };
    takeover_between_two_processes(&["--locker", "redis", "--redis-url", &url]).await;
}

/// A PATCH stalled on one server is taken over by a PATCH to another server
/// over the same directory, both using the locker `flags` select.
async fn takeover_between_two_processes(flags: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Server::start_with(BINARY, dir.path(), flags).await;
    let second = Server::start_with(BINARY, dir.path(), flags).await;
    let (to_first, to_second) = (
        HyperTransport {
            addr: first.addr.clone(),
        },
        HyperTransport {
            addr: second.addr.clone(),
        },
    );
    let path = create_upload(&to_first, 1000).await;
    let mut stalled = start_partial_patch(&first.addr, &path, "", 1000, &[b'a'; 300]).await;
    wait_for_bytes_on_disk(dir.path(), &path, 300).await;

    // The other process takes the upload over: its PATCH waits for the
    // first process to let go, then appends.
    let started = Instant::now();
    let resumed = patch(&to_second, &path, 300, vec![b'b'; 700]).await;
    let waited = started.elapsed();
    eprintln!("takeover from another process ({flags:?}) answered in {waited:?}");
    assert_eq!(resumed.status(), 204, "{:?}", resumed.body());
    assert_eq!(resumed.headers()["upload-offset"], "1000");
    assert!(waited < Duration::from_secs(2), "the takeover took {waited:?}");

    let response = read_response(&mut stalled, "ERR_UPLOAD_INTERRUPTED", Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 409"), "{response:?}");
    assert_eq!(offset_of(&to_first, &path).await, "1000");
    assert_eq!(offset_of(&to_second, &path).await, "1000");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_body_times_out_and_its_bytes_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(BINARY, dir.path(), &["--body-idle-timeout", "1"]).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 1000).await;
    let started = Instant::now();
    let mut stalled = start_partial_patch(&server.addr, &path, "", 1000, &[b'a'; 300]).await;
    let response = read_response(&mut stalled, "ERR_READ_TIMEOUT", Duration::from_secs(5)).await;
    let waited = started.elapsed();
    assert!(response.starts_with("HTTP/1.1 500"), "{response:?}");
    assert!(response.contains("ERR_READ_TIMEOUT"), "{response:?}");
    assert!(
        waited >= Duration::from_millis(900),
        "timed out early, after {waited:?}"
    );
    assert_eq!(offset_of(&transport, &path).await, "300");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_header_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(BINARY, dir.path(), &["--header-read-timeout", "1"]).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let started = Instant::now();
    stream
        .write_all(b"PATCH /files/abc HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n")
        .await
        .expect("write");
    let mut chunk = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        // Bounded: at most a few reads before the server closes.
        for _ in 0..16 {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return true,
                Ok(_) => {}
            }
        }
        false
    })
    .await;
    assert_eq!(closed, Ok(true), "the connection is closed");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "closed early, after {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_header_gets_431() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(BINARY, dir.path(), &["--max-header-bytes", "8192"]).await;
    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    let metadata = format!("filename {}", "A".repeat(16 * 1024));
    let request = format!(
        "POST /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 10\r\n\
         Upload-Metadata: {metadata}\r\nContent-Length: 0\r\n\r\n"
    );
    // The server may stop reading before all of it arrives.
    let _ = stream.write_all(request.as_bytes()).await;
    let response = read_response(&mut stream, "431", Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response:?}");
}

/// A creation-with-upload whose head is `head_bytes` long (an `X-Pad`
/// header fills it), with `body` right behind it.
fn creation_with_upload(head_bytes: usize, body: &[u8]) -> Vec<u8> {
    let start = format!(
        "POST /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Length: {0}\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {0}\r\nConnection: close\r\nX-Pad: ",
        body.len()
    );
    let fill = head_bytes - start.len() - "\r\n\r\n".len();
    let mut request = format!("{start}{}\r\n\r\n", "a".repeat(fill)).into_bytes();
    request.extend_from_slice(body);
    request
}

/// The head limit counts the head, not the read buffer (1 MiB by default,
/// far above the limit): a head of exactly the limit with a 3 MiB body
/// behind it in the same writes is served and stored, one byte more is 431.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_head_limit_is_exact_with_a_read_buffer_larger_than_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start_with(BINARY, dir.path(), &["--max-header-bytes", "8192"]).await;
    let body: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();

    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    stream
        .write_all(&creation_with_upload(8192, &body))
        .await
        .expect("write");
    let response = read_response(&mut stream, "\r\n\r\n", Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 201"), "{response:?}");
    assert!(
        response.to_ascii_lowercase().contains("upload-offset: 3145728\r\n"),
        "{response:?}"
    );
    let location = response
        .lines()
        .find_map(|line| {
            line.strip_prefix("Location: ")
                .or_else(|| line.strip_prefix("location: "))
        })
        .expect("location");
    let id = location.rsplit('/').next().expect("id");
    assert_eq!(std::fs::read(dir.path().join(format!("{id}.bin"))).expect("data"), body);

    let mut stream = TcpStream::connect(&server.addr).await.expect("connect");
    // The server may stop reading before all of it arrives (bounded, in
    // case it neither reads nor closes).
    let request = creation_with_upload(8193, &body);
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.write_all(&request)).await;
    let response = read_response(&mut stream, "431", Duration::from_secs(10)).await;
    assert!(response.starts_with("HTTP/1.1 431"), "{response:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_interrupts_bodies_in_flight_and_exits_within_the_bound() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A generous shutdown timeout: the server must not need it.
    let server = Server::start_with(BINARY, dir.path(), &["--shutdown-timeout", "30"]).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    let path = create_upload(&transport, 1000).await;
    let mut stalled = start_partial_patch(&server.addr, &path, "", 1000, &[b'z'; 300]).await;
    wait_for_bytes_on_disk(dir.path(), &path, 300).await;

    let started = Instant::now();
    let (exited, response) = tokio::join!(
        server.terminate(),
        read_response(&mut stalled, "ERR_SERVER_SHUTTING_DOWN", Duration::from_secs(10))
    );
    let waited = started.elapsed();
    eprintln!("SIGTERM to exit: {waited:?}");
    assert!(exited, "tus-axum exits with success after SIGTERM");
    assert!(waited < Duration::from_secs(5), "shutdown took {waited:?}");
    assert!(response.starts_with("HTTP/1.1 503"), "{response:?}");

    let server = Server::start(BINARY, dir.path()).await;
    let transport = HyperTransport {
        addr: server.addr.clone(),
    };
    assert_eq!(
        offset_of(&transport, &path).await,
        "300",
        "bytes received before shutdown are kept"
    );
}
