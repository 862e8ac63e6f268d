//! Shared helpers for the integration tests of GenerateDataKeyWithoutPlaintext, Encrypt,
//! ReEncrypt, the seal limit and the rate limiter. Not every test file uses every helper.
#![allow(dead_code)]

use core::fmt;

use base64ct::{Base64, Encoding};
use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::{
    Caller, DecryptRequest, DecryptResponse, EncryptRequest, EncryptResponse, Error,
    InMemoryProvider, KeyId, KeyOptions, KeyState, KeyVersionId, Parameter, ParameterProblem,
    decrypt, encrypt,
};
use rand_chacha::ChaCha20Rng;

#[path = "../common/base.rs"]
mod base;
pub use base::*;

/// The spec's messages (§8), written out here rather than taken from the crate.
pub const MSG_UNSUPPORTED: &str = "This action is not supported.";
pub const MSG_FORBIDDEN: &str = "This operation is forbidden by permission system.";
pub const MSG_ALIAS_NOT_FOUND: &str = "The specified Alias is not found.";
pub const MSG_KEY_NOT_FOUND: &str = "The specified Key is not found.";
pub const MSG_DRY_RUN: &str = "The request would have succeeded, but the DryRun flag is set.";
pub const MSG_THROTTLING: &str = "QPS Limit Exceeded";
pub const MSG_INTERNAL: &str = "Internal Failure.";

pub fn owner() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

pub fn other() -> Caller<'static> {
    Caller::new(OTHER_ACCOUNT, REGION)
}

/// A provider, an RNG, and one default key of [`ACCOUNT`] in [`REGION`]. Two worlds made from
/// the same seed are identical, key material and RNG state included.
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
            .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
            .expect("create key");
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
        self.create(KeyOptions::new(account, region))
    }

    /// A key's current primary version.
    pub fn primary(&self, key: &KeyId) -> KeyVersionId {
        self.provider
            .describe(key)
            .expect("describe")
            .primary_version
    }

    pub fn seals(&self, version: &KeyVersionId) -> u64 {
        self.provider.seal_count(version).expect("seal count")
    }

    pub fn versions(&self, key: &KeyId) -> Vec<KeyVersionId> {
        self.provider.versions(key).expect("versions").collect()
    }

    /// Encrypt as `caller`.
    pub fn encrypt_as(
        &mut self,
        caller: &Caller<'_>,
        key_id: &str,
        plaintext: &str,
        context: Option<&str>,
    ) -> Result<EncryptResponse, Error> {
        let request = EncryptRequest {
            encryption_context: context,
            ..EncryptRequest::new(key_id, plaintext)
        };
        encrypt(&mut self.provider, caller, &request, &mut self.rng)
    }

    /// Encrypt as the owner, expecting success.
    pub fn seal_text(&mut self, key_id: &str, plaintext: &str, context: Option<&str>) -> String {
        self.encrypt_as(&owner(), key_id, plaintext, context)
            .expect("encrypt")
            .ciphertext_blob
    }

    /// Decrypt as `caller`.
    pub fn decrypt_as(
        &mut self,
        caller: &Caller<'_>,
        blob: &str,
        context: Option<&str>,
    ) -> Result<DecryptResponse, Error> {
        let request = DecryptRequest {
            encryption_context: context,
            ..DecryptRequest::new(blob)
        };
        decrypt(&self.provider, caller, &request, &mut self.rng)
    }

    /// Decrypt as the owner.
    pub fn decrypt(&mut self, blob: &str, context: Option<&str>) -> Result<DecryptResponse, Error> {
        self.decrypt_as(&owner(), blob, context)
    }
}

/// The raw bytes of a CiphertextBlob.
pub fn blob_bytes(blob: &str) -> Vec<u8> {
    Base64::decode_vec(blob).expect("blob is Base64")
}

pub fn to_base64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// The key version a blob names (its first 36 bytes).
pub fn blob_version(blob: &str) -> String {
    let bytes = blob_bytes(blob);
    String::from_utf8(bytes[..36].to_vec()).expect("ASCII prefix")
}

/// The blob with one bit of byte `index` flipped.
pub fn flip(blob: &str, index: usize) -> String {
    let mut bytes = blob_bytes(blob);
    bytes[index] ^= 1;
    to_base64(&bytes)
}

