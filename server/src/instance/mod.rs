//! The KMS-instance API (`KMS-INSTANCE.md`): the API of a dedicated KMS instance, which the
//! instance SDK (`alibabacloud-dkms-gcs`) and the routing SDK's `TransferClient` speak. One
//! local instance (`kst-…`) is served on a listener of its own (`--instance-listen`), beside
//! the gateway, over the same keys and store.
//!
//! | module | what it owns |
//! |---|---|
//! | [`pb`] | the protobuf messages (prost derive macros) |
//! | [`client_key`] | client keys: issue (RSA 2048, PKCS#12, the files), what the server keeps |
//! | [`client`] | a signing client over plain HTTP, for tools (`kms-load --protocol instance`) |
//! | [`verify`] | request verification (headers, body hash, date, RSA signature) |
//! | [`http`] | the router and the listener |
//!
//! [`InstanceApi::handle`] takes one request to one reply: method and path, verification
//! ([`verify`]) before the body is decoded, the operation (`x-kms-apiname`), the per-account
//! rate limit, then the core's operation (`kms_core::instance`) under the caller's scope
//! (the client key's account, region and instance) on the gateway's data-key path (the
//! provider's read lock, the seal budget and rotation of [`Service`]). Every reply, errors
//! included, is a protobuf message; every error is [`pb::Error`] with `StatusCode` equal to
//! the HTTP status.

pub mod client;
pub mod client_key;
pub mod http;
mod ops;
pub mod pb;
pub mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

use kms_core::{RateLimit, RateLimiter, RequestId};
use prost::Message;

use crate::error::ApiError;
use crate::random::ThreadRng;
use crate::service::Service;
use client_key::ClientKey;

/// The largest request body accepted, in bytes (3 MiB); larger is refused with 413.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// The `content-type` of every reply.
pub const CONTENT_TYPE: &str = "application/x-protobuf";

/// The operations served, by `x-kms-apiname`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstanceOperation {
    /// `Encrypt`.
    Encrypt,
    /// `Decrypt`.
    Decrypt,
    /// `GenerateDataKey`.
    GenerateDataKey,
    /// `AdvanceEncrypt`.
    AdvanceEncrypt,
    /// `AdvanceDecrypt`.
    AdvanceDecrypt,
    /// `AdvanceGenerateDataKey`.
    AdvanceGenerateDataKey,
    /// `GenerateRandom`.
    GenerateRandom,
    /// `GetPublicKey`.
    GetPublicKey,
    /// `Sign`.
    Sign,
    /// `Verify`.
    Verify,
    /// `GenerateDataKeyPair`.
    GenerateDataKeyPair,
    /// `GenerateDataKeyPairWithoutPlaintext`.
    GenerateDataKeyPairWithoutPlaintext,
    /// `AdvanceGenerateDataKeyPair`.
    AdvanceGenerateDataKeyPair,
    /// `AdvanceGenerateDataKeyPairWithoutPlaintext`.
    AdvanceGenerateDataKeyPairWithoutPlaintext,
}

impl InstanceOperation {
    /// Every operation served.
    pub const ALL: [InstanceOperation; 14] = [
        Self::Encrypt,
        Self::Decrypt,
        Self::GenerateDataKey,
        Self::AdvanceEncrypt,
        Self::AdvanceDecrypt,
        Self::AdvanceGenerateDataKey,
        Self::GenerateRandom,
        Self::GetPublicKey,
        Self::Sign,
        Self::Verify,
        Self::GenerateDataKeyPair,
        Self::GenerateDataKeyPairWithoutPlaintext,
        Self::AdvanceGenerateDataKeyPair,
        Self::AdvanceGenerateDataKeyPairWithoutPlaintext,
    ];

