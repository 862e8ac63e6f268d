//! What one client may hold: connections, time and buffer space.
//!
//! | limit | where it is enforced | what a client that exceeds it gets |
//! |---|---|---|
//! | [`Limits::max_connections`] | the accept loop: at the cap it stops accepting | waits in the kernel's listen backlog and is accepted, in arrival order, when a connection ends |
//! | [`Limits::header_timeout`] | hyper (`http1::Builder::header_read_timeout`); for TLS, also the handshake | the connection is closed, no reply |
//! | [`MAX_HEAD`] | hyper (`http1::Builder::max_buf_size`) | `431 Request Header Fields Too Large`, then the connection is closed |
//! | [`Limits::body_timeout`] | the request extractor, around the whole body | `408 RequestTimeout` (the usual error body), then the connection is closed |
//! | [`Limits::idle_timeout`] | the accept loop's per-connection watchdog | the connection is closed |
//!
//! hyper starts the header timer whenever it waits for a request head: on a new connection
//! and, on a kept-alive one, as soon as the previous response is written. So the header
//! timeout also bounds how long an idle keep-alive connection is kept. The idle timeout
//! covers what hyper has no timer for: a connection on which no byte moves, in either
//! direction, while no request is being handled — a client that stops reading its responses
//! keeps a write pending forever otherwise.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The largest request head (request line and headers) read, in bytes (hyper's `max_buf_size`:
/// it stops filling a connection's read buffer there). As large as the largest body
/// ([`crate::service::MAX_BODY`]),
/// since a signature V3 request carries its parameters in the query string.
pub const MAX_HEAD: usize = crate::service::MAX_BODY;

/// Connection limits and timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most connections open at once (TLS handshakes included). At the cap, the server
    /// accepts no more until one ends.
    pub max_connections: usize,
    /// From the moment the server waits for a request head (a new connection, or the next
    /// request on a kept-alive one) to the end of that head. Also the TLS handshake's limit.
    pub header_timeout: Duration,
    /// From the end of a request's head to the end of its body.
    pub body_timeout: Duration,
    /// How long a connection may move no byte, in either direction, while none of its
    /// requests is being handled.
    pub idle_timeout: Duration,
}

impl Limits {
    /// The default connection cap.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    /// The default header (and keep-alive) timeout.
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default body timeout.
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default idle timeout.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// The process's soft limit on open files, from `/proc/self/limits` (Linux); `None` when it
/// cannot be read or is unlimited.
pub fn open_files_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// What a connection's watchdog reads: when a byte last moved, and how many of the
/// connection's requests are in the service.
#[derive(Debug)]
pub(crate) struct Activity {
    origin: Instant,
    /// Milliseconds from `origin` to the last progress.
    last: AtomicU64,
    in_service: AtomicUsize,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            in_service: AtomicUsize::new(0),
        })
    }

    /// Records progress now.
    pub(crate) fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.fetch_max(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed))
    }

    /// Counts a request in the service until the guard is dropped (also when its future is).
    pub(crate) fn enter(self: &Arc<Self>) -> InService {
        self.in_service.fetch_add(1, Ordering::SeqCst);
        InService(Arc::clone(self))
    }

    /// When the connection has been idle for `limit`: `None` while a request is in the
    /// service (ask again after `limit`), else the instant the idle time runs out (which may
    /// have passed).
    pub(crate) fn idle_deadline(&self, limit: Duration) -> Option<Instant> {
        if self.in_service.load(Ordering::SeqCst) > 0 {
            None
        } else {
            Some(self.last() + limit)
        }
    }
}

/// A request in the service; progress is recorded when it leaves.
pub(crate) struct InService(Arc<Activity>);

impl Drop for InService {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_service.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A stream that records progress (bytes read or written) in an [`Activity`].
#[derive(Debug)]
pub(crate) struct Tracked<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T> Tracked<T> {
    pub(crate) fn new(inner: T, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let limits = Limits::default();
        assert_eq!(limits.max_connections, 4096);
        assert_eq!(limits.header_timeout, Duration::from_secs(10));
        assert_eq!(MAX_HEAD, 64 * 1024);
    }

    #[tokio::test]
    async fn a_request_in_the_service_is_never_idle() {
        let activity = Activity::new();
        let limit = Duration::from_secs(5);
        let deadline = activity.idle_deadline(limit).unwrap();
        assert!(deadline <= Instant::now() + limit);
        let guard = activity.enter();
        assert_eq!(activity.idle_deadline(limit), None);
        drop(guard);
        assert!(activity.idle_deadline(limit).is_some());
    }
}
