//! The KMS-instance API's operations (`KMS-INSTANCE.md` §3, §4): round trips of every form,
//! the blobs checked with the testkit's own AES-GCM, the caller's Iv, the migration header and
//! rotation, the instance's scope, the parameter checks, the draw order, and properties of the
//! Advance blob.

use kms_core::instance::blob::{ADVANCE_HEADER, ADVANCE_OVERHEAD, AdvanceBlob};
use kms_core::instance::{
    self, DecryptParams, EncryptParams, GenerateDataKeyParams, GenerateRandomResponse, Scope,
};
use kms_core::management::{self, KeyStore};
use kms_core::ops::{self, GenerateDataKeyRequest};
use kms_core::{
    Error, InMemoryProvider, InstanceId, KeyId, KeyOptions, KeyOrigin, KeyVersionId,
    MasterKeyMaterial, Parameter, RequestId,
};
use proptest::prelude::*;
use rand_core::TryRng;

use crate::testkit::*;

const INSTANCE: &str = "kst-hzz62ee6a5bd7sqd8w1rq";
const OTHER_INSTANCE: &str = "kst-bjj62ee6a5bd7sqd8w1rq";

fn instance() -> InstanceId {
    InstanceId::parse(INSTANCE).unwrap()
}

fn scope() -> Scope<'static> {
    Scope::new(owner(), instance())
}

/// A provider with a key in the instance (known material, imported), a key in another
/// instance, and a gateway key.
struct Setup {
    provider: InMemoryProvider,
    key: KeyId,
    other_instance_key: KeyId,
    gateway_key: KeyId,
    rng: rand_chacha::ChaCha20Rng,
}

impl Setup {
    fn new(seed: u64) -> Self {
        let mut rng = rng(seed);
        let mut provider = InMemoryProvider::new();
        let options = KeyOptions::new(ACCOUNT, REGION);
        let key = provider
            .create_key(
                &mut rng,
                &options.origin(KeyOrigin::External).instance(instance()),
            )
            .unwrap();
        let material = MasterKeyMaterial::from_slice(&known_material_256()).unwrap();
        let staged =
            management::import_key_material(&provider, &owner(), &key.into(), material, T0);
        provider.apply(staged.unwrap()).unwrap();
        let other = InstanceId::parse(OTHER_INSTANCE).unwrap();
        let other_instance_key = provider
            .create_key(&mut rng, &options.instance(other))
            .unwrap();
        let gateway_key = provider.create_key(&mut rng, &options).unwrap();
        Self {
            provider,
            key,
            other_instance_key,
            gateway_key,
            rng,
        }
    }

    fn key_text(&self) -> String {
        self.key.to_string()
    }

    fn primary(&self) -> KeyVersionId {
        self.provider.meta(&self.key).primary
    }

    fn rotate(&mut self) -> KeyVersionId {
        let staged = management::create_key_version(
            &self.provider,
            &owner(),
            &self.key.into(),
            &mut self.rng,
            T0,
        );
        self.provider.apply(staged.unwrap()).unwrap().key_version_id
    }

    fn disable(&mut self) {
        let staged = management::disable_key(&self.provider, &owner(), &self.key.into(), T0);
        self.provider.apply(staged.unwrap()).unwrap();
    }

    fn encrypt(&mut self, p: &EncryptParams<'_>) -> Result<instance::EncryptResponse, Error> {
        instance::encrypt(&self.provider, &scope(), p, &mut self.rng)
    }

    fn advance_encrypt(
        &mut self,
        p: &EncryptParams<'_>,
    ) -> Result<instance::EncryptResponse, Error> {
        instance::advance_encrypt(&self.provider, &scope(), p, &mut self.rng)
    }

    fn decrypt(&mut self, p: &DecryptParams<'_>) -> Result<instance::DecryptResponse, Error> {
        instance::decrypt(&self.provider, &scope(), p, &mut self.rng)
    }

