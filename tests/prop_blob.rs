//! Property tests of the CiphertextBlob (spec §5): every single-bit change is refused, with the
//! one split the spec allows, and the blob codec round-trips.

mod prop_support;

use base64ct::{Base64, Encoding};
use kms_core::blob::{self, Blob, OwnedBlob};
use kms_core::{
    DecryptRequest, Error, GenerateDataKeyRequest, InMemoryProvider, KeyVersionId, Parameter,
    decrypt, generate_data_key, is_lowercase_uuid,
};
use prop_support::*;
use proptest::prelude::*;

const BLOB_INVALID: Error = Error::InvalidParameter(Parameter::CiphertextBlob);

fn sealed(len: usize, context: &str, seed: u64) -> (InMemoryProvider, Vec<u8>) {
    let (mut provider, key) = provider();
    let n = len.to_string();
    let request = GenerateDataKeyRequest {
        number_of_bytes: Some(&n),
        encryption_context: Some(context),
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let r = generate_data_key(&mut provider, &caller(), &request, &mut rng(seed))
        .expect("GenerateDataKey");
    let bytes = Base64::decode_vec(&r.ciphertext_blob).expect("Base64");
    (provider, bytes)
}

/// What Decrypt must answer for `blob` with one bit flipped: `Forbidden.KeyNotFound` when the
/// flip is in the 36-byte prefix and leaves lowercase UUID text (which names no version: the
/// provider has one), else `InvalidParameter CiphertextBlob`.
fn expected_after_flip(flipped: &[u8], bit: usize) -> Error {
    if bit / 8 < blob::VERSION_ID_LEN && is_lowercase_uuid(&flipped[..blob::VERSION_ID_LEN]) {
        Error::KeyNotFound
    } else {
        BLOB_INVALID
    }
}

fn decrypt_bytes(provider: &InMemoryProvider, bytes: &[u8], context: &str) -> Result<(), Error> {
    let text = Base64::encode_string(bytes);
    let request = DecryptRequest {
        encryption_context: Some(context),
        ..DecryptRequest::new(&text)
    };
    decrypt(provider, &caller(), &request, &mut rng(0)).map(|_| ())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any single-bit flip anywhere in a blob: InvalidParameter CiphertextBlob, except a flip
    /// in the prefix that yields another lowercase UUID text: Forbidden.KeyNotFound.
    #[test]
    fn any_single_bit_flip_is_refused(
        len in 1usize..=96,
        map in context_map(3),
        seed in any::<u64>(),
        bit in any::<prop::sample::Index>(),
        in_prefix in any::<bool>(),
    ) {
        let context = plain_json(&map);
        let (provider, mut bytes) = sealed(len, &context, seed);
        prop_assert_eq!(decrypt_bytes(&provider, &bytes, &context), Ok(()));
        // Half the cases aim at the prefix, where the interesting split is.
        let bits = if in_prefix { blob::VERSION_ID_LEN * 8 } else { bytes.len() * 8 };
        let bit = bit.index(bits);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let expected = expected_after_flip(&bytes, bit);
        prop_assert_eq!(decrypt_bytes(&provider, &bytes, &context), Err(expected), "bit {}", bit);
    }

    /// decode(encode(b)) == b for every well-formed blob, through both decoders, and the parts
    /// come back where they were put.
    #[test]
    fn blob_codec_round_trips(
        version in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        iv in any::<[u8; 12]>(),
        ciphertext in prop_oneof![
            prop::collection::vec(any::<u8>(), 1..=200),
            prop::collection::vec(any::<u8>(), 6000..=6144),
        ],
        tag in any::<[u8; 16]>(),
    ) {
        let version = KeyVersionId::parse(version.as_bytes()).expect("lowercase UUID");
        let owned = OwnedBlob::new(&version, &iv, &ciphertext, &tag).expect("in range");
        let mut raw = vec![0u8; blob::OVERHEAD + ciphertext.len()];
        let n = blob::encode_into(&version, &iv, &ciphertext, &tag, &mut raw).expect("fits");
        prop_assert_eq!(n, raw.len());
        prop_assert_eq!(owned.as_bytes(), &raw[..]);

        let text = owned.to_base64();
        prop_assert_eq!(&text, &Base64::encode_string(&raw));
        prop_assert_eq!(text.len(), blob::base64_len(raw.len()));
        let decoded = OwnedBlob::from_base64(&text).expect("decodes");
        prop_assert!(decoded == owned);
        let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
        let borrowed = Blob::decode_base64(&text, &mut buf).expect("decodes");
        prop_assert_eq!(borrowed.as_bytes(), &raw[..]);
        prop_assert_eq!(borrowed.version(), version);
        prop_assert_eq!(borrowed.iv(), &iv);
        prop_assert_eq!(borrowed.ciphertext(), &ciphertext[..]);
        prop_assert_eq!(borrowed.tag(), &tag);
        prop_assert_eq!(borrowed.sealed_len(), ciphertext.len());
        prop_assert!(Blob::from_bytes(&raw).expect("well-formed") == borrowed);
        prop_assert!(OwnedBlob::from_bytes(&raw).expect("well-formed") == owned);
    }

    /// Blobs whose sealed part is empty or over 6144 bytes cannot be made or read.
    #[test]
    fn out_of_range_blobs_are_refused(extra in 1usize..=64, short in 0usize..=64) {
        let version = KeyVersionId::parse(b"00000000-0000-4000-8000-000000000000").expect("UUID");
        let long = vec![0u8; blob::MAX_SEALED_LEN + extra];
        prop_assert!(OwnedBlob::new(&version, &[0; 12], &long, &[0; 16]).is_err());
        prop_assert!(OwnedBlob::new(&version, &[0; 12], &[], &[0; 16]).is_err());
        let mut raw = version.as_bytes().to_vec();
        raw.resize(blob::MAX_BLOB_LEN + extra, 0);
        prop_assert!(Blob::from_bytes(&raw).is_err());
        prop_assert!(OwnedBlob::from_base64(&Base64::encode_string(&raw)).is_err());
        raw.truncate(short.min(blob::MIN_BLOB_LEN - 1));
        prop_assert!(Blob::from_bytes(&raw).is_err());
        prop_assert!(OwnedBlob::from_base64(&Base64::encode_string(&raw)).is_err());
    }
}

/// Every one of the 864 bits of a 108-byte blob (a 32-byte data key), flipped in turn.
#[test]
fn every_bit_of_one_blob_flipped() {
    let context = r#"{"app":"prop"}"#;
    let (mut provider, key) = provider();
    let request = GenerateDataKeyRequest {
        encryption_context: Some(context),
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let r = generate_data_key(&mut provider, &caller(), &request, &mut rng(3)).expect("GDK");
    let bytes = Base64::decode_vec(&r.ciphertext_blob).expect("Base64");
    assert_eq!(bytes.len(), 108);
    let (mut not_found, mut invalid) = (0, 0);
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let expected = expected_after_flip(&flipped, bit);
        assert_eq!(
            decrypt_bytes(&provider, &flipped, context),
            Err(expected),
            "bit {bit}"
        );
        if expected == Error::KeyNotFound {
            not_found += 1;
        } else {
            invalid += 1;
        }
    }
    assert_eq!(not_found + invalid, 864);
    // Some prefix flips stay hex digits ('0'..'9' <-> '0'..'9', 'a'..'f' <-> 'a'..'f'), so both
    // outcomes occur; the exact split depends on the version ID's characters.
    assert!(not_found > 0 && not_found < 36 * 8, "{not_found}");
}
