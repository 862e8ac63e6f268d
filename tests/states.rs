//! Key states and usage (spec §6) for GenerateDataKey and Decrypt, with both providers.

mod common;

use common::*;
use kms_core::{
    DecryptRequest, GenerateDataKeyRequest, KeyId, KeyOptions, KeyOrigin, KeyState, KeyUsage,
    MasterKeyMaterial, MasterKeySpec, decrypt, generate_data_key,
};

/// A well-formed blob naming `version` that no key could open: enough to reach the checks of
/// steps 2 to 4, which come before any opening.
fn blob_naming(version: &kms_core::KeyVersionId) -> String {
    b64(&[version.as_bytes().as_slice(), &[0x5a; 12 + 44 + 16]].concat())
}

fn gdk_err(w: &mut World, key: &KeyId) -> kms_core::Error {
    w.gdk(&GenerateDataKeyRequest::new(key.as_str()))
        .unwrap_err()
}

fn decrypt_err(w: &mut World, blob: &str) -> kms_core::Error {
    w.decrypt(&DecryptRequest::new(blob)).unwrap_err()
}

#[test]
fn disabled_and_enabled_again() {
    let mut w = World::new(600);
    let key = w.key;
    let blob = w.blob(None);
    w.provider.disable_key(&key).unwrap();
    assert_eq!(w.provider.describe(&key).unwrap().state, KeyState::Disabled);
    assert_rejected(&gdk_err(&mut w, &key), "Disabled");
    assert_rejected(&decrypt_err(&mut w, &blob.ciphertext_blob), "Disabled");
    // By alias and ARN alike.
    assert_rejected(
        &w.gdk(&GenerateDataKeyRequest::new(ALIAS)).unwrap_err(),
        "Disabled",
    );

    w.provider.enable_key(&key).unwrap();
    let opened = w
        .decrypt(&DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
    assert!(w.gdk(&GenerateDataKeyRequest::new(key.as_str())).is_ok());
}

#[test]
fn pending_deletion_and_cancelled() {
    let mut w = World::new(601);
    let key = w.key;
    let blob = w.blob(None);
    w.provider.schedule_key_deletion(&key).unwrap();
    assert_rejected(&gdk_err(&mut w, &key), "PendingDeletion");
    assert_rejected(
        &decrypt_err(&mut w, &blob.ciphertext_blob),
        "PendingDeletion",
    );
    // A disabled key scheduled for deletion reports PendingDeletion.
    let other = w.add_key(&KeyOptions::new(ACCOUNT, REGION));
    w.provider.disable_key(&other).unwrap();
    w.provider.schedule_key_deletion(&other).unwrap();
    assert_rejected(&gdk_err(&mut w, &other), "PendingDeletion");

    w.provider.cancel_key_deletion(&key).unwrap();
    let opened = w
        .decrypt(&DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
}

#[test]
fn unavailable_and_back() {
    let mut w = World::new(602);
    let key = w.key;
    let blob = w.blob(None);
    let version = w.primary(&key);
    let seals = w.provider.seal_count(&version).unwrap();
    w.provider.set_unavailable(&key, true).unwrap();
    assert_eq!(
        w.provider.describe(&key).unwrap().state,
        KeyState::Unavailable
    );
    assert_rejected(&gdk_err(&mut w, &key), "Unavailable");
    assert_rejected(&decrypt_err(&mut w, &blob.ciphertext_blob), "Unavailable");
    assert_eq!(w.provider.seal_count(&version).unwrap(), seals);
    // Unavailable outranks the key's own state.
    w.provider.disable_key(&key).unwrap();
    assert_rejected(&gdk_err(&mut w, &key), "Unavailable");
    w.provider.enable_key(&key).unwrap();

    w.provider.set_unavailable(&key, false).unwrap();
    let opened = w
        .decrypt(&DecryptRequest::new(&blob.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
}

#[test]
fn external_key_pending_import_until_material_is_imported() {
    let mut w = World::new(603);
    let key = w.add_key(&KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    assert_eq!(
        w.provider.describe(&key).unwrap().state,
        KeyState::PendingImport
    );
    let version = w.primary(&key);
    assert_rejected(&gdk_err(&mut w, &key), "PendingImport");
    assert_rejected(
        &decrypt_err(&mut w, &blob_naming(&version)),
        "PendingImport",
    );

    // Material of the wrong size for the key's spec is refused; the key stays pending.
    let err = w
        .provider
        .import_key_material(
            &key,
            MasterKeyMaterial::from_slice(&known_material_128()).unwrap(),
        )
        .unwrap_err();
    assert_unsupported(&err);
    assert_rejected(&gdk_err(&mut w, &key), "PendingImport");

    let material = known_material_256();
    w.provider
        .import_key_material(&key, MasterKeyMaterial::from_slice(&material).unwrap())
        .unwrap();
    assert_eq!(w.provider.describe(&key).unwrap().state, KeyState::Enabled);
    let response = w
        .gdk(&GenerateDataKeyRequest {
            encryption_context: Some(r#"{"imported":"yes"}"#),
            ..GenerateDataKeyRequest::new(key.as_str())
        })
        .unwrap();
    assert_eq!(response.key_version_id, version);
    // The imported material is what seals.
    let mut aad = version.as_bytes().to_vec();
    aad.extend_from_slice(&[0, 1, 0, 8]);
    aad.extend_from_slice(b"imported");
    aad.extend_from_slice(&[0, 3]);
    aad.extend_from_slice(b"yes");
    let raw = unb64(&response.ciphertext_blob);
    assert_eq!(
        open_blob(&material, &raw, &aad).unwrap(),
        response.plaintext.expose().as_bytes()
    );
    let opened = w
        .decrypt(&DecryptRequest {
            encryption_context: Some(r#"{"imported":"yes"}"#),
            ..DecryptRequest::new(&response.ciphertext_blob)
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());

    // A deletion cancelled before import returns to PendingImport.
    let pending = w.add_key(&KeyOptions::new(ACCOUNT, REGION).origin(KeyOrigin::External));
    w.provider.schedule_key_deletion(&pending).unwrap();
    assert_rejected(&gdk_err(&mut w, &pending), "PendingDeletion");
    w.provider.cancel_key_deletion(&pending).unwrap();
    assert_rejected(&gdk_err(&mut w, &pending), "PendingImport");
}

#[test]
fn only_symmetric_encrypt_decrypt_keys_take_part() {
    let mut w = World::new(604);
    let keys = [
        w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256)),
        w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Rsa2048)),
        w.add_key(&KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify)),
        w.add_key(
            &KeyOptions::new(ACCOUNT, REGION)
                .spec(MasterKeySpec::EcP256)
                .usage(KeyUsage::SignVerify),
        ),
    ];
    for key in keys {
        assert_unsupported(&gdk_err(&mut w, &key));
        let version = w.primary(&key);
        assert_unsupported(&decrypt_err(&mut w, &blob_naming(&version)));
        // By alias too.
        let alias = format!("alias/k{}", &key.as_str()[..8]);
        w.provider.create_alias(&alias, &key).unwrap();
        assert_unsupported(&w.gdk(&GenerateDataKeyRequest::new(&alias)).unwrap_err());
    }
    // AES-128 master keys do take part.
    let aes128 = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::Aes128));
    let response = w
        .gdk(&GenerateDataKeyRequest::new(aes128.as_str()))
        .unwrap();
    let opened = w
        .decrypt(&DecryptRequest::new(&response.ciphertext_blob))
        .unwrap();
    assert_eq!(opened.plaintext.expose(), response.plaintext.expose());
}

#[test]
fn state_is_checked_before_usage() {
    let mut w = World::new(605);
    let ec = w.add_key(&KeyOptions::new(ACCOUNT, REGION).spec(MasterKeySpec::EcP256));
    let sign = w.add_key(&KeyOptions::new(ACCOUNT, REGION).usage(KeyUsage::SignVerify));
    w.provider.disable_key(&ec).unwrap();
    w.provider.schedule_key_deletion(&sign).unwrap();
    assert_rejected(&gdk_err(&mut w, &ec), "Disabled");
    assert_rejected(&gdk_err(&mut w, &sign), "PendingDeletion");
    let v = w.primary(&ec);
    assert_rejected(&decrypt_err(&mut w, &blob_naming(&v)), "Disabled");
}

#[test]
fn fixed_provider_states() {
    let material = known_material_256();
    let mut provider = fixed_provider(&material);
    let key = KeyId::parse(FIXED_KEY_ID).unwrap();
    let mut r = rng(606);
    let blob = generate_data_key(
        &mut provider,
        &caller(),
        &GenerateDataKeyRequest::new(FIXED_KEY_ID),
        &mut r,
    )
    .unwrap();
    for (state, name) in [
        (KeyState::Disabled, "Disabled"),
        (KeyState::PendingDeletion, "PendingDeletion"),
        (KeyState::PendingImport, "PendingImport"),
        (KeyState::Unavailable, "Unavailable"),
    ] {
        provider.set_state(&key, state).unwrap();
        let err = generate_data_key(
            &mut provider,
            &caller(),
            &GenerateDataKeyRequest::new(FIXED_KEY_ID),
            &mut r,
        )
        .unwrap_err();
        assert_rejected(&err, name);
        let err = decrypt(
            &provider,
            &caller(),
            &DecryptRequest::new(&blob.ciphertext_blob),
            &mut r,
        )
        .unwrap_err();
        assert_rejected(&err, name);
    }
    provider.set_state(&key, KeyState::Enabled).unwrap();
    let opened = decrypt(
        &provider,
        &caller(),
        &DecryptRequest::new(&blob.ciphertext_blob),
        &mut r,
    )
    .unwrap();
    assert_eq!(opened.plaintext.expose(), blob.plaintext.expose());
}

#[test]
fn key_state_names_and_rejections() {
    assert_eq!(KeyState::Enabled.rejection(), None);
    for (state, name) in [
        (KeyState::Disabled, "Disabled"),
        (KeyState::PendingDeletion, "PendingDeletion"),
        (KeyState::PendingImport, "PendingImport"),
        (KeyState::Unavailable, "Unavailable"),
    ] {
        assert_eq!(state.name(), name);
        assert_rejected(&state.rejection().unwrap(), name);
    }
}
