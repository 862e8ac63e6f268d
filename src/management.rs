//! Key management operations (with `alloc`): CreateKey, DescribeKey, ListKeys, the alias
//! operations, EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, CreateKeyVersion
//! and ImportKeyMaterial, as pure request/response functions over the [`InMemoryProvider`].
//!
//! Like the data-key operations, each takes its parameters as the text that came over the wire,
//! the caller, and the time (`now`, since the Unix epoch) as an argument; nothing reads a clock.
//! Every operation first deletes the keys whose scheduled deletion date `now` has passed.
//!
//! Only a key's own account may manage it **\[decided\]**: a key of another account, named by
//! ARN, is `Forbidden.NoPermission`, whatever its policy grants for data-key operations.
//!
//! State changes follow Alibaba's table; a change the key's state does not allow is
//! `Rejected.StateModifiedFailed` (409, `Keystate modified failed.`):
//!
//! | operation | Enabled | Disabled | PendingDeletion | PendingImport |
//! |---|---|---|---|---|
//! | EnableKey | Enabled | Enabled | refused | refused |
//! | DisableKey | Disabled | Disabled | refused | refused |
//! | ScheduleKeyDeletion | PendingDeletion | PendingDeletion | refused | PendingDeletion |
//! | CancelKeyDeletion | refused | refused | Enabled (PendingImport without material) | refused |
//! | CreateAlias / UpdateAlias to the key | allowed | allowed | refused | allowed |
//! | CreateKeyVersion | allowed | refused | refused | refused |
//! | ImportKeyMaterial | refused | refused | refused | Enabled |
//!
//! CreateKeyVersion of a key that has no material of its own (external or asymmetric) is
//! `UnsupportedOperation`.
//!
//! Each operation draws its request ID (when the frontend supplies none) after checking its
//! parameters and before changing anything, so an RNG failure never reports an error for a
//! change that was made.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use base64ct::{Base64, Encoding};
use rand_core::TryCryptoRng;

use crate::in_memory::{InMemoryProvider, KeyOptions};
use crate::key_id::{KeyReference, is_reserved_alias, is_valid_alias};
use crate::ops::resolve;
use crate::spec::decimal_in;
use crate::time::Timestamp;
use crate::{
    Caller, Error, KeyId, KeyOrigin, KeyState, KeyUsage, KeyVersionId, MasterKeyMaterial,
    MasterKeySpec, Parameter, RequestId,
};

/// The most characters of a key description.
pub const MAX_DESCRIPTION_CHARS: usize = 8192;

/// The ARN of a key: `acs:kms:{region}:{account}:key/{key id}`.
pub fn key_arn(region: &str, account: &str, key_id: &KeyId) -> String {
    alloc::format!("acs:kms:{region}:{account}:key/{key_id}")
}

/// The ARN of an alias: `acs:kms:{region}:{account}:alias/{name}`.
pub fn alias_arn(region: &str, account: &str, alias: &str) -> String {
    alloc::format!("acs:kms:{region}:{account}:{alias}")
}

/// What DescribeKey reports about a key (and CreateKey about the key it made).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct KeyMetadata {
    /// The key ID.
    pub key_id: KeyId,
    /// The key's ARN.
    pub arn: String,
    /// `Enabled`, `Disabled`, `PendingDeletion`, `PendingImport` (or `Unavailable` while the
    /// material cannot be reached).
    pub key_state: String,
    /// `Aliyun_AES_256`, `Aliyun_AES_128`, `RSA_2048`, `EC_P256`.
    pub key_spec: String,
    /// `ENCRYPT/DECRYPT` or `SIGN/VERIFY`.
    pub key_usage: String,
    /// `Aliyun_KMS` or `EXTERNAL`.
    pub origin: String,
    /// The primary version's ID.
    pub primary_key_version: KeyVersionId,
    /// When the key was made, ISO 8601 UTC.
    pub creation_date: String,
    /// When a scheduled deletion happens, ISO 8601 UTC; absent when none is scheduled.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub delete_date: Option<String>,
    /// The description.
    pub description: String,
    /// The owning account.
    pub creator: String,
}

