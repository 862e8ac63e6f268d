//! The spec's cross-cutting rows as tables that every data-key operation runs: naming a key
//! (§2), key states and usage (§6), permissions, DryRun and the order of the checks (§7), the
//! error table (§8), and an RNG that fails. Each table is a list of cases; each case runs
//! against each operation it applies to, and the failing operation is named in the message.

use kms_core::{KeyOptions, KeyState, KeyUsage, MasterKeySpec, Permission};

use crate::testkit::*;

/// A world with a second key in a region of its own and a key of another account, and a blob
/// under the world's key (for the operations that open one).
struct Scene {
    world: World,
    blob: String,
    other_key: kms_core::KeyId,
}

fn scene(seed: u64) -> Scene {
    let mut world = World::new(seed);
    let other_key = world.create_in(OTHER_ACCOUNT, REGION);
    let blob = world.blob(None);
    Scene {
        world,
        blob,
        other_key,
    }
}

#[test]
fn every_form_of_name_resolves_to_the_canonical_key_id() {
    let mut s = scene(1);
    let key = s.world.key;
    let forms = [
        key.to_string(),
        ALIAS.to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, ALIAS),
    ];
    for op in Op::NAMING_A_KEY {
        for form in &forms {
            let result = op.run(&mut s.world, &owner(), &Call::new(form, &s.blob));
            let (key_id, version) = result.unwrap_or_else(|e| panic!("{op:?} {form}: {e:?}"));
            assert_eq!(key_id, key, "{op:?} {form}");
            assert_eq!(version, s.world.primary(&key), "{op:?} {form}");
        }
    }
}

#[test]
fn names_that_name_no_key() {
    let mut s = scene(2);
    let other = s.other_key;
    let cases = [
        (UNKNOWN_KEY_ID.to_string(), Row::key_not_found()),
        (
            "key-hzz630494463ejqjx1234".to_string(),
            Row::key_not_found(),
        ),
        // Text that is no key ID at all still names no key (spec §2).
        ("not-a-key".to_string(), Row::key_not_found()),
        ("alias/nobody".to_string(), Row::alias_not_found()),
        // An ill-formed alias simply names no key.
        ("alias/".to_string(), Row::alias_not_found()),
        ("alias/white space".to_string(), Row::alias_not_found()),
        // Another account's key by bare ID, and the alias in the caller's account.
        (other.to_string(), Row::key_not_found()),
        // ARNs that point into another region.
        (
            key_arn(OTHER_REGION, ACCOUNT, &s.world.key),
            Row::key_not_found(),
        ),
        (
            alias_arn(OTHER_REGION, ACCOUNT, ALIAS),
            Row::alias_not_found(),
        ),
        // A well-formed ARN of an account that has no such key.
        (
            key_arn(REGION, OTHER_ACCOUNT, &s.world.key),
            Row::key_not_found(),
        ),
        (
            alias_arn(REGION, OTHER_ACCOUNT, ALIAS),
            Row::alias_not_found(),
        ),
    ];
    for op in Op::NAMING_A_KEY {
        for (text, row) in &cases {
            let result = op.run(&mut s.world, &owner(), &Call::new(text, &s.blob));
            let err = expect_err(result);
            assert_eq!(Row::of(&err), *row, "{op:?} {text}");
        }
    }
}

#[test]
fn texts_that_are_not_valid_names() {
    let mut s = scene(3);
    let long = "a".repeat(2049);
    let key = s.world.key;
    let cases = [
        String::new(),
        long,
        "ключ".to_string(),
        "acs:kms".to_string(),
        format!("acs:kms:{REGION}:{ACCOUNT}"),
        format!("acs:kms:{REGION}:{ACCOUNT}:key/not-a-key"),
        format!("acs:kms:{REGION}:{ACCOUNT}:secret/{key}"),
        format!("acs:kms:{REGION}:abc:key/{key}"),
        format!("acs:kms:CN-HANGZHOU:{ACCOUNT}:key/{key}"),
        format!("acs:kms:{REGION}:{ACCOUNT}:alias/"),
        format!("acs:ecs:{REGION}:{ACCOUNT}:key/{key}"),
    ];
    for op in Op::NAMING_A_KEY {
        for text in &cases {
            let result = op.run(&mut s.world, &owner(), &Call::new(text, &s.blob));
            let row = Row::invalid(op.key_parameter());
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {text:?}");
        }
        let mut call = Call::new("", &s.blob);
        call.key = None;
        let result = op.run(&mut s.world, &owner(), &call);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::missing(op.key_parameter()),
            "{op:?}"
        );
    }
    for op in Op::OPENING_A_BLOB {
        let key = key.to_string();
        let mut call = Call::new(&key, "");
        call.blob = None;
        let result = op.run(&mut s.world, &owner(), &call);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::missing("CiphertextBlob"),
            "{op:?}"
        );
    }
}

