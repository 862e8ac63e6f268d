//! The caller-buffer forms (`ops::*_in` and `wire::*_in`): they allocate nothing, on success
//! and on every error path, counted by a global allocator that tallies each thread's own
//! allocations (so the tests running beside them do not disturb the counts); the owned forms
//! allocate a stated few times; `*_in` and the owned forms agree; a workspace of
//! `workspace_len()` bytes is exactly enough; and the workspace keeps no data key or plaintext
//! once the borrowed secrets drop or an operation fails.
//!
//! The allocator is the whole `operations` binary's: counting is per thread, and a test only
//! ever reads its own thread's count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::ops::{
    self, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Outcome, Plaintext,
    ReEncryptRequest,
};
use kms_core::wire::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{
    DataKeyLength, Error, InMemoryProvider, Internal, KeyId, KeyOptions, KeyReference, KeyState,
    KeyUsage, WorkspaceTooSmall,
};

use crate::strategies::{FIXED_KEY_ID, contains, first_bytes, fixed_provider};
use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// The counting allocator

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: a thread being torn down has no counter left, and is not counted.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator unchanged; the thread-local counter is
// const-initialised and has no destructor, so touching it never allocates.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

/// How many heap allocations this thread made while running `f`.
fn allocations_in<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

#[test]
fn the_counter_counts_this_threads_allocations() {
    let (_, n) = allocations_in(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1);
    let (_, n) = allocations_in(|| {
        let mut v: Vec<u64> = Vec::with_capacity(1);
        v.extend([1, 2, 3, 4, 5]);
        std::hint::black_box(v)
    });
    assert_eq!(n, 2, "an allocation and a reallocation");
    let (_, n) = allocations_in(|| std::hint::black_box(1 + 1));
    assert_eq!(n, 0);
}

/// Another thread's allocations are not this thread's.
#[cfg(not(target_os = "wasi"))]
#[test]
fn other_threads_do_not_count() {
    let (_, n) = allocations_in(|| {
        std::thread::scope(|s| {
            s.spawn(|| {
                let (_, theirs) = allocations_in(|| std::hint::black_box(vec![0u8; 100]));
                assert_eq!(theirs, 1);
            });
        });
    });
    // Spawning allocates here (the thread's handle and name), but not the other thread's
    // vector: count what this thread made with and without the vector being there.
    let (_, without) = allocations_in(|| std::thread::scope(|s| drop(s.spawn(|| ()))));
    assert_eq!(n, without);
}

// ---------------------------------------------------------------------------------------------
// Fixtures

const CONTEXT: &str = r#"{ "tenant" : "t-1", "purpose":"no alloc" }"#;
const SAME_CONTEXT: &str = r#"{"purpose":"no alloc","tenant":"t-1"}"#;

fn context() -> ContextBuf {
    ContextBuf::from_pairs([("tenant", "t-1"), ("purpose", "no alloc")]).expect("context")
}

fn too_small(needed: usize) -> Error {
    Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
}

/// A world with everything the error paths need: a second key, a disabled key, a key that
/// cannot make data keys, a key of another account (named by ARN), and blobs under the key
/// (one with [`CONTEXT`]) and under the disabled key (sealed before it was disabled).
struct Scene {
    w: World,
    second: KeyId,
    disabled: KeyId,
    sign_verify: KeyId,
    foreign_arn: String,
    blob: BlobBuf,
    disabled_blob: BlobBuf,
    /// The blob's version prefix replaced with one that names no version.
    unknown_version_blob: BlobBuf,
}

fn scene(seed: u64) -> Scene {
    let mut w = World::new(seed);
    let second = w.create_in(ACCOUNT, REGION);
    let sign_verify = w.create(KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify));
    let foreign = w.create_in(OTHER_ACCOUNT, REGION);
    let disabled = w.create_in(ACCOUNT, REGION);
    let disabled_blob = BlobBuf::from_base64(&w.blob_under(&disabled, None)).expect("blob");
    w.put_in_state(&disabled, KeyState::Disabled);
    let text = w.blob(Some(CONTEXT));
    let unknown = with_prefix(&text, "0f0f0f0f-1111-4222-8333-444444444444");
    Scene {
        second,
        disabled,
        sign_verify,
        foreign_arn: key_arn(REGION, OTHER_ACCOUNT, &foreign),
        blob: BlobBuf::from_base64(&text).expect("blob"),
        disabled_blob,
        unknown_version_blob: BlobBuf::from_base64(&unknown).expect("blob"),
        w,
    }
}

// ---------------------------------------------------------------------------------------------
// Agreement with the owned forms

#[test]
fn generate_data_key_in_matches_the_owned_form_in_both_layers() {
    let w = World::new(800);
    let context = context();
    for (length, spec, number) in [
        (DataKeyLength::AES_256, None, None),
        (DataKeyLength::new(100).expect("length"), None, Some("100")),
        (DataKeyLength::AES_128, Some("AES_128"), None),
    ] {
        let request = GenerateDataKeyRequest::new(KeyReference::Alias(ALIAS))
            .with_length(length)
            .with_context(&context);
        let owned = ops::generate_data_key(&w.provider, &owner(), &request, &mut rng(9))
            .expect("GenerateDataKey")
            .done()
            .expect("ran");
        let mut ws = vec![0u8; request.workspace_len()];
        let out = ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(9), &mut ws)
            .expect("GenerateDataKey")
            .done()
            .expect("ran");
        assert_eq!(out.key_id, owned.key_id);
        assert_eq!(out.key_version_id, owned.key_version_id);
        assert_eq!(
            out.ciphertext_blob.as_bytes(),
            owned.ciphertext_blob.as_bytes()
        );
        assert_eq!(out.data_key.expose(), owned.data_key.expose());
        assert_eq!(out.data_key.len(), length.bytes());
        assert_eq!(out.data_key_base64.expose(), b64(out.data_key.expose()));
        assert_eq!(
            out.data_key_base64.len(),
            out.data_key_base64.expose().len()
        );
        assert!(!out.data_key.is_empty() && !out.data_key_base64.is_empty());

        let mut params = GenerateDataKeyParams::new()
            .key_id(ALIAS)
            .encryption_context(CONTEXT);
        params.key_spec = spec;
        params.number_of_bytes = number;
        let owned = wire::generate_data_key(&w.provider, &owner(), &params, &mut rng(9))
            .expect("GenerateDataKey");
        let mut ws = vec![0u8; params.workspace_len()];
        let out = wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(9), &mut ws)
            .expect("GenerateDataKey");
        assert_eq!(out.key_id, owned.key_id);
        assert_eq!(out.key_version_id, owned.key_version_id);
        assert_eq!(out.ciphertext_blob, owned.ciphertext_blob);
        assert_eq!(out.plaintext.expose(), owned.plaintext.expose());
        assert_eq!(out.request_id, owned.request_id);
        assert_eq!(out.to_owned(), owned);
    }
}

