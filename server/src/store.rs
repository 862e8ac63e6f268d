//! The embedded store: one SQLite database (through `rusqlite`, SQLite compiled in) with one
//! row per key, key version, alias and AccessKey, each body sealed under the wrapping key.
//!
//! **Why SQLite.** It is the most used embedded transactional database there is, its
//! durability and crash behaviour are documented and tested to a standard few projects
//! reach, and its model (tables, rows, transactions in SQL) is the one a shared PostgreSQL
//! store keeps: the schema and the statements below carry over, only the connection changes.
//! `redb` would have served too; it is younger and its model (typed key-value tables) would
//! not carry over to PostgreSQL.
//!
//! **Durable before visible.** [`Store::apply`] writes what a staged change does to the
//! records ([`InMemoryProvider::record_changes`]) in one transaction, with the journal in WAL
//! mode and `synchronous = FULL` (the transaction is on disk, fsynced, when the commit
//! returns). The service commits the change to the provider, where the data-key operations
//! see it, only after that; a failed write leaves the store and the provider as they were.
//! When a write fails in a way that leaves it uncertain whether the commit reached the disk
//! (an fsync error after the commit record was written, say), the store reopens the
//! database and reads its generation back: the change is reported written exactly when it
//! is there.
//!
//! **Schema** (`PRAGMA user_version = 2`; a version 1 store gains the last two tables at
//! its first start under this server):
//!
//! ```text
//! state       (id = 1, body)                    sealed: store ID (16 bytes) || u64 generation
//!                                                       || u64 seal limit
//! keys        (seq, key_id UNIQUE, body)        sealed key record, in creation order (seq)
//! versions    (seq, version_id UNIQUE, key_id, body, seals)
//!                                               sealed version record (holds the material);
//!                                               seals: the version's seal count, in the clear
//! aliases     (name PRIMARY KEY, key_id, body)  sealed alias record
//! access_keys (id PRIMARY KEY, body)            sealed JSON {AccessKeyId, AccessKeySecret, Account}
//! replay_floors (access_key_id PRIMARY KEY, body)
//!                                               sealed u64: the latest request timestamp (Unix
//!                                               seconds) an AccessKey may have had admitted
//!                                               ahead of the server's clock
//! instance    (id = 1, body)                    sealed: the local KMS instance's ID (`kst-…`)
//! client_keys (id PRIMARY KEY, body)            sealed JSON {KeyId, PublicKey, Account, Region,
//!                                               Instance}: an issued client key of the
//!                                               KMS-instance API (never its private key)
//! ```
//!
//! Every body is a container of the core's sealed framing ([`kms_core::container`]) whose
//! magic names the table (`KMSSTAT1`, `KMSSKEY1`, `KMSSVER1`, `KMSSALS1`, `KMSSACK1`, `KMSSINS1`,
//! `KMSSCLK1`) and whose
//! plaintext starts with the row's name (`u16be length || name`), so a body moved to another
//! row or another table does not open. The record bodies are the core's
//! ([`kms_core::in_memory::records`]).
//!
//! **Generation.** Every change moves the generation on, in the same transaction. The
//! generation last seen is also kept outside the database, in `{store}.generation` (sealed,
//! replaced atomically after every change, and fsynced at start, at housekeeping ticks and at
//! shutdown): a store older than that, or another store put in its place, is refused at
//! start. An operator who restores a backup on purpose removes that file first.
//!
//! **Files.** The database file is created 0600 by the server (`O_EXCL`, so a planted file or
//! symlink is refused) before SQLite opens it with `SQLITE_OPEN_NOFOLLOW`; SQLite creates its
//! `-wal` and `-shm` files with the database file's permissions, and a symlink in their place
//! is refused at start. SQLite recovers what a crash leaves in its WAL itself; the temporary
//! files of the generation file are removed at start.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use kms_core::in_memory::records::{Record, RecordChange, RecordKind, StoredRecord};
use kms_core::{InMemoryProvider, KeyVersionId, container};
use rusqlite::{Connection, OpenFlags, TransactionBehavior, params};
use zeroize::Zeroizing;

use crate::config::AccessKey;
use crate::instance::client_key::ClientKey;
use crate::keyring::{StoredAccessKey, remove_stale_temporaries, replace_file};

/// The schema version this server writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 2;