    /// The wire name (`x-kms-apiname`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::GenerateDataKey => "GenerateDataKey",
            Self::AdvanceEncrypt => "AdvanceEncrypt",
            Self::AdvanceDecrypt => "AdvanceDecrypt",
            Self::AdvanceGenerateDataKey => "AdvanceGenerateDataKey",
            Self::GenerateRandom => "GenerateRandom",
            Self::GetPublicKey => "GetPublicKey",
            Self::Sign => "Sign",
            Self::Verify => "Verify",
            Self::GenerateDataKeyPair => "GenerateDataKeyPair",
            Self::GenerateDataKeyPairWithoutPlaintext => "GenerateDataKeyPairWithoutPlaintext",
            Self::AdvanceGenerateDataKeyPair => "AdvanceGenerateDataKeyPair",
            Self::AdvanceGenerateDataKeyPairWithoutPlaintext => {
                "AdvanceGenerateDataKeyPairWithoutPlaintext"
            }
        }
    }

    /// The operation named `name`; `None` for any other (GetSecretValue, Hmac, Hash: not
    /// served, `UnsupportedOperation`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.name() == name)
    }

    /// Whether the reply carries `x-kms-migrationkeyversionid`: every operation on a key
    /// but Decrypt, which carries it only when it decrypted with an asymmetric key (the
    /// routing SDK's AsymmetricDecrypt reads it; its Decrypt of a symmetric blob does not).
    pub fn names_version(self) -> bool {
        !matches!(self, Self::Decrypt | Self::GenerateRandom)
    }

    /// Whether the operation runs on the blocking pool rather than on the runtime worker
    /// that received it: those that do a private-key operation or generate a key pair (Sign:
    /// an RSA private-key operation, about a millisecond for RSA-2048, more for RSA-3072, and
    /// ECDSA and SM2 signing for simplicity; the GenerateDataKeyPair family: RSA key
    /// generation takes tens to hundreds of milliseconds). Decrypt stays on the worker (the
    /// operation is known from the signed header, the algorithm only from the body): an
    /// asymmetric Decrypt costs one private-key operation there.
    pub fn runs_blocking(self) -> bool {
        matches!(
            self,
            Self::Sign
                | Self::GenerateDataKeyPair
                | Self::GenerateDataKeyPairWithoutPlaintext
                | Self::AdvanceGenerateDataKeyPair
                | Self::AdvanceGenerateDataKeyPairWithoutPlaintext
        )
    }
}

/// A new instance ID (`kst-` and 21 lowercase letters or digits), drawn from the operating
/// system's RNG.
///
/// # Errors
/// The RNG failed.
pub fn new_instance_id() -> Result<kms_core::InstanceId, kms_core::RngError> {
    kms_core::InstanceId::random(&mut kms_core::OsRng)
}

/// 400 `UnsupportedOperation`: an `x-kms-apiname` the server does not serve.
pub fn unsupported() -> ApiError {
    ApiError::new(400, "UnsupportedOperation", "This action is not supported.")
}

/// 413 `InvalidParameter`: a body over [`MAX_BODY`].
pub fn too_large() -> ApiError {
    ApiError::new(
        413,
        "InvalidParameter",
        format!("The request body is larger than {MAX_BODY} bytes."),
    )
}

/// 400 `InvalidParameter`: a body that is not the operation's protobuf message (decided).
pub fn malformed_body() -> ApiError {
    ApiError::new(
        400,
        "InvalidParameter",
        "The specified parameter Body is not valid.",
    )
}

/// 405 `UnsupportedOperation`: a method other than POST (decided).
pub fn method_not_allowed() -> ApiError {
    ApiError::new(405, "UnsupportedOperation", "This action is not supported.")
}

/// 404 `UnsupportedOperation`: a path other than `/` (decided).
pub fn path_not_found() -> ApiError {
    ApiError::new(404, "UnsupportedOperation", "This action is not supported.")
}

/// A reply of the instance API.
#[derive(Clone)]
pub struct InstanceReply {
    /// The HTTP status.
    pub status: u16,
    /// The protobuf body: the operation's response, or [`pb::Error`].
    pub body: Vec<u8>,
    /// `x-kms-migrationkeyversionid`: the key version that sealed or opened.
    pub key_version_id: Option<String>,
    /// For `Rejected.Throttling`: milliseconds until a request would be admitted.
    pub retry_after_ms: Option<u64>,
    /// The request ID (also in the body).
    pub request_id: String,
}

/// Shows the status and request ID only (a body may hold a plaintext).
impl std::fmt::Debug for InstanceReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceReply")
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl Drop for InstanceReply {
    fn drop(&mut self) {
        // A success body may hold a plaintext or a data key.
        zeroize::Zeroize::zeroize(&mut self.body);
    }
}

/// The KMS-instance API of one server: its instance, the client keys it issued, its rate
/// limiter, over the gateway's [`Service`] (keys, store, seal budget).
pub struct InstanceApi {
    service: Arc<Service>,
    instance: kms_core::InstanceId,
    client_keys: RwLock<HashMap<String, Arc<ClientKey>>>,
    limiter: Mutex<RateLimiter<InstanceOperation>>,
    started: Instant,
}

