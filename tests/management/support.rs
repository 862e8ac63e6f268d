//! The management tests' world: a provider, an RNG and a clock, each management operation
//! staged and committed at once (a `KeyId` given as request text and parsed with
//! `management::params`, as a frontend does), the data-key operations over the wire layer, an
//! observation of everything a store shows, and the management operations as data for the
//! tables that run every one of them.
#![allow(dead_code)]

use core::time::Duration;

use kms_core::management::{
    self, CreateKey, KeyMeta, KeyStore, Listing, Page, Staged, StagedChange, VersionMeta, params,
};
use kms_core::rand_core::TryCryptoRng;
use kms_core::wire::{self, DecryptParams, GenerateDataKeyParams};
use kms_core::{
    Caller, Error, InMemoryProvider, KeyId, KeyOrigin, KeyReference, KeyState, KeyVersionId,
    MasterKeyMaterial, MasterKeySpec,
};
use rand_chacha::ChaCha20Rng;

use crate::testkit::*;

/// A well-formed key ID (`key-` form) that names no key.
pub const UNKNOWN_KEY_ID_SHORT: &str = "key-hzz630494463ejqjx1234";
/// [`T0`] in ISO 8601 (`date -u -d @1715675053 +%FT%TZ`).
pub const T0_TEXT: &str = "2024-05-14T08:24:13Z";
/// One day, in seconds.
pub const DAY_SECS: u64 = 86_400;
/// An account that owns nothing unless a test gives it something.
pub const THIRD_ACCOUNT: &str = "1111111111111111";

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// A `KeyId` parameter parsed as a frontend parses it; panics on text that is not valid.
pub fn reference(text: &str) -> KeyReference<'_> {
    params::key_id(Some(text)).expect("a valid KeyId")
}

/// `MasterKeyMaterial` from raw bytes of a valid length.
pub fn material(bytes: &[u8]) -> MasterKeyMaterial {
    MasterKeyMaterial::from_slice(bytes).expect("16 or 32 bytes")
}

/// Opens a GenerateDataKey or Encrypt blob sealed with the empty context under raw `material`
/// with bare AES-GCM (the testkit's, not the crate's); `None` when the tag fails.
pub fn opens_with(material: &[u8], blob: &str) -> Option<Vec<u8>> {
    let raw = unb64(blob);
    let aad = spec_aad(&blob_version(blob), &[]);
    open_blob(material, &raw, &aad)
}

// ---------------------------------------------------------------------------------------------
// The world

