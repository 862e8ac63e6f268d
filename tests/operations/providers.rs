//! The provider seam: one suite that every provider passes — the in-memory provider, the
//! fixed-capacity provider, and an HSM stand-in (a key directory and a cipher module joined with
//! `Composite`, whose material sits behind opaque handles and whose IVs come from its own
//! counter) — plus the traits as trait objects, concurrent seals through `&self`, and (with the
//! `async` feature) the operations over an asynchronous provider that really waits.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use kms_core::blob::{BlobBuf, Iv, Tag};
use kms_core::context::ContextBuf;
use kms_core::ops::ReEncryptRequest;
use kms_core::ops::{self, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Plaintext};
use kms_core::provider::{Composite, ProviderError, SealBudget, SecureRandom};
use kms_core::{
    AuthorizedKey, Caller, FixedCapacityProvider, InMemoryProvider, KeyCipher, KeyDirectory,
    KeyHandle, KeyId, KeyProvider, KeyRecord, KeyState, KeyVersionId, MasterKeyMaterial,
    MasterKeySpec, Permission, VersionCipher,
};

use crate::testkit::*;

/// What the suite needs of a provider under test.
trait Fixture {
    type Provider: KeyProvider;
    fn provider(&self) -> &Self::Provider;
    /// An enabled AES-256 key of [`ACCOUNT`] in [`REGION`].
    fn key(&self) -> KeyId;
    /// Adds a version with fresh material and makes it primary.
    fn rotate(&mut self, key: &KeyId, rng: &mut rand_chacha::ChaCha20Rng) -> KeyVersionId;
    fn disable(&mut self, key: &KeyId);
    /// Whether the provider draws its IVs from the caller's RNG.
    fn ivs_from_caller(&self) -> bool;
}

struct InMemory(World);

impl Fixture for InMemory {
    type Provider = InMemoryProvider;
    fn provider(&self) -> &InMemoryProvider {
        &self.0.provider
    }
    fn key(&self) -> KeyId {
        self.0.key
    }
    fn rotate(&mut self, key: &KeyId, _rng: &mut rand_chacha::ChaCha20Rng) -> KeyVersionId {
        self.0.rotate(key)
    }
    fn disable(&mut self, key: &KeyId) {
        self.0.put_in_state(key, KeyState::Disabled);
    }
    fn ivs_from_caller(&self) -> bool {
        true
    }
}

struct Fixed {
    provider: FixedCapacityProvider<2, 3>,
    key: KeyId,
}

impl Fixture for Fixed {
    type Provider = FixedCapacityProvider<2, 3>;
    fn provider(&self) -> &FixedCapacityProvider<2, 3> {
        &self.provider
    }
    fn key(&self) -> KeyId {
        self.key
    }
    fn rotate(&mut self, key: &KeyId, rng: &mut rand_chacha::ChaCha20Rng) -> KeyVersionId {
        let version = KeyVersionId::random(rng).unwrap();
        let material = MasterKeyMaterial::random(MasterKeySpec::Aes256, rng).unwrap();
        self.provider.add_version(key, version, material).unwrap();
        version
    }
    fn disable(&mut self, key: &KeyId) {
        self.provider.set_state(key, KeyState::Disabled).unwrap();
    }
    fn ivs_from_caller(&self) -> bool {
        true
    }
}

// ---------------------------------------------------------------------------------------------
// An HSM stand-in: a directory that knows keys only by handle, and a module that holds material
// behind handles it hands out, never lets it go, and generates every IV itself.

/// What the directory knows of a key.
#[derive(Clone)]
struct DirectoryEntry {
    record: KeyRecord,
    versions: Vec<KeyVersionId>,
}

/// The key directory: records and versions, no material.
#[derive(Default)]
struct HsmDirectory {
    keys: BTreeMap<KeyId, DirectoryEntry>,
}

