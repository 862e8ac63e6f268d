//! The metadata operations (`src/management/metadata.rs`): UpdateKeyDescription,
//! SetDeletionProtection and ScheduleKeyDeletion's refusal, the tag operations,
//! ListAliasesByKeyId and GetRandomPassword; what they change survives a snapshot.

use std::collections::BTreeSet;

use kms_core::management::metadata::{MAX_TAGS, PUNCTUATION, TAG_ROWS_PER_PAGE};
use kms_core::management::{self, PasswordRequest, Tag, TagFilter, params, random_password};
use kms_core::{Caller, Error, InMemoryProvider, KeyId, KeyState, Parameter};

use crate::support::*;
use crate::testkit::*;

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        value: value.into(),
    }
}

impl Kms {
    fn describe_key_text(
        &mut self,
        caller: &Caller<'_>,
        key: &str,
        text: &str,
    ) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let staged =
            management::update_key_description(&self.provider, caller, &key, text, self.now);
        self.commit(staged)
    }

    fn protect(&mut self, caller: &Caller<'_>, key: &str, on: Option<&str>) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let staged =
            management::set_deletion_protection(&self.provider, caller, &key, on, self.now);
        self.commit(staged)
    }

    fn tag_as(&mut self, caller: &Caller<'_>, key: &str, tags: &[Tag]) -> Result<(), Error> {
        let key = params::key_id(Some(key))?;
        let staged = management::tag_key(
            &self.provider,
            caller,
            &key,
            tags,
            Parameter::Tags,
            self.now,
        );
        self.commit(staged)
    }

    fn tag(&mut self, key: &KeyId, tags: &[Tag]) -> Result<(), Error> {
        self.tag_as(&owner(), key.as_str(), tags)
    }

    fn untag(&mut self, key: &KeyId, keys: Option<&[&str]>) -> Result<(), Error> {
        let reference = params::key_id(Some(key.as_str()))?;
        let keys: Option<Vec<String>> = keys.map(|k| k.iter().map(|s| (*s).into()).collect());
        let staged = management::untag_key(
            &self.provider,
            &owner(),
            &reference,
            keys.as_deref(),
            Parameter::TagKeys,
            self.now,
        );
        self.commit(staged)
    }

    fn tags(&self, key: &KeyId) -> Vec<Tag> {
        let reference = params::key_id(Some(key.as_str())).unwrap();
        let (id, tags) =
            management::list_key_tags(&self.provider, &owner(), &reference, self.now).unwrap();
        assert_eq!(id, *key);
        tags
    }
}

#[test]
fn update_key_description_replaces_it_in_every_state_and_only_for_the_owner() {
    let mut k = Kms::new(1);
    let key = k.key();
    let text = key.as_str();
    k.describe_key_text(&owner(), text, "orders table").unwrap();
    assert_eq!(k.describe(text).unwrap().description, "orders table");
    k.describe_key_text(&owner(), text, "").unwrap();
    assert_eq!(k.describe(text).unwrap().description, "");

    let long = "é".repeat(8192);
    k.describe_key_text(&owner(), text, &long).unwrap();
    assert_eq!(
        k.describe_key_text(&owner(), text, &format!("{long}x")),
        Err(Error::InvalidParameter(Parameter::Description))
    );
    // Other settings are kept.
    k.tag(&key, &[tag("team", "payments")]).unwrap();
    k.describe_key_text(&owner(), text, "again").unwrap();
    assert_eq!(k.tags(&key), vec![tag("team", "payments")]);

    k.disable(text).unwrap();
    k.describe_key_text(&owner(), text, "disabled").unwrap();
    k.schedule(text, 7).unwrap();
    k.describe_key_text(&owner(), text, "pending").unwrap();
    assert_eq!(k.describe(text).unwrap().description, "pending");

    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}");
    assert_eq!(
        k.describe_key_text(&other(), &arn, "x"),
        Err(Error::NoPermission)
    );
    assert_eq!(
        k.describe_key_text(&owner(), UNKNOWN_KEY_ID_SHORT, "x"),
        Err(Error::KeyNotFound)
    );
}

