//! The spec's cross-cutting rows as tables that every data-key operation runs: naming a key
//! (§2), blobs that name no version or do not open (§5), key states, leaving them, and usage
//! (§6), permissions, DryRun and the order of the checks (§7), the error table (§8), and an
//! RNG or a provider that fails. Each table is a list of cases; each case runs against each
//! operation it applies to, for real and as a dry run, and the failing operation is named in
//! the message.

use kms_core::blob::{Iv, Tag};
use kms_core::management;
use kms_core::provider::SecureRandom;
use kms_core::{
    AuthorizedKey, KeyCipher, KeyDirectory, KeyId, KeyOptions, KeyRecord, KeyState, KeyUsage,
    KeyVersionId, MasterKeySpec, Permission, ProviderError,
};

use crate::testkit::*;

/// A third account, with no grant on anything.
const THIRD_ACCOUNT: &str = "1111111111111111";

/// The same call as a dry run must fail with the same row: steps 2 and 4 keep their codes
/// (spec §7).
#[track_caller]
fn assert_same_in_dry_run(
    op: Op,
    world: &mut World,
    caller: &kms_core::Caller<'_>,
    call: &Call<'_>,
    row: &Row,
    what: &str,
) {
    let result = op.run(world, caller, &call.clone().dry());
    assert_eq!(Row::of(&expect_err(result)), *row, "{op:?} {what} dry");
}

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
    // Aliases may hold `/`, `_`, `-` and both cases.
    let nested = "alias/Team_A/svc-1/PROD";
    let staged = management::create_alias(&s.world.provider, &owner(), nested, &key.into(), T0);
    s.world.commit(staged);
    let forms = [
        key.to_string(),
        ALIAS.to_string(),
        nested.to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, ALIAS),
        alias_arn(REGION, ACCOUNT, nested),
    ];
    for op in Op::NAMING_A_KEY {
        for form in &forms {
            let result = op.run(&mut s.world, &owner(), &Call::new(form, &s.blob));
            let (key_id, version) = result.unwrap_or_else(|e| panic!("{op:?} {form}: {e:?}"));
            assert_eq!(key_id, key, "{op:?} {form}");
            assert_eq!(version, s.world.primary(&key), "{op:?} {form}");
        }
    }
    // In another region, the account's key there answers to every form, the same alias
    // included, from that region.
    let there = s.world.create_in(ACCOUNT, OTHER_REGION);
    let staged =
        management::create_alias(&s.world.provider, &elsewhere(), ALIAS, &there.into(), T0);
    s.world.commit(staged);
    let id = there.to_string();
    let params = kms_core::wire::GenerateDataKeyParams::new().key_id(&id);
    let blob_there = s
        .world
        .gdk_as(&elsewhere(), &params)
        .unwrap()
        .ciphertext_blob;
    let forms = [
        there.to_string(),
        ALIAS.to_string(),
        key_arn(OTHER_REGION, ACCOUNT, &there),
        alias_arn(OTHER_REGION, ACCOUNT, ALIAS),
    ];
    for op in Op::NAMING_A_KEY {
        for form in &forms {
            let result = op.run(&mut s.world, &elsewhere(), &Call::new(form, &blob_there));
            let (key_id, _) = result.unwrap_or_else(|e| panic!("{op:?} {form}: {e:?}"));
            assert_eq!(key_id, there, "{op:?} {form}");
        }
    }
}

#[test]
fn names_that_name_no_key() {
    let mut s = scene(2);
    let other = s.other_key;
    let key = s.world.key;
    let unknown = KeyId::parse(UNKNOWN_KEY_ID).unwrap();
    // Another account's key, shared with us in full and aliased in its own account: still
    // nothing by bare ID or alias, which resolve in the caller's account.
    s.world.grant(&other, ACCOUNT, &Permission::ALL);
    let staged = management::create_alias(
        &s.world.provider,
        &other_caller_static(),
        "alias/shared",
        &other.into(),
        T0,
    );
    s.world.commit(staged);
    // A key of ours in another region, aliased there as ours is here.
    let there = s.world.create_in(ACCOUNT, OTHER_REGION);
    let staged =
        management::create_alias(&s.world.provider, &elsewhere(), ALIAS, &there.into(), T0);
    s.world.commit(staged);
    // Another account's key in another region, shared with us in full.
    let far = s.world.create_in(OTHER_ACCOUNT, OTHER_REGION);
    s.world.grant(&far, ACCOUNT, &Permission::ALL);
    let cases = [
        (UNKNOWN_KEY_ID.to_string(), Row::key_not_found()),
        (
            "key-hzz630494463ejqjx1234".to_string(),
            Row::key_not_found(),
        ),
        // Text that is no key ID at all still names no key (spec §2), up to 2048 bytes.
        ("not-a-key".to_string(), Row::key_not_found()),
        ("a".repeat(2048), Row::key_not_found()),
        // Key IDs are case-sensitive.
        (key.to_string().to_uppercase(), Row::key_not_found()),
        (
            "key-HZZ630494463EJQJX1234".to_string(),
            Row::key_not_found(),
        ),
        ("alias/nobody".to_string(), Row::alias_not_found()),
        ("alias/TEST-KEY".to_string(), Row::alias_not_found()),
        // An ill-formed alias simply names no key, whatever its length up to 2048 bytes.
        ("alias/".to_string(), Row::alias_not_found()),
        ("alias/white space".to_string(), Row::alias_not_found()),
        (format!("alias/{}", "b".repeat(256)), Row::alias_not_found()),
        (
            format!("alias/{}", "a".repeat(2042)),
            Row::alias_not_found(),
        ),
        // Another account's key by bare ID, and its alias by name.
        (other.to_string(), Row::key_not_found()),
        ("alias/shared".to_string(), Row::alias_not_found()),
        // A key of ours in another region, by bare ID or by an ARN of either region.
        (there.to_string(), Row::key_not_found()),
        (key_arn(OTHER_REGION, ACCOUNT, &there), Row::key_not_found()),
        (key_arn(REGION, ACCOUNT, &there), Row::key_not_found()),
        // ARNs that point into another region.
        (key_arn(OTHER_REGION, ACCOUNT, &key), Row::key_not_found()),
        (
            alias_arn(OTHER_REGION, ACCOUNT, ALIAS),
            Row::alias_not_found(),
        ),
        (
            key_arn(OTHER_REGION, OTHER_ACCOUNT, &far),
            Row::key_not_found(),
        ),
        // Well-formed ARNs of keys and aliases that do not exist there.
        (key_arn(REGION, OTHER_ACCOUNT, &key), Row::key_not_found()),
        (
            alias_arn(REGION, OTHER_ACCOUNT, ALIAS),
            Row::alias_not_found(),
        ),
        (
            key_arn(REGION, OTHER_ACCOUNT, &unknown),
            Row::key_not_found(),
        ),
        (key_arn(REGION, ACCOUNT, &unknown), Row::key_not_found()),
        (
            alias_arn(REGION, ACCOUNT, "alias/nothing-here"),
            Row::alias_not_found(),
        ),
        (
            format!("acs:kms:{REGION}:{ACCOUNT}:key/key-000000000000000000000"),
            Row::key_not_found(),
        ),
        (
            format!("acs:kms:{REGION}:{ACCOUNT}:key/key-zzzzzzzzzzzzzzzzzzzzz"),
            Row::key_not_found(),
        ),
    ];
    for op in Op::NAMING_A_KEY {
        for (text, row) in &cases {
            let call = Call::new(text, &s.blob);
            let result = op.run(&mut s.world, &owner(), &call);
            let err = expect_err(result);
            assert_eq!(Row::of(&err), *row, "{op:?} {text}");
            assert_same_in_dry_run(op, &mut s.world, &owner(), &call, row, text);
        }
    }
}

