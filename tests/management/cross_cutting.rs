//! What every management operation shares, as tables that run each of them: naming a key (the
//! `KeyId` parameter, keys and aliases that are not found, another account's keys), the error
//! rows, and stage-then-publish (a staged change is invisible until committed, a dropped one
//! changes nothing, a stale one is a conflict, a failed operation changes nothing).

use kms_core::management::{self, CommitError, CreateKey, KeyMeta, KeyStore, StagedChange, params};
use kms_core::wire::{self, GenerateDataKeyParams};
use kms_core::{Caller, Error, KeyId, MasterKeySpec, Parameter, Permission};

use crate::support::*;
use crate::testkit::*;

// ---------------------------------------------------------------------------------------------
// Naming a key

/// A world where the owner has a key and [`EXISTING_ALIAS`] names it.
fn world_with_alias(seed: u64) -> (Kms, KeyId) {
    let mut k = Kms::new(seed);
    let key = k.key();
    k.create_alias(EXISTING_ALIAS, key.as_str()).unwrap();
    (k, key)
}

/// Runs every operation that names a key on `name` as `caller`, and checks each fails with
/// `row` and changes nothing.
#[track_caller]
fn assert_every_operation(k: &mut Kms, caller: &Caller<'_>, name: &str, row: &Row) {
    let before = fingerprint(&k.provider);
    for op in KeyOp::ALL {
        let err = expect_err(op.run(k, caller, name));
        assert_eq!(Row::of(&err), *row, "{op:?} {name:.60}");
    }
    assert_eq!(fingerprint(&k.provider), before, "{name:.60}");
}

#[test]
fn missing_key_id() {
    let err = expect_err(params::key_id(None));
    assert_eq!(err, Error::MissingParameter(Parameter::KeyId));
    assert_eq!(Row::of(&err), Row::missing("KeyId"));
}

#[test]
fn invalid_key_id() {
    let too_long = "k".repeat(2049);
    let too_long_alias = format!("alias/{}", "a".repeat(2043));
    let invalid = [
        "",
        "é",
        "key-é",
        too_long.as_str(),
        too_long_alias.as_str(),
        "acs:kms:cn-hangzhou:1234567890123456:key/not-a-key",
        "acs:kms:cn-hangzhou:1234567890123456:key/",
        "acs:kms:cn-hangzhou:1234567890123456:alias/",
        "acs:kms:cn-hangzhou:1234567890123456:alias/acs key",
        "acs:kms:cn-hangzhou:12345678901234ab:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms::1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms:CN-HANGZHOU:1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:ecs:cn-hangzhou:1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012",
        "acs:kms:cn-hangzhou:1234567890123456",
        "acs:",
    ];
    let (mut k, key) = world_with_alias(31);
    for text in invalid {
        let err = expect_err(params::key_id(Some(text)));
        assert_eq!(err, Error::InvalidParameter(Parameter::KeyId), "{text:.60}");
        assert_eq!(Row::of(&err), Row::invalid("KeyId"));
        // Through the frontend's path, every operation: the same, and nothing changes.
        assert_every_operation(&mut k, &owner(), text, &Row::invalid("KeyId"));
    }
    assert_eq!(k.state(&key), kms_core::KeyState::Enabled);
}

#[test]
fn key_not_found() {
    let (mut k, key) = world_with_alias(32);
    let theirs = k.key_of(&other());
    let far = k.key_of(&elsewhere());
    let at_limit = format!("key-{}", "a".repeat(2044)); // 2048 bytes: well-formed, names nothing
    let names = [
        UNKNOWN_KEY_ID.to_string(),
        UNKNOWN_KEY_ID_SHORT.to_string(),
        UNKNOWN_KEY_ID.to_uppercase(),
        format!(" {key}"),
        "not-a-key-id".to_string(),
        at_limit,
        key_arn(REGION, ACCOUNT, &KeyId::parse(UNKNOWN_KEY_ID).unwrap()),
        // The owner's own key, by an ARN of another region.
        key_arn(OTHER_REGION, ACCOUNT, &key),
        // Another account's key by bare ID: IDs resolve in the caller's own account.
        theirs.to_string(),
        // The owner's key of another region, by bare ID.
        far.to_string(),
    ];
    for name in &names {
        assert_every_operation(&mut k, &owner(), name, &Row::key_not_found());
    }
    // The owner's key asked for from the other region, by bare ID and by its own ARN.
    for name in [key.to_string(), key_arn(REGION, ACCOUNT, &key)] {
        assert_every_operation(&mut k, &elsewhere(), &name, &Row::key_not_found());
    }
    assert_eq!(k.state(&key), kms_core::KeyState::Enabled);
}

