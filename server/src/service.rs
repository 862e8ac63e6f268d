//! The service: one request in, one reply out. Parses the parameters, authenticates the
//! caller (signature V1 or V3), applies the per-account rate limit, runs the core's operation
//! and renders the result or the error. Nothing here panics on input.
//!
//! **Locking.** The provider sits behind an `RwLock`. The data-key operations (GenerateDataKey,
//! GenerateDataKeyWithoutPlaintext, Encrypt, Decrypt, ReEncrypt) run under its *read* lock:
//! the provider seals through `&self` (its seal counters are atomic), so any number of them run
//! at once. Key management is staged against the provider under the read lock and committed
//! under the write lock; a mutex serialises management requests, housekeeping and rotations,
//! so nothing commits between a staging and its commit.
//!
//! **Durable before visible.** A change to keys (a management request, a due deletion, a
//! rotation) is staged, written to the [`Store`] (one transaction, on disk when it returns),
//! and only then committed to the provider, where the data-key operations can see it, and
//! answered. When the write fails nothing changes in memory and the caller gets
//! `InternalFailure`; a retry after the fault clears succeeds. No operation ever seals under
//! a key or version that is not on disk.
//!
//! **Seal budget.** When a key version has sealed as often as it may (spec §10), the core
//! refuses with `InternalFailure` ([`Internal::SealLimitReached`]); the service then rotates
//! the key ([`management::rotate_exhausted`]), durably as any change, and runs the request
//! once more, under the new primary version. Seal counts are written at housekeeping ticks
//! and at shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use kms_core::export;
use kms_core::management::{self, KeyStore, Staged, params as mparams};
use kms_core::wire::{
    self as core_wire, CiphertextResponseBuf, DecryptParams, DecryptResponseBuf, EncryptParams,
    GenerateDataKeyParams, GenerateDataKeyResponseBuf, ReEncryptParams,
};
use kms_core::{
    Caller, InMemoryProvider, Internal, KeyId, KeyReference, KeyVersionId, Parameter, RateLimit,
    RateLimiter, RequestId,
};

use crate::auth::{self, NonceCache, NonceRefusal, V3Authorization};
use crate::config::{AccessKey, Config};
use crate::dto::{
    CreateKeyVersionResponse, DescribeKeyVersionResponse, EmptyResponse, KeyMetadataResponse,
    ListAliasesResponse, ListKeyVersionsResponse, ListKeysResponse,
};
use crate::error::ApiError;
use crate::operation::Operation;
use crate::params::Params;
use crate::random::ThreadRng;
use std::sync::Arc;

use postgres::fallible_iterator::FallibleIterator;

use kms_core::ops::asymmetric;

use crate::shared::{PgStore, SEAL_BLOCK};
use crate::store::{Store, StoreError};
use crate::wire::{self, Format};

#[path = "metadata.rs"]
mod metadata;
#[path = "policy.rs"]
mod policy;

/// The API version served.
pub const API_VERSION: &str = "2016-01-20";

/// The largest request body accepted, in bytes.
pub const MAX_BODY: usize = 64 * 1024;

/// An HTTP request, as the service sees it.
#[derive(Clone, Copy, Debug)]
pub struct RawRequest<'a> {
    /// The method, uppercase.
    pub method: &'a str,
    /// The path.
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: Option<&'a str>,
    /// The headers.
    pub headers: &'a axum::http::HeaderMap,
    /// The body.
    pub body: &'a [u8],
}

/// What to send back.
#[derive(Clone, Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// For throttling: the `x-acs-retry-after` header, in milliseconds.
    pub retry_after_ms: Option<u64>,
    /// The request ID (also in the body).
    pub request_id: String,
}

/// A request admitted by [`Service::admit`]: parsed, authenticated, its operation known and
/// let through by the replay cache and the rate limit. Only `admit` makes one; run it with
/// [`Service::run`].
pub struct Admitted {
    operation: Operation,
    account: String,
    /// The AccessKey, the signature nonce and the signed time (Unix seconds): a request that
    /// changes keys claims its nonce across replicas before it runs (shared store).
    access_key_id: String,
    nonce: String,
    signed_at: u64,
    params: Params,
    format: Format,
    request_id: RequestId,
    request_id_text: String,
}

impl Admitted {
    /// The operation it asks for.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The caller's account (its AccessKey's).
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The `Format` its answer is written in.
    pub fn format(&self) -> Format {
        self.format
    }
}

/// Shows the operation, the account, the format and the request ID; never the parameters
/// (an Encrypt's `Plaintext` is among them).
impl std::fmt::Debug for Admitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admitted")
            .field("operation", &self.operation)
            .field("account", &self.account)
            .field("format", &self.format)
            .field("request_id", &self.request_id_text)
            .finish_non_exhaustive()
    }
}

/// The state of a running server.
pub struct Service {
    region: String,
    host_id: String,
    access_keys: HashMap<String, AccessKey>,
    pub(crate) provider: RwLock<InMemoryProvider>,
    /// Serialises what changes keys (management requests, housekeeping, rotations): held from
    /// staging to commit, so a commit never meets a store changed since its staging.
    management: Mutex<()>,
    limiter: Mutex<RateLimiter<Operation>>,
    /// The per-account, per-operation rate (also the KMS-instance API's).
    rate_limit: RateLimit,
    /// The KMS instance this server hosts, once the instance API is set up
    /// ([`Service::host_instance`]): CreateKey's `DKMSInstanceId` must name it.
    instance: std::sync::OnceLock<kms_core::InstanceId>,
    /// One replay cache per AccessKey (the set of AccessKeys is fixed): a key's requests lock
    /// only its own cache. Lock order: a cache, then `limiter`.
    nonces: HashMap<String, Mutex<NonceCache>>,
    /// The whole second the service began serving in: earlier timestamps are refused.
    serving_from: SystemTime,
    /// Per AccessKey, the replay floor (Unix seconds) of requests signed ahead of the clock:
    /// the one an earlier run left (timestamps at or before it are refused), and the one
    /// reserved durably in this run (a request signed ahead of the clock is admitted only
    /// at or below it). Changed under the key's nonce-cache lock.
    floors: HashMap<String, ReplayFloor>,
    store: Option<Store>,
    /// The shared store (PostgreSQL), when this server is one of several replicas.
    shared: Option<PgStore>,
    /// Set when a change met a shared store changed by another replica since this one last
    /// caught up ([`StoreError::Stale`]): the request is staged again. Read and written under
    /// the management lock.
    stale: AtomicBool,
    /// The replicas' timing: how often a replica reconciles with the shared store, and how long
    /// it keeps serving data-key operations from its cache without reaching it.
    replica_poll: Duration,
    stale_after: Duration,
    /// The replicas seen alive, which share the per-account rate limit.
    replicas: AtomicU64,
    /// The most keys an account may hold in a region.
    key_quota: usize,
    /// The seal counts last written, by version; serialises the writes of counts.
    written_counts: Mutex<HashMap<KeyVersionId, u64>>,
    sealed_since_save: AtomicBool,
    started: Instant,
    /// How far the time keys see runs ahead of the wall clock, in seconds
    /// ([`Service::advance_key_clock`]); zero unless a test moved it.
    key_clock_ahead: AtomicU64,
    /// What seals the ImportTokens of GetParametersForImport: derived from the store's
    /// wrapping key ([`Store::import_token_key`]), so tokens outlive a restart; drawn at start
    /// without a store (tokens then die with the process, as its keys do).
    pub(crate) import_token_key: kms_core::management::import::ImportTokenKey,
    /// Held while GetParametersForImport generates its RSA key: one generation at a time, so
    /// however many accounts ask at once, they take at most one core from the rest.
    pub(crate) keygen: Mutex<()>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("region", &self.region)
            .field("access_keys", &self.access_keys.len())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a verified signature vouches for: the AccessKey, and the signed timestamp, nonce,
/// action and version.
struct Verified<'k> {
    key: &'k AccessKey,
    timestamp: String,
    nonce: String,
    action: Option<String>,
    version: Option<String>,
}

/// A body or an error.
type Outcome = Result<Vec<u8>, ApiError>;

/// How far ahead of a request signed ahead of the clock an AccessKey's replay floor is
/// reserved.
const REPLAY_FLOOR_MARGIN: Duration = Duration::from_secs(10);

/// An AccessKey's replay floor (see [`Service`]'s `floors`).
struct ReplayFloor {
    previous: u64,
    reserved: AtomicU64,
}

/// How many times a replica stages a change again when other replicas' changes keep coming
/// first ([`Service::decided`]).
const DECIDE_ATTEMPTS: u32 = 32;

