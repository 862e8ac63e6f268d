//! The provider seam: where master keys live, split in two.
//!
//! - A [`KeyDirectory`] answers questions about keys: which key a key ID, an alias or a blob's
//!   version names, and whether a caller may use it. Every answer can fail (a database or a
//!   policy service that is down says so).
//! - A [`KeyCipher`] seals and opens under a key version. The material may never leave it: an
//!   HSM, a remote KMS. It chooses the IV of every seal and returns it with the tag, so a module
//!   that must generate IVs itself (FIPS-mode HSMs do) can; it counts seals against the
//!   version's budget (spec §10) and refuses past it ([`SealBudget`] does the counting with an
//!   atomic); rotation is a management operation, never a side effect of a seal.
//!
//! Both take `&self`, so one provider serves any number of concurrent operations; both are
//! dyn-compatible (`Box<dyn KeyDirectory>`, `&dyn KeyCipher`), and with the `std` feature they
//! are `Send + Sync`. [`KeyProvider`] is the two together, for a value that is both (the
//! bundled providers are); [`Composite`] joins a directory and a cipher that live apart (keys
//! described in a database, material in an HSM).
//!
//! The cipher's methods take an [`AuthorizedKey`], which only the core's resolution, permission
//! and state checks can make: code that skips them does not compile. [`VersionCipher`] is the
//! AES-GCM engine the bundled providers use, ready for others to reuse.
//!
//! With the `async` feature, [`AsyncKeyDirectory`] and [`AsyncKeyCipher`] are the same seam for
//! a key store reached over a network: the operations in [`crate::ops::nonblocking`] await it
//! instead of blocking a thread.

use core::fmt;

use aes_gcm::{AeadInOut, Aes128Gcm, Aes256Gcm, KeyInit};
use portable_atomic::{AtomicU64, Ordering};

use crate::blob::{Iv, Tag};
use crate::{AuthorizedKey, Caller, Error, Internal, KeyId, KeyRecord, KeyVersionId};
use crate::{MasterKeyMaterial, Parameter, Permission, RngError};

/// `Send + Sync` with the `std` feature, nothing without: the bound of every provider trait.
#[cfg(feature = "std")]
pub trait MaybeSendSync: Send + Sync {}
#[cfg(feature = "std")]
impl<T: Send + Sync + ?Sized> MaybeSendSync for T {}

/// `Send + Sync` with the `std` feature, nothing without: the bound of every provider trait.
#[cfg(not(feature = "std"))]
pub trait MaybeSendSync {}
#[cfg(not(feature = "std"))]
impl<T: ?Sized> MaybeSendSync for T {}

/// A source of random bytes, as a provider sees the caller's RNG: a cipher that draws its IVs
/// from the caller's RNG uses it; one that generates IVs itself ignores it. Dyn-compatible
/// (unlike `rand_core`'s traits, whose error is an associated type).
pub trait SecureRandom {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    /// [`RngError`] when the RNG fails.
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError>;
}

/// The caller's `rand_core` RNG, as a [`SecureRandom`].
pub(crate) struct CallerRng<'r, R: ?Sized>(pub(crate) &'r mut R);

impl<R: rand_core::TryCryptoRng + ?Sized> SecureRandom for CallerRng<'_, R> {
    #[inline]
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        self.0.try_fill_bytes(dest).map_err(|_| RngError)
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
    /// The version has sealed as many times as it may (spec §10): `InternalFailure` on the
    /// wire until the key is rotated.
    SealLimitReached,
    /// The RNG failed (`InternalFailure`).
    Rng,
    /// Anything else: a broken backend, a handle that no longer resolves, a policy store that
    /// cannot answer (`InternalFailure`).
    Internal,
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProviderError::Unavailable => "key material unavailable",
            ProviderError::AuthenticationFailed => "authentication failed",
            ProviderError::SealLimitReached => "key version seal limit reached",
            ProviderError::Rng => "the random number generator failed",
            ProviderError::Internal => "provider failure",
        })
    }
}

impl core::error::Error for ProviderError {}