/// A response that carries only the request ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct EmptyResponse {
    /// The request ID.
    pub request_id: RequestId,
}

/// A response that carries a key's metadata (CreateKey, DescribeKey).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct KeyMetadataResponse {
    /// The key's metadata.
    pub key_metadata: KeyMetadata,
    /// The request ID.
    pub request_id: RequestId,
}

/// One key of a ListKeys page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct KeyListEntry {
    /// The key ID.
    pub key_id: KeyId,
    /// The key's ARN.
    pub key_arn: String,
}

/// The `Keys` of a ListKeys response: `{"Key": [...]}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KeyList {
    /// The keys of the page.
    #[cfg_attr(feature = "serde", serde(rename = "Key"))]
    pub key: Vec<KeyListEntry>,
}

/// A ListKeys response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct ListKeysResponse {
    /// The page's keys, oldest first.
    pub keys: KeyList,
    /// How many keys the caller has in the region.
    pub total_count: usize,
    /// The page number.
    pub page_number: usize,
    /// The page size.
    pub page_size: usize,
    /// The request ID.
    pub request_id: RequestId,
}

/// One alias of a ListAliases page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct AliasListEntry {
    /// The alias.
    pub alias_name: String,
    /// The alias's ARN.
    pub alias_arn: String,
    /// The key it names.
    pub key_id: KeyId,
}

/// The `Aliases` of a ListAliases response: `{"Alias": [...]}` on the wire.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AliasList {
    /// The aliases of the page.
    #[cfg_attr(feature = "serde", serde(rename = "Alias"))]
    pub alias: Vec<AliasListEntry>,
}

/// A ListAliases response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct ListAliasesResponse {
    /// The page's aliases, sorted by name.
    pub aliases: AliasList,
    /// How many aliases the caller has in the region.
    pub total_count: usize,
    /// The page number.
    pub page_number: usize,
    /// The page size.
    pub page_size: usize,
    /// The request ID.
    pub request_id: RequestId,
}

/// The version CreateKeyVersion made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct KeyVersion {
    /// The key ID.
    pub key_id: KeyId,
    /// The new version, now primary.
    pub key_version_id: KeyVersionId,
    /// When it was made, ISO 8601 UTC.
    pub creation_date: String,
}

/// A CreateKeyVersion response.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "PascalCase"))]
pub struct CreateKeyVersionResponse {
    /// The new version.
    pub key_version: KeyVersion,
    /// The request ID.
    pub request_id: RequestId,
}

/// A CreateKey request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CreateKeyRequest<'a> {
    /// `KeySpec`: `Aliyun_AES_256` (default), `Aliyun_AES_128`, `RSA_2048`, `EC_P256`.
    pub key_spec: Option<&'a str>,
    /// `KeyUsage`: `ENCRYPT/DECRYPT` (default; the only one for AES keys) or `SIGN/VERIFY`
    /// (the only one for `EC_P256`).
    pub key_usage: Option<&'a str>,
    /// `Origin`: `Aliyun_KMS` (default) or `EXTERNAL` (AES keys only).
    pub origin: Option<&'a str>,
    /// `Description`: up to 8192 characters.
    pub description: Option<&'a str>,
    /// The frontend's request ID; when `None`, one is drawn from the RNG.
    pub request_id: Option<RequestId>,
}

/// A request that names one key: DescribeKey, EnableKey, DisableKey, CancelKeyDeletion,
/// CreateKeyVersion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyRequest<'a> {
    /// `KeyId` (required): a key ID, alias, key ARN or alias ARN.
    pub key_id: Option<&'a str>,
    /// The frontend's request ID.
    pub request_id: Option<RequestId>,
}

