//! `kms-server`: run the service. See `server/README.md`.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use kms_core::management::{self, CreateKey, KeyStore, Staged};
use kms_core::{Caller, InMemoryProvider, InstanceId};
use kms_server::http::ServeOptions;
use kms_server::instance::{self, InstanceApi, client_key, client_key::ClientKey};
use kms_server::keyring::{Keyring, parse_wrapping_key};
use kms_server::limits::Limits;
use kms_server::shared::{self, PgStore};
use kms_server::store::{InstanceStore, Store};
use kms_server::{AccessKey, Config, Service, tls};
use zeroize::Zeroizing;

/// The allocator: jemalloc, whose background thread gives the memory of connections that have
/// gone back to the system within about half a minute; glibc's malloc kept most of it
/// (server/README.md, "Connections, timeouts and memory").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The account of the demo AccessKey pair made on first start.
const DEMO_ACCOUNT: &str = "1234567890123456";
/// The alias of the demo key made on first start.
const DEMO_ALIAS: &str = "alias/demo";

/// A local Alibaba-Cloud-KMS-compatible HTTP service (RPC style, API 2016-01-20).
#[derive(Parser, Debug)]
#[command(name = "kms-server", version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, env = "KMS_SERVER_LISTEN", default_value = "127.0.0.1:8089")]
    listen: SocketAddr,

    /// The region served.
    #[arg(long, env = "KMS_SERVER_REGION", default_value = Config::DEFAULT_REGION)]
    region: String,

    /// The store (an SQLite database, made on first start): keys, versions, aliases and
    /// AccessKeys, each sealed under the wrapping key, every change on disk before it is used
    /// or acknowledged. Needs a wrapping key (KMS_KEYRING_KEY or --keyring-key-file).
    #[arg(long, env = "KMS_SERVER_STORE")]
    store: Option<PathBuf>,

    /// A keyring snapshot file, the format before the store: imported into the store on its
    /// first start (with the `.access-keys` file beside it), never written again. Without
    /// --store, the store is `{keyring}.db`.
    #[arg(long, env = "KMS_SERVER_KEYRING")]
    keyring: Option<PathBuf>,

    /// File holding the 256-bit wrapping key as 64 hex digits (else the KMS_KEYRING_KEY
    /// environment variable). Never on the command line.
    #[arg(long)]
    keyring_key_file: Option<PathBuf>,

    /// Write the store's keys as a sealed keyring snapshot to FILE (and its AccessKeys to
    /// FILE.access-keys), then exit: the backup format.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,

    /// Import a sealed keyring snapshot (and FILE.access-keys, if present) into a store that
    /// holds no key yet, then exit.
    #[arg(long, value_name = "FILE", conflicts_with = "export")]
    import: Option<PathBuf>,

    /// The most nonces each AccessKey's replay cache remembers (default: what the rate limit
    /// admits while a nonce is remembered, at most 2^22). Raise it with the rate limit for
    /// sustained load from one AccessKey: about 31 bytes each.
    #[arg(long, env = "KMS_SERVER_NONCE_CAPACITY")]
    nonce_capacity_per_key: Option<usize>,

    /// The most keys an account may hold in the region; CreateKey beyond it answers
    /// Rejected.LimitExceeded.
    #[arg(long, env = "KMS_SERVER_KEY_QUOTA", default_value_t = Config::DEFAULT_KEY_QUOTA)]
    key_quota: usize,

    /// File of AccessKey pairs, `ID:SECRET:ACCOUNT` one per line (else the
    /// KMS_SERVER_ACCESS_KEYS environment variable, comma-separated; else a demo pair).
    #[arg(long)]
    access_keys_file: Option<PathBuf>,

    /// Requests per second per account and operation (also the burst).
    #[arg(long, env = "KMS_SERVER_RATE_LIMIT", default_value_t = 750)]
    rate_limit: u32,

    /// With `--store postgres://…` (replicas): how often this replica reconciles with the
    /// database (changes are also pushed by LISTEN/NOTIFY; this bounds a lost notification).
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    replica_poll: Duration,

    /// With `--store postgres://…`: how long a replica that cannot reach the database keeps
    /// serving data-key operations from its cache before refusing them.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    store_stale_after: Duration,

    /// For tests: the seal limit per key version of a store made now (at most 2^32, the
    /// default; an existing store keeps its own).
    #[arg(long)]
    seal_limit: Option<u64>,

    /// Seconds between housekeeping passes (due deletions, automatic rotations, expired
    /// imported material; seal counts written to the keyring).
    #[arg(long, default_value_t = 30)]
    tick_seconds: u64,

    /// For tests: the time keys see runs this far ahead of the wall clock (creation, rotation
    /// and expiry dates; what housekeeping finds due; ImportToken lifetimes). Signatures and
    /// replay windows keep the wall clock.
    #[arg(long, value_parser = humantime::parse_duration)]
    key_clock_ahead: Option<Duration>,

    /// The most connections open at once; at the cap, new ones wait in the listen backlog.
    #[arg(long, env = "KMS_SERVER_MAX_CONNECTIONS", default_value_t = Limits::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,

    /// The AES-GCM implementation of the keys: `aes-gcm` (pure Rust, its key schedule zeroized
    /// on drop) or, in a build with the `ring` feature, `ring` (faster; its key schedule is
    /// not zeroized on drop).
    #[arg(long, env = "KMS_SERVER_AEAD_ENGINE", default_value = "aes-gcm", value_parser = parse_engine)]
    aead_engine: kms_core::AeadEngine,

    /// Threads that run requests (tokio's worker threads); 0 means one per core.
    #[arg(long, env = "KMS_SERVER_WORKER_THREADS", default_value_t = 0)]
    worker_threads: usize,

    /// Time allowed for a request's head (request line and headers), counted from when the
    /// server waits for it: also the keep-alive idle limit and the TLS handshake's limit.
    #[arg(long, env = "KMS_SERVER_HEADER_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    header_timeout: Duration,

    /// Time allowed for a request's body, from the end of its head (then 408 and close).
    #[arg(long, env = "KMS_SERVER_BODY_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    body_timeout: Duration,

    /// A connection on which no byte moves for this long, while none of its requests is being
    /// handled, is closed (a client that stops reading its responses, say).
    #[arg(long, env = "KMS_SERVER_IDLE_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,

    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(
        long,
        env = "KMS_SERVER_TLS_CERT",
        requires = "tls_key",
        conflicts_with = "tls_self_signed"
    )]
    tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "KMS_SERVER_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,

    /// Serve HTTPS with a local CA kept in DIR (made on first start, reused after): clients
    /// trust DIR/ca.pem. The certificate is for 127.0.0.1, ::1 and localhost.
    #[arg(long, env = "KMS_SERVER_TLS_SELF_SIGNED", value_name = "DIR")]
    tls_self_signed: Option<PathBuf>,

    /// Also serve the KMS-instance API (the instance SDK `alibabacloud-dkms-gcs`, protobuf,
    /// client-key signatures) on this address, for one local instance (`kst-…`, printed):
    /// HTTPS with the TLS options above, or plain HTTP with --instance-plain-http.
    #[arg(long, env = "KMS_SERVER_INSTANCE_LISTEN")]
    instance_listen: Option<SocketAddr>,

    /// Serve the KMS-instance API over plain HTTP (clients: `Config(protocol="http")`).
    #[arg(long, requires = "instance_listen")]
    instance_plain_http: bool,

    /// Where client keys of the KMS-instance API are written (`clientKey_{id}.json` and
    /// `clientKey_{id}_Password.txt`, 0600, never overwritten): the one issued at the first
    /// start that serves the instance API, and those issued with --issue-client-key.
    #[arg(long, env = "KMS_SERVER_CLIENT_KEY_DIR", value_name = "DIR")]
    client_key_dir: Option<PathBuf>,

    /// Issue one more client key of the KMS-instance API into --client-key-dir, keep its
    /// public key in the store, then exit (a running server accepts it after its next start).
    #[arg(long, requires = "client_key_dir", conflicts_with_all = ["export", "import"])]
    issue_client_key: bool,

    /// The account the client keys issued act for (default: the first AccessKey's).
    #[arg(long, env = "KMS_SERVER_CLIENT_KEY_ACCOUNT")]
    client_key_account: Option<String>,
}

