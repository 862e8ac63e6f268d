//! Bring your own key (with the `rsa` feature): GetParametersForImport and ImportKeyMaterial
//! with material wrapped under an RSA public key, as Alibaba's import works.
//!
//! 1. [`get_parameters_for_import`] draws a fresh RSA-2048 key pair from the caller's RNG and
//!    answers its public key (`PublicKey`: Base64 of the DER `SubjectPublicKeyInfo`, what
//!    `openssl pkeyutl -pubin -keyform DER` and Java's `X509EncodedKeySpec` read) with an
//!    `ImportToken` valid for [`TOKEN_VALIDITY`] (24 hours, `TokenExpireTime`).
//! 2. The caller wraps its 16- or 32-byte material with that public key and the
//!    [`WrappingAlgorithm`] it named (RSAES-OAEP with SHA-256 or SHA-1, or RSAES-PKCS1-v1_5).
//! 3. [`import_wrapped_key_material`] opens the token, unwraps the material with the token's
//!    private key and algorithm, and imports it (see [`super::import_key_material`]: the first
//!    material imported into a key is the only material it ever takes).
//!
//! **The token is stateless.** Nothing is stored between the two calls: the token *is* the
//! private key, sealed. Its body (the key ID, the wrapping algorithm, the expiry and the
//! private key as PKCS#8 DER) is sealed with AES-256-GCM under an [`ImportTokenKey`] the
//! frontend holds ([`crate::container`], magic `KMSIMTOK`, version 1), then Base64-encoded. A
//! token that does not open (malformed, altered, sealed under another token key) or names
//! another key is `InvalidImportToken`; one past its expiry is `ExpiredImportToken` (both 400,
//! Alibaba's public error codes). A frontend that keeps its token key across restarts keeps its
//! tokens valid across them.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey};
use rsa::{Oaep, Pkcs1v15Encrypt, PrivateKey as RsaPrivateKey};
use zeroize::{Zeroize, Zeroizing};

use super::{KeyStore, Staged, owned, stage_import};
use crate::lifecycle::{Change, transition};
use crate::wire::required;
use crate::{Caller, Error, KeyId, KeyOrigin, KeyReference, MasterKeyMaterial, Parameter};

/// How long an ImportToken and its public key are valid: 24 hours (Alibaba:
/// "The token is valid for 24 hours").
pub const TOKEN_VALIDITY: Duration = Duration::from_secs(24 * 3600);

/// The most characters of an `ImportToken` read (a token this crate makes has about 1,750).
pub const MAX_IMPORT_TOKEN_CHARS: usize = 4096;

/// The most characters of an `EncryptedKeyMaterial` read: Base64 of an RSA-2048 ciphertext
/// is 344.
pub const MAX_ENCRYPTED_KEY_MATERIAL_CHARS: usize = 1024;

/// The size of the wrapping key pair, in bits.
const RSA_BITS: usize = 2048;

/// The token container's magic and format version.
const TOKEN_MAGIC: &[u8; 8] = b"KMSIMTOK";
const TOKEN_VERSION: u16 = 1;

/// How the caller wraps its material (`WrappingAlgorithm`), the RSA_2048 algorithms of
/// Alibaba's table. `SM2PKE` (with the `EC_SM2` wrapping key spec, which Alibaba offers only
/// for HSM-protected keys in some regions) is not modelled: `InvalidParameter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrappingAlgorithm {
    /// `RSAES_OAEP_SHA_256`: OAEP, SHA-256 and MGF1 with SHA-256, empty label.
    RsaesOaepSha256,
    /// `RSAES_OAEP_SHA_1`: OAEP, SHA-1 and MGF1 with SHA-1, empty label.
    RsaesOaepSha1,
    /// `RSAES_PKCS1_V1_5`: PKCS #1 v1.5 encryption padding.
    RsaesPkcs1V15,
}

impl WrappingAlgorithm {
    /// Every algorithm, in Alibaba's order.
    pub const ALL: [WrappingAlgorithm; 3] = [
        WrappingAlgorithm::RsaesPkcs1V15,
        WrappingAlgorithm::RsaesOaepSha1,
        WrappingAlgorithm::RsaesOaepSha256,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            WrappingAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            WrappingAlgorithm::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
        }
    }

    /// The algorithm named `name` (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    const fn code(self) -> u8 {
        match self {
            WrappingAlgorithm::RsaesOaepSha256 => 1,
            WrappingAlgorithm::RsaesOaepSha1 => 2,
            WrappingAlgorithm::RsaesPkcs1V15 => 3,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.code() == code)
    }
}