#[test]
fn alias_not_found_through_key_id() {
    let (mut k, key) = world_with_alias(33);
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), "alias/theirs", theirs.as_str())
        .unwrap();
    let names = [
        "alias/none".to_string(),
        "alias/Existing".to_string(),
        "alias/existing/".to_string(),
        "alias/".to_string(),
        "alias/acs/anything".to_string(),
        "alias/a b".to_string(),
        // Another account's alias, by bare name: aliases resolve in the caller's account.
        "alias/theirs".to_string(),
        alias_arn(REGION, ACCOUNT, "alias/none"),
        // The owner's own alias, by an ARN of another region.
        alias_arn(OTHER_REGION, ACCOUNT, EXISTING_ALIAS),
    ];
    for name in &names {
        assert_every_operation(&mut k, &owner(), name, &Row::alias_not_found());
    }
    // From the other region, the owner's alias names nothing.
    assert_every_operation(
        &mut k,
        &elsewhere(),
        EXISTING_ALIAS,
        &Row::alias_not_found(),
    );
    assert_eq!(k.state(&key), kms_core::KeyState::Enabled);
}

#[test]
fn another_accounts_key_is_no_permission_even_with_a_data_key_policy() {
    let mut k = Kms::new(34);
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), "alias/shared", theirs.as_str())
        .unwrap();
    k.create_alias_as(&other(), EXISTING_ALIAS, theirs.as_str())
        .unwrap();
    let external = k
        .create_as(
            &other(),
            &CreateKey::new().with_origin(kms_core::KeyOrigin::External),
        )
        .unwrap()
        .key_id;
    // The owner needs an alias of its own for UpdateAlias to reach the key check.
    let mine = k.key();
    k.create_alias(EXISTING_ALIAS, mine.as_str()).unwrap();

    // 0: no grant; 1: every data-key permission; 2: GenerateDataKey and Decrypt only.
    for g in 0..3 {
        for key in [theirs, external] {
            match g {
                1 => k.provider.allow_account(&key, ACCOUNT).unwrap(),
                2 => k
                    .provider
                    .set_policy(
                        &key,
                        ACCOUNT,
                        &[Permission::GenerateDataKey, Permission::Decrypt],
                    )
                    .unwrap(),
                _ => {}
            }
        }
        let before = k.describe_as(&other(), theirs.as_str()).unwrap();
        let names = [
            key_arn(REGION, OTHER_ACCOUNT, &theirs),
            alias_arn(REGION, OTHER_ACCOUNT, "alias/shared"),
            key_arn(REGION, OTHER_ACCOUNT, &external),
        ];
        for name in &names {
            assert_every_operation(&mut k, &owner(), name, &Row::no_permission());
        }
        assert_eq!(
            k.describe_as(&other(), external.as_str()).unwrap().state,
            kms_core::KeyState::PendingImport
        );

        // Nothing about the key changed, and the owner's alias still names the owner's key.
        assert_eq!(k.describe_as(&other(), theirs.as_str()).unwrap(), before);
        assert_eq!(k.versions(&theirs).len(), 1);
        assert_eq!(k.describe(EXISTING_ALIAS).unwrap().key_id, mine);
        assert_eq!(
            k.all_aliases_of(&owner()),
            [(EXISTING_ALIAS.to_string(), mine)]
        );

        // The grant is real: the data-key path lets the owner use the key (or refuses without it).
        let gdk = k.gdk(&key_arn(REGION, OTHER_ACCOUNT, &theirs));
        if g == 0 {
            assert_row(gdk, Row::no_permission());
        } else {
            assert_eq!(gdk.unwrap().key_id, theirs);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The error rows

#[test]
fn errors_table() {
    // One instance of every error the management operations produce, each with the status,
    // code and message written out.
    let mut k = Kms::new(42);
    let key = k.key();
    let text = key.to_string();
    let theirs = k.key_of(&other());
    k.create_alias("alias/taken", &text).unwrap();
    k.schedule(&text, 7).unwrap();

    let long = "x".repeat(8193);
    let cases: Vec<(Result<(), Error>, u16, &str, &str)> = vec![
        (
            params::key_id(None).map(drop),
            400,
            "MissingParameter",
            "The parameter KeyId is needed but not provided.",
        ),
        (
            params::key_id(Some("")).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeyId is not valid.",
        ),
        (
            params::alias_name(None).map(drop),
            400,
            "MissingParameter",
            "The parameter AliasName is needed but not provided.",
        ),
        (
            k.create_alias("alias/acs/x", &text),
            400,
            "InvalidParameter",
            "The specified parameter AliasName is not valid.",
        ),
        (
            params::pending_window_in_days(None).map(drop),
            400,
            "MissingParameter",
            "The parameter PendingWindowInDays is needed but not provided.",
        ),
        (
            k.schedule(&text, 6).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter PendingWindowInDays is not valid.",
        ),
        (
            params::create_key(Some("AES_256"), None, None, None, None).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeySpec is not valid.",
        ),
        (
            params::create_key(None, Some("SIGN/VERIFY"), None, None, None).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeyUsage is not valid.",
        ),
        (
            params::create_key(None, None, Some("HSM"), None, None).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter Origin is not valid.",
        ),
        (
            k.create(&CreateKey::new().with_description(&long))
                .map(drop),
            400,
            "InvalidParameter",
            "The specified parameter Description is not valid.",
        ),
        (
            params::page(Some("0"), None).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter PageNumber is not valid.",
        ),
        (
            params::page(None, Some("101")).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter PageSize is not valid.",
        ),
        (
            params::key_material(None).map(drop),
            400,
            "MissingParameter",
            "The parameter KeyMaterial is needed but not provided.",
        ),
        (
            params::key_material(Some("@@@@")).map(drop),
            400,
            "InvalidParameter",
            "The specified parameter KeyMaterial is not valid.",
        ),
        (
            k.describe(UNKNOWN_KEY_ID).map(drop),
            404,
            "Forbidden.KeyNotFound",
            "The specified Key is not found.",
        ),
        (
            k.describe("alias/nothing").map(drop),
            404,
            "Forbidden.AliasNotFound",
            "The specified Alias is not found.",
        ),
        (
            k.disable(&key_arn(REGION, OTHER_ACCOUNT, &theirs))
                .map(drop),
            403,
            "Forbidden.NoPermission",
            "This operation is forbidden by permission system.",
        ),
        (
            k.enable(&text).map(drop),
            409,
            "Rejected.StateModifiedFailed",
            "Keystate modified failed.",
        ),
    ];
    for (i, (r, status, code, message)) in cases.into_iter().enumerate() {
        let err = expect_err(r);
        assert_wire(&err, status, code, message);
        // The human sentence is not the wire's message.
        assert_ne!(err.to_string(), message, "case {i}");
    }

    // AliasAlreadyExists and UnsupportedOperation need keys in other states.
    let fresh = k.key();
    let err = expect_err(k.create_alias("alias/taken", fresh.as_str()));
    assert_wire(
        &err,
        409,
        "AliasAlreadyExists",
        "The specified Alias already exists.",
    );
    let external = k.external_key(MasterKeySpec::Aes256);
    k.import(external.as_str(), &[1u8; 32]).unwrap();
    let err = expect_err(k.rotate(external.as_str()));
    assert_wire(
        &err,
        400,
        "UnsupportedOperation",
        "This action is not supported.",
    );
    // A failing RNG, and a commit refused as stale, are internal failures on the wire.
    let r = management::create_key(
        &k.provider,
        &owner(),
        &CreateKey::new(),
        &mut FailingRng::default(),
        k.now,
    );
    assert_wire(&expect_err(r), 500, "InternalFailure", "Internal Failure.");
    let conflict = Error::from(CommitError::Conflict);
    assert_wire(&conflict, 500, "InternalFailure", "Internal Failure.");
}

// ---------------------------------------------------------------------------------------------
// Stage, then publish

/// Keys in every situation a change needs: an Enabled key that [`EXISTING_ALIAS`] names, a
/// Disabled one, one pending deletion (due a week after [`T0`]), an EXTERNAL one waiting for
/// material, and a key of another account.
struct Scene {
    k: Kms,
    enabled: KeyId,
    disabled: KeyId,
    pending: KeyId,
    external: KeyId,
}

fn scene(seed: u64) -> Scene {
    let mut k = Kms::new(seed);
    let enabled = k.key();
    k.create_alias(EXISTING_ALIAS, enabled.as_str()).unwrap();
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let pending = k.key();
    k.schedule(pending.as_str(), 7).unwrap();
    let external = k.external_key(MasterKeySpec::Aes256);
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), "alias/theirs", theirs.as_str())
        .unwrap();
    Scene {
        k,
        enabled,
        disabled,
        pending,
        external,
    }
}

