//! The KMS-instance API's HTTP frontend: every request, whatever its method and path, goes to
//! [`InstanceApi::handle`] once its body is read within the limits (at most
//! [`MAX_BODY`] bytes, by the body deadline); the listener runs the gateway's
//! accept loop ([`crate::http`]: connection cap, header, body and idle timeouts, TLS).
//!
//! Every answer the server writes is a protobuf message with `content-type:
//! application/x-protobuf`; errors are [`pb::Error`](super::pb::Error). A body announced or
//! found larger than the limit is answered `413 InvalidParameter` and the connection closed; a
//! body that misses its deadline, `408 RequestTimeout` (closed too). What hyper refuses before
//! a request exists (a head over the size limit, a head that does not arrive in time) gets
//! hyper's bare answer or a closed connection: there is no request to answer in protobuf.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use super::{InstanceApi, InstanceOperation, InstanceReply, MAX_BODY, too_large};
use crate::error::ApiError;
use crate::http::{BodyDeadline, DeadlineBody, ServeOptions};
use crate::limits::Limits;

/// The router's state.
#[derive(Clone, Debug)]
struct Frontend {
    api: Arc<InstanceApi>,
    body_timeout: Duration,
}

/// The router: every request, read within the limits, to [`InstanceApi::handle`].
pub fn router(api: Arc<InstanceApi>, limits: &Limits) -> Router {
    Router::new().fallback(handle).with_state(Frontend {
        api,
        body_timeout: limits.body_timeout,
    })
}

/// The HTTP response of `reply`.
fn respond(mut reply: InstanceReply, close: bool) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = std::mem::take(&mut reply.body);
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(super::CONTENT_TYPE),
    );
    if let Some(version) = &reply.key_version_id
        && let Ok(v) = HeaderValue::from_str(version)
    {
        headers.insert(super::verify::MIGRATION_KEY_VERSION_ID, v);
    }
    if let Some(ms) = reply.retry_after_ms {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(ms.div_ceil(1000)));
    }
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// An error answered before the request reaches the API, then the connection closed.
fn refuse(api: &InstanceApi, error: &ApiError) -> Response {
    let request_id = kms_core::RequestId::random(&mut crate::random::ThreadRng).map_or_else(
        |_| "00000000-0000-4000-8000-000000000000".to_owned(),
        |id| id.to_string(),
    );
    respond(api.error_reply(error, request_id), true)
}

/// One request: the body read within the limits, then the API.
async fn handle(State(frontend): State<Frontend>, request: Request<Body>) -> Response {
    let announced_too_large = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY as u64);
    if announced_too_large {
        return refuse(&frontend.api, &too_large());
    }
    let (parts, body) = request.into_parts();
    let body = Body::new(DeadlineBody {
        inner: http_body_util::Limited::new(body, MAX_BODY),
        deadline: Box::pin(tokio::time::sleep(frontend.body_timeout)),
    });
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            let mut timed_out = false;
            while let Some(error) = cause {
                timed_out |= error.is::<BodyDeadline>();
                cause = error.source();
            }
            let error = if timed_out {
                ApiError::new(
                    408,
                    "RequestTimeout",
                    format!(
                        "The request body was not received within {}.",
                        humantime::format_duration(frontend.body_timeout)
                    ),
                )
            } else {
                too_large()
            };
            return refuse(&frontend.api, &error);
        }
    };
    // Where it runs: an operation that generates a key pair or does a private-key operation
    // goes to the blocking pool (`InstanceOperation::runs_blocking`). The header is read before
    // verification: a request that names another operation than it is fails verification, at
    // the cost of one hop at most.
    let blocking = parts
        .headers
        .get(super::verify::API_NAME)
        .and_then(|v| v.to_str().ok())
        .and_then(|name| InstanceOperation::from_name(name.trim()))
        .is_some_and(InstanceOperation::runs_blocking);
    if !blocking {
        let reply = frontend.api.handle(
            parts.method.as_str(),
            parts.uri.path(),
            &parts.headers,
            &bytes,
            SystemTime::now(),
        );
        return respond(reply, false);
    }
    let api = Arc::clone(&frontend.api);
    let handled = tokio::task::spawn_blocking(move || {
        api.handle(
            parts.method.as_str(),
            parts.uri.path(),
            &parts.headers,
            &bytes,
            SystemTime::now(),
        )
    })
    .await;
    match handled {
        Ok(reply) => respond(reply, false),
        Err(_) => {
            let request_id = kms_core::RequestId::random(&mut crate::random::ThreadRng)
                .map_or_else(
                    |_| "00000000-0000-4000-8000-000000000000".to_owned(),
                    |id| id.to_string(),
                );
            respond(
                frontend.api.error_reply(&ApiError::internal(), request_id),
                false,
            )
        }
    }
}

/// Serves the instance API on `listener` within `options` (limits, TLS) until `shutdown`
/// completes; then the requests in progress are answered and the connections closed.
///
/// # Errors
/// An I/O error from the listener.
pub async fn serve(
    listener: TcpListener,
    api: Arc<InstanceApi>,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let app = router(api, &options.limits);
    crate::http::accept_loop(listener, app, &options, shutdown).await
}
