//! The strategies and independent references of the property tests ([`crate::properties`]):
//! JSON strings that stress a parser, contexts as maps, other spellings of the same context,
//! texts near a valid context, noise for the parsers, and spec §4's encoding and §2's naming
//! rules written out here, without the crate; and the few fixtures that the formats, secrets
//! and no-alloc modules share (a fixed-capacity provider of known material, byte searches).

use std::collections::BTreeMap;
use std::fmt;

use kms_core::rand_core::TryRng;
use kms_core::{FixedCapacityProvider, KeyId, MasterKeyMaterial};
use proptest::prelude::*;
use serde::Deserialize;

use crate::testkit::{ACCOUNT, REGION, rng, version};

// ---------------------------------------------------------------------------------------------
// JSON strings and contexts

/// Characters that stress a JSON string parser: plain ASCII, the characters that must be
/// escaped, controls, BMP characters (including ones next to the surrogate range, and
/// U+E000..U+FFFF, which UTF-16 orders after astral characters) and characters outside the BMP.
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

/// A string of `min..=max` [`json_char`]s.
pub fn json_string(min: usize, max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(json_char(), min..=max).prop_map(String::from_iter)
}

/// A valid context: up to `max_pairs` pairs, non-empty keys, values possibly empty.
pub fn context_map(max_pairs: usize) -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(json_string(1, 6), json_string(0, 8), 0..=max_pairs)
}

/// Strings from a tiny alphabet, so that distinct contexts often share bytes in ways an
/// ambiguous encoding would confuse (`{"a":"b=c"}` and `{"a=b":"c"}`, `k=v&` joins, ...).
pub fn tiny_string(min: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec!["a", "b", "=", "&", "\u{0}", "é"]),
        min..=3,
    )
    .prop_map(|v| v.concat())
}

/// A context over [`tiny_string`]s.
pub fn tiny_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(tiny_string(1), tiny_string(0), 0..=3)
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

/// JSON's own white space only (space, tab, LF, CR): the only white space spec §4 allows.
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

/// The plain JSON text of a context, by serde_json: pairs in key byte order, no white space,
/// only the escapes JSON requires (`\"`, `\\`, `\b \f \n \r \t`, `\u00xx` for the other
/// controls, lowercase hex).
pub fn plain_json(pairs: &BTreeMap<String, String>) -> String {
    serde_json::to_string(pairs).expect("serializable")
}

/// Spec §4's canonical encoding, written independently of kms-core.
pub fn reference_canonical(pairs: &BTreeMap<String, String>) -> Vec<u8> {
    // BTreeMap<String, _> iterates in byte order of the keys: UTF-8 order, as §4 requires.
    let mut out = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        for s in [k, v] {
            out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
    out
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

/// What spec §4 says a context text is, by way of serde_json (which reads only JSON's four
/// white space characters, refuses a byte-order mark and lone surrogates): `Some(pairs)` for a
/// valid context, `None` for an invalid one.
pub fn reference_parse(text: &str) -> Option<BTreeMap<String, String>> {
    if text.is_empty() {
        return Some(BTreeMap::new());
    }
    if text.chars().count() > 8192 {
        return None;
    }
    let PairList(pairs) = serde_json::from_str(text).ok()?;
    let n = pairs.len();
    let map: BTreeMap<String, String> = pairs.into_iter().collect();
    (map.len() == n && map.keys().all(|k| !k.is_empty())).then_some(map)
}

/// Near-valid context texts: a valid text with a few byte-level edits drawn from JSON's
/// alphabet (quotes, braces, backslashes, escapes, surrogates), and characters that are white
/// space outside JSON or a byte-order mark.
pub fn near_valid_text() -> impl Strategy<Value = String> {
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
            "\u{feff}",
            "\u{a0}",
            "\u{b}",
            "\u{c}",
            "\u{2028}",
            "\u{3000}",
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
                            let start = text.find('{').map_or(0, |b| b + 1).min(end);
                            let pair = text[start..end].to_string();
                            text.insert_str(end, &format!(",{pair}"));
                        }
                    }
                }
            }
            text
        })
}

/// The JSON text of a context (`write_json`'s length) in characters, by serde_json.
pub fn json_chars(pairs: &BTreeMap<String, String>) -> usize {
    plain_json(pairs).chars().count()
}

// ---------------------------------------------------------------------------------------------
// Noise for the parsers

/// Arbitrary text: any string, JSON-ish and Base64-ish noise, and edits of meaningful values.
pub fn noise() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9+/=]{0,160}",
        "[{}\":,\\\\ a-z0-9]{0,40}",
        "acs:[a-z0-9:/-]{0,60}",
        "alias/[A-Za-z0-9_/-]{0,8}",
        "[0-9]{0,6}",
        Just(String::new()),
        Just("true".to_string()),
        Just("false".to_string()),
        Just("AES_256".to_string()),
        Just("AES_128".to_string()),
        Just("1024".to_string()),
        Just("1025".to_string()),
        Just("0".to_string()),
        Just("a".repeat(2049)),
        Just("{}".to_string()),
        Just(r#"{"a":"b"}"#.to_string()),
    ]
}

/// A string edited at a few places: characters inserted, removed or replaced.
pub fn edited(base: String) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            any::<prop::sample::Index>(),
            0u8..3,
            prop::sample::select(vec!['A', '=', '/', '+', '\\', '"', 'é', '\0', ' ', '-']),
        ),
        1..4,
    )
    .prop_map(move |edits| {
        let mut s = base.clone();
        for (at, kind, c) in edits {
            let mut i = at.index(s.len() + 1);
            while !s.is_char_boundary(i) {
                i -= 1;
            }
            match kind {
                0 => s.insert(i, c),
                1 if i < s.len() => {
                    s.remove(i);
                }
                _ if i < s.len() => {
                    s.remove(i);
                    s.insert(i, c);
                }
                _ => s.push(c),
            }
        }
        s
    })
}

