//! GenerateDataKeyWithoutPlaintext (spec §1, §3): GenerateDataKey's request and rules (run
//! here through [`Generate::WithoutPlaintext`]), a blob that Decrypt opens to the Base64 text
//! of a fresh data key of the requested length, the order of its RNG draws, and a data key
//! that never outlives the call, in the no-alloc form and in the typed layer.

use kms_core::ops::{self, DryRunPassed, GenerateDataKeyRequest, Outcome};
use kms_core::wire::{self, GenerateDataKeyParams};
use kms_core::{
    DataKeyLength, Error, InMemoryProvider, Internal, KeyOptions, KeyState, MasterKeySpec,
    RequestId, WorkspaceTooSmall,
};

use crate::generate_data_key::{
    Generate, holds, length_rules, mirror, open_data_key, parameter_order, params, uuid_v4_of,
};
use crate::testkit::*;

const WP: Generate = Generate::WithoutPlaintext;

fn run(world: &mut World, p: &GenerateDataKeyParams<'_>) -> wire::CiphertextResponseBuf {
    world
        .gdkwp_as(&owner(), p)
        .expect("GenerateDataKeyWithoutPlaintext")
}

#[test]
fn the_data_key_length_rules() {
    length_rules(WP, 101);
}

#[test]
fn the_parameters_are_checked_in_order() {
    parameter_order(WP, 102);
}

#[test]
fn the_response_names_the_key_its_primary_version_and_a_request() {
    let mut world = World::new(103);
    let key = world.key_text();
    let out = run(&mut world, &params(Some(&key), None, None, None, None));
    assert_eq!(out.key_id, world.key);
    assert_eq!(out.key_version_id, world.primary(&world.key));
    assert_eq!(
        blob_version(&out.ciphertext_blob),
        out.key_version_id.as_str()
    );
    assert!(is_uuid_v4(&out.request_id.to_string()));
    // A 32-byte key: its 44-character text sealed in 108 bytes, 144 Base64 characters.
    assert_eq!(out.ciphertext_blob.len(), 144);
    open_data_key(&mut world, &out.ciphertext_blob, None, 32);
}

#[test]
fn every_call_makes_a_fresh_key() {
    let mut world = World::new(104);
    let key = world.key_text();
    let p = params(Some(&key), None, None, None, None);
    let mut keys = Vec::new();
    for _ in 0..8 {
        let out = run(&mut world, &p);
        keys.push(open_data_key(&mut world, &out.ciphertext_blob, None, 32));
    }
    for (i, a) in keys.iter().enumerate() {
        assert!(a.iter().any(|b| *b != 0), "an all-zero key");
        for b in &keys[i + 1..] {
            assert_ne!(a, b);
        }
    }
}

