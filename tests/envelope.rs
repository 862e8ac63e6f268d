//! Envelope encryption (`kms_core::envelope`): the format byte by byte, the round trip, the
//! checks an opener makes, the push API without an allocator, and the `std::io` adapters.
#![cfg(all(feature = "envelope", feature = "std"))]

mod envelope_support;

use envelope_support::*;
use kms_core::envelope::{self, EnvelopeError};

#[test]
fn round_trip_smoke() {
    let (mut provider, key) = provider();
    let made = data_key(&mut provider, &key, 32, Some(CONTEXT), 1);
    let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let file = made.seal(4096, &data, 2);
    let opened =
        envelope::open(&file, |h| h.decrypt(&provider, &caller(), &mut rng(3))).expect("open");
    assert_eq!(opened, data);
    let (released, result) = open_observed(&provider, &file, 777);
    assert_eq!(result, Ok(()));
    assert_eq!(released, data);
    let _ = EnvelopeError::Truncated;
}
