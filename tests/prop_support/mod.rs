//! Shared strategies and helpers of the property tests (`tests/prop_*.rs`).
#![allow(dead_code)] // each test crate uses its own part of this module

use std::collections::BTreeMap;

use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, InMemoryProvider, KeyId, KeyOptions, MasterKeySpec};
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;

pub const ACCOUNT: &str = "1234567890123456";
pub const REGION: &str = "cn-hangzhou";

pub fn caller() -> Caller<'static> {
    Caller::new(ACCOUNT, REGION)
}

/// A deterministic RNG for a test case; a test RNG, not a secret one.
pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// A provider with one enabled AES-256 key (aliased `alias/prop`), made from a fixed seed.
pub fn provider() -> (InMemoryProvider, KeyId) {
    let mut rng = rng(0x5eed);
    let mut p = InMemoryProvider::new();
    let key = p
        .create_key(&mut rng, &KeyOptions::new(ACCOUNT, REGION))
        .expect("create_key");
    p.create_alias("alias/prop", &key).expect("alias");
    (p, key)
}

/// A provider with one enabled AES-128 key.
pub fn provider_aes128() -> (InMemoryProvider, KeyId) {
    let mut rng = rng(0x128);
    let mut p = InMemoryProvider::new();
    let key = p
        .create_key(
            &mut rng,
            &KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128),
        )
        .expect("create_key");
    (p, key)
}

/// Characters that stress a JSON string parser: plain ASCII, the characters that must be
/// escaped, controls, BMP characters (including ones next to the surrogate range) and
/// characters outside the BMP.
pub fn json_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'e'),
        2 => prop::char::range(' ', '~'),
        1 => prop::sample::select(vec!['"', '\\', '/', '\u{0}', '\n', '\t', '\u{1f}', '\u{7f}']),
        1 => prop::sample::select(vec!['é', 'ß', '值', '\u{d7ff}', '\u{e000}', '\u{fffd}', '\u{ffff}']),
        1 => prop::sample::select(vec!['😀', '😁', '𝄞', '𐍈', '\u{10000}', '\u{10ffff}']),
        1 => any::<char>(),
    ]
}

pub fn json_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(json_char(), min..=max).prop_map(String::from_iter)
}

/// A valid context: up to `max_pairs` pairs, non-empty keys, values possibly empty.
pub fn context_map(max_pairs: usize) -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(json_string(1, 6), json_string(0, 8), 0..=max_pairs)
}

/// A tiny deterministic generator for formatting choices (splitmix64).
pub struct Choices(u64);

impl Choices {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn ws(c: &mut Choices) -> &'static str {
    ["", "", " ", "\n", "\t", "\r\n  ", "   "][c.below(7)]
}

/// Writes `s` as a JSON string literal, choosing among the valid spellings of each character:
/// raw where JSON allows it, a short escape, or `\u` escapes (upper- or lowercase hex; a
/// surrogate pair outside the BMP).
pub fn write_json_string(s: &str, c: &mut Choices, out: &mut String) {
    out.push('"');
    for ch in s.chars() {
        let must_escape = ch == '"' || ch == '\\' || (ch as u32) < 0x20;
        let mode = c.below(4);
        if !must_escape && mode < 2 {
            out.push(ch);
            continue;
        }
        let short = match ch {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '/' => Some("\\/"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        if let (Some(esc), true) = (short, mode != 3) {
            out.push_str(esc);
            continue;
        }
        let mut units = [0u16; 2];
        for u in ch.encode_utf16(&mut units) {
            if c.below(2) == 0 {
                out.push_str(&format!("\\u{u:04x}"));
            } else {
                out.push_str(&format!("\\u{u:04X}"));
            }
        }
    }
    out.push('"');
}

/// Another text of the same context: the pairs in a shuffled order, random white space, and
/// random choices of escapes.
pub fn reserialise(pairs: &BTreeMap<String, String>, seed: u64) -> String {
    let mut c = Choices::new(seed);
    let mut order: Vec<(&String, &String)> = pairs.iter().collect();
    for i in (1..order.len()).rev() {
        order.swap(i, c.below(i + 1));
    }
    let mut out = String::new();
    out.push_str(ws(&mut c));
    out.push('{');
    for (i, (k, v)) in order.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(ws(&mut c));
        write_json_string(k, &mut c, &mut out);
        out.push_str(ws(&mut c));
        out.push(':');
        out.push_str(ws(&mut c));
        write_json_string(v, &mut c, &mut out);
        out.push_str(ws(&mut c));
    }
    if pairs.is_empty() {
        out.push_str(ws(&mut c));
    }
    out.push('}');
    out.push_str(ws(&mut c));
    out
}

/// The plain JSON text of a context (serde_json), `None` for the empty one half the time.
pub fn plain_json(pairs: &BTreeMap<String, String>) -> String {
    serde_json::to_string(pairs).expect("serializable")
}

/// Spec §4's canonical encoding, written independently of kms-core.
pub fn reference_canonical(pairs: &BTreeMap<String, String>) -> Vec<u8> {
    // BTreeMap<String, _> iterates in byte order of the keys: UTF-8 order is code point order.
    let mut out = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
}

/// kms-core's canonical encoding of a context text.
pub fn canonical(text: Option<&str>) -> Result<Vec<u8>, kms_core::context::InvalidContext> {
    let len = kms_core::context::canonical_len(text)?;
    let mut out = vec![0u8; len];
    let n = kms_core::context::write_canonical(text, &mut out)?;
    assert_eq!(n, len, "write_canonical and canonical_len disagree");
    Ok(out)
}
