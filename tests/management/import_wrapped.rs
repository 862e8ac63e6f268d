//! Bring your own key (`management::import`): GetParametersForImport, the material wrapped here
//! with the `rsa` crate under its public key with each WrappingAlgorithm, ImportKeyMaterial,
//! then the key seals and opens; tokens of another key, altered, malformed or expired; material
//! of the wrong length or not the key's; DeleteKeyMaterial and expiry back to PendingImport and
//! the same material imported again; the check value through records and snapshots.

use core::time::Duration;

use base64ct::{Base64, Encoding};
use kms_core::management::import::{
    self, ImportParameters, ImportTokenKey, WrappingAlgorithm, WrappingKeyPair, WrappingKeySpec,
};
use kms_core::management::{self, Due, KeyStore};
use kms_core::{Error, InMemoryProvider, KeyId, KeyState, MasterKeySpec};
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, Pkcs1v15Encrypt, PublicKey};

use crate::support::*;
use crate::testkit::*;

const TOKEN_KEY: [u8; 32] = [0x70; 32];

fn token_key() -> ImportTokenKey {
    ImportTokenKey::new(TOKEN_KEY)
}

impl Kms {
    fn params_for(
        &mut self,
        key: &str,
        algorithm: WrappingAlgorithm,
    ) -> Result<ImportParameters, Error> {
        let pair = WrappingKeyPair::generate(WrappingKeySpec::Rsa2048, &mut self.rng)?;
        import::get_parameters_for_import(
            &self.provider,
            &owner(),
            &reference(key),
            algorithm,
            &pair,
            &token_key(),
            &mut self.rng,
            self.now,
        )
    }

    fn import_wrapped(
        &mut self,
        key: &str,
        wrapped: &[u8],
        token: &str,
        expires: Option<Duration>,
    ) -> Result<(), Error> {
        let staged = import::import_wrapped_key_material(
            &self.provider,
            &owner(),
            &reference(key),
            wrapped,
            token,
            expires,
            &token_key(),
            &mut self.rng,
            self.now,
        );
        self.commit(staged)
    }

    /// GetParametersForImport, the material wrapped with `algorithm`, ImportKeyMaterial.
    fn byok(
        &mut self,
        key: &str,
        algorithm: WrappingAlgorithm,
        material: &[u8],
        expires: Option<Duration>,
    ) -> Result<(), Error> {
        let p = self.params_for(key, algorithm)?;
        let wrapped = wrap(&p.public_key, algorithm, material, &mut self.rng);
        self.import_wrapped(key, &wrapped, &p.import_token, expires)
    }
}

/// Wraps `material` as a caller does: the `PublicKey` is Base64 DER SubjectPublicKeyInfo.
fn wrap(
    public_key: &str,
    algorithm: WrappingAlgorithm,
    material: &[u8],
    rng: &mut rand_chacha::ChaCha20Rng,
) -> Vec<u8> {
    let der = Base64::decode_vec(public_key).expect("Base64");
    let public = PublicKey::from_public_key_der(&der).expect("SubjectPublicKeyInfo DER");
    assert_eq!(der.len(), 294, "an RSA-2048 SubjectPublicKeyInfo");
    match algorithm {
        WrappingAlgorithm::RsaesOaepSha256 => {
            public.encrypt(rng, Oaep::<sha2::Sha256>::new(), material)
        }
        WrappingAlgorithm::RsaesOaepSha1 => {
            public.encrypt(rng, Oaep::<sha1::Sha1>::new(), material)
        }
        _ => public.encrypt(rng, Pkcs1v15Encrypt, material),
    }
    .expect("wrap")
}

fn external(k: &mut Kms) -> (KeyId, String) {
    let key = k.external_key(MasterKeySpec::Aes256);
    (key, key.to_string())
}

