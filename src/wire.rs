//! The wire layer, for frontends: the text parameters of spec §1, parsed once into the typed
//! requests of [`crate::ops`] with the step-1 errors of §7 in their pinned order, `DryRun` as
//! the wire reports it, the `RequestId`, and responses whose blobs and plaintexts are the
//! Base64 and text the wire carries.
//!
//! Each operation's parameters are a struct of `Option<&str>` (`None`: absent), built from a
//! lookup by wire name ([`GenerateDataKeyParams::from_fn`]) or with setters named like the
//! fields; new parameters can be added without breaking anyone. The functions come in two
//! forms, as the typed ones: `*_in` writes into a caller's workspace (sized by the parameters'
//! `workspace_len()`), the plain form (with `alloc`) returns owned responses.
//!
//! Rules **\[decided\]** pinned here:
//!
//! - `DryRun` is read first, since it decides how other errors are reported; an invalid
//!   `DryRun` is `InvalidParameter DryRun`, never a `ValidationError`. Only `true` and `false`
//!   are valid.
//! - Parameters are checked in request order: GenerateDataKey `KeyId`, then `NumberOfBytes` /
//!   `KeySpec`, then `EncryptionContext`; Encrypt `KeyId`, `Plaintext`, `EncryptionContext`;
//!   Decrypt `CiphertextBlob`, `EncryptionContext`; ReEncrypt `CiphertextBlob`,
//!   `SourceEncryptionContext`, `DestinationKeyId`, `DestinationEncryptionContext`.
//! - RNG draws, in order: GenerateDataKey the data key, then the IV, then the RequestId (only
//!   when the frontend supplies none); Encrypt and ReEncrypt the IV, then the RequestId;
//!   Decrypt the RequestId.

use rand_core::TryCryptoRng;

use crate::blob::{self, Blob, OVERHEAD};
use crate::context::{self, Context};
use crate::ops::{
    self, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Outcome, Plaintext,
    ReEncryptRequest, Workspace,
};
use crate::provider::KeyProvider;
use crate::secret::SecretText;
use crate::{
    Caller, DataKeyLength, Error, KeyId, KeyReference, KeyVersionId, Parameter, Permission,
};
use crate::{RequestId, WorkspaceTooSmall};

/// A decimal integer written with ASCII digits only (no sign, white space or fraction; leading
/// zeros allowed) and at most `max_digits` of them, when its value lies in `range`. Shared by every
/// numeric request parameter (`NumberOfBytes`, `PageNumber`, `PageSize`, `PendingWindowInDays`).
/// The value saturates, so long inputs cannot overflow, on 32-bit targets too.
pub(crate) fn decimal_in(
    text: &str,
    max_digits: usize,
    range: core::ops::RangeInclusive<usize>,
) -> Option<usize> {
    if text.is_empty() || text.len() > max_digits {
        return None;
    }
    let mut value: usize = 0;
    for c in text.bytes() {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value
            .saturating_mul(10)
            .saturating_add(usize::from(c - b'0'));
    }
    range.contains(&value).then_some(value)
}

/// Parses `DryRun`: absent or `false` is a real run, `true` a dry run; anything else (`True`,
/// `1`, the empty string) is `InvalidParameter DryRun`.
///
/// # Errors
/// `InvalidParameter DryRun`.
#[inline]
pub fn parse_dry_run(text: Option<&str>) -> Result<bool, Error> {
    match text {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(Error::InvalidParameter(Parameter::DryRun)),
    }
}

/// A required parameter's value.
///
/// # Errors
/// `MissingParameter {parameter}`.
pub fn required(value: Option<&str>, parameter: Parameter) -> Result<&str, Error> {
    value.ok_or(Error::MissingParameter(parameter))
}

/// A `KeyId`-like parameter, parsed (spec §2).
#[inline]
fn key_reference(value: Option<&str>, parameter: Parameter) -> Result<KeyReference<'_>, Error> {
    KeyReference::parse(required(value, parameter)?, parameter)
}

