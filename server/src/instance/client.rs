//! A signing client of the KMS-instance API over plain HTTP (a server started with
//! `--instance-plain-http`), for tools: `kms-load --protocol instance`. It signs as the
//! instance SDK does (`KMS-INSTANCE.md` §2). The tests have a client of their own, written
//! apart from the server's verification.

use std::net::SocketAddr;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Request};
use base64ct::{Base64, Encoding};
use http_body_util::Full;
use rsa::pkcs1v15::SigningKey;
use rsa::signature::{SignatureEncoding, Signer};
use sha2::Sha256;

use super::verify::{self, ACCESS_KEY_ID, API_NAME, API_VERSION, SIGNATURE_METHOD};
use crate::client::{Client, ClientError, ClientResponse, Credentials};

/// A client of one instance listener, signing as one client key.
#[derive(Clone)]
pub struct InstanceClient {
    http: Client,
    key_id: String,
    signer: SigningKey<Sha256>,
}

impl std::fmt::Debug for InstanceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceClient")
            .field("addr", &self.http.addr())
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl InstanceClient {
    /// A client of the instance listener at `addr`, signing as client key `key_id` with
    /// `private` (see [`read_key_files`](super::client_key::read_key_files)).
    pub fn new(addr: SocketAddr, key_id: String, private: rsa::PrivateKey) -> Self {
        let http = Client::new(
            addr,
            Credentials {
                access_key_id: String::new(),
                access_key_secret: String::new(),
            },
        );
        Self {
            http,
            key_id,
            signer: SigningKey::new(private),
        }
    }

    /// Calls operation `api` with the encoded message `body`, signed now.
    ///
    /// # Errors
    /// A connection or protocol failure (an API error is a response, not an `Err`).
    pub async fn call(&self, api: &str, body: Vec<u8>) -> Result<ClientResponse, ClientError> {
        let headers = self.sign(api, &body, SystemTime::now())?;
        self.send(headers, body).await
    }

    /// The signed headers of a call of `api` with `body` at time `at` (its `date`). The API
    /// has no nonce: the same headers may be sent again while `date` is in the server's
    /// window, which a load generator uses to keep the RSA signing (the client's cost, about a
    /// millisecond) out of the server's figures.
    ///
    /// # Errors
    /// A header that cannot be written.
    pub fn sign(&self, api: &str, body: &[u8], at: SystemTime) -> Result<HeaderMap, ClientError> {
        let bad = |e: &dyn std::fmt::Display| ClientError(format!("bad request: {e}"));
        let mut headers = HeaderMap::new();
        let sha = verify::content_sha256(body);
        let date = httpdate::fmt_http_date(at);
        for (name, value) in [
            ("accept", "application/x-protobuf"),
            ("content-type", "application/x-protobuf"),
            ("x-kms-apiversion", API_VERSION),
            ("x-kms-signaturemethod", SIGNATURE_METHOD),
            (API_NAME, api),
            (ACCESS_KEY_ID, &self.key_id),
            ("content-sha256", &sha),
            ("date", &date),
        ] {
            headers.insert(name, HeaderValue::from_str(value).map_err(|e| bad(&e))?);
        }
        let to_sign = verify::string_to_sign(&headers, &sha, &date)
            .ok_or_else(|| ClientError("bad request: the headers do not sign".into()))?;
        let signature = self.signer.sign(to_sign.as_bytes());
        let authorization = format!("Bearer {}", Base64::encode_string(&signature.to_bytes()));
        headers.insert(
            "authorization",
            HeaderValue::from_str(&authorization).map_err(|e| bad(&e))?,
        );
        Ok(headers)
    }

    /// Sends `body` with the signed `headers` ([`InstanceClient::sign`]).
    ///
    /// # Errors
    /// A connection or protocol failure.
    pub async fn send(
        &self,
        headers: HeaderMap,
        body: Vec<u8>,
    ) -> Result<ClientResponse, ClientError> {
        let mut request = Request::builder().method("POST").uri("/");
        if let Some(h) = request.headers_mut() {
            *h = headers;
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| ClientError(format!("bad request: {e}")))?;
        self.http.send(request).await
    }
}
