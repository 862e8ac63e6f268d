//! Key management (with `alloc`): CreateKey, DescribeKey, ListKeys (with [`KeyFilter`]), the
//! alias operations, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion,
//! CreateKeyVersion, ListKeyVersions, DescribeKeyVersion, UpdateRotationPolicy,
//! ImportKeyMaterial (raw, or wrapped under an RSA key with GetParametersForImport: [`import`],
//! with the `rsa` feature), DeleteKeyMaterial and housekeeping ([`next_due`]: deletions,
//! material expiry, automatic rotation), typed, over any [`KeyStore`]; the metadata operations
//! (descriptions, deletion protection, tags, GetRandomPassword) in [`metadata`]; GetKeyPolicy and
//! SetKeyPolicy (the cross-account grants) in [`policy`].
//!
//! **Stage, then publish.** Read-only operations take `&store` and return their answer. An
//! operation that changes keys also takes only `&store`: it decides the change (every state
//! change through [`crate::lifecycle::transition`]) and returns it [`Staged`], with the answer
//! the caller will give once it holds. Nothing is visible yet. The caller makes the change
//! durable (writes it to a log, a database, a file) and only then commits it with
//! [`KeyStore::commit`], which refuses a change staged against a store that has changed since
//! ([`CommitError::Conflict`]: stage it again). A change that is never committed leaves no trace.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use kms_core::management::{self, CreateKey, KeyStore};
//! use kms_core::rand_core::SeedableRng;
//! use kms_core::{Caller, InMemoryProvider, KeyState};
//! use std::time::Duration;
//!
//! let mut rng = rand_chacha::ChaCha20Rng::from_seed([3; 32]);
//! let caller = Caller::new("1234567890123456", "cn-hangzhou");
//! let now = Duration::from_secs(1_715_675_053);
//! let mut store = InMemoryProvider::new();
//!
//! let staged = management::create_key(&store, &caller, &CreateKey::new(), &mut rng, now)?;
//! // ... make `staged.change()` durable here ...
//! let key = staged.output().key_id;
//! store.commit(staged.into_change())?;
//!
//! let staged = management::disable_key(&store, &caller, &key.into(), now)?;
//! assert_eq!(management::describe_key(&store, &caller, &key.into(), now)?.state, KeyState::Enabled);
//! store.commit(staged.into_change())?;
//! assert_eq!(management::describe_key(&store, &caller, &key.into(), now)?.state, KeyState::Disabled);
//! # Ok(())
//! # }
//! ```
//!
//! The core has no clock: every operation takes `now` (since the Unix epoch). A key whose
//! scheduled deletion date is at or before `now` is gone for management (DescribeKey says
//! `Forbidden.KeyNotFound`, ListKeys leaves it out); [`delete_due_keys`] stages its deletion,
//! for the frontend's housekeeping to commit. Until then the data-key operations see it as
//! `Rejected.PendingDeletion`.
//!
//! Only a key's own account may manage it **\[decided\]**: a key of another account, named by
//! ARN, is `Forbidden.NoPermission`, whatever its policy grants for data-key operations.
//!
//! The text parameters of these operations are parsed by [`params`]; the answers are typed
//! ([`KeyMeta`], [`Listing`]) and the frontend renders them in its wire format.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use rand_core::TryCryptoRng;

use crate::authorize::Resolving;
use crate::lifecycle::{Change, Lifecycle, transition};
use crate::provider::{KeyDirectory, ProviderError};
use crate::reference::{is_reserved_alias, is_valid_alias};
use crate::{Caller, Error, KeyId, KeyOrigin, KeyReference, KeyState, KeyUsage, KeyVersionId};
use crate::{InstanceId, MasterKeyMaterial, MasterKeySpec, Parameter};

pub mod filter;
#[cfg(feature = "rsa")]
pub mod import;
pub mod metadata;
pub mod params;
pub mod policy;

pub use filter::{KeyFilter, KeyProperty};

pub use metadata::{
    PasswordRequest, TagFilter, TagRow, TagRows, list_aliases_by_key_id, list_key_tags,
    list_tag_resources, random_password, set_deletion_protection, tag_key, untag_key,
    update_key_description,
};
pub use policy::{Grant, KeyPolicy, PolicyStatement, get_key_policy, set_key_policy};

/// The most characters of a key description.
pub const MAX_DESCRIPTION_CHARS: usize = 8192;

/// The shortest and longest automatic rotation interval: 7 to 365 days (Alibaba's
/// `RotationInterval` range).
pub const ROTATION_INTERVAL: core::ops::RangeInclusive<Duration> =
    Duration::from_secs(7 * 86_400)..=Duration::from_secs(365 * 86_400);

/// The shortest and longest pending window of ScheduleKeyDeletion, in days.
pub const PENDING_WINDOW_DAYS: core::ops::RangeInclusive<u16> = 7..=366;

/// One version of a key, as management reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VersionMeta {
    /// The version's ID.
    pub key_version_id: KeyVersionId,
    /// When it was made, since the Unix epoch.
    pub created: Duration,
}

/// One version with the key it belongs to: what ListKeyVersions lists and DescribeKeyVersion
/// reports (the key by its canonical ID, whatever form the request named it in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KeyVersionMeta {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version.
    pub version: VersionMeta,
}

/// A key's protection level (`ProtectionLevel`): where Alibaba keeps its material.
///
/// **\[decided\]** The level is recorded and reported as the caller chose it; this crate's
/// providers hold both alike (a provider backed by an HSM may refuse `Software`, or hold every
/// key in hardware).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ProtectionLevel {
    /// `SOFTWARE`, the default.
    #[default]
    Software,
    /// `HSM`.
    Hsm,
}

impl ProtectionLevel {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            ProtectionLevel::Software => "SOFTWARE",
            ProtectionLevel::Hsm => "HSM",
        }
    }

    /// The level named `name` (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "SOFTWARE" => Some(ProtectionLevel::Software),
            "HSM" => Some(ProtectionLevel::Hsm),
            _ => None,
        }
    }
}

/// One tag of a key: a key and a value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The tag key.
    pub key: String,
    /// The tag value.
    pub value: String,
}