/// A provider, an RNG and a clock. Every operation runs at `now`; every change is committed at
/// once.
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
            now: T0,
        }
    }

    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    /// Commits a staged change at once (the commit itself must succeed) and returns its answer.
    #[track_caller]
    pub fn commit<T>(&mut self, staged: Result<Staged<T>, Error>) -> Result<T, Error> {
        let staged = staged?;
        Ok(self.provider.apply(staged).expect("commit"))
    }

    // CreateKey

    pub fn create_as(
        &mut self,
        caller: &Caller<'_>,
        request: &CreateKey<'_>,
    ) -> Result<KeyMeta, Error> {
        let staged =
            management::create_key(&self.provider, caller, request, &mut self.rng, self.now);
        self.commit(staged)
    }

    pub fn create(&mut self, request: &CreateKey<'_>) -> Result<KeyMeta, Error> {
        self.create_as(&owner(), request)
    }

    /// A default key of `caller`.
    #[track_caller]
    pub fn key_of(&mut self, caller: &Caller<'_>) -> KeyId {
        self.create_as(caller, &CreateKey::new())
            .expect("create key")
            .key_id
    }

    /// A default key of the owner.
    #[track_caller]
    pub fn key(&mut self) -> KeyId {
        self.key_of(&owner())
    }

    /// An `EXTERNAL` key of the owner with `spec`, pending import.
    #[track_caller]
    pub fn external_key(&mut self, spec: MasterKeySpec) -> KeyId {
        let request = CreateKey::new()
            .with_spec(spec)
            .with_origin(KeyOrigin::External);
        self.create(&request).expect("create external key").key_id
    }

    // Single-key operations, the key named by request text

    pub fn describe_as(&self, caller: &Caller<'_>, key: &str) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        management::describe_key(&self.provider, caller, &key, self.now)
    }

    pub fn describe(&self, key: &str) -> Result<KeyMeta, Error> {
        self.describe_as(&owner(), key)
    }

    /// DescribeKey's state of a key of the owner.
    #[track_caller]
    pub fn state(&self, key: &KeyId) -> KeyState {
        self.describe(key.as_str()).expect("describe key").state
    }

    /// What the store holds about a key, whatever management would say at `now`.
    #[track_caller]
    pub fn stored(&self, key: &KeyId) -> Option<KeyMeta> {
        self.provider.key(key).expect("store")
    }

    /// A key's versions, oldest first, as the store holds them.
    #[track_caller]
    pub fn versions(&self, key: &KeyId) -> Vec<KeyVersionId> {
        let meta = self.stored(key).expect("key");
        meta.versions.iter().map(|v| v.key_version_id).collect()
    }

    pub fn enable_as(&mut self, caller: &Caller<'_>, key: &str) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::enable_key(&self.provider, caller, &key, self.now);
        self.commit(staged)
    }

    pub fn enable(&mut self, key: &str) -> Result<KeyMeta, Error> {
        self.enable_as(&owner(), key)
    }

    pub fn disable_as(&mut self, caller: &Caller<'_>, key: &str) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::disable_key(&self.provider, caller, &key, self.now);
        self.commit(staged)
    }

    pub fn disable(&mut self, key: &str) -> Result<KeyMeta, Error> {
        self.disable_as(&owner(), key)
    }

    pub fn cancel(&mut self, key: &str) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::cancel_key_deletion(&self.provider, &owner(), &key, self.now);
        self.commit(staged)
    }

    pub fn schedule(&mut self, key: &str, days: u16) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        let staged =
            management::schedule_key_deletion(&self.provider, &owner(), &key, days, self.now);
        self.commit(staged)
    }

    /// ScheduleKeyDeletion with `PendingWindowInDays` as request text.
    pub fn schedule_text(&mut self, key: &str, days: Option<&str>) -> Result<KeyMeta, Error> {
        let key = params::key_id(Some(key))?;
        let days = params::pending_window_in_days(days)?;
        let staged =
            management::schedule_key_deletion(&self.provider, &owner(), &key, days, self.now);
        self.commit(staged)
    }

    pub fn rotate_as(&mut self, caller: &Caller<'_>, key: &str) -> Result<VersionMeta, Error> {
        let key = params::key_id(Some(key))?;
        let staged =
            management::create_key_version(&self.provider, caller, &key, &mut self.rng, self.now);
        self.commit(staged)
    }

    pub fn rotate(&mut self, key: &str) -> Result<VersionMeta, Error> {
        self.rotate_as(&owner(), key)
    }

    /// ImportKeyMaterial of raw `bytes` (16 or 32 of them).
    pub fn import(&mut self, key: &str, bytes: &[u8]) -> Result<(), Error> {
        self.import_text(&owner(), key, Some(&b64(bytes)))
    }

    /// ImportKeyMaterial with `KeyMaterial` as request text.
    pub fn import_text(
        &mut self,
        caller: &Caller<'_>,
        key: &str,
        text: Option<&str>,
    ) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let material = params::key_material(text)?;
        let staged =
            management::import_key_material(&self.provider, caller, &key, material, self.now);
        self.commit(staged)
    }

    // Aliases

    pub fn create_alias_as(
        &mut self,
        caller: &Caller<'_>,
        alias: &str,
        key: &str,
    ) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::create_alias(&self.provider, caller, alias, &key, self.now);
        self.commit(staged)
    }

    pub fn create_alias(&mut self, alias: &str, key: &str) -> Result<(), Error> {
        self.create_alias_as(&owner(), alias, key)
    }

    pub fn update_alias_as(
        &mut self,
        caller: &Caller<'_>,
        alias: &str,
        key: &str,
    ) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::update_alias(&self.provider, caller, alias, &key, self.now);
        self.commit(staged)
    }

    pub fn update_alias(&mut self, alias: &str, key: &str) -> Result<(), Error> {
        self.update_alias_as(&owner(), alias, key)
    }

    pub fn delete_alias_as(&mut self, caller: &Caller<'_>, alias: &str) -> Result<(), Error> {
        let staged = management::delete_alias(&self.provider, caller, alias, self.now);
        self.commit(staged)
    }

    pub fn delete_alias(&mut self, alias: &str) -> Result<(), Error> {
        self.delete_alias_as(&owner(), alias)
    }

    // Deletion

    /// Housekeeping: commits the deletion of the keys due at `now` and returns them.
    #[track_caller]
    pub fn delete_due(&mut self) -> Vec<KeyId> {
        match management::delete_due_keys(&self.provider, self.now).expect("delete due keys") {
            Some(staged) => self.provider.apply(staged).expect("commit"),
            None => Vec::new(),
        }
    }

    // Listings

    pub fn list_keys_as(&self, caller: &Caller<'_>, page: Page) -> Listing<KeyId> {
        management::list_keys(&self.provider, caller, page, self.now).expect("list keys")
    }

    /// Every key of `caller`, through ListKeys pages of 100.
    pub fn all_keys_of(&self, caller: &Caller<'_>) -> Vec<KeyId> {
        let mut keys = Vec::new();
        for number in 1.. {
            let listing = self.list_keys_as(caller, Page { number, size: 100 });
            if listing.items.is_empty() {
                break;
            }
            keys.extend(listing.items);
        }
        keys
    }

    pub fn list_aliases_as(
        &self,
        caller: &Caller<'_>,
        page: Page,
    ) -> Listing<management::AliasEntry> {
        management::list_aliases(&self.provider, caller, page, self.now).expect("list aliases")
    }

    /// Every alias of `caller` as (name, key), through ListAliases pages of 100.
    pub fn all_aliases_of(&self, caller: &Caller<'_>) -> Vec<(String, KeyId)> {
        let mut aliases = Vec::new();
        for number in 1.. {
            let listing = self.list_aliases_as(caller, Page { number, size: 100 });
            if listing.items.is_empty() {
                break;
            }
            aliases.extend(listing.items.into_iter().map(|a| (a.alias, a.key_id)));
        }
        aliases
    }

    // Data-key operations, over the wire layer

    pub fn gdk_as(
        &mut self,
        caller: &Caller<'_>,
        key: &str,
    ) -> Result<wire::GenerateDataKeyResponseBuf, Error> {
        let params = GenerateDataKeyParams::new().key_id(key);
        wire::generate_data_key(&self.provider, caller, &params, &mut self.rng)
    }

    pub fn gdk(&mut self, key: &str) -> Result<wire::GenerateDataKeyResponseBuf, Error> {
        self.gdk_as(&owner(), key)
    }

    pub fn decrypt_as(
        &mut self,
        caller: &Caller<'_>,
        blob: &str,
    ) -> Result<wire::DecryptResponseBuf, Error> {
        let params = DecryptParams::new().ciphertext_blob(blob);
        wire::decrypt(&self.provider, caller, &params, &mut self.rng)
    }

    pub fn decrypt(&mut self, blob: &str) -> Result<wire::DecryptResponseBuf, Error> {
        self.decrypt_as(&owner(), blob)
    }

    /// A GenerateDataKey under `key` whose blob decrypts back to the same data key.
    #[track_caller]
    pub fn assert_round_trip(&mut self, key: &str) -> wire::GenerateDataKeyResponseBuf {
        let made = self.gdk(key).expect("generate data key");
        let opened = self.decrypt(&made.ciphertext_blob).expect("decrypt");
        assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
        assert_eq!(opened.key_id, made.key_id);
        assert_eq!(opened.key_version_id, made.key_version_id);
        made
    }

    /// Everything the store shows, for comparisons before and after.
    pub fn observe(&self) -> Observed {
        observe(&self.provider)
    }
}

