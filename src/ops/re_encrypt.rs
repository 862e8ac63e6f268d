//! ReEncrypt: opens a blob under its source key version and context and seals the same text
//! under a destination key's primary version and context, without the text leaving the core.

use rand_core::TryCryptoRng;

#[cfg(feature = "alloc")]
use super::CiphertextResponse;
use super::decrypt::{open_blob, parse_blob, parse_blob_len};
use super::{
    BODY, CiphertextOutput, Resolved, aad_len_bound, end_checks, request_id, seal_blob, take,
};
use crate::blob::{self, OVERHEAD};
use crate::key_id::KeyReference;
use crate::provider::{Action, KeyProvider};
use crate::{Caller, Error, Parameter, RequestId};

/// A ReEncrypt request, its parameters as the text that came over the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReEncryptRequest<'a> {
    /// `CiphertextBlob` (required): the blob to move.
    pub ciphertext_blob: Option<&'a str>,
    /// `DestinationKeyId` (required): a key ID, alias, key ARN or alias ARN.
    pub destination_key_id: Option<&'a str>,
    /// `SourceEncryptionContext`: the context the blob was sealed with.
    pub source_encryption_context: Option<&'a str>,
    /// `DestinationEncryptionContext`: the context to seal the new blob with.
    pub destination_encryption_context: Option<&'a str>,
    /// `DryRun`: `true` or `false`.
    pub dry_run: Option<&'a str>,
    /// The frontend's request ID; when `None`, one is drawn from the RNG.
    pub request_id: Option<RequestId>,
}

impl<'a> ReEncryptRequest<'a> {
    /// A request to move `ciphertext_blob` under `destination_key_id`, both contexts empty.
    pub fn new(ciphertext_blob: &'a str, destination_key_id: &'a str) -> Self {
        Self {
            ciphertext_blob: Some(ciphertext_blob),
            destination_key_id: Some(destination_key_id),
            ..Self::default()
        }
    }

    /// How many workspace bytes [`re_encrypt_in`] needs for this request: the source blob and
    /// its associated data, the destination's associated data, blob and Base64 text.
    pub fn workspace_len(&self) -> usize {
        let blob_text = self.ciphertext_blob.map_or(0, str::len);
        let dest_blob = blob::decoded_len_bound(blob_text.min(blob::MAX_BLOB_BASE64_LEN));
        parse_blob_len(self.ciphertext_blob, self.source_encryption_context)
            + aad_len_bound(self.destination_encryption_context)
            + dest_blob
            + blob::base64_len(dest_blob)
    }
}

/// What ReEncrypt returns (no allocation): the destination's key, version (its primary
/// **\[decided\]**) and blob.
pub type ReEncryptOutput<'w> = CiphertextOutput<'w>;

/// What ReEncrypt returns, owned (with `alloc`).
#[cfg(feature = "alloc")]
pub type ReEncryptResponse = CiphertextResponse;

/// ReEncrypt into a caller-provided workspace, without allocating.
///
/// Parameters are checked in the order `CiphertextBlob`, `SourceEncryptionContext`,
/// `DestinationKeyId`, `DestinationEncryptionContext` **\[decided\]**. Then, as spec §7 orders
/// them, both keys are resolved (source, then destination), both permissions checked
/// (`kms:ReEncryptFrom` on the source, `kms:ReEncryptTo` on the destination), and both keys'
/// state and usage checked, before the blob is opened and sealed again. The opened text stays in
/// the workspace and is zeroized before this returns.
///
/// # Errors
/// Any error of spec §8 that ReEncrypt can produce, and [`Error::WorkspaceTooSmall`].
pub fn re_encrypt_in<'w, P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &ReEncryptRequest<'_>,
    rng: &mut R,
    mut workspace: &'w mut [u8],
) -> Result<ReEncryptOutput<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = super::parse_dry_run(request.dry_run)?;
    let checks = (|| {
        super::check_workspace(workspace, request.workspace_len())?;
        let source = parse_blob(
            request.ciphertext_blob,
            request.source_encryption_context,
            Parameter::SourceEncryptionContext,
            &mut workspace,
        )?;
        let destination_id = request
            .destination_key_id
            .ok_or(Error::MissingParameter(Parameter::DestinationKeyId))?;
        let destination_ref = KeyReference::parse(destination_id, Parameter::DestinationKeyId)?;
        let dest_context = request.destination_encryption_context;
        let dest_aad = super::write_context(
            dest_context,
            &mut workspace,
            Parameter::DestinationEncryptionContext,
        )?;

        let from = Resolved::version(provider, caller, &source.version)?;
        let to = Resolved::key(provider, caller, &destination_ref)?;
        from.permit(provider, caller, Action::ReEncryptFrom)?;
        to.permit(provider, caller, Action::ReEncryptTo)?;
        let (from, to) = (from.usable()?, to.usable()?);
        Ok((from, to, source, dest_aad))
    })();
    let (from, to, source, dest_aad) = end_checks(dry_run, checks)?;

    let text = open_blob(provider, &from, source.aad, source.bytes)?;
    let len = text.len();
    let dest_blob = take(&mut workspace, OVERHEAD + len)?;
    let dest_text = take(&mut workspace, blob::base64_len(OVERHEAD + len))?;
    dest_blob[BODY..BODY + len].copy_from_slice(text.expose().as_bytes());
    drop(text);
    // Sealed in place: no plaintext is left behind, on success or failure.
    let ciphertext_blob = seal_blob(provider, rng, &to, dest_aad, dest_blob, dest_text)?;
    Ok(CiphertextOutput {
        key_id: to.key_id(),
        key_version_id: to.version(),
        ciphertext_blob,
        request_id: request_id(request.request_id, rng)?,
    })
}

/// ReEncrypt, returning an owned response (with `alloc`).
///
/// # Errors
/// As [`re_encrypt_in`], less `WorkspaceTooSmall`.
#[cfg(feature = "alloc")]
pub fn re_encrypt<P, R>(
    provider: &mut P,
    caller: &Caller<'_>,
    request: &ReEncryptRequest<'_>,
    rng: &mut R,
) -> Result<ReEncryptResponse, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    super::with_workspace(request.workspace_len(), |ws| {
        re_encrypt_in(provider, caller, request, rng, ws).map(Into::into)
    })
}
