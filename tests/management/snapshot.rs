//! Keyring snapshots (`InMemoryProvider::export_snapshot` and `import_snapshot`): a round trip
//! keeps everything observable and every behaviour (blobs, seal counters and the seal limit,
//! aliases, policies, states, descriptions, deletion dates, rotated versions); the bytes follow
//! the documented format (checked with an independent decoder and encoder written here); every
//! single-byte change, every truncation and a wrong wrapping key are refused with the
//! documented error; bodies that authenticate but break the format are refused as malformed.
//! An ignored test times a million-key export and import.

use std::sync::LazyLock;
use std::time::Instant;

use aes_gcm::{AeadInOut, Aes256Gcm, KeyInit};
use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::rand_core::TryRng;
use kms_core::snapshot::{FORMAT_VERSION, MAGIC, SnapshotError};
use kms_core::time::Timestamp;
use kms_core::wire::{self, EncryptParams};
use kms_core::{
    Caller, Error, InMemoryProvider, Internal, KeyId, KeyOptions, KeyOrigin, KeyState, KeyUsage,
    MasterKeySpec, Permission,
};
use proptest::prelude::*;

use crate::support::*;
use crate::testkit::*;

/// The material imported into the rich world's EXTERNAL key.
const MATERIAL: [u8; 32] = *b"snapshot test material, 32 bytes";

fn import(bytes: &[u8]) -> Result<InMemoryProvider, SnapshotError> {
    InMemoryProvider::import_snapshot(bytes, &WRAP)
}

fn export(provider: &InMemoryProvider, seed: u64) -> Vec<u8> {
    provider
        .export_snapshot(&WRAP, &mut rng(seed))
        .expect("export")
}

// ---------------------------------------------------------------------------------------------
// A world with a key in every situation

struct Rich {
    k: Kms,
    /// Every key, in creation order.
    created: Vec<KeyId>,
    a: KeyId,
    b: KeyId,
    c: KeyId,
    d: KeyId,
    e: KeyId,
    f: KeyId,
    g: KeyId,
    h: KeyId,
    i: KeyId,
    theirs: KeyId,
    far: KeyId,
    /// (caller, blob, plaintext, key)
    blobs: Vec<(Caller<'static>, String, String, KeyId)>,
    /// When `d`'s scheduled deletion happens.
    d_delete_at: core::time::Duration,
}

const DESCRIPTION: &str = "alpha: ünïcode ✓ \"quoted\"";

fn rich(seed: u64) -> Rich {
    let mut k = Kms::new(seed);
    let mut created = Vec::new();
    let mut blobs = Vec::new();
    let mut seal = |k: &mut Kms, caller: Caller<'static>, name: &str, key: KeyId| {
        let made = k.gdk_as(&caller, name).expect("generate data key");
        assert_eq!(made.key_id, key);
        blobs.push((
            caller,
            made.ciphertext_blob.clone(),
            made.plaintext.expose().to_string(),
            key,
        ));
    };

    // a: described, two aliases, sealed several times.
    let a = k
        .create(&CreateKey::new().with_description(DESCRIPTION))
        .unwrap()
        .key_id;
    created.push(a);
    k.create_alias("alias/a", a.as_str()).unwrap();
    k.create_alias("alias/a2", a.as_str()).unwrap();
    for _ in 0..5 {
        seal(&mut k, owner(), "alias/a", a);
    }
    // b: AES-128, disabled after sealing.
    let b = k
        .create(&CreateKey::new().with_spec(MasterKeySpec::Aes128))
        .unwrap()
        .key_id;
    created.push(b);
    seal(&mut k, owner(), b.as_str(), b);
    k.disable(b.as_str()).unwrap();
    // c: rotated twice, a day apart, with a blob under each version.
    let c = k.key();
    created.push(c);
    seal(&mut k, owner(), c.as_str(), c);
    for _ in 0..2 {
        k.advance(secs(DAY_SECS));
        k.rotate(c.as_str()).unwrap();
        seal(&mut k, owner(), c.as_str(), c);
    }
    // d: pending deletion, 30 days from T0 + 2 days.
    let d = k.key();
    created.push(d);
    k.create_alias("alias/d", d.as_str()).unwrap();
    seal(&mut k, owner(), d.as_str(), d);
    k.schedule(d.as_str(), 30).unwrap();
    let d_delete_at = T0 + secs(32 * DAY_SECS);
    // e: EXTERNAL, pending import.
    let e = k.external_key(MasterKeySpec::Aes256);
    created.push(e);
    // f: EXTERNAL with known material.
    let f = k.external_key(MasterKeySpec::Aes256);
    created.push(f);
    k.import(f.as_str(), &MATERIAL).unwrap();
    seal(&mut k, owner(), f.as_str(), f);
    // g: asymmetric.
    let g = k
        .create(
            &CreateKey::new()
                .with_spec(MasterKeySpec::Rsa2048)
                .with_usage(KeyUsage::SignVerify),
        )
        .unwrap()
        .key_id;
    created.push(g);
    // h: material unreachable.
    let h = k.key();
    created.push(h);
    seal(&mut k, owner(), h.as_str(), h);
    k.provider.set_unavailable(&h, true).unwrap();
    // i: scheduled then cancelled (no deletion date).
    let i = k.key();
    created.push(i);
    k.schedule(i.as_str(), 7).unwrap();
    k.cancel(i.as_str()).unwrap();
    // Another account's key, shared with the owner for data keys, with an alias of the same
    // name as the owner's.
    let theirs = k.key_of(&other());
    created.push(theirs);
    k.create_alias_as(&other(), "alias/a", theirs.as_str())
        .unwrap();
    k.provider
        .set_policy(
            &theirs,
            ACCOUNT,
            &[Permission::GenerateDataKey, Permission::Decrypt],
        )
        .unwrap();
    let theirs_arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    seal(&mut k, owner(), &theirs_arn, theirs);
    seal(&mut k, other(), "alias/a", theirs);
    // The owner's key in another region, with an alias of the same name too.
    let far = k.key_of(&elsewhere());
    created.push(far);
    k.create_alias_as(&elsewhere(), "alias/a", far.as_str())
        .unwrap();
    seal(&mut k, elsewhere(), "alias/a", far);
    k.advance(secs(3 * DAY_SECS));
    Rich {
        k,
        created,
        a,
        b,
        c,
        d,
        e,
        f,
        g,
        h,
        i,
        theirs,
        far,
        blobs,
        d_delete_at,
    }
}