#[test]
fn deletion_protection_refuses_schedule_key_deletion_until_turned_off() {
    let mut k = Kms::new(2);
    let key = k.key();
    let text = key.as_str();
    k.protect(&owner(), text, Some("used by billing")).unwrap();
    assert_eq!(
        k.describe(text)
            .unwrap()
            .settings
            .deletion_protection
            .as_deref(),
        Some("used by billing")
    );
    let err = k.schedule(text, 7).unwrap_err();
    assert_eq!(err, Error::ResourceProtected);
    assert_eq!(
        (err.status(), err.code()),
        (403, "Forbidden.ResourceProtected")
    );
    assert_eq!(k.state(&key), KeyState::Enabled);
    // Disabled, still protected.
    k.disable(text).unwrap();
    assert_eq!(k.schedule(text, 30), Err(Error::ResourceProtected));
    // An empty description is protection too.
    k.protect(&owner(), text, Some("")).unwrap();
    assert_eq!(k.schedule(text, 30), Err(Error::ResourceProtected));

    k.protect(&owner(), text, None).unwrap();
    assert_eq!(k.describe(text).unwrap().settings.deletion_protection, None);
    k.schedule(text, 7).unwrap();
    // Pending deletion: no change of protection either way.
    assert_eq!(
        k.protect(&owner(), text, Some("late")),
        Err(Error::StateModifiedFailed)
    );
    assert_eq!(
        k.protect(&owner(), text, None),
        Err(Error::StateModifiedFailed)
    );
    k.cancel(text).unwrap();
    k.protect(&owner(), text, Some("again")).unwrap();

    let too_long = "d".repeat(8193);
    assert_eq!(
        k.protect(&owner(), text, Some(&too_long)),
        Err(Error::InvalidParameter(
            Parameter::DeletionProtectionDescription
        ))
    );
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}");
    assert_eq!(k.protect(&other(), &arn, None), Err(Error::NoPermission));
}

#[test]
fn tags_are_added_replaced_sorted_and_removed() {
    let mut k = Kms::new(3);
    let key = k.key();
    assert!(k.tags(&key).is_empty());
    k.tag(&key, &[tag("b", "2"), tag("a", "1")]).unwrap();
    assert_eq!(k.tags(&key), vec![tag("a", "1"), tag("b", "2")]);
    // Same key: the value is replaced; a value may be empty.
    k.tag(&key, &[tag("a", "one"), tag("c", "")]).unwrap();
    assert_eq!(
        k.tags(&key),
        vec![tag("a", "one"), tag("b", "2"), tag("c", "")]
    );
    // An unknown key is ignored.
    k.untag(&key, Some(&["b", "zz"])).unwrap();
    assert_eq!(k.tags(&key), vec![tag("a", "one"), tag("c", "")]);
    k.untag(&key, None).unwrap();
    assert!(k.tags(&key).is_empty());
    // Tags by alias, in any state.
    k.create_alias("alias/tagged", key.as_str()).unwrap();
    k.disable(key.as_str()).unwrap();
    k.tag_as(&owner(), "alias/tagged", &[tag("x", "y")])
        .unwrap();
    assert_eq!(k.tags(&key), vec![tag("x", "y")]);
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{key}");
    assert_eq!(
        k.tag_as(&other(), &arn, &[tag("x", "z")]),
        Err(Error::NoPermission)
    );
}

#[test]
fn tag_keys_and_values_are_checked() {
    let mut k = Kms::new(4);
    let key = k.key();
    let invalid = Err(Error::InvalidParameter(Parameter::Tags));
    let long = "k".repeat(128);
    k.tag(
        &key,
        &[tag(&long, &long), tag("a/b\\c_d-e.f+g=h:i@j", "A1")],
    )
    .unwrap();
    for bad in [
        vec![],
        vec![tag("", "v")],
        vec![tag(&format!("{long}k"), "v")],
        vec![tag("k", &format!("{long}v"))],
        vec![tag("aliyun-team", "v")],
        vec![tag("acs:team", "v")],
        vec![tag("with space", "v")],
        vec![tag("k", "with space")],
        vec![tag("ключ", "v")],
        vec![tag("dup", "1"), tag("dup", "2")],
    ] {
        assert_eq!(k.tag(&key, &bad), invalid, "{bad:?}");
    }
    // Not reserved: only the documented prefixes, as written.
    k.tag(
        &key,
        &[tag("Aliyun", "v"), tag("acs", "v"), tag("ACS:x", "v")],
    )
    .unwrap();

    let reference = params::key_id(Some(key.as_str())).unwrap();
    for bad in [vec![], vec![String::new()], vec!["acs:x".to_owned()]] {
        let staged = management::untag_key(
            &k.provider,
            &owner(),
            &reference,
            Some(&bad),
            Parameter::TagKeys,
            k.now,
        );
        assert_eq!(
            staged.map(|_| ()),
            Err(Error::InvalidParameter(Parameter::TagKeys))
        );
    }
}

