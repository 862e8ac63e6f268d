//! A key provider of fixed capacity, for devices that hold a few master keys and have no
//! allocator: `KEYS` keys of up to `VERSIONS` versions each, one account and one region, looked
//! up by linear scan.

use rand_core::TryCryptoRng;

use crate::blob::{IV_LEN, TAG_LEN};
use crate::key_id::is_valid_alias;
use crate::provider::{Action, KeyProvider, ProviderError, VersionCipher};
use crate::{
    Caller, Error, KeyHandle, KeyId, KeyRecord, KeyState, KeyUsage, KeyVersionId,
    MasterKeyMaterial, Parameter, UsableKey,
};

/// The most seals a version makes before this provider refuses (spec §10).
pub const FIXED_SEAL_LIMIT: u64 = 1 << 32;

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
    seals: u64,
}

struct FixedKey<const VERSIONS: usize> {
    key_id: KeyId,
    alias: Option<InlineText<{ 6 + crate::key_id::MAX_ALIAS_NAME_LEN }>>,
    state: KeyState,
    versions: [Option<FixedVersion>; VERSIONS],
    primary: usize,
}

impl<const VERSIONS: usize> FixedKey<VERSIONS> {
    fn record(&self, slot: usize) -> Option<KeyRecord> {
        Some(KeyRecord {
            handle: KeyHandle(slot as u64),
            key_id: self.key_id,
            state: self.state,
            spec: self.versions[self.primary]
                .as_ref()?
                .cipher
                .material()
                .spec(),
            usage: KeyUsage::EncryptDecrypt,
            primary_version: self.versions[self.primary].as_ref()?.id,
        })
    }
}

/// Up to `KEYS` symmetric master keys of one account in one region, each with up to `VERSIONS`
/// versions, in a fixed-size value: no allocation. Only the owning account may use them.
///
/// A version that has sealed 2^32 times refuses further seals ([`Error::SealLimitReached`]);
/// rotate with [`add_version`](Self::add_version).
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

    fn slot(&self, key_id: &KeyId) -> Result<usize, Error> {
        self.keys
            .iter()
            .position(|k| k.as_ref().is_some_and(|k| k.key_id == *key_id))
            .ok_or(Error::KeyNotFound)
    }

    fn key_mut(&mut self, key_id: &KeyId) -> Result<&mut FixedKey<VERSIONS>, Error> {
        let slot = self.slot(key_id)?;
        self.keys[slot].as_mut().ok_or(Error::KeyNotFound)
    }

    /// Adds a key with known IDs and material, for instance provisioned from secure storage.
    /// It starts Enabled.
    ///
    /// # Errors
    /// [`Error::InternalFailure`] when every slot is taken or `VERSIONS` is 0;
    /// [`Error::StateModifiedFailed`] when the key ID or version ID is already present.
    pub fn add_key(
        &mut self,
        key_id: KeyId,
        version: KeyVersionId,
        material: MasterKeyMaterial,
    ) -> Result<(), Error> {
        if self.slot(&key_id).is_ok() || self.find(&version).is_some() {
            return Err(Error::StateModifiedFailed);
        }
        let slot = self
            .keys
            .iter()
            .position(Option::is_none)
            .ok_or(Error::InternalFailure)?;
        let mut versions = [const { None }; VERSIONS];
        *versions.first_mut().ok_or(Error::InternalFailure)? = Some(FixedVersion {
            id: version,
            cipher: VersionCipher::new(material),
            seals: 0,
        });
        self.keys[slot] = Some(FixedKey {
            key_id,
            alias: None,
            state: KeyState::Enabled,
            versions,
            primary: 0,
        });
        Ok(())
    }

    /// Creates a key with fresh IDs and material from `rng` and returns its ID.
    ///
    /// # Errors
    /// As [`add_key`](Self::add_key), and [`Error::InternalFailure`] when the RNG fails.
    pub fn create_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        spec: crate::MasterKeySpec,
    ) -> Result<KeyId, Error> {
        let key_id = KeyId::random(rng)?;
        let version = KeyVersionId::random(rng)?;
        self.add_key(key_id, version, MasterKeyMaterial::random(spec, rng)?)?;
        Ok(key_id)
    }

    /// Adds a version with known material to a key and makes it primary (rotation).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::InternalFailure`] when the key has `VERSIONS` versions
    /// already; [`Error::StateModifiedFailed`] when the version ID is present.
    pub fn add_version(
        &mut self,
        key_id: &KeyId,
        version: KeyVersionId,
        material: MasterKeyMaterial,
    ) -> Result<(), Error> {
        if self.find(&version).is_some() {
            return Err(Error::StateModifiedFailed);
        }
        let key = self.key_mut(key_id)?;
        let free = key
            .versions
            .iter()
            .position(Option::is_none)
            .ok_or(Error::InternalFailure)?;
        key.versions[free] = Some(FixedVersion {
            id: version,
            cipher: VersionCipher::new(material),
            seals: 0,
        });
        key.primary = free;
        Ok(())
    }

    /// Gives a key its alias (one per key; a second call replaces the first).
    ///
    /// # Errors
    /// `InvalidParameter AliasName`; [`Error::KeyNotFound`]; [`Error::AliasAlreadyExists`] when
    /// another key has it.
    pub fn set_alias(&mut self, key_id: &KeyId, alias: &str) -> Result<(), Error> {
        let text = InlineText::new(alias)
            .filter(|_| is_valid_alias(alias))
            .ok_or(Error::InvalidParameter(Parameter::AliasName))?;
        if self
            .by_alias(alias)
            .is_some_and(|(_, k)| k.key_id != *key_id)
        {
            return Err(Error::AliasAlreadyExists);
        }
        self.key_mut(key_id)?.alias = Some(text);
        Ok(())
    }

    /// Sets a key's state directly (a device has no management API).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_state(&mut self, key_id: &KeyId, state: KeyState) -> Result<(), Error> {
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

    fn version(&self, key: &UsableKey) -> Result<&FixedVersion, ProviderError> {
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

impl<const KEYS: usize, const VERSIONS: usize> KeyProvider
    for FixedCapacityProvider<KEYS, VERSIONS>
{
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        if !self.ours(account, region) {
            return Ok(None);
        }
        let Some(id) = KeyId::parse(key_id) else {
            return Ok(None);
        };
        Ok(self
            .slot(&id)
            .ok()
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

    fn permits(&self, _key: &KeyRecord, caller: &Caller<'_>, _action: Action) -> bool {
        caller.account == self.account.as_str()
    }

    fn seal<R: TryCryptoRng + ?Sized>(
        &mut self,
        key: &UsableKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        _rng: &mut R,
    ) -> Result<[u8; TAG_LEN], ProviderError> {
        let (slot, v) = self.find(&key.version()).ok_or(ProviderError::Internal)?;
        if slot as u64 != key.handle().0 {
            return Err(ProviderError::Internal);
        }
        let version = self.keys[slot]
            .as_mut()
            .and_then(|k| k.versions[v].as_mut())
            .ok_or(ProviderError::Internal)?;
        if version.seals >= FIXED_SEAL_LIMIT {
            return Err(ProviderError::SealLimitReached);
        }
        let tag = version.cipher.seal(iv, aad, in_out)?;
        version.seals += 1;
        Ok(tag)
    }

    fn open(
        &self,
        key: &UsableKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8; TAG_LEN],
    ) -> Result<(), ProviderError> {
        self.version(key)?.cipher.open(iv, aad, in_out, tag)
    }
}
