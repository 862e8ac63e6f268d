//! `kms_core::asymmetric`: the five key specs, their signing and encryption algorithms, PKCS#8
//! and SubjectPublicKeyInfo, as the module documents them.
//!
//! - Names, the allowed (spec, algorithm) pairs and the plaintext limits, as tables.
//! - Round trips for every spec and allowed algorithm: sign and verify, encrypt and decrypt,
//!   PKCS#8, SPKI and PEM; the encodings (RSA as long as the modulus, DER for ECDSA, SM2DSA and
//!   SM2PKE's GM/T 0009 `SM2Cipher`).
//! - Refusals: a wrong signature, a flipped digest bit, another key: `Ok(false)`; tampered
//!   ciphertexts: `DecryptionFailed`; misuse: `AlgorithmNotAllowed` before `InvalidDigest`,
//!   `PlaintextTooLong`; a failing RNG: `Rng`; keys of another spec: `Malformed`.
//! - The SM2 digest `SM3(Z_A || M)` against the `sm2` crate's own message signing with the
//!   default user ID.
//! - `Debug` redacts the private key.
//! - Properties: the decoders, `verify` and `decrypt` never panic on arbitrary or mutated
//!   bytes.
//! - Native only: a cross-check with the OpenSSL command line (each way: signatures,
//!   ciphertexts and keys made by one are read by the other), for every spec and algorithm.

use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use kms_core::asymmetric::{
    AsymmetricError, AsymmetricSpec, DIGEST_LEN, EncryptionAlgorithm, PrivateKey, PublicKey,
    SM2_DEFAULT_USER_ID, SM2PKE_MAX_PLAINTEXT_LEN, SM2PKE_OVERHEAD, SigningAlgorithm,
};
use proptest::prelude::*;

use crate::testkit::*;

const MESSAGE: &[u8] = b"the quick brown fox signs over the lazy dog";

/// One key of each spec, generated once (RSA key generation takes a while).
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        AsymmetricSpec::ALL
            .iter()
            .enumerate()
            .map(|(i, &spec)| PrivateKey::generate(spec, &mut rng(0xa5 + i as u64)).unwrap())
            .collect()
    })
}

fn key(spec: AsymmetricSpec) -> &'static PrivateKey {
    let key = &keys()[AsymmetricSpec::ALL.iter().position(|&s| s == spec).unwrap()];
    assert_eq!(key.spec(), spec);
    key
}

fn signing_pairs() -> impl Iterator<Item = (AsymmetricSpec, SigningAlgorithm)> {
    AsymmetricSpec::ALL.into_iter().flat_map(|spec| {
        SigningAlgorithm::ALL
            .into_iter()
            .filter(move |a| a.allowed(spec))
            .map(move |a| (spec, a))
    })
}

fn encryption_pairs() -> impl Iterator<Item = (AsymmetricSpec, EncryptionAlgorithm)> {
    AsymmetricSpec::ALL.into_iter().flat_map(|spec| {
        EncryptionAlgorithm::ALL
            .into_iter()
            .filter(move |a| a.allowed(spec))
            .map(move |a| (spec, a))
    })
}

/// The top-level items of a DER SEQUENCE: (tag, contents). Short and long lengths.
fn der_sequence(der: &[u8]) -> Vec<(u8, &[u8])> {
    fn item(input: &[u8]) -> (u8, &[u8], &[u8]) {
        let tag = input[0];
        let (len, rest) = match input[1] {
            n if n < 0x80 => (usize::from(n), &input[2..]),
            0x81 => (usize::from(input[2]), &input[3..]),
            0x82 => (
                usize::from(input[2]) << 8 | usize::from(input[3]),
                &input[4..],
            ),
            other => panic!("length form {other:#x}"),
        };
        (tag, &rest[..len], &rest[len..])
    }
    let (tag, mut contents, rest) = item(der);
    assert_eq!((tag, rest.len()), (0x30, 0), "one SEQUENCE, nothing after");
    let mut items = Vec::new();
    while !contents.is_empty() {
        let (tag, value, rest) = item(contents);
        items.push((tag, value));
        contents = rest;
    }
    items
}

/// A DER INTEGER of the unsigned big-endian `bytes`.
fn der_integer(bytes: &[u8]) -> Vec<u8> {
    let mut value: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
    if value.first().is_none_or(|&b| b & 0x80 != 0) {
        value.insert(0, 0);
    }
    der_item(0x02, &value)
}

