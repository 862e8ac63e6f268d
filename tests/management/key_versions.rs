//! ListKeyVersions and DescribeKeyVersion: versions oldest first with the key's canonical ID,
//! paging edges, every KeyId form, keys in every state, versions of other keys and accounts,
//! and the parameters (`params::key_version_id`, `params::page`).

use kms_core::management::{self, CreateKey, KeyVersionMeta, Listing, Page, VersionMeta, params};
use kms_core::time::Timestamp;
use kms_core::{Caller, Error, KeyId, KeyOrigin, KeyVersionId, MasterKeySpec};

use crate::support::*;
use crate::testkit::*;

/// A well-formed version ID that no RNG of these tests draws.
const UNKNOWN_VERSION: &str = "2ab1a983-7072-4bbc-a582-584b5bd80000";

impl Kms {
    fn list_versions_as(
        &self,
        caller: &Caller<'_>,
        key: &str,
        number: Option<&str>,
        size: Option<&str>,
    ) -> Result<Listing<KeyVersionMeta>, Error> {
        let key = params::key_id(Some(key))?;
        let page = params::page(number, size)?;
        management::list_key_versions(&self.provider, caller, &key, page, self.now)
    }

    fn list_versions(&self, key: &str, page: Page) -> Result<Listing<KeyVersionMeta>, Error> {
        let key = params::key_id(Some(key))?;
        management::list_key_versions(&self.provider, &owner(), &key, page, self.now)
    }

    fn describe_version_as(
        &self,
        caller: &Caller<'_>,
        key: &str,
        version: Option<&str>,
    ) -> Result<KeyVersionMeta, Error> {
        let key = params::key_id(Some(key))?;
        let version = params::key_version_id(version)?;
        management::describe_key_version(&self.provider, caller, &key, &version, self.now)
    }

    fn describe_version(&self, key: &str, version: &str) -> Result<KeyVersionMeta, Error> {
        self.describe_version_as(&owner(), key, Some(version))
    }

    /// A key with `n` versions, one a day from [`T0`], and those versions oldest first.
    fn key_with_versions(&mut self, n: u64) -> (KeyId, Vec<VersionMeta>) {
        let start = self.now;
        let meta = self.create(&CreateKey::new()).unwrap();
        let mut versions = meta.versions.clone();
        for i in 1..n {
            self.now = start + secs(i * DAY_SECS);
            versions.push(self.rotate(meta.key_id.as_str()).unwrap());
        }
        (meta.key_id, versions)
    }
}

fn ids(listing: &Listing<KeyVersionMeta>) -> Vec<KeyVersionId> {
    listing
        .items
        .iter()
        .map(|v| v.version.key_version_id)
        .collect()
}

#[test]
fn a_new_key_lists_its_one_version_and_rotation_appends_the_newest_last() {
    let mut k = Kms::new(40);
    let meta = k.create(&CreateKey::new()).unwrap();
    let key = meta.key_id;
    let r = k.list_versions(key.as_str(), Page::default()).unwrap();
    assert_eq!((r.total, r.page), (1, Page::default()));
    assert_eq!(
        r.items,
        [KeyVersionMeta {
            key_id: key,
            version: VersionMeta {
                key_version_id: meta.primary,
                created: T0
            }
        }]
    );
    assert_eq!(Timestamp(r.items[0].version.created).to_string(), T0_TEXT);
    k.now = T0 + secs(DAY_SECS);
    let v2 = k.rotate(key.as_str()).unwrap();
    k.now = T0 + secs(2 * DAY_SECS);
    let v3 = k.rotate(key.as_str()).unwrap();
    let r = k.list_versions(key.as_str(), Page::default()).unwrap();
    assert_eq!(r.total, 3);
    assert_eq!(
        ids(&r),
        [meta.primary, v2.key_version_id, v3.key_version_id],
        "oldest first"
    );
    assert_eq!(
        r.items
            .iter()
            .map(|v| v.version.created)
            .collect::<Vec<_>>(),
        [T0, T0 + secs(DAY_SECS), T0 + secs(2 * DAY_SECS)]
    );
    // The last listed is the primary.
    assert_eq!(k.describe(key.as_str()).unwrap().primary, v3.key_version_id);
    // Each version describes as listed.
    for item in &r.items {
        let d = k
            .describe_version(key.as_str(), item.version.key_version_id.as_str())
            .unwrap();
        assert_eq!(d, *item);
    }
}

