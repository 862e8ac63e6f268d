//! KeyId resolution (spec §2): every form, the cross-account and cross-region cases, and the
//! invalid texts.

mod common;

use common::*;
use kms_core::{
    Action, Caller, DecryptRequest, GenerateDataKeyRequest, KeyId, KeyOptions, decrypt,
    generate_data_key,
};

const UNKNOWN_UUID: &str = "1234abcd-12ab-34cd-56ef-123456789012";

// ----- The forms ------------------------------------------------------------------------------

#[test]
fn uuid_key_id_resolves() {
    let mut w = World::new(200);
    let key = w.key.to_string();
    assert!(is_lowercase_uuid_text(key.as_bytes()));
    let response = w.gdk(&GenerateDataKeyRequest::new(&key)).unwrap();
    assert_eq!(response.key_id, w.key);
    let opened = w
        .decrypt(&DecryptRequest::new(&response.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.key_id, w.key);
}

#[test]
fn key_dash_form_resolves() {
    let mut provider = fixed_provider(&known_material_256());
    let mut r = rng(201);
    let arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{FIXED_KEY_ID}");
    for name in [FIXED_KEY_ID, arn.as_str()] {
        let response = generate_data_key(
            &mut provider,
            &caller(),
            &GenerateDataKeyRequest::new(name),
            &mut r,
        )
        .unwrap();
        assert_eq!(response.key_id.as_str(), FIXED_KEY_ID, "{name}");
        assert_eq!(response.key_version_id.as_str(), FIXED_VERSION);
        let opened = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&response.ciphertext_blob),
            &mut r,
        )
        .unwrap();
        assert_eq!(opened.key_id.as_str(), FIXED_KEY_ID);
    }
    // Key IDs are case-sensitive: an uppercase one is well-formed text naming no key...
    let err = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new("key-HZZ630494463EJQJX1234"),
        &mut r,
    )
    .unwrap_err();
    assert_key_not_found(&err);
    // ...but inside an ARN it makes the ARN malformed.
    let err = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(&format!(
            "acs:kms:{REGION}:{ACCOUNT}:key/key-HZZ630494463EJQJX1234"
        )),
        &mut r,
    )
    .unwrap_err();
    assert_invalid(&err, "KeyId");
}

#[test]
fn key_id_parse_accepts_exactly_the_two_forms() {
    for good in [
        "key-hzz630494463ejqjx1234",
        "key-000000000000000000000",
        "key-zzzzzzzzzzzzzzzzzzzzz",
        UNKNOWN_UUID,
    ] {
        assert_eq!(KeyId::parse(good).unwrap().as_str(), good);
    }
    for bad in [
        "key-hzz630494463ejqjx123",   // 20 characters
        "key-hzz630494463ejqjx12345", // 22 characters
        "key-hzz630494463ejqjx123_",
        "key-HZZ630494463EJQJX1234",
        "KEY-hzz630494463ejqjx1234",
        "1234ABCD-12AB-34CD-56EF-123456789012",
        "1234abcd-12ab-34cd-56ef-12345678901",
        "1234abcd12ab-34cd-56ef-1234567890123",
        "",
        "alias/x",
    ] {
        assert!(KeyId::parse(bad).is_none(), "{bad}");
    }
}

#[test]
fn alias_resolves_to_the_canonical_key_id() {
    let mut w = World::new(202);
    let response = w.gdk(&GenerateDataKeyRequest::new(ALIAS)).unwrap();
    assert_eq!(response.key_id, w.key);
    // Aliases may contain `/`, `_`, `-` and both cases.
    let nested = "alias/Team_A/svc-1/PROD";
    w.provider.create_alias(nested, &w.key).unwrap();
    assert_eq!(
        w.gdk(&GenerateDataKeyRequest::new(nested)).unwrap().key_id,
        w.key
    );
    // Case matters.
    let err = w
        .gdk(&GenerateDataKeyRequest::new("alias/TEST-KEY"))
        .unwrap_err();
    assert_alias_not_found(&err);
}

