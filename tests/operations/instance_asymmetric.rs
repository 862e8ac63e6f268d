//! The KMS-instance API's asymmetric operations (`kms_core::instance::asymmetric`,
//! `docs/asymmetric.md` §11): GetPublicKey, Sign and Verify (RAW, DIGEST, the Digest field,
//! the defaults), Encrypt and Decrypt with an asymmetric algorithm (the version rule of the
//! migration header), the GenerateDataKeyPair family (every form, both formats, opened by the
//! symmetric Decrypt and AdvanceDecrypt), the instance's scope, the refusals and their order,
//! the draws, and properties: no field panics.

use base64ct::{Base64, Encoding};
use kms_core::asymmetric::{AsymmetricSpec, PrivateKey, PublicKey, SigningAlgorithm};
use kms_core::instance::asymmetric::{
    self as asym, DataKeyPairOperation, GenerateDataKeyPairParams, KeyFormat, MessageType,
    SignParams, VerifyParams,
};
use kms_core::instance::{self, DecryptParams, EncryptParams, Scope};
use kms_core::management::KeyStore;
use kms_core::{
    Error, InMemoryProvider, InstanceId, KeyId, KeyOptions, KeyUsage, KeyVersionId, MasterKeySpec,
    Parameter,
};
use proptest::prelude::*;

use crate::testkit::*;

const INSTANCE: &str = "kst-hzz62ee6a5bd7sqd8w1rq";
const OTHER_INSTANCE: &str = "kst-bjj62ee6a5bd7sqd8w1rq";
const MESSAGE: &[u8] = b"signed in the instance";

fn instance() -> InstanceId {
    InstanceId::parse(INSTANCE).unwrap()
}

fn scope() -> Scope<'static> {
    Scope::new(owner(), instance())
}

/// A key of `spec` and `usage` in the instance (or in `instance`).
fn key_in(
    p: &mut InMemoryProvider,
    spec: MasterKeySpec,
    usage: KeyUsage,
    instance: Option<InstanceId>,
    seed: u64,
) -> KeyId {
    let options = KeyOptions::new(ACCOUNT, REGION).spec(spec).usage(usage);
    let options = match instance {
        Some(i) => options.instance(i),
        None => options,
    };
    p.create_key(&mut rng(seed), &options).unwrap()
}

/// The key's primary version.
fn primary(p: &InMemoryProvider, key: &KeyId) -> KeyVersionId {
    p.key(key).unwrap().unwrap().primary
}

fn key(p: &mut InMemoryProvider, spec: MasterKeySpec, usage: KeyUsage) -> KeyId {
    key_in(
        p,
        spec,
        usage,
        Some(instance()),
        spec as u64 * 7 + usage as u64,
    )
}

fn public_key_of(pem: &str) -> PublicKey {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    PublicKey::from_spki_der(&Base64::decode_vec(&body).unwrap()).unwrap()
}

fn get_public_key(p: &InMemoryProvider, key: &str) -> Result<asym::GetPublicKeyResponse, Error> {
    asym::get_public_key(p, &scope(), key, &mut rng(1))
}

fn sign(p: &InMemoryProvider, params: &SignParams<'_>) -> Result<asym::SignResponse, Error> {
    asym::sign(p, &scope(), params, &mut rng(2))
}

fn verify(p: &InMemoryProvider, params: &VerifyParams<'_>) -> Result<bool, Error> {
    asym::verify(p, &scope(), params, &mut rng(3)).map(|r| r.value)
}

