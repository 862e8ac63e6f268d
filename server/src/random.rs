//! The RNG of the request path: one [`DefaultRng`] per thread (ChaCha20 seeded from the operating
//! system, reseeded every 64 KiB and after fork), reached through [`ThreadRng`], a handle that
//! costs nothing to make. Request IDs, data keys and IVs come from it; master key material and
//! the store's seals still come from the operating system directly.

use std::cell::RefCell;

use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::{DefaultRng, RngError};

thread_local! {
    static RNG: RefCell<Option<DefaultRng>> = const { RefCell::new(None) };
}

/// A handle on this thread's [`DefaultRng`], made on first use. A thread whose generator
/// cannot be seeded gets [`RngError`] (`InternalFailure`) and tries again on the next draw.
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadRng;

impl ThreadRng {
    fn draw<T>(f: impl FnOnce(&mut DefaultRng) -> Result<T, RngError>) -> Result<T, RngError> {
        RNG.with_borrow_mut(|slot| {
            let rng = match slot {
                Some(rng) => rng,
                None => slot.insert(DefaultRng::new()?),
            };
            f(rng)
        })
    }
}

impl TryRng for ThreadRng {
    type Error = RngError;

    fn try_next_u32(&mut self) -> Result<u32, RngError> {
        Self::draw(|rng| rng.try_next_u32())
    }

    fn try_next_u64(&mut self) -> Result<u64, RngError> {
        Self::draw(|rng| rng.try_next_u64())
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngError> {
        Self::draw(|rng| rng.try_fill_bytes(dst))
    }
}

impl TryCryptoRng for ThreadRng {}
