//! The format byte by byte, header fields, lengths and salts.

use kms_core::rand_core::TryRng;
use kms_envelope::{self as envelope, DEFAULT_SEGMENT_SIZE, Header};

use crate::independent;
use crate::support::*;

#[test]
fn format_is_the_documented_one_byte_by_byte() {
    let (provider, key) = provider();
    for (len, pairs) in [
        (32, CONTEXT),
        (32, &[][..]),
        (16, &[("a", "")][..]),
        (32, &[("é", "\u{1}\"\\"), ("😀", "值")][..]),
    ] {
        let made = data_key(&provider, &key, len, pairs, 1);
        let canonical = independent::canonical_context(pairs);
        assert_eq!(made.context.canonical(), canonical, "{pairs:?}");
        for (segment_size, data_len) in [(10, 25), (10, 20), (10, 10), (10, 1), (10, 0), (1, 3)] {
            let data: Vec<u8> = (0..data_len as u8).collect();
            let file = made.seal(segment_size, &data, 2);
            let mut salt = [0u8; 32];
            rng(2).try_fill_bytes(&mut salt).unwrap();
            let expected = independent::seal(
                made.data_key.expose(),
                &salt,
                segment_size,
                made.blob.as_bytes(),
                &canonical,
                &data,
            );
            assert_eq!(
                file, expected,
                "key {len}, context {pairs:?}, S {segment_size}, {data_len} bytes"
            );
        }
    }
}

#[test]
fn header_fields_and_lengths() {
    let (provider, key) = provider();
    for (len, blob_len) in [(32, 108), (16, 88)] {
        let made = data_key(&provider, &key, len, &[], 3);
        let file = made.seal(DEFAULT_SEGMENT_SIZE, b"x", 4);
        assert_eq!(
            &file[..8],
            &[b'K', b'M', b'S', b'E', b'N', b'V', 1, len as u8]
        );
        assert_eq!(&file[8..12], &[0, 1, 0, 0]); // 65 536
        assert_eq!(&file[12..14], &(blob_len as u16).to_be_bytes());
        assert_eq!(&file[14..16], &[0, 2]); // the empty context: zero pairs
        assert_eq!(envelope::blob_len_for(len), blob_len);
        let header_len = 80 + blob_len + 2;
        assert_eq!(envelope::peek_header_len(&file[..16]), Ok(header_len));
        assert_eq!(file.len(), header_len + 1 + 16);
        let header = Header::parse(&file).unwrap();
        assert_eq!(header.encoded_len(), header_len);
        assert_eq!(header.as_bytes(), &file[..header_len]);
        assert_eq!(header.data_key_len(), len);
        assert_eq!(header.segment_size(), DEFAULT_SEGMENT_SIZE);
        assert_eq!(header.context().canonical(), &[0, 0]);
        assert_eq!(header.context().to_json(), "{}");
        assert_eq!(header.blob().as_bytes(), made.blob.as_bytes());
        assert_eq!(&file[48..48 + blob_len], made.blob.as_bytes());
        assert_eq!(header.key_version_id(), made.blob.version());
        assert_eq!(header.salt(), &file[16..48]);
    }
    assert_eq!(envelope::MAX_HEADER_LEN, 80 + 108 + 32_768);
}

#[test]
fn envelope_length_is_the_formula() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let header_len = made.params(10).header_len(32).unwrap();
    for n in [0usize, 1, 9, 10, 11, 19, 20, 21, 100, 101] {
        let file = made.seal(10, &vec![7u8; n], 5);
        let segments = n.div_ceil(10).max(1);
        assert_eq!(file.len(), header_len + n + 16 * segments, "{n} bytes");
        assert_eq!(
            envelope::envelope_len(header_len, 10, n as u64),
            Some(file.len() as u64)
        );
    }
    assert_eq!(envelope::envelope_len(190, 0, 5), None);
    assert_eq!(envelope::envelope_len(190, 1, u64::MAX), None);
}

#[test]
fn salts_differ_so_one_data_key_seals_many_files() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, &[], 1);
    let a = made.seal(16, b"same plaintext", 10);
    let b = made.seal(16, b"same plaintext", 11);
    let ha = Header::parse(&a).unwrap();
    let hb = Header::parse(&b).unwrap();
    assert_ne!(ha.salt(), hb.salt());
    assert_eq!(ha.blob().as_bytes(), hb.blob().as_bytes());
    // Same nonces (segment 0, final), different file keys: different ciphertexts.
    assert_ne!(&a[ha.encoded_len()..], &b[hb.encoded_len()..]);
}

#[test]
fn the_salt_is_the_only_draw_and_comes_first() {
    // Sealing draws 32 bytes, the salt, and nothing else: the same RNG state gives the same file,
    // and a sealer leaves the RNG exactly 32 bytes further on.
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let mut r = rng(44);
    let file = envelope::seal(&made.data_key, &made.params(8), &[5; 40], &mut r).unwrap();
    let mut expected = rng(44);
    let mut salt = [0u8; 32];
    expected.try_fill_bytes(&mut salt).unwrap();
    assert_eq!(&file[16..48], &salt);
    assert_eq!(r.try_next_u64().unwrap(), expected.try_next_u64().unwrap());
}