/// A DER item: tag, length (short or long form), contents.
fn der_item(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match contents.len() {
        n if n < 0x80 => out.push(n as u8),
        n if n < 0x100 => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(contents);
    out
}

/// An SM2 ciphertext's raw `0x04 || x || y || C3 || C2` as GM/T 0009's DER `SM2Cipher`.
fn sm2_raw_to_der(raw: &[u8]) -> Vec<u8> {
    assert_eq!(raw[0], 0x04);
    let (x, y, c3, c2) = (&raw[1..33], &raw[33..65], &raw[65..97], &raw[97..]);
    let body = [
        der_integer(x),
        der_integer(y),
        der_item(0x04, c3),
        der_item(0x04, c2),
    ]
    .concat();
    der_item(0x30, &body)
}

// ---------------------------------------------------------------------------------------------
// Names and tables

#[test]
fn names_parse_back_exactly() {
    let specs = ["RSA_2048", "RSA_3072", "EC_P256", "EC_P256K", "EC_SM2"];
    for (spec, name) in AsymmetricSpec::ALL.into_iter().zip(specs) {
        assert_eq!((spec.name(), spec.to_string()), (name, name.to_string()));
        assert_eq!(AsymmetricSpec::from_name(name), Some(spec));
        assert_eq!(AsymmetricSpec::from_name(&name.to_lowercase()), None);
    }
    let signing = [
        "RSA_PSS_SHA_256",
        "RSA_PKCS1_SHA_256",
        "ECDSA_SHA_256",
        "SM2DSA",
    ];
    for (algorithm, name) in SigningAlgorithm::ALL.into_iter().zip(signing) {
        assert_eq!(
            (algorithm.name(), algorithm.to_string()),
            (name, name.to_string())
        );
        assert_eq!(SigningAlgorithm::from_name(name), Some(algorithm));
        assert_eq!(SigningAlgorithm::from_name(&name.to_lowercase()), None);
    }
    let encryption = ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1", "SM2PKE"];
    for (algorithm, name) in EncryptionAlgorithm::ALL.into_iter().zip(encryption) {
        assert_eq!(
            (algorithm.name(), algorithm.to_string()),
            (name, name.to_string())
        );
        assert_eq!(EncryptionAlgorithm::from_name(name), Some(algorithm));
        assert_eq!(EncryptionAlgorithm::from_name(&name.to_lowercase()), None);
    }
    for other in [
        "",
        "RSA_4096",
        "EC_P384",
        "RSAES_PKCS1_V1_5",
        "ECDSA_SHA_384",
        " SM2DSA",
    ] {
        assert_eq!(AsymmetricSpec::from_name(other), None);
        assert_eq!(SigningAlgorithm::from_name(other), None);
        assert_eq!(EncryptionAlgorithm::from_name(other), None);
    }
}

#[test]
fn allowed_pairs_and_plaintext_limits() {
    use AsymmetricSpec::*;
    let signing: Vec<_> = signing_pairs().map(|(s, a)| (s.name(), a.name())).collect();
    assert_eq!(
        signing,
        [
            ("RSA_2048", "RSA_PSS_SHA_256"),
            ("RSA_2048", "RSA_PKCS1_SHA_256"),
            ("RSA_3072", "RSA_PSS_SHA_256"),
            ("RSA_3072", "RSA_PKCS1_SHA_256"),
            ("EC_P256", "ECDSA_SHA_256"),
            ("EC_P256K", "ECDSA_SHA_256"),
            ("EC_SM2", "SM2DSA"),
        ]
    );
    let limits: Vec<_> = EncryptionAlgorithm::ALL
        .into_iter()
        .flat_map(|a| AsymmetricSpec::ALL.map(|s| (s.name(), a.name(), a.max_plaintext_len(s))))
        .filter(|(_, _, max)| max.is_some())
        .collect();
    assert_eq!(
        limits,
        [
            ("RSA_2048", "RSAES_OAEP_SHA_256", Some(190)),
            ("RSA_3072", "RSAES_OAEP_SHA_256", Some(318)),
            ("RSA_2048", "RSAES_OAEP_SHA_1", Some(214)),
            ("RSA_3072", "RSAES_OAEP_SHA_1", Some(342)),
            ("EC_SM2", "SM2PKE", Some(6047)),
        ]
    );
    for (spec, algorithm) in [
        (EcP256, EncryptionAlgorithm::Sm2Pke),
        (EcP256K, EncryptionAlgorithm::RsaesOaepSha1),
    ] {
        assert!(!algorithm.allowed(spec));
        assert_eq!(algorithm.max_plaintext_len(spec), None);
    }
    assert_eq!(SM2PKE_MAX_PLAINTEXT_LEN, 6047);
    assert_eq!(DIGEST_LEN, 32);
    assert_eq!(SM2_DEFAULT_USER_ID, "1234567812345678");
}

// ---------------------------------------------------------------------------------------------
// Keys

#[test]
fn keys_round_trip_through_pkcs8_and_spki() {
    // DER SubjectPublicKeyInfo lengths: RSA with e = 65537; EC points uncompressed.
    let spki_len = [294, 422, 91, 88, 91];
    for (&spec, expected_len) in AsymmetricSpec::ALL.iter().zip(spki_len) {
        let key = key(spec);
        let public = key.public_key();
        assert_eq!(public.spec(), spec);

        let pkcs8 = key.to_pkcs8_der().unwrap();
        let again = PrivateKey::from_pkcs8_der(spec, &pkcs8).unwrap();
        assert_eq!((again.spec(), again.public_key()), (spec, public.clone()));
        assert_eq!(
            *again.to_pkcs8_der().unwrap(),
            *pkcs8,
            "{spec}: PKCS#8 is stable"
        );
        for other in AsymmetricSpec::ALL.into_iter().filter(|&o| o != spec) {
            assert_eq!(
                PrivateKey::from_pkcs8_der(other, &pkcs8).unwrap_err(),
                AsymmetricError::Malformed,
                "{spec} read as {other}"
            );
        }

        let spki = public.to_spki_der().unwrap();
        assert_eq!(spki.len(), expected_len, "{spec}: SPKI length");
        let parsed = PublicKey::from_spki_der(&spki).unwrap();
        assert_eq!((parsed.spec(), &parsed), (spec, &public));
        assert_eq!(parsed.to_spki_der().unwrap(), spki);

        // Not a key: trailing bytes, truncation, the private key, nothing.
        let mut longer = spki.clone();
        longer.push(0);
        for bad in [
            &longer[..],
            &spki[..spki.len() - 1],
            &spki[1..],
            &pkcs8[..],
            &[],
        ] {
            assert_eq!(
                PublicKey::from_spki_der(bad),
                Err(AsymmetricError::Malformed)
            );
        }
        let mut longer = pkcs8.to_vec();
        longer.push(0);
        for bad in [&longer[..], &pkcs8[..pkcs8.len() - 1], &spki[..], &[]] {
            assert_eq!(
                PrivateKey::from_pkcs8_der(spec, bad).unwrap_err(),
                AsymmetricError::Malformed
            );
        }
    }
    // Distinct keys are distinct.
    let other = PrivateKey::generate(AsymmetricSpec::EcP256, &mut rng(99)).unwrap();
    assert_ne!(other.public_key(), key(AsymmetricSpec::EcP256).public_key());
}

#[test]
fn generation_is_the_rngs_alone() {
    for spec in [
        AsymmetricSpec::EcP256,
        AsymmetricSpec::EcP256K,
        AsymmetricSpec::EcSm2,
    ] {
        let a = PrivateKey::generate(spec, &mut rng(7)).unwrap();
        let b = PrivateKey::generate(spec, &mut rng(7)).unwrap();
        let c = PrivateKey::generate(spec, &mut rng(8)).unwrap();
        assert_eq!(*a.to_pkcs8_der().unwrap(), *b.to_pkcs8_der().unwrap());
        assert_ne!(a.public_key(), c.public_key());
    }
    // A dyn RNG works too.
    let mut inner = rng(9);
    let dynamic: &mut dyn kms_core::rand_core::TryCryptoRng<Error = core::convert::Infallible> =
        &mut inner;
    let key = PrivateKey::generate(AsymmetricSpec::EcSm2, dynamic).unwrap();
    let ciphertext = key
        .public_key()
        .encrypt(EncryptionAlgorithm::Sm2Pke, b"x", dynamic)
        .unwrap();
    assert_eq!(
        *key.decrypt(EncryptionAlgorithm::Sm2Pke, &ciphertext)
            .unwrap(),
        b"x"
    );
}

#[test]
fn pem_is_the_spki_in_64_character_lines() {
    for &spec in &AsymmetricSpec::ALL {
        let public = key(spec).public_key();
        let pem = public.to_pem().unwrap();
        assert!(!pem.contains('\r'));
        let lines: Vec<&str> = pem.split_terminator('\n').collect();
        assert!(pem.ends_with("-----END PUBLIC KEY-----\n"), "{pem}");
        assert_eq!(lines[0], "-----BEGIN PUBLIC KEY-----");
        assert_eq!(lines[lines.len() - 1], "-----END PUBLIC KEY-----");
        let body = &lines[1..lines.len() - 1];
        assert!(body[..body.len() - 1].iter().all(|l| l.len() == 64));
        assert!((1..=64).contains(&body[body.len() - 1].len()));
        let der = Base64::decode_vec(&body.concat()).unwrap();
        assert_eq!(der, public.to_spki_der().unwrap());
        assert_eq!(PublicKey::from_spki_der(&der).unwrap(), public);
    }
}

#[test]
fn debug_shows_the_spec_only() {
    for &spec in &AsymmetricSpec::ALL {
        let key = key(spec);
        assert_eq!(
            format!("{key:?}"),
            format!("PrivateKey {{ spec: {spec:?}, key: \"[REDACTED]\" }}")
        );
        assert_eq!(
            format!("{:?}", key.public_key()),
            format!("PublicKey {{ spec: {spec:?}, .. }}")
        );
    }
    fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    zeroized_on_drop::<PrivateKey>();
}

// ---------------------------------------------------------------------------------------------
// Signatures

#[test]
fn every_allowed_signing_pair_round_trips() {
    for (spec, algorithm) in signing_pairs() {
        let what = format!("{spec} {algorithm}");
        let key = key(spec);
        let public = key.public_key();
        let digest = public.message_digest(algorithm, MESSAGE).unwrap();
        let signature = key.sign(algorithm, &digest, &mut rng(1)).unwrap();
        assert_eq!(
            public.verify(algorithm, &digest, &signature),
            Ok(true),
            "{what}"
        );

        // The encoding: RSA as long as the modulus; ECDSA and SM2DSA DER r and s.
        match spec {
            AsymmetricSpec::Rsa2048 => assert_eq!(signature.len(), 256),
            AsymmetricSpec::Rsa3072 => assert_eq!(signature.len(), 384),
            _ => {
                let items = der_sequence(&signature);
                assert_eq!(items.len(), 2, "{what}: r and s");
                for (tag, int) in items {
                    assert_eq!(tag, 0x02, "{what}: INTEGER");
                    assert!((1..=33).contains(&int.len()));
                }
            }
        }

        // The RNG alone decides: the same draws give the same signature.
        assert_eq!(
            key.sign(algorithm, &digest, &mut rng(1)).unwrap(),
            signature
        );
        let other_draws = key.sign(algorithm, &digest, &mut rng(2)).unwrap();
        assert_eq!(public.verify(algorithm, &digest, &other_draws), Ok(true));
        // PKCS#1 v1.5 is deterministic; the others are randomized.
        assert_eq!(
            other_draws == signature,
            algorithm == SigningAlgorithm::RsaPkcs1Sha256,
            "{what}"
        );

        // A flipped digest bit, anywhere.
        for bit in [0, 7, 100, 255] {
            let mut flipped = digest;
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                public.verify(algorithm, &flipped, &signature),
                Ok(false),
                "{what}"
            );
        }
        // A wrong signature: a flipped byte, shorter, longer, empty, all zero.
        for at in [0, 1, signature.len() / 2, signature.len() - 1] {
            let mut wrong = signature.clone();
            wrong[at] ^= 0x01;
            assert_eq!(
                public.verify(algorithm, &digest, &wrong),
                Ok(false),
                "{what}: byte {at}"
            );
        }
        let mut longer = signature.clone();
        longer.push(0);
        let zeros = vec![0; signature.len()];
        for wrong in [
            &signature[..signature.len() - 1],
            &longer[..],
            &[],
            &zeros[..],
        ] {
            assert_eq!(
                public.verify(algorithm, &digest, wrong),
                Ok(false),
                "{what}"
            );
        }
        // Another key of the same spec.
        if spec != AsymmetricSpec::Rsa3072 {
            let other = PrivateKey::generate(spec, &mut rng(3))
                .unwrap()
                .public_key();
            assert_ne!(other, public);
            assert_eq!(
                other.verify(algorithm, &digest, &signature),
                Ok(false),
                "{what}"
            );
        }
    }
    // The other RSA algorithm, the other RSA size.
    let digest = [9; 32];
    let pss = key(AsymmetricSpec::Rsa2048)
        .sign(SigningAlgorithm::RsaPssSha256, &digest, &mut rng(4))
        .unwrap();
    let public = key(AsymmetricSpec::Rsa2048).public_key();
    assert_eq!(
        public.verify(SigningAlgorithm::RsaPkcs1Sha256, &digest, &pss),
        Ok(false)
    );
    let bigger = key(AsymmetricSpec::Rsa3072).public_key();
    assert_eq!(
        bigger.verify(SigningAlgorithm::RsaPssSha256, &digest, &pss),
        Ok(false)
    );
}

