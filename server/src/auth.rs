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
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};
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

/// The width of a nonce bucket. The nonces of requests whose timestamps fall in the same
/// minute (counted from the Unix epoch) are kept in one set and forgotten together, once every
/// timestamp of that minute has left [`TIMESTAMP_WINDOW`].
pub const NONCE_BUCKET: Duration = Duration::from_secs(60);

/// The longest a nonce stays in its AccessKey's cache after its request was admitted: the
/// request's timestamp may be up to [`TIMESTAMP_WINDOW`] ahead of the clock, stays acceptable
/// until it is [`TIMESTAMP_WINDOW`] behind, and its bucket goes at most one [`NONCE_BUCKET`]
/// after that (31 minutes).
pub const NONCE_HORIZON: Duration =
    Duration::from_secs(2 * TIMESTAMP_WINDOW.as_secs() + NONCE_BUCKET.as_secs());

/// The most buckets one cache holds at once: the bucket of every minute that may hold an
/// acceptable timestamp, from [`TIMESTAMP_WINDOW`] behind the clock to as far ahead (32).
pub const MAX_NONCE_BUCKETS: usize =
    (2 * TIMESTAMP_WINDOW.as_secs() / NONCE_BUCKET.as_secs()) as usize + 2;

/// The most nonces one AccessKey's cache holds by default, whatever its rate limit would admit
/// (2^22, about 4.2 million: at most about 130 MB for that key, see `server/README.md`).
pub const NONCE_CAPACITY_CAP: usize = 1 << 22;

/// The default capacity of one AccessKey's nonce cache: what its rate limits can admit within
/// [`NONCE_HORIZON`], capped at [`NONCE_CAPACITY_CAP`], and at least 1.
///
/// The rate limit is `per_second` requests per second per account and operation, with a burst
/// of as many, so in `H` seconds one account admits at most `per_second × (1 + H)` requests
/// per operation, `operations × per_second × (1 + H)` in all; with `H` = 1,860 s and the 22
/// operations served, that is `40,942 × per_second` (30.7 million at the default 750 per
/// second, so the cap applies; below 103 per second the formula does).
pub fn nonce_capacity(per_second: u32, operations: usize) -> usize {
    let admitted =
        u128::from(per_second) * (operations as u128) * (1 + u128::from(NONCE_HORIZON.as_secs()));
    usize::try_from(admitted)
        .unwrap_or(usize::MAX)
        .clamp(1, NONCE_CAPACITY_CAP)
}

/// A `Hasher` that hands on the `u64` it is given: the digests the sets hold are already keyed
/// SipHash outputs, uniformly distributed, so hashing them again would only cost time.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the sets hold `u64`); this keeps any other input usable.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type DigestSet = HashSet<u64, BuildHasherDefault<DigestHasher>>;

/// The nonces of one minute of timestamps.
struct NonceBucket {
    /// Minutes since the Unix epoch of the timestamps it holds.
    index: u64,
    digests: DigestSet,
}

/// Seconds since the Unix epoch (0 for earlier times).
fn epoch_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// One AccessKey's replay cache: the nonces of its admitted requests, for as long as their
/// timestamps would be accepted, in memory bounded by a capacity.
///
/// The nonces are held as 64-bit digests (SipHash-1-3 under a 128-bit key drawn per cache
/// from the operating system by `std`'s `RandomState`, so nobody can aim two nonces at one
/// digest), one hash set per minute of the requests' timestamps ([`NONCE_BUCKET`]). A
/// minute's set is dropped whole once every timestamp in it has left the window. A lookup asks
/// each live set (at most [`MAX_NONCE_BUCKETS`], 16 or 17 for clients whose clocks agree with
/// the server's) and an insertion goes to one: both cost the same however full the cache is.
///
/// Checking and recording are two steps, [`NonceCache::reserve`] and [`NonceSlot::insert`],
/// so that a request is recorded only once it is admitted; the slot borrows the cache, so
/// whoever holds the cache's lock across both makes them one atomic step.
pub struct NonceCache {
    key: RandomState,
    /// The live sets, oldest minute first.
    buckets: VecDeque<NonceBucket>,
    len: usize,
    capacity: usize,
    /// The latest clock reading seen, in seconds since the epoch: a clock that steps back
    /// does not bring the timestamps of dropped sets back into the window.
    latest: u64,
}

