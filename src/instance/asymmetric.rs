//! The KMS-instance API's asymmetric operations (feature `asymmetric`; `docs/asymmetric.md`
//! §11): **GetPublicKey**, **Sign** and **Verify** on the instance's asymmetric keys, the
//! asymmetric form of **Encrypt** and **Decrypt** (an `RSAES_OAEP_*` or `SM2PKE` `Algorithm`,
//! which the routing SDK's `TransferClient` sends for the gateway's AsymmetricEncrypt and
//! AsymmetricDecrypt), and the **GenerateDataKeyPair** family, whose private key is sealed under
//! a symmetric key of the instance exactly as Encrypt (or AdvanceEncrypt) seals caller bytes.
//!
//! The cryptography is the gateway's ([`crate::ops::asymmetric`]): each operation resolves the
//! key among the instance's keys ([`Scope`]: any other key is `Forbidden.KeyNotFound`), picks
//! the version, and runs the gateway's typed operation on it, so the permission, state, usage
//! and algorithm checks and their errors are the gateway's. As in [`super`], the fields come as
//! the wire has them (absent and empty are the same) and are all checked here, before the key is
//! looked up.
//!
//! Decisions where the SDKs are silent (also in `server/README.md`):
//!
//! - **Version.** This API names no version: GetPublicKey, Sign, Verify and Encrypt use the
//!   key's primary version (an asymmetric key has one version: CreateKeyVersion refuses
//!   asymmetric keys). Decrypt uses the version of the signed `x-kms-migrationkeyversionid`
//!   request header when there is one (as the symmetric Decrypt), else the primary version.
//!   Every response reports the version, for the `x-kms-migrationkeyversionid` response header
//!   that the routing SDK reads.
//! - **Sign and Verify input.** `Message` with `MessageType` `RAW` (the default when empty) is
//!   hashed here: SHA-256 for the RSA and ECDSA algorithms, `SM3(Z_A || M)` with the default
//!   user ID `1234567812345678` for `SM2DSA` ([`PublicKey::message_digest`]). `MessageType`
//!   `DIGEST`: `Message` is the 32-byte digest (`e` for SM2DSA), signed as is. The `Digest` field
//!   (2), which SDK 1.0.2 never sends, is served too: it means `DIGEST` with that digest; with
//!   `Message` also set it is `InvalidParameter Digest`, with `MessageType` `RAW`
//!   `InvalidParameter MessageType`. Neither set: `MissingParameter Message`. A digest that is
//!   not 32 bytes: `InvalidParameter` naming the field that carried it. Any other `MessageType`
//!   (exact, case-sensitive): `InvalidParameter MessageType`. Responses echo the algorithm and
//!   the message type used.
//! - **Sign and Verify algorithm.** Empty: the spec's default (`RSA_PSS_SHA_256` for RSA,
//!   `ECDSA_SHA_256` for EC_P256 and EC_P256K, `SM2DSA` for EC_SM2). An unknown name, or one the
//!   key's spec does not take: `InvalidParameter Algorithm`.
//! - **Errors from the key.** A symmetric key, or an asymmetric key of the other usage:
//!   400 `Rejected.UnsupportedOperation` (the gateway's answer), except for Encrypt and Decrypt
//!   with an asymmetric algorithm on a symmetric key, which stay `InvalidParameter Algorithm`
//!   (the symmetric Encrypt's answer before asymmetric keys existed). States as on the gateway
//!   (a Disabled key is `Rejected.Disabled`, GetPublicKey included). A signature that does not
//!   verify is `Value: false`; an empty `Signature` is `MissingParameter Signature`.
//! - **Asymmetric Encrypt and Decrypt.** `CiphertextBlob` is the raw RSA-OAEP or SM2PKE
//!   ciphertext (`C1 || C3 || C2`), no `Iv`. `Aad` and `Iv` must be empty (OAEP takes no label
//!   here): `InvalidParameter Aad` / `Iv`. `PaddingMode` is ignored and echoed empty. A
//!   ciphertext that does not decrypt: `InvalidParameter CiphertextBlob`. The Advance forms stay
//!   symmetric (an asymmetric `Algorithm` there is `InvalidParameter Algorithm`).
//! - **Data key pairs.** `KeyId` names a symmetric `ENCRYPT/DECRYPT` key of the instance
//!   (an asymmetric one is `UnsupportedOperation`, as for GenerateDataKey); the permission is
//!   `kms:GenerateDataKey` (`kms:GenerateDataKeyWithoutPlaintext` for the WithoutPlaintext
//!   forms). `KeyPairSpec` is required (`MissingParameter`), one of `RSA_2048`, `RSA_3072`,
//!   `EC_P256`, `EC_P256K`, `EC_SM2` (else `InvalidParameter KeyPairSpec`). `KeyFormat`: `PEM`
//!   (the default when empty) or `DER` (else `InvalidParameter KeyFormat`); PEM is PKCS#8
//!   `-----BEGIN PRIVATE KEY-----` and SPKI `-----BEGIN PUBLIC KEY-----`, lines of 64, LF
//!   endings; DER the same structures unwrapped. `Algorithm` (basic forms only) as for
//!   GenerateDataKey: empty or `AES_GCM`. The private key (in the requested format) is sealed
//!   with the caller's `Aad` under the key's **primary** version, as Encrypt seals (basic forms:
//!   `ciphertext || tag` with the `Iv` beside it, opened by Decrypt with that `Iv` and `Aad`) or
//!   AdvanceEncrypt (Advance forms: the self-describing blob, opened by AdvanceDecrypt); the
//!   seal counts against the version's budget.
//!
//! RNG draws: Sign the signature's randomness, Encrypt the padding's, a data key pair the key
//! pair then the IV (through the provider); then the request ID. Refusals draw nothing.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;
use zeroize::Zeroizing;

