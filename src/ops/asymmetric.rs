//! The asymmetric operations (feature `asymmetric`): **GetPublicKey**, **AsymmetricSign**,
//! **AsymmetricVerify**, **AsymmetricEncrypt** and **AsymmetricDecrypt**, typed and from text
//! parameters (the `*_wire` functions), as Alibaba's gateway (API 2016-01-20) answers them.
//!
//! The private key never leaves the provider ([`AsymmetricKeys`]): signing and decrypting
//! happen there; verifying and encrypting need only the public key, which the core asks the
//! provider for and uses itself. What Alibaba documents, with its sources, is in
//! `docs/asymmetric.md`; where it is silent, the decisions below are pinned by the tests:
//!
//! - Parameters are checked in this order: `DryRun`, `KeyId`, `KeyVersionId` (required: a
//!   lowercase UUID, else `InvalidParameter KeyVersionId`), `Algorithm` (required, exact
//!   names; one the key's spec does not take is `InvalidParameter Algorithm`, found after the
//!   key is resolved), then the operation's data: `Digest` (Base64 of 32 bytes), `Value`
//!   (Base64), `Plaintext` (Base64 of 1 byte up to the algorithm's limit), `CiphertextBlob`
//!   (Base64). Malformed data is `InvalidParameter` naming it.
//! - A `KeyVersionId` that is not one of the key's versions: 404 `Forbidden.KeyNotFound`.
//! - Step 4: the key's state as for the data-key operations (a Disabled key answers
//!   `Rejected.Disabled`, GetPublicKey included); a symmetric key, or one of the other usage,
//!   is 400 `Rejected.UnsupportedOperation` ("Unsupported operation."), the code Alibaba
//!   documents for AsymmetricEncrypt and AsymmetricDecrypt, used for all five.
//! - A signature that does not verify is `Value: false` (200). A ciphertext that does not
//!   decrypt, for whatever reason, is `InvalidParameter CiphertextBlob`: one answer, no oracle.
//! - Permissions: the owner account's only (a key policy cannot grant them yet).
//! - RNG draws: AsymmetricSign the signature's randomness (PSS salt, ECDSA and SM2 nonces;
//!   nothing for PKCS#1 v1.5), AsymmetricEncrypt the padding's, then the request ID (wire,
//!   unless the frontend supplies one). Dry runs and refusals draw nothing.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use crate::asymmetric::{AsymmetricError, EncryptionAlgorithm, PublicKey, SigningAlgorithm};
use crate::authorize::authorize_version;
use crate::ops::{DryRunPassed, Outcome};
use crate::provider::{AsymmetricKeys, CallerRng, KeyDirectory, ProviderError};
use crate::wire::{parse_dry_run, ran, request_id, required};
use crate::{
    AuthorizedKey, Caller, Error, KeyId, KeyReference, KeyVersionId, Parameter, Permission,
    RequestId,
};

/// The key and version an asymmetric operation names.
#[derive(Clone, Copy, Debug)]
pub struct AsymmetricTarget<'a> {
    /// The key: ID, alias or ARN.
    pub key: KeyReference<'a>,
    /// The version (required by every asymmetric operation).
    pub version: KeyVersionId,
    /// Check everything, sign or open nothing.
    pub dry_run: bool,
}

/// The public key of a version.
#[derive(Clone, Debug)]
pub struct PublicKeyOf {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version.
    pub key_version_id: KeyVersionId,
    /// The public key.
    pub public_key: PublicKey,
}

/// A signature.
#[derive(Clone, Debug)]
pub struct Signed {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version that signed.
    pub key_version_id: KeyVersionId,
    /// The signature (raw for RSA, DER for ECDSA and SM2).
    pub signature: Vec<u8>,
}

/// Whether a signature verified.
#[derive(Clone, Copy, Debug)]
pub struct Verified {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version.
    pub key_version_id: KeyVersionId,
    /// Whether the signature is the version's over the digest.
    pub valid: bool,
}

/// A ciphertext.
#[derive(Clone, Debug)]
pub struct Encrypted {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version.
    pub key_version_id: KeyVersionId,
    /// The raw RSA-OAEP or SM2 ciphertext.
    pub ciphertext: Vec<u8>,
}

