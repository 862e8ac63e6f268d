//! The no-alloc path: `generate_data_key_in` and `decrypt_in` with a caller's workspace sized
//! by `workspace_len`; too small a workspace; agreement with the owned path; zeroization of the
//! workspace when the borrowed secrets drop; and no heap allocation at all, counted by a global
//! allocator that tallies this thread's allocations.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::*;
use kms_core::rand_core::TryRng;
use kms_core::{
    DecryptRequest, EncryptRequest, Error, GenerateDataKeyRequest, InMemoryProvider, KeyOptions,
    ReEncryptRequest, SealLimitAction, decrypt, decrypt_in, encrypt_in, generate_data_key,
    generate_data_key_in, generate_data_key_without_plaintext_in, re_encrypt_in,
};

struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_one() {
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

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

const CONTEXT: &str = r#"{ "tenant" : "t-1", "purpose":"no alloc" }"#;

// ----- Agreement with the owned path ----------------------------------------------------------

#[test]
fn generate_data_key_in_matches_the_owned_path() {
    let mut w = World::new(800);
    for request in [
        GenerateDataKeyRequest::new(ALIAS),
        GenerateDataKeyRequest {
            encryption_context: Some(CONTEXT),
            number_of_bytes: Some("100"),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
        GenerateDataKeyRequest {
            key_spec: Some("AES_128"),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
    ] {
        let owned = generate_data_key(&mut w.provider, &caller(), &request, &mut rng(9)).unwrap();
        let mut ws = vec![0u8; request.workspace_len()];
        let out = generate_data_key_in(&mut w.provider, &caller(), &request, &mut rng(9), &mut ws)
            .unwrap();
        assert_eq!(out.key_id, owned.key_id);
        assert_eq!(out.key_version_id, owned.key_version_id);
        assert_eq!(out.ciphertext_blob, owned.ciphertext_blob);
        assert_eq!(out.plaintext.expose(), owned.plaintext.expose());
        assert_eq!(out.data_key.expose(), owned.data_key().expose());
        assert_eq!(out.request_id, owned.request_id);
        assert_eq!(b64(out.data_key.expose()), out.plaintext.expose());
        assert_eq!(out.plaintext.len(), out.plaintext.expose().len());
        assert!(!out.data_key.is_empty());
    }
}

#[test]
fn decrypt_in_matches_the_owned_path() {
    let mut w = World::new(801);
    let sealed = w.blob(Some(CONTEXT));
    let request = DecryptRequest {
        encryption_context: Some(r#"{"purpose":"no alloc","tenant":"t-1"}"#),
        ..DecryptRequest::new(&sealed.ciphertext_blob)
    };
    let owned = decrypt(&w.provider, &caller(), &request, &mut rng(3)).unwrap();
    let mut ws = vec![0u8; request.workspace_len()];
    let out = decrypt_in(&w.provider, &caller(), &request, &mut rng(3), &mut ws).unwrap();
    assert_eq!(out.key_id, owned.key_id);
    assert_eq!(out.key_version_id, owned.key_version_id);
    assert_eq!(out.plaintext.expose(), owned.plaintext.expose());
    assert_eq!(out.plaintext.expose(), sealed.plaintext.expose());
    assert_eq!(out.request_id, owned.request_id);
}

#[test]
fn a_larger_workspace_works_too() {
    let mut w = World::new(802);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let mut ws = vec![0u8; request.workspace_len() + 1000];
    let out =
        generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    let blob = out.ciphertext_blob.to_string();
    let plaintext = out.plaintext.expose().to_string();
    drop(out);
    let request = DecryptRequest::new(&blob);
    let mut ws = vec![0u8; request.workspace_len() + 1000];
    let out = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    assert_eq!(out.plaintext.expose(), plaintext);
}

// ----- Too small a workspace ------------------------------------------------------------------

#[test]
fn too_small_a_workspace_for_generate_data_key() {
    let mut w = World::new(803);
    for request in [
        GenerateDataKeyRequest::new(ALIAS),
        GenerateDataKeyRequest {
            encryption_context: Some(CONTEXT),
            number_of_bytes: Some("1024"),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
    ] {
        let version = w.primary(&w.key);
        let seals = w.provider.seal_count(&version).unwrap();
        let mut tiny = [0u8; 16];
        let err = generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut tiny)
            .unwrap_err();
        assert_internal(&err);
        let Error::WorkspaceTooSmall { needed } = err else {
            panic!("{err:?}")
        };
        // The operation asks for exactly what `workspace_len` promised, context or not.
        assert_eq!(needed, request.workspace_len());
        let mut short = vec![0u8; needed - 1];
        let err =
            generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut short)
                .unwrap_err();
        assert_eq!(err, Error::WorkspaceTooSmall { needed });
        assert_eq!(w.provider.seal_count(&version).unwrap(), seals);
        let mut exact = vec![0u8; needed];
        generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut exact)
            .expect("the workspace it asked for is enough");
        let mut empty: [u8; 0] = [];
        let err =
            generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut empty)
                .unwrap_err();
        assert_eq!(err, Error::WorkspaceTooSmall { needed });
    }
}

#[test]
fn too_small_a_workspace_for_decrypt() {
    let mut w = World::new(804);
    let sealed = w.blob(Some(CONTEXT));
    let request = DecryptRequest {
        encryption_context: Some(CONTEXT),
        ..DecryptRequest::new(&sealed.ciphertext_blob)
    };
    let mut tiny = [0u8; 8];
    let err = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut tiny).unwrap_err();
    assert_internal(&err);
    let Error::WorkspaceTooSmall { needed } = err else {
        panic!("{err:?}")
    };
    assert!(needed > 8 && needed <= request.workspace_len());
    let mut short = vec![0u8; needed - 1];
    let err = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut short).unwrap_err();
    assert_eq!(err, Error::WorkspaceTooSmall { needed });
    let mut exact = vec![0u8; needed];
    let out = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut exact).unwrap();
    assert_eq!(out.plaintext.expose(), sealed.plaintext.expose());
}

