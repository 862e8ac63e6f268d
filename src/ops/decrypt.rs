//! Decrypt: opens a blob with the key version it names.

use super::{DryRunPassed, Outcome, Workspace};
use crate::WorkspaceTooSmall;
use crate::authorize::{Resolving, authorize};
use crate::backend::{Cipher, Directory};
use crate::blob::Blob;
use crate::context::{self, Context};
use crate::provider::SecureRandom;
use crate::secret::SecretText;
use crate::{AuthorizedKey, Caller, Error, KeyId, KeyVersionId, Parameter, Permission};

/// A Decrypt request: the blob (which names its key version), the context it was sealed with
/// (empty unless set), and whether it is a dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecryptRequest<'a> {
    /// The blob to open.
    pub ciphertext_blob: Blob<'a>,
    /// The encryption context it was sealed with.
    pub context: Context<'a>,
    /// Whether to stop after the checks.
    pub dry_run: bool,
}

impl<'a> DecryptRequest<'a> {
    /// A request to open `ciphertext_blob` with the empty context.
    pub fn new(ciphertext_blob: impl Into<Blob<'a>>) -> Self {
        Self {
            ciphertext_blob: ciphertext_blob.into(),
            context: Context::EMPTY,
            dry_run: false,
        }
    }

    /// The same request with the context `context`.
    #[must_use]
    pub fn with_context(self, context: impl Into<Context<'a>>) -> Self {
        Self {
            context: context.into(),
            ..self
        }
    }

    /// The same request as a dry run, or not.
    #[must_use]
    pub fn with_dry_run(self, dry_run: bool) -> Self {
        Self { dry_run, ..self }
    }

    /// How many workspace bytes [`decrypt_in`](super::decrypt_in) needs: the associated data
    /// and the sealed text.
    pub fn workspace_len(&self) -> usize {
        context::aad_len(&self.context) + self.ciphertext_blob.sealed_len()
    }
}

/// What Decrypt returns, borrowed from the workspace (no allocation).
#[derive(Debug)]
pub struct Opened<'w> {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version named in the blob, primary or not.
    pub key_version_id: KeyVersionId,
    /// The text that was sealed (for a data key's blob: the key's Base64). Zeroized on drop.
    pub plaintext: SecretText<'w>,
}

impl Opened<'_> {
    /// An owned copy (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_owned(&self) -> OpenedBuf {
        OpenedBuf {
            key_id: self.key_id,
            key_version_id: self.key_version_id,
            plaintext: crate::SecretTextBuf::copy_of(&self.plaintext),
        }
    }
}

/// [`Opened`], owned (with `alloc`).
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct OpenedBuf {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version named in the blob, primary or not.
    pub key_version_id: KeyVersionId,
    /// The text that was sealed. Zeroized on drop.
    pub plaintext: crate::SecretTextBuf,
}

#[cfg(feature = "alloc")]
impl OpenedBuf {
    /// The data key of a blob GenerateDataKey made: the plaintext, Base64-decoded; `None` when
    /// the plaintext is not Base64 (a blob of Encrypt's).
    pub fn data_key(&self) -> Option<crate::SecretBytesBuf> {
        use base64ct::{Base64, Encoding};
        let text = self.plaintext.expose();
        let mut bytes = zeroize::Zeroizing::new(alloc::vec![0u8; text.len() / 4 * 3]);
        let len = Base64::decode(text, &mut bytes).ok()?.len();
        Some(crate::SecretBytesBuf::new(bytes[..len].to_vec()))
    }
}

/// Decrypt over any backend.
pub(crate) async fn decrypt<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &DecryptRequest<'_>,
    _rng: &mut G,
    workspace: &'w mut [u8],
) -> Result<Outcome<Opened<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let needed = request.workspace_len();
    let mut workspace = Workspace::new(workspace, needed)?;
    let blob = request.ciphertext_blob;
    let version = blob.version();
    let resolving = Resolving::version(caller, &version);
    let key = authorize!(backend, caller, resolving, Permission::Decrypt);
    if request.dry_run {
        return Ok(Outcome::DryRun(DryRunPassed {
            key_id: key.key_id(),
            key_version_id: key.version(),
        }));
    }
    let plaintext = open(
        backend,
        &key,
        &blob,
        &request.context,
        &mut workspace,
        needed,
    )
    .await?;
    Ok(Outcome::Done(Opened {
        key_id: key.key_id(),
        key_version_id: key.version(),
        plaintext,
    }))
}

/// Step 5 of Decrypt and of ReEncrypt's source side: opens a copy of the blob's text in the
/// workspace and returns it. Text that is not UTF-8 cannot have been sealed by this API, so it
/// is refused as an invalid blob **\[decided\]**.
pub(crate) async fn open<'w, B, G>(
    backend: &B,
    key: &AuthorizedKey,
    blob: &Blob<'_>,
    context: &Context<'_>,
    workspace: &mut Workspace<'w>,
    needed: usize,
) -> Result<SecretText<'w>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let too_small = WorkspaceTooSmall { needed };
    let aad = workspace.take(context::aad_len(context))?;
    let aad = context::write_aad(&blob.version(), context, aad).map_err(|_| too_small)?;
    let body = workspace.take(blob.sealed_len())?;
    body.copy_from_slice(blob.ciphertext());
    backend
        .open(key, &blob.iv(), aad, body, &blob.tag())
        .await?;
    SecretText::checked(body).ok_or(Error::InvalidParameter(Parameter::CiphertextBlob))
}
