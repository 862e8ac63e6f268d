//! CreateKey: defaults, specs, usages and origins, descriptions, the creation time, its text
//! parameters (`params::create_key`), and a CreateKey that fails at any draw of the RNG.

use kms_core::management::{self, CreateKey, KeyStore, params};
use kms_core::reference::KeyArn;
use kms_core::time::Timestamp;
use kms_core::{KeyOrigin, KeyState, KeyUsage, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

#[test]
fn create_key_defaults() {
    let mut k = Kms::new(1);
    let staged = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut k.rng, T0);
    let m = k.commit(staged).unwrap();
    assert!(is_uuid_v4(m.key_id.as_str()), "{}", m.key_id);
    assert_eq!(
        KeyArn::new(&m.region, &m.account, &m.key_id).to_string(),
        format!("acs:kms:cn-hangzhou:1234567890123456:key/{}", m.key_id)
    );
    assert_eq!((m.account.as_str(), m.region.as_str()), (ACCOUNT, REGION));
    assert_eq!(m.state, KeyState::Enabled);
    assert_eq!(m.spec, MasterKeySpec::Aes256);
    assert_eq!(m.usage, KeyUsage::EncryptDecrypt);
    assert_eq!(m.origin, KeyOrigin::Kms);
    assert_eq!(m.created, T0);
    assert_eq!(Timestamp(m.created).to_string(), T0_TEXT);
    assert_eq!(m.delete_at, None);
    assert_eq!(m.description, "");
    assert!(m.has_material);
    assert!(is_uuid_v4(m.primary.as_str()), "{}", m.primary);

    // The one version is the primary, made now, and it seals.
    assert_eq!(m.versions.len(), 1);
    assert_eq!(m.versions[0].key_version_id, m.primary);
    assert_eq!(m.versions[0].created, T0);
    let made = k.assert_round_trip(m.key_id.as_str());
    assert_eq!(made.key_version_id, m.primary);
    assert_eq!(made.key_id, m.key_id);

    // DescribeKey and the store report what CreateKey answered.
    assert_eq!(k.describe(m.key_id.as_str()).unwrap(), m);
    assert_eq!(k.provider.key(&m.key_id).unwrap(), Some(m));
}

#[test]
fn two_keys_get_different_ids_and_versions() {
    let mut k = Kms::new(2);
    let a = k.create(&CreateKey::new()).unwrap();
    let b = k.create(&CreateKey::new()).unwrap();
    assert_ne!(a.key_id, b.key_id);
    assert_ne!(a.primary, b.primary);
    assert_eq!(k.all_keys_of(&owner()), [a.key_id, b.key_id]);
}

#[test]
fn create_key_aes_128_seals_with_16_bytes_of_material() {
    let mut k = Kms::new(3);
    let m = k
        .create(&CreateKey::new().with_spec(MasterKeySpec::Aes128))
        .unwrap();
    assert_eq!(m.spec, MasterKeySpec::Aes128);
    assert_eq!(m.state, KeyState::Enabled);
    assert_eq!(m.origin, KeyOrigin::Kms);
    k.assert_round_trip(m.key_id.as_str());
}

#[test]
fn create_key_explicit_values_and_asymmetric_specs() {
    let mut k = Kms::new(4);
    use KeyOrigin::{External, Kms as Service};
    use KeyUsage::{EncryptDecrypt, SignVerify};
    use MasterKeySpec::{Aes128, Aes256, EcP256, EcP256K, EcSm2, Rsa2048, Rsa3072};
    // (KeySpec, KeyUsage, Origin) as request text → (spec, usage, origin, state, has material).
    let cases = [
        (
            Some("Aliyun_AES_256"),
            Some("ENCRYPT/DECRYPT"),
            Some("Aliyun_KMS"),
            (Aes256, EncryptDecrypt, Service, KeyState::Enabled, true),
        ),
        (
            Some("Aliyun_AES_128"),
            None,
            Some("EXTERNAL"),
            (
                Aes128,
                EncryptDecrypt,
                External,
                KeyState::PendingImport,
                false,
            ),
        ),
        // An asymmetric key without KeyUsage signs (Alibaba's default), and holds its private
        // key from the start.
        (
            Some("RSA_2048"),
            None,
            None,
            (Rsa2048, SignVerify, Service, KeyState::Enabled, true),
        ),
        (
            Some("RSA_3072"),
            Some("ENCRYPT/DECRYPT"),
            None,
            (Rsa3072, EncryptDecrypt, Service, KeyState::Enabled, true),
        ),
        (
            Some("EC_SM2"),
            Some("ENCRYPT/DECRYPT"),
            None,
            (EcSm2, EncryptDecrypt, Service, KeyState::Enabled, true),
        ),
        (
            Some("EC_P256K"),
            None,
            None,
            (EcP256K, SignVerify, Service, KeyState::Enabled, true),
        ),
        (
            Some("RSA_2048"),
            Some("SIGN/VERIFY"),
            None,
            (Rsa2048, SignVerify, Service, KeyState::Enabled, true),
        ),
        (
            Some("EC_P256"),
            Some("SIGN/VERIFY"),
            Some("Aliyun_KMS"),
            (EcP256, SignVerify, Service, KeyState::Enabled, true),
        ),
    ];
    for (spec, usage, origin, expected) in cases {
        let request = params::create_key(spec, usage, origin, None, None).unwrap();
        let m = k.create(&request).unwrap();
        assert_eq!(
            (m.spec, m.usage, m.origin, m.state, m.has_material),
            expected,
            "{spec:?} {usage:?} {origin:?}"
        );
        assert_eq!(k.describe(m.key_id.as_str()).unwrap(), m);
    }
}