#[test]
fn list_key_versions_pages_at_every_edge() {
    let mut k = Kms::new(41);
    let (key, versions) = k.key_with_versions(25);
    let text = key.as_str();
    assert_eq!(versions.len(), 25);
    for size in [1usize, 7, 10, 24, 25, 26, 100] {
        let pages = 25usize.div_ceil(size);
        let mut seen = Vec::new();
        for number in 1..=pages + 1 {
            let r = k
                .list_versions_as(
                    &owner(),
                    text,
                    Some(&number.to_string()),
                    Some(&size.to_string()),
                )
                .unwrap();
            assert_eq!(r.total, 25, "size {size} page {number}");
            assert_eq!(r.page, Page { number, size });
            let expected_len = if number <= pages {
                size.min(25 - (number - 1) * size)
            } else {
                0
            };
            assert_eq!(r.items.len(), expected_len, "size {size} page {number}");
            assert!(r.items.iter().all(|v| v.key_id == key));
            seen.extend(r.items.into_iter().map(|v| v.version));
        }
        assert_eq!(seen, versions, "size {size}");
    }
    // Far past the end: empty, not an error.
    let r = k
        .list_versions_as(&owner(), text, Some("999999999"), Some("100"))
        .unwrap();
    assert_eq!((r.total, r.items.len()), (25, 0));
    // The defaults: page 1 of 10.
    let r = k.list_versions_as(&owner(), text, None, None).unwrap();
    assert_eq!(r.page, Page::default());
    assert_eq!(
        r.items.iter().map(|v| v.version).collect::<Vec<_>>(),
        versions[..10]
    );
}

#[test]
fn list_key_versions_paging_errors_come_before_the_key() {
    let mut k = Kms::new(42);
    let key = k.key();
    for (number, size, row) in [
        (Some("0"), None, Row::invalid("PageNumber")),
        (Some("x"), Some("0"), Row::invalid("PageNumber")),
        (None, Some("0"), Row::invalid("PageSize")),
        (None, Some("101"), Row::invalid("PageSize")),
    ] {
        assert_row(
            k.list_versions_as(&owner(), key.as_str(), number, size),
            row.clone(),
        );
        // Even for a key that does not exist: parameters are checked first.
        assert_row(
            k.list_versions_as(&owner(), UNKNOWN_KEY_ID_SHORT, number, size),
            row,
        );
    }
    // A typed page the parser would have refused is refused, not a panic.
    for page in [
        Page {
            number: 0,
            size: 10,
        },
        Page { number: 1, size: 0 },
    ] {
        let r = std::panic::catch_unwind(|| k.list_versions(key.as_str(), page).map(|l| l.total));
        let expected = if page.number == 0 {
            "PageNumber"
        } else {
            "PageSize"
        };
        assert_row(r.expect("no panic"), Row::invalid(expected));
    }
    let r = k.list_versions(
        key.as_str(),
        Page {
            number: usize::MAX,
            size: 100,
        },
    );
    assert_eq!(r.unwrap().items.len(), 0);
}

#[test]
fn every_key_id_form_names_the_key_and_the_answer_names_it_by_id() {
    let mut k = Kms::new(43);
    let (key, versions) = k.key_with_versions(3);
    let _bystander = k.key_with_versions(2);
    k.create_alias("alias/versioned", key.as_str()).unwrap();
    let expected = k.list_versions(key.as_str(), Page::default()).unwrap();
    for form in [
        "alias/versioned".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/versioned"),
    ] {
        assert_eq!(
            k.list_versions(&form, Page::default()).unwrap(),
            expected,
            "{form}"
        );
        for v in &versions {
            let d = k
                .describe_version(&form, v.key_version_id.as_str())
                .unwrap();
            assert_eq!(
                d,
                KeyVersionMeta {
                    key_id: key,
                    version: *v
                },
                "{form}"
            );
        }
    }
}

#[test]
fn describe_key_version_of_an_unknown_or_foreign_version_is_key_not_found() {
    let mut k = Kms::new(44);
    let (mine, mine_versions) = k.key_with_versions(2);
    let (sibling, sibling_versions) = k.key_with_versions(2);
    let theirs = k.key_of(&other());
    let theirs_version = k.stored(&theirs).unwrap().primary;
    // Unknown anywhere.
    assert_row(
        k.describe_version(mine.as_str(), UNKNOWN_VERSION),
        Row::key_not_found(),
    );
    // A version of another key of the caller, and of another account's key.
    for v in [sibling_versions[0].key_version_id, theirs_version] {
        assert_row(
            k.describe_version(mine.as_str(), v.as_str()),
            Row::key_not_found(),
        );
    }
    // The same versions under their own key do describe.
    assert_eq!(
        k.describe_version(
            sibling.as_str(),
            sibling_versions[1].key_version_id.as_str()
        )
        .unwrap()
        .key_id,
        sibling
    );
    assert_eq!(
        k.describe_version(mine.as_str(), mine_versions[1].key_version_id.as_str())
            .unwrap()
            .version,
        mine_versions[1]
    );
}

