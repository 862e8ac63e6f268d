//! Secrets (spec §10): plaintext data keys, decrypted plaintexts, the text to encrypt and
//! master key material never show in `Debug` output (responses of both layers, borrowed and
//! owned; requests and parameters; providers; staged management changes); borrowed secrets
//! wipe the caller's workspace when dropped, and the operations that never hand a secret out
//! leave none behind; secret holders compare by content, through `subtle`'s constant-time
//! equality.

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::management::{self, CreateKey};
use kms_core::ops::{
    self, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Plaintext, ReEncryptRequest,
};
use kms_core::provider::VersionCipher;
use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::wire::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{
    KeyId, KeyOptions, KeyOrigin, KeyReference, MasterKeyMaterial, SecretBytes, SecretBytesBuf,
    SecretText, SecretTextBuf,
};
use rand_chacha::ChaCha20Rng;
use subtle::ConstantTimeEq;

use crate::strategies::{contains, first_bytes, fixed_provider};
use crate::testkit::*;

/// Every rendering of `secret` that a careless `Debug` could print.
fn renderings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        hex.clone(),
        hex.to_uppercase(),
        format!("{:?}", &secret[..secret.len().min(4)]),
        b64(secret),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push(text.to_string());
        out.push(format!("{text:?}"));
        // A prefix long enough to be a leak, short enough not to match by chance.
        if text.len() >= 12 {
            out.push(text[..12].to_string());
        }
    }
    out
}