/// `--aead-engine`.
fn parse_engine(name: &str) -> Result<kms_core::AeadEngine, String> {
    match name {
        "aes-gcm" => Ok(kms_core::AeadEngine::RustCrypto),
        #[cfg(feature = "ring")]
        "ring" => Ok(kms_core::AeadEngine::Ring),
        #[cfg(not(feature = "ring"))]
        "ring" => Err("this build has no `ring` engine (build with --features ring)".into()),
        other => Err(format!("unknown AES-GCM engine {other:?}: aes-gcm or ring")),
    }
}

/// The connection limits the flags ask for.
fn limits(cli: &Cli) -> Result<Limits, String> {
    let limits = Limits {
        max_connections: cli.max_connections,
        header_timeout: cli.header_timeout,
        body_timeout: cli.body_timeout,
        idle_timeout: cli.idle_timeout,
    };
    if limits.max_connections == 0 {
        return Err("--max-connections must be at least 1".into());
    }
    for (flag, value) in [
        ("--header-timeout", limits.header_timeout),
        ("--body-timeout", limits.body_timeout),
        ("--idle-timeout", limits.idle_timeout),
    ] {
        if value.is_zero() {
            return Err(format!("{flag} must be more than zero"));
        }
    }
    if let Some(files) = kms_server::limits::open_files_limit()
        && u64::try_from(limits.max_connections).unwrap_or(u64::MAX) + 64 > files
    {
        eprintln!(
            "kms-server: warning: --max-connections {} is near the open-file limit {files} (ulimit -n): connections past it are refused by the kernel, not queued",
            limits.max_connections
        );
    }
    Ok(limits)
}

