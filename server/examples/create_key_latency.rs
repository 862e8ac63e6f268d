//! CreateKey latency against a store that already holds N keys: the cost of a change must not
//! grow with the number of keys. For each N, a store is filled with N keys (one bulk import),
//! opened as a server opens it at start (the load is timed too), served on loopback, and
//! CreateKey is called sequentially; the latency percentiles are printed.
//!
//! ```sh
//! cargo run --release -p kms-server --example create_key_latency -- 100 10000 100000
//! ```
//!
//! The store lives in the system's temporary directory (`TMPDIR`): put it on the disk you
//! mean to measure; every CreateKey waits for an fsync.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kms_core::{InMemoryProvider, KeyOptions};
use kms_server::client::{Client, Credentials};
use kms_server::keyring::parse_wrapping_key;
use kms_server::store::Store;
use kms_server::{AccessKey, Config, Service};

const AK: &str = "LTAIlatency0000000001";
const SK: &str = "latency-secret";
const ACCOUNT: &str = "4444444444444444";
const KEY_HEX: &str = "0f0e0d0c0b0a090807060504030201000f0e0d0c0b0a09080706050403020100";
const CALLS: usize = 300;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number of keys"))
        .collect();
    let sizes = if sizes.is_empty() {
        vec![100, 10_000, 100_000]
    } else {
        sizes
    };
    println!("| keys in the store | load at start | CreateKey median | p90 | p99 | store size |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for n in sizes {
        let dir =
            std::env::temp_dir().join(format!("kms-create-key-latency-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kms.db");
        {
            let mut provider = InMemoryProvider::new();
            provider.reserve(n);
            for _ in 0..n {
                provider
                    .create_key(
                        &mut kms_core::OsRng,
                        &KeyOptions::new(ACCOUNT, "cn-hangzhou"),
                    )
                    .unwrap();
            }
            let key = parse_wrapping_key(KEY_HEX).unwrap();
            let (store, _) = Store::open(&path, key, provider.seal_limit()).unwrap();
            store.import(&provider, &[]).unwrap();
        }
        let started = Instant::now();
        let (store, loaded) =
            Store::open(&path, parse_wrapping_key(KEY_HEX).unwrap(), u64::MAX).unwrap();
        let load = started.elapsed();
        assert_eq!(loaded.provider.len(), n);
        let mut config = Config::new(vec![AccessKey::new(AK, SK, ACCOUNT)]);
        config.key_quota = usize::MAX;
        config.rate_limit = 1_000_000;
        let service = Arc::new(Service::new(config, loaded.provider, Some(store)));
        tokio::time::sleep(service.until_serving(std::time::SystemTime::now())).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(kms_server::http::serve(
            listener,
            Arc::clone(&service),
            Duration::from_secs(3600),
            async move {
                let _ = rx.await;
            },
        ));
        let c = Client::new(
            addr,
            Credentials {
                access_key_id: AK.into(),
                access_key_secret: SK.into(),
            },
        );
        // Warm up the connection and the statement cache.
        for _ in 0..5 {
            assert_eq!(c.call("CreateKey", &[]).await.unwrap().status, 200);
        }
        let mut times = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let t = Instant::now();
            let r = c.call("CreateKey", &[]).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(r.status, 200, "{}", r.text());
        }
        times.sort();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(dir.join("kms.db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        println!(
            "| {n} | {:.0} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} MB |",
            load.as_secs_f64() * 1e3,
            percentile(&times, 0.5).as_secs_f64() * 1e3,
            percentile(&times, 0.9).as_secs_f64() * 1e3,
            percentile(&times, 0.99).as_secs_f64() * 1e3,
            size as f64 / 1e6
        );
        let _ = tx.send(());
        let _ = server.await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
