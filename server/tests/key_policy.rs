//! GetKeyPolicy and SetKeyPolicy over real HTTP, signed as the SDKs sign: account B cannot use
//! account A's key by ARN until A's policy grants B the operation, then can, and cannot again
//! once it is revoked; what GetKeyPolicy answers (Alibaba's default document for a key without
//! grants, the canonical rendering after SetKeyPolicy); every error code; and the policy
//! survives a restart with a store.

mod common;

use common::*;
use kms_server::client::{CallOptions, Client};
use serde_json::{Value, json};

async fn ok(c: &Client, action: &str, params: &[(&str, &str)]) -> Value {
    let r = c.call(action, params).await.unwrap();
    assert_eq!(r.status, 200, "{action}: {}", r.text());
    let v = r.json();
    assert!(v["RequestId"].is_string(), "{v}");
    v
}

async fn err(c: &Client, action: &str, params: &[(&str, &str)]) -> (u16, String) {
    code(&c.call(action, params).await.unwrap())
}

/// A request's parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

fn in_body() -> CallOptions {
    CallOptions {
        params_in_body: true,
        ..CallOptions::default()
    }
}

fn arn(key: &str) -> String {
    format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}")
}

/// The document GetKeyPolicy answers, parsed.
async fn policy(c: &Client, key: &str) -> Value {
    let v = ok(
        c,
        "GetKeyPolicy",
        &[("KeyId", key), ("PolicyName", "default")],
    )
    .await;
    serde_json::from_str(v["Policy"].as_str().unwrap()).unwrap()
}

fn owner_statement() -> Value {
    json!({
        "Sid": "kms default key policy",
        "Effect": "Allow",
        "Principal": {"RAM": [format!("acs:ram::{ACCOUNT_A}:*")]},
        "Action": ["kms:*"],
        "Resource": ["*"],
    })
}

/// A document granting account B `actions`.
fn granting_b(actions: &[&str]) -> String {
    json!({
        "Version": "1",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"RAM": [format!("acs:ram::{ACCOUNT_B}:root")]},
            "Action": actions,
            "Resource": ["*"],
        }],
    })
    .to_string()
}

/// A document granting account B kms:Decrypt of exactly `len` bytes: actions without effect
/// (letters, which percent-encoding leaves as they are, so the form body stays within the
/// server's 64 KiB), then spaces.
fn sized(len: usize) -> String {
    let filler = format!("kms:{}", "A".repeat(120));
    let mut actions = vec!["kms:Decrypt".to_owned()];
    while granting_b(&actions.iter().map(String::as_str).collect::<Vec<_>>()).len() + 200 < len {
        actions.push(filler.clone());
    }
    let doc = granting_b(&actions.iter().map(String::as_str).collect::<Vec<_>>());
    format!("{doc}{}", " ".repeat(len - doc.len()))
}

async fn set(c: &Client, key: &str, document: &str) {
    ok(c, "SetKeyPolicy", &[("KeyId", key), ("Policy", document)]).await;
}

