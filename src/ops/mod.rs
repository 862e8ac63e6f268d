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
mod generate_data_key;

pub use decrypt::*;
pub use generate_data_key::*;

use rand_core::TryCryptoRng;

use crate::key_id::KeyReference;
use crate::key_state::check_usable;
use crate::provider::{Action, KeyProvider};
use crate::{Caller, Error, KeyRecord, KeyVersionId, Parameter, RequestId, UsableKey};

/// Parses `DryRun`: absent or `false` is a real run, `true` a dry run; anything else (`True`,
/// `1`, the empty string) is `InvalidParameter DryRun`.
///
/// `DryRun` is read before every other parameter, since it decides how their errors are
/// reported; its own error is therefore never a `ValidationError` **[decided]**.
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
    let record = resolve(provider, caller, reference)?;
    if !provider.permits(&record, caller, action) {
        return Err(Error::NoPermission);
    }
    check_usable(&record, record.primary_version)
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
    let record = provider
        .find_version(caller.region, version)?
        .ok_or(Error::KeyNotFound)?;
    if !provider.permits(&record, caller, action) {
        return Err(Error::NoPermission);
    }
    check_usable(&record, *version)
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

/// Writes the associated data of spec §4 (version ID, then the canonical context) into `aad`,
/// which must be exactly `36 + canonical_len` bytes; `parameter` names the context in errors.
pub(crate) fn write_context(
    text: Option<&str>,
    aad: &mut [u8],
    parameter: Parameter,
) -> Result<(), Error> {
    crate::context::write_canonical(text, &mut aad[crate::blob::VERSION_ID_LEN..])
        .map(|_| ())
        .map_err(|_| Error::InvalidParameter(parameter))
}

/// `36 + canonical_len(text)`, or `InvalidParameter {parameter}`.
pub(crate) fn aad_len(text: Option<&str>, parameter: Parameter) -> Result<usize, Error> {
    crate::context::canonical_len(text)
        .map(|n| n + crate::blob::VERSION_ID_LEN)
        .map_err(|_| Error::InvalidParameter(parameter))
}

/// An upper bound on [`aad_len`] that needs no parsing: canonical encodings are never longer
/// than their JSON text (every pair's quotes and colon outweigh its length prefixes, and escapes
/// only shrink), and the empty context takes two bytes.
pub(crate) const fn aad_len_bound(text: Option<&str>) -> usize {
    let text_len = match text {
        Some(t) => t.len(),
        None => 0,
    };
    crate::blob::VERSION_ID_LEN + if text_len > 2 { text_len } else { 2 }
}

/// Checks a workspace is at least `needed` bytes.
pub(crate) fn check_workspace(ws: &[u8], needed: usize) -> Result<(), Error> {
    if ws.len() < needed {
        Err(Error::WorkspaceTooSmall { needed })
    } else {
        Ok(())
    }
}
