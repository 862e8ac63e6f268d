//! Errors for two audiences: [`Error`] is a row of the spec's error table (§8), with the wire's
//! status, code and message as methods and a human sentence as `Display`; the local failures
//! that are not wire rows ([`WorkspaceTooSmall`], [`RngError`], a provider's own failure, the
//! seal budget) are their own types, carried by the one row they map to,
//! [`Error::InternalFailure`].

use core::fmt;

/// A request parameter, by its wire name.
///
/// Used by [`Error::MissingParameter`], [`Error::InvalidParameter`] and
/// [`Error::ValidationError`] to fill the `{Name}` of the spec's messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Parameter {
    /// `KeyId`.
    KeyId,
    /// `KeySpec`.
    KeySpec,
    /// `NumberOfBytes`.
    NumberOfBytes,
    /// `EncryptionContext`.
    EncryptionContext,
    /// `DryRun`.
    DryRun,
    /// `CiphertextBlob`.
    CiphertextBlob,
    /// `Plaintext`.
    Plaintext,
    /// `DestinationKeyId` (ReEncrypt).
    DestinationKeyId,
    /// `SourceEncryptionContext` (ReEncrypt).
    SourceEncryptionContext,
    /// `DestinationEncryptionContext` (ReEncrypt).
    DestinationEncryptionContext,
    /// `AliasName` (alias management).
    AliasName,
    /// `KeyUsage` (CreateKey).
    KeyUsage,
    /// `Origin` (CreateKey).
    Origin,
    /// `Description` (CreateKey).
    Description,
    /// `PageNumber` (listings).
    PageNumber,
    /// `PageSize` (listings).
    PageSize,
    /// `PendingWindowInDays` (ScheduleKeyDeletion).
    PendingWindowInDays,
    /// `KeyMaterial` (ImportKeyMaterial).
    KeyMaterial,
    /// `Iv` (KMS-instance API).
    Iv,
    /// `Aad` (KMS-instance API).
    Aad,
    /// `Algorithm` (KMS-instance API).
    Algorithm,
    /// `Length` (KMS-instance GenerateRandom).
    Length,
    /// `DKMSInstanceId` (CreateKey).
    DKMSInstanceId,
    /// `KeyVersionId` (DescribeKeyVersion, the asymmetric operations).
    KeyVersionId,
    /// `Digest` (AsymmetricSign, AsymmetricVerify).
    Digest,
    /// `Value` (AsymmetricVerify: the signature).
    Value,
    /// `RotationInterval` (CreateKey, UpdateRotationPolicy).
    RotationInterval,
    /// `EnableAutomaticRotation` (CreateKey, UpdateRotationPolicy).
    EnableAutomaticRotation,
    /// `ProtectionLevel` (CreateKey).
    ProtectionLevel,
    /// `WrappingAlgorithm` (GetParametersForImport, the exports).
    WrappingAlgorithm,
    /// `WrappingKeySpec` (GetParametersForImport, the exports).
    WrappingKeySpec,
    /// `ImportToken` (ImportKeyMaterial).
    ImportToken,
    /// `EncryptedKeyMaterial` (ImportKeyMaterial).
    EncryptedKeyMaterial,
    /// `KeyMaterialExpireUnix` (ImportKeyMaterial).
    KeyMaterialExpireUnix,
    /// `Filters` (ListKeys).
    Filters,
    /// `PublicKeyBlob` (GenerateAndExportDataKey, ExportDataKey).
    PublicKeyBlob,
    // Metadata and housekeeping (SetDeletionProtection, tags, GetRandomPassword, key policies).
    /// `Tags` (TagResource).
    Tags,
    /// `TagKeys` (UntagResource).
    TagKeys,
    /// `Tag.N.Key` / `Tag.N.Value` (TagResources, ListTagResources).
    Tag,
    /// `TagKey.N` (UntagResources).
    TagKey,
    /// `ResourceId.N` (TagResources, UntagResources, ListTagResources).
    ResourceId,
    /// `ResourceType` (TagResources, UntagResources, ListTagResources).
    ResourceType,
    /// `RegionId` (TagResources, UntagResources, ListTagResources).
    RegionId,
    /// `All` (UntagResources).
    All,
    /// `NextToken` (ListTagResources).
    NextToken,
    /// `EnableDeletionProtection` (SetDeletionProtection).
    EnableDeletionProtection,
    /// `DeletionProtectionDescription` (SetDeletionProtection).
    DeletionProtectionDescription,
    /// `ProtectedResourceArn` (SetDeletionProtection).
    ProtectedResourceArn,
    /// `PasswordLength` (GetRandomPassword).
    PasswordLength,
    /// `ExcludeCharacters` (GetRandomPassword).
    ExcludeCharacters,
    /// `ExcludeLowercase` (GetRandomPassword).
    ExcludeLowercase,
    /// `ExcludeUppercase` (GetRandomPassword).
    ExcludeUppercase,
    /// `ExcludeNumbers` (GetRandomPassword).
    ExcludeNumbers,
    /// `ExcludePunctuation` (GetRandomPassword).
    ExcludePunctuation,
    /// `RequireEachIncludedType` (GetRandomPassword).
    RequireEachIncludedType,
    /// `Policy` (SetKeyPolicy).
    Policy,
    /// `PolicyName` (GetKeyPolicy, SetKeyPolicy).
    PolicyName,
    /// `Message` (KMS-instance Sign and Verify: the message, or its digest).
    Message,
    /// `MessageType` (KMS-instance Sign and Verify: `RAW` or `DIGEST`).
    MessageType,
    /// `Signature` (KMS-instance Verify).
    Signature,
    /// `KeyPairSpec` (KMS-instance GenerateDataKeyPair and its forms).
    KeyPairSpec,
    /// `KeyFormat` (KMS-instance GenerateDataKeyPair and its forms: `PEM` or `DER`).
    KeyFormat,
}

