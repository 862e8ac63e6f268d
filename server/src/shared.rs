//! The shared store: PostgreSQL (`--store postgres://…`), for several replicas of kms-server
//! serving from one database.
//!
//! **The same rows as the embedded store.** Keys, versions and aliases are the core's records
//! ([`kms_core::in_memory::records`]), each body sealed under the wrapping key exactly as the
//! embedded store seals it ([`crate::store`]: same container, same magic per table, the row's
//! name bound inside): the database never holds key material or AccessKey secrets in the
//! clear. The schema is versioned (`server/migrations`, applied by `refinery` at start, under
//! an advisory lock so replicas starting together apply it once).
//!
//! **One writer at a time, decided by the database.** Every replica keeps the whole key set in
//! memory (an [`InMemoryProvider`]) and knows the cluster *generation* it reflects. A change is
//! written in one transaction that first locks the state row (`SELECT … FOR UPDATE`) and
//! compares the generation with the replica's: when another replica changed keys since, the
//! transaction writes nothing and the replica catches up and stages the change again
//! ([`StoreError::Stale`]), so of two conflicting changes exactly one commits and the other is
//! decided again on what won (two replicas creating one alias: one creates it, the other
//! answers that it exists). The rows a change writes carry its generation, and what it deletes
//! leaves a tombstone with it, so catching up reads only what changed since
//! ([`PgStore::changes_since`]); `NOTIFY kms_changes` tells the other replicas at once.
//!
//! **Seal budgets in blocks.** A version's row counts the seals reserved by all replicas
//! together; a replica reserves [`SEAL_BLOCK`] at a time ([`PgStore::reserve_seals`], an
//! atomic `UPDATE`), so the hot path makes no round trip but once per block, and the sum never
//! passes the limit (spec §10). Seals reserved by a replica that dies are lost, never reused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kms_core::in_memory::records::{RecordChange, RecordKind, StoredChange, StoredRecord};
use kms_core::{InMemoryProvider, KeyId, KeyVersionId};
use postgres::{Client, IsolationLevel, NoTls};
use zeroize::Zeroizing;

use crate::config::AccessKey;
use crate::instance::client_key::ClientKey;
use crate::keyring::StoredAccessKey;
use crate::store::{InstanceStore, Loaded, StoreError, open_row, seal_row};

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Seals a replica reserves from a version's budget at a time.
pub const SEAL_BLOCK: u64 = 1 << 16;

/// The notification channel of changes.
const CHANNEL: &str = "kms_changes";

/// Connections the store's worker threads keep (one change and one reservation can run at
/// once; catching up takes one of them).
const CONNECTIONS: usize = 2;

/// The advisory lock that serialises schema migrations across replicas starting together.
const MIGRATION_LOCK: i64 = 0x6b6d_735f_6d69_6772;

/// Tombstones older than this many generations are pruned; a replica further behind reloads.
const TOMBSTONE_WINDOW: i64 = 100_000;

type Job = Box<dyn FnOnce(&mut Option<Client>) + Send>;

/// The store's connections, each on a thread of its own: the `postgres` client blocks on a
/// runtime of its own, which must not run on one of the server's runtime threads.
struct Pool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Pool {
    fn new(config: postgres::Config) -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..CONNECTIONS {
            let rx = Arc::clone(&rx);
            let config = config.clone();
            std::thread::Builder::new()
                .name(format!("kms-store-{n}"))
                .spawn(move || {
                    let mut client: Option<Client> = None;
                    loop {
                        let job = {
                            let rx = rx.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                            rx.recv()
                        };
                        let Ok(job) = job else { return };
                        if client.as_ref().is_none_or(Client::is_closed) {
                            client = config.connect(NoTls).ok();
                        }
                        job(&mut client);
                    }
                })
                .ok();
        }
        Self {
            jobs: Mutex::new(tx),
        }
    }

    /// Runs `f` on a connection and waits for its result. A connection that broke is made
    /// again for the next call; when none can be made, the call fails at once.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |client: &mut Option<Client>| {
            let result = match client.as_mut() {
                Some(c) => f(c),
                None => Err(StoreError::Unreachable),
            };
            if client.as_ref().is_some_and(Client::is_closed) {
                *client = None;
            }
            let _ = tx.send(result);
        });
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| StoreError::Unreachable)?;
        rx.recv().map_err(|_| StoreError::Unreachable)?
    }
}