/// An `EncryptionContext`-like parameter, parsed into `workspace` (taking
/// [`context::canonical_len_bound`] bytes).
#[inline]
fn context_in<'w>(
    text: Option<&str>,
    parameter: Parameter,
    workspace: &mut Workspace<'w>,
) -> Result<Context<'w>, Error> {
    let buf = workspace.take(context::canonical_len_bound(text))?;
    Context::parse_json(text, buf).map_err(|_| Error::InvalidParameter(parameter))
}

/// A `CiphertextBlob` parameter, decoded into `workspace` (taking
/// [`blob_decode_len`] bytes).
fn blob_in<'w>(text: Option<&str>, workspace: &mut Workspace<'w>) -> Result<Blob<'w>, Error> {
    let text = required(text, Parameter::CiphertextBlob)?;
    let invalid = Error::InvalidParameter(Parameter::CiphertextBlob);
    if text.len() > blob::MAX_BLOB_BASE64_LEN {
        return Err(invalid);
    }
    let buf = workspace.take(blob_decode_len(Some(text)))?;
    Blob::decode_base64(text, buf).map_err(|_| invalid)
}

/// The workspace [`blob_in`] takes for `text`: the decoded bytes, for text no longer than the
/// longest blob's.
fn blob_decode_len(text: Option<&str>) -> usize {
    blob::decoded_len_bound(text.map_or(0, str::len).min(blob::MAX_BLOB_BASE64_LEN))
}

/// The request's own ID, or a fresh one from `rng`.
#[inline(always)]
pub(crate) fn request_id<R: TryCryptoRng + ?Sized>(
    supplied: Option<RequestId>,
    rng: &mut R,
) -> Result<RequestId, Error> {
    match supplied {
        Some(id) => Ok(id),
        None => Ok(RequestId::random(rng)?),
    }
}

/// The wire's view of a typed outcome that is moved out (the wire functions of `export` and
/// `ops::asymmetric`): a passing dry run is `DryRunOperationError`, a dry run's errors what
/// spec §7 says.
#[cfg(feature = "rsa")]
pub(crate) fn ran<T>(dry_run: bool, result: Result<Outcome<T>, Error>) -> Result<T, Error> {
    match result {
        Ok(Outcome::Done(out)) => Ok(out),
        Ok(Outcome::DryRun(_)) => Err(Error::DryRunOperation),
        Err(e) if dry_run => Err(e.in_dry_run()),
        Err(e) => Err(e),
    }
}

/// The wire's view of how a typed operation ended, given `&result`: the output of an operation
/// that ran, borrowed where it lies (the outputs are large, and moving them twice costs more
/// than the rest of the wire layer), or a return with the wire's error: a passing dry run is
/// `DryRunOperationError`, and a dry run's errors become what spec §7 says they are.
macro_rules! ran {
    ($dry_run:expr, $result:expr) => {
        match $result {
            Ok(Outcome::Done(out)) => out,
            Ok(Outcome::DryRun(_)) => return Err(Error::DryRunOperation),
            Err(e) => return Err(dry_run_error($dry_run, *e)),
        }
    };
}

/// The value of a parameter as `Debug` shows it: `Plaintext` redacted.
pub(crate) fn shown(parameter: Parameter, value: Option<&str>) -> Option<&str> {
    match parameter {
        Parameter::Plaintext => value.map(|_| "[REDACTED]"),
        _ => value,
    }
}

