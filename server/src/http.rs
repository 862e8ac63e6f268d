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
use axum::extract::{FromRequest, State};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
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
use crate::service::{Admitted, MAX_BODY, RawRequest, Reply, Service};

/// The router's state: the service, and how long a request body may take.
#[derive(Clone, Debug)]
struct Frontend {
    service: Arc<Service>,
    body_timeout: Duration,
}

/// The router with the default [`Limits`]: see [`router_with`].
pub fn router(service: Arc<Service>) -> Router {
    router_with(service, &Limits::default())
}

/// The router: `GET` and `POST` on `/` go to the service; any other method on `/` is answered
/// `405 MethodNotAllowed`, any other path `404 InvalidAction.NotFound` (`405` for a method other
/// than `GET` and `POST`), in the service's error body. Every request's body is read first, within
/// the per-request limits (the `bound_body` layer): at most [`MAX_BODY`] bytes, by
/// `limits.body_timeout`.
pub fn router_with(service: Arc<Service>, limits: &Limits) -> Router {
    let frontend = Frontend {
        service,
        body_timeout: limits.body_timeout,
    };
    Router::new()
        .route(
            "/",
            get(api)
                .post(api)
                .head(method_not_allowed)
                .fallback(method_not_allowed),
        )
        .route("/healthz", get(healthz))
        .fallback(path_not_found)
        .layer(middleware::map_request_with_state(
            frontend.clone(),
            bound_body,
        ))
        .with_state(frontend)
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            self.body,
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if let Ok(v) = HeaderValue::from_str(&self.request_id) {
            headers.insert("x-acs-request-id", v);
        }
        if let Some(ms) = self.retry_after_ms {
            headers.insert("x-acs-retry-after", HeaderValue::from(ms));
            headers.insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
        }
        response
    }
}

/// An error answered before the service sees the request, in the service's error body.
#[derive(Debug)]
pub struct Refusal {
    reply: Reply,
    /// Close the connection after the answer (the rest of the body is never read).
    close: bool,
    /// For 405: the methods served.
    allow: bool,
}

impl Refusal {
    fn new(service: &Service, error: &ApiError) -> Self {
        Self {
            reply: service.error_reply(error),
            close: false,
            allow: error.status == 405,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = self.reply.into_response();
        if self.close {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        if self.allow {
            // RFC 9110 §15.5.6. (Set here, axum's method router leaves it as it is.)
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST"));
        }
        response
    }
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

/// A body whose deadline passed before it ended.
#[derive(Debug)]
pub(crate) struct BodyDeadline;

impl std::fmt::Display for BodyDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not end before its deadline")
    }
}

impl std::error::Error for BodyDeadline {}

/// A request body that fails with [`BodyDeadline`] once `deadline` passes: one deadline for
/// the whole body, which a client sending a byte now and then does not extend (tower-http's
/// body timeout starts again at every frame).
pub(crate) struct DeadlineBody<B> {
    pub(crate) inner: B,
    pub(crate) deadline: Pin<Box<tokio::time::Sleep>>,
}

impl<B> hyper::body::Body for DeadlineBody<B>
where
    B: hyper::body::Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyDeadline)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// The per-request limits, as a layer: a body announced (`Content-Length`) larger than
/// [`MAX_BODY`] is refused with `413` before it is read; any other body is bounded to
/// [`MAX_BODY`] bytes and given its deadline, which [`ApiRequest`] reports.
async fn bound_body(
    State(frontend): State<Frontend>,
    request: Request<Body>,
) -> Result<Request<Body>, Refusal> {
    let too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64);
    if too_large {
        return Err(Refusal::new(
            &frontend.service,
            &ApiError::too_large(MAX_BODY),
        ));
    }
    let deadline = Box::pin(tokio::time::sleep(frontend.body_timeout));
    Ok(request.map(|body| {
        Body::new(DeadlineBody {
            inner: http_body_util::Limited::new(body, MAX_BODY),
            deadline,
        })
    }))
}

/// A request as the service reads it: method, URI, headers and the whole body, read within
/// the limits the `bound_body` layer set. Refused with `413 RequestEntityTooLarge` (over [`MAX_BODY`],
/// or a body that could not be read) or `408 RequestTimeout` (past the deadline; the connection
/// is then closed).
#[derive(Debug)]
pub struct ApiRequest {
    /// The method.
    pub method: Method,
    /// The URI (path and query).
    pub uri: Uri,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ApiRequest {
    /// The request as the service takes it.
    pub fn raw(&self) -> RawRequest<'_> {
        RawRequest {
            method: self.method.as_str(),
            path: self.uri.path(),
            query: self.uri.query(),
            headers: &self.headers,
            body: &self.body,
        }
    }
}