use super::{DecryptParams, EncryptParams, Form, Scope, algorithm, key_reference, required};
use crate::asymmetric::{
    AsymmetricSpec, DIGEST_LEN, EncryptionAlgorithm, PrivateKey, PublicKey, SigningAlgorithm,
};
use crate::authorize::Resolving;
use crate::blob::Iv;
use crate::ops::Outcome;
use crate::ops::asymmetric::{self as gateway, AsymmetricTarget};
use crate::provider::AsymmetricKeys;
use crate::{
    Error, Internal, KeyDirectory, KeyId, KeyProvider, KeyRecord, KeyReference, KeyVersionId,
    Parameter, Permission, RequestId, SecretBytesBuf,
};

/// `MessageType` of Sign and Verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `RAW`: the message itself, hashed here.
    Raw,
    /// `DIGEST`: the message's 32-byte digest, signed as is.
    Digest,
}

impl MessageType {
    /// The wire name: `RAW` or `DIGEST`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Raw => "RAW",
            Self::Digest => "DIGEST",
        }
    }

    /// The message type `name` names, exactly (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Raw, Self::Digest]
            .into_iter()
            .find(|t| t.name() == name)
    }
}

/// `KeyFormat` of the GenerateDataKeyPair family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// `PEM`: PKCS#8 `PRIVATE KEY` and SPKI `PUBLIC KEY` PEM (the default).
    Pem,
    /// `DER`: the same structures in DER.
    Der,
}

impl KeyFormat {
    /// The wire name: `PEM` or `DER`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pem => "PEM",
            Self::Der => "DER",
        }
    }

    /// The format `name` names, exactly (case-sensitive).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pem, Self::Der]
            .into_iter()
            .find(|f| f.name() == name)
    }
}

/// The default signing algorithm of `spec`, for a Sign or Verify without `Algorithm`.
pub const fn default_signing_algorithm(spec: AsymmetricSpec) -> SigningAlgorithm {
    match spec {
        AsymmetricSpec::Rsa2048 | AsymmetricSpec::Rsa3072 => SigningAlgorithm::RsaPssSha256,
        AsymmetricSpec::EcP256 | AsymmetricSpec::EcP256K => SigningAlgorithm::EcdsaSha256,
        AsymmetricSpec::EcSm2 => SigningAlgorithm::Sm2Dsa,
    }
}

/// Whether an Encrypt or Decrypt with this `Algorithm` takes the asymmetric path
/// ([`encrypt`], [`decrypt`]): `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1` or `SM2PKE`.
pub fn is_asymmetric_algorithm(algorithm: &str) -> bool {
    EncryptionAlgorithm::from_name(algorithm).is_some()
}

/// Sign's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignParams<'a> {
    /// `KeyId` (required): an ID, alias or ARN.
    pub key_id: &'a str,
    /// `Digest` (field 2): a 32-byte digest; not sent by SDK 1.0.2.
    pub digest: &'a [u8],
    /// `Algorithm`: empty for the spec's default.
    pub algorithm: &'a str,
    /// `Message`: the message (`RAW`) or its digest (`DIGEST`).
    pub message: &'a [u8],
    /// `MessageType`: `RAW` (the default when empty) or `DIGEST`.
    pub message_type: &'a str,
}

