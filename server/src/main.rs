//! `kms-server`: run the service. See `server/README.md`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use clap::Parser;
use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::{Caller, InMemoryProvider};
use kms_server::keyring::{Keyring, parse_wrapping_key};
use kms_server::{AccessKey, Config, Service};
use zeroize::Zeroizing;

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

    tokio::time::sleep(service.until_serving(SystemTime::now())).await;
    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => return fail(format!("cannot listen on {}: {e}", cli.listen)),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    println!(
        "kms-server: listening on http://{addr} (region {})",
        service.region()
    );
    let tick = Duration::from_secs(cli.tick_seconds.max(1));
    match kms_server::http::serve(listener, service, tick, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
