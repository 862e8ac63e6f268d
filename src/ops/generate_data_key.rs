//! GenerateDataKey and GenerateDataKeyWithoutPlaintext: a fresh random data key, sealed under
//! the master key's primary version.

use super::{DryRunPassed, Outcome, Workspace};
use crate::WorkspaceTooSmall;
use crate::authorize::{Resolving, authorize};
use crate::backend::{Cipher, Directory};
use crate::blob::{Blob, BlobMut, OVERHEAD};
use crate::context::{self, Context};
use crate::provider::SecureRandom;
use crate::secret::{SecretBytes, SecretText};
use crate::{Caller, DataKeyLength, Error, KeyId, KeyReference, KeyVersionId, Permission};

/// A GenerateDataKey (or GenerateDataKeyWithoutPlaintext) request: the key, the data key's
/// length (32 bytes unless set), the encryption context (empty unless set), and whether it is a
/// dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerateDataKeyRequest<'a> {
    /// The master key.
    pub key: KeyReference<'a>,
    /// The data key's length.
    pub length: DataKeyLength,
    /// The encryption context to bind.
    pub context: Context<'a>,
    /// Whether to stop after the checks.
    pub dry_run: bool,
}

impl<'a> GenerateDataKeyRequest<'a> {
    /// A request for a 32-byte data key under `key`, with the empty context.
    pub fn new(key: impl Into<KeyReference<'a>>) -> Self {
        Self {
            key: key.into(),
            length: DataKeyLength::AES_256,
            context: Context::EMPTY,
            dry_run: false,
        }
    }

    /// The same request for a data key of `length`.
    #[must_use]
    pub fn with_length(self, length: DataKeyLength) -> Self {
        Self { length, ..self }
    }

    /// The same request with `context` bound.
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

    /// How many workspace bytes [`generate_data_key_in`](super::generate_data_key_in) needs:
    /// the raw key, its Base64 text, the associated data and the blob.
    pub fn workspace_len(&self) -> usize {
        let text = self.length.base64_len();
        self.length.bytes() + text + context::aad_len(&self.context) + OVERHEAD + text
    }
}

/// What GenerateDataKey returns, borrowed from the workspace (no allocation).
#[derive(Debug)]
pub struct GeneratedDataKey<'w> {
    /// The canonical ID of the master key.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The blob that holds the data key.
    pub ciphertext_blob: Blob<'w>,
    /// The data key. Zeroized on drop.
    pub data_key: SecretBytes<'w>,
    /// The data key's Base64 text: what the blob seals, and the wire's `Plaintext`. Zeroized on
    /// drop.
    pub data_key_base64: SecretText<'w>,
}

impl GeneratedDataKey<'_> {
    /// An owned copy (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_owned(&self) -> GeneratedDataKeyBuf {
        GeneratedDataKeyBuf {
            key_id: self.key_id,
            key_version_id: self.key_version_id,
            ciphertext_blob: self.ciphertext_blob.to_owned(),
            data_key: crate::SecretBytesBuf::new(self.data_key.expose().to_vec()),
        }
    }
}

/// [`GeneratedDataKey`], owned (with `alloc`).
#[cfg(feature = "alloc")]
#[derive(Debug)]
pub struct GeneratedDataKeyBuf {
    /// The canonical ID of the master key.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The blob that holds the data key.
    pub ciphertext_blob: crate::blob::BlobBuf,
    /// The data key. Zeroized on drop.
    pub data_key: crate::SecretBytesBuf,
}

/// GenerateDataKey over any backend (the nonblocking entry point; the blocking ones call
/// [`generate`] directly).
#[cfg(feature = "async")]
pub(crate) async fn generate_data_key<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut G,
    workspace: &'w mut [u8],
) -> Result<Outcome<GeneratedDataKey<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    generate(
        backend,
        caller,
        request,
        rng,
        workspace,
        Permission::GenerateDataKey,
    )
    .await
}

/// GenerateDataKeyWithoutPlaintext over any backend: GenerateDataKey under its own permission,
/// with the data key dropped (and so zeroized) before returning.
#[cfg(feature = "async")]
pub(crate) async fn generate_data_key_without_plaintext<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut G,
    workspace: &'w mut [u8],
) -> Result<Outcome<super::Sealed<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let permission = Permission::GenerateDataKeyWithoutPlaintext;
    let outcome = generate(backend, caller, request, rng, workspace, permission).await?;
    Ok(outcome.map(|out| super::Sealed {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: out.ciphertext_blob,
    }))
}

/// Steps 2 to 6 of GenerateDataKey under `permission` (also GenerateDataKeyWithoutPlaintext's,
/// whose callers drop the data key). On the blocking path every form reaches it through
/// [`super::generate_data_key_as_in`] alone.
pub(crate) async fn generate<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut G,
    workspace: &'w mut [u8],
    permission: Permission,
) -> Result<Outcome<GeneratedDataKey<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let needed = request.workspace_len();
    let mut workspace = Workspace::new(workspace, needed)?;
    let key = authorize!(
        backend,
        caller,
        Resolving::key(caller, &request.key),
        permission
    );
    if request.dry_run {
        return Ok(Outcome::DryRun(DryRunPassed {
            key_id: key.key_id(),
            key_version_id: key.version(),
        }));
    }
    let too_small = WorkspaceTooSmall { needed };
    let len = request.length;
    let mut data_key = SecretBytes::new(workspace.take(len.bytes())?);
    let text = workspace.take(len.base64_len())?;
    let aad = workspace.take(context::aad_len(&request.context))?;
    let mut blob =
        BlobMut::new(workspace.rest(), &key.version(), len.base64_len()).map_err(|_| too_small)?;

    rng.fill(data_key.expose_mut())?;
    let text_len = crate::secret::base64::encode(data_key.expose(), text).map_err(|_| too_small)?;
    let body = blob.body();
    body.copy_from_slice(&text[..text_len]);
    // Base64 is ASCII.
    let data_key_base64 = SecretText::from_ascii(&mut text[..text_len]);
    let aad = context::write_aad(&key.version(), &request.context, aad).map_err(|_| too_small)?;
    // On failure, dropping `data_key` and `data_key_base64` zeroizes them; the body is wiped
    // here.
    let (iv, tag) = match backend.seal(&key, aad, body, rng).await {
        Ok(sealed) => sealed,
        Err(e) => {
            zeroize::Zeroize::zeroize(body);
            return Err(e.into());
        }
    };
    Ok(Outcome::Done(GeneratedDataKey {
        key_id: key.key_id(),
        key_version_id: key.version(),
        ciphertext_blob: blob.finish(&iv, &tag),
        data_key,
        data_key_base64,
    }))
}
