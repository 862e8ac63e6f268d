//! The operations, typed: each a function of a provider, a [`Caller`], a request made of the
//! crate's types, and an RNG. No text is parsed here; the wire's text parameters are
//! [`crate::wire`]'s to parse.
//!
//! Every operation runs the checks of spec §7 in order: (1) parameters, which the request's
//! types already guarantee, (2) key resolution, (3) permission, (4) key state and usage, which
//! together make the [`AuthorizedKey`](crate::AuthorizedKey) that the provider's cipher
//! requires, and only then (5) the operation. A request with `dry_run` set stops after step 4
//! and, when every check passed, returns [`Outcome::DryRun`]: a passing dry run is not an
//! error here (the wire still answers `DryRunOperationError`).
//!
//! Each operation comes in two forms. `*_in` works without an allocator: it writes into a
//! workspace the caller provides (sized by the request's `workspace_len()`) and returns
//! borrowed output whose secrets are zeroized when dropped. With `alloc`, the plain form
//! returns owned output. With the `async` feature, [`nonblocking`] has both forms for an
//! [`AsyncKeyProvider`](crate::provider::AsyncKeyProvider); the logic is the same code.

#[cfg(feature = "asymmetric")]
pub mod asymmetric;
mod decrypt;
mod encrypt;
mod generate_data_key;
mod re_encrypt;

#[cfg(feature = "alloc")]
pub use decrypt::OpenedBuf;
pub use decrypt::{DecryptRequest, Opened};
pub use encrypt::{EncryptRequest, Plaintext};
#[cfg(feature = "alloc")]
pub use generate_data_key::GeneratedDataKeyBuf;
pub use generate_data_key::{GenerateDataKeyRequest, GeneratedDataKey};
pub use re_encrypt::ReEncryptRequest;

use crate::authorize::Resolving;
use crate::backend::{Blocking, run_ready};
use crate::blob::Blob;
use crate::provider::{CallerRng, KeyDirectory, KeyProvider};
use crate::{Caller, Error, KeyId, KeyRecord, KeyReference, KeyVersionId, WorkspaceTooSmall};
use rand_core::TryCryptoRng;

/// Step 2 alone: the key `reference` names, as the key directory reports it, resolved in the
/// account and region the reference points into (the caller's own for a key ID or an alias).
/// No permission or state is checked, and no [`AuthorizedKey`](crate::AuthorizedKey) is made:
/// for a frontend that must find the key a request named (to rotate it when its seal budget
/// is spent, say).
///
/// # Errors
/// `Forbidden.KeyNotFound`, `Forbidden.AliasNotFound`, or a directory failure.
pub fn resolve_key<D: KeyDirectory + ?Sized>(
    directory: &D,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
) -> Result<KeyRecord, Error> {
    Ok(*Resolving::key(caller, reference).ask(directory)?.record())
}

/// How an operation ended when it did not fail.
#[derive(Debug, PartialEq, Eq)]
#[must_use]
pub enum Outcome<T> {
    /// The operation ran.
    Done(T),
    /// A dry run: every check passed, and nothing was sealed or opened.
    DryRun(DryRunPassed),
}

impl<T> Outcome<T> {
    /// The output of an operation that ran; `None` for a dry run.
    pub fn done(self) -> Option<T> {
        match self {
            Outcome::Done(out) => Some(out),
            Outcome::DryRun(_) => None,
        }
    }

    /// The output of an operation that ran, or [`Error::DryRunOperation`] for a dry run: the
    /// wire's view.
    ///
    /// # Errors
    /// [`Error::DryRunOperation`].
    pub fn into_result(self) -> Result<T, Error> {
        self.done().ok_or(Error::DryRunOperation)
    }

    /// Applies `f` to the output of an operation that ran.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Done(out) => Outcome::Done(f(out)),
            Outcome::DryRun(passed) => Outcome::DryRun(passed),
        }
    }
}

/// What a dry run that passed found: the key and the version the operation would have used
/// (ReEncrypt: the destination's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DryRunPassed {
    /// The canonical ID of the key.
    pub key_id: KeyId,
    /// The version that would have sealed or opened.
    pub key_version_id: KeyVersionId,
}

/// What Encrypt, GenerateDataKeyWithoutPlaintext and ReEncrypt give back: a blob and the key
/// version that sealed it, borrowed from the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sealed<'w> {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The blob.
    pub ciphertext_blob: Blob<'w>,
}

