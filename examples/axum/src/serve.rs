//! Serving connections with hyper directly instead of `axum::serve`, which
//! exposes none of the limits below.
//!
//! | limit | where | default (flag) |
//! |---|---|---|
//! | time to send a request header | hyper `header_read_timeout`: the connection is closed | 10 s (`--header-read-timeout`) |
//! | size of a request head | hyper's `max_header_size` (the head's bytes as received: `431` and the connection closed) and [`limit_head`](crate::limit_head) (the head as [`request_head_bytes`](tus_example_common::limits::request_head_bytes) counts it: `431` with a reason) | 64 KiB (`--max-header-bytes`) |
//! | read buffer of a connection | hyper's `max_buf_size`: the buffer grows from 8 KiB to this while a body arrives fast (bodies arrive in frames of at most this size) and shrinks when reads get small; worst case one full buffer per connection, plus the frames the store has not written yet | 1 MiB (`--read-buffer-bytes`, at least `--max-header-bytes`) |
//! | connections open at once | this accept loop: at the limit the least recently active idle connection (no request in flight) is closed to make room ([`slots`](crate::slots)); if none is idle, new ones wait in the kernel's backlog | 1024 (`--max-connections`) |
//! | shutdown | stop accepting, let each connection finish its request, then exit | 10 s (`--shutdown-timeout`) |
//!
//! Each connection's socket and service are wrapped so the handler can send
//! interim responses (the IETF draft's `104 Upload Resumption Supported`),
//! which hyper has no API for: see [`interim`].
//!
//! Body limits are tus's own: `Tus-Max-Size` (`--max-size`) and each
//! upload's `Upload-Length` cap every body, and the body idle timeout lives
//! in the handler (`--body-idle-timeout`).

use std::future::Future;
use std::pin::pin;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use futures::FutureExt as _;
use http_body_util::BodyExt as _;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tower_service::Service as _;

use crate::slots::{Slot, Slots};

use super::interim;

/// The smallest read buffer hyper accepts.
const MIN_READ_BUFFER_BYTES: usize = 8192;

/// The connection-level limits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Time a client has to send a whole request header.
    pub(crate) header_read_timeout: Duration,
    /// Largest request header.
    pub(crate) max_header_bytes: usize,
    /// Largest read buffer of a connection (raised to `max_header_bytes`
    /// and to 8 KiB if below).
    pub(crate) read_buffer_bytes: usize,
    /// Most connections served at once.
    pub(crate) max_connections: usize,
    /// How long connections may take to finish once `stop` completed.
    pub(crate) shutdown_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` completes, then stops accepting,
/// asks every connection to close after its current request, and returns
/// once all closed or `limits.shutdown_timeout` passed (the rest are
/// dropped: their received bytes are already in the store).
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        // The head limit is hyper's count of the head's bytes, not the
        // buffer's size: a body then arrives in frames as large as the
        // buffer (64 KiB frames cost ~130 syscalls a MiB, 1 MiB ones ~15).
        .max_header_size(limits.max_header_bytes)
        .max_buf_size(read_buffer_bytes(limits));
    let (close, closing) = futures::channel::oneshot::channel::<()>();
    let closing = closing.map(|_| ()).shared();
    let mut connections = JoinSet::new();
    let slots = Slots::new();
    let mut stop = pin!(stop);
    'accept: loop {
        let stream = tokio::select! {
            () = &mut stop => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Full: make room for the connection just accepted by closing the
        // least recently active idle one (it ends at once). Only a waiting
        // connection makes room, so a connection whose first request is
        // still on its way is never closed for nothing. With every
        // connection busy, the new one waits until one ends or turns idle.
        let waiting = Instant::now();
        while connections.len() >= limits.max_connections.max(1) {
            if slots.close_least_recently_active_idle() {
                tracing::debug!("at the connection limit: closing the least recently active idle connection");
                break;
            }
            tokio::select! {
                () = &mut stop => break 'accept,
                _ = connections.join_next() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
        let waited = waiting.elapsed();
        if waited >= Duration::from_millis(1) {
            tracing::debug!(waited_ms = waited.as_millis() as u64, "a connection waited for room");
        }
        let open = slots.open();
        let service = tracked(app.clone(), open.slot.clone());
        // The wrappers let the handler send a 104 before the final response (see `interim`).
        let (io, service) = interim::wrap(stream, service);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let closing = closing.clone();
        connections.spawn(async move {
            let mut connection = pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                }
                () = closing => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
                () = open.slot.close_requested() => {
                    // Checked in this task, which also runs the
                    // connection: no request can start in between.
                    if !open.slot.is_idle() {
                        connection.as_mut().graceful_shutdown();
                        let _ = connection.await;
                    }
                }
            }
            drop(open);
        });
    }
    drop(listener);
    let _ = close.send(());
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            remaining = connections.len(),
            "connections still open after the shutdown timeout; closing them (received bytes are in the store)"
        );
        connections.abort_all();
    }
    Ok(())
}

/// hyper's `max_buf_size` for `limits`: the read buffer must hold a whole
/// head of the largest size allowed, and hyper refuses less than 8 KiB.
fn read_buffer_bytes(limits: Limits) -> usize {
    limits
        .read_buffer_bytes
        .max(limits.max_header_bytes)
        .max(MIN_READ_BUFFER_BYTES)
}

/// `app` as a hyper service that marks a request in flight on `slot` from
/// the moment it arrives until its response body is dropped.
fn tracked(
    app: Router,
    slot: std::sync::Arc<Slot>,
) -> impl hyper::service::Service<
    http::Request<hyper::body::Incoming>,
    Response = http::Response<Body>,
    Error = std::convert::Infallible,
    Future = impl Future<Output = Result<http::Response<Body>, std::convert::Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
        let in_flight = slot.begin();
        let mut app = app.clone();
        async move {
            let response = app.call(request.map(Body::new)).await?;
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    // Held by the body, so released when the response is done.
                    let _ = &in_flight;
                    frame
                }))
            }))
        }
    })
}