/// The rich world restored from its own snapshot, at the same time and with its own RNG seed.
fn restored(r: &Rich, seed: u64) -> Kms {
    let bytes = export(&r.k.provider, seed);
    let mut k = Kms::with_provider(import(&bytes).expect("import"), seed);
    k.now = r.k.now;
    k
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn round_trip_keeps_everything_observable() {
    let r = rich(1);
    let k = restored(&r, 2);
    let before = r.k.observe();
    assert_eq!(k.observe(), before);
    // The observation is not vacuous.
    assert_eq!(before.len, 11);
    let (owners_keys, owners_aliases) = &before.scopes[0];
    assert_eq!(owners_keys.len(), 9);
    assert_eq!(owners_aliases.len(), 3);
    let states: Vec<KeyState> = owners_keys.iter().map(|(m, _)| m.state).collect();
    use KeyState::*;
    assert_eq!(
        states,
        [
            Enabled,
            Disabled,
            Enabled,
            PendingDeletion,
            PendingImport,
            Enabled,
            Enabled,
            Unavailable,
            Enabled
        ]
    );
    let ids: Vec<KeyId> = owners_keys.iter().map(|(m, _)| m.key_id).collect();
    assert_eq!(ids, r.created[..9]);
    // Management at the world's time sees the same in both.
    for caller in callers() {
        assert_eq!(k.all_keys_of(&caller), r.k.all_keys_of(&caller));
        assert_eq!(k.all_aliases_of(&caller), r.k.all_aliases_of(&caller));
    }
}

#[test]
fn round_trip_keeps_metadata_field_by_field() {
    let r = rich(3);
    let k = restored(&r, 4);
    let a = k.describe(r.a.as_str()).unwrap();
    assert_eq!(a.description, DESCRIPTION);
    assert_eq!(Timestamp(a.created).to_string(), T0_TEXT);
    let c = k.describe(r.c.as_str()).unwrap();
    assert_eq!(c.created, T0);
    assert_eq!(c.versions.len(), 3);
    assert_eq!(c.primary, c.versions[2].key_version_id);
    let dates: Vec<_> = c.versions.iter().map(|v| v.created).collect();
    assert_eq!(dates, [T0, T0 + secs(DAY_SECS), T0 + secs(2 * DAY_SECS)]);
    let d = k.describe(r.d.as_str()).unwrap();
    assert_eq!(d.state, KeyState::PendingDeletion);
    assert_eq!(
        Timestamp(d.delete_at.unwrap()).to_string(),
        "2024-06-15T08:24:13Z"
    );
    assert_eq!(k.describe(r.i.as_str()).unwrap().delete_at, None);
    let b = k.describe(r.b.as_str()).unwrap();
    assert_eq!(
        (b.spec, b.state),
        (MasterKeySpec::Aes128, KeyState::Disabled)
    );
    let e = k.describe(r.e.as_str()).unwrap();
    assert_eq!(
        (e.origin, e.state, e.has_material),
        (KeyOrigin::External, KeyState::PendingImport, false)
    );
    let g = k.describe(r.g.as_str()).unwrap();
    assert_eq!(
        (g.spec, g.usage),
        (MasterKeySpec::Rsa2048, KeyUsage::SignVerify)
    );
    assert_eq!(
        k.describe(r.h.as_str()).unwrap().state,
        KeyState::Unavailable
    );
    let theirs = k.describe_as(&other(), r.theirs.as_str()).unwrap();
    assert_eq!(theirs.account, OTHER_ACCOUNT);
    assert_eq!(
        k.describe_as(&elsewhere(), r.far.as_str()).unwrap().region,
        OTHER_REGION
    );
    // And the same as the original, whole.
    for key in [r.a, r.b, r.c, r.d, r.e, r.f, r.g, r.h, r.i] {
        assert_eq!(
            k.describe(key.as_str()).unwrap(),
            r.k.describe(key.as_str()).unwrap()
        );
    }
}

#[test]
fn blobs_made_before_export_decrypt_after_import() {
    let r = rich(5);
    let mut k = restored(&r, 6);
    let mut opened = 0;
    for (caller, blob, plaintext, key) in &r.blobs {
        let result = k.decrypt_as(caller, blob);
        if *key == r.b {
            assert_row(result, Row::rejected("Disabled"));
        } else if *key == r.d {
            assert_row(result, Row::rejected("PendingDeletion"));
        } else if *key == r.h {
            assert_row(result, Row::rejected("Unavailable"));
        } else {
            let out = result.unwrap();
            assert_eq!(out.plaintext.expose(), plaintext);
            assert_eq!(out.key_id, *key);
            opened += 1;
        }
    }
    assert_eq!(opened, 12);
    // Once the states allow it, the rest open too.
    k.enable(r.b.as_str()).unwrap();
    k.cancel(r.d.as_str()).unwrap();
    k.provider.set_unavailable(&r.h, false).unwrap();
    for (caller, blob, plaintext, _) in &r.blobs {
        assert_eq!(
            k.decrypt_as(caller, blob).unwrap().plaintext.expose(),
            plaintext
        );
    }
}

#[test]
fn material_survives_the_round_trip() {
    let r = rich(7);
    let mut k = restored(&r, 8);
    // The EXTERNAL key still seals with the imported material.
    let made = k.gdk(r.f.as_str()).unwrap();
    let opened = opens_with(&MATERIAL, &made.ciphertext_blob).expect("opens");
    assert_eq!(opened, made.plaintext.expose().as_bytes());
    // New blobs from the restored provider open in the original, and back: same material.
    let mut original = r.k;
    for key in [r.a, r.c, r.i] {
        let made = k.gdk(key.as_str()).unwrap();
        let out = original.decrypt(&made.ciphertext_blob).unwrap();
        assert_eq!(out.plaintext.expose(), made.plaintext.expose());
        let made = original.gdk(key.as_str()).unwrap();
        let out = k.decrypt(&made.ciphertext_blob).unwrap();
        assert_eq!(out.plaintext.expose(), made.plaintext.expose());
    }
    // The pending-import key takes material after the round trip.
    k.import(r.e.as_str(), &[0x5e; 32]).unwrap();
    let made = k.assert_round_trip(r.e.as_str());
    assert!(opens_with(&[0x5e; 32], &made.ciphertext_blob).is_some());
}

#[test]
fn seal_counters_continue() {
    let r = rich(9);
    let mut k = restored(&r, 10);
    let a_version = k.describe(r.a.as_str()).unwrap().primary;
    assert_eq!(k.provider.seal_count(&a_version).unwrap(), 5);
    let counts: Vec<u64> = k
        .versions(&r.c)
        .iter()
        .map(|v| k.provider.seal_count(v).unwrap())
        .collect();
    assert_eq!(counts, [1, 1, 1]);
    k.gdk("alias/a").unwrap();
    k.gdk("alias/a").unwrap();
    assert_eq!(k.provider.seal_count(&a_version).unwrap(), 7);
    let theirs_version = k.describe_as(&other(), r.theirs.as_str()).unwrap().primary;
    assert_eq!(k.provider.seal_count(&theirs_version).unwrap(), 2);
}

#[test]
fn the_seal_limit_carries_over() {
    let mut k = Kms::with_provider(InMemoryProvider::new().with_seal_limit(3), 11);
    let key = k.key();
    k.gdk(key.as_str()).unwrap();
    k.gdk(key.as_str()).unwrap();
    let mut back = Kms::with_provider(import(&export(&k.provider, 12)).unwrap(), 13);
    assert_eq!(back.provider.seal_limit(), 3);
    let v = back.describe(key.as_str()).unwrap().primary;
    assert_eq!(back.provider.seal_count(&v).unwrap(), 2);
    back.gdk(key.as_str()).unwrap();
    let err = expect_err(back.gdk(key.as_str()));
    assert_eq!(err, Error::InternalFailure(Internal::SealLimitReached));
    assert_eq!(Row::of(&err), Row::internal());
    assert_eq!(back.provider.seal_count(&v).unwrap(), 3);
    // A new version lifts it, in the restored provider as in any other: by the owner...
    back.rotate(key.as_str()).unwrap();
    back.assert_round_trip(key.as_str());
    // ... or by the service, when the new version runs out in its turn.
    let second = back.describe(key.as_str()).unwrap().primary;
    back.gdk(key.as_str()).unwrap();
    back.gdk(key.as_str()).unwrap();
    assert_row(back.gdk(key.as_str()), Row::internal());
    let staged =
        management::rotate_exhausted(&back.provider, &key, &second, &mut back.rng, back.now)
            .unwrap();
    let third = back.commit(Ok(staged.unwrap())).unwrap().key_version_id;
    assert_eq!(back.gdk(key.as_str()).unwrap().key_version_id, third);
    assert_eq!(back.versions(&key).len(), 3);
}

#[test]
fn aliases_and_policies_hold() {
    let r = rich(17);
    let mut k = restored(&r, 18);
    // Each scope's `alias/a` names its own key.
    assert_eq!(k.describe("alias/a").unwrap().key_id, r.a);
    assert_eq!(k.describe("alias/a2").unwrap().key_id, r.a);
    assert_eq!(k.describe_as(&other(), "alias/a").unwrap().key_id, r.theirs);
    assert_eq!(
        k.describe_as(&elsewhere(), "alias/a").unwrap().key_id,
        r.far
    );
    assert_eq!(k.gdk("alias/a").unwrap().key_id, r.a);
    // Alias ARNs too.
    let arn = alias_arn(REGION, OTHER_ACCOUNT, "alias/a");
    assert_eq!(k.gdk(&arn).unwrap().key_id, r.theirs);
    // The policy: the owner may make data keys with the other account's key, by ARN, and
    // decrypt; a third account may not; managing it stays forbidden.
    let theirs_arn = key_arn(REGION, OTHER_ACCOUNT, &r.theirs);
    let made = k.gdk(&theirs_arn).unwrap();
    assert_eq!(k.decrypt(&made.ciphertext_blob).unwrap().key_id, r.theirs);
    let third = Caller::new(THIRD_ACCOUNT, REGION);
    assert_row(k.gdk_as(&third, &theirs_arn), Row::no_permission());
    assert_row(
        k.decrypt_as(&third, &made.ciphertext_blob),
        Row::no_permission(),
    );
    assert_row(k.disable(&theirs_arn), Row::no_permission());
    // Only the granted permissions: Encrypt was not granted.
    let params = EncryptParams::new().key_id(&theirs_arn).plaintext("x");
    let encrypt = wire::encrypt(&k.provider, &owner(), &params, &mut k.rng);
    assert_row(encrypt, Row::no_permission());
    // Alias operations work on the restored aliases.
    k.update_alias("alias/a2", r.c.as_str()).unwrap();
    assert_eq!(k.gdk("alias/a2").unwrap().key_id, r.c);
    k.delete_alias("alias/a").unwrap();
    assert_row(k.describe("alias/a"), Row::alias_not_found());
    assert_row(k.create_alias("alias/d", r.a.as_str()), Row::alias_exists());
}

#[test]
fn deletion_dates_hold() {
    let r = rich(19);
    let blob = &r.blobs.iter().find(|b| b.3 == r.d).unwrap().1;
    // A second before the date: still pending.
    let mut k = restored(&r, 20);
    k.now = r.d_delete_at - secs(1);
    assert_eq!(k.state(&r.d), KeyState::PendingDeletion);
    assert_eq!(k.delete_due(), Vec::<KeyId>::new());
    assert_eq!(k.provider.len(), 11);
    // At the date: gone for management, then deleted by housekeeping.
    let mut k = restored(&r, 20);
    k.now = r.d_delete_at;
    assert_row(k.describe(r.d.as_str()), Row::key_not_found());
    assert_row(k.describe("alias/d"), Row::alias_not_found());
    assert_row(k.decrypt(blob), Row::rejected("PendingDeletion"));
    assert_eq!(k.delete_due(), [r.d]);
    assert_row(k.decrypt(blob), Row::key_not_found());
    assert_eq!(k.provider.len(), 10);
    // The cancelled key is never deleted.
    k.now = T0 + secs(1000 * DAY_SECS);
    assert_eq!(k.delete_due(), Vec::<KeyId>::new());
    assert_eq!(k.state(&r.i), KeyState::Enabled);
}

#[test]
fn state_changes_work_after_import() {
    let r = rich(21);
    let mut k = restored(&r, 22);
    k.disable(r.a.as_str()).unwrap();
    assert_row(k.gdk("alias/a"), Row::rejected("Disabled"));
    k.enable(r.a.as_str()).unwrap();
    let v = k.rotate(r.c.as_str()).unwrap().key_version_id;
    assert_eq!(k.gdk(r.c.as_str()).unwrap().key_version_id, v);
    assert_eq!(k.versions(&r.c).len(), 4);
    k.schedule(r.i.as_str(), 7).unwrap();
    assert_row(k.enable(r.d.as_str()), Row::state_modified_failed());
    assert_row(k.rotate(r.f.as_str()), Row::unsupported());
    assert_row(k.gdk(r.g.as_str()), Row::unsupported());
    // New keys go after the restored ones, in listing order.
    let newer = k.key();
    let keys = k.all_keys_of(&owner());
    assert_eq!(keys.last(), Some(&newer));
    assert_eq!(keys[..9], r.created[..9]);
}

#[test]
fn restored_provider_is_independent_of_the_original() {
    let r = rich(23);
    let mut k = restored(&r, 24);
    let mut original = r.k;
    k.disable(r.a.as_str()).unwrap();
    k.delete_alias("alias/a2").unwrap();
    assert_eq!(original.state(&r.a), KeyState::Enabled);
    assert_eq!(original.describe("alias/a2").unwrap().key_id, r.a);
    original.rotate(r.c.as_str()).unwrap();
    assert_eq!(k.versions(&r.c).len(), 3);
}

#[test]
fn snapshot_of_a_snapshot_is_the_same_keyring() {
    let r = rich(25);
    let once = import(&export(&r.k.provider, 26)).unwrap();
    let twice = import(&export(&once, 27)).unwrap();
    assert_eq!(observe(&twice), r.k.observe());
}

#[test]
fn round_trip_after_deletions() {
    let mut k = Kms::new(35);
    let keys: Vec<KeyId> = (0..6).map(|_| k.key()).collect();
    let blobs: Vec<String> = keys
        .iter()
        .map(|key| k.gdk(key.as_str()).unwrap().ciphertext_blob)
        .collect();
    for (i, key) in keys.iter().enumerate() {
        k.create_alias(&format!("alias/k{i}"), key.as_str())
            .unwrap();
    }
    for i in [0, 3, 5] {
        k.schedule(keys[i].as_str(), 7).unwrap();
    }
    k.cancel(keys[5].as_str()).unwrap();
    k.advance(secs(7 * DAY_SECS));
    assert_eq!(k.delete_due(), [keys[0], keys[3]]);
    let survivors = [keys[1], keys[2], keys[4], keys[5]];
    assert_eq!(k.all_keys_of(&owner()), survivors);

    let mut back = Kms::with_provider(import(&export(&k.provider, 36)).unwrap(), 37);
    back.now = k.now;
    assert_eq!(back.observe(), k.observe());
    assert_eq!(back.all_keys_of(&owner()), survivors);
    for (i, blob) in blobs.iter().enumerate() {
        if [0, 3].contains(&i) {
            assert_row(back.decrypt(blob), Row::key_not_found());
            assert_row(
                back.describe(&format!("alias/k{i}")),
                Row::alias_not_found(),
            );
        } else {
            back.decrypt(blob).unwrap();
            assert_eq!(
                back.describe(&format!("alias/k{i}")).unwrap().key_id,
                keys[i]
            );
        }
    }
    // New keys still go last.
    let newer = back.key();
    assert_eq!(back.all_keys_of(&owner()).last(), Some(&newer));
}

#[test]
fn empty_provider_round_trip() {
    let empty = InMemoryProvider::new();
    let bytes = export(&empty, 29);
    // Header, the empty body (seal limit, the former setting's byte, four zero counts: keys,
    // aliases, keys held in an instance, keys with settings) and the tag.
    assert_eq!(bytes.len(), 8 + 2 + 12 + (8 + 1 + 4 + 4 + 4 + 4) + 16);
    let mut k = Kms::with_provider(import(&bytes).unwrap(), 30);
    assert!(k.provider.is_empty());
    assert_eq!(k.provider.seal_limit(), 1 << 32);
    let key = k.key();
    k.assert_round_trip(key.as_str());
}

#[test]
fn export_header_and_fresh_iv() {
    let r = rich(31);
    let one = export(&r.k.provider, 32);
    let two = export(&r.k.provider, 33);
    for bytes in [&one, &two] {
        assert_eq!(&bytes[..8], b"KMSKRING");
        assert_eq!(&bytes[..8], MAGIC);
        assert_eq!(&bytes[8..10], [0, 1]);
        assert_eq!(FORMAT_VERSION, 1);
    }
    assert_eq!(one.len(), two.len());
    assert_ne!(one[10..22], two[10..22], "the IV comes from the RNG");
    assert_ne!(one[22..], two[22..]);
    // The IV is the RNG's first 12 bytes.
    let mut expected_iv = [0u8; 12];
    rng(32).try_fill_bytes(&mut expected_iv).unwrap();
    assert_eq!(one[10..22], expected_iv);
    // The material is not in the clear.
    assert!(!one.windows(32).any(|w| w == MATERIAL));
    assert!(!one.windows(16).any(|w| w == &MATERIAL[..16]));
    // Each imports on its own.
    import(&one).unwrap();
    import(&two).unwrap();
}

#[test]
fn export_with_a_failing_rng_is_an_internal_failure() {
    let r = rich(34);
    let result =
        r.k.provider
            .export_snapshot(&WRAP, &mut LimitedRng::new(1, 11));
    assert_row(result, Row::internal());
}

// ---------------------------------------------------------------------------------------------
// Refused snapshots

/// A small snapshot: one key with an alias.
static SMALL: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let mut k = Kms::new(40);
    let key = k.key();
    k.create_alias("alias/s", key.as_str()).unwrap();
    k.gdk(key.as_str()).unwrap();
    export(&k.provider, 41)
});

