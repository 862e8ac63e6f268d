//! The KMS-instance blobs (`KMS-INSTANCE.md` §3): `AdvanceBlob::decode` and
//! `BasicBlob::decode` never panic; what decodes is exactly the documented layout and encodes
//! back to the same bytes. The input is tried as it is and behind a valid Advance header and
//! version ID, so that the well-formed path is reached as often as the malformed ones.
#![no_main]

use kms_core::instance::blob::{
    ADVANCE_HEADER, ADVANCE_OVERHEAD, AdvanceBlob, BasicBlob, MAX_CIPHERTEXT_LEN,
};
use libfuzzer_sys::fuzz_target;

fn check(bytes: &[u8]) {
    let well_formed = bytes.len() > ADVANCE_OVERHEAD
        && bytes.len() <= ADVANCE_OVERHEAD + MAX_CIPHERTEXT_LEN
        && bytes[..3] == ADVANCE_HEADER
        && kms_core::is_lowercase_uuid(&bytes[3..39]);
    match AdvanceBlob::decode(bytes) {
        Ok(blob) => {
            assert!(well_formed);
            assert_eq!(blob.version.as_bytes(), &bytes[3..39]);
            assert_eq!(&blob.iv.0[..], &bytes[39..51]);
            assert_eq!(blob.ciphertext, &bytes[51..bytes.len() - 16]);
            assert_eq!(&blob.tag.0[..], &bytes[bytes.len() - 16..]);
            assert_eq!(blob.to_vec(), bytes);
            let mut out = vec![0u8; bytes.len()];
            assert_eq!(blob.encode(&mut out), Ok(bytes.len()));
            assert_eq!(out, bytes);
            assert!(blob.encode(&mut out[..bytes.len() - 1]).is_err());
        }
        Err(_) => assert!(!well_formed),
    }
    let basic_ok = bytes.len() > 16 && bytes.len() <= 16 + MAX_CIPHERTEXT_LEN;
    match BasicBlob::decode(bytes) {
        Ok(blob) => {
            assert!(basic_ok);
            assert_eq!(blob.ciphertext, &bytes[..bytes.len() - 16]);
            assert_eq!(&blob.tag.0[..], &bytes[bytes.len() - 16..]);
        }
        Err(_) => assert!(!basic_ok),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut prefixed = ADVANCE_HEADER.to_vec();
    prefixed.extend_from_slice(b"3f4e2c1a-8b7d-4e6f-9a0b-1c2d3e4f5a6b");
    prefixed.extend_from_slice(data);
    check(&prefixed);
});