#[test]
fn decrypt_in_matches_the_owned_form_in_both_layers() {
    let mut w = World::new(801);
    let text = w.blob(Some(CONTEXT));
    let sealed = w.open(&text, Some(CONTEXT)).expect("Decrypt");
    let blob = BlobBuf::from_base64(&text).expect("blob");
    let context = context();

    let request = DecryptRequest::new(&blob).with_context(&context);
    let owned = ops::decrypt(&w.provider, &owner(), &request, &mut rng(3))
        .expect("Decrypt")
        .done()
        .expect("ran");
    let mut ws = vec![0u8; request.workspace_len()];
    let out = ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(3), &mut ws)
        .expect("Decrypt")
        .done()
        .expect("ran");
    assert_eq!(out.key_id, owned.key_id);
    assert_eq!(out.key_version_id, owned.key_version_id);
    assert_eq!(out.plaintext.expose(), owned.plaintext.expose());
    assert_eq!(out.plaintext.expose(), sealed.plaintext.expose());

    let params = DecryptParams::new()
        .ciphertext_blob(&text)
        .encryption_context(SAME_CONTEXT);
    let owned = wire::decrypt(&w.provider, &owner(), &params, &mut rng(3)).expect("Decrypt");
    let mut ws = vec![0u8; params.workspace_len()];
    let out =
        wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(3), &mut ws).expect("Decrypt");
    assert_eq!(out.to_owned(), owned);
    assert_eq!(out.plaintext.expose(), sealed.plaintext.expose());
}

#[test]
fn a_larger_workspace_works_too() {
    let w = World::new(802);
    let params = GenerateDataKeyParams::new().key_id(ALIAS);
    let mut ws = vec![0u8; params.workspace_len() + 1000];
    let out = wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws)
        .expect("GenerateDataKey");
    let blob = out.ciphertext_blob.to_string();
    let plaintext = out.plaintext.expose().to_string();
    drop(out);
    let params = DecryptParams::new().ciphertext_blob(&blob);
    let mut ws = vec![0u8; params.workspace_len() + 1000];
    let out =
        wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(2), &mut ws).expect("Decrypt");
    assert_eq!(out.plaintext.expose(), plaintext);
}

// ---------------------------------------------------------------------------------------------
// Too small a workspace

#[test]
fn too_small_a_workspace_for_generate_data_key() {
    let w = World::new(803);
    let version = w.primary(&w.key);
    let context = context();
    for length in [DataKeyLength::AES_256, DataKeyLength::MAX] {
        let request = GenerateDataKeyRequest::new(KeyReference::Alias(ALIAS))
            .with_length(length)
            .with_context(&context);
        // The raw key, its Base64 text, the associated data (version ID and canonical context)
        // and the blob, worked out here.
        let text = length.bytes().div_ceil(3) * 4;
        let canonical = 2 + (2 + 6 + 2 + 3) + (2 + 7 + 2 + 8);
        let needed = length.bytes() + text + 36 + canonical + 36 + 12 + text + 16;
        assert_eq!(request.workspace_len(), needed);
        let seals = w.seals(&version);
        for short in [0, 16, needed - 1] {
            let mut ws = vec![0u8; short];
            let err =
                ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(1), &mut ws)
                    .unwrap_err();
            assert_eq!(err, too_small(needed), "{short} bytes");
            assert_row(Err::<(), _>(err), Row::internal());
        }
        assert_eq!(w.seals(&version), seals, "nothing sealed");
        let mut exact = vec![0u8; needed];
        let out =
            ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(1), &mut exact)
                .expect("the workspace it asked for is enough");
        assert!(matches!(out, Outcome::Done(_)));

        let number = length.bytes().to_string();
        let params = GenerateDataKeyParams::new()
            .key_id(ALIAS)
            .number_of_bytes(&number)
            .encryption_context(CONTEXT);
        let needed = params.workspace_len();
        for short in [0, 16, needed - 1] {
            let mut ws = vec![0u8; short];
            let err =
                wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws)
                    .unwrap_err();
            assert_eq!(err, too_small(needed), "{short} bytes");
        }
        let mut exact = vec![0u8; needed];
        wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(1), &mut exact)
            .expect("the workspace it asked for is enough");
    }
}

#[test]
fn too_small_a_workspace_for_decrypt() {
    let mut w = World::new(804);
    let text = w.blob(Some(CONTEXT));
    let blob = BlobBuf::from_base64(&text).expect("blob");
    let context = context();
    let request = DecryptRequest::new(&blob).with_context(&context);
    // The associated data (version ID and canonical context) and the 44 sealed bytes.
    let needed = 36 + 2 + (2 + 6 + 2 + 3) + (2 + 7 + 2 + 8) + 44;
    assert_eq!(request.workspace_len(), needed);
    for short in [0, 8, needed - 1] {
        let mut ws = vec![0u8; short];
        let err =
            ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(1), &mut ws).unwrap_err();
        assert_eq!(err, too_small(needed), "{short} bytes");
    }
    let mut exact = vec![0u8; needed];
    let out = ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(1), &mut exact)
        .expect("Decrypt")
        .done()
        .expect("ran");
    assert_eq!(out.plaintext.len(), 44);

    let params = DecryptParams::new()
        .ciphertext_blob(&text)
        .encryption_context(CONTEXT);
    let needed = params.workspace_len();
    for short in [0, 8, needed - 1] {
        let mut ws = vec![0u8; short];
        let err =
            wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws).unwrap_err();
        assert_eq!(err, too_small(needed), "{short} bytes");
    }
    let mut exact = vec![0u8; needed];
    wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(1), &mut exact)
        .expect("the workspace it asked for is enough");
}

