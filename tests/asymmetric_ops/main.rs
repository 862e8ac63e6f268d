//! The asymmetric operations (`kms_core::ops::asymmetric`, feature `asymmetric`) through the
//! in-memory provider, from text parameters as a frontend calls them: every spec and usage,
//! every algorithm, the errors of `docs/asymmetric.md` and the decisions of the module, and
//! asymmetric keys surviving the record and snapshot formats.

#![cfg(feature = "asymmetric")]

#[path = "../testkit/mod.rs"]
mod testkit;

use base64ct::{Base64, Encoding};
use kms_core::asymmetric::{EncryptionAlgorithm, PublicKey, SigningAlgorithm};
use kms_core::in_memory::records::{RecordKind, StoredRecord};
use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::ops::asymmetric::{
    AsymmetricDecryptParams, AsymmetricEncryptParams, AsymmetricSignParams, AsymmetricVerifyParams,
    GetPublicKeyParams, asymmetric_decrypt_wire, asymmetric_encrypt_wire, asymmetric_sign_wire,
    asymmetric_verify_wire, get_public_key_wire,
};
use kms_core::{
    Error, InMemoryProvider, KeyId, KeyReference, KeyUsage, KeyVersionId, MasterKeySpec, Parameter,
};

use testkit::*;

fn create(p: &mut InMemoryProvider, spec: MasterKeySpec, usage: KeyUsage) -> (KeyId, KeyVersionId) {
    let request = CreateKey::new().with_spec(spec).with_usage(usage);
    let staged = management::create_key(p, &owner(), &request, &mut rng(spec as u64), T0)
        .expect("an asymmetric key");
    let meta = staged.output().clone();
    p.apply(staged).expect("commit");
    (meta.key_id, meta.primary)
}

fn public_key(p: &InMemoryProvider, key: &str, version: &str) -> Result<PublicKey, Error> {
    let params = GetPublicKeyParams::new()
        .key_id(key)
        .key_version_id(version);
    let pem = get_public_key_wire(p, &owner(), &params, &mut rng(1))?.public_key;
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"), "{pem}");
    assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Ok(PublicKey::from_spki_der(&Base64::decode_vec(&body).expect("Base64")).expect("SPKI"))
}

fn sign(
    p: &InMemoryProvider,
    key: &str,
    version: &str,
    algorithm: &str,
    digest: &[u8],
) -> Result<String, Error> {
    let digest = Base64::encode_string(digest);
    let params = AsymmetricSignParams::new()
        .key_id(key)
        .key_version_id(version)
        .algorithm(algorithm)
        .digest(&digest);
    Ok(asymmetric_sign_wire(p, &owner(), &params, &mut rng(2))?.value)
}

fn verify(
    p: &InMemoryProvider,
    key: &str,
    version: &str,
    algorithm: &str,
    digest: &[u8],
    value: &str,
) -> Result<bool, Error> {
    let digest = Base64::encode_string(digest);
    let params = AsymmetricVerifyParams::new()
        .key_id(key)
        .key_version_id(version)
        .algorithm(algorithm)
        .digest(&digest)
        .value(value);
    Ok(asymmetric_verify_wire(p, &owner(), &params, &mut rng(3))?.value)
}

fn encrypt(
    p: &InMemoryProvider,
    key: &str,
    version: &str,
    algorithm: &str,
    plaintext: &[u8],
) -> Result<String, Error> {
    let plaintext = Base64::encode_string(plaintext);
    let params = AsymmetricEncryptParams::new()
        .key_id(key)
        .key_version_id(version)
        .algorithm(algorithm)
        .plaintext(&plaintext);
    Ok(asymmetric_encrypt_wire(p, &owner(), &params, &mut rng(4))?.ciphertext_blob)
}

