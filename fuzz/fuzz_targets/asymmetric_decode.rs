//! The asymmetric module's inputs from outside: `PublicKey::from_spki_der`,
//! `PrivateKey::from_pkcs8_der`, `PublicKey::verify` and `PrivateKey::decrypt`, with arbitrary
//! bytes and with real keys, signatures and ciphertexts (one key of each spec, built once)
//! that the fuzzer's bytes edit, so the deep paths are reached as well as the first checks.
//! Never panics; what decodes re-encodes to a key that decodes to the same; `verify` answers
//! `Ok(bool)` for any signature and `decrypt` `DecryptionFailed` or a plaintext for any
//! ciphertext; an unedited signature verifies and an unedited ciphertext decrypts to its
//! plaintext.
#![no_main]

use std::sync::OnceLock;

use kms_core::asymmetric::{
    AsymmetricError, AsymmetricSpec, EncryptionAlgorithm, PrivateKey, PublicKey, SigningAlgorithm,
};
use kms_core::rand_core::SeedableRng;
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

struct Entry {
    key: PrivateKey,
    public: PublicKey,
    spki: Vec<u8>,
    pkcs8: Vec<u8>,
    /// (algorithm, digest, signature) for each signing algorithm the spec takes.
    signatures: Vec<(SigningAlgorithm, [u8; 32], Vec<u8>)>,
    /// (algorithm, plaintext, ciphertext) for each encryption algorithm the spec takes.
    ciphertexts: Vec<(EncryptionAlgorithm, Vec<u8>, Vec<u8>)>,
}

fn world() -> &'static [Entry] {
    static WORLD: OnceLock<Vec<Entry>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0xa5a5);
        AsymmetricSpec::ALL
            .into_iter()
            .map(|spec| {
                let key = PrivateKey::generate(spec, &mut rng).unwrap();
                let public = key.public_key();
                let signatures = SigningAlgorithm::ALL
                    .into_iter()
                    .filter(|a| a.allowed(spec))
                    .map(|a| {
                        let digest = public.message_digest(a, b"fuzz").unwrap();
                        (a, digest, key.sign(a, &digest, &mut rng).unwrap())
                    })
                    .collect();
                let ciphertexts = EncryptionAlgorithm::ALL
                    .into_iter()
                    .filter(|a| a.allowed(spec))
                    .map(|a| {
                        let plaintext = b"a data key of 32 bytes, or so...".to_vec();
                        let ciphertext = public.encrypt(a, &plaintext, &mut rng).unwrap();
                        (a, plaintext, ciphertext)
                    })
                    .collect();
                Entry {
                    spki: public.to_spki_der().unwrap(),
                    pkcs8: key.to_pkcs8_der().unwrap().to_vec(),
                    key,
                    public,
                    signatures,
                    ciphertexts,
                }
            })
            .collect()
    })
}

/// `base` with `edit` XORed into it from `at` (wrapping), and truncated or extended by the
/// edit's length byte: near-valid inputs.
fn edited(base: &[u8], edit: &[u8]) -> Vec<u8> {
    let Some((&shape, edit)) = edit.split_first() else {
        return base.to_vec();
    };
    let mut out = base.to_vec();
    if !out.is_empty() {
        let at = usize::from(shape) % out.len();
        for (i, byte) in edit.iter().enumerate() {
            let j = (at + i) % out.len();
            out[j] ^= byte;
        }
    }
    match shape >> 6 {
        0 => {}
        1 => out.truncate(out.len().saturating_sub(usize::from(shape & 0x3f))),
        2 => out.extend_from_slice(edit),
        _ => out.truncate(usize::from(shape & 0x3f)),
    }
    out
}

