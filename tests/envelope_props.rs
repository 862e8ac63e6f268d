//! Property tests of envelope encryption (`kms_core::envelope`): the round trip for any size up
//! to 1 MiB and any segment size, pushed in any pieces; and, on any envelope, that truncation,
//! a flipped bit, moved or duplicated segments and swapped headers are refused, with nothing
//! released but the plaintext of the segments before the damage.
#![cfg(all(feature = "envelope", feature = "std"))]

mod envelope_support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use envelope_support::*;
use kms_core::InMemoryProvider;
use kms_core::envelope::{self, EnvelopeError, Header, Sealer};
use proptest::prelude::*;

/// One provider and two data keys (AES-256 and AES-128) for the whole run.
struct World {
    provider: InMemoryProvider,
    keys: [Made; 2],
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (mut provider, key) = provider();
        let keys = [
            data_key(&mut provider, &key, 32, Some(CONTEXT), 1),
            data_key(&mut provider, &key, 16, None, 2),
        ];
        World { provider, keys }
    })
}

/// The closure the one-shot opener takes: Decrypt against the world's provider.
fn unlock(
    w: &'static World,
) -> impl FnOnce(&Header<'_>) -> Result<kms_core::envelope::DataKey, EnvelopeError> {
    |h| h.decrypt(&w.provider, &caller(), &mut rng(1))
}

/// A tiny deterministic generator for piece sizes (splitmix64).
struct Pieces(u64);

impl Pieces {
    fn next(&mut self, max: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) % (max as u64 + 1)) as usize
    }
}