fn decrypt(
    p: &InMemoryProvider,
    key: &str,
    version: &str,
    algorithm: &str,
    blob: &str,
) -> Result<Vec<u8>, Error> {
    let params = AsymmetricDecryptParams::new()
        .key_id(key)
        .key_version_id(version)
        .algorithm(algorithm)
        .ciphertext_blob(blob);
    let out = asymmetric_decrypt_wire(p, &owner(), &params, &mut rng(5))?;
    Ok(Base64::decode_vec(&out.plaintext).expect("Base64"))
}

const SIGNING: [(MasterKeySpec, &[&str]); 5] = [
    (
        MasterKeySpec::Rsa2048,
        &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"],
    ),
    (
        MasterKeySpec::Rsa3072,
        &["RSA_PSS_SHA_256", "RSA_PKCS1_SHA_256"],
    ),
    (MasterKeySpec::EcP256, &["ECDSA_SHA_256"]),
    (MasterKeySpec::EcP256K, &["ECDSA_SHA_256"]),
    (MasterKeySpec::EcSm2, &["SM2DSA"]),
];

const ENCRYPTING: [(MasterKeySpec, &[&str]); 3] = [
    (
        MasterKeySpec::Rsa2048,
        &["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"],
    ),
    (
        MasterKeySpec::Rsa3072,
        &["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"],
    ),
    (MasterKeySpec::EcSm2, &["SM2PKE"]),
];

#[test]
fn every_signing_spec_signs_and_verifies_with_each_of_its_algorithms() {
    let mut p = InMemoryProvider::new();
    for (spec, algorithms) in SIGNING {
        let (key, version) = create(&mut p, spec, KeyUsage::SignVerify);
        let (key, version) = (key.to_string(), version.to_string());
        let public = public_key(&p, &key, &version).expect("GetPublicKey");
        assert_eq!(MasterKeySpec::of_asymmetric(public.spec()), spec);
        let digest = [0x5a; 32];
        for algorithm in algorithms {
            let value = sign(&p, &key, &version, algorithm, &digest).expect("signed");
            let raw = Base64::decode_vec(&value).unwrap();
            let alg = SigningAlgorithm::from_name(algorithm).unwrap();
            assert_eq!(
                public.verify(alg, &digest, &raw),
                Ok(true),
                "{spec:?} {algorithm}"
            );
            assert_eq!(
                verify(&p, &key, &version, algorithm, &digest, &value),
                Ok(true)
            );
            let mut other = digest;
            other[0] ^= 1;
            assert_eq!(
                verify(&p, &key, &version, algorithm, &other, &value),
                Ok(false)
            );
            // A signature over another digest, and bytes that are no signature: false.
            let wrong = sign(&p, &key, &version, algorithm, &other).unwrap();
            assert_eq!(
                verify(&p, &key, &version, algorithm, &digest, &wrong),
                Ok(false)
            );
            assert_eq!(
                verify(&p, &key, &version, algorithm, &digest, "AAAA"),
                Ok(false)
            );
        }
        // An algorithm of another spec, an unknown one, a digest of the wrong length.
        let foreign = if spec.name().starts_with("RSA") {
            "ECDSA_SHA_256"
        } else {
            "RSA_PSS_SHA_256"
        };
        let invalid = |p| Err(Error::InvalidParameter(p));
        assert_eq!(
            sign(&p, &key, &version, foreign, &digest),
            invalid(Parameter::Algorithm)
        );
        assert_eq!(
            sign(&p, &key, &version, "rsa_pss_sha_256", &digest),
            invalid(Parameter::Algorithm)
        );
        assert_eq!(
            sign(&p, &key, &version, algorithms[0], &[1; 31]),
            invalid(Parameter::Digest)
        );
        assert_eq!(
            sign(&p, &key, &version, algorithms[0], &[1; 48]),
            invalid(Parameter::Digest)
        );
        // Encryption on a SIGN/VERIFY key.
        assert_eq!(
            encrypt(&p, &key, &version, "RSAES_OAEP_SHA_256", b"x"),
            Err(Error::RejectedUnsupportedOperation)
        );
    }
}

