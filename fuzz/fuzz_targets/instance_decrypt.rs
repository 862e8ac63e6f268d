//! The KMS-instance Decrypt and AdvanceDecrypt with arbitrary fields against a provider with
//! keys in an instance (built once). Real blobs, edited by the fuzzer, let it reach the tag
//! check and beyond. Never panics; only the errors the spec lists for these operations; a
//! success gives back exactly what was sealed, under the key that sealed it.
#![no_main]

use std::sync::OnceLock;

use kms_core::instance::{self, DecryptParams, EncryptParams, GenerateDataKeyParams, Scope};
use kms_core::management::{self, KeyStore};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, Error, InMemoryProvider, InstanceId, KeyId, KeyOptions, Parameter};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");

struct Sealed {
    key: KeyId,
    version: String,
    blob: Vec<u8>,
    iv: [u8; 12],
    aad: &'static [u8],
    plaintext: Vec<u8>,
    advance: bool,
}

struct World {
    provider: InMemoryProvider,
    scope: Scope<'static>,
    sealed: Vec<Sealed>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0x1a57);
        let instance = InstanceId::parse("kst-hzz62ee6a5bd7sqd8w1rq").unwrap();
        let scope = Scope::new(CALLER, instance);
        let mut provider = InMemoryProvider::new();
        let opts = KeyOptions::new(CALLER.account, CALLER.region).instance(instance);
        let keys = [
            provider.create_key(&mut rng, &opts).unwrap(),
            provider.create_key(&mut rng, &opts).unwrap(),
        ];
        // A gateway key too: never found through the instance.
        provider
            .create_key(&mut rng, &KeyOptions::new(CALLER.account, CALLER.region))
            .unwrap();
        let mut sealed = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let id = key.to_string();
            for (j, aad) in [&b""[..], b"aad", b"0123456789abcdef"]
                .into_iter()
                .enumerate()
            {
                let advance = (i + j) % 2 == 0;
                let p = EncryptParams {
                    key_id: &id,
                    plaintext: b"instance plaintext",
                    aad,
                    ..EncryptParams::default()
                };
                let out = if advance {
                    instance::advance_encrypt(&provider, &scope, &p, &mut rng)
                } else {
                    instance::encrypt(&provider, &scope, &p, &mut rng)
                }
                .unwrap();
                sealed.push(Sealed {
                    key: *key,
                    version: out.key_version_id.to_string(),
                    blob: out.ciphertext_blob,
                    iv: out.iv.0,
                    aad,
                    plaintext: b"instance plaintext".to_vec(),
                    advance,
                });
                let g = GenerateDataKeyParams {
                    key_id: &id,
                    number_of_bytes: [1, 32, 1024][j],
                    aad,
                    ..GenerateDataKeyParams::default()
                };
                let out = if advance {
                    instance::advance_generate_data_key(&provider, &scope, &g, &mut rng)
                } else {
                    instance::generate_data_key(&provider, &scope, &g, &mut rng)
                }
                .unwrap();
                sealed.push(Sealed {
                    key: *key,
                    version: out.key_version_id.to_string(),
                    blob: out.ciphertext_blob,
                    iv: out.iv.0,
                    aad,
                    plaintext: out.plaintext.expose().to_vec(),
                    advance,
                });
            }
        }
        // Rotate the first key, so that its blobs are sealed by an older version.
        let staged = management::create_key_version(
            &provider,
            &CALLER,
            &keys[0].into(),
            &mut rng,
            std::time::Duration::ZERO,
        );
        provider.apply(staged.unwrap()).unwrap();
        World {
            provider,
            scope,
            sealed,
        }
    })
}

fn allowed(e: &Error) -> bool {
    matches!(
        e,
        Error::MissingParameter(Parameter::CiphertextBlob | Parameter::KeyId | Parameter::Iv)
            | Error::InvalidParameter(
                Parameter::CiphertextBlob
                    | Parameter::KeyId
                    | Parameter::Iv
                    | Parameter::Aad
                    | Parameter::Algorithm
            )
            | Error::KeyNotFound
            | Error::AliasNotFound
    )
}

/// Splits the input at its first `sep`.
fn split(data: &[u8], sep: u8) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == sep) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    // Fields: blob, aad, iv, key id, migration header, separated by 0xff.
    let (blob_edit, rest) = split(rest, 0xff);
    let (aad, rest) = split(rest, 0xff);
    let (iv, rest) = split(rest, 0xff);
    let (key_id, header) = split(rest, 0xff);
    let key_id = std::str::from_utf8(key_id).unwrap_or("");
    let header = std::str::from_utf8(header).ok();
    // Mode: which real blob to start from (or the raw bytes), and whether to use its fields.
    let base = w.sealed.get(usize::from(mode >> 1) % (w.sealed.len() + 1));
    let mut blob = base.map_or_else(|| blob_edit.to_vec(), |s| s.blob.clone());
    if base.is_some() {
        // XOR the fuzzer's bytes over the real blob.
        for (b, e) in blob.iter_mut().zip(blob_edit) {
            *b ^= e;
        }
    }
    let own = mode & 1 == 1;
    let key_text = base.map(|s| s.key.to_string());
    let params = DecryptParams {
        ciphertext_blob: &blob,
        key_id: if own {
            key_text.as_deref().unwrap_or(key_id)
        } else {
            key_id
        },
        aad: if own {
            base.map_or(aad, |s| s.aad)
        } else {
            aad
        },
        iv: if own {
            base.map_or(iv, |s| &s.iv[..])
        } else {
            iv
        },
        migration_key_version_id: if own {
            base.map(|s| s.version.as_str())
        } else {
            header
        },
        ..DecryptParams::default()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(mode));
    for advance in [false, true] {
        let got = if advance {
            instance::advance_decrypt(&w.provider, &w.scope, &params, &mut rng)
        } else {
            instance::decrypt(&w.provider, &w.scope, &params, &mut rng)
        };
        match got {
            Ok(out) => {
                // Only a real blob, unedited where it matters, opens: to its own plaintext.
                let s = base.expect("only a real blob opens");
                assert_eq!(s.advance, advance);
                assert_eq!(out.plaintext.expose(), &s.plaintext[..]);
                assert_eq!(out.key_id, s.key);
                assert_eq!(out.key_version_id.as_str(), s.version);
            }
            Err(e) => assert!(allowed(&e), "{e:?}"),
        }
    }
});
