//! Data keys for someone else (with the `rsa` feature): **GenerateAndExportDataKey** and
//! **ExportDataKey**, beside GenerateDataKey and Decrypt.
//!
//! GenerateAndExportDataKey is GenerateDataKey whose data key leaves twice: sealed in the
//! `CiphertextBlob` (exactly the blob GenerateDataKey would make, which Decrypt opens) and
//! wrapped under the caller's public key (`ExportedDataKey`); the plaintext never leaves the
//! core. ExportDataKey opens a data key's blob as Decrypt does (same checks, same errors) and
//! wraps the data key under the caller's public key.
//!
//! What is wrapped is the data key's raw bytes, which a cryptographic module imports; the
//! `CiphertextBlob` still seals the key's Base64 text, as GenerateDataKey's does (so an
//! `AsymmetricDecrypt` of the export, whose `Plaintext` is Base64, gives the text Decrypt
//! gives) **\[decided\]**.
//!
//! Alibaba's values (API 2016-01-20, the official SDK's models): `WrappingKeySpec` `RSA_2048`
//! or `EC_SM2`; `WrappingAlgorithm` `RSAES_OAEP_SHA_256`, `RSAES_OAEP_SHA_1` or `SM2PKE`;
//! `PublicKeyBlob` the Base64 of the public key (Alibaba's example is a DER
//! `SubjectPublicKeyInfo`). Decisions where Alibaba is silent, pinned by the tests and
//! `tests/vectors/export/`:
//!
//! - Parameters are checked in this order: GenerateAndExportDataKey `KeyId`, `NumberOfBytes` /
//!   `KeySpec`, `EncryptionContext`, then the wrapping; ExportDataKey `CiphertextBlob`,
//!   `EncryptionContext`, then the wrapping. The wrapping is `WrappingKeySpec`,
//!   `WrappingAlgorithm`, `PublicKeyBlob` (the key is read as a key of the named spec), each
//!   required (`MissingParameter`) and exact (case-sensitive; anything else
//!   `InvalidParameter`). `RSAES_PKCS1_V1_5` and `RSA_3072` are not Alibaba's values here:
//!   `InvalidParameter`.
//! - SM2 (`EC_SM2`, `SM2PKE`) is Alibaba's but not modelled: `UnsupportedOperation` (400,
//!   `This action is not supported.`). An RSA spec with `SM2PKE`, or `EC_SM2` with an RSA
//!   algorithm, is `InvalidParameter WrappingAlgorithm`.
//! - `PublicKeyBlob` is canonical padded Base64 of a DER `SubjectPublicKeyInfo` holding an
//!   RSA key (`rsaEncryption`) whose modulus is exactly the spec's size, at most
//!   [`MAX_PUBLIC_KEY_BLOB_LEN`] characters; PEM, PKCS#1 `RSAPublicKey`, trailing bytes, another
//!   key size or an invalid exponent are `InvalidParameter PublicKeyBlob`. Nothing panics.
//! - A data key longer than the wrapping can carry (RSA-OAEP over a 2048-bit key: 190 bytes
//!   with SHA-256, 214 with SHA-1) is `InvalidParameter NumberOfBytes` before anything is
//!   resolved (GenerateAndExportDataKey), and `InvalidParameter CiphertextBlob` after the blob
//!   opened (ExportDataKey), as is a blob whose text is not a data key's Base64 (Encrypt's).
//! - Permissions: Alibaba publishes none for these two operations. GenerateAndExportDataKey
//!   asks `kms:GenerateDataKey` (a caller who may generate a data key in plaintext may have
//!   it wrapped instead) and ExportDataKey `kms:Decrypt` (it releases what the blob holds, as
//!   Decrypt does).
//! - RNG draws, in order: GenerateAndExportDataKey the data key, the IV (through the provider),
//!   the OAEP seed (32 bytes with SHA-256, 20 with SHA-1), then the request ID (wire, unless
//!   the frontend supplies one); ExportDataKey the OAEP seed, then the request ID. Dry runs
//!   and refusals draw nothing.

