//! CreateAlias, UpdateAlias, DeleteAlias and ListAliases: names at their edges (length,
//! reserved `alias/acs`, characters), scoping by account and region, duplicates (also staged
//! side by side), moving and deleting aliases, listing order and paging, and the aliases of
//! deleted keys.

use kms_core::management::{self, CommitError, KeyStore, Page, params};
use kms_core::reference::AliasArn;
use kms_core::{Error, KeyId, Parameter};

use crate::support::*;
use crate::testkit::*;

fn name_of_len(n: usize) -> String {
    // Mixed characters, so a length bug cannot hide behind a uniform string.
    let chars = b"aZ0_-/9zA";
    let body: String = (0..n).map(|i| chars[i % chars.len()] as char).collect();
    format!("alias/{body}")
}

#[test]
fn alias_names_of_255_characters_are_accepted_and_256_are_not() {
    let mut k = Kms::new(400);
    let key = k.key();
    let other_key = k.key();
    let longest = name_of_len(255);
    assert_eq!(longest.len(), 6 + 255);
    k.create_alias(&longest, key.as_str()).unwrap();
    assert_eq!(k.describe(&longest).unwrap().key_id, key);
    assert_eq!(k.gdk(&longest).unwrap().key_id, key);
    let arn = alias_arn(REGION, ACCOUNT, &longest);
    assert_eq!(k.describe(&arn).unwrap().key_id, key);
    k.update_alias(&longest, other_key.as_str()).unwrap();
    assert_eq!(k.describe(&longest).unwrap().key_id, other_key);

    let too_long = name_of_len(256);
    assert_row(
        k.create_alias(&too_long, key.as_str()),
        Row::invalid("AliasName"),
    );
    assert_row(
        k.update_alias(&too_long, key.as_str()),
        Row::invalid("AliasName"),
    );
    assert_row(
        params::alias_name(Some(&too_long)),
        Row::invalid("AliasName"),
    );
    // As a KeyId, a 256-character alias is well-formed text that names nothing.
    assert_row(k.describe(&too_long), Row::alias_not_found());
    assert_eq!(
        k.all_aliases_of(&owner()),
        [(longest.clone(), other_key)],
        "only the 255-character alias exists"
    );

    // The shortest: one character.
    k.create_alias("alias/x", key.as_str()).unwrap();
    assert_eq!(k.describe("alias/x").unwrap().key_id, key);
    assert_row(
        k.create_alias("alias/", key.as_str()),
        Row::invalid("AliasName"),
    );
}

#[test]
fn reserved_acs_names_are_refused_and_near_misses_allowed() {
    let mut k = Kms::new(401);
    let key = k.key();
    let text = key.to_string();
    k.create_alias("alias/existing", &text).unwrap();
    for reserved in [
        "alias/acs",
        "alias/acs/",
        "alias/acs/x",
        "alias/acs/kms/default",
        "alias/acs//",
    ] {
        let err = expect_err(k.create_alias(reserved, &text));
        assert_eq!(
            err,
            Error::InvalidParameter(Parameter::AliasName),
            "{reserved}"
        );
        assert_eq!(Row::of(&err), Row::invalid("AliasName"));
        assert_row(k.update_alias(reserved, &text), Row::invalid("AliasName"));
        assert_row(k.delete_alias(reserved), Row::invalid("AliasName"));
        assert_row(
            params::alias_name(Some(reserved)),
            Row::invalid("AliasName"),
        );
    }
    for allowed in [
        "alias/acsx",
        "alias/acs-x",
        "alias/acs_x",
        "alias/acs0",
        "alias/ac",
        "alias/xacs/y",
        "alias/a/acs/b",
        "alias/acsacs",
    ] {
        assert_eq!(params::alias_name(Some(allowed)), Ok(allowed));
        k.create_alias(allowed, &text)
            .unwrap_or_else(|e| panic!("{allowed}: {e}"));
        assert_eq!(k.describe(allowed).unwrap().key_id, key, "{allowed}");
        assert_eq!(k.gdk(allowed).unwrap().key_id, key, "{allowed}");
    }
    assert_eq!(k.all_aliases_of(&owner()).len(), 9);
}

