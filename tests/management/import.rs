//! ImportKeyMaterial: an EXTERNAL key waits for its material and then seals with it, the
//! `KeyMaterial` parameter (`params::key_material`), material of the wrong length for the key,
//! keys that take no material, and the material kept out of `Debug`.

use kms_core::management::{self, KeyStore, params};
use kms_core::{KeyOrigin, KeyState, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

#[test]
fn external_key_waits_for_material_then_works() {
    for (spec, len) in [(MasterKeySpec::Aes256, 32), (MasterKeySpec::Aes128, 16)] {
        let mut k = Kms::new(11);
        let key = k.external_key(spec);
        let text = key.to_string();
        let m = k.describe(&text).unwrap();
        assert_eq!(m.state, KeyState::PendingImport);
        assert_eq!(m.origin, KeyOrigin::External);
        assert_eq!(m.spec, spec);
        assert!(!m.has_material);
        assert_row(k.gdk(&text), Row::rejected("PendingImport"));

        let material: Vec<u8> = (0..len as u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
        k.import(&text, &material).unwrap();
        let after = k.describe(&text).unwrap();
        assert_eq!(after.state, KeyState::Enabled);
        assert!(after.has_material);
        assert_eq!(after.primary, m.primary);
        assert_eq!(after.versions, m.versions);

        // The imported material is what seals: bare AES-GCM opens the blob with it.
        let made = k.assert_round_trip(&text);
        assert_eq!(made.key_version_id, m.primary);
        let opened = opens_with(&material, &made.ciphertext_blob).expect("opens");
        assert_eq!(opened, made.plaintext.expose().as_bytes());
        let mut wrong = material.clone();
        wrong[0] ^= 1;
        assert_eq!(opens_with(&wrong, &made.ciphertext_blob), None);
    }
}

#[test]
fn other_material_is_refused_once_imported_and_the_key_keeps_the_first_material() {
    let mut k = Kms::new(12);
    let key = k.external_key(MasterKeySpec::Aes256);
    let text = key.to_string();
    let first = [0x11u8; 32];
    k.import(&text, &first).unwrap();
    let before = k.gdk(&text).unwrap();
    let err = k.import(&text, &[0x22u8; 32]).unwrap_err();
    assert_eq!(
        (err.status(), err.code(), err.message().to_string().as_str()),
        (400, "InvalidKeyMaterial", "key material is invalid.")
    );
    // The same material again is a re-import: allowed, nothing changes.
    k.import(&text, &first).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    let after = k.gdk(&text).unwrap();
    assert!(opens_with(&first, &after.ciphertext_blob).is_some());
    assert!(opens_with(&[0x22u8; 32], &after.ciphertext_blob).is_none());
    k.decrypt(&before.ciphertext_blob).unwrap();
}

#[test]
fn import_key_material_invalid_and_missing() {
    let mut k = Kms::new(13);
    let k256 = k.external_key(MasterKeySpec::Aes256).to_string();
    let k128 = k.external_key(MasterKeySpec::Aes128).to_string();
    let b64n = |n: usize| b64(&vec![7u8; n]);
    let canonical_32 = b64n(32);
    // 32 bytes of 7 are "BwcH" ten times then "Bwc=": the 'c' carries two unused zero bits.
    // Setting one ('d') decodes to the same bytes in a lax decoder, but is not canonical.
    assert_eq!(canonical_32, format!("{}Bwc=", "BwcH".repeat(10)));
    let non_canonical_32 = format!("{}Bwd=", "BwcH".repeat(10));
    // Text that is no material at all: refused by the parameter's parser.
    let not_material = [
        String::new(),
        "not base64!".to_string(),
        "AAAA AAAA".to_string(),
        canonical_32.trim_end_matches('=').to_string(),
        non_canonical_32,
        b64n(1),
        b64n(15),
        b64n(17),
        b64n(24),
        b64n(31),
        b64n(33),
        b64n(64),
        format!("{canonical_32}\n"),
        "%%%%".to_string(),
    ];
    for text in &not_material {
        assert_row(
            params::key_material(Some(text)),
            Row::invalid("KeyMaterial"),
        );
        assert_row(
            k.import_text(&owner(), &k256, Some(text)),
            Row::invalid("KeyMaterial"),
        );
    }
    // Material of the other AES length: a valid parameter, but not for this key.
    assert_eq!(
        params::key_material(Some(&b64n(16))).unwrap().spec(),
        MasterKeySpec::Aes128
    );
    assert_row(
        k.import_text(&owner(), &k256, Some(&b64n(16))),
        Row::invalid("KeyMaterial"),
    );
    assert_row(
        k.import_text(&owner(), &k128, Some(&b64n(32))),
        Row::invalid("KeyMaterial"),
    );
    assert_row(params::key_material(None), Row::missing("KeyMaterial"));
    // Nothing was imported.
    assert_eq!(k.describe(&k256).unwrap().state, KeyState::PendingImport);
    assert_eq!(k.describe(&k128).unwrap().state, KeyState::PendingImport);
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
    // Refused for the key's origin, whatever the material's length.
    assert_row(k.import(&text, &[3u8; 32]), Row::state_modified_failed());
    assert_row(k.import(&text, &[3u8; 16]), Row::state_modified_failed());
    // The key's own material still seals and opens.
    let after = k.gdk(&text).unwrap();
    assert!(opens_with(&[3u8; 32], &after.ciphertext_blob).is_none());
    k.decrypt(&before.ciphertext_blob).unwrap();
    k.decrypt(&after.ciphertext_blob).unwrap();
}

#[test]
fn import_key_material_by_alias_and_arn() {
    for (i, form) in ["alias", "key arn", "alias arn"].into_iter().enumerate() {
        let mut k = Kms::new(15 + i as u64);
        let external = k.external_key(MasterKeySpec::Aes256);
        k.create_alias("alias/ext", external.as_str()).unwrap();
        let name = match form {
            "alias" => "alias/ext".to_string(),
            "key arn" => key_arn(REGION, ACCOUNT, &external),
            _ => alias_arn(REGION, ACCOUNT, "alias/ext"),
        };
        k.import(&name, &[4u8; 32]).unwrap();
        assert_eq!(k.state(&external), KeyState::Enabled, "{form}");
        let made = k.gdk("alias/ext").unwrap();
        assert!(opens_with(&[4u8; 32], &made.ciphertext_blob).is_some());
    }
}

#[test]
fn cancelled_external_key_without_material_can_still_be_imported() {
    let mut k = Kms::new(202);
    let key = k.external_key(MasterKeySpec::Aes256);
    let text = key.to_string();
    k.schedule(&text, 30).unwrap();
    assert_row(k.import(&text, &[1; 32]), Row::state_modified_failed());
    k.cancel(&text).unwrap();
    assert_eq!(k.state(&key), KeyState::PendingImport);
    k.import(&text, &[1; 32]).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    let made = k.assert_round_trip(&text);
    assert!(opens_with(&[1; 32], &made.ciphertext_blob).is_some());
}

#[test]
fn a_staged_import_is_invisible_until_committed_and_hides_the_material() {
    let mut k = Kms::new(16);
    let key = k.external_key(MasterKeySpec::Aes256);
    let staged = management::import_key_material(
        &k.provider,
        &owner(),
        &key.into(),
        material(&[0xab; 32]),
        k.now,
    )
    .unwrap();
    // Debug shows neither the bytes nor any part of them (0xab is 171).
    let debug = format!("{staged:?}");
    assert!(debug.contains("REDACTED"), "{debug}");
    assert!(!debug.contains("171"), "{debug}");
    assert!(!debug.to_lowercase().contains("abab"), "{debug}");
    assert_eq!(k.state(&key), KeyState::PendingImport);
    assert_row(k.gdk(key.as_str()), Row::rejected("PendingImport"));
    k.provider.apply(staged).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    let made = k.gdk(key.as_str()).unwrap();
    assert!(opens_with(&[0xab; 32], &made.ciphertext_blob).is_some());
}