/// What a key carries beyond its state, versions and description, and what its owner may change
/// after creation: rotation policy, protection, deletion protection, the expiry of imported
/// material, tags. The default is a key without any of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeySettings {
    /// The automatic rotation interval; `None` while automatic rotation is disabled.
    pub rotation_interval: Option<Duration>,
    /// The protection level chosen at creation.
    pub protection_level: ProtectionLevel,
    /// `Some(description)` while deletion protection is enabled (the description may be
    /// empty).
    pub deletion_protection: Option<String>,
    /// When the imported material of an `EXTERNAL` key expires (`MaterialExpireTime`), since
    /// the Unix epoch; `None` when it never does or there is none.
    pub material_expires: Option<Duration>,
    /// A check value of the material first imported into an `EXTERNAL` key (kept after the
    /// material is deleted or expires), so that only the same material can be imported again:
    /// blobs sealed under it must stay openable. Not secret; `None` before the first import.
    pub material_check: Option<[u8; 16]>,
    /// The tags, sorted by key, keys unique.
    pub tags: Vec<Tag>,
}

impl KeySettings {
    /// Settings with nothing set: what a key created without them has.
    pub fn new() -> Self {
        Self::default()
    }
}

/// Everything management knows about a key, without its material: what DescribeKey reports.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyMeta {
    /// The key ID.
    pub key_id: KeyId,
    /// The owning account.
    pub account: String,
    /// The key's region.
    pub region: String,
    /// The key's spec.
    pub spec: MasterKeySpec,
    /// The key's usage.
    pub usage: KeyUsage,
    /// Where its material comes from.
    pub origin: KeyOrigin,
    /// The state as reported (`Unavailable` while the provider cannot reach the material).
    pub state: KeyState,
    /// The stored state, whatever the availability of the material: what the state table
    /// decides on.
    pub stored_state: KeyState,
    /// The description given at creation.
    pub description: String,
    /// When the key was made, since the Unix epoch.
    pub created: Duration,
    /// When a scheduled deletion happens, if one is scheduled with a date.
    pub delete_at: Option<Duration>,
    /// The versions, oldest first.
    pub versions: Vec<VersionMeta>,
    /// The primary version: the one that seals.
    pub primary: KeyVersionId,
    /// Whether the primary version has material.
    pub has_material: bool,
    /// The KMS instance that holds the key (DescribeKey's `DKMSInstanceId`), if any.
    pub instance: Option<InstanceId>,
    /// Rotation policy, protection, tags and the rest its owner may change.
    pub settings: KeySettings,
    /// What other accounts may do with the key (the owner may do everything).
    pub policy: KeyPolicy,
}

impl KeyMeta {
    /// The part of the key the state table looks at: its stored state (a key reported
    /// `Unavailable` is given to the table with the state it has when its material is back).
    pub fn lifecycle(&self) -> Lifecycle {
        Lifecycle {
            state: self.stored_state,
            origin: self.origin,
            spec: self.spec,
            has_material: self.has_material,
            delete_at: self.delete_at,
        }
    }

    fn due_at(&self, now: Duration) -> bool {
        self.stored_state == KeyState::PendingDeletion && self.delete_at.is_some_and(|at| at <= now)
    }
}

/// A change to a key store, decided and not yet visible. Holds master key material when a key
/// or a version is made (zeroized on drop, redacted in `Debug`).
#[derive(Debug)]
#[non_exhaustive]
pub enum Mutation {
    /// A new key with its first version (and that version's material, unless it waits for an
    /// import).
    CreateKey {
        /// The key (boxed: the other changes are small).
        key: alloc::boxed::Box<KeyMeta>,
        /// Its first version's material.
        material: Option<MasterKeyMaterial>,
    },
    /// A key's state and deletion date change.
    SetLifecycle {
        /// The key.
        key_id: KeyId,
        /// Its new state.
        state: KeyState,
        /// Its new deletion date.
        delete_at: Option<Duration>,
    },
    /// A new primary version with fresh material.
    AddVersion {
        /// The key.
        key_id: KeyId,
        /// The version.
        version: VersionMeta,
        /// Its material.
        material: MasterKeyMaterial,
    },
    /// Material for the primary version of a key pending import; the key becomes Enabled.
    ImportMaterial {
        /// The key.
        key_id: KeyId,
        /// The material.
        material: MasterKeyMaterial,
        /// When it expires (the key's [`KeySettings::material_expires`]), if ever.
        expires: Option<Duration>,
        /// Its check value ([`material_check`]), kept as the key's
        /// [`KeySettings::material_check`].
        check: [u8; 16],
    },
    /// The primary version's material removed (DeleteKeyMaterial, or imported material that
    /// expired); the key takes `state` (PendingImport, or PendingDeletion as it was) and its
    /// material expiry is cleared.
    DeleteMaterial {
        /// The key.
        key_id: KeyId,
        /// Its new state.
        state: KeyState,
    },
    /// A key's description and settings replaced.
    UpdateKey {
        /// The key.
        key_id: KeyId,
        /// Its description.
        description: String,
        /// Its settings.
        settings: KeySettings,
    },
    /// A key's cross-account grants replaced (SetKeyPolicy).
    SetPolicy {
        /// The key.
        key_id: KeyId,
        /// Its grants; never one to its owner.
        policy: KeyPolicy,
    },
    /// An alias made, or pointed at another key.
    PutAlias {
        /// The account.
        account: String,
        /// The region.
        region: String,
        /// The alias, `alias/...` in full.
        alias: String,
        /// The key it names.
        key_id: KeyId,
    },
    /// An alias removed.
    DeleteAlias {
        /// The account.
        account: String,
        /// The region.
        region: String,
        /// The alias.
        alias: String,
    },
    /// Keys deleted, with their versions (material zeroized) and aliases.
    DeleteKeys {
        /// The keys.
        key_ids: Vec<KeyId>,
    },
}

/// The version of a store's contents that a change was staged against: every commit moves it
/// on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(pub u64);

/// A mutation and the generation it was staged against: what [`KeyStore::commit`] takes.
///
/// The generation guards against changes made to the store in between, not against mixing
/// stores: commit a change to the store it was staged against.
#[derive(Debug)]
pub struct StagedChange {
    /// The change.
    pub mutation: Mutation,
    /// The store's generation when it was decided.
    pub based_on: Generation,
}

/// The result of an operation that changes keys: the change, not yet visible, and the answer to
/// give once it is committed.
#[derive(Debug)]
#[must_use = "a staged change does nothing until it is committed"]
pub struct Staged<T> {
    change: StagedChange,
    output: T,
}

