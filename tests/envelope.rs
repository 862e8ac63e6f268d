//! Envelope encryption (`kms_core::envelope`): the format byte by byte, the round trip, the
//! checks an opener makes (truncation at every byte, every bit flip, reordered, duplicated,
//! dropped and foreign segments, swapped headers), the push API in caller buffers, and the
//! `std::io` adapters.
#![cfg(all(feature = "envelope", feature = "std"))]

mod envelope_support;

use std::io::{self, Read, Write};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64ct::{Base64, Encoding};
use envelope_support::*;
use hkdf::Hkdf;
use kms_core::envelope::{
    self, DEFAULT_SEGMENT_SIZE, DataKey, DecryptReader, EncryptWriter, EnvelopeError, Header,
    HeaderReader, MAX_SEGMENT_SIZE, Opener, SealParams, Sealer,
};
use kms_core::rand_core::TryRng;
use kms_core::{Error, GenerateDataKeyRequest, Parameter, context, generate_data_key};
use sha2::{Digest, Sha256};

/// The envelope of the module docs, rebuilt by hand from the spec with `sha2`, `hkdf` and
/// `aes-gcm`: header fields, salt, raw blob, canonical context, header tag, file key, nonces
/// and segment boundaries.
fn expected_envelope(made: &Made, segment_size: usize, data: &[u8], seed: u64) -> Vec<u8> {
    let mut salt = [0u8; 32];
    rng(seed).try_fill_bytes(&mut salt).unwrap();
    let blob = Base64::decode_vec(&made.blob).unwrap();
    let context_text = made.context.as_deref();
    let mut canonical = vec![0u8; context::canonical_len(context_text).unwrap()];
    context::write_canonical(context_text, &mut canonical).unwrap();

    let mut header = Vec::new();
    header.extend_from_slice(b"KMSENV");
    header.push(1);
    header.push(made.data_key.key_len() as u8);
    header.extend_from_slice(&(segment_size as u32).to_be_bytes());
    header.extend_from_slice(&(blob.len() as u16).to_be_bytes());
    header.extend_from_slice(&(canonical.len() as u16).to_be_bytes());
    header.extend_from_slice(&salt);
    header.extend_from_slice(&blob);
    header.extend_from_slice(&canonical);

    let hash = Sha256::digest(&header);
    let prk = Hkdf::<Sha256>::new(Some(&salt), made.data_key.expose());
    let mut file_key = [0u8; 32];
    prk.expand_multi_info(&[b"kms-core envelope v1 segment key", &hash], &mut file_key)
        .unwrap();
    let mut tag = [0u8; 32];
    prk.expand_multi_info(&[b"kms-core envelope v1 header tag", &hash], &mut tag)
        .unwrap();
    header.extend_from_slice(&tag);

    let cipher = Aes256Gcm::new(&file_key.into());
    let mut out = header;
    let segments: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(segment_size).collect()
    };
    for (i, segment) in segments.iter().enumerate() {
        let mut nonce = [0u8; 12];
        nonce[3..11].copy_from_slice(&(i as u64).to_be_bytes());
        nonce[11] = u8::from(i + 1 == segments.len());
        let mut sealed = segment.to_vec();
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), b"", sealed.as_mut_slice().into())
            .unwrap();
        out.extend_from_slice(&sealed);
        out.extend_from_slice(&tag);
    }
    out
}

