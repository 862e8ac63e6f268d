//! Records: an [`InMemoryProvider`]'s contents as one record per key, key version and alias,
//! for stores that keep rows rather than whole snapshots, so that the cost of a change does
//! not grow with the number of keys.
//!
//! A store that persists a change before it is visible asks
//! [`InMemoryProvider::record_changes`] what a staged change does to the records, writes that
//! durably, and only then commits the change to the provider. At start it rebuilds the
//! provider with [`InMemoryProvider::from_records`]. The core does no I/O and does not seal the
//! bodies: the store seals each one under its wrapping key (a version body holds master key
//! material; every body is zeroized on drop).
//!
//! # Bodies, version 1
//!
//! ```text
//! key     = str8 key_id || str32 account || str32 region
//!        || u8 spec || u8 usage || u8 origin || u8 state      (codes as in the snapshot format)
//!        || u8 unavailable (0, 1) || str32 description || time created
//!        || u8 has_delete_date (0, 1) || [time delete_at]
//!        || primary version id (36 bytes)
//!        || u16 policy_count || (str32 account || u8 actions) * policy_count
//!        || u8 held (0, 1) || [str8 instance_id]   (the KMS instance that holds the key;
//!           absent from records written before instances existed: read as none)
//!        || key_settings                          (as in the snapshot format; absent from
//!           records written before settings existed: read as the defaults)
//! version = id (36 bytes) || str8 key_id || material || time created
//!           (material: u8 0 for none, u8 16 or 32 || AES bytes, or u8 0xFF || u16 len ||
//!           PKCS#8 DER for an asymmetric private key, feature `asymmetric`)
//! alias   = str32 account || str32 region || str16 alias || str8 key_id
//! ```
//!
//! `time` and `strN` are as in [`crate::snapshot`]; integers are big-endian. A version's seal
//! count is not in its body (it changes with every seal): the store keeps it beside the body
//! and hands it back at load.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use hashbrown::HashMap;
use zeroize::Zeroizing;

use super::snapshot::{
    Reader, SnapshotError, Writer, parse_instance, parse_key_head, parse_policy, parse_settings,
    read_material, write_instance, write_key_head, write_material, write_policy, write_settings,
};
use super::{InMemoryProvider, Key, PermissionSet, Version, grants_of};
use crate::management::{CommitError, KeySettings, KeyStore, Mutation, StagedChange};
use crate::provider::{ProviderError, SealBudget, VersionCipher};
use crate::{
    Error, InstanceId, Internal, KeyId, KeyOrigin, KeyState, KeyUsage, KeyVersionId,
    MasterKeyMaterial, MasterKeySpec,
};

/// What a record describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    /// A key: everything but its versions.
    Key,
    /// A key version, with its material.
    Version,
    /// An alias.
    Alias,
}

/// One record: its kind, its name (a key ID, a version ID, or `account:region:alias` for an
/// alias, see [`alias_record_name`]), the key it belongs to, and its body. The body of a
/// version holds master key material: zeroized on drop, never shown by `Debug`.
pub struct Record {
    /// What the record describes.
    pub kind: RecordKind,
    /// Its name, unique among the records of its kind.
    pub name: String,
    /// The key it belongs to (for a key, the key itself).
    pub key_id: KeyId,
    /// The body, in the format described in this module.
    pub body: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("key_id", &self.key_id)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// What a change does to the records.
#[derive(Debug)]
pub enum RecordChange {
    /// A record written: made, or replacing the record of the same kind and name (a key keeps
    /// its place in the creation order).
    Put(Record),
    /// The alias record of this name removed.
    DeleteAlias {
        /// The alias record's name.
        name: String,
    },
    /// A key removed, with its versions and every alias that names it.
    DeleteKey {
        /// The key.
        key_id: KeyId,
    },
}

/// A record read back from a store, for [`InMemoryProvider::from_records`].
#[derive(Clone, Copy)]
pub struct StoredRecord<'a> {
    /// What the record describes.
    pub kind: RecordKind,
    /// Its body.
    pub body: &'a [u8],
    /// For a version, how many times it has sealed (the store keeps the count beside the
    /// body); ignored for the other kinds.
    pub seals: u64,
}

