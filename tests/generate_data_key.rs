//! GenerateDataKey: the data-key length rules (spec §3), the response fields (§1), where the
//! randomness comes from, RequestId, and RNG compatibility with rand_core 0.10.

mod common;

use common::*;
use kms_core::rand_core::{Infallible, SeedableRng, TryCryptoRng, TryRng};
use kms_core::{
    DecryptRequest, GenerateDataKeyRequest, InMemoryProvider, KeyOptions, RequestId,
    generate_data_key,
};
use rand_chacha::ChaCha20Rng;

/// The outcome of GenerateDataKey for a `KeySpec` / `NumberOfBytes` pair: the decoded data
/// key's length, after checking the response is consistent with it.
fn data_key_len(
    w: &mut World,
    key_spec: Option<&str>,
    number_of_bytes: Option<&str>,
) -> Result<usize, kms_core::Error> {
    let key = w.key.to_string();
    let response = w.gdk(&GenerateDataKeyRequest {
        key_spec,
        number_of_bytes,
        ..GenerateDataKeyRequest::new(&key)
    })?;
    let raw = unb64(response.plaintext.expose());
    assert_eq!(response.data_key().expose(), raw.as_slice());
    // The blob seals the Base64 text of the key: 36 + 12 + text + 16 bytes.
    let text_len = raw.len().div_ceil(3) * 4;
    assert_eq!(response.plaintext.expose().len(), text_len);
    assert_eq!(unb64(&response.ciphertext_blob).len(), 64 + text_len);
    // And it opens to that text.
    let opened = w
        .decrypt(&DecryptRequest::new(&response.ciphertext_blob))
        .expect("Decrypt of a fresh blob");
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    Ok(raw.len())
}

#[test]
fn neither_parameter_gives_32_bytes() {
    let mut w = World::new(100);
    assert_eq!(data_key_len(&mut w, None, None).unwrap(), 32);
}

#[test]
fn key_spec_values() {
    let mut w = World::new(101);
    assert_eq!(data_key_len(&mut w, Some("AES_256"), None).unwrap(), 32);
    assert_eq!(data_key_len(&mut w, Some("AES_128"), None).unwrap(), 16);
    for bad in [
        "aes_256", "Aes_128", "AES_512", "AES256", "", " AES_256", "AES_256 ",
    ] {
        let err = data_key_len(&mut w, Some(bad), None).unwrap_err();
        assert_invalid(&err, "KeySpec");
    }
}

#[test]
fn number_of_bytes_values() {
    let mut w = World::new(102);
    for (text, n) in [
        ("1", 1),
        ("16", 16),
        ("32", 32),
        ("100", 100),
        ("1024", 1024),
    ] {
        assert_eq!(data_key_len(&mut w, None, Some(text)).unwrap(), n, "{text}");
    }
    for bad in [
        "0",
        "1025",
        "-1",
        "abc",
        "1.5",
        "",
        "+5",
        " 5",
        "5 ",
        "1e2",
        "0x10",
        "99999999999999999999999999999999",
    ] {
        let err = data_key_len(&mut w, None, Some(bad)).unwrap_err();
        assert_invalid(&err, "NumberOfBytes");
    }
}

#[test]
fn number_of_bytes_wins_over_key_spec() {
    let mut w = World::new(103);
    // Even over an invalid KeySpec.
    assert_eq!(data_key_len(&mut w, Some("aes_256"), Some("7")).unwrap(), 7);
    assert_eq!(
        data_key_len(&mut w, Some("bogus"), Some("1024")).unwrap(),
        1024
    );
    assert_eq!(
        data_key_len(&mut w, Some("AES_128"), Some("32")).unwrap(),
        32
    );
    assert_eq!(
        data_key_len(&mut w, Some("AES_256"), Some("16")).unwrap(),
        16
    );
    // And its own invalid value is reported, not the KeySpec's.
    let err = data_key_len(&mut w, Some("bogus"), Some("0")).unwrap_err();
    assert_invalid(&err, "NumberOfBytes");
    let err = data_key_len(&mut w, Some("AES_256"), Some("")).unwrap_err();
    assert_invalid(&err, "NumberOfBytes");
}