/// Verify's fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VerifyParams<'a> {
    /// `KeyId` (required): an ID, alias or ARN.
    pub key_id: &'a str,
    /// `Digest` (field 2): a 32-byte digest; not sent by SDK 1.0.2.
    pub digest: &'a [u8],
    /// `Signature` (required): the signature to check.
    pub signature: &'a [u8],
    /// `Algorithm`: empty for the spec's default.
    pub algorithm: &'a str,
    /// `Message`: the message (`RAW`) or its digest (`DIGEST`).
    pub message: &'a [u8],
    /// `MessageType`: `RAW` (the default when empty) or `DIGEST`.
    pub message_type: &'a str,
}

/// What GetPublicKey returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GetPublicKeyResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version (the `x-kms-migrationkeyversionid` response header).
    pub key_version_id: KeyVersionId,
    /// The public key: PEM `SubjectPublicKeyInfo`.
    pub public_key: String,
    /// The request ID.
    pub request_id: RequestId,
}

/// What Sign returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that signed.
    pub key_version_id: KeyVersionId,
    /// The signature: raw for RSA, DER for ECDSA and SM2DSA.
    pub signature: Vec<u8>,
    /// The algorithm used.
    pub algorithm: SigningAlgorithm,
    /// The message type used.
    pub message_type: MessageType,
    /// The request ID.
    pub request_id: RequestId,
}

/// What Verify returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that verified.
    pub key_version_id: KeyVersionId,
    /// Whether the signature is the version's over the message.
    pub value: bool,
    /// The algorithm used.
    pub algorithm: SigningAlgorithm,
    /// The message type used.
    pub message_type: MessageType,
    /// The request ID.
    pub request_id: RequestId,
}

/// What the asymmetric Encrypt returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version encrypted to.
    pub key_version_id: KeyVersionId,
    /// The raw RSA-OAEP or SM2PKE ciphertext.
    pub ciphertext_blob: Vec<u8>,
    /// The algorithm.
    pub algorithm: EncryptionAlgorithm,
    /// The request ID.
    pub request_id: RequestId,
}

/// What the asymmetric Decrypt returns.
#[derive(Debug)]
pub struct DecryptResponse {
    /// The key's canonical ID.
    pub key_id: KeyId,
    /// The version that decrypted.
    pub key_version_id: KeyVersionId,
    /// The plaintext. Zeroized on drop.
    pub plaintext: SecretBytesBuf,
    /// The algorithm.
    pub algorithm: EncryptionAlgorithm,
    /// The request ID.
    pub request_id: RequestId,
}

/// The gateway's answer for a typed operation run without `dry_run`.
fn done<T>(outcome: Outcome<T>) -> Result<T, Error> {
    outcome
        .done()
        .ok_or(Error::InternalFailure(Internal::Provider))
}

/// The key `reference` names, among the instance's keys.
fn resolve<P: KeyDirectory + ?Sized>(
    provider: &P,
    scope: &Scope<'_>,
    reference: &KeyReference<'_>,
) -> Result<KeyRecord, Error> {
    Ok(*Resolving::key(&scope.caller, reference)
        .in_instance(&scope.instance)
        .ask(provider)?
        .record())
}

/// The asymmetric spec of `record`, or the answer for a symmetric key.
fn asymmetric_spec(record: &KeyRecord, symmetric: Error) -> Result<AsymmetricSpec, Error> {
    record.spec.asymmetric().ok_or(symmetric)
}

/// The key's primary version as the gateway's target.
fn primary<'a>(reference: KeyReference<'a>, record: &KeyRecord) -> AsymmetricTarget<'a> {
    AsymmetricTarget {
        key: reference,
        version: record.primary_version,
        dry_run: false,
    }
}

/// GetPublicKey: the public key of the key's primary version, as PEM.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter` `KeyId`; `Forbidden.KeyNotFound` (or
/// `Forbidden.AliasNotFound`) for a key the instance does not hold; the state errors;
/// `Rejected.UnsupportedOperation` for a symmetric key; a provider or RNG failure.
pub fn get_public_key<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    key_id: &str,
    rng: &mut R,
) -> Result<GetPublicKeyResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(key_id)?;
    let record = resolve(provider, scope, &reference)?;
    let target = primary(reference, &record);
    let out = done(gateway::get_public_key(provider, &scope.caller, &target)?)?;
    let public_key = out
        .public_key
        .to_pem()
        .map_err(|_| Error::InternalFailure(Internal::Provider))?;
    Ok(GetPublicKeyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        public_key,
        request_id: RequestId::random(rng)?,
    })
}