#[test]
fn texts_that_are_not_valid_names() {
    let mut s = scene(3);
    let key = s.world.key;
    let upper = key.to_string().to_uppercase();
    let arn = |resource: &str| format!("acs:kms:{REGION}:{ACCOUNT}:{resource}");
    let mut cases = vec![
        String::new(),
        "a".repeat(2049),
        format!("alias/{}", "a".repeat(2043)),
        "ключ".to_string(),
        "clé".to_string(),
        "alias/clé".to_string(),
        format!("{key}\u{a0}"),
        "acs:".to_string(),
        "acs:kms".to_string(),
        format!("acs:kms:{REGION}"),
        format!("acs:kms:{REGION}:{ACCOUNT}"),
        arn("key/not-a-key"),
        arn(&format!("secret/{key}")),
        arn(&format!("keys/{key}")),
        arn(&format!("key/{upper}")),
        arn(&format!("key/{key}:extra")),
        arn(&format!("key/{key}/")),
        arn("key/"),
        arn("alias/"),
        arn("alias/bad name"),
        format!("acs:kms:{REGION}:abc:key/{key}"),
        format!("acs:kms:{REGION}:12a:key/{key}"),
        format!("acs:kms::{ACCOUNT}:key/{key}"),
        format!("acs:kms:{REGION}::key/{key}"),
        format!("acs:kms:CN-HANGZHOU:{ACCOUNT}:key/{key}"),
        format!("acs:ecs:{REGION}:{ACCOUNT}:key/{key}"),
    ];
    // In an ARN the key ID must be one of the two forms exactly.
    for bad in [
        "key-hzz630494463ejqjx123",
        "key-hzz630494463ejqjx12345",
        "key-hzz630494463ejqjx123_",
        "key-HZZ630494463EJQJX1234",
        "KEY-hzz630494463ejqjx1234",
        "1234ABCD-12AB-34CD-56EF-123456789012",
        "1234abcd-12ab-34cd-56ef-12345678901",
        "1234abcd12ab-34cd-56ef-1234567890123",
    ] {
        cases.push(arn(&format!("key/{bad}")));
    }
    for op in Op::NAMING_A_KEY {
        for text in &cases {
            let call = Call::new(text, &s.blob);
            let result = op.run(&mut s.world, &owner(), &call);
            let row = Row::invalid(op.key_parameter());
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {text:?}");
            // In a dry run, a ValidationError with the same message.
            let result = op.run(&mut s.world, &owner(), &call.dry());
            let row = Row::validation_invalid(op.key_parameter());
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {text:?} dry");
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
    assert_eq!(
        s.world.seals(&s.world.primary(&key)),
        1,
        "only the scene's blob"
    );
}

#[test]
fn the_named_key_in_each_rejected_state() {
    let mut s = scene(4);
    for state in REJECTED_STATES {
        let key = s.world.key_in_state(state);
        let text = key.to_string();
        let row = Row::rejected(state_name(state));
        // The state's own name and rejection are the row written here.
        assert_eq!(state.name(), state_name(state));
        assert_eq!(state.rejection().map(|e| Row::of(&e)), Some(row.clone()));
        for op in Op::NAMING_A_KEY {
            let call = Call::new(&text, &s.blob);
            let err = expect_err(op.run(&mut s.world, &owner(), &call));
            assert_eq!(Row::of(&err), row, "{op:?} {state:?}");
            assert_same_in_dry_run(op, &mut s.world, &owner(), &call, &row, state_name(state));
        }
        assert_eq!(s.world.seals(&s.world.primary(&key)), 0, "{state:?}");
    }
    assert_eq!(KeyState::Enabled.rejection(), None);
    // Where two apply, one wins: a disabled key scheduled for deletion is PendingDeletion, a
    // disabled key whose material cannot be reached is Unavailable, and so is a key pending
    // import scheduled for deletion PendingDeletion.
    let scheduled = s.world.key_in_state(KeyState::Disabled);
    s.world.put_in_state(&scheduled, KeyState::PendingDeletion);
    let unreachable = s.world.key_in_state(KeyState::Disabled);
    s.world.put_in_state(&unreachable, KeyState::Unavailable);
    let import_scheduled = s.world.pending_import_key();
    s.world
        .put_in_state(&import_scheduled, KeyState::PendingDeletion);
    let cases = [
        (scheduled, "PendingDeletion"),
        (unreachable, "Unavailable"),
        (import_scheduled, "PendingDeletion"),
    ];
    for (key, state) in cases {
        let text = key.to_string();
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::rejected(state),
                "{op:?} {state}"
            );
        }
    }
}