/// What a request was signed with: AccessKey ID, signature nonce, signed time (Unix seconds).
type Signed = (String, String, u64);

/// Who is calling, once authenticated, and what for.
struct Authenticated<'k> {
    key: &'k AccessKey,
    timestamp: SystemTime,
    nonce: String,
    action: Option<String>,
    version: Option<String>,
}

fn since_epoch(now: SystemTime) -> Duration {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
}

/// The values of a header, as UTF-8 text.
fn header_values(headers: &axum::http::HeaderMap, name: &str) -> Result<Vec<String>, ApiError> {
    headers
        .get_all(name)
        .iter()
        .map(|v| {
            std::str::from_utf8(v.as_bytes())
                .map(str::to_owned)
                .map_err(|_| ApiError::malformed(format!("the header {name} is not UTF-8")))
        })
        .collect()
}

/// The single value of a header; `None` when absent.
fn header(headers: &axum::http::HeaderMap, name: &str) -> Result<Option<String>, ApiError> {
    let mut values = header_values(headers, name)?;
    match values.len() {
        0 => Ok(None),
        1 => Ok(values.pop()),
        _ => Err(ApiError::malformed(format!(
            "the header {name} is given more than once"
        ))),
    }
}

impl Service {
    /// A service over `provider`, persisting to `store` if given (`provider` is then what the
    /// store loaded).
    pub fn new(config: Config, provider: InMemoryProvider, store: Option<Store>) -> Self {
        let limit = RateLimit {
            per_second: config.rate_limit,
            burst: config.rate_limit,
        };
        let nonce_capacity = config.nonce_capacity();
        let nonces = config
            .access_keys
            .iter()
            .map(|k| (k.id.clone(), Mutex::new(NonceCache::new(nonce_capacity))))
            .collect();
        // The next whole second: any request signed while an earlier run of the server was
        // serving carries an earlier timestamp (see `serving_from`).
        let serving_from = SystemTime::UNIX_EPOCH
            + Duration::from_secs(since_epoch(SystemTime::now()).as_secs() + 1);
        let previous = match &store {
            Some(store) => store.replay_floors().unwrap_or_else(|e| {
                // Without the floors, refuse every timestamp ahead of the clock this run
                // could meet: a floor at the far edge of the window.
                eprintln!("kms-server: cannot read the replay floors: {e}");
                let edge = since_epoch(SystemTime::now()) + auth::TIMESTAMP_WINDOW;
                config
                    .access_keys
                    .iter()
                    .map(|k| (k.id.clone(), edge.as_secs()))
                    .collect()
            }),
            None => HashMap::new(),
        };
        let floors = config
            .access_keys
            .iter()
            .map(|k| {
                let previous = previous.get(&k.id).copied().unwrap_or(0);
                let floor = ReplayFloor {
                    previous,
                    reserved: AtomicU64::new(previous),
                };
                (k.id.clone(), floor)
            })
            .collect();
        let import_token_key = match &store {
            Some(store) => store.import_token_key(),
            None => kms_core::management::import::ImportTokenKey::random(&mut kms_core::OsRng)
                .expect("the operating system's random number generator"),
        };
        Self {
            import_token_key,
            keygen: Mutex::new(()),
            host_id: format!("kms.{}.aliyuncs.com", config.region),
            region: config.region,
            access_keys: config
                .access_keys
                .into_iter()
                .map(|k| (k.id.clone(), k))
                .collect(),
            provider: RwLock::new(provider),
            management: Mutex::new(()),
            limiter: Mutex::new(
                RateLimiter::new()
                    .with_default(limit)
                    .with_limit(Operation::GetParametersForImport, keygen_limit(limit)),
            ),
            rate_limit: limit,
            instance: std::sync::OnceLock::new(),
            nonces,
            serving_from,
            floors,
            store,
            shared: None,
            stale: AtomicBool::new(false),
            replica_poll: Duration::from_secs(1),
            stale_after: Duration::from_secs(30),
            replicas: AtomicU64::new(1),
            key_quota: config.key_quota,
            written_counts: Mutex::new(HashMap::new()),
            sealed_since_save: AtomicBool::new(false),
            started: Instant::now(),
            key_clock_ahead: AtomicU64::new(0),
        }
    }

    /// A replica over the shared store `shared` (PostgreSQL): `provider` is what it loaded.
    /// `poll` is how often it reconciles with the store ([`Service::follow`]), `stale_after`
    /// how long it keeps serving data-key operations from its cache when it cannot reach the
    /// store.
    pub fn new_replica(
        config: Config,
        provider: InMemoryProvider,
        shared: PgStore,
        poll: Duration,
        stale_after: Duration,
    ) -> Self {
        let previous = shared.replay_floors().unwrap_or_else(|e| {
            eprintln!("kms-server: cannot read the replay floors: {e}");
            let edge = since_epoch(SystemTime::now()) + auth::TIMESTAMP_WINDOW;
            config
                .access_keys
                .iter()
                .map(|k| (k.id.clone(), edge.as_secs()))
                .collect()
        });
        let import_token_key = shared.import_token_key();
        let mut service = Self::new(config, provider, None);
        for (id, floor) in &mut service.floors {
            let previous = previous.get(id).copied().unwrap_or(0);
            floor.previous = previous;
            *floor.reserved.get_mut() = previous;
        }
        service.import_token_key = import_token_key;
        service.shared = Some(shared);
        service.replica_poll = poll;
        service.stale_after = stale_after;
        service
    }

    /// Starts the replica's follower, a thread that keeps it current with the shared store:
    /// it listens for the other replicas' changes (`LISTEN`), catches up on each notification
    /// and at least every poll period (a lost notification is repaired by the next poll),
    /// reconnects by itself, and notes the replica alive for the rate limit's share. It ends
    /// when the service is dropped. Nothing to do without a shared store.
    ///
    /// # Errors
    /// The thread could not be started.
    pub fn spawn_follower(service: &Arc<Service>) -> std::io::Result<()> {
        let Some(shared) = &service.shared else {
            return Ok(());
        };
        let config = shared.config().clone();
        let poll = service.replica_poll;
        let service = Arc::downgrade(service);
        std::thread::Builder::new()
            .name("kms-follower".into())
            .spawn(move || {
                let mut listener: Option<postgres::Client> = None;
                let mut failing = false;
                let mut beat = Instant::now() - poll;
                loop {
                    let Some(service) = service.upgrade() else {
                        return;
                    };
                    if listener.as_ref().is_none_or(postgres::Client::is_closed) {
                        listener = config.connect(postgres::NoTls).ok().and_then(|mut c| {
                            let listen = format!("LISTEN {}", crate::shared::channel());
                            c.batch_execute(&listen).ok().map(|()| c)
                        });
                    }
                    let followed = service.follow().and_then(|()| {
                        if beat.elapsed() >= poll {
                            beat = Instant::now();
                            service.heartbeat().map(|_| ())
                        } else {
                            Ok(())
                        }
                    });
                    match followed {
                        Ok(()) if failing => {
                            failing = false;
                            eprintln!("kms-server: the shared store is reachable again");
                        }
                        Err(e) if !failing => {
                            failing = true;
                            eprintln!("kms-server: cannot reach the shared store: {e}");
                        }
                        _ => {}
                    }
                    drop(service);
                    let broken = match listener.as_mut() {
                        Some(client) => {
                            let mut notifications = client.notifications();
                            let waited =
                                notifications.timeout_iter(poll).next().map(|n| n.is_some());
                            match waited {
                                // Everything queued is caught up by one pass.
                                Ok(true) => notifications.iter().count().is_err(),
                                Ok(false) => false,
                                Err(_) => true,
                            }
                        }
                        None => {
                            std::thread::sleep(poll);
                            false
                        }
                    };
                    if broken {
                        listener = None;
                    }
                }
            })
            .map(|_| ())
    }

    /// The shared store, when this server is a replica.
    pub fn shared(&self) -> Option<&PgStore> {
        self.shared.as_ref()
    }

