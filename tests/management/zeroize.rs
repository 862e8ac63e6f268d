//! Master key material left in freed memory by key management and snapshots.
//!
//! The binary's global allocator scans every block freed on the current thread, while armed,
//! for a known 32-byte master key. The material is known because it is imported
//! (ImportKeyMaterial) or drawn from an RNG that hands it out; a blob opened with bare AES-GCM
//! proves it is the key's. README (Security notes): master key material is zeroized on drop,
//! and the owned forms zeroize their buffers before freeing them; `src/in_memory/snapshot.rs`:
//! "The body holds master key material: it is built and opened in zeroized buffers".

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::{InMemoryProvider, KeyOptions, MasterKeySpec};
use rand_chacha::ChaCha20Rng;

use crate::support::*;
use crate::testkit::*;

const NEEDLE: [u8; 32] = *b"master key needle for zeroizing!";

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static FOUND: Cell<usize> = const { Cell::new(0) };
}

struct Scanning;

// SAFETY: every method forwards to the system allocator. `dealloc` only reads the block it is
// about to free (valid for `layout.size()` bytes until then). The thread-locals are
// const-initialised without destructors, so touching them never allocates; the default
// `realloc` goes through `alloc` and `dealloc`, so moved-from blocks are scanned too.
unsafe impl GlobalAlloc for Scanning {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARMED.try_with(Cell::get).unwrap_or(false) && layout.size() >= NEEDLE.len() {
            // SAFETY: the block is live and `layout.size()` bytes long until freed below.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(NEEDLE.len()).any(|w| w == NEEDLE) {
                let _ = FOUND.try_with(|f| f.set(f.get() + 1));
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Scanning = Scanning;

/// Runs `f` with the scan armed; returns how many freed blocks held the needle.
fn freed_copies<T>(f: impl FnOnce() -> T) -> (T, usize) {
    FOUND.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let out = f();
    ARMED.with(|a| a.set(false));
    (out, FOUND.with(Cell::get))
}

/// An RNG that hands out [`NEEDLE`] for its first 32-byte draw, and ChaCha20 otherwise.
struct NeedleRng {
    inner: ChaCha20Rng,
    used: bool,
}

impl NeedleRng {
    fn new(seed: u64) -> Self {
        Self {
            inner: rng(seed),
            used: false,
        }
    }
}

impl TryRng for NeedleRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        if dst.len() == 32 && !self.used {
            self.used = true;
            dst.copy_from_slice(&NEEDLE);
            return Ok(());
        }
        self.inner.try_fill_bytes(dst)
    }
}

impl TryCryptoRng for NeedleRng {}

#[test]
fn the_scan_sees_a_freed_copy() {
    // Positive control: a plain Vec holding the needle, freed while armed.
    let ((), found) = freed_copies(|| {
        let v = std::hint::black_box(NEEDLE.to_vec());
        drop(v);
    });
    assert_eq!(found, 1);
    // And a zeroized one is not seen.
    let ((), found) = freed_copies(|| {
        let v = zeroize::Zeroizing::new(std::hint::black_box(NEEDLE.to_vec()));
        drop(v);
    });
    assert_eq!(found, 0);
}

/// A provider whose first key is EXTERNAL with [`NEEDLE`] imported, followed by keys that make
/// the snapshot body large: a long description, and many versions.
fn provider_with_needle() -> Kms {
    let mut k = Kms::new(1);
    let external = k.external_key(MasterKeySpec::Aes256);
    k.import(external.as_str(), &NEEDLE).unwrap();
    let made = k.gdk(external.as_str()).unwrap();
    assert!(opens_with(&NEEDLE, &made.ciphertext_blob).is_some());
    let long = "d".repeat(8192);
    k.create(&CreateKey::new().with_description(&long)).unwrap();
    let rotated = k.key();
    for _ in 0..8 {
        k.rotate(rotated.as_str()).unwrap();
    }
    k
}

/// A regression test: export_snapshot once wrote the plaintext body (master key material
/// included) into a zeroized buffer sized by an estimate of 200 bytes a key; a key with a long
/// description or several versions outgrew it, and each reallocation freed the old buffer,
/// material and all, without zeroizing it. The body is now counted first and written into a
/// buffer of exactly its size.
#[test]
fn export_snapshot_leaves_no_material_in_freed_memory() {
    let k = provider_with_needle();
    let (bytes, found) = freed_copies(|| {
        k.provider
            .export_snapshot(&WRAP, &mut rng(2))
            .expect("export")
    });
    assert!(InMemoryProvider::import_snapshot(&bytes, &WRAP).is_ok());
    assert_eq!(
        found, 0,
        "export_snapshot freed {found} buffer(s) holding master key material unzeroized"
    );
}