/// A plaintext, zeroized on drop.
pub struct Decrypted {
    /// The key's ID.
    pub key_id: KeyId,
    /// The version.
    pub key_version_id: KeyVersionId,
    /// The plaintext.
    pub plaintext: Zeroizing<Vec<u8>>,
}

impl core::fmt::Debug for Decrypted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decrypted")
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("plaintext", &"[REDACTED]")
            .finish()
    }
}

/// Steps 2 to 4 for `target` and `permission`, then the spec's check of the algorithm.
fn authorize<P>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
    permission: Permission,
    allowed: impl FnOnce(crate::asymmetric::AsymmetricSpec) -> bool,
) -> Result<AuthorizedKey, Error>
where
    P: KeyDirectory + ?Sized,
{
    let key = authorize_version(provider, caller, &target.key, &target.version, permission)
        .map_err(|e| match e {
            Error::UnsupportedOperation => Error::RejectedUnsupportedOperation,
            other => other,
        })?;
    let spec = key
        .spec()
        .asymmetric()
        .ok_or(Error::RejectedUnsupportedOperation)?;
    if !allowed(spec) {
        return Err(Error::InvalidParameter(Parameter::Algorithm));
    }
    Ok(key)
}

fn provider_error(e: ProviderError) -> Error {
    Error::from(e)
}

fn dry(key: &AuthorizedKey) -> DryRunPassed {
    DryRunPassed {
        key_id: key.key_id(),
        key_version_id: key.version(),
    }
}

/// GetPublicKey: the version's public key.
///
/// # Errors
/// Steps 2 to 4 (see the [module](self)).
pub fn get_public_key<P>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
) -> Result<Outcome<PublicKeyOf>, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
{
    let key = authorize(provider, caller, target, Permission::GetPublicKey, |_| true)?;
    if target.dry_run {
        return Ok(Outcome::DryRun(dry(&key)));
    }
    let public_key = provider.public_key(&key).map_err(provider_error)?;
    Ok(Outcome::Done(PublicKeyOf {
        key_id: key.key_id(),
        key_version_id: key.version(),
        public_key,
    }))
}

/// AsymmetricSign: the version's signature over the caller's `digest`.
///
/// # Errors
/// Steps 2 to 4, `InvalidParameter Algorithm` or `Digest`, `InternalFailure`.
pub fn asymmetric_sign<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
    algorithm: SigningAlgorithm,
    digest: &[u8],
    rng: &mut R,
) -> Result<Outcome<Signed>, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = authorize(
        provider,
        caller,
        target,
        Permission::AsymmetricSign,
        |spec| algorithm.allowed(spec),
    )?;
    if digest.len() != 32 {
        return Err(Error::InvalidParameter(Parameter::Digest));
    }
    if target.dry_run {
        return Ok(Outcome::DryRun(dry(&key)));
    }
    let signature = provider
        .sign(&key, algorithm, digest, &mut CallerRng(rng))
        .map_err(provider_error)?;
    Ok(Outcome::Done(Signed {
        key_id: key.key_id(),
        key_version_id: key.version(),
        signature,
    }))
}

/// AsymmetricVerify: whether `signature` is the version's over `digest`.
///
/// # Errors
/// Steps 2 to 4, `InvalidParameter Algorithm` or `Digest`.
pub fn asymmetric_verify<P>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
    algorithm: SigningAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<Outcome<Verified>, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
{
    let key = authorize(
        provider,
        caller,
        target,
        Permission::AsymmetricVerify,
        |spec| algorithm.allowed(spec),
    )?;
    if digest.len() != 32 {
        return Err(Error::InvalidParameter(Parameter::Digest));
    }
    if target.dry_run {
        return Ok(Outcome::DryRun(dry(&key)));
    }
    let public_key = provider.public_key(&key).map_err(provider_error)?;
    let valid = match public_key.verify(algorithm, digest, signature) {
        Ok(valid) => valid,
        Err(AsymmetricError::InvalidDigest) => {
            return Err(Error::InvalidParameter(Parameter::Digest));
        }
        Err(AsymmetricError::AlgorithmNotAllowed) => {
            return Err(Error::InvalidParameter(Parameter::Algorithm));
        }
        Err(_) => false,
    };
    Ok(Outcome::Done(Verified {
        key_id: key.key_id(),
        key_version_id: key.version(),
        valid,
    }))
}