/// An open shared store.
pub struct PgStore {
    config: postgres::Config,
    key: Arc<Zeroizing<[u8; 32]>>,
    pool: Pool,
    /// The cluster generation the replica's provider reflects.
    seen: AtomicU64,
    seal_limit: u64,
    /// When the replica last confirmed it was current (caught up with the database), in
    /// milliseconds after `origin`.
    current_at: AtomicU64,
    origin: Instant,
    /// This replica's name in the `replicas` table.
    replica_id: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("host", &self.config.get_hosts())
            .field("dbname", &self.config.get_dbname())
            .field("key", &"[REDACTED]")
            .field("generation", &self.seen.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

/// Whether `text` names a shared store (`postgres://` or `postgresql://`).
pub fn is_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

fn db(e: postgres::Error) -> StoreError {
    StoreError::Postgres(Box::new(e))
}

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        db(e)
    }
}

/// What a replica reads to catch up: the generation, and the records and deletions since the
/// one it had.
pub struct Changes {
    /// The generation the records are at.
    pub generation: u64,
    /// Keys gone.
    pub gone_keys: Vec<KeyId>,
    /// Alias record names gone.
    pub gone_aliases: Vec<String>,
    /// Records as they are now (kind and opened body), keys and versions in row order.
    pub records: Vec<(RecordKind, Zeroizing<Vec<u8>>)>,
    /// Whether the replica is too far behind for tombstones: it must reload everything.
    pub reload: bool,
}

impl Changes {
    /// Applies these changes to `provider`.
    ///
    /// # Errors
    /// [`StoreError::Sealed`] when they do not hang together with what the provider holds.
    pub fn apply_to(&self, provider: &mut InMemoryProvider) -> Result<(), StoreError> {
        let changes = self
            .gone_keys
            .iter()
            .map(|k| StoredChange::DeleteKey(*k))
            .chain(
                self.gone_aliases
                    .iter()
                    .map(|n| StoredChange::DeleteAlias(n)),
            )
            .chain(self.records.iter().map(|(kind, body)| {
                StoredChange::Put(StoredRecord {
                    kind: *kind,
                    body,
                    seals: 0,
                })
            }));
        provider
            .apply_records(changes)
            .map_err(|_| StoreError::Sealed("records read back from the shared store"))
    }
}

fn kind_code(kind: RecordKind) -> i16 {
    match kind {
        RecordKind::Key => 0,
        RecordKind::Version => 1,
        RecordKind::Alias => 2,
    }
}

fn magic(kind: RecordKind) -> &'static [u8; 8] {
    match kind {
        RecordKind::Key => crate::store::KEY,
        RecordKind::Version => crate::store::VERSION,
        RecordKind::Alias => crate::store::ALIAS,
    }
}

fn to_i64(n: u64) -> Result<i64, StoreError> {
    i64::try_from(n).map_err(|_| StoreError::Sealed("a number out of range"))
}

fn to_u64(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| StoreError::Sealed("a negative number"))
}

/// The state row's sealed body: store ID (16 bytes) || seal limit (u64).
fn seal_state(key: &[u8; 32], store_id: &[u8; 16], seal_limit: u64) -> Result<Vec<u8>, StoreError> {
    let mut body = [0u8; 24];
    body[..16].copy_from_slice(store_id);
    body[16..].copy_from_slice(&seal_limit.to_be_bytes());
    seal_row(key, crate::store::STATE, "shared-state", &body)
}

fn open_state(key: &[u8; 32], sealed: &[u8]) -> Result<u64, StoreError> {
    let body = open_row(key, crate::store::STATE, "shared-state", sealed)?;
    let limit: [u8; 8] = body
        .get(16..24)
        .and_then(|b| b.try_into().ok())
        .filter(|_| body.len() == 24)
        .ok_or(StoreError::Sealed("state"))?;
    Ok(u64::from_be_bytes(limit))
}

/// A row read back and opened: its kind, its body, and (for a version) its reserved seals.
type OpenedRow = (RecordKind, Zeroizing<Vec<u8>>, u64);