#[test]
fn key_arn_and_alias_arn_resolve() {
    let mut w = World::new(203);
    let key_arn = format!("acs:kms:{REGION}:{ACCOUNT}:key/{}", w.key);
    let alias_arn = format!("acs:kms:{REGION}:{ACCOUNT}:{ALIAS}");
    for name in [&key_arn, &alias_arn] {
        let response = w.gdk(&GenerateDataKeyRequest::new(name)).unwrap();
        assert_eq!(response.key_id, w.key, "{name}");
    }
    let err = w
        .gdk(&GenerateDataKeyRequest::new(&format!(
            "acs:kms:{REGION}:{ACCOUNT}:alias/nothing-here"
        )))
        .unwrap_err();
    assert_alias_not_found(&err);
    let err = w
        .gdk(&GenerateDataKeyRequest::new(&format!(
            "acs:kms:{REGION}:{ACCOUNT}:key/{UNKNOWN_UUID}"
        )))
        .unwrap_err();
    assert_key_not_found(&err);
}

// ----- Cross-account --------------------------------------------------------------------------

const FOREIGN_ALIAS: &str = "alias/shared";

/// A world with a second key owned by `OTHER_ACCOUNT` in `REGION`, aliased [`FOREIGN_ALIAS`]
/// in that account.
fn with_foreign_key(seed: u64) -> (World, KeyId) {
    let mut w = World::new(seed);
    let other = w.add_key(&KeyOptions::new(OTHER_ACCOUNT, REGION));
    w.provider.create_alias(FOREIGN_ALIAS, &other).unwrap();
    (w, other)
}

#[test]
fn another_accounts_key_by_bare_id_or_alias_is_not_found() {
    let (mut w, other) = with_foreign_key(204);
    let err = w
        .gdk(&GenerateDataKeyRequest::new(other.as_str()))
        .unwrap_err();
    assert_key_not_found(&err);
    let err = w
        .gdk(&GenerateDataKeyRequest::new(FOREIGN_ALIAS))
        .unwrap_err();
    assert_alias_not_found(&err);
    // Even with a policy: bare IDs and aliases resolve in the caller's own account only.
    w.provider.allow_account(&other, ACCOUNT).unwrap();
    let err = w
        .gdk(&GenerateDataKeyRequest::new(other.as_str()))
        .unwrap_err();
    assert_key_not_found(&err);
}

#[test]
fn another_accounts_key_by_arn_needs_its_policy() {
    let (mut w, other) = with_foreign_key(205);
    let key_arn = format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:key/{other}");
    let alias_arn = format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:{FOREIGN_ALIAS}");
    for name in [&key_arn, &alias_arn] {
        let err = w.gdk(&GenerateDataKeyRequest::new(name)).unwrap_err();
        assert_no_permission(&err);
    }
    // Naming our own key under the other account's ARN names nothing.
    let err = w
        .gdk(&GenerateDataKeyRequest::new(&format!(
            "acs:kms:{REGION}:{OTHER_ACCOUNT}:key/{}",
            w.key
        )))
        .unwrap_err();
    assert_key_not_found(&err);

    w.provider.allow_account(&other, ACCOUNT).unwrap();
    for name in [&key_arn, &alias_arn] {
        let response = w.gdk(&GenerateDataKeyRequest::new(name)).unwrap();
        assert_eq!(response.key_id, other, "{name}");
        assert_eq!(response.key_version_id, w.primary(&other));
        let opened = w
            .decrypt(&DecryptRequest::new(&response.ciphertext_blob))
            .unwrap();
        assert_eq!(opened.key_id, other);
        assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
    }

    // A third account is still refused.
    let third = Caller::new("1111111111111111", REGION);
    let err = w
        .gdk_as(&third, &GenerateDataKeyRequest::new(&key_arn))
        .unwrap_err();
    assert_no_permission(&err);

    // An empty policy revokes.
    w.provider.set_policy(&other, ACCOUNT, &[]).unwrap();
    let err = w.gdk(&GenerateDataKeyRequest::new(&key_arn)).unwrap_err();
    assert_no_permission(&err);
}

