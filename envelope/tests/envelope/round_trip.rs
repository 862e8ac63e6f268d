//! Round trips through every form: whole buffers (`seal_into`, `open_into`), one shot (`seal`,
//! `open`), push (`Sealer`, `HeaderReader`, `Opener`) and `std::io` (`EncryptWriter`,
//! `DecryptReader`); the header's accessors; the flow without an allocator.

use std::io::{self, Read, Write};

use kms_core::blob::Blob;
use kms_core::context::{Context, ContextBuf};
use kms_core::ops::{self, DecryptRequest, GenerateDataKeyRequest};
use kms_core::{Caller, DataKeyLength, Error, FixedCapacityProvider, MasterKeySpec, Parameter};
use kms_envelope::{
    self as envelope, DataKey, DecryptReader, EncryptWriter, EnvelopeError, Header, HeaderReader,
    Opener, Sealer,
};

use crate::support::*;

#[test]
fn round_trips_with_provider_decrypt() {
    let (provider, key) = provider();
    for len in [16, 32] {
        let made = data_key(&provider, &key, len, CONTEXT, 1);
        for (segment_size, n) in [(1, 5), (7, 0), (7, 7), (7, 50), (4096, 100_000)] {
            let data: Vec<u8> = (0..n).map(|i: u32| (i * 31) as u8).collect();
            let file = made.seal(segment_size, &data, 2);
            let expected =
                ContextBuf::parse_json(Some(r#"{ "tenant": "42", "file": "report\u002epdf" }"#))
                    .unwrap();
            let opened = envelope::open(&file, |h| {
                assert_eq!(h.context(), expected.as_context());
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
fn pushing_in_any_pieces_makes_the_same_envelope() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
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
        assert_eq!(sealer.segment_size(), 64);
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
    // An empty plaintext through the push API: the header and one empty final segment.
    let mut sealer = Sealer::new(&made.data_key, &params, &mut rng(8), vec![0u8; 256]).unwrap();
    let mut out = Vec::new();
    sealer
        .push(&[], |b: &[u8]| {
            out.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        })
        .unwrap();
    sealer
        .finish(|b: &[u8]| {
            out.extend_from_slice(b);
            Ok::<(), EnvelopeError>(())
        })
        .unwrap();
    assert_eq!(out, made.seal(64, b"", 8));
}

#[test]
fn header_context_and_blob_accessors() {
    let (provider, key) = provider();
    let pairs = [
        ("z", ""),
        ("a\"q", "line\nbreak \u{1} \\ / é 😀"),
        ("m", "\t"),
    ];
    let made = data_key(&provider, &key, 32, &pairs, 5);
    let file = made.seal(16, b"payload", 6);
    let header = Header::parse(&file).unwrap();
    let json = header.context().to_json();
    assert_eq!(
        json,
        "{\"a\\\"q\":\"line\\nbreak \\u0001 \\\\ / é 😀\",\"m\":\"\\t\",\"z\":\"\"}"
    );
    assert_eq!(header.encryption_context_len(), json.len());
    assert_eq!(header.context(), made.context.as_context());
    // The same context written another way is equal; another context is not.
    let text =
        "{ \"z\":\"\", \"m\":\"\\u0009\", \"a\\\"q\":\"line\\nbreak \\u0001 \\\\ \\/ é 😀\" }";
    assert_eq!(
        header.context(),
        ContextBuf::parse_json(Some(text)).unwrap().as_context()
    );
    assert_eq!(
        ContextBuf::parse_json(Some(&json)).unwrap().as_context(),
        header.context()
    );
    assert_ne!(header.context(), Context::EMPTY);
    assert_ne!(header.context(), context(&[("z", "")]).as_context());
    let found: Vec<_> = header.context().pairs().collect();
    assert_eq!(
        found,
        [
            ("a\"q", "line\nbreak \u{1} \\ / é 😀"),
            ("m", "\t"),
            ("z", "")
        ]
    );
    // Decrypt accepts the header's context.
    assert_eq!(
        envelope::open(&file, unlock(&provider)).unwrap(),
        b"payload"
    );

    // The wire texts, in caller buffers: exactly the needed length, and one byte less.
    let blob_text = made.blob.to_base64();
    assert_eq!(header.ciphertext_blob_len(), 144);
    let mut short = vec![0u8; json.len() - 1];
    assert_eq!(
        header.write_encryption_context(&mut short),
        Err(EnvelopeError::BufferTooSmall { needed: json.len() })
    );
    let mut short = [0u8; 143];
    assert_eq!(
        header.write_ciphertext_blob(&mut short),
        Err(EnvelopeError::BufferTooSmall { needed: 144 })
    );
    let mut buf = vec![0u8; json.len()];
    assert_eq!(header.write_encryption_context(&mut buf).unwrap(), json);
    let mut buf = [0u8; 144];
    assert_eq!(header.write_ciphertext_blob(&mut buf).unwrap(), blob_text);

    // Those texts, parsed as a wire frontend parses them, open the blob.
    let mut blob_buf = [0u8; 200];
    let blob = Blob::decode_base64(&blob_text, &mut blob_buf).unwrap();
    let context = ContextBuf::parse_json(Some(&json)).unwrap();
    let request = DecryptRequest::new(blob).with_context(&context);
    let opened = ops::decrypt(&provider, &caller(), &request, &mut rng(1))
        .unwrap()
        .into_result()
        .unwrap();
    assert_eq!(
        DataKey::try_from(&opened).unwrap(),
        DataKey::new(made.data_key.expose()).unwrap()
    );

    let text = format!("{header:?}");
    assert!(
        text.contains(&header.key_version_id().to_string()) && text.contains("context_pairs: 3"),
        "{text}"
    );
}

#[test]
fn sealing_with_another_context_than_the_blobs_does_not_open() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let other = context(&[("file", "other.pdf"), ("tenant", "42")]);
    let params = made.params(64).with_context(&other);
    let file = envelope::seal(&made.data_key, &params, b"data", &mut rng(1)).unwrap();
    assert_eq!(
        envelope::open(&file, unlock(&provider)),
        Err(EnvelopeError::Kms(Error::InvalidParameter(
            Parameter::CiphertextBlob
        )))
    );
}

#[test]
fn a_wrong_data_key_is_refused_before_any_segment() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let other = data_key(&provider, &key, 32, CONTEXT, 78);
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
    let mut out = [0u8; 100];
    assert_eq!(
        envelope::open_into(&file, |_| DataKey::new(&[0; 16]), &mut out),
        Err(EnvelopeError::DataKeyLengthMismatch)
    );
    assert!(header.unlock(&made.data_key).is_ok());
    // What the closure returns comes out as it is.
    assert_eq!(
        envelope::open(&file, |_| Err(EnvelopeError::Rng)),
        Err(EnvelopeError::Rng)
    );
}

#[test]
fn secrets_are_redacted() {
    let key_ab = DataKey::new(&[0xAB; 32]).unwrap();
    let text = format!("{key_ab:?}");
    assert!(text.contains("REDACTED"), "{text}");
    assert!(
        !text.contains("171") && !text.to_lowercase().contains("ab, "),
        "{text}"
    );

    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let file = made.seal(64, b"secret", 1);
    let header = Header::parse(&file).unwrap();
    let file_key = header.unlock(&made.data_key).unwrap();
    let text = format!("{file_key:?}");
    assert!(text.contains("REDACTED") && text.contains("64"), "{text}");
}

#[test]
fn failures_poison_sealers_and_openers() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
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

    // An emit error poisons an opener too.
    let key = header.unlock(&made.data_key).unwrap();
    let mut opener = Opener::new(key, vec![0u8; 24]).unwrap();
    let body = &file[header.encoded_len()..];
    assert_eq!(
        opener.push(body, |_: &[u8]| Err(EnvelopeError::Rng)),
        Err(EnvelopeError::Rng)
    );
    assert_eq!(
        opener.finish(|_: &[u8]| Ok::<(), EnvelopeError>(())),
        Err(EnvelopeError::Poisoned)
    );
}

#[test]
fn memory_is_one_segment_and_plaintext_is_zeroized() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let params = made.params(32);
    // The sealer's buffer: the header or one sealed segment, whichever is longer.
    let needed = params.buffer_len(32).unwrap();
    assert_eq!(needed, params.header_len(32).unwrap());
    assert_eq!(made.params(4096).buffer_len(32), Ok(4096 + 16));
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
    let key = header.unlock(&made.data_key).unwrap();
    assert_eq!(Opener::<Vec<u8>>::buffer_len(&key), 48);
    let mut small = [0u8; 47];
    assert_eq!(
        Opener::new(key, &mut small[..]).unwrap_err(),
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
fn header_reader_takes_the_header_and_no_more() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let file = made.seal(16, b"0123456789abcdefXYZ", 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();

    let mut reader = HeaderReader::new(vec![0u8; 1024]);
    assert_eq!(reader.push(&file), Ok(header_len));
    assert!(reader.is_complete());
    assert_eq!(reader.push(&file[header_len..]), Ok(0));
    assert_eq!(reader.header().unwrap().as_bytes(), &file[..header_len]);
    assert_eq!(reader.into_inner()[..header_len], file[..header_len]);

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
    let mut reader = HeaderReader::new([0u8; 512]);
    assert_eq!(
        reader.push(&with_bytes(&file[..16], 7, &[24])),
        Err(EnvelopeError::UnsupportedDataKeyLength(24))
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

#[test]
fn whole_buffer_forms_seal_and_open_in_place_all_or_nothing() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let unlock = unlock(&provider);
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
        assert_eq!(envelope::open_into(file, &unlock, &mut plain), Ok(n));
        assert_eq!(&plain[..n], &data[..]);
        if n > 0 {
            assert_eq!(
                envelope::open_into(file, &unlock, &mut plain[..n - 1]),
                Err(EnvelopeError::BufferTooSmall { needed: n })
            );
        }
        // Damage in the last segment: the segments before it were opened into the buffer,
        // and are wiped again.
        let mut damaged = file.to_vec();
        *damaged.last_mut().unwrap() ^= 1;
        let mut plain = vec![0u8; n];
        assert!(envelope::open_into(&damaged, &unlock, &mut plain).is_err());
        assert!(
            plain.iter().all(|&b| b == 0),
            "{n} bytes: plaintext left behind"
        );
        // Cut at each segment boundary and inside the last segment.
        for cut in (header_len..len).step_by(29) {
            assert!(envelope::open_into(&file[..cut], &unlock, &mut plain).is_err());
            assert!(plain.iter().all(|&b| b == 0));
        }
    }
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
        if self.reads.is_multiple_of(5) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "again"));
        }
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

pub fn unlock_io(
    provider: &kms_core::InMemoryProvider,
) -> impl FnOnce(&Header<'_>) -> io::Result<DataKey> + '_ {
    move |h| Ok(h.decrypt(provider, &caller(), &mut rng(4))?)
}

#[test]
fn io_adapters_round_trip() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data: Vec<u8> = (0..300_000u32).map(|i| (i / 7) as u8).collect();
    let params = made.params(4096);
    let mut writer = EncryptWriter::new(Vec::new(), &made.data_key, &params, &mut rng(6)).unwrap();
    for piece in data.chunks(1000) {
        writer.write_all(piece).unwrap();
    }
    writer.flush().unwrap();
    assert!(
        writer.get_ref().len() > 200_000,
        "segments go out as they fill"
    );
    let file = writer.finish().unwrap();
    assert_eq!(file, made.seal(4096, &data, 6));

    for step in [1, 999, 4112, 100_000] {
        let source = Trickle {
            data: &file,
            step,
            reads: 0,
        };
        let mut reader = DecryptReader::new(source, unlock_io(&provider)).unwrap();
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
    let mut reader = DecryptReader::new(&copy[..], unlock_io(&provider)).unwrap();
    let mut out = Vec::new();
    io::copy(&mut reader, &mut out).unwrap();
    assert_eq!(out, data);
    assert!(reader.get_ref().is_empty());
}

fn envelope_error(e: &io::Error) -> Option<EnvelopeError> {
    e.get_ref()
        .and_then(|e| e.downcast_ref::<EnvelopeError>())
        .copied()
}

#[test]
fn io_reader_reports_damage_as_invalid_data() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let data = vec![9u8; 1000];
    let file = made.seal(100, &data, 1);
    let header_len = Header::parse(&file).unwrap().encoded_len();

    // Cut inside segment 4: segments 0..=3 are released, then InvalidData.
    let cut = segment_at(header_len, 100, 4) + 50;
    let mut reader = DecryptReader::new(&file[..cut], unlock_io(&provider)).unwrap();
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        envelope_error(&err),
        Some(EnvelopeError::SegmentAuthenticationFailed { index: 4 })
    );
    assert_released(&out, &data, 100, 4);
    assert_eq!(
        reader.read(&mut [0u8; 8]).unwrap_err().kind(),
        io::ErrorKind::InvalidData
    );

    // A flipped bit in segment 2.
    let mut damaged = file.clone();
    damaged[segment_at(header_len, 100, 2) + 7] ^= 0x10;
    let mut reader = DecryptReader::new(&damaged[..], unlock_io(&provider)).unwrap();
    let mut out = Vec::new();
    assert!(reader.read_to_end(&mut out).is_err());
    assert_released(&out, &data, 100, 2);

    // An empty final segment after a full one: the file cut after segment 9's tag, then a
    // tag-only segment.
    let mut empty_final = file[..segment_at(header_len, 100, 9)].to_vec();
    empty_final.extend_from_slice(&[0u8; 16]);
    let mut reader = DecryptReader::new(&empty_final[..], unlock_io(&provider)).unwrap();
    let mut out = Vec::new();
    let err = reader.read_to_end(&mut out).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        envelope_error(&err),
        Some(EnvelopeError::EmptyFinalSegment { index: 9 })
    );
    assert_released(&out, &data, 100, 9);

    // Header problems come out of `new`, all as InvalidData (a data key length the header
    // names included).
    for (input, err) in [
        (
            &b"plain text, not an envelope"[..],
            EnvelopeError::NotAnEnvelope,
        ),
        (&file[..10], EnvelopeError::Truncated),
        (&file[..header_len - 1], EnvelopeError::Truncated),
        (
            &with_bytes(&file, 7, &[24])[..],
            EnvelopeError::UnsupportedDataKeyLength(24),
        ),
        (
            &with_bytes(&file, 8, &[0xff])[..],
            EnvelopeError::MalformedHeader,
        ),
        (
            &with_bytes(&file, 6, &[2])[..],
            EnvelopeError::UnsupportedVersion(2),
        ),
    ] {
        let e = DecryptReader::new(input, unlock_io(&provider)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{err:?}");
        assert_eq!(envelope_error(&e), Some(err));
    }
    let wrong = DecryptReader::new(&file[..], |_: &Header<'_>| {
        Ok::<_, io::Error>(DataKey::new(&[1; 32])?)
    })
    .unwrap_err();
    assert_eq!(wrong.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        envelope_error(&wrong),
        Some(EnvelopeError::HeaderAuthenticationFailed)
    );

    // A writer dropped without finish leaves a file no reader accepts.
    let mut partial = Vec::new();
    {
        let mut writer =
            EncryptWriter::new(&mut partial, &made.data_key, &made.params(100), &mut rng(2))
                .unwrap();
        writer.write_all(&data).unwrap();
    }
    let mut reader = DecryptReader::new(&partial[..], unlock_io(&provider)).unwrap();
    let mut out = Vec::new();
    assert!(reader.read_to_end(&mut out).is_err());
    // Nine full segments went out; the ninth, held for want of more data, was not final.
    assert_released(&out, &data, 100, 8);
}

