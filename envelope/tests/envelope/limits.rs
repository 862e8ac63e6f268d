//! Limits and parameters: the data key's length, the sealing parameters, the segment size, and
//! the context's 8192-character limit as an opener applies it.

use base64ct::{Base64, Encoding};
use kms_core::context::{ContextBuf, MAX_CONTEXT_CHARS};
use kms_core::ops::{self, EncryptRequest, GenerateDataKeyRequest, Plaintext};
use kms_core::{DataKeyLength, Error, Parameter};
use kms_envelope::{
    self as envelope, DataKey, EnvelopeError, Header, MAX_SEGMENT_SIZE, SealParams,
};

use crate::independent;
use crate::support::*;
use crate::tampering::{observe, with_context_bytes};

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
        // 44 characters without padding: the length it would have (33) is checked first.
    ] {
        assert!(DataKey::from_base64(bad).is_err(), "{bad}");
    }
    assert_eq!(
        DataKey::from_base64(&"A".repeat(44)),
        Err(EnvelopeError::UnsupportedDataKeyLength(33))
    );
    assert_eq!(
        DataKey::from_base64(&"A".repeat(43)),
        Err(EnvelopeError::InvalidDataKey)
    );
    // Unpadded text of a 32-byte key is not the canonical Base64 the blob seals.
    assert_eq!(
        DataKey::from_base64(text.trim_end_matches('=')),
        Err(EnvelopeError::InvalidDataKey)
    );
    // URL-safe alphabet: not standard Base64.
    let url_safe = Base64::encode_string(&[0xfb; 32])
        .replace('+', "-")
        .replace('/', "_");
    assert_eq!(
        DataKey::from_base64(&url_safe),
        Err(EnvelopeError::InvalidDataKey)
    );
    // Non-canonical Base64 (nonzero padding bits) is refused.
    let mut text = Base64::encode_string(&[0; 16]).into_bytes();
    text[21] = b'B'; // the last data character before "=="
    assert_eq!(
        DataKey::from_base64(std::str::from_utf8(&text).unwrap()),
        Err(EnvelopeError::InvalidDataKey)
    );

    // Straight from GenerateDataKey: 24 bytes are refused, AES_128 and AES_256 accepted.
    let (provider, key) = provider();
    let request = GenerateDataKeyRequest::new(key).with_length(DataKeyLength::new(24).unwrap());
    let generated = ops::generate_data_key(&provider, &caller(), &request, &mut rng(1))
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(
        DataKey::try_from(&generated).unwrap_err(),
        EnvelopeError::UnsupportedDataKeyLength(24)
    );
    for (length, len) in [(DataKeyLength::AES_128, 16), (DataKeyLength::AES_256, 32)] {
        let request = GenerateDataKeyRequest::new(key).with_length(length);
        let generated = ops::generate_data_key(&provider, &caller(), &request, &mut rng(1))
            .unwrap()
            .done()
            .unwrap();
        let data_key = DataKey::try_from(&generated).unwrap();
        assert_eq!(data_key.expose(), generated.data_key.expose());
        assert_eq!(data_key.key_len(), len);
        // Decrypt's answer is the key's Base64 text, and gives the same key.
        let request = ops::DecryptRequest::new(&generated.ciphertext_blob);
        let opened = ops::decrypt(&provider, &caller(), &request, &mut rng(2))
            .unwrap()
            .into_result()
            .unwrap();
        assert_eq!(
            opened.plaintext.expose(),
            Base64::encode_string(generated.data_key.expose())
        );
        assert_eq!(DataKey::try_from(&opened).unwrap(), data_key);
    }
}

#[test]
fn sealing_refuses_bad_parameters() {
    let (provider, key) = provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 77);
    let key16 = data_key(&provider, &key, 16, &[], 9);
    let seal = |params: SealParams<'_>, data_key: &DataKey| {
        envelope::seal(data_key, &params, b"x", &mut rng(1)).unwrap_err()
    };
    for size in [0, MAX_SEGMENT_SIZE + 1, u32::MAX] {
        assert_eq!(
            seal(made.params(size), &made.data_key),
            EnvelopeError::InvalidSegmentSize
        );
        let mut out = [0u8; 1024];
        assert_eq!(
            envelope::seal_into(
                &made.data_key,
                &made.params(size),
                b"x",
                &mut rng(1),
                &mut out
            ),
            Err(EnvelopeError::InvalidSegmentSize)
        );
        assert_eq!(
            made.params(size).buffer_len(32),
            Err(EnvelopeError::InvalidSegmentSize)
        );
    }
    // The blob of a key of the other length, or a blob that holds no data key at all.
    assert_eq!(
        seal(made.params(64), &key16.data_key),
        EnvelopeError::InvalidBlob
    );
    assert_eq!(
        seal(key16.params(64), &made.data_key),
        EnvelopeError::InvalidBlob
    );
    let request = EncryptRequest::new(key, Plaintext::new("not a data key").unwrap());
    let sealed = ops::encrypt(&provider, &caller(), &request, &mut rng(3))
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(
        seal(SealParams::new(&sealed.ciphertext_blob), &made.data_key),
        EnvelopeError::InvalidBlob
    );
    assert_eq!(
        made.params(64).header_len(24),
        Err(EnvelopeError::UnsupportedDataKeyLength(24))
    );
    // Invalid context text never reaches the sealer: a `Context` is valid by construction
    // (these checks are kms-core's now; the header's reader applies them again, see
    // `tampering::context_rules_on_open`).
    for text in ["[]", r#"{"a":1}"#, r#"{"a":"1","a":"2"}"#, r#"{"":"x"}"#] {
        assert!(ContextBuf::parse_json(Some(text)).is_err(), "{text}");
    }
    assert_eq!(
        envelope::seal(&made.data_key, &made.params(64), b"x", &mut FailingRng).unwrap_err(),
        EnvelopeError::Rng
    );
    // The largest segment size works.
    let file = made.seal(MAX_SEGMENT_SIZE, b"big segments", 1);
    assert_eq!(
        envelope::open(&file, unlock(&provider)).unwrap(),
        b"big segments"
    );
}