#[test]
fn digests_are_sha256_or_sm3_with_z() {
    use sha2::Digest;
    for (spec, algorithm) in signing_pairs() {
        let public = key(spec).public_key();
        let digest = public.message_digest(algorithm, MESSAGE).unwrap();
        if algorithm == SigningAlgorithm::Sm2Dsa {
            assert_ne!(digest, <[u8; 32]>::from(sha2::Sha256::digest(MESSAGE)));
        } else {
            assert_eq!(digest, <[u8; 32]>::from(sha2::Sha256::digest(MESSAGE)));
        }
    }
}

/// The `sm2` crate signs and verifies whole messages with a user ID, computing `Z_A` itself:
/// its signatures verify here over `message_digest`, and ours verify there.
#[test]
fn sm2_digest_agrees_with_the_sm2_crate() {
    use sm2::dsa::signature::{Signer, Verifier};
    use sm2::pkcs8::DecodePrivateKey;

    let key = key(AsymmetricSpec::EcSm2);
    let public = key.public_key();
    let secret = sm2::SecretKey::from_pkcs8_der(&key.to_pkcs8_der().unwrap()).unwrap();
    let theirs = sm2::dsa::SigningKey::new(SM2_DEFAULT_USER_ID, &secret).unwrap();
    for message in [&b""[..], b"abc", MESSAGE, &[0x5a; 1000]] {
        let digest = public
            .message_digest(SigningAlgorithm::Sm2Dsa, message)
            .unwrap();
        let signature: sm2::dsa::Signature = theirs.sign(message);
        let der = signature.to_der();
        assert_eq!(
            public.verify(SigningAlgorithm::Sm2Dsa, &digest, der.as_bytes()),
            Ok(true)
        );

        let ours = key
            .sign(SigningAlgorithm::Sm2Dsa, &digest, &mut rng(5))
            .unwrap();
        let ours = sm2::dsa::Signature::from_der(&ours).unwrap();
        assert!(theirs.verifying_key().verify(message, &ours).is_ok());
        // Another user ID gives another Z_A: the signature does not verify under it.
        let elsewhere = sm2::dsa::VerifyingKey::from_affine(
            "ALICE123@YAHOO.COM",
            *theirs.verifying_key().as_affine(),
        )
        .unwrap();
        assert!(elsewhere.verify(message, &ours).is_err());
    }
}