/// Reads every key, version and alias (keys and versions in row order) and the generation, in
/// one snapshot.
fn read_all(client: &mut Client, key: &[u8; 32]) -> Result<(u64, Vec<OpenedRow>), StoreError> {
    let mut tx = client
        .build_transaction()
        .isolation_level(IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let generation: i64 = tx
        .query_one("SELECT generation FROM state WHERE id = 1", &[])?
        .get(0);
    let mut out = Vec::new();
    for (kind, sql) in [
        (
            RecordKind::Key,
            "SELECT key_id, body, 0::BIGINT FROM keys ORDER BY seq",
        ),
        (
            RecordKind::Version,
            "SELECT version_id, body, seals FROM versions ORDER BY seq",
        ),
        (
            RecordKind::Alias,
            "SELECT name, body, 0::BIGINT FROM aliases",
        ),
    ] {
        for row in tx.query(sql, &[])? {
            let name: String = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let seals: i64 = row.get(2);
            out.push((
                kind,
                open_row(key, magic(kind), &name, &sealed)?,
                to_u64(seals)?,
            ));
        }
    }
    tx.commit()?;
    Ok((to_u64(generation)?, out))
}

impl PgStore {
    /// Connects to the database at `url`, applies the schema's migrations (making it in an
    /// empty database), makes the state row if there is none (with `seal_limit`; an existing
    /// store keeps its own) and loads everything, under the wrapping key `key`. The provider
    /// seals only what is reserved for it ([`InMemoryProvider::use_seal_windows`]).
    ///
    /// # Errors
    /// [`StoreError`]: the database is unreachable, or its rows do not open under `key`.
    pub fn open(
        url: &str,
        key: Zeroizing<[u8; 32]>,
        seal_limit: u64,
    ) -> Result<(PgStore, Loaded), StoreError> {
        let mut config: postgres::Config =
            url.parse().map_err(|e| StoreError::Postgres(Box::new(e)))?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name("kms-server");
        let mut client = config.connect(NoTls)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
        let migrated = embedded::migrations::runner()
            .set_migration_table_name("kms_schema_history")
            .run(&mut client)
            .map_err(|e| StoreError::Migration(e.to_string()));
        let created = migrated.and_then(|_| {
            let mut tx = client.transaction()?;
            let row = tx.query_opt("SELECT body FROM state WHERE id = 1 FOR UPDATE", &[])?;
            let created = row.is_none();
            if created {
                let store_id = crate::store::random::<16>()?;
                let body = seal_state(&key, &store_id, seal_limit.clamp(1, 1 << 32))?;
                tx.execute(
                    "INSERT INTO state (id, body, generation) VALUES (1, $1, 0)",
                    &[&body],
                )?;
            }
            tx.commit()?;
            Ok(created)
        });
        client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
        let created = created?;
        let sealed: Vec<u8> = client
            .query_one("SELECT body FROM state WHERE id = 1", &[])?
            .get(0);
        let seal_limit = open_state(&key, &sealed)?;
        let (generation, rows) = read_all(&mut client, &key)?;
        let mut provider = InMemoryProvider::from_records(
            seal_limit,
            rows.iter().map(|(kind, body, seals)| StoredRecord {
                kind: *kind,
                body,
                seals: *seals,
            }),
        )
        .map_err(|_| StoreError::Sealed("the shared store's records"))?;
        provider.use_seal_windows();
        let mut access_keys = Vec::new();
        for row in client.query("SELECT id, body FROM access_keys ORDER BY id", &[])? {
            let id: String = row.get(0);
            let sealed: Vec<u8> = row.get(1);
            let json = open_row(&key, crate::store::ACCESS_KEY, &id, &sealed)?;
            let stored: StoredAccessKey =
                serde_json::from_slice(&json).map_err(|_| StoreError::Sealed("an AccessKey"))?;
            access_keys.push(stored.into_access_key());
        }
        drop(client);
        let replica_id = hex(&crate::store::random::<8>()?);
        let store = PgStore {
            pool: Pool::new(config.clone()),
            config,
            key: Arc::new(key),
            seen: AtomicU64::new(generation),
            seal_limit,
            current_at: AtomicU64::new(0),
            origin: Instant::now(),
            replica_id,
        };
        let loaded = Loaded {
            provider,
            access_keys,
            created,
        };
        Ok((store, loaded))
    }

    /// The connection settings (for the listener of notifications).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// This replica's name among the live replicas.
    pub fn replica_id(&self) -> &str {
        &self.replica_id
    }

    /// The seal limit per key version, the cluster's.
    pub fn seal_limit(&self) -> u64 {
        self.seal_limit
    }

    /// The cluster generation this replica's provider reflects.
    pub fn generation(&self) -> u64 {
        self.seen.load(Ordering::SeqCst)
    }

    /// Notes that the provider now reflects `generation` (after a catch-up), and that the
    /// replica is current.
    pub fn caught_up(&self, generation: u64) {
        self.seen.store(generation, Ordering::SeqCst);
        self.mark_current();
    }

    /// Notes that the replica was confirmed current just now.
    pub fn mark_current(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.current_at.fetch_max(ms, Ordering::SeqCst);
    }

    /// How long ago the replica was last confirmed current (one atomic load: data-key
    /// operations ask it on every request).
    pub fn since_current(&self) -> Duration {
        let at = Duration::from_millis(self.current_at.load(Ordering::Relaxed));
        self.origin.elapsed().saturating_sub(at)
    }

    /// Writes `changes` in one transaction, provided no other replica changed keys since this
    /// one's generation; moves the generation on and notifies the others. When this returns
    /// `Ok`, the change is committed in PostgreSQL.
    ///
    /// # Errors
    /// [`StoreError::Stale`] when another replica changed keys first (nothing was written:
    /// catch up and stage again); another [`StoreError`] when the database failed (nothing was
    /// written, or, when the connection broke during the commit, the change may be there: the
    /// next catch-up reads it back either way).
    pub fn apply(&self, changes: &[RecordChange]) -> Result<(), StoreError> {
        enum Row {
            Put(RecordKind, String, String, Vec<u8>),
            DeleteAlias(String),
            DeleteKey(String),
        }
        let mut rows = Vec::with_capacity(changes.len());
        for change in changes {
            rows.push(match change {
                RecordChange::Put(r) => Row::Put(
                    r.kind,
                    r.name.clone(),
                    r.key_id.as_str().to_owned(),
                    seal_row(&self.key, magic(r.kind), &r.name, &r.body)?,
                ),
                RecordChange::DeleteAlias { name } => Row::DeleteAlias(name.clone()),
                RecordChange::DeleteKey { key_id } => Row::DeleteKey(key_id.as_str().to_owned()),
            });
        }
        let based_on = to_i64(self.generation())?;
        let next = self.pool.call(move |client| {
            let mut tx = client.transaction()?;
            let generation: i64 = tx
                .query_one("SELECT generation FROM state WHERE id = 1 FOR UPDATE", &[])?
                .get(0);
            if generation != based_on {
                return Err(StoreError::Stale);
            }
            let next = generation + 1;
            for row in &rows {
                match row {
                    Row::Put(RecordKind::Key, name, _, body) => {
                        tx.execute(
                            "INSERT INTO keys (key_id, body, gen) VALUES ($1, $2, $3)
                             ON CONFLICT (key_id) DO UPDATE SET body = $2, gen = $3",
                            &[name, body, &next],
                        )?;
                    }
                    Row::Put(RecordKind::Version, name, key_id, body) => {
                        tx.execute(
                            "INSERT INTO versions (version_id, key_id, body, gen)
                             VALUES ($1, $2, $3, $4)
                             ON CONFLICT (version_id) DO UPDATE SET body = $3, gen = $4",
                            &[name, key_id, body, &next],
                        )?;
                    }
                    Row::Put(RecordKind::Alias, name, key_id, body) => {
                        tx.execute(
                            "INSERT INTO aliases (name, key_id, body, gen) VALUES ($1, $2, $3, $4)
                             ON CONFLICT (name) DO UPDATE SET key_id = $2, body = $3, gen = $4",
                            &[name, key_id, body, &next],
                        )?;
                    }
                    Row::DeleteAlias(name) => {
                        tx.execute("DELETE FROM aliases WHERE name = $1", &[name])?;
                        tx.execute(
                            "INSERT INTO tombstones (gen, kind, name) VALUES ($1, $2, $3)",
                            &[&next, &kind_code(RecordKind::Alias), name],
                        )?;
                    }
                    Row::DeleteKey(key_id) => {
                        tx.execute("DELETE FROM aliases WHERE key_id = $1", &[key_id])?;
                        tx.execute("DELETE FROM versions WHERE key_id = $1", &[key_id])?;
                        tx.execute("DELETE FROM keys WHERE key_id = $1", &[key_id])?;
                        tx.execute(
                            "INSERT INTO tombstones (gen, kind, name) VALUES ($1, $2, $3)",
                            &[&next, &kind_code(RecordKind::Key), key_id],
                        )?;
                    }
                }
            }
            tx.execute("UPDATE state SET generation = $1 WHERE id = 1", &[&next])?;
            tx.execute(
                "DELETE FROM tombstones WHERE gen < $1",
                &[&(next - TOMBSTONE_WINDOW)],
            )?;
            tx.execute(&format!("NOTIFY {CHANNEL}, '{next}'"), &[])?;
            tx.commit()?;
            Ok(next)
        })?;
        self.seen.store(to_u64(next)?, Ordering::SeqCst);
        Ok(())
    }

    /// What changed since generation `since`: the rows written after it (as they are now) and
    /// the tombstones; `reload` when tombstones that old were pruned (or the database is older
    /// than `since`: restored from a backup), and everything must be read again.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn changes_since(&self, since: u64) -> Result<Changes, StoreError> {
        let key = Arc::clone(&self.key);
        let since = to_i64(since)?;
        self.pool.call(move |client| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let generation: i64 = tx
                .query_one("SELECT generation FROM state WHERE id = 1", &[])?
                .get(0);
            let mut changes = Changes {
                generation: to_u64(generation)?,
                gone_keys: Vec::new(),
                gone_aliases: Vec::new(),
                records: Vec::new(),
                reload: false,
            };
            if generation == since {
                tx.commit()?;
                return Ok(changes);
            }
            // Tombstones older than the window are pruned; a database behind the replica was
            // restored from a backup.
            if generation < since || since + TOMBSTONE_WINDOW <= generation {
                changes.reload = true;
                tx.commit()?;
                return Ok(changes);
            }
            for row in tx.query(
                "SELECT kind, name FROM tombstones WHERE gen > $1 ORDER BY gen",
                &[&since],
            )? {
                let kind: i16 = row.get(0);
                let name: String = row.get(1);
                if kind == kind_code(RecordKind::Key) {
                    changes
                        .gone_keys
                        .push(KeyId::parse(&name).ok_or(StoreError::Sealed("a tombstone"))?);
                } else {
                    changes.gone_aliases.push(name);
                }
            }
            for (kind, sql) in [
                (
                    RecordKind::Key,
                    "SELECT key_id, body FROM keys WHERE gen > $1 ORDER BY seq",
                ),
                (
                    RecordKind::Version,
                    "SELECT version_id, body FROM versions WHERE gen > $1 ORDER BY seq",
                ),
                (
                    RecordKind::Alias,
                    "SELECT name, body FROM aliases WHERE gen > $1",
                ),
            ] {
                for row in tx.query(sql, &[&since])? {
                    let name: String = row.get(0);
                    let sealed: Vec<u8> = row.get(1);
                    changes
                        .records
                        .push((kind, open_row(&key, magic(kind), &name, &sealed)?));
                }
            }
            tx.commit()?;
            Ok(changes)
        })
    }

    /// Everything, for a replica that must reload: the provider and the generation it is at.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn load_all(&self) -> Result<(u64, InMemoryProvider), StoreError> {
        let key = Arc::clone(&self.key);
        let seal_limit = self.seal_limit;
        self.pool.call(move |client| {
            let (generation, rows) = read_all(client, &key)?;
            let mut provider = InMemoryProvider::from_records(
                seal_limit,
                rows.iter().map(|(kind, body, seals)| StoredRecord {
                    kind: *kind,
                    body,
                    seals: *seals,
                }),
            )
            .map_err(|_| StoreError::Sealed("the shared store's records"))?;
            provider.use_seal_windows();
            Ok((generation, provider))
        })
    }

    /// The generation in the database now (a cheap check whether this replica is current).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn current_generation(&self) -> Result<u64, StoreError> {
        let generation: i64 = self.pool.call(|client| {
            Ok(client
                .query_one("SELECT generation FROM state WHERE id = 1", &[])?
                .get(0))
        })?;
        to_u64(generation)
    }

    /// Reserves up to `block` more seals of `version` for this replica: how many it got (0 when
    /// the version's budget is spent, or the version is gone).
    ///
    /// # Errors
    /// [`StoreError`]: nothing was reserved.
    pub fn reserve_seals(&self, version: &KeyVersionId, block: u64) -> Result<u64, StoreError> {
        let version = version.as_str().to_owned();
        let limit = to_i64(self.seal_limit)?;
        let block = to_i64(block)?;
        let got: i64 = self.pool.call(move |client| {
            let mut tx = client.transaction()?;
            let row = tx.query_opt(
                "SELECT seals FROM versions WHERE version_id = $1 FOR UPDATE",
                &[&version],
            )?;
            let Some(row) = row else {
                tx.commit()?;
                return Ok(0);
            };
            let seals: i64 = row.get(0);
            let after = seals.saturating_add(block).min(limit).max(seals);
            if after > seals {
                tx.execute(
                    "UPDATE versions SET seals = $2 WHERE version_id = $1",
                    &[&version, &after],
                )?;
            }
            tx.commit()?;
            Ok(after - seals)
        })?;
        to_u64(got)
    }

    /// Records a signature nonce of a request that changes keys, across replicas, until
    /// `expires` (Unix seconds): `false` when it was recorded already (a replay).
    ///
    /// # Errors
    /// [`StoreError`]: the request must not run.
    pub fn claim_nonce(
        &self,
        access_key_id: &str,
        nonce: &str,
        expires: u64,
        now: u64,
    ) -> Result<bool, StoreError> {
        let (id, nonce) = (access_key_id.to_owned(), nonce.to_owned());
        let (expires, now) = (to_i64(expires)?, to_i64(now)?);
        self.pool.call(move |client| {
            let mut tx = client.transaction()?;
            tx.execute("DELETE FROM nonces WHERE expires < $1", &[&now])?;
            let inserted = tx.execute(
                "INSERT INTO nonces (access_key_id, nonce, expires) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                &[&id, &nonce, &expires],
            )?;
            tx.commit()?;
            Ok(inserted == 1)
        })
    }

    /// Notes this replica alive, and counts the replicas seen alive within `window`.
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn heartbeat(&self, window: Duration) -> Result<u64, StoreError> {
        let id = self.replica_id.clone();
        let window = window.as_secs_f64();
        let live: i64 = self.pool.call(move |client| {
            client.execute(
                "INSERT INTO replicas (id, seen) VALUES ($1, now())
                 ON CONFLICT (id) DO UPDATE SET seen = now()",
                &[&id],
            )?;
            client.execute(
                "DELETE FROM replicas WHERE seen < now() - $1::FLOAT8 * 10 * INTERVAL '1 second'",
                &[&window],
            )?;
            Ok(client
                .query_one(
                    "SELECT count(*) FROM replicas WHERE seen >= now() - $1::FLOAT8 * INTERVAL '1 second'",
                    &[&window],
                )?
                .get(0))
        })?;
        to_u64(live)
    }

    /// Replaces the AccessKey pairs kept in the store with `keys`, in one transaction.
    ///
    /// # Errors
    /// [`StoreError`]: nothing was written.
    pub fn put_access_keys(&self, keys: &[AccessKey]) -> Result<(), StoreError> {
        let mut sealed = Vec::with_capacity(keys.len());
        for k in keys {
            let json = Zeroizing::new(
                serde_json::to_vec(&StoredAccessKey::of(k))
                    .map_err(|_| StoreError::Sealed("an AccessKey"))?,
            );
            sealed.push((
                k.id.clone(),
                seal_row(&self.key, crate::store::ACCESS_KEY, &k.id, &json)?,
            ));
        }
        self.pool.call(move |client| {
            let mut tx = client.transaction()?;
            tx.execute("DELETE FROM access_keys", &[])?;
            for (id, body) in &sealed {
                tx.execute(
                    "INSERT INTO access_keys (id, body) VALUES ($1, $2)",
                    &[id, body],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// The replay floors (see the embedded store's).
    ///
    /// # Errors
    /// [`StoreError`].
    pub fn replay_floors(&self) -> Result<HashMap<String, u64>, StoreError> {
        let key = Arc::clone(&self.key);
        self.pool.call(move |client| {
            let mut out = HashMap::new();
            for row in client.query("SELECT access_key_id, body FROM replay_floors", &[])? {
                let id: String = row.get(0);
                let sealed: Vec<u8> = row.get(1);
                let body = open_row(&key, crate::store::FLOOR, &id, &sealed)?;
                let secs: [u8; 8] = body
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Sealed("a replay floor"))?;
                out.insert(id, u64::from_be_bytes(secs));
            }
            Ok(out)
        })
    }

    /// Raises an AccessKey's replay floor to `until`, never lowering what another replica
    /// wrote.
    ///
    /// # Errors
    /// [`StoreError`]: the floor is unchanged.
    pub fn raise_replay_floor(&self, access_key_id: &str, until: u64) -> Result<(), StoreError> {
        let sealed = seal_row(
            &self.key,
            crate::store::FLOOR,
            access_key_id,
            &until.to_be_bytes(),
        )?;
        let key = Arc::clone(&self.key);
        let id = access_key_id.to_owned();
        self.pool.call(move |client| {
            let mut tx = client.transaction()?;
            let row = tx.query_opt(
                "SELECT body FROM replay_floors WHERE access_key_id = $1 FOR UPDATE",
                &[&id],
            )?;
            if let Some(row) = row {
                let body = open_row(&key, crate::store::FLOOR, &id, &row.get::<_, Vec<u8>>(0))?;
                let secs: [u8; 8] = body
                    .as_slice()
                    .try_into()
                    .map_err(|_| StoreError::Sealed("a replay floor"))?;
                if u64::from_be_bytes(secs) >= until {
                    tx.commit()?;
                    return Ok(());
                }
            }
            tx.execute(
                "INSERT INTO replay_floors (access_key_id, body) VALUES ($1, $2)
                 ON CONFLICT (access_key_id) DO UPDATE SET body = $2",
                &[&id, &sealed],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The key that seals ImportTokens: derived from the wrapping key as the embedded store's.
    pub fn import_token_key(&self) -> kms_core::management::import::ImportTokenKey {
        crate::store::import_token_key_of(&self.key)
    }
}

impl InstanceStore for PgStore {
    fn instance_id(&self) -> Result<Option<String>, StoreError> {
        let key = Arc::clone(&self.key);
        self.pool.call(move |client| {
            let Some(row) = client.query_opt("SELECT body FROM instance WHERE id = 1", &[])? else {
                return Ok(None);
            };
            let body = open_row(
                &key,
                crate::store::INSTANCE,
                "instance",
                &row.get::<_, Vec<u8>>(0),
            )?;
            String::from_utf8(body.to_vec())
                .map(Some)
                .map_err(|_| StoreError::Sealed("the instance ID"))
        })
    }

    fn put_instance_id(&self, id: &str) -> Result<(), StoreError> {
        let sealed = seal_row(&self.key, crate::store::INSTANCE, "instance", id.as_bytes())?;
        self.pool.call(move |client| {
            client.execute(
                "INSERT INTO instance (id, body) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                &[&sealed],
            )?;
            Ok(())
        })
    }

    fn client_keys(&self) -> Result<Vec<ClientKey>, StoreError> {
        let key = Arc::clone(&self.key);
        self.pool.call(move |client| {
            let mut out = Vec::new();
            for row in client.query("SELECT id, body FROM client_keys ORDER BY id", &[])? {
                let id: String = row.get(0);
                let json = open_row(
                    &key,
                    crate::store::CLIENT_KEY,
                    &id,
                    &row.get::<_, Vec<u8>>(1),
                )?;
                let client_key = ClientKey::from_json(&json)
                    .filter(|k| k.key_id == id)
                    .ok_or(StoreError::Sealed("a client key"))?;
                out.push(client_key);
            }
            Ok(out)
        })
    }

    fn put_client_key(&self, client_key: &ClientKey) -> Result<(), StoreError> {
        let json = client_key
            .to_json()
            .map_err(|_| StoreError::Sealed("a client key"))?;
        let id = client_key.key_id.clone();
        let sealed = seal_row(&self.key, crate::store::CLIENT_KEY, &id, &json)?;
        self.pool.call(move |client| {
            client.execute(
                "INSERT INTO client_keys (id, body) VALUES ($1, $2)",
                &[&id, &sealed],
            )?;
            Ok(())
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The channel replicas listen on.
pub fn channel() -> &'static str {
    CHANNEL
}
