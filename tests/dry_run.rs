//! DryRun (spec §7): the order of the checks, what each step's failure becomes in a dry run,
//! and that a dry run produces no key material, draws no randomness and seals nothing.

mod common;

use common::*;
use kms_core::{
    Caller, DecryptRequest, Error, GenerateDataKeyRequest, KeyOptions, MasterKeySpec, decrypt,
    generate_data_key,
};

fn dry(request: GenerateDataKeyRequest<'_>) -> GenerateDataKeyRequest<'_> {
    GenerateDataKeyRequest {
        dry_run: Some("true"),
        ..request
    }
}

fn dry_decrypt(request: DecryptRequest<'_>) -> DecryptRequest<'_> {
    DecryptRequest {
        dry_run: Some("true"),
        ..request
    }
}

/// Runs a dry GenerateDataKey with a counting RNG and checks it drew nothing and sealed
/// nothing under the world's key.
fn dry_gdk(w: &mut World, request: GenerateDataKeyRequest<'_>) -> Error {
    let version = w.primary(&w.key);
    let seals = w.provider.seal_count(&version).unwrap();
    let mut counting = CountingRng::new(rng(1));
    let err = generate_data_key(&mut w.provider, &caller(), &dry(request), &mut counting)
        .expect_err("a dry run always ends in an error");
    assert_eq!(counting.calls, 0, "a dry run drew randomness");
    assert_eq!(
        w.provider.seal_count(&version).unwrap(),
        seals,
        "a dry run sealed"
    );
    err
}

fn dry_dec(w: &World, who: &Caller<'_>, request: DecryptRequest<'_>) -> Error {
    let mut counting = CountingRng::new(rng(2));
    let err = decrypt(&w.provider, who, &dry_decrypt(request), &mut counting)
        .expect_err("a dry run always ends in an error");
    assert_eq!(counting.calls, 0, "a dry run drew randomness");
    err
}

// ----- GenerateDataKey, step by step ----------------------------------------------------------

#[test]
fn generate_data_key_step_1_parameters_become_validation_errors() {
    let mut w = World::new(700);
    let key = w.key.to_string();
    let base = GenerateDataKeyRequest::new(&key);
    assert_validation_missing(&dry_gdk(&mut w, GenerateDataKeyRequest::default()), "KeyId");
    assert_validation_invalid(&dry_gdk(&mut w, GenerateDataKeyRequest::new("")), "KeyId");
    assert_validation_invalid(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new("acs:kms:x:1:key/nope")),
        "KeyId",
    );
    let cases = [
        (
            GenerateDataKeyRequest {
                key_spec: Some("aes_256"),
                ..base
            },
            "KeySpec",
        ),
        (
            GenerateDataKeyRequest {
                number_of_bytes: Some("0"),
                ..base
            },
            "NumberOfBytes",
        ),
        (
            GenerateDataKeyRequest {
                number_of_bytes: Some("1.5"),
                ..base
            },
            "NumberOfBytes",
        ),
        (
            GenerateDataKeyRequest {
                encryption_context: Some("{\"a\":null}"),
                ..base
            },
            "EncryptionContext",
        ),
        (
            GenerateDataKeyRequest {
                encryption_context: Some("{\"a\":\"1\",\"a\":\"1\"}"),
                ..base
            },
            "EncryptionContext",
        ),
    ];
    for (request, name) in cases {
        assert_validation_invalid(&dry_gdk(&mut w, request), name);
        // The real run reports the underlying error.
        let err = w.gdk(&request).unwrap_err();
        assert_invalid(&err, name);
    }
    // Step 1 comes before step 2: an unknown key with a bad parameter is a parameter problem.
    let err = dry_gdk(
        &mut w,
        GenerateDataKeyRequest {
            number_of_bytes: Some("2000"),
            ..GenerateDataKeyRequest::new("alias/nothing")
        },
    );
    assert_validation_invalid(&err, "NumberOfBytes");
}

#[test]
fn generate_data_key_step_2_not_found_keeps_its_code() {
    let mut w = World::new(701);
    assert_key_not_found(&dry_gdk(
        &mut w,
        GenerateDataKeyRequest::new("1234abcd-12ab-34cd-56ef-123456789012"),
    ));
    assert_alias_not_found(&dry_gdk(
        &mut w,
        GenerateDataKeyRequest::new("alias/nothing"),
    ));
    // Step 2 comes before step 3: an ARN into another account naming nothing is not found.
    let arn = format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:key/1234abcd-12ab-34cd-56ef-123456789012");
    assert_key_not_found(&dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)));
    let arn = format!("acs:kms:{OTHER_REGION}:{ACCOUNT}:{ALIAS}");
    assert_alias_not_found(&dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)));
}