impl From<RngError> for ProviderError {
    fn from(_: RngError) -> Self {
        ProviderError::Rng
    }
}

impl From<ProviderError> for Error {
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Unavailable => Error::Unavailable,
            ProviderError::AuthenticationFailed => {
                Error::InvalidParameter(Parameter::CiphertextBlob)
            }
            ProviderError::SealLimitReached => Error::InternalFailure(Internal::SealLimitReached),
            ProviderError::Rng => Error::InternalFailure(Internal::Rng),
            ProviderError::Internal => Error::InternalFailure(Internal::Provider),
        }
    }
}

/// Where keys are described: lookups and permissions.
///
/// Lookups scope by account and region as spec §2 says: [`find_key`](Self::find_key) and
/// [`find_alias`](Self::find_alias) answer only for a key of that account in that region, and
/// [`find_version`](Self::find_version) only for a version of a key in that region. A miss is
/// `Ok(None)`; `Err` is for a directory that cannot answer.
pub trait KeyDirectory: MaybeSendSync {
    /// The key `key_id`, owned by `account` in `region`.
    ///
    /// # Errors
    /// A directory that cannot answer.
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// The key that alias `alias` (`alias/...` in full, possibly ill-formed: then it names
    /// nothing) names in `account` and `region`.
    ///
    /// # Errors
    /// A directory that cannot answer.
    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// The key that owns version `version`, if that key is in `region`.
    ///
    /// # Errors
    /// A directory that cannot answer.
    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError>;

    /// Whether `caller` may use `key` for `permission`. A key's own account may always; another
    /// account only when the key's policy grants it.
    ///
    /// # Errors
    /// A policy store that cannot answer.
    fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> Result<bool, ProviderError>;
}

/// Where key material is used: seals and opens under one key version.
pub trait KeyCipher: MaybeSendSync {
    /// Seals `in_out` in place under `key.version()` with AES-GCM and associated data `aad`,
    /// and returns the IV it used and the tag. The IV is the cipher's to choose: fresh random
    /// bytes from `rng`, or one it generates itself. The seal counts against the version's
    /// budget (spec §10); past it the cipher refuses. On failure `in_out` may hold anything
    /// but the caller wipes it.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`], [`ProviderError::SealLimitReached`],
    /// [`ProviderError::Rng`] or [`ProviderError::Internal`].
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError>;

    /// Opens `in_out` in place under `key.version()`, checking `tag`. On failure `in_out` holds
    /// no plaintext.
    ///
    /// # Errors
    /// [`ProviderError::AuthenticationFailed`] when the tag does not verify;
    /// [`ProviderError::Unavailable`] or [`ProviderError::Internal`].
    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError>;
}

/// A key directory and a key cipher in one value, what the operations take. Implemented for
/// every type that is both.
pub trait KeyProvider: KeyDirectory + KeyCipher {}

impl<T: KeyDirectory + KeyCipher + ?Sized> KeyProvider for T {}

/// A directory and a cipher that live apart, joined into one [`KeyProvider`]: for instance key
/// metadata in a database and material in an HSM, each reached through its own client.
#[derive(Clone, Copy, Debug, Default)]
pub struct Composite<D, C> {
    /// Where keys are described.
    pub directory: D,
    /// Where material is used.
    pub cipher: C,
}

impl<D: KeyDirectory, C: MaybeSendSync> KeyDirectory for Composite<D, C> {
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.directory.find_key(account, region, key_id)
    }

    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.directory.find_alias(account, region, alias)
    }

    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.directory.find_version(region, version)
    }

    fn permits(
        &self,
        key: &KeyRecord,
        caller: &Caller<'_>,
        permission: Permission,
    ) -> Result<bool, ProviderError> {
        self.directory.permits(key, caller, permission)
    }
}

impl<D: MaybeSendSync, C: KeyCipher> KeyCipher for Composite<D, C> {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError> {
        self.cipher.seal(key, aad, in_out, rng)
    }

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        self.cipher.open(key, iv, aad, in_out, tag)
    }
}