/// Every operation that changes keys, each staging one change in a [`Scene`] that succeeds.
const STAGING: [&str; 13] = [
    "CreateKey",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "CreateKeyVersion",
    "ImportKeyMaterial",
    "DeleteKey",
    "delete_due_keys",
    "rotate_exhausted",
];

fn stage(s: &mut Scene, name: &str) -> StagedChange {
    let k = &mut s.k;
    let (p, c, now) = (&k.provider, owner(), k.now);
    let week_later = now + secs(7 * DAY_SECS);
    match name {
        "CreateKey" => management::create_key(p, &c, &CreateKey::new(), &mut k.rng, now)
            .unwrap()
            .into_change(),
        "EnableKey" => management::enable_key(p, &c, &s.disabled.into(), now)
            .unwrap()
            .into_change(),
        "DisableKey" => management::disable_key(p, &c, &s.enabled.into(), now)
            .unwrap()
            .into_change(),
        "ScheduleKeyDeletion" => {
            management::schedule_key_deletion(p, &c, &s.enabled.into(), 7, now)
                .unwrap()
                .into_change()
        }
        "CancelKeyDeletion" => management::cancel_key_deletion(p, &c, &s.pending.into(), now)
            .unwrap()
            .into_change(),
        "CreateAlias" => management::create_alias(p, &c, "alias/new", &s.disabled.into(), now)
            .unwrap()
            .into_change(),
        "UpdateAlias" => management::update_alias(p, &c, EXISTING_ALIAS, &s.disabled.into(), now)
            .unwrap()
            .into_change(),
        "DeleteAlias" => management::delete_alias(p, &c, EXISTING_ALIAS, now)
            .unwrap()
            .into_change(),
        "CreateKeyVersion" => {
            management::create_key_version(p, &c, &s.enabled.into(), &mut k.rng, now)
                .unwrap()
                .into_change()
        }
        "ImportKeyMaterial" => {
            let m = material(&[7; 32]);
            management::import_key_material(p, &c, &s.external.into(), m, now)
                .unwrap()
                .into_change()
        }
        "DeleteKey" => management::delete_key(p, &c, &s.pending.into(), now)
            .unwrap()
            .into_change(),
        "delete_due_keys" => management::delete_due_keys(p, week_later)
            .unwrap()
            .unwrap()
            .into_change(),
        "rotate_exhausted" => {
            let primary = p.key(&s.enabled).unwrap().unwrap().primary;
            management::rotate_exhausted(p, &s.enabled, &primary, &mut k.rng, now)
                .unwrap()
                .unwrap()
                .into_change()
        }
        _ => unreachable!("{name}"),
    }
}

