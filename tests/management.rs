//! Key management operations: CreateKey, DescribeKey, ListKeys, CreateKeyVersion,
//! ImportKeyMaterial, the KeyId forms they accept, every error they can produce (statuses, codes
//! and exact messages), and the serde wire names.

mod support_mgmt;

use base64ct::{Base64, Encoding};
use kms_core::management::{
    self, CreateKeyRequest, ImportKeyMaterialRequest, KeyRequest, ScheduleKeyDeletionRequest,
};
use kms_core::{Action, Error, KeyId, Parameter, RequestId};
use support_mgmt::*;

fn is_lowercase_uuid_v4(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
        && b[14] == b'4'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

// ---------------------------------------------------------------------------------------------
// CreateKey

#[test]
fn create_key_defaults() {
    let mut k = Kms::new(1);
    let response = management::create_key(
        &mut k.provider,
        &owner(),
        &CreateKeyRequest::default(),
        &mut k.rng,
        k.now,
    )
    .unwrap();
    let m = &response.key_metadata;
    assert!(is_lowercase_uuid_v4(m.key_id.as_str()), "{}", m.key_id);
    assert_eq!(
        m.arn,
        format!("acs:kms:cn-hangzhou:1234567890123456:key/{}", m.key_id)
    );
    assert_eq!(m.key_state, "Enabled");
    assert_eq!(m.key_spec, "Aliyun_AES_256");
    assert_eq!(m.key_usage, "ENCRYPT/DECRYPT");
    assert_eq!(m.origin, "Aliyun_KMS");
    assert_eq!(m.creation_date, T0_TEXT);
    assert_eq!(m.delete_date, None);
    assert_eq!(m.description, "");
    assert_eq!(m.creator, ACCOUNT);
    assert!(is_lowercase_uuid_v4(response.request_id.as_str()));

    // The one version is the primary, and it seals.
    let versions: Vec<_> = k.provider.versions(&m.key_id).unwrap().collect();
    assert_eq!(versions, [m.primary_key_version]);
    let made = k.assert_round_trip(m.key_id.as_str());
    assert_eq!(made.key_version_id, m.primary_key_version);
    assert_eq!(made.key_id, m.key_id);

    // DescribeKey reports what CreateKey did.
    assert_eq!(&k.describe(m.key_id.as_str()).unwrap(), m);
}

#[test]
fn create_key_echoes_a_supplied_request_id_and_draws_one_otherwise() {
    let mut k = Kms::new(2);
    let supplied = RequestId::parse(b"0f0e0d0c-0b0a-4908-8706-050403020100").unwrap();
    let request = CreateKeyRequest {
        request_id: Some(supplied),
        ..CreateKeyRequest::default()
    };
    let r = management::create_key(&mut k.provider, &owner(), &request, &mut k.rng, k.now);
    assert_eq!(r.unwrap().request_id, supplied);
    let a = management::create_key(
        &mut k.provider,
        &owner(),
        &CreateKeyRequest::default(),
        &mut k.rng,
        k.now,
    )
    .unwrap();
    let b = management::create_key(
        &mut k.provider,
        &owner(),
        &CreateKeyRequest::default(),
        &mut k.rng,
        k.now,
    )
    .unwrap();
    assert_ne!(a.request_id, b.request_id);
    assert_ne!(a.key_metadata.key_id, b.key_metadata.key_id);
    assert_ne!(
        a.key_metadata.primary_key_version,
        b.key_metadata.primary_key_version
    );
}

#[test]
fn create_key_aes_128_seals_with_16_bytes_of_material() {
    let mut k = Kms::new(3);
    let m = k
        .create(&CreateKeyRequest {
            key_spec: Some("Aliyun_AES_128"),
            ..CreateKeyRequest::default()
        })
        .unwrap();
    assert_eq!(m.key_spec, "Aliyun_AES_128");
    assert_eq!(m.key_state, "Enabled");
    assert_eq!(m.origin, "Aliyun_KMS");
    k.assert_round_trip(m.key_id.as_str());
}

#[test]
fn create_key_explicit_values_and_asymmetric_specs() {
    let mut k = Kms::new(4);
    // (KeySpec, KeyUsage, Origin) → (KeySpec, KeyUsage, Origin, KeyState) reported.
    let cases = [
        (
            Some("Aliyun_AES_256"),
            Some("ENCRYPT/DECRYPT"),
            Some("Aliyun_KMS"),
            ("Aliyun_AES_256", "ENCRYPT/DECRYPT", "Aliyun_KMS", "Enabled"),
        ),
        (
            Some("Aliyun_AES_128"),
            None,
            Some("EXTERNAL"),
            (
                "Aliyun_AES_128",
                "ENCRYPT/DECRYPT",
                "EXTERNAL",
                "PendingImport",
            ),
        ),
        (
            Some("RSA_2048"),
            None,
            None,
            ("RSA_2048", "ENCRYPT/DECRYPT", "Aliyun_KMS", "Enabled"),
        ),
        (
            Some("RSA_2048"),
            Some("SIGN/VERIFY"),
            None,
            ("RSA_2048", "SIGN/VERIFY", "Aliyun_KMS", "Enabled"),
        ),
        (
            Some("EC_P256"),
            Some("SIGN/VERIFY"),
            Some("Aliyun_KMS"),
            ("EC_P256", "SIGN/VERIFY", "Aliyun_KMS", "Enabled"),
        ),
    ];
    for (spec, usage, origin, expected) in cases {
        let m = k
            .create(&CreateKeyRequest {
                key_spec: spec,
                key_usage: usage,
                origin,
                ..CreateKeyRequest::default()
            })
            .unwrap();
        assert_eq!(
            (
                m.key_spec.as_str(),
                m.key_usage.as_str(),
                m.origin.as_str(),
                m.key_state.as_str()
            ),
            expected
        );
    }
}

#[test]
fn asymmetric_keys_make_no_data_keys() {
    let mut k = Kms::new(5);
    for (spec, usage) in [("RSA_2048", None), ("EC_P256", Some("SIGN/VERIFY"))] {
        let key = k
            .create(&CreateKeyRequest {
                key_spec: Some(spec),
                key_usage: usage,
                ..CreateKeyRequest::default()
            })
            .unwrap()
            .key_id;
        assert_unsupported(k.gdk(key.as_str()));
    }
}

#[test]
fn create_key_description_limit_counts_characters() {
    let mut k = Kms::new(6);
    let ascii_max = "d".repeat(8192);
    let wide_max = "é".repeat(8192); // 16384 bytes, 8192 characters
    let m = k
        .create(&CreateKeyRequest {
            description: Some(&ascii_max),
            ..CreateKeyRequest::default()
        })
        .unwrap();
    assert_eq!(m.description, ascii_max);
    assert_eq!(
        k.describe(m.key_id.as_str()).unwrap().description,
        ascii_max
    );
    let m = k
        .create(&CreateKeyRequest {
            description: Some(&wide_max),
            ..CreateKeyRequest::default()
        })
        .unwrap();
    assert_eq!(m.description, wide_max);

    for too_long in ["d".repeat(8193), "é".repeat(8193), "日".repeat(8193)] {
        assert_invalid(
            k.create(&CreateKeyRequest {
                description: Some(&too_long),
                ..CreateKeyRequest::default()
            }),
            "Description",
        );
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
        "RSA_3072",
        "EC_SM2",
    ];
    for spec in bad_specs {
        let r = k.create(&CreateKeyRequest {
            key_spec: Some(spec),
            ..CreateKeyRequest::default()
        });
        assert_invalid(r, "KeySpec");
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
        let r = k.create(&CreateKeyRequest {
            key_spec: spec,
            key_usage: Some(usage),
            ..CreateKeyRequest::default()
        });
        assert_invalid(r, "KeyUsage");
    }
    // EC_P256 can only sign, and the default usage is ENCRYPT/DECRYPT.
    let r = k.create(&CreateKeyRequest {
        key_spec: Some("EC_P256"),
        ..CreateKeyRequest::default()
    });
    assert_invalid(r, "KeyUsage");

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
        let r = k.create(&CreateKeyRequest {
            key_spec: spec,
            key_usage: usage,
            origin: Some(origin),
            ..CreateKeyRequest::default()
        });
        assert_invalid(r, "Origin");
    }
    assert_eq!(k.all_keys_of(&owner()), Vec::<KeyId>::new());
}

