//! The one testkit of the integration tests: who calls, RNGs that fail or count, the spec's
//! error rows written out by hand, a test world over the in-memory provider, the five
//! data-key operations as data ([`Op`]) for the tables every operation runs, and an AES-GCM
//! and context encoding written here independently of the crate.
//!
//! Each test binary includes it (`#[path = "../testkit/mod.rs"] mod testkit;`) and uses part
//! of it.
#![allow(dead_code)]

use core::fmt;
use std::time::Duration;

use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use base64ct::{Base64, Encoding};
use kms_core::management::{self, KeyStore, Staged};
use kms_core::rand_core::{SeedableRng, TryCryptoRng, TryRng};
use kms_core::wire::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{
    Caller, Error, InMemoryProvider, KeyId, KeyOptions, KeyReference, KeyState, KeyVersionId,
    Parameter, Permission,
};
use rand_chacha::ChaCha20Rng;

// ---------------------------------------------------------------------------------------------
// Who calls, and where

/// The account that owns the keys of most tests.
pub const ACCOUNT: &str = "1234567890123456";
/// Another account, with keys of its own.
pub const OTHER_ACCOUNT: &str = "6543210987654321";
/// The region of most tests.
pub const REGION: &str = "cn-hangzhou";
/// Another region.
pub const OTHER_REGION: &str = "cn-shanghai";
/// A well-formed key ID (UUID form) that names no key.
pub const UNKNOWN_KEY_ID: &str = "1234abcd-12ab-34cd-56ef-123456789012";
/// The alias a [`World`]'s key has.
pub const ALIAS: &str = "alias/test-key";
/// A time, since the Unix epoch: 2024-05-14T08:24:13Z.
pub const T0: Duration = Duration::from_secs(1_715_675_053);
/// One day.
pub const DAY: Duration = Duration::from_secs(86_400);

/// The owner of the keys: [`ACCOUNT`] in [`REGION`].
pub fn owner() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

/// Another account in the same region.
pub fn other() -> Caller<'static> {
    Caller::new(OTHER_ACCOUNT, REGION)
}

/// The owner, in another region.
pub fn elsewhere() -> Caller<'static> {
    Caller::new(ACCOUNT, OTHER_REGION)
}

/// `acs:kms:{region}:{account}:key/{key}`, written out here rather than taken from the crate.
pub fn key_arn(region: &str, account: &str, key: &KeyId) -> String {
    format!("acs:kms:{region}:{account}:key/{key}")
}

/// `acs:kms:{region}:{account}:{alias}`, written out here rather than taken from the crate.
pub fn alias_arn(region: &str, account: &str, alias: &str) -> String {
    format!("acs:kms:{region}:{account}:{alias}")
}

// ---------------------------------------------------------------------------------------------
// RNGs

/// A deterministic RNG.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// The error of [`FailingRng`] and [`LimitedRng`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngFailure;

impl fmt::Display for RngFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rng failure")
    }
}

impl core::error::Error for RngFailure {}

/// An RNG whose every draw fails.
#[derive(Debug, Default)]
pub struct FailingRng {
    pub attempts: usize,
}

impl TryRng for FailingRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }

    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }
}

impl TryCryptoRng for FailingRng {}

/// Wraps an RNG and counts the draws and bytes it hands out.
#[derive(Debug)]
pub struct CountingRng<R> {
    pub inner: R,
    pub calls: usize,
    pub bytes: usize,
}

impl<R> CountingRng<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            calls: 0,
            bytes: 0,
        }
    }
}

impl<R: TryRng> TryRng for CountingRng<R> {
    type Error = R::Error;

    fn try_next_u32(&mut self) -> Result<u32, R::Error> {
        self.calls += 1;
        self.bytes += 4;
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, R::Error> {
        self.calls += 1;
        self.bytes += 8;
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), R::Error> {
        self.calls += 1;
        self.bytes += dst.len();
        self.inner.try_fill_bytes(dst)
    }
}

impl<R: TryCryptoRng> TryCryptoRng for CountingRng<R> {}

/// An RNG that hands out `budget` bytes (from a seeded ChaCha20) and then fails every draw
/// that would go past it.
#[derive(Debug)]
pub struct LimitedRng {
    inner: ChaCha20Rng,
    pub budget: usize,
}

impl LimitedRng {
    pub fn new(seed: u64, budget: usize) -> Self {
        Self {
            inner: rng(seed),
            budget,
        }
    }