impl Sealed<'_> {
    /// An owned copy (with `alloc`).
    #[cfg(feature = "alloc")]
    pub fn to_owned(&self) -> SealedBuf {
        SealedBuf {
            key_id: self.key_id,
            key_version_id: self.key_version_id,
            ciphertext_blob: self.ciphertext_blob.to_owned(),
        }
    }
}

/// [`Sealed`], owned (with `alloc`).
#[cfg(feature = "alloc")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedBuf {
    /// The canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// The version that sealed: the key's primary version.
    pub key_version_id: KeyVersionId,
    /// The blob.
    pub ciphertext_blob: crate::blob::BlobBuf,
}

/// A caller's workspace, cut into the regions an operation needs from the front.
pub(crate) struct Workspace<'w>(&'w mut [u8]);

impl<'w> Workspace<'w> {
    /// The workspace, if it holds at least `needed` bytes.
    #[inline]
    pub(crate) fn new(bytes: &'w mut [u8], needed: usize) -> Result<Self, WorkspaceTooSmall> {
        if bytes.len() < needed {
            return Err(WorkspaceTooSmall { needed });
        }
        Ok(Self(bytes))
    }

    /// The next `n` bytes. The operations size their workspace before taking from it, so this
    /// runs short only on a bug, reported as a too-small workspace.
    #[inline]
    pub(crate) fn take(&mut self, n: usize) -> Result<&'w mut [u8], WorkspaceTooSmall> {
        if self.0.len() < n {
            return Err(WorkspaceTooSmall { needed: n });
        }
        let (head, tail) = core::mem::take(&mut self.0).split_at_mut(n);
        self.0 = tail;
        Ok(head)
    }

    /// What is left.
    #[inline]
    pub(crate) fn rest(self) -> &'w mut [u8] {
        self.0
    }
}

/// Workspaces up to this size are on the stack in the owned forms (a 32-byte GenerateDataKey
/// with an empty context needs 368 bytes, a Decrypt of its blob 262).
#[cfg(feature = "alloc")]
const STACK_WORKSPACE: usize = 512;

/// Runs a `*_in` operation in a workspace of `len` bytes of its own: the owned form of every
/// operation. It is on the stack when it fits in [`STACK_WORKSPACE`], and allocated otherwise.
/// It is not wiped as a whole: what it holds that is secret (the data key, its Base64, an
/// opened plaintext, a text waiting to be sealed) the `*_in` form wipes when its output drops
/// or when it fails, as for a caller's own workspace (`tests/operations/secrets.rs`); the rest
/// (blobs, contexts, IDs) is not secret. Secrets are wiped once, not twice.
#[cfg(feature = "alloc")]
pub(crate) fn with_workspace<T>(
    len: usize,
    operation: impl FnOnce(&mut [u8]) -> Result<T, Error>,
) -> Result<T, Error> {
    if len <= STACK_WORKSPACE {
        let mut workspace = [0u8; STACK_WORKSPACE];
        operation(&mut workspace[..len])
    } else {
        operation(&mut alloc::vec![0u8; len])
    }
}

