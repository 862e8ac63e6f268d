//! The formats the operations stand on, tested as codecs: the CiphertextBlob (spec §5: layout,
//! checked with an AES-GCM written outside the crate; strict decoding of every kind of bad
//! input; every single bit flipped; `BlobMut`), the EncryptionContext (spec §4: the parsing
//! rules, characters as received, what is invalid, UTF-8 key order, equivalence, the canonical
//! encoding byte for byte, `Context::from_canonical`, `encode_pairs`, `write_json`), and key
//! names (spec §2: `KeyReference::parse` for every form and every invalid text, key, version
//! and request IDs, ARNs).
//!
//! Expected bytes and texts are written here by hand, or made with the testkit's own AES-GCM
//! and encoding; resolution, permissions and key states run in `cross_cutting`.

use kms_core::blob::{self, Blob, BlobBuf, BlobMut, Iv, Tag};
use kms_core::context::{self, Context, ContextBuf, InvalidContext};
use kms_core::rand_core::{TryCryptoRng, TryRng};
use kms_core::reference::{AliasArn, KeyArn};
use kms_core::wire::{self, DecryptParams, GenerateDataKeyParams};
use kms_core::{
    Caller, Error, FixedCapacityProvider, KeyId, KeyReference, KeyVersionId, MasterKeyMaterial,
    Parameter, RequestId, is_lowercase_uuid,
};

use crate::strategies::{FIXED_KEY_ID, FIXED_VERSION, fixed_provider, is_lowercase_uuid_text};
use crate::testkit::*;

/// A well-formed version ID that names no version.
const UNKNOWN_VERSION: &str = "0f0f0f0f-1111-4222-8333-444444444444";

/// GenerateDataKey (wire) on a fixed-capacity provider: `NumberOfBytes` and context as given.
fn fixed_gdk(
    provider: &FixedCapacityProvider<4, 3>,
    number: Option<&str>,
    context: Option<&str>,
    seed: u64,
) -> wire::GenerateDataKeyResponseBuf {
    let mut params = GenerateDataKeyParams::new().key_id(FIXED_KEY_ID);
    params.number_of_bytes = number;
    params.encryption_context = context;
    wire::generate_data_key(provider, &owner(), &params, &mut rng(seed)).expect("GenerateDataKey")
}

/// Decrypt (wire) on any provider.
fn fixed_decrypt(
    provider: &FixedCapacityProvider<4, 3>,
    blob: &str,
    context: Option<&str>,
) -> Result<wire::DecryptResponseBuf, Error> {
    let mut params = DecryptParams::new().ciphertext_blob(blob);
    params.encryption_context = context;
    wire::decrypt(provider, &owner(), &params, &mut rng(0))
}

/// The associated data of the empty context under `version`, written out: the version ID and
/// a pair count of zero.
fn empty_aad(version: &str) -> Vec<u8> {
    [version.as_bytes(), &[0, 0]].concat()
}

// =============================================================================================
// The CiphertextBlob

#[test]
fn the_layout_constants_are_the_specs() {
    // 36 + 12 + 16 around 1..=6144 sealed bytes; Base64 of 6208 bytes is 8280 characters.
    assert_eq!(
        (blob::VERSION_ID_LEN, blob::IV_LEN, blob::TAG_LEN),
        (36, 12, 16)
    );
    assert_eq!(blob::OVERHEAD, 64);
    assert_eq!((blob::MIN_BLOB_LEN, blob::MAX_BLOB_LEN), (65, 6208));
    assert_eq!(blob::MAX_BLOB_BASE64_LEN, 8280);
    assert_eq!(
        (
            blob::base64_len(108),
            blob::base64_len(88),
            blob::base64_len(68)
        ),
        (144, 120, 92)
    );
    for text_len in [0, 1, 4, 92, 144, 8280] {
        let decoded = text_len / 4 * 3;
        assert!(blob::decoded_len_bound(text_len) >= decoded, "{text_len}");
    }
}

#[test]
fn a_32_byte_data_key_makes_a_108_byte_blob_that_seals_the_plaintext_text() {
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let response = fixed_gdk(&provider, None, None, 500);
    assert_eq!(response.ciphertext_blob.len(), 144);
    let raw = unb64(&response.ciphertext_blob);
    assert_eq!(raw.len(), 108);
    assert_eq!(&raw[..36], FIXED_VERSION.as_bytes());
    assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
    let sealed = open_blob(&material, &raw, &empty_aad(FIXED_VERSION)).expect("tag verifies");
    assert_eq!(sealed.len(), 44);
    assert_eq!(sealed, response.plaintext.expose().as_bytes());
    assert_eq!(unb64(std::str::from_utf8(&sealed).expect("text")).len(), 32);
    // The parts, as the codec reads them.
    let blob = BlobBuf::from_base64(&response.ciphertext_blob).expect("blob");
    let view = blob.as_blob();
    assert_eq!(view.version().as_str(), FIXED_VERSION);
    assert_eq!(view.iv(), Iv(raw[36..48].try_into().expect("12 bytes")));
    assert_eq!(view.ciphertext(), &raw[48..92]);
    assert_eq!(view.tag(), Tag(raw[92..].try_into().expect("16 bytes")));
    assert_eq!(view.sealed_len(), 44);
}

#[test]
fn blob_length_follows_the_data_key_length() {
    let material = known_material_128();
    let provider = fixed_provider(&material);
    for n in [1usize, 2, 3, 16, 31, 100, 1024] {
        let number = n.to_string();
        let response = fixed_gdk(&provider, Some(&number), None, 501 + n as u64);
        let text_len = n.div_ceil(3) * 4;
        let raw = unb64(&response.ciphertext_blob);
        assert_eq!(raw.len(), 36 + 12 + text_len + 16, "{n}");
        assert_eq!(response.ciphertext_blob.len(), raw.len().div_ceil(3) * 4);
        // AES-128 master material seals with AES-128-GCM.
        let sealed = open_blob(&material, &raw, &empty_aad(FIXED_VERSION)).expect("opens");
        assert_eq!(sealed, response.plaintext.expose().as_bytes());
    }
}

#[test]
fn decrypt_returns_exactly_the_sealed_text() {
    // Blobs made by hand open to their text, whatever its length in 1..=6144.
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let aad = empty_aad(FIXED_VERSION);
    for text in [
        "x".to_string(),
        "not base64 at all: ünïcödé ✓".to_string(),
        "y".repeat(6144),
    ] {
        let raw = seal_blob(&material, FIXED_VERSION, [3; 12], &aad, text.as_bytes());
        let opened = fixed_decrypt(&provider, &b64(&raw), None)
            .unwrap_or_else(|e| panic!("{} bytes: {e:?}", text.len()));
        assert_eq!(opened.plaintext.expose(), text);
    }
    // Sealed text that is not UTF-8 cannot come from this API: an invalid blob.
    let raw = seal_blob(&material, FIXED_VERSION, [4; 12], &aad, &[0xff, 0xfe, 0x80]);
    assert_row(
        fixed_decrypt(&provider, &b64(&raw), None),
        Row::invalid("CiphertextBlob"),
    );
    // 6145 bytes of sealed text is one byte over the longest blob.
    let raw = seal_blob(&material, FIXED_VERSION, [5; 12], &aad, &[b'z'; 6145]);
    assert_eq!(raw.len(), 6209);
    assert_row(
        fixed_decrypt(&provider, &b64(&raw), None),
        Row::invalid("CiphertextBlob"),
    );
    assert!(Blob::from_bytes(&raw).is_err());
}

#[test]
fn the_version_id_is_bound_as_associated_data() {
    // Two versions with the same material: only the prefix (and so the associated data)
    // differs, and moving a blob to the other version breaks its tag.
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let v2 = "9c0ffee0-0000-4000-8000-000000000002";
    let old = fixed_gdk(&provider, None, None, 503);
    let key = KeyId::parse(FIXED_KEY_ID).expect("key id");
    let same = MasterKeyMaterial::from_slice(&material).expect("material");
    provider
        .add_version(&key, version(v2), same)
        .expect("add version");
    assert_row(
        fixed_decrypt(&provider, &with_prefix(&old.ciphertext_blob, v2), None),
        Row::invalid("CiphertextBlob"),
    );
    let opened = fixed_decrypt(&provider, &old.ciphertext_blob, None).expect("Decrypt");
    assert_eq!(opened.key_version_id.as_str(), FIXED_VERSION);
    assert_eq!(opened.plaintext.expose(), old.plaintext.expose());
}

// ----- Bad input ------------------------------------------------------------------------------

/// Decrypt refuses `text` as `InvalidParameter CiphertextBlob`.
#[track_caller]
fn expect_invalid_blob(w: &mut World, text: &str) {
    assert_row(w.open(text, None), Row::invalid("CiphertextBlob"));
}

