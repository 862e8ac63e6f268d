//! Decrypt (spec §1, §4, §5, §7): it opens what every sealing operation sealed, with exactly the
//! version the blob names, under an equivalent context, and nothing else, with no detail that
//! tells the failures apart; blobs sealed by the testkit's own AES-GCM; the order of its
//! parameters; a dry run that does not open; its one RNG draw; what a workspace keeps; and the
//! typed layer.

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::ops::{self, DecryptRequest, DryRunPassed, Outcome};
use kms_core::wire::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{Error, Internal, KeyOptions, KeyOrigin, RequestId, WorkspaceTooSmall};

use crate::generate_data_key::{holds, mirror, uuid_v4_of};
use crate::testkit::*;

/// Decrypt's parameters, each given (`Some`) or absent.
fn params<'a>(
    blob: Option<&'a str>,
    context: Option<&'a str>,
    dry_run: Option<&'a str>,
) -> DecryptParams<'a> {
    let mut p = DecryptParams::new();
    p.ciphertext_blob = blob;
    p.encryption_context = context;
    p.dry_run = dry_run;
    p
}

/// An `EXTERNAL` key of [`ACCOUNT`] holding `material`, so blobs can be made and checked with
/// the testkit's AES-GCM.
fn imported_key(world: &mut World, material: &[u8]) -> kms_core::KeyId {
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    world.import(&key, material);
    key
}

// ---------------------------------------------------------------------------------------------
// What it opens

#[test]
fn it_opens_what_every_sealing_operation_sealed() {
    let mut world = World::new(1);
    let key = world.key_text();
    let dest = world.create_in(ACCOUNT, REGION);
    let context = r#"{"k":"v"}"#;
    let gdk = world
        .gdk(
            &GenerateDataKeyParams::new()
                .key_id(&key)
                .encryption_context(context),
        )
        .unwrap();
    let wp = world
        .gdkwp_as(
            &owner(),
            &GenerateDataKeyParams::new()
                .key_id(&key)
                .number_of_bytes("7"),
        )
        .unwrap();
    let enc = world
        .encrypt_as(
            &owner(),
            &EncryptParams::new().key_id(&key).plaintext("text ✓"),
        )
        .unwrap();
    let dest_id = dest.to_string();
    let re = world
        .re_encrypt_as(
            &owner(),
            &ReEncryptParams::new()
                .ciphertext_blob(&enc.ciphertext_blob)
                .destination_key_id(&dest_id),
        )
        .unwrap();
    let v = world.primary(&world.key);
    // The text each blob sealed; WithoutPlaintext's is known only as 7 bytes of Base64.
    let cases = [
        (
            &gdk.ciphertext_blob,
            Some(context),
            Some(gdk.plaintext.expose()),
            world.key,
            v,
        ),
        (&wp.ciphertext_blob, None, None, world.key, v),
        (&enc.ciphertext_blob, None, Some("text ✓"), world.key, v),
        (
            &re.ciphertext_blob,
            None,
            Some("text ✓"),
            dest,
            world.primary(&dest),
        ),
    ];
    for (blob, context, text, key_id, version) in cases {
        let opened = world.open(blob, context).unwrap();
        assert_eq!(opened.key_id, key_id);
        assert_eq!(opened.key_version_id, version);
        assert_eq!(blob_version(blob), version.as_str());
        match text {
            Some(text) => assert_eq!(opened.plaintext.expose(), text),
            None => assert_eq!(unb64(opened.plaintext.expose()).len(), 7),
        }
        assert!(is_uuid_v4(&opened.request_id.to_string()));
    }
}