/// A field value: absent, a meaningful value, an edited one, or noise.
pub fn field(meaningful: Vec<String>) -> impl Strategy<Value = Option<String>> {
    let pick = prop::sample::select(meaningful);
    prop_oneof![
        3 => Just(None),
        12 => pick.clone().prop_map(Some),
        1 => pick.prop_flat_map(edited).prop_map(Some),
        1 => noise().prop_map(Some),
    ]
}

// ---------------------------------------------------------------------------------------------
// Spec §2 and §5's texts, classified here without the crate

/// Whether `s` is a UUID in lowercase text form (`8-4-4-4-12` lowercase hex digits).
pub fn is_lowercase_uuid_text(s: &[u8]) -> bool {
    s.len() == 36
        && s.iter().enumerate().all(|(i, &c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Whether `s` is a key ID: a lowercase UUID, or `key-` and 21 lowercase letters and digits.
pub fn is_key_id_text(s: &str) -> bool {
    is_lowercase_uuid_text(s.as_bytes())
        || (s.len() == 25
            && s.starts_with("key-")
            && s[4..]
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
}

/// Whether `s` is a well-formed alias: `alias/` and 1..=255 of `A-Za-z0-9_-/`.
pub fn is_alias_text(s: &str) -> bool {
    s.strip_prefix("alias/").is_some_and(|name| {
        (1..=255).contains(&name.len())
            && name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'/'))
    })
}

/// What a `KeyId` text is, by spec §2 and the rules kms-core documents as decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Naming {
    Id(String),
    Alias(String),
    KeyArn {
        region: String,
        account: String,
        key_id: String,
    },
    AliasArn {
        region: String,
        account: String,
        alias: String,
    },
    UnknownId(String),
    Invalid,
}

/// Classifies a `KeyId` text: empty, over 2048 bytes, non-ASCII, or `acs:` without a
/// well-formed key or alias ARN (region 1..=64 of `a-z0-9-`, account 1..=64 digits) is
/// invalid; `alias/...` is an alias (well-formed or not); a key ID is one; the rest names no
/// key.
pub fn reference_naming(text: &str) -> Naming {
    if text.is_empty() || text.len() > 2048 || !text.is_ascii() {
        return Naming::Invalid;
    }
    if let Some(rest) = text.strip_prefix("acs:") {
        let parts: Vec<&str> = rest.splitn(4, ':').collect();
        let [service, region, account, resource] = parts[..] else {
            return Naming::Invalid;
        };
        let region_ok = (1..=64).contains(&region.len())
            && region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
        let account_ok =
            (1..=64).contains(&account.len()) && account.bytes().all(|c| c.is_ascii_digit());
        if service != "kms" || !region_ok || !account_ok {
            return Naming::Invalid;
        }
        if let Some(id) = resource.strip_prefix("key/") {
            return if is_key_id_text(id) {
                Naming::KeyArn {
                    region: region.into(),
                    account: account.into(),
                    key_id: id.into(),
                }
            } else {
                Naming::Invalid
            };
        }
        return if is_alias_text(resource) {
            Naming::AliasArn {
                region: region.into(),
                account: account.into(),
                alias: resource.into(),
            }
        } else {
            Naming::Invalid
        };
    }
    if text.starts_with("alias/") {
        Naming::Alias(text.into())
    } else if is_key_id_text(text) {
        Naming::Id(text.into())
    } else {
        Naming::UnknownId(text.into())
    }
}

/// The crate's parse of a `KeyId` text, in the terms of [`Naming`].
pub fn naming_of(reference: Result<kms_core::KeyReference<'_>, kms_core::Error>) -> Naming {
    use kms_core::KeyReference;
    match reference {
        Ok(KeyReference::Id(id)) => Naming::Id(id.to_string()),
        Ok(KeyReference::Alias(a)) => Naming::Alias(a.into()),
        Ok(KeyReference::KeyArn {
            region,
            account,
            key_id,
        }) => Naming::KeyArn {
            region: region.into(),
            account: account.into(),
            key_id: key_id.to_string(),
        },
        Ok(KeyReference::AliasArn {
            region,
            account,
            alias,
        }) => Naming::AliasArn {
            region: region.into(),
            account: account.into(),
            alias: alias.into(),
        },
        Ok(KeyReference::UnknownId(t)) => Naming::UnknownId(t.into()),
        Err(_) => Naming::Invalid,
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The key of [`fixed_provider`], in its `key-` form.
pub const FIXED_KEY_ID: &str = "key-hzz630494463ejqjx1234";
/// The one version of [`FIXED_KEY_ID`].
pub const FIXED_VERSION: &str = "2ab1a983-7072-4bbc-a582-584b5bd8beef";

/// A fixed-capacity provider of `ACCOUNT` in `REGION` (no allocator of its own) holding key
/// [`FIXED_KEY_ID`] with one version [`FIXED_VERSION`] of `material` (16 or 32 bytes).
pub fn fixed_provider(material: &[u8]) -> FixedCapacityProvider<4, 3> {
    let mut provider = FixedCapacityProvider::new(ACCOUNT, REGION).expect("provider");
    provider
        .add_key(
            KeyId::parse(FIXED_KEY_ID).expect("key id"),
            version(FIXED_VERSION),
            MasterKeyMaterial::from_slice(material).expect("material"),
        )
        .expect("add key");
    provider
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The first `n` bytes `rng(seed)` hands out: what GenerateDataKey draws first, as the data
/// key.
pub fn first_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    rng(seed).try_fill_bytes(&mut out).expect("ChaCha20");
    out
}