/// The TLS configuration the flags ask for, if any; prints where the CA certificate is.
fn tls(cli: &Cli) -> Result<Option<Arc<rustls::ServerConfig>>, String> {
    if let Some(dir) = &cli.tls_self_signed {
        let made = tls::self_signed(dir).map_err(|e| format!("--tls-self-signed: {e}"))?;
        println!(
            "kms-server: TLS CA certificate ({}): {}",
            if made.created { "new" } else { "kept" },
            made.ca_cert.display()
        );
        return Ok(Some(made.config));
    }
    match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => tls::from_files(cert, key)
            .map(Some)
            .map_err(|e| format!("TLS: {e}")),
        _ => Ok(None),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("kms-server: {message}");
    ExitCode::FAILURE
}

/// The configured AccessKey pairs, if any: a file, else the environment.
fn configured_access_keys(cli: &Cli) -> Result<Option<Vec<AccessKey>>, String> {
    let text = if let Some(path) = &cli.access_keys_file {
        Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )
    } else if let Ok(text) = std::env::var("KMS_SERVER_ACCESS_KEYS") {
        Zeroizing::new(text)
    } else {
        return Ok(None);
    };
    let keys = AccessKey::parse_list(&text)?;
    if keys.is_empty() {
        return Err("the AccessKey list is empty".into());
    }
    Ok(Some(keys))
}

fn wrapping_key(cli: &Cli) -> Result<Zeroizing<[u8; 32]>, String> {
    let text = if let Some(path) = &cli.keyring_key_file {
        Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        )
    } else if let Ok(text) = std::env::var("KMS_KEYRING_KEY") {
        Zeroizing::new(text)
    } else {
        return Err(
            "--store (and --keyring) need a wrapping key: set KMS_KEYRING_KEY (64 hex digits) or pass --keyring-key-file"
                .into(),
        );
    };
    parse_wrapping_key(&text).ok_or_else(|| "the wrapping key must be 64 hex digits".to_owned())
}

/// Commits a staged change, on disk first when there is a store.
fn commit<T>(
    provider: &mut InMemoryProvider,
    store: Option<&Store>,
    staged: Staged<T>,
) -> Result<T, String> {
    if let Some(store) = store {
        let changes = provider
            .record_changes(staged.change())
            .map_err(|e| e.to_string())?;
        store.apply(&changes).map_err(|e| e.to_string())?;
    }
    provider.apply(staged).map_err(|e| e.to_string())
}

