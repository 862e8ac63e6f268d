//! HTTPS: rustls (with the `ring` provider) over the accept loop's connections.
//!
//! Two ways to get a certificate:
//!
//! - [`from_files`]: a PEM certificate chain and its PEM private key (`--tls-cert`,
//!   `--tls-key`).
//! - [`self_signed`]: a local CA and a server certificate for `127.0.0.1`, `::1` and
//!   `localhost` (`--tls-self-signed DIR`). The directory keeps the CA certificate
//!   ([`CA_CERT`], for clients to trust), the CA key ([`CA_KEY`]) and the server key
//!   ([`SERVER_KEY`]); later starts reuse them, so clients keep trusting the same CA. The
//!   server certificate is issued anew, by that CA, on every start.
//!
//! Key files are created with mode 0600, never through a symbolic link and never over an
//! existing file; existing ones are read without following a symbolic link and refused when
//! group or others may read them.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData,
};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

/// The CA certificate (PEM) in a `--tls-self-signed` directory: what clients trust.
pub const CA_CERT: &str = "ca.pem";
/// The CA's private key (PKCS #8 PEM, mode 0600).
pub const CA_KEY: &str = "ca-key.pem";
/// The server's private key (PKCS #8 PEM, mode 0600).
pub const SERVER_KEY: &str = "server-key.pem";

/// The names the self-signed server certificate is valid for.
pub const SERVER_NAMES: [&str; 3] = ["127.0.0.1", "::1", "localhost"];

const CA_NAME: &str = "kms-server local CA";
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

fn with_path(path: &Path) -> impl Fn(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// A rustls server configuration for `chain` and `key`: TLS 1.2 and 1.3 with the `ring`
/// provider, HTTP/1.1 offered by ALPN.
///
/// # Errors
/// A key that does not match the certificate, or that rustls cannot use.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> io::Result<Arc<ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| invalid(format!("the certificate and key cannot be used: {e}")))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The configuration for a PEM certificate chain file and a PEM private key file.
///
/// # Errors
/// A file that cannot be read, holds no certificate or key, or a key that does not match.
pub fn from_files(cert: &Path, key: &Path) -> io::Result<Arc<ServerConfig>> {
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| invalid(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(invalid(format!("{}: no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| invalid(format!("{}: {e}", key.display())))?;
    server_config(chain, key)
}

/// What [`self_signed`] made or found.
#[derive(Debug)]
pub struct SelfSigned {
    /// The server configuration (the new server certificate, then the CA's).
    pub config: Arc<ServerConfig>,
    /// The CA certificate file clients trust.
    pub ca_cert: PathBuf,
    /// Whether the CA was made by this call (else it was found in the directory).
    pub created: bool,
}

/// A local CA and a server certificate for [`SERVER_NAMES`], kept in `dir` (created, mode
/// 0700, if missing): the CA and the server key are made on the first call and reused after.
///
/// # Errors
/// An I/O error; a directory holding some of the files but not all; a key file others may
/// read, or one that does not match its certificate.
pub fn self_signed(dir: &Path) -> io::Result<SelfSigned> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(with_path(dir))?;
    let paths = [CA_CERT, CA_KEY, SERVER_KEY].map(|name| dir.join(name));
    let present = paths
        .iter()
        .map(|p| p.symlink_metadata().is_ok())
        .collect::<Vec<_>>();
    let created = if present.iter().all(|p| !p) {
        create_ca(dir)?;
        true
    } else if present.iter().all(|p| *p) {
        false
    } else {
        return Err(invalid(format!(
            "{} holds some of {CA_CERT}, {CA_KEY} and {SERVER_KEY} but not all: remove them to make a new CA",
            dir.display()
        )));
    };
    let [ca_cert_path, ca_key_path, server_key_path] = paths;

    let ca_cert = CertificateDer::from_pem_slice(&read_file(&ca_cert_path, false)?)
        .map_err(|e| invalid(format!("{}: {e}", ca_cert_path.display())))?;
    let ca_key = read_key(&ca_key_path)?;
    // The key must be the certificate's: its public key appears in the certificate.
    let spki = ca_key.subject_public_key_info();
    if !ca_cert.windows(spki.len()).any(|w| w == spki.as_slice()) {
        return Err(invalid(format!(
            "{} is not the key of {}",
            ca_key_path.display(),
            ca_cert_path.display()
        )));
    }
    let server_key = read_key(&server_key_path)?;

    // The issuer is named as the CA certificate names its subject, with the same key
    // identifier (derived from the key): what verifiers match the server certificate to.
    let issuer = Issuer::new(ca_params(), ca_key);
    let mut params = CertificateParams::new(SERVER_NAMES.map(str::to_owned).to_vec())
        .map_err(|e| invalid(e.to_string()))?;
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, "kms-server");
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - DAY;
    params.not_after = now + 397 * DAY;
    let server_cert = params
        .signed_by(&server_key, &issuer)
        .map_err(|e| invalid(format!("cannot issue the server certificate: {e}")))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config = server_config(vec![server_cert.der().clone(), ca_cert], key)?;
    Ok(SelfSigned {
        config,
        ca_cert: ca_cert_path,
        created,
    })
}

/// The CA's parameters: the same on every start, so that an issuer rebuilt from them and
/// the kept key names the kept certificate's subject.
fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = DistinguishedName::new();
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "kms-server");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Makes the CA (certificate and key) and the server key in `dir`: keys first, the CA
/// certificate last.
fn create_ca(dir: &Path) -> io::Result<()> {
    let generate = || KeyPair::generate().map_err(|e| invalid(format!("key generation: {e}")));
    let ca_key = generate()?;
    let server_key = generate()?;
    let mut params = ca_params();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - DAY;
    params.not_after = now + 3653 * DAY;
    let ca_cert = params
        .self_signed(&ca_key)
        .map_err(|e| invalid(format!("cannot make the CA certificate: {e}")))?;
    let ca_key_pem = Zeroizing::new(pem("PRIVATE KEY", &ca_key.serialize_der()));
    let server_key_pem = Zeroizing::new(pem("PRIVATE KEY", &server_key.serialize_der()));
    write_new(&dir.join(CA_KEY), ca_key_pem.as_bytes(), 0o600)?;
    write_new(&dir.join(SERVER_KEY), server_key_pem.as_bytes(), 0o600)?;
    write_new(
        &dir.join(CA_CERT),
        pem("CERTIFICATE", ca_cert.der()).as_bytes(),
        0o644,
    )
}

/// PEM text: `label`, `der` in Base64, 64 characters a line.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = Zeroizing::new(Base64::encode_string(der));
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Creates `path` with `mode` (never over an existing file, never through a symbolic link),
/// writes `bytes` and syncs it.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(with_path(path))?;
    file.write_all(bytes).map_err(with_path(path))?;
    file.sync_all().map_err(with_path(path))
}

/// Reads `path` without following a symbolic link; a `secret` file must be a regular file
/// that neither group nor others may read.
fn read_file(path: &Path, secret: bool) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut file: File = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(with_path(path))?;
    let meta = file.metadata().map_err(with_path(path))?;
    if !meta.is_file() {
        return Err(invalid(format!("{} is not a regular file", path.display())));
    }
    if secret && meta.mode() & 0o077 != 0 {
        return Err(invalid(format!(
            "{} may be read by group or others (mode {:o}): chmod 600 it",
            path.display(),
            meta.mode() & 0o777
        )));
    }
    let mut bytes = Zeroizing::new(Vec::new());
    file.read_to_end(&mut bytes).map_err(with_path(path))?;
    Ok(bytes)
}