    fn spend(&mut self, n: usize) -> Result<(), RngFailure> {
        if n > self.budget {
            self.budget = 0;
            return Err(RngFailure);
        }
        self.budget -= n;
        Ok(())
    }
}

impl TryRng for LimitedRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        self.spend(4)?;
        Ok(self.inner.try_next_u32().unwrap_or_else(|e| match e {}))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        self.spend(8)?;
        Ok(self.inner.try_next_u64().unwrap_or_else(|e| match e {}))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailure> {
        self.spend(dst.len())?;
        self.inner
            .try_fill_bytes(dst)
            .unwrap_or_else(|e| match e {});
        Ok(())
    }
}

impl TryCryptoRng for LimitedRng {}

// ---------------------------------------------------------------------------------------------
// The rows of the spec's error table (§8), written out here rather than taken from the crate

pub const MSG_UNSUPPORTED: &str = "This action is not supported.";
pub const MSG_FORBIDDEN: &str = "This operation is forbidden by permission system.";
pub const MSG_ALIAS_NOT_FOUND: &str = "The specified Alias is not found.";
pub const MSG_KEY_NOT_FOUND: &str = "The specified Key is not found.";
pub const MSG_DRY_RUN: &str = "The request would have succeeded, but the DryRun flag is set.";
pub const MSG_THROTTLING: &str = "QPS Limit Exceeded";
pub const MSG_INTERNAL: &str = "Internal Failure.";
pub const MSG_STATE_MODIFIED: &str = "Keystate modified failed.";
pub const MSG_ALIAS_EXISTS: &str = "The specified Alias already exists.";

/// The error of a result that must have failed.
#[track_caller]
pub fn expect_err<T: fmt::Debug>(result: Result<T, Error>) -> Error {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

/// Asserts what goes on the wire: the HTTP status, the code and the exact message.
#[track_caller]
pub fn assert_wire(err: &Error, status: u16, code: &str, message: &str) {
    assert_eq!(
        (err.status(), err.code(), err.message().to_string()),
        (status, code, message.to_string()),
        "unexpected error {err:?}"
    );
}

/// One row of §8 as a value, for tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl Row {
    pub fn of(err: &Error) -> Self {
        Self {
            status: err.status(),
            code: err.code().into(),
            message: err.message().to_string(),
        }
    }

    fn new(status: u16, code: &str, message: &str) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn missing(name: &str) -> Self {
        let message = format!("The parameter {name} is needed but not provided.");
        Self::new(400, "MissingParameter", &message)
    }

    pub fn invalid(name: &str) -> Self {
        let message = format!("The specified parameter {name} is not valid.");
        Self::new(400, "InvalidParameter", &message)
    }

    pub fn validation_missing(name: &str) -> Self {
        let message = format!("The parameter {name} is needed but not provided.");
        Self::new(400, "ValidationError", &message)
    }

    pub fn validation_invalid(name: &str) -> Self {
        let message = format!("The specified parameter {name} is not valid.");
        Self::new(400, "ValidationError", &message)
    }

    pub fn unsupported() -> Self {
        Self::new(400, "UnsupportedOperation", MSG_UNSUPPORTED)
    }

    pub fn no_permission() -> Self {
        Self::new(403, "Forbidden.NoPermission", MSG_FORBIDDEN)
    }

    pub fn access_denied() -> Self {
        Self::new(403, "AccessDeniedError", MSG_FORBIDDEN)
    }

    pub fn alias_not_found() -> Self {
        Self::new(404, "Forbidden.AliasNotFound", MSG_ALIAS_NOT_FOUND)
    }

    pub fn key_not_found() -> Self {
        Self::new(404, "Forbidden.KeyNotFound", MSG_KEY_NOT_FOUND)
    }

    /// `Rejected.{state}`: `Disabled`, `PendingDeletion`, `PendingImport` or `Unavailable`.
    pub fn rejected(state: &str) -> Self {
        let message = format!("The request was rejected because the key state is {state}.");
        Self::new(409, &format!("Rejected.{state}"), &message)
    }

    pub fn state_modified_failed() -> Self {
        Self::new(409, "Rejected.StateModifiedFailed", MSG_STATE_MODIFIED)
    }

    pub fn alias_exists() -> Self {
        Self::new(409, "AliasAlreadyExists", MSG_ALIAS_EXISTS)
    }

    pub fn dry_run_passed() -> Self {
        Self::new(412, "DryRunOperationError", MSG_DRY_RUN)
    }

    pub fn throttling() -> Self {
        Self::new(429, "Rejected.Throttling", MSG_THROTTLING)
    }

    pub fn internal() -> Self {
        Self::new(500, "InternalFailure", MSG_INTERNAL)
    }
}

