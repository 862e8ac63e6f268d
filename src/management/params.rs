//! The text parameters of the management operations, parsed into their typed form with the
//! errors of spec §8, in the order a request's parameters are checked.

use base64ct::{Base64, Encoding};

use core::time::Duration;

use super::{CreateKey, Page, ProtectionLevel, check_alias_name};
use crate::Parameter;
use crate::wire::{decimal_in, required};
use crate::{
    Error, InstanceId, KeyOrigin, KeyReference, KeyUsage, KeyVersionId, MasterKeyMaterial,
    MasterKeySpec,
};

/// A `KeyId` parameter (required).
///
/// # Errors
/// `MissingParameter` or `InvalidParameter KeyId`.
pub fn key_id(text: Option<&str>) -> Result<KeyReference<'_>, Error> {
    KeyReference::parse(required(text, Parameter::KeyId)?, Parameter::KeyId)
}

/// A `KeyVersionId` parameter (required): a lowercase UUID, as every version ID this crate
/// makes. **\[decided\]** Anything else (an uppercase UUID included) is
/// `InvalidParameter KeyVersionId`, the one parameter error Alibaba documents for
/// DescribeKeyVersion: no such text names a version here.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter KeyVersionId`.
pub fn key_version_id(text: Option<&str>) -> Result<KeyVersionId, Error> {
    let text = required(text, Parameter::KeyVersionId)?;
    KeyVersionId::parse(text.as_bytes()).ok_or(Error::InvalidParameter(Parameter::KeyVersionId))
}

/// CreateKey's `KeySpec` (`Aliyun_AES_256` by default, `Aliyun_AES_128`, `RSA_2048`,
/// `EC_P256`), `KeyUsage` (`ENCRYPT/DECRYPT` by default, `SIGN/VERIFY`), `Origin` (`Aliyun_KMS`
/// by default, `EXTERNAL`), `Description` and `DKMSInstanceId` (the KMS instance to create the
/// key in: its form is checked here, whether the frontend hosts it is the frontend's to check),
/// checked in that order (the usage against the spec before the origin is read).
///
/// # Errors
/// `InvalidParameter` `KeySpec`, `KeyUsage`, `Origin`, `Description` or `DKMSInstanceId`.
pub fn create_key<'a>(
    key_spec: Option<&str>,
    key_usage: Option<&str>,
    origin: Option<&str>,
    description: Option<&'a str>,
    dkms_instance_id: Option<&str>,
) -> Result<CreateKey<'a>, Error> {
    let spec = match key_spec {
        None => MasterKeySpec::Aes256,
        Some(name) => {
            MasterKeySpec::from_name(name).ok_or(Error::InvalidParameter(Parameter::KeySpec))?
        }
    };
    let usage = match key_usage {
        // Alibaba: a key that can sign defaults to SIGN/VERIFY (docs/asymmetric.md §1).
        None if !spec.is_symmetric() => KeyUsage::SignVerify,
        None | Some("ENCRYPT/DECRYPT") => KeyUsage::EncryptDecrypt,
        Some("SIGN/VERIFY") => KeyUsage::SignVerify,
        Some(_) => return Err(Error::InvalidParameter(Parameter::KeyUsage)),
    };
    let request = CreateKey::new().with_spec(spec).with_usage(usage);
    // The usage is checked against the spec before the origin is read.
    request.check()?;
    let origin = match origin {
        None | Some("Aliyun_KMS") => KeyOrigin::Kms,
        Some("EXTERNAL") => KeyOrigin::External,
        Some(_) => return Err(Error::InvalidParameter(Parameter::Origin)),
    };
    let request = request
        .with_origin(origin)
        .with_description(description.unwrap_or(""));
    request.check()?;
    match dkms_instance_id {
        None => Ok(request),
        Some(text) => InstanceId::parse(text)
            .map(|instance| request.with_instance(instance))
            .ok_or(Error::InvalidParameter(Parameter::DKMSInstanceId)),
    }
}