impl Parameter {
    /// The wire name, as it appears in requests and in error messages.
    pub const fn name(self) -> &'static str {
        match self {
            Parameter::KeyId => "KeyId",
            Parameter::KeySpec => "KeySpec",
            Parameter::NumberOfBytes => "NumberOfBytes",
            Parameter::EncryptionContext => "EncryptionContext",
            Parameter::DryRun => "DryRun",
            Parameter::CiphertextBlob => "CiphertextBlob",
            Parameter::Plaintext => "Plaintext",
            Parameter::DestinationKeyId => "DestinationKeyId",
            Parameter::SourceEncryptionContext => "SourceEncryptionContext",
            Parameter::DestinationEncryptionContext => "DestinationEncryptionContext",
            Parameter::AliasName => "AliasName",
            Parameter::KeyUsage => "KeyUsage",
            Parameter::Origin => "Origin",
            Parameter::Description => "Description",
            Parameter::PageNumber => "PageNumber",
            Parameter::PageSize => "PageSize",
            Parameter::PendingWindowInDays => "PendingWindowInDays",
            Parameter::KeyMaterial => "KeyMaterial",
            Parameter::Iv => "Iv",
            Parameter::Aad => "Aad",
            Parameter::Algorithm => "Algorithm",
            Parameter::Length => "Length",
            Parameter::DKMSInstanceId => "DKMSInstanceId",
            Parameter::KeyVersionId => "KeyVersionId",
            Parameter::Digest => "Digest",
            Parameter::Value => "Value",
            Parameter::RotationInterval => "RotationInterval",
            Parameter::EnableAutomaticRotation => "EnableAutomaticRotation",
            Parameter::ProtectionLevel => "ProtectionLevel",
            Parameter::WrappingAlgorithm => "WrappingAlgorithm",
            Parameter::WrappingKeySpec => "WrappingKeySpec",
            Parameter::ImportToken => "ImportToken",
            Parameter::EncryptedKeyMaterial => "EncryptedKeyMaterial",
            Parameter::KeyMaterialExpireUnix => "KeyMaterialExpireUnix",
            Parameter::Filters => "Filters",
            Parameter::PublicKeyBlob => "PublicKeyBlob",
            Parameter::Tags => "Tags",
            Parameter::TagKeys => "TagKeys",
            Parameter::Tag => "Tag",
            Parameter::TagKey => "TagKey",
            Parameter::ResourceId => "ResourceId",
            Parameter::ResourceType => "ResourceType",
            Parameter::RegionId => "RegionId",
            Parameter::All => "All",
            Parameter::NextToken => "NextToken",
            Parameter::EnableDeletionProtection => "EnableDeletionProtection",
            Parameter::DeletionProtectionDescription => "DeletionProtectionDescription",
            Parameter::ProtectedResourceArn => "ProtectedResourceArn",
            Parameter::PasswordLength => "PasswordLength",
            Parameter::ExcludeCharacters => "ExcludeCharacters",
            Parameter::ExcludeLowercase => "ExcludeLowercase",
            Parameter::ExcludeUppercase => "ExcludeUppercase",
            Parameter::ExcludeNumbers => "ExcludeNumbers",
            Parameter::ExcludePunctuation => "ExcludePunctuation",
            Parameter::RequireEachIncludedType => "RequireEachIncludedType",
            Parameter::Policy => "Policy",
            Parameter::PolicyName => "PolicyName",
            Parameter::Message => "Message",
            Parameter::MessageType => "MessageType",
            Parameter::Signature => "Signature",
            Parameter::KeyPairSpec => "KeyPairSpec",
            Parameter::KeyFormat => "KeyFormat",
        }
    }
}

