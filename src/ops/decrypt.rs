//! Decrypt: opens a CiphertextBlob with the key version it names.

use rand_core::TryCryptoRng;

use super::{aad_len_bound, authorize_version, check_workspace, end_checks, request_id, take};
use crate::blob::{self, Blob, VERSION_ID_LEN};
use crate::provider::{Action, KeyProvider};
use crate::secret::SecretText;
use crate::{Caller, Error, KeyId, KeyVersionId, Parameter, RequestId, UsableKey};

/// A Decrypt request, its parameters as the text that came over the wire. There is no `KeyId`:
/// the blob names its key version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptRequest<'a> {
    /// `CiphertextBlob` (required): Base64 of a blob.
    pub ciphertext_blob: Option<&'a str>,
    /// `EncryptionContext`: must be equivalent to the sealing context.
    pub encryption_context: Option<&'a str>,
    /// `DryRun`: `true` or `false`.
    pub dry_run: Option<&'a str>,
    /// The frontend's request ID; when `None`, one is drawn from the RNG.
    pub request_id: Option<RequestId>,
}

impl<'a> DecryptRequest<'a> {
    /// A request to open `ciphertext_blob` with the empty context.
    pub fn new(ciphertext_blob: &'a str) -> Self {
        Self {
            ciphertext_blob: Some(ciphertext_blob),
            ..Self::default()
        }
    }

    /// How many workspace bytes [`decrypt_in`] needs for this request: the associated data and
    /// the decoded blob.
    pub fn workspace_len(&self) -> usize {
        parse_blob_len(self.ciphertext_blob, self.encryption_context)
    }
}

/// What Decrypt returns, borrowed from the workspace (no allocation).
#[derive(Debug)]
pub struct DecryptOutput<'w> {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version named in the blob, primary or not.
    pub key_version_id: KeyVersionId,
    /// `Plaintext`: the text that was sealed. Zeroized on drop.
    pub plaintext: SecretText<'w>,
    /// The request ID.
    pub request_id: RequestId,
}

/// A blob and its context after step 1: decoded, with the associated data written.
pub(crate) struct ParsedBlob<'w> {
    pub(crate) version: KeyVersionId,
    pub(crate) aad: &'w mut [u8],
    pub(crate) bytes: &'w mut [u8],
}

/// The workspace [`parse_blob`] takes.
pub(crate) fn parse_blob_len(blob_text: Option<&str>, context: Option<&str>) -> usize {
    let blob_text = blob_text.map_or(0, str::len);
    aad_len_bound(context) + blob::decoded_len_bound(blob_text.min(blob::MAX_BLOB_BASE64_LEN))
}

/// Step 1 for a blob and the context it is opened with: decode the blob into the workspace and
/// write the associated data. Shared by Decrypt and ReEncrypt.
pub(crate) fn parse_blob<'w>(
    blob_text: Option<&str>,
    context: Option<&str>,
    context_parameter: Parameter,
    workspace: &mut &'w mut [u8],
) -> Result<ParsedBlob<'w>, Error> {
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let blob_text = blob_text.ok_or(Error::MissingParameter(Parameter::CiphertextBlob))?;
    if blob_text.len() > blob::MAX_BLOB_BASE64_LEN {
        return Err(invalid_blob);
    }
    check_workspace(workspace, parse_blob_len(Some(blob_text), context))?;
    let blob_buf = take(workspace, blob::decoded_len_bound(blob_text.len()))?;
    let blob = Blob::decode_base64(blob_text, blob_buf).map_err(|_| invalid_blob)?;
    let (version, used) = (blob.version(), blob.as_bytes().len());
    let aad = super::write_context(context, workspace, context_parameter)?;
    aad[..VERSION_ID_LEN].copy_from_slice(version.as_bytes());
    Ok(ParsedBlob {
        version,
        aad,
        bytes: &mut blob_buf[..used],
    })
}

/// Step 5 of Decrypt and of ReEncrypt's source side: opens the blob in place and returns the
/// plaintext text. Text that is not UTF-8 cannot have been sealed by this API, so it is refused
/// as an invalid blob **\[decided\]**.
pub(crate) fn open_blob<'w, P: KeyProvider + ?Sized>(
    provider: &P,
    key: &UsableKey,
    aad: &[u8],
    blob_bytes: &'w mut [u8],
) -> Result<SecretText<'w>, Error> {
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let blob = Blob::from_bytes(blob_bytes).map_err(|_| invalid_blob)?;
    let (iv, tag, sealed_len) = (*blob.iv(), *blob.tag(), blob.sealed_len());
    let start = VERSION_ID_LEN + blob::IV_LEN;
    let body = &mut blob_bytes[start..start + sealed_len];
    provider.open(key, &iv, aad, body, &tag)?;
    if core::str::from_utf8(body).is_err() {
        zeroize::Zeroize::zeroize(body);
        return Err(invalid_blob);
    }
    core::str::from_utf8_mut(body)
        .map(SecretText::new)
        .map_err(|_| invalid_blob)
}

/// Decrypt into a caller-provided workspace, without allocating.
///
/// A dry run decodes the blob and resolves its version, but does not open it. Draws from `rng`
/// only the request ID, and only when the request supplies none.
///
/// # Errors
/// Any error of spec §8 that Decrypt can produce, and [`Error::WorkspaceTooSmall`] when
/// `workspace` is shorter than [`DecryptRequest::workspace_len`].
pub fn decrypt_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    request: &DecryptRequest<'_>,
    rng: &mut R,
    mut workspace: &'w mut [u8],
) -> Result<DecryptOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = super::parse_dry_run(request.dry_run)?;
    let checks = parse_blob(
        request.ciphertext_blob,
        request.encryption_context,
        Parameter::EncryptionContext,
        &mut workspace,
    )
    .and_then(|blob| {
        let key = authorize_version(provider, caller, &blob.version, Action::Decrypt)?;
        Ok((key, blob))
    });
    let (key, blob) = end_checks(dry_run, checks)?;
    let plaintext = open_blob(provider, &key, blob.aad, blob.bytes)?;
    Ok(DecryptOutput {
        key_id: key.key_id(),
        key_version_id: key.version(),
        plaintext,
        request_id: request_id(request.request_id, rng)?,
    })
}

/// What Decrypt returns, owned (with `alloc`). Serializes (with `serde`) as `KeyId`,
/// `KeyVersionId`, `Plaintext`, `RequestId`.
#[cfg(feature = "alloc")]
#[derive(Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct DecryptResponse {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version named in the blob.
    pub key_version_id: KeyVersionId,
    /// `Plaintext`: the text that was sealed.
    pub plaintext: crate::SecretString,
    /// The request ID.
    pub request_id: RequestId,
}

/// Decrypt, returning an owned response (with `alloc`). Allocates twice: the workspace
/// (zeroized and freed before returning) and the plaintext.
///
/// # Errors
/// Any error of spec §8 that Decrypt can produce.
#[cfg(feature = "alloc")]
pub fn decrypt<P, R>(
    provider: &P,
    caller: &Caller<'_>,
    request: &DecryptRequest<'_>,
    rng: &mut R,
) -> Result<DecryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    super::with_workspace(request.workspace_len(), |ws| {
        let out = decrypt_in(provider, caller, request, rng, ws)?;
        Ok(DecryptResponse {
            key_id: out.key_id,
            key_version_id: out.key_version_id,
            plaintext: crate::SecretString::new(out.plaintext.expose()),
            request_id: out.request_id,
        })
    })
}
