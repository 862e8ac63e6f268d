//! The in-memory key provider (with `alloc`): the embedded default.
//!
//! Keys, versions and aliases live in hash maps, so lookups cost the same with one key or a
//! million. Every version's AES key schedule is built once, when its material arrives.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};
use core::time::Duration;

use hashbrown::{Equivalent, HashMap};
use rand_core::TryCryptoRng;

use crate::blob::{IV_LEN, TAG_LEN};
use crate::key_id::{is_reserved_alias, is_valid_alias};
use crate::provider::{Action, KeyProvider, ProviderError, VersionCipher};
use crate::{
    Caller, Error, KeyHandle, KeyId, KeyOrigin, KeyRecord, KeyState, KeyUsage, KeyVersionId,
    MasterKeyMaterial, MasterKeySpec, Parameter, UsableKey,
};

pub mod snapshot;

/// The NIST SP 800-38D limit for random 96-bit IVs: seals per key version (spec §10).
pub const DEFAULT_SEAL_LIMIT: u64 = 1 << 32;

/// What the provider does when a key version has sealed its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SealLimitAction {
    /// Make a new primary version (fresh material from the sealing request's RNG) as soon as the
    /// old one reaches the limit. The default.
    #[default]
    Rotate,
    /// Refuse further seals under the version: [`Error::SealLimitReached`].
    Refuse,
}

/// How to make a key with [`InMemoryProvider::create_key`]. Build it with [`KeyOptions::new`]
/// and the setters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyOptions<'a> {
    /// The owning account.
    pub account: &'a str,
    /// The key's region.
    pub region: &'a str,
    /// The spec; `Aliyun_AES_256` by default.
    pub spec: MasterKeySpec,
    /// The usage; ENCRYPT/DECRYPT by default.
    pub usage: KeyUsage,
    /// The origin; `Aliyun_KMS` by default. An `EXTERNAL` key waits in PendingImport until
    /// [`InMemoryProvider::import_key_material`].
    pub origin: KeyOrigin,
    /// A description, kept and reported by DescribeKey; empty by default.
    pub description: &'a str,
    /// When the key is made, as time since the Unix epoch; zero by default.
    pub created: Duration,
}

impl<'a> KeyOptions<'a> {
    /// A default key (`Aliyun_AES_256`, ENCRYPT/DECRYPT, `Aliyun_KMS`) of `account` in `region`.
    pub fn new(account: &'a str, region: &'a str) -> Self {
        Self {
            account,
            region,
            spec: MasterKeySpec::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::Kms,
            description: "",
            created: Duration::ZERO,
        }
    }

    /// The same options with another spec.
    pub fn spec(self, spec: MasterKeySpec) -> Self {
        Self { spec, ..self }
    }

    /// The same options with another usage.
    pub fn usage(self, usage: KeyUsage) -> Self {
        Self { usage, ..self }
    }

    /// The same options with another origin.
    pub fn origin(self, origin: KeyOrigin) -> Self {
        Self { origin, ..self }
    }

    /// The same options with a description.
    pub fn description(self, description: &'a str) -> Self {
        Self {
            description,
            ..self
        }
    }

    /// The same options with a creation time (since the Unix epoch).
    pub fn created(self, created: Duration) -> Self {
        Self { created, ..self }
    }
}

/// Which actions a policy grants another account, as a bit set over [`Action::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct ActionSet(u8);

impl ActionSet {
    fn of(actions: &[Action]) -> Self {
        Self(actions.iter().fold(0, |m, a| m | Self::bit(*a)))
    }

    fn bit(action: Action) -> u8 {
        1 << (action as u8)
    }

    fn contains(self, action: Action) -> bool {
        self.0 & Self::bit(action) != 0
    }
}

struct Version {
    id: KeyVersionId,
    /// `None` until material exists (a key pending import) and for asymmetric keys, whose
    /// material this provider does not model.
    /// Boxed, so the material never moves when the version list grows: a reallocation would
    /// free the old copy without zeroizing it.
    cipher: Option<Box<VersionCipher>>,
    seals: u64,
    created: Duration,
}

