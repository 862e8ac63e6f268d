//! The embedded default in action: a master key with an alias in the in-memory provider, a
//! data key bound to an encryption context, local encryption with it, Decrypt of its blob, and
//! the same GenerateDataKey as the wire carries it.
//!
//! Run with `cargo run --example quickstart`.

use std::time::{SystemTime, UNIX_EPOCH};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_core::blob::BlobBuf;
use kms_core::context::ContextBuf;
use kms_core::management::{self, KeyStore};
use kms_core::ops::{self, DecryptRequest, GenerateDataKeyRequest};
use kms_core::rand_core::TryRng;
use kms_core::wire::{self, GenerateDataKeyParams};
use kms_core::{Caller, DefaultRng, InMemoryProvider, KeyOptions, KeyReference};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ChaCha20 seeded from the operating system, reseeded every 64 KiB and after fork.
    let mut rng = DefaultRng::new()?;
    let caller = Caller::new("1234567890123456", "cn-hangzhou");
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?;

    // A master key and an alias for it, in the embedded provider. Management stages a change;
    // `apply` commits it.
    let mut provider = InMemoryProvider::new();
    let key_id = provider.create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))?;
    let alias = "alias/quickstart";
    provider.apply(management::create_alias(
        &provider,
        &caller,
        alias,
        &key_id.into(),
        now,
    )?)?;

    // GenerateDataKey by alias, with an encryption context made of pairs (no JSON to write).
    let context = ContextBuf::from_pairs([("app", "quickstart"), ("purpose", "demo")])?;
    let request = GenerateDataKeyRequest::new(KeyReference::Alias(alias)).with_context(&context);
    let generated = ops::generate_data_key(&provider, &caller, &request, &mut rng)?
        .done()
        .expect("not a dry run");
    println!(
        "GenerateDataKey: key {} version {}, a {}-byte data key",
        generated.key_id,
        generated.key_version_id,
        generated.data_key.expose().len()
    );

    // Encrypt a message locally with the data key, keep its blob, drop the plaintext key.
    let message = b"attack at dawn";
    let mut nonce = [0u8; 12];
    rng.try_fill_bytes(&mut nonce)?;
    let cipher = Aes256Gcm::new_from_slice(generated.data_key.expose())?;
    let mut sealed = message.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), b"", sealed.as_mut_slice().into())
        .map_err(|_| "local encryption failed")?;
    drop(cipher);
    let stored_blob = generated.ciphertext_blob.to_base64();
    drop(generated);
    println!(
        "stored: {} bytes of data and a {}-character CiphertextBlob",
        sealed.len(),
        stored_blob.len()
    );

    // Later: Decrypt the blob with the same context.
    let blob = BlobBuf::from_base64(&stored_blob)?;
    let request = DecryptRequest::new(&blob).with_context(&context);
    let opened = ops::decrypt(&provider, &caller, &request, &mut rng)?
        .done()
        .expect("not a dry run");
    let data_key = opened.data_key().ok_or("not a data key")?;
    let cipher = Aes256Gcm::new_from_slice(data_key.expose())?;
    cipher
        .decrypt_inout_detached(&Nonce::from(nonce), b"", sealed.as_mut_slice().into(), &tag)
        .map_err(|_| "local decryption failed")?;
    println!(
        "Decrypt: key {} version {}; message: {:?}",
        opened.key_id,
        opened.key_version_id,
        String::from_utf8_lossy(&sealed)
    );
    assert_eq!(sealed, message);

    // A wrong context gets the spec's error: a status, a code and a message for the wire.
    let wrong = ContextBuf::from_pairs([("app", "quickstart"), ("purpose", "other")])?;
    let request = DecryptRequest::new(&blob).with_context(&wrong);
    let err = ops::decrypt(&provider, &caller, &request, &mut rng).unwrap_err();
    println!(
        "Decrypt with a wrong context: {err} (HTTP {} {}: {})",
        err.status(),
        err.code(),
        err.message()
    );

    // What a frontend does: the wire's text parameters in, the API page's response out.
    let params = GenerateDataKeyParams::new()
        .key_id(alias)
        .encryption_context(r#"{"app":"quickstart","purpose":"demo"}"#);
    let response = wire::generate_data_key(&provider, &caller, &params, &mut rng)?;
    // Every value is Base64 or a UUID, so nothing needs escaping.
    println!("\nGenerateDataKey as the wire carries it:");
    println!("{{");
    println!("  \"KeyVersionId\" : \"{}\",", response.key_version_id);
    println!("  \"KeyId\" : \"{}\",", response.key_id);
    println!("  \"CiphertextBlob\" : \"{}\",", response.ciphertext_blob);
    println!("  \"RequestId\" : \"{}\",", response.request_id);
    println!("  \"Plaintext\" : \"{}\"", response.plaintext.expose());
    println!("}}");
    Ok(())
}