impl KeyDirectory for HsmDirectory {
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        let ours = account == ACCOUNT && region == REGION;
        Ok(self.keys.get(key_id).filter(|_| ours).map(|e| e.record))
    }

    fn find_alias(
        &self,
        _account: &str,
        _region: &str,
        _alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        Ok(None)
    }

    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        if region != REGION {
            return Ok(None);
        }
        Ok(self
            .keys
            .values()
            .find(|e| e.versions.contains(version))
            .map(|e| e.record))
    }

    fn permits(
        &self,
        _key: &KeyRecord,
        caller: &Caller<'_>,
        _permission: Permission,
    ) -> Result<bool, ProviderError> {
        Ok(caller.account == ACCOUNT)
    }
}

/// The cipher module: material in slots reached by (key handle, version), IVs from a counter
/// (a 4-byte module ID and an 8-byte invocation counter, the deterministic construction of
/// NIST SP 800-38D §8.2.1), so no two seals of the module share an IV whatever the caller's
/// RNG does.
struct HsmModule {
    slots: Mutex<BTreeMap<(u64, KeyVersionId), (VersionCipher, SealBudget)>>,
    module_id: [u8; 4],
    invocations: AtomicU64,
    /// The IVs it used, in order, for the tests to look at.
    used: Mutex<Vec<Iv>>,
}

impl HsmModule {
    fn new() -> Self {
        Self {
            slots: Mutex::new(BTreeMap::new()),
            module_id: *b"HSM1",
            invocations: AtomicU64::new(0),
            used: Mutex::new(Vec::new()),
        }
    }

    /// Generates material inside the module for `handle`'s `version`.
    fn generate(
        &self,
        handle: KeyHandle,
        version: KeyVersionId,
        rng: &mut rand_chacha::ChaCha20Rng,
    ) {
        let material = MasterKeyMaterial::random(MasterKeySpec::Aes256, rng).unwrap();
        let budget = SealBudget::new(SealBudget::MAX, 0);
        let slot = (VersionCipher::new(material), budget);
        self.slots.lock().unwrap().insert((handle.0, version), slot);
    }
}

impl KeyCipher for HsmModule {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        _rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError> {
        assert!(
            key.permission().seals(),
            "a seal with {:?}",
            key.permission()
        );
        let slots = self.slots.lock().unwrap();
        let (cipher, budget) = slots
            .get(&(key.handle().0, key.version()))
            .ok_or(ProviderError::Internal)?;
        budget.take(self.module_id[0])?;
        let n = self.invocations.fetch_add(1, Ordering::SeqCst);
        let mut iv = [0u8; 12];
        iv[..4].copy_from_slice(&self.module_id);
        iv[4..].copy_from_slice(&n.to_be_bytes());
        let iv = Iv(iv);
        let tag = cipher.seal(&iv, aad, in_out)?;
        self.used.lock().unwrap().push(iv);
        Ok((iv, tag))
    }

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        assert!(
            !key.permission().seals(),
            "an open with {:?}",
            key.permission()
        );
        let slots = self.slots.lock().unwrap();
        let (cipher, _) = slots
            .get(&(key.handle().0, key.version()))
            .ok_or(ProviderError::Internal)?;
        cipher.open(iv, aad, in_out, tag)
    }
}

struct Hsm {
    provider: Composite<HsmDirectory, HsmModule>,
    key: KeyId,
}

impl Hsm {
    fn new(rng: &mut rand_chacha::ChaCha20Rng) -> Self {
        let mut provider = Composite {
            directory: HsmDirectory::default(),
            cipher: HsmModule::new(),
        };
        let key = KeyId::random(rng).unwrap();
        let version = KeyVersionId::random(rng).unwrap();
        let handle = KeyHandle(7);
        provider.cipher.generate(handle, version, rng);
        let record = KeyRecord::new(handle, key, version);
        let entry = DirectoryEntry {
            record,
            versions: vec![version],
        };
        provider.directory.keys.insert(key, entry);
        Self { provider, key }
    }
}