#[tokio::test]
async fn a_grant_lets_account_b_use_the_key_by_arn_until_revoked() {
    let server = start().await;
    let (a, b) = (server.client(), server.client_b());
    let key = create_key(&a).await;
    let arn = arn(&key);
    let generate = [("KeyId", arn.as_str()), ("NumberOfBytes", "32")];
    assert_eq!(
        err(&b, "GenerateDataKey", &generate).await,
        (403, "Forbidden.NoPermission".into())
    );
    // A key without grants: Alibaba's default document, the owner allowed everything.
    let default = json!({"Version": "1", "Statement": [owner_statement()]});
    assert_eq!(policy(&a, &key).await, default);

    set(&a, &key, &granting_b(&["kms:GenerateDataKey"])).await;
    let v = ok(&b, "GenerateDataKey", &generate).await;
    assert_eq!(v["KeyId"], key.as_str());
    // Only what was granted: not Decrypt, not DescribeKey.
    let blob = v["CiphertextBlob"].as_str().unwrap().to_owned();
    assert_eq!(
        err(&b, "Decrypt", &[("CiphertextBlob", &blob)]).await,
        (403, "Forbidden.NoPermission".into())
    );
    assert_eq!(
        err(&b, "DescribeKey", &[("KeyId", &arn)]).await,
        (403, "Forbidden.NoPermission".into())
    );
    // The canonical rendering, stable: set again from it, it reads the same.
    let granted = json!({
        "Sid": format!("kms cross-account use {ACCOUNT_B}"),
        "Effect": "Allow",
        "Principal": {"RAM": [format!("acs:ram::{ACCOUNT_B}:*")]},
        "Action": ["kms:GenerateDataKey"],
        "Resource": ["*"],
    });
    let document = json!({"Version": "1", "Statement": [owner_statement(), granted]});
    assert_eq!(policy(&a, &key).await, document);
    let text = ok(&a, "GetKeyPolicy", &[("KeyId", &key)]).await["Policy"]
        .as_str()
        .unwrap()
        .to_owned();
    set(&a, &key, &text).await;
    let again = ok(&a, "GetKeyPolicy", &[("KeyId", &key)]).await;
    assert_eq!(again["Policy"].as_str().unwrap(), text);

    // More permissions, by pattern; then Decrypt works.
    set(
        &a,
        &key,
        &granting_b(&["kms:GenerateDataKey*", "kms:Decrypt"]),
    )
    .await;
    ok(&b, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    let statements = policy(&a, &key).await["Statement"].clone();
    assert_eq!(
        statements[1]["Action"],
        json!([
            "kms:GenerateDataKey",
            "kms:GenerateDataKeyWithoutPlaintext",
            "kms:Decrypt"
        ])
    );

    // Revoked: a document naming only the owner.
    let only_owner = json!({"Version": "1", "Statement": [owner_statement()]}).to_string();
    set(&a, &key, &only_owner).await;
    assert_eq!(
        err(&b, "GenerateDataKey", &generate).await,
        (403, "Forbidden.NoPermission".into())
    );
    assert_eq!(policy(&a, &key).await, default);
    // The owner keeps everything, whatever the document leaves out.
    set(&a, &key, &granting_b(&["kms:Encrypt"])).await;
    ok(&a, "GenerateDataKey", &[("KeyId", &key)]).await;
    server.stop().await;
}

#[tokio::test]
async fn errors() {
    let server = start().await;
    let (a, b) = (server.client(), server.client_b());
    let key = create_key(&a).await;
    let doc = granting_b(&["kms:Decrypt"]);
    let cases: Vec<(&str, Params<'_>, (u16, &str))> = vec![
        ("GetKeyPolicy", vec![], (400, "MissingParameter")),
        (
            "SetKeyPolicy",
            vec![("Policy", &doc)],
            (400, "MissingParameter"),
        ),
        (
            "SetKeyPolicy",
            vec![("KeyId", &key)],
            (400, "MissingParameter"),
        ),
        (
            "GetKeyPolicy",
            vec![("KeyId", &key), ("PolicyName", "other")],
            (400, "InvalidParameter"),
        ),
        (
            "SetKeyPolicy",
            vec![("KeyId", &key), ("PolicyName", "Default"), ("Policy", &doc)],
            (400, "InvalidParameter"),
        ),
        (
            "GetKeyPolicy",
            vec![("KeyId", "")],
            (400, "InvalidParameter"),
        ),
        (
            "GetKeyPolicy",
            vec![("KeyId", "key-hzz630494463ejqjx1234")],
            (404, "Forbidden.KeyNotFound"),
        ),
        (
            "SetKeyPolicy",
            vec![("KeyId", "alias/none"), ("Policy", &doc)],
            (404, "Forbidden.AliasNotFound"),
        ),
    ];
    for (action, params, (status, code)) in cases {
        assert_eq!(
            err(&a, action, &params).await,
            (status, code.into()),
            "{action} {params:?}"
        );
    }
    // Documents the grants cannot express.
    let deny = doc.replace("Allow", "Deny");
    let user = doc.replace(":root", ":user/bob");
    let condition = doc.replace(
        r#""Effect""#,
        r#""Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}},"Effect""#,
    );
    let big = sized(32_769);
    for bad in [deny.as_str(), &user, &condition, "{", "{}", &big] {
        // In the form body: a 32 KiB document does not fit in a URI.
        let r = a
            .call_with(
                "SetKeyPolicy",
                &[("KeyId", &key), ("Policy", bad)],
                &in_body(),
            )
            .await
            .unwrap();
        assert_eq!(code(&r), (400, "InvalidParameter".into()), "{bad}");
        assert!(r.field("Message").contains("Policy"), "{}", r.text());
    }
    assert_eq!(
        policy(&a, &key).await["Statement"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Only the owner reads or sets the policy, even when it grants the data-key operations.
    set(&a, &key, &granting_b(&["kms:*"])).await;
    let arn = arn(&key);
    assert_eq!(
        err(&b, "GetKeyPolicy", &[("KeyId", &arn)]).await,
        (403, "Forbidden.NoPermission".into())
    );
    assert_eq!(
        err(&b, "SetKeyPolicy", &[("KeyId", &arn), ("Policy", &doc)]).await,
        (403, "Forbidden.NoPermission".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn the_policy_survives_a_restart() {
    let dir = temp_dir("key-policy-restart");
    let path = dir.join("kms.db");
    let (key, text) = {
        let (store, provider) = open_store(&path, 1 << 32);
        let server = start_with_provider(provider, Some(store)).await;
        let a = server.client();
        let key = create_key(&a).await;
        set(
            &a,
            &key,
            &granting_b(&["kms:GenerateDataKey", "kms:ReEncrypt*"]),
        )
        .await;
        let text = ok(&a, "GetKeyPolicy", &[("KeyId", &key)]).await["Policy"]
            .as_str()
            .unwrap()
            .to_owned();
        server.stop().await;
        (key, text)
    };
    let (store, provider) = open_store(&path, 1 << 32);
    let server = start_with_provider(provider, Some(store)).await;
    let (a, b) = (server.client(), server.client_b());
    let v = ok(&a, "GetKeyPolicy", &[("KeyId", &key)]).await;
    assert_eq!(v["Policy"].as_str().unwrap(), text);
    ok(&b, "GenerateDataKey", &[("KeyId", &arn(&key))]).await;
    server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
}
