//! What an opener refuses: malformed headers, truncation at every byte, every bit flip, moved,
//! duplicated, dropped, foreign and appended segments, swapped headers, an empty final segment.
//! Where the provider's material is known, each refusal is also compared with `independent`, an
//! implementation of the documented checks in their documented order.

use kms_core::FixedCapacityProvider;
use kms_envelope::{self as envelope, EnvelopeError, Header};

use crate::independent;
use crate::support::*;

/// How the crate opened a file: what the streaming opener released and how it ended, and what
/// the whole-buffer opener returned.
pub struct Observed {
    pub released: Vec<u8>,
    pub streamed: Result<(), EnvelopeError>,
    pub whole: Result<Vec<u8>, EnvelopeError>,
}

/// Opens `file` with the crate (pushed in pieces of `chunk` bytes, and as a whole buffer) and
/// with `independent`, and checks that the streaming opener and `independent` agree on the
/// outcome, the error and the plaintext released before it.
pub fn observe(provider: &FixedCapacityProvider<1>, file: &[u8], chunk: usize) -> Observed {
    let (released, streamed) = open_observed(provider, file, chunk);
    let mut out = vec![0u8; file.len()];
    let whole = envelope::open_into(file, unlock(provider), &mut out).map(|n| out[..n].to_vec());
    if whole.is_err() {
        assert!(
            out.iter().all(|&b| b == 0),
            "open_into left plaintext behind"
        );
    }
    match (&streamed, independent::open(&fixed_master(), file)) {
        (Ok(()), Ok(plaintext)) => assert_eq!(released, plaintext),
        (Err(e), Err(failure)) => {
            assert_eq!(
                format!("{e:?}"),
                failure.error,
                "the documented check differs"
            );
            assert_eq!(released, failure.released, "{e:?}: released differs");
        }
        (ours, theirs) => panic!("the crate: {ours:?}, the documented format: {theirs:?}"),
    }
    Observed {
        released,
        streamed,
        whole,
    }
}

#[test]
fn malformed_headers_are_refused() {
    use EnvelopeError::*;
    for (input, err) in [
        (&b""[..], Truncated),
        (b"K", Truncated),
        (b"KMSENV", Truncated),
        (b"KMSENV\x01", Truncated),
        (b"KMSENV\x01\x20\x00\x01\x00\x00\x00\x6c\x00", Truncated),
        (b"KMX", NotAnEnvelope),
        (b"kmsenv\x01", NotAnEnvelope),
        (b"hello, world, this is text", NotAnEnvelope),
        (b"KMSENV\x02\x20", UnsupportedVersion(2)),
        (b"KMSENV\x00", UnsupportedVersion(0)),
        (b"KMSENV\x01\x18", Truncated),
    ] {
        assert_eq!(Header::parse(input).unwrap_err(), err, "{input:?}");
        assert_eq!(
            envelope::peek_header_len(input).unwrap_err(),
            err,
            "{input:?}"
        );
    }

    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, &[("a", "1"), ("b", "2")], 1);
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
    for (at, value, err) in [
        // The data key's length: not 16 or 32 is refused as such, before any other field.
        (7, &[24u8][..], UnsupportedDataKeyLength(24)),
        (7, &[0], UnsupportedDataKeyLength(0)),
        (7, &[33], UnsupportedDataKeyLength(33)),
        // 16, but the blob is 108 bytes long: the blob's length is wrong for it.
        (7, &[16], MalformedHeader),
        (8, &[0, 0, 0, 0], MalformedHeader), // segment size 0
        (8, &[1, 0, 0, 1], MalformedHeader), // 16 MiB + 1
        (8, &[0xff, 0xff, 0xff, 0xff], MalformedHeader),
        (12, &[0, 107], MalformedHeader), // blob length not that of a 32-byte key
        (12, &[0, 88], MalformedHeader),  // that of a 16-byte key
        (12, &[0xff, 0xff], MalformedHeader),
        (14, &[0, 0], MalformedHeader), // context shorter than its count
        (14, &[0, 1], MalformedHeader),
        (14, &[0x80, 1], MalformedHeader),      // over 32 768 bytes
        (48, b"X", MalformedHeader),            // blob prefix not a lowercase UUID
        (48 + 8, b"_", MalformedHeader),        // a hyphen replaced
        (context_at, &[0, 3], MalformedHeader), // pair count off
        (context_at, &[0, 1], MalformedHeader),
        (context_at + 2, &[0, 0], MalformedHeader), // empty first key (its length now 0)
        (context_at + 2 + 2, b"c", MalformedHeader), // keys out of order: "c" > "b"
        (context_at + 2 + 2, b"b", MalformedHeader), // two equal keys
        (context_at + 2 + 2, &[0xff], MalformedHeader), // key not UTF-8
        (context_at + 2 + 2 + 1 + 2, &[0xc3], MalformedHeader), // value not UTF-8
    ] {
        let changed = with_bytes(&file, at, value);
        assert_eq!(
            Header::parse(&changed).unwrap_err(),
            err,
            "{value:?} at {at}"
        );
        if at < 16 {
            assert_eq!(envelope::peek_header_len(&changed).unwrap_err(), err);
        }
        let seen = observe(&provider, &changed, 7);
        assert_eq!(seen.streamed, Err(err));
        assert_eq!(seen.whole, Err(err));
    }
}

