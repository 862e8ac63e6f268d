//! `kms-load`: a small, bounded load generator for `kms-server` on loopback. It signs every
//! request as an SDK does (signature V3 by default: a fresh nonce and timestamp each time),
//! keeps `--connections` requests in flight, runs for `--seconds`, and prints requests per
//! second, latency percentiles and the error count.
//!
//! ```sh
//! KMS_LOAD_ACCESS_KEY_ID=... KMS_LOAD_ACCESS_KEY_SECRET=... \
//!   cargo run --release -p kms-server --bin kms-load -- --target 127.0.0.1:8089 --key-id alias/demo
//! ```
//!
//! With `--protocol aws` it speaks AWS KMS's JSON protocol instead (`X-Amz-Target`, unsigned),
//! to load `moto_server`, the mock most users run, the same way: it creates a key at start and
//! asks for data keys under it (or decrypts one blob made at start).
//!
//! With `--protocol instance` it drives the KMS-instance API (a listener started with
//! `--instance-listen ... --instance-plain-http`): protobuf requests signed with the client key
//! of `--client-key-file` and `--client-key-password-file`, on a key of the instance.
//!
//! With several targets (`--target` repeated, or a comma-separated list), the load is spread
//! over them round robin: each connection sends its requests to the targets in turn, so that
//! replicas of one shared store (`--store postgres://…`) share it evenly. What is made before
//! the run (the AWS protocol's key, the blob Decrypt opens) is made on the first target.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::Request;
use clap::Parser;
use http_body_util::Full;
use kms_server::client::{
    CallOptions, Client, ClientError, ClientResponse, Credentials, SignatureVersion,
};
use serde_json::json;

/// Load generator for kms-server (loopback only).
#[derive(Parser, Debug)]
#[command(name = "kms-load")]
struct Cli {
    /// The server (a loopback address). Repeat it, or give a comma-separated list, to spread
    /// the load over several servers (replicas of one shared store) round robin: each
    /// connection sends its requests to them in turn. Setup requests go to the first.
    #[arg(
        long,
        default_value = "127.0.0.1:8089",
        value_delimiter = ',',
        num_args = 1
    )]
    target: Vec<SocketAddr>,
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
    /// The protocol: `alibaba` (kms-server's gateway), `aws` (AWS KMS's JSON protocol, for
    /// moto) or `instance` (kms-server's KMS-instance API, plain HTTP).
    #[arg(long, default_value = "alibaba")]
    protocol: String,
    /// The AccessKeyId.
    #[arg(long, env = "KMS_LOAD_ACCESS_KEY_ID", default_value = "")]
    access_key_id: String,
    /// `--protocol instance`: the client-key JSON file the server issued.
    #[arg(long)]
    client_key_file: Option<std::path::PathBuf>,
    /// `--protocol instance`: its password file.
    #[arg(long)]
    client_key_password_file: Option<std::path::PathBuf>,
    /// `--protocol instance`: sign once per second and connection, and send those headers
    /// again within the second (the API has no nonce), so that the figures are the server's
    /// and not the client's RSA signing (an SDK signs every request).
    #[arg(long)]
    presign: bool,
}

/// The instance API's load: GenerateDataKey, or Decrypt of one blob made at start.
async fn instance_load(cli: &Cli, seconds: u64) -> ExitCode {
    use kms_server::instance::client::InstanceClient;
    use kms_server::instance::{client_key, pb};
    use prost::Message;
    let (Some(file), Some(password)) = (&cli.client_key_file, &cli.client_key_password_file) else {
        eprintln!(
            "kms-load: --protocol instance needs --client-key-file and --client-key-password-file"
        );
        return ExitCode::FAILURE;
    };
    let (key_id, private) = match client_key::read_key_files(file, password) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("kms-load: {}: {e}", file.display());
            return ExitCode::FAILURE;
        }
    };
    let clients: Vec<InstanceClient> = cli
        .target
        .iter()
        .map(|addr| InstanceClient::new(*addr, key_id.clone(), private.clone()))
        .collect();
    let client = &clients[0];
    let generate = pb::GenerateDataKeyRequest {
        key_id: cli.key_id.clone(),
        ..Default::default()
    }
    .encode_to_vec();
    let body = if cli.action == "Decrypt" {
        let made = client.call("GenerateDataKey", generate.clone()).await;
        let Some(r) = setup("GenerateDataKey", made) else {
            return ExitCode::FAILURE;
        };
        let Ok(made) = pb::GenerateDataKeyResponse::decode(r.body.as_ref()) else {
            eprintln!("kms-load: GenerateDataKey before the run: not a response message");
            return ExitCode::FAILURE;
        };
        pb::DecryptRequest {
            ciphertext_blob: made.ciphertext_blob,
            key_id: cli.key_id.clone(),
            iv: made.iv,
            ..Default::default()
        }
        .encode_to_vec()
    } else {
        generate
    };
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cli.warmup);
    let end = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(cli.connections);
    for connection in 0..cli.connections.max(1) {
        let clients = clients.clone();
        let action = cli.action.clone();
        let body = body.clone();
        let presign = cli.presign;
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            // (second, headers): with --presign, one signature per second and connection (the
            // instance API signs no host: the same headers go to every target).
            let mut signed: Option<(u64, axum::http::HeaderMap)> = None;
            // Round robin over the targets, each connection starting at its own.
            let mut turn = connection;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let client = &clients[turn % clients.len()];
                turn += 1;
                let result = if presign {
                    let now = std::time::SystemTime::now();
                    let second = now
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    if signed.as_ref().is_none_or(|(s, _)| *s != second) {
                        signed = client.sign(&action, &body, now).ok().map(|h| (second, h));
                    }
                    match &signed {
                        Some((_, headers)) => client.send(headers.clone(), body.clone()).await,
                        None => client.call(&action, body.clone()).await,
                    }
                } else {
                    client.call(&action, body.clone()).await
                };
                let done = Instant::now();
                if sent < measure_from {
                    continue;
                }
                match result {
                    Ok(r) if r.status == 200 => tally.record(done.duration_since(sent).as_micros()),
                    Ok(r) => {
                        let code = pb::Error::decode(r.body.as_ref())
                            .map(|e| e.error_code)
                            .unwrap_or_default();
                        *tally
                            .errors
                            .entry(format!("{} {code}", r.status))
                            .or_default() += 1;
                    }
                    Err(e) => *tally.errors.entry(e.to_string()).or_default() += 1,
                }
            }
            tally
        }));
    }
    report(
        tasks,
        &format!(
            "kms-load: {} {}, {} connections, {seconds} s (after {} s warm-up), KMS-instance API{}{}",
            cli.action,
            cli.key_id,
            cli.connections,
            cli.warmup,
            if cli.presign {
                ", one signature per second and connection"
            } else {
                ", every request signed"
            },
            targets_note(&cli.target),
        ),
        seconds,
    )
    .await
}