    /// Whether the server is ready for traffic (`/healthz`): always without a shared store;
    /// with one, when this replica caught up with it within two poll periods.
    pub fn healthy(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|s| s.since_current() <= 2 * self.replica_poll + Duration::from_millis(500))
    }

    /// Brings this replica's keys up to date with the shared store (the changes other replicas
    /// made since it last looked), under the management lock. Called by the follower thread
    /// on every notification and poll, and before every key management request.
    ///
    /// # Errors
    /// The store's error; the keys are as they were.
    pub fn follow(&self) -> Result<(), StoreError> {
        let _serial = lock(&self.management);
        self.catch_up()
    }

    /// [`follow`](Self::follow) with the management lock held.
    fn catch_up(&self) -> Result<(), StoreError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let seen = shared.generation();
        let changes = shared.changes_since(seen)?;
        if changes.reload {
            let (generation, mut provider) = shared.load_all()?;
            provider.set_engine(read(&self.provider).engine());
            *write(&self.provider) = provider;
            shared.caught_up(generation);
        } else if changes.generation != seen {
            changes.apply_to(&mut write(&self.provider))?;
            shared.caught_up(changes.generation);
        } else {
            shared.mark_current();
        }
        Ok(())
    }

    /// Notes this replica alive in the shared store and shares the per-account rate limit
    /// among the replicas alive (each enforces `rate / replicas`, rounded up).
    ///
    /// # Errors
    /// The store's error; the share is unchanged.
    pub fn heartbeat(&self) -> Result<u64, StoreError> {
        let Some(shared) = &self.shared else {
            return Ok(1);
        };
        let live = shared.heartbeat(3 * self.replica_poll)?.max(1);
        if self.replicas.swap(live, Ordering::SeqCst) != live {
            let share = self
                .rate_limit
                .per_second
                .div_ceil(u32::try_from(live).unwrap_or(u32::MAX));
            let limit = RateLimit {
                per_second: share,
                burst: share,
            };
            *lock(&self.limiter) = RateLimiter::new()
                .with_default(limit)
                .with_limit(Operation::GetParametersForImport, keygen_limit(limit));
        }
        Ok(live)
    }

    /// Runs `change` (which stages and commits through [`Service::commit`]) on a replica that
    /// is current with the shared store, again when another replica changed keys first: at
    /// most a few times. Callers hold the management lock. Without a shared store, `change`
    /// runs once.
    fn decided<T, E: From<kms_core::Error>>(
        &self,
        mut change: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.shared.is_none() {
            return change();
        }
        for attempt in 0..DECIDE_ATTEMPTS {
            if attempt > 1 {
                // Replicas that keep meeting each other's changes back off at random, up to
                // 64 ms, so that one of them gets through.
                let mut byte = [0u8; 1];
                let _ = kms_core::rand_core::TryRng::try_fill_bytes(&mut ThreadRng, &mut byte);
                let ceiling = 1u64 << attempt.min(6);
                std::thread::sleep(Duration::from_millis(u64::from(byte[0]) % ceiling));
            }
            self.catch_up().map_err(|e| {
                eprintln!("kms-server: catching up with the shared store failed: {e}");
                E::from(kms_core::Error::InternalFailure(Internal::Provider))
            })?;
            self.stale.store(false, Ordering::SeqCst);
            let result = change();
            if !self.stale.swap(false, Ordering::SeqCst) {
                return result;
            }
        }
        eprintln!(
            "kms-server: a change met other replicas' changes {DECIDE_ATTEMPTS} times in a row; answered InternalFailure"
        );
        Err(E::from(kms_core::Error::InternalFailure(
            Internal::Provider,
        )))
    }

    /// Moves the time keys see `by` further ahead of the wall clock: the `now` of key
    /// management (creation and rotation dates, due deletions) and of housekeeping (automatic
    /// rotation, material expiry), which is the wall clock plus every advance so far.
    /// Authentication keeps the wall clock (signed timestamps, replay windows). For tests of
    /// what happens with time, without waiting for it; nothing outside a test calls it (the
    /// binary has no option that does).
    pub fn advance_key_clock(&self, by: Duration) {
        self.key_clock_ahead
            .fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// The time keys see at wall-clock time `now`, since the Unix epoch.
    fn key_time(&self, now: SystemTime) -> Duration {
        since_epoch(now) + Duration::from_secs(self.key_clock_ahead.load(Ordering::SeqCst))
    }

    /// The key that seals this service's ImportTokens (for in-process callers that mint
    /// tokens with the core directly, such as tests).
    pub fn import_token_key(&self) -> &kms_core::management::import::ImportTokenKey {
        &self.import_token_key
    }

    /// The whole second the service begins serving in: a request whose signed timestamp is
    /// earlier is refused (`IllegalTimestamp`). It is the second after the service was made,
    /// so a request captured while an earlier run of the server was serving, whose timestamp
    /// is at the latest that run's last second, is refused after a restart (the nonces it
    /// remembered are gone). That holds for timestamps no later than the clock of the run
    /// that admitted them; one signed ahead of it (the window allows 15 minutes) and not yet
    /// earlier than this second is not caught (`server/README.md`). Start accepting requests
    /// no earlier than this: [`Service::until_serving`].
    pub fn serving_from(&self) -> SystemTime {
        self.serving_from
    }

    /// How long from `now` until [`Service::serving_from`] (zero once there): what a server
    /// waits before it accepts requests, so that requests signed with the current time are
    /// not refused as earlier than its start.
    pub fn until_serving(&self, now: SystemTime) -> Duration {
        self.serving_from
            .duration_since(now)
            .unwrap_or(Duration::ZERO)
    }

    /// The region served.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The store, if the service persists.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Runs `f` on the provider under its write lock (for setup: policies, availability).
    pub fn with_provider<T>(&self, f: impl FnOnce(&mut InMemoryProvider) -> T) -> T {
        f(&mut write(&self.provider))
    }

    /// Runs `f` on the provider under its read lock, the lock the data-key operations hold
    /// (for inspection; requests keep being served meanwhile, key management waits).
    pub fn with_provider_read<T>(&self, f: impl FnOnce(&InMemoryProvider) -> T) -> T {
        f(&read(&self.provider))
    }

    /// Hosts KMS instance `instance`: CreateKey with `DKMSInstanceId` set to it creates keys
    /// in it (any other ID is `Forbidden.DKMSInstanceNotFound`, as is every ID before this is
    /// called). One instance per service: a second call changes nothing and returns `false`.
    pub fn host_instance(&self, instance: kms_core::InstanceId) -> bool {
        self.instance.set(instance).is_ok()
    }

    /// The KMS instance hosted, if any ([`Service::host_instance`]).
    pub fn hosted_instance(&self) -> Option<kms_core::InstanceId> {
        self.instance.get().copied()
    }

    /// The per-account, per-operation rate limit (`--rate-limit`), which the KMS-instance API
    /// applies too.
    pub fn rate_limit(&self) -> RateLimit {
        self.rate_limit
    }

    /// Runs a sealing operation of another frontend (the KMS-instance API) on the data-key
    /// path: `run` under the provider's read lock; when the key version's seal budget is
    /// spent ([`Internal::SealLimitReached`]), the key `sealing_key` finds (under the same
    /// read lock: the key and its primary version) is rotated, durably, and `run` runs once
    /// more under the new primary version, as the gateway's data-key operations do. A success
    /// marks the seal counts for the next write.
    ///
    /// # Errors
    /// `run`'s error, or `InternalFailure` when the rotation cannot be written.
    pub fn run_sealing<T>(
        &self,
        run: impl Fn(&InMemoryProvider) -> Result<T, kms_core::Error>,
        sealing_key: impl Fn(&InMemoryProvider) -> Option<(KeyId, KeyVersionId)>,
        now: SystemTime,
    ) -> Result<T, kms_core::Error> {
        let exhausted = {
            let provider = read(&self.provider);
            match run(&provider) {
                Err(e @ kms_core::Error::InternalFailure(Internal::SealLimitReached)) => {
                    sealing_key(&provider).ok_or(e)?
                }
                other => {
                    if other.is_ok() {
                        self.sealed_since_save.store(true, Ordering::SeqCst);
                    }
                    return other;
                }
            }
        };
        let (key_id, version) = exhausted;
        if !self.reserve_seals(&version)? {
            self.rotate_exhausted(&key_id, &version, self.key_time(now))?;
        }
        let result = run(&read(&self.provider));
        if result.is_ok() {
            self.sealed_since_save.store(true, Ordering::SeqCst);
        }
        result
    }

    /// Writes what is not yet on disk and needs no request to be: the seal counts that
    /// changed since they were last written, and the generation file. Called at housekeeping
    /// ticks and at shutdown.
    ///
    /// # Errors
    /// The store's error; the counts are then written at the next call.
    pub fn save(&self) -> Result<(), StoreError> {
        let Some(store) = &self.store else {
            return Ok(());
        };
        let mut written = lock(&self.written_counts);
        if self.sealed_since_save.swap(false, Ordering::SeqCst) {
            let mut changed = Vec::new();
            read(&self.provider).visit_seal_counts(&mut |version, seals| {
                if written.get(version) != Some(&seals) {
                    changed.push((*version, seals));
                }
            });
            if let Err(e) = store.write_seal_counts(&changed) {
                self.sealed_since_save.store(true, Ordering::SeqCst);
                return Err(e);
            }
            written.extend(changed);
        }
        store.write_witness()
    }

    /// Housekeeping, run periodically with the time it runs at: everything the core finds due
    /// at `now` ([`management::next_due`]: keys whose deletion date has passed, imported
    /// material that expired, automatic rotations), each change durable before it is
    /// committed, as any change; then the seal counts of keys that sealed since the last write
    /// (spec §10). Whether the store was written. The time is an argument, so a test can run
    /// housekeeping at any date.
    ///
    /// # Errors
    /// The store's error.
    pub fn tick(&self, now: SystemTime) -> Result<bool, StoreError> {
        let sealed = self.sealed_since_save.load(Ordering::SeqCst);
        let deleted = {
            let _serial = lock(&self.management);
            self.decided(|| self.run_due(self.key_time(now)))
                .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?
        };
        self.save()?;
        Ok(self.store.is_some() && (deleted || sealed))
    }

    /// A reply carrying `error` in JSON, for failures found before the request could be read.
    pub fn error_reply(&self, error: &ApiError) -> Reply {
        let request_id = RequestId::random(&mut ThreadRng).map_or_else(
            |_| "00000000-0000-4000-8000-000000000000".to_owned(),
            |id| id.to_string(),
        );
        Reply {
            status: error.status,
            content_type: Format::Json.content_type(),
            body: wire::render_error(Format::Json, &request_id, &self.host_id, error),
            retry_after_ms: error.retry_after_ms,
            request_id,
        }
    }

    /// Handles one request at time `now`: [`admit`](Self::admit), then [`run`](Self::run).
    pub fn handle(&self, request: &RawRequest<'_>, now: SystemTime) -> Reply {
        match self.admit(request, now) {
            Ok(admitted) => self.run(&admitted, now),
            Err(refused) => refused,
        }
    }

    /// Everything before the operation runs, at time `now`: the method and path, the body's
    /// type, the parameters and `Format`, the signature (V1 or V3), the timestamp, the
    /// `Action` and `Version`, and admission (the replay cache and the rate limit). Quick and
    /// never waits for key management: the HTTP frontend's extractor runs it on the worker
    /// that received the request.
    ///
    /// # Errors
    /// The reply that refuses the request, in the `Format` it asked for when that was read.
    pub fn admit(&self, request: &RawRequest<'_>, now: SystemTime) -> Result<Admitted, Reply> {
        let request_id = RequestId::random(&mut ThreadRng);
        let request_id_text = request_id.as_ref().map_or_else(
            |_| "00000000-0000-4000-8000-000000000000".to_owned(),
            RequestId::to_string,
        );
        let mut format = Format::Json;
        let admitted = match request_id {
            Ok(request_id) => self.admit_inner(request, now, &mut format).map(
                |(operation, account, params, signed)| Admitted {
                    operation,
                    account,
                    access_key_id: signed.0,
                    nonce: signed.1,
                    signed_at: signed.2,
                    params,
                    format,
                    request_id,
                    request_id_text: request_id_text.clone(),
                },
            ),
            Err(e) => Err(ApiError::from(kms_core::Error::from(e))),
        };
        admitted.map_err(|error| self.refusal(format, request_id_text, &error))
    }

    /// Runs an admitted request's operation at time `now` and renders its answer. A key
    /// management operation may wait for the others (they are serialised) and for the
    /// store's write: the HTTP frontend runs those on the blocking pool.
    pub fn run(&self, admitted: &Admitted, now: SystemTime) -> Reply {
        let caller = Caller::new(&admitted.account, &self.region);
        if let Err(error) = self.claim_nonce(admitted, now) {
            return self.refusal(admitted.format, admitted.request_id_text.clone(), &error);
        }
        let result = self.dispatch(
            admitted.operation,
            &caller,
            &admitted.params,
            admitted.request_id,
            now,
            admitted.format,
        );
        match result {
            Ok(body) => Reply {
                status: 200,
                content_type: admitted.format.content_type(),
                body,
                retry_after_ms: None,
                request_id: admitted.request_id_text.clone(),
            },
            Err(error) => self.refusal(admitted.format, admitted.request_id_text.clone(), &error),
        }
    }

    /// On a replica, a request that changes keys claims its signature nonce in the shared
    /// store first, so the same request replayed to another replica is refused
    /// (`SignatureNonceUsed`); each replica's own cache already refused it on this one.
    fn claim_nonce(&self, admitted: &Admitted, now: SystemTime) -> Result<(), ApiError> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        if !admitted.operation.alters_keys() {
            return Ok(());
        }
        // Kept until no clock could still admit the signed time.
        let expires = admitted.signed_at + 2 * auth::TIMESTAMP_WINDOW.as_secs();
        let fresh = shared
            .claim_nonce(
                &admitted.access_key_id,
                &admitted.nonce,
                expires,
                since_epoch(now).as_secs(),
            )
            .map_err(|e| {
                eprintln!("kms-server: recording a nonce in the shared store failed: {e}");
                ApiError::internal()
            })?;
        if fresh {
            Ok(())
        } else {
            Err(ApiError::nonce_used())
        }
    }

    fn refusal(&self, format: Format, request_id: String, error: &ApiError) -> Reply {
        Reply {
            status: error.status,
            content_type: format.content_type(),
            body: wire::render_error(format, &request_id, &self.host_id, error),
            retry_after_ms: error.retry_after_ms,
            request_id,
        }
    }

    /// [`admit`](Self::admit)'s checks: the operation, the caller's account and the
    /// parameters, or the error.
    fn admit_inner(
        &self,
        request: &RawRequest<'_>,
        now: SystemTime,
        format: &mut Format,
    ) -> Result<(Operation, String, Params, Signed), ApiError> {
        if request.method != "GET" && request.method != "POST" {
            return Err(ApiError::method_not_allowed());
        }
        if request.path != "/" {
            return Err(ApiError::path_not_found());
        }
        if request.body.len() > MAX_BODY {
            return Err(ApiError::too_large(MAX_BODY));
        }
        let body = if request.body.is_empty() {
            None
        } else {
            let content_type = header(request.headers, "content-type")?.unwrap_or_default();
            let mime = content_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            if mime != "application/x-www-form-urlencoded" {
                return Err(ApiError::unsupported_media_type());
            }
            Some(
                std::str::from_utf8(request.body)
                    .map_err(|_| ApiError::malformed("the body is not UTF-8"))?,
            )
        };
        let params = Params::parse(request.query, body)?;
        if let Some(f) = params.get("Format") {
            *format = Format::parse(f).ok_or_else(|| ApiError::invalid("Format"))?;
        }
        let caller = self.authenticate(request, &params, now)?;
        let action = caller
            .action
            .as_deref()
            .ok_or_else(|| ApiError::missing("Action"))?;
        let version = caller
            .version
            .as_deref()
            .ok_or_else(|| ApiError::missing("Version"))?;
        if version != API_VERSION {
            return Err(ApiError::invalid_version());
        }
        let operation = Operation::from_name(action).ok_or_else(ApiError::unknown_action)?;
        self.admit_caller(&caller, operation, now)?;
        let signed = (
            caller.key.id.clone(),
            caller.nonce.clone(),
            since_epoch(caller.timestamp).as_secs(),
        );
        Ok((operation, caller.key.account.clone(), params, signed))
    }

    /// Verifies the request's signature and timestamp, and the nonce's form; returns the
    /// caller's AccessKey, the timestamp and nonce, and the action and version the request
    /// names. The nonce is checked against the replay cache and recorded only at admission
    /// ([`Service::admit_caller`]).
    fn authenticate(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
        now: SystemTime,
    ) -> Result<Authenticated<'_>, ApiError> {
        let authorization = header(request.headers, "authorization")?;
        let Verified {
            key,
            timestamp,
            nonce,
            action,
            version,
        } = if let Some(authorization) = authorization {
            self.verify_v3(request, params, &authorization)?
        } else {
            self.verify_v1(request, params)?
        };
        let timestamp =
            auth::parse_timestamp(&timestamp).ok_or_else(ApiError::illegal_timestamp)?;
        if !auth::timestamp_in_window(timestamp, now) {
            return Err(ApiError::illegal_timestamp());
        }
        if timestamp < self.serving_from {
            return Err(ApiError::timestamp_before_start());
        }
        if nonce.is_empty() || nonce.len() > auth::MAX_NONCE_LEN {
            return Err(ApiError::incomplete_signature(
                "the signature nonce must be 1 to 256 bytes",
            ));
        }
        Ok(Authenticated {
            key,
            timestamp,
            nonce,
            action,
            version,
        })
    }

    /// Admits an authenticated request for `operation`, or refuses it: a nonce already used
    /// (`SignatureNonceUsed`), the AccessKey's replay cache full (`Rejected.Throttling`), the
    /// account over its rate for the operation (`Rejected.Throttling`). The nonce is recorded
    /// only when the request is admitted, and the AccessKey's cache stays locked from the
    /// check to the record, so two identical requests cannot both pass. A refused request
    /// spends no nonce, and a replay no token of the rate limit.
    fn admit_caller(
        &self,
        caller: &Authenticated<'_>,
        operation: Operation,
        now: SystemTime,
    ) -> Result<(), ApiError> {
        // Every configured AccessKey has a cache: a missing one would be a bug.
        let cache = self
            .nonces
            .get(&caller.key.id)
            .ok_or_else(ApiError::internal)?;
        let mut cache = lock(cache);
        let signed = since_epoch(caller.timestamp).as_secs();
        let floor = self.floors.get(&caller.key.id);
        if floor.is_some_and(|f| signed <= f.previous) {
            return Err(ApiError::timestamp_before_start());
        }
        let slot = cache
            .reserve(&caller.nonce, caller.timestamp, now)
            .map_err(|refusal| match refusal {
                NonceRefusal::Used => ApiError::nonce_used(),
                NonceRefusal::Full { retry_after } => ApiError::nonce_cache_full(
                    u64::try_from(retry_after.as_millis()).unwrap_or(u64::MAX),
                ),
                NonceRefusal::OutOfWindow => ApiError::illegal_timestamp(),
            })?;
        lock(&self.limiter)
            .check(&caller.key.account, operation, self.started.elapsed())
            .map_err(ApiError::from)?;
        // A request signed ahead of the clock: its timestamp may still be in the window after
        // a restart, when the nonces are gone. Admit it only once the AccessKey's replay floor
        // covers it on disk (reserved a few seconds ahead, so a client whose clock runs ahead
        // costs one small write per REPLAY_FLOOR_MARGIN, not one per request).
        if let Some(floor) = floor
            && (self.store.is_some() || self.shared.is_some())
            && signed > since_epoch(now).as_secs()
            && signed > floor.reserved.load(Ordering::SeqCst)
        {
            let until = signed + REPLAY_FLOOR_MARGIN.as_secs();
            let raised = match (&self.store, &self.shared) {
                (Some(store), _) => store.raise_replay_floor(&caller.key.id, until),
                (_, Some(shared)) => shared.raise_replay_floor(&caller.key.id, until),
                _ => Ok(()),
            };
            raised.map_err(|e| {
                eprintln!("kms-server: writing a replay floor failed: {e}");
                ApiError::internal()
            })?;
            floor.reserved.store(until, Ordering::SeqCst);
        }
        slot.insert();
        Ok(())
    }

    fn access_key(&self, id: &str) -> Result<&AccessKey, ApiError> {
        self.access_keys
            .get(id)
            .ok_or_else(ApiError::access_key_not_found)
    }

    /// Signature V1.
    fn verify_v1(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
    ) -> Result<Verified<'_>, ApiError> {
        let access_key_id = params.get("AccessKeyId");
        let signature = params.get("Signature");
        let (access_key_id, signature) = match (access_key_id, signature) {
            (None, None) => {
                return Err(ApiError::incomplete_signature(
                    "the request is not signed (no Authorization header, no Signature parameter)",
                ));
            }
            (None, Some(_)) => {
                return Err(ApiError::incomplete_signature(
                    "the AccessKeyId parameter is missing",
                ));
            }
            (Some(id), signature) => (id, signature),
        };
        let key = self.access_key(access_key_id)?;
        let signature = signature
            .ok_or_else(|| ApiError::incomplete_signature("the Signature parameter is missing"))?;
        if params.get("SignatureMethod") != Some("HMAC-SHA1") {
            return Err(ApiError::incomplete_signature(
                "SignatureMethod must be HMAC-SHA1",
            ));
        }
        if params.get("SignatureVersion") != Some("1.0") {
            return Err(ApiError::incomplete_signature(
                "SignatureVersion must be 1.0",
            ));
        }
        let string_to_sign = auth::v1_string_to_sign(request.method, params.all());
        let expected = auth::v1_signature(key.secret(), &string_to_sign);
        if !auth::signatures_match(&expected, signature) {
            return Err(ApiError::signature_does_not_match(&string_to_sign));
        }
        let timestamp = params
            .get("Timestamp")
            .ok_or_else(ApiError::illegal_timestamp)?;
        let nonce = params.get("SignatureNonce").ok_or_else(|| {
            ApiError::incomplete_signature("the SignatureNonce parameter is missing")
        })?;
        Ok(Verified {
            key,
            timestamp: timestamp.to_owned(),
            nonce: nonce.to_owned(),
            action: params.get("Action").map(str::to_owned),
            version: params.get("Version").map(str::to_owned),
        })
    }

    /// Signature V3.
    fn verify_v3(
        &self,
        request: &RawRequest<'_>,
        params: &Params,
        authorization: &str,
    ) -> Result<Verified<'_>, ApiError> {
        let parsed = V3Authorization::parse(authorization).ok_or_else(|| {
            ApiError::incomplete_signature(
                "the Authorization header is not ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...",
            )
        })?;
        let key = self.access_key(&parsed.access_key_id)?;
        for required in [
            "x-acs-action",
            "x-acs-date",
            "x-acs-signature-nonce",
            "x-acs-content-sha256",
        ] {
            if !parsed.signed_headers.iter().any(|h| h == required) {
                return Err(ApiError::incomplete_signature(format!(
                    "the header {required} must be present and signed"
                )));
            }
        }
        // Every x-acs- header the request carries must be signed.
        for name in request.headers.keys() {
            let name = name.as_str();
            if name.starts_with("x-acs-") && !parsed.signed_headers.iter().any(|h| h == name) {
                return Err(ApiError::incomplete_signature(format!(
                    "the header {name} must be signed"
                )));
            }
        }
        let mut signed = Vec::with_capacity(parsed.signed_headers.len());
        for name in &parsed.signed_headers {
            let values = header_values(request.headers, name)?;
            if values.is_empty() {
                return Err(ApiError::incomplete_signature(format!(
                    "the signed header {name} is absent"
                )));
            }
            signed.extend(values.into_iter().map(|v| (name.clone(), v)));
        }
        let value_of = |name: &str| -> Option<String> {
            signed
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.trim().to_owned())
        };
        let content_sha256 = value_of("x-acs-content-sha256").unwrap_or_default();
        if !content_sha256.eq_ignore_ascii_case(&auth::sha256_hex(request.body)) {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                "The x-acs-content-sha256 header does not match the request body.",
            ));
        }
        let canonical =
            auth::v3_canonical_request(request.method, params.query(), &signed, &content_sha256);
        let string_to_sign = auth::v3_string_to_sign(&canonical);
        let expected = auth::v3_signature(key.secret(), &string_to_sign);
        if !auth::signatures_match(&expected, &parsed.signature) {
            return Err(ApiError::new(
                400,
                "SignatureDoesNotMatch",
                format!(
                    "Specified signature is not matched with our calculation. server canonical request is:{canonical}"
                ),
            ));
        }
        let timestamp = value_of("x-acs-date").unwrap_or_default();
        let nonce = value_of("x-acs-signature-nonce").unwrap_or_default();
        let version = match header(request.headers, "x-acs-version")? {
            Some(v) => Some(v),
            None => params.get("Version").map(str::to_owned),
        };
        Ok(Verified {
            key,
            timestamp,
            nonce,
            action: value_of("x-acs-action"),
            version,
        })
    }

    /// Runs an authenticated, admitted operation.
    fn dispatch(
        &self,
        operation: Operation,
        caller: &Caller<'_>,
        params: &Params,
        request_id: RequestId,
        now: SystemTime,
        format: Format,
    ) -> Outcome {
        let root = format!("{}Response", operation.name());
        let epoch = self.key_time(now);

        if operation.is_data_key() {
            let body = self
                .data_key(operation, caller, params, request_id, epoch)
                .map_err(ApiError::from)
                .and_then(|reply| reply.render(format, &root));
            if body.is_ok() && operation.seals() {
                self.sealed_since_save.store(true, Ordering::SeqCst);
            }
            return body;
        }

        let request = Manage {
            caller,
            params,
            request_id,
            now: epoch,
            format,
            root: &root,
        };
        // GetParametersForImport changes nothing and spends milliseconds generating an RSA
        // key: it runs beside the others, not in their queue (a key whose deletion is due is
        // gone for it already: the core's resolution says so at `epoch`).
        if operation == Operation::GetParametersForImport {
            return crate::import::get_parameters_for_import(self, &request);
        }
        // Key management, one request at a time: first the deletions that are due, then the
        // request; each change on disk before it is committed.
        let _serial = lock(&self.management);
        // On a replica: current with the shared store first, and staged again when another
        // replica changed keys before this change could be written.
        self.decided(|| {
            self.delete_due_keys(epoch)?;
            self.manage(operation, &request)
        })
    }

    /// A data-key operation, under the provider's read lock.
    ///
    /// A seal refused because the key version's budget is spent
    /// ([`Internal::SealLimitReached`]) rotates the key and runs the request once more. The
    /// exhausted version is found while the read lock that saw the refusal is still held, so
    /// no rotation can have come in between: it is the primary version of the key the request
    /// named. If another request rotates first, [`management::rotate_exhausted`] makes no
    /// second version.
    fn data_key(
        &self,
        operation: Operation,
        caller: &Caller<'_>,
        params: &Params,
        request_id: RequestId,
        now: Duration,
    ) -> Result<DataKeyReply, kms_core::Error> {
        self.check_current()?;
        // A replica's version may need a block of its budget reserved (once per block), and
        // then a rotation that another replica may have made first: a few rounds at most.
        let mut looked = false;
        for _ in 0..8 {
            let exhausted = {
                let provider = read(&self.provider);
                match run_data_key(&provider, operation, caller, params, request_id) {
                    Err(e @ kms_core::Error::InternalFailure(Internal::SealLimitReached)) => {
                        sealing_key(&provider, operation, caller, params).ok_or(e)?
                    }
                    // A key, alias or version this replica does not know may have been made on
                    // another one an instant ago (before its notification arrived): catch up
                    // once and look again, so a key made through one replica can be used
                    // through another at once.
                    Err(kms_core::Error::KeyNotFound | kms_core::Error::AliasNotFound)
                        if self.shared.is_some() && !looked =>
                    {
                        drop(provider);
                        looked = true;
                        self.follow().map_err(|e| {
                            eprintln!("kms-server: catching up with the shared store failed: {e}");
                            kms_core::Error::InternalFailure(Internal::Provider)
                        })?;
                        continue;
                    }
                    other => return other,
                }
            };
            let (key_id, version) = exhausted;
            if !self.reserve_seals(&version)? {
                self.rotate_exhausted(&key_id, &version, now)?;
            }
        }
        let last = run_data_key(&read(&self.provider), operation, caller, params, request_id);
        if matches!(
            last,
            Err(kms_core::Error::InternalFailure(Internal::SealLimitReached))
        ) {
            eprintln!(
                "kms-server: other replicas kept taking the new versions' seal budgets; answered InternalFailure"
            );
        }
        last
    }

    /// On a replica that has not caught up with the shared store for longer than
    /// `--store-stale-after`, data-key operations (the gateway's and the KMS-instance API's)
    /// are refused (`InternalFailure`): a key disabled on another replica meanwhile must not
    /// stay usable here for longer than that.
    ///
    /// # Errors
    /// `InternalFailure` past the bound.
    pub fn check_current(&self) -> Result<(), kms_core::Error> {
        match &self.shared {
            Some(shared) if shared.since_current() > self.stale_after => {
                Err(kms_core::Error::InternalFailure(Internal::Provider))
            }
            _ => Ok(()),
        }
    }

    /// On a replica, reserves another block of `version`'s seal budget from the shared store
    /// and grants it to the provider: whether any was left. Without a shared store there is
    /// nothing to reserve (`false`: the version is spent).
    fn reserve_seals(&self, version: &KeyVersionId) -> Result<bool, kms_core::Error> {
        let Some(shared) = &self.shared else {
            return Ok(false);
        };
        let got = shared.reserve_seals(version, SEAL_BLOCK).map_err(|e| {
            eprintln!("kms-server: reserving seals from the shared store failed: {e}");
            kms_core::Error::InternalFailure(Internal::Provider)
        })?;
        if got == 0 {
            return Ok(false);
        }
        read(&self.provider).grant_seals(version, got)?;
        Ok(true)
    }

    /// Rotates key `key_id` if `exhausted` is still its primary version: stages the new
    /// version, writes it to the store and commits it, before the request is run again. Nothing
    /// when another request rotated first. A rotation that cannot be staged (the key was
    /// disabled meanwhile, say) is left for the retry to report in the data-key operation's
    /// own terms.
    ///
    /// # Errors
    /// `InternalFailure` when the write or the commit fails.
    fn rotate_exhausted(
        &self,
        key_id: &KeyId,
        exhausted: &KeyVersionId,
        now: Duration,
    ) -> Result<(), kms_core::Error> {
        let _serial = lock(&self.management);
        self.decided(|| {
            let staged = management::rotate_exhausted(
                &*read(&self.provider),
                key_id,
                exhausted,
                &mut kms_core::OsRng,
                now,
            );
            let Ok(Some(staged)) = staged else {
                return Ok(());
            };
            // A rare, blocking write (once per 2^32 seals of a key): the new version is on
            // disk before any blob it seals leaves. On a replica, another may have rotated
            // first: then this one catches up and finds the version no longer primary.
            self.commit(staged)?;
            Ok(())
        })
    }

    /// Makes a staged change durable, then commits it under the write lock: the records it
    /// changes ([`InMemoryProvider::record_changes`]) are written to the store in one
    /// transaction first, so nothing sees the change before it is on disk, and a failed write
    /// changes nothing. Callers hold the management lock, so the provider cannot have changed
    /// since the change was staged: a conflict would be a bug, and is reported as
    /// `InternalFailure`.
    pub(crate) fn commit<T>(&self, staged: Staged<T>) -> Result<T, kms_core::Error> {
        if let Some(store) = &self.store {
            let changes = read(&self.provider).record_changes(staged.change())?;
            store.apply(&changes).map_err(|e| {
                eprintln!("kms-server: writing a change to the store failed: {e}");
                kms_core::Error::InternalFailure(Internal::Provider)
            })?;
        }
        if let Some(shared) = &self.shared {
            let changes = read(&self.provider).record_changes(staged.change())?;
            match shared.apply(&changes) {
                Ok(()) => {}
                Err(StoreError::Stale) => {
                    // Nothing written: `decided` catches up and stages the request again.
                    self.stale.store(true, Ordering::SeqCst);
                    return Err(kms_core::Error::InternalFailure(Internal::Provider));
                }
                Err(e) => {
                    eprintln!("kms-server: writing a change to the shared store failed: {e}");
                    return Err(kms_core::Error::InternalFailure(Internal::Provider));
                }
            }
        }
        Ok(write(&self.provider).apply(staged)?)
    }

    /// Deletes the keys whose deletion date is at or before `now`, with their versions and
    /// aliases; whether any went. Callers hold the management lock.
    fn delete_due_keys(&self, now: Duration) -> Result<bool, kms_core::Error> {
        let staged = management::delete_due_keys(&*read(&self.provider), now)?;
        let Some(staged) = staged else {
            return Ok(false);
        };
        self.commit(staged)?;
        Ok(true)
    }

    /// Runs every change housekeeping finds due at `now`, one at a time, each written and
    /// committed before the next is staged; whether any ran. At most [`MAX_DUE_PER_TICK`]
    /// changes per call, so one tick cannot hold the management lock for long; the rest wait
    /// for the next tick. Callers hold the management lock.
    fn run_due(&self, now: Duration) -> Result<bool, kms_core::Error> {
        let mut ran = false;
        for _ in 0..MAX_DUE_PER_TICK {
            let staged = management::next_due(&*read(&self.provider), now, &mut kms_core::OsRng)?;
            let Some(staged) = staged else {
                break;
            };
            self.commit(staged)?;
            ran = true;
        }
        Ok(ran)
    }

    /// A key management operation, through [`MANAGEMENT`]: its parameters parsed in the
    /// order the API checks them, the operation staged under the read lock, written to the
    /// store and committed under the write lock. Callers hold the management lock.
    fn manage(&self, operation: Operation, request: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let (_, handler) = MANAGEMENT
            .iter()
            .chain(metadata::MANAGEMENT.iter())
            .chain(policy::MANAGEMENT.iter())
            .find(|(op, _)| *op == operation)
            .ok_or_else(ApiError::internal)?;
        handler(self, request)
    }

    fn create_key(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let mut request = mparams::create_key(
            m.get("KeySpec"),
            m.get("KeyUsage"),
            m.get("Origin"),
            m.get("Description"),
            m.get("DKMSInstanceId"),
        )?;
        request.protection_level = mparams::protection_level(m.get("ProtectionLevel"))?;
        let rotation = mparams::rotation_policy(
            m.get("EnableAutomaticRotation"),
            m.get("RotationInterval"),
            false,
        )?;
        if let Some(interval) = rotation {
            request = request.with_rotation_interval(interval);
            request.check()?;
        }
        // A KMS instance other than the one this server hosts: CreateKey's documented 403
        // (`Forbidden.DKMSInstanceNotFound`).
        if let Some(instance) = request.instance
            && self.instance.get() != Some(&instance)
        {
            return Err(ApiError::dkms_instance_not_found());
        }
        let staged = {
            let provider = read(&self.provider);
            if provider.key_count(m.caller.account, m.caller.region) >= self.key_quota {
                return Err(ApiError::key_quota_exceeded(self.key_quota));
            }
            management::create_key(&*provider, m.caller, &request, &mut kms_core::OsRng, m.now)?
        };
        let key = self.commit(staged)?;
        m.render(&KeyMetadataResponse::new(&key, m.request_id))
    }

    fn describe_key(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let key = management::describe_key(&*read(&self.provider), m.caller, &key, m.now)?;
        m.render(&KeyMetadataResponse::new(&key, m.request_id))
    }

    fn list_keys(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let page = mparams::page(m.get("PageNumber"), m.get("PageSize"))?;
        let filter = match m.get("Filters") {
            Some(text) => key_filter(text)?,
            None => management::KeyFilter::new(),
        };
        let listing =
            management::list_keys_filtered(&*read(&self.provider), m.caller, page, &filter, m.now)?;
        m.render(&ListKeysResponse::new(m.caller, &listing, m.request_id))
    }

    fn list_key_versions(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let page = mparams::page(m.get("PageNumber"), m.get("PageSize"))?;
        let listing =
            management::list_key_versions(&*read(&self.provider), m.caller, &key, page, m.now)?;
        m.render(&ListKeyVersionsResponse::new(&listing, m.request_id))
    }

    fn describe_key_version(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let version = mparams::key_version_id(m.get("KeyVersionId"))?;
        let version = management::describe_key_version(
            &*read(&self.provider),
            m.caller,
            &key,
            &version,
            m.now,
        )?;
        m.render(&DescribeKeyVersionResponse::new(&version, m.request_id))
    }

    fn list_aliases(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let page = mparams::page(m.get("PageNumber"), m.get("PageSize"))?;
        let listing = management::list_aliases(&*read(&self.provider), m.caller, page, m.now)?;
        m.render(&ListAliasesResponse::new(m.caller, &listing, m.request_id))
    }

    fn create_alias(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let alias = mparams::alias_name(m.get("AliasName"))?;
        let key = mparams::key_id(m.get("KeyId"))?;
        let staged =
            management::create_alias(&*read(&self.provider), m.caller, alias, &key, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn update_alias(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let alias = mparams::alias_name(m.get("AliasName"))?;
        let key = mparams::key_id(m.get("KeyId"))?;
        let staged =
            management::update_alias(&*read(&self.provider), m.caller, alias, &key, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn delete_alias(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let alias = mparams::alias_name(m.get("AliasName"))?;
        let staged = management::delete_alias(&*read(&self.provider), m.caller, alias, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn enable_key(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let staged = management::enable_key(&*read(&self.provider), m.caller, &key, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn disable_key(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let staged = management::disable_key(&*read(&self.provider), m.caller, &key, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn cancel_key_deletion(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let staged =
            management::cancel_key_deletion(&*read(&self.provider), m.caller, &key, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn schedule_key_deletion(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let days = mparams::pending_window_in_days(m.get("PendingWindowInDays"))?;
        let staged =
            management::schedule_key_deletion(&*read(&self.provider), m.caller, &key, days, m.now)?;
        self.commit(staged)?;
        m.done()
    }

    fn update_rotation_policy(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let interval = mparams::rotation_policy(
            m.get("EnableAutomaticRotation"),
            m.get("RotationInterval"),
            true,
        )?;
        let staged = management::update_rotation_policy(
            &*read(&self.provider),
            m.caller,
            &key,
            interval,
            m.now,
        )?;
        self.commit(staged)?;
        m.done()
    }

    fn create_key_version(&self, m: &Manage<'_>) -> Result<Vec<u8>, ApiError> {
        let key = mparams::key_id(m.get("KeyId"))?;
        let (key_id, staged) = {
            let provider = read(&self.provider);
            // The response names the key by its canonical ID, also when the request named an
            // alias or an ARN: DescribeKey's resolution and ownership check are the ones
            // CreateKeyVersion runs, under the same lock.
            let key_id = management::describe_key(&*provider, m.caller, &key, m.now)?.key_id;
            let staged = management::create_key_version(
                &*provider,
                m.caller,
                &key,
                &mut kms_core::OsRng,
                m.now,
            )?;
            (key_id, staged)
        };
        let version = self.commit(staged)?;
        m.render(&CreateKeyVersionResponse::new(
            key_id,
            &version,
            m.request_id,
        ))
    }
}

/// ListKeys' `Filters`: a JSON array of `{"Key": property, "Values": [text, ...]}`, each
/// property one the core's [`management::KeyProperty`] names. **\[decided\]** Anything else
/// (not JSON, another shape, an unknown property, a value that is not a string, more than 10
/// conditions or values) is `InvalidParameter Filters`; a value no key has simply matches
/// nothing; the empty text and `[]` filter nothing.
fn key_filter(text: &str) -> Result<management::KeyFilter, kms_core::Error> {
    let invalid = kms_core::Error::InvalidParameter(kms_core::Parameter::Filters);
    let mut filter = management::KeyFilter::new();
    if text.trim().is_empty() {
        return Ok(filter);
    }
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid)?;
    let conditions = value.as_array().ok_or(invalid)?;
    for condition in conditions {
        let object = condition.as_object().ok_or(invalid)?;
        if object.keys().any(|k| k != "Key" && k != "Values") {
            return Err(invalid);
        }
        let property = object
            .get("Key")
            .and_then(serde_json::Value::as_str)
            .and_then(management::KeyProperty::from_name)
            .ok_or(invalid)?;
        let values = match object.get("Values") {
            None => Vec::new(),
            Some(values) => values
                .as_array()
                .ok_or(invalid)?
                .iter()
                .map(|v| v.as_str().ok_or(invalid))
                .collect::<Result<Vec<_>, _>>()?,
        };
        filter = filter.with(property, values)?;
    }
    Ok(filter)
}

/// The most GetParametersForImport requests per second (and burst) of one account: each
/// generates an RSA-2048 key, milliseconds of a core where the other operations take
/// microseconds. **\[decided\]** At most 10, or the configured rate if lower.
pub const KEYGEN_RATE: u32 = 10;

fn keygen_limit(limit: RateLimit) -> RateLimit {
    RateLimit {
        per_second: limit.per_second.min(KEYGEN_RATE),
        burst: limit.burst.min(KEYGEN_RATE),
    }
}

/// The most housekeeping changes (rotations, expiries, deletions) one tick makes.
const MAX_DUE_PER_TICK: usize = 1024;

/// What a key management operation is given: the caller, the parameters, and how to answer.
pub(crate) struct Manage<'a> {
    pub(crate) caller: &'a Caller<'a>,
    params: &'a Params,
    pub(crate) request_id: RequestId,
    pub(crate) now: Duration,
    format: Format,
    root: &'a str,
}

impl Manage<'_> {
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name)
    }

    pub(crate) fn render<T: serde::Serialize>(&self, response: &T) -> Result<Vec<u8>, ApiError> {
        wire::render(self.format, self.root, response)
    }

    /// The answer of an operation that returns only its request ID.
    pub(crate) fn done(&self) -> Result<Vec<u8>, ApiError> {
        self.render(&EmptyResponse {
            request_id: self.request_id,
        })
    }
}

/// A key management operation's handler.
type Handler = fn(&Service, &Manage<'_>) -> Result<Vec<u8>, ApiError>;

/// The key management operations and their handlers (the data-key operations run through the
/// core's wire layer, [`run_data_key`]).
const MANAGEMENT: &[(Operation, Handler)] = &[
    (Operation::CreateKey, Service::create_key),
    (Operation::DescribeKey, Service::describe_key),
    (Operation::ListKeys, Service::list_keys),
    (Operation::CreateAlias, Service::create_alias),
    (Operation::UpdateAlias, Service::update_alias),
    (Operation::DeleteAlias, Service::delete_alias),
    (Operation::ListAliases, Service::list_aliases),
    (Operation::EnableKey, Service::enable_key),
    (Operation::DisableKey, Service::disable_key),
    (
        Operation::ScheduleKeyDeletion,
        Service::schedule_key_deletion,
    ),
    (Operation::CancelKeyDeletion, Service::cancel_key_deletion),
    (Operation::CreateKeyVersion, Service::create_key_version),
    (Operation::ListKeyVersions, Service::list_key_versions),
    (Operation::DescribeKeyVersion, Service::describe_key_version),
    (
        Operation::UpdateRotationPolicy,
        Service::update_rotation_policy,
    ),
    (
        Operation::GetParametersForImport,
        crate::import::get_parameters_for_import,
    ),
    (
        Operation::ImportKeyMaterial,
        crate::import::import_key_material,
    ),
    (
        Operation::DeleteKeyMaterial,
        crate::import::delete_key_material,
    ),
];

/// What a data-key operation answers: the core's wire responses, which serialize with the
/// wire's PascalCase names.
enum DataKeyReply {
    /// GenerateDataKey.
    Generated(GenerateDataKeyResponseBuf),
    /// GenerateDataKeyWithoutPlaintext, Encrypt, ReEncrypt.
    Sealed(CiphertextResponseBuf),
    /// Decrypt.
    Opened(DecryptResponseBuf),
    /// GenerateAndExportDataKey.
    GeneratedAndExported(export::GenerateAndExportDataKeyResponse),
    /// ExportDataKey.
    Exported(export::ExportDataKeyResponse),
    /// GetPublicKey.
    PublicKey(asymmetric::GetPublicKeyResponse),
    /// AsymmetricSign.
    Signed(asymmetric::AsymmetricSignResponse),
    /// AsymmetricVerify.
    Verified(asymmetric::AsymmetricVerifyResponse),
    /// AsymmetricEncrypt.
    AsymmetricallyEncrypted(asymmetric::AsymmetricEncryptResponse),
    /// AsymmetricDecrypt.
    AsymmetricallyDecrypted(asymmetric::AsymmetricDecryptResponse),
}

impl DataKeyReply {
    fn render(&self, format: Format, root: &str) -> Result<Vec<u8>, ApiError> {
        match self {
            DataKeyReply::Generated(r) => wire::render(format, root, r),
            DataKeyReply::Sealed(r) => wire::render(format, root, r),
            DataKeyReply::Opened(r) => wire::render(format, root, r),
            DataKeyReply::GeneratedAndExported(r) => wire::render(format, root, r),
            DataKeyReply::Exported(r) => wire::render(format, root, r),
            DataKeyReply::PublicKey(r) => wire::render(format, root, r),
            DataKeyReply::Signed(r) => wire::render(format, root, r),
            DataKeyReply::Verified(r) => wire::render(format, root, r),
            DataKeyReply::AsymmetricallyEncrypted(r) => wire::render(format, root, r),
            DataKeyReply::AsymmetricallyDecrypted(r) => wire::render(format, root, r),
        }
    }
}

/// Runs a data-key operation through the core's wire layer (which parses the text parameters
/// and applies `DryRun`), with the frontend's request ID.
fn run_data_key(
    provider: &InMemoryProvider,
    operation: Operation,
    caller: &Caller<'_>,
    params: &Params,
    request_id: RequestId,
) -> Result<DataKeyReply, kms_core::Error> {
    let get = |p: Parameter| params.get(p.name());
    let rng = &mut ThreadRng;
    Ok(match operation {
        Operation::GenerateDataKey => {
            let params = GenerateDataKeyParams::from_fn(get).request_id(request_id);
            DataKeyReply::Generated(core_wire::generate_data_key(
                provider, caller, &params, rng,
            )?)
        }
        Operation::GenerateDataKeyWithoutPlaintext => {
            let params = GenerateDataKeyParams::from_fn(get).request_id(request_id);
            DataKeyReply::Sealed(core_wire::generate_data_key_without_plaintext(
                provider, caller, &params, rng,
            )?)
        }
        Operation::Encrypt => {
            let params = EncryptParams::from_fn(get).request_id(request_id);
            DataKeyReply::Sealed(core_wire::encrypt(provider, caller, &params, rng)?)
        }
        Operation::ReEncrypt => {
            let params = ReEncryptParams::from_fn(get).request_id(request_id);
            DataKeyReply::Sealed(core_wire::re_encrypt(provider, caller, &params, rng)?)
        }
        Operation::Decrypt => {
            let params = DecryptParams::from_fn(get).request_id(request_id);
            DataKeyReply::Opened(core_wire::decrypt(provider, caller, &params, rng)?)
        }
        // GenerateDataKey (the same seal, budget and rotation) and Decrypt, each followed by
        // an RSA-OAEP wrap to the caller's public key (kms-core's `export`).
        Operation::GenerateAndExportDataKey => {
            let params =
                export::GenerateAndExportDataKeyParams::from_fn(get).request_id(request_id);
            DataKeyReply::GeneratedAndExported(export::generate_and_export_data_key_wire(
                provider, caller, &params, rng,
            )?)
        }
        Operation::ExportDataKey => {
            let params = export::ExportDataKeyParams::from_fn(get).request_id(request_id);
            DataKeyReply::Exported(export::export_data_key_wire(
                provider, caller, &params, rng,
            )?)
        }
        // The asymmetric operations (kms-core's `ops::asymmetric`): the private key stays in
        // the provider.
        Operation::GetPublicKey => {
            let params = asymmetric::GetPublicKeyParams::from_fn(get).request_id(request_id);
            DataKeyReply::PublicKey(asymmetric::get_public_key_wire(
                provider, caller, &params, rng,
            )?)
        }
        Operation::AsymmetricSign => {
            let params = asymmetric::AsymmetricSignParams::from_fn(get).request_id(request_id);
            DataKeyReply::Signed(asymmetric::asymmetric_sign_wire(
                provider, caller, &params, rng,
            )?)
        }
        Operation::AsymmetricVerify => {
            let params = asymmetric::AsymmetricVerifyParams::from_fn(get).request_id(request_id);
            DataKeyReply::Verified(asymmetric::asymmetric_verify_wire(
                provider, caller, &params, rng,
            )?)
        }
        Operation::AsymmetricEncrypt => {
            let params = asymmetric::AsymmetricEncryptParams::from_fn(get).request_id(request_id);
            DataKeyReply::AsymmetricallyEncrypted(asymmetric::asymmetric_encrypt_wire(
                provider, caller, &params, rng,
            )?)
        }
        Operation::AsymmetricDecrypt => {
            let params = asymmetric::AsymmetricDecryptParams::from_fn(get).request_id(request_id);
            DataKeyReply::AsymmetricallyDecrypted(asymmetric::asymmetric_decrypt_wire(
                provider, caller, &params, rng,
            )?)
        }
        // Management operations are not data-key operations.
        _ => return Err(kms_core::Error::InternalFailure(Internal::Provider)),
    })
}

/// The key a sealing request seals with and its primary version: `KeyId` (ReEncrypt:
/// `DestinationKeyId`), found as the core's step 2 finds it (spec §2): a key ID or an alias in
/// the caller's account, an ARN in its own account, nothing outside the caller's region. Only
/// asked about a request whose seal the provider refused, which therefore passed every check
/// and resolves to the key that refused; under the same read lock, its primary version is the
/// one whose budget is spent.
fn sealing_key(
    provider: &InMemoryProvider,
    operation: Operation,
    caller: &Caller<'_>,
    params: &Params,
) -> Option<(KeyId, KeyVersionId)> {
    let parameter = if operation == Operation::ReEncrypt {
        Parameter::DestinationKeyId
    } else {
        Parameter::KeyId
    };
    let reference = KeyReference::parse(params.get(parameter.name())?, parameter).ok()?;
    let record = kms_core::ops::resolve_key(provider, caller, &reference).ok()?;
    Some((record.key_id, record.primary_version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_management_table_has_every_management_operation_once() {
        for op in Operation::ALL {
            let entries = MANAGEMENT
                .iter()
                .chain(metadata::MANAGEMENT.iter())
                .chain(policy::MANAGEMENT.iter())
                .filter(|(o, _)| *o == op)
                .count();
            let expected = usize::from(!op.is_data_key());
            assert_eq!(entries, expected, "{op:?}");
        }
    }
}
