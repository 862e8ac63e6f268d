//! HTTPS with `--tls-self-signed`: the real binary, a signed request over TLS from a client
//! that trusts only the CA file the server wrote, and the same CA after a restart.

mod common;

use std::io::BufRead;
use std::net::SocketAddr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use axum::body::Bytes;
use common::*;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use kms_server::client::{CallOptions, Credentials, signed_request};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The binary with `--tls-self-signed dir`; the child, its address and what it printed up to
/// the listening line.
fn spawn_tls_server(dir: &Path) -> (std::process::Child, SocketAddr, String) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kms-server"))
        .args(["--listen", "127.0.0.1:0", "--tls-self-signed"])
        .arg(dir)
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
    let mut printed = String::new();
    let addr = loop {
        let line = lines.next().expect("the server exited").unwrap();
        printed.push_str(&line);
        printed.push('\n');
        assert!(
            !line.contains("listening on http://"),
            "plain HTTP with --tls-self-signed: {line}"
        );
        if let Some(rest) = line.split("listening on https://").nth(1) {
            break rest.split_whitespace().next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr, printed)
}

/// A TLS client configuration trusting only the CA certificates in `ca_pem`.
fn client_config(ca_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    let certs = CertificateDer::pem_slice_iter(ca_pem)
        .map(Result::unwrap)
        .collect::<Vec<_>>();
    assert!(!certs.is_empty());
    trusting_only(certs)
}

/// A TLS client configuration trusting only `certs`.
fn trusting_only(certs: Vec<CertificateDer<'static>>) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Sends a signed `action` over HTTPS to `addr`, verifying the server as `name`; the status
/// and body.
async fn call_tls(
    addr: SocketAddr,
    name: &str,
    tls: Arc<rustls::ClientConfig>,
    action: &str,
    params: &[(&str, &str)],
) -> Result<(u16, serde_json::Value), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let server_name = ServerName::try_from(name.to_owned()).unwrap();
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(server_name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let credentials = Credentials {
        access_key_id: AK_A.into(),
        access_key_secret: SK_A.into(),
    };
    let request: axum::http::Request<Full<Bytes>> = signed_request(
        &addr.to_string(),
        &credentials,
        action,
        params,
        &CallOptions::default(),
    )
    .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap()))
}

#[tokio::test]
async fn https_with_a_self_signed_ca_kept_across_restarts() {
    let dir = temp_dir("tls");
    let tls_dir = dir.join("tls");
    let (mut first, addr, printed) = spawn_tls_server(&tls_dir);
    assert!(printed.contains("TLS CA certificate (new)"), "{printed}");
    let ca_path = tls_dir.join("ca.pem");
    let ca = std::fs::read(&ca_path).unwrap();
    for key in ["ca-key.pem", "server-key.pem"] {
        let mode = std::fs::metadata(tls_dir.join(key)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "{key}");
    }
    let trusting = client_config(&ca);

    // A signed request, the server verified by the written CA as 127.0.0.1 and as localhost.
    for name in ["127.0.0.1", "localhost"] {
        let (status, body) = call_tls(
            addr,
            name,
            Arc::clone(&trusting),
            "GenerateDataKey",
            &[("KeyId", "alias/demo")],
        )
        .await
        .unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["Plaintext"].as_str().unwrap().len(), 44, "{body}");
    }
    // A client that does not trust that CA refuses the server; plain HTTP gets no HTTP reply.
    let other_ca = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let untrusting = trusting_only(vec![other_ca.cert.der().clone()]);
    let refused = call_tls(addr, "localhost", untrusting, "ListKeys", &[]).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.starts_with("handshake")),
        "{refused:?}"
    );
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply).await;
    assert!(!reply.starts_with(b"HTTP/"), "{reply:?}");

    // Restart over the same directory: the same CA, and clients that trust it still connect.
    first.kill().unwrap();
    first.wait().unwrap();
    let (mut second, addr, printed) = spawn_tls_server(&tls_dir);
    assert!(printed.contains("TLS CA certificate (kept)"), "{printed}");
    assert_eq!(std::fs::read(&ca_path).unwrap(), ca, "the CA changed");
    let (status, body) = call_tls(addr, "localhost", trusting, "ListKeys", &[])
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    second.kill().unwrap();
    second.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