macro_rules! wire_params {
    (
        $(#[$doc:meta])*
        $name:ident { $( $(#[$field_doc:meta])* $field:ident: $parameter:ident ),* $(,)? }
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Default, PartialEq, Eq)]
        #[non_exhaustive]
        pub struct $name<'a> {
            $( $(#[$field_doc])* pub $field: Option<&'a str>, )*
            /// The frontend's request ID; when `None`, one is drawn from the RNG after the
            /// operation.
            pub request_id: Option<$crate::RequestId>,
        }

        impl<'a> $name<'a> {
            /// No parameter given.
            pub fn new() -> Self {
                Self::default()
            }

            /// The parameters `get` gives, asked by wire name.
            pub fn from_fn(mut get: impl FnMut($crate::Parameter) -> Option<&'a str>) -> Self {
                Self {
                    $( $field: get($crate::Parameter::$parameter), )*
                    request_id: None,
                }
            }

            $(
                #[doc = concat!("The same parameters with `", stringify!($parameter), "` set.")]
                #[must_use]
                pub fn $field(self, value: &'a str) -> Self {
                    Self { $field: Some(value), ..self }
                }
            )*

            /// The same parameters with the frontend's request ID.
            #[must_use]
            pub fn request_id(self, id: $crate::RequestId) -> Self {
                Self { request_id: Some(id), ..self }
            }
        }

        impl core::fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.debug_struct(stringify!($name))
                    $( .field(stringify!($field), &$crate::wire::shown($crate::Parameter::$parameter, self.$field)) )*
                    .field("request_id", &self.request_id)
                    .finish()
            }
        }
    };
}

/// The text-parameter structs of the wire operations (also the export module's).
#[cfg(feature = "rsa")]
pub(crate) use wire_params;

wire_params!(
    /// The parameters of GenerateDataKey and GenerateDataKeyWithoutPlaintext, as text.
    GenerateDataKeyParams {
        /// `KeyId` (required): a key ID, alias, key ARN or alias ARN.
        key_id: KeyId,
        /// `KeySpec`: `AES_256` or `AES_128`; ignored when `NumberOfBytes` is given.
        key_spec: KeySpec,
        /// `NumberOfBytes`: 1..=1024.
        number_of_bytes: NumberOfBytes,
        /// `EncryptionContext`: a JSON object of strings.
        encryption_context: EncryptionContext,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

wire_params!(
    /// The parameters of Encrypt, as text.
    EncryptParams {
        /// `KeyId` (required): a key ID, alias, key ARN or alias ARN.
        key_id: KeyId,
        /// `Plaintext` (required): 1..=6144 bytes of text, sealed exactly as given.
        plaintext: Plaintext,
        /// `EncryptionContext`: a JSON object of strings.
        encryption_context: EncryptionContext,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

wire_params!(
    /// The parameters of Decrypt, as text. There is no `KeyId`: the blob names its version.
    DecryptParams {
        /// `CiphertextBlob` (required): Base64 of a blob.
        ciphertext_blob: CiphertextBlob,
        /// `EncryptionContext`: must be equivalent to the sealing context.
        encryption_context: EncryptionContext,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

wire_params!(
    /// The parameters of ReEncrypt, as text.
    ReEncryptParams {
        /// `CiphertextBlob` (required): the blob to move.
        ciphertext_blob: CiphertextBlob,
        /// `DestinationKeyId` (required): a key ID, alias, key ARN or alias ARN.
        destination_key_id: DestinationKeyId,
        /// `SourceEncryptionContext`: the context the blob was sealed with.
        source_encryption_context: SourceEncryptionContext,
        /// `DestinationEncryptionContext`: the context to seal the new blob with.
        destination_encryption_context: DestinationEncryptionContext,
        /// `DryRun`: `true` or `false`.
        dry_run: DryRun,
    }
);

/// What GenerateDataKey puts on the wire, borrowed from the workspace.
#[derive(Debug)]
pub struct GenerateDataKeyResponse<'w> {
    /// `KeyId`: the canonical ID of the master key.
    pub key_id: KeyId,
    /// `KeyVersionId`: the version that sealed, the key's primary version.
    pub key_version_id: KeyVersionId,
    /// `CiphertextBlob`: Base64 of the blob.
    pub ciphertext_blob: &'w str,
    /// `Plaintext`: the Base64 text of the data key. Zeroized on drop.
    pub plaintext: SecretText<'w>,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What Encrypt, GenerateDataKeyWithoutPlaintext and ReEncrypt put on the wire, borrowed from
/// the workspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CiphertextResponse<'w> {
    /// `KeyId`: the canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// `KeyVersionId`: the version that sealed, the key's primary version (ReEncrypt: the
    /// destination's **\[decided\]**).
    pub key_version_id: KeyVersionId,
    /// `CiphertextBlob`: Base64 of the blob.
    pub ciphertext_blob: &'w str,
    /// `RequestId`.
    pub request_id: RequestId,
}

/// What Decrypt puts on the wire, borrowed from the workspace.
#[derive(Debug)]
pub struct DecryptResponse<'w> {
    /// `KeyId`: the canonical ID of the key that sealed.
    pub key_id: KeyId,
    /// `KeyVersionId`: the version named in the blob.
    pub key_version_id: KeyVersionId,
    /// `Plaintext`: the text that was sealed. Zeroized on drop.
    pub plaintext: SecretText<'w>,
    /// `RequestId`.
    pub request_id: RequestId,
}

#[cfg(feature = "alloc")]
pub use owned::*;

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use crate::SecretTextBuf;
    use alloc::string::String;

    /// [`GenerateDataKeyResponse`], owned (with `alloc`). Serializes (with `serde`) to the
    /// wire shape of the API page: `KeyId`, `KeyVersionId`, `CiphertextBlob`, `Plaintext`,
    /// `RequestId`.
    #[derive(Debug, PartialEq, Eq)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
    pub struct GenerateDataKeyResponseBuf {
        /// `KeyId`.
        pub key_id: KeyId,
        /// `KeyVersionId`.
        pub key_version_id: KeyVersionId,
        /// `CiphertextBlob`.
        pub ciphertext_blob: String,
        /// `Plaintext`: the Base64 text of the data key.
        pub plaintext: SecretTextBuf,
        /// `RequestId`.
        pub request_id: RequestId,
    }

    impl GenerateDataKeyResponse<'_> {
        /// An owned copy.
        pub fn to_owned(&self) -> GenerateDataKeyResponseBuf {
            GenerateDataKeyResponseBuf {
                key_id: self.key_id,
                key_version_id: self.key_version_id,
                ciphertext_blob: self.ciphertext_blob.into(),
                plaintext: SecretTextBuf::copy_of(&self.plaintext),
                request_id: self.request_id,
            }
        }
    }

    /// [`CiphertextResponse`], owned (with `alloc`). Serializes (with `serde`) as `KeyId`,
    /// `KeyVersionId`, `CiphertextBlob`, `RequestId`.
    #[derive(Clone, Debug, PartialEq, Eq)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
    pub struct CiphertextResponseBuf {
        /// `KeyId`.
        pub key_id: KeyId,
        /// `KeyVersionId`.
        pub key_version_id: KeyVersionId,
        /// `CiphertextBlob`.
        pub ciphertext_blob: String,
        /// `RequestId`.
        pub request_id: RequestId,
    }

    impl CiphertextResponse<'_> {
        /// An owned copy.
        pub fn to_owned(&self) -> CiphertextResponseBuf {
            CiphertextResponseBuf {
                key_id: self.key_id,
                key_version_id: self.key_version_id,
                ciphertext_blob: self.ciphertext_blob.into(),
                request_id: self.request_id,
            }
        }
    }

    /// [`DecryptResponse`], owned (with `alloc`). Serializes (with `serde`) as `KeyId`,
    /// `KeyVersionId`, `Plaintext`, `RequestId`.
    #[derive(Debug, PartialEq, Eq)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize))]
    #[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
    pub struct DecryptResponseBuf {
        /// `KeyId`.
        pub key_id: KeyId,
        /// `KeyVersionId`.
        pub key_version_id: KeyVersionId,
        /// `Plaintext`: the text that was sealed.
        pub plaintext: SecretTextBuf,
        /// `RequestId`.
        pub request_id: RequestId,
    }

    impl DecryptResponse<'_> {
        /// An owned copy.
        pub fn to_owned(&self) -> DecryptResponseBuf {
            DecryptResponseBuf {
                key_id: self.key_id,
                key_version_id: self.key_version_id,
                plaintext: SecretTextBuf::copy_of(&self.plaintext),
                request_id: self.request_id,
            }
        }
    }

    /// GenerateDataKey from text parameters, returning an owned response (with `alloc`).
    /// Resolves the data key's length once, then allocates one workspace of exactly the size
    /// the request needs.
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    pub fn generate_data_key<P, R>(
        provider: &P,
        caller: &Caller<'_>,
        params: &GenerateDataKeyParams<'_>,
        rng: &mut R,
    ) -> Result<GenerateDataKeyResponseBuf, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        let dry_run = parse_dry_run(params.dry_run)?;
        let head = KeyAndLength::parse(params).map_err(|e| dry_run_error(dry_run, e))?;
        crate::ops::with_workspace(head.workspace_len(params), |workspace| {
            let mut workspace = Workspace::new(workspace, 0)?;
            generate(provider, caller, params, rng, &mut workspace, head, dry_run)
                .map(|r| r.to_owned())
        })
    }

    /// GenerateDataKeyWithoutPlaintext from text parameters, returning an owned response (with
    /// `alloc`).
    ///
    /// # Errors
    /// As [`generate_data_key_in`].
    pub fn generate_data_key_without_plaintext<P, R>(
        provider: &P,
        caller: &Caller<'_>,
        params: &GenerateDataKeyParams<'_>,
        rng: &mut R,
    ) -> Result<CiphertextResponseBuf, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        let dry_run = parse_dry_run(params.dry_run)?;
        let head = KeyAndLength::parse(params).map_err(|e| dry_run_error(dry_run, e))?;
        crate::ops::with_workspace(head.workspace_len(params), |workspace| {
            let mut workspace = Workspace::new(workspace, 0)?;
            generate_without_plaintext(provider, caller, params, rng, &mut workspace, head, dry_run)
                .map(|r| r.to_owned())
        })
    }

    /// Encrypt from text parameters, returning an owned response (with `alloc`).
    ///
    /// # Errors
    /// As [`encrypt_in`].
    pub fn encrypt<P, R>(
        provider: &P,
        caller: &Caller<'_>,
        params: &EncryptParams<'_>,
        rng: &mut R,
    ) -> Result<CiphertextResponseBuf, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        crate::ops::with_workspace(params.workspace_len(), |ws| {
            encrypt_in(provider, caller, params, rng, ws).map(|r| r.to_owned())
        })
    }

    /// Decrypt from text parameters, returning an owned response (with `alloc`).
    ///
    /// # Errors
    /// As [`decrypt_in`].
    pub fn decrypt<P, R>(
        provider: &P,
        caller: &Caller<'_>,
        params: &DecryptParams<'_>,
        rng: &mut R,
    ) -> Result<DecryptResponseBuf, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        crate::ops::with_workspace(params.workspace_len(), |ws| {
            decrypt_in(provider, caller, params, rng, ws).map(|r| r.to_owned())
        })
    }

    /// ReEncrypt from text parameters, returning an owned response (with `alloc`).
    ///
    /// # Errors
    /// As [`re_encrypt_in`].
    pub fn re_encrypt<P, R>(
        provider: &P,
        caller: &Caller<'_>,
        params: &ReEncryptParams<'_>,
        rng: &mut R,
    ) -> Result<CiphertextResponseBuf, Error>
    where
        P: KeyProvider + ?Sized,
        R: TryCryptoRng + ?Sized,
    {
        crate::ops::with_workspace(params.workspace_len(), |ws| {
            re_encrypt_in(provider, caller, params, rng, ws).map(|r| r.to_owned())
        })
    }
}

