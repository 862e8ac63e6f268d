//! The KMS-instance API's symmetric operations (`KMS-INSTANCE.md` §3), pure and typed: Encrypt,
//! Decrypt and GenerateDataKey with raw bytes, the caller's `Aad` as the associated data and the
//! `Iv` beside a `ciphertext || tag` blob; their Advance forms, whose blob names its key
//! version and carries its IV ([`blob::AdvanceBlob`]); and GenerateRandom. The asymmetric
//! operations (GetPublicKey, Sign, Verify, Encrypt and Decrypt with an asymmetric algorithm,
//! the GenerateDataKeyPair family) are in [`asymmetric`] (feature `asymmetric`).
//!
//! They take the request's fields as the wire has them (protobuf: absent and empty are the
//! same, so every field is a plain `&str`, `&[u8]` or `i32`, empty or zero when absent) and
//! check all of them here, so that every frontend answers alike. They run on the gateway
//! operations' path: the same resolution (ID, alias or ARN), permission, key-state and usage
//! checks, and the same provider seal with its budget. Only keys that the caller's instance
//! holds are found ([`Scope`]); a gateway key is `Forbidden.KeyNotFound` here.
//!
//! Each operation draws, in this order: the data key (GenerateDataKey), the IV (through the
//! provider, unless Encrypt was given one), and the request ID.
//!
//! Decisions where the SDKs are silent (recorded in `KMS-INSTANCE.md` and here):
//! - `Algorithm` empty or `AES_GCM`, anything else `InvalidParameter Algorithm`; `PaddingMode`
//!   is ignored and echoed empty.
//! - `Aad` at most 8192 bytes (`InvalidParameter Aad`); `Iv` empty or 12 bytes
//!   (`InvalidParameter Iv`); basic Decrypt without an `Iv` is `MissingParameter Iv`.
//! - A caller's `Iv` reaches the provider as the only bytes its RNG yields: the bundled
//!   providers seal with it; a provider that picks IVs itself uses its own, and the response
//!   reports the IV that was used.

#[cfg(feature = "asymmetric")]
pub mod asymmetric;
pub mod blob;

use alloc::vec::Vec;

use rand_core::TryCryptoRng;

use self::blob::MAX_CIPHERTEXT_LEN;
use self::blob::{ADVANCE_CIPHERTEXT_OFFSET, AdvanceBlob, BasicBlob};
use crate::authorize::Resolving;
use crate::blob::{IV_LEN, Iv, TAG_LEN, Tag};
use crate::provider::{CallerRng, SecureRandom};
use crate::{AuthorizedKey, Caller, Error, KeyId, KeyProvider, KeyReference, KeyVersionId};
use crate::{InstanceId, Parameter, Permission, RequestId, RngError, SecretBytesBuf};

/// The longest `Aad`.
pub const MAX_AAD_LEN: usize = 8192;

/// The longest data key GenerateDataKey makes, and the most bytes GenerateRandom returns.
pub const MAX_RANDOM_LEN: usize = 1024;

/// The data key's length when `NumberOfBytes` is absent (zero).
pub const DEFAULT_DATA_KEY_LEN: usize = 32;

/// The one algorithm this API seals with, as the wire names it.
pub const AES_GCM: &str = "AES_GCM";

/// Who asks, and through which instance: the client key's account and region, and the KMS
/// instance whose keys it may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope<'a> {
    /// The caller's account and region.
    pub caller: Caller<'a>,
    /// The instance whose keys the request may use.
    pub instance: InstanceId,
}

impl<'a> Scope<'a> {
    /// The scope of `caller` in `instance`.
    pub const fn new(caller: Caller<'a>, instance: InstanceId) -> Self {
        Self { caller, instance }
    }
}

/// Encrypt's (and AdvanceEncrypt's) fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EncryptParams<'a> {
    /// `KeyId` (required): an ID, alias or ARN.
    pub key_id: &'a str,
    /// `Plaintext` (required): 1 to 6144 bytes.
    pub plaintext: &'a [u8],
    /// `Algorithm`: empty or `AES_GCM`.
    pub algorithm: &'a str,
    /// `Aad`: at most 8192 bytes.
    pub aad: &'a [u8],
    /// `Iv`: empty (drawn) or 12 bytes.
    pub iv: &'a [u8],
    /// `PaddingMode`: ignored for AES_GCM.
    pub padding_mode: &'a str,
}

