//! Persistence: the keyring snapshot (the core's sealed format) and the AccessKey file beside
//! it, both written atomically (temporary file, fsync, rename, fsync of the directory), so a
//! crash leaves either the old file or the new one, never half of one.
//!
//! The AccessKey file (`{keyring}.access-keys`) holds the configured AccessKey pairs so that a
//! restart with the same `--keyring` and wrapping key still authenticates the same callers. It
//! is a container of the core's sealed framing ([`kms_core::container`], the keyring
//! snapshot's), magic `KMSACCK1`, format version 1:
//!
//! ```text
//! file = magic "KMSACCK1" || u16be version (1) || iv (12 bytes)
//!     || JSON list sealed with AES-256-GCM, aad = magic || version
//!     || tag (16 bytes)
//! ```
//!
//! sealed under the keyring's wrapping key, since the HMAC secrets must be kept in the clear
//! to verify signatures. The JSON list is `[{"AccessKeyId","AccessKeySecret","Account"}, ...]`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use kms_core::{InMemoryProvider, container};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::AccessKey;

/// The AccessKey file's container magic.
const ACCESS_KEYS_MAGIC: &[u8; 8] = b"KMSACCK1";

/// The AccessKey file's container format version.
const ACCESS_KEYS_VERSION: u16 = 1;

/// Parses a 256-bit wrapping key from hex: 64 hex digits, upper or lower case (mixed too);
/// surrounding white space ignored. Decoded in constant time (`base16ct`).
pub fn parse_wrapping_key(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let text = text.trim().as_bytes();
    if text.len() != 64 {
        return None;
    }
    let mut key = Zeroizing::new([0u8; 32]);
    base16ct::mixed::decode(text, &mut key[..]).ok()?;
    Some(key)
}

/// Writes `bytes` to `path` atomically: a new temporary file in the same directory (created
/// with `O_CREAT | O_EXCL`, so an existing file or a planted symlink is never followed or
/// overwritten; mode 0600), written and fsynced, renamed over `path` (a rename replaces a
/// symlink at `path` rather than following it), then the directory fsynced. The temporary
/// file is removed when anything fails; [`remove_stale_temporaries`] removes those a crash
/// left behind.
///
/// # Errors
/// Any I/O error; `path` is then unchanged.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace_file(path, bytes, true)
}

