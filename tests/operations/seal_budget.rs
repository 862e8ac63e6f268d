//! The seal budget (spec §10): a key version seals at most `limit` times (2^32 by default),
//! after which the in-memory provider refuses (`InternalFailure` on the wire,
//! `Internal::SealLimitReached` for a local caller). Every sealing operation counts against
//! the primary version; Decrypt, dry runs and failed requests never do. Rotation is an
//! operation of its own: `management::rotate_exhausted` stages a new primary version, committed
//! with `KeyStore::apply`, after which sealing resumes and older blobs still open.

use kms_core::management::{self, CommitError, KeyStore};
use kms_core::ops::{self, EncryptRequest, Plaintext};
use kms_core::wire::{EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{Error, InMemoryProvider, Internal, KeyId, KeyState, KeyVersionId};

use crate::testkit::*;

fn limited(limit: u64, seed: u64) -> World {
    World::with_provider(InMemoryProvider::new().with_seal_limit(limit), seed)
}

/// GenerateDataKeyWithoutPlaintext under `key`.
fn gdkwp(world: &mut World, key: &KeyId) -> Result<(KeyVersionId, String), Error> {
    let id = key.to_string();
    world
        .gdkwp_as(&owner(), &GenerateDataKeyParams::new().key_id(&id))
        .map(|out| (out.key_version_id, out.ciphertext_blob))
}

/// GenerateDataKey under `key`.
fn gdk(world: &mut World, key: &KeyId) -> Result<(KeyVersionId, String), Error> {
    let id = key.to_string();
    world
        .gdk(&GenerateDataKeyParams::new().key_id(&id))
        .map(|out| (out.key_version_id, out.ciphertext_blob))
}

/// Encrypt of `text` under `key`.
fn enc(world: &mut World, key: &KeyId, text: &str) -> Result<(KeyVersionId, String), Error> {
    let id = key.to_string();
    world
        .encrypt_as(&owner(), &EncryptParams::new().key_id(&id).plaintext(text))
        .map(|out| (out.key_version_id, out.ciphertext_blob))
}

/// ReEncrypt of `blob` to `dest`.
fn reenc(world: &mut World, blob: &str, dest: &KeyId) -> Result<(KeyVersionId, String), Error> {
    let id = dest.to_string();
    let p = ReEncryptParams::new()
        .ciphertext_blob(blob)
        .destination_key_id(&id);
    world
        .re_encrypt_as(&owner(), &p)
        .map(|out| (out.key_version_id, out.ciphertext_blob))
}

/// The refusal, as a local caller sees it and as the wire reports it.
#[track_caller]
fn assert_limit_reached<T: core::fmt::Debug>(result: Result<T, Error>) {
    let err = expect_err(result);
    assert_eq!(err, Error::InternalFailure(Internal::SealLimitReached));
    assert_wire(&err, 500, "InternalFailure", MSG_INTERNAL);
}

/// Rotates `key` away from `exhausted` as the service would, committing the staged change; the
/// new version, or `None` when `exhausted` is no longer primary.
fn rotate(world: &mut World, key: &KeyId, exhausted: &KeyVersionId) -> Option<KeyVersionId> {
    let staged = management::rotate_exhausted(&world.provider, key, exhausted, &mut world.rng, T0)
        .expect("rotate_exhausted");
    staged.map(|s| world.provider.apply(s).expect("commit").key_version_id)
}

/// Seals through `seal`, rotating the key whenever its primary version refuses, as a frontend
/// would.
fn seal_rotating(
    world: &mut World,
    key: &KeyId,
    mut seal: impl FnMut(&mut World) -> Result<(KeyVersionId, String), Error>,
) -> (KeyVersionId, String) {
    match seal(world) {
        Ok(sealed) => sealed,
        Err(Error::InternalFailure(Internal::SealLimitReached)) => {
            let exhausted = world.primary(key);
            rotate(world, key, &exhausted).expect("a new version");
            seal(world).expect("a fresh version seals")
        }
        Err(e) => panic!("{e:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Refusal

#[test]
fn the_fourth_seal_is_refused_and_decrypt_goes_on() {
    let mut w = limited(3, 1);
    let key = w.key;
    let v1 = w.primary(&key);
    let mut blobs = Vec::new();
    for i in 1..=3 {
        let (version, blob) = gdkwp(&mut w, &key).expect("within the budget");
        assert_eq!(version, v1);
        assert_eq!(w.seals(&v1), i);
        blobs.push(blob);
    }
    for _ in 0..3 {
        assert_limit_reached(gdkwp(&mut w, &key));
    }
    let err = expect_err(gdkwp(&mut w, &key));
    // The wire's message says nothing; the human sentence says what to do.
    assert_eq!(err.message().to_string(), MSG_INTERNAL);
    assert!(err.to_string().contains("rotate"), "{err}");
    // Refused seals are not counted, and nothing rotated by itself.
    assert_eq!(w.seals(&v1), 3);
    assert_eq!(w.primary(&key), v1);
    assert_eq!(w.versions(&key), vec![v1]);
    // Decrypt is never limited.
    for _ in 0..5 {
        for blob in &blobs {
            let opened = w.open(blob, None).expect("Decrypt after the limit");
            assert_eq!(opened.key_version_id, v1);
            assert_eq!(opened.plaintext.expose().len(), 44);
        }
    }
    assert_eq!(w.seals(&v1), 3);

    // Rotated, the key seals under a new version with a budget of its own.
    let v2 = rotate(&mut w, &key, &v1).expect("rotated");
    assert_eq!(w.primary(&key), v2);
    for i in 1..=3 {
        assert_eq!(gdkwp(&mut w, &key).unwrap().0, v2);
        assert_eq!(w.seals(&v2), i);
    }
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_eq!(w.seals(&v1), 3);
    for blob in &blobs {
        assert_eq!(w.open(blob, None).unwrap().key_version_id, v1);
    }
}

#[test]
fn encrypt_is_refused_at_the_limit() {
    let mut w = limited(3, 2);
    let key = w.key;
    let v1 = w.primary(&key);
    let blobs: Vec<String> = (0..3)
        .map(|i| enc(&mut w, &key, &format!("message {i}")).unwrap().1)
        .collect();
    assert_limit_reached(enc(&mut w, &key, "one too many"));
    assert_eq!(w.seals(&v1), 3);
    for (i, blob) in blobs.iter().enumerate() {
        let opened = w.open(blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), format!("message {i}"));
    }
    // The typed layer is refused alike.
    let request = EncryptRequest::new(key, Plaintext::new("typed").unwrap());
    let result = ops::encrypt(&w.provider, &owner(), &request, &mut rng(2));
    assert_limit_reached(result);
}

#[test]
fn re_encrypt_counts_against_the_destination_only() {
    let mut w = limited(3, 3);
    let a = w.key;
    let b = w.create_in(ACCOUNT, REGION);
    let (va, vb) = (w.primary(&a), w.primary(&b));
    let (_, blob) = enc(&mut w, &a, "moving").unwrap();
    assert_eq!(w.seals(&va), 1);
    let mut moved = Vec::new();
    for i in 1..=3 {
        let (version, out) = reenc(&mut w, &blob, &b).unwrap();
        assert_eq!(version, vb);
        assert_eq!(w.seals(&vb), i);
        moved.push(out);
    }
    // Opening the source never counted.
    assert_eq!(w.seals(&va), 1);
    assert_limit_reached(reenc(&mut w, &blob, &b));
    assert_eq!(w.seals(&vb), 3);
    // The source key still has budget: moving back to it works twice more, then stops.
    let (_, back) = reenc(&mut w, &moved[0], &a).unwrap();
    reenc(&mut w, &moved[1], &a).unwrap();
    assert_eq!(w.seals(&va), 3);
    assert_limit_reached(reenc(&mut w, &moved[2], &a));
    for blob in moved.iter().chain([&blob, &back]) {
        assert_eq!(w.open(blob, None).unwrap().plaintext.expose(), "moving");
    }
}

#[test]
fn every_sealing_operation_shares_one_budget() {
    let mut w = limited(4, 4);
    let key = w.key;
    let v1 = w.primary(&key);
    let (_, blob) = enc(&mut w, &key, "p").unwrap();
    gdkwp(&mut w, &key).unwrap();
    gdk(&mut w, &key).unwrap();
    reenc(&mut w, &blob, &key).unwrap();
    assert_eq!(w.seals(&v1), 4);
    assert_limit_reached(enc(&mut w, &key, "p"));
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_limit_reached(gdk(&mut w, &key));
    assert_limit_reached(reenc(&mut w, &blob, &key));
    assert_eq!(w.seals(&v1), 4);
}

#[test]
fn the_budget_is_per_version_not_per_provider() {
    let mut w = limited(2, 5);
    let a = w.key;
    let b = w.create_in(ACCOUNT, REGION);
    gdkwp(&mut w, &a).unwrap();
    gdkwp(&mut w, &a).unwrap();
    assert_limit_reached(gdkwp(&mut w, &a));
    gdkwp(&mut w, &b).unwrap();
    gdkwp(&mut w, &b).unwrap();
    assert_limit_reached(gdkwp(&mut w, &b));
}

#[test]
fn a_limit_of_zero_is_one_and_the_largest_is_2_to_the_32() {
    let mut w = limited(0, 6);
    assert_eq!(w.provider.seal_limit(), 1);
    let key = w.key;
    let v1 = w.primary(&key);
    gdkwp(&mut w, &key).expect("one seal");
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_eq!(w.seals(&v1), 1);
    assert_eq!(InMemoryProvider::new().seal_limit(), 1 << 32);
    assert_eq!(
        InMemoryProvider::new()
            .with_seal_limit(u64::MAX)
            .seal_limit(),
        1 << 32
    );
}

// ---------------------------------------------------------------------------------------------
// Rotation

/// Sealing on and rotating at each refusal, the version changes after exactly `limit` seals.
#[test]
fn rotation_changes_the_version_after_exactly_limit_seals() {
    let mut w = limited(3, 10);
    let key = w.key;
    let v1 = w.primary(&key);
    let sealed: Vec<(KeyVersionId, String)> = (0..10)
        .map(|_| seal_rotating(&mut w, &key, |w| gdkwp(w, &key)))
        .collect();
    let versions: Vec<KeyVersionId> = sealed.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions[0], v1);
    // Versions change at seals 4, 7 and 10.
    for (i, pair) in versions.windows(2).enumerate() {
        let changed = pair[0] != pair[1];
        assert_eq!(
            changed,
            (i + 1) % 3 == 0,
            "between seals {} and {}",
            i + 1,
            i + 2
        );
    }
    let distinct = [versions[0], versions[3], versions[6], versions[9]];
    for (i, a) in distinct.iter().enumerate() {
        for b in &distinct[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // The provider agrees: four versions, oldest first, the last primary.
    assert_eq!(w.versions(&key), distinct.to_vec());
    assert_eq!(w.primary(&key), distinct[3]);
    let counts: Vec<u64> = distinct.iter().map(|v| w.seals(v)).collect();
    assert_eq!(counts, vec![3, 3, 3, 1]);
    // Every blob names, and opens under, the version that sealed it.
    for (version, blob) in &sealed {
        assert_eq!(blob_version(blob), version.as_str());
        let opened = w.open(blob, None).unwrap();
        assert_eq!(opened.key_version_id, *version);
        assert_eq!(opened.key_id, key);
    }
}

#[test]
fn encrypt_resumes_under_the_new_version() {
    let mut w = limited(2, 11);
    let key = w.key;
    let v1 = w.primary(&key);
    let (a, blob_a) = enc(&mut w, &key, "a").unwrap();
    let (b, blob_b) = enc(&mut w, &key, "b").unwrap();
    assert_eq!((a, b), (v1, v1));
    // Nothing rotates by itself: the exhausted version stays primary until rotated.
    assert_eq!(w.primary(&key), v1);
    assert_limit_reached(enc(&mut w, &key, "c"));
    let v2 = rotate(&mut w, &key, &v1).unwrap();
    let (c, blob_c) = enc(&mut w, &key, "c").unwrap();
    assert_eq!(c, v2);
    for (blob, text, version) in [(&blob_a, "a", v1), (&blob_b, "b", v1), (&blob_c, "c", v2)] {
        let opened = w.open(blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
        assert_eq!(opened.key_version_id, version);
    }
}

#[test]
fn re_encrypt_rotates_the_destination_only() {
    let mut w = limited(2, 12);
    let a = w.key;
    let b = w.create_in(ACCOUNT, REGION);
    let (va, vb1) = (w.primary(&a), w.primary(&b));
    let (_, blob) = enc(&mut w, &a, "moving").unwrap();
    let outs: Vec<(KeyVersionId, String)> = (0..5)
        .map(|_| seal_rotating(&mut w, &b, |w| reenc(w, &blob, &b)))
        .collect();
    // The source never rotated; the destination did, every two seals.
    assert_eq!(w.versions(&a), vec![va]);
    assert_eq!(w.seals(&va), 1);
    let vb: Vec<KeyVersionId> = outs.iter().map(|(v, _)| *v).collect();
    assert_eq!((vb[0], vb[1]), (vb1, vb1));
    assert_ne!(vb[2], vb1);
    assert_eq!(vb[2], vb[3]);
    assert_ne!(vb[4], vb[3]);
    assert_eq!(w.versions(&b), vec![vb1, vb[2], vb[4]]);
    for (version, out) in &outs {
        let opened = w.open(out, None).unwrap();
        assert_eq!(opened.plaintext.expose(), "moving");
        assert_eq!(opened.key_version_id, *version);
    }
    // A blob under an exhausted version moves to the current primary.
    let (moved_to, moved) = reenc(&mut w, &outs[0].1, &b).unwrap();
    assert_eq!(moved_to, vb[4]);
    assert_eq!(w.open(&moved, None).unwrap().key_version_id, moved_to);
}

#[test]
fn with_a_limit_of_one_each_version_seals_once() {
    let mut w = limited(1, 13);
    let key = w.key;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (version, blob) = seal_rotating(&mut w, &key, |w| gdkwp(w, &key));
        assert!(!seen.contains(&version), "a version sealed twice");
        assert_eq!(w.seals(&version), 1);
        seen.push(version);
        assert_eq!(w.open(&blob, None).unwrap().key_version_id, version);
    }
    // The first version and one per rotation after it.
    assert_eq!(w.versions(&key), seen);
}

/// Concurrent rotations of one key make one new version: a rotation staged after another was
/// committed is `None`, and one staged before it no longer commits.
#[test]
fn only_one_rotation_of_an_exhausted_version_takes_effect() {
    let mut w = limited(1, 14);
    let key = w.key;
    let v1 = w.primary(&key);
    gdkwp(&mut w, &key).unwrap();
    let first = management::rotate_exhausted(&w.provider, &key, &v1, &mut w.rng, T0)
        .unwrap()
        .unwrap();
    let second = management::rotate_exhausted(&w.provider, &key, &v1, &mut w.rng, T0)
        .unwrap()
        .unwrap();
    // Staged, not committed: nothing changed yet.
    assert_eq!(w.versions(&key), vec![v1]);
    assert_limit_reached(gdkwp(&mut w, &key));
    let v2 = w.provider.apply(first).unwrap().key_version_id;
    assert_eq!(w.provider.apply(second).unwrap_err(), CommitError::Conflict);
    assert_eq!(w.versions(&key), vec![v1, v2]);
    let late = management::rotate_exhausted(&w.provider, &key, &v1, &mut w.rng, T0).unwrap();
    assert!(late.is_none());
    assert_eq!(gdkwp(&mut w, &key).unwrap().0, v2);
}

/// A rotation that cannot be made changes nothing, and the exhausted version still refuses.
#[test]
fn a_failed_rotation_never_lets_a_version_exceed_its_limit() {
    let mut w = limited(2, 15);
    let key = w.key;
    let v1 = w.primary(&key);
    enc(&mut w, &key, "first").unwrap();
    let (_, second) = enc(&mut w, &key, "second").unwrap();
    // The RNG fails while the new version is made.
    let mut failing = FailingRng::default();
    let result = management::rotate_exhausted(&w.provider, &key, &v1, &mut failing, T0);
    assert_eq!(expect_err(result), Error::InternalFailure(Internal::Rng));
    assert_eq!(w.versions(&key), vec![v1]);
    for _ in 0..4 {
        assert_limit_reached(enc(&mut w, &key, "later"));
        assert_eq!(w.seals(&v1), 2);
    }
    // A key that is not Enabled is not rotated either; nor is one that does not exist.
    w.put_in_state(&key, KeyState::Disabled);
    let result = management::rotate_exhausted(&w.provider, &key, &v1, &mut w.rng, T0);
    assert_row(result, Row::state_modified_failed());
    let unknown = KeyId::parse(UNKNOWN_KEY_ID).unwrap();
    let result = management::rotate_exhausted(&w.provider, &unknown, &v1, &mut w.rng, T0);
    assert_row(result, Row::key_not_found());
    let staged = management::enable_key(&w.provider, &owner(), &key.into(), T0);
    w.commit(staged);
    // Then sealing resumes under a new version, and the old blob opens.
    let v2 = rotate(&mut w, &key, &v1).unwrap();
    assert_eq!(enc(&mut w, &key, "resumed").unwrap().0, v2);
    assert_eq!(w.seals(&v1), 2);
    assert_eq!(w.open(&second, None).unwrap().plaintext.expose(), "second");
}

/// The service cannot make material for an `EXTERNAL` key, so it cannot rotate one: its
/// exhausted version just refuses.
#[test]
fn an_imported_key_is_never_sealed_past_its_limit() {
    let mut w = limited(2, 16);
    let key = w.pending_import_key();
    w.import(&key, &[0x42; 32]);
    let v1 = w.primary(&key);
    gdkwp(&mut w, &key).unwrap();
    gdkwp(&mut w, &key).unwrap();
    let result = management::rotate_exhausted(&w.provider, &key, &v1, &mut w.rng, T0);
    assert_row(result, Row::unsupported());
    for _ in 0..3 {
        assert_limit_reached(gdkwp(&mut w, &key));
        assert_eq!(w.seals(&v1), 2);
    }
    assert_eq!(w.versions(&key), vec![v1]);
}

// ---------------------------------------------------------------------------------------------
// What does not count

/// Dry runs never seal, so they never count, and at the limit they still pass: the budget is
/// not one of the checks of spec §7.
#[test]
fn dry_runs_do_not_consume_seals() {
    let mut w = limited(3, 20);
    let key = w.key;
    let id = key.to_string();
    let v1 = w.primary(&key);
    let (_, blob) = enc(&mut w, &key, "p").unwrap();
    gdkwp(&mut w, &key).unwrap();
    assert_eq!(w.seals(&v1), 2);
    let dry_runs = |w: &mut World| {
        let gdk = GenerateDataKeyParams::new().key_id(&id).dry_run("true");
        assert_row(w.gdk(&gdk), Row::dry_run_passed());
        assert_row(w.gdkwp_as(&owner(), &gdk), Row::dry_run_passed());
        let p = EncryptParams::new()
            .key_id(&id)
            .plaintext("p")
            .dry_run("true");
        assert_row(w.encrypt_as(&owner(), &p), Row::dry_run_passed());
        let p = ReEncryptParams::new()
            .ciphertext_blob(&blob)
            .destination_key_id(&id)
            .dry_run("true");
        assert_row(w.re_encrypt_as(&owner(), &p), Row::dry_run_passed());
    };
    for _ in 0..10 {
        dry_runs(&mut w);
    }
    assert_eq!(w.seals(&v1), 2);
    assert_eq!(w.versions(&key), vec![v1]);
    // The third real seal is still v1's, and the last.
    assert_eq!(gdkwp(&mut w, &key).unwrap().0, v1);
    assert_eq!(w.seals(&v1), 3);
    assert_limit_reached(gdkwp(&mut w, &key));
    dry_runs(&mut w);
    assert_eq!(w.seals(&v1), 3);
}

#[test]
fn failures_and_decrypts_do_not_consume_seals() {
    let mut w = limited(2, 21);
    let key = w.key;
    let id = key.to_string();
    let v1 = w.primary(&key);
    let (_, blob) = enc(&mut w, &key, "p").unwrap();
    // Decrypts, invalid parameters, a source that does not open, an RNG that fails at the IV.
    for _ in 0..5 {
        w.open(&blob, None).unwrap();
        enc(&mut w, &key, "").unwrap_err();
        reenc(&mut w, &flip(&blob, 50), &key).unwrap_err();
        let mut failing = FailingRng::default();
        let p = EncryptParams::new().key_id(&id).plaintext("p");
        kms_core::wire::encrypt(&w.provider, &owner(), &p, &mut failing).unwrap_err();
    }
    w.put_in_state(&key, KeyState::Disabled);
    enc(&mut w, &key, "p").unwrap_err();
    let staged = management::enable_key(&w.provider, &owner(), &key.into(), T0);
    w.commit(staged);
    assert_eq!(w.seals(&v1), 1);
    enc(&mut w, &key, "p").expect("the second seal is still there");
    assert_limit_reached(enc(&mut w, &key, "p"));
}

#[test]
fn the_seal_count_of_an_unknown_version_is_key_not_found() {
    let w = World::new(22);
    assert_row(
        w.provider.seal_count(&version(UNKNOWN_KEY_ID)),
        Row::key_not_found(),
    );
    assert_eq!(w.seals(&w.primary(&w.key)), 0);
}
