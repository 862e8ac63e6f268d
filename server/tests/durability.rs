//! Durable before visible, tried as an operator would break it:
//!
//! - **SIGKILL under load.** A load that creates keys and aliases, rotates keys and generates
//!   data keys runs against the `kms-server` binary; the server is killed with SIGKILL at a
//!   random point, restarted on the same store, and everything it acknowledged is checked:
//!   every key, version and alias is there and every blob decrypts to its plaintext. 24 kills.
//! - **A full disk.** The store lives on a small tmpfs in a mount namespace of its own (made
//!   with `unshare -m`, kept alive by a holder process, entered with `nsenter`). The disk is
//!   filled while the server runs: mutations fail with `InternalFailure` and leave no trace (not
//!   listed, not usable, not there after a restart), data-key operations on acknowledged keys
//!   keep working, a retry after the disk is freed succeeds, and a shutdown whose final write
//!   fails exits non-zero.
//! - **A read-only store.** A store on a read-only mount is refused at start (Linux refuses to
//!   remount a file system read-only while the server holds its files open for writing, so a
//!   running server is made to meet a read-only database at the SQLite level instead:
//!   `Store::set_read_only`, SQLite's `query_only`, the error a read-only database gives).
//!   Mutations fail without a trace, a retry after the fault clears succeeds, and a restart
//!   finds exactly what was acknowledged.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use common::binary::{Running, command_via, run_command_to_exit, start_command};
use common::temp_dir;
use kms_server::client::{Client, Credentials};

const WRAPPING_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const AK: &str = "LTAIdurability00000001";
const SK: &str = "durability-secret";
const ACCOUNT: &str = "3333333333333333";

fn envs() -> Vec<(&'static str, String)> {
    vec![
        ("KMS_KEYRING_KEY", WRAPPING_KEY.into()),
        ("KMS_SERVER_ACCESS_KEYS", format!("{AK}:{SK}:{ACCOUNT}")),
        ("KMS_SERVER_RATE_LIMIT", "1000000".into()),
        ("KMS_SERVER_KEY_QUOTA", "1000000".into()),
    ]
}

fn server_via(wrapper: &[&str], store: &Path) -> Running {
    let store = store.display().to_string();
    let envs = envs();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start_command(command_via(wrapper, &["--store", &store], &envs))
}