/// Asserts that `result` failed with `row`.
#[track_caller]
pub fn assert_row<T: fmt::Debug>(result: Result<T, Error>, row: Row) {
    let err = expect_err(result);
    assert_eq!(Row::of(&err), row, "unexpected error {err:?}");
}

/// The wire name of a key state's rejection.
pub fn state_name(state: KeyState) -> &'static str {
    match state {
        KeyState::Enabled => "Enabled",
        KeyState::Disabled => "Disabled",
        KeyState::PendingDeletion => "PendingDeletion",
        KeyState::PendingImport => "PendingImport",
        KeyState::Unavailable => "Unavailable",
    }
}

/// The four states in which data-key operations are rejected.
pub const REJECTED_STATES: [KeyState; 4] = [
    KeyState::Disabled,
    KeyState::PendingDeletion,
    KeyState::PendingImport,
    KeyState::Unavailable,
];

// ---------------------------------------------------------------------------------------------
// A test world: an in-memory provider with one key of `ACCOUNT` in `REGION`

/// A provider, an RNG, and one default key of [`ACCOUNT`] in [`REGION`] with alias [`ALIAS`].
/// Two worlds made from the same seed are identical, key material and RNG state included.
pub struct World {
    pub provider: InMemoryProvider,
    pub rng: ChaCha20Rng,
    pub key: KeyId,
}

impl World {
    pub fn new(seed: u64) -> Self {
        Self::with_provider(InMemoryProvider::new(), seed)
    }

