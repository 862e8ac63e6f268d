//! Encrypt: seals the caller's `Plaintext` string, as given, under the master key's primary
//! version.

use rand_core::TryCryptoRng;

#[cfg(feature = "alloc")]
use super::CiphertextResponse;
use super::{BODY, aad_len_bound, authorize_key, check_workspace, end_checks, request_id};
use super::{CiphertextOutput, seal_blob, take};
use crate::blob::{self, MAX_SEALED_LEN, OVERHEAD};
use crate::key_id::KeyReference;
use crate::provider::{Action, KeyProvider};
use crate::{Caller, Error, Parameter, RequestId};

/// An Encrypt request, its parameters as the text that came over the wire.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct EncryptRequest<'a> {
    /// `KeyId` (required): a key ID, alias, key ARN or alias ARN.
    pub key_id: Option<&'a str>,
    /// `Plaintext` (required): 1..=6144 bytes of text, sealed exactly as given.
    pub plaintext: Option<&'a str>,
    /// `EncryptionContext`: a JSON object of strings.
    pub encryption_context: Option<&'a str>,
    /// `DryRun`: `true` or `false`.
    pub dry_run: Option<&'a str>,
    /// The frontend's request ID; when `None`, one is drawn from the RNG.
    pub request_id: Option<RequestId>,
}

impl core::fmt::Debug for EncryptRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptRequest")
            .field("key_id", &self.key_id)
            .field("plaintext", &self.plaintext.map(|_| "[REDACTED]"))
            .field("encryption_context", &self.encryption_context)
            .field("dry_run", &self.dry_run)
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl<'a> EncryptRequest<'a> {
    /// A request to seal `plaintext` under `key_id` with the empty context.
    pub fn new(key_id: &'a str, plaintext: &'a str) -> Self {
        Self {
            key_id: Some(key_id),
            plaintext: Some(plaintext),
            ..Self::default()
        }
    }

    /// How many workspace bytes [`encrypt_in`] needs for this request: the associated data, the
    /// blob and its Base64 text.
    pub fn workspace_len(&self) -> usize {
        let len = self.plaintext.map_or(0, str::len).min(MAX_SEALED_LEN);
        aad_len_bound(self.encryption_context) + OVERHEAD + len + blob::base64_len(OVERHEAD + len)
    }
}

/// What Encrypt returns (no allocation).
pub type EncryptOutput<'w> = CiphertextOutput<'w>;

/// What Encrypt returns, owned (with `alloc`).
#[cfg(feature = "alloc")]
pub type EncryptResponse = CiphertextResponse;

/// Encrypt into a caller-provided workspace, without allocating. Parameters are checked in the
/// order `KeyId`, `Plaintext`, `EncryptionContext` **\[decided\]**. Draws the IV, then the request
/// ID, from `rng`.
///
/// # Errors
/// Any error of spec §8 that Encrypt can produce (`MissingParameter Plaintext`, and
/// `InvalidParameter Plaintext` for an empty or over-6144-byte text, among them), and
/// [`Error::WorkspaceTooSmall`].
pub fn encrypt_in<'w, P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &EncryptRequest<'_>,
    rng: &mut R,
    mut workspace: &'w mut [u8],
) -> Result<EncryptOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = super::parse_dry_run(request.dry_run)?;
    let checks = (|| {
        let key_id = request
            .key_id
            .ok_or(Error::MissingParameter(Parameter::KeyId))?;
        let reference = KeyReference::parse(key_id, Parameter::KeyId)?;
        let plaintext = request
            .plaintext
            .ok_or(Error::MissingParameter(Parameter::Plaintext))?;
        if !(blob::MIN_SEALED_LEN..=MAX_SEALED_LEN).contains(&plaintext.len()) {
            return Err(Error::InvalidParameter(Parameter::Plaintext));
        }
        check_workspace(workspace, request.workspace_len())?;
        let aad = super::write_context(
            request.encryption_context,
            &mut workspace,
            Parameter::EncryptionContext,
        )?;
        let key = authorize_key(provider, caller, &reference, Action::Encrypt)?;
        Ok((key, aad, plaintext))
    })();
    let (key, aad, plaintext) = end_checks(dry_run, checks)?;
    let blob_bytes = take(&mut workspace, OVERHEAD + plaintext.len())?;
    let blob_text = take(&mut workspace, blob::base64_len(OVERHEAD + plaintext.len()))?;
    blob_bytes[BODY..BODY + plaintext.len()].copy_from_slice(plaintext.as_bytes());
    let ciphertext_blob = seal_blob(provider, rng, &key, aad, blob_bytes, blob_text)?;
    Ok(CiphertextOutput {
        key_id: key.key_id(),
        key_version_id: key.version(),
        ciphertext_blob,
        request_id: request_id(request.request_id, rng)?,
    })
}

/// Encrypt, returning an owned response (with `alloc`).
///
/// # Errors
/// As [`encrypt_in`], less `WorkspaceTooSmall`.
#[cfg(feature = "alloc")]
pub fn encrypt<P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &EncryptRequest<'_>,
    rng: &mut R,
) -> Result<EncryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    super::with_workspace(request.workspace_len(), |ws| {
        encrypt_in(provider, caller, request, rng, ws).map(Into::into)
    })
}