impl<T> Staged<T> {
    /// The change, to make durable before committing it.
    pub fn change(&self) -> &StagedChange {
        &self.change
    }

    /// The answer to give once the change is committed.
    pub fn output(&self) -> &T {
        &self.output
    }

    /// The change, for [`KeyStore::commit`].
    pub fn into_change(self) -> StagedChange {
        self.change
    }

    /// The change and the answer.
    pub fn into_parts(self) -> (StagedChange, T) {
        (self.change, self.output)
    }

    /// The same change with the answer mapped.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Staged<U> {
        Staged {
            change: self.change,
            output: f(self.output),
        }
    }
}

/// Why a commit was refused. Nothing changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommitError {
    /// The store changed since the change was staged: stage it again.
    Conflict,
    /// The store failed.
    Store(ProviderError),
}

impl fmt::Display for CommitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitError::Conflict => {
                f.write_str("the key store changed since the change was staged")
            }
            CommitError::Store(e) => write!(f, "the key store failed: {e}"),
        }
    }
}

impl core::error::Error for CommitError {}

impl From<CommitError> for Error {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Conflict => Error::InternalFailure(crate::Internal::Provider),
            CommitError::Store(e) => e.into(),
        }
    }
}

/// A key store that management runs over: a [`KeyDirectory`] that can also describe and list
/// its keys, and apply staged changes. Dyn-compatible.
pub trait KeyStore: KeyDirectory {
    /// Everything about key `key_id`, wherever it lives.
    ///
    /// # Errors
    /// A store that cannot answer.
    fn key(&self, key_id: &KeyId) -> Result<Option<KeyMeta>, ProviderError>;

    /// Whether a version with this ID exists (in any key).
    ///
    /// # Errors
    /// A store that cannot answer.
    fn contains_version(&self, version: &KeyVersionId) -> Result<bool, ProviderError>;

    /// Calls `visit` with every key of `account` in `region`, oldest first, and its deletion
    /// date if one is scheduled.
    ///
    /// # Errors
    /// A store that cannot answer.
    fn visit_keys(
        &self,
        account: &str,
        region: &str,
        visit: &mut dyn FnMut(&KeyId, Option<Duration>),
    ) -> Result<(), ProviderError>;

    /// Calls `visit` with every alias of `account` in `region` and the key it names, sorted by
    /// alias.
    ///
    /// # Errors
    /// A store that cannot answer.
    fn visit_aliases(
        &self,
        account: &str,
        region: &str,
        visit: &mut dyn FnMut(&str, &KeyId),
    ) -> Result<(), ProviderError>;

    /// The keys pending deletion whose date is at or before `now`.
    ///
    /// # Errors
    /// A store that cannot answer.
    fn due_deletions(&self, now: Duration) -> Result<Vec<KeyId>, ProviderError>;

    /// The keys whose automatic rotation ([`rotation_due`]) or material expiry
    /// ([`material_expired`]) is due at `now`. A superset is allowed (housekeeping checks each
    /// key again); leaving a due key out is not.
    ///
    /// # Errors
    /// A store that cannot answer.
    fn due_keys(&self, now: Duration) -> Result<Vec<KeyId>, ProviderError>;

    /// The store's current generation.
    fn generation(&self) -> Generation;

    /// Applies a staged change and moves the generation on.
    ///
    /// # Errors
    /// [`CommitError::Conflict`] when the store's generation is not the one the change was
    /// staged against; [`CommitError::Store`] when the store fails. Either way nothing changed.
    fn commit(&mut self, change: StagedChange) -> Result<(), CommitError>;

    /// Commits a staged change and returns its answer.
    ///
    /// # Errors
    /// As [`commit`](Self::commit).
    fn apply<T>(&mut self, staged: Staged<T>) -> Result<T, CommitError>
    where
        Self: Sized,
    {
        let (change, output) = staged.into_parts();
        self.commit(change)?;
        Ok(output)
    }
}

fn stage<S: KeyStore + ?Sized, T>(store: &S, mutation: Mutation, output: T) -> Staged<T> {
    Staged {
        change: StagedChange {
            mutation,
            based_on: store.generation(),
        },
        output,
    }
}

/// Draws IDs until one is not `taken`. A collision of random 122-bit IDs means a broken RNG:
/// after a few tries it is an error, not a loop that never ends.
fn fresh<R: TryCryptoRng + ?Sized, T>(
    rng: &mut R,
    draw: impl Fn(&mut R) -> Result<T, crate::RngError>,
    taken: impl Fn(&T) -> Result<bool, ProviderError>,
) -> Result<T, Error> {
    for _ in 0..8 {
        let id = draw(rng)?;
        if !taken(&id)? {
            return Ok(id);
        }
    }
    Err(crate::RngError.into())
}

/// Resolves a key the caller owns, through the data path's resolution (step 2), then checks
/// ownership. A key whose deletion is due is gone.
fn owned<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
    now: Duration,
) -> Result<KeyMeta, Error> {
    let resolved = Resolving::key(caller, reference).ask(store)?;
    let key = store
        .key(&resolved.record().key_id)?
        .ok_or(Error::KeyNotFound)?;
    if key.due_at(now) {
        return Err(if reference.is_alias() {
            Error::AliasNotFound
        } else {
            Error::KeyNotFound
        });
    }
    if key.account != caller.account {
        return Err(Error::NoPermission);
    }
    Ok(key)
}

/// What CreateKey makes: build it with [`CreateKey::new`] and the `with_*` setters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreateKey<'a> {
    /// The spec; `Aliyun_AES_256` by default.
    pub spec: MasterKeySpec,
    /// The usage; ENCRYPT/DECRYPT by default (SIGN/VERIFY for `EC_P256`).
    pub usage: KeyUsage,
    /// The origin; `Aliyun_KMS` by default. An `EXTERNAL` key waits in PendingImport.
    pub origin: KeyOrigin,
    /// A description of up to 8192 characters; empty by default.
    pub description: &'a str,
    /// The KMS instance to create the key in (`DKMSInstanceId`); none by default. The frontend
    /// checks that it hosts that instance.
    pub instance: Option<InstanceId>,
    /// The automatic rotation interval (`EnableAutomaticRotation` with `RotationInterval`);
    /// none by default. Only for `Aliyun_KMS` symmetric keys, within [`ROTATION_INTERVAL`].
    pub rotation_interval: Option<Duration>,
    /// The protection level; `SOFTWARE` by default.
    pub protection_level: ProtectionLevel,
}