/// The codec itself refuses `text` (not canonical Base64 of a well-formed blob), and so does
/// Decrypt.
#[track_caller]
fn expect_malformed(w: &mut World, text: &str) {
    expect_invalid_blob(w, text);
    assert!(BlobBuf::from_base64(text).is_err(), "{text:?}");
    let mut buf = vec![0u8; blob::decoded_len_bound(text.len())];
    assert!(Blob::decode_base64(text, &mut buf).is_err(), "{text:?}");
}

#[test]
fn blob_length_limits() {
    let mut w = World::new(508);
    let real = w.primary(&w.key);
    expect_malformed(&mut w, "");
    // Built on an unknown but well-formed prefix: in range it is KeyNotFound, out of range the
    // length check comes first.
    let with = |prefix: &[u8], total: usize| {
        let mut raw = prefix.to_vec();
        raw.resize(total, 0x41);
        b64(&raw)
    };
    let unknown = UNKNOWN_VERSION.as_bytes();
    expect_malformed(&mut w, &with(unknown, 64));
    assert_row(w.open(&with(unknown, 65), None), Row::key_not_found());
    assert_row(w.open(&with(unknown, 6208), None), Row::key_not_found());
    expect_malformed(&mut w, &with(unknown, 6209));
    expect_malformed(&mut w, &with(unknown, 10_000));
    // The codec agrees on the range.
    for (total, ok) in [(64, false), (65, true), (6208, true), (6209, false)] {
        let raw = unb64(&with(unknown, total));
        assert_eq!(Blob::from_bytes(&raw).is_ok(), ok, "{total}");
        assert_eq!(BlobBuf::from_base64(&b64(&raw)).is_ok(), ok, "{total}");
    }
    // With the real version: short, long, and in-range garbage all fail alike.
    for total in [0, 36, 48, 64, 65, 108, 6208, 6209, 7000] {
        assert_row(
            w.open(&with(real.as_bytes(), total), None),
            Row::invalid("CiphertextBlob"),
        );
    }
    // Huge text: no panic, no huge allocation.
    expect_malformed(&mut w, &"A".repeat(1 << 20));
    expect_malformed(&mut w, &"=".repeat(200));
}