impl fmt::Display for Parameter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What was wrong with a parameter: the two step-1 failures of spec §7.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParameterProblem {
    /// The parameter is required and was not given.
    Missing(Parameter),
    /// The parameter was given but its value is not valid.
    Invalid(Parameter),
}

impl ParameterProblem {
    /// The error this problem is outside a dry run.
    pub const fn into_error(self) -> Error {
        match self {
            ParameterProblem::Missing(p) => Error::MissingParameter(p),
            ParameterProblem::Invalid(p) => Error::InvalidParameter(p),
        }
    }

    fn write_message(self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParameterProblem::Missing(p) => {
                write!(f, "The parameter {p} is needed but not provided.")
            }
            ParameterProblem::Invalid(p) => write!(f, "The specified parameter {p} is not valid."),
        }
    }
}

/// A caller's workspace is shorter than an operation needs. Never caused by a peer's input alone
/// when the workspace is sized with the request's `workspace_len()`; reported on the wire as
/// `InternalFailure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkspaceTooSmall {
    /// The number of bytes the operation needs.
    pub needed: usize,
}

impl fmt::Display for WorkspaceTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the workspace is too small: {} bytes needed",
            self.needed
        )
    }
}

impl core::error::Error for WorkspaceTooSmall {}

impl From<WorkspaceTooSmall> for Error {
    fn from(e: WorkspaceTooSmall) -> Self {
        Error::InternalFailure(Internal::WorkspaceTooSmall(e))
    }
}

/// The caller's random number generator failed. Reported on the wire as `InternalFailure`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RngError;

impl fmt::Display for RngError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the random number generator failed")
    }
}

impl core::error::Error for RngError {}

impl From<RngError> for Error {
    fn from(_: RngError) -> Self {
        Error::InternalFailure(Internal::Rng)
    }
}

