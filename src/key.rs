//! What a key is: its state, spec, usage and origin, the record a key directory reports for it,
//! and the permissions that name what a caller may do with it.

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
    /// `EC_P256`: an asymmetric key (NIST P-256).
    EcP256,
    /// `RSA_3072`: an asymmetric key.
    Rsa3072,
    /// `EC_P256K`: an asymmetric key (secp256k1).
    EcP256K,
    /// `EC_SM2`: an asymmetric key (the SM2 curve).
    EcSm2,
}

impl MasterKeySpec {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            MasterKeySpec::Aes256 => "Aliyun_AES_256",
            MasterKeySpec::Aes128 => "Aliyun_AES_128",
            MasterKeySpec::Rsa2048 => "RSA_2048",
            MasterKeySpec::EcP256 => "EC_P256",
            MasterKeySpec::Rsa3072 => "RSA_3072",
            MasterKeySpec::EcP256K => "EC_P256K",
            MasterKeySpec::EcSm2 => "EC_SM2",
        }
    }

    /// Parses a wire name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Aes256,
            Self::Aes128,
            Self::Rsa2048,
            Self::EcP256,
            Self::Rsa3072,
            Self::EcP256K,
            Self::EcSm2,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// The length of AES material, `None` for an asymmetric spec.
    pub const fn material_len(self) -> Option<usize> {
        match self {
            MasterKeySpec::Aes256 => Some(32),
            MasterKeySpec::Aes128 => Some(16),
            MasterKeySpec::Rsa2048
            | MasterKeySpec::EcP256
            | MasterKeySpec::Rsa3072
            | MasterKeySpec::EcP256K
            | MasterKeySpec::EcSm2 => None,
        }
    }

    /// The asymmetric spec this is (feature `asymmetric`); `None` for AES.
    #[cfg(feature = "asymmetric")]
    pub const fn asymmetric(self) -> Option<crate::asymmetric::AsymmetricSpec> {
        use crate::asymmetric::AsymmetricSpec;
        match self {
            MasterKeySpec::Aes256 | MasterKeySpec::Aes128 => None,
            MasterKeySpec::Rsa2048 => Some(AsymmetricSpec::Rsa2048),
            MasterKeySpec::Rsa3072 => Some(AsymmetricSpec::Rsa3072),
            MasterKeySpec::EcP256 => Some(AsymmetricSpec::EcP256),
            MasterKeySpec::EcP256K => Some(AsymmetricSpec::EcP256K),
            MasterKeySpec::EcSm2 => Some(AsymmetricSpec::EcSm2),
        }
    }

    /// The master key spec of an asymmetric spec (feature `asymmetric`).
    #[cfg(feature = "asymmetric")]
    pub const fn of_asymmetric(spec: crate::asymmetric::AsymmetricSpec) -> Self {
        use crate::asymmetric::AsymmetricSpec;
        match spec {
            AsymmetricSpec::Rsa2048 => MasterKeySpec::Rsa2048,
            AsymmetricSpec::Rsa3072 => MasterKeySpec::Rsa3072,
            AsymmetricSpec::EcP256 => MasterKeySpec::EcP256,
            AsymmetricSpec::EcP256K => MasterKeySpec::EcP256K,
            AsymmetricSpec::EcSm2 => MasterKeySpec::EcSm2,
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

/// What a key directory tells the core about a key it resolved. Make one with
/// [`KeyRecord::new`] and the `with_*` setters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(C)]
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
    /// The KMS instance that holds the key, if any: the KMS-instance API
    /// ([`crate::instance`]) serves only its own instance's keys.
    pub instance: Option<crate::InstanceId>,
}

impl KeyRecord {
    /// An Enabled, `Aliyun_AES_256`, ENCRYPT/DECRYPT key.
    pub const fn new(handle: KeyHandle, key_id: KeyId, primary_version: KeyVersionId) -> Self {
        Self {
            handle,
            key_id,
            state: KeyState::Enabled,
            spec: MasterKeySpec::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            primary_version,
            instance: None,
        }
    }

    /// The same record for a key held in KMS instance `instance`.
    #[must_use]
    pub const fn with_instance(self, instance: crate::InstanceId) -> Self {
        Self {
            instance: Some(instance),
            ..self
        }
    }

    /// The same record in another state.
    #[must_use]
    pub const fn with_state(self, state: KeyState) -> Self {
        Self { state, ..self }
    }

    /// The same record with another spec.
    #[must_use]
    pub const fn with_spec(self, spec: MasterKeySpec) -> Self {
        Self { spec, ..self }
    }

    /// The same record with another usage.
    #[must_use]
    pub const fn with_usage(self, usage: KeyUsage) -> Self {
        Self { usage, ..self }
    }

    /// Step 4 of spec §7 for an operation of `permission`: the key's state, then its spec and
    /// usage **\[decided: state before usage\]**. The data-key operations need a symmetric
    /// `ENCRYPT/DECRYPT` key; the asymmetric ones an asymmetric key of their usage.
    #[inline]
    pub(crate) const fn check_usable(&self, permission: Permission) -> Result<(), Error> {
        if let Some(rejection) = self.state.rejection() {
            return Err(rejection);
        }
        let (usage, asymmetric) = permission.needs();
        let usage_fits = match usage {
            Some(KeyUsage::EncryptDecrypt) => matches!(self.usage, KeyUsage::EncryptDecrypt),
            Some(KeyUsage::SignVerify) => matches!(self.usage, KeyUsage::SignVerify),
            None => true,
        };
        if self.spec.is_symmetric() == asymmetric || !usage_fits {
            return Err(Error::UnsupportedOperation);
        }
        Ok(())
    }
}

/// What a caller may do with a key, as a key policy names it. ReEncrypt needs
/// [`ReEncryptFrom`](Self::ReEncryptFrom) on the source key and
/// [`ReEncryptTo`](Self::ReEncryptTo) on the destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
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
    /// `kms:AsymmetricSign`: sign a digest with an asymmetric `SIGN/VERIFY` key.
    AsymmetricSign,
    /// `kms:AsymmetricVerify`: verify a signature with one.
    AsymmetricVerify,
    /// `kms:AsymmetricEncrypt`: encrypt to an asymmetric `ENCRYPT/DECRYPT` key.
    AsymmetricEncrypt,
    /// `kms:AsymmetricDecrypt`: decrypt with one.
    AsymmetricDecrypt,
    /// `kms:GetPublicKey`: read an asymmetric key's public key.
    GetPublicKey,
}