use alloc::string::String;
use alloc::vec::Vec;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;
use rsa::traits::PublicKeyParts;
use zeroize::Zeroizing;

use crate::blob::BlobBuf;
use crate::context::ContextBuf;
use crate::ops::{self, DecryptRequest, GenerateDataKeyRequest, Outcome};
use crate::provider::KeyProvider;
use crate::wire::{parse_dry_run, ran, request_id, required};
use crate::{Caller, DataKeyLength, Error, KeyId, KeyReference, KeyVersionId, Parameter};
use crate::{Permission, RequestId};

/// The longest `PublicKeyBlob`, in Base64 characters: room for an RSA key of 4096 bits in a
/// `SubjectPublicKeyInfo` (about 736 characters) and more, so a longer text is refused
/// unread.
pub const MAX_PUBLIC_KEY_BLOB_LEN: usize = 2048;

/// `WrappingKeySpec`: the type of the caller's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrappingKeySpec {
    /// `RSA_2048`.
    Rsa2048,
    /// `EC_SM2` (Alibaba's; not modelled here: `UnsupportedOperation`).
    EcSm2,
}

impl WrappingKeySpec {
    /// The spec `text` names, exactly (case-sensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RSA_2048" => Some(Self::Rsa2048),
            "EC_SM2" => Some(Self::EcSm2),
            _ => None,
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rsa2048 => "RSA_2048",
            Self::EcSm2 => "EC_SM2",
        }
    }
}

/// `WrappingAlgorithm`: how the data key is encrypted under the caller's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WrappingAlgorithm {
    /// `RSAES_OAEP_SHA_256`: RSA-OAEP, SHA-256 for the label hash and MGF1, empty label.
    RsaesOaepSha256,
    /// `RSAES_OAEP_SHA_1`: RSA-OAEP, SHA-1 for the label hash and MGF1, empty label.
    RsaesOaepSha1,
    /// `SM2PKE` (Alibaba's; not modelled here: `UnsupportedOperation`).
    Sm2Pke,
}

impl WrappingAlgorithm {
    /// The algorithm `text` names, exactly (case-sensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "RSAES_OAEP_SHA_256" => Some(Self::RsaesOaepSha256),
            "RSAES_OAEP_SHA_1" => Some(Self::RsaesOaepSha1),
            "SM2PKE" => Some(Self::Sm2Pke),
            _ => None,
        }
    }

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            Self::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            Self::Sm2Pke => "SM2PKE",
        }
    }

    /// How many RNG bytes one wrap draws: the OAEP seed, as long as the hash.
    pub const fn seed_len(self) -> usize {
        match self {
            Self::RsaesOaepSha256 => 32,
            Self::RsaesOaepSha1 => 20,
            Self::Sm2Pke => 0,
        }
    }
}

/// A caller's public key, checked against its `WrappingKeySpec` and paired with the
/// `WrappingAlgorithm` to wrap under: step 1 of the two export operations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WrappingKey {
    key: rsa::PublicKey,
    spec: WrappingKeySpec,
    algorithm: WrappingAlgorithm,
}

impl WrappingKey {
    /// The key a DER `SubjectPublicKeyInfo` holds, for `spec` and `algorithm`.
    ///
    /// # Errors
    /// `UnsupportedOperation` for SM2; `InvalidParameter WrappingAlgorithm` for an algorithm
    /// of another key type; `InvalidParameter PublicKeyBlob` for anything but an RSA key of
    /// the spec's size.
    pub fn from_der(
        der: &[u8],
        spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
    ) -> Result<Self, Error> {
        check_pair(spec, algorithm)?;
        let invalid = Error::InvalidParameter(Parameter::PublicKeyBlob);
        let key = <rsa::PublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(der)
            .map_err(|_| invalid)?;
        let bits = match spec {
            WrappingKeySpec::Rsa2048 => 2048,
            WrappingKeySpec::EcSm2 => return Err(Error::UnsupportedOperation),
        };
        if key.n().bit_width_vartime() as usize != bits {
            return Err(invalid);
        }
        Ok(Self {
            key,
            spec,
            algorithm,
        })
    }