#[track_caller]
fn assert_hidden(debug: &str, secret: &[u8]) {
    assert!(!secret.is_empty());
    for r in renderings(secret) {
        assert!(!debug.contains(&r), "{debug:?} shows {r:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Debug redaction

#[test]
fn wire_responses_do_not_show_the_plaintext() {
    let mut w = World::new(1000);
    let key = w.key_text();
    let params = GenerateDataKeyParams::new()
        .key_id(&key)
        .encryption_context(r#"{"a":"1"}"#);
    let response = w.gdk(&params).expect("GenerateDataKey");
    let text = response.plaintext.expose().to_string();
    let data_key = unb64(&text);
    let debug = format!("{response:?}");
    // The response does show what is not secret.
    assert!(debug.contains(response.key_id.as_str()));
    assert!(debug.contains(&response.ciphertext_blob));
    for debug in [
        debug,
        format!("{response:#?}"),
        format!("{:?}", response.plaintext),
    ] {
        assert_hidden(&debug, text.as_bytes());
        assert_hidden(&debug, &data_key);
    }

    let opened = w
        .open(&response.ciphertext_blob, Some(r#"{"a":"1"}"#))
        .expect("Decrypt");
    assert_eq!(opened.plaintext.expose(), text);
    let debug = format!("{opened:?}");
    assert!(debug.contains(opened.key_version_id.as_str()));
    assert_hidden(&debug, text.as_bytes());
    assert_hidden(&format!("{opened:#?}"), text.as_bytes());

    // Encrypt's text, opened.
    let secret = "the caller's own secret text";
    let blob = w.seal_text(&key, secret, None);
    let opened = w.open(&blob, None).expect("Decrypt");
    assert_eq!(opened.plaintext.expose(), secret);
    assert_hidden(&format!("{opened:?}"), secret.as_bytes());
}

#[test]
fn borrowed_wire_responses_do_not_show_the_plaintext() {
    let w = World::new(1001);
    let key = w.key_text();
    let params = GenerateDataKeyParams::new().key_id(&key);
    let mut ws = vec![0u8; params.workspace_len()];
    let out = wire::generate_data_key_in(&w.provider, &owner(), &params, &mut rng(1), &mut ws)
        .expect("GenerateDataKey");
    let text = out.plaintext.expose().to_string();
    let blob = out.ciphertext_blob.to_string();
    let data_key = unb64(&text);
    for debug in [
        format!("{out:?}"),
        format!("{out:#?}"),
        format!("{:?}", out.plaintext),
    ] {
        assert_hidden(&debug, text.as_bytes());
        assert_hidden(&debug, &data_key);
    }
    assert!(format!("{out:?}").contains(&blob));
    drop(out);

    let params = DecryptParams::new().ciphertext_blob(&blob);
    let mut ws = vec![0u8; params.workspace_len()];
    let out =
        wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(2), &mut ws).expect("Decrypt");
    assert_eq!(out.plaintext.expose(), text);
    assert_hidden(&format!("{out:?}"), text.as_bytes());
    assert_hidden(&format!("{:?}", out.plaintext), text.as_bytes());
}

#[test]
fn typed_outputs_do_not_show_the_data_key() {
    let w = World::new(1002);
    let request = GenerateDataKeyRequest::new(w.key);

    // Borrowed: GeneratedDataKey.
    let mut ws = vec![0u8; request.workspace_len()];
    let out = ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(3), &mut ws)
        .expect("GenerateDataKey")
        .done()
        .expect("ran");
    let key = out.data_key.expose().to_vec();
    let text = out.data_key_base64.expose().to_string();
    assert_eq!(
        key,
        first_bytes(3, 32),
        "the data key is the RNG's first 32 bytes"
    );
    for debug in [
        format!("{out:?}"),
        format!("{out:#?}"),
        format!("{:?}", out.data_key),
        format!("{:?}", out.data_key_base64),
    ] {
        assert_hidden(&debug, &key);
        assert_hidden(&debug, text.as_bytes());
    }
    assert!(format!("{out:?}").contains(out.key_version_id.as_str()));
    drop(out);

    // Owned: GeneratedDataKeyBuf.
    let owned = ops::generate_data_key(&w.provider, &owner(), &request, &mut rng(4))
        .expect("GenerateDataKey")
        .done()
        .expect("ran");
    let key = owned.data_key.expose().to_vec();
    assert_eq!(key, first_bytes(4, 32));
    for debug in [
        format!("{owned:?}"),
        format!("{owned:#?}"),
        format!("{:?}", owned.data_key),
    ] {
        assert_hidden(&debug, &key);
        assert_hidden(&debug, b64(&key).as_bytes());
    }

    // Opened (borrowed) and OpenedBuf (owned), and the data key OpenedBuf decodes.
    let request = DecryptRequest::new(&owned.ciphertext_blob);
    let mut ws = vec![0u8; request.workspace_len()];
    let opened = ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(5), &mut ws)
        .expect("Decrypt")
        .done()
        .expect("ran");
    assert_eq!(opened.plaintext.expose(), b64(&key));
    for debug in [
        format!("{opened:?}"),
        format!("{opened:#?}"),
        format!("{:?}", opened.plaintext),
    ] {
        assert_hidden(&debug, b64(&key).as_bytes());
    }
    drop(opened);
    let opened = ops::decrypt(&w.provider, &owner(), &request, &mut rng(5))
        .expect("Decrypt")
        .done()
        .expect("ran");
    let decoded = opened.data_key().expect("a data key's blob");
    assert_eq!(decoded.expose(), &key[..]);
    for debug in [
        format!("{opened:?}"),
        format!("{opened:#?}"),
        format!("{decoded:?}"),
    ] {
        assert_hidden(&debug, b64(&key).as_bytes());
        assert_hidden(&debug, &key);
    }
}

#[test]
fn the_text_to_encrypt_is_not_shown() {
    let secret = "attack at dawn, bring the keys";
    let plaintext = Plaintext::new(secret).expect("1..=6144 bytes");
    let key = KeyId::parse(UNKNOWN_KEY_ID).expect("key id");
    let request = EncryptRequest::new(key, plaintext);
    for debug in [
        format!("{plaintext:?}"),
        format!("{request:?}"),
        format!("{request:#?}"),
    ] {
        assert_hidden(&debug, secret.as_bytes());
    }
    // The request still shows what is not secret.
    assert!(format!("{request:?}").contains(UNKNOWN_KEY_ID));

    let params = EncryptParams::new()
        .key_id(UNKNOWN_KEY_ID)
        .plaintext(secret)
        .encryption_context(r#"{"purpose":"test"}"#);
    for debug in [format!("{params:?}"), format!("{params:#?}")] {
        assert_hidden(&debug, secret.as_bytes());
        assert!(debug.contains(UNKNOWN_KEY_ID), "{debug}");
        assert!(debug.contains("purpose"), "{debug}");
        assert!(debug.contains("[REDACTED]"), "{debug}");
    }
    // An absent Plaintext shows as absent, not as a redacted value.
    let absent = format!("{:?}", EncryptParams::new().key_id(UNKNOWN_KEY_ID));
    assert!(!absent.contains("[REDACTED]"), "{absent}");
}

#[test]
fn master_key_material_is_never_shown() {
    for material in [known_material_256().to_vec(), known_material_128().to_vec()] {
        let m = MasterKeyMaterial::from_slice(&material).expect("16 or 32 bytes");
        assert_hidden(&format!("{m:?}"), &material);
        assert_hidden(&format!("{m:#?}"), &material);
        let cipher = VersionCipher::new(m);
        assert_hidden(&format!("{cipher:?}"), &material);
        assert_hidden(&format!("{cipher:#?}"), &material);
        let provider = fixed_provider(&material);
        assert_hidden(&format!("{provider:?}"), &material);
        assert_hidden(&format!("{provider:#?}"), &material);
    }
    let w = World::new(1003);
    let debug = format!("{:?}", w.provider);
    assert!(debug.starts_with("InMemoryProvider"), "{debug}");
}

/// An RNG that records every fill it hands out.
struct RecordingRng {
    inner: ChaCha20Rng,
    fills: Vec<Vec<u8>>,
}

impl TryRng for RecordingRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.inner.try_fill_bytes(dst)?;
        self.fills.push(dst.to_vec());
        Ok(())
    }
}

impl TryCryptoRng for RecordingRng {}

#[test]
fn staged_changes_do_not_show_their_material() {
    let mut w = World::new(1004);
    let mut recording = RecordingRng {
        inner: rng(1005),
        fills: Vec::new(),
    };

    // CreateKey and CreateKeyVersion draw their AES-256 material from the RNG: one fill of 32
    // bytes each (the IDs are fills of 16).
    let staged =
        management::create_key(&w.provider, &owner(), &CreateKey::new(), &mut recording, T0)
            .expect("CreateKey");
    let created = staged.output().key_id;
    let debugs = [
        format!("{staged:?}"),
        format!("{staged:#?}"),
        format!("{:?}", staged.change()),
        format!("{:?}", staged.change().mutation),
    ];
    assert!(debugs[3].starts_with("CreateKey"), "{}", debugs[3]);
    let materials: Vec<Vec<u8>> = recording
        .fills
        .drain(..)
        .filter(|f| f.len() == 32)
        .collect();
    assert_eq!(materials.len(), 1, "one AES-256 material drawn");
    for debug in &debugs {
        assert_hidden(debug, &materials[0]);
        assert!(debug.contains("REDACTED"), "{debug}");
    }
    w.commit(Ok(staged));

    let staged = management::create_key_version(
        &w.provider,
        &owner(),
        &KeyReference::Id(created),
        &mut recording,
        T0,
    )
    .expect("CreateKeyVersion");
    let debug = format!("{:?}", staged.change().mutation);
    assert!(debug.starts_with("AddVersion"), "{debug}");
    let materials: Vec<Vec<u8>> = recording
        .fills
        .drain(..)
        .filter(|f| f.len() == 32)
        .collect();
    assert_eq!(materials.len(), 1);
    for debug in [debug, format!("{staged:#?}")] {
        assert_hidden(&debug, &materials[0]);
    }

    // ImportKeyMaterial holds the caller's material.
    let external = w.create(KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    let material = known_material_256();
    let staged = management::import_key_material(
        &w.provider,
        &owner(),
        &KeyReference::Id(external),
        MasterKeyMaterial::from_slice(&material).expect("material"),
        T0,
    )
    .expect("ImportKeyMaterial");
    let debug = format!("{:?}", staged.change().mutation);
    assert!(debug.starts_with("ImportMaterial"), "{debug}");
    for debug in [debug, format!("{staged:?}"), format!("{staged:#?}")] {
        assert_hidden(&debug, &material);
    }
}

// ---------------------------------------------------------------------------------------------
// Zeroization

#[test]
fn typed_borrowed_outputs_wipe_the_workspace_when_dropped() {
    let w = World::new(1010);
    let context = ContextBuf::from_pairs([("purpose", "wipe")]).expect("context");
    let request = GenerateDataKeyRequest::new(w.key).with_context(&context);
    let mut ws = vec![0u8; request.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out = ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(6), &mut ws)
        .expect("GenerateDataKey")
        .done()
        .expect("ran");
    let key = out.data_key.expose().to_vec();
    let text = out.data_key_base64.expose().to_string();
    let blob = out.ciphertext_blob.to_owned();
    let key_at = out.data_key.expose().as_ptr() as usize - base;
    let text_at = out.data_key_base64.expose().as_ptr() as usize - base;
    drop(out);
    assert!(
        ws[key_at..key_at + 32].iter().all(|&b| b == 0),
        "data key left"
    );
    assert!(
        ws[text_at..text_at + 44].iter().all(|&b| b == 0),
        "Base64 left"
    );
    assert!(!contains(&ws, &key));
    assert!(!contains(&ws, text.as_bytes()));
    // The (public) blob is still there.
    assert!(contains(&ws, blob.as_bytes()));

    let request = DecryptRequest::new(&blob).with_context(&context);
    let mut ws = vec![0u8; request.workspace_len()];
    let base = ws.as_ptr() as usize;
    let out = ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(7), &mut ws)
        .expect("Decrypt")
        .done()
        .expect("ran");
    assert_eq!(out.plaintext.expose(), text);
    let at = out.plaintext.expose().as_ptr() as usize - base;
    drop(out);
    assert!(ws[at..at + 44].iter().all(|&b| b == 0));
    assert!(!contains(&ws, text.as_bytes()));
}

#[test]
fn without_plaintext_leaves_no_data_key_in_the_workspace() {
    let w = World::new(1011);
    // Typed: the data key is the RNG's first 32 bytes.
    let request = GenerateDataKeyRequest::new(w.key);
    let mut ws = vec![0u8; request.workspace_len()];
    let out = ops::generate_data_key_without_plaintext_in(
        &w.provider,
        &owner(),
        &request,
        &mut rng(8),
        &mut ws,
    )
    .expect("GenerateDataKeyWithoutPlaintext")
    .done()
    .expect("ran");
    let blob = out.ciphertext_blob.to_owned();
    let key = first_bytes(8, 32);
    // The key was sealed: it opens to the Base64 of the RNG's first bytes.
    let opened = ops::decrypt(
        &w.provider,
        &owner(),
        &DecryptRequest::new(&blob),
        &mut rng(0),
    )
    .expect("Decrypt")
    .done()
    .expect("ran");
    assert_eq!(opened.plaintext.expose(), b64(&key));
    assert!(!contains(&ws, &key), "raw data key left in the workspace");
    assert!(!contains(&ws, b64(&key).as_bytes()), "Base64 data key left");

    // Wire.
    let text = w.key_text();
    let params = GenerateDataKeyParams::new().key_id(&text);
    let mut ws = vec![0u8; params.workspace_len()];
    let out = wire::generate_data_key_without_plaintext_in(
        &w.provider,
        &owner(),
        &params,
        &mut rng(9),
        &mut ws,
    )
    .expect("GenerateDataKeyWithoutPlaintext");
    let blob = out.ciphertext_blob.to_string();
    let key = first_bytes(9, 32);
    let opened = wire::decrypt(
        &w.provider,
        &owner(),
        &DecryptParams::new().ciphertext_blob(&blob),
        &mut rng(0),
    )
    .expect("Decrypt");
    assert_eq!(opened.plaintext.expose(), b64(&key));
    assert!(!contains(&ws, &key), "raw data key left in the workspace");
    assert!(!contains(&ws, b64(&key).as_bytes()), "Base64 data key left");
}

#[test]
fn re_encrypt_leaves_no_plaintext_in_the_workspace() {
    let mut w = World::new(1012);
    let destination = w.create_in(ACCOUNT, REGION);
    let secret = "a secret that moves between keys";
    let blob = w.seal_text(&w.key_text(), secret, None);

    // Typed.
    let source = BlobBuf::from_base64(&blob).expect("blob");
    let request = ReEncryptRequest::new(&source, destination);
    let mut ws = vec![0u8; request.workspace_len()];
    let out = ops::re_encrypt_in(&w.provider, &owner(), &request, &mut rng(10), &mut ws)
        .expect("ReEncrypt")
        .done()
        .expect("ran");
    let moved = out.ciphertext_blob.to_base64();
    assert_eq!(out.key_id, destination);
    assert!(
        !contains(&ws, secret.as_bytes()),
        "plaintext left in the workspace"
    );
    assert_eq!(
        w.open(&moved, None).expect("Decrypt").plaintext.expose(),
        secret
    );

    // Wire.
    let text = destination.to_string();
    let params = ReEncryptParams::new()
        .ciphertext_blob(&blob)
        .destination_key_id(&text);
    let mut ws = vec![0u8; params.workspace_len()];
    let out = wire::re_encrypt_in(&w.provider, &owner(), &params, &mut rng(11), &mut ws)
        .expect("ReEncrypt");
    let moved = out.ciphertext_blob.to_string();
    assert!(
        !contains(&ws, secret.as_bytes()),
        "plaintext left in the workspace"
    );
    assert_eq!(
        w.open(&moved, None).expect("Decrypt").plaintext.expose(),
        secret
    );
}

// ---------------------------------------------------------------------------------------------
// Comparisons

#[test]
fn owned_secret_holders_compare_by_content() {
    let a = SecretBytesBuf::new(vec![1, 2, 3]);
    let b = SecretBytesBuf::new(vec![1, 2, 3]);
    let c = SecretBytesBuf::new(vec![1, 2, 4]);
    let d = SecretBytesBuf::new(vec![1, 2]);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
    assert!(bool::from(a.ct_eq(&b)));
    assert!(!bool::from(a.ct_eq(&c)));
    assert!(!bool::from(a.ct_eq(&d)));
    assert_hidden(&format!("{a:?}"), &[1, 2, 3, 0]);
    assert!(!format!("{a:?}").contains("1, 2, 3"));

    let a = SecretTextBuf::new("correct horse");
    let b = SecretTextBuf::new("correct horse");
    let c = SecretTextBuf::new("correct horsf");
    let d = SecretTextBuf::new("correct");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_ne!(a, d);
    assert!(bool::from(a.ct_eq(&b)));
    assert!(!bool::from(a.ct_eq(&c)));
    assert!(!bool::from(a.ct_eq(&d)));
    assert_hidden(&format!("{a:?}"), b"correct horse");
}

#[test]
fn master_key_material_compares_by_content() {
    let m256 = known_material_256();
    let a = MasterKeyMaterial::from_slice(&m256).expect("material");
    let b = MasterKeyMaterial::from_slice(&m256).expect("material");
    let mut other = m256;
    other[31] ^= 1;
    let c = MasterKeyMaterial::from_slice(&other).expect("material");
    let d = MasterKeyMaterial::from_slice(&m256[..16]).expect("material");
    assert!(bool::from(a.ct_eq(&b)));
    assert!(!bool::from(a.ct_eq(&c)));
    assert!(!bool::from(a.ct_eq(&d)));
    assert!(MasterKeyMaterial::from_slice(&m256[..24]).is_none());
}

/// GenerateDataKey (typed, caller buffer) drawing from `rng(seed)`: the borrowed data key, its
/// Base64 text, and the blob.
fn generate<'w>(
    w: &World,
    seed: u64,
    ws: &'w mut [u8],
) -> (SecretBytes<'w>, SecretText<'w>, BlobBuf) {
    let request = GenerateDataKeyRequest::new(w.key);
    let out = ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(seed), ws);
    let out = out.expect("GenerateDataKey").done().expect("ran");
    let blob = out.ciphertext_blob.to_owned();
    (out.data_key, out.data_key_base64, blob)
}