#[test]
fn decrypt_workspace_is_bounded_whatever_the_blob_text() {
    let huge = "A".repeat(1 << 20);
    let params = DecryptParams::new().ciphertext_blob(&huge);
    let bounded = params.workspace_len();
    // Twice the longest blob (6208 bytes), decoded and opened, and two empty contexts.
    assert!(bounded < 2 * 6300, "{bounded}");
    let w = World::new(805);
    let mut ws = vec![0u8; bounded];
    let result = wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws);
    assert_row(result.map(drop), Row::invalid("CiphertextBlob"));
}

// ---------------------------------------------------------------------------------------------
// Nothing secret is left in the workspace

#[test]
fn generate_data_key_in_zeroizes_its_secrets_on_drop() {
    let w = World::new(806);
    let params = GenerateDataKeyParams::new()
        .key_id(ALIAS)
        .encryption_context(CONTEXT);
    let mut ws = vec![0u8; params.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out = wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(4), &mut ws)
        .expect("GenerateDataKey");
    let text = out.plaintext.expose().to_string();
    let key = unb64(&text);
    let blob = out.ciphertext_blob.to_string();
    let text_at = out.plaintext.expose().as_ptr() as usize - base;
    assert_eq!((text.len(), key.len()), (44, 32));
    assert_eq!(
        key,
        first_bytes(4, 32),
        "the data key is the RNG's first 32 bytes"
    );
    drop(out);
    assert!(
        ws[text_at..text_at + 44].iter().all(|&b| b == 0),
        "Plaintext left in the workspace"
    );
    // No other copy survives anywhere in the workspace; the (public) blob text does.
    assert!(!contains(&ws, text.as_bytes()));
    assert!(!contains(&ws, &key));
    assert!(contains(&ws, blob.as_bytes()));
}

#[test]
fn decrypt_in_zeroizes_its_plaintext_on_drop() {
    let mut w = World::new(807);
    let blob = w.blob(None);
    let secret = w
        .open(&blob, None)
        .expect("Decrypt")
        .plaintext
        .expose()
        .to_string();
    let params = DecryptParams::new().ciphertext_blob(&blob);
    let mut ws = vec![0u8; params.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out =
        wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws).expect("Decrypt");
    let at = out.plaintext.expose().as_ptr() as usize - base;
    let len = out.plaintext.len();
    assert_eq!(out.plaintext.expose(), secret);
    drop(out);
    assert!(ws[at..at + len].iter().all(|&b| b == 0));
    assert!(!contains(&ws, secret.as_bytes()));
}

#[test]
fn failed_decrypts_leave_no_plaintext_in_the_workspace() {
    let mut w = World::new(808);
    let blob = w.blob(Some(CONTEXT));
    let secret = w
        .open(&blob, Some(CONTEXT))
        .expect("Decrypt")
        .plaintext
        .expose()
        .to_string();
    // A wrong context: the tag fails, nothing is decrypted.
    let params = DecryptParams::new().ciphertext_blob(&blob);
    let mut ws = vec![0u8; params.workspace_len()];
    let result = wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws);
    assert_row(result.map(drop), Row::invalid("CiphertextBlob"));
    assert!(!contains(&ws, secret.as_bytes()));
    // The RNG fails after opening, when the request ID is drawn.
    let params = DecryptParams::new()
        .ciphertext_blob(&blob)
        .encryption_context(CONTEXT);
    let mut ws = vec![0u8; params.workspace_len()];
    let mut failing = FailingRng::default();
    let result = wire::decrypt_in(&w.provider, &owner(), &params, &mut failing, &mut ws);
    assert_row(result.map(drop), Row::internal());
    assert_eq!(failing.attempts, 1, "the request ID, after opening");
    assert!(!contains(&ws, secret.as_bytes()));
}