impl Fixture for Hsm {
    type Provider = Composite<HsmDirectory, HsmModule>;
    fn provider(&self) -> &Self::Provider {
        &self.provider
    }
    fn key(&self) -> KeyId {
        self.key
    }
    fn rotate(&mut self, key: &KeyId, rng: &mut rand_chacha::ChaCha20Rng) -> KeyVersionId {
        let version = KeyVersionId::random(rng).unwrap();
        let entry = self.provider.directory.keys.get_mut(key).unwrap();
        self.provider
            .cipher
            .generate(entry.record.handle, version, rng);
        entry.versions.push(version);
        entry.record = KeyRecord::new(entry.record.handle, *key, version);
        version
    }
    fn disable(&mut self, key: &KeyId) {
        let entry = self.provider.directory.keys.get_mut(key).unwrap();
        entry.record = entry.record.with_state(KeyState::Disabled);
    }
    fn ivs_from_caller(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------------------
// The suite.

fn suite<F: Fixture>(name: &str, fixture: &mut F, seed: u64) {
    let mut rng = rng(seed);
    let caller = owner();
    let key = fixture.key();
    let context = ContextBuf::from_pairs([("suite", name), ("k", "v")]).unwrap();

    // GenerateDataKey, then Decrypt gives the same key back.
    let request = GenerateDataKeyRequest::new(key).with_context(&context);
    let made = ops::generate_data_key(fixture.provider(), &caller, &request, &mut rng)
        .unwrap_or_else(|e| panic!("{name}: {e:?}"))
        .done()
        .unwrap();
    let first_version = made.key_version_id;
    let opened = decrypt(
        fixture.provider(),
        &made.ciphertext_blob,
        &context,
        &mut rng,
    )
    .unwrap_or_else(|e| panic!("{name}: {e:?}"));
    assert_eq!(opened.data_key().unwrap(), made.data_key, "{name}");
    assert_eq!(opened.key_version_id, first_version, "{name}");

    // A wrong context, and every byte of the blob altered, are refused alike.
    let wrong = ContextBuf::from_pairs([("suite", name)]).unwrap();
    let err = decrypt(fixture.provider(), &made.ciphertext_blob, &wrong, &mut rng).unwrap_err();
    assert_eq!(Row::of(&err), Row::invalid("CiphertextBlob"), "{name}");
    let bytes = made.ciphertext_blob.as_bytes();
    for i in 36..bytes.len() {
        let mut altered = bytes.to_vec();
        altered[i] ^= 0x80;
        let altered = BlobBuf::from_bytes(&altered).unwrap();
        let err = decrypt(fixture.provider(), &altered, &context, &mut rng).unwrap_err();
        assert_eq!(
            Row::of(&err),
            Row::invalid("CiphertextBlob"),
            "{name}: byte {i}"
        );
    }

    // Encrypt, WithoutPlaintext and ReEncrypt round trips.
    let text = Plaintext::new("the provider suite").unwrap();
    let sealed = ops::encrypt(
        fixture.provider(),
        &caller,
        &EncryptRequest::new(key, text),
        &mut rng,
    )
    .unwrap()
    .done()
    .unwrap();
    let opened = decrypt(
        fixture.provider(),
        &sealed.ciphertext_blob,
        &ContextBuf::empty(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(opened.plaintext.expose(), "the provider suite", "{name}");
    let without =
        ops::generate_data_key_without_plaintext(fixture.provider(), &caller, &request, &mut rng)
            .unwrap()
            .done()
            .unwrap();
    assert!(
        decrypt(
            fixture.provider(),
            &without.ciphertext_blob,
            &context,
            &mut rng
        )
        .is_ok()
    );

    // After a rotation, new seals use the new version and old blobs still open with theirs.
    let second = fixture.rotate(&key, &mut rng);
    let moved = ops::re_encrypt(
        fixture.provider(),
        &caller,
        &ReEncryptRequest::new(&made.ciphertext_blob, key)
            .with_source_context(&context)
            .with_destination_context(&wrong),
        &mut rng,
    )
    .unwrap()
    .done()
    .unwrap();
    assert_eq!(moved.key_version_id, second, "{name}");
    let reopened = decrypt(fixture.provider(), &moved.ciphertext_blob, &wrong, &mut rng).unwrap();
    assert_eq!(reopened.data_key().unwrap(), made.data_key, "{name}");
    let old = decrypt(
        fixture.provider(),
        &made.ciphertext_blob,
        &context,
        &mut rng,
    )
    .unwrap();
    assert_eq!(old.key_version_id, first_version, "{name}");

    // IVs: fresh per seal; from the caller's RNG, or from the provider itself.
    let mut ivs: Vec<[u8; 12]> = [
        &made.ciphertext_blob,
        &sealed.ciphertext_blob,
        &without.ciphertext_blob,
        &moved.ciphertext_blob,
    ]
    .iter()
    .map(|b| b.as_blob().iv().0)
    .collect();
    ivs.sort();
    ivs.dedup();
    assert_eq!(ivs.len(), 4, "{name}: an IV used twice");
    // An RNG with exactly enough bytes for the data key: a provider that draws its IV from
    // the caller's RNG fails; one that makes its own does not.
    let mut scarce = LimitedRng::new(seed, 32);
    let result = ops::generate_data_key(fixture.provider(), &caller, &request, &mut scarce);
    match fixture.ivs_from_caller() {
        true => assert_eq!(Row::of(&result.unwrap_err()), Row::internal(), "{name}"),
        false => assert!(result.unwrap().done().is_some(), "{name}"),
    }

    // A disabled key is refused on both sides; a key that is not there is not found.
    fixture.disable(&key);
    let err = ops::generate_data_key(fixture.provider(), &caller, &request, &mut rng).unwrap_err();
    assert_eq!(Row::of(&err), Row::rejected("Disabled"), "{name}");
    let err = decrypt(
        fixture.provider(),
        &made.ciphertext_blob,
        &context,
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(Row::of(&err), Row::rejected("Disabled"), "{name}");
    let unknown = KeyId::parse(UNKNOWN_KEY_ID).unwrap();
    let err = ops::generate_data_key(
        fixture.provider(),
        &caller,
        &GenerateDataKeyRequest::new(unknown),
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(Row::of(&err), Row::key_not_found(), "{name}");
}

fn decrypt<P: KeyProvider + ?Sized>(
    provider: &P,
    blob: &BlobBuf,
    context: &ContextBuf,
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Result<ops::OpenedBuf, kms_core::Error> {
    let request = DecryptRequest::new(blob).with_context(context);
    ops::decrypt(provider, &owner(), &request, rng).map(|o| o.done().unwrap())
}

#[test]
fn the_in_memory_provider_passes_the_suite() {
    suite("in-memory", &mut InMemory(World::new(1)), 1);
}

/// `ring`'s engine in the in-memory provider: the suite passes, and blobs sealed on either
/// engine open on the other (the same bytes: one format, two implementations).
#[cfg(feature = "ring")]
#[test]
fn the_in_memory_provider_on_ring_passes_the_suite_and_shares_blobs_with_aes_gcm() {
    let mut world = World::new(3);
    let key = world.key;
    let context = ContextBuf::from_pairs([("engine", "switch")]).unwrap();
    let request = GenerateDataKeyRequest::new(key).with_context(&context);
    let mut rng = rng(3);
    let on_aes_gcm = ops::generate_data_key(&world.provider, &owner(), &request, &mut rng)
        .unwrap()
        .done()
        .unwrap();
    world.provider.set_engine(kms_core::AeadEngine::Ring);
    assert_eq!(world.provider.engine(), kms_core::AeadEngine::Ring);
    let opened = decrypt(
        &world.provider,
        &on_aes_gcm.ciphertext_blob,
        &context,
        &mut rng,
    )
    .unwrap();
    assert_eq!(opened.data_key().unwrap(), on_aes_gcm.data_key);
    let on_ring = ops::generate_data_key(&world.provider, &owner(), &request, &mut rng)
        .unwrap()
        .done()
        .unwrap();
    world.provider.set_engine(kms_core::AeadEngine::RustCrypto);
    let opened = decrypt(
        &world.provider,
        &on_ring.ciphertext_blob,
        &context,
        &mut rng,
    )
    .unwrap();
    assert_eq!(opened.data_key().unwrap(), on_ring.data_key);
    world.provider.set_engine(kms_core::AeadEngine::Ring);
    suite("in-memory on ring", &mut InMemory(world), 3);
}

#[test]
fn the_fixed_capacity_provider_passes_the_suite() {
    let mut rng = rng(2);
    let mut provider = FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let key = provider
        .create_key(&mut rng, MasterKeySpec::Aes256)
        .unwrap();
    suite("fixed", &mut Fixed { provider, key }, 2);
}

#[test]
fn an_hsm_stand_in_that_makes_its_own_ivs_passes_the_suite() {
    let mut rng = rng(3);
    let mut hsm = Hsm::new(&mut rng);
    suite("hsm", &mut hsm, 3);
    // Every IV it used is its module ID and its counter, in order, none from the caller.
    let used = hsm.provider.cipher.used.lock().unwrap();
    assert!(used.len() >= 4);
    for (n, iv) in used.iter().enumerate() {
        assert_eq!(&iv.0[..4], b"HSM1");
        assert_eq!(u64::from_be_bytes(iv.0[4..].try_into().unwrap()), n as u64);
    }
}

#[test]
fn every_provider_trait_works_as_a_trait_object() {
    let world = World::new(4);
    let key = world.key;
    let directory: Box<dyn KeyDirectory> = Box::new(InMemoryProvider::new());
    assert_eq!(directory.find_key(ACCOUNT, REGION, &key), Ok(None));
    let cipher: Box<dyn KeyCipher> = Box::new(HsmModule::new());
    drop(cipher);
    let provider: Box<dyn KeyProvider> = Box::new(world.provider);
    let mut rng = rng(4);
    let made = ops::generate_data_key(
        &*provider,
        &owner(),
        &GenerateDataKeyRequest::new(key),
        &mut rng,
    )
    .unwrap()
    .done()
    .unwrap();
    let opened = decrypt(
        &*provider,
        &made.ciphertext_blob,
        &ContextBuf::empty(),
        &mut rng,
    )
    .unwrap();
    assert_eq!(opened.data_key().unwrap(), made.data_key);
    // The wire layer takes one too.
    let text = key.to_string();
    let params = kms_core::wire::GenerateDataKeyParams::new().key_id(&text);
    assert!(kms_core::wire::generate_data_key(&*provider, &owner(), &params, &mut rng).is_ok());
}

/// Seals run through `&self`: several threads seal under one key at once, and every seal is
/// counted once.
#[cfg(not(target_os = "wasi"))]
#[test]
fn concurrent_seals_share_one_provider() {
    let world = World::new(5);
    let provider = &world.provider;
    let key = world.key;
    let version = world.primary(&key);
    let blobs: Vec<Vec<BlobBuf>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                scope.spawn(move || {
                    let mut rng = rng(100 + t);
                    (0..50)
                        .map(|_| {
                            ops::generate_data_key(
                                provider,
                                &owner(),
                                &GenerateDataKeyRequest::new(key),
                                &mut rng,
                            )
                            .unwrap()
                            .done()
                            .unwrap()
                            .ciphertext_blob
                        })
                        .collect()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(world.seals(&version), 200);
    let mut rng = rng(5);
    for blob in blobs.iter().flatten() {
        assert!(decrypt(provider, blob, &ContextBuf::empty(), &mut rng).is_ok());
    }
}

/// A directory that cannot answer says so: the operation ends in `InternalFailure`, not in a
/// wrong permission decision.
#[test]
fn a_directory_that_cannot_answer_is_an_internal_failure() {
    struct Down;
    impl KeyDirectory for Down {
        fn find_key(
            &self,
            _: &str,
            _: &str,
            _: &KeyId,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            Err(ProviderError::Internal)
        }
        fn find_alias(
            &self,
            _: &str,
            _: &str,
            _: &str,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            Err(ProviderError::Internal)
        }
        fn find_version(
            &self,
            _: &str,
            _: &KeyVersionId,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            Err(ProviderError::Internal)
        }
        fn permits(
            &self,
            _: &KeyRecord,
            _: &Caller<'_>,
            _: Permission,
        ) -> Result<bool, ProviderError> {
            Err(ProviderError::Internal)
        }
    }
    /// Finds keys, but its policy store is down.
    struct PolicyDown(HsmDirectory);
    impl KeyDirectory for PolicyDown {
        fn find_key(
            &self,
            a: &str,
            r: &str,
            k: &KeyId,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            self.0.find_key(a, r, k)
        }
        fn find_alias(
            &self,
            a: &str,
            r: &str,
            n: &str,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            self.0.find_alias(a, r, n)
        }
        fn find_version(
            &self,
            r: &str,
            v: &KeyVersionId,
        ) -> Result<Option<KeyRecord>, ProviderError> {
            self.0.find_version(r, v)
        }
        fn permits(
            &self,
            _: &KeyRecord,
            _: &Caller<'_>,
            _: Permission,
        ) -> Result<bool, ProviderError> {
            Err(ProviderError::Unavailable)
        }
    }
    let mut rng = rng(6);
    let hsm = Hsm::new(&mut rng);
    let key = hsm.key;
    let down = Composite {
        directory: Down,
        cipher: HsmModule::new(),
    };
    let err = ops::generate_data_key(&down, &owner(), &GenerateDataKeyRequest::new(key), &mut rng)
        .unwrap_err();
    assert_eq!(
        err,
        kms_core::Error::InternalFailure(kms_core::Internal::Provider)
    );
    assert_eq!(Row::of(&err), Row::internal());
    let policy_down = Composite {
        directory: PolicyDown(hsm.provider.directory),
        cipher: hsm.provider.cipher,
    };
    let err = ops::generate_data_key(
        &policy_down,
        &owner(),
        &GenerateDataKeyRequest::new(key),
        &mut rng,
    )
    .unwrap_err();
    assert_eq!(Row::of(&err), Row::rejected("Unavailable"));
}

#[cfg(feature = "async")]
mod nonblocking {
    //! The operations over an asynchronous provider: a remote KMS stand-in whose every call
    //! waits once (returns `Pending`, wakes itself) before it answers from an in-memory
    //! provider. Driven by a small executor that parks the thread between polls.

    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    use kms_core::blob::{Iv, Tag};
    use kms_core::context::ContextBuf;
    use kms_core::ops::{self, DecryptRequest, GenerateDataKeyRequest};
    use kms_core::provider::{
        AsyncKeyCipher, AsyncKeyDirectory, BoxFuture, ProviderError, SecureRandom,
    };
    use kms_core::{
        AuthorizedKey, Caller, KeyCipher, KeyDirectory, KeyId, KeyRecord, KeyVersionId,
    };
    use kms_core::{InMemoryProvider, Permission};

    use crate::testkit::*;

    /// Waits once, then gives `value`.
    struct Later<T> {
        value: Option<T>,
        waited: bool,
        waits: Arc<AtomicUsize>,
    }

    impl<T: Unpin> Future for Later<T> {
        type Output = T;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
            if !self.waited {
                self.waited = true;
                self.waits.fetch_add(1, Ordering::SeqCst);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(self.value.take().expect("polled after Ready"))
        }
    }

    struct Remote {
        inner: InMemoryProvider,
        waits: Arc<AtomicUsize>,
    }

    impl Remote {
        fn later<'a, T: Send + Unpin + 'a>(&self, value: T) -> BoxFuture<'a, T> {
            Box::pin(Later {
                value: Some(value),
                waited: false,
                waits: self.waits.clone(),
            })
        }
    }

    impl AsyncKeyDirectory for Remote {
        fn find_key<'a>(
            &'a self,
            a: &'a str,
            r: &'a str,
            k: &'a KeyId,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>> {
            self.later(self.inner.find_key(a, r, k))
        }
        fn find_alias<'a>(
            &'a self,
            a: &'a str,
            r: &'a str,
            n: &'a str,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>> {
            self.later(self.inner.find_alias(a, r, n))
        }
        fn find_version<'a>(
            &'a self,
            r: &'a str,
            v: &'a KeyVersionId,
        ) -> BoxFuture<'a, Result<Option<KeyRecord>, ProviderError>> {
            self.later(self.inner.find_version(r, v))
        }
        fn permits<'a>(
            &'a self,
            k: &'a KeyRecord,
            c: &'a Caller<'a>,
            p: Permission,
        ) -> BoxFuture<'a, Result<bool, ProviderError>> {
            self.later(self.inner.permits(k, c, p))
        }
    }

    impl AsyncKeyCipher for Remote {
        fn seal<'a>(
            &'a self,
            key: &'a AuthorizedKey,
            aad: &'a [u8],
            in_out: &'a mut [u8],
            rng: &'a mut (dyn SecureRandom + Send),
        ) -> BoxFuture<'a, Result<(Iv, Tag), ProviderError>> {
            let result = self.inner.seal(key, aad, in_out, rng);
            self.later(result)
        }
        fn open<'a>(
            &'a self,
            key: &'a AuthorizedKey,
            iv: &'a Iv,
            aad: &'a [u8],
            in_out: &'a mut [u8],
            tag: &'a Tag,
        ) -> BoxFuture<'a, Result<(), ProviderError>> {
            let result = self.inner.open(key, iv, aad, in_out, tag);
            self.later(result)
        }
    }

    /// Polls `future` to its end: polls again once woken (the remote stand-in wakes before it
    /// returns `Pending`), and never polls without a wake.
    fn block_on<F: Future>(future: F) -> F::Output {
        struct Flag(std::sync::atomic::AtomicBool);
        impl Wake for Flag {
            fn wake(self: Arc<Self>) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Arc::new(Flag(std::sync::atomic::AtomicBool::new(false)));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(out) => return out,
                Poll::Pending => {
                    assert!(
                        flag.0.swap(false, Ordering::SeqCst),
                        "Pending without a wake"
                    );
                }
            }
        }
    }

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn operations_await_an_asynchronous_provider() {
        let world = World::new(7);
        let key = world.key;
        let remote = Remote {
            inner: world.provider,
            waits: Arc::new(AtomicUsize::new(0)),
        };
        let mut rng = rng(7);
        let context = ContextBuf::from_pairs([("remote", "yes")]).unwrap();
        let request = GenerateDataKeyRequest::new(key).with_context(&context);
        let caller = owner();
        let future = ops::nonblocking::generate_data_key(&remote, &caller, &request, &mut rng);
        assert_send(&future);
        let made = block_on(future).unwrap().done().unwrap();
        // find_key, permits and seal each waited once.
        assert_eq!(remote.waits.load(Ordering::SeqCst), 3);
        let request = DecryptRequest::new(&made.ciphertext_blob).with_context(&context);
        let opened = block_on(ops::nonblocking::decrypt(
            &remote,
            &owner(),
            &request,
            &mut rng,
        ))
        .unwrap()
        .done()
        .unwrap();
        assert_eq!(opened.data_key().unwrap(), made.data_key);
        assert_eq!(remote.waits.load(Ordering::SeqCst), 6);
        // The same request, blocking, against the same keys: the same checks and errors.
        let wrong = DecryptRequest::new(&made.ciphertext_blob);
        let err = block_on(ops::nonblocking::decrypt(
            &remote,
            &owner(),
            &wrong,
            &mut rng,
        ))
        .unwrap_err();
        assert_eq!(Row::of(&err), Row::invalid("CiphertextBlob"));
        let err = ops::decrypt(&remote.inner, &owner(), &wrong, &mut rng).unwrap_err();
        assert_eq!(Row::of(&err), Row::invalid("CiphertextBlob"));
    }
}