/// A context of one pair, `k`, whose value is `n` copies of `c`.
fn repeated(c: char, n: usize) -> ContextBuf {
    ContextBuf::from_pairs([("k", c.to_string().repeat(n).as_str())]).unwrap()
}

#[test]
fn the_context_limit_counts_the_shortest_json_in_unicode_scalar_values() {
    // `{"k":"` + value + `"}` is 8 characters around the value.
    let (provider, key) = fixed_provider();
    for (c, json_chars_each) in [
        ('😀', 1),
        ('é', 1),
        ('a', 1),
        ('\u{1}', 6),
        ('\n', 2),
        ('"', 2),
    ] {
        let n = (MAX_CONTEXT_CHARS - 8) / json_chars_each;
        let at_limit = repeated(c, n);
        let json = at_limit.to_json();
        assert_eq!(
            json.chars().count(),
            8 + n * json_chars_each,
            "{c:?}: the shortest JSON"
        );
        assert!(json.chars().count() <= MAX_CONTEXT_CHARS);
        let pairs: Vec<(String, String)> = at_limit
            .pairs()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(independent::shortest_json(&pairs), json);

        // Sealed and opened at the limit (the limit is the same for GenerateDataKey).
        let made = data_key(
            &provider,
            &key,
            32,
            &[("k", c.to_string().repeat(n).as_str())],
            3,
        );
        let file = made.seal(1024, b"at the limit", 4);
        let header = Header::parse(&file).unwrap();
        assert_eq!(header.context(), at_limit.as_context());
        assert!(header.encoded_len() <= envelope::MAX_HEADER_LEN);
        assert_eq!(
            observe(&provider, &file, 4096).whole.as_deref(),
            Ok(&b"at the limit"[..])
        );

        // One more character of JSON, an `x` more in the value, is refused by the opener.
        let over = format!("{}x", c.to_string().repeat(n));
        let mut canonical = vec![0, 1, 0, 1, b'k'];
        canonical.extend_from_slice(&(over.len() as u16).to_be_bytes());
        canonical.extend_from_slice(over.as_bytes());
        let changed = with_context_bytes(&file, &canonical);
        assert_eq!(
            Header::parse(&changed).unwrap_err(),
            EnvelopeError::MalformedHeader,
            "{c:?}: {} characters",
            8 + n * json_chars_each + 1
        );
        assert!(ContextBuf::from_pairs([("k", over.as_str())]).is_err());
    }
    // 8185 four-byte characters: 32 746 canonical bytes, within C's 32 768, but 8193 characters.
    let mut canonical = vec![0, 1, 0, 1, b'k'];
    let value = "😀".repeat(MAX_CONTEXT_CHARS - 7);
    canonical.extend_from_slice(&(value.len() as u16).to_be_bytes());
    canonical.extend_from_slice(value.as_bytes());
    assert!(canonical.len() <= envelope::MAX_CONTEXT_LEN);
    let made = data_key(&provider, &key, 32, &[], 3);
    let file = made.seal(64, b"", 4);
    assert_eq!(
        Header::parse(&with_context_bytes(&file, &canonical)).unwrap_err(),
        EnvelopeError::MalformedHeader
    );
}

#[test]
fn a_data_key_length_the_header_names_outside_16_and_32_is_refused_as_such() {
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let file = made.seal(64, b"data", 2);
    for l in [0u8, 1, 15, 17, 24, 31, 33, 64, 255] {
        let changed = with_bytes(&file, 7, &[l]);
        let err = EnvelopeError::UnsupportedDataKeyLength(usize::from(l));
        assert_eq!(Header::parse(&changed).unwrap_err(), err);
        assert_eq!(envelope::peek_header_len(&changed[..16]).unwrap_err(), err);
        // Refused before the other fields: with a segment size out of range too.
        let both = with_bytes(&changed, 8, &[0, 0, 0, 0]);
        assert_eq!(Header::parse(&both).unwrap_err(), err);
        assert_eq!(observe(&provider, &changed, 64).whole, Err(err));
        assert_eq!(
            err.to_string(),
            format!("unsupported data key length {l} (16 or 32 bytes needed)")
        );
    }
}

#[test]
fn decrypt_failures_come_back_as_kms_errors() {
    // A header whose blob names a version the provider does not have, and a header whose
    // context is not the blob's: Decrypt's own errors.
    let (provider, key) = fixed_provider();
    let made = data_key(&provider, &key, 32, CONTEXT, 1);
    let file = made.seal(64, b"data", 2);
    let mut other_version = file.clone();
    other_version[48] = if file[48] == b'0' { b'1' } else { b'0' };
    let seen = observe(&provider, &other_version, 64);
    assert_eq!(seen.streamed, Err(EnvelopeError::Kms(Error::KeyNotFound)));
    let other_context = with_context_bytes(&file, context(&[("file", "report.pdf")]).canonical());
    let seen = observe(&provider, &other_context, 64);
    assert_eq!(
        seen.streamed,
        Err(EnvelopeError::Kms(Error::InvalidParameter(
            Parameter::CiphertextBlob
        )))
    );
}