impl Default for CreateKey<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> CreateKey<'a> {
    /// An `Aliyun_AES_256`, ENCRYPT/DECRYPT, `Aliyun_KMS` key without a description.
    pub const fn new() -> Self {
        Self {
            spec: MasterKeySpec::Aes256,
            usage: KeyUsage::EncryptDecrypt,
            origin: KeyOrigin::Kms,
            description: "",
            instance: None,
            rotation_interval: None,
            protection_level: ProtectionLevel::Software,
        }
    }

    /// The same key with another spec.
    #[must_use]
    pub const fn with_spec(self, spec: MasterKeySpec) -> Self {
        Self { spec, ..self }
    }

    /// The same key with another usage.
    #[must_use]
    pub const fn with_usage(self, usage: KeyUsage) -> Self {
        Self { usage, ..self }
    }

    /// The same key with another origin.
    #[must_use]
    pub const fn with_origin(self, origin: KeyOrigin) -> Self {
        Self { origin, ..self }
    }

    /// The same key with a description.
    #[must_use]
    pub const fn with_description(self, description: &'a str) -> Self {
        Self {
            description,
            ..self
        }
    }

    /// The same key in KMS instance `instance`.
    #[must_use]
    pub const fn with_instance(self, instance: InstanceId) -> Self {
        Self {
            instance: Some(instance),
            ..self
        }
    }

    /// The same key with automatic rotation every `interval`.
    #[must_use]
    pub const fn with_rotation_interval(self, interval: Duration) -> Self {
        Self {
            rotation_interval: Some(interval),
            ..self
        }
    }

    /// The same key with another protection level.
    #[must_use]
    pub const fn with_protection_level(self, protection_level: ProtectionLevel) -> Self {
        Self {
            protection_level,
            ..self
        }
    }

    /// Checks the combination: AES keys are ENCRYPT/DECRYPT, `EC_P256` keys SIGN/VERIFY, only
    /// AES keys may be `EXTERNAL`, descriptions are at most 8192 characters, automatic rotation
    /// only for `Aliyun_KMS` symmetric keys and within [`ROTATION_INTERVAL`].
    ///
    /// # Errors
    /// `InvalidParameter` `KeyUsage`, `Origin`, `Description` or `RotationInterval`.
    pub fn check(&self) -> Result<(), Error> {
        let usage_fits = match self.spec {
            MasterKeySpec::Aes256 | MasterKeySpec::Aes128 => self.usage == KeyUsage::EncryptDecrypt,
            // Alibaba: EC_P256 and EC_P256K sign and verify only; RSA and SM2 keys do either.
            MasterKeySpec::EcP256 | MasterKeySpec::EcP256K => self.usage == KeyUsage::SignVerify,
            _ => true,
        };
        if !usage_fits {
            return Err(Error::InvalidParameter(Parameter::KeyUsage));
        }
        if self.origin == KeyOrigin::External && !self.spec.is_symmetric() {
            return Err(Error::InvalidParameter(Parameter::Origin));
        }
        if self.description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(Error::InvalidParameter(Parameter::Description));
        }
        if let Some(interval) = self.rotation_interval
            && (!ROTATION_INTERVAL.contains(&interval)
                || self.origin != KeyOrigin::Kms
                || !self.spec.is_symmetric())
        {
            return Err(Error::InvalidParameter(Parameter::RotationInterval));
        }
        Ok(())
    }
}

/// CreateKey: a key of `caller`'s account in its region, with fresh IDs and (for an
/// `Aliyun_KMS` symmetric key) fresh material from `rng`. It starts Enabled, or PendingImport
/// when `EXTERNAL`.
///
/// # Errors
/// As [`CreateKey::check`]; `InternalFailure` when the RNG or the store fails.
pub fn create_key<S, R>(
    store: &S,
    caller: &Caller<'_>,
    request: &CreateKey<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    request.check()?;
    stage_new_key(store, caller, request, rng, now)
}

/// CreateKey's staging without its checks of the combination (for provisioning).
pub(crate) fn stage_new_key<S, R>(
    store: &S,
    caller: &Caller<'_>,
    request: &CreateKey<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key_id = fresh(rng, KeyId::random, |id| Ok(store.key(id)?.is_some()))?;
    let version = fresh(rng, KeyVersionId::random, |v| store.contains_version(v))?;
    let (state, material) = match (request.origin, request.spec.is_symmetric()) {
        (KeyOrigin::External, _) => (KeyState::PendingImport, None),
        (KeyOrigin::Kms, true) => (
            KeyState::Enabled,
            Some(MasterKeyMaterial::random(request.spec, rng)?),
        ),
        // An asymmetric key's private key, generated here (feature `asymmetric`); without the
        // feature the key holds none and every operation on it is refused.
        #[cfg(feature = "asymmetric")]
        (KeyOrigin::Kms, false) => (
            KeyState::Enabled,
            Some(MasterKeyMaterial::random(request.spec, rng)?),
        ),
        #[cfg(not(feature = "asymmetric"))]
        (KeyOrigin::Kms, false) => (KeyState::Enabled, None),
    };
    let key = KeyMeta {
        key_id,
        account: caller.account.into(),
        region: caller.region.into(),
        spec: request.spec,
        usage: request.usage,
        origin: request.origin,
        state,
        stored_state: state,
        description: request.description.into(),
        created: now,
        delete_at: None,
        versions: alloc::vec![VersionMeta {
            key_version_id: version,
            created: now,
        }],
        primary: version,
        has_material: material.is_some(),
        instance: request.instance,
        settings: KeySettings {
            rotation_interval: request.rotation_interval,
            protection_level: request.protection_level,
            ..KeySettings::new()
        },
        policy: KeyPolicy::new(),
    };
    Ok(stage(
        store,
        Mutation::CreateKey {
            key: alloc::boxed::Box::new(key.clone()),
            material,
        },
        key,
    ))
}

/// DescribeKey.
///
/// # Errors
/// `Forbidden.KeyNotFound`, `Forbidden.AliasNotFound`, `Forbidden.NoPermission`, or a store
/// failure.
pub fn describe_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<KeyMeta, Error> {
    owned(store, caller, key, now)
}

