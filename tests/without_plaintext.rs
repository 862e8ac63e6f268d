//! GenerateDataKeyWithoutPlaintext (spec §1, §3, §4, §6, §7, §8): the same request and checks
//! as GenerateDataKey, its own permission, a blob that Decrypt opens to a Base64 data key of
//! the requested length, dry runs, and the no-alloc form.

mod support_ops;

use base64ct::{Base64, Encoding};
use kms_core::{
    Action, Error, GenerateDataKeyRequest, GenerateDataKeyWithoutPlaintextResponse, KeyOptions,
    KeyState, KeyUsage, MasterKeySpec, Parameter, RequestId, generate_data_key,
    generate_data_key_without_plaintext, generate_data_key_without_plaintext_in,
};
use support_ops::*;

type Response = Result<GenerateDataKeyWithoutPlaintextResponse, Error>;

fn request(key_id: &str) -> GenerateDataKeyRequest<'_> {
    GenerateDataKeyRequest::new(key_id)
}

fn run(world: &mut World, request: &GenerateDataKeyRequest<'_>) -> Response {
    run_as(world, &owner(), request)
}

fn run_as(
    world: &mut World,
    caller: &kms_core::Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
) -> Response {
    generate_data_key_without_plaintext(&mut world.provider, caller, request, &mut world.rng)
}

fn dry(key_id: &str) -> GenerateDataKeyRequest<'_> {
    GenerateDataKeyRequest {
        dry_run: Some("true"),
        ..request(key_id)
    }
}