/// The rich world's snapshot.
static RICH: LazyLock<Vec<u8>> = LazyLock::new(|| export(&rich(42).k.provider, 43));

/// The error a snapshot with byte `pos` changed to `new` must get.
fn expected_for_change(bytes: &[u8], pos: usize, new: u8) -> SnapshotError {
    match pos {
        0..8 => SnapshotError::NotASnapshot,
        8 | 9 => {
            let mut v = [bytes[8], bytes[9]];
            v[pos - 8] = new;
            SnapshotError::UnsupportedVersion(u16::from_be_bytes(v))
        }
        _ => SnapshotError::Authentication,
    }
}

fn check_change(bytes: &[u8], pos: usize, xor: u8) -> Result<(), TestCaseError> {
    let mut changed = bytes.to_vec();
    changed[pos] ^= xor;
    let expected = expected_for_change(bytes, pos, changed[pos]);
    let result = import(&changed).map(|p| p.len());
    prop_assert_eq!(result, Err(expected), "byte {} ^ {:#04x}", pos, xor);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_single_byte_change_is_refused_small(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let bytes = &*SMALL;
        check_change(bytes, pos.index(bytes.len()), xor)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn any_single_byte_change_is_refused_rich(pos in any::<prop::sample::Index>(), xor in 1u8..=255) {
        let bytes = &*RICH;
        check_change(bytes, pos.index(bytes.len()), xor)?;
    }

    #[test]
    fn any_wrong_wrapping_key_is_refused(key in any::<[u8; 32]>()) {
        prop_assume!(key != WRAP);
        let result = InMemoryProvider::import_snapshot(&SMALL, &key).map(|p| p.len());
        prop_assert_eq!(result, Err(SnapshotError::Authentication));
    }
}

#[test]
fn every_position_with_every_bit_is_refused_small() {
    let bytes = &*SMALL;
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            check_change(bytes, pos, 1 << bit).unwrap();
        }
    }
}