/// A signature Alibaba KMS made with an `EC_SM2` key (public key, `Digest` and `Value` as the
/// API carries them; from the `emmansun/gmsm` tests, recorded in docs/asymmetric.md §3): the
/// DER signature of `e` as sent, under the SPKI of the PEM.
#[test]
fn alibaba_sm2dsa_known_answer() {
    let spki = Base64::decode_vec(
        "MFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAERrsLH25zLm2LIo6tivZM9afLprSX6TCKAmQJArAO7VOtZyW4PQwfaTsUIF7IXEFG4iI8bNuTQwMykUzLu2ypEA==",
    )
    .unwrap();
    let digest = Base64::decode_vec("Zsfw9GLu7dnR8tRr3BDk4kFnxIdc8veiKX2gK49LqOA=").unwrap();
    let value = Base64::decode_vec(
        "MEUCIHV5hOCgYzlO4HkrUhct1Cc8BeKmbXNP+ASje5rGOcCYAiEA2XOajXo3/IihtCEJmNpImtWw3uHIy5CX5TIxit7V0gQ=",
    )
    .unwrap();
    let public = PublicKey::from_spki_der(&spki).unwrap();
    assert_eq!(public.spec(), AsymmetricSpec::EcSm2);
    assert_eq!(public.to_spki_der().unwrap(), spki);
    assert_eq!(
        public.verify(SigningAlgorithm::Sm2Dsa, &digest, &value),
        Ok(true)
    );
    let mut flipped = digest.clone();
    flipped[0] ^= 0x80;
    assert_eq!(
        public.verify(SigningAlgorithm::Sm2Dsa, &flipped, &value),
        Ok(false)
    );
}