#[test]
fn decrypt_workspace_is_bounded_whatever_the_blob_text() {
    let huge = "A".repeat(1 << 20);
    let bounded = DecryptRequest::new(&huge).workspace_len();
    assert!(bounded < 7_000, "{bounded}");
    let w = World::new(805);
    let mut ws = vec![0u8; bounded];
    let err = decrypt_in(
        &w.provider,
        &caller(),
        &DecryptRequest::new(&huge),
        &mut rng(1),
        &mut ws,
    )
    .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
}

// ----- Zeroization ----------------------------------------------------------------------------

#[test]
fn generate_data_key_output_zeroizes_its_secrets_on_drop() {
    let mut w = World::new(806);
    let request = GenerateDataKeyRequest {
        encryption_context: Some(CONTEXT),
        ..GenerateDataKeyRequest::new(ALIAS)
    };
    let mut ws = vec![0u8; request.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out =
        generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    let text = out.plaintext.expose().to_string();
    let key = out.data_key.expose().to_vec();
    let blob = out.ciphertext_blob.to_string();
    let text_at = out.plaintext.expose().as_ptr() as usize - base;
    let key_at = out.data_key.expose().as_ptr() as usize - base;
    assert_eq!(text.len(), 44);
    assert_eq!(key.len(), 32);
    drop(out);
    assert!(
        ws[text_at..text_at + 44].iter().all(|&b| b == 0),
        "Plaintext left in the workspace"
    );
    assert!(
        ws[key_at..key_at + 32].iter().all(|&b| b == 0),
        "data key left in the workspace"
    );
    // No other copy survives anywhere in the workspace; the (public) blob text does.
    assert!(!contains(&ws, text.as_bytes()));
    assert!(!contains(&ws, &key));
    assert!(contains(&ws, blob.as_bytes()));
}

#[test]
fn decrypt_output_zeroizes_its_plaintext_on_drop() {
    let mut w = World::new(807);
    let sealed = w.blob(None);
    let request = DecryptRequest::new(&sealed.ciphertext_blob);
    let mut ws = vec![0u8; request.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    let at = out.plaintext.expose().as_ptr() as usize - base;
    let len = out.plaintext.len();
    assert_eq!(out.plaintext.expose(), sealed.plaintext.expose());
    drop(out);
    assert!(ws[at..at + len].iter().all(|&b| b == 0));
    assert!(!contains(&ws, sealed.plaintext.expose().as_bytes()));
}

#[test]
fn failed_decrypts_leave_no_plaintext_in_the_workspace() {
    let mut w = World::new(808);
    let sealed = w.blob(Some(CONTEXT));
    let secret = sealed.plaintext.expose().as_bytes().to_vec();
    // A wrong context: the tag fails, nothing is decrypted.
    let request = DecryptRequest::new(&sealed.ciphertext_blob);
    let mut ws = vec![0u8; request.workspace_len()];
    let err = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
    assert!(!contains(&ws, &secret));
    // The RNG fails after opening, when the request ID is drawn.
    let request = DecryptRequest {
        encryption_context: Some(CONTEXT),
        ..DecryptRequest::new(&sealed.ciphertext_blob)
    };
    let mut ws = vec![0u8; request.workspace_len()];
    let err = decrypt_in(
        &w.provider,
        &caller(),
        &request,
        &mut FailingRng::default(),
        &mut ws,
    )
    .unwrap_err();
    assert_internal(&err);
    assert!(!contains(&ws, &secret));
}

/// The first `n` bytes a seeded RNG hands out: what GenerateDataKey draws as the data key.
fn first_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rng(seed).try_fill_bytes(&mut out).unwrap();
    out
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_request_id_draw_fails() {
    // 32 bytes of key and 12 of IV are drawn; the request ID draw fails after the seal.
    let mut w = World::new(809);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let mut ws = vec![0u8; request.workspace_len()];
    let mut limited = LimitedRng::new(42, 32 + 12);
    let err = generate_data_key_in(&mut w.provider, &caller(), &request, &mut limited, &mut ws)
        .unwrap_err();
    assert_internal(&err);
    let key = first_bytes(42, 32);
    assert!(!contains(&ws, &key), "raw data key left in the workspace");
    assert!(
        !contains(&ws, b64(&key).as_bytes()),
        "Plaintext left in the workspace"
    );
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_iv_draw_fails() {
    // The key is drawn, the IV draw fails: the data key must not survive in the workspace.
    let mut w = World::new(810);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let mut ws = vec![0u8; request.workspace_len()];
    let mut limited = LimitedRng::new(43, 32);
    let err = generate_data_key_in(&mut w.provider, &caller(), &request, &mut limited, &mut ws)
        .unwrap_err();
    assert_internal(&err);
    let key = first_bytes(43, 32);
    assert!(!contains(&ws, &key), "raw data key left in the workspace");
    assert!(
        !contains(&ws, b64(&key).as_bytes()),
        "the Base64 data key (Plaintext) is left in the caller's workspace after an error"
    );
}

#[test]
fn generate_data_key_leaves_no_data_key_when_the_seal_is_refused() {
    let mut r = rng(811);
    let mut provider = InMemoryProvider::new().with_seal_limit(1, SealLimitAction::Refuse);
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let request = GenerateDataKeyRequest::new(key.as_str());
    generate_data_key(&mut provider, &caller(), &request, &mut r).unwrap();
    let mut ws = vec![0u8; request.workspace_len()];
    let err = generate_data_key_in(&mut provider, &caller(), &request, &mut rng(44), &mut ws)
        .unwrap_err();
    assert_internal(&err);
    let key = first_bytes(44, 32);
    assert!(!contains(&ws, &key), "raw data key left in the workspace");
    assert!(
        !contains(&ws, b64(&key).as_bytes()),
        "the Base64 data key (Plaintext) is left in the caller's workspace after an error"
    );
}

// ----- No allocation --------------------------------------------------------------------------

#[test]
fn the_in_operations_do_not_allocate() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let mut r = rng(812);
    let request = GenerateDataKeyRequest {
        encryption_context: Some(CONTEXT),
        number_of_bytes: Some("64"),
        ..GenerateDataKeyRequest::new(FIXED_KEY_ID)
    };
    let mut ws = vec![0u8; request.workspace_len()];
    let (blob, allocations) = allocations_in(|| {
        let out = generate_data_key_in(&mut provider, &caller(), &request, &mut r, &mut ws)
            .expect("GenerateDataKey");
        assert_eq!(out.data_key.len(), 64);
        let mut copy = [0u8; 400];
        copy[..out.ciphertext_blob.len()].copy_from_slice(out.ciphertext_blob.as_bytes());
        (copy, out.ciphertext_blob.len())
    });
    assert_eq!(allocations, 0, "generate_data_key_in allocated");
    let blob = std::str::from_utf8(&blob.0[..blob.1]).unwrap().to_string();

    let request = DecryptRequest {
        encryption_context: Some(CONTEXT),
        ..DecryptRequest::new(&blob)
    };
    let mut ws = vec![0u8; request.workspace_len()];
    let (len, allocations) = allocations_in(|| {
        let out = decrypt_in(&provider, &caller(), &request, &mut r, &mut ws).expect("Decrypt");
        out.plaintext.len()
    });
    assert_eq!(allocations, 0, "decrypt_in allocated");
    assert_eq!(len, 88);

    // Error paths do not allocate either.
    let (_, allocations) = allocations_in(|| {
        let bad = DecryptRequest {
            encryption_context: Some(r#"{"tenant":"t-2"}"#),
            ..DecryptRequest::new(&blob)
        };
        let mut small = [0u8; 400];
        let a = decrypt_in(&provider, &caller(), &bad, &mut r, &mut small).unwrap_err();
        let b = decrypt_in(
            &provider,
            &caller(),
            &DecryptRequest::new("!!!!"),
            &mut r,
            &mut small,
        )
        .unwrap_err();
        let c = generate_data_key_in(
            &mut provider,
            &caller(),
            &GenerateDataKeyRequest::new("alias/none"),
            &mut r,
            &mut small,
        )
        .unwrap_err();
        (a, b, c)
    });
    assert_eq!(allocations, 0, "an error path allocated");

    // The counter does count: the owned path allocates.
    let (_, allocations) = allocations_in(|| {
        generate_data_key(
            &mut provider,
            &caller(),
            &GenerateDataKeyRequest::new(FIXED_KEY_ID),
            &mut r,
        )
        .unwrap()
    });
    assert!(allocations > 0);
}

#[test]
fn the_in_memory_provider_lookups_do_not_allocate() {
    let mut w = World::new(813);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let mut ws = vec![0u8; request.workspace_len()];
    let mut r = rng(814);
    let (len, allocations) = allocations_in(|| {
        generate_data_key_in(&mut w.provider, &caller(), &request, &mut r, &mut ws)
            .unwrap()
            .ciphertext_blob
            .len()
    });
    assert_eq!(len, 144);
    assert_eq!(allocations, 0);
}

#[test]
fn the_other_caller_buffer_operations_allocate_nothing() {
    let mut w = World::new(830);
    let other = w
        .provider
        .create_key(&mut w.rng, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let sealed = w.blob(Some(CONTEXT));
    let mut ws = vec![0u8; 16 * 1024];

    let request = GenerateDataKeyRequest {
        encryption_context: Some(CONTEXT),
        ..GenerateDataKeyRequest::new(ALIAS)
    };
    let (len, n) = allocations_in(|| {
        generate_data_key_without_plaintext_in(
            &mut w.provider,
            &caller(),
            &request,
            &mut w.rng,
            &mut ws,
        )
        .unwrap()
        .ciphertext_blob
        .len()
    });
    assert_eq!((n, len), (0, 144), "GenerateDataKeyWithoutPlaintext");

    let request = EncryptRequest::new(ALIAS, "some text");
    let (len, n) = allocations_in(|| {
        encrypt_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut ws)
            .unwrap()
            .ciphertext_blob
            .len()
    });
    assert_eq!((n, len), (0, 100), "Encrypt");

    let request = ReEncryptRequest {
        source_encryption_context: Some(CONTEXT),
        ..ReEncryptRequest::new(&sealed.ciphertext_blob, other.as_str())
    };
    let (len, n) = allocations_in(|| {
        re_encrypt_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut ws)
            .unwrap()
            .ciphertext_blob
            .len()
    });
    assert_eq!((n, len), (0, 144), "ReEncrypt");
}

#[test]
fn the_owned_path_allocates_a_stated_few_times() {
    let mut w = World::new(831);
    let request = GenerateDataKeyRequest::new(ALIAS);
    // The workspace, the blob text and the plaintext text.
    let (made, n) = allocations_in(|| {
        generate_data_key(&mut w.provider, &caller(), &request, &mut w.rng).unwrap()
    });
    assert_eq!(n, 3, "GenerateDataKey (owned)");
    // The workspace and the plaintext.
    let request = DecryptRequest::new(&made.ciphertext_blob);
    let (_, n) = allocations_in(|| decrypt(&w.provider, &caller(), &request, &mut w.rng).unwrap());
    assert_eq!(n, 2, "Decrypt (owned)");
}