/// The private halves of asymmetric key versions, behind the seam (feature `asymmetric`): a
/// provider that holds them (an HSM, the in-memory provider) signs and decrypts with a key
/// that never leaves it, and hands out the public half. Verify and encrypt need only the
/// public key, so the core does them itself. Every method takes the [`AuthorizedKey`] that the
/// core's checks minted for the operation; the version is its [`AuthorizedKey::version`].
#[cfg(feature = "asymmetric")]
pub trait AsymmetricKeys: MaybeSendSync {
    /// The public key of the version.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`] when the version has no private key here.
    fn public_key(
        &self,
        key: &AuthorizedKey,
    ) -> Result<crate::asymmetric::PublicKey, ProviderError>;

    /// Signs the caller's `digest` with the version's private key.
    ///
    /// # Errors
    /// [`ProviderError::Unavailable`], [`ProviderError::Rng`], or
    /// [`ProviderError::Internal`] when the key refuses (the core checked algorithm and digest
    /// beforehand).
    fn sign(
        &self,
        key: &AuthorizedKey,
        algorithm: crate::asymmetric::SigningAlgorithm,
        digest: &[u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<alloc::vec::Vec<u8>, ProviderError>;

    /// Decrypts `ciphertext` with the version's private key.
    ///
    /// # Errors
    /// [`ProviderError::AuthenticationFailed`] when it does not decrypt (one answer for every
    /// cause), [`ProviderError::Unavailable`].
    fn decrypt(
        &self,
        key: &AuthorizedKey,
        algorithm: crate::asymmetric::EncryptionAlgorithm,
        ciphertext: &[u8],
    ) -> Result<zeroize::Zeroizing<alloc::vec::Vec<u8>>, ProviderError>;
}

/// A provider's [`SecureRandom`] as the `rand_core` RNG the asymmetric crates draw from.
#[cfg(feature = "asymmetric")]
pub struct DynRng<'r>(pub &'r mut dyn SecureRandom);

#[cfg(feature = "asymmetric")]
impl rand_core::TryRng for DynRng<'_> {
    type Error = RngError;

    fn try_next_u32(&mut self) -> Result<u32, RngError> {
        let mut b = [0u8; 4];
        self.0.fill(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngError> {
        let mut b = [0u8; 8];
        self.0.fill(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        self.0.fill(dest)
    }
}

#[cfg(feature = "asymmetric")]
impl rand_core::TryCryptoRng for DynRng<'_> {}

/// How many times a key version may still seal (spec §10: at most 2^32 with random IVs),
/// counted with atomics, so a cipher that takes `&self` can count. A seal takes one unit
/// before it runs; none is ever given back.
///
/// The budget is split into [`SealBudget::SHARDS`] counters, each on its own cache line, and a
/// seal takes from the one its `hint` names (a random IV byte), moving on to the next only when
/// that one is spent: two threads sealing under one version then write the same line on a
/// quarter of their seals instead of on every one. Measured on the project's 2-core machine
/// (BENCHMARKS.md, "Scaling"), GenerateDataKey from two threads against one from one thread:
/// 1.52 times the throughput with a single counter, 1.79 with four shards, 1.89 with eight,
/// 1.98 with no counting at all; four is the compromise with memory (256 bytes a version). The
/// sum never passes the limit, and a seal is refused only when every shard is spent.
#[derive(Debug)]
pub struct SealBudget {
    shards: [BudgetShard; SealBudget::SHARDS],
}

/// One counter of a [`SealBudget`], alone on its cache line.
#[derive(Debug)]
#[repr(align(64))]
struct BudgetShard {
    used: AtomicU64,
    /// Only raised ([`SealBudget::grant`]), never lowered.
    limit: AtomicU64,
}

impl SealBudget {
    /// The NIST SP 800-38D limit for random 96-bit IVs: 2^32 seals per key.
    pub const MAX: u64 = 1 << 32;

    /// The number of counters the budget is split into.
    pub const SHARDS: usize = 4;

    /// A budget of `limit` seals (at most [`MAX`](Self::MAX)), `used` of them spent already
    /// (for instance restored from storage).
    pub const fn new(limit: u64, used: u64) -> Self {
        let limit = if limit > Self::MAX { Self::MAX } else { limit };
        let shards = Self::SHARDS as u64;
        let mut unspent_used = used;
        let mut out = [const {
            BudgetShard {
                used: AtomicU64::new(0),
                limit: AtomicU64::new(0),
            }
        }; Self::SHARDS];
        let mut i = 0;
        while i < Self::SHARDS {
            let share = limit / shards + ((i as u64) < limit % shards) as u64;
            let spent = if unspent_used < share {
                unspent_used
            } else {
                share
            };
            unspent_used -= spent;
            out[i] = BudgetShard {
                used: AtomicU64::new(spent),
                limit: AtomicU64::new(share),
            };
            i += 1;
        }
        Self { shards: out }
    }

    /// Takes one seal from the budget, starting at the shard `hint` names (any value: a random
    /// one spreads concurrent seals over the shards).
    ///
    /// # Errors
    /// [`ProviderError::SealLimitReached`] when none is left.
    #[inline]
    pub fn take(&self, hint: u8) -> Result<(), ProviderError> {
        let first = usize::from(hint) % Self::SHARDS;
        for k in 0..Self::SHARDS {
            let shard = &self.shards[(first + k) % Self::SHARDS];
            let taken = shard
                .used
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                    (used < shard.limit.load(Ordering::Acquire)).then_some(used + 1)
                });
            if taken.is_ok() {
                return Ok(());
            }
        }
        Err(ProviderError::SealLimitReached)
    }

    /// The seals spent.
    pub fn used(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.used.load(Ordering::Acquire))
            .sum()
    }