fn client(running: &Running) -> Client {
    Client::new(
        running.addr,
        Credentials {
            access_key_id: AK.into(),
            access_key_secret: SK.into(),
        },
    )
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

/// What the server acknowledged (answered 200 for).
#[derive(Default)]
struct Acked {
    keys: Vec<String>,
    /// alias -> key
    aliases: Vec<(String, String)>,
    /// (key, version) made by CreateKeyVersion
    versions: Vec<(String, String)>,
    /// (blob, plaintext, key, version)
    blobs: Vec<(String, String, String, String)>,
}

type Shared = Arc<Mutex<Acked>>;

fn pick(shared: &Shared, rng: &mut Xorshift) -> Option<String> {
    let acked = shared.lock().unwrap();
    if acked.keys.is_empty() {
        return None;
    }
    Some(acked.keys[rng.below(acked.keys.len() as u64) as usize].clone())
}

/// The load, until `stop` is set or the server is gone: one task creates keys (and an alias for
/// every third), one rotates keys, two generate data keys.
async fn load(c: Client, shared: Shared, stop: Arc<AtomicBool>, cycle: usize, seed: u64) {
    let mut tasks = Vec::new();
    {
        let (c, shared, stop) = (c.clone(), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let Ok(r) = c.call("CreateKey", &[]).await else {
                    break;
                };
                if r.status != 200 {
                    continue;
                }
                let key = r.json()["KeyMetadata"]["KeyId"]
                    .as_str()
                    .unwrap()
                    .to_owned();
                shared.lock().unwrap().keys.push(key.clone());
                n += 1;
                if n % 3 == 0 {
                    let alias = format!("alias/c{cycle}-k{n}");
                    let Ok(r) = c
                        .call("CreateAlias", &[("AliasName", &alias), ("KeyId", &key)])
                        .await
                    else {
                        break;
                    };
                    if r.status == 200 {
                        shared.lock().unwrap().aliases.push((alias, key));
                    }
                }
            }
        }));
    }
    {
        let (c, shared, stop) = (c.clone(), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Xorshift(seed ^ 0x5151);
            while !stop.load(Ordering::SeqCst) {
                let Some(key) = pick(&shared, &mut rng) else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let Ok(r) = c.call("CreateKeyVersion", &[("KeyId", &key)]).await else {
                    break;
                };
                if r.status == 200 {
                    let version = r.json()["KeyVersion"]["KeyVersionId"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                    shared.lock().unwrap().versions.push((key, version));
                }
            }
        }));
    }
    for g in 0..2u64 {
        let (c, shared, stop) = (c.clone(), Arc::clone(&shared), Arc::clone(&stop));
        tasks.push(tokio::spawn(async move {
            let mut rng = Xorshift(seed ^ (0x77 + g));
            while !stop.load(Ordering::SeqCst) {
                let Some(key) = pick(&shared, &mut rng) else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let Ok(r) = c.call("GenerateDataKey", &[("KeyId", &key)]).await else {
                    break;
                };
                if r.status == 200 {
                    let entry = (
                        r.field("CiphertextBlob"),
                        r.field("Plaintext"),
                        key,
                        r.field("KeyVersionId"),
                    );
                    shared.lock().unwrap().blobs.push(entry);
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Checks that everything in `acked` from index `from` on is there: keys described, aliases
/// resolving to their keys, versions present (their blobs, and the store's own record of
/// them), blobs opening to their plaintexts under the version that sealed them.
async fn verify(c: &Client, acked: &Acked, from: &Counts, store: &Path) {
    for key in &acked.keys[from.keys..] {
        let r = c.call("DescribeKey", &[("KeyId", key)]).await.unwrap();
        assert_eq!(r.status, 200, "acknowledged key {key} lost: {}", r.text());
    }
    for (alias, key) in &acked.aliases[from.aliases..] {
        let r = c.call("DescribeKey", &[("KeyId", alias)]).await.unwrap();
        assert_eq!(
            r.status,
            200,
            "acknowledged alias {alias} lost: {}",
            r.text()
        );
        assert_eq!(r.json()["KeyMetadata"]["KeyId"], key.as_str());
    }
    if from.versions < acked.versions.len() {
        let on_disk = common::on_disk_with(store, WRAPPING_KEY);
        for (key, version) in &acked.versions[from.versions..] {
            let v = kms_core::KeyVersionId::parse(version.as_bytes()).unwrap();
            assert!(
                on_disk.seal_count(&v).is_ok(),
                "acknowledged version {version} of {key} lost"
            );
        }
    }
    for (blob, plaintext, key, version) in &acked.blobs[from.blobs..] {
        let r = c
            .call("Decrypt", &[("CiphertextBlob", blob)])
            .await
            .unwrap();
        assert_eq!(
            r.status,
            200,
            "an acknowledged blob of {key} does not decrypt: {}",
            r.text()
        );
        assert_eq!(r.field("Plaintext"), *plaintext);
        assert_eq!(r.field("KeyVersionId"), *version);
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct Counts {
    keys: usize,
    aliases: usize,
    versions: usize,
    blobs: usize,
}

impl Counts {
    fn of(acked: &Acked) -> Self {
        Counts {
            keys: acked.keys.len(),
            aliases: acked.aliases.len(),
            versions: acked.versions.len(),
            blobs: acked.blobs.len(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_nothing_acknowledged() {
    const KILLS: usize = 24;
    let dir = temp_dir("sigkill");
    let store = dir.join("kms.db");
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Xorshift(seed);
    let shared: Shared = Arc::default();
    let mut checked = Counts::default();
    let started = Instant::now();
    for cycle in 0..KILLS {
        let running = server_via(&[], &store);
        let c = client(&running);
        // What the previous run acknowledged, after its SIGKILL.
        {
            let acked = std::mem::take(&mut *shared.lock().unwrap());
            verify(&c, &acked, &checked, &store).await;
            checked = Counts::of(&acked);
            *shared.lock().unwrap() = acked;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let loader = tokio::spawn(load(
            c.clone(),
            Arc::clone(&shared),
            Arc::clone(&stop),
            cycle,
            rng.next(),
        ));
        tokio::time::sleep(Duration::from_millis(100 + rng.below(500))).await;
        running.kill();
        stop.store(true, Ordering::SeqCst);
        let _ = loader.await;
    }
    // The last run's acknowledgements, and then everything once more from the start.
    let running = server_via(&[], &store);
    let c = client(&running);
    let acked = std::mem::take(&mut *shared.lock().unwrap());
    verify(&c, &acked, &checked, &store).await;
    verify(&c, &acked, &Counts::default(), &store).await;
    let totals = Counts::of(&acked);
    println!(
        "{KILLS} SIGKILLs in {:.1} s: acknowledged and found after restart: {} keys, {} aliases, \
         {} versions made by CreateKeyVersion, {} blobs (all decrypt)",
        started.elapsed().as_secs_f64(),
        totals.keys,
        totals.aliases,
        totals.versions,
        totals.blobs
    );
    assert!(totals.keys >= KILLS, "{totals:?}");
    assert!(totals.versions > 0 && totals.blobs > 0, "{totals:?}");
    drop(running);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// A small file system of the test's own

/// A mount namespace holding a tmpfs of `size` at `mount`: a holder process keeps it alive;
/// commands enter it with `nsenter`.
struct Namespace {
    holder: Child,
    pid: String,
    mount: PathBuf,
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

impl Namespace {
    fn new(dir: &Path, size: &str) -> Namespace {
        let mount = dir.join("mnt");
        std::fs::create_dir_all(&mount).unwrap();
        let script = format!(
            "mount -t tmpfs -o size={size},mode=0700 tmpfs '{}' && echo ready && exec sleep 3600",
            mount.display()
        );
        let mut holder = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare (util-linux) runs");
        let mut line = String::new();
        let stdout = holder.stdout.take().unwrap();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        if line.trim() != "ready" {
            let out = holder.wait_with_output().unwrap();
            panic!(
                "cannot make a mount namespace with a tmpfs (this test needs to run as root, \
                 or where `unshare -m` may mount): {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let pid = holder.id().to_string();
        Namespace { holder, pid, mount }
    }

    fn wrapper(&self) -> Vec<&str> {
        vec!["nsenter", "-t", &self.pid, "-m"]
    }

    /// Runs `script` with `sh -c` inside the namespace; whether it succeeded.
    fn sh(&self, script: &str) -> bool {
        Command::new("nsenter")
            .args(["-t", &self.pid, "-m", "sh", "-c", script])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn fill(&self) {
        let fill = self.mount.join("fill");
        // dd stops at ENOSPC (and says so: not a success).
        self.sh(&format!(
            "dd if=/dev/zero of='{}' bs=4096 2>/dev/null; sync",
            fill.display()
        ));
    }

    fn free(&self) {
        assert!(self.sh(&format!("rm -f '{}'", self.mount.join("fill").display())));
    }
}

/// A mutation attempted during a fault, and whether it was acknowledged.
#[derive(Debug)]
enum Attempt {
    Key { description: String, ok: bool },
    Alias { alias: String, ok: bool },
    Version { ok: bool },
}

/// Tries mutations until `failures` of them failed (or `tries` ran out); asserts that each
/// failed one answered `InternalFailure` and that data-key operations on `known` keep working.
async fn mutate_during_fault(
    c: &Client,
    known: &str,
    tag: &str,
    tries: usize,
    failures: usize,
) -> Vec<Attempt> {
    let mut attempts = Vec::new();
    let mut failed = 0;
    // Long descriptions spend the disk quickly.
    let padding = "x".repeat(8000);
    for i in 0..tries {
        let description = format!("{tag}-{i}-{padding}");
        let r = c
            .call("CreateKey", &[("Description", &description)])
            .await
            .unwrap();
        let ok = r.status == 200;
        if !ok {
            assert_eq!(r.status, 500, "{}", r.text());
            assert_eq!(r.field("Code"), "InternalFailure", "{}", r.text());
            failed += 1;
        }
        attempts.push(Attempt::Key { description, ok });
        let alias = format!("alias/{tag}-{i}");
        let r = c
            .call("CreateAlias", &[("AliasName", &alias), ("KeyId", known)])
            .await
            .unwrap();
        let ok = r.status == 200;
        if !ok {
            assert_eq!(r.field("Code"), "InternalFailure", "{}", r.text());
            failed += 1;
        }
        attempts.push(Attempt::Alias { alias, ok });
        let r = c
            .call("CreateKeyVersion", &[("KeyId", known)])
            .await
            .unwrap();
        let ok = r.status == 200;
        if !ok {
            assert_eq!(r.field("Code"), "InternalFailure", "{}", r.text());
            failed += 1;
        }
        attempts.push(Attempt::Version { ok });
        // The data-key operations do not write: they keep working on acknowledged keys.
        let r = c
            .call("GenerateDataKey", &[("KeyId", known)])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        if failed >= failures {
            break;
        }
    }
    assert!(
        failed >= failures,
        "the fault made only {failed} of {} mutations fail",
        attempts.len()
    );
    attempts
}

/// The state a client sees: descriptions of the listed keys, the aliases, and each key's
/// primary version.
async fn observed(c: &Client) -> (Vec<String>, Vec<String>, HashMap<String, String>) {
    let mut descriptions = Vec::new();
    let mut primaries = HashMap::new();
    let r = c.call("ListKeys", &[("PageSize", "100")]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    for k in r.json()["Keys"]["Key"].as_array().unwrap() {
        let id = k["KeyId"].as_str().unwrap();
        let d = c.call("DescribeKey", &[("KeyId", id)]).await.unwrap();
        let meta = &d.json()["KeyMetadata"];
        descriptions.push(meta["Description"].as_str().unwrap().to_owned());
        primaries.insert(
            id.to_owned(),
            meta["PrimaryKeyVersion"].as_str().unwrap().to_owned(),
        );
    }
    let r = c.call("ListAliases", &[("PageSize", "100")]).await.unwrap();
    let aliases = r.json()["Aliases"]["Alias"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AliasName"].as_str().unwrap().to_owned())
        .collect();
    descriptions.sort();
    (descriptions, aliases, primaries)
}

/// Checks that the acknowledged attempts are visible and the failed ones are not.
fn check_attempts(
    attempts: &[Attempt],
    seen: &(Vec<String>, Vec<String>, HashMap<String, String>),
    versions_before: usize,
    versions_now: usize,
) {
    let (descriptions, aliases, _) = seen;
    let mut acked_versions = 0;
    for attempt in attempts {
        match attempt {
            Attempt::Key { description, ok } => {
                assert_eq!(descriptions.contains(description), *ok, "{attempt:?}");
            }
            Attempt::Alias { alias, ok } => {
                assert_eq!(aliases.contains(alias), *ok, "{attempt:?}");
            }
            Attempt::Version { ok, .. } => acked_versions += usize::from(*ok),
        }
    }
    assert_eq!(versions_now, versions_before + acked_versions);
}

fn version_count(store: &Path, key_hex: &str, key: &str) -> usize {
    use kms_core::management::KeyStore;
    let on_disk = common::on_disk_with(store, key_hex);
    let id = kms_core::KeyId::parse(key).unwrap();
    on_disk.key(&id).unwrap().map_or(0, |k| k.versions.len())
}

/// Creates a key and a data key under it; (key, blob, plaintext).
async fn key_and_blob(c: &Client) -> (String, String, String) {
    let r = c.call("CreateKey", &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let key = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    (key, r.field("CiphertextBlob"), r.field("Plaintext"))
}

async fn decrypts(c: &Client, blob: &str, plaintext: &str) {
    let r = c
        .call("Decrypt", &[("CiphertextBlob", blob)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("Plaintext"), plaintext);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_mutations_without_a_trace() {
    let dir = temp_dir("full-disk");
    let ns = Namespace::new(&dir, "3m");
    let store = ns.mount.join("kms.db");
    let wrapper = ns.wrapper();

    let running = server_via(&wrapper, &store);
    let c = client(&running);
    let (key, blob, plaintext) = key_and_blob(&c).await;

    ns.fill();
    let versions_before = 1;
    let attempts = mutate_during_fault(&c, &key, "full", 400, 6).await;
    let failed = attempts
        .iter()
        .filter(|a| {
            matches!(
                a,
                Attempt::Key { ok: false, .. }
                    | Attempt::Alias { ok: false, .. }
                    | Attempt::Version { ok: false, .. }
            )
        })
        .count();
    // Nothing failed is visible, in memory...
    let seen = observed(&c).await;
    let primary_now = seen.2[&key].clone();
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.field("KeyVersionId"), primary_now);
    decrypts(&c, &blob, &plaintext).await;

    // ...and a shutdown whose final write (seal counts, generation file) fails exits non-zero.
    let status = running.terminate();
    assert!(!status.success(), "{status:?}");

    // After the disk is freed: a restart finds exactly what was acknowledged.
    ns.free();
    let running = server_via(&wrapper, &store);
    let c = client(&running);
    let after = observed(&c).await;
    assert_eq!(after.0, seen.0);
    assert_eq!(after.1, seen.1);
    assert_eq!(after.2, seen.2);
    let versions_now = version_count_via(&ns, &store, &key);
    check_attempts(&attempts, &after, versions_before, versions_now);
    decrypts(&c, &blob, &plaintext).await;
    // A retry succeeds now.
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/after-full"), ("KeyId", &key)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    println!(
        "full disk: {} mutations tried, {failed} failed with InternalFailure and left no trace",
        attempts.len()
    );
    drop(running);

    // A store on a read-only mount is refused at start, and nothing changes.
    assert!(ns.sh(&format!("mount -o remount,ro '{}'", ns.mount.display())));
    let store_text = store.display().to_string();
    let envs = envs();
    let envs: Vec<(&str, &str)> = envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (ok, err) = run_command_to_exit(command_via(&wrapper, &["--store", &store_text], &envs));
    assert!(!ok, "a read-only store must be refused");
    assert!(err.contains("store"), "{err}");
    assert!(ns.sh(&format!("mount -o remount,rw '{}'", ns.mount.display())));
    let running = server_via(&wrapper, &store);
    let c = client(&running);
    assert_eq!(observed(&c).await.0, after.0);
    drop(running);
    drop(ns);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The versions of `key` on the store inside the namespace, read from a copy made there.
fn version_count_via(ns: &Namespace, store: &Path, key: &str) -> usize {
    let copy = ns.mount.parent().unwrap().join("copy.db");
    let _ = std::fs::remove_file(&copy);
    assert!(ns.sh(&format!(
        "cp '{}' '{}' && (cp '{}-wal' '{}-wal' 2>/dev/null || true)",
        store.display(),
        copy.display(),
        store.display(),
        copy.display()
    )));
    version_count(&copy, WRAPPING_KEY, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_store_fails_mutations_without_a_trace() {
    let dir = temp_dir("read-only");
    let path = dir.join("kms.db");
    let (store, provider) =
        common::open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let server = common::start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let (key, blob, plaintext) = key_and_blob(&c).await;

    server.service.store().unwrap().set_read_only(true).unwrap();
    let attempts = mutate_during_fault(&c, &key, "ro", 3, 9).await;
    let seen = observed(&c).await;
    check_attempts(
        &attempts,
        &seen,
        1,
        version_count(&path, common::STORE_KEY_HEX, &key),
    );
    // Nothing failed is on disk either: the store holds one key with one version.
    assert_eq!(common::on_disk(&path).len(), 1);
    decrypts(&c, &blob, &plaintext).await;

    // The fault clears: a retry succeeds.
    server
        .service
        .store()
        .unwrap()
        .set_read_only(false)
        .unwrap();
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/ro-0"), ("KeyId", &key)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .call("CreateKeyVersion", &[("KeyId", &key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let acknowledged = observed(&c).await;
    drop(server);

    // A restart finds exactly what was acknowledged.
    let (store, provider) =
        common::open_store(&path, kms_core::InMemoryProvider::new().seal_limit());
    let server = common::start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let after = observed(&c).await;
    assert_eq!(after.0, acknowledged.0);
    assert_eq!(after.1, acknowledged.1);
    assert_eq!(after.2, acknowledged.2);
    decrypts(&c, &blob, &plaintext).await;
    let _ = std::fs::remove_dir_all(&dir);
}
