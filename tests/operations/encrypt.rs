//! Encrypt (spec §1, §4, §5): round trips through Decrypt, the `Plaintext` limits counted in
//! bytes, the order of the parameters, the blob and its associated data checked with the
//! testkit's own AES-GCM, the IV and RequestId draws, what a workspace keeps, redaction, and
//! the typed layer.

use kms_core::ops::{self, DryRunPassed, EncryptRequest, Outcome, Plaintext};
use kms_core::wire::{self, EncryptParams};
use kms_core::{
    Error, InMemoryProvider, Internal, KeyOptions, KeyOrigin, KeyReference, KeyState,
    MasterKeySpec, Parameter, RequestId, WorkspaceTooSmall,
};

use crate::generate_data_key::{holds, mirror, uuid_v4_of};
use crate::testkit::*;

/// Encrypt's parameters, each given (`Some`) or absent.
fn params<'a>(
    key_id: Option<&'a str>,
    plaintext: Option<&'a str>,
    context: Option<&'a str>,
    dry_run: Option<&'a str>,
) -> EncryptParams<'a> {
    let mut p = EncryptParams::new();
    p.key_id = key_id;
    p.plaintext = plaintext;
    p.encryption_context = context;
    p.dry_run = dry_run;
    p
}

fn run(world: &mut World, p: &EncryptParams<'_>) -> Result<wire::CiphertextResponseBuf, Error> {
    world.encrypt_as(&owner(), p)
}

// ---------------------------------------------------------------------------------------------
// Round trips and the blob

/// Seals `text` under the world's key with `context`, checks the blob's layout (spec §5) and
/// that Decrypt gives the text back.
#[track_caller]
fn round_trip(world: &mut World, text: &str, context: Option<&str>) {
    let key = world.key_text();
    let out = run(world, &params(Some(&key), Some(text), context, None)).expect("Encrypt");
    assert_eq!(out.key_id, world.key);
    assert_eq!(out.key_version_id, world.primary(&world.key));
    assert!(
        is_uuid_v4(&out.request_id.to_string()),
        "{}",
        out.request_id
    );
    let bytes = unb64(&out.ciphertext_blob);
    assert_eq!(bytes.len(), 36 + 12 + text.len() + 16);
    assert_eq!(&bytes[..36], out.key_version_id.as_str().as_bytes());
    assert_ne!(&bytes[48..48 + text.len()], text.as_bytes());
    let opened = world.open(&out.ciphertext_blob, context).expect("Decrypt");
    assert_eq!(opened.plaintext.expose(), text);
    assert_eq!(opened.key_id, world.key);
    assert_eq!(opened.key_version_id, out.key_version_id);
}

