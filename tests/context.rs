//! The encryption context (spec §4): equivalence, the invalid texts, the length limit, and the
//! canonical associated-data encoding checked byte for byte with an independent AES-GCM.

mod common;

use common::*;
use kms_core::context::EncryptionContext;
use kms_core::{
    DecryptRequest, FixedCapacityProvider, GenerateDataKeyRequest, decrypt, generate_data_key,
};

/// Seals under `sealing` and opens under `opening`.
fn round_trip(
    w: &mut World,
    sealing: Option<&str>,
    opening: Option<&str>,
) -> Result<(), kms_core::Error> {
    let sealed = w.blob(sealing);
    let opened = w.decrypt(&DecryptRequest {
        encryption_context: opening,
        ..DecryptRequest::new(&sealed.ciphertext_blob)
    })?;
    assert_eq!(opened.plaintext.expose(), sealed.plaintext.expose());
    assert_eq!(opened.key_version_id, sealed.key_version_id);
    Ok(())
}

// ----- Equivalence ----------------------------------------------------------------------------

#[test]
fn equivalent_texts_open_each_others_blobs() {
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
                round_trip(&mut w, Some(sealing), Some(opening))
                    .unwrap_or_else(|e| panic!("{sealing} / {opening}: {e:?}"));
            }
        }
    }
}