/// What management and the data-key operations (as dry runs, which seal nothing) show of a
/// scene at its time: listings, DescribeKey of each key, and GenerateDataKey's verdict on each
/// key and alias.
type Seen = (
    Vec<KeyId>,
    Vec<(String, KeyId)>,
    Vec<Result<KeyMeta, Row>>,
    Vec<Row>,
);

fn seen(s: &mut Scene) -> Seen {
    let keys = s.k.all_keys_of(&owner());
    let aliases = s.k.all_aliases_of(&owner());
    let names = [s.enabled, s.disabled, s.pending, s.external].map(|k| k.to_string());
    let described = names
        .iter()
        .map(|n| s.k.describe(n).map_err(|e| Row::of(&e)))
        .collect();
    let mut verdicts = Vec::new();
    for name in names
        .iter()
        .map(String::as_str)
        .chain([EXISTING_ALIAS, "alias/new"])
    {
        let params = GenerateDataKeyParams::new().key_id(name).dry_run("true");
        let r = wire::generate_data_key(&s.k.provider, &owner(), &params, &mut s.k.rng);
        verdicts.push(Row::of(&expect_err(r)));
    }
    (keys, aliases, described, verdicts)
}

#[test]
fn every_staged_change_is_invisible_until_committed() {
    for name in STAGING {
        let mut s = scene(60);
        let before = fingerprint(&s.k.provider);
        let generation = s.k.provider.generation();
        let shown = seen(&mut s);
        let change = stage(&mut s, name);
        // Staged: nothing shows, to management, to the data-key operations or in the store.
        assert_eq!(seen(&mut s), shown, "{name}");
        assert_eq!(fingerprint(&s.k.provider), before, "{name}");
        assert_eq!(s.k.provider.generation(), generation, "{name}");
        // Committed: it shows, and the generation moved on.
        s.k.provider.commit(change).unwrap();
        assert_ne!(seen(&mut s), shown, "{name}");
        assert_ne!(fingerprint(&s.k.provider), before, "{name}");
        assert!(s.k.provider.generation() > generation, "{name}");
    }
}