/// A step-1 error as a dry run reports it.
#[inline]
fn dry_run_error(dry_run: bool, e: Error) -> Error {
    if dry_run { e.in_dry_run() } else { e }
}

/// The parameters of GenerateDataKey that need no workspace, parsed in their order: `KeyId`,
/// then the data key's length.
#[derive(Clone, Copy)]
struct KeyAndLength<'a> {
    key: KeyReference<'a>,
    length: DataKeyLength,
}

impl<'a> KeyAndLength<'a> {
    #[inline]
    fn request<'r>(self, context: Context<'r>, dry_run: bool) -> GenerateDataKeyRequest<'r>
    where
        'a: 'r,
    {
        GenerateDataKeyRequest {
            key: self.key,
            length: self.length,
            context,
            dry_run,
        }
    }

    #[inline(always)]
    fn parse(params: &GenerateDataKeyParams<'a>) -> Result<Self, Error> {
        let key = key_reference(params.key_id, Parameter::KeyId)?;
        let length = DataKeyLength::resolve(params.key_spec, params.number_of_bytes)?;
        Ok(Self { key, length })
    }

    /// The workspace the rest takes: the canonical context, the typed operation's workspace
    /// (whose associated data is at most the context's bound plus the version ID) and the
    /// blob's Base64.
    #[inline]
    fn workspace_len(&self, params: &GenerateDataKeyParams<'_>) -> usize {
        let context = context::canonical_len_bound(params.encryption_context);
        let text = self.length.base64_len();
        let blob = OVERHEAD + text;
        context
            + self.length.bytes()
            + text
            + blob::VERSION_ID_LEN
            + context
            + blob
            + blob::base64_len(blob)
    }
}