/// Gathers the tallies of `tasks` and prints the run's figures under `title`.
async fn report(tasks: Vec<tokio::task::JoinHandle<Tally>>, title: &str, seconds: u64) -> ExitCode {
    let mut all = Tally::default();
    for t in tasks {
        match t.await {
            Ok(t) => all.merge(t),
            Err(e) => *all.errors.entry(format!("task: {e}")).or_default() += 1,
        }
    }
    let ok = all.ok;
    let errors: u64 = all.errors.values().sum();
    let rps = ok as f64 / seconds as f64;
    println!("{title}");
    let (p50, p99, max) = (
        all.percentile(50.0),
        all.percentile(99.0),
        all.percentile(100.0),
    );
    println!(
        "kms-load: {ok} ok, {errors} errors, {rps:.0} requests/s, p50 {p50:.2} ms, p99 {p99:.2} ms, max {max:.2} ms"
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

/// Latencies in a histogram of 1 µs buckets up to [`Tally::BUCKETS`] µs (longer ones kept
/// one by one), so a run of any length takes fixed memory.
struct Tally {
    buckets: Vec<u64>,
    slow_us: Vec<u32>,
    ok: u64,
    errors: BTreeMap<String, u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            buckets: vec![0; Self::BUCKETS],
            slow_us: Vec::new(),
            ok: 0,
            errors: BTreeMap::new(),
        }
    }
}

impl Tally {
    const BUCKETS: usize = 50_000;

    fn record(&mut self, us: u128) {
        self.ok += 1;
        match usize::try_from(us) {
            Ok(us) if us < Self::BUCKETS => self.buckets[us] += 1,
            _ => self.slow_us.push(u32::try_from(us).unwrap_or(u32::MAX)),
        }
    }

    fn merge(&mut self, other: Tally) {
        self.ok += other.ok;
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.slow_us.extend(other.slow_us);
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    /// The `p`th percentile, in milliseconds.
    fn percentile(&mut self, p: f64) -> f64 {
        if self.ok == 0 {
            return 0.0;
        }
        let rank = (((p / 100.0) * self.ok as f64).ceil() as u64).clamp(1, self.ok);
        let mut seen = 0;
        for (us, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return us as f64 / 1000.0;
            }
        }
        self.slow_us.sort_unstable();
        let i = usize::try_from(rank - seen).unwrap_or(usize::MAX);
        f64::from(self.slow_us[i.clamp(1, self.slow_us.len()) - 1]) / 1000.0
    }
}

/// What the title says of the targets: nothing for one (the output as before), else the list
/// the load went round.
fn targets_note(targets: &[SocketAddr]) -> String {
    if targets.len() < 2 {
        return String::new();
    }
    let list: Vec<String> = targets.iter().map(ToString::to_string).collect();
    format!(
        ", round robin over {} targets: {}",
        targets.len(),
        list.join(" ")
    )
}

/// The answer to a request made before the run, or `None` (said on stderr) when it failed.
fn setup(what: &str, result: Result<ClientResponse, ClientError>) -> Option<ClientResponse> {
    match result {
        Ok(r) if r.status == 200 => Some(r),
        Ok(r) => {
            eprintln!(
                "kms-load: {what} before the run failed: {} {}",
                r.status,
                r.text()
            );
            None
        }
        Err(e) => {
            eprintln!("kms-load: {what} before the run failed: {e}");
            None
        }
    }
}