/// Decrypt (typed, caller buffer): the borrowed plaintext.
fn open_in<'w>(w: &World, blob: &BlobBuf, ws: &'w mut Vec<u8>) -> SecretText<'w> {
    let request = DecryptRequest::new(blob);
    ws.resize(request.workspace_len(), 0);
    let out = ops::decrypt_in(&w.provider, &owner(), &request, &mut rng(0), ws);
    out.expect("Decrypt").done().expect("ran").plaintext
}

#[test]
fn borrowed_secrets_compare_by_content() {
    let w = World::new(1013);
    let len = GenerateDataKeyRequest::new(w.key).workspace_len();
    let (mut ws1, mut ws2, mut ws3) = (vec![0u8; len], vec![0u8; len], vec![0u8; len]);
    // The same RNG bytes make the same data key; other bytes another.
    let (key1, text1, blob1) = generate(&w, 20, &mut ws1);
    let (key2, text2, _) = generate(&w, 20, &mut ws2);
    let (key3, text3, blob3) = generate(&w, 21, &mut ws3);
    assert_eq!(key1.expose(), key2.expose());
    assert_ne!(key1.expose(), key3.expose());
    assert!(bool::from(key1.ct_eq(&key2)));
    assert!(!bool::from(key1.ct_eq(&key3)));
    assert!(bool::from(text1.ct_eq(&text2)));
    assert!(!bool::from(text1.ct_eq(&text3)));

    // Decrypted texts compare the same way.
    let (mut o1, mut o2, mut o3) = (Vec::new(), Vec::new(), Vec::new());
    let p1 = open_in(&w, &blob1, &mut o1);
    let p2 = open_in(&w, &blob1, &mut o2);
    let p3 = open_in(&w, &blob3, &mut o3);
    assert!(bool::from(p1.ct_eq(&p2)));
    assert!(!bool::from(p1.ct_eq(&p3)));
    assert!(bool::from(p1.ct_eq(&text1)));
}