/// A page of a listing: 1-based number and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Page {
    /// The page number, from 1.
    pub number: usize,
    /// The page size.
    pub size: usize,
}

impl Page {
    /// The largest page size.
    pub const MAX_SIZE: usize = 100;

    /// Checks the page: numbers start at 1, sizes are 1..=100.
    ///
    /// # Errors
    /// `InvalidParameter PageNumber` or `PageSize`.
    pub fn check(&self) -> Result<(), Error> {
        if self.number == 0 {
            return Err(Error::InvalidParameter(Parameter::PageNumber));
        }
        if !(1..=Self::MAX_SIZE).contains(&self.size) {
            return Err(Error::InvalidParameter(Parameter::PageSize));
        }
        Ok(())
    }
}

impl Default for Page {
    /// Page 1 of 10.
    fn default() -> Self {
        Self {
            number: 1,
            size: 10,
        }
    }
}

/// One page of a listing and the size of the whole.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing<T> {
    /// The page's items.
    pub items: Vec<T>,
    /// How many items there are in all.
    pub total: usize,
    /// The page.
    pub page: Page,
}

fn page_of<T>(
    page: Page,
    mut visit: impl FnMut(&mut dyn FnMut(T)) -> Result<(), ProviderError>,
) -> Result<Listing<T>, Error> {
    page.check()?;
    let skip = (page.number - 1).saturating_mul(page.size);
    let mut total = 0;
    let mut items = Vec::new();
    visit(&mut |item| {
        if total >= skip && items.len() < page.size {
            items.push(item);
        }
        total += 1;
    })?;
    Ok(Listing { items, total, page })
}

/// ListKeys: the caller's keys in its region, oldest first, a page at a time.
///
/// # Errors
/// A store failure.
pub fn list_keys<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    page: Page,
    now: Duration,
) -> Result<Listing<KeyId>, Error> {
    page_of(page, |push| {
        store.visit_keys(caller.account, caller.region, &mut |key_id, delete_at| {
            if delete_at.is_none_or(|at| at > now) {
                push(*key_id);
            }
        })
    })
}

/// ListKeys with `Filters`: the caller's keys in its region that `filter` accepts, oldest
/// first, a page at a time (`TotalCount` counts the keys accepted). The empty filter lists as
/// [`list_keys`] does.
///
/// # Errors
/// As [`list_keys`].
pub fn list_keys_filtered<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    page: Page,
    filter: &KeyFilter,
    now: Duration,
) -> Result<Listing<KeyId>, Error> {
    if filter.is_empty() {
        return list_keys(store, caller, page, now);
    }
    page.check()?;
    let mut live = Vec::new();
    store.visit_keys(caller.account, caller.region, &mut |key_id, delete_at| {
        if delete_at.is_none_or(|at| at > now) {
            live.push(*key_id);
        }
    })?;
    let mut aliases: Vec<(KeyId, String)> = Vec::new();
    if filter.needs_aliases() {
        store.visit_aliases(caller.account, caller.region, &mut |alias, key_id| {
            aliases.push((*key_id, alias.into()));
        })?;
    }
    let mut accepted = Vec::new();
    for key_id in live {
        let Some(key) = store.key(&key_id)? else {
            continue;
        };
        let of_key: Vec<&str> = aliases
            .iter()
            .filter(|(k, _)| *k == key_id)
            .map(|(_, a)| a.as_str())
            .collect();
        if filter.matches(&key, &of_key) {
            accepted.push(key_id);
        }
    }
    page_of(page, |push| {
        accepted.iter().for_each(|k| push(*k));
        Ok(())
    })
}

/// ListKeyVersions: the versions of a key the caller owns, each with the key's canonical ID,
/// oldest first (the first version, made with the key, then one per CreateKeyVersion or
/// rotation), a page at a time.
///
/// The key is found as DescribeKey finds it (ID, alias or ARN) and in any state, pending
/// deletion or import included: versions are metadata, and listing them uses none.
/// **\[decided\]** Alibaba documents no order; oldest first is the order the store keeps and
/// the order in which the versions became primary, so the last entry of the last page is the
/// primary version.
///
/// # Errors
/// `InvalidParameter PageNumber` or `PageSize` (page 0, a size outside 1..=100);
/// `Forbidden.KeyNotFound`, `Forbidden.AliasNotFound`, `Forbidden.NoPermission`; a store
/// failure.
pub fn list_key_versions<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    page: Page,
    now: Duration,
) -> Result<Listing<KeyVersionMeta>, Error> {
    page.check()?;
    let key = owned(store, caller, key, now)?;
    page_of(page, |push| {
        for version in &key.versions {
            push(KeyVersionMeta {
                key_id: key.key_id,
                version: *version,
            });
        }
        Ok(())
    })
}

/// DescribeKeyVersion: one version of a key the caller owns, with the key's canonical ID
/// (also when the request named an alias or an ARN).
///
/// The key is found as DescribeKey finds it, in any state. **\[decided\]** A version that is
/// not one of this key's (well-formed but unknown, or a version of another key, the caller's
/// or not) is `Forbidden.KeyNotFound` (404), as a blob naming an unknown version is for
/// Decrypt: the pair names no key version, and the answer does not tell whether the version
/// exists elsewhere. Alibaba documents only `InvalidParameter` for this operation, which
/// [`params::key_version_id`] gives a malformed ID.
///
/// # Errors
/// `Forbidden.KeyNotFound` (for the key or the version), `Forbidden.AliasNotFound`,
/// `Forbidden.NoPermission`; a store failure.
pub fn describe_key_version<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    version: &KeyVersionId,
    now: Duration,
) -> Result<KeyVersionMeta, Error> {
    let key = owned(store, caller, key, now)?;
    key.versions
        .iter()
        .find(|v| v.key_version_id == *version)
        .map(|v| KeyVersionMeta {
            key_id: key.key_id,
            version: *v,
        })
        .ok_or(Error::KeyNotFound)
}

/// One alias of a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AliasEntry {
    /// The alias, `alias/...` in full.
    pub alias: String,
    /// The key it names.
    pub key_id: KeyId,
}

/// ListAliases: the caller's aliases in its region, sorted by name, a page at a time.
///
/// # Errors
/// A store failure.
pub fn list_aliases<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    page: Page,
    now: Duration,
) -> Result<Listing<AliasEntry>, Error> {
    let due = store.due_deletions(now)?;
    page_of(page, |push| {
        store.visit_aliases(caller.account, caller.region, &mut |alias, key_id| {
            if !due.contains(key_id) {
                push(AliasEntry {
                    alias: alias.into(),
                    key_id: *key_id,
                });
            }
        })
    })
}

