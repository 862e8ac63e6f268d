//! What a caller sends to the key-management operations of issue 15, as text: the rotation,
//! paging, protection and import parameters (`management::params`, `management::import`), a
//! `PublicKeyBlob` of the exports (`export::WrappingKey`), and an ImportToken that the core
//! opens against a store. Never panic; typed errors with the parameter's name; an ImportToken
//! the service did not seal is always `InvalidImportToken`.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use kms_core::export::{WrappingAlgorithm, WrappingKey, WrappingKeySpec};
use kms_core::management::import::{self, ImportTokenKey};
use kms_core::management::{self, CreateKey, KeyStore, ROTATION_INTERVAL, params};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, Error, InMemoryProvider, KeyId, KeyOrigin, KeyReference, Parameter};
use libfuzzer_sys::fuzz_target;

const NOW: Duration = Duration::from_secs(1_715_675_053);

fn caller() -> Caller<'static> {
    Caller::new("1234567890123456", "cn-hangzhou")
}

/// A store with one EXTERNAL key, pending import.
fn store() -> &'static (InMemoryProvider, KeyId) {
    static STORE: OnceLock<(InMemoryProvider, KeyId)> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = InMemoryProvider::new();
        let mut rng = rand_chacha::ChaCha20Rng::from_seed([1; 32]);
        let request = CreateKey::new().with_origin(KeyOrigin::External);
        let staged = management::create_key(&store, &caller(), &request, &mut rng, NOW).unwrap();
        let key = store.apply(staged).unwrap().key_id;
        (store, key)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let mid = (0..=text.len() / 2)
        .rev()
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    let (a, b) = text.split_at(mid);

    match params::rotation_interval(text) {
        Ok(interval) => assert!(ROTATION_INTERVAL.contains(&interval)),
        Err(e) => assert_eq!(e, Error::InvalidParameter(Parameter::RotationInterval)),
    }
    match params::boolean(Some(text), Parameter::EnableAutomaticRotation) {
        Ok(value) => assert_eq!(value, Some(text.eq_ignore_ascii_case("true"))),
        Err(e) => assert_eq!(
            e,
            Error::InvalidParameter(Parameter::EnableAutomaticRotation)
        ),
    }
    if let Ok(Some(interval)) = params::rotation_policy(Some(a), Some(b), true) {
        assert!(ROTATION_INTERVAL.contains(&interval));
    }
    let _ = params::protection_level(Some(text));
    if let Ok(page) = params::page(Some(a), Some(b)) {
        assert!(page.number >= 1 && (1..=100).contains(&page.size));
    }
    if let Ok(days) = params::pending_window_in_days(Some(text)) {
        assert!(management::PENDING_WINDOW_DAYS.contains(&days));
    }
    if let Ok(material) = params::key_material(Some(text)) {
        assert!(matches!(material.expose().len(), 16 | 32));
    }
    let _ = params::next_token(Some(text));
    let _ = import::wrapping_params(Some(a), Some(b));
    if let Ok(wrapped) = import::encrypted_key_material(Some(text)) {
        assert!(!wrapped.is_empty());
    }
    if let Ok(Some(at)) = import::key_material_expire_unix(Some(text), NOW) {
        assert!(at > NOW);
    }
    for algorithm in [
        WrappingAlgorithm::RsaesOaepSha256,
        WrappingAlgorithm::RsaesOaepSha1,
    ] {
        let parsed = WrappingKey::from_base64(text, WrappingKeySpec::Rsa2048, algorithm);
        assert!(matches!(
            parsed,
            Ok(_) | Err(Error::InvalidParameter(Parameter::PublicKeyBlob))
        ));
    }

    // The text as an ImportToken: no text the service did not seal opens.
    let (store, key) = store();
    let mut rng = rand_chacha::ChaCha20Rng::from_seed([2; 32]);
    let token_key = ImportTokenKey::new([7; 32]);
    let staged = import::import_wrapped_key_material(
        store,
        &caller(),
        &KeyReference::Id(*key),
        &[0x42; 256],
        text,
        None,
        &token_key,
        &mut rng,
        NOW,
    );
    assert_eq!(staged.map(drop), Err(Error::InvalidImportToken));
});