#[test]
fn asymmetric_keys_make_no_data_keys() {
    let mut k = Kms::new(5);
    for (spec, usage) in [
        (MasterKeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
        (MasterKeySpec::EcP256, KeyUsage::SignVerify),
    ] {
        let key = k
            .create(&CreateKey::new().with_spec(spec).with_usage(usage))
            .unwrap()
            .key_id;
        assert_row(k.gdk(key.as_str()), Row::unsupported());
    }
}

#[test]
fn create_key_description_limit_counts_characters() {
    let mut k = Kms::new(6);
    let ascii_max = "d".repeat(8192);
    let wide_max = "é".repeat(8192); // 16384 bytes, 8192 characters
    let m = k
        .create(&CreateKey::new().with_description(&ascii_max))
        .unwrap();
    assert_eq!(m.description, ascii_max);
    assert_eq!(
        k.describe(m.key_id.as_str()).unwrap().description,
        ascii_max
    );
    let m = k
        .create(&CreateKey::new().with_description(&wide_max))
        .unwrap();
    assert_eq!(m.description, wide_max);

    for too_long in ["d".repeat(8193), "é".repeat(8193), "日".repeat(8193)] {
        let request = CreateKey::new().with_description(&too_long);
        assert_row(k.create(&request), Row::invalid("Description"));
        let parsed = params::create_key(None, None, None, Some(&too_long), None);
        assert_row(parsed, Row::invalid("Description"));
    }
    // The refused requests made no key.
    assert_eq!(k.all_keys_of(&owner()).len(), 2);
}

#[test]
fn create_key_invalid_parameters() {
    let mut k = Kms::new(7);
    let bad_specs = [
        "",
        "AES_256",
        "AES_128",
        "aliyun_aes_256",
        "Aliyun_AES_512",
        "Aliyun_AES_256 ",
        // Specs Alibaba does not have (RSA_3072, EC_P256K and EC_SM2 it has, since issue 17).
        "RSA_4096",
        "EC_P384",
        "ec_sm2",
    ];
    for spec in bad_specs {
        let r = params::create_key(Some(spec), None, None, None, None);
        assert_row(r, Row::invalid("KeySpec"));
    }
    let bad_usages = [
        (None, "encrypt/decrypt"),
        (None, ""),
        (None, "ENCRYPT"),
        (None, "SIGN/VERIFY"),
        (Some("Aliyun_AES_128"), "SIGN/VERIFY"),
        (Some("EC_P256"), "ENCRYPT/DECRYPT"),
    ];
    for (spec, usage) in bad_usages {
        let r = params::create_key(spec, Some(usage), None, None, None);
        assert_row(r, Row::invalid("KeyUsage"));
    }
    // EC_P256 can only sign; an asymmetric spec's default usage is SIGN/VERIFY (Alibaba's
    // CreateKey: "if the key supports signing the default is SIGN/VERIFY").
    let r = params::create_key(Some("EC_P256"), Some("ENCRYPT/DECRYPT"), None, None, None);
    assert_row(r, Row::invalid("KeyUsage"));
    let r = params::create_key(Some("EC_P256"), None, None, None, None).expect("valid");
    assert_eq!(r.usage, KeyUsage::SignVerify);

    let bad_origins = [
        (None, "external"),
        (None, ""),
        (None, "Aliyun_Kms"),
        (None, "EXTERNAL "),
        (Some("RSA_2048"), "EXTERNAL"),
        (Some("EC_P256"), "EXTERNAL"),
    ];
    for (spec, origin) in bad_origins {
        let usage = (spec == Some("EC_P256")).then_some("SIGN/VERIFY");
        let r = params::create_key(spec, usage, Some(origin), None, None);
        assert_row(r, Row::invalid("Origin"));
    }

    // The typed request is checked by CreateKey itself, whoever built it.
    let typed = [
        (
            CreateKey::new().with_usage(KeyUsage::SignVerify),
            Row::invalid("KeyUsage"),
        ),
        (
            CreateKey::new().with_spec(MasterKeySpec::EcP256),
            Row::invalid("KeyUsage"),
        ),
        (
            CreateKey::new()
                .with_spec(MasterKeySpec::Rsa2048)
                .with_origin(KeyOrigin::External),
            Row::invalid("Origin"),
        ),
    ];
    for (request, row) in typed {
        assert_row(k.create(&request), row);
    }
    assert_eq!(k.all_keys_of(&owner()), Vec::new());
    assert!(k.provider.is_empty());
}

#[test]
fn create_key_parameters_are_checked_in_order() {
    // KeySpec, then KeyUsage against the spec, then Origin, then Description: a request wrong in
    // several reports the first.
    let long = "x".repeat(8193);
    let cases = [
        (
            (
                Some("AES_256"),
                Some("bad"),
                Some("bad"),
                Some(long.as_str()),
            ),
            Row::invalid("KeySpec"),
        ),
        (
            (
                None,
                Some("SIGN/VERIFY"),
                Some("EXTERNAL"),
                Some(long.as_str()),
            ),
            Row::invalid("KeyUsage"),
        ),
        (
            (
                Some("Aliyun_AES_256"),
                Some("SIGN/VERIFY"),
                Some("EXTERNAL"),
                Some(""),
            ),
            Row::invalid("KeyUsage"),
        ),
        (
            (None, None, Some("HSM"), Some(long.as_str())),
            Row::invalid("Origin"),
        ),
    ];
    for ((spec, usage, origin, description), row) in cases {
        let r = params::create_key(spec, usage, origin, description, None);
        assert_row(r, row);
    }
}

#[test]
fn creation_time_is_now_and_displays_in_iso_8601_utc() {
    // Instants and their text, worked out with `date -u -d @SECS +%FT%TZ`.
    let cases = [
        (T0.as_secs(), T0_TEXT),
        (1_709_251_199, "2024-02-29T23:59:59Z"),
        (946_684_799, "1999-12-31T23:59:59Z"),
        (4_107_499_200, "2100-02-28T12:00:00Z"),
        (0, "1970-01-01T00:00:00Z"),
    ];
    let mut k = Kms::new(8);
    for (s, text) in cases {
        k.now = secs(s);
        let m = k.create(&CreateKey::new()).unwrap();
        assert_eq!(m.created, secs(s));
        assert_eq!(Timestamp(m.created).to_string(), text);
        // Later, DescribeKey still reports the creation time, not the time of asking.
        k.now = secs(s + 12_345);
        let later = k.describe(m.key_id.as_str()).unwrap();
        assert_eq!(Timestamp(later.created).to_string(), text);
    }
    // Sub-second parts are kept in the metadata and cut, not rounded, in the text.
    k.now = T0 + core::time::Duration::from_millis(999);
    let m = k.create(&CreateKey::new()).unwrap();
    assert_eq!(m.created, k.now);
    assert_eq!(Timestamp(m.created).to_string(), T0_TEXT);
}

#[test]
fn a_staged_key_is_invisible_until_committed() {
    let mut k = Kms::new(9);
    let staged =
        management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut k.rng, T0).unwrap();
    let key = staged.output().key_id;
    assert_row(k.describe(key.as_str()), Row::key_not_found());
    assert_row(k.gdk(key.as_str()), Row::key_not_found());
    assert_eq!(k.all_keys_of(&owner()), Vec::new());
    assert!(k.provider.is_empty());
    let answer = k.provider.apply(staged).unwrap();
    assert_eq!(answer.key_id, key);
    assert_eq!(k.describe(key.as_str()).unwrap(), answer);
    assert_eq!(k.all_keys_of(&owner()), [key]);
    k.assert_round_trip(key.as_str());
}

