//! The default RNG (with `getrandom`): ChaCha20 seeded from the operating system, reseeded on a
//! schedule and after fork.
//!
//! [`DefaultRng`] is what the quickstart and `kms-server` hand to the operations. A data key, an
//! IV and a request ID cost one system call each when drawn from [`OsRng`](crate::OsRng); from a
//! `DefaultRng` they cost a few dozen nanoseconds of ChaCha20 output, and the system is asked
//! only to seed it:
//!
//! - at [`new`](DefaultRng::new);
//! - after every [`RESEED_AFTER`] bytes of output (64 KiB, about 800 GenerateDataKey calls), so a
//!   state captured at one moment predicts little of what comes after;
//! - on Unix with the `std` feature, before the first output in a child made by `fork`: the child
//!   inherits its parent's state, and would otherwise hand out the same data keys and IVs as its
//!   parent (an IV repeated under one master key breaks AES-GCM). Forks are counted by a
//!   `pthread_atfork` child handler (the `forkguard` crate), so the check at every draw is one
//!   atomic load rather than a `getpid` system call, which would cost more than the ChaCha20
//!   output it guards (about 95 ns a draw on the project's machine). A child made by a raw
//!   `clone` system call that bypasses the C library's `fork` is not seen: call
//!   [`reseed`](DefaultRng::reseed) in such a child.
//!
//! A failed reseed is an error ([`RngError`], `InternalFailure` on the wire), never a panic, and
//! never output from the old state.
//!
//! Why not `rand`'s thread RNG: it lives in a thread-local (the core holds no global state, and
//! builds without `std`), it panics when it cannot reseed, and since `rand` 0.9 it is not reseeded
//! after fork. The generator itself is the `chacha20` crate's (the one `rand` uses), at 20
//! rounds: the conservative choice, at a cost of a few nanoseconds per operation.

use core::fmt;

use chacha20::ChaCha20Rng;
use rand_core::{Rng, SeedableRng, TryCryptoRng, TryRng};

use crate::RngError;

/// Bytes a [`DefaultRng`] hands out before it reseeds from the operating system.
pub const RESEED_AFTER: usize = 64 * 1024;

/// ChaCha20 seeded from the operating system, reseeded after [`RESEED_AFTER`] bytes and after
/// fork (see the [module documentation](self)). Its state is zeroized on drop and not shown by
/// `Debug`. One per thread: it is `Send` but takes `&mut self`.
pub struct DefaultRng {
    chacha: ChaCha20Rng,
    /// Bytes handed out since the last seed.
    drawn: usize,
    /// Counts forks since the last seed.
    #[cfg(all(feature = "std", unix))]
    forks: forkguard::atfork::Guard,
}

impl DefaultRng {
    /// A generator seeded from the operating system.
    ///
    /// # Errors
    /// [`RngError`] when the operating system's RNG fails (or, on Unix, when the fork handler
    /// cannot be registered).
    pub fn new() -> Result<Self, RngError> {
        Ok(Self {
            #[cfg(all(feature = "std", unix))]
            forks: forkguard::atfork::Guard::try_new().map_err(|_| RngError)?,
            chacha: seed()?,
            drawn: 0,
        })
    }

    /// Seeds it again from the operating system now.
    ///
    /// # Errors
    /// [`RngError`] when the operating system's RNG fails; the generator then hands out nothing
    /// until a reseed succeeds.
    pub fn reseed(&mut self) -> Result<(), RngError> {
        // Past the threshold until the new seed is in: a failure leaves it refusing.
        self.drawn = usize::MAX;
        self.chacha = seed()?;
        self.drawn = 0;
        Ok(())
    }

    /// Reseeds when the schedule or a fork says so, then accounts for `len` bytes.
    #[inline]
    fn before_draw(&mut self, len: usize) -> Result<(), RngError> {
        // `detected_fork` notes the fork it reports: a reseed that then fails leaves `drawn`
        // past the threshold, so the generator still refuses.
        #[cfg(all(feature = "std", unix))]
        let forked = self.forks.detected_fork();
        #[cfg(not(all(feature = "std", unix)))]
        let forked = false;
        self.reseed_if(forked, len)
    }

