//! The CiphertextBlob (spec §5): its layout, checked with an independent AES-GCM; rotation;
//! and strict decoding of every kind of bad input, including every single-bit flip.

mod common;

use common::*;
use kms_core::{
    DecryptRequest, GenerateDataKeyRequest, InMemoryProvider, KeyOptions, MasterKeyMaterial,
    SealLimitAction, decrypt, generate_data_key,
};

const UNKNOWN_VERSION: &[u8; 36] = b"0f0f0f0f-1111-4222-8333-444444444444";

// ----- Layout ---------------------------------------------------------------------------------

#[test]
fn a_32_byte_data_key_makes_a_108_byte_blob_that_seals_the_plaintext_text() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let response = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(FIXED_KEY_ID),
        &mut rng(500),
    )
    .unwrap();
    assert_eq!(response.ciphertext_blob.len(), 144);
    let blob = unb64(&response.ciphertext_blob);
    assert_eq!(blob.len(), 108);
    assert_eq!(&blob[..36], FIXED_VERSION.as_bytes());
    assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
    let sealed = open_blob(&material, &blob, &empty_aad(FIXED_VERSION)).expect("tag verifies");
    assert_eq!(sealed.len(), 44);
    assert_eq!(sealed, response.plaintext.expose().as_bytes());
    assert_eq!(unb64(std::str::from_utf8(&sealed).unwrap()).len(), 32);
}

#[test]
fn blob_length_follows_the_data_key_length() {
    let material = known_material_128();
    let mut provider = fixed_provider(&material);
    let mut r = rng(501);
    for n in [1usize, 2, 3, 16, 31, 100, 1024] {
        let number = n.to_string();
        let response = generate_data_key(
            &mut provider,
            &caller(),
            &GenerateDataKeyRequest {
                number_of_bytes: Some(&number),
                ..GenerateDataKeyRequest::new(FIXED_KEY_ID)
            },
            &mut r,
        )
        .unwrap();
        let text_len = n.div_ceil(3) * 4;
        let blob = unb64(&response.ciphertext_blob);
        assert_eq!(blob.len(), 36 + 12 + text_len + 16, "{n}");
        assert_eq!(response.ciphertext_blob.len(), blob.len().div_ceil(3) * 4);
        // AES-128 master material seals with AES-128-GCM.
        let sealed = open_blob(&material, &blob, &empty_aad(FIXED_VERSION)).unwrap();
        assert_eq!(sealed, response.plaintext.expose().as_bytes());
    }
}

#[test]
fn decrypt_returns_exactly_the_sealed_text() {
    // Blobs made by hand open to their text, whatever its length in 1..=6144.
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let mut r = rng(502);
    for text in [
        "x".to_string(),
        "not base64 at all: ünïcödé ✓".to_string(),
        "y".repeat(6144),
    ] {
        let blob = seal_blob(
            &material,
            FIXED_VERSION,
            [3; 12],
            &empty_aad(FIXED_VERSION),
            text.as_bytes(),
        );
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&b64(&blob)),
            &mut r,
        )
        .unwrap_or_else(|e| panic!("{} bytes: {e:?}", text.len()));
        assert_eq!(opened.plaintext.expose(), text);
    }
    // Sealed text that is not UTF-8 cannot come from this API: an invalid blob.
    let blob = seal_blob(
        &material,
        FIXED_VERSION,
        [4; 12],
        &empty_aad(FIXED_VERSION),
        &[0xff, 0xfe, 0x80],
    );
    let err = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&b64(&blob)),
        &mut r,
    )
    .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
    // 6145 bytes of sealed text is one byte over the longest blob.
    let blob = seal_blob(
        &material,
        FIXED_VERSION,
        [5; 12],
        &empty_aad(FIXED_VERSION),
        &[b'z'; 6145],
    );
    let err = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&b64(&blob)),
        &mut r,
    )
    .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
}