#[test]
fn absent_empty_string_and_empty_object_are_one_context() {
    let mut w = World::new(301);
    let forms = [None, Some(""), Some("{}"), Some(" { } "), Some("{\n}")];
    for sealing in forms {
        for opening in forms {
            round_trip(&mut w, sealing, opening)
                .unwrap_or_else(|e| panic!("{sealing:?} / {opening:?}: {e:?}"));
        }
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
    let sorted = text(&mut sorted.iter());
    round_trip(&mut w, Some(&forward), Some(&backward)).unwrap();
    round_trip(&mut w, Some(&backward), Some(&sorted)).unwrap();
    // One value changed in the middle is another context.
    let changed = sorted.replacen("\"v200\"", "\"v2OO\"", 1);
    assert_ne!(changed, sorted);
    let err = round_trip(&mut w, Some(&forward), Some(&changed)).unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
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
        let err = round_trip(&mut w, sealing, opening)
            .err()
            .unwrap_or_else(|| panic!("{sealing:?} opened under {opening:?}"));
        assert_invalid(&err, "CiphertextBlob");
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
    // Lone surrogates.
    r#"{"a":"\ud800"}"#,
    r#"{"a":"\udc00"}"#,
    r#"{"a":"\udfff"}"#,
    r#"{"a":"\ud800x"}"#,
    r#"{"a":"\ud800\u0041"}"#,
    r#"{"a":"\ud800\ud800"}"#,
    r#"{"a":"\ude00\ud83d"}"#,
    r#"{"\ud83d":"x"}"#,
    // Raw control characters inside strings.
    "{\"a\":\"x\ny\"}",
    "{\"a\":\"\u{1}\"}",
    "{\"a\":\"\t\"}",
    "{\"a\u{0}\":\"1\"}",
    // White space JSON does not know.
    "\u{a0}{}",
    "\u{feff}{\"a\":\"1\"}",
    "{\"a\":\"1\"}\u{b}",
];

#[test]
fn invalid_contexts_are_refused_by_generate_data_key() {
    let mut w = World::new(304);
    for &text in INVALID {
        let err = w
            .gdk(&GenerateDataKeyRequest {
                encryption_context: Some(text),
                ..GenerateDataKeyRequest::new(ALIAS)
            })
            .err()
            .unwrap_or_else(|| panic!("accepted context {text:?}"));
        assert_invalid(&err, "EncryptionContext");
        assert!(EncryptionContext::parse(Some(text)).is_err(), "{text:?}");
    }
}

#[test]
fn invalid_contexts_are_refused_by_decrypt() {
    let mut w = World::new(305);
    let blob = w.blob(None).ciphertext_blob;
    for &text in INVALID {
        let err = w
            .decrypt(&DecryptRequest {
                encryption_context: Some(text),
                ..DecryptRequest::new(&blob)
            })
            .err()
            .unwrap_or_else(|| panic!("accepted context {text:?}"));
        assert_invalid(&err, "EncryptionContext");
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

// ----- Length limit ---------------------------------------------------------------------------

/// `{"k":"…"}` of exactly `chars` characters, filled with `fill`.
fn context_of(chars: usize, fill: char) -> String {
    let text = format!("{{\"k\":\"{}\"}}", fill.to_string().repeat(chars - 8));
    assert_eq!(text.chars().count(), chars);
    text
}

#[test]
fn at_most_8192_characters_counting_characters_not_bytes() {
    let mut w = World::new(307);
    for fill in ['x', '\u{e9}', '\u{4e2d}', '\u{1F600}'] {
        let longest = context_of(8192, fill);
        let over = context_of(8193, fill);
        assert_eq!(longest.len(), 8 + 8184 * fill.len_utf8());
        round_trip(&mut w, Some(&longest), Some(&longest))
            .unwrap_or_else(|e| panic!("{fill:?}: 8192 characters refused: {e:?}"));
        let err = w
            .gdk(&GenerateDataKeyRequest {
                encryption_context: Some(&over),
                ..GenerateDataKeyRequest::new(ALIAS)
            })
            .unwrap_err();
        assert_invalid(&err, "EncryptionContext");
        let blob = w.blob(None).ciphertext_blob;
        let err = w
            .decrypt(&DecryptRequest {
                encryption_context: Some(&over),
                ..DecryptRequest::new(&blob)
            })
            .unwrap_err();
        assert_invalid(&err, "EncryptionContext");
    }
    // White space counts: the limit is on the text, not the content.
    let padded = |n: usize| format!("{{\"k\":\"v\"{}}}", " ".repeat(n - 9));
    assert_eq!(padded(8192).chars().count(), 8192);
    round_trip(&mut w, Some(&padded(8192)), Some(r#"{"k":"v"}"#)).unwrap();
    let err = w
        .gdk(&GenerateDataKeyRequest {
            encryption_context: Some(&padded(8193)),
            ..GenerateDataKeyRequest::new(ALIAS)
        })
        .unwrap_err();
    assert_invalid(&err, "EncryptionContext");
}

// ----- The canonical associated data, byte for byte -------------------------------------------

fn fixed_blob(
    provider: &mut FixedCapacityProvider<4, 3>,
    context: Option<&str>,
    seed: u64,
) -> (Vec<u8>, String) {
    let response = generate_data_key(
        provider,
        &caller(),
        &GenerateDataKeyRequest {
            encryption_context: context,
            ..GenerateDataKeyRequest::new(FIXED_KEY_ID)
        },
        &mut rng(seed),
    )
    .unwrap();
    assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
    (
        unb64(&response.ciphertext_blob),
        response.plaintext.expose().to_string(),
    )
}

fn with_version(canonical: &[u8]) -> Vec<u8> {
    [FIXED_VERSION.as_bytes(), canonical].concat()
}

#[test]
fn associated_data_is_the_canonical_encoding() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);

    // {"b":"2","a":"1"}: two pairs, sorted.
    let canonical_ab: &[u8] = &[
        0, 2, //
        0, 1, b'a', 0, 1, b'1', //
        0, 1, b'b', 0, 1, b'2',
    ];
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
        (Some(r#"{"b":"2","a":"1"}"#), canonical_ab),
        (Some(r#"{ "a":"\u0031" , "b":"2" }"#), canonical_ab),
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
    for (i, &(context, canonical)) in cases.iter().enumerate() {
        let (blob, plaintext) = fixed_blob(&mut provider, context, 400 + i as u64);
        let aad = with_version(canonical);
        let opened = open_blob(&material, &blob, &aad)
            .unwrap_or_else(|| panic!("{context:?}: the hand-made AAD does not open the blob"));
        assert_eq!(opened, plaintext.as_bytes(), "{context:?}");
        // The crate's own canonical form agrees.
        assert_eq!(
            EncryptionContext::parse(context).unwrap().canonical_bytes(),
            canonical,
            "{context:?}"
        );
    }
}

#[test]
fn other_encodings_of_the_context_do_not_open_the_blob() {
    // Shows that the check above discriminates: near-miss encodings fail the tag.
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let (blob, plaintext) = fixed_blob(&mut provider, Some(r#"{"b":"2","a":"1"}"#), 410);
    let right = with_version(&[0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']);
    assert_eq!(
        open_blob(&material, &blob, &right).unwrap(),
        plaintext.as_bytes()
    );
    let wrong: &[Vec<u8>] = &[
        // Text order, not sorted.
        with_version(&[0, 2, 0, 1, b'b', 0, 1, b'2', 0, 1, b'a', 0, 1, b'1']),
        // No version prefix.
        vec![0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2'],
        // No pair count.
        with_version(&[0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 1, b'2']),
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
    let canonical: &[u8] = &[
        0, 2, //
        0, 1, b'B', 0, 1, b'x', //
        0, 1, b'a', 0, 5, b'h', b'e', b'l', b'l', b'o',
    ];
    let aad = with_version(canonical);
    let secret = "any text the caller sealed";
    let blob = seal_blob(&material, FIXED_VERSION, [9; 12], &aad, secret.as_bytes());
    let blob = b64(&blob);
    let mut r = rng(411);
    for context in [r#"{"a":"hello","B":"x"}"#, r#"{"B":"x","a":"h\u0065llo"}"#] {
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest {
                encryption_context: Some(context),
                ..DecryptRequest::new(&blob)
            },
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.plaintext.expose(), secret);
        assert_eq!(opened.key_version_id.as_str(), FIXED_VERSION);
        assert_eq!(opened.key_id.as_str(), FIXED_KEY_ID);
    }
    let err = decrypt(&provider, &caller(), &DecryptRequest::new(&blob), &mut r).unwrap_err();
    assert_invalid(&err, "CiphertextBlob");
}

#[test]
fn encryption_context_value_equality_is_equivalence() {
    let a = EncryptionContext::parse(Some(r#"{"a":"1","b":"2"}"#)).unwrap();
    let b = EncryptionContext::parse(Some(r#"{ "b" : "2", "a":"\u0031" }"#)).unwrap();
    let c = EncryptionContext::parse(Some(r#"{"a":"1","b":"3"}"#)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_eq!(a.len(), 2);
    assert_eq!(a.pairs().collect::<Vec<_>>(), [("a", "1"), ("b", "2")]);
    let empty = EncryptionContext::parse(None).unwrap();
    assert!(empty.is_empty());
    assert_eq!(empty, EncryptionContext::parse(Some("")).unwrap());
    assert_eq!(empty, EncryptionContext::parse(Some("{}")).unwrap());
    assert_eq!(empty, EncryptionContext::empty());
    assert!(
        !EncryptionContext::parse(Some(r#"{"a":""}"#))
            .unwrap()
            .is_empty()
    );
}
