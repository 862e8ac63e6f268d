//! The KMS-instance API (`KMS-INSTANCE.md`) over HTTP, with a client that signs as the
//! instance SDK does: request verification (each signed header and the body changed after
//! signing, a client key the server did not issue, the date window, the API version and
//! signature method), the errors every request can get (unknown operation, oversized body,
//! malformed message, method and path), throttling, and every operation's round trip on the
//! keys of the instance.

mod common;

use std::time::{Duration, SystemTime};

use common::instance::{
    self, CLIENT_KEY_ID, CLIENT_KEY_ID_2, InstanceServer, request, rsa_keys, send, send_raw, sign,
};
use kms_server::instance::pb;
use prost::Message;

const AUTHORIZATION: &str = "The Param Authorization is invalid.";
const DATE: &str = "The Param Date is invalid.";
const CONTENT_SHA256: &str = "The Param Content-SHA256 is invalid.";

/// A GenerateRandom request signed by the first client key, now.
fn random_request() -> instance::SignedRequest {
    request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
        SystemTime::now(),
    )
}

/// The answer of a request that passed verification: not a verification error.
fn assert_verified(reply: &instance::Reply) {
    if reply.status != 200 {
        let e = reply.error();
        assert!(
            !matches!(e.error_code.as_str(), "InvalidParam" | "Unauthorized"),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn a_request_signed_as_the_sdk_signs_is_verified() {
    let s = instance::start().await;
    let reply = send(&s.http, &random_request()).await;
    assert_verified(&reply);
    // The second issued key verifies too.
    let r = request(
        CLIENT_KEY_ID_2,
        &rsa_keys()[1],
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
        SystemTime::now(),
    );
    assert_verified(&send(&s.http, &r).await);
    s.stop().await;
}

#[tokio::test]
async fn each_signed_header_changed_after_signing_is_refused() {
    let s = instance::start().await;
    // (what is changed, the change, the code and message expected)
    type Change = fn(&mut instance::SignedRequest);
    let cases: Vec<(&str, Change, u16, &str, &str)> = vec![
        (
            "date, one second on (still in the window)",
            |r| {
                let at = httpdate::parse_http_date(&r.headers["date"]).unwrap();
                r.headers
                    .insert("date".into(), instance::date(at + Duration::from_secs(1)));
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "content-sha256",
            |r| {
                r.headers.insert(
                    "content-sha256".into(),
                    base16ct::upper::encode_string(&[0u8; 32]),
                );
            },
            400,
            "InvalidParam",
            CONTENT_SHA256,
        ),
        (
            "content-sha256 and the body, consistently",
            |r| {
                r.body = pb::GenerateRandomRequest { length: 17 }.encode_to_vec();
                use sha2::Digest;
                r.headers.insert(
                    "content-sha256".into(),
                    base16ct::upper::encode_string(&sha2::Sha256::digest(&r.body)),
                );
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "the body",
            |r| r.body = pb::GenerateRandomRequest { length: 17 }.encode_to_vec(),
            400,
            "InvalidParam",
            CONTENT_SHA256,
        ),
        (
            "content-type",
            |r| {
                r.headers
                    .insert("content-type".into(), "application/octet-stream".into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "x-kms-apiname",
            |r| {
                r.headers.insert("x-kms-apiname".into(), "Encrypt".into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "x-kms-apiversion",
            |r| {
                r.headers
                    .insert("x-kms-apiversion".into(), "dkms-gcs-0.1".into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "x-kms-signaturemethod",
            |r| {
                r.headers
                    .insert("x-kms-signaturemethod".into(), "RSA_PSS_SHA_256".into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "x-kms-acccesskeyid, to another issued key",
            |r| {
                r.headers
                    .insert("x-kms-acccesskeyid".into(), CLIENT_KEY_ID_2.into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "x-kms-acccesskeyid, to a key never issued",
            |r| {
                r.headers.insert(
                    "x-kms-acccesskeyid".into(),
                    "KAAP.00000000-0000-4000-8000-00000000dead".into(),
                );
            },
            401,
            "Unauthorized",
            "",
        ),
        (
            "x-kms-migrationkeyversionid, added",
            |r| {
                r.headers.insert(
                    "x-kms-migrationkeyversionid".into(),
                    "00000000-0000-4000-8000-000000000000".into(),
                );
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "another x-kms- header, added",
            |r| {
                r.headers.insert("x-kms-extra".into(), "1".into());
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
        (
            "authorization, one bit",
            |r| {
                let a = r.headers["authorization"].clone();
                let mut sig =
                    base64ct::Base64::decode_vec(a.strip_prefix("Bearer ").unwrap()).unwrap();
                sig[10] ^= 1;
                r.headers.insert(
                    "authorization".into(),
                    format!("Bearer {}", base64ct::Base64::encode_string(&sig)),
                );
            },
            400,
            "InvalidParam",
            AUTHORIZATION,
        ),
    ];
    use base64ct::Encoding;
    for (what, change, status, code, message) in cases {
        let mut r = random_request();
        // Unchanged, it verifies: the refusal below is the change's.
        assert_verified(&send(&s.http, &r).await);
        change(&mut r);
        let reply = send(&s.http, &r).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.error());
        let e = reply.error();
        assert_eq!(e.error_code, code, "{what}: {e:?}");
        if !message.is_empty() {
            assert_eq!(e.error_message, message, "{what}");
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn the_migration_header_is_signed_when_sent() {
    let s = instance::start().await;
    let mut r = random_request();
    r.headers.insert(
        "x-kms-migrationkeyversionid".into(),
        "00000000-0000-4000-8000-000000000000".into(),
    );
    sign(&mut r.headers, &rsa_keys()[0]);
    assert_verified(&send(&s.http, &r).await);
    // Changed after signing: refused.
    r.headers.insert(
        "x-kms-migrationkeyversionid".into(),
        "00000000-0000-4000-8000-000000000001".into(),
    );
    send(&s.http, &r)
        .await
        .assert_error(400, "InvalidParam", AUTHORIZATION);
    // Removed after signing: refused.
    r.headers.remove("x-kms-migrationkeyversionid");
    send(&s.http, &r)
        .await
        .assert_error(400, "InvalidParam", AUTHORIZATION);
    s.stop().await;
}

#[tokio::test]
async fn a_client_key_the_server_did_not_issue_is_unauthorized() {
    let s = instance::start().await;
    // A key pair of the client's own, under an ID the server never issued.
    let foreign = rsa::PrivateKey::new(&mut kms_core::OsRng, 2048).unwrap();
    let r = request(
        "KAAP.11111111-1111-4111-8111-111111111111",
        &foreign,
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
        SystemTime::now(),
    );
    let reply = send(&s.http, &r).await;
    reply.assert_error(401, "Unauthorized", "");
    // The same key under an issued ID: the signature does not verify.
    let r = request(
        CLIENT_KEY_ID,
        &foreign,
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
        SystemTime::now(),
    );
    send(&s.http, &r)
        .await
        .assert_error(400, "InvalidParam", AUTHORIZATION);
    // No client key ID at all.
    let mut r = random_request();
    r.headers.remove("x-kms-acccesskeyid");
    send(&s.http, &r)
        .await
        .assert_error(401, "Unauthorized", "");
    s.stop().await;
}

#[tokio::test]
async fn the_date_must_be_within_fifteen_minutes_and_rfc_1123() {
    let s = instance::start().await;
    let now = SystemTime::now();
    for at in [
        now - Duration::from_secs(20 * 60),
        now + Duration::from_secs(20 * 60),
    ] {
        let r = request(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            "GenerateRandom",
            pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
            at,
        );
        send(&s.http, &r)
            .await
            .assert_error(400, "InvalidParam", DATE);
    }
    // 14 minutes off: in the window.
    let r = request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 16 }.encode_to_vec(),
        now - Duration::from_secs(14 * 60),
    );
    assert_verified(&send(&s.http, &r).await);
    // Another format, signed as sent: refused all the same.
    let mut r = random_request();
    r.headers
        .insert("date".into(), "Tuesday, 01-Dec-26 03:27:19 GMT".into());
    sign(&mut r.headers, &rsa_keys()[0]);
    send(&s.http, &r)
        .await
        .assert_error(400, "InvalidParam", DATE);
    // Missing headers: each its own message.
    for (header, message) in [
        ("date", DATE),
        ("content-sha256", CONTENT_SHA256),
        ("authorization", AUTHORIZATION),
    ] {
        let mut r = random_request();
        r.headers.remove(header);
        send(&s.http, &r)
            .await
            .assert_error(400, "InvalidParam", message);
    }
    s.stop().await;
}

#[tokio::test]
async fn a_wrong_api_version_or_signature_method_is_refused_even_when_signed() {
    let s = instance::start().await;
    for (header, value, message) in [
        (
            "x-kms-apiversion",
            "dkms-gcs-0.1",
            "The Param x-kms-apiversion is invalid.",
        ),
        (
            "x-kms-signaturemethod",
            "RSA_PSS_SHA_256",
            "The Param x-kms-signaturemethod is invalid.",
        ),
    ] {
        let mut r = random_request();
        r.headers.insert(header.into(), value.into());
        sign(&mut r.headers, &rsa_keys()[0]);
        send(&s.http, &r)
            .await
            .assert_error(400, "InvalidParam", message);
        r.headers.remove(header);
        sign(&mut r.headers, &rsa_keys()[0]);
        send(&s.http, &r)
            .await
            .assert_error(400, "InvalidParam", message);
    }
    s.stop().await;
}

#[tokio::test]
async fn unknown_and_unserved_operations_are_unsupported() {
    let s = instance::start().await;
    for api in ["NoSuchOperation", "GetSecretValue", "Hmac", "Hash", "sign"] {
        let r = request(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            api,
            Vec::new(),
            SystemTime::now(),
        );
        send(&s.http, &r).await.assert_error(
            400,
            "UnsupportedOperation",
            "This action is not supported.",
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn an_oversized_body_gets_413_in_an_error_body() {
    let s = instance::start().await;
    let body = vec![0u8; kms_server::instance::MAX_BODY + 1];
    let r = request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "Encrypt",
        body,
        SystemTime::now(),
    );
    let reply = send(&s.http, &r).await;
    reply.assert_error(413, "InvalidParameter", "");
    assert_eq!(
        reply
            .headers
            .get("connection")
            .and_then(|v| v.to_str().ok()),
        Some("close")
    );
    // At the limit: read, verified, then refused as a message (not 413).
    let body = vec![0u8; kms_server::instance::MAX_BODY];
    let r = request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "Encrypt",
        body,
        SystemTime::now(),
    );
    let reply = send(&s.http, &r).await;
    assert_ne!(reply.status, 413);
    reply.error();
    s.stop().await;
}

#[tokio::test]
async fn other_methods_and_paths_get_error_bodies() {
    let s = instance::start().await;
    let r = random_request();
    send_raw(&s.http, "GET", "/", &r)
        .await
        .assert_error(405, "UnsupportedOperation", "");
    send_raw(&s.http, "POST", "/other", &r)
        .await
        .assert_error(404, "UnsupportedOperation", "");
    s.stop().await;
}

#[tokio::test]
async fn the_rate_limit_applies_per_account() {
    let mut config = common::config();
    config.rate_limit = 2;
    let s = instance::start_with(config).await;
    let mut throttled = None;
    for _ in 0..6 {
        let reply = send(&s.http, &random_request()).await;
        if reply.status == 429 {
            throttled = Some(reply);
            break;
        }
        assert_verified(&reply);
    }
    let reply = throttled.expect("throttled within 6 requests at 2 per second");
    reply.assert_error(429, "Rejected.Throttling", "QPS Limit Exceeded");
    s.stop().await;
}

/// A key of the instance, made on the gateway (CreateKey with DKMSInstanceId), as account A.
async fn instance_key(s: &InstanceServer) -> String {
    let r = s
        .gateway
        .client()
        .call("CreateKey", &[("DKMSInstanceId", s.instance())])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyMetadata"]["DKMSInstanceId"], s.instance());
    r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn aad() -> Vec<u8> {
    b"order=42".to_vec()
}

#[tokio::test]
async fn create_key_in_the_instance_and_describe_it_on_the_gateway() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let c = s.gateway.client();
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyMetadata"]["DKMSInstanceId"], s.instance());
    // A key outside any instance shows none.
    let plain = common::create_key(&c).await;
    let r = c.call("DescribeKey", &[("KeyId", &plain)]).await.unwrap();
    assert!(
        r.json()["KeyMetadata"].get("DKMSInstanceId").is_none(),
        "{}",
        r.text()
    );
    // Another instance: CreateKey's documented 403; a malformed ID: InvalidParameter.
    let other = kms_server::instance::new_instance_id().unwrap();
    let r = c
        .call("CreateKey", &[("DKMSInstanceId", other.as_str())])
        .await
        .unwrap();
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(r.json()["Code"], "Forbidden.DKMSInstanceNotFound");
    let r = c
        .call("CreateKey", &[("DKMSInstanceId", "kst-NOT VALID")])
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["Code"], "InvalidParameter");
    assert_eq!(
        r.json()["Message"],
        "The specified parameter DKMSInstanceId is not valid."
    );
    s.stop().await;
}

#[tokio::test]
async fn generate_data_key_then_decrypt() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let reply = s
        .call(
            "GenerateDataKey",
            &pb::GenerateDataKeyRequest {
                key_id: key.clone(),
                aad: aad(),
                ..Default::default()
            },
        )
        .await;
    let generated: pb::GenerateDataKeyResponse = reply.ok();
    assert_eq!(generated.key_id, key);
    assert_eq!(generated.plaintext.len(), 32);
    assert_eq!(generated.iv.len(), 12);
    assert_eq!(generated.ciphertext_blob.len(), 32 + 16);
    assert_eq!(generated.algorithm, "AES_GCM");
    let version = reply.version_header().expect("x-kms-migrationkeyversionid");
    assert_eq!(version.len(), 36);
    assert_eq!(
        reply.headers.get("content-type").unwrap(),
        "application/x-protobuf"
    );

    let reply = s
        .call(
            "Decrypt",
            &pb::DecryptRequest {
                ciphertext_blob: generated.ciphertext_blob.clone(),
                key_id: key.clone(),
                aad: aad(),
                iv: generated.iv.clone(),
                ..Default::default()
            },
        )
        .await;
    let opened: pb::DecryptResponse = reply.ok();
    assert_eq!(opened.plaintext, generated.plaintext);
    assert_eq!(opened.key_id, key);
    // NumberOfBytes is honoured; out of range is InvalidParameter.
    let r: pb::GenerateDataKeyResponse = s
        .call(
            "GenerateDataKey",
            &pb::GenerateDataKeyRequest {
                key_id: key.clone(),
                number_of_bytes: 1024,
                ..Default::default()
            },
        )
        .await
        .ok();
    assert_eq!(r.plaintext.len(), 1024);
    s.call(
        "GenerateDataKey",
        &pb::GenerateDataKeyRequest {
            key_id: key.clone(),
            number_of_bytes: 1025,
            ..Default::default()
        },
    )
    .await
    .assert_error(400, "InvalidParameter", "");
    s.stop().await;
}

#[tokio::test]
async fn encrypt_then_decrypt_with_aad_and_a_wrong_aad_is_refused() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let reply = s
        .call(
            "Encrypt",
            &pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"hello instance".to_vec(),
                aad: aad(),
                ..Default::default()
            },
        )
        .await;
    let sealed: pb::EncryptResponse = reply.ok();
    assert!(reply.version_header().is_some());
    assert_eq!(sealed.ciphertext_blob.len(), 14 + 16);
    let decrypt = |aad: Vec<u8>| pb::DecryptRequest {
        ciphertext_blob: sealed.ciphertext_blob.clone(),
        key_id: key.clone(),
        aad,
        iv: sealed.iv.clone(),
        ..Default::default()
    };
    let reply = s.call("Decrypt", &decrypt(aad())).await;
    let opened: pb::DecryptResponse = reply.ok();
    assert_eq!(opened.plaintext, b"hello instance");
    // Decrypt's reply names no version.
    assert_eq!(reply.version_header(), None);
    s.call("Decrypt", &decrypt(b"order=43".to_vec()))
        .await
        .assert_error(
            400,
            "InvalidParameter",
            "The specified parameter CiphertextBlob is not valid.",
        );
    s.call("Decrypt", &decrypt(Vec::new()))
        .await
        .assert_error(400, "InvalidParameter", "");
    // A required field absent (empty on this wire): MissingParameter.
    s.call(
        "Encrypt",
        &pb::EncryptRequest {
            key_id: key.clone(),
            ..Default::default()
        },
    )
    .await
    .assert_error(
        400,
        "MissingParameter",
        "The parameter Plaintext is needed but not provided.",
    );
    s.stop().await;
}

#[tokio::test]
async fn advance_encrypt_then_advance_decrypt_with_only_the_blob() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let reply = s
        .call(
            "AdvanceEncrypt",
            &pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"advance".to_vec(),
                aad: aad(),
                ..Default::default()
            },
        )
        .await;
    let sealed: pb::AdvanceEncryptResponse = reply.ok();
    assert_eq!(
        reply.version_header().as_deref(),
        Some(sealed.key_version_id.as_str())
    );
    // `$`, cipher version 0, AES_GCM, the version ID, the IV.
    assert_eq!(&sealed.ciphertext_blob[..3], &[0x24, 0x00, 0x02]);
    assert_eq!(
        &sealed.ciphertext_blob[3..39],
        sealed.key_version_id.as_bytes()
    );
    assert_eq!(&sealed.ciphertext_blob[39..51], sealed.iv.as_slice());

    let reply = s
        .call(
            "AdvanceDecrypt",
            &pb::DecryptRequest {
                ciphertext_blob: sealed.ciphertext_blob.clone(),
                aad: aad(),
                ..Default::default()
            },
        )
        .await;
    let opened: pb::AdvanceDecryptResponse = reply.ok();
    assert_eq!(opened.plaintext, b"advance");
    assert_eq!(opened.key_id, key);
    assert_eq!(opened.key_version_id, sealed.key_version_id);
    assert_eq!(
        reply.version_header().as_deref(),
        Some(sealed.key_version_id.as_str())
    );

    // AdvanceGenerateDataKey: the data key opens through AdvanceDecrypt.
    let reply = s
        .call(
            "AdvanceGenerateDataKey",
            &pb::AdvanceGenerateDataKeyRequest {
                key_id: key.clone(),
                number_of_bytes: 16,
                aad: aad(),
            },
        )
        .await;
    let generated: pb::AdvanceGenerateDataKeyResponse = reply.ok();
    assert_eq!(generated.plaintext.len(), 16);
    assert!(reply.version_header().is_some());
    let opened: pb::AdvanceDecryptResponse = s
        .call(
            "AdvanceDecrypt",
            &pb::DecryptRequest {
                ciphertext_blob: generated.ciphertext_blob,
                aad: aad(),
                ..Default::default()
            },
        )
        .await
        .ok();
    assert_eq!(opened.plaintext, generated.plaintext);
    s.stop().await;
}

#[tokio::test]
async fn generate_random() {
    let s = instance::start().await;
    let reply = s
        .call("GenerateRandom", &pb::GenerateRandomRequest { length: 48 })
        .await;
    let r: pb::GenerateRandomResponse = reply.ok();
    assert_eq!(r.random.len(), 48);
    assert!(!r.request_id.is_empty());
    assert_eq!(reply.version_header(), None);
    for length in [0, 1025, -1] {
        s.call("GenerateRandom", &pb::GenerateRandomRequest { length })
            .await
            .assert_error(
                400,
                "InvalidParameter",
                "The specified parameter Length is not valid.",
            );
    }
    s.stop().await;
}

#[tokio::test]
async fn after_a_rotation_an_advance_blob_from_before_still_decrypts() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let advance: pb::AdvanceEncryptResponse = s
        .call(
            "AdvanceEncrypt",
            &pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"before".to_vec(),
                ..Default::default()
            },
        )
        .await
        .ok();
    let reply = s
        .call(
            "Encrypt",
            &pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"basic before".to_vec(),
                ..Default::default()
            },
        )
        .await;
    let basic: pb::EncryptResponse = reply.ok();
    let old_version = reply.version_header().unwrap();

    let new_version = common::create_key_version(&s.gateway.client(), &key).await;
    assert_ne!(new_version, old_version);

    let opened: pb::AdvanceDecryptResponse = s
        .call(
            "AdvanceDecrypt",
            &pb::DecryptRequest {
                ciphertext_blob: advance.ciphertext_blob.clone(),
                ..Default::default()
            },
        )
        .await
        .ok();
    assert_eq!(opened.plaintext, b"before");
    assert_eq!(opened.key_version_id, old_version);

    // New seals use the new primary version.
    let reply = s
        .call(
            "AdvanceEncrypt",
            &pb::EncryptRequest {
                key_id: key.clone(),
                plaintext: b"after".to_vec(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(
        reply.version_header().as_deref(),
        Some(new_version.as_str())
    );

    // A basic blob from before: the primary version no longer opens it; the signed
    // migration header naming the old version does.
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: basic.ciphertext_blob.clone(),
        key_id: key.clone(),
        iv: basic.iv.clone(),
        ..Default::default()
    };
    s.call("Decrypt", &decrypt).await.assert_error(
        400,
        "InvalidParameter",
        "The specified parameter CiphertextBlob is not valid.",
    );
    let mut r = request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "Decrypt",
        decrypt.encode_to_vec(),
        SystemTime::now(),
    );
    r.headers
        .insert("x-kms-migrationkeyversionid".into(), old_version.clone());
    sign(&mut r.headers, &rsa_keys()[0]);
    let opened: pb::DecryptResponse = send(&s.http, &r).await.ok();
    assert_eq!(opened.plaintext, b"basic before");
    s.stop().await;
}

#[tokio::test]
async fn keys_outside_the_instance_are_not_found_and_states_apply() {
    let s = instance::start().await;
    let encrypt = |key: &str| pb::EncryptRequest {
        key_id: key.to_owned(),
        plaintext: b"x".to_vec(),
        ..Default::default()
    };
    let not_found = "The specified Key is not found.";
    // A gateway key (no instance), by ID and by alias.
    let c = s.gateway.client();
    let plain = common::create_key(&c).await;
    s.call("Encrypt", &encrypt(&plain))
        .await
        .assert_error(404, "Forbidden.KeyNotFound", not_found);
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/gw"), ("KeyId", &plain)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // (An alias naming a key outside the instance is no alias of the instance: the core
    // answers as for an alias that does not exist.)
    s.call("Encrypt", &encrypt("alias/gw")).await.assert_error(
        404,
        "Forbidden.AliasNotFound",
        "The specified Alias is not found.",
    );
    // A key of another instance, same account.
    let other = kms_server::instance::new_instance_id().unwrap();
    let region = s.gateway.service.region().to_owned();
    let foreign = s.gateway.service.with_provider(|p| {
        p.create_key(
            &mut kms_core::OsRng,
            &kms_core::KeyOptions::new(common::ACCOUNT_A, &region).instance(other),
        )
        .unwrap()
    });
    s.call("Encrypt", &encrypt(foreign.as_ref()))
        .await
        .assert_error(404, "Forbidden.KeyNotFound", not_found);
    // A key of the instance in account B: not account A's.
    let r = s
        .gateway
        .client_b()
        .call("CreateKey", &[("DKMSInstanceId", s.instance())])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let of_b = r.json()["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_owned();
    s.call("Encrypt", &encrypt(&of_b))
        .await
        .assert_error(404, "Forbidden.KeyNotFound", not_found);

    // A disabled key of the instance: Rejected.Disabled 409; enabled again, it works.
    let key = instance_key(&s).await;
    let r = c.call("DisableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    s.call("Encrypt", &encrypt(&key)).await.assert_error(
        409,
        "Rejected.Disabled",
        "The request was rejected because the key state is Disabled.",
    );
    let r = c.call("EnableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let _: pb::EncryptResponse = s.call("Encrypt", &encrypt(&key)).await.ok();
    s.stop().await;
}

#[tokio::test]
async fn a_malformed_message_is_invalid_parameter() {
    let s = instance::start().await;
    // Field 1 as a varint where a string is expected, then a truncated length.
    for body in [vec![0x08, 0x01], vec![0x0a, 0x05, b'a'], vec![0xff; 7]] {
        let r = request(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            "Encrypt",
            body,
            SystemTime::now(),
        );
        send(&s.http, &r).await.assert_error(
            400,
            "InvalidParameter",
            "The specified parameter Body is not valid.",
        );
    }
    s.stop().await;
}

/// The instance listener's address in a server's output.
fn instance_addr(lines: &[String]) -> std::net::SocketAddr {
    let line =
        common::binary::value_after(lines, "kms-server: KMS-instance API listening on http://");
    line.split(' ').next().unwrap().parse().unwrap()
}

/// GenerateRandom at `addr`, signed by client key `key_id` with `key`.
async fn random_at(
    addr: std::net::SocketAddr,
    key_id: &str,
    key: &rsa::PrivateKey,
) -> instance::Reply {
    let http = kms_server::client::Client::new(
        addr,
        kms_server::client::Credentials {
            access_key_id: String::new(),
            access_key_secret: String::new(),
        },
    );
    let r = request(
        key_id,
        key,
        "GenerateRandom",
        pb::GenerateRandomRequest { length: 8 }.encode_to_vec(),
        SystemTime::now(),
    );
    send(&http, &r).await
}

#[tokio::test]
async fn client_keys_and_the_instance_persist_across_restarts() {
    use common::binary::{run_to_exit, start, value_after};
    let dir = common::temp_dir("instance-restart");
    let store = dir.join("kms.db");
    let keys = dir.join("keys");
    let store_arg = store.display().to_string();
    let keys_arg = keys.display().to_string();
    let env = [(
        "KMS_KEYRING_KEY",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    )];
    let args = [
        "--store",
        store_arg.as_str(),
        "--instance-listen",
        "127.0.0.1:0",
        "--instance-plain-http",
        "--client-key-dir",
        keys_arg.as_str(),
    ];

    // Without TLS options and without --instance-plain-http: refused.
    let (ok, err) = run_to_exit(&["--instance-listen", "127.0.0.1:0"], &[]);
    assert!(!ok);
    assert!(err.contains("--instance-listen serves HTTPS"), "{err}");

    // First start: an instance and a client key, issued into the directory, 0600.
    let first = start(&args, &env);
    let instance_id = value_after(&first.lines, "kms-server: KMS instance: ");
    assert!(
        kms_core::InstanceId::parse(&instance_id).is_some(),
        "{instance_id}"
    );
    let json = std::path::PathBuf::from(value_after(&first.lines, "kms-server: client key file: "));
    let password = std::path::PathBuf::from(value_after(
        &first.lines,
        "kms-server: client key password file: ",
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [&json, &password] {
            assert_eq!(
                std::fs::metadata(f).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
    let (key_id, private) = instance::private_key_of_files(&json, &password);
    assert!(key_id.starts_with("KAAP."), "{key_id}");
    let r = random_at(instance_addr(&first.lines), &key_id, &private).await;
    let _: pb::GenerateRandomResponse = r.ok();
    // A key the server did not issue is refused.
    let r = random_at(instance_addr(&first.lines), &key_id, &rsa_keys()[1]).await;
    r.assert_error(400, "InvalidParam", AUTHORIZATION);
    first.kill();

    // One more client key, issued with the server stopped.
    let (ok, out) = run_to_exit(&[&args[..], &["--issue-client-key"]].concat(), &env);
    assert!(ok, "{out}");

    // The restart: same instance, no new key issued at start, both keys accepted.
    let second = start(&args, &env);
    assert_eq!(
        value_after(&second.lines, "kms-server: KMS instance: "),
        instance_id
    );
    assert!(
        !second
            .lines
            .iter()
            .any(|l| l.starts_with("kms-server: client key file: ")),
        "{:?}",
        second.lines
    );
    let r = random_at(instance_addr(&second.lines), &key_id, &private).await;
    let _: pb::GenerateRandomResponse = r.ok();
    let mut files: Vec<_> = std::fs::read_dir(&keys)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p != &json && p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let other_json = files.pop().unwrap();
    let name = other_json.file_stem().unwrap().to_str().unwrap().to_owned();
    let other_password = keys.join(format!("{name}_Password.txt"));
    let (other_id, other_private) = instance::private_key_of_files(&other_json, &other_password);
    assert_ne!(other_id, key_id);
    let r = random_at(instance_addr(&second.lines), &other_id, &other_private).await;
    let _: pb::GenerateRandomResponse = r.ok();
    second.kill();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_spent_seal_budget_rotates_durably_and_the_request_runs_again() {
    // A store whose versions seal three times each.
    let dir = common::temp_dir("instance-seal-limit");
    let path = dir.join("store.db");
    let (store, provider) = common::open_store(&path, 3);
    let s = instance::start_on(common::start_with_provider(provider, Some(store)).await).await;
    let key = instance_key(&s).await;
    let mut sealed = Vec::new();
    for i in 0..4u8 {
        let reply = s
            .call(
                "AdvanceEncrypt",
                &pb::EncryptRequest {
                    key_id: key.clone(),
                    plaintext: vec![i; 8],
                    ..Default::default()
                },
            )
            .await;
        let r: pb::AdvanceEncryptResponse = reply.ok();
        sealed.push(r);
    }
    let first = sealed[0].key_version_id.clone();
    assert!(sealed[..3].iter().all(|r| r.key_version_id == first));
    let second = sealed[3].key_version_id.clone();
    assert_ne!(second, first, "the fourth seal is under a new version");
    // The new version is on disk, the key's primary there too.
    let key_id = kms_core::KeyId::parse(&key).unwrap();
    assert_eq!(
        common::on_disk(&path)
            .describe(&key_id)
            .unwrap()
            .primary_version
            .as_str(),
        second
    );
    for (i, r) in sealed.iter().enumerate() {
        let opened: pb::AdvanceDecryptResponse = s
            .call(
                "AdvanceDecrypt",
                &pb::DecryptRequest {
                    ciphertext_blob: r.ciphertext_blob.clone(),
                    ..Default::default()
                },
            )
            .await
            .ok();
        assert_eq!(opened.plaintext, vec![u8::try_from(i).unwrap(); 8]);
        assert_eq!(opened.key_version_id, r.key_version_id);
    }
    s.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_store_of_schema_1_gains_the_instance_tables() {
    use kms_server::keyring::parse_wrapping_key;
    use kms_server::store::Store;
    let dir = common::temp_dir("instance-schema");
    let path = dir.join("store.db");
    let key = || parse_wrapping_key(common::STORE_KEY_HEX).unwrap();
    {
        let (store, _) = Store::open(&path, key(), 1 << 32).unwrap();
        store.put_instance_id("kst-aaaaaaaaaaaaaaaaaaaaa").unwrap();
    }
    // As a server of schema 1 left it: no instance tables, user_version 1.
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("DROP TABLE instance; DROP TABLE client_keys; PRAGMA user_version = 1;")
            .unwrap();
    }
    let (store, _) = Store::open(&path, key(), 1 << 32).unwrap();
    assert_eq!(store.instance_id().unwrap(), None);
    assert!(store.client_keys().unwrap().is_empty());
    store.put_instance_id("kst-bbbbbbbbbbbbbbbbbbbbb").unwrap();
    assert_eq!(
        store.instance_id().unwrap().as_deref(),
        Some("kst-bbbbbbbbbbbbbbbbbbbbb")
    );
    // Kept once: a second ID is refused.
    assert!(store.put_instance_id("kst-ccccccccccccccccccccc").is_err());
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, kms_server::store::SCHEMA_VERSION);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_body_that_misses_its_deadline_gets_408_in_an_error_body() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let options = kms_server::http::ServeOptions {
        limits: kms_server::limits::Limits {
            body_timeout: Duration::from_millis(300),
            ..Default::default()
        },
        tls: None,
    };
    let s = instance::start_on_with(common::start().await, options).await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the connection is closed after the answer")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.contains("content-type: application/x-protobuf"),
        "{text}"
    );
    let body = &answer[answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    let e = pb::Error::decode(body).unwrap();
    assert_eq!(
        (e.status_code, e.error_code.as_str()),
        (408, "RequestTimeout")
    );
    s.stop().await;
}

// ---------------------------------------------------------------------------------------------
// Asymmetric keys (docs/asymmetric.md §11): GetPublicKey, Sign, Verify, Encrypt and Decrypt
// with an asymmetric algorithm, and the GenerateDataKeyPair family.

use base64ct::{Base64, Encoding};
use kms_core::asymmetric::{AsymmetricSpec, PrivateKey, PublicKey, SigningAlgorithm};

const NOT_FOUND: &str = "The specified Key is not found.";
const REJECTED_UNSUPPORTED: &str = "Unsupported operation.";
const DISABLED: &str = "The request was rejected because the key state is Disabled.";

/// An asymmetric key of the instance, made on the gateway, as account A.
async fn asymmetric_key(s: &InstanceServer, spec: &str, usage: &str) -> String {
    common::create_key_with(
        &s.gateway.client(),
        &[
            ("DKMSInstanceId", s.instance()),
            ("KeySpec", spec),
            ("KeyUsage", usage),
        ],
    )
    .await
}

/// Disables `key` on the gateway.
async fn disable(s: &InstanceServer, key: &str) {
    let r = s
        .gateway
        .client()
        .call("DisableKey", &[("KeyId", key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The DER inside a PEM document with `label`, checking its framing: lines of 64
/// characters, LF endings, a final LF.
fn pem_body(pem: &[u8], label: &str) -> Vec<u8> {
    let text = std::str::from_utf8(pem).unwrap();
    let begin = format!("-----BEGIN {label}-----\n");
    let end = format!("-----END {label}-----\n");
    assert!(text.starts_with(&begin) && text.ends_with(&end), "{text}");
    let lines: Vec<&str> = text[begin.len()..text.len() - end.len()].lines().collect();
    assert!(lines.iter().all(|l| l.len() <= 64), "{text}");
    assert!(lines.iter().rev().skip(1).all(|l| l.len() == 64), "{text}");
    Base64::decode_vec(&lines.concat()).unwrap()
}

/// The public key of a PEM `SubjectPublicKeyInfo`.
fn public_key_of_pem(pem: &str) -> PublicKey {
    PublicKey::from_spki_der(&pem_body(pem.as_bytes(), "PUBLIC KEY")).unwrap()
}

#[tokio::test]
async fn get_public_key_answers_the_primary_versions_key_and_names_it_in_the_header() {
    let s = instance::start().await;
    let c = s.gateway.client();
    for (spec, usage) in [
        ("EC_P256", "SIGN/VERIFY"),
        ("EC_SM2", "ENCRYPT/DECRYPT"),
        ("RSA_2048", "ENCRYPT/DECRYPT"),
    ] {
        let key = asymmetric_key(&s, spec, usage).await;
        let reply = s
            .call(
                "GetPublicKey",
                &pb::GetPublicKeyRequest {
                    key_id: key.clone(),
                },
            )
            .await;
        let got: pb::GetPublicKeyResponse = reply.ok();
        assert_eq!(got.key_id, key);
        assert_eq!(public_key_of_pem(&got.public_key).spec().name(), spec);
        let version = reply.version_header().expect("x-kms-migrationkeyversionid");
        // The gateway's GetPublicKey of that version answers the same PEM.
        let r = c
            .call(
                "GetPublicKey",
                &[("KeyId", key.as_str()), ("KeyVersionId", &version)],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["PublicKey"], got.public_key.as_str());
    }
    // Errors: no KeyId, an unknown key, a gateway key, a symmetric key, a disabled key.
    let get = |key: &str| pb::GetPublicKeyRequest {
        key_id: key.to_owned(),
    };
    s.call("GetPublicKey", &get("")).await.assert_error(
        400,
        "MissingParameter",
        "The parameter KeyId is needed but not provided.",
    );
    s.call("GetPublicKey", &get("key-hzz630494463ejqjx1234"))
        .await
        .assert_error(404, "Forbidden.KeyNotFound", NOT_FOUND);
    let gateway_key = common::create_key_with(&c, &[("KeySpec", "EC_P256")]).await;
    s.call("GetPublicKey", &get(&gateway_key))
        .await
        .assert_error(404, "Forbidden.KeyNotFound", NOT_FOUND);
    let aes = instance_key(&s).await;
    s.call("GetPublicKey", &get(&aes)).await.assert_error(
        400,
        "Rejected.UnsupportedOperation",
        REJECTED_UNSUPPORTED,
    );
    let key = asymmetric_key(&s, "EC_P256K", "SIGN/VERIFY").await;
    disable(&s, &key).await;
    s.call("GetPublicKey", &get(&key))
        .await
        .assert_error(409, "Rejected.Disabled", DISABLED);
    s.stop().await;
}

#[tokio::test]
async fn sign_verifies_through_verify_the_gateway_and_the_core() {
    use sha2::Digest;
    let s = instance::start().await;
    let c = s.gateway.client();
    let message = b"an instance signs this message".to_vec();
    for (spec, algorithm) in [
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_P256K", "ECDSA_SHA_256"),
        ("EC_SM2", "SM2DSA"),
        ("RSA_2048", "RSA_PSS_SHA_256"),
        ("RSA_2048", "RSA_PKCS1_SHA_256"),
        ("RSA_3072", "RSA_PSS_SHA_256"),
    ] {
        let key = asymmetric_key(&s, spec, "SIGN/VERIFY").await;
        let pem: pb::GetPublicKeyResponse = s
            .call(
                "GetPublicKey",
                &pb::GetPublicKeyRequest {
                    key_id: key.clone(),
                },
            )
            .await
            .ok();
        let public = public_key_of_pem(&pem.public_key);
        let algorithm_typed = SigningAlgorithm::from_name(algorithm).unwrap();
        let digest = public.message_digest(algorithm_typed, &message).unwrap();
        if spec != "EC_SM2" {
            assert_eq!(digest[..], sha2::Sha256::digest(&message)[..]);
        }
        // RAW (as the SDK's default), DIGEST in Message (as TransferClient sends), and the
        // Digest field (2).
        let requests = [
            pb::SignRequest {
                key_id: key.clone(),
                algorithm: algorithm.into(),
                message: message.clone(),
                message_type: "RAW".into(),
                ..Default::default()
            },
            pb::SignRequest {
                key_id: key.clone(),
                algorithm: algorithm.into(),
                message: digest.to_vec(),
                message_type: "DIGEST".into(),
                ..Default::default()
            },
            pb::SignRequest {
                key_id: key.clone(),
                algorithm: algorithm.into(),
                digest: digest.to_vec(),
                ..Default::default()
            },
        ];
        for request in requests {
            let reply = s.call("Sign", &request).await;
            let signed: pb::SignResponse = reply.ok();
            let what = format!("{spec} {algorithm} {}", signed.message_type);
            assert_eq!(signed.key_id, key, "{what}");
            assert_eq!(signed.algorithm, algorithm, "{what}");
            let raw = request.message_type == "RAW";
            assert_eq!(
                signed.message_type,
                if raw { "RAW" } else { "DIGEST" },
                "{what}"
            );
            let version = reply.version_header().expect("x-kms-migrationkeyversionid");
            // The core's verification with the public key.
            assert_eq!(
                public.verify(algorithm_typed, &digest, &signed.signature),
                Ok(true),
                "{what}"
            );
            // The gateway's AsymmetricVerify of the version the header names.
            let r = c
                .call(
                    "AsymmetricVerify",
                    &[
                        ("KeyId", key.as_str()),
                        ("KeyVersionId", &version),
                        ("Algorithm", algorithm),
                        ("Digest", &Base64::encode_string(&digest)),
                        ("Value", &Base64::encode_string(&signed.signature)),
                    ],
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{what}: {}", r.text());
            assert_eq!(r.json()["Value"], true, "{what}");
            // The instance's Verify, RAW and DIGEST; a changed message is false.
            for (message_type, data) in [("RAW", message.clone()), ("DIGEST", digest.to_vec())] {
                let verify = |data: Vec<u8>| pb::VerifyRequest {
                    key_id: key.clone(),
                    signature: signed.signature.clone(),
                    algorithm: algorithm.into(),
                    message: data,
                    message_type: message_type.into(),
                    ..Default::default()
                };
                let reply = s.call("Verify", &verify(data.clone())).await;
                let verified: pb::VerifyResponse = reply.ok();
                assert!(verified.value, "{what} verify {message_type}");
                assert_eq!(verified.algorithm, algorithm);
                assert_eq!(verified.message_type, message_type);
                assert_eq!(reply.version_header().as_deref(), Some(version.as_str()));
                let mut changed = data;
                changed[0] ^= 1;
                let verified: pb::VerifyResponse = s.call("Verify", &verify(changed)).await.ok();
                assert!(!verified.value, "{what} verify {message_type}, changed");
            }
        }
    }
    s.stop().await;
}

#[tokio::test]
async fn sign_without_algorithm_or_message_type_uses_the_defaults() {
    let s = instance::start().await;
    let message = b"defaults".to_vec();
    for (spec, default) in [
        ("RSA_2048", "RSA_PSS_SHA_256"),
        ("EC_P256", "ECDSA_SHA_256"),
        ("EC_SM2", "SM2DSA"),
    ] {
        let key = asymmetric_key(&s, spec, "SIGN/VERIFY").await;
        let signed: pb::SignResponse = s
            .call(
                "Sign",
                &pb::SignRequest {
                    key_id: key.clone(),
                    message: message.clone(),
                    ..Default::default()
                },
            )
            .await
            .ok();
        assert_eq!(
            (signed.algorithm.as_str(), signed.message_type.as_str()),
            (default, "RAW")
        );
        let verified: pb::VerifyResponse = s
            .call(
                "Verify",
                &pb::VerifyRequest {
                    key_id: key.clone(),
                    signature: signed.signature,
                    message: message.clone(),
                    ..Default::default()
                },
            )
            .await
            .ok();
        assert!(verified.value, "{spec}");
    }
    s.stop().await;
}

#[tokio::test]
async fn sign_and_verify_refuse_as_documented() {
    let s = instance::start().await;
    let key = asymmetric_key(&s, "EC_P256", "SIGN/VERIFY").await;
    let sign = |key: &str| pb::SignRequest {
        key_id: key.to_owned(),
        algorithm: "ECDSA_SHA_256".into(),
        message: b"m".to_vec(),
        ..Default::default()
    };
    let invalid = |name: &str| format!("The specified parameter {name} is not valid.");
    let cases: Vec<(&str, pb::SignRequest, u16, &str, String)> = vec![
        (
            "no KeyId",
            sign(""),
            400,
            "MissingParameter",
            "The parameter KeyId is needed but not provided.".into(),
        ),
        (
            "no Message",
            pb::SignRequest {
                message: Vec::new(),
                ..sign(&key)
            },
            400,
            "MissingParameter",
            "The parameter Message is needed but not provided.".into(),
        ),
        (
            "an unknown MessageType",
            pb::SignRequest {
                message_type: "raw".into(),
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("MessageType"),
        ),
        (
            "a DIGEST of 31 bytes",
            pb::SignRequest {
                message: vec![1; 31],
                message_type: "DIGEST".into(),
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("Message"),
        ),
        (
            "Digest and Message both",
            pb::SignRequest {
                digest: vec![1; 32],
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("Digest"),
        ),
        (
            "Digest with MessageType RAW",
            pb::SignRequest {
                digest: vec![1; 32],
                message: Vec::new(),
                message_type: "RAW".into(),
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("MessageType"),
        ),
        (
            "an unknown algorithm",
            pb::SignRequest {
                algorithm: "ecdsa_sha_256".into(),
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("Algorithm"),
        ),
        (
            "an algorithm of another spec",
            pb::SignRequest {
                algorithm: "SM2DSA".into(),
                ..sign(&key)
            },
            400,
            "InvalidParameter",
            invalid("Algorithm"),
        ),
        (
            "an unknown key",
            sign("key-hzz630494463ejqjx1234"),
            404,
            "Forbidden.KeyNotFound",
            NOT_FOUND.into(),
        ),
    ];
    for (what, request, status, code, message) in cases {
        let reply = s.call("Sign", &request).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.error());
        reply.assert_error(status, code, &message);
    }
    // Wrong usage: an ENCRYPT/DECRYPT key, a symmetric key.
    let encrypting = asymmetric_key(&s, "RSA_2048", "ENCRYPT/DECRYPT").await;
    let aes = instance_key(&s).await;
    for key in [&encrypting, &aes] {
        let request = pb::SignRequest {
            algorithm: String::new(),
            ..sign(key)
        };
        s.call("Sign", &request).await.assert_error(
            400,
            "Rejected.UnsupportedOperation",
            REJECTED_UNSUPPORTED,
        );
        let verify = pb::VerifyRequest {
            key_id: key.clone(),
            signature: vec![1],
            message: b"m".to_vec(),
            ..Default::default()
        };
        s.call("Verify", &verify).await.assert_error(
            400,
            "Rejected.UnsupportedOperation",
            REJECTED_UNSUPPORTED,
        );
    }
    // Verify: no Signature; a signature that is not DER is false.
    let verify = |signature: Vec<u8>| pb::VerifyRequest {
        key_id: key.clone(),
        signature,
        algorithm: "ECDSA_SHA_256".into(),
        message: b"m".to_vec(),
        ..Default::default()
    };
    s.call("Verify", &verify(Vec::new())).await.assert_error(
        400,
        "MissingParameter",
        "The parameter Signature is needed but not provided.",
    );
    let verified: pb::VerifyResponse = s.call("Verify", &verify(vec![0xff; 5])).await.ok();
    assert!(!verified.value);
    // A disabled key.
    disable(&s, &key).await;
    s.call("Sign", &sign(&key))
        .await
        .assert_error(409, "Rejected.Disabled", DISABLED);
    s.call("Verify", &verify(vec![1]))
        .await
        .assert_error(409, "Rejected.Disabled", DISABLED);
    s.stop().await;
}

#[tokio::test]
async fn encrypt_and_decrypt_take_asymmetric_keys_with_an_asymmetric_algorithm() {
    let s = instance::start().await;
    let c = s.gateway.client();
    let plaintext = b"to an asymmetric key".to_vec();
    for (spec, algorithm, overhead) in [
        ("RSA_2048", "RSAES_OAEP_SHA_256", None),
        ("RSA_3072", "RSAES_OAEP_SHA_1", None),
        ("EC_SM2", "SM2PKE", Some(97)),
    ] {
        let key = asymmetric_key(&s, spec, "ENCRYPT/DECRYPT").await;
        let reply = s
            .call(
                "Encrypt",
                &pb::EncryptRequest {
                    key_id: key.clone(),
                    plaintext: plaintext.clone(),
                    algorithm: algorithm.into(),
                    ..Default::default()
                },
            )
            .await;
        let sealed: pb::EncryptResponse = reply.ok();
        let version = reply.version_header().expect("x-kms-migrationkeyversionid");
        assert_eq!(sealed.key_id, key);
        assert_eq!(sealed.algorithm, algorithm);
        assert!(sealed.iv.is_empty());
        let expected_len = match overhead {
            Some(n) => plaintext.len() + n,
            None => {
                if spec == "RSA_2048" {
                    256
                } else {
                    384
                }
            }
        };
        assert_eq!(sealed.ciphertext_blob.len(), expected_len, "{spec}");
        // The instance's Decrypt (no Iv, the version in the header, as TransferClient reads
        // it) and the gateway's AsymmetricDecrypt of that version.
        let decrypt = pb::DecryptRequest {
            ciphertext_blob: sealed.ciphertext_blob.clone(),
            key_id: key.clone(),
            algorithm: algorithm.into(),
            ..Default::default()
        };
        let reply = s.call("Decrypt", &decrypt).await;
        let opened: pb::DecryptResponse = reply.ok();
        assert_eq!(opened.plaintext, plaintext);
        assert_eq!(opened.algorithm, algorithm);
        assert_eq!(reply.version_header().as_deref(), Some(version.as_str()));
        let r = c
            .call(
                "AsymmetricDecrypt",
                &[
                    ("KeyId", key.as_str()),
                    ("KeyVersionId", &version),
                    ("Algorithm", algorithm),
                    (
                        "CiphertextBlob",
                        &Base64::encode_string(&sealed.ciphertext_blob),
                    ),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["Plaintext"], Base64::encode_string(&plaintext));
        // The migration header naming the version decrypts too.
        let mut r = request(
            CLIENT_KEY_ID,
            &rsa_keys()[0],
            "Decrypt",
            decrypt.encode_to_vec(),
            SystemTime::now(),
        );
        r.headers
            .insert("x-kms-migrationkeyversionid".into(), version.clone());
        sign(&mut r.headers, &rsa_keys()[0]);
        let opened: pb::DecryptResponse = send(&s.http, &r).await.ok();
        assert_eq!(opened.plaintext, plaintext);
        // A changed ciphertext: InvalidParameter CiphertextBlob.
        let mut changed = decrypt.clone();
        let last = changed.ciphertext_blob.len() - 1;
        changed.ciphertext_blob[last] ^= 1;
        s.call("Decrypt", &changed).await.assert_error(
            400,
            "InvalidParameter",
            "The specified parameter CiphertextBlob is not valid.",
        );
    }
    s.stop().await;
}

#[tokio::test]
async fn asymmetric_encrypt_and_decrypt_refuse_as_documented() {
    let s = instance::start().await;
    let key = asymmetric_key(&s, "RSA_2048", "ENCRYPT/DECRYPT").await;
    let encrypt = |key: &str| pb::EncryptRequest {
        key_id: key.to_owned(),
        plaintext: b"x".to_vec(),
        algorithm: "RSAES_OAEP_SHA_256".into(),
        ..Default::default()
    };
    let invalid = |name: &str| format!("The specified parameter {name} is not valid.");
    let cases: Vec<(&str, pb::EncryptRequest, u16, &str, String)> = vec![
        (
            "an Aad",
            pb::EncryptRequest {
                aad: aad(),
                ..encrypt(&key)
            },
            400,
            "InvalidParameter",
            invalid("Aad"),
        ),
        (
            "an Iv",
            pb::EncryptRequest {
                iv: vec![0; 12],
                ..encrypt(&key)
            },
            400,
            "InvalidParameter",
            invalid("Iv"),
        ),
        (
            "a plaintext over the OAEP limit (190 bytes)",
            pb::EncryptRequest {
                plaintext: vec![1; 191],
                ..encrypt(&key)
            },
            400,
            "InvalidParameter",
            invalid("Plaintext"),
        ),
        (
            "SM2PKE on an RSA key",
            pb::EncryptRequest {
                algorithm: "SM2PKE".into(),
                ..encrypt(&key)
            },
            400,
            "InvalidParameter",
            invalid("Algorithm"),
        ),
        (
            "no Plaintext",
            pb::EncryptRequest {
                plaintext: Vec::new(),
                ..encrypt(&key)
            },
            400,
            "MissingParameter",
            "The parameter Plaintext is needed but not provided.".into(),
        ),
        (
            "an unknown key",
            encrypt("key-hzz630494463ejqjx1234"),
            404,
            "Forbidden.KeyNotFound",
            NOT_FOUND.into(),
        ),
        (
            "AES_GCM (the symmetric path) on an asymmetric key",
            pb::EncryptRequest {
                algorithm: "AES_GCM".into(),
                ..encrypt(&key)
            },
            400,
            "UnsupportedOperation",
            "This action is not supported.".into(),
        ),
    ];
    for (what, request, status, code, message) in cases {
        let reply = s.call("Encrypt", &request).await;
        assert_eq!(reply.status, status, "{what}: {:?}", reply.error());
        reply.assert_error(status, code, &message);
    }
    // A SIGN/VERIFY key: Rejected.UnsupportedOperation; a symmetric key with an asymmetric
    // algorithm: InvalidParameter Algorithm (the symmetric Encrypt's answer), and AdvanceEncrypt
    // stays symmetric.
    let signing = asymmetric_key(&s, "RSA_2048", "SIGN/VERIFY").await;
    s.call("Encrypt", &encrypt(&signing)).await.assert_error(
        400,
        "Rejected.UnsupportedOperation",
        REJECTED_UNSUPPORTED,
    );
    let aes = instance_key(&s).await;
    s.call("Encrypt", &encrypt(&aes)).await.assert_error(
        400,
        "InvalidParameter",
        &invalid("Algorithm"),
    );
    s.call("AdvanceEncrypt", &encrypt(&key)).await.assert_error(
        400,
        "InvalidParameter",
        &invalid("Algorithm"),
    );
    // Decrypt: an Iv, a migration header naming another key's version, a disabled key.
    let sealed: pb::EncryptResponse = s.call("Encrypt", &encrypt(&key)).await.ok();
    let decrypt = pb::DecryptRequest {
        ciphertext_blob: sealed.ciphertext_blob.clone(),
        key_id: key.clone(),
        algorithm: "RSAES_OAEP_SHA_256".into(),
        ..Default::default()
    };
    s.call(
        "Decrypt",
        &pb::DecryptRequest {
            iv: vec![0; 12],
            ..decrypt.clone()
        },
    )
    .await
    .assert_error(400, "InvalidParameter", &invalid("Iv"));
    let other_version = {
        let reply = s
            .call(
                "GetPublicKey",
                &pb::GetPublicKeyRequest {
                    key_id: signing.clone(),
                },
            )
            .await;
        reply.version_header().unwrap()
    };
    let mut r = request(
        CLIENT_KEY_ID,
        &rsa_keys()[0],
        "Decrypt",
        decrypt.encode_to_vec(),
        SystemTime::now(),
    );
    r.headers
        .insert("x-kms-migrationkeyversionid".into(), other_version);
    sign(&mut r.headers, &rsa_keys()[0]);
    send(&s.http, &r)
        .await
        .assert_error(400, "InvalidParameter", &invalid("CiphertextBlob"));
    disable(&s, &key).await;
    s.call("Decrypt", &decrypt)
        .await
        .assert_error(409, "Rejected.Disabled", DISABLED);
    s.call("Encrypt", &encrypt(&key))
        .await
        .assert_error(409, "Rejected.Disabled", DISABLED);
    s.stop().await;
}

/// A data key pair request of `operation`: the basic message, or the Advance one (no
/// Algorithm).
fn pair_request(
    operation: &str,
    key_id: &str,
    spec: &str,
    format: &str,
    aad: &[u8],
    algorithm: &str,
) -> Vec<u8> {
    if operation.starts_with("Advance") {
        pb::AdvanceGenerateDataKeyPairRequest {
            key_id: key_id.into(),
            key_pair_spec: spec.into(),
            key_format: format.into(),
            aad: aad.to_vec(),
        }
        .encode_to_vec()
    } else {
        pb::GenerateDataKeyPairRequest {
            key_id: key_id.into(),
            algorithm: algorithm.into(),
            key_pair_spec: spec.into(),
            key_format: format.into(),
            aad: aad.to_vec(),
        }
        .encode_to_vec()
    }
}

/// The fields every data key pair response has, read from the operation's message.
struct Pair {
    key_id: String,
    iv: Vec<u8>,
    key_pair_spec: String,
    private_key_plaintext: Option<Vec<u8>>,
    private_key_ciphertext_blob: Vec<u8>,
    public_key: Vec<u8>,
    algorithm: String,
    key_version_id: Option<String>,
}

fn read_pair(operation: &str, reply: &instance::Reply) -> Pair {
    match operation {
        "GenerateDataKeyPair" => {
            let m: pb::GenerateDataKeyPairResponse = reply.ok();
            Pair {
                key_id: m.key_id.clone(),
                iv: m.iv.clone(),
                key_pair_spec: m.key_pair_spec.clone(),
                private_key_plaintext: Some(m.private_key_plaintext.clone()),
                private_key_ciphertext_blob: m.private_key_ciphertext_blob.clone(),
                public_key: m.public_key.clone(),
                algorithm: m.algorithm.clone(),
                key_version_id: None,
            }
        }
        "GenerateDataKeyPairWithoutPlaintext" => {
            let m: pb::GenerateDataKeyPairWithoutPlaintextResponse = reply.ok();
            Pair {
                key_id: m.key_id,
                iv: m.iv,
                key_pair_spec: m.key_pair_spec,
                private_key_plaintext: None,
                private_key_ciphertext_blob: m.private_key_ciphertext_blob,
                public_key: m.public_key,
                algorithm: m.algorithm,
                key_version_id: None,
            }
        }
        "AdvanceGenerateDataKeyPair" => {
            let m: pb::AdvanceGenerateDataKeyPairResponse = reply.ok();
            Pair {
                key_id: m.key_id.clone(),
                iv: m.iv.clone(),
                key_pair_spec: m.key_pair_spec.clone(),
                private_key_plaintext: Some(m.private_key_plaintext.clone()),
                private_key_ciphertext_blob: m.private_key_ciphertext_blob.clone(),
                public_key: m.public_key.clone(),
                algorithm: m.algorithm.clone(),
                key_version_id: Some(m.key_version_id.clone()),
            }
        }
        _ => {
            let m: pb::AdvanceGenerateDataKeyPairWithoutPlaintextResponse = reply.ok();
            Pair {
                key_id: m.key_id,
                iv: m.iv,
                key_pair_spec: m.key_pair_spec,
                private_key_plaintext: None,
                private_key_ciphertext_blob: m.private_key_ciphertext_blob,
                public_key: m.public_key,
                algorithm: m.algorithm,
                key_version_id: Some(m.key_version_id),
            }
        }
    }
}

const PAIR_OPERATIONS: [&str; 4] = [
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "AdvanceGenerateDataKeyPair",
    "AdvanceGenerateDataKeyPairWithoutPlaintext",
];

#[tokio::test]
async fn each_data_key_pair_form_seals_a_private_key_that_decrypts_to_the_public_half() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    // Every operation with every spec, PEM and DER in turn (and the format left out once: PEM).
    let mut round = 0;
    for operation in PAIR_OPERATIONS {
        for spec in AsymmetricSpec::ALL {
            round += 1;
            let format = match round % 3 {
                0 => "",
                1 => "PEM",
                _ => "DER",
            };
            let what = format!("{operation} {spec} {format:?}");
            let body = pair_request(operation, &key, spec.name(), format, &aad(), "");
            let r = request(
                CLIENT_KEY_ID,
                &rsa_keys()[0],
                operation,
                body,
                SystemTime::now(),
            );
            let reply = send(&s.http, &r).await;
            let pair = read_pair(operation, &reply);
            let version = reply.version_header().expect("x-kms-migrationkeyversionid");
            assert_eq!(pair.key_id, key, "{what}");
            assert_eq!(pair.key_pair_spec, spec.name(), "{what}");
            assert_eq!(pair.algorithm, "AES_GCM", "{what}");
            assert_eq!(pair.iv.len(), 12, "{what}");
            if let Some(v) = &pair.key_version_id {
                assert_eq!(v, &version, "{what}");
            }
            // The sealed private key opens through Decrypt (Iv and Aad beside the basic blob)
            // or AdvanceDecrypt (the blob and the Aad).
            let decrypt = pb::DecryptRequest {
                ciphertext_blob: pair.private_key_ciphertext_blob.clone(),
                key_id: if operation.starts_with("Advance") {
                    String::new()
                } else {
                    key.clone()
                },
                aad: aad(),
                iv: if operation.starts_with("Advance") {
                    Vec::new()
                } else {
                    pair.iv.clone()
                },
                ..Default::default()
            };
            let decrypt_api = if operation.starts_with("Advance") {
                "AdvanceDecrypt"
            } else {
                "Decrypt"
            };
            let opened: pb::DecryptResponse = s.call(decrypt_api, &decrypt).await.ok();
            if let Some(plain) = &pair.private_key_plaintext {
                assert_eq!(&opened.plaintext, plain, "{what}");
            }
            // Both halves in the format asked: the private key's public half is the public key.
            let (private_der, public_der) = if format == "DER" {
                (opened.plaintext.clone(), pair.public_key.clone())
            } else {
                (
                    pem_body(&opened.plaintext, "PRIVATE KEY"),
                    pem_body(&pair.public_key, "PUBLIC KEY"),
                )
            };
            let private = PrivateKey::from_pkcs8_der(spec, &private_der).unwrap();
            assert_eq!(
                private.public_key().to_spki_der().unwrap(),
                public_der,
                "{what}"
            );
            if format != "DER" {
                assert_eq!(
                    private.public_key().to_pem().unwrap().as_bytes(),
                    pair.public_key,
                    "{what}"
                );
            }
            // A wrong Aad does not open it.
            let wrong = pb::DecryptRequest {
                aad: b"order=43".to_vec(),
                ..decrypt
            };
            s.call(decrypt_api, &wrong).await.assert_error(
                400,
                "InvalidParameter",
                "The specified parameter CiphertextBlob is not valid.",
            );
        }
    }
    s.stop().await;
}

/// A refused data key pair request: what it is, `KeyId`, `KeyPairSpec`, `KeyFormat`, `Aad`,
/// `Algorithm`, then the status, code and message expected.
type PairRefusal<'a> = (
    &'a str,
    &'a str,
    &'a str,
    &'a str,
    Vec<u8>,
    &'a str,
    u16,
    &'a str,
    String,
);

#[tokio::test]
async fn data_key_pairs_refuse_as_documented() {
    let s = instance::start().await;
    let key = instance_key(&s).await;
    let invalid = |name: &str| format!("The specified parameter {name} is not valid.");
    let signing = asymmetric_key(&s, "EC_P256", "SIGN/VERIFY").await;
    let disabled = instance_key(&s).await;
    disable(&s, &disabled).await;
    for operation in PAIR_OPERATIONS {
        let advance = operation.starts_with("Advance");
        let mut cases: Vec<PairRefusal<'_>> = vec![
            (
                "no KeyId",
                "",
                "EC_P256",
                "",
                Vec::new(),
                "",
                400,
                "MissingParameter",
                "The parameter KeyId is needed but not provided.".into(),
            ),
            (
                "no KeyPairSpec",
                &key,
                "",
                "",
                Vec::new(),
                "",
                400,
                "MissingParameter",
                "The parameter KeyPairSpec is needed but not provided.".into(),
            ),
            (
                "an unknown KeyPairSpec",
                &key,
                "RSA_4096",
                "",
                Vec::new(),
                "",
                400,
                "InvalidParameter",
                invalid("KeyPairSpec"),
            ),
            (
                "an unknown KeyFormat",
                &key,
                "EC_P256",
                "pem",
                Vec::new(),
                "",
                400,
                "InvalidParameter",
                invalid("KeyFormat"),
            ),
            (
                "an Aad over 8192 bytes",
                &key,
                "EC_P256",
                "",
                vec![0; 8193],
                "",
                400,
                "InvalidParameter",
                invalid("Aad"),
            ),
            (
                "an unknown key",
                "key-hzz630494463ejqjx1234",
                "EC_P256",
                "",
                Vec::new(),
                "",
                404,
                "Forbidden.KeyNotFound",
                NOT_FOUND.into(),
            ),
            (
                "an asymmetric KeyId",
                &signing,
                "EC_P256",
                "",
                Vec::new(),
                "",
                400,
                "UnsupportedOperation",
                "This action is not supported.".into(),
            ),
            (
                "a disabled key",
                &disabled,
                "RSA_2048",
                "",
                Vec::new(),
                "",
                409,
                "Rejected.Disabled",
                DISABLED.into(),
            ),
        ];
        if !advance {
            cases.push((
                "an Algorithm other than AES_GCM",
                &key,
                "EC_P256",
                "",
                Vec::new(),
                "RSAES_OAEP_SHA_256",
                400,
                "InvalidParameter",
                invalid("Algorithm"),
            ));
        }
        for (what, key_id, spec, format, aad, algorithm, status, code, message) in cases {
            let body = pair_request(operation, key_id, spec, format, &aad, algorithm);
            let r = request(
                CLIENT_KEY_ID,
                &rsa_keys()[0],
                operation,
                body,
                SystemTime::now(),
            );
            let reply = send(&s.http, &r).await;
            assert_eq!(
                reply.status,
                status,
                "{operation} {what}: {:?}",
                reply.error()
            );
            reply.assert_error(status, code, &message);
        }
    }
    s.stop().await;
}