impl std::fmt::Debug for NonceCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceCache")
            .field("len", &self.len)
            .field("capacity", &self.capacity)
            .field("buckets", &self.buckets.len())
            .finish_non_exhaustive()
    }
}

/// Why a nonce was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonceRefusal {
    /// The nonce was used by an admitted request whose timestamp is still remembered.
    Used,
    /// The AccessKey's cache holds as many nonces as it may; `retry_after` is the time until
    /// its oldest set is dropped.
    Full {
        /// How long until there is room again.
        retry_after: Duration,
    },
    /// The timestamp is outside the window, or in a minute already forgotten (after the clock
    /// stepped back).
    OutOfWindow,
}

/// A nonce that was not used, checked against a cache it borrows: [`NonceSlot::insert`]
/// records it; dropping the slot records nothing.
#[derive(Debug)]
#[must_use = "a slot records its nonce only when inserted"]
pub struct NonceSlot<'a> {
    cache: &'a mut NonceCache,
    index: u64,
    digest: u64,
    /// Where the request's set is in `cache.buckets`, or where it goes.
    at: Result<usize, usize>,
}

impl NonceCache {
    /// An empty cache that holds at most `capacity` nonces (at least 1), under a fresh digest
    /// key.
    pub fn new(capacity: usize) -> Self {
        Self {
            key: RandomState::new(),
            buckets: VecDeque::new(),
            len: 0,
            capacity: capacity.max(1),
            latest: 0,
        }
    }

    /// The number of nonces held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The most nonces held.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The number of live sets (minutes of timestamps).
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Forgets the sets whose timestamps have all left the window at `now`, and checks the
    /// nonce of a request stamped `timestamp`.
    ///
    /// # Errors
    /// [`NonceRefusal::OutOfWindow`] for a timestamp the window does not accept (or whose
    /// minute was forgotten), [`NonceRefusal::Used`] for a nonce remembered,
    /// [`NonceRefusal::Full`] when the cache holds `capacity` nonces.
    pub fn reserve(
        &mut self,
        nonce: &str,
        timestamp: SystemTime,
        now: SystemTime,
    ) -> Result<NonceSlot<'_>, NonceRefusal> {
        self.latest = self.latest.max(epoch_secs(now));
        // A set of minute `m` holds timestamps before (m + 1) * 60 s; once the clock is at
        // least the window past that, none of them is accepted any more.
        let first_kept = self.latest.saturating_sub(TIMESTAMP_WINDOW.as_secs()) / BUCKET_SECS;
        while self.buckets.front().is_some_and(|b| b.index < first_kept) {
            if let Some(gone) = self.buckets.pop_front() {
                self.len -= gone.digests.len();
            }
        }
        let index = epoch_secs(timestamp) / BUCKET_SECS;
        if index < first_kept || !timestamp_in_window(timestamp, now) {
            return Err(NonceRefusal::OutOfWindow);
        }
        let digest = self.key.hash_one(nonce.as_bytes());
        if self.buckets.iter().any(|b| b.digests.contains(&digest)) {
            return Err(NonceRefusal::Used);
        }
        if self.len >= self.capacity {
            let frees_at = self.buckets.front().map_or(now + TIMESTAMP_WINDOW, |b| {
                SystemTime::UNIX_EPOCH
                    + Duration::from_secs((b.index + 1) * BUCKET_SECS)
                    + TIMESTAMP_WINDOW
            });
            return Err(NonceRefusal::Full {
                retry_after: frees_at.duration_since(now).unwrap_or(Duration::ZERO),
            });
        }
        let at = self.buckets.binary_search_by_key(&index, |b| b.index);
        Ok(NonceSlot {
            cache: self,
            index,
            digest,
            at,
        })
    }
}

/// [`NONCE_BUCKET`] in seconds.
const BUCKET_SECS: u64 = NONCE_BUCKET.as_secs();

