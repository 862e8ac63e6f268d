//! Helpers of the key management and snapshot tests: a test world (provider, RNG, clock), thin
//! wrappers over the management operations, error assertions with the spec's literal statuses,
//! codes and messages, and an AES-GCM opener that does not go through the crate.
//!
//! Every test binary includes this module and uses only part of it.
#![allow(dead_code)]

use core::fmt::Debug;
use core::time::Duration;

use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use base64ct::{Base64, Encoding};
use kms_core::management::{
    self, AliasRequest, CreateKeyRequest, ImportKeyMaterialRequest, KeyMetadata, KeyRequest,
    ListAliasesResponse, ListKeysResponse, PageRequest, ScheduleKeyDeletionRequest,
};
use kms_core::{
    Caller, DecryptRequest, DecryptResponse, Error, GenerateDataKeyRequest,
    GenerateDataKeyResponse, InMemoryProvider, KeyId, KeyVersionId, decrypt, generate_data_key,
};
use rand_chacha::ChaCha20Rng;

#[path = "../common/base.rs"]
mod base;
pub use base::*;

/// A well-formed key ID (`key-` form) that names no key.
pub const UNKNOWN_KEY_ID_SHORT: &str = "key-hzz630494463ejqjx1234";

/// 2024-05-14T08:24:13Z, the tests' usual "now" (`date -u -d @1715675053`).
pub const T0_SECS: u64 = 1_715_675_053;
pub const T0_TEXT: &str = "2024-05-14T08:24:13Z";
pub const DAY_SECS: u64 = 86_400;

pub fn owner() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

/// Another account, same region.
pub fn other() -> Caller<'static> {
    Caller::new(OTHER_ACCOUNT, REGION)
}

/// The same account, another region.
pub fn elsewhere() -> Caller<'static> {
    Caller::new(ACCOUNT, OTHER_REGION)
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

// ---------------------------------------------------------------------------------------------
// Error assertions: statuses, codes and messages of spec §8 (and of src/management.rs's docs for
// the management-only rows), written out here rather than taken from the crate.

#[track_caller]
pub fn expect_err<T: Debug>(result: Result<T, Error>) -> Error {
    match result {
        Ok(v) => panic!("expected an error, got Ok({v:?})"),
        Err(e) => e,
    }
}

#[track_caller]
pub fn assert_error<T: Debug>(result: Result<T, Error>, status: u16, code: &str, message: &str) {
    let err = expect_err(result);
    assert_eq!(
        (err.status(), err.code(), err.to_string().as_str()),
        (status, code, message),
        "{err:?}"
    );
}

#[track_caller]
pub fn assert_missing<T: Debug>(result: Result<T, Error>, name: &str) {
    let message = format!("The parameter {name} is needed but not provided.");
    assert_error(result, 400, "MissingParameter", &message);
}

#[track_caller]
pub fn assert_invalid<T: Debug>(result: Result<T, Error>, name: &str) {
    let message = format!("The specified parameter {name} is not valid.");
    assert_error(result, 400, "InvalidParameter", &message);
}

#[track_caller]
pub fn assert_key_not_found<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        404,
        "Forbidden.KeyNotFound",
        "The specified Key is not found.",
    );
}

#[track_caller]
pub fn assert_alias_not_found<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        404,
        "Forbidden.AliasNotFound",
        "The specified Alias is not found.",
    );
}

#[track_caller]
pub fn assert_no_permission<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        403,
        "Forbidden.NoPermission",
        "This operation is forbidden by permission system.",
    );
}

#[track_caller]
pub fn assert_state_refused<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        409,
        "Rejected.StateModifiedFailed",
        "Keystate modified failed.",
    );
}

#[track_caller]
pub fn assert_alias_exists<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        409,
        "AliasAlreadyExists",
        "The specified Alias already exists.",
    );
}

#[track_caller]
pub fn assert_unsupported<T: Debug>(result: Result<T, Error>) {
    assert_error(
        result,
        400,
        "UnsupportedOperation",
        "This action is not supported.",
    );
}