/// A header with its context field replaced by `canonical` (and its length field updated).
pub fn with_context_bytes(file: &[u8], canonical: &[u8]) -> Vec<u8> {
    let header = Header::parse(file).unwrap();
    let c_at = 48 + header.blob().as_bytes().len();
    let old_c = header.context().canonical().len();
    let mut out = file[..c_at].to_vec();
    out[14..16].copy_from_slice(&(canonical.len() as u16).to_be_bytes());
    out.extend_from_slice(canonical);
    out.extend_from_slice(&file[c_at + old_c..]);
    out
}

#[test]
fn context_rules_on_open() {
    // Each rule of the canonical context on its own, with the header's C updated so that only
    // the rule is broken.
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, &[("a", "1"), ("b", "2")], 1);
    let file = made.seal(64, b"data", 1);
    let pair = |k: &[u8], v: &[u8]| {
        let mut out = (k.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
        out
    };
    let canonical = |count: u16, pairs: &[Vec<u8>], tail: &[u8]| {
        let mut out = count.to_be_bytes().to_vec();
        for p in pairs {
            out.extend_from_slice(p);
        }
        out.extend_from_slice(tail);
        out
    };
    let (a, b) = (pair(b"a", b"1"), pair(b"b", b"2"));
    // The valid one parses (and fails only later, at Decrypt or the tag).
    assert!(
        Header::parse(&with_context_bytes(
            &file,
            &canonical(2, &[a.clone(), b.clone()], b"")
        ))
        .is_ok()
    );
    assert!(Header::parse(&with_context_bytes(&file, &canonical(0, &[], b""))).is_ok());
    assert!(
        Header::parse(&with_context_bytes(
            &file,
            &canonical(1, &[pair(b"k", b"")], b"")
        ))
        .is_ok()
    );
    for (what, bytes) in [
        (
            "a count above the pairs",
            canonical(3, &[a.clone(), b.clone()], b""),
        ),
        (
            "a count below the pairs",
            canonical(1, &[a.clone(), b.clone()], b""),
        ),
        (
            "an empty key",
            canonical(2, &[pair(b"", b"0"), a.clone()], b""),
        ),
        (
            "keys out of order",
            canonical(2, &[b.clone(), a.clone()], b""),
        ),
        ("a repeated key", canonical(2, &[a.clone(), a.clone()], b"")),
        (
            "keys compared as bytes: é (c3 a9) after z",
            canonical(2, &[pair("é".as_bytes(), b""), pair(b"z", b"")], b""),
        ),
        (
            "a key that is not UTF-8",
            canonical(1, &[pair(&[0xc3, 0x28], b"")], b""),
        ),
        (
            "a value that is not UTF-8",
            canonical(1, &[pair(b"k", &[0xed, 0xa0, 0x80])], b""),
        ),
        (
            "a byte after the last pair",
            canonical(2, &[a.clone(), b.clone()], &[0]),
        ),
        (
            "a pair cut short",
            canonical(1, &[pair(b"k", b"value")[..7].to_vec()], b""),
        ),
        (
            "no count at all (C = 2 holds it)",
            canonical(0, &[], &[0, 1]),
        ),
    ] {
        let changed = with_context_bytes(&file, &bytes);
        assert_eq!(
            Header::parse(&changed).unwrap_err(),
            EnvelopeError::MalformedHeader,
            "{what}"
        );
        let seen = observe(&provider, &changed, 100);
        assert_eq!(seen.streamed, Err(EnvelopeError::MalformedHeader), "{what}");
    }
    // Keys sorted by bytes: "z" (7a) before "é" (c3 a9) is the canonical order.
    let sorted = canonical(2, &[pair(b"z", b""), pair("é".as_bytes(), b"")], b"");
    assert!(Header::parse(&with_context_bytes(&file, &sorted)).is_ok());
    assert_eq!(
        sorted,
        independent::canonical_context(&[("é", ""), ("z", "")])
    );
}