impl GenerateDataKeyParams<'_> {
    /// How many workspace bytes [`generate_data_key_in`] needs for these parameters (an invalid
    /// length counts as the largest key).
    pub fn workspace_len(&self) -> usize {
        let length = DataKeyLength::resolve(self.key_spec, self.number_of_bytes)
            .unwrap_or(DataKeyLength::MAX);
        KeyAndLength {
            key: KeyReference::UnknownId(""),
            length,
        }
        .workspace_len(self)
    }
}

/// GenerateDataKey after `KeyId` and the length: the context, the typed operation, the blob's
/// Base64 and the request ID.
#[inline]
fn generate<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    workspace: &mut Workspace<'w>,
    head: KeyAndLength<'_>,
    dry_run: bool,
) -> Result<GenerateDataKeyResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let context = context_in(
        params.encryption_context,
        Parameter::EncryptionContext,
        workspace,
    )
    .map_err(|e| dry_run_error(dry_run, e))?;
    let request = head.request(context, dry_run);
    let typed = workspace.take(request.workspace_len())?;
    let result = ops::generate_data_key_in(provider, caller, &request, rng, typed);
    let out = ran!(dry_run, &result);
    let (key_id, key_version_id) = (out.key_id, out.key_version_id);
    let ciphertext_blob = blob_text(&out.ciphertext_blob, workspace)?;
    let request_id = request_id(params.request_id, rng)?;
    // `ran!` returned for every other case; only the secret is moved out.
    let Ok(Outcome::Done(ops::GeneratedDataKey {
        data_key_base64, ..
    })) = result
    else {
        return Err(Error::DryRunOperation);
    };
    Ok(GenerateDataKeyResponse {
        key_id,
        key_version_id,
        ciphertext_blob,
        plaintext: data_key_base64,
        request_id,
    })
}