// ---------------------------------------------------------------------------------------------
// Encryption

#[test]
fn every_allowed_encryption_pair_round_trips() {
    for (spec, algorithm) in encryption_pairs() {
        let what = format!("{spec} {algorithm}");
        let key = key(spec);
        let public = key.public_key();
        let max = algorithm.max_plaintext_len(spec).unwrap();
        let shortest = usize::from(algorithm == EncryptionAlgorithm::Sm2Pke);
        for len in [shortest, 1, 31, 32, 33, max] {
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8 ^ 0x3c).collect();
            let ciphertext = public
                .encrypt(algorithm, &plaintext, &mut rng(len as u64))
                .unwrap();
            assert_eq!(
                *key.decrypt(algorithm, &ciphertext).unwrap(),
                plaintext,
                "{what}: {len} bytes"
            );
            match spec {
                AsymmetricSpec::Rsa2048 => assert_eq!(ciphertext.len(), 256),
                AsymmetricSpec::Rsa3072 => assert_eq!(ciphertext.len(), 384),
                _ => {
                    // C1 || C3 || C2, C1 uncompressed; the same in GM/T 0009 DER decrypts too.
                    assert_eq!(ciphertext.len(), len + SM2PKE_OVERHEAD, "{what}");
                    assert_eq!(ciphertext[0], 0x04);
                    let der = sm2_raw_to_der(&ciphertext);
                    let items = der_sequence(&der);
                    let tags: Vec<u8> = items.iter().map(|(t, _)| *t).collect();
                    assert_eq!(tags, [0x02, 0x02, 0x04, 0x04], "{what}");
                    assert_eq!(
                        *key.decrypt(algorithm, &der).unwrap(),
                        plaintext,
                        "{what}: DER"
                    );
                    let mut wrong = der.clone();
                    let at = wrong.len() - 1;
                    wrong[at] ^= 1;
                    assert_eq!(
                        key.decrypt(algorithm, &wrong).unwrap_err(),
                        AsymmetricError::DecryptionFailed
                    );
                }
            }
            // Randomized: other draws, another ciphertext of the same plaintext.
            let again = public
                .encrypt(algorithm, &plaintext, &mut rng(1000 + len as u64))
                .unwrap();
            assert_ne!(again, ciphertext);
            assert_eq!(*key.decrypt(algorithm, &again).unwrap(), plaintext);

            // Tampered, truncated, extended: refused.
            for at in [0, 1, 5, ciphertext.len() / 2, ciphertext.len() - 1] {
                let mut wrong = ciphertext.clone();
                wrong[at] ^= 0x40;
                assert_eq!(
                    key.decrypt(algorithm, &wrong).unwrap_err(),
                    AsymmetricError::DecryptionFailed,
                    "{what}: byte {at} of {len}"
                );
            }
            let mut longer = ciphertext.clone();
            longer.push(0);
            for wrong in [&ciphertext[..ciphertext.len() - 1], &longer[..], &[]] {
                assert_eq!(
                    key.decrypt(algorithm, wrong).unwrap_err(),
                    AsymmetricError::DecryptionFailed
                );
            }
        }
        let too_long = vec![1; max + 1];
        assert_eq!(
            public.encrypt(algorithm, &too_long, &mut rng(0)),
            Err(AsymmetricError::PlaintextTooLong),
            "{what}"
        );
    }
    // SM2 cannot encrypt nothing (RSA-OAEP can); a ciphertext of nothing (C1 and C3 alone,
    // which anyone could make) does not decrypt; nor does C1 compressed, or the old
    // C1 || C2 || C3 order.
    let sm2 = key(AsymmetricSpec::EcSm2).public_key();
    assert_eq!(
        sm2.encrypt(EncryptionAlgorithm::Sm2Pke, &[], &mut rng(0)),
        Err(AsymmetricError::PlaintextTooLong)
    );
    let ciphertext = sm2
        .encrypt(EncryptionAlgorithm::Sm2Pke, b"0123456789", &mut rng(0))
        .unwrap();
    let (c1, rest) = ciphertext.split_at(65);
    let (c3, c2) = rest.split_at(32);
    let old_order = [c1, c2, c3].concat();
    let mut compressed = vec![0x02 | (c1[64] & 1)];
    compressed.extend_from_slice(&c1[1..33]);
    compressed.extend_from_slice(rest);
    // A valid encryption of nothing, with k = 1: C1 = G, (x2, y2) = [1]Q = Q, C3 = SM3(x || y).
    let empty = {
        use sm2::elliptic_curve::sec1::ToSec1Point;
        use sm3::Digest;
        let g = sm2::AffinePoint::GENERATOR.to_sec1_point(false);
        let spki = sm2.to_spki_der().unwrap();
        let q = &spki[spki.len() - 65..];
        assert_eq!(q[0], 0x04);
        [g.as_bytes(), &sm3::Sm3::digest(&q[1..])[..]].concat()
    };
    assert_eq!(empty.len(), SM2PKE_OVERHEAD);
    let empty_der = sm2_raw_to_der(&empty);
    for wrong in [
        &ciphertext[..97],
        &old_order[..],
        &compressed[..],
        &empty[..],
        &empty_der[..],
    ] {
        assert_eq!(
            key(AsymmetricSpec::EcSm2)
                .decrypt(EncryptionAlgorithm::Sm2Pke, wrong)
                .unwrap_err(),
            AsymmetricError::DecryptionFailed
        );
    }
    // One OAEP hash's ciphertext does not decrypt with the other; nor under another key.
    let rsa = key(AsymmetricSpec::Rsa2048);
    let ciphertext = rsa
        .public_key()
        .encrypt(EncryptionAlgorithm::RsaesOaepSha256, b"secret", &mut rng(6))
        .unwrap();
    assert_eq!(
        rsa.decrypt(EncryptionAlgorithm::RsaesOaepSha1, &ciphertext)
            .unwrap_err(),
        AsymmetricError::DecryptionFailed
    );
    let other = PrivateKey::generate(AsymmetricSpec::EcSm2, &mut rng(11)).unwrap();
    let ciphertext = sm2
        .encrypt(EncryptionAlgorithm::Sm2Pke, b"secret", &mut rng(6))
        .unwrap();
    assert_eq!(
        other
            .decrypt(EncryptionAlgorithm::Sm2Pke, &ciphertext)
            .unwrap_err(),
        AsymmetricError::DecryptionFailed
    );
}

