//! Connection limits against slow clients: the cap with a slowloris at it, the header, body
//! and idle timeouts, and the server's memory after an attack of large unfinished heads.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use kms_core::InMemoryProvider;
use kms_server::Service;
use kms_server::http::{ServeOptions, serve_with};
use kms_server::limits::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CAP: usize = 64;
const HEADER: Duration = Duration::from_secs(2);
const BODY: Duration = Duration::from_secs(2);
const IDLE: Duration = Duration::from_secs(3);

/// A server with a small cap and short timeouts; its address and a client-making server.
async fn start_limited() -> (SocketAddr, TestServerHandle) {
    let service = Service::new(config(), InMemoryProvider::new(), None);
    // As the binary does: accept requests from the second the service serves from.
    tokio::time::sleep(service.until_serving(std::time::SystemTime::now())).await;
    let service = Arc::new(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = ServeOptions {
        limits: Limits {
            max_connections: CAP,
            header_timeout: HEADER,
            body_timeout: BODY,
            idle_timeout: IDLE,
        },
        tls: None,
    };
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve_with(
        listener,
        service,
        Duration::from_secs(3600),
        options,
        async move {
            let _ = rx.await;
        },
    ));
    (addr, TestServerHandle { stop: tx, task })
}

struct TestServerHandle {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl TestServerHandle {
    async fn stop(self) {
        let _ = self.stop.send(());
        // The slow clients may still be connected: their timeouts end them.
        let stopped = tokio::time::timeout(Duration::from_secs(15), self.task).await;
        assert!(stopped.is_ok(), "the server did not stop");
    }
}

fn client(addr: SocketAddr) -> kms_server::client::Client {
    kms_server::client::Client::new(
        addr,
        kms_server::client::Credentials {
            access_key_id: AK_A.into(),
            access_key_secret: SK_A.into(),
        },
    )
}

/// Reads until the server closes the connection (EOF or reset), at most `limit`; what was
/// read, and how long it took.
async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + limit).into(), s.read(&mut buf)).await {
            Err(_) => return (out, None),
            Ok(Ok(0) | Err(_)) => return (out, Some(start.elapsed())),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// A slowloris client: connects, sends a request head a byte at a time (every 100 ms) and
/// never ends it; when the server cuts it, connects again; until `stop`. Counts its cuts.
async fn slowloris(addr: SocketAddr, stop: Arc<AtomicBool>, cuts: Arc<AtomicUsize>) {
    let head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut i = 0;
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let byte = if i < head.len() { head[i] } else { b'a' };
            i += 1;
            if s.write_all(&[byte]).await.is_err() {
                break;
            }
            // A closed connection shows up as a readable EOF (or a failed write).
            let mut probe = [0u8; 1];
            let probed = tokio::time::timeout(Duration::from_millis(100), s.read(&mut probe)).await;
            if let Ok(Ok(0) | Err(_)) = probed {
                break;
            }
        }
        cuts.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legitimate_requests_get_through_a_slowloris_at_the_cap() {
    let (addr, server) = start_limited().await;
    let c = client(addr);
    // A connection admitted before the attack.
    let r = c.call("CreateKey", &[]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    let stop = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..CAP)
        .map(|_| tokio::spawn(slowloris(addr, Arc::clone(&stop), Arc::clone(&cuts))))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The admitted connection is served at once, attack or not.
    let started = Instant::now();
    let r = c.call("ListKeys", &[]).await.unwrap();
    let admitted = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(admitted < Duration::from_secs(1), "{admitted:?}");

    // New connections wait in the backlog until the header timeout frees places; the
    // attackers, reconnecting at once, queue behind them. Three rounds.
    let mut waits = Vec::new();
    for _ in 0..3 {
        let fresh = client(addr);
        let started = Instant::now();
        let r = fresh.call("ListKeys", &[]).await.unwrap();
        let waited = started.elapsed();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(waited < HEADER + Duration::from_secs(3), "{waited:?}");
        waits.push(waited);
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.await.unwrap();
    }
    let cuts = cuts.load(Ordering::Relaxed);
    eprintln!(
        "slowloris at the cap ({CAP}): admitted connection served in {admitted:?}; new connections waited {waits:?}; {cuts} attacker connections cut"
    );
    // The first round of attackers is cut by the header timeout (those that noticed before
    // the end are counted).
    assert!(cuts >= CAP / 2, "the header timeout cut {cuts} attackers");
    server.stop().await;
}

#[tokio::test]
async fn a_partial_header_is_dropped_within_the_header_timeout() {
    let (addr, server) = start_limited().await;
    // A byte every 200 ms: progress, but the head never ends.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let closed = loop {
        if s.write_all(b"a").await.is_err() {
            break started.elapsed();
        }
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(200), s.read(&mut probe)).await {
            Ok(Ok(0) | Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => panic!("a reply to a head never ended: {:?}", &probe[..n]),
            Err(_) => {}
        }
        assert!(started.elapsed() < HEADER * 3, "still open");
    };
    assert!(closed >= HEADER - Duration::from_millis(100), "{closed:?}");
    assert!(closed < HEADER + Duration::from_millis(1500), "{closed:?}");

    // A connection that sends nothing at all, and a kept-alive one after its response.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (_, closed) = read_until_closed(&mut silent, HEADER * 3).await;
    let closed = closed.expect("a silent connection stays open");
    assert!(closed < HEADER + Duration::from_millis(1500), "{closed:?}");
    let mut kept = TcpStream::connect(addr).await.unwrap();
    kept.write_all(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let (reply, closed) = read_until_closed(&mut kept, HEADER * 3).await;
    assert!(reply.starts_with(b"HTTP/1.1 404"), "{reply:?}");
    let closed = closed.expect("an idle kept-alive connection stays open");
    assert!(closed < HEADER + Duration::from_millis(1500), "{closed:?}");
    eprintln!("partial header, silent and kept-alive connections closed after {closed:?} or less");
    server.stop().await;
}

#[tokio::test]
async fn a_never_ending_chunked_body_is_answered_408_within_the_body_timeout() {
    let (addr, server) = start_limited().await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    let started = Instant::now();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .await
    .unwrap();
    // A one-byte chunk every 100 ms, for ever (until the server answers).
    let mut reply = Vec::new();
    let closed = loop {
        if s.write_all(b"1\r\na\r\n").await.is_err() {
            break started.elapsed();
        }
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_millis(100), s.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break started.elapsed(),
            Ok(Ok(n)) => reply.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
        assert!(started.elapsed() < BODY * 3, "still open");
    };
    let text = String::from_utf8_lossy(&reply);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"Code\":\"RequestTimeout\""), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(closed >= BODY - Duration::from_millis(100), "{closed:?}");
    assert!(closed < BODY + Duration::from_millis(1500), "{closed:?}");
    eprintln!("never-ending chunked body: 408, closed after {closed:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_after_the_idle_timeout() {
    let (addr, server) = start_limited().await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    // Many pipelined requests, their responses never read: the server's writes stall once the
    // socket buffers are full.
    const REQUESTS: usize = 20_000;
    let request = b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
    let (mut reader, mut writer) = s.split();
    let write = async {
        for _ in 0..REQUESTS {
            if writer.write_all(request).await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), write).await;
    // The stall comes within a second or two (the kernel takes the requests at once); then
    // nothing moves, and the idle timeout runs.
    tokio::time::sleep(IDLE * 2 + Duration::from_secs(2)).await;
    // Now read: if the server dropped the stalled connection, fewer than all the responses
    // arrive, then the end of the stream.
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), reader.read(&mut buf)).await {
            Err(_) => break false,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    };
    let answered = out.windows(12).filter(|w| w == b"HTTP/1.1 404").count();
    assert!(ended, "the connection stayed open");
    assert!(answered < REQUESTS, "every request was answered: no stall?");
    eprintln!("a client that stopped reading: dropped after {answered} of {REQUESTS} responses");
    server.stop().await;
}

