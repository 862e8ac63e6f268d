//! A key provider of fixed capacity, for devices that hold a few master keys and have no
//! allocator: `KEYS` keys of up to `VERSIONS` versions each, one account and one region, looked
//! up by linear scan. A device has no management API: keys are provisioned, with known IDs and
//! material or fresh ones, and their state is set directly.

use core::fmt;

use rand_core::TryCryptoRng;

use crate::blob::{Iv, Tag};
use crate::provider::VersionCipher;
use crate::provider::{KeyCipher, KeyDirectory, ProviderError, SealBudget, SecureRandom};
use crate::reference::is_valid_alias;
use crate::{
    AuthorizedKey, Caller, InstanceId, KeyHandle, KeyId, KeyRecord, KeyState, KeyVersionId,
    MasterKeyMaterial, MasterKeySpec, Permission, RngError,
};

/// Why provisioning a [`FixedCapacityProvider`] failed. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProvisionError {
    /// Every key slot is taken.
    Full,
    /// The key has as many versions as it may hold.
    TooManyVersions,
    /// The key ID is present already.
    DuplicateKeyId,
    /// The version ID is present already.
    DuplicateVersionId,
    /// No such key.
    UnknownKey,
    /// The alias is not `alias/` and 1..=255 of `A-Za-z0-9_-/`.
    InvalidAlias,
    /// Another key has the alias.
    AliasTaken,
    /// The RNG failed.
    Rng,
}

impl fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProvisionError::Full => "every key slot is taken",
            ProvisionError::TooManyVersions => "the key holds as many versions as it may",
            ProvisionError::DuplicateKeyId => "the key ID is present already",
            ProvisionError::DuplicateVersionId => "the version ID is present already",
            ProvisionError::UnknownKey => "no such key",
            ProvisionError::InvalidAlias => "invalid alias",
            ProvisionError::AliasTaken => "another key has the alias",
            ProvisionError::Rng => "the random number generator failed",
        })
    }
}

impl core::error::Error for ProvisionError {}

impl From<RngError> for ProvisionError {
    fn from(_: RngError) -> Self {
        ProvisionError::Rng
    }
}

/// Up to `N` bytes of ASCII text held inline.
#[derive(Clone, Copy)]
struct InlineText<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

impl<const N: usize> InlineText<N> {
    fn new(text: &str) -> Option<Self> {
        if text.len() > N || !text.is_ascii() {
            return None;
        }
        let mut bytes = [0u8; N];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        Some(Self {
            len: text.len(),
            bytes,
        })
    }

    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

struct FixedVersion {
    id: KeyVersionId,
    cipher: VersionCipher,
    budget: SealBudget,
}

struct FixedKey<const VERSIONS: usize> {
    key_id: KeyId,
    alias: Option<InlineText<{ 6 + crate::reference::MAX_ALIAS_NAME_LEN }>>,
    state: KeyState,
    versions: [Option<FixedVersion>; VERSIONS],
    primary: usize,
    instance: Option<InstanceId>,
}

impl<const VERSIONS: usize> FixedKey<VERSIONS> {
    fn record(&self, slot: usize) -> Option<KeyRecord> {
        let primary = self.versions[self.primary].as_ref()?;
        let record = KeyRecord::new(KeyHandle(slot as u64), self.key_id, primary.id)
            .with_state(self.state)
            .with_spec(primary.cipher.material().spec());
        Some(match self.instance {
            Some(instance) => record.with_instance(instance),
            None => record,
        })
    }
}

/// Up to `KEYS` symmetric master keys of one account in one region, each with up to `VERSIONS`
/// versions, in a fixed-size value: no allocation. Only the owning account may use them.
///
/// A version that has sealed 2^32 times refuses further seals (`InternalFailure`); rotate with
/// [`add_version`](Self::add_version).
pub struct FixedCapacityProvider<const KEYS: usize, const VERSIONS: usize = 2> {
    account: InlineText<64>,
    region: InlineText<64>,
    keys: [Option<FixedKey<VERSIONS>>; KEYS],
}

impl<const KEYS: usize, const VERSIONS: usize> core::fmt::Debug
    for FixedCapacityProvider<KEYS, VERSIONS>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FixedCapacityProvider")
            .field("account", &self.account.as_str())
            .field("region", &self.region.as_str())
            .field("keys", &self.keys.iter().flatten().count())
            .finish_non_exhaustive()
    }
}