#[test]
fn alias_characters() {
    let mut k = Kms::new(402);
    let key = k.key();
    let text = key.to_string();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '/');
    let mut accepted = 0;
    for byte in 0u8..128 {
        let c = byte as char;
        let name = format!("alias/a{c}b");
        let result = k.create_alias(&name, &text);
        if allowed(c) {
            result.unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert_eq!(k.describe(&name).unwrap().key_id, key, "{c:?}");
            accepted += 1;
        } else {
            assert_row(result, Row::invalid("AliasName"));
        }
    }
    assert_eq!(accepted, 26 + 26 + 10 + 3);
    for name in [
        "alias/é",
        "alias/a\u{0}",
        "alias/日本",
        "alias/a.b",
        "alias/a b",
        "alias/a:b",
        "alias/a*",
    ] {
        assert_row(k.create_alias(name, &text), Row::invalid("AliasName"));
    }
    // Not starting with `alias/`.
    for name in [
        "", "x", "alias", "Alias/x", "ALIAS/x", " alias/x", "alias:x", "aliasx",
    ] {
        assert_row(k.create_alias(name, &text), Row::invalid("AliasName"));
        assert_row(k.update_alias(name, &text), Row::invalid("AliasName"));
        assert_row(k.delete_alias(name), Row::invalid("AliasName"));
    }
    assert_eq!(k.all_aliases_of(&owner()).len(), accepted);
}

#[test]
fn missing_and_invalid_alias_name_parameters() {
    assert_row(params::alias_name(None), Row::missing("AliasName"));
    assert_row(params::alias_name(Some("")), Row::invalid("AliasName"));
    assert_row(params::alias_name(Some("alias")), Row::invalid("AliasName"));
    assert_row(
        params::alias_name(Some("alias/acs")),
        Row::invalid("AliasName"),
    );
    assert_eq!(params::alias_name(Some("alias/ok")), Ok("alias/ok"));
}

#[test]
fn the_alias_name_is_checked_before_the_key_is_looked_up() {
    let mut k = Kms::new(413);
    let key = k.key();
    let unknown = reference(UNKNOWN_KEY_ID);
    for alias in ["alias/acs/x", "alias", "alias/a b"] {
        let r = management::create_alias(&k.provider, &owner(), alias, &unknown, k.now);
        assert_row(r, Row::invalid("AliasName"));
        let r = management::update_alias(&k.provider, &owner(), alias, &unknown, k.now);
        assert_row(r, Row::invalid("AliasName"));
    }
    // With a good name, the unknown key is what fails.
    let r = management::create_alias(&k.provider, &owner(), "alias/new", &unknown, k.now);
    assert_row(r, Row::key_not_found());
    // UpdateAlias resolves the key before it looks for the alias.
    let r = management::update_alias(&k.provider, &owner(), "alias/none", &unknown, k.now);
    assert_row(r, Row::key_not_found());
    let r = management::update_alias(&k.provider, &owner(), "alias/none", &key.into(), k.now);
    assert_row(r, Row::alias_not_found());
}

#[test]
fn duplicate_alias_in_the_same_account_and_region() {
    let mut k = Kms::new(403);
    let first = k.key();
    let second = k.key();
    k.create_alias("alias/dup", first.as_str()).unwrap();
    for target in [second, first] {
        let err = expect_err(k.create_alias("alias/dup", target.as_str()));
        assert_eq!(err, Error::AliasAlreadyExists);
        assert_eq!(Row::of(&err), Row::alias_exists());
    }
    // By ARN too.
    let arn = key_arn(REGION, ACCOUNT, &second);
    assert_row(k.create_alias("alias/dup", &arn), Row::alias_exists());
    // The alias still names the first key.
    assert_eq!(k.describe("alias/dup").unwrap().key_id, first);
    assert_eq!(k.gdk("alias/dup").unwrap().key_id, first);
    assert_eq!(
        k.all_aliases_of(&owner()),
        [("alias/dup".to_string(), first)]
    );
}