fn plaintext(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Sizes up to 1 MiB (mostly small) and segment sizes from 1 byte up, with no more than
/// about 2^12 segments per file so that a debug build runs the suite in seconds.
fn size_and_segment() -> impl Strategy<Value = (usize, u32)> {
    let len = prop_oneof![3 => 0usize..=64, 3 => 0usize..=4096, 1 => 0usize..=(1 << 20)];
    let segment = prop_oneof![3 => 1u32..=16, 2 => 1u32..=1024, 1 => 1u32..=(2 << 20)];
    (len, segment).prop_map(|(len, segment)| {
        let floor = (len >> 12) as u32 + 1;
        (len, segment.max(floor))
    })
}

/// Small envelopes (a few segments, sometimes many) for the damage properties.
fn small_size_and_segment() -> impl Strategy<Value = (usize, u32)> {
    (0usize..=600, prop_oneof![1u32..=8, 1u32..=64, 1u32..=700])
}

/// How many segments an opener may release from an envelope cut after `body` bytes of
/// segments: every whole sealed segment followed by at least one more byte.
fn authentic_before_cut(body: usize, segment_size: usize) -> usize {
    let sealed = segment_size + 16;
    let (whole, partial) = (body / sealed, body % sealed);
    if partial == 0 {
        whole.saturating_sub(1)
    } else {
        whole
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn round_trip_any_size_any_segment_any_pieces(
        (len, segment) in size_and_segment(),
        which in 0usize..2,
        seed in any::<u64>(),
    ) {
        let w = world();
        let made = &w.keys[which];
        let data = plaintext(len, seed as u8);
        let file = made.seal(segment, &data, seed);
        let header_len = made.params(segment).header_len(made.data_key.key_len()).unwrap();
        prop_assert_eq!(
            Some(file.len() as u64),
            envelope::envelope_len(header_len, segment, len as u64)
        );

        // The push API in random pieces makes the same bytes from the same salt.
        let params = made.params(segment);
        let buffer = vec![0u8; params.buffer_len(made.data_key.key_len()).unwrap()];
        let mut sealer = Sealer::new(&made.data_key, &params, &mut rng(seed), buffer).unwrap();
        let mut pushed = Vec::with_capacity(file.len());
        let mut emit = |b: &[u8]| {
            pushed.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        };
        let mut pieces = Pieces(seed);
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = pieces.next(2 * segment as usize + 3).min(rest.len());
            sealer.push(&rest[..n], &mut emit).unwrap();
            rest = &rest[n..];
        }
        sealer.finish(&mut emit).unwrap();
        prop_assert!(pushed == file, "pieces made another envelope");

        let chunk = Pieces(seed ^ 1).next(3 * (segment as usize + 16)) + 1;
        let (released, result) = open_observed(&w.provider, &file, chunk);
        prop_assert_eq!(result, Ok(()));
        prop_assert!(released == data, "opened to other bytes");
        let opened = envelope::open(&file, unlock(w)).unwrap();
        prop_assert!(opened == data, "the one-shot open gave other bytes");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn truncation_anywhere_is_refused(
        (len, segment) in small_size_and_segment(),
        cut in any::<prop::sample::Index>(),
        chunk in 1usize..200,
    ) {
        let w = world();
        let data = plaintext(len, 3);
        let file = w.keys[0].seal(segment, &data, 4);
        let header_len = Header::parse(&file).unwrap().encoded_len();
        let cut = cut.index(file.len());
        let (released, result) = open_observed(&w.provider, &file[..cut], chunk);
        prop_assert!(result.is_err(), "a file cut at {} of {} opened", cut, file.len());
        prop_assert!(envelope::open(&file[..cut], unlock(w)).is_err());
        let expected = if cut < header_len {
            0
        } else {
            authentic_before_cut(cut - header_len, segment as usize)
        };
        assert_released(&released, &data, segment as usize, expected);
    }

    #[test]
    fn a_flipped_bit_anywhere_is_refused(
        (len, segment) in small_size_and_segment(),
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
        chunk in 1usize..200,
    ) {
        let w = world();
        let data = plaintext(len, 5);
        let mut file = w.keys[0].seal(segment, &data, 6);
        let header_len = Header::parse(&file).unwrap().encoded_len();
        let at = at.index(file.len());
        file[at] ^= 1 << bit;
        let (released, result) = open_observed(&w.provider, &file, chunk);
        prop_assert!(result.is_err(), "bit {} of byte {} flipped and the file opened", bit, at);
        prop_assert!(envelope::open(&file, unlock(w)).is_err());
        let expected = if at < header_len {
            0
        } else {
            (at - header_len) / (segment as usize + 16)
        };
        assert_released(&released, &data, segment as usize, expected);
    }

    #[test]
    fn moved_or_duplicated_segments_are_refused(
        (len, segment) in small_size_and_segment(),
        i in any::<prop::sample::Index>(),
        j in any::<prop::sample::Index>(),
        duplicate in any::<bool>(),
        chunk in 1usize..200,
    ) {
        let w = world();
        let data = plaintext(len, 7);
        let file = w.keys[0].seal(segment, &data, 8);
        let header_len = Header::parse(&file).unwrap().encoded_len();
        let sealed = segment as usize + 16;
        let mut segs: Vec<Vec<u8>> =
            file[header_len..].chunks(sealed).map(<[u8]>::to_vec).collect();
        let n = segs.len();
        let (i, j) = (i.index(n), j.index(n));
        let first_bad = if duplicate {
            segs.insert(j, segs[i].clone());
            // Position j now holds segment i: authentic only if i == j, and then it is
            // followed by its own copy, which fails (a final segment fails at j already).
            if i == j && i + 1 < n { j + 1 } else { j }
        } else {
            prop_assume!(i != j);
            segs.swap(i, j);
            i.min(j)
        };
        let mut damaged = file[..header_len].to_vec();
        for s in &segs {
            damaged.extend_from_slice(s);
        }
        let (released, result) = open_observed(&w.provider, &damaged, chunk);
        prop_assert!(result.is_err());
        assert_released(&released, &data, segment as usize, first_bad);
    }

    #[test]
    fn swapped_headers_are_refused(
        (len_a, segment_a) in small_size_and_segment(),
        (len_b, segment_b) in small_size_and_segment(),
        which_b in 0usize..2,
        seeds in any::<(u64, u64)>(),
        chunk in 1usize..200,
    ) {
        prop_assume!(seeds.0 != seeds.1);
        let w = world();
        let a = w.keys[0].seal(segment_a, &plaintext(len_a, 1), seeds.0);
        let b = w.keys[which_b].seal(segment_b, &plaintext(len_b, 1), seeds.1);
        let (ha, hb) = (
            Header::parse(&a).unwrap().encoded_len(),
            Header::parse(&b).unwrap().encoded_len(),
        );
        for (head, body) in [(&a[..ha], &b[hb..]), (&b[..hb], &a[ha..])] {
            let mut swapped = head.to_vec();
            swapped.extend_from_slice(body);
            let (released, result) = open_observed(&w.provider, &swapped, chunk);
            prop_assert!(result.is_err());
            prop_assert!(released.is_empty());
        }
    }
}

/// Characters that stress JSON escaping: quotes, backslashes, controls, non-ASCII.
fn json_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'e'),
        2 => prop::char::range(' ', '~'),
        2 => prop::sample::select(vec!['"', '\\', '/', '\u{0}', '\n', '\t', '\u{8}', '\u{c}', '\u{1f}', '\u{7f}']),
        1 => prop::sample::select(vec!['é', '值', '\u{2028}', '\u{fffd}', '😀', '\u{10ffff}']),
        1 => any::<char>(),
    ]
}

fn json_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(json_char(), min..=max).prop_map(String::from_iter)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The header carries the context Decrypt needs: its JSON text is the same context, and
    /// Decrypt accepts it.
    #[test]
    fn the_headers_context_is_the_sealing_one(
        map in prop::collection::btree_map(json_string(1, 6), json_string(0, 8), 0..=6),
    ) {
        let map: BTreeMap<String, String> = map;
        let text = serde_json::to_string(&map).unwrap();
        let (mut provider, key) = provider();
        let made = data_key(&mut provider, &key, 32, Some(&text), 11);
        let file = made.seal(8, b"context", 12);
        let header = Header::parse(&file).unwrap();
        prop_assert!(header.context_matches(Some(&text)));
        let json = header.encryption_context();
        let mut canonical = vec![0u8; kms_core::context::canonical_len(Some(&json)).unwrap()];
        kms_core::context::write_canonical(Some(&json), &mut canonical).unwrap();
        prop_assert_eq!(&canonical[..], header.canonical_context());
        let pairs: BTreeMap<String, String> = header
            .context_pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        prop_assert_eq!(&pairs, &map);
        let opened = envelope::open(&file, |h| h.decrypt(&provider, &caller(), &mut rng(1)));
        prop_assert_eq!(opened.unwrap(), b"context");
    }
}