/// Decrypt's (and AdvanceDecrypt's) fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptParams<'a> {
    /// `CiphertextBlob` (required).
    pub ciphertext_blob: &'a [u8],
    /// `KeyId`: required for Decrypt; for AdvanceDecrypt, when given, it must name the key
    /// whose version sealed the blob.
    pub key_id: &'a str,
    /// `Algorithm`: empty or `AES_GCM`.
    pub algorithm: &'a str,
    /// `Aad`: the associated data of the seal.
    pub aad: &'a [u8],
    /// `Iv`: required for Decrypt; for AdvanceDecrypt, when given, it must be the blob's.
    pub iv: &'a [u8],
    /// `PaddingMode`: ignored for AES_GCM.
    pub padding_mode: &'a str,
    /// The signed `x-kms-migrationkeyversionid` request header (Decrypt): the version that
    /// sealed, when it is not the key's primary version. Ignored by AdvanceDecrypt.
    pub migration_key_version_id: Option<&'a str>,
}

/// GenerateDataKey's (and AdvanceGenerateDataKey's) fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateDataKeyParams<'a> {
    /// `KeyId` (required).
    pub key_id: &'a str,
    /// `Algorithm`: empty or `AES_GCM` (AdvanceGenerateDataKey has no such field: empty).
    pub algorithm: &'a str,
    /// `NumberOfBytes`: 1 to 1024, or 0 (absent) for 32.
    pub number_of_bytes: i32,
    /// `Aad`: at most 8192 bytes.
    pub aad: &'a [u8],
}

/// What Encrypt and AdvanceEncrypt return.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that sealed (the `x-kms-migrationkeyversionid` response header, and the
    /// Advance responses' `KeyVersionId`).
    pub key_version_id: KeyVersionId,
    /// `ciphertext || tag`, or the Advance blob.
    pub ciphertext_blob: Vec<u8>,
    /// The IV the seal used.
    pub iv: Iv,
    /// `AES_GCM`.
    pub algorithm: &'static str,
    /// Empty: AES_GCM has no padding.
    pub padding_mode: &'static str,
    /// The request ID.
    pub request_id: RequestId,
}

/// What Decrypt and AdvanceDecrypt return.
#[derive(Debug)]
pub struct DecryptResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that opened the blob.
    pub key_version_id: KeyVersionId,
    /// The plaintext. Zeroized on drop.
    pub plaintext: SecretBytesBuf,
    /// `AES_GCM`.
    pub algorithm: &'static str,
    /// Empty.
    pub padding_mode: &'static str,
    /// The request ID.
    pub request_id: RequestId,
}

/// What GenerateDataKey and AdvanceGenerateDataKey return.
#[derive(Debug)]
pub struct GenerateDataKeyResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that sealed.
    pub key_version_id: KeyVersionId,
    /// The IV the seal used.
    pub iv: Iv,
    /// The data key, raw. Zeroized on drop.
    pub plaintext: SecretBytesBuf,
    /// The data key sealed: `ciphertext || tag`, or the Advance blob.
    pub ciphertext_blob: Vec<u8>,
    /// `AES_GCM`.
    pub algorithm: &'static str,
    /// The request ID.
    pub request_id: RequestId,
}

/// What GenerateRandom returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenerateRandomResponse {
    /// `Length` random bytes.
    pub random: Vec<u8>,
    /// The request ID.
    pub request_id: RequestId,
}

/// Which blob form an operation reads or writes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Basic,
    Advance,
}

/// A required field: empty is absent.
fn required<T: ?Sized + IsEmpty>(value: &T, parameter: Parameter) -> Result<&T, Error> {
    if value.is_empty() {
        Err(Error::MissingParameter(parameter))
    } else {
        Ok(value)
    }
}

/// Emptiness of the wire's strings and byte strings.
trait IsEmpty {
    fn is_empty(&self) -> bool;
}

impl IsEmpty for str {
    fn is_empty(&self) -> bool {
        str::is_empty(self)
    }
}

impl IsEmpty for [u8] {
    fn is_empty(&self) -> bool {
        <[u8]>::is_empty(self)
    }
}

/// `Algorithm`: empty or `AES_GCM`.
fn algorithm(text: &str) -> Result<&'static str, Error> {
    match text {
        "" | AES_GCM => Ok(AES_GCM),
        _ => Err(Error::InvalidParameter(Parameter::Algorithm)),
    }
}

/// `Aad`: at most [`MAX_AAD_LEN`] bytes.
fn aad(bytes: &[u8]) -> Result<&[u8], Error> {
    if bytes.len() > MAX_AAD_LEN {
        Err(Error::InvalidParameter(Parameter::Aad))
    } else {
        Ok(bytes)
    }
}

