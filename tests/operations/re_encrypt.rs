//! ReEncrypt (spec §1, §4, §5, §7): a blob moved from its source version and context to the
//! destination key's primary version and context; the order of its parameters, and of
//! resolution, permission, state and usage across its two sides; a dry run that opens nothing;
//! its RNG draws; blobs made and checked with the testkit's own AES-GCM; what a workspace
//! keeps; and the typed layer.

use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::management;
use kms_core::ops::{self, DryRunPassed, Outcome, ReEncryptRequest};
use kms_core::wire::{self, GenerateDataKeyParams, ReEncryptParams};
use kms_core::{
    Error, InMemoryProvider, Internal, KeyId, KeyOptions, KeyOrigin, KeyReference, KeyState,
    MasterKeySpec, Parameter, RequestId, WorkspaceTooSmall,
};

use crate::generate_data_key::{holds, mirror, uuid_v4_of};
use crate::testkit::*;

/// ReEncrypt's parameters, each given (`Some`) or absent.
fn params<'a>(
    blob: Option<&'a str>,
    source_context: Option<&'a str>,
    destination: Option<&'a str>,
    destination_context: Option<&'a str>,
    dry_run: Option<&'a str>,
) -> ReEncryptParams<'a> {
    let mut p = ReEncryptParams::new();
    p.ciphertext_blob = blob;
    p.source_encryption_context = source_context;
    p.destination_key_id = destination;
    p.destination_encryption_context = destination_context;
    p.dry_run = dry_run;
    p
}

/// The plain request: `blob` to `destination`, both contexts empty.
fn to<'a>(blob: &'a str, destination: &'a str) -> ReEncryptParams<'a> {
    params(Some(blob), None, Some(destination), None, None)
}

/// A world with a second key, `dest`, of the same account.
struct Two {
    w: World,
    dest: KeyId,
}

impl Two {
    fn new(seed: u64) -> Self {
        let mut w = World::new(seed);
        let dest = w.create_in(ACCOUNT, REGION);
        Self { w, dest }
    }

    fn source_text(&self) -> String {
        self.w.key_text()
    }

    fn dest_text(&self) -> String {
        self.dest.to_string()
    }

    fn run(&mut self, p: &ReEncryptParams<'_>) -> Result<wire::CiphertextResponseBuf, Error> {
        self.w.re_encrypt_as(&owner(), p)
    }
}

/// The other account's own key, and a blob of the owner's sealed under the owner's key.
fn cross_account_world(seed: u64) -> (World, KeyId, String) {
    let mut w = World::new(seed);
    let theirs = w.create_in(OTHER_ACCOUNT, REGION);
    let key = w.key_text();
    let blob = w.seal_text(&key, "shared secret", None);
    (w, theirs, blob)
}