#[test]
fn sign_raw_digest_and_the_digest_field_verify_with_the_public_key() {
    let mut p = InMemoryProvider::new();
    for (spec, algorithm) in [
        (MasterKeySpec::EcP256, SigningAlgorithm::EcdsaSha256),
        (MasterKeySpec::EcP256K, SigningAlgorithm::EcdsaSha256),
        (MasterKeySpec::EcSm2, SigningAlgorithm::Sm2Dsa),
        (MasterKeySpec::Rsa2048, SigningAlgorithm::RsaPkcs1Sha256),
    ] {
        let id = key(&mut p, spec, KeyUsage::SignVerify);
        let text = id.to_string();
        let public = get_public_key(&p, &text).unwrap();
        assert_eq!(public.key_id, id);
        assert_eq!(public.key_version_id, primary(&p, &id));
        let public_key = public_key_of(&public.public_key);
        let digest = public_key.message_digest(algorithm, MESSAGE).unwrap();
        let cases = [
            ("", &[][..], MESSAGE, MessageType::Raw),
            ("RAW", &[][..], MESSAGE, MessageType::Raw),
            ("DIGEST", &[][..], &digest[..], MessageType::Digest),
            ("", &digest[..], &[][..], MessageType::Digest),
        ];
        for (message_type, digest_field, message, kind) in cases {
            let params = SignParams {
                key_id: &text,
                digest: digest_field,
                algorithm: algorithm.name(),
                message,
                message_type,
            };
            let signed = sign(&p, &params).unwrap();
            assert_eq!((signed.algorithm, signed.message_type), (algorithm, kind));
            assert_eq!(signed.key_version_id, public.key_version_id);
            assert_eq!(
                public_key.verify(algorithm, &digest, &signed.signature),
                Ok(true),
                "{spec:?} {message_type:?}"
            );
            let v = VerifyParams {
                key_id: &text,
                digest: digest_field,
                signature: &signed.signature,
                algorithm: algorithm.name(),
                message,
                message_type,
            };
            assert_eq!(verify(&p, &v), Ok(true));
            // Another message (or digest) under the same signature: false.
            let other = match (digest_field.is_empty(), kind) {
                (false, _) => VerifyParams {
                    digest: &[0; 32],
                    ..v
                },
                (true, MessageType::Digest) => VerifyParams {
                    message: &[0; 32],
                    ..v
                },
                (true, MessageType::Raw) => VerifyParams {
                    message: b"another",
                    ..v
                },
            };
            assert_eq!(verify(&p, &other), Ok(false));
        }
    }
}

