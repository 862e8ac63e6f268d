//! Client keys (`KMS-INSTANCE.md` §2): the RSA key pairs the instance SDK signs its requests
//! with. The server issues them: it draws an RSA 2048 key pair, keeps the public key and the
//! key's scope (account, region, instance) in its store, and hands the private key out once,
//! as the SDK reads it:
//!
//! - `clientKey_{KeyId}.json`: `{"KeyId": "KAAP.{uuid}", "PrivateKeyData": "{base64 PKCS#12}"}`,
//! - `clientKey_{KeyId}_Password.txt`: the PKCS#12 password,
//!
//! both created 0600 with `O_EXCL` (an existing file or a symlink in the way is refused), in a
//! directory the operator names. The PKCS#12 holds one PKCS#8 shrouded key bag (PBES2:
//! PBKDF2-HMAC-SHA256 and AES-256-CBC) and an HMAC-SHA256 MAC (the PKCS#12 KDF), which
//! OpenSSL 1.1 and 3 (and so `pyOpenSSL`'s `load_pkcs12`, which the SDK calls) read. It holds no
//! certificate: the SDK does not use one.
//!
//! The private key, the password and the container are zeroized when dropped; the server
//! never logs them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Encoding};
use der::asn1::OctetString;
use der::{Any, Decode, Encode};
use hmac::{KeyInit, Mac};
use kms_core::rand_core::TryCryptoRng;
use pkcs12::cms::content_info::ContentInfo;
use pkcs12::kdf::{Pkcs12KeyType, derive_key_utf8};
use pkcs12::pfx::{Pfx, Version};
use pkcs12::{DigestInfo, MacData, SafeBag};
use rsa::pkcs8::spki::AlgorithmIdentifierOwned;
use rsa::pkcs8::{DecodePublicKey, EncodePrivateKey, EncodePublicKey, ObjectIdentifier};
use rsa::{PrivateKey, PublicKey};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The modulus size of the keys issued.
pub const KEY_BITS: usize = 2048;
/// PBKDF2 iterations of the shrouded key bag.
const PBKDF2_ITERATIONS: u32 = 10_000;
/// Iterations of the PKCS#12 MAC's key derivation.
const MAC_ITERATIONS: i32 = 2048;
/// `id-data` (PKCS#7).
const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
/// `id-sha256`.
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
/// The longest client key ID accepted in a request header.
pub const MAX_KEY_ID_LEN: usize = 128;

/// Why a client key could not be issued.
#[derive(Debug)]
pub struct IssueError(pub String);

impl std::fmt::Display for IssueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for IssueError {}

fn fail(what: impl std::fmt::Display) -> IssueError {
    IssueError(what.to_string())
}

/// What the server keeps of a client key: its ID, its public key and its scope.
#[derive(Clone)]
pub struct ClientKey {
    /// `KAAP.{uuid}`.
    pub key_id: String,
    /// The public key, SubjectPublicKeyInfo DER.
    pub public_key_der: Vec<u8>,
    /// The account its requests act for.
    pub account: String,
    /// The region.
    pub region: String,
    /// The instance it reaches (`kst-…`).
    pub instance: String,
    /// The public key as PKCS#1 `RSAPublicKey`, for `ring`'s verifier: `ring`'s RSA
    /// verification takes a fraction of the `rsa` crate's time, and every request pays one.
    verifying_key: ring_signature::signature::UnparsedPublicKey<Vec<u8>>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKey")
            .field("key_id", &self.key_id)
            .field("account", &self.account)
            .field("region", &self.region)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// The stored form of a [`ClientKey`] (JSON, sealed in the store's `client_keys` table).
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Stored {
    key_id: String,
    public_key: String,
    account: String,
    region: String,
    instance: String,
}

impl ClientKey {
    /// A client key from its parts; `None` when the public key is not an RSA
    /// SubjectPublicKeyInfo.
    pub fn new(
        key_id: String,
        public_key_der: Vec<u8>,
        account: String,
        region: String,
        instance: String,
    ) -> Option<Self> {
        let public = PublicKey::from_public_key_der(&public_key_der).ok()?;
        let pkcs1 = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_der(&public).ok()?;
        Some(Self {
            key_id,
            public_key_der,
            account,
            region,
            instance,
            verifying_key: ring_signature::signature::UnparsedPublicKey::new(
                &ring_signature::signature::RSA_PKCS1_2048_8192_SHA256,
                pkcs1.as_bytes().to_vec(),
            ),
        })
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 signature with SHA-256 of
    /// `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        self.verifying_key.verify(message, signature).is_ok()
    }

