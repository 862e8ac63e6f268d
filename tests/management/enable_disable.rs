//! EnableKey and DisableKey: every KeyId form, repeated calls, what the answer says, and the
//! data-key operations on either side.

use kms_core::KeyState;
use kms_core::management::{self, KeyStore};

use crate::support::*;
use crate::testkit::*;

#[test]
fn enable_and_disable_accept_every_key_id_form() {
    let mut k = Kms::new(19);
    let key = k.key();
    k.create_alias("alias/x", key.as_str()).unwrap();
    let forms = [
        key.to_string(),
        "alias/x".to_string(),
        key_arn(REGION, ACCOUNT, &key),
        alias_arn(REGION, ACCOUNT, "alias/x"),
    ];
    for form in &forms {
        k.disable(form).unwrap();
        assert_eq!(k.state(&key), KeyState::Disabled, "{form}");
        k.enable(form).unwrap();
        assert_eq!(k.state(&key), KeyState::Enabled, "{form}");
    }
}

#[test]
fn the_answer_is_the_key_as_it_will_be() {
    let mut k = Kms::new(20);
    let key = k.key();
    let before = k.describe(key.as_str()).unwrap();
    let staged = management::disable_key(&k.provider, &owner(), &key.into(), k.now).unwrap();
    let answer = staged.output().clone();
    assert_eq!(answer.state, KeyState::Disabled);
    // Only the state (reported and stored) differs from the key as it was.
    let mut expected = before.clone();
    expected.state = KeyState::Disabled;
    expected.stored_state = KeyState::Disabled;
    assert_eq!(answer, expected);
    k.provider.apply(staged).unwrap();
    assert_eq!(k.describe(key.as_str()).unwrap(), answer);
}

#[test]
fn repeated_enable_and_disable_are_idempotent() {
    let mut k = Kms::new(200);
    let key = k.key();
    let text = key.to_string();
    for _ in 0..2 {
        let m = k.disable(&text).unwrap();
        assert_eq!(m.state, KeyState::Disabled);
        assert_eq!(k.state(&key), KeyState::Disabled);
    }
    for _ in 0..2 {
        let m = k.enable(&text).unwrap();
        assert_eq!(m.state, KeyState::Enabled);
        assert_eq!(k.state(&key), KeyState::Enabled);
    }
    k.assert_round_trip(&text);
}

#[test]
fn disabled_key_blobs_decrypt_again_once_enabled() {
    let mut k = Kms::new(201);
    let key = k.key();
    let text = key.to_string();
    let made = k.gdk(&text).unwrap();
    k.disable(&text).unwrap();
    assert_row(k.decrypt(&made.ciphertext_blob), Row::rejected("Disabled"));
    assert_row(k.gdk(&text), Row::rejected("Disabled"));
    k.enable(&text).unwrap();
    let opened = k.decrypt(&made.ciphertext_blob).unwrap();
    assert_eq!(opened.plaintext.expose(), made.plaintext.expose());
}

#[test]
fn a_staged_disable_leaves_the_key_usable_until_committed() {
    let mut k = Kms::new(202);
    let key = k.key();
    let text = key.to_string();
    let staged = management::disable_key(&k.provider, &owner(), &key.into(), k.now).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    k.assert_round_trip(&text);
    k.provider.commit(staged.into_change()).unwrap();
    assert_row(k.gdk(&text), Row::rejected("Disabled"));
}

#[test]
fn enable_and_disable_are_refused_pending_deletion_or_import() {
    let mut k = Kms::new(203);
    let pending = k.key();
    k.schedule(pending.as_str(), 7).unwrap();
    let external = k.external_key(kms_core::MasterKeySpec::Aes256);
    for key in [pending, external] {
        let before = fingerprint(&k.provider);
        assert_row(k.enable(key.as_str()), Row::state_modified_failed());
        assert_row(k.disable(key.as_str()), Row::state_modified_failed());
        assert_eq!(fingerprint(&k.provider), before);
    }
    assert_eq!(k.state(&pending), KeyState::PendingDeletion);
    assert_eq!(k.state(&external), KeyState::PendingImport);
}

#[test]
fn another_account_may_not_enable_or_disable_even_with_every_data_key_permission() {
    let mut k = Kms::new(204);
    let key = k.key();
    k.provider.allow_account(&key, OTHER_ACCOUNT).unwrap();
    let arn = key_arn(REGION, ACCOUNT, &key);
    assert_row(k.disable_as(&other(), &arn), Row::no_permission());
    assert_row(k.enable_as(&other(), &arn), Row::no_permission());
    assert_eq!(k.state(&key), KeyState::Enabled);
    // The data-key permission is real.
    assert_eq!(k.gdk_as(&other(), &arn).unwrap().key_id, key);
}