#[test]
fn the_context_is_bound_to_the_blob() {
    let mut world = World::new(105);
    let key = world.key_text();
    let context = r#"{"purpose":"test","tenant":"Zürich"}"#;
    let out = run(
        &mut world,
        &params(Some(&key), None, None, Some(context), None),
    );
    let a = open_data_key(&mut world, &out.ciphertext_blob, Some(context), 32);
    // The same context written otherwise.
    let b = open_data_key(
        &mut world,
        &out.ciphertext_blob,
        Some(r#"{ "tenant" : "Z\u00fcrich", "purpose" : "test" }"#),
        32,
    );
    assert_eq!(a, b);
    for wrong in [
        None,
        Some(r#"{"purpose":"test"}"#),
        Some(r#"{"purpose":"test","tenant":"Zurich"}"#),
        // Not normalised: U+00FC is not "u" and U+0308.
        Some(r#"{"purpose":"test","tenant":"Zu\u0308rich"}"#),
    ] {
        let result = world.open(&out.ciphertext_blob, wrong);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::invalid("CiphertextBlob"),
            "{wrong:?}"
        );
    }
}

#[test]
fn aes_128_master_keys_and_rotated_keys() {
    let mut world = World::new(106);
    let aes128 = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let id = aes128.to_string();
    let out = run(&mut world, &params(Some(&id), None, None, None, None));
    assert_eq!(out.key_id, aes128);
    open_data_key(&mut world, &out.ciphertext_blob, None, 32);

    let key = world.key;
    let id = world.key_text();
    let p = params(Some(&id), None, Some("16"), None, None);
    let v1 = world.primary(&key);
    let old = run(&mut world, &p);
    let v2 = world.rotate(&key);
    let new = run(&mut world, &p);
    assert_eq!((old.key_version_id, new.key_version_id), (v1, v2));
    assert_ne!(v1, v2);
    for (out, version) in [(&old, v1), (&new, v2)] {
        assert_eq!(blob_version(&out.ciphertext_blob), version.as_str());
        let opened = world.open(&out.ciphertext_blob, None).unwrap();
        assert_eq!(opened.key_version_id, version);
        assert_eq!(opened.plaintext.expose().len(), 24);
    }
}

#[test]
fn a_request_id_is_supplied_or_drawn() {
    let mut world = World::new(107);
    let key = world.key_text();
    let p = params(Some(&key), None, None, None, None);
    let supplied = RequestId::parse(b"5f0c1a7e-2b3d-4e5f-8a9b-0c1d2e3f4a5b").unwrap();
    assert_eq!(
        run(&mut world, &p.request_id(supplied)).request_id,
        supplied
    );
    let a = run(&mut world, &p).request_id;
    let b = run(&mut world, &p).request_id;
    assert!(is_uuid_v4(&a.to_string()) && is_uuid_v4(&b.to_string()));
    assert_ne!(a, b);
    assert_ne!(a, supplied);
}

/// The data key, the IV and the RequestId are the RNG's output, in that order, as for
/// GenerateDataKey; the key only shows through Decrypt.
#[test]
fn the_data_key_the_iv_and_the_request_id_are_the_rngs_output_in_that_order() {
    let mut world = World::new(108);
    for n in [1usize, 33, 1024] {
        let seed = 8_000 + n as u64;
        let drawn = mirror(seed, &[n, 12, 16]);
        let number = n.to_string();
        let p = params(Some(ALIAS), None, Some(&number), None, None);
        let mut r = CountingRng::new(rng(seed));
        let out = WP.run_with(&world.provider, &owner(), &p, &mut r).unwrap();
        assert_eq!((r.calls, r.bytes), (3, n + 12 + 16));
        assert_eq!(unb64(&out.blob)[36..48], drawn[1], "the IV");
        assert_eq!(out.request_id.to_string(), uuid_v4_of(&drawn[2]));
        let data_key = open_data_key(&mut world, &out.blob, None, n);
        assert_eq!(data_key, drawn[0], "the data key");
    }
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form, and where the data key goes

#[test]
fn the_in_form_matches_the_owned_form() {
    let world = World::new(110);
    for (key_spec, number_of_bytes, context) in [
        (None, None, None),
        (Some("AES_128"), None, Some(r#"{"x":"y"}"#)),
        (None, Some("1"), None),
        (
            Some("bogus"),
            Some("1024"),
            Some(r#"{ "k" : "\u00e9", "a":"" }"#),
        ),
    ] {
        let p = params(Some(ALIAS), key_spec, number_of_bytes, context, None);
        let a = WP
            .run_with(&world.provider, &owner(), &p, &mut rng(3))
            .unwrap();
        let mut workspace = vec![0u8; p.workspace_len()];
        let b = wire::generate_data_key_without_plaintext_in(
            &world.provider,
            &owner(),
            &p,
            &mut rng(3),
            &mut workspace,
        )
        .unwrap();
        assert_eq!(b.key_id, a.key_id);
        assert_eq!(b.key_version_id, a.key_version_id);
        assert_eq!(b.ciphertext_blob, a.blob);
        assert_eq!(b.request_id, a.request_id);
    }
}

#[test]
fn the_in_forms_errors_match_the_owned_forms() {
    let mut world = World::new(111);
    let key = world.key_text();
    let disabled = world.key_in_state(KeyState::Disabled).to_string();
    let cases = [
        (params(None, None, None, None, None), Row::missing("KeyId")),
        (
            params(Some(&key), None, Some("0"), None, None),
            Row::invalid("NumberOfBytes"),
        ),
        (
            params(Some("alias/nope"), None, None, None, None),
            Row::alias_not_found(),
        ),
        (
            params(Some(&disabled), None, None, None, None),
            Row::rejected("Disabled"),
        ),
        (
            params(Some(&key), None, None, None, Some("true")),
            Row::dry_run_passed(),
        ),
    ];
    for (p, row) in &cases {
        let owned = expect_err(world.gdkwp_as(&owner(), p));
        let mut workspace = vec![0u8; p.workspace_len()];
        let borrowed = expect_err(wire::generate_data_key_without_plaintext_in(
            &world.provider,
            &owner(),
            p,
            &mut world.rng,
            &mut workspace,
        ));
        assert_eq!(borrowed, owned, "{p:?}");
        assert_eq!(Row::of(&borrowed), *row, "{p:?}");
    }
}

#[test]
fn too_small_a_workspace_is_an_internal_failure_and_seals_nothing() {
    let mut world = World::new(112);
    let key = world.key_text();
    let version = world.primary(&world.key);
    for n in ["1", "32", "1024"] {
        let p = params(Some(&key), None, Some(n), None, None);
        let needed = p.workspace_len();
        for len in [0, needed / 2, needed - 1] {
            let mut workspace = vec![0u8; len];
            let result = wire::generate_data_key_without_plaintext_in(
                &world.provider,
                &owner(),
                &p,
                &mut world.rng,
                &mut workspace,
            );
            assert_eq!(
                expect_err(result),
                Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
            );
        }
    }
    assert_eq!(world.seals(&version), 0);
}

#[test]
fn the_workspace_holds_no_data_key_afterwards() {
    let mut world = World::new(113);
    let key = world.key_text();
    let p = params(Some(&key), None, Some("64"), None, None);
    let mut workspace = vec![0u8; p.workspace_len()];
    let blob = wire::generate_data_key_without_plaintext_in(
        &world.provider,
        &owner(),
        &p,
        &mut world.rng,
        &mut workspace,
    )
    .unwrap()
    .ciphertext_blob
    .to_string();
    let data_key = open_data_key(&mut world, &blob, None, 64);
    // Neither the raw key nor its Base64 text, while the blob is there.
    assert!(!holds(&workspace, &data_key));
    assert!(!holds(&workspace, b64(&data_key).as_bytes()));
    assert!(holds(&workspace, blob.as_bytes()));
}

#[test]
fn a_failed_seal_leaves_no_data_key_in_the_workspace() {
    // The data key is drawn (the RNG's first 32 bytes), then the IV cannot be.
    let world = World::new(114);
    let key = world.key_text();
    let p = params(Some(&key), None, None, None, None);
    let drawn = mirror(99, &[32]);
    let mut starved = CountingRng::new(LimitedRng::new(99, 32));
    let mut workspace = vec![0u8; p.workspace_len()];
    let result = wire::generate_data_key_without_plaintext_in(
        &world.provider,
        &owner(),
        &p,
        &mut starved,
        &mut workspace,
    );
    assert_row(result, Row::internal());
    assert_eq!(starved.calls, 2, "the data key, then the IV");
    assert!(
        !holds(&workspace, &drawn[0]),
        "data key left after an RNG failure"
    );
    assert!(!holds(&workspace, b64(&drawn[0]).as_bytes()));

    // The provider refuses to seal (the version's budget is spent), after the data key was
    // drawn from the request's RNG.
    let mut world = World::with_provider(InMemoryProvider::new().with_seal_limit(1), 115);
    let key = world.key_text();
    let p = params(Some(&key), None, None, None, None);
    run(&mut world, &p);
    let seed = 116;
    let drawn = mirror(seed, &[32]);
    let mut workspace = vec![0u8; p.workspace_len()];
    let result = wire::generate_data_key_without_plaintext_in(
        &world.provider,
        &owner(),
        &p,
        &mut rng(seed),
        &mut workspace,
    );
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::SealLimitReached)
    );
    assert!(
        !holds(&workspace, &drawn[0]),
        "data key left after a refused seal"
    );
    assert!(!holds(&workspace, b64(&drawn[0]).as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// The typed layer

/// The typed operation draws what the wire draws before its RequestId, so the same RNG bytes
/// make the same blob; and its output has no data key at all.
#[test]
fn the_typed_layer_makes_the_wires_blob_from_the_same_rng_bytes() {
    let world = World::new(120);
    for n in [1usize, 32, 1024] {
        let request =
            GenerateDataKeyRequest::new(world.key).with_length(DataKeyLength::new(n).unwrap());
        let mut r = CountingRng::new(rng(n as u64));
        let typed =
            ops::generate_data_key_without_plaintext(&world.provider, &owner(), &request, &mut r)
                .unwrap()
                .done()
                .unwrap();
        assert_eq!((r.calls, r.bytes), (2, n + 12));
        let number = n.to_string();
        let p = params(Some(ALIAS), None, Some(&number), None, None);
        let wire = WP
            .run_with(&world.provider, &owner(), &p, &mut rng(n as u64))
            .unwrap();
        assert_eq!(typed.key_id, wire.key_id);
        assert_eq!(typed.key_version_id, wire.key_version_id);
        assert_eq!(typed.ciphertext_blob.to_base64(), wire.blob);
    }
}

#[test]
fn a_typed_dry_run_passes_with_the_key_and_version_and_fails_with_plain_errors() {
    let mut world = World::new(121);
    let key = world.key;
    let version = world.primary(&key);
    let request = GenerateDataKeyRequest::new(key).with_dry_run(true);
    let mut failing = FailingRng::default();
    assert_eq!(
        ops::generate_data_key_without_plaintext(&world.provider, &owner(), &request, &mut failing),
        Ok(Outcome::DryRun(DryRunPassed {
            key_id: key,
            key_version_id: version
        }))
    );
    assert_eq!(failing.attempts, 0);
    // Another account may use the key for GenerateDataKey only: not for this.
    world.grant(
        &key,
        OTHER_ACCOUNT,
        &[kms_core::Permission::GenerateDataKey],
    );
    let arn = key_arn(REGION, ACCOUNT, &key);
    let reference = kms_core::KeyReference::parse(&arn, kms_core::Parameter::KeyId).unwrap();
    for dry_run in [true, false] {
        let request = GenerateDataKeyRequest::new(reference).with_dry_run(dry_run);
        let result = ops::generate_data_key_without_plaintext(
            &world.provider,
            &other(),
            &request,
            &mut rng(1),
        );
        assert_eq!(expect_err(result), Error::NoPermission, "dry {dry_run}");
    }
    assert_eq!(world.seals(&version), 0);
}

/// The typed operation wipes the data key from the workspace before it returns.
#[test]
fn the_typed_workspace_holds_no_data_key_afterwards() {
    let mut world = World::new(122);
    let request =
        GenerateDataKeyRequest::new(world.key).with_length(DataKeyLength::new(40).unwrap());
    let mut workspace = vec![0u8; request.workspace_len()];
    let blob = ops::generate_data_key_without_plaintext_in(
        &world.provider,
        &owner(),
        &request,
        &mut rng(122),
        &mut workspace,
    )
    .unwrap()
    .done()
    .unwrap()
    .ciphertext_blob
    .to_base64();
    let data_key = open_data_key(&mut world, &blob, None, 40);
    assert_eq!(data_key, mirror(122, &[40])[0]);
    assert!(!holds(&workspace, &data_key));
    assert!(!holds(&workspace, b64(&data_key).as_bytes()));
}
