//! Aliases: names at their edges (length, reserved `alias/acs`, characters), scoping by account
//! and region, duplicates, UpdateAlias, DeleteAlias, ListAliases, and aliases of deleted keys.

mod support_mgmt;

use kms_core::{Error, KeyId, Parameter};
use support_mgmt::*;

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
    assert_invalid(k.create_alias(&too_long, key.as_str()), "AliasName");
    assert_invalid(k.update_alias(&too_long, key.as_str()), "AliasName");
    // As a KeyId, a 256-character alias is well-formed text that names nothing.
    assert_alias_not_found(k.describe(&too_long));
    assert_eq!(
        k.all_aliases_of(&owner()),
        [(longest.clone(), other_key)],
        "only the 255-character alias exists"
    );

    // The shortest: one character.
    k.create_alias("alias/x", key.as_str()).unwrap();
    assert_eq!(k.describe("alias/x").unwrap().key_id, key);
    assert_invalid(k.create_alias("alias/", key.as_str()), "AliasName");
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
        assert_invalid::<()>(Err(err), "AliasName");
        assert_invalid(k.update_alias(reserved, &text), "AliasName");
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
            assert_invalid(result, "AliasName");
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
        assert_invalid(k.create_alias(name, &text), "AliasName");
    }
    // Not starting with `alias/`.
    for name in [
        "", "x", "alias", "Alias/x", "ALIAS/x", " alias/x", "alias:x", "aliasx",
    ] {
        assert_invalid(k.create_alias(name, &text), "AliasName");
        assert_invalid(k.update_alias(name, &text), "AliasName");
    }
    assert_eq!(k.all_aliases_of(&owner()).len(), accepted);
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
        assert_alias_exists::<()>(Err(err));
    }
    // By ARN too.
    let arn = key_arn(REGION, ACCOUNT, &second);
    assert_alias_exists(k.create_alias("alias/dup", &arn));
    // The alias still names the first key.
    assert_eq!(k.describe("alias/dup").unwrap().key_id, first);
    assert_eq!(k.gdk("alias/dup").unwrap().key_id, first);
    assert_eq!(
        k.all_aliases_of(&owner()),
        [("alias/dup".to_string(), first)]
    );
}

#[test]
fn the_same_name_in_another_account_or_region_is_its_own_alias() {
    let mut k = Kms::new(404);
    let mine = k.key();
    let theirs = k.key_of(&other());
    let far = k.key_of(&elsewhere());
    k.create_alias("alias/shared-name", mine.as_str()).unwrap();
    k.create_alias_as(&other(), Some("alias/shared-name"), Some(theirs.as_str()))
        .unwrap();
    k.create_alias_as(&elsewhere(), Some("alias/shared-name"), Some(far.as_str()))
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
    assert_alias_not_found(k.describe("alias/shared-name"));
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
fn an_alias_cannot_name_a_key_of_another_region() {
    let mut k = Kms::new(405);
    let far = k.key_of(&elsewhere());
    // From REGION, the owner's key in OTHER_REGION does not resolve, by ID or by ARN.
    assert_key_not_found(k.create_alias("alias/far", far.as_str()));
    assert_key_not_found(k.create_alias("alias/far", &key_arn(OTHER_REGION, ACCOUNT, &far)));
    assert_eq!(k.all_aliases_of(&owner()), []);
    assert_eq!(k.all_aliases_of(&elsewhere()), []);
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
        k.describe(new.as_str()).unwrap().primary_key_version
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
    assert_eq!(k.state(&new), "Disabled");
    assert_eq!(k.state(&old), "Enabled");

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
    k.create_alias_as(&other(), Some("alias/theirs"), Some(theirs.as_str()))
        .unwrap();
    for name in ["alias/none", "alias/theirs"] {
        let err = expect_err(k.update_alias(name, key.as_str()));
        assert_eq!(err, Error::AliasNotFound, "{name}");
        assert_alias_not_found::<()>(Err(err));
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
    assert_alias_not_found::<()>(Err(err));
    assert_alias_not_found(k.gdk("alias/a"));
    assert_alias_not_found(k.enable("alias/a"));
    assert_alias_not_found(k.update_alias("alias/a", key.as_str()));
    // Deleting again, or a name never made.
    assert_alias_not_found(k.delete_alias("alias/a"));
    assert_alias_not_found(k.delete_alias("alias/never"));
    // The key and its other alias are untouched.
    assert_eq!(k.state(&key), "Enabled");
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
    k.create_alias_as(&other(), Some("alias/x"), Some(theirs.as_str()))
        .unwrap();
    k.create_alias_as(&elsewhere(), Some("alias/x"), Some(far.as_str()))
        .unwrap();
    assert_alias_not_found(k.delete_alias("alias/x"));
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
    k.create_alias_as(&other(), Some("alias/0"), Some(theirs.as_str()))
        .unwrap();
    let far = k.key_of(&elsewhere());
    k.create_alias_as(&elsewhere(), Some("alias/aa"), Some(far.as_str()))
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
        for page in 1..=14usize.div_ceil(size) + 1 {
            let r = k
                .list_aliases_as(&owner(), Some(&page.to_string()), Some(&size.to_string()))
                .unwrap();
            assert_eq!(r.total_count, 14);
            assert_eq!((r.page_number, r.page_size), (page, size));
            for a in &r.aliases.alias {
                assert_eq!(a.alias_arn, alias_arn(REGION, ACCOUNT, &a.alias_name));
            }
            seen.extend(
                r.aliases
                    .alias
                    .iter()
                    .map(|a| (a.alias_name.clone(), a.key_id)),
            );
        }
        assert_eq!(seen, expected, "size {size}");
    }
    let r = k.list_aliases_as(&owner(), None, None).unwrap();
    assert_eq!(
        (r.page_number, r.page_size, r.aliases.alias.len()),
        (1, 10, 10)
    );
    assert_eq!(
        k.all_aliases_of(&other()),
        [("alias/0".to_string(), theirs)]
    );
    assert_eq!(
        k.all_aliases_of(&elsewhere()),
        [("alias/aa".to_string(), far)]
    );
    let r = k.list_aliases_as(&other(), None, None).unwrap();
    assert_eq!(
        r.aliases.alias[0].alias_arn,
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
    assert_eq!(
        k.list_aliases_as(&owner(), None, None).unwrap().total_count,
        6
    );

    k.schedule(doomed.as_str(), "7").unwrap();
    // Pending deletion: the aliases still resolve (to a key that refuses data-key use).
    assert_eq!(k.describe("alias/d1").unwrap().key_id, doomed);
    assert_rejected(k.gdk("alias/moved-on"), "PendingDeletion");
    k.now += secs(7 * DAY_SECS);
    let r = k.list_aliases_as(&owner(), None, None).unwrap();
    assert_eq!(r.total_count, 2);
    assert_eq!(
        k.all_aliases_of(&owner()),
        [
            ("alias/k1".to_string(), keeper),
            ("alias/moved-off".to_string(), keeper)
        ]
    );
    for name in ["alias/d1", "alias/d2", "alias/d3", "alias/moved-on"] {
        assert_alias_not_found(k.describe(name));
        assert_alias_not_found(k.gdk(name));
        assert_alias_not_found(k.update_alias(name, keeper.as_str()));
        // The name is free.
        k.create_alias(name, keeper.as_str()).unwrap();
    }
    assert_eq!(k.all_aliases_of(&owner()).len(), 6);
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
    assert_alias_not_found(k.create_alias("alias/fourth", "alias/missing"));
}