    pub fn with_provider(mut provider: InMemoryProvider, seed: u64) -> Self {
        let mut rng = rng(seed);
        let key = provider
            .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION).created(T0))
            .expect("create key");
        let staged = management::create_alias(&provider, &owner(), ALIAS, &key.into(), T0);
        provider.apply(staged.expect("alias")).expect("commit");
        Self { provider, rng, key }
    }

    /// The default key's ID as request text.
    pub fn key_text(&self) -> String {
        self.key.to_string()
    }

    /// Creates another key.
    pub fn create(&mut self, options: KeyOptions<'_>) -> KeyId {
        self.provider
            .create_key(&mut self.rng, &options)
            .expect("create key")
    }

    /// Creates a default key of `account` in `region`.
    pub fn create_in(&mut self, account: &str, region: &str) -> KeyId {
        self.create(KeyOptions::new(account, region).created(T0))
    }

    /// Commits a staged management change and returns its answer.
    pub fn commit<T>(&mut self, staged: Result<Staged<T>, Error>) -> T {
        self.provider
            .apply(staged.expect("management operation"))
            .expect("commit")
    }

    /// A key's current primary version.
    pub fn primary(&self, key: &KeyId) -> KeyVersionId {
        self.provider
            .describe(key)
            .expect("describe")
            .primary_version
    }

    /// A key's versions, oldest first.
    pub fn versions(&self, key: &KeyId) -> Vec<KeyVersionId> {
        let meta = self.provider.key(key).expect("store").expect("key");
        meta.versions.iter().map(|v| v.key_version_id).collect()
    }

    /// How many times a version has sealed.
    pub fn seals(&self, version: &KeyVersionId) -> u64 {
        self.provider.seal_count(version).expect("seal count")
    }

    /// Rotates a key of [`ACCOUNT`] (CreateKeyVersion) and returns the new version.
    pub fn rotate(&mut self, key: &KeyId) -> KeyVersionId {
        let staged = management::create_key_version(
            &self.provider,
            &owner(),
            &key.into(),
            &mut self.rng,
            T0,
        );
        self.commit(staged).key_version_id
    }

    /// Puts a key of [`ACCOUNT`] in `state` through the management operations (Unavailable:
    /// through the provider, as an outage would). A key made Enabled and put in PendingImport
    /// cannot be: use [`World::pending_import_key`].
    pub fn put_in_state(&mut self, key: &KeyId, state: KeyState) {
        let reference = KeyReference::Id(*key);
        match state {
            KeyState::Enabled => {}
            KeyState::Disabled => {
                let staged = management::disable_key(&self.provider, &owner(), &reference, T0);
                self.commit(staged);
            }
            KeyState::PendingDeletion => {
                let staged =
                    management::schedule_key_deletion(&self.provider, &owner(), &reference, 7, T0);
                self.commit(staged);
            }
            KeyState::PendingImport => panic!("use pending_import_key"),
            KeyState::Unavailable => self.provider.set_unavailable(key, true).expect("key"),
        }
    }

    /// An `EXTERNAL` key of [`ACCOUNT`], still waiting for its material.
    pub fn pending_import_key(&mut self) -> KeyId {
        self.create(KeyOptions::new(ACCOUNT, REGION).origin(kms_core::KeyOrigin::External))
    }

    /// A key of [`ACCOUNT`] in `state`; for PendingImport an `EXTERNAL` key.
    pub fn key_in_state(&mut self, state: KeyState) -> KeyId {
        if state == KeyState::PendingImport {
            return self.pending_import_key();
        }
        let key = self.create_in(ACCOUNT, REGION);
        self.put_in_state(&key, state);
        key
    }

    /// Imports `material` into an `EXTERNAL` key of [`ACCOUNT`].
    pub fn import(&mut self, key: &KeyId, material: &[u8]) {
        let material = kms_core::MasterKeyMaterial::from_slice(material).expect("material");
        let staged =
            management::import_key_material(&self.provider, &owner(), &key.into(), material, T0);
        self.commit(staged);
    }

    /// Lets another account use `key` for `permissions`.
    pub fn grant(&mut self, key: &KeyId, account: &str, permissions: &[Permission]) {
        self.provider
            .set_policy(key, account, permissions)
            .expect("policy");
    }

    // --- the wire operations, as `caller`

    pub fn gdk_as(
        &mut self,
        caller: &Caller<'_>,
        params: &GenerateDataKeyParams<'_>,
    ) -> Result<wire::GenerateDataKeyResponseBuf, Error> {
        wire::generate_data_key(&self.provider, caller, params, &mut self.rng)
    }

    pub fn gdk(
        &mut self,
        params: &GenerateDataKeyParams<'_>,
    ) -> Result<wire::GenerateDataKeyResponseBuf, Error> {
        self.gdk_as(&owner(), params)
    }

    pub fn gdkwp_as(
        &mut self,
        caller: &Caller<'_>,
        params: &GenerateDataKeyParams<'_>,
    ) -> Result<wire::CiphertextResponseBuf, Error> {
        wire::generate_data_key_without_plaintext(&self.provider, caller, params, &mut self.rng)
    }

    pub fn encrypt_as(
        &mut self,
        caller: &Caller<'_>,
        params: &EncryptParams<'_>,
    ) -> Result<wire::CiphertextResponseBuf, Error> {
        wire::encrypt(&self.provider, caller, params, &mut self.rng)
    }

    pub fn decrypt_as(
        &mut self,
        caller: &Caller<'_>,
        params: &DecryptParams<'_>,
    ) -> Result<wire::DecryptResponseBuf, Error> {
        wire::decrypt(&self.provider, caller, params, &mut self.rng)
    }

    pub fn re_encrypt_as(
        &mut self,
        caller: &Caller<'_>,
        params: &ReEncryptParams<'_>,
    ) -> Result<wire::CiphertextResponseBuf, Error> {
        wire::re_encrypt(&self.provider, caller, params, &mut self.rng)
    }

    /// A fresh data-key blob under `key` (as the owner), with `context`.
    pub fn blob_under(&mut self, key: &KeyId, context: Option<&str>) -> String {
        let id = key.to_string();
        let mut params = GenerateDataKeyParams::new().key_id(&id);
        if let Some(context) = context {
            params = params.encryption_context(context);
        }
        self.gdk(&params).expect("GenerateDataKey").ciphertext_blob
    }

    /// A fresh data-key blob under the world's key, with `context`.
    pub fn blob(&mut self, context: Option<&str>) -> String {
        let key = self.key;
        self.blob_under(&key, context)
    }

    /// Encrypt of `text` under `key_id` as the owner, expecting success.
    pub fn seal_text(&mut self, key_id: &str, text: &str, context: Option<&str>) -> String {
        let mut params = EncryptParams::new().key_id(key_id).plaintext(text);
        if let Some(context) = context {
            params = params.encryption_context(context);
        }
        self.encrypt_as(&owner(), &params)
            .expect("Encrypt")
            .ciphertext_blob
    }

    /// Decrypt as the owner.
    pub fn open(
        &mut self,
        blob: &str,
        context: Option<&str>,
    ) -> Result<wire::DecryptResponseBuf, Error> {
        let mut params = DecryptParams::new().ciphertext_blob(blob);
        if let Some(context) = context {
            params = params.encryption_context(context);
        }
        self.decrypt_as(&owner(), &params)
    }
}