/// AsymmetricEncrypt: `plaintext` encrypted to the version's public key.
///
/// # Errors
/// Steps 2 to 4, `InvalidParameter Algorithm` or `Plaintext` (empty, or longer than the
/// algorithm takes), `InternalFailure`.
pub fn asymmetric_encrypt<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
    algorithm: EncryptionAlgorithm,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Outcome<Encrypted>, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let key = authorize(
        provider,
        caller,
        target,
        Permission::AsymmetricEncrypt,
        |spec| algorithm.allowed(spec),
    )?;
    if plaintext.is_empty() {
        return Err(Error::InvalidParameter(Parameter::Plaintext));
    }
    let public_key = provider.public_key(&key).map_err(provider_error)?;
    if target.dry_run {
        return Ok(Outcome::DryRun(dry(&key)));
    }
    let ciphertext = public_key
        .encrypt(algorithm, plaintext, rng)
        .map_err(|e| match e {
            AsymmetricError::Rng => Error::from(crate::RngError),
            AsymmetricError::AlgorithmNotAllowed => Error::InvalidParameter(Parameter::Algorithm),
            _ => Error::InvalidParameter(Parameter::Plaintext),
        })?;
    Ok(Outcome::Done(Encrypted {
        key_id: key.key_id(),
        key_version_id: key.version(),
        ciphertext,
    }))
}

/// AsymmetricDecrypt: `ciphertext` decrypted with the version's private key.
///
/// # Errors
/// Steps 2 to 4, `InvalidParameter Algorithm` or `CiphertextBlob` (one answer for every way a
/// ciphertext can fail to decrypt).
pub fn asymmetric_decrypt<P>(
    provider: &P,
    caller: &Caller<'_>,
    target: &AsymmetricTarget<'_>,
    algorithm: EncryptionAlgorithm,
    ciphertext: &[u8],
) -> Result<Outcome<Decrypted>, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
{
    let key = authorize(
        provider,
        caller,
        target,
        Permission::AsymmetricDecrypt,
        |spec| algorithm.allowed(spec),
    )?;
    if ciphertext.is_empty() {
        return Err(Error::InvalidParameter(Parameter::CiphertextBlob));
    }
    if target.dry_run {
        return Ok(Outcome::DryRun(dry(&key)));
    }
    let plaintext = provider
        .decrypt(&key, algorithm, ciphertext)
        .map_err(|e| match e {
            ProviderError::AuthenticationFailed => {
                Error::InvalidParameter(Parameter::CiphertextBlob)
            }
            other => provider_error(other),
        })?;
    Ok(Outcome::Done(Decrypted {
        key_id: key.key_id(),
        key_version_id: key.version(),
        plaintext,
    }))
}

// ---------------------------------------------------------------------------------------------
// The wire: text parameters in, Alibaba's response fields out.