/// What Sign and Verify sign: the message type used and its bytes (the message for `RAW`, the
/// digest for `DIGEST`).
fn signing_input<'a>(
    digest: &'a [u8],
    message: &'a [u8],
    message_type: &str,
) -> Result<(MessageType, &'a [u8]), Error> {
    let named = match message_type {
        "" => None,
        text => Some(
            MessageType::from_name(text).ok_or(Error::InvalidParameter(Parameter::MessageType))?,
        ),
    };
    if !digest.is_empty() {
        if !message.is_empty() {
            return Err(Error::InvalidParameter(Parameter::Digest));
        }
        if named == Some(MessageType::Raw) {
            return Err(Error::InvalidParameter(Parameter::MessageType));
        }
        if digest.len() != DIGEST_LEN {
            return Err(Error::InvalidParameter(Parameter::Digest));
        }
        return Ok((MessageType::Digest, digest));
    }
    let message = required(message, Parameter::Message)?;
    let kind = named.unwrap_or(MessageType::Raw);
    if kind == MessageType::Digest && message.len() != DIGEST_LEN {
        return Err(Error::InvalidParameter(Parameter::Message));
    }
    Ok((kind, message))
}

/// `Algorithm` of Sign and Verify: `None` when empty (the spec's default, once the key is
/// known).
fn signing_algorithm(text: &str) -> Result<Option<SigningAlgorithm>, Error> {
    match text {
        "" => Ok(None),
        text => SigningAlgorithm::from_name(text)
            .map(Some)
            .ok_or(Error::InvalidParameter(Parameter::Algorithm)),
    }
}

/// The key, version, algorithm and digest of a Sign or Verify: the key resolved in the
/// instance, its primary version, the algorithm (or the spec's default), and the 32-byte digest
/// (computed from the version's public key for `RAW`).
fn prepare<'a, P>(
    provider: &P,
    scope: &Scope<'_>,
    reference: KeyReference<'a>,
    algorithm: Option<SigningAlgorithm>,
    kind: MessageType,
    data: &[u8],
) -> Result<(AsymmetricTarget<'a>, SigningAlgorithm, [u8; DIGEST_LEN]), Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
{
    let record = resolve(provider, scope, &reference)?;
    let spec = asymmetric_spec(&record, Error::RejectedUnsupportedOperation)?;
    let algorithm = algorithm.unwrap_or(default_signing_algorithm(spec));
    let target = primary(reference, &record);
    let mut digest = [0u8; DIGEST_LEN];
    match kind {
        MessageType::Digest => {
            // Checked by `signing_input`; a slice of another length cannot reach here.
            if data.len() != DIGEST_LEN {
                return Err(Error::InvalidParameter(Parameter::Digest));
            }
            digest.copy_from_slice(data);
        }
        MessageType::Raw => {
            let public_key: PublicKey =
                done(gateway::get_public_key(provider, &scope.caller, &target)?)?.public_key;
            digest = public_key
                .message_digest(algorithm, data)
                .map_err(|_| Error::InvalidParameter(Parameter::Algorithm))?;
        }
    }
    Ok((target, algorithm, digest))
}

/// Sign: the key's primary version signs the message (hashed here, `RAW`) or its digest
/// (`DIGEST`).
///
/// # Errors
/// `MissingParameter` `KeyId` or `Message`; `InvalidParameter` `KeyId`, `Algorithm`,
/// `MessageType`, `Digest` or `Message` (see the [module](self)); the resolution, state and
/// usage errors (`Rejected.UnsupportedOperation` for a symmetric key or an ENCRYPT/DECRYPT
/// one); a provider or RNG failure.
pub fn sign<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &SignParams<'_>,
    rng: &mut R,
) -> Result<SignResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(params.key_id)?;
    let (kind, data) = signing_input(params.digest, params.message, params.message_type)?;
    let algorithm = signing_algorithm(params.algorithm)?;
    let (target, algorithm, digest) = prepare(provider, scope, reference, algorithm, kind, data)?;
    let out = done(gateway::asymmetric_sign(
        provider,
        &scope.caller,
        &target,
        algorithm,
        &digest,
        rng,
    )?)?;
    Ok(SignResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        signature: out.signature,
        algorithm,
        message_type: kind,
        request_id: RequestId::random(rng)?,
    })
}

/// Verify: whether `Signature` is the primary version's over the message (`RAW`) or its
/// digest (`DIGEST`). A signature that does not verify, however malformed, is `false`.
///
/// # Errors
/// As [`sign`], and `MissingParameter Signature`.
pub fn verify<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &VerifyParams<'_>,
    rng: &mut R,
) -> Result<VerifyResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(params.key_id)?;
    let (kind, data) = signing_input(params.digest, params.message, params.message_type)?;
    let signature = required(params.signature, Parameter::Signature)?;
    let algorithm = signing_algorithm(params.algorithm)?;
    let (target, algorithm, digest) = prepare(provider, scope, reference, algorithm, kind, data)?;
    let out = done(gateway::asymmetric_verify(
        provider,
        &scope.caller,
        &target,
        algorithm,
        &digest,
        signature,
    )?)?;
    Ok(VerifyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        value: out.valid,
        algorithm,
        message_type: kind,
        request_id: RequestId::random(rng)?,
    })
}