#[test]
fn two_staged_create_alias_of_one_name_commit_once() {
    // Both are staged before either is committed, so neither sees the other: the second commit
    // is a conflict, and changes nothing.
    let mut k = Kms::new(414);
    let first = k.key();
    let second = k.key();
    let a = management::create_alias(&k.provider, &owner(), "alias/race", &first.into(), k.now)
        .unwrap();
    let b = management::create_alias(&k.provider, &owner(), "alias/race", &second.into(), k.now)
        .unwrap();
    k.provider.apply(a).unwrap();
    let before = fingerprint(&k.provider);
    let generation = k.provider.generation();
    assert_eq!(
        k.provider.commit(b.into_change()),
        Err(CommitError::Conflict)
    );
    assert_eq!(fingerprint(&k.provider), before);
    assert_eq!(k.provider.generation(), generation);
    assert_eq!(k.describe("alias/race").unwrap().key_id, first);
    // Staged again against the store as it is now, the second is refused for what it is.
    assert_row(
        k.create_alias("alias/race", second.as_str()),
        Row::alias_exists(),
    );
}

#[test]
fn the_same_name_in_another_account_or_region_is_its_own_alias() {
    let mut k = Kms::new(404);
    let mine = k.key();
    let theirs = k.key_of(&other());
    let far = k.key_of(&elsewhere());
    k.create_alias("alias/shared-name", mine.as_str()).unwrap();
    k.create_alias_as(&other(), "alias/shared-name", theirs.as_str())
        .unwrap();
    k.create_alias_as(&elsewhere(), "alias/shared-name", far.as_str())
        .unwrap();
    for (caller, key) in [(owner(), mine), (other(), theirs), (elsewhere(), far)] {
        assert_eq!(
            k.describe_as(&caller, "alias/shared-name").unwrap().key_id,
            key
        );
        assert_eq!(k.gdk_as(&caller, "alias/shared-name").unwrap().key_id, key);
        assert_eq!(
            k.all_aliases_of(&caller),
            [("alias/shared-name".to_string(), key)]
        );
    }
    // Deleting one leaves the others.
    k.delete_alias("alias/shared-name").unwrap();
    assert_row(k.describe("alias/shared-name"), Row::alias_not_found());
    assert_eq!(
        k.describe_as(&other(), "alias/shared-name").unwrap().key_id,
        theirs
    );
    assert_eq!(
        k.describe_as(&elsewhere(), "alias/shared-name")
            .unwrap()
            .key_id,
        far
    );
}

#[test]
fn an_alias_cannot_name_a_key_of_another_region_or_account() {
    let mut k = Kms::new(405);
    let far = k.key_of(&elsewhere());
    // From REGION, the owner's key in OTHER_REGION does not resolve, by ID or by ARN.
    assert_row(
        k.create_alias("alias/far", far.as_str()),
        Row::key_not_found(),
    );
    let arn = key_arn(OTHER_REGION, ACCOUNT, &far);
    assert_row(k.create_alias("alias/far", &arn), Row::key_not_found());
    // Another account's key, by ARN, even one whose policy lets the owner use it.
    let theirs = k.key_of(&other());
    k.provider.allow_account(&theirs, ACCOUNT).unwrap();
    let arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    assert_row(k.create_alias("alias/theirs", &arn), Row::no_permission());
    assert_eq!(k.all_aliases_of(&owner()), []);
    assert_eq!(k.all_aliases_of(&elsewhere()), []);
    assert_eq!(k.all_aliases_of(&other()), []);
}