#[test]
fn the_version_id_is_bound_as_associated_data() {
    // Two versions with the same material: only the prefix (and so the AAD) differs, and
    // moving a blob to the other version breaks its tag.
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let v2 = "9c0ffee0-0000-4000-8000-000000000002";
    let key = kms_core::KeyId::parse(FIXED_KEY_ID).unwrap();
    let mut r = rng(503);
    let old = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(FIXED_KEY_ID),
        &mut r,
    )
    .unwrap();
    provider
        .add_version(
            &key,
            version(v2),
            MasterKeyMaterial::from_slice(&material).unwrap(),
        )
        .unwrap();
    let mut moved = unb64(&old.ciphertext_blob);
    moved[..36].copy_from_slice(v2.as_bytes());
    let err = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&b64(&moved)),
        &mut r,
    )
    .unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
    let opened = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&old.ciphertext_blob),
        &mut r,
    )
    .unwrap();
    assert_eq!(opened.key_version_id.as_str(), FIXED_VERSION);
}

// ----- Rotation -------------------------------------------------------------------------------

#[test]
fn rotation_keeps_old_versions_decrypting() {
    let mut w = World::new(504);
    let v1 = w.primary(&w.key);
    let first = w.blob(Some(r#"{"gen":"1"}"#));
    assert_eq!(first.key_version_id, v1);

    let v2 = w.provider.rotate_key(&w.key, &mut w.rng).unwrap();
    assert_ne!(v1, v2);
    assert_eq!(w.primary(&w.key), v2);
    let second = w.blob(Some(r#"{"gen":"2"}"#));
    assert_eq!(second.key_version_id, v2);
    assert_eq!(&unb64(&second.ciphertext_blob)[..36], v2.as_bytes());
    let by_alias = w.gdk(&GenerateDataKeyRequest::new(ALIAS)).unwrap();
    assert_eq!(by_alias.key_version_id, v2);

    let v3 = w.provider.rotate_key(&w.key, &mut w.rng).unwrap();
    assert_eq!(
        w.provider.versions(&w.key).unwrap().collect::<Vec<_>>(),
        [v1, v2, v3]
    );
    for (blob, context, version) in [
        (&first, r#"{"gen":"1"}"#, v1),
        (&second, r#"{"gen":"2"}"#, v2),
    ] {
        let opened = w
            .decrypt(&DecryptRequest {
                encryption_context: Some(context),
                ..DecryptRequest::new(&blob.ciphertext_blob)
            })
            .unwrap();
        assert_eq!(opened.key_version_id, version);
        assert_eq!(opened.key_id, w.key);
        assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
    }
    // Only the primary version seals.
    let before = (
        w.provider.seal_count(&v1).unwrap(),
        w.provider.seal_count(&v3).unwrap(),
    );
    w.blob(None);
    assert_eq!(w.provider.seal_count(&v1).unwrap(), before.0);
    assert_eq!(w.provider.seal_count(&v3).unwrap(), before.1 + 1);
}

#[test]
fn fixed_provider_rotation_with_known_material() {
    let m1 = known_material_256();
    let m2 = known_material_128();
    let mut provider = fixed_provider(&m1);
    let key = kms_core::KeyId::parse(FIXED_KEY_ID).unwrap();
    let v2 = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee";
    let mut r = rng(505);
    let gdk = |p: &mut kms_core::FixedCapacityProvider<4, 3>, r: &mut rand_chacha::ChaCha20Rng| {
        generate_data_key(p, &caller(), &GenerateDataKeyRequest::new(FIXED_KEY_ID), r).unwrap()
    };
    let old = gdk(&mut provider, &mut r);
    provider
        .add_version(
            &key,
            version(v2),
            MasterKeyMaterial::from_slice(&m2).unwrap(),
        )
        .unwrap();
    let new = gdk(&mut provider, &mut r);
    assert_eq!(new.key_version_id.as_str(), v2);
    let new_raw = unb64(&new.ciphertext_blob);
    assert_eq!(
        open_blob(&m2, &new_raw, &empty_aad(v2)).unwrap(),
        new.plaintext.expose().as_bytes()
    );
    for (blob, v) in [(&old, FIXED_VERSION), (&new, v2)] {
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&blob.ciphertext_blob),
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.key_version_id.as_str(), v);
        assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
    }
}

#[test]
fn seal_limit_rotates_or_refuses() {
    let mut r = rng(506);
    let mut provider = InMemoryProvider::new().with_seal_limit(2, SealLimitAction::Rotate);
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let request = GenerateDataKeyRequest::new(key.as_str());
    let mut blobs = Vec::new();
    for _ in 0..5 {
        blobs.push(generate_data_key(&mut provider, &caller(), &request, &mut r).unwrap());
    }
    let versions: Vec<_> = blobs.iter().map(|b| b.key_version_id).collect();
    assert_eq!(versions[0], versions[1]);
    assert_ne!(versions[1], versions[2]);
    assert_eq!(versions[2], versions[3]);
    assert_ne!(versions[3], versions[4]);
    for v in provider.versions(&key).unwrap() {
        assert!(provider.seal_count(&v).unwrap() <= 2);
    }
    for blob in &blobs {
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&blob.ciphertext_blob),
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.key_version_id, blob.key_version_id);
    }

    let mut provider = InMemoryProvider::new().with_seal_limit(2, SealLimitAction::Refuse);
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let request = GenerateDataKeyRequest::new(key.as_str());
    let first = generate_data_key(&mut provider, &caller(), &request, &mut r).unwrap();
    generate_data_key(&mut provider, &caller(), &request, &mut r).unwrap();
    let err = generate_data_key(&mut provider, &caller(), &request, &mut r).unwrap_err();
    assert_internal(&err);
    assert_eq!(err, kms_core::Error::SealLimitReached);
    // Opening is not sealing.
    decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&first.ciphertext_blob),
        &mut r,
    )
    .unwrap();
}

