//! The service: one request in, one reply out. Parses the parameters, authenticates the
//! caller (signature V1 or V3), applies the per-account rate limit, runs the core's operation
//! and renders the result or the error. Nothing here panics on input.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use kms_core::management::{
    self, AliasRequest, CreateKeyRequest, KeyRequest, PageRequest, ScheduleKeyDeletionRequest,
};
use kms_core::{
    Caller, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, InMemoryProvider, Operation,
    RateLimit, RateLimiter, ReEncryptRequest, RequestId,
};
use serde::Serialize;

use crate::auth::{self, NonceCache, NonceRefusal, V3Authorization};
use crate::config::{AccessKey, Config};
use crate::error::ApiError;
use crate::keyring::Keyring;
use crate::params::Params;
use crate::wire::{self, Format};

/// The API version served.
pub const API_VERSION: &str = "2016-01-20";

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// The operations served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// GenerateDataKey.
    GenerateDataKey,
    /// GenerateDataKeyWithoutPlaintext.
    GenerateDataKeyWithoutPlaintext,
    /// Encrypt.
    Encrypt,
    /// Decrypt.
    Decrypt,
    /// ReEncrypt.
    ReEncrypt,
    /// CreateKey.
    CreateKey,
    /// DescribeKey.
    DescribeKey,
    /// ListKeys.
    ListKeys,
    /// CreateAlias.
    CreateAlias,
    /// UpdateAlias.
    UpdateAlias,
    /// DeleteAlias.
    DeleteAlias,
    /// ListAliases.
    ListAliases,
    /// EnableKey.
    EnableKey,
    /// DisableKey.
    DisableKey,
    /// ScheduleKeyDeletion.
    ScheduleKeyDeletion,
    /// CancelKeyDeletion.
    CancelKeyDeletion,
    /// CreateKeyVersion.
    CreateKeyVersion,
}

impl Action {
    /// Every operation served.
    pub const ALL: [Action; 17] = [
        Action::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext,
        Action::Encrypt,
        Action::Decrypt,
        Action::ReEncrypt,
        Action::CreateKey,
        Action::DescribeKey,
        Action::ListKeys,
        Action::CreateAlias,
        Action::UpdateAlias,
        Action::DeleteAlias,
        Action::ListAliases,
        Action::EnableKey,
        Action::DisableKey,
        Action::ScheduleKeyDeletion,
        Action::CancelKeyDeletion,
        Action::CreateKeyVersion,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Action::GenerateDataKey => "GenerateDataKey",
            Action::GenerateDataKeyWithoutPlaintext => "GenerateDataKeyWithoutPlaintext",
            Action::Encrypt => "Encrypt",
            Action::Decrypt => "Decrypt",
            Action::ReEncrypt => "ReEncrypt",
            Action::CreateKey => "CreateKey",
            Action::DescribeKey => "DescribeKey",
            Action::ListKeys => "ListKeys",
            Action::CreateAlias => "CreateAlias",
            Action::UpdateAlias => "UpdateAlias",
            Action::DeleteAlias => "DeleteAlias",
            Action::ListAliases => "ListAliases",
            Action::EnableKey => "EnableKey",
            Action::DisableKey => "DisableKey",
            Action::ScheduleKeyDeletion => "ScheduleKeyDeletion",
            Action::CancelKeyDeletion => "CancelKeyDeletion",
            Action::CreateKeyVersion => "CreateKeyVersion",
        }
    }

    /// The operation named `name` (case-sensitive, as Alibaba's).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The operation as the rate limiter counts it.
    pub fn operation(self) -> Operation {
        match self {
            Action::GenerateDataKey => Operation::GenerateDataKey,
            Action::GenerateDataKeyWithoutPlaintext => Operation::GenerateDataKeyWithoutPlaintext,
            Action::Encrypt => Operation::Encrypt,
            Action::Decrypt => Operation::Decrypt,
            Action::ReEncrypt => Operation::ReEncrypt,
            other => Operation::Other(other.name()),
        }
    }

    /// Whether a success changes the keyring (so it is written before the reply).
    pub const fn alters_keys(self) -> bool {
        matches!(
            self,
            Action::CreateKey
                | Action::CreateAlias
                | Action::UpdateAlias
                | Action::DeleteAlias
                | Action::EnableKey
                | Action::DisableKey
                | Action::ScheduleKeyDeletion
                | Action::CancelKeyDeletion
                | Action::CreateKeyVersion
        )
    }

    /// Whether a success seals with a key version (its seal count changes).
    pub const fn seals(self) -> bool {
        matches!(
            self,
            Action::GenerateDataKey
                | Action::GenerateDataKeyWithoutPlaintext
                | Action::Encrypt
                | Action::ReEncrypt
        )
    }
}