#[test]
fn a_key_holds_at_most_twenty_tags() {
    let mut k = Kms::new(5);
    let key = k.key();
    let tags: Vec<Tag> = (0..MAX_TAGS)
        .map(|i| tag(&format!("k{i:02}"), "v"))
        .collect();
    k.tag(&key, &tags).unwrap();
    // Replacing values keeps it at 20.
    k.tag(&key, &[tag("k00", "w")]).unwrap();
    assert_eq!(
        k.tag(&key, &[tag("one-more", "v")]),
        Err(Error::InvalidParameter(Parameter::Tags))
    );
    assert_eq!(k.tags(&key).len(), MAX_TAGS);
}

#[test]
fn list_tag_resources_rows_filters_and_pages() {
    let mut k = Kms::new(6);
    let a = k.key();
    let b = k.key();
    let _untagged = k.key();
    k.tag(&a, &[tag("env", "prod"), tag("team", "pay")])
        .unwrap();
    k.tag(&b, &[tag("env", "dev")]).unwrap();
    let list = |k: &Kms, keys: Option<&[&str]>, filters: &[TagFilter], start| {
        let refs: Option<Vec<_>> = keys.map(|ks| {
            ks.iter()
                .map(|t| params::key_id(Some(t)).unwrap())
                .collect()
        });
        management::list_tag_resources(
            &k.provider,
            &owner(),
            refs.as_deref(),
            filters,
            start,
            k.now,
        )
    };
    let rows = list(&k, None, &[], 0).unwrap();
    let got: Vec<(KeyId, String)> = rows
        .rows
        .iter()
        .map(|r| (r.key_id, r.tag.key.clone()))
        .collect();
    assert_eq!(
        got,
        vec![(a, "env".into()), (a, "team".into()), (b, "env".into())]
    );
    assert_eq!(rows.next, None);
    // Named keys, in the order named.
    let rows = list(&k, Some(&[b.as_str(), a.as_str()]), &[], 0).unwrap();
    assert_eq!(rows.rows[0].key_id, b);
    // Filters: a key, or a key and a value.
    let env = TagFilter {
        key: "env".into(),
        value: None,
    };
    assert_eq!(
        list(&k, None, std::slice::from_ref(&env), 0)
            .unwrap()
            .rows
            .len(),
        2
    );
    let prod = TagFilter {
        key: "env".into(),
        value: Some("prod".into()),
    };
    let rows = list(&k, None, &[prod], 0).unwrap();
    assert_eq!(rows.rows.len(), 1);
    assert_eq!(rows.rows[0].key_id, a);
    // An unknown named key.
    assert_eq!(
        list(&k, Some(&[UNKNOWN_KEY_ID_SHORT]), &[], 0),
        Err(Error::KeyNotFound)
    );

    // Pages of 200 rows: 11 keys of 20 tags is 220 rows.
    let mut k = Kms::new(7);
    let tags: Vec<Tag> = (0..20).map(|i| tag(&format!("t{i:02}"), "v")).collect();
    for _ in 0..11 {
        let key = k.key();
        k.tag(&key, &tags).unwrap();
    }
    let first = list(&k, None, &[], 0).unwrap();
    assert_eq!(first.rows.len(), TAG_ROWS_PER_PAGE);
    assert_eq!(first.next, Some(200));
    let second = list(&k, None, &[], 200).unwrap();
    assert_eq!(second.rows.len(), 20);
    assert_eq!(second.next, None);
    assert!(list(&k, None, &[], 5000).unwrap().rows.is_empty());
    assert_eq!(params::next_token(None), Ok(0));
    assert_eq!(params::next_token(Some("")), Ok(0));
    assert_eq!(params::next_token(Some("200")), Ok(200));
    for bad in ["-1", "x", "1234567890", " 1"] {
        assert_eq!(
            params::next_token(Some(bad)),
            Err(Error::InvalidParameter(Parameter::NextToken))
        );
    }
}