// ---------------------------------------------------------------------------------------------
// Misuse and failures

#[test]
fn algorithms_of_other_specs_are_refused_before_anything_else() {
    for &spec in &AsymmetricSpec::ALL {
        let key = key(spec);
        let public = key.public_key();
        for algorithm in SigningAlgorithm::ALL
            .into_iter()
            .filter(|a| !a.allowed(spec))
        {
            let e = Err(AsymmetricError::AlgorithmNotAllowed);
            // Even with a digest of the wrong length and a failing RNG.
            assert_eq!(key.sign(algorithm, &[0; 3], &mut FailingRng::default()), e);
            assert_eq!(key.sign(algorithm, &[0; 32], &mut rng(0)), e);
            assert_eq!(
                public.verify(algorithm, &[0; 3], &[]),
                Err(AsymmetricError::AlgorithmNotAllowed)
            );
            assert_eq!(
                public.message_digest(algorithm, b"m"),
                Err(AsymmetricError::AlgorithmNotAllowed)
            );
        }
        for algorithm in EncryptionAlgorithm::ALL
            .into_iter()
            .filter(|a| !a.allowed(spec))
        {
            assert_eq!(
                public.encrypt(algorithm, &[0; 10_000], &mut FailingRng::default()),
                Err(AsymmetricError::AlgorithmNotAllowed)
            );
            assert_eq!(
                key.decrypt(algorithm, &[0; 10]).unwrap_err(),
                AsymmetricError::AlgorithmNotAllowed
            );
        }
    }
}

#[test]
fn digests_of_other_lengths_are_refused() {
    for (spec, algorithm) in signing_pairs() {
        let key = key(spec);
        let public = key.public_key();
        let signature = key.sign(algorithm, &[1; 32], &mut rng(0)).unwrap();
        for len in [0, 1, 20, 31, 33, 48, 64] {
            let digest = vec![1; len];
            assert_eq!(
                key.sign(algorithm, &digest, &mut FailingRng::default()),
                Err(AsymmetricError::InvalidDigest),
                "{spec} {algorithm} {len}"
            );
            assert_eq!(
                public.verify(algorithm, &digest, &signature),
                Err(AsymmetricError::InvalidDigest)
            );
        }
    }
}

#[test]
fn a_failing_rng_is_an_rng_error() {
    for &spec in &AsymmetricSpec::ALL {
        let mut failing = FailingRng::default();
        assert_eq!(
            PrivateKey::generate(spec, &mut failing).unwrap_err(),
            AsymmetricError::Rng
        );
        assert!(failing.attempts > 0);
    }
    for (spec, algorithm) in signing_pairs() {
        assert_eq!(
            key(spec).sign(algorithm, &[0; 32], &mut FailingRng::default()),
            Err(AsymmetricError::Rng),
            "{spec} {algorithm}"
        );
    }
    for (spec, algorithm) in encryption_pairs() {
        assert_eq!(
            key(spec)
                .public_key()
                .encrypt(algorithm, b"x", &mut FailingRng::default()),
            Err(AsymmetricError::Rng),
            "{spec} {algorithm}"
        );
    }
}

#[test]
fn errors_read_as_sentences() {
    let all = [
        AsymmetricError::AlgorithmNotAllowed,
        AsymmetricError::InvalidDigest,
        AsymmetricError::PlaintextTooLong,
        AsymmetricError::DecryptionFailed,
        AsymmetricError::Malformed,
        AsymmetricError::Rng,
    ];
    let texts: std::collections::BTreeSet<String> = all.iter().map(ToString::to_string).collect();
    assert_eq!(texts.len(), all.len());
    let _: &dyn core::error::Error = &all[0];
}

// ---------------------------------------------------------------------------------------------
// Properties

/// A valid key's DER with one byte changed, truncated, or with bytes appended.
fn mutated(der: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    let len = der.len();
    prop_oneof![
        (0..len, any::<u8>()).prop_map({
            let der = der.clone();
            move |(at, byte)| {
                let mut d = der.clone();
                d[at] = byte;
                d
            }
        }),
        (0..len).prop_map({
            let der = der.clone();
            move |cut| der[..cut].to_vec()
        }),
        proptest::collection::vec(any::<u8>(), 1..8).prop_map(move |tail| {
            let mut d = der.clone();
            d.extend(tail);
            d
        }),
    ]
}