    /// [`before_draw`](Self::before_draw) once the fork check has answered.
    #[inline]
    fn reseed_if(&mut self, forked: bool, len: usize) -> Result<(), RngError> {
        if forked || self.drawn >= RESEED_AFTER {
            self.reseed()?;
        }
        self.drawn = self.drawn.saturating_add(len);
        Ok(())
    }
}

/// A fresh ChaCha20 state from the operating system.
fn seed() -> Result<ChaCha20Rng, RngError> {
    ChaCha20Rng::try_from_rng(&mut getrandom::SysRng).map_err(|_| RngError)
}

impl TryRng for DefaultRng {
    type Error = RngError;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, RngError> {
        self.before_draw(4)?;
        Ok(self.chacha.next_u32())
    }

    #[inline]
    fn try_next_u64(&mut self) -> Result<u64, RngError> {
        self.before_draw(8)?;
        Ok(self.chacha.next_u64())
    }

    #[inline]
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngError> {
        self.before_draw(dst.len())?;
        self.chacha.fill_bytes(dst);
        Ok(())
    }
}

impl TryCryptoRng for DefaultRng {}

impl fmt::Debug for DefaultRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultRng")
            .field("drawn", &self.drawn)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generator at the same point of the same stream.
    fn copy_of(chacha: &ChaCha20Rng) -> ChaCha20Rng {
        let mut copy = ChaCha20Rng::from_seed(chacha.get_seed());
        copy.set_stream(chacha.get_stream());
        copy.set_word_pos(chacha.get_word_pos());
        copy
    }

    #[test]
    fn two_generators_differ_and_output_is_not_constant() {
        let (mut a, mut b) = (DefaultRng::new().unwrap(), DefaultRng::new().unwrap());
        let (mut x, mut y) = ([0u8; 32], [0u8; 32]);
        a.try_fill_bytes(&mut x).unwrap();
        b.try_fill_bytes(&mut y).unwrap();
        assert_ne!(x, y);
        let mut z = [0u8; 32];
        a.try_fill_bytes(&mut z).unwrap();
        assert_ne!(x, z);
    }

    #[test]
    fn reseeds_after_the_threshold() {
        let mut rng = DefaultRng::new().unwrap();
        // A copy of the state: what the generator would hand out without a reseed.
        let mut shadow = copy_of(&rng.chacha);
        let mut buf = [0u8; 1024];
        for _ in 0..RESEED_AFTER / buf.len() {
            rng.try_fill_bytes(&mut buf).unwrap();
            let mut expected = [0u8; 1024];
            shadow.fill_bytes(&mut expected);
            assert_eq!(
                buf, expected,
                "before the threshold the stream is ChaCha20's"
            );
        }
        assert_eq!(rng.drawn, RESEED_AFTER);
        rng.try_fill_bytes(&mut buf).unwrap();
        let mut unreseeded = [0u8; 1024];
        shadow.fill_bytes(&mut unreseeded);
        assert_ne!(
            buf, unreseeded,
            "the draw past the threshold comes from a new seed"
        );
        assert_eq!(rng.drawn, buf.len());
    }

    #[test]
    fn a_reported_fork_reseeds_before_drawing() {
        let mut rng = DefaultRng::new().unwrap();
        let mut shadow = copy_of(&rng.chacha);
        // What a forked child holds: its parent's state, and the fork reported.
        rng.reseed_if(true, 32).unwrap();
        let (mut got, mut parent) = ([0u8; 32], [0u8; 32]);
        rng.chacha.fill_bytes(&mut got);
        shadow.fill_bytes(&mut parent);
        assert_ne!(got, parent);
        assert_eq!(rng.drawn, 32);
        // No fork reported, under the threshold: the same stream.
        let mut shadow = copy_of(&rng.chacha);
        rng.try_fill_bytes(&mut got).unwrap();
        shadow.fill_bytes(&mut parent);
        assert_eq!(got, parent);
    }

    #[test]
    fn debug_shows_no_state() {
        let rng = DefaultRng::new().unwrap();
        let shown = alloc::format!("{rng:?}");
        assert_eq!(shown, "DefaultRng { drawn: 0, .. }");
    }
}