#[test]
fn every_encrypting_spec_encrypts_and_decrypts_with_each_of_its_algorithms() {
    let mut p = InMemoryProvider::new();
    for (spec, algorithms) in ENCRYPTING {
        let (key, version) = create(&mut p, spec, KeyUsage::EncryptDecrypt);
        let (key, version) = (key.to_string(), version.to_string());
        let public = public_key(&p, &key, &version).expect("GetPublicKey");
        for algorithm in algorithms {
            let alg = EncryptionAlgorithm::from_name(algorithm).unwrap();
            let blob = encrypt(&p, &key, &version, algorithm, b"a secret").expect("encrypted");
            assert_eq!(
                decrypt(&p, &key, &version, algorithm, &blob).unwrap(),
                b"a secret"
            );
            // A ciphertext made outside with the public key opens too.
            let outside = public.encrypt(alg, b"from outside", &mut rng(9)).unwrap();
            let outside = Base64::encode_string(&outside);
            assert_eq!(
                decrypt(&p, &key, &version, algorithm, &outside).unwrap(),
                b"from outside"
            );
            // Altered, truncated, or not Base64: one answer.
            let mut raw = Base64::decode_vec(&blob).unwrap();
            let last = raw.len() - 1;
            raw[last] ^= 1;
            let altered = Base64::encode_string(&raw);
            let truncated = Base64::encode_string(&raw[..raw.len() / 2]);
            for bad in [altered.as_str(), truncated.as_str(), "not base64!"] {
                assert_eq!(
                    decrypt(&p, &key, &version, algorithm, bad),
                    Err(Error::InvalidParameter(Parameter::CiphertextBlob)),
                    "{spec:?} {algorithm}"
                );
            }
            assert_eq!(
                encrypt(&p, &key, &version, algorithm, b""),
                Err(Error::InvalidParameter(Parameter::Plaintext))
            );
            assert_eq!(
                encrypt(&p, &key, &version, algorithm, &[7; 1000]).map(|_| ()),
                if spec == MasterKeySpec::EcSm2 {
                    Ok(())
                } else {
                    Err(Error::InvalidParameter(Parameter::Plaintext))
                },
                "{spec:?} {algorithm}: 1000 bytes"
            );
        }
        // Signing on an ENCRYPT/DECRYPT key.
        let sign_alg = if spec == MasterKeySpec::EcSm2 {
            "SM2DSA"
        } else {
            "RSA_PSS_SHA_256"
        };
        assert_eq!(
            sign(&p, &key, &version, sign_alg, &[0; 32]),
            Err(Error::RejectedUnsupportedOperation)
        );
    }
}

