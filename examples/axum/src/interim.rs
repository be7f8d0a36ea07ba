//! Interim (1xx) responses over HTTP/1.1 with hyper, which has no server
//! API for them: the IETF draft's `104 Upload Resumption Supported`.
//!
//! Per connection, [`InterimIo`] wraps the socket and [`InterimService`]
//! wraps the service. For each HTTP/1.1 request the service puts a
//! [`tus_server::Interim`] into the request extensions; the tus handler
//! calls it once the upload exists, before it reads the body. The bytes of
//! the interim response are queued, and the socket wrapper writes them at a
//! message boundary, before any byte hyper writes next:
//!
//! ```text
//!   handler ──Interim::send──▶ queue (only while this request's service future runs)
//!   hyper ──poll_write/poll_flush──▶ InterimIo: drain the queue first (never inside a message
//!                                    hyper is writing), then hyper's bytes
//! ```
//!
//! hyper polls the socket's flush on every turn of its connection loop,
//! including while the handler waits for body bytes, so the 104 goes out
//! at once; and the final response can only follow it. Once a request's
//! service future has finished (its final response is next), its `Interim`
//! refuses to queue anything: a hook that kept a copy cannot write into a
//! later response on the same connection.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::task::{Context, Poll, Waker, ready};

use http::{Request, Version};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tus_server::Interim;

/// What a connection's socket wrapper and service wrapper share.
#[derive(Debug, Default)]
struct State {
    /// Counts requests, so a stale `Interim` is told apart.
    generation: u64,
    /// The request whose service future is running, if any.
    current: Option<u64>,
    /// Interim response bytes not yet written, and how many of them were.
    pending: Vec<u8>,
    written: usize,
    /// hyper wrote bytes it has not flushed yet: a message may be half
    /// written, so nothing may go in between.
    dirty: bool,
    /// The connection task, woken when bytes are queued from elsewhere.
    waker: Option<Waker>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    // Every critical section is a few field updates: a poisoned state is consistent.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A new connection's socket and service wrappers.
pub(crate) fn wrap<T, S>(io: T, service: S) -> (InterimIo<T>, InterimService<S>) {
    let state = Shared::default();
    (
        InterimIo {
            inner: io,
            state: Arc::clone(&state),
        },
        InterimService { inner: service, state },
    )
}

/// The socket, writing queued interim responses between hyper's messages.
#[derive(Debug)]
pub(crate) struct InterimIo<T> {
    inner: T,
    state: Shared,
}

impl<T: AsyncWrite + Unpin> InterimIo<T> {
    /// Writes the queued interim bytes, unless hyper is inside a message.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut state = lock(&self.state);
        state.waker = Some(cx.waker().clone());
        if state.dirty {
            return Poll::Ready(Ok(()));
        }
        while state.written < state.pending.len() {
            let start = state.written;
            let written = ready!(Pin::new(&mut self.inner).poll_write(cx, &state.pending[start..]))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            state.written += written;
        }
        state.pending.clear();
        state.written = 0;
        Poll::Ready(Ok(()))
    }

    fn wrote(&self, bytes: usize) {
        if bytes > 0 {
            lock(&self.state).dirty = true;
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for InterimIo<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for InterimIo<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        let written = ready!(Pin::new(&mut self.inner).poll_write(cx, buf))?;
        self.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_drain(cx))?;
        let written = ready!(Pin::new(&mut self.inner).poll_write_vectored(cx, bufs))?;
        self.wrote(written);
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.poll_drain(cx))?;
            ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
            let mut state = lock(&self.state);
            // hyper flushes only with its buffer written: a message boundary.
            state.dirty = false;
            if state.pending.is_empty() {
                return Poll::Ready(Ok(()));
            }
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The service, giving each HTTP/1.1 request an [`Interim`] valid while its
/// service future runs.
#[derive(Debug, Clone)]
pub(crate) struct InterimService<S> {
    inner: S,
    state: Shared,
}

impl<S, B> hyper::service::Service<Request<B>> for InterimService<S>
where
    S: hyper::service::Service<Request<B>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn call(&self, mut request: Request<B>) -> Self::Future {
        // Interim responses are not for HTTP/1.0 clients (RFC 9110 §15.2).
        let guard = (request.version() == Version::HTTP_11).then(|| {
            let generation = {
                let mut state = lock(&self.state);
                state.generation += 1;
                state.current = Some(state.generation);
                state.generation
            };
            request
                .extensions_mut()
                .insert(interim(Arc::downgrade(&self.state), generation));
            Finished {
                state: Arc::clone(&self.state),
                generation,
            }
        });
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(guard);
            response
        })
    }
}

/// An [`Interim`] that queues on the connection while request `generation` runs.
fn interim(state: Weak<Mutex<State>>, generation: u64) -> Interim {
    Interim::new(move |response| {
        let Some(state) = state.upgrade() else {
            return false;
        };
        let mut state = lock(&state);
        if state.current != Some(generation) {
            return false;
        }
        state.pending.extend_from_slice(&Interim::encode_http1(response));
        if let Some(waker) = &state.waker {
            waker.wake_by_ref();
        }
        true
    })
}

/// Marks a request's service future as finished (also when it is dropped).
struct Finished {
    state: Shared,
    generation: u64,
}

impl Drop for Finished {
    fn drop(&mut self) {
        let mut state = lock(&self.state);
        if state.current == Some(self.generation) {
            state.current = None;
        }
    }
}