/// An HTTP request, as the service sees it.
#[derive(Clone, Copy, Debug)]
pub struct RawRequest<'a> {
    /// The method, uppercase.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a axum::http::HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

/// What to send back.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// For throttling: the `x-acs-retry-after` header, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// The request ID (also in the body).
    pub request_id: String,
    /// Whether the keyring must be written before the reply goes out.
    pub save_keyring: bool,
}

/// The state of a running server.
pub struct Service {
    region: String,
    host_id: String,
    access_keys: HashMap<String, AccessKey>,
    provider: RwLock<InMemoryProvider>,
    limiter: Mutex<RateLimiter>,
    nonces: Mutex<NonceCache>,
    keyring: Option<Keyring>,
    save_lock: Mutex<()>,
    sealed_since_save: AtomicBool,
    started: Instant,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("region", &self.region)
            .field("access_keys", &self.access_keys.len())
            .field("keyring", &self.keyring)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a verified signature vouches for: the AccessKey, and the signed timestamp, nonce,
/// action and version.
struct Verified<'k> {
    key: &'k AccessKey,
    timestamp: String,
    nonce: String,
    action: Option<String>,
    version: Option<String>,
}

/// A body or an error, each with whether the keyring must be written before the reply.
type Outcome = Result<(Vec<u8>, bool), (ApiError, bool)>;

/// Who is calling, once authenticated, and what for.
struct Authenticated {
    account: String,
    action: Option<String>,
    version: Option<String>,
}

fn since_epoch(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// The values of a header, as UTF-8 text.
fn header_values(headers: &axum::http::HeaderMap, name: &str) -> Result<Vec<String>, ApiError> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            std::str::from_utf8(v.as_bytes())
                .map(str::to_owned)
                .map_err(|_| ApiError::malformed(format!("the header {name} is not UTF-8")))
        })
        .collect()
}

/// The single value of a header; `None` when absent.
fn header(headers: &axum::http::HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let mut values = header_values(headers, name)?;
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop()),
        _ => Err(ApiError::malformed(format!(
            "the header {name} is given more than once"
        ))),
    }
}

impl Service {
    /// A service over `provider`, persisting to `keyring` if given.
    pub fn new(config: Config, provider: InMemoryProvider, keyring: Option<Keyring>) -> Self {
        let limit = RateLimit {
            per_second: config.rate_limit,
            burst: config.rate_limit,
        };
        Self {
            host_id: format!("kms.{}.aliyuncs.com", config.region),
            region: config.region,
            access_keys: config
                .access_keys
                .into_iter()
                .map(|k| (k.id.clone(), k))
                .collect(),
            provider: RwLock::new(provider),
            limiter: Mutex::new(RateLimiter::new().with_default(limit)),
            nonces: Mutex::new(NonceCache::new(config.nonce_capacity)),
            keyring,
            save_lock: Mutex::new(()),
            sealed_since_save: AtomicBool::new(false),
            started: Instant::now(),
        }
    }

    /// The region served.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The keyring, if the service persists.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Runs `f` on the provider (for setup and inspection).
    pub fn with_provider<T>(&self, f: impl FnOnce(&mut InMemoryProvider) -> T) -> T {
        f(&mut write(&self.provider))
    }

    /// Writes the keyring (if any). Writes are serialised, and each one snapshots the state
    /// at the time it runs, so the file always ends up with the latest state.
    ///
    /// # Errors
    /// An I/O error.
    pub fn save(&self) -> std::io::Result<()> {
        let Some(keyring) = &self.keyring else {
            return Ok(());
        };
        let _guard = lock(&self.save_lock);
        self.sealed_since_save.store(false, Ordering::SeqCst);
        let bytes = keyring.export(&read(&self.provider))?;
        crate::keyring::write_atomically(keyring.path(), &bytes)
    }