struct Key {
    key_id: KeyId,
    account: Box<str>,
    region: Box<str>,
    spec: MasterKeySpec,
    usage: KeyUsage,
    origin: KeyOrigin,
    state: KeyState,
    unavailable: bool,
    versions: Vec<Version>,
    primary: usize,
    policy: Vec<(Box<str>, ActionSet)>,
    description: Box<str>,
    created: Duration,
    /// When a scheduled deletion happens; `None` when none is scheduled, or when it was
    /// scheduled without a date (it then waits for [`InMemoryProvider::delete_key`]).
    delete_at: Option<Duration>,
}

impl Key {
    fn record(&self, index: usize) -> KeyRecord {
        KeyRecord {
            handle: KeyHandle(index as u64),
            key_id: self.key_id,
            state: if self.unavailable {
                KeyState::Unavailable
            } else {
                self.state
            },
            spec: self.spec,
            usage: self.usage,
            primary_version: self.versions[self.primary].id,
        }
    }
}

/// An alias, keyed by account, region and name.
#[derive(PartialEq, Eq)]
struct AliasKey {
    account: Box<str>,
    region: Box<str>,
    alias: Box<str>,
}

/// A borrowed alias lookup that hashes and compares like [`AliasKey`], so lookups allocate
/// nothing.
struct AliasQuery<'a> {
    account: &'a str,
    region: &'a str,
    alias: &'a str,
}

impl Hash for AliasKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        AliasQuery {
            account: &self.account,
            region: &self.region,
            alias: &self.alias,
        }
        .hash(h);
    }
}

impl Hash for AliasQuery<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.account.hash(h);
        self.region.hash(h);
        self.alias.hash(h);
    }
}

impl Equivalent<AliasKey> for AliasQuery<'_> {
    fn equivalent(&self, key: &AliasKey) -> bool {
        *key.account == *self.account && *key.region == *self.region && *key.alias == *self.alias
    }
}

/// An account in a region: the scope of key listings and alias names.
#[derive(PartialEq, Eq, Hash)]
struct ScopeKey {
    account: Box<str>,
    region: Box<str>,
}

struct ScopeQuery<'a> {
    account: &'a str,
    region: &'a str,
}

impl Hash for ScopeQuery<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.account.hash(h);
        self.region.hash(h);
    }
}

impl Equivalent<ScopeKey> for ScopeQuery<'_> {
    fn equivalent(&self, key: &ScopeKey) -> bool {
        *key.account == *self.account && *key.region == *self.region
    }
}

/// What an account holds in a region, in listing order.
#[derive(Default)]
struct Scope {
    /// Key slots, oldest first.
    keys: Vec<usize>,
    /// Alias names and the key slot each names, sorted by name.
    aliases: BTreeMap<Box<str>, usize>,
}

/// What the provider reports about a key beyond its [`KeyRecord`]: the metadata of
/// `DescribeKey`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyDetails {
    /// The key's record, as data-key operations see it.
    pub record: KeyRecord,
    /// The owning account.
    pub account: Box<str>,
    /// The key's region.
    pub region: Box<str>,
    /// The key's origin.
    pub origin: KeyOrigin,
    /// The state of the key itself, whatever the availability of its material.
    pub state: KeyState,
    /// The description given at creation.
    pub description: Box<str>,
    /// When the key was made, since the Unix epoch.
    pub created: Duration,
    /// When a scheduled deletion happens, if one is scheduled with a date.
    pub delete_at: Option<Duration>,
}

/// One alias, as listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AliasEntry<'a> {
    /// The alias, `alias/...` in full.
    pub alias: &'a str,
    /// The key it names.
    pub key_id: KeyId,
}