#[test]
fn response_names_the_canonical_key_and_its_primary_version() {
    let mut w = World::new(104);
    let primary = w.primary(&w.key);
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{}", w.key);
    let alias_arn = format!("acs:kms:{REGION}:{ACCOUNT}:{ALIAS}");
    let key = w.key.to_string();
    for name in [key.as_str(), ALIAS, arn.as_str(), alias_arn.as_str()] {
        let response = w.gdk(&GenerateDataKeyRequest::new(name)).unwrap();
        assert_eq!(response.key_id, w.key, "{name}");
        assert_eq!(response.key_version_id, primary, "{name}");
        assert_eq!(&unb64(&response.ciphertext_blob)[..36], primary.as_bytes());
    }
}

#[test]
fn every_call_draws_a_fresh_key_and_iv() {
    let mut w = World::new(105);
    let a = w.blob(None);
    let b = w.blob(None);
    assert_ne!(a.plaintext.expose(), b.plaintext.expose());
    assert_ne!(a.ciphertext_blob, b.ciphertext_blob);
    let (ra, rb) = (unb64(&a.ciphertext_blob), unb64(&b.ciphertext_blob));
    assert_ne!(ra[36..48], rb[36..48], "IVs repeat");
    assert_ne!(a.request_id, b.request_id);
}

/// The data key, the IV and the request ID are the caller's RNG output, in that order
/// (documented on `generate_data_key_in`); nothing derives the key from the master key.
#[test]
fn data_key_and_iv_are_the_rng_output() {
    let mut w = World::new(106);
    for n in [1usize, 16, 32, 100] {
        let mut mirror = rng(7_000 + n as u64);
        let mut expected_key = vec![0u8; n];
        mirror.try_fill_bytes(&mut expected_key).unwrap();
        let mut expected_iv = [0u8; 12];
        mirror.try_fill_bytes(&mut expected_iv).unwrap();
        let mut expected_rid = [0u8; 16];
        mirror.try_fill_bytes(&mut expected_rid).unwrap();

        let number = n.to_string();
        let mut r = rng(7_000 + n as u64);
        let response = generate_data_key(
            &mut w.provider,
            &caller(),
            &GenerateDataKeyRequest {
                number_of_bytes: Some(&number),
                ..GenerateDataKeyRequest::new(ALIAS)
            },
            &mut r,
        )
        .unwrap();
        assert_eq!(response.data_key().expose(), expected_key.as_slice());
        assert_eq!(response.plaintext.expose(), b64(&expected_key));
        assert_eq!(&unb64(&response.ciphertext_blob)[36..48], &expected_iv);
        // The request ID is those 16 bytes with the v4 version and variant bits set.
        let mut v4 = expected_rid;
        v4[6] = (v4[6] & 0x0f) | 0x40;
        v4[8] = (v4[8] & 0x3f) | 0x80;
        let hex: String = v4.iter().map(|b| format!("{b:02x}")).collect();
        let text = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        );
        assert_eq!(response.request_id.as_str(), text);
    }
}

#[test]
fn same_seed_same_provider_same_response() {
    let mut w = World::new(107);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let a = generate_data_key(&mut w.provider, &caller(), &request, &mut rng(5)).unwrap();
    let b = generate_data_key(&mut w.provider, &caller(), &request, &mut rng(5)).unwrap();
    let c = generate_data_key(&mut w.provider, &caller(), &request, &mut rng(6)).unwrap();
    assert_eq!(a.ciphertext_blob, b.ciphertext_blob);
    assert_eq!(a.plaintext, b.plaintext);
    assert_eq!(a.request_id, b.request_id);
    assert_ne!(a.plaintext, c.plaintext);
    assert_ne!(a.ciphertext_blob, c.ciphertext_blob);
}