#[test]
fn versions_states_keys_and_dry_runs_answer_as_documented() {
    let mut p = InMemoryProvider::new();
    let (key, version) = create(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify);
    let (other_key, other_version) = create(&mut p, MasterKeySpec::EcP256, KeyUsage::SignVerify);
    let (key, version, other_version) = (
        key.to_string(),
        version.to_string(),
        other_version.to_string(),
    );
    let digest = [3; 32];
    let ok = sign(&p, &key, &version, "ECDSA_SHA_256", &digest).unwrap();
    // KeyVersionId: required, a lowercase UUID, one of the key's.
    let params = GetPublicKeyParams::new().key_id(&key);
    assert_eq!(
        get_public_key_wire(&p, &owner(), &params, &mut rng(1)).map(|_| ()),
        Err(Error::MissingParameter(Parameter::KeyVersionId))
    );
    assert_eq!(
        public_key(&p, &key, &version.to_uppercase()).map(|_| ()),
        Err(Error::InvalidParameter(Parameter::KeyVersionId))
    );
    assert_eq!(
        public_key(&p, &key, &other_version).map(|_| ()),
        Err(Error::KeyNotFound)
    );
    assert!(public_key(&p, other_key.as_ref(), &other_version).is_ok());
    // An alias names the key.
    let staged = management::create_alias(
        &p,
        &owner(),
        "alias/signer",
        &KeyReference::Id(KeyId::parse(&key).unwrap()),
        T0,
    )
    .unwrap();
    p.apply(staged).unwrap();
    assert_eq!(
        verify(&p, "alias/signer", &version, "ECDSA_SHA_256", &digest, &ok),
        Ok(true)
    );
    assert_eq!(
        public_key(&p, "alias/nobody", &version).map(|_| ()),
        Err(Error::AliasNotFound)
    );
    // Another account: the key is not found there (the asymmetric permissions are the owner's).
    let params = GetPublicKeyParams::new()
        .key_id(&key)
        .key_version_id(&version);
    assert_eq!(
        get_public_key_wire(&p, &other(), &params, &mut rng(1)).map(|_| ()),
        Err(Error::KeyNotFound)
    );
    // A dry run checks and signs nothing.
    let d = Base64::encode_string(&digest);
    let dry = AsymmetricSignParams::new()
        .key_id(&key)
        .key_version_id(&version)
        .algorithm("ECDSA_SHA_256")
        .digest(&d)
        .dry_run("true");
    assert_eq!(
        asymmetric_sign_wire(&p, &owner(), &dry, &mut rng(1)).map(|_| ()),
        Err(Error::DryRunOperation)
    );
    let dry_bad = AsymmetricSignParams::new()
        .key_id(&key)
        .key_version_id(&version)
        .algorithm("NOPE")
        .digest(&d)
        .dry_run("true");
    assert!(matches!(
        asymmetric_sign_wire(&p, &owner(), &dry_bad, &mut rng(1)),
        Err(Error::ValidationError(_))
    ));
    // A symmetric key.
    let (aes, aes_version) = create(&mut p, MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt);
    assert_eq!(
        public_key(&p, aes.as_ref(), aes_version.as_ref()).map(|_| ()),
        Err(Error::RejectedUnsupportedOperation)
    );
    // A Disabled key answers Rejected.Disabled, GetPublicKey too; enabled again, it signs.
    let kid = KeyId::parse(&key).unwrap();
    let staged = management::disable_key(&p, &owner(), &KeyReference::Id(kid), T0).unwrap();
    p.apply(staged).unwrap();
    assert_eq!(
        sign(&p, &key, &version, "ECDSA_SHA_256", &digest),
        Err(Error::Disabled)
    );
    assert_eq!(
        public_key(&p, &key, &version).map(|_| ()),
        Err(Error::Disabled)
    );
    let staged = management::enable_key(&p, &owner(), &KeyReference::Id(kid), T0).unwrap();
    p.apply(staged).unwrap();
    assert!(sign(&p, &key, &version, "ECDSA_SHA_256", &digest).is_ok());
    // Missing data.
    let params = AsymmetricSignParams::new()
        .key_id(&key)
        .key_version_id(&version)
        .algorithm("ECDSA_SHA_256");
    assert_eq!(
        asymmetric_sign_wire(&p, &owner(), &params, &mut rng(1)).map(|_| ()),
        Err(Error::MissingParameter(Parameter::Digest))
    );
    let params = AsymmetricSignParams::new()
        .key_id(&key)
        .key_version_id(&version)
        .digest(&d);
    assert_eq!(
        asymmetric_sign_wire(&p, &owner(), &params, &mut rng(1)).map(|_| ()),
        Err(Error::MissingParameter(Parameter::Algorithm))
    );
    assert_eq!(
        verify(&p, &key, &version, "ECDSA_SHA_256", &digest, "@@@"),
        Err(Error::InvalidParameter(Parameter::Value))
    );
}