    /// The most seals allowed.
    pub fn limit(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| s.limit.load(Ordering::Acquire))
            .sum()
    }

    /// Raises the limit by `more` seals (the total stays at most [`MAX`](Self::MAX)), through
    /// `&self`, while seals run; how many were added. For a budget handed out in blocks: a
    /// store shared by several processes reserves a block of a version's seals for one
    /// process, which grants it here (a budget made with limit 0 seals nothing until then).
    pub fn grant(&self, more: u64) -> u64 {
        let more = more.min(Self::MAX.saturating_sub(self.limit()));
        let shards = Self::SHARDS as u64;
        for (i, shard) in self.shards.iter().enumerate() {
            let share = more / shards + u64::from((i as u64) < more % shards);
            shard.limit.fetch_add(share, Ordering::AcqRel);
        }
        more
    }

    /// The seals still allowed.
    pub fn remaining(&self) -> u64 {
        self.shards
            .iter()
            .map(|s| {
                s.limit
                    .load(Ordering::Acquire)
                    .saturating_sub(s.used.load(Ordering::Acquire))
            })
            .sum()
    }

    /// Whether no seal is left.
    pub fn is_exhausted(&self) -> bool {
        self.used() >= self.limit()
    }
}

/// Which AES-GCM implementation a [`VersionCipher`] runs on. Both produce the same bytes (the
/// golden vectors and Wycheproof run through either).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AeadEngine {
    /// RustCrypto's `aes-gcm`: pure Rust, `no_std`, its key schedule zeroized on drop. It
    /// picks AES-NI and CLMUL at run time, which costs it about twice `ring`'s time on a
    /// data key's seal (BENCHMARKS.md, "AES-GCM").
    RustCrypto,
    /// `ring`'s AES-GCM (feature `ring`): assembly, for hosted targets. Its key schedule lives
    /// inside `ring`'s key type, which does **not** zeroize it on drop, and the schedule of an
    /// AES key begins with the key (made the default for a trial, this engine failed the tests
    /// of `tests/management/zeroize.rs`, which search freed memory for master key material);
    /// the material this crate holds is still zeroized. Never the default: a frontend asks for
    /// it (`InMemoryProvider::set_engine`) when it wants the speed and accepts that.
    #[cfg(feature = "ring")]
    Ring,
}

