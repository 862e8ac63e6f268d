//! The request-rate limit of spec §9 (with `alloc`): a token bucket per account and operation.
//!
//! Pure: the caller passes the time, as a [`Duration`] since any fixed origin it likes (a
//! monotonic clock's start, the Unix epoch); nothing here reads a clock. Frontends consult
//! [`RateLimiter::check`] before running an operation, naming the operation with their own type
//! (any `Copy + Eq + Hash` value: an enum of the operations they serve, a `&'static str`).
//!
//! Tokens are counted exactly, in units of 10⁻⁹ token, so `rate` requests per second are
//! admitted per second without drift. A clock that goes backwards refills nothing, and the
//! bucket's time does not move back with it, so it cannot mint tokens when the clock returns.
//!
//! Memory stays bounded: at most `max_buckets` buckets exist. A bucket that has refilled to its
//! burst is the same as a fresh one, so it is dropped first; when every bucket is busy, the
//! least recently used half is dropped, which can only ever give those accounts a fresh burst.

use alloc::boxed::Box;
use core::hash::{Hash, Hasher};
use core::time::Duration;

use hashbrown::{Equivalent, HashMap};

use crate::Error;

/// One token, in the bucket's units.
const TOKEN: u128 = 1_000_000_000;

/// A rate: `per_second` requests per second on average, with bursts of up to `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RateLimit {
    /// Tokens added per second.
    pub per_second: u32,
    /// The most tokens a bucket holds (and holds when new).
    pub burst: u32,
}

impl RateLimit {
    /// Alibaba's GenerateDataKey limit: 750 per second, burst 750.
    pub const DEFAULT: Self = Self {
        per_second: 750,
        burst: 750,
    };

    /// The time a bucket takes to refill from empty to full.
    fn refill_time_ns(self) -> u128 {
        if self.per_second == 0 {
            u128::MAX
        } else {
            u128::from(self.burst) * 1_000_000_000 / u128::from(self.per_second) + 1
        }
    }
}

impl Default for RateLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// Tokens, in units of 10⁻⁹ token.
    tokens: u128,
    /// The latest time seen, in nanoseconds.
    last_ns: u128,
    limit: RateLimit,
}

impl Bucket {
    fn new(limit: RateLimit, now_ns: u128) -> Self {
        Self {
            tokens: u128::from(limit.burst) * TOKEN,
            last_ns: now_ns,
            limit,
        }
    }

    fn refill(&mut self, now_ns: u128) {
        if now_ns > self.last_ns {
            let elapsed = now_ns - self.last_ns;
            let capacity = u128::from(self.limit.burst) * TOKEN;
            let added = elapsed.saturating_mul(u128::from(self.limit.per_second));
            self.tokens = self.tokens.saturating_add(added).min(capacity);
            self.last_ns = now_ns;
        }
    }

    fn is_full_at(&self, now_ns: u128) -> bool {
        now_ns.saturating_sub(self.last_ns) >= self.limit.refill_time_ns()
            || self.tokens >= u128::from(self.limit.burst) * TOKEN
    }

    /// Takes a token, or says how long until one is there, in milliseconds (at least 1).
    fn take(&mut self, now_ns: u128) -> Result<(), u64> {
        self.refill(now_ns);
        if self.tokens >= TOKEN {
            self.tokens -= TOKEN;
            return Ok(());
        }
        if self.limit.per_second == 0 || self.limit.burst == 0 {
            return Err(u64::MAX);
        }
        let missing = TOKEN - self.tokens;
        // Counted from the caller's `now`: after the clock went back, the bucket's own time is
        // ahead of it, and the token comes that much later.
        let behind = self.last_ns.saturating_sub(now_ns);
        let wait_ns = behind + missing.div_ceil(u128::from(self.limit.per_second));
        Err(u64::try_from(wait_ns.div_ceil(1_000_000))
            .unwrap_or(u64::MAX)
            .max(1))
    }
}

#[derive(PartialEq, Eq)]
struct BucketKey<K> {
    account: Box<str>,
    operation: K,
}

struct BucketQuery<'a, K> {
    account: &'a str,
    operation: K,
}

impl<K: Copy + Hash> Hash for BucketKey<K> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        BucketQuery {
            account: &self.account,
            operation: self.operation,
        }
        .hash(h);
    }
}