/// `Iv`: empty (none) or exactly 12 bytes.
fn iv(bytes: &[u8]) -> Result<Option<Iv>, Error> {
    match bytes.len() {
        0 => Ok(None),
        IV_LEN => {
            let mut iv = [0u8; IV_LEN];
            iv.copy_from_slice(bytes);
            Ok(Some(Iv(iv)))
        }
        _ => Err(Error::InvalidParameter(Parameter::Iv)),
    }
}

/// `KeyId` (required): an ID, alias or ARN.
fn key_reference(text: &str) -> Result<KeyReference<'_>, Error> {
    KeyReference::parse(required(text, Parameter::KeyId)?, Parameter::KeyId)
}

/// A length field: 1 to [`MAX_RANDOM_LEN`], or `default` for zero when there is one.
fn length(value: i32, default: Option<usize>, parameter: Parameter) -> Result<usize, Error> {
    match (usize::try_from(value), default) {
        (Ok(0), Some(default)) => Ok(default),
        (Ok(n @ 1..=MAX_RANDOM_LEN), _) => Ok(n),
        _ => Err(Error::InvalidParameter(parameter)),
    }
}

/// Steps 2 to 4 for a key the instance holds: resolution, permission, state and usage.
fn authorize<P: KeyProvider + ?Sized>(
    provider: &P,
    scope: &Scope<'_>,
    resolving: Resolving<'_>,
    permission: Permission,
) -> Result<AuthorizedKey, Error> {
    let resolved = resolving.in_instance(&scope.instance).ask(provider)?;
    let granted = provider.permits(resolved.record(), &scope.caller, permission)?;
    resolved.permitted(granted, permission)?.check_usable()
}

/// The key a `KeyId` names, resolved without the permission and state checks (AdvanceDecrypt
/// compares it with the blob's key, whose checks are the ones that apply).
fn resolve_id<P: KeyProvider + ?Sized>(
    provider: &P,
    scope: &Scope<'_>,
    reference: &KeyReference<'_>,
) -> Result<KeyId, Error> {
    let resolved = Resolving::key(&scope.caller, reference)
        .in_instance(&scope.instance)
        .ask(provider)?;
    Ok(resolved.record().key_id)
}

/// An RNG that yields one caller-chosen IV and nothing else: how a caller's `Iv` reaches a
/// provider that draws its IV from the RNG it is given.
struct GivenIv(Option<Iv>);

impl SecureRandom for GivenIv {
    fn fill(&mut self, dest: &mut [u8]) -> Result<(), RngError> {
        match self.0.take() {
            Some(iv) if dest.len() == IV_LEN => {
                dest.copy_from_slice(&iv.0);
                Ok(())
            }
            _ => Err(RngError),
        }
    }
}

/// Seals `in_out` under `key` with `aad`, with the caller's IV when there is one, and returns
/// the IV used and the tag. `in_out` is wiped on failure.
fn seal<P, R>(
    provider: &P,
    key: &AuthorizedKey,
    aad: &[u8],
    in_out: &mut [u8],
    given: Option<Iv>,
    rng: &mut R,
) -> Result<(Iv, Tag), Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let sealed = match given {
        Some(iv) => provider.seal(key, aad, in_out, &mut GivenIv(Some(iv))),
        None => provider.seal(key, aad, in_out, &mut CallerRng(rng)),
    };
    sealed.map_err(|e| {
        zeroize::Zeroize::zeroize(in_out);
        Error::from(e)
    })
}

/// Seals `plaintext` under `key` into a new blob of `form`: the plaintext is copied once, to
/// its place in the blob, and sealed there. Returns the IV used and the blob.
fn seal_blob<P, R>(
    provider: &P,
    key: &AuthorizedKey,
    aad: &[u8],
    plaintext: &[u8],
    given: Option<Iv>,
    rng: &mut R,
    form: Form,
) -> Result<(Iv, Vec<u8>), Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let n = plaintext.len();
    let (start, len) = match form {
        Form::Basic => (0, n + TAG_LEN),
        Form::Advance => (ADVANCE_CIPHERTEXT_OFFSET, AdvanceBlob::len_for(n)),
    };
    let mut out = alloc::vec![0u8; len];
    let body = &mut out[start..start + n];
    body.copy_from_slice(plaintext);
    let (iv, tag) = seal(provider, key, aad, body, given, rng)?;
    match form {
        Form::Basic => out[n..].copy_from_slice(&tag.0),
        // The callers checked the length: a blob of this length always frames.
        Form::Advance => blob::frame_advance(&mut out, &key.version(), &iv, &tag)
            .map_err(|_| Error::InternalFailure(crate::Internal::Provider))?,
    }
    Ok((iv, out))
}

