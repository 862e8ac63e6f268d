//! Request verification of the KMS-instance API (`KMS-INSTANCE.md` §2), before the body is
//! decoded, in the spec's order:
//!
//! 1. the headers are present: `content-sha256`, `date` and `authorization` (each missing one
//!    gets its own `InvalidParam` message), and `x-kms-acccesskeyid` (`Unauthorized` 401);
//! 2. `x-kms-acccesskeyid` names a client key the server issued and still holds
//!    (`Unauthorized` 401);
//! 3. the body's SHA-256, uppercase hex, equals `content-sha256` (`InvalidParam`, "The Param
//!    Content-SHA256 is invalid.");
//! 4. `date` is an RFC 1123 GMT date (IMF-fixdate) at most 15 minutes, inclusive, from the
//!    server's clock (`InvalidParam`, "The Param Date is invalid.");
//! 5. `authorization` is `Bearer ` and a Base64 RSASSA-PKCS1-v1_5/SHA-256 signature that the
//!    client key's public key verifies over the string to sign (`InvalidParam`, "The Param
//!    Authorization is invalid.");
//! 6. `x-kms-apiversion` is `dkms-gcs-0.2` and `x-kms-signaturemethod` is `RSA_PKCS1_SHA_256`
//!    (`InvalidParam`, "The Param x-kms-apiversion is invalid." and "The Param
//!    x-kms-signaturemethod is invalid.", decided).
//!
//! The string to sign: `POST`, `content-sha256`, the request's `content-type`, `date`, then
//! every `x-kms-*` header sorted by name as `name:value-trimmed`, each followed by `\n`, then
//! `/`. Every `x-kms-*` header is signed, `x-kms-migrationkeyversionid` among them. A header
//! given twice, or whose value is not UTF-8, is refused with the message of the check it
//! belongs to (`Authorization` for the `x-kms-*` headers).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::HeaderMap;
use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use super::client_key::{ClientKey, MAX_KEY_ID_LEN};
use crate::error::ApiError;

/// `x-kms-apiversion`.
pub const API_VERSION: &str = "dkms-gcs-0.2";
/// `x-kms-signaturemethod`.
pub const SIGNATURE_METHOD: &str = "RSA_PKCS1_SHA_256";
/// How far `date` may be from the server's clock, inclusive.
pub const DATE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The header naming the client key (three c's, as the SDK spells it).
pub const ACCESS_KEY_ID: &str = "x-kms-acccesskeyid";
/// The header naming the operation.
pub const API_NAME: &str = "x-kms-apiname";
/// The header naming the key version (request: Decrypt's version; response: the sealing one).
pub const MIGRATION_KEY_VERSION_ID: &str = "x-kms-migrationkeyversionid";
/// The prefix of the signed headers.
const SIGNED_PREFIX: &str = "x-kms-";
/// The most `x-kms-*` headers a request may carry.
const MAX_SIGNED_HEADERS: usize = 32;

/// 400 `InvalidParam` "The Param {name} is invalid.".
pub fn invalid_param(name: &str) -> ApiError {
    ApiError::new(400, "InvalidParam", format!("The Param {name} is invalid."))
}

/// 401 `Unauthorized`: no client key, or one the server did not issue or no longer holds.
pub fn unauthorized() -> ApiError {
    ApiError::new(
        401,
        "Unauthorized",
        "The client key is not authorized: the server issued no client key with this ID.",
    )
}

/// What a verified request carries: the client key, the operation's name and the migration
/// header.
#[derive(Debug)]
pub struct Verified {
    /// The client key that signed.
    pub key: Arc<ClientKey>,
    /// `x-kms-apiname` (empty when absent).
    pub api_name: String,
    /// `x-kms-migrationkeyversionid`, when given (non-empty).
    pub migration_key_version_id: Option<String>,
}

/// The single value of header `name` as UTF-8; `Ok(None)` when absent, `Err(())` when given
/// twice or not UTF-8.
fn single<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, ()> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(());
    }
    first.to_str().map(Some).map_err(|_| ())
}

/// A required header: its value, or `error`.
fn required<'h>(headers: &'h HeaderMap, name: &str, error: ApiError) -> Result<&'h str, ApiError> {
    match single(headers, name) {
        Ok(Some(v)) => Ok(v),
        _ => Err(error),
    }
}

/// The string to sign of a request (see the module documentation); `None` when an `x-kms-*`
/// header is given twice or is not UTF-8, or there are too many.
pub fn string_to_sign(headers: &HeaderMap, content_sha256: &str, date: &str) -> Option<String> {
    let content_type = single(headers, "content-type").ok()?.unwrap_or_default();
    let mut signed: Vec<(&str, &str)> = Vec::new();
    for name in headers.keys() {
        let name = name.as_str();
        if name.starts_with(SIGNED_PREFIX) {
            if signed.len() == MAX_SIGNED_HEADERS {
                return None;
            }
            signed.push((name, single(headers, name).ok()??));
        }
    }
    signed.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = format!("POST\n{content_sha256}\n{content_type}\n{date}\n");
    for (name, value) in signed {
        out.push_str(name);
        out.push(':');
        out.push_str(value.trim());
        out.push('\n');
    }
    out.push('/');
    Some(out)
}

