//! GenerateAndExportDataKey and ExportDataKey over real HTTP, signed as the SDKs sign: the
//! export unwraps (RSA-OAEP with the caller's private key) to the data key Decrypt gives, each
//! error code, DryRun, and GenerateAndExportDataKey's seal counted and rotated at the limit.

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use kms_core::InMemoryProvider;
use rsa::pkcs8::EncodePublicKey;

/// A fresh RSA key pair of `bits` and its `PublicKeyBlob` (Base64 of the DER
/// SubjectPublicKeyInfo).
fn key_pair(bits: usize) -> (rsa::PrivateKey, String) {
    let private = rsa::PrivateKey::new(&mut kms_core::OsRng, bits).expect("RSA key");
    let der = rsa::PublicKey::from(&private)
        .to_public_key_der()
        .expect("DER");
    (private, Base64::encode_string(der.as_bytes()))
}

fn unwrap_sha256(private: &rsa::PrivateKey, exported: &str) -> Vec<u8> {
    let wrapped = Base64::decode_vec(exported).expect("Base64");
    private
        .oaep_decrypt::<rsa::sha2::Sha256>(&wrapped)
        .expect("the export unwraps")
}

/// A case: the parameters added or replaced, the status, the code, the parameter the message
/// names (a `MissingParameter` case removes it).
type Case<'a> = (Vec<(&'a str, String)>, u16, &'a str, &'a str);

fn code(r: &kms_server::client::ClientResponse) -> (u16, String) {
    (r.status, r.field("Code"))
}