/// Runs GenerateDataKey (both layers, caller buffers) with an RNG that hands out `budget`
/// bytes, on `provider`, and checks that it failed and left no data key in the workspace.
fn assert_no_data_key_left<P: kms_core::KeyProvider>(
    provider: &P,
    key: &str,
    seed: u64,
    budget: usize,
) {
    let data_key = first_bytes(seed, 32);
    let reference = KeyReference::parse(key, kms_core::Parameter::KeyId).expect("name");
    let request = GenerateDataKeyRequest::new(reference);
    let mut ws = vec![0u8; request.workspace_len()];
    let mut limited = LimitedRng::new(seed, budget);
    let result = ops::generate_data_key_in(provider, &owner(), &request, &mut limited, &mut ws);
    assert_row(result.map(drop), Row::internal());
    assert!(
        !contains(&ws, &data_key),
        "typed: raw data key left in the workspace"
    );
    assert!(
        !contains(&ws, b64(&data_key).as_bytes()),
        "typed: Base64 data key left in the workspace"
    );

    let params = GenerateDataKeyParams::new().key_id(key);
    let mut ws = vec![0u8; params.workspace_len()];
    let mut limited = LimitedRng::new(seed, budget);
    let result = wire::generate_data_key_in(provider, &owner(), &params, &mut limited, &mut ws);
    assert_row(result.map(drop), Row::internal());
    assert!(
        !contains(&ws, &data_key),
        "wire: raw data key left in the workspace"
    );
    assert!(
        !contains(&ws, b64(&data_key).as_bytes()),
        "wire: Base64 data key (Plaintext) left in the workspace"
    );
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_request_id_draw_fails() {
    // 32 bytes of key and 12 of IV are drawn and the seal succeeds; the wire's request ID draw
    // fails after it. (The typed layer draws no request ID: there it succeeds.)
    let w = World::new(809);
    let data_key = first_bytes(42, 32);
    let params = GenerateDataKeyParams::new().key_id(ALIAS);
    let mut ws = vec![0u8; params.workspace_len()];
    let mut limited = LimitedRng::new(42, 32 + 12);
    let result = wire::generate_data_key_in(&w.provider, &owner(), &params, &mut limited, &mut ws);
    assert_row(result.map(drop), Row::internal());
    assert!(
        !contains(&ws, &data_key),
        "raw data key left in the workspace"
    );
    assert!(
        !contains(&ws, b64(&data_key).as_bytes()),
        "Plaintext left in the workspace"
    );
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_iv_draw_fails() {
    // The key is drawn, the IV draw fails.
    let w = World::new(810);
    assert_no_data_key_left(&w.provider, ALIAS, 43, 32);
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_seal_is_refused() {
    // A version that may seal once: the second seal is refused after the key is drawn.
    let mut w = World::with_provider(InMemoryProvider::new().with_seal_limit(1), 811);
    let params = GenerateDataKeyParams::new().key_id(ALIAS);
    w.gdk(&params).expect("the first seal");
    let result = w.gdk(&params);
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::SealLimitReached)
    );
    assert_no_data_key_left(&w.provider, ALIAS, 44, 1 << 20);
}

// ---------------------------------------------------------------------------------------------
// The caller-buffer forms allocate nothing: success

#[test]
fn typed_caller_buffer_operations_allocate_nothing() {
    let s = scene(812);
    let p = &s.w.provider;
    let context = context();
    let mut ws = vec![0u8; 16 * 1024];
    let mut r = rng(813);

    let request = GenerateDataKeyRequest::new(s.w.key)
        .with_length(DataKeyLength::new(64).expect("length"))
        .with_context(&context);
    let (len, n) = allocations_in(|| {
        let out = ops::generate_data_key_in(p, &owner(), &request, &mut r, &mut ws);
        let out = out.expect("GenerateDataKey").done().expect("ran");
        assert_eq!(out.data_key.len(), 64);
        out.ciphertext_blob.as_bytes().len()
    });
    assert_eq!((n, len), (0, 36 + 12 + 88 + 16), "GenerateDataKey");

    let (len, n) = allocations_in(|| {
        let out =
            ops::generate_data_key_without_plaintext_in(p, &owner(), &request, &mut r, &mut ws);
        out.expect("WithoutPlaintext")
            .done()
            .expect("ran")
            .ciphertext_blob
            .as_bytes()
            .len()
    });
    assert_eq!((n, len), (0, 152), "GenerateDataKeyWithoutPlaintext");

    let request = EncryptRequest::new(
        KeyReference::Alias(ALIAS),
        Plaintext::new("some text").expect("text"),
    );
    let (len, n) = allocations_in(|| {
        let out = ops::encrypt_in(p, &owner(), &request, &mut r, &mut ws);
        out.expect("Encrypt")
            .done()
            .expect("ran")
            .ciphertext_blob
            .as_bytes()
            .len()
    });
    assert_eq!((n, len), (0, 36 + 12 + 9 + 16), "Encrypt");

    let request = DecryptRequest::new(&s.blob).with_context(&context);
    let (len, n) = allocations_in(|| {
        let out = ops::decrypt_in(p, &owner(), &request, &mut r, &mut ws);
        out.expect("Decrypt").done().expect("ran").plaintext.len()
    });
    assert_eq!((n, len), (0, 44), "Decrypt");

    let request = ReEncryptRequest::new(&s.blob, s.second).with_source_context(&context);
    let (len, n) = allocations_in(|| {
        let out = ops::re_encrypt_in(p, &owner(), &request, &mut r, &mut ws);
        out.expect("ReEncrypt")
            .done()
            .expect("ran")
            .ciphertext_blob
            .as_bytes()
            .len()
    });
    assert_eq!((n, len), (0, 108), "ReEncrypt");

    // Dry runs that pass.
    let gdk = GenerateDataKeyRequest::new(s.w.key).with_dry_run(true);
    let enc = EncryptRequest::new(s.w.key, Plaintext::new("x").expect("text")).with_dry_run(true);
    let dec = DecryptRequest::new(&s.blob).with_dry_run(true);
    let re = ReEncryptRequest::new(&s.blob, s.second).with_dry_run(true);
    let (dry, n) = allocations_in(|| {
        let a = matches!(
            ops::generate_data_key_in(p, &owner(), &gdk, &mut r, &mut ws),
            Ok(Outcome::DryRun(_))
        );
        let b = matches!(
            ops::generate_data_key_without_plaintext_in(p, &owner(), &gdk, &mut r, &mut ws),
            Ok(Outcome::DryRun(_))
        );
        let c = matches!(
            ops::encrypt_in(p, &owner(), &enc, &mut r, &mut ws),
            Ok(Outcome::DryRun(_))
        );
        let d = matches!(
            ops::decrypt_in(p, &owner(), &dec, &mut r, &mut ws),
            Ok(Outcome::DryRun(_))
        );
        let e = matches!(
            ops::re_encrypt_in(p, &owner(), &re, &mut r, &mut ws),
            Ok(Outcome::DryRun(_))
        );
        [a, b, c, d, e]
    });
    assert_eq!((n, dry), (0, [true; 5]), "dry runs");
}

#[test]
fn wire_caller_buffer_operations_allocate_nothing() {
    let s = scene(814);
    let p = &s.w.provider;
    let key = s.w.key_text();
    let second = s.second.to_string();
    let blob = s.blob.to_base64();
    let mut ws = vec![0u8; 16 * 1024];
    let mut r = rng(815);

    let params = GenerateDataKeyParams::new()
        .key_id(ALIAS)
        .number_of_bytes("64")
        .encryption_context(CONTEXT);
    let (len, n) = allocations_in(|| {
        let out = wire::generate_data_key_in(p, &owner(), &params, &mut r, &mut ws);
        let out = out.expect("GenerateDataKey");
        assert_eq!(out.plaintext.len(), 88);
        out.ciphertext_blob.len()
    });
    assert_eq!((n, len), (0, 204), "GenerateDataKey");

    let (len, n) = allocations_in(|| {
        let out =
            wire::generate_data_key_without_plaintext_in(p, &owner(), &params, &mut r, &mut ws);
        out.expect("WithoutPlaintext").ciphertext_blob.len()
    });
    assert_eq!((n, len), (0, 204), "GenerateDataKeyWithoutPlaintext");

    let params = EncryptParams::new()
        .key_id(&key)
        .plaintext("some text")
        .encryption_context(CONTEXT);
    let (len, n) = allocations_in(|| {
        let out = wire::encrypt_in(p, &owner(), &params, &mut r, &mut ws);
        out.expect("Encrypt").ciphertext_blob.len()
    });
    assert_eq!((n, len), (0, 100), "Encrypt");

    let params = DecryptParams::new()
        .ciphertext_blob(&blob)
        .encryption_context(SAME_CONTEXT);
    let (len, n) = allocations_in(|| {
        let out = wire::decrypt_in(p, &owner(), &params, &mut r, &mut ws);
        out.expect("Decrypt").plaintext.len()
    });
    assert_eq!((n, len), (0, 44), "Decrypt");

    let params = ReEncryptParams::new()
        .ciphertext_blob(&blob)
        .source_encryption_context(CONTEXT)
        .destination_key_id(&second)
        .destination_encryption_context(CONTEXT);
    let (len, n) = allocations_in(|| {
        let out = wire::re_encrypt_in(p, &owner(), &params, &mut r, &mut ws);
        out.expect("ReEncrypt").ciphertext_blob.len()
    });
    assert_eq!((n, len), (0, 144), "ReEncrypt");
}

#[test]
fn both_layers_allocate_nothing_over_a_fixed_capacity_provider() {
    let provider = fixed_provider(&known_material_256());
    let key = KeyId::parse(FIXED_KEY_ID).expect("key id");
    let context = context();
    let mut ws = vec![0u8; 16 * 1024];
    let mut r = rng(816);

    let request = GenerateDataKeyRequest::new(key).with_context(&context);
    let (blob, n) = allocations_in(|| {
        let out = ops::generate_data_key_in(&provider, &owner(), &request, &mut r, &mut ws);
        let out = out.expect("GenerateDataKey").done().expect("ran");
        let mut copy = [0u8; 108];
        copy.copy_from_slice(out.ciphertext_blob.as_bytes());
        copy
    });
    assert_eq!(n, 0, "typed GenerateDataKey");
    let blob = BlobBuf::from_bytes(&blob).expect("blob");
    let request = DecryptRequest::new(&blob).with_context(&context);
    let (len, n) = allocations_in(|| {
        let out = ops::decrypt_in(&provider, &owner(), &request, &mut r, &mut ws);
        out.expect("Decrypt").done().expect("ran").plaintext.len()
    });
    assert_eq!((n, len), (0, 44), "typed Decrypt");

    let params = GenerateDataKeyParams::new()
        .key_id(FIXED_KEY_ID)
        .encryption_context(CONTEXT);
    let (text, n) = allocations_in(|| {
        let out = wire::generate_data_key_in(&provider, &owner(), &params, &mut r, &mut ws);
        let out = out.expect("GenerateDataKey");
        let mut copy = [0u8; 144];
        copy.copy_from_slice(out.ciphertext_blob.as_bytes());
        copy
    });
    assert_eq!(n, 0, "wire GenerateDataKey");
    let text = std::str::from_utf8(&text).expect("Base64").to_string();
    let params = DecryptParams::new()
        .ciphertext_blob(&text)
        .encryption_context(SAME_CONTEXT);
    let (len, n) = allocations_in(|| {
        let out = wire::decrypt_in(&provider, &owner(), &params, &mut r, &mut ws);
        out.expect("Decrypt").plaintext.len()
    });
    assert_eq!((n, len), (0, 44), "wire Decrypt");
}

// ---------------------------------------------------------------------------------------------
// The caller-buffer forms allocate nothing: error paths

/// A failing call, with the row of spec §8 it must fail with.
type Case<'a> = (
    &'static str,
    Row,
    Box<dyn FnMut() -> Result<(), Error> + 'a>,
);

