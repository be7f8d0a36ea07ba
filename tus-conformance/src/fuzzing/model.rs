//! The stateful target: random request sequences through `TusHandler` on
//! the memory store, checked against a small reference model.
//!
//! The fuzzer's bytes are read as a bounded sequence (at most
//! [`MAX_OPS`]) of operations: create (single, partial, deferred, with a
//! body, with a checksum), PATCH (right or wrong offset, declared length,
//! right or wrong checksum, chunked or not), HEAD, GET (with a range),
//! DELETE, and final uploads of up to three partials. For each the model
//! predicts success or failure (or, for a few combinations whose order of
//! checks is not specified, either), and the invariants hold always:
//! no 5xx, a failed request changes nothing, offsets only grow, and the
//! bytes read back are the bytes written.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, StatusCode};
use tus_core::checksum::Hasher;
use tus_core::headers::{ChecksumAlgorithm, TusHeader, UploadChecksum};
use tus_core::store::MemoryStore;
use tus_server::RequestBody;
use tus_server::TusHandler;

/// The longest operation sequence one input runs.
const MAX_OPS: usize = 48;
/// The handler's `Tus-Max-Size` in the stateful target.
const MAX_SIZE: u64 = 64 * 1024;
/// The largest body or upload length the generator picks (well under `MAX_SIZE`).
const MAX_BODY: u64 = 4096;

/// Reads the fuzzer's bytes; zeros once they run out.
struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&first, rest)) => {
                self.0 = rest;
                first
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.byte(), self.byte()])
    }

    /// A number below `n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n
    }

    /// A size from 0 to `MAX_BODY`.
    fn size(&mut self) -> u64 {
        u64::from(self.u16()) % (MAX_BODY + 1)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Single,
    Partial,
    /// Indexes of the partials, and whether it has been assembled.
    Final(Vec<usize>, bool),
}

/// What the model knows about one upload.
#[derive(Debug, Clone)]
struct Entry {
    path: String,
    kind: Kind,
    size: Option<u64>,
    data: Vec<u8>,
    deleted: bool,
}

impl Entry {
    fn complete(&self) -> bool {
        self.size == Some(self.data.len() as u64)
    }
}

/// A predicted outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Fail,
    Either,
}

struct Response {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn offset(&self) -> Option<u64> {
        self.header("upload-offset").and_then(|v| v.parse().ok())
    }
}

struct Run {
    handler: TusHandler,
    uploads: Vec<Entry>,
    log: Vec<String>,
}

/// Bytes `0..len` of a pattern chosen by `seed`.
fn pattern(seed: u8, len: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sha1_header(data: &[u8]) -> String {
    let mut hasher = Hasher::new(ChecksumAlgorithm::Sha1);
    hasher.update(data);
    let checksum = UploadChecksum {
        algorithm: ChecksumAlgorithm::Sha1,
        digest: hasher.finish(),
    };
    checksum.encode().to_str().unwrap_or_default().to_owned()
}

/// A timer whose sleeps never end: time stands still.
#[derive(Debug)]
struct FrozenTime;

impl tus_server::Timer for FrozenTime {
    fn sleep(&self, _: std::time::Duration) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }
}

/// Runs the operations encoded in `data` against a fresh handler and model.
pub fn stateful(data: &[u8]) {
    // No runtime here: time stands still, so no timeout fires (every body
    // the model sends is complete at once).
    let handler = TusHandler::builder_with_timer(Arc::new(MemoryStore::new()), Arc::new(FrozenTime))
        .base_path("/files/")
        .max_size(MAX_SIZE)
        .build();
    let mut run = Run {
        handler,
        uploads: Vec::new(),
        log: Vec::new(),
    };
    let mut input = Input(data);
    futures::executor::block_on(async {
        for _ in 0..MAX_OPS {
            if input.is_empty() {
                break;
            }
            run.step(&mut input).await;
        }
        for index in 0..run.uploads.len() {
            run.head(index).await;
            run.get(index, None).await;
        }
    });
}