pub(crate) const STATE: &[u8; 8] = b"KMSSTAT1";
pub(crate) const KEY: &[u8; 8] = b"KMSSKEY1";
pub(crate) const VERSION: &[u8; 8] = b"KMSSVER1";
pub(crate) const ALIAS: &[u8; 8] = b"KMSSALS1";
pub(crate) const ACCESS_KEY: &[u8; 8] = b"KMSSACK1";
const WITNESS: &[u8; 8] = b"KMSSGEN1";
pub(crate) const FLOOR: &[u8; 8] = b"KMSSFLR1";
pub(crate) const INSTANCE: &[u8; 8] = b"KMSSINS1";
pub(crate) const CLIENT_KEY: &[u8; 8] = b"KMSSCLK1";
/// The tables schema version 2 added (the KMS-instance API).
const SCHEMA_2_TABLES: &str =
    "CREATE TABLE IF NOT EXISTS instance (id INTEGER PRIMARY KEY CHECK (id = 1),
                                                           body BLOB NOT NULL);
     CREATE TABLE IF NOT EXISTS client_keys (id TEXT PRIMARY KEY, body BLOB NOT NULL);
     PRAGMA user_version = 2;";
/// The format version of every container the store writes.
const FORMAT: u16 = 1;

/// Why the store could not be opened or written.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The file system failed (or refused: read-only, full).
    Io(io::Error),
    /// SQLite failed (or refused: read-only, full, corrupt).
    Database(rusqlite::Error),
    /// A body does not open under the wrapping key (wrong key, or altered), or a record does
    /// not parse.
    Sealed(&'static str),
    /// The store is older than the one this server last saw, or another store is in its place.
    RolledBack {
        /// The generation last seen.
        seen: u64,
        /// The store's generation.
        found: u64,
    },
    /// The store was written by a newer server.
    UnsupportedSchema(i64),
    /// The store is not empty (for an import).
    NotEmpty,
    /// A path the server creates is a symlink.
    Symlink(PathBuf),
    /// PostgreSQL failed or refused (the shared store).
    Postgres(Box<postgres::Error>),
    /// The shared store's schema migrations failed.
    Migration(String),
    /// Another replica changed keys since this one last caught up: nothing was written.
    Stale,
    /// The shared store cannot be reached now.
    Unreachable,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Io(e) => write!(f, "the store's file system failed: {e}"),
            StoreError::Database(e) => write!(f, "the store failed: {e}"),
            StoreError::Postgres(e) => write!(f, "the shared store failed: {e}"),
            StoreError::Migration(e) => {
                write!(f, "the shared store's schema migration failed: {e}")
            }
            StoreError::Stale => write!(f, "another replica changed keys first"),
            StoreError::Unreachable => write!(f, "the shared store cannot be reached"),
            StoreError::Sealed(what) => write!(
                f,
                "the store does not open under the wrapping key, or was altered ({what})"
            ),
            StoreError::RolledBack { seen, found } => write!(
                f,
                "the store is at generation {found}, older than the generation {seen} last seen \
                 (or another store is in its place); restoring a backup on purpose: remove the \
                 .generation file beside the store first"
            ),
            StoreError::UnsupportedSchema(v) => {
                write!(
                    f,
                    "the store's schema version {v} is newer than this server's"
                )
            }
            StoreError::NotEmpty => f.write_str("the store already holds keys"),
            StoreError::Symlink(p) => write!(f, "{} is a symlink; refused", p.display()),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(e)
    }
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        StoreError::Io(e)
    }
}

/// Where the KMS-instance API keeps its instance ID and client keys: the embedded store
/// ([`Store`]) or the shared one ([`crate::shared::PgStore`]).
pub trait InstanceStore {
    /// The local KMS instance's ID, if one was kept.
    ///
    /// # Errors
    /// [`StoreError`].
    fn instance_id(&self) -> Result<Option<String>, StoreError>;

    /// Keeps `id` as the local KMS instance's ID, durably, unless one is kept already (read it
    /// back with [`instance_id`](Self::instance_id): replicas starting together keep one).
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    fn put_instance_id(&self, id: &str) -> Result<(), StoreError>;

    /// The client keys issued, in the order of their IDs.
    ///
    /// # Errors
    /// [`StoreError`], also for a row that does not parse.
    fn client_keys(&self) -> Result<Vec<ClientKey>, StoreError>;

    /// Keeps an issued client key (its public key and scope), durably.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written (also when the ID is taken).
    fn put_client_key(&self, client_key: &ClientKey) -> Result<(), StoreError>;
}

impl InstanceStore for Store {
    fn instance_id(&self) -> Result<Option<String>, StoreError> {
        Store::instance_id(self)
    }

    fn put_instance_id(&self, id: &str) -> Result<(), StoreError> {
        Store::put_instance_id(self, id)
    }

    fn client_keys(&self) -> Result<Vec<ClientKey>, StoreError> {
        Store::client_keys(self)
    }

    fn put_client_key(&self, client_key: &ClientKey) -> Result<(), StoreError> {
        Store::put_client_key(self, client_key)
    }
}