#[test]
fn the_named_key_in_each_rejected_state() {
    let mut s = scene(4);
    for state in REJECTED_STATES {
        let key = s.world.key_in_state(state);
        let text = key.to_string();
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            let err = expect_err(result);
            assert_eq!(
                Row::of(&err),
                Row::rejected(state_name(state)),
                "{op:?} {state:?}"
            );
        }
    }
}

#[test]
fn the_blobs_key_in_each_rejected_state() {
    let mut s = scene(5);
    let dest = s.world.key_text();
    for state in REJECTED_STATES {
        let blob = if state == KeyState::PendingImport {
            // A key pending import never sealed: a blob naming its version is refused on the
            // state before anything is opened.
            let key = s.world.pending_import_key();
            let version = s.world.primary(&key);
            with_prefix(&s.blob, version.as_str())
        } else {
            let key = s.world.create_in(ACCOUNT, REGION);
            let blob = s.world.blob_under(&key, None);
            s.world.put_in_state(&key, state);
            blob
        };
        for op in Op::OPENING_A_BLOB {
            let result = op.run(&mut s.world, &owner(), &Call::new(&dest, &blob));
            let err = expect_err(result);
            assert_eq!(
                Row::of(&err),
                Row::rejected(state_name(state)),
                "{op:?} {state:?}"
            );
        }
    }
}

#[test]
fn keys_that_cannot_make_data_keys() {
    let mut s = scene(6);
    let unsupported = [
        KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify),
        KeyOptions::new(ACCOUNT, REGION)
            .spec(MasterKeySpec::Rsa2048)
            .usage(KeyUsage::SignVerify),
        KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Rsa2048),
        KeyOptions::new(ACCOUNT, REGION)
            .spec(MasterKeySpec::EcP256)
            .usage(KeyUsage::SignVerify),
    ];
    for options in unsupported {
        let key = s.world.create(options);
        let text = key.to_string();
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::unsupported(),
                "{op:?} {options:?}"
            );
        }
        // The state is checked before the usage [decided].
        s.world.put_in_state(&key, KeyState::Disabled);
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::rejected("Disabled"),
                "{op:?}"
            );
        }
    }
}

#[test]
fn another_accounts_key_needs_its_policy_for_exactly_this_permission() {
    let mut s = scene(7);
    let other = s.other_key;
    let arn = key_arn(REGION, OTHER_ACCOUNT, &other);
    for op in Op::NAMING_A_KEY {
        // No policy.
        s.world.grant(&other, ACCOUNT, &[]);
        let result = op.run(&mut s.world, &owner(), &Call::new(&arn, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} no policy"
        );
        // Every permission but the one it needs.
        let needed = op.permission(Side::Named);
        let all_but: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| *p != needed)
            .collect();
        s.world.grant(&other, ACCOUNT, &all_but);
        let result = op.run(&mut s.world, &owner(), &Call::new(&arn, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} all but"
        );
        // Just the one it needs.
        s.world.grant(&other, ACCOUNT, &[needed]);
        let (key_id, _) = op
            .run(&mut s.world, &owner(), &Call::new(&arn, &s.blob))
            .unwrap_or_else(|e| panic!("{op:?} with {needed:?}: {e:?}"));
        assert_eq!(key_id, other, "{op:?}");
    }
}

#[test]
fn another_accounts_blob_needs_its_policy_for_exactly_this_permission() {
    let mut s = scene(8);
    let other = s.other_key;
    let other_caller = other_caller_blob(&mut s.world, &other);
    let dest = s.world.key_text();
    for op in Op::OPENING_A_BLOB {
        s.world.grant(&other, ACCOUNT, &[]);
        let result = op.run(&mut s.world, &owner(), &Call::new(&dest, &other_caller));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} no policy"
        );
        let needed = op.permission(Side::Blob);
        let all_but: Vec<Permission> = Permission::ALL
            .into_iter()
            .filter(|p| *p != needed)
            .collect();
        s.world.grant(&other, ACCOUNT, &all_but);
        let result = op.run(&mut s.world, &owner(), &Call::new(&dest, &other_caller));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} all but"
        );
        s.world.grant(&other, ACCOUNT, &[needed]);
        op.run(&mut s.world, &owner(), &Call::new(&dest, &other_caller))
            .unwrap_or_else(|e| panic!("{op:?} with {needed:?}: {e:?}"));
    }
}