#[test]
fn the_sm2_raw_digest_is_sm3_of_z_a_and_the_message() {
    // RAW on SM2DSA signs e = SM3(Z_A || M) with the default ID: the signature verifies
    // against that digest, not against SHA-256 of the message.
    let mut p = InMemoryProvider::new();
    let id = key(&mut p, MasterKeySpec::EcSm2, KeyUsage::SignVerify).to_string();
    let public_key = public_key_of(&get_public_key(&p, &id).unwrap().public_key);
    let signed = sign(
        &p,
        &SignParams {
            key_id: &id,
            message: MESSAGE,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(signed.algorithm, SigningAlgorithm::Sm2Dsa);
    let e = public_key
        .message_digest(SigningAlgorithm::Sm2Dsa, MESSAGE)
        .unwrap();
    assert_eq!(
        public_key.verify(SigningAlgorithm::Sm2Dsa, &e, &signed.signature),
        Ok(true)
    );
    use sha2::Digest;
    let sha = sha2::Sha256::digest(MESSAGE);
    assert_eq!(
        public_key.verify(SigningAlgorithm::Sm2Dsa, &sha, &signed.signature),
        Ok(false)
    );
}

#[test]
fn keys_outside_the_instance_are_not_found() {
    let mut p = InMemoryProvider::new();
    let other = InstanceId::parse(OTHER_INSTANCE).unwrap();
    let elsewhere = key_in(
        &mut p,
        MasterKeySpec::EcP256,
        KeyUsage::SignVerify,
        Some(other),
        1,
    );
    let gateway = key_in(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify, None, 2);
    let aes = key_in(
        &mut p,
        MasterKeySpec::Aes256,
        KeyUsage::EncryptDecrypt,
        None,
        3,
    );
    for id in [elsewhere, gateway] {
        let text = id.to_string();
        assert_eq!(get_public_key(&p, &text), Err(Error::KeyNotFound));
        let params = SignParams {
            key_id: &text,
            message: MESSAGE,
            ..Default::default()
        };
        assert_eq!(sign(&p, &params).map(|_| ()), Err(Error::KeyNotFound));
    }
    let text = aes.to_string();
    let params = GenerateDataKeyPairParams {
        key_id: &text,
        key_pair_spec: "EC_P256",
        ..Default::default()
    };
    for operation in DataKeyPairOperation::ALL {
        assert_eq!(
            asym::check_data_key_pair(&p, &scope(), operation, &params),
            Err(Error::KeyNotFound)
        );
    }
}

#[test]
fn sign_and_verify_refusals_and_their_order() {
    let mut p = InMemoryProvider::new();
    let id = key(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify).to_string();
    let encrypting = key(&mut p, MasterKeySpec::EcSm2, KeyUsage::EncryptDecrypt).to_string();
    let aes = key(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt).to_string();
    let base = SignParams {
        key_id: &id,
        message: MESSAGE,
        ..Default::default()
    };
    let invalid = |p| Err(Error::InvalidParameter(p));
    let cases: [(SignParams<'_>, Result<(), Error>); 9] = [
        (
            SignParams { key_id: "", ..base },
            Err(Error::MissingParameter(Parameter::KeyId)),
        ),
        // Fields before the key: an unknown key with a bad MessageType is the MessageType.
        (
            SignParams {
                key_id: UNKNOWN_KEY_ID,
                message_type: "digest",
                ..base
            },
            invalid(Parameter::MessageType),
        ),
        (
            SignParams {
                key_id: UNKNOWN_KEY_ID,
                ..base
            },
            Err(Error::KeyNotFound),
        ),
        (
            SignParams {
                message: &[],
                ..base
            },
            Err(Error::MissingParameter(Parameter::Message)),
        ),
        (
            SignParams {
                message_type: "DIGEST",
                ..base
            },
            invalid(Parameter::Message),
        ),
        (
            SignParams {
                algorithm: "RSA_PSS_SHA_256",
                ..base
            },
            invalid(Parameter::Algorithm),
        ),
        (
            SignParams {
                algorithm: "SM3",
                ..base
            },
            invalid(Parameter::Algorithm),
        ),
        (
            SignParams {
                key_id: &encrypting,
                ..base
            },
            Err(Error::RejectedUnsupportedOperation),
        ),
        (
            SignParams {
                key_id: &aes,
                ..base
            },
            Err(Error::RejectedUnsupportedOperation),
        ),
    ];
    for (params, expected) in cases {
        let mut counting = CountingRng::new(rng(9));
        let got = asym::sign(&p, &scope(), &params, &mut counting).map(|_| ());
        assert_eq!(got, expected, "{params:?}");
        assert_eq!(counting.calls, 0, "a refusal draws nothing: {params:?}");
    }
    let v = VerifyParams {
        key_id: &id,
        message: MESSAGE,
        ..Default::default()
    };
    assert_eq!(
        verify(&p, &v),
        Err(Error::MissingParameter(Parameter::Signature))
    );
    // Whatever the signature bytes, a well-formed request answers false.
    for signature in [&[0u8][..], &[0x30, 0x00], &[0xff; 80]] {
        assert_eq!(verify(&p, &VerifyParams { signature, ..v }), Ok(false));
    }
}

#[test]
fn asymmetric_encrypt_and_decrypt_and_the_migration_header() {
    let mut p = InMemoryProvider::new();
    let id = key(&mut p, MasterKeySpec::EcSm2, KeyUsage::EncryptDecrypt);
    let other = key(&mut p, MasterKeySpec::Rsa2048, KeyUsage::EncryptDecrypt);
    let text = id.to_string();
    let params = EncryptParams {
        key_id: &text,
        plaintext: MESSAGE,
        algorithm: "SM2PKE",
        ..Default::default()
    };
    let sealed = asym::encrypt(&p, &scope(), &params, &mut rng(4)).unwrap();
    assert_eq!(sealed.ciphertext_blob.len(), MESSAGE.len() + 97);
    assert_eq!(sealed.key_version_id, primary(&p, &id));
    let decrypt = DecryptParams {
        ciphertext_blob: &sealed.ciphertext_blob,
        key_id: &text,
        algorithm: "SM2PKE",
        ..Default::default()
    };
    let opened = asym::decrypt(&p, &scope(), &decrypt, &mut rng(5)).unwrap();
    assert_eq!(opened.plaintext.expose(), MESSAGE);
    assert_eq!(opened.key_version_id, sealed.key_version_id);
    // The header naming the version: the same; another key's version: the blob is not
    // valid; a version no key has: not found; a malformed header: the blob is not valid.
    let own = sealed.key_version_id.to_string();
    let theirs = primary(&p, &other).to_string();
    let cases = [
        (own.as_str(), Ok(())),
        (
            theirs.as_str(),
            Err(Error::InvalidParameter(Parameter::CiphertextBlob)),
        ),
        (
            "2ab1a983-7072-4bbc-a582-584b5bd80000",
            Err(Error::KeyNotFound),
        ),
        (
            "not-a-version",
            Err(Error::InvalidParameter(Parameter::CiphertextBlob)),
        ),
    ];
    for (header, expected) in cases {
        let params = DecryptParams {
            migration_key_version_id: Some(header),
            ..decrypt
        };
        let got = asym::decrypt(&p, &scope(), &params, &mut rng(6)).map(|_| ());
        assert_eq!(got, expected, "{header}");
    }
    // Aad and Iv: refused; the symmetric key: the algorithm is not its.
    let refused =
        |params: EncryptParams<'_>| asym::encrypt(&p, &scope(), &params, &mut rng(7)).map(|_| ());
    assert_eq!(
        refused(EncryptParams {
            aad: b"a",
            ..params
        }),
        Err(Error::InvalidParameter(Parameter::Aad))
    );
    assert_eq!(
        refused(EncryptParams {
            iv: &[0; 12],
            ..params
        }),
        Err(Error::InvalidParameter(Parameter::Iv))
    );
    assert_eq!(
        refused(EncryptParams {
            algorithm: "",
            ..params
        }),
        Err(Error::MissingParameter(Parameter::Algorithm))
    );
    let aes = key(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt).to_string();
    let refused =
        |params: EncryptParams<'_>| asym::encrypt(&p, &scope(), &params, &mut rng(7)).map(|_| ());
    assert_eq!(
        refused(EncryptParams {
            key_id: &aes,
            ..params
        }),
        Err(Error::InvalidParameter(Parameter::Algorithm))
    );
}

/// Opens a data key pair's sealed private key with the symmetric Decrypt or AdvanceDecrypt.
fn open_pair(
    p: &InMemoryProvider,
    operation: DataKeyPairOperation,
    key: &str,
    aad: &[u8],
    r: &asym::GenerateDataKeyPairResponse,
) -> Result<Vec<u8>, Error> {
    let params = DecryptParams {
        ciphertext_blob: &r.private_key_ciphertext_blob,
        key_id: key,
        aad,
        iv: &r.iv.0,
        ..Default::default()
    };
    let opened = if operation.advance() {
        instance::advance_decrypt(p, &scope(), &params, &mut rng(8))?
    } else {
        instance::decrypt(p, &scope(), &params, &mut rng(8))?
    };
    Ok(opened.plaintext.expose().to_vec())
}

#[test]
fn every_data_key_pair_form_opens_to_the_private_half_of_the_public_key() {
    let mut p = InMemoryProvider::new();
    let id = key(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt);
    let text = id.to_string();
    let aad = b"pair=1";
    let specs = [
        AsymmetricSpec::EcP256,
        AsymmetricSpec::EcP256K,
        AsymmetricSpec::EcSm2,
        AsymmetricSpec::Rsa2048,
    ];
    for (i, operation) in DataKeyPairOperation::ALL.into_iter().enumerate() {
        for (j, spec) in specs.into_iter().enumerate() {
            let format = [KeyFormat::Pem, KeyFormat::Der][(i + j) % 2];
            let params = GenerateDataKeyPairParams {
                key_id: &text,
                key_pair_spec: spec.name(),
                key_format: format.name(),
                aad,
                ..Default::default()
            };
            let what = format!("{operation:?} {spec} {format:?}");
            let r = asym::generate_data_key_pair(&p, &scope(), operation, &params, &mut rng(10))
                .unwrap();
            assert_eq!(r.key_id, id);
            assert_eq!(r.key_version_id, primary(&p, &id));
            assert_eq!((r.key_pair_spec, r.key_format), (spec, format));
            assert_eq!(r.algorithm, "AES_GCM");
            assert_eq!(
                r.private_key_plaintext.is_some(),
                operation.with_plaintext()
            );
            let private = open_pair(&p, operation, &text, aad, &r).unwrap();
            if let Some(plain) = &r.private_key_plaintext {
                assert_eq!(plain.expose(), private, "{what}");
            }
            let (private_der, public) = match format {
                KeyFormat::Der => (
                    private.clone(),
                    PublicKey::from_spki_der(&r.public_key).unwrap(),
                ),
                KeyFormat::Pem => {
                    let text = std::str::from_utf8(&private).unwrap();
                    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{what}");
                    assert!(text.ends_with("-----END PRIVATE KEY-----\n"), "{what}");
                    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
                    (
                        Base64::decode_vec(&body).unwrap(),
                        public_key_of(std::str::from_utf8(&r.public_key).unwrap()),
                    )
                }
            };
            let key_pair = PrivateKey::from_pkcs8_der(spec, &private_der).unwrap();
            assert_eq!(
                key_pair.public_key().to_spki_der().unwrap(),
                public.to_spki_der().unwrap(),
                "{what}"
            );
            // Another Aad does not open it.
            assert_eq!(
                open_pair(&p, operation, &text, b"pair=2", &r),
                Err(Error::InvalidParameter(Parameter::CiphertextBlob))
            );
        }
    }
}

#[test]
fn data_key_pair_refusals_and_the_spec_of_the_callers_pair() {
    let mut p = InMemoryProvider::new();
    let text = key(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt).to_string();
    let signing = key(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify).to_string();
    let base = GenerateDataKeyPairParams {
        key_id: &text,
        key_pair_spec: "EC_P256",
        ..Default::default()
    };
    let invalid = |p| Err(Error::InvalidParameter(p));
    let cases = [
        (
            GenerateDataKeyPairParams {
                key_pair_spec: "",
                ..base
            },
            Err(Error::MissingParameter(Parameter::KeyPairSpec)),
        ),
        (
            GenerateDataKeyPairParams {
                key_pair_spec: "ec_p256",
                ..base
            },
            invalid(Parameter::KeyPairSpec),
        ),
        (
            GenerateDataKeyPairParams {
                key_format: "PKCS8",
                ..base
            },
            invalid(Parameter::KeyFormat),
        ),
        (
            GenerateDataKeyPairParams {
                algorithm: "SM4",
                ..base
            },
            invalid(Parameter::Algorithm),
        ),
        (
            GenerateDataKeyPairParams {
                aad: &[0; 8193],
                ..base
            },
            invalid(Parameter::Aad),
        ),
        (
            GenerateDataKeyPairParams {
                key_id: &signing,
                ..base
            },
            Err(Error::UnsupportedOperation),
        ),
        (base, Ok(AsymmetricSpec::EcP256)),
    ];
    for (params, expected) in cases {
        for operation in DataKeyPairOperation::ALL {
            assert_eq!(
                asym::check_data_key_pair(&p, &scope(), operation, &params),
                expected,
                "{operation:?} {params:?}"
            );
            let mut counting = CountingRng::new(rng(11));
            let got = asym::generate_data_key_pair(&p, &scope(), operation, &params, &mut counting)
                .map(|r| r.key_pair_spec);
            assert_eq!(got, expected);
            if expected.is_err() {
                assert_eq!(counting.calls, 0, "a refusal draws nothing");
            }
        }
    }
    // A pair of another spec than the request's is refused, before anything is sealed.
    let k256 = PrivateKey::generate(AsymmetricSpec::EcP256K, &mut rng(12)).unwrap();
    let mut counting = CountingRng::new(rng(13));
    let got = asym::seal_data_key_pair(
        &p,
        &scope(),
        DataKeyPairOperation::GenerateDataKeyPair,
        &base,
        &k256,
        &mut counting,
    );
    assert_eq!(
        got.map(|_| ()),
        Err(Error::InvalidParameter(Parameter::KeyPairSpec))
    );
    assert_eq!(counting.calls, 0);
    // A failing RNG: InternalFailure, nothing returned.
    let got = asym::generate_data_key_pair(
        &p,
        &scope(),
        DataKeyPairOperation::GenerateDataKeyPair,
        &base,
        &mut FailingRng::default(),
    );
    assert!(matches!(got, Err(Error::InternalFailure(_))), "{got:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// No combination of fields panics: every answer is a response or a typed error.
    #[test]
    fn no_field_panics(
        key_choice in 0usize..4,
        digest in proptest::collection::vec(any::<u8>(), 0..40),
        message in proptest::collection::vec(any::<u8>(), 0..40),
        signature in proptest::collection::vec(any::<u8>(), 0..80),
        algorithm in prop::sample::select(vec![
            "", "ECDSA_SHA_256", "SM2DSA", "RSA_PSS_SHA_256", "SM2PKE", "RSAES_OAEP_SHA_1",
            "AES_GCM", "x",
        ]),
        message_type in prop::sample::select(vec!["", "RAW", "DIGEST", "raw"]),
        key_pair_spec in prop::sample::select(vec!["", "EC_P256", "EC_SM2", "RSA_1024"]),
        key_format in prop::sample::select(vec!["", "PEM", "DER", "JWK"]),
        header in prop::option::of(prop::sample::select(vec![
            "2ab1a983-7072-4bbc-a582-584b5bd80000", "x",
        ])),
    ) {
        let mut p = InMemoryProvider::new();
        let keys = [
            key(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify).to_string(),
            key(&mut p, MasterKeySpec::EcSm2, KeyUsage::EncryptDecrypt).to_string(),
            key(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt).to_string(),
            String::from("alias/none"),
        ];
        let key_id = keys[key_choice].as_str();
        let s = scope();
        let _ = asym::get_public_key(&p, &s, key_id, &mut rng(1));
        let _ = asym::sign(&p, &s, &SignParams {
            key_id, digest: &digest, algorithm, message: &message, message_type,
        }, &mut rng(2));
        let _ = asym::verify(&p, &s, &VerifyParams {
            key_id, digest: &digest, signature: &signature, algorithm, message: &message,
            message_type,
        }, &mut rng(3));
        let _ = asym::encrypt(&p, &s, &EncryptParams {
            key_id, plaintext: &message, algorithm, aad: &digest, ..Default::default()
        }, &mut rng(4));
        let _ = asym::decrypt(&p, &s, &DecryptParams {
            ciphertext_blob: &signature, key_id, algorithm, migration_key_version_id: header,
            ..Default::default()
        }, &mut rng(5));
        for operation in DataKeyPairOperation::ALL {
            let params = GenerateDataKeyPairParams {
                key_id, algorithm, key_pair_spec, key_format, aad: &digest,
            };
            if key_pair_spec != "RSA_1024" {
                let _ = asym::check_data_key_pair(&p, &s, operation, &params);
            }
        }
    }
}