/// GenerateDataKeyWithoutPlaintext after `KeyId` and the length, as [`generate`].
#[inline]
fn generate_without_plaintext<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    workspace: &mut Workspace<'w>,
    head: KeyAndLength<'_>,
    dry_run: bool,
) -> Result<CiphertextResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let context = context_in(
        params.encryption_context,
        Parameter::EncryptionContext,
        workspace,
    )
    .map_err(|e| dry_run_error(dry_run, e))?;
    let request = head.request(context, dry_run);
    let typed = workspace.take(request.workspace_len())?;
    let result = ops::generate_data_key_as_in(
        provider,
        caller,
        &request,
        rng,
        typed,
        Permission::GenerateDataKeyWithoutPlaintext,
    );
    let out = ran!(dry_run, &result);
    Ok(CiphertextResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: blob_text(&out.ciphertext_blob, workspace)?,
        request_id: request_id(params.request_id, rng)?,
    })
}

/// A blob's Base64 text, written into the workspace.
#[inline(always)]
fn blob_text<'w>(blob: &Blob<'_>, workspace: &mut Workspace<'w>) -> Result<&'w str, Error> {
    let needed = blob.base64_len();
    let out = workspace.take(needed)?;
    blob.encode_base64(out)
        .map_err(|_| Error::from(WorkspaceTooSmall { needed }))
}

/// GenerateDataKey from text parameters into a caller-provided workspace, without allocating.
///
/// # Errors
/// Any error of spec §8 that GenerateDataKey can produce, with `DryRun` as §7 says, and
/// `InternalFailure` ([`WorkspaceTooSmall`]) when `workspace` is shorter than
/// [`GenerateDataKeyParams::workspace_len`].
pub fn generate_data_key_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<GenerateDataKeyResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let head = KeyAndLength::parse(params).map_err(|e| dry_run_error(dry_run, e))?;
    let mut workspace = Workspace::new(workspace, head.workspace_len(params))?;
    generate(provider, caller, params, rng, &mut workspace, head, dry_run)
}