fn create_demo_key(
    provider: &mut InMemoryProvider,
    store: Option<&Store>,
    account: &str,
    region: &str,
) -> Result<String, String> {
    let caller = Caller::new(account, region);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let request = CreateKey::new().with_description("kms-server demo key");
    let staged = management::create_key(provider, &caller, &request, &mut kms_core::OsRng, now)
        .map_err(|e| e.to_string())?;
    let key_id = commit(provider, store, staged)?.key_id;
    let Ok(staged) = management::create_alias(provider, &caller, DEMO_ALIAS, &key_id.into(), now)
    else {
        // The alias is taken in this account (a configured account reused): keep the key.
        return Ok(key_id.to_string());
    };
    commit(provider, store, staged)?;
    Ok(format!("{key_id} ({DEMO_ALIAS})"))
}

/// The store's path: `--store`, else `{keyring}.db` for a keyring from before the store.
fn store_path(cli: &Cli) -> Option<PathBuf> {
    cli.store.clone().or_else(|| {
        cli.keyring.as_ref().map(|k| {
            let mut name = k.as_os_str().to_os_string();
            name.push(".db");
            PathBuf::from(name)
        })
    })
}

/// What a start opens: the store (if any), the provider and AccessKeys it holds, and whether
/// it held nothing yet (a first start).
type Opened = (Option<Store>, InMemoryProvider, Vec<AccessKey>, bool);

/// Opens the store (if any) and, on its first start, imports the keyring file given with
/// `--keyring`.
fn open_store(cli: &Cli) -> Result<Opened, String> {
    let Some(path) = store_path(cli) else {
        return Ok((None, InMemoryProvider::new(), Vec::new(), true));
    };
    let key = wrapping_key(cli)?;
    let seal_limit = cli
        .seal_limit
        .unwrap_or_else(|| InMemoryProvider::new().seal_limit());
    let (store, loaded) = Store::open(&path, key.clone(), seal_limit)
        .map_err(|e| format!("cannot open the store {}: {e}", path.display()))?;
    let empty = loaded.provider.is_empty() && loaded.access_keys.is_empty();
    if empty && let Some(keyring_path) = &cli.keyring {
        let keyring = Keyring::new(keyring_path, key);
        let provider = keyring.load().map_err(|e| e.to_string())?;
        if let Some(provider) = provider {
            let access_keys = keyring
                .load_access_keys()
                .map_err(|e| e.to_string())?
                .unwrap_or_default();
            store
                .import(&provider, &access_keys)
                .map_err(|e| format!("cannot import {}: {e}", keyring_path.display()))?;
            println!(
                "kms-server: imported the keyring {} into the store {} ({} keys)",
                keyring_path.display(),
                path.display(),
                provider.len()
            );
            return Ok((Some(store), provider, access_keys, false));
        }
    }
    Ok((Some(store), loaded.provider, loaded.access_keys, empty))
}

/// Opens the shared store at `url` (PostgreSQL), for a replica. What only the embedded store
/// does is refused with it: importing a keyring, export and import, the KMS-instance API.
async fn open_shared(cli: &Cli, url: &str) -> Result<(PgStore, kms_server::store::Loaded), String> {
    if cli.keyring.is_some() || cli.export.is_some() || cli.import.is_some() {
        return Err("--keyring, --export and --import work with the embedded store only".into());
    }
    let key = wrapping_key(cli)?;
    let seal_limit = cli
        .seal_limit
        .unwrap_or_else(|| InMemoryProvider::new().seal_limit());
    // The PostgreSQL client blocks on a runtime of its own: not on this one's threads.
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || PgStore::open(&url, key, seal_limit))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot open the shared store: {e}"))
}