/// Runs every case, each counted on its own: none allocates, each fails as its row says.
#[track_caller]
fn fail_without_allocating(cases: Vec<Case<'_>>) {
    assert!(!cases.is_empty());
    for (what, row, call) in cases {
        let (result, n) = allocations_in(call);
        assert_eq!(n, 0, "{what} allocated");
        assert_eq!(Row::of(&expect_err(result)), row, "{what}");
    }
}

/// A workspace of its own for each case.
fn ws() -> Vec<u8> {
    vec![0u8; 16 * 1024]
}

#[test]
fn typed_error_paths_allocate_nothing() {
    let s = scene(820);
    let p = &s.w.provider;
    let context = context();
    let other_context = ContextBuf::from_pairs([("tenant", "t-2")]).expect("context");
    let foreign = KeyReference::parse(&s.foreign_arn, kms_core::Parameter::KeyId).expect("ARN");
    let unknown = KeyId::parse(UNKNOWN_KEY_ID).expect("key id");
    let none = KeyReference::Alias("alias/none");
    let gdk = |key: KeyReference<'static>| GenerateDataKeyRequest::new(key);
    let text = Plaintext::new("text").expect("text");

    macro_rules! case {
        ($what:expr, $row:expr, $op:ident, $request:expr) => {
            case!($what, $row, $op, $request, rng(1), ws())
        };
        ($what:expr, $row:expr, $op:ident, $request:expr, $rng:expr, $ws:expr) => {{
            let request = $request;
            let (mut r, mut ws) = ($rng, $ws);
            let call: Box<dyn FnMut() -> Result<(), Error> + '_> =
                Box::new(move || ops::$op(p, &owner(), &request, &mut r, &mut ws).map(drop));
            ($what, $row, call)
        }};
    }

    let sized = gdk(s.w.key.into());
    let decrypt_sized = DecryptRequest::new(&s.blob).with_context(&context);
    let cases: Vec<Case<'_>> = vec![
        case!(
            "GDK unknown key",
            Row::key_not_found(),
            generate_data_key_in,
            gdk(unknown.into())
        ),
        case!(
            "GDK unknown alias",
            Row::alias_not_found(),
            generate_data_key_in,
            gdk(none)
        ),
        case!(
            "GDK another account's key",
            Row::no_permission(),
            generate_data_key_in,
            GenerateDataKeyRequest::new(foreign)
        ),
        case!(
            "GDK disabled key",
            Row::rejected("Disabled"),
            generate_data_key_in,
            gdk(s.disabled.into())
        ),
        case!(
            "GDK SIGN/VERIFY key",
            Row::unsupported(),
            generate_data_key_in,
            gdk(s.sign_verify.into())
        ),
        case!(
            "GDK workspace one byte short",
            Row::internal(),
            generate_data_key_in,
            sized,
            rng(1),
            vec![0u8; sized.workspace_len() - 1]
        ),
        case!(
            "GDK failing RNG",
            Row::internal(),
            generate_data_key_in,
            gdk(s.w.key.into()),
            FailingRng::default(),
            ws()
        ),
        case!(
            "GDKWP disabled key",
            Row::rejected("Disabled"),
            generate_data_key_without_plaintext_in,
            gdk(s.disabled.into())
        ),
        case!(
            "GDKWP failing RNG",
            Row::internal(),
            generate_data_key_without_plaintext_in,
            gdk(s.w.key.into()),
            FailingRng::default(),
            ws()
        ),
        case!(
            "Encrypt unknown key",
            Row::key_not_found(),
            encrypt_in,
            EncryptRequest::new(unknown, text)
        ),
        case!(
            "Encrypt another account's key",
            Row::no_permission(),
            encrypt_in,
            EncryptRequest::new(foreign, text)
        ),
        case!(
            "Encrypt failing RNG",
            Row::internal(),
            encrypt_in,
            EncryptRequest::new(s.w.key, text),
            FailingRng::default(),
            ws()
        ),
        case!(
            "Decrypt wrong context",
            Row::invalid("CiphertextBlob"),
            decrypt_in,
            DecryptRequest::new(&s.blob).with_context(&other_context)
        ),
        case!(
            "Decrypt unknown version",
            Row::key_not_found(),
            decrypt_in,
            DecryptRequest::new(&s.unknown_version_blob).with_context(&context)
        ),
        case!(
            "Decrypt disabled key",
            Row::rejected("Disabled"),
            decrypt_in,
            DecryptRequest::new(&s.disabled_blob)
        ),
        case!(
            "Decrypt workspace one byte short",
            Row::internal(),
            decrypt_in,
            decrypt_sized,
            rng(1),
            vec![0u8; decrypt_sized.workspace_len() - 1]
        ),
        case!(
            "ReEncrypt unknown destination",
            Row::key_not_found(),
            re_encrypt_in,
            ReEncryptRequest::new(&s.blob, unknown).with_source_context(&context)
        ),
        case!(
            "ReEncrypt wrong source context",
            Row::invalid("CiphertextBlob"),
            re_encrypt_in,
            ReEncryptRequest::new(&s.blob, s.second)
        ),
        case!(
            "ReEncrypt failing RNG",
            Row::internal(),
            re_encrypt_in,
            ReEncryptRequest::new(&s.blob, s.second).with_source_context(&context),
            FailingRng::default(),
            ws()
        ),
    ];
    fail_without_allocating(cases);

    // Decrypt as another account: no permission on the blob's key.
    let request = DecryptRequest::new(&s.blob).with_context(&context);
    let mut ws = ws();
    let (result, n) =
        allocations_in(|| ops::decrypt_in(p, &other(), &request, &mut rng(1), &mut ws).map(drop));
    assert_eq!(n, 0);
    assert_eq!(Row::of(&expect_err(result)), Row::no_permission());
}