/// What a store holds, as loaded at start.
#[derive(Debug)]
pub struct Loaded {
    /// The keys, versions and aliases.
    pub provider: InMemoryProvider,
    /// The AccessKey pairs kept in the store; empty when none were.
    pub access_keys: Vec<AccessKey>,
    /// Whether the store was made by this start.
    pub created: bool,
}

/// The store's state row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    store_id: [u8; 16],
    generation: u64,
    seal_limit: u64,
}

struct Inner {
    /// `None` after a failure, until the next write reopens it.
    conn: Option<Connection>,
    state: State,
    /// Whether writes are refused at the database level ([`Store::set_read_only`]).
    read_only: bool,
}

/// An open store. Writes are serialised by a mutex of its own.
pub struct Store {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .field("key", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

fn is_symlink(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut out = [0u8; N];
    kms_core::rand_core::TryRng::try_fill_bytes(&mut kms_core::OsRng, &mut out)
        .map_err(|_| StoreError::Io(io::Error::other("the OS RNG failed")))?;
    Ok(out)
}

/// Seals `body` for the row `name` of the table `magic`.
pub(crate) fn seal_row(
    key: &[u8; 32],
    magic: &[u8; 8],
    name: &str,
    body: &[u8],
) -> Result<Vec<u8>, StoreError> {
    let name_len = u16::try_from(name.len()).map_err(|_| StoreError::Sealed("name too long"))?;
    let mut buf = container::buffer(2 + name.len() + body.len());
    buf.extend_from_slice(&name_len.to_be_bytes());
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(body);
    container::seal(magic, FORMAT, key, &mut kms_core::OsRng, buf)
        .map_err(|_| StoreError::Io(io::Error::other("the OS RNG failed")))
}

/// Opens the body of the row `name` of the table `magic`.
pub(crate) fn open_row(
    key: &[u8; 32],
    magic: &[u8; 8],
    name: &str,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let what = match magic {
        STATE => "state",
        KEY => "a key",
        VERSION => "a key version",
        ALIAS => "an alias",
        ACCESS_KEY => "an AccessKey",
        FLOOR => "a replay floor",
        INSTANCE => "the instance ID",
        CLIENT_KEY => "a client key",
        _ => "the generation file",
    };
    let plain =
        container::open(magic, FORMAT, key, sealed).map_err(|_| StoreError::Sealed(what))?;
    let len = plain
        .get(..2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or(StoreError::Sealed(what))?;
    if plain.get(2..2 + len) != Some(name.as_bytes()) {
        return Err(StoreError::Sealed(what));
    }
    Ok(Zeroizing::new(plain[2 + len..].to_vec()))
}

/// The ImportToken key derived from wrapping key `key` (see [`Store::import_token_key`]).
pub(crate) fn import_token_key_of(key: &[u8; 32]) -> kms_core::management::import::ImportTokenKey {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key[..])
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(b"kms-server import token key v1");
    let mut bytes = Zeroizing::new([0u8; 32]);
    bytes.copy_from_slice(&mac.finalize().into_bytes());
    kms_core::management::import::ImportTokenKey::new(*bytes)
}

impl State {
    fn seal(&self, key: &[u8; 32]) -> Result<Vec<u8>, StoreError> {
        let mut body = [0u8; 32];
        body[..16].copy_from_slice(&self.store_id);
        body[16..24].copy_from_slice(&self.generation.to_be_bytes());
        body[24..].copy_from_slice(&self.seal_limit.to_be_bytes());
        seal_row(key, STATE, "state", &body)
    }

    fn open(key: &[u8; 32], magic: &[u8; 8], sealed: &[u8]) -> Result<Self, StoreError> {
        let body = open_row(key, magic, "state", sealed)?;
        let body: &[u8; 32] = body
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Sealed("state"))?;
        let mut store_id = [0u8; 16];
        store_id.copy_from_slice(&body[..16]);
        let u64_at = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[i..i + 8]);
            u64::from_be_bytes(b)
        };
        Ok(State {
            store_id,
            generation: u64_at(16),
            seal_limit: u64_at(24),
        })
    }
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NOFOLLOW
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(io::Error::other(format!(
            "the store's journal mode is {mode}, not WAL"
        ))));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

fn read_state(conn: &Connection, key: &[u8; 32]) -> Result<State, StoreError> {
    let sealed: Vec<u8> =
        conn.query_row("SELECT body FROM state WHERE id = 1", [], |r| r.get(0))?;
    State::open(key, STATE, &sealed)
}

