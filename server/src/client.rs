//! A small signing client, as an SDK would sign: used by the tests and the load generator,
//! and handy for scripts. Requests go over plain HTTP/1.1 (hyper) to one server.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::http::{HeaderMap, Request, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use kms_core::rand_core::TryRng;

use crate::auth;
use crate::service::API_VERSION;

/// The signature version a request is signed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SignatureVersion {
    /// `HMAC-SHA1` over the canonicalised query (the parameters carry the signature).
    V1,
    /// `ACS3-HMAC-SHA256` in the `Authorization` header (what current SDKs use).
    #[default]
    V3,
}

/// An AccessKey pair to sign with.
#[derive(Clone)]
pub struct Credentials {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The AccessKeySecret.
    pub access_key_secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"[REDACTED]")
            .finish()
    }
}

/// How to build and sign one request.
#[derive(Clone, Debug)]
pub struct CallOptions {
    /// The signature version.
    pub signature: SignatureVersion,
    /// `POST` (true) or `GET`.
    pub post: bool,
    /// Send the operation's parameters in a form body (POST) rather than the query.
    pub params_in_body: bool,
    /// `Format`; `None` sends none (JSON).
    pub format: Option<&'static str>,
    /// The timestamp; `None` is now.
    pub timestamp: Option<SystemTime>,
    /// The signature nonce; `None` draws a fresh one.
    pub nonce: Option<String>,
    /// The API version sent.
    pub version: String,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            signature: SignatureVersion::V3,
            post: true,
            params_in_body: false,
            format: None,
            timestamp: None,
            nonce: None,
            version: API_VERSION.into(),
        }
    }
}

impl CallOptions {
    /// Signature V1, GET, parameters in the query (the classic RPC form).
    pub fn v1() -> Self {
        Self {
            signature: SignatureVersion::V1,
            post: false,
            ..Self::default()
        }
    }
}

/// A fresh random nonce: 32 hex digits.
///
/// # Panics
/// Never: the RNG's failure gives a nonce from the clock instead.
pub fn fresh_nonce() -> String {
    let mut raw = [0u8; 16];
    if crate::random::ThreadRng.try_fill_bytes(&mut raw).is_err() {
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        raw = t.to_be_bytes();
    }
    auth::hex(&raw)
}