#[test]
fn creation_date_is_now_in_iso_8601_utc() {
    // Instants and their text, worked out with `date -u -d @SECS +%FT%TZ`.
    let cases = [
        (T0_SECS, T0_TEXT),
        (1_709_251_199, "2024-02-29T23:59:59Z"),
        (946_684_799, "1999-12-31T23:59:59Z"),
        (4_107_499_200, "2100-02-28T12:00:00Z"),
        (0, "1970-01-01T00:00:00Z"),
    ];
    let mut k = Kms::new(8);
    for (s, text) in cases {
        k.now = secs(s);
        let m = k.create(&CreateKeyRequest::default()).unwrap();
        assert_eq!(m.creation_date, text);
        // Later, DescribeKey still reports the creation time, not the time of asking.
        k.now = secs(s + 12_345);
        assert_eq!(k.describe(m.key_id.as_str()).unwrap().creation_date, text);
    }
    // Sub-second parts are cut, not rounded.
    k.now = secs(T0_SECS) + core::time::Duration::from_millis(999);
    let m = k.create(&CreateKeyRequest::default()).unwrap();
    assert_eq!(m.creation_date, T0_TEXT);
}

#[test]
fn a_failed_create_key_makes_no_key() {
    // The RNG fails before the key ID, or before the material.
    for budget in [0, 16, 40] {
        let mut k = Kms::new(9);
        let mut rng = LimitedRng::new(9, budget);
        let r = management::create_key(
            &mut k.provider,
            &owner(),
            &CreateKeyRequest::default(),
            &mut rng,
            k.now,
        );
        assert_internal(r);
        assert!(k.provider.is_empty(), "budget {budget}");
        assert_eq!(k.list_keys_as(&owner(), None, None).unwrap().total_count, 0);
    }
}

/// A CreateKey that reports `InternalFailure` must not have made a key: a client that retries
/// would make a second one. (Found here: the RequestId used to be drawn after the key was made.)
#[test]
fn create_key_that_reports_internal_failure_has_made_no_key() {
    let mut k = Kms::new(10);
    // Exactly enough for the key ID (16 bytes), the version ID (16) and the material (32); the
    // RequestId's 16 bytes are not there.
    let mut rng = LimitedRng::new(10, 64);
    let r = management::create_key(
        &mut k.provider,
        &owner(),
        &CreateKeyRequest::default(),
        &mut rng,
        k.now,
    );
    assert_internal(r);
    assert_eq!(
        k.all_keys_of(&owner()),
        Vec::<KeyId>::new(),
        "CreateKey returned InternalFailure but left a key behind"
    );
}

/// Everything a failed operation could have changed about the owner's keys and aliases.
fn snapshot_of(
    k: &mut Kms,
) -> (
    Vec<kms_core::management::KeyMetadata>,
    Vec<(String, KeyId)>,
    usize,
) {
    let keys = k.all_keys_of(&owner());
    let described = keys
        .iter()
        .map(|key| k.describe(key.as_str()).unwrap())
        .collect();
    let versions = keys
        .iter()
        .map(|key| k.provider.versions(key).unwrap().count())
        .sum();
    (described, k.all_aliases_of(&owner()), versions)
}

fn key(id: &KeyId) -> KeyRequest<'_> {
    KeyRequest::new(id.as_str())
}

fn alias<'a>(name: &'a str, id: &'a KeyId) -> management::AliasRequest<'a> {
    management::AliasRequest {
        alias_name: Some(name),
        key_id: Some(id.as_str()),
        request_id: None,
    }
}

