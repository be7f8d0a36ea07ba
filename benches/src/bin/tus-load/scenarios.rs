//! The measured runs: one large upload (single PATCH or fixed-size PATCHes),
//! a raw write of the same bytes, and many small creation-with-upload uploads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use crate::client::{Connection, Error};
use crate::sendfile::SendfileConnection;
use crate::servers::Running;

/// The collection path every server is started with.
pub(crate) const COLLECTION: &str = "/files/";

/// Longest wait for the answer to one small upload.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// One large upload's result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Throughput {
    pub(crate) bytes_per_sec: f64,
    pub(crate) peak_rss: Option<u64>,
}

/// Uploads `size` bytes of `source` in PATCHes of `chunk` bytes (`None`: one
/// PATCH), on one keep-alive connection; checks every answer's status and
/// offset, and with `verify` downloads the upload and compares it.
pub(crate) async fn large_upload(
    server: &Running,
    source: &Path,
    size: u64,
    chunk: Option<u64>,
    verify: bool,
) -> Result<Throughput, Error> {
    let (addr, file) = (server.addr.clone(), source.to_path_buf());
    let timed = tokio::task::spawn_blocking(move || -> Result<(String, Duration), Error> {
        let mut connection = SendfileConnection::open(&addr)?;
        let started = Instant::now();
        let created = connection.create(COLLECTION, size)?;
        if created.status != StatusCode::CREATED {
            return Err(format!("POST answered {}", created.status).into());
        }
        let path = created.location.ok_or("POST answered no Location")?;
        let chunk = chunk.unwrap_or(size).max(1);
        let mut offset = 0;
        while offset < size {
            let length = chunk.min(size - offset);
            let answer = connection.patch(&path, &file, offset, length)?;
            if answer.status != StatusCode::NO_CONTENT || answer.offset != Some(offset + length) {
                return Err(format!(
                    "PATCH at {offset} answered {} with offset {:?}",
                    answer.status, answer.offset
                )
                .into());
            }
            offset += length;
        }
        Ok((path, started.elapsed()))
    });
    let (path, elapsed) = timed.await??;
    let peak_rss = server.peak_rss();
    if verify {
        let mut connection = Connection::open(&server.addr).await?;
        let matched = connection.download_matches(&path, source.to_path_buf()).await?;
        if matched != size {
            return Err(format!("downloaded upload differs from the source at byte {matched}").into());
        }
    }
    Ok(Throughput {
        bytes_per_sec: size as f64 / elapsed.as_secs_f64(),
        peak_rss,
    })
}

/// How `dd` writes the raw copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawWrite {
    /// `dd bs=1M`: into the page cache, no flush (what a server without
    /// fsync can at best do).
    PageCache,
    /// `dd bs=1M conv=fdatasync`: flushed to the disk before `dd` exits.
    Fdatasync,
}

/// `dd if=source of=dir/raw.bin bs=1M [conv=fdatasync]`: the speed of the
/// same bytes written into the same directory, in bytes per second.
pub(crate) async fn raw_write(source: &Path, dir: &Path, size: u64, how: RawWrite) -> Result<f64, Error> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join("raw.bin");
    let mut command = tokio::process::Command::new("dd");
    command
        .arg(format!("if={}", source.display()))
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", "status=none"]);
    if how == RawWrite::Fdatasync {
        command.arg("conv=fdatasync");
    }
    let started = Instant::now();
    let status = command.status().await?;
    let elapsed = started.elapsed();
    let written = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&target);
    if !status.success() || written != size {
        return Err(format!("dd failed ({status}, wrote {written} of {size} bytes)").into());
    }
    Ok(size as f64 / elapsed.as_secs_f64())
}

