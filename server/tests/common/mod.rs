//! Shared test helpers: an in-process server on an ephemeral loopback port, and a client.
#![allow(dead_code)]

pub mod binary;
pub mod instance;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use kms_core::InMemoryProvider;
use kms_server::client::{Client, Credentials};
use kms_server::keyring::parse_wrapping_key;
use kms_server::store::Store;
use kms_server::{AccessKey, Config, Service};
use tokio::sync::oneshot;

/// The AccessKey of account A (the main test account).
pub const AK_A: &str = "LTAItestaccountA000001";
/// Its secret.
pub const SK_A: &str = "secret-of-account-a";
/// Account A.
pub const ACCOUNT_A: &str = "1111111111111111";
/// The AccessKey of account B.
pub const AK_B: &str = "LTAItestaccountB000001";
/// Its secret.
pub const SK_B: &str = "secret-of-account-b";
/// Account B.
pub const ACCOUNT_B: &str = "2222222222222222";

/// A running in-process server.
pub struct TestServer {
    pub addr: SocketAddr,
    pub service: Arc<Service>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A client signing as account A.
    pub fn client(&self) -> Client {
        Client::new(
            self.addr,
            Credentials {
                access_key_id: AK_A.into(),
                access_key_secret: SK_A.into(),
            },
        )
    }

    /// A client signing as account B.
    pub fn client_b(&self) -> Client {
        Client::new(
            self.addr,
            Credentials {
                access_key_id: AK_B.into(),
                access_key_secret: SK_B.into(),
            },
        )
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

/// The default test configuration: accounts A and B.
pub fn config() -> Config {
    Config::new(vec![
        AccessKey::new(AK_A, SK_A, ACCOUNT_A),
        AccessKey::new(AK_B, SK_B, ACCOUNT_B),
    ])
}

/// Starts a server with `config` on 127.0.0.1:0.
pub async fn start_with(config: Config) -> TestServer {
    start_service(Service::new(config, InMemoryProvider::new(), None)).await
}

/// The wrapping key of the tests' stores.
pub const STORE_KEY_HEX: &str = "1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100";

/// Opens (or makes) the store at `path` under the tests' wrapping key; a store made now seals
/// at most `seal_limit` times per version. Returns the store and the provider it loaded.
pub fn open_store(path: &std::path::Path, seal_limit: u64) -> (Store, InMemoryProvider) {
    let key = parse_wrapping_key(STORE_KEY_HEX).unwrap();
    let (store, loaded) = Store::open(path, key, seal_limit).unwrap();
    (store, loaded.provider)
}

/// What the store at `path` holds on disk now.
pub fn on_disk(path: &std::path::Path) -> InMemoryProvider {
    on_disk_with(path, STORE_KEY_HEX)
}

/// What the store at `path`, sealed under the wrapping key `key_hex`, holds on disk now.
pub fn on_disk_with(path: &std::path::Path, key_hex: &str) -> InMemoryProvider {
    let key = parse_wrapping_key(key_hex).unwrap();
    Store::peek(path, &key).unwrap().provider
}

/// Starts a server over `provider`, persisting to `store` if given, with the default
/// configuration.
pub async fn start_with_provider(provider: InMemoryProvider, store: Option<Store>) -> TestServer {
    start_service(Service::new(config(), provider, store)).await
}

/// Serves `service` on 127.0.0.1:0, with housekeeping once an hour.
pub async fn start_service(service: Service) -> TestServer {
    start_service_ticking(service, Duration::from_secs(3600)).await
}

/// Serves `service` on 127.0.0.1:0, with housekeeping every `tick`.
pub async fn start_service_ticking(service: Service, tick: Duration) -> TestServer {
    // As the binary does: accept requests from the second the service serves from.
    tokio::time::sleep(service.until_serving(std::time::SystemTime::now())).await;
    let service = Arc::new(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(kms_server::http::serve(
        listener,
        Arc::clone(&service),
        tick,
        async move {
            let _ = rx.await;
        },
    ));
    TestServer {
        addr,
        service,
        stop: Some(tx),
        task: Some(task),
    }
}

/// The status and `Code` of an answer.
pub fn code(r: &kms_server::client::ClientResponse) -> (u16, String) {
    (r.status, r.field("Code"))
}

/// Starts a server with the default configuration.
pub async fn start() -> TestServer {
    start_with(config()).await
}

/// Creates a key over HTTP as `client` and returns its ID.
pub async fn create_key(client: &Client) -> String {
    create_key_with(client, &[]).await
}

/// CreateKey over HTTP as `client` with `params`; returns the new key's ID.
pub async fn create_key_with(client: &Client, params: &[(&str, &str)]) -> String {
    let r = client.call("CreateKey", params).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!id.is_empty(), "{}", r.text());
    id
}

/// CreateKeyVersion over HTTP as `client` on `key`; returns the new version's ID.
pub async fn create_key_version(client: &Client, key: &str) -> String {
    let r = client
        .call("CreateKeyVersion", &[("KeyId", key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["KeyVersion"]["KeyVersionId"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A fresh directory under the system's temporary directory.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("kms-server-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