    fn advance_decrypt(
        &mut self,
        p: &DecryptParams<'_>,
    ) -> Result<instance::DecryptResponse, Error> {
        instance::advance_decrypt(&self.provider, &scope(), p, &mut self.rng)
    }

    fn generate(
        &mut self,
        p: &GenerateDataKeyParams<'_>,
    ) -> Result<instance::GenerateDataKeyResponse, Error> {
        instance::generate_data_key(&self.provider, &scope(), p, &mut self.rng)
    }

    fn advance_generate(
        &mut self,
        p: &GenerateDataKeyParams<'_>,
    ) -> Result<instance::GenerateDataKeyResponse, Error> {
        instance::advance_generate_data_key(&self.provider, &scope(), p, &mut self.rng)
    }
}

/// A `KeyStore`'s description of a key, for the tests.
trait Meta {
    fn meta(&self, key: &KeyId) -> management::KeyMeta;
}

impl Meta for InMemoryProvider {
    fn meta(&self, key: &KeyId) -> management::KeyMeta {
        self.key(key).unwrap().unwrap()
    }
}

/// Seals with the testkit's AES-256-GCM, without the crate: `ciphertext || tag`.
fn bare_seal(iv: [u8; 12], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    // `seal_blob` writes `version || iv || ciphertext || tag`; keep the last part.
    let blob = seal_blob(
        &known_material_256(),
        "00000000-0000-4000-8000-000000000000",
        iv,
        aad,
        plaintext,
    );
    blob[36 + 12..].to_vec()
}

