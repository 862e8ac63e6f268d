//! Automatic rotation over real HTTP: CreateKey's `EnableAutomaticRotation` and
//! `RotationInterval`, UpdateRotationPolicy, the DescribeKey fields that report them, and the
//! rotations the server's housekeeping makes when the key clock (a test-only time source,
//! `Service::advance_key_clock`) passes a key's `NextRotationDate`. Blobs from every version
//! still decrypt, also after a restart on the store.

mod common;

use std::time::{Duration, SystemTime};

use common::*;
use kms_server::Service;
use kms_server::client::{Client, ClientResponse};
use serde_json::Value;

const DAY: u64 = 86_400;

fn message(r: &ClientResponse) -> String {
    r.field("Message")
}

async fn describe(c: &Client, key: &str) -> Value {
    let r = c.call("DescribeKey", &[("KeyId", key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["KeyMetadata"].clone()
}

/// Seconds since the epoch of an ISO 8601 UTC time as the server writes it.
fn seconds(iso: &Value) -> u64 {
    let t = iso.as_str().unwrap();
    let (date, time) = t.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let h: Vec<i64> = time.split(':').map(|x| x.parse().unwrap()).collect();
    // Days from civil (Howard Hinnant's algorithm).
    let (y, m, dd) = (d[0] - i64::from(d[1] <= 2), d[1], d[2]);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + h[0] * 3600 + h[1] * 60 + h[2]) as u64
}

async fn generate(c: &Client, key: &str) -> (String, String, String) {
    let r = c
        .call(
            "GenerateDataKey",
            &[
                ("KeyId", key),
                ("EncryptionContext", r#"{"app":"rotation"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    (
        r.field("CiphertextBlob"),
        r.field("Plaintext"),
        r.field("KeyVersionId"),
    )
}

async fn assert_decrypts(c: &Client, blob: &str, plaintext: &str, version: &str) {
    let r = c
        .call(
            "Decrypt",
            &[
                ("CiphertextBlob", blob),
                ("EncryptionContext", r#"{"app":"rotation"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("Plaintext"), plaintext);
    assert_eq!(r.field("KeyVersionId"), version);
}

/// Waits (up to 10 s) for housekeeping to make `key`'s primary version something other than
/// `before`; the new primary version.
async fn primary_after(c: &Client, key: &str, before: &str) -> String {
    for _ in 0..200 {
        let primary = describe(c, key).await["PrimaryKeyVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        if primary != before {
            return primary;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no rotation of {key}");
}

async fn create_rotating(c: &Client, interval: &str) -> String {
    let policy = [
        ("EnableAutomaticRotation", "True"),
        ("RotationInterval", interval),
    ];
    create_key_with(c, &policy).await
}

#[tokio::test]
async fn housekeeping_rotates_when_the_clock_passes_next_rotation_date() {
    let dir = temp_dir("rotation");
    let path = dir.join("store.db");
    let (store, provider) = open_store(&path, 1 << 32);
    let service = Service::new(config(), provider, Some(store));
    let server = start_service_ticking(service, Duration::from_millis(50)).await;
    let c = server.client();

    let key = create_rotating(&c, "7d").await;
    let m = describe(&c, &key).await;
    assert_eq!(m["AutomaticRotation"], "Enabled", "{m}");
    assert_eq!(m["RotationInterval"], "604800s");
    assert_eq!(m["LastRotationDate"], m["CreationDate"]);
    assert_eq!(
        seconds(&m["NextRotationDate"]),
        seconds(&m["CreationDate"]) + 7 * DAY
    );
    let first = m["PrimaryKeyVersion"].as_str().unwrap().to_owned();
    // A key without a policy, beside it, never rotates.
    let still = common::create_key(&c).await;
    let still_primary = describe(&c, &still).await["PrimaryKeyVersion"].clone();

    let mut blobs = vec![generate(&c, &key).await];
    assert_eq!(blobs[0].2, first);

    // Six days on: not due, nothing rotates (housekeeping runs every 50 ms).
    server
        .service
        .advance_key_clock(Duration::from_secs(6 * DAY));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        describe(&c, &key).await["PrimaryKeyVersion"],
        first.as_str()
    );

    // Past the NextRotationDate: a new primary version, and a new NextRotationDate.
    let mut primaries = vec![first];
    for round in 0..2 {
        server
            .service
            .advance_key_clock(Duration::from_secs(if round == 0 { DAY } else { 7 * DAY }));
        let before = primaries.last().unwrap().clone();
        let next = primary_after(&c, &key, &before).await;
        let m = describe(&c, &key).await;
        assert_eq!(m["AutomaticRotation"], "Enabled");
        assert!(seconds(&m["LastRotationDate"]) >= seconds(&m["CreationDate"]) + 7 * DAY);
        assert_eq!(
            seconds(&m["NextRotationDate"]),
            seconds(&m["LastRotationDate"]) + 7 * DAY,
            "{m}"
        );
        let made = generate(&c, &key).await;
        assert_eq!(made.2, next, "the new version seals");
        blobs.push(made);
        primaries.push(next);
    }
    let r = c.call("ListKeyVersions", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.json()["TotalCount"], 3, "{}", r.text());
    assert_eq!(
        describe(&c, &still).await["PrimaryKeyVersion"],
        still_primary
    );
    for (blob, plaintext, version) in &blobs {
        assert_decrypts(&c, blob, plaintext, version).await;
    }
    server.stop().await;

    // After a restart on the store: the policy, the versions, the blobs.
    let (store, provider) = open_store(&path, 1 << 32);
    let server = start_with_provider(provider, Some(store)).await;
    let c = server.client();
    let m = describe(&c, &key).await;
    assert_eq!(m["AutomaticRotation"], "Enabled");
    assert_eq!(m["RotationInterval"], "604800s");
    assert_eq!(m["PrimaryKeyVersion"], primaries[2].as_str());
    for (blob, plaintext, version) in &blobs {
        assert_decrypts(&c, blob, plaintext, version).await;
    }
    server.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn rotation_is_suspended_while_the_key_is_disabled() {
    let server = start().await;
    let c = server.client();
    let key = create_rotating(&c, "168h").await;
    let first = describe(&c, &key).await["PrimaryKeyVersion"].clone();
    let r = c.call("DisableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(describe(&c, &key).await["AutomaticRotation"], "Suspended");

    server
        .service
        .advance_key_clock(Duration::from_secs(8 * DAY));
    server.service.tick(SystemTime::now()).unwrap();
    assert_eq!(describe(&c, &key).await["PrimaryKeyVersion"], first);

    // Enabled again, overdue: the next housekeeping rotates it.
    let r = c.call("EnableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200);
    server.service.tick(SystemTime::now()).unwrap();
    let m = describe(&c, &key).await;
    assert_ne!(m["PrimaryKeyVersion"], first);
    assert_eq!(m["AutomaticRotation"], "Enabled");
    server.stop().await;
}

#[tokio::test]
async fn update_rotation_policy_turns_it_on_and_off() {
    let server = start().await;
    let c = server.client();
    let key = common::create_key(&c).await;
    let m = describe(&c, &key).await;
    // Without a policy: Disabled, no interval, no next date; the rest always filled.
    assert_eq!(m["AutomaticRotation"], "Disabled");
    assert!(m.get("RotationInterval").is_none() && m.get("NextRotationDate").is_none());
    assert_eq!(m["LastRotationDate"], m["CreationDate"]);
    assert_eq!(m["ProtectionLevel"], "SOFTWARE");
    assert_eq!(m["DeletionProtection"], "Disabled");
    assert!(m.get("MaterialExpireTime").is_none());

    for (enable, interval, expected) in [
        ("true", "720h", "2592000s"),
        ("True", "43200m", "2592000s"),
        ("TRUE", "31536000s", "31536000s"),
        ("true", "7d", "604800s"),
    ] {
        let r = c
            .call(
                "UpdateRotationPolicy",
                &[
                    ("KeyId", &key),
                    ("EnableAutomaticRotation", enable),
                    ("RotationInterval", interval),
                ],
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(!r.field("RequestId").is_empty());
        let m = describe(&c, &key).await;
        assert_eq!(m["AutomaticRotation"], "Enabled");
        assert_eq!(m["RotationInterval"], expected);
    }
    // Off: the interval given with it is ignored.
    let r = c
        .call(
            "UpdateRotationPolicy",
            &[
                ("KeyId", &key),
                ("EnableAutomaticRotation", "False"),
                ("RotationInterval", "nonsense"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let m = describe(&c, &key).await;
    assert_eq!(m["AutomaticRotation"], "Disabled");
    assert!(m.get("RotationInterval").is_none() && m.get("NextRotationDate").is_none());
    // Off, the clock far ahead: nothing rotates.
    let before = m["PrimaryKeyVersion"].clone();
    server
        .service
        .advance_key_clock(Duration::from_secs(400 * DAY));
    server.service.tick(SystemTime::now()).unwrap();
    assert_eq!(describe(&c, &key).await["PrimaryKeyVersion"], before);
    server.stop().await;
}

#[tokio::test]
async fn rotation_policy_errors() {
    let server = start().await;
    let c = server.client();
    let key = common::create_key(&c).await;
    let call = |params: Vec<(&'static str, String)>| {
        let c = c.clone();
        async move {
            let p: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            c.call("UpdateRotationPolicy", &p).await.unwrap()
        }
    };
    let k = || ("KeyId", key.clone());
    let on = |i: &str| {
        vec![
            ("KeyId", key.clone()),
            ("EnableAutomaticRotation", "true".to_owned()),
            ("RotationInterval", i.to_owned()),
        ]
    };

    let r = call(vec![k()]).await;
    assert_eq!(code(&r), (400, "MissingParameter".into()), "{}", r.text());
    let r = call(vec![k(), ("EnableAutomaticRotation", "yes".into())]).await;
    assert_eq!(code(&r), (400, "InvalidParameter".into()));
    assert!(
        message(&r).contains("EnableAutomaticRotation"),
        "{}",
        r.text()
    );
    let r = call(vec![k(), ("EnableAutomaticRotation", "true".into())]).await;
    assert_eq!(code(&r), (400, "InvalidParameter".into()));
    assert!(message(&r).contains("RotationInterval"), "{}", r.text());
    for bad in [
        "6d", "366d", "604799s", "30", "d", "7w", "-7d", " 7d", "7 d", "1e3s",
    ] {
        let r = call(on(bad)).await;
        assert_eq!(code(&r), (400, "InvalidParameter".into()), "{bad}");
        assert!(
            message(&r).contains("RotationInterval"),
            "{bad}: {}",
            r.text()
        );
    }
    // Unknown key: 404.
    let mut unknown = on("30d");
    unknown[0].1 = "00000000-0000-4000-8000-000000000000".into();
    let r = call(unknown).await;
    assert_eq!(
        code(&r),
        (404, "Forbidden.KeyNotFound".into()),
        "{}",
        r.text()
    );
    // A disabled key, an imported key, an asymmetric key: Rejected.UnsupportedOperation.
    let disabled = common::create_key(&c).await;
    c.call("DisableKey", &[("KeyId", &disabled)]).await.unwrap();
    let external = create_key_with(&c, &[("Origin", "EXTERNAL")]).await;
    let asymmetric = create_key_with(
        &c,
        &[("KeySpec", "RSA_2048"), ("KeyUsage", "ENCRYPT/DECRYPT")],
    )
    .await;
    for refused in [&disabled, &external, &asymmetric] {
        let mut p = on("30d");
        p[0].1 = refused.clone();
        let r = call(p).await;
        assert_eq!(
            code(&r),
            (400, "Rejected.UnsupportedOperation".into()),
            "{}",
            r.text()
        );
        assert_eq!(message(&r), "Unsupported operation.");
    }
    // Another account's key, by ARN: not its to manage.
    let b = server.client_b();
    let arn = describe(&c, &key).await["Arn"].as_str().unwrap().to_owned();
    let r = b
        .call(
            "UpdateRotationPolicy",
            &[
                ("KeyId", &arn),
                ("EnableAutomaticRotation", "true"),
                ("RotationInterval", "30d"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status / 100, 4, "{}", r.text());
    assert_eq!(describe(&c, &key).await["AutomaticRotation"], "Disabled");
    server.stop().await;
}

#[tokio::test]
async fn create_key_rotation_and_protection_parameters() {
    let server = start().await;
    let c = server.client();
    let r = c
        .call(
            "CreateKey",
            &[
                ("EnableAutomaticRotation", "true"),
                ("RotationInterval", "30d"),
                ("ProtectionLevel", "HSM"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let m = r.json()["KeyMetadata"].clone();
    assert_eq!(m["AutomaticRotation"], "Enabled");
    assert_eq!(m["RotationInterval"], "2592000s");
    assert_eq!(m["ProtectionLevel"], "HSM");
    let key = m["KeyId"].as_str().unwrap();
    assert_eq!(describe(&c, key).await["ProtectionLevel"], "HSM");

    // Disabled rotation ignores the interval.
    let r = c
        .call(
            "CreateKey",
            &[
                ("EnableAutomaticRotation", "false"),
                ("RotationInterval", "1d"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyMetadata"]["AutomaticRotation"], "Disabled");

    for (params, parameter) in [
        (
            vec![
                ("EnableAutomaticRotation", "true"),
                ("RotationInterval", "1d"),
            ],
            "RotationInterval",
        ),
        (
            vec![("EnableAutomaticRotation", "true")],
            "RotationInterval",
        ),
        (
            vec![("EnableAutomaticRotation", "1")],
            "EnableAutomaticRotation",
        ),
        (
            vec![
                ("EnableAutomaticRotation", "true"),
                ("RotationInterval", "30d"),
                ("Origin", "EXTERNAL"),
            ],
            "RotationInterval",
        ),
        (vec![("ProtectionLevel", "hsm")], "ProtectionLevel"),
    ] {
        let r = c.call("CreateKey", &params).await.unwrap();
        assert_eq!(code(&r), (400, "InvalidParameter".into()), "{params:?}");
        assert!(message(&r).contains(parameter), "{params:?}: {}", r.text());
    }
    server.stop().await;
}
