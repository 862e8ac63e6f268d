//! ReEncrypt (spec §1, §2, §5, §6, §7, §8): moving a blob from its source key version and
//! context to a destination key's primary version and context; the parameter order, both
//! sides' resolution, permission, state and usage; dry runs; the no-alloc form.

mod support_ops;

use kms_core::{
    Action, Caller, Error, GenerateDataKeyRequest, KeyId, KeyOptions, KeyState, KeyUsage,
    MasterKeySpec, Parameter, ReEncryptRequest, ReEncryptResponse, RequestId,
    generate_data_key_without_plaintext, re_encrypt, re_encrypt_in,
};
use support_ops::*;

type Response = Result<ReEncryptResponse, Error>;

/// A world with a second key `dest` of the same account.
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

    fn run(&mut self, request: &ReEncryptRequest<'_>) -> Response {
        run_as(&mut self.w, &owner(), request)
    }
}

fn run_as(world: &mut World, caller: &Caller<'_>, request: &ReEncryptRequest<'_>) -> Response {
    re_encrypt(&mut world.provider, caller, request, &mut world.rng)
}

fn dry<'a>(blob: &'a str, dest: &'a str) -> ReEncryptRequest<'a> {
    ReEncryptRequest {
        dry_run: Some("true"),
        ..ReEncryptRequest::new(blob, dest)
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn moves_a_blob_to_another_key() {
    let mut t = Two::new(1);
    let source = t.source_text();
    let dest = t.dest_text();
    for plaintext in ["x", "héllo 🔑 wörld", &"€".repeat(2048)] {
        let blob = t.w.seal_text(&source, plaintext, None);
        let out = t
            .run(&ReEncryptRequest::new(&blob, &dest))
            .expect("re-encrypt");
        assert_eq!(out.key_id, t.dest);
        assert_eq!(out.key_version_id, t.w.primary(&t.dest));
        assert_ne!(out.key_version_id, t.w.primary(&t.w.key));
        assert_eq!(
            blob_version(&out.ciphertext_blob),
            out.key_version_id.as_str()
        );
        assert_eq!(
            blob_bytes(&out.ciphertext_blob).len(),
            36 + 12 + plaintext.len() + 16
        );
        assert!(is_uuid_v4(out.request_id.as_str()));

        let opened = t.w.decrypt(&out.ciphertext_blob, None).unwrap();
        assert_eq!(opened.plaintext.expose(), plaintext);
        assert_eq!(opened.key_id, t.dest);
        assert_eq!(opened.key_version_id, out.key_version_id);
        // The source blob is untouched and still opens under the source key.
        let original = t.w.decrypt(&blob, None).unwrap();
        assert_eq!(original.plaintext.expose(), plaintext);
        assert_eq!(original.key_id, t.w.key);
    }
}

#[test]
fn every_destination_reference_form() {
    let mut t = Two::new(2);
    t.w.provider.create_alias("alias/dest", &t.dest).unwrap();
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    for form in [
        t.dest_text(),
        "alias/dest".to_string(),
        key_arn(REGION, ACCOUNT, &t.dest),
        alias_arn(REGION, ACCOUNT, "alias/dest"),
    ] {
        let out = t.run(&ReEncryptRequest::new(&blob, &form)).expect(&form);
        assert_eq!(out.key_id, t.dest, "{form}");
        assert_eq!(
            t.w.decrypt(&out.ciphertext_blob, None)
                .unwrap()
                .plaintext
                .expose(),
            "p"
        );
    }
}

#[test]
fn a_data_key_blob_keeps_its_data_key() {
    let mut t = Two::new(3);
    let source = t.source_text();
    let dest = t.dest_text();
    let generated = generate_data_key_without_plaintext(
        &mut t.w.provider,
        &owner(),
        &GenerateDataKeyRequest {
            number_of_bytes: Some("1024"),
            ..GenerateDataKeyRequest::new(&source)
        },
        &mut t.w.rng,
    )
    .unwrap();
    let before = t.w.decrypt(&generated.ciphertext_blob, None).unwrap();
    let moved = t
        .run(&ReEncryptRequest::new(&generated.ciphertext_blob, &dest))
        .unwrap();
    let after = t.w.decrypt(&moved.ciphertext_blob, None).unwrap();
    assert_eq!(after.plaintext.expose(), before.plaintext.expose());
    assert_eq!(after.plaintext.expose().len(), 1368);
    assert_eq!(after.key_id, t.dest);
}

#[test]
fn moves_a_blob_from_an_old_version_to_the_primary() {
    let mut w = World::new(4);
    let key = w.key_text();
    let v1 = w.primary(&w.key);
    let blob = w.seal_text(&key, "rotate me", None);
    let v2 = w.provider.rotate_key(&w.key, &mut w.rng).unwrap();
    let v3 = w.provider.rotate_key(&w.key, &mut w.rng).unwrap();
    assert!(v1 != v2 && v2 != v3 && v1 != v3);

    let out = run_as(&mut w, &owner(), &ReEncryptRequest::new(&blob, &key)).unwrap();
    assert_eq!(out.key_id, w.key);
    assert_eq!(out.key_version_id, v3);
    assert_eq!(blob_version(&out.ciphertext_blob), v3.as_str());
    let opened = w.decrypt(&out.ciphertext_blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "rotate me");
    assert_eq!(opened.key_version_id, v3);
    // The old blob still opens, under v1.
    assert_eq!(w.decrypt(&blob, None).unwrap().key_version_id, v1);
    // Only the primary sealed.
    assert_eq!(w.seals(&v1), 1);
    assert_eq!(w.seals(&v2), 0);
    assert_eq!(w.seals(&v3), 1);
}

#[test]
fn re_encrypting_to_the_same_version_makes_a_new_blob() {
    let mut w = World::new(5);
    let key = w.key_text();
    let blob = w.seal_text(&key, "same", None);
    let out = run_as(&mut w, &owner(), &ReEncryptRequest::new(&blob, &key)).unwrap();
    assert_eq!(out.key_version_id, w.primary(&w.key));
    assert_ne!(out.ciphertext_blob, blob);
    assert_eq!(
        w.decrypt(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "same"
    );
}

#[test]
fn destination_context_binds_the_new_blob() {
    let mut t = Two::new(6);
    let source = t.source_text();
    let dest = t.dest_text();
    let src_ctx = r#"{"stage":"source"}"#;
    let dst_ctx = r#"{"stage":"destination","n":"2"}"#;
    let blob = t.w.seal_text(&source, "moving", Some(src_ctx));
    let out = t
        .run(&ReEncryptRequest {
            source_encryption_context: Some(src_ctx),
            destination_encryption_context: Some(dst_ctx),
            ..ReEncryptRequest::new(&blob, &dest)
        })
        .unwrap();
    // Only the destination context opens the new blob, in any equivalent writing.
    let opened =
        t.w.decrypt(
            &out.ciphertext_blob,
            Some(r#"{ "n":"2", "stage":"destination" }"#),
        )
        .unwrap();
    assert_eq!(opened.plaintext.expose(), "moving");
    for wrong in [None, Some(src_ctx), Some(r#"{"stage":"destination"}"#)] {
        assert_invalid(
            t.w.decrypt(&out.ciphertext_blob, wrong),
            Parameter::CiphertextBlob,
            "CiphertextBlob",
        );
    }
    // Dropping the context: no destination context means the empty one.
    let out = t
        .run(&ReEncryptRequest {
            source_encryption_context: Some(src_ctx),
            ..ReEncryptRequest::new(&blob, &dest)
        })
        .unwrap();
    assert_eq!(
        t.w.decrypt(&out.ciphertext_blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "moving"
    );
    assert_invalid(
        t.w.decrypt(&out.ciphertext_blob, Some(src_ctx)),
        Parameter::CiphertextBlob,
        "CiphertextBlob",
    );
}

#[test]
fn source_context_must_match_the_sealing_one() {
    let mut t = Two::new(7);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", Some(r#"{"a":"1","b":"2"}"#));
    let dest_version = t.w.primary(&t.dest);
    // An equivalent text is the same context.
    let ok = t.run(&ReEncryptRequest {
        source_encryption_context: Some(r#"{"b":"2","a":"\u0031"}"#),
        ..ReEncryptRequest::new(&blob, &dest)
    });
    assert_eq!(ok.unwrap().key_id, t.dest);
    assert_eq!(t.w.seals(&dest_version), 1);
    for wrong in [
        None,
        Some("{}"),
        Some(r#"{"a":"1"}"#),
        Some(r#"{"a":"1","b":"3"}"#),
    ] {
        let req = ReEncryptRequest {
            source_encryption_context: wrong,
            ..ReEncryptRequest::new(&blob, &dest)
        };
        assert_invalid(t.run(&req), Parameter::CiphertextBlob, "CiphertextBlob");
        // The destination context plays no part in opening the source.
        let req = ReEncryptRequest {
            destination_encryption_context: Some(r#"{"a":"1","b":"2"}"#),
            ..req
        };
        assert_invalid(t.run(&req), Parameter::CiphertextBlob, "CiphertextBlob");
    }
    // Failed opens sealed nothing.
    assert_eq!(t.w.seals(&dest_version), 1);
}

#[test]
fn chains_of_moves() {
    let mut t = Two::new(8);
    let a = t.source_text();
    let b = t.dest_text();
    let mut blob = t.w.seal_text(&a, "hop", None);
    for hop in 0..6 {
        let (to, ctx) = if hop % 2 == 0 {
            (&b, Some(r#"{"at":"b"}"#))
        } else {
            (&a, None)
        };
        let from_ctx = if hop % 2 == 0 {
            None
        } else {
            Some(r#"{"at":"b"}"#)
        };
        let out = t
            .run(&ReEncryptRequest {
                source_encryption_context: from_ctx,
                destination_encryption_context: ctx,
                ..ReEncryptRequest::new(&blob, to)
            })
            .unwrap();
        assert_eq!(out.key_id.as_str(), to.as_str());
        blob = out.ciphertext_blob;
    }
    let opened = t.w.decrypt(&blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "hop");
    assert_eq!(opened.key_id, t.w.key);
}

#[test]
fn to_an_aes_128_key() {
    let mut w = World::new(9);
    let dest = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    let out = run_as(
        &mut w,
        &owner(),
        &ReEncryptRequest::new(&blob, dest.as_str()),
    )
    .unwrap();
    assert_eq!(w.decrypt(&out.ciphertext_blob, None).unwrap().key_id, dest);
}

#[test]
fn request_id_is_supplied_or_drawn() {
    let mut t = Two::new(10);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let supplied = RequestId::parse(b"aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee").unwrap();
    let out = t
        .run(&ReEncryptRequest {
            request_id: Some(supplied),
            ..ReEncryptRequest::new(&blob, &dest)
        })
        .unwrap();
    assert_eq!(out.request_id, supplied);
    let drawn = t
        .run(&ReEncryptRequest::new(&blob, &dest))
        .unwrap()
        .request_id;
    assert!(is_uuid_v4(drawn.as_str()));
    assert_ne!(drawn, supplied);
}

// ---------------------------------------------------------------------------------------------
// Step 1: parameters, in the order CiphertextBlob, SourceEncryptionContext, DestinationKeyId,
// DestinationEncryptionContext [decided].

#[test]
fn missing_parameters() {
    let mut t = Two::new(20);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let no_blob = ReEncryptRequest {
        destination_key_id: Some(&dest),
        ..ReEncryptRequest::default()
    };
    assert_missing(t.run(&no_blob), Parameter::CiphertextBlob, "CiphertextBlob");
    let no_dest = ReEncryptRequest {
        ciphertext_blob: Some(&blob),
        ..ReEncryptRequest::default()
    };
    assert_missing(
        t.run(&no_dest),
        Parameter::DestinationKeyId,
        "DestinationKeyId",
    );
    assert_missing(
        t.run(&ReEncryptRequest::default()),
        Parameter::CiphertextBlob,
        "CiphertextBlob",
    );
}

#[test]
fn invalid_destination_key_id() {
    let mut t = Two::new(21);
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    let long = "d".repeat(2049);
    let bad_arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{}", "X".repeat(36));
    let half_arn = format!("acs:kms:{REGION}:{ACCOUNT}:");
    for bad in ["", "ключ", long.as_str(), &bad_arn, &half_arn, "acs:kms"] {
        assert_invalid(
            t.run(&ReEncryptRequest::new(&blob, bad)),
            Parameter::DestinationKeyId,
            "DestinationKeyId",
        );
    }
}

/// The same bytes in non-canonical Base64: a padding bit set in the last character before `=`.
fn non_canonical(blob: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let padding = blob.len() - blob.trim_end_matches('=').len();
    assert!(padding > 0, "needs a padded blob");
    let at = blob.len() - padding - 1;
    let mut bytes = blob.as_bytes().to_vec();
    let index = ALPHABET.iter().position(|c| *c == bytes[at]).unwrap();
    assert_eq!(index & 1, 0, "canonical to begin with");
    bytes[at] = ALPHABET[index | 1];
    String::from_utf8(bytes).unwrap()
}

#[test]
fn invalid_ciphertext_blob() {
    let mut t = Two::new(22);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let bytes = blob_bytes(&blob);
    let mut upper_prefix = bytes.clone();
    upper_prefix[..36].make_ascii_uppercase();
    let too_long = {
        let mut b = bytes[..48].to_vec();
        b.extend(std::iter::repeat_n(0u8, 6145 + 16));
        to_base64(&b)
    };
    let candidates = [
        String::new(),
        "not base64 at all!".to_string(),
        blob.trim_end_matches('=').to_string(),
        format!("{blob}=="),
        format!(" {blob}"),
        to_base64(&bytes[..64]),
        to_base64(&upper_prefix),
        too_long,
        "A".repeat(100_000),
        non_canonical(&blob),
        format!("{}\n{}", &blob[..40], &blob[40..]),
        // A flipped bit in the IV, body and tag: the tag fails.
        flip(&blob, 40),
        flip(&blob, 48),
        flip(&blob, bytes.len() - 1),
    ];
    let mut candidates = candidates.to_vec();
    // The URL-safe alphabet is not standard Base64.
    let url_safe = blob.replace('+', "-").replace('/', "_");
    if url_safe != blob {
        candidates.push(url_safe);
    }
    let dest_version = t.w.primary(&t.dest);
    for bad in &candidates {
        assert_invalid(
            t.run(&ReEncryptRequest::new(bad, &dest)),
            Parameter::CiphertextBlob,
            "CiphertextBlob",
        );
    }
    assert_eq!(t.w.seals(&dest_version), 0);
}

#[test]
fn invalid_contexts_name_their_own_parameter() {
    let mut t = Two::new(23);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    for bad in [
        "[]",
        r#"{"a":1}"#,
        r#"{"a":"1","a":"2"}"#,
        r#"{"":"x"}"#,
        "{",
    ] {
        let req = ReEncryptRequest {
            source_encryption_context: Some(bad),
            ..ReEncryptRequest::new(&blob, &dest)
        };
        assert_invalid(
            t.run(&req),
            Parameter::SourceEncryptionContext,
            "SourceEncryptionContext",
        );
        let req = ReEncryptRequest {
            destination_encryption_context: Some(bad),
            ..ReEncryptRequest::new(&blob, &dest)
        };
        assert_invalid(
            t.run(&req),
            Parameter::DestinationEncryptionContext,
            "DestinationEncryptionContext",
        );
    }
}

#[test]
fn invalid_dry_run() {
    let mut t = Two::new(24);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    for bad in ["yes", "TRUE", ""] {
        let req = ReEncryptRequest {
            dry_run: Some(bad),
            ..ReEncryptRequest::new(&blob, &dest)
        };
        assert_invalid(t.run(&req), Parameter::DryRun, "DryRun");
    }
    let req = ReEncryptRequest {
        dry_run: Some("false"),
        ..ReEncryptRequest::new(&blob, &dest)
    };
    assert_eq!(t.run(&req).unwrap().key_id, t.dest);
}

#[test]
fn parameter_order() {
    let mut t = Two::new(25);
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    // CiphertextBlob before SourceEncryptionContext.
    let req = ReEncryptRequest {
        source_encryption_context: Some("[]"),
        ..ReEncryptRequest::new("bad", "")
    };
    assert_invalid(t.run(&req), Parameter::CiphertextBlob, "CiphertextBlob");
    // SourceEncryptionContext before DestinationKeyId.
    let req = ReEncryptRequest {
        ciphertext_blob: Some(&blob),
        source_encryption_context: Some("[]"),
        ..ReEncryptRequest::default()
    };
    assert_invalid(
        t.run(&req),
        Parameter::SourceEncryptionContext,
        "SourceEncryptionContext",
    );
    // DestinationKeyId before DestinationEncryptionContext.
    let req = ReEncryptRequest {
        ciphertext_blob: Some(&blob),
        destination_encryption_context: Some("[]"),
        ..ReEncryptRequest::default()
    };
    assert_missing(t.run(&req), Parameter::DestinationKeyId, "DestinationKeyId");
    let req = ReEncryptRequest {
        destination_encryption_context: Some("[]"),
        ..ReEncryptRequest::new(&blob, "")
    };
    assert_invalid(t.run(&req), Parameter::DestinationKeyId, "DestinationKeyId");
    // Every parameter before resolution: an unknown source version and an unknown destination.
    let unknown_source = with_prefix(&blob, UNKNOWN_KEY_ID);
    let req = ReEncryptRequest {
        destination_encryption_context: Some("[]"),
        ..ReEncryptRequest::new(&unknown_source, "alias/none")
    };
    assert_invalid(
        t.run(&req),
        Parameter::DestinationEncryptionContext,
        "DestinationEncryptionContext",
    );
}

// ---------------------------------------------------------------------------------------------
// Step 2: resolution, source first

#[test]
fn source_not_found() {
    let mut t = Two::new(30);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    // A well-formed prefix that names no version.
    assert_key_not_found(t.run(&ReEncryptRequest::new(
        &with_prefix(&blob, UNKNOWN_KEY_ID),
        &dest,
    )));
    // A version of a key in another region.
    let far = t.w.create_in(ACCOUNT, OTHER_REGION);
    let far_caller = Caller::new(ACCOUNT, OTHER_REGION);
    let far_blob =
        t.w.encrypt_as(&far_caller, far.as_str(), "p", None)
            .unwrap()
            .ciphertext_blob;
    assert_key_not_found(t.run(&ReEncryptRequest::new(&far_blob, &dest)));
}

#[test]
fn destination_not_found() {
    let mut t = Two::new(31);
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    t.w.provider.create_alias("alias/dest", &t.dest).unwrap();
    let foreign = t.w.create_in(OTHER_ACCOUNT, REGION);
    for name in [
        UNKNOWN_KEY_ID.to_string(),
        "key-abcdefghijklmnopqrstu".to_string(),
        foreign.to_string(),
        key_arn(OTHER_REGION, ACCOUNT, &t.dest),
        key_arn(REGION, OTHER_ACCOUNT, &t.dest),
    ] {
        assert_key_not_found(t.run(&ReEncryptRequest::new(&blob, &name)));
    }
    for name in [
        "alias/none".to_string(),
        alias_arn(OTHER_REGION, ACCOUNT, "alias/dest"),
        alias_arn(REGION, OTHER_ACCOUNT, "alias/dest"),
    ] {
        assert_alias_not_found(t.run(&ReEncryptRequest::new(&blob, &name)));
    }
}

#[test]
fn resolution_order() {
    let mut t = Two::new(32);
    let source = t.source_text();
    let blob = t.w.seal_text(&source, "p", None);
    // Source resolved before destination.
    let unknown_source = with_prefix(&blob, UNKNOWN_KEY_ID);
    assert_key_not_found(t.run(&ReEncryptRequest::new(&unknown_source, "alias/none")));
    // Both resolved before any permission: the other account may not use the source, and the
    // destination does not exist.
    assert_alias_not_found(run_as(
        &mut t.w,
        &other(),
        &ReEncryptRequest::new(&blob, "alias/none"),
    ));
    // Resolved before state: a disabled source, a missing destination.
    t.w.provider.disable_key(&t.w.key).unwrap();
    assert_alias_not_found(t.run(&ReEncryptRequest::new(&blob, "alias/none")));
}

// ---------------------------------------------------------------------------------------------
// Step 3: permission on either side

/// The other account's own key, and a blob sealed under the owner's key.
fn cross_account_world(seed: u64) -> (World, KeyId, String) {
    let mut w = World::new(seed);
    let theirs = w.create_in(OTHER_ACCOUNT, REGION);
    let key = w.key_text();
    let blob = w.seal_text(&key, "shared secret", None);
    (w, theirs, blob)
}

#[test]
fn source_needs_re_encrypt_from() {
    let (mut w, theirs, blob) = cross_account_world(40);
    let req = ReEncryptRequest::new(&blob, theirs.as_str());
    assert_no_permission(run_as(&mut w, &other(), &req));

    // Decrypt alone opens the blob, but does not let it be moved.
    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &[Action::Decrypt])
        .unwrap();
    assert_eq!(
        w.decrypt_as(&other(), &blob, None)
            .unwrap()
            .plaintext
            .expose(),
        "shared secret"
    );
    assert_no_permission(run_as(&mut w, &other(), &req));

    // Every action but ReEncryptFrom.
    let all_but: Vec<Action> = Action::ALL
        .into_iter()
        .filter(|a| *a != Action::ReEncryptFrom)
        .collect();
    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &all_but)
        .unwrap();
    assert_no_permission(run_as(&mut w, &other(), &req));

    // ReEncryptFrom alone is enough on the source.
    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &[Action::ReEncryptFrom])
        .unwrap();
    let out = run_as(&mut w, &other(), &req).unwrap();
    assert_eq!(out.key_id, theirs);
    let opened = w.decrypt_as(&other(), &out.ciphertext_blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "shared secret");
    // ReEncryptFrom does not grant Decrypt.
    assert_no_permission(w.decrypt_as(&other(), &blob, None));
}

#[test]
fn destination_needs_re_encrypt_to() {
    let mut w = World::new(41);
    let theirs = w.create_in(OTHER_ACCOUNT, REGION);
    let their_blob = w
        .encrypt_as(&other(), theirs.as_str(), "from them", None)
        .unwrap()
        .ciphertext_blob;
    let arn = key_arn(REGION, ACCOUNT, &w.key);
    let req = ReEncryptRequest::new(&their_blob, &arn);
    assert_no_permission(run_as(&mut w, &other(), &req));

    // Encrypt and ReEncryptFrom are not ReEncryptTo.
    w.provider
        .set_policy(
            &w.key,
            OTHER_ACCOUNT,
            &[Action::Encrypt, Action::ReEncryptFrom, Action::Decrypt],
        )
        .unwrap();
    assert_no_permission(run_as(&mut w, &other(), &req));

    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &[Action::ReEncryptTo])
        .unwrap();
    let out = run_as(&mut w, &other(), &req).unwrap();
    assert_eq!(out.key_id, w.key);
    assert_eq!(out.key_version_id, w.primary(&w.key));
    let opened = w.decrypt(&out.ciphertext_blob, None).unwrap();
    assert_eq!(opened.plaintext.expose(), "from them");
    // A bare key ID resolves in the caller's own account, even with the permission.
    let bare = w.key_text();
    assert_key_not_found(run_as(
        &mut w,
        &other(),
        &ReEncryptRequest::new(&their_blob, &bare),
    ));
}

#[test]
fn the_owner_needs_no_policy() {
    let (mut w, theirs, blob) = cross_account_world(42);
    // The owner may move its own blob to its own key, but not to another account's key.
    let key = w.key_text();
    run_as(&mut w, &owner(), &ReEncryptRequest::new(&blob, &key)).unwrap();
    assert_no_permission(run_as(
        &mut w,
        &owner(),
        &ReEncryptRequest::new(&blob, &key_arn(REGION, OTHER_ACCOUNT, &theirs)),
    ));
}

#[test]
fn permission_before_state_on_both_sides() {
    // Source not permitted, destination disabled.
    let (mut w, theirs, blob) = cross_account_world(43);
    w.provider.disable_key(&theirs).unwrap();
    assert_no_permission(run_as(
        &mut w,
        &other(),
        &ReEncryptRequest::new(&blob, theirs.as_str()),
    ));
    // Source disabled, destination not permitted.
    let (mut w, theirs, blob) = cross_account_world(44);
    w.provider.disable_key(&w.key).unwrap();
    assert_no_permission(run_as(
        &mut w,
        &owner(),
        &ReEncryptRequest::new(&blob, &key_arn(REGION, OTHER_ACCOUNT, &theirs)),
    ));
    // Source not permitted, destination asymmetric.
    let (mut w, _, blob) = cross_account_world(45);
    let ec = w.create(KeyOptions::new(OTHER_ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    assert_no_permission(run_as(
        &mut w,
        &other(),
        &ReEncryptRequest::new(&blob, ec.as_str()),
    ));
}

// ---------------------------------------------------------------------------------------------
// Step 4: state and usage on both sides

#[test]
fn source_states_reject() {
    for state in [
        KeyState::Disabled,
        KeyState::PendingDeletion,
        KeyState::Unavailable,
    ] {
        let mut t = Two::new(50);
        let source = t.source_text();
        let dest = t.dest_text();
        let blob = t.w.seal_text(&source, "p", None);
        let key = t.w.key;
        put_in_state(&mut t.w, &key, state);
        assert_state(t.run(&ReEncryptRequest::new(&blob, &dest)), state);
        assert_eq!(t.w.seals(&t.w.primary(&t.dest)), 0);
    }
}

#[test]
fn destination_states_reject() {
    let mut w = World::new(51);
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    for state in REJECTED_STATES {
        let dest = key_in_state(&mut w, state);
        assert_state(
            run_as(
                &mut w,
                &owner(),
                &ReEncryptRequest::new(&blob, dest.as_str()),
            ),
            state,
        );
    }
}

#[test]
fn destination_that_cannot_make_ciphertext_is_unsupported() {
    let mut w = World::new(52);
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    let options = KeyOptions::new(ACCOUNT, REGION);
    for dest in [
        w.create(options.spec(MasterKeySpec::EcP256)),
        w.create(options.spec(MasterKeySpec::Rsa2048)),
        w.create(options.usage(KeyUsage::SignVerify)),
    ] {
        assert_unsupported(run_as(
            &mut w,
            &owner(),
            &ReEncryptRequest::new(&blob, dest.as_str()),
        ));
    }
}

#[test]
fn state_order() {
    // Source state before destination state.
    let mut w = World::new(53);
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    let dest = key_in_state(&mut w, KeyState::PendingDeletion);
    w.provider.disable_key(&w.key).unwrap();
    assert_state(
        run_as(
            &mut w,
            &owner(),
            &ReEncryptRequest::new(&blob, dest.as_str()),
        ),
        KeyState::Disabled,
    );
    // Source state before destination usage.
    let ec = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    assert_state(
        run_as(&mut w, &owner(), &ReEncryptRequest::new(&blob, ec.as_str())),
        KeyState::Disabled,
    );
    // Destination state before destination usage.
    w.provider.enable_key(&w.key).unwrap();
    w.provider.disable_key(&ec).unwrap();
    assert_state(
        run_as(&mut w, &owner(), &ReEncryptRequest::new(&blob, ec.as_str())),
        KeyState::Disabled,
    );
}

// ---------------------------------------------------------------------------------------------
// Step 5 failures

#[test]
fn rng_failure_is_an_internal_failure() {
    let mut t = Two::new(55);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let dest_version = t.w.primary(&t.dest);
    let req = ReEncryptRequest::new(&blob, &dest);
    let mut failing = BudgetRng::failing();
    assert_internal(
        re_encrypt(&mut t.w.provider, &owner(), &req, &mut failing),
        Error::InternalFailure,
    );
    assert_eq!(t.w.seals(&dest_version), 0);
    // The IV is drawn, the request ID is not.
    let mut short = BudgetRng::new(1, 12);
    assert_internal(
        re_encrypt(&mut t.w.provider, &owner(), &req, &mut short),
        Error::InternalFailure,
    );
}

// ---------------------------------------------------------------------------------------------
// Dry runs

#[test]
fn dry_run_step_1_is_a_validation_error() {
    let mut t = Two::new(60);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);

    let no_dest = ReEncryptRequest {
        ciphertext_blob: Some(&blob),
        dry_run: Some("true"),
        ..ReEncryptRequest::default()
    };
    assert_validation_missing(
        t.run(&no_dest),
        Parameter::DestinationKeyId,
        "DestinationKeyId",
    );
    let no_blob = ReEncryptRequest {
        destination_key_id: Some(&dest),
        dry_run: Some("true"),
        ..ReEncryptRequest::default()
    };
    assert_validation_missing(t.run(&no_blob), Parameter::CiphertextBlob, "CiphertextBlob");
    assert_validation_invalid(
        t.run(&dry(&blob, "")),
        Parameter::DestinationKeyId,
        "DestinationKeyId",
    );
    assert_validation_invalid(
        t.run(&dry("garbage", &dest)),
        Parameter::CiphertextBlob,
        "CiphertextBlob",
    );
    let bad_source_ctx = ReEncryptRequest {
        source_encryption_context: Some("[1]"),
        ..dry(&blob, &dest)
    };
    assert_validation_invalid(
        t.run(&bad_source_ctx),
        Parameter::SourceEncryptionContext,
        "SourceEncryptionContext",
    );
    let bad_dest_ctx = ReEncryptRequest {
        destination_encryption_context: Some(r#"{"a":{}}"#),
        ..dry(&blob, &dest)
    };
    assert_validation_invalid(
        t.run(&bad_dest_ctx),
        Parameter::DestinationEncryptionContext,
        "DestinationEncryptionContext",
    );
}

#[test]
fn dry_run_step_2_keeps_not_found() {
    let mut t = Two::new(61);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    assert_key_not_found(t.run(&dry(&blob, UNKNOWN_KEY_ID)));
    assert_alias_not_found(t.run(&dry(&blob, "alias/none")));
    assert_key_not_found(t.run(&dry(&with_prefix(&blob, UNKNOWN_KEY_ID), &dest)));
}

#[test]
fn dry_run_step_3_is_access_denied_on_either_side() {
    let (mut w, theirs, blob) = cross_account_world(62);
    // The source refuses the other account.
    assert_access_denied(run_as(&mut w, &other(), &dry(&blob, theirs.as_str())));
    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &[Action::Decrypt])
        .unwrap();
    assert_access_denied(run_as(&mut w, &other(), &dry(&blob, theirs.as_str())));
    // The destination refuses the owner.
    let their_arn = key_arn(REGION, OTHER_ACCOUNT, &theirs);
    assert_access_denied(run_as(&mut w, &owner(), &dry(&blob, &their_arn)));
    // Granted: the dry run passes.
    w.provider
        .set_policy(&w.key, OTHER_ACCOUNT, &[Action::ReEncryptFrom])
        .unwrap();
    assert_dry_run_passed(run_as(&mut w, &other(), &dry(&blob, theirs.as_str())));
}

#[test]
fn dry_run_step_4_keeps_the_state_code() {
    let mut w = World::new(63);
    let key = w.key_text();
    let blob = w.seal_text(&key, "p", None);
    for state in REJECTED_STATES {
        let dest = key_in_state(&mut w, state);
        assert_state(run_as(&mut w, &owner(), &dry(&blob, dest.as_str())), state);
    }
    let ec = w.create(KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    assert_unsupported(run_as(&mut w, &owner(), &dry(&blob, ec.as_str())));
    let sign = w.create(KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify));
    assert_unsupported(run_as(&mut w, &owner(), &dry(&blob, sign.as_str())));
    // A disabled source.
    let dest = w.create_in(ACCOUNT, REGION);
    w.provider.disable_key(&w.key).unwrap();
    assert_state(
        run_as(&mut w, &owner(), &dry(&blob, dest.as_str())),
        KeyState::Disabled,
    );
}

#[test]
fn dry_run_that_passes_opens_nothing_and_seals_nothing() {
    let mut t = Two::new(64);
    let source = t.source_text();
    let dest = t.dest_text();
    let ctx = r#"{"k":"v"}"#;
    let blob = t.w.seal_text(&source, "p", Some(ctx));
    let source_version = t.w.primary(&t.w.key);
    let dest_version = t.w.primary(&t.dest);
    let with_contexts = ReEncryptRequest {
        source_encryption_context: Some(ctx),
        destination_encryption_context: Some(r#"{"d":"e"}"#),
        ..dry(&blob, &dest)
    };
    assert_dry_run_passed(t.run(&with_contexts));
    // The blob is not opened, so a source context that would not open it is not found out.
    assert_dry_run_passed(t.run(&dry(&blob, &dest)));
    assert_eq!(t.w.seals(&source_version), 1);
    assert_eq!(t.w.seals(&dest_version), 0);
    // A dry run draws nothing from the RNG.
    let mut failing = BudgetRng::failing();
    assert_dry_run_passed(re_encrypt(
        &mut t.w.provider,
        &owner(),
        &with_contexts,
        &mut failing,
    ));
    assert_eq!(failing.calls, 0);
    assert_eq!(t.w.seals(&dest_version), 0);
}

// ---------------------------------------------------------------------------------------------
// The no-alloc form

#[test]
fn the_in_form_matches_the_owned_form() {
    for (plaintext, src_ctx, dst_ctx) in [
        ("p", None, None),
        ("ünï", Some(r#"{"a":"b"}"#), Some(r#"{ "c" : "\u0064" }"#)),
        (&*"m".repeat(6144), Some("{}"), Some(r#"{"x":""}"#)),
    ] {
        let mut owned = Two::new(70);
        let mut borrowed = Two::new(70);
        let source = owned.source_text();
        let dest = owned.dest_text();
        let blob = owned.w.seal_text(&source, plaintext, src_ctx);
        let blob_b = borrowed.w.seal_text(&source, plaintext, src_ctx);
        assert_eq!(blob, blob_b, "identical worlds");
        let req = ReEncryptRequest {
            source_encryption_context: src_ctx,
            destination_encryption_context: dst_ctx,
            ..ReEncryptRequest::new(&blob, &dest)
        };
        let a = owned.run(&req).unwrap();
        let mut workspace = vec![0u8; req.workspace_len()];
        let b = re_encrypt_in(
            &mut borrowed.w.provider,
            &owner(),
            &req,
            &mut borrowed.w.rng,
            &mut workspace,
        )
        .unwrap();
        assert_eq!(b.key_id, a.key_id);
        assert_eq!(b.key_version_id, a.key_version_id);
        assert_eq!(b.ciphertext_blob, a.ciphertext_blob);
        assert_eq!(b.request_id, a.request_id);
        let moved = b.ciphertext_blob.to_string();
        let opened = borrowed.w.decrypt(&moved, dst_ctx).unwrap();
        assert_eq!(opened.plaintext.expose(), plaintext);
    }
}

#[test]
fn the_in_form_errors_match_the_owned_form() {
    let mut t = Two::new(71);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", Some(r#"{"a":"b"}"#));
    let disabled = key_in_state(&mut t.w, KeyState::Disabled).to_string();
    let requests = [
        ReEncryptRequest::default(),
        ReEncryptRequest::new(&blob, ""),
        ReEncryptRequest::new("AAAA", &dest),
        ReEncryptRequest::new(&blob, &dest),
        ReEncryptRequest::new(&blob, "alias/none"),
        ReEncryptRequest::new(&blob, &disabled),
        dry(&blob, &dest),
    ];
    for req in &requests {
        let expected = t.run(req).unwrap_err();
        let mut workspace = vec![0u8; req.workspace_len()];
        let got = re_encrypt_in(
            &mut t.w.provider,
            &owner(),
            req,
            &mut t.w.rng,
            &mut workspace,
        )
        .unwrap_err();
        assert_eq!(got, expected, "{req:?}");
    }
}

#[test]
fn too_small_a_workspace() {
    let mut t = Two::new(72);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "some text", None);
    let dest_version = t.w.primary(&t.dest);
    let req = ReEncryptRequest {
        destination_encryption_context: Some(r#"{"a":"b"}"#),
        ..ReEncryptRequest::new(&blob, &dest)
    };
    let needed = req.workspace_len();
    for len in [0, needed / 2, needed - 1] {
        let mut workspace = vec![0u8; len];
        assert_internal(
            re_encrypt_in(
                &mut t.w.provider,
                &owner(),
                &req,
                &mut t.w.rng,
                &mut workspace,
            ),
            Error::WorkspaceTooSmall { needed },
        );
    }
    assert_eq!(t.w.seals(&dest_version), 0);
}

#[test]
fn the_workspace_keeps_no_plaintext() {
    const MARKER: &str = "PLAINTEXT-MARKER-that-must-not-linger-0123456789";
    let mut t = Two::new(73);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, MARKER, None);
    let lingers = |ws: &[u8]| ws.windows(MARKER.len()).any(|w| w == MARKER.as_bytes());

    // Success.
    let req = ReEncryptRequest::new(&blob, &dest);
    let mut workspace = vec![0u8; req.workspace_len()];
    re_encrypt_in(
        &mut t.w.provider,
        &owner(),
        &req,
        &mut t.w.rng,
        &mut workspace,
    )
    .unwrap();
    assert!(!lingers(&workspace), "plaintext left after success");

    // The seal fails after the source was opened.
    let mut workspace = vec![0u8; req.workspace_len()];
    let mut failing = BudgetRng::failing();
    re_encrypt_in(
        &mut t.w.provider,
        &owner(),
        &req,
        &mut failing,
        &mut workspace,
    )
    .unwrap_err();
    assert!(!lingers(&workspace), "plaintext left after a failed seal");

    // The request ID fails after the seal.
    let mut workspace = vec![0u8; req.workspace_len()];
    let mut short = BudgetRng::new(3, 12);
    re_encrypt_in(
        &mut t.w.provider,
        &owner(),
        &req,
        &mut short,
        &mut workspace,
    )
    .unwrap_err();
    assert!(
        !lingers(&workspace),
        "plaintext left after a failed request ID"
    );

    // The destination refuses to seal (its budget is spent).
    let mut refusing = World::with_provider(
        kms_core::InMemoryProvider::new().with_seal_limit(1, kms_core::SealLimitAction::Refuse),
        74,
    );
    let key = refusing.key_text();
    let blob = refusing.seal_text(&key, MARKER, None);
    let req = ReEncryptRequest::new(&blob, &key);
    let mut workspace = vec![0u8; req.workspace_len()];
    assert_internal(
        re_encrypt_in(
            &mut refusing.provider,
            &owner(),
            &req,
            &mut refusing.rng,
            &mut workspace,
        ),
        Error::SealLimitReached,
    );
    assert!(!lingers(&workspace), "plaintext left after a refused seal");
}

#[test]
fn deleted_keys_are_not_found_on_either_side() {
    let mut t = Two::new(56);
    let source = t.source_text();
    let dest = t.dest_text();
    let blob = t.w.seal_text(&source, "p", None);
    let old = t.w.seal_text(&source, "older", None);
    t.w.provider.rotate_key(&t.w.key, &mut t.w.rng).unwrap();
    let newer = t.w.seal_text(&source, "newer", None);
    let moved = t
        .run(&ReEncryptRequest::new(&blob, &dest))
        .unwrap()
        .ciphertext_blob;

    // Destination deleted.
    t.w.provider.schedule_key_deletion(&t.dest).unwrap();
    assert_state(
        t.run(&ReEncryptRequest::new(&blob, &dest)),
        KeyState::PendingDeletion,
    );
    t.w.provider.delete_key(&t.dest).unwrap();
    assert_key_not_found(t.run(&ReEncryptRequest::new(&blob, &dest)));
    assert_key_not_found(t.run(&dry(&blob, &dest)));
    // Blobs sealed under it name a version nobody has any more.
    assert_key_not_found(t.run(&ReEncryptRequest::new(&moved, &source)));

    // Source deleted: every version goes.
    let other_dest = t.w.create_in(ACCOUNT, REGION);
    t.w.provider.schedule_key_deletion(&t.w.key).unwrap();
    t.w.provider.delete_key(&t.w.key).unwrap();
    for b in [&blob, &old, &newer] {
        assert_key_not_found(t.run(&ReEncryptRequest::new(b, other_dest.as_str())));
    }
}

// ---------------------------------------------------------------------------------------------
// Blobs made and checked with bare AES-GCM, by the spec

#[test]
fn a_blob_sealed_by_the_spec_moves_to_a_blob_opened_by_the_spec() {
    let mut w = World::new(80);
    let src_material = [0x11u8; 32];
    let dst_material = [0x22u8; 32];
    let src = imported_key(&mut w, &src_material);
    let dst = imported_key(&mut w, &dst_material);
    let (src_v, dst_v) = (w.primary(&src), w.primary(&dst));
    let text = "sealed outside, moved inside: ✓";
    let src_aad = spec_aad(src_v.as_str(), &[("tenant", "t1"), ("app", "a")]);
    let blob = spec_seal(
        &src_material,
        src_v.as_str(),
        [7; 12],
        text.as_bytes(),
        &src_aad,
    );

    let out = run_as(
        &mut w,
        &owner(),
        &ReEncryptRequest {
            source_encryption_context: Some(r#"{"app":"a","tenant":"t1"}"#),
            destination_encryption_context: Some(r#"{"moved":"yes"}"#),
            ..ReEncryptRequest::new(&blob, dst.as_str())
        },
    )
    .unwrap();
    assert_eq!(out.key_id, dst);
    assert_eq!(out.key_version_id, dst_v);
    let dst_aad = spec_aad(dst_v.as_str(), &[("moved", "yes")]);
    let opened = spec_open(&dst_material, &out.ciphertext_blob, &dst_aad).expect("spec opens");
    assert_eq!(opened, text.as_bytes());
    // A fresh IV, not the source's.
    assert_ne!(blob_bytes(&out.ciphertext_blob)[36..48], [7u8; 12]);
}

#[test]
fn a_source_whose_text_is_not_utf8_is_an_invalid_blob() {
    let mut w = World::new(81);
    let material = [0x33u8; 32];
    let src = imported_key(&mut w, &material);
    let dest = w.create_in(ACCOUNT, REGION);
    let version = w.primary(&src);
    let aad = spec_aad(version.as_str(), &[]);
    let blob = spec_seal(
        &material,
        version.as_str(),
        [1; 12],
        &[0xff, 0xfe, b'a'],
        &aad,
    );
    assert_invalid(
        run_as(
            &mut w,
            &owner(),
            &ReEncryptRequest::new(&blob, dest.as_str()),
        ),
        Parameter::CiphertextBlob,
        "CiphertextBlob",
    );
    assert_eq!(w.seals(&w.primary(&dest)), 0);
    // The same bytes as valid UTF-8 move fine.
    let good = spec_seal(&material, version.as_str(), [1; 12], "ok".as_bytes(), &aad);
    run_as(
        &mut w,
        &owner(),
        &ReEncryptRequest::new(&good, dest.as_str()),
    )
    .unwrap();
}