#[test]
fn truncation_at_every_byte_is_refused() {
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data: Vec<u8> = (0..30u8).collect(); // segments of 7, 7, 7, 7, 2
    let file = made.seal(7, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    for cut in 0..file.len() {
        for chunk in [1, 5, 23, 1000] {
            let seen = observe(&provider, &file[..cut], chunk);
            let err = seen.streamed.expect_err("a truncated file opened");
            assert_eq!(
                seen.whole,
                Err(err),
                "cut at {cut}: the whole-buffer form differs"
            );
            if cut < header_len {
                assert_eq!(err, EnvelopeError::Truncated);
                assert!(seen.released.is_empty());
                continue;
            }
            let body = cut - header_len;
            let (whole, partial) = (body / 23, body % 23);
            // Segments followed by at least one byte authenticate; the last one held is opened
            // as the final one and fails, is too short to hold a tag, or is a tag alone after a
            // full segment.
            let authentic = if partial == 0 {
                whole.saturating_sub(1)
            } else {
                whole
            };
            assert_released(&seen.released, &data, 7, authentic);
            let expected = if partial == 16 && whole > 0 {
                EnvelopeError::EmptyFinalSegment {
                    index: whole as u64,
                }
            } else if (partial == 0 && whole > 0) || partial >= 16 {
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
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data = b"twelve bytes".to_vec(); // segments of 5, 5, 2
    let file = made.seal(5, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    let blob_at = 48..48 + 108;
    let mut errors = std::collections::BTreeSet::new();
    for bit in 0..file.len() * 8 {
        let mut damaged = file.clone();
        damaged[bit / 8] ^= 1 << (bit % 8);
        let seen = observe(&provider, &damaged, 3);
        let err = seen.streamed.expect_err("a flipped bit opened");
        assert_eq!(seen.whole, Err(err), "bit {bit}");
        let byte = bit / 8;
        if byte < header_len {
            assert!(seen.released.is_empty(), "bit {bit}");
            // Every header byte is covered by a check before any segment is opened.
            assert!(
                !matches!(err, EnvelopeError::SegmentAuthenticationFailed { .. }),
                "bit {bit}: {err:?}"
            );
            if (16..48).contains(&byte) || byte >= header_len - 32 {
                // The salt and the tag itself: only the header tag can notice.
                assert_eq!(err, EnvelopeError::HeaderAuthenticationFailed, "bit {bit}");
            }
            if blob_at.contains(&byte) && byte >= 48 + 36 {
                // The blob's IV, sealed text and tag: Decrypt refuses.
                assert_eq!(
                    err,
                    EnvelopeError::Kms(kms_core::Error::InvalidParameter(
                        kms_core::Parameter::CiphertextBlob
                    )),
                    "bit {bit}"
                );
            }
            errors.insert(format!("{err:?}"));
        } else {
            let segment = (byte - header_len) / 21;
            assert_released(&seen.released, &data, 5, segment);
            assert_eq!(
                err,
                EnvelopeError::SegmentAuthenticationFailed {
                    index: segment as u64
                }
            );
        }
    }
    // The header's checks, each reached by some flip.
    for err in [
        "NotAnEnvelope",
        "UnsupportedVersion(3)",
        "UnsupportedDataKeyLength(48)",
        "MalformedHeader",
        "Kms(KeyNotFound)",
        "Kms(InvalidParameter(CiphertextBlob))",
        "HeaderAuthenticationFailed",
    ] {
        assert!(errors.contains(err), "no flip gave {err}: {errors:?}");
    }
}

#[test]
fn moved_duplicated_and_dropped_segments_are_refused() {
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data: Vec<u8> = (0..25u8).collect(); // 7 segments: six of 4, one of 1
    let file = made.seal(4, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();
    let header = &file[..header_len];
    let segs = segments(&file, header_len, 4);
    assert_eq!(segs.len(), 7);
    let check = |damaged: Vec<u8>, first_bad: usize, what: &str| {
        let seen = observe(&provider, &damaged, 9);
        assert!(seen.streamed.is_err() && seen.whole.is_err(), "{what}");
        assert_released(&seen.released, &data, 4, first_bad);
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
fn data_appended_after_a_full_final_segment() {
    // The final segment is a full one: a byte appended after it is a piece too short for a tag.
    // The streaming opener opens the final segment as a non-final one first and reports its
    // failure; the whole-buffer opener checks the length of the last piece first.
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data = [6u8; 12]; // three full segments of 4
    let mut file = made.seal(4, &data, 1);
    file.push(0);
    let seen = observe(&provider, &file, 5);
    assert_eq!(
        seen.streamed,
        Err(EnvelopeError::SegmentAuthenticationFailed { index: 2 })
    );
    assert_released(&seen.released, &data, 4, 2);
    assert_eq!(seen.whole, Err(EnvelopeError::Truncated));
}

#[test]
fn an_empty_final_segment_after_a_full_one_is_refused_in_every_form() {
    // A file of two full segments, the second resealed as non-final, then a final segment of a
    // tag alone that verifies: a sealer never writes this (segmentation is canonical), and the
    // opener refuses it before looking at its tag.
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let file = made.seal(4, &data, 1);
    let header = Header::parse(&file).unwrap();
    let h = header.encoded_len();
    let derived = independent::derive(made.data_key.expose(), header.salt(), &file[..h - 32]);
    let mut forged = file[..h + 20].to_vec();
    forged.extend_from_slice(&independent::seal_segment(
        &derived.file_key,
        1,
        false,
        &data[4..],
    ));
    forged.extend_from_slice(&independent::seal_segment(&derived.file_key, 2, true, b""));
    let seen = observe(&provider, &forged, 3);
    assert_eq!(
        seen.streamed,
        Err(EnvelopeError::EmptyFinalSegment { index: 2 })
    );
    assert_eq!(seen.released, data);
    assert_eq!(
        seen.whole,
        Err(EnvelopeError::EmptyFinalSegment { index: 2 })
    );
    assert_eq!(
        EnvelopeError::EmptyFinalSegment { index: 2 }.to_string(),
        "envelope segment 2 is an empty final segment after a full one (not canonical)"
    );
    // The same segment with a wrong tag: the same error, the tag is not looked at.
    let mut wrong_tag = forged.clone();
    *wrong_tag.last_mut().unwrap() ^= 1;
    assert_eq!(
        observe(&provider, &wrong_tag, 3).streamed,
        Err(EnvelopeError::EmptyFinalSegment { index: 2 })
    );
    // The same file with its real final segment (the second, full) opens.
    assert_eq!(observe(&provider, &file, 3).whole.as_deref(), Ok(&data[..]));
}

#[test]
fn swapped_headers_and_foreign_segments_are_refused() {
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let other = data_key(&provider, &key, 32, CONTEXT, 5);
    let data = vec![3u8; 40];
    // Two files under the same data key, one under another, same plaintext and layout.
    let a = made.seal(8, &data, 1);
    let b = made.seal(8, &data, 2);
    let c = other.seal(8, &data, 3);
    let header_len = Header::parse(&a).unwrap().encoded_len();
    for (x, y) in [(&a, &b), (&b, &a), (&a, &c), (&c, &a), (&b, &c)] {
        let mut swapped = x[..header_len].to_vec();
        swapped.extend_from_slice(&y[header_len..]);
        let seen = observe(&provider, &swapped, 100);
        assert_eq!(
            seen.streamed,
            Err(EnvelopeError::SegmentAuthenticationFailed { index: 0 })
        );
        assert!(seen.released.is_empty());
    }
    // One segment of another file under the same data key, at the same position.
    for i in 0..5 {
        let at = segment_at(header_len, 8, i);
        let mut spliced = a.clone();
        spliced[at..at + 24].copy_from_slice(&b[at..at + 24]);
        let seen = observe(&provider, &spliced, 50);
        assert_eq!(
            seen.streamed,
            Err(EnvelopeError::SegmentAuthenticationFailed { index: i as u64 })
        );
        assert_released(&seen.released, &data, 8, i);
    }
}
