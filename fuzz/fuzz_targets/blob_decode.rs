//! CiphertextBlob decoding (spec §5): never panics; what decodes is canonical Base64 of a
//! well-formed blob, and re-encodes to the same text. Besides the input as text, the input's
//! bytes are also encoded (as is, and behind a valid version prefix) so that the well-formed
//! path is reached as often as the malformed ones.
#![no_main]

use base64ct::{Base64, Encoding};
use kms_core::blob::{self, Blob, BlobBuf};
use libfuzzer_sys::fuzz_target;

/// Decodes `text` every way there is, checks they agree, and returns the blob's bytes.
fn decode(text: &str) -> Option<Vec<u8>> {
    let owned = BlobBuf::from_base64(text);
    let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
    let borrowed = Blob::decode_base64(text, &mut buf);
    assert_eq!(owned.is_ok(), borrowed.is_ok());
    if let (Ok(owned), Ok(borrowed)) = (&owned, &borrowed) {
        assert_eq!(owned.as_bytes(), borrowed.as_bytes());
        assert_eq!(owned.to_base64(), text, "accepted non-canonical Base64");
        let b = owned.as_blob();
        let bytes = b.as_bytes();
        assert_eq!(bytes.len(), blob::OVERHEAD + b.ciphertext().len());
        assert_eq!(b.sealed_len(), b.ciphertext().len());
        assert_eq!(b.version().as_bytes(), &bytes[..blob::VERSION_ID_LEN]);
        assert_eq!(&b.iv().0[..], &bytes[36..48]);
        assert_eq!(&b.ciphertext()[..], &bytes[48..bytes.len() - 16]);
        assert_eq!(&b.tag().0[..], &bytes[bytes.len() - 16..]);
        // Rebuilt from its parts, it is the same blob.
        let rebuilt = BlobBuf::from_parts(&b.version(), &b.iv(), b.ciphertext(), &b.tag()).unwrap();
        assert!(rebuilt == *owned);
        // Written again through the blob writer, and Base64-encoded by the blob, it is too.
        let mut out = vec![0u8; bytes.len()];
        let mut writer = blob::BlobMut::new(&mut out, &b.version(), b.sealed_len()).unwrap();
        writer.body().copy_from_slice(b.ciphertext());
        assert_eq!(writer.finish(&b.iv(), &b.tag()).as_bytes(), bytes);
        let mut text_out = vec![0u8; b.base64_len()];
        assert_eq!(b.encode_base64(&mut text_out).unwrap(), text);
    }
    // Any shorter buffer: an error or the same blob.
    for cut in [
        0,
        1,
        buf.len() / 2,
        buf.len().saturating_sub(3),
        buf.len().saturating_sub(1),
    ] {
        let mut short = vec![0u8; cut];
        if let Ok(b) = Blob::decode_base64(text, &mut short) {
            assert_eq!(
                Some(b.as_bytes()),
                owned.as_ref().ok().map(|o| o.as_bytes())
            );
        }
    }
    owned.ok().map(|o| o.as_bytes().to_vec())
}

/// The raw-bytes check: `Blob::from_bytes` accepts exactly 65..=6208 bytes behind lowercase
/// UUID text, and the Base64 of those bytes decodes to them.
fn raw(data: &[u8]) {
    let well_formed = (blob::MIN_BLOB_LEN..=blob::MAX_BLOB_LEN).contains(&data.len())
        && kms_core::is_lowercase_uuid(&data[..blob::VERSION_ID_LEN.min(data.len())]);
    assert_eq!(Blob::from_bytes(data).is_ok(), well_formed);
    assert_eq!(BlobBuf::from_bytes(data).is_ok(), well_formed);
    let decoded = decode(&Base64::encode_string(data));
    assert_eq!(decoded.is_some(), well_formed);
    if let Some(d) = decoded {
        assert_eq!(d, data);
    }
}

fuzz_target!(|data: &[u8]| {
    raw(data);
    let mut prefixed = b"3f4e2c1a-8b7d-4e6f-9a0b-1c2d3e4f5a6b".to_vec();
    prefixed.extend_from_slice(data);
    raw(&prefixed);
    if let Ok(text) = core::str::from_utf8(data) {
        if let Some(bytes) = decode(text) {
            assert_eq!(Base64::encode_string(&bytes), text);
        }
    }
});
