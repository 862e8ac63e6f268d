//! The embedded store on its own: files made 0600 and never through a symlink, what a crash
//! leaves behind removed, an older copy of the store (or another store) refused at start, a
//! body moved to another row refused, an import only into an empty store, and a change
//! written in one transaction whose cost does not depend on what else the store holds.

mod common;

use std::path::Path;

use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::{Caller, InMemoryProvider};
use kms_server::AccessKey;
use kms_server::keyring::parse_wrapping_key;
use kms_server::store::{Store, StoreError};

use common::{STORE_KEY_HEX, temp_dir};

fn key() -> zeroize::Zeroizing<[u8; 32]> {
    parse_wrapping_key(STORE_KEY_HEX).unwrap()
}

fn open(path: &Path) -> Result<(Store, InMemoryProvider), StoreError> {
    Store::open(path, key(), InMemoryProvider::new().seal_limit()).map(|(s, l)| (s, l.provider))
}

/// Creates a key durably, as the service does: its records written, then committed.
fn create_key(store: &Store, provider: &mut InMemoryProvider) -> kms_core::KeyId {
    let caller = Caller::new("5555555555555555", "cn-hangzhou");
    let staged = management::create_key(
        &*provider,
        &caller,
        &CreateKey::new(),
        &mut kms_core::OsRng,
        std::time::Duration::from_secs(1_700_000_000),
    )
    .unwrap();
    store
        .apply(&provider.record_changes(staged.change()).unwrap())
        .unwrap();
    provider.apply(staged).unwrap().key_id
}

#[test]
fn files_are_the_owners_and_symlinks_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir("store-files");
    let path = dir.join("kms.db");
    let (store, mut provider) = open(&path).unwrap();
    create_key(&store, &mut provider);
    for name in ["kms.db", "kms.db-wal", "kms.db-shm", "kms.db.generation"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{name}: {mode:o}");
    }
    drop(store);

    // A symlink where the store, its WAL or its generation file would be: refused, and the
    // file it points at is untouched.
    let victim = dir.join("victim");
    std::fs::write(&victim, b"do not touch").unwrap();
    for name in ["planted.db", "planted.db-wal", "planted.db.generation"] {
        let link = dir.join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err = open(&dir.join("planted.db")).map(|_| ()).unwrap_err();
        assert!(matches!(err, StoreError::Symlink(_)), "{name}: {err}");
        std::fs::remove_file(&link).unwrap();
        let _ = std::fs::remove_file(dir.join("planted.db"));
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not touch");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn what_a_crash_leaves_is_removed_and_a_planted_temporary_is_not_followed() {
    let dir = temp_dir("store-stale");
    let path = dir.join("kms.db");
    drop(open(&path).unwrap());
    // A temporary generation file a crash left, and a symlink planted under a temporary name.
    let stale = dir.join("kms.db.generation.tmp-1234-00000000deadbeef");
    std::fs::write(&stale, b"stale").unwrap();
    let victim = dir.join("victim");
    std::fs::write(&victim, b"do not touch").unwrap();
    let planted = dir.join("kms.db.generation.tmp-99-0000000000000001");
    std::os::unix::fs::symlink(&victim, &planted).unwrap();
    let (store, _) = open(&path).unwrap();
    assert!(!stale.exists());
    assert!(std::fs::symlink_metadata(&planted).is_err());
    store.write_witness().unwrap();
    assert_eq!(std::fs::read(&victim).unwrap(), b"do not touch");
    let _ = std::fs::remove_dir_all(&dir);
}

fn copy_store(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut f = from.as_os_str().to_owned();
        f.push(suffix);
        let mut t = to.as_os_str().to_owned();
        t.push(suffix);
        let _ = std::fs::remove_file(&t);
        if Path::new(&f).exists() {
            std::fs::copy(&f, &t).unwrap();
        }
    }
}