/// A blob sealed by the other account under its own key.
fn other_caller_blob(world: &mut World, key: &kms_core::KeyId) -> String {
    let id = key.to_string();
    let params = kms_core::wire::GenerateDataKeyParams::new().key_id(&id);
    world
        .gdk_as(&other(), &params)
        .expect("gdk")
        .ciphertext_blob
}

#[test]
fn a_blob_from_another_region_names_no_key_there() {
    let mut s = scene(9);
    let dest = s.world.create_in(ACCOUNT, OTHER_REGION).to_string();
    for op in Op::OPENING_A_BLOB {
        let result = op.run(&mut s.world, &elsewhere(), &Call::new(&dest, &s.blob));
        assert_eq!(Row::of(&expect_err(result)), Row::key_not_found(), "{op:?}");
    }
}

#[test]
fn invalid_contexts_name_the_parameter_that_carried_them() {
    let mut s = scene(10);
    let key = s.world.key_text();
    let params: &[(Op, &str)] = &[
        (Op::GenerateDataKey, "EncryptionContext"),
        (Op::GenerateDataKeyWithoutPlaintext, "EncryptionContext"),
        (Op::Encrypt, "EncryptionContext"),
        (Op::Decrypt, "EncryptionContext"),
        (Op::ReEncrypt, "SourceEncryptionContext"),
        (Op::ReEncrypt, "DestinationEncryptionContext"),
    ];
    let invalid = [
        "[]",
        r#"{"a":1}"#,
        r#"{"a":"1","a":"2"}"#,
        r#"{"":"x"}"#,
        r#"{"a":"\ud800"}"#,
        "\u{feff}{}",
        "{\u{a0}}",
        "{",
    ];
    for (op, name) in params {
        for text in invalid {
            let call = Call::new(&key, &s.blob).with(name, Some(text));
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::invalid(name),
                "{op:?} {text:?}"
            );
        }
    }
}

/// DryRun at each step of spec §7: step-1 failures become `ValidationError`, a permission
/// failure `AccessDeniedError`, steps 2 and 4 keep their codes, and passing every check is
/// `DryRunOperationError`. Nothing is sealed and nothing is drawn from the RNG.
#[test]
fn dry_run_at_each_step() {
    let mut s = scene(11);
    let key = s.world.key_text();
    let other_arn = key_arn(REGION, OTHER_ACCOUNT, &s.other_key);
    let disabled = s.world.key_in_state(KeyState::Disabled).to_string();
    for op in Op::ALL {
        let step1 = match op {
            Op::Decrypt | Op::ReEncrypt => {
                Call::new(&key, &s.blob).with("CiphertextBlob", Some("AAAA"))
            }
            _ => Call::new(&key, &s.blob).with(op.key_parameter(), Some("")),
        };
        let step1_name = match op {
            Op::Decrypt | Op::ReEncrypt => "CiphertextBlob",
            _ => op.key_parameter(),
        };
        let result = op.run(&mut s.world, &owner(), &step1.dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::validation_invalid(step1_name),
            "{op:?}"
        );
        let mut missing = Call::new(&key, &s.blob).dry();
        match op {
            Op::Decrypt => missing.blob = None,
            _ => missing.key = None,
        }
        let missing_name = match op {
            Op::Decrypt => "CiphertextBlob",
            _ => op.key_parameter(),
        };
        let result = op.run(&mut s.world, &owner(), &missing);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::validation_missing(missing_name),
            "{op:?}"
        );

        // Step 2.
        let (unknown_key, unknown_blob) = (UNKNOWN_KEY_ID, with_prefix(&s.blob, UNKNOWN_KEY_ID));
        let call = match op {
            Op::Decrypt | Op::ReEncrypt => Call::new(&key, &unknown_blob),
            _ => Call::new(unknown_key, &s.blob),
        };
        let result = op.run(&mut s.world, &owner(), &call.dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::key_not_found(),
            "{op:?} step 2"
        );

        // Step 3.
        let foreign = other_caller_blob(&mut s.world, &s.other_key.clone());
        s.world.grant(&s.other_key.clone(), ACCOUNT, &[]);
        let call = match op {
            Op::Decrypt | Op::ReEncrypt => Call::new(&key, &foreign),
            _ => Call::new(&other_arn, &s.blob),
        };
        let result = op.run(&mut s.world, &owner(), &call.dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::access_denied(),
            "{op:?} step 3"
        );

        // Step 4.
        if op != Op::Decrypt {
            let call = Call::new(&disabled, &s.blob);
            let result = op.run(&mut s.world, &owner(), &call.dry());
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::rejected("Disabled"),
                "{op:?} step 4"
            );
        }

        // Every check passes.
        let seals_mid = s.world.seals(&s.world.primary(&s.world.key));
        let rng_mid = s.world.rng.clone();
        let result = op.run(&mut s.world, &owner(), &Call::new(&key, &s.blob).dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::dry_run_passed(),
            "{op:?} passes"
        );
        assert_eq!(
            s.world.seals(&s.world.primary(&s.world.key)),
            seals_mid,
            "{op:?} sealed"
        );
        assert_eq!(s.world.rng, rng_mid, "{op:?} drew from the RNG");
    }
}