impl<'a> KeyRequest<'a> {
    /// A request about `key_id`.
    pub fn new(key_id: &'a str) -> Self {
        Self {
            key_id: Some(key_id),
            request_id: None,
        }
    }
}

/// A ListKeys or ListAliases request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest<'a> {
    /// `PageNumber`: 1 or more, 1 by default.
    pub page_number: Option<&'a str>,
    /// `PageSize`: 1..=100, 10 by default.
    pub page_size: Option<&'a str>,
    /// The frontend's request ID.
    pub request_id: Option<RequestId>,
}

/// A CreateAlias or UpdateAlias request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AliasRequest<'a> {
    /// `AliasName` (required): `alias/` and 1..=255 of `A-Za-z0-9_-/`, not under `alias/acs/`.
    pub alias_name: Option<&'a str>,
    /// `KeyId` (required; DeleteAlias ignores it).
    pub key_id: Option<&'a str>,
    /// The frontend's request ID.
    pub request_id: Option<RequestId>,
}

/// A ScheduleKeyDeletion request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScheduleKeyDeletionRequest<'a> {
    /// `KeyId` (required).
    pub key_id: Option<&'a str>,
    /// `PendingWindowInDays` (required): 7..=366.
    pub pending_window_in_days: Option<&'a str>,
    /// The frontend's request ID.
    pub request_id: Option<RequestId>,
}

/// An ImportKeyMaterial request: raw AES material, Base64-encoded, for an `EXTERNAL` key
/// pending import. (Alibaba's wrapped-import handshake, GetParametersForImport, is not modelled.)
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportKeyMaterialRequest<'a> {
    /// `KeyId` (required).
    pub key_id: Option<&'a str>,
    /// `KeyMaterial` (required): Base64 of 16 bytes (`Aliyun_AES_128`) or 32 (`Aliyun_AES_256`).
    pub key_material: Option<&'a str>,
    /// The frontend's request ID.
    pub request_id: Option<RequestId>,
}

impl core::fmt::Debug for ImportKeyMaterialRequest<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ImportKeyMaterialRequest")
            .field("key_id", &self.key_id)
            .field("key_material", &self.key_material.map(|_| "[REDACTED]"))
            .finish_non_exhaustive()
    }
}

fn required(value: Option<&str>, parameter: Parameter) -> Result<&str, Error> {
    value.ok_or(Error::MissingParameter(parameter))
}

fn request_id<R: TryCryptoRng + ?Sized>(
    supplied: Option<RequestId>,
    rng: &mut R,
) -> Result<RequestId, Error> {
    supplied.map_or_else(|| RequestId::random(rng), Ok)
}

/// Step 1 for a `KeyId` parameter.
fn key_reference<'a>(text: Option<&'a str>) -> Result<KeyReference<'a>, Error> {
    KeyReference::parse(required(text, Parameter::KeyId)?, Parameter::KeyId)
}

/// Resolves a key the caller owns: the data path's resolution (step 2), then ownership.
fn owned(
    provider: &InMemoryProvider,
    caller: &Caller<'_>,
    reference: &KeyReference<'_>,
) -> Result<KeyId, Error> {
    let record = resolve(provider, caller, reference)?;
    if *provider.details(&record.key_id)?.account != *caller.account {
        return Err(Error::NoPermission);
    }
    Ok(record.key_id)
}

/// [`key_reference`] then [`owned`], for operations whose only parameter is the key.
fn owned_key(
    provider: &InMemoryProvider,
    caller: &Caller<'_>,
    text: Option<&str>,
) -> Result<KeyId, Error> {
    owned(provider, caller, &key_reference(text)?)
}

