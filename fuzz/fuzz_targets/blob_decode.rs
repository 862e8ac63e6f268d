//! CiphertextBlob decoding (spec §5): never panics; what decodes is canonical Base64 of a
//! well-formed blob, and re-encodes to the same text.
#![no_main]

use kms_core::blob::{self, Blob, OwnedBlob};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Blob::from_bytes(data);
    if let Ok(b) = OwnedBlob::from_bytes(data) {
        assert_eq!(b.as_bytes(), data);
        assert!((blob::MIN_BLOB_LEN..=blob::MAX_BLOB_LEN).contains(&data.len()));
        assert!(kms_core::is_lowercase_uuid(&data[..blob::VERSION_ID_LEN]));
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let owned = OwnedBlob::from_base64(text);
    let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
    let borrowed = Blob::decode_base64(text, &mut buf);
    assert_eq!(owned.is_ok(), borrowed.is_ok());
    if let (Ok(owned), Ok(borrowed)) = (&owned, &borrowed) {
        assert_eq!(owned.as_bytes(), borrowed.as_bytes());
        assert_eq!(owned.to_base64(), text, "accepted non-canonical Base64");
        let b = owned.as_blob();
        assert_eq!(b.as_bytes().len(), blob::OVERHEAD + b.ciphertext().len());
        assert_eq!(
            b.version().as_bytes(),
            &b.as_bytes()[..blob::VERSION_ID_LEN]
        );
        assert_eq!(&b.iv()[..], &b.as_bytes()[36..48]);
        assert_eq!(&b.tag()[..], &b.as_bytes()[b.as_bytes().len() - 16..]);
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
});