#[test]
fn every_wrapping_algorithm_round_trips() {
    for (i, algorithm) in WrappingAlgorithm::ALL.into_iter().enumerate() {
        let mut k = Kms::new(700 + i as u64);
        for (spec, len) in [(MasterKeySpec::Aes256, 32), (MasterKeySpec::Aes128, 16)] {
            let key = k.external_key(spec);
            let text = key.to_string();
            let p = k.params_for(&text, algorithm).unwrap();
            assert_eq!(p.key_id, key);
            assert_eq!(p.token_expires, k.now + Duration::from_secs(86_400));
            assert!(p.import_token.len() <= import::MAX_IMPORT_TOKEN_CHARS);
            let material: Vec<u8> = (0..len)
                .map(|j| (j as u8).wrapping_mul(29) ^ i as u8)
                .collect();
            let wrapped = wrap(&p.public_key, algorithm, &material, &mut k.rng);
            k.import_wrapped(&text, &wrapped, &p.import_token, None)
                .unwrap();
            let m = k.describe(&text).unwrap();
            assert_eq!(m.state, KeyState::Enabled, "{algorithm:?}");
            assert_eq!(
                m.settings.material_check,
                Some(management::material_check(&self::material(&material)))
            );
            assert_eq!(m.settings.material_expires, None);
            let made = k.assert_round_trip(&text);
            assert!(
                opens_with(&material, &made.ciphertext_blob).is_some(),
                "{algorithm:?}"
            );
        }
    }
}

#[test]
fn each_request_gets_a_fresh_wrapping_key_and_token() {
    let mut k = Kms::new(710);
    let (_, text) = external(&mut k);
    let a = k
        .params_for(&text, WrappingAlgorithm::RsaesOaepSha256)
        .unwrap();
    let b = k
        .params_for(&text, WrappingAlgorithm::RsaesOaepSha256)
        .unwrap();
    assert_ne!(a.public_key, b.public_key);
    assert_ne!(a.import_token, b.import_token);
    // A token goes with its own public key only: material wrapped under the other does not
    // unwrap.
    let wrapped = wrap(
        &a.public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        &[1; 32],
        &mut k.rng,
    );
    assert_eq!(
        k.import_wrapped(&text, &wrapped, &b.import_token, None),
        Err(Error::InvalidKeyMaterial)
    );
    k.import_wrapped(&text, &wrapped, &a.import_token, None)
        .unwrap();
}

#[test]
fn tokens_of_another_key_altered_malformed_or_expired_are_refused() {
    let mut k = Kms::new(720);
    let (_, text) = external(&mut k);
    let (_, other) = external(&mut k);
    let alg = WrappingAlgorithm::RsaesOaepSha256;
    let theirs = k.params_for(&other, alg).unwrap();
    let wrapped = wrap(&theirs.public_key, alg, &[2; 32], &mut k.rng);
    // Another key's token.
    assert_eq!(
        k.import_wrapped(&text, &wrapped, &theirs.import_token, None),
        Err(Error::InvalidImportToken)
    );
    // Altered anywhere (each byte of the sealed token flipped in turn, a sample of positions).
    let raw = Base64::decode_vec(&theirs.import_token).unwrap();
    for at in (0..raw.len()).step_by(97).chain([raw.len() - 1]) {
        let mut bad = raw.clone();
        bad[at] ^= 0x01;
        let bad = Base64::encode_string(&bad);
        assert_eq!(
            k.import_wrapped(&other, &wrapped, &bad, None),
            Err(Error::InvalidImportToken),
            "{at}"
        );
    }
    // Sealed under another token key.
    let staged = import::import_wrapped_key_material(
        &k.provider,
        &owner(),
        &reference(&other),
        &wrapped,
        &theirs.import_token,
        None,
        &ImportTokenKey::new([0x71; 32]),
        &mut k.rng,
        k.now,
    );
    assert_eq!(staged.err(), Some(Error::InvalidImportToken));
    // Malformed: not Base64, empty, truncated, too long, noise.
    let long = "A".repeat(import::MAX_IMPORT_TOKEN_CHARS + 4);
    let truncated = Base64::encode_string(&raw[..raw.len() / 2]);
    for bad in [
        "",
        "not a token",
        "%%%%",
        "AAAA",
        &long,
        &truncated,
        &theirs.import_token[1..],
    ] {
        assert_eq!(
            k.import_wrapped(&other, &wrapped, bad, None),
            Err(Error::InvalidImportToken),
            "{bad:.20}"
        );
    }
    let err = Error::InvalidImportToken;
    assert_eq!(
        (err.status(), err.code(), err.message().to_string().as_str()),
        (400, "InvalidImportToken", "import token is invalid.")
    );
    // Expired: 24 hours after it was made, not a second before.
    k.advance(Duration::from_secs(86_400 - 1));
    let fresh = k.params_for(&other, alg).unwrap();
    k.advance(Duration::from_secs(1));
    let err = k
        .import_wrapped(&other, &wrapped, &theirs.import_token, None)
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code(), err.message().to_string().as_str()),
        (400, "ExpiredImportToken", "import token is expired.")
    );
    // Nothing was imported; a valid token then works.
    assert_eq!(k.describe(&other).unwrap().state, KeyState::PendingImport);
    let wrapped = wrap(&fresh.public_key, alg, &[2; 32], &mut k.rng);
    k.import_wrapped(&other, &wrapped, &fresh.import_token, None)
        .unwrap();
}

