//! Property tests of the encryption context (spec §4): the canonical encoding is exactly the
//! spec's, injective, and independent of how the JSON is written; the parser accepts exactly
//! what a JSON parser (serde_json) reads as an object of strings with non-empty, distinct keys.

mod prop_support;

use std::collections::BTreeMap;
use std::fmt;

use kms_core::context::{self, EncryptionContext, InvalidContext, MAX_CONTEXT_CHARS};
use prop_support::*;
use proptest::prelude::*;
use serde::Deserialize;

/// Strings from a tiny alphabet, so that distinct contexts often share bytes in ways an
/// ambiguous encoding would confuse (`{"a":"b=c"}` and `{"a=b":"c"}`, `k=v&` joins, ...).
fn tiny_string(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "=", "&", "\u{0}", "é"]),
        min..=3,
    )
    .prop_map(|v| v.concat())
}

fn tiny_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(tiny_string(1), tiny_string(0), 0..=3)
}

/// A JSON object of strings, as its pairs in text order, duplicates kept.
struct PairList(Vec<(String, String)>);

impl<'de> Deserialize<'de> for PairList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = PairList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of strings")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<PairList, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = m.next_entry::<String, String>()? {
                    pairs.push(pair);
                }
                Ok(PairList(pairs))
            }
        }
        d.deserialize_map(Visitor)
    }
}

/// What spec §4 says the text is, by way of serde_json: `Some(pairs)` for a valid context.
fn reference_parse(text: &str) -> Option<BTreeMap<String, String>> {
    if text.is_empty() {
        return Some(BTreeMap::new());
    }
    if text.chars().count() > MAX_CONTEXT_CHARS {
        return None;
    }
    let PairList(pairs) = serde_json::from_str(text).ok()?;
    let n = pairs.len();
    let map: BTreeMap<String, String> = pairs.into_iter().collect();
    (map.len() == n && map.keys().all(|k| !k.is_empty())).then_some(map)
}

