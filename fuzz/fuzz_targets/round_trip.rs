//! Arbitrary length and context: GenerateDataKey then Decrypt, through the wire layer and the
//! typed layer, must succeed and give back the key exactly when the context is valid;
//! otherwise both refuse the context. The two layers agree on the blob from the same RNG.
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::ops::{self, DecryptRequest, GenerateDataKeyRequest};
use kms_core::rand_core::SeedableRng;
use kms_core::wire::{self, DecryptParams, GenerateDataKeyParams};
use kms_core::{
    Caller, DataKeyLength, Error, InMemoryProvider, KeyId, KeyOptions, MasterKeySpec, Parameter,
};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");

fn world() -> &'static (InMemoryProvider, [KeyId; 2]) {
    static WORLD: OnceLock<(InMemoryProvider, [KeyId; 2])> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut rng = ChaCha8Rng::seed_from_u64(0x7007);
        let mut provider = InMemoryProvider::new();
        let opts = KeyOptions::new(CALLER.account, CALLER.region);
        let a = provider.create_key(&mut rng, &opts).unwrap();
        let b = provider
            .create_key(&mut rng, &opts.spec(MasterKeySpec::Aes128))
            .unwrap();
        (provider, [a, b])
    })
}

fuzz_target!(|input: (u16, Option<&str>, u64, bool)| {
    let (len, context, seed, aes128) = input;
    let len = usize::from(len) % 1024 + 1;
    let n = len.to_string();
    let (provider, keys) = world();
    let key = keys[usize::from(aes128)];
    let key_text = key.to_string();
    let mut params = GenerateDataKeyParams::new()
        .key_id(&key_text)
        .number_of_bytes(&n);
    if let Some(context) = context {
        params = params.encryption_context(context);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let parsed = ContextBuf::parse_json(context);
    let generated = match wire::generate_data_key(provider, &CALLER, &params, &mut rng) {
        Ok(g) => g,
        Err(e) => {
            assert!(
                parsed.is_err(),
                "GenerateDataKey refused a valid context: {e:?}"
            );
            assert_eq!(e, Error::InvalidParameter(Parameter::EncryptionContext));
            return;
        }
    };
    let parsed = parsed.expect("GenerateDataKey accepted an invalid context");
    let raw = Base64::decode_vec(generated.plaintext.expose()).unwrap();
    assert_eq!(raw.len(), len);
    assert_eq!(generated.key_id, key);
    let mut decrypt = DecryptParams::new().ciphertext_blob(&generated.ciphertext_blob);
    if let Some(context) = context {
        decrypt = decrypt.encryption_context(context);
    }
    let opened = wire::decrypt(provider, &CALLER, &decrypt, &mut rng).expect("round trip");
    assert_eq!(opened.plaintext.expose(), generated.plaintext.expose());
    assert_eq!(opened.key_version_id, generated.key_version_id);

    // The typed layer, from the same RNG seed, makes the same blob and opens it.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let request = GenerateDataKeyRequest::new(key)
        .with_length(DataKeyLength::new(len).unwrap())
        .with_context(&parsed);
    let typed = ops::generate_data_key(provider, &CALLER, &request, &mut rng)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(typed.ciphertext_blob.to_base64(), generated.ciphertext_blob);
    assert_eq!(typed.data_key.expose(), &raw[..]);
    let blob = BlobBuf::from_base64(&generated.ciphertext_blob).unwrap();
    let request = DecryptRequest::new(&blob).with_context(&parsed);
    let opened = ops::decrypt(provider, &CALLER, &request, &mut rng)
        .unwrap()
        .done()
        .unwrap();
    assert_eq!(opened.data_key().unwrap().expose(), &raw[..]);
});
