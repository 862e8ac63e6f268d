//! The in-memory key provider (with `alloc`): the embedded default.
//!
//! Keys, versions and aliases live in hash maps, so lookups cost the same with one key or a
//! million. Every version's AES key schedule is built once, when its material arrives, and its
//! seal budget is an atomic counter, so any number of operations seal at once through `&self`.
//! It is a [`KeyDirectory`], a [`KeyCipher`] and a [`KeyStore`]: management stages changes
//! against it and [`KeyStore::commit`] applies them.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::hash::{Hash, Hasher};
use core::time::Duration;

use hashbrown::{Equivalent, HashMap};
use rand_core::TryCryptoRng;

use crate::blob::{Iv, Tag};
use crate::management::{self, CommitError, Generation, KeyMeta, KeySettings, KeyStore, Mutation};
use crate::management::{KeyPolicy, StagedChange, VersionMeta};
use crate::provider::{AeadEngine, VersionCipher};
use crate::provider::{KeyCipher, KeyDirectory, ProviderError, SealBudget, SecureRandom};
use crate::{
    AuthorizedKey, Caller, Error, InstanceId, KeyHandle, KeyId, KeyOrigin, KeyRecord, KeyState,
    KeyUsage, KeyVersionId, MasterKeySpec, Permission,
};

pub mod records;
pub mod snapshot;

/// How to provision a key with [`InMemoryProvider::create_key`]. Build it with
/// [`KeyOptions::new`] and the setters. Unlike CreateKey, provisioning takes any combination
/// (an AES key with SIGN/VERIFY usage, say), as a store restored from elsewhere may hold.
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
    /// The origin; `Aliyun_KMS` by default. An `EXTERNAL` key waits in PendingImport.
    pub origin: KeyOrigin,
    /// A description; empty by default.
    pub description: &'a str,
    /// When the key is made, as time since the Unix epoch; zero by default.
    pub created: Duration,
    /// The KMS instance that holds the key; none by default.
    pub instance: Option<InstanceId>,
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
            instance: None,
        }
    }

    /// The same options with another spec.
    #[must_use]
    pub fn spec(self, spec: MasterKeySpec) -> Self {
        Self { spec, ..self }
    }

    /// The same options with another usage.
    #[must_use]
    pub fn usage(self, usage: KeyUsage) -> Self {
        Self { usage, ..self }
    }

    /// The same options with another origin.
    #[must_use]
    pub fn origin(self, origin: KeyOrigin) -> Self {
        Self { origin, ..self }
    }

    /// The same options with a description.
    #[must_use]
    pub fn description(self, description: &'a str) -> Self {
        Self {
            description,
            ..self
        }
    }

    /// The same options with a creation time (since the Unix epoch).
    #[must_use]
    pub fn created(self, created: Duration) -> Self {
        Self { created, ..self }
    }

    /// The same options for a key held in KMS instance `instance`.
    #[must_use]
    pub fn instance(self, instance: InstanceId) -> Self {
        Self {
            instance: Some(instance),
            ..self
        }
    }
}

/// Which permissions a policy grants another account, as a bit set over [`Permission::ALL`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
struct PermissionSet(u8);

impl PermissionSet {
    fn of(permissions: &[Permission]) -> Self {
        Self(permissions.iter().fold(0, |m, p| m | Self::bit(*p)))
    }

    /// The permission's bit; none for those a policy cannot grant (see [`Permission::ALL`]).
    fn bit(permission: Permission) -> u8 {
        match Permission::ALL.iter().position(|p| *p == permission) {
            Some(i) => 1 << i,
            None => 0,
        }
    }

    fn contains(self, permission: Permission) -> bool {
        self.0 & Self::bit(permission) != 0
    }
}

/// A policy's grants as the provider keeps them (accounts sorted, as the policy has them).
fn grants_of(policy: &KeyPolicy) -> Vec<(Box<str>, PermissionSet)> {
    policy
        .grants()
        .iter()
        .map(|g| (g.account.as_str().into(), PermissionSet::of(&g.permissions)))
        .collect()
}

/// The policy of grants the provider keeps.
fn policy_of(grants: &[(Box<str>, PermissionSet)]) -> KeyPolicy {
    let sets: Vec<(&str, Vec<Permission>)> = grants
        .iter()
        .map(|(account, set)| {
            let permissions = Permission::ALL
                .into_iter()
                .filter(|p| set.contains(*p))
                .collect();
            (&**account, permissions)
        })
        .collect();
    KeyPolicy::from_grants(sets.iter().map(|(a, p)| (*a, p.as_slice())))
}