// ---------------------------------------------------------------------------------------------
// Observation

/// The callers whose keys the observation looks at.
pub fn callers() -> [Caller<'static>; 4] {
    [
        owner(),
        other(),
        elsewhere(),
        Caller::new(THIRD_ACCOUNT, REGION),
    ]
}

/// What one key looks like in the store: its metadata and each version's seal count.
pub type KeyView = (KeyMeta, Vec<(KeyVersionId, u64)>);

/// One caller's keys, oldest first, and its aliases.
pub type Scope = (Vec<KeyView>, Vec<(String, KeyId)>);

/// Everything a store shows through the provider's accessors, whatever the time: keys (with
/// their versions and seal counts) and aliases of each of [`callers`], the number of keys and
/// the seal limit.
#[derive(Debug, PartialEq)]
pub struct Observed {
    pub len: usize,
    pub seal_limit: u64,
    /// Per caller.
    pub scopes: Vec<Scope>,
}

pub fn observe(provider: &InMemoryProvider) -> Observed {
    let scopes = callers()
        .iter()
        .map(|c| {
            let keys = provider
                .keys_of(c.account, c.region)
                .iter()
                .map(|key| {
                    let meta = provider.key(key).expect("store").expect("listed key");
                    let seals = meta
                        .versions
                        .iter()
                        .map(|v| {
                            let count = provider.seal_count(&v.key_version_id).expect("version");
                            (v.key_version_id, count)
                        })
                        .collect();
                    (meta, seals)
                })
                .collect();
            (keys, provider.aliases_of(c.account, c.region))
        })
        .collect();
    Observed {
        len: provider.len(),
        seal_limit: provider.seal_limit(),
        scopes,
    }
}