impl fmt::Debug for StoredRecord<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRecord")
            .field("kind", &self.kind)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .field("seals", &self.seals)
            .finish()
    }
}

/// The name of the alias record for `alias` in `account` and `region`: `account:region:alias`
/// (accounts and regions hold no `:`, so the name is unambiguous).
pub fn alias_record_name(account: &str, region: &str, alias: &str) -> String {
    let mut name = String::with_capacity(account.len() + region.len() + alias.len() + 2);
    name.push_str(account);
    name.push(':');
    name.push_str(region);
    name.push(':');
    name.push_str(alias);
    name
}

/// Builds a body: counts its bytes, then writes it into a buffer of exactly that size, which
/// never grows, so no copy of material is freed without being zeroized.
fn body(write: impl Fn(&mut Writer) -> Result<(), Error>) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut count = Writer { buf: None, len: 0 };
    write(&mut count)?;
    let mut w = Writer {
        buf: Some(Zeroizing::new(Vec::with_capacity(count.len))),
        len: 0,
    };
    write(&mut w)?;
    w.buf.ok_or(Error::InternalFailure(Internal::Provider))
}

/// A key's fields, borrowed from a key or from a change.
struct KeyFields<'a> {
    key_id: KeyId,
    account: &'a str,
    region: &'a str,
    spec: MasterKeySpec,
    usage: KeyUsage,
    origin: KeyOrigin,
    state: KeyState,
    unavailable: bool,
    description: &'a str,
    created: Duration,
    delete_at: Option<Duration>,
    primary: KeyVersionId,
    policy: &'a [(Box<str>, PermissionSet)],
    instance: Option<InstanceId>,
    settings: &'a KeySettings,
}

impl<'a> KeyFields<'a> {
    fn of(key: &'a Key) -> Self {
        Self {
            key_id: key.key_id,
            account: &key.account,
            region: &key.region,
            spec: key.spec,
            usage: key.usage,
            origin: key.origin,
            state: key.state,
            unavailable: key.unavailable,
            description: &key.description,
            created: key.created,
            delete_at: key.delete_at,
            primary: key.versions[key.primary].id,
            policy: &key.policy,
            instance: key.instance,
            settings: &key.settings,
        }
    }

    fn record(&self) -> Result<Record, Error> {
        Ok(Record {
            kind: RecordKind::Key,
            name: self.key_id.as_str().into(),
            key_id: self.key_id,
            body: body(|w| {
                write_key_head(
                    w,
                    &self.key_id,
                    self.account,
                    self.region,
                    (self.spec, self.usage, self.origin, self.state),
                    self.unavailable,
                    self.description,
                    self.created,
                    self.delete_at,
                )?;
                w.bytes(self.primary.as_bytes());
                write_policy(w, self.policy)?;
                write_instance(w, self.instance)?;
                write_settings(w, self.settings)
            })?,
        })
    }
}

fn version_record(
    key_id: KeyId,
    id: KeyVersionId,
    material: Option<&MasterKeyMaterial>,
    created: Duration,
) -> Result<Record, Error> {
    Ok(Record {
        kind: RecordKind::Version,
        name: id.as_str().into(),
        key_id,
        body: body(|w| {
            w.bytes(id.as_bytes());
            w.str(key_id.as_str(), 1)?;
            write_material(w, material)?;
            w.time(created);
            Ok(())
        })?,
    })
}

fn alias_record(account: &str, region: &str, alias: &str, key_id: KeyId) -> Result<Record, Error> {
    Ok(Record {
        kind: RecordKind::Alias,
        name: alias_record_name(account, region, alias),
        key_id,
        body: body(|w| {
            w.str(account, 4)?;
            w.str(region, 4)?;
            w.str(alias, 2)?;
            w.str(key_id.as_str(), 1)?;
            Ok(())
        })?,
    })
}