struct Version {
    id: KeyVersionId,
    /// `None` until material exists (a key pending import) and for asymmetric keys, whose
    /// material this provider does not model. Boxed, so the material never moves when the
    /// version list grows: a reallocation would free the old copy without zeroizing it.
    cipher: Option<Box<VersionCipher>>,
    budget: SealBudget,
    created: Duration,
}

impl Version {
    fn meta(&self) -> VersionMeta {
        VersionMeta {
            key_version_id: self.id,
            created: self.created,
        }
    }
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
    policy: Vec<(Box<str>, PermissionSet)>,
    description: Box<str>,
    created: Duration,
    /// When a scheduled deletion happens; `None` when none is scheduled, or when it was
    /// scheduled without a date.
    delete_at: Option<Duration>,
    /// The KMS instance that holds the key.
    instance: Option<InstanceId>,
    /// Rotation policy, protection, tags and the rest.
    settings: KeySettings,
}

impl Key {
    fn record(&self, index: usize) -> KeyRecord {
        let state = if self.unavailable {
            KeyState::Unavailable
        } else {
            self.state
        };
        let record = KeyRecord::new(
            KeyHandle(index as u64),
            self.key_id,
            self.versions[self.primary].id,
        )
        .with_state(state)
        .with_spec(self.spec)
        .with_usage(self.usage);
        KeyRecord {
            instance: self.instance,
            ..record
        }
    }