#[test]
fn dry_run_takes_only_true_and_false_and_is_read_first() {
    let mut s = scene(12);
    let key = s.world.key_text();
    for op in Op::ALL {
        for text in ["True", "TRUE", "1", "0", "", "yes", "false ", " true"] {
            // With another parameter missing too: DryRun is read first, and its own error is
            // never a ValidationError.
            let mut call = Call::new(&key, &s.blob).with("DryRun", Some(text));
            call.key = None;
            call.blob = None;
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::invalid("DryRun"),
                "{op:?} {text:?}"
            );
        }
        let call = Call::new(&key, &s.blob).with("DryRun", Some("false"));
        op.run(&mut s.world, &owner(), &call)
            .unwrap_or_else(|e| panic!("{op:?} DryRun=false: {e:?}"));
    }
}

/// When several steps would fail, the earliest wins: parameters, then resolution, then
/// permission, then state.
#[test]
fn the_checks_run_in_order() {
    let mut s = scene(13);
    let other = s.other_key;
    s.world.grant(&other, ACCOUNT, &[]);
    // The other account's key, disabled and not shared: steps 3 and 4 fail.
    let staged = kms_core::management::disable_key(
        &s.world.provider,
        &other_caller_static(),
        &other.into(),
        T0,
    );
    s.world.commit(staged);
    let arn = key_arn(REGION, OTHER_ACCOUNT, &other);
    for op in Op::NAMING_A_KEY {
        let context_name = match op {
            Op::ReEncrypt => "DestinationEncryptionContext",
            _ => "EncryptionContext",
        };
        let bad_context = Call::new(&arn, &s.blob).with(context_name, Some("{"));
        let result = op.run(&mut s.world, &owner(), &bad_context);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::invalid(context_name),
            "{op:?} step 1"
        );
        let result = op.run(&mut s.world, &owner(), &Call::new(&arn, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} step 3"
        );
        s.world.grant(&other, ACCOUNT, &Permission::ALL);
        let result = op.run(&mut s.world, &owner(), &Call::new(&arn, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::rejected("Disabled"),
            "{op:?} step 4"
        );
        s.world.grant(&other, ACCOUNT, &[]);
    }
}

fn other_caller_static() -> kms_core::Caller<'static> {
    other()
}

/// A failing RNG is `InternalFailure` for the operations that draw (every operation draws
/// the RequestId, the sealing ones their IV first), and leaves no seal counted.
#[test]
fn a_failing_rng_is_an_internal_failure() {
    for op in Op::ALL {
        let s = scene(14);
        let key = s.world.key_text();
        let version = s.world.primary(&s.world.key);
        let mut rng = FailingRng::default();
        let result = run_with_rng(op, &s.world, &key, &s.blob, &mut rng);
        assert_eq!(Row::of(&expect_err(result)), Row::internal(), "{op:?}");
        assert!(rng.attempts >= 1, "{op:?} never drew");
        assert_eq!(
            s.world.seals(&version),
            1,
            "{op:?}: only the scene's blob was sealed"
        );
    }
}

fn run_with_rng(
    op: Op,
    world: &World,
    key: &str,
    blob: &str,
    rng: &mut FailingRng,
) -> Result<(), kms_core::Error> {
    use kms_core::wire;
    let p = &world.provider;
    let c = owner();
    match op {
        Op::GenerateDataKey => {
            wire::generate_data_key(p, &c, &wire::GenerateDataKeyParams::new().key_id(key), rng)
                .map(drop)
        }
        Op::GenerateDataKeyWithoutPlaintext => wire::generate_data_key_without_plaintext(
            p,
            &c,
            &wire::GenerateDataKeyParams::new().key_id(key),
            rng,
        )
        .map(drop),
        Op::Encrypt => wire::encrypt(
            p,
            &c,
            &wire::EncryptParams::new().key_id(key).plaintext("x"),
            rng,
        )
        .map(drop),
        Op::Decrypt => wire::decrypt(
            p,
            &c,
            &wire::DecryptParams::new().ciphertext_blob(blob),
            rng,
        )
        .map(drop),
        Op::ReEncrypt => wire::re_encrypt(
            p,
            &c,
            &wire::ReEncryptParams::new()
                .ciphertext_blob(blob)
                .destination_key_id(key),
            rng,
        )
        .map(drop),
    }
}