#[test]
fn every_truncation_is_refused() {
    for bytes in [&*SMALL, &*RICH] {
        for len in 0..bytes.len() {
            let expected = if len < 8 + 2 + 12 + 16 {
                SnapshotError::NotASnapshot
            } else {
                SnapshotError::Authentication
            };
            assert_eq!(
                import(&bytes[..len]).map(|p| p.len()),
                Err(expected),
                "truncated to {len} of {}",
                bytes.len()
            );
        }
        // The whole snapshot imports, and longer is refused too.
        import(bytes).unwrap();
        for extra in [&[0u8][..], &[0; 16], &bytes[bytes.len() - 16..]] {
            let mut longer = bytes.to_vec();
            longer.extend_from_slice(extra);
            assert_eq!(
                import(&longer).map(|p| p.len()),
                Err(SnapshotError::Authentication)
            );
        }
    }
}

#[test]
fn wrong_wrapping_keys_are_refused() {
    let bytes = &*SMALL;
    for byte in 0..32 {
        for bit in 0..8 {
            let mut key = WRAP;
            key[byte] ^= 1 << bit;
            assert_eq!(
                InMemoryProvider::import_snapshot(bytes, &key).map(|p| p.len()),
                Err(SnapshotError::Authentication)
            );
        }
    }
    for key in [[0u8; 32], [0xff; 32]] {
        assert_eq!(
            InMemoryProvider::import_snapshot(bytes, &key).map(|p| p.len()),
            Err(SnapshotError::Authentication)
        );
    }
    // The right key still works.
    import(bytes).unwrap();
}

#[test]
fn spliced_snapshots_are_refused() {
    // Two snapshots of the same keyring under different IVs: parts do not mix.
    let r = rich(44);
    let one = export(&r.k.provider, 45);
    let two = export(&r.k.provider, 46);
    let mut iv_swapped = one.clone();
    iv_swapped[10..22].copy_from_slice(&two[10..22]);
    let mut tag_swapped = one.clone();
    let n = one.len();
    tag_swapped[n - 16..].copy_from_slice(&two[n - 16..]);
    let mut body_swapped = one.clone();
    body_swapped[22..n - 16].copy_from_slice(&two[22..n - 16]);
    for bytes in [iv_swapped, tag_swapped, body_swapped] {
        assert_eq!(
            import(&bytes).map(|p| p.len()),
            Err(SnapshotError::Authentication)
        );
    }
    // Another keyring's snapshot, same wrapping key: fine, and a different keyring.
    let small = import(&SMALL).unwrap();
    assert_eq!(small.len(), 1);
}