/// Why a request ended in `InternalFailure` (500): failures of the machinery, not of the
/// request, which the wire reports alike and a local caller may want to tell apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Internal {
    /// The RNG failed ([`RngError`]).
    Rng,
    /// The key provider failed: a broken backend, a handle that no longer resolves.
    Provider,
    /// The key version has sealed as many times as it may (spec §10) and the provider refuses;
    /// the key must be rotated **\[decided: 500 on the wire\]**.
    SealLimitReached,
    /// The caller's workspace is too small ([`WorkspaceTooSmall`]).
    WorkspaceTooSmall(WorkspaceTooSmall),
}

impl fmt::Display for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Internal::Rng => RngError.fmt(f),
            Internal::Provider => f.write_str("the key provider failed"),
            Internal::SealLimitReached => {
                f.write_str("the key version has sealed as many times as it may; rotate the key")
            }
            Internal::WorkspaceTooSmall(e) => e.fmt(f),
        }
    }
}

/// Every way a request can fail, one variant per row of the spec's error table (§8).
///
/// [`status`](Self::status), [`code`](Self::code) and [`message`](Self::message) are what
/// frontends put on the wire, exactly as §8 writes them. `Display` is a sentence for people,
/// which for an internal failure says which part failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// 400 `MissingParameter`: a required parameter is absent.
    MissingParameter(Parameter),
    /// 400 `InvalidParameter`: a parameter's value is not valid. For `CiphertextBlob` this
    /// covers every way a blob can be wrong, including a failed tag or a context mismatch,
    /// with nothing that tells them apart.
    InvalidParameter(Parameter),
    /// 400 `UnsupportedOperation`: the key cannot do this (not a symmetric
    /// ENCRYPT/DECRYPT key).
    UnsupportedOperation,
    /// 400 `Rejected.UnsupportedOperation`: a key management change the key does not allow
    /// (UpdateRotationPolicy on a key that is not an Enabled `Aliyun_KMS` symmetric key).
    RejectedUnsupportedOperation,
    /// 400 `ValidationError`: a dry run whose parameters failed step 1; the message is the
    /// underlying `MissingParameter` or `InvalidParameter` message.
    ValidationError(ParameterProblem),
    /// 403 `Forbidden.NoPermission`: the caller may not use the key.
    NoPermission,
    /// 403 `AccessDeniedError`: a dry run that failed the permission step.
    AccessDenied,
    /// 404 `Forbidden.AliasNotFound`: the alias names no key.
    AliasNotFound,
    /// 404 `Forbidden.KeyNotFound`: the key ID, ARN or blob names no key.
    KeyNotFound,
    /// 409 `Rejected.Disabled`.
    Disabled,
    /// 409 `Rejected.PendingDeletion`.
    PendingDeletion,
    /// 409 `Rejected.PendingImport`.
    PendingImport,
    /// 409 `Rejected.Unavailable`: the provider cannot reach the key's material.
    Unavailable,
    /// 409 `Rejected.StateModifiedFailed`: a key management operation the key's state does not
    /// allow (enable a key pending deletion, cancel the deletion of a key not pending it, ...).
    StateModifiedFailed,
    /// 409 `AliasAlreadyExists`: the alias is taken in this account and region.
    AliasAlreadyExists,
    /// 403 `Forbidden.ResourceProtected`: ScheduleKeyDeletion of a key whose deletion
    /// protection is on (SetDeletionProtection) **\[decided: code and status\]**.
    ResourceProtected,
    /// `InvalidKeyMaterial` (400): imported material that does not unwrap, is not of the
    /// key's length, or is not the material first imported into the key.
    InvalidKeyMaterial,
    /// `InvalidImportToken` (400): an ImportToken that is malformed, altered, or made for
    /// another key.
    InvalidImportToken,
    /// `ExpiredImportToken` (400): an ImportToken past its `TokenExpireTime`.
    ExpiredImportToken,
    /// `Unsupported.Origin` (400): an import operation on a key whose origin is not
    /// `EXTERNAL`.
    UnsupportedOrigin,
    /// 412 `DryRunOperationError`: the dry run passed every check (the wire's answer; the
    /// typed operations return [`Outcome::DryRun`](crate::ops::Outcome::DryRun) instead).
    DryRunOperation,
    /// 429 `Rejected.Throttling`: over the request rate.
    Throttling {
        /// A hint: how long until a request would be admitted, in milliseconds.
        retry_after_ms: u64,
    },
    /// 500 `InternalFailure`, with the local cause.
    InternalFailure(Internal),
}