#[test]
fn works_without_an_allocator_over_the_fixed_provider() {
    let caller = Caller::new(ACCOUNT, REGION);
    let mut provider: FixedCapacityProvider<1> =
        FixedCapacityProvider::new(ACCOUNT, REGION).unwrap();
    let key_id = provider
        .create_key(&mut rng(1), MasterKeySpec::Aes128)
        .unwrap();
    let request = GenerateDataKeyRequest::new(key_id).with_length(DataKeyLength::AES_128);
    let mut workspace = [0u8; 512];
    let out = ops::generate_data_key_in(&provider, &caller, &request, &mut rng(2), &mut workspace)
        .unwrap()
        .done()
        .unwrap();
    let params = envelope::SealParams::new(out.ciphertext_blob).with_segment_size(10);
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
    let mut workspace = [0u8; 128];
    assert_eq!(header.decrypt_workspace_len(), 36 + 2 + 24);
    assert_eq!(
        header.decrypt_in(&provider, &caller, &mut rng(4), &mut workspace[..61]),
        Err(EnvelopeError::Kms(Error::InternalFailure(
            kms_core::Internal::WorkspaceTooSmall(kms_core::WorkspaceTooSmall { needed: 62 })
        )))
    );
    let data_key = header
        .decrypt_in(&provider, &caller, &mut rng(4), &mut workspace)
        .unwrap();
    let key = header.unlock(&data_key).unwrap();
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
