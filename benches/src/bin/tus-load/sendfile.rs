//! The large-upload client: plain HTTP/1.1 over a blocking `TcpStream`, with
//! PATCH bodies sent from the file by the kernel (`std::io::copy` from a
//! `File` to a `TcpStream` uses `sendfile`/`splice` on Linux). The client
//! then costs almost no CPU, so it is not what is measured.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use http::{HeaderValue, StatusCode};
use tus_core::headers::{HeaderKind, TUS_VERSION_1_0_0, TusHeader, TusResumable, UploadLength, UploadOffset};
use tus_core::server::request::OFFSET_OCTET_STREAM;

use crate::client::{Answer, Error};

/// Most bytes of a response head and body this client accepts.
const MAX_RESPONSE: usize = 64 << 10;

/// Longest wait for the server to take more of a body or to answer: a
/// server that hangs fails the run instead of stopping it.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);

/// One keep-alive connection.
pub(crate) struct SendfileConnection {
    stream: TcpStream,
    host: String,
    buffer: Vec<u8>,
}

impl SendfileConnection {
    /// Connects to `addr` (`127.0.0.1:PORT`).
    pub(crate) fn open(addr: &str) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(STALL_TIMEOUT))?;
        stream.set_write_timeout(Some(STALL_TIMEOUT))?;
        Ok(Self {
            stream,
            host: addr.to_owned(),
            buffer: Vec::with_capacity(MAX_RESPONSE),
        })
    }

    fn head(&self, method: &str, path: &str, tus: &[(HeaderKind, HeaderValue)], content_length: u64) -> String {
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.host);
        let version = TusResumable(TUS_VERSION_1_0_0).encode();
        for (kind, value) in [(HeaderKind::TusResumable, version)].iter().chain(tus) {
            head.push_str(kind.display_name());
            head.push_str(": ");
            head.push_str(value.to_str().unwrap_or_default());
            head.push_str("\r\n");
        }
        if content_length > 0 {
            head.push_str(&format!("Content-Type: {OFFSET_OCTET_STREAM}\r\n"));
        }
        head.push_str(&format!("Content-Length: {content_length}\r\n\r\n"));
        head
    }

    /// `POST {collection}` for an upload of `length` bytes, without a body.
    pub(crate) fn create(&mut self, collection: &str, length: u64) -> Result<Answer, Error> {
        let head = self.head(
            "POST",
            collection,
            &[(HeaderKind::UploadLength, UploadLength(length).encode())],
            0,
        );
        self.stream.write_all(head.as_bytes())?;
        self.answer()
    }

    /// `PATCH {path}` at `offset` with `length` bytes of `source` from `offset`.
    pub(crate) fn patch(&mut self, path: &str, source: &Path, offset: u64, length: u64) -> Result<Answer, Error> {
        let head = self.head(
            "PATCH",
            path,
            &[(HeaderKind::UploadOffset, UploadOffset(offset).encode())],
            length,
        );
        self.stream.write_all(head.as_bytes())?;
        let mut file = File::open(source)?;
        file.seek(SeekFrom::Start(offset))?;
        let sent = io::copy(&mut file.take(length), &mut self.stream)?;
        if sent != length {
            return Err(format!("sent {sent} of {length} bytes").into());
        }
        self.answer()
    }

    /// Reads one response (head and `Content-Length` body).
    fn answer(&mut self) -> Result<Answer, Error> {
        self.buffer.clear();
        let mut chunk = [0u8; 4096];
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head_len) = response.parse(&self.buffer)? {
                let status = StatusCode::from_u16(response.code.unwrap_or_default())?;
                let (mut offset, mut location, mut body_len) = (None, None, 0usize);
                for header in response.headers.iter() {
                    if header
                        .name
                        .eq_ignore_ascii_case(HeaderKind::UploadOffset.lowercase_name())
                    {
                        offset = Some(UploadOffset::decode(&HeaderValue::from_bytes(header.value)?)?.0);
                    } else if header.name.eq_ignore_ascii_case(http::header::LOCATION.as_str()) {
                        location = Some(crate::client::path_of(std::str::from_utf8(header.value)?));
                    } else if header.name.eq_ignore_ascii_case(http::header::CONTENT_LENGTH.as_str()) {
                        body_len = std::str::from_utf8(header.value)?.trim().parse()?;
                    }
                }
                if head_len + body_len > MAX_RESPONSE {
                    return Err("response too large".into());
                }
                while self.buffer.len() < head_len + body_len {
                    let n = self.stream.read(&mut chunk)?;
                    if n == 0 {
                        return Err("connection closed inside a response body".into());
                    }
                    self.buffer.extend_from_slice(&chunk[..n]);
                }
                return Ok(Answer {
                    status,
                    offset,
                    location,
                });
            }
            if self.buffer.len() >= MAX_RESPONSE {
                return Err("response head too large".into());
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                return Err("connection closed before a response".into());
            }
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}