    /// The stored form (JSON).
    ///
    /// # Errors
    /// None in practice (serialization of strings).
    pub fn to_json(&self) -> Result<Vec<u8>, IssueError> {
        serde_json::to_vec(&Stored {
            key_id: self.key_id.clone(),
            public_key: Base64::encode_string(&self.public_key_der),
            account: self.account.clone(),
            region: self.region.clone(),
            instance: self.instance.clone(),
        })
        .map_err(fail)
    }

    /// The client key of its stored form; `None` when it does not parse.
    pub fn from_json(json: &[u8]) -> Option<Self> {
        let stored: Stored = serde_json::from_slice(json).ok()?;
        let der = Base64::decode_vec(&stored.public_key).ok()?;
        Self::new(
            stored.key_id,
            der,
            stored.account,
            stored.region,
            stored.instance,
        )
    }
}

/// A client key just made: what the server keeps, and what the client gets (once).
pub struct Issued {
    /// What the server keeps.
    pub key: ClientKey,
    /// The PKCS#12 container of the private key.
    pub pkcs12: Zeroizing<Vec<u8>>,
    /// Its password.
    pub password: Zeroizing<String>,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Where an issued client key's files were written.
#[derive(Clone, Debug)]
pub struct KeyFiles {
    /// The client-key JSON file.
    pub json: PathBuf,
    /// The password file.
    pub password: PathBuf,
}

/// Makes a client key for `account` in `region` and `instance`: an RSA 2048 key pair, its ID
/// (`KAAP.` and a random UUID) and a random password (32 hex digits), and the PKCS#12 container
/// of the private key under that password.
///
/// # Errors
/// The RNG failed, or the encoding did (neither happens in practice).
pub fn issue<R: TryCryptoRng>(
    rng: &mut R,
    account: &str,
    region: &str,
    instance: &str,
) -> Result<Issued, IssueError> {
    let mut id = [0u8; 16];
    rng.try_fill_bytes(&mut id)
        .map_err(|_| fail("the RNG failed"))?;
    id[6] = (id[6] & 0x0f) | 0x40;
    id[8] = (id[8] & 0x3f) | 0x80;
    let hex = crate::auth::hex(&id);
    let key_id = format!(
        "KAAP.{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let mut secret = Zeroizing::new([0u8; 16]);
    rng.try_fill_bytes(secret.as_mut())
        .map_err(|_| fail("the RNG failed"))?;
    let password = Zeroizing::new(crate::auth::hex(secret.as_ref()));

    let private = PrivateKey::new(rng, KEY_BITS).map_err(|e| fail(format!("RSA: {e}")))?;
    let public_der = private
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| fail(format!("encoding the public key: {e}")))?;
    let pkcs8 = private
        .to_pkcs8_der()
        .map_err(|e| fail(format!("encoding the private key: {e}")))?;
    let pkcs12 = pkcs12_of(rng, pkcs8.as_bytes(), &password)?;
    let key = ClientKey::new(
        key_id,
        public_der.as_bytes().to_vec(),
        account.to_owned(),
        region.to_owned(),
        instance.to_owned(),
    )
    .ok_or_else(|| fail("the public key does not parse back"))?;
    Ok(Issued {
        key,
        pkcs12,
        password,
    })
}

/// A PKCS#12 (RFC 7292) container of the PKCS#8 private key `pkcs8` under `password`: one
/// shrouded key bag (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC) in an unencrypted `data`
/// SafeContents, and an HMAC-SHA256 MAC over the AuthenticatedSafe.
///
/// # Errors
/// The RNG failed, or the encoding did.
pub fn pkcs12_of<R: TryCryptoRng>(
    rng: &mut R,
    pkcs8: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, IssueError> {
    let der_fail = |e: der::Error| fail(format!("PKCS#12 encoding: {e}"));
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    let mut mac_salt = [0u8; 16];
    for buf in [&mut salt, &mut iv, &mut mac_salt] {
        rng.try_fill_bytes(buf)
            .map_err(|_| fail("the RNG failed"))?;
    }
    let params = rsa::pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
        PBKDF2_ITERATIONS,
        &salt,
        iv,
    )
    .map_err(|e| fail(format!("PBES2: {e}")))?;
    let info =
        rsa::pkcs8::PrivateKeyInfoRef::try_from(pkcs8).map_err(|e| fail(format!("PKCS#8: {e}")))?;
    let shrouded = info
        .encrypt_with_params(params, password.as_bytes())
        .map_err(|e| fail(format!("PBES2: {e}")))?;

    let bag = SafeBag {
        bag_id: pkcs12::PKCS_12_PKCS8_KEY_BAG_OID,
        bag_value: shrouded.as_bytes().to_vec(),
        bag_attributes: None,
    };
    let safe_contents = vec![bag].to_der().map_err(der_fail)?;
    let data = |bytes: Vec<u8>| -> Result<ContentInfo, IssueError> {
        Ok(ContentInfo {
            content_type: ID_DATA,
            content: Any::encode_from(&OctetString::new(bytes).map_err(der_fail)?)
                .map_err(der_fail)?,
        })
    };
    let auth_safe = vec![data(safe_contents)?].to_der().map_err(der_fail)?;

    let mac_key = Zeroizing::new(
        derive_key_utf8::<Sha256>(password, &mac_salt, Pkcs12KeyType::Mac, MAC_ITERATIONS, 32)
            .map_err(der_fail)?,
    );
    let mut mac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&mac_key).map_err(|_| fail("HMAC key"))?;
    mac.update(&auth_safe);
    let digest = mac.finalize().into_bytes().to_vec();