/// The server's resident memory, from /proc (kB).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// The kms-server binary, started on a free port with `flags`; its port.
fn spawn_server(flags: &[&str]) -> (std::process::Child, u16) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0"])
        .args(flags)
        .env(
            "KMS_SERVER_ACCESS_KEYS",
            format!("{AK_A}:{SK_A}:{ACCOUNT_A}"),
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let port = loop {
        let line = lines.next().expect("the server exited").unwrap();
        if let Some(rest) = line.split("listening on http://127.0.0.1:").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    // Keep draining its output.
    std::thread::spawn(move || for _ in lines {});
    (child, port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_returns_after_an_attack_of_large_unfinished_heads() {
    const ATTACKERS: usize = 1500;
    const HEAD: usize = 60_000;
    let (mut child, port) = spawn_server(&[
        "--header-timeout",
        "60s",
        "--idle-timeout",
        "60s",
        "--max-connections",
        "4000",
    ]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let pid = child.id();
    // Warm up: a few requests, so that what the first ones allocate is in the idle figure.
    let c = client(addr);
    for _ in 0..3 {
        let r = c.call("ListKeys", &[]).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = rss_kib(pid);

    // Each attacker sends a request line and one header of HEAD bytes that never ends.
    let mut head = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ".to_vec();
    head.resize(HEAD, b'a');
    let head = Arc::new(head);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..ATTACKERS {
        let head = Arc::clone(&head);
        tasks.push(tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(&head).await.unwrap();
            s
        }));
    }
    let mut sockets = Vec::new();
    for t in tasks {
        sockets.push(t.await.unwrap());
    }
    // Let the server read what was sent.
    let mut attack = 0;
    for _ in 0..6 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        attack = attack.max(rss_kib(pid));
    }
    let sent = started.elapsed();
    drop(sockets);
    let left = Instant::now();
    let mut after = rss_kib(pid);
    while after > 2 * idle && left.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        after = rss_kib(pid);
    }
    let returned_in = left.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    eprintln!(
        "RSS: idle {idle} KiB; {ATTACKERS} connections with {HEAD}-byte unfinished heads (sent in {sent:?}): {attack} KiB; {after} KiB {returned_in:?} after they left"
    );
    assert!(
        attack > idle + (ATTACKERS * HEAD / 1024 / 2) as u64,
        "the attack did not show: idle {idle}, attack {attack}"
    );
    assert!(
        after <= 2 * idle,
        "RSS {after} KiB a minute after the attack, idle {idle} KiB"
    );
}