/// `Algorithm` of the asymmetric Encrypt and Decrypt.
fn encryption_algorithm(text: &str) -> Result<EncryptionAlgorithm, Error> {
    EncryptionAlgorithm::from_name(required(text, Parameter::Algorithm)?)
        .ok_or(Error::InvalidParameter(Parameter::Algorithm))
}

/// `Aad` and `Iv` of the asymmetric Encrypt and Decrypt: both empty.
fn no_aad_or_iv(aad: &[u8], iv: &[u8]) -> Result<(), Error> {
    if !aad.is_empty() {
        return Err(Error::InvalidParameter(Parameter::Aad));
    }
    if !iv.is_empty() {
        return Err(Error::InvalidParameter(Parameter::Iv));
    }
    Ok(())
}

/// Encrypt with an asymmetric `Algorithm`: `Plaintext` encrypted to the public key of the key's
/// primary version; the ciphertext is raw, with no `Iv`.
///
/// # Errors
/// `MissingParameter` `KeyId`, `Plaintext` or `Algorithm`; `InvalidParameter` `KeyId`,
/// `Algorithm` (not an asymmetric one, not the key's spec's, or a symmetric key), `Aad` or `Iv`
/// (given), `Plaintext` (longer than the algorithm takes); the resolution, state and usage
/// errors (`Rejected.UnsupportedOperation` for a SIGN/VERIFY key); an RNG failure.
pub fn encrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &EncryptParams<'_>,
    rng: &mut R,
) -> Result<EncryptResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let reference = key_reference(params.key_id)?;
    let plaintext = required(params.plaintext, Parameter::Plaintext)?;
    let algorithm = encryption_algorithm(params.algorithm)?;
    no_aad_or_iv(params.aad, params.iv)?;
    let record = resolve(provider, scope, &reference)?;
    asymmetric_spec(&record, Error::InvalidParameter(Parameter::Algorithm))?;
    let target = primary(reference, &record);
    let out = done(gateway::asymmetric_encrypt(
        provider,
        &scope.caller,
        &target,
        algorithm,
        plaintext,
        rng,
    )?)?;
    Ok(EncryptResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: out.ciphertext,
        algorithm,
        request_id: RequestId::random(rng)?,
    })
}

/// Decrypt with an asymmetric `Algorithm`: the raw ciphertext decrypted with the private key
/// of the version the migration header names (one of the key's), else of the primary version.
///
/// # Errors
/// `MissingParameter` `CiphertextBlob`, `KeyId` or `Algorithm`; `InvalidParameter`
/// `CiphertextBlob` (it does not decrypt; a malformed migration header, or one naming another
/// key's version), `KeyId`, `Algorithm`, `Aad` or `Iv`; `Forbidden.KeyNotFound` for a version no
/// key of the instance has; the resolution, state and usage errors; a provider or RNG failure.
pub fn decrypt<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    params: &DecryptParams<'_>,
    rng: &mut R,
) -> Result<DecryptResponse, Error>
where
    P: KeyDirectory + AsymmetricKeys + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let ciphertext = required(params.ciphertext_blob, Parameter::CiphertextBlob)?;
    let reference = key_reference(params.key_id)?;
    let algorithm = encryption_algorithm(params.algorithm)?;
    no_aad_or_iv(params.aad, params.iv)?;
    let migration = params
        .migration_key_version_id
        .map(|text| KeyVersionId::parse(text.as_bytes()).ok_or(invalid_blob))
        .transpose()?;
    let record = resolve(provider, scope, &reference)?;
    asymmetric_spec(&record, Error::InvalidParameter(Parameter::Algorithm))?;
    let mut target = primary(reference, &record);
    if let Some(version) = &migration {
        let holder = Resolving::version(&scope.caller, version)
            .in_instance(&scope.instance)
            .ask(provider)?;
        if holder.record().key_id != record.key_id {
            return Err(invalid_blob);
        }
        target.version = *version;
    }
    let gateway::Decrypted {
        key_id,
        key_version_id,
        mut plaintext,
    } = done(gateway::asymmetric_decrypt(
        provider,
        &scope.caller,
        &target,
        algorithm,
        ciphertext,
    )?)?;
    Ok(DecryptResponse {
        key_id,
        key_version_id,
        // The buffer moves; the emptied `Zeroizing` has nothing left to wipe.
        plaintext: SecretBytesBuf::new(core::mem::take(&mut *plaintext)),
        algorithm,
        request_id: RequestId::random(rng)?,
    })
}