#[test]
fn dropping_a_staged_change_changes_nothing() {
    for name in STAGING {
        let mut s = scene(62);
        let before = fingerprint(&s.k.provider);
        let generation = s.k.provider.generation();
        let change = stage(&mut s, name);
        drop(change);
        assert_eq!(fingerprint(&s.k.provider), before, "{name}");
        assert_eq!(s.k.provider.generation(), generation, "{name}");
        // The store takes the same change staged again.
        let change = stage(&mut s, name);
        s.k.provider.commit(change).unwrap();
    }
}

#[test]
fn a_change_staged_against_an_older_generation_is_a_conflict_and_changes_nothing() {
    // Every change staged against one scene; whichever is committed first, every other is
    // then stale.
    for first in STAGING {
        let mut s = scene(63);
        let mut changes: Vec<(&str, StagedChange)> =
            STAGING.iter().map(|&n| (n, stage(&mut s, n))).collect();
        let at = changes.iter().position(|(n, _)| *n == first).unwrap();
        let (_, change) = changes.remove(at);
        s.k.provider.commit(change).unwrap();
        let after_first = fingerprint(&s.k.provider);
        let generation = s.k.provider.generation();
        for (name, change) in changes {
            assert_eq!(
                s.k.provider.commit(change),
                Err(CommitError::Conflict),
                "{name} after {first}"
            );
            assert_eq!(
                fingerprint(&s.k.provider),
                after_first,
                "{name} after {first}"
            );
            assert_eq!(s.k.provider.generation(), generation);
        }
    }
}

#[test]
fn changes_to_the_provider_outside_management_make_staged_changes_stale() {
    // A policy, an outage or a provisioned key moves the store on like a commit.
    type Outside = fn(&mut Scene);
    let outside: [(&str, Outside); 3] = [
        ("set_policy", |s| {
            s.k.provider
                .allow_account(&s.enabled, OTHER_ACCOUNT)
                .unwrap()
        }),
        ("set_unavailable", |s| {
            s.k.provider.set_unavailable(&s.disabled, true).unwrap()
        }),
        ("create_key", |s| {
            let options = kms_core::KeyOptions::new(ACCOUNT, REGION);
            s.k.provider.create_key(&mut s.k.rng, &options).unwrap();
        }),
    ];
    for (what, act) in outside {
        let mut s = scene(64);
        let change = stage(&mut s, "DisableKey");
        act(&mut s);
        let before = fingerprint(&s.k.provider);
        assert_eq!(
            s.k.provider.commit(change),
            Err(CommitError::Conflict),
            "{what}"
        );
        assert_eq!(fingerprint(&s.k.provider), before, "{what}");
    }
}

