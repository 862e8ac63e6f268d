//! Standard, padded Base64 of the blob, table-driven: the blob is ciphertext, an IV, a tag and a
//! version ID, none of it secret, so it need not pay for constant-time code. Secrets (data keys,
//! plaintexts) are never encoded here: a table indexed by the data leaks it through the cache,
//! and the data key's text has its own constant-time encoder (`secret::base64`).
//!
//! Decoding is exactly as strict as `base64ct`'s `Base64::decode`: padded, a length that is a
//! multiple of four, no whitespace, `=` only as the last one or two characters, and the unused
//! bits of the last character zero (canonical: one text per byte string). A property test
//! checks both directions against `base64ct`.

/// The standard alphabet.
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The two characters of every 12-bit value: two lookups encode three bytes.
static PAIRS: [[u8; 2]; 4096] = {
    let mut table = [[0u8; 2]; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = [ALPHABET[i >> 6], ALPHABET[i & 63]];
        i += 1;
    }
    table
};

/// Marks a byte that is not in the alphabet (padding included).
const INVALID: u8 = 0xFF;

/// Each byte's value in the alphabet, or [`INVALID`].
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Text or output of the wrong length, a byte outside the alphabet, misplaced padding, or
/// non-zero unused bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Invalid;

/// Writes the padded Base64 text of `src` to the start of `dst`.
#[inline]
pub(crate) fn encode<'o>(src: &[u8], dst: &'o mut [u8]) -> Result<&'o str, Invalid> {
    let len = super::base64_len(src.len());
    let out = dst.get_mut(..len).ok_or(Invalid)?;
    // Six bytes at a time, written as eight characters with one store.
    let (groups, rest) = src.as_chunks::<6>();
    let (body_out, rest_out) = out.split_at_mut(groups.len() * 8);
    for (group, chars) in groups.iter().zip(body_out.as_chunks_mut::<8>().0) {
        let [a, b, c, d, e, f] = *group;
        let v = (u64::from(u16::from_be_bytes([a, b])) << 32)
            | u64::from(u32::from_be_bytes([c, d, e, f]));
        let pair = |shift: u32| u64::from(u16::from_le_bytes(PAIRS[(v >> shift) as usize & 0xFFF]));
        *chars = (pair(36) | (pair(24) << 16) | (pair(12) << 32) | (pair(0) << 48)).to_le_bytes();
    }
    let mut quads = rest_out.chunks_exact_mut(4);
    let mut triples = rest.chunks_exact(3);
    for (t, q) in (&mut triples).zip(&mut quads) {
        let v = usize::from(t[0]) << 16 | usize::from(t[1]) << 8 | usize::from(t[2]);
        let [a, b] = PAIRS[v >> 12];
        let [c, d] = PAIRS[v & 0xFFF];
        q.copy_from_slice(&[a, b, c, d]);
    }
    match (triples.remainder(), quads.next()) {
        ([a], Some(q)) => {
            q[0] = ALPHABET[usize::from(a >> 2)];
            q[1] = ALPHABET[usize::from(a & 3) << 4];
            q[2] = b'=';
            q[3] = b'=';
        }
        ([a, b], Some(q)) => {
            q[0] = ALPHABET[usize::from(a >> 2)];
            q[1] = ALPHABET[usize::from(a & 3) << 4 | usize::from(b >> 4)];
            q[2] = ALPHABET[usize::from(b & 15) << 2];
            q[3] = b'=';
        }
        _ => {}
    }
    core::str::from_utf8(out).map_err(|_| Invalid)
}

