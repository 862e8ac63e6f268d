//! Persistence: the keyring snapshot (the core's sealed format) and the AccessKey file beside
//! it, both written atomically (temporary file, fsync, rename, fsync of the directory), so a
//! crash leaves either the old file or the new one, never half of one.
//!
//! The AccessKey file (`{keyring}.access-keys`) holds the configured AccessKey pairs so that a
//! restart with the same `--keyring` and wrapping key still authenticates the same callers:
//!
//! ```text
//! file = magic "KMSACCK1" || iv (12 bytes) || AES-256-GCM(JSON list, aad = magic) || tag (16)
//! ```
//!
//! sealed under the keyring's wrapping key, since the HMAC secrets must be kept in the clear
//! to verify signatures.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use aes_gcm::aead::Aead;
use aes_gcm::aead::Payload;
use aes_gcm::{Aes256Gcm, KeyInit};
use kms_core::InMemoryProvider;
use kms_core::rand_core::TryRng;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::AccessKey;

const ACCESS_KEYS_MAGIC: &[u8; 8] = b"KMSACCK1";

/// Parses a 256-bit wrapping key from hex (64 hex digits; surrounding white space ignored).
pub fn parse_wrapping_key(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let text = text.trim().as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (i, pair) in text.chunks_exact(2).enumerate() {
        let hi = char::from(pair[0]).to_digit(16)?;
        let lo = char::from(pair[1]).to_digit(16)?;
        key[i] = u8::try_from(hi * 16 + lo).ok()?;
    }
    Some(key)
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, written and
/// fsynced, renamed over `path`, then the directory fsynced.
///
/// # Errors
/// Any I/O error; `path` is then unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A keyring file and its wrapping key.
pub struct Keyring {
    path: PathBuf,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("key", &"[REDACTED]")
            .finish()
    }
}

/// Why a keyring could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Io(io::Error),
    /// The snapshot was refused (wrong key, truncated, altered, ...).
    Snapshot(kms_core::snapshot::SnapshotError),
    /// The AccessKey file does not open under the wrapping key or does not parse.
    AccessKeys,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Io(e) => write!(f, "cannot read the keyring: {e}"),
            LoadError::Snapshot(e) => write!(f, "{e}"),
            LoadError::AccessKeys => f.write_str(
                "the AccessKey file does not authenticate under the wrapping key or is malformed",
            ),
        }
    }
}

impl std::error::Error for LoadError {}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StoredAccessKey {
    access_key_id: String,
    access_key_secret: String,
    account: String,
}

impl Keyring {
    /// A keyring at `path`, sealed under `key`.
    pub fn new(path: impl Into<PathBuf>, key: Zeroizing<[u8; 32]>) -> Self {
        Self {
            path: path.into(),
            key,
        }
    }

    /// The keyring file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The AccessKey file's path: the keyring's, with `.access-keys` appended.
    pub fn access_keys_path(&self) -> PathBuf {
        let mut name = self.path.as_os_str().to_os_string();
        name.push(".access-keys");
        PathBuf::from(name)
    }

    /// Loads the keyring; `None` when the file does not exist yet.
    ///
    /// # Errors
    /// An unreadable file or a refused snapshot.
    pub fn load(&self) -> Result<Option<InMemoryProvider>, LoadError> {
        let bytes = match fs::read(&self.path) {
            Ok(b) => Zeroizing::new(b),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Io(e)),
        };
        InMemoryProvider::import_snapshot(&bytes, &self.key)
            .map(Some)
            .map_err(LoadError::Snapshot)
    }

    /// Writes a snapshot of `provider` atomically.
    ///
    /// # Errors
    /// An I/O error, or the core's `InternalFailure` (RNG) as `io::Error`.
    pub fn save(&self, provider: &InMemoryProvider) -> io::Result<()> {
        let bytes = self.export(provider)?;
        write_atomically(&self.path, &bytes)
    }

    /// The snapshot bytes of `provider`, sealed under the wrapping key.
    ///
    /// # Errors
    /// The core's `InternalFailure` (RNG), as `io::Error`.
    pub fn export(&self, provider: &InMemoryProvider) -> io::Result<Vec<u8>> {
        provider
            .export_snapshot(&self.key, &mut kms_core::OsRng)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Loads the AccessKey file; `None` when it does not exist.
    ///
    /// # Errors
    /// An unreadable file, or one that does not open or parse.
    pub fn load_access_keys(&self) -> Result<Option<Vec<AccessKey>>, LoadError> {
        let bytes = match fs::read(self.access_keys_path()) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(LoadError::Io(e)),
        };
        if bytes.len() < 8 + 12 + 16 || &bytes[..8] != ACCESS_KEYS_MAGIC {
            return Err(LoadError::AccessKeys);
        }
        let cipher = Aes256Gcm::new_from_slice(&self.key[..]).map_err(|_| LoadError::AccessKeys)?;
        let mut iv = [0u8; 12];
        iv.copy_from_slice(&bytes[8..20]);
        let plain = Zeroizing::new(
            cipher
                .decrypt(
                    &iv.into(),
                    Payload {
                        msg: &bytes[20..],
                        aad: ACCESS_KEYS_MAGIC,
                    },
                )
                .map_err(|_| LoadError::AccessKeys)?,
        );
        let stored: Vec<StoredAccessKey> =
            serde_json::from_slice(&plain).map_err(|_| LoadError::AccessKeys)?;
        Ok(Some(
            stored
                .into_iter()
                .map(|s| AccessKey::new(s.access_key_id, s.access_key_secret, s.account))
                .collect(),
        ))
    }

    /// Writes the AccessKey file atomically.
    ///
    /// # Errors
    /// An I/O or RNG error.
    pub fn save_access_keys(&self, keys: &[AccessKey]) -> io::Result<()> {
        let stored: Vec<StoredAccessKey> = keys
            .iter()
            .map(|k| StoredAccessKey {
                access_key_id: k.id.clone(),
                access_key_secret: k.secret().to_owned(),
                account: k.account.clone(),
            })
            .collect();
        let plain = Zeroizing::new(serde_json::to_vec(&stored).map_err(io::Error::other)?);
        drop(stored);
        let cipher = Aes256Gcm::new_from_slice(&self.key[..]).map_err(io::Error::other)?;
        let mut iv = [0u8; 12];
        kms_core::OsRng
            .try_fill_bytes(&mut iv)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                &iv.into(),
                Payload {
                    msg: &plain,
                    aad: ACCESS_KEYS_MAGIC,
                },
            )
            .map_err(|_| io::Error::other("sealing the AccessKey file failed"))?;
        let mut out = Vec::with_capacity(8 + 12 + sealed.len());
        out.extend_from_slice(ACCESS_KEYS_MAGIC);
        out.extend_from_slice(&iv);
        out.extend_from_slice(&sealed);
        write_atomically(&self.access_keys_path(), &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keys() {
        let hex = "00".repeat(31) + "ff";
        assert_eq!(parse_wrapping_key(&hex).unwrap()[31], 0xff);
        assert_eq!(parse_wrapping_key(&format!(" {hex}\n")).unwrap()[0], 0);
        assert!(parse_wrapping_key(&hex[2..]).is_none());
        assert!(parse_wrapping_key(&("zz".to_owned() + &hex[2..])).is_none());
        assert!(parse_wrapping_key(&("é".to_owned() + &hex[3..])).is_none());
    }
}
