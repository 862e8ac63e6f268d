//! Decrypt with arbitrary blob text and context against a populated provider (built once).
//! A few real blobs, edited by the fuzzer, let it reach the tag check and beyond. Never
//! panics; only spec §8 errors; a success gives back exactly what was sealed.
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use kms_core::management::{self, KeyStore};
use kms_core::rand_core::SeedableRng;
use kms_core::wire::{DecryptParams, EncryptParams, GenerateDataKeyParams};
use kms_core::wire::{decrypt, decrypt_in, encrypt, generate_data_key};
use kms_core::{Caller, Error, InMemoryProvider, KeyOptions, MasterKeySpec};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");

struct World {
    provider: InMemoryProvider,
    /// (blob text, context it was sealed with, sealed text)
    blobs: Vec<(String, Option<&'static str>, String)>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0xf022);
        let mut provider = InMemoryProvider::new();
        let opts = KeyOptions::new(CALLER.account, CALLER.region);
        let k256 = provider.create_key(&mut rng, &opts).unwrap();
        let k128 = provider
            .create_key(&mut rng, &opts.spec(MasterKeySpec::Aes128))
            .unwrap();
        let disabled = provider.create_key(&mut rng, &opts).unwrap();
        let mut blobs = Vec::new();
        let contexts = [
            None,
            Some(r#"{"a":"b"}"#),
            Some(r#"{"😀":"","k":"v\u0000"}"#),
        ];
        for (i, key) in [k256, k128, disabled].iter().enumerate() {
            for (j, context) in contexts.iter().enumerate() {
                let n = ["1", "32", "1024"][(i + j) % 3];
                let id = key.to_string();
                let mut request = GenerateDataKeyParams::new().key_id(&id).number_of_bytes(n);
                if let Some(context) = context {
                    request = request.encryption_context(context);
                }
                let r = generate_data_key(&provider, &CALLER, &request, &mut rng).unwrap();
                blobs.push((
                    r.ciphertext_blob.clone(),
                    *context,
                    r.plaintext.expose().into(),
                ));
            }
            let id = key.to_string();
            let request = EncryptParams::new()
                .key_id(&id)
                .plaintext("hello, 世界")
                .encryption_context(r#"{"app":"fuzz"}"#);
            let r = encrypt(&provider, &CALLER, &request, &mut rng).unwrap();
            blobs.push((
                r.ciphertext_blob,
                Some(r#"{"app":"fuzz"}"#),
                "hello, 世界".into(),
            ));
        }
        // One key rotated after sealing, one disabled.
        let now = std::time::Duration::ZERO;
        let staged =
            management::create_key_version(&provider, &CALLER, &k256.into(), &mut rng, now);
        provider.apply(staged.unwrap()).unwrap();
        let staged = management::disable_key(&provider, &CALLER, &disabled.into(), now);
        provider.apply(staged.unwrap()).unwrap();
        World { provider, blobs }
    })
}

/// A selector (which real blob, truncation, whose context), the fuzzer's blob text and
/// context, byte edits for a real blob, and whether it is a dry run.
type Input<'a> = (u8, &'a str, Option<&'a str>, Vec<(u16, u8)>, bool);

fuzz_target!(|input: Input<'_>| {
    let (selector, text, context, edits, dry_run) = input;
    let w = world();
    // Either the fuzzer's own text, or a real blob with byte edits (and its own context, or the
    // fuzzer's).
    let (blob_text, context, known) = if selector % 4 == 0 {
        (text.to_string(), context, None)
    } else {
        let (blob, sealed_context, sealed) = &w.blobs[usize::from(selector) % w.blobs.len()];
        let mut bytes = Base64::decode_vec(blob).unwrap();
        let mut changed = false;
        for (at, x) in &edits {
            let i = usize::from(*at) % (bytes.len() + 1);
            if i == bytes.len() {
                bytes.push(*x);
                changed = true;
            } else {
                bytes[i] ^= x;
                changed |= *x != 0;
            }
        }
        if selector & 0x80 != 0 && !bytes.is_empty() {
            bytes.truncate(usize::from(selector) % bytes.len());
            changed = true;
        }
        let context = if selector & 0x40 != 0 {
            context
        } else {
            *sealed_context
        };
        let known = (!changed && context == *sealed_context).then_some(sealed.as_str());
        (Base64::encode_string(&bytes), context, known)
    };
    let mut request = DecryptParams::new().ciphertext_blob(&blob_text);
    if let Some(context) = context {
        request = request.encryption_context(context);
    }
    if dry_run {
        request = request.dry_run("true");
    }
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let result = decrypt(&w.provider, &CALLER, &request, &mut rng);
    match &result {
        Ok(r) => {
            assert!(!dry_run);
            // Only an unchanged blob opens (a context equivalent to the sealing one may also
            // come from the fuzzer).
            let (_, _, sealed) = w
                .blobs
                .iter()
                .find(|b| b.0 == blob_text)
                .expect("only real blobs open");
            assert_eq!(r.plaintext.expose(), sealed);
            if let Some(k) = known {
                assert_eq!(r.plaintext.expose(), k);
            }
        }
        Err(e) => {
            assert!(
                matches!(
                    e,
                    Error::MissingParameter(_)
                        | Error::InvalidParameter(_)
                        | Error::ValidationError(_)
                        | Error::KeyNotFound
                        | Error::Disabled
                        | Error::DryRunOperation
                        | Error::InternalFailure(_)
                ),
                "unexpected {e:?}"
            );
            if known.is_some() && !dry_run {
                // The blob of a disabled key is refused for its state.
                assert_eq!(*e, Error::Disabled);
            }
        }
    }
    // The caller-buffer form agrees.
    let mut ws = vec![0u8; request.workspace_len()];
    let in_place = decrypt_in(&w.provider, &CALLER, &request, &mut rng, &mut ws)
        .map(|o| o.plaintext.expose().to_string());
    assert_eq!(
        in_place.as_ref().err(),
        result.as_ref().err(),
        "decrypt and decrypt_in disagree"
    );
});