#[test]
fn non_base64_text() {
    let mut w = World::new(509);
    let good = w.blob(None);
    for c in ['!', '*', '.', '-', '_', '~', '\0', 'é'] {
        let mut bad = good.clone();
        bad.replace_range(10..11, &c.to_string());
        expect_malformed(&mut w, &bad);
    }
    expect_malformed(&mut w, &"!".repeat(144));
    // The URL-safe alphabet instead of the standard one.
    let mut found = false;
    for seed in 0..20 {
        let text = World::new(seed).blob(None);
        if text.contains(['+', '/']) {
            found = true;
            expect_malformed(&mut w, &text.replace('+', "-").replace('/', "_"));
        }
    }
    assert!(found);
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Sets low bits in the Base64 character at `at`, which must be zero in canonical text.
fn with_low_bits(text: &str, at: usize, bits: u8) -> String {
    let c = text.as_bytes()[at];
    let index = ALPHABET.iter().position(|&a| a == c).expect("Base64") as u8;
    assert_eq!(index & bits, 0, "not canonical to begin with");
    let mut out = text.as_bytes().to_vec();
    out[at] = ALPHABET[usize::from(index | bits)];
    String::from_utf8(out).expect("ASCII")
}

#[test]
fn non_canonical_base64() {
    let mut w = World::new(510);
    let key = w.key_text();
    let gdk = |w: &mut World, n: &str| {
        let params = GenerateDataKeyParams::new().key_id(&key).number_of_bytes(n);
        w.gdk(&params).expect("GenerateDataKey").ciphertext_blob
    };
    // 16 bytes: 24 characters sealed, an 88-byte blob, Base64 ending in `==`.
    let two = gdk(&mut w, "16");
    // 1 byte: 4 characters sealed, a 68-byte blob, Base64 ending in one `=`.
    let one = gdk(&mut w, "1");
    // 32 bytes: a 108-byte blob, no padding.
    let none = w.blob(None);
    assert!(two.ends_with("==") && !two.ends_with("==="));
    assert!(one.ends_with('=') && !one.ends_with("=="));
    assert!(!none.ends_with('='));
    for good in [&two, &one, &none] {
        w.open(good, None).expect("canonical text opens");
    }

    let bad = [
        // Non-zero bits where the padding leaves them unused.
        with_low_bits(&two, two.len() - 3, 0b1111),
        with_low_bits(&two, two.len() - 3, 0b0001),
        with_low_bits(&two, two.len() - 3, 0b1000),
        with_low_bits(&one, one.len() - 2, 0b11),
        with_low_bits(&one, one.len() - 2, 0b01),
        // Missing or partial padding.
        two.trim_end_matches('=').to_string(),
        two[..two.len() - 1].to_string(),
        one.trim_end_matches('=').to_string(),
        // Too much padding.
        format!("{two}="),
        format!("{one}="),
        format!("{none}="),
        format!("{none}===="),
        // Padding in the middle.
        format!("{}={}", &none[..40], &none[41..]),
        // White space anywhere.
        format!(" {none}"),
        format!("{none} "),
        format!("{none}\n"),
        format!("{none}\r\n"),
        format!("{}\n{}", &none[..76], &none[76..]),
        format!("{}\r\n{}", &none[..76], &none[76..]),
        format!("{}\t{}", &none[..20], &none[20..]),
        format!("{} {}", &none[..4], &none[4..]),
        // Truncated or extended by one character.
        none[..none.len() - 1].to_string(),
        format!("{none}A"),
    ];
    for text in &bad {
        expect_malformed(&mut w, text);
    }
    // Canonical Base64, but not of this blob: three bytes more, or every letter lowercased.
    for text in [format!("{none}AAAA"), none.to_lowercase()] {
        expect_invalid_blob(&mut w, &text);
    }
}

#[test]
fn bad_version_prefixes() {
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let good = fixed_gdk(&provider, None, None, 511).ciphertext_blob;
    let raw = unb64(&good);
    assert!(fixed_decrypt(&provider, &good, None).is_ok());
    let prefixes: Vec<Vec<u8>> = vec![
        // FIXED_VERSION has letters, so its uppercase form differs.
        FIXED_VERSION.to_uppercase().into_bytes(),
        // One uppercase hex digit.
        FIXED_VERSION.replacen('a', "A", 1).into_bytes(),
        // Hyphens moved.
        b"2ab1a98-37072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a9837072--4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983-7072-4bbca-582-584b5bd8beef".to_vec(),
        // A hyphen replaced by a digit, a digit by a hyphen.
        b"2ab1a98307072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983-7072-4bbc-a582-584b5bd8bee-".to_vec(),
        // Not hex.
        b"2ab1a983-7072-4bbc-a582-584b5bd8beeg".to_vec(),
        b"{ab1a983-7072-4bbc-a582-584b5bd8beef".to_vec(),
        b"2ab1a983 7072 4bbc a582 584b5bd8beef".to_vec(),
        [0u8; 36].to_vec(),
    ];
    for prefix in prefixes {
        assert_eq!(prefix.len(), 36);
        let mut bad = raw.clone();
        bad[..36].copy_from_slice(&prefix);
        assert!(Blob::from_bytes(&bad).is_err(), "{prefix:?}");
        assert_row(
            fixed_decrypt(&provider, &b64(&bad), None),
            Row::invalid("CiphertextBlob"),
        );
    }
    // A well-formed prefix naming no version.
    assert_row(
        fixed_decrypt(&provider, &with_prefix(&good, UNKNOWN_VERSION), None),
        Row::key_not_found(),
    );
}

/// Every one of the 864 bits of a 108-byte blob (a 32-byte data key), flipped in turn:
/// `InvalidParameter CiphertextBlob`, except a flip in the prefix that leaves another lowercase
/// UUID text, which names no version: `Forbidden.KeyNotFound`.
#[test]
fn every_single_bit_flip_is_refused() {
    let mut w = World::new(512);
    let context = Some(r#"{"purpose":"bit flips"}"#);
    let text = w.blob(context);
    let raw = unb64(&text);
    assert_eq!(raw.len(), 108);
    w.open(&text, context).expect("the untouched blob opens");

    let (mut not_found, mut invalid) = (0, 0);
    for bit in 0..raw.len() * 8 {
        let mut flipped = raw.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let err = expect_err(w.open(&b64(&flipped), context));
        if bit / 8 < 36 && is_lowercase_uuid_text(&flipped[..36]) {
            assert_eq!(Row::of(&err), Row::key_not_found(), "bit {bit}");
            not_found += 1;
        } else {
            assert_eq!(Row::of(&err), Row::invalid("CiphertextBlob"), "bit {bit}");
            invalid += 1;
        }
    }
    assert_eq!(not_found + invalid, 864);
    // Some prefix flips stay hex digits ('0'..'9' among themselves, 'a'..'f' among
    // themselves), so both outcomes occur; every flip past the prefix is a tag failure.
    assert!(not_found > 0 && not_found < 36 * 8, "{not_found}");
    assert!(invalid >= (108 - 36) * 8);
}

// ----- Writing a blob -------------------------------------------------------------------------

#[test]
fn blob_mut_writes_the_layout_in_a_buffer() {
    let v = version(FIXED_VERSION);
    let mut out = [0xa5u8; 100];
    let mut writing = BlobMut::new(&mut out, &v, 5).expect("fits");
    // The version is written at once; the body is where the text to seal goes.
    assert_eq!(writing.body().len(), 5);
    writing.body().copy_from_slice(b"hello");
    let blob = writing.finish(&Iv([1; 12]), &Tag([2; 16]));
    let expected = [FIXED_VERSION.as_bytes(), &[1; 12], b"hello", &[2; 16]].concat();
    assert_eq!(blob.as_bytes(), &expected[..]);
    assert_eq!(blob.version(), v);
    assert_eq!(blob.sealed_len(), 5);
    assert_eq!(out[..69], expected[..]);
    assert!(out[69..].iter().all(|&b| b == 0xa5), "wrote past the blob");

    // The sealed length must be in 1..=6144, and the buffer long enough.
    let mut room = vec![0u8; 7000];
    assert!(BlobMut::new(&mut room, &v, 0).is_err());
    assert!(BlobMut::new(&mut room, &v, 6145).is_err());
    assert!(BlobMut::new(&mut room, &v, 1).is_ok());
    assert!(BlobMut::new(&mut room, &v, 6144).is_ok());
    assert!(BlobMut::new(&mut room[..64], &v, 1).is_err());
    assert!(BlobMut::new(&mut room[..65], &v, 1).is_ok());
}

#[test]
fn blob_debug_shows_the_version_and_length_only() {
    let raw = [
        FIXED_VERSION.as_bytes(),
        &[7; 12],
        b"XYZW ciphertext",
        &[9; 16],
    ]
    .concat();
    let blob = BlobBuf::from_bytes(&raw).expect("blob");
    let debug = format!("{blob:?}");
    assert!(
        debug.contains(FIXED_VERSION) && debug.contains("15"),
        "{debug}"
    );
    for bytes in ["XYZW", "7, 7", "9, 9", "[88, 89"] {
        assert!(!debug.contains(bytes), "{debug}");
    }
    assert_eq!(format!("{:?}", blob.as_blob()), debug);
}

// =============================================================================================
// The EncryptionContext

/// The canonical encoding of a context text through both parsers (which must agree).
fn canonical(text: Option<&str>) -> Result<Vec<u8>, InvalidContext> {
    let owned = ContextBuf::parse_json(text).map(|c| c.canonical().to_vec());
    let mut buf = vec![0u8; context::canonical_len_bound(text)];
    let borrowed = Context::parse_json(text, &mut buf).map(|c| c.canonical().to_vec());
    assert_eq!(owned, borrowed, "{text:?}");
    owned
}

/// Seals a data key under `sealing` and opens it under `opening`, through the wire.
fn round_trip(w: &mut World, sealing: Option<&str>, opening: Option<&str>) -> Result<(), Error> {
    let key = w.key_text();
    let mut params = GenerateDataKeyParams::new().key_id(&key);
    params.encryption_context = sealing;
    let sealed = w.gdk(&params).expect("GenerateDataKey");
    let opened = w.open(&sealed.ciphertext_blob, opening)?;
    assert_eq!(opened.plaintext.expose(), sealed.plaintext.expose());
    assert_eq!(opened.key_version_id, sealed.key_version_id);
    Ok(())
}

// ----- Equivalence ----------------------------------------------------------------------------

#[test]
fn equivalent_texts_are_one_context() {
    let mut w = World::new(300);
    let groups: &[&[&str]] = &[
        &[
            r#"{"a":"1","b":"2"}"#,
            r#"{"b":"2","a":"1"}"#,
            r#"{ "a" : "1", "b":"2" }"#,
            "\n\t{\"a\":\"1\",\r\n\"b\":\"2\"}\n ",
            r#"{"a":"\u0031","b":"2"}"#,
            r#"{"\u0061":"1","b":"\u0032"}"#,
        ],
        &[
            "{\"k\":\"\u{1F600}\"}",
            r#"{"k":"\ud83d\ude00"}"#,
            r#"{"k":"\uD83D\uDE00"}"#,
        ],
        &[
            "{\"k\":\"caf\u{e9}\"}",
            r#"{"k":"caf\u00e9"}"#,
            r#"{"k":"caf\u00E9"}"#,
        ],
        &[r#"{"k":"a\"b\\c/d"}"#, r#"{"k":"a\u0022b\u005cc\/d"}"#],
        &[
            r#"{"k":"\n\t\r\b\f"}"#,
            r#"{"k":"\u000a\u0009\u000d\u0008\u000c"}"#,
        ],
        &[r#"{"empty":""}"#, r#"{ "empty" : "" }"#],
    ];
    for group in groups {
        for &sealing in group.iter() {
            for &opening in group.iter() {
                assert_eq!(canonical(Some(sealing)), canonical(Some(opening)));
                round_trip(&mut w, Some(sealing), Some(opening))
                    .unwrap_or_else(|e| panic!("{sealing} / {opening}: {e:?}"));
            }
        }
    }
}

#[test]
fn absent_empty_string_and_empty_object_are_one_context() {
    let mut w = World::new(301);
    let forms = [
        None,
        Some(""),
        Some("{}"),
        Some(" { } "),
        Some("{\n}"),
        Some("\t{ }\r\n"),
    ];
    for sealing in forms {
        assert_eq!(canonical(sealing), Ok(vec![0, 0]), "{sealing:?}");
        for opening in forms {
            round_trip(&mut w, sealing, opening)
                .unwrap_or_else(|e| panic!("{sealing:?} / {opening:?}: {e:?}"));
        }
    }
    assert_eq!(context::EMPTY_CANONICAL, [0, 0]);
    assert_eq!(Context::EMPTY.canonical(), &[0, 0]);
    assert_eq!(Context::default(), Context::EMPTY);
    assert_eq!(ContextBuf::empty().canonical(), &[0, 0]);
    assert_eq!(ContextBuf::default(), ContextBuf::empty());
    // White space alone, or anything but an object of strings, is not the empty context.
    for text in [" ", "{", "}", "[]", "null", "{\"\":\"a\"}", "{\"a\":1}"] {
        assert_eq!(canonical(Some(text)), Err(InvalidContext), "{text:?}");
    }
}

#[test]
fn many_pairs_in_any_order_are_one_context() {
    let mut w = World::new(302);
    let pairs: Vec<(String, String)> = (0..400)
        .map(|i| (format!("k{:03}", (i * 37) % 400), format!("v{i}")))
        .collect();
    let text = |order: &mut dyn Iterator<Item = &(String, String)>| {
        let body: Vec<String> = order.map(|(k, v)| format!("\"{k}\":\"{v}\"")).collect();
        format!("{{{}}}", body.join(","))
    };
    let forward = text(&mut pairs.iter());
    let backward = text(&mut pairs.iter().rev());
    let mut sorted = pairs.clone();
    sorted.sort();
    let sorted_text = text(&mut sorted.iter());
    round_trip(&mut w, Some(&forward), Some(&backward)).expect("same context");
    round_trip(&mut w, Some(&backward), Some(&sorted_text)).expect("same context");
    // The canonical encoding, written out here.
    let mut expected = 400u16.to_be_bytes().to_vec();
    for (k, v) in &sorted {
        for s in [k, v] {
            expected.extend_from_slice(&(s.len() as u16).to_be_bytes());
            expected.extend_from_slice(s.as_bytes());
        }
    }
    assert_eq!(canonical(Some(&forward)), Ok(expected.clone()));
    let from_pairs = ContextBuf::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(from_pairs.expect("pairs").canonical(), &expected[..]);
    // One value changed in the middle is another context.
    let changed = sorted_text.replacen("\"v200\"", "\"v2OO\"", 1);
    assert_ne!(changed, sorted_text);
    assert_row(
        round_trip(&mut w, Some(&forward), Some(&changed)),
        Row::invalid("CiphertextBlob"),
    );
}

#[test]
fn different_contexts_do_not_open() {
    let mut w = World::new(303);
    let cases: &[(Option<&str>, Option<&str>)] = &[
        (Some(r#"{"ab":"c"}"#), Some(r#"{"a":"bc"}"#)),
        (Some(r#"{"a":"bc"}"#), Some(r#"{"ab":"c"}"#)),
        (Some(r#"{"a":"1","b":"2"}"#), Some(r#"{"a":"1","b":"3"}"#)),
        (
            Some(r#"{"a":"1","b":"2"}"#),
            Some(r#"{"a":"1","b":"2","c":"3"}"#),
        ),
        (Some(r#"{"a":"1","b":"2"}"#), Some(r#"{"a":"1"}"#)),
        (Some(r#"{"a":"1","b":"2"}"#), Some(r#"{"A":"1","b":"2"}"#)),
        (Some(r#"{"a":"1","b":"2"}"#), Some(r#"{"a":"1 ","b":"2"}"#)),
        (Some(r#"{"a":"1","b":"2"}"#), Some(r#"{"1":"a","2":"b"}"#)),
        (Some(r#"{"a":"1","b":"2"}"#), None),
        (Some(r#"{"a":"1","b":"2"}"#), Some("{}")),
        // Ambiguous under `k=v&k=v` joining, distinct here.
        (Some(r#"{"a":"b&c=d"}"#), Some(r#"{"a":"b","c":"d"}"#)),
        // Ambiguous under concatenation.
        (Some(r#"{"a":"bc","d":"e"}"#), Some(r#"{"a":"b","cd":"e"}"#)),
        // No Unicode normalisation: precomposed and decomposed é differ.
        (Some("{\"k\":\"\u{e9}\"}"), Some(r#"{"k":"e\u0301"}"#)),
        (None, Some(r#"{"a":""}"#)),
        (Some(""), Some(r#"{"a":""}"#)),
        (Some(r#"{"a":""}"#), Some("{}")),
    ];
    for &(sealing, opening) in cases {
        assert_ne!(
            canonical(sealing),
            canonical(opening),
            "{sealing:?} / {opening:?}"
        );
        let result = round_trip(&mut w, sealing, opening);
        assert_row(result, Row::invalid("CiphertextBlob"));
    }
}

// ----- Invalid texts --------------------------------------------------------------------------

const INVALID: &[&str] = &[
    // Not an object.
    "[]",
    r#"["a","b"]"#,
    r#""x""#,
    "1",
    "null",
    "true",
    " ",
    "x",
    // Values that are not strings.
    r#"{"a":1}"#,
    r#"{"a":1.5}"#,
    r#"{"a":null}"#,
    r#"{"a":true}"#,
    r#"{"a":false}"#,
    r#"{"a":{"b":"c"}}"#,
    r#"{"a":{}}"#,
    r#"{"a":["b"]}"#,
    r#"{"a":[]}"#,
    // Duplicate keys, also after unescaping.
    r#"{"a":"1","a":"2"}"#,
    r#"{"a":"1","a":"1"}"#,
    r#"{"b":"1","a":"x","b":"1"}"#,
    r#"{"a":"1","\u0061":"2"}"#,
    r#"{"\u00e9":"1","é":"2"}"#,
    // Empty keys.
    r#"{"":"x"}"#,
    r#"{"":""}"#,
    r#"{"a":"1","":"2"}"#,
    // Not JSON.
    "{",
    "}",
    r#"{"a"}"#,
    r#"{"a":}"#,
    r#"{"a" "1"}"#,
    r#"{a:"1"}"#,
    "{'a':'1'}",
    r#"{"a":"1""#,
    r#"{"a":"1"}}"#,
    r#"{"a":"1"} {}"#,
    r#"{"a":"1"} x"#,
    "{}{}",
    r#"{"a":"1",}"#,
    r#"{,"a":"1"}"#,
    r#"{"a":"1",,"b":"2"}"#,
    r#"{"a":"1";"b":"2"}"#,
    // Bad escapes.
    r#"{"a":"\x41"}"#,
    r#"{"a":"\u00g1"}"#,
    r#"{"a":"\u12"}"#,
    r#"{"a":"\'"}"#,
    r#"{"a":"\"}"#,
    r#"{"a\":"1"}"#,
    r#"{"a":"\U0041"}"#,
    // Lone surrogates (spec §4: a `\u` escape that leaves a lone surrogate).
    r#"{"a":"\ud800"}"#,
    r#"{"a":"\udc00"}"#,
    r#"{"a":"\udfff"}"#,
    r#"{"a":"\ud800x"}"#,
    r#"{"a":"\ud800\u0041"}"#,
    r#"{"a":"\ud800\ud800"}"#,
    r#"{"a":"\ude00\ud83d"}"#,
    r#"{"a":"\ud83d\n"}"#,
    r#"{"a":"x\udbff"}"#,
    r#"{"\ud83d":"x"}"#,
    r#"{"\ude00":"x"}"#,
    // Raw control characters inside strings.
    "{\"a\":\"x\ny\"}",
    "{\"a\":\"\u{1}\"}",
    "{\"a\":\"\t\"}",
    "{\"a\u{0}\":\"1\"}",
    "{\"a\":\"\u{b}\"}",
    "{\"a\":\"\u{c}\"}",
    "{\"a\":\"\u{1f}\"}",
    // A byte-order mark before the text (spec §4), or anywhere outside a string.
    "\u{feff}{\"a\":\"1\"}",
    "\u{feff}{}",
    "{\u{feff}\"a\":\"1\"}",
    "{\"a\":\"1\"}\u{feff}",
    // White space other than JSON's four, around any token.
    "\u{a0}{}",
    "{\"a\":\"1\"}\u{b}",
    "\u{c}{\"a\":\"1\"}",
    "{\u{85}\"a\":\"1\"}",
    "{\"a\"\u{2028}:\"1\"}",
    "{\"a\":\u{2029}\"1\"}",
    "{\"a\":\"1\"\u{3000}}",
    "{\"a\":\"1\",\u{1680}\"b\":\"2\"}",
    "{\"a\":\"1\",\u{2000}\"b\":\"2\"}",
    "{\"a\":\"1\"\u{202f},\"b\":\"2\"}",
    "{\"a\":\"1\"\u{205f}}",
];

#[test]
fn invalid_contexts_are_refused_by_the_parsers() {
    for &text in INVALID {
        assert_eq!(canonical(Some(text)), Err(InvalidContext), "{text:?}");
    }
    // A repeated key among many pairs (more than the parser sorts on its stack), spelt
    // otherwise the second time, in order or not.
    for n in [63, 64, 65, 200] {
        let pairs: Vec<String> = (0..n).map(|i| format!("\"k{i:03}\":\"v\"")).collect();
        let in_order = format!("{{{},\"\\u006b{:03}\":\"w\"}}", pairs.join(","), n - 1);
        let mut reversed = pairs.clone();
        reversed.reverse();
        let out_of_order = format!("{{\"\\u006b000\":\"w\",{}}}", reversed.join(","));
        assert_eq!(
            canonical(Some(&in_order)),
            Err(InvalidContext),
            "{n}: {in_order}"
        );
        assert_eq!(
            canonical(Some(&out_of_order)),
            Err(InvalidContext),
            "{n}: {out_of_order}"
        );
        let valid = format!("{{{}}}", pairs.join(","));
        assert!(canonical(Some(&valid)).is_ok(), "{n}");
    }
}

#[test]
fn invalid_contexts_are_refused_by_generate_data_key_and_decrypt() {
    let mut w = World::new(304);
    let blob = w.blob(None);
    for &text in INVALID {
        let params = GenerateDataKeyParams::new()
            .key_id(ALIAS)
            .encryption_context(text);
        assert_row(w.gdk(&params), Row::invalid("EncryptionContext"));
        assert_row(w.open(&blob, Some(text)), Row::invalid("EncryptionContext"));
    }
}

#[test]
fn empty_values_and_odd_keys_are_valid() {
    let mut w = World::new(306);
    for text in [
        r#"{"a":""}"#,
        r#"{"\u0000":"nul"}"#,
        r#"{" ":" "}"#,
        r#"{"a":"1","A":"1"}"#,
        r#"{"é":"1","e\u0301":"2"}"#,
        r#"{"k":"\\u0031"}"#,
    ] {
        round_trip(&mut w, Some(text), Some(text)).unwrap_or_else(|e| panic!("{text}: {e:?}"));
    }
}

/// Characters that are white space outside JSON, or a byte-order mark, are ordinary
/// characters inside a string; control characters are not, unless escaped.
#[test]
fn unusual_characters_inside_strings() {
    for c in [
        '\u{a0}', '\u{85}', '\u{2028}', '\u{3000}', '\u{feff}', '\u{7f}',
    ] {
        let text = format!("{{\"k{c}\":\"{c}\"}}");
        let parsed = ContextBuf::parse_json(Some(&text)).expect("valid");
        let key = format!("k{c}");
        let value = c.to_string();
        assert_eq!(
            parsed.pairs().collect::<Vec<_>>(),
            [(key.as_str(), value.as_str())],
            "{text:?}"
        );
    }
    for (raw, escaped, value) in [
        ("\u{b}", "\\u000b", "\u{b}"),
        ("\u{c}", "\\f", "\u{c}"),
        ("\u{0}", "\\u0000", "\u{0}"),
    ] {
        let raw = format!("{{\"k\":\"{raw}\"}}");
        assert_eq!(canonical(Some(&raw)), Err(InvalidContext), "{raw:?}");
        let escaped = format!("{{\"k\":\"{escaped}\"}}");
        let parsed = ContextBuf::parse_json(Some(&escaped)).expect("valid");
        assert_eq!(parsed.pairs().collect::<Vec<_>>(), [("k", value)]);
    }
}

// ----- Length limit ---------------------------------------------------------------------------

/// `{"k":"…"}` of exactly `chars` characters as received, filled with `fill` (a character, or
/// an escape sequence, counted as the characters it is written with).
fn context_of(chars: usize, fill: &str) -> String {
    let n = fill.chars().count();
    assert_eq!((chars - 8) % n, 0);
    let text = format!("{{\"k\":\"{}\"}}", fill.repeat((chars - 8) / n));
    assert_eq!(text.chars().count(), chars);
    text
}

/// Spec §4: at most 8192 characters, counted as Unicode scalar values of the text as received:
/// 8184 × U+1F600 in a value is within the limit (32,744 bytes), and an escape counts as the
/// six (or twelve) characters it is written with, not as the one it stands for.
#[test]
fn at_most_8192_characters_of_the_text_as_received() {
    let mut w = World::new(307);
    let blob = w.blob(None);
    for fill in ["x", "\u{e9}", "\u{4e2d}", "\u{1F600}"] {
        let longest = context_of(8192, fill);
        let over = context_of(8193, fill);
        assert_eq!(longest.len(), 8 + 8184 * fill.len());
        round_trip(&mut w, Some(&longest), Some(&longest))
            .unwrap_or_else(|e| panic!("{fill:?}: 8192 characters refused: {e:?}"));
        assert_eq!(canonical(Some(&over)), Err(InvalidContext), "{fill:?}");
        let params = GenerateDataKeyParams::new()
            .key_id(ALIAS)
            .encryption_context(&over);
        assert_row(w.gdk(&params), Row::invalid("EncryptionContext"));
        assert_row(
            w.open(&blob, Some(&over)),
            Row::invalid("EncryptionContext"),
        );
    }
    // Escapes: `\u00e9` is six characters (8 + 6 × 1364 = 8192), a surrogate pair twelve
    // (8 + 12 × 682 = 8192).
    for (escape, unit) in [("\\u00e9", 6), ("\\ud83d\\ude00", 12)] {
        let longest = context_of(8192, escape);
        assert_eq!(longest.len(), 8192);
        assert!(canonical(Some(&longest)).is_ok(), "{escape}");
        let over = format!("{{\"k\":\"{}\"}}", escape.repeat((8192 - 8) / unit + 1));
        assert_eq!(canonical(Some(&over)), Err(InvalidContext), "{escape}");
    }
    // White space counts: the limit is on the text, not the content.
    let padded = |n: usize| format!("{{\"k\":\"v\"{}}}", " ".repeat(n - 9));
    assert_eq!(padded(8192).chars().count(), 8192);
    round_trip(&mut w, Some(&padded(8192)), Some(r#"{"k":"v"}"#)).expect("same context");
    assert_eq!(canonical(Some(&padded(8193))), Err(InvalidContext));
}

// ----- Key order: UTF-8 bytes, not UTF-16 code units ------------------------------------------

/// `{"a":"1", U+E000:"2", U+FFFF:"3", U+1F600:"4"}` sorted by the UTF-8 bytes of the keys:
/// `61`, `EE 80 80`, `EF BF BF`, `F0 9F 98 80`. UTF-16 would put U+1F600 (`D83D DE00`)
/// before U+E000.
const UTF8_ORDER: &[u8] = &[
    0, 4, //
    0, 1, b'a', 0, 1, b'1', //
    0, 3, 0xee, 0x80, 0x80, 0, 1, b'2', //
    0, 3, 0xef, 0xbf, 0xbf, 0, 1, b'3', //
    0, 4, 0xf0, 0x9f, 0x98, 0x80, 0, 1, b'4',
];

#[test]
fn keys_sort_by_utf8_bytes_not_utf16_code_units() {
    let texts = [
        "{\"\u{1F600}\":\"4\",\"\u{ffff}\":\"3\",\"a\":\"1\",\"\u{e000}\":\"2\"}",
        r#"{"\ud83d\ude00":"4","\uffff":"3","\u0061":"1","\ue000":"2"}"#,
        "{\"a\":\"1\",\"\u{1F600}\":\"4\",\"\u{e000}\":\"2\",\"\u{ffff}\":\"3\"}",
    ];
    for text in texts {
        assert_eq!(canonical(Some(text)).as_deref(), Ok(UTF8_ORDER), "{text}");
    }
    let from_pairs = ContextBuf::from_pairs([
        ("\u{1F600}", "4"),
        ("a", "1"),
        ("\u{ffff}", "3"),
        ("\u{e000}", "2"),
    ])
    .expect("pairs");
    assert_eq!(from_pairs.canonical(), UTF8_ORDER);
    let keys: Vec<&str> = from_pairs.pairs().map(|(k, _)| k).collect();
    assert_eq!(keys, ["a", "\u{e000}", "\u{ffff}", "\u{1F600}"]);

    // The blob is bound to exactly these bytes: they open it, the UTF-16 order does not.
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let response = fixed_gdk(&provider, None, Some(texts[0]), 308);
    let raw = unb64(&response.ciphertext_blob);
    let aad = [FIXED_VERSION.as_bytes(), UTF8_ORDER].concat();
    assert_eq!(
        open_blob(&material, &raw, &aad).as_deref(),
        Some(response.plaintext.expose().as_bytes())
    );
    let utf16_order: &[u8] = &[
        0, 4, //
        0, 1, b'a', 0, 1, b'1', //
        0, 4, 0xf0, 0x9f, 0x98, 0x80, 0, 1, b'4', //
        0, 3, 0xee, 0x80, 0x80, 0, 1, b'2', //
        0, 3, 0xef, 0xbf, 0xbf, 0, 1, b'3',
    ];
    let aad = [FIXED_VERSION.as_bytes(), utf16_order].concat();
    assert!(open_blob(&material, &raw, &aad).is_none());
    assert_eq!(Context::from_canonical(utf16_order), Err(InvalidContext));
    // The testkit's encoding, written independently, agrees.
    let pairs = [
        ("\u{1F600}", "4"),
        ("\u{ffff}", "3"),
        ("a", "1"),
        ("\u{e000}", "2"),
    ];
    assert_eq!(
        spec_aad(FIXED_VERSION, &pairs),
        [FIXED_VERSION.as_bytes(), UTF8_ORDER].concat()
    );
}

// ----- The canonical associated data, byte for byte -------------------------------------------

/// A data-key blob of the fixed provider's key under `context`, and its Plaintext.
fn fixed_blob(
    provider: &FixedCapacityProvider<4, 3>,
    context: Option<&str>,
    seed: u64,
) -> (Vec<u8>, String) {
    let response = fixed_gdk(provider, None, context, seed);
    assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
    (
        unb64(&response.ciphertext_blob),
        response.plaintext.expose().to_string(),
    )
}

fn with_version(canonical: &[u8]) -> Vec<u8> {
    [FIXED_VERSION.as_bytes(), canonical].concat()
}

/// `{"b":"2","a":"1"}`: two pairs, sorted.
const CANONICAL_AB: &[u8] = &[
    0, 2, //
    0, 1, b'a', 0, 1, b'1', //
    0, 1, b'b', 0, 1, b'2',
];

#[test]
fn associated_data_is_the_canonical_encoding() {
    let material = known_material_256();
    let provider = fixed_provider(&material);
    // Keys sorted by bytes: "B" (0x42) < "a" (0x61) < "ab" < "é" (0xc3 0xa9); values may be
    // empty; non-ASCII is UTF-8.
    let canonical_mixed: &[u8] = &[
        0, 4, //
        0, 1, b'B', 0, 1, b'x', //
        0, 1, b'a', 0, 0, //
        0, 2, b'a', b'b', 0, 1, b'y', //
        0, 2, 0xc3, 0xa9, 0, 2, 0xc3, 0xbc,
    ];
    // A key outside the BMP, written as a surrogate pair escape.
    let canonical_emoji: &[u8] = &[
        0, 1, //
        0, 4, 0xf0, 0x9f, 0x98, 0x80, 0, 3, b'v', b'a', b'l',
    ];
    let cases: &[(Option<&str>, &[u8])] = &[
        (None, &[0, 0]),
        (Some(""), &[0, 0]),
        (Some("{}"), &[0, 0]),
        (Some(r#"{"b":"2","a":"1"}"#), CANONICAL_AB),
        (Some(r#"{ "a":"\u0031" , "b":"2" }"#), CANONICAL_AB),
        (
            Some("{\"\u{e9}\":\"\u{fc}\",\"B\":\"x\",\"ab\":\"y\",\"a\":\"\"}"),
            canonical_mixed,
        ),
        (
            Some(r#"{"ab":"y","\u00e9":"\u00fc","a":"","B":"x"}"#),
            canonical_mixed,
        ),
        (Some(r#"{"\ud83d\ude00":"val"}"#), canonical_emoji),
    ];
    for (i, &(context, canonical_bytes)) in cases.iter().enumerate() {
        let (blob, plaintext) = fixed_blob(&provider, context, 400 + i as u64);
        let opened = open_blob(&material, &blob, &with_version(canonical_bytes))
            .unwrap_or_else(|| panic!("{context:?}: the hand-made AAD does not open the blob"));
        assert_eq!(opened, plaintext.as_bytes(), "{context:?}");
        // The crate's own canonical form agrees, and so does its associated data.
        assert_eq!(
            canonical(context).as_deref(),
            Ok(canonical_bytes),
            "{context:?}"
        );
        let parsed = ContextBuf::parse_json(context).expect("valid");
        let view = parsed.as_context();
        assert_eq!(
            context::aad_len(&view),
            36 + canonical_bytes.len(),
            "{context:?}"
        );
        let mut aad = vec![0u8; context::aad_len(&view)];
        let written = context::write_aad(&version(FIXED_VERSION), &view, &mut aad);
        assert_eq!(written, Ok(&with_version(canonical_bytes)[..]));
        let mut short = vec![0u8; context::aad_len(&view) - 1];
        assert!(context::write_aad(&version(FIXED_VERSION), &view, &mut short).is_err());
    }
}

#[test]
fn other_encodings_of_the_context_do_not_open_the_blob() {
    // Shows that the check above discriminates: near-miss encodings fail the tag.
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let (blob, plaintext) = fixed_blob(&provider, Some(r#"{"b":"2","a":"1"}"#), 410);
    let right = with_version(CANONICAL_AB);
    assert_eq!(
        open_blob(&material, &blob, &right).as_deref(),
        Some(plaintext.as_bytes())
    );
    let wrong: &[Vec<u8>] = &[
        // Text order, not sorted.
        with_version(&[0, 2, 0, 1, b'b', 0, 1, b'2', 0, 1, b'a', 0, 1, b'1']),
        // No version prefix.
        CANONICAL_AB.to_vec(),
        // No pair count.
        with_version(&CANONICAL_AB[2..]),
        // Alibaba's SDK join.
        with_version(b"a=1&b=2"),
        // Concatenation.
        with_version(b"a1b2"),
        // Little-endian lengths.
        with_version(&[2, 0, 1, 0, b'a', 1, 0, b'1', 1, 0, b'b', 1, 0, b'2']),
        // The JSON text.
        with_version(br#"{"b":"2","a":"1"}"#),
        // The empty context.
        with_version(&[0, 0]),
    ];
    for aad in wrong {
        assert!(open_blob(&material, &blob, aad).is_none(), "{aad:?} opened");
    }
}

#[test]
fn blobs_sealed_by_hand_with_the_canonical_aad_open_in_decrypt() {
    // The other direction: a blob made without the crate, bound to a context by the encoding of
    // spec §4, opens through Decrypt with any equivalent JSON text.
    let material = known_material_256();
    let provider = fixed_provider(&material);
    let canonical_bytes: &[u8] = &[
        0, 2, //
        0, 1, b'B', 0, 1, b'x', //
        0, 1, b'a', 0, 5, b'h', b'e', b'l', b'l', b'o',
    ];
    let secret = "any text the caller sealed";
    let raw = seal_blob(
        &material,
        FIXED_VERSION,
        [9; 12],
        &with_version(canonical_bytes),
        secret.as_bytes(),
    );
    let blob = b64(&raw);
    for context in [r#"{"a":"hello","B":"x"}"#, r#"{"B":"x","a":"h\u0065llo"}"#] {
        let opened = fixed_decrypt(&provider, &blob, Some(context)).expect("Decrypt");
        assert_eq!(opened.plaintext.expose(), secret);
        assert_eq!(opened.key_version_id.as_str(), FIXED_VERSION);
        assert_eq!(opened.key_id.as_str(), FIXED_KEY_ID);
    }
    assert_row(
        fixed_decrypt(&provider, &blob, None),
        Row::invalid("CiphertextBlob"),
    );
}

#[test]
fn context_equality_is_equivalence() {
    let a = ContextBuf::parse_json(Some(r#"{"a":"1","b":"2"}"#)).expect("valid");
    let b = ContextBuf::parse_json(Some(r#"{ "b" : "2", "a":"\u0031" }"#)).expect("valid");
    let c = ContextBuf::parse_json(Some(r#"{"a":"1","b":"3"}"#)).expect("valid");
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.as_context(), b.as_context());
    assert_eq!(Context::from(&a), b.as_context());
    assert_eq!(a.as_context().len(), 2);
    assert_eq!(a.pairs().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    assert_eq!(a.to_json(), r#"{"a":"1","b":"2"}"#);
    assert_eq!(a.as_context().to_owned(), a);
    let empty = ContextBuf::parse_json(None).expect("absent");
    assert!(empty.as_context().is_empty());
    assert_eq!(empty, ContextBuf::parse_json(Some("")).expect("empty"));
    assert_eq!(empty, ContextBuf::parse_json(Some("{}")).expect("braces"));
    assert_eq!(empty, ContextBuf::empty());
    assert_eq!(empty.to_json(), "{}");
    let one = ContextBuf::parse_json(Some(r#"{"a":""}"#)).expect("valid");
    assert!(!one.as_context().is_empty());
    assert_eq!(format!("{a:?}"), r#"{"a": "1", "b": "2"}"#);
}

// ----- Context::from_canonical, encode_pairs, write_json --------------------------------------

#[test]
fn from_canonical_accepts_only_canonical_encodings() {
    for good in [&[0u8, 0][..], CANONICAL_AB, UTF8_ORDER] {
        let context = Context::from_canonical(good).expect("canonical");
        assert_eq!(context.canonical(), good);
    }
    let mut trailing = CANONICAL_AB.to_vec();
    trailing.push(0);
    let bad: &[(&str, &[u8])] = &[
        ("nothing", &[]),
        ("half a count", &[0]),
        ("a count of 1, no pair", &[0, 1]),
        ("a count of 0 and a pair", &[0, 0, 0, 1, b'a', 0, 0]),
        (
            "a count of 3 for 2 pairs",
            &[0, 3, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2'],
        ),
        ("a byte after the last pair", &trailing),
        ("a key cut short", &[0, 1, 0, 2, b'a']),
        ("no value", &[0, 1, 0, 1, b'a']),
        ("a value cut short", &[0, 1, 0, 1, b'a', 0, 2, b'1']),
        (
            "keys out of order",
            &[0, 2, 0, 1, b'b', 0, 1, b'2', 0, 1, b'a', 0, 1, b'1'],
        ),
        (
            "a repeated key",
            &[0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'a', 0, 1, b'2'],
        ),
        ("an empty key", &[0, 1, 0, 0, 0, 1, b'1']),
        ("a key that is not UTF-8", &[0, 1, 0, 1, 0xff, 0, 0]),
        (
            "a value that is not UTF-8",
            &[0, 1, 0, 1, b'a', 0, 2, 0xc3, 0x28],
        ),
        (
            "a surrogate in UTF-8",
            &[0, 1, 0, 3, 0xed, 0xa0, 0x80, 0, 0],
        ),
    ];
    for (what, bytes) in bad {
        assert_eq!(
            Context::from_canonical(bytes),
            Err(InvalidContext),
            "{what}"
        );
    }
}

/// The 8192-character limit holds for canonical bytes too, counted on the JSON text
/// `write_json` writes: a control character is written as six (`\u0001`), a quote as two.
#[test]
fn from_canonical_refuses_what_is_over_8192_characters_as_json() {
    let encode = |value: &str| {
        let mut out = vec![0, 1, 0, 1, b'k'];
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
        out
    };
    // `{"k":"…"}` is 8 characters around the value.
    for (unit, chars) in [("x", 1), ("\u{1F600}", 1), ("\u{1}", 6), ("\"", 2)] {
        let n = (8192 - 8) / chars;
        let at_limit = unit.repeat(n);
        let over = unit.repeat(n + 1);
        let text = encode(&at_limit);
        let context = Context::from_canonical(&text).expect("at the limit");
        assert_eq!(context.to_json().chars().count(), 8 + n * chars, "{unit:?}");
        assert_eq!(
            Context::from_canonical(&encode(&over)),
            Err(InvalidContext),
            "{unit:?}"
        );
        // The parser agrees on the JSON text.
        assert_eq!(canonical(Some(&context.to_json())), Ok(text), "{unit:?}");
    }
}

#[test]
fn encode_pairs_sorts_and_checks() {
    // Exactly 2 + Σ (4 + key + value) bytes.
    let pairs = [("b", "2"), ("a", "1")];
    let mut buf = [0u8; 14];
    let context = Context::encode_pairs(&pairs, &mut buf).expect("fits");
    assert_eq!(context.canonical(), CANONICAL_AB);
    let mut short = [0u8; 13];
    assert_eq!(
        Context::encode_pairs(&pairs, &mut short),
        Err(InvalidContext)
    );
    let mut roomy = [0xa5u8; 20];
    let context = Context::encode_pairs(&pairs, &mut roomy).expect("fits");
    assert_eq!(context.canonical(), CANONICAL_AB);
    assert_eq!(
        Context::encode_pairs(&[], &mut [0u8; 2]).map(|c| c.canonical().to_vec()),
        Ok(vec![0, 0])
    );

    let mut buf = [0u8; 64];
    for bad in [
        &[("", "x")][..],
        &[("a", "1"), ("a", "1")],
        &[("a", "1"), ("b", "2"), ("a", "3")],
    ] {
        assert_eq!(
            Context::encode_pairs(bad, &mut buf),
            Err(InvalidContext),
            "{bad:?}"
        );
        assert_eq!(
            ContextBuf::from_pairs(bad.iter().copied()),
            Err(InvalidContext)
        );
    }
    // Over 8192 characters as JSON: 8 + 8185 = 8193.
    let long = "x".repeat(8185);
    let mut buf = vec![0u8; 2 + 4 + 1 + long.len()];
    assert_eq!(
        Context::encode_pairs(&[("k", &long)], &mut buf),
        Err(InvalidContext)
    );
    assert_eq!(
        ContextBuf::from_pairs([("k", long.as_str())]),
        Err(InvalidContext)
    );
    let longest = "x".repeat(8184);
    assert!(ContextBuf::from_pairs([("k", longest.as_str())]).is_ok());

    // Many pairs, in reverse: sorted in place, without an allocator.
    let owned: Vec<(String, String)> = (0..300)
        .rev()
        .map(|i| (format!("k{i:03}"), format!("{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = owned
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let len = 2 + pairs
        .iter()
        .map(|(k, v)| 4 + k.len() + v.len())
        .sum::<usize>();
    let mut buf = vec![0u8; len];
    let context = Context::encode_pairs(&pairs, &mut buf).expect("fits");
    let keys: Vec<&str> = context.pairs().map(|(k, _)| k).collect();
    let expected: Vec<String> = (0..300).map(|i| format!("k{i:03}")).collect();
    assert_eq!(keys, expected);
}

#[test]
fn write_json_escapes_only_what_json_requires() {
    let context = ContextBuf::from_pairs([
        ("quote\"", "back\\slash"),
        ("ctl", "\u{0}\u{1f}\u{7f}"),
        ("short", "\n\r\t\u{8}\u{c}"),
        ("slash", "/"),
        ("\u{e9}", "\u{1F600}\u{2028}"),
    ])
    .expect("pairs");
    // Written out by hand: keys in byte order; `"` and `\` escaped; the five controls with a
    // short escape as such, the others as `\u00xx` in lowercase hex; DEL, `/`, and every
    // non-ASCII character (U+2028 too) as they are.
    let expected = concat!(
        r#"{"ctl":"\u0000\u001f"#,
        "\u{7f}",
        r#"","quote\"":"back\\slash","short":"\n\r\t\b\f","slash":"/","#,
        "\"\u{e9}\":\"\u{1F600}\u{2028}\"}",
    );
    let view = context.as_context();
    assert_eq!(view.json_len(), expected.len());
    let mut out = vec![0u8; expected.len()];
    assert_eq!(view.write_json(&mut out), Ok(expected));
    assert_eq!(context.to_json(), expected);
    let mut short = vec![0u8; expected.len() - 1];
    assert_eq!(view.write_json(&mut short), Err(InvalidContext));
    // It parses back to the same context.
    assert_eq!(ContextBuf::parse_json(Some(expected)), Ok(context.clone()));
    // The empty context is `{}`.
    let mut out = [0u8; 2];
    assert_eq!(Context::EMPTY.write_json(&mut out), Ok("{}"));
    assert_eq!(Context::EMPTY.json_len(), 2);
}

// =============================================================================================
// Key names and IDs

#[test]
fn key_id_parse_accepts_exactly_the_two_forms() {
    for good in [
        "key-hzz630494463ejqjx1234",
        "key-000000000000000000000",
        "key-zzzzzzzzzzzzzzzzzzzzz",
        UNKNOWN_KEY_ID,
        // Any version and variant nibble: a key ID is UUID text, not necessarily a v4 UUID.
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ] {
        let id = KeyId::parse(good).unwrap_or_else(|| panic!("{good}"));
        assert_eq!(id.as_str(), good);
        assert_eq!(id.to_string(), good);
        assert_eq!(format!("{id:?}"), format!("KeyId({good})"));
    }
    for bad in [
        "key-hzz630494463ejqjx123",   // 20 characters
        "key-hzz630494463ejqjx12345", // 22 characters
        "key-hzz630494463ejqjx123_",
        "key-hzz630494463ejqjx123-",
        "key-HZZ630494463EJQJX1234",
        "KEY-hzz630494463ejqjx1234",
        "key_hzz630494463ejqjx1234",
        "1234ABCD-12AB-34CD-56EF-123456789012",
        "1234abcd-12ab-34cd-56ef-12345678901",
        "1234abcd-12ab-34cd-56ef-1234567890123",
        "1234abcd12ab-34cd-56ef-1234567890123",
        "1234abcd-12ab-34cd-56ef-12345678901g",
        "{234abcd-12ab-34cd-56ef-123456789012",
        "",
        "alias/x",
    ] {
        assert!(KeyId::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn version_and_request_ids_are_lowercase_uuid_text() {
    for good in [
        FIXED_VERSION,
        UNKNOWN_VERSION,
        "00000000-0000-0000-0000-000000000000",
        "ffffffff-ffff-ffff-ffff-ffffffffffff",
    ] {
        assert!(is_lowercase_uuid(good.as_bytes()), "{good}");
        let v = KeyVersionId::parse(good.as_bytes()).unwrap_or_else(|| panic!("{good}"));
        assert_eq!(v.as_str(), good);
        assert_eq!(v.as_bytes(), good.as_bytes());
        assert_eq!(v.to_string(), good);
        assert_eq!(format!("{v:?}"), format!("KeyVersionId({good})"));
        let r = RequestId::parse(good.as_bytes()).unwrap_or_else(|| panic!("{good}"));
        assert_eq!(r.to_string(), good);
        assert_eq!(r.encode(&mut [0; 36]), good);
        assert_eq!(format!("{r:?}"), format!("RequestId({good})"));
    }
    for bad in [
        "2AB1A983-7072-4BBC-A582-584B5BD8BEEF",
        "2ab1a983-7072-4bbc-a582-584b5bd8beeF",
        "2ab1a983x7072-4bbc-a582-584b5bd8beef",
        "2ab1a983-7072-4bbc-a582-584b5bd8bee",
        "2ab1a983-7072-4bbc-a582-584b5bd8beef0",
        "2ab1a9837-072-4bbc-a582-584b5bd8beef",
        "2ab1a983-7072-4bbc-a582-584b5bd8beeg",
        "{2ab1a983-7072-4bbc-a582-584b5bd8bee}",
        "key-hzz630494463ejqjx1234",
        "",
    ] {
        assert!(!is_lowercase_uuid(bad.as_bytes()), "{bad}");
        assert!(KeyVersionId::parse(bad.as_bytes()).is_none(), "{bad}");
        assert!(RequestId::parse(bad.as_bytes()).is_none(), "{bad}");
    }
}

/// Hands out 0, 1, 2, ... (from `start`) as bytes.
struct Counting(u8);

impl TryRng for Counting {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

impl TryCryptoRng for Counting {}

/// Random IDs are UUID v4 text (RFC 9562): 16 bytes from the RNG, with the high nibble of byte
/// 6 set to 4 (the version) and the two high bits of byte 8 to `10` (the variant). Worked out
/// by hand: bytes 00..0f give byte 6 = 0x46 and byte 8 = 0x88; bytes f0..ff give 0x46 and 0xb8.
#[test]
fn random_ids_are_uuid_v4_text_of_the_rngs_bytes() {
    let expected = [
        (0x00, "00010203-0405-4607-8809-0a0b0c0d0e0f"),
        (0xf0, "f0f1f2f3-f4f5-46f7-b8f9-fafbfcfdfeff"),
    ];
    for (start, text) in expected {
        assert_eq!(
            KeyVersionId::random(&mut Counting(start))
                .expect("draw")
                .as_str(),
            text
        );
        assert_eq!(
            RequestId::random(&mut Counting(start))
                .expect("draw")
                .to_string(),
            text
        );
        assert_eq!(
            KeyId::random(&mut Counting(start)).expect("draw").as_str(),
            text
        );
    }
    // From a real RNG: always v4 text, and never the same twice here.
    let mut r = rng(600);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..200 {
        let v = KeyVersionId::random(&mut r).expect("draw");
        let q = RequestId::random(&mut r).expect("draw");
        let k = KeyId::random(&mut r).expect("draw");
        for text in [v.to_string(), q.to_string(), k.to_string()] {
            assert!(is_uuid_v4(&text), "{text}");
            assert!(seen.insert(text.clone()), "{text} twice");
        }
    }
    // An RNG that fails gives no ID.
    assert!(KeyVersionId::random(&mut FailingRng::default()).is_err());
    assert!(RequestId::random(&mut FailingRng::default()).is_err());
    assert!(KeyId::random(&mut FailingRng::default()).is_err());
}

#[test]
fn arns_display_as_the_spec_writes_them() {
    let key = KeyId::parse(UNKNOWN_KEY_ID).expect("key id");
    assert_eq!(
        KeyArn::new("cn-hangzhou", "1234567890123456", &key).to_string(),
        "acs:kms:cn-hangzhou:1234567890123456:key/1234abcd-12ab-34cd-56ef-123456789012"
    );
    assert_eq!(
        AliasArn::new("cn-shanghai", "42", "alias/Team_A/svc-1").to_string(),
        "acs:kms:cn-shanghai:42:alias/Team_A/svc-1"
    );
    let key = KeyId::parse(FIXED_KEY_ID).expect("key id");
    assert_eq!(
        KeyArn::new("ap-southeast-1", "7", &key).to_string(),
        "acs:kms:ap-southeast-1:7:key/key-hzz630494463ejqjx1234"
    );
}

#[test]
fn key_reference_parse_reads_every_form() {
    let uuid = KeyId::parse(UNKNOWN_KEY_ID).expect("key id");
    let dashed = KeyId::parse(FIXED_KEY_ID).expect("key id");
    let key_arn_text = format!("acs:kms:{REGION}:{ACCOUNT}:key/{UNKNOWN_KEY_ID}");
    let dashed_arn_text = format!("acs:kms:{OTHER_REGION}:{OTHER_ACCOUNT}:key/{FIXED_KEY_ID}");
    let alias_arn_text = format!("acs:kms:{REGION}:{ACCOUNT}:alias/Team_A/svc-1/PROD");
    let longest = "a".repeat(2048);
    let longest_alias = format!("alias/{}", "a".repeat(2042));
    let alias_256 = format!("alias/{}", "b".repeat(256));
    let upper_arn = format!("ACS:kms:{REGION}:{ACCOUNT}:key/{UNKNOWN_KEY_ID}");
    let cases: Vec<(&str, KeyReference<'_>)> = vec![
        (UNKNOWN_KEY_ID, KeyReference::Id(uuid)),
        (FIXED_KEY_ID, KeyReference::Id(dashed)),
        ("alias/test-key", KeyReference::Alias("alias/test-key")),
        (
            "alias/Team_A/svc-1/PROD",
            KeyReference::Alias("alias/Team_A/svc-1/PROD"),
        ),
        (
            &key_arn_text,
            KeyReference::KeyArn {
                region: REGION,
                account: ACCOUNT,
                key_id: uuid,
            },
        ),
        (
            &dashed_arn_text,
            KeyReference::KeyArn {
                region: OTHER_REGION,
                account: OTHER_ACCOUNT,
                key_id: dashed,
            },
        ),
        (
            &alias_arn_text,
            KeyReference::AliasArn {
                region: REGION,
                account: ACCOUNT,
                alias: "alias/Team_A/svc-1/PROD",
            },
        ),
        // Aliases that are not well-formed are still aliases: they name no key.
        ("alias/", KeyReference::Alias("alias/")),
        (
            "alias/white space",
            KeyReference::Alias("alias/white space"),
        ),
        (&longest_alias, KeyReference::Alias(&longest_alias)),
        (&alias_256, KeyReference::Alias(&alias_256)),
        // Well-formed text that is no key ID: names no key.
        ("not-a-key", KeyReference::UnknownId("not-a-key")),
        (
            "key-HZZ630494463EJQJX1234",
            KeyReference::UnknownId("key-HZZ630494463EJQJX1234"),
        ),
        (
            "1234ABCD-12AB-34CD-56EF-123456789012",
            KeyReference::UnknownId("1234ABCD-12AB-34CD-56EF-123456789012"),
        ),
        ("ALIAS/x", KeyReference::UnknownId("ALIAS/x")),
        // Only `acs:` in lowercase starts an ARN.
        (&upper_arn, KeyReference::UnknownId(&upper_arn)),
        ("acs", KeyReference::UnknownId("acs")),
        (&longest, KeyReference::UnknownId(&longest)),
    ];
    for (text, expected) in &cases {
        assert_eq!(
            KeyReference::parse(text, Parameter::KeyId),
            Ok(*expected),
            "{text}"
        );
        assert_eq!(
            KeyReference::parse(text, Parameter::DestinationKeyId),
            Ok(*expected),
            "{text}"
        );
        // Displayed as a KeyId parameter writes it: the text it came from.
        assert_eq!(expected.to_string(), *text);
    }
    // IDs and aliases point into the caller's account and region, ARNs into their own.
    let caller = Caller::new("555", "eu-central-1");
    let scopes = [
        ("555", "eu-central-1", false),
        ("555", "eu-central-1", false),
        ("555", "eu-central-1", true),
        ("555", "eu-central-1", true),
        (ACCOUNT, REGION, false),
        (OTHER_ACCOUNT, OTHER_REGION, false),
        (ACCOUNT, REGION, true),
    ];
    for ((text, reference), (account, region, alias)) in cases.iter().zip(scopes) {
        assert_eq!(reference.scope(&caller), (account, region), "{text}");
        assert_eq!(reference.is_alias(), alias, "{text}");
    }
    assert!(!KeyReference::UnknownId("x").is_alias());
    assert_eq!(KeyReference::from(uuid), KeyReference::Id(uuid));
    assert_eq!(KeyReference::from(&dashed), KeyReference::Id(dashed));
}

#[test]
fn key_reference_parse_refuses_invalid_texts() {
    let key = UNKNOWN_KEY_ID;
    let too_long = "a".repeat(2049);
    let too_long_alias = format!("alias/{}", "a".repeat(2043));
    assert_eq!(too_long_alias.len(), 2049);
    let cases = [
        String::new(),
        too_long,
        too_long_alias,
        "clé".to_string(),
        "alias/clé".to_string(),
        "ключ".to_string(),
        format!("{key}\u{a0}"),
        "acs:kms:cn-hangzhou:123:key/not-a-key-id".to_string(),
        format!("acs:kms::123:key/{key}"),
        format!("acs:kms:cn-hangzhou::key/{key}"),
        format!("acs:kms:cn-hangzhou:12a:key/{key}"),
        format!("acs:kms:CN-HANGZHOU:123:key/{key}"),
        format!("acs:kms:cn_hangzhou:123:key/{key}"),
        format!("acs:kms:{}:123:key/{key}", "a".repeat(65)),
        format!("acs:kms:cn-hangzhou:{}:key/{key}", "1".repeat(65)),
        format!("acs:ecs:cn-hangzhou:123:key/{key}"),
        format!("acs:KMS:cn-hangzhou:123:key/{key}"),
        format!("acs:kms:cn-hangzhou:123:keys/{key}"),
        format!("acs:kms:cn-hangzhou:123:secret/{key}"),
        format!("acs:kms:cn-hangzhou:123:key/{}", key.to_uppercase()),
        "acs:kms:cn-hangzhou:123:key/key-HZZ630494463EJQJX1234".to_string(),
        format!("acs:kms:cn-hangzhou:123:key/{key}:extra"),
        format!("acs:kms:cn-hangzhou:123:key/{key}/"),
        "acs:kms:cn-hangzhou:123:key/".to_string(),
        "acs:kms:cn-hangzhou:123:alias/".to_string(),
        "acs:kms:cn-hangzhou:123:alias/bad name".to_string(),
        format!("acs:kms:cn-hangzhou:123:alias/{}", "b".repeat(256)),
        "acs:kms:cn-hangzhou:123".to_string(),
        "acs:kms:cn-hangzhou".to_string(),
        "acs:".to_string(),
        "acs:kms".to_string(),
    ];
    for text in &cases {
        assert_eq!(
            KeyReference::parse(text, Parameter::KeyId),
            Err(Error::InvalidParameter(Parameter::KeyId)),
            "{text:?}"
        );
        assert_eq!(
            KeyReference::parse(text, Parameter::DestinationKeyId),
            Err(Error::InvalidParameter(Parameter::DestinationKeyId)),
            "{text:?}"
        );
    }
    // The longest valid parts: a 64-character region and account, a 255-character alias.
    let longest = format!(
        "acs:kms:{}:{}:alias/{}",
        "a".repeat(64),
        "1".repeat(64),
        "b".repeat(255)
    );
    assert!(matches!(
        KeyReference::parse(&longest, Parameter::KeyId),
        Ok(KeyReference::AliasArn { .. })
    ));
}