#[track_caller]
pub fn assert_internal<T: Debug>(result: Result<T, Error>) {
    assert_error(result, 500, "InternalFailure", "Internal Failure.");
}

/// The rejection of a data-key operation in a state (spec §6, §8).
#[track_caller]
pub fn assert_rejected<T: Debug>(result: Result<T, Error>, state: &str) {
    let code = format!("Rejected.{state}");
    let message = format!("The request was rejected because the key state is {state}.");
    assert_error(result, 409, &code, &message);
}

// ---------------------------------------------------------------------------------------------
// The world

/// A provider, an RNG and a clock. Every operation runs at `now`.
pub struct Kms {
    pub provider: InMemoryProvider,
    pub rng: ChaCha20Rng,
    pub now: Duration,
}

impl Kms {
    pub fn new(seed: u64) -> Self {
        Self::with_provider(InMemoryProvider::new(), seed)
    }

    pub fn with_provider(provider: InMemoryProvider, seed: u64) -> Self {
        Self {
            provider,
            rng: rng(seed),
            now: secs(T0_SECS),
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    // CreateKey

    pub fn create_as(
        &mut self,
        caller: &Caller<'_>,
        request: &CreateKeyRequest<'_>,
    ) -> Result<KeyMetadata, Error> {
        management::create_key(&mut self.provider, caller, request, &mut self.rng, self.now)
            .map(|r| r.key_metadata)
    }

    pub fn create(&mut self, request: &CreateKeyRequest<'_>) -> Result<KeyMetadata, Error> {
        self.create_as(&owner(), request)
    }

    /// A default key of `caller`.
    #[track_caller]
    pub fn key_of(&mut self, caller: &Caller<'_>) -> KeyId {
        self.create_as(caller, &CreateKeyRequest::default())
            .expect("create key")
            .key_id
    }

    /// A default key of the owner.
    #[track_caller]
    pub fn key(&mut self) -> KeyId {
        self.key_of(&owner())
    }

    /// An `EXTERNAL` key of the owner, pending import, with `spec` (`Aliyun_AES_256` or
    /// `Aliyun_AES_128`).
    #[track_caller]
    pub fn external_key(&mut self, spec: &str) -> KeyId {
        let request = CreateKeyRequest {
            key_spec: Some(spec),
            origin: Some("EXTERNAL"),
            ..CreateKeyRequest::default()
        };
        self.create(&request).expect("create external key").key_id
    }

    // Single-key operations

    pub fn describe_as(&mut self, caller: &Caller<'_>, key: &str) -> Result<KeyMetadata, Error> {
        let request = KeyRequest::new(key);
        management::describe_key(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(|r| r.key_metadata)
    }

    pub fn describe(&mut self, key: &str) -> Result<KeyMetadata, Error> {
        self.describe_as(&owner(), key)
    }

    /// DescribeKey's `KeyState`.
    #[track_caller]
    pub fn state(&mut self, key: &KeyId) -> String {
        self.describe(key.as_str()).expect("describe key").key_state
    }

    pub fn enable_as(&mut self, caller: &Caller<'_>, key: Option<&str>) -> Result<(), Error> {
        let request = KeyRequest {
            key_id: key,
            request_id: None,
        };
        management::enable_key(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn enable(&mut self, key: &str) -> Result<(), Error> {
        self.enable_as(&owner(), Some(key))
    }

    pub fn disable_as(&mut self, caller: &Caller<'_>, key: Option<&str>) -> Result<(), Error> {
        let request = KeyRequest {
            key_id: key,
            request_id: None,
        };
        management::disable_key(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn disable(&mut self, key: &str) -> Result<(), Error> {
        self.disable_as(&owner(), Some(key))
    }

    pub fn cancel_as(&mut self, caller: &Caller<'_>, key: Option<&str>) -> Result<(), Error> {
        let request = KeyRequest {
            key_id: key,
            request_id: None,
        };
        management::cancel_key_deletion(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn cancel(&mut self, key: &str) -> Result<(), Error> {
        self.cancel_as(&owner(), Some(key))
    }

    pub fn schedule_as(
        &mut self,
        caller: &Caller<'_>,
        key: Option<&str>,
        days: Option<&str>,
    ) -> Result<(), Error> {
        let request = ScheduleKeyDeletionRequest {
            key_id: key,
            pending_window_in_days: days,
            request_id: None,
        };
        management::schedule_key_deletion(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn schedule(&mut self, key: &str, days: &str) -> Result<(), Error> {
        self.schedule_as(&owner(), Some(key), Some(days))
    }

    pub fn rotate_as(
        &mut self,
        caller: &Caller<'_>,
        key: Option<&str>,
    ) -> Result<management::KeyVersion, Error> {
        let request = KeyRequest {
            key_id: key,
            request_id: None,
        };
        management::create_key_version(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(|r| r.key_version)
    }

    pub fn rotate(&mut self, key: &str) -> Result<management::KeyVersion, Error> {
        self.rotate_as(&owner(), Some(key))
    }

    pub fn import_as(
        &mut self,
        caller: &Caller<'_>,
        key: Option<&str>,
        material: Option<&str>,
    ) -> Result<(), Error> {
        let request = ImportKeyMaterialRequest {
            key_id: key,
            key_material: material,
            request_id: None,
        };
        management::import_key_material(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    /// ImportKeyMaterial of raw `material` (Base64-encoded here).
    pub fn import(&mut self, key: &str, material: &[u8]) -> Result<(), Error> {
        let text = Base64::encode_string(material);
        self.import_as(&owner(), Some(key), Some(&text))
    }

    // Aliases

    pub fn create_alias_as(
        &mut self,
        caller: &Caller<'_>,
        alias: Option<&str>,
        key: Option<&str>,
    ) -> Result<(), Error> {
        let request = AliasRequest {
            alias_name: alias,
            key_id: key,
            request_id: None,
        };
        management::create_alias(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn create_alias(&mut self, alias: &str, key: &str) -> Result<(), Error> {
        self.create_alias_as(&owner(), Some(alias), Some(key))
    }

    pub fn update_alias_as(
        &mut self,
        caller: &Caller<'_>,
        alias: Option<&str>,
        key: Option<&str>,
    ) -> Result<(), Error> {
        let request = AliasRequest {
            alias_name: alias,
            key_id: key,
            request_id: None,
        };
        management::update_alias(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn update_alias(&mut self, alias: &str, key: &str) -> Result<(), Error> {
        self.update_alias_as(&owner(), Some(alias), Some(key))
    }

    pub fn delete_alias_as(
        &mut self,
        caller: &Caller<'_>,
        alias: Option<&str>,
    ) -> Result<(), Error> {
        let request = AliasRequest {
            alias_name: alias,
            key_id: None,
            request_id: None,
        };
        management::delete_alias(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
        .map(drop)
    }

    pub fn delete_alias(&mut self, alias: &str) -> Result<(), Error> {
        self.delete_alias_as(&owner(), Some(alias))
    }

    // Listings

    pub fn list_keys_as(
        &mut self,
        caller: &Caller<'_>,
        page_number: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<ListKeysResponse, Error> {
        let request = PageRequest {
            page_number,
            page_size,
            request_id: None,
        };
        management::list_keys(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
    }

    /// Every key of `caller`, through ListKeys pages of 100.
    #[track_caller]
    pub fn all_keys_of(&mut self, caller: &Caller<'_>) -> Vec<KeyId> {
        let mut keys = Vec::new();
        for page in 1.. {
            let number = page.to_string();
            let r = self
                .list_keys_as(caller, Some(&number), Some("100"))
                .expect("list keys");
            if r.keys.key.is_empty() {
                break;
            }
            keys.extend(r.keys.key.iter().map(|k| k.key_id));
        }
        keys
    }

    pub fn list_aliases_as(
        &mut self,
        caller: &Caller<'_>,
        page_number: Option<&str>,
        page_size: Option<&str>,
    ) -> Result<ListAliasesResponse, Error> {
        let request = PageRequest {
            page_number,
            page_size,
            request_id: None,
        };
        management::list_aliases(
            &mut self.provider,
            caller,
            &request,
            &mut self.rng,
            self.now,
        )
    }

    /// Every alias of `caller` as (name, key), through ListAliases pages of 100.
    #[track_caller]
    pub fn all_aliases_of(&mut self, caller: &Caller<'_>) -> Vec<(String, KeyId)> {
        let mut aliases = Vec::new();
        for page in 1.. {
            let number = page.to_string();
            let r = self
                .list_aliases_as(caller, Some(&number), Some("100"))
                .expect("list aliases");
            if r.aliases.alias.is_empty() {
                break;
            }
            aliases.extend(
                r.aliases
                    .alias
                    .iter()
                    .map(|a| (a.alias_name.clone(), a.key_id)),
            );
        }
        aliases
    }

    // Data-key operations

    pub fn gdk_as(
        &mut self,
        caller: &Caller<'_>,
        key: &str,
    ) -> Result<GenerateDataKeyResponse, Error> {
        generate_data_key(
            &mut self.provider,
            caller,
            &GenerateDataKeyRequest::new(key),
            &mut self.rng,
        )
    }

    pub fn gdk(&mut self, key: &str) -> Result<GenerateDataKeyResponse, Error> {
        self.gdk_as(&owner(), key)
    }

    pub fn decrypt_as(
        &mut self,
        caller: &Caller<'_>,
        blob: &str,
    ) -> Result<DecryptResponse, Error> {
        decrypt(
            &self.provider,
            caller,
            &DecryptRequest::new(blob),
            &mut self.rng,
        )
    }

    pub fn decrypt(&mut self, blob: &str) -> Result<DecryptResponse, Error> {
        self.decrypt_as(&owner(), blob)
    }

    /// A GenerateDataKey under `key` whose blob decrypts back to the same data key.
    #[track_caller]
    pub fn assert_round_trip(&mut self, key: &str) -> GenerateDataKeyResponse {
        let made = self.gdk(key).expect("generate data key");
        let opened = self.decrypt(&made.ciphertext_blob).expect("decrypt");
        assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
        assert_eq!(opened.key_id, made.key_id);
        assert_eq!(opened.key_version_id, made.key_version_id);
        made
    }
}

/// A key version's text as a `KeyVersionId`.
pub fn version(text: &str) -> KeyVersionId {
    KeyVersionId::parse(text.as_bytes()).expect("version id")
}

// ---------------------------------------------------------------------------------------------
// AES-GCM without the crate

/// Opens a GenerateDataKey blob (Base64 of `version || iv || ciphertext || tag`, sealed with the
/// empty context) under raw `material` with bare `aes-gcm`; `None` when the tag fails.
pub fn open_with_material(material: &[u8], blob_text: &str) -> Option<Vec<u8>> {
    let blob = Base64::decode_vec(blob_text).ok()?;
    if blob.len() < 36 + 12 + 16 {
        return None;
    }
    let mut aad = blob[..36].to_vec();
    aad.extend_from_slice(&[0, 0]);
    let iv: [u8; 12] = blob[36..48].try_into().ok()?;
    let tag: [u8; 16] = blob[blob.len() - 16..].try_into().ok()?;
    let mut body = blob[48..blob.len() - 16].to_vec();
    let result = match material.len() {
        32 => Aes256Gcm::new_from_slice(material)
            .ok()?
            .decrypt_inout_detached(
                (&iv).into(),
                &aad,
                body.as_mut_slice().into(),
                (&tag).into(),
            ),
        16 => Aes128Gcm::new_from_slice(material)
            .ok()?
            .decrypt_inout_detached(
                (&iv).into(),
                &aad,
                body.as_mut_slice().into(),
                (&tag).into(),
            ),
        _ => return None,
    };
    result.ok().map(|()| body)
}