    fn meta(&self) -> KeyMeta {
        let primary = &self.versions[self.primary];
        KeyMeta {
            key_id: self.key_id,
            account: self.account.as_ref().into(),
            region: self.region.as_ref().into(),
            spec: self.spec,
            usage: self.usage,
            origin: self.origin,
            state: if self.unavailable {
                KeyState::Unavailable
            } else {
                self.state
            },
            stored_state: self.state,
            description: self.description.as_ref().into(),
            created: self.created,
            delete_at: self.delete_at,
            versions: self.versions.iter().map(Version::meta).collect(),
            primary: primary.id,
            has_material: primary.cipher.is_some(),
            instance: self.instance,
            settings: self.settings.clone(),
            policy: policy_of(&self.policy),
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
    /// Whether versions seal only what [`grant_seals`](Self::grant_seals) allows.
    seal_windows: bool,
    generation: u64,
    engine: AeadEngine,
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
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl InMemoryProvider {
    /// An empty provider whose key versions seal at most 2^32 times each (spec §10).
    pub fn new() -> Self {
        Self {
            keys: Vec::new(),
            by_id: HashMap::new(),
            by_version: HashMap::new(),
            aliases: HashMap::new(),
            scopes: HashMap::new(),
            deletions: BTreeSet::new(),
            live: 0,
            seal_limit: SealBudget::MAX,
            seal_windows: false,
            generation: 0,
            engine: AeadEngine::DEFAULT,
        }
    }

    /// Runs every version's AES-GCM on `engine` from now on: the ciphers there are rebuilt from
    /// their material, and those made later use it too. Blobs are the same bytes either way.
    pub fn set_engine(&mut self, engine: AeadEngine) {
        self.engine = engine;
        for key in self.keys.iter_mut().flatten() {
            for version in &mut key.versions {
                if let Some(cipher) = version.cipher.as_mut() {
                    cipher.set_engine(engine);
                }
            }
        }
    }

    /// The engine the versions' AES-GCM runs on.
    pub fn engine(&self) -> AeadEngine {
        self.engine
    }

    /// Sets the seal limit of versions made from now on (at most 2^32; 0 is raised to 1). At
    /// the limit a version refuses to seal (`InternalFailure`) until the key is rotated (see
    /// [`management::rotate_exhausted`]).
    #[must_use]
    pub fn with_seal_limit(mut self, limit: u64) -> Self {
        self.seal_limit = limit.clamp(1, SealBudget::MAX);
        self
    }

    /// The seal limit per key version.
    pub fn seal_limit(&self) -> u64 {
        self.seal_limit
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

    fn index(&self, key_id: &KeyId) -> Result<usize, Error> {
        self.by_id.get(key_id).copied().ok_or(Error::KeyNotFound)
    }

    fn key_mut(&mut self, key_id: &KeyId) -> Result<&mut Key, Error> {
        let i = self.index(key_id)?;
        self.keys
            .get_mut(i)
            .and_then(Option::as_mut)
            .ok_or(Error::KeyNotFound)
    }

    fn version_budget(&self) -> SealBudget {
        if self.seal_windows {
            SealBudget::new(0, 0)
        } else {
            SealBudget::new(self.seal_limit, 0)
        }
    }

    /// From now on, every version seals only what [`grant_seals`](Self::grant_seals) has
    /// granted it, starting from nothing; for a provider that shares a store with others, which
    /// hands each a block of a version's seal budget at a time (spec §10: the budget is the
    /// version's, not one process's). The counts of seals made so far are dropped.
    pub fn use_seal_windows(&mut self) {
        self.seal_windows = true;
        for key in self.keys.iter_mut().flatten() {
            for version in &mut key.versions {
                version.budget = SealBudget::new(0, 0);
            }
        }
    }

    /// Lets `version` seal `more` times beyond what it was allowed (at most 2^32 in all), through
    /// `&self`, while operations run; how many were granted.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] for an unknown version.
    pub fn grant_seals(&self, version: &KeyVersionId, more: u64) -> Result<u64, Error> {
        let (k, v) = *self.by_version.get(version).ok_or(Error::KeyNotFound)?;
        let key = self.slot(k).ok_or(Error::KeyNotFound)?;
        Ok(key.versions[v].budget.grant(more))
    }

    /// How many more times `version` may seal.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] for an unknown version.
    pub fn seals_remaining(&self, version: &KeyVersionId) -> Result<u64, Error> {
        let (k, v) = *self.by_version.get(version).ok_or(Error::KeyNotFound)?;
        let key = self.slot(k).ok_or(Error::KeyNotFound)?;
        Ok(key.versions[v].budget.remaining())
    }

    /// Provisions a key of `options.account` in `options.region`, with fresh IDs and (for an
    /// `Aliyun_KMS` symmetric key) fresh material from `rng`, and returns its ID: CreateKey's
    /// staging, committed at once, without CreateKey's checks of the combination.
    ///
    /// # Errors
    /// `InternalFailure` when the RNG fails.
    pub fn create_key<R: TryCryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
        options: &KeyOptions<'_>,
    ) -> Result<KeyId, Error> {
        let caller = Caller::new(options.account, options.region);
        let request = management::CreateKey::new()
            .with_spec(options.spec)
            .with_usage(options.usage)
            .with_origin(options.origin)
            .with_description(options.description);
        let request = match options.instance {
            Some(instance) => request.with_instance(instance),
            None => request,
        };
        let staged = management::stage_new_key(self, &caller, &request, rng, options.created)?;
        Ok(self.apply(staged)?.key_id)
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

    /// The key's current record, as the data-key operations see it.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn describe(&self, key_id: &KeyId) -> Result<KeyRecord, Error> {
        let i = self.index(key_id)?;
        Ok(self.slot(i).ok_or(Error::KeyNotFound)?.record(i))
    }

    /// How many times a version has sealed.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`] for an unknown version.
    pub fn seal_count(&self, version: &KeyVersionId) -> Result<u64, Error> {
        let (k, v) = *self.by_version.get(version).ok_or(Error::KeyNotFound)?;
        let key = self.slot(k).ok_or(Error::KeyNotFound)?;
        Ok(key.versions[v].budget.used())
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

    fn unbind_alias(&mut self, account: &str, region: &str, alias: &str) {
        self.aliases.remove(&AliasQuery {
            account,
            region,
            alias,
        });
        if let Some(scope) = self.scopes.get_mut(&ScopeQuery { account, region }) {
            scope.aliases.remove(alias);
        }
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
        if let Some(at) = key.delete_at {
            self.deletions.remove(&(at, index));
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

    /// Marks the key's material reachable or not, as an HSM outage would: while unavailable the
    /// key reports the Unavailable state and its cipher refuses.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_unavailable(&mut self, key_id: &KeyId, unavailable: bool) -> Result<(), Error> {
        self.key_mut(key_id)?.unavailable = unavailable;
        self.generation += 1;
        Ok(())
    }

    /// Lets `account` (another account) use the key for `permissions`. Replaces what the
    /// policy granted that account before; an empty list revokes.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn set_policy(
        &mut self,
        key_id: &KeyId,
        account: &str,
        permissions: &[Permission],
    ) -> Result<(), Error> {
        let key = self.key_mut(key_id)?;
        key.policy.retain(|(a, _)| &**a != account);
        if !permissions.is_empty() {
            key.policy
                .push((account.into(), PermissionSet::of(permissions)));
        }
        self.generation += 1;
        Ok(())
    }

    /// Lets `account` use the key for every data-key operation.
    ///
    /// # Errors
    /// [`Error::KeyNotFound`].
    pub fn allow_account(&mut self, key_id: &KeyId, account: &str) -> Result<(), Error> {
        self.set_policy(key_id, account, &Permission::ALL)
    }

    fn version(&self, key: &AuthorizedKey) -> Result<&Version, ProviderError> {
        let k = usize::try_from(key.handle().0).map_err(|_| ProviderError::Internal)?;
        let entry = self.slot(k).ok_or(ProviderError::Internal)?;
        if entry.unavailable {
            return Err(ProviderError::Unavailable);
        }
        // Sealing uses the primary version: find it without hashing.
        let wanted = key.version();
        let primary = &entry.versions[entry.primary];
        if primary.id == wanted {
            return Ok(primary);
        }
        match self.by_version.get(&wanted) {
            Some(&(owner, v)) if owner == k => Ok(&entry.versions[v]),
            _ => Err(ProviderError::Internal),
        }
    }

    /// Checks that `mutation` applies to the store as it is, changing nothing.
    fn check(&self, mutation: &Mutation) -> Result<(), CommitError> {
        let conflict = Err(CommitError::Conflict);
        let has_key = |id: &KeyId| self.by_id.contains_key(id);
        match mutation {
            Mutation::CreateKey { key, material } => {
                let fits = material.as_ref().is_none_or(|m| m.spec() == key.spec);
                if has_key(&key.key_id)
                    || key
                        .versions
                        .iter()
                        .any(|v| self.by_version.contains_key(&v.key_version_id))
                    || !key.versions.iter().any(|v| v.key_version_id == key.primary)
                    || !fits
                {
                    return conflict;
                }
            }
            Mutation::SetLifecycle { key_id, .. }
            | Mutation::ImportMaterial { key_id, .. }
            | Mutation::DeleteMaterial { key_id, .. }
            | Mutation::UpdateKey { key_id, .. }
            | Mutation::SetPolicy { key_id, .. } => {
                if !has_key(key_id) {
                    return conflict;
                }
            }
            Mutation::AddVersion {
                key_id, version, ..
            } => {
                if !has_key(key_id) || self.by_version.contains_key(&version.key_version_id) {
                    return conflict;
                }
            }
            Mutation::PutAlias {
                account,
                region,
                key_id,
                ..
            } => {
                let owner = self.by_id.get(key_id).and_then(|&i| self.slot(i));
                if owner.is_none_or(|k| *k.account != **account || *k.region != **region) {
                    return conflict;
                }
            }
            Mutation::DeleteAlias {
                account,
                region,
                alias,
            } => {
                let query = AliasQuery {
                    account,
                    region,
                    alias,
                };
                if !self.aliases.contains_key(&query) {
                    return conflict;
                }
            }
            Mutation::DeleteKeys { key_ids } => {
                if !key_ids.iter().all(has_key) {
                    return conflict;
                }
            }
        }
        Ok(())
    }

    /// Applies a checked mutation.
    fn apply_mutation(&mut self, mutation: Mutation) -> Result<(), Error> {
        match mutation {
            Mutation::CreateKey { key, material } => {
                let mut cipher =
                    material.map(|m| Box::new(VersionCipher::with_engine(m, self.engine)));
                let versions = key
                    .versions
                    .iter()
                    .map(|v| Version {
                        id: v.key_version_id,
                        cipher: if v.key_version_id == key.primary {
                            cipher.take()
                        } else {
                            None
                        },
                        budget: self.version_budget(),
                        created: v.created,
                    })
                    .collect::<Vec<_>>();
                let primary = versions
                    .iter()
                    .position(|v| v.id == key.primary)
                    .unwrap_or_default();
                self.insert_key(Key {
                    key_id: key.key_id,
                    account: key.account.into(),
                    region: key.region.into(),
                    spec: key.spec,
                    usage: key.usage,
                    origin: key.origin,
                    state: key.state,
                    unavailable: false,
                    versions,
                    primary,
                    policy: grants_of(&key.policy),
                    description: key.description.into(),
                    created: key.created,
                    delete_at: key.delete_at,
                    instance: key.instance,
                    settings: key.settings,
                });
            }
            Mutation::SetLifecycle {
                key_id,
                state,
                delete_at,
            } => {
                let index = self.index(&key_id)?;
                let key = self.key_mut(&key_id)?;
                let before = core::mem::replace(&mut key.delete_at, delete_at);
                key.state = state;
                if let Some(at) = before {
                    self.deletions.remove(&(at, index));
                }
                if let Some(at) = delete_at {
                    self.deletions.insert((at, index));
                }
            }
            Mutation::AddVersion {
                key_id,
                version,
                material,
            } => {
                let index = self.index(&key_id)?;
                let budget = self.version_budget();
                let engine = self.engine;
                let key = self.key_mut(&key_id)?;
                key.versions.push(Version {
                    id: version.key_version_id,
                    cipher: Some(Box::new(VersionCipher::with_engine(material, engine))),
                    budget,
                    created: version.created,
                });
                key.primary = key.versions.len() - 1;
                let primary = key.primary;
                self.by_version
                    .insert(version.key_version_id, (index, primary));
            }
            Mutation::ImportMaterial {
                key_id,
                material,
                expires,
                check,
            } => {
                let engine = self.engine;
                let key = self.key_mut(&key_id)?;
                let primary = key.primary;
                key.versions[primary].cipher =
                    Some(Box::new(VersionCipher::with_engine(material, engine)));
                key.state = KeyState::Enabled;
                key.settings.material_expires = expires;
                key.settings.material_check = Some(check);
            }
            Mutation::DeleteMaterial { key_id, state } => {
                let key = self.key_mut(&key_id)?;
                let primary = key.primary;
                // Dropping the cipher zeroizes the material.
                key.versions[primary].cipher = None;
                key.state = state;
                key.settings.material_expires = None;
            }
            Mutation::UpdateKey {
                key_id,
                description,
                settings,
            } => {
                let key = self.key_mut(&key_id)?;
                key.description = description.into();
                key.settings = settings;
            }
            Mutation::SetPolicy { key_id, policy } => {
                self.key_mut(&key_id)?.policy = grants_of(&policy);
            }
            Mutation::PutAlias {
                account,
                region,
                alias,
                key_id,
            } => {
                let index = self.index(&key_id)?;
                self.bind_alias(account.into(), region.into(), &alias, index);
            }
            Mutation::DeleteAlias {
                account,
                region,
                alias,
            } => self.unbind_alias(&account, &region, &alias),
            Mutation::DeleteKeys { key_ids } => {
                for key_id in key_ids {
                    let index = self.index(&key_id)?;
                    self.remove_slot(index);
                }
            }
        }
        Ok(())
    }
}

#[cfg(feature = "asymmetric")]
impl InMemoryProvider {
    /// The private key of the version a witness names.
    fn private_key(
        &self,
        key: &AuthorizedKey,
    ) -> Result<&crate::asymmetric::PrivateKey, ProviderError> {
        let version = key.version();
        let (k, v) = *self
            .by_version
            .get(&version)
            .ok_or(ProviderError::Internal)?;
        let slot = self.slot(k).ok_or(ProviderError::Internal)?;
        if slot.key_id != key.key_id() {
            return Err(ProviderError::Internal);
        }
        slot.versions[v]
            .cipher
            .as_ref()
            .and_then(|c| c.material().private_key())
            .ok_or(ProviderError::Unavailable)
    }
}

#[cfg(feature = "asymmetric")]
impl crate::provider::AsymmetricKeys for InMemoryProvider {
    fn public_key(
        &self,
        key: &AuthorizedKey,
    ) -> Result<crate::asymmetric::PublicKey, ProviderError> {
        Ok(self.private_key(key)?.public_key())
    }

    fn sign(
        &self,
        key: &AuthorizedKey,
        algorithm: crate::asymmetric::SigningAlgorithm,
        digest: &[u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<Vec<u8>, ProviderError> {
        self.private_key(key)?
            .sign(algorithm, digest, &mut crate::provider::DynRng(rng))
            .map_err(|e| match e {
                crate::asymmetric::AsymmetricError::Rng => ProviderError::Rng,
                _ => ProviderError::Internal,
            })
    }

    fn decrypt(
        &self,
        key: &AuthorizedKey,
        algorithm: crate::asymmetric::EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, ProviderError> {
        self.private_key(key)?
            .decrypt(algorithm, ciphertext)
            .map_err(|_| ProviderError::AuthenticationFailed)
    }
}

impl KeyDirectory for InMemoryProvider {
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        Ok(self.by_id.get(key_id).and_then(|&i| {
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

    fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> Result<bool, ProviderError> {
        let entry = usize::try_from(key.handle.0)
            .ok()
            .and_then(|i| self.slot(i))
            .ok_or(ProviderError::Internal)?;
        Ok(*entry.account == *caller.account
            || entry
                .policy
                .iter()
                .any(|(a, set)| **a == *caller.account && set.contains(permission)))
    }
}

impl KeyCipher for InMemoryProvider {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError> {
        let version = self.version(key)?;
        let cipher = version.cipher.as_ref().ok_or(ProviderError::Internal)?;
        cipher.seal_random_iv(aad, in_out, rng, &version.budget)
    }

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        self.version(key)?
            .cipher
            .as_ref()
            .ok_or(ProviderError::Internal)?
            .open(iv, aad, in_out, tag)
    }
}

impl KeyStore for InMemoryProvider {
    fn key(&self, key_id: &KeyId) -> Result<Option<KeyMeta>, ProviderError> {
        Ok(self
            .by_id
            .get(key_id)
            .and_then(|&i| self.slot(i))
            .map(Key::meta))
    }

    fn contains_version(&self, version: &KeyVersionId) -> Result<bool, ProviderError> {
        Ok(self.by_version.contains_key(version))
    }

    fn visit_keys(
        &self,
        account: &str,
        region: &str,
        visit: &mut dyn FnMut(&KeyId, Option<Duration>),
    ) -> Result<(), ProviderError> {
        let scope = self.scopes.get(&ScopeQuery { account, region });
        for &i in scope.into_iter().flat_map(|s| s.keys.iter()) {
            if let Some(key) = self.slot(i) {
                let due = (key.state == KeyState::PendingDeletion)
                    .then_some(key.delete_at)
                    .flatten();
                visit(&key.key_id, due);
            }
        }
        Ok(())
    }

    fn visit_aliases(
        &self,
        account: &str,
        region: &str,
        visit: &mut dyn FnMut(&str, &KeyId),
    ) -> Result<(), ProviderError> {
        let scope = self.scopes.get(&ScopeQuery { account, region });
        for (alias, &i) in scope.into_iter().flat_map(|s| s.aliases.iter()) {
            if let Some(key) = self.slot(i) {
                visit(alias, &key.key_id);
            }
        }
        Ok(())
    }

    fn due_deletions(&self, now: Duration) -> Result<Vec<KeyId>, ProviderError> {
        Ok(self
            .deletions
            .iter()
            .take_while(|(at, _)| *at <= now)
            .filter_map(|&(_, i)| self.slot(i))
            .filter(|k| k.state == KeyState::PendingDeletion)
            .map(|k| k.key_id)
            .collect())
    }

    fn due_keys(&self, now: Duration) -> Result<Vec<KeyId>, ProviderError> {
        let mut due = Vec::new();
        for key in self.keys.iter().flatten() {
            let s = &key.settings;
            if s.rotation_interval.is_none() && s.material_expires.is_none() {
                continue;
            }
            let meta = key.meta();
            if management::rotation_due(&meta, now) || management::material_expired(&meta, now) {
                due.push(key.key_id);
            }
        }
        Ok(due)
    }

    fn generation(&self) -> Generation {
        Generation(self.generation)
    }

    fn commit(&mut self, change: StagedChange) -> Result<(), CommitError> {
        if change.based_on != self.generation() {
            return Err(CommitError::Conflict);
        }
        self.check(&change.mutation)?;
        self.apply_mutation(change.mutation)
            .map_err(|_| CommitError::Store(ProviderError::Internal))?;
        self.generation += 1;
        Ok(())
    }
}

/// The IDs of the keys of `account` in `region`, oldest first, and each key's aliases: for
/// tests and tools that want to look without management's paging.
impl InMemoryProvider {
    /// The keys of `account` in `region`, oldest first.
    pub fn keys_of(&self, account: &str, region: &str) -> Vec<KeyId> {
        let mut out = Vec::new();
        let _ = self.visit_keys(account, region, &mut |id, _| out.push(*id));
        out
    }

    /// How many keys `account` holds in `region` (whatever their state): what a key quota
    /// counts. Constant time.
    pub fn key_count(&self, account: &str, region: &str) -> usize {
        self.scopes
            .get(&ScopeQuery { account, region })
            .map_or(0, |scope| scope.keys.len())
    }

    /// The aliases of `account` in `region`, sorted by name, with the key each names.
    pub fn aliases_of(&self, account: &str, region: &str) -> Vec<(String, KeyId)> {
        let mut out = Vec::new();
        let _ = self.visit_aliases(account, region, &mut |alias, id| {
            out.push((alias.into(), *id))
        });
        out
    }
}
