//! Heap allocations per operation, counted by a global allocator that counts per thread.
//!
//! The caller-buffer (`*_in`) path must not allocate at all; the owned path allocates a stated,
//! small number of times.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kms_core::rand_core::SeedableRng;
use kms_core::{
    Caller, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, InMemoryProvider, KeyOptions,
    ReEncryptRequest, decrypt, decrypt_in, encrypt_in, generate_data_key, generate_data_key_in,
    generate_data_key_without_plaintext_in, re_encrypt_in,
};
use rand_chacha::ChaCha20Rng;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made on this thread while `f` runs.
fn allocations<T>(f: impl FnOnce() -> T) -> (usize, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

const CONTEXT: &str = r#"{"b":"2","a":"1","c":"\u0033"}"#;

fn setup() -> (InMemoryProvider, ChaCha20Rng, String, String) {
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut provider = InMemoryProvider::new();
    let options = KeyOptions::new("1234567890123456", "cn-hangzhou");
    let key = provider.create_key(&mut rng, &options).unwrap();
    let other = provider.create_key(&mut rng, &options).unwrap();
    provider.create_alias("alias/alloc", &key).unwrap();
    (provider, rng, key.to_string(), other.to_string())
}

#[test]
fn caller_buffer_path_allocates_nothing() {
    let (mut provider, mut rng, _key, other) = setup();
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let mut workspace = vec![0u8; 16 * 1024];
    let mut blob = String::with_capacity(2048);

    let request = GenerateDataKeyRequest {
        encryption_context: Some(CONTEXT),
        ..GenerateDataKeyRequest::new("alias/alloc")
    };
    let (n, ()) = allocations(|| {
        let out = generate_data_key_in(&mut provider, &caller, &request, &mut rng, &mut workspace)
            .unwrap();
        blob.push_str(out.ciphertext_blob);
    });
    assert_eq!(n, 0, "GenerateDataKey (caller buffer) allocated");

    let request = DecryptRequest {
        encryption_context: Some(r#"{"a":"1","b":"2","c":"3"}"#),
        ..DecryptRequest::new(&blob)
    };
    let (n, len) = allocations(|| {
        decrypt_in(&provider, &caller, &request, &mut rng, &mut workspace)
            .unwrap()
            .plaintext
            .len()
    });
    assert_eq!((n, len), (0, 44), "Decrypt (caller buffer)");

    let request = GenerateDataKeyRequest::new("alias/alloc");
    let (n, _) = allocations(|| {
        generate_data_key_without_plaintext_in(
            &mut provider,
            &caller,
            &request,
            &mut rng,
            &mut workspace,
        )
        .unwrap()
        .ciphertext_blob
        .len()
    });
    assert_eq!(
        n, 0,
        "GenerateDataKeyWithoutPlaintext (caller buffer) allocated"
    );

    let request = EncryptRequest::new("alias/alloc", "some text");
    let (n, _) = allocations(|| {
        encrypt_in(&mut provider, &caller, &request, &mut rng, &mut workspace)
            .unwrap()
            .ciphertext_blob
            .len()
    });
    assert_eq!(n, 0, "Encrypt (caller buffer) allocated");

    let request = ReEncryptRequest {
        source_encryption_context: Some(CONTEXT),
        ..ReEncryptRequest::new(&blob, &other)
    };
    let (n, _) = allocations(|| {
        re_encrypt_in(&mut provider, &caller, &request, &mut rng, &mut workspace)
            .unwrap()
            .ciphertext_blob
            .len()
    });
    assert_eq!(n, 0, "ReEncrypt (caller buffer) allocated");
}

#[test]
fn owned_path_allocates_a_stated_few_times() {
    let (mut provider, mut rng, key, _) = setup();
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let request = GenerateDataKeyRequest::new(&key);
    // The workspace, the blob text and the plaintext text.
    let (n, made) =
        allocations(|| generate_data_key(&mut provider, &caller, &request, &mut rng).unwrap());
    assert_eq!(n, 3, "GenerateDataKey (owned)");
    // The workspace and the plaintext.
    let request = DecryptRequest::new(&made.ciphertext_blob);
    let (n, _) = allocations(|| decrypt(&provider, &caller, &request, &mut rng).unwrap());
    assert_eq!(n, 2, "Decrypt (owned)");
}