fn spki_and_pkcs8(index: usize) -> (Vec<u8>, Vec<u8>) {
    let key = &keys()[index];
    (
        key.public_key().to_spki_der().unwrap(),
        key.to_pkcs8_der().unwrap().to_vec(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = PublicKey::from_spki_der(&bytes);
        for &spec in &AsymmetricSpec::ALL {
            let _ = PrivateKey::from_pkcs8_der(spec, &bytes);
        }
    }

    #[test]
    fn decoders_never_panic_on_mutated_keys(
        (index, spki, pkcs8) in (0..5usize).prop_flat_map(|i| {
            let (spki, pkcs8) = spki_and_pkcs8(i);
            (Just(i), mutated(spki), mutated(pkcs8))
        })
    ) {
        let spec = AsymmetricSpec::ALL[index];
        if let Ok(public) = PublicKey::from_spki_der(&spki) {
            // Whatever parses re-encodes and parses again to the same key.
            let again = PublicKey::from_spki_der(&public.to_spki_der().unwrap()).unwrap();
            prop_assert_eq!(again, public);
        }
        if let Ok(key) = PrivateKey::from_pkcs8_der(spec, &pkcs8) {
            prop_assert_eq!(key.spec(), spec);
        }
    }

    #[test]
    fn verify_and_decrypt_never_panic(
        index in 0..5usize,
        digest in proptest::array::uniform32(any::<u8>()),
        bytes in proptest::collection::vec(any::<u8>(), 0..500),
    ) {
        let spec = AsymmetricSpec::ALL[index];
        let key = &keys()[index];
        let public = key.public_key();
        for algorithm in SigningAlgorithm::ALL.into_iter().filter(|a| a.allowed(spec)) {
            prop_assert_eq!(public.verify(algorithm, &digest, &bytes), Ok(false));
        }
        for algorithm in EncryptionAlgorithm::ALL.into_iter().filter(|a| a.allowed(spec)) {
            prop_assert_eq!(key.decrypt(algorithm, &bytes).unwrap_err(), AsymmetricError::DecryptionFailed);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// OpenSSL

/// Arguments for a command: each anything that is `AsRef<OsStr>` (text, paths).
#[cfg(not(target_family = "wasm"))]
macro_rules! args {
    ($($arg:expr),* $(,)?) => {
        vec![$(std::ffi::OsString::from(AsRef::<std::ffi::OsStr>::as_ref(&$arg))),*]
    };
}

/// Runs `openssl` with `args` and then `extra`; its standard output. Fails the test if it
/// cannot run or fails.
#[cfg(not(target_family = "wasm"))]
fn openssl(mut args: Vec<std::ffi::OsString>, extra: &[&str]) -> Vec<u8> {
    args.extend(extra.iter().map(std::ffi::OsString::from));
    let output = std::process::Command::new("openssl")
        .args(&args)
        .output()
        .expect("the openssl command line (Debian's openssl package) is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// `openssl pkeyutl` options for a signing algorithm. SM2DSA signs and verifies the whole
/// message there: OpenSSL computes `Z_A` from the key and the user ID.
#[cfg(not(target_family = "wasm"))]
fn sign_options(algorithm: SigningAlgorithm) -> &'static [&'static str] {
    match algorithm {
        SigningAlgorithm::RsaPssSha256 => &[
            "-pkeyopt",
            "digest:sha256",
            "-pkeyopt",
            "rsa_padding_mode:pss",
            "-pkeyopt",
            "rsa_pss_saltlen:32",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        SigningAlgorithm::RsaPkcs1Sha256 => &["-pkeyopt", "digest:sha256"],
        SigningAlgorithm::EcdsaSha256 => &[],
        SigningAlgorithm::Sm2Dsa => &[
            "-rawin",
            "-digest",
            "sm3",
            "-pkeyopt",
            "distid:1234567812345678",
        ],
    }
}

/// `openssl pkeyutl` options for an encryption algorithm (SM2: SM3, DER, OpenSSL's default).
#[cfg(not(target_family = "wasm"))]
fn encrypt_options(algorithm: EncryptionAlgorithm) -> &'static [&'static str] {
    match algorithm {
        EncryptionAlgorithm::RsaesOaepSha256 => &[
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        EncryptionAlgorithm::RsaesOaepSha1 => &[
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-pkeyopt",
            "rsa_mgf1_md:sha1",
        ],
        EncryptionAlgorithm::Sm2Pke => &[],
    }
}

/// Each way with the OpenSSL command line (3.x, which has SM2): its keys read here and ours
/// there; our signatures verify there and its signatures here (several of each, so secp256k1
/// gives high-`s` ones too); our ciphertexts decrypt there and its here.
#[cfg(not(target_family = "wasm"))]
#[test]
fn openssl_agrees_each_way() {
    use std::path::PathBuf;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let dir = Dir(std::env::temp_dir().join(format!("kms-core-asymmetric-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let path = |name: &str| dir.0.join(name);
    let write = |name: &str, bytes: &[u8]| -> PathBuf {
        let p = path(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };

    let message = write("message", MESSAGE);
    for &spec in &AsymmetricSpec::ALL {
        // Our key, there: OpenSSL reads our PKCS#8 and PEM, and derives the same SPKI.
        let key = key(spec);
        let public = key.public_key();
        let ours = write("ours.p8", &key.to_pkcs8_der().unwrap());
        let ours_pem = write("ours.pem", public.to_pem().unwrap().as_bytes());
        let from_pem = openssl(
            args!["pkey", "-pubin", "-in", ours_pem, "-outform", "DER"],
            &[],
        );
        let from_pkcs8 = openssl(
            args![
                "pkey", "-inform", "DER", "-in", ours, "-pubout", "-outform", "DER"
            ],
            &[],
        );
        let spki = public.to_spki_der().unwrap();
        assert_eq!(
            (&from_pem, &from_pkcs8),
            (&spki, &spki),
            "{spec}: OpenSSL's reading of our key"
        );

        // Its key, here.
        let generated = path("theirs.pem");
        let genpkey: &[&str] = match spec {
            AsymmetricSpec::Rsa2048 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
            AsymmetricSpec::Rsa3072 => &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072"],
            AsymmetricSpec::EcP256 => &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
            AsymmetricSpec::EcP256K => &[
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:secp256k1",
            ],
            AsymmetricSpec::EcSm2 => &["-algorithm", "SM2"],
        };
        openssl(args!["genpkey", "-out", generated], genpkey);
        let their_pkcs8 = openssl(
            args![
                "pkcs8", "-topk8", "-nocrypt", "-in", generated, "-outform", "DER"
            ],
            &[],
        );
        let their_spki = openssl(
            args!["pkey", "-in", generated, "-pubout", "-outform", "DER"],
            &[],
        );
        let theirs = PrivateKey::from_pkcs8_der(spec, &their_pkcs8).expect("OpenSSL's PKCS#8");
        let their_public = PublicKey::from_spki_der(&their_spki).expect("OpenSSL's SPKI");
        assert_eq!(their_public.spec(), spec);
        assert_eq!(theirs.public_key(), their_public);
        let theirs_p8 = write("theirs.p8", &their_pkcs8);
        let theirs_spki = write("theirs.spki", &their_spki);

        for algorithm in SigningAlgorithm::ALL
            .into_iter()
            .filter(|a| a.allowed(spec))
        {
            let what = format!("{spec} {algorithm}");
            let sm2 = algorithm == SigningAlgorithm::Sm2Dsa;
            // Ours, verified there.
            let digest = public.message_digest(algorithm, MESSAGE).unwrap();
            let digest_file = write("digest", &digest);
            for seed in 0..4 {
                let signature = write(
                    "ours.sig",
                    &key.sign(algorithm, &digest, &mut rng(seed)).unwrap(),
                );
                let input = if sm2 { &message } else { &digest_file };
                let out = openssl(
                    args![
                        "pkeyutl", "-verify", "-pubin", "-inkey", ours_pem, "-in", input,
                        "-sigfile", signature
                    ],
                    sign_options(algorithm),
                );
                assert!(
                    String::from_utf8_lossy(&out).contains("Verified Successfully"),
                    "{what}"
                );
            }

            // Theirs, verified here.
            let digest = their_public.message_digest(algorithm, MESSAGE).unwrap();
            let digest_file = write("digest", &digest);
            let input = if sm2 { &message } else { &digest_file };
            for _ in 0..8 {
                let signature = path("theirs.sig");
                openssl(
                    args![
                        "pkeyutl", "-sign", "-keyform", "DER", "-inkey", theirs_p8, "-in", input,
                        "-out", signature
                    ],
                    sign_options(algorithm),
                );
                let signature = std::fs::read(&signature).unwrap();
                assert_eq!(
                    their_public.verify(algorithm, &digest, &signature),
                    Ok(true),
                    "{what}"
                );
                let mut flipped = digest;
                flipped[31] ^= 1;
                assert_eq!(
                    their_public.verify(algorithm, &flipped, &signature),
                    Ok(false)
                );
            }
        }

        for algorithm in EncryptionAlgorithm::ALL
            .into_iter()
            .filter(|a| a.allowed(spec))
        {
            let what = format!("{spec} {algorithm}");
            let len = algorithm.max_plaintext_len(spec).unwrap().min(1000);
            let plaintext: Vec<u8> = (0..len).map(|i| i as u8).collect();
            // Ours, decrypted there.
            let mut ours_ct = public.encrypt(algorithm, &plaintext, &mut rng(13)).unwrap();
            if algorithm == EncryptionAlgorithm::Sm2Pke {
                // OpenSSL reads GM/T 0009 DER only.
                ours_ct = sm2_raw_to_der(&ours_ct);
            }
            let ciphertext = write("ours.ct", &ours_ct);
            let decrypted = openssl(
                args![
                    "pkeyutl", "-decrypt", "-keyform", "DER", "-inkey", ours, "-in", ciphertext
                ],
                encrypt_options(algorithm),
            );
            assert_eq!(decrypted, plaintext, "{what}");
            // Theirs, decrypted here.
            let plaintext_file = write("plaintext", &plaintext);
            let ciphertext = path("theirs.ct");
            openssl(
                args![
                    "pkeyutl",
                    "-encrypt",
                    "-pubin",
                    "-keyform",
                    "DER",
                    "-inkey",
                    theirs_spki,
                    "-in",
                    plaintext_file,
                    "-out",
                    ciphertext
                ],
                encrypt_options(algorithm),
            );
            let ciphertext = std::fs::read(&ciphertext).unwrap();
            assert_eq!(
                *theirs.decrypt(algorithm, &ciphertext).unwrap(),
                plaintext,
                "{what}"
            );
        }
    }
}