    /// Housekeeping, run periodically: deletes keys whose deletion date has passed, and writes
    /// the keyring if that changed anything or if keys sealed since the last write (their
    /// seal counts, spec §10).
    ///
    /// # Errors
    /// An I/O error from the write.
    pub fn tick(&self, now: SystemTime) -> std::io::Result<bool> {
        let deleted = write(&self.provider).delete_expired(since_epoch(now));
        if deleted > 0 || self.sealed_since_save.load(Ordering::SeqCst) {
            self.save()?;
            return Ok(self.keyring.is_some());
        }
        Ok(false)
    }

    /// A reply carrying `error` in JSON, for failures found before the request could be read.
    pub fn error_reply(&self, error: &ApiError) -> Reply {
        let request_id = RequestId::random(&mut kms_core::OsRng).map_or_else(
            |_| "00000000-0000-4000-8000-000000000000".to_owned(),
            |id| id.as_str().to_owned(),
        );
        Reply {
            status: error.status,
            content_type: Format::Json.content_type(),
            body: wire::render_error(Format::Json, &request_id, &self.host_id, error),
            retry_after_ms: error.retry_after_ms,
            request_id,
            save_keyring: false,
        }
    }

    /// Handles one request at time `now`.
    pub fn handle(&self, request: &RawRequest<'_>, now: SystemTime) -> Reply {
        let request_id = RequestId::random(&mut kms_core::OsRng);
        let request_id_text = request_id
            .as_ref()
            .map_or("00000000-0000-4000-8000-000000000000", RequestId::as_str)
            .to_owned();
        let mut format = Format::Json;
        let result = match request_id {
            Ok(id) => self.handle_inner(request, now, id, &mut format),
            Err(e) => Err((ApiError::from(e), false)),
        };
        match result {
            Ok((body, save_keyring)) => Reply {
                status: 200,
                content_type: format.content_type(),
                body,
                retry_after_ms: None,
                request_id: request_id_text,
                save_keyring,
            },
            Err((error, save_keyring)) => Reply {
                status: error.status,
                content_type: format.content_type(),
                body: wire::render_error(format, &request_id_text, &self.host_id, &error),
                retry_after_ms: error.retry_after_ms,
                request_id: request_id_text,
                save_keyring,
            },
        }
    }

    fn handle_inner(
        &self,
        request: &RawRequest<'_>,
        now: SystemTime,
        request_id: RequestId,
        format: &mut Format,
    ) -> Outcome {
        let no_save = |e: ApiError| (e, false);
        if request.method != "GET" && request.method != "POST" {
            return Err(no_save(ApiError::method_not_allowed()));
        }
        if request.path != "/" {
            return Err(no_save(ApiError::path_not_found()));
        }
        if request.body.len() > MAX_BODY {
            return Err(no_save(ApiError::too_large(MAX_BODY)));
        }
        let body = if request.body.is_empty() {
            None
        } else {
            let content_type = header(request.headers, "content-type")
                .map_err(no_save)?
                .unwrap_or_default();
            let mime = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if mime != "application/x-www-form-urlencoded" {
                return Err(no_save(ApiError::unsupported_media_type()));
            }
            Some(
                std::str::from_utf8(request.body)
                    .map_err(|_| no_save(ApiError::malformed("the body is not UTF-8")))?,
            )
        };
        let params = Params::parse(request.query, body).map_err(no_save)?;
        if let Some(f) = params.get("Format") {
            *format = Format::parse(f).ok_or_else(|| no_save(ApiError::invalid("Format")))?;
        }
        let caller = self.authenticate(request, &params, now).map_err(no_save)?;
        let action = caller
            .action
            .as_deref()
            .ok_or_else(|| no_save(ApiError::missing("Action")))?;
        let version = caller
            .version
            .as_deref()
            .ok_or_else(|| no_save(ApiError::missing("Version")))?;
        if version != API_VERSION {
            return Err(no_save(ApiError::invalid_version()));
        }
        let action =
            Action::from_name(action).ok_or_else(|| no_save(ApiError::unknown_action()))?;
        lock(&self.limiter)
            .check(&caller.account, action.operation(), self.started.elapsed())
            .map_err(|e| no_save(e.into()))?;
        let core_caller = Caller::new(&caller.account, &self.region);
        self.dispatch(action, &core_caller, &params, request_id, now, *format)
    }