#[test]
fn the_blobs_key_in_each_rejected_state() {
    let mut s = scene(5);
    let dest = s.world.key_text();
    let dest_version = s.world.primary(&s.world.key);
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
        let row = Row::rejected(state_name(state));
        for op in Op::OPENING_A_BLOB {
            let call = Call::new(&dest, &blob);
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {state:?}");
            assert_same_in_dry_run(op, &mut s.world, &owner(), &call, &row, state_name(state));
        }
    }
    // ReEncrypt sealed nothing under its destination.
    assert_eq!(s.world.seals(&dest_version), 1, "only the scene's blob");
}

/// A key rejected in a state works again once it leaves it: enabled again, its deletion
/// cancelled, its material reachable again, or imported. Named by its alias here.
#[test]
fn a_key_works_again_once_it_leaves_a_rejected_state() {
    let mut s = scene(16);
    let key = s.world.key;
    for state in [
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::Unavailable,
    ] {
        s.world.put_in_state(&key, state);
        for op in Op::ALL {
            let result = op.run(&mut s.world, &owner(), &Call::new(ALIAS, &s.blob));
            let row = Row::rejected(state_name(state));
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {state:?}");
        }
        leave_state(&mut s.world, &key, state);
        for op in Op::ALL {
            let result = op.run(&mut s.world, &owner(), &Call::new(ALIAS, &s.blob));
            let (key_id, _) = result.unwrap_or_else(|e| panic!("{op:?} after {state:?}: {e:?}"));
            assert_eq!(key_id, key, "{op:?} after {state:?}");
        }
    }
    // An external key works once its material is imported.
    let external = s.world.pending_import_key();
    let text = external.to_string();
    let naming = with_prefix(&s.blob, s.world.primary(&external).as_str());
    for op in Op::NAMING_A_KEY {
        let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::rejected("PendingImport"),
            "{op:?}"
        );
    }
    for op in Op::OPENING_A_BLOB {
        let result = op.run(&mut s.world, &owner(), &Call::new(ALIAS, &naming));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::rejected("PendingImport"),
            "{op:?}"
        );
    }
    // A deletion scheduled and cancelled before the import returns it to PendingImport.
    s.world.put_in_state(&external, KeyState::PendingDeletion);
    for state in ["PendingDeletion", "PendingImport"] {
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            assert_eq!(Row::of(&expect_err(result)), Row::rejected(state), "{op:?}");
        }
        if state == "PendingDeletion" {
            leave_state(&mut s.world, &external, KeyState::PendingDeletion);
        }
    }
    // Material of the wrong length for the key's spec is refused, and the key stays pending.
    let short = kms_core::MasterKeyMaterial::from_slice(&known_material_128()).unwrap();
    let result =
        management::import_key_material(&s.world.provider, &owner(), &external.into(), short, T0);
    assert_row(result, Row::invalid("KeyMaterial"));
    let result = Op::Encrypt.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
    assert_eq!(Row::of(&expect_err(result)), Row::rejected("PendingImport"));
    s.world.import(&external, &known_material_256());
    let blob = s.world.blob_under(&external, None);
    for op in Op::ALL {
        let result = op.run(&mut s.world, &owner(), &Call::new(&text, &blob));
        let (key_id, _) = result.unwrap_or_else(|e| panic!("{op:?} after the import: {e:?}"));
        assert_eq!(key_id, external, "{op:?}");
    }
}

/// A key whose material cannot be reached is Unavailable whatever its stored state (spec §6),
/// and its stored state can still be managed meanwhile: disabled while unreachable, it is
/// Unavailable until the material is back, then Disabled, and works once enabled again.
#[test]
fn unavailable_outranks_a_state_changed_while_unreachable() {
    let mut s = scene(20);
    let key = s.world.key;
    s.world.provider.set_unavailable(&key, true).unwrap();
    s.world.put_in_state(&key, KeyState::Disabled);
    for op in Op::ALL {
        let result = op.run(&mut s.world, &owner(), &Call::new(ALIAS, &s.blob));
        let row = Row::rejected("Unavailable");
        assert_eq!(Row::of(&expect_err(result)), row, "{op:?}");
    }
    s.world.provider.set_unavailable(&key, false).unwrap();
    for op in Op::ALL {
        let result = op.run(&mut s.world, &owner(), &Call::new(ALIAS, &s.blob));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::rejected("Disabled"),
            "{op:?}"
        );
    }
    leave_state(&mut s.world, &key, KeyState::Disabled);
    for op in Op::ALL {
        op.run(&mut s.world, &owner(), &Call::new(ALIAS, &s.blob))
            .unwrap_or_else(|e| panic!("{op:?}: {e:?}"));
    }
}