fn metadata(provider: &InMemoryProvider, key_id: &KeyId) -> Result<KeyMetadata, Error> {
    let d = provider.details(key_id)?;
    Ok(KeyMetadata {
        key_id: *key_id,
        arn: key_arn(&d.region, &d.account, key_id),
        key_state: d.record.state.name().into(),
        key_spec: d.record.spec.name().into(),
        key_usage: d.record.usage.name().into(),
        origin: d.origin.name().into(),
        primary_key_version: d.record.primary_version,
        creation_date: Timestamp(d.created).to_string(),
        delete_date: d.delete_at.map(|t| Timestamp(t).to_string()),
        description: d.description.into(),
        creator: d.account.into(),
    })
}

/// CreateKey.
///
/// # Errors
/// `InvalidParameter` `KeySpec`, `KeyUsage`, `Origin` or `Description`; `InternalFailure` when
/// the RNG fails.
pub fn create_key<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &CreateKeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<KeyMetadataResponse, Error> {
    provider.delete_expired(now);
    let spec = match request.key_spec {
        None => MasterKeySpec::Aes256,
        Some(name) => {
            MasterKeySpec::from_name(name).ok_or(Error::InvalidParameter(Parameter::KeySpec))?
        }
    };
    let usage = match request.key_usage {
        None | Some("ENCRYPT/DECRYPT") => KeyUsage::EncryptDecrypt,
        Some("SIGN/VERIFY") => KeyUsage::SignVerify,
        Some(_) => return Err(Error::InvalidParameter(Parameter::KeyUsage)),
    };
    let usage_fits = match spec {
        MasterKeySpec::Aes256 | MasterKeySpec::Aes128 => usage == KeyUsage::EncryptDecrypt,
        MasterKeySpec::EcP256 => usage == KeyUsage::SignVerify,
        _ => true,
    };
    if !usage_fits {
        return Err(Error::InvalidParameter(Parameter::KeyUsage));
    }
    let origin = match request.origin {
        None | Some("Aliyun_KMS") => KeyOrigin::Kms,
        Some("EXTERNAL") if spec.is_symmetric() => KeyOrigin::External,
        Some(_) => return Err(Error::InvalidParameter(Parameter::Origin)),
    };
    let description = request.description.unwrap_or("");
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(Error::InvalidParameter(Parameter::Description));
    }
    let options = KeyOptions::new(caller.account, caller.region)
        .spec(spec)
        .usage(usage)
        .origin(origin)
        .description(description)
        .created(now);
    // The request ID first: a failure after the key is made would report an error for a
    // change that happened.
    let request_id = request_id(request.request_id, rng)?;
    let key_id = provider.create_key(rng, &options)?;
    Ok(KeyMetadataResponse {
        key_metadata: metadata(provider, &key_id)?,
        request_id,
    })
}

/// DescribeKey.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter KeyId`, `Forbidden.KeyNotFound`,
/// `Forbidden.AliasNotFound`, `Forbidden.NoPermission`.
pub fn describe_key<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<KeyMetadataResponse, Error> {
    provider.delete_expired(now);
    let key_id = owned_key(provider, caller, request.key_id)?;
    Ok(KeyMetadataResponse {
        key_metadata: metadata(provider, &key_id)?,
        request_id: request_id(request.request_id, rng)?,
    })
}

/// Parses `PageNumber` and `PageSize` (ASCII digits; 1.. and 1..=100; defaults 1 and 10).
fn page(request: &PageRequest<'_>) -> Result<(usize, usize), Error> {
    fn number(
        text: Option<&str>,
        default: usize,
        max: usize,
        p: Parameter,
    ) -> Result<usize, Error> {
        let Some(text) = text else {
            return Ok(default);
        };
        decimal_in(text, 9, 1..=max).ok_or(Error::InvalidParameter(p))
    }
    Ok((
        number(request.page_number, 1, 999_999_999, Parameter::PageNumber)?,
        number(request.page_size, 10, 100, Parameter::PageSize)?,
    ))
}

