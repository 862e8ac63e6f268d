//! Shared helpers of the integration tests: deterministic, failing and counting RNGs, the
//! spec's error rows, a test world with an in-memory key, and an independent AES-GCM opener.
//!
//! Every test binary includes this module and uses only part of it.
#![allow(dead_code)]

use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use base64ct::{Base64, Encoding};
use kms_core::{
    Caller, DecryptRequest, DecryptResponse, Error, FixedCapacityProvider, GenerateDataKeyRequest,
    GenerateDataKeyResponse, InMemoryProvider, KeyId, KeyOptions, KeyVersionId, MasterKeyMaterial,
    decrypt, generate_data_key,
};
use rand_chacha::ChaCha20Rng;

mod base;
pub use base::*;

/// The usual caller: `ACCOUNT` in `REGION`.
pub fn caller() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

// ---------------------------------------------------------------------------------------------
// The rows of the spec's error table (§8)

/// Asserts an error's HTTP status, code and exact message.
#[track_caller]
pub fn assert_err(err: &Error, status: u16, code: &str, message: &str) {
    assert_eq!(
        (err.status(), err.code(), err.to_string()),
        (status, code, message.to_string()),
        "unexpected error {err:?}"
    );
}

#[track_caller]
pub fn assert_missing(err: &Error, name: &str) {
    let message = format!("The parameter {name} is needed but not provided.");
    assert_err(err, 400, "MissingParameter", &message);
}

#[track_caller]
pub fn assert_invalid(err: &Error, name: &str) {
    let message = format!("The specified parameter {name} is not valid.");
    assert_err(err, 400, "InvalidParameter", &message);
}

#[track_caller]
pub fn assert_validation_missing(err: &Error, name: &str) {
    let message = format!("The parameter {name} is needed but not provided.");
    assert_err(err, 400, "ValidationError", &message);
}

#[track_caller]
pub fn assert_validation_invalid(err: &Error, name: &str) {
    let message = format!("The specified parameter {name} is not valid.");
    assert_err(err, 400, "ValidationError", &message);
}

#[track_caller]
pub fn assert_unsupported(err: &Error) {
    assert_err(
        err,
        400,
        "UnsupportedOperation",
        "This action is not supported.",
    );
}

#[track_caller]
pub fn assert_no_permission(err: &Error) {
    assert_err(
        err,
        403,
        "Forbidden.NoPermission",
        "This operation is forbidden by permission system.",
    );
}

#[track_caller]
pub fn assert_access_denied(err: &Error) {
    assert_err(
        err,
        403,
        "AccessDeniedError",
        "This operation is forbidden by permission system.",
    );
}

#[track_caller]
pub fn assert_alias_not_found(err: &Error) {
    assert_err(
        err,
        404,
        "Forbidden.AliasNotFound",
        "The specified Alias is not found.",
    );
}

#[track_caller]
pub fn assert_key_not_found(err: &Error) {
    assert_err(
        err,
        404,
        "Forbidden.KeyNotFound",
        "The specified Key is not found.",
    );
}

/// `Rejected.{state}` with its message; `state` is `Disabled`, `PendingDeletion`,
/// `PendingImport` or `Unavailable`.
#[track_caller]
pub fn assert_rejected(err: &Error, state: &str) {
    let code = format!("Rejected.{state}");
    let message = format!("The request was rejected because the key state is {state}.");
    assert_err(err, 409, &code, &message);
}

#[track_caller]
pub fn assert_dry_run_passed(err: &Error) {
    assert_err(
        err,
        412,
        "DryRunOperationError",
        "The request would have succeeded, but the DryRun flag is set.",
    );
}

#[track_caller]
pub fn assert_internal(err: &Error) {
    assert_err(err, 500, "InternalFailure", "Internal Failure.");
}

// ---------------------------------------------------------------------------------------------
// A test world: an in-memory provider with one key of `ACCOUNT` in `REGION`.

pub const ALIAS: &str = "alias/test-key";

pub struct World {
    pub provider: InMemoryProvider,
    pub rng: ChaCha20Rng,
    pub key: KeyId,
}