fn query_string(params: &[(String, String)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", auth::percent_encode(k), auth::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Builds and signs a request for `action` with the operation's `params`, addressed to `host`.
///
/// # Errors
/// An invalid header value (a nonce or version with control characters).
pub fn signed_request(
    host: &str,
    credentials: &Credentials,
    action: &str,
    params: &[(&str, &str)],
    options: &CallOptions,
) -> Result<Request<Full<Bytes>>, axum::http::Error> {
    let timestamp = auth::format_timestamp(options.timestamp.unwrap_or_else(SystemTime::now));
    let nonce = options.nonce.clone().unwrap_or_else(fresh_nonce);
    let method = if options.post { "POST" } else { "GET" };
    let mut op: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if let Some(f) = options.format {
        op.push(("Format".into(), f.into()));
    }
    match options.signature {
        SignatureVersion::V1 => {
            let mut all = op;
            all.extend([
                ("Action".to_owned(), action.to_owned()),
                ("Version".to_owned(), options.version.clone()),
                ("AccessKeyId".to_owned(), credentials.access_key_id.clone()),
                ("SignatureMethod".to_owned(), "HMAC-SHA1".to_owned()),
                ("SignatureVersion".to_owned(), "1.0".to_owned()),
                ("SignatureNonce".to_owned(), nonce),
                ("Timestamp".to_owned(), timestamp),
            ]);
            let string_to_sign =
                auth::v1_string_to_sign(method, all.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let signature = auth::v1_signature(&credentials.access_key_secret, &string_to_sign);
            all.push(("Signature".to_owned(), signature));
            let builder = Request::builder().header(header::HOST, host).method(method);
            if options.params_in_body && options.post {
                builder
                    .uri("/")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Full::new(Bytes::from(query_string(&all))))
            } else {
                builder
                    .uri(format!("/?{}", query_string(&all)))
                    .body(Full::new(Bytes::new()))
            }
        }
        SignatureVersion::V3 => {
            let (query, body) = if options.params_in_body && options.post {
                (Vec::new(), query_string(&op))
            } else {
                (op, String::new())
            };
            let payload_hash = auth::sha256_hex(body.as_bytes());
            let mut headers = vec![
                ("host".to_owned(), host.to_owned()),
                ("x-acs-action".to_owned(), action.to_owned()),
                ("x-acs-version".to_owned(), options.version.clone()),
                ("x-acs-date".to_owned(), timestamp),
                ("x-acs-signature-nonce".to_owned(), nonce),
                ("x-acs-content-sha256".to_owned(), payload_hash.clone()),
            ];
            if !body.is_empty() {
                headers.push((
                    "content-type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ));
            }
            let canonical = auth::v3_canonical_request(
                method,
                query.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                &headers,
                &payload_hash,
            );
            let signature = auth::v3_signature(
                &credentials.access_key_secret,
                &auth::v3_string_to_sign(&canonical),
            );
            let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
            names.sort_unstable();
            let authorization =
                auth::v3_authorization(&credentials.access_key_id, &names.join(";"), &signature);
            let uri = if query.is_empty() {
                "/".to_owned()
            } else {
                format!("/?{}", query_string(&query))
            };
            let mut builder = Request::builder().method(method).uri(uri);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            builder
                .header(header::AUTHORIZATION, authorization)
                .body(Full::new(Bytes::from(body)))
        }
    }
}

/// A response: status, headers and body.
#[derive(Clone, Debug)]
pub struct ClientResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl ClientResponse {
    /// The body as JSON (`Null` if it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A string field of the JSON body (empty if absent).
    pub fn field(&self, name: &str) -> String {
        self.json()
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A client error: the connection or the HTTP exchange failed.
#[derive(Debug)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ClientError {}

/// A client for one server, with a connection pool.
#[derive(Clone, Debug)]
pub struct Client {
    addr: SocketAddr,
    credentials: Credentials,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Client {
    /// A client of the server at `addr`, signing with `credentials`.
    pub fn new(addr: SocketAddr, credentials: Credentials) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        Self {
            addr,
            credentials,
            http,
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The same client with other credentials.
    pub fn with_credentials(&self, credentials: Credentials) -> Self {
        Self {
            credentials,
            ..self.clone()
        }
    }

    /// Sends a request built elsewhere (its URI is relative: `/?...`).
    ///
    /// # Errors
    /// A connection or protocol failure.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Result<ClientResponse, ClientError> {
        let (mut parts, body) = request.into_parts();
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        parts.uri = format!("http://{}{}", self.addr, path)
            .parse()
            .map_err(|e| ClientError(format!("bad URI: {e}")))?;
        let response = self
            .http
            .request(Request::from_parts(parts, body))
            .await
            .map_err(|e| ClientError(format!("request failed: {e}")))?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| ClientError(format!("reading the body failed: {e}")))?
            .to_bytes();
        Ok(ClientResponse {
            status,
            headers: parts.headers,
            body,
        })
    }

    /// Calls `action` with `params`, signed with V3 (POST, parameters in the query, as the
    /// Python SDK does).
    ///
    /// # Errors
    /// A connection or protocol failure (an API error is a response, not an `Err`).
    pub async fn call(
        &self,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<ClientResponse, ClientError> {
        self.call_with(action, params, &CallOptions::default())
            .await
    }

    /// Calls `action` with `params`, built and signed as `options` say.
    ///
    /// # Errors
    /// A connection or protocol failure.
    pub async fn call_with(
        &self,
        action: &str,
        params: &[(&str, &str)],
        options: &CallOptions,
    ) -> Result<ClientResponse, ClientError> {
        let request = self.sign(action, params, options)?;
        self.send(request).await
    }

    /// Builds and signs a request for `action` with `params`, as `options` say, addressed to
    /// this client's server, without sending it.
    ///
    /// The request is `Clone`: each clone, given to [`Client::send`] (of this client or of
    /// one for another server), sends the identical signed request again (same nonce,
    /// timestamp and signature; the `Host` header stays this client's server). That is a
    /// replay, as the tests of replay protection across servers send it.
    ///
    /// # Errors
    /// An invalid header value (a nonce or version with control characters).
    pub fn sign(
        &self,
        action: &str,
        params: &[(&str, &str)],
        options: &CallOptions,
    ) -> Result<Request<Full<Bytes>>, ClientError> {
        signed_request(
            &self.addr.to_string(),
            &self.credentials,
            action,
            params,
            options,
        )
        .map_err(|e| ClientError(format!("bad request: {e}")))
    }
}
