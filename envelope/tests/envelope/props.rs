//! Property tests: the round trip for any size up to 1 MiB and any segment size, pushed in any
//! pieces; and, on any envelope, that truncation, a flipped bit, moved or duplicated segments and
//! swapped headers are refused, with nothing released but the plaintext of the segments before
//! the damage and the same verdict as the documented format (`independent`).
//!
//! Failures found are kept in `props.proptest-regressions` beside this file (set explicitly:
//! proptest's default would look for a `main.rs` above the file and use
//! `tests/proptest-regressions/props.txt`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use kms_core::FixedCapacityProvider;
use kms_core::context::ContextBuf;
use kms_envelope::{self as envelope, EnvelopeError, Header, Sealer};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

use crate::independent;
use crate::support::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// One provider and two data keys (AES-256 and AES-128) for the whole run.
struct World {
    provider: FixedCapacityProvider<1>,
    keys: [Made; 2],
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let (provider, key) = fixed_provider();
        let keys = [
            data_key(&provider, &key, 32, CONTEXT, 1),
            data_key(&provider, &key, 16, &[], 2),
        ];
        World { provider, keys }
    })
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

/// Opens with the crate and with the documented format; they must agree. Returns what the
/// crate's streaming opener released and how it ended.
fn open_both(file: &[u8], chunk: usize) -> (Vec<u8>, Result<(), EnvelopeError>) {
    let w = world();
    let (released, result) = open_observed(&w.provider, file, chunk);
    match (&result, independent::open(&fixed_master(), file)) {
        (Ok(()), Ok(plaintext)) => assert_eq!(released, plaintext),
        (Err(e), Err(failure)) => {
            assert_eq!(format!("{e:?}"), failure.error);
            assert_eq!(released, failure.released);
        }
        (ours, theirs) => panic!("the crate: {ours:?}, the documented format: {theirs:?}"),
    }
    (released, result)
}

proptest! {
    #![proptest_config(config(24))]

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
        let (released, result) = open_both(&file, chunk);
        prop_assert_eq!(result, Ok(()));
        prop_assert!(released == data, "opened to other bytes");
        let opened = envelope::open(&file, unlock(&w.provider)).unwrap();
        prop_assert!(opened == data, "the one-shot open gave other bytes");
    }
}

proptest! {
    #![proptest_config(config(64))]

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
        let (released, result) = open_both(&file[..cut], chunk);
        prop_assert!(result.is_err(), "a file cut at {} of {} opened", cut, file.len());
        prop_assert!(envelope::open(&file[..cut], unlock(&w.provider)).is_err());
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
        let (released, result) = open_both(&file, chunk);
        prop_assert!(result.is_err(), "bit {} of byte {} flipped and the file opened", bit, at);
        prop_assert!(envelope::open(&file, unlock(&w.provider)).is_err());
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
        let (released, result) = open_both(&damaged, chunk);
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
            let (released, result) = open_both(&swapped, chunk);
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
    #![proptest_config(config(64))]

    /// The header carries the context Decrypt needs: the same context, its shortest JSON text
    /// as documented, and Decrypt accepts it.
    #[test]
    fn the_headers_context_is_the_sealing_one(
        map in prop::collection::btree_map(json_string(1, 6), json_string(0, 8), 0..=6),
    ) {
        let map: BTreeMap<String, String> = map;
        let text = serde_json::to_string(&map).unwrap();
        let sent = ContextBuf::parse_json(Some(&text)).unwrap();
        let (provider, key) = fixed_provider();
        let pairs: Vec<(&str, &str)> = map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let made = data_key(&provider, &key, 32, &pairs, 11);
        let file = made.seal(8, b"context", 12);
        let header = Header::parse(&file).unwrap();
        prop_assert_eq!(header.context(), sent.as_context());
        prop_assert_eq!(header.context().canonical(), &independent::canonical_context(&pairs)[..]);
        let json = header.context().to_json();
        let found: Vec<(String, String)> = header
            .context()
            .pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        prop_assert_eq!(&json, &independent::shortest_json(&found));
        prop_assert_eq!(ContextBuf::parse_json(Some(&json)).unwrap(), sent);
        let found: BTreeMap<String, String> = found.into_iter().collect();
        prop_assert_eq!(&found, &map);
        let opened = envelope::open(&file, unlock(&provider));
        prop_assert_eq!(opened.unwrap(), b"context");
        prop_assert_eq!(independent::open(&fixed_master(), &file).unwrap(), b"context");
    }
}
