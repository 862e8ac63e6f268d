//! The nonce budget (spec §10): a key version seals at most `limit` times, after which the
//! in-memory provider refuses (`SealLimitReached`, 500 InternalFailure on the wire) or rotates
//! to a new primary version. Every sealing operation counts; Decrypt and dry runs never do.

mod support_ops;

use kms_core::{
    EncryptRequest, Error, GenerateDataKeyRequest, InMemoryProvider, KeyId, KeyOptions, KeyOrigin,
    KeyVersionId, MasterKeyMaterial, ReEncryptRequest, RequestId, SealLimitAction, encrypt,
    generate_data_key, generate_data_key_without_plaintext, re_encrypt,
};
use support_ops::*;

fn limited(limit: u64, action: SealLimitAction, seed: u64) -> World {
    World::with_provider(InMemoryProvider::new().with_seal_limit(limit, action), seed)
}

/// GenerateDataKeyWithoutPlaintext under `key`.
fn gdkwp(world: &mut World, key: &KeyId) -> Result<(KeyVersionId, String), Error> {
    let text = key.to_string();
    generate_data_key_without_plaintext(
        &mut world.provider,
        &owner(),
        &GenerateDataKeyRequest::new(&text),
        &mut world.rng,
    )
    .map(|out| (out.key_version_id, out.ciphertext_blob))
}

fn enc(world: &mut World, key: &KeyId, text: &str) -> Result<(KeyVersionId, String), Error> {
    let id = key.to_string();
    world
        .encrypt_as(&owner(), &id, text, None)
        .map(|out| (out.key_version_id, out.ciphertext_blob))
}

fn reenc(world: &mut World, blob: &str, dest: &KeyId) -> Result<(KeyVersionId, String), Error> {
    let id = dest.to_string();
    re_encrypt(
        &mut world.provider,
        &owner(),
        &ReEncryptRequest::new(blob, &id),
        &mut world.rng,
    )
    .map(|out| (out.key_version_id, out.ciphertext_blob))
}

#[track_caller]
fn assert_limit_reached<T: core::fmt::Debug>(result: Result<T, Error>) {
    assert_internal(result, Error::SealLimitReached);
}

// ---------------------------------------------------------------------------------------------
// Refuse

#[test]
fn refuse_stops_the_fourth_seal_and_decrypt_goes_on() {
    let mut w = limited(3, SealLimitAction::Refuse, 1);
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
    // Refused seals are not counted, and nothing rotated.
    assert_eq!(w.seals(&v1), 3);
    assert_eq!(w.primary(&key), v1);
    assert_eq!(w.versions(&key), vec![v1]);
    // Decrypt is never limited.
    for _ in 0..5 {
        for blob in &blobs {
            let opened = w.decrypt(blob, None).expect("decrypt after the limit");
            assert_eq!(opened.key_version_id, v1);
            assert_eq!(opened.plaintext.expose().len(), 44);
        }
    }
    assert_eq!(w.seals(&v1), 3);

    // The owner rotates; the new version has a budget of its own.
    let v2 = w.provider.rotate_key(&key, &mut w.rng).unwrap();
    for i in 1..=3 {
        assert_eq!(gdkwp(&mut w, &key).unwrap().0, v2);
        assert_eq!(w.seals(&v2), i);
    }
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_eq!(w.seals(&v1), 3);
}

#[test]
fn refuse_via_encrypt() {
    let mut w = limited(3, SealLimitAction::Refuse, 2);
    let key = w.key;
    let v1 = w.primary(&key);
    let blobs: Vec<String> = (0..3)
        .map(|i| enc(&mut w, &key, &format!("message {i}")).unwrap().1)
        .collect();
    assert_limit_reached(enc(&mut w, &key, "one too many"));
    assert_eq!(w.seals(&v1), 3);
    for (i, blob) in blobs.iter().enumerate() {
        assert_eq!(
            w.decrypt(blob, None).unwrap().plaintext.expose(),
            format!("message {i}")
        );
    }
}

