//! The HTTP frontend: an axum router that hands every request to the [`Service`], and the
//! accept loop that serves it (hyper's HTTP/1.1 connections, optionally over TLS) within
//! [`Limits`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use crate::error::ApiError;
use crate::limits::{Activity, Limits, MAX_HEAD, Tracked};
use crate::operation::Operation;
use crate::service::{MAX_BODY, RawRequest, Reply, Service};

/// The router's state: the service, and how long a request body may take.
#[derive(Clone, Debug)]
struct Frontend {
    service: Arc<Service>,
    body_timeout: Duration,
}

/// The router with the default [`Limits`]: every method and path goes to the service, which
/// answers unknown ones with an error body.
pub fn router(service: Arc<Service>) -> Router {
    router_with(service, &Limits::default())
}

/// The router, reading request bodies within `limits.body_timeout`.
pub fn router_with(service: Arc<Service>, limits: &Limits) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(Frontend {
            service,
            body_timeout: limits.body_timeout,
        })
}

fn to_response(reply: Reply) -> Response {
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.body,
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(reply.content_type),
    );
    if let Ok(v) = HeaderValue::from_str(&reply.request_id) {
        headers.insert("x-acs-request-id", v);
    }
    if let Some(ms) = reply.retry_after_ms {
        headers.insert("x-acs-retry-after", HeaderValue::from(ms));
        headers.insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
    }
    response
}

/// The error for a body that did not arrive within `limit`: `408 RequestTimeout`.
fn body_timed_out(limit: Duration) -> ApiError {
    ApiError::new(
        408,
        "RequestTimeout",
        format!(
            "The request body was not received within {}.",
            humantime::format_duration(limit)
        ),
    )
}

async fn handle(
    State(Frontend {
        service,
        body_timeout,
    }): State<Frontend>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64);
    let body: Result<Bytes, ApiError> = if too_large {
        Err(ApiError::too_large(MAX_BODY))
    } else {
        // One deadline for the whole body (a client that sends a byte now and then does not
        // extend it).
        match tokio::time::timeout(body_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
            Ok(read) => read.map_err(|_| ApiError::too_large(MAX_BODY)),
            Err(_) => {
                // The rest of the body is never read: answer, then close the connection.
                let mut response = to_response(service.error_reply(&body_timed_out(body_timeout)));
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        }
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            // Answer through the service's renderer so the body has the usual shape.
            return to_response(service.error_reply(&e));
        }
    };
    let service2 = Arc::clone(&service);
    let reply = if runs_inline(&headers, uri.query(), &body) {
        let request = RawRequest {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query(),
            headers: &headers,
            body: &body,
        };
        service.handle(&request, SystemTime::now())
    } else {
        // Key management waits for the mutex that serialises it and for the provider's write
        // lock: on the blocking pool, so that a request that waits never holds up a runtime
        // worker, and with it the other connections and the timers.
        let service = Arc::clone(&service);
        let handled = tokio::task::spawn_blocking(move || {
            let request = RawRequest {
                method: method.as_str(),
                path: uri.path(),
                query: uri.query(),
                headers: &headers,
                body: &body,
            };
            service.handle(&request, SystemTime::now())
        })
        .await;
        match handled {
            Ok(reply) => reply,
            Err(_) => return to_response(service2.error_reply(&ApiError::internal())),
        }
    };
    to_response(reply)
}

/// Whether a request runs on the runtime worker that received it: a data-key operation, which
/// waits for nothing but a read lock held for the length of a seal (or, once per 2^32 seals
/// of a version, for a rotation). Everything else, including requests that name no operation
/// this can read (percent-encoded names, say), goes to the blocking pool. This decides only
/// where the service runs, never what it answers: the service parses and authenticates the
/// request itself.
fn runs_inline(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> bool {
    fn action_in(pairs: &str) -> Option<&str> {
        pairs
            .split('&')
            .find_map(|pair| pair.strip_prefix("Action="))
    }
    let named = match headers.get("x-acs-action") {
        Some(value) => value.to_str().ok(),
        None => query
            .and_then(action_in)
            .or_else(|| std::str::from_utf8(body).ok().and_then(action_in)),
    };
    named
        .and_then(Operation::from_name)
        .is_some_and(Operation::is_data_key)
}

/// How [`serve_with`] serves: the connection limits, and TLS if any.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// Serve HTTPS with this configuration (see [`crate::tls`]); plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Serves `service` on `listener` until `shutdown` completes, with housekeeping (due
/// deletions, seal counts written) every `tick` interval; then writes the seal counts once
/// more. Plain HTTP within the default [`Limits`]: see [`serve_with`].
///
/// # Errors
/// An I/O error from the listener, or the final write to the store.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    tick: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    serve_with(listener, service, tick, ServeOptions::default(), shutdown).await
}

/// [`serve`], within `options.limits` and over TLS if `options.tls` says so.
///
/// At most `max_connections` connections are open at once: at the cap the loop stops
/// accepting, and new connections wait in the kernel's listen backlog, to be accepted in
/// arrival order as connections end (the timeouts bound how long any connection holds its
/// place). The connections already admitted are served as usual meanwhile.
///
/// On `shutdown`, the listener is closed, idle connections are closed, and the requests in
/// progress are answered before their connections close.
///
/// # Errors
/// An I/O error from the listener.
pub async fn serve_with(
    listener: TcpListener,
    service: Arc<Service>,
    tick: Duration,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let ticker = {
        let service = Arc::clone(&service);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(tick);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let service = Arc::clone(&service);
                let result =
                    tokio::task::spawn_blocking(move || service.tick(SystemTime::now())).await;
                if let Ok(Err(e)) = result {
                    eprintln!("kms-server: housekeeping could not write the store: {e}");
                }
            }
        })
    };
    let app = router_with(Arc::clone(&service), &options.limits);
    let result = accept_loop(listener, app, &options, shutdown).await;
    ticker.abort();
    let final_save = tokio::task::spawn_blocking(move || service.save()).await;
    result?;
    match final_save {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(format!(
            "writing the store at shutdown failed: {e}"
        ))),
        Err(e) => Err(std::io::Error::other(format!(
            "writing the store at shutdown failed: {e}"
        ))),
    }
}