fn encrypt_params<'a>(key: &'a str, plaintext: &'a [u8], aad: &'a [u8]) -> EncryptParams<'a> {
    EncryptParams {
        key_id: key,
        plaintext,
        aad,
        ..EncryptParams::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[test]
fn encrypt_seals_the_bytes_with_the_aad_and_decrypt_opens_them() {
    let mut s = Setup::new(1);
    let key = s.key_text();
    let out = s
        .encrypt(&encrypt_params(&key, b"attack at dawn", b"my aad"))
        .unwrap();
    assert_eq!(out.key_id, s.key);
    assert_eq!(out.key_version_id, s.primary());
    assert_eq!((out.algorithm, out.padding_mode), ("AES_GCM", ""));
    // ciphertext || tag, as bare AES-GCM under the known material makes it.
    assert_eq!(
        out.ciphertext_blob,
        bare_seal(out.iv.0, b"my aad", b"attack at dawn")
    );
    let opened = s
        .decrypt(&DecryptParams {
            ciphertext_blob: &out.ciphertext_blob,
            key_id: &key,
            aad: b"my aad",
            iv: &out.iv.0,
            ..DecryptParams::default()
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), b"attack at dawn");
    assert_eq!(opened.key_version_id, out.key_version_id);
    assert_ne!(opened.request_id, out.request_id);
}

#[test]
fn advance_blobs_name_their_version_and_open_with_only_the_blob_and_aad() {
    let mut s = Setup::new(2);
    let key = s.key_text();
    let out = s
        .advance_encrypt(&encrypt_params(&key, b"\x00\x01binary\xff", b"aad"))
        .unwrap();
    let blob = &out.ciphertext_blob;
    assert_eq!(blob.len(), ADVANCE_OVERHEAD + 9);
    assert_eq!(blob[..3], ADVANCE_HEADER);
    assert_eq!(&blob[3..39], s.primary().as_str().as_bytes());
    assert_eq!(&blob[39..51], &out.iv.0);
    assert_eq!(
        &blob[51..],
        bare_seal(out.iv.0, b"aad", b"\x00\x01binary\xff")
    );
    let opened = s
        .advance_decrypt(&DecryptParams {
            ciphertext_blob: blob,
            aad: b"aad",
            ..DecryptParams::default()
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), b"\x00\x01binary\xff");
    assert_eq!(opened.key_id, s.key);
    assert_eq!(opened.key_version_id, s.primary());
}

#[test]
fn data_keys_are_raw_bytes_sealed_raw_in_both_forms() {
    let mut s = Setup::new(3);
    let key = s.key_text();
    for (asked, len) in [(0, 32), (1, 1), (16, 16), (1024, 1024)] {
        let p = GenerateDataKeyParams {
            key_id: &key,
            number_of_bytes: asked,
            aad: b"ctx",
            ..GenerateDataKeyParams::default()
        };
        let basic = s.generate(&p).unwrap();
        assert_eq!(basic.plaintext.expose().len(), len);
        assert_eq!(
            basic.ciphertext_blob,
            bare_seal(basic.iv.0, b"ctx", basic.plaintext.expose())
        );
        let opened = s
            .decrypt(&DecryptParams {
                ciphertext_blob: &basic.ciphertext_blob,
                key_id: &key,
                aad: b"ctx",
                iv: &basic.iv.0,
                ..DecryptParams::default()
            })
            .unwrap();
        assert_eq!(opened.plaintext.expose(), basic.plaintext.expose());

        let advance = s.advance_generate(&p).unwrap();
        assert_eq!(advance.plaintext.expose().len(), len);
        let parsed = AdvanceBlob::decode(&advance.ciphertext_blob).unwrap();
        assert_eq!(parsed.iv, advance.iv);
        let opened = s
            .advance_decrypt(&DecryptParams {
                ciphertext_blob: &advance.ciphertext_blob,
                aad: b"ctx",
                ..DecryptParams::default()
            })
            .unwrap();
        assert_eq!(opened.plaintext.expose(), advance.plaintext.expose());
    }
}

#[test]
fn the_draws_are_the_data_key_then_the_iv_then_the_request_id() {
    let mut s = Setup::new(4);
    let key = s.key_text();
    let mut replay = s.rng.clone();
    let out = s
        .generate(&GenerateDataKeyParams {
            key_id: &key,
            ..GenerateDataKeyParams::default()
        })
        .unwrap();
    let mut data_key = [0u8; 32];
    let mut iv = [0u8; 12];
    replay.try_fill_bytes(&mut data_key).unwrap();
    replay.try_fill_bytes(&mut iv).unwrap();
    assert_eq!(out.plaintext.expose(), data_key);
    assert_eq!(out.iv.0, iv);
    assert_eq!(out.request_id, RequestId::random(&mut replay).unwrap());

    let mut replay = s.rng.clone();
    let GenerateRandomResponse { random, request_id } =
        instance::generate_random(100, &mut s.rng).unwrap();
    let mut expected = [0u8; 100];
    replay.try_fill_bytes(&mut expected).unwrap();
    assert_eq!(random, expected);
    assert_eq!(request_id, RequestId::random(&mut replay).unwrap());
}

#[test]
fn a_callers_iv_is_the_one_sealed_with() {
    let mut s = Setup::new(5);
    let key = s.key_text();
    let iv = [0x5a; 12];
    let p = EncryptParams {
        iv: &iv,
        ..encrypt_params(&key, b"text", b"")
    };
    let mut untouched = s.rng.clone();
    let out = s.encrypt(&p).unwrap();
    assert_eq!(out.iv.0, iv);
    assert_eq!(out.ciphertext_blob, bare_seal(iv, b"", b"text"));
    // Only the request ID came from the RNG.
    assert_eq!(out.request_id, RequestId::random(&mut untouched).unwrap());
    let advance = s.advance_encrypt(&p).unwrap();
    assert_eq!(
        AdvanceBlob::decode(&advance.ciphertext_blob).unwrap().iv.0,
        iv
    );
}

#[test]
fn gateway_operations_work_on_instance_keys_and_seals_count_against_one_budget() {
    let mut s = Setup::new(6);
    let version = s.primary();
    let before = s.provider.seal_count(&version).unwrap();
    let key = s.key_text();
    s.encrypt(&encrypt_params(&key, b"x", b"")).unwrap();
    let gateway = ops::generate_data_key(
        &s.provider,
        &owner(),
        &GenerateDataKeyRequest::new(s.key),
        &mut s.rng,
    )
    .unwrap()
    .done()
    .unwrap();
    assert_eq!(gateway.key_id, s.key);
    assert_eq!(s.provider.seal_count(&version).unwrap(), before + 2);
}

// ---------------------------------------------------------------------------------------------
// Rotation and the migration header

#[test]
fn after_a_rotation_old_blobs_open_through_the_header_or_the_advance_form() {
    let mut s = Setup::new(7);
    // Keys of imported material do not rotate: a key with material of its own.
    let options = KeyOptions::new(ACCOUNT, REGION).instance(instance());
    s.key = s.provider.create_key(&mut s.rng, &options).unwrap();
    let key = s.key_text();
    let old_version = s.primary();
    let basic = s.encrypt(&encrypt_params(&key, b"old", b"a")).unwrap();
    let advance = s
        .advance_encrypt(&encrypt_params(&key, b"old", b"a"))
        .unwrap();
    let new_version = s.rotate();
    assert_ne!(new_version, old_version);
    assert_eq!(s.primary(), new_version);

    let header = old_version.to_string();
    let base = DecryptParams {
        ciphertext_blob: &basic.ciphertext_blob,
        key_id: &key,
        aad: b"a",
        iv: &basic.iv.0,
        ..DecryptParams::default()
    };
    // Without the header the primary (new) version is tried, and the tag fails.
    assert_eq!(
        s.decrypt(&base).unwrap_err(),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
    let opened = s
        .decrypt(&DecryptParams {
            migration_key_version_id: Some(&header),
            ..base
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), b"old");
    assert_eq!(opened.key_version_id, old_version);

    let opened = s
        .advance_decrypt(&DecryptParams {
            ciphertext_blob: &advance.ciphertext_blob,
            aad: b"a",
            ..DecryptParams::default()
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), b"old");
    assert_eq!(opened.key_version_id, old_version);

    // New seals use the new version.
    let fresh = s.encrypt(&encrypt_params(&key, b"new", b"")).unwrap();
    assert_eq!(fresh.key_version_id, new_version);
}

#[test]
fn migration_headers_are_checked() {
    let mut s = Setup::new(8);
    let key = s.key_text();
    let out = s.encrypt(&encrypt_params(&key, b"t", b"")).unwrap();
    let other_version = s.provider.meta(&s.other_instance_key).primary.to_string();
    let gateway_version = s.provider.meta(&s.gateway_key).primary.to_string();
    let run = |s: &mut Setup, header: &str| {
        s.decrypt(&DecryptParams {
            ciphertext_blob: &out.ciphertext_blob,
            key_id: &key,
            iv: &out.iv.0,
            migration_key_version_id: Some(header),
            ..DecryptParams::default()
        })
        .unwrap_err()
    };
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    assert_eq!(run(&mut s, "not-a-version"), invalid_blob);
    assert_eq!(run(&mut s, UNKNOWN_KEY_ID), Error::KeyNotFound);
    // A version of a key that another instance holds, or the gateway: not found here.
    assert_eq!(run(&mut s, &other_version), Error::KeyNotFound);
    assert_eq!(run(&mut s, &gateway_version), Error::KeyNotFound);
    // A version of another key of this instance.
    let mut options = KeyOptions::new(ACCOUNT, REGION);
    options = options.instance(instance());
    let sibling = s.provider.create_key(&mut s.rng, &options).unwrap();
    let sibling_version = s.provider.meta(&sibling).primary.to_string();
    assert_eq!(run(&mut s, &sibling_version), invalid_blob);
}

// ---------------------------------------------------------------------------------------------
// The instance's scope and the key checks

#[test]
fn only_the_instances_own_keys_are_found() {
    let mut s = Setup::new(9);
    for key in [s.other_instance_key, s.gateway_key] {
        let text = key.to_string();
        assert_eq!(
            s.encrypt(&encrypt_params(&text, b"x", b"")).unwrap_err(),
            Error::KeyNotFound
        );
        let p = GenerateDataKeyParams {
            key_id: &text,
            ..GenerateDataKeyParams::default()
        };
        assert_eq!(s.generate(&p).unwrap_err(), Error::KeyNotFound);
        // And as an ARN.
        let arn = key_arn(REGION, ACCOUNT, &key);
        assert_eq!(
            s.encrypt(&encrypt_params(&arn, b"x", b"")).unwrap_err(),
            Error::KeyNotFound
        );
    }
    // An alias of a gateway key is not found either.
    let staged = management::create_alias(&s.provider, &owner(), ALIAS, &s.gateway_key.into(), T0);
    s.provider.apply(staged.unwrap()).unwrap();
    assert_eq!(
        s.encrypt(&encrypt_params(ALIAS, b"x", b"")).unwrap_err(),
        Error::AliasNotFound
    );
    // Another scope (the other instance) finds its own key and not ours.
    let other_scope = Scope::new(owner(), InstanceId::parse(OTHER_INSTANCE).unwrap());
    let text = s.other_instance_key.to_string();
    let p = encrypt_params(&text, b"x", b"");
    assert!(instance::encrypt(&s.provider, &other_scope, &p, &mut s.rng).is_ok());
    let ours = s.key_text();
    let p = encrypt_params(&ours, b"x", b"");
    assert_eq!(
        instance::encrypt(&s.provider, &other_scope, &p, &mut s.rng).unwrap_err(),
        Error::KeyNotFound
    );
    // Another account of the same instance: the key's policy decides, as on the gateway.
    let stranger = Scope::new(other(), instance());
    assert_eq!(
        instance::encrypt(&s.provider, &stranger, &p, &mut s.rng).unwrap_err(),
        Error::KeyNotFound
    );
}

#[test]
fn a_disabled_key_refuses_every_operation_with_its_state() {
    let mut s = Setup::new(10);
    let key = s.key_text();
    let sealed = s.advance_encrypt(&encrypt_params(&key, b"x", b"")).unwrap();
    s.disable();
    assert_eq!(
        s.encrypt(&encrypt_params(&key, b"x", b"")).unwrap_err(),
        Error::Disabled
    );
    let p = GenerateDataKeyParams {
        key_id: &key,
        ..GenerateDataKeyParams::default()
    };
    assert_eq!(s.advance_generate(&p).unwrap_err(), Error::Disabled);
    let d = DecryptParams {
        ciphertext_blob: &sealed.ciphertext_blob,
        ..DecryptParams::default()
    };
    assert_eq!(s.advance_decrypt(&d).unwrap_err(), Error::Disabled);
}

#[test]
fn a_wrong_aad_or_a_flipped_blob_is_an_invalid_blob() {
    let mut s = Setup::new(11);
    let key = s.key_text();
    let out = s.encrypt(&encrypt_params(&key, b"data", b"right")).unwrap();
    let invalid_blob = Error::InvalidParameter(Parameter::CiphertextBlob);
    let base = DecryptParams {
        ciphertext_blob: &out.ciphertext_blob,
        key_id: &key,
        aad: b"right",
        iv: &out.iv.0,
        ..DecryptParams::default()
    };
    assert!(s.decrypt(&base).is_ok());
    let wrong_aad = DecryptParams {
        aad: b"wrong",
        ..base
    };
    assert_eq!(s.decrypt(&wrong_aad).unwrap_err(), invalid_blob);
    let mut iv = out.iv.0;
    iv[0] ^= 1;
    let wrong_iv = DecryptParams { iv: &iv, ..base };
    assert_eq!(s.decrypt(&wrong_iv).unwrap_err(), invalid_blob);
    for len in [0, 16] {
        let short = DecryptParams {
            ciphertext_blob: &out.ciphertext_blob[..len],
            ..base
        };
        let expected = if len == 0 {
            Error::MissingParameter(Parameter::CiphertextBlob)
        } else {
            invalid_blob
        };
        assert_eq!(s.decrypt(&short).unwrap_err(), expected);
    }
}

#[test]
fn advance_decrypt_checks_the_key_id_and_iv_it_is_given_against_the_blob() {
    let mut s = Setup::new(12);
    let key = s.key_text();
    let out = s
        .advance_encrypt(&encrypt_params(&key, b"data", b""))
        .unwrap();
    let base = DecryptParams {
        ciphertext_blob: &out.ciphertext_blob,
        ..DecryptParams::default()
    };
    // The right ones, by ID and by ARN.
    let arn = key_arn(REGION, ACCOUNT, &s.key);
    for id in [key.as_str(), arn.as_str()] {
        let p = DecryptParams {
            key_id: id,
            iv: &out.iv.0,
            ..base
        };
        assert!(s.advance_decrypt(&p).is_ok(), "{id}");
    }
    // A key of this instance that is not the blob's.
    let options = KeyOptions::new(ACCOUNT, REGION).instance(instance());
    let sibling = s
        .provider
        .create_key(&mut s.rng, &options)
        .unwrap()
        .to_string();
    let p = DecryptParams {
        key_id: &sibling,
        ..base
    };
    assert_eq!(
        s.advance_decrypt(&p).unwrap_err(),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
    // A key ID that names nothing here.
    let p = DecryptParams {
        key_id: UNKNOWN_KEY_ID,
        ..base
    };
    assert_eq!(s.advance_decrypt(&p).unwrap_err(), Error::KeyNotFound);
    let gateway = s.gateway_key.to_string();
    let p = DecryptParams {
        key_id: &gateway,
        ..base
    };
    assert_eq!(s.advance_decrypt(&p).unwrap_err(), Error::KeyNotFound);
    // Another Iv.
    let p = DecryptParams {
        iv: &[0; 12],
        ..base
    };
    assert_eq!(
        s.advance_decrypt(&p).unwrap_err(),
        Error::InvalidParameter(Parameter::Iv)
    );
    // A basic blob is not an Advance one.
    let basic = s.encrypt(&encrypt_params(&key, b"data", b"")).unwrap();
    let p = DecryptParams {
        ciphertext_blob: &basic.ciphertext_blob,
        ..base
    };
    assert_eq!(
        s.advance_decrypt(&p).unwrap_err(),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
}

// ---------------------------------------------------------------------------------------------
// Parameters

#[test]
fn every_parameter_is_checked_with_the_specs_error() {
    let mut s = Setup::new(13);
    let key = s.key_text();
    let missing = Error::MissingParameter;
    let invalid = Error::InvalidParameter;
    let long_aad = vec![0u8; 8193];
    let max_aad = vec![0u8; 8192];
    let long_text = vec![1u8; 6145];
    let max_text = vec![1u8; 6144];
    let ok = encrypt_params(&key, b"x", b"");
    let cases: Vec<(EncryptParams<'_>, Option<Error>)> = vec![
        (
            EncryptParams { key_id: "", ..ok },
            Some(missing(Parameter::KeyId)),
        ),
        (
            EncryptParams {
                plaintext: b"",
                ..ok
            },
            Some(missing(Parameter::Plaintext)),
        ),
        (
            EncryptParams {
                plaintext: &long_text,
                ..ok
            },
            Some(invalid(Parameter::Plaintext)),
        ),
        (
            EncryptParams {
                plaintext: &max_text,
                ..ok
            },
            None,
        ),
        (
            EncryptParams {
                algorithm: "AES_CBC",
                ..ok
            },
            Some(invalid(Parameter::Algorithm)),
        ),
        (
            EncryptParams {
                algorithm: "aes_gcm",
                ..ok
            },
            Some(invalid(Parameter::Algorithm)),
        ),
        (
            EncryptParams {
                algorithm: "AES_GCM",
                ..ok
            },
            None,
        ),
        (
            EncryptParams {
                aad: &long_aad,
                ..ok
            },
            Some(invalid(Parameter::Aad)),
        ),
        (
            EncryptParams {
                aad: &max_aad,
                ..ok
            },
            None,
        ),
        (
            EncryptParams { iv: &[0; 11], ..ok },
            Some(invalid(Parameter::Iv)),
        ),
        (
            EncryptParams { iv: &[0; 16], ..ok },
            Some(invalid(Parameter::Iv)),
        ),
        (
            EncryptParams {
                padding_mode: "PKCS7",
                ..ok
            },
            None,
        ),
        // As on the gateway: text that cannot be a key reference is invalid, text that could
        // be one names no key.
        (
            EncryptParams {
                key_id: "clé",
                ..ok
            },
            Some(invalid(Parameter::KeyId)),
        ),
        (
            EncryptParams {
                key_id: "not a key",
                ..ok
            },
            Some(Error::KeyNotFound),
        ),
    ];
    for (p, expected) in cases {
        let got = s.encrypt(&p).err();
        assert_eq!(got, expected, "{p:?}");
        let got = s.advance_encrypt(&p).err();
        assert_eq!(got, expected, "advance {p:?}");
    }
    let g = GenerateDataKeyParams {
        key_id: &key,
        ..GenerateDataKeyParams::default()
    };
    for (n, ok) in [
        (-1, false),
        (0, true),
        (1, true),
        (1024, true),
        (1025, false),
    ] {
        let p = GenerateDataKeyParams {
            number_of_bytes: n,
            ..g
        };
        let expected = (!ok).then_some(invalid(Parameter::NumberOfBytes));
        assert_eq!(s.generate(&p).err(), expected, "{n}");
        assert_eq!(s.advance_generate(&p).err(), expected, "{n}");
    }
    assert_eq!(
        s.generate(&GenerateDataKeyParams { key_id: "", ..g }).err(),
        Some(missing(Parameter::KeyId))
    );
    assert_eq!(
        s.generate(&GenerateDataKeyParams {
            algorithm: "SM4",
            ..g
        })
        .err(),
        Some(invalid(Parameter::Algorithm))
    );
    for (n, ok) in [
        (-5, false),
        (0, false),
        (1, true),
        (1024, true),
        (1025, false),
    ] {
        let got = instance::generate_random(n, &mut s.rng);
        assert_eq!(
            got.as_ref().err(),
            (!ok).then_some(&invalid(Parameter::Length))
        );
        if let Ok(r) = got {
            assert_eq!(r.random.len(), n as usize);
        }
    }
    // Decrypt: the blob, then the key, then Iv.
    let out = s.encrypt(&ok).unwrap();
    let d = DecryptParams {
        ciphertext_blob: &out.ciphertext_blob,
        key_id: &key,
        iv: &out.iv.0,
        ..DecryptParams::default()
    };
    let cases = [
        (
            DecryptParams {
                ciphertext_blob: b"",
                key_id: "",
                ..d
            },
            missing(Parameter::CiphertextBlob),
        ),
        (DecryptParams { key_id: "", ..d }, missing(Parameter::KeyId)),
        (DecryptParams { iv: b"", ..d }, missing(Parameter::Iv)),
        (DecryptParams { iv: &[0; 13], ..d }, invalid(Parameter::Iv)),
        (
            DecryptParams {
                aad: &long_aad,
                ..d
            },
            invalid(Parameter::Aad),
        ),
        (
            DecryptParams {
                algorithm: "RSAES_OAEP_SHA_256",
                ..d
            },
            invalid(Parameter::Algorithm),
        ),
    ];
    for (p, expected) in cases {
        assert_eq!(s.decrypt(&p).unwrap_err(), expected, "{p:?}");
    }
}

#[test]
fn responses_redact_the_plaintext() {
    let mut s = Setup::new(14);
    let key = s.key_text();
    let out = s
        .generate(&GenerateDataKeyParams {
            key_id: &key,
            number_of_bytes: 4,
            ..GenerateDataKeyParams::default()
        })
        .unwrap();
    let shown = format!("{out:?}");
    let hex: String = out
        .plaintext
        .expose()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(!shown.contains(&hex), "{shown}");
    assert!(
        !shown.contains(&format!("{:?}", out.plaintext.expose())),
        "{shown}"
    );
}

// ---------------------------------------------------------------------------------------------
// Properties of the Advance blob

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// decode(encode(x)) = x, and encode(decode(bytes)) = bytes.
    #[test]
    fn advance_blobs_round_trip(
        version in "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        iv in any::<[u8; 12]>(),
        tag in any::<[u8; 16]>(),
        ciphertext in proptest::collection::vec(any::<u8>(), 1..300),
    ) {
        let blob = AdvanceBlob {
            version: KeyVersionId::parse(version.as_bytes()).unwrap(),
            iv: kms_core::blob::Iv(iv),
            ciphertext: &ciphertext,
            tag: kms_core::blob::Tag(tag),
        };
        let bytes = blob.to_vec();
        prop_assert_eq!(bytes.len(), ADVANCE_OVERHEAD + ciphertext.len());
        let decoded = AdvanceBlob::decode(&bytes).unwrap();
        prop_assert_eq!(decoded, blob);
        prop_assert_eq!(decoded.to_vec(), bytes);
    }

    /// Every single-bit flip of an Advance blob is refused, wherever it falls: the header,
    /// the version ID, the IV, the ciphertext or the tag.
    #[test]
    fn every_single_bit_flip_of_an_advance_blob_is_refused(
        seed in any::<u64>(),
        len in 1usize..40,
    ) {
        let mut s = Setup::new(seed);
        let key = s.key_text();
        let text = vec![0x42u8; len];
        let out = s.advance_encrypt(&encrypt_params(&key, &text, b"aad")).unwrap();
        for bit in 0..out.ciphertext_blob.len() * 8 {
            let mut flipped = out.ciphertext_blob.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let got = s.advance_decrypt(&DecryptParams {
                ciphertext_blob: &flipped,
                aad: b"aad",
                ..DecryptParams::default()
            });
            prop_assert!(got.is_err(), "bit {} opened", bit);
        }
    }
}

#[test]
fn a_changed_blob_is_refused_with_the_error_of_the_part_changed() {
    // What the property above refuses, by part: a changed header or a version ID that is not
    // a lowercase UUID is an invalid blob; another well-formed version ID names no key; a
    // changed tag does not open.
    let mut s = Setup::new(15);
    let key = s.key_text();
    let out = s.advance_encrypt(&encrypt_params(&key, b"x", b"")).unwrap();
    let run = |s: &mut Setup, bytes: &[u8]| {
        s.advance_decrypt(&DecryptParams {
            ciphertext_blob: bytes,
            ..DecryptParams::default()
        })
        .unwrap_err()
    };
    let mut header = out.ciphertext_blob.clone();
    header[1] ^= 0x10;
    assert_eq!(
        run(&mut s, &header),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
    let mut version = out.ciphertext_blob.clone();
    version[3] = b'G';
    assert_eq!(
        run(&mut s, &version),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
    version[3..39].copy_from_slice(UNKNOWN_KEY_ID.as_bytes());
    assert_eq!(run(&mut s, &version), Error::KeyNotFound);
    let mut tag = out.ciphertext_blob.clone();
    *tag.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        run(&mut s, &tag),
        Error::InvalidParameter(Parameter::CiphertextBlob)
    );
}
