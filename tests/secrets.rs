//! Secrets never show in `Debug` output (spec §10): responses, borrowed outputs, master key
//! material, the secret holders, and the providers.

mod common;

use common::*;
use kms_core::provider::VersionCipher;
use kms_core::{
    DecryptRequest, GenerateDataKeyRequest, MasterKeyMaterial, SecretBytes, decrypt_in,
    generate_data_key_in,
};

/// Every rendering of `secret` that a careless `Debug` could print.
fn renderings(secret: &[u8]) -> Vec<String> {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let mut out = vec![
        hex.clone(),
        hex.to_uppercase(),
        format!("{:?}", &secret[..secret.len().min(4)]),
        b64(secret),
    ];
    if let Ok(text) = std::str::from_utf8(secret) {
        out.push(text.to_string());
        // A prefix long enough to be a leak, short enough not to match by chance.
        if text.len() >= 12 {
            out.push(text[..12].to_string());
        }
    }
    out
}

#[track_caller]
fn assert_hidden(debug: &str, secret: &[u8]) {
    for r in renderings(secret) {
        assert!(!debug.contains(&r), "{debug:?} shows {r:?}");
    }
}

#[test]
fn responses_do_not_show_the_plaintext() {
    let mut w = World::new(1000);
    let response = w.blob(Some(r#"{"a":"1"}"#));
    let text = response.plaintext.expose().to_string();
    let key = response.data_key().expose().to_vec();
    let debug = format!("{response:?}");
    // The response does show what is not secret.
    assert!(debug.contains(response.key_id.as_str()));
    assert!(debug.contains(&response.ciphertext_blob));
    assert_hidden(&debug, text.as_bytes());
    assert_hidden(&debug, &key);
    assert_hidden(&format!("{:#?}", response), text.as_bytes());
    assert_hidden(&format!("{:?}", response.plaintext), text.as_bytes());
    assert_hidden(&format!("{:?}", response.data_key()), &key);

    let opened = w
        .decrypt(&DecryptRequest {
            encryption_context: Some(r#"{"a":"1"}"#),
            ..DecryptRequest::new(&response.ciphertext_blob)
        })
        .unwrap();
    assert_eq!(opened.plaintext.expose(), text);
    let debug = format!("{opened:?}");
    assert!(debug.contains(opened.key_version_id.as_str()));
    assert_hidden(&debug, text.as_bytes());
    assert_hidden(&format!("{opened:#?}"), text.as_bytes());
}

#[test]
fn borrowed_outputs_do_not_show_the_plaintext() {
    let mut w = World::new(1001);
    let request = GenerateDataKeyRequest::new(ALIAS);
    let mut ws = vec![0u8; request.workspace_len()];
    let out =
        generate_data_key_in(&mut w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    let text = out.plaintext.expose().to_string();
    let key = out.data_key.expose().to_vec();
    let blob = out.ciphertext_blob.to_string();
    for debug in [
        format!("{out:?}"),
        format!("{out:#?}"),
        format!("{:?}", out.plaintext),
        format!("{:?}", out.data_key),
    ] {
        assert_hidden(&debug, text.as_bytes());
        assert_hidden(&debug, &key);
    }
    drop(out);

    let request = DecryptRequest::new(&blob);
    let mut ws = vec![0u8; request.workspace_len()];
    let out = decrypt_in(&w.provider, &caller(), &request, &mut w.rng, &mut ws).unwrap();
    assert_eq!(out.plaintext.expose(), text);
    assert_hidden(&format!("{out:?}"), text.as_bytes());
    assert_hidden(&format!("{:?}", out.plaintext), text.as_bytes());
}

#[test]
fn master_key_material_is_never_shown() {
    for material in [known_material_256().to_vec(), known_material_128().to_vec()] {
        let m = MasterKeyMaterial::from_slice(&material).unwrap();
        assert_hidden(&format!("{m:?}"), &material);
        assert_hidden(&format!("{m:#?}"), &material);
        let cipher = VersionCipher::new(m);
        assert_hidden(&format!("{cipher:?}"), &material);
        let provider = fixed_provider(&material);
        assert_hidden(&format!("{provider:?}"), &material);
    }
    let w = World::new(1002);
    let debug = format!("{:?}", w.provider);
    assert!(!debug.is_empty());
}

#[test]
fn secret_bytes_and_strings_compare_by_content() {
    let a = SecretBytes::new(vec![1, 2, 3]);
    let b = SecretBytes::new(vec![1, 2, 3]);
    let c = SecretBytes::new(vec![1, 2, 4]);
    assert_eq!(a, b);
    assert_ne!(a, c);
    assert_hidden(&format!("{a:?}"), &[1, 2, 3, 0]);
    assert!(!format!("{a:?}").contains("1, 2, 3"));
}