/// Master keys in memory, for any number of accounts and regions.
///
/// Keys live in slots that never move, so a [`KeyHandle`] stays valid until its key is deleted.
pub struct InMemoryProvider {
    keys: Vec<Option<Key>>,
    by_id: HashMap<KeyId, usize>,
    by_version: HashMap<KeyVersionId, (usize, usize)>,
    aliases: HashMap<AliasKey, usize>,
    scopes: HashMap<ScopeKey, Scope>,
    /// Scheduled deletions with a date, by date.
    deletions: BTreeSet<(Duration, usize)>,
    live: usize,
    seal_limit: u64,
    on_seal_limit: SealLimitAction,
}

impl Default for InMemoryProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl core::fmt::Debug for InMemoryProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("InMemoryProvider")
            .field("keys", &self.live)
            .field("aliases", &self.aliases.len())
            .field("seal_limit", &self.seal_limit)
            .field("on_seal_limit", &self.on_seal_limit)
            .finish_non_exhaustive()
    }
}

impl InMemoryProvider {
    /// An empty provider with the default seal limit (2^32 per version) that rotates at it.
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            by_id: HashMap::new(),
            by_version: HashMap::new(),
            aliases: HashMap::new(),
            scopes: HashMap::new(),
            deletions: BTreeSet::new(),
            live: 0,
            seal_limit: DEFAULT_SEAL_LIMIT,
            on_seal_limit: SealLimitAction::default(),
        }
    }

    /// Sets the seal limit per key version and what happens at it. Limits above 2^32 are
    /// lowered to 2^32; a limit of 0 is raised to 1.
    #[must_use]
    pub fn with_seal_limit(mut self, limit: u64, action: SealLimitAction) -> Self {
        self.seal_limit = limit.clamp(1, DEFAULT_SEAL_LIMIT);
        self.on_seal_limit = action;
        self
    }

    /// The seal limit per key version and what happens at it.
    pub fn seal_limit(&self) -> (u64, SealLimitAction) {
        (self.seal_limit, self.on_seal_limit)
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether the provider holds no key.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn slot(&self, index: usize) -> Option<&Key> {
        self.keys.get(index).and_then(Option::as_ref)
    }

    fn key_at(&self, index: usize) -> Result<&Key, Error> {
        self.slot(index).ok_or(Error::KeyNotFound)
    }

    fn key_at_mut(&mut self, index: usize) -> Result<&mut Key, Error> {
        self.keys
            .get_mut(index)
            .and_then(Option::as_mut)
            .ok_or(Error::KeyNotFound)
    }

    fn index(&self, key_id: &KeyId) -> Result<usize, Error> {
        self.by_id.get(key_id).copied().ok_or(Error::KeyNotFound)
    }

    fn key_mut(&mut self, key_id: &KeyId) -> Result<&mut Key, Error> {
        let i = self.index(key_id)?;
        self.key_at_mut(i)
    }

    /// Creates a key, with fresh IDs and (for a `Aliyun_KMS` symmetric key) fresh material from
    /// `rng`, and returns its ID. A symmetric key starts Enabled; an `EXTERNAL` one starts in
    /// PendingImport with a version that has no material yet.
    ///
    /// # Errors
    /// [`Error::InternalFailure`] when the RNG fails.
    pub fn create_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        options: &KeyOptions<'_>,
    ) -> Result<KeyId, Error> {
        let key_id = fresh(rng, KeyId::random, |id| self.by_id.contains_key(id))?;
        let version = self.fresh_version_id(rng)?;
        let (state, cipher) = match (options.origin, options.spec.is_symmetric()) {
            (KeyOrigin::External, _) => (KeyState::PendingImport, None),
            (KeyOrigin::Kms, true) => (
                KeyState::Enabled,
                Some(Box::new(VersionCipher::new(MasterKeyMaterial::random(
                    options.spec,
                    rng,
                )?))),
            ),
            (KeyOrigin::Kms, false) => (KeyState::Enabled, None),
        };
        self.insert_key(Key {
            key_id,
            account: options.account.into(),
            region: options.region.into(),
            spec: options.spec,
            usage: options.usage,
            origin: options.origin,
            state,
            unavailable: false,
            versions: alloc::vec![Version {
                id: version,
                cipher,
                seals: 0,
                created: options.created,
            }],
            primary: 0,
            policy: Vec::new(),
            description: options.description.into(),
            created: options.created,
            delete_at: None,
        });
        Ok(key_id)
    }

    /// Makes room for `additional` more keys (of one version each) without rehashing.
    pub fn reserve(&mut self, additional: usize) {
        self.keys.reserve(additional);
        self.by_id.reserve(additional);
        self.by_version.reserve(additional);
    }

    /// Puts a key in a new slot and indexes it (and its versions, and its deletion date).
    fn insert_key(&mut self, key: Key) -> usize {
        let index = self.keys.len();
        self.by_id.insert(key.key_id, index);
        for (v, version) in key.versions.iter().enumerate() {
            self.by_version.insert(version.id, (index, v));
        }
        if let Some(at) = key.delete_at {
            self.deletions.insert((at, index));
        }
        let query = ScopeQuery {
            account: &key.account,
            region: &key.region,
        };
        if let Some(scope) = self.scopes.get_mut(&query) {
            scope.keys.push(index);
        } else {
            let scope = Scope {
                keys: alloc::vec![index],
                aliases: BTreeMap::new(),
            };
            let scope_key = ScopeKey {
                account: key.account.clone(),
                region: key.region.clone(),
            };
            self.scopes.insert(scope_key, scope);
        }
        self.keys.push(Some(key));
        self.live += 1;
        index
    }

    fn fresh_version_id<R: TryCryptoRng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Result<KeyVersionId, Error> {
        fresh(rng, KeyVersionId::random, |id| {
            self.by_version.contains_key(id)
        })
    }

    /// The key's current record.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn describe(&self, key_id: &KeyId) -> Result<KeyRecord, Error> {
        let i = self.index(key_id)?;
        Ok(self.key_at(i)?.record(i))
    }

    /// The key's full metadata.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn details(&self, key_id: &KeyId) -> Result<KeyDetails, Error> {
        let i = self.index(key_id)?;
        let key = self.key_at(i)?;
        Ok(KeyDetails {
            record: key.record(i),
            account: key.account.clone(),
            region: key.region.clone(),
            origin: key.origin,
            state: key.state,
            description: key.description.clone(),
            created: key.created,
            delete_at: key.delete_at,
        })
    }

    /// The key's origin.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn origin(&self, key_id: &KeyId) -> Result<KeyOrigin, Error> {
        Ok(self.key_at(self.index(key_id)?)?.origin)
    }

    /// The IDs of the key's versions, oldest first.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn versions(
        &self,
        key_id: &KeyId,
    ) -> Result<impl Iterator<Item = KeyVersionId> + '_, Error> {
        Ok(self
            .key_at(self.index(key_id)?)?
            .versions
            .iter()
            .map(|v| v.id))
    }

    /// How many times a version has sealed.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] for an unknown version.
    pub fn seal_count(&self, version: &KeyVersionId) -> Result<u64, Error> {
        let (k, v) = *self.by_version.get(version).ok_or(Error::KeyNotFound)?;
        Ok(self.key_at(k)?.versions[v].seals)
    }

    /// The keys of `account` in `region`, oldest first.
    pub fn keys_of<'s>(&'s self, account: &str, region: &str) -> impl Iterator<Item = KeyId> + 's {
        self.scopes
            .get(&ScopeQuery { account, region })
            .into_iter()
            .flat_map(|scope| scope.keys.iter())
            .filter_map(|&i| self.slot(i).map(|k| k.key_id))
    }

    /// The aliases of `account` in `region`, sorted by name.
    pub fn aliases_of<'s>(
        &'s self,
        account: &str,
        region: &str,
    ) -> impl Iterator<Item = AliasEntry<'s>> + 's {
        self.scopes
            .get(&ScopeQuery { account, region })
            .into_iter()
            .flat_map(|scope| scope.aliases.iter())
            .filter_map(|(alias, &i)| {
                Some(AliasEntry {
                    alias,
                    key_id: self.slot(i)?.key_id,
                })
            })
    }

    /// Binds `alias` (`alias/...` in full) to a key of the same account and region.
    ///
    /// # Errors
    /// `InvalidParameter AliasName` for an ill-formed alias or one under the reserved
    /// `alias/acs/`; [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] for a key pending
    /// deletion; [`Error::AliasAlreadyExists`].
    pub fn create_alias(&mut self, alias: &str, key_id: &KeyId) -> Result<(), Error> {
        check_alias_name(alias)?;
        let index = self.index(key_id)?;
        let key = self.key_at(index)?;
        if key.state == KeyState::PendingDeletion {
            return Err(Error::StateModifiedFailed);
        }
        let query = AliasQuery {
            account: &key.account,
            region: &key.region,
            alias,
        };
        if self.aliases.contains_key(&query) {
            return Err(Error::AliasAlreadyExists);
        }
        let (account, region) = (key.account.clone(), key.region.clone());
        self.bind_alias(account, region, alias, index);
        Ok(())
    }

    fn bind_alias(&mut self, account: Box<str>, region: Box<str>, alias: &str, index: usize) {
        if let Some(scope) = self.scopes.get_mut(&ScopeQuery {
            account: &account,
            region: &region,
        }) {
            scope.aliases.insert(alias.into(), index);
        }
        self.aliases.insert(
            AliasKey {
                account,
                region,
                alias: alias.into(),
            },
            index,
        );
    }

    /// Points an existing alias of the key's account and region at another key.
    ///
    /// # Errors
    /// `InvalidParameter AliasName`; [`Error::KeyNotFound`]; [`Error::AliasNotFound`];
    /// [`Error::StateModifiedFailed`] for a key pending deletion.
    pub fn update_alias(&mut self, alias: &str, key_id: &KeyId) -> Result<(), Error> {
        check_alias_name(alias)?;
        let index = self.index(key_id)?;
        let key = self.key_at(index)?;
        let query = AliasQuery {
            account: &key.account,
            region: &key.region,
            alias,
        };
        if !self.aliases.contains_key(&query) {
            return Err(Error::AliasNotFound);
        }
        if key.state == KeyState::PendingDeletion {
            return Err(Error::StateModifiedFailed);
        }
        let (account, region) = (key.account.clone(), key.region.clone());
        self.bind_alias(account, region, alias, index);
        Ok(())
    }

    /// Removes an alias of `account` in `region`.
    ///
    /// # Errors
    /// [`Error::AliasNotFound`].
    pub fn delete_alias(&mut self, account: &str, region: &str, alias: &str) -> Result<(), Error> {
        self.aliases
            .remove(&AliasQuery {
                account,
                region,
                alias,
            })
            .ok_or(Error::AliasNotFound)?;
        if let Some(scope) = self.scopes.get_mut(&ScopeQuery { account, region }) {
            scope.aliases.remove(alias);
        }
        Ok(())
    }

    fn transition(&mut self, key_id: &KeyId, from: &[KeyState], to: KeyState) -> Result<(), Error> {
        let key = self.key_mut(key_id)?;
        if !from.contains(&key.state) {
            return Err(Error::StateModifiedFailed);
        }
        key.state = to;
        Ok(())
    }

    /// Enables a key (from Enabled or Disabled).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] in PendingDeletion or PendingImport.
    pub fn enable_key(&mut self, key_id: &KeyId) -> Result<(), Error> {
        self.transition(
            key_id,
            &[KeyState::Enabled, KeyState::Disabled],
            KeyState::Enabled,
        )
    }

    /// Disables a key (from Enabled or Disabled).
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] in PendingDeletion or PendingImport.
    pub fn disable_key(&mut self, key_id: &KeyId) -> Result<(), Error> {
        self.transition(
            key_id,
            &[KeyState::Enabled, KeyState::Disabled],
            KeyState::Disabled,
        )
    }

    /// Schedules a key for deletion (from Enabled, Disabled or PendingImport), with no date:
    /// it stays pending until [`delete_key`](Self::delete_key) or a cancellation.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] when already pending deletion.
    pub fn schedule_key_deletion(&mut self, key_id: &KeyId) -> Result<(), Error> {
        self.transition(
            key_id,
            &[
                KeyState::Enabled,
                KeyState::Disabled,
                KeyState::PendingImport,
            ],
            KeyState::PendingDeletion,
        )
    }

    /// Schedules a key for deletion at `delete_at` (since the Unix epoch): the key is deleted by
    /// the first [`delete_expired`](Self::delete_expired) whose time has passed it.
    ///
    /// # Errors
    /// As [`schedule_key_deletion`](Self::schedule_key_deletion).
    pub fn schedule_key_deletion_at(
        &mut self,
        key_id: &KeyId,
        delete_at: Duration,
    ) -> Result<(), Error> {
        self.schedule_key_deletion(key_id)?;
        let index = self.index(key_id)?;
        self.key_at_mut(index)?.delete_at = Some(delete_at);
        self.deletions.insert((delete_at, index));
        Ok(())
    }

    /// Cancels a scheduled deletion: the key returns to Enabled, or to PendingImport when it
    /// still has no material.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] unless pending deletion.
    pub fn cancel_key_deletion(&mut self, key_id: &KeyId) -> Result<(), Error> {
        let index = self.index(key_id)?;
        let key = self.key_at_mut(index)?;
        if key.state != KeyState::PendingDeletion {
            return Err(Error::StateModifiedFailed);
        }
        let has_material = key.versions[key.primary].cipher.is_some() || !key.spec.is_symmetric();
        key.state = if has_material {
            KeyState::Enabled
        } else {
            KeyState::PendingImport
        };
        if let Some(at) = key.delete_at.take() {
            self.deletions.remove(&(at, index));
        }
        Ok(())
    }

    /// Deletes every key whose scheduled deletion date is at or before `now`, with its versions
    /// (material zeroized) and aliases. Returns how many keys went.
    pub fn delete_expired(&mut self, now: Duration) -> usize {
        let mut deleted = 0;
        while let Some(&(at, index)) = self.deletions.first() {
            if at > now {
                break;
            }
            self.deletions.pop_first();
            if self.remove_slot(index) {
                deleted += 1;
            }
        }
        deleted
    }

    /// Deletes a key pending deletion now, whatever its date.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] unless pending deletion.
    pub fn delete_key(&mut self, key_id: &KeyId) -> Result<(), Error> {
        let index = self.index(key_id)?;
        let key = self.key_at(index)?;
        if key.state != KeyState::PendingDeletion {
            return Err(Error::StateModifiedFailed);
        }
        if let Some(at) = key.delete_at {
            self.deletions.remove(&(at, index));
        }
        self.remove_slot(index);
        Ok(())
    }

    fn remove_slot(&mut self, index: usize) -> bool {
        let Some(key) = self.keys.get_mut(index).and_then(Option::take) else {
            return false;
        };
        self.live -= 1;
        self.by_id.remove(&key.key_id);
        for version in &key.versions {
            self.by_version.remove(&version.id);
        }
        let scope_query = ScopeQuery {
            account: &key.account,
            region: &key.region,
        };
        if let Some(scope) = self.scopes.get_mut(&scope_query) {
            scope.keys.retain(|&i| i != index);
            let names: Vec<Box<str>> = scope
                .aliases
                .iter()
                .filter(|&(_, &i)| i == index)
                .map(|(name, _)| name.clone())
                .collect();
            for name in names {
                scope.aliases.remove(&name);
                self.aliases.remove(&AliasQuery {
                    account: &key.account,
                    region: &key.region,
                    alias: &name,
                });
            }
        }
        true
    }

    /// Imports material for an `EXTERNAL` key in PendingImport, which becomes Enabled.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::StateModifiedFailed`] unless the key is an external key
    /// pending import; [`Error::UnsupportedOperation`] when the material's length does not fit
    /// the key's spec.
    pub fn import_key_material(
        &mut self,
        key_id: &KeyId,
        material: MasterKeyMaterial,
    ) -> Result<(), Error> {
        let key = self.key_mut(key_id)?;
        if key.origin != KeyOrigin::External || key.state != KeyState::PendingImport {
            return Err(Error::StateModifiedFailed);
        }
        if material.spec() != key.spec {
            return Err(Error::UnsupportedOperation);
        }
        let primary = key.primary;
        key.versions[primary].cipher = Some(Box::new(VersionCipher::new(material)));
        key.state = KeyState::Enabled;
        Ok(())
    }

    /// Marks the key's material reachable or not, as an HSM outage would: while unavailable the
    /// key reports the Unavailable state.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_unavailable(&mut self, key_id: &KeyId, unavailable: bool) -> Result<(), Error> {
        self.key_mut(key_id)?.unavailable = unavailable;
        Ok(())
    }

    /// Rotates a symmetric key: a new version with fresh material becomes primary; older
    /// versions keep opening their blobs. Returns the new version's ID.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`]; [`Error::UnsupportedOperation`] for a key without AES material of
    /// its own (asymmetric or external); [`Error::InternalFailure`] when the RNG fails.
    pub fn rotate_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        key_id: &KeyId,
        rng: &mut R,
    ) -> Result<KeyVersionId, Error> {
        self.rotate_key_at(key_id, rng, Duration::ZERO)
    }

    /// As [`rotate_key`](Self::rotate_key), recording `now` as the new version's creation time.
    ///
    /// # Errors
    /// As [`rotate_key`](Self::rotate_key).
    pub fn rotate_key_at<R: TryCryptoRng + ?Sized>(
        &mut self,
        key_id: &KeyId,
        rng: &mut R,
        now: Duration,
    ) -> Result<KeyVersionId, Error> {
        let index = self.index(key_id)?;
        self.rotate_index(index, rng, now)
    }

    fn rotate_index<R: TryCryptoRng + ?Sized>(
        &mut self,
        index: usize,
        rng: &mut R,
        now: Duration,
    ) -> Result<KeyVersionId, Error> {
        let key = self.key_at(index)?;
        if !key.spec.is_symmetric() || key.origin == KeyOrigin::External {
            return Err(Error::UnsupportedOperation);
        }
        let spec = key.spec;
        let id = self.fresh_version_id(rng)?;
        let cipher = Box::new(VersionCipher::new(MasterKeyMaterial::random(spec, rng)?));
        let key = self.key_at_mut(index)?;
        key.versions.push(Version {
            id,
            cipher: Some(cipher),
            seals: 0,
            created: now,
        });
        key.primary = key.versions.len() - 1;
        let primary = key.primary;
        self.by_version.insert(id, (index, primary));
        Ok(id)
    }

    /// Lets `account` (another account) perform `actions` with the key. Replaces what the
    /// policy granted that account before; an empty list revokes.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_policy(
        &mut self,
        key_id: &KeyId,
        account: &str,
        actions: &[Action],
    ) -> Result<(), Error> {
        let key = self.key_mut(key_id)?;
        key.policy.retain(|(a, _)| &**a != account);
        if !actions.is_empty() {
            key.policy.push((account.into(), ActionSet::of(actions)));
        }
        Ok(())
    }

    /// Lets `account` perform every data-key action with the key.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn allow_account(&mut self, key_id: &KeyId, account: &str) -> Result<(), Error> {
        self.set_policy(key_id, account, &Action::ALL)
    }

    fn version(&self, key: &UsableKey) -> Result<(usize, usize), ProviderError> {
        let k = usize::try_from(key.handle().0).map_err(|_| ProviderError::Internal)?;
        let entry = self.slot(k).ok_or(ProviderError::Internal)?;
        if entry.unavailable {
            return Err(ProviderError::Unavailable);
        }
        // Sealing uses the primary version: find it without hashing.
        let wanted = key.version();
        if entry.versions[entry.primary].id == wanted {
            return Ok((k, entry.primary));
        }
        match self.by_version.get(&wanted) {
            Some(&(owner, v)) if owner == k => Ok((k, v)),
            _ => Err(ProviderError::Internal),
        }
    }
}