// ---------------------------------------------------------------------------------------------
// Data key pairs.

/// The four operations of the GenerateDataKeyPair family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataKeyPairOperation {
    /// `GenerateDataKeyPair`: the basic blob, with the private key in plaintext too.
    GenerateDataKeyPair,
    /// `GenerateDataKeyPairWithoutPlaintext`: the basic blob only.
    GenerateDataKeyPairWithoutPlaintext,
    /// `AdvanceGenerateDataKeyPair`: the Advance blob, with the private key in plaintext too.
    AdvanceGenerateDataKeyPair,
    /// `AdvanceGenerateDataKeyPairWithoutPlaintext`: the Advance blob only.
    AdvanceGenerateDataKeyPairWithoutPlaintext,
}

impl DataKeyPairOperation {
    /// Every operation of the family.
    pub const ALL: [Self; 4] = [
        Self::GenerateDataKeyPair,
        Self::GenerateDataKeyPairWithoutPlaintext,
        Self::AdvanceGenerateDataKeyPair,
        Self::AdvanceGenerateDataKeyPairWithoutPlaintext,
    ];

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::GenerateDataKeyPair => "GenerateDataKeyPair",
            Self::GenerateDataKeyPairWithoutPlaintext => "GenerateDataKeyPairWithoutPlaintext",
            Self::AdvanceGenerateDataKeyPair => "AdvanceGenerateDataKeyPair",
            Self::AdvanceGenerateDataKeyPairWithoutPlaintext => {
                "AdvanceGenerateDataKeyPairWithoutPlaintext"
            }
        }
    }

    /// Whether the private key is sealed into the Advance blob (else the basic one).
    pub const fn advance(self) -> bool {
        matches!(
            self,
            Self::AdvanceGenerateDataKeyPair | Self::AdvanceGenerateDataKeyPairWithoutPlaintext
        )
    }

    /// Whether the response carries the private key in plaintext.
    pub const fn with_plaintext(self) -> bool {
        matches!(
            self,
            Self::GenerateDataKeyPair | Self::AdvanceGenerateDataKeyPair
        )
    }

    /// The permission asked on the sealing key.
    pub const fn permission(self) -> Permission {
        if self.with_plaintext() {
            Permission::GenerateDataKey
        } else {
            Permission::GenerateDataKeyWithoutPlaintext
        }
    }

    const fn form(self) -> Form {
        if self.advance() {
            Form::Advance
        } else {
            Form::Basic
        }
    }
}

/// The fields of the GenerateDataKeyPair family.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateDataKeyPairParams<'a> {
    /// `KeyId` (required): the symmetric key that seals the private key.
    pub key_id: &'a str,
    /// `Algorithm`: empty or `AES_GCM` (the Advance forms have no such field: empty).
    pub algorithm: &'a str,
    /// `KeyPairSpec` (required): `RSA_2048`, `RSA_3072`, `EC_P256`, `EC_P256K` or `EC_SM2`.
    pub key_pair_spec: &'a str,
    /// `KeyFormat`: `PEM` (the default when empty) or `DER`.
    pub key_format: &'a str,
    /// `Aad`: at most 8192 bytes, the associated data of the seal.
    pub aad: &'a [u8],
}

/// What the GenerateDataKeyPair family returns.
#[derive(Debug)]
pub struct GenerateDataKeyPairResponse {
    /// The sealing key's canonical ID.
    pub key_id: KeyId,
    /// The version that sealed (the Advance responses' `KeyVersionId`, and the
    /// `x-kms-migrationkeyversionid` response header).
    pub key_version_id: KeyVersionId,
    /// The IV of the seal.
    pub iv: Iv,
    /// The key pair's spec.
    pub key_pair_spec: AsymmetricSpec,
    /// The format of both halves.
    pub key_format: KeyFormat,
    /// The private key (PKCS#8, PEM or DER); `None` for the WithoutPlaintext forms. Zeroized
    /// on drop.
    pub private_key_plaintext: Option<SecretBytesBuf>,
    /// The private key sealed: `ciphertext || tag`, or the Advance blob.
    pub private_key_ciphertext_blob: Vec<u8>,
    /// The public key (SPKI, PEM or DER).
    pub public_key: Vec<u8>,
    /// `AES_GCM`.
    pub algorithm: &'static str,
    /// The request ID.
    pub request_id: RequestId,
}