    /// The key a `PublicKeyBlob` (canonical padded Base64 of a DER `SubjectPublicKeyInfo`)
    /// holds, for `spec` and `algorithm`.
    ///
    /// # Errors
    /// As [`WrappingKey::from_der`]; `InvalidParameter PublicKeyBlob` for text that is not
    /// such Base64 or is longer than [`MAX_PUBLIC_KEY_BLOB_LEN`].
    pub fn from_base64(
        public_key_blob: &str,
        spec: WrappingKeySpec,
        algorithm: WrappingAlgorithm,
    ) -> Result<Self, Error> {
        check_pair(spec, algorithm)?;
        let invalid = Error::InvalidParameter(Parameter::PublicKeyBlob);
        if public_key_blob.len() > MAX_PUBLIC_KEY_BLOB_LEN {
            return Err(invalid);
        }
        let der = Base64::decode_vec(public_key_blob).map_err(|_| invalid)?;
        Self::from_der(&der, spec, algorithm)
    }

    /// Parses the wire's three wrapping parameters in their order: `WrappingKeySpec`,
    /// `WrappingAlgorithm`, `PublicKeyBlob`.
    ///
    /// # Errors
    /// `MissingParameter` or `InvalidParameter` for each; `UnsupportedOperation` for SM2.
    pub fn from_params(
        wrapping_key_spec: Option<&str>,
        wrapping_algorithm: Option<&str>,
        public_key_blob: Option<&str>,
    ) -> Result<Self, Error> {
        let spec = WrappingKeySpec::parse(required(wrapping_key_spec, Parameter::WrappingKeySpec)?)
            .ok_or(Error::InvalidParameter(Parameter::WrappingKeySpec))?;
        let algorithm =
            WrappingAlgorithm::parse(required(wrapping_algorithm, Parameter::WrappingAlgorithm)?)
                .ok_or(Error::InvalidParameter(Parameter::WrappingAlgorithm))?;
        check_pair(spec, algorithm)?;
        Self::from_base64(
            required(public_key_blob, Parameter::PublicKeyBlob)?,
            spec,
            algorithm,
        )
    }

    /// The key's spec.
    pub fn spec(&self) -> WrappingKeySpec {
        self.spec
    }

    /// The algorithm it wraps with.
    pub fn algorithm(&self) -> WrappingAlgorithm {
        self.algorithm
    }

    /// The longest data key this key and algorithm can wrap: `k - 2·hLen - 2` bytes for
    /// RSA-OAEP (190 with SHA-256 and 214 with SHA-1 under a 2048-bit key).
    pub fn max_data_key_len(&self) -> usize {
        self.key
            .size()
            .saturating_sub(2 * self.algorithm.seed_len() + 2)
    }