impl AeadEngine {
    /// The engine [`VersionCipher::new`] uses, and so the bundled providers unless told
    /// otherwise: `aes-gcm`, whatever the features, because only it zeroizes its schedule.
    pub const DEFAULT: Self = Self::RustCrypto;
}

// The two schedules differ in size by a few hundred bytes; boxing would add a pointer chase to
// every seal for no real saving.
#[allow(clippy::large_enum_variant)]
enum Aead {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
    #[cfg(feature = "ring")]
    Ring(ring::aead::LessSafeKey),
    /// An asymmetric version: nothing to seal or open with AES-GCM.
    #[cfg(feature = "asymmetric")]
    None,
}

impl Aead {
    fn new(material: &MasterKeyMaterial, engine: AeadEngine) -> Self {
        #[cfg(feature = "asymmetric")]
        if let MasterKeyMaterial::Asymmetric(_) = material {
            return Aead::None;
        }
        match engine {
            AeadEngine::RustCrypto => match material {
                MasterKeyMaterial::Aes128(k) => Aead::Aes128(Aes128Gcm::new((&**k).into())),
                MasterKeyMaterial::Aes256(k) => Aead::Aes256(Aes256Gcm::new((&**k).into())),
                #[cfg(feature = "asymmetric")]
                MasterKeyMaterial::Asymmetric(_) => Aead::None,
            },
            #[cfg(feature = "ring")]
            AeadEngine::Ring => {
                let (algorithm, key): (_, &[u8]) = match material {
                    MasterKeyMaterial::Aes128(k) => (&ring::aead::AES_128_GCM, &k[..]),
                    MasterKeyMaterial::Aes256(k) => (&ring::aead::AES_256_GCM, &k[..]),
                    #[cfg(feature = "asymmetric")]
                    MasterKeyMaterial::Asymmetric(_) => return Aead::None,
                };
                match ring::aead::UnboundKey::new(algorithm, key) {
                    Ok(key) => Aead::Ring(ring::aead::LessSafeKey::new(key)),
                    // ring refuses only a key of the wrong length, which the material's type
                    // rules out; stay correct anyway.
                    Err(_) => Self::new(material, AeadEngine::RustCrypto),
                }
            }
        }
    }
}

/// One master key version's material with its AES key schedule built once, ready to seal and
/// open. The material is zeroized on drop, and so is the schedule on the default engine (see
/// [`AeadEngine`]).
pub struct VersionCipher {
    material: MasterKeyMaterial,
    aead: Aead,
}

impl VersionCipher {
    /// Builds the key schedule for `material` on [`AeadEngine::DEFAULT`] (`aes-gcm`).
    pub fn new(material: MasterKeyMaterial) -> Self {
        Self::with_engine(material, AeadEngine::DEFAULT)
    }

    /// Builds the key schedule for `material` on `engine`.
    pub fn with_engine(material: MasterKeyMaterial, engine: AeadEngine) -> Self {
        let aead = Aead::new(&material, engine);
        Self { material, aead }
    }

    /// Rebuilds the key schedule on `engine`.
    pub fn set_engine(&mut self, engine: AeadEngine) {
        if self.engine() != engine {
            self.aead = Aead::new(&self.material, engine);
        }
    }

    /// The engine this cipher runs on.
    pub fn engine(&self) -> AeadEngine {
        match self.aead {
            Aead::Aes128(_) | Aead::Aes256(_) => AeadEngine::RustCrypto,
            #[cfg(feature = "ring")]
            Aead::Ring(_) => AeadEngine::Ring,
            #[cfg(feature = "asymmetric")]
            Aead::None => AeadEngine::DEFAULT,
        }
    }

    /// The material.
    pub fn material(&self) -> &MasterKeyMaterial {
        &self.material
    }

