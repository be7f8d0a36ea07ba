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

/// `dd if=source of=dir/raw.bin bs=1M conv=fdatasync`: the disk's speed for
/// the same bytes in the same directory, in bytes per second.
pub(crate) async fn raw_write(source: &Path, dir: &Path, size: u64) -> Result<f64, Error> {
    std::fs::create_dir_all(dir)?;
    let target = dir.join("raw.bin");
    let started = Instant::now();
    let status = tokio::process::Command::new("dd")
        .arg(format!("if={}", source.display()))
        .arg(format!("of={}", target.display()))
        .args(["bs=1M", "conv=fdatasync", "status=none"])
        .status()
        .await?;
    let elapsed = started.elapsed();
    let written = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&target);
    if !status.success() || written != size {
        return Err(format!("dd failed ({status}, wrote {written} of {size} bytes)").into());
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
/// bytes with creation-with-upload for `duration`; only answers 201 with
/// `Upload-Offset: size` count.
pub(crate) async fn small_uploads(
    server: &Running,
    connections: usize,
    size: usize,
    duration: Duration,
) -> Result<SmallUploads, Error> {
    let body = Bytes::from(vec![0x42u8; size]);
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (addr, body, ok, bad) = (server.addr.clone(), body.clone(), ok.clone(), bad.clone());
        tasks.push(tokio::spawn(async move {
            let mut connection = None;
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
                match conn.create(COLLECTION, size as u64, Some(body.clone())).await {
                    Ok(answer) if answer.status == StatusCode::CREATED && answer.offset == Some(size as u64) => {
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
        }));
    }
    for task in tasks {
        task.await?;
    }
    let elapsed = started.elapsed();
    let ok = ok.load(Ordering::Relaxed);
    Ok(SmallUploads {
        per_sec: ok as f64 / elapsed.as_secs_f64(),
        ok,
        bad: bad.load(Ordering::Relaxed),
        peak_rss: server.peak_rss(),
    })
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