#[test]
fn list_aliases_by_key_id_lists_only_that_keys_aliases() {
    let mut k = Kms::new(8);
    let a = k.key();
    let b = k.key();
    for alias in ["alias/c", "alias/a", "alias/b"] {
        k.create_alias(alias, a.as_str()).unwrap();
    }
    k.create_alias("alias/other", b.as_str()).unwrap();
    let list = |k: &Kms, key: &str, page| {
        let key = params::key_id(Some(key)).unwrap();
        management::list_aliases_by_key_id(&k.provider, &owner(), &key, page, k.now)
    };
    let all = list(&k, a.as_str(), management::Page::default()).unwrap();
    let names: Vec<&str> = all.items.iter().map(|e| e.alias.as_str()).collect();
    assert_eq!(names, ["alias/a", "alias/b", "alias/c"]);
    assert!(all.items.iter().all(|e| e.key_id == a));
    assert_eq!(all.total, 3);
    let page = management::Page { number: 2, size: 2 };
    let second = list(&k, "alias/b", page).unwrap();
    assert_eq!(second.items.len(), 1);
    assert_eq!(second.total, 3);
    let c = k.key();
    assert_eq!(
        list(&k, c.as_str(), management::Page::default())
            .unwrap()
            .total,
        0
    );
    assert_eq!(
        list(
            &k,
            a.as_str(),
            management::Page {
                number: 0,
                size: 10
            }
        ),
        Err(Error::InvalidParameter(Parameter::PageNumber))
    );
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{a}");
    let key = params::key_id(Some(&arn)).unwrap();
    assert_eq!(
        management::list_aliases_by_key_id(
            &k.provider,
            &other(),
            &key,
            management::Page::default(),
            k.now
        ),
        Err(Error::NoPermission)
    );
}

#[test]
fn metadata_changes_survive_a_snapshot() {
    let mut k = Kms::new(9);
    let key = k.key();
    k.describe_key_text(&owner(), key.as_str(), "kept").unwrap();
    k.protect(&owner(), key.as_str(), Some("keep me")).unwrap();
    k.tag(&key, &[tag("a", "1"), tag("b", "")]).unwrap();
    let sealed = k.provider.export_snapshot(&WRAP, &mut k.rng).unwrap();
    let restored = InMemoryProvider::import_snapshot(&sealed, &WRAP).unwrap();
    let mut k2 = Kms::with_provider(restored, 10);
    let meta = k2.describe(key.as_str()).unwrap();
    assert_eq!(meta.description, "kept");
    assert_eq!(
        meta.settings.deletion_protection.as_deref(),
        Some("keep me")
    );
    assert_eq!(k2.tags(&key), vec![tag("a", "1"), tag("b", "")]);
    assert_eq!(k2.schedule(key.as_str(), 7), Err(Error::ResourceProtected));
}

fn password(request: &PasswordRequest<'_>, seed: u64) -> Result<String, Error> {
    random_password(request, &mut rng(seed)).map(|p| p.to_string())
}

#[test]
fn random_password_length_and_classes() {
    let p = password(&PasswordRequest::new(), 1).unwrap();
    assert_eq!(p.len(), 32);
    let has = |p: &str, f: fn(&char) -> bool| p.chars().any(|c| f(&c));
    for seed in 0..200 {
        let p = password(&PasswordRequest::new(), seed).unwrap();
        assert!(has(&p, char::is_ascii_lowercase), "{p}");
        assert!(has(&p, char::is_ascii_uppercase), "{p}");
        assert!(has(&p, char::is_ascii_digit), "{p}");
        assert!(p.chars().any(|c| PUNCTUATION.contains(c)), "{p}");
        assert!(p.chars().all(|c| c.is_ascii_graphic()), "{p}");
    }
    for length in [8, 9, 64, 128] {
        let mut r = PasswordRequest::new();
        r.length = length;
        assert_eq!(password(&r, 3).unwrap().len(), length);
    }
    for length in [0, 7, 129, 1000] {
        let mut r = PasswordRequest::new();
        r.length = length;
        assert_eq!(
            password(&r, 3),
            Err(Error::InvalidParameter(Parameter::PasswordLength))
        );
    }
}

