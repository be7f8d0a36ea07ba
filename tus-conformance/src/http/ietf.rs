//! The IETF draft end to end over raw HTTP/1.1 sockets, per interop
//! version (9, 8, 6): a whole upload in one request, an upload in parts
//! (chunked transfer encoding), and one interrupted then resumed. The
//! requests and the reading of the answers are tus-core's client side
//! ([`tus_core::client::ietf`]); the socket code here only moves bytes, so
//! the `104 Upload Resumption Supported` is seen as the client sees it.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, Uri};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tus_core::client::ietf::{self as client, Answer};
use tus_core::headers::ietf::InteropVersion;

use super::Server;

/// Whether the server under test sends the 104.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interim {
    /// It does (tus-axum): the tests require it, and resume from its `Location`.
    Sent,
    /// It cannot (tus-actix): none may arrive; interrupted uploads start
    /// with an empty creation to learn the URL.
    NotSent,
}

/// Bytes that differ at every offset (so a misplaced byte shows).
fn data(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// One response read from a connection.
#[derive(Debug)]
struct Answered {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// A raw HTTP/1.1 connection with a read buffer.
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
    host: String,
}

const TIMEOUT: Duration = Duration::from_secs(20);

impl Connection {
    async fn open(addr: &str) -> Self {
        Self {
            stream: TcpStream::connect(addr).await.expect("connect"),
            buffer: Vec::new(),
            host: addr.to_owned(),
        }
    }

    /// Writes a request head; `chunked` when the body follows in chunks.
    async fn send_head(&mut self, request: &Request<()>, chunked: bool) {
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!("{} {target} HTTP/1.1\r\nhost: {}\r\n", request.method(), self.host);
        for (name, value) in request.headers() {
            head.push_str(&format!("{name}: {}\r\n", value.to_str().expect("ascii")));
        }
        if chunked {
            head.push_str("transfer-encoding: chunked\r\n");
        } else if !request.headers().contains_key("content-length") {
            head.push_str("content-length: 0\r\n");
        }
        head.push_str("\r\n");
        self.write(head.as_bytes()).await;
    }

    async fn write(&mut self, bytes: &[u8]) {
        tokio::time::timeout(TIMEOUT, self.stream.write_all(bytes))
            .await
            .expect("write in time")
            .expect("write");
    }

    async fn send_chunk(&mut self, chunk: &[u8]) {
        self.write(format!("{:x}\r\n", chunk.len()).as_bytes()).await;
        self.write(chunk).await;
        self.write(b"\r\n").await;
    }

    async fn fill(&mut self) {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(TIMEOUT, self.stream.read(&mut chunk))
            .await
            .expect("response in time")
            .expect("read");
        assert!(read > 0, "connection closed before a whole response");
        self.buffer.extend_from_slice(&chunk[..read]);
    }

    /// Reads the next response (interim or final) with its body.
    async fn read(&mut self, is_head: bool) -> Answered {
        let end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            self.fill().await;
        };
        let head = String::from_utf8(self.buffer[..end].to_vec()).expect("ascii head");
        self.buffer.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = HeaderMap::new();
        for line in lines {
            let (name, value) = line.split_once(':').expect("header line");
            headers.append(
                HeaderName::from_bytes(name.trim().as_bytes()).expect("name"),
                HeaderValue::from_str(value.trim()).expect("value"),
            );
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let length = if is_head || status < 200 { 0 } else { length };
        while self.buffer.len() < length {
            self.fill().await;
        }
        let body = self.buffer.drain(..length).collect();
        Answered {
            status: StatusCode::from_u16(status).expect("status"),
            headers,
            body,
        }
    }

    /// Reads interim responses until the final one; returns both.
    async fn read_final(&mut self, is_head: bool) -> (Vec<Answered>, Answered) {
        let mut interim = Vec::new();
        for _ in 0..10 {
            let answer = self.read(is_head).await;
            if answer.status.is_informational() {
                interim.push(answer);
            } else {
                return (interim, answer);
            }
        }
        panic!("more than 10 interim responses");
    }
}

/// Sends `request` with `body` on a new connection and reads the answers.
async fn exchange(addr: &str, request: &Request<()>, body: &[u8]) -> (Vec<Answered>, Answered) {
    let mut connection = Connection::open(addr).await;
    connection.send_head(request, false).await;
    connection.write(body).await;
    let is_head = request.method() == http::Method::HEAD;
    connection.read_final(is_head).await
}

async fn get_bytes(addr: &str, upload: &Uri) -> Vec<u8> {
    let request = Request::get(upload.clone()).body(()).expect("request");
    let (_, answer) = exchange(addr, &request, b"").await;
    assert_eq!(answer.status, 200, "GET {upload}");
    answer.body
}

/// The state of `upload` once its offset stopped moving (a cut request may
/// still be settling).
async fn settled(addr: &str, version: InteropVersion, upload: &Uri) -> client::UploadState {
    let mut last: Option<client::UploadState> = None;
    for _ in 0..100 {
        let (_, answer) = exchange(addr, &client::offset_retrieval(version, upload), b"").await;
        let state = client::read_offset(answer.status, &answer.headers).expect("offset retrieval");
        if last.as_ref().is_some_and(|last| last.offset == state.offset) {
            return state;
        }
        last = Some(state);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the offset of {upload} did not settle");
}

/// The 104 of a creation, checked: the version echoed, a `Location`.
fn resumption(version: InteropVersion, endpoint: &Uri, interim: &[Answered]) -> Uri {
    let first = interim.first().expect("a 104 before the final response");
    let read = client::read_interim(version, endpoint, first.status, &first.headers)
        .unwrap_or_else(|| panic!("v{}: not a 104 of this version: {first:?}", version.0));
    read.location.expect("the 104 carries Location")
}

/// Every upload shape, for every interop version.
pub async fn uploads_in_every_version(binary: &str, interim: Interim) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(binary, dir.path()).await;
    let addr = server.addr.clone();
    let endpoint: Uri = format!("http://{addr}/files/").parse().expect("uri");
    for version in tus_core::headers::ietf::INTEROP_VERSIONS {
        one_request(&addr, &endpoint, version, interim).await;
        in_parts(&addr, &endpoint, version).await;
        interrupted_then_resumed(&addr, &endpoint, version, interim).await;
    }
    // Without the interop header, or with a version this server lacks, no 104.
    for version in [None, Some("7")] {
        let mut request = client::creation(InteropVersion::V9, &endpoint, true, None, Some(1));
        match version {
            None => request.headers_mut().remove("upload-draft-interop-version"),
            Some(version) => request
                .headers_mut()
                .insert("upload-draft-interop-version", HeaderValue::from_static(version)),
        };
        let (seen, answer) = exchange(&addr, &request, b"x").await;
        assert!(seen.is_empty(), "{version:?}: no 104 for this request, got {seen:?}");
        assert!(answer.status.is_client_error(), "{version:?}: {answer:?}");
    }
}

/// The whole representation in one request; then, on the same connection,
/// a tus request whose answer carries no stray interim bytes.
async fn one_request(addr: &str, endpoint: &Uri, version: InteropVersion, interim: Interim) {
    let bytes = data(300 * 1024, version.0 as u8);
    let length = bytes.len() as u64;
    let request = client::creation(version, endpoint, true, Some(length), Some(length));
    let mut connection = Connection::open(addr).await;
    connection.send_head(&request, false).await;
    connection.write(&bytes).await;
    let (seen, answer) = connection.read_final(false).await;
    let upload = match interim {
        Interim::Sent => {
            let location = resumption(version, endpoint, &seen);
            for progress in &seen[1..] {
                let read = client::read_interim(version, endpoint, progress.status, &progress.headers);
                let read = read.unwrap_or_else(|| panic!("not a 104 of this version: {progress:?}"));
                assert!(
                    read.location.is_none() && read.offset.is_some(),
                    "a progress 104: {progress:?}"
                );
            }
            location
        }
        Interim::NotSent => {
            assert!(seen.is_empty(), "no interim response expected: {seen:?}");
            client::location(endpoint, &answer.headers).expect("Location")
        }
    };
    assert_eq!(
        client::read_answer(version, true, answer.status, &answer.headers),
        Answer::Complete { offset: Some(length) },
        "v{}: {answer:?}",
        version.0
    );
    assert_eq!(
        client::location(endpoint, &answer.headers),
        Some(upload.clone()),
        "same Location"
    );
    let options = Request::options(endpoint.clone())
        .header("tus-resumable", "1.0.0")
        .body(())
        .expect("request");
    connection.send_head(&options, false).await;
    let (seen, next) = connection.read_final(false).await;
    assert!(
        seen.is_empty() && next.status == 204,
        "the next answer is clean: {seen:?} {next:?}"
    );
    assert_eq!(get_bytes(addr, &upload).await, bytes, "v{}: one request", version.0);
}

/// A creation with the first part, then appends sent chunked, the last with `?1`.
async fn in_parts(addr: &str, endpoint: &Uri, version: InteropVersion) {
    let bytes = data(200 * 1024 + 7, version.0 as u8 + 1);
    let first = 64 * 1024;
    let request = client::creation(version, endpoint, false, None, Some(first as u64));
    let (_, answer) = exchange(addr, &request, &bytes[..first]).await;
    assert_eq!(answer.status, 201, "v{}: {answer:?}", version.0);
    let upload = client::location(endpoint, &answer.headers).expect("Location");
    let mut offset = match client::read_answer(version, false, answer.status, &answer.headers) {
        Answer::Incomplete { offset } => offset.unwrap_or(first as u64),
        other => panic!("v{}: creation of a part answered {other:?}", version.0),
    };
    let parts: Vec<&[u8]> = bytes[first..].chunks(50 * 1024).collect();
    for (index, part) in parts.iter().enumerate() {
        let last = index + 1 == parts.len();
        let mut connection = Connection::open(addr).await;
        connection
            .send_head(&client::append(version, &upload, offset, last, None), true)
            .await;
        for chunk in part.chunks(16 * 1024 + 3) {
            connection.send_chunk(chunk).await;
        }
        connection.write(b"0\r\n\r\n").await;
        let (_, answer) = connection.read_final(false).await;
        let sent_to = offset + part.len() as u64;
        match client::read_answer(version, last, answer.status, &answer.headers) {
            Answer::Incomplete { offset: reported } if !last => offset = reported.unwrap_or(sent_to),
            Answer::Complete { offset: reported } if last => assert_eq!(reported, Some(sent_to)),
            other => panic!("v{}: part {index} answered {other:?} ({answer:?})", version.0),
        }
    }
    assert_eq!(get_bytes(addr, &upload).await, bytes, "v{}: in parts", version.0);
}

/// A `?1` request cut after part of its content, then resumed: from the
/// 104's `Location` where the server sends one, else from an empty creation.
async fn interrupted_then_resumed(addr: &str, endpoint: &Uri, version: InteropVersion, interim: Interim) {
    let bytes = data(512 * 1024, version.0 as u8 + 2);
    let length = bytes.len() as u64;
    let cut = 200 * 1024;
    let mut connection = Connection::open(addr).await;
    let upload = match interim {
        Interim::Sent => {
            let request = client::creation(version, endpoint, true, Some(length), Some(length));
            connection.send_head(&request, false).await;
            let interim = connection.read(false).await;
            let location = resumption(version, endpoint, std::slice::from_ref(&interim));
            connection.write(&bytes[..cut]).await;
            location
        }
        Interim::NotSent => {
            let request = client::creation(version, endpoint, false, Some(length), Some(0));
            let (_, answer) = exchange(addr, &request, b"").await;
            let location = client::location(endpoint, &answer.headers).expect("Location");
            let request = client::append(version, &location, 0, true, Some(length));
            connection.send_head(&request, false).await;
            connection.write(&bytes[..cut]).await;
            location
        }
    };
    // The network goes away.
    drop(connection);
    let state = settled(addr, version, &upload).await;
    assert!(
        state.offset > 0 && state.offset <= cut as u64 && !state.complete,
        "v{}: after the cut: {state:?}",
        version.0
    );
    assert_eq!(state.length, Some(length));
    let rest = &bytes[state.offset as usize..];
    let request = client::append(version, &upload, state.offset, true, Some(rest.len() as u64));
    let (seen, answer) = exchange(addr, &request, rest).await;
    assert!(seen.iter().all(|a| a.status == 104), "{seen:?}");
    assert_eq!(
        client::read_answer(version, true, answer.status, &answer.headers),
        Answer::Complete { offset: Some(length) },
        "v{}: resumed: {answer:?}",
        version.0
    );
    assert_eq!(get_bytes(addr, &upload).await, bytes, "v{}: resumed", version.0);
}