impl Store {
    /// The key that seals this server's ImportTokens (GetParametersForImport): derived from
    /// the store's wrapping key, HMAC-SHA256 keyed with it over a fixed label, so a token made
    /// before a restart is still accepted after it (within its 24 hours), and the token key is
    /// never the wrapping key itself.
    pub fn import_token_key(&self) -> kms_core::management::import::ImportTokenKey {
        import_token_key_of(&self.key)
    }

    /// Opens the store at `path` (making it when it does not exist) under the wrapping key
    /// `key`, checks it against the generation last seen, and loads it. `seal_limit` is the
    /// seal limit of a store made now (at most 2^32, as the provider clamps it); an existing
    /// store keeps its own.
    ///
    /// # Errors
    /// [`StoreError`]; nothing was changed on disk except a new, empty store.
    pub fn open(
        path: &Path,
        key: Zeroizing<[u8; 32]>,
        seal_limit: u64,
    ) -> Result<(Store, Loaded), StoreError> {
        for p in [
            path.to_path_buf(),
            suffixed(path, "-wal"),
            suffixed(path, "-shm"),
        ] {
            if is_symlink(&p) {
                return Err(StoreError::Symlink(p));
            }
        }
        let witness_path = suffixed(path, ".generation");
        let _ = remove_stale_temporaries(&witness_path);
        let mut created = false;
        if fs::symlink_metadata(path).is_err() {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(path)?.sync_all()?;
            created = true;
        }
        let mut conn = connect(path)?;
        let schema: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let state = match schema {
            0 => {
                let state = State {
                    store_id: random()?,
                    generation: 0,
                    // The limit the provider will hold, so that the store loads back.
                    seal_limit: InMemoryProvider::new()
                        .with_seal_limit(seal_limit)
                        .seal_limit(),
                };
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute_batch(
                    "CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), body BLOB NOT NULL);
                     CREATE TABLE keys (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                                        key_id TEXT NOT NULL UNIQUE, body BLOB NOT NULL);
                     CREATE TABLE versions (seq INTEGER PRIMARY KEY AUTOINCREMENT,
                                            version_id TEXT NOT NULL UNIQUE,
                                            key_id TEXT NOT NULL, body BLOB NOT NULL,
                                            seals INTEGER NOT NULL DEFAULT 0);
                     CREATE INDEX versions_by_key ON versions (key_id);
                     CREATE TABLE aliases (name TEXT PRIMARY KEY, key_id TEXT NOT NULL,
                                           body BLOB NOT NULL);
                     CREATE INDEX aliases_by_key ON aliases (key_id);
                     CREATE TABLE access_keys (id TEXT PRIMARY KEY, body BLOB NOT NULL);
                     CREATE TABLE replay_floors (access_key_id TEXT PRIMARY KEY,
                                                 body BLOB NOT NULL);",
                )?;
                tx.execute_batch(SCHEMA_2_TABLES)?;
                tx.execute(
                    "INSERT INTO state (id, body) VALUES (1, ?1)",
                    params![state.seal(&key)?],
                )?;
                tx.commit()?;
                created = true;
                state
            }
            1 => {
                // Version 1 to 2: the KMS-instance API's tables, nothing else changes.
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute_batch(SCHEMA_2_TABLES)?;
                tx.commit()?;
                read_state(&conn, &key)?
            }
            SCHEMA_VERSION => read_state(&conn, &key)?,
            other => return Err(StoreError::UnsupportedSchema(other)),
        };
        if let Some(seen) = read_witness(&witness_path, &key)?
            && (seen.store_id != state.store_id || seen.generation > state.generation)
        {
            return Err(StoreError::RolledBack {
                seen: seen.generation,
                found: state.generation,
            });
        }
        let provider = load_provider(&conn, &key, state.seal_limit)?;
        let access_keys = load_access_keys(&conn, &key)?;
        let store = Store {
            path: path.to_path_buf(),
            key,
            inner: Mutex::new(Inner {
                conn: Some(conn),
                state,
                read_only: false,
            }),
        };
        store.write_witness()?;
        Ok((
            store,
            Loaded {
                provider,
                access_keys,
                created,
            },
        ))
    }

    /// Reads the store at `path` without writing anything (no generation file, no new store):
    /// what is on disk now, for tools and tests. Safe while a server has the store open.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn peek(path: &Path, key: &[u8; 32]) -> Result<Loaded, StoreError> {
        if is_symlink(path) {
            return Err(StoreError::Symlink(path.to_path_buf()));
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let conn = Connection::open_with_flags(path, flags)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let state = read_state(&conn, key)?;
        Ok(Loaded {
            provider: load_provider(&conn, key, state.seal_limit)?,
            access_keys: load_access_keys(&conn, key)?,
            created: false,
        })
    }

