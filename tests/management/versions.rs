//! CreateKeyVersion (and its service form, `rotate_exhausted`): rotation keeps old blobs
//! opening, every KeyId form, keys without material of their own, states, and an RNG that fails
//! at any draw.

use kms_core::management::{self, CommitError, CreateKey, KeyStore};
use kms_core::time::Timestamp;
use kms_core::{InMemoryProvider, KeyState, KeyUsage, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

#[test]
fn create_key_version_rotates_and_old_blobs_still_decrypt() {
    let mut k = Kms::new(15);
    for spec in [MasterKeySpec::Aes256, MasterKeySpec::Aes128] {
        k.now = T0;
        let key = k.create(&CreateKey::new().with_spec(spec)).unwrap().key_id;
        let text = key.to_string();
        let mut blobs = vec![k.assert_round_trip(&text)];
        let mut versions = vec![k.describe(&text).unwrap().primary];
        // Each version's date, `date -u -d @(T0 + i days)`.
        let dates = [
            "2024-05-15T08:24:13Z",
            "2024-05-16T08:24:13Z",
            "2024-05-17T08:24:13Z",
        ];
        for (i, date) in (1..=3u64).zip(dates) {
            k.now = T0 + secs(i * DAY_SECS);
            let v = k.rotate(&text).unwrap();
            assert!(!versions.contains(&v.key_version_id));
            assert!(is_uuid_v4(v.key_version_id.as_str()));
            assert_eq!(v.created, k.now);
            assert_eq!(Timestamp(v.created).to_string(), date);
            let m = k.describe(&text).unwrap();
            assert_eq!(m.primary, v.key_version_id);
            assert_eq!(m.versions.last(), Some(&v));
            assert_eq!(m.created, T0, "the key's own date does not move");
            versions.push(v.key_version_id);
            let made = k.assert_round_trip(&text);
            assert_eq!(made.key_version_id, v.key_version_id);
            blobs.push(made);
        }
        assert_eq!(k.versions(&key), versions);
        for (blob, v) in blobs.iter().zip(&versions) {
            let opened = k.decrypt(&blob.ciphertext_blob).unwrap();
            assert_eq!(opened.key_version_id, *v);
            assert_eq!(opened.key_id, key);
            assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
        }
    }
}

#[test]
fn create_key_version_by_alias_and_arn_rotates_the_key_named() {
    let mut k = Kms::new(16);
    let key = k.key();
    let bystander = k.key();
    k.create_alias("alias/rotating", key.as_str()).unwrap();
    let forms = [
        "alias/rotating".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/rotating"),
    ];
    for form in &forms {
        let v = k.rotate(form).unwrap();
        assert_eq!(k.describe(key.as_str()).unwrap().primary, v.key_version_id);
        assert_eq!(k.gdk(form).unwrap().key_version_id, v.key_version_id);
    }
    assert_eq!(k.versions(&key).len(), 4);
    assert_eq!(k.versions(&bystander).len(), 1);
}

#[test]
fn create_key_version_unsupported_for_keys_without_own_material() {
    let mut k = Kms::new(17);
    let external = k.external_key(MasterKeySpec::Aes256);
    k.import(external.as_str(), &[9u8; 32]).unwrap();
    let external_128 = k.external_key(MasterKeySpec::Aes128);
    k.import(external_128.as_str(), &[9u8; 16]).unwrap();
    let rsa = k
        .create(&CreateKey::new().with_spec(MasterKeySpec::Rsa2048))
        .unwrap()
        .key_id;
    let ec = k
        .create(
            &CreateKey::new()
                .with_spec(MasterKeySpec::EcP256)
                .with_usage(KeyUsage::SignVerify),
        )
        .unwrap()
        .key_id;
    for key in [external, external_128, rsa, ec] {
        let before = fingerprint(&k.provider);
        assert_row(k.rotate(key.as_str()), Row::unsupported());
        assert_eq!(fingerprint(&k.provider), before);
        assert_eq!(k.versions(&key).len(), 1);
    }
}

#[test]
fn create_key_version_only_of_an_enabled_key() {
    let mut k = Kms::new(18);
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let pending = k.key();
    k.schedule(pending.as_str(), 7).unwrap();
    let importing = k.external_key(MasterKeySpec::Aes256);
    for key in [disabled, pending, importing] {
        assert_row(k.rotate(key.as_str()), Row::state_modified_failed());
        assert_eq!(k.versions(&key).len(), 1);
    }
}

#[test]
fn a_rotated_key_keeps_its_versions_through_disable_and_deletion_cancel() {
    let mut k = Kms::new(203);
    let key = k.key();
    let text = key.to_string();
    let old = k.gdk(&text).unwrap();
    let v2 = k.rotate(&text).unwrap().key_version_id;
    k.disable(&text).unwrap();
    assert_row(k.rotate(&text), Row::state_modified_failed());
    k.schedule(&text, 7).unwrap();
    k.cancel(&text).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    assert_eq!(k.describe(&text).unwrap().primary, v2);
    assert_eq!(k.gdk(&text).unwrap().key_version_id, v2);
    k.decrypt(&old.ciphertext_blob).unwrap();
}

#[test]
fn a_staged_version_is_invisible_until_committed() {
    let mut k = Kms::new(19);
    let key = k.key();
    let first = k.describe(key.as_str()).unwrap().primary;
    let staged =
        management::create_key_version(&k.provider, &owner(), &key.into(), &mut k.rng, k.now)
            .unwrap();
    let new = staged.output().key_version_id;
    assert_eq!(k.describe(key.as_str()).unwrap().primary, first);
    assert_eq!(k.gdk(key.as_str()).unwrap().key_version_id, first);
    assert_eq!(k.versions(&key), [first]);
    assert!(k.provider.seal_count(&new).is_err());
    k.provider.apply(staged).unwrap();
    assert_eq!(k.versions(&key), [first, new]);
    assert_eq!(k.gdk(key.as_str()).unwrap().key_version_id, new);
}

#[test]
fn create_key_version_draws_a_version_id_and_the_material() {
    // 16 bytes for the version ID and the material: 32 bytes (AES-256) or 16 (AES-128).
    for (spec, bytes) in [(MasterKeySpec::Aes256, 48), (MasterKeySpec::Aes128, 32)] {
        let mut k = Kms::new(20);
        let key = k.create(&CreateKey::new().with_spec(spec)).unwrap().key_id;
        let mut counting = CountingRng::new(rng(21));
        let staged =
            management::create_key_version(&k.provider, &owner(), &key.into(), &mut counting, T0);
        assert!(staged.is_ok());
        assert_eq!(counting.bytes, bytes, "{spec:?}");
    }
}

#[test]
fn a_create_key_version_that_fails_at_any_draw_changes_nothing() {
    let mut k = Kms::new(22);
    let key = k.key();
    let blob = k.gdk(key.as_str()).unwrap().ciphertext_blob;
    let before = fingerprint(&k.provider);
    let generation = k.provider.generation();
    for budget in 0..48 {
        let mut limited = LimitedRng::new(23, budget);
        let r =
            management::create_key_version(&k.provider, &owner(), &key.into(), &mut limited, T0);
        assert_row(r, Row::internal());
        assert_eq!(fingerprint(&k.provider), before, "budget {budget}");
        assert_eq!(k.provider.generation(), generation);
    }
    assert_eq!(k.versions(&key).len(), 1);
    k.decrypt(&blob).unwrap();
    let mut limited = LimitedRng::new(23, 48);
    let staged =
        management::create_key_version(&k.provider, &owner(), &key.into(), &mut limited, T0);
    k.commit(staged).unwrap();
    assert_eq!(k.versions(&key).len(), 2);
}

#[test]
fn another_account_may_not_rotate() {
    let mut k = Kms::new(24);
    let key = k.key();
    k.provider.allow_account(&key, OTHER_ACCOUNT).unwrap();
    let arn = key_arn(REGION, ACCOUNT, &key);
    assert_row(k.rotate_as(&other(), &arn), Row::no_permission());
    assert_eq!(k.versions(&key).len(), 1);
}

#[test]
fn rotate_exhausted_rotates_once_whoever_comes_first() {
    // A key whose versions seal twice: the service rotates it when the primary is used up.
    let mut k = Kms::with_provider(InMemoryProvider::new().with_seal_limit(2), 25);
    let key = k.key();
    let first = k.describe(key.as_str()).unwrap().primary;
    k.gdk(key.as_str()).unwrap();
    k.gdk(key.as_str()).unwrap();
    assert_row(k.gdk(key.as_str()), Row::internal());
    assert_eq!(k.provider.seal_count(&first).unwrap(), 2);

    // Two rotations decided side by side: the first to commit wins, the other is a conflict.
    let a = management::rotate_exhausted(&k.provider, &key, &first, &mut k.rng, k.now)
        .unwrap()
        .unwrap();
    let b = management::rotate_exhausted(&k.provider, &key, &first, &mut k.rng, k.now)
        .unwrap()
        .unwrap();
    let second = k.provider.apply(a).unwrap().key_version_id;
    assert_eq!(
        k.provider.commit(b.into_change()),
        Err(CommitError::Conflict)
    );
    assert_eq!(k.versions(&key), [first, second]);
    // Asked again about the exhausted version, it sees someone rotated: nothing to do.
    let again = management::rotate_exhausted(&k.provider, &key, &first, &mut k.rng, k.now);
    assert!(again.unwrap().is_none());
    assert_eq!(k.gdk(key.as_str()).unwrap().key_version_id, second);
}

#[test]
fn rotate_exhausted_follows_the_state_table() {
    let mut k = Kms::new(26);
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let external = k.external_key(MasterKeySpec::Aes256);
    k.import(external.as_str(), &[1; 32]).unwrap();
    for (key, row) in [
        (disabled, Row::state_modified_failed()),
        (external, Row::unsupported()),
    ] {
        let primary = k.describe(key.as_str()).unwrap().primary;
        let r = management::rotate_exhausted(&k.provider, &key, &primary, &mut k.rng, k.now);
        assert_row(r, row);
    }
    let gone = kms_core::KeyId::parse(UNKNOWN_KEY_ID).unwrap();
    let primary = k.describe(disabled.as_str()).unwrap().primary;
    let r = management::rotate_exhausted(&k.provider, &gone, &primary, &mut k.rng, k.now);
    assert_row(r, Row::key_not_found());
}