fn read_key(path: &Path) -> io::Result<KeyPair> {
    let pem = read_file(path, true)?;
    let der = PrivatePkcs8KeyDer::from_pem_slice(&pem)
        .map_err(|e| invalid(format!("{}: {e}", path.display())))?;
    KeyPair::try_from(&der).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!("kms-tls-{tag}-{}-{nanos}", std::process::id()))
    }

    #[test]
    fn the_ca_is_made_once_and_kept() {
        let dir = temp_dir("keep");
        let first = self_signed(&dir).unwrap();
        assert!(first.created);
        let ca = std::fs::read(&first.ca_cert).unwrap();
        for name in [CA_KEY, SERVER_KEY] {
            let mode = std::fs::metadata(dir.join(name)).unwrap().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let second = self_signed(&dir).unwrap();
        assert!(!second.created);
        assert_eq!(std::fs::read(&second.ca_cert).unwrap(), ca);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn incomplete_or_readable_directories_are_refused() {
        let dir = temp_dir("partial");
        self_signed(&dir).unwrap();
        let key = dir.join(CA_KEY);
        std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let e = self_signed(&dir).unwrap_err();
        assert!(e.to_string().contains("group or others"), "{e}");
        std::fs::remove_file(&key).unwrap();
        let e = self_signed(&dir).unwrap_err();
        assert!(e.to_string().contains("but not all"), "{e}");
        // A symbolic link in place of a key is not followed.
        std::os::unix::fs::symlink(dir.join(SERVER_KEY), &key).unwrap();
        let e = self_signed(&dir).unwrap_err();
        assert!(e.to_string().contains(CA_KEY), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_new_key_never_goes_through_a_symbolic_link() {
        let dir = temp_dir("link");
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("elsewhere");
        std::os::unix::fs::symlink(&target, dir.join("k")).unwrap();
        assert!(write_new(&dir.join("k"), b"secret", 0o600).is_err());
        assert!(!target.exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