    /// Seals `in_out` in place under `iv` and returns the tag.
    ///
    /// # Errors
    /// [`ProviderError::Internal`] when AES-GCM refuses the lengths.
    #[inline]
    pub fn seal(&self, iv: &Iv, aad: &[u8], in_out: &mut [u8]) -> Result<Tag, ProviderError> {
        let tag: [u8; crate::blob::TAG_LEN] = match &self.aead {
            Aead::Aes128(c) => c
                .encrypt_inout_detached((&iv.0).into(), aad, in_out.into())
                .map(Into::into),
            Aead::Aes256(c) => c
                .encrypt_inout_detached((&iv.0).into(), aad, in_out.into())
                .map(Into::into),
            #[cfg(feature = "ring")]
            Aead::Ring(k) => k
                .seal_in_place_separate_tag(
                    ring::aead::Nonce::assume_unique_for_key(iv.0),
                    ring::aead::Aad::from(aad),
                    in_out,
                )
                .map_err(|_| aes_gcm::Error)
                .and_then(|tag| tag.as_ref().try_into().map_err(|_| aes_gcm::Error)),
            #[cfg(feature = "asymmetric")]
            Aead::None => Err(aes_gcm::Error),
        }
        .map_err(|_| ProviderError::Internal)?;
        Ok(Tag(tag))
    }

    /// What a cipher that takes its IVs from the caller's RNG does: draws a random IV from
    /// `rng`, takes one seal from `budget`, and seals `in_out` in place under the IV. An RNG
    /// failure spends nothing from the budget.
    ///
    /// # Errors
    /// [`ProviderError::Rng`], [`ProviderError::SealLimitReached`], or as [`seal`](Self::seal).
    #[inline]
    pub fn seal_random_iv(
        &self,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
        budget: &SealBudget,
    ) -> Result<(Iv, Tag), ProviderError> {
        let mut iv = Iv([0; crate::blob::IV_LEN]);
        rng.fill(&mut iv.0)?;
        budget.take(iv.0[0])?;
        Ok((iv, self.seal(&iv, aad, in_out)?))
    }