// ----- Bad input ------------------------------------------------------------------------------

fn expect_invalid_blob(w: &mut World, text: &str) {
    let err = w
        .decrypt(&DecryptRequest::new(text))
        .err()
        .unwrap_or_else(|| panic!("accepted blob {text:?}"));
    assert_invalid(&err, "CiphertextBlob");
}

#[test]
fn missing_blob() {
    let mut w = World::new(507);
    let err = w
        .decrypt(&DecryptRequest {
            encryption_context: Some("{}"),
            ..DecryptRequest::default()
        })
        .unwrap_err();
    assert_missing(&err, "CiphertextBlob");
}

#[test]
fn blob_length_limits() {
    let mut w = World::new(508);
    let real = w.primary(&w.key);
    expect_invalid_blob(&mut w, "");
    // Built on an unknown but well-formed prefix: in range it is KeyNotFound, out of range the
    // length check comes first.
    let with = |prefix: &[u8], total: usize| {
        let mut raw = prefix.to_vec();
        raw.resize(total, 0x41);
        b64(&raw)
    };
    expect_invalid_blob(&mut w, &with(UNKNOWN_VERSION, 64));
    assert_key_not_found(
        &w.decrypt(&DecryptRequest::new(&with(UNKNOWN_VERSION, 65)))
            .unwrap_err(),
    );
    assert_key_not_found(
        &w.decrypt(&DecryptRequest::new(&with(UNKNOWN_VERSION, 6208)))
            .unwrap_err(),
    );
    expect_invalid_blob(&mut w, &with(UNKNOWN_VERSION, 6209));
    expect_invalid_blob(&mut w, &with(UNKNOWN_VERSION, 10_000));
    // With the real version: short, long, and in-range garbage all fail alike.
    for total in [0, 36, 48, 64, 65, 108, 6208, 6209, 7000] {
        expect_invalid_blob(&mut w, &with(real.as_bytes(), total));
    }
    // Huge text, no panic, no huge allocation.
    expect_invalid_blob(&mut w, &"A".repeat(1 << 20));
    expect_invalid_blob(&mut w, &"=".repeat(200));
}

