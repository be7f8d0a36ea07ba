//! Starts an example server binary on a free loopback port and talks HTTP/1.1 to it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A server process (killed when dropped).
#[derive(Debug)]
pub struct Server {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    child: Child,
}

impl Server {
    /// Starts `binary` over `dir` with the scenarios' max size and expiry;
    /// waits until it accepts connections.
    pub async fn start(binary: &str, dir: &Path) -> Self {
        Self::start_with(binary, dir, &[]).await
    }

    /// [`Server::start`] with `extra` flags; a flag named in `extra` replaces
    /// the default of the same name.
    pub async fn start_with(binary: &str, dir: &Path, extra: &[&str]) -> Self {
        Self::spawn(binary, dir, extra, None).await
    }

    /// [`Server::start_with`], logging at `info` into the file `log`.
    pub async fn start_logging(binary: &str, dir: &Path, extra: &[&str], log: &Path) -> Self {
        Self::spawn(binary, dir, extra, Some(log)).await
    }

    async fn spawn(binary: &str, dir: &Path, extra: &[&str], log: Option<&Path>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let addr = format!("127.0.0.1:{port}");
        let (max_size, expire_after) = (
            crate::scenarios::MAX_SIZE.to_string(),
            crate::scenarios::EXPIRE_AFTER_SECS.to_string(),
        );
        let defaults = [
            ("--listen", addr.as_str()),
            ("--base-path", "/files/"),
            ("--shutdown-timeout", "1"),
            ("--max-size", max_size.as_str()),
            ("--expire-after", expire_after.as_str()),
        ];
        let mut command = Command::new(binary);
        for (flag, value) in defaults {
            if !extra.contains(&flag) {
                command.args([flag, value]);
            }
        }
        let stdout = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).expect("log file")),
            None => Stdio::null(),
        };
        let child = command
            .arg("--dir")
            .arg(dir)
            .args(extra)
            .env("RUST_LOG", if log.is_some() { "info" } else { "warn" })
            .stdout(stdout)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {binary}: {error}"));
        for _ in 0..200 {
            if TcpStream::connect(&addr).await.is_ok() {
                return Self { addr, child };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("{binary} did not start on {addr}");
    }

    /// SIGTERM, as a process manager would; returns whether it exited with success in time.
    pub async fn terminate(mut self) -> bool {
        let Some(pid) = self.child.id() else { return false };
        let sent = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        if !sent.is_ok_and(|status| status.success()) {
            return false;
        }
        match tokio::time::timeout(Duration::from_secs(15), self.child.wait()).await {
            Ok(Ok(status)) => status.success(),
            _ => false,
        }
    }

    /// SIGKILL, as a crash would.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("kill");
    }
}

/// Sends each request on a new HTTP/1.1 connection (hyper client).
#[derive(Debug)]
pub struct HyperTransport {
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl HyperTransport {
    /// Sends `request`; without `Content-Length` the chunks go as a chunked
    /// body. Adds `Host` if missing. Reads the whole answer (30 s at most).
    pub async fn send_request(&self, request: http::Request<Vec<Bytes>>) -> Result<http::Response<Bytes>, String> {
        let stream = TcpStream::connect(&self.addr).await.map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let chunked = !request.headers().contains_key("content-length");
        let (mut parts, chunks) = request.into_parts();
        if parts.headers.get("host").is_none() {
            parts.headers.insert("host", self.addr.parse().map_err(|_| "host")?);
        }
        let response = if chunked {
            let frames = futures::stream::iter(
                chunks
                    .into_iter()
                    .map(|c| Ok::<_, std::io::Error>(hyper::body::Frame::data(c))),
            );
            sender
                .send_request(http::Request::from_parts(parts, StreamBody::new(frames).boxed()))
                .await
        } else {
            let body = Full::new(Bytes::from(chunks.concat()))
                .map_err(|never| match never {})
                .boxed();
            sender.send_request(http::Request::from_parts(parts, body)).await
        }
        .map_err(|e| e.to_string())?;
        let (parts, body) = response.into_parts();
        let bytes = tokio::time::timeout(Duration::from_secs(30), body.collect())
            .await
            .map_err(|_| "timed out reading the body".to_owned())?
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(http::Response::from_parts(parts, bytes))
    }
}

impl crate::scenarios::Transport for HyperTransport {
    fn send(&self, request: http::Request<Vec<Bytes>>) -> BoxFuture<'_, Result<http::Response<Bytes>, String>> {
        Box::pin(self.send_request(request))
    }
}