fn encrypt_as<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &EncryptParams<'_>,
    rng: &mut R,
    form: Form,
) -> Result<EncryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(params.key_id)?;
    let plaintext = required(params.plaintext, Parameter::Plaintext)?;
    if plaintext.len() > MAX_CIPHERTEXT_LEN {
        return Err(Error::InvalidParameter(Parameter::Plaintext));
    }
    let algorithm = algorithm(params.algorithm)?;
    let aad = aad(params.aad)?;
    let given = iv(params.iv)?;
    let key = authorize(
        provider,
        scope,
        Resolving::key(&scope.caller, &reference),
        Permission::Encrypt,
    )?;
    let (iv, ciphertext_blob) = seal_blob(provider, &key, aad, plaintext, given, rng, form)?;
    Ok(EncryptResponse {
        key_id: key.key_id(),
        key_version_id: key.version(),
        ciphertext_blob,
        iv,
        algorithm,
        padding_mode: "",
        request_id: RequestId::random(rng)?,
    })
}

/// Encrypt: `plaintext` sealed under the key's primary version with the caller's `Aad`; the
/// blob is `ciphertext || tag`, the IV beside it.
///
/// # Errors
/// `MissingParameter` `KeyId` or `Plaintext`; `InvalidParameter` `KeyId`, `Plaintext` (over
/// 6144 bytes), `Algorithm`, `Aad` or `Iv`; the resolution, permission and state errors
/// (`Forbidden.KeyNotFound` for a key the instance does not hold); a provider or RNG failure.
pub fn encrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &EncryptParams<'_>,
    rng: &mut R,
) -> Result<EncryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    encrypt_as(provider, scope, params, rng, Form::Basic)
}

/// AdvanceEncrypt: Encrypt with the Advance blob, which names the version and carries the IV.
///
/// # Errors
/// As [`encrypt`].
pub fn advance_encrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &EncryptParams<'_>,
    rng: &mut R,
) -> Result<EncryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    encrypt_as(provider, scope, params, rng, Form::Advance)
}

/// Opens `ciphertext` under `key` and returns the plaintext.
fn open<P: KeyProvider + ?Sized>(
    provider: &P,
    key: &AuthorizedKey,
    iv: &Iv,
    aad: &[u8],
    ciphertext: &[u8],
    tag: &Tag,
) -> Result<SecretBytesBuf, Error> {
    let mut body = SecretBytesBuf::new(ciphertext.to_vec());
    provider.open(key, iv, aad, body.expose_mut(), tag)?;
    Ok(body)
}

/// Decrypt: opens a `ciphertext || tag` blob under the key's primary version, or under the
/// version the migration header names (which must be a version of that key).
///
/// # Errors
/// `MissingParameter` `CiphertextBlob`, `KeyId` or `Iv`; `InvalidParameter` `CiphertextBlob`
/// (a blob that does not open, a malformed migration header, or one naming another key's
/// version), `KeyId`, `Algorithm`, `Aad` or `Iv`; `Forbidden.KeyNotFound` for a version no key
/// of the instance has; the resolution, permission and state errors; a provider failure.
pub fn decrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &DecryptParams<'_>,
    rng: &mut R,
) -> Result<DecryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let bytes = required(params.ciphertext_blob, Parameter::CiphertextBlob)?;
    let reference = key_reference(params.key_id)?;
    let algorithm = algorithm(params.algorithm)?;
    let aad = aad(params.aad)?;
    let iv = iv(params.iv)?.ok_or(Error::MissingParameter(Parameter::Iv))?;
    let blob = BasicBlob::decode(bytes).map_err(|_| invalid_blob)?;
    let migration = params
        .migration_key_version_id
        .map(|text| KeyVersionId::parse(text.as_bytes()).ok_or(invalid_blob))
        .transpose()?;
    let key = authorize(
        provider,
        scope,
        Resolving::key(&scope.caller, &reference),
        Permission::Decrypt,
    )?;
    let key = match &migration {
        None => key,
        Some(version) => {
            let sealer = authorize(
                provider,
                scope,
                Resolving::version(&scope.caller, version),
                Permission::Decrypt,
            )?;
            if sealer.key_id() != key.key_id() {
                return Err(invalid_blob);
            }
            sealer
        }
    };
    let plaintext = open(provider, &key, &iv, aad, blob.ciphertext, &blob.tag)?;
    Ok(DecryptResponse {
        key_id: key.key_id(),
        key_version_id: key.version(),
        plaintext,
        algorithm,
        padding_mode: "",
        request_id: RequestId::random(rng)?,
    })
}

