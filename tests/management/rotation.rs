//! Automatic rotation and material expiry: UpdateRotationPolicy and CreateKey's policy, the
//! due dates as pure functions of the policy, the last rotation and the time passed in
//! (`last_rotation`, `next_rotation`, `rotation_due`, `material_expired`), housekeeping one
//! change at a time (`next_due`), DeleteKeyMaterial, the text parameters, and the settings kept
//! by snapshots and records.

use kms_core::in_memory::records::StoredRecord;
use kms_core::management::{
    self, CreateKey, Due, KeySettings, KeyStore, ProtectionLevel, ROTATION_INTERVAL, params,
};
use kms_core::{Error, InMemoryProvider, KeyOrigin, KeyState, MasterKeySpec, Parameter};

use crate::support::*;
use crate::testkit::*;

const WEEK: u64 = 7 * DAY_SECS;

fn policy(k: &mut Kms, key: &str, interval: Option<u64>) -> Result<(), Error> {
    let staged = management::update_rotation_policy(
        &k.provider,
        &owner(),
        &reference(key),
        interval.map(secs),
        k.now,
    );
    k.commit(staged)
}

/// Runs housekeeping at `k.now` until nothing is due; what it did.
fn housekeeping(k: &mut Kms) -> Vec<Due> {
    let mut done = Vec::new();
    while let Some(staged) = management::next_due(&k.provider, k.now, &mut k.rng).unwrap() {
        done.push(k.provider.apply(staged).unwrap());
        assert!(done.len() < 100, "housekeeping does not settle");
    }
    done
}

#[test]
fn a_policy_rotates_at_last_rotation_plus_interval() {
    let mut k = Kms::new(61);
    let meta = k
        .create(&CreateKey::new().with_rotation_interval(secs(WEEK)))
        .unwrap();
    let text = meta.key_id.to_string();
    assert_eq!(meta.settings.rotation_interval, Some(secs(WEEK)));
    assert_eq!(management::last_rotation(&meta), T0);
    assert_eq!(management::next_rotation(&meta), Some(T0 + secs(WEEK)));
    let first = k.assert_round_trip(&text);

    // One second before: nothing due; at the date: the key rotates, once.
    k.advance(secs(WEEK - 1));
    assert!(!management::rotation_due(
        &k.describe(&text).unwrap(),
        k.now
    ));
    assert!(housekeeping(&mut k).is_empty());
    k.advance(secs(1));
    assert!(management::rotation_due(&k.describe(&text).unwrap(), k.now));
    let done = housekeeping(&mut k);
    assert_eq!(done.len(), 1, "{done:?}");
    let Due::Rotated(rotated) = &done[0] else {
        panic!("{done:?}")
    };
    assert_eq!(rotated.key_id, meta.key_id);
    assert_eq!(rotated.version.created, k.now);
    let after = k.describe(&text).unwrap();
    assert_eq!(after.primary, rotated.version.key_version_id);
    assert_eq!(after.versions.len(), 2);
    assert_eq!(management::last_rotation(&after), T0 + secs(WEEK));
    assert_eq!(management::next_rotation(&after), Some(T0 + secs(2 * WEEK)));

    // Far behind (the service was down for five weeks): one rotation, not five, and the next
    // date counts from it.
    let second = k.assert_round_trip(&text);
    k.advance(secs(5 * WEEK));
    assert_eq!(housekeeping(&mut k).len(), 1);
    let later = k.describe(&text).unwrap();
    assert_eq!(later.versions.len(), 3);
    assert_eq!(management::next_rotation(&later), Some(k.now + secs(WEEK)));

    // Blobs from every version open.
    for made in [&first, &second] {
        let opened = k.decrypt(made.ciphertext_blob.as_str()).unwrap();
        assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
        assert_eq!(opened.key_version_id, made.key_version_id);
    }
    assert_ne!(first.key_version_id, second.key_version_id);
}

#[test]
fn rotation_waits_while_the_key_is_not_enabled() {
    let mut k = Kms::new(62);
    let key = k
        .create(&CreateKey::new().with_rotation_interval(secs(WEEK)))
        .unwrap()
        .key_id
        .to_string();
    k.disable(&key).unwrap();
    k.advance(secs(2 * WEEK));
    assert!(housekeeping(&mut k).is_empty(), "Disabled: suspended");
    k.schedule(&key, 30).unwrap();
    assert!(housekeeping(&mut k).is_empty(), "PendingDeletion");
    k.cancel(&key).unwrap();
    // Enabled again and overdue: rotates at the next housekeeping.
    assert_eq!(housekeeping(&mut k).len(), 1);
    assert_eq!(k.describe(&key).unwrap().versions.len(), 2);
}

