//! EncryptionContext parsing (spec §4): never panics; canonical_len and write_canonical agree;
//! what kms-core accepts, serde_json reads as the same object of strings.
#![no_main]

use std::collections::BTreeMap;

use kms_core::context::{self, EncryptionContext};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let parsed = EncryptionContext::parse(Some(text));
    let len = context::canonical_len(Some(text));
    match &len {
        Ok(n) => {
            let mut out = vec![0u8; *n];
            let written = context::write_canonical(Some(text), &mut out);
            assert_eq!(written.is_ok(), parsed.is_ok());
            if let Ok(w) = written {
                assert_eq!(w, *n);
            }
            // Too short a buffer is an error, never a panic.
            let mut short = vec![0u8; n / 2];
            assert!(context::write_canonical(Some(text), &mut short).is_err() || *n <= 1);
        }
        Err(_) => assert!(parsed.is_err()),
    }
    let Ok(parsed) = parsed else {
        return;
    };
    // What kms-core accepts is valid JSON: an object of strings with these pairs.
    if text.is_empty() {
        assert!(parsed.is_empty());
        return;
    }
    let reference: BTreeMap<String, String> =
        serde_json::from_str(text).expect("kms-core accepted what serde_json rejects");
    assert_eq!(reference.len(), parsed.len(), "duplicate keys accepted");
    let ours: BTreeMap<String, String> = parsed
        .pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(ours, reference);
    assert!(ours.keys().all(|k| !k.is_empty()));
    // The canonical encoding reads back to the same pairs, and the plain JSON of the pairs is
    // the same context.
    let again = EncryptionContext::parse(Some(&serde_json::to_string(&ours).unwrap()))
        .expect("re-serialised context");
    assert!(again == parsed);
});