#[test]
fn random_tokens_never_panic() {
    let mut k = Kms::new(725);
    let (_, text) = external(&mut k);
    let p = k
        .params_for(&text, WrappingAlgorithm::RsaesPkcs1V15)
        .unwrap();
    let raw = Base64::decode_vec(&p.import_token).unwrap();
    let mut rng = rng(726);
    use kms_core::rand_core::Rng;
    for i in 0..300 {
        let mut bytes = raw.clone();
        bytes.truncate(rng.next_u32() as usize % (raw.len() + 1));
        if i % 2 == 0 {
            let at = rng.next_u32() as usize % raw.len().max(1);
            if at < bytes.len() {
                bytes[at] = rng.next_u32() as u8;
            }
        }
        let token = Base64::encode_string(&bytes);
        let result = k.import_wrapped(&text, &[0; 256], &token, None);
        assert!(
            matches!(
                result,
                Err(Error::InvalidImportToken) | Err(Error::InvalidKeyMaterial)
            ),
            "{result:?}"
        );
    }
}

#[test]
fn wrong_length_and_unwrappable_material_is_invalid_key_material() {
    let mut k = Kms::new(730);
    let (_, text) = external(&mut k);
    for algorithm in WrappingAlgorithm::ALL {
        for len in [1usize, 15, 16, 24, 31, 33, 64] {
            let p = k.params_for(&text, algorithm).unwrap();
            let wrapped = wrap(&p.public_key, algorithm, &vec![9; len], &mut k.rng);
            let err = k
                .import_wrapped(&text, &wrapped, &p.import_token, None)
                .unwrap_err();
            assert_eq!(
                (err.status(), err.code(), err.message().to_string().as_str()),
                (400, "InvalidKeyMaterial", "key material is invalid."),
                "{algorithm:?} {len}"
            );
        }
        // Not a ciphertext of this key at all (OAEP: refused; PKCS#1 v1.5: implicit rejection
        // yields pseudorandom bytes, refused by their length).
        let p = k.params_for(&text, algorithm).unwrap();
        for junk in [&[0u8; 256][..], &[0xff; 256], &[1; 10], &[]] {
            assert_eq!(
                k.import_wrapped(&text, junk, &p.import_token, None),
                Err(Error::InvalidKeyMaterial),
                "{algorithm:?}"
            );
        }
    }
    assert_eq!(k.describe(&text).unwrap().state, KeyState::PendingImport);
}