/// The checked fields of a data key pair request.
struct PairFields<'a> {
    reference: KeyReference<'a>,
    spec: AsymmetricSpec,
    format: KeyFormat,
    algorithm: &'static str,
    aad: &'a [u8],
}

fn pair_fields<'a>(params: &GenerateDataKeyPairParams<'a>) -> Result<PairFields<'a>, Error> {
    let reference = key_reference(params.key_id)?;
    let spec = AsymmetricSpec::from_name(required(params.key_pair_spec, Parameter::KeyPairSpec)?)
        .ok_or(Error::InvalidParameter(Parameter::KeyPairSpec))?;
    let format = match params.key_format {
        "" => KeyFormat::Pem,
        text => KeyFormat::from_name(text).ok_or(Error::InvalidParameter(Parameter::KeyFormat))?,
    };
    let algorithm = algorithm(params.algorithm)?;
    let aad = super::aad(params.aad)?;
    Ok(PairFields {
        reference,
        spec,
        format,
        algorithm,
        aad,
    })
}

/// `der` as PEM with `label`: Base64 in lines of 64 characters, LF line endings, a final LF,
/// built in one zeroizing buffer of its exact length.
fn pem(label: &str, der: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let internal = Error::InternalFailure(Internal::Provider);
    let base64_len = Base64::encoded_len(der);
    let mut base64 = Zeroizing::new(alloc::vec![0u8; base64_len]);
    Base64::encode(der, &mut base64).map_err(|_| internal)?;
    let lines = base64_len.div_ceil(64);
    let len = "-----BEGIN -----\n".len()
        + label.len()
        + base64_len
        + lines
        + "-----END -----\n".len()
        + label.len();
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    out.extend_from_slice(b"-----BEGIN ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
    for line in base64.chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(b"-----END ");
    out.extend_from_slice(label.as_bytes());
    out.extend_from_slice(b"-----\n");
    Ok(out)
}

/// The two halves of `key_pair` in `format`: (private, public).
fn encode_pair(
    key_pair: &PrivateKey,
    format: KeyFormat,
) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), Error> {
    let internal = |_| Error::InternalFailure(Internal::Provider);
    let private = key_pair.to_pkcs8_der().map_err(internal)?;
    let public = key_pair.public_key();
    Ok(match format {
        KeyFormat::Der => (private, public.to_spki_der().map_err(internal)?),
        KeyFormat::Pem => (
            pem("PRIVATE KEY", &private)?,
            public.to_pem().map_err(internal)?.into_bytes(),
        ),
    })
}

/// Steps 1 to 4 of a data key pair request: the fields, then the sealing key (resolved in the
/// instance, the permission, its state and usage). Returns the spec of the pair to generate.
/// A frontend calls it before generating the pair outside its locks (RSA key generation takes a
/// while), then [`seal_data_key_pair`], which checks everything again.
///
/// # Errors
/// `MissingParameter` `KeyId` or `KeyPairSpec`; `InvalidParameter` `KeyId`, `KeyPairSpec`,
/// `KeyFormat`, `Algorithm` or `Aad`; the resolution, permission, state and usage errors
/// (`UnsupportedOperation` for an asymmetric key).
pub fn check_data_key_pair<P: KeyProvider + ?Sized>(
    provider: &P,
    scope: &Scope<'_>,
    operation: DataKeyPairOperation,
    params: &GenerateDataKeyPairParams<'_>,
) -> Result<AsymmetricSpec, Error> {
    let fields = pair_fields(params)?;
    super::authorize(
        provider,
        scope,
        Resolving::key(&scope.caller, &fields.reference),
        operation.permission(),
    )?;
    Ok(fields.spec)
}