#[test]
fn wire_error_paths_allocate_nothing() {
    let s = scene(821);
    let p = &s.w.provider;
    let key = s.w.key_text();
    let disabled = s.disabled.to_string();
    let blob = s.blob.to_base64();
    let unknown_version = s.unknown_version_blob.to_base64();
    let long_text = "x".repeat(6145);
    let huge = "A".repeat(1 << 20);

    macro_rules! case {
        ($what:expr, $row:expr, $op:ident, $params:expr) => {
            case!($what, $row, $op, $params, rng(1), ws())
        };
        ($what:expr, $row:expr, $op:ident, $params:expr, $rng:expr, $ws:expr) => {{
            let params = $params;
            let (mut r, mut ws) = ($rng, $ws);
            let call: Box<dyn FnMut() -> Result<(), Error> + '_> =
                Box::new(move || wire::$op(p, &owner(), &params, &mut r, &mut ws).map(drop));
            ($what, $row, call)
        }};
    }

    let gdk = || GenerateDataKeyParams::new().key_id(&key);
    let enc = || EncryptParams::new().key_id(&key).plaintext("text");
    let dec = || {
        DecryptParams::new()
            .ciphertext_blob(&blob)
            .encryption_context(CONTEXT)
    };
    let re = || {
        ReEncryptParams::new()
            .ciphertext_blob(&blob)
            .source_encryption_context(CONTEXT)
            .destination_key_id(&key)
    };
    let cases: Vec<Case<'_>> = vec![
        case!(
            "GDK no KeyId",
            Row::missing("KeyId"),
            generate_data_key_in,
            GenerateDataKeyParams::new()
        ),
        case!(
            "GDK empty KeyId",
            Row::invalid("KeyId"),
            generate_data_key_in,
            GenerateDataKeyParams::new().key_id("")
        ),
        case!(
            "GDK NumberOfBytes 0",
            Row::invalid("NumberOfBytes"),
            generate_data_key_in,
            gdk().number_of_bytes("0")
        ),
        case!(
            "GDK KeySpec aes_256",
            Row::invalid("KeySpec"),
            generate_data_key_in,
            gdk().key_spec("aes_256")
        ),
        case!(
            "GDK invalid context",
            Row::invalid("EncryptionContext"),
            generate_data_key_in,
            gdk().encryption_context(r#"{"a":1}"#)
        ),
        case!(
            "GDK DryRun yes",
            Row::invalid("DryRun"),
            generate_data_key_in,
            gdk().dry_run("yes")
        ),
        case!(
            "GDK dry run that passes",
            Row::dry_run_passed(),
            generate_data_key_in,
            gdk().dry_run("true")
        ),
        case!(
            "GDK dry run, invalid KeyId",
            Row::validation_invalid("KeyId"),
            generate_data_key_in,
            GenerateDataKeyParams::new().key_id("").dry_run("true")
        ),
        case!(
            "GDK dry run, another account's key",
            Row::access_denied(),
            generate_data_key_in,
            GenerateDataKeyParams::new()
                .key_id(&s.foreign_arn)
                .dry_run("true")
        ),
        case!(
            "GDK unknown alias",
            Row::alias_not_found(),
            generate_data_key_in,
            GenerateDataKeyParams::new().key_id("alias/none")
        ),
        case!(
            "GDK disabled key",
            Row::rejected("Disabled"),
            generate_data_key_in,
            GenerateDataKeyParams::new().key_id(&disabled)
        ),
        case!(
            "GDK workspace too small",
            Row::internal(),
            generate_data_key_in,
            gdk(),
            rng(1),
            vec![0u8; 16]
        ),
        case!(
            "GDK failing RNG",
            Row::internal(),
            generate_data_key_in,
            gdk(),
            FailingRng::default(),
            ws()
        ),
        case!(
            "GDKWP unknown key",
            Row::key_not_found(),
            generate_data_key_without_plaintext_in,
            GenerateDataKeyParams::new().key_id(UNKNOWN_KEY_ID)
        ),
        case!(
            "GDKWP dry run that passes",
            Row::dry_run_passed(),
            generate_data_key_without_plaintext_in,
            gdk().dry_run("true")
        ),
        case!(
            "Encrypt no Plaintext",
            Row::missing("Plaintext"),
            encrypt_in,
            EncryptParams::new().key_id(&key)
        ),
        case!(
            "Encrypt 6145 bytes",
            Row::invalid("Plaintext"),
            encrypt_in,
            EncryptParams::new().key_id(&key).plaintext(&long_text)
        ),
        case!(
            "Encrypt another account's key",
            Row::no_permission(),
            encrypt_in,
            EncryptParams::new()
                .key_id(&s.foreign_arn)
                .plaintext("text")
        ),
        case!(
            "Encrypt dry run that passes",
            Row::dry_run_passed(),
            encrypt_in,
            enc().dry_run("true")
        ),
        case!(
            "Encrypt workspace too small",
            Row::internal(),
            encrypt_in,
            enc(),
            rng(1),
            vec![0u8; enc().workspace_len() - 1]
        ),
        case!(
            "Decrypt no blob",
            Row::missing("CiphertextBlob"),
            decrypt_in,
            DecryptParams::new()
        ),
        case!(
            "Decrypt not Base64",
            Row::invalid("CiphertextBlob"),
            decrypt_in,
            DecryptParams::new().ciphertext_blob("!!!!")
        ),
        case!(
            "Decrypt 1 MiB of text",
            Row::invalid("CiphertextBlob"),
            decrypt_in,
            DecryptParams::new().ciphertext_blob(&huge)
        ),
        case!(
            "Decrypt wrong context",
            Row::invalid("CiphertextBlob"),
            decrypt_in,
            DecryptParams::new().ciphertext_blob(&blob)
        ),
        case!(
            "Decrypt invalid context",
            Row::invalid("EncryptionContext"),
            decrypt_in,
            DecryptParams::new()
                .ciphertext_blob(&blob)
                .encryption_context("{")
        ),
        case!(
            "Decrypt unknown version",
            Row::key_not_found(),
            decrypt_in,
            DecryptParams::new()
                .ciphertext_blob(&unknown_version)
                .encryption_context(CONTEXT)
        ),
        case!(
            "Decrypt dry run that passes",
            Row::dry_run_passed(),
            decrypt_in,
            dec().dry_run("true")
        ),
        case!(
            "Decrypt failing RNG",
            Row::internal(),
            decrypt_in,
            dec(),
            FailingRng::default(),
            ws()
        ),
        case!(
            "ReEncrypt no destination",
            Row::missing("DestinationKeyId"),
            re_encrypt_in,
            ReEncryptParams::new().ciphertext_blob(&blob)
        ),
        case!(
            "ReEncrypt invalid source context",
            Row::invalid("SourceEncryptionContext"),
            re_encrypt_in,
            re().source_encryption_context("[]")
        ),
        case!(
            "ReEncrypt disabled destination",
            Row::rejected("Disabled"),
            re_encrypt_in,
            re().destination_key_id(&disabled)
        ),
        case!(
            "ReEncrypt dry run that passes",
            Row::dry_run_passed(),
            re_encrypt_in,
            re().dry_run("true")
        ),
        case!(
            "ReEncrypt failing RNG",
            Row::internal(),
            re_encrypt_in,
            re(),
            FailingRng::default(),
            ws()
        ),
    ];
    fail_without_allocating(cases);
}

