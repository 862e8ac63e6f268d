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
    for api in [
        "NoSuchOperation",
        "Sign",
        "Verify",
        "GetPublicKey",
        "GetSecretValue",
        "GenerateDataKeyPair",
        "AdvanceGenerateDataKeyPairWithoutPlaintext",
    ] {
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

#[allow(dead_code)]
fn _server_type(_: &InstanceServer) {}