#[test]
fn non_base64_text() {
    let mut w = World::new(509);
    let good = w.blob(None).ciphertext_blob;
    for c in ['!', '*', '.', '-', '_', '~', '\0', 'é'] {
        let mut bad = good.clone();
        bad.replace_range(10..11, &c.to_string());
        expect_invalid_blob(&mut w, &bad);
    }
    expect_invalid_blob(&mut w, &"!".repeat(144));
    // URL-safe alphabet instead of the standard one.
    let mut found = false;
    for seed in 0..20 {
        let text = World::new(seed).blob(None).ciphertext_blob;
        if text.contains(['+', '/']) {
            found = true;
            let url_safe = text.replace('+', "-").replace('/', "_");
            expect_invalid_blob(&mut w, &url_safe);
        }
    }
    assert!(found);
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Sets low bits in the Base64 character at `at`, which must be zero in canonical text.
fn with_low_bits(text: &str, at: usize, bits: u8) -> String {
    let c = text.as_bytes()[at];
    let index = ALPHABET.iter().position(|&a| a == c).unwrap() as u8;
    assert_eq!(index & bits, 0, "not canonical to begin with");
    let mut out = text.as_bytes().to_vec();
    out[at] = ALPHABET[usize::from(index | bits)];
    String::from_utf8(out).unwrap()
}

#[test]
fn non_canonical_base64() {
    let mut w = World::new(510);
    let key = w.key.to_string();
    // 16 bytes: 24 characters sealed, an 88-byte blob, Base64 ending in `==`.
    let two = w
        .gdk(&GenerateDataKeyRequest {
            number_of_bytes: Some("16"),
            ..GenerateDataKeyRequest::new(&key)
        })
        .unwrap()
        .ciphertext_blob;
    // 1 byte: 4 characters sealed, a 68-byte blob, Base64 ending in one `=`.
    let one = w
        .gdk(&GenerateDataKeyRequest {
            number_of_bytes: Some("1"),
            ..GenerateDataKeyRequest::new(&key)
        })
        .unwrap()
        .ciphertext_blob;
    // 32 bytes: a 108-byte blob, no padding.
    let none = w.blob(None).ciphertext_blob;
    assert!(two.ends_with("==") && !two.ends_with("==="));
    assert!(one.ends_with('=') && !one.ends_with("=="));
    assert!(!none.ends_with('='));
    for good in [&two, &one, &none] {
        w.decrypt(&DecryptRequest::new(good))
            .expect("canonical text opens");
    }

    let mut bad = vec![
        // Non-zero bits where the padding leaves them unused.
        with_low_bits(&two, two.len() - 3, 0b1111),
        with_low_bits(&two, two.len() - 3, 0b0001),
        with_low_bits(&two, two.len() - 3, 0b1000),
        with_low_bits(&one, one.len() - 2, 0b11),
        with_low_bits(&one, one.len() - 2, 0b01),
        // Missing or partial padding.
        two.trim_end_matches('=').to_string(),
        two[..two.len() - 1].to_string(),
        one.trim_end_matches('=').to_string(),
        // Too much padding.
        format!("{two}="),
        format!("{one}="),
        format!("{none}="),
        format!("{none}===="),
        // Padding in the middle.
        format!("{}={}", &none[..40], &none[41..]),
        // White space anywhere.
        format!(" {none}"),
        format!("{none} "),
        format!("{none}\n"),
        format!("{none}\r\n"),
        format!("{}\n{}", &none[..76], &none[76..]),
        format!("{}\r\n{}", &none[..76], &none[76..]),
        format!("{}\t{}", &none[..20], &none[20..]),
        format!("{} {}", &none[..4], &none[4..]),
        // Truncated or extended by one character.
        none[..none.len() - 1].to_string(),
        format!("{none}A"),
        format!("{none}AAAA"),
    ];
    bad.push(none.to_lowercase());
    for text in &bad {
        expect_invalid_blob(&mut w, text);
    }
}

#[test]
fn bad_version_prefixes() {
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let mut r = rng(511);
    // FIXED_VERSION has letters, so its uppercase form differs.
    let mut p = fixed_provider(&material);
    let good = generate_data_key(
        &mut p,
        &caller(),
        &GenerateDataKeyRequest::new(FIXED_KEY_ID),
        &mut r,
    )
    .unwrap()
    .ciphertext_blob;
    let raw = unb64(&good);
    let run = |raw: &[u8], r: &mut rand_chacha::ChaCha20Rng| {
        decrypt(&provider, &caller(), &DecryptRequest::new(&b64(raw)), r)
    };
    assert!(run(&raw, &mut r).is_ok());
    let prefixes: Vec<Vec<u8>> = vec![
        FIXED_VERSION.to_uppercase().into_bytes(),
        // One uppercase hex digit.
        FIXED_VERSION.replacen('a', "A", 1).into_bytes(),
        // Hyphens moved.
        b"2ab1a98-37072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a9837072--4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983-7072-4bbca-582-584b5bd8beef".to_vec(),
        // A hyphen replaced by a digit, a digit by a hyphen.
        b"2ab1a98307072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983-7072-4bbc-a582-584b5bd8bee-".to_vec(),
        // Not hex.
        b"2ab1a983-7072-4bbc-a582-584b5bd8beeg".to_vec(),
        b"{ab1a983-7072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983 7072 4bbc a582 584b5bd8beef".to_vec(),
        [0u8; 36].to_vec(),
    ];
    for prefix in prefixes {
        assert_eq!(prefix.len(), 36);
        let mut bad = raw.clone();
        bad[..36].copy_from_slice(&prefix);
        let err = run(&bad, &mut r).unwrap_err();
        assert_invalid(&err, "CiphertextBlob");
    }
    // A well-formed prefix naming no version.
    let mut unknown = raw.clone();
    unknown[..36].copy_from_slice(UNKNOWN_VERSION);
    assert_key_not_found(&run(&unknown, &mut r).unwrap_err());
}

#[test]
fn every_single_bit_flip_is_refused() {
    let mut w = World::new(512);
    let response = w.blob(Some(r#"{"purpose":"bit flips"}"#));
    let raw = unb64(&response.ciphertext_blob);
    assert_eq!(raw.len(), 108);
    let context = Some(r#"{"purpose":"bit flips"}"#);
    // The untouched blob opens.
    w.decrypt(&DecryptRequest {
        encryption_context: context,
        ..DecryptRequest::new(&response.ciphertext_blob)
    })
    .unwrap();

    let (mut not_found, mut invalid) = (0, 0);
    for bit in 0..raw.len() * 8 {
        let mut flipped = raw.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let text = b64(&flipped);
        let err = w
            .decrypt(&DecryptRequest {
                encryption_context: context,
                ..DecryptRequest::new(&text)
            })
            .err()
            .unwrap_or_else(|| panic!("bit {bit} flipped and the blob still opened"));
        if bit / 8 < 36 && is_lowercase_uuid_text(&flipped[..36]) {
            // Another well-formed version ID, naming nothing.
            assert_key_not_found(&err);
            not_found += 1;
        } else {
            assert_invalid(&err, "CiphertextBlob");
            invalid += 1;
        }
    }
    assert!(not_found > 0, "no flip produced another lowercase UUID");
    assert_eq!(not_found + invalid, 864);
    // Every flip past the prefix is a tag failure.
    assert!(invalid >= (108 - 36) * 8);
}
