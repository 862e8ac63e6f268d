//! The operations, each a pure function of a provider, a caller, a request and an RNG.
//!
//! Every operation runs the checks of spec §7 in order: (1) parameters, (2) key resolution,
//! (3) permission, (4) key state and usage, and only then (5) the operation. Steps 2 to 4 are
//! [`authorize_key`] and [`authorize_version`], shared by all operations. A dry run stops after
//! step 4 and reports through [`Error::in_dry_run`].
//!
//! Each operation comes in two forms. `*_in` works without an allocator: it writes into a
//! workspace the caller provides (sized by the request's `workspace_len`) and returns borrowed
//! output whose secrets are zeroized when dropped. With `alloc`, the plain form returns an owned
//! response.

mod decrypt;
mod encrypt;
mod generate_data_key;
mod re_encrypt;

pub use decrypt::*;
pub use encrypt::*;
pub use generate_data_key::*;
pub use re_encrypt::*;

use rand_core::TryCryptoRng;

use crate::key_id::KeyReference;
use crate::key_state::check_usable;
use crate::provider::{Action, KeyProvider};
use crate::{Caller, Error, KeyId, KeyRecord, KeyVersionId, Parameter, RequestId, UsableKey};

/// Parses `DryRun`: absent or `false` is a real run, `true` a dry run; anything else (`True`,
/// `1`, the empty string) is `InvalidParameter DryRun`.
///
/// `DryRun` is read before every other parameter, since it decides how their errors are
/// reported; its own error is therefore never a `ValidationError` **\[decided\]**.
///
/// # Errors
/// `InvalidParameter DryRun`.
pub fn parse_dry_run(text: Option<&str>) -> Result<bool, Error> {
    match text {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::InvalidParameter(Parameter::DryRun)),
    }
}

/// Ends steps 1 to 4. A real run goes on with their result. A dry run stops here: passing
/// the checks ends in `DryRunOperationError`, failing them in the error [`Error::in_dry_run`]
/// makes of it.
pub(crate) fn end_checks<C>(dry_run: bool, checks: Result<C, Error>) -> Result<C, Error> {
    match (dry_run, checks) {
        (false, result) => result,
        (true, Ok(_)) => Err(Error::DryRunOperation),
        (true, Err(e)) => Err(e.in_dry_run()),
    }
}

/// Step 2: finds the key a reference names, in the account and region the reference points into.
pub(crate) fn resolve<P: KeyProvider + ?Sized>(
    provider: &P,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
) -> Result<KeyRecord, Error> {
    let not_found = if reference.is_alias() {
        Error::AliasNotFound
    } else {
        Error::KeyNotFound
    };
    let (account, region) = reference.scope(caller);
    if region != caller.region {
        return Err(not_found);
    }
    let found = match reference {
        KeyReference::Id(id) => provider.find_key(account, region, id),
        KeyReference::KeyArn { key_id, .. } => provider.find_key(account, region, key_id.as_str()),
        KeyReference::Alias(alias) | KeyReference::AliasArn { alias, .. } => {
            provider.find_alias(account, region, alias)
        }
    }?;
    found.ok_or(not_found)
}

/// A key resolved by step 2, with the version the operation would use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Resolved {
    record: KeyRecord,
    version: KeyVersionId,
}

impl Resolved {
    /// Step 2 for a key named in a request; the version is its primary.
    pub(crate) fn key<P: KeyProvider + ?Sized>(
        provider: &P,
        caller: &Caller<'_>,
        reference: &KeyReference<'_>,
    ) -> Result<Self, Error> {
        let record = resolve(provider, caller, reference)?;
        Ok(Self {
            record,
            version: record.primary_version,
        })
    }

    /// Step 2 for the version a blob names, in the caller's region.
    pub(crate) fn version<P: KeyProvider + ?Sized>(
        provider: &P,
        caller: &Caller<'_>,
        version: &KeyVersionId,
    ) -> Result<Self, Error> {
        let record = provider
            .find_version(caller.region, version)?
            .ok_or(Error::KeyNotFound)?;
        Ok(Self {
            record,
            version: *version,
        })
    }