// ---------------------------------------------------------------------------------------------
// The five data-key operations as data, for the tables every operation runs

/// A data-key operation, run over the wire layer against a [`World`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    GenerateDataKey,
    GenerateDataKeyWithoutPlaintext,
    Encrypt,
    Decrypt,
    ReEncrypt,
}

impl Op {
    pub const ALL: [Op; 5] = [
        Op::GenerateDataKey,
        Op::GenerateDataKeyWithoutPlaintext,
        Op::Encrypt,
        Op::Decrypt,
        Op::ReEncrypt,
    ];

    /// The operations that name their key with a `KeyId`-like parameter (ReEncrypt: the
    /// destination).
    pub const NAMING_A_KEY: [Op; 4] = [
        Op::GenerateDataKey,
        Op::GenerateDataKeyWithoutPlaintext,
        Op::Encrypt,
        Op::ReEncrypt,
    ];

    /// The operations that open a blob (ReEncrypt: the source).
    pub const OPENING_A_BLOB: [Op; 2] = [Op::Decrypt, Op::ReEncrypt];

    /// The name of the parameter that names the key.
    pub fn key_parameter(self) -> &'static str {
        match self {
            Op::ReEncrypt => "DestinationKeyId",
            _ => "KeyId",
        }
    }

    /// The permission the operation needs on the key it names or the blob's key.
    pub fn permission(self, side: Side) -> Permission {
        match (self, side) {
            (Op::GenerateDataKey, _) => Permission::GenerateDataKey,
            (Op::GenerateDataKeyWithoutPlaintext, _) => Permission::GenerateDataKeyWithoutPlaintext,
            (Op::Encrypt, _) => Permission::Encrypt,
            (Op::Decrypt, _) => Permission::Decrypt,
            (Op::ReEncrypt, Side::Named) => Permission::ReEncryptTo,
            (Op::ReEncrypt, Side::Blob) => Permission::ReEncryptFrom,
        }
    }

    /// Runs the operation as `caller`: the named key is `key` (text as given) and the blob to
    /// open is `blob`, with the other parameters well-formed (an empty context, `extra` added).
    /// Returns the `KeyId` and `KeyVersionId` of the response.
    pub fn run(
        self,
        world: &mut World,
        caller: &Caller<'_>,
        call: &Call<'_>,
    ) -> Result<(KeyId, KeyVersionId), Error> {
        let lookup = |name: &str, own: Option<&str>| -> Option<String> {
            call.extra
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.map(str::to_owned))
                .unwrap_or(own.map(str::to_owned))
        };
        let dry = lookup("DryRun", call.dry_run.then_some("true"));
        let values: Vec<(String, Option<String>)> = match self {
            Op::GenerateDataKey | Op::GenerateDataKeyWithoutPlaintext => vec![
                ("KeyId".into(), lookup("KeyId", call.key)),
                ("KeySpec".into(), lookup("KeySpec", None)),
                ("NumberOfBytes".into(), lookup("NumberOfBytes", None)),
                (
                    "EncryptionContext".into(),
                    lookup("EncryptionContext", None),
                ),
                ("DryRun".into(), dry),
            ],
            Op::Encrypt => vec![
                ("KeyId".into(), lookup("KeyId", call.key)),
                (
                    "Plaintext".into(),
                    lookup("Plaintext", Some("hello, world")),
                ),
                (
                    "EncryptionContext".into(),
                    lookup("EncryptionContext", None),
                ),
                ("DryRun".into(), dry),
            ],
            Op::Decrypt => vec![
                ("CiphertextBlob".into(), lookup("CiphertextBlob", call.blob)),
                (
                    "EncryptionContext".into(),
                    lookup("EncryptionContext", None),
                ),
                ("DryRun".into(), dry),
            ],
            Op::ReEncrypt => vec![
                ("CiphertextBlob".into(), lookup("CiphertextBlob", call.blob)),
                (
                    "DestinationKeyId".into(),
                    lookup("DestinationKeyId", call.key),
                ),
                (
                    "SourceEncryptionContext".into(),
                    lookup("SourceEncryptionContext", None),
                ),
                (
                    "DestinationEncryptionContext".into(),
                    lookup("DestinationEncryptionContext", None),
                ),
                ("DryRun".into(), dry),
            ],
        };
        let get = |p: Parameter| {
            values
                .iter()
                .find(|(n, _)| n == p.name())
                .and_then(|(_, v)| v.as_deref())
        };
        match self {
            Op::GenerateDataKey => world
                .gdk_as(caller, &GenerateDataKeyParams::from_fn(get))
                .map(|r| (r.key_id, r.key_version_id)),
            Op::GenerateDataKeyWithoutPlaintext => world
                .gdkwp_as(caller, &GenerateDataKeyParams::from_fn(get))
                .map(|r| (r.key_id, r.key_version_id)),
            Op::Encrypt => world
                .encrypt_as(caller, &EncryptParams::from_fn(get))
                .map(|r| (r.key_id, r.key_version_id)),
            Op::Decrypt => world
                .decrypt_as(caller, &DecryptParams::from_fn(get))
                .map(|r| (r.key_id, r.key_version_id)),
            Op::ReEncrypt => world
                .re_encrypt_as(caller, &ReEncryptParams::from_fn(get))
                .map(|r| (r.key_id, r.key_version_id)),
        }
    }
}