/// An `EXTERNAL` key of [`ACCOUNT`] holding `material`.
fn imported_key(world: &mut World, material: &[u8]) -> KeyId {
    let key = world.create(KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    world.import(&key, material);
    key
}

// ---------------------------------------------------------------------------------------------
// Moving blobs

#[test]
fn it_moves_a_blob_to_another_key() {
    let mut t = Two::new(1);
    let source = t.source_text();
    let dest = t.dest_text();
    for text in ["x", "héllo 🔑 wörld", &"€".repeat(2048)] {
        let blob = t.w.seal_text(&source, text, None);
        let out = t.run(&to(&blob, &dest)).expect("ReEncrypt");
        assert_eq!(out.key_id, t.dest);
        assert_eq!(out.key_version_id, t.w.primary(&t.dest));
        assert_ne!(out.key_version_id, t.w.primary(&t.w.key));
        assert_eq!(
            blob_version(&out.ciphertext_blob),
            out.key_version_id.as_str()
        );
        assert_eq!(unb64(&out.ciphertext_blob).len(), 36 + 12 + text.len() + 16);
        assert!(is_uuid_v4(&out.request_id.to_string()));

        let opened = t.w.open(&out.ciphertext_blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
        assert_eq!(opened.key_id, t.dest);
        assert_eq!(opened.key_version_id, out.key_version_id);
        // The source blob is untouched and still opens under the source key.
        let original = t.w.open(&blob, None).unwrap();
        assert_eq!(original.plaintext.expose(), text);
        assert_eq!(original.key_id, t.w.key);
    }
}

#[test]
fn a_data_key_blob_keeps_its_data_key() {
    let mut t = Two::new(2);
    let source = t.source_text();
    let dest = t.dest_text();
    let p = GenerateDataKeyParams::new()
        .key_id(&source)
        .number_of_bytes("1024");
    let generated = t.w.gdkwp_as(&owner(), &p).unwrap();
    let before = t.w.open(&generated.ciphertext_blob, None).unwrap();
    let moved = t.run(&to(&generated.ciphertext_blob, &dest)).unwrap();
    let after = t.w.open(&moved.ciphertext_blob, None).unwrap();
    assert_eq!(after.plaintext, before.plaintext);
    // 1024 bytes of key: 1368 characters of Base64.
    assert_eq!(after.plaintext.expose().len(), 1368);
    assert_eq!(after.key_id, t.dest);
}

#[test]
fn it_moves_a_blob_from_an_old_version_to_the_primary() {
    let mut w = World::new(3);
    let key = w.key;
    let id = w.key_text();
    let v1 = w.primary(&key);
    let blob = w.seal_text(&id, "rotate me", None);
    let v2 = w.rotate(&key);
    let v3 = w.rotate(&key);
    assert!(v1 != v2 && v2 != v3 && v1 != v3);
    let out = w.re_encrypt_as(&owner(), &to(&blob, &id)).unwrap();
    assert_eq!(out.key_id, key);
    assert_eq!(out.key_version_id, v3);
    assert_eq!(blob_version(&out.ciphertext_blob), v3.as_str());
    let opened = w.open(&out.ciphertext_blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "rotate me");
    assert_eq!(opened.key_version_id, v3);
    // The old blob still opens, under v1; only the primary sealed.
    assert_eq!(w.open(&blob, None).unwrap().key_version_id, v1);
    assert_eq!((w.seals(&v1), w.seals(&v2), w.seals(&v3)), (1, 0, 1));
}

#[test]
fn re_encrypting_to_the_same_version_makes_a_new_blob() {
    let mut w = World::new(4);
    let key = w.key_text();
    let blob = w.seal_text(&key, "same", None);
    let out = w.re_encrypt_as(&owner(), &to(&blob, &key)).unwrap();
    assert_eq!(out.key_version_id, w.primary(&w.key));
    assert_eq!(blob_version(&out.ciphertext_blob), blob_version(&blob));
    assert_ne!(out.ciphertext_blob, blob);
    assert_ne!(
        unb64(&out.ciphertext_blob)[36..48],
        unb64(&blob)[36..48],
        "a fresh IV"
    );
    assert_eq!(
        w.open(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "same"
    );
}

#[test]
fn the_destination_context_binds_the_new_blob() {
    let mut t = Two::new(5);
    let source = t.source_text();
    let dest = t.dest_text();
    let src_ctx = r#"{"stage":"source"}"#;
    let dst_ctx = r#"{"stage":"destination","n":"2"}"#;
    let blob = t.w.seal_text(&source, "moving", Some(src_ctx));
    let out = t
        .run(&params(
            Some(&blob),
            Some(src_ctx),
            Some(&dest),
            Some(dst_ctx),
            None,
        ))
        .unwrap();
    // Only the destination context opens the new blob, in any equivalent writing.
    let opened =
        t.w.open(
            &out.ciphertext_blob,
            Some(r#"{ "n":"2", "stage":"destination" }"#),
        )
        .unwrap();
    assert_eq!(opened.plaintext.expose(), "moving");
    for wrong in [None, Some(src_ctx), Some(r#"{"stage":"destination"}"#)] {
        let result = t.w.open(&out.ciphertext_blob, wrong);
        assert_eq!(
            Row::of(&expect_err(result)),
            Row::invalid("CiphertextBlob"),
            "{wrong:?}"
        );
    }
    // No destination context is the empty one.
    let out = t
        .run(&params(Some(&blob), Some(src_ctx), Some(&dest), None, None))
        .unwrap();
    assert_eq!(
        t.w.open(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "moving"
    );
    assert_row(
        t.w.open(&out.ciphertext_blob, Some(src_ctx)),
        Row::invalid("CiphertextBlob"),
    );
}

#[test]
fn the_source_context_must_match_the_sealing_one() {
    let mut t = Two::new(6);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", Some(r#"{"a":"1","b":"2"}"#));
    let dest_version = t.w.primary(&t.dest);
    // An equivalent text is the same context.
    let equivalent = r#"{"b":"2","a":"\u0031"}"#;
    let out = t.run(&params(
        Some(&blob),
        Some(equivalent),
        Some(&dest),
        None,
        None,
    ));
    assert_eq!(out.unwrap().key_id, t.dest);
    assert_eq!(t.w.seals(&dest_version), 1);
    for wrong in [
        None,
        Some("{}"),
        Some(r#"{"a":"1"}"#),
        Some(r#"{"a":"1","b":"3"}"#),
    ] {
        let result = t.run(&params(Some(&blob), wrong, Some(&dest), None, None));
        assert_row(result, Row::invalid("CiphertextBlob"));
        // The destination context plays no part in opening the source.
        let same_as_source = Some(r#"{"a":"1","b":"2"}"#);
        let result = t.run(&params(
            Some(&blob),
            wrong,
            Some(&dest),
            same_as_source,
            None,
        ));
        assert_row(result, Row::invalid("CiphertextBlob"));
    }
    // Failed opens sealed nothing.
    assert_eq!(t.w.seals(&dest_version), 1);
}

#[test]
fn chains_of_moves() {
    let mut t = Two::new(7);
    let a = t.source_text();
    let b = t.dest_text();
    let at_b = Some(r#"{"at":"b"}"#);
    let mut blob = t.w.seal_text(&a, "hop", None);
    for hop in 0..6 {
        let (dest, from_ctx, to_ctx) = if hop % 2 == 0 {
            (&b, None, at_b)
        } else {
            (&a, at_b, None)
        };
        let out = t
            .run(&params(Some(&blob), from_ctx, Some(dest), to_ctx, None))
            .unwrap();
        assert_eq!(out.key_id.as_str(), dest.as_str());
        blob = out.ciphertext_blob;
    }
    let opened = t.w.open(&blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "hop");
    assert_eq!(opened.key_id, t.w.key);
}

#[test]
fn to_and_from_an_aes_128_key() {
    let mut w = World::new(8);
    let aes128 = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    let out = w
        .re_encrypt_as(&owner(), &to(&blob, aes128.as_str()))
        .unwrap();
    assert_eq!(w.open(&out.ciphertext_blob, None).unwrap().key_id, aes128);
    let back = w
        .re_encrypt_as(&owner(), &to(&out.ciphertext_blob, &key))
        .unwrap();
    assert_eq!(
        w.open(&back.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "p"
    );
}

/// A blob made by the spec with the testkit's AES-GCM moves to a blob the spec opens: both
/// contexts bound as spec §4 encodes them, under a fresh IV.
#[test]
fn a_blob_sealed_by_the_spec_moves_to_a_blob_opened_by_the_spec() {
    let mut w = World::new(9);
    let src_material = [0x11u8; 32];
    let dst_material = known_material_128();
    let src = imported_key(&mut w, &src_material);
    let dst = w.create(
        KeyOptions::new(ACCOUNT, REGION)
            .spec(MasterKeySpec::Aes128)
            .origin(KeyOrigin::External),
    );
    w.import(&dst, &dst_material);
    let (src_v, dst_v) = (w.primary(&src), w.primary(&dst));
    let text = "sealed outside, moved inside: ✓";
    let src_aad = spec_aad(src_v.as_str(), &[("tenant", "t1"), ("app", "a")]);
    let blob = b64(&seal_blob(
        &src_material,
        src_v.as_str(),
        [7; 12],
        &src_aad,
        text.as_bytes(),
    ));
    let p = params(
        Some(&blob),
        Some(r#"{"app":"a","tenant":"t1"}"#),
        Some(dst.as_str()),
        Some(r#"{"moved":"yes"}"#),
        None,
    );
    let out = w.re_encrypt_as(&owner(), &p).unwrap();
    assert_eq!((out.key_id, out.key_version_id), (dst, dst_v));
    let raw = unb64(&out.ciphertext_blob);
    let dst_aad = spec_aad(dst_v.as_str(), &[("moved", "yes")]);
    assert_eq!(
        open_blob(&dst_material, &raw, &dst_aad).expect("the spec opens it"),
        text.as_bytes()
    );
    assert_ne!(raw[36..48], [7u8; 12], "a fresh IV, not the source's");
}

#[test]
fn a_source_whose_text_is_not_utf8_is_an_invalid_blob() {
    let mut w = World::new(10);
    let material = [0x33u8; 32];
    let src = imported_key(&mut w, &material);
    let dest = w.create_in(ACCOUNT, REGION);
    let version = w.primary(&src);
    let aad = spec_aad(version.as_str(), &[]);
    let blob = b64(&seal_blob(
        &material,
        version.as_str(),
        [1; 12],
        &aad,
        &[0xff, 0xfe, b'a'],
    ));
    let result = w.re_encrypt_as(&owner(), &to(&blob, dest.as_str()));
    assert_row(result, Row::invalid("CiphertextBlob"));
    assert_eq!(w.seals(&w.primary(&dest)), 0);
    // The same IV and context over valid UTF-8 move fine.
    let good = b64(&seal_blob(
        &material,
        version.as_str(),
        [1; 12],
        &aad,
        b"ok",
    ));
    w.re_encrypt_as(&owner(), &to(&good, dest.as_str()))
        .unwrap();
    assert_eq!(w.seals(&w.primary(&dest)), 1);
}

// ---------------------------------------------------------------------------------------------
// The order of the checks across the two sides

/// `CiphertextBlob`, `SourceEncryptionContext`, `DestinationKeyId`,
/// `DestinationEncryptionContext` [decided], all before resolution.
#[test]
fn the_parameters_are_checked_in_order() {
    let mut t = Two::new(20);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let unknown_source = with_prefix(&blob, UNKNOWN_KEY_ID);
    let cases = [
        (
            params(None, None, None, None, None),
            Row::missing("CiphertextBlob"),
        ),
        (
            params(None, Some("[]"), Some(""), Some("[]"), None),
            Row::missing("CiphertextBlob"),
        ),
        (
            params(Some("bad"), Some("[]"), Some(""), None, None),
            Row::invalid("CiphertextBlob"),
        ),
        (
            params(Some(&blob), Some("[]"), None, Some("[]"), None),
            Row::invalid("SourceEncryptionContext"),
        ),
        (
            params(Some(&blob), None, None, Some("[]"), None),
            Row::missing("DestinationKeyId"),
        ),
        (
            params(Some(&blob), None, Some(""), Some("[]"), None),
            Row::invalid("DestinationKeyId"),
        ),
        (
            params(Some(&blob), None, Some(&dest), Some("[]"), None),
            Row::invalid("DestinationEncryptionContext"),
        ),
        // Every parameter before resolution: an unknown source and an unknown destination.
        (
            params(
                Some(&unknown_source),
                None,
                Some("alias/none"),
                Some("[]"),
                None,
            ),
            Row::invalid("DestinationEncryptionContext"),
        ),
        // The same in dry runs, as ValidationErrors.
        (
            params(Some(&blob), None, None, None, Some("true")),
            Row::validation_missing("DestinationKeyId"),
        ),
        (
            params(None, None, Some(&dest), None, Some("true")),
            Row::validation_missing("CiphertextBlob"),
        ),
        (
            params(Some(&blob), None, Some(""), None, Some("true")),
            Row::validation_invalid("DestinationKeyId"),
        ),
        (
            params(Some("garbage"), None, Some(&dest), None, Some("true")),
            Row::validation_invalid("CiphertextBlob"),
        ),
        (
            params(Some(&blob), Some("[1]"), Some(&dest), None, Some("true")),
            Row::validation_invalid("SourceEncryptionContext"),
        ),
        (
            params(
                Some(&blob),
                None,
                Some(&dest),
                Some(r#"{"a":{}}"#),
                Some("true"),
            ),
            Row::validation_invalid("DestinationEncryptionContext"),
        ),
    ];
    for (p, row) in &cases {
        let result = t.run(p);
        assert_eq!(Row::of(&expect_err(result)), *row, "{p:?}");
    }
}

/// The source is resolved before the destination, and both before any permission or state.
#[test]
fn both_sides_are_resolved_first_the_source_then_the_destination() {
    let mut t = Two::new(21);
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    let unknown_source = with_prefix(&blob, UNKNOWN_KEY_ID);
    assert_row(
        t.run(&to(&unknown_source, "alias/none")),
        Row::key_not_found(),
    );
    // The other account may not use the source, and the destination does not exist.
    let result = t.w.re_encrypt_as(&other(), &to(&blob, "alias/none"));
    assert_row(result, Row::alias_not_found());
    // A disabled source, a missing destination.
    t.w.put_in_state(&t.w.key.clone(), KeyState::Disabled);
    assert_row(t.run(&to(&blob, "alias/none")), Row::alias_not_found());
    let dry = params(Some(&blob), None, Some("alias/none"), None, Some("true"));
    assert_row(t.run(&dry), Row::alias_not_found());
}

/// A permission missing on either side is reported before a state or usage on the other.
#[test]
fn permission_comes_before_state_and_usage_on_both_sides() {
    for dry_run in [None, Some("true")] {
        let row = if dry_run.is_some() {
            Row::access_denied()
        } else {
            Row::no_permission()
        };
        // Source not permitted, destination disabled.
        let (mut w, theirs, blob) = cross_account_world(22);
        let staged = management::disable_key(&w.provider, &other(), &theirs.into(), T0);
        w.commit(staged);
        let p = params(Some(&blob), None, Some(theirs.as_str()), None, dry_run);
        assert_row(w.re_encrypt_as(&other(), &p), row.clone());
        // Source disabled, destination not permitted.
        let (mut w, theirs, blob) = cross_account_world(23);
        w.put_in_state(&w.key.clone(), KeyState::Disabled);
        let arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
        let p = params(Some(&blob), None, Some(&arn), None, dry_run);
        assert_row(w.re_encrypt_as(&owner(), &p), row.clone());
        // Source not permitted, destination asymmetric.
        let (mut w, _, blob) = cross_account_world(24);
        let ec = w.create(KeyOptions::new(OTHER_ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
        let p = params(Some(&blob), None, Some(ec.as_str()), None, dry_run);
        assert_row(w.re_encrypt_as(&other(), &p), row);
    }
}

/// The source's state and usage come before the destination's; on each side the state comes
/// before the usage.
#[test]
fn state_and_usage_the_source_then_the_destination() {
    let mut w = World::new(25);
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    let pending = w.key_in_state(KeyState::PendingDeletion);
    let ec = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    w.put_in_state(&w.key.clone(), KeyState::Disabled);
    for dry_run in [None, Some("true")] {
        // A disabled source before a destination pending deletion, or asymmetric.
        for dest in [pending, ec] {
            let p = params(Some(&blob), None, Some(dest.as_str()), None, dry_run);
            assert_row(w.re_encrypt_as(&owner(), &p), Row::rejected("Disabled"));
        }
    }
    // A source that cannot decrypt (a blob naming an asymmetric key's version) before a
    // disabled destination.
    let disabled_dest = w.key_in_state(KeyState::Disabled);
    let naming_ec = with_prefix(&blob, w.primary(&ec).as_str());
    let result = w.re_encrypt_as(&owner(), &to(&naming_ec, disabled_dest.as_str()));
    assert_row(result, Row::unsupported());
    // The destination's state before its usage.
    let staged = management::enable_key(&w.provider, &owner(), &w.key.into(), T0);
    w.commit(staged);
    w.put_in_state(&ec, KeyState::Disabled);
    assert_row(
        w.re_encrypt_as(&owner(), &to(&blob, ec.as_str())),
        Row::rejected("Disabled"),
    );
}

/// A destination, or a source, whose key was deleted names nothing any more.
#[test]
fn deleted_keys_are_not_found_on_either_side() {
    let mut t = Two::new(26);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let old = t.w.seal_text(&source, "older", None);
    t.w.rotate(&t.w.key.clone());
    let newer = t.w.seal_text(&source, "newer", None);
    let moved = t.run(&to(&blob, &dest)).unwrap().ciphertext_blob;

    let delete = |w: &mut World, key: KeyId| {
        w.put_in_state(&key, KeyState::PendingDeletion);
        let staged = management::delete_key(&w.provider, &owner(), &key.into(), T0);
        w.commit(staged);
    };
    // The destination pending deletion, then deleted.
    t.w.put_in_state(&t.dest.clone(), KeyState::PendingDeletion);
    assert_row(t.run(&to(&blob, &dest)), Row::rejected("PendingDeletion"));
    let staged = management::delete_key(&t.w.provider, &owner(), &t.dest.into(), T0);
    t.w.commit(staged);
    assert_row(t.run(&to(&blob, &dest)), Row::key_not_found());
    let dry = params(Some(&blob), None, Some(&dest), None, Some("true"));
    assert_row(t.run(&dry), Row::key_not_found());
    // Blobs sealed under it name a version nobody has any more.
    assert_row(t.run(&to(&moved, &source)), Row::key_not_found());

    // The source deleted: all its versions go.
    let other_dest = t.w.create_in(ACCOUNT, REGION).to_string();
    let key = t.w.key;
    delete(&mut t.w, key);
    for b in [&blob, &old, &newer] {
        assert_row(t.run(&to(b, &other_dest)), Row::key_not_found());
    }
}

// ---------------------------------------------------------------------------------------------
// Dry runs and the RNG

/// A dry run checks both sides but opens nothing: a source context that would not open the
/// blob, or a broken tag, is not found out. It draws nothing and seals nothing.
#[test]
fn a_dry_run_opens_nothing_and_seals_nothing() {
    let mut t = Two::new(30);
    let source = t.source_text();
    let dest = t.dest_text();
    let ctx = r#"{"k":"v"}"#;
    let blob = t.w.seal_text(&source, "p", Some(ctx));
    let broken = flip(&blob, 50);
    let source_version = t.w.primary(&t.w.key);
    let dest_version = t.w.primary(&t.dest);
    for p in [
        params(
            Some(&blob),
            Some(ctx),
            Some(&dest),
            Some(r#"{"d":"e"}"#),
            Some("true"),
        ),
        params(Some(&blob), None, Some(&dest), None, Some("true")),
        params(Some(&broken), Some(ctx), Some(&dest), None, Some("true")),
    ] {
        let mut counting = CountingRng::new(rng(30));
        let result = wire::re_encrypt(&t.w.provider, &owner(), &p, &mut counting);
        assert_row(result, Row::dry_run_passed());
        assert_eq!(counting.calls, 0, "a dry run drew");
    }
    assert_eq!(
        (t.w.seals(&source_version), t.w.seals(&dest_version)),
        (1, 0)
    );
    assert_row(t.run(&to(&blob, &dest)), Row::invalid("CiphertextBlob"));
    let real = params(Some(&broken), Some(ctx), Some(&dest), None, None);
    assert_row(t.run(&real), Row::invalid("CiphertextBlob"));
}

/// The wire draws the IV, then the RequestId; opening the source draws nothing.
#[test]
fn the_iv_and_the_request_id_are_the_rngs_output_in_that_order() {
    let mut t = Two::new(31);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let drawn = mirror(31, &[12, 16]);
    let mut r = CountingRng::new(rng(31));
    let out = wire::re_encrypt(&t.w.provider, &owner(), &to(&blob, &dest), &mut r).unwrap();
    assert_eq!((r.calls, r.bytes), (2, 12 + 16));
    assert_eq!(unb64(&out.ciphertext_blob)[36..48], drawn[0]);
    assert_eq!(out.request_id.to_string(), uuid_v4_of(&drawn[1]));
}

#[test]
fn an_rng_that_runs_dry_at_each_draw() {
    let mut t = Two::new(32);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let dest_version = t.w.primary(&t.dest);
    for (budget, seals) in [(0, 0), (11, 0), (12, 1), (12 + 15, 2)] {
        let mut limited = LimitedRng::new(1, budget);
        let result = wire::re_encrypt(&t.w.provider, &owner(), &to(&blob, &dest), &mut limited);
        assert_eq!(
            expect_err(result),
            Error::InternalFailure(Internal::Rng),
            "{budget}"
        );
        assert_eq!(t.w.seals(&dest_version), seals, "{budget}");
    }
}

#[test]
fn a_request_id_is_supplied_or_drawn() {
    let mut t = Two::new(33);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let supplied = RequestId::parse(b"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").unwrap();
    let mut counting = CountingRng::new(rng(33));
    let p = to(&blob, &dest).request_id(supplied);
    let out = wire::re_encrypt(&t.w.provider, &owner(), &p, &mut counting).unwrap();
    assert_eq!(out.request_id, supplied);
    assert_eq!(counting.bytes, 12);
    let drawn = t.run(&to(&blob, &dest)).unwrap().request_id;
    assert!(is_uuid_v4(&drawn.to_string()));
    assert_ne!(drawn, supplied);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form and what a workspace keeps

#[test]
fn the_in_form_matches_the_owned_form() {
    let mut t = Two::new(40);
    let source = t.source_text();
    let dest = t.dest_text();
    let long = "m".repeat(6144);
    for (text, src_ctx, dst_ctx) in [
        ("p", None, None),
        ("ünï", Some(r#"{"a":"b"}"#), Some(r#"{ "c" : "\u0064" }"#)),
        (long.as_str(), Some("{}"), Some(r#"{"x":""}"#)),
    ] {
        let blob = t.w.seal_text(&source, text, src_ctx);
        let p = params(Some(&blob), src_ctx, Some(&dest), dst_ctx, None);
        let owned = wire::re_encrypt(&t.w.provider, &owner(), &p, &mut rng(4)).unwrap();
        let mut workspace = vec![0u8; p.workspace_len()];
        let borrowed =
            wire::re_encrypt_in(&t.w.provider, &owner(), &p, &mut rng(4), &mut workspace).unwrap();
        assert_eq!(borrowed.to_owned(), owned);
        let opened = t.w.open(&owned.ciphertext_blob, dst_ctx).unwrap();
        assert_eq!(opened.plaintext.expose(), text);
    }
}

#[test]
fn the_in_forms_errors_match_the_owned_forms() {
    let mut t = Two::new(41);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", Some(r#"{"a":"b"}"#));
    let disabled = t.w.key_in_state(KeyState::Disabled).to_string();
    let cases = [
        (
            params(None, None, None, None, None),
            Row::missing("CiphertextBlob"),
        ),
        (to(&blob, ""), Row::invalid("DestinationKeyId")),
        (to("AAAA", &dest), Row::invalid("CiphertextBlob")),
        (to(&blob, &dest), Row::invalid("CiphertextBlob")),
        (to(&blob, "alias/none"), Row::alias_not_found()),
        (to(&blob, &disabled), Row::rejected("Disabled")),
        (
            params(Some(&blob), None, Some(&dest), None, Some("true")),
            Row::dry_run_passed(),
        ),
    ];
    for (p, row) in &cases {
        let owned = expect_err(t.run(p));
        let mut workspace = vec![0u8; p.workspace_len()];
        let borrowed = expect_err(wire::re_encrypt_in(
            &t.w.provider,
            &owner(),
            p,
            &mut t.w.rng,
            &mut workspace,
        ));
        assert_eq!(borrowed, owned, "{p:?}");
        assert_eq!(Row::of(&borrowed), *row, "{p:?}");
    }
}

#[test]
fn too_small_a_workspace_is_an_internal_failure_and_seals_nothing() {
    let mut t = Two::new(42);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "some text", None);
    let dest_version = t.w.primary(&t.dest);
    let p = params(Some(&blob), None, Some(&dest), Some(r#"{"a":"b"}"#), None);
    let needed = p.workspace_len();
    for len in [0, needed / 2, needed - 1] {
        let mut workspace = vec![0u8; len];
        let result = wire::re_encrypt_in(&t.w.provider, &owner(), &p, &mut rng(1), &mut workspace);
        assert_eq!(
            expect_err(result),
            Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
        );
    }
    assert_eq!(t.w.seals(&dest_version), 0);
}

/// The text is opened in the workspace and sealed again there: after a success, a failed
/// seal, a failed RequestId or a refused seal, none of it is left.
#[test]
fn the_workspace_keeps_no_plaintext() {
    const MARKER: &str = "PLAINTEXT-MARKER-that-must-not-linger-0123456789";
    let mut t = Two::new(43);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, MARKER, None);
    let p = to(&blob, &dest);
    for (budget, outcome) in [
        (usize::MAX, "success"),
        (0, "a failed seal"),
        (12, "a failed RequestId"),
    ] {
        let mut workspace = vec![0u8; p.workspace_len()];
        let mut limited = LimitedRng::new(3, budget);
        let result = wire::re_encrypt_in(&t.w.provider, &owner(), &p, &mut limited, &mut workspace);
        assert_eq!(result.is_ok(), budget == usize::MAX, "{outcome}");
        assert!(
            !holds(&workspace, MARKER.as_bytes()),
            "left after {outcome}"
        );
    }

    // The destination refuses to seal: its budget is spent.
    let mut refusing = World::with_provider(InMemoryProvider::new().with_seal_limit(1), 44);
    let key = refusing.key_text();
    let blob = refusing.seal_text(&key, MARKER, None);
    let p = to(&blob, &key);
    let mut workspace = vec![0u8; p.workspace_len()];
    let result = wire::re_encrypt_in(
        &refusing.provider,
        &owner(),
        &p,
        &mut rng(1),
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

/// The typed operation draws the IV only: the same RNG bytes make the wire's blob.
#[test]
fn the_typed_layer_makes_the_wires_blob_from_the_same_rng_bytes() {
    let mut t = Two::new(50);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "moved ✓", Some(r#"{"a":"1"}"#));
    let typed_blob = BlobBuf::from_base64(&blob).unwrap();
    let from = ContextBuf::from_pairs([("a", "1")]).unwrap();
    let into = ContextBuf::from_pairs([("z", ""), ("b", "2")]).unwrap();
    let request = ReEncryptRequest::new(&typed_blob, t.dest)
        .with_source_context(&from)
        .with_destination_context(&into);
    let mut r = CountingRng::new(rng(50));
    let typed = ops::re_encrypt(&t.w.provider, &owner(), &request, &mut r)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!((r.calls, r.bytes), (1, 12));
    let p = params(
        Some(&blob),
        Some(r#"{"a":"1"}"#),
        Some(&dest),
        Some(r#"{"b":"2","z":""}"#),
        None,
    );
    let wire = wire::re_encrypt(&t.w.provider, &owner(), &p, &mut rng(50)).unwrap();
    assert_eq!(typed.key_id, wire.key_id);
    assert_eq!(typed.key_version_id, wire.key_version_id);
    assert_eq!(typed.ciphertext_blob.to_base64(), wire.ciphertext_blob);
    let opened =
        t.w.open(&wire.ciphertext_blob, Some(r#"{"z":"","b":"2"}"#))
            .unwrap();
    assert_eq!(opened.plaintext.expose(), "moved ✓");
}

/// A passing typed dry run names the destination's key and primary version [decided]; its
/// permission failures, on either side, are the plain `NoPermission`.
#[test]
fn a_typed_dry_run_names_the_destination_and_fails_with_plain_errors() {
    let (mut w, theirs, blob) = cross_account_world(51);
    let typed_blob = BlobBuf::from_base64(&blob).unwrap();
    let own = w.key;
    let own_version = w.primary(&own);
    let dest = w.create_in(ACCOUNT, REGION);
    let request = ReEncryptRequest::new(&typed_blob, dest).with_dry_run(true);
    let mut failing = FailingRng::default();
    assert_eq!(
        ops::re_encrypt(&w.provider, &owner(), &request, &mut failing),
        Ok(Outcome::DryRun(DryRunPassed {
            key_id: dest,
            key_version_id: w.primary(&dest),
        }))
    );
    assert_eq!(failing.attempts, 0);
    assert_eq!((w.seals(&own_version), w.seals(&w.primary(&dest))), (1, 0));
    // The destination refuses the owner; the source refuses the other account.
    let arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    let their_key = KeyReference::parse(&arn, Parameter::DestinationKeyId).unwrap();
    for dry_run in [true, false] {
        let request = ReEncryptRequest::new(&typed_blob, their_key).with_dry_run(dry_run);
        let result = ops::re_encrypt(&w.provider, &owner(), &request, &mut rng(1));
        assert_eq!(expect_err(result), Error::NoPermission, "dry {dry_run}");
        let request = ReEncryptRequest::new(&typed_blob, theirs).with_dry_run(dry_run);
        let result = ops::re_encrypt(&w.provider, &other(), &request, &mut rng(1));
        assert_eq!(expect_err(result), Error::NoPermission, "dry {dry_run}");
    }
    w.grant(&own, OTHER_ACCOUNT, &[kms_core::Permission::ReEncryptFrom]);
    let request = ReEncryptRequest::new(&typed_blob, theirs).with_dry_run(true);
    assert_eq!(
        ops::re_encrypt(&w.provider, &other(), &request, &mut rng(1)),
        Ok(Outcome::DryRun(DryRunPassed {
            key_id: theirs,
            key_version_id: w.primary(&theirs),
        }))
    );
}

#[test]
fn a_typed_workspace_keeps_no_plaintext() {
    const MARKER: &str = "TYPED-REENCRYPT-MARKER-0123456789";
    let mut t = Two::new(52);
    let source = t.source_text();
    let blob = BlobBuf::from_base64(&t.w.seal_text(&source, MARKER, None)).unwrap();
    let request = ReEncryptRequest::new(&blob, t.dest);
    let needed = request.workspace_len();
    let mut workspace = vec![0u8; needed - 1];
    let result = ops::re_encrypt_in(
        &t.w.provider,
        &owner(),
        &request,
        &mut rng(1),
        &mut workspace,
    );
    assert_eq!(
        expect_err(result),
        Error::InternalFailure(Internal::WorkspaceTooSmall(WorkspaceTooSmall { needed }))
    );
    for budget in [usize::MAX, 0] {
        let mut workspace = vec![0u8; needed];
        let mut limited = LimitedRng::new(5, budget);
        let result = ops::re_encrypt_in(
            &t.w.provider,
            &owner(),
            &request,
            &mut limited,
            &mut workspace,
        );
        assert_eq!(result.is_ok(), budget == usize::MAX);
        assert!(!holds(&workspace, MARKER.as_bytes()), "budget {budget}");
    }
}
