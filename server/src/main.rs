//! `kms-server`: run the service. See `server/README.md`.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::{Caller, InMemoryProvider};
use kms_server::http::ServeOptions;
use kms_server::keyring::{Keyring, parse_wrapping_key};
use kms_server::limits::Limits;
use kms_server::{AccessKey, Config, Service, tls};
use zeroize::Zeroizing;

/// The allocator: mimalloc returns the memory of connections that have gone to the system
/// within seconds, where glibc's malloc kept most of it (server/README.md, "Memory").
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

    /// Keyring file: loaded at start, written after every change to keys. Needs a wrapping
    /// key (KMS_KEYRING_KEY or --keyring-key-file).
    #[arg(long, env = "KMS_SERVER_KEYRING")]
    keyring: Option<PathBuf>,

    /// File holding the keyring's 256-bit wrapping key as 64 hex digits (else the
    /// KMS_KEYRING_KEY environment variable). Never on the command line.
    #[arg(long)]
    keyring_key_file: Option<PathBuf>,

    /// File of AccessKey pairs, `ID:SECRET:ACCOUNT` one per line (else the
    /// KMS_SERVER_ACCESS_KEYS environment variable, comma-separated; else a demo pair).
    #[arg(long)]
    access_keys_file: Option<PathBuf>,

    /// Requests per second per account and operation (also the burst).
    #[arg(long, env = "KMS_SERVER_RATE_LIMIT", default_value_t = 750)]
    rate_limit: u32,

    /// Seconds between housekeeping passes (due deletions; seal counts written to the keyring).
    #[arg(long, default_value_t = 30)]
    tick_seconds: u64,

    /// The most connections open at once; at the cap, new ones wait in the listen backlog.
    #[arg(long, env = "KMS_SERVER_MAX_CONNECTIONS", default_value_t = Limits::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,

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
            "--keyring needs a wrapping key: set KMS_KEYRING_KEY (64 hex digits) or pass --keyring-key-file"
                .into(),
        );
    };
    parse_wrapping_key(&text).ok_or_else(|| "the wrapping key must be 64 hex digits".to_owned())
}

fn create_demo_key(
    provider: &mut InMemoryProvider,
    account: &str,
    region: &str,
) -> Result<String, kms_core::Error> {
    let caller = Caller::new(account, region);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let request = CreateKey::new().with_description("kms-server demo key");
    let staged = management::create_key(provider, &caller, &request, &mut kms_core::OsRng, now)?;
    let key_id = provider.apply(staged)?.key_id;
    let Ok(staged) = management::create_alias(provider, &caller, DEMO_ALIAS, &key_id.into(), now)
    else {
        // The alias is taken in this account (a configured account reused): keep the key.
        return Ok(key_id.to_string());
    };
    provider.apply(staged)?;
    Ok(format!("{key_id} ({DEMO_ALIAS})"))
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let limits = match limits(&cli) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let tls = match tls(&cli) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let configured = match configured_access_keys(&cli) {
        Ok(k) => k,
        Err(e) => return fail(e),
    };

    let keyring = match &cli.keyring {
        None => None,
        Some(path) => match wrapping_key(&cli) {
            Ok(key) => Some(Keyring::new(path, key)),
            Err(e) => return fail(e),
        },
    };
    let loaded = match keyring.as_ref().map(Keyring::load).transpose() {
        Ok(p) => p.flatten(),
        Err(e) => return fail(e),
    };
    let first_start = loaded.is_none();
    let mut provider = loaded.unwrap_or_default();

    // AccessKeys: configured ones win; else the keyring's saved ones; else a new demo pair,
    // saved beside the keyring so that a restart still authenticates.
    let mut new_demo_pair = false;
    let access_keys = if let Some(keys) = configured {
        keys
    } else {
        let saved = match keyring.as_ref().map(Keyring::load_access_keys).transpose() {
            Ok(k) => k.flatten(),
            Err(e) => return fail(e),
        };
        match saved {
            Some(keys) => keys,
            None => {
                new_demo_pair = true;
                match AccessKey::random(DEMO_ACCOUNT) {
                    Ok(k) => vec![k],
                    Err(e) => return fail(format!("cannot draw a demo AccessKey: {e}")),
                }
            }
        }
    };
    if new_demo_pair
        && let Some(keyring) = &keyring
        && let Err(e) = keyring.save_access_keys(&access_keys)
    {
        return fail(format!("cannot write the AccessKey file: {e}"));
    }

    let first_account = access_keys
        .first()
        .map_or_else(|| DEMO_ACCOUNT.to_owned(), |k| k.account.clone());
    if first_start {
        match create_demo_key(&mut provider, &first_account, &cli.region) {
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

    let mut config = Config::new(access_keys);
    config.region.clone_from(&cli.region);
    config.rate_limit = cli.rate_limit.max(1);
    let service = Arc::new(Service::new(config, provider, keyring));
    if first_start && let Err(e) = service.save() {
        return fail(format!("cannot write the keyring: {e}"));
    }
    if let Some(k) = service.keyring() {
        println!("kms-server: keyring: {}", k.path().display());
    }

    let listener = match kms_server::http::bind(cli.listen) {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", cli.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    println!(
        "kms-server: listening on {}://{addr} (region {})",
        if tls.is_some() { "https" } else { "http" },
        service.region()
    );
    let tick = Duration::from_secs(cli.tick_seconds.max(1));
    let options = ServeOptions { limits, tls };
    match kms_server::http::serve_with(listener, service, tick, options, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