    /// Step 3.
    pub(crate) fn permit<P: KeyProvider + ?Sized>(
        &self,
        provider: &P,
        caller: &Caller<'_>,
        action: Action,
    ) -> Result<(), Error> {
        if provider.permits(&self.record, caller, action) {
            Ok(())
        } else {
            Err(Error::NoPermission)
        }
    }

    /// Step 4.
    pub(crate) fn usable(&self) -> Result<UsableKey, Error> {
        check_usable(&self.record, self.version)
    }
}

/// Steps 2 to 4 for a key named in a request: resolve it, check `action` is permitted, check
/// state and usage. The witness names the key's primary version, the one that seals.
///
/// # Errors
/// `Forbidden.KeyNotFound` / `Forbidden.AliasNotFound`, `Forbidden.NoPermission`, the state
/// rejections, `UnsupportedOperation`, or a provider failure.
pub fn authorize_key<P: KeyProvider + ?Sized>(
    provider: &P,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
    action: Action,
) -> Result<UsableKey, Error> {
    let key = Resolved::key(provider, caller, reference)?;
    key.permit(provider, caller, action)?;
    key.usable()
}

/// Steps 2 to 4 for the key version a blob names: find it in the caller's region, check
/// `action`, check state and usage. The witness names that version, primary or not.
///
/// # Errors
/// As [`authorize_key`].
pub fn authorize_version<P: KeyProvider + ?Sized>(
    provider: &P,
    caller: &Caller<'_>,
    version: &KeyVersionId,
    action: Action,
) -> Result<UsableKey, Error> {
    let key = Resolved::version(provider, caller, version)?;
    key.permit(provider, caller, action)?;
    key.usable()
}

/// The request's own ID, or a fresh one from `rng`.
pub(crate) fn request_id<R: TryCryptoRng + ?Sized>(
    supplied: Option<RequestId>,
    rng: &mut R,
) -> Result<RequestId, Error> {
    match supplied {
        Some(id) => Ok(id),
        None => RequestId::random(rng),
    }
}

/// Splits the first `n` bytes off a workspace.
pub(crate) fn take<'w>(ws: &mut &'w mut [u8], n: usize) -> Result<&'w mut [u8], Error> {
    if ws.len() < n {
        return Err(Error::InternalFailure);
    }
    let (head, tail) = core::mem::take(ws).split_at_mut(n);
    *ws = tail;
    Ok(head)
}

/// Takes room for the associated data of spec §4 from the workspace ([`aad_len_bound`] bytes),
/// writes the canonical context after the 36 bytes the version ID will fill, and returns the
/// associated data, exactly `36 + canonical length` bytes. Parsing, validation and encoding are
/// one pass over the text (and a second to write the pairs in order); `parameter` names the
/// context in errors.
pub(crate) fn write_context<'w>(
    text: Option<&str>,
    workspace: &mut &'w mut [u8],
    parameter: Parameter,
) -> Result<&'w mut [u8], Error> {
    let region = take(workspace, aad_len_bound(text))?;
    let len = crate::context::write_canonical(text, &mut region[crate::blob::VERSION_ID_LEN..])
        .map_err(|_| Error::InvalidParameter(parameter))?;
    Ok(&mut region[..crate::blob::VERSION_ID_LEN + len])
}

/// An upper bound on the length of the associated data that needs no parsing: canonical encodings are never longer
/// than their JSON text (every pair's quotes and colon outweigh its length prefixes, and escapes
/// only shrink), and the empty context takes two bytes.
pub(crate) const fn aad_len_bound(text: Option<&str>) -> usize {
    let text_len = match text {
        Some(t) => t.len(),
        None => 0,
    };
    crate::blob::VERSION_ID_LEN + if text_len > 2 { text_len } else { 2 }
}