/// Takes a key of [`ACCOUNT`] out of `state`: back to Enabled, or to PendingImport for a key
/// whose material was never imported.
fn leave_state(world: &mut World, key: &KeyId, state: KeyState) {
    let reference = key.into();
    match state {
        KeyState::Disabled => {
            let staged = management::enable_key(&world.provider, &owner(), &reference, T0);
            world.commit(staged);
        }
        KeyState::PendingDeletion => {
            let staged = management::cancel_key_deletion(&world.provider, &owner(), &reference, T0);
            world.commit(staged);
        }
        KeyState::Unavailable => world.provider.set_unavailable(key, false).expect("key"),
        KeyState::Enabled | KeyState::PendingImport => panic!("not left this way: {state:?}"),
    }
}

#[test]
fn keys_that_cannot_make_data_keys() {
    let mut s = scene(6);
    let dest = s.world.key_text();
    let unsupported = [
        KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify),
        KeyOptions::new(ACCOUNT, REGION)
            .spec(MasterKeySpec::Rsa2048)
            .usage(KeyUsage::SignVerify),
        KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Rsa2048),
        KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256),
        KeyOptions::new(ACCOUNT, REGION)
            .spec(MasterKeySpec::EcP256)
            .usage(KeyUsage::SignVerify),
    ];
    for (i, options) in unsupported.into_iter().enumerate() {
        let key = s.world.create(options);
        let alias = format!("alias/unsupported-{i}");
        let staged = management::create_alias(&s.world.provider, &owner(), &alias, &key.into(), T0);
        s.world.commit(staged);
        // A blob naming the key's version: the usage is checked before anything is opened.
        let naming = with_prefix(&s.blob, s.world.primary(&key).as_str());
        let unsupported = Row::unsupported();
        for text in [key.to_string(), alias] {
            for op in Op::NAMING_A_KEY {
                let call = Call::new(&text, &s.blob);
                let result = op.run(&mut s.world, &owner(), &call);
                assert_eq!(
                    Row::of(&expect_err(result)),
                    unsupported,
                    "{op:?} {options:?}"
                );
                assert_same_in_dry_run(op, &mut s.world, &owner(), &call, &unsupported, &text);
            }
        }
        for op in Op::OPENING_A_BLOB {
            let call = Call::new(&dest, &naming);
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(
                Row::of(&expect_err(result)),
                unsupported,
                "{op:?} {options:?}"
            );
            assert_same_in_dry_run(op, &mut s.world, &owner(), &call, &unsupported, "blob");
        }
        // The state is checked before the usage [decided], whichever the state.
        let state = if i % 2 == 0 {
            KeyState::Disabled
        } else {
            KeyState::PendingDeletion
        };
        s.world.put_in_state(&key, state);
        let text = key.to_string();
        let rejected = Row::rejected(state_name(state));
        for op in Op::NAMING_A_KEY {
            let result = op.run(&mut s.world, &owner(), &Call::new(&text, &s.blob));
            assert_eq!(Row::of(&expect_err(result)), rejected, "{op:?} {options:?}");
        }
        for op in Op::OPENING_A_BLOB {
            let result = op.run(&mut s.world, &owner(), &Call::new(&dest, &naming));
            assert_eq!(Row::of(&expect_err(result)), rejected, "{op:?} {options:?}");
        }
    }
}