/// The message of spec §8 that goes on the wire with an [`Error`]; `Display` writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message(Error);

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Error::MissingParameter(p) => return ParameterProblem::Missing(p).write_message(f),
            Error::InvalidParameter(p) => return ParameterProblem::Invalid(p).write_message(f),
            Error::ValidationError(problem) => return problem.write_message(f),
            Error::UnsupportedOperation => "This action is not supported.",
            Error::RejectedUnsupportedOperation => "Unsupported operation.",
            Error::NoPermission | Error::AccessDenied => {
                "This operation is forbidden by permission system."
            }
            Error::AliasNotFound => "The specified Alias is not found.",
            Error::KeyNotFound => "The specified Key is not found.",
            Error::Disabled => "The request was rejected because the key state is Disabled.",
            Error::PendingDeletion => {
                "The request was rejected because the key state is PendingDeletion."
            }
            Error::PendingImport => {
                "The request was rejected because the key state is PendingImport."
            }
            Error::Unavailable => "The request was rejected because the key state is Unavailable.",
            Error::StateModifiedFailed => "Keystate modified failed.",
            Error::AliasAlreadyExists => "The specified Alias already exists.",
            Error::ResourceProtected => {
                "The resource is protected by deletion protection and cannot be deleted."
            }
            Error::InvalidKeyMaterial => "key material is invalid.",
            Error::InvalidImportToken => "import token is invalid.",
            Error::ExpiredImportToken => "import token is expired.",
            Error::UnsupportedOrigin => "This key origin is not valid for this api.",
            Error::DryRunOperation => {
                "The request would have succeeded, but the DryRun flag is set."
            }
            Error::Throttling { .. } => "QPS Limit Exceeded",
            Error::InternalFailure(_) => "Internal Failure.",
        })
    }
}

impl Error {
    /// The HTTP status of spec §8.
    pub const fn status(&self) -> u16 {
        match self {
            Error::MissingParameter(_)
            | Error::InvalidParameter(_)
            | Error::UnsupportedOperation
            | Error::RejectedUnsupportedOperation
            | Error::InvalidKeyMaterial
            | Error::InvalidImportToken
            | Error::ExpiredImportToken
            | Error::UnsupportedOrigin
            | Error::ValidationError(_) => 400,
            Error::NoPermission | Error::AccessDenied | Error::ResourceProtected => 403,
            Error::AliasNotFound | Error::KeyNotFound => 404,
            Error::Disabled
            | Error::PendingDeletion
            | Error::PendingImport
            | Error::Unavailable
            | Error::StateModifiedFailed
            | Error::AliasAlreadyExists => 409,
            Error::DryRunOperation => 412,
            Error::Throttling { .. } => 429,
            Error::InternalFailure(_) => 500,
        }
    }