/// `KeyVersionId` is the version named in the blob, primary or not (spec §1).
#[test]
fn it_answers_with_the_blobs_version_primary_or_not() {
    let mut world = World::new(2);
    let key = world.key;
    let id = world.key_text();
    let v1 = world.primary(&key);
    let old = world.seal_text(&id, "one", None);
    let v2 = world.rotate(&key);
    let mid = world.seal_text(&id, "two", None);
    let v3 = world.rotate(&key);
    for (blob, text, version) in [(&old, "one", v1), (&mid, "two", v2)] {
        let opened = world.open(blob, None).unwrap();
        assert_eq!(opened.key_version_id, version);
        assert_eq!(opened.key_id, key);
        assert_eq!(opened.plaintext.expose(), text);
    }
    assert_eq!(world.versions(&key), vec![v1, v2, v3]);
    // Opening counts no seal.
    assert_eq!(
        (world.seals(&v1), world.seals(&v2), world.seals(&v3)),
        (1, 1, 0)
    );
}

/// A blob names the one version that sealed it: under another version's name, of the same key
/// or another, it does not open (spec §5: Decrypt never tries several).
#[test]
fn a_blob_opens_only_under_the_version_it_names() {
    let mut world = World::new(3);
    let key = world.key;
    let id = world.key_text();
    let blob = world.seal_text(&id, "p", None);
    let v2 = world.rotate(&key);
    let elsewhere = world.create_in(ACCOUNT, REGION);
    for version in [v2, world.primary(&elsewhere)] {
        let renamed = with_prefix(&blob, version.as_str());
        assert_row(world.open(&renamed, None), Row::invalid("CiphertextBlob"));
    }
    assert_eq!(world.open(&blob, None).unwrap().plaintext.expose(), "p");
}

