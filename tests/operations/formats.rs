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
    assert!(debug.contains(FIXED_VERSION) && debug.contains("15"), "{debug}");
    for bytes in ["XYZW", "7, 7", "9, 9", "[88, 89"] {
        assert!(!debug.contains(bytes), "{debug}");
    }
    assert_eq!(format!("{:?}", blob.as_blob()), debug);
}