impl Permission {
    /// Every permission a key policy can grant another account (the asymmetric ones are the
    /// owner's alone, **\[decided\]**: see `docs/asymmetric.md`).
    pub const ALL: [Permission; 6] = [
        Permission::GenerateDataKey,
        Permission::GenerateDataKeyWithoutPlaintext,
        Permission::Encrypt,
        Permission::Decrypt,
        Permission::ReEncryptFrom,
        Permission::ReEncryptTo,
    ];

    /// The permission's name, `kms:` and the operation.
    pub const fn name(self) -> &'static str {
        match self {
            Permission::GenerateDataKey => "kms:GenerateDataKey",
            Permission::GenerateDataKeyWithoutPlaintext => "kms:GenerateDataKeyWithoutPlaintext",
            Permission::Encrypt => "kms:Encrypt",
            Permission::Decrypt => "kms:Decrypt",
            Permission::ReEncryptFrom => "kms:ReEncryptFrom",
            Permission::ReEncryptTo => "kms:ReEncryptTo",
            Permission::AsymmetricSign => "kms:AsymmetricSign",
            Permission::AsymmetricVerify => "kms:AsymmetricVerify",
            Permission::AsymmetricEncrypt => "kms:AsymmetricEncrypt",
            Permission::AsymmetricDecrypt => "kms:AsymmetricDecrypt",
            Permission::GetPublicKey => "kms:GetPublicKey",
        }
    }

    /// The usage an operation of this permission needs, and whether it needs an asymmetric
    /// key (`true`) or a symmetric one (`false`); `None` for GetPublicKey, which any
    /// asymmetric key answers.
    pub const fn needs(self) -> (Option<KeyUsage>, bool) {
        match self {
            Permission::AsymmetricSign | Permission::AsymmetricVerify => {
                (Some(KeyUsage::SignVerify), true)
            }
            Permission::AsymmetricEncrypt | Permission::AsymmetricDecrypt => {
                (Some(KeyUsage::EncryptDecrypt), true)
            }
            Permission::GetPublicKey => (None, true),
            _ => (Some(KeyUsage::EncryptDecrypt), false),
        }
    }

    /// Whether the permission seals with a version's AES key (counted against its budget).
    pub const fn seals(self) -> bool {
        matches!(
            self,
            Permission::GenerateDataKey
                | Permission::GenerateDataKeyWithoutPlaintext
                | Permission::Encrypt
                | Permission::ReEncryptTo
        )
    }
}