#[test]
fn asymmetric_keys_survive_records_and_snapshots() {
    let mut p = InMemoryProvider::new();
    let mut made = Vec::new();
    for (spec, algorithms) in SIGNING {
        let (key, version) = create(&mut p, spec, KeyUsage::SignVerify);
        made.push((key.to_string(), version.to_string(), algorithms[0]));
    }
    let (sm2, sm2_version) = create(&mut p, MasterKeySpec::EcSm2, KeyUsage::EncryptDecrypt);
    let blob = encrypt(&p, sm2.as_ref(), sm2_version.as_ref(), "SM2PKE", b"kept").unwrap();
    let records = p.records().expect("records");
    let rebuilt = InMemoryProvider::from_records(
        p.seal_limit(),
        records.iter().map(|r| StoredRecord {
            kind: r.kind,
            body: &r.body,
            seals: 0,
        }),
    )
    .expect("the records load");
    assert!(
        records
            .iter()
            .any(|r| r.kind == RecordKind::Version && r.body.len() > 255),
        "PKCS#8 in a version record"
    );
    let snapshot = p
        .export_snapshot(&[9; 32], &mut rng(6))
        .expect("a snapshot");
    let restored =
        InMemoryProvider::import_snapshot(&snapshot, &[9; 32]).expect("the snapshot opens");
    for q in [&rebuilt, &restored] {
        for (key, version, algorithm) in &made {
            let before = public_key(&p, key, version).unwrap();
            assert_eq!(public_key(q, key, version).unwrap(), before);
            let value = sign(q, key, version, algorithm, &[8; 32]).unwrap();
            assert_eq!(
                verify(&p, key, version, algorithm, &[8; 32], &value),
                Ok(true)
            );
        }
        assert_eq!(
            decrypt(q, sm2.as_ref(), sm2_version.as_ref(), "SM2PKE", &blob).unwrap(),
            b"kept"
        );
        assert!(q.key(&sm2).unwrap().unwrap().has_material);
    }
}

/// A known answer from Alibaba's service itself: an SM2DSA signature that Alibaba KMS made,
/// with its public key and the digest e = SM3(Z_A || M) it signed. Provenance:
/// `docs/asymmetric.md` §3 ([SM2-KAT]: github `emmansun/gmsm`, `sm2/x509_test.go`,
/// `TestSignByAliVerifyAtLocal`; re-verified there with an independent SM2 implementation).
/// It verifies through `PublicKey::verify` (DER signature, the digest as given, not hashed
/// again), and fails with one bit of the digest flipped.
#[test]
fn an_sm2_signature_made_by_alibaba_kms_verifies() {
    let spki = Base64::decode_vec(
        "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAERrsLH25zLm2LIo6tivZM9afLprSX6TCKAmQJArAO7VOtZyW4PQwfaTsUIF7IXEFG4iI8bNuTQwMykUzLu2ypEA==",
    )
    .unwrap();
    let digest = Base64::decode_vec("Zsfw9GLu7dnR8tRr3BDk4kFnxIdc8veiKX2gK49LqOA=").unwrap();
    let value = Base64::decode_vec(
        "MEUCIHV5hOCgYzlO4HkrUhct1Cc8BeKmbXNP+ASje5rGOcCYAiEA2XOajXo3/IihtCEJmNpImtWw3uHIy5CX5TIxit7V0gQ=",
    )
    .unwrap();
    let public = PublicKey::from_spki_der(&spki).expect("an SM2 SubjectPublicKeyInfo");
    assert_eq!(
        MasterKeySpec::of_asymmetric(public.spec()),
        MasterKeySpec::EcSm2
    );
    assert_eq!(
        public.verify(SigningAlgorithm::Sm2Dsa, &digest, &value),
        Ok(true)
    );
    let mut flipped = digest.clone();
    flipped[31] ^= 1;
    assert_eq!(
        public.verify(SigningAlgorithm::Sm2Dsa, &flipped, &value),
        Ok(false)
    );
}