impl FromRequest<Frontend> for ApiRequest {
    type Rejection = Refusal;

    async fn from_request(request: Request<Body>, frontend: &Frontend) -> Result<Self, Refusal> {
        let (parts, body) = request.into_parts();
        match axum::body::to_bytes(body, usize::MAX).await {
            Ok(body) => Ok(Self {
                method: parts.method,
                uri: parts.uri,
                headers: parts.headers,
                body,
            }),
            Err(e) => {
                // The deadline's error arrives wrapped (axum's body, the length limit).
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
                let mut timed_out = false;
                while let Some(error) = cause {
                    timed_out |= error.is::<BodyDeadline>();
                    cause = error.source();
                }
                if timed_out {
                    let mut refusal =
                        Refusal::new(&frontend.service, &body_timed_out(frontend.body_timeout));
                    refusal.close = true;
                    Err(refusal)
                } else {
                    Err(Refusal::new(
                        &frontend.service,
                        &ApiError::too_large(MAX_BODY),
                    ))
                }
            }
        }
    }
}

/// `GET /healthz`, for load balancers: `200 ok` when the server is ready for traffic, `503` when
/// it is not ([`Service::healthy`]: a replica that has not caught up with its shared store
/// within two poll periods).
async fn healthz(State(frontend): State<Frontend>) -> Response {
    if frontend.service.healthy() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not current with the shared store\n",
        )
            .into_response()
    }
}

/// `GET` or `POST` on `/`, admitted ([`Caller`]): the operation runs on the worker that received
/// the request or on the blocking pool, as [`OPERATIONS`] says.
async fn api(State(frontend): State<Frontend>, Caller(admitted): Caller) -> Response {
    let service = frontend.service;
    match runs(admitted.operation()) {
        Runs::Inline => service.run(&admitted, SystemTime::now()).into_response(),
        Runs::BlockingPool => {
            let pool_service = Arc::clone(&service);
            let handled =
                tokio::task::spawn_blocking(move || pool_service.run(&admitted, SystemTime::now()))
                    .await;
            match handled {
                Ok(reply) => reply.into_response(),
                Err(_) => Refusal::new(&service, &ApiError::internal()).into_response(),
            }
        }
    }
}

/// The extractor of an admitted request: the request read within the per-request limits
/// ([`ApiRequest`]), then parsed, authenticated and admitted by [`Service::admit`] (signature,
/// timestamp, replay cache, rate limit). It yields the authenticated caller's account, the
/// operation, the parameters and the `Format`, in an [`Admitted`]; a request refused on the way
/// is answered with the service's error body.
#[derive(Debug)]
pub struct Caller(pub Admitted);

impl FromRequest<Frontend> for Caller {
    type Rejection = Response;

    async fn from_request(request: Request<Body>, frontend: &Frontend) -> Result<Self, Response> {
        let request = ApiRequest::from_request(request, frontend)
            .await
            .map_err(IntoResponse::into_response)?;
        frontend
            .service
            .admit(&request.raw(), SystemTime::now())
            .map(Caller)
            .map_err(IntoResponse::into_response)
    }
}

/// Any method but `GET` and `POST` on `/` (the body read first, as for every request).
async fn method_not_allowed(State(frontend): State<Frontend>, _request: ApiRequest) -> Refusal {
    Refusal::new(&frontend.service, &ApiError::method_not_allowed())
}

/// Any other path: `404 InvalidAction.NotFound`, or `405` for a method the server does not
/// serve on any path (the method is checked first, as the service does).
async fn path_not_found(State(frontend): State<Frontend>, request: ApiRequest) -> Refusal {
    let error = if request.method == Method::GET || request.method == Method::POST {
        ApiError::path_not_found()
    } else {
        ApiError::method_not_allowed()
    };
    Refusal::new(&frontend.service, &error)
}

/// Where a request runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Runs {
    /// On the runtime worker that received it.
    Inline,
    /// On tokio's blocking pool.
    BlockingPool,
}