#[test]
fn refuse_via_re_encrypt_counts_the_destination_only() {
    let mut w = limited(3, SealLimitAction::Refuse, 3);
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
    // Every blob still opens.
    for blob in moved.iter().chain([&blob, &back]) {
        assert_eq!(w.decrypt(blob, None).unwrap().plaintext.expose(), "moving");
    }
}

#[test]
fn every_sealing_operation_shares_one_budget() {
    let mut w = limited(4, SealLimitAction::Refuse, 4);
    let key = w.key;
    let text = key.to_string();
    let v1 = w.primary(&key);
    let (_, blob) = enc(&mut w, &key, "p").unwrap();
    gdkwp(&mut w, &key).unwrap();
    generate_data_key(
        &mut w.provider,
        &owner(),
        &GenerateDataKeyRequest::new(&text),
        &mut w.rng,
    )
    .unwrap();
    reenc(&mut w, &blob, &key).unwrap();
    assert_eq!(w.seals(&v1), 4);
    // Now every one of them is refused.
    assert_limit_reached(enc(&mut w, &key, "p"));
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_limit_reached(generate_data_key(
        &mut w.provider,
        &owner(),
        &GenerateDataKeyRequest::new(&text),
        &mut w.rng,
    ));
    assert_limit_reached(reenc(&mut w, &blob, &key));
    assert_eq!(w.seals(&v1), 4);
}

