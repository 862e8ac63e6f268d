//! What every test helper module shares: the accounts and regions of the tests, a
//! deterministic RNG, ARNs, and RNGs that fail or count. Included by `tests/common`,
//! `tests/support_ops` and `tests/support_mgmt`.
#![allow(dead_code)]

use core::fmt;

use kms_core::KeyId;
use kms_core::rand_core::{SeedableRng, TryCryptoRng, TryRng};
use rand_chacha::ChaCha20Rng;

/// The account that owns the keys of most tests.
pub const ACCOUNT: &str = "1234567890123456";
/// Another account, with keys of its own.
pub const OTHER_ACCOUNT: &str = "6543210987654321";
/// The region of most tests.
pub const REGION: &str = "cn-hangzhou";
/// Another region.
pub const OTHER_REGION: &str = "cn-shanghai";

/// A well-formed key ID (UUID form) that names no key.
pub const UNKNOWN_KEY_ID: &str = "1234abcd-12ab-34cd-56ef-123456789012";

/// A deterministic RNG.
pub fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// `acs:kms:{region}:{account}:key/{key}`, written out here rather than taken from the crate.
pub fn key_arn(region: &str, account: &str, key: &KeyId) -> String {
    format!("acs:kms:{region}:{account}:key/{key}")
}

/// `acs:kms:{region}:{account}:{alias}`, written out here rather than taken from the crate.
pub fn alias_arn(region: &str, account: &str, alias: &str) -> String {
    format!("acs:kms:{region}:{account}:{alias}")
}

// ---------------------------------------------------------------------------------------------
// RNGs

/// The error of [`FailingRng`] and [`LimitedRng`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RngFailure;

impl fmt::Display for RngFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rng failure")
    }
}

impl core::error::Error for RngFailure {}

/// An RNG whose every draw fails.
#[derive(Debug, Default)]
pub struct FailingRng {
    pub attempts: usize,
}

impl TryRng for FailingRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }

    fn try_fill_bytes(&mut self, _dst: &mut [u8]) -> Result<(), RngFailure> {
        self.attempts += 1;
        Err(RngFailure)
    }
}

impl TryCryptoRng for FailingRng {}

/// Wraps an RNG and counts the draws and bytes it hands out.
#[derive(Debug)]
pub struct CountingRng<R> {
    pub inner: R,
    pub calls: usize,
    pub bytes: usize,
}

impl<R> CountingRng<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            calls: 0,
            bytes: 0,
        }
    }
}

impl<R: TryRng> TryRng for CountingRng<R> {
    type Error = R::Error;

    fn try_next_u32(&mut self) -> Result<u32, R::Error> {
        self.calls += 1;
        self.bytes += 4;
        self.inner.try_next_u32()
    }

    fn try_next_u64(&mut self) -> Result<u64, R::Error> {
        self.calls += 1;
        self.bytes += 8;
        self.inner.try_next_u64()
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), R::Error> {
        self.calls += 1;
        self.bytes += dst.len();
        self.inner.try_fill_bytes(dst)
    }
}

impl<R: TryCryptoRng> TryCryptoRng for CountingRng<R> {}

/// An RNG that hands out `budget` bytes (from a seeded ChaCha20) and then fails every draw that
/// would go past it.
#[derive(Debug)]
pub struct LimitedRng {
    inner: ChaCha20Rng,
    pub budget: usize,
}

impl LimitedRng {
    pub fn new(seed: u64, budget: usize) -> Self {
        Self {
            inner: rng(seed),
            budget,
        }
    }

    fn spend(&mut self, n: usize) -> Result<(), RngFailure> {
        if n > self.budget {
            self.budget = 0;
            return Err(RngFailure);
        }
        self.budget -= n;
        Ok(())
    }
}

impl TryRng for LimitedRng {
    type Error = RngFailure;

    fn try_next_u32(&mut self) -> Result<u32, RngFailure> {
        self.spend(4)?;
        Ok(self.inner.try_next_u32().unwrap_or_else(|e| match e {}))
    }

    fn try_next_u64(&mut self) -> Result<u64, RngFailure> {
        self.spend(8)?;
        Ok(self.inner.try_next_u64().unwrap_or_else(|e| match e {}))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailure> {
        self.spend(dst.len())?;
        self.inner
            .try_fill_bytes(dst)
            .unwrap_or_else(|e| match e {});
        Ok(())
    }
}

impl TryCryptoRng for LimitedRng {}