/// Checks an alias name for creation: `alias/` and 1..=255 of `A-Za-z0-9_-/`, not under the
/// reserved `alias/acs/`.
///
/// # Errors
/// `InvalidParameter AliasName`.
pub fn check_alias_name(alias: &str) -> Result<(), Error> {
    if is_valid_alias(alias) && !is_reserved_alias(alias) {
        Ok(())
    } else {
        Err(Error::InvalidParameter(Parameter::AliasName))
    }
}

fn alias_target<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    alias: &str,
    now: Duration,
) -> Result<Option<KeyId>, Error> {
    let Some(record) = store.find_alias(caller.account, caller.region, alias)? else {
        return Ok(None);
    };
    let due = store.key(&record.key_id)?.is_none_or(|k| k.due_at(now));
    Ok((!due).then_some(record.key_id))
}

/// CreateAlias: `alias` (checked by [`check_alias_name`]) names `key`, a key the caller owns.
///
/// # Errors
/// `InvalidParameter AliasName`; key resolution errors; `Rejected.StateModifiedFailed` for a
/// key pending deletion; `AliasAlreadyExists`.
pub fn create_alias<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    alias: &str,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    check_alias_name(alias)?;
    let key = owned(store, caller, key, now)?;
    transition(&key.lifecycle(), Change::BindAlias)?;
    if alias_target(store, caller, alias, now)?.is_some() {
        return Err(Error::AliasAlreadyExists);
    }
    Ok(put_alias(store, caller, alias, key.key_id))
}

/// UpdateAlias: points an existing alias at another key the caller owns.
///
/// # Errors
/// As [`create_alias`], with `Forbidden.AliasNotFound` for an alias that does not exist.
pub fn update_alias<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    alias: &str,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    check_alias_name(alias)?;
    let key = owned(store, caller, key, now)?;
    if alias_target(store, caller, alias, now)?.is_none() {
        return Err(Error::AliasNotFound);
    }
    transition(&key.lifecycle(), Change::BindAlias)?;
    Ok(put_alias(store, caller, alias, key.key_id))
}

fn put_alias<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    alias: &str,
    key_id: KeyId,
) -> Staged<()> {
    let mutation = Mutation::PutAlias {
        account: caller.account.into(),
        region: caller.region.into(),
        alias: alias.into(),
        key_id,
    };
    stage(store, mutation, ())
}

/// DeleteAlias.
///
/// # Errors
/// `InvalidParameter AliasName`; `Forbidden.AliasNotFound`.
pub fn delete_alias<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    alias: &str,
    now: Duration,
) -> Result<Staged<()>, Error> {
    check_alias_name(alias)?;
    if alias_target(store, caller, alias, now)?.is_none() {
        return Err(Error::AliasNotFound);
    }
    let mutation = Mutation::DeleteAlias {
        account: caller.account.into(),
        region: caller.region.into(),
        alias: alias.into(),
    };
    Ok(stage(store, mutation, ()))
}

/// A state change of a key the caller owns, decided by the state table.
fn change_state<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    change: Change,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error> {
    let mut key = owned(store, caller, key, now)?;
    let next = transition(&key.lifecycle(), change)?.next;
    if key.state == key.stored_state {
        key.state = next.state;
    }
    key.stored_state = next.state;
    key.delete_at = next.delete_at;
    let mutation = Mutation::SetLifecycle {
        key_id: key.key_id,
        state: next.state,
        delete_at: next.delete_at,
    };
    Ok(stage(store, mutation, key))
}

/// EnableKey.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` in PendingDeletion or PendingImport.
pub fn enable_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error> {
    change_state(store, caller, key, Change::Enable, now)
}

/// DisableKey.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` in PendingDeletion or PendingImport.
pub fn disable_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error> {
    change_state(store, caller, key, Change::Disable, now)
}

/// CancelKeyDeletion: the key returns to Enabled, or to PendingImport when it still has no
/// material.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless pending deletion.
pub fn cancel_key_deletion<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error> {
    change_state(store, caller, key, Change::CancelDeletion, now)
}

/// ScheduleKeyDeletion: the key is deleted `days` (7..=366) days after `now`. Refused while the
/// key's deletion protection is on ([`set_deletion_protection`]).
///
/// # Errors
/// `InvalidParameter PendingWindowInDays`; key resolution errors;
/// `Forbidden.ResourceProtected` while deletion protection is on;
/// `Rejected.StateModifiedFailed` when already pending deletion.
pub fn schedule_key_deletion<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    days: u16,
    now: Duration,
) -> Result<Staged<KeyMeta>, Error> {
    let invalid = Error::InvalidParameter(Parameter::PendingWindowInDays);
    if !PENDING_WINDOW_DAYS.contains(&days) {
        return Err(invalid);
    }
    let delete_at = now
        .checked_add(Duration::from_secs(u64::from(days) * 86_400))
        .ok_or(invalid)?;
    if owned(store, caller, key, now)?
        .settings
        .deletion_protection
        .is_some()
    {
        return Err(Error::ResourceProtected);
    }
    let change = Change::ScheduleDeletion {
        delete_at: Some(delete_at),
    };
    change_state(store, caller, key, change, now)
}

/// CreateKeyVersion: a new version with fresh material from `rng` becomes primary; older
/// versions keep opening their blobs.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless Enabled;
/// `UnsupportedOperation` for a key without material of its own (external or asymmetric);
/// `InternalFailure` when the RNG fails.
pub fn create_key_version<S, R>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<Staged<VersionMeta>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = owned(store, caller, key, now)?;
    add_version(store, &key, rng, now)
}

/// Rotates key `key_id` as the service itself (no caller): what a frontend does when the
/// primary version's seal budget runs out (spec §10) or a rotation policy falls due. Rotates
/// only while `exhausted` is still the primary version, so concurrent rotations of one key make
/// one new version; `Ok(None)` when someone rotated first.
///
/// # Errors
/// As [`create_key_version`], less the caller's checks.
pub fn rotate_exhausted<S, R>(
    store: &S,
    key_id: &KeyId,
    exhausted: &KeyVersionId,
    rng: &mut R,
    now: Duration,
) -> Result<Option<Staged<VersionMeta>>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = store.key(key_id)?.ok_or(Error::KeyNotFound)?;
    if key.primary != *exhausted {
        return Ok(None);
    }
    add_version(store, &key, rng, now).map(Some)
}

