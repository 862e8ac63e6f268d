//! ReEncrypt: opens a blob under its source key version and context and seals the same text
//! under a destination key's primary version and context, without the text leaving the core.

use super::decrypt::open;
use super::{DryRunPassed, Outcome, Sealed, Workspace};
use crate::authorize::Resolving;
use crate::backend::{Cipher, Directory};
use crate::blob::{Blob, BlobMut, OVERHEAD};
use crate::context::{self, Context};
use crate::provider::SecureRandom;
use crate::{Caller, Error, KeyReference, Permission, WorkspaceTooSmall};

/// A ReEncrypt request: the blob, the context it was sealed with, the destination key and the
/// context to seal under (both empty unless set), and whether it is a dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReEncryptRequest<'a> {
    /// The blob to move.
    pub ciphertext_blob: Blob<'a>,
    /// The context the blob was sealed with.
    pub source_context: Context<'a>,
    /// The key to seal under.
    pub destination: KeyReference<'a>,
    /// The context to seal the new blob with.
    pub destination_context: Context<'a>,
    /// Whether to stop after the checks.
    pub dry_run: bool,
}

impl<'a> ReEncryptRequest<'a> {
    /// A request to move `ciphertext_blob` under `destination`, both contexts empty.
    pub fn new(
        ciphertext_blob: impl Into<Blob<'a>>,
        destination: impl Into<KeyReference<'a>>,
    ) -> Self {
        Self {
            ciphertext_blob: ciphertext_blob.into(),
            source_context: Context::EMPTY,
            destination: destination.into(),
            destination_context: Context::EMPTY,
            dry_run: false,
        }
    }

    /// The same request with the source context `context`.
    #[must_use]
    pub fn with_source_context(self, context: impl Into<Context<'a>>) -> Self {
        Self {
            source_context: context.into(),
            ..self
        }
    }

    /// The same request with the destination context `context`.
    #[must_use]
    pub fn with_destination_context(self, context: impl Into<Context<'a>>) -> Self {
        Self {
            destination_context: context.into(),
            ..self
        }
    }

    /// The same request as a dry run, or not.
    #[must_use]
    pub fn with_dry_run(self, dry_run: bool) -> Self {
        Self { dry_run, ..self }
    }

    /// How many workspace bytes [`re_encrypt_in`](super::re_encrypt_in) needs: the source's
    /// associated data and opened text, the destination's associated data and blob.
    pub fn workspace_len(&self) -> usize {
        let text = self.ciphertext_blob.sealed_len();
        context::aad_len(&self.source_context)
            + text
            + context::aad_len(&self.destination_context)
            + OVERHEAD
            + text
    }
}

/// ReEncrypt over any backend.
pub(crate) async fn re_encrypt<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &ReEncryptRequest<'_>,
    rng: &mut G,
    workspace: &'w mut [u8],
) -> Result<Outcome<Sealed<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let needed = request.workspace_len();
    let mut workspace = Workspace::new(workspace, needed)?;
    let blob = request.ciphertext_blob;
    // Both keys are found before either permission is asked (spec §7's order).
    let version = blob.version();
    let from = Resolving::version(caller, &version);
    let from = from.found(backend.lookup(from.lookup()).await?)?;
    let to = Resolving::key(caller, &request.destination);
    let to = to.found(backend.lookup(to.lookup()).await?)?;
    let granted = backend
        .permits(from.record(), caller, Permission::ReEncryptFrom)
        .await?;
    let from = from.permitted(granted, Permission::ReEncryptFrom)?;
    let granted = backend
        .permits(to.record(), caller, Permission::ReEncryptTo)
        .await?;
    let to = to.permitted(granted, Permission::ReEncryptTo)?;
    let (from, to) = (from.check_usable()?, to.check_usable()?);
    if request.dry_run {
        return Ok(Outcome::DryRun(DryRunPassed {
            key_id: to.key_id(),
            key_version_id: to.version(),
        }));
    }
    let text = open(
        backend,
        &from,
        &blob,
        &request.source_context,
        &mut workspace,
        needed,
    )
    .await?;
    let too_small = WorkspaceTooSmall { needed };
    let context = &request.destination_context;
    let aad = workspace.take(context::aad_len(context))?;
    let aad = context::write_aad(&to.version(), context, aad).map_err(|_| too_small)?;
    let mut dest =
        BlobMut::new(workspace.rest(), &to.version(), text.len()).map_err(|_| too_small)?;
    let body = dest.body();
    body.copy_from_slice(text.expose_bytes());
    drop(text);
    // Sealed in place: no plaintext is left behind, on success or failure.
    let (iv, tag) = match backend.seal(&to, aad, body, rng).await {
        Ok(sealed) => sealed,
        Err(e) => {
            zeroize::Zeroize::zeroize(body);
            return Err(e.into());
        }
    };
    Ok(Outcome::Done(Sealed {
        key_id: to.key_id(),
        key_version_id: to.version(),
        ciphertext_blob: dest.finish(&iv, &tag),
    }))
}