#[test]
fn random_password_exclusions() {
    let mut r = PasswordRequest::new();
    r.exclude_lowercase = true;
    r.exclude_punctuation = true;
    r.exclude_characters = "0OIl1";
    for seed in 0..100 {
        let p = password(&r, seed).unwrap();
        assert!(
            p.chars()
                .all(|c| (c.is_ascii_uppercase() || c.is_ascii_digit()) && !"0OIl1".contains(c)),
            "{p}"
        );
        assert!(p.chars().any(|c| c.is_ascii_digit()), "{p}");
    }
    // One character left.
    let mut r = PasswordRequest::new();
    r.exclude_lowercase = true;
    r.exclude_uppercase = true;
    r.exclude_punctuation = true;
    r.exclude_characters = "012345678";
    assert_eq!(password(&r, 1).unwrap(), "9".repeat(32));
    // Nothing left.
    r.exclude_characters = "0123456789";
    assert_eq!(
        password(&r, 1),
        Err(Error::InvalidParameter(Parameter::ExcludeCharacters))
    );
    r.exclude_characters = "";
    r.exclude_numbers = true;
    assert_eq!(
        password(&r, 1),
        Err(Error::InvalidParameter(Parameter::ExcludeCharacters))
    );
    // Without RequireEachIncludedType a class may be missing; every character still comes
    // from the alphabet.
    let mut r = PasswordRequest::new();
    r.require_each_included_type = false;
    r.length = 8;
    let missing = (0..400)
        .map(|seed| password(&r, seed).unwrap())
        .filter(|p| !p.chars().any(|c| c.is_ascii_digit()))
        .count();
    assert!(
        missing > 0,
        "about 40% of 8-character passwords have no digit"
    );
}

#[test]
fn random_password_draws_every_character_about_evenly() {
    // 94 characters, 2000 passwords of 128 without the one-of-each step: 256,000 draws, about
    // 2723 each. A modulo-biased draw from a byte (256 = 2 * 94 + 68) would give the first 68
    // characters 3/2 the share of the others.
    let mut r = PasswordRequest::new();
    r.length = 128;
    r.require_each_included_type = false;
    let mut counts = std::collections::HashMap::<char, u32>::new();
    let mut g = rng(11);
    for _ in 0..2000 {
        for c in random_password(&r, &mut g).unwrap().chars() {
            *counts.entry(c).or_default() += 1;
        }
    }
    assert_eq!(counts.len(), 94);
    let (min, max) = (
        *counts.values().min().unwrap(),
        *counts.values().max().unwrap(),
    );
    assert!(min > 2400 && max < 3050, "min {min} max {max}");
    let alphabet: BTreeSet<char> = counts.keys().copied().collect();
    assert!(alphabet.iter().all(char::is_ascii_graphic));
}

#[test]
fn password_parameters_parse_in_order() {
    let get = |pairs: &'static [(&'static str, &'static str)]| {
        move |p: Parameter| pairs.iter().find(|(n, _)| *n == p.name()).map(|(_, v)| *v)
    };
    let r = params::password_request(get(&[])).unwrap();
    assert_eq!(r, PasswordRequest::new());
    let r = params::password_request(get(&[
        ("PasswordLength", "16"),
        ("ExcludeCharacters", "abc"),
        ("ExcludeLowercase", "True"),
        ("ExcludeUppercase", "false"),
        ("ExcludeNumbers", "TRUE"),
        ("ExcludePunctuation", "true"),
        ("RequireEachIncludedType", "False"),
    ]))
    .unwrap();
    assert_eq!(
        (
            r.length,
            r.exclude_characters,
            r.exclude_lowercase,
            r.exclude_uppercase
        ),
        (16, "abc", true, false)
    );
    assert!(r.exclude_numbers && r.exclude_punctuation && !r.require_each_included_type);
    for (name, value) in [
        ("PasswordLength", "7"),
        ("PasswordLength", "129"),
        ("PasswordLength", "abc"),
        ("PasswordLength", ""),
        ("ExcludeLowercase", "yes"),
        ("RequireEachIncludedType", "1"),
    ] {
        let pairs: &'static [(&'static str, &'static str)] =
            Box::leak(vec![(name, value)].into_boxed_slice());
        let p = match name {
            "PasswordLength" => Parameter::PasswordLength,
            "ExcludeLowercase" => Parameter::ExcludeLowercase,
            _ => Parameter::RequireEachIncludedType,
        };
        assert_eq!(
            params::password_request(get(pairs)),
            Err(Error::InvalidParameter(p)),
            "{name}={value}"
        );
    }
}