impl<const KEYS: usize, const VERSIONS: usize> FixedCapacityProvider<KEYS, VERSIONS> {
    /// An empty provider for `account` in `region` (each at most 64 ASCII bytes).
    pub fn new(account: &str, region: &str) -> Option<Self> {
        Some(Self {
            account: InlineText::new(account)?,
            region: InlineText::new(region)?,
            keys: [const { None }; KEYS],
        })
    }

    fn slot(&self, key_id: &KeyId) -> Option<usize> {
        self.keys
            .iter()
            .position(|k| k.as_ref().is_some_and(|k| k.key_id == *key_id))
    }

    fn key_mut(&mut self, key_id: &KeyId) -> Result<&mut FixedKey<VERSIONS>, ProvisionError> {
        let slot = self.slot(key_id).ok_or(ProvisionError::UnknownKey)?;
        self.keys[slot].as_mut().ok_or(ProvisionError::UnknownKey)
    }

    /// Adds a key with known IDs and material, for instance provisioned from secure storage.
    /// It starts Enabled.
    ///
    /// # Errors
    /// [`ProvisionError::Full`] when every slot is taken or `VERSIONS` is 0;
    /// [`ProvisionError::DuplicateKeyId`] or [`ProvisionError::DuplicateVersionId`].
    pub fn add_key(
        &mut self,
        key_id: KeyId,
        version: KeyVersionId,
        material: MasterKeyMaterial,
    ) -> Result<(), ProvisionError> {
        if self.slot(&key_id).is_some() {
            return Err(ProvisionError::DuplicateKeyId);
        }
        if self.find(&version).is_some() {
            return Err(ProvisionError::DuplicateVersionId);
        }
        let slot = self
            .keys
            .iter()
            .position(Option::is_none)
            .ok_or(ProvisionError::Full)?;
        let mut versions = [const { None }; VERSIONS];
        *versions.first_mut().ok_or(ProvisionError::Full)? = Some(FixedVersion {
            id: version,
            cipher: VersionCipher::new(material),
            budget: SealBudget::new(SealBudget::MAX, 0),
        });
        self.keys[slot] = Some(FixedKey {
            key_id,
            alias: None,
            state: KeyState::Enabled,
            versions,
            primary: 0,
            instance: None,
        });
        Ok(())
    }