/// Opens the blob and returns the raw data key, checking the blob's size for `len` bytes.
#[track_caller]
fn open_key(world: &mut World, blob: &str, context: Option<&str>, len: usize) -> Vec<u8> {
    let text_len = len.div_ceil(3) * 4;
    assert_eq!(blob_bytes(blob).len(), 36 + 12 + text_len + 16, "blob size");
    let opened = world.decrypt(blob, context).expect("decrypt");
    let text = opened.plaintext.expose();
    assert_eq!(text.len(), text_len, "Base64 text length");
    let key = Base64::decode_vec(text).expect("Plaintext is canonical Base64");
    assert_eq!(key.len(), len, "data key length");
    key
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn number_of_bytes_round_trips() {
    let mut world = World::new(1);
    let key = world.key_text();
    for n in [1usize, 2, 3, 16, 31, 32, 33, 1023, 1024] {
        let text = n.to_string();
        let out = run(
            &mut world,
            &GenerateDataKeyRequest {
                number_of_bytes: Some(&text),
                ..request(&key)
            },
        )
        .expect("generate");
        assert_eq!(out.key_id, world.key);
        assert_eq!(out.key_version_id, world.primary(&world.key));
        assert_eq!(
            blob_version(&out.ciphertext_blob),
            out.key_version_id.as_str()
        );
        assert!(is_uuid_v4(out.request_id.as_str()));
        open_key(&mut world, &out.ciphertext_blob, None, n);
    }
}

#[test]
fn key_spec_and_defaults() {
    let mut world = World::new(2);
    let key = world.key_text();
    let cases: [(Option<&str>, Option<&str>, usize); 7] = [
        (None, None, 32),
        (Some("AES_256"), None, 32),
        (Some("AES_128"), None, 16),
        // NumberOfBytes wins, even over an invalid KeySpec.
        (Some("AES_128"), Some("64"), 64),
        (Some("AES_512"), Some("24"), 24),
        (Some(""), Some("7"), 7),
        (None, Some("032"), 32),
    ];
    for (key_spec, number_of_bytes, len) in cases {
        let out = run(
            &mut world,
            &GenerateDataKeyRequest {
                key_spec,
                number_of_bytes,
                ..request(&key)
            },
        )
        .unwrap_or_else(|e| panic!("{key_spec:?} {number_of_bytes:?}: {e:?}"));
        open_key(&mut world, &out.ciphertext_blob, None, len);
    }
}

#[test]
fn a_32_byte_key_makes_a_144_character_blob() {
    let mut world = World::new(3);
    let key = world.key_text();
    let out = run(&mut world, &request(&key)).unwrap();
    assert_eq!(out.ciphertext_blob.len(), 144);
    assert_eq!(blob_bytes(&out.ciphertext_blob).len(), 108);
}

#[test]
fn every_call_makes_a_fresh_key() {
    let mut world = World::new(4);
    let key = world.key_text();
    let mut keys = Vec::new();
    for _ in 0..8 {
        let out = run(&mut world, &request(&key)).unwrap();
        keys.push(open_key(&mut world, &out.ciphertext_blob, None, 32));
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
    let mut world = World::new(5);
    let key = world.key_text();
    let context = r#"{"purpose":"test","tenant":"Zürich"}"#;
    let out = run(
        &mut world,
        &GenerateDataKeyRequest {
            encryption_context: Some(context),
            ..request(&key)
        },
    )
    .unwrap();
    let a = open_key(&mut world, &out.ciphertext_blob, Some(context), 32);
    let b = open_key(
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
    ] {
        assert_invalid(
            world.decrypt(&out.ciphertext_blob, wrong),
            Parameter::CiphertextBlob,
            "CiphertextBlob",
        );
    }
}

#[test]
fn every_key_reference_form_reports_the_canonical_key_id() {
    let mut world = World::new(6);
    world.provider.create_alias("alias/wp", &world.key).unwrap();
    for form in [
        world.key_text(),
        "alias/wp".to_string(),
        key_arn(REGION, ACCOUNT, &world.key),
        alias_arn(REGION, ACCOUNT, "alias/wp"),
    ] {
        let out = run(&mut world, &request(&form)).expect(&form);
        assert_eq!(out.key_id, world.key);
        open_key(&mut world, &out.ciphertext_blob, None, 32);
    }
}

#[test]
fn aes_128_master_keys_and_rotated_keys() {
    let mut world = World::new(7);
    let aes128 = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let out = run(&mut world, &request(aes128.as_str())).unwrap();
    assert_eq!(out.key_id, aes128);
    open_key(&mut world, &out.ciphertext_blob, None, 32);

    let key = world.key_text();
    let v1 = world.primary(&world.key);
    let old = run(&mut world, &request(&key)).unwrap();
    let v2 = world
        .provider
        .rotate_key(&world.key, &mut world.rng)
        .unwrap();
    let new = run(&mut world, &request(&key)).unwrap();
    assert_eq!(old.key_version_id, v1);
    assert_eq!(new.key_version_id, v2);
    assert_eq!(
        world
            .decrypt(&old.ciphertext_blob, None)
            .unwrap()
            .key_version_id,
        v1
    );
    assert_eq!(
        world
            .decrypt(&new.ciphertext_blob, None)
            .unwrap()
            .key_version_id,
        v2
    );
}

#[test]
fn request_id_is_supplied_or_drawn() {
    let mut world = World::new(8);
    let key = world.key_text();
    let supplied = RequestId::parse(b"5f0c1a7e-2b3d-4e5f-8a9b-0c1d2e3f4a5b").unwrap();
    let out = run(
        &mut world,
        &GenerateDataKeyRequest {
            request_id: Some(supplied),
            ..request(&key)
        },
    )
    .unwrap();
    assert_eq!(out.request_id, supplied);
    let a = run(&mut world, &request(&key)).unwrap().request_id;
    let b = run(&mut world, &request(&key)).unwrap().request_id;
    assert!(is_uuid_v4(a.as_str()) && is_uuid_v4(b.as_str()));
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Step 1: parameters

#[test]
fn missing_key_id() {
    let mut world = World::new(10);
    assert_missing(
        run(&mut world, &GenerateDataKeyRequest::default()),
        Parameter::KeyId,
        "KeyId",
    );
}

#[test]
fn invalid_key_id() {
    let mut world = World::new(11);
    let long = "a".repeat(2049);
    let arn_bad_key = format!("acs:kms:{REGION}:{ACCOUNT}:key/nope");
    let arn_no_resource = format!("acs:kms:{REGION}:{ACCOUNT}");
    for bad in [
        "",
        "ключ",
        long.as_str(),
        &arn_bad_key,
        &arn_no_resource,
        "acs:",
    ] {
        assert_invalid(run(&mut world, &request(bad)), Parameter::KeyId, "KeyId");
    }
    // 2048 bytes is not too long: it just names no key.
    let at_limit = "a".repeat(2048);
    assert_key_not_found(run(&mut world, &request(&at_limit)));
}

#[test]
fn invalid_number_of_bytes() {
    let mut world = World::new(12);
    let key = world.key_text();
    for bad in [
        "0",
        "1025",
        "-1",
        "abc",
        "1.5",
        "",
        " 32",
        "32 ",
        "+32",
        "1e3",
        "99999999999999999999",
    ] {
        let req = GenerateDataKeyRequest {
            number_of_bytes: Some(bad),
            ..request(&key)
        };
        assert_invalid(
            run(&mut world, &req),
            Parameter::NumberOfBytes,
            "NumberOfBytes",
        );
        // A valid KeySpec does not rescue it.
        let req = GenerateDataKeyRequest {
            key_spec: Some("AES_256"),
            ..req
        };
        assert_invalid(
            run(&mut world, &req),
            Parameter::NumberOfBytes,
            "NumberOfBytes",
        );
    }
}

#[test]
fn invalid_key_spec() {
    let mut world = World::new(13);
    let key = world.key_text();
    for bad in [
        "aes_256",
        "AES_512",
        "",
        "AES256",
        " AES_128",
        "Aliyun_AES_256",
    ] {
        let req = GenerateDataKeyRequest {
            key_spec: Some(bad),
            ..request(&key)
        };
        assert_invalid(run(&mut world, &req), Parameter::KeySpec, "KeySpec");
    }
}

#[test]
fn invalid_encryption_context() {
    let mut world = World::new(14);
    let key = world.key_text();
    let too_long = format!(r#"{{"k":"{}"}}"#, "v".repeat(8193 - 8));
    for bad in [
        "[]",
        r#"{"a":1}"#,
        r#"{"a":true}"#,
        r#"{"a":{"b":"c"}}"#,
        r#"{"a":"1","a":"1"}"#,
        r#"{"":"x"}"#,
        r#"{"a":"\ud800"}"#,
        "{'a':'b'}",
        "{",
        too_long.as_str(),
    ] {
        let req = GenerateDataKeyRequest {
            encryption_context: Some(bad),
            ..request(&key)
        };
        assert_invalid(
            run(&mut world, &req),
            Parameter::EncryptionContext,
            "EncryptionContext",
        );
    }
}

#[test]
fn invalid_dry_run() {
    let mut world = World::new(15);
    let key = world.key_text();
    for bad in ["True", "1", "", "false "] {
        let req = GenerateDataKeyRequest {
            dry_run: Some(bad),
            ..request(&key)
        };
        assert_invalid(run(&mut world, &req), Parameter::DryRun, "DryRun");
    }
    let req = GenerateDataKeyRequest {
        dry_run: Some("false"),
        ..request(&key)
    };
    let out = run(&mut world, &req).expect("DryRun=false");
    open_key(&mut world, &out.ciphertext_blob, None, 32);
}

#[test]
fn parameters_are_checked_before_resolution() {
    let mut world = World::new(16);
    let req = GenerateDataKeyRequest {
        number_of_bytes: Some("0"),
        ..request(UNKNOWN_KEY_ID)
    };
    assert_invalid(
        run(&mut world, &req),
        Parameter::NumberOfBytes,
        "NumberOfBytes",
    );
    let req = GenerateDataKeyRequest {
        encryption_context: Some("[]"),
        ..request("alias/missing")
    };
    assert_invalid(
        run(&mut world, &req),
        Parameter::EncryptionContext,
        "EncryptionContext",
    );
}

// ---------------------------------------------------------------------------------------------
// Step 2: resolution

#[test]
fn key_and_alias_not_found() {
    let mut world = World::new(20);
    world
        .provider
        .create_alias("alias/mine", &world.key)
        .unwrap();
    let foreign = world.create_in(OTHER_ACCOUNT, REGION);
    let elsewhere = world.create_in(ACCOUNT, OTHER_REGION);
    for name in [
        UNKNOWN_KEY_ID.to_string(),
        "key-hzz630494463ejqjx1234".to_string(),
        foreign.to_string(),
        elsewhere.to_string(),
        key_arn(OTHER_REGION, ACCOUNT, &world.key),
        key_arn(REGION, OTHER_ACCOUNT, &world.key),
    ] {
        assert_key_not_found(run(&mut world, &request(&name)));
    }
    for name in [
        "alias/other".to_string(),
        alias_arn(OTHER_REGION, ACCOUNT, "alias/mine"),
        alias_arn(REGION, OTHER_ACCOUNT, "alias/mine"),
    ] {
        assert_alias_not_found(run(&mut world, &request(&name)));
    }
}

// ---------------------------------------------------------------------------------------------
// Step 3: permission

#[test]
fn needs_its_own_permission_not_generate_data_key() {
    let mut world = World::new(30);
    let arn = key_arn(REGION, ACCOUNT, &world.key);
    assert_no_permission(run_as(&mut world, &other(), &request(&arn)));

    // Granted only GenerateDataKey: GenerateDataKey works, WithoutPlaintext does not.
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::GenerateDataKey])
        .unwrap();
    generate_data_key(
        &mut world.provider,
        &other(),
        &request(&arn),
        &mut world.rng,
    )
    .expect("GenerateDataKey is granted");
    assert_no_permission(run_as(&mut world, &other(), &request(&arn)));

    // Every action but this one.
    let others: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::GenerateDataKeyWithoutPlaintext)
        .collect();
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &others)
        .unwrap();
    assert_no_permission(run_as(&mut world, &other(), &request(&arn)));

    // Granted only this one: it works, and GenerateDataKey does not.
    world
        .provider
        .set_policy(
            &world.key,
            OTHER_ACCOUNT,
            &[Action::GenerateDataKeyWithoutPlaintext],
        )
        .unwrap();
    let out = run_as(&mut world, &other(), &request(&arn)).expect("granted");
    assert_eq!(out.key_id, world.key);
    assert_no_permission(generate_data_key(
        &mut world.provider,
        &other(),
        &request(&arn),
        &mut world.rng,
    ));
    // The other account was not granted Decrypt; the owner opens the blob.
    assert_no_permission(world.decrypt_as(&other(), &out.ciphertext_blob, None));
    open_key(&mut world, &out.ciphertext_blob, None, 32);
}

