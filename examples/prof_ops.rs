// Temporary profiling driver (not committed): N iterations of one wire operation.
use kms_core::rand_core::SeedableRng;
use kms_core::wire::*;
use kms_core::{Caller, InMemoryProvider, KeyOptions};
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let n: usize = a[1].parse().unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let mut p = InMemoryProvider::new();
    let key = p
        .create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))
        .unwrap()
        .to_string();
    let dest = p
        .create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))
        .unwrap()
        .to_string();
    let ctx10: String = format!(
        "{{{}}}",
        (0..10)
            .map(|i| format!("\"key-{i:03}\":\"value number {i}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    let blob = generate_data_key(
        &p,
        &caller,
        &GenerateDataKeyParams::new().key_id(&key),
        &mut rng,
    )
    .unwrap()
    .ciphertext_blob;
    let mut ws = vec![0u8; 20000];
    let mut t = 0usize;
    for _ in 0..n {
        t += match a[2].as_str() {
            "gdk" => generate_data_key_in(
                &p,
                &caller,
                &GenerateDataKeyParams::new().key_id(&key),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "gdk10" => generate_data_key_in(
                &p,
                &caller,
                &GenerateDataKeyParams::new()
                    .key_id(&key)
                    .encryption_context(&ctx10),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "wp" => generate_data_key_without_plaintext_in(
                &p,
                &caller,
                &GenerateDataKeyParams::new().key_id(&key),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "enc" => encrypt_in(
                &p,
                &caller,
                &EncryptParams::new()
                    .key_id(&key)
                    .plaintext("a message of forty-four bytes, for the bench"),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "dec" => decrypt_in(
                &p,
                &caller,
                &DecryptParams::new().ciphertext_blob(&blob),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .plaintext
            .len(),
            "reenc" => re_encrypt_in(
                &p,
                &caller,
                &ReEncryptParams::new()
                    .ciphertext_blob(&blob)
                    .destination_key_id(&dest),
                &mut rng,
                &mut ws,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "gdk_owned" => generate_data_key(
                &p,
                &caller,
                &GenerateDataKeyParams::new().key_id(&key),
                &mut rng,
            )
            .unwrap()
            .ciphertext_blob
            .len(),
            "dec_owned" => decrypt(
                &p,
                &caller,
                &DecryptParams::new().ciphertext_blob(&blob),
                &mut rng,
            )
            .unwrap()
            .plaintext
            .expose()
            .len(),
            _ => panic!(),
        };
    }
    println!("{t}");
}