#[test]
fn generate_data_key_step_3_permission_becomes_access_denied() {
    let mut w = World::new(702);
    let other = w.add_key(&KeyOptions::new(OTHER_ACCOUNT, REGION));
    let arn = format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:key/{other}");
    assert_access_denied(&dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)));
    assert_no_permission(&w.gdk(&GenerateDataKeyRequest::new(&arn)).unwrap_err());
    // Step 3 comes before step 4: a disabled key we may not use is a permission problem.
    w.provider.disable_key(&other).unwrap();
    assert_access_denied(&dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)));
    assert_no_permission(&w.gdk(&GenerateDataKeyRequest::new(&arn)).unwrap_err());
    // With the policy, the dry run gets to step 4.
    w.provider.allow_account(&other, ACCOUNT).unwrap();
    assert_rejected(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)),
        "Disabled",
    );
    w.provider.enable_key(&other).unwrap();
    assert_dry_run_passed(&dry_gdk(&mut w, GenerateDataKeyRequest::new(&arn)));
}

#[test]
fn generate_data_key_step_4_state_and_usage_keep_their_codes() {
    let mut w = World::new(703);
    let ec = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    assert_unsupported(&dry_gdk(&mut w, GenerateDataKeyRequest::new(ec.as_str())));
    let key = w.key;
    w.provider.disable_key(&key).unwrap();
    assert_rejected(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new(ALIAS)),
        "Disabled",
    );
    w.provider.enable_key(&key).unwrap();
    w.provider.set_unavailable(&key, true).unwrap();
    assert_rejected(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new(ALIAS)),
        "Unavailable",
    );
    w.provider.set_unavailable(&key, false).unwrap();
    w.provider.schedule_key_deletion(&key).unwrap();
    assert_rejected(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new(ALIAS)),
        "PendingDeletion",
    );
    let external =
        w.add_key(&KeyOptions::new(ACCOUNT, REGION).origin(kms_core::KeyOrigin::External));
    assert_rejected(
        &dry_gdk(&mut w, GenerateDataKeyRequest::new(external.as_str())),
        "PendingImport",
    );
}

