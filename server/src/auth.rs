//! Request signatures: Alibaba Cloud's RPC signature V1 (`HMAC-SHA1` over the canonicalised
//! query) and signature V3 (`ACS3-HMAC-SHA256` in the `Authorization` header), both to verify
//! requests and to sign them (the test client and the load generator sign like an SDK does).
//!
//! The canonical forms follow Alibaba's public documentation and the official SDK
//! (`alibabacloud_tea_openapi`), which the server was checked against:
//!
//! * V1: the parameters (query and form body, all but `Signature`) sorted by name; each name
//!   and value percent-encoded with only `A-Za-z0-9-_.~` left as is; joined as `k=v` with `&`;
//!   `StringToSign = METHOD & %2F & encode(canonicalised)`;
//!   `Signature = Base64(HMAC-SHA1(secret + "&", StringToSign))`.
//! * V3: `CanonicalRequest = METHOD \n / \n CanonicalQueryString \n CanonicalHeaders \n
//!   SignedHeaders \n hex(SHA-256(body))`, where the canonical query string is built like V1's
//!   (query parameters only, empty values as `k=`), the canonical headers are the signed
//!   headers, lowercase, `name:trimmed value\n`, sorted, repeated values sorted and joined by
//!   `,`; `StringToSign = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))`;
//!   `Signature = hex(HMAC-SHA256(secret, StringToSign))`.
//!
//! Signatures are compared in constant time.

use std::collections::{HashSet, VecDeque};
use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The V3 signature algorithm name, as it starts the `Authorization` header.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// How far a request's timestamp may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Everything but the RFC 3986 unreserved characters is percent-encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes `text` the way both signature versions do: UTF-8, every byte outside
/// `A-Za-z0-9-_.~` as `%XX` with uppercase hex (so a space is `%20`, `*` is `%2A`).
pub fn percent_encode(text: &str) -> String {
    utf8_percent_encode(text, ENCODE).to_string()
}

/// Lowercase hex of `bytes` (constant-time, `base16ct`).
pub fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

/// Lowercase hex of the SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// `k=v` pairs, percent-encoded and sorted by name (then value), joined with `&`.
fn canonical_pairs<'a>(params: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut pairs: Vec<(String, String)> = params
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    pairs.sort();
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// The V1 string to sign for `method` (`GET` or `POST`) and the request's parameters (query
/// and form body together); a parameter named `Signature` is left out.
pub fn v1_string_to_sign<'a>(
    method: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let canonical = canonical_pairs(params.into_iter().filter(|(k, _)| *k != "Signature"));
    format!("{method}&%2F&{}", percent_encode(&canonical))
}

/// The V1 signature of `string_to_sign`: Base64 of HMAC-SHA1 keyed with `secret` and `&`.
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let key = Zeroizing::new(format!("{secret}&"));
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(string_to_sign.as_bytes());
    Base64::encode_string(&mac.finalize().into_bytes())
}

/// The V3 canonical request.
///
/// `headers` are the signed headers as `(lowercase name, value)`, in any order, a name
/// repeated for each value it has; `payload_hash` is the lowercase hex SHA-256 of the body.
pub fn v3_canonical_request<'a>(
    method: &str,
    query: impl IntoIterator<Item = (&'a str, &'a str)>,
    headers: &[(String, String)],
    payload_hash: &str,
) -> String {
    let mut names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut canonical_headers = String::new();
    for name in &names {
        let mut values: Vec<&str> = headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .collect();
        values.sort_unstable();
        canonical_headers.push_str(name);
        canonical_headers.push(':');
        canonical_headers.push_str(&values.join(","));
        canonical_headers.push('\n');
    }
    format!(
        "{method}\n/\n{}\n{canonical_headers}\n{}\n{payload_hash}",
        canonical_pairs(query.into_iter()),
        names.join(";")
    )
}