/// A boolean parameter: `true` or `false`, in any case (the official SDKs send Python's
/// `True` and `False`); absent is `None`.
///
/// # Errors
/// `InvalidParameter` `parameter` for anything else.
pub fn boolean(text: Option<&str>, parameter: Parameter) -> Result<Option<bool>, Error> {
    match text {
        None => Ok(None),
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(_) => Err(Error::InvalidParameter(parameter)),
    }
}

/// `RotationInterval`: an integer and a unit, `d` (days), `h` (hours), `m` (minutes) or `s`
/// (seconds), `7d` and `604800s` alike, within [`ROTATION_INTERVAL`](super::ROTATION_INTERVAL)
/// (7 to 365 days). **\[decided\]** A number without a unit, a sign, spaces or more than 9
/// digits are invalid.
///
/// # Errors
/// `InvalidParameter RotationInterval`.
pub fn rotation_interval(text: &str) -> Result<Duration, Error> {
    let invalid = Error::InvalidParameter(Parameter::RotationInterval);
    // The unit is the last byte; being ASCII, it ends a character, so the digits before it
    // are a `str` of their own.
    let scale = match text.as_bytes().last() {
        Some(b'd') => 86_400,
        Some(b'h') => 3_600,
        Some(b'm') => 60,
        Some(b's') => 1,
        _ => return Err(invalid),
    };
    let digits = &text[..text.len() - 1];
    let n = decimal_in(digits, 9, 1..=999_999_999).ok_or(invalid)?;
    let interval = Duration::from_secs((n as u64).saturating_mul(scale));
    if !super::ROTATION_INTERVAL.contains(&interval) {
        return Err(invalid);
    }
    Ok(interval)
}

/// `EnableAutomaticRotation` and `RotationInterval` (CreateKey, UpdateRotationPolicy): the
/// rotation interval when automatic rotation is enabled, `None` when it is not (the interval is
/// then ignored, as Alibaba documents). `enable_required` says whether `EnableAutomaticRotation` must be
/// given (UpdateRotationPolicy) or defaults to `false` (CreateKey). **\[decided\]** Enabled
/// without an interval is `InvalidParameter RotationInterval` (the one parameter error Alibaba
/// documents for it).
///
/// # Errors
/// `MissingParameter EnableAutomaticRotation` (when required), `InvalidParameter
/// EnableAutomaticRotation` or `RotationInterval`.
pub fn rotation_policy(
    enable: Option<&str>,
    interval: Option<&str>,
    enable_required: bool,
) -> Result<Option<Duration>, Error> {
    let enable = if enable_required {
        Some(required(enable, Parameter::EnableAutomaticRotation)?)
    } else {
        enable
    };
    match boolean(enable, Parameter::EnableAutomaticRotation)? {
        Some(true) => interval
            .ok_or(Error::InvalidParameter(Parameter::RotationInterval))
            .and_then(rotation_interval)
            .map(Some),
        _ => Ok(None),
    }
}

/// `ProtectionLevel` (CreateKey): `SOFTWARE` (the default) or `HSM`.
///
/// # Errors
/// `InvalidParameter ProtectionLevel`.
pub fn protection_level(text: Option<&str>) -> Result<ProtectionLevel, Error> {
    match text {
        None => Ok(ProtectionLevel::Software),
        Some(name) => ProtectionLevel::from_name(name)
            .ok_or(Error::InvalidParameter(Parameter::ProtectionLevel)),
    }
}

/// `PageNumber` and `PageSize` (ASCII digits; 1.. and 1..=100; defaults 1 and 10).
///
/// # Errors
/// `InvalidParameter PageNumber` or `PageSize`.
pub fn page(page_number: Option<&str>, page_size: Option<&str>) -> Result<Page, Error> {
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
    Ok(Page {
        number: number(page_number, 1, 999_999_999, Parameter::PageNumber)?,
        size: number(page_size, 10, Page::MAX_SIZE, Parameter::PageSize)?,
    })
}