/// The same bytes sent with `sendfile` over a loopback TCP connection to a
/// plain receiver (no HTTP) that writes each `recv` of up to 1 MiB into a
/// file in `dir`: what a server's recv-and-write loop can at best do here,
/// in bytes per second (from the first byte sent to the receiver's
/// acknowledgement that the last byte is written).
pub(crate) async fn socket_to_file(source: &Path, dir: &Path, size: u64) -> Result<f64, Error> {
    use std::io::{Read as _, Write as _};
    std::fs::create_dir_all(dir)?;
    let target = dir.join("socket.bin");
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let receiver_target = target.clone();
    let receiver = std::thread::spawn(move || -> Result<u64, Error> {
        let (mut stream, _) = listener.accept()?;
        let mut file = std::fs::File::create(&receiver_target)?;
        let mut buffer = vec![0u8; 1 << 20];
        let mut received = 0u64;
        while received < size {
            let n = stream.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            file.write_all(&buffer[..n])?;
            received += n as u64;
        }
        stream.write_all(b"k")?;
        Ok(received)
    });
    let source = source.to_path_buf();
    let elapsed = tokio::task::spawn_blocking(move || -> Result<Duration, Error> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        let mut file = std::fs::File::open(source)?;
        let started = Instant::now();
        std::io::copy(&mut (&mut file).take(size), &mut stream)?;
        let mut ack = [0u8; 1];
        stream.read_exact(&mut ack)?;
        Ok(started.elapsed())
    })
    .await??;
    let received = receiver.join().map_err(|_| "receiver panicked")??;
    let _ = std::fs::remove_file(&target);
    if received != size {
        return Err(format!("receiver got {received} of {size} bytes").into());
    }
    Ok(size as f64 / elapsed.as_secs_f64())
}

/// Result of the small-upload run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SmallUploads {
    pub(crate) per_sec: f64,
    /// Uploads answered 201 with the full offset.
    pub(crate) ok: u64,
    /// Uploads answered anything else, or failed.
    pub(crate) bad: u64,
    pub(crate) peak_rss: Option<u64>,
}

/// `connections` keep-alive connections each creating uploads of `size`
/// bytes with creation-with-upload: first for `warmup` (not counted, so
/// connection setup, the server's thread pools and the directory's first
/// entries are not measured), then for `duration`; only answers 201 with
/// `Upload-Offset: size` count.
pub(crate) async fn small_uploads(
    server: &Running,
    connections: usize,
    size: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<SmallUploads, Error> {
    let body = Bytes::from(vec![0x42u8; size]);
    let mut pool: Vec<Option<Connection>> = (0..connections).map(|_| None).collect();
    if !warmup.is_zero() {
        let (returned, _, bad) = create_for(&server.addr, pool, &body, warmup).await?;
        pool = returned;
        if bad > 0 {
            return Err(format!("{bad} wrong answers during the warm-up").into());
        }
    }
    let started = Instant::now();
    let (_, ok, bad) = create_for(&server.addr, pool, &body, duration).await?;
    let elapsed = started.elapsed();
    Ok(SmallUploads {
        per_sec: ok as f64 / elapsed.as_secs_f64(),
        ok,
        bad,
        peak_rss: server.peak_rss(),
    })
}

/// Runs one task per connection slot creating uploads with `body` until
/// `duration` passed; returns the connections (for reuse) and the counts
/// of right and wrong answers.
async fn create_for(
    addr: &str,
    pool: Vec<Option<Connection>>,
    body: &Bytes,
    duration: Duration,
) -> Result<(Vec<Option<Connection>>, u64, u64), Error> {
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let deadline = Instant::now() + duration;
    let size = body.len() as u64;
    let mut tasks = Vec::with_capacity(pool.len());
    for mut connection in pool {
        let (addr, body, ok, bad) = (addr.to_owned(), body.clone(), ok.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let conn = match &mut connection {
                    Some(conn) => conn,
                    None => match Connection::open(&addr).await {
                        Ok(conn) => connection.insert(conn),
                        Err(_) => {
                            bad.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                // Bounded: a server that stops answering fails the request.
                let answer = tokio::time::timeout(REQUEST_TIMEOUT, conn.create(COLLECTION, size, Some(body.clone())))
                    .await
                    .unwrap_or_else(|_| Err("no answer in time".into()));
                match answer {
                    Ok(answer) if answer.status == StatusCode::CREATED && answer.offset == Some(size) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        bad.fetch_add(1, Ordering::Relaxed);
                        connection = None;
                    }
                }
            }
            connection
        }));
    }
    let mut returned = Vec::with_capacity(tasks.len());
    for task in tasks {
        returned.push(task.await?);
    }
    Ok((returned, ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed)))
}

/// A file of `size` random bytes at `path`, made from `/dev/urandom` unless
/// one of that size is already there.
pub(crate) async fn source_file(path: PathBuf, size: u64) -> Result<PathBuf, Error> {
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Ok(path);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    eprintln!("writing {size} random bytes to {}", path.display());
    let status = tokio::process::Command::new("dd")
        .arg("if=/dev/urandom")
        .arg(format!("of={}", path.display()))
        .args(["bs=1M", "iflag=count_bytes", "status=none"])
        .arg(format!("count={size}"))
        .status()
        .await?;
    if !status.success() || !std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
        return Err(format!("could not write {}", path.display()).into());
    }
    Ok(path)
}
