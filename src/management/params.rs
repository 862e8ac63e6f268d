//! The text parameters of the management operations, parsed into their typed form with the
//! errors of spec §8, in the order a request's parameters are checked.

use base64ct::{Base64, Encoding};

use super::{CreateKey, Page, check_alias_name};
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