/// `AliasName` (required): `alias/` and 1..=255 of `A-Za-z0-9_-/`, not under `alias/acs/`.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter AliasName`.
pub fn alias_name(text: Option<&str>) -> Result<&str, Error> {
    let alias = required(text, Parameter::AliasName)?;
    check_alias_name(alias)?;
    Ok(alias)
}

/// `PendingWindowInDays` (required): 7..=366, ASCII digits.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter PendingWindowInDays`.
pub fn pending_window_in_days(text: Option<&str>) -> Result<u16, Error> {
    let text = required(text, Parameter::PendingWindowInDays)?;
    let range = super::PENDING_WINDOW_DAYS;
    decimal_in(
        text,
        3,
        usize::from(*range.start())..=usize::from(*range.end()),
    )
    .and_then(|days| u16::try_from(days).ok())
    .ok_or(Error::InvalidParameter(Parameter::PendingWindowInDays))
}

/// `KeyMaterial` (required): Base64 of 16 bytes (`Aliyun_AES_128`) or 32 (`Aliyun_AES_256`).
/// Decoded into a zeroized buffer.
///
/// # Errors
/// `MissingParameter` or `InvalidParameter KeyMaterial`.
pub fn key_material(text: Option<&str>) -> Result<MasterKeyMaterial, Error> {
    let text = required(text, Parameter::KeyMaterial)?;
    let invalid = Error::InvalidParameter(Parameter::KeyMaterial);
    if text.len() > crate::blob::base64_len(32) {
        return Err(invalid);
    }
    let mut raw = zeroize::Zeroizing::new([0u8; 33]);
    let bytes = Base64::decode(text, &mut raw[..]).map_err(|_| invalid)?;
    MasterKeyMaterial::from_slice(bytes).ok_or(invalid)
}

/// GetRandomPassword's parameters, by wire name: `PasswordLength` (ASCII digits, 8..=128,
/// default 32), `ExcludeCharacters`, and the booleans `ExcludeLowercase`, `ExcludeUppercase`,
/// `ExcludeNumbers`, `ExcludePunctuation` (default `false`) and `RequireEachIncludedType`
/// (default `true`), checked in that order. `get` answers a parameter's text by name.
///
/// # Errors
/// `InvalidParameter` of the first parameter that is not valid.
pub fn password_request<'a>(
    get: impl Fn(Parameter) -> Option<&'a str>,
) -> Result<super::PasswordRequest<'a>, Error> {
    let mut request = super::PasswordRequest::new();
    if let Some(text) = get(Parameter::PasswordLength) {
        let range = super::metadata::PASSWORD_LENGTH;
        request.length =
            decimal_in(text, 3, range).ok_or(Error::InvalidParameter(Parameter::PasswordLength))?;
    }
    request.exclude_characters = get(Parameter::ExcludeCharacters).unwrap_or("");
    let flag = |p: Parameter, default: bool| Ok::<_, Error>(boolean(get(p), p)?.unwrap_or(default));
    request.exclude_lowercase = flag(Parameter::ExcludeLowercase, false)?;
    request.exclude_uppercase = flag(Parameter::ExcludeUppercase, false)?;
    request.exclude_numbers = flag(Parameter::ExcludeNumbers, false)?;
    request.exclude_punctuation = flag(Parameter::ExcludePunctuation, false)?;
    request.require_each_included_type = flag(Parameter::RequireEachIncludedType, true)?;
    Ok(request)
}

/// ListTagResources' `NextToken`: where the page starts. Absent or empty: the first row; else
/// the token a previous page gave (**\[decided\]** the decimal index of the row, at most 9
/// digits).
///
/// # Errors
/// `InvalidParameter NextToken`.
pub fn next_token(text: Option<&str>) -> Result<usize, Error> {
    match text {
        None | Some("") => Ok(0),
        Some(text) => decimal_in(text, 9, 0..=999_999_999)
            .ok_or(Error::InvalidParameter(Parameter::NextToken)),
    }
}