#[test]
fn permission_before_state() {
    let mut world = World::new(31);
    for state in [
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::Unavailable,
    ] {
        let key = key_in_state(&mut world, state);
        assert_no_permission(run_as(
            &mut world,
            &other(),
            &request(&key_arn(REGION, ACCOUNT, &key)),
        ));
    }
}

// ---------------------------------------------------------------------------------------------
// Step 4: state and usage

#[test]
fn key_states_reject() {
    let mut world = World::new(40);
    for state in REJECTED_STATES {
        let key = key_in_state(&mut world, state);
        assert_state(run(&mut world, &request(key.as_str())), state);
    }
}

#[test]
fn an_imported_key_works_once_its_material_arrives() {
    let mut world = World::new(41);
    let key = key_in_state(&mut world, KeyState::PendingImport);
    assert_state(
        run(&mut world, &request(key.as_str())),
        KeyState::PendingImport,
    );
    let material = kms_core::MasterKeyMaterial::from_slice(&[7u8; 32]).unwrap();
    world.provider.import_key_material(&key, material).unwrap();
    let out = run(&mut world, &request(key.as_str())).unwrap();
    open_key(&mut world, &out.ciphertext_blob, None, 32);
}

#[test]
fn keys_that_cannot_make_data_keys_are_unsupported() {
    let mut world = World::new(42);
    let options = KeyOptions::new(ACCOUNT, REGION);
    for key in [
        world.create(options.spec(MasterKeySpec::EcP256)),
        world.create(options.spec(MasterKeySpec::Rsa2048)),
        world.create(options.usage(KeyUsage::SignVerify)),
    ] {
        assert_unsupported(run(&mut world, &request(key.as_str())));
    }
    let disabled_asymmetric = world.create(options.spec(MasterKeySpec::EcP256));
    world.provider.disable_key(&disabled_asymmetric).unwrap();
    assert_state(
        run(&mut world, &request(disabled_asymmetric.as_str())),
        KeyState::Disabled,
    );
}