/// The operation table: where each operation runs. The data-key operations wait for nothing
/// but a read lock held for the length of a seal (or, once per 2^32 seals of a version, for a
/// rotation): on the worker that received them. Key management waits for the mutex that
/// serialises it and for the provider's write lock: on the blocking pool, so that a request
/// that waits never holds up a runtime worker, and with it the other connections and the
/// timers.
const OPERATIONS: &[(Operation, Runs)] = &[
    (Operation::GenerateDataKey, Runs::Inline),
    (Operation::GenerateDataKeyWithoutPlaintext, Runs::Inline),
    (Operation::Encrypt, Runs::Inline),
    (Operation::Decrypt, Runs::Inline),
    (Operation::ReEncrypt, Runs::Inline),
    (Operation::CreateKey, Runs::BlockingPool),
    (Operation::DescribeKey, Runs::BlockingPool),
    (Operation::ListKeys, Runs::BlockingPool),
    (Operation::CreateAlias, Runs::BlockingPool),
    (Operation::UpdateAlias, Runs::BlockingPool),
    (Operation::DeleteAlias, Runs::BlockingPool),
    (Operation::ListAliases, Runs::BlockingPool),
    (Operation::EnableKey, Runs::BlockingPool),
    (Operation::DisableKey, Runs::BlockingPool),
    (Operation::ScheduleKeyDeletion, Runs::BlockingPool),
    (Operation::CancelKeyDeletion, Runs::BlockingPool),
    (Operation::CreateKeyVersion, Runs::BlockingPool),
    (Operation::ListKeyVersions, Runs::BlockingPool),
    (Operation::DescribeKeyVersion, Runs::BlockingPool),
    (Operation::UpdateRotationPolicy, Runs::BlockingPool),
    // An RSA public-key operation per request (e = 65537: microseconds) after the seal or open.
    (Operation::GenerateAndExportDataKey, Runs::Inline),
    (Operation::ExportDataKey, Runs::Inline),
    (Operation::UpdateKeyDescription, Runs::BlockingPool),
    (Operation::SetDeletionProtection, Runs::BlockingPool),
    (Operation::TagResource, Runs::BlockingPool),
    (Operation::UntagResource, Runs::BlockingPool),
    (Operation::ListResourceTags, Runs::BlockingPool),
    (Operation::TagResources, Runs::BlockingPool),
    (Operation::UntagResources, Runs::BlockingPool),
    (Operation::ListTagResources, Runs::BlockingPool),
    (Operation::ListAliasesByKeyId, Runs::BlockingPool),
    (Operation::DescribeRegions, Runs::BlockingPool),
    (Operation::GetRandomPassword, Runs::BlockingPool),
    // An RSA-2048 key generation (tens of milliseconds) and an RSA decryption: off the workers.
    (Operation::GetParametersForImport, Runs::BlockingPool),
    (Operation::ImportKeyMaterial, Runs::BlockingPool),
    (Operation::DeleteKeyMaterial, Runs::BlockingPool),
    (Operation::GetKeyPolicy, Runs::BlockingPool),
    (Operation::SetKeyPolicy, Runs::BlockingPool),
    // A public key's encoding, a verification (an RSA public operation or an ECDSA/SM2
    // verification: tens to hundreds of microseconds), an encryption: on the workers.
    (Operation::GetPublicKey, Runs::Inline),
    (Operation::AsymmetricVerify, Runs::Inline),
    (Operation::AsymmetricEncrypt, Runs::Inline),
    // An RSA private-key operation (about a millisecond for RSA-2048, more for RSA-3072): off
    // the workers, as ECDSA and SM2 signing for simplicity.
    (Operation::AsymmetricSign, Runs::BlockingPool),
    (Operation::AsymmetricDecrypt, Runs::BlockingPool),
];

/// Where an operation runs: its entry in [`OPERATIONS`] (the blocking pool for one not listed,
/// which the table's test rules out).
fn runs(operation: Operation) -> Runs {
    OPERATIONS
        .iter()
        .find(|(op, _)| *op == operation)
        .map_or(Runs::BlockingPool, |(_, runs)| *runs)
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
pub(crate) async fn accept_loop(
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

    #[test]
    fn the_operation_table_lists_every_operation_once() {
        for op in Operation::ALL {
            let entries = OPERATIONS.iter().filter(|(o, _)| *o == op).count();
            assert_eq!(entries, 1, "{op:?}");
        }
        assert_eq!(OPERATIONS.len(), Operation::ALL.len());
    }

    #[test]
    fn data_key_operations_run_inline_and_the_rest_on_the_blocking_pool() {
        // The private-key operations (milliseconds of RSA) are the data-key kind that runs on
        // the blocking pool.
        let private = [Operation::AsymmetricSign, Operation::AsymmetricDecrypt];
        for op in Operation::ALL {
            let inline = op.is_data_key() && !private.contains(&op);
            assert_eq!(runs(op) == Runs::Inline, inline, "{op:?}");
        }
    }
}