#[test]
fn not_snapshots() {
    for bytes in [
        &b""[..],
        b"KMSKRING",
        b"KMSKRIN\0\0\x01",
        &[0u8; 100],
        &b"kmskring\0\x01-------------------------------------"[..],
    ] {
        assert_eq!(
            import(bytes).map(|p| p.len()),
            Err(SnapshotError::NotASnapshot)
        );
    }
    let mut future = SMALL.clone();
    future[8..10].copy_from_slice(&2u16.to_be_bytes());
    assert_eq!(
        import(&future).map(|p| p.len()),
        Err(SnapshotError::UnsupportedVersion(2))
    );
    let mut zero = SMALL.clone();
    zero[8..10].copy_from_slice(&[0, 0]);
    assert_eq!(
        import(&zero).map(|p| p.len()),
        Err(SnapshotError::UnsupportedVersion(0))
    );
}

#[test]
fn refused_imports_leave_nothing_behind() {
    // There is no import into an existing provider: an import builds a new one or nothing.
    // After any number of refusals, the source is unchanged and the genuine bytes import to the
    // same keyring.
    let r = rich(47);
    let bytes = export(&r.k.provider, 48);
    let before = r.k.observe();
    for pos in (0..bytes.len()).step_by(7) {
        let mut changed = bytes.clone();
        changed[pos] ^= 0x40;
        assert!(import(&changed).is_err());
        assert!(InMemoryProvider::import_snapshot(&bytes, &[7; 32]).is_err());
    }
    assert_eq!(r.k.observe(), before);
    assert_eq!(observe(&import(&bytes).unwrap()), before);
}

#[test]
fn snapshot_error_messages() {
    let cases = [
        (SnapshotError::NotASnapshot, "not a keyring snapshot"),
        (
            SnapshotError::UnsupportedVersion(7),
            "unsupported keyring snapshot version 7",
        ),
        (
            SnapshotError::Authentication,
            "keyring snapshot does not authenticate: wrong wrapping key, or truncated or altered",
        ),
        (SnapshotError::Malformed, "keyring snapshot is malformed"),
    ];
    for (err, text) in cases {
        assert_eq!(err.to_string(), text);
    }
}

// ---------------------------------------------------------------------------------------------
// The documented format, decoded and encoded here

fn open_body(bytes: &[u8]) -> Vec<u8> {
    let n = bytes.len();
    let iv: [u8; 12] = bytes[10..22].try_into().unwrap();
    let tag: [u8; 16] = bytes[n - 16..].try_into().unwrap();
    let mut body = bytes[22..n - 16].to_vec();
    Aes256Gcm::new((&WRAP).into())
        .decrypt_inout_detached(
            (&iv).into(),
            &bytes[..10],
            body.as_mut_slice().into(),
            (&tag).into(),
        )
        .expect("the snapshot opens under the wrapping key");
    body
}

/// Seals `body` as a version-1 snapshot under [`WRAP`], without the crate.
fn seal_body(body: &[u8]) -> Vec<u8> {
    let iv = [0x24u8; 12];
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&iv);
    let mut sealed = body.to_vec();
    let tag = Aes256Gcm::new((&WRAP).into())
        .encrypt_inout_detached((&iv).into(), &out[..10], sealed.as_mut_slice().into())
        .unwrap();
    out.extend_from_slice(&sealed);
    out.extend_from_slice(&tag);
    out
}

/// A blob (spec §5, empty context) sealed under raw `material`, without the crate.
fn seal_with_material(material: &[u8], version: &str, plaintext: &[u8]) -> String {
    let aad = spec_aad(version, &[]);
    b64(&seal_blob(material, version, [0x11; 12], &aad, plaintext))
}

type Time = (u64, u32);

#[derive(Clone, Debug, PartialEq)]
struct SnapVersion {
    id: String,
    material: Vec<u8>,
    seals: u64,
    created: Time,
}

#[derive(Clone, Debug, PartialEq)]
struct SnapKey {
    id: String,
    account: String,
    region: String,
    spec: u8,
    usage: u8,
    origin: u8,
    state: u8,
    unavailable: u8,
    description: Vec<u8>,
    created: Time,
    delete_at: Option<Time>,
    primary: u32,
    policy: Vec<(String, u8)>,
    versions: Vec<SnapVersion>,
}

#[derive(Clone, Debug, PartialEq)]
struct SnapAlias {
    account: String,
    region: String,
    alias: String,
    key_id: String,
}

#[derive(Clone, Debug, PartialEq)]
struct Body {
    seal_limit: u64,
    /// A former setting: written 0, read 0 or 1.
    former: u8,
    keys: Vec<SnapKey>,
    aliases: Vec<SnapAlias>,
    /// The keys with settings other than the defaults: the key ID and the settings' fields
    /// that these tests set (only the imported material's check value).
    settings: Vec<(String, Option<[u8; 16]>)>,
}

struct Dec<'a>(&'a [u8]);

impl Dec<'_> {
    fn take(&mut self, n: usize) -> Vec<u8> {
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head.to_vec()
    }
    fn u8(&mut self) -> u8 {
        self.take(1)[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.take(2).try_into().unwrap())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take(4).try_into().unwrap())
    }
    fn u64(&mut self) -> u64 {
        u64::from_be_bytes(self.take(8).try_into().unwrap())
    }
    fn bytes(&mut self, width: usize) -> Vec<u8> {
        let n = match width {
            1 => usize::from(self.u8()),
            2 => usize::from(self.u16()),
            _ => self.u32() as usize,
        };
        self.take(n)
    }
    fn str(&mut self, width: usize) -> String {
        String::from_utf8(self.bytes(width)).unwrap()
    }
    fn time(&mut self) -> Time {
        (self.u64(), self.u32())
    }
}

fn decode(body: &[u8]) -> Body {
    let mut d = Dec(body);
    let seal_limit = d.u64();
    let former = d.u8();
    let mut keys = Vec::new();
    for _ in 0..d.u32() {
        let id = d.str(1);
        let account = d.str(4);
        let region = d.str(4);
        let (spec, usage, origin, state, unavailable) = (d.u8(), d.u8(), d.u8(), d.u8(), d.u8());
        let description = d.bytes(4);
        let created = d.time();
        let delete_at = (d.u8() == 1).then(|| d.time());
        let primary = d.u32();
        let policy = (0..d.u16()).map(|_| (d.str(4), d.u8())).collect();
        let versions = (0..d.u32())
            .map(|_| {
                let id = String::from_utf8(d.take(36)).unwrap();
                // AES material (`u8` length) or an asymmetric key's PKCS#8 (`0xFF`, `u16`).
                let n = match d.u8() {
                    0xFF => usize::from(d.u16()),
                    n => usize::from(n),
                };
                SnapVersion {
                    id,
                    material: d.take(n),
                    seals: d.u64(),
                    created: d.time(),
                }
            })
            .collect();
        keys.push(SnapKey {
            id,
            account,
            region,
            spec,
            usage,
            origin,
            state,
            unavailable,
            description,
            created,
            delete_at,
            primary,
            policy,
            versions,
        });
    }
    let aliases = (0..d.u32())
        .map(|_| SnapAlias {
            account: d.str(4),
            region: d.str(4),
            alias: d.str(2),
            key_id: d.str(1),
        })
        .collect();
    // The keys held in a KMS instance (none in these tests).
    assert_eq!(d.u32(), 0, "keys held in an instance");
    // The keys with settings other than the defaults: in these tests only imported material's
    // check value (no rotation, HSM, protection, expiry or tags).
    let settings = (0..d.u32())
        .map(|_| {
            let key_id = d.str(1);
            assert_eq!((d.u32(), d.u8(), d.u8(), d.u8()), (0, 0, 0, 0), "{key_id}");
            let check = (d.u8() == 1).then(|| d.take(16).try_into().unwrap());
            assert_eq!(d.u16(), 0, "tags");
            (key_id, check)
        })
        .collect();
    assert!(d.0.is_empty(), "{} bytes left over", d.0.len());
    Body {
        settings,
        seal_limit,
        former,
        keys,
        aliases,
    }
}