fn add_version<S, R>(
    store: &S,
    key: &KeyMeta,
    rng: &mut R,
    now: Duration,
) -> Result<Staged<VersionMeta>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    transition(&key.lifecycle(), Change::AddVersion)?;
    let id = fresh(rng, KeyVersionId::random, |v| store.contains_version(v))?;
    let material = MasterKeyMaterial::random(key.spec, rng)?;
    let version = VersionMeta {
        key_version_id: id,
        created: now,
    };
    let mutation = Mutation::AddVersion {
        key_id: key.key_id,
        version,
        material,
    };
    Ok(stage(store, mutation, version))
}

/// ImportKeyMaterial: raw material for an `EXTERNAL` key pending import, which becomes
/// Enabled; or the same material again into an `EXTERNAL` key that has it (Enabled or
/// Disabled), which resets its expiry. The material never expires.
///
/// The first material imported into a key is the only material it ever takes: its check value
/// ([`material_check`]) is kept in the key's settings, also after the material is deleted or
/// expires, and other material is `InvalidKeyMaterial` (blobs sealed under the first must stay
/// openable). **\[decided\]** A key that has material but no check value (imported before
/// check values were kept) cannot tell its material from another: a re-import is then
/// `Rejected.StateModifiedFailed`, as before.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless an external key pending
/// import, Enabled or Disabled; `InvalidParameter KeyMaterial` for material of the wrong
/// length; `InvalidKeyMaterial` for material that is not the key's.
pub fn import_key_material<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    material: MasterKeyMaterial,
    now: Duration,
) -> Result<Staged<()>, Error> {
    import(store, caller, key, material, None, now)
}

/// ImportKeyMaterial with `KeyMaterialExpireUnix`: as [`import_key_material`], and the
/// material expires at `expires` (since the Unix epoch; after `now`): housekeeping
/// ([`next_due`]) then removes it and the key goes back to PendingImport.
///
/// # Errors
/// As [`import_key_material`]; `InvalidParameter KeyMaterialExpireUnix` when `expires` is not
/// after `now`.
pub fn import_key_material_until<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    material: MasterKeyMaterial,
    expires: Duration,
    now: Duration,
) -> Result<Staged<()>, Error> {
    if expires <= now {
        return Err(Error::InvalidParameter(Parameter::KeyMaterialExpireUnix));
    }
    import(store, caller, key, material, Some(expires), now)
}

fn import<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    material: MasterKeyMaterial,
    expires: Option<Duration>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    let key = owned(store, caller, key, now)?;
    stage_import(store, &key, material, expires)
}

/// Stages `material` into `key` (resolved and owned), after the state table and the check
/// value allow it: the material itself for a key pending import, only the new expiry for a
/// re-import of the material the key has.
pub(crate) fn stage_import<S: KeyStore + ?Sized>(
    store: &S,
    key: &KeyMeta,
    material: MasterKeyMaterial,
    expires: Option<Duration>,
) -> Result<Staged<()>, Error> {
    let change = Change::ImportMaterial {
        spec: material.spec(),
    };
    let effect = transition(&key.lifecycle(), change)?.effect;
    let check = material_check(&material);
    match key.settings.material_check {
        Some(kept) if !bool::from(subtle::ConstantTimeEq::ct_eq(&kept[..], &check[..])) => {
            return Err(Error::InvalidKeyMaterial);
        }
        None if key.has_material => return Err(Error::StateModifiedFailed),
        _ => {}
    }
    if effect == crate::lifecycle::Effect::MaterialImported {
        let mutation = Mutation::ImportMaterial {
            key_id: key.key_id,
            material,
            expires,
            check,
        };
        return Ok(stage(store, mutation, ()));
    }
    // A re-import of the material the key has: only its expiry changes.
    let settings = KeySettings {
        material_expires: expires,
        ..key.settings.clone()
    };
    Ok(stage(
        store,
        update(key.key_id, key.description.clone(), settings),
        (),
    ))
}

/// The label of [`material_check`].
const MATERIAL_CHECK_LABEL: &[u8] = b"kms-core imported material check value v1";

/// The check value of imported material: the AES-GCM tag (AES-128 or AES-256, by the
/// material's length) of an empty message under the material, with an all-zero nonce and a
/// fixed label as associated data. It tells one material from another without revealing it (a
/// key check value, as HSMs print for a key), and is kept in the key's settings so that only
/// the material first imported can be imported again. Compare check values in constant time.
pub fn material_check(material: &MasterKeyMaterial) -> [u8; 16] {
    use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
    let nonce = [0u8; 12];
    let tag = match material {
        MasterKeyMaterial::Aes128(k) => Aes128Gcm::new((&**k).into()).encrypt_inout_detached(
            &nonce.into(),
            MATERIAL_CHECK_LABEL,
            (&mut [][..]).into(),
        ),
        MasterKeyMaterial::Aes256(k) => Aes256Gcm::new((&**k).into()).encrypt_inout_detached(
            &nonce.into(),
            MATERIAL_CHECK_LABEL,
            (&mut [][..]).into(),
        ),
        // Only AES material is imported.
        #[cfg(feature = "asymmetric")]
        MasterKeyMaterial::Asymmetric(_) => Err(aes_gcm::Error),
    };
    // Sealing an empty message cannot fail (AES-GCM fails only past its length limit).
    tag.map(Into::into).unwrap_or([0u8; 16])
}

/// DeleteKeyMaterial: the material of an `EXTERNAL` key is removed (zeroized when committed);
/// the key goes back to PendingImport (or stays PendingDeletion) until material is imported
/// again. Blobs sealed under it cannot be opened until the same material is imported again.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` when the key has no material or its
/// state does not allow it; `UnsupportedOperation` for a key that is not `EXTERNAL`.
pub fn delete_key_material<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    let key = owned(store, caller, key, now)?;
    let next = transition(&key.lifecycle(), Change::DeleteMaterial)?.next;
    let mutation = Mutation::DeleteMaterial {
        key_id: key.key_id,
        state: next.state,
    };
    Ok(stage(store, mutation, ()))
}