    /// Verifies the request's signature, timestamp and nonce; returns the caller's account
    /// and the action and version the request names.
    fn authenticate(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
        now: SystemTime,
    ) -> Result<Authenticated, ApiError> {
        let authorization = header(request.headers, "authorization")?;
        let Verified {
            key,
            timestamp,
            nonce,
            action,
            version,
        } = if let Some(authorization) = authorization {
            self.verify_v3(request, params, &authorization)?
        } else {
            self.verify_v1(request, params)?
        };
        let timestamp =
            auth::parse_timestamp(&timestamp).ok_or_else(ApiError::illegal_timestamp)?;
        if !auth::timestamp_in_window(timestamp, now) {
            return Err(ApiError::illegal_timestamp());
        }
        if nonce.is_empty() || nonce.len() > auth::MAX_NONCE_LEN {
            return Err(ApiError::incomplete_signature(
                "the signature nonce must be 1 to 256 bytes",
            ));
        }
        lock(&self.nonces)
            .check_and_insert(&key.id, &nonce, timestamp, now)
            .map_err(|refusal| match refusal {
                NonceRefusal::Used => ApiError::nonce_used(),
                NonceRefusal::Full => ApiError::nonce_cache_full(),
            })?;
        Ok(Authenticated {
            account: key.account.clone(),
            action,
            version,
        })
    }

    fn access_key(&self, id: &str) -> Result<&AccessKey, ApiError> {
        self.access_keys
            .get(id)
            .ok_or_else(ApiError::access_key_not_found)
    }