    /// Wraps `data_key` under the key, drawing the OAEP seed from `rng` (and nothing else).
    ///
    /// # Errors
    /// `InvalidParameter NumberOfBytes` for a data key longer than
    /// [`max_data_key_len`](Self::max_data_key_len); `InternalFailure` when `rng` fails.
    pub fn wrap<R: TryCryptoRng + ?Sized>(
        &self,
        data_key: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, Error> {
        if data_key.len() > self.max_data_key_len() {
            return Err(Error::InvalidParameter(Parameter::NumberOfBytes));
        }
        let wrapped = match self.algorithm {
            WrappingAlgorithm::RsaesOaepSha256 => self
                .key
                .oaep_encrypt_with_rng::<sha2::Sha256, R>(rng, data_key),
            WrappingAlgorithm::RsaesOaepSha1 => self
                .key
                .oaep_encrypt_with_rng::<sha1::Sha1, R>(rng, data_key),
            WrappingAlgorithm::Sm2Pke => return Err(Error::UnsupportedOperation),
        };
        // The length was checked and the key is valid: only the RNG can fail here.
        wrapped.map_err(|_| Error::InternalFailure(crate::Internal::Rng))
    }
}

/// SM2 is not modelled; an algorithm must belong to its key type.
fn check_pair(spec: WrappingKeySpec, algorithm: WrappingAlgorithm) -> Result<(), Error> {
    match (spec, algorithm) {
        (WrappingKeySpec::EcSm2, WrappingAlgorithm::Sm2Pke) => Err(Error::UnsupportedOperation),
        (WrappingKeySpec::Rsa2048, WrappingAlgorithm::Sm2Pke)
        | (WrappingKeySpec::EcSm2, WrappingAlgorithm::RsaesOaepSha256)
        | (WrappingKeySpec::EcSm2, WrappingAlgorithm::RsaesOaepSha1) => {
            Err(Error::InvalidParameter(Parameter::WrappingAlgorithm))
        }
        (WrappingKeySpec::Rsa2048, _) => Ok(()),
    }
}

/// A GenerateAndExportDataKey request: GenerateDataKey's, and the key to export to.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct GenerateAndExportDataKeyRequest<'a> {
    /// The master key, the data key's length, the context and the dry run, as GenerateDataKey.
    pub generate: GenerateDataKeyRequest<'a>,
    /// The caller's public key and algorithm.
    pub wrapping_key: &'a WrappingKey,
}

impl<'a> GenerateAndExportDataKeyRequest<'a> {
    /// A request for `generate`'s data key, exported to `wrapping_key`.
    pub fn new(generate: GenerateDataKeyRequest<'a>, wrapping_key: &'a WrappingKey) -> Self {
        Self {
            generate,
            wrapping_key,
        }
    }
}

/// An ExportDataKey request: Decrypt's, and the key to export to.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct ExportDataKeyRequest<'a> {
    /// The blob, its context and the dry run, as Decrypt.
    pub decrypt: DecryptRequest<'a>,
    /// The caller's public key and algorithm.
    pub wrapping_key: &'a WrappingKey,
}

impl<'a> ExportDataKeyRequest<'a> {
    /// A request to export the data key `decrypt`'s blob holds to `wrapping_key`.
    pub fn new(decrypt: DecryptRequest<'a>, wrapping_key: &'a WrappingKey) -> Self {
        Self {
            decrypt,
            wrapping_key,
        }
    }
}

/// What GenerateAndExportDataKey returns. There is no plaintext: it was zeroized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneratedAndExported {
    /// The canonical ID of the master key.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The blob that holds the data key, as GenerateDataKey makes it.
    pub ciphertext_blob: BlobBuf,
    /// The data key wrapped under the caller's public key.
    pub exported_data_key: Vec<u8>,
}

/// What ExportDataKey returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exported {
    /// The canonical ID of the key whose version sealed the blob.
    pub key_id: KeyId,
    /// The version named in the blob, primary or not.
    pub key_version_id: KeyVersionId,
    /// The data key wrapped under the caller's public key.
    pub exported_data_key: Vec<u8>,
}

/// GenerateAndExportDataKey, typed: GenerateDataKey under `kms:GenerateDataKey` (same checks,
/// same blob, same seal budget), then the data key wrapped under the request's public key.
///
/// # Errors
/// `InvalidParameter NumberOfBytes` for a data key longer than the wrapping carries (before
/// anything else); otherwise as [`ops::generate_data_key`].
pub fn generate_and_export_data_key<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    request: &GenerateAndExportDataKeyRequest<'_>,
    rng: &mut R,
) -> Result<Outcome<GeneratedAndExported>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let generate = &request.generate;
    if generate.length.bytes() > request.wrapping_key.max_data_key_len() {
        return Err(Error::InvalidParameter(Parameter::NumberOfBytes));
    }
    let mut workspace = Zeroizing::new(alloc::vec![0u8; generate.workspace_len()]);
    let outcome = ops::generate_data_key_as_in(
        provider,
        caller,
        generate,
        rng,
        &mut workspace,
        Permission::GenerateDataKey,
    )?;
    let out = match outcome {
        Outcome::Done(out) => out,
        Outcome::DryRun(passed) => return Ok(Outcome::DryRun(passed)),
    };
    let exported_data_key = request.wrapping_key.wrap(out.data_key.expose(), rng)?;
    Ok(Outcome::Done(GeneratedAndExported {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: out.ciphertext_blob.to_owned(),
        exported_data_key,
    }))
}