crate::wire::wire_params!(
    /// The parameters of GetPublicKey, as text.
    GetPublicKeyParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeyVersionId` (required).
        key_version_id: KeyVersionId,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

crate::wire::wire_params!(
    /// The parameters of AsymmetricSign, as text.
    AsymmetricSignParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeyVersionId` (required).
        key_version_id: KeyVersionId,
        /// `Algorithm` (required).
        algorithm: Algorithm,
        /// `Digest` (required): Base64 of the 32-byte digest.
        digest: Digest,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

crate::wire::wire_params!(
    /// The parameters of AsymmetricVerify, as text.
    AsymmetricVerifyParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeyVersionId` (required).
        key_version_id: KeyVersionId,
        /// `Algorithm` (required).
        algorithm: Algorithm,
        /// `Digest` (required): Base64 of the 32-byte digest.
        digest: Digest,
        /// `Value` (required): Base64 of the signature.
        value: Value,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

crate::wire::wire_params!(
    /// The parameters of AsymmetricEncrypt, as text.
    AsymmetricEncryptParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeyVersionId` (required).
        key_version_id: KeyVersionId,
        /// `Algorithm` (required).
        algorithm: Algorithm,
        /// `Plaintext` (required): Base64 of the bytes to encrypt.
        plaintext: Plaintext,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

crate::wire::wire_params!(
    /// The parameters of AsymmetricDecrypt, as text.
    AsymmetricDecryptParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeyVersionId` (required).
        key_version_id: KeyVersionId,
        /// `Algorithm` (required).
        algorithm: Algorithm,
        /// `CiphertextBlob` (required): Base64 of the ciphertext.
        ciphertext_blob: CiphertextBlob,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

/// What GetPublicKey puts on the wire: `KeyId`, `KeyVersionId`, `PublicKey` (PEM), `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct GetPublicKeyResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `PublicKey`: PEM `SubjectPublicKeyInfo`.
    pub public_key: String,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What AsymmetricSign puts on the wire: `KeyId`, `KeyVersionId`, `Value` (Base64), `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct AsymmetricSignResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `Value`: Base64 of the signature.
    pub value: String,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What AsymmetricVerify puts on the wire: `KeyId`, `KeyVersionId`, `Value` (a boolean),
/// `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct AsymmetricVerifyResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `Value`: whether the signature verified.
    pub value: bool,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What AsymmetricEncrypt puts on the wire: `KeyId`, `KeyVersionId`, `CiphertextBlob` (Base64),
/// `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct AsymmetricEncryptResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `CiphertextBlob`: Base64 of the ciphertext.
    pub ciphertext_blob: String,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What AsymmetricDecrypt puts on the wire: `KeyId`, `KeyVersionId`, `Plaintext` (Base64),
/// `RequestId`. The plaintext is zeroized on drop and redacted by `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct AsymmetricDecryptResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `Plaintext`: Base64 of the plaintext.
    #[cfg_attr(feature = "serde", serde(serialize_with = "expose_text"))]
    pub plaintext: Zeroizing<String>,
    /// `RequestId`.
    pub request_id: RequestId,
}

#[cfg(feature = "serde")]
fn expose_text<S: serde::Serializer>(text: &Zeroizing<String>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text)
}

impl core::fmt::Debug for AsymmetricDecryptResponse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AsymmetricDecryptResponse")
            .field("key_id", &self.key_id)
            .field("key_version_id", &self.key_version_id)
            .field("plaintext", &"[REDACTED]")
            .field("request_id", &self.request_id)
            .finish()
    }
}

/// `DryRun`, `KeyId` and `KeyVersionId` from text, with a dry run's errors as spec §7 says.
fn target<'a>(
    dry_run: Option<&str>,
    key_id: Option<&'a str>,
    key_version_id: Option<&str>,
) -> Result<AsymmetricTarget<'a>, Error> {
    let dry_run = parse_dry_run(dry_run)?;
    let step = |e: Error| if dry_run { e.in_dry_run() } else { e };
    let key = KeyReference::parse(
        required(key_id, Parameter::KeyId).map_err(step)?,
        Parameter::KeyId,
    )
    .map_err(step)?;
    let version = crate::management::params::key_version_id(key_version_id).map_err(step)?;
    Ok(AsymmetricTarget {
        key,
        version,
        dry_run,
    })
}

/// A required parameter that names a value of `T` exactly.
fn named<T>(
    text: Option<&str>,
    parameter: Parameter,
    parse: impl FnOnce(&str) -> Option<T>,
) -> Result<T, Error> {
    parse(required(text, parameter)?).ok_or(Error::InvalidParameter(parameter))
}

/// A required parameter that is canonical padded Base64, at most `max` bytes decoded.
fn base64(text: Option<&str>, parameter: Parameter, max: usize) -> Result<Vec<u8>, Error> {
    let text = required(text, parameter)?;
    if text.len() > max.div_ceil(3) * 4 {
        return Err(Error::InvalidParameter(parameter));
    }
    Base64::decode_vec(text).map_err(|_| Error::InvalidParameter(parameter))
}

/// The largest signature, ciphertext or plaintext any spec takes (SM2PKE: 6,144 bytes).
const MAX_DATA: usize = 6144;

/// GetPublicKey from text parameters.
///
/// # Errors
/// As [`get_public_key`], and the parameters' `MissingParameter` / `InvalidParameter`.
pub fn get_public_key_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GetPublicKeyParams<'_>,
    rng: &mut R,
) -> Result<GetPublicKeyResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let target = target(params.dry_run, params.key_id, params.key_version_id)?;
    let out = ran(target.dry_run, get_public_key(provider, caller, &target))?;
    let public_key = out
        .public_key
        .to_pem()
        .map_err(|_| Error::InternalFailure(crate::Internal::Provider))?;
    Ok(GetPublicKeyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        public_key,
        request_id: request_id(params.request_id, rng)?,
    })
}