// ---------------------------------------------------------------------------------------------
// The owned forms allocate a stated few times: their outputs only (the blob, the plaintext,
// the data key); the workspace is on the stack up to 512 bytes (ReEncrypt's, with a context,
// is larger and allocated), so a failure before any output allocates nothing.

/// One owned call, the number of allocations it makes (counted now and pinned), and how it
/// ends.
type Pinned<'a> = (
    &'static str,
    usize,
    Result<(), Row>,
    Box<dyn FnMut() -> Result<(), Error> + 'a>,
);

/// A case of [`assert_pinned`], with an RNG of its own.
fn pinned<'a>(
    what: &'static str,
    allocations: usize,
    ends: Result<(), Row>,
    mut call: impl FnMut(&mut rand_chacha::ChaCha20Rng) -> Result<(), Error> + 'a,
) -> Pinned<'a> {
    let mut r = rng(what.len() as u64);
    (what, allocations, ends, Box::new(move || call(&mut r)))
}

#[track_caller]
fn assert_pinned(cases: Vec<Pinned<'_>>) {
    let (mut counted, mut expected) = (Vec::new(), Vec::new());
    for (what, allocations, ends, call) in cases {
        let (result, n) = allocations_in(call);
        counted.push((what, n, result.map_err(|e| Row::of(&e))));
        expected.push((what, allocations, ends));
    }
    assert_eq!(counted, expected);
}