/// The blob with its version prefix replaced by `version`.
pub fn with_prefix(blob: &str, version: &str) -> String {
    let mut bytes = blob_bytes(blob);
    bytes[..36].copy_from_slice(version.as_bytes());
    to_base64(&bytes)
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

// ---------------------------------------------------------------------------------------------
// Error assertions: the variant, the HTTP status, the code and the exact message.

#[track_caller]
pub fn assert_error<T: fmt::Debug>(
    result: Result<T, Error>,
    expected: Error,
    status: u16,
    code: &str,
    message: &str,
) {
    let err = match result {
        Ok(v) => panic!("expected {expected:?}, got Ok({v:?})"),
        Err(e) => e,
    };
    assert_eq!(err, expected, "error variant");
    assert_eq!(err.status(), status, "status of {err:?}");
    assert_eq!(err.code(), code, "code of {err:?}");
    assert_eq!(err.to_string(), message, "message of {err:?}");
}

#[track_caller]
pub fn assert_missing<T: fmt::Debug>(result: Result<T, Error>, p: Parameter, name: &str) {
    assert_error(
        result,
        Error::MissingParameter(p),
        400,
        "MissingParameter",
        &format!("The parameter {name} is needed but not provided."),
    );
}

#[track_caller]
pub fn assert_invalid<T: fmt::Debug>(result: Result<T, Error>, p: Parameter, name: &str) {
    assert_error(
        result,
        Error::InvalidParameter(p),
        400,
        "InvalidParameter",
        &format!("The specified parameter {name} is not valid."),
    );
}

/// A dry run's step-1 failure for a missing parameter.
#[track_caller]
pub fn assert_validation_missing<T: fmt::Debug>(
    result: Result<T, Error>,
    p: Parameter,
    name: &str,
) {
    assert_error(
        result,
        Error::ValidationError(ParameterProblem::Missing(p)),
        400,
        "ValidationError",
        &format!("The parameter {name} is needed but not provided."),
    );
}

/// A dry run's step-1 failure for an invalid parameter.
#[track_caller]
pub fn assert_validation_invalid<T: fmt::Debug>(
    result: Result<T, Error>,
    p: Parameter,
    name: &str,
) {
    assert_error(
        result,
        Error::ValidationError(ParameterProblem::Invalid(p)),
        400,
        "ValidationError",
        &format!("The specified parameter {name} is not valid."),
    );
}

#[track_caller]
pub fn assert_key_not_found<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::KeyNotFound,
        404,
        "Forbidden.KeyNotFound",
        MSG_KEY_NOT_FOUND,
    );
}

#[track_caller]
pub fn assert_alias_not_found<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::AliasNotFound,
        404,
        "Forbidden.AliasNotFound",
        MSG_ALIAS_NOT_FOUND,
    );
}

#[track_caller]
pub fn assert_no_permission<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::NoPermission,
        403,
        "Forbidden.NoPermission",
        MSG_FORBIDDEN,
    );
}

#[track_caller]
pub fn assert_access_denied<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::AccessDenied,
        403,
        "AccessDeniedError",
        MSG_FORBIDDEN,
    );
}

#[track_caller]
pub fn assert_unsupported<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::UnsupportedOperation,
        400,
        "UnsupportedOperation",
        MSG_UNSUPPORTED,
    );
}

#[track_caller]
pub fn assert_dry_run_passed<T: fmt::Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        Error::DryRunOperation,
        412,
        "DryRunOperationError",
        MSG_DRY_RUN,
    );
}

/// The 409 rejection of a key in `state` (spec §6, §8).
#[track_caller]
pub fn assert_state<T: fmt::Debug>(result: Result<T, Error>, state: KeyState) {
    let (variant, code, name) = match state {
        KeyState::Disabled => (Error::Disabled, "Rejected.Disabled", "Disabled"),
        KeyState::PendingDeletion => (
            Error::PendingDeletion,
            "Rejected.PendingDeletion",
            "PendingDeletion",
        ),
        KeyState::PendingImport => (
            Error::PendingImport,
            "Rejected.PendingImport",
            "PendingImport",
        ),
        KeyState::Unavailable => (Error::Unavailable, "Rejected.Unavailable", "Unavailable"),
        KeyState::Enabled => panic!("Enabled is not a rejection"),
    };
    assert_error(
        result,
        variant,
        409,
        code,
        &format!("The request was rejected because the key state is {name}."),
    );
}

#[track_caller]
pub fn assert_internal<T: fmt::Debug>(result: Result<T, Error>, variant: Error) {
    assert_error(result, variant, 500, "InternalFailure", MSG_INTERNAL);
}

/// The states a key can be put in, with the provider calls that put it there.
pub const REJECTED_STATES: [KeyState; 4] = [
    KeyState::Disabled,
    KeyState::PendingDeletion,
    KeyState::PendingImport,
    KeyState::Unavailable,
];

/// Creates a key of [`ACCOUNT`] in [`REGION`] that is in `state`.
pub fn key_in_state(world: &mut World, state: KeyState) -> KeyId {
    key_in_state_of(world, ACCOUNT, state)
}