#[test]
fn create_key_draws_two_ids_and_the_material_from_the_rng() {
    // A key ID and a version ID (16 random bytes each, RFC 9562 UUID v4) and, for a service
    // key, its material (32 bytes for AES-256, 16 for AES-128); an EXTERNAL key draws no
    // material.
    let cases = [
        (CreateKey::new(), 64),
        (CreateKey::new().with_spec(MasterKeySpec::Aes128), 48),
        (CreateKey::new().with_origin(KeyOrigin::External), 32),
    ];
    for (request, bytes) in cases {
        let k = Kms::new(10);
        let mut counting = CountingRng::new(rng(10));
        let staged = management::create_key(&k.provider, &owner(), &request, &mut counting, T0);
        assert!(staged.is_ok(), "{request:?}");
        assert_eq!(counting.bytes, bytes, "{request:?}");
    }
    // An asymmetric key's private key comes from the same RNG (feature `asymmetric`): an
    // EC_P256 scalar, at least 32 bytes beyond the IDs; an RSA key, its primes' candidates.
    for spec in [MasterKeySpec::EcP256, MasterKeySpec::Rsa2048] {
        let k = Kms::new(10);
        let mut counting = CountingRng::new(rng(10));
        let request = CreateKey::new()
            .with_spec(spec)
            .with_usage(KeyUsage::SignVerify);
        let staged = management::create_key(&k.provider, &owner(), &request, &mut counting, T0);
        assert!(staged.is_ok_and(|s| s.output().has_material), "{spec:?}");
        assert!(counting.bytes >= 64, "{spec:?}: {} bytes", counting.bytes);
    }
}