/// The listen backlog of [`bind`]: where connections wait while the server is at its cap.
pub const BACKLOG: u32 = 1024;

/// A listener on `addr` with a backlog of [`BACKLOG`] (the standard library's is 128; the kernel
/// caps it at `net.core.somaxconn`). `SO_REUSEADDR` is set, as the standard library does.
///
/// # Errors
/// An I/O error from the socket.
pub fn bind(addr: std::net::SocketAddr) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(BACKLOG)
}

/// Whether an accept error concerns only the connection being accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// Accepts connections, one permit of the connection cap each, until `shutdown`; then waits
/// for the open connections to finish.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let limits = options.limits;
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(MAX_HEAD);
    let http = Arc::new(http);
    let tls = options.tls.clone().map(TlsAcceptor::from);
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        // At the cap, wait here: the kernel keeps the new connections in the backlog.
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => permit.map_err(io::Error::other)?,
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of file descriptors, say: wait for connections to end.
                    eprintln!("kms-server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        let connection = Connection {
            permit,
            watcher: graceful.watcher(),
            app: app.clone(),
            http: Arc::clone(&http),
            limits,
        };
        tokio::spawn(connection.run(stream, tls.clone()));
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One accepted connection and what it holds.
struct Connection {
    /// Its place under the connection cap, given back when it ends.
    permit: OwnedSemaphorePermit,
    watcher: Watcher,
    app: Router,
    http: Arc<http1::Builder>,
    limits: Limits,
}

impl Connection {
    async fn run(self, stream: TcpStream, tls: Option<TlsAcceptor>) {
        let _ = stream.set_nodelay(true);
        let activity = Activity::new();
        let stream = Tracked::new(stream, Arc::clone(&activity));
        match tls {
            None => self.serve(TokioIo::new(stream), activity).await,
            Some(acceptor) => {
                let handshake =
                    tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream));
                if let Ok(Ok(stream)) = handshake.await {
                    self.serve(TokioIo::new(stream), activity).await;
                }
            }
        }
    }

    /// Serves HTTP/1.1 on `io` until the client or hyper closes it, shutdown closes it, or it
    /// stays idle (see [`Limits::idle_timeout`]): then it is dropped, which closes it.
    async fn serve<I>(self, io: I, activity: Arc<Activity>)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let Self {
            permit: _permit,
            watcher,
            app,
            http,
            limits,
        } = self;
        let service = ConnectionService {
            app,
            activity: Arc::clone(&activity),
        };
        let mut conn = pin!(watcher.watch(http.serve_connection(io, service)));
        let idle = limits.idle_timeout;
        loop {
            let wake = activity
                .idle_deadline(idle)
                .unwrap_or_else(|| Instant::now() + idle);
            tokio::select! {
                _ = &mut conn => return,
                () = tokio::time::sleep_until(wake) => {
                    if activity.idle_deadline(idle).is_some_and(|d| d <= Instant::now()) {
                        return;
                    }
                }
            }
        }
    }
}

/// The router as one connection's hyper service: counts the requests in it for the idle
/// watchdog.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    activity: Arc<Activity>,
}

impl hyper::service::Service<Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_service = self.activity.enter();
        let mut app = self.app.clone();
        Box::pin(async move {
            std::future::poll_fn(|cx| {
                <Router as tower_service::Service<Request<Incoming>>>::poll_ready(&mut app, cx)
            })
            .await?;
            let response = tower_service::Service::call(&mut app, request).await;
            drop(in_service);
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v3(action: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-action", HeaderValue::from_str(action).unwrap());
        headers
    }

    #[test]
    fn data_key_operations_run_inline_and_the_rest_on_the_blocking_pool() {
        for op in Operation::ALL {
            let name = op.name();
            let query = format!("Version=2016-01-20&Action={name}");
            let body = format!("Action={name}&KeyId=x");
            assert_eq!(
                runs_inline(&v3(name), None, b""),
                op.is_data_key(),
                "{name} (V3)"
            );
            assert_eq!(
                runs_inline(&HeaderMap::new(), Some(&query), b""),
                op.is_data_key(),
                "{name} (V1, query)"
            );
            assert_eq!(
                runs_inline(&HeaderMap::new(), None, body.as_bytes()),
                op.is_data_key(),
                "{name} (V1, body)"
            );
        }
        // Nothing readable, an unknown name, a percent-encoded one: the blocking pool.
        assert!(!runs_inline(&HeaderMap::new(), None, b""));
        assert!(!runs_inline(&v3("Nope"), None, b""));
        assert!(!runs_inline(
            &HeaderMap::new(),
            Some("Action=Gen%65rateDataKey"),
            b""
        ));
        // The header, when present, decides; a request that disagrees with itself only runs
        // somewhere else, the service still reads it as its signature version says.
        assert!(!runs_inline(&v3("DisableKey"), Some("Action=Decrypt"), b""));
    }
}
