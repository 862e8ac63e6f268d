//! The key provider trait: where master keys live, and the only code that touches their
//! material.
//!
//! A provider resolves key references to [`KeyRecord`]s, answers permission questions, and
//! seals and opens under a named key version. The material may never leave it (an HSM, a remote
//! KMS); the core hands it the IV, the associated data and the bytes, and gets the tag back.
//! [`VersionCipher`] is the AES-GCM engine the bundled providers use, ready for others to reuse.

use core::fmt;

use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use rand_core::TryCryptoRng;

use crate::blob::{IV_LEN, TAG_LEN};
use crate::{Caller, Error, KeyRecord, KeyVersionId, MasterKeyMaterial, Parameter, UsableKey};

/// An operation, as a permission names it. ReEncrypt needs `ReEncryptFrom` on the source key and
/// `ReEncryptTo` on the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `kms:GenerateDataKey`.
    GenerateDataKey,
    /// `kms:GenerateDataKeyWithoutPlaintext`.
    GenerateDataKeyWithoutPlaintext,
    /// `kms:Encrypt`.
    Encrypt,
    /// `kms:Decrypt`.
    Decrypt,
    /// `kms:ReEncryptFrom`, on the source key of a ReEncrypt.
    ReEncryptFrom,
    /// `kms:ReEncryptTo`, on the destination key of a ReEncrypt.
    ReEncryptTo,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::GenerateDataKey,
        Action::GenerateDataKeyWithoutPlaintext,
        Action::Encrypt,
        Action::Decrypt,
        Action::ReEncryptFrom,
        Action::ReEncryptTo,
    ];

    /// The permission's name, `kms:` and the operation.
    pub const fn name(self) -> &'static str {
        match self {
            Action::GenerateDataKey => "kms:GenerateDataKey",
            Action::GenerateDataKeyWithoutPlaintext => "kms:GenerateDataKeyWithoutPlaintext",
            Action::Encrypt => "kms:Encrypt",
            Action::Decrypt => "kms:Decrypt",
            Action::ReEncryptFrom => "kms:ReEncryptFrom",
            Action::ReEncryptTo => "kms:ReEncryptTo",
        }
    }
}

/// What can go wrong inside a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderError {
    /// The material cannot be reached now (`Rejected.Unavailable`).
    Unavailable,
    /// The tag did not verify: wrong context, altered blob (`InvalidParameter CiphertextBlob`).
    AuthenticationFailed,
    /// The version has sealed as many times as it may (spec §10) and the provider refuses
    /// rather than rotate.
    SealLimitReached,
    /// Anything else: a broken backend, a handle that no longer resolves (`InternalFailure`).
    Internal,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderError::Unavailable => "key material unavailable",
            ProviderError::AuthenticationFailed => "authentication failed",
            ProviderError::SealLimitReached => "key version seal limit reached",
            ProviderError::Internal => "provider failure",
        })
    }
}

impl core::error::Error for ProviderError {}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unavailable => Error::Unavailable,
            ProviderError::AuthenticationFailed => {
                Error::InvalidParameter(Parameter::CiphertextBlob)
            }
            ProviderError::SealLimitReached => Error::SealLimitReached,
            ProviderError::Internal => Error::InternalFailure,
        }
    }
}

/// Where master keys live.
///
/// Lookups scope by account and region as spec §2 says: [`find_key`](Self::find_key) and
/// [`find_alias`](Self::find_alias) answer only for a key of that account in that region, and
/// [`find_version`](Self::find_version) only for a version of a key in that region. A miss is
/// `Ok(None)`; `Err` is for a provider that cannot answer.
pub trait KeyProvider {
    /// The key with canonical ID `key_id`, owned by `account` in `region`.
    ///
    /// # Errors
    /// A provider failure.
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// The key that alias `alias` (`alias/...` in full) names in `account` and `region`.
    ///
    /// # Errors
    /// A provider failure.
    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// The key that owns version `version`, if that key is in `region`.
    ///
    /// # Errors
    /// A provider failure.
    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// Whether `caller` may perform `action` with `key`. A key's own account may always; another
    /// account only when the key's policy names it.
    fn permits(&self, key: &KeyRecord, caller: &Caller<'_>, action: Action) -> bool;

    /// Seals `in_out` in place under `key.version()` with AES-GCM, and returns the tag. The
    /// provider counts the seal against the version's budget (spec §10); `rng` is there for a
    /// provider that rotates when the budget runs out.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`], [`ProviderError::SealLimitReached`] or
    /// [`ProviderError::Internal`].
    fn seal<R: TryCryptoRng + ?Sized>(
        &mut self,
        key: &UsableKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut R,
    ) -> Result<[u8; TAG_LEN], ProviderError>;

    /// Opens `in_out` in place under `key.version()`, checking `tag`. On failure `in_out` holds
    /// no plaintext.
    ///
    /// # Errors
    /// [`ProviderError::AuthenticationFailed`] when the tag does not verify; otherwise as
    /// [`seal`](Self::seal).
    fn open(
        &self,
        key: &UsableKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ProviderError>;
}

// The two schedules differ in size by a few hundred bytes; boxing would add a pointer chase to
// every seal for no real saving.
#[allow(clippy::large_enum_variant)]
enum Aead {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

/// One master key version's material with its AES key schedule built once, ready to seal and
/// open. Both are zeroized on drop.
pub struct VersionCipher {
    material: MasterKeyMaterial,
    aead: Aead,
}

impl VersionCipher {
    /// Builds the key schedule for `material`.
    pub fn new(material: MasterKeyMaterial) -> Self {
        let aead = match &material {
            MasterKeyMaterial::Aes128(k) => Aead::Aes128(Aes128Gcm::new((&**k).into())),
            MasterKeyMaterial::Aes256(k) => Aead::Aes256(Aes256Gcm::new((&**k).into())),
        };
        Self { material, aead }
    }

    /// The material.
    pub fn material(&self) -> &MasterKeyMaterial {
        &self.material
    }

    /// Seals `in_out` in place and returns the tag.
    ///
    /// # Errors
    /// [`ProviderError::Internal`] when AES-GCM refuses the lengths.
    pub fn seal(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
    ) -> Result<[u8; TAG_LEN], ProviderError> {
        let tag = match &self.aead {
            Aead::Aes128(c) => c.encrypt_inout_detached(iv.into(), aad, in_out.into()),
            Aead::Aes256(c) => c.encrypt_inout_detached(iv.into(), aad, in_out.into()),
        }
        .map_err(|_| ProviderError::Internal)?;
        Ok(tag.into())
    }

    /// Opens `in_out` in place, checking `tag`.
    ///
    /// # Errors
    /// [`ProviderError::AuthenticationFailed`] when the tag does not verify.
    pub fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ProviderError> {
        match &self.aead {
            Aead::Aes128(c) => c.decrypt_inout_detached(iv.into(), aad, in_out.into(), tag.into()),
            Aead::Aes256(c) => c.decrypt_inout_detached(iv.into(), aad, in_out.into(), tag.into()),
        }
        .map_err(|_| ProviderError::AuthenticationFailed)
    }
}

impl fmt::Debug for VersionCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionCipher")
            .field("material", &self.material)
            .finish_non_exhaustive()
    }
}