/// Seals `key_pair` (of the request's `KeyPairSpec`, generated by the caller) for a data key
/// pair request: checks the fields and the sealing key as [`check_data_key_pair`], encodes both
/// halves in the requested format, and seals the private key with the request's `Aad` under the
/// key's primary version, in the basic or the Advance blob as Encrypt or AdvanceEncrypt would.
///
/// # Errors
/// As [`check_data_key_pair`]; `InvalidParameter KeyPairSpec` when `key_pair` is of another
/// spec; a provider or RNG failure.
pub fn seal_data_key_pair<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    operation: DataKeyPairOperation,
    params: &GenerateDataKeyPairParams<'_>,
    key_pair: &PrivateKey,
    rng: &mut R,
) -> Result<GenerateDataKeyPairResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let fields = pair_fields(params)?;
    if key_pair.spec() != fields.spec {
        return Err(Error::InvalidParameter(Parameter::KeyPairSpec));
    }
    let key = super::authorize(
        provider,
        scope,
        Resolving::key(&scope.caller, &fields.reference),
        operation.permission(),
    )?;
    let (private, public_key) = encode_pair(key_pair, fields.format)?;
    let (iv, private_key_ciphertext_blob) = super::seal_blob(
        provider,
        &key,
        fields.aad,
        &private,
        None,
        rng,
        operation.form(),
    )?;
    let private_key_plaintext = operation
        .with_plaintext()
        .then(|| SecretBytesBuf::new(private.to_vec()));
    Ok(GenerateDataKeyPairResponse {
        key_id: key.key_id(),
        key_version_id: key.version(),
        iv,
        key_pair_spec: fields.spec,
        key_format: fields.format,
        private_key_plaintext,
        private_key_ciphertext_blob,
        public_key,
        algorithm: fields.algorithm,
        request_id: RequestId::random(rng)?,
    })
}

/// A data key pair request in one call: [`check_data_key_pair`], a fresh key pair of the
/// requested spec from `rng`, then [`seal_data_key_pair`].
///
/// # Errors
/// As [`seal_data_key_pair`].
pub fn generate_data_key_pair<P, R>(
    provider: &P,
    scope: &Scope<'_>,
    operation: DataKeyPairOperation,
    params: &GenerateDataKeyPairParams<'_>,
    rng: &mut R,
) -> Result<GenerateDataKeyPairResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let spec = check_data_key_pair(provider, scope, operation, params)?;
    let key_pair = PrivateKey::generate(spec, rng).map_err(|_| Error::from(crate::RngError))?;
    seal_data_key_pair(provider, scope, operation, params, &key_pair, rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_exactly() {
        for t in [MessageType::Raw, MessageType::Digest] {
            assert_eq!(MessageType::from_name(t.name()), Some(t));
        }
        assert_eq!(MessageType::from_name("raw"), None);
        for f in [KeyFormat::Pem, KeyFormat::Der] {
            assert_eq!(KeyFormat::from_name(f.name()), Some(f));
        }
        assert_eq!(KeyFormat::from_name("pem"), None);
        assert!(is_asymmetric_algorithm("RSAES_OAEP_SHA_256"));
        assert!(is_asymmetric_algorithm("SM2PKE"));
        assert!(!is_asymmetric_algorithm("AES_GCM"));
        assert!(!is_asymmetric_algorithm(""));
    }

    #[test]
    fn pem_lines_are_64_characters_and_the_length_is_exact() {
        for n in [0usize, 1, 47, 48, 49, 1218] {
            let der = alloc::vec![0xabu8; n];
            let out = pem("PRIVATE KEY", &der).unwrap();
            assert_eq!(out.len(), out.capacity());
            let text = core::str::from_utf8(&out).unwrap();
            assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            assert!(text.ends_with("-----END PRIVATE KEY-----\n"));
            let body: Vec<&str> = text.lines().filter(|l| !l.starts_with("-----")).collect();
            assert!(body.iter().all(|l| l.len() <= 64));
            assert!(body.iter().rev().skip(1).all(|l| l.len() == 64));
            assert_eq!(Base64::decode_vec(&body.concat()).unwrap(), der);
        }
    }

    #[test]
    fn signing_input_rules() {
        let d = [7u8; 32];
        assert_eq!(
            signing_input(&[], b"m", ""),
            Ok((MessageType::Raw, &b"m"[..]))
        );
        assert_eq!(
            signing_input(&[], &d, "DIGEST"),
            Ok((MessageType::Digest, &d[..]))
        );
        assert_eq!(
            signing_input(&d, &[], ""),
            Ok((MessageType::Digest, &d[..]))
        );
        assert_eq!(
            signing_input(&d, &[], "DIGEST"),
            Ok((MessageType::Digest, &d[..]))
        );
        let invalid = |p| Err(Error::InvalidParameter(p));
        assert_eq!(
            signing_input(&d, &[], "RAW"),
            invalid(Parameter::MessageType)
        );
        assert_eq!(signing_input(&d, b"m", ""), invalid(Parameter::Digest));
        assert_eq!(signing_input(&d[..31], &[], ""), invalid(Parameter::Digest));
        assert_eq!(
            signing_input(&[], b"m", "DIGEST"),
            invalid(Parameter::Message)
        );
        assert_eq!(
            signing_input(&[], b"m", "Raw"),
            invalid(Parameter::MessageType)
        );
        assert_eq!(
            signing_input(&[], &[], ""),
            Err(Error::MissingParameter(Parameter::Message))
        );
    }
}
