//! GenerateDataKey: a fresh random data key, returned in plaintext and sealed under the master
//! key's primary version.

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;

#[cfg(feature = "alloc")]
use super::CiphertextResponse;
use super::{
    BODY, CiphertextOutput, aad_len_bound, authorize_key, check_workspace, end_checks, request_id,
    seal_blob, take, write_context,
};
use crate::blob::{self, OVERHEAD};
use crate::key_id::KeyReference;
use crate::provider::{Action, KeyProvider};
use crate::secret::{SecretSlice, SecretText};
use crate::spec::DataKeyLength;
use crate::{Caller, Error, KeyId, KeyVersionId, Parameter, RequestId, UsableKey};

/// A GenerateDataKey request, its parameters as the text that came over the wire. `None` is an
/// absent parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GenerateDataKeyRequest<'a> {
    /// `KeyId` (required): a key ID, alias, key ARN or alias ARN.
    pub key_id: Option<&'a str>,
    /// `KeySpec`: `AES_256` or `AES_128`; ignored when `NumberOfBytes` is given.
    pub key_spec: Option<&'a str>,
    /// `NumberOfBytes`: 1..=1024.
    pub number_of_bytes: Option<&'a str>,
    /// `EncryptionContext`: a JSON object of strings.
    pub encryption_context: Option<&'a str>,
    /// `DryRun`: `true` or `false`.
    pub dry_run: Option<&'a str>,
    /// The frontend's request ID; when `None`, one is drawn from the RNG.
    pub request_id: Option<RequestId>,
}

impl<'a> GenerateDataKeyRequest<'a> {
    /// A request for a default (32-byte) data key under `key_id`.
    pub fn new(key_id: &'a str) -> Self {
        Self {
            key_id: Some(key_id),
            ..Self::default()
        }
    }

    /// How many workspace bytes [`generate_data_key_in`] needs for this request: enough for the
    /// associated data, the raw key, its Base64 text, the blob and the blob's Base64 text.
    /// An invalid length parameter counts as the largest key.
    pub fn workspace_len(&self) -> usize {
        let len = DataKeyLength::resolve(self.key_spec, self.number_of_bytes)
            .unwrap_or(DataKeyLength::new(crate::spec::MAX_DATA_KEY_LEN).unwrap_or_default());
        layout_len(aad_len_bound(self.encryption_context), len)
    }
}

fn layout_len(aad_len: usize, len: DataKeyLength) -> usize {
    let text = len.base64_len();
    aad_len + len.bytes() + text + OVERHEAD + text + blob::base64_len(OVERHEAD + text)
}

/// What GenerateDataKey returns, borrowed from the workspace (no allocation).
#[derive(Debug)]
pub struct GenerateDataKeyOutput<'w> {
    /// The canonical ID of the master key.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The CiphertextBlob: Base64 of the blob.
    pub ciphertext_blob: &'w str,
    /// `Plaintext`: the Base64 text of the data key. Zeroized on drop.
    pub plaintext: SecretText<'w>,
    /// The raw data key bytes (what `Plaintext` encodes). Zeroized on drop.
    pub data_key: SecretSlice<'w>,
    /// The request ID.
    pub request_id: RequestId,
}

/// The outcome of steps 1 to 4.
pub(crate) struct Checked {
    pub(crate) key: UsableKey,
    pub(crate) len: DataKeyLength,
}

/// Step 1 and the checks of steps 2 to 4, shared by GenerateDataKey and
/// GenerateDataKeyWithoutPlaintext. Leaves the canonical context in `aad[36..]`.
pub(crate) fn check<'w, P: KeyProvider + ?Sized>(
    provider: &P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    action: Action,
    workspace: &mut &'w mut [u8],
) -> Result<(Checked, &'w mut [u8]), Error> {
    let key_id = request
        .key_id
        .ok_or(Error::MissingParameter(Parameter::KeyId))?;
    let reference = KeyReference::parse(key_id, Parameter::KeyId)?;
    let len = DataKeyLength::resolve(request.key_spec, request.number_of_bytes)?;
    check_workspace(workspace, request.workspace_len())?;
    let aad = write_context(
        request.encryption_context,
        workspace,
        Parameter::EncryptionContext,
    )?;
    let key = authorize_key(provider, caller, &reference, action)?;
    Ok((Checked { key, len }, aad))
}

/// GenerateDataKey into a caller-provided workspace, without allocating.
///
/// Draws from `rng`, in this order: the data key, the IV, then the request ID (unless the
/// request supplies one). The sealed text is the Base64 of the data key, so a 32-byte key makes
/// a 108-byte blob.
///
/// # Errors
/// Any error of spec §8 that GenerateDataKey can produce, and
/// [`Error::WorkspaceTooSmall`] when `workspace` is shorter than
/// [`GenerateDataKeyRequest::workspace_len`].
pub fn generate_data_key_in<'w, P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<GenerateDataKeyOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    generate(
        provider,
        caller,
        request,
        rng,
        workspace,
        Action::GenerateDataKey,
    )
}

/// GenerateDataKey and GenerateDataKeyWithoutPlaintext, which differ only in their permission
/// and in what they give back.
fn generate<'w, P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
    mut workspace: &'w mut [u8],
    action: Action,
) -> Result<GenerateDataKeyOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = super::parse_dry_run(request.dry_run)?;
    let checks = check(provider, caller, request, action, &mut workspace);
    let (checked, aad) = end_checks(dry_run, checks)?;
    let sealed = seal_new_data_key(provider, rng, &checked, aad, workspace)?;
    Ok(GenerateDataKeyOutput {
        key_id: checked.key.key_id(),
        key_version_id: checked.key.version(),
        ciphertext_blob: sealed.ciphertext_blob,
        plaintext: sealed.plaintext,
        data_key: sealed.data_key,
        request_id: request_id(request.request_id, rng)?,
    })
}