/// Generates the blocking `*_in` and owned entry points of an operation from its one `async`
/// implementation.
macro_rules! blocking_entry_points {
    (
        $(#[$in_doc:meta])* fn $name_in:ident,
        $(#[$owned_doc:meta])* fn $name:ident,
        $request:ident, $output:ident, $output_buf:ident, $body:path
    ) => {
        blocking_entry_points!(
            $(#[$in_doc])* fn $name_in,
            $(#[$owned_doc])* fn $name,
            $request, $output, $output_buf,
            |provider, caller, request, rng, workspace| run_ready($body(
                &Blocking(provider),
                caller,
                request,
                &mut CallerRng(rng),
                workspace,
            ))
        );
    };
    (
        $(#[$in_doc:meta])* fn $name_in:ident,
        $(#[$owned_doc:meta])* fn $name:ident,
        $request:ident, $output:ident, $output_buf:ident,
        |$provider:ident, $caller:ident, $req:ident, $rng:ident, $workspace:ident| $run:expr
    ) => {
        $(#[$in_doc])*
        #[inline]
        pub fn $name_in<'w, P, R>(
            $provider: &P,
            $caller: &Caller<'_>,
            $req: &$request<'_>,
            $rng: &mut R,
            $workspace: &'w mut [u8],
        ) -> Result<Outcome<$output<'w>>, Error>
        where
            P: KeyProvider + ?Sized,
            R: TryCryptoRng + ?Sized,
        {
            $run
        }

        $(#[$owned_doc])*
        #[cfg(feature = "alloc")]
        pub fn $name<P, R>(
            provider: &P,
            caller: &Caller<'_>,
            request: &$request<'_>,
            rng: &mut R,
        ) -> Result<Outcome<$output_buf>, Error>
        where
            P: KeyProvider + ?Sized,
            R: TryCryptoRng + ?Sized,
        {
            with_workspace(request.workspace_len(), |workspace| {
                Ok($name_in(provider, caller, request, rng, workspace)?.map(|out| out.to_owned()))
            })
        }
    };
}

/// GenerateDataKey's steps under `permission`, blocking: the one caller of their future on
/// the blocking path (GenerateDataKey and GenerateDataKeyWithoutPlaintext, typed and wire, all
/// come here), so the compiler can make it one function with no state handed through memory.
pub(crate) fn generate_data_key_as_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    request: &GenerateDataKeyRequest<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
    permission: crate::Permission,
) -> Result<Outcome<GeneratedDataKey<'w>>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    run_ready(generate_data_key::generate(
        &Blocking(provider),
        caller,
        request,
        &mut CallerRng(rng),
        workspace,
        permission,
    ))
}

blocking_entry_points!(
    /// GenerateDataKey into a caller-provided workspace, without allocating: a fresh data key
    /// of `request.length` bytes from `rng`, returned raw and as Base64 text, and that text
    /// sealed under the key's primary version with the request's context bound.
    ///
    /// Draws from `rng` the data key, then (through the provider) the IV. The sealed text is
    /// the Base64 of the data key, so a 32-byte key makes a 108-byte blob.
    ///
    /// # Errors
    /// Steps 2 to 4 (`Forbidden.KeyNotFound`, `Forbidden.AliasNotFound`,
    /// `Forbidden.NoPermission`, the `Rejected.*` states, `UnsupportedOperation`), a provider
    /// or RNG failure, or a workspace shorter than [`GenerateDataKeyRequest::workspace_len`]
    /// (`InternalFailure`).
    fn generate_data_key_in,
    /// GenerateDataKey, returning owned output (with `alloc`); as [`generate_data_key_in`].
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    fn generate_data_key,
    GenerateDataKeyRequest, GeneratedDataKey, GeneratedDataKeyBuf,
    |provider, caller, request, rng, workspace| generate_data_key_as_in(
        provider,
        caller,
        request,
        rng,
        workspace,
        crate::Permission::GenerateDataKey
    )
);

blocking_entry_points!(
    /// GenerateDataKeyWithoutPlaintext into a caller-provided workspace, without allocating:
    /// as [`generate_data_key_in`], with the same request and checks and the permission
    /// `kms:GenerateDataKeyWithoutPlaintext`, but the data key never leaves the workspace,
    /// which is zeroized before this returns.
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    fn generate_data_key_without_plaintext_in,
    /// GenerateDataKeyWithoutPlaintext, returning owned output (with `alloc`).
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    fn generate_data_key_without_plaintext,
    GenerateDataKeyRequest, Sealed, SealedBuf,
    |provider, caller, request, rng, workspace| {
        let permission = crate::Permission::GenerateDataKeyWithoutPlaintext;
        let outcome =
            generate_data_key_as_in(provider, caller, request, rng, workspace, permission)?;
        // The data key is dropped (and so zeroized) here.
        Ok(outcome.map(|out| Sealed {
            key_id: out.key_id,
            key_version_id: out.key_version_id,
            ciphertext_blob: out.ciphertext_blob,
        }))
    }
);

blocking_entry_points!(
    /// Encrypt into a caller-provided workspace, without allocating: seals the plaintext, as
    /// given, under the key's primary version. Draws the IV (through the provider) from `rng`.
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    fn encrypt_in,
    /// Encrypt, returning owned output (with `alloc`).
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    fn encrypt,
    EncryptRequest, Sealed, SealedBuf,
    encrypt::encrypt
);

blocking_entry_points!(
    /// Decrypt into a caller-provided workspace, without allocating: opens the blob with
    /// exactly the key version it names, under the request's context. A dry run resolves the
    /// version but does not open the blob. Draws nothing from `rng`.
    ///
    /// # Errors
    /// Steps 2 to 4 as [`generate_data_key_in`] (`kms:Decrypt` on the version's key);
    /// `InvalidParameter CiphertextBlob` when the blob does not open under that context (or
    /// holds text that is not UTF-8, which no operation seals); a provider failure; a workspace
    /// shorter than [`DecryptRequest::workspace_len`].
    fn decrypt_in,
    /// Decrypt, returning owned output (with `alloc`).
    ///
    /// # Errors
    /// As [`decrypt_in`].
    fn decrypt,
    DecryptRequest, Opened, OpenedBuf,
    decrypt::decrypt
);

blocking_entry_points!(
    /// ReEncrypt into a caller-provided workspace, without allocating: opens the blob under
    /// its source version and context and seals the same text under the destination key's
    /// primary version and context; the text never leaves the workspace, which is zeroized
    /// before this returns.
    ///
    /// As spec §7 orders them, both keys are resolved (source, then destination), both
    /// permissions checked (`kms:ReEncryptFrom` on the source, `kms:ReEncryptTo` on the
    /// destination), and both keys' state and usage checked, before anything is opened.
    ///
    /// # Errors
    /// As [`decrypt_in`] and [`encrypt_in`].
    fn re_encrypt_in,
    /// ReEncrypt, returning owned output (with `alloc`).
    ///
    /// # Errors
    /// As [`re_encrypt_in`].
    fn re_encrypt,
    ReEncryptRequest, Sealed, SealedBuf,
    re_encrypt::re_encrypt
);

/// The operations for an asynchronous provider (with the `async` feature): the same requests,
/// outputs, checks and errors as the blocking forms, awaiting the provider instead of
/// blocking. The RNG must be `Send`, so the futures are.
#[cfg(feature = "async")]
pub mod nonblocking {
    use rand_core::TryCryptoRng;

    use super::*;
    use crate::backend::Nonblocking;
    use crate::provider::AsyncKeyProvider;

    macro_rules! nonblocking_entry_points {
        ($name_in:ident, $name:ident, $request:ident, $output:ident, $output_buf:ident, $body:path) => {
            #[doc = concat!("As [`super::", stringify!($name_in), "`], for an asynchronous provider.")]
            ///
            /// # Errors
            #[doc = concat!("As [`super::", stringify!($name_in), "`].")]
            pub async fn $name_in<'w, P, R>(
                provider: &P,
                caller: &Caller<'_>,
                request: &$request<'_>,
                rng: &mut R,
                workspace: &'w mut [u8],
            ) -> Result<Outcome<$output<'w>>, Error>
            where
                P: AsyncKeyProvider + ?Sized,
                R: TryCryptoRng + Send + ?Sized,
            {
                $body(&Nonblocking(provider), caller, request, &mut CallerRng(rng), workspace).await
            }

            #[doc = concat!("As [`super::", stringify!($name), "`], for an asynchronous provider.")]
            ///
            /// # Errors
            #[doc = concat!("As [`super::", stringify!($name), "`].")]
            pub async fn $name<P, R>(
                provider: &P,
                caller: &Caller<'_>,
                request: &$request<'_>,
                rng: &mut R,
            ) -> Result<Outcome<$output_buf>, Error>
            where
                P: AsyncKeyProvider + ?Sized,
                R: TryCryptoRng + Send + ?Sized,
            {
                let mut workspace = zeroize::Zeroizing::new(alloc::vec![0u8; request.workspace_len()]);
                Ok($name_in(provider, caller, request, rng, &mut workspace).await?.map(|out| out.to_owned()))
            }
        };
    }

    nonblocking_entry_points!(
        generate_data_key_in,
        generate_data_key,
        GenerateDataKeyRequest,
        GeneratedDataKey,
        GeneratedDataKeyBuf,
        super::generate_data_key::generate_data_key
    );
    nonblocking_entry_points!(
        generate_data_key_without_plaintext_in,
        generate_data_key_without_plaintext,
        GenerateDataKeyRequest,
        Sealed,
        SealedBuf,
        super::generate_data_key::generate_data_key_without_plaintext
    );
    nonblocking_entry_points!(
        encrypt_in,
        encrypt,
        EncryptRequest,
        Sealed,
        SealedBuf,
        super::encrypt::encrypt
    );
    nonblocking_entry_points!(
        decrypt_in,
        decrypt,
        DecryptRequest,
        Opened,
        OpenedBuf,
        super::decrypt::decrypt
    );
    nonblocking_entry_points!(
        re_encrypt_in,
        re_encrypt,
        ReEncryptRequest,
        Sealed,
        SealedBuf,
        super::re_encrypt::re_encrypt
    );
}
