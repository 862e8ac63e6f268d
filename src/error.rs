//! The one error type of the crate, with the HTTP status, code and message of spec §8.

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
}

impl fmt::Display for ParameterProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParameterProblem::Missing(p) => {
                write!(f, "The parameter {p} is needed but not provided.")
            }
            ParameterProblem::Invalid(p) => {
                write!(f, "The specified parameter {p} is not valid.")
            }
        }
    }
}

/// Every way a request can fail, one variant per row of the spec's error table (§8).
///
/// [`Error::status`] gives the HTTP status, [`Error::code`] the error code, and `Display`
/// writes the exact message. Frontends put these three on the wire; nothing else about an
/// error is meant for peers.
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
    /// 412 `DryRunOperationError`: the dry run passed every check.
    DryRunOperation,
    /// 429 `Rejected.Throttling`: over the request rate; retry after this many milliseconds.
    Throttling {
        /// A hint: how long until a request would be admitted, in milliseconds.
        retry_after_ms: u64,
    },
    /// 500 `InternalFailure`: the provider or the RNG failed.
    InternalFailure,
    /// 500 `InternalFailure` on the wire **\[decided\]**; locally: the key version has sealed as
    /// many times as it may (spec §10) and its provider is set to refuse rather than rotate.
    /// The key's owner must rotate it.
    SealLimitReached,
    /// 500 `InternalFailure` on the wire; locally: the caller-provided workspace of a
    /// `*_in` operation is shorter than `needed` bytes. Never caused by a peer's input alone
    /// when the workspace is sized with the operation's `workspace_len`.
    WorkspaceTooSmall {
        /// The number of bytes the operation needs.
        needed: usize,
    },
}

impl Error {
    /// The HTTP status of spec §8.
    pub const fn status(&self) -> u16 {
        match self {
            Error::MissingParameter(_)
            | Error::InvalidParameter(_)
            | Error::UnsupportedOperation
            | Error::ValidationError(_) => 400,
            Error::NoPermission | Error::AccessDenied => 403,
            Error::AliasNotFound | Error::KeyNotFound => 404,
            Error::Disabled
            | Error::PendingDeletion
            | Error::PendingImport
            | Error::Unavailable
            | Error::StateModifiedFailed
            | Error::AliasAlreadyExists => 409,
            Error::DryRunOperation => 412,
            Error::Throttling { .. } => 429,
            Error::InternalFailure | Error::SealLimitReached | Error::WorkspaceTooSmall { .. } => {
                500
            }
        }
    }

    /// The error code of spec §8, exactly as it goes on the wire.
    pub const fn code(&self) -> &'static str {
        match self {
            Error::MissingParameter(_) => "MissingParameter",
            Error::InvalidParameter(_) => "InvalidParameter",
            Error::UnsupportedOperation => "UnsupportedOperation",
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
            Error::DryRunOperation => "DryRunOperationError",
            Error::Throttling { .. } => "Rejected.Throttling",
            Error::InternalFailure | Error::SealLimitReached | Error::WorkspaceTooSmall { .. } => {
                "InternalFailure"
            }
        }
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
    /// Writes the exact message of spec §8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingParameter(p) => ParameterProblem::Missing(*p).fmt(f),
            Error::InvalidParameter(p) => ParameterProblem::Invalid(*p).fmt(f),
            Error::ValidationError(problem) => problem.fmt(f),
            Error::UnsupportedOperation => f.write_str("This action is not supported."),
            Error::NoPermission | Error::AccessDenied => {
                f.write_str("This operation is forbidden by permission system.")
            }
            Error::AliasNotFound => f.write_str("The specified Alias is not found."),
            Error::KeyNotFound => f.write_str("The specified Key is not found."),
            Error::Disabled => {
                f.write_str("The request was rejected because the key state is Disabled.")
            }
            Error::PendingDeletion => {
                f.write_str("The request was rejected because the key state is PendingDeletion.")
            }
            Error::PendingImport => {
                f.write_str("The request was rejected because the key state is PendingImport.")
            }
            Error::Unavailable => {
                f.write_str("The request was rejected because the key state is Unavailable.")
            }
            Error::StateModifiedFailed => f.write_str("Keystate modified failed."),
            Error::AliasAlreadyExists => f.write_str("The specified Alias already exists."),
            Error::DryRunOperation => {
                f.write_str("The request would have succeeded, but the DryRun flag is set.")
            }
            Error::Throttling { .. } => f.write_str("QPS Limit Exceeded"),
            Error::InternalFailure | Error::SealLimitReached | Error::WorkspaceTooSmall { .. } => {
                f.write_str("Internal Failure.")
            }
        }
    }
}

impl core::error::Error for Error {}