#[test]
fn policy_grants_only_the_named_actions() {
    let (mut w, other) = with_foreign_key(206);
    let them = Caller::new(OTHER_ACCOUNT, REGION);
    let blob = w
        .gdk_as(&them, &GenerateDataKeyRequest::new(other.as_str()))
        .unwrap();
    let key_arn = format!("acs:kms:{REGION}:{OTHER_ACCOUNT}:key/{other}");

    w.provider
        .set_policy(&other, ACCOUNT, &[Action::Decrypt])
        .unwrap();
    let err = w.gdk(&GenerateDataKeyRequest::new(&key_arn)).unwrap_err();
    assert_no_permission(&err);
    let opened = w
        .decrypt(&DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());

    w.provider
        .set_policy(&other, ACCOUNT, &[Action::GenerateDataKey])
        .unwrap();
    assert!(w.gdk(&GenerateDataKeyRequest::new(&key_arn)).is_ok());
    let err = w
        .decrypt(&DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap_err();
    assert_no_permission(&err);
}

#[test]
fn decrypt_of_another_accounts_blob_needs_its_policy() {
    let (mut w, other) = with_foreign_key(207);
    let them = Caller::new(OTHER_ACCOUNT, REGION);
    let theirs = w
        .gdk_as(&them, &GenerateDataKeyRequest::new(FOREIGN_ALIAS))
        .unwrap();
    assert_eq!(theirs.key_id, other);
    // The owner opens it.
    let opened = w
        .decrypt_as(&them, &DecryptRequest::new(&theirs.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), theirs.plaintext.expose());
    // We may not.
    let err = w
        .decrypt(&DecryptRequest::new(&theirs.ciphertext_blob))
        .unwrap_err();
    assert_no_permission(&err);
    // Nor may they open ours.
    let ours = w.blob(None);
    let err = w
        .decrypt_as(&them, &DecryptRequest::new(&ours.ciphertext_blob))
        .unwrap_err();
    assert_no_permission(&err);

    w.provider.allow_account(&other, ACCOUNT).unwrap();
    let opened = w
        .decrypt(&DecryptRequest::new(&theirs.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.key_id, other);
    assert_eq!(opened.key_version_id, theirs.key_version_id);
    assert_eq!(opened.plaintext.expose(), theirs.plaintext.expose());
}

// ----- Cross-region ---------------------------------------------------------------------------

#[test]
fn arn_naming_another_region_does_not_resolve() {
    let mut w = World::new(208);
    // Our own key and alias, but the ARN says another region.
    let key_arn = format!("acs:kms:{OTHER_REGION}:{ACCOUNT}:key/{}", w.key);
    let alias_arn = format!("acs:kms:{OTHER_REGION}:{ACCOUNT}:{ALIAS}");
    assert_key_not_found(&w.gdk(&GenerateDataKeyRequest::new(&key_arn)).unwrap_err());
    assert_alias_not_found(&w.gdk(&GenerateDataKeyRequest::new(&alias_arn)).unwrap_err());

    // A key that really is in the other region, named by its correct ARN, from this region.
    let there = w.add_key(&KeyOptions::new(ACCOUNT, OTHER_REGION));
    w.provider.create_alias(ALIAS, &there).unwrap();
    let key_arn = format!("acs:kms:{OTHER_REGION}:{ACCOUNT}:key/{there}");
    assert_key_not_found(&w.gdk(&GenerateDataKeyRequest::new(&key_arn)).unwrap_err());
    assert_key_not_found(
        &w.gdk(&GenerateDataKeyRequest::new(there.as_str()))
            .unwrap_err(),
    );
    assert_alias_not_found(&w.gdk(&GenerateDataKeyRequest::new(&alias_arn)).unwrap_err());
    // The same alias name in this region still names our key.
    assert_eq!(
        w.gdk(&GenerateDataKeyRequest::new(ALIAS)).unwrap().key_id,
        w.key
    );

    // From the other region, its own key resolves, by every form.
    let there_caller = Caller::new(ACCOUNT, OTHER_REGION);
    for name in [there.as_str(), ALIAS, key_arn.as_str(), alias_arn.as_str()] {
        let response = w
            .gdk_as(&there_caller, &GenerateDataKeyRequest::new(name))
            .unwrap();
        assert_eq!(response.key_id, there, "{name}");
    }
    // A cross-account ARN into another region is not found even with a policy.
    let foreign = w.add_key(&KeyOptions::new(OTHER_ACCOUNT, OTHER_REGION));
    w.provider.allow_account(&foreign, ACCOUNT).unwrap();
    let arn = format!("acs:kms:{OTHER_REGION}:{OTHER_ACCOUNT}:key/{foreign}");
    assert_key_not_found(&w.gdk(&GenerateDataKeyRequest::new(&arn)).unwrap_err());
}

#[test]
fn decrypt_from_another_region_is_key_not_found() {
    let mut w = World::new(209);
    let blob = w.blob(None);
    let elsewhere = Caller::new(ACCOUNT, OTHER_REGION);
    let err = w
        .decrypt_as(&elsewhere, &DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap_err();
    assert_key_not_found(&err);
    // Also for another account's blob whose key allows us.
    let (mut w, other) = with_foreign_key(210);
    w.provider.allow_account(&other, ACCOUNT).unwrap();
    let them = Caller::new(OTHER_ACCOUNT, REGION);
    let theirs = w
        .gdk_as(&them, &GenerateDataKeyRequest::new(other.as_str()))
        .unwrap();
    let err = w
        .decrypt_as(&elsewhere, &DecryptRequest::new(&theirs.ciphertext_blob))
        .unwrap_err();
    assert_key_not_found(&err);
}

// ----- Invalid and missing --------------------------------------------------------------------

#[test]
fn missing_key_id() {
    let mut w = World::new(211);
    let err = w
        .gdk(&GenerateDataKeyRequest {
            number_of_bytes: Some("16"),
            ..GenerateDataKeyRequest::default()
        })
        .unwrap_err();
    assert_missing(&err, "KeyId");
}

#[test]
fn invalid_key_id_texts() {
    let mut w = World::new(212);
    let key = w.key.to_string();
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
        format!("acs:ecs:cn-hangzhou:123:key/{key}"),
        format!("acs:kms:cn-hangzhou:123:keys/{key}"),
        format!("acs:kms:cn-hangzhou:123:key/{}", key.to_uppercase()),
        format!("acs:kms:cn-hangzhou:123:key/{key}:extra"),
        format!("acs:kms:cn-hangzhou:123:key/{key}/"),
        "acs:kms:cn-hangzhou:123:key/".to_string(),
        "acs:kms:cn-hangzhou:123:alias/".to_string(),
        "acs:kms:cn-hangzhou:123:alias/bad name".to_string(),
        "acs:kms:cn-hangzhou:123".to_string(),
        "acs:kms:cn-hangzhou".to_string(),
        "acs:".to_string(),
        "acs:kms".to_string(),
    ];
    for text in &cases {
        let err = w.gdk(&GenerateDataKeyRequest::new(text)).unwrap_err();
        assert_invalid(&err, "KeyId");
        // In a dry run it is a ValidationError with the same message.
        let err = w
            .gdk(&GenerateDataKeyRequest {
                dry_run: Some("true"),
                ..GenerateDataKeyRequest::new(text)
            })
            .unwrap_err();
        assert_validation_invalid(&err, "KeyId");
    }
}

#[test]
fn well_formed_texts_naming_no_key() {
    let mut w = World::new(213);
    let longest = "a".repeat(2048);
    let longest_alias = format!("alias/{}", "a".repeat(2042));
    assert_eq!(longest.len(), 2048);
    assert_eq!(longest_alias.len(), 2048);
    for text in [
        longest.as_str(),
        UNKNOWN_UUID,
        "not-a-key",
        "key-hzz630494463ejqjx1234",
    ] {
        let err = w.gdk(&GenerateDataKeyRequest::new(text)).unwrap_err();
        assert_key_not_found(&err);
    }
    let err = w
        .gdk(&GenerateDataKeyRequest::new(&longest_alias))
        .unwrap_err();
    assert_alias_not_found(&err);
    let alias_256 = format!("alias/{}", "b".repeat(256));
    let err = w.gdk(&GenerateDataKeyRequest::new(&alias_256)).unwrap_err();
    assert_alias_not_found(&err);
}