impl<K: Hash> Hash for BucketQuery<'_, K> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.account.hash(h);
        self.operation.hash(h);
    }
}

impl<K: PartialEq> Equivalent<BucketKey<K>> for BucketQuery<'_, K> {
    fn equivalent(&self, key: &BucketKey<K>) -> bool {
        *key.account == *self.account && key.operation == self.operation
    }
}

/// Token buckets per account and operation; `K` names an operation.
pub struct RateLimiter<K> {
    default: RateLimit,
    overrides: alloc::vec::Vec<(K, RateLimit)>,
    buckets: HashMap<BucketKey<K>, Bucket>,
    max_buckets: usize,
}

impl<K: core::fmt::Debug> core::fmt::Debug for RateLimiter<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("default", &self.default)
            .field("overrides", &self.overrides)
            .field("buckets", &self.buckets.len())
            .field("max_buckets", &self.max_buckets)
            .finish()
    }
}

impl<K: Copy + Eq + Hash> Default for RateLimiter<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq + Hash> RateLimiter<K> {
    /// The default number of buckets kept at most.
    pub const DEFAULT_MAX_BUCKETS: usize = 65_536;

    /// 750 per second, burst 750, for every operation; at most 65,536 buckets.
    pub fn new() -> Self {
        Self {
            default: RateLimit::DEFAULT,
            overrides: alloc::vec::Vec::new(),
            buckets: HashMap::new(),
            max_buckets: Self::DEFAULT_MAX_BUCKETS,
        }
    }

    /// Sets the limit of every operation without its own.
    #[must_use]
    pub fn with_default(mut self, limit: RateLimit) -> Self {
        self.default = limit;
        self
    }

    /// Sets one operation's limit. Buckets already made keep the limit they were made with
    /// until they are dropped.
    #[must_use]
    pub fn with_limit(mut self, operation: K, limit: RateLimit) -> Self {
        self.overrides.retain(|(o, _)| *o != operation);
        self.overrides.push((operation, limit));
        self
    }

    /// Sets the most buckets kept (at least 1).
    #[must_use]
    pub fn with_max_buckets(mut self, max: usize) -> Self {
        self.max_buckets = max.max(1);
        self
    }

    /// The limit that applies to `operation`.
    pub fn limit(&self, operation: K) -> RateLimit {
        self.overrides
            .iter()
            .find(|(o, _)| *o == operation)
            .map_or(self.default, |(_, l)| *l)
    }

    /// The number of buckets held now.
    pub fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Admits or refuses one request of `account` for `operation` at time `now`.
    ///
    /// # Errors
    /// [`Error::Throttling`] with the time until a token is there, in milliseconds.
    pub fn check(&mut self, account: &str, operation: K, now: Duration) -> Result<(), Error> {
        let now_ns = now.as_nanos();
        let query = BucketQuery { account, operation };
        if let Some(bucket) = self.buckets.get_mut(&query) {
            return bucket
                .take(now_ns)
                .map_err(|retry_after_ms| Error::Throttling { retry_after_ms });
        }
        if self.buckets.len() >= self.max_buckets {
            self.evict(now_ns);
        }
        let mut bucket = Bucket::new(self.limit(operation), now_ns);
        let result = bucket.take(now_ns);
        self.buckets.insert(
            BucketKey {
                account: account.into(),
                operation,
            },
            bucket,
        );
        result.map_err(|retry_after_ms| Error::Throttling { retry_after_ms })
    }

    /// Drops every bucket that has refilled; if that frees less than a quarter of the room,
    /// also drops the least recently used buckets down to half the room.
    fn evict(&mut self, now_ns: u128) {
        self.buckets.retain(|_, b| !b.is_full_at(now_ns));
        if self.buckets.len() >= self.max_buckets - self.max_buckets / 4 {
            let mut seen: alloc::vec::Vec<u128> =
                self.buckets.values().map(|b| b.last_ns).collect();
            let keep = self.max_buckets / 2;
            // At least one: the room is over three quarters full and we keep half.
            let cut = seen.len().saturating_sub(keep).max(1);
            let (_, threshold, _) = seen.select_nth_unstable(cut - 1);
            let threshold = *threshold;
            let mut to_drop = cut;
            self.buckets.retain(|_, b| {
                if to_drop > 0 && b.last_ns <= threshold {
                    to_drop -= 1;
                    false
                } else {
                    true
                }
            });
        }
    }
}