/// Draws IDs until one is not `taken`. A collision of random 122-bit IDs means a broken RNG: after
/// a few tries it is an error, not a loop that never ends.
fn fresh<R: TryCryptoRng + ?Sized, T>(
    rng: &mut R,
    draw: impl Fn(&mut R) -> Result<T, Error>,
    taken: impl Fn(&T) -> bool,
) -> Result<T, Error> {
    for _ in 0..8 {
        let id = draw(rng)?;
        if !taken(&id) {
            return Ok(id);
        }
    }
    Err(Error::InternalFailure)
}

fn check_alias_name(alias: &str) -> Result<(), Error> {
    if is_valid_alias(alias) && !is_reserved_alias(alias) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(Parameter::AliasName))
    }
}

impl KeyProvider for InMemoryProvider {
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        let Some(id) = KeyId::parse(key_id) else {
            return Ok(None);
        };
        Ok(self.by_id.get(&id).and_then(|&i| {
            let key = self.slot(i)?;
            (*key.account == *account && *key.region == *region).then(|| key.record(i))
        }))
    }

    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        let query = AliasQuery {
            account,
            region,
            alias,
        };
        Ok(self
            .aliases
            .get(&query)
            .and_then(|&i| Some(self.slot(i)?.record(i))))
    }

    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        Ok(self.by_version.get(version).and_then(|&(k, _)| {
            let key = self.slot(k)?;
            (*key.region == *region).then(|| key.record(k))
        }))
    }

    fn permits(&self, key: &KeyRecord, caller: &Caller<'_>, action: Action) -> bool {
        let Some(entry) = usize::try_from(key.handle.0)
            .ok()
            .and_then(|i| self.slot(i))
        else {
            return false;
        };
        *entry.account == *caller.account
            || entry
                .policy
                .iter()
                .any(|(a, set)| **a == *caller.account && set.contains(action))
    }

    fn seal<R: TryCryptoRng + ?Sized>(
        &mut self,
        key: &UsableKey,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut R,
    ) -> Result<[u8; TAG_LEN], ProviderError> {
        let (k, v) = self.version(key)?;
        let limit = self.seal_limit;
        let rotate = self.on_seal_limit == SealLimitAction::Rotate;
        let entry = self.keys[k].as_mut().ok_or(ProviderError::Internal)?;
        let is_primary = entry.primary == v;
        let version = &mut entry.versions[v];
        let now = version.created;
        if version.seals >= limit {
            if rotate && is_primary {
                // A rotation that failed earlier: try again for the next request.
                let _ = self.rotate_index(k, rng, now);
            }
            return Err(ProviderError::SealLimitReached);
        }
        let cipher = version.cipher.as_ref().ok_or(ProviderError::Internal)?;
        let tag = cipher.seal(iv, aad, in_out)?;
        version.seals += 1;
        if version.seals >= limit && rotate && is_primary {
            // The provider has no clock: the new version inherits the old one's creation
            // time. If the RNG fails here, the next seal under this version retries.
            let _ = self.rotate_index(k, rng, now);
        }
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
        let (k, v) = self.version(key)?;
        self.slot(k).ok_or(ProviderError::Internal)?.versions[v]
            .cipher
            .as_ref()
            .ok_or(ProviderError::Internal)?
            .open(iv, aad, in_out, tag)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A broken RNG: every byte is the same.
    struct Constant;

    impl rand_core::TryRng for Constant {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(7)
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(7)
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            dst.fill(7);
            Ok(())
        }
    }

    impl rand_core::TryCryptoRng for Constant {}

    #[test]
    fn an_rng_that_repeats_itself_is_an_error_not_a_hang() {
        let mut provider = InMemoryProvider::new();
        let options = KeyOptions::new("1", "r");
        let first = provider.create_key(&mut Constant, &options).unwrap();
        assert_eq!(
            provider.create_key(&mut Constant, &options),
            Err(Error::InternalFailure)
        );
        assert_eq!(
            provider.rotate_key(&first, &mut Constant),
            Err(Error::InternalFailure)
        );
        assert_eq!(provider.len(), 1);
    }
}