    let pfx = Pfx {
        version: Version::V3,
        auth_safe: data(auth_safe)?,
        mac_data: Some(MacData {
            mac: DigestInfo {
                algorithm: AlgorithmIdentifierOwned {
                    oid: ID_SHA256,
                    parameters: Some(Any::null()),
                },
                digest: OctetString::new(digest).map_err(der_fail)?,
            },
            mac_salt: OctetString::new(mac_salt.to_vec()).map_err(der_fail)?,
            iterations: MAC_ITERATIONS,
        }),
    };
    Ok(Zeroizing::new(pfx.to_der().map_err(der_fail)?))
}

/// The file names of client key `key_id` in `dir`.
pub fn key_files(dir: &Path, key_id: &str) -> KeyFiles {
    KeyFiles {
        json: dir.join(format!("clientKey_{key_id}.json")),
        password: dir.join(format!("clientKey_{key_id}_Password.txt")),
    }
}

/// Writes `bytes` to a new file at `path`, 0600, refusing an existing file or symlink
/// (`O_EXCL`), and fsyncs it.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes an issued key's client-key JSON file and password file into `dir` (made if
/// missing), each 0600 and new (`O_EXCL`), fsynced with the directory. Call it only once the
/// store holds the key ([`crate::store::Store::put_client_key`]).
///
/// # Errors
/// An I/O error; a file left half written is removed.
pub fn write_files(dir: &Path, issued: &Issued) -> std::io::Result<KeyFiles> {
    std::fs::create_dir_all(dir)?;
    let files = key_files(dir, &issued.key.key_id);
    // The ID is `KAAP.` and a UUID, the data Base64: nothing to escape in either.
    let data = Zeroizing::new(Base64::encode_string(&issued.pkcs12));
    let json = Zeroizing::new(format!(
        "{{\"KeyId\": \"{}\", \"PrivateKeyData\": \"{}\"}}",
        issued.key.key_id,
        data.as_str()
    ));
    if let Err(e) = write_new(&files.json, json.as_bytes()) {
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(&files.json);
        }
        return Err(e);
    }
    if let Err(e) = write_new(&files.password, issued.password.as_bytes()) {
        let _ = std::fs::remove_file(&files.json);
        if e.kind() != std::io::ErrorKind::AlreadyExists {
            let _ = std::fs::remove_file(&files.password);
        }
        return Err(e);
    }
    std::fs::File::open(dir)?.sync_all()?;
    Ok(files)
}

/// The private key of a client-key file pair as the server writes them (the JSON file and
/// the password file): the PKCS#12 container opened with the password, its MAC checked and the
/// shrouded key bag decrypted, as the SDK's loader does. For tools (`kms-load`) and tests.
///
/// # Errors
/// A file that cannot be read, or a container that is not one this server writes.
pub fn read_key_files(
    json_path: &Path,
    password_path: &Path,
) -> Result<(String, PrivateKey), IssueError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct File {
        key_id: String,
        private_key_data: String,
    }
    let json = Zeroizing::new(std::fs::read(json_path).map_err(fail)?);
    let mut file: File = serde_json::from_slice(&json).map_err(fail)?;
    let data = Zeroizing::new(std::mem::take(&mut file.private_key_data));
    let pkcs12 = Zeroizing::new(Base64::decode_vec(&data).map_err(fail)?);
    let password = Zeroizing::new(std::fs::read_to_string(password_path).map_err(fail)?);
    let key = open_pkcs12(&pkcs12, password.trim())?;
    Ok((file.key_id, key))
}

