//! Standard, padded Base64 of secrets (the data key's text), in constant time and eight
//! characters at a time.
//!
//! No table and no branch depends on the bytes: six bytes are spread into the eight lanes of a
//! `u64` (one sextet per byte), and each lane is mapped to its character by arithmetic on the
//! whole word. The blob, which is not secret, has its own faster table-driven codec
//! ([`crate::blob`]); `base64ct` decodes secrets where the crate needs it. A property test
//! checks the output against `base64ct` for every length up to 200 bytes.

/// Eight lanes of one byte.
const LANES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every lane.
const HIGH: u64 = LANES * 0x80;

/// The output is too short for the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooShort;

/// The eight sextets of the 48-bit big-endian value in `v`, one per lane, first in lane 0: the
/// two halves into 32-bit lanes, each into two 12-bit halves in 16-bit lanes, each of those
/// into two sextets.
#[inline(always)]
fn spread(v: u64) -> u64 {
    let halves = ((v >> 24) & 0xFF_FFFF) | ((v & 0xFF_FFFF) << 32);
    let quarters =
        ((halves >> 12) & 0x0000_0FFF_0000_0FFF) | ((halves & 0x0000_0FFF_0000_0FFF) << 16);
    ((quarters >> 6) & 0x003F_003F_003F_003F) | ((quarters & 0x003F_003F_003F_003F) << 8)
}

/// One lane's value (0..=63) to its Base64 character, for every lane at once.
#[inline(always)]
fn characters(x: u64) -> u64 {
    // 1 in the lanes at or above `from`, 0 in the others: below 0x40, adding 0x80 - from never
    // carries out of a lane.
    let at_least = |from: u64| ((x + LANES * (0x80 - from)) & HIGH) >> 7;
    // The character is the value plus 'A' below 26, plus 'a' - 26 below 52, plus '0' - 52 below
    // 62, '+' at 62 and '/' at 63: 65, then +6 from 26, -75 from 52, -15 from 62, +3 at 63. Each
    // partial sum stays within a lane (at most 63 + 71 = 134, never below 43), so whole-word
    // arithmetic adds lane by lane.
    x + LANES * 65 + at_least(26) * 6 - at_least(52) * 75 - at_least(62) * 15 + at_least(63) * 3
}

/// The 48-bit big-endian value of a group of six bytes.
#[inline(always)]
fn group_value(group: &[u8; 6]) -> u64 {
    let [a, b, c, d, e, f] = *group;
    u64::from(u16::from_be_bytes([a, b])) << 32 | u64::from(u32::from_be_bytes([c, d, e, f]))
}

/// Writes the padded Base64 text of `src` to the start of `dst`; returns its length.
///
/// The secret is held in registers only: nothing but `dst` is written.
#[inline]
pub(crate) fn encode(src: &[u8], dst: &mut [u8]) -> Result<usize, TooShort> {
    let len = crate::blob::base64_len(src.len());
    let out = dst.get_mut(..len).ok_or(TooShort)?;
    let (groups, rest) = src.as_chunks::<6>();
    let (words, tail) = out.split_at_mut(groups.len() * 8);
    let (words, _) = words.as_chunks_mut::<8>();
    for (group, word) in groups.iter().zip(words) {
        *word = characters(spread(group_value(group))).to_le_bytes();
    }
    if !rest.is_empty() {
        // The last one to five bytes, padded with zero bits (so the text's unused bits are
        // zero); the characters past the data become `=`. Only lengths, which are public,
        // choose a branch.
        let v = rest
            .iter()
            .enumerate()
            .fold(0, |v, (i, &byte)| v | u64::from(byte) << (40 - 8 * i));
        let used = (rest.len() * 8).div_ceil(6);
        let padding = u64::MAX << (8 * used);
        let text = (characters(spread(v)) & !padding) | ((LANES * u64::from(b'=')) & padding);
        let text = text.to_le_bytes();
        match tail {
            [a, b, c, d] => [*a, *b, *c, *d] = [text[0], text[1], text[2], text[3]],
            _ => tail.copy_from_slice(&text[..tail.len()]),
        }
    }
    Ok(len)
}

#[cfg(test)]
mod tests {
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    use base64ct::{Base64, Encoding};
    use proptest::prelude::*;

    use super::*;

    fn ours(bytes: &[u8]) -> String {
        let mut out = vec![0u8; crate::blob::base64_len(bytes.len())];
        let len = encode(bytes, &mut out).unwrap();
        assert_eq!(len, out.len());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_sextet_maps_to_its_character() {
        // Each value 0..=63 in the first sextet, then in the last of a group.
        for value in 0..64u8 {
            let first = [value << 2, 0, 0];
            let last = [0, 0, value];
            assert_eq!(ours(&first), Base64::encode_string(&first));
            assert_eq!(ours(&last), Base64::encode_string(&last));
        }
    }

    #[test]
    fn every_length_up_to_two_groups_is_padded_as_base64ct() {
        let bytes: Vec<u8> = (0..14u8).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
        for len in 0..=bytes.len() {
            assert_eq!(ours(&bytes[..len]), Base64::encode_string(&bytes[..len]));
        }
    }

    #[test]
    fn short_output_is_refused() {
        let mut out = [0u8; 43];
        assert_eq!(encode(&[0u8; 32], &mut out), Err(TooShort));
        let mut out = [0u8; 44];
        assert_eq!(encode(&[0u8; 32], &mut out), Ok(44));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn encodes_as_base64ct(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(ours(&bytes), Base64::encode_string(&bytes));
        }
    }
}