#[test]
fn update_rotation_policy_checks_the_key_and_the_interval() {
    let mut k = Kms::new(63);
    let key = k.key().to_string();
    let invalid = Err(Error::InvalidParameter(Parameter::RotationInterval));
    let (lo, hi) = (
        ROTATION_INTERVAL.start().as_secs(),
        ROTATION_INTERVAL.end().as_secs(),
    );
    assert_eq!((lo, hi), (7 * DAY_SECS, 365 * DAY_SECS));
    assert_eq!(policy(&mut k, &key, Some(lo - 1)), invalid);
    assert_eq!(policy(&mut k, &key, Some(hi + 1)), invalid);
    for ok in [lo, hi, 30 * DAY_SECS] {
        policy(&mut k, &key, Some(ok)).unwrap();
        let m = k.describe(&key).unwrap();
        assert_eq!(m.settings.rotation_interval, Some(secs(ok)));
        assert_eq!(management::next_rotation(&m), Some(T0 + secs(ok)));
    }
    policy(&mut k, &key, None).unwrap();
    let m = k.describe(&key).unwrap();
    assert_eq!(m.settings.rotation_interval, None);
    assert_eq!(management::next_rotation(&m), None);

    // Keys that cannot take a policy: Rejected.UnsupportedOperation; turning it off is allowed.
    let refused = Err(Error::RejectedUnsupportedOperation);
    let external = k.external_key(MasterKeySpec::Aes256).to_string();
    let rsa = k
        .create(&CreateKey::new().with_spec(MasterKeySpec::Rsa2048))
        .unwrap()
        .key_id
        .to_string();
    let disabled = k.key().to_string();
    k.disable(&disabled).unwrap();
    for other in [&external, &rsa, &disabled] {
        assert_eq!(policy(&mut k, other, Some(WEEK)), refused, "{other}");
        policy(&mut k, other, None).unwrap();
    }
    // Not one's own key, no key at all.
    let foreign = k.key_of(&other());
    let arn = key_arn(REGION, OTHER_ACCOUNT, &foreign);
    assert_eq!(policy(&mut k, &arn, Some(WEEK)), Err(Error::NoPermission));
    assert_eq!(
        policy(&mut k, UNKNOWN_KEY_ID, Some(WEEK)),
        Err(Error::KeyNotFound)
    );

    // CreateKey's own checks: a policy only for Aliyun_KMS symmetric keys, in range.
    let bad = [
        CreateKey::new().with_rotation_interval(secs(lo - 1)),
        CreateKey::new()
            .with_origin(KeyOrigin::External)
            .with_rotation_interval(secs(WEEK)),
        CreateKey::new()
            .with_spec(MasterKeySpec::Rsa2048)
            .with_rotation_interval(secs(WEEK)),
    ];
    for request in bad {
        assert_eq!(request.check(), invalid, "{request:?}");
    }
}

#[test]
fn rotation_parameters() {
    let day = |d: u64| Ok(secs(d * DAY_SECS));
    for (text, expected) in [
        ("7d", day(7)),
        ("365d", day(365)),
        ("604800s", day(7)),
        ("168h", day(7)),
        ("10080m", day(7)),
        ("0007d", day(7)),
        ("720h", day(30)),
    ] {
        assert_eq!(params::rotation_interval(text), expected, "{text}");
    }
    for text in [
        "",
        "d",
        "6d",
        "366d",
        "604799s",
        "7",
        "7D",
        "7w",
        "+7d",
        "-7d",
        " 7d",
        "7d ",
        "7.5d",
        "1e6s",
        "9999999999d",
        "٧d",
        // A last character of more than one byte (the unit is read as the last byte).
        "7٧",
        "0\u{40d}",
        "é",
    ] {
        assert_eq!(
            params::rotation_interval(text),
            Err(Error::InvalidParameter(Parameter::RotationInterval)),
            "{text:?}"
        );
    }
    let p = Parameter::EnableAutomaticRotation;
    for (text, expected) in [
        ("true", true),
        ("True", true),
        ("FALSE", false),
        ("false", false),
    ] {
        assert_eq!(params::boolean(Some(text), p), Ok(Some(expected)));
    }
    assert_eq!(params::boolean(None, p), Ok(None));
    for text in ["", "1", "yes", "truee", " true"] {
        assert_eq!(
            params::boolean(Some(text), p),
            Err(Error::InvalidParameter(p))
        );
    }
    // The pair: required for UpdateRotationPolicy, optional for CreateKey; the interval only
    // when enabled.
    let policy = params::rotation_policy;
    assert_eq!(policy(None, Some("7d"), false), Ok(None));
    assert_eq!(policy(None, None, true), Err(Error::MissingParameter(p)));
    assert_eq!(policy(Some("false"), Some("junk"), true), Ok(None));
    assert_eq!(policy(Some("True"), Some("7d"), true), day(7).map(Some));
    assert_eq!(
        policy(Some("true"), None, false),
        Err(Error::InvalidParameter(Parameter::RotationInterval))
    );
    assert_eq!(
        params::protection_level(None),
        Ok(ProtectionLevel::Software)
    );
    assert_eq!(
        params::protection_level(Some("HSM")),
        Ok(ProtectionLevel::Hsm)
    );
    assert_eq!(
        params::protection_level(Some("hsm")),
        Err(Error::InvalidParameter(Parameter::ProtectionLevel))
    );
}

