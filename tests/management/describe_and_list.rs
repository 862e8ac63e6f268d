//! DescribeKey and ListKeys: every KeyId form, paging oldest first per account and region,
//! keys whose deletion is due left out, the paging parameters (`params::page`), and reads
//! through shared references.

use kms_core::management::{self, Page, params};
use kms_core::reference::KeyArn;
use kms_core::{Caller, KeyId};

use crate::support::*;
use crate::testkit::*;

#[test]
fn describe_key_accepts_every_key_id_form() {
    let mut k = Kms::new(18);
    let key = k.key();
    let _decoy = k.key();
    k.create_alias("alias/app/main", key.as_str()).unwrap();
    let expected = k.describe(key.as_str()).unwrap();
    assert_eq!(expected.key_id, key);
    for form in [
        "alias/app/main".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/app/main"),
    ] {
        assert_eq!(k.describe(&form).unwrap(), expected, "{form}");
    }
}

#[test]
fn list_keys_defaults_and_empty() {
    let mut k = Kms::new(20);
    let page = params::page(None, None).unwrap();
    assert_eq!(
        page,
        Page {
            number: 1,
            size: 10
        }
    );
    assert_eq!(Page::default(), page);
    let r = k.list_keys_as(&owner(), page);
    assert_eq!((r.total, r.page, r.items.len()), (0, page, 0));
    let keys: Vec<KeyId> = (0..12).map(|_| k.key()).collect();
    let r = k.list_keys_as(&owner(), page);
    assert_eq!((r.total, r.page), (12, page));
    assert_eq!(r.items, keys[..10]);
    // The ARN a frontend reports for each entry.
    for id in &r.items {
        assert_eq!(
            KeyArn::new(REGION, ACCOUNT, id).to_string(),
            key_arn(REGION, ACCOUNT, id)
        );
    }
}

#[test]
fn list_keys_pages_oldest_first_per_account_and_region() {
    let mut k = Kms::new(21);
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    let mut far = Vec::new();
    for i in 0..25 {
        k.now = T0 + secs(i);
        mine.push(k.key());
        if i % 3 == 0 {
            theirs.push(k.key_of(&other()));
        }
        if i % 4 == 0 {
            far.push(k.key_of(&elsewhere()));
        }
    }
    for size in [1usize, 7, 10, 24, 25, 26, 100] {
        let mut seen = Vec::new();
        let pages = 25usize.div_ceil(size);
        for number in 1..=pages + 1 {
            let page = params::page(Some(&number.to_string()), Some(&size.to_string())).unwrap();
            assert_eq!(page, Page { number, size });
            let r = k.list_keys_as(&owner(), page);
            assert_eq!(r.total, 25);
            assert_eq!(r.page, page);
            let expected_len = if number <= pages {
                size.min(25 - (number - 1) * size)
            } else {
                0
            };
            assert_eq!(r.items.len(), expected_len, "size {size} page {number}");
            seen.extend(r.items);
        }
        assert_eq!(seen, mine, "size {size}");
    }
    assert_eq!(k.all_keys_of(&other()), theirs);
    assert_eq!(k.all_keys_of(&elsewhere()), far);
    let stranger = Caller::new(THIRD_ACCOUNT, REGION);
    assert_eq!(k.list_keys_as(&stranger, Page::default()).total, 0);
    // A page far past the end is empty, not an error.
    let page = params::page(Some("999999999"), Some("100")).unwrap();
    let r = k.list_keys_as(&owner(), page);
    assert_eq!((r.total, r.items.len()), (25, 0));
}

#[test]
fn list_keys_leaves_out_keys_whose_deletion_is_due_and_keeps_order() {
    let mut k = Kms::new(22);
    let keys: Vec<KeyId> = (0..6).map(|_| k.key()).collect();
    for i in [1, 4] {
        k.schedule(keys[i].as_str(), 7).unwrap();
    }
    // Pending deletion still lists.
    assert_eq!(k.all_keys_of(&owner()), keys);
    k.now += secs(7 * DAY_SECS + 1);
    let expected = [keys[0], keys[2], keys[3], keys[5]];
    // Gone from the listing at that time, before housekeeping deleted anything...
    assert_eq!(k.provider.len(), 6);
    assert_eq!(k.all_keys_of(&owner()), expected);
    assert_eq!(k.list_keys_as(&owner(), Page::default()).total, 4);
    // ... and after.
    assert_eq!(k.delete_due(), [keys[1], keys[4]]);
    assert_eq!(k.provider.len(), 4);
    assert_eq!(k.all_keys_of(&owner()), expected);
    let newer = k.key();
    let mut expected = expected.to_vec();
    expected.push(newer);
    assert_eq!(k.all_keys_of(&owner()), expected);
}