/// Creates a key of `account` in [`REGION`] that is in `state`.
pub fn key_in_state_of(world: &mut World, account: &str, state: KeyState) -> KeyId {
    let options = KeyOptions::new(account, REGION);
    match state {
        KeyState::Enabled => world.create(options),
        KeyState::Disabled => {
            let key = world.create(options);
            world.provider.disable_key(&key).expect("disable");
            key
        }
        KeyState::PendingDeletion => {
            let key = world.create(options);
            world.provider.schedule_key_deletion(&key).expect("delete");
            key
        }
        KeyState::PendingImport => world.create(options.origin(kms_core::KeyOrigin::External)),
        KeyState::Unavailable => {
            let key = world.create(options);
            world.provider.set_unavailable(&key, true).expect("outage");
            key
        }
    }
}

/// Puts an existing (enabled, `Aliyun_KMS`) key in `state`. PendingImport cannot be reached
/// from there, so it is not offered.
pub fn put_in_state(world: &mut World, key: &KeyId, state: KeyState) {
    match state {
        KeyState::Enabled => {}
        KeyState::Disabled => world.provider.disable_key(key).expect("disable"),
        KeyState::PendingDeletion => world.provider.schedule_key_deletion(key).expect("delete"),
        KeyState::Unavailable => world.provider.set_unavailable(key, true).expect("outage"),
        KeyState::PendingImport => panic!("an Aliyun_KMS key cannot go back to PendingImport"),
    }
}

// ---------------------------------------------------------------------------------------------
// RNGs that fail.

#[derive(Debug)]
pub struct RngFailure;

impl fmt::Display for RngFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("entropy source failed")
    }
}

impl core::error::Error for RngFailure {}

/// An RNG that hands out `budget` bytes and then fails every request it cannot serve in full.
pub struct BudgetRng {
    inner: ChaCha20Rng,
    budget: usize,
    /// How many requests were made, served or not.
    pub calls: usize,
}

impl BudgetRng {
    pub fn new(seed: u64, budget: usize) -> Self {
        Self {
            inner: rng(seed),
            budget,
            calls: 0,
        }
    }

    /// An RNG that fails at once.
    pub fn failing() -> Self {
        Self::new(0, 0)
    }
}

impl TryRng for BudgetRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailure> {
        self.calls += 1;
        if dst.len() > self.budget {
            return Err(RngFailure);
        }
        self.budget -= dst.len();
        self.inner.try_fill_bytes(dst).map_err(|e| match e {})
    }
}

impl TryCryptoRng for BudgetRng {}

// ---------------------------------------------------------------------------------------------
// The blob and associated data of spec §4 and §5, built with bare AES-GCM, independently of the
// crate.

/// `key_version_id || u16be(count) || for each pair sorted by key bytes: u16be(len) || key ||
/// u16be(len) || value`.
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

/// Opens a blob with raw AES-256 or AES-128 material and the given associated data.
pub fn spec_open(material: &[u8], blob: &str, aad: &[u8]) -> Option<Vec<u8>> {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let bytes = blob_bytes(blob);
    let iv: [u8; 12] = bytes[36..48].try_into().ok()?;
    let tag: [u8; 16] = bytes[bytes.len() - 16..].try_into().ok()?;
    let mut body = bytes[48..bytes.len() - 16].to_vec();
    let opened = match material.len() {
        32 => aes_gcm::Aes256Gcm::new_from_slice(material)
            .ok()?
            .decrypt_inout_detached(&iv.into(), aad, body.as_mut_slice().into(), &tag.into()),
        16 => aes_gcm::Aes128Gcm::new_from_slice(material)
            .ok()?
            .decrypt_inout_detached(&iv.into(), aad, body.as_mut_slice().into(), &tag.into()),
        _ => return None,
    };
    opened.ok().map(|()| body)
}

/// Seals `plaintext` into a blob of `version` with raw AES-256 material.
pub fn spec_seal(
    material: &[u8; 32],
    version: &str,
    iv: [u8; 12],
    plaintext: &[u8],
    aad: &[u8],
) -> String {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(material).expect("32 bytes");
    let mut body = plaintext.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&iv.into(), aad, body.as_mut_slice().into())
        .expect("seal");
    let mut blob = version.as_bytes().to_vec();
    blob.extend_from_slice(&iv);
    blob.extend_from_slice(&body);
    blob.extend_from_slice(tag.as_slice());
    to_base64(&blob)
}

/// An enabled EXTERNAL key of [`ACCOUNT`] in [`REGION`] with the given material (16 or 32
/// bytes), so tests can check blobs against the spec with bare AES-GCM.
pub fn imported_key(world: &mut World, material: &[u8]) -> KeyId {
    let spec = if material.len() == 16 {
        kms_core::MasterKeySpec::Aes128
    } else {
        kms_core::MasterKeySpec::Aes256
    };
    let key = world.create(
        KeyOptions::new(ACCOUNT, REGION)
            .spec(spec)
            .origin(kms_core::KeyOrigin::External),
    );
    let material = kms_core::MasterKeyMaterial::from_slice(material).expect("AES material");
    world
        .provider
        .import_key_material(&key, material)
        .expect("import");
    key
}