/// A key that decoded: its SPKI decodes to the same key.
fn check_public(public: &PublicKey) {
    let spki = public.to_spki_der().unwrap();
    assert_eq!(PublicKey::from_spki_der(&spki).unwrap(), *public);
    assert!(
        public
            .to_pem()
            .unwrap()
            .starts_with("-----BEGIN PUBLIC KEY-----\n")
    );
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let world = world();
    let entry = &world[usize::from(selector >> 4) % world.len()];
    let spec = entry.key.spec();
    match selector & 0x07 {
        // Arbitrary bytes as SPKI and as PKCS#8 of each spec.
        0 => {
            if let Ok(public) = PublicKey::from_spki_der(rest) {
                check_public(&public);
            }
            for spec in AsymmetricSpec::ALL {
                if let Ok(key) = PrivateKey::from_pkcs8_der(spec, rest) {
                    assert_eq!(key.spec(), spec);
                    check_public(&key.public_key());
                }
            }
        }
        // A real SPKI, edited.
        1 => {
            if let Ok(public) = PublicKey::from_spki_der(&edited(&entry.spki, rest)) {
                check_public(&public);
            }
        }
        // A real PKCS#8, edited, read as its own spec.
        2 => {
            if let Ok(key) = PrivateKey::from_pkcs8_der(spec, &edited(&entry.pkcs8, rest)) {
                assert_eq!(key.spec(), spec);
                let public = key.public_key();
                check_public(&public);
                // A key that decoded signs what its public key verifies.
                for algorithm in SigningAlgorithm::ALL
                    .into_iter()
                    .filter(|a| a.allowed(spec))
                {
                    let digest = [7u8; 32];
                    let mut rng = ChaCha8Rng::seed_from_u64(1);
                    if let Ok(signature) = key.sign(algorithm, &digest, &mut rng) {
                        assert_eq!(public.verify(algorithm, &digest, &signature), Ok(true));
                    }
                }
            }
        }
        // Arbitrary digest and signature.
        3 => {
            let (digest, signature) = rest.split_at(rest.len().min(32));
            for algorithm in SigningAlgorithm::ALL {
                let result = entry.public.verify(algorithm, digest, signature);
                match result {
                    Ok(_) => assert!(algorithm.allowed(spec) && digest.len() == 32),
                    Err(AsymmetricError::AlgorithmNotAllowed) => assert!(!algorithm.allowed(spec)),
                    Err(AsymmetricError::InvalidDigest) => assert_ne!(digest.len(), 32),
                    Err(other) => panic!("verify: {other:?}"),
                }
            }
        }
        // A real signature, edited (an empty edit leaves it valid).
        4 => {
            for (algorithm, digest, signature) in &entry.signatures {
                let signature_edited = edited(signature, rest);
                let valid = entry
                    .public
                    .verify(*algorithm, digest, &signature_edited)
                    .unwrap();
                if signature_edited == *signature {
                    assert!(valid);
                }
            }
        }
        // Arbitrary ciphertext.
        5 => {
            for algorithm in EncryptionAlgorithm::ALL {
                match entry.key.decrypt(algorithm, rest) {
                    Ok(_) | Err(AsymmetricError::DecryptionFailed) => {
                        assert!(algorithm.allowed(spec))
                    }
                    Err(AsymmetricError::AlgorithmNotAllowed) => assert!(!algorithm.allowed(spec)),
                    Err(other) => panic!("decrypt: {other:?}"),
                }
            }
        }
        // A real ciphertext, edited (an empty edit leaves it decrypting).
        6 => {
            for (algorithm, plaintext, ciphertext) in &entry.ciphertexts {
                let ciphertext_edited = edited(ciphertext, rest);
                match entry.key.decrypt(*algorithm, &ciphertext_edited) {
                    Ok(opened) => {
                        if ciphertext_edited == *ciphertext {
                            assert_eq!(*opened, *plaintext);
                        }
                    }
                    Err(AsymmetricError::DecryptionFailed) => {
                        assert_ne!(ciphertext_edited, *ciphertext)
                    }
                    Err(other) => panic!("decrypt: {other:?}"),
                }
            }
        }
        // Encryption of arbitrary plaintext under the real key decrypts back.
        _ => {
            for (algorithm, _, _) in &entry.ciphertexts {
                let mut rng = ChaCha8Rng::seed_from_u64(2);
                match entry.public.encrypt(*algorithm, rest, &mut rng) {
                    Ok(ciphertext) => {
                        assert_eq!(*entry.key.decrypt(*algorithm, &ciphertext).unwrap(), rest)
                    }
                    Err(AsymmetricError::PlaintextTooLong) => {
                        assert!(
                            rest.is_empty()
                                || rest.len() > algorithm.max_plaintext_len(spec).unwrap()
                        )
                    }
                    Err(other) => panic!("encrypt: {other:?}"),
                }
            }
        }
    }
});
