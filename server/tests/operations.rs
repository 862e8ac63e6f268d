//! Every operation over real HTTP on loopback, signed with V3 as the SDKs sign.

mod common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn data_key_operations_round_trip() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let r = c
        .call(
            "CreateAlias",
            &[("AliasName", "alias/orders"), ("KeyId", &key)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // GenerateDataKey by alias, context with spaces (as the Python SDK sends it).
    let ctx_spaced = r#"{"table": "orders", "tenant": "42"}"#;
    let ctx_compact = r#"{"tenant":"42","table":"orders"}"#;
    let r = c
        .call(
            "GenerateDataKey",
            &[("KeyId", "alias/orders"), ("EncryptionContext", ctx_spaced)],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "application/json;charset=utf-8"
    );
    let gdk = r.json();
    assert_eq!(gdk["KeyId"], key.as_str());
    let plaintext = gdk["Plaintext"].as_str().unwrap().to_owned();
    let blob = gdk["CiphertextBlob"].as_str().unwrap().to_owned();
    assert_eq!(plaintext.len(), 44);
    assert_eq!(blob.len(), 144);
    let version = gdk["KeyVersionId"].as_str().unwrap().to_owned();
    assert_eq!(
        r.headers["x-acs-request-id"].to_str().unwrap(),
        gdk["RequestId"].as_str().unwrap()
    );

    // Decrypt with the compact, reordered context.
    let r = c
        .call(
            "Decrypt",
            &[
                ("CiphertextBlob", &blob),
                ("EncryptionContext", ctx_compact),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Plaintext"], plaintext.as_str());
    assert_eq!(r.json()["KeyVersionId"], version.as_str());

    // Without the context, the blob does not open.
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &blob)])
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.field("Code"), "InvalidParameter");

    // GenerateDataKeyWithoutPlaintext: no Plaintext field.
    let r = c
        .call(
            "GenerateDataKeyWithoutPlaintext",
            &[("KeyId", &key), ("NumberOfBytes", "16")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert!(v.get("Plaintext").is_none(), "{v}");
    let r = c
        .call(
            "Decrypt",
            &[("CiphertextBlob", v["CiphertextBlob"].as_str().unwrap())],
        )
        .await
        .unwrap();
    assert_eq!(r.json()["Plaintext"].as_str().unwrap().len(), 24);

    // Encrypt / Decrypt of caller text, with characters that need encoding.
    let text = "hello, world & friends = 100% ~*+ é";
    let r = c
        .call("Encrypt", &[("KeyId", &key), ("Plaintext", text)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let sealed = r.field("CiphertextBlob");
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &sealed)])
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), text);

    // ReEncrypt to a second key, with a destination context.
    let key2 = create_key(&c).await;
    let r = c
        .call(
            "ReEncrypt",
            &[
                ("CiphertextBlob", &sealed),
                ("DestinationKeyId", &key2),
                ("DestinationEncryptionContext", r#"{"k":"v"}"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.field("KeyId"), key2);
    let moved = r.field("CiphertextBlob");
    let r = c
        .call(
            "Decrypt",
            &[
                ("CiphertextBlob", &moved),
                ("EncryptionContext", r#"{ "k" : "v" }"#),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.field("Plaintext"), text);
    assert_eq!(r.field("KeyId"), key2);

    // DryRun ends in DryRunOperationError and makes nothing.
    let r = c
        .call("GenerateDataKey", &[("KeyId", &key), ("DryRun", "true")])
        .await
        .unwrap();
    assert_eq!(r.status, 412);
    assert_eq!(r.field("Code"), "DryRunOperationError");
    server.stop().await;
}

#[tokio::test]
async fn key_management_operations() {
    let server = start().await;
    let c = server.client();

    // CreateKey with options.
    let r = c
        .call(
            "CreateKey",
            &[("KeySpec", "Aliyun_AES_128"), ("Description", "for tests")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let meta = r.json()["KeyMetadata"].clone();
    let key = meta["KeyId"].as_str().unwrap().to_owned();
    assert_eq!(meta["KeySpec"], "Aliyun_AES_128");
    assert_eq!(meta["KeyState"], "Enabled");
    assert_eq!(meta["Creator"], ACCOUNT_A);
    assert_eq!(
        meta["Arn"],
        format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}").as_str()
    );

    // DescribeKey.
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["KeyMetadata"]["Description"], "for tests");

    // ListKeys: the caller's keys only.
    let other = create_key(&server.client_b()).await;
    let r = c.call("ListKeys", &[("PageSize", "100")]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["TotalCount"], 1);
    assert_eq!(v["Keys"]["Key"][0]["KeyId"], key.as_str());
    assert!(!r.text().contains(&other));

    // Aliases: create, list, update, delete.
    let key2 = create_key(&c).await;
    for (action, target) in [("CreateAlias", &key), ("UpdateAlias", &key2)] {
        let r = c
            .call(action, &[("AliasName", "alias/app"), ("KeyId", target)])
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{action}: {}", r.text());
        let r = c.call("ListAliases", &[]).await.unwrap();
        let v = r.json();
        assert_eq!(v["TotalCount"], 1, "{v}");
        assert_eq!(v["Aliases"]["Alias"][0]["AliasName"], "alias/app");
        assert_eq!(v["Aliases"]["Alias"][0]["KeyId"], target.as_str());
    }
    let r = c
        .call("GenerateDataKey", &[("KeyId", "alias/app")])
        .await
        .unwrap();
    assert_eq!(r.field("KeyId"), key2);
    let r = c
        .call("DeleteAlias", &[("AliasName", "alias/app")])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c
        .call("GenerateDataKey", &[("KeyId", "alias/app")])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (404, "Forbidden.AliasNotFound")
    );

    // DisableKey / EnableKey.
    let r = c.call("DisableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (409, "Rejected.Disabled")
    );
    let r = c.call("EnableKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let old_blob = r.field("CiphertextBlob");
    let old_version = r.field("KeyVersionId");

    // CreateKeyVersion: a new primary; old blobs still open.
    let new_version = create_key_version(&c, &key).await;
    assert_ne!(new_version, old_version);
    let r = c.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.field("KeyVersionId"), new_version);
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &old_blob)])
        .await
        .unwrap();
    assert_eq!(r.field("KeyVersionId"), old_version);

    // ScheduleKeyDeletion / CancelKeyDeletion.
    let r = c
        .call(
            "ScheduleKeyDeletion",
            &[("KeyId", &key), ("PendingWindowInDays", "7")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "PendingDeletion");
    assert!(r.json()["KeyMetadata"]["DeleteDate"].is_string());
    let r = c
        .call("Decrypt", &[("CiphertextBlob", &old_blob)])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (409, "Rejected.PendingDeletion")
    );
    let r = c
        .call("CancelKeyDeletion", &[("KeyId", &key)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let r = c.call("DescribeKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(r.json()["KeyMetadata"]["KeyState"], "Enabled");
    server.stop().await;
}

#[tokio::test]
async fn xml_responses() {
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    let options = kms_server::client::CallOptions {
        format: Some("XML"),
        ..Default::default()
    };
    let r = c
        .call_with("GenerateDataKey", &[("KeyId", &key)], &options)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "text/xml;charset=utf-8"
    );
    let text = r.text();
    assert!(
        text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><GenerateDataKeyResponse><KeyId>"
        ),
        "{text}"
    );
    assert!(text.ends_with("</GenerateDataKeyResponse>"), "{text}");
    for field in ["KeyVersionId", "CiphertextBlob", "Plaintext", "RequestId"] {
        assert!(text.contains(&format!("<{field}>")), "{field}: {text}");
    }

    // A list nests as Keys/Key elements.
    let r = c.call_with("ListKeys", &[], &options).await.unwrap();
    let text = r.text();
    assert!(
        text.contains(&format!("<Keys><Key><KeyId>{key}</KeyId>")),
        "{text}"
    );

    // Errors in XML: <Error> with the four fields; lowercase `xml` works too (SDKs send `json`).
    let lower = kms_server::client::CallOptions {
        format: Some("xml"),
        ..Default::default()
    };
    let r = c
        .call_with("DescribeKey", &[("KeyId", "alias/none")], &lower)
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    let text = r.text();
    assert!(text.contains("<Error><RequestId>"), "{text}");
    assert!(
        text.contains("<Code>Forbidden.AliasNotFound</Code><Message>The specified Alias is not found.</Message></Error>"),
        "{text}"
    );
    server.stop().await;
}

#[tokio::test]
async fn cross_account_rules_of_the_core_apply() {
    let server = start().await;
    let (a, b) = (server.client(), server.client_b());
    let key = create_key(&a).await;
    // B cannot name A's key by ID (it resolves in B's own account).
    let r = b.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (404, "Forbidden.KeyNotFound")
    );
    // By ARN it resolves, but A's key policy does not allow B.
    let arn = format!("acs:kms:cn-hangzhou:{ACCOUNT_A}:key/{key}");
    let r = b.call("GenerateDataKey", &[("KeyId", &arn)]).await.unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (403, "Forbidden.NoPermission")
    );
    // Nor can B decrypt A's blobs.
    let r = a.call("GenerateDataKey", &[("KeyId", &key)]).await.unwrap();
    let blob = r.field("CiphertextBlob");
    let r = b
        .call("Decrypt", &[("CiphertextBlob", &blob)])
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (403, "Forbidden.NoPermission")
    );
    // Once A's key allows B (through the provider: the API has no policy operation), B may.
    server.service.with_provider(|p| {
        let id = kms_core::KeyId::parse(&key).unwrap();
        p.allow_account(&id, ACCOUNT_B).unwrap();
    });
    let r = b
        .call("Decrypt", &[("CiphertextBlob", &blob)])
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    // Management stays with the owner.
    let r = b.call("DisableKey", &[("KeyId", &arn)]).await.unwrap();
    assert_eq!(
        (r.status, r.field("Code").as_str()),
        (403, "Forbidden.NoPermission")
    );
    server.stop().await;
}