#[test]
fn import_snapshot_leaves_no_material_in_freed_memory() {
    let k = provider_with_needle();
    let bytes = k.provider.export_snapshot(&WRAP, &mut rng(3)).unwrap();
    let (restored, found) = freed_copies(|| InMemoryProvider::import_snapshot(&bytes, &WRAP));
    let restored = restored.unwrap();
    assert_eq!(restored.len(), 3);
    assert_eq!(found, 0, "import_snapshot freed material unzeroized");
    // Dropping the restored provider zeroizes its material.
    let ((), found) = freed_copies(|| drop(restored));
    assert_eq!(found, 0, "dropping the provider freed material unzeroized");
}

#[test]
fn a_refused_import_leaves_no_material_in_freed_memory() {
    let k = provider_with_needle();
    let bytes = k.provider.export_snapshot(&WRAP, &mut rng(4)).unwrap();
    let mut truncated = bytes.clone();
    truncated.pop();
    let (result, found) = freed_copies(|| {
        (
            InMemoryProvider::import_snapshot(&truncated, &WRAP).is_err(),
            InMemoryProvider::import_snapshot(&bytes, &[8; 32]).is_err(),
        )
    });
    assert_eq!(result, (true, true));
    assert_eq!(found, 0);
}

#[test]
fn import_key_material_leaves_no_material_in_freed_memory() {
    let mut k = Kms::new(5);
    let key = k.external_key(MasterKeySpec::Aes256);
    // Parsed from its Base64 text, staged and committed, as a frontend does.
    let text = b64(&NEEDLE);
    let (result, found) = freed_copies(|| k.import_text(&owner(), key.as_str(), Some(&text)));
    result.unwrap();
    assert_eq!(found, 0);
    let made = k.gdk(key.as_str()).unwrap();
    assert!(opens_with(&NEEDLE, &made.ciphertext_blob).is_some());
}

/// A regression test: a key's versions once lived in a `Vec<Version>` holding each version's
/// material inline; CreateKeyVersion pushed onto it, and when the Vec grew the old buffer, with
/// the material of every older version, was freed without being zeroized. Versions now box
/// their ciphers.
#[test]
fn create_key_version_leaves_no_material_in_freed_memory() {
    let mut k = Kms::new(6);
    let mut needle_rng = NeedleRng::new(6);
    let key = k
        .provider
        .create_key(&mut needle_rng, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    assert!(needle_rng.used);
    // The needle is the key's material.
    let made = k.gdk(key.as_str()).unwrap();
    assert!(opens_with(&NEEDLE, &made.ciphertext_blob).is_some());

    let (result, found) = freed_copies(|| {
        for _ in 0..8 {
            k.rotate(key.as_str())?;
        }
        Ok::<_, kms_core::Error>(())
    });
    result.unwrap();
    // The old version still opens its blob: the material was moved, not lost.
    k.decrypt(&made.ciphertext_blob).unwrap();
    assert_eq!(
        found, 0,
        "CreateKeyVersion freed {found} buffer(s) holding the old version's material unzeroized"
    );
}

#[test]
fn a_staged_change_dropped_uncommitted_leaves_no_material_in_freed_memory() {
    // A CreateKey, a CreateKeyVersion and an ImportKeyMaterial whose material is the needle,
    // each staged on the heap and dropped without being committed.
    let mut k = Kms::new(7);
    let enabled = k.key();
    let external = k.external_key(MasterKeySpec::Aes256);
    let ((), found) = freed_copies(|| {
        let mut needle = NeedleRng::new(8);
        let staged =
            management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut needle, T0);
        assert!(needle.used);
        drop(Box::new(staged.unwrap()));
        let mut needle = NeedleRng::new(9);
        let staged =
            management::create_key_version(&k.provider, &owner(), &enabled.into(), &mut needle, T0);
        assert!(needle.used);
        drop(Box::new(staged.unwrap()));
        let material = material(&NEEDLE);
        let staged =
            management::import_key_material(&k.provider, &owner(), &external.into(), material, T0);
        drop(Box::new(staged.unwrap()));
    });
    assert_eq!(
        found, 0,
        "a dropped staged change freed its material unzeroized"
    );
    // Nothing was committed.
    assert_eq!(k.provider.len(), 2);
    assert_eq!(k.versions(&enabled).len(), 1);
    assert!(!k.provider.key(&external).unwrap().unwrap().has_material);
}

#[test]
fn deleting_a_key_leaves_no_material_in_freed_memory() {
    let mut k = Kms::new(10);
    let mut needle_rng = NeedleRng::new(10);
    let key = k
        .provider
        .create_key(&mut needle_rng, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    k.rotate(key.as_str()).unwrap();
    k.schedule(key.as_str(), 7).unwrap();
    let staged = management::delete_key(&k.provider, &owner(), &key.into(), k.now).unwrap();
    let (result, found) = freed_copies(|| k.provider.apply(staged));
    result.unwrap();
    assert!(k.provider.is_empty());
    assert_eq!(found, 0, "deleting the key freed its material unzeroized");
}