impl Run {
    fn fail(&self, message: &str) -> ! {
        panic!("{message}\nafter:\n{}", self.log.join("\n"))
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        chunks: Vec<Bytes>,
        chunked: bool,
    ) -> Response {
        let method = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        let mut builder = http::Request::builder().method(method.clone()).uri(path);
        builder = builder.header("tus-resumable", "1.0.0");
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let length: usize = chunks.iter().map(Bytes::len).sum();
        if !chunked {
            builder = builder.header("content-length", length.to_string());
        }
        let body = RequestBody::from_stream(futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>)));
        let request = builder
            .body(body)
            .unwrap_or_else(|e| self.fail(&format!("building a request: {e}")));
        let (parts, body) = self.handler.handle(request).await.into_parts();
        let body = body
            .collect()
            .await
            .unwrap_or_else(|e| self.fail(&format!("reading a response body: {e}")));
        self.log.push(format!(
            "{method} {path} {headers:?} ({length} bytes{}) -> {}",
            if chunked { ", chunked" } else { "" },
            parts.status
        ));
        if parts.status.is_server_error() {
            self.fail(&format!("5xx: {:?}", String::from_utf8_lossy(&body)));
        }
        Response {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    /// Checks `response` against `expect`; returns whether it succeeded.
    fn outcome(&self, response: &Response, expect: Expect, success: StatusCode) -> bool {
        let ok = response.status == success;
        if !ok && !response.status.is_client_error() {
            self.fail(&format!("unexpected status {}", response.status));
        }
        match (expect, ok) {
            (Expect::Ok, false) => self.fail(&format!(
                "expected {success}, got {} {:?}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )),
            (Expect::Fail, true) => self.fail(&format!("expected a 4xx, got {}", response.status)),
            _ => ok,
        }
    }

    /// An index of a known upload (or `None` for a path that never existed).
    fn pick(&self, input: &mut Input<'_>) -> Option<usize> {
        let choice = input.below(self.uploads.len() + 1);
        (choice < self.uploads.len()).then_some(choice)
    }

    fn path_of(&self, index: Option<usize>) -> String {
        index.map_or_else(|| "/files/missing".to_owned(), |i| self.uploads[i].path.clone())
    }

    async fn step(&mut self, input: &mut Input<'_>) {
        match input.below(8) {
            0 | 1 => self.create(input).await,
            2..=4 => self.patch(input).await,
            5 => {
                if let Some(index) = self.pick(input) {
                    self.head(index).await;
                } else {
                    let response = self.send("HEAD", "/files/missing", &[], Vec::new(), false).await;
                    self.outcome(&response, Expect::Fail, StatusCode::OK);
                }
            }
            6 => {
                let index = self.pick(input);
                let range = input.byte().is_multiple_of(4).then(|| (input.size(), input.size()));
                match index {
                    Some(index) => self.get(index, range).await,
                    None => {
                        let response = self.send("GET", "/files/missing", &[], Vec::new(), false).await;
                        self.outcome(&response, Expect::Fail, StatusCode::OK);
                    }
                }
            }
            _ => {
                if input.byte().is_multiple_of(2) {
                    self.delete(input).await;
                } else {
                    self.create_final(input).await;
                }
            }
        }
    }

    async fn create(&mut self, input: &mut Input<'_>) {
        let flags = input.byte();
        let partial = flags & 1 != 0;
        let deferred = flags & 2 != 0 && !partial;
        let size = input.size();
        let mut headers = Vec::new();
        if deferred {
            headers.push(("upload-defer-length", "1".to_owned()));
        } else {
            headers.push(("upload-length", size.to_string()));
        }
        if partial {
            headers.push(("upload-concat", "partial".to_owned()));
        }
        let body = if flags & 4 != 0 {
            let len = if deferred {
                input.size()
            } else {
                input.size() % (size + 1)
            };
            pattern(input.byte(), len)
        } else {
            Vec::new()
        };
        let wrong_checksum = flags & 8 != 0 && !body.is_empty();
        if !body.is_empty() {
            headers.push(("content-type", "application/offset+octet-stream".to_owned()));
            if flags & 16 != 0 || wrong_checksum {
                let sum = sha1_header(if wrong_checksum { b"wrong" } else { &body });
                headers.push(("upload-checksum", sum));
            }
        }
        let response = self
            .send("POST", "/files/", &headers, vec![Bytes::from(body.clone())], false)
            .await;
        if wrong_checksum {
            // The upload may or may not be created before the body is checked;
            // either way no byte of the body is kept (checked through HEAD below).
            if response.status == StatusCode::CREATED {
                self.fail("creation with a wrong checksum answered 201");
            }
            return;
        }
        if !self.outcome(&response, Expect::Ok, StatusCode::CREATED) {
            return;
        }
        let Some(location) = response.header("location") else {
            self.fail("201 without Location");
        };
        let path = location
            .parse::<http::Uri>()
            .map(|uri| uri.path().to_owned())
            .unwrap_or_else(|_| location.to_owned());
        if response.offset() != Some(body.len() as u64) {
            self.fail(&format!(
                "creation answered offset {:?} for {} bytes",
                response.offset(),
                body.len()
            ));
        }
        self.uploads.push(Entry {
            path,
            kind: if partial { Kind::Partial } else { Kind::Single },
            size: (!deferred).then_some(size),
            data: body,
            deleted: false,
        });
    }

    async fn patch(&mut self, input: &mut Input<'_>) {
        let index = self.pick(input);
        let flags = input.byte();
        let entry = index.map(|i| self.uploads[i].clone());
        let current = entry.as_ref().map_or(0, |e| e.data.len() as u64);
        let offset = match flags & 3 {
            0 => current.wrapping_add(u64::from(input.byte() % 3)).wrapping_sub(1),
            1 if flags & 4 != 0 => u64::from(input.u16()),
            _ => current,
        };
        let remaining = match entry.as_ref().and_then(|e| e.size) {
            Some(size) => size.saturating_sub(current),
            None => MAX_SIZE.saturating_sub(current).min(MAX_BODY),
        };
        let chunked = flags & 8 != 0;
        // A chunked body that runs past the length keeps the bytes within it,
        // so chunked bodies stay within the length; declared ones may not.
        let len = if chunked {
            input.size() % (remaining + 1)
        } else {
            input.size()
        };
        let body = pattern(input.byte(), len);
        let mut headers = vec![
            ("content-type", "application/offset+octet-stream".to_owned()),
            ("upload-offset", offset.to_string()),
        ];
        let declare = (flags & 16 != 0).then(|| current + len + u64::from(input.byte() % 4));
        if let Some(length) = declare {
            headers.push(("upload-length", length.to_string()));
        }
        let checksum = (flags >> 5) % 4; // 0, 3: none; 1: right; 2: wrong
        if checksum == 1 || checksum == 2 {
            let sum = sha1_header(if checksum == 2 { b"wrong" } else { &body });
            headers.push(("upload-checksum", sum));
        }
        let expect = match &entry {
            None => Expect::Fail,
            Some(e) if e.deleted || matches!(e.kind, Kind::Final(..)) || offset != current => Expect::Fail,
            Some(_) if checksum == 2 && !body.is_empty() => Expect::Fail,
            Some(_) if checksum == 2 => Expect::Either,
            Some(e) => match (e.size, declare) {
                (Some(size), Some(length)) if length == size => Expect::Either,
                (Some(_), Some(_)) => Expect::Fail,
                (Some(size), None) if current + len > size => Expect::Fail,
                (None, Some(length)) if length < current + len => Expect::Fail,
                (None, None) if current + len > MAX_SIZE => Expect::Fail,
                _ => Expect::Ok,
            },
        };
        let chunks = if chunked {
            body.chunks(700).map(Bytes::copy_from_slice).collect()
        } else {
            vec![Bytes::from(body.clone())]
        };
        let path = self.path_of(index);
        let response = self.send("PATCH", &path, &headers, chunks, chunked).await;
        let Some(index) = index else {
            self.outcome(&response, expect, StatusCode::NO_CONTENT);
            return;
        };
        if self.outcome(&response, expect, StatusCode::NO_CONTENT) {
            let entry = &mut self.uploads[index];
            entry.data.extend_from_slice(&body);
            if entry.size.is_none() {
                entry.size = declare;
            }
            let offset = entry.data.len() as u64;
            if response.offset() != Some(offset) {
                self.fail(&format!(
                    "PATCH answered offset {:?}, model has {offset}",
                    response.offset()
                ));
            }
            self.assemble_finals();
        }
        self.head(index).await;
    }

    /// Marks finals assembled once all their partials are complete (the
    /// PATCH completing the last one assembles them).
    fn assemble_finals(&mut self) {
        for i in 0..self.uploads.len() {
            let Kind::Final(parts, false) = &self.uploads[i].kind else {
                continue;
            };
            let ready = parts
                .iter()
                .all(|&p| self.uploads[p].complete() && !self.uploads[p].deleted);
            if ready {
                let parts = parts.clone();
                let data: Vec<u8> = parts.iter().flat_map(|&p| self.uploads[p].data.clone()).collect();
                let entry = &mut self.uploads[i];
                entry.size = Some(data.len() as u64);
                entry.data = data;
                entry.kind = Kind::Final(parts, true);
            }
        }
    }

    /// A final upload whose parts were deleted before it was assembled
    /// can never be completed; what it answers is not specified.
    fn stuck(&self, entry: &Entry) -> bool {
        matches!(&entry.kind, Kind::Final(parts, false) if parts.iter().any(|&p| self.uploads[p].deleted))
    }

    async fn head(&mut self, index: usize) {
        let entry = self.uploads[index].clone();
        let response = self.send("HEAD", &entry.path, &[], Vec::new(), false).await;
        let expect = if entry.deleted {
            Expect::Fail
        } else if self.stuck(&entry) {
            Expect::Either
        } else {
            Expect::Ok
        };
        if !self.outcome(&response, expect, StatusCode::OK) || self.stuck(&entry) {
            return;
        }
        let expected_offset = match &entry.kind {
            Kind::Final(_, false) => None,
            _ => Some(entry.data.len() as u64),
        };
        if response.offset() != expected_offset {
            self.fail(&format!(
                "HEAD {} offset {:?}, model has {expected_offset:?}",
                entry.path,
                response.offset()
            ));
        }
        let length = response.header("upload-length").and_then(|v| v.parse::<u64>().ok());
        let expected_length = match &entry.kind {
            Kind::Final(parts, false) => parts.iter().map(|&p| self.uploads[p].size).sum::<Option<u64>>(),
            _ => entry.size,
        };
        if length != expected_length {
            self.fail(&format!(
                "HEAD {} length {length:?}, model has {expected_length:?}",
                entry.path
            ));
        }
    }

    async fn get(&mut self, index: usize, range: Option<(u64, u64)>) {
        let entry = self.uploads[index].clone();
        let mut headers = Vec::new();
        if let Some((start, end)) = range {
            headers.push(("range", format!("bytes={start}-{end}")));
        }
        let response = self.send("GET", &entry.path, &headers, Vec::new(), false).await;
        let readable = !entry.deleted && entry.complete() && !matches!(entry.kind, Kind::Final(_, false));
        let expect = match range {
            _ if self.stuck(&entry) => Expect::Either,
            _ if !readable => Expect::Fail,
            Some((start, _)) if start >= entry.data.len() as u64 => Expect::Fail,
            _ => Expect::Ok,
        };
        let success = match range {
            Some((start, end)) if start <= end && start < entry.data.len() as u64 => StatusCode::PARTIAL_CONTENT,
            _ => StatusCode::OK,
        };
        if !self.outcome(&response, expect, success) || self.stuck(&entry) {
            return;
        }
        let expected: &[u8] = match range {
            Some((start, end)) if success == StatusCode::PARTIAL_CONTENT => {
                let end = (end + 1).min(entry.data.len() as u64);
                &entry.data[start as usize..end as usize]
            }
            _ => &entry.data,
        };
        if response.body.as_ref() != expected {
            self.fail(&format!(
                "GET {} returned {} bytes that differ from the {} written",
                entry.path,
                response.body.len(),
                expected.len()
            ));
        }
    }

    async fn delete(&mut self, input: &mut Input<'_>) {
        let index = self.pick(input);
        let path = self.path_of(index);
        let response = self.send("DELETE", &path, &[], Vec::new(), false).await;
        let expect = match index {
            Some(i) if !self.uploads[i].deleted => Expect::Ok,
            _ => Expect::Fail,
        };
        if self.outcome(&response, expect, StatusCode::NO_CONTENT)
            && let Some(index) = index
        {
            self.uploads[index].deleted = true;
        }
    }

    async fn create_final(&mut self, input: &mut Input<'_>) {
        let count = 1 + input.below(3);
        let parts: Vec<Option<usize>> = (0..count).map(|_| self.pick(input)).collect();
        let references: Vec<String> = parts.iter().map(|&p| self.path_of(p)).collect();
        let valid = parts.iter().all(|p| {
            p.is_some_and(|p| {
                let e = &self.uploads[p];
                e.kind == Kind::Partial && !e.deleted
            })
        });
        let headers = [("upload-concat", format!("final;{}", references.join(" ")))];
        let response = self.send("POST", "/files/", &headers, Vec::new(), false).await;
        let expect = if valid { Expect::Ok } else { Expect::Fail };
        if !self.outcome(&response, expect, StatusCode::CREATED) {
            return;
        }
        let Some(location) = response.header("location") else {
            self.fail("201 without Location");
        };
        let path = location
            .parse::<http::Uri>()
            .map(|uri| uri.path().to_owned())
            .unwrap_or_else(|_| location.to_owned());
        let parts: Vec<usize> = parts.into_iter().flatten().collect();
        let size = parts.iter().map(|&p| self.uploads[p].size).sum::<Option<u64>>();
        self.uploads.push(Entry {
            path,
            kind: Kind::Final(parts, false),
            size,
            data: Vec::new(),
            deleted: false,
        });
        self.assemble_finals();
        let index = self.uploads.len() - 1;
        let assembled = matches!(self.uploads[index].kind, Kind::Final(_, true));
        if assembled != response.offset().is_some() {
            self.fail(&format!(
                "final creation answered offset {:?}; model assembled: {assembled}",
                response.offset()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_sequences_run() {
        stateful(b"");
        // create 10 bytes, patch them at the right offset, head, get.
        stateful(&[0, 0, 10, 0, 2, 0, 2, 10, 0, 1, 5, 0, 6, 0, 0]);
        stateful(&[1, 1, 5, 0, 0, 1, 1, 5, 0, 0, 7, 1, 1, 0, 1, 3, 0, 2, 0, 5, 0]);
    }
}