/// The wrapping key's spec (`WrappingKeySpec`): `RSA_2048`, the one RSA spec Alibaba offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrappingKeySpec {
    /// `RSA_2048`.
    Rsa2048,
}

impl WrappingKeySpec {
    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            WrappingKeySpec::Rsa2048 => "RSA_2048",
        }
    }

    /// The spec named `name` (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        (name == "RSA_2048").then_some(WrappingKeySpec::Rsa2048)
    }
}

/// The secret that seals ImportTokens: 32 bytes, zeroized on drop, never printed. A frontend
/// keeps one (derived from its store's wrapping key, so tokens survive a restart, or drawn at
/// start).
#[derive(Clone)]
pub struct ImportTokenKey(Zeroizing<[u8; 32]>);

impl ImportTokenKey {
    /// A token key of these bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// A fresh token key from `rng`.
    ///
    /// # Errors
    /// `InternalFailure` when the RNG fails.
    pub fn random<R: TryCryptoRng + ?Sized>(rng: &mut R) -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.try_fill_bytes(&mut bytes[..])
            .map_err(|_| crate::RngError)?;
        Ok(Self(bytes))
    }
}

impl fmt::Debug for ImportTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportTokenKey([REDACTED])")
    }
}

/// What GetParametersForImport answers.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportParameters {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The `ImportToken` (Base64).
    pub import_token: String,
    /// The `PublicKey`: Base64 of the DER `SubjectPublicKeyInfo` of the wrapping key.
    pub public_key: String,
    /// When the token expires (`TokenExpireTime`), since the Unix epoch.
    pub token_expires: Duration,
}

/// `WrappingAlgorithm` and `WrappingKeySpec` (both required), checked in that order.
/// **\[decided\]** `SM2PKE` and `EC_SM2` (not modelled) are invalid like any unknown name, and
/// so is an algorithm that does not go with the spec.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter` `WrappingAlgorithm` or `WrappingKeySpec`.
pub fn wrapping_params(
    algorithm: Option<&str>,
    spec: Option<&str>,
) -> Result<(WrappingAlgorithm, WrappingKeySpec), Error> {
    let algorithm =
        WrappingAlgorithm::from_name(required(algorithm, Parameter::WrappingAlgorithm)?)
            .ok_or(Error::InvalidParameter(Parameter::WrappingAlgorithm))?;
    let spec = WrappingKeySpec::from_name(required(spec, Parameter::WrappingKeySpec)?)
        .ok_or(Error::InvalidParameter(Parameter::WrappingKeySpec))?;
    Ok((algorithm, spec))
}

/// `EncryptedKeyMaterial` (required): canonical Base64, at most
/// [`MAX_ENCRYPTED_KEY_MATERIAL_CHARS`] characters, not empty. What it decodes to is checked
/// when it is unwrapped.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter EncryptedKeyMaterial`.
pub fn encrypted_key_material(text: Option<&str>) -> Result<Vec<u8>, Error> {
    let invalid = Error::InvalidParameter(Parameter::EncryptedKeyMaterial);
    let text = required(text, Parameter::EncryptedKeyMaterial)?;
    if text.is_empty() || text.len() > MAX_ENCRYPTED_KEY_MATERIAL_CHARS {
        return Err(invalid);
    }
    Base64::decode_vec(text).map_err(|_| invalid)
}

/// `ImportToken` (required). **\[decided\]** Its content is checked when it is opened
/// (`InvalidImportToken`), after the key is found, so a malformed token and one of another key
/// answer alike; only an absent one is a parameter error.
///
/// # Errors
/// `MissingParameter ImportToken`.
pub fn import_token(text: Option<&str>) -> Result<&str, Error> {
    required(text, Parameter::ImportToken)
}

/// `KeyMaterialExpireUnix`: seconds since the Unix epoch when the material expires; absent or
/// `0`: never (Alibaba: "If this parameter is not specified or set this parameter to 0, the key
/// material does not expire"). It must be after `now` ("The value cannot be earlier than the
/// time when the operation is called"). **\[decided\]** ASCII digits only, at most 12, and at
/// most 253402300799 (9999-12-31T23:59:59Z); a time at or before `now` is invalid.
///
/// # Errors
/// `InvalidParameter KeyMaterialExpireUnix`.
pub fn key_material_expire_unix(
    text: Option<&str>,
    now: Duration,
) -> Result<Option<Duration>, Error> {
    let invalid = Error::InvalidParameter(Parameter::KeyMaterialExpireUnix);
    let Some(text) = text else {
        return Ok(None);
    };
    if text.is_empty() || text.len() > 12 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid);
    }
    let secs: u64 = text.parse().map_err(|_| invalid)?;
    if secs == 0 {
        return Ok(None);
    }
    let at = Duration::from_secs(secs);
    if secs > 253_402_300_799 || at <= now {
        return Err(invalid);
    }
    Ok(Some(at))
}

