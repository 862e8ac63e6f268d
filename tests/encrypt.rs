//! Encrypt (spec §1, §2, §4, §5, §6, §7, §8): round trips through Decrypt, the limits on
//! `Plaintext`, every error Encrypt can produce, dry runs, and the no-alloc form.

mod support_ops;

use kms_core::{
    Action, EncryptRequest, Error, KeyOptions, KeyState, KeyUsage, MasterKeySpec, Parameter,
    RequestId, encrypt, encrypt_in,
};
use support_ops::*;

fn request<'a>(key_id: &'a str, plaintext: &'a str) -> EncryptRequest<'a> {
    EncryptRequest::new(key_id, plaintext)
}

fn run(
    world: &mut World,
    request: &EncryptRequest<'_>,
) -> Result<kms_core::EncryptResponse, Error> {
    encrypt(&mut world.provider, &owner(), request, &mut world.rng)
}

fn dry<'a>(key_id: &'a str, plaintext: &'a str) -> EncryptRequest<'a> {
    EncryptRequest {
        dry_run: Some("true"),
        ..request(key_id, plaintext)
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[track_caller]
fn round_trip(world: &mut World, plaintext: &str, context: Option<&str>) {
    let key = world.key_text();
    let out = run(
        world,
        &EncryptRequest {
            encryption_context: context,
            ..request(&key, plaintext)
        },
    )
    .expect("encrypt");
    assert_eq!(out.key_id, world.key);
    assert_eq!(out.key_version_id, world.primary(&world.key));
    assert!(is_uuid_v4(out.request_id.as_str()), "{}", out.request_id);

    // The blob's layout (spec §5): the version, a 12-byte IV, the text's bytes, a 16-byte tag.
    let bytes = blob_bytes(&out.ciphertext_blob);
    assert_eq!(bytes.len(), 36 + 12 + plaintext.len() + 16);
    assert_eq!(&bytes[..36], out.key_version_id.as_str().as_bytes());
    assert_ne!(&bytes[48..48 + plaintext.len()], plaintext.as_bytes());

    let opened = world
        .decrypt(&out.ciphertext_blob, context)
        .expect("decrypt");
    assert_eq!(opened.plaintext.expose(), plaintext);
    assert_eq!(opened.key_id, world.key);
    assert_eq!(opened.key_version_id, out.key_version_id);
}

#[test]
fn round_trip_ascii_unicode_and_extremes() {
    let mut world = World::new(1);
    round_trip(&mut world, "x", None);
    round_trip(&mut world, "attack at dawn", None);
    round_trip(&mut world, "héllo wörld ✓ 中文 🔑 \u{0} \"quoted\"\n", None);
    round_trip(&mut world, &"a".repeat(6144), None);
    // 6144 bytes of multi-byte characters: 3072 two-byte, 2048 three-byte, 1536 four-byte.
    round_trip(&mut world, &"é".repeat(3072), None);
    round_trip(&mut world, &"€".repeat(2048), None);
    round_trip(&mut world, &"🔑".repeat(1536), None);
    round_trip(
        &mut world,
        "with a context",
        Some(r#"{"app":"test","n":"1"}"#),
    );
}

#[test]
fn every_seal_draws_a_fresh_iv() {
    let mut world = World::new(2);
    let key = world.key_text();
    let a = world.seal_text(&key, "same text", None);
    let b = world.seal_text(&key, "same text", None);
    assert_ne!(a, b);
    assert_ne!(blob_bytes(&a)[36..48], blob_bytes(&b)[36..48]);
    assert_eq!(
        world.decrypt(&a, None).unwrap().plaintext.expose(),
        "same text"
    );
    assert_eq!(
        world.decrypt(&b, None).unwrap().plaintext.expose(),
        "same text"
    );
}

#[test]
fn every_key_reference_form_reports_the_canonical_key_id() {
    let mut world = World::new(3);
    world
        .provider
        .create_alias("alias/enc-test", &world.key)
        .unwrap();
    let forms = [
        world.key_text(),
        "alias/enc-test".to_string(),
        key_arn(REGION, ACCOUNT, &world.key),
        alias_arn(REGION, ACCOUNT, "alias/enc-test"),
    ];
    for form in &forms {
        let out = run(&mut world, &request(form, "p")).expect(form);
        assert_eq!(out.key_id, world.key, "{form}");
        let opened = world.decrypt(&out.ciphertext_blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), "p");
    }
}

#[test]
fn seals_under_the_primary_version_after_rotation() {
    let mut world = World::new(4);
    let key = world.key_text();
    let v1 = world.primary(&world.key);
    let old = world.seal_text(&key, "old", None);
    let v2 = world
        .provider
        .rotate_key(&world.key, &mut world.rng)
        .unwrap();
    assert_ne!(v1, v2);
    let out = run(&mut world, &request(&key, "new")).unwrap();
    assert_eq!(out.key_version_id, v2);
    assert_eq!(blob_version(&out.ciphertext_blob), v2.as_str());
    // The old blob still opens, under its own version.
    let opened = world.decrypt(&old, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "old");
    assert_eq!(opened.key_version_id, v1);
}

#[test]
fn the_context_is_bound_to_the_blob() {
    let mut world = World::new(5);
    let key = world.key_text();
    let blob = world.seal_text(&key, "bound", Some(r#"{"a":"1","b":"2"}"#));
    // Equivalent texts open it.
    for equivalent in [
        r#"{"b":"2","a":"1"}"#,
        r#"{ "a" : "1", "b":"2" }"#,
        r#"{"a":"\u0031","b":"2"}"#,
    ] {
        let opened = world.decrypt(&blob, Some(equivalent)).expect(equivalent);
        assert_eq!(opened.plaintext.expose(), "bound");
    }
    // Anything else does not, with nothing that tells the cases apart.
    for wrong in [
        None,
        Some("{}"),
        Some(r#"{"a":"1"}"#),
        Some(r#"{"a":"1","b":"3"}"#),
        Some(r#"{"a":"1","b":"2","c":"3"}"#),
        Some(r#"{"a":"12","b":""}"#),
    ] {
        assert_invalid(
            world.decrypt(&blob, wrong),
            Parameter::CiphertextBlob,
            "CiphertextBlob",
        );
    }
    // Absent, "" and {} are one empty context.
    let empty = world.seal_text(&key, "empty", Some(""));
    for same in [None, Some(""), Some("{}"), Some(" { } ")] {
        let opened = world.decrypt(&empty, same).expect("empty context");
        assert_eq!(opened.plaintext.expose(), "empty");
    }
}

#[test]
fn a_tampered_blob_does_not_open() {
    let mut world = World::new(6);
    let key = world.key_text();
    let blob = world.seal_text(&key, "integrity", None);
    let len = blob_bytes(&blob).len();
    // IV, body and tag: every part is authenticated.
    for index in [36, 47, 48, 48 + 5, len - 16, len - 1] {
        assert_invalid(
            world.decrypt(&flip(&blob, index), None),
            Parameter::CiphertextBlob,
            "CiphertextBlob",
        );
    }
}

#[test]
fn a_blob_from_another_account_opens_only_with_permission() {
    let mut world = World::new(7);
    let key = world.key_text();
    let blob = world.seal_text(&key, "shared", None);
    assert_no_permission(world.decrypt_as(&other(), &blob, None));
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::Decrypt])
        .unwrap();
    let opened = world.decrypt_as(&other(), &blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "shared");
}

// ---------------------------------------------------------------------------------------------
// Request IDs

#[test]
fn request_id_is_supplied_or_drawn() {
    let mut world = World::new(8);
    let key = world.key_text();
    let supplied = RequestId::parse(b"0b8e5b1e-6b4c-4c11-9a6e-2f2b1c3d4e5f").unwrap();
    let out = run(
        &mut world,
        &EncryptRequest {
            request_id: Some(supplied),
            ..request(&key, "p")
        },
    )
    .unwrap();
    assert_eq!(out.request_id, supplied);

    let a = run(&mut world, &request(&key, "p")).unwrap().request_id;
    let b = run(&mut world, &request(&key, "p")).unwrap().request_id;
    assert!(is_uuid_v4(a.as_str()), "{a}");
    assert!(is_uuid_v4(b.as_str()), "{b}");
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------------------------
// Step 1: parameters

#[test]
fn missing_key_id() {
    let mut world = World::new(10);
    let req = EncryptRequest {
        plaintext: Some("p"),
        ..EncryptRequest::default()
    };
    assert_missing(run(&mut world, &req), Parameter::KeyId, "KeyId");
}

#[test]
fn invalid_key_id() {
    let mut world = World::new(11);
    let long = "k".repeat(2049);
    let bad_arns = [
        "acs:kms:cn-hangzhou:1234567890123456:key/not-a-key".to_string(),
        "acs:kms:cn-hangzhou:1234567890123456".to_string(),
        format!("acs:kms:CN-HANGZHOU:{ACCOUNT}:key/{}", world.key),
        format!("acs:kms:{REGION}:acct:key/{}", world.key),
        format!("acs:ecs:{REGION}:{ACCOUNT}:key/{}", world.key),
        format!("acs:kms:{REGION}:{ACCOUNT}:alias/"),
    ];
    for bad in ["", "clé", long.as_str()]
        .into_iter()
        .chain(bad_arns.iter().map(String::as_str))
    {
        assert_invalid(
            run(&mut world, &request(bad, "p")),
            Parameter::KeyId,
            "KeyId",
        );
    }
}

#[test]
fn missing_plaintext() {
    let mut world = World::new(12);
    let key = world.key_text();
    let req = EncryptRequest {
        key_id: Some(&key),
        ..EncryptRequest::default()
    };
    assert_missing(run(&mut world, &req), Parameter::Plaintext, "Plaintext");
}

#[test]
fn plaintext_length_is_counted_in_bytes() {
    let mut world = World::new(13);
    let key = world.key_text();
    let too_long = [
        String::new(),
        "a".repeat(6145),
        // 6144 characters, 6145 bytes.
        format!("{}é", "a".repeat(6143)),
        "é".repeat(3073),
        "€".repeat(2049),
        "🔑".repeat(1537),
        "a".repeat(100_000),
    ];
    for text in &too_long {
        assert_invalid(
            run(&mut world, &request(&key, text)),
            Parameter::Plaintext,
            "Plaintext",
        );
    }
    // Exactly 6144 bytes is fine whatever the characters.
    for text in [
        "a".repeat(6144),
        format!("{}é", "a".repeat(6142)),
        "é".repeat(3072),
    ] {
        let out = run(&mut world, &request(&key, &text)).expect("6144 bytes");
        assert_eq!(blob_bytes(&out.ciphertext_blob).len(), 36 + 12 + 6144 + 16);
    }
}

#[test]
fn invalid_encryption_context() {
    let mut world = World::new(14);
    let key = world.key_text();
    let too_long = format!(r#"{{"k":"{}"}}"#, "v".repeat(8193 - 8));
    assert_eq!(too_long.chars().count(), 8193);
    for bad in [
        "[]",
        r#"["a","b"]"#,
        r#"{"a":1}"#,
        r#"{"a":{"b":"c"}}"#,
        r#"{"a":["b"]}"#,
        r#"{"a":null}"#,
        r#"{"a":"1","a":"2"}"#,
        r#"{"a":"1","\u0061":"2"}"#,
        r#"{"":"empty key"}"#,
        "{",
        r#"{"a":"1"} x"#,
        r#"{"a":"1",}"#,
        "not json",
        " ",
        too_long.as_str(),
    ] {
        let req = EncryptRequest {
            encryption_context: Some(bad),
            ..request(&key, "p")
        };
        assert_invalid(
            run(&mut world, &req),
            Parameter::EncryptionContext,
            "EncryptionContext",
        );
    }
    // 8192 characters of JSON text is the limit, counted in characters: é is 2 bytes.
    let at_limit = format!(r#"{{"k":"{}"}}"#, "é".repeat(8192 - 8));
    assert_eq!(at_limit.chars().count(), 8192);
    let out = run(
        &mut world,
        &EncryptRequest {
            encryption_context: Some(&at_limit),
            ..request(&key, "p")
        },
    )
    .expect("8192 characters");
    let opened = world
        .decrypt(&out.ciphertext_blob, Some(&at_limit))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), "p");
}

#[test]
fn invalid_dry_run_is_never_a_validation_error() {
    let mut world = World::new(15);
    let key = world.key_text();
    for bad in ["True", "TRUE", "1", "yes", "", " true"] {
        let req = EncryptRequest {
            dry_run: Some(bad),
            ..request(&key, "p")
        };
        assert_invalid(run(&mut world, &req), Parameter::DryRun, "DryRun");
    }
    // "false" is a real run.
    let req = EncryptRequest {
        dry_run: Some("false"),
        ..request(&key, "p")
    };
    let out = run(&mut world, &req).expect("DryRun=false");
    assert_eq!(
        world
            .decrypt(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "p"
    );
}

#[test]
fn parameters_are_checked_in_order_key_id_plaintext_context() {
    let mut world = World::new(16);
    let key = world.key_text();
    // KeyId before Plaintext.
    assert_missing(
        run(&mut world, &EncryptRequest::default()),
        Parameter::KeyId,
        "KeyId",
    );
    let req = EncryptRequest {
        key_id: Some(""),
        ..EncryptRequest::default()
    };
    assert_invalid(run(&mut world, &req), Parameter::KeyId, "KeyId");
    // Plaintext before EncryptionContext.
    let req = EncryptRequest {
        encryption_context: Some("[]"),
        ..request(&key, "")
    };
    assert_invalid(run(&mut world, &req), Parameter::Plaintext, "Plaintext");
    // Parameters before resolution: an unknown key with a bad plaintext.
    assert_invalid(
        run(&mut world, &request(UNKNOWN_KEY_ID, "")),
        Parameter::Plaintext,
        "Plaintext",
    );
}

// ---------------------------------------------------------------------------------------------
// Step 2: resolution

#[test]
fn key_not_found() {
    let mut world = World::new(20);
    let foreign = world.create_in(OTHER_ACCOUNT, REGION);
    let elsewhere = world.create_in(ACCOUNT, OTHER_REGION);
    let not_found = [
        UNKNOWN_KEY_ID.to_string(),
        "key-hzz630494463ejqjx1234".to_string(),
        "not-a-key-id".to_string(),
        world.key_text().to_uppercase(),
        // Another account's key by bare ID resolves in the caller's own account.
        foreign.to_string(),
        // A key of another region, by ID or ARN.
        elsewhere.to_string(),
        key_arn(OTHER_REGION, ACCOUNT, &world.key),
        key_arn(REGION, ACCOUNT, &elsewhere),
        key_arn(REGION, OTHER_ACCOUNT, &world.key),
    ];
    for name in &not_found {
        assert_key_not_found(run(&mut world, &request(name, "p")));
    }
}

#[test]
fn alias_not_found() {
    let mut world = World::new(21);
    world
        .provider
        .create_alias("alias/here", &world.key)
        .unwrap();
    for name in [
        "alias/missing".to_string(),
        "alias/HERE".to_string(),
        "alias/".to_string(),
        alias_arn(REGION, ACCOUNT, "alias/missing"),
        // The alias exists, but in another region or account.
        alias_arn(OTHER_REGION, ACCOUNT, "alias/here"),
        alias_arn(REGION, OTHER_ACCOUNT, "alias/here"),
    ] {
        assert_alias_not_found(run(&mut world, &request(&name, "p")));
    }
    // An alias of another account, by name alone, is looked up in the caller's account.
    let mut req_world = world;
    assert_alias_not_found(encrypt(
        &mut req_world.provider,
        &other(),
        &request("alias/here", "p"),
        &mut req_world.rng,
    ));
}

// ---------------------------------------------------------------------------------------------
// Step 3: permission

#[test]
fn cross_account_needs_the_encrypt_permission() {
    let mut world = World::new(30);
    let arn = key_arn(REGION, ACCOUNT, &world.key);
    let try_it = |world: &mut World| world.encrypt_as(&other(), &arn, "p", None);

    assert_no_permission(try_it(&mut world));
    // Every other action, but not Encrypt.
    let all_but_encrypt: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::Encrypt)
        .collect();
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &all_but_encrypt)
        .unwrap();
    assert_no_permission(try_it(&mut world));

    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::Encrypt])
        .unwrap();
    let out = try_it(&mut world).expect("granted");
    assert_eq!(out.key_id, world.key);
    // The owner opens it; the other account was not granted Decrypt.
    assert_eq!(
        world
            .decrypt(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "p"
    );
    assert_no_permission(world.decrypt_as(&other(), &out.ciphertext_blob, None));

    // Revoking takes effect.
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[])
        .unwrap();
    assert_no_permission(try_it(&mut world));
}

#[test]
fn cross_account_by_alias_arn() {
    let mut world = World::new(31);
    world
        .provider
        .create_alias("alias/shared", &world.key)
        .unwrap();
    let arn = alias_arn(REGION, ACCOUNT, "alias/shared");
    assert_no_permission(world.encrypt_as(&other(), &arn, "p", None));
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::Encrypt])
        .unwrap();
    let out = world.encrypt_as(&other(), &arn, "p", None).unwrap();
    assert_eq!(out.key_id, world.key);
}

#[test]
fn permission_is_checked_before_state_and_usage() {
    let mut world = World::new(32);
    let disabled = key_in_state_of(&mut world, ACCOUNT, KeyState::Disabled);
    let asymmetric = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    for key in [disabled, asymmetric] {
        assert_no_permission(world.encrypt_as(
            &other(),
            &key_arn(REGION, ACCOUNT, &key),
            "p",
            None,
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
        assert_state(world.encrypt_as(&owner(), key.as_str(), "p", None), state);
    }
}

#[test]
fn a_key_recovers_when_its_state_does() {
    let mut world = World::new(41);
    let key = world.key_text();
    world.provider.disable_key(&world.key).unwrap();
    assert_state(
        world.encrypt_as(&owner(), &key, "p", None),
        KeyState::Disabled,
    );
    world.provider.enable_key(&world.key).unwrap();
    world.seal_text(&key, "p", None);

    world.provider.set_unavailable(&world.key, true).unwrap();
    assert_state(
        world.encrypt_as(&owner(), &key, "p", None),
        KeyState::Unavailable,
    );
    world.provider.set_unavailable(&world.key, false).unwrap();
    world.seal_text(&key, "p", None);
}

#[test]
fn keys_that_cannot_encrypt_are_unsupported() {
    let mut world = World::new(42);
    let options = KeyOptions::new(ACCOUNT, REGION);
    for key in [
        world.create(options.spec(MasterKeySpec::EcP256)),
        world.create(options.spec(MasterKeySpec::Rsa2048)),
        world.create(options.usage(KeyUsage::SignVerify)),
        world.create(
            options
                .spec(MasterKeySpec::Rsa2048)
                .usage(KeyUsage::SignVerify),
        ),
    ] {
        assert_unsupported(world.encrypt_as(&owner(), key.as_str(), "p", None));
    }
    // AES-128 keys do encrypt.
    let aes128 = world.create(options.spec(MasterKeySpec::Aes128));
    let blob = world.seal_text(aes128.as_str(), "p", None);
    assert_eq!(world.decrypt(&blob, None).unwrap().key_id, aes128);
}

#[test]
fn state_is_checked_before_usage() {
    let mut world = World::new(43);
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    world.provider.disable_key(&key).unwrap();
    assert_state(
        world.encrypt_as(&owner(), key.as_str(), "p", None),
        KeyState::Disabled,
    );
}

// ---------------------------------------------------------------------------------------------
// Step 5 failures: the RNG

#[test]
fn rng_failure_is_an_internal_failure_and_seals_nothing() {
    let mut world = World::new(50);
    let key = world.key_text();
    let version = world.primary(&world.key);
    let mut failing = BudgetRng::failing();
    assert_internal(
        encrypt(
            &mut world.provider,
            &owner(),
            &request(&key, "p"),
            &mut failing,
        ),
        Error::InternalFailure,
    );
    assert_eq!(world.seals(&version), 0);
    // The IV came through, the request ID did not: still a failure, no response.
    let mut short = BudgetRng::new(1, 12);
    assert_internal(
        encrypt(
            &mut world.provider,
            &owner(),
            &request(&key, "p"),
            &mut short,
        ),
        Error::InternalFailure,
    );
}

// ---------------------------------------------------------------------------------------------
// Dry runs (spec §7)

#[test]
fn dry_run_step_1_is_a_validation_error() {
    let mut world = World::new(60);
    let key = world.key_text();
    let missing_plaintext = EncryptRequest {
        key_id: Some(&key),
        dry_run: Some("true"),
        ..EncryptRequest::default()
    };
    assert_validation_missing(
        run(&mut world, &missing_plaintext),
        Parameter::Plaintext,
        "Plaintext",
    );
    let missing_key = EncryptRequest {
        plaintext: Some("p"),
        dry_run: Some("true"),
        ..EncryptRequest::default()
    };
    assert_validation_missing(run(&mut world, &missing_key), Parameter::KeyId, "KeyId");
    assert_validation_invalid(
        run(&mut world, &dry(&key, "")),
        Parameter::Plaintext,
        "Plaintext",
    );
    let long = "a".repeat(6145);
    assert_validation_invalid(
        run(&mut world, &dry(&key, &long)),
        Parameter::Plaintext,
        "Plaintext",
    );
    assert_validation_invalid(run(&mut world, &dry("", "p")), Parameter::KeyId, "KeyId");
    let bad_context = EncryptRequest {
        encryption_context: Some(r#"{"a":1}"#),
        ..dry(&key, "p")
    };
    assert_validation_invalid(
        run(&mut world, &bad_context),
        Parameter::EncryptionContext,
        "EncryptionContext",
    );
}

#[test]
fn dry_run_step_2_keeps_not_found() {
    let mut world = World::new(61);
    assert_key_not_found(run(&mut world, &dry(UNKNOWN_KEY_ID, "p")));
    assert_alias_not_found(run(&mut world, &dry("alias/missing", "p")));
}

#[test]
fn dry_run_step_3_is_access_denied() {
    let mut world = World::new(62);
    let arn = key_arn(REGION, ACCOUNT, &world.key);
    assert_access_denied(encrypt(
        &mut world.provider,
        &other(),
        &dry(&arn, "p"),
        &mut world.rng,
    ));
    world
        .provider
        .set_policy(&world.key, OTHER_ACCOUNT, &[Action::Encrypt])
        .unwrap();
    assert_dry_run_passed(encrypt(
        &mut world.provider,
        &other(),
        &dry(&arn, "p"),
        &mut world.rng,
    ));
}

#[test]
fn dry_run_step_4_keeps_the_state_code() {
    let mut world = World::new(63);
    for state in REJECTED_STATES {
        let key = key_in_state(&mut world, state);
        assert_state(run(&mut world, &dry(key.as_str(), "p")), state);
    }
    let asymmetric = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    assert_unsupported(run(&mut world, &dry(asymmetric.as_str(), "p")));
}

#[test]
fn dry_run_that_passes_seals_nothing_and_draws_nothing() {
    let mut world = World::new(64);
    let key = world.key_text();
    let version = world.primary(&world.key);
    assert_dry_run_passed(run(&mut world, &dry(&key, "p")));
    assert_dry_run_passed(run(&mut world, &dry(&key, &"é".repeat(3072))));
    let with_context = EncryptRequest {
        encryption_context: Some(r#"{"a":"b"}"#),
        ..dry(&key, "p")
    };
    assert_dry_run_passed(run(&mut world, &with_context));
    assert_eq!(world.seals(&version), 0);
    // A failing RNG makes no difference: a dry run draws nothing.
    let mut failing = BudgetRng::failing();
    assert_dry_run_passed(encrypt(
        &mut world.provider,
        &owner(),
        &dry(&key, "p"),
        &mut failing,
    ));
    assert_eq!(failing.calls, 0);
    assert_eq!(world.seals(&version), 0);
    // And a real run does count.
    world.seal_text(&key, "p", None);
    assert_eq!(world.seals(&version), 1);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form

#[test]
fn encrypt_in_matches_encrypt() {
    for (plaintext, context) in [
        ("p", None),
        ("héllo 🔑", Some(r#"{ "b":"2", "a":"\u0031" }"#)),
        (&*"z".repeat(6144), Some("{}")),
    ] {
        let mut owned = World::new(70);
        let mut borrowed = World::new(70);
        let key = owned.key_text();
        let req = EncryptRequest {
            encryption_context: context,
            ..request(&key, plaintext)
        };
        let a = run(&mut owned, &req).unwrap();
        let mut workspace = vec![0u8; req.workspace_len()];
        let b = encrypt_in(
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
        let blob = b.ciphertext_blob.to_string();
        let opened = borrowed.decrypt(&blob, context).unwrap();
        assert_eq!(opened.plaintext.expose(), plaintext);
    }
}

#[test]
fn encrypt_in_errors_match_encrypt() {
    let mut world = World::new(71);
    let key = world.key_text();
    let disabled = key_in_state(&mut world, KeyState::Disabled).to_string();
    let requests = [
        EncryptRequest::default(),
        request(&key, ""),
        request(UNKNOWN_KEY_ID, "p"),
        request(&disabled, "p"),
        dry(&key, "p"),
    ];
    for req in &requests {
        let expected = run(&mut world, req).unwrap_err();
        let mut workspace = vec![0u8; req.workspace_len()];
        let got = encrypt_in(
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
fn encrypt_in_with_too_small_a_workspace() {
    let mut world = World::new(72);
    let key = world.key_text();
    let version = world.primary(&world.key);
    let req = request(&key, "some plaintext");
    let needed = req.workspace_len();
    for len in [0, 1, needed - 1] {
        let mut workspace = vec![0u8; len];
        assert_internal(
            encrypt_in(
                &mut world.provider,
                &owner(),
                &req,
                &mut world.rng,
                &mut workspace,
            ),
            Error::WorkspaceTooSmall { needed },
        );
    }
    assert_eq!(world.seals(&version), 0);
    // A larger workspace than needed is fine.
    let mut workspace = vec![0u8; needed + 100];
    let out = encrypt_in(
        &mut world.provider,
        &owner(),
        &req,
        &mut world.rng,
        &mut workspace,
    )
    .unwrap();
    let blob = out.ciphertext_blob.to_string();
    assert_eq!(
        world.decrypt(&blob, None).unwrap().plaintext.expose(),
        "some plaintext"
    );
}

#[test]
fn encrypt_request_debug_redacts_the_plaintext() {
    let req = request(UNKNOWN_KEY_ID, "top secret text");
    let shown = format!("{req:?}");
    assert!(!shown.contains("top secret text"), "{shown}");
    assert!(shown.contains(UNKNOWN_KEY_ID), "{shown}");
}

#[test]
fn a_failed_seal_leaves_no_plaintext_in_the_workspace() {
    const MARKER: &str = "ENCRYPT-PLAINTEXT-MARKER-which-must-be-wiped";
    let lingers = |ws: &[u8]| ws.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());
    let mut world = World::new(73);
    let key = world.key_text();
    let req = request(&key, MARKER);

    // The IV cannot be drawn.
    let mut workspace = vec![0u8; req.workspace_len()];
    let mut failing = BudgetRng::failing();
    assert_internal(
        encrypt_in(
            &mut world.provider,
            &owner(),
            &req,
            &mut failing,
            &mut workspace,
        ),
        Error::InternalFailure,
    );
    assert!(!lingers(&workspace), "plaintext left after an RNG failure");

    // The provider refuses to seal.
    let mut refusing = World::with_provider(
        kms_core::InMemoryProvider::new().with_seal_limit(1, kms_core::SealLimitAction::Refuse),
        74,
    );
    let key = refusing.key_text();
    refusing.seal_text(&key, "uses up the budget", None);
    let req = request(&key, MARKER);
    let mut workspace = vec![0u8; req.workspace_len()];
    assert_internal(
        encrypt_in(
            &mut refusing.provider,
            &owner(),
            &req,
            &mut refusing.rng,
            &mut workspace,
        ),
        Error::SealLimitReached,
    );
    assert!(!lingers(&workspace), "plaintext left after a refused seal");

    // And after success, only ciphertext.
    let mut workspace = vec![0u8; req.workspace_len()];
    let key = world.key_text();
    let req = request(&key, MARKER);
    encrypt_in(
        &mut world.provider,
        &owner(),
        &req,
        &mut world.rng,
        &mut workspace,
    )
    .unwrap();
    assert!(!lingers(&workspace), "plaintext left after success");
}

// ---------------------------------------------------------------------------------------------
// The blob against the spec, checked with bare AES-GCM

#[test]
fn the_blob_is_the_spec_layout_with_the_spec_aad() {
    let mut world = World::new(80);
    for material in [&[0x5au8; 32][..], &[0xa5u8; 16][..]] {
        let key = imported_key(&mut world, material);
        let version = world.primary(&key);
        let text = "héllo, spec ✓";
        // Pairs out of order and escaped: the AAD sorts them by key bytes and unescapes.
        let context = r#"{"b":"2","a":"\u0031","Z":""}"#;
        let out = world
            .encrypt_as(&owner(), key.as_str(), text, Some(context))
            .unwrap();
        assert_eq!(out.key_version_id, version);
        let aad = spec_aad(version.as_str(), &[("a", "1"), ("b", "2"), ("Z", "")]);
        let opened = spec_open(material, &out.ciphertext_blob, &aad).expect("opens per the spec");
        assert_eq!(opened, text.as_bytes());
        // Not sorted, or no context: the tag fails.
        let mut unsorted = version.as_str().as_bytes().to_vec();
        unsorted.extend_from_slice(&[0, 3, 0, 1, b'b', 0, 1, b'2', 0, 1, b'a', 0, 1, b'1', 0, 1]);
        unsorted.extend_from_slice(&[b'Z', 0, 0]);
        assert!(spec_open(material, &out.ciphertext_blob, &unsorted).is_none());
        assert!(
            spec_open(
                material,
                &out.ciphertext_blob,
                &spec_aad(version.as_str(), &[])
            )
            .is_none()
        );

        // The empty context is two zero bytes after the version.
        let out = world.encrypt_as(&owner(), key.as_str(), "x", None).unwrap();
        let mut aad = version.as_str().as_bytes().to_vec();
        aad.extend_from_slice(&[0, 0]);
        assert_eq!(
            spec_open(material, &out.ciphertext_blob, &aad).unwrap(),
            b"x"
        );
    }
}