#[test]
fn another_accounts_key_needs_its_policy_for_exactly_this_permission() {
    let mut s = scene(7);
    let other = s.other_key;
    let staged = management::create_alias(
        &s.world.provider,
        &other_caller_static(),
        "alias/shared",
        &other.into(),
        T0,
    );
    s.world.commit(staged);
    let arns = [
        key_arn(REGION, OTHER_ACCOUNT, &other),
        alias_arn(REGION, OTHER_ACCOUNT, "alias/shared"),
    ];
    // A third account with a blob of its own, so that only the key it names can refuse it.
    let third = kms_core::Caller::new(THIRD_ACCOUNT, REGION);
    let third_key = s.world.create_in(THIRD_ACCOUNT, REGION).to_string();
    let params = kms_core::wire::GenerateDataKeyParams::new().key_id(&third_key);
    let third_blob = s.world.gdk_as(&third, &params).unwrap().ciphertext_blob;
    for op in Op::NAMING_A_KEY {
        for arn in &arns {
            // No policy.
            s.world.grant(&other, ACCOUNT, &[]);
            let result = op.run(&mut s.world, &owner(), &Call::new(arn, &s.blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::no_permission(),
                "{op:?} {arn} no policy"
            );
            // Every permission but the one it needs.
            let needed = op.permission(Side::Named);
            let all_but: Vec<Permission> = Permission::ALL
                .into_iter()
                .filter(|p| *p != needed)
                .collect();
            s.world.grant(&other, ACCOUNT, &all_but);
            let result = op.run(&mut s.world, &owner(), &Call::new(arn, &s.blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::no_permission(),
                "{op:?} {arn} all but"
            );
            // Just the one it needs.
            s.world.grant(&other, ACCOUNT, &[needed]);
            let (key_id, _) = op
                .run(&mut s.world, &owner(), &Call::new(arn, &s.blob))
                .unwrap_or_else(|e| panic!("{op:?} {arn} with {needed:?}: {e:?}"));
            assert_eq!(key_id, other, "{op:?} {arn}");
            // Granted to us, not to a third account.
            let result = op.run(&mut s.world, &third, &Call::new(arn, &third_blob));
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::no_permission(),
                "{op:?} {arn} third account"
            );
        }
    }
}

#[test]
fn another_accounts_blob_needs_its_policy_for_exactly_this_permission() {
    let mut s = scene(8);
    let other = s.other_key;
    let other_caller = other_caller_blob(&mut s.world, &other);
    let dest = s.world.key_text();
    let third = kms_core::Caller::new(THIRD_ACCOUNT, REGION);
    let third_dest = s.world.create_in(THIRD_ACCOUNT, REGION).to_string();
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
        // Granted to us, not to a third account.
        let result = op.run(&mut s.world, &third, &Call::new(&third_dest, &other_caller));
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::no_permission(),
            "{op:?} third account"
        );
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

/// Blobs name versions in the caller's region only: ours and another account's that grants us
/// everything alike.
#[test]
fn a_blob_from_another_region_names_no_key_there() {
    let mut s = scene(9);
    let dest = s.world.create_in(ACCOUNT, OTHER_REGION).to_string();
    let other = s.other_key;
    s.world.grant(&other, ACCOUNT, &Permission::ALL);
    let foreign = other_caller_blob(&mut s.world, &other);
    for op in Op::OPENING_A_BLOB {
        for blob in [&s.blob, &foreign] {
            let call = Call::new(&dest, blob);
            let result = op.run(&mut s.world, &elsewhere(), &call);
            assert_eq!(Row::of(&expect_err(result)), Row::key_not_found(), "{op:?}");
            assert_same_in_dry_run(
                op,
                &mut s.world,
                &elsewhere(),
                &call,
                &Row::key_not_found(),
                "region",
            );
        }
    }
}

/// A well-formed prefix that names no version (spec §5), or the version of a deleted key.
#[test]
fn a_blob_naming_no_version_is_key_not_found() {
    let mut s = scene(18);
    let dest = s.world.key_text();
    let gone = s.world.create_in(ACCOUNT, REGION);
    let gone_blob = s.world.blob_under(&gone, None);
    s.world.put_in_state(&gone, KeyState::PendingDeletion);
    let staged = management::delete_key(&s.world.provider, &owner(), &gone.into(), T0);
    s.world.commit(staged);
    let unknown = with_prefix(&s.blob, UNKNOWN_KEY_ID);
    for op in Op::OPENING_A_BLOB {
        for blob in [&unknown, &gone_blob] {
            let call = Call::new(&dest, blob);
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(Row::of(&expect_err(result)), Row::key_not_found(), "{op:?}");
            assert_same_in_dry_run(
                op,
                &mut s.world,
                &owner(),
                &call,
                &Row::key_not_found(),
                "blob",
            );
        }
    }
    assert_eq!(s.world.seals(&s.world.primary(&s.world.key)), 1);
}

/// The same bytes in non-canonical Base64: a padding bit set in the last character before `=`.
fn non_canonical(blob: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let padding = blob.len() - blob.trim_end_matches('=').len();
    assert!(padding > 0, "needs a padded blob");
    let at = blob.len() - padding - 1;
    let mut bytes = blob.as_bytes().to_vec();
    let index = ALPHABET.iter().position(|c| *c == bytes[at]).unwrap();
    assert_eq!(index & 1, 0, "canonical to begin with");
    bytes[at] = ALPHABET[index | 1];
    String::from_utf8(bytes).unwrap()
}

/// A `CiphertextBlob` that is not a blob, or one that does not open, is `InvalidParameter
/// CiphertextBlob` (spec §5), with nothing sealed. In a dry run a malformed blob is a
/// ValidationError, while one that is well-formed but would not open passes: a dry run does
/// not open (spec §7).
#[test]
fn blobs_that_do_not_open() {
    let mut s = scene(15);
    let dest = s.world.key_text();
    // 65 bytes: one `=` of padding.
    let blob = s.world.seal_text(&dest, "p", None);
    assert!(blob.ends_with('=') && !blob.ends_with("=="));
    let bytes = unb64(&blob);
    let mut upper = bytes.clone();
    upper[..36].make_ascii_uppercase();
    assert_ne!(upper, bytes, "the version has hex letters");
    let too_long = {
        let mut b = bytes[..48].to_vec();
        b.extend(std::iter::repeat_n(0u8, 6145 + 16));
        b64(&b)
    };
    let mut malformed = vec![
        String::new(),
        "AAAA".to_string(),
        "!!!!".to_string(),
        "not base64 at all!".to_string(),
        blob.trim_end_matches('=').to_string(),
        format!("{blob}=="),
        format!(" {blob}"),
        format!("{blob}\n"),
        format!("{}\n{}", &blob[..40], &blob[40..]),
        blob[..blob.len() - 4].to_string(),
        blob[..80].to_string(),
        non_canonical(&blob),
        // 64 bytes: an empty body.
        b64(&bytes[..64]),
        b64(&upper),
        too_long,
        "A".repeat(100_000),
    ];
    // The URL-safe alphabet is not standard Base64.
    let url_safe = s.blob.replace('+', "-").replace('/', "_");
    if url_safe != s.blob {
        malformed.push(url_safe);
    }
    // Well-formed, but a bit of the IV, the body or the tag is flipped.
    let tampered: Vec<String> = [36, 47, 48, bytes.len() - 16, bytes.len() - 1]
        .into_iter()
        .map(|i| flip(&blob, i))
        .collect();
    for op in Op::OPENING_A_BLOB {
        for text in &malformed {
            let call = Call::new(&dest, text);
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::invalid("CiphertextBlob"),
                "{op:?} {text:?}"
            );
            let result = op.run(&mut s.world, &owner(), &call.dry());
            let row = Row::validation_invalid("CiphertextBlob");
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {text:?} dry");
        }
        let context = match op {
            Op::ReEncrypt => "SourceEncryptionContext",
            _ => "EncryptionContext",
        };
        let wrong_context = Call::new(&dest, &blob).with(context, Some(r#"{"a":"1"}"#));
        for call in tampered
            .iter()
            .map(|text| Call::new(&dest, text))
            .chain([wrong_context])
        {
            let result = op.run(&mut s.world, &owner(), &call);
            let row = Row::invalid("CiphertextBlob");
            assert_eq!(Row::of(&expect_err(result)), row, "{op:?} {call:?}");
            let result = op.run(&mut s.world, &owner(), &call.clone().dry());
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::dry_run_passed(),
                "{op:?} {call:?} dry"
            );
        }
    }
    // The scene's blob and the padded one; ReEncrypt sealed nothing.
    assert_eq!(s.world.seals(&s.world.primary(&s.world.key)), 2);
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
    // 8193 characters of JSON text: one over the limit.
    let too_long = format!(r#"{{"k":"{}"}}"#, "v".repeat(8193 - 8));
    assert_eq!(too_long.chars().count(), 8193);
    let invalid = [
        "[]",
        r#"["a","b"]"#,
        r#"{"a":1}"#,
        r#"{"a":true}"#,
        r#"{"a":null}"#,
        r#"{"a":["b"]}"#,
        r#"{"a":{"b":"c"}}"#,
        r#"{"a":"1","a":"2"}"#,
        r#"{"a":"1","a":"1"}"#,
        r#"{"a":"1","\u0061":"2"}"#,
        r#"{"":"x"}"#,
        r#"{"a":"\ud800"}"#,
        "{'a':'b'}",
        r#"{"a":"1"} x"#,
        r#"{"a":"1",}"#,
        "not json",
        " ",
        "\u{feff}{}",
        "{\u{a0}}",
        "{",
        &too_long,
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
            let result = op.run(&mut s.world, &owner(), &call.dry());
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::validation_invalid(name),
                "{op:?} {text:?} dry"
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
        let result = op.run(&mut s.world, &owner(), &call.clone().dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::access_denied(),
            "{op:?} step 3"
        );
        // Step 3 passes with just the permission the operation needs.
        let side = match op {
            Op::Decrypt | Op::ReEncrypt => Side::Blob,
            _ => Side::Named,
        };
        s.world
            .grant(&s.other_key.clone(), ACCOUNT, &[op.permission(side)]);
        let result = op.run(&mut s.world, &owner(), &call.dry());
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::dry_run_passed(),
            "{op:?} step 3 granted"
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
        // The counterpart, so that the two checks above can fail: the same request for real
        // draws, and seals unless it is Decrypt.
        op.run(&mut s.world, &owner(), &Call::new(&key, &s.blob))
            .unwrap_or_else(|e| panic!("{op:?} for real: {e:?}"));
        let sealed = u64::from(op != Op::Decrypt);
        assert_eq!(
            s.world.seals(&s.world.primary(&s.world.key)),
            seals_mid + sealed,
            "{op:?} for real"
        );
        assert_ne!(s.world.rng, rng_mid, "{op:?} for real drew nothing");
    }
}

#[test]
fn dry_run_takes_only_true_and_false_and_is_read_first() {
    let mut s = scene(12);
    let key = s.world.key_text();
    for op in Op::ALL {
        let seals = s.world.seals(&s.world.primary(&s.world.key));
        let rng = s.world.rng.clone();
        for text in [
            "True", "TRUE", "1", "0", "", "yes", "t", "false ", " true", "true ", "False", "FALSE",
        ] {
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
        // Nothing was drawn and nothing sealed.
        assert_eq!(s.world.rng, rng, "{op:?}");
        assert_eq!(
            s.world.seals(&s.world.primary(&s.world.key)),
            seals,
            "{op:?}"
        );
        let call = Call::new(&key, &s.blob).with("DryRun", Some("false"));
        op.run(&mut s.world, &owner(), &call)
            .unwrap_or_else(|e| panic!("{op:?} DryRun=false: {e:?}"));
    }
}

/// When several steps would fail, the earliest wins: parameters, then resolution, then
/// permission, then state and usage; on the named key and on the blob's key alike, for real
/// and in dry runs.
#[test]
fn the_checks_run_in_order() {
    let mut s = scene(13);
    let dest = s.world.key_text();
    let them = other_caller_static();
    // Keys of the other account that fail steps 3 and 4 together: not shared with us, and
    // disabled, pending deletion, unreachable or asymmetric. Each with a blob that names it.
    let mut cases = Vec::new();
    for state in [
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::Unavailable,
    ] {
        let key = s.world.create_in(OTHER_ACCOUNT, REGION);
        let blob = other_caller_blob(&mut s.world, &key);
        let reference = key.into();
        match state {
            KeyState::Disabled => {
                let staged = management::disable_key(&s.world.provider, &them, &reference, T0);
                s.world.commit(staged);
            }
            KeyState::PendingDeletion => {
                let staged =
                    management::schedule_key_deletion(&s.world.provider, &them, &reference, 7, T0);
                s.world.commit(staged);
            }
            _ => s.world.provider.set_unavailable(&key, true).unwrap(),
        }
        cases.push((key, blob, Row::rejected(state_name(state))));
    }
    let asymmetric = s
        .world
        .create(KeyOptions::new(OTHER_ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    let naming = with_prefix(&s.blob, s.world.primary(&asymmetric).as_str());
    cases.push((asymmetric, naming, Row::unsupported()));
    let unknown_blob = with_prefix(&s.blob, UNKNOWN_KEY_ID);

    let sides = Op::NAMING_A_KEY
        .map(|op| (op, Side::Named))
        .into_iter()
        .chain(Op::OPENING_A_BLOB.map(|op| (op, Side::Blob)));
    let sides: Vec<(Op, Side)> = sides.collect();
    for (key, blob, step4) in &cases {
        let arn = key_arn(REGION, OTHER_ACCOUNT, key);
        for &(op, side) in &sides {
            // The key by its ARN, or the blob that names it; and the same naming nothing.
            let (call, unknown) = match side {
                Side::Named => (Call::new(&arn, &s.blob), Call::new(UNKNOWN_KEY_ID, &s.blob)),
                Side::Blob => (Call::new(&dest, blob), Call::new(&dest, &unknown_blob)),
            };
            let context_name = match (op, side) {
                (Op::ReEncrypt, Side::Named) => "DestinationEncryptionContext",
                (Op::ReEncrypt, Side::Blob) => "SourceEncryptionContext",
                _ => "EncryptionContext",
            };
            let what = format!("{op:?} {side:?} {step4:?}");
            s.world.grant(key, ACCOUNT, &[]);
            // Step 1 before everything, and before step 2.
            for call in [&call, &unknown] {
                let bad = call.clone().with(context_name, Some("{"));
                let result = op.run(&mut s.world, &owner(), &bad);
                assert_eq!(
                    Row::of(&expect_err(result)),
                    Row::invalid(context_name),
                    "{what}"
                );
                let result = op.run(&mut s.world, &owner(), &bad.dry());
                let row = Row::validation_invalid(context_name);
                assert_eq!(Row::of(&expect_err(result)), row, "{what} dry");
            }
            // Step 3 before step 4.
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(Row::of(&expect_err(result)), Row::no_permission(), "{what}");
            let result = op.run(&mut s.world, &owner(), &call.clone().dry());
            assert_eq!(
                Row::of(&expect_err(result)),
                Row::access_denied(),
                "{what} dry"
            );
            // Shared: step 4.
            s.world.grant(key, ACCOUNT, &Permission::ALL);
            let result = op.run(&mut s.world, &owner(), &call);
            assert_eq!(Row::of(&expect_err(result)), *step4, "{what} shared");
            let result = op.run(&mut s.world, &owner(), &call.dry());
            assert_eq!(Row::of(&expect_err(result)), *step4, "{what} shared dry");
        }
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
        let result = run_on(op, &s.world.provider, &key, &s.blob, false, &mut rng);
        assert_eq!(Row::of(&expect_err(result)), Row::internal(), "{op:?}");
        assert!(rng.attempts >= 1, "{op:?} never drew");
        assert_eq!(
            s.world.seals(&version),
            1,
            "{op:?}: only the scene's blob was sealed"
        );
    }
}

/// Where a [`Broken`] provider fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fails {
    Lookups,
    Permissions,
    Seals,
    Opens,
}

/// The world's provider, failing with `error` at one point.
struct Broken<'p> {
    inner: &'p kms_core::InMemoryProvider,
    at: Fails,
    error: ProviderError,
}

impl Broken<'_> {
    fn check(&self, at: Fails) -> Result<(), ProviderError> {
        if self.at == at {
            Err(self.error)
        } else {
            Ok(())
        }
    }
}

impl KeyDirectory for Broken<'_> {
    fn find_key(
        &self,
        account: &str,
        region: &str,
        key_id: &KeyId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.check(Fails::Lookups)?;
        self.inner.find_key(account, region, key_id)
    }

    fn find_alias(
        &self,
        account: &str,
        region: &str,
        alias: &str,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.check(Fails::Lookups)?;
        self.inner.find_alias(account, region, alias)
    }

    fn find_version(
        &self,
        region: &str,
        version: &KeyVersionId,
    ) -> Result<Option<KeyRecord>, ProviderError> {
        self.check(Fails::Lookups)?;
        self.inner.find_version(region, version)
    }

    fn permits(
        &self,
        key: &KeyRecord,
        caller: &kms_core::Caller<'_>,
        permission: Permission,
    ) -> Result<bool, ProviderError> {
        self.check(Fails::Permissions)?;
        self.inner.permits(key, caller, permission)
    }
}

impl KeyCipher for Broken<'_> {
    fn seal(
        &self,
        key: &AuthorizedKey,
        aad: &[u8],
        in_out: &mut [u8],
        rng: &mut dyn SecureRandom,
    ) -> Result<(Iv, Tag), ProviderError> {
        self.check(Fails::Seals)?;
        self.inner.seal(key, aad, in_out, rng)
    }

    fn open(
        &self,
        key: &AuthorizedKey,
        iv: &Iv,
        aad: &[u8],
        in_out: &mut [u8],
        tag: &Tag,
    ) -> Result<(), ProviderError> {
        self.check(Fails::Opens)?;
        self.inner.open(key, iv, aad, in_out, tag)
    }
}