/// A wrapping key pair for one GetParametersForImport: an RSA key of its spec's size, drawn
/// from the caller's RNG. Generating one takes milliseconds of one core (RSA-2048 key
/// generation), so a frontend makes it before taking any lock, and
/// [`get_parameters_for_import`] only seals it into a token. The private key is zeroized on
/// drop and not shown by `Debug`.
pub struct WrappingKeyPair {
    spec: WrappingKeySpec,
    private: RsaPrivateKey,
}

impl WrappingKeyPair {
    /// A fresh key pair of `spec` from `rng`.
    ///
    /// # Errors
    /// `InternalFailure` when the RNG fails.
    pub fn generate<R: TryCryptoRng + ?Sized>(
        spec: WrappingKeySpec,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let WrappingKeySpec::Rsa2048 = spec;
        let private = RsaPrivateKey::new(rng, RSA_BITS)
            .map_err(|_| Error::InternalFailure(crate::Internal::Rng))?;
        Ok(Self { spec, private })
    }

    /// The spec it was made for.
    pub fn spec(&self) -> WrappingKeySpec {
        self.spec
    }
}

impl fmt::Debug for WrappingKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrappingKeyPair")
            .field("spec", &self.spec)
            .field("private", &"[REDACTED]")
            .finish()
    }
}

/// GetParametersForImport: for key `key` (an `EXTERNAL` key the caller owns, pending import,
/// or Enabled or Disabled for a re-import of its material), the public key of `pair` and an
/// ImportToken valid for [`TOKEN_VALIDITY`] from `now`, holding `pair`'s private key sealed
/// under `token_key` (the seal's IV from `rng`). Nothing is staged: the token carries
/// everything [`import_wrapped_key_material`] needs.
///
/// # Errors
/// Key resolution errors; `Unsupported.Origin` for a key whose origin is not `EXTERNAL`;
/// `Rejected.StateModifiedFailed` in a state that takes no import (PendingDeletion; Enabled or
/// Disabled without material); `InternalFailure` when the RNG fails.
#[allow(clippy::too_many_arguments)]
pub fn get_parameters_for_import<S, R>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    algorithm: WrappingAlgorithm,
    pair: &WrappingKeyPair,
    token_key: &ImportTokenKey,
    rng: &mut R,
    now: Duration,
) -> Result<ImportParameters, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = owned(store, caller, key, now)?;
    if key.origin != KeyOrigin::External {
        return Err(Error::UnsupportedOrigin);
    }
    transition(&key.lifecycle(), Change::ImportMaterial { spec: key.spec })?;
    let internal = || Error::InternalFailure(crate::Internal::Rng);
    let private = &pair.private;
    let public = private
        .to_public_key()
        .to_public_key_der()
        .map_err(|_| internal())?;
    let der = private.to_pkcs8_der().map_err(|_| internal())?;
    let der = der.as_bytes();
    let token_expires = now.saturating_add(TOKEN_VALIDITY);
    let id = key.key_id.as_str().as_bytes();
    let mut buf = crate::container::buffer(1 + 8 + 1 + id.len() + der.len());
    buf.push(algorithm.code());
    buf.extend_from_slice(&token_expires.as_secs().to_be_bytes());
    buf.push(u8::try_from(id.len()).map_err(|_| internal())?);
    buf.extend_from_slice(id);
    buf.extend_from_slice(der);
    let sealed = crate::container::seal(TOKEN_MAGIC, TOKEN_VERSION, &token_key.0, rng, buf)?;
    Ok(ImportParameters {
        key_id: key.key_id,
        import_token: Base64::encode_string(&sealed),
        public_key: Base64::encode_string(public.as_bytes()),
        token_expires,
    })
}

/// An opened token: what it was made for, and the private key.
struct OpenedToken {
    key_id: KeyId,
    algorithm: WrappingAlgorithm,
    expires: Duration,
    private: RsaPrivateKey,
}