pub(crate) struct SealedDataKey<'w> {
    pub(crate) ciphertext_blob: &'w str,
    pub(crate) plaintext: SecretText<'w>,
    pub(crate) data_key: SecretSlice<'w>,
}

/// Step 5 of GenerateDataKey and GenerateDataKeyWithoutPlaintext: draw the key, encode it, seal
/// the text in a blob, encode the blob.
pub(crate) fn seal_new_data_key<'w, P, R>(
    provider: &mut P,
    rng: &mut R,
    checked_key: &Checked,
    aad: &mut [u8],
    mut workspace: &'w mut [u8],
) -> Result<SealedDataKey<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let Checked { key, len } = checked_key;
    let text_len = len.base64_len();
    let mut raw = SecretSlice::new(take(&mut workspace, len.bytes())?);
    let text = take(&mut workspace, text_len)?;
    let blob_bytes = take(&mut workspace, OVERHEAD + text_len)?;
    let blob_text = take(&mut workspace, blob::base64_len(OVERHEAD + text_len))?;

    rng.try_fill_bytes(raw.expose_mut())
        .map_err(|_| Error::InternalFailure)?;
    let text_len = Base64::encode(raw.expose(), text)
        .map_err(|_| Error::InternalFailure)?
        .len();
    let plaintext = SecretText::new(
        core::str::from_utf8_mut(&mut text[..text_len]).map_err(|_| Error::InternalFailure)?,
    );
    blob_bytes[BODY..BODY + text_len].copy_from_slice(plaintext.expose().as_bytes());
    // On failure, dropping `raw` and `plaintext` zeroizes them; `seal_blob` wipes the body.
    let ciphertext_blob = seal_blob(provider, rng, key, aad, blob_bytes, blob_text)?;
    Ok(SealedDataKey {
        ciphertext_blob,
        plaintext,
        data_key: raw,
    })
}

/// What GenerateDataKey returns, owned (with `alloc`). Serializes (with `serde`) to the wire
/// shape of the API page: `KeyId`, `KeyVersionId`, `CiphertextBlob`, `Plaintext`, `RequestId`.
#[cfg(feature = "alloc")]
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct GenerateDataKeyResponse {
    /// The canonical ID of the master key.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The CiphertextBlob: Base64 of the blob.
    pub ciphertext_blob: alloc::string::String,
    /// `Plaintext`: the Base64 text of the data key.
    pub plaintext: crate::SecretString,
    /// The request ID.
    pub request_id: RequestId,
}

#[cfg(feature = "alloc")]
impl GenerateDataKeyResponse {
    /// The raw data key: `Plaintext` decoded.
    pub fn data_key(&self) -> crate::SecretBytes {
        crate::SecretBytes::new(Base64::decode_vec(self.plaintext.expose()).unwrap_or_default())
    }
}

/// GenerateDataKey, returning an owned response (with `alloc`). Allocates three times: the
/// workspace (zeroized and freed before returning), the blob text and the plaintext text.
///
/// # Errors
/// Any error of spec §8 that GenerateDataKey can produce.
#[cfg(feature = "alloc")]
pub fn generate_data_key<P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
) -> Result<GenerateDataKeyResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    super::with_workspace(request.workspace_len(), |ws| {
        let out = generate_data_key_in(provider, caller, request, rng, ws)?;
        Ok(GenerateDataKeyResponse {
            key_id: out.key_id,
            key_version_id: out.key_version_id,
            ciphertext_blob: out.ciphertext_blob.into(),
            plaintext: crate::SecretString::new(out.plaintext.expose()),
            request_id: out.request_id,
        })
    })
}

/// What GenerateDataKeyWithoutPlaintext returns (no allocation): the blob only.
pub type GenerateDataKeyWithoutPlaintextOutput<'w> = CiphertextOutput<'w>;

/// What GenerateDataKeyWithoutPlaintext returns, owned (with `alloc`).
#[cfg(feature = "alloc")]
pub type GenerateDataKeyWithoutPlaintextResponse = CiphertextResponse;

/// GenerateDataKeyWithoutPlaintext into a caller-provided workspace, without allocating: as
/// [`generate_data_key_in`], with the same request and checks, but the data key never leaves
/// the workspace, which is zeroized before this returns. Needs the permission
/// `kms:GenerateDataKeyWithoutPlaintext`.
///
/// # Errors
/// As [`generate_data_key_in`].
pub fn generate_data_key_without_plaintext_in<'w, P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<CiphertextOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let action = Action::GenerateDataKeyWithoutPlaintext;
    // Dropping the secrets of the full output zeroizes the raw key and its text.
    generate(provider, caller, request, rng, workspace, action).map(|out| CiphertextOutput {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: out.ciphertext_blob,
        request_id: out.request_id,
    })
}

/// GenerateDataKeyWithoutPlaintext, returning an owned response (with `alloc`).
///
/// # Errors
/// As [`generate_data_key`].
#[cfg(feature = "alloc")]
pub fn generate_data_key_without_plaintext<P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
) -> Result<CiphertextResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    super::with_workspace(request.workspace_len(), |ws| {
        generate_data_key_without_plaintext_in(provider, caller, request, rng, ws).map(Into::into)
    })
}