#[test]
fn the_parameters_parse_as_documented() {
    use kms_core::Parameter;
    for a in WrappingAlgorithm::ALL {
        assert_eq!(
            import::wrapping_params(Some(a.name()), Some("RSA_2048")),
            Ok((a, WrappingKeySpec::Rsa2048))
        );
    }
    let inv = |p| Error::InvalidParameter(p);
    assert_eq!(
        import::wrapping_params(None, Some("RSA_2048")),
        Err(Error::MissingParameter(Parameter::WrappingAlgorithm))
    );
    assert_eq!(
        import::wrapping_params(Some("RSAES_OAEP_SHA_256"), None),
        Err(Error::MissingParameter(Parameter::WrappingKeySpec))
    );
    assert_eq!(
        import::wrapping_params(Some("SM2PKE"), Some("EC_SM2")),
        Err(inv(Parameter::WrappingAlgorithm))
    );
    assert_eq!(
        import::wrapping_params(Some("rsaes_oaep_sha_256"), Some("RSA_2048")),
        Err(inv(Parameter::WrappingAlgorithm))
    );
    assert_eq!(
        import::wrapping_params(Some("RSAES_OAEP_SHA_256"), Some("EC_SM2")),
        Err(inv(Parameter::WrappingKeySpec))
    );
    assert_eq!(
        import::wrapping_params(Some("RSAES_OAEP_SHA_256"), Some("RSA_3072")),
        Err(inv(Parameter::WrappingKeySpec))
    );
    let now = T0;
    let p = Parameter::KeyMaterialExpireUnix;
    assert_eq!(import::key_material_expire_unix(None, now), Ok(None));
    assert_eq!(import::key_material_expire_unix(Some("0"), now), Ok(None));
    let later = (now.as_secs() + 1).to_string();
    assert_eq!(
        import::key_material_expire_unix(Some(&later), now),
        Ok(Some(now + Duration::from_secs(1)))
    );
    let now_text = now.as_secs().to_string();
    for bad in [
        "",
        "-1",
        "1.5",
        " 1",
        "abc",
        "1000",
        now_text.as_str(),
        "253402300800",
        "9999999999999",
    ] {
        assert_eq!(
            import::key_material_expire_unix(Some(bad), now),
            Err(inv(p)),
            "{bad}"
        );
    }
    let q = Parameter::EncryptedKeyMaterial;
    assert_eq!(
        import::encrypted_key_material(None),
        Err(Error::MissingParameter(q))
    );
    for bad in ["", "not base64!", "AAA", &"A".repeat(1028)] {
        assert_eq!(import::encrypted_key_material(Some(bad)), Err(inv(q)));
    }
    assert_eq!(
        import::import_token(None),
        Err(Error::MissingParameter(Parameter::ImportToken))
    );
}

#[test]
fn only_external_keys_in_a_state_that_takes_material() {
    let mut k = Kms::new(740);
    let kms = k.key().to_string();
    let err = k
        .params_for(&kms, WrappingAlgorithm::RsaesOaepSha1)
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code(), err.message().to_string().as_str()),
        (
            400,
            "Unsupported.Origin",
            "This key origin is not valid for this api."
        )
    );
    let (_, text) = external(&mut k);
    k.byok(&text, WrappingAlgorithm::RsaesOaepSha1, &[3; 32], None)
        .unwrap();
    // A token made before the deletion was scheduled is refused after it, for the state.
    let p = k
        .params_for(&text, WrappingAlgorithm::RsaesOaepSha1)
        .unwrap();
    k.schedule(&text, 7).unwrap();
    assert_row(
        k.params_for(&text, WrappingAlgorithm::RsaesOaepSha1),
        Row::state_modified_failed(),
    );
    let wrapped = wrap(
        &p.public_key,
        WrappingAlgorithm::RsaesOaepSha1,
        &[3; 32],
        &mut k.rng,
    );
    assert_row(
        k.import_wrapped(&text, &wrapped, &p.import_token, None),
        Row::state_modified_failed(),
    );
    // Unknown keys and other accounts' keys, as for every management operation.
    assert_row(
        k.params_for(UNKNOWN_KEY_ID_SHORT, WrappingAlgorithm::RsaesOaepSha1),
        Row::key_not_found(),
    );
}

