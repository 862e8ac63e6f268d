//! Arbitrary length and context: GenerateDataKey then Decrypt must succeed and give back the
//! key, exactly when the context is valid; otherwise both refuse the context.
#![no_main]

use std::sync::{Mutex, OnceLock};

use base64ct::{Base64, Encoding};
use kms_core::context::EncryptionContext;
use kms_core::rand_core::SeedableRng;
use kms_core::{
    Caller, DecryptRequest, Error, GenerateDataKeyRequest, InMemoryProvider, KeyId, KeyOptions,
    MasterKeySpec, Parameter, decrypt, generate_data_key,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");

fn world() -> &'static Mutex<(InMemoryProvider, [KeyId; 2])> {
    static WORLD: OnceLock<Mutex<(InMemoryProvider, [KeyId; 2])>> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0x7007);
        let mut provider = InMemoryProvider::new();
        let opts = KeyOptions::new(CALLER.account, CALLER.region);
        let a = provider.create_key(&mut rng, &opts).unwrap();
        let b = provider
            .create_key(&mut rng, &opts.spec(MasterKeySpec::Aes128))
            .unwrap();
        Mutex::new((provider, [a, b]))
    })
}

fuzz_target!(|input: (u16, Option<&str>, u64, bool)| {
    let (len, context, seed, aes128) = input;
    let len = usize::from(len) % 1024 + 1;
    let n = len.to_string();
    let mut guard = world().lock().unwrap();
    let (provider, keys) = &mut *guard;
    let key = keys[usize::from(aes128)];
    let request = GenerateDataKeyRequest {
        number_of_bytes: Some(&n),
        encryption_context: context,
        ..GenerateDataKeyRequest::new(key.as_str())
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let valid = EncryptionContext::parse(context).is_ok();
    let generated = match generate_data_key(provider, &CALLER, &request, &mut rng) {
        Ok(g) => g,
        Err(e) => {
            assert!(!valid, "GenerateDataKey refused a valid context: {e:?}");
            assert_eq!(e, Error::InvalidParameter(Parameter::EncryptionContext));
            return;
        }
    };
    assert!(valid, "GenerateDataKey accepted an invalid context");
    let raw = Base64::decode_vec(generated.plaintext.expose()).unwrap();
    assert_eq!(raw.len(), len);
    assert_eq!(generated.data_key().expose(), &raw[..]);
    assert_eq!(generated.key_id, key);
    let request = DecryptRequest {
        encryption_context: context,
        ..DecryptRequest::new(&generated.ciphertext_blob)
    };
    let opened = decrypt(&*provider, &CALLER, &request, &mut rng).expect("round trip");
    assert_eq!(opened.plaintext.expose(), generated.plaintext.expose());
    assert_eq!(opened.key_version_id, generated.key_version_id);
});