/// `--export` and `--import`: one job on the store, then exit.
fn store_job(
    cli: &Cli,
    store: &Store,
    provider: &InMemoryProvider,
    saved: &[AccessKey],
) -> ExitCode {
    let key = match wrapping_key(cli) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };
    if let Some(file) = &cli.export {
        let keyring = Keyring::new(file, key);
        if let Err(e) = keyring.save(provider) {
            return fail(format!("cannot write {}: {e}", file.display()));
        }
        if let Err(e) = keyring.save_access_keys(saved) {
            let path = keyring.access_keys_path();
            return fail(format!("cannot write {}: {e}", path.display()));
        }
        println!(
            "kms-server: exported {} keys to {}",
            provider.len(),
            file.display()
        );
    } else if let Some(file) = &cli.import {
        let keyring = Keyring::new(file, key);
        let imported = match keyring.load() {
            Ok(Some(p)) => p,
            Ok(None) => return fail(format!("{} does not exist", file.display())),
            Err(e) => return fail(e),
        };
        let access_keys = match keyring.load_access_keys() {
            Ok(k) => k.unwrap_or_default(),
            Err(e) => return fail(e),
        };
        if let Err(e) = store.import(&imported, &access_keys) {
            return fail(format!("cannot import {}: {e}", file.display()));
        }
        println!(
            "kms-server: imported {} keys from {}",
            imported.len(),
            file.display()
        );
    }
    ExitCode::SUCCESS
}

/// The local KMS instance: its ID, kept in the store (made at the first start that needs
/// it; without a store, a new one each run), and the client keys it holds.
fn open_instance(
    store: Option<&dyn InstanceStore>,
) -> Result<(InstanceId, Vec<ClientKey>), String> {
    let Some(store) = store else {
        let id =
            instance::new_instance_id().map_err(|e| format!("cannot draw an instance ID: {e}"))?;
        return Ok((id, Vec::new()));
    };
    let kept = store
        .instance_id()
        .map_err(|e| format!("cannot read the instance ID from the store: {e}"))?;
    let id = match kept {
        Some(text) => InstanceId::parse(&text)
            .ok_or_else(|| format!("the store's instance ID {text:?} is not one"))?,
        None => {
            let id = instance::new_instance_id()
                .map_err(|e| format!("cannot draw an instance ID: {e}"))?;
            store
                .put_instance_id(id.as_str())
                .map_err(|e| format!("cannot write the instance ID to the store: {e}"))?;
            // Read back: replicas of a shared store starting together keep the first one's.
            let kept = store
                .instance_id()
                .map_err(|e| format!("cannot read the instance ID from the store: {e}"))?
                .ok_or("the store kept no instance ID")?;
            InstanceId::parse(&kept)
                .ok_or_else(|| format!("the store's instance ID {kept:?} is not one"))?
        }
    };
    let keys = store
        .client_keys()
        .map_err(|e| format!("cannot read the client keys from the store: {e}"))?;
    let keys = keys
        .into_iter()
        .filter(|k| k.instance == id.as_str())
        .collect();
    Ok((id, keys))
}

/// Issues a client key for `account` in `region` and `instance`: kept in the store first
/// (durable), then its files written into `dir`, then announced.
fn issue_client_key(
    store: Option<&dyn InstanceStore>,
    dir: &std::path::Path,
    account: &str,
    region: &str,
    instance: &str,
) -> Result<ClientKey, String> {
    let issued = client_key::issue(&mut kms_core::OsRng, account, region, instance)
        .map_err(|e| format!("cannot issue a client key: {e}"))?;
    if let Some(store) = store {
        store
            .put_client_key(&issued.key)
            .map_err(|e| format!("cannot write the client key to the store: {e}"))?;
    }
    let files = client_key::write_files(dir, &issued).map_err(|e| {
        format!(
            "cannot write the client key files into {}: {e}",
            dir.display()
        )
    })?;
    println!(
        "kms-server: client key: {} (account {account}, instance {instance})",
        issued.key.key_id
    );
    println!("kms-server: client key file: {}", files.json.display());
    println!(
        "kms-server: client key password file: {}",
        files.password.display()
    );
    Ok(issued.key.clone())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if cli.worker_threads > 0 {
        runtime.worker_threads(cli.worker_threads);
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(run(cli)),
        Err(e) => fail(format!("cannot start the runtime: {e}")),
    }
}