#[test]
fn update_alias_moves_it() {
    let mut k = Kms::new(406);
    let old = k.key();
    let new = k.key();
    k.create_alias("alias/app", old.as_str()).unwrap();
    let before = k.gdk("alias/app").unwrap();
    assert_eq!(before.key_id, old);

    k.update_alias("alias/app", new.as_str()).unwrap();
    let after = k.gdk("alias/app").unwrap();
    assert_eq!(after.key_id, new);
    assert_eq!(
        after.key_version_id,
        k.describe(new.as_str()).unwrap().primary
    );
    assert_eq!(k.describe("alias/app").unwrap().key_id, new);
    assert_eq!(
        k.describe(&alias_arn(REGION, ACCOUNT, "alias/app"))
            .unwrap()
            .key_id,
        new
    );
    assert_eq!(k.all_aliases_of(&owner()), [("alias/app".to_string(), new)]);
    // Both blobs open: each names its own key's version.
    assert_eq!(k.decrypt(&before.ciphertext_blob).unwrap().key_id, old);
    assert_eq!(k.decrypt(&after.ciphertext_blob).unwrap().key_id, new);
    // State changes through the alias now reach the new key.
    k.disable("alias/app").unwrap();
    assert_eq!(k.state(&new), kms_core::KeyState::Disabled);
    assert_eq!(k.state(&old), kms_core::KeyState::Enabled);

    // Back again, by alias and by ARN as the target.
    k.update_alias("alias/app", &key_arn(REGION, ACCOUNT, &old))
        .unwrap();
    assert_eq!(k.describe("alias/app").unwrap().key_id, old);
    k.create_alias("alias/other", new.as_str()).unwrap();
    k.update_alias("alias/app", "alias/other").unwrap();
    assert_eq!(k.describe("alias/app").unwrap().key_id, new);
    // To the key it already names: fine.
    k.update_alias("alias/app", new.as_str()).unwrap();
    assert_eq!(k.describe("alias/app").unwrap().key_id, new);
}

#[test]
fn update_alias_of_an_alias_that_does_not_exist() {
    let mut k = Kms::new(407);
    let key = k.key();
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), "alias/theirs", theirs.as_str())
        .unwrap();
    for name in ["alias/none", "alias/theirs"] {
        let err = expect_err(k.update_alias(name, key.as_str()));
        assert_eq!(err, Error::AliasNotFound, "{name}");
        assert_eq!(Row::of(&err), Row::alias_not_found());
    }
    // UpdateAlias never creates.
    assert_eq!(k.all_aliases_of(&owner()), []);
    assert_eq!(
        k.describe_as(&other(), "alias/theirs").unwrap().key_id,
        theirs
    );
}

#[test]
fn delete_alias_then_lookup() {
    let mut k = Kms::new(408);
    let key = k.key();
    k.create_alias("alias/a", key.as_str()).unwrap();
    k.create_alias("alias/b", key.as_str()).unwrap();
    k.delete_alias("alias/a").unwrap();
    let err = expect_err(k.describe("alias/a"));
    assert_eq!(err, Error::AliasNotFound);
    assert_eq!(Row::of(&err), Row::alias_not_found());
    assert_row(k.gdk("alias/a"), Row::alias_not_found());
    assert_row(k.enable("alias/a"), Row::alias_not_found());
    assert_row(
        k.update_alias("alias/a", key.as_str()),
        Row::alias_not_found(),
    );
    // Deleting again, or a name never made.
    assert_row(k.delete_alias("alias/a"), Row::alias_not_found());
    assert_row(k.delete_alias("alias/never"), Row::alias_not_found());
    // The key and its other alias are untouched.
    assert_eq!(k.state(&key), kms_core::KeyState::Enabled);
    assert_eq!(k.describe("alias/b").unwrap().key_id, key);
    assert_eq!(k.all_aliases_of(&owner()), [("alias/b".to_string(), key)]);
    // The name can be made again, for any key.
    let second = k.key();
    k.create_alias("alias/a", second.as_str()).unwrap();
    assert_eq!(k.gdk("alias/a").unwrap().key_id, second);
}

#[test]
fn delete_alias_only_in_the_callers_account_and_region() {
    let mut k = Kms::new(409);
    let theirs = k.key_of(&other());
    let far = k.key_of(&elsewhere());
    k.create_alias_as(&other(), "alias/x", theirs.as_str())
        .unwrap();
    k.create_alias_as(&elsewhere(), "alias/x", far.as_str())
        .unwrap();
    assert_row(k.delete_alias("alias/x"), Row::alias_not_found());
    assert_eq!(k.describe_as(&other(), "alias/x").unwrap().key_id, theirs);
    assert_eq!(k.describe_as(&elsewhere(), "alias/x").unwrap().key_id, far);
}