/// Near-valid context texts: a valid text with a few byte-level edits drawn from JSON's
/// alphabet (quotes, braces, backslashes, escapes, surrogates).
fn near_valid_text() -> impl Strategy<Value = String> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..4,
        prop::sample::select(vec![
            "\"",
            "{",
            "}",
            ":",
            ",",
            "\\",
            "\\u",
            "\\ud83d",
            "\\ude00",
            "\\u00",
            " ",
            "a",
            "\"\":\"\"",
            "\u{0}",
            "\n",
            "[]",
            "1",
            "null",
            "é",
            "😀",
        ]),
    );
    (
        context_map(3),
        any::<u64>(),
        prop::collection::vec(edit, 0..3),
    )
        .prop_map(|(map, seed, edits)| {
            let mut text = reserialise(&map, seed);
            for (at, kind, s) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                match kind {
                    0 => text.insert_str(i, s),
                    1 => {
                        if i < text.len() {
                            text.remove(i);
                        }
                    }
                    2 => text.truncate(i),
                    _ => {
                        // Duplicate the first pair (a duplicate key, perhaps spelled otherwise).
                        if let Some(end) = text.find(',') {
                            let pair = text[1..end].to_string();
                            text.insert_str(end, &format!(",{pair}"));
                        }
                    }
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The canonical encoding is exactly spec §4's, and `pairs` reads the context back.
    #[test]
    fn canonical_encoding_is_the_specs(map in context_map(6), seed in any::<u64>()) {
        let text = reserialise(&map, seed);
        let bytes = canonical(Some(&text)).expect("valid");
        prop_assert_eq!(&bytes, &reference_canonical(&map));
        let back: BTreeMap<String, String> = context::pairs(&bytes)
            .map(|(k, v)| (String::from_utf8(k.to_vec()).unwrap(), String::from_utf8(v.to_vec()).unwrap()))
            .collect();
        prop_assert_eq!(&back, &map);
        let parsed = EncryptionContext::parse(Some(&text)).expect("valid");
        prop_assert_eq!(parsed.canonical_bytes(), &bytes[..]);
        prop_assert_eq!(parsed.len(), map.len());
        prop_assert_eq!(parsed.is_empty(), map.is_empty());
        let pairs: Vec<(String, String)> =
            parsed.pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(pairs, map.into_iter().collect::<Vec<_>>());
    }

    /// Injective: distinct contexts never encode alike; equal contexts always do, however
    /// they are written.
    #[test]
    fn canonical_encoding_is_injective(
        a in tiny_map(),
        b in tiny_map(),
        seeds in any::<(u64, u64)>(),
    ) {
        let ea = canonical(Some(&reserialise(&a, seeds.0))).expect("valid");
        let eb = canonical(Some(&reserialise(&b, seeds.1))).expect("valid");
        prop_assert_eq!(a == b, ea == eb, "{:?} / {:?}", a, b);
        let pa = EncryptionContext::parse(Some(&plain_json(&a))).expect("valid");
        let pb = EncryptionContext::parse(Some(&plain_json(&b))).expect("valid");
        prop_assert_eq!(a == b, pa == pb);
    }

    /// The same over richer strings: distinct maps give distinct bytes.
    #[test]
    fn distinct_rich_contexts_encode_apart(a in context_map(4), b in context_map(4)) {
        let ea = canonical(Some(&plain_json(&a))).expect("valid");
        let eb = canonical(Some(&plain_json(&b))).expect("valid");
        prop_assert_eq!(a == b, ea == eb);
    }

    /// The parser accepts exactly what serde_json reads as an object of strings with
    /// non-empty, distinct keys, and agrees on the pairs.
    #[test]
    fn parser_agrees_with_serde_json(text in prop_oneof![
        4 => near_valid_text(),
        1 => any::<String>(),
        1 => "[ {}\"\\\\a-z:,\\[\\]0-9]{0,24}",
    ]) {
        let ours = EncryptionContext::parse(Some(&text));
        let reference = reference_parse(&text);
        match (&ours, &reference) {
            (Ok(parsed), Some(map)) => {
                prop_assert_eq!(parsed.canonical_bytes(), &reference_canonical(map)[..], "{:?}", text);
            }
            (Err(InvalidContext), None) => {}
            _ => prop_assert!(false, "kms-core {:?}, serde_json {:?}, for {:?}", ours.is_ok(), reference, text),
        }
        // canonical_len and write_canonical agree with parse.
        match context::canonical_len(Some(&text)) {
            Ok(len) => {
                let mut out = vec![0u8; len];
                let written = context::write_canonical(Some(&text), &mut out);
                prop_assert_eq!(written.is_ok(), ours.is_ok());
                if let Ok(n) = written {
                    prop_assert_eq!(n, len);
                }
            }
            Err(_) => prop_assert!(ours.is_err()),
        }
    }

    /// A too-short output buffer is an error, never a panic or a partial success.
    #[test]
    fn short_buffers_are_refused(map in context_map(4), seed in any::<u64>(), cut in any::<prop::sample::Index>()) {
        let text = reserialise(&map, seed);
        let len = context::canonical_len(Some(&text)).expect("valid");
        let short = cut.index(len);
        let mut out = vec![0u8; short];
        prop_assert_eq!(context::write_canonical(Some(&text), &mut out), Err(InvalidContext));
        let mut roomy = vec![0u8; len + 7];
        prop_assert_eq!(context::write_canonical(Some(&text), &mut roomy), Ok(len));
    }
}

#[test]
fn absent_empty_and_braces_are_one_context() {
    let empty = canonical(None).expect("absent");
    assert_eq!(empty, context::EMPTY_CANONICAL);
    for text in ["", "{}", " {\n} ", "\t{ }\r\n"] {
        assert_eq!(canonical(Some(text)).expect(text), empty, "{text:?}");
    }
    for text in [" ", "{", "}", "[]", "null", "{\"\":\"a\"}", "{\"a\":1}"] {
        assert_eq!(canonical(Some(text)), Err(InvalidContext), "{text:?}");
    }
}

#[test]
fn length_limit_is_8192_characters() {
    // `{"k":""}` is 8 characters; multi-byte characters count once.
    let body = "é".repeat(MAX_CONTEXT_CHARS - 8);
    let at_limit = format!("{{\"k\":\"{body}\"}}");
    assert_eq!(at_limit.chars().count(), MAX_CONTEXT_CHARS);
    assert!(at_limit.len() > MAX_CONTEXT_CHARS);
    assert!(EncryptionContext::parse(Some(&at_limit)).is_ok());
    let over = format!("{{\"k\":\"{body}é\"}}");
    assert_eq!(over.chars().count(), MAX_CONTEXT_CHARS + 1);
    assert_eq!(EncryptionContext::parse(Some(&over)), Err(InvalidContext));
}
