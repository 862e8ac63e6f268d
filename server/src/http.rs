//! The HTTP frontend: an axum router that hands every request to the [`Service`].

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::operation::Operation;
use crate::service::{MAX_BODY, RawRequest, Reply, Service};

/// The router: every method and path goes to the service, which answers unknown ones with
/// an error body.
pub fn router(service: Arc<Service>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(service)
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

async fn handle(
    State(service): State<Arc<Service>>,
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
        axum::body::to_bytes(body, MAX_BODY)
            .await
            .map_err(|_| ApiError::too_large(MAX_BODY))
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

/// Serves `service` on `listener` until `shutdown` completes, with housekeeping (due
/// deletions, seal counts written) every `tick` interval; then writes the seal counts once
/// more.
///
/// # Errors
/// An I/O error from the listener, or the final write to the store.
pub async fn serve(
    listener: TcpListener,
    service: Arc<Service>,
    tick: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
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
    let result = axum::serve(listener, router(Arc::clone(&service)))
        .with_graceful_shutdown(shutdown)
        .await;
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