/// AdvanceDecrypt: opens an Advance blob under the version it names. `KeyId` and `Iv`, when
/// given, must agree with the blob.
///
/// # Errors
/// `MissingParameter CiphertextBlob`; `InvalidParameter` `CiphertextBlob` (a blob that does
/// not parse or open, or a `KeyId` naming another key), `KeyId`, `Iv` (one that is not the
/// blob's), `Algorithm` or `Aad`; `Forbidden.KeyNotFound` for a version or `KeyId` no key of
/// the instance has; the permission and state errors; a provider failure.
pub fn advance_decrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &DecryptParams<'_>,
    rng: &mut R,
) -> Result<DecryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let bytes = required(params.ciphertext_blob, Parameter::CiphertextBlob)?;
    let reference = match params.key_id {
        "" => None,
        text => Some(KeyReference::parse(text, Parameter::KeyId)?),
    };
    let algorithm = algorithm(params.algorithm)?;
    let aad = aad(params.aad)?;
    let given = iv(params.iv)?;
    let blob = AdvanceBlob::decode(bytes).map_err(|_| invalid_blob)?;
    if given.is_some_and(|iv| iv != blob.iv) {
        return Err(Error::InvalidParameter(Parameter::Iv));
    }
    let named = match &reference {
        Some(reference) => Some(resolve_id(provider, scope, reference)?),
        None => None,
    };
    let key = authorize(
        provider,
        scope,
        Resolving::version(&scope.caller, &blob.version),
        Permission::Decrypt,
    )?;
    if named.is_some_and(|id| id != key.key_id()) {
        return Err(invalid_blob);
    }
    let plaintext = open(provider, &key, &blob.iv, aad, blob.ciphertext, &blob.tag)?;
    Ok(DecryptResponse {
        key_id: key.key_id(),
        key_version_id: key.version(),
        plaintext,
        algorithm,
        padding_mode: "",
        request_id: RequestId::random(rng)?,
    })
}

fn generate_as<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    form: Form,
) -> Result<GenerateDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(params.key_id)?;
    let algorithm = algorithm(params.algorithm)?;
    let len = length(
        params.number_of_bytes,
        Some(DEFAULT_DATA_KEY_LEN),
        Parameter::NumberOfBytes,
    )?;
    let aad = aad(params.aad)?;
    let key = authorize(
        provider,
        scope,
        Resolving::key(&scope.caller, &reference),
        Permission::GenerateDataKey,
    )?;
    let mut data_key = SecretBytesBuf::new(alloc::vec![0u8; len]);
    rng.try_fill_bytes(data_key.expose_mut())
        .map_err(|_| Error::from(RngError))?;
    let (iv, ciphertext_blob) = seal_blob(provider, &key, aad, data_key.expose(), None, rng, form)?;
    Ok(GenerateDataKeyResponse {
        key_id: key.key_id(),
        key_version_id: key.version(),
        iv,
        ciphertext_blob,
        plaintext: data_key,
        algorithm,
        request_id: RequestId::random(rng)?,
    })
}

/// GenerateDataKey: a fresh data key of `NumberOfBytes` (32 when absent), returned raw and
/// sealed (its raw bytes, not their Base64 as on the gateway) as `ciphertext || tag`, the IV
/// beside it.
///
/// # Errors
/// `MissingParameter KeyId`; `InvalidParameter` `KeyId`, `Algorithm`, `NumberOfBytes` (outside
/// 1..=1024) or `Aad`; the resolution, permission and state errors; a provider or RNG failure.
pub fn generate_data_key<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
) -> Result<GenerateDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    generate_as(provider, scope, params, rng, Form::Basic)
}

/// AdvanceGenerateDataKey: GenerateDataKey with the Advance blob.
///
/// # Errors
/// As [`generate_data_key`].
pub fn advance_generate_data_key<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
) -> Result<GenerateDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    generate_as(provider, scope, params, rng, Form::Advance)
}

/// GenerateRandom: `length` (1 to 1024) random bytes from `rng`, then the request ID.
///
/// # Errors
/// `InvalidParameter Length`; an RNG failure.
pub fn generate_random<R: TryCryptoRng + ?Sized>(
    length_field: i32,
    rng: &mut R,
) -> Result<GenerateRandomResponse, Error> {
    let len = length(length_field, None, Parameter::Length)?;
    let mut random = alloc::vec![0u8; len];
    rng.try_fill_bytes(&mut random)
        .map_err(|_| Error::from(RngError))?;
    Ok(GenerateRandomResponse {
        random,
        request_id: RequestId::random(rng)?,
    })
}