#[test]
fn every_failed_operation_changes_nothing() {
    let mut s = scene(65);
    let (enabled, disabled, pending, external) = (s.enabled, s.disabled, s.pending, s.external);
    let before = fingerprint(&s.k.provider);
    let generation = s.k.provider.generation();
    let observed = s.k.observe();
    let k = &mut s.k;
    let (p, c, now) = (&k.provider, owner(), k.now);
    let unknown = reference(UNKNOWN_KEY_ID);
    let theirs = reference("alias/theirs");
    let long = "x".repeat(8193);
    let mut failing = LimitedRng::new(66, 20);
    let failures: Vec<(&str, Result<(), Error>)> = vec![
        (
            "CreateKey: description",
            management::create_key(
                p,
                &c,
                &CreateKey::new().with_description(&long),
                &mut k.rng,
                now,
            )
            .map(drop),
        ),
        (
            "CreateKey: RNG",
            management::create_key(p, &c, &CreateKey::new(), &mut failing, now).map(drop),
        ),
        (
            "DescribeKey",
            management::describe_key(p, &c, &unknown, now).map(drop),
        ),
        (
            "EnableKey",
            management::enable_key(p, &c, &pending.into(), now).map(drop),
        ),
        (
            "DisableKey",
            management::disable_key(p, &c, &external.into(), now).map(drop),
        ),
        (
            "ScheduleKeyDeletion: window",
            management::schedule_key_deletion(p, &c, &enabled.into(), 6, now).map(drop),
        ),
        (
            "ScheduleKeyDeletion: state",
            management::schedule_key_deletion(p, &c, &pending.into(), 7, now).map(drop),
        ),
        (
            "CancelKeyDeletion",
            management::cancel_key_deletion(p, &c, &enabled.into(), now).map(drop),
        ),
        (
            "CreateAlias: exists",
            management::create_alias(p, &c, EXISTING_ALIAS, &disabled.into(), now).map(drop),
        ),
        (
            "CreateAlias: pending deletion",
            management::create_alias(p, &c, "alias/new", &pending.into(), now).map(drop),
        ),
        (
            "CreateAlias: another account's alias",
            management::create_alias(p, &c, "alias/new", &theirs, now).map(drop),
        ),
        (
            "UpdateAlias",
            management::update_alias(p, &c, "alias/none", &enabled.into(), now).map(drop),
        ),
        (
            "DeleteAlias",
            management::delete_alias(p, &c, "alias/none", now).map(drop),
        ),
        (
            "CreateKeyVersion: state",
            management::create_key_version(p, &c, &disabled.into(), &mut k.rng, now).map(drop),
        ),
        (
            "CreateKeyVersion: RNG",
            management::create_key_version(p, &c, &enabled.into(), &mut failing, now).map(drop),
        ),
        (
            "ImportKeyMaterial: length",
            management::import_key_material(p, &c, &external.into(), material(&[1; 16]), now)
                .map(drop),
        ),
        (
            "ImportKeyMaterial: state",
            management::import_key_material(p, &c, &enabled.into(), material(&[1; 32]), now)
                .map(drop),
        ),
        (
            "DeleteKey",
            management::delete_key(p, &c, &enabled.into(), now).map(drop),
        ),
        (
            "DescribeKey as another account",
            management::describe_key(
                p,
                &other(),
                &reference(&key_arn(REGION, ACCOUNT, &enabled)),
                now,
            )
            .map(drop),
        ),
    ];
    for (name, result) in failures {
        assert!(result.is_err(), "{name}");
    }
    assert_eq!(fingerprint(&s.k.provider), before);
    assert_eq!(s.k.provider.generation(), generation);
    assert_eq!(s.k.observe(), observed);
}