/// `Ok(())` for an operation that ran, `Err(DryRunOperation)` for a dry run.
fn ran<T>(outcome: Outcome<T>) -> Result<(), Error> {
    outcome.into_result().map(drop)
}

#[test]
fn owned_forms_allocate_a_stated_few_times() {
    let s = scene(831);
    let p = &s.w.provider;
    let c = &owner();
    let key = s.w.key_text();
    let second = s.second.to_string();
    let blob = s.blob.to_base64();
    let context = context();
    let unknown = KeyId::parse(UNKNOWN_KEY_ID).expect("key id");
    let text = Plaintext::new("some text").expect("text");

    let gdk = GenerateDataKeyRequest::new(s.w.key).with_context(&context);
    let enc = EncryptRequest::new(s.w.key, text).with_context(&context);
    let dec = DecryptRequest::new(&s.blob).with_context(&context);
    let re = ReEncryptRequest::new(&s.blob, s.second).with_source_context(&context);
    let gdk_params = GenerateDataKeyParams::new()
        .key_id(&key)
        .encryption_context(CONTEXT);
    let enc_params = EncryptParams::new()
        .key_id(&key)
        .plaintext("some text")
        .encryption_context(CONTEXT);
    let dec_params = DecryptParams::new()
        .ciphertext_blob(&blob)
        .encryption_context(CONTEXT);
    let re_params = ReEncryptParams::new()
        .ciphertext_blob(&blob)
        .source_encryption_context(CONTEXT)
        .destination_key_id(&second);

    let cases: Vec<Pinned<'_>> = vec![
        // Success: the workspace (zeroized and freed before returning) and the owned output:
        // the blob (bytes or Base64 text) and, for GenerateDataKey and Decrypt, a copy of the
        // secret (the data key, or the Plaintext).
        pinned("ops::generate_data_key", 2, Ok(()), |r| {
            ops::generate_data_key(p, c, &gdk, r).and_then(ran)
        }),
        pinned("ops::generate_data_key_without_plaintext", 1, Ok(()), |r| {
            ops::generate_data_key_without_plaintext(p, c, &gdk, r).and_then(ran)
        }),
        pinned("ops::encrypt", 1, Ok(()), |r| {
            ops::encrypt(p, c, &enc, r).and_then(ran)
        }),
        pinned("ops::decrypt", 1, Ok(()), |r| {
            ops::decrypt(p, c, &dec, r).and_then(ran)
        }),
        pinned("ops::re_encrypt", 1, Ok(()), |r| {
            ops::re_encrypt(p, c, &re, r).and_then(ran)
        }),
        pinned("wire::generate_data_key", 2, Ok(()), |r| {
            wire::generate_data_key(p, c, &gdk_params, r).map(drop)
        }),
        pinned(
            "wire::generate_data_key_without_plaintext",
            1,
            Ok(()),
            |r| wire::generate_data_key_without_plaintext(p, c, &gdk_params, r).map(drop),
        ),
        pinned("wire::encrypt", 1, Ok(()), |r| {
            wire::encrypt(p, c, &enc_params, r).map(drop)
        }),
        pinned("wire::decrypt", 1, Ok(()), |r| {
            wire::decrypt(p, c, &dec_params, r).map(drop)
        }),
        pinned("wire::re_encrypt", 2, Ok(()), |r| {
            wire::re_encrypt(p, c, &re_params, r).map(drop)
        }),
        // A dry run that passes: the workspace only.
        pinned(
            "ops::generate_data_key, dry run",
            0,
            Err(Row::dry_run_passed()),
            |r| ops::generate_data_key(p, c, &gdk.with_dry_run(true), r).and_then(ran),
        ),
        pinned(
            "wire::generate_data_key, dry run",
            0,
            Err(Row::dry_run_passed()),
            |r| wire::generate_data_key(p, c, &gdk_params.dry_run("true"), r).map(drop),
        ),
        pinned(
            "wire::decrypt, dry run",
            0,
            Err(Row::dry_run_passed()),
            |r| wire::decrypt(p, c, &dec_params.dry_run("true"), r).map(drop),
        ),
        // Errors: the workspace, allocated before the operation runs, except where the wire
        // parses a GenerateDataKey's KeyId and length before sizing it.
        pinned(
            "ops::generate_data_key, unknown key",
            0,
            Err(Row::key_not_found()),
            |r| {
                ops::generate_data_key(p, c, &GenerateDataKeyRequest::new(unknown), r).and_then(ran)
            },
        ),
        pinned(
            "ops::decrypt, wrong context",
            0,
            Err(Row::invalid("CiphertextBlob")),
            |r| ops::decrypt(p, c, &DecryptRequest::new(&s.blob), r).and_then(ran),
        ),
        pinned(
            "wire::generate_data_key, no KeyId",
            0,
            Err(Row::missing("KeyId")),
            |r| wire::generate_data_key(p, c, &GenerateDataKeyParams::new(), r).map(drop),
        ),
        pinned(
            "wire::generate_data_key, unknown key",
            0,
            Err(Row::key_not_found()),
            |r| {
                let params = GenerateDataKeyParams::new().key_id(UNKNOWN_KEY_ID);
                wire::generate_data_key(p, c, &params, r).map(drop)
            },
        ),
        pinned(
            "wire::generate_data_key, failing RNG",
            0,
            Err(Row::internal()),
            |_| wire::generate_data_key(p, c, &gdk_params, &mut FailingRng::default()).map(drop),
        ),
        pinned(
            "wire::encrypt, no Plaintext",
            0,
            Err(Row::missing("Plaintext")),
            |r| wire::encrypt(p, c, &EncryptParams::new().key_id(&key), r).map(drop),
        ),
        pinned(
            "wire::decrypt, not Base64",
            0,
            Err(Row::invalid("CiphertextBlob")),
            |r| wire::decrypt(p, c, &DecryptParams::new().ciphertext_blob("!!!!"), r).map(drop),
        ),
        pinned(
            "wire::re_encrypt, unknown destination",
            1,
            Err(Row::key_not_found()),
            |r| {
                let params = re_params.destination_key_id(UNKNOWN_KEY_ID);
                wire::re_encrypt(p, c, &params, r).map(drop)
            },
        ),
    ];
    assert_pinned(cases);
}