/// GenerateDataKeyWithoutPlaintext from text parameters into a caller-provided workspace,
/// without allocating. The data key never leaves the workspace, which is zeroized before this
/// returns.
///
/// # Errors
/// As [`generate_data_key_in`].
pub fn generate_data_key_without_plaintext_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &GenerateDataKeyParams<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<CiphertextResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let head = KeyAndLength::parse(params).map_err(|e| dry_run_error(dry_run, e))?;
    let mut workspace = Workspace::new(workspace, head.workspace_len(params))?;
    generate_without_plaintext(provider, caller, params, rng, &mut workspace, head, dry_run)
}

impl EncryptParams<'_> {
    /// How many workspace bytes [`encrypt_in`] needs for these parameters.
    pub fn workspace_len(&self) -> usize {
        let context = context::canonical_len_bound(self.encryption_context);
        let text = self.plaintext.map_or(0, str::len).min(blob::MAX_SEALED_LEN);
        let blob = OVERHEAD + text;
        context + blob::VERSION_ID_LEN + context + blob + blob::base64_len(blob)
    }
}

/// Encrypt from text parameters into a caller-provided workspace, without allocating.
///
/// # Errors
/// Any error of spec §8 that Encrypt can produce (`MissingParameter Plaintext`, and
/// `InvalidParameter Plaintext` for an empty or over-6144-byte text, among them), and
/// `InternalFailure` ([`WorkspaceTooSmall`]).
pub fn encrypt_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &EncryptParams<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<CiphertextResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let mut workspace = Workspace::new(workspace, params.workspace_len())?;
    let request =
        parse_encrypt(params, &mut workspace, dry_run).map_err(|e| dry_run_error(dry_run, e))?;
    let typed = workspace.take(request.workspace_len())?;
    let result = ops::encrypt_in(provider, caller, &request, rng, typed);
    let out = ran!(dry_run, &result);
    Ok(CiphertextResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: blob_text(&out.ciphertext_blob, &mut workspace)?,
        request_id: request_id(params.request_id, rng)?,
    })
}

impl DecryptParams<'_> {
    /// How many workspace bytes [`decrypt_in`] needs for these parameters.
    pub fn workspace_len(&self) -> usize {
        let context = context::canonical_len_bound(self.encryption_context);
        let blob = blob_decode_len(self.ciphertext_blob);
        blob + context + blob::VERSION_ID_LEN + context + blob
    }
}

/// Decrypt from text parameters into a caller-provided workspace, without allocating. A dry
/// run decodes the blob and resolves its version, but does not open it.
///
/// # Errors
/// Any error of spec §8 that Decrypt can produce, and `InternalFailure`
/// ([`WorkspaceTooSmall`]).
pub fn decrypt_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &DecryptParams<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<DecryptResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let mut workspace = Workspace::new(workspace, params.workspace_len())?;
    let request =
        parse_decrypt(params, &mut workspace, dry_run).map_err(|e| dry_run_error(dry_run, e))?;
    let typed = workspace.take(request.workspace_len())?;
    let result = ops::decrypt_in(provider, caller, &request, rng, typed);
    let out = ran!(dry_run, &result);
    let (key_id, key_version_id) = (out.key_id, out.key_version_id);
    let request_id = request_id(params.request_id, rng)?;
    // `ran!` returned for every other case; only the secret is moved out.
    let Ok(Outcome::Done(ops::Opened { plaintext, .. })) = result else {
        return Err(Error::DryRunOperation);
    };
    Ok(DecryptResponse {
        key_id,
        key_version_id,
        plaintext,
        request_id,
    })
}