/// Whether `date` is an IMF-fixdate (`Tue, 01 Dec 2026 03:27:19 GMT`) at most
/// [`DATE_WINDOW`] from `now`.
pub fn date_in_window(date: &str, now: SystemTime) -> bool {
    let Ok(at) = httpdate::parse_http_date(date) else {
        return false;
    };
    // Only the RFC 1123 form: what parses must print back the same.
    if httpdate::fmt_http_date(at) != date {
        return false;
    }
    let off = at
        .duration_since(now)
        .or_else(|_| now.duration_since(at))
        .unwrap_or(Duration::MAX);
    off <= DATE_WINDOW
}

/// Uppercase hex of the SHA-256 of `body`.
pub fn content_sha256(body: &[u8]) -> String {
    base16ct::upper::encode_string(&Sha256::digest(body))
}

/// Verifies a request (see the module documentation) against the client keys `lookup`
/// finds, at time `now`.
///
/// # Errors
/// The refusal of the first check that fails.
pub fn verify(
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    lookup: impl FnOnce(&str) -> Option<Arc<ClientKey>>,
) -> Result<Verified, ApiError> {
    let sha = required(headers, "content-sha256", invalid_param("Content-SHA256"))?;
    let date = required(headers, "date", invalid_param("Date"))?;
    let authorization = required(headers, "authorization", invalid_param("Authorization"))?;
    let key_id = required(headers, ACCESS_KEY_ID, unauthorized())?;
    if key_id.is_empty() || key_id.len() > MAX_KEY_ID_LEN {
        return Err(unauthorized());
    }
    let key = lookup(key_id).ok_or_else(unauthorized)?;
    if content_sha256(body) != sha {
        return Err(invalid_param("Content-SHA256"));
    }
    if !date_in_window(date, now) {
        return Err(invalid_param("Date"));
    }
    let signature = authorization
        .strip_prefix("Bearer ")
        .and_then(|b64| Base64::decode_vec(b64.trim()).ok())
        .ok_or_else(|| invalid_param("Authorization"))?;
    let to_sign =
        string_to_sign(headers, sha, date).ok_or_else(|| invalid_param("Authorization"))?;
    if !key.verifies(to_sign.as_bytes(), &signature) {
        return Err(invalid_param("Authorization"));
    }
    // Signed, so each is what the client sent; a header given twice failed above.
    let value = |name: &str| single(headers, name).ok().flatten().map(str::trim);
    if value("x-kms-apiversion") != Some(API_VERSION) {
        return Err(invalid_param("x-kms-apiversion"));
    }
    if value("x-kms-signaturemethod") != Some(SIGNATURE_METHOD) {
        return Err(invalid_param("x-kms-signaturemethod"));
    }
    Ok(Verified {
        key,
        api_name: value(API_NAME).unwrap_or_default().to_owned(),
        migration_key_version_id: value(MIGRATION_KEY_VERSION_ID)
            .filter(|v| !v.is_empty())
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_string_to_sign_sorts_and_trims_the_x_kms_headers() {
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/x-protobuf".parse().unwrap());
        h.insert("x-kms-apiname", " Encrypt ".parse().unwrap());
        h.insert("x-kms-acccesskeyid", "KAAP.x".parse().unwrap());
        h.insert("host", "127.0.0.1:1".parse().unwrap());
        let s = string_to_sign(&h, "AB", "Tue, 01 Dec 2026 03:27:19 GMT").unwrap();
        assert_eq!(
            s,
            "POST\nAB\napplication/x-protobuf\nTue, 01 Dec 2026 03:27:19 GMT\nx-kms-acccesskeyid:KAAP.x\nx-kms-apiname:Encrypt\n/"
        );
    }

    #[test]
    fn dates_are_rfc_1123_and_within_fifteen_minutes_inclusive() {
        let now = httpdate::parse_http_date("Tue, 01 Dec 2026 03:27:19 GMT").unwrap();
        assert!(date_in_window("Tue, 01 Dec 2026 03:27:19 GMT", now));
        assert!(date_in_window("Tue, 01 Dec 2026 03:42:19 GMT", now));
        assert!(date_in_window("Tue, 01 Dec 2026 03:12:19 GMT", now));
        assert!(!date_in_window("Tue, 01 Dec 2026 03:42:20 GMT", now));
        assert!(!date_in_window("Tue, 01 Dec 2026 03:12:18 GMT", now));
        // RFC 850 and asctime forms, and garbage, are refused.
        assert!(!date_in_window("Tuesday, 01-Dec-26 03:27:19 GMT", now));
        assert!(!date_in_window("Tue Dec  1 03:27:19 2026", now));
        assert!(!date_in_window("yesterday", now));
    }
}