fn store_failed(_: Error) -> CommitError {
    CommitError::Store(ProviderError::Internal)
}

impl InMemoryProvider {
    /// What committing `change` would do to the records, computed from the provider as it is
    /// now: the records to write and to remove, for a store to make durable before the change
    /// is committed. The change is checked as [`KeyStore::commit`] checks it, so a change
    /// whose records were written will commit, provided nothing else commits in between.
    ///
    /// # Errors
    /// [`CommitError::Conflict`] when the change would not commit (staged against another
    /// generation, or no longer fitting the provider); [`CommitError::Store`] when a field is
    /// too long for the format, which the provider's own checks prevent.
    pub fn record_changes(&self, change: &StagedChange) -> Result<Vec<RecordChange>, CommitError> {
        if change.based_on != self.generation() {
            return Err(CommitError::Conflict);
        }
        self.check(&change.mutation)?;
        let key = |key_id: &KeyId| {
            self.by_id
                .get(key_id)
                .and_then(|&i| self.slot(i))
                .ok_or(CommitError::Conflict)
        };
        let mut out = Vec::new();
        match &change.mutation {
            Mutation::CreateKey { key, material } => {
                let policy = grants_of(&key.policy);
                let fields = KeyFields {
                    key_id: key.key_id,
                    account: &key.account,
                    region: &key.region,
                    spec: key.spec,
                    usage: key.usage,
                    origin: key.origin,
                    state: key.stored_state,
                    unavailable: false,
                    description: &key.description,
                    created: key.created,
                    delete_at: key.delete_at,
                    primary: key.primary,
                    policy: &policy,
                    instance: key.instance,
                    settings: &key.settings,
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
                for v in &key.versions {
                    let material = material
                        .as_ref()
                        .filter(|_| v.key_version_id == key.primary);
                    let record = version_record(key.key_id, v.key_version_id, material, v.created);
                    out.push(RecordChange::Put(record.map_err(store_failed)?));
                }
            }
            Mutation::SetLifecycle {
                key_id,
                state,
                delete_at,
            } => {
                let fields = KeyFields {
                    state: *state,
                    delete_at: *delete_at,
                    ..KeyFields::of(key(key_id)?)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::AddVersion {
                key_id,
                version,
                material,
            } => {
                let record = version_record(
                    *key_id,
                    version.key_version_id,
                    Some(material),
                    version.created,
                );
                out.push(RecordChange::Put(record.map_err(store_failed)?));
                let fields = KeyFields {
                    primary: version.key_version_id,
                    ..KeyFields::of(key(key_id)?)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::ImportMaterial {
                key_id,
                material,
                expires,
                check,
            } => {
                let current = key(key_id)?;
                let primary = &current.versions[current.primary];
                let record = version_record(*key_id, primary.id, Some(material), primary.created);
                out.push(RecordChange::Put(record.map_err(store_failed)?));
                let settings = KeySettings {
                    material_expires: *expires,
                    material_check: Some(*check),
                    ..current.settings.clone()
                };
                let fields = KeyFields {
                    state: KeyState::Enabled,
                    settings: &settings,
                    ..KeyFields::of(current)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::DeleteMaterial { key_id, state } => {
                let current = key(key_id)?;
                let primary = &current.versions[current.primary];
                let record = version_record(*key_id, primary.id, None, primary.created);
                out.push(RecordChange::Put(record.map_err(store_failed)?));
                let settings = KeySettings {
                    material_expires: None,
                    ..current.settings.clone()
                };
                let fields = KeyFields {
                    state: *state,
                    settings: &settings,
                    ..KeyFields::of(current)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::UpdateKey {
                key_id,
                description,
                settings,
            } => {
                let fields = KeyFields {
                    description,
                    settings,
                    ..KeyFields::of(key(key_id)?)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::SetPolicy { key_id, policy } => {
                let policy = grants_of(policy);
                let fields = KeyFields {
                    policy: &policy,
                    ..KeyFields::of(key(key_id)?)
                };
                out.push(RecordChange::Put(fields.record().map_err(store_failed)?));
            }
            Mutation::PutAlias {
                account,
                region,
                alias,
                key_id,
            } => {
                let record = alias_record(account, region, alias, *key_id);
                out.push(RecordChange::Put(record.map_err(store_failed)?));
            }
            Mutation::DeleteAlias {
                account,
                region,
                alias,
            } => out.push(RecordChange::DeleteAlias {
                name: alias_record_name(account, region, alias),
            }),
            Mutation::DeleteKeys { key_ids } => {
                out.extend(
                    key_ids
                        .iter()
                        .map(|&key_id| RecordChange::DeleteKey { key_id }),
                );
            }
        }
        Ok(out)
    }

    /// Every record: the keys in creation order, then every key's versions oldest first, then
    /// the aliases. For export into an empty store.
    ///
    /// # Errors
    /// [`Error::InternalFailure`] when a field is too long for the format, which the
    /// provider's own checks prevent.
    pub fn records(&self) -> Result<Vec<Record>, Error> {
        let mut out = Vec::new();
        let keys = || self.keys.iter().flatten();
        for key in keys() {
            out.push(KeyFields::of(key).record()?);
        }
        for key in keys() {
            for v in &key.versions {
                let material = v.cipher.as_ref().map(|c| c.material());
                out.push(version_record(key.key_id, v.id, material, v.created)?);
            }
        }
        for (alias, &index) in &self.aliases {
            let key = self.slot(index).ok_or(Error::KeyNotFound)?;
            out.push(alias_record(
                &alias.account,
                &alias.region,
                &alias.alias,
                key.key_id,
            )?);
        }
        Ok(out)
    }

    /// Calls `visit` with every version and how many times it has sealed.
    pub fn visit_seal_counts(&self, visit: &mut dyn FnMut(&KeyVersionId, u64)) {
        for key in self.keys.iter().flatten() {
            for v in &key.versions {
                visit(&v.id, v.budget.used());
            }
        }
    }

    /// Builds a provider from records made by [`record_changes`](Self::record_changes) and
    /// [`records`](Self::records), in any order except that keys keep the order they are
    /// given in (their creation order) and a key's versions the order they are given in
    /// (oldest first). All or nothing.
    ///
    /// # Errors
    /// [`SnapshotError::Malformed`] for a body that does not parse, a duplicate, a version or
    /// alias of a key that is not there, a key without its primary version, or material of the
    /// wrong length for its key.
    pub fn from_records<'a>(
        seal_limit: u64,
        records: impl IntoIterator<Item = StoredRecord<'a>>,
    ) -> Result<InMemoryProvider, SnapshotError> {
        let malformed = SnapshotError::Malformed;
        let mut provider = InMemoryProvider::new().with_seal_limit(seal_limit);
        if provider.seal_limit != seal_limit {
            return Err(malformed);
        }
        let mut keys: Vec<(Key, KeyVersionId)> = Vec::new();
        let mut index: HashMap<KeyId, usize> = HashMap::new();
        let mut versions: Vec<(KeyId, Version)> = Vec::new();
        let mut aliases: Vec<ParsedAlias<'_>> = Vec::new();
        for record in records {
            match parse_record(record, |seals| SealBudget::new(seal_limit, seals))? {
                Parsed::Key(key, primary) => {
                    if index.insert(key.key_id, keys.len()).is_some() {
                        return Err(malformed);
                    }
                    keys.push((key, primary));
                }
                Parsed::Version(key_id, version) => versions.push((key_id, version)),
                Parsed::Alias(alias) => aliases.push(alias),
            }
        }
        for (key_id, version) in versions {
            let (key, _) = &mut keys[*index.get(&key_id).ok_or(malformed)?];
            let fits = version
                .cipher
                .as_ref()
                .is_none_or(|c| c.material().spec() == key.spec);
            if !fits || key.versions.iter().any(|v| v.id == version.id) {
                return Err(malformed);
            }
            key.versions.push(version);
        }
        provider.reserve(keys.len());
        for (mut key, primary) in keys {
            key.primary = key
                .versions
                .iter()
                .position(|v| v.id == primary)
                .ok_or(malformed)?;
            if key
                .versions
                .iter()
                .any(|v| provider.by_version.contains_key(&v.id))
            {
                return Err(malformed);
            }
            provider.insert_key(key);
        }
        for (account, region, alias, key_id) in aliases {
            let slot = *provider.by_id.get(&key_id).ok_or(malformed)?;
            let key = provider.slot(slot).ok_or(malformed)?;
            let taken = provider.aliases.contains_key(&super::AliasQuery {
                account,
                region,
                alias,
            });
            if *key.account != *account
                || *key.region != *region
                || taken
                || crate::management::check_alias_name(alias).is_err()
            {
                return Err(malformed);
            }
            provider.bind_alias(account.into(), region.into(), alias, slot);
        }
        Ok(provider)
    }
}

/// A change another writer made to a store's records, read back for
/// [`InMemoryProvider::apply_records`].
#[derive(Clone, Copy, Debug)]
pub enum StoredChange<'a> {
    /// A record as it now is: made, or replaced.
    Put(StoredRecord<'a>),
    /// The alias record of this name is gone (see [`alias_record_name`]).
    DeleteAlias(&'a str),
    /// The key is gone, with its versions and every alias that named it.
    DeleteKey(KeyId),
}

/// A key of a batch of [`StoredChange`]s: replacing a key this provider holds (its slot), or
/// new, with the versions the batch brings.
struct IncomingKey {
    key: Key,
    primary: KeyVersionId,
    slot: Option<usize>,
}

impl InMemoryProvider {
    /// Brings this provider up to date with changes another writer made to the records of a
    /// shared store: several processes serving from one store each keep a provider, commit
    /// their own changes as usual, and apply the records the others changed with this. A
    /// `Put` of a key replaces its fields and primary version (its versions stay); a `Put` of a
    /// version this provider holds replaces its material (an import or a deletion of material)
    /// and keeps its seal budget; a new version starts with a budget of `seals` spent of the
    /// seal limit, or with none at all under [`use_seal_windows`](Self::use_seal_windows). The
    /// deletions are applied first, then the puts.
    ///
    /// Every body is parsed and every reference checked before anything changes: all or
    /// nothing.
    ///
    /// # Errors
    /// [`SnapshotError::Malformed`] for a body that does not parse; a version or alias of a
    /// key that is neither here nor in the batch; a key that would move to another account or
    /// region or change its spec, usage or origin; a version that belongs to another key;
    /// a key whose primary version is not known; material of the wrong length for its key;
    /// an invalid alias, or one in another account or region than its key.
    pub fn apply_records<'a>(
        &mut self,
        changes: impl IntoIterator<Item = StoredChange<'a>>,
    ) -> Result<(), SnapshotError> {
        let malformed = SnapshotError::Malformed;
        let mut gone_keys: Vec<KeyId> = Vec::new();
        let mut gone_aliases: Vec<(&str, &str, &str)> = Vec::new();
        let mut keys: Vec<IncomingKey> = Vec::new();
        let mut versions: Vec<(KeyId, Version)> = Vec::new();
        let mut aliases: Vec<ParsedAlias<'_>> = Vec::new();
        let windows = self.seal_windows;
        let limit = self.seal_limit;
        for change in changes {
            match change {
                StoredChange::DeleteKey(key_id) => gone_keys.push(key_id),
                StoredChange::DeleteAlias(name) => {
                    let mut parts = name.splitn(3, ':');
                    let (Some(account), Some(region), Some(alias)) =
                        (parts.next(), parts.next(), parts.next())
                    else {
                        return Err(malformed);
                    };
                    gone_aliases.push((account, region, alias));
                }
                StoredChange::Put(record) => {
                    let budget = |seals| {
                        if windows {
                            SealBudget::new(0, 0)
                        } else {
                            SealBudget::new(limit, seals)
                        }
                    };
                    match parse_record(record, budget)? {
                        Parsed::Key(key, primary) => keys.push(IncomingKey {
                            key,
                            primary,
                            slot: None,
                        }),
                        Parsed::Version(key_id, version) => versions.push((key_id, version)),
                        Parsed::Alias(alias) => aliases.push(alias),
                    }
                }
            }
        }

        // Checks, against what the provider will hold once the deletions are applied.
        let kept = |provider: &Self, key_id: &KeyId| {
            if gone_keys.contains(key_id) {
                None
            } else {
                provider.by_id.get(key_id).copied()
            }
        };
        let mut batch: HashMap<KeyId, usize> = HashMap::new();
        for (i, incoming) in keys.iter_mut().enumerate() {
            let key = &incoming.key;
            if batch.insert(key.key_id, i).is_some() {
                return Err(malformed);
            }
            incoming.slot = kept(self, &key.key_id);
            if let Some(slot) = incoming.slot {
                let here = self.slot(slot).ok_or(malformed)?;
                if here.account != key.account
                    || here.region != key.region
                    || here.spec != key.spec
                    || here.usage != key.usage
                    || here.origin != key.origin
                {
                    return Err(malformed);
                }
            }
        }
        // The key's account, region and spec, whether it comes in the batch or stays here.
        let owner =
            |provider: &Self, key_id: &KeyId| -> Option<(Box<str>, Box<str>, MasterKeySpec)> {
                if let Some(&i) = batch.get(key_id) {
                    let k = &keys[i].key;
                    return Some((k.account.clone(), k.region.clone(), k.spec));
                }
                let k = provider.slot(kept(provider, key_id)?)?;
                Some((k.account.clone(), k.region.clone(), k.spec))
            };
        let mut seen: HashMap<KeyVersionId, KeyId> = HashMap::new();
        for (key_id, version) in &versions {
            let (_, _, spec) = owner(self, key_id).ok_or(malformed)?;
            let fits = version
                .cipher
                .as_ref()
                .is_none_or(|c| c.material().spec() == spec);
            if !fits || seen.insert(version.id, *key_id).is_some() {
                return Err(malformed);
            }
            if let Some(&(k, _)) = self.by_version.get(&version.id) {
                let holder = self.slot(k).ok_or(malformed)?.key_id;
                if !gone_keys.contains(&holder) && holder != *key_id {
                    return Err(malformed);
                }
            }
        }
        for incoming in &keys {
            let key_id = incoming.key.key_id;
            let in_batch = seen.get(&incoming.primary) == Some(&key_id);
            let here = incoming.slot.is_some_and(|slot| {
                self.slot(slot)
                    .is_some_and(|k| k.versions.iter().any(|v| v.id == incoming.primary))
            });
            if !in_batch && !here {
                return Err(malformed);
            }
        }
        for (account, region, alias, key_id) in &aliases {
            let (a, r, _) = owner(self, key_id).ok_or(malformed)?;
            if *a != **account
                || *r != **region
                || crate::management::check_alias_name(alias).is_err()
            {
                return Err(malformed);
            }
        }

        // Everything checks: apply, deletions first.
        for key_id in &gone_keys {
            if let Some(&slot) = self.by_id.get(key_id) {
                self.remove_slot(slot);
            }
        }
        for (account, region, alias) in gone_aliases {
            self.unbind_alias(account, region, alias);
        }
        let engine = self.engine;
        for (key_id, mut version) in versions {
            if let Some(cipher) = version.cipher.as_mut() {
                cipher.set_engine(engine);
            }
            if let Some(&i) = batch.get(&key_id)
                && keys[i].slot.is_none()
            {
                keys[i].key.versions.push(version);
                continue;
            }
            let slot = *self.by_id.get(&key_id).ok_or(malformed)?;
            if let Some(&(_, v)) = self.by_version.get(&version.id) {
                let key = self.keys[slot].as_mut().ok_or(malformed)?;
                // The same version: its material changed (imported, or deleted); the budget
                // stays.
                key.versions[v].cipher = version.cipher;
                continue;
            }
            let key = self.keys[slot].as_mut().ok_or(malformed)?;
            key.versions.push(version);
            let v = key.versions.len() - 1;
            self.by_version.insert(key.versions[v].id, (slot, v));
        }
        for incoming in keys {
            let IncomingKey {
                mut key,
                primary,
                slot,
            } = incoming;
            match slot {
                None => {
                    key.primary = key
                        .versions
                        .iter()
                        .position(|v| v.id == primary)
                        .ok_or(malformed)?;
                    self.insert_key(key);
                }
                Some(slot) => {
                    let old = self.keys[slot].take().ok_or(malformed)?;
                    key.versions = old.versions;
                    key.primary = key
                        .versions
                        .iter()
                        .position(|v| v.id == primary)
                        .ok_or(malformed)?;
                    if let Some(at) = old.delete_at {
                        self.deletions.remove(&(at, slot));
                    }
                    if let Some(at) = key.delete_at {
                        self.deletions.insert((at, slot));
                    }
                    self.keys[slot] = Some(key);
                }
            }
        }
        for (account, region, alias, key_id) in aliases {
            let slot = *self.by_id.get(&key_id).ok_or(malformed)?;
            self.bind_alias(account.into(), region.into(), alias, slot);
        }
        self.generation += 1;
        Ok(())
    }
}

/// An alias body's fields: account, region, alias, key.
type ParsedAlias<'a> = (&'a str, &'a str, &'a str, KeyId);

/// A record's body, parsed.
enum Parsed<'a> {
    Key(Key, KeyVersionId),
    Version(KeyId, Version),
    Alias(ParsedAlias<'a>),
}

/// Parses one stored record; a version's budget is `budget(seals)`.
fn parse_record<'a>(
    record: StoredRecord<'a>,
    budget: impl FnOnce(u64) -> SealBudget,
) -> Result<Parsed<'a>, SnapshotError> {
    let malformed = SnapshotError::Malformed;
    let mut r = Reader { bytes: record.body };
    let parsed = match record.kind {
        RecordKind::Key => {
            let (key, primary) = parse_key(&mut r)?;
            Parsed::Key(key, primary)
        }
        RecordKind::Version => {
            let id = KeyVersionId::parse(r.take(36)?).ok_or(malformed)?;
            let key_id = KeyId::parse(r.str(1)?).ok_or(malformed)?;
            let cipher = read_material(&mut r)?.map(|m| Box::new(VersionCipher::new(m)));
            let created = r.time()?;
            let version = Version {
                id,
                cipher,
                budget: budget(record.seals),
                created,
            };
            Parsed::Version(key_id, version)
        }
        RecordKind::Alias => {
            let account = r.str(4)?;
            let region = r.str(4)?;
            let alias = r.str(2)?;
            let key_id = KeyId::parse(r.str(1)?).ok_or(malformed)?;
            Parsed::Alias((account, region, alias, key_id))
        }
    };
    if !r.bytes.is_empty() {
        return Err(malformed);
    }
    Ok(parsed)
}

/// A key body: the key without versions, and the ID of its primary version.
fn parse_key(r: &mut Reader<'_>) -> Result<(Key, KeyVersionId), SnapshotError> {
    let mut key = parse_key_head(r)?;
    let primary = KeyVersionId::parse(r.take(36)?).ok_or(SnapshotError::Malformed)?;
    key.policy = parse_policy(r)?;
    if !r.bytes.is_empty() {
        key.instance = parse_instance(r)?;
    }
    if !r.bytes.is_empty() {
        key.settings = parse_settings(r)?;
    }
    Ok((key, primary))
}