#[test]
fn different_material_is_refused_and_the_same_is_imported_again_with_a_new_expiry() {
    let mut k = Kms::new(750);
    let (key, text) = external(&mut k);
    let first = [0x5a; 32];
    let day = Duration::from_secs(86_400);
    k.byok(
        &text,
        WrappingAlgorithm::RsaesOaepSha256,
        &first,
        Some(k.now + day),
    )
    .unwrap();
    assert_eq!(
        k.describe(&text).unwrap().settings.material_expires,
        Some(k.now + day)
    );
    let before = k.gdk(&text).unwrap();
    // Other material, while Enabled: refused, nothing changes.
    let observed = k.observe();
    assert_eq!(
        k.byok(&text, WrappingAlgorithm::RsaesOaepSha256, &[0x5b; 32], None),
        Err(Error::InvalidKeyMaterial)
    );
    assert_eq!(k.observe(), observed);
    // The same material, while Disabled: its expiry is reset (never), the state kept.
    k.disable(&text).unwrap();
    k.byok(&text, WrappingAlgorithm::RsaesPkcs1V15, &first, None)
        .unwrap();
    let m = k.describe(&text).unwrap();
    assert_eq!(
        (m.state, m.settings.material_expires),
        (KeyState::Disabled, None)
    );
    k.enable(&text).unwrap();
    k.decrypt(&before.ciphertext_blob).unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
}

#[test]
fn delete_key_material_then_pending_import_then_the_same_material_again() {
    let mut k = Kms::new(760);
    let (key, text) = external(&mut k);
    let material = [0x33; 32];
    k.byok(&text, WrappingAlgorithm::RsaesOaepSha256, &material, None)
        .unwrap();
    let before = k.gdk(&text).unwrap();
    let staged = management::delete_key_material(&k.provider, &owner(), &reference(&text), k.now);
    k.commit(staged).unwrap();
    assert_eq!(k.state(&key), KeyState::PendingImport);
    assert_row(k.gdk(&text), Row::rejected("PendingImport"));
    assert_row(
        k.decrypt(&before.ciphertext_blob),
        Row::rejected("PendingImport"),
    );
    // The check value outlives the material: other material is refused.
    assert!(k.describe(&text).unwrap().settings.material_check.is_some());
    assert_eq!(
        k.byok(&text, WrappingAlgorithm::RsaesOaepSha256, &[0x34; 32], None),
        Err(Error::InvalidKeyMaterial)
    );
    assert_eq!(k.state(&key), KeyState::PendingImport);
    // The same material: Enabled again, and the old blobs open.
    k.byok(&text, WrappingAlgorithm::RsaesOaepSha1, &material, None)
        .unwrap();
    assert_eq!(k.state(&key), KeyState::Enabled);
    k.decrypt(&before.ciphertext_blob).unwrap();
    // DeleteKeyMaterial of a key without material, and of a service key.
    let staged = management::delete_key_material(&k.provider, &owner(), &reference(&text), k.now);
    k.commit(staged).unwrap();
    assert_row(
        k.commit(management::delete_key_material(
            &k.provider,
            &owner(),
            &reference(&text),
            k.now,
        )),
        Row::state_modified_failed(),
    );
    let service = k.key().to_string();
    assert_row(
        k.commit(management::delete_key_material(
            &k.provider,
            &owner(),
            &reference(&service),
            k.now,
        )),
        Row::unsupported(),
    );
}

#[test]
fn expired_material_goes_pending_import_through_housekeeping_and_comes_back() {
    let mut k = Kms::new(770);
    let (key, text) = external(&mut k);
    let at = k.now + Duration::from_secs(3600);
    k.byok(
        &text,
        WrappingAlgorithm::RsaesOaepSha256,
        &[0x44; 32],
        Some(at),
    )
    .unwrap();
    let before = k.gdk(&text).unwrap();
    assert_eq!(
        management::next_due(&k.provider, at - Duration::from_secs(1), &mut k.rng)
            .unwrap()
            .map(|s| s.into_parts().1),
        None
    );
    let staged = management::next_due(&k.provider, at, &mut k.rng)
        .unwrap()
        .expect("due");
    assert_eq!(staged.output(), &Due::MaterialExpired(key));
    k.provider.apply(staged).unwrap();
    assert_eq!(k.state(&key), KeyState::PendingImport);
    assert_eq!(k.describe(&text).unwrap().settings.material_expires, None);
    assert_row(k.gdk(&text), Row::rejected("PendingImport"));
    k.now = at;
    k.byok(&text, WrappingAlgorithm::RsaesPkcs1V15, &[0x44; 32], None)
        .unwrap();
    k.decrypt(&before.ciphertext_blob).unwrap();
}