async fn run(cli: Cli) -> ExitCode {
    let limits = match limits(&cli) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let tls = match tls(&cli) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    // The instance listener: HTTPS with the server's TLS options, plain HTTP only on request.
    let instance_tls = if cli.instance_plain_http || cli.instance_listen.is_none() {
        None
    } else if tls.is_none() {
        return fail(
            "--instance-listen serves HTTPS: give --tls-cert and --tls-key, or --tls-self-signed DIR (or --instance-plain-http)",
        );
    } else {
        tls.clone()
    };
    let configured = match configured_access_keys(&cli) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };

    let shared_url = cli
        .store
        .as_ref()
        .and_then(|p| p.to_str())
        .filter(|s| shared::is_url(s))
        .map(str::to_owned);
    let mut shared = None;
    let (store, mut provider, saved_access_keys, first_start) = if let Some(url) = &shared_url {
        match open_shared(&cli, url).await {
            Ok((opened, loaded)) => {
                shared = Some(opened);
                (None, loaded.provider, loaded.access_keys, false)
            }
            Err(e) => return fail(e),
        }
    } else {
        match open_store(&cli) {
            Ok(opened) => opened,
            Err(e) => return fail(e),
        }
    };
    provider.set_engine(cli.aead_engine);
    if cli.export.is_some() || cli.import.is_some() {
        let Some(store) = &store else {
            return fail("--export and --import need --store");
        };
        return store_job(&cli, store, &provider, &saved_access_keys);
    }

    // AccessKeys: configured ones win; else the store's saved ones; else a new demo pair,
    // saved in the store so that a restart still authenticates.
    let mut new_demo_pair = false;
    let access_keys = if let Some(keys) = configured {
        keys
    } else if !saved_access_keys.is_empty() {
        saved_access_keys
    } else {
        new_demo_pair = true;
        match AccessKey::random(DEMO_ACCOUNT) {
            Ok(k) => vec![k],
            Err(e) => return fail(format!("cannot draw a demo AccessKey: {e}")),
        }
    };
    if new_demo_pair
        && let Some(store) = &store
        && let Err(e) = store.put_access_keys(&access_keys)
    {
        return fail(format!("cannot write the AccessKeys to the store: {e}"));
    }
    if new_demo_pair
        && let Some(shared) = &shared
        && let Err(e) = shared.put_access_keys(&access_keys)
    {
        return fail(format!(
            "cannot write the AccessKeys to the shared store: {e}"
        ));
    }

    let first_account = access_keys
        .first()
        .map_or_else(|| DEMO_ACCOUNT.to_owned(), |k| k.account.clone());
    if first_start {
        match create_demo_key(&mut provider, store.as_ref(), &first_account, &cli.region) {
            Ok(key) => println!("kms-server: demo key: {key} (account {first_account})"),
            Err(e) => return fail(format!("cannot create the demo key: {e}")),
        }
    }
    for key in &access_keys {
        if new_demo_pair {
            println!("kms-server: demo AccessKeyId: {}", key.id);
            println!("kms-server: demo AccessKeySecret: {}", key.secret());
            println!("kms-server: demo account: {}", key.account);
        } else {
            println!(
                "kms-server: AccessKeyId {} (account {})",
                key.id, key.account
            );
        }
    }

    let client_key_account = cli
        .client_key_account
        .clone()
        .unwrap_or_else(|| first_account.clone());
    let mut config = Config::new(access_keys);
    config.region.clone_from(&cli.region);
    config.rate_limit = cli.rate_limit.max(1);
    config.key_quota = cli.key_quota;
    config.nonce_capacity_per_key = cli.nonce_capacity_per_key;
    let service = match shared {
        Some(shared) => Arc::new(Service::new_replica(
            config,
            provider,
            shared,
            cli.replica_poll.max(Duration::from_millis(10)),
            cli.store_stale_after,
        )),
        None => Arc::new(Service::new(config, provider, store)),
    };
    if let Some(shared) = service.shared() {
        println!(
            "kms-server: shared store: PostgreSQL {:?} (replica {}, generation {}, poll {}, stale after {})",
            shared.config().get_dbname().unwrap_or_default(),
            shared.replica_id(),
            shared.generation(),
            humantime::format_duration(cli.replica_poll),
            humantime::format_duration(cli.store_stale_after),
        );
        if let Err(e) = Service::spawn_follower(&service) {
            return fail(format!("cannot start the replica's follower: {e}"));
        }
    }
    if let Some(ahead) = cli.key_clock_ahead {
        service.advance_key_clock(ahead);
        println!(
            "kms-server: keys see the clock {} ahead (--key-clock-ahead, for tests)",
            humantime::format_duration(ahead)
        );
    }
    if let Some(store) = service.store() {
        println!(
            "kms-server: store: {} (generation {})",
            store.path().display(),
            store.generation()
        );
    }

    // The KMS-instance API: its instance and client keys.
    let instance_api = if cli.instance_listen.is_some() || cli.issue_client_key {
        let instance_store: Option<&dyn InstanceStore> = match (service.store(), service.shared()) {
            (Some(store), _) => Some(store),
            (None, Some(shared)) => Some(shared),
            (None, None) => None,
        };
        if cli.issue_client_key && instance_store.is_none() {
            return fail(
                "--issue-client-key needs --store (the server keeps the key's public half there)",
            );
        }
        let (instance, mut keys) = match open_instance(instance_store) {
            Ok(opened) => opened,
            Err(e) => return fail(e),
        };
        println!("kms-server: KMS instance: {instance}");
        let must_issue = cli.issue_client_key || keys.is_empty();
        if must_issue {
            let Some(dir) = &cli.client_key_dir else {
                return fail(
                    "the KMS-instance API has no client key yet: give --client-key-dir DIR, where the server writes the one it issues",
                );
            };
            match issue_client_key(
                instance_store,
                dir,
                &client_key_account,
                service.region(),
                instance.as_str(),
            ) {
                Ok(key) => keys.push(key),
                Err(e) => return fail(e),
            }
        }
        if cli.issue_client_key {
            return ExitCode::SUCCESS;
        }
        for key in &keys {
            println!(
                "kms-server: client key {} (account {})",
                key.key_id, key.account
            );
        }
        Some(Arc::new(InstanceApi::new(
            Arc::clone(&service),
            instance,
            keys,
            service.rate_limit(),
        )))
    } else {
        None
    };

    tokio::time::sleep(service.until_serving(SystemTime::now())).await;
    let listener = match kms_server::http::bind(cli.listen) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", cli.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let instance_listener = match (&instance_api, cli.instance_listen) {
        (Some(api), Some(listen)) => {
            let listener = match kms_server::http::bind(listen) {
                Ok(l) => l,
                Err(e) => return fail(format!("cannot listen on {listen}: {e}")),
            };
            let instance_addr = match listener.local_addr() {
                Ok(a) => a,
                Err(e) => return fail(e),
            };
            println!(
                "kms-server: KMS-instance API listening on {}://{instance_addr} (instance {})",
                if instance_tls.is_some() {
                    "https"
                } else {
                    "http"
                },
                api.instance()
            );
            Some((Arc::clone(api), listener))
        }
        _ => None,
    };
    println!(
        "kms-server: listening on {}://{addr} (region {})",
        if tls.is_some() { "https" } else { "http" },
        service.region()
    );
    let tick = Duration::from_secs(cli.tick_seconds.max(1));
    // One shutdown signal for both listeners.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let instance_served = match instance_listener {
        Some((api, listener)) => {
            let options = ServeOptions {
                limits,
                tls: instance_tls,
            };
            Some(tokio::spawn(instance::http::serve(
                listener,
                api,
                options,
                until_stopped(stopped.clone()),
            )))
        }
        None => None,
    };
    let options = ServeOptions { limits, tls };
    let served =
        kms_server::http::serve_with(listener, service, tick, options, until_stopped(stopped))
            .await;
    if let Some(task) = instance_served {
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return fail(format!("the KMS-instance API: {e}")),
            Err(e) => return fail(format!("the KMS-instance API: {e}")),
        }
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