/// ExportDataKey, typed: Decrypt under `kms:Decrypt` (same checks, same errors), then the data
/// key the blob holds wrapped under the request's public key.
///
/// # Errors
/// As [`ops::decrypt`]; `InvalidParameter CiphertextBlob` when the opened text is not the
/// Base64 of a data key the wrapping can carry.
pub fn export_data_key<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    request: &ExportDataKeyRequest<'_>,
    rng: &mut R,
) -> Result<Outcome<Exported>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let decrypt = &request.decrypt;
    let mut workspace = Zeroizing::new(alloc::vec![0u8; decrypt.workspace_len()]);
    let out = match ops::decrypt_in(provider, caller, decrypt, rng, &mut workspace)? {
        Outcome::Done(out) => out,
        Outcome::DryRun(passed) => return Ok(Outcome::DryRun(passed)),
    };
    let invalid = Error::InvalidParameter(Parameter::CiphertextBlob);
    let text = out.plaintext.expose();
    let mut data_key = Zeroizing::new(alloc::vec![0u8; text.len() / 4 * 3]);
    let len = Base64::decode(text, &mut data_key)
        .map_err(|_| invalid)?
        .len();
    if len == 0 || len > request.wrapping_key.max_data_key_len() {
        return Err(invalid);
    }
    let exported_data_key = request.wrapping_key.wrap(&data_key[..len], rng)?;
    Ok(Outcome::Done(Exported {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        exported_data_key,
    }))
}