/// ListKeys: the caller's keys in its region, oldest first, a page at a time.
///
/// # Errors
/// `InvalidParameter PageNumber` or `PageSize`.
pub fn list_keys<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &PageRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<ListKeysResponse, Error> {
    provider.delete_expired(now);
    let (page_number, page_size) = page(request)?;
    let total_count = provider.keys_of(caller.account, caller.region).count();
    let key = provider
        .keys_of(caller.account, caller.region)
        .skip((page_number - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|key_id| KeyListEntry {
            key_arn: key_arn(caller.region, caller.account, &key_id),
            key_id,
        })
        .collect();
    Ok(ListKeysResponse {
        keys: KeyList { key },
        total_count,
        page_number,
        page_size,
        request_id: request_id(request.request_id, rng)?,
    })
}

/// ListAliases: the caller's aliases in its region, sorted by name, a page at a time.
///
/// # Errors
/// `InvalidParameter PageNumber` or `PageSize`.
pub fn list_aliases<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &PageRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<ListAliasesResponse, Error> {
    provider.delete_expired(now);
    let (page_number, page_size) = page(request)?;
    let total_count = provider.aliases_of(caller.account, caller.region).count();
    let alias = provider
        .aliases_of(caller.account, caller.region)
        .skip((page_number - 1).saturating_mul(page_size))
        .take(page_size)
        .map(|entry| AliasListEntry {
            alias_name: entry.alias.into(),
            alias_arn: alias_arn(caller.region, caller.account, entry.alias),
            key_id: entry.key_id,
        })
        .collect();
    Ok(ListAliasesResponse {
        aliases: AliasList { alias },
        total_count,
        page_number,
        page_size,
        request_id: request_id(request.request_id, rng)?,
    })
}

fn alias_name<'a>(request: &AliasRequest<'a>) -> Result<&'a str, Error> {
    let alias = required(request.alias_name, Parameter::AliasName)?;
    if is_valid_alias(alias) && !is_reserved_alias(alias) {
        Ok(alias)
    } else {
        Err(Error::InvalidParameter(Parameter::AliasName))
    }
}

/// CreateAlias.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter` `AliasName` or `KeyId`; key resolution errors;
/// `AliasAlreadyExists`; `Rejected.StateModifiedFailed` for a key pending deletion.
pub fn create_alias<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &AliasRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let alias = alias_name(request)?;
    let key_id = owned_key(provider, caller, request.key_id)?;
    let request_id = request_id(request.request_id, rng)?;
    provider.create_alias(alias, &key_id)?;
    Ok(EmptyResponse { request_id })
}

/// UpdateAlias: points an existing alias at another key.
///
/// # Errors
/// As [`create_alias`], with `Forbidden.AliasNotFound` for an alias that does not exist.
pub fn update_alias<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &AliasRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let alias = alias_name(request)?;
    let key_id = owned_key(provider, caller, request.key_id)?;
    let request_id = request_id(request.request_id, rng)?;
    provider.update_alias(alias, &key_id)?;
    Ok(EmptyResponse { request_id })
}

/// DeleteAlias.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter AliasName`; `Forbidden.AliasNotFound`.
pub fn delete_alias<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &AliasRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let alias = alias_name(request)?;
    let request_id = request_id(request.request_id, rng)?;
    provider.delete_alias(caller.account, caller.region, alias)?;
    Ok(EmptyResponse { request_id })
}

fn simple<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
    change: impl FnOnce(&mut InMemoryProvider, &KeyId) -> Result<(), Error>,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let key_id = owned_key(provider, caller, request.key_id)?;
    let request_id = request_id(request.request_id, rng)?;
    change(provider, &key_id)?;
    Ok(EmptyResponse { request_id })
}

/// EnableKey.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` in PendingDeletion or PendingImport.
pub fn enable_key<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    simple(
        provider,
        caller,
        request,
        rng,
        now,
        InMemoryProvider::enable_key,
    )
}

/// DisableKey.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` in PendingDeletion or PendingImport.
pub fn disable_key<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    simple(
        provider,
        caller,
        request,
        rng,
        now,
        InMemoryProvider::disable_key,
    )
}