/// One request in AWS KMS's JSON protocol, to `moto_server` (which does not check signatures,
/// so none is made; the Authorization header only names an account).
async fn aws_call(
    client: &Client,
    action: &str,
    body: &serde_json::Value,
) -> Result<ClientResponse, ClientError> {
    let request = Request::builder()
        .method("POST")
        .uri("/")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("X-Amz-Target", format!("TrentService.{action}"))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261130/us-east-1/kms/aws4_request, \
             SignedHeaders=host;x-amz-target, Signature=0",
        )
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| ClientError(e.to_string()))?;
    client.send(request).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.target.is_empty() {
        eprintln!("kms-load: no --target");
        return ExitCode::FAILURE;
    }
    if cli.target.iter().any(|t| !t.ip().is_loopback()) {
        eprintln!("kms-load: only loopback targets are allowed");
        return ExitCode::FAILURE;
    }
    let aws = match cli.protocol.as_str() {
        "alibaba" => false,
        "aws" => true,
        "instance" => return instance_load(&cli, cli.seconds.clamp(1, 3600)).await,
        other => {
            eprintln!("kms-load: unknown protocol {other:?} (alibaba, aws or instance)");
            return ExitCode::FAILURE;
        }
    };
    let access_key_secret = if aws {
        String::new()
    } else if let Ok(secret) = std::env::var("KMS_LOAD_ACCESS_KEY_SECRET") {
        secret
    } else {
        eprintln!(
            "kms-load: set KMS_LOAD_ACCESS_KEY_SECRET (secrets never go on the command line)"
        );
        return ExitCode::FAILURE;
    };
    let seconds = cli.seconds.clamp(1, 3600);
    let credentials = Credentials {
        access_key_id: cli.access_key_id.clone(),
        access_key_secret,
    };
    let clients: Vec<Client> = cli
        .target
        .iter()
        .map(|addr| Client::new(*addr, credentials.clone()))
        .collect();
    let client = &clients[0];
    let options = CallOptions {
        signature: if cli.v1 {
            SignatureVersion::V1
        } else {
            SignatureVersion::V3
        },
        ..CallOptions::default()
    };
    // With AWS's protocol: a key made now (moto starts empty). For Decrypt: one blob, made now.
    let key_id = if aws {
        match setup("CreateKey", aws_call(client, "CreateKey", &json!({})).await) {
            Some(r) => r.json()["KeyMetadata"]["KeyId"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            None => return ExitCode::FAILURE,
        }
    } else {
        cli.key_id.clone()
    };
    let blob = if cli.action != "Decrypt" {
        String::new()
    } else {
        let made = if aws {
            let request = json!({"KeyId": key_id, "KeySpec": "AES_256"});
            aws_call(client, "GenerateDataKey", &request).await
        } else {
            let params = [("KeyId", key_id.as_str())];
            client.call_with("GenerateDataKey", &params, &options).await
        };
        match setup("GenerateDataKey", made) {
            Some(r) => r.field("CiphertextBlob"),
            None => return ExitCode::FAILURE,
        }
    };

    let start = Instant::now();
    let measure_from = start + Duration::from_secs(cli.warmup);
    let end = measure_from + Duration::from_secs(seconds);
    let mut tasks = Vec::with_capacity(cli.connections);
    for connection in 0..cli.connections.max(1) {
        let clients = clients.clone();
        let options = options.clone();
        let action = cli.action.clone();
        let key_id = key_id.clone();
        let blob = blob.clone();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            // Round robin over the targets, each connection starting at its own.
            let mut turn = connection;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    break;
                }
                let client = &clients[turn % clients.len()];
                turn += 1;
                let result = if aws {
                    let body = if action == "Decrypt" {
                        json!({"CiphertextBlob": blob})
                    } else {
                        json!({"KeyId": key_id, "KeySpec": "AES_256"})
                    };
                    aws_call(client, &action, &body).await
                } else {
                    let params: Vec<(&str, &str)> = if action == "Decrypt" {
                        vec![("CiphertextBlob", blob.as_str())]
                    } else {
                        vec![("KeyId", key_id.as_str())]
                    };
                    client.call_with(&action, &params, &options).await
                };
                let done = Instant::now();
                if sent < measure_from {
                    continue;
                }
                match result {
                    Ok(r) if r.status == 200 => tally.record(done.duration_since(sent).as_micros()),
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
    let title = format!(
        "kms-load: {} {}, {} connections, {seconds} s (after {} s warm-up), {}{}",
        cli.action,
        key_id,
        cli.connections,
        cli.warmup,
        match (aws, cli.v1) {
            (true, _) => "AWS JSON protocol",
            (false, true) => "signature V1",
            (false, false) => "signature V3",
        },
        targets_note(&cli.target),
    );
    report(tasks, &title, seconds).await
}