#[test]
fn invalid_paging_parameters() {
    let bad_numbers = [
        "0",
        "x",
        "",
        "-1",
        "+1",
        "1.0",
        " 1",
        "1 ",
        "١",
        "1000000000",
    ];
    let bad_sizes = ["0", "101", "x", "", "-5", "10.5", "1000"];
    for n in bad_numbers {
        assert_row(params::page(Some(n), None), Row::invalid("PageNumber"));
        // PageNumber is read before PageSize.
        assert_row(params::page(Some(n), Some("0")), Row::invalid("PageNumber"));
    }
    for s in bad_sizes {
        assert_row(params::page(None, Some(s)), Row::invalid("PageSize"));
    }
    for (s, size) in [("1", 1), ("100", 100)] {
        assert_eq!(
            params::page(None, Some(s)).unwrap(),
            Page { number: 1, size }
        );
    }
    assert_eq!(
        params::page(Some("999999999"), None).unwrap(),
        Page {
            number: 999_999_999,
            size: 10
        }
    );
}

#[test]
fn read_only_operations_take_a_shared_reference() {
    let mut k = Kms::new(24);
    let key = k.key();
    k.create_alias("alias/shared", key.as_str()).unwrap();
    let store = &k.provider;
    let also = &k.provider;
    let now = k.now;
    // Two shared references alive at once, each used while the other is.
    let described = management::describe_key(store, &owner(), &key.into(), now).unwrap();
    let listed = management::list_keys(also, &owner(), Page::default(), now).unwrap();
    let aliases = management::list_aliases(store, &owner(), Page::default(), now).unwrap();
    let again = management::describe_key(also, &owner(), &reference("alias/shared"), now);
    assert_eq!(described.key_id, key);
    assert_eq!(listed.items, [key]);
    assert_eq!(aliases.items[0].alias, "alias/shared");
    assert_eq!(again.unwrap(), described);
    // And from several threads at once.
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| management::describe_key(store, &owner(), &key.into(), now)))
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().unwrap(), described);
        }
    });
}

#[test]
fn describe_and_list_of_another_region_or_account() {
    let mut k = Kms::new(25);
    let key = k.key();
    // Another account sees nothing of the owner's keys, by ID; another region neither.
    assert_row(k.describe_as(&other(), key.as_str()), Row::key_not_found());
    assert_row(
        k.describe_as(&elsewhere(), key.as_str()),
        Row::key_not_found(),
    );
    assert_eq!(k.all_keys_of(&other()), Vec::<KeyId>::new());
    assert_eq!(k.all_keys_of(&elsewhere()), Vec::<KeyId>::new());
    // By ARN, another account reaches the key but may not manage it.
    let arn = key_arn(REGION, ACCOUNT, &key);
    assert_row(k.describe_as(&other(), &arn), Row::no_permission());
}

#[test]
fn a_page_numbered_zero_is_an_invalid_page_number() {
    // `Page`'s fields are public, so a typed caller can build page 0 without `params::page`,
    // which would have refused it as `InvalidParameter PageNumber`.
    let mut k = Kms::new(26);
    k.key();
    let page = Page {
        number: 0,
        size: 10,
    };
    let keys = std::panic::catch_unwind(|| {
        management::list_keys(&k.provider, &owner(), page, k.now).map(|l| l.items)
    });
    let aliases = std::panic::catch_unwind(|| {
        management::list_aliases(&k.provider, &owner(), page, k.now).map(|l| l.total)
    });
    assert!(keys.is_ok() && aliases.is_ok(), "a listing panicked");
    assert_row(keys.unwrap(), Row::invalid("PageNumber"));
    assert_row(aliases.unwrap(), Row::invalid("PageNumber"));
}

/// The IDs `filter` lets ListKeys list (one page of 100).
fn filtered(k: &Kms, filter: &management::KeyFilter) -> Vec<KeyId> {
    let page = Page {
        number: 1,
        size: 100,
    };
    let listing = management::list_keys_filtered(&k.provider, &owner(), page, filter, k.now)
        .expect("list keys");
    assert_eq!(listing.total, listing.items.len());
    listing.items
}