    /// Creates a key with fresh IDs and material from `rng` and returns its ID.
    ///
    /// # Errors
    /// As [`add_key`](Self::add_key), and [`ProvisionError::Rng`] when the RNG fails (or the
    /// spec has no AES material).
    pub fn create_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        spec: MasterKeySpec,
    ) -> Result<KeyId, ProvisionError> {
        let key_id = KeyId::random(rng)?;
        let version = KeyVersionId::random(rng)?;
        let material = MasterKeyMaterial::random(spec, rng).map_err(|_| ProvisionError::Rng)?;
        self.add_key(key_id, version, material)?;
        Ok(key_id)
    }

    /// Adds a version with known material to a key and makes it primary (rotation).
    ///
    /// # Errors
    /// [`ProvisionError::UnknownKey`]; [`ProvisionError::TooManyVersions`] when the key has
    /// `VERSIONS` versions already; [`ProvisionError::DuplicateVersionId`].
    pub fn add_version(
        &mut self,
        key_id: &KeyId,
        version: KeyVersionId,
        material: MasterKeyMaterial,
    ) -> Result<(), ProvisionError> {
        if self.find(&version).is_some() {
            return Err(ProvisionError::DuplicateVersionId);
        }
        let key = self.key_mut(key_id)?;
        let free = key
            .versions
            .iter()
            .position(Option::is_none)
            .ok_or(ProvisionError::TooManyVersions)?;
        key.versions[free] = Some(FixedVersion {
            id: version,
            cipher: VersionCipher::new(material),
            budget: SealBudget::new(SealBudget::MAX, 0),
        });
        key.primary = free;
        Ok(())
    }

    /// Gives a key its alias (one per key; a second call replaces the first).
    ///
    /// # Errors
    /// [`ProvisionError::InvalidAlias`], [`ProvisionError::UnknownKey`],
    /// [`ProvisionError::AliasTaken`] when another key has it.
    pub fn set_alias(&mut self, key_id: &KeyId, alias: &str) -> Result<(), ProvisionError> {
        let text = InlineText::new(alias)
            .filter(|_| is_valid_alias(alias))
            .ok_or(ProvisionError::InvalidAlias)?;
        if self
            .by_alias(alias)
            .is_some_and(|(_, k)| k.key_id != *key_id)
        {
            return Err(ProvisionError::AliasTaken);
        }
        self.key_mut(key_id)?.alias = Some(text);
        Ok(())
    }

    /// Places a key in KMS instance `instance`, whose API then serves it
    /// ([`crate::instance`]).
    ///
    /// # Errors
    /// [`ProvisionError::UnknownKey`].
    pub fn set_instance(
        &mut self,
        key_id: &KeyId,
        instance: InstanceId,
    ) -> Result<(), ProvisionError> {
        self.key_mut(key_id)?.instance = Some(instance);
        Ok(())
    }

    /// Sets a key's state directly (a device has no management API).
    ///
    /// # Errors
    /// [`ProvisionError::UnknownKey`].
    pub fn set_state(&mut self, key_id: &KeyId, state: KeyState) -> Result<(), ProvisionError> {
        self.key_mut(key_id)?.state = state;
        Ok(())
    }

    fn by_alias(&self, alias: &str) -> Option<(usize, &FixedKey<VERSIONS>)> {
        self.keys.iter().enumerate().find_map(|(i, k)| {
            k.as_ref()
                .filter(|k| k.alias.as_ref().is_some_and(|a| a.as_str() == alias))
                .map(|k| (i, k))
        })
    }

    fn find(&self, version: &KeyVersionId) -> Option<(usize, usize)> {
        self.keys.iter().enumerate().find_map(|(i, k)| {
            let k = k.as_ref()?;
            let v = k
                .versions
                .iter()
                .position(|v| v.as_ref().is_some_and(|v| v.id == *version))?;
            Some((i, v))
        })
    }

    fn ours(&self, account: &str, region: &str) -> bool {
        account == self.account.as_str() && region == self.region.as_str()
    }

    fn version(&self, key: &AuthorizedKey) -> Result<&FixedVersion, ProviderError> {
        let (slot, v) = self.find(&key.version()).ok_or(ProviderError::Internal)?;
        if slot as u64 != key.handle().0 {
            return Err(ProviderError::Internal);
        }
        self.keys[slot]
            .as_ref()
            .and_then(|k| k.versions[v].as_ref())
            .ok_or(ProviderError::Internal)
    }
}

impl<const KEYS: usize, const VERSIONS: usize> KeyDirectory
    for FixedCapacityProvider<KEYS, VERSIONS>
{
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        if !self.ours(account, region) {
            return Ok(None);
        }
        Ok(self
            .slot(key_id)
            .and_then(|s| self.keys[s].as_ref()?.record(s)))
    }

    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        if !self.ours(account, region) {
            return Ok(None);
        }
        Ok(self.by_alias(alias).and_then(|(s, k)| k.record(s)))
    }

    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        if region != self.region.as_str() {
            return Ok(None);
        }
        Ok(self
            .find(version)
            .and_then(|(s, _)| self.keys[s].as_ref()?.record(s)))
    }

    fn permits(
        &self,
        _key: &KeyRecord,
        caller: &Caller<'_>,
        _permission: Permission,
    ) -> Result<bool, ProviderError> {
        Ok(caller.account == self.account.as_str())
    }
}

impl<const KEYS: usize, const VERSIONS: usize> KeyCipher for FixedCapacityProvider<KEYS, VERSIONS> {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError> {
        let version = self.version(key)?;
        version
            .cipher
            .seal_random_iv(aad, in_out, rng, &version.budget)
    }

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        self.version(key)?.cipher.open(iv, aad, in_out, tag)
    }
}