/// Decodes strict, canonical, padded Base64 `text` into the start of `buf`.
#[inline]
pub(crate) fn decode<'b>(text: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Invalid> {
    if !text.len().is_multiple_of(4) {
        return Err(Invalid);
    }
    let Some((body, last)) = text.split_last_chunk::<4>() else {
        return Ok(&buf[..0]);
    };
    let padding = match last {
        [_, _, b'=', b'='] => 2,
        [_, _, _, b'='] => 1,
        _ => 0,
    };
    let len = body.len() / 4 * 3 + 3 - padding;
    let out = buf.get_mut(..len).ok_or(Invalid)?;
    let (head, tail) = out.split_at_mut(body.len() / 4 * 3);
    let mut bad = 0u8;
    for (q, t) in body.chunks_exact(4).zip(head.chunks_exact_mut(3)) {
        let (a, b, c, d) = (
            VALUES[usize::from(q[0])],
            VALUES[usize::from(q[1])],
            VALUES[usize::from(q[2])],
            VALUES[usize::from(q[3])],
        );
        bad |= a | b | c | d;
        let v = u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
        t[0] = (v >> 16) as u8;
        t[1] = (v >> 8) as u8;
        t[2] = v as u8;
    }
    let [a, b, c, d] = (*last).map(|ch| VALUES[usize::from(ch)]);
    // `INVALID` has its top bit set, no value does.
    bad |= a | b;
    let v = u32::from(a) << 18 | u32::from(b) << 12;
    match padding {
        0 => {
            bad |= c | d;
            let v = v | u32::from(c) << 6 | u32::from(d);
            tail.copy_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
        }
        1 => {
            bad |= c;
            // Canonical: the two bits that fall off the end are zero.
            if c & 3 != 0 {
                return Err(Invalid);
            }
            let v = v | u32::from(c) << 6;
            tail.copy_from_slice(&[(v >> 16) as u8, (v >> 8) as u8]);
        }
        _ => {
            if b & 15 != 0 {
                return Err(Invalid);
            }
            tail[0] = (v >> 16) as u8;
        }
    }
    if bad & 0x80 != 0 {
        return Err(Invalid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use base64ct::{Base64, Encoding};
    use proptest::prelude::*;

    use super::*;

    fn ours(text: &[u8]) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; text.len()];
        decode(text, &mut buf).ok().map(<[u8]>::to_vec)
    }

    fn theirs(text: &[u8]) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; text.len()];
        let text = core::str::from_utf8(text).ok()?;
        Base64::decode(text, &mut buf).ok().map(<[u8]>::to_vec)
    }

    /// Text near Base64: alphabet characters, padding, and a few others, in lengths around
    /// multiples of four.
    fn near_base64() -> impl Strategy<Value = Vec<u8>> {
        let byte = prop_oneof![
            8 => proptest::sample::select(ALPHABET.to_vec()),
            2 => Just(b'='),
            1 => any::<u8>(),
        ];
        proptest::collection::vec(byte, 0..40)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]

        #[test]
        fn encodes_as_base64ct(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut out = vec![0u8; super::super::base64_len(bytes.len())];
            prop_assert_eq!(encode(&bytes, &mut out).unwrap(), Base64::encode_string(&bytes));
            prop_assert_eq!(ours(&out), Some(bytes));
        }

        #[test]
        fn decodes_as_base64ct(text in near_base64()) {
            prop_assert_eq!(ours(&text), theirs(&text));
        }

        #[test]
        fn one_changed_character_decodes_as_base64ct(
            bytes in proptest::collection::vec(any::<u8>(), 1..120),
            at in any::<prop::sample::Index>(),
            to in any::<u8>(),
        ) {
            let mut text = Base64::encode_string(&bytes).into_bytes();
            let i = at.index(text.len());
            text[i] = to;
            prop_assert_eq!(ours(&text), theirs(&text));
        }
    }

    #[test]
    fn short_buffers_are_refused() {
        let mut out = [0u8; 3];
        assert_eq!(encode(b"abc", &mut out), Err(Invalid));
        let mut buf = [0u8; 2];
        assert_eq!(decode(b"YWJj", &mut buf), Err(Invalid));
        assert_eq!(decode(b"", &mut buf), Ok(&[][..]));
    }
}
