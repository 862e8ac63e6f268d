//! The embedded default in action: an in-memory key with an alias, a data key bound to an
//! encryption context, local encryption with it, and Decrypt of its blob.
//!
//! Run with `cargo run --example quickstart`.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use kms_core::rand_core::TryRng;
use kms_core::{
    Caller, DecryptRequest, GenerateDataKeyRequest, InMemoryProvider, KeyOptions, OsRng, decrypt,
    generate_data_key,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = OsRng;
    let caller = Caller::new("1234567890123456", "cn-hangzhou");

    // A master key and an alias for it, in the embedded provider.
    let mut provider = InMemoryProvider::new();
    let key_id = provider.create_key(&mut rng, &KeyOptions::new(caller.account, caller.region))?;
    provider.create_alias("alias/quickstart", &key_id)?;

    // GenerateDataKey by alias, with an encryption context.
    let request = GenerateDataKeyRequest {
        encryption_context: Some(r#"{"app":"quickstart","purpose":"demo"}"#),
        ..GenerateDataKeyRequest::new("alias/quickstart")
    };
    let response = generate_data_key(&mut provider, &caller, &request, &mut rng)?;
    // The response as the API page's sample shows it (every value is Base64 or a UUID, so
    // nothing needs escaping).
    println!("GenerateDataKey response:");
    println!("{{");
    println!("  \"KeyVersionId\" : \"{}\",", response.key_version_id);
    println!("  \"KeyId\" : \"{}\",", response.key_id);
    println!("  \"CiphertextBlob\" : \"{}\",", response.ciphertext_blob);
    println!("  \"RequestId\" : \"{}\",", response.request_id);
    println!("  \"Plaintext\" : \"{}\"", response.plaintext.expose());
    println!("}}");

    // Encrypt a message locally with the data key, then drop the plaintext key.
    let message = b"attack at dawn";
    let mut nonce = [0u8; 12];
    rng.try_fill_bytes(&mut nonce)?;
    let data_key = response.data_key();
    let cipher = Aes256Gcm::new_from_slice(data_key.expose())?;
    let mut sealed = message.to_vec();
    let tag = cipher
        .encrypt_inout_detached(&Nonce::from(nonce), b"", sealed.as_mut_slice().into())
        .map_err(|_| "local encryption failed")?;
    drop(cipher);
    drop(data_key);
    let blob = response.ciphertext_blob.clone();
    drop(response);
    println!(
        "\nstored: {} bytes of data, a {}-character CiphertextBlob",
        sealed.len(),
        blob.len()
    );

    // Later: Decrypt the blob with the same context, written in another key order.
    let request = DecryptRequest {
        encryption_context: Some(r#"{ "purpose": "demo", "app": "quickstart" }"#),
        ..DecryptRequest::new(&blob)
    };
    let opened = decrypt(&provider, &caller, &request, &mut rng)?;
    let data_key = kms_core::SecretBytes::new(base64_decode(opened.plaintext.expose())?);
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

    // A wrong context gets the spec's error.
    let wrong = DecryptRequest {
        encryption_context: Some(r#"{"app":"quickstart","purpose":"other"}"#),
        ..DecryptRequest::new(&blob)
    };
    let err = decrypt(&provider, &caller, &wrong, &mut rng).unwrap_err();
    println!(
        "\nDecrypt with a wrong context: HTTP {} {}: {}",
        err.status(),
        err.code(),
        err
    );
    Ok(())
}

fn base64_decode(text: &str) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use base64ct::{Base64, Encoding};
    Ok(Base64::decode_vec(text)?)
}