#[test]
fn request_id_is_a_lowercase_uuid_v4_when_drawn() {
    let mut w = World::new(108);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..32 {
        let response = w.blob(None);
        let id = response.request_id.as_str();
        assert!(is_lowercase_uuid_v4(id), "{id}");
        assert!(seen.insert(id.to_string()), "request ID repeated");
    }
    let blob = w.blob(None).ciphertext_blob;
    let opened = w.decrypt(&DecryptRequest::new(&blob)).unwrap();
    assert!(is_lowercase_uuid_v4(opened.request_id.as_str()));
}

#[test]
fn supplied_request_id_is_echoed_and_not_drawn() {
    let mut w = World::new(109);
    // Not a v4 UUID: whatever the frontend supplies is echoed as is.
    let supplied = RequestId::parse(b"00000000-1111-2222-3333-444444444444").unwrap();

    let mut counting = CountingRng::new(rng(1));
    let response = generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest {
            request_id: Some(supplied),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
        &mut counting,
    )
    .unwrap();
    assert_eq!(response.request_id, supplied);
    let with_supplied = counting.bytes;

    let mut counting = CountingRng::new(rng(1));
    let drawn = generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest::new(ALIAS),
        &mut counting,
    )
    .unwrap();
    assert_ne!(drawn.request_id, supplied);
    assert_eq!(counting.bytes, with_supplied + 16);

    // Decrypt with a supplied ID draws nothing at all: even a failing RNG will do.
    let mut failing = FailingRng::default();
    let opened = kms_core::decrypt(
        &w.provider,
        &caller(),
        &DecryptRequest {
            request_id: Some(supplied),
            ..DecryptRequest::new(&response.ciphertext_blob)
        },
        &mut failing,
    )
    .unwrap();
    assert_eq!(opened.request_id, supplied);
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    assert_eq!(failing.attempts, 0);
}

#[test]
fn request_id_parse_accepts_only_lowercase_uuid_text() {
    assert!(RequestId::parse(b"2ab1a983-7072-4bbc-a582-584b5bd8beef").is_some());
    for bad in [
        &b"2AB1A983-7072-4BBC-A582-584B5BD8BEEF"[..],
        b"2ab1a983-7072-4bbc-a582-584b5bd8bee",
        b"2ab1a983-7072-4bbc-a582-584b5bd8beef0",
        b"2ab1a9837-072-4bbc-a582-584b5bd8beef",
        b"2ab1a983x7072-4bbc-a582-584b5bd8beef",
        b"2ab1a983-7072-4bbc-a582-584b5bd8beeg",
        b"",
    ] {
        assert!(RequestId::parse(bad).is_none(), "{bad:?}");
    }
}

// ----- RNG compatibility ----------------------------------------------------------------------

fn accepts<R: TryCryptoRng + ?Sized>(_: &R) {}

#[test]
fn rand_chacha_works_through_the_reexported_rand_core() {
    // ChaCha20Rng is seeded through kms_core's re-export of rand_core: the two crates agree on
    // the traits, or this would not compile.
    let mut r: ChaCha20Rng = SeedableRng::seed_from_u64(42);
    accepts(&r);
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    // Through a trait object, too (the operations take `?Sized` RNGs).
    let dyn_rng: &mut dyn TryCryptoRng<Error = Infallible> = &mut r;
    let response = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(key.as_str()),
        dyn_rng,
    )
    .unwrap();
    assert_eq!(response.data_key().expose().len(), 32);
}

#[cfg(feature = "getrandom")]
#[test]
fn os_rng_works() {
    let mut os = kms_core::OsRng;
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(&mut os, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    let response = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(key.as_str()),
        &mut os,
    )
    .unwrap();
    let opened = kms_core::decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&response.ciphertext_blob),
        &mut os,
    )
    .unwrap();
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    assert!(is_lowercase_uuid_v4(response.request_id.as_str()));
}