/// As [`write_atomically`], without the fsyncs when `durable` is false: the file is replaced
/// atomically for every reader and survives a crash of the process, not necessarily a power
/// loss.
///
/// # Errors
/// Any I/O error; `path` is then unchanged.
pub fn replace_file(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let mut suffix = [0u8; 8];
    kms_core::rand_core::TryRng::try_fill_bytes(&mut kms_core::OsRng, &mut suffix)
        .map_err(|_| io::Error::other("the OS RNG failed"))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(
        "{TEMPORARY_MARK}{}-{:016x}",
        std::process::id(),
        u64::from_be_bytes(suffix)
    ));
    let tmp = dir.join(tmp_name);
    let mut created = false;
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        created = true;
        file.write_all(bytes)?;
        if durable {
            file.sync_all()?;
        }
        drop(file);
        fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        #[cfg(unix)]
        if durable {
            File::open(&dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() && created {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// What the name of a temporary file made by [`write_atomically`] has after the target's name.
const TEMPORARY_MARK: &str = ".tmp-";

/// Removes the temporary files that [`write_atomically`] left beside `path` when a crash cut
/// it short (`{name}.tmp-*`, regular files only; a symlink of that name is removed, never
/// followed). Returns how many went.
///
/// # Errors
/// An I/O error listing the directory.
pub fn remove_stale_temporaries(path: &Path) -> io::Result<usize> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Ok(0);
    };
    let prefix = format!("{name}{TEMPORARY_MARK}");
    let mut removed = 0;
    for entry in fs::read_dir(&dir)? {
        let entry = entry?;
        let stale = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(&prefix));
        if stale && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
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

/// An AccessKey pair as the AccessKey file and the store keep it (JSON).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct StoredAccessKey {
    pub(crate) access_key_id: String,
    pub(crate) access_key_secret: String,
    pub(crate) account: String,
}

impl StoredAccessKey {
    pub(crate) fn of(key: &AccessKey) -> Self {
        Self {
            access_key_id: key.id.clone(),
            access_key_secret: key.secret().to_owned(),
            account: key.account.clone(),
        }
    }

    pub(crate) fn into_access_key(self) -> AccessKey {
        AccessKey::new(self.access_key_id, self.access_key_secret, self.account)
    }
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
        let plain = container::open(ACCESS_KEYS_MAGIC, ACCESS_KEYS_VERSION, &self.key, &bytes)
            .map_err(|_| LoadError::AccessKeys)?;
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
        // The container's buffer has room for the body, so sealing never reallocates it (which
        // would leave an unwiped copy of the secrets behind).
        let mut buf = container::buffer(plain.len());
        buf.extend_from_slice(&plain);
        let sealed = container::seal(
            ACCESS_KEYS_MAGIC,
            ACCESS_KEYS_VERSION,
            &self.key,
            &mut kms_core::OsRng,
            buf,
        )
        .map_err(|e| io::Error::other(e.to_string()))?;
        write_atomically(&self.access_keys_path(), &sealed)
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
        // Upper, lower and mixed case alike.
        let upper = "AB".repeat(31) + "Cd";
        let key = parse_wrapping_key(&upper).unwrap();
        assert_eq!((key[0], key[31]), (0xab, 0xcd));
        assert!(parse_wrapping_key(&("g0".to_owned() + &hex[2..])).is_none());
        assert!(parse_wrapping_key(&(hex.clone() + "00")).is_none());
        assert!(parse_wrapping_key(&format!("{} {}", &hex[..32], &hex[32..])).is_none());
    }

    #[test]
    fn access_key_files_round_trip_and_refuse_tampering() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!("kms-ak-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let keyring = Keyring::new(dir.join("keyring"), Zeroizing::new([7u8; 32]));
        let keys = vec![
            AccessKey::new("LTAIone", "secret-one", "1111111111111111"),
            AccessKey::new("LTAItwo", "secret-two", "2222222222222222"),
        ];
        assert!(keyring.load_access_keys().unwrap().is_none());
        keyring.save_access_keys(&keys).unwrap();
        assert_eq!(keyring.load_access_keys().unwrap().unwrap(), keys);

        // The core's container framing: magic, version 1, then IV, sealed body and tag.
        let bytes = fs::read(keyring.access_keys_path()).unwrap();
        assert_eq!(&bytes[..10], b"KMSACCK1\x00\x01");
        assert!(!String::from_utf8_lossy(&bytes).contains("secret-one"));
        let body = container::open(ACCESS_KEYS_MAGIC, 1, &[7u8; 32], &bytes).unwrap();
        assert!(String::from_utf8_lossy(&body).contains("\"AccessKeySecret\":\"secret-one\""));

        // Another wrapping key, a flipped bit, a truncation: refused.
        let other = Keyring::new(dir.join("keyring"), Zeroizing::new([8u8; 32]));
        assert!(matches!(
            other.load_access_keys(),
            Err(LoadError::AccessKeys)
        ));
        let mut flipped = bytes.clone();
        flipped[30] ^= 1;
        fs::write(keyring.access_keys_path(), &flipped).unwrap();
        assert!(matches!(
            keyring.load_access_keys(),
            Err(LoadError::AccessKeys)
        ));
        fs::write(keyring.access_keys_path(), &bytes[..bytes.len() - 1]).unwrap();
        assert!(matches!(
            keyring.load_access_keys(),
            Err(LoadError::AccessKeys)
        ));
        let _ = fs::remove_dir_all(&dir);
    }
}