/// CancelKeyDeletion.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless pending deletion.
pub fn cancel_key_deletion<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    simple(
        provider,
        caller,
        request,
        rng,
        now,
        InMemoryProvider::cancel_key_deletion,
    )
}

/// ScheduleKeyDeletion: the key is deleted when a later operation's `now` passes
/// `now + PendingWindowInDays` days.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter PendingWindowInDays` (7..=366, ASCII digits);
/// key resolution errors; `Rejected.StateModifiedFailed` when already pending deletion.
pub fn schedule_key_deletion<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &ScheduleKeyDeletionRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let reference = key_reference(request.key_id)?;
    let days = required(
        request.pending_window_in_days,
        Parameter::PendingWindowInDays,
    )?;
    let invalid = Error::InvalidParameter(Parameter::PendingWindowInDays);
    let days = decimal_in(days, 3, 7..=366).ok_or(invalid)?;
    let delete_at = now
        .checked_add(Duration::from_secs(days as u64 * 86_400))
        .ok_or(invalid)?;
    let key_id = owned(provider, caller, &reference)?;
    let request_id = request_id(request.request_id, rng)?;
    provider.schedule_key_deletion_at(&key_id, delete_at)?;
    Ok(EmptyResponse { request_id })
}

/// CreateKeyVersion: rotation; the new version becomes primary.
///
/// # Errors
/// Key resolution errors; `Rejected.StateModifiedFailed` unless Enabled;
/// `UnsupportedOperation` for a key without material of its own (external or asymmetric).
pub fn create_key_version<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &KeyRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<CreateKeyVersionResponse, Error> {
    provider.delete_expired(now);
    let key_id = owned_key(provider, caller, request.key_id)?;
    let details = provider.details(&key_id)?;
    if details.state != KeyState::Enabled {
        return Err(Error::StateModifiedFailed);
    }
    let request_id = request_id(request.request_id, rng)?;
    let version = provider.rotate_key_at(&key_id, rng, now)?;
    Ok(CreateKeyVersionResponse {
        key_version: KeyVersion {
            key_id,
            key_version_id: version,
            creation_date: Timestamp(now).to_string(),
        },
        request_id,
    })
}

/// ImportKeyMaterial: raw material for an `EXTERNAL` key pending import, which becomes Enabled.
///
/// # Errors
/// `MissingParameter` / `InvalidParameter KeyMaterial` (not Base64, or not the key's length);
/// key resolution errors; `Rejected.StateModifiedFailed` unless an external key pending import.
pub fn import_key_material<R: TryCryptoRng + ?Sized>(
    provider: &mut InMemoryProvider,
    caller: &Caller<'_>,
    request: &ImportKeyMaterialRequest<'_>,
    rng: &mut R,
    now: Duration,
) -> Result<EmptyResponse, Error> {
    provider.delete_expired(now);
    let reference = key_reference(request.key_id)?;
    let text = required(request.key_material, Parameter::KeyMaterial)?;
    let invalid = Error::InvalidParameter(Parameter::KeyMaterial);
    let mut raw = zeroize::Zeroizing::new([0u8; 33]);
    if text.len() > 44 {
        return Err(invalid);
    }
    let bytes = Base64::decode(text, &mut raw[..]).map_err(|_| invalid)?;
    let material = MasterKeyMaterial::from_slice(bytes).ok_or(invalid)?;
    let key_id = owned(provider, caller, &reference)?;
    let details = provider.details(&key_id)?;
    if details.origin != KeyOrigin::External || details.state != KeyState::PendingImport {
        return Err(Error::StateModifiedFailed);
    }
    if material.spec() != details.record.spec {
        return Err(invalid);
    }
    let request_id = request_id(request.request_id, rng)?;
    provider.import_key_material(&key_id, material)?;
    Ok(EmptyResponse { request_id })
}