#[tokio::test]
async fn both_methods_and_both_parameter_places() {
    use kms_server::client::{CallOptions, SignatureVersion};
    let server = start().await;
    let c = server.client();
    let key = create_key(&c).await;
    for signature in [SignatureVersion::V1, SignatureVersion::V3] {
        for (post, params_in_body) in [(false, false), (true, false), (true, true)] {
            let options = CallOptions {
                signature,
                post,
                params_in_body,
                ..CallOptions::default()
            };
            let r = c
                .call_with(
                    "Encrypt",
                    &[
                        ("KeyId", &key),
                        ("Plaintext", "a+b c"),
                        ("EncryptionContext", r#"{"x": "1 2"}"#),
                    ],
                    &options,
                )
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{options:?}: {}", r.text());
            let blob = r.field("CiphertextBlob");
            let r = c
                .call_with(
                    "Decrypt",
                    &[
                        ("CiphertextBlob", &blob),
                        ("EncryptionContext", r#"{"x":"1 2"}"#),
                    ],
                    &options,
                )
                .await
                .unwrap();
            assert_eq!(r.field("Plaintext"), "a+b c", "{options:?}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn every_operation_is_served() {
    // Each action name reaches its operation: an empty request gets the operation's own
    // parameter error (or success), never InvalidAction.NotFound.
    let server = start().await;
    let c = server.client();
    for action in kms_server::Operation::ALL {
        let r = c.call(action.name(), &[]).await.unwrap();
        let v: Value = r.json();
        assert_ne!(v["Code"], "InvalidAction.NotFound", "{}", action.name());
        assert!(
            r.status == 200 || v["Code"] == "MissingParameter",
            "{}: {} {v}",
            action.name(),
            r.status
        );
    }
    server.stop().await;
}