/// AsymmetricSign from text parameters.
///
/// # Errors
/// As [`asymmetric_sign`], and the parameters' `MissingParameter` / `InvalidParameter`.
pub fn asymmetric_sign_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &AsymmetricSignParams<'_>,
    rng: &mut R,
) -> Result<AsymmetricSignResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let target = target(params.dry_run, params.key_id, params.key_version_id)?;
    let step = |e: Error| if target.dry_run { e.in_dry_run() } else { e };
    let algorithm = named(
        params.algorithm,
        Parameter::Algorithm,
        SigningAlgorithm::from_name,
    )
    .map_err(step)?;
    let digest = base64(params.digest, Parameter::Digest, 64).map_err(step)?;
    let out = ran(
        target.dry_run,
        asymmetric_sign(provider, caller, &target, algorithm, &digest, rng),
    )?;
    Ok(AsymmetricSignResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        value: Base64::encode_string(&out.signature),
        request_id: request_id(params.request_id, rng)?,
    })
}

/// AsymmetricVerify from text parameters.
///
/// # Errors
/// As [`asymmetric_verify`], and the parameters' `MissingParameter` / `InvalidParameter`.
pub fn asymmetric_verify_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &AsymmetricVerifyParams<'_>,
    rng: &mut R,
) -> Result<AsymmetricVerifyResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let target = target(params.dry_run, params.key_id, params.key_version_id)?;
    let step = |e: Error| if target.dry_run { e.in_dry_run() } else { e };
    let algorithm = named(
        params.algorithm,
        Parameter::Algorithm,
        SigningAlgorithm::from_name,
    )
    .map_err(step)?;
    let digest = base64(params.digest, Parameter::Digest, 64).map_err(step)?;
    let signature = base64(params.value, Parameter::Value, MAX_DATA).map_err(step)?;
    let out = ran(
        target.dry_run,
        asymmetric_verify(provider, caller, &target, algorithm, &digest, &signature),
    )?;
    Ok(AsymmetricVerifyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        value: out.valid,
        request_id: request_id(params.request_id, rng)?,
    })
}

/// AsymmetricEncrypt from text parameters.
///
/// # Errors
/// As [`asymmetric_encrypt`], and the parameters' `MissingParameter` / `InvalidParameter`.
pub fn asymmetric_encrypt_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &AsymmetricEncryptParams<'_>,
    rng: &mut R,
) -> Result<AsymmetricEncryptResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let target = target(params.dry_run, params.key_id, params.key_version_id)?;
    let step = |e: Error| if target.dry_run { e.in_dry_run() } else { e };
    let algorithm = named(
        params.algorithm,
        Parameter::Algorithm,
        EncryptionAlgorithm::from_name,
    )
    .map_err(step)?;
    let plaintext =
        Zeroizing::new(base64(params.plaintext, Parameter::Plaintext, MAX_DATA).map_err(step)?);
    let out = ran(
        target.dry_run,
        asymmetric_encrypt(provider, caller, &target, algorithm, &plaintext, rng),
    )?;
    Ok(AsymmetricEncryptResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: Base64::encode_string(&out.ciphertext),
        request_id: request_id(params.request_id, rng)?,
    })
}

/// AsymmetricDecrypt from text parameters.
///
/// # Errors
/// As [`asymmetric_decrypt`], and the parameters' `MissingParameter` / `InvalidParameter`.
pub fn asymmetric_decrypt_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &AsymmetricDecryptParams<'_>,
    rng: &mut R,
) -> Result<AsymmetricDecryptResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let target = target(params.dry_run, params.key_id, params.key_version_id)?;
    let step = |e: Error| if target.dry_run { e.in_dry_run() } else { e };
    let algorithm = named(
        params.algorithm,
        Parameter::Algorithm,
        EncryptionAlgorithm::from_name,
    )
    .map_err(step)?;
    let ciphertext =
        base64(params.ciphertext_blob, Parameter::CiphertextBlob, MAX_DATA).map_err(step)?;
    let out = ran(
        target.dry_run,
        asymmetric_decrypt(provider, caller, &target, algorithm, &ciphertext),
    )?;
    Ok(AsymmetricDecryptResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        plaintext: Zeroizing::new(Base64::encode_string(&out.plaintext)),
        request_id: request_id(params.request_id, rng)?,
    })
}
