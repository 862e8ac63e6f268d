//! Property tests: the data-key round trip and context binding (spec §3, §4, §5), the blob
//! codec and single-bit flips, the canonical context encoding (exactly §4's, injective,
//! independent of how the JSON is written, in agreement with serde_json), parsers and
//! operations that never panic and answer only §8's errors, and the two layers (`ops` and
//! `wire`) agreeing on the blob they make from the same RNG bytes.
//!
//! The expected values come from references written in [`crate::strategies`] and
//! [`crate::testkit`] (serde_json, base64ct, spec §2's and §4's rules written out), never from
//! the code under test.

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding};
use kms_core::blob::{self, Blob, BlobBuf, BlobMut, Iv, Tag};
use kms_core::context::{Context, ContextBuf, InvalidContext, canonical_len_bound};
use kms_core::ops::{
    self, DecryptRequest, EncryptRequest, GenerateDataKeyRequest, Outcome, Plaintext,
    ReEncryptRequest,
};
use kms_core::wire::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{
    DataKeyLength, Error, Internal, KeyOptions, KeyReference, KeyState, KeyVersionId,
    MasterKeySpec, Parameter, RequestId,
};
use proptest::prelude::*;

use crate::strategies::*;
use crate::testkit::*;

const BLOB_INVALID: Error = Error::InvalidParameter(Parameter::CiphertextBlob);

/// The seed of the world every round-trip case runs in (the cases' own RNGs vary).
const WORLD_SEED: u64 = 0x5eed;

// ---------------------------------------------------------------------------------------------
// Round trips and context binding

/// GenerateDataKey (wire) of `len` bytes under `context`, drawing from `rng(seed)`: the world,
/// the blob and the Plaintext.
fn gdk(len: usize, context: Option<&str>, seed: u64) -> (World, String, String) {
    let w = World::new(WORLD_SEED);
    let (key, n) = (w.key_text(), len.to_string());
    let mut params = GenerateDataKeyParams::new()
        .key_id(&key)
        .number_of_bytes(&n);
    if let Some(context) = context {
        params = params.encryption_context(context);
    }
    let r = wire::generate_data_key(&w.provider, &owner(), &params, &mut rng(seed))
        .expect("GenerateDataKey");
    let plaintext = r.plaintext.expose().to_string();
    (w, r.ciphertext_blob, plaintext)
}

/// Decrypt (wire) as the owner.
fn open(w: &mut World, blob: &str, context: Option<&str>) -> Result<String, Error> {
    w.open(blob, context)
        .map(|r| r.plaintext.expose().to_string())
}

/// The context text for a map: absent for the empty one sometimes, else JSON.
fn text_for(map: &BTreeMap<String, String>, absent: bool) -> Option<String> {
    match (map.is_empty(), absent) {
        (true, true) => None,
        _ => Some(plain_json(map)),
    }
}

/// One way to change a context into another.
#[derive(Clone, Debug)]
enum Change {
    Value(prop::sample::Index, String),
    Key(prop::sample::Index, String),
    Add(String, String),
    Remove(prop::sample::Index),
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        (any::<prop::sample::Index>(), json_string(0, 4)).prop_map(|(i, s)| Change::Value(i, s)),
        (any::<prop::sample::Index>(), json_string(1, 4)).prop_map(|(i, s)| Change::Key(i, s)),
        (json_string(1, 6), json_string(0, 6)).prop_map(|(k, v)| Change::Add(k, v)),
        any::<prop::sample::Index>().prop_map(Change::Remove),
    ]
}

/// Applies a change; `None` when it would leave the context as it was.
fn apply(map: &BTreeMap<String, String>, change: &Change) -> Option<BTreeMap<String, String>> {
    let mut out = map.clone();
    let keys: Vec<String> = map.keys().cloned().collect();
    match change {
        Change::Value(i, s) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            let v = out.get_mut(k)?;
            v.push_str(s);
            if s.is_empty() {
                v.push('x');
            }
        }
        Change::Key(i, s) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            let v = out.remove(k)?;
            out.insert(format!("{k}{s}"), v);
        }
        Change::Add(k, v) => {
            if out.contains_key(k) {
                return None;
            }
            out.insert(k.clone(), v.clone());
        }
        Change::Remove(i) => {
            let k = keys.get(i.index(keys.len().max(1)))?;
            out.remove(k);
        }
    }
    (out != *map).then_some(out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// GenerateDataKey then Decrypt returns the data key, for every length 1..=1024 and any
    /// context; the blob is 36 + 12 + the Base64 text + 16 bytes.
    #[test]
    fn decrypt_returns_the_generated_key(
        len in 1usize..=1024,
        map in context_map(4),
        absent in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let context = text_for(&map, absent);
        let (mut w, blob, plaintext) = gdk(len, context.as_deref(), seed);
        let raw = Base64::decode_vec(&plaintext).expect("Plaintext is Base64");
        prop_assert_eq!(raw.len(), len);
        prop_assert_eq!(plaintext.len(), len.div_ceil(3) * 4);
        let bytes = Base64::decode_vec(&blob).expect("blob is Base64");
        prop_assert_eq!(bytes.len(), 36 + 12 + plaintext.len() + 16);
        prop_assert_eq!(open(&mut w, &blob, context.as_deref()), Ok(plaintext));
    }

    /// Encrypt then Decrypt returns the Plaintext string exactly, for any text of 1..=6144
    /// bytes.
    #[test]
    fn decrypt_returns_the_encrypted_text(
        text in prop_oneof![
            json_string(1, 64),
            ".{1,200}",
            (1usize..=6144).prop_map(|n| "é".repeat(n / 2) + &"a".repeat(n % 2)),
        ],
        map in context_map(3),
        seed in any::<u64>(),
    ) {
        prop_assume!(!text.is_empty() && text.len() <= 6144);
        let mut w = World::new(WORLD_SEED);
        let key = w.key_text();
        let context = plain_json(&map);
        let params = EncryptParams::new()
            .key_id(&key)
            .plaintext(&text)
            .encryption_context(&context);
        let r = wire::encrypt(&w.provider, &owner(), &params, &mut rng(seed)).expect("Encrypt");
        prop_assert_eq!(unb64(&r.ciphertext_blob).len(), 36 + 12 + text.len() + 16);
        prop_assert_eq!(open(&mut w, &r.ciphertext_blob, Some(&context)), Ok(text));
    }

    /// Any re-serialisation of the context (order, white space, escapes) opens the blob.
    #[test]
    fn any_text_of_the_same_context_opens(
        map in context_map(5),
        seeds in prop::collection::vec(any::<u64>(), 1..4),
        len in 1usize..=48,
    ) {
        let (mut w, blob, plaintext) = gdk(len, Some(&plain_json(&map)), 7);
        for seed in seeds {
            let text = reserialise(&map, seed);
            let parsed: BTreeMap<String, String> =
                serde_json::from_str(&text).expect("serde_json reads the re-serialised text");
            prop_assert_eq!(&parsed, &map, "the re-serialiser changed the context: {}", text);
            prop_assert_eq!(open(&mut w, &blob, Some(&text)), Ok(plaintext.clone()), "{}", text);
        }
    }

    /// Any change to the context (a value, a key, a pair added or removed) fails with
    /// InvalidParameter CiphertextBlob, whatever text spells the changed context.
    #[test]
    fn any_other_context_fails(
        map in context_map(4),
        change in change(),
        seed in any::<u64>(),
        len in 1usize..=48,
    ) {
        let other = apply(&map, &change);
        prop_assume!(other.is_some());
        let other = other.expect("assumed");
        let (mut w, blob, _) = gdk(len, Some(&reserialise(&map, seed)), seed);
        let text = reserialise(&other, seed.rotate_left(17));
        prop_assert_eq!(open(&mut w, &blob, Some(&text)), Err(BLOB_INVALID), "{}", text);
        if other.is_empty() {
            prop_assert_eq!(open(&mut w, &blob, None), Err(BLOB_INVALID));
            prop_assert_eq!(open(&mut w, &blob, Some("")), Err(BLOB_INVALID));
        }
    }
}