impl World {
    /// One AES-256 key of `ACCOUNT` in `REGION`, with alias [`ALIAS`].
    pub fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let mut provider = InMemoryProvider::new();
        let key = provider
            .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
            .expect("create key");
        provider.create_alias(ALIAS, &key).expect("create alias");
        Self { provider, rng, key }
    }

    /// Creates another key and returns its ID.
    pub fn add_key(&mut self, options: &KeyOptions<'_>) -> KeyId {
        self.provider
            .create_key(&mut self.rng, options)
            .expect("create key")
    }

    pub fn primary(&self, key: &KeyId) -> KeyVersionId {
        self.provider
            .describe(key)
            .expect("describe")
            .primary_version
    }

    pub fn gdk(
        &mut self,
        request: &GenerateDataKeyRequest<'_>,
    ) -> Result<GenerateDataKeyResponse, Error> {
        generate_data_key(&mut self.provider, &caller(), request, &mut self.rng)
    }

    pub fn gdk_as(
        &mut self,
        who: &Caller<'_>,
        request: &GenerateDataKeyRequest<'_>,
    ) -> Result<GenerateDataKeyResponse, Error> {
        generate_data_key(&mut self.provider, who, request, &mut self.rng)
    }

    pub fn decrypt(&mut self, request: &DecryptRequest<'_>) -> Result<DecryptResponse, Error> {
        decrypt(&self.provider, &caller(), request, &mut self.rng)
    }

    pub fn decrypt_as(
        &mut self,
        who: &Caller<'_>,
        request: &DecryptRequest<'_>,
    ) -> Result<DecryptResponse, Error> {
        decrypt(&self.provider, who, request, &mut self.rng)
    }

    /// A fresh blob under the world's key, with `context`.
    pub fn blob(&mut self, context: Option<&str>) -> GenerateDataKeyResponse {
        let key = self.key.to_string();
        let request = GenerateDataKeyRequest {
            encryption_context: context,
            ..GenerateDataKeyRequest::new(&key)
        };
        self.gdk(&request).expect("GenerateDataKey")
    }
}

// ---------------------------------------------------------------------------------------------
// A fixed-capacity provider with known material.

pub const FIXED_KEY_ID: &str = "key-hzz630494463ejqjx1234";
pub const FIXED_VERSION: &str = "2ab1a983-7072-4bbc-a582-584b5bd8beef";

/// 32 bytes of known master material.
pub fn known_material_256() -> [u8; 32] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(7).wrapping_add(3))
}

/// 16 bytes of known master material.
pub fn known_material_128() -> [u8; 16] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(13).wrapping_add(1))
}

/// A fixed provider of `ACCOUNT` in `REGION` holding key [`FIXED_KEY_ID`] with one version
/// [`FIXED_VERSION`] of `material`.
pub fn fixed_provider(material: &[u8]) -> FixedCapacityProvider<4, 3> {
    let mut provider = FixedCapacityProvider::new(ACCOUNT, REGION).expect("provider");
    provider
        .add_key(
            KeyId::parse(FIXED_KEY_ID).expect("key id"),
            version(FIXED_VERSION),
            MasterKeyMaterial::from_slice(material).expect("material"),
        )
        .expect("add key");
    provider
}

pub fn version(text: &str) -> KeyVersionId {
    KeyVersionId::parse(text.as_bytes()).expect("version id")
}

// ---------------------------------------------------------------------------------------------
// Base64, UUIDs and an independent AES-GCM for blobs

pub fn b64(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    Base64::decode_vec(text).expect("valid Base64")
}

/// Lowercase UUID text, checked here independently of the crate.
pub fn is_lowercase_uuid_text(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// A lowercase UUID v4 (version nibble 4, RFC 9562 variant).
pub fn is_lowercase_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    is_lowercase_uuid_text(b) && b[14] == b'4' && matches!(b[19], b'8' | b'9' | b'a' | b'b')
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

/// The associated data of an empty context: the version ID and a zero pair count.
pub fn empty_aad(version: &str) -> Vec<u8> {
    let mut aad = version.as_bytes().to_vec();
    aad.extend_from_slice(&[0, 0]);
    aad
}
