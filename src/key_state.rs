//! Key metadata, states and usage, and the check of spec §6 that every seal and open must
//! pass first.
//!
//! [`check_usable`] is the only way to obtain a [`UsableKey`], and the provider's
//! [`seal`](crate::KeyProvider::seal) and [`open`](crate::KeyProvider::open) take one, so code
//! that skips the check does not compile:
//!
//! ```compile_fail,E0451
//! use kms_core::{KeyHandle, KeyId, KeyVersionId, UsableKey};
//! let version = KeyVersionId::parse(b"2ab1a983-7072-4bbc-a582-584b5bd80000").unwrap();
//! let key_id = KeyId::parse("key-hzz630494463ejqjx1234").unwrap();
//! // error[E0451]: UsableKey's fields are private, and it has no public constructor.
//! let key = UsableKey { handle: KeyHandle(0), key_id, version };
//! ```

use core::fmt;

use crate::{Error, KeyId, KeyVersionId};

/// The state of a master key (spec §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Disabled by its owner.
    Disabled,
    /// Scheduled for deletion.
    PendingDeletion,
    /// An external-origin key whose material has not been imported yet.
    PendingImport,
    /// The provider cannot reach the material (for example an HSM outage).
    Unavailable,
}

impl KeyState {
    /// The wire name, as in `DescribeKey`'s `KeyState`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::Unavailable => "Unavailable",
        }
    }

    /// The error a data-key operation gets in this state, `None` when Enabled.
    pub const fn rejection(self) -> Option<Error> {
        match self {
            KeyState::Enabled => None,
            KeyState::Disabled => Some(Error::Disabled),
            KeyState::PendingDeletion => Some(Error::PendingDeletion),
            KeyState::PendingImport => Some(Error::PendingImport),
            KeyState::Unavailable => Some(Error::Unavailable),
        }
    }
}

impl fmt::Display for KeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The spec of a master key. Only the two AES specs make data keys; the others exist so that a
/// provider can hold keys that cannot, which get `UnsupportedOperation`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MasterKeySpec {
    /// `Aliyun_AES_256`: 256-bit AES material (the default).
    Aes256,
    /// `Aliyun_AES_128`: 128-bit AES material.
    Aes128,
    /// `RSA_2048`: an asymmetric key.
    Rsa2048,
    /// `EC_P256`: an asymmetric key.
    EcP256,
}

impl MasterKeySpec {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            MasterKeySpec::Aes256 => "Aliyun_AES_256",
            MasterKeySpec::Aes128 => "Aliyun_AES_128",
            MasterKeySpec::Rsa2048 => "RSA_2048",
            MasterKeySpec::EcP256 => "EC_P256",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Aes256, Self::Aes128, Self::Rsa2048, Self::EcP256]
            .into_iter()
            .find(|s| s.name() == name)
    }

    /// The length of AES material, `None` for an asymmetric spec.
    pub const fn material_len(self) -> Option<usize> {
        match self {
            MasterKeySpec::Aes256 => Some(32),
            MasterKeySpec::Aes128 => Some(16),
            MasterKeySpec::Rsa2048 | MasterKeySpec::EcP256 => None,
        }
    }

    /// Whether this is a symmetric (AES) spec.
    pub const fn is_symmetric(self) -> bool {
        self.material_len().is_some()
    }
}

/// What a master key is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyUsage {
    /// `ENCRYPT/DECRYPT`: the only usage that takes part in data-key operations.
    EncryptDecrypt,
    /// `SIGN/VERIFY`.
    SignVerify,
}

impl KeyUsage {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            KeyUsage::EncryptDecrypt => "ENCRYPT/DECRYPT",
            KeyUsage::SignVerify => "SIGN/VERIFY",
        }
    }
}

/// Where a key's material comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyOrigin {
    /// `Aliyun_KMS`: made by the service.
    Kms,
    /// `EXTERNAL`: imported by the owner; the key waits in PendingImport until then.
    External,
}

impl KeyOrigin {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            KeyOrigin::Kms => "Aliyun_KMS",
            KeyOrigin::External => "EXTERNAL",
        }
    }
}

/// A provider's own name for one of its keys: an index, a slot, a handle into an HSM. The core
/// only passes it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyHandle(pub u64);

/// What a provider tells the core about a key it resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyRecord {
    /// The provider's handle for the key.
    pub handle: KeyHandle,
    /// The canonical key ID, reported in responses.
    pub key_id: KeyId,
    /// The key's state.
    pub state: KeyState,
    /// The key's spec.
    pub spec: MasterKeySpec,
    /// The key's usage.
    pub usage: KeyUsage,
    /// The version that seals.
    pub primary_version: KeyVersionId,
}

/// The witness that a key passed the state and usage checks of spec §6: made only by
/// [`check_usable`], required by every seal and open.
#[derive(Debug, PartialEq, Eq)]
pub struct UsableKey {
    handle: KeyHandle,
    key_id: KeyId,
    version: KeyVersionId,
}

impl UsableKey {
    /// The provider's handle of the key.
    pub fn handle(&self) -> KeyHandle {
        self.handle
    }

    /// The canonical key ID.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The version to seal or open with.
    pub fn version(&self) -> KeyVersionId {
        self.version
    }
}

/// Step 4 of spec §7: the key's state, then its usage. Returns the witness that `version` of
/// the key may be used.
///
/// # Errors
/// `Rejected.Disabled`, `Rejected.PendingDeletion`, `Rejected.PendingImport`,
/// `Rejected.Unavailable` by state; then `UnsupportedOperation` for a key that is not a
/// symmetric ENCRYPT/DECRYPT key **\[decided: state before usage\]**.
pub fn check_usable(record: &KeyRecord, version: KeyVersionId) -> Result<UsableKey, Error> {
    if let Some(rejection) = record.state.rejection() {
        return Err(rejection);
    }
    if !record.spec.is_symmetric() || record.usage != KeyUsage::EncryptDecrypt {
        return Err(Error::UnsupportedOperation);
    }
    Ok(UsableKey {
        handle: record.handle,
        key_id: record.key_id,
        version,
    })
}