struct Enc(Vec<u8>);

impl Enc {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn bytes(&mut self, b: &[u8], width: usize) {
        match width {
            1 => self.u8(b.len() as u8),
            2 => self.u16(b.len() as u16),
            _ => self.u32(b.len() as u32),
        }
        self.0.extend_from_slice(b);
    }
    fn time(&mut self, t: Time) {
        self.u64(t.0);
        self.u32(t.1);
    }
}

fn encode(body: &Body) -> Vec<u8> {
    let mut e = Enc(Vec::new());
    e.u64(body.seal_limit);
    e.u8(body.former);
    e.u32(body.keys.len() as u32);
    for k in &body.keys {
        e.bytes(k.id.as_bytes(), 1);
        e.bytes(k.account.as_bytes(), 4);
        e.bytes(k.region.as_bytes(), 4);
        for b in [k.spec, k.usage, k.origin, k.state, k.unavailable] {
            e.u8(b);
        }
        e.bytes(&k.description, 4);
        e.time(k.created);
        match k.delete_at {
            Some(t) => {
                e.u8(1);
                e.time(t);
            }
            None => e.u8(0),
        }
        e.u32(k.primary);
        e.u16(k.policy.len() as u16);
        for (account, permissions) in &k.policy {
            e.bytes(account.as_bytes(), 4);
            e.u8(*permissions);
        }
        e.u32(k.versions.len() as u32);
        for v in &k.versions {
            e.0.extend_from_slice(v.id.as_bytes());
            if v.material.len() > 32 {
                e.u8(0xFF);
                e.bytes(&v.material, 2);
            } else {
                e.bytes(&v.material, 1);
            }
            e.u64(v.seals);
            e.time(v.created);
        }
    }
    e.u32(body.aliases.len() as u32);
    for a in &body.aliases {
        e.bytes(a.account.as_bytes(), 4);
        e.bytes(a.region.as_bytes(), 4);
        e.bytes(a.alias.as_bytes(), 2);
        e.bytes(a.key_id.as_bytes(), 1);
    }
    // No key held in an instance; the keys with settings (only a check value).
    e.u32(0);
    e.u32(body.settings.len() as u32);
    for (key_id, check) in &body.settings {
        e.bytes(key_id.as_bytes(), 1);
        e.u32(0);
        e.u8(0);
        e.u8(0);
        e.u8(0);
        match check {
            Some(c) => {
                e.u8(1);
                e.0.extend_from_slice(c);
            }
            None => e.u8(0),
        }
        e.u16(0);
    }
    e.0
}