/// A provider that fails answers with the row its failure maps to: `InternalFailure`, or
/// `Rejected.Unavailable` when it cannot reach the material; a tag it cannot verify is an
/// invalid blob. A dry run uses no cipher, so a failing cipher does not show in one.
#[test]
fn a_failing_provider() {
    let s = scene(19);
    let key = s.world.key_text();
    let internal = Row::internal();
    let unavailable = Row::rejected("Unavailable");
    let cases = [
        (Fails::Lookups, ProviderError::Internal, internal.clone()),
        (
            Fails::Lookups,
            ProviderError::Unavailable,
            unavailable.clone(),
        ),
        (
            Fails::Permissions,
            ProviderError::Internal,
            internal.clone(),
        ),
        (Fails::Seals, ProviderError::Internal, internal.clone()),
        (
            Fails::Seals,
            ProviderError::Unavailable,
            unavailable.clone(),
        ),
        (
            Fails::Seals,
            ProviderError::SealLimitReached,
            internal.clone(),
        ),
        (Fails::Seals, ProviderError::Rng, internal.clone()),
        (Fails::Opens, ProviderError::Internal, internal),
        (Fails::Opens, ProviderError::Unavailable, unavailable),
        (
            Fails::Opens,
            ProviderError::AuthenticationFailed,
            Row::invalid("CiphertextBlob"),
        ),
    ];
    for (at, error, row) in cases {
        let broken = Broken {
            inner: &s.world.provider,
            at,
            error,
        };
        for op in Op::ALL {
            let reached = match at {
                Fails::Lookups | Fails::Permissions => true,
                Fails::Seals => op != Op::Decrypt,
                Fails::Opens => Op::OPENING_A_BLOB.contains(&op),
            };
            let what = format!("{op:?} {at:?} {error:?}");
            let result = run_on(op, &broken, &key, &s.blob, false, &mut rng(19));
            if reached {
                assert_eq!(Row::of(&expect_err(result)), row, "{what}");
            } else {
                result.unwrap_or_else(|e| panic!("{what}: {e:?}"));
            }
            let result = run_on(op, &broken, &key, &s.blob, true, &mut rng(19));
            let expected = match at {
                Fails::Lookups | Fails::Permissions => row.clone(),
                Fails::Seals | Fails::Opens => Row::dry_run_passed(),
            };
            assert_eq!(Row::of(&expect_err(result)), expected, "{what} dry");
        }
    }
}