/// Opens `token` under `token_key`. Never panics; any token that is not one this key sealed is
/// `InvalidImportToken`.
fn open_token(token: &str, token_key: &ImportTokenKey) -> Result<OpenedToken, Error> {
    let invalid = Error::InvalidImportToken;
    if token.is_empty() || token.len() > MAX_IMPORT_TOKEN_CHARS {
        return Err(invalid);
    }
    let sealed = Base64::decode_vec(token).map_err(|_| invalid)?;
    let body = crate::container::open(TOKEN_MAGIC, TOKEN_VERSION, &token_key.0, &sealed)
        .map_err(|_| invalid)?;
    let (&code, rest) = body.split_first().ok_or(invalid)?;
    let algorithm = WrappingAlgorithm::from_code(code).ok_or(invalid)?;
    let (secs, rest) = rest.split_at_checked(8).ok_or(invalid)?;
    let mut be = [0u8; 8];
    be.copy_from_slice(secs);
    let expires = Duration::from_secs(u64::from_be_bytes(be));
    let (&id_len, rest) = rest.split_first().ok_or(invalid)?;
    let (id, der) = rest.split_at_checked(usize::from(id_len)).ok_or(invalid)?;
    let key_id = core::str::from_utf8(id)
        .ok()
        .and_then(KeyId::parse)
        .ok_or(invalid)?;
    let private = RsaPrivateKey::from_pkcs8_der(der).map_err(|_| invalid)?;
    Ok(OpenedToken {
        key_id,
        algorithm,
        expires,
        private,
    })
}

/// ImportKeyMaterial with wrapped material: `wrapped` (the decoded `EncryptedKeyMaterial`)
/// unwrapped with the private key and algorithm of `token` (made by
/// [`get_parameters_for_import`] for this key, under `token_key`), and imported into key `key`
/// as [`super::import_key_material`] does; it expires at `expires` when given
/// ([`key_material_expire_unix`] checks it against `now`). `rng` blinds the RSA decryption.
///
/// Checked in this order: the key (resolution, ownership), its origin, its state, the token
/// (opens, names this key, has not expired), the material (unwraps, has the key's length, is
/// the key's material if it ever had one).
///
/// **\[decided\]** Every problem with the material itself (it does not unwrap, its length is
/// not the key's, it is not the material first imported) is one answer, `InvalidKeyMaterial`
/// (Alibaba's public error code for invalid key material), so the answer tells nothing about
/// the padding. RSAES-PKCS1-v1_5 is unwrapped with implicit rejection (the `rsa` crate's): a
/// ciphertext with bad padding unwraps to pseudorandom bytes instead of an error, which avoids
/// a padding oracle but means such a ciphertext is refused for its length or check value, and
/// in the rare case that its pseudorandom plaintext has the key's length, imported into a key
/// that never had material. Prefer the OAEP algorithms.
///
/// # Errors
/// Key resolution errors; `Unsupported.Origin`; `Rejected.StateModifiedFailed`;
/// `InvalidImportToken`, `ExpiredImportToken`; `InvalidKeyMaterial`.
#[allow(clippy::too_many_arguments)]
pub fn import_wrapped_key_material<S, R>(
    store: &S,
    caller: &Caller<'_>,
    key: &KeyReference<'_>,
    wrapped: &[u8],
    token: &str,
    expires: Option<Duration>,
    token_key: &ImportTokenKey,
    rng: &mut R,
    now: Duration,
) -> Result<Staged<()>, Error>
where
    S: KeyStore + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = owned(store, caller, key, now)?;
    if key.origin != KeyOrigin::External {
        return Err(Error::UnsupportedOrigin);
    }
    transition(&key.lifecycle(), Change::ImportMaterial { spec: key.spec })?;
    let token = open_token(token, token_key)?;
    if token.key_id != key.key_id {
        return Err(Error::InvalidImportToken);
    }
    if token.expires <= now {
        return Err(Error::ExpiredImportToken);
    }
    let unwrapped = match token.algorithm {
        WrappingAlgorithm::RsaesOaepSha256 => {
            token
                .private
                .decrypt_blinded(rng, Oaep::<sha2::Sha256>::new(), wrapped)
        }
        WrappingAlgorithm::RsaesOaepSha1 => {
            token
                .private
                .decrypt_blinded(rng, Oaep::<sha1::Sha1>::new(), wrapped)
        }
        WrappingAlgorithm::RsaesPkcs1V15 => {
            token.private.decrypt_blinded(rng, Pkcs1v15Encrypt, wrapped)
        }
    };
    let mut unwrapped = unwrapped.map_err(|_| Error::InvalidKeyMaterial)?;
    let material = MasterKeyMaterial::from_slice(&unwrapped);
    unwrapped.zeroize();
    let material = material
        .filter(|m| m.spec() == key.spec)
        .ok_or(Error::InvalidKeyMaterial)?;
    stage_import(store, &key, material, expires)
}