/// The wrapping key of the tests' snapshots.
pub const WRAP: [u8; 32] = *b"wrapping key for snapshot tests!";

/// The provider's whole content as snapshot bytes, sealed with a fixed IV (the RNG seed is
/// fixed), so two fingerprints of the same content are the same bytes.
pub fn fingerprint(provider: &InMemoryProvider) -> Vec<u8> {
    provider
        .export_snapshot(&WRAP, &mut rng(0))
        .expect("export")
}

// ---------------------------------------------------------------------------------------------
// The management operations that name a key, as data

/// A management operation that names one key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOp {
    DescribeKey,
    EnableKey,
    DisableKey,
    ScheduleKeyDeletion,
    CancelKeyDeletion,
    CreateKeyVersion,
    ImportKeyMaterial,
    /// CreateAlias of [`UNUSED_ALIAS`], a name no test makes.
    CreateAlias,
    /// UpdateAlias of [`EXISTING_ALIAS`], which the caller's world must have.
    UpdateAlias,
    /// The explicit deletion of a key pending deletion.
    DeleteKey,
}

/// The alias [`KeyOp::CreateAlias`] makes.
pub const UNUSED_ALIAS: &str = "alias/unused-by-tests";
/// The alias [`KeyOp::UpdateAlias`] moves.
pub const EXISTING_ALIAS: &str = "alias/existing";

impl KeyOp {
    pub const ALL: [KeyOp; 10] = [
        KeyOp::DescribeKey,
        KeyOp::EnableKey,
        KeyOp::DisableKey,
        KeyOp::ScheduleKeyDeletion,
        KeyOp::CancelKeyDeletion,
        KeyOp::CreateKeyVersion,
        KeyOp::ImportKeyMaterial,
        KeyOp::CreateAlias,
        KeyOp::UpdateAlias,
        KeyOp::DeleteKey,
    ];

    /// Runs the operation on `key` as `caller` at `now`, with its other arguments valid
    /// (ScheduleKeyDeletion: 7 days; ImportKeyMaterial: 32 bytes of 0x42). Returns the staged change,
    /// `None` for DescribeKey, uncommitted.
    pub fn stage<R: TryCryptoRng + ?Sized>(
        self,
        store: &InMemoryProvider,
        caller: &Caller<'_>,
        key: &KeyReference<'_>,
        rng: &mut R,
        now: Duration,
    ) -> Result<Option<StagedChange>, Error> {
        let change = match self {
            KeyOp::DescribeKey => {
                management::describe_key(store, caller, key, now)?;
                return Ok(None);
            }
            KeyOp::EnableKey => management::enable_key(store, caller, key, now)?.into_change(),
            KeyOp::DisableKey => management::disable_key(store, caller, key, now)?.into_change(),
            KeyOp::ScheduleKeyDeletion => {
                management::schedule_key_deletion(store, caller, key, 7, now)?.into_change()
            }
            KeyOp::CancelKeyDeletion => {
                management::cancel_key_deletion(store, caller, key, now)?.into_change()
            }
            KeyOp::CreateKeyVersion => {
                management::create_key_version(store, caller, key, rng, now)?.into_change()
            }
            KeyOp::ImportKeyMaterial => {
                // The material the lifecycle setups import, so a key that has it re-imports it.
                let material = material(&[0x42u8; 32]);
                management::import_key_material(store, caller, key, material, now)?.into_change()
            }
            KeyOp::CreateAlias => {
                management::create_alias(store, caller, UNUSED_ALIAS, key, now)?.into_change()
            }
            KeyOp::UpdateAlias => {
                management::update_alias(store, caller, EXISTING_ALIAS, key, now)?.into_change()
            }
            KeyOp::DeleteKey => management::delete_key(store, caller, key, now)?.into_change(),
        };
        Ok(Some(change))
    }

    /// Runs the operation in `k` as `caller` on the key named by `text`, committing what it
    /// stages.
    pub fn run(self, k: &mut Kms, caller: &Caller<'_>, text: &str) -> Result<(), Error> {
        let key = params::key_id(Some(text))?;
        let staged = self.stage(&k.provider, caller, &key, &mut k.rng, k.now)?;
        if let Some(change) = staged {
            k.provider.commit(change).expect("commit");
        }
        Ok(())
    }
}