impl ReEncryptParams<'_> {
    /// How many workspace bytes [`re_encrypt_in`] needs for these parameters.
    pub fn workspace_len(&self) -> usize {
        let source = context::canonical_len_bound(self.source_encryption_context);
        let destination = context::canonical_len_bound(self.destination_encryption_context);
        let blob = blob_decode_len(self.ciphertext_blob);
        let typed =
            blob::VERSION_ID_LEN + source + blob + blob::VERSION_ID_LEN + destination + blob;
        blob + source + destination + typed + blob::base64_len(blob)
    }
}

/// ReEncrypt from text parameters into a caller-provided workspace, without allocating.
///
/// # Errors
/// Any error of spec §8 that ReEncrypt can produce, and `InternalFailure`
/// ([`WorkspaceTooSmall`]).
pub fn re_encrypt_in<'w, P, R>(
    provider: &P,
    caller: &Caller<'_>,
    params: &ReEncryptParams<'_>,
    rng: &mut R,
    workspace: &'w mut [u8],
) -> Result<CiphertextResponse<'w>, Error>
where
    P: KeyProvider + ?Sized,
    R: TryCryptoRng + ?Sized,
{
    let dry_run = parse_dry_run(params.dry_run)?;
    let mut workspace = Workspace::new(workspace, params.workspace_len())?;
    let request =
        parse_re_encrypt(params, &mut workspace, dry_run).map_err(|e| dry_run_error(dry_run, e))?;
    let typed = workspace.take(request.workspace_len())?;
    let result = ops::re_encrypt_in(provider, caller, &request, rng, typed);
    let out = ran!(dry_run, &result);
    Ok(CiphertextResponse {
        key_id: out.key_id,
        key_version_id: out.key_version_id,
        ciphertext_blob: blob_text(&out.ciphertext_blob, &mut workspace)?,
        request_id: request_id(params.request_id, rng)?,
    })
}

/// Encrypt's parameters in their order: `KeyId`, `Plaintext`, `EncryptionContext`.
#[inline]
fn parse_encrypt<'r, 'a: 'r, 'w: 'r>(
    params: &EncryptParams<'a>,
    workspace: &mut Workspace<'w>,
    dry_run: bool,
) -> Result<EncryptRequest<'r>, Error> {
    let key = key_reference(params.key_id, Parameter::KeyId)?;
    let plaintext = Plaintext::new(required(params.plaintext, Parameter::Plaintext)?)?;
    let context = context_in(
        params.encryption_context,
        Parameter::EncryptionContext,
        workspace,
    )?;
    Ok(EncryptRequest {
        key,
        plaintext,
        context,
        dry_run,
    })
}

/// Decrypt's parameters in their order: `CiphertextBlob`, `EncryptionContext`.
#[inline]
fn parse_decrypt<'r, 'a: 'r, 'w: 'r>(
    params: &DecryptParams<'a>,
    workspace: &mut Workspace<'w>,
    dry_run: bool,
) -> Result<DecryptRequest<'r>, Error> {
    let blob = blob_in(params.ciphertext_blob, workspace)?;
    let context = context_in(
        params.encryption_context,
        Parameter::EncryptionContext,
        workspace,
    )?;
    Ok(DecryptRequest {
        ciphertext_blob: blob,
        context,
        dry_run,
    })
}

/// ReEncrypt's parameters in their order: `CiphertextBlob`, `SourceEncryptionContext`,
/// `DestinationKeyId`, `DestinationEncryptionContext`.
#[inline]
fn parse_re_encrypt<'r, 'a: 'r, 'w: 'r>(
    params: &ReEncryptParams<'a>,
    workspace: &mut Workspace<'w>,
    dry_run: bool,
) -> Result<ReEncryptRequest<'r>, Error> {
    let blob = blob_in(params.ciphertext_blob, workspace)?;
    let source = context_in(
        params.source_encryption_context,
        Parameter::SourceEncryptionContext,
        workspace,
    )?;
    let destination = key_reference(params.destination_key_id, Parameter::DestinationKeyId)?;
    let destination_context = context_in(
        params.destination_encryption_context,
        Parameter::DestinationEncryptionContext,
        workspace,
    )?;
    Ok(ReEncryptRequest {
        ciphertext_blob: blob,
        source_context: source,
        destination,
        destination_context,
        dry_run,
    })
}