    /// The store's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses (or allows again) every write at the database level, as a database on a
    /// read-only file system does: SQLite's `query_only`, so a write fails inside SQLite with
    /// `SQLITE_READONLY`. For maintenance and for fault-injection tests (a mounted file system
    /// cannot be made read-only while the server holds its files open for writing).
    ///
    /// # Errors
    /// SQLite's error setting it on the open connection.
    pub fn set_read_only(&self, read_only: bool) -> Result<(), StoreError> {
        let mut inner = self.lock();
        inner.read_only = read_only;
        if let Some(conn) = &inner.conn {
            conn.pragma_update(None, "query_only", read_only)?;
        }
        Ok(())
    }

    /// The store's generation: how many changes it has taken.
    pub fn generation(&self) -> u64 {
        self.lock().state.generation
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Writes `changes` in one transaction and moves the generation on. When this returns
    /// `Ok`, the change is on disk; when it returns an error, it is not.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    pub fn apply(&self, changes: &[RecordChange]) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let next = State {
            generation: inner.state.generation + 1,
            ..inner.state
        };
        let sealed_state = next.seal(&self.key)?;
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            rows.push(match change {
                RecordChange::Put(record) => Some((record, self.seal_record(record)?)),
                _ => None,
            });
        }
        let result = self.with_connection(&mut inner, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for (change, sealed) in changes.iter().zip(&rows) {
                write_change(&tx, change, sealed.as_ref().map(|(_, s)| s.as_slice()))?;
            }
            tx.execute(
                "UPDATE state SET body = ?1 WHERE id = 1",
                params![sealed_state],
            )?;
            tx.commit()?;
            Ok(())
        });
        self.settle(&mut inner, result, next)
    }

    /// Decides a write's outcome. On success the new state is taken. On failure the
    /// connection is dropped and the database reopened to read its generation back: a commit
    /// that reached the disk despite the error (an fsync that failed after the commit record
    /// was written) counts as written, anything else as not.
    fn settle(
        &self,
        inner: &mut Inner,
        result: Result<(), StoreError>,
        next: State,
    ) -> Result<(), StoreError> {
        match result {
            Ok(()) => {
                inner.state = next;
                self.note_generation(next);
                Ok(())
            }
            Err(e) => {
                inner.conn = None;
                if let Ok(conn) = connect(&self.path)
                    && conn
                        .pragma_update(None, "query_only", inner.read_only)
                        .is_ok()
                    && let Ok(found) = read_state(&conn, &self.key)
                {
                    inner.conn = Some(conn);
                    if found == next {
                        inner.state = next;
                        self.note_generation(next);
                        return Ok(());
                    }
                }
                Err(e)
            }
        }
    }

    fn with_connection<T>(
        &self,
        inner: &mut Inner,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if inner.conn.is_none() {
            let conn = connect(&self.path)?;
            conn.pragma_update(None, "query_only", inner.read_only)?;
            // The store must still be the one this server wrote.
            if read_state(&conn, &self.key)? != inner.state {
                return Err(StoreError::RolledBack {
                    seen: inner.state.generation,
                    found: read_state(&conn, &self.key)?.generation,
                });
            }
            inner.conn = Some(conn);
        }
        match inner.conn.as_mut() {
            Some(conn) => f(conn),
            None => Err(StoreError::Io(io::Error::other("no connection"))),
        }
    }

    fn seal_record(&self, record: &Record) -> Result<Vec<u8>, StoreError> {
        let magic = match record.kind {
            RecordKind::Key => KEY,
            RecordKind::Version => VERSION,
            RecordKind::Alias => ALIAS,
        };
        seal_row(&self.key, magic, &record.name, &record.body)
    }

    /// Writes the seal counts of `counts` (versions that no longer exist are skipped), in one
    /// transaction.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    pub fn write_seal_counts(&self, counts: &[(KeyVersionId, u64)]) -> Result<(), StoreError> {
        if counts.is_empty() {
            return Ok(());
        }
        let mut inner = self.lock();
        let result = self.with_connection(&mut inner, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            {
                let mut update =
                    tx.prepare_cached("UPDATE versions SET seals = ?2 WHERE version_id = ?1")?;
                for (version, seals) in counts {
                    let seals = i64::try_from(*seals).unwrap_or(i64::MAX);
                    update.execute(params![version.as_str(), seals])?;
                }
            }
            tx.commit()?;
            Ok(())
        });
        if result.is_err() {
            inner.conn = None;
        }
        result
    }

    /// Puts every key, version and alias of `provider` (with their seal counts, and the
    /// provider's seal limit) and `access_keys` into this store, which must hold no key: an
    /// import of a snapshot, or of a keyring file from before the store. One transaction.
    ///
    /// # Errors
    /// [`StoreError::NotEmpty`], or a failed write (nothing was written).
    pub fn import(
        &self,
        provider: &InMemoryProvider,
        access_keys: &[AccessKey],
    ) -> Result<(), StoreError> {
        let records = provider
            .records()
            .map_err(|_| StoreError::Sealed("a record too long for the format"))?;
        let mut changes = Vec::with_capacity(records.len());
        let mut counts = Vec::new();
        provider.visit_seal_counts(&mut |v, n| counts.push((*v, n)));
        let mut inner = self.lock();
        let next = State {
            generation: inner.state.generation + 1,
            seal_limit: provider.seal_limit(),
            ..inner.state
        };
        let sealed_state = next.seal(&self.key)?;
        for record in &records {
            changes.push(self.seal_record(record)?);
        }
        let mut access = Vec::with_capacity(access_keys.len());
        for k in access_keys {
            access.push((k.id.clone(), self.seal_access_key(k)?));
        }
        let result = self.with_connection(&mut inner, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let keys: i64 = tx.query_row("SELECT count(*) FROM keys", [], |r| r.get(0))?;
            if keys > 0 {
                return Err(StoreError::NotEmpty);
            }
            for (record, sealed) in records.iter().zip(&changes) {
                put_row(&tx, record, sealed)?;
            }
            {
                let mut update =
                    tx.prepare_cached("UPDATE versions SET seals = ?2 WHERE version_id = ?1")?;
                for (version, seals) in &counts {
                    let seals = i64::try_from(*seals).unwrap_or(i64::MAX);
                    update.execute(params![version.as_str(), seals])?;
                }
            }
            tx.execute("DELETE FROM access_keys", [])?;
            for (id, sealed) in &access {
                tx.execute(
                    "INSERT INTO access_keys (id, body) VALUES (?1, ?2)",
                    params![id, sealed],
                )?;
            }
            tx.execute(
                "UPDATE state SET body = ?1 WHERE id = 1",
                params![sealed_state],
            )?;
            tx.commit()?;
            Ok(())
        });
        if matches!(result, Err(StoreError::NotEmpty)) {
            return result;
        }
        self.settle(&mut inner, result, next)
    }

    fn seal_access_key(&self, key: &AccessKey) -> Result<Vec<u8>, StoreError> {
        let json = Zeroizing::new(
            serde_json::to_vec(&StoredAccessKey::of(key))
                .map_err(|_| StoreError::Sealed("an AccessKey"))?,
        );
        seal_row(&self.key, ACCESS_KEY, &key.id, &json)
    }

    /// Replaces the AccessKey pairs kept in the store with `keys`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    pub fn put_access_keys(&self, keys: &[AccessKey]) -> Result<(), StoreError> {
        let mut sealed = Vec::with_capacity(keys.len());
        for k in keys {
            sealed.push((k.id.clone(), self.seal_access_key(k)?));
        }
        let mut inner = self.lock();
        let result = self.with_connection(&mut inner, |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM access_keys", [])?;
            for (id, body) in &sealed {
                tx.execute(
                    "INSERT INTO access_keys (id, body) VALUES (?1, ?2)",
                    params![id, body],
                )?;
            }
            tx.commit()?;
            Ok(())
        });
        if result.is_err() {
            inner.conn = None;
        }
        result
    }

    /// The replay floors: for each AccessKey, the latest request timestamp (Unix seconds) it
    /// may have had admitted ahead of the server's clock ([`Store::raise_replay_floor`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn replay_floors(&self) -> Result<HashMap<String, u64>, StoreError> {
        let mut inner = self.lock();
        let key = &self.key;
        self.with_connection(&mut inner, |conn| {
            let mut out = HashMap::new();
            let sql = "SELECT access_key_id, body, 0 FROM replay_floors";
            for_each_opened(conn, key, FLOOR, sql, |id, body, _| {
                let secs: [u8; 8] = body
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Sealed("a replay floor"))?;
                out.insert(id, u64::from_be_bytes(secs));
                Ok(())
            })?;
            Ok(out)
        })
    }

    /// Raises AccessKey `access_key_id`'s replay floor to `until` (Unix seconds), durably: a
    /// request signed ahead of the server's clock is admitted only once the floor covers its
    /// timestamp, so that after a restart it is refused as a replay.
    ///
    /// # Errors
    /// [`StoreError`]: the floor is unchanged.
    pub fn raise_replay_floor(&self, access_key_id: &str, until: u64) -> Result<(), StoreError> {
        let sealed = seal_row(&self.key, FLOOR, access_key_id, &until.to_be_bytes())?;
        let mut inner = self.lock();
        let result = self.with_connection(&mut inner, |conn| {
            conn.prepare_cached(
                "INSERT INTO replay_floors (access_key_id, body) VALUES (?1, ?2)
                 ON CONFLICT (access_key_id) DO UPDATE SET body = excluded.body",
            )?
            .execute(params![access_key_id, sealed])?;
            Ok(())
        });
        if result.is_err() {
            inner.conn = None;
        }
        result
    }

    /// The local KMS instance's ID, if one was made ([`Store::put_instance_id`]).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn instance_id(&self) -> Result<Option<String>, StoreError> {
        let mut inner = self.lock();
        let key = &self.key;
        self.with_connection(&mut inner, |conn| {
            let mut found = None;
            let sql = "SELECT 'instance', body, 0 FROM instance WHERE id = 1";
            for_each_opened(conn, key, INSTANCE, sql, |_, body, _| {
                let id = String::from_utf8(body.to_vec())
                    .map_err(|_| StoreError::Sealed("the instance ID"))?;
                found = Some(id);
                Ok(())
            })?;
            Ok(found)
        })
    }

    /// Keeps `id` as the local KMS instance's ID, durably (on disk when this returns). Done
    /// once, at the first start that serves the instance API; an ID already kept is not
    /// replaced (the call then fails).
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    pub fn put_instance_id(&self, id: &str) -> Result<(), StoreError> {
        let sealed = seal_row(&self.key, INSTANCE, "instance", id.as_bytes())?;
        let mut inner = self.lock();
        let result = self.with_connection(&mut inner, |conn| {
            conn.execute(
                "INSERT INTO instance (id, body) VALUES (1, ?1)",
                params![sealed],
            )?;
            Ok(())
        });
        if result.is_err() {
            inner.conn = None;
        }
        result
    }

    /// The client keys issued ([`Store::put_client_key`]), in the order of their IDs.
    ///
    /// # Errors
    /// [`StoreError`], also for a row that does not parse.
    pub fn client_keys(&self) -> Result<Vec<ClientKey>, StoreError> {
        let mut inner = self.lock();
        let key = &self.key;
        self.with_connection(&mut inner, |conn| {
            let mut out = Vec::new();
            let sql = "SELECT id, body, 0 FROM client_keys ORDER BY id";
            for_each_opened(conn, key, CLIENT_KEY, sql, |id, json, _| {
                let client_key = ClientKey::from_json(&json)
                    .filter(|k| k.key_id == id)
                    .ok_or(StoreError::Sealed("a client key"))?;
                out.push(client_key);
                Ok(())
            })?;
            Ok(out)
        })
    }

    /// Keeps an issued client key (its public key and scope), durably: on disk when this
    /// returns, before its files are written and it is announced.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written (also when the ID is taken).
    pub fn put_client_key(&self, client_key: &ClientKey) -> Result<(), StoreError> {
        let json = client_key
            .to_json()
            .map_err(|_| StoreError::Sealed("a client key"))?;
        let sealed = seal_row(&self.key, CLIENT_KEY, &client_key.key_id, &json)?;
        let mut inner = self.lock();
        let result = self.with_connection(&mut inner, |conn| {
            conn.execute(
                "INSERT INTO client_keys (id, body) VALUES (?1, ?2)",
                params![client_key.key_id, sealed],
            )?;
            Ok(())
        });
        if result.is_err() {
            inner.conn = None;
        }
        result
    }

    /// Writes the generation file: the generation this server has seen, for the next start to
    /// check the store against; fsynced.
    ///
    /// # Errors
    /// An I/O error.
    pub fn write_witness(&self) -> Result<(), StoreError> {
        let state = self.lock().state;
        self.write_witness_of(state, true)
    }

    /// After a change: the generation file follows at once, without an fsync (the change
    /// itself is on disk already; the next housekeeping tick or the shutdown fsyncs the file).
    /// A failure here fails nothing: the next write of the file catches up.
    fn note_generation(&self, state: State) {
        if let Err(e) = self.write_witness_of(state, false) {
            eprintln!("kms-server: writing the generation file failed: {e}");
        }
    }

    fn write_witness_of(&self, state: State, durable: bool) -> Result<(), StoreError> {
        let mut body = [0u8; 32];
        body[..16].copy_from_slice(&state.store_id);
        body[16..24].copy_from_slice(&state.generation.to_be_bytes());
        body[24..].copy_from_slice(&state.seal_limit.to_be_bytes());
        let sealed = seal_row(&self.key, WITNESS, "state", &body)?;
        replace_file(&suffixed(&self.path, ".generation"), &sealed, durable)?;
        Ok(())
    }
}