/// Runs `op` over `provider` as the owner with `rng`: `key` names the key, `blob` is the blob
/// to open, the rest is well-formed (Encrypt seals `x`).
fn run_on<P, R>(
    op: Op,
    provider: &P,
    key: &str,
    blob: &str,
    dry_run: bool,
    rng: &mut R,
) -> Result<(), kms_core::Error>
where
    P: kms_core::KeyProvider + ?Sized,
    R: kms_core::rand_core::TryCryptoRng + ?Sized,
{
    use kms_core::wire;
    let p = provider;
    let c = owner();
    let dry = if dry_run { "true" } else { "false" };
    match op {
        Op::GenerateDataKey => {
            let params = wire::GenerateDataKeyParams::new().key_id(key).dry_run(dry);
            wire::generate_data_key(p, &c, &params, rng).map(drop)
        }
        Op::GenerateDataKeyWithoutPlaintext => {
            let params = wire::GenerateDataKeyParams::new().key_id(key).dry_run(dry);
            wire::generate_data_key_without_plaintext(p, &c, &params, rng).map(drop)
        }
        Op::Encrypt => {
            let params = wire::EncryptParams::new()
                .key_id(key)
                .plaintext("x")
                .dry_run(dry);
            wire::encrypt(p, &c, &params, rng).map(drop)
        }
        Op::Decrypt => {
            let params = wire::DecryptParams::new()
                .ciphertext_blob(blob)
                .dry_run(dry);
            wire::decrypt(p, &c, &params, rng).map(drop)
        }
        Op::ReEncrypt => {
            let params = wire::ReEncryptParams::new()
                .ciphertext_blob(blob)
                .destination_key_id(key)
                .dry_run(dry);
            wire::re_encrypt(p, &c, &params, rng).map(drop)
        }
    }
}

