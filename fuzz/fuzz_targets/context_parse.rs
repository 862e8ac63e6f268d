//! EncryptionContext parsing (spec §4): never panics; the borrowed and owned parsers agree and
//! never write past their bound; what kms-core accepts, serde_json reads as the same object of
//! strings; the canonical encoding is accepted back by `Context::from_canonical`, and the JSON
//! `write_json` writes parses back to the same context. Arbitrary bytes given as a canonical
//! encoding are accepted only when they are one.
#![no_main]

use std::collections::BTreeMap;

use kms_core::context::{self, Context, ContextBuf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Any bytes as a canonical encoding: accepted only when they re-encode to themselves.
    if let Ok(c) = Context::from_canonical(data) {
        let pairs: Vec<(&str, &str)> = c.pairs().collect();
        let again = ContextBuf::from_pairs(pairs.iter().copied()).expect("valid pairs");
        assert_eq!(again.canonical(), data);
    }
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let parsed = ContextBuf::parse_json(Some(text));
    let mut buf = vec![0u8; context::canonical_len_bound(Some(text))];
    let borrowed = Context::parse_json(Some(text), &mut buf);
    assert_eq!(parsed.is_ok(), borrowed.is_ok());
    if let (Ok(owned), Ok(borrowed)) = (&parsed, &borrowed) {
        assert_eq!(owned.canonical(), borrowed.canonical());
        // Too short a buffer is an error, never a panic.
        let n = owned.canonical().len();
        let mut short = vec![0u8; n - 1];
        assert!(Context::parse_json(Some(text), &mut short).is_err());
    }
    let Ok(parsed) = parsed else {
        return;
    };
    let canonical = Context::from_canonical(parsed.canonical()).expect("its own encoding");
    assert_eq!(canonical, parsed.as_context());
    // The shortest JSON of it parses back to the same context.
    let json = parsed.to_json();
    assert_eq!(
        ContextBuf::parse_json(Some(&json)).expect("write_json"),
        parsed
    );
    // What kms-core accepts is valid JSON: an object of strings with these pairs.
    if text.is_empty() {
        assert!(parsed.as_context().is_empty());
        return;
    }
    let reference: BTreeMap<String, String> =
        serde_json::from_str(text).expect("kms-core accepted what serde_json rejects");
    assert_eq!(
        reference.len(),
        parsed.as_context().len(),
        "duplicate keys accepted"
    );
    let ours: BTreeMap<String, String> = parsed
        .pairs()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(ours, reference);
    assert!(ours.keys().all(|k| !k.is_empty()));
    // The plain JSON of the pairs is the same context.
    let again = ContextBuf::parse_json(Some(&serde_json::to_string(&ours).unwrap()))
        .expect("re-serialised context");
    assert!(again == parsed);
});
