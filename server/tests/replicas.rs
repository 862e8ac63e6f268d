//! Several replicas of the `kms-server` binary on one PostgreSQL database (`--store
//! postgres://…`), tried as an operator would run and break them:
//!
//! - **SIGKILLs and a database restart under load.** Three replicas; a load that creates keys
//!   and aliases, rotates keys, disables and enables them and generates data keys, each
//!   request sent to the next replica in turn. A random replica is killed (SIGKILL) and
//!   restarted on the same database, again and again, and PostgreSQL is restarted once in the
//!   middle. Afterwards every acknowledged key, version, alias and blob is on every replica, no
//!   two CreateKey calls returned one KeyId, no version sealed more than its (small) seal limit
//!   and no replica answered InternalFailure while PostgreSQL was up.
//! - **A disabled key on the other replicas.** How long after DisableKey is acknowledged by one
//!   replica the others still hand out data keys under it (bound: one poll period and a second).
//! - **Replay across replicas.** A signed mutation sent again, byte for byte, to another replica.
//! - **An alias created on two replicas at once.** One wins, the other answers that it exists.
//! - **/healthz and the database.** PostgreSQL stopped and started under a replica.
//! - **The KMS-instance API.** A client key issued by one replica signs requests that another
//!   serves; one instance for all.
//!
//! These tests need a PostgreSQL server and are ignored by default: run them under
//! `server/scripts/with-postgres.sh`, which starts a throw-away one and exports
//! `KMS_TEST_POSTGRES` (a `postgres://` URL) and `KMS_TEST_PG_CTL` (a command that takes
//! `start`, `stop` or `restart`):
//!
//! ```sh
//! bash server/scripts/with-postgres.sh \
//!   cargo test -p kms-server --test replicas -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Each test makes a database of its own (`psql … -c 'CREATE DATABASE …'`).

mod common;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::http::Request;
use common::binary::command_via;
use http_body_util::Full;
use kms_server::client::{CallOptions, Client, ClientResponse, Credentials};

const WRAPPING_KEY: &str = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const AK: &str = "LTAIreplicas000000001";
const SK: &str = "replicas-secret";
const ACCOUNT: &str = "4444444444444444";

/// Longest wait for one answer: a replica that hangs fails the request, not the test run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The seal limit given to the replicas of the kill test (when the binary takes one).
const SMALL_SEAL_LIMIT: u64 = 8;

fn envs() -> Vec<(&'static str, String)> {
    vec![
        ("KMS_KEYRING_KEY", WRAPPING_KEY.into()),
        ("KMS_SERVER_ACCESS_KEYS", format!("{AK}:{SK}:{ACCOUNT}")),
        ("KMS_SERVER_RATE_LIMIT", "1000000".into()),
        ("KMS_SERVER_KEY_QUOTA", "1000000".into()),
    ]
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// The harness's PostgreSQL URL; panics with what to do when it is not set.
fn postgres_url() -> String {
    match std::env::var("KMS_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "KMS_TEST_POSTGRES is not set: these tests need a PostgreSQL server. Run them under \
             the harness, which starts a throw-away one: `bash server/scripts/with-postgres.sh \
             cargo test -p kms-server --test replicas -- --ignored`"
        ),
    }
}