#[test]
fn exported_bytes_follow_the_documented_format() {
    let r = rich(50);
    let bytes = export(&r.k.provider, 51);
    let raw = open_body(&bytes);
    let body = decode(&raw);
    // The encoder here writes the same bytes back (alias order as exported).
    assert_eq!(encode(&body), raw);

    assert_eq!((body.seal_limit, body.former), (1 << 32, 0));
    // Keys in creation order.
    let ids: Vec<&str> = body.keys.iter().map(|k| k.id.as_str()).collect();
    let created: Vec<String> = r.created.iter().map(|k| k.to_string()).collect();
    assert_eq!(ids, created);
    let key = |id: &KeyId| body.keys.iter().find(|k| k.id == id.as_str()).unwrap();
    let t0 = (T0.as_secs(), 0);

    let a = key(&r.a);
    assert_eq!((a.account.as_str(), a.region.as_str()), (ACCOUNT, REGION));
    assert_eq!(
        (a.spec, a.usage, a.origin, a.state, a.unavailable),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(a.description, DESCRIPTION.as_bytes());
    assert_eq!((a.created, a.delete_at, a.primary), (t0, None, 0));
    assert_eq!(a.versions.len(), 1);
    assert_eq!(a.versions[0].material.len(), 32);
    assert_eq!(a.versions[0].seals, 5);
    assert_eq!(a.versions[0].created, t0);
    assert!(a.policy.is_empty());

    let b = key(&r.b);
    assert_eq!((b.spec, b.state), (1, 1));
    assert_eq!(b.versions[0].material.len(), 16);

    // The one key with material imported has its check value in its settings.
    let check = management::material_check(&material(&MATERIAL));
    assert_eq!(body.settings, [(r.f.to_string(), Some(check))]);

    let c = key(&r.c);
    assert_eq!(c.primary, 2);
    let c_versions: Vec<String> = r.k.versions(&r.c).iter().map(|v| v.to_string()).collect();
    assert_eq!(
        c.versions.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        c_versions
    );
    let version_dates: Vec<Time> = c.versions.iter().map(|v| v.created).collect();
    assert_eq!(
        version_dates,
        [t0, (t0.0 + DAY_SECS, 0), (t0.0 + 2 * DAY_SECS, 0)]
    );

    let d = key(&r.d);
    assert_eq!(d.state, 2);
    assert_eq!(d.delete_at, Some((r.d_delete_at.as_secs(), 0)));

    let e = key(&r.e);
    assert_eq!((e.origin, e.state), (1, 3));
    assert!(e.versions[0].material.is_empty());

    let f = key(&r.f);
    assert_eq!((f.origin, f.state), (1, 0));
    assert_eq!(f.versions[0].material, MATERIAL);

    // The asymmetric key's material is its private key, PKCS#8 DER (feature `asymmetric`).
    let g = key(&r.g);
    assert_eq!((g.spec, g.usage), (2, 1));
    let private = &g.versions[0].material;
    assert!(
        kms_core::MasterKeyMaterial::from_pkcs8(private)
            .is_some_and(|m| m.spec() == MasterKeySpec::Rsa2048),
        "an RSA-2048 private key, {} bytes",
        private.len()
    );

    // The unavailable key keeps its stored state, Enabled, and the flag.
    assert_eq!((key(&r.h).state, key(&r.h).unavailable), (0, 1));
    assert_eq!((key(&r.i).state, key(&r.i).delete_at), (0, None));

    let theirs = key(&r.theirs);
    assert_eq!(theirs.account, OTHER_ACCOUNT);
    assert_eq!(theirs.policy.len(), 1);
    assert_eq!(theirs.policy[0].0, ACCOUNT);
    assert_ne!(theirs.policy[0].1, 0);
    assert_eq!(key(&r.far).region, OTHER_REGION);

    let mut aliases: Vec<(String, String, String, String)> = body
        .aliases
        .iter()
        .map(|a| {
            (
                a.account.clone(),
                a.region.clone(),
                a.alias.clone(),
                a.key_id.clone(),
            )
        })
        .collect();
    aliases.sort();
    let s = |x: &str| x.to_string();
    assert_eq!(
        aliases,
        [
            (s(ACCOUNT), s(REGION), s("alias/a"), r.a.to_string()),
            (s(ACCOUNT), s(REGION), s("alias/a2"), r.a.to_string()),
            (s(ACCOUNT), s(REGION), s("alias/d"), r.d.to_string()),
            (s(ACCOUNT), s(OTHER_REGION), s("alias/a"), r.far.to_string()),
            (
                s(OTHER_ACCOUNT),
                s(REGION),
                s("alias/a"),
                r.theirs.to_string()
            ),
        ]
    );
}

/// A body written here from scratch: one AES-256 key with known material and an alias.
fn hand_made() -> Body {
    Body {
        seal_limit: 1000,
        former: 1,
        keys: vec![SnapKey {
            id: "key-hzz630494463ejqjx1234".into(),
            account: ACCOUNT.into(),
            region: REGION.into(),
            spec: 0,
            usage: 0,
            origin: 1,
            state: 0,
            unavailable: 0,
            description: "hand made".into(),
            created: (T0.as_secs(), 500_000_000),
            delete_at: None,
            primary: 1,
            policy: vec![],
            versions: vec![
                SnapVersion {
                    id: "00000000-0000-4000-8000-000000000001".into(),
                    material: [0x01; 32].to_vec(),
                    seals: 41,
                    created: (T0.as_secs(), 0),
                },
                SnapVersion {
                    id: "00000000-0000-4000-8000-000000000002".into(),
                    material: MATERIAL.to_vec(),
                    seals: 999,
                    created: (T0.as_secs() + 60, 0),
                },
            ],
        }],
        aliases: vec![SnapAlias {
            account: ACCOUNT.into(),
            region: REGION.into(),
            alias: "alias/hand".into(),
            key_id: "key-hzz630494463ejqjx1234".into(),
        }],
        settings: vec![],
    }
}

#[test]
fn a_snapshot_written_to_the_documented_format_imports() {
    // The former setting's byte reads as 0 or 1 alike.
    for former in [0, 1] {
        let body = Body {
            former,
            ..hand_made()
        };
        let provider = import(&seal_body(&encode(&body))).unwrap();
        let mut k = Kms::with_provider(provider, 52);
        assert_eq!(k.provider.seal_limit(), 1000);
        let m = k.describe("alias/hand").unwrap();
        assert_eq!(m.key_id.as_str(), "key-hzz630494463ejqjx1234");
        assert_eq!(m.description, "hand made");
        assert_eq!(m.origin, KeyOrigin::External);
        assert_eq!(m.created, T0 + core::time::Duration::from_millis(500));
        assert_eq!(Timestamp(m.created).to_string(), T0_TEXT);
        assert_eq!(m.primary, version("00000000-0000-4000-8000-000000000002"));
        // The primary version seals with MATERIAL, its 1000th and last seal.
        let made = k.gdk("alias/hand").unwrap();
        assert!(opens_with(&MATERIAL, &made.ciphertext_blob).is_some());
        assert_eq!(k.provider.seal_count(&made.key_version_id).unwrap(), 1000);
        assert_eq!(
            expect_err(k.gdk("alias/hand")),
            Error::InternalFailure(Internal::SealLimitReached)
        );
        // A blob sealed by hand under the older version, with its material, opens.
        let old = version("00000000-0000-4000-8000-000000000001");
        assert_eq!(k.provider.seal_count(&old).unwrap(), 41);
        let blob = seal_with_material(&[0x01; 32], old.as_str(), b"sealed by hand");
        let out = k.decrypt(&blob).unwrap();
        assert_eq!(out.plaintext.expose(), "sealed by hand");
        assert_eq!(out.key_version_id, old);
        // Under the wrong material it does not.
        let blob = seal_with_material(&[0x02; 32], old.as_str(), b"sealed by hand");
        assert_row(k.decrypt(&blob), Row::invalid("CiphertextBlob"));
    }
}

#[test]
fn bodies_that_authenticate_but_break_the_format_are_malformed() {
    type Mutation = (&'static str, fn(&mut Body));
    let mutations: &[Mutation] = &[
        ("seal limit 0", |b| b.seal_limit = 0),
        ("seal limit over 2^32", |b| b.seal_limit = (1 << 32) + 1),
        ("former setting 2", |b| b.former = 2),
        ("key id", |b| b.keys[0].id = "KEY-1".into()),
        ("spec 4", |b| b.keys[0].spec = 4),
        ("usage 2", |b| b.keys[0].usage = 2),
        ("origin 2", |b| b.keys[0].origin = 2),
        ("state 4", |b| b.keys[0].state = 4),
        ("unavailable 2", |b| b.keys[0].unavailable = 2),
        ("description not UTF-8", |b| {
            b.keys[0].description = vec![0xff, 0xfe]
        }),
        ("nanoseconds 10^9", |b| b.keys[0].created.1 = 1_000_000_000),
        ("delete date nanoseconds", |b| {
            b.keys[0].delete_at = Some((T0.as_secs(), u32::MAX))
        }),
        ("primary out of range", |b| b.keys[0].primary = 2),
        ("no versions", |b| {
            b.keys[0].versions.clear();
            b.keys[0].primary = 0;
        }),
        ("version id", |b| {
            b.keys[0].versions[0].id = "00000000-0000-4000-8000-00000000000G".into()
        }),
        ("version id upper case", |b| {
            b.keys[0].versions[0].id = "0000000A-0000-4000-8000-000000000001".into()
        }),
        ("material of 16 for AES-256", |b| {
            b.keys[0].versions[0].material = vec![1; 16]
        }),
        ("material of 31", |b| {
            b.keys[0].versions[0].material = vec![1; 31]
        }),
        ("material for RSA", |b| b.keys[0].spec = 2),
        ("duplicate version in a key", |b| {
            b.keys[0].versions[1].id = b.keys[0].versions[0].id.clone()
        }),
        ("duplicate key", |b| {
            let mut again = b.keys[0].clone();
            for (n, v) in again.versions.iter_mut().enumerate() {
                v.id = format!("00000000-0000-4000-8000-00000000010{n}");
            }
            b.keys.push(again);
        }),
        ("duplicate version across keys", |b| {
            let mut again = b.keys[0].clone();
            again.id = format!("key-{}", "0".repeat(21));
            again.versions[0].id = "00000000-0000-4000-8000-000000000099".into();
            b.keys.push(again);
        }),
        ("alias of an unknown key", |b| {
            b.aliases[0].key_id = UNKNOWN_KEY_ID.into()
        }),
        ("alias in another account than its key", |b| {
            b.aliases[0].account = OTHER_ACCOUNT.into()
        }),
        ("alias in another region than its key", |b| {
            b.aliases[0].region = OTHER_REGION.into()
        }),
        ("duplicate alias", |b| b.aliases.push(b.aliases[0].clone())),
        ("alias name", |b| b.aliases[0].alias = "alias/a b".into()),
        ("reserved alias name", |b| {
            b.aliases[0].alias = "alias/acs/x".into()
        }),
        ("alias without prefix", |b| {
            b.aliases[0].alias = "hand".into()
        }),
    ];
    let genuine = hand_made();
    import(&seal_body(&encode(&genuine))).expect("the unmutated body imports");
    for (name, mutate) in mutations {
        let mut body = genuine.clone();
        mutate(&mut body);
        assert_eq!(
            import(&seal_body(&encode(&body))).map(|p| p.len()),
            Err(SnapshotError::Malformed),
            "{name}"
        );
    }
}

#[test]
fn bodies_with_bad_lengths_are_malformed() {
    let raw = encode(&hand_made());
    // Trailing bytes, and every truncation of the body (sealed, so they authenticate).
    let mut longer = raw.clone();
    longer.push(0);
    assert_eq!(
        import(&seal_body(&longer)).map(|p| p.len()),
        Err(SnapshotError::Malformed)
    );
    for len in 0..raw.len() {
        if len == raw.len() - 4 || len == raw.len() - 8 {
            // Without the table of keys with settings (a snapshot of the format before
            // settings), and also without the table of keys held in an instance (before KMS
            // instances): both import as the same keys, with default settings, in no instance.
            assert_eq!(
                import(&seal_body(&raw[..len])).map(|p| p.len()),
                import(&seal_body(&raw)).map(|p| p.len())
            );
            continue;
        }
        assert_eq!(
            import(&seal_body(&raw[..len])).map(|p| p.len()),
            Err(SnapshotError::Malformed),
            "body truncated to {len}"
        );
    }
    // Counts far beyond the body: refused without allocating for them.
    let mut huge_keys = raw[..9].to_vec();
    huge_keys.extend_from_slice(&u32::MAX.to_be_bytes());
    huge_keys.extend_from_slice(&raw[13..]);
    let mut huge_aliases = raw.clone();
    let n = huge_aliases.len();
    // The alias count is right after the keys: find it from the end (one alias of known size).
    let alias_len = 4 + ACCOUNT.len() + 4 + REGION.len() + 2 + "alias/hand".len() + 1 + 25;
    huge_aliases[n - alias_len - 4..n - alias_len].copy_from_slice(&u32::MAX.to_be_bytes());
    for body in [huge_keys, huge_aliases] {
        assert_eq!(
            import(&seal_body(&body)).map(|p| p.len()),
            Err(SnapshotError::Malformed)
        );
    }
    let mut body = hand_made();
    body.keys[0].description = vec![b'x'; 10];
    let mut raw = encode(&body);
    // The description's length field says 4 GiB.
    let at = 9 + 4 + (1 + 25) + (4 + ACCOUNT.len()) + (4 + REGION.len()) + 5;
    assert_eq!(raw[at..at + 4], 10u32.to_be_bytes());
    raw[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    assert_eq!(
        import(&seal_body(&raw)).map(|p| p.len()),
        Err(SnapshotError::Malformed)
    );
}

/// A regression test: the format once gave accounts and regions a 16-bit length while the
/// provider took any account or region text (KeyOptions, set_policy, and so CreateKey's
/// caller), so one such key made the whole keyring unexportable (InternalFailure): no backup of
/// any key. Accounts and regions now take 32-bit lengths.
#[test]
fn everything_the_provider_accepts_can_be_exported() {
    let long = "9".repeat(65_536);
    let mut provider = InMemoryProvider::new();
    let mut r = rng(70);
    let key = provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, REGION))
        .unwrap();
    provider
        .set_policy(&key, &long, &[Permission::Decrypt])
        .unwrap();
    provider
        .create_key(&mut r, &KeyOptions::new(&long, REGION))
        .unwrap();
    provider
        .create_key(&mut r, &KeyOptions::new(ACCOUNT, &long))
        .unwrap();
    let exported = provider.export_snapshot(&WRAP, &mut rng(71)).unwrap();
    let back = import(&exported).unwrap();
    assert_eq!(back.len(), 3);
    assert_eq!(back.keys_of(&long, REGION).len(), 1);
    assert_eq!(back.keys_of(ACCOUNT, &long).len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Scale

/// `cargo test --release --test management -- --ignored --nocapture a_million_keys`
#[test]
#[ignore = "slow: a million keys"]
fn export_and_import_a_million_keys() {
    const KEYS: usize = 1_000_000;
    let mut r = rng(60);
    let mut provider = InMemoryProvider::new();
    let start = Instant::now();
    let mut keys = Vec::with_capacity(KEYS);
    for i in 0..KEYS {
        let account = if i % 2 == 0 { ACCOUNT } else { OTHER_ACCOUNT };
        let key = provider
            .create_key(&mut r, &KeyOptions::new(account, REGION))
            .unwrap();
        keys.push(key);
    }
    for (i, key) in keys.iter().enumerate().step_by(10) {
        let account = if i % 2 == 0 { ACCOUNT } else { OTHER_ACCOUNT };
        let caller = Caller::new(account, REGION);
        let alias = format!("alias/k{i}");
        let staged = management::create_alias(&provider, &caller, &alias, &key.into(), T0);
        provider.apply(staged.unwrap()).unwrap();
    }
    println!("created {KEYS} keys in {:?}", start.elapsed());
    let mut k = Kms::with_provider(provider, 61);
    let sample: Vec<(Caller<'static>, KeyId, String, String)> = [0, 1, KEYS / 2, KEYS - 1]
        .iter()
        .map(|&i| {
            let caller = if i % 2 == 0 { owner() } else { other() };
            let made = k.gdk_as(&caller, keys[i].as_str()).unwrap();
            (
                caller,
                keys[i],
                made.ciphertext_blob.clone(),
                made.plaintext.expose().to_string(),
            )
        })
        .collect();

    let start = Instant::now();
    let bytes = k.provider.export_snapshot(&WRAP, &mut rng(62)).unwrap();
    let export_time = start.elapsed();
    let start = Instant::now();
    let back = InMemoryProvider::import_snapshot(&bytes, &WRAP).unwrap();
    let import_time = start.elapsed();
    println!(
        "export {export_time:?}, import {import_time:?}, snapshot {} bytes ({:.1} MiB, {:.1} bytes/key)",
        bytes.len(),
        bytes.len() as f64 / (1 << 20) as f64,
        bytes.len() as f64 / KEYS as f64
    );

    assert_eq!(back.len(), KEYS);
    let mut back = Kms::with_provider(back, 63);
    for (caller, key, blob, plaintext) in &sample {
        let out = back.decrypt_as(caller, blob).unwrap();
        assert_eq!(
            (out.key_id, out.plaintext.expose()),
            (*key, plaintext.as_str())
        );
    }
    assert_eq!(back.describe("alias/k0").unwrap().key_id, keys[0]);
    let last = (KEYS - 1) / 10 * 10;
    let caller = if last.is_multiple_of(2) {
        owner()
    } else {
        other()
    };
    assert_eq!(
        back.describe_as(&caller, &format!("alias/k{last}"))
            .unwrap()
            .key_id,
        keys[last]
    );
    let page = back.list_keys_as(&owner(), management::Page { number: 1, size: 3 });
    assert_eq!(page.total, KEYS / 2);
    assert_eq!(page.items[1], keys[2]);
}