/// Housekeeping: the deletion of every key whose scheduled date is at or before `now`, with its
/// versions and aliases; `None` when none is due. The output is the keys deleted.
///
/// # Errors
/// A store failure.
pub fn delete_due_keys<S: KeyStore + ?Sized>(
    store: &S,
    now: Duration,
) -> Result<Option<Staged<Vec<KeyId>>>, Error> {
    let due = store.due_deletions(now)?;
    if due.is_empty() {
        return Ok(None);
    }
    for key_id in &due {
        let key = store.key(key_id)?.ok_or(Error::KeyNotFound)?;
        transition(&key.lifecycle(), Change::Delete)?;
    }
    let mutation = Mutation::DeleteKeys {
        key_ids: due.clone(),
    };
    Ok(Some(stage(store, mutation, due)))
}

/// UpdateRotationPolicy: automatic rotation of the key every `interval`, or (`None`) no
/// automatic rotation. Housekeeping ([`next_due`]) rotates the key at its [`next_rotation`],
/// which for a key not rotated for longer than `interval` is at once.
///
/// # Errors
/// Key resolution errors; `InvalidParameter RotationInterval` outside [`ROTATION_INTERVAL`];
/// `Rejected.UnsupportedOperation` when enabling it for a key that is not an Enabled
/// `Aliyun_KMS` symmetric key (asymmetric keys, imported keys, keys in any other state: the
/// keys Alibaba documents as unable to take a rotation policy). Turning it off is allowed in
/// every state.
pub fn update_rotation_policy<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    interval: Option<Duration>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    if interval.is_some_and(|i| !ROTATION_INTERVAL.contains(&i)) {
        return Err(Error::InvalidParameter(Parameter::RotationInterval));
    }
    let key = owned(store, caller, key, now)?;
    if interval.is_some()
        && (key.origin != KeyOrigin::Kms
            || !key.spec.is_symmetric()
            || key.stored_state != KeyState::Enabled)
    {
        return Err(Error::RejectedUnsupportedOperation);
    }
    let settings = KeySettings {
        rotation_interval: interval,
        ..key.settings
    };
    Ok(stage(
        store,
        update(key.key_id, key.description, settings),
        (),
    ))
}

/// A key's description and settings replaced: the one mutation every settings change stages.
pub(crate) fn update(key_id: KeyId, description: String, settings: KeySettings) -> Mutation {
    Mutation::UpdateKey {
        key_id,
        description,
        settings,
    }
}

/// A key's last rotation (`LastRotationDate`): when its primary version was made, which is
/// its creation for a key never rotated.
pub fn last_rotation(key: &KeyMeta) -> Duration {
    key.versions
        .iter()
        .find(|v| v.key_version_id == key.primary)
        .map_or(key.created, |v| v.created)
}

/// When a key's automatic rotation falls due (`NextRotationDate`): its rotation interval after
/// its [`last_rotation`], for a key with automatic rotation enabled; `None` without.
pub fn next_rotation(key: &KeyMeta) -> Option<Duration> {
    key.settings
        .rotation_interval
        .map(|interval| last_rotation(key).saturating_add(interval))
}

/// Whether housekeeping rotates `key` at `now`: automatic rotation is enabled, its
/// [`next_rotation`] is at or before `now`, and the key is Enabled. A Disabled key's rotation is
/// suspended (DescribeKey's `AutomaticRotation` says `Suspended`) and happens once it is
/// enabled again; a key pending deletion or import does not rotate.
pub fn rotation_due(key: &KeyMeta, now: Duration) -> bool {
    key.stored_state == KeyState::Enabled && next_rotation(key).is_some_and(|at| at <= now)
}

/// Whether the imported material of `key` has expired at `now`: it has material and its
/// `MaterialExpireTime` is at or before `now`. Housekeeping then removes it, as
/// DeleteKeyMaterial does. Until housekeeping runs, the key keeps working: the data-key
/// operations decide on the stored state only (**\[decided\]**: a frontend runs housekeeping
/// often enough for the delay to be its stated bound).
pub fn material_expired(key: &KeyMeta, now: Duration) -> bool {
    key.has_material && key.settings.material_expires.is_some_and(|at| at <= now)
}

/// What housekeeping did: the answer of a change [`next_due`] staged.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Due {
    /// Keys whose deletion date came, deleted with their versions and aliases.
    Deleted(Vec<KeyId>),
    /// A key's imported material expired and was removed.
    MaterialExpired(KeyId),
    /// A key rotated by its policy: its new primary version.
    Rotated(KeyVersionMeta),
}

/// Housekeeping, one change at a time: the next thing due at `now`, staged, or `None` when
/// nothing is. First the deletions that are due (all in one change, as [`delete_due_keys`]),
/// then expired material ([`material_expired`]), then automatic rotations
/// ([`rotation_due`], fresh material from `rng`). A frontend commits each change and asks
/// again until nothing is due; the time is the frontend's to pass, so a test can advance it.
///
/// # Errors
/// A store or RNG failure.
pub fn next_due<S, R>(store: &S, now: Duration, rng: &mut R) -> Result<Option<Staged<Due>>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    if let Some(staged) = delete_due_keys(store, now)? {
        return Ok(Some(staged.map(Due::Deleted)));
    }
    for key_id in store.due_keys(now)? {
        let Some(key) = store.key(&key_id)? else {
            continue;
        };
        if material_expired(&key, now) {
            let Ok(t) = transition(&key.lifecycle(), Change::DeleteMaterial) else {
                continue;
            };
            let mutation = Mutation::DeleteMaterial {
                key_id,
                state: t.next.state,
            };
            return Ok(Some(stage(store, mutation, Due::MaterialExpired(key_id))));
        }
        if rotation_due(&key, now) {
            let staged = add_version(store, &key, rng, now)?;
            return Ok(Some(
                staged.map(|version| Due::Rotated(KeyVersionMeta { key_id, version })),
            ));
        }
    }
    Ok(None)
}

/// Deletes a key pending deletion now, whatever its date (the caller must own it).
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless pending deletion.
pub fn delete_key<S: KeyStore + ?Sized>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    now: Duration,
) -> Result<Staged<()>, Error> {
    let key = owned(store, caller, key, now)?;
    transition(&key.lifecycle(), Change::Delete)?;
    let mutation = Mutation::DeleteKeys {
        key_ids: alloc::vec![key.key_id],
    };
    Ok(stage(store, mutation, ()))
}