/// `url` naming database `db` instead of its own (the query string kept).
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority = base.find("://").map_or(0, |i| i + 3);
    let path = base[authority..]
        .find('/')
        .map_or(base.len(), |i| authority + i);
    let mut out = format!("{}/{db}", &base[..path]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// A new, empty database for one test; its URL.
fn fresh_database(tag: &str) -> String {
    let base = postgres_url();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("kms_{tag}_{}_{}", std::process::id(), nanos % 1_000_000_000);
    let out = Command::new("psql")
        .arg(&base)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .stdin(Stdio::null())
        .output()
        .expect("psql (the PostgreSQL client) runs");
    assert!(
        out.status.success(),
        "CREATE DATABASE {name} on {base} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    with_database(&base, &name)
}

/// One value from `sql` on the database at `url` (`psql -At`), or why not.
fn psql_value(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Runs `$KMS_TEST_PG_CTL action` (start, stop, restart); panics if it fails. Its output goes
/// to a file (the PostgreSQL it starts may keep the descriptors it inherits open).
fn pg_ctl(action: &str) {
    let ctl = match std::env::var("KMS_TEST_PG_CTL") {
        Ok(ctl) if !ctl.is_empty() => ctl,
        _ => panic!(
            "KMS_TEST_PG_CTL is not set: run these tests under server/scripts/with-postgres.sh"
        ),
    };
    let dir = common::temp_dir("pg-ctl");
    let log = dir.join("pg_ctl.log");
    let file = std::fs::File::create(&log).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{ctl} {action}"))
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .status()
        .expect("sh runs");
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        status.success(),
        "`$KMS_TEST_PG_CTL {action}` ({ctl} {action}) failed: {status}: {output}"
    );
}

/// PostgreSQL stopped until dropped (or [`Stopped::start`]): a test that fails while it is
/// down leaves it running for the next.
struct Stopped {
    started: bool,
}

impl Stopped {
    fn stop() -> Self {
        pg_ctl("stop");
        Self { started: false }
    }

    fn start(mut self) {
        self.started = true;
        pg_ctl("start");
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if !self.started {
            self.started = true;
            if std::thread::panicking() {
                let _ = std::panic::catch_unwind(|| pg_ctl("start"));
            } else {
                pg_ctl("start");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Replicas

/// A replica: the binary on the database, both its outputs read to the end (the last lines
/// kept for failure messages), killed on drop.
struct Replica {
    child: Child,
    addr: SocketAddr,
    log: Log,
}

/// A replica's output lines, each with when it came.
type Log = Arc<Mutex<Vec<(Instant, String)>>>;

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `stream` line by line into `log` (its last few hundred lines) until it ends; the
/// address of the "listening on" line goes to `tx`.
fn drain(stream: impl Read + Send + 'static, log: Log, tx: Option<mpsc::Sender<SocketAddr>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &tx
                && let Some(rest) = line
                    .strip_prefix("kms-server: listening on http://")
                    .or_else(|| line.strip_prefix("kms-server: listening on https://"))
                && let Some(addr) = rest.split(' ').next().and_then(|a| a.parse().ok())
            {
                let _ = tx.send(addr);
            }
            let mut log = log.lock().unwrap();
            log.push((Instant::now(), line));
            if log.len() > 2000 {
                log.drain(..1000);
            }
        }
    });
}

impl Replica {
    /// Starts a replica on the database at `url` with `args`; waits until it listens.
    fn start(url: &str, args: &[String]) -> Replica {
        let mut all = vec!["--store", url];
        all.extend(args.iter().map(String::as_str));
        let envs = envs();
        let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut cmd = command_via(&[], &all, &envs);
        cmd.stdin(Stdio::null());
        let mut child = cmd.spawn().expect("kms-server starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        drain(child.stdout.take().unwrap(), Arc::clone(&log), Some(tx));
        drain(child.stderr.take().unwrap(), Arc::clone(&log), None);
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => Replica { child, addr, log },
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "a replica on {url} with {args:?} did not listen ({e:?}, {status:?}); its \
                     output: {:#?}",
                    log.lock().unwrap()
                );
            }
        }
    }

    fn client(&self) -> Client {
        Client::new(
            self.addr,
            Credentials {
                access_key_id: AK.into(),
                access_key_secret: SK.into(),
            },
        )
    }

    /// SIGKILL: no shutdown path runs.
    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The replica's last lines of output.
    fn tail(&self) -> String {
        let log = self.log.lock().unwrap();
        let from = log.len().saturating_sub(20);
        let lines: Vec<&str> = log[from..].iter().map(|(_, l)| l.as_str()).collect();
        lines.join("\n")
    }
}

/// `n` replicas on `url`, started one after the other.
fn replicas(url: &str, n: usize, args: &[String]) -> Vec<Replica> {
    (0..n).map(|_| Replica::start(url, args)).collect()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// ---------------------------------------------------------------------------------------------
// Requests

/// `action` with `params`, within [`REQUEST_TIMEOUT`]; `Err` when no answer came.
async fn call(c: &Client, action: &str, params: &[(&str, &str)]) -> Result<ClientResponse, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, c.call(action, params)).await {
        Ok(Ok(r)) => Ok(r),
        Ok(Err(e)) => Err(format!("{action} to {}: {e}", c.addr())),
        Err(_) => Err(format!(
            "{action} to {}: no answer in {REQUEST_TIMEOUT:?}",
            c.addr()
        )),
    }
}

/// A pre-signed request sent to `c`'s server, within [`REQUEST_TIMEOUT`].
async fn send(c: &Client, request: Request<Full<Bytes>>) -> ClientResponse {
    match tokio::time::timeout(REQUEST_TIMEOUT, c.send(request)).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => panic!("a request to {} failed: {e}", c.addr()),
        Err(_) => panic!("no answer from {} in {REQUEST_TIMEOUT:?}", c.addr()),
    }
}

/// `action` with `params`, which must answer 200.
async fn must(c: &Client, action: &str, params: &[(&str, &str)]) -> ClientResponse {
    let r = call(c, action, params).await.unwrap();
    assert_eq!(
        r.status,
        200,
        "{action} {params:?} to {}: {}",
        c.addr(),
        r.text()
    );
    r
}

fn code(r: &ClientResponse) -> (u16, String) {
    (r.status, r.field("Code"))
}

async fn create_key(c: &Client) -> String {
    let r = must(c, "CreateKey", &[]).await;
    let key = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!key.is_empty(), "{}", r.text());
    key
}

/// GET /healthz: status and body.
async fn healthz(c: &Client) -> Result<(u16, String), String> {
    let request = Request::builder()
        .method("GET")
        .uri("/healthz")
        .body(Full::new(Bytes::new()))
        .unwrap();
    match tokio::time::timeout(REQUEST_TIMEOUT, c.send(request)).await {
        Ok(Ok(r)) => Ok((r.status, r.text().trim().to_owned())),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("no answer".into()),
    }
}