#[test]
fn generate_data_key_passing_every_check_is_dry_run_operation_error() {
    let mut w = World::new(704);
    let key = w.key.to_string();
    for request in [
        GenerateDataKeyRequest::new(&key),
        GenerateDataKeyRequest::new(ALIAS),
        GenerateDataKeyRequest {
            key_spec: Some("AES_128"),
            encryption_context: Some(r#"{"a":"1"}"#),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
        GenerateDataKeyRequest {
            number_of_bytes: Some("1024"),
            key_spec: Some("ignored"),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
    ] {
        assert_dry_run_passed(&dry_gdk(&mut w, request));
    }
    // Even with an RNG that would fail: nothing is drawn.
    let mut failing = FailingRng::default();
    let err = generate_data_key(
        &mut w.provider,
        &caller(),
        &dry(GenerateDataKeyRequest::new(ALIAS)),
        &mut failing,
    )
    .unwrap_err();
    assert_dry_run_passed(&err);
    assert_eq!(failing.attempts, 0);
    // `false` is a real run.
    let response = w
        .gdk(&GenerateDataKeyRequest {
            dry_run: Some("false"),
            ..GenerateDataKeyRequest::new(ALIAS)
        })
        .unwrap();
    assert_eq!(response.key_id, w.key);
}

// ----- Decrypt, step by step ------------------------------------------------------------------

#[test]
fn decrypt_step_1_parameters_become_validation_errors() {
    let mut w = World::new(705);
    let blob = w.blob(None).ciphertext_blob;
    assert_validation_missing(
        &dry_dec(&w, &caller(), DecryptRequest::default()),
        "CiphertextBlob",
    );
    for bad in ["", "AAAA", "!!!!", &blob[..blob.len() - 1], &blob[..80]] {
        assert_validation_invalid(
            &dry_dec(&w, &caller(), DecryptRequest::new(bad)),
            "CiphertextBlob",
        );
    }
    let mut upper = unb64(&blob);
    upper[..36].make_ascii_uppercase();
    let upper = b64(&upper);
    if upper != blob {
        assert_validation_invalid(
            &dry_dec(&w, &caller(), DecryptRequest::new(&upper)),
            "CiphertextBlob",
        );
    }
    let err = dry_dec(
        &w,
        &caller(),
        DecryptRequest {
            encryption_context: Some("[1]"),
            ..DecryptRequest::new(&blob)
        },
    );
    assert_validation_invalid(&err, "EncryptionContext");
    // Step 1 comes before step 2: a blob naming nothing with a bad context.
    let mut unknown = unb64(&blob);
    unknown[..36].copy_from_slice(b"0f0f0f0f-1111-4222-8333-444444444444");
    let err = dry_dec(
        &w,
        &caller(),
        DecryptRequest {
            encryption_context: Some("{\"a\":1}"),
            ..DecryptRequest::new(&b64(&unknown))
        },
    );
    assert_validation_invalid(&err, "EncryptionContext");
}

#[test]
fn decrypt_step_2_not_found_keeps_its_code() {
    let mut w = World::new(706);
    let blob = w.blob(None).ciphertext_blob;
    let mut unknown = unb64(&blob);
    unknown[..36].copy_from_slice(b"0f0f0f0f-1111-4222-8333-444444444444");
    assert_key_not_found(&dry_dec(&w, &caller(), DecryptRequest::new(&b64(&unknown))));
    let elsewhere = Caller::new(ACCOUNT, OTHER_REGION);
    assert_key_not_found(&dry_dec(&w, &elsewhere, DecryptRequest::new(&blob)));
}

#[test]
fn decrypt_step_3_permission_becomes_access_denied() {
    let mut w = World::new(707);
    let blob = w.blob(None).ciphertext_blob;
    let them = Caller::new(OTHER_ACCOUNT, REGION);
    assert_access_denied(&dry_dec(&w, &them, DecryptRequest::new(&blob)));
    // Before step 4.
    let key = w.key;
    w.provider.disable_key(&key).unwrap();
    assert_access_denied(&dry_dec(&w, &them, DecryptRequest::new(&blob)));
    w.provider.allow_account(&key, OTHER_ACCOUNT).unwrap();
    assert_rejected(&dry_dec(&w, &them, DecryptRequest::new(&blob)), "Disabled");
    w.provider.enable_key(&key).unwrap();
    assert_dry_run_passed(&dry_dec(&w, &them, DecryptRequest::new(&blob)));
}

#[test]
fn decrypt_step_4_state_and_usage_keep_their_codes() {
    let mut w = World::new(708);
    let blob = w.blob(None).ciphertext_blob;
    let key = w.key;
    w.provider.schedule_key_deletion(&key).unwrap();
    assert_rejected(
        &dry_dec(&w, &caller(), DecryptRequest::new(&blob)),
        "PendingDeletion",
    );
    w.provider.cancel_key_deletion(&key).unwrap();
    w.provider.set_unavailable(&key, true).unwrap();
    assert_rejected(
        &dry_dec(&w, &caller(), DecryptRequest::new(&blob)),
        "Unavailable",
    );
    let rsa = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Rsa2048));
    let naming_rsa = b64(&[w.primary(&rsa).as_bytes().as_slice(), &[1u8; 72]].concat());
    assert_unsupported(&dry_dec(&w, &caller(), DecryptRequest::new(&naming_rsa)));
    let external =
        w.add_key(&KeyOptions::new(ACCOUNT, REGION).origin(kms_core::KeyOrigin::External));
    let naming_ext = b64(&[w.primary(&external).as_bytes().as_slice(), &[1u8; 72]].concat());
    assert_rejected(
        &dry_dec(&w, &caller(), DecryptRequest::new(&naming_ext)),
        "PendingImport",
    );
}

#[test]
fn decrypt_passing_every_check_does_not_open_the_blob() {
    let mut w = World::new(709);
    let response = w.blob(Some(r#"{"a":"1"}"#));
    let blob = response.ciphertext_blob.as_str();
    assert_dry_run_passed(&dry_dec(
        &w,
        &caller(),
        DecryptRequest {
            encryption_context: Some(r#"{"a":"1"}"#),
            ..DecryptRequest::new(blob)
        },
    ));
    // A dry run resolves the version but does not open: a wrong (valid) context, or a broken
    // tag, still passes.
    assert_dry_run_passed(&dry_dec(&w, &caller(), DecryptRequest::new(blob)));
    let mut broken = unb64(blob);
    let last = broken.len() - 1;
    broken[last] ^= 1;
    assert_dry_run_passed(&dry_dec(&w, &caller(), DecryptRequest::new(&b64(&broken))));
    // Whereas the real runs fail.
    assert_invalid(
        &w.decrypt(&DecryptRequest::new(blob)).unwrap_err(),
        "CiphertextBlob",
    );
    assert_invalid(
        &w.decrypt(&DecryptRequest::new(&b64(&broken))).unwrap_err(),
        "CiphertextBlob",
    );
}

// ----- The DryRun parameter itself ------------------------------------------------------------

#[test]
fn dry_run_accepts_only_true_and_false() {
    let mut w = World::new(710);
    let blob = w.blob(None).ciphertext_blob;
    for bad in [
        "True", "TRUE", "1", "0", "", "yes", " true", "true ", "False", "FALSE", "t",
    ] {
        let err = w
            .gdk(&GenerateDataKeyRequest {
                dry_run: Some(bad),
                ..GenerateDataKeyRequest::new(ALIAS)
            })
            .unwrap_err();
        // Not a ValidationError: DryRun itself decides how the other errors are reported.
        assert_invalid(&err, "DryRun");
        let err = w
            .decrypt(&DecryptRequest {
                dry_run: Some(bad),
                ..DecryptRequest::new(&blob)
            })
            .unwrap_err();
        assert_invalid(&err, "DryRun");
    }
    let opened = w
        .decrypt(&DecryptRequest {
            dry_run: Some("false"),
            ..DecryptRequest::new(&blob)
        })
        .unwrap();
    assert!(!opened.plaintext.expose().is_empty());
    // An invalid DryRun seals nothing either.
    let version = w.primary(&w.key);
    let seals = w.provider.seal_count(&version).unwrap();
    let mut counting = CountingRng::new(rng(3));
    generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest {
            dry_run: Some("True"),
            ..GenerateDataKeyRequest::new(ALIAS)
        },
        &mut counting,
    )
    .unwrap_err();
    assert_eq!(counting.calls, 0);
    assert_eq!(w.provider.seal_count(&version).unwrap(), seals);
}

#[test]
fn a_real_run_does_seal_and_draw() {
    // The counterpart of the checks above, so that they can fail.
    let mut w = World::new(711);
    let version = w.primary(&w.key);
    let seals = w.provider.seal_count(&version).unwrap();
    let mut counting = CountingRng::new(rng(4));
    generate_data_key(
        &mut w.provider,
        &caller(),
        &GenerateDataKeyRequest::new(ALIAS),
        &mut counting,
    )
    .unwrap();
    assert!(counting.bytes >= 32 + 12);
    assert_eq!(w.provider.seal_count(&version).unwrap(), seals + 1);
}