#[test]
fn list_aliases_sorted_by_name_with_paging() {
    let mut k = Kms::new(410);
    let keys: Vec<KeyId> = (0..3).map(|_| k.key()).collect();
    // Made out of order; the expected order is by bytes: '-' < '/' < digits < upper < '_' <
    // lower.
    let names = [
        "alias/b",
        "alias/a_b",
        "alias/B",
        "alias/a-b",
        "alias/a/b",
        "alias/a",
        "alias/a0",
        "alias/Z",
        "alias/zz",
        "alias/a9",
        "alias/aB",
        "alias/_",
        "alias/0",
        "alias/ab",
    ];
    for (i, name) in names.iter().enumerate() {
        k.create_alias(name, keys[i % 3].as_str()).unwrap();
    }
    // Noise in other scopes.
    let theirs = k.key_of(&other());
    k.create_alias_as(&other(), "alias/0", theirs.as_str())
        .unwrap();
    let far = k.key_of(&elsewhere());
    k.create_alias_as(&elsewhere(), "alias/aa", far.as_str())
        .unwrap();

    let mut expected: Vec<(String, KeyId)> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_string(), keys[i % 3]))
        .collect();
    expected.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    assert_eq!(expected[0].0, "alias/0");
    assert_eq!(expected[13].0, "alias/zz");

    for size in [1usize, 3, 5, 10, 14, 100] {
        let mut seen = Vec::new();
        for number in 1..=14usize.div_ceil(size) + 1 {
            let page = params::page(Some(&number.to_string()), Some(&size.to_string())).unwrap();
            let r = k.list_aliases_as(&owner(), page);
            assert_eq!(r.total, 14);
            assert_eq!(r.page, Page { number, size });
            seen.extend(r.items.into_iter().map(|a| (a.alias, a.key_id)));
        }
        assert_eq!(seen, expected, "size {size}");
    }
    let r = k.list_aliases_as(&owner(), Page::default());
    assert_eq!(
        (r.page, r.items.len()),
        (
            Page {
                number: 1,
                size: 10
            },
            10
        )
    );
    assert_eq!(
        k.all_aliases_of(&other()),
        [("alias/0".to_string(), theirs)]
    );
    assert_eq!(
        k.all_aliases_of(&elsewhere()),
        [("alias/aa".to_string(), far)]
    );
    // The ARN a frontend reports for the other account's alias.
    let r = k.list_aliases_as(&other(), Page::default());
    assert_eq!(
        AliasArn::new(REGION, OTHER_ACCOUNT, &r.items[0].alias).to_string(),
        "acs:kms:cn-hangzhou:6543210987654321:alias/0"
    );
}

#[test]
fn deleting_a_key_removes_its_aliases() {
    let mut k = Kms::new(411);
    let doomed = k.key();
    let keeper = k.key();
    for name in ["alias/d1", "alias/d2", "alias/d3"] {
        k.create_alias(name, doomed.as_str()).unwrap();
    }
    k.create_alias("alias/k1", keeper.as_str()).unwrap();
    // An alias moved onto the doomed key goes with it; one moved off it stays.
    k.create_alias("alias/moved-on", keeper.as_str()).unwrap();
    k.update_alias("alias/moved-on", doomed.as_str()).unwrap();
    k.create_alias("alias/moved-off", doomed.as_str()).unwrap();
    k.update_alias("alias/moved-off", keeper.as_str()).unwrap();
    assert_eq!(k.list_aliases_as(&owner(), Page::default()).total, 6);

    k.schedule(doomed.as_str(), 7).unwrap();
    // Pending deletion: the aliases still resolve (to a key that refuses data-key use).
    assert_eq!(k.describe("alias/d1").unwrap().key_id, doomed);
    assert_row(k.gdk("alias/moved-on"), Row::rejected("PendingDeletion"));
    k.now += secs(7 * DAY_SECS);
    // At the date, management no longer sees the key's aliases, even before housekeeping; the
    // data-key operations still reach the key, pending deletion, until it is deleted.
    let survivors = [
        ("alias/k1".to_string(), keeper),
        ("alias/moved-off".to_string(), keeper),
    ];
    assert_eq!(k.list_aliases_as(&owner(), Page::default()).total, 2);
    assert_eq!(k.all_aliases_of(&owner()), survivors);
    for name in ["alias/d1", "alias/d2", "alias/d3", "alias/moved-on"] {
        assert_row(k.describe(name), Row::alias_not_found());
        assert_row(
            k.update_alias(name, keeper.as_str()),
            Row::alias_not_found(),
        );
        assert_row(k.delete_alias(name), Row::alias_not_found());
        assert_row(k.gdk(name), Row::rejected("PendingDeletion"));
    }
    assert_eq!(k.delete_due(), [doomed]);
    assert_eq!(k.provider.aliases_of(ACCOUNT, REGION), survivors);
    for name in ["alias/d1", "alias/d2", "alias/d3", "alias/moved-on"] {
        assert_row(k.describe(name), Row::alias_not_found());
        assert_row(k.gdk(name), Row::alias_not_found());
        assert_row(
            k.update_alias(name, keeper.as_str()),
            Row::alias_not_found(),
        );
        // The name is free.
        k.create_alias(name, keeper.as_str()).unwrap();
    }
    assert_eq!(k.all_aliases_of(&owner()).len(), 6);
}