#[test]
fn round_trips_of_ascii_unicode_and_the_extremes() {
    let mut world = World::new(1);
    round_trip(&mut world, "x", None);
    round_trip(&mut world, "attack at dawn", None);
    round_trip(&mut world, "héllo wörld ✓ 中文 🔑 \u{0} \"quoted\"\n", None);
    round_trip(&mut world, &"a".repeat(6144), None);
    // 6144 bytes of multi-byte characters: 3072 two-byte, 2048 three-byte, 1536 four-byte.
    round_trip(&mut world, &"é".repeat(3072), None);
    round_trip(&mut world, &"€".repeat(2048), None);
    round_trip(&mut world, &"🔑".repeat(1536), None);
    round_trip(
        &mut world,
        "with a context",
        Some(r#"{"app":"test","n":"1"}"#),
    );
}

#[test]
fn every_seal_draws_a_fresh_iv() {
    let mut world = World::new(2);
    let key = world.key_text();
    let a = world.seal_text(&key, "same text", None);
    let b = world.seal_text(&key, "same text", None);
    assert_ne!(a, b);
    assert_ne!(unb64(&a)[36..48], unb64(&b)[36..48]);
    for blob in [&a, &b] {
        assert_eq!(
            world.open(blob, None).unwrap().plaintext.expose(),
            "same text"
        );
    }
}

#[test]
fn it_seals_under_the_primary_version_after_a_rotation() {
    let mut world = World::new(3);
    let key = world.key;
    let id = world.key_text();
    let v1 = world.primary(&key);
    let old = world.seal_text(&id, "old", None);
    let v2 = world.rotate(&key);
    assert_ne!(v1, v2);
    let out = run(&mut world, &params(Some(&id), Some("new"), None, None)).unwrap();
    assert_eq!(out.key_version_id, v2);
    assert_eq!(blob_version(&out.ciphertext_blob), v2.as_str());
    // The old blob still opens, under its own version.
    let opened = world.open(&old, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "old");
    assert_eq!(opened.key_version_id, v1);
    assert_eq!(world.seals(&v1), 1);
    assert_eq!(world.seals(&v2), 1);
}

#[test]
fn aes_128_master_keys_encrypt() {
    let mut world = World::new(4);
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let blob = world.seal_text(key.as_str(), "p", None);
    let opened = world.open(&blob, None).unwrap();
    assert_eq!(opened.key_id, key);
    assert_eq!(opened.plaintext.expose(), "p");
}

#[test]
fn the_context_is_bound_to_the_blob() {
    let mut world = World::new(5);
    let key = world.key_text();
    let blob = world.seal_text(&key, "bound", Some(r#"{"a":"1","b":"2"}"#));
    // Equivalent texts open it.
    for equivalent in [
        r#"{"b":"2","a":"1"}"#,
        r#"{ "a" : "1", "b":"2" }"#,
        r#"{"a":"\u0031","b":"2"}"#,
        "{\"a\":\"1\",\t\r\n\"b\":\"2\"}",
    ] {
        let opened = world.open(&blob, Some(equivalent)).expect(equivalent);
        assert_eq!(opened.plaintext.expose(), "bound");
    }
    // Anything else does not, with nothing that tells the cases apart.
    for wrong in [
        None,
        Some("{}"),
        Some(r#"{"a":"1"}"#),
        Some(r#"{"a":"1","b":"3"}"#),
        Some(r#"{"a":"1","b":"2","c":"3"}"#),
        Some(r#"{"a":"12","b":""}"#),
        Some(r#"{"A":"1","b":"2"}"#),
    ] {
        let result = world.open(&blob, wrong);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::invalid("CiphertextBlob"),
            "{wrong:?}"
        );
    }
    // A surrogate pair escaped is the character itself; compared as bytes, not normalised.
    let astral = world.seal_text(&key, "astral", Some(r#"{"k":"\ud83d\ude00"}"#));
    let opened = world.open(&astral, Some(r#"{"k":"😀"}"#)).unwrap();
    assert_eq!(opened.plaintext.expose(), "astral");
    let composed = world.seal_text(&key, "composed", Some(r#"{"k":"\u00e9"}"#));
    let result = world.open(&composed, Some(r#"{"k":"e\u0301"}"#));
    assert_row(result, Row::invalid("CiphertextBlob"));
    // Absent, "" and {} are one empty context.
    let empty = world.seal_text(&key, "empty", Some(""));
    for same in [None, Some(""), Some("{}"), Some(" { } ")] {
        let opened = world.open(&empty, same).expect("the empty context");
        assert_eq!(opened.plaintext.expose(), "empty");
    }
}

/// 8192 characters of JSON text is the limit, counted in characters (spec §4): here each `é`
/// is two bytes, and 8192 × U+1F600 is within it too.
#[test]
fn a_context_of_8192_characters_is_accepted() {
    let mut world = World::new(6);
    let key = world.key_text();
    for filler in ["é", "😀"] {
        let at_limit = format!(r#"{{"k":"{}"}}"#, filler.repeat(8192 - 8));
        assert_eq!(at_limit.chars().count(), 8192);
        assert!(at_limit.len() > 8192);
        let blob = world.seal_text(&key, "p", Some(&at_limit));
        assert_eq!(
            world
                .open(&blob, Some(&at_limit))
                .unwrap()
                .plaintext
                .expose(),
            "p"
        );
        // One character more is not (spec §4), in bytes or characters alike.
        let over = format!(r#"{{"k":"{}"}}"#, filler.repeat(8192 - 7));
        let result = run(
            &mut world,
            &params(Some(&key), Some("p"), Some(&over), None),
        );
        assert_row(result, Row::invalid("EncryptionContext"));
    }
}

/// The blob checked with the testkit's own AES-GCM: the layout of spec §5 and the associated
/// data of spec §4, under imported AES-256 and AES-128 material.
#[test]
fn the_blob_is_the_spec_layout_with_the_spec_associated_data() {
    let mut world = World::new(7);
    for material in [&known_material_256()[..], &known_material_128()[..]] {
        let spec = if material.len() == 32 {
            MasterKeySpec::Aes256
        } else {
            MasterKeySpec::Aes128
        };
        let key = world.create(
            KeyOptions::new(ACCOUNT, REGION)
                .spec(spec)
                .origin(KeyOrigin::External),
        );
        world.import(&key, material);
        let version = world.primary(&key);
        let text = "héllo, spec ✓";
        // Out of order and escaped: sorted by the keys' bytes, unescaped.
        let context = r#"{"b":"2","a":"\u0031","Z":""}"#;
        let out = run(
            &mut world,
            &params(Some(key.as_str()), Some(text), Some(context), None),
        )
        .unwrap();
        assert_eq!(out.key_version_id, version);
        let raw = unb64(&out.ciphertext_blob);
        let aad = spec_aad(version.as_str(), &[("a", "1"), ("b", "2"), ("Z", "")]);
        assert_eq!(
            open_blob(material, &raw, &aad).expect("opens by the spec"),
            text.as_bytes()
        );
        // The pairs as given, unsorted: the tag fails; so it does with no context.
        let mut unsorted = version.as_str().as_bytes().to_vec();
        unsorted.extend_from_slice(&[0, 3, 0, 1, b'b', 0, 1, b'2', 0, 1, b'a', 0, 1, b'1']);
        unsorted.extend_from_slice(&[0, 1, b'Z', 0, 0]);
        assert!(open_blob(material, &raw, &unsorted).is_none());
        assert!(open_blob(material, &raw, &spec_aad(version.as_str(), &[])).is_none());
        // The empty context is two zero bytes after the version.
        let out = run(
            &mut world,
            &params(Some(key.as_str()), Some("x"), None, None),
        )
        .unwrap();
        let mut aad = version.as_str().as_bytes().to_vec();
        aad.extend_from_slice(&[0, 0]);
        assert_eq!(
            open_blob(material, &unb64(&out.ciphertext_blob), &aad).unwrap(),
            b"x"
        );
    }
}

/// Keys sort by their UTF-8 bytes, not by UTF-16 code units: U+E000 comes before U+1F600
/// (spec §4).
#[test]
fn the_associated_data_sorts_by_utf8_bytes() {
    let mut world = World::new(8);
    let material = known_material_256();
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    world.import(&key, &material);
    let version = world.primary(&key);
    let context = "{\"\u{1f600}\":\"astral\",\"\u{e000}\":\"private use\"}";
    let out = run(
        &mut world,
        &params(Some(key.as_str()), Some("sorted"), Some(context), None),
    )
    .unwrap();
    let raw = unb64(&out.ciphertext_blob);
    // Written out by hand in UTF-8 byte order: EE 80 80 before F0 9F 98 80.
    let mut aad = version.as_str().as_bytes().to_vec();
    aad.extend_from_slice(&[0, 2]);
    aad.extend_from_slice(&[0, 3, 0xee, 0x80, 0x80, 0, 11]);
    aad.extend_from_slice(b"private use");
    aad.extend_from_slice(&[0, 4, 0xf0, 0x9f, 0x98, 0x80, 0, 6]);
    aad.extend_from_slice(b"astral");
    assert_eq!(open_blob(&material, &raw, &aad).unwrap(), b"sorted");
}

// ---------------------------------------------------------------------------------------------
// Parameters

#[test]
fn plaintext_is_required() {
    let mut world = World::new(10);
    let key = world.key_text();
    let result = run(&mut world, &params(Some(&key), None, None, None));
    assert_row(result, Row::missing("Plaintext"));
    let result = run(&mut world, &params(Some(&key), None, None, Some("true")));
    assert_row(result, Row::validation_missing("Plaintext"));
}

#[test]
fn the_plaintext_length_is_counted_in_bytes() {
    let mut world = World::new(11);
    let key = world.key_text();
    let version = world.primary(&world.key);
    let invalid = [
        String::new(),
        "a".repeat(6145),
        // 6144 characters, 6145 bytes.
        format!("{}é", "a".repeat(6143)),
        "é".repeat(3073),
        "€".repeat(2049),
        "🔑".repeat(1537),
        "a".repeat(100_000),
    ];
    for text in &invalid {
        let result = run(&mut world, &params(Some(&key), Some(text), None, None));
        assert_row(result, Row::invalid("Plaintext"));
        let result = run(
            &mut world,
            &params(Some(&key), Some(text), None, Some("true")),
        );
        assert_row(result, Row::validation_invalid("Plaintext"));
    }
    assert_eq!(world.seals(&version), 0);
    // Exactly 6144 bytes is fine whatever the characters.
    for text in [
        "a".repeat(6144),
        format!("{}é", "a".repeat(6142)),
        "é".repeat(3072),
    ] {
        let out =
            run(&mut world, &params(Some(&key), Some(&text), None, None)).expect("6144 bytes");
        assert_eq!(unb64(&out.ciphertext_blob).len(), 36 + 12 + 6144 + 16);
    }
    // And a dry run of the longest passes.
    let longest = "é".repeat(3072);
    let result = run(
        &mut world,
        &params(
            Some(&key),
            Some(&longest),
            Some(r#"{"a":"b"}"#),
            Some("true"),
        ),
    );
    assert_row(result, Row::dry_run_passed());
}

/// `KeyId`, then `Plaintext`, then `EncryptionContext` [decided]; all before resolution.
#[test]
fn the_parameters_are_checked_in_order() {
    let mut world = World::new(12);
    let key = world.key_text();
    let cases = [
        (params(None, None, Some("["), None), Row::missing("KeyId")),
        (
            params(Some(""), Some(""), Some("["), None),
            Row::invalid("KeyId"),
        ),
        (
            params(Some(&key), None, Some("["), None),
            Row::missing("Plaintext"),
        ),
        (
            params(Some(&key), Some(""), Some("[]"), None),
            Row::invalid("Plaintext"),
        ),
        (
            params(Some(&key), Some("p"), Some("[]"), None),
            Row::invalid("EncryptionContext"),
        ),
        (
            params(Some(UNKNOWN_KEY_ID), Some(""), None, None),
            Row::invalid("Plaintext"),
        ),
        (
            params(Some("alias/none"), Some("p"), Some("{"), None),
            Row::invalid("EncryptionContext"),
        ),
        (
            params(None, None, None, Some("true")),
            Row::validation_missing("KeyId"),
        ),
        (
            params(Some(&key), Some(""), Some("{"), Some("true")),
            Row::validation_invalid("Plaintext"),
        ),
        (
            params(
                Some(UNKNOWN_KEY_ID),
                Some("p"),
                Some(r#"{"a":1}"#),
                Some("true"),
            ),
            Row::validation_invalid("EncryptionContext"),
        ),
    ];
    for (p, row) in &cases {
        let result = run(&mut world, p);
        assert_eq!(Row::of(&expect_err(result)), *row, "{p:?}");
    }
}

/// The parameters' `Debug` (what a frontend may log) and the typed request's redact the text.
#[test]
fn debug_output_redacts_the_plaintext() {
    const SECRET: &str = "top secret text";
    let p = params(Some(UNKNOWN_KEY_ID), Some(SECRET), None, None);
    let shown = format!("{p:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(UNKNOWN_KEY_ID), "{shown}");
    assert!(shown.contains("REDACTED"), "{shown}");
    let key = kms_core::KeyId::parse(UNKNOWN_KEY_ID).unwrap();
    let request = EncryptRequest::new(key, Plaintext::new(SECRET).unwrap());
    let shown = format!("{request:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(UNKNOWN_KEY_ID), "{shown}");
    let shown = format!("{:?}", Plaintext::new(SECRET).unwrap());
    assert!(!shown.contains(SECRET), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// The RNG and the RequestId

/// The wire draws the IV, then the RequestId, and nothing else.
#[test]
fn the_iv_and_the_request_id_are_the_rngs_output_in_that_order() {
    let world = World::new(20);
    let key = world.key_text();
    let p = params(Some(&key), Some("p"), None, None);
    let drawn = mirror(20, &[12, 16]);
    let mut r = CountingRng::new(rng(20));
    let out = wire::encrypt(&world.provider, &owner(), &p, &mut r).unwrap();
    assert_eq!((r.calls, r.bytes), (2, 12 + 16));
    assert_eq!(unb64(&out.ciphertext_blob)[36..48], drawn[0]);
    assert_eq!(out.request_id.to_string(), uuid_v4_of(&drawn[1]));
}

/// An RNG that fails at the IV seals nothing; one that fails at the RequestId fails the
/// request after the seal.
#[test]
fn an_rng_that_runs_dry_at_each_draw() {
    let world = World::new(21);
    let key = world.key_text();
    let version = world.primary(&world.key);
    let p = params(Some(&key), Some("p"), None, None);
    for (budget, seals) in [(0, 0), (11, 0), (12, 1), (12 + 15, 2)] {
        let mut limited = LimitedRng::new(1, budget);
        let result = wire::encrypt(&world.provider, &owner(), &p, &mut limited);
        assert_eq!(
            expect_err(result),
            Error::InternalFailure(Internal::Rng),
            "{budget}"
        );
        assert_eq!(world.seals(&version), seals, "{budget}");
    }
}

#[test]
fn a_request_id_is_supplied_or_drawn() {
    let mut world = World::new(22);
    let key = world.key_text();
    let p = params(Some(&key), Some("p"), None, None);
    let supplied = RequestId::parse(b"0b8e5b1e-6b4c-4c11-9a6e-2f2b1c3d4e5f").unwrap();
    let mut counting = CountingRng::new(rng(22));
    let out = wire::encrypt(
        &world.provider,
        &owner(),
        &p.request_id(supplied),
        &mut counting,
    )
    .unwrap();
    assert_eq!(out.request_id, supplied);
    assert_eq!(counting.bytes, 12);
    let a = run(&mut world, &p).unwrap().request_id;
    let b = run(&mut world, &p).unwrap().request_id;
    assert!(is_uuid_v4(&a.to_string()), "{a}");
    assert!(is_uuid_v4(&b.to_string()), "{b}");
    assert_ne!(a, b);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form and what a workspace keeps

#[test]
fn the_in_form_matches_the_owned_form() {
    let mut world = World::new(30);
    let key = world.key_text();
    let long = "z".repeat(6144);
    for (text, context) in [
        ("p", None),
        ("héllo 🔑", Some(r#"{ "b":"2", "a":"\u0031" }"#)),
        (long.as_str(), Some("{}")),
    ] {
        let p = params(Some(&key), Some(text), context, None);
        let a = wire::encrypt(&world.provider, &owner(), &p, &mut rng(3)).unwrap();
        let mut workspace = vec![0u8; p.workspace_len()];
        let b =
            wire::encrypt_in(&world.provider, &owner(), &p, &mut rng(3), &mut workspace).unwrap();
        assert_eq!(b.to_owned(), a);
        let opened = world.open(&a.ciphertext_blob, context).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
    }
}

#[test]
fn the_in_forms_errors_match_the_owned_forms() {
    let mut world = World::new(31);
    let key = world.key_text();
    let disabled = world.key_in_state(KeyState::Disabled).to_string();
    let cases = [
        (params(None, None, None, None), Row::missing("KeyId")),
        (
            params(Some(&key), Some(""), None, None),
            Row::invalid("Plaintext"),
        ),
        (
            params(Some(UNKNOWN_KEY_ID), Some("p"), None, None),
            Row::key_not_found(),
        ),
        (
            params(Some(&disabled), Some("p"), None, None),
            Row::rejected("Disabled"),
        ),
        (
            params(Some(&key), Some("p"), None, Some("true")),
            Row::dry_run_passed(),
        ),
    ];
    for (p, row) in &cases {
        let owned = expect_err(run(&mut world, p));
        let mut workspace = vec![0u8; p.workspace_len()];
        let borrowed = expect_err(wire::encrypt_in(
            &world.provider,
            &owner(),
            p,
            &mut world.rng,
            &mut workspace,
        ));
        assert_eq!(borrowed, owned, "{p:?}");
        assert_eq!(Row::of(&borrowed), *row, "{p:?}");
    }
}

#[test]
fn too_small_a_workspace_is_an_internal_failure_and_a_larger_one_is_fine() {
    let mut world = World::new(32);
    let key = world.key_text();
    let version = world.primary(&world.key);
    let p = params(
        Some(&key),
        Some("some plaintext"),
        Some(r#"{"a":"b"}"#),
        None,
    );
    let needed = p.workspace_len();
    for len in [0, 1, needed / 2, needed - 1] {
        let mut workspace = vec![0u8; len];
        let result = wire::encrypt_in(
            &world.provider,
            &owner(),
            &p,
            &mut world.rng,
            &mut workspace,
        );
        assert_eq!(
            expect_err(result),
            Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
        );
    }
    assert_eq!(world.seals(&version), 0);
    let mut workspace = vec![0u8; needed + 100];
    let out = wire::encrypt_in(
        &world.provider,
        &owner(),
        &p,
        &mut world.rng,
        &mut workspace,
    )
    .unwrap();
    let blob = out.ciphertext_blob.to_string();
    let opened = world.open(&blob, Some(r#"{"a":"b"}"#)).unwrap();
    assert_eq!(opened.plaintext.expose(), "some plaintext");
}

/// The text to seal is copied into the workspace and sealed in place: after a success, an RNG
/// failure or a refused seal, none of it is left.
#[test]
fn the_workspace_keeps_no_plaintext() {
    const MARKER: &str = "ENCRYPT-PLAINTEXT-MARKER-which-must-be-wiped";
    let world = World::new(33);
    let key = world.key_text();
    let p = params(Some(&key), Some(MARKER), None, None);

    let mut workspace = vec![0u8; p.workspace_len()];
    wire::encrypt_in(&world.provider, &owner(), &p, &mut rng(1), &mut workspace).unwrap();
    assert!(!holds(&workspace, MARKER.as_bytes()), "left after success");

    let mut workspace = vec![0u8; p.workspace_len()];
    let mut failing = FailingRng::default();
    let result = wire::encrypt_in(&world.provider, &owner(), &p, &mut failing, &mut workspace);
    assert_row(result, Row::internal());
    assert!(
        !holds(&workspace, MARKER.as_bytes()),
        "left after an RNG failure"
    );

    let mut refusing = World::with_provider(InMemoryProvider::new().with_seal_limit(1), 34);
    let key = refusing.key_text();
    refusing.seal_text(&key, "uses up the budget", None);
    let p = params(Some(&key), Some(MARKER), None, None);
    let mut workspace = vec![0u8; p.workspace_len()];
    let result = wire::encrypt_in(
        &refusing.provider,
        &owner(),
        &p,
        &mut rng(2),
        &mut workspace,
    );
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::SealLimitReached)
    );
    assert!(
        !holds(&workspace, MARKER.as_bytes()),
        "left after a refused seal"
    );
}

// ---------------------------------------------------------------------------------------------
// The typed layer

#[test]
fn typed_plaintexts_are_1_to_6144_bytes() {
    let invalid = Error::InvalidParameter(Parameter::Plaintext);
    assert_eq!(Plaintext::new("").unwrap_err(), invalid);
    assert_eq!(Plaintext::new(&"a".repeat(6145)).unwrap_err(), invalid);
    assert_eq!(Plaintext::new(&"é".repeat(3073)).unwrap_err(), invalid);
    let longest = "é".repeat(3072);
    assert_eq!(Plaintext::new(&longest).unwrap().as_str(), longest);
    assert_eq!(Plaintext::new("x").unwrap().as_str(), "x");
}

/// The typed operation draws the IV only: the same RNG bytes make the wire's blob.
#[test]
fn the_typed_layer_makes_the_wires_blob_from_the_same_rng_bytes() {
    let mut world = World::new(40);
    let context = kms_core::context::ContextBuf::from_pairs([("b", "2"), ("a", "1")]).unwrap();
    for text in ["x", "héllo 🔑", &"€".repeat(2048)] {
        let request =
            EncryptRequest::new(world.key, Plaintext::new(text).unwrap()).with_context(&context);
        let mut r = CountingRng::new(rng(40));
        let typed = ops::encrypt(&world.provider, &owner(), &request, &mut r)
            .unwrap()
            .done()
            .unwrap();
        assert_eq!((r.calls, r.bytes), (1, 12));
        let p = params(Some(ALIAS), Some(text), Some(r#"{"a":"1","b":"2"}"#), None);
        let wire = wire::encrypt(&world.provider, &owner(), &p, &mut rng(40)).unwrap();
        assert_eq!(typed.key_id, wire.key_id);
        assert_eq!(typed.key_version_id, wire.key_version_id);
        assert_eq!(typed.ciphertext_blob.to_base64(), wire.ciphertext_blob);
        let opened = world
            .open(&wire.ciphertext_blob, Some(r#"{"b":"2","a":"1"}"#))
            .unwrap();
        assert_eq!(opened.plaintext.expose(), text);
    }
}

#[test]
fn a_typed_dry_run_passes_with_the_key_and_version_and_fails_with_plain_errors() {
    let mut world = World::new(41);
    let key = world.key;
    let version = world.primary(&key);
    let text = Plaintext::new("p").unwrap();
    let alias = KeyReference::parse(ALIAS, Parameter::KeyId).unwrap();
    let mut failing = FailingRng::default();
    let request = EncryptRequest::new(alias, text).with_dry_run(true);
    assert_eq!(
        ops::encrypt(&world.provider, &owner(), &request, &mut failing),
        Ok(Outcome::DryRun(DryRunPassed {
            key_id: key,
            key_version_id: version
        }))
    );
    assert_eq!(failing.attempts, 0);
    assert_eq!(world.seals(&version), 0);

    let theirs = world.create_in(OTHER_ACCOUNT, REGION);
    world.grant(&theirs, ACCOUNT, &[kms_core::Permission::Decrypt]);
    let arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    let unsupported = world.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    let cases = [
        (
            KeyReference::parse(&arn, Parameter::KeyId).unwrap(),
            Error::NoPermission,
        ),
        (KeyReference::from(unsupported), Error::UnsupportedOperation),
        (
            KeyReference::parse("alias/none", Parameter::KeyId).unwrap(),
            Error::AliasNotFound,
        ),
    ];
    for (reference, expected) in cases {
        for dry_run in [true, false] {
            let request = EncryptRequest::new(reference, text).with_dry_run(dry_run);
            let result = ops::encrypt(&world.provider, &owner(), &request, &mut rng(1));
            assert_eq!(expect_err(result), expected, "{reference} dry {dry_run}");
        }
    }
}

#[test]
fn a_typed_workspace_too_small_is_an_internal_failure_and_keeps_no_plaintext() {
    const MARKER: &str = "TYPED-ENCRYPT-MARKER-0123456789";
    let world = World::new(42);
    let request = EncryptRequest::new(world.key, Plaintext::new(MARKER).unwrap());
    let needed = request.workspace_len();
    let mut workspace = vec![0u8; needed - 1];
    let result = ops::encrypt_in(
        &world.provider,
        &owner(),
        &request,
        &mut rng(1),
        &mut workspace,
    );
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
    );
    let mut workspace = vec![0u8; needed];
    let mut failing = FailingRng::default();
    let result = ops::encrypt_in(
        &world.provider,
        &owner(),
        &request,
        &mut failing,
        &mut workspace,
    );
    assert_eq!(expect_err(result), Error::InternalFailure(Internal::Rng));
    assert!(!holds(&workspace, MARKER.as_bytes()));
    assert_eq!(world.seals(&world.primary(&world.key)), 0);
}
