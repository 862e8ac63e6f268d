//! A driver for counting instructions with `valgrind --tool=callgrind` (not a timed bench):
//! runs one operation N times, so that the difference between two counts (N = 2,000 and
//! N = 6,000, divided by 4,000) is the cost of one call with setup cancelled out.
//!
//! ```sh
//! cargo bench --bench instructions --no-run   # prints the binary's path
//! valgrind --tool=callgrind target/release/deps/instructions-… generate 2000
//! ```
//!
//! Operations: `generate` (wire layer, caller buffer), `generate_typed` (typed layer),
//! `generate_floor` (the floor of `benches/operations.rs`, written out),
//! `generate_owned`, `generate_default`
//! (owned, `DefaultRng`), `decrypt`, `decrypt_owned`, `seal32` (a bare `aes-gcm` seal of 32
//! bytes with a cached key), `seal32_ring`. Without arguments (as `cargo bench` runs it) it does
//! nothing.

use std::hint::black_box;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_core::rand_core::SeedableRng;
use kms_core::wire::{
    DecryptParams, GenerateDataKeyParams, decrypt, decrypt_in, generate_data_key,
    generate_data_key_in,
};
use kms_core::{Caller, DefaultRng, InMemoryProvider, KeyOptions};
use rand_chacha::ChaCha20Rng;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(op), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u32>().ok()),
    ) else {
        return;
    };
    let mut rng = ChaCha20Rng::seed_from_u64(0x6b6d73);
    let mut default_rng = DefaultRng::new().unwrap();
    let mut provider = InMemoryProvider::new();
    let key = provider
        .create_key(
            &mut rng,
            &KeyOptions::new("1234567890123456", "cn-hangzhou"),
        )
        .unwrap()
        .to_string();
    let provider = provider;
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let request = GenerateDataKeyParams::new().key_id(&key);
    let typed_request =
        kms_core::ops::GenerateDataKeyRequest::new(kms_core::KeyId::parse(&key).unwrap());
    let made = generate_data_key(&provider, &caller, &request, &mut rng).unwrap();
    let blob = made.ciphertext_blob.clone();
    let decrypt_request = DecryptParams::new().ciphertext_blob(&blob);
    let mut workspace = vec![0u8; 4096];
    let cipher = Aes256Gcm::new(&[7u8; 32].into());
    let ring_key = ring::aead::LessSafeKey::new(
        ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[7u8; 32]).unwrap(),
    );
    let aad = [0u8; 38];
    let mut buf = [3u8; 32];
    let mut sink = 0usize;
    for _ in 0..n {
        sink += match op.as_str() {
            "generate" => {
                generate_data_key_in(&provider, &caller, &request, &mut rng, &mut workspace)
                    .unwrap()
                    .ciphertext_blob
                    .len()
            }
            "generate_typed" => kms_core::ops::generate_data_key_in(
                &provider,
                &caller,
                &typed_request,
                &mut rng,
                &mut workspace,
            )
            .unwrap()
            .done()
            .unwrap()
            .ciphertext_blob
            .as_bytes()
            .len(),
            "generate_owned" => generate_data_key(&provider, &caller, &request, &mut rng)
                .unwrap()
                .ciphertext_blob
                .len(),
            "generate_default" => generate_data_key(&provider, &caller, &request, &mut default_rng)
                .unwrap()
                .ciphertext_blob
                .len(),
            "decrypt" => decrypt_in(
                &provider,
                &caller,
                &decrypt_request,
                &mut rng,
                &mut workspace,
            )
            .unwrap()
            .plaintext
            .len(),
            "decrypt_owned" => decrypt(&provider, &caller, &decrypt_request, &mut rng)
                .unwrap()
                .plaintext
                .expose()
                .len(),
            // The GenerateDataKey floor of benches/operations.rs: the same work, written out.
            "generate_floor" => {
                use base64ct::{Base64, Encoding};
                use kms_core::rand_core::TryRng;
                let (mut raw, mut text, mut blob, mut blob_text) =
                    ([0u8; 32], [0u8; 44], [0u8; 108], [0u8; 144]);
                rng.try_fill_bytes(&mut raw).unwrap();
                Base64::encode(&raw, &mut text).unwrap();
                rng.try_fill_bytes(&mut blob[36..48]).unwrap();
                blob[48..92].copy_from_slice(&text);
                let iv: [u8; 12] = blob[36..48].try_into().unwrap();
                let tag = cipher
                    .encrypt_inout_detached(
                        &Nonce::from(iv),
                        black_box(&aad),
                        (&mut blob[48..92]).into(),
                    )
                    .unwrap();
                blob[92..].copy_from_slice(&tag);
                Base64::encode(&blob, &mut blob_text).unwrap().len()
            }
            "seal32" => usize::from(
                cipher
                    .encrypt_inout_detached(
                        &Nonce::from([1u8; 12]),
                        black_box(&aad),
                        (&mut buf[..]).into(),
                    )
                    .unwrap()[0],
            ),
            "seal32_ring" => usize::from(
                ring_key
                    .seal_in_place_separate_tag(
                        ring::aead::Nonce::assume_unique_for_key([1u8; 12]),
                        ring::aead::Aad::from(black_box(&aad)),
                        &mut buf,
                    )
                    .unwrap()
                    .as_ref()[0],
            ),
            other => panic!("unknown operation {other}"),
        };
    }
    black_box(sink);
}
