//! Encrypt: seals the caller's plaintext string, as given, under the master key's primary
//! version.

use core::fmt;

use super::{DryRunPassed, Outcome, Sealed, Workspace};
use crate::authorize::{Resolving, authorize};
use crate::backend::{Cipher, Directory};
use crate::blob::{BlobMut, MAX_SEALED_LEN, MIN_SEALED_LEN, OVERHEAD};
use crate::context::{self, Context};
use crate::provider::SecureRandom;
use crate::{Caller, Error, KeyReference, Parameter, Permission, WorkspaceTooSmall};

/// The text Encrypt seals: 1..=6144 bytes of UTF-8, sealed exactly as given. Redacted in
/// `Debug`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Plaintext<'a>(&'a str);

impl<'a> Plaintext<'a> {
    /// Checks the length.
    ///
    /// # Errors
    /// `InvalidParameter Plaintext` for an empty text or one over 6144 bytes.
    pub fn new(text: &'a str) -> Result<Self, Error> {
        if (MIN_SEALED_LEN..=MAX_SEALED_LEN).contains(&text.len()) {
            Ok(Self(text))
        } else {
            Err(Error::InvalidParameter(Parameter::Plaintext))
        }
    }

    /// The text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }
}

impl fmt::Debug for Plaintext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext({} bytes, [REDACTED])", self.0.len())
    }
}

/// An Encrypt request: the key, the text, the encryption context (empty unless set), and
/// whether it is a dry run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncryptRequest<'a> {
    /// The master key.
    pub key: KeyReference<'a>,
    /// The text to seal.
    pub plaintext: Plaintext<'a>,
    /// The encryption context to bind.
    pub context: Context<'a>,
    /// Whether to stop after the checks.
    pub dry_run: bool,
}

impl<'a> EncryptRequest<'a> {
    /// A request to seal `plaintext` under `key` with the empty context.
    pub fn new(key: impl Into<KeyReference<'a>>, plaintext: Plaintext<'a>) -> Self {
        Self {
            key: key.into(),
            plaintext,
            context: Context::EMPTY,
            dry_run: false,
        }
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

    /// How many workspace bytes [`encrypt_in`](super::encrypt_in) needs: the associated data
    /// and the blob.
    pub fn workspace_len(&self) -> usize {
        context::aad_len(&self.context) + OVERHEAD + self.plaintext.0.len()
    }
}

/// Encrypt over any backend.
pub(crate) async fn encrypt<'w, B, G>(
    backend: &B,
    caller: &Caller<'_>,
    request: &EncryptRequest<'_>,
    rng: &mut G,
    workspace: &'w mut [u8],
) -> Result<Outcome<Sealed<'w>>, Error>
where
    B: Directory + Cipher<G>,
    G: SecureRandom,
{
    let needed = request.workspace_len();
    let mut workspace = Workspace::new(workspace, needed)?;
    let resolving = Resolving::key(caller, &request.key);
    let key = authorize!(backend, caller, resolving, Permission::Encrypt);
    if request.dry_run {
        return Ok(Outcome::DryRun(DryRunPassed {
            key_id: key.key_id(),
            key_version_id: key.version(),
        }));
    }
    let too_small = WorkspaceTooSmall { needed };
    let aad = workspace.take(context::aad_len(&request.context))?;
    let aad = context::write_aad(&key.version(), &request.context, aad).map_err(|_| too_small)?;
    let text = request.plaintext.0.as_bytes();
    let mut blob =
        BlobMut::new(workspace.rest(), &key.version(), text.len()).map_err(|_| too_small)?;
    let body = blob.body();
    body.copy_from_slice(text);
    let (iv, tag) = match backend.seal(&key, aad, body, rng).await {
        Ok(sealed) => sealed,
        Err(e) => {
            // The body still holds the text to seal: leave none of it behind.
            zeroize::Zeroize::zeroize(body);
            return Err(e.into());
        }
    };
    Ok(Outcome::Done(Sealed {
        key_id: key.key_id(),
        key_version_id: key.version(),
        ciphertext_blob: blob.finish(&iv, &tag),
    }))
}