#[test]
fn a_mutation_that_reports_internal_failure_has_changed_nothing() {
    // Every mutating operation, with an RNG that fails at its first draw, or (for those that
    // draw more) part-way. Whatever it reports as InternalFailure must have left no trace.
    let names = [
        "CreateKey",
        "EnableKey",
        "DisableKey",
        "ScheduleKeyDeletion",
        "CancelKeyDeletion",
        "CreateAlias",
        "UpdateAlias",
        "DeleteAlias",
        "CreateKeyVersion",
        "ImportKeyMaterial",
    ];
    for budget in [0, 16, 32, 48, 64] {
        for (op, name) in names.iter().enumerate() {
            let mut k = Kms::new(60);
            let enabled = k.key();
            let disabled = k.key();
            k.disable(disabled.as_str()).unwrap();
            let pending = k.key();
            k.schedule(pending.as_str(), "7").unwrap();
            let external = k.external_key("Aliyun_AES_256");
            k.create_alias("alias/x", enabled.as_str()).unwrap();
            let before = snapshot_of(&mut k);
            let mut failing = LimitedRng::new(61, budget);
            let (p, c, now) = (&mut k.provider, owner(), k.now);
            let material = Base64::encode_string(&[3u8; 32]);
            let r: Result<(), Error> = match op {
                0 => management::create_key(p, &c, &CreateKeyRequest::default(), &mut failing, now)
                    .map(drop),
                1 => management::enable_key(p, &c, &key(&disabled), &mut failing, now).map(drop),
                2 => management::disable_key(p, &c, &key(&enabled), &mut failing, now).map(drop),
                3 => management::schedule_key_deletion(
                    p,
                    &c,
                    &ScheduleKeyDeletionRequest {
                        key_id: Some(enabled.as_str()),
                        pending_window_in_days: Some("7"),
                        request_id: None,
                    },
                    &mut failing,
                    now,
                )
                .map(drop),
                4 => management::cancel_key_deletion(p, &c, &key(&pending), &mut failing, now)
                    .map(drop),
                5 => {
                    management::create_alias(p, &c, &alias("alias/y", &enabled), &mut failing, now)
                        .map(drop)
                }
                6 => {
                    management::update_alias(p, &c, &alias("alias/x", &disabled), &mut failing, now)
                        .map(drop)
                }
                7 => {
                    management::delete_alias(p, &c, &alias("alias/x", &enabled), &mut failing, now)
                        .map(drop)
                }
                8 => management::create_key_version(p, &c, &key(&enabled), &mut failing, now)
                    .map(drop),
                _ => management::import_key_material(
                    p,
                    &c,
                    &ImportKeyMaterialRequest {
                        key_id: Some(external.as_str()),
                        key_material: Some(&material),
                        request_id: None,
                    },
                    &mut failing,
                    now,
                )
                .map(drop),
            };
            match r {
                Err(e) => {
                    assert_internal::<()>(Err(e));
                    assert_eq!(snapshot_of(&mut k), before, "{name}, budget {budget}");
                }
                // Enough randomness for the whole operation: it must have done something.
                Ok(()) => assert_ne!(snapshot_of(&mut k), before, "{name}, budget {budget}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// EXTERNAL keys and ImportKeyMaterial

#[test]
fn external_key_waits_for_material_then_works() {
    for (spec, len) in [("Aliyun_AES_256", 32), ("Aliyun_AES_128", 16)] {
        let mut k = Kms::new(11);
        let key = k.external_key(spec);
        let text = key.to_string();
        let m = k.describe(&text).unwrap();
        assert_eq!(m.key_state, "PendingImport");
        assert_eq!(m.origin, "EXTERNAL");
        assert_eq!(m.key_spec, spec);
        assert_rejected(k.gdk(&text), "PendingImport");

        let material: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        k.import(&text, &material).unwrap();
        let after = k.describe(&text).unwrap();
        assert_eq!(after.key_state, "Enabled");
        assert_eq!(after.primary_key_version, m.primary_key_version);

        // The imported material is what seals: bare AES-GCM opens the blob with it.
        let made = k.assert_round_trip(&text);
        assert_eq!(made.key_version_id, m.primary_key_version);
        let opened = open_with_material(&material, &made.ciphertext_blob).expect("opens");
        assert_eq!(opened, made.plaintext.expose().as_bytes());
        let mut wrong = material.clone();
        wrong[0] ^= 1;
        assert_eq!(open_with_material(&wrong, &made.ciphertext_blob), None);
    }
}

#[test]
fn import_key_material_is_refused_once_imported_and_keeps_the_first_material() {
    let mut k = Kms::new(12);
    let key = k.external_key("Aliyun_AES_256");
    let text = key.to_string();
    let first = [0x11u8; 32];
    k.import(&text, &first).unwrap();
    let before = k.gdk(&text).unwrap();
    assert_state_refused(k.import(&text, &[0x22u8; 32]));
    assert_eq!(k.state(&key), "Enabled");
    let after = k.gdk(&text).unwrap();
    assert!(open_with_material(&first, &after.ciphertext_blob).is_some());
    assert!(open_with_material(&[0x22u8; 32], &after.ciphertext_blob).is_none());
    k.decrypt(&before.ciphertext_blob).unwrap();
}

#[test]
fn import_key_material_invalid_and_missing() {
    let mut k = Kms::new(13);
    let k256 = k.external_key("Aliyun_AES_256").to_string();
    let k128 = k.external_key("Aliyun_AES_128").to_string();
    let b64 = |n: usize| Base64::encode_string(&vec![7u8; n]);
    let canonical_32 = b64(32);
    // 32 bytes of 7 are "BwcH" ten times then "Bwc=": the 'c' carries two unused zero bits.
    // Setting one ('d') decodes to the same bytes in a lax decoder, but is not canonical.
    assert_eq!(canonical_32, format!("{}Bwc=", "BwcH".repeat(10)));
    let non_canonical_32 = format!("{}Bwd=", "BwcH".repeat(10));
    let invalid_for_256 = [
        String::new(),
        "not base64!".to_string(),
        "AAAA AAAA".to_string(),
        canonical_32.trim_end_matches('=').to_string(),
        non_canonical_32,
        b64(1),
        b64(15),
        b64(17),
        b64(24),
        b64(31),
        b64(33),
        b64(64),
        b64(16), // an AES-128 length for an AES-256 key
        format!("{canonical_32}\n"),
    ];
    for material in &invalid_for_256 {
        assert_invalid(
            k.import_as(&owner(), Some(&k256), Some(material)),
            "KeyMaterial",
        );
    }
    for material in [b64(32), b64(15), "%%%%".to_string()] {
        assert_invalid(
            k.import_as(&owner(), Some(&k128), Some(&material)),
            "KeyMaterial",
        );
    }
    assert_missing(k.import_as(&owner(), Some(&k256), None), "KeyMaterial");
    // Nothing was imported.
    assert_eq!(k.state(&KeyId::parse(&k256).unwrap()), "PendingImport");
    assert_eq!(k.state(&KeyId::parse(&k128).unwrap()), "PendingImport");
    // The right lengths then go in.
    k.import(&k256, &[1u8; 32]).unwrap();
    k.import(&k128, &[1u8; 16]).unwrap();
    k.assert_round_trip(&k256);
    k.assert_round_trip(&k128);
}

#[test]
fn import_key_material_into_a_kms_key_is_refused() {
    let mut k = Kms::new(14);
    let key = k.key();
    let text = key.to_string();
    let before = k.gdk(&text).unwrap();
    assert_state_refused(k.import(&text, &[3u8; 32]));
    assert_state_refused(k.import(&text, &[3u8; 16]));
    // The key's own material still seals and opens.
    let after = k.gdk(&text).unwrap();
    assert!(open_with_material(&[3u8; 32], &after.ciphertext_blob).is_none());
    k.decrypt(&before.ciphertext_blob).unwrap();
    k.decrypt(&after.ciphertext_blob).unwrap();
}

// ---------------------------------------------------------------------------------------------
// CreateKeyVersion

#[test]
fn create_key_version_rotates_and_old_blobs_still_decrypt() {
    let mut k = Kms::new(15);
    for spec in ["Aliyun_AES_256", "Aliyun_AES_128"] {
        k.now = secs(T0_SECS);
        let key = k
            .create(&CreateKeyRequest {
                key_spec: Some(spec),
                ..CreateKeyRequest::default()
            })
            .unwrap()
            .key_id;
        let text = key.to_string();
        let mut blobs = vec![k.assert_round_trip(&text)];
        let mut versions = vec![k.describe(&text).unwrap().primary_key_version];
        for i in 1..=3u64 {
            k.now = secs(T0_SECS + i * DAY_SECS);
            let v = k.rotate(&text).unwrap();
            assert_eq!(v.key_id, key);
            assert!(!versions.contains(&v.key_version_id));
            let expected_date = [
                "2024-05-15T08:24:13Z",
                "2024-05-16T08:24:13Z",
                "2024-05-17T08:24:13Z",
            ][i as usize - 1];
            assert_eq!(v.creation_date, expected_date);
            let m = k.describe(&text).unwrap();
            assert_eq!(m.primary_key_version, v.key_version_id);
            assert_eq!(m.creation_date, T0_TEXT, "the key's own date does not move");
            versions.push(v.key_version_id);
            let made = k.assert_round_trip(&text);
            assert_eq!(made.key_version_id, v.key_version_id);
            blobs.push(made);
        }
        let listed: Vec<_> = k.provider.versions(&key).unwrap().collect();
        assert_eq!(listed, versions);
        for (blob, v) in blobs.iter().zip(&versions) {
            let opened = k.decrypt(&blob.ciphertext_blob).unwrap();
            assert_eq!(opened.key_version_id, *v);
            assert_eq!(opened.key_id, key);
            assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
        }
    }
}

#[test]
fn create_key_version_by_alias_and_arn_reports_the_canonical_key_id() {
    let mut k = Kms::new(16);
    let key = k.key();
    k.create_alias("alias/rotating", key.as_str()).unwrap();
    let forms = [
        "alias/rotating".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/rotating"),
    ];
    for form in &forms {
        let v = k.rotate(form).unwrap();
        assert_eq!(v.key_id, key);
        assert_eq!(
            k.describe(key.as_str()).unwrap().primary_key_version,
            v.key_version_id
        );
    }
    assert_eq!(k.provider.versions(&key).unwrap().count(), 4);
}

#[test]
fn create_key_version_unsupported_for_keys_without_own_material() {
    let mut k = Kms::new(17);
    let external = k.external_key("Aliyun_AES_256");
    k.import(external.as_str(), &[9u8; 32]).unwrap();
    let external_128 = k.external_key("Aliyun_AES_128");
    k.import(external_128.as_str(), &[9u8; 16]).unwrap();
    let rsa = k
        .create(&CreateKeyRequest {
            key_spec: Some("RSA_2048"),
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_id;
    let ec = k
        .create(&CreateKeyRequest {
            key_spec: Some("EC_P256"),
            key_usage: Some("SIGN/VERIFY"),
            ..CreateKeyRequest::default()
        })
        .unwrap()
        .key_id;
    for key in [external, external_128, rsa, ec] {
        let before = k.describe(key.as_str()).unwrap();
        assert_unsupported(k.rotate(key.as_str()));
        let after = k.describe(key.as_str()).unwrap();
        assert_eq!(after, before);
        assert_eq!(k.provider.versions(&key).unwrap().count(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// KeyId forms

#[test]
fn describe_key_accepts_every_key_id_form() {
    let mut k = Kms::new(18);
    let key = k.key();
    let _decoy = k.key();
    k.create_alias("alias/app/main", key.as_str()).unwrap();
    let expected = k.describe(key.as_str()).unwrap();
    assert_eq!(expected.key_id, key);
    for form in [
        "alias/app/main".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/app/main"),
    ] {
        assert_eq!(k.describe(&form).unwrap(), expected, "{form}");
    }
}

#[test]
fn state_changes_accept_every_key_id_form() {
    let mut k = Kms::new(19);
    let key = k.key();
    k.create_alias("alias/x", key.as_str()).unwrap();
    let forms = [
        key.to_string(),
        "alias/x".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/x"),
    ];
    for form in &forms {
        k.disable(form).unwrap();
        assert_eq!(k.state(&key), "Disabled", "{form}");
        k.enable(form).unwrap();
        assert_eq!(k.state(&key), "Enabled", "{form}");
        k.schedule(form, "7").unwrap();
        assert_eq!(k.state(&key), "PendingDeletion", "{form}");
        k.cancel(form).unwrap();
        assert_eq!(k.state(&key), "Enabled", "{form}");
    }
    let external = k.external_key("Aliyun_AES_256");
    k.create_alias("alias/ext", external.as_str()).unwrap();
    k.import("alias/ext", &[4u8; 32]).unwrap();
    assert_eq!(k.state(&external), "Enabled");
}

// ---------------------------------------------------------------------------------------------
// ListKeys

#[test]
fn list_keys_defaults_and_empty() {
    let mut k = Kms::new(20);
    let r = k.list_keys_as(&owner(), None, None).unwrap();
    assert_eq!(
        (r.total_count, r.page_number, r.page_size, r.keys.key.len()),
        (0, 1, 10, 0)
    );
    let keys: Vec<KeyId> = (0..12).map(|_| k.key()).collect();
    let r = k.list_keys_as(&owner(), None, None).unwrap();
    assert_eq!((r.total_count, r.page_number, r.page_size), (12, 1, 10));
    let listed: Vec<KeyId> = r.keys.key.iter().map(|e| e.key_id).collect();
    assert_eq!(listed, keys[..10]);
    for e in &r.keys.key {
        assert_eq!(e.key_arn, key_arn(REGION, ACCOUNT, &e.key_id));
    }
}

#[test]
fn list_keys_pages_oldest_first_per_account_and_region() {
    let mut k = Kms::new(21);
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    let mut far = Vec::new();
    for i in 0..25 {
        k.now = secs(T0_SECS + i);
        mine.push(k.key());
        if i % 3 == 0 {
            theirs.push(k.key_of(&other()));
        }
        if i % 4 == 0 {
            far.push(k.key_of(&elsewhere()));
        }
    }
    for size in [1usize, 7, 10, 24, 25, 26, 100] {
        let mut seen = Vec::new();
        let pages = 25usize.div_ceil(size);
        for page in 1..=pages + 1 {
            let r = k
                .list_keys_as(&owner(), Some(&page.to_string()), Some(&size.to_string()))
                .unwrap();
            assert_eq!(r.total_count, 25);
            assert_eq!((r.page_number, r.page_size), (page, size));
            let expected_len = if page <= pages {
                size.min(25 - (page - 1) * size)
            } else {
                0
            };
            assert_eq!(r.keys.key.len(), expected_len, "size {size} page {page}");
            seen.extend(r.keys.key.iter().map(|e| e.key_id));
        }
        assert_eq!(seen, mine, "size {size}");
    }
    assert_eq!(k.all_keys_of(&other()), theirs);
    assert_eq!(k.all_keys_of(&elsewhere()), far);
    let stranger = kms_core::Caller::new("1111111111111111", REGION);
    assert_eq!(
        k.list_keys_as(&stranger, None, None).unwrap().total_count,
        0
    );
    // A page far past the end is empty, not an error.
    let r = k
        .list_keys_as(&owner(), Some("999999999"), Some("100"))
        .unwrap();
    assert_eq!((r.total_count, r.keys.key.len()), (25, 0));
}

#[test]
fn list_keys_drops_deleted_keys_and_keeps_order() {
    let mut k = Kms::new(22);
    let keys: Vec<KeyId> = (0..6).map(|_| k.key()).collect();
    for i in [1, 4] {
        k.schedule(keys[i].as_str(), "7").unwrap();
    }
    // Pending deletion still lists.
    assert_eq!(k.all_keys_of(&owner()), keys);
    k.now += secs(7 * DAY_SECS + 1);
    let expected = [keys[0], keys[2], keys[3], keys[5]];
    assert_eq!(k.all_keys_of(&owner()), expected);
    assert_eq!(k.list_keys_as(&owner(), None, None).unwrap().total_count, 4);
    let newer = k.key();
    let mut expected = expected.to_vec();
    expected.push(newer);
    assert_eq!(k.all_keys_of(&owner()), expected);
}

#[test]
fn list_keys_and_list_aliases_invalid_paging() {
    let mut k = Kms::new(23);
    k.key();
    let bad_numbers = ["0", "x", "", "-1", "+1", "1.0", " 1", "1 ", "١"];
    let bad_sizes = ["0", "101", "x", "", "-5", "10.5", "1000"];
    for n in bad_numbers {
        assert_invalid(k.list_keys_as(&owner(), Some(n), None), "PageNumber");
        assert_invalid(k.list_aliases_as(&owner(), Some(n), None), "PageNumber");
    }
    for s in bad_sizes {
        assert_invalid(k.list_keys_as(&owner(), None, Some(s)), "PageSize");
        assert_invalid(k.list_aliases_as(&owner(), None, Some(s)), "PageSize");
    }
    for s in ["1", "100"] {
        assert_eq!(
            k.list_keys_as(&owner(), None, Some(s)).unwrap().page_size,
            s.parse::<usize>().unwrap()
        );
        k.list_aliases_as(&owner(), None, Some(s)).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: KeyId

/// Runs every management operation that takes a `KeyId` with `key_id` (the other parameters
/// valid), as `caller`, and returns each operation's name and error (or `None` on success).
fn every_key_operation(
    k: &mut Kms,
    caller: &kms_core::Caller<'_>,
    key_id: Option<&str>,
) -> Vec<(&'static str, Result<(), Error>)> {
    let describe = management::describe_key(
        &mut k.provider,
        caller,
        &KeyRequest {
            key_id,
            request_id: None,
        },
        &mut k.rng,
        k.now,
    )
    .map(drop);
    let material = Base64::encode_string(&[5u8; 32]);
    // An alias name no test uses, so the alias step passes.
    vec![
        ("DescribeKey", describe),
        ("EnableKey", k.enable_as(caller, key_id)),
        ("DisableKey", k.disable_as(caller, key_id)),
        (
            "ScheduleKeyDeletion",
            k.schedule_as(caller, key_id, Some("7")),
        ),
        ("CancelKeyDeletion", k.cancel_as(caller, key_id)),
        ("CreateKeyVersion", k.rotate_as(caller, key_id).map(drop)),
        (
            "ImportKeyMaterial",
            k.import_as(caller, key_id, Some(&material)),
        ),
        (
            "CreateAlias",
            k.create_alias_as(caller, Some("alias/unused-by-tests"), key_id),
        ),
        (
            "UpdateAlias",
            k.update_alias_as(caller, Some("alias/existing"), key_id),
        ),
    ]
}

/// A world where the owner has a key and `alias/existing` names it.
fn world_with_alias(seed: u64) -> (Kms, KeyId) {
    let mut k = Kms::new(seed);
    let key = k.key();
    k.create_alias("alias/existing", key.as_str()).unwrap();
    (k, key)
}

#[test]
fn missing_key_id() {
    let (mut k, key) = world_with_alias(30);
    for (op, r) in every_key_operation(&mut k, &owner(), None) {
        let err = expect_err(r);
        assert_eq!(err, Error::MissingParameter(Parameter::KeyId), "{op}");
        assert_missing::<()>(Err(err), "KeyId");
    }
    assert_eq!(k.state(&key), "Enabled");
}

#[test]
fn invalid_key_id() {
    let (mut k, key) = world_with_alias(31);
    let too_long = "k".repeat(2049);
    let too_long_alias = format!("alias/{}", "a".repeat(2043));
    let invalid = [
        "",
        "é",
        "key-é",
        too_long.as_str(),
        too_long_alias.as_str(),
        "acs:kms:cn-hangzhou:1234567890123456:key/not-a-key",
        "acs:kms:cn-hangzhou:1234567890123456:key/",
        "acs:kms:cn-hangzhou:1234567890123456:alias/",
        "acs:kms:cn-hangzhou:1234567890123456:alias/acs key",
        "acs:kms:cn-hangzhou:12345678901234ab:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms::1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms:CN-HANGZHOU:1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:ecs:cn-hangzhou:1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms:cn-hangzhou:1234567890123456",
        "acs:",
    ];
    for text in invalid {
        for (op, r) in every_key_operation(&mut k, &owner(), Some(text)) {
            let err = expect_err(r);
            assert_eq!(
                err,
                Error::InvalidParameter(Parameter::KeyId),
                "{op} {text:.60}"
            );
            assert_invalid::<()>(Err(err), "KeyId");
        }
    }
    assert_eq!(k.state(&key), "Enabled");
}

#[test]
fn key_not_found() {
    let (mut k, key) = world_with_alias(32);
    let theirs = k.key_of(&other());
    let far = k.key_of(&elsewhere());
    let at_limit = format!("key-{}", "a".repeat(2044)); // 2048 bytes: well-formed, names nothing
    let names = [
        UNKNOWN_KEY_ID.to_string(),
        UNKNOWN_KEY_ID_SHORT.to_string(),
        UNKNOWN_KEY_ID.to_uppercase(),
        format!(" {key}"),
        "not-a-key-id".to_string(),
        at_limit,
        key_arn(REGION, ACCOUNT, &KeyId::parse(UNKNOWN_KEY_ID).unwrap()),
        // The owner's own key, by an ARN of another region.
        key_arn(OTHER_REGION, ACCOUNT, &key),
        // Another account's key by bare ID: IDs resolve in the caller's own account.
        theirs.to_string(),
        // The owner's key of another region, by bare ID.
        far.to_string(),
    ];
    for name in &names {
        for (op, r) in every_key_operation(&mut k, &owner(), Some(name)) {
            let err = expect_err(r);
            assert_eq!(err, Error::KeyNotFound, "{op} {name:.60}");
            assert_key_not_found::<()>(Err(err));
        }
    }
    assert_eq!(k.state(&key), "Enabled");
    // The owner's key asked for from the other region, by bare ID and by its own ARN.
    for name in [key.to_string(), key_arn(REGION, ACCOUNT, &key)] {
        for (op, r) in every_key_operation(&mut k, &elsewhere(), Some(&name)) {
            let err = expect_err(r);
            assert_eq!(err, Error::KeyNotFound, "{op} {name}");
        }
    }
    assert_eq!(k.state(&key), "Enabled");
}

#[test]
fn alias_not_found_through_key_id() {
    let (mut k, key) = world_with_alias(33);
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), Some("alias/theirs"), Some(theirs.as_str()))
        .unwrap();
    let names = [
        "alias/none".to_string(),
        "alias/Existing".to_string(),
        "alias/existing/".to_string(),
        "alias/".to_string(),
        "alias/acs/anything".to_string(),
        "alias/a b".to_string(),
        // Another account's alias, by bare name: aliases resolve in the caller's account.
        "alias/theirs".to_string(),
        alias_arn(REGION, ACCOUNT, "alias/none"),
        // The owner's own alias, by an ARN of another region.
        alias_arn(OTHER_REGION, ACCOUNT, "alias/existing"),
    ];
    for name in &names {
        for (op, r) in every_key_operation(&mut k, &owner(), Some(name)) {
            let err = expect_err(r);
            assert_eq!(err, Error::AliasNotFound, "{op} {name}");
            assert_alias_not_found::<()>(Err(err));
        }
    }
    // From the other region, the owner's alias names nothing.
    for (op, r) in every_key_operation(&mut k, &elsewhere(), Some("alias/existing")) {
        assert_eq!(expect_err(r), Error::AliasNotFound, "{op}");
    }
    assert_eq!(k.state(&key), "Enabled");
}

#[test]
fn another_accounts_key_is_no_permission_even_with_a_data_key_policy() {
    let mut k = Kms::new(34);
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), Some("alias/shared"), Some(theirs.as_str()))
        .unwrap();
    k.create_alias_as(&other(), Some("alias/existing"), Some(theirs.as_str()))
        .unwrap();
    let external = k
        .create_as(
            &other(),
            &CreateKeyRequest {
                origin: Some("EXTERNAL"),
                ..CreateKeyRequest::default()
            },
        )
        .unwrap()
        .key_id;
    // The owner needs an alias of its own for UpdateAlias to reach the key check.
    let mine = k.key();
    k.create_alias("alias/existing", mine.as_str()).unwrap();

    // 0: no grant; 1: every data-key action; 2: GenerateDataKey and Decrypt only.
    for g in 0..3 {
        for key in [theirs, external] {
            match g {
                1 => k.provider.allow_account(&key, ACCOUNT).unwrap(),
                2 => k
                    .provider
                    .set_policy(&key, ACCOUNT, &[Action::GenerateDataKey, Action::Decrypt])
                    .unwrap(),
                _ => {}
            }
        }
        let before = k.describe_as(&other(), theirs.as_str()).unwrap();
        let names = [
            key_arn(REGION, OTHER_ACCOUNT, &theirs),
            alias_arn(REGION, OTHER_ACCOUNT, "alias/shared"),
        ];
        for name in &names {
            for (op, r) in every_key_operation(&mut k, &owner(), Some(name)) {
                let err = expect_err(r);
                assert_eq!(err, Error::NoPermission, "grant {g}: {op} {name}");
                assert_no_permission::<()>(Err(err));
            }
        }
        let arn = key_arn(REGION, OTHER_ACCOUNT, &external);
        let material = Base64::encode_string(&[5u8; 32]);
        assert_no_permission(k.import_as(&owner(), Some(&arn), Some(&material)));
        assert_eq!(
            k.describe_as(&other(), external.as_str())
                .unwrap()
                .key_state,
            "PendingImport"
        );

        // Nothing about the key changed, and the owner's alias still names the owner's key.
        assert_eq!(k.describe_as(&other(), theirs.as_str()).unwrap(), before);
        assert_eq!(k.provider.versions(&theirs).unwrap().count(), 1);
        assert_eq!(k.describe("alias/existing").unwrap().key_id, mine);
        assert_eq!(
            k.all_aliases_of(&owner()),
            [("alias/existing".to_string(), mine)]
        );

        // The grant is real: the data-key path lets the owner use the key (or refuses without it).
        let gdk = k.gdk(&key_arn(REGION, OTHER_ACCOUNT, &theirs));
        if g == 0 {
            assert_no_permission(gdk);
        } else {
            let made = gdk.unwrap();
            assert_eq!(made.key_id, theirs);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors: other parameters

#[test]
fn schedule_key_deletion_window_parameter() {
    let mut k = Kms::new(40);
    let key = k.key();
    let text = key.to_string();
    assert_missing(
        k.schedule_as(&owner(), Some(&text), None),
        "PendingWindowInDays",
    );
    let invalid = [
        "6",
        "0",
        "367",
        "1000",
        "",
        "x",
        "-7",
        "+7",
        "7.0",
        " 7",
        "7 ",
        "07a",
        "١٠",
        "1e1",
        "99999999999999999999",
    ];
    for days in invalid {
        assert_invalid(k.schedule(&text, days), "PendingWindowInDays");
        assert_eq!(k.state(&key), "Enabled", "{days:?}");
        assert_eq!(k.describe(&text).unwrap().delete_date, None);
    }
    for days in ["7", "30", "366"] {
        k.schedule(&text, days).unwrap();
        assert_eq!(k.state(&key), "PendingDeletion");
        k.cancel(&text).unwrap();
    }
}

#[test]
fn missing_and_invalid_alias_name() {
    let (mut k, key) = world_with_alias(41);
    let text = key.to_string();
    assert_missing(k.create_alias_as(&owner(), None, Some(&text)), "AliasName");
    assert_missing(k.update_alias_as(&owner(), None, Some(&text)), "AliasName");
    assert_missing(k.delete_alias_as(&owner(), None), "AliasName");
    // AliasName is checked before KeyId.
    assert_missing(k.create_alias_as(&owner(), None, None), "AliasName");
    assert_invalid(
        k.create_alias_as(&owner(), Some("alias/acs"), Some(UNKNOWN_KEY_ID)),
        "AliasName",
    );
    assert_invalid(
        k.update_alias_as(&owner(), Some("alias"), Some("")),
        "AliasName",
    );
}

#[test]
fn errors_table() {
    // One instance of every error the management operations produce, each with the status,
    // code and message written out.
    let mut k = Kms::new(42);
    let key = k.key();
    let text = key.to_string();
    let theirs = k.key_of(&other());
    k.create_alias("alias/taken", &text).unwrap();
    k.schedule(&text, "7").unwrap();

    let cases: Vec<(Result<(), Error>, u16, &str, String)> = vec![
        (
            k.schedule_as(&owner(), None, Some("7")),
            400,
            "MissingParameter",
            "The parameter KeyId is needed but not provided.".into(),
        ),
        (
            k.enable(""),
            400,
            "InvalidParameter",
            "The specified parameter KeyId is not valid.".into(),
        ),
        (
            k.create_alias_as(&owner(), None, Some(&text)),
            400,
            "MissingParameter",
            "The parameter AliasName is needed but not provided.".into(),
        ),
        (
            k.create_alias("alias/acs/x", &text),
            400,
            "InvalidParameter",
            "The specified parameter AliasName is not valid.".into(),
        ),
        (
            k.schedule_as(&owner(), Some(&text), None),
            400,
            "MissingParameter",
            "The parameter PendingWindowInDays is needed but not provided.".into(),
        ),
        (
            k.create(&CreateKeyRequest {
                key_spec: Some("AES_256"),
                ..CreateKeyRequest::default()
            })
            .map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeySpec is not valid.".into(),
        ),
        (
            k.create(&CreateKeyRequest {
                key_usage: Some("SIGN/VERIFY"),
                ..CreateKeyRequest::default()
            })
            .map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeyUsage is not valid.".into(),
        ),
        (
            k.create(&CreateKeyRequest {
                origin: Some("HSM"),
                ..CreateKeyRequest::default()
            })
            .map(drop),
            400,
            "InvalidParameter",
            "The specified parameter Origin is not valid.".into(),
        ),
        (
            k.create(&CreateKeyRequest {
                description: Some(&"x".repeat(8193)),
                ..CreateKeyRequest::default()
            })
            .map(drop),
            400,
            "InvalidParameter",
            "The specified parameter Description is not valid.".into(),
        ),
        (
            k.list_keys_as(&owner(), Some("0"), None).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter PageNumber is not valid.".into(),
        ),
        (
            k.list_aliases_as(&owner(), None, Some("101")).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter PageSize is not valid.".into(),
        ),
        (
            k.import_as(&owner(), Some(&text), None),
            400,
            "MissingParameter",
            "The parameter KeyMaterial is needed but not provided.".into(),
        ),
        (
            k.import_as(&owner(), Some(&text), Some("@@@@")),
            400,
            "InvalidParameter",
            "The specified parameter KeyMaterial is not valid.".into(),
        ),
        (
            k.describe(UNKNOWN_KEY_ID).map(drop),
            404,
            "Forbidden.KeyNotFound",
            "The specified Key is not found.".into(),
        ),
        (
            k.describe("alias/nothing").map(drop),
            404,
            "Forbidden.AliasNotFound",
            "The specified Alias is not found.".into(),
        ),
        (
            k.disable(&key_arn(REGION, OTHER_ACCOUNT, &theirs)),
            403,
            "Forbidden.NoPermission",
            "This operation is forbidden by permission system.".into(),
        ),
        (
            k.enable(&text),
            409,
            "Rejected.StateModifiedFailed",
            "Keystate modified failed.".into(),
        ),
    ];
    for (i, (r, status, code, message)) in cases.into_iter().enumerate() {
        let err = expect_err(r);
        assert_eq!(
            (err.status(), err.code(), err.to_string()),
            (status, code, message),
            "case {i}: {err:?}"
        );
    }

    // AliasAlreadyExists and UnsupportedOperation need keys in other states.
    let fresh = k.key();
    let err = expect_err(k.create_alias("alias/taken", fresh.as_str()));
    assert_eq!(
        (err.status(), err.code(), err.to_string().as_str()),
        (
            409,
            "AliasAlreadyExists",
            "The specified Alias already exists."
        )
    );
    let external = k.external_key("Aliyun_AES_256");
    k.import(external.as_str(), &[1u8; 32]).unwrap();
    let err = expect_err(k.rotate(external.as_str()));
    assert_eq!(
        (err.status(), err.code(), err.to_string().as_str()),
        (400, "UnsupportedOperation", "This action is not supported.")
    );
}

#[test]
fn parameters_are_checked_before_the_key_is_looked_up_where_the_operation_names_them_first() {
    let mut k = Kms::new(43);
    // CreateAlias: the alias name comes before the key.
    assert_invalid(
        k.create_alias_as(&owner(), Some("alias/acs/x"), Some(UNKNOWN_KEY_ID)),
        "AliasName",
    );
    // CreateKey: every parameter is checked before anything is made.
    assert_invalid(
        k.create(&CreateKeyRequest {
            key_spec: Some("Aliyun_AES_256"),
            key_usage: Some("SIGN/VERIFY"),
            origin: Some("EXTERNAL"),
            description: Some(""),
            request_id: None,
        }),
        "KeyUsage",
    );
    assert_eq!(k.provider.len(), 0);
    // KeyId is checked before the other parameters of ScheduleKeyDeletion and ImportKeyMaterial.
    let r = management::schedule_key_deletion(
        &mut k.provider,
        &owner(),
        &ScheduleKeyDeletionRequest::default(),
        &mut k.rng,
        k.now,
    );
    assert_missing(r, "KeyId");
    let r = management::import_key_material(
        &mut k.provider,
        &owner(),
        &ImportKeyMaterialRequest::default(),
        &mut k.rng,
        k.now,
    );
    assert_missing(r, "KeyId");
}

#[test]
fn import_key_material_request_debug_hides_the_material() {
    let material = Base64::encode_string(&[0xabu8; 32]);
    let request = ImportKeyMaterialRequest {
        key_id: Some(UNKNOWN_KEY_ID),
        key_material: Some(&material),
        request_id: None,
    };
    let debug = format!("{request:?}");
    assert!(debug.contains(UNKNOWN_KEY_ID));
    assert!(!debug.contains(&material), "{debug}");
    assert!(!debug.contains(&material[..20]), "{debug}");
}

// ---------------------------------------------------------------------------------------------
// serde

#[cfg(feature = "serde")]
mod wire {
    use super::*;
    use serde_json::{Value, json};

    fn keys_of(v: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    #[test]
    fn key_metadata_response_wire_names() {
        let mut k = Kms::new(50);
        let supplied = RequestId::parse(b"0f0e0d0c-0b0a-4908-8706-050403020100").unwrap();
        let created = management::create_key(
            &mut k.provider,
            &owner(),
            &CreateKeyRequest {
                description: Some("wire \"test\""),
                request_id: Some(supplied),
                ..CreateKeyRequest::default()
            },
            &mut k.rng,
            k.now,
        )
        .unwrap();
        let key = created.key_metadata.key_id;
        let v = serde_json::to_value(&created).unwrap();
        assert_eq!(keys_of(&v), ["KeyMetadata", "RequestId"]);
        assert_eq!(v["RequestId"], "0f0e0d0c-0b0a-4908-8706-050403020100");
        let m = &v["KeyMetadata"];
        assert_eq!(
            keys_of(m),
            [
                "Arn",
                "CreationDate",
                "Creator",
                "Description",
                "KeyId",
                "KeySpec",
                "KeyState",
                "KeyUsage",
                "Origin",
                "PrimaryKeyVersion",
            ]
        );
        let primary = created.key_metadata.primary_key_version.to_string();
        assert_eq!(
            *m,
            json!({
                "KeyId": key.as_str(),
                "Arn": format!("acs:kms:cn-hangzhou:1234567890123456:key/{key}"),
                "KeyState": "Enabled",
                "KeySpec": "Aliyun_AES_256",
                "KeyUsage": "ENCRYPT/DECRYPT",
                "Origin": "Aliyun_KMS",
                "PrimaryKeyVersion": primary,
                "CreationDate": "2024-05-14T08:24:13Z",
                "Description": "wire \"test\"",
                "Creator": "1234567890123456",
            })
        );

        // With a deletion scheduled, DeleteDate appears.
        k.schedule(key.as_str(), "7").unwrap();
        let described = management::describe_key(
            &mut k.provider,
            &owner(),
            &KeyRequest::new(key.as_str()),
            &mut k.rng,
            k.now,
        )
        .unwrap();
        let v = serde_json::to_value(&described).unwrap();
        assert_eq!(v["KeyMetadata"]["DeleteDate"], "2024-05-21T08:24:13Z");
        assert_eq!(v["KeyMetadata"]["KeyState"], "PendingDeletion");
        assert_eq!(keys_of(&v["KeyMetadata"]).len(), 11);
        // The text form: DeleteDate absent, not null, once cancelled.
        k.cancel(key.as_str()).unwrap();
        let described = management::describe_key(
            &mut k.provider,
            &owner(),
            &KeyRequest::new(key.as_str()),
            &mut k.rng,
            k.now,
        )
        .unwrap();
        let text = serde_json::to_string(&described).unwrap();
        assert!(!text.contains("DeleteDate"), "{text}");
        assert!(!text.contains("null"), "{text}");
    }

    #[test]
    fn list_keys_response_wire_names() {
        let mut k = Kms::new(51);
        let a = k.key();
        let b = k.key();
        let _c = k.key();
        let r = management::list_keys(
            &mut k.provider,
            &owner(),
            &management::PageRequest {
                page_number: Some("1"),
                page_size: Some("2"),
                request_id: Some(
                    RequestId::parse(b"00000000-0000-4000-8000-000000000001").unwrap(),
                ),
            },
            &mut k.rng,
            k.now,
        )
        .unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({
                "Keys": {"Key": [
                    {"KeyId": a.as_str(), "KeyArn": key_arn(REGION, ACCOUNT, &a)},
                    {"KeyId": b.as_str(), "KeyArn": key_arn(REGION, ACCOUNT, &b)},
                ]},
                "TotalCount": 3,
                "PageNumber": 1,
                "PageSize": 2,
                "RequestId": "00000000-0000-4000-8000-000000000001",
            })
        );
        // An empty page still has Keys.Key, as an empty array.
        let r = k.list_keys_as(&owner(), Some("9"), None).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["Keys"], json!({"Key": []}));
    }

    #[test]
    fn list_aliases_and_create_key_version_wire_names() {
        let mut k = Kms::new(52);
        let key = k.key();
        k.create_alias("alias/b", key.as_str()).unwrap();
        k.create_alias("alias/a", key.as_str()).unwrap();
        let r = k.list_aliases_as(&owner(), None, None).unwrap();
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v["Aliases"],
            json!({"Alias": [
                {"AliasName": "alias/a", "AliasArn": alias_arn(REGION, ACCOUNT, "alias/a"),
                 "KeyId": key.as_str()},
                {"AliasName": "alias/b", "AliasArn": alias_arn(REGION, ACCOUNT, "alias/b"),
                 "KeyId": key.as_str()},
            ]})
        );
        assert_eq!(
            (&v["TotalCount"], &v["PageNumber"], &v["PageSize"]),
            (&json!(2), &json!(1), &json!(10))
        );
        let rotated = management::create_key_version(
            &mut k.provider,
            &owner(),
            &KeyRequest::new(key.as_str()),
            &mut k.rng,
            k.now,
        )
        .unwrap();
        let v = serde_json::to_value(&rotated).unwrap();
        assert_eq!(keys_of(&v), ["KeyVersion", "RequestId"]);
        assert_eq!(
            v["KeyVersion"],
            json!({
                "KeyId": key.as_str(),
                "KeyVersionId": rotated.key_version.key_version_id.as_str(),
                "CreationDate": T0_TEXT,
            })
        );
    }
}