/// A CreateKey that fails must leave no key behind: a client that retries would make a second
/// one. (A past version drew its RequestId after the key was made, and failed with the key in
/// place.)
#[test]
fn a_create_key_that_fails_at_any_draw_makes_no_key() {
    let mut k = Kms::new(11);
    k.key();
    let before = fingerprint(&k.provider);
    let generation = k.provider.generation();
    // Every budget short of the 64 bytes an AES-256 key draws: before the key ID, inside it,
    // before the version ID, before and inside the material.
    for budget in 0..64 {
        let mut limited = LimitedRng::new(12, budget);
        let r = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut limited, T0);
        assert_row(r, Row::internal());
        assert_eq!(fingerprint(&k.provider), before, "budget {budget}");
        assert_eq!(k.provider.generation(), generation);
        assert_eq!(k.all_keys_of(&owner()).len(), 1);
    }
    // With all 64 bytes it stages a key.
    let mut limited = LimitedRng::new(12, 64);
    let staged = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut limited, T0);
    let key = k.commit(staged).unwrap().key_id;
    k.assert_round_trip(key.as_str());
}

/// Hands out zeros: every UUID it makes is the same.
struct ZeroRng;

impl kms_core::rand_core::TryRng for ZeroRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

impl kms_core::rand_core::TryCryptoRng for ZeroRng {}

#[test]
fn an_id_that_is_taken_is_drawn_again_and_a_broken_rng_gives_up() {
    // The world's key was drawn from seed 13: an RNG that replays that seed draws the same key
    // ID first, and CreateKey draws another (16 more bytes than the 64 of a fresh key).
    let mut k = Kms::new(13);
    let first = k.key();
    let mut replay = CountingRng::new(rng(13));
    let staged = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut replay, T0);
    let second = k.commit(staged).unwrap().key_id;
    assert_ne!(second, first);
    assert_eq!(replay.bytes, 64 + 16);

    // An RNG stuck on one value: the first key takes its UUID, and the next CreateKey gives up
    // with InternalFailure (8 draws of the key ID, then no more) rather than looping.
    let mut k = Kms::new(14);
    let staged = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut ZeroRng, T0);
    let stuck = k.commit(staged).unwrap().key_id;
    assert_eq!(stuck.as_str(), "00000000-0000-4000-8000-000000000000");
    let before = fingerprint(&k.provider);
    let mut counting = CountingRng::new(ZeroRng);
    let r = management::create_key(&k.provider, &owner(), &CreateKey::new(), &mut counting, T0);
    assert_row(r, Row::internal());
    assert_eq!(counting.bytes, 8 * 16);
    assert_eq!(fingerprint(&k.provider), before);
}