#[test]
fn rng_failure_is_an_internal_failure() {
    let mut world = World::new(43);
    let key = world.key_text();
    let version = world.primary(&world.key);
    for budget in [0, 31, 32 + 11] {
        // Fails at the data key, then at the IV.
        let mut rng = BudgetRng::new(1, budget);
        assert_internal(
            generate_data_key_without_plaintext(
                &mut world.provider,
                &owner(),
                &request(&key),
                &mut rng,
            ),
            Error::InternalFailure,
        );
    }
    assert_eq!(world.seals(&version), 0);
}

// ---------------------------------------------------------------------------------------------
// Dry runs

#[test]
fn dry_run_at_each_step() {
    let mut world = World::new(50);
    let key = world.key_text();
    let version = world.primary(&world.key);

    // Step 1.
    let missing = GenerateDataKeyRequest {
        dry_run: Some("true"),
        ..GenerateDataKeyRequest::default()
    };
    assert_validation_missing(run(&mut world, &missing), Parameter::KeyId, "KeyId");
    assert_validation_invalid(run(&mut world, &dry("")), Parameter::KeyId, "KeyId");
    let bad_len = GenerateDataKeyRequest {
        number_of_bytes: Some("1025"),
        ..dry(&key)
    };
    assert_validation_invalid(
        run(&mut world, &bad_len),
        Parameter::NumberOfBytes,
        "NumberOfBytes",
    );
    let bad_spec = GenerateDataKeyRequest {
        key_spec: Some("AES_64"),
        ..dry(&key)
    };
    assert_validation_invalid(run(&mut world, &bad_spec), Parameter::KeySpec, "KeySpec");
    let bad_context = GenerateDataKeyRequest {
        encryption_context: Some(r#"{"a":["b"]}"#),
        ..dry(&key)
    };
    assert_validation_invalid(
        run(&mut world, &bad_context),
        Parameter::EncryptionContext,
        "EncryptionContext",
    );

    // Step 2.
    assert_key_not_found(run(&mut world, &dry(UNKNOWN_KEY_ID)));
    assert_alias_not_found(run(&mut world, &dry("alias/none")));

    // Step 3: granted GenerateDataKey only.
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::GenerateDataKey])
        .unwrap();
    let arn = key_arn(REGION, ACCOUNT, &world.key);
    assert_access_denied(run_as(&mut world, &other(), &dry(&arn)));

    // Step 4.
    for state in REJECTED_STATES {
        let k = key_in_state(&mut world, state);
        assert_state(run(&mut world, &dry(k.as_str())), state);
    }
    let asymmetric = world.create(KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify));
    assert_unsupported(run(&mut world, &dry(asymmetric.as_str())));

    // Pass.
    assert_dry_run_passed(run(&mut world, &dry(&key)));
    let n = GenerateDataKeyRequest {
        number_of_bytes: Some("1024"),
        encryption_context: Some(r#"{"a":"b"}"#),
        ..dry(&key)
    };
    assert_dry_run_passed(run(&mut world, &n));
    world
        .provider
        .set_policy(
            &world.key,
            OTHER_ACCOUNT,
            &[Action::GenerateDataKeyWithoutPlaintext],
        )
        .unwrap();
    assert_dry_run_passed(run_as(&mut world, &other(), &dry(&arn)));

    // Nothing was sealed, and a dry run draws nothing from the RNG.
    assert_eq!(world.seals(&version), 0);
    let mut failing = BudgetRng::failing();
    assert_dry_run_passed(generate_data_key_without_plaintext(
        &mut world.provider,
        &owner(),
        &dry(&key),
        &mut failing,
    ));
    assert_eq!(failing.calls, 0);
    assert_eq!(world.seals(&version), 0);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form

#[test]
fn the_in_form_matches_the_owned_form() {
    let cases: [(Option<&str>, Option<&str>, Option<&str>); 4] = [
        (None, None, None),
        (Some("AES_128"), None, Some(r#"{"x":"y"}"#)),
        (None, Some("1"), None),
        (
            Some("bogus"),
            Some("1024"),
            Some(r#"{ "k" : "\u00e9", "a":"" }"#),
        ),
    ];
    for (key_spec, number_of_bytes, encryption_context) in cases {
        let mut owned = World::new(60);
        let mut borrowed = World::new(60);
        let key = owned.key_text();
        let req = GenerateDataKeyRequest {
            key_spec,
            number_of_bytes,
            encryption_context,
            ..request(&key)
        };
        let a = run(&mut owned, &req).unwrap();
        let mut workspace = vec![0u8; req.workspace_len()];
        let b = generate_data_key_without_plaintext_in(
            &mut borrowed.provider,
            &owner(),
            &req,
            &mut borrowed.rng,
            &mut workspace,
        )
        .unwrap();
        assert_eq!(b.key_id, a.key_id);
        assert_eq!(b.key_version_id, a.key_version_id);
        assert_eq!(b.ciphertext_blob, a.ciphertext_blob);
        assert_eq!(b.request_id, a.request_id);
    }
}

#[test]
fn the_in_form_errors_match_the_owned_form() {
    let mut world = World::new(61);
    let key = world.key_text();
    let disabled = key_in_state(&mut world, KeyState::Disabled).to_string();
    let requests = [
        GenerateDataKeyRequest::default(),
        GenerateDataKeyRequest {
            number_of_bytes: Some("0"),
            ..request(&key)
        },
        request("alias/nope"),
        request(&disabled),
        dry(&key),
    ];
    for req in &requests {
        let expected = run(&mut world, req).unwrap_err();
        let mut workspace = vec![0u8; req.workspace_len()];
        let got = generate_data_key_without_plaintext_in(
            &mut world.provider,
            &owner(),
            req,
            &mut world.rng,
            &mut workspace,
        )
        .unwrap_err();
        assert_eq!(got, expected, "{req:?}");
    }
}

#[test]
fn too_small_a_workspace() {
    let mut world = World::new(62);
    let key = world.key_text();
    let version = world.primary(&world.key);
    for n in ["1", "32", "1024"] {
        let req = GenerateDataKeyRequest {
            number_of_bytes: Some(n),
            ..request(&key)
        };
        let needed = req.workspace_len();
        for len in [0, needed / 2, needed - 1] {
            let mut workspace = vec![0u8; len];
            assert_internal(
                generate_data_key_without_plaintext_in(
                    &mut world.provider,
                    &owner(),
                    &req,
                    &mut world.rng,
                    &mut workspace,
                ),
                Error::WorkspaceTooSmall { needed },
            );
        }
    }
    assert_eq!(world.seals(&version), 0);
}

#[test]
fn the_workspace_holds_no_data_key_afterwards() {
    let mut world = World::new(63);
    let key = world.key_text();
    let req = GenerateDataKeyRequest {
        number_of_bytes: Some("64"),
        ..request(&key)
    };
    let mut workspace = vec![0u8; req.workspace_len()];
    let blob = generate_data_key_without_plaintext_in(
        &mut world.provider,
        &owner(),
        &req,
        &mut world.rng,
        &mut workspace,
    )
    .unwrap()
    .ciphertext_blob
    .to_string();
    let data_key = open_key(&mut world, &blob, None, 64);
    let text = Base64::encode_string(&data_key);
    // Neither the raw key nor its Base64 text is left in the workspace.
    assert!(!workspace.windows(64).any(|w| w == data_key.as_slice()));
    assert!(!workspace.windows(text.len()).any(|w| w == text.as_bytes()));
}

/// Whether `workspace` still holds `data_key` or its Base64 text.
fn holds(workspace: &[u8], data_key: &[u8]) -> bool {
    let text = Base64::encode_string(data_key);
    workspace.windows(data_key.len()).any(|w| w == data_key)
        || workspace.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn a_failed_seal_leaves_no_data_key_in_the_workspace() {
    use kms_core::rand_core::TryRng;
    // The data key is drawn (the first 32 bytes of the RNG), then the IV cannot be.
    {
        let mut world = World::new(64);
        let key = world.key_text();
        let req = request(&key);
        let mut expected = [0u8; 32];
        rng(99).try_fill_bytes(&mut expected).unwrap();
        let mut starved = BudgetRng::new(99, 32);
        let mut workspace = vec![0u8; req.workspace_len()];
        assert_internal(
            generate_data_key_without_plaintext_in(
                &mut world.provider,
                &owner(),
                &req,
                &mut starved,
                &mut workspace,
            ),
            Error::InternalFailure,
        );
        assert_eq!(starved.calls, 2, "the data key, then the IV");
        assert!(
            !holds(&workspace, &expected),
            "data key left after an RNG failure"
        );
    }
    // The provider refuses to seal: the data key was drawn from the request's RNG first.
    let mut world = World::with_provider(
        kms_core::InMemoryProvider::new().with_seal_limit(1, kms_core::SealLimitAction::Refuse),
        65,
    );
    let key = world.key_text();
    let req = request(&key);
    run(&mut world, &req).unwrap();
    let mut expected = [0u8; 32];
    world.rng.clone().try_fill_bytes(&mut expected).unwrap();
    let mut workspace = vec![0u8; req.workspace_len()];
    assert_internal(
        generate_data_key_without_plaintext_in(
            &mut world.provider,
            &owner(),
            &req,
            &mut world.rng,
            &mut workspace,
        ),
        Error::SealLimitReached,
    );
    assert!(
        !holds(&workspace, &expected),
        "data key left after a refused seal"
    );
}