#[test]
fn describe_key_version_parameters() {
    let mut k = Kms::new(45);
    let key = k.key();
    let v = k.stored(&key).unwrap().primary;
    let upper = v.as_str().to_ascii_uppercase();
    let short = &v.as_str()[..35];
    let long = format!("{}0", v.as_str());
    let braced = format!("{{{}}}", v.as_str());
    let unhyphenated = v.as_str().replace('-', "");
    for bad in [
        "",
        "x",
        upper.as_str(),
        short,
        long.as_str(),
        braced.as_str(),
        unhyphenated.as_str(),
        UNKNOWN_KEY_ID_SHORT,
        " 2ab1a983-7072-4bbc-a582-584b5bd80000",
        "2ab1a983-7072-4bbc-a582-584b5bd8000g",
    ] {
        assert_row(
            k.describe_version(key.as_str(), bad),
            Row::invalid("KeyVersionId"),
        );
        // The version is parsed after the key ID, before the key is looked up.
        assert_row(
            k.describe_version(UNKNOWN_KEY_ID_SHORT, bad),
            Row::invalid("KeyVersionId"),
        );
    }
    assert_row(
        k.describe_version_as(&owner(), key.as_str(), None),
        Row::missing("KeyVersionId"),
    );
    assert_row(params::key_id(None).map(|_| ()), Row::missing("KeyId"));
    assert_eq!(
        params::key_version_id(Some(v.as_str())).unwrap(),
        v,
        "a version ID round-trips"
    );
    // A key ID in UUID form is well-formed as a version ID, and names no version.
    assert_row(
        k.describe_version(key.as_str(), key.as_str()),
        if key.as_str().len() == 36 {
            Row::key_not_found()
        } else {
            Row::invalid("KeyVersionId")
        },
    );
}

#[test]
fn key_resolution_errors() {
    let mut k = Kms::new(46);
    let key = k.key();
    let v = k.stored(&key).unwrap().primary;
    let v = v.as_str();
    let arn = key_arn(REGION, ACCOUNT, &key);
    let cases: [(&Caller<'_>, &str, Row); 5] = [
        (&owner(), UNKNOWN_KEY_ID_SHORT, Row::key_not_found()),
        (&owner(), "alias/nothing", Row::alias_not_found()),
        // Another account by ID sees nothing; by ARN reaches the key but may not manage it.
        (&other(), key.as_str(), Row::key_not_found()),
        (&other(), &arn, Row::no_permission()),
        (&elsewhere(), key.as_str(), Row::key_not_found()),
    ];
    for (caller, form, row) in cases {
        assert_row(k.list_versions_as(caller, form, None, None), row.clone());
        assert_row(k.describe_version_as(caller, form, Some(v)), row);
    }
}

#[test]
fn versions_list_in_every_state_until_the_deletion_is_due() {
    let mut k = Kms::new(47);
    let (key, versions) = k.key_with_versions(2);
    let text = key.as_str();
    k.now = T0 + secs(10 * DAY_SECS);
    k.disable(text).unwrap();
    assert_eq!(k.list_versions(text, Page::default()).unwrap().total, 2);
    k.enable(text).unwrap();
    k.schedule(text, 7).unwrap();
    assert_eq!(k.list_versions(text, Page::default()).unwrap().total, 2);
    assert!(
        k.describe_version(text, versions[0].key_version_id.as_str())
            .is_ok()
    );
    // A key pending import has its first version, without material.
    let importing = k.external_key(MasterKeySpec::Aes256);
    let r = k
        .list_versions(importing.as_str(), Page::default())
        .unwrap();
    assert_eq!(r.total, 1);
    assert_eq!(
        r.items[0].version.key_version_id,
        k.stored(&importing).unwrap().primary
    );
    assert_eq!(k.stored(&importing).unwrap().origin, KeyOrigin::External);
    // Once the deletion date passes the key is gone, before housekeeping ran and after.
    k.now += secs(7 * DAY_SECS);
    assert_row(k.list_versions(text, Page::default()), Row::key_not_found());
    assert_row(
        k.describe_version(text, versions[1].key_version_id.as_str()),
        Row::key_not_found(),
    );
    assert_eq!(k.delete_due(), [key]);
    assert_row(k.list_versions(text, Page::default()), Row::key_not_found());
}

#[test]
fn listing_and_describing_change_nothing() {
    let mut k = Kms::new(48);
    let (key, versions) = k.key_with_versions(3);
    let before = k.stored(&key);
    let generation = kms_core::management::KeyStore::generation(&k.provider);
    for _ in 0..3 {
        k.list_versions(key.as_str(), Page { number: 1, size: 2 })
            .unwrap();
        k.describe_version(key.as_str(), versions[0].key_version_id.as_str())
            .unwrap();
    }
    assert_eq!(k.stored(&key), before);
    assert_eq!(
        kms_core::management::KeyStore::generation(&k.provider),
        generation
    );
}