/// The V3 string to sign of a canonical request.
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{V3_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The V3 signature: lowercase hex of HMAC-SHA256 keyed with `secret`.
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(string_to_sign.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The V3 `Authorization` header value.
pub fn v3_authorization(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{V3_ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// Whether two signatures (in their text form) are equal, in time independent of where they
/// differ.
pub fn signatures_match(expected: &str, given: &str) -> bool {
    bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
}

/// A parsed V3 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Authorization {
    /// `Credential`: the AccessKeyId.
    pub access_key_id: String,
    /// `SignedHeaders`: lowercase header names, in the order given.
    pub signed_headers: Vec<String>,
    /// `Signature`: lowercase hex.
    pub signature: String,
}

impl V3Authorization {
    /// Parses `ACS3-HMAC-SHA256 Credential=...,SignedHeaders=...,Signature=...` (the three
    /// fields in any order, spaces after commas allowed). `None` when anything is missing
    /// or repeated.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.strip_prefix(V3_ALGORITHM)?;
        let rest = rest.strip_prefix(' ')?;
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for field in rest.split(',') {
            let (name, value) = field.trim().split_once('=')?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        let (credential, signed, signature) = (credential?, signed?, signature?);
        if credential.is_empty() || signed.is_empty() || signature.is_empty() {
            return None;
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
        if signed_headers.iter().any(String::is_empty) {
            return None;
        }
        Some(Self {
            access_key_id: credential.to_owned(),
            signed_headers,
            signature: signature.to_owned(),
        })
    }
}

/// Parses an ISO 8601 UTC timestamp as the API sends it (`2016-02-23T12:46:24Z`; fractions
/// of a second are accepted).
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    if !text.ends_with('Z') || text.len() > 40 {
        return None;
    }
    humantime::parse_rfc3339(text).ok()
}

/// Formats a time as the API writes timestamps: `2016-02-23T12:46:24Z`.
pub fn format_timestamp(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// Whether `timestamp` is within [`TIMESTAMP_WINDOW`] of `now`, either way.
pub fn timestamp_in_window(timestamp: SystemTime, now: SystemTime) -> bool {
    let skew = match timestamp.duration_since(now) {
        Ok(ahead) => ahead,
        Err(behind) => behind.duration(),
    };
    skew <= TIMESTAMP_WINDOW
}

/// The most bytes of a `SignatureNonce`.
pub const MAX_NONCE_LEN: usize = 256;

/// The nonces seen within the replay window, per AccessKey, in bounded memory.
///
/// Each nonce is remembered (as a 128-bit digest of AccessKeyId and nonce) until its request's
/// timestamp leaves the window, so a replay is refused for as long as the timestamp would
/// still be accepted.
#[derive(Debug)]
pub struct NonceCache {
    seen: HashSet<u128>,
    order: VecDeque<(SystemTime, u128)>,
    capacity: usize,
}

/// Why a nonce was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRefusal {
    /// The nonce was used within the window.
    Used,
    /// The cache is full of nonces that are still in the window.
    Full,
}

impl NonceCache {
    /// A cache holding at most `capacity` nonces.
    pub fn new(capacity: usize) -> Self {
        Self {
            seen: HashSet::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Records `nonce` for `access_key_id`, for a request stamped `timestamp`, at `now`.
    ///
    /// # Errors
    /// [`NonceRefusal::Used`] for a nonce seen within the window; [`NonceRefusal::Full`] when
    /// the cache holds `capacity` nonces that are all still in the window.
    pub fn check_and_insert(
        &mut self,
        access_key_id: &str,
        nonce: &str,
        timestamp: SystemTime,
        now: SystemTime,
    ) -> Result<(), NonceRefusal> {
        // Forget the nonces whose requests' timestamps have left the window.
        while let Some(&(expires, digest)) = self.order.front() {
            if expires > now {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&digest);
        }
        let mut hasher = Sha256::new();
        hasher.update((access_key_id.len() as u64).to_be_bytes());
        hasher.update(access_key_id.as_bytes());
        hasher.update(nonce.as_bytes());
        let hash = hasher.finalize();
        let mut first = [0u8; 16];
        first.copy_from_slice(&hash[..16]);
        let digest = u128::from_be_bytes(first);
        if self.seen.contains(&digest) {
            return Err(NonceRefusal::Used);
        }
        if self.seen.len() >= self.capacity {
            return Err(NonceRefusal::Full);
        }
        let expires = timestamp + TIMESTAMP_WINDOW;
        self.seen.insert(digest);
        // Keep `order` sorted by expiry: timestamps arrive roughly in order, so insertion
        // from the back is short.
        let at = self.order.partition_point(|(e, _)| *e <= expires);
        self.order.insert(at, (expires, digest));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_the_sdk() {
        assert_eq!(percent_encode("a b*c~d-_.e/+="), "a%20b%2Ac~d-_.e%2F%2B%3D");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn parses_authorization() {
        let a = V3Authorization::parse(
            "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host;x-acs-date,Signature=abc",
        )
        .unwrap();
        assert_eq!(a.access_key_id, "ak");
        assert_eq!(a.signed_headers, ["host", "x-acs-date"]);
        assert_eq!(a.signature, "abc");
        for bad in [
            "",
            "ACS3-HMAC-SHA256",
            "ACS3-HMAC-SHA256 Credential=ak,SignedHeaders=host",
            "ACS3-HMAC-SHA256 Credential=ak,Credential=b,SignedHeaders=h,Signature=s",
            "ACS3-HMAC-SHA256 Credential=,SignedHeaders=h,Signature=s",
            "ACS3-HMAC-SHA256 Credential=a,SignedHeaders=h;;x,Signature=s",
            "ACS3-HMAC-SM3 Credential=a,SignedHeaders=h,Signature=s",
        ] {
            assert_eq!(V3Authorization::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn nonce_cache_refuses_replays_and_forgets_after_the_window() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut cache = NonceCache::new(2);
        assert_eq!(cache.check_and_insert("ak", "n1", t0, t0), Ok(()));
        assert_eq!(
            cache.check_and_insert("ak", "n1", t0, t0),
            Err(NonceRefusal::Used)
        );
        // Another AccessKey may use the same nonce.
        assert_eq!(cache.check_and_insert("ak2", "n1", t0, t0), Ok(()));
        assert_eq!(
            cache.check_and_insert("ak", "n2", t0, t0),
            Err(NonceRefusal::Full)
        );
        let later = t0 + TIMESTAMP_WINDOW + Duration::from_secs(1);
        assert_eq!(cache.check_and_insert("ak", "n1", later, later), Ok(()));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn timestamps() {
        let t = parse_timestamp("2016-02-23T12:46:24Z").unwrap();
        assert_eq!(format_timestamp(t), "2016-02-23T12:46:24Z");
        assert!(parse_timestamp("2016-02-23 12:46:24").is_none());
        assert!(parse_timestamp("2016-02-23T12:46:24+08:00").is_none());
        assert!(timestamp_in_window(t, t + TIMESTAMP_WINDOW));
        assert!(!timestamp_in_window(
            t,
            t + TIMESTAMP_WINDOW + Duration::from_secs(1)
        ));
        assert!(!timestamp_in_window(
            t + TIMESTAMP_WINDOW + Duration::from_secs(1),
            t
        ));
    }
}