/// The same round trip for an AES-128 master key, in the caller-buffer forms: sealed with the
/// typed `generate_data_key_in` under a context built from pairs, opened with the wire's
/// `decrypt_in` under another spelling of it.
#[test]
fn aes128_master_key_round_trip_in_caller_buffers() {
    let mut w = World::new(0x128);
    let key = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let context = ContextBuf::from_pairs([("n", "x")]).expect("context");
    for (i, len) in [1usize, 2, 3, 15, 16, 17, 32, 100, 1023, 1024]
        .into_iter()
        .enumerate()
    {
        let request = GenerateDataKeyRequest::new(key)
            .with_length(DataKeyLength::new(len).expect("length"))
            .with_context(&context);
        let mut ws = vec![0u8; request.workspace_len()];
        let out =
            ops::generate_data_key_in(&w.provider, &owner(), &request, &mut rng(i as u64), &mut ws)
                .expect("GenerateDataKey")
                .done()
                .expect("not a dry run");
        assert_eq!(out.data_key.expose().len(), len);
        assert_eq!(out.data_key_base64.expose(), b64(out.data_key.expose()));
        let blob = out.ciphertext_blob.to_base64();
        let plaintext = out.data_key_base64.expose().to_string();
        drop(out);
        let params = DecryptParams::new()
            .ciphertext_blob(&blob)
            .encryption_context(r#" { "\u006e" : "x" } "#);
        let mut ws = vec![0u8; params.workspace_len()];
        let opened = wire::decrypt_in(&w.provider, &owner(), &params, &mut rng(0), &mut ws)
            .expect("Decrypt");
        assert_eq!(opened.plaintext.expose(), plaintext, "{len} bytes");
        assert_eq!(opened.key_id, key);
    }
}

// ---------------------------------------------------------------------------------------------
// The blob

/// A data-key blob of `len` bytes under `context`, as raw bytes.
fn sealed(len: usize, context: &str, seed: u64) -> (World, Vec<u8>) {
    let (w, blob, _) = gdk(len, Some(context), seed);
    (w, unb64(&blob))
}

/// What Decrypt must answer for a blob with one bit flipped: `Forbidden.KeyNotFound` when the
/// flip is in the 36-byte prefix and leaves lowercase UUID text (which names no version: the
/// world has one key of one version), else `InvalidParameter CiphertextBlob`.
fn expected_after_flip(flipped: &[u8], bit: usize) -> Error {
    if bit / 8 < 36 && is_lowercase_uuid_text(&flipped[..36]) {
        Error::KeyNotFound
    } else {
        BLOB_INVALID
    }
}

fn decrypt_bytes(w: &mut World, bytes: &[u8], context: &str) -> Result<(), Error> {
    w.open(&b64(bytes), Some(context)).map(drop)
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
        let (mut w, mut bytes) = sealed(len, &context, seed);
        prop_assert_eq!(decrypt_bytes(&mut w, &bytes, &context), Ok(()));
        // Half the cases aim at the prefix, where the interesting split is.
        let bits = if in_prefix { 36 * 8 } else { bytes.len() * 8 };
        let bit = bit.index(bits);
        bytes[bit / 8] ^= 1 << (bit % 8);
        let expected = expected_after_flip(&bytes, bit);
        prop_assert_eq!(decrypt_bytes(&mut w, &bytes, &context), Err(expected), "bit {}", bit);
    }

    /// decode(encode(b)) == b for every well-formed blob, through both decoders; `BlobMut` and
    /// `BlobBuf::from_parts` lay the parts out as spec §5 says, and they come back where they
    /// were put.
    #[test]
    fn blob_codec_round_trips(
        version in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        iv in any::<[u8; 12]>(),
        ciphertext in prop_oneof![
            prop::collection::vec(any::<u8>(), 1..=200),
            prop::collection::vec(any::<u8>(), 6000..=6144),
        ],
        tag in any::<[u8; 16]>(),
        slack in 0usize..8,
    ) {
        let version_id = KeyVersionId::parse(version.as_bytes()).expect("lowercase UUID");
        // Spec §5's layout, written here.
        let raw = [version.as_bytes(), &iv[..], &ciphertext[..], &tag[..]].concat();

        let owned = BlobBuf::from_parts(&version_id, &Iv(iv), &ciphertext, &Tag(tag))
            .expect("in range");
        prop_assert_eq!(owned.as_bytes(), &raw[..]);
        prop_assert_eq!(owned.version(), version_id);

        // BlobMut in a buffer with room to spare takes exactly what it needs.
        let mut out = vec![0xa5u8; raw.len() + slack];
        let mut writing = BlobMut::new(&mut out, &version_id, ciphertext.len()).expect("fits");
        prop_assert_eq!(writing.body().len(), ciphertext.len());
        writing.body().copy_from_slice(&ciphertext);
        let written = writing.finish(&Iv(iv), &Tag(tag));
        prop_assert_eq!(written.as_bytes(), &raw[..]);
        prop_assert!(out[raw.len()..].iter().all(|&b| b == 0xa5), "wrote past the blob");

        let text = owned.to_base64();
        prop_assert_eq!(&text, &Base64::encode_string(&raw));
        prop_assert_eq!(text.len(), raw.len().div_ceil(3) * 4);
        let decoded = BlobBuf::from_base64(&text).expect("decodes");
        prop_assert!(decoded == owned);
        let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
        let borrowed = Blob::decode_base64(&text, &mut buf).expect("decodes");
        prop_assert_eq!(borrowed.as_bytes(), &raw[..]);
        prop_assert_eq!(borrowed.version(), version_id);
        prop_assert_eq!(borrowed.iv(), Iv(iv));
        prop_assert_eq!(borrowed.ciphertext(), &ciphertext[..]);
        prop_assert_eq!(borrowed.tag(), Tag(tag));
        prop_assert_eq!(borrowed.sealed_len(), ciphertext.len());
        prop_assert_eq!(borrowed.base64_len(), text.len());
        let mut encoded = vec![0u8; text.len()];
        prop_assert_eq!(borrowed.encode_base64(&mut encoded), Ok(text.as_str()));
        let mut short = vec![0u8; text.len() - 1];
        prop_assert!(borrowed.encode_base64(&mut short).is_err());
        prop_assert!(Blob::from_bytes(&raw).expect("well-formed") == borrowed);
        prop_assert!(BlobBuf::from_bytes(&raw).expect("well-formed") == owned);
    }

    /// Blobs whose sealed part is empty or over 6144 bytes cannot be made or read.
    #[test]
    fn out_of_range_blobs_are_refused(extra in 1usize..=64, short in 0usize..=64) {
        let version = version("00000000-0000-4000-8000-000000000000");
        let (iv, tag) = (Iv([0; 12]), Tag([0; 16]));
        let long = vec![0u8; 6144 + extra];
        prop_assert!(BlobBuf::from_parts(&version, &iv, &long, &tag).is_err());
        prop_assert!(BlobBuf::from_parts(&version, &iv, &[], &tag).is_err());
        let mut room = vec![0u8; 8192];
        prop_assert!(BlobMut::new(&mut room, &version, 6144 + extra).is_err());
        prop_assert!(BlobMut::new(&mut room, &version, 0).is_err());
        // In range, but a buffer one byte short.
        let n = extra.min(6144);
        let mut tight = vec![0u8; 36 + 12 + n + 16 - 1];
        prop_assert!(BlobMut::new(&mut tight, &version, n).is_err());
        let mut raw = version.as_bytes().to_vec();
        raw.resize(36 + 12 + 6144 + 16 + extra, 0);
        prop_assert!(Blob::from_bytes(&raw).is_err());
        prop_assert!(BlobBuf::from_bytes(&raw).is_err());
        prop_assert!(BlobBuf::from_base64(&Base64::encode_string(&raw)).is_err());
        raw.truncate(short.min(36 + 12 + 16));
        prop_assert!(Blob::from_bytes(&raw).is_err());
        prop_assert!(BlobBuf::from_base64(&Base64::encode_string(&raw)).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// The context encoding

/// kms-core's canonical encoding of a context text, through both parsers (which must agree).
fn canonical(text: Option<&str>) -> Result<Vec<u8>, InvalidContext> {
    let owned = ContextBuf::parse_json(text).map(|c| c.canonical().to_vec());
    let mut buf = vec![0u8; canonical_len_bound(text)];
    let borrowed = Context::parse_json(text, &mut buf).map(|c| c.canonical().to_vec());
    assert_eq!(
        owned, borrowed,
        "ContextBuf and Context disagree on {text:?}"
    );
    owned
}

fn as_pairs(map: &BTreeMap<String, String>) -> Vec<(&str, &str)> {
    map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn to_map<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> BTreeMap<String, String> {
    pairs.map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Bytes that look like canonical encodings: pairs of UTF-8 strings or arbitrary bytes, in key
/// order or not, with the right pair count or another, with bytes after the last pair or a
/// length prefix spoilt; and plain noise.
fn canonical_like() -> impl Strategy<Value = Vec<u8>> {
    let text = prop_oneof![
        4 => json_string(0, 6).prop_map(String::into_bytes),
        1 => prop::collection::vec(any::<u8>(), 0..6),
    ];
    let structured = (
        prop::collection::vec((text.clone(), text), 0..5),
        0u8..4,
        prop::option::weighted(0.2, any::<u16>()),
        prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 1..4)),
        prop::option::weighted(0.2, (any::<prop::sample::Index>(), any::<u16>())),
    )
        .prop_map(|(mut pairs, order, count, trailing, spoil)| {
            match order {
                0 => {}
                1 => pairs.reverse(),
                _ => pairs.sort(),
            }
            let count = count.unwrap_or(pairs.len() as u16);
            let mut out = count.to_be_bytes().to_vec();
            let mut prefixes = Vec::new();
            for (k, v) in &pairs {
                for s in [k, v] {
                    prefixes.push(out.len());
                    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                    out.extend_from_slice(s);
                }
            }
            if let (Some((at, len)), false) = (spoil, prefixes.is_empty()) {
                let at = prefixes[at.index(prefixes.len())];
                out[at..at + 2].copy_from_slice(&len.to_be_bytes());
            }
            out.extend(trailing.unwrap_or_default());
            out
        });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..48),
        4 => structured,
    ]
}

/// What `Context::from_canonical` must accept, decoded here: the pair count, then that many
/// pairs of length-prefixed fields and nothing after, keys non-empty and strictly increasing
/// by bytes, keys and values UTF-8, and at most 8192 characters as JSON (serde_json's).
fn reference_from_canonical(bytes: &[u8]) -> Option<BTreeMap<String, String>> {
    let count = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
    let mut at = 2;
    let mut field = || -> Option<Vec<u8>> {
        let len = u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize;
        let out = bytes.get(at + 2..at + 2 + len)?.to_vec();
        at += 2 + len;
        Some(out)
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    for _ in 0..count {
        let (k, v) = (field()?, field()?);
        let (k, v) = (String::from_utf8(k).ok()?, String::from_utf8(v).ok()?);
        if k.is_empty()
            || pairs
                .last()
                .is_some_and(|(p, _)| p.as_bytes() >= k.as_bytes())
        {
            return None;
        }
        pairs.push((k, v));
    }
    if at != bytes.len() {
        return None;
    }
    let map: BTreeMap<String, String> = pairs.into_iter().collect();
    (json_chars(&map) <= 8192).then_some(map)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The canonical encoding is exactly spec §4's, and the pairs read the context back.
    #[test]
    fn canonical_encoding_is_the_specs(map in context_map(6), seed in any::<u64>()) {
        let text = reserialise(&map, seed);
        let bytes = canonical(Some(&text)).expect("valid");
        prop_assert_eq!(&bytes, &reference_canonical(&map));
        let parsed = ContextBuf::parse_json(Some(&text)).expect("valid");
        prop_assert_eq!(to_map(parsed.pairs()), map.clone());
        let context = parsed.as_context();
        prop_assert_eq!(context.canonical(), &bytes[..]);
        prop_assert_eq!(context.len(), map.len());
        prop_assert_eq!(context.is_empty(), map.is_empty());
        let pairs: Vec<(String, String)> =
            context.pairs().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        prop_assert_eq!(pairs, map.into_iter().collect::<Vec<_>>());
        prop_assert!(canonical_len_bound(Some(&text)) >= bytes.len());
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
        let pa = ContextBuf::parse_json(Some(&plain_json(&a))).expect("valid");
        let pb = ContextBuf::parse_json(Some(&plain_json(&b))).expect("valid");
        prop_assert_eq!(a == b, pa == pb);
        prop_assert_eq!(a == b, pa.as_context() == pb.as_context());
    }

    /// The same over richer strings: distinct maps give distinct bytes.
    #[test]
    fn distinct_rich_contexts_encode_apart(a in context_map(4), b in context_map(4)) {
        let ea = canonical(Some(&plain_json(&a))).expect("valid");
        let eb = canonical(Some(&plain_json(&b))).expect("valid");
        prop_assert_eq!(a == b, ea == eb);
    }

    /// The parser accepts exactly what serde_json reads as an object of strings with
    /// non-empty, distinct keys (so no lone surrogate, no byte-order mark, no white space but
    /// JSON's four), and agrees on the pairs.
    #[test]
    fn parser_agrees_with_serde_json(text in prop_oneof![
        4 => near_valid_text(),
        1 => any::<String>(),
        1 => "[ {}\"\\\\a-z:,\\[\\]0-9]{0,24}",
    ]) {
        let ours = canonical(Some(&text));
        let reference = reference_parse(&text);
        match (&ours, &reference) {
            (Ok(bytes), Some(map)) => {
                prop_assert_eq!(bytes, &reference_canonical(map), "{:?}", text);
                prop_assert!(canonical_len_bound(Some(&text)) >= bytes.len());
            }
            (Err(InvalidContext), None) => {}
            _ => prop_assert!(false, "kms-core {:?}, serde_json {:?}, for {:?}", ours.is_ok(), reference, text),
        }
    }

    /// A too-short output buffer is an error, never a panic or a partial success.
    #[test]
    fn short_buffers_are_refused(
        map in context_map(4),
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let text = reserialise(&map, seed);
        let len = reference_canonical(&map).len();
        let mut out = vec![0u8; cut.index(len)];
        prop_assert_eq!(Context::parse_json(Some(&text), &mut out), Err(InvalidContext));
        let mut roomy = vec![0u8; canonical_len_bound(Some(&text)) + 7];
        let parsed = Context::parse_json(Some(&text), &mut roomy).map(|c| c.canonical().len());
        prop_assert_eq!(parsed, Ok(len));
    }

    /// `ContextBuf::from_pairs` (pairs in any order) and `ContextBuf::parse_json` of any text
    /// of the same pairs give equal contexts; `Context::encode_pairs` in a buffer of exactly
    /// `2 + Σ (4 + key + value)` bytes gives the same encoding, and a shorter buffer fails.
    #[test]
    fn pairs_and_json_give_the_same_context(
        map in context_map(6),
        seed in any::<u64>(),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut pairs = as_pairs(&map);
        let mut c = Choices::new(seed);
        for i in (1..pairs.len()).rev() {
            pairs.swap(i, c.below(i + 1));
        }
        let from_pairs = ContextBuf::from_pairs(pairs.iter().copied()).expect("valid pairs");
        let from_json = ContextBuf::parse_json(Some(&reserialise(&map, seed))).expect("valid");
        prop_assert_eq!(&from_pairs, &from_json);
        prop_assert_eq!(from_pairs.canonical(), &reference_canonical(&map)[..]);
        let exact: usize = 2 + pairs.iter().map(|(k, v)| 4 + k.len() + v.len()).sum::<usize>();
        let mut buf = vec![0u8; exact];
        let encoded = Context::encode_pairs(&pairs, &mut buf).map(|c| c.canonical().to_vec());
        prop_assert_eq!(encoded.as_deref(), Ok(from_json.canonical()));
        let mut short = vec![0u8; cut.index(exact)];
        prop_assert_eq!(Context::encode_pairs(&pairs, &mut short), Err(InvalidContext));
    }

    /// `Context::write_json` of any valid context writes serde_json's text of its pairs, which
    /// parses back to the same context; a buffer one byte short is refused.
    #[test]
    fn write_json_parses_back_to_the_same_context(map in context_map(6)) {
        let context = ContextBuf::from_pairs(as_pairs(&map)).expect("valid pairs");
        let view = context.as_context();
        let expected = plain_json(&map);
        prop_assert_eq!(view.json_len(), expected.len());
        let mut out = vec![0u8; expected.len()];
        let written = view.write_json(&mut out).expect("room enough").to_string();
        prop_assert_eq!(&written, &expected);
        prop_assert_eq!(context.to_json(), expected.clone());
        let back = ContextBuf::parse_json(Some(&written)).expect("write_json's text parses");
        prop_assert_eq!(&back, &context);
        let mut short = vec![0u8; expected.len() - 1];
        prop_assert_eq!(view.write_json(&mut short), Err(InvalidContext));
    }

    /// `Context::from_canonical` never panics on any bytes, and accepts exactly the encodings
    /// the parser produces: whatever it accepts is the canonical encoding of its pairs, and
    /// parsing the JSON text of it gives the same bytes back.
    #[test]
    fn from_canonical_accepts_exactly_canonical_encodings(bytes in canonical_like()) {
        let ours = Context::from_canonical(&bytes);
        let reference = reference_from_canonical(&bytes);
        match (&ours, &reference) {
            (Ok(context), Some(map)) => {
                prop_assert_eq!(context.canonical(), &bytes[..]);
                prop_assert_eq!(&to_map(context.pairs()), map);
                prop_assert_eq!(&reference_canonical(map), &bytes);
                let json = plain_json(map);
                prop_assert_eq!(canonical(Some(&json)), Ok(bytes.clone()));
            }
            (Err(InvalidContext), None) => {}
            _ => prop_assert!(false, "kms-core {:?}, reference {:?}, for {:?}", ours, reference, bytes),
        }
    }

    /// Every valid context's canonical encoding, written here, is accepted as it is.
    #[test]
    fn from_canonical_accepts_every_valid_context(map in context_map(6)) {
        let bytes = reference_canonical(&map);
        let context = Context::from_canonical(&bytes).expect("canonical");
        prop_assert_eq!(to_map(context.pairs()), map);
    }
}

// ---------------------------------------------------------------------------------------------
// Parsers and operations never panic

/// A fixed world: an enabled key with an alias, a disabled key, a key of another account, and
/// real blobs, all from fixed seeds so that every case sees the same IDs.
struct Fixture {
    world: World,
    names: Vec<String>,
    /// Blob, context it was sealed with, Plaintext.
    blobs: Vec<(String, Option<String>, String)>,
}

fn fixture() -> Fixture {
    let mut world = World::new(42);
    let key = world.key;
    let disabled = world.key_in_state(KeyState::Disabled);
    let foreign = world.create_in("999", REGION);
    let mut blobs = Vec::new();
    let key_text = key.to_string();
    for (context, n) in [(None, "32"), (Some(r#"{"a":"b"}"#), "1")] {
        let mut params = GenerateDataKeyParams::new()
            .key_id(&key_text)
            .number_of_bytes(n);
        if let Some(context) = context {
            params = params.encryption_context(context);
        }
        let g = world.gdk(&params).expect("GenerateDataKey");
        let plaintext = g.plaintext.expose().to_string();
        blobs.push((g.ciphertext_blob, context.map(String::from), plaintext));
    }
    world.rotate(&key);
    let names = vec![
        key_text,
        ALIAS.into(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, ALIAS),
        key_arn(OTHER_REGION, ACCOUNT, &key),
        disabled.to_string(),
        foreign.to_string(),
        key_arn(REGION, "999", &foreign),
        "alias/none".into(),
        "key-hzz630494463ejqjx1234".into(),
    ];
    Fixture {
        world,
        names,
        blobs,
    }
}

#[derive(Clone, Debug)]
struct Fields {
    key_id: Option<String>,
    key_spec: Option<String>,
    number_of_bytes: Option<String>,
    context: Option<String>,
    context2: Option<String>,
    plaintext: Option<String>,
    blob: Option<String>,
    dry_run: Option<String>,
    request_id: bool,
}

impl Fields {
    /// The value of a parameter; ReEncrypt's destination is `key_id` and its contexts are
    /// `context` (source) and `context2` (destination).
    fn get(&self, p: Parameter) -> Option<&str> {
        match p {
            Parameter::KeyId | Parameter::DestinationKeyId => self.key_id.as_deref(),
            Parameter::KeySpec => self.key_spec.as_deref(),
            Parameter::NumberOfBytes => self.number_of_bytes.as_deref(),
            Parameter::EncryptionContext | Parameter::SourceEncryptionContext => {
                self.context.as_deref()
            }
            Parameter::DestinationEncryptionContext => self.context2.as_deref(),
            Parameter::Plaintext => self.plaintext.as_deref(),
            Parameter::CiphertextBlob => self.blob.as_deref(),
            Parameter::DryRun => self.dry_run.as_deref(),
            _ => None,
        }
    }

    fn request_id(&self) -> Option<RequestId> {
        self.request_id
            .then(|| RequestId::parse(FIXED_REQUEST_ID).expect("UUID"))
    }
}

fn fields() -> impl Strategy<Value = Fields> {
    let f = fixture();
    let blobs: Vec<String> = f.blobs.iter().map(|b| b.0.clone()).collect();
    let contexts = vec![
        r#"{"a":"b"}"#.to_string(),
        r#"{ "a" : "\u0062" }"#.to_string(),
        "{}".to_string(),
        String::new(),
    ];
    (
        (
            field(f.names.clone()),
            field(vec!["AES_256".into(), "AES_128".into(), "aes_256".into()]),
            field(vec!["1".into(), "32".into(), "1024".into(), "0".into()]),
            field(contexts.clone()),
            field(contexts),
        ),
        (
            field(vec!["hello".into(), "x".repeat(6144), "x".repeat(6145)]),
            field(blobs),
            prop_oneof![
                6 => Just(None),
                1 => field(vec!["true".into(), "false".into()]),
            ],
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                (key_id, key_spec, number_of_bytes, context, context2),
                (plaintext, blob, dry_run, request_id),
            )| Fields {
                key_id,
                key_spec,
                number_of_bytes,
                context,
                context2,
                plaintext,
                blob,
                dry_run,
                request_id,
            },
        )
}

/// The errors spec §8 lets the five operations give, with no rate limiter and a provider that
/// never fails; and dry runs report as §7 says.
fn assert_spec_error(e: &Error, f: &Fields) -> Result<(), TestCaseError> {
    prop_assert!(
        matches!(
            e,
            Error::MissingParameter(_)
                | Error::InvalidParameter(_)
                | Error::UnsupportedOperation
                | Error::ValidationError(_)
                | Error::NoPermission
                | Error::AccessDenied
                | Error::AliasNotFound
                | Error::KeyNotFound
                | Error::Disabled
                | Error::PendingDeletion
                | Error::PendingImport
                | Error::Unavailable
                | Error::DryRunOperation
        ),
        "unexpected error {:?} for {:?}",
        e,
        f
    );
    match f.dry_run.as_deref() {
        None | Some("false") => prop_assert!(
            !matches!(
                e,
                Error::ValidationError(_) | Error::AccessDenied | Error::DryRunOperation
            ),
            "a dry-run error outside a dry run: {:?}",
            e
        ),
        Some("true") => prop_assert!(
            !matches!(e, Error::MissingParameter(_) | Error::NoPermission)
                && !matches!(e, Error::InvalidParameter(p) if *p != Parameter::DryRun),
            "a real-run error in a dry run: {:?}",
            e
        ),
        Some(_) => prop_assert_eq!(*e, Error::InvalidParameter(Parameter::DryRun)),
    }
    Ok(())
}

fn check<T>(result: &Result<T, Error>, f: &Fields) -> Result<(), TestCaseError> {
    match result {
        Ok(_) => {
            prop_assert!(
                matches!(f.dry_run.as_deref(), None | Some("false")),
                "a dry run succeeded: {:?}",
                f
            );
            Ok(())
        }
        Err(e) => assert_spec_error(e, f),
    }
}

/// A workspace of `needed` bytes, or of a random shorter length.
fn workspace(needed: usize, cut: Option<prop::sample::Index>) -> Vec<u8> {
    vec![0u8; cut.map_or(needed, |c| c.index(needed.max(1)))]
}

/// A `*_in` result against a possibly cut workspace: the same outcome as the owned form, or a
/// too-small workspace (or, for checks that come before the workspace check, their error).
fn check_in<T, U>(
    full: &Result<T, Error>,
    cut: &Result<U, Error>,
    f: &Fields,
) -> Result<(), TestCaseError> {
    match cut {
        Err(Error::InternalFailure(Internal::WorkspaceTooSmall(_))) => Ok(()),
        Ok(_) => {
            prop_assert!(
                full.is_ok(),
                "a cut workspace succeeded where a full one failed"
            );
            Ok(())
        }
        Err(e) => {
            prop_assert_eq!(full.as_ref().err(), Some(e), "{:?}", f);
            Ok(())
        }
    }
}

const FIXED_REQUEST_ID: &[u8; 36] = b"7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

/// The data-key length spec §3 gives, worked out here: `NumberOfBytes` (ASCII digits, leading
/// zeros allowed, 1..=1024) wins; else `KeySpec` `AES_256` or absent is 32, `AES_128` 16.
fn reference_length(key_spec: Option<&str>, number: Option<&str>) -> Result<usize, Error> {
    match (number, key_spec) {
        (Some(n), _) => {
            let digits = !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit());
            let trimmed = n.trim_start_matches('0');
            match trimmed.parse::<usize>() {
                Ok(v) if digits && trimmed.len() <= 4 && (1..=1024).contains(&v) => Ok(v),
                _ => Err(Error::InvalidParameter(Parameter::NumberOfBytes)),
            }
        }
        (None, None | Some("AES_256")) => Ok(32),
        (None, Some("AES_128")) => Ok(16),
        (None, Some(_)) => Err(Error::InvalidParameter(Parameter::KeySpec)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Blob decoding: never panics; accepts exactly canonical padded Base64 of 65..=6208 bytes
    /// starting with lowercase UUID text.
    #[test]
    fn blob_decoders_never_panic(
        text in prop_oneof![
            noise(),
            prop::sample::select(fixture().blobs.iter().map(|b| b.0.clone()).collect::<Vec<_>>())
                .prop_flat_map(edited),
        ],
        cut in any::<prop::sample::Index>(),
    ) {
        let owned = BlobBuf::from_base64(&text);
        let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
        let borrowed = Blob::decode_base64(&text, &mut buf).map(|b| b.as_bytes().to_vec());
        prop_assert_eq!(owned.as_ref().map(|b| b.as_bytes().to_vec()).ok(), borrowed.clone().ok());
        let reference = Base64::decode_vec(&text).ok().filter(|b| {
            (65..=6208).contains(&b.len()) && is_lowercase_uuid_text(&b[..36])
        });
        prop_assert_eq!(borrowed.ok(), reference, "{:?}", text);
        // A short buffer: an error or the same blob, never a panic.
        let mut short = vec![0u8; cut.index(buf.len().max(1))];
        if let Ok(b) = Blob::decode_base64(&text, &mut short) {
            prop_assert_eq!(Some(b.as_bytes()), owned.as_ref().ok().map(|o| o.as_bytes()));
        }
        let _ = Blob::from_bytes(text.as_bytes());
        let _ = BlobBuf::from_bytes(text.as_bytes());
    }

    /// Context parsing never panics, whatever the text and the output buffer.
    #[test]
    fn context_parsers_never_panic(text in noise(), cut in any::<prop::sample::Index>()) {
        let parsed = ContextBuf::parse_json(Some(&text));
        let mut out = vec![0u8; canonical_len_bound(Some(&text))];
        let full = Context::parse_json(Some(&text), &mut out).map(|c| c.canonical().to_vec());
        prop_assert_eq!(full.as_deref().ok(), parsed.as_ref().ok().map(|c| c.canonical()));
        let mut short = vec![0u8; cut.index(out.len().max(1))];
        let _ = Context::parse_json(Some(&text), &mut short);
        let _ = Context::from_canonical(text.as_bytes());
    }

    /// KeyReference::parse never panics, and classifies every text as spec §2 and the decided
    /// rules say; what it accepts displays as the text it came from.
    #[test]
    fn key_reference_parser_never_panics(
        text in prop_oneof![noise(), field(fixture().names).prop_map(Option::unwrap_or_default)],
    ) {
        let parsed = KeyReference::parse(&text, Parameter::KeyId);
        prop_assert_eq!(naming_of(parsed), reference_naming(&text), "{:?}", text);
        match parsed {
            Ok(r) => prop_assert_eq!(r.to_string(), text.clone()),
            Err(e) => prop_assert_eq!(e, Error::InvalidParameter(Parameter::KeyId)),
        }
        let destination = KeyReference::parse(&text, Parameter::DestinationKeyId);
        match destination {
            Ok(r) => prop_assert_eq!(Ok(r), parsed),
            Err(e) => prop_assert_eq!(e, Error::InvalidParameter(Parameter::DestinationKeyId)),
        }
    }

    /// DataKeyLength::resolve never panics and follows spec §3 exactly.
    #[test]
    fn data_key_length_never_panics(
        key_spec in prop::option::of(noise()),
        number in prop::option::of(noise()),
    ) {
        let got = DataKeyLength::resolve(key_spec.as_deref(), number.as_deref());
        let expected = reference_length(key_spec.as_deref(), number.as_deref());
        prop_assert_eq!(got.map(DataKeyLength::bytes), expected);
    }

    /// parse_dry_run never panics: `true` and `false` only.
    #[test]
    fn dry_run_parser_never_panics(text in prop::option::of(noise())) {
        let expected = match text.as_deref() {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(_) => Err(Error::InvalidParameter(Parameter::DryRun)),
        };
        prop_assert_eq!(wire::parse_dry_run(text.as_deref()), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// All five wire operations, with arbitrary text in every request field, in both forms
    /// (owned and caller-buffer, the latter also with too-short workspaces): no panic, only
    /// spec §8 errors, dry runs never succeed, and what succeeds is right.
    #[test]
    fn operations_never_panic(
        f in fields(),
        seed in any::<u64>(),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let Fixture { world: w, blobs, .. } = fixture();
        let p = &w.provider;
        let c = owner();
        let get = |p: Parameter| f.get(p);
        let known = blobs.iter().find(|b| Some(&b.0) == f.blob.as_ref());

        // GenerateDataKey and GenerateDataKeyWithoutPlaintext.
        let mut params = GenerateDataKeyParams::from_fn(get);
        params.request_id = f.request_id();
        let gdk = wire::generate_data_key(p, &c, &params, &mut rng(seed));
        check(&gdk, &f)?;
        if let Ok(g) = &gdk {
            let len = reference_length(f.key_spec.as_deref(), f.number_of_bytes.as_deref());
            prop_assert_eq!(Ok(unb64(g.plaintext.expose()).len()), len);
            if f.request_id {
                let text = g.request_id.to_string();
                prop_assert_eq!(text.as_bytes(), FIXED_REQUEST_ID);
            }
            let mut back = DecryptParams::new().ciphertext_blob(&g.ciphertext_blob);
            back.encryption_context = f.context.as_deref();
            let opened = wire::decrypt(p, &c, &back, &mut rng(seed)).expect("round trip");
            prop_assert_eq!(opened.plaintext.expose(), g.plaintext.expose());
        }
        let mut ws = workspace(params.workspace_len(), cut);
        let gdk_in = wire::generate_data_key_in(p, &c, &params, &mut rng(seed), &mut ws).map(drop);
        check_in(&gdk, &gdk_in, &f)?;
        let wp = wire::generate_data_key_without_plaintext(p, &c, &params, &mut rng(seed));
        check(&wp, &f)?;
        prop_assert_eq!(wp.as_ref().err(), gdk.as_ref().err());
        let mut ws = workspace(params.workspace_len(), cut);
        let wp_in = wire::generate_data_key_without_plaintext_in(p, &c, &params, &mut rng(seed), &mut ws)
            .map(drop);
        check_in(&wp, &wp_in, &f)?;

        // Encrypt.
        let mut params = EncryptParams::from_fn(get);
        params.request_id = f.request_id();
        let enc = wire::encrypt(p, &c, &params, &mut rng(seed));
        check(&enc, &f)?;
        if let Ok(e) = &enc {
            let mut back = DecryptParams::new().ciphertext_blob(&e.ciphertext_blob);
            back.encryption_context = f.context.as_deref();
            let opened = wire::decrypt(p, &c, &back, &mut rng(seed)).expect("round trip");
            prop_assert_eq!(Some(opened.plaintext.expose()), f.plaintext.as_deref());
        }
        let mut ws = workspace(params.workspace_len(), cut);
        let enc_in = wire::encrypt_in(p, &c, &params, &mut rng(seed), &mut ws).map(drop);
        check_in(&enc, &enc_in, &f)?;

        // Decrypt.
        let mut params = DecryptParams::from_fn(get);
        params.request_id = f.request_id();
        let dec = wire::decrypt(p, &c, &params, &mut rng(seed));
        check(&dec, &f)?;
        if let Ok(d) = &dec {
            prop_assert_eq!(known.map(|b| b.2.as_str()), Some(d.plaintext.expose()));
        }
        let mut ws = workspace(params.workspace_len(), cut);
        let dec_in = wire::decrypt_in(p, &c, &params, &mut rng(seed), &mut ws).map(drop);
        check_in(&dec, &dec_in, &f)?;

        // ReEncrypt: the blob and the first context as the source, the key and the second
        // context as the destination.
        let mut params = ReEncryptParams::from_fn(get);
        params.request_id = f.request_id();
        let re = wire::re_encrypt(p, &c, &params, &mut rng(seed));
        check(&re, &f)?;
        if let Ok(r) = &re {
            let mut back = DecryptParams::new().ciphertext_blob(&r.ciphertext_blob);
            back.encryption_context = f.context2.as_deref();
            let opened = wire::decrypt(p, &c, &back, &mut rng(seed)).expect("round trip");
            prop_assert_eq!(known.map(|b| b.2.as_str()), Some(opened.plaintext.expose()));
        }
        let mut ws = workspace(params.workspace_len(), cut);
        let re_in = wire::re_encrypt_in(p, &c, &params, &mut rng(seed), &mut ws).map(drop);
        check_in(&re, &re_in, &f)?;
    }
}

// ---------------------------------------------------------------------------------------------
// The typed and the wire layers agree

/// A world with a second key, a disabled key, and a blob under the first key sealed with
/// `context`; the names of the operations' keys: every form of the first key's name, the
/// second key, and names that fail (disabled, unknown key, unknown alias).
fn layers_world(context: &str) -> (World, Vec<String>, String) {
    let mut w = World::new(77);
    let key = w.key;
    let second = w.create_in(ACCOUNT, REGION);
    let disabled = w.key_in_state(KeyState::Disabled);
    let blob = w
        .gdk(
            &GenerateDataKeyParams::new()
                .key_id(key.as_str())
                .encryption_context(context),
        )
        .expect("GenerateDataKey")
        .ciphertext_blob;
    let names = vec![
        key.to_string(),
        ALIAS.into(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, ALIAS),
        second.to_string(),
        disabled.to_string(),
        UNKNOWN_KEY_ID.into(),
        "alias/none".into(),
    ];
    (w, names, blob)
}

/// What an operation that ran gave, as text, to compare across layers and forms: key ID,
/// key version ID, then the blob and the data key (GenerateDataKey), the blob (Encrypt,
/// WithoutPlaintext, ReEncrypt) or the Plaintext (Decrypt).
type View = Vec<String>;

fn view_generated(t: &ops::GeneratedDataKey<'_>) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![
        id,
        v,
        t.ciphertext_blob.to_base64(),
        b64(t.data_key.expose()),
    ]
}

fn view_generated_buf(t: &ops::GeneratedDataKeyBuf) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![
        id,
        v,
        t.ciphertext_blob.to_base64(),
        b64(t.data_key.expose()),
    ]
}

fn view_gdk_response(r: &wire::GenerateDataKeyResponse<'_>) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![id, v, r.ciphertext_blob.into(), r.plaintext.expose().into()]
}

fn view_gdk_response_buf(r: &wire::GenerateDataKeyResponseBuf) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![
        id,
        v,
        r.ciphertext_blob.clone(),
        r.plaintext.expose().into(),
    ]
}

fn view_sealed(t: &ops::Sealed<'_>) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![id, v, t.ciphertext_blob.to_base64()]
}

fn view_sealed_buf(t: &ops::SealedBuf) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![id, v, t.ciphertext_blob.to_base64()]
}

fn view_response(r: &wire::CiphertextResponse<'_>) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![id, v, r.ciphertext_blob.into()]
}

fn view_response_buf(r: &wire::CiphertextResponseBuf) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![id, v, r.ciphertext_blob.clone()]
}

fn view_opened(t: &ops::Opened<'_>) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![id, v, t.plaintext.expose().into()]
}

fn view_opened_buf(t: &ops::OpenedBuf) -> View {
    let (id, v) = (t.key_id.to_string(), t.key_version_id.to_string());
    vec![id, v, t.plaintext.expose().into()]
}

fn view_decrypted(r: &wire::DecryptResponse<'_>) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![id, v, r.plaintext.expose().into()]
}

fn view_decrypted_buf(r: &wire::DecryptResponseBuf) -> View {
    let (id, v) = (r.key_id.to_string(), r.key_version_id.to_string());
    vec![id, v, r.plaintext.expose().into()]
}

/// How the wire answered, next to how the typed layer did: the same [`View`] for an
/// operation that ran, `DryRunOperationError` for a passing dry run, the same error otherwise.
fn same_outcome<T, W: std::fmt::Debug>(
    what: &str,
    typed: Result<Outcome<T>, Error>,
    wire: Result<W, Error>,
    typed_view: impl Fn(&T) -> View,
    wire_view: impl Fn(&W) -> View,
) -> Result<(), TestCaseError> {
    match (typed, wire) {
        (Ok(Outcome::Done(t)), Ok(w)) => prop_assert_eq!(typed_view(&t), wire_view(&w), "{}", what),
        (Ok(Outcome::DryRun(_)), Err(e)) => prop_assert_eq!(e, Error::DryRunOperation, "{}", what),
        (Err(t), Err(w)) => prop_assert_eq!(t, w, "{}", what),
        (t, w) => prop_assert!(
            false,
            "{}: typed {:?}, wire {:?}",
            what,
            t.map(|o| matches!(o, Outcome::Done(_))),
            w
        ),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// From the same RNG bytes, the typed layer (a context made from pairs, a `KeyReference`,
    /// a `DataKeyLength`) and the wire layer (the JSON text of the context in any spelling,
    /// the name as text, `NumberOfBytes` or `KeySpec`) make the same blob, with the same key,
    /// version and data key, in the owned and the caller-buffer forms, for all five
    /// operations; and fail alike.
    #[test]
    fn the_typed_and_wire_layers_make_the_same_blob(
        name in any::<prop::sample::Index>(),
        number in prop::option::of(1usize..=1024),
        key_spec in prop::sample::select(vec![None, Some("AES_256"), Some("AES_128")]),
        map in context_map(4),
        destination_map in context_map(3),
        spelling in any::<u64>(),
        plaintext in json_string(1, 64),
        seed in any::<u64>(),
        dry_run in prop::bool::weighted(0.2),
        open_with_the_wrong_context in prop::bool::weighted(0.25),
    ) {
        let (w, names, source_blob) = layers_world(&plain_json(&map));
        let p = &w.provider;
        let c = owner();
        let name = &names[name.index(names.len())];
        let reference = KeyReference::parse(name, Parameter::KeyId).expect("valid name");
        let (text, destination_text) =
            (reserialise(&map, spelling), reserialise(&destination_map, !spelling));
        let context = ContextBuf::from_pairs(as_pairs(&map)).expect("context");
        let destination_context =
            ContextBuf::from_pairs(as_pairs(&destination_map)).expect("context");
        let dry = if dry_run { "true" } else { "false" };

        // GenerateDataKey and GenerateDataKeyWithoutPlaintext.
        let n = number.map(|n| n.to_string());
        let length = match (number, key_spec) {
            (Some(n), _) => n,
            (None, Some("AES_128")) => 16,
            (None, _) => 32,
        };
        let request = GenerateDataKeyRequest::new(reference)
            .with_length(DataKeyLength::new(length).expect("1..=1024"))
            .with_context(&context)
            .with_dry_run(dry_run);
        let mut params = GenerateDataKeyParams::new()
            .key_id(name)
            .encryption_context(&text)
            .dry_run(dry);
        params.number_of_bytes = n.as_deref();
        params.key_spec = key_spec;
        same_outcome(
            "GenerateDataKey",
            ops::generate_data_key(p, &c, &request, &mut rng(seed)),
            wire::generate_data_key(p, &c, &params, &mut rng(seed)),
            view_generated_buf,
            view_gdk_response_buf,
        )?;
        let (mut typed_ws, mut wire_ws) =
            (vec![0u8; request.workspace_len()], vec![0u8; params.workspace_len()]);
        same_outcome(
            "GenerateDataKey (caller buffers)",
            ops::generate_data_key_in(p, &c, &request, &mut rng(seed), &mut typed_ws),
            wire::generate_data_key_in(p, &c, &params, &mut rng(seed), &mut wire_ws),
            view_generated,
            view_gdk_response,
        )?;
        same_outcome(
            "GenerateDataKeyWithoutPlaintext",
            ops::generate_data_key_without_plaintext(p, &c, &request, &mut rng(seed)),
            wire::generate_data_key_without_plaintext(p, &c, &params, &mut rng(seed)),
            view_sealed_buf,
            view_response_buf,
        )?;
        let (mut typed_ws, mut wire_ws) =
            (vec![0u8; request.workspace_len()], vec![0u8; params.workspace_len()]);
        same_outcome(
            "GenerateDataKeyWithoutPlaintext (caller buffers)",
            ops::generate_data_key_without_plaintext_in(p, &c, &request, &mut rng(seed), &mut typed_ws),
            wire::generate_data_key_without_plaintext_in(p, &c, &params, &mut rng(seed), &mut wire_ws),
            view_sealed,
            view_response,
        )?;

        // Encrypt.
        let request = EncryptRequest::new(reference, Plaintext::new(&plaintext).expect("1..=6144"))
            .with_context(&context)
            .with_dry_run(dry_run);
        let params = EncryptParams::new()
            .key_id(name)
            .plaintext(&plaintext)
            .encryption_context(&text)
            .dry_run(dry);
        same_outcome(
            "Encrypt",
            ops::encrypt(p, &c, &request, &mut rng(seed)),
            wire::encrypt(p, &c, &params, &mut rng(seed)),
            view_sealed_buf,
            view_response_buf,
        )?;
        let (mut typed_ws, mut wire_ws) =
            (vec![0u8; request.workspace_len()], vec![0u8; params.workspace_len()]);
        same_outcome(
            "Encrypt (caller buffers)",
            ops::encrypt_in(p, &c, &request, &mut rng(seed), &mut typed_ws),
            wire::encrypt_in(p, &c, &params, &mut rng(seed), &mut wire_ws),
            view_sealed,
            view_response,
        )?;

        // Decrypt of the world's blob, under its context or (a failing case) another.
        let blob = BlobBuf::from_base64(&source_blob).expect("blob");
        let (open_context, open_text) = if open_with_the_wrong_context {
            (&destination_context, &destination_text)
        } else {
            (&context, &text)
        };
        let request = DecryptRequest::new(&blob)
            .with_context(open_context)
            .with_dry_run(dry_run);
        let params = DecryptParams::new()
            .ciphertext_blob(&source_blob)
            .encryption_context(open_text)
            .dry_run(dry);
        same_outcome(
            "Decrypt",
            ops::decrypt(p, &c, &request, &mut rng(seed)),
            wire::decrypt(p, &c, &params, &mut rng(seed)),
            view_opened_buf,
            view_decrypted_buf,
        )?;
        let (mut typed_ws, mut wire_ws) =
            (vec![0u8; request.workspace_len()], vec![0u8; params.workspace_len()]);
        same_outcome(
            "Decrypt (caller buffers)",
            ops::decrypt_in(p, &c, &request, &mut rng(seed), &mut typed_ws),
            wire::decrypt_in(p, &c, &params, &mut rng(seed), &mut wire_ws),
            view_opened,
            view_decrypted,
        )?;

        // ReEncrypt of the world's blob to the named key.
        let request = ReEncryptRequest::new(&blob, reference)
            .with_source_context(open_context)
            .with_destination_context(&destination_context)
            .with_dry_run(dry_run);
        let params = ReEncryptParams::new()
            .ciphertext_blob(&source_blob)
            .source_encryption_context(open_text)
            .destination_key_id(name)
            .destination_encryption_context(&destination_text)
            .dry_run(dry);
        same_outcome(
            "ReEncrypt",
            ops::re_encrypt(p, &c, &request, &mut rng(seed)),
            wire::re_encrypt(p, &c, &params, &mut rng(seed)),
            view_sealed_buf,
            view_response_buf,
        )?;
        let (mut typed_ws, mut wire_ws) =
            (vec![0u8; request.workspace_len()], vec![0u8; params.workspace_len()]);
        same_outcome(
            "ReEncrypt (caller buffers)",
            ops::re_encrypt_in(p, &c, &request, &mut rng(seed), &mut typed_ws),
            wire::re_encrypt_in(p, &c, &params, &mut rng(seed), &mut wire_ws),
            view_sealed,
            view_response,
        )?;
    }
}