#[test]
fn the_alias_of_a_key_due_for_deletion_can_be_taken_before_housekeeping() {
    // The name is free for management from the key's date on; taking it moves it off the due
    // key, so housekeeping leaves it alone.
    let mut k = Kms::new(415);
    let doomed = k.key();
    let keeper = k.key();
    k.create_alias("alias/reused", doomed.as_str()).unwrap();
    k.schedule(doomed.as_str(), 7).unwrap();
    k.now += secs(7 * DAY_SECS);
    k.create_alias("alias/reused", keeper.as_str()).unwrap();
    assert_eq!(k.gdk("alias/reused").unwrap().key_id, keeper);
    assert_eq!(k.delete_due(), [doomed]);
    assert_eq!(k.describe("alias/reused").unwrap().key_id, keeper);
    assert_eq!(
        k.all_aliases_of(&owner()),
        [("alias/reused".to_string(), keeper)]
    );
}

#[test]
fn create_alias_through_another_alias_names_the_same_key() {
    let mut k = Kms::new(412);
    let key = k.key();
    k.create_alias("alias/first", key.as_str()).unwrap();
    k.create_alias("alias/second", "alias/first").unwrap();
    k.create_alias("alias/third", &alias_arn(REGION, ACCOUNT, "alias/second"))
        .unwrap();
    // Aliases name keys, not aliases: moving the first leaves the others.
    let other_key = k.key();
    k.update_alias("alias/first", other_key.as_str()).unwrap();
    assert_eq!(k.describe("alias/second").unwrap().key_id, key);
    assert_eq!(k.describe("alias/third").unwrap().key_id, key);
    assert_eq!(k.describe("alias/first").unwrap().key_id, other_key);
    assert_row(
        k.create_alias("alias/fourth", "alias/missing"),
        Row::alias_not_found(),
    );
}

#[test]
fn a_staged_alias_is_invisible_until_committed() {
    let mut k = Kms::new(416);
    let key = k.key();
    let staged =
        management::create_alias(&k.provider, &owner(), "alias/later", &key.into(), k.now).unwrap();
    assert_row(k.describe("alias/later"), Row::alias_not_found());
    assert_row(k.gdk("alias/later"), Row::alias_not_found());
    assert_eq!(k.all_aliases_of(&owner()), []);
    k.provider.apply(staged).unwrap();
    assert_eq!(k.describe("alias/later").unwrap().key_id, key);
    // A staged deletion, the same way.
    let staged = management::delete_alias(&k.provider, &owner(), "alias/later", k.now).unwrap();
    assert_eq!(k.gdk("alias/later").unwrap().key_id, key);
    k.provider.apply(staged).unwrap();
    assert_row(k.gdk("alias/later"), Row::alias_not_found());
}