    /// The error code of spec §8, exactly as it goes on the wire.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::MissingParameter(_) => "MissingParameter",
            Error::InvalidParameter(_) => "InvalidParameter",
            Error::UnsupportedOperation => "UnsupportedOperation",
            Error::RejectedUnsupportedOperation => "Rejected.UnsupportedOperation",
            Error::ValidationError(_) => "ValidationError",
            Error::NoPermission => "Forbidden.NoPermission",
            Error::AccessDenied => "AccessDeniedError",
            Error::AliasNotFound => "Forbidden.AliasNotFound",
            Error::KeyNotFound => "Forbidden.KeyNotFound",
            Error::Disabled => "Rejected.Disabled",
            Error::PendingDeletion => "Rejected.PendingDeletion",
            Error::PendingImport => "Rejected.PendingImport",
            Error::Unavailable => "Rejected.Unavailable",
            Error::StateModifiedFailed => "Rejected.StateModifiedFailed",
            Error::AliasAlreadyExists => "AliasAlreadyExists",
            Error::ResourceProtected => "Forbidden.ResourceProtected",
            Error::InvalidKeyMaterial => "InvalidKeyMaterial",
            Error::InvalidImportToken => "InvalidImportToken",
            Error::ExpiredImportToken => "ExpiredImportToken",
            Error::UnsupportedOrigin => "Unsupported.Origin",
            Error::DryRunOperation => "DryRunOperationError",
            Error::Throttling { .. } => "Rejected.Throttling",
            Error::InternalFailure(_) => "InternalFailure",
        }
    }

    /// The message of spec §8, exactly as it goes on the wire.
    pub const fn message(&self) -> Message {
        Message(*self)
    }

    /// The error a dry run reports in place of this one (spec §7): step-1 failures become
    /// `ValidationError`, permission failures `AccessDeniedError`; the rest keep their code.
    pub const fn in_dry_run(self) -> Error {
        match self {
            Error::MissingParameter(p) => Error::ValidationError(ParameterProblem::Missing(p)),
            Error::InvalidParameter(p) => Error::ValidationError(ParameterProblem::Invalid(p)),
            Error::NoPermission => Error::AccessDenied,
            other => other,
        }
    }
}

impl fmt::Display for Error {
    /// A sentence for people; the wire's text is [`Error::message`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingParameter(p) => write!(f, "the required parameter {p} is missing"),
            Error::InvalidParameter(p) => write!(f, "the parameter {p} is not valid"),
            Error::ValidationError(ParameterProblem::Missing(p)) => {
                write!(f, "dry run: the required parameter {p} is missing")
            }
            Error::ValidationError(ParameterProblem::Invalid(p)) => {
                write!(f, "dry run: the parameter {p} is not valid")
            }
            Error::UnsupportedOperation => f.write_str(
                "the key cannot do this operation (not a symmetric ENCRYPT/DECRYPT key)",
            ),
            Error::RejectedUnsupportedOperation => {
                f.write_str("the key does not allow this change (its kind, origin or state)")
            }
            Error::NoPermission => f.write_str("the caller may not use this key"),
            Error::AccessDenied => f.write_str("dry run: the caller may not use this key"),
            Error::AliasNotFound => f.write_str("the alias names no key"),
            Error::KeyNotFound => f.write_str("no such key"),
            Error::Disabled => f.write_str("the key is disabled"),
            Error::PendingDeletion => f.write_str("the key is pending deletion"),
            Error::PendingImport => f.write_str("the key's material has not been imported"),
            Error::Unavailable => f.write_str("the key's material cannot be reached"),
            Error::StateModifiedFailed => f.write_str("the key's state does not allow this change"),
            Error::AliasAlreadyExists => f.write_str("the alias already exists"),
            Error::ResourceProtected => {
                f.write_str("the key's deletion protection is on: turn it off first")
            }
            Error::InvalidKeyMaterial => f.write_str(
                "the key material does not unwrap, has the wrong length, or is not the key's material",
            ),
            Error::InvalidImportToken => {
                f.write_str("the import token is malformed, altered or for another key")
            }
            Error::ExpiredImportToken => f.write_str("the import token has expired"),
            Error::UnsupportedOrigin => f.write_str("the key's origin is not EXTERNAL"),
            Error::DryRunOperation => f.write_str("dry run: the request would have succeeded"),
            Error::Throttling { retry_after_ms } => {
                write!(f, "over the request rate; retry in {retry_after_ms} ms")
            }
            Error::InternalFailure(cause) => write!(f, "internal failure: {cause}"),
        }
    }
}

impl core::error::Error for Error {}