impl std::fmt::Debug for InstanceApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstanceApi")
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InstanceApi {
    /// The instance API of `service` for instance `instance` (`kst-…`), accepting requests
    /// signed by `client_keys` (those of other instances are ignored), each account limited
    /// to `rate_limit` per operation as on the gateway. The service hosts the instance from
    /// now on ([`Service::host_instance`]): the gateway's CreateKey accepts its ID.
    pub fn new(
        service: Arc<Service>,
        instance: kms_core::InstanceId,
        client_keys: Vec<ClientKey>,
        rate_limit: RateLimit,
    ) -> Self {
        service.host_instance(instance);
        let client_keys = client_keys
            .into_iter()
            .filter(|k| k.instance == instance.as_str())
            .map(|k| (k.key_id.clone(), Arc::new(k)))
            .collect();
        Self {
            service,
            instance,
            client_keys: RwLock::new(client_keys),
            limiter: Mutex::new(RateLimiter::new().with_default(rate_limit)),
            started: Instant::now(),
        }
    }

    /// The instance's ID.
    pub fn instance(&self) -> &str {
        self.instance.as_str()
    }

    /// The instance's ID, typed.
    pub fn instance_id(&self) -> kms_core::InstanceId {
        self.instance
    }

    /// The service under it.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Accepts requests signed by `key` from now on (a key issued while serving; the caller
    /// has put it in the store first). A key of another instance is not added (`false`).
    pub fn add_client_key(&self, key: ClientKey) -> bool {
        if key.instance != self.instance.as_str() {
            return false;
        }
        self.client_keys
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.key_id.clone(), Arc::new(key));
        true
    }

    /// How many client keys it accepts.
    pub fn client_key_count(&self) -> usize {
        self.client_keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The reply carrying `error`.
    pub fn error_reply(&self, error: &ApiError, request_id: String) -> InstanceReply {
        let body = pb::Error {
            status_code: i32::from(error.status),
            error_code: error.code.to_string(),
            error_message: error.message.to_string(),
            request_id: request_id.clone(),
        }
        .encode_to_vec();
        InstanceReply {
            status: error.status,
            body,
            key_version_id: None,
            retry_after_ms: error.retry_after_ms,
            request_id,
        }
    }

    /// Handles one request at time `now`: `method` and `path` (`POST /` only), the headers and
    /// the whole body (at most [`MAX_BODY`] bytes, which the frontend enforces).
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> InstanceReply {
        match self.handle_inner(method, path, headers, body, now) {
            // The operation drew the request ID its response carries.
            Ok(ok) => InstanceReply {
                status: 200,
                body: ok.body,
                key_version_id: ok.key_version_id,
                retry_after_ms: None,
                request_id: ok.request_id,
            },
            Err(error) => {
                let request_id = RequestId::random(&mut ThreadRng).map_or_else(
                    |_| "00000000-0000-4000-8000-000000000000".to_owned(),
                    |id| id.to_string(),
                );
                self.error_reply(&error, request_id)
            }
        }
    }

    fn handle_inner(
        &self,
        method: &str,
        path: &str,
        headers: &axum::http::HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Result<ops::Done, ApiError> {
        if method != "POST" {
            return Err(method_not_allowed());
        }
        if path != "/" {
            return Err(path_not_found());
        }
        if body.len() > MAX_BODY {
            return Err(too_large());
        }
        let verified = verify::verify(headers, body, now, |id| {
            self.client_keys
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(id)
                .cloned()
        })?;
        let operation = InstanceOperation::from_name(&verified.api_name).ok_or_else(unsupported)?;
        let key = verified.key;
        lock(&self.limiter)
            .check(&key.account, operation, self.started.elapsed())
            .map_err(ApiError::from)?;
        let request = ops::Request {
            operation,
            client_key: &key,
            migration_key_version_id: verified.migration_key_version_id.as_deref(),
            body,
            now,
        };
        match ops::run(self, &request) {
            // On a replica, a key or version made through another replica an instant ago (before
            // its notification arrived): catch up once and run again, as the gateway does. The
            // instance operations change no key, so running one again is safe.
            Err(e)
                if self.service.shared().is_some()
                    && (e.code == "Forbidden.KeyNotFound"
                        || e.code == "Forbidden.AliasNotFound") =>
            {
                if let Err(store) = self.service.follow() {
                    eprintln!("kms-server: catching up with the shared store failed: {store}");
                    return Err(e);
                }
                ops::run(self, &request)
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_round_trip_and_others_are_not_served() {
        for op in InstanceOperation::ALL {
            assert_eq!(InstanceOperation::from_name(op.name()), Some(op));
        }
        for other in ["GetSecretValue", "Hmac", "Hash", "encrypt", "sign", ""] {
            assert_eq!(InstanceOperation::from_name(other), None, "{other}");
        }
    }
}