#[test]
fn the_check_value_and_expiry_persist_through_records_and_snapshots() {
    let mut k = Kms::new(780);
    let (key, text) = external(&mut k);
    let material = [0x66; 32];
    let at = k.now + Duration::from_secs(7 * 86_400);
    // Records: each change's records, applied to a plain map, rebuild the provider.
    let mut rows: std::collections::BTreeMap<
        (u8, String),
        (Vec<u8>, kms_core::in_memory::records::RecordKind),
    > = Default::default();
    let mut apply = |p: &InMemoryProvider, change: &management::StagedChange| {
        for c in p.record_changes(change).unwrap() {
            match c {
                kms_core::in_memory::records::RecordChange::Put(r) => {
                    let order = match r.kind {
                        kms_core::in_memory::records::RecordKind::Alias => 0,
                        kms_core::in_memory::records::RecordKind::Key => 1,
                        _ => 2,
                    };
                    rows.insert((order, r.name.clone()), (r.body.to_vec(), r.kind));
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    };
    // The import writes the key's record and its version's (with the material): the whole key.
    let p = k
        .params_for(&text, WrappingAlgorithm::RsaesOaepSha256)
        .unwrap();
    let wrapped = wrap(
        &p.public_key,
        WrappingAlgorithm::RsaesOaepSha256,
        &material,
        &mut k.rng,
    );
    let staged = import::import_wrapped_key_material(
        &k.provider,
        &owner(),
        &reference(&text),
        &wrapped,
        &p.import_token,
        Some(at),
        &token_key(),
        &mut k.rng,
        k.now,
    )
    .unwrap();
    apply(&k.provider, staged.change());
    k.provider.apply(staged).unwrap();
    let blob = k.gdk(&text).unwrap().ciphertext_blob;
    let wanted = k.describe(&text).unwrap();
    assert_eq!(
        wanted.settings.material_check,
        Some(management::material_check(&self::material(&material)))
    );
    assert_eq!(wanted.settings.material_expires, Some(at));
    let records = rows
        .values()
        .map(|(body, kind)| kms_core::in_memory::records::StoredRecord {
            kind: *kind,
            body,
            seals: 0,
        });
    let rebuilt = InMemoryProvider::from_records(k.provider.seal_limit(), records).unwrap();
    let mut r = Kms::with_provider(rebuilt, 781);
    r.now = k.now;
    let m = r.describe(&text).unwrap();
    assert_eq!(
        (m.state, &m.settings),
        (KeyState::Enabled, &wanted.settings)
    );
    r.decrypt(&blob).unwrap();
    assert_eq!(
        r.byok(&text, WrappingAlgorithm::RsaesOaepSha256, &[0x67; 32], None),
        Err(Error::InvalidKeyMaterial)
    );
    // Snapshot: the same.
    let bytes = k.provider.export_snapshot(&[9; 32], &mut rng(782)).unwrap();
    let mut s = Kms::with_provider(
        InMemoryProvider::import_snapshot(&bytes, &[9; 32]).unwrap(),
        783,
    );
    s.now = k.now;
    assert_eq!(s.describe(&text).unwrap().settings, wanted.settings);
    s.decrypt(&blob).unwrap();
    // The expiry holds after the round trip: housekeeping removes the material at its time.
    let staged = management::next_due(&s.provider, at, &mut s.rng)
        .unwrap()
        .expect("due");
    assert_eq!(staged.output(), &Due::MaterialExpired(key));
    s.provider.apply(staged).unwrap();
    assert_row(s.gdk(&text), Row::rejected("PendingImport"));
}

#[test]
fn the_token_key_is_not_printed() {
    assert_eq!(format!("{:?}", token_key()), "ImportTokenKey([REDACTED])");
}