/// Which key of an operation: the one it names, or the one its blob names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Named,
    Blob,
}

/// The parameters of one run of an [`Op`].
#[derive(Clone, Debug, Default)]
pub struct Call<'a> {
    /// The text of the key parameter (`KeyId` or `DestinationKeyId`).
    pub key: Option<&'a str>,
    /// The `CiphertextBlob`.
    pub blob: Option<&'a str>,
    /// Whether `DryRun=true`.
    pub dry_run: bool,
    /// Parameters set (`Some`) or removed (`None`) over the defaults.
    pub extra: Vec<(&'a str, Option<&'a str>)>,
}

impl<'a> Call<'a> {
    /// A run naming `key` and opening `blob`.
    pub fn new(key: &'a str, blob: &'a str) -> Self {
        Self {
            key: Some(key),
            blob: Some(blob),
            ..Self::default()
        }
    }

    #[must_use]
    pub fn dry(self) -> Self {
        Self {
            dry_run: true,
            ..self
        }
    }

    #[must_use]
    pub fn with(mut self, name: &'a str, value: Option<&'a str>) -> Self {
        self.extra.push((name, value));
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Base64, UUIDs, the context encoding and an AES-GCM written here, independent of the crate

pub fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    Base64::decode_vec(text).expect("valid Base64")
}

/// The key version a blob names (its first 36 bytes).
pub fn blob_version(blob: &str) -> String {
    String::from_utf8(unb64(blob)[..36].to_vec()).expect("ASCII prefix")
}

/// The blob with one bit of byte `index` flipped.
pub fn flip(blob: &str, index: usize) -> String {
    let mut bytes = unb64(blob);
    bytes[index] ^= 1;
    b64(&bytes)
}

/// The blob with its version prefix replaced by `version`.
pub fn with_prefix(blob: &str, version: &str) -> String {
    let mut bytes = unb64(blob);
    bytes[..36].copy_from_slice(version.as_bytes());
    b64(&bytes)
}

/// Whether `text` is a lowercase UUID v4 (RFC 9562 variant).
pub fn is_uuid_v4(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// The associated data of spec §4 for `version` and `pairs`, built here: pairs sorted by the
/// UTF-8 bytes of the key, each key and value with a big-endian u16 length.
pub fn spec_aad(version: &str, pairs: &[(&str, &str)]) -> Vec<u8> {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut aad = version.as_bytes().to_vec();
    aad.extend_from_slice(&(sorted.len() as u16).to_be_bytes());
    for (k, v) in sorted {
        aad.extend_from_slice(&(k.len() as u16).to_be_bytes());
        aad.extend_from_slice(k.as_bytes());
        aad.extend_from_slice(&(v.len() as u16).to_be_bytes());
        aad.extend_from_slice(v.as_bytes());
    }
    aad
}

/// Opens a raw blob (`version || iv || ciphertext || tag`) with AES-GCM under `material`
/// (16 or 32 bytes) and `aad`, without the crate. `None` when the tag fails.
pub fn open_blob(material: &[u8], blob: &[u8], aad: &[u8]) -> Option<Vec<u8>> {
    assert!(blob.len() >= 36 + 12 + 16);
    let iv: [u8; 12] = blob[36..48].try_into().unwrap();
    let tag: [u8; 16] = blob[blob.len() - 16..].try_into().unwrap();
    let mut body = blob[48..blob.len() - 16].to_vec();
    let result = match material.len() {
        32 => Aes256Gcm::new_from_slice(material)
            .unwrap()
            .decrypt_inout_detached((&iv).into(), aad, body.as_mut_slice().into(), (&tag).into()),
        16 => Aes128Gcm::new_from_slice(material)
            .unwrap()
            .decrypt_inout_detached((&iv).into(), aad, body.as_mut_slice().into(), (&tag).into()),
        n => panic!("no AES key of {n} bytes"),
    };
    result.ok().map(|()| body)
}

/// Seals `plaintext` into a raw blob under `version` and `material` with `aad`, without the
/// crate.
pub fn seal_blob(
    material: &[u8],
    version: &str,
    iv: [u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let mut body = plaintext.to_vec();
    let tag = match material.len() {
        32 => Aes256Gcm::new_from_slice(material)
            .unwrap()
            .encrypt_inout_detached((&iv).into(), aad, body.as_mut_slice().into())
            .unwrap(),
        16 => Aes128Gcm::new_from_slice(material)
            .unwrap()
            .encrypt_inout_detached((&iv).into(), aad, body.as_mut_slice().into())
            .unwrap(),
        n => panic!("no AES key of {n} bytes"),
    };
    let mut blob = version.as_bytes().to_vec();
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&body);
    blob.extend_from_slice(&tag);
    blob
}

/// 32 bytes of known master material.
pub fn known_material_256() -> [u8; 32] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(3))
}

/// 16 bytes of known master material.
pub fn known_material_128() -> [u8; 16] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(13).wrapping_add(1))
}

pub fn version(text: &str) -> KeyVersionId {
    KeyVersionId::parse(text.as_bytes()).expect("version id")
}