/// Where a blob's body (the sealed text) starts: after the version ID and the IV.
pub(crate) const BODY: usize = crate::blob::VERSION_ID_LEN + crate::blob::IV_LEN;

/// Step 5's common end: seals the text already written at `blob[48..]` (the blob's body) into a
/// blob under `key`'s version, with the canonical context already in `aad[36..]`, and writes the
/// blob's Base64 to `blob_text`. Draws the IV from `rng`. On failure the body is zeroized, so
/// no plaintext is left in the workspace.
pub(crate) fn seal_blob<'w, P, R>(
    provider: &mut P,
    rng: &mut R,
    key: &UsableKey,
    aad: &mut [u8],
    blob: &mut [u8],
    blob_text: &'w mut [u8],
) -> Result<&'w str, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    use crate::blob::{IV_LEN, TAG_LEN, VERSION_ID_LEN};
    let version = key.version();
    let body_len = blob
        .len()
        .checked_sub(crate::blob::OVERHEAD)
        .ok_or(Error::InternalFailure)?;
    let (prefix, rest) = blob.split_at_mut(VERSION_ID_LEN);
    let (iv, rest) = rest.split_at_mut(IV_LEN);
    let (body, tag_out) = rest.split_at_mut(body_len);
    prefix.copy_from_slice(version.as_bytes());
    aad[..VERSION_ID_LEN].copy_from_slice(version.as_bytes());
    let mut iv_bytes = [0u8; IV_LEN];
    let sealed = rng
        .try_fill_bytes(&mut iv_bytes)
        .map_err(|_| Error::InternalFailure)
        .and_then(|()| Ok(provider.seal(key, &iv_bytes, aad, body, rng)?));
    let tag: [u8; TAG_LEN] = match sealed {
        Ok(tag) => tag,
        Err(e) => {
            // The body still holds the text to seal: leave none of it behind.
            zeroize::Zeroize::zeroize(body);
            return Err(e);
        }
    };
    iv.copy_from_slice(&iv_bytes);
    tag_out.copy_from_slice(&tag);
    <base64ct::Base64 as base64ct::Encoding>::encode(blob, blob_text)
        .map_err(|_| Error::InternalFailure)
}

/// What the operations that return only a blob give back (Encrypt,
/// GenerateDataKeyWithoutPlaintext, ReEncrypt), borrowed from the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CiphertextOutput<'w> {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The CiphertextBlob: Base64 of the blob.
    pub ciphertext_blob: &'w str,
    /// The request ID.
    pub request_id: RequestId,
}

/// [`CiphertextOutput`], owned (with `alloc`). Serializes (with `serde`) as `KeyId`,
/// `KeyVersionId`, `CiphertextBlob`, `RequestId`.
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct CiphertextResponse {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The CiphertextBlob: Base64 of the blob.
    pub ciphertext_blob: alloc::string::String,
    /// The request ID.
    pub request_id: RequestId,
}

#[cfg(feature = "alloc")]
impl From<CiphertextOutput<'_>> for CiphertextResponse {
    fn from(out: CiphertextOutput<'_>) -> Self {
        Self {
            key_id: out.key_id,
            key_version_id: out.key_version_id,
            ciphertext_blob: out.ciphertext_blob.into(),
            request_id: out.request_id,
        }
    }
}

/// Runs a `*_in` operation in a workspace of `len` bytes allocated for it, zeroized and freed
/// before returning: the owned form of every operation.
#[cfg(feature = "alloc")]
pub(crate) fn with_workspace<T>(
    len: usize,
    operation: impl FnOnce(&mut [u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    let mut workspace = zeroize::Zeroizing::new(alloc::vec![0u8; len]);
    operation(&mut workspace)
}

/// Checks a workspace is at least `needed` bytes.
pub(crate) fn check_workspace(ws: &[u8], needed: usize) -> Result<(), Error> {
    if ws.len() < needed {
        Err(Error::WorkspaceTooSmall { needed })
    } else {
        Ok(())
    }
}