    /// Opens `in_out` in place, checking `tag`. On failure `in_out` holds no plaintext.
    ///
    /// # Errors
    /// [`ProviderError::AuthenticationFailed`] when the tag does not verify.
    pub fn open(
        &self,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        match &self.aead {
            Aead::Aes128(c) => {
                c.decrypt_inout_detached((&iv.0).into(), aad, in_out.into(), (&tag.0).into())
            }
            Aead::Aes256(c) => {
                c.decrypt_inout_detached((&iv.0).into(), aad, in_out.into(), (&tag.0).into())
            }
            #[cfg(feature = "ring")]
            Aead::Ring(k) => {
                let opened = k
                    .open_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key(iv.0),
                        ring::aead::Aad::from(aad),
                        ring::aead::Tag::from(tag.0),
                        in_out,
                        0..,
                    )
                    .is_ok();
                if !opened {
                    // ring leaves the buffer unspecified on failure: wipe it.
                    zeroize::Zeroize::zeroize(in_out);
                }
                opened.then_some(()).ok_or(aes_gcm::Error)
            }
            #[cfg(feature = "asymmetric")]
            Aead::None => Err(aes_gcm::Error),
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

#[cfg(feature = "async")]
pub use nonblocking::*;

#[cfg(feature = "async")]
mod nonblocking {
    use alloc::boxed::Box;
    use core::future::Future;
    use core::pin::Pin;

    use super::{ProviderError, SecureRandom};
    use crate::blob::{Iv, Tag};
    use crate::{AuthorizedKey, Caller, KeyId, KeyRecord, KeyVersionId, Permission};

    /// A boxed future that can move between threads: what the async provider traits return,
    /// so that they stay dyn-compatible.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

    /// [`KeyDirectory`](super::KeyDirectory) for a directory reached asynchronously (with the
    /// `async` feature): the same questions, answered by futures.
    pub trait AsyncKeyDirectory: Send + Sync {
        /// As [`KeyDirectory::find_key`](super::KeyDirectory::find_key).
        fn find_key<'a>(
            &'a self,
            account: &'a str,
            region: &'a str,
            key_id: &'a KeyId,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>>;

        /// As [`KeyDirectory::find_alias`](super::KeyDirectory::find_alias).
        fn find_alias<'a>(
            &'a self,
            account: &'a str,
            region: &'a str,
            alias: &'a str,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>>;

        /// As [`KeyDirectory::find_version`](super::KeyDirectory::find_version).
        fn find_version<'a>(
            &'a self,
            region: &'a str,
            version: &'a KeyVersionId,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>>;

        /// As [`KeyDirectory::permits`](super::KeyDirectory::permits).
        fn permits<'a>(
            &'a self,
            key: &'a KeyRecord,
            caller: &'a Caller<'a>,
            permission: Permission,
        ) -> BoxFuture<'a, Result<bool, ProviderError>>;
    }

    /// [`KeyCipher`](super::KeyCipher) for material reached asynchronously (with the `async`
    /// feature): a remote KMS, an HSM behind a network.
    pub trait AsyncKeyCipher: Send + Sync {
        /// As [`KeyCipher::seal`](super::KeyCipher::seal).
        fn seal<'a>(
            &'a self,
            key: &'a AuthorizedKey,
            aad: &'a [u8],
            in_out: &'a mut [u8],
            rng: &'a mut (dyn SecureRandom + Send),
        ) -> BoxFuture<'a, Result<(Iv, Tag), ProviderError>>;

        /// As [`KeyCipher::open`](super::KeyCipher::open).
        fn open<'a>(
            &'a self,
            key: &'a AuthorizedKey,
            iv: &'a Iv,
            aad: &'a [u8],
            in_out: &'a mut [u8],
            tag: &'a Tag,
        ) -> BoxFuture<'a, Result<(), ProviderError>>;
    }

    /// An asynchronous directory and cipher in one value. Implemented for every type that is
    /// both.
    pub trait AsyncKeyProvider: AsyncKeyDirectory + AsyncKeyCipher {}

    impl<T: AsyncKeyDirectory + AsyncKeyCipher + ?Sized> AsyncKeyProvider for T {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_together_allow_exactly_the_limit() {
        for (limit, used) in [
            (0, 0),
            (1, 0),
            (3, 0),
            (10, 3),
            (10, 10),
            (10, 25),
            (1001, 999),
        ] {
            let budget = SealBudget::new(limit, used);
            assert_eq!(budget.limit(), limit);
            assert_eq!(budget.used(), used.min(limit));
            let mut taken = 0;
            // Hints that keep landing on the same shard: the others must still be used.
            while budget.take(3).is_ok() {
                taken += 1;
                assert!(taken <= limit, "took past the limit");
            }
            assert_eq!(taken, limit - used.min(limit), "limit {limit}, used {used}");
            assert!(budget.is_exhausted());
            for hint in 0..=255 {
                assert_eq!(budget.take(hint), Err(ProviderError::SealLimitReached));
            }
            assert_eq!(budget.used(), limit);
        }
    }

    #[test]
    fn a_grant_allows_exactly_what_it_adds() {
        for (first, more) in [(0u64, 0u64), (0, 1), (0, 5), (3, 7), (1, 1001)] {
            let budget = SealBudget::new(first, 0);
            let mut taken = 0;
            while budget.take(1).is_ok() {
                taken += 1;
            }
            assert_eq!(taken, first);
            assert_eq!(budget.grant(more), more);
            assert_eq!(budget.remaining(), more);
            while budget.take(2).is_ok() {
                taken += 1;
            }
            assert_eq!(taken, first + more, "first {first}, more {more}");
            assert_eq!(budget.used(), first + more);
            assert_eq!(budget.remaining(), 0);
        }
        let budget = SealBudget::new(SealBudget::MAX - 2, 0);
        assert_eq!(budget.grant(10), 2, "never past 2^32");
        assert_eq!(budget.limit(), SealBudget::MAX);
    }

    #[test]
    fn the_limit_is_capped_at_two_to_the_32() {
        let budget = SealBudget::new(u64::MAX, 0);
        assert_eq!(budget.limit(), SealBudget::MAX);
    }
}