/// The private key in a PKCS#12 container as [`pkcs12_of`] writes it.
///
/// # Errors
/// The MAC does not verify (a wrong password), or the container is not of that form.
pub fn open_pkcs12(pkcs12: &[u8], password: &str) -> Result<PrivateKey, IssueError> {
    use rsa::pkcs8::DecodePrivateKey;
    let der_fail = |e: der::Error| fail(format!("PKCS#12: {e}"));
    let octets = |content: &Any| -> Result<Vec<u8>, IssueError> {
        let der = content.to_der().map_err(der_fail)?;
        Ok(OctetString::from_der(&der)
            .map_err(der_fail)?
            .into_bytes()
            .into_vec())
    };
    let pfx = Pfx::from_der(pkcs12).map_err(der_fail)?;
    if pfx.auth_safe.content_type != ID_DATA {
        return Err(fail("PKCS#12: the AuthenticatedSafe is not data"));
    }
    let auth_safe = octets(&pfx.auth_safe.content)?;
    let mac = pfx.mac_data.ok_or_else(|| fail("PKCS#12: no MAC"))?;
    if mac.mac.algorithm.oid != ID_SHA256 || !(1..=1_000_000).contains(&mac.iterations) {
        return Err(fail("PKCS#12: not an HMAC-SHA256 MAC"));
    }
    let mac_key = Zeroizing::new(
        derive_key_utf8::<Sha256>(
            password,
            mac.mac_salt.as_bytes(),
            Pkcs12KeyType::Mac,
            mac.iterations,
            32,
        )
        .map_err(der_fail)?,
    );
    let mut hmac =
        <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&mac_key).map_err(|_| fail("HMAC key"))?;
    hmac.update(&auth_safe);
    hmac.verify_slice(mac.mac.digest.as_bytes())
        .map_err(|_| fail("PKCS#12: the MAC does not verify (wrong password?)"))?;
    for safe in Vec::<ContentInfo>::from_der(&auth_safe).map_err(der_fail)? {
        if safe.content_type != ID_DATA {
            continue;
        }
        for bag in Vec::<SafeBag>::from_der(&octets(&safe.content)?).map_err(der_fail)? {
            if bag.bag_id != pkcs12::PKCS_12_PKCS8_KEY_BAG_OID {
                continue;
            }
            // The decoder keeps the bag value's `[0] EXPLICIT` wrapper.
            let wrapped = Any::from_der(&bag.bag_value).map_err(der_fail)?;
            let encrypted = rsa::pkcs8::EncryptedPrivateKeyInfoRef::from_der(wrapped.value())
                .map_err(der_fail)?;
            let pkcs8 = encrypted
                .decrypt(password.as_bytes())
                .map_err(|e| fail(format!("PKCS#12: the key bag does not open: {e}")))?;
            return PrivateKey::from_pkcs8_der(pkcs8.as_bytes())
                .map_err(|e| fail(format!("PKCS#8: {e}")));
        }
    }
    Err(fail("PKCS#12: no shrouded key bag"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_container_opens_with_its_password_only() {
        let issued = issue(&mut kms_core::OsRng, "1", "r", "kst-x").unwrap();
        let key = open_pkcs12(&issued.pkcs12, &issued.password).unwrap();
        let public = key.to_public_key().to_public_key_der().unwrap();
        assert_eq!(public.as_bytes(), issued.key.public_key_der.as_slice());
        assert!(open_pkcs12(&issued.pkcs12, "not the password").is_err());
        let mut flipped = issued.pkcs12.to_vec();
        let last = flipped.len() - 40;
        flipped[last] ^= 1;
        assert!(open_pkcs12(&flipped, &issued.password).is_err());
        assert!(issued.key.key_id.starts_with("KAAP."));
        assert_eq!(issued.key.key_id.len(), 5 + 36);
        assert_eq!(issued.password.len(), 32);
    }
}
