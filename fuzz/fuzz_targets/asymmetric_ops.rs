//! The asymmetric operations from text parameters (`kms_core::ops::asymmetric::*_wire`), as a
//! frontend passes a request's parameters: `KeyId`, `KeyVersionId`, `Algorithm`, `Digest`,
//! `Value`, `Plaintext`, `CiphertextBlob` and `DryRun` made from the fuzzer's bytes, often
//! close to valid ones (a real key's ID and version, real algorithm names, Base64 of real
//! digests and signatures the fuzzer edits), against a provider with one key of each
//! asymmetric spec and usage and an AES key. Never panics; every error is a documented one.
#![no_main]

use std::sync::OnceLock;

use base64ct::{Base64, Encoding};
use kms_core::management::{self, CreateKey, KeyStore};
use kms_core::ops::asymmetric::{
    AsymmetricDecryptParams, AsymmetricEncryptParams, AsymmetricSignParams, AsymmetricVerifyParams,
    GetPublicKeyParams, asymmetric_decrypt_wire, asymmetric_encrypt_wire, asymmetric_sign_wire,
    asymmetric_verify_wire, get_public_key_wire,
};
use kms_core::rand_core::SeedableRng;
use kms_core::{Caller, Error, InMemoryProvider, KeyUsage, MasterKeySpec};
use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha8Rng;

struct World {
    provider: InMemoryProvider,
    /// (key ID, version ID) of each key.
    keys: Vec<(String, String)>,
}

const CALLER: Caller<'static> = Caller::new("1234567890123456", "cn-hangzhou");

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let mut provider = InMemoryProvider::new();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut keys = Vec::new();
        for (spec, usage) in [
            (MasterKeySpec::Rsa2048, KeyUsage::SignVerify),
            (MasterKeySpec::Rsa2048, KeyUsage::EncryptDecrypt),
            (MasterKeySpec::EcP256, KeyUsage::SignVerify),
            (MasterKeySpec::EcP256K, KeyUsage::SignVerify),
            (MasterKeySpec::EcSm2, KeyUsage::SignVerify),
            (MasterKeySpec::EcSm2, KeyUsage::EncryptDecrypt),
            (MasterKeySpec::Aes256, KeyUsage::EncryptDecrypt),
        ] {
            let request = CreateKey::new().with_spec(spec).with_usage(usage);
            let staged = management::create_key(
                &provider,
                &CALLER,
                &request,
                &mut rng,
                core::time::Duration::from_secs(1_700_000_000),
            )
            .unwrap();
            let meta = staged.output().clone();
            provider.apply(staged).unwrap();
            keys.push((meta.key_id.to_string(), meta.primary.to_string()));
        }
        World { provider, keys }
    })
}

const ALGORITHMS: [&str; 8] = [
    "RSA_PSS_SHA_256",
    "RSA_PKCS1_SHA_256",
    "ECDSA_SHA_256",
    "SM2DSA",
    "RSAES_OAEP_SHA_256",
    "RSAES_OAEP_SHA_1",
    "SM2PKE",
    "rsa_pss_sha_256",
];

/// Reads the fuzzer's bytes as small choices and byte strings.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let (b, rest) = self.0.split_first().map_or((0, &[][..]), |(b, r)| (*b, r));
        self.0 = rest;
        b
    }
    fn bytes(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte()).min(self.0.len());
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        head
    }
    /// A parameter: absent, a real-looking value, the fuzzer's text, or Base64 of its bytes.
    fn text(&mut self, real: &str) -> Option<String> {
        match self.byte() % 4 {
            0 => None,
            1 => Some(real.to_owned()),
            2 => Some(String::from_utf8_lossy(self.bytes()).into_owned()),
            _ => Some(Base64::encode_string(self.bytes())),
        }
    }
}

fn documented(e: &Error) -> bool {
    matches!(
        e,
        Error::MissingParameter(_)
            | Error::InvalidParameter(_)
            | Error::ValidationError(_)
            | Error::DryRunOperation
            | Error::KeyNotFound
            | Error::AliasNotFound
            | Error::RejectedUnsupportedOperation
            | Error::AccessDenied
            | Error::NoPermission
    )
}

fuzz_target!(|data: &[u8]| {
    let w = world();
    let mut input = Input(data);
    let (key, version) = &w.keys[usize::from(input.byte()) % w.keys.len()];
    let key_id = input.text(key);
    let version_id = input.text(version);
    let choice = ALGORITHMS[usize::from(input.byte()) % ALGORITHMS.len()];
    let algorithm = input.text(choice);
    let digest = input.text(&Base64::encode_string(&[0x11; 32]));
    let data = input.text(&Base64::encode_string(b"some bytes"));
    let dry = if input.byte() & 1 == 0 {
        "false"
    } else {
        "true"
    };
    let dry_run = input.text(dry);
    let mut rng = ChaCha8Rng::seed_from_u64(u64::from(input.byte()));
    let (k, v, a, d, x, r) = (
        key_id.as_deref(),
        version_id.as_deref(),
        algorithm.as_deref(),
        digest.as_deref(),
        data.as_deref(),
        dry_run.as_deref(),
    );
    let from = |p: kms_core::Parameter| match p {
        kms_core::Parameter::KeyId => k,
        kms_core::Parameter::KeyVersionId => v,
        kms_core::Parameter::Algorithm => a,
        kms_core::Parameter::Digest => d,
        kms_core::Parameter::Value
        | kms_core::Parameter::Plaintext
        | kms_core::Parameter::CiphertextBlob => x,
        kms_core::Parameter::DryRun => r,
        _ => None,
    };
    let p = &w.provider;
    let results: [Result<(), Error>; 5] = [
        get_public_key_wire(p, &CALLER, &GetPublicKeyParams::from_fn(from), &mut rng).map(|_| ()),
        asymmetric_sign_wire(p, &CALLER, &AsymmetricSignParams::from_fn(from), &mut rng)
            .map(|_| ()),
        asymmetric_verify_wire(p, &CALLER, &AsymmetricVerifyParams::from_fn(from), &mut rng)
            .map(|_| ()),
        asymmetric_encrypt_wire(
            p,
            &CALLER,
            &AsymmetricEncryptParams::from_fn(from),
            &mut rng,
        )
        .map(|_| ()),
        asymmetric_decrypt_wire(
            p,
            &CALLER,
            &AsymmetricDecryptParams::from_fn(from),
            &mut rng,
        )
        .map(|_| ()),
    ];
    for result in results {
        if let Err(e) = result {
            assert!(documented(&e), "{e:?}");
        }
    }
    // The key set never changes under the operations.
    assert_eq!(KeyStore::generation(p).0, 7);
});