#[test]
fn imported_material_expires_and_can_be_imported_again() {
    let mut k = Kms::new(64);
    let key = k.external_key(MasterKeySpec::Aes256).to_string();
    let bytes = [0x5a; 32];
    let until = |k: &mut Kms, at| {
        let staged = management::import_key_material_until(
            &k.provider,
            &owner(),
            &reference(&key),
            material(&bytes),
            at,
            k.now,
        );
        k.commit(staged)
    };
    assert_eq!(
        until(&mut k, T0),
        Err(Error::InvalidParameter(Parameter::KeyMaterialExpireUnix)),
        "an expiry that is not in the future"
    );
    until(&mut k, T0 + secs(DAY_SECS)).unwrap();
    let m = k.describe(&key).unwrap();
    assert_eq!(m.state, KeyState::Enabled);
    assert_eq!(m.settings.material_expires, Some(T0 + secs(DAY_SECS)));
    let made = k.assert_round_trip(&key);

    k.advance(secs(DAY_SECS - 1));
    assert!(housekeeping(&mut k).is_empty());
    k.advance(secs(1));
    assert!(management::material_expired(
        &k.describe(&key).unwrap(),
        k.now
    ));
    let key_id = k.describe(&key).unwrap().key_id;
    assert_eq!(housekeeping(&mut k), vec![Due::MaterialExpired(key_id)]);
    let m = k.describe(&key).unwrap();
    assert_eq!((m.state, m.has_material), (KeyState::PendingImport, false));
    assert_eq!(m.settings.material_expires, None);
    assert_row(k.gdk(&key), Row::rejected("PendingImport"));
    assert_row(
        k.decrypt(made.ciphertext_blob.as_str()),
        Row::rejected("PendingImport"),
    );

    // The same material again, without expiry: the old blob opens.
    k.import(&key, &bytes).unwrap();
    let opened = k.decrypt(made.ciphertext_blob.as_str()).unwrap();
    assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
    k.advance(secs(1000 * DAY_SECS));
    assert!(housekeeping(&mut k).is_empty());
}

#[test]
fn delete_key_material() {
    let mut k = Kms::new(65);
    let key = k.external_key(MasterKeySpec::Aes128).to_string();
    let delete = |k: &mut Kms, key: &str| {
        let staged = management::delete_key_material(&k.provider, &owner(), &reference(key), k.now);
        k.commit(staged)
    };
    // Nothing to delete yet.
    assert_eq!(delete(&mut k, &key), Err(Error::StateModifiedFailed));
    k.import(&key, &[3; 16]).unwrap();
    k.disable(&key).unwrap();
    delete(&mut k, &key).unwrap();
    let m = k.describe(&key).unwrap();
    assert_eq!((m.state, m.has_material), (KeyState::PendingImport, false));
    assert_row(k.gdk(&key), Row::rejected("PendingImport"));
    k.import(&key, &[3; 16]).unwrap();
    assert_eq!(k.describe(&key).unwrap().state, KeyState::Enabled);
    // A key of the service's own material: UnsupportedOperation.
    let service = k.key().to_string();
    assert_eq!(delete(&mut k, &service), Err(Error::UnsupportedOperation));
}

#[test]
fn settings_survive_snapshots_and_records() {
    let mut k = Kms::new(66);
    let rotating = k
        .create(
            &CreateKey::new()
                .with_rotation_interval(secs(30 * DAY_SECS))
                .with_protection_level(ProtectionLevel::Hsm),
        )
        .unwrap()
        .key_id
        .to_string();
    let plain = k.key().to_string();
    let external = k.external_key(MasterKeySpec::Aes256).to_string();
    let staged = management::import_key_material_until(
        &k.provider,
        &owner(),
        &reference(&external),
        material(&[1; 32]),
        T0 + secs(90 * DAY_SECS),
        k.now,
    );
    k.commit(staged).unwrap();
    let keys = [&rotating, &plain, &external];
    let before: Vec<KeySettings> = keys
        .iter()
        .map(|key| k.describe(key).unwrap().settings)
        .collect();
    assert_eq!(before[1], KeySettings::new());
    assert_eq!(before[0].protection_level, ProtectionLevel::Hsm);
    assert!(before[2].material_expires.is_some());

    let snapshot = k.provider.export_snapshot(&WRAP, &mut rng(1)).unwrap();
    let from_snapshot = InMemoryProvider::import_snapshot(&snapshot, &WRAP).unwrap();
    let records = k.provider.records().unwrap();
    let from_records = InMemoryProvider::from_records(
        k.provider.seal_limit(),
        records.iter().map(|r| StoredRecord {
            kind: r.kind,
            body: &r.body,
            seals: 0,
        }),
    )
    .unwrap();
    for provider in [from_snapshot, from_records] {
        let back = Kms::with_provider(provider, 67);
        for (key, settings) in keys.iter().zip(&before) {
            assert_eq!(&back.describe(key).unwrap().settings, settings, "{key}");
        }
        assert!(back.provider.due_keys(T0).unwrap().is_empty());
        let due = back.provider.due_keys(T0 + secs(365 * DAY_SECS)).unwrap();
        assert_eq!(due.len(), 2, "the rotating key and the expiring one");
    }
}