#[test]
fn list_keys_filters_and_across_conditions_or_within_one() {
    use kms_core::management::{CreateKey, KeyFilter, KeyProperty, ProtectionLevel};
    use kms_core::{KeyOrigin, MasterKeySpec};

    let mut k = Kms::new(19);
    let enabled = k.key();
    let disabled = k.key();
    k.disable(disabled.as_str()).unwrap();
    let hsm = k
        .create(&CreateKey::new().with_protection_level(ProtectionLevel::Hsm))
        .unwrap()
        .key_id;
    let external = k
        .create(&CreateKey::new().with_origin(KeyOrigin::External))
        .unwrap()
        .key_id;
    let rsa = k
        .create(&CreateKey::new().with_spec(MasterKeySpec::Rsa2048))
        .unwrap()
        .key_id;
    k.create_alias("alias/filtered", hsm.as_str()).unwrap();
    let _elsewhere = k.key_of(&other());
    let all = vec![enabled, disabled, hsm, external, rsa];

    let f = |conditions: &[(KeyProperty, &[&str])]| {
        conditions
            .iter()
            .try_fold(KeyFilter::new(), |f, (p, v)| f.with(*p, v.iter().copied()))
            .unwrap()
    };
    assert_eq!(filtered(&k, &KeyFilter::new()), all);
    let rsa_id = [rsa.as_str()];
    type Conditions<'a> = Vec<(KeyProperty, &'a [&'a str])>;
    let cases: Vec<(Conditions<'_>, Vec<KeyId>)> = vec![
        (
            vec![(KeyProperty::KeyState, &["Enabled"])],
            vec![enabled, hsm, rsa],
        ),
        (
            vec![(KeyProperty::KeyState, &["Disabled", "PendingImport"])],
            vec![disabled, external],
        ),
        (
            vec![
                (KeyProperty::KeyState, &["Enabled"]),
                (KeyProperty::KeySpec, &["Aliyun_AES_256"]),
            ],
            vec![enabled, hsm],
        ),
        (vec![(KeyProperty::ProtectionLevel, &["HSM"])], vec![hsm]),
        (vec![(KeyProperty::KeyUsage, &["SIGN/VERIFY"])], vec![]),
        (vec![(KeyProperty::CreatorType, &["User"])], all.clone()),
        (vec![(KeyProperty::CreatorType, &["Service"])], vec![]),
        (
            vec![(KeyProperty::AliasName, &["alias/filtered"])],
            vec![hsm],
        ),
        (vec![(KeyProperty::KeyId, &rsa_id)], vec![rsa]),
        (vec![(KeyProperty::Creator, &[ACCOUNT])], all.clone()),
        (vec![(KeyProperty::Creator, &[OTHER_ACCOUNT])], vec![]),
        (vec![(KeyProperty::DkmsInstanceId, &["kst-none"])], vec![]),
        (vec![(KeyProperty::TagKey, &["team"])], vec![]),
        // A condition without values constrains nothing; a value no key has matches none.
        (vec![(KeyProperty::KeyState, &[])], all.clone()),
        (vec![(KeyProperty::KeyState, &["enabled"])], vec![]),
    ];
    for (conditions, expected) in cases {
        assert_eq!(filtered(&k, &f(&conditions)), expected, "{conditions:?}");
    }
    // Paging counts the keys the filter accepts.
    let page = Page { number: 2, size: 2 };
    let listing = management::list_keys_filtered(
        &k.provider,
        &owner(),
        page,
        &f(&[(KeyProperty::KeyState, &["Enabled"])]),
        k.now,
    )
    .unwrap();
    assert_eq!((listing.total, listing.items), (3, vec![rsa]));

    // At most 10 conditions of at most 10 values.
    let invalid = Err(kms_core::Error::InvalidParameter(
        kms_core::Parameter::Filters,
    ));
    let eleven = ["x"; 11];
    assert_eq!(KeyFilter::new().with(KeyProperty::KeyId, eleven), invalid);
    let ten = (0..10).try_fold(KeyFilter::new(), |f, _| f.with(KeyProperty::KeyId, ["x"]));
    assert_eq!(ten.unwrap().with(KeyProperty::KeyId, ["x"]), invalid);
    // Property names.
    for p in KeyProperty::ALL {
        assert_eq!(KeyProperty::from_name(p.name()), Some(p));
    }
    assert_eq!(KeyProperty::from_name("keyId"), Some(KeyProperty::KeyId));
    assert_eq!(KeyProperty::from_name("keystate"), None);
}