impl NonceSlot<'_> {
    /// Records the nonce: its request was admitted.
    pub fn insert(self) {
        let cache = self.cache;
        let at = match self.at {
            Ok(at) => at,
            Err(at) => {
                cache.buckets.insert(
                    at,
                    NonceBucket {
                        index: self.index,
                        digests: DigestSet::default(),
                    },
                );
                at
            }
        };
        if let Some(bucket) = cache.buckets.get_mut(at)
            && bucket.digests.insert(self.digest)
        {
            cache.len += 1;
        }
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

    /// A minute boundary: 1,700,000,040 s since the epoch is minute 28,333,334 exactly.
    fn t0() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_040)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    /// Reserves and records; panics on a refusal.
    fn record(cache: &mut NonceCache, nonce: &str, timestamp: SystemTime, now: SystemTime) {
        cache.reserve(nonce, timestamp, now).unwrap().insert();
    }

    #[test]
    fn a_replay_is_refused_while_its_timestamp_is_in_the_window() {
        let (t, w) = (t0(), TIMESTAMP_WINDOW);
        let mut cache = NonceCache::new(100);
        record(&mut cache, "n1", t + secs(10), t + secs(10));
        // The same request again, at once and until the very end of the window.
        for now in [t + secs(10), t + secs(11), t + secs(10) + w] {
            assert_eq!(
                cache.reserve("n1", t + secs(10), now).err(),
                Some(NonceRefusal::Used),
                "{now:?}"
            );
        }
        // The same nonce under another timestamp (another minute's set): still used.
        assert_eq!(
            cache.reserve("n1", t + secs(70), t + secs(70)).err(),
            Some(NonceRefusal::Used)
        );
        // Other nonces are not.
        record(&mut cache, "n2", t + secs(10), t + secs(12));
        record(&mut cache, "n3", t + secs(70), t + secs(70));
        assert_eq!((cache.len(), cache.buckets()), (3, 2));
    }

    #[test]
    fn a_minutes_set_is_dropped_whole_when_its_last_timestamp_leaves_the_window() {
        let (t, w) = (t0(), TIMESTAMP_WINDOW);
        let mut cache = NonceCache::new(100);
        // Minutes m, m + 1 and m + 2: two nonces in the first, one in each of the others.
        record(&mut cache, "a", t, t);
        record(&mut cache, "b", t + secs(59), t + secs(59));
        record(&mut cache, "c", t + secs(60), t + secs(60));
        record(&mut cache, "d", t + secs(179), t + secs(179));
        assert_eq!((cache.len(), cache.buckets()), (4, 3));
        // Minute m's last timestamp (t + 59 s) is accepted up to t + 59 s + W; its set goes at
        // t + 60 s + W, not a second earlier.
        let keep = t + secs(59) + w;
        assert_eq!(
            cache.reserve("a", t + secs(59), keep).err(),
            Some(NonceRefusal::Used)
        );
        assert_eq!((cache.len(), cache.buckets()), (4, 3));
        let gone = t + secs(60) + w;
        assert_eq!(
            cache.reserve("a", t + secs(59), gone).err(),
            Some(NonceRefusal::OutOfWindow),
            "a timestamp of a dropped minute is out of the window"
        );
        assert_eq!((cache.len(), cache.buckets()), (2, 2));
        // Its nonces are forgotten: usable again under a timestamp in the window.
        record(&mut cache, "a", gone, gone);
        record(&mut cache, "b", gone, gone);
        assert_eq!(
            cache.reserve("c", gone, gone).err(),
            Some(NonceRefusal::Used)
        );
        // Minutes m + 1 and m + 2 go in their turn.
        let _ = cache.reserve("x", t + secs(120) + w, t + secs(120) + w);
        assert_eq!((cache.len(), cache.buckets()), (3, 2));
        let _ = cache.reserve("x", t + secs(180) + w, t + secs(180) + w);
        assert_eq!((cache.len(), cache.buckets()), (2, 1));
    }

    #[test]
    fn timestamps_outside_the_window_or_of_forgotten_minutes_are_refused() {
        let (t, w) = (t0(), TIMESTAMP_WINDOW);
        let mut cache = NonceCache::new(100);
        let now = t + secs(3600);
        for ts in [now - w - secs(1), now + w + secs(1)] {
            assert_eq!(
                cache.reserve("n", ts, now).err(),
                Some(NonceRefusal::OutOfWindow)
            );
        }
        record(&mut cache, "n", now - w, now);
        record(&mut cache, "m", now + w, now);
        // The clock moves on a minute, which drops minute (now - W), then steps back to
        // where it was: that minute's timestamp is in the window of the clock's reading
        // again, but its nonces were forgotten, so it is refused rather than taken as new.
        let later = now + secs(60);
        let _ = cache.reserve("x", later, later);
        assert_eq!(cache.len(), 1);
        assert!(timestamp_in_window(now - w, now));
        assert_eq!(
            cache.reserve("n", now - w, now).err(),
            Some(NonceRefusal::OutOfWindow)
        );
    }

    #[test]
    fn a_slot_dropped_unused_records_nothing() {
        let t = t0();
        let mut cache = NonceCache::new(100);
        // Checked, then refused for another reason (throttled): nothing is recorded.
        drop(cache.reserve("n", t, t).unwrap());
        assert!(cache.is_empty());
        assert_eq!(cache.buckets(), 0);
        record(&mut cache, "n", t, t);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_capacity_bounds_the_nonces_held() {
        let (t, w) = (t0(), TIMESTAMP_WINDOW);
        let mut cache = NonceCache::new(3);
        record(&mut cache, "a", t + secs(30), t + secs(30));
        record(&mut cache, "b", t + secs(60), t + secs(60));
        record(&mut cache, "c", t + secs(61), t + secs(61));
        // Full: the oldest set (minute m, which holds t + 30 s) goes at t + 60 s + W.
        let now = t + secs(100);
        assert_eq!(
            cache.reserve("d", now, now).err(),
            Some(NonceRefusal::Full {
                retry_after: secs(60) + w - secs(100)
            })
        );
        // A replay is still told apart from a full cache.
        assert_eq!(
            cache.reserve("b", t + secs(60), now).err(),
            Some(NonceRefusal::Used)
        );
        assert_eq!(cache.len(), 3);
        // When minute m is dropped there is room for one.
        let now = t + secs(60) + w;
        record(&mut cache, "d", now, now);
        assert!(matches!(
            cache.reserve("e", now, now),
            Err(NonceRefusal::Full { .. })
        ));
        assert_eq!(cache.len(), 3);
        assert_eq!(NonceCache::new(0).capacity(), 1);
    }

    #[test]
    fn the_sets_never_outnumber_the_minutes_of_the_window() {
        // Timestamps anywhere in the window, the clock moving on: at most 32 sets.
        let (t, w) = (t0(), TIMESTAMP_WINDOW);
        let mut cache = NonceCache::new(1 << 20);
        let mut most = 0;
        for step in 0..240u64 {
            let now = t + secs(step * 17);
            for (i, ts) in [now - w, now - w / 2, now, now + w / 2, now + w]
                .into_iter()
                .enumerate()
            {
                record(&mut cache, &format!("{step}-{i}"), ts, now);
            }
            most = most.max(cache.buckets());
        }
        assert!(most <= MAX_NONCE_BUCKETS, "{most}");
        assert_eq!(MAX_NONCE_BUCKETS, 32);
        assert!(most >= 30, "{most}");
    }

    #[test]
    fn the_default_capacity_follows_the_rate_limit() {
        // 17 operations, 1 + 1,860 seconds of admissions at the rate.
        assert_eq!(NONCE_HORIZON, secs(1860));
        assert_eq!(nonce_capacity(1, 17), 17 * 1861);
        assert_eq!(nonce_capacity(100, 17), 100 * 17 * 1861);
        assert_eq!(nonce_capacity(132, 17), 132 * 17 * 1861);
        assert_eq!(nonce_capacity(133, 17), NONCE_CAPACITY_CAP);
        assert_eq!(nonce_capacity(750, 17), NONCE_CAPACITY_CAP);
        assert_eq!(nonce_capacity(u32::MAX, usize::MAX), NONCE_CAPACITY_CAP);
        assert_eq!(nonce_capacity(0, 17), 1);
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