crate::wire::wire_params!(
    /// The parameters of GenerateAndExportDataKey, as text.
    GenerateAndExportDataKeyParams {
        /// `KeyId` (required).
        key_id: KeyId,
        /// `KeySpec`: `AES_256` or `AES_128`; ignored when `NumberOfBytes` is given.
        key_spec: KeySpec,
        /// `NumberOfBytes`: 1..=1024, and no longer than the wrapping carries.
        number_of_bytes: NumberOfBytes,
        /// `EncryptionContext`: a JSON object of strings.
        encryption_context: EncryptionContext,
        /// `PublicKeyBlob` (required): Base64 of a DER `SubjectPublicKeyInfo`.
        public_key_blob: PublicKeyBlob,
        /// `WrappingAlgorithm` (required).
        wrapping_algorithm: WrappingAlgorithm,
        /// `WrappingKeySpec` (required).
        wrapping_key_spec: WrappingKeySpec,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

crate::wire::wire_params!(
    /// The parameters of ExportDataKey, as text.
    ExportDataKeyParams {
        /// `CiphertextBlob` (required): Base64 of a data key's blob.
        ciphertext_blob: CiphertextBlob,
        /// `EncryptionContext`: must be equivalent to the sealing context.
        encryption_context: EncryptionContext,
        /// `PublicKeyBlob` (required): Base64 of a DER `SubjectPublicKeyInfo`.
        public_key_blob: PublicKeyBlob,
        /// `WrappingAlgorithm` (required).
        wrapping_algorithm: WrappingAlgorithm,
        /// `WrappingKeySpec` (required).
        wrapping_key_spec: WrappingKeySpec,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

/// What GenerateAndExportDataKey puts on the wire. Serializes (with `serde`) as `KeyId`,
/// `KeyVersionId`, `CiphertextBlob`, `ExportedDataKey`, `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct GenerateAndExportDataKeyResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `CiphertextBlob`: Base64 of the blob.
    pub ciphertext_blob: String,
    /// `ExportedDataKey`: Base64 of the wrapped data key.
    pub exported_data_key: String,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What ExportDataKey puts on the wire. Serializes (with `serde`) as `KeyId`,
/// `KeyVersionId`, `ExportedDataKey`, `RequestId`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct ExportDataKeyResponse {
    /// `KeyId`.
    pub key_id: KeyId,
    /// `KeyVersionId`.
    pub key_version_id: KeyVersionId,
    /// `ExportedDataKey`: Base64 of the wrapped data key.
    pub exported_data_key: String,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// GenerateAndExportDataKey from text parameters: `DryRun` first, then the parameters in their
/// order (see the [module](self)), then [`generate_and_export_data_key`], then the request ID.
///
/// # Errors
/// Any error of spec §8 that GenerateDataKey can produce, the wrapping's
/// `MissingParameter` / `InvalidParameter` / `UnsupportedOperation`, with `DryRun` as §7 says.
pub fn generate_and_export_data_key_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GenerateAndExportDataKeyParams<'_>,
    rng: &mut R,
) -> Result<GenerateAndExportDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let step1 = |e: Error| if dry_run { e.in_dry_run() } else { e };
    let key = KeyReference::parse(
        required(params.key_id, Parameter::KeyId).map_err(step1)?,
        Parameter::KeyId,
    )
    .map_err(step1)?;
    let length = DataKeyLength::resolve(params.key_spec, params.number_of_bytes).map_err(step1)?;
    let context = ContextBuf::parse_json(params.encryption_context)
        .map_err(|_| step1(Error::InvalidParameter(Parameter::EncryptionContext)))?;
    let wrapping_key = WrappingKey::from_params(
        params.wrapping_key_spec,
        params.wrapping_algorithm,
        params.public_key_blob,
    )
    .map_err(step1)?;
    let generate = GenerateDataKeyRequest::new(key)
        .with_length(length)
        .with_context(&context)
        .with_dry_run(dry_run);
    let request = GenerateAndExportDataKeyRequest::new(generate, &wrapping_key);
    let out = ran(
        dry_run,
        generate_and_export_data_key(provider, caller, &request, rng),
    )?;
    Ok(GenerateAndExportDataKeyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: out.ciphertext_blob.as_blob().to_base64(),
        exported_data_key: Base64::encode_string(&out.exported_data_key),
        request_id: request_id(params.request_id, rng)?,
    })
}

/// ExportDataKey from text parameters: `DryRun` first, then `CiphertextBlob`,
/// `EncryptionContext` and the wrapping, then [`export_data_key`], then the request ID.
///
/// # Errors
/// Any error of spec §8 that Decrypt can produce, the wrapping's `MissingParameter` /
/// `InvalidParameter` / `UnsupportedOperation`, with `DryRun` as §7 says.
pub fn export_data_key_wire<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &ExportDataKeyParams<'_>,
    rng: &mut R,
) -> Result<ExportDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let step1 = |e: Error| if dry_run { e.in_dry_run() } else { e };
    let text = required(params.ciphertext_blob, Parameter::CiphertextBlob).map_err(step1)?;
    let invalid_blob = step1(Error::InvalidParameter(Parameter::CiphertextBlob));
    if text.len() > crate::blob::MAX_BLOB_BASE64_LEN {
        return Err(invalid_blob);
    }
    let blob = BlobBuf::from_base64(text).map_err(|_| invalid_blob)?;
    let context = ContextBuf::parse_json(params.encryption_context)
        .map_err(|_| step1(Error::InvalidParameter(Parameter::EncryptionContext)))?;
    let wrapping_key = WrappingKey::from_params(
        params.wrapping_key_spec,
        params.wrapping_algorithm,
        params.public_key_blob,
    )
    .map_err(step1)?;
    let decrypt = DecryptRequest::new(blob.as_blob())
        .with_context(&context)
        .with_dry_run(dry_run);
    let request = ExportDataKeyRequest::new(decrypt, &wrapping_key);
    let out = ran(dry_run, export_data_key(provider, caller, &request, rng))?;
    Ok(ExportDataKeyResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        exported_data_key: Base64::encode_string(&out.exported_data_key),
        request_id: request_id(params.request_id, rng)?,
    })
}