#[test]
fn an_older_store_or_another_store_is_refused_at_start() {
    let dir = temp_dir("store-rollback");
    let path = dir.join("kms.db");
    let backup = dir.join("backup.db");
    let (store, mut provider) = open(&path).unwrap();
    let first = create_key(&store, &mut provider);
    drop(store);
    copy_store(&path, &backup);
    let (store, mut provider) = open(&path).unwrap();
    let second = create_key(&store, &mut provider);
    assert_eq!(store.generation(), 2);
    drop(store);

    // The older copy put back: refused, with both generations named.
    copy_store(&backup, &path);
    match open(&path).map(|_| ()).unwrap_err() {
        StoreError::RolledBack { seen, found } => assert_eq!((seen, found), (2, 1)),
        other => panic!("{other}"),
    }
    // Another store in its place: refused too.
    let other = dir.join("other.db");
    drop(open(&other).unwrap());
    copy_store(&other, &path);
    assert!(matches!(
        open(&path).map(|_| ()).unwrap_err(),
        StoreError::RolledBack { .. }
    ));
    // An operator restoring the backup on purpose removes the generation file first.
    copy_store(&backup, &path);
    std::fs::remove_file(dir.join("kms.db.generation")).unwrap();
    let (_, provider) = open(&path).unwrap();
    assert!(provider.describe(&first).is_ok());
    assert!(provider.describe(&second).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_body_moved_to_another_row_or_a_wrong_key_is_refused() {
    let dir = temp_dir("store-moved");
    let path = dir.join("kms.db");
    let (store, mut provider) = open(&path).unwrap();
    create_key(&store, &mut provider);
    create_key(&store, &mut provider);
    drop(store);
    // The wrong wrapping key.
    let wrong = zeroize::Zeroizing::new([9u8; 32]);
    assert!(matches!(
        Store::open(&path, wrong, 0).map(|_| ()).unwrap_err(),
        StoreError::Sealed(_)
    ));
    // Swap the sealed bodies of the two keys.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        let rows: Vec<(i64, Vec<u8>)> = conn
            .prepare("SELECT seq, body FROM keys ORDER BY seq")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        for (i, (seq, _)) in rows.iter().enumerate() {
            conn.execute(
                "UPDATE keys SET body = ?1 WHERE seq = ?2",
                rusqlite::params![rows[1 - i].1, seq],
            )
            .unwrap();
        }
    }
    assert!(matches!(
        open(&path).map(|_| ()).unwrap_err(),
        StoreError::Sealed(_)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn imports_go_into_an_empty_store_only_and_keep_everything() {
    let dir = temp_dir("store-import");
    let mut source = InMemoryProvider::new().with_seal_limit(1000);
    let caller = Caller::new("5555555555555555", "cn-hangzhou");
    let staged = management::create_key(
        &source,
        &caller,
        &CreateKey::new(),
        &mut kms_core::OsRng,
        std::time::Duration::from_secs(1_700_000_000),
    )
    .unwrap();
    let key_id = source.apply(staged).unwrap().key_id;
    let pair = AccessKey::new(
        "LTAIimport000000000001",
        "import-secret",
        "5555555555555555",
    );

    let path = dir.join("kms.db");
    let (store, _) = open(&path).unwrap();
    store.import(&source, std::slice::from_ref(&pair)).unwrap();
    assert!(matches!(
        store.import(&source, &[]).unwrap_err(),
        StoreError::NotEmpty
    ));
    drop(store);
    let (_, loaded) = Store::open(&path, key(), 0).unwrap();
    assert_eq!(loaded.provider.seal_limit(), 1000);
    assert!(loaded.provider.describe(&key_id).is_ok());
    assert_eq!(loaded.access_keys, vec![pair]);
    assert!(!loaded.created);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_made_with_a_seal_limit_above_the_providers_loads_back() {
    // The provider holds at most 2^32 seals per version (spec §10): the store records the
    // limit the provider holds, so that it loads again.
    let dir = temp_dir("store-seal-limit");
    let path = dir.join("kms.db");
    let (store, loaded) = Store::open(&path, key(), u64::MAX).expect("a new store");
    assert_eq!(loaded.provider.seal_limit(), 1 << 32);
    drop(store);
    let (_, loaded) = Store::open(&path, key(), u64::MAX).expect("the store loads back");
    assert_eq!(loaded.provider.seal_limit(), 1 << 32);
}