/// Polls /healthz until it answers `status`; how long that took. Panics after `within`.
async fn wait_health(c: &Client, status: u16, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let got = healthz(c).await;
        if matches!(&got, Ok((s, _)) if *s == status) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < within,
            "/healthz of {} is not {status} after {within:?}: last {got:?}",
            c.addr()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `action` with `params` on `c` until it answers 200; panics after `within`.
async fn wait_ok(c: &Client, action: &str, params: &[(&str, &str)], within: Duration) {
    let start = Instant::now();
    loop {
        let r = call(c, action, params).await.unwrap();
        if r.status == 200 {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{action} {params:?} on {} does not succeed after {within:?}: {}",
            c.addr(),
            r.text()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Every version ListKeyVersions gives for `key` on `c`, page by page.
async fn list_versions(c: &Client, key: &str) -> HashSet<String> {
    let mut listed = HashSet::new();
    for page in 1.. {
        let number = page.to_string();
        let r = must(
            c,
            "ListKeyVersions",
            &[("KeyId", key), ("PageNumber", &number), ("PageSize", "100")],
        )
        .await;
        let v = r.json();
        let items = v["KeyVersions"]["KeyVersion"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for item in &items {
            listed.insert(item["KeyVersionId"].as_str().unwrap_or_default().to_owned());
        }
        let total = v["TotalCount"].as_u64().unwrap_or(0) as usize;
        if items.is_empty() || listed.len() >= total {
            break;
        }
    }
    listed
}

/// The keys ListKeys counts on `c`.
async fn key_count(c: &Client) -> u64 {
    must(c, "ListKeys", &[("PageSize", "100")]).await.json()["TotalCount"]
        .as_u64()
        .unwrap()
}

/// A small xorshift generator: the test's random points, reproducible from the seed printed.
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn seed() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

// ---------------------------------------------------------------------------------------------
// 1. SIGKILLs and a database restart under load

/// What some replica acknowledged (answered 200 for).
#[derive(Default)]
struct Acked {
    keys: Vec<String>,
    /// (alias, key)
    aliases: Vec<(String, String)>,
    /// (key, version) made by CreateKeyVersion
    versions: Vec<(String, String)>,
    /// (blob, plaintext, key, version)
    blobs: Vec<(String, String, String, String)>,
    /// DisableKey and EnableKey calls acknowledged.
    toggles: usize,
    /// Requests not acknowledged: "Action status Code" (or "Action: no answer") -> how many.
    failed: HashMap<String, usize>,
    /// When each `500 InternalFailure` came, and to which action.
    internal: Vec<(Instant, String)>,
}

type Shared = Arc<Mutex<Acked>>;

/// The replicas' clients; each request goes to the next one in turn.
struct Targets {
    clients: RwLock<Vec<Client>>,
    next: AtomicUsize,
}

impl Targets {
    fn next(&self) -> Client {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let clients = self.clients.read().unwrap();
        clients[i % clients.len()].clone()
    }

    fn set(&self, slot: usize, client: Client) {
        self.clients.write().unwrap()[slot] = client;
    }
}

/// The answer if it is a 200; else the failure is counted and `None`.
fn acked(
    shared: &Shared,
    action: &str,
    r: Result<ClientResponse, String>,
) -> Option<ClientResponse> {
    let mut shared = shared.lock().unwrap();
    let what = match r {
        Ok(r) if r.status == 200 => return Some(r),
        Ok(r) => {
            if r.field("Code") == "InternalFailure" {
                shared.internal.push((Instant::now(), action.to_owned()));
            }
            format!("{action} {} {}", r.status, r.field("Code"))
        }
        Err(_) => format!("{action}: no answer"),
    };
    *shared.failed.entry(what).or_default() += 1;
    None
}

fn pick(shared: &Shared, rng: &mut Xorshift) -> Option<String> {
    let acked = shared.lock().unwrap();
    if acked.keys.is_empty() {
        return None;
    }
    Some(acked.keys[rng.below(acked.keys.len() as u64) as usize].clone())
}

/// A short pause after a failure (a dead replica refuses at once) or when there is no key yet.
async fn pause() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// The load, until `stop`: one task creates keys (and an alias for every third), one rotates
/// keys, one disables and enables keys, two generate data keys. Every request goes to the next
/// replica.
async fn load(targets: Arc<Targets>, shared: Shared, stop: Arc<AtomicBool>, seed: u64) {
    let mut tasks = Vec::new();
    {
        let (t, shared, stop) = (Arc::clone(&targets), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let r = call(&t.next(), "CreateKey", &[]).await;
                let Some(r) = acked(&shared, "CreateKey", r) else {
                    pause().await;
                    continue;
                };
                let key = r.json()["KeyMetadata"]["KeyId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    !key.is_empty(),
                    "CreateKey answered 200 without a KeyId: {}",
                    r.text()
                );
                shared.lock().unwrap().keys.push(key.clone());
                n += 1;
                if n.is_multiple_of(3) {
                    let alias = format!("alias/load-{n}");
                    let params = [("AliasName", alias.as_str()), ("KeyId", key.as_str())];
                    let r = call(&t.next(), "CreateAlias", &params).await;
                    if acked(&shared, "CreateAlias", r).is_some() {
                        shared.lock().unwrap().aliases.push((alias, key));
                    }
                }
            }
        }));
    }
    {
        let (t, shared, stop) = (Arc::clone(&targets), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Xorshift(seed ^ 0x5151);
            while !stop.load(Ordering::SeqCst) {
                let Some(key) = pick(&shared, &mut rng) else {
                    pause().await;
                    continue;
                };
                let r = call(&t.next(), "CreateKeyVersion", &[("KeyId", &key)]).await;
                let Some(r) = acked(&shared, "CreateKeyVersion", r) else {
                    pause().await;
                    continue;
                };
                let version = r.json()["KeyVersion"]["KeyVersionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(!version.is_empty(), "{}", r.text());
                shared.lock().unwrap().versions.push((key, version));
            }
        }));
    }
    {
        let (t, shared, stop) = (Arc::clone(&targets), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Xorshift(seed ^ 0xd15a);
            while !stop.load(Ordering::SeqCst) {
                let Some(key) = pick(&shared, &mut rng) else {
                    pause().await;
                    continue;
                };
                for action in ["DisableKey", "EnableKey"] {
                    let r = call(&t.next(), action, &[("KeyId", &key)]).await;
                    if acked(&shared, action, r).is_some() {
                        shared.lock().unwrap().toggles += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }));
    }
    for g in 0..2u64 {
        let (t, shared, stop) = (Arc::clone(&targets), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Xorshift(seed ^ (0x77 + g));
            while !stop.load(Ordering::SeqCst) {
                let Some(key) = pick(&shared, &mut rng) else {
                    pause().await;
                    continue;
                };
                let r = call(&t.next(), "GenerateDataKey", &[("KeyId", &key)]).await;
                let Some(r) = acked(&shared, "GenerateDataKey", r) else {
                    pause().await;
                    continue;
                };
                let entry = (
                    r.field("CiphertextBlob"),
                    r.field("Plaintext"),
                    key,
                    r.field("KeyVersionId"),
                );
                assert!(
                    !entry.0.is_empty() && !entry.1.is_empty() && !entry.3.is_empty(),
                    "{}",
                    r.text()
                );
                shared.lock().unwrap().blobs.push(entry);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// Everything in `acked` is on the replica `c`: keys described (and enabled), aliases resolving
/// to their keys, versions listed, blobs opening to their plaintexts under their versions.
async fn verify(name: String, c: Client, acked: Arc<Acked>) {
    for key in &acked.keys {
        let r = call(&c, "DescribeKey", &[("KeyId", key)]).await.unwrap();
        assert_eq!(
            r.status,
            200,
            "{name}: acknowledged key {key} missing: {}",
            r.text()
        );
        assert_eq!(
            r.json()["KeyMetadata"]["KeyState"],
            "Enabled",
            "{name}: key {key} after EnableKey: {}",
            r.text()
        );
    }
    for (alias, key) in &acked.aliases {
        let r = call(&c, "DescribeKey", &[("KeyId", alias)]).await.unwrap();
        assert_eq!(
            r.status,
            200,
            "{name}: acknowledged alias {alias} missing: {}",
            r.text()
        );
        assert_eq!(
            r.json()["KeyMetadata"]["KeyId"],
            key.as_str(),
            "{name}: alias {alias} names another key"
        );
    }
    let mut by_key: HashMap<&str, Vec<&str>> = HashMap::new();
    for (key, version) in &acked.versions {
        by_key.entry(key).or_default().push(version);
    }
    for (key, versions) in by_key {
        let listed = list_versions(&c, key).await;
        for version in versions {
            assert!(
                listed.contains(version),
                "{name}: acknowledged version {version} of {key} not listed ({} listed)",
                listed.len()
            );
        }
    }
    for (blob, plaintext, key, version) in &acked.blobs {
        let r = call(&c, "Decrypt", &[("CiphertextBlob", blob)])
            .await
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "{name}: an acknowledged blob of {key} (version {version}) does not decrypt: {}",
            r.text()
        );
        assert_eq!(r.field("Plaintext"), *plaintext, "{name}: blob of {key}");
        assert_eq!(r.field("KeyVersionId"), *version, "{name}: blob of {key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn replicas_survive_kills_and_a_database_restart() {
    const REPLICAS: usize = 3;
    const KILLS: usize = 12;
    /// Kills stop being made after this (the test's bound), unless fewer than 10 were made.
    const LOAD_FOR: Duration = Duration::from_secs(60);
    let url = fresh_database("kills");
    let seed = seed();
    eprintln!("seed {seed}");
    let mut rng = Xorshift(seed);
    let mut replica_args = args(&["--replica-poll", "1s"]);
    replica_args.extend(["--seal-limit".to_owned(), SMALL_SEAL_LIMIT.to_string()]);
    let seal_limit = Some(SMALL_SEAL_LIMIT);
    let started = Instant::now();
    let mut running: Vec<Option<Replica>> = replicas(&url, REPLICAS, &replica_args)
        .into_iter()
        .map(Some)
        .collect();
    let targets = Arc::new(Targets {
        clients: RwLock::new(
            running
                .iter()
                .map(|r| r.as_ref().unwrap().client())
                .collect(),
        ),
        next: AtomicUsize::new(0),
    });
    let shared: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let loader = tokio::spawn(load(
        Arc::clone(&targets),
        Arc::clone(&shared),
        Arc::clone(&stop),
        rng.next(),
    ));

    let mut kills = 0;
    let mut pg_restarted = false;
    let mut pg_window = (started, started);
    let mut kill_times = Vec::new();
    let mut old_logs = Vec::new();
    while kills < KILLS && (kills < 10 || started.elapsed() < LOAD_FOR) {
        tokio::time::sleep(Duration::from_millis(1000 + rng.below(2500))).await;
        let slot = rng.below(REPLICAS as u64) as usize;
        let victim = running[slot].take().unwrap();
        old_logs.push(Arc::clone(&victim.log));
        victim.kill();
        kills += 1;
        kill_times.push(format!(
            "{:.2} s (replica {slot})",
            started.elapsed().as_secs_f64()
        ));
        // Dead for a moment: its share of the requests fails.
        tokio::time::sleep(Duration::from_millis(rng.below(300))).await;
        let (url2, args2) = (url.clone(), replica_args.clone());
        let replica = tokio::task::spawn_blocking(move || Replica::start(&url2, &args2))
            .await
            .unwrap();
        targets.set(slot, replica.client());
        running[slot] = Some(replica);
        if !pg_restarted && kills == KILLS / 2 {
            let at = Instant::now();
            tokio::task::spawn_blocking(|| pg_ctl("restart"))
                .await
                .unwrap();
            pg_window = (at, Instant::now());
            eprintln!(
                "PostgreSQL restarted after kill {kills} ({:.1} s into the run, took {:.1} s)",
                started.elapsed().as_secs_f64(),
                at.elapsed().as_secs_f64()
            );
            pg_restarted = true;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    loader.await.unwrap();
    let loaded_for = started.elapsed();
    assert!(pg_restarted, "PostgreSQL was not restarted");

    // All three up and caught up.
    let clients: Vec<Client> = running
        .iter()
        .map(|r| r.as_ref().unwrap().client())
        .collect();
    for (i, c) in clients.iter().enumerate() {
        let took = wait_health(c, 200, Duration::from_secs(30)).await;
        if took > Duration::from_secs(2) {
            eprintln!("replica {i}: /healthz 200 after {took:?}");
        }
    }
    let acked = Arc::new(std::mem::take(&mut *shared.lock().unwrap()));

    // No two CreateKey calls returned the same KeyId.
    let distinct: HashSet<&String> = acked.keys.iter().collect();
    assert_eq!(
        distinct.len(),
        acked.keys.len(),
        "two acknowledged CreateKey calls returned the same KeyId"
    );
    let aliases: HashSet<&String> = acked.aliases.iter().map(|(a, _)| a).collect();
    assert_eq!(
        aliases.len(),
        acked.aliases.len(),
        "an alias acknowledged twice"
    );

    // The load left some keys disabled: enable them all (Decrypt refuses a disabled key's
    // blobs), through each replica in turn.
    for (i, key) in acked.keys.iter().enumerate() {
        must(&clients[i % REPLICAS], "EnableKey", &[("KeyId", key)]).await;
    }
    // One poll period and a query, twice over, then every replica must hold everything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut checks = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        checks.push(tokio::spawn(verify(
            format!("replica {i} ({})", c.addr()),
            c.clone(),
            Arc::clone(&acked),
        )));
    }
    for (i, check) in checks.into_iter().enumerate() {
        if let Err(e) = check.await {
            let tail = running[i].as_ref().unwrap().tail();
            panic!("verifying replica {i} failed: {e}\nits last output:\n{tail}");
        }
    }

    // The seal budget: no version sealed more than the limit.
    let mut per_version: HashMap<&str, u64> = HashMap::new();
    for (_, _, _, version) in &acked.blobs {
        *per_version.entry(version).or_default() += 1;
    }
    let most = per_version.values().copied().max().unwrap_or(0);
    let blob_versions = per_version.len();
    if let Some(limit) = seal_limit {
        for (version, n) in &per_version {
            assert!(
                *n <= limit,
                "version {version} sealed {n} acknowledged blobs, over the seal limit {limit}"
            );
        }
        match psql_value(&url, "SELECT coalesce(max(seals), 0) FROM versions") {
            Ok(reserved) => {
                eprintln!("most seals reserved by the replicas for one version: {reserved}");
                let reserved: u64 = reserved.parse().unwrap();
                assert!(
                    reserved <= limit,
                    "{reserved} seals reserved, limit {limit}"
                );
            }
            Err(e) => eprintln!("(the versions table's seal counts not read: {e})"),
        }
    }

    let mut failed: Vec<_> = acked.failed.iter().collect();
    failed.sort();
    eprintln!(
        "{kills} SIGKILLs and 1 PostgreSQL restart under load for {:.1} s ({:.1} s in all), 3 \
         replicas: acknowledged and found on every replica: {} keys (distinct), {} aliases, {} \
         versions made by CreateKeyVersion, {} blobs (all decrypt) under {blob_versions} \
         versions, at most {most} blobs per version (seal limit {}), {} DisableKey/EnableKey",
        loaded_for.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        acked.keys.len(),
        acked.aliases.len(),
        acked.versions.len(),
        acked.blobs.len(),
        seal_limit.map_or("not set".to_owned(), |l| l.to_string()),
        acked.toggles,
    );
    eprintln!("not acknowledged (dead replicas, the database restarting, races): {failed:?}");
    // InternalFailure is expected while PostgreSQL restarts (and until the replicas have
    // reconnected): the others are listed with when they came.
    let settle = Duration::from_secs(3);
    let (during, other): (Vec<_>, Vec<_>) = acked.internal.iter().partition(|(at, _)| {
        *at + Duration::from_millis(500) >= pg_window.0 && *at <= pg_window.1 + settle
    });
    let other: Vec<String> = other
        .iter()
        .map(|(at, action)| {
            format!(
                "{action} at {:.2} s",
                at.duration_since(started).as_secs_f64()
            )
        })
        .collect();
    eprintln!(
        "InternalFailure: {} while PostgreSQL restarted (from {:.2} s to {:.2} s, and {settle:?} \
         after), {} at other times: {other:?}",
        during.len(),
        pg_window.0.duration_since(started).as_secs_f64(),
        pg_window.1.duration_since(started).as_secs_f64(),
        other.len()
    );
    eprintln!("kills at {kill_times:?}");
    // What the replicas said after starting, each distinct line once with how often (and when
    // first and last), apart from the PostgreSQL restart.
    let mut said: HashMap<String, (usize, f64, f64)> = HashMap::new();
    let logs = old_logs
        .iter()
        .chain(running.iter().map(|r| &r.as_ref().unwrap().log));
    for log in logs {
        for (at, line) in log.lock().unwrap().iter() {
            let in_window =
                *at + Duration::from_millis(500) >= pg_window.0 && *at <= pg_window.1 + settle;
            if in_window
                || [
                    "listening on",
                    "demo",
                    "shared store: PostgreSQL",
                    "AccessKeyId",
                ]
                .iter()
                .any(|s| line.contains(s))
            {
                continue;
            }
            let t = at.duration_since(started).as_secs_f64();
            let e = said.entry(line.clone()).or_insert((0, t, t));
            e.0 += 1;
            e.1 = e.1.min(t);
            e.2 = e.2.max(t);
        }
    }
    let mut said: Vec<_> = said.into_iter().collect();
    said.sort_by_key(|s| std::cmp::Reverse(s.1.0));
    eprintln!(
        "the replicas' other output outside the restart (line: count, first s, last s): {:#?}",
        &said[..said.len().min(20)]
    );
    // PostgreSQL's own complaints, when the harness says where its log is.
    if let Ok(dir) = std::env::var("KMS_TEST_PG_DIR") {
        let log = std::fs::read_to_string(format!("{dir}/postgres.log")).unwrap_or_default();
        let mut complaints: HashMap<String, usize> = HashMap::new();
        for line in log.lines() {
            if let Some(i) = line.find("ERROR:").or_else(|| line.find("FATAL:")) {
                *complaints.entry(line[i..].to_owned()).or_default() += 1;
            }
        }
        let mut complaints: Vec<_> = complaints.into_iter().collect();
        complaints.sort_by_key(|c| std::cmp::Reverse(c.1));
        eprintln!(
            "PostgreSQL's errors: {:#?}",
            &complaints[..complaints.len().min(20)]
        );
    }
    assert!(
        other.is_empty(),
        "InternalFailure with PostgreSQL up: {other:?}"
    );
    assert!(kills >= 10, "{kills} kills");
    assert!(acked.keys.len() >= 10, "only {} keys", acked.keys.len());
    assert!(
        !acked.aliases.is_empty() && !acked.versions.is_empty() && !acked.blobs.is_empty(),
        "the load did too little: {} aliases, {} versions, {} blobs",
        acked.aliases.len(),
        acked.versions.len(),
        acked.blobs.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 2. A disabled key on the other replicas

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn a_disabled_key_is_refused_by_the_other_replicas_within_the_bound() {
    const TRIALS: usize = 100;
    const POLL: Duration = Duration::from_secs(1);
    let url = fresh_database("disable");
    let running = replicas(&url, 3, &args(&["--replica-poll", "1s"]));
    let [a, b, c] = [0, 1, 2].map(|i| running[i].client());
    let mut latencies = Vec::with_capacity(TRIALS);
    for trial in 0..TRIALS {
        let key = create_key(&a).await;
        let params = [("KeyId", key.as_str())];
        for other in [&b, &c] {
            wait_ok(other, "GenerateDataKey", &params, Duration::from_secs(5)).await;
        }
        must(&a, "DisableKey", &params).await;
        let acknowledged = Instant::now();
        let mut pending = vec![&b, &c];
        let mut last = Duration::ZERO;
        while !pending.is_empty() {
            let mut still = Vec::new();
            for other in pending {
                let r = call(other, "GenerateDataKey", &params).await.unwrap();
                match code(&r) {
                    (200, _) => still.push(other),
                    (409, refusal) if refusal == "Rejected.Disabled" => {
                        last = acknowledged.elapsed();
                    }
                    got => panic!(
                        "trial {trial}: GenerateDataKey on {} of a key being disabled: {got:?} \
                         {}",
                        other.addr(),
                        r.text()
                    ),
                }
            }
            pending = still;
            assert!(
                acknowledged.elapsed() < Duration::from_secs(30),
                "trial {trial}: key {key} still usable on {:?} 30 s after DisableKey on {}",
                pending.iter().map(|c| c.addr()).collect::<Vec<_>>(),
                a.addr()
            );
            if !pending.is_empty() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        latencies.push(last);
    }
    latencies.sort();
    let worst = *latencies.last().unwrap();
    let median = latencies[TRIALS / 2];
    let p90 = latencies[TRIALS * 9 / 10];
    eprintln!(
        "DisableKey on one replica to refusal on both others, {TRIALS} trials: median {median:?}, \
         p90 {p90:?}, worst {worst:?} (bound {:?})",
        POLL + Duration::from_secs(1)
    );
    assert!(
        worst <= POLL + Duration::from_secs(1),
        "a disabled key stayed usable on another replica for {worst:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Replay across replicas

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn a_mutating_request_replayed_to_another_replica_is_refused() {
    let url = fresh_database("replay");
    let running = replicas(&url, 3, &args(&["--replica-poll", "1s"]));
    let [a, b, c] = [0, 1, 2].map(|i| running[i].client());
    let before = key_count(&b).await;

    // CreateKey signed once, sent to A, then the same bytes to B, C and A again.
    let signed = a
        .sign(
            "CreateKey",
            &[("Description", "sent once, replayed")],
            &CallOptions::default(),
        )
        .unwrap();
    let r = send(&a, signed.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, to) in [("B", &b), ("C", &c), ("A", &a)] {
        let r = send(to, signed.clone()).await;
        assert_eq!(
            code(&r),
            (400, "SignatureNonceUsed".into()),
            "CreateKey acknowledged by A, replayed to {name}: {}",
            r.text()
        );
    }

    // CreateAlias signed for B, sent to C first (it wins), then to B and A.
    wait_ok(
        &c,
        "DescribeKey",
        &[("KeyId", &key)],
        Duration::from_secs(3),
    )
    .await;
    let signed = b
        .sign(
            "CreateAlias",
            &[("AliasName", "alias/replayed"), ("KeyId", &key)],
            &CallOptions::default(),
        )
        .unwrap();
    let r = send(&c, signed.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    for (name, to) in [("B", &b), ("A", &a)] {
        let r = send(to, signed.clone()).await;
        assert_eq!(
            code(&r),
            (400, "SignatureNonceUsed".into()),
            "CreateAlias acknowledged by C, replayed to {name}: {}",
            r.text()
        );
    }

    // One key was made, and every replica sees it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    for (name, to) in [("A", &a), ("B", &b), ("C", &c)] {
        assert_eq!(key_count(to).await, before + 1, "keys on {name}");
        let r = must(to, "DescribeKey", &[("KeyId", "alias/replayed")]).await;
        assert_eq!(r.json()["KeyMetadata"]["KeyId"], key.as_str());
    }
    eprintln!("a CreateKey and a CreateAlias, each replayed to the two other replicas: refused");
}

// ---------------------------------------------------------------------------------------------
// 4. An alias created on two replicas at once

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn an_alias_created_on_two_replicas_at_once_has_one_winner() {
    const ROUNDS: usize = 20;
    let url = fresh_database("alias_race");
    let running = replicas(&url, 2, &args(&["--replica-poll", "1s"]));
    let [a, b] = [0, 1].map(|i| running[i].client());
    let mut wins = [0usize; 2];
    for round in 0..ROUNDS {
        let keys = [create_key(&a).await, create_key(&a).await];
        for key in &keys {
            wait_ok(&b, "DescribeKey", &[("KeyId", key)], Duration::from_secs(3)).await;
        }
        let alias = format!("alias/race-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let mut tasks = Vec::new();
        for (client, key) in [(&a, &keys[0]), (&b, &keys[1])] {
            let request = client
                .sign(
                    "CreateAlias",
                    &[("AliasName", &alias), ("KeyId", key)],
                    &CallOptions::default(),
                )
                .unwrap();
            let (client, barrier) = (client.clone(), Arc::clone(&barrier));
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                send(&client, request).await
            }));
        }
        let mut outcomes = Vec::new();
        for t in tasks {
            outcomes.push(t.await.unwrap());
        }
        let codes: Vec<(u16, String)> = outcomes.iter().map(code).collect();
        let winner = match (codes[0].0, codes[1].0) {
            (200, _) => 0,
            (_, 200) => 1,
            _ => panic!(
                "round {round}: neither CreateAlias of {alias} succeeded: A {} / B {}",
                outcomes[0].text(),
                outcomes[1].text()
            ),
        };
        let loser = 1 - winner;
        assert_eq!(
            codes[loser],
            (409, "AliasAlreadyExists".into()),
            "round {round}: {alias}: A answered {}, B answered {}",
            outcomes[0].text(),
            outcomes[1].text()
        );
        wins[winner] += 1;
        for (name, c) in [("A", &a), ("B", &b)] {
            let r = must(c, "DescribeKey", &[("KeyId", &alias)]).await;
            assert_eq!(
                r.json()["KeyMetadata"]["KeyId"],
                keys[winner].as_str(),
                "round {round}: {alias} on {name} right after both answers (the winner was {})",
                ["A", "B"][winner]
            );
        }
    }
    eprintln!(
        "{ROUNDS} rounds of CreateAlias on two replicas at once: one winner each time (A won \
         {}, B won {}), the other AliasAlreadyExists, both replicas agree at once",
        wins[0], wins[1]
    );
}

// ---------------------------------------------------------------------------------------------
// 5. /healthz and the database

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn healthz_follows_the_database() {
    const STALE_AFTER: Duration = Duration::from_secs(5);
    let url = fresh_database("healthz");
    let replica = Replica::start(
        &url,
        &args(&["--replica-poll", "200ms", "--store-stale-after", "5s"]),
    );
    let c = replica.client();
    wait_health(&c, 200, Duration::from_secs(5)).await;
    assert_eq!(healthz(&c).await.unwrap(), (200, "ok".to_owned()));
    let key = create_key(&c).await;
    let params = [("KeyId", key.as_str())];
    let r = must(&c, "GenerateDataKey", &params).await;
    let (blob, plaintext) = (r.field("CiphertextBlob"), r.field("Plaintext"));

    let down = Stopped::stop();
    let stopped = Instant::now();
    // Data keys from the cache, at once and after /healthz noticed.
    must(&c, "GenerateDataKey", &params).await;
    let noticed = wait_health(&c, 503, Duration::from_secs(5)).await;
    must(&c, "GenerateDataKey", &params).await;
    let r = must(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    assert_eq!(r.field("Plaintext"), plaintext);
    // Mutations need the database.
    for (action, params) in [
        ("CreateKey", vec![]),
        ("DisableKey", vec![("KeyId", key.as_str())]),
    ] {
        let r = call(&c, action, &params).await.unwrap();
        assert_eq!(
            code(&r),
            (500, "InternalFailure".into()),
            "{action} with PostgreSQL stopped: {}",
            r.text()
        );
    }
    let within_stale = stopped.elapsed();
    assert!(
        within_stale < STALE_AFTER,
        "the checks with PostgreSQL stopped took {within_stale:?}, past --store-stale-after"
    );
    must(&c, "GenerateDataKey", &params).await;
    // Past the stale bound: data-key operations are refused too.
    tokio::time::sleep(
        (STALE_AFTER + Duration::from_millis(1500)).saturating_sub(stopped.elapsed()),
    )
    .await;
    for (action, params) in [
        ("GenerateDataKey", vec![("KeyId", key.as_str())]),
        ("Decrypt", vec![("CiphertextBlob", blob.as_str())]),
    ] {
        let r = call(&c, action, &params).await.unwrap();
        assert_eq!(
            code(&r),
            (500, "InternalFailure".into()),
            "{action} {:?} after PostgreSQL stopped: {}",
            stopped.elapsed(),
            r.text()
        );
    }
    assert_eq!(healthz(&c).await.unwrap().0, 503);

    // The database back: the replica reconnects by itself.
    down.start();
    let back = Instant::now();
    let recovered = wait_health(&c, 200, Duration::from_secs(15)).await;
    assert_eq!(healthz(&c).await.unwrap(), (200, "ok".to_owned()));
    let new_key = create_key(&c).await;
    must(&c, "GenerateDataKey", &[("KeyId", &new_key)]).await;
    must(&c, "GenerateDataKey", &params).await;
    let r = must(&c, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    assert_eq!(r.field("Plaintext"), plaintext);
    let r = must(&c, "DescribeKey", &params).await;
    assert_eq!(
        r.json()["KeyMetadata"]["KeyState"],
        "Enabled",
        "the DisableKey refused while PostgreSQL was down left a trace"
    );
    eprintln!(
        "PostgreSQL stopped: /healthz 503 after {noticed:?} (poll 200ms); data keys served, \
         mutations InternalFailure, then data keys InternalFailure past the 5 s stale bound; \
         started: /healthz 200 after {recovered:?}, CreateKey works ({:?} after the start)",
        back.elapsed()
    );
    drop(replica);
}

// ---------------------------------------------------------------------------------------------
// 6. The KMS-instance API on every replica

/// A free loopback port (bound, read, released: the replica binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The first line of `replica`'s output that starts with `prefix`, without the prefix.
fn said(replica: &Replica, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(rest) = replica
            .log
            .lock()
            .unwrap()
            .iter()
            .find_map(|(_, l)| l.strip_prefix(prefix).map(str::to_owned))
        {
            return rest;
        }
        assert!(
            Instant::now() < deadline,
            "no line {prefix:?}: {}",
            replica.tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn the_instance_api_is_served_by_every_replica() {
    use kms_server::instance::client::InstanceClient;
    use kms_server::instance::{client_key, pb};
    use prost::Message;

    let url = fresh_database("instance");
    let dir = common::temp_dir("replica-client-keys");
    let dir_text = dir.display().to_string();
    let start = |port: u16| {
        let args = args(&[
            "--instance-listen",
            &format!("127.0.0.1:{port}"),
            "--instance-plain-http",
            "--client-key-dir",
            &dir_text,
        ]);
        (Replica::start(&url, &args), port)
    };
    // The first replica makes the instance and issues a client key; the second finds both in
    // the database.
    let (a, a_port) = start(free_port());
    let (b, b_port) = start(free_port());
    let instance = said(&a, "kms-server: KMS instance: ");
    assert_eq!(
        said(&b, "kms-server: KMS instance: "),
        instance,
        "one instance"
    );
    let issued = said(&a, "kms-server: client key: ");
    let client_key_id = issued.split(' ').next().unwrap().to_owned();
    assert!(
        !b.log
            .lock()
            .unwrap()
            .iter()
            .any(|(_, l)| l.starts_with("kms-server: client key: ")),
        "the second replica issued no key of its own"
    );
    let json = dir.join(format!("clientKey_{client_key_id}.json"));
    let json = if json.exists() {
        json
    } else {
        // Whatever the file is called: the one JSON file in the directory.
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "json"))
            .expect("a client key file")
    };
    let password = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p != &json && p.extension().is_none_or(|e| e != "json"))
        .expect("a password file");
    let (key_id, private) = client_key::read_key_files(&json, &password).unwrap();

    // A key of the instance, made through the gateway of A.
    let made = must(&a.client(), "CreateKey", &[("DKMSInstanceId", &instance)]).await;
    let key = made.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();

    let on = |port: u16| {
        InstanceClient::new(
            format!("127.0.0.1:{port}").parse().unwrap(),
            key_id.clone(),
            private.clone(),
        )
    };
    let request = pb::GenerateDataKeyRequest {
        key_id: key.clone(),
        ..Default::default()
    };
    let answer = on(b_port)
        .call("GenerateDataKey", request.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let made = pb::GenerateDataKeyResponse::decode(answer.body.as_ref()).unwrap();
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: made.ciphertext_blob.clone(),
        key_id: key.clone(),
        iv: made.iv.clone(),
        ..Default::default()
    };
    let answer = on(a_port)
        .call("Decrypt", decrypt.encode_to_vec())
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{}", answer.text());
    let opened = pb::DecryptResponse::decode(answer.body.as_ref()).unwrap();
    assert_eq!(opened.plaintext, made.plaintext);
    eprintln!(
        "instance {instance}: client key {client_key_id} issued by one replica; GenerateDataKey \
         through the other's instance API, Decrypt through the first's"
    );
    drop((a, b));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// 7. The rate limit across replicas

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: run under server/scripts/with-postgres.sh"]
async fn the_rate_limit_is_shared_among_the_replicas() {
    const RATE: u64 = 30;
    let url = fresh_database("rate");
    let running = replicas(
        &url,
        3,
        &args(&["--rate-limit", &RATE.to_string(), "--replica-poll", "200ms"]),
    );
    let clients: Vec<Client> = running.iter().map(Replica::client).collect();
    let key = create_key(&clients[0]).await;
    // Each replica has seen the three alive (heartbeats every poll period) and enforces a
    // third of the rate; let the buckets fill again after the CreateKey.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = Instant::now();
    let mut calls = Vec::new();
    for i in 0..(3 * RATE) {
        let c = clients[(i % 3) as usize].clone();
        let key = key.clone();
        calls.push(tokio::spawn(async move {
            call(&c, "GenerateDataKey", &[("KeyId", &key)]).await
        }));
    }
    let (mut ok, mut throttled) = (0u64, 0u64);
    for call in calls {
        let r = call.await.unwrap().expect("an answer");
        match code(&r) {
            (200, _) => ok += 1,
            (_, c) if c == "Rejected.Throttling" => throttled += 1,
            other => panic!("unexpected {other:?}: {}", r.text()),
        }
    }
    let took = started.elapsed().as_secs_f64();
    eprintln!(
        "rate limit {RATE}/s per account shared by 3 replicas: {} requests in {took:.2} s: {ok} \
         admitted, {throttled} throttled (one replica alone would admit a burst of {RATE}; \
         three unshared, {})",
        3 * RATE,
        3 * RATE
    );
    // The burst is the rate, a third on each replica; what refills while the requests are
    // sent is the rate per second in all.
    let allowed = RATE as f64 + RATE as f64 * took + 3.0;
    assert!(
        (ok as f64) <= allowed,
        "{ok} admitted, at most {allowed:.0}"
    );
    assert!(ok >= RATE - 3, "{ok} admitted: the share is too small");
    assert_eq!(ok + throttled, 3 * RATE);
}