    /// Signature V1.
    fn verify_v1(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
    ) -> Result<Verified<'_>, ApiError> {
        let access_key_id = params.get("AccessKeyId");
        let signature = params.get("Signature");
        let (access_key_id, signature) = match (access_key_id, signature) {
            (None, None) => {
                return Err(ApiError::incomplete_signature(
                    "the request is not signed (no Authorization header, no Signature parameter)",
                ));
            }
            (None, Some(_)) => {
                return Err(ApiError::incomplete_signature(
                    "the AccessKeyId parameter is missing",
                ));
            }
            (Some(id), signature) => (id, signature),
        };
        let key = self.access_key(access_key_id)?;
        let signature = signature
            .ok_or_else(|| ApiError::incomplete_signature("the Signature parameter is missing"))?;
        if params.get("SignatureMethod") != Some("HMAC-SHA1") {
            return Err(ApiError::incomplete_signature(
                "SignatureMethod must be HMAC-SHA1",
            ));
        }
        if params.get("SignatureVersion") != Some("1.0") {
            return Err(ApiError::incomplete_signature(
                "SignatureVersion must be 1.0",
            ));
        }
        let string_to_sign = auth::v1_string_to_sign(request.method, params.all());
        let expected = auth::v1_signature(key.secret(), &string_to_sign);
        if !auth::signatures_match(&expected, signature) {
            return Err(ApiError::signature_does_not_match(&string_to_sign));
        }
        let timestamp = params
            .get("Timestamp")
            .ok_or_else(ApiError::illegal_timestamp)?;
        let nonce = params.get("SignatureNonce").ok_or_else(|| {
            ApiError::incomplete_signature("the SignatureNonce parameter is missing")
        })?;
        Ok(Verified {
            key,
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
            action: params.get("Action").map(str::to_owned),
            version: params.get("Version").map(str::to_owned),
        })
    }

    /// Signature V3.
    fn verify_v3(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
        authorization: &str,
    ) -> Result<Verified<'_>, ApiError> {
        let parsed = V3Authorization::parse(authorization).ok_or_else(|| {
            ApiError::incomplete_signature(
                "the Authorization header is not ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...",
            )
        })?;
        let key = self.access_key(&parsed.access_key_id)?;
        for required in [
            "x-acs-action",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ] {
            if !parsed.signed_headers.iter().any(|h| h == required) {
                return Err(ApiError::incomplete_signature(format!(
                    "the header {required} must be present and signed"
                )));
            }
        }
        // Every x-acs- header the request carries must be signed.
        for name in request.headers.keys() {
            let name = name.as_str();
            if name.starts_with("x-acs-") && !parsed.signed_headers.iter().any(|h| h == name) {
                return Err(ApiError::incomplete_signature(format!(
                    "the header {name} must be signed"
                )));
            }
        }
        let mut signed = Vec::with_capacity(parsed.signed_headers.len());
        for name in &parsed.signed_headers {
            let values = header_values(request.headers, name)?;
            if values.is_empty() {
                return Err(ApiError::incomplete_signature(format!(
                    "the signed header {name} is absent"
                )));
            }
            signed.extend(values.into_iter().map(|v| (name.clone(), v)));
        }
        let value_of = |name: &str| -> Option<String> {
            signed
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim().to_owned())
        };
        let content_sha256 = value_of("x-acs-content-sha256").unwrap_or_default();
        if !content_sha256.eq_ignore_ascii_case(&auth::sha256_hex(request.body)) {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                "The x-acs-content-sha256 header does not match the request body.",
            ));
        }
        let canonical =
            auth::v3_canonical_request(request.method, params.query(), &signed, &content_sha256);
        let string_to_sign = auth::v3_string_to_sign(&canonical);
        let expected = auth::v3_signature(key.secret(), &string_to_sign);
        if !auth::signatures_match(&expected, &parsed.signature) {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server canonical request is:{canonical}"
                ),
            ));
        }
        let timestamp = value_of("x-acs-date").unwrap_or_default();
        let nonce = value_of("x-acs-signature-nonce").unwrap_or_default();
        let version = match header(request.headers, "x-acs-version")? {
            Some(v) => Some(v),
            None => params.get("Version").map(str::to_owned),
        };
        Ok(Verified {
            key,
            timestamp,
            nonce,
            action: value_of("x-acs-action"),
            version,
        })
    }

    /// Runs an authenticated, admitted operation.
    fn dispatch(
        &self,
        action: Action,
        caller: &Caller<'_>,
        params: &Params,
        request_id: RequestId,
        now: SystemTime,
        format: Format,
    ) -> Outcome {
        let p = |name: &str| params.get(name);
        let root = format!("{}Response", action.name());
        let rid = Some(request_id);
        let rng = &mut kms_core::OsRng;
        let epoch = since_epoch(now);

        fn out<T: Serialize>(
            format: Format,
            root: &str,
            result: Result<T, kms_core::Error>,
        ) -> Result<Vec<u8>, ApiError> {
            let value = result?;
            wire::render(format, root, &value)
        }

        if action.seals() || action == Action::Decrypt {
            let body = match action {
                Action::GenerateDataKey => {
                    let request = GenerateDataKeyRequest {
                        key_id: p("KeyId"),
                        key_spec: p("KeySpec"),
                        number_of_bytes: p("NumberOfBytes"),
                        encryption_context: p("EncryptionContext"),
                        dry_run: p("DryRun"),
                        request_id: rid,
                    };
                    let mut provider = write(&self.provider);
                    out(
                        format,
                        &root,
                        kms_core::generate_data_key(&mut *provider, caller, &request, rng),
                    )
                }
                Action::GenerateDataKeyWithoutPlaintext => {
                    let request = GenerateDataKeyRequest {
                        key_id: p("KeyId"),
                        key_spec: p("KeySpec"),
                        number_of_bytes: p("NumberOfBytes"),
                        encryption_context: p("EncryptionContext"),
                        dry_run: p("DryRun"),
                        request_id: rid,
                    };
                    let mut provider = write(&self.provider);
                    out(
                        format,
                        &root,
                        kms_core::generate_data_key_without_plaintext(
                            &mut *provider,
                            caller,
                            &request,
                            rng,
                        ),
                    )
                }
                Action::Encrypt => {
                    let request = EncryptRequest {
                        key_id: p("KeyId"),
                        plaintext: p("Plaintext"),
                        encryption_context: p("EncryptionContext"),
                        dry_run: p("DryRun"),
                        request_id: rid,
                    };
                    let mut provider = write(&self.provider);
                    out(
                        format,
                        &root,
                        kms_core::encrypt(&mut *provider, caller, &request, rng),
                    )
                }
                Action::ReEncrypt => {
                    let request = ReEncryptRequest {
                        ciphertext_blob: p("CiphertextBlob"),
                        destination_key_id: p("DestinationKeyId"),
                        source_encryption_context: p("SourceEncryptionContext"),
                        destination_encryption_context: p("DestinationEncryptionContext"),
                        dry_run: p("DryRun"),
                        request_id: rid,
                    };
                    let mut provider = write(&self.provider);
                    out(
                        format,
                        &root,
                        kms_core::re_encrypt(&mut *provider, caller, &request, rng),
                    )
                }
                _ => {
                    let request = DecryptRequest {
                        ciphertext_blob: p("CiphertextBlob"),
                        encryption_context: p("EncryptionContext"),
                        dry_run: p("DryRun"),
                        request_id: rid,
                    };
                    let provider = read(&self.provider);
                    out(
                        format,
                        &root,
                        kms_core::decrypt(&*provider, caller, &request, rng),
                    )
                }
            };
            if body.is_ok() && action.seals() {
                self.sealed_since_save.store(true, Ordering::SeqCst);
            }
            return body.map(|b| (b, false)).map_err(|e| (e, false));
        }

        // Key management: first the deletions that are due, which alter the keyring too.
        let mut provider = write(&self.provider);
        let expired = provider.delete_expired(epoch) > 0;
        let key_request = KeyRequest {
            key_id: p("KeyId"),
            request_id: rid,
        };
        let page_request = PageRequest {
            page_number: p("PageNumber"),
            page_size: p("PageSize"),
            request_id: rid,
        };
        let alias_request = AliasRequest {
            alias_name: p("AliasName"),
            key_id: p("KeyId"),
            request_id: rid,
        };
        let pv = &mut *provider;
        let body = match action {
            Action::CreateKey => {
                let request = CreateKeyRequest {
                    key_spec: p("KeySpec"),
                    key_usage: p("KeyUsage"),
                    origin: p("Origin"),
                    description: p("Description"),
                    request_id: rid,
                };
                out(
                    format,
                    &root,
                    management::create_key(pv, caller, &request, rng, epoch),
                )
            }
            Action::DescribeKey => out(
                format,
                &root,
                management::describe_key(pv, caller, &key_request, rng, epoch),
            ),
            Action::ListKeys => out(
                format,
                &root,
                management::list_keys(pv, caller, &page_request, rng, epoch),
            ),
            Action::ListAliases => out(
                format,
                &root,
                management::list_aliases(pv, caller, &page_request, rng, epoch),
            ),
            Action::CreateAlias => out(
                format,
                &root,
                management::create_alias(pv, caller, &alias_request, rng, epoch),
            ),
            Action::UpdateAlias => out(
                format,
                &root,
                management::update_alias(pv, caller, &alias_request, rng, epoch),
            ),
            Action::DeleteAlias => out(
                format,
                &root,
                management::delete_alias(pv, caller, &alias_request, rng, epoch),
            ),
            Action::EnableKey => out(
                format,
                &root,
                management::enable_key(pv, caller, &key_request, rng, epoch),
            ),
            Action::DisableKey => out(
                format,
                &root,
                management::disable_key(pv, caller, &key_request, rng, epoch),
            ),
            Action::ScheduleKeyDeletion => {
                let request = ScheduleKeyDeletionRequest {
                    key_id: p("KeyId"),
                    pending_window_in_days: p("PendingWindowInDays"),
                    request_id: rid,
                };
                out(
                    format,
                    &root,
                    management::schedule_key_deletion(pv, caller, &request, rng, epoch),
                )
            }
            Action::CancelKeyDeletion => out(
                format,
                &root,
                management::cancel_key_deletion(pv, caller, &key_request, rng, epoch),
            ),
            Action::CreateKeyVersion => out(
                format,
                &root,
                management::create_key_version(pv, caller, &key_request, rng, epoch),
            ),
            // The data-key operations returned above.
            _ => Err(ApiError::internal()),
        };
        drop(provider);
        let save = self.keyring.is_some() && (expired || (body.is_ok() && action.alters_keys()));
        body.map(|b| (b, save)).map_err(|e| (e, save))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::from_name(a.name()), Some(a));
        }
        assert_eq!(Action::from_name("generatedatakey"), None);
        assert_eq!(Action::from_name("ImportKeyMaterial"), None);
    }
}