#[tokio::test]
async fn generate_and_export_unwraps_to_what_decrypt_gives_and_export_agrees() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let (private, blob) = key_pair(2048);
    let context = r#"{"tenant":"acme"}"#;

    let r = c
        .call(
            "GenerateAndExportDataKey",
            &[
                ("KeyId", &key),
                ("EncryptionContext", context),
                ("PublicKeyBlob", &blob),
                ("WrappingKeySpec", "RSA_2048"),
                ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["KeyId"], key.as_str());
    assert!(
        v["KeyVersionId"].is_string() && v["RequestId"].is_string(),
        "{v}"
    );
    assert!(v.get("Plaintext").is_none(), "no plaintext leaves: {v}");
    let ciphertext_blob = r.field("CiphertextBlob");
    assert_eq!(
        ciphertext_blob.len(),
        144,
        "GenerateDataKey's blob of a 32-byte key"
    );
    let exported = r.field("ExportedDataKey");
    assert_eq!(exported.len(), 344, "a 256-byte RSA-2048 ciphertext");
    let data_key = unwrap_sha256(&private, &exported);
    assert_eq!(data_key.len(), 32);

    // Decrypt of the blob gives the same data key's Base64.
    let r = c
        .call(
            "Decrypt",
            &[
                ("CiphertextBlob", &ciphertext_blob),
                ("EncryptionContext", context),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("Plaintext"), Base64::encode_string(&data_key));

    // ExportDataKey of the blob: the same key, wrapped afresh; SHA-1 too.
    for algorithm in ["RSAES_OAEP_SHA_256", "RSAES_OAEP_SHA_1"] {
        let r = c
            .call(
                "ExportDataKey",
                &[
                    ("CiphertextBlob", &ciphertext_blob),
                    ("EncryptionContext", context),
                    ("PublicKeyBlob", &blob),
                    ("WrappingKeySpec", "RSA_2048"),
                    ("WrappingAlgorithm", algorithm),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{algorithm}: {}", r.text());
        assert_eq!(r.field("KeyId"), key);
        let exported_again = r.field("ExportedDataKey");
        assert_ne!(exported_again, exported, "OAEP is randomized");
        if algorithm == "RSAES_OAEP_SHA_256" {
            assert_eq!(unwrap_sha256(&private, &exported_again), data_key);
        } else {
            assert_eq!(Base64::decode_vec(&exported_again).unwrap().len(), 256);
        }
    }

    // A 16-byte key (KeySpec AES_128) with SHA-1.
    let r = c
        .call(
            "GenerateAndExportDataKey",
            &[
                ("KeyId", &key),
                ("KeySpec", "AES_128"),
                ("PublicKeyBlob", &blob),
                ("WrappingKeySpec", "RSA_2048"),
                ("WrappingAlgorithm", "RSAES_OAEP_SHA_1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("CiphertextBlob").len(), 120);
    server.stop().await;
}

#[tokio::test]
async fn each_error_code() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let (_private, blob) = key_pair(2048);
    let (_big, blob_3072) = key_pair(3072);
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    let data_key_blob = r.field("CiphertextBlob");
    let r = c
        .call(
            "Encrypt",
            &[("KeyId", &key), ("Plaintext", "not a data key")],
        )
        .await
        .unwrap();
    let encrypt_blob = r.field("CiphertextBlob");
    let wrap = |spec: &'static str, algorithm: &'static str, public: String| {
        vec![
            ("PublicKeyBlob", public),
            ("WrappingKeySpec", spec.to_owned()),
            ("WrappingAlgorithm", algorithm.to_owned()),
        ]
    };
    let good = wrap("RSA_2048", "RSAES_OAEP_SHA_256", blob.clone());
    let pem = format!("-----BEGIN PUBLIC KEY-----\n{blob}\n-----END PUBLIC KEY-----");
    let gaedk: Vec<Case> = vec![
        (vec![], 400, "MissingParameter", "KeyId"),
        (
            vec![("KeyId", key.clone()), ("NumberOfBytes", "191".into())],
            400,
            "InvalidParameter",
            "NumberOfBytes",
        ),
        (
            wrap("RSA_3072", "RSAES_OAEP_SHA_256", blob_3072.clone()),
            400,
            "InvalidParameter",
            "WrappingKeySpec",
        ),
        (
            wrap("RSA_2048", "RSAES_PKCS1_V1_5", blob.clone()),
            400,
            "InvalidParameter",
            "WrappingAlgorithm",
        ),
        (
            wrap("RSA_2048", "RSAES_OAEP_SHA_256", blob_3072),
            400,
            "InvalidParameter",
            "PublicKeyBlob",
        ),
        (
            wrap("RSA_2048", "RSAES_OAEP_SHA_256", pem),
            400,
            "InvalidParameter",
            "PublicKeyBlob",
        ),
        (
            wrap("EC_SM2", "SM2PKE", blob.clone()),
            400,
            "UnsupportedOperation",
            "",
        ),
        (
            vec![
                ("PublicKeyBlob", blob.clone()),
                ("WrappingKeySpec", "RSA_2048".into()),
            ],
            400,
            "MissingParameter",
            "WrappingAlgorithm",
        ),
        (
            vec![("KeyId", "alias/nothing".into())],
            404,
            "Forbidden.AliasNotFound",
            "",
        ),
        (
            vec![("KeyId", "2ab1a983-7072-4bbc-a582-584b5bd80000".into())],
            404,
            "Forbidden.KeyNotFound",
            "",
        ),
        (
            vec![("DryRun", "true".into())],
            412,
            "DryRunOperationError",
            "",
        ),
    ];
    for (extra, status, expected, parameter) in gaedk {
        let mut params: Vec<(&str, String)> = vec![("KeyId", key.clone())];
        params.extend(good.iter().cloned());
        for (name, value) in extra {
            params.retain(|(n, _)| *n != name);
            params.push((name, value));
        }
        if expected == "MissingParameter" {
            params.retain(|(n, _)| *n != parameter);
        }
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = c.call("GenerateAndExportDataKey", &borrowed).await.unwrap();
        assert_eq!(code(&r), (status, expected.to_owned()), "{}", r.text());
        assert!(r.field("Message").contains(parameter), "{}", r.text());
    }

    let edk: Vec<Case> = vec![
        (vec![("CiphertextBlob", data_key_blob.clone())], 200, "", ""),
        (
            vec![
                ("CiphertextBlob", data_key_blob.clone()),
                ("EncryptionContext", r#"{"a":"b"}"#.into()),
            ],
            400,
            "InvalidParameter",
            "CiphertextBlob",
        ),
        (
            vec![("CiphertextBlob", encrypt_blob)],
            400,
            "InvalidParameter",
            "CiphertextBlob",
        ),
        (vec![], 400, "MissingParameter", "CiphertextBlob"),
        (
            vec![
                ("CiphertextBlob", data_key_blob.clone()),
                ("WrappingKeySpec", "rsa_2048".into()),
            ],
            400,
            "InvalidParameter",
            "WrappingKeySpec",
        ),
        (
            vec![
                ("CiphertextBlob", data_key_blob.clone()),
                ("DryRun", "true".into()),
            ],
            412,
            "DryRunOperationError",
            "",
        ),
    ];
    for (extra, status, expected, parameter) in edk {
        let mut params: Vec<(&str, String)> = good.clone();
        for (name, value) in extra {
            params.retain(|(n, _)| *n != name);
            params.push((name, value));
        }
        let borrowed: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let r = c.call("ExportDataKey", &borrowed).await.unwrap();
        if status == 200 {
            assert_eq!(r.status, 200, "{}", r.text());
            continue;
        }
        assert_eq!(code(&r), (status, expected.to_owned()), "{}", r.text());
        assert!(r.field("Message").contains(parameter), "{}", r.text());
    }

    // A disabled key: both refuse with Rejected.Disabled.
    let r = c.call("DisableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let mut params: Vec<(&str, &str)> = good.iter().map(|(n, v)| (*n, v.as_str())).collect();
    params.push(("KeyId", &key));
    let r = c.call("GenerateAndExportDataKey", &params).await.unwrap();
    assert_eq!(code(&r), (409, "Rejected.Disabled".into()), "{}", r.text());
    params.pop();
    params.push(("CiphertextBlob", &data_key_blob));
    let r = c.call("ExportDataKey", &params).await.unwrap();
    assert_eq!(code(&r), (409, "Rejected.Disabled".into()), "{}", r.text());
    server.stop().await;
}

#[tokio::test]
async fn generate_and_export_counts_its_seals_and_rotates_at_the_limit() {
    let server = start_with_provider(InMemoryProvider::new().with_seal_limit(3), None).await;
    let c = server.client();
    let key = create_key(&c).await;
    let (private, blob) = key_pair(2048);
    let mut versions = Vec::new();
    let mut blobs = Vec::new();
    for _ in 0..4 {
        let r = c
            .call(
                "GenerateAndExportDataKey",
                &[
                    ("KeyId", key.as_str()),
                    ("PublicKeyBlob", &blob),
                    ("WrappingKeySpec", "RSA_2048"),
                    ("WrappingAlgorithm", "RSAES_OAEP_SHA_256"),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        versions.push(r.field("KeyVersionId"));
        let data_key = unwrap_sha256(&private, &r.field("ExportedDataKey"));
        blobs.push((r.field("CiphertextBlob"), data_key));
    }
    assert_eq!(
        versions[0], versions[2],
        "three seals under the first version"
    );
    assert_ne!(versions[2], versions[3], "the fourth rotated the key");
    for (ciphertext_blob, data_key) in blobs {
        let r = c
            .call("Decrypt", &[("CiphertextBlob", &ciphertext_blob)])
            .await
            .unwrap();
        assert_eq!(r.field("Plaintext"), Base64::encode_string(&data_key));
    }
    server.stop().await;
}
