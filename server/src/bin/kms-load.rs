//! `kms-load`: a small, bounded load generator for `kms-server` on loopback. It signs every
//! request as an SDK does (signature V3 by default: a fresh nonce and timestamp each time),
//! keeps `--connections` requests in flight, runs for `--seconds`, and prints requests per
//! second, latency percentiles and the error count.
//!
//! ```sh
//! KMS_LOAD_ACCESS_KEY_ID=... KMS_LOAD_ACCESS_KEY_SECRET=... \
//!   cargo run --release -p kms-server --bin kms-load -- --target 127.0.0.1:8089 --key-id alias/demo
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use kms_server::client::{CallOptions, Client, Credentials, SignatureVersion};

/// Load generator for kms-server (loopback only).
#[derive(Parser, Debug)]
#[command(name = "kms-load")]
struct Cli {
    /// The server (a loopback address).
    #[arg(long, default_value = "127.0.0.1:8089")]
    target: SocketAddr,
    /// Concurrent connections (each keeps one request in flight).
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to run, in seconds (at most 3600).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seconds of warm-up before measuring (not counted).
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// The key to use.
    #[arg(long, default_value = "alias/demo")]
    key_id: String,
    /// The operation: GenerateDataKey (default) or Decrypt (of a blob made at start).
    #[arg(long, default_value = "GenerateDataKey")]
    action: String,
    /// Sign with V1 instead of V3.
    #[arg(long)]
    v1: bool,
    /// The AccessKeyId.
    #[arg(long, env = "KMS_LOAD_ACCESS_KEY_ID")]
    access_key_id: String,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.target.ip().is_loopback() {
        eprintln!("kms-load: only loopback targets are allowed");
        return ExitCode::FAILURE;
    }
    let Ok(access_key_secret) = std::env::var("KMS_LOAD_ACCESS_KEY_SECRET") else {
        eprintln!(
            "kms-load: set KMS_LOAD_ACCESS_KEY_SECRET (secrets never go on the command line)"
        );
        return ExitCode::FAILURE;
    };
    let seconds = cli.seconds.clamp(1, 3600);
    let client = Client::new(
        cli.target,
        Credentials {
            access_key_id: cli.access_key_id.clone(),
            access_key_secret,
        },
    );
    let options = CallOptions {
        signature: if cli.v1 {
            SignatureVersion::V1
        } else {
            SignatureVersion::V3
        },
        ..CallOptions::default()
    };
    // For Decrypt: one blob, made now.
    let blob = if cli.action == "Decrypt" {
        match client
            .call_with("GenerateDataKey", &[("KeyId", &cli.key_id)], &options)
            .await
        {
            Ok(r) if r.status == 200 => r.field("CiphertextBlob"),
            Ok(r) => {
                eprintln!("kms-load: setup failed: {} {}", r.status, r.text());
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("kms-load: setup failed: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        String::new()
    };

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cli.warmup);
    let end = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(cli.connections);
    for _ in 0..cli.connections.max(1) {
        let client = client.clone();
        let options = options.clone();
        let action = cli.action.clone();
        let key_id = cli.key_id.clone();
        let blob = blob.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let params: Vec<(&str, &str)> = if action == "Decrypt" {
                    vec![("CiphertextBlob", blob.as_str())]
                } else {
                    vec![("KeyId", key_id.as_str())]
                };
                let result = client.call_with(&action, &params, &options).await;
                let done = Instant::now();
                if sent < measure_from {
                    continue;
                }
                match result {
                    Ok(r) if r.status == 200 => {
                        let us = done.duration_since(sent).as_micros();
                        tally
                            .latencies_us
                            .push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    Ok(r) => {
                        *tally
                            .errors
                            .entry(format!("{} {}", r.status, r.field("Code")))
                            .or_default() += 1;
                    }
                    Err(e) => *tally.errors.entry(e.to_string()).or_default() += 1,
                }
            }
            tally
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(t) => {
                all.latencies_us.extend(t.latencies_us);
                for (k, v) in t.errors {
                    *all.errors.entry(k).or_default() += v;
                }
            }
            Err(e) => *all.errors.entry(format!("task: {e}")).or_default() += 1,
        }
    }
    all.latencies_us.sort_unstable();
    let ok = all.latencies_us.len() as u64;
    let errors: u64 = all.errors.values().sum();
    let rps = ok as f64 / seconds as f64;
    println!(
        "kms-load: {} {}, {} connections, {seconds} s (after {} s warm-up), signature {}",
        cli.action,
        cli.key_id,
        cli.connections,
        cli.warmup,
        if cli.v1 { "V1" } else { "V3" }
    );
    println!(
        "kms-load: {ok} ok, {errors} errors, {rps:.0} requests/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&all.latencies_us, 50.0),
        percentile(&all.latencies_us, 99.0),
        percentile(&all.latencies_us, 100.0),
    );
    for (what, n) in &all.errors {
        println!("kms-load: error {what}: {n}");
    }
    if errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