#[test]
fn the_budget_is_per_version_not_per_provider() {
    let mut w = limited(2, SealLimitAction::Refuse, 5);
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
fn a_limit_of_zero_is_one() {
    let mut w = limited(0, SealLimitAction::Refuse, 6);
    let key = w.key;
    let v1 = w.primary(&key);
    gdkwp(&mut w, &key).expect("one seal");
    assert_limit_reached(gdkwp(&mut w, &key));
    assert_eq!(w.seals(&v1), 1);
}

// ---------------------------------------------------------------------------------------------
// Rotate

#[test]
fn rotate_changes_version_after_exactly_limit_seals() {
    let mut w = limited(3, SealLimitAction::Rotate, 10);
    let key = w.key;
    let v1 = w.primary(&key);
    let mut sealed: Vec<(KeyVersionId, String)> = Vec::new();
    for _ in 0..10 {
        sealed.push(gdkwp(&mut w, &key).expect("rotation keeps sealing"));
    }
    // Versions change at seals 4, 7 and 10.
    let versions: Vec<KeyVersionId> = sealed.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions[0], v1);
    for (i, pair) in versions.windows(2).enumerate() {
        let changed = pair[0] != pair[1];
        assert_eq!(
            changed,
            (i + 1) % 3 == 0,
            "between seal {} and {}",
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
    // The provider's own view agrees: four versions, oldest first, the last primary.
    assert_eq!(w.versions(&key), distinct.to_vec());
    assert_eq!(w.primary(&key), distinct[3]);
    assert_eq!(
        distinct.iter().map(|v| w.seals(v)).collect::<Vec<_>>(),
        vec![3, 3, 3, 1]
    );
    // Every blob names and opens under the version that sealed it.
    for (version, blob) in &sealed {
        assert_eq!(blob_version(blob), version.as_str());
        let opened = w.decrypt(blob, None).unwrap();
        assert_eq!(opened.key_version_id, *version);
        assert_eq!(opened.key_id, key);
    }
}

#[test]
fn rotate_via_encrypt() {
    let mut w = limited(2, SealLimitAction::Rotate, 11);
    let key = w.key;
    let v1 = w.primary(&key);
    let (a, blob_a) = enc(&mut w, &key, "a").unwrap();
    let (b, blob_b) = enc(&mut w, &key, "b").unwrap();
    assert_eq!((a, b), (v1, v1));
    // The rotation happened as the second seal used up v1, not at the third request.
    let v2 = w.primary(&key);
    assert_ne!(v2, v1);
    let (c, blob_c) = enc(&mut w, &key, "c").unwrap();
    assert_eq!(c, v2);
    for (blob, text, version) in [(&blob_a, "a", v1), (&blob_b, "b", v1), (&blob_c, "c", v2)] {
        let opened = w.decrypt(blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
        assert_eq!(opened.key_version_id, version);
    }
}

#[test]
fn rotate_via_re_encrypt_rotates_the_destination() {
    let mut w = limited(2, SealLimitAction::Rotate, 12);
    let a = w.key;
    let b = w.create_in(ACCOUNT, REGION);
    let (va, vb1) = (w.primary(&a), w.primary(&b));
    let (_, blob) = enc(&mut w, &a, "moving").unwrap();
    let mut outs = Vec::new();
    for _ in 0..5 {
        outs.push(reenc(&mut w, &blob, &b).unwrap());
    }
    // The source never rotated; the destination did, every two seals.
    assert_eq!(w.versions(&a), vec![va]);
    assert_eq!(w.seals(&va), 1);
    let vb: Vec<KeyVersionId> = outs.iter().map(|(v, _)| *v).collect();
    assert_eq!(vb[0], vb1);
    assert_eq!(vb[1], vb1);
    assert_ne!(vb[2], vb1);
    assert_eq!(vb[2], vb[3]);
    assert_ne!(vb[4], vb[3]);
    assert_eq!(w.versions(&b).len(), 3);
    for (version, out) in &outs {
        let opened = w.decrypt(out, None).unwrap();
        assert_eq!(opened.plaintext.expose(), "moving");
        assert_eq!(opened.key_version_id, *version);
    }
    // A blob under an exhausted version moves to the current primary.
    let (moved_to, moved) = reenc(&mut w, &outs[0].1, &b).unwrap();
    assert_eq!(moved_to, w.versions(&b)[2]);
    assert_eq!(w.decrypt(&moved, None).unwrap().key_version_id, moved_to);
}

#[test]
fn rotate_with_a_limit_of_one_uses_each_version_once() {
    let mut w = limited(1, SealLimitAction::Rotate, 13);
    let key = w.key;
    let mut seen = Vec::new();
    for _ in 0..6 {
        let (version, blob) = gdkwp(&mut w, &key).unwrap();
        assert!(!seen.contains(&version), "a version sealed twice");
        assert_eq!(w.seals(&version), 1);
        seen.push(version);
        assert_eq!(w.decrypt(&blob, None).unwrap().key_version_id, version);
    }
    assert_eq!(w.versions(&key).len(), 7);
}

#[test]
fn a_failed_rotation_never_lets_a_version_exceed_its_limit() {
    let mut w = limited(2, SealLimitAction::Rotate, 14);
    let key = w.key;
    let text = key.to_string();
    let v1 = w.primary(&key);
    enc(&mut w, &key, "first").unwrap();
    // The second seal gets its IV but the RNG fails when the provider tries to rotate.
    let supplied = RequestId::parse(b"11111111-2222-4333-8444-555555555555").unwrap();
    let request = EncryptRequest {
        request_id: Some(supplied),
        ..EncryptRequest::new(&text, "second")
    };
    let mut starved = BudgetRng::new(15, 12);
    let second = encrypt(&mut w.provider, &owner(), &request, &mut starved)
        .expect("the seal itself succeeded");
    assert_eq!(second.key_version_id, v1);
    assert_eq!(w.seals(&v1), 2);
    // The premise: the rotation did fail, so v1 is still primary and used up.
    assert_eq!(w.primary(&key), v1);
    // Whatever happens next, v1 seals no more.
    for _ in 0..4 {
        match enc(&mut w, &key, "later") {
            Ok((version, blob)) => {
                assert_ne!(version, v1);
                assert_eq!(w.decrypt(&blob, None).unwrap().key_version_id, version);
            }
            Err(e) => assert_eq!(e, Error::SealLimitReached),
        }
        assert_eq!(w.seals(&v1), 2);
    }
    // And sealing does resume under a new version.
    let (version, _) = enc(&mut w, &key, "resumed").unwrap();
    assert_ne!(version, v1);
    assert_eq!(
        w.decrypt(&second.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "second"
    );
}

#[test]
fn an_imported_key_is_never_sealed_past_its_limit() {
    // The provider cannot make material for an EXTERNAL key, so it cannot rotate it.
    let mut w = limited(2, SealLimitAction::Rotate, 16);
    let key = w.create(KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    let material = MasterKeyMaterial::from_slice(&[0x42; 32]).unwrap();
    w.provider.import_key_material(&key, material).unwrap();
    let v1 = w.primary(&key);
    gdkwp(&mut w, &key).unwrap();
    gdkwp(&mut w, &key).unwrap();
    for _ in 0..3 {
        if let Ok((version, _)) = gdkwp(&mut w, &key) {
            assert_ne!(version, v1);
        }
        assert_eq!(w.seals(&v1), 2);
    }
}

// ---------------------------------------------------------------------------------------------
// What does not count

#[test]
fn dry_runs_do_not_consume_seals() {
    for action in [SealLimitAction::Refuse, SealLimitAction::Rotate] {
        let mut w = limited(3, action, 20);
        let key = w.key;
        let text = key.to_string();
        let v1 = w.primary(&key);
        let (_, blob) = enc(&mut w, &key, "p").unwrap();
        gdkwp(&mut w, &key).unwrap();
        assert_eq!(w.seals(&v1), 2);
        for _ in 0..10 {
            assert_dry_run_passed(encrypt(
                &mut w.provider,
                &owner(),
                &EncryptRequest {
                    dry_run: Some("true"),
                    ..EncryptRequest::new(&text, "p")
                },
                &mut w.rng,
            ));
            assert_dry_run_passed(generate_data_key_without_plaintext(
                &mut w.provider,
                &owner(),
                &GenerateDataKeyRequest {
                    dry_run: Some("true"),
                    ..GenerateDataKeyRequest::new(&text)
                },
                &mut w.rng,
            ));
            assert_dry_run_passed(generate_data_key(
                &mut w.provider,
                &owner(),
                &GenerateDataKeyRequest {
                    dry_run: Some("true"),
                    ..GenerateDataKeyRequest::new(&text)
                },
                &mut w.rng,
            ));
            assert_dry_run_passed(re_encrypt(
                &mut w.provider,
                &owner(),
                &ReEncryptRequest {
                    dry_run: Some("true"),
                    ..ReEncryptRequest::new(&blob, &text)
                },
                &mut w.rng,
            ));
        }
        // Nothing counted and nothing rotated.
        assert_eq!(w.seals(&v1), 2, "{action:?}");
        assert_eq!(w.versions(&key), vec![v1], "{action:?}");
        // The third real seal is still v1's.
        assert_eq!(gdkwp(&mut w, &key).unwrap().0, v1);
        assert_eq!(w.seals(&v1), 3);
    }
}

#[test]
fn failures_and_decrypts_do_not_consume_seals() {
    let mut w = limited(2, SealLimitAction::Refuse, 21);
    let key = w.key;
    let text = key.to_string();
    let v1 = w.primary(&key);
    let (_, blob) = enc(&mut w, &key, "p").unwrap();
    // Decrypts, failed parameters, a source that does not open, an RNG that fails.
    for _ in 0..5 {
        w.decrypt(&blob, None).unwrap();
        enc(&mut w, &key, "").unwrap_err();
        reenc(&mut w, &flip(&blob, 50), &key).unwrap_err();
        let mut failing = BudgetRng::failing();
        encrypt(
            &mut w.provider,
            &owner(),
            &EncryptRequest::new(&text, "p"),
            &mut failing,
        )
        .unwrap_err();
    }
    w.provider.disable_key(&key).unwrap();
    enc(&mut w, &key, "p").unwrap_err();
    w.provider.enable_key(&key).unwrap();
    assert_eq!(w.seals(&v1), 1);
    enc(&mut w, &key, "p").expect("the second seal is still there");
    assert_limit_reached(enc(&mut w, &key, "p"));
}

#[test]
fn seal_count_of_an_unknown_version_is_key_not_found() {
    let w = World::new(22);
    let unknown = KeyVersionId::parse(UNKNOWN_KEY_ID.as_bytes()).unwrap();
    assert_key_not_found(w.provider.seal_count(&unknown));
}