/// Every part of the blob is authenticated, and a tampered blob fails exactly as a blob opened
/// under the wrong context does: nothing tells the two apart.
#[test]
fn a_tampered_blob_and_a_wrong_context_fail_alike() {
    let mut world = World::new(4);
    let key = world.key_text();
    let blob = world.seal_text(&key, "integrity", Some(r#"{"a":"1"}"#));
    let len = unb64(&blob).len();
    let wrong_context = expect_err(world.open(&blob, Some(r#"{"a":"2"}"#)));
    assert_eq!(Row::of(&wrong_context), Row::invalid("CiphertextBlob"));
    for index in [36, 47, 48, 48 + 5, len - 17, len - 16, len - 1] {
        let err = expect_err(world.open(&flip(&blob, index), Some(r#"{"a":"1"}"#)));
        assert_eq!(err, wrong_context, "byte {index}");
        assert_eq!(err.to_string(), wrong_context.to_string(), "byte {index}");
    }
}

/// A blob made outside the crate, by spec §4 and §5 with the testkit's AES-GCM, opens under
/// any writing of its context.
#[test]
fn a_blob_sealed_by_the_spec_opens() {
    let mut world = World::new(5);
    let material = known_material_256();
    let key = imported_key(&mut world, &material);
    let version = world.primary(&key);
    let text = "sealed outside ✓";
    let aad = spec_aad(version.as_str(), &[("tenant", "t1"), ("app", "a")]);
    let blob = b64(&seal_blob(
        &material,
        version.as_str(),
        [9; 12],
        &aad,
        text.as_bytes(),
    ));
    for context in [
        r#"{"app":"a","tenant":"t1"}"#,
        r#"{"tenant":"t1","app":"a"}"#,
        r#"{ "tenant" : "\u0074\u0031" , "app":"a" }"#,
    ] {
        let opened = world.open(&blob, Some(context)).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
        assert_eq!(opened.key_id, key);
        assert_eq!(opened.key_version_id, version);
    }
    assert_row(world.open(&blob, None), Row::invalid("CiphertextBlob"));
    // The same text under another IV is another blob, which opens all the same.
    let other = b64(&seal_blob(
        &material,
        version.as_str(),
        [1; 12],
        &aad,
        text.as_bytes(),
    ));
    assert_ne!(other, blob);
    let context = Some(r#"{"app":"a","tenant":"t1"}"#);
    assert_eq!(
        world.open(&other, context).unwrap().plaintext.expose(),
        text
    );
}

/// No operation seals text that is not UTF-8, so a blob holding some is refused as an invalid
/// blob [decided], like a failed tag.
#[test]
fn sealed_bytes_that_are_not_utf8_are_an_invalid_blob() {
    let mut world = World::new(6);
    let material = known_material_256();
    let key = imported_key(&mut world, &material);
    let version = world.primary(&key);
    let aad = spec_aad(version.as_str(), &[]);
    for bytes in [
        &[0xff, 0xfe, b'a'][..],
        &[0xc3],
        &[b'o', b'k', 0x80],
        &[0xed, 0xa0, 0x80],
    ] {
        let blob = b64(&seal_blob(
            &material,
            version.as_str(),
            [1; 12],
            &aad,
            bytes,
        ));
        assert_row(world.open(&blob, None), Row::invalid("CiphertextBlob"));
    }
    let good = b64(&seal_blob(
        &material,
        version.as_str(),
        [1; 12],
        &aad,
        "ok".as_bytes(),
    ));
    assert_eq!(world.open(&good, None).unwrap().plaintext.expose(), "ok");
}

/// The opened text never shows in `Debug` output (spec §10).
#[test]
fn debug_output_shows_no_plaintext() {
    const SECRET: &str = "SECRET-DECRYPTED-TEXT";
    let mut world = World::new(7);
    let key = world.key_text();
    let blob = world.seal_text(&key, SECRET, None);
    let opened = world.open(&blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), SECRET);
    let shown = format!("{opened:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(shown.contains(opened.key_id.as_str()), "{shown}");
    let typed_blob = BlobBuf::from_base64(&blob).unwrap();
    let typed = ops::decrypt(
        &world.provider,
        &owner(),
        &DecryptRequest::new(&typed_blob),
        &mut rng(7),
    )
    .unwrap()
    .done()
    .unwrap();
    let shown = format!("{typed:?}");
    assert!(!shown.contains(SECRET), "{shown}");
}

// ---------------------------------------------------------------------------------------------
// Parameters and dry runs

/// `CiphertextBlob`, then `EncryptionContext` [decided]; both before resolution.
#[test]
fn the_parameters_are_checked_in_order() {
    let mut world = World::new(10);
    let blob = world.blob(None);
    let unknown = with_prefix(&blob, "0f0f0f0f-1111-4222-8333-444444444444");
    let cases = [
        (
            params(None, Some("["), None),
            Row::missing("CiphertextBlob"),
        ),
        (
            params(Some("AAAA"), Some("["), None),
            Row::invalid("CiphertextBlob"),
        ),
        (
            params(Some(&blob), Some(r#"{"a":1}"#), None),
            Row::invalid("EncryptionContext"),
        ),
        (
            params(Some(&unknown), Some("[1]"), None),
            Row::invalid("EncryptionContext"),
        ),
        (
            params(None, Some("["), Some("true")),
            Row::validation_missing("CiphertextBlob"),
        ),
        (
            params(Some(&unknown), Some(r#"{"a":1}"#), Some("true")),
            Row::validation_invalid("EncryptionContext"),
        ),
        (
            params(Some(&unknown), None, Some("true")),
            Row::key_not_found(),
        ),
    ];
    for (p, row) in &cases {
        let result = world.decrypt_as(&owner(), p);
        assert_eq!(Row::of(&expect_err(result)), *row, "{p:?}");
    }
}

/// A dry run parses the blob and resolves its version but does not open it (spec §7): a wrong
/// context or a broken tag still passes, where the real runs fail.
#[test]
fn a_dry_run_does_not_open_the_blob() {
    let mut world = World::new(11);
    let blob = world.blob(Some(r#"{"a":"1"}"#));
    let broken = flip(&blob, unb64(&blob).len() - 1);
    for (text, context) in [
        (&blob, Some(r#"{"a":"1"}"#)),
        (&blob, None),
        (&blob, Some(r#"{"a":"2"}"#)),
        (&broken, Some(r#"{"a":"1"}"#)),
    ] {
        let mut counting = CountingRng::new(rng(11));
        let p = params(Some(text), context, Some("true"));
        let result = wire::decrypt(&world.provider, &owner(), &p, &mut counting);
        assert_row(result, Row::dry_run_passed());
        assert_eq!(counting.calls, 0, "a dry run drew");
    }
    assert_row(world.open(&blob, None), Row::invalid("CiphertextBlob"));
    assert_row(
        world.open(&broken, Some(r#"{"a":"1"}"#)),
        Row::invalid("CiphertextBlob"),
    );
}

// ---------------------------------------------------------------------------------------------
// The RNG

/// Decrypt draws one thing, the RequestId; with one supplied it draws nothing, so even an RNG
/// that always fails will do.
#[test]
fn decrypt_draws_the_request_id_only() {
    let mut world = World::new(20);
    let blob = world.blob(None);
    let mut counting = CountingRng::new(rng(20));
    let p = params(Some(&blob), None, None);
    let opened = wire::decrypt(&world.provider, &owner(), &p, &mut counting).unwrap();
    assert_eq!((counting.calls, counting.bytes), (1, 16));
    assert_eq!(
        opened.request_id.to_string(),
        uuid_v4_of(&mirror(20, &[16])[0])
    );

    let supplied = RequestId::parse(b"00000000-1111-2222-3333-444444444444").unwrap();
    let mut failing = FailingRng::default();
    let with_id = p.request_id(supplied);
    let again = wire::decrypt(&world.provider, &owner(), &with_id, &mut failing).unwrap();
    assert_eq!(again.request_id, supplied);
    assert_eq!(again.plaintext, opened.plaintext);
    assert_eq!(failing.attempts, 0);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form and what a workspace keeps

#[test]
fn the_in_form_matches_the_owned_form() {
    let mut world = World::new(30);
    let key = world.key_text();
    for (text, context) in [
        ("p", None),
        ("ünï ✓", Some(r#"{"a":"b"}"#)),
        (&*"m".repeat(6144), Some(r#"{ "x" : "" }"#)),
    ] {
        let blob = world.seal_text(&key, text, context);
        let p = params(Some(&blob), context, None);
        let owned = wire::decrypt(&world.provider, &owner(), &p, &mut rng(30)).unwrap();
        let mut workspace = vec![0u8; p.workspace_len()];
        let borrowed =
            wire::decrypt_in(&world.provider, &owner(), &p, &mut rng(30), &mut workspace).unwrap();
        assert_eq!(borrowed.to_owned(), owned);
        assert_eq!(borrowed.plaintext.expose(), text);
    }
}

#[test]
fn the_workspace_keeps_no_plaintext_once_the_response_is_dropped() {
    const MARKER: &str = "DECRYPT-PLAINTEXT-MARKER-which-must-be-wiped";
    let mut world = World::new(31);
    let key = world.key_text();
    let blob = world.seal_text(&key, MARKER, None);
    let p = params(Some(&blob), None, None);

    let mut workspace = vec![0u8; p.workspace_len()];
    let opened =
        wire::decrypt_in(&world.provider, &owner(), &p, &mut rng(1), &mut workspace).unwrap();
    assert_eq!(opened.plaintext.expose(), MARKER);
    drop(opened);
    assert!(
        !holds(&workspace, MARKER.as_bytes()),
        "left after the response"
    );

    // The blob opened, then the RequestId could not be drawn.
    let mut workspace = vec![0u8; p.workspace_len()];
    let mut failing = FailingRng::default();
    let result = wire::decrypt_in(&world.provider, &owner(), &p, &mut failing, &mut workspace);
    assert_eq!(expect_err(result), Error::InternalFailure(Internal::Rng));
    assert_eq!(failing.attempts, 1);
    assert!(
        !holds(&workspace, MARKER.as_bytes()),
        "left after an RNG failure"
    );
}

#[test]
fn too_small_a_workspace_is_an_internal_failure() {
    let mut world = World::new(32);
    let blob = world.blob(Some(r#"{"a":"b"}"#));
    let p = params(Some(&blob), Some(r#"{"a":"b"}"#), None);
    let needed = p.workspace_len();
    for len in [0, needed / 2, needed - 1] {
        let mut workspace = vec![0u8; len];
        let result = wire::decrypt_in(&world.provider, &owner(), &p, &mut rng(1), &mut workspace);
        assert_eq!(
            expect_err(result),
            Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The typed layer

/// The typed operation opens the same blob to the same text, and draws nothing at all.
#[test]
fn the_typed_layer_opens_what_the_wire_opens_and_draws_nothing() {
    let mut world = World::new(40);
    let json = r#"{"b":"2","a":"1"}"#;
    let blob = world.blob(Some(json));
    let typed_blob = BlobBuf::from_base64(&blob).unwrap();
    assert_eq!(typed_blob.as_bytes(), unb64(&blob));
    let context = ContextBuf::from_pairs([("a", "1"), ("b", "2")]).unwrap();
    let request = DecryptRequest::new(&typed_blob).with_context(&context);
    let mut failing = FailingRng::default();
    let typed = ops::decrypt(&world.provider, &owner(), &request, &mut failing)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(failing.attempts, 0);
    let wire = world.open(&blob, Some(json)).unwrap();
    assert_eq!(typed.key_id, wire.key_id);
    assert_eq!(typed.key_version_id, wire.key_version_id);
    assert_eq!(typed.plaintext, wire.plaintext);
    // Under the empty context it does not open.
    let request = DecryptRequest::new(&typed_blob);
    let result = ops::decrypt(&world.provider, &owner(), &request, &mut failing);
    assert_eq!(
        expect_err(result),
        Error::InvalidParameter(kms_core::Parameter::CiphertextBlob)
    );
}

/// A passing typed dry run names the blob's version, even when it is no longer primary; its
/// permission failure is the plain `NoPermission`.
#[test]
fn a_typed_dry_run_names_the_blobs_version_and_fails_with_plain_errors() {
    let mut world = World::new(41);
    let key = world.key;
    let v1 = world.primary(&key);
    let blob = BlobBuf::from_base64(&world.blob(None)).unwrap();
    world.rotate(&key);
    let request = DecryptRequest::new(&blob).with_dry_run(true);
    assert_eq!(
        ops::decrypt(
            &world.provider,
            &owner(),
            &request,
            &mut FailingRng::default()
        )
        .map(|o| o.map(drop)),
        Ok(Outcome::DryRun(DryRunPassed {
            key_id: key,
            key_version_id: v1
        }))
    );
    for dry_run in [true, false] {
        let request = DecryptRequest::new(&blob).with_dry_run(dry_run);
        let result = ops::decrypt(&world.provider, &other(), &request, &mut rng(1));
        assert_eq!(expect_err(result), Error::NoPermission, "dry {dry_run}");
        let result = ops::decrypt(&world.provider, &elsewhere(), &request, &mut rng(1));
        assert_eq!(expect_err(result), Error::KeyNotFound, "dry {dry_run}");
    }
}

#[test]
fn a_typed_workspace_keeps_no_plaintext_once_the_output_is_dropped() {
    const MARKER: &str = "TYPED-DECRYPT-MARKER-0123456789";
    let mut world = World::new(42);
    let key = world.key_text();
    let blob = BlobBuf::from_base64(&world.seal_text(&key, MARKER, None)).unwrap();
    let request = DecryptRequest::new(&blob);
    let needed = request.workspace_len();
    let mut workspace = vec![0u8; needed - 1];
    let result = ops::decrypt_in(
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
    let opened = ops::decrypt_in(
        &world.provider,
        &owner(),
        &request,
        &mut rng(1),
        &mut workspace,
    )
    .unwrap()
    .done()
    .unwrap();
    assert_eq!(opened.plaintext.expose(), MARKER);
    drop(opened);
    assert!(!holds(&workspace, MARKER.as_bytes()));
}