/// The error values themselves: each carries its row of §8 (`status`, `code`, `message`);
/// `to_string()` is a sentence for people, never the wire's message; and a dry run turns the
/// step-1 and permission failures into their own rows, keeping every other (§7).
#[test]
fn error_values_carry_their_rows() {
    use kms_core::{Error, Internal, Parameter, ParameterProblem, WorkspaceTooSmall};
    let cases = [
        (
            Error::MissingParameter(Parameter::KeyId),
            Row::missing("KeyId"),
        ),
        (
            Error::InvalidParameter(Parameter::EncryptionContext),
            Row::invalid("EncryptionContext"),
        ),
        (
            Error::ValidationError(ParameterProblem::Missing(Parameter::Plaintext)),
            Row::validation_missing("Plaintext"),
        ),
        (
            Error::ValidationError(ParameterProblem::Invalid(Parameter::DryRun)),
            Row::validation_invalid("DryRun"),
        ),
        (Error::UnsupportedOperation, Row::unsupported()),
        (Error::NoPermission, Row::no_permission()),
        (Error::AccessDenied, Row::access_denied()),
        (Error::AliasNotFound, Row::alias_not_found()),
        (Error::KeyNotFound, Row::key_not_found()),
        (Error::Disabled, Row::rejected("Disabled")),
        (Error::PendingDeletion, Row::rejected("PendingDeletion")),
        (Error::PendingImport, Row::rejected("PendingImport")),
        (Error::Unavailable, Row::rejected("Unavailable")),
        (Error::DryRunOperation, Row::dry_run_passed()),
        (Error::Throttling { retry_after_ms: 10 }, Row::throttling()),
        (Error::InternalFailure(Internal::Rng), Row::internal()),
        (Error::InternalFailure(Internal::Provider), Row::internal()),
        (
            Error::InternalFailure(Internal::SealLimitReached),
            Row::internal(),
        ),
        (
            Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall {
                needed: 10,
            })),
            Row::internal(),
        ),
    ];
    for (err, row) in cases {
        assert_eq!(Row::of(&err), row, "{err:?}");
        assert_ne!(err.to_string(), row.message, "{err:?}");
    }
    let in_dry_run = [
        (
            Error::InvalidParameter(Parameter::KeyId),
            Error::ValidationError(ParameterProblem::Invalid(Parameter::KeyId)),
        ),
        (
            Error::MissingParameter(Parameter::CiphertextBlob),
            Error::ValidationError(ParameterProblem::Missing(Parameter::CiphertextBlob)),
        ),
        (Error::NoPermission, Error::AccessDenied),
        (Error::KeyNotFound, Error::KeyNotFound),
        (Error::AliasNotFound, Error::AliasNotFound),
        (Error::Disabled, Error::Disabled),
        (Error::UnsupportedOperation, Error::UnsupportedOperation),
        (Error::DryRunOperation, Error::DryRunOperation),
        (
            Error::InternalFailure(Internal::Rng),
            Error::InternalFailure(Internal::Rng),
        ),
    ];
    for (err, dry) in in_dry_run {
        assert_eq!(err.in_dry_run(), dry, "{err:?}");
    }
}