#[test]
fn format_is_the_documented_one_byte_by_byte() {
    let (mut provider, key) = provider();
    for (len, context) in [(32, Some(CONTEXT)), (32, None), (16, Some(r#"{"a":""}"#))] {
        let made = data_key(&mut provider, &key, len, context, 1);
        for (segment_size, data_len) in [(10, 25), (10, 20), (10, 10), (10, 1), (10, 0), (1, 3)] {
            let data: Vec<u8> = (0..data_len as u8).collect();
            let file = made.seal(segment_size, &data, 2);
            let expected = expected_envelope(&made, segment_size as usize, &data, 2);
            assert_eq!(
                file, expected,
                "key {len}, context {context:?}, S {segment_size}, {data_len} bytes"
            );
        }
    }
}

#[test]
fn header_fields_and_lengths() {
    let (mut provider, key) = provider();
    for (len, blob_len) in [(32, 108), (16, 88)] {
        let made = data_key(&mut provider, &key, len, None, 3);
        let file = made.seal(DEFAULT_SEGMENT_SIZE, b"x", 4);
        assert_eq!(
            &file[..8],
            &[b'K', b'M', b'S', b'E', b'N', b'V', 1, len as u8]
        );
        assert_eq!(&file[8..12], &[0, 1, 0, 0]); // 65 536
        assert_eq!(&file[12..14], &(blob_len as u16).to_be_bytes());
        assert_eq!(&file[14..16], &[0, 2]); // the empty context: zero pairs
        let header_len = 80 + blob_len + 2;
        assert_eq!(envelope::peek_header_len(&file[..16]), Ok(header_len));
        assert_eq!(file.len(), header_len + 1 + 16);
        let header = Header::parse(&file).unwrap();
        assert_eq!(header.encoded_len(), header_len);
        assert_eq!(header.data_key_len(), len);
        assert_eq!(header.segment_size(), DEFAULT_SEGMENT_SIZE);
        assert_eq!(header.canonical_context(), &[0, 0]);
        assert_eq!(header.encryption_context(), "{}");
        assert_eq!(header.ciphertext_blob(), made.blob);
        assert_eq!(header.salt().len(), 32);
    }
}

#[test]
fn envelope_length_is_the_formula() {
    let (mut provider, key) = provider();
    let made = data_key(&mut provider, &key, 32, Some(CONTEXT), 1);
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
    let (mut provider, key) = provider();
    let made = data_key(&mut provider, &key, 32, None, 1);
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
fn round_trips_with_provider_decrypt() {
    let (mut provider, key) = provider();
    for len in [16, 32] {
        let made = data_key(&mut provider, &key, len, Some(CONTEXT), 1);
        for (segment_size, n) in [(1, 5), (7, 0), (7, 7), (7, 50), (4096, 100_000)] {
            let data: Vec<u8> = (0..n).map(|i: u32| (i * 31) as u8).collect();
            let file = made.seal(segment_size, &data, 2);
            let opened = envelope::open(&file, |h| {
                assert!(h.context_matches(Some(r#"{ "tenant": "42", "file": "report.pdf" }"#)));
                h.decrypt(&provider, &caller(), &mut rng(3))
            })
            .unwrap();
            assert_eq!(opened, data);
            for chunk in [1, 3, segment_size as usize + 16, 10_000] {
                let (released, result) = open_observed(&provider, &file, chunk);
                assert_eq!(result, Ok(()));
                assert_eq!(released, data);
            }
        }
    }
}

#[test]
fn data_keys_must_be_16_or_32_bytes() {
    for n in [0usize, 1, 8, 15, 17, 24, 31, 33, 64, 1024] {
        assert_eq!(
            DataKey::new(&vec![1u8; n]).unwrap_err(),
            EnvelopeError::UnsupportedDataKeyLength(n)
        );
        assert_eq!(
            DataKey::from_base64(&Base64::encode_string(&vec![1u8; n])).unwrap_err(),
            EnvelopeError::UnsupportedDataKeyLength(n)
        );
    }
    assert_eq!(DataKey::new(&[1; 16]).unwrap().key_len(), 16);
    assert_eq!(DataKey::new(&[1; 32]).unwrap().expose(), &[1; 32]);
    let text = Base64::encode_string(&[0xA5; 32]);
    assert_eq!(DataKey::from_base64(&text).unwrap().expose(), &[0xA5; 32]);
    for bad in [
        "not base64 at all, 44 characters long......",
        "A",
        "AAAA=AAA",
    ] {
        assert!(DataKey::from_base64(bad).is_err(), "{bad}");
    }
    // Non-canonical Base64 (nonzero padding bits) is refused.
    let mut text = Base64::encode_string(&[0; 16]).into_bytes();
    text[21] = b'B'; // the last data character before "=="
    assert_eq!(
        DataKey::from_base64(std::str::from_utf8(&text).unwrap()),
        Err(EnvelopeError::InvalidDataKey)
    );

    // Straight from GenerateDataKey: 24 bytes are refused, AES_128 and AES_256 accepted.
    let (mut provider, key) = provider();
    let request = GenerateDataKeyRequest {
        number_of_bytes: Some("24"),
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let response = generate_data_key(&mut provider, &caller(), &request, &mut rng(1)).unwrap();
    assert_eq!(
        DataKey::try_from(&response).unwrap_err(),
        EnvelopeError::UnsupportedDataKeyLength(24)
    );
    for (spec, len) in [("AES_128", 16), ("AES_256", 32)] {
        let request = GenerateDataKeyRequest {
            key_spec: Some(spec),
            ..GenerateDataKeyRequest::new(key.as_str())
        };
        let response = generate_data_key(&mut provider, &caller(), &request, &mut rng(1)).unwrap();
        let data_key = DataKey::try_from(&response).unwrap();
        assert_eq!(data_key.expose(), response.data_key().expose());
        assert_eq!(data_key.key_len(), len);
    }
}

#[test]
fn secrets_are_redacted() {
    let data_key = DataKey::new(&[0xAB; 32]).unwrap();
    let text = format!("{data_key:?}");
    assert!(text.contains("REDACTED"), "{text}");
    assert!(
        !text.contains("171") && !text.to_lowercase().contains("ab, "),
        "{text}"
    );

    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let file = made.seal(64, b"secret", 1);
    let header = Header::parse(&file).unwrap();
    let file_key = header.unlock(&made.data_key).unwrap();
    let text = format!("{file_key:?}");
    assert!(text.contains("REDACTED") && text.contains("64"), "{text}");
    let text = format!("{header:?}");
    assert!(
        text.contains(&header.key_version_id().to_string()),
        "{text}"
    );
}

fn data_key_made(provider: &mut kms_core::InMemoryProvider, key: &kms_core::KeyId) -> Made {
    data_key(provider, key, 32, Some(CONTEXT), 77)
}

#[test]
fn a_wrong_data_key_is_refused_before_any_segment() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let other = data_key(&mut provider, &key, 32, Some(CONTEXT), 78);
    let file = made.seal(8, b"some bytes", 1);
    let header = Header::parse(&file).unwrap();
    assert_eq!(
        header.unlock(&other.data_key).unwrap_err(),
        EnvelopeError::HeaderAuthenticationFailed
    );
    assert_eq!(
        header.unlock(&DataKey::new(&[0; 16]).unwrap()).unwrap_err(),
        EnvelopeError::DataKeyLengthMismatch
    );
    assert_eq!(
        envelope::open(&file, |_| DataKey::new(&[0; 32])),
        Err(EnvelopeError::HeaderAuthenticationFailed)
    );
    assert!(header.unlock(&made.data_key).is_ok());
}

#[test]
fn sealing_with_another_context_than_the_blobs_does_not_open() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let params = SealParams {
        encryption_context: Some(r#"{"file":"other.pdf","tenant":"42"}"#),
        ..SealParams::new(&made.blob)
    };
    let file = envelope::seal(&made.data_key, &params, b"data", &mut rng(1)).unwrap();
    let result = envelope::open(&file, |h| h.decrypt(&provider, &caller(), &mut rng(2)));
    assert_eq!(
        result,
        Err(EnvelopeError::Kms(Error::InvalidParameter(
            Parameter::CiphertextBlob
        )))
    );
}

#[test]
fn header_context_accessors() {
    let (mut provider, key) = provider();
    let context = "{\"z\":\"\",\"a\\\"q\":\"line\\nbreak \\u0001 \\\\ / é 😀\",\"m\":\"\\t\"}";
    let made = data_key(&mut provider, &key, 32, Some(context), 5);
    let file = made.seal(16, b"payload", 6);
    let header = Header::parse(&file).unwrap();
    let json = header.encryption_context();
    assert_eq!(
        json,
        "{\"a\\\"q\":\"line\\nbreak \\u0001 \\\\ / é 😀\",\"m\":\"\\t\",\"z\":\"\"}"
    );
    assert_eq!(header.encryption_context_len(), json.len());
    assert!(header.context_matches(Some(context)));
    assert!(header.context_matches(Some(&json)));
    assert!(!header.context_matches(None));
    assert!(!header.context_matches(Some(r#"{"z":""}"#)));
    assert!(!header.context_matches(Some("not json")));
    let pairs: Vec<_> = header.context_pairs().collect();
    assert_eq!(pairs[0], ("a\"q", "line\nbreak \u{1} \\ / é 😀"));
    assert_eq!(pairs.len(), 3);
    // Decrypt accepts the JSON the header writes.
    assert_eq!(
        envelope::open(&file, |h| h.decrypt(&provider, &caller(), &mut rng(1))).unwrap(),
        b"payload"
    );

    // Caller buffers.
    let mut short = [0u8; 10];
    assert_eq!(
        header.write_encryption_context(&mut short),
        Err(EnvelopeError::BufferTooSmall { needed: json.len() })
    );
    assert!(matches!(
        header.write_ciphertext_blob(&mut short),
        Err(EnvelopeError::BufferTooSmall { needed: 144 })
    ));
    let mut buf = [0u8; 200];
    assert_eq!(header.write_ciphertext_blob(&mut buf).unwrap(), made.blob);
    assert_eq!(header.write_encryption_context(&mut buf).unwrap(), json);
}

#[test]
fn sealing_refuses_bad_parameters() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let key16 = data_key(&mut provider, &key, 16, None, 9);
    let seal = |params: SealParams<'_>, data_key: &DataKey| {
        envelope::seal(data_key, &params, b"x", &mut rng(1)).unwrap_err()
    };
    for size in [0, MAX_SEGMENT_SIZE + 1, u32::MAX] {
        assert_eq!(
            seal(made.params(size), &made.data_key),
            EnvelopeError::InvalidSegmentSize
        );
    }
    // A blob that is not one, or is the blob of a key of the other length.
    assert_eq!(
        seal(SealParams::new("AAAA"), &made.data_key),
        EnvelopeError::InvalidBlob
    );
    assert_eq!(
        seal(SealParams::new(&"A".repeat(144)), &made.data_key),
        EnvelopeError::InvalidBlob
    );
    assert_eq!(
        seal(made.params(64), &key16.data_key),
        EnvelopeError::InvalidBlob
    );
    assert_eq!(
        seal(key16.params(64), &made.data_key),
        EnvelopeError::InvalidBlob
    );
    for context in ["[]", r#"{"a":1}"#, r#"{"a":"1","a":"2"}"#, r#"{"":"x"}"#] {
        let params = SealParams {
            encryption_context: Some(context),
            ..SealParams::new(&made.blob)
        };
        assert_eq!(
            seal(params, &made.data_key),
            EnvelopeError::InvalidContext,
            "{context}"
        );
    }
    assert_eq!(
        envelope::seal(&made.data_key, &made.params(64), b"x", &mut FailingRng).unwrap_err(),
        EnvelopeError::Rng
    );
    // The largest segment size works.
    let file = made.seal(MAX_SEGMENT_SIZE, b"big segments", 1);
    assert_eq!(
        envelope::open(&file, |h| h.decrypt(&provider, &caller(), &mut rng(1))).unwrap(),
        b"big segments"
    );
}

/// A valid file with a header field changed to `value` at `at`.
fn with_bytes(file: &[u8], at: usize, value: &[u8]) -> Vec<u8> {
    let mut out = file.to_vec();
    out[at..at + value.len()].copy_from_slice(value);
    out
}

#[test]
fn malformed_headers_are_refused() {
    use EnvelopeError::*;
    for (input, err) in [
        (&b""[..], Truncated),
        (b"K", Truncated),
        (b"KMSENV", Truncated),
        (b"KMSENV\x01", Truncated),
        (b"KMX", NotAnEnvelope),
        (b"hello, world, this is text", NotAnEnvelope),
        (b"KMSENV\x02\x20", UnsupportedVersion(2)),
        (b"KMSENV\x00", UnsupportedVersion(0)),
    ] {
        assert_eq!(Header::parse(input).unwrap_err(), err, "{input:?}");
        assert_eq!(
            envelope::peek_header_len(input).unwrap_err(),
            err,
            "{input:?}"
        );
    }

    let (mut provider, key) = provider();
    let made = data_key(&mut provider, &key, 32, Some(r#"{"a":"1","b":"2"}"#), 1);
    let file = made.seal(64, b"data", 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    for cut in 0..header_len {
        assert_eq!(
            Header::parse(&file[..cut]).unwrap_err(),
            Truncated,
            "cut at {cut}"
        );
    }
    let context_at = 48 + 108;
    for (at, value) in [
        (7, &[24u8][..]),   // data key length not 16 or 32
        (7, &[16]),         // 16, but the blob is 108 bytes
        (7, &[0]),          // 0
        (8, &[0, 0, 0, 0]), // segment size 0
        (8, &[1, 0, 0, 1]), // over 16 MiB
        (8, &[0xff, 0xff, 0xff, 0xff]),
        (12, &[0, 107]), // blob length not that of a 32-byte key
        (12, &[0xff, 0xff]),
        (14, &[0, 0]), // context shorter than its count
        (14, &[0, 1]),
        (14, &[0x80, 1]),      // over 32 768 bytes
        (48, b"X"),            // blob prefix not a lowercase UUID
        (context_at, &[0, 3]), // pair count off
        (context_at, &[0, 1]),
        (context_at + 2, &[0, 0]),     // empty first key (its length now 0)
        (context_at + 2 + 2, b"c"),    // keys out of order: "c" > "b"
        (context_at + 2 + 2, b"b"),    // two equal keys
        (context_at + 2 + 2, &[0xff]), // not UTF-8
    ] {
        let changed = with_bytes(&file, at, value);
        assert_eq!(
            Header::parse(&changed).unwrap_err(),
            MalformedHeader,
            "{value:?} at {at}"
        );
    }
    // A context length that does not match the pairs shifts the tag: the pairs then end early
    // or run past the count.
    let mut longer = file[..16].to_vec();
    longer[15] += 1;
    longer.extend_from_slice(&file[16..]);
    assert!(Header::parse(&longer).is_err());
}

#[test]
fn truncation_at_every_byte_is_refused() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data: Vec<u8> = (0..30u8).collect(); // segments of 7, 7, 7, 7, 2
    let file = made.seal(7, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    for cut in 0..file.len() {
        let mut out = vec![0u8; 1000];
        let one_shot = envelope::open_into(
            &file[..cut],
            |h| h.decrypt(&provider, &caller(), &mut rng(1)),
            &mut out,
        );
        assert!(one_shot.is_err(), "cut at {cut}");
        assert!(
            out.iter().all(|&b| b == 0),
            "cut at {cut}: plaintext left behind"
        );
        for chunk in [1, 5, 23, 1000] {
            let (released, result) = open_observed(&provider, &file[..cut], chunk);
            let err = result.expect_err("a truncated file opened");
            if cut < header_len {
                assert_eq!(err, EnvelopeError::Truncated);
                assert!(released.is_empty());
                continue;
            }
            let body = cut - header_len;
            let (whole, partial) = (body / 23, body % 23);
            // Segments followed by at least one byte authenticate; the last one held is opened
            // as the final one and fails (or is too short to hold a tag).
            let authentic = if partial == 0 {
                whole.saturating_sub(1)
            } else {
                whole
            };
            assert_released(&released, &data, 7, authentic);
            let expected = if (partial == 0 && whole > 0) || partial >= 16 {
                EnvelopeError::SegmentAuthenticationFailed {
                    index: authentic as u64,
                }
            } else {
                EnvelopeError::Truncated
            };
            assert_eq!(err, expected, "cut at {cut}, chunk {chunk}");
        }
    }
}

#[test]
fn every_bit_flip_is_refused() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data = b"twelve bytes".to_vec(); // segments of 5, 5, 2
    let file = made.seal(5, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    for bit in 0..file.len() * 8 {
        let mut damaged = file.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let (released, result) = open_observed(&provider, &damaged, 3);
        assert!(result.is_err(), "bit {bit} flipped and the file opened");
        let byte = bit / 8;
        if byte < header_len {
            assert!(released.is_empty(), "bit {bit}");
        } else {
            let segment = (byte - header_len) / 21;
            assert_released(&released, &data, 5, segment);
            assert_eq!(
                result,
                Err(EnvelopeError::SegmentAuthenticationFailed {
                    index: segment as u64
                })
            );
        }
        assert!(
            envelope::open(&damaged, |h| h.decrypt(&provider, &caller(), &mut rng(1))).is_err()
        );
    }
}

/// The sealed segments of a file, after its header.
fn segments(file: &[u8], header_len: usize, segment_size: usize) -> Vec<Vec<u8>> {
    file[header_len..]
        .chunks(segment_size + 16)
        .map(<[u8]>::to_vec)
        .collect()
}

fn assemble(header: &[u8], segments: &[Vec<u8>]) -> Vec<u8> {
    let mut out = header.to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out
}

#[test]
fn moved_duplicated_and_dropped_segments_are_refused() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data: Vec<u8> = (0..25u8).collect(); // 7 segments: six of 4, one of 1
    let file = made.seal(4, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    let header = &file[..header_len];
    let segs = segments(&file, header_len, 4);
    assert_eq!(segs.len(), 7);
    let check = |damaged: Vec<u8>, first_bad: usize, what: &str| {
        let (released, result) = open_observed(&provider, &damaged, 9);
        assert!(result.is_err(), "{what}");
        assert_released(&released, &data, 4, first_bad);
    };
    for i in 0..segs.len() {
        for j in i + 1..segs.len() {
            let mut swapped = segs.clone();
            swapped.swap(i, j);
            check(assemble(header, &swapped), i, &format!("swap {i} {j}"));
        }
        let mut duplicated = segs.clone();
        duplicated.insert(i, segs[i].clone());
        // The copy fails; a copy of the final segment also makes the original fail, as a
        // final segment followed by more data.
        let first_bad = if i == segs.len() - 1 { i } else { i + 1 };
        check(
            assemble(header, &duplicated),
            first_bad,
            &format!("duplicate {i}"),
        );
        let mut dropped = segs.clone();
        dropped.remove(i);
        // Dropping the final segment leaves a non-final one last: it fails as the final one.
        let first_bad = if i == segs.len() - 1 { i - 1 } else { i };
        check(assemble(header, &dropped), first_bad, &format!("drop {i}"));
    }
    // Data after the final segment: it fails as a non-final one.
    for extra in [&[0u8][..], &[0; 16], &segs[6], &segs[0]] {
        let mut appended = file.clone();
        appended.extend_from_slice(extra);
        check(appended, 6, "appended");
    }
}

#[test]
fn swapped_headers_and_foreign_segments_are_refused() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let other = data_key(&mut provider, &key, 32, Some(CONTEXT), 5);
    let data = vec![3u8; 40];
    // Two files under the same data key, one under another, same plaintext and layout.
    let a = made.seal(8, &data, 1);
    let b = made.seal(8, &data, 2);
    let c = other.seal(8, &data, 3);
    let header_len = Header::parse(&a).unwrap().encoded_len();
    for (x, y) in [(&a, &b), (&b, &a), (&a, &c), (&c, &a), (&b, &c)] {
        let mut swapped = x[..header_len].to_vec();
        swapped.extend_from_slice(&y[header_len..]);
        let (released, result) = open_observed(&provider, &swapped, 100);
        assert_eq!(
            result,
            Err(EnvelopeError::SegmentAuthenticationFailed { index: 0 })
        );
        assert!(released.is_empty());
    }
    // One segment of another file under the same data key, at the same position.
    for i in 0..5 {
        let at = segment_at(header_len, 8, i);
        let mut spliced = a.clone();
        spliced[at..at + 24].copy_from_slice(&b[at..at + 24]);
        let (released, result) = open_observed(&provider, &spliced, 50);
        assert_eq!(
            result,
            Err(EnvelopeError::SegmentAuthenticationFailed { index: i as u64 })
        );
        assert_released(&released, &data, 8, i);
    }
}

#[test]
fn pushing_in_any_pieces_makes_the_same_envelope() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
    let one_shot = made.seal(64, &data, 8);
    let params = made.params(64);
    for pieces in [
        vec![1],
        vec![63],
        vec![64],
        vec![65],
        vec![129, 1, 0, 64, 3],
        vec![1000],
    ] {
        let mut buffer = vec![0u8; params.buffer_len(32).unwrap()];
        let mut sealer =
            Sealer::new(&made.data_key, &params, &mut rng(8), &mut buffer[..]).unwrap();
        let mut out = Vec::new();
        let mut emit = |bytes: &[u8]| {
            out.extend_from_slice(bytes);
            Ok::<(), EnvelopeError>(())
        };
        let mut rest = &data[..];
        for &n in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (piece, tail) = rest.split_at(n.min(rest.len()));
            sealer.push(piece, &mut emit).unwrap();
            rest = tail;
            if n == 0 {
                sealer.push(&[], &mut emit).unwrap();
            }
        }
        assert_eq!(sealer.plaintext_len(), 1000);
        sealer.finish(&mut emit).unwrap();
        assert_eq!(out, one_shot, "pieces {pieces:?}");
    }
}

#[test]
fn memory_is_one_segment_and_plaintext_is_zeroized() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let params = made.params(32);
    // The sealer's buffer: the header or one sealed segment, whichever is longer.
    let needed = params.buffer_len(32).unwrap();
    assert_eq!(needed, params.header_len(32).unwrap());
    let mut buffer = vec![0u8; needed - 1];
    assert_eq!(
        Sealer::new(&made.data_key, &params, &mut rng(1), &mut buffer[..]).unwrap_err(),
        EnvelopeError::BufferTooSmall { needed }
    );
    let mut buffer = vec![0u8; needed];
    let mut sealed = Vec::new();
    {
        let mut sealer =
            Sealer::new(&made.data_key, &params, &mut rng(1), &mut buffer[..]).unwrap();
        sealer
            .push(&[0x5a; 100], |b: &[u8]| {
                sealed.extend_from_slice(b);
                Ok::<(), EnvelopeError>(())
            })
            .unwrap();
        // 4 bytes of plaintext are held; dropped without finish.
    }
    assert!(
        buffer.iter().all(|&b| b == 0),
        "the sealer's buffer was not zeroized"
    );
    // Without its final segment, the envelope does not open.
    let (released, result) = open_observed(&provider, &sealed, 1000);
    assert!(result.is_err());
    assert_released(&released, &[0x5a; 100], 32, 2);

    let file = made.seal(32, &[0x5a; 100], 2);
    let header = Header::parse(&file).unwrap();
    let mut small = [0u8; 47];
    assert_eq!(
        Opener::new(header.unlock(&made.data_key).unwrap(), &mut small[..]).unwrap_err(),
        EnvelopeError::BufferTooSmall { needed: 48 }
    );
    let mut buffer = [0u8; 48];
    {
        let mut opener =
            Opener::new(header.unlock(&made.data_key).unwrap(), &mut buffer[..]).unwrap();
        opener
            .push(
                &file[header.encoded_len()..header.encoded_len() + 60],
                |_: &[u8]| Ok::<(), EnvelopeError>(()),
            )
            .unwrap();
        assert_eq!(opener.plaintext_len(), 32);
    }
    assert!(
        buffer.iter().all(|&b| b == 0),
        "the opener's buffer was not zeroized"
    );
}

#[test]
fn failures_poison_sealers_and_openers() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let params = made.params(8);
    let mut sealer = Sealer::new(&made.data_key, &params, &mut rng(1), vec![0u8; 1024]).unwrap();
    let mut calls = 0;
    let mut failing = |_: &[u8]| {
        calls += 1;
        if calls == 2 {
            Err(EnvelopeError::Truncated) // stands for a sink's error
        } else {
            Ok(())
        }
    };
    assert_eq!(
        sealer.push(&[1; 40], &mut failing),
        Err(EnvelopeError::Truncated)
    );
    assert_eq!(
        sealer.push(&[1; 40], &mut failing),
        Err(EnvelopeError::Poisoned)
    );
    assert_eq!(sealer.finish(&mut failing), Err(EnvelopeError::Poisoned));

    let file = made.seal(8, &[1; 40], 1);
    let header = Header::parse(&file).unwrap();
    let mut damaged = file.clone();
    let at = segment_at(header.encoded_len(), 8, 1);
    damaged[at] ^= 1;
    let key = header.unlock(&made.data_key).unwrap();
    let mut opener = Opener::new(key, vec![0u8; 24]).unwrap();
    let mut released = Vec::new();
    let mut emit = |b: &[u8]| {
        released.extend_from_slice(b);
        Ok::<(), EnvelopeError>(())
    };
    let body = &damaged[header.encoded_len()..];
    assert_eq!(
        opener.push(body, &mut emit),
        Err(EnvelopeError::SegmentAuthenticationFailed { index: 1 })
    );
    assert_eq!(opener.push(&[], &mut emit), Err(EnvelopeError::Poisoned));
    assert_eq!(opener.finish(&mut emit), Err(EnvelopeError::Poisoned));
    assert_eq!(released, [1; 8]);
}

#[test]
fn header_reader_takes_the_header_and_no_more() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let file = made.seal(16, b"0123456789abcdefXYZ", 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();

    let mut reader = HeaderReader::new(vec![0u8; 1024]);
    assert_eq!(reader.push(&file), Ok(header_len));
    assert!(reader.is_complete());
    assert_eq!(reader.push(&file[header_len..]), Ok(0));
    assert_eq!(reader.header().unwrap().as_bytes(), &file[..header_len]);

    let mut reader = HeaderReader::new([0u8; 512]);
    let mut used = 0;
    for byte in file.chunks(1) {
        assert!(reader.header().is_err() || reader.is_complete());
        used += reader.push(byte).unwrap();
    }
    assert_eq!(used, header_len);
    let header = reader.header().unwrap();
    let key = header.unlock(&made.data_key).unwrap();
    let mut out = Vec::new();
    let mut opener = Opener::new(key, vec![0u8; 32]).unwrap();
    let mut emit = |b: &[u8]| {
        out.extend_from_slice(b);
        Ok::<(), EnvelopeError>(())
    };
    opener.push(&file[used..], &mut emit).unwrap();
    opener.finish(&mut emit).unwrap();
    assert_eq!(out, b"0123456789abcdefXYZ");

    // Refused as soon as the bytes show it.
    let mut reader = HeaderReader::new([0u8; 512]);
    assert_eq!(reader.push(b"X"), Err(EnvelopeError::NotAnEnvelope));
    let mut reader = HeaderReader::new([0u8; 512]);
    assert_eq!(reader.push(b"KMSENV"), Ok(6));
    assert_eq!(reader.header().unwrap_err(), EnvelopeError::Truncated);
    assert_eq!(
        reader.push(b"\x07"),
        Err(EnvelopeError::UnsupportedVersion(7))
    );
    // A buffer too small for the header.
    let mut reader = HeaderReader::new([0u8; 100]);
    assert_eq!(
        reader.push(&file),
        Err(EnvelopeError::BufferTooSmall { needed: header_len })
    );
    let mut reader = HeaderReader::new([0u8; 8]);
    assert_eq!(
        reader.push(&file),
        Err(EnvelopeError::BufferTooSmall { needed: 16 })
    );
}

/// A reader that hands out at most `step` bytes per read, with an `Interrupted` now and then.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
    reads: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.reads % 5 == 0 {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn unlock_with(
    provider: &kms_core::InMemoryProvider,
) -> impl FnOnce(&Header<'_>) -> io::Result<DataKey> + '_ {
    move |h| Ok(h.decrypt(provider, &caller(), &mut rng(4))?)
}

#[test]
fn io_adapters_round_trip() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i / 7) as u8).collect();
    let params = made.params(4096);
    let mut writer = EncryptWriter::new(Vec::new(), &made.data_key, &params, &mut rng(6)).unwrap();
    for piece in data.chunks(1000) {
        writer.write_all(piece).unwrap();
    }
    writer.flush().unwrap();
    let file = writer.finish().unwrap();
    assert_eq!(file, made.seal(4096, &data, 6));

    for step in [1, 999, 4112, 100_000] {
        let source = Trickle {
            data: &file,
            step,
            reads: 0,
        };
        let mut reader = DecryptReader::new(source, unlock_with(&provider)).unwrap();
        let mut out = Vec::new();
        if step == 1 {
            let mut byte = [0u8; 3];
            loop {
                match reader.read(&mut byte).unwrap() {
                    0 => break,
                    n => out.extend_from_slice(&byte[..n]),
                }
            }
        } else {
            reader.read_to_end(&mut out).unwrap();
        }
        assert_eq!(out, data, "step {step}");
        assert_eq!(reader.read(&mut [0u8; 10]).unwrap(), 0);
    }
    // io::copy from reader to writer and back.
    let mut copy = Vec::new();
    let mut writer = EncryptWriter::new(&mut copy, &made.data_key, &params, &mut rng(7)).unwrap();
    io::copy(&mut &data[..], &mut writer).unwrap();
    writer.finish().unwrap();
    let mut reader = DecryptReader::new(&copy[..], unlock_with(&provider)).unwrap();
    let mut out = Vec::new();
    io::copy(&mut reader, &mut out).unwrap();
    assert_eq!(out, data);
}

#[test]
fn io_reader_reports_damage_as_invalid_data() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let data = vec![9u8; 1000];
    let file = made.seal(100, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();

    // Cut inside segment 4: segments 0..=3 are released, then InvalidData.
    let cut = segment_at(header_len, 100, 4) + 50;
    let mut reader = DecryptReader::new(&file[..cut], unlock_with(&provider)).unwrap();
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        err.get_ref()
            .and_then(|e| e.downcast_ref::<EnvelopeError>()),
        Some(&EnvelopeError::SegmentAuthenticationFailed { index: 4 })
    );
    assert_released(&out, &data, 100, 4);
    assert_eq!(
        reader.read(&mut [0u8; 8]).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );

    // A flipped bit in segment 2.
    let mut damaged = file.clone();
    damaged[segment_at(header_len, 100, 2) + 7] ^= 0x10;
    let mut reader = DecryptReader::new(&damaged[..], unlock_with(&provider)).unwrap();
    let mut out = Vec::new();
    assert!(reader.read_to_end(&mut out).is_err());
    assert_released(&out, &data, 100, 2);

    // Header problems come out of `new`.
    for (input, err) in [
        (
            &b"plain text, not an envelope"[..],
            EnvelopeError::NotAnEnvelope,
        ),
        (&file[..10], EnvelopeError::Truncated),
        (&file[..header_len - 1], EnvelopeError::Truncated),
    ] {
        let e = DecryptReader::new(input, unlock_with(&provider)).unwrap_err();
        assert_eq!(
            e.get_ref().and_then(|e| e.downcast_ref::<EnvelopeError>()),
            Some(&err)
        );
    }
    let wrong = DecryptReader::new(&file[..], |_: &Header<'_>| {
        Ok::<_, io::Error>(DataKey::new(&[1; 32])?)
    })
    .unwrap_err();
    assert_eq!(wrong.kind(), io::ErrorKind::InvalidData);

    // A writer dropped without finish leaves a file no reader accepts.
    let mut partial = Vec::new();
    {
        let mut writer =
            EncryptWriter::new(&mut partial, &made.data_key, &made.params(100), &mut rng(2))
                .unwrap();
        writer.write_all(&data).unwrap();
    }
    let mut reader = DecryptReader::new(&partial[..], unlock_with(&provider)).unwrap();
    let mut out = Vec::new();
    assert!(reader.read_to_end(&mut out).is_err());
    // Nine full segments went out; the ninth, held for want of more data, was not final.
    assert_released(&out, &data, 100, 8);
}

#[test]
fn works_without_an_allocator_over_the_fixed_provider() {
    use kms_core::{
        Caller, DecryptRequest, FixedCapacityProvider, MasterKeySpec, decrypt_in,
        generate_data_key_in,
    };
    let caller = Caller::new(ACCOUNT, REGION);
    let mut provider: FixedCapacityProvider<1> =
        FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let key_id = provider
        .create_key(&mut rng(1), MasterKeySpec::Aes128)
        .unwrap();
    let request = GenerateDataKeyRequest {
        key_spec: Some("AES_128"),
        ..GenerateDataKeyRequest::new(key_id.as_str())
    };
    let mut workspace = [0u8; 512];
    let out = generate_data_key_in(
        &mut provider,
        &caller,
        &request,
        &mut rng(2),
        &mut workspace,
    )
    .unwrap();
    let params = SealParams {
        segment_size: 10,
        ..SealParams::new(out.ciphertext_blob)
    };
    let mut buffer = [0u8; 256];
    let data_key = DataKey::try_from(&out).unwrap();
    let mut sealer = Sealer::new(&data_key, &params, &mut rng(3), &mut buffer[..]).unwrap();
    let mut file = [0u8; 400];
    let mut len = 0;
    let mut emit = |b: &[u8]| {
        file[len..len + b.len()].copy_from_slice(b);
        len += b.len();
        Ok::<(), EnvelopeError>(())
    };
    sealer.push(b"no allocator here", &mut emit).unwrap();
    sealer.finish(&mut emit).unwrap();
    drop(data_key);
    drop(out);

    let header = Header::parse(&file[..len]).unwrap();
    assert_eq!(header.data_key_len(), 16);
    assert_eq!(header.blob().as_bytes().len(), 88);
    let (mut blob, mut context) = ([0u8; 120], [0u8; 2]);
    let request = DecryptRequest {
        encryption_context: Some(header.write_encryption_context(&mut context).unwrap()),
        ..DecryptRequest::new(header.write_ciphertext_blob(&mut blob).unwrap())
    };
    let opened = decrypt_in(&provider, &caller, &request, &mut rng(4), &mut workspace).unwrap();
    let key = header.unlock(&DataKey::try_from(&opened).unwrap()).unwrap();
    let mut buffer = [0u8; 26];
    let mut opener = Opener::new(key, &mut buffer[..]).unwrap();
    let mut plain = [0u8; 17];
    let mut n = 0;
    let mut emit = |b: &[u8]| {
        plain[n..n + b.len()].copy_from_slice(b);
        n += b.len();
        Ok::<(), EnvelopeError>(())
    };
    opener
        .push(&file[header.encoded_len()..len], &mut emit)
        .unwrap();
    opener.finish(&mut emit).unwrap();
    assert_eq!(&plain, b"no allocator here");
}

#[test]
fn whole_buffer_forms_seal_and_open_in_place_all_or_nothing() {
    let (mut provider, key) = provider();
    let made = data_key_made(&mut provider, &key);
    let unlock = |h: &Header<'_>| h.decrypt(&provider, &caller(), &mut rng(1));
    for n in [0usize, 1, 99, 100, 101, 1000] {
        let data: Vec<u8> = (0..n).map(|i| (i * 7) as u8).collect();
        let params = made.params(100);
        let header_len = params.header_len(32).unwrap();
        let len = envelope::envelope_len(header_len, 100, n as u64).unwrap() as usize;
        let mut out = vec![0xee; len + 10];
        assert_eq!(
            envelope::seal_into(
                &made.data_key,
                &params,
                &data,
                &mut rng(5),
                &mut out[..len - 1]
            ),
            Err(EnvelopeError::BufferTooSmall { needed: len })
        );
        let written =
            envelope::seal_into(&made.data_key, &params, &data, &mut rng(5), &mut out).unwrap();
        assert_eq!(written, len);
        assert_eq!(&out[..len], made.seal(100, &data, 5));
        assert_eq!(&out[len..], &[0xee; 10]);

        let file = &out[..len];
        let mut plain = vec![0u8; n + 3];
        assert_eq!(envelope::open_into(file, unlock, &mut plain), Ok(n));
        assert_eq!(&plain[..n], &data[..]);
        if n > 0 {
            assert_eq!(
                envelope::open_into(file, unlock, &mut plain[..n - 1]),
                Err(EnvelopeError::BufferTooSmall { needed: n })
            );
        }
        // Damage in the last segment: the segments before it were opened into the buffer,
        // and are wiped again.
        let mut damaged = file.to_vec();
        *damaged.last_mut().unwrap() ^= 1;
        let mut plain = vec![0u8; n];
        assert!(envelope::open_into(&damaged, unlock, &mut plain).is_err());
        assert!(
            plain.iter().all(|&b| b == 0),
            "{n} bytes: plaintext left behind"
        );
        // Cut at each segment boundary and inside the last segment.
        for cut in (header_len..len).step_by(29) {
            assert!(envelope::open_into(&file[..cut], unlock, &mut plain).is_err());
            assert!(plain.iter().all(|&b| b == 0));
        }
    }
}