fn read_witness(path: &Path, key: &[u8; 32]) -> Result<Option<State>, StoreError> {
    if is_symlink(path) {
        return Err(StoreError::Symlink(path.to_path_buf()));
    }
    match fs::read(path) {
        Ok(bytes) => Ok(Some(State::open(key, WITNESS, &bytes)?)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Writes one record change inside a transaction; `sealed` is the sealed body of a put.
fn write_change(
    tx: &rusqlite::Transaction<'_>,
    change: &RecordChange,
    sealed: Option<&[u8]>,
) -> Result<(), StoreError> {
    match (change, sealed) {
        (RecordChange::Put(record), Some(body)) => put_row(tx, record, body)?,
        (RecordChange::DeleteAlias { name }, _) => {
            tx.prepare_cached("DELETE FROM aliases WHERE name = ?1")?
                .execute(params![name])?;
        }
        (RecordChange::DeleteKey { key_id }, _) => {
            for sql in [
                "DELETE FROM aliases WHERE key_id = ?1",
                "DELETE FROM versions WHERE key_id = ?1",
                "DELETE FROM keys WHERE key_id = ?1",
            ] {
                tx.prepare_cached(sql)?.execute(params![key_id.as_str()])?;
            }
        }
        _ => {
            return Err(StoreError::Sealed(
                "a record change this store does not know",
            ));
        }
    }
    Ok(())
}

/// Writes the row of `record` with the sealed body `body`: made, or replaced in place (a key
/// keeps its place in the creation order, a version its seal count).
fn put_row(tx: &rusqlite::Transaction<'_>, record: &Record, body: &[u8]) -> Result<(), StoreError> {
    let sql = match record.kind {
        RecordKind::Key => {
            "INSERT INTO keys (key_id, body) VALUES (?1, ?3)
             ON CONFLICT (key_id) DO UPDATE SET body = excluded.body"
        }
        RecordKind::Version => {
            "INSERT INTO versions (version_id, key_id, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (version_id) DO UPDATE SET body = excluded.body"
        }
        RecordKind::Alias => {
            "INSERT INTO aliases (name, key_id, body) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, body = excluded.body"
        }
    };
    tx.prepare_cached(sql)?
        .execute(params![record.name, record.key_id.as_str(), body])?;
    Ok(())
}

fn load_provider(
    conn: &Connection,
    key: &[u8; 32],
    seal_limit: u64,
) -> Result<InMemoryProvider, StoreError> {
    // (kind, body, seals), bodies opened and zeroized on drop.
    let mut bodies: Vec<(RecordKind, Zeroizing<Vec<u8>>, u64)> = Vec::new();
    for (kind, magic, sql) in [
        (
            RecordKind::Key,
            KEY,
            "SELECT key_id, body, 0 FROM keys ORDER BY seq",
        ),
        (
            RecordKind::Version,
            VERSION,
            "SELECT version_id, body, seals FROM versions ORDER BY seq",
        ),
        (
            RecordKind::Alias,
            ALIAS,
            "SELECT name, body, 0 FROM aliases",
        ),
    ] {
        for_each_opened(conn, key, magic, sql, |_, body, seals| {
            bodies.push((kind, body, u64::try_from(seals).unwrap_or(0)));
            Ok(())
        })?;
    }
    InMemoryProvider::from_records(
        seal_limit,
        bodies.iter().map(|(kind, body, seals)| StoredRecord {
            kind: *kind,
            body,
            seals: *seals,
        }),
    )
    .map_err(|_| StoreError::Sealed("the records do not hang together"))
}

/// Runs `sql`, which selects (name, sealed body, a number), and calls `visit` with each row's
/// name, its body opened as a row of the table `magic`, and the number.
fn for_each_opened(
    conn: &Connection,
    key: &[u8; 32],
    magic: &[u8; 8],
    sql: &str,
    mut visit: impl FnMut(String, Zeroizing<Vec<u8>>, i64) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let sealed: Vec<u8> = row.get(1)?;
        let number: i64 = row.get(2)?;
        let body = open_row(key, magic, &name, &sealed)?;
        visit(name, body, number)?;
    }
    Ok(())
}

fn load_access_keys(conn: &Connection, key: &[u8; 32]) -> Result<Vec<AccessKey>, StoreError> {
    let mut out = Vec::new();
    let sql = "SELECT id, body, 0 FROM access_keys ORDER BY id";
    for_each_opened(conn, key, ACCESS_KEY, sql, |_, json, _| {
        let stored: StoredAccessKey =
            serde_json::from_slice(&json).map_err(|_| StoreError::Sealed("an AccessKey"))?;
        out.push(stored.into_access_key());
        Ok(())
    })?;
    Ok(out)
}

/// Whether a store exists at `path` (a file, not necessarily valid).
pub fn exists(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}
